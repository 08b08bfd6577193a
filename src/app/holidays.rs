//! The statutory holiday calendar: the State Council's notices of public holidays and
//! make-up working days (国务院办公厅关于部分节假日安排的通知). huiqian ships the notices it
//! knows (`data/holidays/*.txt`) and loads them at start; an administrator loads a later
//! year's notice from a file in the same format (`docs/operations.md`). A notice is applied
//! to every community's calendar — to a new community when it is made — and a community
//! adjusts its own days afterwards: its entries win over the notice.

use super::{Actor, App, AppError, AppResult, audit};
use crate::store::{self, clock as st};
use huiqian_domain::auth::Permission;
use huiqian_domain::sheet::holidays::Notice;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The authority an audit entry records for the notices the program brings with it.
pub const SHIPPED_AUTHORITY: &str = "shipped with huiqian";

/// The notices shipped with this version.
pub const SHIPPED: &[&str] =
    &[include_str!("../../data/holidays/2025.txt"), include_str!("../../data/holidays/2026.txt")];

fn rows(n: &Notice) -> Vec<st::HolidayDay> {
    n.days
        .iter()
        .map(|d| st::HolidayDay {
            day: d.day.to_string(),
            year: i64::from(n.year),
            kind: d.kind.as_str().to_string(),
            note: d.note.clone(),
        })
        .collect()
}

/// Recompute the clocks of communities that count business hours, after their calendar
/// changed (clocks round the clock do not depend on it).
async fn refresh(app: &App, communities: &[i64]) -> AppResult<()> {
    for &c in communities {
        let business = st::targets(app.store.read(), c).await?.iter().any(|t| t.counting == "business_hours");
        if business {
            super::sheet::refresh_clocks(app, c).await?;
        }
    }
    Ok(())
}

/// Load the shipped notices of years the database does not have yet, and give them to
/// the communities that have not taken them. Run at start; does nothing the second time.
pub async fn ensure_shipped(app: &App) -> AppResult<()> {
    let now = app.clock.now();
    let loaded: Vec<i64> = st::notices(app.store.read()).await?.iter().map(|n| n.year).collect();
    for text in SHIPPED {
        let notice = Notice::parse(text).map_err(|e| AppError::Internal(format!("shipped holiday notice: {e:?}")))?;
        let year = i64::from(notice.year);
        if loaded.contains(&year) {
            continue;
        }
        let days = rows(&notice);
        let mut conn = app.store.read().acquire().await?;
        let communities = st::communities_without(&mut conn, year).await?;
        drop(conn);
        let mut tx = app.store.begin().await?;
        st::save_notice(&mut tx, year, &notice.title, &notice.to_text(), &days, None, now).await?;
        for &c in &communities {
            st::apply_notice(&mut tx, c, year, &days, &[], now).await?;
        }
        store::audit::append(
            &mut tx,
            app.secrets.audit(),
            &store::audit::NewEntry {
                at: now,
                actor_user_id: None,
                actor_name: "huiqian",
                actor_role: "",
                community_id: None,
                action: "holidays.loaded",
                entity_type: "holiday_notice",
                entity_id: year.to_string(),
                changes:
                    json!({"title": notice.title, "days": days.len(), "communities": communities, "shipped": true})
                        .to_string(),
                authority: SHIPPED_AUTHORITY,
                request_id: "",
                covers: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        refresh(app, &communities).await?;
    }
    Ok(())
}

/// A notice as the API and the page list it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notices {
    pub notices: Vec<st::HolidayNotice>,
    pub days: Vec<st::HolidayDay>,
}

pub async fn list(app: &App, actor: &Actor) -> AppResult<Notices> {
    if !actor.may_anywhere(Permission::ViewCommunity) {
        return Err(AppError::Forbidden);
    }
    let notices = st::notices(app.store.read()).await?;
    let mut conn = app.store.read().acquire().await?;
    let days = st::holiday_days(&mut conn, None).await?;
    Ok(Notices { notices, days })
}

/// A notice's text, to download and check.
pub async fn text(app: &App, actor: &Actor, year: i64) -> AppResult<String> {
    if !actor.may_anywhere(Permission::ViewCommunity) {
        return Err(AppError::Forbidden);
    }
    st::notice_text(app.store.read(), year).await?.ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LoadInput {
    /// The notice in huiqian's holiday format (`year 2027`, `holiday 2027-01-01..2027-01-03 元旦`, …).
    pub notice: String,
}

/// What loading a notice did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Loaded {
    pub year: i64,
    pub title: String,
    pub days: usize,
    /// The communities whose calendars took it.
    pub communities: usize,
    /// Whether it replaced a notice of the same year (a corrected notice).
    pub replaced: bool,
}

/// Load a year's notice (a company-wide administrator): every community takes it; a
/// community's own entries for a day stay; a notice of a year already loaded replaces it.
pub async fn load(app: &App, actor: &Actor, input: &LoadInput) -> AppResult<Loaded> {
    let now = app.clock.now();
    let authority = actor.authorize_company(Permission::ManageCommunity)?;
    if input.notice.len() > 64 * 1024 {
        return Err(AppError::field(
            "notice",
            huiqian_domain::validation::ValidationError::new("text.too_long").with("max", 64 * 1024),
        ));
    }
    let notice = Notice::parse(&input.notice).map_err(|e| AppError::field("notice", e))?;
    let year = i64::from(notice.year);
    let days = rows(&notice);
    let mut conn = app.store.read().acquire().await?;
    let mut communities = st::communities_with(&mut conn, year).await?;
    communities.extend(st::communities_without(&mut conn, year).await?);
    communities.sort_unstable();
    communities.dedup();
    drop(conn);
    let replaced = st::notice_text(app.store.read(), year).await?.is_some();
    let mut tx = app.store.begin().await?;
    let before =
        st::save_notice(&mut tx, year, &notice.title, &notice.to_text(), &days, actor.audit_user_id(), now).await?;
    let dropped: Vec<String> = before.into_iter().filter(|d| !days.iter().any(|x| &x.day == d)).collect();
    for &c in &communities {
        st::apply_notice(&mut tx, c, year, &days, &dropped, now).await?;
    }
    audit::record(app,
        &mut tx,
        actor,
        &authority,
        "holidays.loaded",
        "holiday_notice",
        year,
        json!({"title": notice.title, "days": days.len(), "replaced": replaced, "dropped": dropped, "communities": communities}),
    )
    .await?;
    tx.commit().await?;
    refresh(app, &communities).await?;
    Ok(Loaded { year, title: notice.title, days: days.len(), communities: communities.len(), replaced })
}

/// The loaded notices' days, for a community being made (inside its transaction).
pub(crate) async fn for_new_community(app: &App) -> AppResult<Vec<(i64, Vec<st::HolidayDay>)>> {
    let mut conn = app.store.read().acquire().await?;
    let all = st::holiday_days(&mut conn, None).await?;
    let mut years: Vec<(i64, Vec<st::HolidayDay>)> = vec![];
    for d in all {
        match years.iter_mut().find(|(y, _)| *y == d.year) {
            Some((_, v)) => v.push(d),
            None => years.push((d.year, vec![d])),
        }
    }
    Ok(years)
}

#[cfg(test)]
mod tests {
    use super::*;
    use huiqian_domain::sheet::holidays::DayKind;

    /// The days of a shipped notice of one kind, as `MM-DD`.
    fn days_of(text: &str, kind: DayKind) -> Vec<String> {
        let n = Notice::parse(text).unwrap();
        n.days.iter().filter(|d| d.kind == kind).map(|d| d.day.format("%m-%d").to_string()).collect()
    }

    fn range(month: u32, first: u32, last: u32) -> Vec<String> {
        (first..=last).map(|d| format!("{month:02}-{d:02}")).collect()
    }

    /// 国务院办公厅关于2025年部分节假日安排的通知: 元旦 1/1; 春节 1/28–2/4 (1/26 Sun, 2/8 Sat
    /// work); 清明 4/4–6; 劳动节 5/1–5 (4/27 Sun work); 端午 5/31–6/2; 国庆、中秋 10/1–8
    /// (9/28 Sun, 10/11 Sat work).
    #[test]
    fn the_2025_notice_is_the_state_councils() {
        let mut want = vec!["01-01".to_string()];
        want.extend(range(1, 28, 31));
        want.extend(range(2, 1, 4));
        want.extend(range(4, 4, 6));
        want.extend(range(5, 1, 5));
        want.push("05-31".into());
        want.extend(range(6, 1, 2));
        want.extend(range(10, 1, 8));
        assert_eq!(days_of(SHIPPED[0], DayKind::Holiday), want);
        assert_eq!(days_of(SHIPPED[0], DayKind::Workday), ["01-26", "02-08", "04-27", "09-28", "10-11"]);
        assert_eq!(Notice::parse(SHIPPED[0]).unwrap().year, 2025);
    }

    /// 国务院办公厅关于2026年部分节假日安排的通知: 元旦 1/1–3 (1/4 Sun work); 春节 2/15–23
    /// (2/14 Sat, 2/28 Sat work); 清明 4/4–6; 劳动节 5/1–5 (5/9 Sat work); 端午 6/19–21; 中秋
    /// 9/25–27; 国庆 10/1–7 (9/20 Sun, 10/10 Sat work).
    #[test]
    fn the_2026_notice_is_the_state_councils() {
        let mut want = range(1, 1, 3);
        want.extend(range(2, 15, 23));
        want.extend(range(4, 4, 6));
        want.extend(range(5, 1, 5));
        want.extend(range(6, 19, 21));
        want.extend(range(9, 25, 27));
        want.extend(range(10, 1, 7));
        assert_eq!(days_of(SHIPPED[1], DayKind::Holiday), want);
        assert_eq!(days_of(SHIPPED[1], DayKind::Workday), ["01-04", "02-14", "02-28", "05-09", "09-20", "10-10"]);
        // Every make-up working day falls on a weekend; no holiday day is listed twice.
        for text in SHIPPED {
            for d in Notice::parse(text).unwrap().days.iter().filter(|d| d.kind == DayKind::Workday) {
                assert!(chrono::Datelike::weekday(&d.day).number_from_monday() >= 6, "{} is a weekday", d.day);
            }
        }
    }
}

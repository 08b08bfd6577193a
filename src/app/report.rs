//! Reports for the centre's management: the weekly statistics table of requests and
//! complaints (业主/住户诉求统计表, R-CMP-8), generated for each community when its week
//! ends and kept; staff performance per person and per department over a period with the
//! sheets behind each number (R-ROLE-3, R-SHEET-9).

use super::{Actor, App, AppError, AppResult};
use crate::store::{self, report as sr};
use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use huiqian_domain::auth::Permission;
use huiqian_domain::validation::ValidationError;
use serde::{Deserialize, Serialize};

fn zone_of(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// Midnight at the start of `day` in the zone, epoch ms.
pub fn day_start_ms(zone: &str, day: NaiveDate) -> i64 {
    zone_of(zone)
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// The Monday of the week holding `day`.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The local day of an instant.
pub fn local_day(zone: &str, at: i64) -> NaiveDate {
    chrono::Utc.timestamp_millis_opt(at).single().unwrap_or_default().with_timezone(&zone_of(zone)).date_naive()
}

/// How long after midnight the day before counts as settled (see [`count_week`]).
const SETTLE_GRACE: i64 = 5 * 60_000;

fn weeks(zone: &str, monday: NaiveDate) -> sr::Weeks {
    sr::Weeks {
        prev: day_start_ms(zone, monday - Duration::days(7)),
        start: day_start_ms(zone, monday),
        end: day_start_ms(zone, monday + Duration::days(7)),
    }
}

/// The weekly statistics table (R-CMP-8): this week beside the week before.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Weekly {
    /// The communities counted.
    pub community_ids: Vec<i64>,
    /// Monday and Sunday of the week (community's zone).
    pub week_start: String,
    pub week_end: String,
    pub totals: sr::Totals,
    /// By kind of request (`repair`, `complaint`, …).
    pub by_kind: Vec<sr::Split>,
    /// By channel (`visit`, `phone`, `letter`).
    pub by_channel: Vec<sr::Split>,
    /// By building code (empty: no unit named).
    pub by_building: Vec<sr::Split>,
    /// Repairs and complaints by category (`repair:water`, `complaint:噪音`).
    pub by_category: Vec<sr::Split>,
    /// When the kept report was generated (absent: counted now).
    pub generated_at: Option<i64>,
}

async fn count_week(app: &App, ids: &[i64], zone: &str, monday: NaiveDate) -> AppResult<Weekly> {
    // Days are settled from the start of the day five minutes ago: a registration still
    // being committed at midnight is counted with its day, never left out of it.
    let settled_to = day_start_ms(zone, local_day(zone, store::now_ms() - SETTLE_GRACE));
    let week = sr::week(&app.store, ids, weeks(zone, monday), settled_to, ids.len() > 1).await?;
    Ok(Weekly {
        community_ids: ids.to_vec(),
        week_start: monday.to_string(),
        week_end: (monday + Duration::days(6)).to_string(),
        totals: week.totals,
        by_kind: week.by_kind,
        by_channel: week.by_channel,
        by_building: week.by_building,
        by_category: week.by_category,
        generated_at: None,
    })
}

fn parse_week(week: Option<&str>, zone: &str) -> AppResult<NaiveDate> {
    match week.map(str::trim).filter(|w| !w.is_empty()) {
        None => Ok(monday_of(local_day(zone, store::now_ms()))),
        Some(w) => NaiveDate::parse_from_str(w, "%Y-%m-%d")
            .map(monday_of)
            .map_err(|_| AppError::field("week", ValidationError::new("date.format"))),
    }
}

/// The week's table for one community, or for every community the actor reports on
/// (`community == None`). A past week of one community is read as it was kept when the
/// week ended; the current week, and sums over communities, are counted now.
pub async fn weekly(app: &App, actor: &Actor, community: Option<i64>, week: Option<&str>) -> AppResult<Weekly> {
    let ids: Vec<i64> = match community {
        Some(c) => {
            actor.authorize(Permission::ViewReports, c)?;
            vec![c]
        }
        None => {
            let all = super::org::my_communities(app, actor).await?;
            let ids: Vec<i64> =
                all.iter().map(|c| c.id).filter(|id| actor.authorize(Permission::ViewReports, *id).is_ok()).collect();
            if ids.is_empty() {
                return Err(AppError::Forbidden);
            }
            ids
        }
    };
    let zone = app.store.community_zone(ids[0]).await?.ok_or(AppError::NotFound)?;
    let monday = parse_week(week, &zone)?;
    if let [c] = ids[..]
        && let Some((data, at)) = sr::kept_weekly(app.store.read(), c, &monday.to_string()).await?
    {
        let mut kept: Weekly =
            serde_json::from_str(&data).map_err(|e| AppError::Internal(format!("kept report: {e}")))?;
        kept.generated_at = Some(at);
        return Ok(kept);
    }
    count_week(app, &ids, &zone, monday).await
}

/// The weeks kept for a community, newest first: (Monday, generated at).
pub async fn kept_weeks(app: &App, actor: &Actor, c: i64) -> AppResult<Vec<sr::KeptWeek>> {
    actor.authorize(Permission::ViewReports, c)?;
    Ok(sr::kept_weeks(app.store.read(), c, 104).await?)
}

/// Keep last week's table for every community whose week has ended and has none yet.
/// Run by the scheduler; two processes keep one copy.
pub async fn keep_last_week(app: &App, now: i64) -> AppResult<usize> {
    let mut kept = 0;
    // Communities in different zones end their weeks at different instants: each is
    // asked for its own last week.
    let zones = sr::active_zones(app.store.read()).await?;
    let mut asked: Vec<String> = vec![];
    for (_, zone) in &zones {
        let last = monday_of(local_day(zone, now)) - Duration::days(7);
        let key = last.to_string();
        if asked.contains(&key) {
            continue;
        }
        asked.push(key.clone());
        for (c, zone) in sr::communities_missing_week(app.store.read(), &key).await? {
            if monday_of(local_day(&zone, now)) - Duration::days(7) != last {
                continue;
            }
            let table = count_week(app, &[c], &zone, last).await?;
            let data = serde_json::to_string(&table).expect("reports serialise");
            let mut tx = app.store.begin().await?;
            if sr::keep_weekly(&mut tx, c, &key, &data, now).await? {
                crate::app::audit::record_system(
                    app,
                    &mut tx,
                    now,
                    Some(c),
                    "report.weekly_kept",
                    "community",
                    c,
                    serde_json::json!({"week_start": key}),
                    "R-CMP-8",
                )
                .await?;
                kept += 1;
            }
            tx.commit().await?;
        }
    }
    Ok(kept)
}

// ---- staff performance ----

/// A period as the manager picks it: `[from, to]` local days.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct Period {
    /// First day (YYYY-MM-DD); the first of this month when absent.
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), included; today when absent.
    pub to: Option<String>,
}

fn period(p: &Period, zone: &str) -> AppResult<(NaiveDate, NaiveDate, i64, i64)> {
    let today = local_day(zone, store::now_ms());
    let day = |v: &Option<String>, field: &str, default: NaiveDate| match v.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| AppError::field(field, ValidationError::new("date.format"))),
    };
    let from = day(&p.from, "from", today.with_day(1).unwrap_or(today))?;
    let to = day(&p.to, "to", today)?;
    if to < from {
        return Err(AppError::field("to", ValidationError::new("report.end_before_start")));
    }
    Ok((from, to, day_start_ms(zone, from), day_start_ms(zone, to + Duration::days(1))))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Performance {
    pub community_id: i64,
    pub from: String,
    pub to: String,
    pub people: Vec<sr::Person>,
    pub departments: Vec<sr::Department>,
}

pub async fn performance(app: &App, actor: &Actor, c: i64, p: &Period) -> AppResult<Performance> {
    actor.authorize(Permission::ViewReports, c)?;
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let (from, to, a, b) = period(p, &zone)?;
    let pool = app.store.read();
    Ok(Performance {
        community_id: c,
        from: from.to_string(),
        to: to.to_string(),
        people: sr::people(pool, c, a, b).await?,
        departments: sr::departments(pool, app.store.backend(), c, a, b).await?,
    })
}

/// The sheets behind one of a person's numbers.
pub async fn drill(
    app: &App,
    actor: &Actor,
    c: i64,
    user_id: i64,
    m: sr::Measure,
    p: &Period,
) -> AppResult<Vec<crate::store::sheet::SheetRow>> {
    actor.authorize(Permission::ViewReports, c)?;
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let (_, _, a, b) = period(p, &zone)?;
    Ok(sr::drill(app.store.read(), c, user_id, m, a, b, 1000).await?)
}

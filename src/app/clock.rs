//! Clock targets and the business calendar of a community, which administrators
//! maintain; sheets' clocks are recomputed from their history with these.

use super::{Actor, App, AppError, AppResult, audit};
use crate::store::clock as st;
use chrono::NaiveTime;
use huiqian_domain::auth::Permission;
use huiqian_domain::sheet::SheetKind;
use huiqian_domain::sheet::calendar::Calendar;
use huiqian_domain::sheet::sla::{ClockName, ClockSpec, Counting};
use huiqian_domain::time::CivilDate;
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde::Deserialize;
use serde_json::json;

fn counting(s: &str) -> Option<Counting> {
    match s {
        "round_the_clock" => Some(Counting::RoundTheClock),
        "business_hours" => Some(Counting::BusinessHours),
        _ => None,
    }
}

/// The collection clock's rule for a community and kind (R-SHEET-7: 72 hours unless
/// the community set otherwise).
pub async fn collection_spec(app: &App, community_id: i64, kind: &str) -> AppResult<ClockSpec> {
    Ok(match st::target_for(app.store.read(), community_id, kind, "collection").await? {
        Some(t) => ClockSpec {
            name: ClockName::Collection,
            target_ms: t.target_minutes * 60_000,
            warn_ms: t.warn_minutes * 60_000,
            counting: counting(&t.counting).unwrap_or(Counting::RoundTheClock),
        },
        None => ClockSpec::collection_default(),
    })
}

/// A community's calendar: its working hours (Monday–Friday 08:30–17:30 unless set),
/// holidays and make-up working days, in its time zone.
pub async fn calendar(app: &App, community_id: i64, tz: &str) -> AppResult<Calendar> {
    let mut cal = Calendar::standard(tz.parse().unwrap_or(chrono_tz::Asia::Shanghai));
    let hours = st::hours(app.store.read(), community_id).await?;
    if !hours.is_empty() {
        cal.hours = [None; 7];
        for h in hours {
            let t = |m: i64| NaiveTime::from_num_seconds_from_midnight_opt((m.clamp(0, 1439) * 60) as u32, 0);
            if let (Some(a), Some(b), Some(slot)) =
                (t(h.start_minute), t(h.end_minute.min(1439)), cal.hours.get_mut(h.weekday as usize))
            {
                *slot = Some((a, b));
            }
        }
    }
    for d in st::days(app.store.read(), community_id).await? {
        if let Ok(date) = CivilDate::parse(&d.day) {
            if d.kind == "holiday" {
                cal.holidays.insert(date.date());
            } else {
                cal.workdays.insert(date.date());
            }
        }
    }
    Ok(cal)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TargetInput {
    /// A sheet kind, or `*` for all kinds without their own.
    pub kind: String,
    pub target_hours: String,
    #[serde(default)]
    pub warn_hours: String,
    /// `round_the_clock` (default) or `business_hours`.
    #[serde(default)]
    pub counting: String,
}

fn hours_to_minutes(s: &str, field: &str, errors: &mut FieldErrors, allow_zero: bool) -> Option<i64> {
    let v: Option<f64> = s
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && (*v > 0.0 || (allow_zero && *v == 0.0)) && *v <= 24.0 * 365.0);
    match v {
        Some(h) => Some((h * 60.0).round() as i64),
        None => {
            errors.push(field, ValidationError::new("clock.hours"));
            None
        }
    }
}

/// Set the collection limit for a kind (or all kinds) in a community.
pub async fn set_target(app: &App, actor: &Actor, community_id: i64, t: &TargetInput) -> AppResult<Vec<st::Target>> {
    let authority = actor.authorize(Permission::ManageCommunity, community_id)?;
    app.community_exists(community_id).await?;
    let mut errors = FieldErrors::default();
    let kind = if t.kind.trim() == "*" {
        Some("*".to_string())
    } else {
        SheetKind::parse(&t.kind).map(|k| k.as_str().to_string()).map_err(|e| errors.push("kind", e)).ok()
    };
    let target = hours_to_minutes(&t.target_hours, "target_hours", &mut errors, false);
    let warn = if t.warn_hours.trim().is_empty() {
        Some(0)
    } else {
        hours_to_minutes(&t.warn_hours, "warn_hours", &mut errors, true)
    };
    let mode = if t.counting.trim().is_empty() {
        Some("round_the_clock")
    } else {
        counting(t.counting.trim()).map(|_| t.counting.trim())
    };
    if mode.is_none() {
        errors.push("counting", ValidationError::new("clock.counting"));
    }
    if let (Some(a), Some(w)) = (target, warn)
        && w >= a
    {
        errors.push("warn_hours", ValidationError::new("clock.warn_after_due"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let row = st::Target {
        community_id,
        kind: kind.expect("validated"),
        clock: "collection".into(),
        target_minutes: target.expect("validated"),
        warn_minutes: warn.expect("validated"),
        counting: mode.expect("validated").to_string(),
        version: 0,
    };
    let mut tx = app.store.begin().await?;
    st::upsert_target(&mut tx, &row).await?;
    audit::record(app,&mut tx, actor, &authority, "clock.target_set", "community", community_id, json!({"kind": row.kind, "clock": row.clock, "target_minutes": row.target_minutes, "warn_minutes": row.warn_minutes, "counting": row.counting})).await?;
    tx.commit().await?;
    super::sheet::refresh_clocks(app, community_id).await?;
    Ok(st::targets(app.store.read(), community_id).await?)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DayInput {
    /// `2026-10-01`
    pub day: String,
    /// `holiday` or `workday` (调休上班).
    pub kind: String,
    #[serde(default)]
    pub note: String,
}

/// Mark a public holiday or a make-up working day.
pub async fn set_day(app: &App, actor: &Actor, community_id: i64, d: &DayInput) -> AppResult<Vec<st::Day>> {
    let authority = actor.authorize(Permission::ManageCommunity, community_id)?;
    app.community_exists(community_id).await?;
    let mut errors = FieldErrors::default();
    let day = CivilDate::parse(&d.day).map_err(|e| errors.push("day", e)).ok();
    if !matches!(d.kind.as_str(), "holiday" | "workday") {
        errors.push("kind", ValidationError::new("calendar.day_kind"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let row = st::Day {
        day: day.expect("validated").to_string(),
        kind: d.kind.clone(),
        note: d.note.trim().chars().take(60).collect(),
    };
    let mut tx = app.store.begin().await?;
    st::upsert_day(&mut tx, community_id, &row).await?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "calendar.day_set",
        "community",
        community_id,
        json!({"day": row.day, "kind": row.kind, "note": row.note}),
    )
    .await?;
    tx.commit().await?;
    super::sheet::refresh_clocks(app, community_id).await?;
    Ok(st::days(app.store.read(), community_id).await?)
}

pub async fn remove_day(app: &App, actor: &Actor, community_id: i64, day: &str) -> AppResult<()> {
    let authority = actor.authorize(Permission::ManageCommunity, community_id)?;
    app.community_exists(community_id).await?;
    let mut tx = app.store.begin().await?;
    if !st::delete_day(&mut tx, community_id, day).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "calendar.day_removed",
        "community",
        community_id,
        json!({"day": day}),
    )
    .await?;
    tx.commit().await?;
    super::sheet::refresh_clocks(app, community_id).await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct WeekInput {
    /// Seven entries, Monday first: `"08:30-17:30"`, or empty for a day off.
    pub days: Vec<String>,
}

fn parse_span(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.trim().split_once('-')?;
    let m = |x: &str| -> Option<i64> {
        let (h, mi) = x.trim().split_once(':')?;
        let (h, mi): (i64, i64) = (h.parse().ok()?, mi.parse().ok()?);
        ((0..=24).contains(&h) && (0..60).contains(&mi) && h * 60 + mi <= 1440).then_some(h * 60 + mi)
    };
    let (a, b) = (m(a)?, m(b)?);
    (a < b).then_some((a, b))
}

/// Set the working hours of each weekday.
pub async fn set_week(app: &App, actor: &Actor, community_id: i64, w: &WeekInput) -> AppResult<Vec<st::Hours>> {
    let authority = actor.authorize(Permission::ManageCommunity, community_id)?;
    app.community_exists(community_id).await?;
    let mut errors = FieldErrors::default();
    if w.days.len() != 7 {
        errors.push("days", ValidationError::new("calendar.week"));
    }
    let mut week = vec![];
    for (i, d) in w.days.iter().enumerate().take(7) {
        if d.trim().is_empty() {
            continue;
        }
        match parse_span(d) {
            Some((a, b)) => week.push((i as i64, a, b)),
            None => errors.push(format!("days.{i}"), ValidationError::new("calendar.hours")),
        }
    }
    errors.into_result().map_err(AppError::Validation)?;
    let mut tx = app.store.begin().await?;
    st::set_hours(&mut tx, community_id, &week).await?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "calendar.week_set",
        "community",
        community_id,
        json!({"days": w.days}),
    )
    .await?;
    tx.commit().await?;
    super::sheet::refresh_clocks(app, community_id).await?;
    Ok(st::hours(app.store.read(), community_id).await?)
}

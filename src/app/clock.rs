//! Clock targets and the business calendar of a community, which administrators
//! maintain; sheets' clocks are recomputed from their history with these.

use super::{Actor, App, AppError, AppResult, audit};
use crate::store::clock as st;
use huiqian_domain::auth::Permission;
use huiqian_domain::sheet::SheetKind;
use huiqian_domain::sheet::calendar::{self, Calendar, Span};
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

fn span_of(start_minute: i64, end_minute: i64) -> Span {
    let m = |x: i64| calendar::time_of_minute(x.clamp(0, 1440) as u32);
    (m(start_minute), m(end_minute))
}

/// A community's calendar: its working spans (Monday–Friday 08:30–12:00 and 13:30–17:30
/// unless set), holidays, make-up working days and special days, in its time zone.
pub async fn calendar(app: &App, community_id: i64, tz: chrono_tz::Tz) -> AppResult<Calendar> {
    let mut cal = Calendar::standard(tz);
    let hours = st::hours(app.store.read(), community_id).await?;
    if !hours.is_empty() {
        cal.hours = Default::default();
        for h in hours {
            if let Some(slot) = cal.hours.get_mut(h.weekday as usize) {
                slot.push(span_of(h.start_minute, h.end_minute));
            }
        }
        for slot in cal.hours.iter_mut() {
            *slot = calendar::normalize(slot);
        }
        // A make-up working day (调休上班) works the community's working day: the first of
        // Monday to Friday that has hours.
        if let Some(day) = cal.hours[..5].iter().find(|d| !d.is_empty()) {
            cal.makeup_hours = day.clone();
        }
    }
    for d in st::days(app.store.read(), community_id).await? {
        if let Ok(date) = CivilDate::parse(&d.day) {
            if d.kind == "holiday" {
                cal.holidays.insert(date.date());
            } else if let Ok(spans) = calendar::parse_spans(&d.spans).map(|s| calendar::normalize(&s))
                && !spans.is_empty()
            {
                cal.day_hours.insert(date.date(), spans);
            } else {
                cal.workdays.insert(date.date());
            }
        }
    }
    Ok(cal)
}

/// The week as the settings page and the API show it: seven entries, Monday first, each
/// the day's spans (`08:30-12:00,13:30-17:30`) or empty for a day off.
pub async fn week(app: &App, community_id: i64) -> AppResult<Vec<String>> {
    let tz = app.store.community_zone(community_id).await?.ok_or(AppError::NotFound)?;
    let cal = calendar(app, community_id, tz).await?;
    Ok(cal.hours.iter().map(|d| calendar::format_spans(d)).collect())
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
    let now = app.clock.now();
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
    st::upsert_target(&mut tx, &row, now).await?;
    audit::record(app,&mut tx, actor, &authority, "clock.target_set", "community", community_id, json!({"kind": row.kind, "clock": row.clock, "target_minutes": row.target_minutes, "warn_minutes": row.warn_minutes, "counting": row.counting})).await?;
    tx.commit().await?;
    super::sheet::refresh_clocks(app, community_id).await?;
    Ok(st::targets(app.store.read(), community_id).await?)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DayInput {
    /// `2026-10-01`
    pub day: String,
    /// `holiday` or `workday` (调休上班, or a working day with hours of its own).
    pub kind: String,
    #[serde(default)]
    pub note: String,
    /// A working day's own spans (`08:30-12:00`); empty: the community's working day.
    #[serde(default)]
    pub spans: String,
}

/// Mark a public holiday, a make-up working day, or a day with hours of its own. The
/// community's own entry wins over the State Council's notice for that day.
pub async fn set_day(app: &App, actor: &Actor, community_id: i64, d: &DayInput) -> AppResult<Vec<st::Day>> {
    let authority = actor.authorize(Permission::ManageCommunity, community_id)?;
    app.community_exists(community_id).await?;
    let mut errors = FieldErrors::default();
    let day = CivilDate::parse(&d.day).map_err(|e| errors.push("day", e)).ok();
    if !matches!(d.kind.as_str(), "holiday" | "workday") {
        errors.push("kind", ValidationError::new("calendar.day_kind"));
    }
    let spans = calendar::parse_spans(&d.spans).map_err(|e| errors.push("spans", e)).unwrap_or_default();
    if d.kind == "holiday" && !spans.is_empty() {
        errors.push("spans", ValidationError::new("calendar.holiday_spans"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let row = st::Day {
        day: day.expect("validated").to_string(),
        kind: d.kind.clone(),
        note: d.note.trim().chars().take(60).collect(),
        spans: calendar::format_spans(&spans),
        source: "local".into(),
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
        json!({"day": row.day, "kind": row.kind, "note": row.note, "spans": row.spans}),
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
    /// Seven entries, Monday first: the day's working spans (`"08:30-12:00,13:30-17:30"`),
    /// or empty for a day off.
    pub days: Vec<String>,
}

/// Set the working spans of each weekday; open sheets' clocks are recomputed at once.
pub async fn set_week(app: &App, actor: &Actor, community_id: i64, w: &WeekInput) -> AppResult<Vec<st::Hours>> {
    let authority = actor.authorize(Permission::ManageCommunity, community_id)?;
    app.community_exists(community_id).await?;
    let mut errors = FieldErrors::default();
    if w.days.len() != 7 {
        errors.push("days", ValidationError::new("calendar.week"));
    }
    let mut week = vec![];
    for (i, d) in w.days.iter().enumerate().take(7) {
        match calendar::parse_spans(d) {
            Ok(spans) => week.extend(spans.iter().map(|(a, b)| {
                (i as i64, i64::from(calendar::minute_of_time(*a)), i64::from(calendar::minute_of_time(*b)))
            })),
            Err(e) => errors.push(format!("days.{i}"), e),
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

/// The community's clock targets (the collection limit per kind), for its members.
pub async fn targets(app: &App, actor: &Actor, community_id: i64) -> AppResult<Vec<st::Target>> {
    actor.may_read(Permission::ViewCommunity, community_id).map_err(|_| AppError::NotFound)?;
    Ok(st::targets(app.store.read(), community_id).await?)
}

/// The community's business calendar as stored, for its members: the working spans of
/// each weekday (none: the default week) and the holidays, make-up working days and days
/// with hours of their own.
pub async fn stored_calendar(app: &App, actor: &Actor, community_id: i64) -> AppResult<(Vec<st::Hours>, Vec<st::Day>)> {
    actor.may_read(Permission::ViewCommunity, community_id).map_err(|_| AppError::NotFound)?;
    Ok((st::hours(app.store.read(), community_id).await?, st::days(app.store.read(), community_id).await?))
}

/// The holiday notices loaded (years and titles), for the calendar settings page.
pub async fn notices(app: &App, actor: &Actor, community_id: i64) -> AppResult<Vec<st::HolidayNotice>> {
    actor.may_read(Permission::ViewCommunity, community_id).map_err(|_| AppError::NotFound)?;
    Ok(st::notices(app.store.read()).await?)
}

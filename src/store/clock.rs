//! Clock targets and business calendars.

use super::now_ms;
use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow};

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Target {
    pub community_id: i64,
    /// A sheet kind, or `*` for every kind without its own.
    pub kind: String,
    pub clock: String,
    pub target_minutes: i64,
    pub warn_minutes: i64,
    /// `round_the_clock` or `business_hours`.
    pub counting: String,
    pub version: i64,
}

pub async fn targets(pool: &AnyPool, community_id: i64) -> Result<Vec<Target>, sqlx::Error> {
    sqlx::query_as(
        "SELECT community_id, kind, clock, target_minutes, warn_minutes, counting, version FROM sla_targets \
         WHERE community_id = $1 ORDER BY clock, kind",
    )
    .bind(community_id)
    .fetch_all(pool)
    .await
}

/// The target for a kind: its own row, else the community's `*` row.
pub async fn target_for(
    pool: &AnyPool,
    community_id: i64,
    kind: &str,
    clock: &str,
) -> Result<Option<Target>, sqlx::Error> {
    sqlx::query_as(
        "SELECT community_id, kind, clock, target_minutes, warn_minutes, counting, version FROM sla_targets \
         WHERE community_id = $1 AND clock = $2 AND kind IN ($3, '*') ORDER BY CASE WHEN kind = '*' THEN 1 ELSE 0 END LIMIT 1",
    )
    .bind(community_id)
    .bind(clock)
    .bind(kind)
    .fetch_optional(pool)
    .await
}

pub async fn upsert_target(tx: &mut AnyConnection, t: &Target) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sla_targets (community_id, kind, clock, target_minutes, warn_minutes, counting, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (community_id, kind, clock) DO UPDATE SET target_minutes = $4, warn_minutes = $5, counting = $6, \
         updated_at = $7, version = sla_targets.version + 1",
    )
    .bind(t.community_id)
    .bind(&t.kind)
    .bind(&t.clock)
    .bind(t.target_minutes)
    .bind(t.warn_minutes)
    .bind(&t.counting)
    .bind(now_ms())
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn delete_target(
    tx: &mut AnyConnection,
    community_id: i64,
    kind: &str,
    clock: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM sla_targets WHERE community_id = $1 AND kind = $2 AND clock = $3")
        .bind(community_id)
        .bind(kind)
        .bind(clock)
        .execute(tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Hours {
    pub weekday: i64,
    pub start_minute: i64,
    pub end_minute: i64,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = CalendarDay)]
pub struct Day {
    pub day: String,
    /// `holiday` or `workday` (a make-up working day).
    pub kind: String,
    pub note: String,
}

pub async fn hours(pool: &AnyPool, community_id: i64) -> Result<Vec<Hours>, sqlx::Error> {
    sqlx::query_as(
        "SELECT weekday, start_minute, end_minute FROM calendar_hours WHERE community_id = $1 ORDER BY weekday",
    )
    .bind(community_id)
    .fetch_all(pool)
    .await
}

pub async fn days(pool: &AnyPool, community_id: i64) -> Result<Vec<Day>, sqlx::Error> {
    sqlx::query_as("SELECT day, kind, note FROM calendar_days WHERE community_id = $1 ORDER BY day")
        .bind(community_id)
        .fetch_all(pool)
        .await
}

/// Replace the week's working hours of a community.
pub async fn set_hours(tx: &mut AnyConnection, community_id: i64, week: &[(i64, i64, i64)]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM calendar_hours WHERE community_id = $1").bind(community_id).execute(&mut *tx).await?;
    for (weekday, start, end) in week {
        sqlx::query(
            "INSERT INTO calendar_hours (community_id, weekday, start_minute, end_minute) VALUES ($1, $2, $3, $4)",
        )
        .bind(community_id)
        .bind(*weekday)
        .bind(*start)
        .bind(*end)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub async fn upsert_day(tx: &mut AnyConnection, community_id: i64, d: &Day) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO calendar_days (community_id, day, kind, note) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (community_id, day) DO UPDATE SET kind = $3, note = $4",
    )
    .bind(community_id)
    .bind(&d.day)
    .bind(&d.kind)
    .bind(&d.note)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn delete_day(tx: &mut AnyConnection, community_id: i64, day: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM calendar_days WHERE community_id = $1 AND day = $2")
        .bind(community_id)
        .bind(day)
        .execute(tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

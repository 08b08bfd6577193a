//! Clock targets and business calendars.

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

pub async fn upsert_target(tx: &mut AnyConnection, t: &Target, now: i64) -> Result<(), sqlx::Error> {
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
    .bind(now)
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
    let q = sqlx::query("DELETE FROM sla_targets WHERE community_id = $1 AND kind = $2 AND clock = $3")
        .bind(community_id)
        .bind(kind)
        .bind(clock);
    super::changed_one(tx, q).await
}

/// One working span of a weekday (0 = Monday), in minutes since midnight.
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
    /// A working day's own spans (`08:30-12:00`); empty: the community's working day.
    pub spans: String,
    /// `statutory` (from the State Council's notice) or `local` (the community's own).
    pub source: String,
}

pub async fn hours(pool: &AnyPool, community_id: i64) -> Result<Vec<Hours>, sqlx::Error> {
    sqlx::query_as(
        "SELECT weekday, start_minute, end_minute FROM calendar_spans WHERE community_id = $1 ORDER BY weekday, start_minute",
    )
    .bind(community_id)
    .fetch_all(pool)
    .await
}

pub async fn days(pool: &AnyPool, community_id: i64) -> Result<Vec<Day>, sqlx::Error> {
    sqlx::query_as("SELECT day, kind, note, spans, source FROM calendar_days WHERE community_id = $1 ORDER BY day")
        .bind(community_id)
        .fetch_all(pool)
        .await
}

/// Replace the week's working spans of a community: (weekday, start, end).
pub async fn set_hours(tx: &mut AnyConnection, community_id: i64, week: &[(i64, i64, i64)]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM calendar_spans WHERE community_id = $1").bind(community_id).execute(&mut *tx).await?;
    for (weekday, start, end) in week {
        sqlx::query(
            "INSERT INTO calendar_spans (community_id, weekday, start_minute, end_minute) VALUES ($1, $2, $3, $4)",
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
        "INSERT INTO calendar_days (community_id, day, kind, note, spans, source) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (community_id, day) DO UPDATE SET kind = $3, note = $4, spans = $5, source = $6",
    )
    .bind(community_id)
    .bind(&d.day)
    .bind(&d.kind)
    .bind(&d.note)
    .bind(&d.spans)
    .bind(&d.source)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn delete_day(tx: &mut AnyConnection, community_id: i64, day: &str) -> Result<bool, sqlx::Error> {
    let q = sqlx::query("DELETE FROM calendar_days WHERE community_id = $1 AND day = $2").bind(community_id).bind(day);
    super::changed_one(tx, q).await
}

// ---- the State Council's holiday notices ----

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct HolidayNotice {
    pub year: i64,
    pub title: String,
    pub loaded_at: i64,
    pub loaded_by: Option<i64>,
    /// Holidays and make-up working days it lists.
    pub holidays: i64,
    pub workdays: i64,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct HolidayDay {
    pub day: String,
    pub year: i64,
    pub kind: String,
    pub note: String,
}

pub async fn notices(pool: &AnyPool) -> Result<Vec<HolidayNotice>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.year, n.title, n.loaded_at, n.loaded_by, \
         CAST((SELECT COUNT(*) FROM holiday_days d WHERE d.year = n.year AND d.kind = 'holiday') AS BIGINT) AS holidays, \
         CAST((SELECT COUNT(*) FROM holiday_days d WHERE d.year = n.year AND d.kind = 'workday') AS BIGINT) AS workdays \
         FROM holiday_notices n ORDER BY n.year",
    )
    .fetch_all(pool)
    .await
}

pub async fn notice_text(pool: &AnyPool, year: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT text FROM holiday_notices WHERE year = $1").bind(year).fetch_optional(pool).await
}

pub async fn holiday_days(conn: &mut AnyConnection, year: Option<i64>) -> Result<Vec<HolidayDay>, sqlx::Error> {
    match year {
        Some(y) => {
            sqlx::query_as("SELECT day, year, kind, note FROM holiday_days WHERE year = $1 ORDER BY day")
                .bind(y)
                .fetch_all(conn)
                .await
        }
        None => sqlx::query_as("SELECT day, year, kind, note FROM holiday_days ORDER BY day").fetch_all(conn).await,
    }
}

/// Replace a year's notice and its days. Returns the days the notice listed before (a
/// corrected notice takes them out of the communities that took them).
pub async fn save_notice(
    tx: &mut AnyConnection,
    year: i64,
    title: &str,
    text: &str,
    days: &[HolidayDay],
    by: Option<i64>,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let before: Vec<String> =
        sqlx::query_scalar("SELECT day FROM holiday_days WHERE year = $1").bind(year).fetch_all(&mut *tx).await?;
    sqlx::query("DELETE FROM holiday_days WHERE year = $1").bind(year).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO holiday_notices (year, title, text, loaded_at, loaded_by) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (year) DO UPDATE SET title = $2, text = $3, loaded_at = $4, loaded_by = $5",
    )
    .bind(year)
    .bind(title)
    .bind(text)
    .bind(now)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    for d in days {
        sqlx::query("INSERT INTO holiday_days (day, year, kind, note) VALUES ($1, $2, $3, $4)")
            .bind(&d.day)
            .bind(year)
            .bind(&d.kind)
            .bind(&d.note)
            .execute(&mut *tx)
            .await?;
    }
    Ok(before)
}

/// The years a community took, and when.
pub async fn applied_years(conn: &mut AnyConnection, community_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT year FROM community_holiday_years WHERE community_id = $1 ORDER BY year")
        .bind(community_id)
        .fetch_all(conn)
        .await
}

/// Put a notice's days into a community's calendar. The community's own days (`local`)
/// stay as it set them; statutory days of the year no longer in the notice (`dropped`)
/// leave it. Returns how many days were written.
pub async fn apply_notice(
    tx: &mut AnyConnection,
    community_id: i64,
    year: i64,
    days: &[HolidayDay],
    dropped: &[String],
    now: i64,
) -> Result<u64, sqlx::Error> {
    for d in dropped {
        sqlx::query("DELETE FROM calendar_days WHERE community_id = $1 AND day = $2 AND source = 'statutory'")
            .bind(community_id)
            .bind(d)
            .execute(&mut *tx)
            .await?;
    }
    let mut written = 0;
    for d in days {
        let r = sqlx::query(
            "INSERT INTO calendar_days (community_id, day, kind, note, spans, source) VALUES ($1, $2, $3, $4, '', 'statutory') \
             ON CONFLICT (community_id, day) DO UPDATE SET kind = $3, note = $4 WHERE calendar_days.source = 'statutory'",
        )
        .bind(community_id)
        .bind(&d.day)
        .bind(&d.kind)
        .bind(&d.note)
        .execute(&mut *tx)
        .await?;
        written += r.rows_affected();
    }
    sqlx::query(
        "INSERT INTO community_holiday_years (community_id, year, applied_at) VALUES ($1, $2, $3) \
         ON CONFLICT (community_id, year) DO UPDATE SET applied_at = $3",
    )
    .bind(community_id)
    .bind(year)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(written)
}

/// The active communities that have not yet taken `year`'s notice.
pub async fn communities_without(conn: &mut AnyConnection, year: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.id FROM communities c WHERE NOT EXISTS \
         (SELECT 1 FROM community_holiday_years y WHERE y.community_id = c.id AND y.year = $1) ORDER BY c.id",
    )
    .bind(year)
    .fetch_all(conn)
    .await
}

/// Every community that took `year`'s notice (a corrected notice reaches them all).
pub async fn communities_with(conn: &mut AnyConnection, year: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM community_holiday_years WHERE year = $1 ORDER BY community_id")
        .bind(year)
        .fetch_all(conn)
        .await
}

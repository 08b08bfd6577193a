//! Deadline notices: sheets due for one, the in-app inbox and the delivery outbox.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow};

/// A sheet whose warning time has come and that still has a notice to send.
#[derive(Debug, Clone, FromRow)]
pub struct Due {
    pub id: i64,
    pub community_id: i64,
    pub number: String,
    pub first_contact_id: i64,
    pub due_at: Option<i64>,
    pub notice_level: i64,
}

/// Sheets due for a notice at `now` (reads the partial index of sheets with notices
/// still to send, so a tick touches due rows only).
pub async fn due(pool: &AnyPool, now: i64, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(DUE_SQL).bind(now).bind(limit).fetch_all(pool).await
}

const DUE_SQL: &str = "SELECT id, community_id, number, first_contact_id, due_at, notice_level FROM sheets \
     WHERE warn_at <= $1 AND notice_level < 3 AND state IN ('registered', 'dispatched', 'awaiting_acceptance') \
     ORDER BY warn_at LIMIT $2";

/// The plan of [`due`]'s query, one line a step (for the scheduler benchmark).
#[cfg(feature = "demo")]
pub async fn explain_due(pool: &AnyPool, backend: super::Backend, now: i64) -> Result<Vec<String>, sqlx::Error> {
    match backend {
        super::Backend::Sqlite => {
            let rows = sqlx::query(&format!(
                "EXPLAIN QUERY PLAN {}",
                DUE_SQL.replace("$1", &now.to_string()).replace("$2", "500")
            ))
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().map(|r| sqlx::Row::get::<String, _>(r, 3)).collect())
        }
        super::Backend::Postgres => {
            let sql =
                format!("EXPLAIN (ANALYZE, BUFFERS) {}", DUE_SQL.replace("$1", &now.to_string()).replace("$2", "500"));
            sqlx::query_scalar(&sql).fetch_all(pool).await
        }
    }
}

/// Claim a notice level for a sheet: true for exactly one process. After the warning,
/// the sheet's next point of interest is its deadline, so `warn_at` moves there.
pub async fn claim_level(
    tx: &mut AnyConnection,
    id: i64,
    level: i64,
    due_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE sheets SET notice_level = $1, warn_at = CASE WHEN $1 < 3 THEN due_at ELSE warn_at END \
         WHERE id = $2 AND notice_level < $1 AND due_at IS NOT DISTINCT FROM $3",
    )
    .bind(level)
    .bind(id)
    .bind(due_at)
    .execute(tx)
    .await;
    match r {
        Ok(r) => Ok(r.rows_affected() == 1),
        Err(e) => Err(e),
    }
}

/// Managers and supervisors of a community, who receive escalations.
pub async fn escalation_targets(conn: &mut AnyConnection, community_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT r.user_id FROM user_roles r JOIN users u ON u.id = r.user_id \
         WHERE r.community_id = $1 AND r.role IN ('cs_supervisor', 'cs_manager') AND u.active = 1 ORDER BY r.user_id",
    )
    .bind(community_id)
    .fetch_all(conn)
    .await
}

#[allow(clippy::too_many_arguments)]
/// Put a notice in a user's inbox; `None` when that notice was already given.
pub async fn insert_notification(
    tx: &mut AnyConnection,
    user_id: i64,
    community_id: Option<i64>,
    sheet_id: Option<i64>,
    kind: &str,
    title: &str,
    body: &str,
    params: &str,
    dedupe: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let r = sqlx::query_scalar(
        "INSERT INTO notifications (user_id, community_id, sheet_id, kind, title, body, params, dedupe, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe) DO NOTHING RETURNING id",
    )
    .bind(user_id)
    .bind(community_id)
    .bind(sheet_id)
    .bind(kind)
    .bind(title)
    .bind(body)
    .bind(params)
    .bind(dedupe)
    .bind(now)
    .fetch_optional(tx)
    .await?;
    Ok(r)
}

pub async fn enqueue(tx: &mut AnyConnection, notification_id: i64, payload: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO outbox (notification_id, payload, next_attempt_at) VALUES ($1, $2, $3)")
        .bind(notification_id)
        .bind(payload)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: i64,
    pub community_id: Option<i64>,
    pub sheet_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
    /// What the notice says, as arguments of its kind's text (JSON): the sheet's number and
    /// the deadline, so that it is told in the reader's language. `{}` for older notices.
    #[serde(skip)]
    pub params: String,
}

pub async fn inbox(
    pool: &AnyPool,
    user_id: i64,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    let cond = if unread_only { " AND read_at IS NULL" } else { "" };
    sqlx::query_as(&format!(
        "SELECT id, community_id, sheet_id, kind, title, body, created_at, read_at, params FROM notifications \
         WHERE user_id = $1{cond} ORDER BY id DESC LIMIT $2"
    ))
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn unread_count(pool: &AnyPool, user_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
        .bind(user_id)
        .fetch_one(pool)
        .await
}

pub async fn mark_read(tx: &mut AnyConnection, user_id: i64, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    super::stamp_own(tx, "notifications", "read_at", id, user_id, now).await
}

/// Mark one's unread notices made before `before` as read; how many.
pub async fn mark_all_read(tx: &mut AnyConnection, user_id: i64, before: i64, now: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL AND created_at < $3")
        .bind(now)
        .bind(user_id)
        .bind(before)
        .execute(tx)
        .await?
        .rows_affected())
}

#[derive(Debug, Clone, FromRow)]
pub struct Pending {
    pub id: i64,
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

pub async fn pending(pool: &AnyPool, now: i64, limit: i64) -> Result<Vec<Pending>, sqlx::Error> {
    sqlx::query_as("SELECT id, payload, attempts, next_attempt_at FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2")
        .bind(now)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Take a delivery for a while, so that a second process does not send it too.
pub async fn lease(tx: &mut AnyConnection, id: i64, seen_next: i64, until: i64) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL",
    )
    .bind(until)
    .bind(id)
    .bind(seen_next);
    super::changed_one(tx, q).await
}

pub async fn delivered(tx: &mut AnyConnection, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET delivered_at = $1, attempts = attempts + 1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn failed(tx: &mut AnyConnection, id: i64, next: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3")
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

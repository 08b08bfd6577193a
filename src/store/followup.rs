//! Follow-ups (回访): the community's rules, the sampling decisions and their monthly
//! tallies, the tasks with their records and reviews, and the corrective-action reports.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow};

// ---- settings ----

/// A community's follow-up rules (R-FU-1, R-FU-2, R-FU-3).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = FollowUpSettings)]
pub struct Settings {
    pub community_id: i64,
    pub repair_rate: i64,
    pub special_service_rate: i64,
    pub delivery_rate: i64,
    pub event_rate: i64,
    pub due_hours: i64,
    /// The most phone follow-ups may be of the year's, in percent: a hard limit (R-FU-2).
    pub phone_cap_pct: i64,
    /// Attempts to reach a resident before the task is recorded as not reached (R-FU-4).
    pub max_attempts: i64,
    /// Hex; shown to auditors only.
    #[serde(skip)]
    pub sampling_key: String,
    pub version: i64,
}

const SETTINGS_COLS: &str = "community_id, repair_rate, special_service_rate, delivery_rate, event_rate, due_hours, \
     phone_cap_pct, max_attempts, sampling_key, version";

pub async fn settings<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    community_id: i64,
) -> Result<Option<Settings>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SETTINGS_COLS} FROM follow_up_settings WHERE community_id = $1"))
        .bind(community_id)
        .fetch_optional(ex)
        .await
}

/// The community's settings, created with the manual's defaults and `new_key` when the
/// community has none yet.
pub async fn ensure_settings(
    tx: &mut AnyConnection,
    community_id: i64,
    new_key: &str,
) -> Result<Settings, sqlx::Error> {
    sqlx::query(
        "INSERT INTO follow_up_settings (community_id, sampling_key) VALUES ($1, $2) \
         ON CONFLICT (community_id) DO NOTHING",
    )
    .bind(community_id)
    .bind(new_key)
    .execute(&mut *tx)
    .await?;
    Ok(settings(&mut *tx, community_id).await?.expect("inserted above"))
}

/// Take the community's rules row for the rest of the transaction (made with `new_key`
/// when missing): checks that count the year's follow-ups run one after the other.
pub async fn lock_settings(tx: &mut AnyConnection, community_id: i64, new_key: &str) -> Result<(), sqlx::Error> {
    ensure_settings(tx, community_id, new_key).await?;
    sqlx::query("UPDATE follow_up_settings SET phone_cap_pct = phone_cap_pct WHERE community_id = $1")
        .bind(community_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// The editable rules, as an administrator saves them.
#[derive(Debug, Clone)]
pub struct SettingsUpdate {
    pub repair_rate: i64,
    pub special_service_rate: i64,
    pub delivery_rate: i64,
    pub event_rate: i64,
    pub due_hours: i64,
    pub phone_cap_pct: i64,
    pub max_attempts: i64,
}

/// Save the rules if the row is still at `version`.
pub async fn save_settings(
    tx: &mut AnyConnection,
    community_id: i64,
    version: i64,
    u: &SettingsUpdate,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE follow_up_settings SET repair_rate = $1, special_service_rate = $2, delivery_rate = $3, event_rate = $4, \
         due_hours = $5, phone_cap_pct = $6, max_attempts = $7, version = version + 1 \
         WHERE community_id = $8 AND version = $9",
    )
    .bind(u.repair_rate)
    .bind(u.special_service_rate)
    .bind(u.delivery_rate)
    .bind(u.event_rate)
    .bind(u.due_hours)
    .bind(u.phone_cap_pct)
    .bind(u.max_attempts)
    .bind(community_id)
    .bind(version);
    super::changed_one(tx, q).await
}

// ---- sampling ----

/// Count one more collected sheet in the month of `reason`; returns the tally before it
/// (collected, selected). The upsert takes the row's lock on PostgreSQL (and SQLite has
/// one writer), so two collections at once are counted one after the other.
pub async fn bump_tally(
    tx: &mut AnyConnection,
    community_id: i64,
    reason: &str,
    period: &str,
) -> Result<(i64, i64), sqlx::Error> {
    let (collected, selected): (i64, i64) = sqlx::query_as(
        "INSERT INTO follow_up_tallies (community_id, reason, period, collected, selected) VALUES ($1, $2, $3, 1, 0) \
         ON CONFLICT (community_id, reason, period) DO UPDATE SET collected = follow_up_tallies.collected + 1 \
         RETURNING collected, selected",
    )
    .bind(community_id)
    .bind(reason)
    .bind(period)
    .fetch_one(tx)
    .await?;
    Ok((collected - 1, selected))
}

pub async fn count_selected(
    tx: &mut AnyConnection,
    community_id: i64,
    reason: &str,
    period: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE follow_up_tallies SET selected = selected + 1 WHERE community_id = $1 AND reason = $2 AND period = $3",
    )
    .bind(community_id)
    .bind(reason)
    .bind(period)
    .execute(tx)
    .await?;
    Ok(())
}

/// One sampling decision (R-FU-1).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub sheet_id: i64,
    pub number: String,
    pub reason: String,
    pub period: String,
    /// The sheet's place among the month's collected sheets of its reason.
    pub seq: i64,
    pub rate: i64,
    /// 0 … 9,999: HMAC-SHA256 of the number under the community's key.
    pub draw: i64,
    /// 1 when the sheet is followed up.
    pub selected: i64,
    pub cause: String,
    pub decided_at: i64,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_decision(
    tx: &mut AnyConnection,
    community_id: i64,
    sheet_id: i64,
    reason: &str,
    period: &str,
    seq: i64,
    rate: i64,
    draw: i64,
    selected: bool,
    cause: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO follow_up_decisions (sheet_id, community_id, reason, period, seq, rate, draw, selected, cause, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(sheet_id)
    .bind(community_id)
    .bind(reason)
    .bind(period)
    .bind(seq)
    .bind(rate)
    .bind(draw)
    .bind(i64::from(selected))
    .bind(cause)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// A month's decisions, by reason and in the order they were made.
pub async fn decisions(pool: &AnyPool, community_id: i64, period: &str) -> Result<Vec<Decision>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.sheet_id, s.number, d.reason, d.period, d.seq, d.rate, d.draw, d.selected, d.cause, \
         d.decided_at FROM follow_up_decisions d JOIN sheets s ON s.id = d.sheet_id \
         WHERE d.community_id = $1 AND d.period = $2 ORDER BY d.reason, d.seq",
    )
    .bind(community_id)
    .bind(period)
    .fetch_all(pool)
    .await
}

// ---- tasks ----

/// A new task: to whom, why to them (when it is not the sheet's first-contact owner), and
/// who may not take it (the person a complaint is about).
pub struct NewFollowUp<'a> {
    pub community_id: i64,
    pub sheet_id: i64,
    pub reason: &'a str,
    pub due_at: i64,
    pub assigned_to: Option<i64>,
    pub note: &'a str,
    pub excluded_user_id: Option<i64>,
}

pub async fn insert_follow_up(
    tx: &mut AnyConnection,
    f: &NewFollowUp<'_>,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO follow_ups (community_id, sheet_id, reason, due_at, assigned_to, created_at, note, excluded_user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sheet_id, reason) DO NOTHING RETURNING id",
    )
    .bind(f.community_id)
    .bind(f.sheet_id)
    .bind(f.reason)
    .bind(f.due_at)
    .bind(f.assigned_to)
    .bind(now)
    .bind(f.note)
    .bind(f.excluded_user_id)
    .fetch_optional(tx)
    .await
}

/// Of the active members of customer service who follow residents up (receptionists,
/// then supervisors, then managers), the one with the fewest tasks to do, leaving out
/// `excluded`.
pub async fn least_loaded_visitor(
    conn: &mut AnyConnection,
    community_id: i64,
    excluded: i64,
) -> Result<Option<i64>, sqlx::Error> {
    for role in ["receptionist", "cs_supervisor", "cs_manager"] {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT r.user_id FROM user_roles r JOIN users u ON u.id = r.user_id \
             WHERE r.community_id = $1 AND r.role = $2 AND u.active = 1 AND r.user_id <> $3 \
             ORDER BY (SELECT COUNT(*) FROM follow_ups f WHERE f.assigned_to = r.user_id AND f.state = 'pending'), r.user_id \
             LIMIT 1",
        )
        .bind(community_id)
        .bind(role)
        .bind(excluded)
        .fetch_optional(&mut *conn)
        .await?;
        if id.is_some() {
            return Ok(id);
        }
    }
    Ok(None)
}

/// A failed attempt to reach the resident, kept as recorded.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub attempt: i64,
    pub method: String,
    pub content: String,
    pub contacted_at: i64,
    /// The attempt's own time limit.
    pub due_at: i64,
    pub recorded_by_name: String,
    pub recorded_at: i64,
}

pub async fn attempts(pool: &AnyPool, follow_up_id: i64) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.attempt, a.method, a.content, a.contacted_at, a.due_at, u.display_name AS recorded_by_name, a.recorded_at \
         FROM follow_up_attempts a JOIN users u ON u.id = a.recorded_by WHERE a.follow_up_id = $1 ORDER BY a.attempt",
    )
    .bind(follow_up_id)
    .fetch_all(pool)
    .await
}

/// Keep a failed attempt and give the task its next attempt with a new time limit (the
/// overdue notice may come again for it).
#[allow(clippy::too_many_arguments)]
pub async fn retry(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    community_id: i64,
    attempt: i64,
    method: &str,
    content: &str,
    contacted_at: i64,
    due_at: i64,
    next_due_at: i64,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE follow_ups SET attempt = attempt + 1, due_at = $1, overdue_notified_at = NULL, version = version + 1 \
         WHERE id = $2 AND version = $3 AND state = 'pending' AND attempt = $4",
    )
    .bind(next_due_at)
    .bind(id)
    .bind(version)
    .bind(attempt)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO follow_up_attempts (follow_up_id, community_id, attempt, method, content, contacted_at, due_at, \
         recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(community_id)
    .bind(attempt)
    .bind(method)
    .bind(content)
    .bind(contacted_at)
    .bind(due_at)
    .bind(by)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(true)
}

/// A follow-up task with its sheet, its record and its review, as lists and the
/// follow-up ledger (回访登记台帐, R-FU-5) show it.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct FollowUp {
    pub id: i64,
    pub community_id: i64,
    pub sheet_id: i64,
    pub number: String,
    pub kind: String,
    pub room_no: Option<String>,
    pub requester_name: String,
    pub requester_phone_masked: String,
    pub sheet_reason: String,
    pub reason: String,
    pub state: String,
    pub due_at: i64,
    pub assigned_to: Option<i64>,
    pub assignee_name: Option<String>,
    pub created_at: i64,
    pub method: Option<String>,
    pub outcome: Option<String>,
    pub content: String,
    pub contacted_at: Option<i64>,
    pub signer: String,
    pub signature_id: Option<i64>,
    /// 1 when the resident typed their name instead of drawing the signature.
    pub signature_typed: i64,
    /// 1: recorded by phone over the cap when a community could still accept a warning
    /// (before the cap became a hard limit); kept for the ledger.
    pub over_cap: i64,
    /// The attempt the task is on (1, 2, …): a resident not reached is tried again.
    pub attempt: i64,
    /// Why the task went to whom it went (the person complained about never follows up).
    pub note: String,
    pub excluded_user_id: Option<i64>,
    pub recorded_by_name: Option<String>,
    pub recorded_at: Option<i64>,
    pub remarks: String,
    pub reviewer_name: Option<String>,
    pub reviewed_at: Option<i64>,
    pub capa_id: Option<i64>,
    pub capa_state: Option<String>,
    pub version: i64,
}

const FOLLOW_UP_SELECT: &str = "SELECT f.id, f.community_id, f.sheet_id, s.number, s.kind, u.room_no, s.requester_name, \
     s.requester_phone_masked, s.reason AS sheet_reason, f.reason, f.state, f.due_at, f.assigned_to, a.display_name AS assignee_name, \
     f.created_at, f.method, f.outcome, f.content, f.contacted_at, f.signer, f.signature_id, COALESCE(sig.typed, 0) AS signature_typed, f.over_cap, \
     f.attempt, f.note, f.excluded_user_id, \
     rb.display_name AS recorded_by_name, f.recorded_at, f.remarks, rv.display_name AS reviewer_name, f.reviewed_at, \
     c.id AS capa_id, c.state AS capa_state, f.version \
     FROM follow_ups f JOIN sheets s ON s.id = f.sheet_id LEFT JOIN units u ON u.id = s.unit_id \
     LEFT JOIN users a ON a.id = f.assigned_to LEFT JOIN users rb ON rb.id = f.recorded_by \
     LEFT JOIN users rv ON rv.id = f.reviewed_by LEFT JOIN capas c ON c.follow_up_id = f.id \
     LEFT JOIN attachments sig ON sig.id = f.signature_id";

pub async fn follow_up<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<FollowUp>, sqlx::Error> {
    sqlx::query_as(&format!("{FOLLOW_UP_SELECT} WHERE f.id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn follow_ups_of(pool: &AnyPool, sheet_id: i64) -> Result<Vec<FollowUp>, sqlx::Error> {
    sqlx::query_as(&format!("{FOLLOW_UP_SELECT} WHERE f.sheet_id = $1 ORDER BY f.id"))
        .bind(sheet_id)
        .fetch_all(pool)
        .await
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskList {
    /// To do, soonest due first; only one person's when given.
    Pending { assignee: Option<i64> },
    /// Recorded, waiting for the manager's review, oldest first.
    ToReview,
}

pub async fn follow_ups(
    pool: &AnyPool,
    community_id: i64,
    list: TaskList,
    limit: i64,
    offset: i64,
) -> Result<Vec<FollowUp>, sqlx::Error> {
    let sql = match list {
        TaskList::Pending { assignee: None } => format!(
            "{FOLLOW_UP_SELECT} WHERE f.community_id = $1 AND f.state = 'pending' ORDER BY f.due_at, f.id LIMIT $2 OFFSET $3"
        ),
        TaskList::Pending { assignee: Some(_) } => format!(
            "{FOLLOW_UP_SELECT} WHERE f.assigned_to = $4 AND f.state = 'pending' AND f.community_id = $1 \
             ORDER BY f.due_at, f.id LIMIT $2 OFFSET $3"
        ),
        TaskList::ToReview => format!(
            "{FOLLOW_UP_SELECT} WHERE f.community_id = $1 AND f.state = 'done' ORDER BY f.recorded_at, f.id LIMIT $2 OFFSET $3"
        ),
    };
    let mut q = sqlx::query_as(&sql).bind(community_id).bind(limit).bind(offset);
    if let TaskList::Pending { assignee: Some(a) } = list {
        q = q.bind(a);
    }
    q.fetch_all(pool).await
}

/// The follow-up ledger (回访登记台帐): what was recorded in `[from, to)`, in the order
/// recorded unless a column of [`LEDGER_SORTS`] is asked for.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub from: i64,
    pub to: i64,
    pub sort: Option<String>,
    pub desc: bool,
    pub limit: i64,
    pub offset: i64,
}

/// The columns the follow-up ledger can be sorted by, and their SQL.
pub const LEDGER_SORTS: &[(&str, &str)] = &[
    ("number", "s.number"),
    ("reason", "f.reason"),
    ("room", "u.room_no"),
    ("requester", "s.requester_name"),
    ("method", "f.method"),
    ("outcome", "f.outcome"),
    ("contacted_at", "f.contacted_at"),
    ("recorded_by", "rb.display_name"),
    ("reviewer", "rv.display_name"),
    ("capa", "c.state"),
];

const LEDGER_WHERE: &str = "WHERE f.community_id = $1 AND f.recorded_at IS NOT NULL AND f.recorded_at >= $2 \
     AND f.recorded_at < $3";

fn ledger_order(f: &LedgerFilter) -> String {
    super::sheet::ledger_order(LEDGER_SORTS, f.sort.as_deref(), f.desc, "f.id", "f.recorded_at, f.id")
}

pub async fn ledger(pool: &AnyPool, community_id: i64, f: &LedgerFilter) -> Result<Vec<FollowUp>, sqlx::Error> {
    sqlx::query_as(&format!("{FOLLOW_UP_SELECT} {LEDGER_WHERE} ORDER BY {} LIMIT $4 OFFSET $5", ledger_order(f)))
        .bind(community_id)
        .bind(f.from)
        .bind(f.to)
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(pool)
        .await
}

/// The whole ledger's follow-ups, in its order, for a download that then reads the rows a
/// page at a time ([`follow_ups_by_id`]).
pub async fn ledger_keys(pool: &AnyPool, community_id: i64, f: &LedgerFilter) -> Result<Vec<i64>, sqlx::Error> {
    let from = super::sheet::from_of(FOLLOW_UP_SELECT);
    sqlx::query_scalar(&format!("SELECT f.id {from} {LEDGER_WHERE} ORDER BY {}", ledger_order(f)))
        .bind(community_id)
        .bind(f.from)
        .bind(f.to)
        .fetch_all(pool)
        .await
}

/// A community's follow-ups by id, in the order of `ids` (a page of [`ledger_keys`]).
/// The unary `+` keeps SQLite on the primary key rather than on the community's index.
pub async fn follow_ups_by_id(pool: &AnyPool, community_id: i64, ids: &[i64]) -> Result<Vec<FollowUp>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql =
        format!("{FOLLOW_UP_SELECT} WHERE +f.community_id = $1 AND f.id IN ({})", super::sheet::params(2, ids.len()));
    let mut q = sqlx::query_as(&sql).bind(community_id);
    for id in ids {
        q = q.bind(*id);
    }
    let rows: Vec<FollowUp> = q.fetch_all(pool).await?;
    Ok(super::sheet::in_order(ids, rows, |f| f.id))
}

/// A community's follow-up tasks created in `[from, to)` (R-FU-2): recorded by phone,
/// recorded in all, and all of them (recorded or still to do).
pub async fn share<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    community_id: i64,
    from: i64,
    to: i64,
) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN method = 'phone' AND recorded_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN recorded_at IS NOT NULL THEN 1 ELSE 0 END), 0), COUNT(*) FROM follow_ups \
         WHERE community_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(community_id)
    .bind(from)
    .bind(to)
    .fetch_one(ex)
    .await
}

/// What the visitor records.
#[derive(Debug, Clone)]
pub struct RecordRow<'a> {
    pub method: &'a str,
    pub outcome: &'a str,
    pub content: &'a str,
    pub contacted_at: i64,
    pub signer: &'a str,
    pub signature_id: Option<i64>,
    pub by: i64,
}

pub async fn record(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    r: &RecordRow<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE follow_ups SET state = 'done', method = $1, outcome = $2, content = $3, contacted_at = $4, signer = $5, \
         signature_id = $6, over_cap = 0, recorded_by = $7, recorded_at = $8, version = version + 1 \
         WHERE id = $9 AND version = $10 AND state = 'pending'",
    )
    .bind(r.method)
    .bind(r.outcome)
    .bind(r.content)
    .bind(r.contacted_at)
    .bind(r.signer)
    .bind(r.signature_id)
    .bind(r.by)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn review(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    remarks: &str,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE follow_ups SET state = 'reviewed', remarks = $1, reviewed_by = $2, reviewed_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5 AND state = 'done'",
    )
    .bind(remarks)
    .bind(by)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn reassign(tx: &mut AnyConnection, id: i64, version: i64, to: i64) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE follow_ups SET assigned_to = $1, overdue_notified_at = NULL, version = version + 1 \
         WHERE id = $2 AND version = $3 AND state = 'pending'",
    )
    .bind(to);
    super::update_at_version(tx, q, id, version).await
}

/// Pending tasks past their time limit whose assignee has not been told yet.
pub async fn overdue(pool: &AnyPool, now: i64, limit: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, community_id FROM follow_ups WHERE state = 'pending' AND due_at < $1 \
         AND overdue_notified_at IS NULL ORDER BY due_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Mark an overdue task told; false when another process already did.
pub async fn claim_overdue(tx: &mut AnyConnection, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE follow_ups SET overdue_notified_at = $1 WHERE id = $2 AND overdue_notified_at IS NULL AND state = 'pending'",
    )
    .bind(now)
    .bind(id);
    super::changed_one(tx, q).await
}

// ---- corrective actions ----

/// A nonconformity / corrective and preventive action report (R-FU-4).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Capa {
    pub id: i64,
    pub community_id: i64,
    pub follow_up_id: i64,
    pub sheet_id: i64,
    pub number: String,
    pub nonconformity: String,
    pub state: String,
    pub cause: String,
    pub action: String,
    pub responsible_id: Option<i64>,
    pub responsible_name: Option<String>,
    pub due_at: Option<i64>,
    pub planned_by_name: Option<String>,
    pub planned_at: Option<i64>,
    /// How many plans were set (a failed verification asks for another).
    pub rounds: i64,
    pub implemented_note: String,
    pub implemented_at: Option<i64>,
    pub verify_note: String,
    pub verified_by_name: Option<String>,
    pub verified_at: Option<i64>,
    pub created_at: Option<i64>,
    pub version: i64,
}

const CAPA_SELECT: &str = "SELECT c.id, c.community_id, c.follow_up_id, c.sheet_id, s.number, c.nonconformity, c.state, \
     c.cause, c.action, c.responsible_id, r.display_name AS responsible_name, c.due_at, p.display_name AS planned_by_name, \
     c.planned_at, c.rounds, c.implemented_note, c.implemented_at, c.verify_note, v.display_name AS verified_by_name, \
     c.verified_at, c.created_at, c.version \
     FROM capas c JOIN sheets s ON s.id = c.sheet_id LEFT JOIN users r ON r.id = c.responsible_id \
     LEFT JOIN users p ON p.id = c.planned_by LEFT JOIN users v ON v.id = c.verified_by";

pub async fn insert_capa(
    tx: &mut AnyConnection,
    community_id: i64,
    follow_up_id: i64,
    sheet_id: i64,
    nonconformity: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO capas (community_id, follow_up_id, sheet_id, nonconformity, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(community_id)
    .bind(follow_up_id)
    .bind(sheet_id)
    .bind(nonconformity)
    .bind(now)
    .fetch_one(tx)
    .await
}

pub async fn capa<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<Capa>, sqlx::Error> {
    sqlx::query_as(&format!("{CAPA_SELECT} WHERE c.id = $1")).bind(id).fetch_optional(ex).await
}

/// A community's reports: the open ones (oldest first), or all of them (newest first).
pub async fn capas(pool: &AnyPool, community_id: i64, open_only: bool, limit: i64) -> Result<Vec<Capa>, sqlx::Error> {
    let sql = if open_only {
        format!(
            "{CAPA_SELECT} WHERE c.community_id = $1 AND c.state <> 'verified' ORDER BY c.created_at, c.id LIMIT $2"
        )
    } else {
        format!("{CAPA_SELECT} WHERE c.community_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT $2")
    };
    sqlx::query_as(&sql).bind(community_id).bind(limit).fetch_all(pool).await
}

#[allow(clippy::too_many_arguments)]
pub async fn plan_capa(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    cause: &str,
    action: &str,
    responsible: i64,
    due_at: i64,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE capas SET state = 'planned', cause = $1, action = $2, responsible_id = $3, due_at = $4, planned_by = $5, \
         planned_at = $6, rounds = rounds + 1, implemented_note = '', implemented_by = NULL, implemented_at = NULL, \
         version = version + 1 WHERE id = $7 AND version = $8",
    )
    .bind(cause)
    .bind(action)
    .bind(responsible)
    .bind(due_at)
    .bind(by)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn implement_capa(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    note: &str,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE capas SET state = 'implemented', implemented_note = $1, implemented_by = $2, implemented_at = $3, \
         version = version + 1 WHERE id = $4 AND version = $5",
    )
    .bind(note)
    .bind(by)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

/// Record the verification: `state` is `verified`, or `planned` again when the action
/// did not work.
pub async fn verify_capa(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    state: &str,
    note: &str,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE capas SET state = $1, verify_note = $2, verified_by = $3, verified_at = $4, version = version + 1 \
         WHERE id = $5 AND version = $6",
    )
    .bind(state)
    .bind(note)
    .bind(by)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

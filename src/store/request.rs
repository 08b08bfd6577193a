//! The flows' projection (`requests`), their settings, the price list, the knowledge base
//! and the flows' timers.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};

/// The flow part of one sheet, as the board, the technician's day and the ledgers read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    pub sheet_id: i64,
    pub community_id: i64,
    pub kind: String,
    pub unit_id: Option<i64>,
    pub opened_at: i64,
    pub closed: bool,
    pub category: Option<String>,
    pub class: Option<String>,
    pub class_rank: Option<i64>,
    pub source: Option<String>,
    pub technician_id: Option<i64>,
    pub assigned_at: Option<i64>,
    pub appointment_at: Option<i64>,
    pub arrival_due_at: Option<i64>,
    pub arrived_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub slip_due_at: Option<i64>,
    pub slip_returned_at: Option<i64>,
    pub charge_fen: Option<i64>,
    pub charge_state: &'static str,
    pub against: Option<String>,
    pub against_department_id: Option<i64>,
    pub valid: Option<bool>,
    pub route: Option<&'static str>,
    pub routed_department_id: Option<i64>,
    pub deadline_at: Option<i64>,
    pub flag: Option<String>,
    pub solution_at: Option<i64>,
    pub progress_count: i64,
    pub last_progress_at: Option<i64>,
    pub promised_by_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub escalated_to: Option<i64>,
    pub analysed_at: Option<i64>,
    pub to_director: bool,
    pub replied_at: Option<i64>,
    pub replied_by: Option<i64>,
}

pub(super) const COLUMNS: &str = "sheet_id, community_id, kind, unit_id, opened_at, closed, category, class, class_rank, source, \
     technician_id, assigned_at, appointment_at, arrival_due_at, arrived_at, completed_at, slip_due_at, slip_returned_at, \
     charge_fen, charge_state, against, against_department_id, valid, route, routed_department_id, deadline_at, flag, \
     solution_at, progress_count, last_progress_at, promised_by_at, answered_at, escalated_to, analysed_at, to_director, \
     replied_at, replied_by, updated_at";

/// Write the flow projection of a sheet (insert or replace), in the event's transaction.
pub async fn save(tx: &mut AnyConnection, p: &Projection, now: i64) -> Result<(), sqlx::Error> {
    let cols: Vec<&str> = COLUMNS.split(',').map(str::trim).collect();
    let placeholders = (1..=cols.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let updates = cols[1..].iter().map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "INSERT INTO requests ({COLUMNS}) VALUES ({placeholders}) ON CONFLICT (sheet_id) DO UPDATE SET {updates}"
    );
    sqlx::query(&sql)
        .bind(p.sheet_id)
        .bind(p.community_id)
        .bind(p.kind.as_str())
        .bind(p.unit_id)
        .bind(p.opened_at)
        .bind(super::flag(p.closed))
        .bind(p.category.as_deref())
        .bind(p.class.as_deref())
        .bind(p.class_rank)
        .bind(p.source.as_deref())
        .bind(p.technician_id)
        .bind(p.assigned_at)
        .bind(p.appointment_at)
        .bind(p.arrival_due_at)
        .bind(p.arrived_at)
        .bind(p.completed_at)
        .bind(p.slip_due_at)
        .bind(p.slip_returned_at)
        .bind(p.charge_fen)
        .bind(p.charge_state)
        .bind(p.against.as_deref())
        .bind(p.against_department_id)
        .bind(p.valid.map(super::flag))
        .bind(p.route)
        .bind(p.routed_department_id)
        .bind(p.deadline_at)
        .bind(p.flag.as_deref())
        .bind(p.solution_at)
        .bind(p.progress_count)
        .bind(p.last_progress_at)
        .bind(p.promised_by_at)
        .bind(p.answered_at)
        .bind(p.escalated_to)
        .bind(p.analysed_at)
        .bind(super::flag(p.to_director))
        .bind(p.replied_at)
        .bind(p.replied_by)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}

/// A sheet with its flow part, as the board, the day view and the ledgers list it.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub sheet_id: i64,
    pub community_id: i64,
    pub number: String,
    pub kind: String,
    pub state: String,
    pub room_no: Option<String>,
    pub requester_name: String,
    pub requester_phone_masked: String,
    pub reason: String,
    pub first_contact_name: String,
    pub registered_at: i64,
    pub collected_at: Option<i64>,
    pub category: Option<String>,
    pub class: Option<String>,
    pub source: Option<String>,
    pub technician_id: Option<i64>,
    pub technician_name: Option<String>,
    pub appointment_at: Option<i64>,
    pub arrival_due_at: Option<i64>,
    pub arrived_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub slip_due_at: Option<i64>,
    pub slip_returned_at: Option<i64>,
    pub charge_fen: Option<i64>,
    pub charge_state: String,
    pub against: Option<String>,
    pub valid: Option<i64>,
    pub route: Option<String>,
    pub routed_department_name: Option<String>,
    pub deadline_at: Option<i64>,
    pub flag: Option<String>,
    pub solution_at: Option<i64>,
    pub progress_count: i64,
    pub last_progress_at: Option<i64>,
    pub promised_by_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub analysed_at: Option<i64>,
    pub to_director: i64,
    pub replied_at: Option<i64>,
    /// The sheet's version, for acting on it from a list.
    pub version: i64,
}

const JOB_SELECT: &str = "SELECT r.sheet_id, r.community_id, s.number, r.kind, s.state, u.room_no, s.requester_name, \
     s.requester_phone_masked, s.reason, f.display_name AS first_contact_name, s.registered_at, s.collected_at, \
     r.category, r.class, r.source, r.technician_id, t.display_name AS technician_name, r.appointment_at, \
     r.arrival_due_at, r.arrived_at, r.completed_at, r.slip_due_at, r.slip_returned_at, r.charge_fen, r.charge_state, \
     r.against, r.valid, r.route, d.name AS routed_department_name, r.deadline_at, r.flag, r.solution_at, \
     r.progress_count, r.last_progress_at, r.promised_by_at, r.answered_at, r.analysed_at, r.to_director, r.replied_at, \
     s.version \
     FROM requests r JOIN sheets s ON s.id = r.sheet_id LEFT JOIN units u ON u.id = s.unit_id \
     JOIN users f ON f.id = s.first_contact_id LEFT JOIN users t ON t.id = r.technician_id \
     LEFT JOIN departments d ON d.id = r.routed_department_id";

/// A repair as the dispatcher's board, the late list and a technician's day list it: the
/// sheet and the repair's own part, without the columns of the other flows (a list row
/// costs per column, and these two views are the busiest).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Repair {
    pub sheet_id: i64,
    pub community_id: i64,
    pub number: String,
    pub kind: String,
    pub state: String,
    pub room_no: Option<String>,
    pub requester_name: String,
    pub requester_phone_masked: String,
    pub reason: String,
    pub first_contact_name: String,
    pub registered_at: i64,
    pub category: Option<String>,
    pub class: Option<String>,
    pub source: Option<String>,
    pub technician_id: Option<i64>,
    pub technician_name: Option<String>,
    pub appointment_at: Option<i64>,
    pub arrival_due_at: Option<i64>,
    pub arrived_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub slip_due_at: Option<i64>,
    pub charge_fen: Option<i64>,
    pub charge_state: String,
    /// The sheet's version, for acting on it from a list.
    pub version: i64,
}

/// The select of [`Repair`]: a repair is never routed to a department, so the departments
/// join is left out too.
const REPAIR_SELECT: &str = "SELECT r.sheet_id, r.community_id, s.number, r.kind, s.state, u.room_no, s.requester_name, \
     s.requester_phone_masked, s.reason, f.display_name AS first_contact_name, s.registered_at, r.category, r.class, \
     r.source, r.technician_id, t.display_name AS technician_name, r.appointment_at, r.arrival_due_at, r.arrived_at, \
     r.completed_at, r.slip_due_at, r.charge_fen, r.charge_state, s.version \
     FROM requests r JOIN sheets s ON s.id = r.sheet_id LEFT JOIN units u ON u.id = s.unit_id \
     JOIN users f ON f.id = s.first_contact_id LEFT JOIN users t ON t.id = r.technician_id";

pub async fn job(pool: &AnyPool, sheet_id: i64) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(&format!("{JOB_SELECT} WHERE r.sheet_id = $1")).bind(sheet_id).fetch_optional(pool).await
}

/// A page of the board with how many wait in all.
#[derive(FromRow)]
struct BoardRow {
    #[sqlx(flatten)]
    repair: Repair,
    total: i64,
}

/// The dispatcher's board: open repairs without a technician, most urgent class first,
/// then oldest (R-REP-2), and how many wait in all. Written as the partial index
/// `requests_board` states it; the count is a scalar subquery of the same statement (run
/// once, from the same index), so the page and its total come from one snapshot.
pub async fn board(
    pool: &AnyPool,
    community_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Repair>, i64), sqlx::Error> {
    let select = REPAIR_SELECT.replacen(
        " FROM requests r ",
        ", (SELECT COUNT(*) FROM requests b WHERE b.community_id = $1 AND b.class_rank IS NOT NULL \
           AND b.technician_id IS NULL AND b.closed = 0) AS total FROM requests r ",
        1,
    );
    let rows: Vec<BoardRow> = sqlx::query_as(&format!(
        "{select} WHERE r.community_id = $1 AND r.class_rank IS NOT NULL AND r.technician_id IS NULL AND r.closed = 0 \
         ORDER BY r.class_rank, r.opened_at, r.sheet_id LIMIT $2 OFFSET $3"
    ))
    .bind(community_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = match rows.first() {
        Some(r) => r.total,
        None if offset == 0 => 0,
        None => board_count(pool, community_id).await?,
    };
    Ok((rows.into_iter().map(|r| r.repair).collect(), total))
}

/// How many repairs wait on the board (read from the same partial index).
async fn board_count(pool: &AnyPool, community_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests r WHERE r.community_id = $1 AND r.class_rank IS NOT NULL \
         AND r.technician_id IS NULL AND r.closed = 0",
    )
    .bind(community_id)
    .fetch_one(pool)
    .await
}

/// Assigned, not yet arrived or completed, and late (shown on the board, R-REP-3).
/// The page's rows are chosen first from `requests_tech_open` alone (the community's
/// technicians, late ones only: arrival and community are in the index), and only those
/// are joined to their sheets and names; joining every late job of the community before
/// the sort cost twice as much. The unary `+` keeps SQLite, which has no statistics, off
/// `requests_ledger`, where it walked every flow row of the community.
pub async fn late_open(pool: &AnyPool, community_id: i64, now: i64, limit: i64) -> Result<Vec<Repair>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{REPAIR_SELECT} WHERE r.sheet_id IN (SELECT l.sheet_id FROM requests l WHERE l.technician_id IN \
           (SELECT ur.user_id FROM user_roles ur WHERE ur.community_id = $1 AND ur.role = 'technician') \
           AND l.technician_id IS NOT NULL AND l.completed_at IS NULL AND l.closed = 0 \
           AND l.arrived_at IS NULL AND l.arrival_due_at < $2 AND +l.community_id = $1 \
           ORDER BY l.arrival_due_at, l.sheet_id LIMIT $3) \
         ORDER BY r.arrival_due_at, r.sheet_id"
    ))
    .bind(community_id)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A technician on the board: open jobs and today's appointments.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct TechnicianLoad {
    pub user_id: i64,
    pub display_name: String,
    pub open_jobs: i64,
    pub appointments_today: i64,
    /// The next appointment today, if any.
    pub next_appointment_at: Option<i64>,
}

pub async fn technician_loads(
    pool: &AnyPool,
    backend: super::Backend,
    community_id: i64,
    day_start: i64,
    day_end: i64,
) -> Result<Vec<TechnicianLoad>, sqlx::Error> {
    // Each backend its measured best (docs/benchmarks.md, run 10): SQLite answers the three
    // counts per technician from the partial index requests_tech_open alone, and reads
    // table rows for the grouped join (0.3 against 2.6 ms); PostgreSQL takes one grouped
    // pass over each technician's open jobs.
    let sql = match backend {
        super::Backend::Sqlite => {
            "SELECT u.id AS user_id, u.display_name, \
             (SELECT COUNT(*) FROM requests r WHERE r.technician_id = u.id AND r.completed_at IS NULL AND r.closed = 0) AS open_jobs, \
             (SELECT COUNT(*) FROM requests r WHERE r.technician_id = u.id AND r.completed_at IS NULL AND r.closed = 0 \
                AND r.appointment_at >= $2 AND r.appointment_at < $3) AS appointments_today, \
             (SELECT MIN(r.appointment_at) FROM requests r WHERE r.technician_id = u.id AND r.completed_at IS NULL \
                AND r.closed = 0 AND r.appointment_at >= $2 AND r.appointment_at < $3) AS next_appointment_at \
             FROM users u WHERE u.active = 1 AND u.id IN (SELECT ur.user_id FROM user_roles ur \
                WHERE ur.community_id = $1 AND ur.role = 'technician') ORDER BY u.display_name, u.id"
        }
        super::Backend::Postgres => {
            "SELECT u.id AS user_id, u.display_name, COUNT(r.sheet_id) AS open_jobs, \
             CAST(COALESCE(SUM(CASE WHEN r.appointment_at >= $2 AND r.appointment_at < $3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS appointments_today, \
             MIN(CASE WHEN r.appointment_at >= $2 AND r.appointment_at < $3 THEN r.appointment_at END) AS next_appointment_at \
             FROM users u LEFT JOIN requests r ON r.technician_id = u.id AND r.completed_at IS NULL AND r.closed = 0 \
             WHERE u.active = 1 AND u.id IN (SELECT ur.user_id FROM user_roles ur WHERE ur.community_id = $1 AND ur.role = 'technician') \
             GROUP BY u.id, u.display_name ORDER BY u.display_name, u.id"
        }
    };
    sqlx::query_as(sql).bind(community_id).bind(day_start).bind(day_end).fetch_all(pool).await
}

/// A technician's day: open jobs soonest due first, then what was completed today.
pub async fn technician_day(
    pool: &AnyPool,
    community_id: i64,
    technician_id: i64,
    day_start: i64,
    limit: i64,
) -> Result<(Vec<Repair>, Vec<Repair>), sqlx::Error> {
    let open = sqlx::query_as(&format!(
        "{REPAIR_SELECT} WHERE r.technician_id = $1 AND r.completed_at IS NULL AND r.closed = 0 AND r.community_id = $3 \
         ORDER BY r.arrival_due_at IS NULL, r.arrival_due_at, r.sheet_id LIMIT $2"
    ))
    .bind(technician_id)
    .bind(limit)
    .bind(community_id)
    .fetch_all(pool)
    .await?;
    let done = sqlx::query_as(&format!(
        "{REPAIR_SELECT} WHERE r.technician_id = $1 AND r.completed_at IS NOT NULL AND r.completed_at >= $2 \
         AND r.community_id = $4 ORDER BY r.completed_at DESC LIMIT $3"
    ))
    .bind(technician_id)
    .bind(day_start)
    .bind(limit)
    .bind(community_id)
    .fetch_all(pool)
    .await?;
    Ok((open, done))
}

/// Which ledger, and its filter.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Complaint ledger: only flagged (serious or repeated) complaints.
    pub flagged_only: bool,
    /// Only late arrivals, late slips and missed promises.
    pub late_only: bool,
    /// Only paid work (quoted or confirmed charges).
    pub charges_only: bool,
    /// A column of [`LEDGER_SORTS`]; any other value keeps the ledger's own order.
    pub sort: Option<String>,
    pub desc: bool,
    pub now: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The columns the flows' ledgers can be sorted by, and their SQL.
pub const LEDGER_SORTS: &[(&str, &str)] = &[
    ("number", "s.number"),
    ("registered_at", "s.registered_at"),
    ("room", "u.room_no"),
    ("requester", "s.requester_name"),
    ("reason", "s.reason"),
    ("category", "r.category"),
    ("class", "r.class"),
    ("source", "r.source"),
    ("technician", "t.display_name"),
    ("arrival_due", "r.arrival_due_at"),
    ("arrived_at", "r.arrived_at"),
    ("completed_at", "r.completed_at"),
    ("slip_returned_at", "r.slip_returned_at"),
    ("charge", "r.charge_fen"),
    ("charge_state", "r.charge_state"),
    ("against", "r.against"),
    ("flag", "r.flag"),
    ("judgement", "r.valid"),
    ("deadline", "r.deadline_at"),
    ("progress", "r.progress_count"),
    ("solution_at", "r.solution_at"),
    ("analysed_at", "r.analysed_at"),
    ("to_director", "r.to_director"),
    ("replied_at", "r.replied_at"),
    ("promised_by", "r.promised_by_at"),
    ("answered_at", "r.answered_at"),
    ("state", "s.state"),
];

/// The WHERE and ORDER BY of a ledger: `$1` community, `$2`/`$3` opened from/before,
/// `$4` now.
fn ledger_sql(kinds: &[&str], f: &LedgerFilter) -> String {
    let kinds = kinds.iter().map(|k| format!("'{}'", k.replace('\'', ""))).collect::<Vec<_>>().join(",");
    let mut cond = format!("r.community_id = $1 AND r.kind IN ({kinds}) AND r.opened_at >= $2 AND r.opened_at < $3");
    if f.flagged_only {
        cond.push_str(" AND r.flag IS NOT NULL");
    }
    if f.charges_only {
        cond.push_str(" AND r.charge_state <> 'none'");
    }
    if f.late_only {
        cond.push_str(
            " AND ((r.arrival_due_at IS NOT NULL AND COALESCE(r.arrived_at, $4) > r.arrival_due_at) \
             OR (r.promised_by_at IS NOT NULL AND COALESCE(r.answered_at, $4) > r.promised_by_at) \
             OR (r.slip_due_at IS NOT NULL AND COALESCE(r.slip_returned_at, $4) > r.slip_due_at))",
        );
    } else {
        cond.push_str(" AND $4 = $4");
    }
    let order = super::sheet::ledger_order(
        LEDGER_SORTS,
        f.sort.as_deref(),
        f.desc,
        "r.sheet_id DESC",
        "r.opened_at DESC, r.sheet_id DESC",
    );
    format!("WHERE {cond} ORDER BY {order}")
}

/// A ledger of one flow: repairs (业主报修反映台帐), complaints (业主意见投诉台帐),
/// suggestions (住户意见建议台帐) or inquiries, newest first.
pub async fn ledger(
    pool: &AnyPool,
    community_id: i64,
    kinds: &[&str],
    f: &LedgerFilter,
) -> Result<Vec<Job>, sqlx::Error> {
    sqlx::query_as(&format!("{JOB_SELECT} {} LIMIT $5 OFFSET $6", ledger_sql(kinds, f)))
        .bind(community_id)
        .bind(f.from_ms.unwrap_or(0))
        .bind(f.to_ms.unwrap_or(i64::MAX / 2))
        .bind(f.now)
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(pool)
        .await
}

/// A whole ledger's sheets, in its order, for a download: one query that carries no
/// columns (8 bytes a row), after which [`jobs`] reads the rows a page at a time. Paging
/// the ledger itself would sort every row with all its columns again for each page.
pub async fn ledger_keys(
    pool: &AnyPool,
    community_id: i64,
    kinds: &[&str],
    f: &LedgerFilter,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT r.sheet_id {} {}", super::sheet::from_of(JOB_SELECT), ledger_sql(kinds, f)))
        .bind(community_id)
        .bind(f.from_ms.unwrap_or(0))
        .bind(f.to_ms.unwrap_or(i64::MAX / 2))
        .bind(f.now)
        .fetch_all(pool)
        .await
}

/// A community's flow rows by sheet, in the order of `ids` (a page of [`ledger_keys`]).
/// The unary `+` keeps SQLite on the primary key: on the community's ledger index it would
/// walk every row of the community for each page.
pub async fn jobs(pool: &AnyPool, community_id: i64, ids: &[i64]) -> Result<Vec<Job>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql =
        format!("{JOB_SELECT} WHERE +r.community_id = $1 AND r.sheet_id IN ({})", super::sheet::params(2, ids.len()));
    let mut q = sqlx::query_as(&sql).bind(community_id);
    for id in ids {
        q = q.bind(*id);
    }
    let rows: Vec<Job> = q.fetch_all(pool).await?;
    Ok(super::sheet::in_order(ids, rows, |j| j.sheet_id))
}

/// Open flow sheets of a community: (sheet id, unit id).
pub async fn open_flow_sheets(pool: &AnyPool, community_id: i64) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
    let rows = sqlx::query("SELECT sheet_id, unit_id FROM requests WHERE community_id = $1 AND closed = 0")
        .bind(community_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Complaints about the same unit and category since `since` (R-CMP-5), this one excluded.
pub async fn earlier_complaints(
    conn: &mut AnyConnection,
    unit_id: i64,
    category: &str,
    since: i64,
    except: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests WHERE kind = 'complaint' AND unit_id = $1 AND category = $2 \
         AND opened_at >= $3 AND sheet_id <> $4",
    )
    .bind(unit_id)
    .bind(category)
    .bind(since)
    .bind(except)
    .fetch_one(conn)
    .await
}

// ---- settings ----

/// A community's rules of the flows.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = RequestSettings)]
pub struct Settings {
    pub emergency_min: i64,
    pub simple_min: i64,
    pub general_min: i64,
    /// The repair slip is back with customer service within this many hours (R-REP-5).
    pub slip_hours: i64,
    /// A complaint is repeated when the unit had this many complaints of its category …
    pub repeat_count: i64,
    /// … within this many days (R-CMP-5).
    pub repeat_days: i64,
    /// Remind the complaint's owner to report progress this often while unresolved (R-CMP-6).
    pub progress_hours: i64,
    /// Remind the desk this many minutes before a promised reply is due (R-RECV-2).
    pub promise_warn_min: i64,
    /// The apology the receptionist offers on receipt of a complaint (R-CMP-1).
    pub apology: String,
    pub version: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            emergency_min: 15,
            simple_min: 20,
            general_min: 60,
            slip_hours: 24,
            repeat_count: 2,
            repeat_days: 90,
            progress_hours: 48,
            promise_warn_min: 60,
            apology: String::new(),
            version: 0,
        }
    }
}

/// A community's rules, from the pool or inside a transaction.
pub async fn settings<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    community_id: i64,
) -> Result<Settings, sqlx::Error> {
    let row: Option<Settings> = sqlx::query_as(
        "SELECT emergency_min, simple_min, general_min, slip_hours, repeat_count, repeat_days, progress_hours, \
         promise_warn_min, apology, version FROM request_settings WHERE community_id = $1",
    )
    .bind(community_id)
    .fetch_optional(ex)
    .await?;
    Ok(row.unwrap_or_default())
}

/// Save the settings if nobody changed them since `version` (0: none saved yet).
pub async fn save_settings(
    tx: &mut AnyConnection,
    community_id: i64,
    s: &Settings,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = if s.version == 0 {
        sqlx::query(
            "INSERT INTO request_settings (community_id, emergency_min, simple_min, general_min, slip_hours, \
             repeat_count, repeat_days, progress_hours, promise_warn_min, apology, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (community_id) DO NOTHING",
        )
        .bind(community_id)
    } else {
        sqlx::query(
            "UPDATE request_settings SET emergency_min = $2, simple_min = $3, general_min = $4, slip_hours = $5, \
             repeat_count = $6, repeat_days = $7, progress_hours = $8, promise_warn_min = $9, apology = $10, \
             updated_at = $11, version = version + 1 WHERE community_id = $1 AND version = $12",
        )
        .bind(community_id)
    };
    let q = r
        .bind(s.emergency_min)
        .bind(s.simple_min)
        .bind(s.general_min)
        .bind(s.slip_hours)
        .bind(s.repeat_count)
        .bind(s.repeat_days)
        .bind(s.progress_hours)
        .bind(s.promise_warn_min)
        .bind(s.apology.as_str())
        .bind(now);
    let q = if s.version == 0 { q } else { q.bind(s.version) };
    super::changed_one(tx, q).await
}

// ---- price list ----

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, utoipa::ToSchema)]
pub struct PriceItem {
    pub id: i64,
    pub community_id: i64,
    pub name: String,
    pub unit: String,
    /// `labour` or `material`.
    pub item_kind: String,
    pub price_fen: i64,
    pub active: i64,
    pub version: i64,
}

pub async fn price_items(pool: &AnyPool, community_id: i64, active_only: bool) -> Result<Vec<PriceItem>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, community_id, name, unit, item_kind, price_fen, active, version FROM price_items \
         WHERE community_id = $1 AND (active = 1 OR $2 = 0) ORDER BY item_kind, name",
    )
    .bind(community_id)
    .bind(super::flag(active_only))
    .fetch_all(pool)
    .await
}

pub async fn price_item(pool: &AnyPool, id: i64) -> Result<Option<PriceItem>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, community_id, name, unit, item_kind, price_fen, active, version FROM price_items WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn insert_price_item(
    tx: &mut AnyConnection,
    community_id: i64,
    name: &str,
    unit: &str,
    item_kind: &str,
    price_fen: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO price_items (community_id, name, unit, item_kind, price_fen, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(community_id)
    .bind(name)
    .bind(unit)
    .bind(item_kind)
    .bind(price_fen)
    .bind(now)
    .fetch_one(tx)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn update_price_item(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    name: &str,
    unit: &str,
    item_kind: &str,
    price_fen: i64,
    active: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE price_items SET name = $1, unit = $2, item_kind = $3, price_fen = $4, active = $5, updated_at = $6, \
         version = version + 1 WHERE id = $7 AND version = $8",
    )
    .bind(name)
    .bind(unit)
    .bind(item_kind)
    .bind(price_fen)
    .bind(super::flag(active))
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

// ---- knowledge base ----

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, utoipa::ToSchema)]
pub struct Article {
    pub id: i64,
    pub community_id: i64,
    pub title: String,
    pub answer: String,
    /// The regulation or document the answer rests on.
    pub basis: String,
    pub active: i64,
    pub version: i64,
}

pub async fn articles(pool: &AnyPool, community_id: i64, active_only: bool) -> Result<Vec<Article>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, community_id, title, answer, basis, active, version FROM kb_articles \
         WHERE community_id = $1 AND (active = 1 OR $2 = 0) ORDER BY title, id",
    )
    .bind(community_id)
    .bind(super::flag(active_only))
    .fetch_all(pool)
    .await
}

pub async fn article(pool: &AnyPool, id: i64) -> Result<Option<Article>, sqlx::Error> {
    sqlx::query_as("SELECT id, community_id, title, answer, basis, active, version FROM kb_articles WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn insert_article(
    tx: &mut AnyConnection,
    community_id: i64,
    title: &str,
    answer: &str,
    basis: &str,
    by: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO kb_articles (community_id, title, answer, basis, created_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(community_id)
    .bind(title)
    .bind(answer)
    .bind(basis)
    .bind(by)
    .bind(now)
    .fetch_one(tx)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn update_article(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    title: &str,
    answer: &str,
    basis: &str,
    active: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE kb_articles SET title = $1, answer = $2, basis = $3, active = $4, updated_at = $5, \
         version = version + 1 WHERE id = $6 AND version = $7",
    )
    .bind(title)
    .bind(answer)
    .bind(basis)
    .bind(super::flag(active))
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

// ---- quick registrations ----

/// A community's quick registration (常用登记): what it fills in on the registration form.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, utoipa::ToSchema)]
pub struct Preset {
    pub id: i64,
    pub community_id: i64,
    /// The button's words (漏水, 下水道堵塞 …).
    pub title: String,
    pub kind: String,
    /// Empty: the form keeps its channel.
    pub channel: String,
    pub reason: String,
    /// A repair's category; empty for other kinds.
    pub repair_category: String,
    /// For an inquiry: the knowledge-base article whose answer it gives at once.
    pub article_id: Option<i64>,
    /// Order among the community's quick registrations, smallest first.
    pub position: i64,
    pub active: i64,
    pub version: i64,
}

const PRESET_COLUMNS: &str =
    "id, community_id, title, kind, channel, reason, repair_category, article_id, ordinal AS position, active, version";

pub async fn presets(pool: &AnyPool, community_id: i64, active_only: bool) -> Result<Vec<Preset>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PRESET_COLUMNS} FROM sheet_presets WHERE community_id = $1 AND (active = 1 OR $2 = 0) \
         ORDER BY ordinal, id"
    ))
    .bind(community_id)
    .bind(super::flag(active_only))
    .fetch_all(pool)
    .await
}

pub async fn preset(pool: &AnyPool, id: i64) -> Result<Option<Preset>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PRESET_COLUMNS} FROM sheet_presets WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A quick registration's contents, as written.
pub struct PresetFields<'a> {
    pub title: &'a str,
    pub kind: &'a str,
    pub channel: &'a str,
    pub reason: &'a str,
    pub repair_category: &'a str,
    pub article_id: Option<i64>,
    pub position: i64,
    pub active: bool,
}

pub async fn insert_preset(
    tx: &mut AnyConnection,
    community_id: i64,
    p: &PresetFields<'_>,
    by: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sheet_presets (community_id, title, kind, channel, reason, repair_category, article_id, ordinal, \
         active, created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(community_id)
    .bind(p.title)
    .bind(p.kind)
    .bind(p.channel)
    .bind(p.reason)
    .bind(p.repair_category)
    .bind(p.article_id)
    .bind(p.position)
    .bind(super::flag(p.active))
    .bind(by)
    .bind(now)
    .fetch_one(tx)
    .await
}

pub async fn update_preset(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    p: &PresetFields<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE sheet_presets SET title = $1, kind = $2, channel = $3, reason = $4, repair_category = $5, \
         article_id = $6, ordinal = $7, active = $8, updated_at = $9, version = version + 1 WHERE id = $10 AND version = $11",
    )
    .bind(p.title)
    .bind(p.kind)
    .bind(p.channel)
    .bind(p.reason)
    .bind(p.repair_category)
    .bind(p.article_id)
    .bind(p.position)
    .bind(super::flag(p.active))
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

// ---- timers ----

/// Make the sheet's pending timers exactly `timers` (name, due): ones already sent stay sent;
/// `fresh` for a sheet registered in this transaction.
pub async fn sync_timers(
    tx: &mut AnyConnection,
    community_id: i64,
    sheet_id: i64,
    timers: &[(&str, i64)],
    fresh: bool,
) -> Result<(), sqlx::Error> {
    // A sheet registered in this transaction has no timers yet.
    if !fresh {
        sqlx::query("DELETE FROM sheet_timers WHERE sheet_id = $1 AND fired_at IS NULL")
            .bind(sheet_id)
            .execute(&mut *tx)
            .await?;
    }
    for (name, due) in timers {
        sqlx::query(
            "INSERT INTO sheet_timers (sheet_id, community_id, name, due_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sheet_id, name, due_at) DO NOTHING",
        )
        .bind(sheet_id)
        .bind(community_id)
        .bind(*name)
        .bind(*due)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct DueTimer {
    pub id: i64,
    pub sheet_id: i64,
    pub community_id: i64,
    pub name: String,
    pub due_at: i64,
    pub number: String,
    pub first_contact_id: i64,
    pub technician_id: Option<i64>,
    pub escalated_to: Option<i64>,
}

/// Timers whose time has come (the partial index holds only unsent ones).
pub async fn due_timers(pool: &AnyPool, now: i64, limit: i64) -> Result<Vec<DueTimer>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.sheet_id, t.community_id, t.name, t.due_at, s.number, s.first_contact_id, r.technician_id, \
         r.escalated_to FROM sheet_timers t JOIN sheets s ON s.id = t.sheet_id \
         LEFT JOIN requests r ON r.sheet_id = t.sheet_id \
         WHERE t.fired_at IS NULL AND t.due_at <= $1 ORDER BY t.due_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Claim a timer for sending; false when another process already did.
pub async fn claim_timer(tx: &mut AnyConnection, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let q = sqlx::query("UPDATE sheet_timers SET fired_at = $1 WHERE id = $2 AND fired_at IS NULL").bind(now).bind(id);
    super::changed_one(tx, q).await
}

/// Active users holding one of `roles` in a community.
pub async fn users_with_roles(
    conn: &mut AnyConnection,
    community_id: i64,
    roles: &[&str],
) -> Result<Vec<i64>, sqlx::Error> {
    let list = roles.iter().map(|r| format!("'{}'", r.replace('\'', ""))).collect::<Vec<_>>().join(",");
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT r.user_id FROM user_roles r JOIN users u ON u.id = r.user_id \
         WHERE r.community_id = $1 AND r.role IN ({list}) AND u.active = 1 ORDER BY r.user_id"
    ))
    .bind(community_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

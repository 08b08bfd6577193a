//! Countersign sheets: the projection row, the event record, the handover ledger, the
//! number counter and attachments.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};

/// Draw the next number of a community's year. The counter row is updated in the
/// registering transaction, so the sequence has no gaps: a rolled-back registration
/// returns its number (R-SHEET-2).
pub async fn next_seq(tx: &mut AnyConnection, community_id: i64, year: i64) -> Result<i64, sqlx::Error> {
    // Both dialects share ON CONFLICT … DO UPDATE … RETURNING: the row lock serialises
    // concurrent registrations, so numbers never repeat and never skip (R-SHEET-2).
    let upsert = "INSERT INTO sheet_counters (community_id, year, last_seq) VALUES ($1, $2, 1) \
         ON CONFLICT (community_id, year) DO UPDATE SET last_seq = sheet_counters.last_seq + 1 RETURNING last_seq";
    sqlx::query_scalar(upsert).bind(community_id).bind(year).fetch_one(tx).await
}

/// A sheet as queues and pages show it.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct SheetRow {
    pub id: i64,
    pub community_id: i64,
    pub number: String,
    pub kind: String,
    pub channel: String,
    pub state: String,
    pub unit_id: Option<i64>,
    pub room_no: Option<String>,
    pub person_id: Option<i64>,
    pub requester_name: String,
    pub requester_phone_masked: String,
    pub reason: String,
    pub first_contact_id: i64,
    pub first_contact_name: String,
    pub signature_pending: i64,
    pub outcome: Option<String>,
    pub registered_at: i64,
    pub dispatched_at: Option<i64>,
    pub collected_at: Option<i64>,
    pub archived_at: Option<i64>,
    pub due_at: Option<i64>,
    pub clock_state: String,
    /// While suspended: the head's signed explanation (R-SHEET-8).
    pub suspension: String,
    pub version: i64,
}

pub(crate) const SHEET_SELECT: &str = "SELECT s.id, s.community_id, s.number, s.kind, s.channel, s.state, s.unit_id, u.room_no, s.person_id, \
     s.requester_name, s.requester_phone_masked, s.reason, s.first_contact_id, f.display_name AS first_contact_name, \
     s.signature_pending, s.outcome, s.registered_at, s.dispatched_at, s.collected_at, s.archived_at, s.due_at, \
     s.clock_state, s.suspension, s.version \
     FROM sheets s LEFT JOIN units u ON u.id = s.unit_id JOIN users f ON f.id = s.first_contact_id";

pub struct NewSheet<'a> {
    pub community_id: i64,
    pub number: &'a str,
    pub year: i64,
    pub seq: i64,
    pub kind: &'a str,
    pub channel: &'a str,
    pub unit_id: Option<i64>,
    pub person_id: Option<i64>,
    pub requester_name: &'a str,
    pub requester_phone_masked: &'a str,
    pub requester_phone_last4: &'a str,
    /// The full phone, sealed.
    pub requester_phone_enc: Option<&'a str>,
    pub reason: &'a str,
    pub first_contact_id: i64,
    pub signature_pending: bool,
    pub registered_at: i64,
    pub idempotency_key: Option<&'a str>,
}

pub async fn insert_sheet(tx: &mut AnyConnection, s: &NewSheet<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sheets (community_id, number, year, seq, kind, channel, state, unit_id, person_id, requester_name, \
         requester_phone_masked, requester_phone_last4, reason, first_contact_id, signature_pending, registered_at, \
         idempotency_key, updated_at, requester_phone_enc, building_id, registered_by) \
         VALUES ($1, $2, $3, $4, $5, $6, 'registered', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $15, $17, \
         (SELECT u.building_id FROM units u WHERE u.id = $7), $13) RETURNING id",
    )
    .bind(s.community_id)
    .bind(s.number)
    .bind(s.year)
    .bind(s.seq)
    .bind(s.kind)
    .bind(s.channel)
    .bind(s.unit_id)
    .bind(s.person_id)
    .bind(s.requester_name)
    .bind(s.requester_phone_masked)
    .bind(s.requester_phone_last4)
    .bind(s.reason)
    .bind(s.first_contact_id)
    .bind(super::flag(s.signature_pending))
    .bind(s.registered_at)
    .bind(s.idempotency_key)
    .bind(s.requester_phone_enc)
    .fetch_one(tx)
    .await
}

/// The sheet a retried registration already created.
pub async fn sheet_by_idempotency(
    conn: &mut AnyConnection,
    user_id: i64,
    key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM sheets WHERE registered_by = $1 AND idempotency_key = $2")
        .bind(user_id)
        .bind(key)
        .fetch_optional(conn)
        .await
}

/// The projection after an event: state, flags and the collection clock.
pub struct Projection<'a> {
    pub state: &'a str,
    pub first_contact_id: i64,
    pub signature_pending: bool,
    pub outcome: Option<&'a str>,
    pub dispatched_at: Option<i64>,
    pub collected_at: Option<i64>,
    pub archived_at: Option<i64>,
    pub due_at: Option<i64>,
    pub warn_at: Option<i64>,
    pub clock_state: &'a str,
    pub suspension: &'a str,
}

/// Update the projection if nobody changed the sheet since `version` was read. A new
/// deadline starts the notices over (a warning for the old one no longer counts).
pub async fn update_projection(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    p: &Projection<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE sheets SET state = $1, first_contact_id = $2, signature_pending = $3, outcome = $4, dispatched_at = $5, \
         collected_at = $6, archived_at = $7, \
         warn_at = CASE WHEN due_at = $8 AND notice_level >= 1 THEN $8 ELSE $9 END, \
         notice_level = CASE WHEN due_at IS NULL OR $8 IS NULL OR due_at <> $8 THEN 0 ELSE notice_level END, \
         due_at = $8, clock_state = $10, updated_at = $11, suspension = $14, version = version + 1 \
         WHERE id = $12 AND version = $13",
    )
    .bind(p.state)
    .bind(p.first_contact_id)
    .bind(super::flag(p.signature_pending))
    .bind(p.outcome)
    .bind(p.dispatched_at)
    .bind(p.collected_at)
    .bind(p.archived_at)
    .bind(p.due_at)
    .bind(p.warn_at)
    .bind(p.clock_state)
    .bind(now)
    .bind(id)
    .bind(version)
    .bind(p.suspension);
    super::changed_one(tx, q).await
}

pub async fn sheet(pool: &AnyPool, id: i64) -> Result<Option<SheetRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SHEET_SELECT} WHERE s.id = $1")).bind(id).fetch_optional(pool).await
}

/// A stored event.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct EventRow {
    pub seq: i64,
    pub at: i64,
    pub by_user_id: i64,
    pub by_name: String,
    pub by_role: String,
    pub name: String,
    /// The event as JSON (`{"type": "dispatched", …}`).
    pub data: String,
}

pub async fn events(conn: &mut AnyConnection, sheet_id: i64) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.seq, e.at, e.by_user_id, u.display_name AS by_name, e.by_role, e.name, e.data \
         FROM sheet_events e JOIN users u ON u.id = e.by_user_id WHERE e.sheet_id = $1 ORDER BY e.seq",
    )
    .bind(sheet_id)
    .fetch_all(conn)
    .await
}

/// Append an event to a sheet's history; returns its digest, which the audit entry
/// written in the same transaction vouches for.
#[allow(clippy::too_many_arguments)]
pub async fn insert_event(
    tx: &mut AnyConnection,
    sheet_id: i64,
    seq: i64,
    at: i64,
    by: i64,
    by_role: &str,
    name: &str,
    data: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query("INSERT INTO sheet_events (sheet_id, seq, at, by_user_id, by_role, name, data) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(sheet_id)
        .bind(seq)
        .bind(at)
        .bind(by)
        .bind(by_role)
        .bind(name)
        .bind(data)
        .execute(tx)
        .await?;
    Ok(super::audit::event_digest(sheet_id, seq, at, by, by_role, name, data))
}

/// A handover as the ledger shows it.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct HandoverRow {
    pub sheet_id: i64,
    pub number: String,
    pub no: i64,
    pub department_id: i64,
    pub department_name: String,
    pub to_user_id: Option<i64>,
    pub state: String,
    pub opinion: String,
    pub handed_over_at: i64,
    pub handed_over_by_name: String,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by_name: Option<String>,
    pub returned_at: Option<i64>,
    pub returned_by_name: Option<String>,
    pub result: String,
    pub signer: String,
    /// Customer service signed for it coming back (R-SHEET-5).
    pub received_at: Option<i64>,
    pub received_by_name: Option<String>,
}

const HANDOVER_SELECT: &str = "SELECT h.sheet_id, s.number, h.no, h.department_id, d.name AS department_name, h.to_user_id, h.state, \
     h.opinion, h.handed_over_at, hb.display_name AS handed_over_by_name, h.acknowledged_at, ab.display_name AS acknowledged_by_name, \
     h.returned_at, rb.display_name AS returned_by_name, h.result, h.signer, h.received_at, cb.display_name AS received_by_name \
     FROM sheet_handovers h JOIN sheets s ON s.id = h.sheet_id JOIN departments d ON d.id = h.department_id \
     JOIN users hb ON hb.id = h.handed_over_by LEFT JOIN users ab ON ab.id = h.acknowledged_by LEFT JOIN users rb ON rb.id = h.returned_by \
     LEFT JOIN users cb ON cb.id = h.received_by";

/// Write a handover's current state (insert or update).
pub async fn save_handover(
    tx: &mut AnyConnection,
    community_id: i64,
    sheet_id: i64,
    h: &huiqian_domain::sheet::Handover,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sheet_handovers (sheet_id, no, community_id, department_id, to_user_id, state, opinion, handed_over_at, \
         handed_over_by, acknowledged_at, acknowledged_by, returned_at, returned_by, result, signer, received_at, received_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (sheet_id, no) DO UPDATE SET state = $6, acknowledged_at = $10, acknowledged_by = $11, \
         returned_at = $12, returned_by = $13, result = $14, signer = $15, received_at = $16, received_by = $17",
    )
    .bind(sheet_id)
    .bind(i64::from(h.no))
    .bind(community_id)
    .bind(h.department)
    .bind(h.to_user)
    .bind(h.state.as_str())
    .bind(&h.opinion_sent)
    .bind(h.handed_over_at)
    .bind(h.handed_over_by)
    .bind(h.acknowledged_at)
    .bind(h.acknowledged_by)
    .bind(h.returned_at)
    .bind(h.returned_by)
    .bind(&h.result)
    .bind(&h.signer)
    .bind(h.received_at)
    .bind(h.received_by)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn handovers_of(pool: &AnyPool, sheet_id: i64) -> Result<Vec<HandoverRow>, sqlx::Error> {
    sqlx::query_as(&format!("{HANDOVER_SELECT} WHERE h.sheet_id = $1 ORDER BY h.no"))
        .bind(sheet_id)
        .fetch_all(pool)
        .await
}

/// The handover ledger of a community: newest first, optionally one department's or one
/// state's, between two instants.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub department_id: Option<i64>,
    pub state: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// A column of [`LEDGER_SORTS`]; any other value keeps the ledger's own order.
    pub sort: Option<String>,
    pub desc: bool,
    pub limit: i64,
    pub offset: i64,
}

/// The columns the handover ledger can be sorted by, and their SQL.
pub const LEDGER_SORTS: &[(&str, &str)] = &[
    ("number", "s.number"),
    ("department", "d.name"),
    ("handed_over_at", "h.handed_over_at"),
    ("handed_over_by", "hb.display_name"),
    ("acknowledged_at", "h.acknowledged_at"),
    ("acknowledged_by", "ab.display_name"),
    ("returned_at", "h.returned_at"),
    ("received_at", "h.received_at"),
    ("state", "h.state"),
];

/// The ORDER BY of a ledger (this one, the flows' and the follow-ups'): the column asked
/// for is looked up in the ledger's list, so that the asker's text never reaches the SQL;
/// empty values come last on both backends, and `then` breaks ties so that pages do not
/// overlap. Without a known column, the ledger's own order `default`.
pub fn ledger_order(columns: &[(&str, &str)], sort: Option<&str>, desc: bool, then: &str, default: &str) -> String {
    match sort.and_then(|k| columns.iter().find(|(name, _)| *name == k)) {
        Some((_, expr)) => format!("{expr} IS NULL, {expr} {}, {then}", if desc { "DESC" } else { "ASC" }),
        None => default.to_string(),
    }
}

/// The `FROM …` (with its joins) of a `SELECT … FROM …` constant: a ledger's keys are read
/// over the same joins as its rows, so that every sortable column is at hand.
pub fn from_of(select: &str) -> &str {
    select.find(" FROM ").map_or(select, |at| &select[at..])
}

/// `$first, $first+1, …`: `n` placeholders.
pub fn params(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Rows read by key (`… IN (…)`, in no particular order) put in the order of `keys`.
pub fn in_order<K: Eq + std::hash::Hash + Copy, T>(keys: &[K], rows: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut by_key: std::collections::HashMap<K, T> = rows.into_iter().map(|r| (key(&r), r)).collect();
    keys.iter().filter_map(|k| by_key.remove(k)).collect()
}

/// The WHERE and ORDER BY of the handover ledger, and the next placeholder's number.
fn ledger_sql(f: &LedgerFilter) -> (String, usize) {
    let mut sql = "WHERE h.community_id = $1".to_string();
    let mut n = 1;
    let mut next = |sql: &mut String, cond: &str| {
        n += 1;
        sql.push_str(&format!(" AND {cond} ${n}"));
    };
    if f.department_id.is_some() {
        next(&mut sql, "h.department_id =");
    }
    if f.state.is_some() {
        next(&mut sql, "h.state =");
    }
    if f.from_ms.is_some() {
        next(&mut sql, "h.handed_over_at >=");
    }
    if f.to_ms.is_some() {
        next(&mut sql, "h.handed_over_at <");
    }
    let order = ledger_order(
        LEDGER_SORTS,
        f.sort.as_deref(),
        f.desc,
        "h.sheet_id DESC, h.no DESC",
        "h.handed_over_at DESC, h.sheet_id DESC, h.no DESC",
    );
    sql.push_str(&format!(" ORDER BY {order}"));
    (sql, n + 1)
}

fn bind_ledger<'q, O>(
    mut q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    community_id: i64,
    f: &LedgerFilter,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    q = q.bind(community_id);
    if let Some(v) = f.department_id {
        q = q.bind(v);
    }
    if let Some(v) = &f.state {
        q = q.bind(v.clone());
    }
    if let Some(v) = f.from_ms {
        q = q.bind(v);
    }
    if let Some(v) = f.to_ms {
        q = q.bind(v);
    }
    q
}

pub async fn ledger(pool: &AnyPool, community_id: i64, f: &LedgerFilter) -> Result<Vec<HandoverRow>, sqlx::Error> {
    let (sql, n) = ledger_sql(f);
    let sql = format!("{HANDOVER_SELECT} {sql} LIMIT ${n} OFFSET ${}", n + 1);
    bind_ledger(sqlx::query_as(&sql), community_id, f).bind(f.limit).bind(f.offset).fetch_all(pool).await
}

/// The whole handover ledger's keys (sheet, handover number), in its order, for a
/// download that then reads the rows a page at a time ([`handovers`]).
pub async fn ledger_keys(pool: &AnyPool, community_id: i64, f: &LedgerFilter) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let (sql, _) = ledger_sql(f);
    let sql = format!("SELECT h.sheet_id, h.no {} {sql}", from_of(HANDOVER_SELECT));
    bind_ledger(sqlx::query_as(&sql), community_id, f).fetch_all(pool).await
}

/// A community's handovers by key, in the order of `keys` (a page of [`ledger_keys`]).
/// The handovers of the keys' sheets are read and the others left out: SQLite scans the
/// whole table for a row-value `IN`; the unary `+` keeps it on the primary key rather than
/// on the community's index.
pub async fn handovers(
    pool: &AnyPool,
    community_id: i64,
    keys: &[(i64, i64)],
) -> Result<Vec<HandoverRow>, sqlx::Error> {
    let mut sheets: Vec<i64> = keys.iter().map(|(sheet, _)| *sheet).collect();
    sheets.sort_unstable();
    sheets.dedup();
    if sheets.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!("{HANDOVER_SELECT} WHERE +h.community_id = $1 AND h.sheet_id IN ({})", params(2, sheets.len()));
    let mut q = sqlx::query_as(&sql).bind(community_id);
    for sheet in &sheets {
        q = q.bind(*sheet);
    }
    let rows: Vec<HandoverRow> = q.fetch_all(pool).await?;
    Ok(in_order(keys, rows, |h| (h.sheet_id, h.no)))
}

/// Which sheets a queue lists.
#[derive(Debug, Clone)]
pub enum Queue {
    /// Open sheets a receptionist answers for (R-SHEET-6).
    MineOpen(i64),
    /// Open sheets of a community that have left the desk, soonest due first (催收, R-SHEET-9).
    ToChase,
    /// Sheets a department holds and has not returned.
    Department(i64),
    /// Past the collection limit and still open.
    Overdue(i64),
    /// Phone or letter sheets still waiting for the requester's signature (R-SHEET-3).
    SignaturePending,
}

pub async fn queue(
    pool: &AnyPool,
    communities: &[i64],
    q: &Queue,
    limit: i64,
    offset: i64,
) -> Result<Vec<SheetRow>, sqlx::Error> {
    if communities.is_empty() {
        return Ok(vec![]);
    }
    let ids = communities.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let open = "s.state NOT IN ('collected', 'archived')";
    // Open and out of the desk's hands: every open state but `registered` (which has no
    // collection deadline).
    let chase = "s.state IN ('dispatched', 'awaiting_acceptance', 'suspended')";
    let (cond, order, arg) = match q {
        Queue::MineOpen(u) => (
            format!("s.first_contact_id = $1 AND {open}"),
            "s.due_at IS NULL, s.due_at, s.id",
            Some(*u),
        ),
        // Written as the partial index `sheets_chase` states it, so that both databases
        // use it (SQLite only when the query repeats the index's condition).
        Queue::ToChase => (
            format!("{chase} AND s.due_at IS NOT NULL AND $1 = $1"),
            "s.due_at, s.id",
            Some(0),
        ),
        Queue::Department(d) => (
            "s.id IN (SELECT h.sheet_id FROM sheet_handovers h WHERE h.department_id = $1 AND h.state IN ('handed_over', 'acknowledged', 'in_progress'))".to_string(),
            "s.due_at IS NULL, s.due_at, s.id",
            Some(*d),
        ),
        Queue::Overdue(now) => (
            format!("{chase} AND s.due_at < $1 AND s.state <> 'suspended'"),
            "s.due_at, s.id",
            Some(*now),
        ),
        Queue::SignaturePending => (
            "s.signature_pending = 1 AND s.state <> 'archived' AND $1 = $1".to_string(),
            "s.registered_at, s.id",
            Some(0),
        ),
    };
    let sql = format!("{SHEET_SELECT} WHERE s.community_id IN ({ids}) AND {cond} ORDER BY {order} LIMIT $2 OFFSET $3");
    sqlx::query_as(&sql).bind(arg.unwrap_or(0)).bind(limit).bind(offset).fetch_all(pool).await
}

/// Search the customer-service archive (R-SHEET-11).
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub number: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub kind: Option<String>,
    pub state: Option<String>,
    pub unit_id: Option<i64>,
    pub room_prefix: Option<String>,
    pub person_id: Option<i64>,
    pub first_contact_id: Option<i64>,
    pub department_id: Option<i64>,
    pub phone_last4: Option<String>,
    /// Words in the reason or the requester's name.
    pub text: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

pub async fn search(pool: &AnyPool, community_id: i64, f: &Search) -> Result<Vec<SheetRow>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let words: Vec<&str> = f.text.as_deref().map(|t| t.split_whitespace().take(5).collect()).unwrap_or_default();
    // The first term of the words drives the search: the term index lists its sheets
    // newest first, so a page of results stops after its rows instead of sorting every
    // match (a common word is in thousands of sheets).
    let first_term = words.iter().find_map(|w| huiqian_domain::sheet::search::query_terms(w).into_iter().next());
    let indexed = first_term.is_some();
    // With words to look up, the term index narrows the candidates best: SQLite, without
    // statistics, would rather walk every sheet of the community through an index that
    // starts with community_id and test each against the terms (a unary `+` keeps it
    // from using such an index). PostgreSQL's planner sees this from its statistics.
    let community = if indexed && super::Backend::of(&conn) == super::Backend::Sqlite {
        "+s.community_id"
    } else {
        "s.community_id"
    };
    let mut sql = match &first_term {
        Some(_) => format!(
            "{SHEET_SELECT} JOIN sheet_terms t0 ON t0.sheet_id = s.id WHERE t0.community_id = $1 AND t0.term = $2 AND {community} = $1"
        ),
        None => format!("{SHEET_SELECT} WHERE {community} = $1"),
    };
    let mut binds: Vec<Bind> = first_term.clone().map(Bind::S).into_iter().collect();
    let mut add = |sql: &mut String, cond: &str, v: Bind| {
        binds.push(v);
        sql.push_str(&format!(" AND {}", cond.replace('?', &format!("${}", binds.len() + 1))));
    };
    if let Some(v) = &f.number {
        add(&mut sql, "s.number = ?", Bind::S(v.trim().to_uppercase()));
    }
    if let Some(v) = f.from_ms {
        add(&mut sql, "s.registered_at >= ?", Bind::I(v));
    }
    if let Some(v) = f.to_ms {
        add(&mut sql, "s.registered_at < ?", Bind::I(v));
    }
    if let Some(v) = &f.kind {
        add(&mut sql, "s.kind = ?", Bind::S(v.clone()));
    }
    if let Some(v) = &f.state {
        add(&mut sql, "s.state = ?", Bind::S(v.clone()));
    }
    if let Some(v) = f.unit_id {
        add(&mut sql, "s.unit_id = ?", Bind::I(v));
    }
    if let Some(v) = &f.room_prefix {
        add(&mut sql, "u.room_no LIKE ?", Bind::S(format!("{}%", super::escape_like(v))));
    }
    if let Some(v) = f.person_id {
        add(&mut sql, "s.person_id = ?", Bind::I(v));
    }
    if let Some(v) = f.first_contact_id {
        add(&mut sql, "s.first_contact_id = ?", Bind::I(v));
    }
    if let Some(v) = f.department_id {
        add(&mut sql, "s.id IN (SELECT h.sheet_id FROM sheet_handovers h WHERE h.department_id = ?)", Bind::I(v));
    }
    if let Some(v) = &f.phone_last4 {
        add(&mut sql, "s.requester_phone_last4 = ?", Bind::S(v.clone()));
    }
    if !words.is_empty() {
        for word in words {
            // The word's character pairs narrow the candidates through the term index…
            let terms = huiqian_domain::sheet::search::query_terms(word);
            // A word of two Chinese characters is its own only pair: a sheet has that
            // term exactly when its text contains the word, so there is nothing to
            // confirm (and PostgreSQL, which cannot estimate LIKE, then reads the term
            // index newest first and stops after a page instead of sorting every match).
            let exact = terms.len() == 1 && terms[0] == word && !word.chars().any(|c| c.is_ascii());
            for term in terms.into_iter().take(8) {
                if Some(&term) == first_term.as_ref() {
                    continue;
                }
                add(
                    &mut sql,
                    "s.id IN (SELECT t.sheet_id FROM sheet_terms t WHERE t.community_id = $1 AND t.term = ?)",
                    Bind::S(term),
                );
            }
            // …and the word itself confirms them (both `?` are one numbered placeholder).
            if exact {
                continue;
            }
            add(
                &mut sql,
                "(s.reason LIKE ? OR s.requester_name LIKE ?)",
                Bind::S(format!("%{}%", super::escape_like(word))),
            );
        }
    }
    let order = if first_term.is_some() { "t0.sheet_id" } else { "s.id" };
    sql.push_str(&format!(" ORDER BY {order} DESC LIMIT ${} OFFSET ${}", binds.len() + 2, binds.len() + 3));
    let mut q = sqlx::query_as(&sql).bind(community_id);
    for b in binds {
        q = match b {
            Bind::I(v) => q.bind(v),
            Bind::S(v) => q.bind(v),
        };
    }
    q.bind(f.limit).bind(f.offset).fetch_all(&mut *conn).await
}

enum Bind {
    I(i64),
    S(String),
}

/// Sheets registered by each receptionist in a period and how many of them are back
/// (collected or archived): the recovery rate of R-SHEET-9.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Recovery {
    pub user_id: i64,
    pub name: String,
    pub registered: i64,
    pub recovered: i64,
}

pub async fn recovery(
    pool: &AnyPool,
    community_id: i64,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Recovery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.first_contact_id AS user_id, u.display_name AS name, COUNT(*) AS registered, \
         CAST(SUM(CASE WHEN s.state IN ('collected', 'archived') THEN 1 ELSE 0 END) AS BIGINT) AS recovered \
         FROM sheets s JOIN users u ON u.id = s.first_contact_id \
         WHERE s.community_id = $1 AND s.registered_at >= $2 AND s.registered_at < $3 \
         GROUP BY s.first_contact_id, u.display_name ORDER BY u.display_name",
    )
    .bind(community_id)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(pool)
    .await
}

/// Attachments.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: i64,
    pub community_id: i64,
    pub sheet_id: Option<i64>,
    /// `photo`, `file`, `evidence`, `signature`, or a repair's photo `before` or `after`
    /// the work.
    pub purpose: String,
    pub sha256: String,
    pub size: i64,
    pub mime: String,
    pub filename: String,
    pub signer: String,
    pub created_at: i64,
    /// 1 for a signature typed with the keyboard rather than drawn.
    pub typed: i64,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_attachment(
    tx: &mut AnyConnection,
    community_id: i64,
    sheet_id: i64,
    purpose: &str,
    sha256: &str,
    size: i64,
    mime: &str,
    filename: &str,
    signer: &str,
    typed: bool,
    by: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    // A repair's photo before or after the work is a photo with its stage.
    let (purpose, stage) = match purpose {
        "before" | "after" => ("photo", purpose),
        other => (other, ""),
    };
    sqlx::query_scalar(
        "INSERT INTO attachments (community_id, sheet_id, purpose, sha256, size, mime, filename, signer, created_at, created_by, stage, typed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(community_id)
    .bind(sheet_id)
    .bind(purpose)
    .bind(sha256)
    .bind(size)
    .bind(mime)
    .bind(filename)
    .bind(signer)
    .bind(now)
    .bind(by)
    .bind(stage)
    .bind(i64::from(typed))
    .fetch_one(tx)
    .await
}

pub async fn attachments_of(pool: &AnyPool, sheet_id: i64) -> Result<Vec<Attachment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, community_id, sheet_id, CASE WHEN stage = '' THEN purpose ELSE stage END AS purpose, sha256, size, mime, filename, signer, created_at, typed FROM attachments WHERE sheet_id = $1 ORDER BY id",
    )
    .bind(sheet_id)
    .fetch_all(pool)
    .await
}

pub async fn attachment(pool: &AnyPool, id: i64) -> Result<Option<Attachment>, sqlx::Error> {
    sqlx::query_as("SELECT id, community_id, sheet_id, CASE WHEN stage = '' THEN purpose ELSE stage END AS purpose, sha256, size, mime, filename, signer, created_at, typed FROM attachments WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Departments a user acts for in a community: explicit department grants, and whether
/// each is held as its head.
pub async fn memberships(
    conn: &mut AnyConnection,
    user_id: i64,
    community_id: i64,
) -> Result<Vec<(i64, bool)>, sqlx::Error> {
    let rows = sqlx::query("SELECT department_id, is_head FROM user_roles WHERE user_id = $1 AND community_id = $2 AND department_id IS NOT NULL")
        .bind(user_id)
        .bind(community_id)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1) == 1)).collect())
}

/// Of the active holders of the first of `roles` anyone holds in the community, the one
/// answering for the fewest open sheets (then the longest-serving): whom a sheet taken in
/// outside customer service goes to.
pub async fn least_busy(
    conn: &mut AnyConnection,
    community_id: i64,
    roles: &[&str],
) -> Result<Option<i64>, sqlx::Error> {
    for role in roles {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT r.user_id FROM user_roles r JOIN users u ON u.id = r.user_id \
             WHERE r.community_id = $1 AND r.role = $2 AND u.active = 1 \
             ORDER BY (SELECT COUNT(*) FROM sheets s WHERE s.first_contact_id = r.user_id AND s.community_id = $1 \
             AND s.state NOT IN ('collected', 'archived')), r.user_id LIMIT 1",
        )
        .bind(community_id)
        .bind(*role)
        .fetch_optional(&mut *conn)
        .await?;
        if id.is_some() {
            return Ok(id);
        }
    }
    Ok(None)
}

/// A unit and one of its people, as the desk's finder lists them.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    pub unit_id: i64,
    pub room_no: String,
    pub person_id: Option<i64>,
    pub person_name: Option<String>,
    pub phone_masked: Option<String>,
    pub relation: Option<String>,
}

/// How the desk finds the unit: by room number, by the last four digits of a phone, or
/// by a name.
pub enum Finder {
    Room(String),
    Last4(String),
    Name(String),
}

pub async fn find_candidates(pool: &AnyPool, community_id: i64, f: &Finder) -> Result<Vec<Candidate>, sqlx::Error> {
    let base = "SELECT u.id AS unit_id, u.room_no, p.id AS person_id, p.name AS person_name, p.phone_masked, o.relation \
                FROM units u LEFT JOIN occupancies o ON o.unit_id = u.id AND o.active = 1 LEFT JOIN persons p ON p.id = o.person_id";
    let (cond, arg) = match f {
        Finder::Room(r) => ("u.room_no LIKE $2", format!("{}%", super::escape_like(r))),
        Finder::Last4(d) => ("p.phone_last4 = $2", d.clone()),
        Finder::Name(n) => ("p.name LIKE $2", format!("{}%", super::escape_like(n))),
    };
    sqlx::query_as(&format!("{base} WHERE u.community_id = $1 AND {cond} ORDER BY u.room_no, o.relation LIMIT 20"))
        .bind(community_id)
        .bind(arg)
        .fetch_all(pool)
        .await
}

/// Open and overdue sheets of a community, for the managers' dashboard.
pub async fn open_counts(pool: &AnyPool, community_id: i64, now: i64) -> Result<(i64, i64), sqlx::Error> {
    let r = sqlx::query(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN due_at < $2 AND state <> 'suspended' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM sheets WHERE community_id = $1 AND state IN ('registered', 'dispatched', 'awaiting_acceptance', 'suspended')",
    )
    .bind(community_id)
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok((r.get(0), r.get(1)))
}

/// Index a sheet's words for the archive search.
pub async fn insert_terms(
    tx: &mut AnyConnection,
    community_id: i64,
    sheet_id: i64,
    terms: &[String],
) -> Result<(), sqlx::Error> {
    for chunk in terms.chunks(super::BATCH_ROWS) {
        let backend = super::Backend::of(tx);
        let sql = format!(
            "INSERT INTO sheet_terms (community_id, term, sheet_id) VALUES {} ON CONFLICT DO NOTHING",
            super::values_placeholders(backend, chunk.len(), 3)
        );
        let mut q = sqlx::query(&sql);
        for t in chunk {
            q = q.bind(community_id).bind(t.clone()).bind(sheet_id);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Open sheets of a community (id, kind), for recomputing their clocks.
pub async fn open_sheets(pool: &AnyPool, community_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, kind FROM sheets WHERE community_id = $1 AND state IN ('registered', 'dispatched', 'awaiting_acceptance', 'suspended')")
        .bind(community_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Store a recomputed clock (after a target or calendar change). The sheet's version is
/// left alone: nobody's edit of the sheet is stale because a setting changed.
pub async fn refresh_clock(
    tx: &mut AnyConnection,
    id: i64,
    due_at: Option<i64>,
    warn_at: Option<i64>,
    clock_state: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sheets SET notice_level = CASE WHEN due_at IS NULL OR $1 IS NULL OR due_at <> $1 THEN 0 ELSE notice_level END, \
         warn_at = CASE WHEN due_at = $1 AND notice_level >= 1 THEN $1 ELSE $2 END, due_at = $1, clock_state = $3 WHERE id = $4",
    )
    .bind(due_at)
    .bind(warn_at)
    .bind(clock_state)
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// The sealed phone to call about a sheet: as typed at registration, else the registered
/// person's.
pub async fn sealed_phone(pool: &AnyPool, id: i64) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT COALESCE(s.requester_phone_enc, p.phone_enc) FROM sheets s LEFT JOIN persons p ON p.id = s.person_id \
         WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| r.0))
}

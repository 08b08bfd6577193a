//! Key custody (钥匙管理): cabinets, key sets and their books, receipts, custody
//! agreements, approvals for special rooms, sign-outs and returns, the cabinet's seal log,
//! the daily counts and the incidents they open, and vacant units' inspections.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};

// ---- settings ----

/// A community's rules for its keys (R-KEY-5, R-KEY-8).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeySettings)]
pub struct Settings {
    pub community_id: i64,
    /// 1: someone other than the owner takes an owner's key only after a recorded phone
    /// call with the owner.
    pub phone_confirmation: i64,
    /// The hour of the community's day by which the daily count is due.
    pub count_due_hour: i64,
    pub version: i64,
}

pub async fn settings(pool: &AnyPool, community_id: i64) -> Result<Settings, sqlx::Error> {
    let row: Option<Settings> = sqlx::query_as(
        "SELECT community_id, phone_confirmation, count_due_hour, version FROM key_settings WHERE community_id = $1",
    )
    .bind(community_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.unwrap_or(Settings { community_id, phone_confirmation: 1, count_due_hour: 22, version: 0 }))
}

/// Save the rules at `version` (0: none saved yet): whether it was current.
pub async fn save_settings(
    tx: &mut AnyConnection,
    c: i64,
    version: i64,
    phone_confirmation: bool,
    count_due_hour: i64,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    if version == 0 {
        let q = sqlx::query(
            "INSERT INTO key_settings (community_id, phone_confirmation, count_due_hour, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (community_id) DO NOTHING",
        )
        .bind(c)
        .bind(i64::from(phone_confirmation))
        .bind(count_due_hour)
        .bind(now)
        .bind(by);
        return super::changed_one(tx, q).await;
    }
    let q = sqlx::query(
        "UPDATE key_settings SET phone_confirmation = $1, count_due_hour = $2, updated_at = $3, updated_by = $4, \
         version = version + 1 WHERE community_id = $5 AND version = $6",
    )
    .bind(i64::from(phone_confirmation))
    .bind(count_due_hour)
    .bind(now)
    .bind(by);
    super::update_at_version(tx, q, c, version).await
}

// ---- cabinets ----

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyCabinet)]
pub struct Cabinet {
    pub id: i64,
    pub community_id: i64,
    pub name: String,
    pub location: String,
    /// Who keeps the cabinet's own key (R-KEY-2).
    pub keeper_id: Option<i64>,
    pub keeper_name: Option<String>,
    /// `open`, `sealed` or `night_open` (R-KEY-7).
    pub state: String,
    pub seal_no: String,
    pub state_at: i64,
    /// Key sets held in it.
    pub key_sets: i64,
    pub version: i64,
}

const CABINET_COLS: &str = "c.id, c.community_id, c.name, c.location, c.keeper_id, u.display_name AS keeper_name, \
     c.state, c.seal_no, c.state_at, (SELECT COUNT(*) FROM key_sets k WHERE k.cabinet_id = c.id AND k.state = 'held') \
     AS key_sets, c.version";

pub async fn cabinets(pool: &AnyPool, community_id: i64) -> Result<Vec<Cabinet>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CABINET_COLS} FROM key_cabinets c LEFT JOIN users u ON u.id = c.keeper_id \
         WHERE c.community_id = $1 ORDER BY c.name"
    ))
    .bind(community_id)
    .fetch_all(pool)
    .await
}

pub async fn cabinet<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<Cabinet>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CABINET_COLS} FROM key_cabinets c LEFT JOIN users u ON u.id = c.keeper_id WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn insert_cabinet(
    tx: &mut AnyConnection,
    c: i64,
    name: &str,
    location: &str,
    keeper_id: Option<i64>,
    by: i64,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_cabinets (community_id, name, location, keeper_id, state_at, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (community_id, name) DO NOTHING RETURNING id",
    )
    .bind(c)
    .bind(name)
    .bind(location)
    .bind(keeper_id)
    .bind(now)
    .bind(by)
    .fetch_optional(tx)
    .await
}

/// Move the cabinet to `state` at `version`: whether it was current.
pub async fn set_cabinet_state(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    state: &str,
    seal_no: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE key_cabinets SET state = $1, seal_no = $2, state_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(state)
    .bind(seal_no)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub struct LogEntry<'a> {
    pub community_id: i64,
    pub cabinet_id: i64,
    pub step: &'a str,
    pub seal_no: &'a str,
    pub seal_intact: Option<bool>,
    pub first_user: i64,
    pub second_user: Option<i64>,
    pub reason: &'a str,
    pub at: i64,
}

pub async fn insert_log(tx: &mut AnyConnection, e: &LogEntry<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_cabinet_log (community_id, cabinet_id, step, seal_no, seal_intact, first_user, second_user, \
         reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(e.community_id)
    .bind(e.cabinet_id)
    .bind(e.step)
    .bind(e.seal_no)
    .bind(e.seal_intact.map(i64::from))
    .bind(e.first_user)
    .bind(e.second_user)
    .bind(e.reason)
    .bind(e.at)
    .fetch_one(tx)
    .await
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyCabinetLogEntry)]
pub struct CabinetLog {
    pub id: i64,
    /// `sealed`, `opened_at_night` or `opened_in_morning`.
    pub step: String,
    pub seal_no: String,
    pub seal_intact: Option<i64>,
    pub first_name: String,
    pub second_name: Option<String>,
    pub reason: String,
    pub at: i64,
}

pub async fn cabinet_log(pool: &AnyPool, cabinet_id: i64, limit: i64) -> Result<Vec<CabinetLog>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.id, l.step, l.seal_no, l.seal_intact, a.display_name AS first_name, b.display_name AS second_name, \
         l.reason, l.at FROM key_cabinet_log l JOIN users a ON a.id = l.first_user \
         LEFT JOIN users b ON b.id = l.second_user WHERE l.cabinet_id = $1 ORDER BY l.at DESC, l.id DESC LIMIT $2",
    )
    .bind(cabinet_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

// ---- key sets ----

/// A key set with where it is now: on its hook, or out (with whom, until when).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct KeySet {
    pub id: i64,
    pub community_id: i64,
    pub cabinet_id: i64,
    pub cabinet_name: String,
    pub tag: String,
    pub hook: String,
    pub unit_id: Option<i64>,
    /// The unit's status (`vacant`, `occupied`, `renovating`) when the key opens a unit.
    pub unit_status: Option<String>,
    pub room: String,
    /// Empty, or the kind of special room (R-KEY-6).
    pub special: String,
    pub basis: String,
    /// `held`, `lost` or `released`.
    pub state: String,
    pub total: i64,
    pub out_qty: i64,
    pub note: String,
    pub version: i64,
    /// The open sign-out, if any.
    pub loan_id: Option<i64>,
    pub loan_taker: Option<String>,
    pub loan_due_at: Option<i64>,
    pub loan_issued_at: Option<i64>,
    pub loan_reason_kind: Option<String>,
    pub loan_sheet_id: Option<i64>,
    /// Open incidents about this key set.
    pub open_incidents: i64,
}

const KEY_COLS: &str = "k.id, k.community_id, k.cabinet_id, c.name AS cabinet_name, k.tag, k.hook, k.unit_id, \
     u.status AS unit_status, k.room, k.special, k.basis, k.state, k.total, k.out_qty, k.note, k.version, \
     l.id AS loan_id, l.taker_name AS loan_taker, l.due_at AS loan_due_at, l.issued_at AS loan_issued_at, \
     l.reason_kind AS loan_reason_kind, l.sheet_id AS loan_sheet_id, \
     (SELECT COUNT(*) FROM key_incidents i WHERE i.key_set_id = k.id AND i.state <> 'resolved') AS open_incidents";

const KEY_FROM: &str = "FROM key_sets k JOIN key_cabinets c ON c.id = k.cabinet_id \
     LEFT JOIN units u ON u.id = k.unit_id LEFT JOIN key_loans l ON l.key_set_id = k.id AND l.closed_at IS NULL";

/// The key sets of a community (`$1`) that are out: from their open sign-outs.
const OUT_FROM: &str = "FROM key_loans l JOIN key_sets k ON k.id = l.key_set_id \
     JOIN key_cabinets c ON c.id = k.cabinet_id LEFT JOIN units u ON u.id = k.unit_id \
     WHERE l.community_id = $1 AND l.closed_at IS NULL";

/// Which key sets a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Where {
    /// Every key set held, lost or handed back.
    #[default]
    All,
    /// Those out now.
    Out,
    /// Those out beyond their expected return.
    Overdue,
    /// Keys of vacant units (R-DUTY-3).
    Vacant,
}

/// "Where is every key": a community's key sets, tag order, `limit` from `offset`.
pub async fn key_sets(
    pool: &AnyPool,
    community_id: i64,
    which: Where,
    search: &str,
    now: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<KeySet>, i64), sqlx::Error> {
    // The keys out are found from their open sign-outs (a few dozen in a community, in the
    // partial index `key_loans_due`), not by looking at every key set for one; the total
    // counts key sets (or open sign-outs) alone, without the joins a page shows, in the
    // same statement as the page (one round trip).
    let conds = |k: &str, l: &str| {
        let which = match which {
            Where::All | Where::Out => String::new(),
            Where::Vacant => format!(" AND {k}.basis = 'vacant_unit' AND {k}.state = 'held'"),
            Where::Overdue => format!(" AND {l}.due_at < $2"),
        };
        let search =
            if search.is_empty() { String::new() } else { format!(" AND ({k}.tag LIKE $3 OR {k}.room LIKE $3)") };
        which + &search
    };
    let (from, counted) = match which {
        Where::All | Where::Vacant => (
            format!("{KEY_FROM} WHERE k.community_id = $1"),
            format!("SELECT COUNT(*) FROM key_sets kt WHERE kt.community_id = $1{}", conds("kt", "lt")),
        ),
        Where::Out | Where::Overdue => (
            OUT_FROM.to_string(),
            format!(
                "SELECT COUNT(*) FROM key_loans lt JOIN key_sets kt ON kt.id = lt.key_set_id \
                 WHERE lt.community_id = $1 AND lt.closed_at IS NULL{}",
                conds("kt", "lt")
            ),
        ),
    };
    let pattern = format!("%{}%", search.replace(['%', '_'], ""));
    let rows: Vec<Counted> = sqlx::query_as(&format!(
        "SELECT {KEY_COLS}, ({counted}) AS list_total {from} AND $2 = $2 AND $3 = $3{} ORDER BY k.tag LIMIT $4 OFFSET $5",
        conds("k", "l")
    ))
    .bind(community_id)
    .bind(now)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = match rows.first() {
        Some(r) => r.list_total,
        None if offset == 0 => 0,
        // Past the end: the total alone.
        None => {
            sqlx::query_scalar(&format!("{counted} AND $2 = $2 AND $3 = $3"))
                .bind(community_id)
                .bind(now)
                .bind(&pattern)
                .fetch_one(pool)
                .await?
        }
    };
    Ok((rows.into_iter().map(|r| r.key).collect(), total))
}

/// A key set of a list with the list's total.
#[derive(FromRow)]
struct Counted {
    #[sqlx(flatten)]
    key: KeySet,
    list_total: i64,
}

pub async fn key_set<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<KeySet>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {KEY_COLS} {KEY_FROM} WHERE k.id = $1")).bind(id).fetch_optional(ex).await
}

/// The held key sets of a cabinet, for a count: id, tag, hook, room, and what the books
/// expect on the hook.
pub async fn count_sheet(
    pool: &AnyPool,
    cabinet_id: i64,
) -> Result<Vec<(i64, String, String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, tag, hook, room, total - out_qty FROM key_sets WHERE cabinet_id = $1 AND state = 'held' ORDER BY tag",
    )
    .bind(cabinet_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect())
}

pub struct NewKeySet<'a> {
    pub community_id: i64,
    pub cabinet_id: i64,
    pub tag: &'a str,
    pub hook: &'a str,
    pub unit_id: Option<i64>,
    pub room: &'a str,
    pub special: &'a str,
    pub basis: &'a str,
    pub note: &'a str,
}

/// A new key set, empty until its first receipt: `None` when the tag is taken.
pub async fn insert_key_set(
    tx: &mut AnyConnection,
    k: &NewKeySet<'_>,
    by: i64,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_sets (community_id, cabinet_id, tag, hook, unit_id, room, special, basis, note, created_at, \
         created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10) \
         ON CONFLICT (community_id, tag) DO NOTHING RETURNING id",
    )
    .bind(k.community_id)
    .bind(k.cabinet_id)
    .bind(k.tag)
    .bind(k.hook)
    .bind(k.unit_id)
    .bind(k.room)
    .bind(k.special)
    .bind(k.basis)
    .bind(k.note)
    .bind(now)
    .bind(by)
    .fetch_optional(tx)
    .await
}

/// Write a key set's books at `version`: whether it was current.
pub async fn set_books(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    state: &str,
    total: i64,
    out_qty: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE key_sets SET state = $1, total = $2, out_qty = $3, updated_at = $4, version = version + 1 \
         WHERE id = $5 AND version = $6",
    )
    .bind(state)
    .bind(total)
    .bind(out_qty)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

// ---- receipts ----

pub struct NewReceipt<'a> {
    pub community_id: i64,
    pub key_set_id: i64,
    pub deliverer_name: &'a str,
    pub deliverer_department: &'a str,
    pub delivered_at: i64,
    pub quantity: i64,
    pub signature_id: i64,
    pub note: &'a str,
}

pub async fn insert_receipt(tx: &mut AnyConnection, r: &NewReceipt<'_>, by: i64, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_receipts (community_id, key_set_id, deliverer_name, deliverer_department, delivered_at, \
         quantity, signature_id, received_by, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         RETURNING id",
    )
    .bind(r.community_id)
    .bind(r.key_set_id)
    .bind(r.deliverer_name)
    .bind(r.deliverer_department)
    .bind(r.delivered_at)
    .bind(r.quantity)
    .bind(r.signature_id)
    .bind(by)
    .bind(r.note)
    .bind(now)
    .fetch_one(tx)
    .await
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyReceipt)]
pub struct Receipt {
    pub id: i64,
    pub key_set_id: i64,
    pub deliverer_name: String,
    pub deliverer_department: String,
    pub delivered_at: i64,
    pub quantity: i64,
    pub signature_id: i64,
    pub received_by: i64,
    pub received_by_name: String,
    pub note: String,
}

pub async fn receipts(pool: &AnyPool, key_set_id: i64) -> Result<Vec<Receipt>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.key_set_id, r.deliverer_name, r.deliverer_department, r.delivered_at, r.quantity, \
         r.signature_id, r.received_by, u.display_name AS received_by_name, r.note FROM key_receipts r \
         JOIN users u ON u.id = r.received_by WHERE r.key_set_id = $1 ORDER BY r.id DESC",
    )
    .bind(key_set_id)
    .fetch_all(pool)
    .await
}

// ---- attachments that belong to no sheet (signatures, letters) ----

#[allow(clippy::too_many_arguments)]
pub async fn insert_file(
    tx: &mut AnyConnection,
    community_id: i64,
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
    sqlx::query_scalar(
        "INSERT INTO attachments (community_id, sheet_id, purpose, sha256, size, mime, filename, signer, typed, \
         created_at, created_by) VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(community_id)
    .bind(purpose)
    .bind(sha256)
    .bind(size)
    .bind(mime)
    .bind(filename)
    .bind(signer)
    .bind(i64::from(typed))
    .bind(now)
    .bind(by)
    .fetch_one(tx)
    .await
}

// ---- custody agreements ----

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyAgreement)]
pub struct Agreement {
    pub id: i64,
    pub community_id: i64,
    pub key_set_id: i64,
    pub owner_name: String,
    pub starts_at: i64,
    pub ends_at: i64,
    /// Comma-separated reasons staff may take the key for.
    pub scope: String,
    pub signature_id: i64,
    /// `active` or `ended`.
    pub state: String,
    pub created_at: i64,
    pub version: i64,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyAgreementPerson)]
pub struct AgreementPerson {
    pub id: i64,
    pub agreement_id: i64,
    pub name: String,
    pub relation: String,
    /// Masked (R-ARC-1).
    pub phone_masked: String,
}

const AGREEMENT_COLS: &str =
    "id, community_id, key_set_id, owner_name, starts_at, ends_at, scope, signature_id, state, created_at, version";

pub async fn agreements(pool: &AnyPool, key_set_id: i64) -> Result<Vec<Agreement>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {AGREEMENT_COLS} FROM key_agreements WHERE key_set_id = $1 ORDER BY id DESC"))
        .bind(key_set_id)
        .fetch_all(pool)
        .await
}

/// The agreement in force for a key set (the newest active one).
pub async fn active_agreement<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    key_set_id: i64,
) -> Result<Option<Agreement>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {AGREEMENT_COLS} FROM key_agreements WHERE key_set_id = $1 AND state = 'active' ORDER BY id DESC LIMIT 1"
    ))
    .bind(key_set_id)
    .fetch_optional(ex)
    .await
}

pub async fn agreement<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<Agreement>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {AGREEMENT_COLS} FROM key_agreements WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn agreement_people(pool: &AnyPool, agreement_ids: &[i64]) -> Result<Vec<AgreementPerson>, sqlx::Error> {
    if agreement_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut out: Vec<AgreementPerson> = vec![];
    for part in agreement_ids.chunks(IN_LIST_MAX) {
        let (list, ids) = in_list(part);
        let sql = format!(
            "SELECT id, agreement_id, name, relation, phone_masked FROM key_agreement_people \
             WHERE agreement_id IN ({list}) ORDER BY id"
        );
        let mut q = sqlx::query_as(&sql);
        for id in ids {
            q = q.bind(id);
        }
        out.extend(q.fetch_all(pool).await?);
    }
    out.sort_by_key(|p| p.id);
    Ok(out)
}

/// The most ids bound in one `IN (…)` list.
const IN_LIST_MAX: usize = 256;

/// Placeholders of an `IN (…)` list for `ids` (at most [`IN_LIST_MAX`]), and the values to
/// bind: padded to a power of two (at least 16) with the first id again, so that a handful
/// of statement texts serve every length and stay prepared in the connection's cache. A
/// list written out as literals is a new statement for every key set, prepared (and on
/// PostgreSQL planned) afresh each time, pushing the prepared ones out of the cache.
fn in_list(ids: &[i64]) -> (String, Vec<i64>) {
    let size = ids.len().next_power_of_two().max(16);
    let mut values = ids.to_vec();
    values.resize(size, ids[0]);
    ((1..=size).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "), values)
}

pub struct NewAgreement<'a> {
    pub community_id: i64,
    pub key_set_id: i64,
    pub owner_name: &'a str,
    pub starts_at: i64,
    pub ends_at: i64,
    pub scope: &'a str,
    pub signature_id: i64,
}

pub async fn insert_agreement(
    tx: &mut AnyConnection,
    a: &NewAgreement<'_>,
    by: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_agreements (community_id, key_set_id, owner_name, starts_at, ends_at, scope, signature_id, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(a.community_id)
    .bind(a.key_set_id)
    .bind(a.owner_name)
    .bind(a.starts_at)
    .bind(a.ends_at)
    .bind(a.scope)
    .bind(a.signature_id)
    .bind(by)
    .bind(now)
    .fetch_one(tx)
    .await
}

pub async fn insert_agreement_person(
    tx: &mut AnyConnection,
    agreement_id: i64,
    name: &str,
    relation: &str,
    phone_enc: Option<&str>,
    phone_masked: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_agreement_people (agreement_id, name, relation, phone_enc, phone_masked) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(agreement_id)
    .bind(name)
    .bind(relation)
    .bind(phone_enc)
    .bind(phone_masked)
    .fetch_one(tx)
    .await
}

/// End the agreements of a key set still active (a new one replaces them, or the owner
/// takes the key back).
pub async fn end_agreements(tx: &mut AnyConnection, key_set_id: i64, by: i64, now: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE key_agreements SET state = 'ended', ended_by = $1, ended_at = $2, version = version + 1 \
         WHERE key_set_id = $3 AND state = 'active'",
    )
    .bind(by)
    .bind(now)
    .bind(key_set_id)
    .execute(tx)
    .await?
    .rows_affected())
}

// ---- approvals for special rooms ----

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyApproval)]
pub struct Approval {
    pub id: i64,
    pub community_id: i64,
    pub key_set_id: i64,
    pub tag: String,
    pub room: String,
    pub special: String,
    pub requested_by: i64,
    pub requested_by_name: String,
    pub reason: String,
    pub sheet_id: Option<i64>,
    /// `pending`, `approved`, `refused`, `used` or `expired`.
    pub state: String,
    pub decided_by: Option<i64>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<i64>,
    pub note: String,
    /// An approval not used by then lapses.
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub version: i64,
}

const APPROVAL_SELECT: &str = "SELECT a.id, a.community_id, a.key_set_id, k.tag, k.room, k.special, a.requested_by, \
     r.display_name AS requested_by_name, a.reason, a.sheet_id, a.state, a.decided_by, d.display_name AS decided_by_name, \
     a.decided_at, a.note, a.expires_at, a.created_at, a.version FROM key_approvals a JOIN key_sets k ON k.id = a.key_set_id \
     JOIN users r ON r.id = a.requested_by LEFT JOIN users d ON d.id = a.decided_by";

pub async fn approvals(pool: &AnyPool, community_id: i64, pending_only: bool) -> Result<Vec<Approval>, sqlx::Error> {
    let cond = if pending_only { " AND a.state = 'pending'" } else { "" };
    sqlx::query_as(&format!("{APPROVAL_SELECT} WHERE a.community_id = $1{cond} ORDER BY a.id DESC LIMIT 200"))
        .bind(community_id)
        .fetch_all(pool)
        .await
}

pub async fn approvals_of_key(pool: &AnyPool, key_set_id: i64) -> Result<Vec<Approval>, sqlx::Error> {
    sqlx::query_as(&format!("{APPROVAL_SELECT} WHERE a.key_set_id = $1 ORDER BY a.id DESC LIMIT 50"))
        .bind(key_set_id)
        .fetch_all(pool)
        .await
}

pub async fn approval<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<Approval>, sqlx::Error> {
    sqlx::query_as(&format!("{APPROVAL_SELECT} WHERE a.id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn insert_approval(
    tx: &mut AnyConnection,
    c: i64,
    key_set_id: i64,
    reason: &str,
    sheet_id: Option<i64>,
    by: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_approvals (community_id, key_set_id, requested_by, reason, sheet_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(c)
    .bind(key_set_id)
    .bind(by)
    .bind(reason)
    .bind(sheet_id)
    .bind(now)
    .fetch_one(tx)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn decide_approval(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    state: &str,
    note: &str,
    expires_at: Option<i64>,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE key_approvals SET state = $1, note = $2, expires_at = $3, decided_by = $4, decided_at = $5, \
         version = version + 1 WHERE id = $6 AND version = $7 AND state = 'pending'",
    )
    .bind(state)
    .bind(note)
    .bind(expires_at)
    .bind(by)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

/// Use an approval for one sign-out: whether it was still approved and unused.
pub async fn use_approval(tx: &mut AnyConnection, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE key_approvals SET state = 'used', version = version + 1 WHERE id = $1 AND state = 'approved' \
         AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(id)
    .bind(now);
    super::changed_one(tx, q).await
}

// ---- sign-outs and returns ----

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyLoan)]
pub struct Loan {
    pub id: i64,
    pub community_id: i64,
    pub key_set_id: i64,
    pub tag: String,
    pub room: String,
    pub quantity: i64,
    pub returned: i64,
    pub lost: i64,
    pub reason_kind: String,
    pub reason: String,
    pub sheet_id: Option<i64>,
    pub sheet_number: Option<String>,
    /// `staff`, `owner` or `other`.
    pub taker_kind: String,
    pub taker_user_id: Option<i64>,
    pub taker_name: String,
    /// Masked (R-ARC-1).
    pub taker_phone_masked: String,
    /// Empty, `agreement`, `letter` or `recorded` (R-KEY-5).
    pub authorisation: String,
    pub agreement_id: Option<i64>,
    pub agreement_person_id: Option<i64>,
    pub letter_id: Option<i64>,
    pub authorisation_note: String,
    pub phone_confirmed_by: Option<i64>,
    pub phone_confirmed_at: Option<i64>,
    /// The owner's number called, masked.
    pub phone_confirmed_number: String,
    pub approval_id: Option<i64>,
    pub taker_signature_id: i64,
    pub issued_by: i64,
    pub issued_by_name: String,
    pub issued_at: i64,
    pub due_at: i64,
    pub closed_at: Option<i64>,
    pub version: i64,
}

const LOAN_SELECT: &str = "SELECT l.id, l.community_id, l.key_set_id, k.tag, k.room, l.quantity, l.returned, l.lost, \
     l.reason_kind, l.reason, l.sheet_id, s.number AS sheet_number, l.taker_kind, l.taker_user_id, l.taker_name, \
     l.taker_phone_masked, l.authorisation, l.agreement_id, l.agreement_person_id, l.letter_id, l.authorisation_note, \
     l.phone_confirmed_by, l.phone_confirmed_at, l.phone_confirmed_number, l.approval_id, l.taker_signature_id, \
     l.issued_by, u.display_name AS issued_by_name, l.issued_at, l.due_at, l.closed_at, l.version \
     FROM key_loans l JOIN key_sets k ON k.id = l.key_set_id JOIN users u ON u.id = l.issued_by \
     LEFT JOIN sheets s ON s.id = l.sheet_id";

pub async fn loan<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<Loan>, sqlx::Error> {
    sqlx::query_as(&format!("{LOAN_SELECT} WHERE l.id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn loans_of_key(pool: &AnyPool, key_set_id: i64, limit: i64) -> Result<Vec<Loan>, sqlx::Error> {
    sqlx::query_as(&format!("{LOAN_SELECT} WHERE l.key_set_id = $1 ORDER BY l.issued_at DESC, l.id DESC LIMIT $2"))
        .bind(key_set_id)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The key ledger (钥匙收发本) of a period: sign-outs issued in `[from, to)`, newest first.
pub async fn ledger(
    pool: &AnyPool,
    community_id: i64,
    from: i64,
    to: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Loan>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{LOAN_SELECT} WHERE l.community_id = $1 AND l.issued_at >= $2 AND l.issued_at < $3 \
         ORDER BY l.issued_at DESC, l.id DESC LIMIT $4 OFFSET $5"
    ))
    .bind(community_id)
    .bind(from)
    .bind(to)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// Open sign-outs of a community whose expected return is before `now`, with no overdue
/// incident yet.
pub async fn overdue_without_incident(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<Loan>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{LOAN_SELECT} WHERE l.closed_at IS NULL AND l.due_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM key_incidents i WHERE i.loan_id = l.id AND i.kind = 'overdue') \
         ORDER BY l.due_at LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Is a key taken for this sheet still out (R-KEY-3: the sheet cannot be archived)?
pub async fn key_out_for_sheet(conn: &mut AnyConnection, sheet_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT k.tag FROM key_loans l JOIN key_sets k ON k.id = l.key_set_id \
         WHERE l.sheet_id = $1 AND l.closed_at IS NULL LIMIT 1",
    )
    .bind(sheet_id)
    .fetch_optional(conn)
    .await
}

pub struct NewLoan<'a> {
    pub community_id: i64,
    pub key_set_id: i64,
    pub quantity: i64,
    pub reason_kind: &'a str,
    pub reason: &'a str,
    pub sheet_id: Option<i64>,
    pub taker_kind: &'a str,
    pub taker_user_id: Option<i64>,
    pub taker_name: &'a str,
    pub taker_phone_enc: Option<&'a str>,
    pub taker_phone_masked: &'a str,
    pub authorisation: &'a str,
    pub agreement_id: Option<i64>,
    pub agreement_person_id: Option<i64>,
    pub letter_id: Option<i64>,
    pub authorisation_note: &'a str,
    pub phone_confirmed_by: Option<i64>,
    pub phone_confirmed_at: Option<i64>,
    pub phone_confirmed_number: &'a str,
    pub approval_id: Option<i64>,
    pub taker_signature_id: i64,
    pub due_at: i64,
}

/// Insert a sign-out. `None` when the key set already has an open one: the unique index
/// refuses a second, whatever raced.
pub async fn insert_loan(
    tx: &mut AnyConnection,
    l: &NewLoan<'_>,
    by: i64,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_loans (community_id, key_set_id, quantity, reason_kind, reason, sheet_id, taker_kind, \
         taker_user_id, taker_name, taker_phone_enc, taker_phone_masked, authorisation, agreement_id, \
         agreement_person_id, letter_id, authorisation_note, phone_confirmed_by, phone_confirmed_at, \
         phone_confirmed_number, approval_id, taker_signature_id, issued_by, issued_at, due_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23, $24) ON CONFLICT (key_set_id) WHERE closed_at IS NULL DO NOTHING RETURNING id",
    )
    .bind(l.community_id)
    .bind(l.key_set_id)
    .bind(l.quantity)
    .bind(l.reason_kind)
    .bind(l.reason)
    .bind(l.sheet_id)
    .bind(l.taker_kind)
    .bind(l.taker_user_id)
    .bind(l.taker_name)
    .bind(l.taker_phone_enc)
    .bind(l.taker_phone_masked)
    .bind(l.authorisation)
    .bind(l.agreement_id)
    .bind(l.agreement_person_id)
    .bind(l.letter_id)
    .bind(l.authorisation_note)
    .bind(l.phone_confirmed_by)
    .bind(l.phone_confirmed_at)
    .bind(l.phone_confirmed_number)
    .bind(l.approval_id)
    .bind(l.taker_signature_id)
    .bind(by)
    .bind(now)
    .bind(l.due_at)
    .fetch_optional(tx)
    .await
}

/// Count keys back (or lost) on a sign-out at `version`, closing it when none is left out.
pub async fn settle_loan(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    returned: i64,
    lost: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE key_loans SET returned = returned + $1, lost = lost + $2, \
         closed_at = CASE WHEN returned + $1 + lost + $2 >= quantity THEN $3 ELSE NULL END, version = version + 1 \
         WHERE id = $4 AND version = $5 AND closed_at IS NULL",
    )
    .bind(returned)
    .bind(lost)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_return(
    tx: &mut AnyConnection,
    c: i64,
    loan_id: i64,
    quantity: i64,
    returner_name: &str,
    signature_id: i64,
    by: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_returns (community_id, loan_id, quantity, returner_name, signature_id, received_by, \
         returned_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(c)
    .bind(loan_id)
    .bind(quantity)
    .bind(returner_name)
    .bind(signature_id)
    .bind(by)
    .bind(now)
    .fetch_one(tx)
    .await
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyReturn)]
pub struct Return {
    pub id: i64,
    pub loan_id: i64,
    pub quantity: i64,
    pub returner_name: String,
    pub signature_id: i64,
    pub received_by_name: String,
    pub returned_at: i64,
}

pub async fn returns(pool: &AnyPool, loan_ids: &[i64]) -> Result<Vec<Return>, sqlx::Error> {
    if loan_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut out: Vec<Return> = vec![];
    for part in loan_ids.chunks(IN_LIST_MAX) {
        let (list, ids) = in_list(part);
        let sql = format!(
            "SELECT r.id, r.loan_id, r.quantity, r.returner_name, r.signature_id, \
             u.display_name AS received_by_name, r.returned_at FROM key_returns r JOIN users u ON u.id = r.received_by \
             WHERE r.loan_id IN ({list}) ORDER BY r.id"
        );
        let mut q = sqlx::query_as(&sql);
        for id in ids {
            q = q.bind(id);
        }
        out.extend(q.fetch_all(pool).await?);
    }
    out.sort_by_key(|r| r.id);
    Ok(out)
}

// ---- counts and incidents ----

#[allow(clippy::too_many_arguments)]
pub async fn insert_count(
    tx: &mut AnyConnection,
    c: i64,
    cabinet_id: i64,
    day: &str,
    lines: i64,
    differences: i64,
    by: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_counts (community_id, cabinet_id, day, counted_by, counted_at, lines, differences) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(c)
    .bind(cabinet_id)
    .bind(day)
    .bind(by)
    .bind(now)
    .bind(lines)
    .bind(differences)
    .fetch_one(tx)
    .await
}

/// The lines of a count, in one statement.
pub async fn insert_count_lines(
    tx: &mut AnyConnection,
    count_id: i64,
    lines: &[(i64, i64, i64)],
) -> Result<(), sqlx::Error> {
    for chunk in lines.chunks(200) {
        let mut sql = String::from("INSERT INTO key_count_lines (count_id, key_set_id, expected, counted) VALUES ");
        for (i, _) in chunk.iter().enumerate() {
            let b = i * 4;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4));
        }
        let mut q = sqlx::query(&sql);
        for (key, expected, counted) in chunk {
            q = q.bind(count_id).bind(*key).bind(*expected).bind(*counted);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyCount)]
pub struct Count {
    pub id: i64,
    pub cabinet_id: i64,
    pub cabinet_name: String,
    pub day: String,
    pub counted_by_name: String,
    pub counted_at: i64,
    pub lines: i64,
    pub differences: i64,
}

pub async fn counts(pool: &AnyPool, community_id: i64, limit: i64) -> Result<Vec<Count>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.id, n.cabinet_id, c.name AS cabinet_name, n.day, u.display_name AS counted_by_name, n.counted_at, \
         n.lines, n.differences FROM key_counts n JOIN key_cabinets c ON c.id = n.cabinet_id \
         JOIN users u ON u.id = n.counted_by WHERE n.community_id = $1 ORDER BY n.counted_at DESC, n.id DESC LIMIT $2",
    )
    .bind(community_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The cabinets of a community not yet counted on `day`.
pub async fn uncounted(pool: &AnyPool, community_id: i64, day: &str) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.name FROM key_cabinets c WHERE c.community_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM key_counts n WHERE n.cabinet_id = c.id AND n.day = $2) ORDER BY c.name",
    )
    .bind(community_id)
    .bind(day)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub struct NewIncident<'a> {
    pub community_id: i64,
    pub cabinet_id: i64,
    pub key_set_id: Option<i64>,
    pub kind: &'a str,
    pub count_id: Option<i64>,
    pub loan_id: Option<i64>,
    pub expected: Option<i64>,
    pub counted: Option<i64>,
    pub detail: &'a str,
    pub opened_by: Option<i64>,
}

/// Open an incident; `None` when the sign-out already has its overdue incident.
pub async fn insert_incident(
    tx: &mut AnyConnection,
    i: &NewIncident<'_>,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_incidents (community_id, cabinet_id, key_set_id, kind, count_id, loan_id, expected, counted, \
         detail, opened_by, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (loan_id) WHERE kind = 'overdue' DO NOTHING RETURNING id",
    )
    .bind(i.community_id)
    .bind(i.cabinet_id)
    .bind(i.key_set_id)
    .bind(i.kind)
    .bind(i.count_id)
    .bind(i.loan_id)
    .bind(i.expected)
    .bind(i.counted)
    .bind(i.detail)
    .bind(i.opened_by)
    .bind(now)
    .fetch_optional(tx)
    .await
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = KeyIncident)]
pub struct Incident {
    pub id: i64,
    pub community_id: i64,
    pub cabinet_id: i64,
    pub key_set_id: Option<i64>,
    pub tag: Option<String>,
    pub room: Option<String>,
    /// `count_difference`, `overdue` or `seal_broken`.
    pub kind: String,
    pub count_id: Option<i64>,
    pub loan_id: Option<i64>,
    pub expected: Option<i64>,
    pub counted: Option<i64>,
    pub detail: String,
    /// `open`, `reported` or `resolved`.
    pub state: String,
    pub opened_at: i64,
    pub report: String,
    pub reported_by_name: Option<String>,
    pub reported_at: Option<i64>,
    pub resolution: String,
    pub resolution_note: String,
    pub lost_qty: i64,
    pub resolved_by_name: Option<String>,
    pub resolved_at: Option<i64>,
    pub version: i64,
}

const INCIDENT_SELECT: &str = "SELECT i.id, i.community_id, i.cabinet_id, i.key_set_id, k.tag, k.room, i.kind, \
     i.count_id, i.loan_id, i.expected, i.counted, i.detail, i.state, i.opened_at, i.report, \
     r.display_name AS reported_by_name, i.reported_at, i.resolution, i.resolution_note, i.lost_qty, \
     v.display_name AS resolved_by_name, i.resolved_at, i.version FROM key_incidents i \
     LEFT JOIN key_sets k ON k.id = i.key_set_id LEFT JOIN users r ON r.id = i.reported_by \
     LEFT JOIN users v ON v.id = i.resolved_by";

pub async fn incidents(
    pool: &AnyPool,
    community_id: i64,
    open_only: bool,
    limit: i64,
) -> Result<Vec<Incident>, sqlx::Error> {
    // Open or reported, named: the index on (community_id, state, id) then reads only those.
    let cond = if open_only { " AND i.state IN ('open', 'reported')" } else { "" };
    sqlx::query_as(&format!("{INCIDENT_SELECT} WHERE i.community_id = $1{cond} ORDER BY i.id DESC LIMIT $2"))
        .bind(community_id)
        .bind(limit)
        .fetch_all(pool)
        .await
}

pub async fn incidents_of_key(pool: &AnyPool, key_set_id: i64) -> Result<Vec<Incident>, sqlx::Error> {
    sqlx::query_as(&format!("{INCIDENT_SELECT} WHERE i.key_set_id = $1 ORDER BY i.id DESC LIMIT 50"))
        .bind(key_set_id)
        .fetch_all(pool)
        .await
}

pub async fn incident<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<Incident>, sqlx::Error> {
    sqlx::query_as(&format!("{INCIDENT_SELECT} WHERE i.id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn report_incident(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    report: &str,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE key_incidents SET state = 'reported', report = $1, reported_by = $2, reported_at = $3, \
         version = version + 1 WHERE id = $4 AND version = $5",
    )
    .bind(report)
    .bind(by)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

#[allow(clippy::too_many_arguments)]
pub async fn resolve_incident(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    resolution: &str,
    note: &str,
    lost_qty: i64,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE key_incidents SET state = 'resolved', resolution = $1, resolution_note = $2, lost_qty = $3, \
         resolved_by = $4, resolved_at = $5, version = version + 1 WHERE id = $6 AND version = $7",
    )
    .bind(resolution)
    .bind(note)
    .bind(lost_qty)
    .bind(by)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

// ---- vacant units ----

/// A vacant unit with its keys and its last inspection (R-DUTY-3).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct VacantUnit {
    pub unit_id: i64,
    pub room_no: String,
    pub key_set_id: Option<i64>,
    pub tag: Option<String>,
    pub key_state: Option<String>,
    pub on_hook: Option<i64>,
    pub last_inspected_at: Option<i64>,
    /// `good` or `attention`.
    pub last_condition: Option<String>,
    pub last_note: Option<String>,
}

pub async fn vacant_units(
    pool: &AnyPool,
    community_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<VacantUnit>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id AS unit_id, u.room_no, k.id AS key_set_id, k.tag, k.state AS key_state, k.total - k.out_qty AS on_hook, \
         i.inspected_at AS last_inspected_at, i.condition AS last_condition, i.note AS last_note FROM units u \
         LEFT JOIN key_sets k ON k.unit_id = u.id AND k.state = 'held' \
         LEFT JOIN unit_inspections i ON i.id = (SELECT j.id FROM unit_inspections j WHERE j.unit_id = u.id \
         ORDER BY j.inspected_at DESC, j.id DESC LIMIT 1) \
         WHERE u.community_id = $1 AND u.status = 'vacant' AND u.active = 1 ORDER BY u.room_no LIMIT $2 OFFSET $3",
    )
    .bind(community_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = UnitInspection)]
pub struct Inspection {
    pub id: i64,
    pub unit_id: i64,
    pub inspected_at: i64,
    pub inspected_by_name: String,
    pub condition: String,
    pub note: String,
    pub loan_id: Option<i64>,
}

pub async fn inspections(pool: &AnyPool, unit_id: i64, limit: i64) -> Result<Vec<Inspection>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.id, i.unit_id, i.inspected_at, u.display_name AS inspected_by_name, i.condition, i.note, i.loan_id \
         FROM unit_inspections i JOIN users u ON u.id = i.inspected_by WHERE i.unit_id = $1 \
         ORDER BY i.inspected_at DESC, i.id DESC LIMIT $2",
    )
    .bind(unit_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_inspection(
    tx: &mut AnyConnection,
    c: i64,
    unit_id: i64,
    condition: &str,
    note: &str,
    loan_id: Option<i64>,
    by: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO unit_inspections (community_id, unit_id, inspected_at, inspected_by, condition, note, loan_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(c)
    .bind(unit_id)
    .bind(now)
    .bind(by)
    .bind(condition)
    .bind(note)
    .bind(loan_id)
    .fetch_one(tx)
    .await
}

/// A sheet of the community by its number: id and number.
pub async fn sheet_by_number(
    conn: &mut AnyConnection,
    c: i64,
    number: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT id, number FROM sheets WHERE community_id = $1 AND number = $2")
        .bind(c)
        .bind(number)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The heads of the community's departments by grant.
pub async fn department_heads(conn: &mut AnyConnection, c: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT user_id FROM user_roles WHERE community_id = $1 AND is_head = 1")
        .bind(c)
        .fetch_all(conn)
        .await
}

/// Every cabinet holding keys: id, community, name (for the count-due reminder).
pub async fn cabinets_with_keys(pool: &AnyPool) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.community_id, c.name FROM key_cabinets c \
         WHERE EXISTS (SELECT 1 FROM key_sets k WHERE k.cabinet_id = c.id AND k.state = 'held') ORDER BY c.id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// Was the cabinet counted on `day` (YYYY-MM-DD, the community's day)?
pub async fn counted_on(pool: &AnyPool, cabinet_id: i64, day: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM key_counts WHERE cabinet_id = $1 AND day = $2")
        .bind(cabinet_id)
        .bind(day)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

/// The sign-outs of keys taken for a sheet, newest first.
pub async fn loans_for_sheet(pool: &AnyPool, sheet_id: i64) -> Result<Vec<Loan>, sqlx::Error> {
    sqlx::query_as(&format!("{LOAN_SELECT} WHERE l.sheet_id = $1 ORDER BY l.issued_at DESC, l.id DESC LIMIT 20"))
        .bind(sheet_id)
        .fetch_all(pool)
        .await
}

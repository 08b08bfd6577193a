//! Bulk loading for the generated datasets (`crate::demo`, with the `demo` feature):
//! rows written straight into the tables in multi-row inserts, bypassing the use-cases,
//! so that a million sheets load in minutes. Nothing that serves requests writes this way.

use super::{Backend, values_placeholders};
use sqlx::{AnyConnection, AnyPool};

/// A value of a row inserted in bulk.
pub enum BulkValue {
    I(i64),
    N(Option<i64>),
    S(String),
    O(Option<String>),
}

/// Parameters per statement: under SQLite's default limit (32,766) and PostgreSQL's (65,535).
const BULK_PARAMS: usize = 30_000;

/// Insert rows in multi-row statements (`head` is `INSERT INTO t (c1, …)`).
pub async fn insert_rows(
    tx: &mut AnyConnection,
    backend: Backend,
    head: &str,
    cols: usize,
    rows: Vec<Vec<BulkValue>>,
) -> Result<(), sqlx::Error> {
    let per = BULK_PARAMS / cols;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<Vec<BulkValue>> = rows.by_ref().take(per).collect();
        let sql = format!("{head} VALUES {}", values_placeholders(backend, batch.len(), cols));
        let mut q = sqlx::query(&sql);
        for row in batch {
            for v in row {
                q = match v {
                    BulkValue::I(x) => q.bind(x),
                    BulkValue::N(x) => q.bind(x),
                    BulkValue::S(x) => q.bind(x),
                    BulkValue::O(x) => q.bind(x),
                };
            }
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Sheets in bulk, 29 values a row in this column order.
pub async fn sheets(tx: &mut AnyConnection, backend: Backend, rows: Vec<Vec<BulkValue>>) -> Result<(), sqlx::Error> {
    insert_rows(
        tx,
        backend,
        "INSERT INTO sheets (id, community_id, number, year, seq, kind, channel, state, unit_id, person_id, \
         requester_name, requester_phone_masked, requester_phone_last4, reason, first_contact_id, signature_pending, \
         outcome, registered_at, dispatched_at, collected_at, archived_at, due_at, clock_state, updated_at, version, \
         warn_at, notice_level, building_id, suspension)",
        29,
        rows,
    )
    .await
}

/// Sheet events in bulk: (sheet_id, seq, at, by_user_id, by_role, name, data).
pub async fn sheet_events(
    tx: &mut AnyConnection,
    backend: Backend,
    rows: Vec<Vec<BulkValue>>,
) -> Result<(), sqlx::Error> {
    insert_rows(tx, backend, "INSERT INTO sheet_events (sheet_id, seq, at, by_user_id, by_role, name, data)", 7, rows)
        .await
}

/// Handovers in bulk, 17 values a row in the ledger's column order.
pub async fn handovers(tx: &mut AnyConnection, backend: Backend, rows: Vec<Vec<BulkValue>>) -> Result<(), sqlx::Error> {
    insert_rows(
        tx,
        backend,
        "INSERT INTO sheet_handovers (sheet_id, no, community_id, department_id, to_user_id, state, opinion, \
         handed_over_at, handed_over_by, acknowledged_at, acknowledged_by, returned_at, returned_by, result, signer, \
         received_at, received_by)",
        17,
        rows,
    )
    .await
}

/// Search terms in bulk: (community_id, term, sheet_id).
pub async fn sheet_terms(
    tx: &mut AnyConnection,
    backend: Backend,
    rows: Vec<Vec<BulkValue>>,
) -> Result<(), sqlx::Error> {
    insert_rows(tx, backend, "INSERT INTO sheet_terms (community_id, term, sheet_id)", 3, rows).await
}

/// Set a community's sheet counter for a year (after a bulk load).
pub async fn set_sheet_counter(
    tx: &mut AnyConnection,
    community_id: i64,
    year: i64,
    last: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sheet_counters (community_id, year, last_seq) VALUES ($1, $2, $3)")
        .bind(community_id)
        .bind(year)
        .bind(last)
        .execute(tx)
        .await?;
    Ok(())
}

/// Flow rows in bulk, in the store's `requests` column order (38 values a row).
pub async fn requests(tx: &mut AnyConnection, backend: Backend, rows: Vec<Vec<BulkValue>>) -> Result<(), sqlx::Error> {
    insert_rows(tx, backend, &format!("INSERT INTO requests ({})", super::request::COLUMNS), 38, rows).await
}

/// The bulk tables of follow-ups, each with its column list in the rows' value order.
#[derive(Debug, Clone, Copy)]
pub enum FollowUpTable {
    /// sheet_id, community_id, reason, period, seq, rate, draw, selected, cause, decided_at
    Decisions,
    /// community_id, reason, period, collected, selected
    Tallies,
    /// id, community_id, sheet_id, reason, state, due_at, assigned_to, created_at, method,
    /// outcome, content, contacted_at, signer, recorded_by, recorded_at, remarks,
    /// reviewed_by, reviewed_at
    FollowUps,
    /// community_id, follow_up_id, sheet_id, nonconformity, state, cause, action,
    /// responsible_id, due_at, planned_by, planned_at, rounds, implemented_note,
    /// implemented_by, implemented_at, verify_note, verified_by, verified_at, created_at
    Capas,
}

/// Rows of one follow-up table in multi-row inserts.
pub async fn follow_ups(
    tx: &mut AnyConnection,
    backend: Backend,
    table: FollowUpTable,
    rows: Vec<Vec<BulkValue>>,
) -> Result<(), sqlx::Error> {
    let (head, cols) = match table {
        FollowUpTable::Decisions => (
            "INSERT INTO follow_up_decisions (sheet_id, community_id, reason, period, seq, rate, draw, selected, \
             cause, decided_at)",
            10,
        ),
        FollowUpTable::Tallies => {
            ("INSERT INTO follow_up_tallies (community_id, reason, period, collected, selected)", 5)
        }
        FollowUpTable::FollowUps => (
            "INSERT INTO follow_ups (id, community_id, sheet_id, reason, state, due_at, assigned_to, created_at, \
             method, outcome, content, contacted_at, signer, recorded_by, recorded_at, remarks, reviewed_by, \
             reviewed_at)",
            18,
        ),
        FollowUpTable::Capas => (
            "INSERT INTO capas (community_id, follow_up_id, sheet_id, nonconformity, state, cause, action, \
             responsible_id, due_at, planned_by, planned_at, rounds, implemented_note, implemented_by, \
             implemented_at, verify_note, verified_by, verified_at, created_at)",
            19,
        ),
    };
    insert_rows(tx, backend, head, cols, rows).await
}

/// Each unit of a community with its building (a unit never moves to another building).
pub async fn unit_buildings(pool: &AnyPool, community_id: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT id, building_id FROM units WHERE community_id = $1").bind(community_id).fetch_all(pool).await
}

/// The key custody tables written in bulk, each with its column list in the rows' value
/// order (`crate::demo::bench_keys`).
#[derive(Debug, Clone, Copy)]
pub enum KeyTable {
    /// community_id, phone_confirmation, count_due_hour, updated_at, updated_by
    Settings,
    /// id, community_id, name, location, keeper_id, state, seal_no, state_at, created_at,
    /// created_by, version
    Cabinets,
    /// id, community_id, cabinet_id, tag, hook, unit_id, room, special, basis, state, total,
    /// out_qty, created_at, created_by, updated_at, version
    KeySets,
    /// community_id, key_set_id, deliverer_name, deliverer_department, delivered_at,
    /// quantity, signature_id, received_by, created_at
    Receipts,
    /// id, community_id, key_set_id, owner_name, starts_at, ends_at, scope, signature_id,
    /// state, created_by, created_at, ended_by, ended_at, version
    Agreements,
    /// id, agreement_id, name, relation, phone_enc, phone_masked
    AgreementPeople,
    /// id, community_id, key_set_id, requested_by, reason, state, decided_by, decided_at,
    /// expires_at, created_at, version
    Approvals,
    /// id, community_id, key_set_id, quantity, returned, reason_kind, reason, taker_kind,
    /// taker_user_id, taker_name, taker_phone_enc, taker_phone_masked, authorisation,
    /// agreement_id, agreement_person_id, phone_confirmed_by, phone_confirmed_at,
    /// phone_confirmed_number, approval_id, taker_signature_id, issued_by, issued_at, due_at,
    /// closed_at, version
    Loans,
    /// community_id, loan_id, quantity, returner_name, signature_id, received_by, returned_at
    Returns,
    /// community_id, unit_id, inspected_at, inspected_by, condition, note, loan_id
    Inspections,
    /// community_id, cabinet_id, step, seal_no, seal_intact, first_user, at
    CabinetLog,
    /// id, community_id, cabinet_id, day, counted_by, counted_at, lines, differences
    Counts,
    /// count_id, key_set_id, expected, counted
    CountLines,
    /// community_id, cabinet_id, key_set_id, kind, count_id, loan_id, expected, counted,
    /// detail, state, opened_by, opened_at, report, reported_by, reported_at, resolution,
    /// resolution_note, resolved_by, resolved_at, version
    Incidents,
}

/// Rows of one key custody table in multi-row inserts.
pub async fn key_rows(
    tx: &mut AnyConnection,
    backend: Backend,
    table: KeyTable,
    rows: Vec<Vec<BulkValue>>,
) -> Result<(), sqlx::Error> {
    let (head, cols) = match table {
        KeyTable::Settings => {
            ("INSERT INTO key_settings (community_id, phone_confirmation, count_due_hour, updated_at, updated_by)", 5)
        }
        KeyTable::Cabinets => (
            "INSERT INTO key_cabinets (id, community_id, name, location, keeper_id, state, seal_no, state_at, \
             created_at, created_by, version)",
            11,
        ),
        KeyTable::KeySets => (
            "INSERT INTO key_sets (id, community_id, cabinet_id, tag, hook, unit_id, room, special, basis, state, \
             total, out_qty, created_at, created_by, updated_at, version)",
            16,
        ),
        KeyTable::Receipts => (
            "INSERT INTO key_receipts (community_id, key_set_id, deliverer_name, deliverer_department, \
             delivered_at, quantity, signature_id, received_by, created_at)",
            9,
        ),
        KeyTable::Agreements => (
            "INSERT INTO key_agreements (id, community_id, key_set_id, owner_name, starts_at, ends_at, scope, \
             signature_id, state, created_by, created_at, ended_by, ended_at, version)",
            14,
        ),
        KeyTable::AgreementPeople => {
            ("INSERT INTO key_agreement_people (id, agreement_id, name, relation, phone_enc, phone_masked)", 6)
        }
        KeyTable::Approvals => (
            "INSERT INTO key_approvals (id, community_id, key_set_id, requested_by, reason, state, decided_by, \
             decided_at, expires_at, created_at, version)",
            11,
        ),
        KeyTable::Loans => (
            "INSERT INTO key_loans (id, community_id, key_set_id, quantity, returned, reason_kind, reason, \
             taker_kind, taker_user_id, taker_name, taker_phone_enc, taker_phone_masked, authorisation, \
             agreement_id, agreement_person_id, phone_confirmed_by, phone_confirmed_at, phone_confirmed_number, \
             approval_id, taker_signature_id, issued_by, issued_at, due_at, closed_at, version)",
            25,
        ),
        KeyTable::Returns => (
            "INSERT INTO key_returns (community_id, loan_id, quantity, returner_name, signature_id, received_by, \
             returned_at)",
            7,
        ),
        KeyTable::Inspections => (
            "INSERT INTO unit_inspections (community_id, unit_id, inspected_at, inspected_by, condition, note, \
             loan_id)",
            7,
        ),
        KeyTable::CabinetLog => {
            ("INSERT INTO key_cabinet_log (community_id, cabinet_id, step, seal_no, seal_intact, first_user, at)", 7)
        }
        KeyTable::Counts => (
            "INSERT INTO key_counts (id, community_id, cabinet_id, day, counted_by, counted_at, lines, differences)",
            8,
        ),
        KeyTable::CountLines => ("INSERT INTO key_count_lines (count_id, key_set_id, expected, counted)", 4),
        KeyTable::Incidents => (
            "INSERT INTO key_incidents (community_id, cabinet_id, key_set_id, kind, count_id, loan_id, expected, \
             counted, detail, state, opened_by, opened_at, report, reported_by, reported_at, resolution, \
             resolution_note, resolved_by, resolved_at, version)",
            20,
        ),
    };
    insert_rows(tx, backend, head, cols, rows).await
}

/// Reserve `n` consecutive ids of `table` for rows inserted in bulk with their ids: the
/// first of them. SQLite has one writer, so the ids after the largest are free; PostgreSQL
/// moves the identity sequence past them in one step (nothing else writes during a load).
pub async fn reserve_ids(
    tx: &mut AnyConnection,
    backend: Backend,
    table: &'static str,
    n: usize,
) -> Result<i64, sqlx::Error> {
    match backend {
        Backend::Sqlite => {
            let max: i64 =
                sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}")).fetch_one(&mut *tx).await?;
            Ok(max + 1)
        }
        Backend::Postgres => {
            let sequence = format!("pg_get_serial_sequence('{table}', 'id')");
            let first: i64 = sqlx::query_scalar(&format!("SELECT nextval({sequence})")).fetch_one(&mut *tx).await?;
            if n > 1 {
                sqlx::query(&format!("SELECT setval({sequence}, $1)"))
                    .bind(first + n as i64 - 1)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(first)
        }
    }
}

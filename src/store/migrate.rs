//! Schema migrations: one history per backend, identical version numbers, each step
//! applied in its own transaction and recorded with a checksum so that an edited
//! migration is refused rather than silently diverging.

use super::{Backend, Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($dir:literal: $($v:literal $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $v,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $dir, "/", stringify!($v), "_", $name, ".sql")),
        }),*]
    };
}

pub static MIGRATIONS_SQLITE: &[Migration] = migrations!("sqlite": 1 "foundation", 2 "sheets", 3 "clocks_and_notices", 4 "sheet_search", 5 "sheet_queues", 6 "requests", 7 "requester_phone", 8 "board_repairs_only", 9 "technician_jobs_covered", 10 "follow_ups", 11 "follow_up_year", 12 "reports", 13 "report_indexes", 14 "credentials_and_keyed_audit", 15 "sheet_returns", 16 "calendar_spans", 17 "follow_up_attempts", 18 "weekly_review", 19 "person_id_numbers", 20 "notice_params", 21 "repair_photos", 22 "sheet_presets", 23 "typed_signatures", 24 "audit_chains", 25 "keys", 26 "key_indexes");
pub static MIGRATIONS_POSTGRES: &[Migration] = migrations!("postgres": 1 "foundation", 2 "sheets", 3 "clocks_and_notices", 4 "sheet_search", 5 "sheet_queues", 6 "requests", 7 "requester_phone", 8 "board_repairs_only", 9 "technician_jobs_covered", 10 "follow_ups", 11 "follow_up_year", 12 "reports", 13 "report_indexes", 14 "credentials_and_keyed_audit", 15 "sheet_returns", 16 "calendar_spans", 17 "follow_up_attempts", 18 "weekly_review", 19 "person_id_numbers", 20 "notice_params", 21 "repair_photos", 22 "sheet_presets", 23 "typed_signatures", 24 "audit_chains", 25 "keys", 26 "key_indexes");

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

pub(super) async fn run(store: &Store) -> Result<Vec<i64>, StoreError> {
    let list = match store.backend {
        Backend::Sqlite => MIGRATIONS_SQLITE,
        Backend::Postgres => MIGRATIONS_POSTGRES,
    };
    let create = match store.backend {
        Backend::Sqlite => {
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, \
             name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT"
        }
        Backend::Postgres => {
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
             name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        }
    };
    sqlx::raw_sql(create).execute(&store.write).await?;
    let applied: Vec<(i64, String)> = sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
        .fetch_all(&store.write)
        .await?
        .into_iter()
        .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
        .collect();
    for (v, sum) in &applied {
        match list.iter().find(|m| m.version == *v) {
            None => return Err(StoreError::UnknownMigration(*v)),
            Some(m) if checksum(m.sql) != *sum => {
                return Err(StoreError::MigrationChanged { version: m.version, name: m.name.into() });
            }
            Some(_) => {}
        }
    }
    let mut done = Vec::new();
    for m in list {
        if applied.iter().any(|(v, _)| *v == m.version) {
            continue;
        }
        let mut tx = store.write.begin().await?;
        sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
            .bind(m.version)
            .bind(m.name)
            .bind(checksum(m.sql))
            // When the schema changed on this machine: the system's time, not a use-case's.
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        done.push(m.version);
    }
    Ok(done)
}

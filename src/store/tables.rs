//! The schema as the database itself describes it — tables, columns, keys and foreign
//! keys read from the catalogue — and what backups, restores and `huiqian copy` do with
//! every table: summarise it (rows and a checksum that is the same on both backends) and
//! copy it value for value. Nothing here keeps a list of tables: a table a migration adds
//! is covered the moment it exists.

use super::{BATCH_ROWS, Backend, values_placeholders};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// The table of applied migrations: every database has its own, so it is never copied
/// or compared (the versions are compared instead).
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

/// The two kinds of column huiqian stores: integers (ids, instants, money in fen, flags)
/// and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

/// A table as the catalogue describes it. Columns are in name order, so that the same
/// table compares equal on both backends whatever order its columns were added in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key's columns.
    pub key: Vec<String>,
    /// Tables this one's foreign keys point at.
    pub references: BTreeSet<String>,
}

impl Table {
    fn column_list(&self) -> String {
        self.columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("column {table}.{column} has type {ty}, which huiqian does not store")]
    UnknownType { table: String, column: String, ty: String },
    #[error("table {0} has no primary key")]
    NoKey(String),
}

/// Every table of the application (all but SQLite's own and the migrations table), in
/// name order.
pub async fn tables(conn: &mut AnyConnection, backend: Backend) -> Result<Vec<Table>, SchemaError> {
    let names: Vec<String> = match backend {
        Backend::Sqlite => {
            sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 AND name <> $1 ORDER BY name",
            )
            .bind(MIGRATIONS_TABLE)
            .fetch_all(&mut *conn)
            .await?
        }
        Backend::Postgres => {
            sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
                 AND table_type = 'BASE TABLE' AND table_name <> $1 ORDER BY table_name",
            )
            .bind(MIGRATIONS_TABLE)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        out.push(describe(conn, backend, name).await?);
    }
    Ok(out)
}

async fn describe(conn: &mut AnyConnection, backend: Backend, name: String) -> Result<Table, SchemaError> {
    let (cols, key, references): (Vec<(String, String)>, Vec<String>, Vec<String>) = match backend {
        Backend::Sqlite => {
            let rows = sqlx::query("SELECT name, type, pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await?;
            let mut key: Vec<(i64, String)> = rows
                .iter()
                .filter(|r| r.get::<i64, _>(2) > 0)
                .map(|r| (r.get::<i64, _>(2), r.get::<String, _>(0)))
                .collect();
            key.sort();
            let cols = rows.iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))).collect();
            let refs = sqlx::query_scalar("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list($1)")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await?;
            (cols, key.into_iter().map(|(_, c)| c).collect(), refs)
        }
        Backend::Postgres => {
            let cols = sqlx::query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(&name)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
            .collect();
            let key = sqlx::query_scalar(
                "SELECT a.attname::text FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = to_regclass(quote_ident($1)) AND i.indisprimary \
                 ORDER BY array_position(i.indkey::int2[], a.attnum)",
            )
            .bind(&name)
            .fetch_all(&mut *conn)
            .await?;
            let refs = sqlx::query_scalar(
                "SELECT DISTINCT t.relname::text FROM pg_constraint c JOIN pg_class t ON t.oid = c.confrelid \
                 WHERE c.conrelid = to_regclass(quote_ident($1)) AND c.contype = 'f'",
            )
            .bind(&name)
            .fetch_all(&mut *conn)
            .await?;
            (cols, key, refs)
        }
    };
    let mut columns = Vec::with_capacity(cols.len());
    for (column, ty) in cols {
        let t = match ty.to_ascii_lowercase().as_str() {
            "integer" | "bigint" | "smallint" => ColumnType::Integer,
            "text" | "character varying" => ColumnType::Text,
            _ => return Err(SchemaError::UnknownType { table: name, column, ty }),
        };
        columns.push(Column { name: column, ty: t });
    }
    columns.sort_by(|a, b| a.name.cmp(&b.name));
    if key.is_empty() {
        return Err(SchemaError::NoKey(name));
    }
    let references = references.into_iter().filter(|r| *r != name).collect();
    Ok(Table { name, columns, key, references })
}

/// The tables in an order in which every row's foreign keys point at rows already
/// copied: each table after the tables it references (ties by name).
pub fn dependency_order(tables: &[Table]) -> Vec<&Table> {
    let by_name: BTreeMap<&str, &Table> = tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::with_capacity(tables.len());
    while out.len() < tables.len() {
        let before = out.len();
        for t in tables {
            if done.contains(t.name.as_str()) {
                continue;
            }
            let ready = t.references.iter().all(|r| done.contains(r.as_str()) || !by_name.contains_key(r.as_str()));
            if ready {
                done.insert(&t.name);
                out.push(t);
            }
        }
        if out.len() == before {
            // A cycle (none exists today): the rest in name order; the copy's single
            // transaction then fails loudly on the first dangling key rather than
            // leaving anything half-copied.
            out.extend(tables.iter().filter(|t| !done.contains(t.name.as_str())));
            break;
        }
    }
    out
}

/// A value as both backends store it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Null,
    Integer(i64),
    Text(String),
}

fn read_row(row: &sqlx::any::AnyRow, table: &Table) -> Result<Vec<Value>, sqlx::Error> {
    let mut out = Vec::with_capacity(table.columns.len());
    for (i, c) in table.columns.iter().enumerate() {
        out.push(match c.ty {
            ColumnType::Integer => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Integer),
            ColumnType::Text => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::Text),
        });
    }
    Ok(out)
}

/// Rows and a checksum of a table's content. The checksum is the sum (per 64-bit lane,
/// wrapping) of each row's SHA-256 over its values in column-name order, so it does not
/// depend on the order rows are read in nor on the backend.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub rows: i64,
    pub checksum: String,
}

#[derive(Default)]
struct Accumulator {
    rows: i64,
    lanes: [u64; 4],
}

impl Accumulator {
    fn add(&mut self, values: &[Value]) {
        let mut h = Sha256::new();
        for v in values {
            match v {
                Value::Null => h.update([0u8]),
                Value::Integer(i) => {
                    h.update([1u8]);
                    h.update(i.to_be_bytes());
                }
                Value::Text(s) => {
                    h.update([2u8]);
                    h.update((s.len() as u64).to_be_bytes());
                    h.update(s.as_bytes());
                }
            }
        }
        let d = h.finalize();
        for (lane, chunk) in self.lanes.iter_mut().zip(d.chunks_exact(8)) {
            *lane = lane.wrapping_add(u64::from_be_bytes(chunk.try_into().expect("8 bytes")));
        }
        self.rows += 1;
    }

    fn finish(self) -> Summary {
        let checksum = self.lanes.iter().map(|l| format!("{l:016x}")).collect();
        Summary { rows: self.rows, checksum }
    }
}

/// Summarise one table, reading every row.
pub async fn summarise(conn: &mut AnyConnection, table: &Table) -> Result<Summary, sqlx::Error> {
    let sql = format!("SELECT {} FROM \"{}\"", table.column_list(), table.name);
    let mut acc = Accumulator::default();
    let mut rows = sqlx::query(&sql).fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        acc.add(&read_row(&row, table)?);
    }
    Ok(acc.finish())
}

/// Summarise every table, by name.
pub async fn summarise_all(
    conn: &mut AnyConnection,
    tables: &[Table],
) -> Result<BTreeMap<String, Summary>, sqlx::Error> {
    let mut out = BTreeMap::new();
    for t in tables {
        out.insert(t.name.clone(), summarise(conn, t).await?);
    }
    Ok(out)
}

/// Parameters per statement: under SQLite's default limit (32,766) and PostgreSQL's (65,535).
const COPY_PARAMS: usize = 30_000;

/// Copy every row of `table` from `src` into the same table on `dst`, values exactly as
/// stored (hashes, ciphertexts and instants are never recomputed). With `upsert`, a row
/// whose key is already there (a row a migration seeds, like the audit chain's head) is
/// replaced by the source's. Returns the rows copied.
pub async fn copy_rows(
    src: &mut AnyConnection,
    dst: &mut AnyConnection,
    dst_backend: Backend,
    table: &Table,
    upsert: bool,
) -> Result<u64, sqlx::Error> {
    let cols = table.columns.len();
    let head = format!("INSERT INTO \"{}\" ({}) VALUES ", table.name, table.column_list());
    let tail = if upsert {
        let keys = table.key.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
        let set: Vec<String> = table
            .columns
            .iter()
            .filter(|c| !table.key.contains(&c.name))
            .map(|c| format!("\"{0}\" = EXCLUDED.\"{0}\"", c.name))
            .collect();
        if set.is_empty() {
            format!(" ON CONFLICT ({keys}) DO NOTHING")
        } else {
            format!(" ON CONFLICT ({keys}) DO UPDATE SET {}", set.join(", "))
        }
    } else {
        String::new()
    };
    let per = (COPY_PARAMS / cols).clamp(1, BATCH_ROWS * 10);
    let sql = format!("SELECT {} FROM \"{}\"", table.column_list(), table.name);
    let mut rows = sqlx::query(&sql).fetch(&mut *src);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per);
    let mut copied = 0u64;
    loop {
        let next = rows.try_next().await?;
        if let Some(row) = &next {
            batch.push(read_row(row, table)?);
        }
        if batch.len() == per || (next.is_none() && !batch.is_empty()) {
            let stmt = format!("{head}{}{tail}", values_placeholders(dst_backend, batch.len(), cols));
            let mut q = sqlx::query(&stmt);
            for row in batch.drain(..) {
                for (v, c) in row.into_iter().zip(&table.columns) {
                    // A NULL is bound with its column's type: PostgreSQL refuses a NULL
                    // bigint for a text column.
                    q = match (v, c.ty) {
                        (Value::Null, ColumnType::Integer) => q.bind(None::<i64>),
                        (Value::Null, ColumnType::Text) => q.bind(None::<String>),
                        (Value::Integer(i), _) => q.bind(i),
                        (Value::Text(s), _) => q.bind(s),
                    };
                }
            }
            copied += q.execute(&mut *dst).await?.rows_affected();
        }
        if next.is_none() {
            break;
        }
    }
    Ok(copied)
}

/// After rows were copied in with their ids, move each identity sequence past the
/// largest id, so that the next row PostgreSQL numbers does not collide. (SQLite takes
/// the next rowid from the table itself.)
pub async fn reset_sequences(conn: &mut AnyConnection, backend: Backend, table: &Table) -> Result<(), sqlx::Error> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    let identity: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name = $1 AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
    )
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await?;
    for column in identity {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX(\"{column}\"), 0) + 1, false) FROM \"{}\"",
            table.name
        ))
        .bind(format!("\"{}\"", table.name))
        .bind(&column)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The migration versions a database has applied.
pub async fn migration_versions(conn: &mut AnyConnection) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version")).fetch_all(conn).await
}

/// The SHA-256 of every stored attachment: the files in the attachments folder that a
/// backup must carry and a restore must find.
pub async fn attachment_hashes(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT sha256 FROM attachments ORDER BY sha256").fetch_all(conn).await
}

/// `PRAGMA integrity_check` on SQLite: `ok`, or the problems it found (at most 20).
pub async fn sqlite_integrity(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(20)").fetch_all(&mut *conn).await?;
    Ok(if lines.len() == 1 && lines[0] == "ok" { vec![] } else { lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, refs: &[&str]) -> Table {
        Table {
            name: name.into(),
            columns: vec![],
            key: vec!["id".into()],
            references: refs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn tables_come_after_the_tables_they_reference() {
        let list = vec![t("a_events", &["sheets", "users"]), t("sheets", &["users"]), t("users", &[]), t("z", &[])];
        let order: Vec<&str> = dependency_order(&list).iter().map(|t| t.name.as_str()).collect();
        assert_eq!(order, ["users", "z", "sheets", "a_events"]);
    }

    #[test]
    fn the_checksum_ignores_row_order_but_not_values() {
        let rows = [
            vec![Value::Integer(1), Value::Text("和园".into()), Value::Null],
            vec![Value::Integer(2), Value::Text("柳园".into()), Value::Integer(0)],
        ];
        let sum = |order: &[usize]| {
            let mut a = Accumulator::default();
            for &i in order {
                a.add(&rows[i]);
            }
            a.finish()
        };
        assert_eq!(sum(&[0, 1]), sum(&[1, 0]));
        assert_eq!(sum(&[0, 1]).rows, 2);
        let mut changed = Accumulator::default();
        changed.add(&rows[0]);
        changed.add(&[Value::Integer(2), Value::Text("柳园".into()), Value::Null]);
        assert_ne!(changed.finish(), sum(&[0, 1]), "NULL and 0 differ");
        // Text boundaries are part of the hash: ("ab", "c") is not ("a", "bc").
        let mut a = Accumulator::default();
        a.add(&[Value::Text("ab".into()), Value::Text("c".into())]);
        let mut b = Accumulator::default();
        b.add(&[Value::Text("a".into()), Value::Text("bc".into())]);
        assert_ne!(a.finish(), b.finish());
    }
}

//! The two migration histories (`migrations/sqlite`, `migrations/postgres`) must build
//! the same schema: the same tables with the same columns, types, nullability and
//! defaults, the same keys and unique constraints, and the same indexes (name, columns,
//! uniqueness, partial predicate). Both schemas are built from scratch in one test,
//! whatever `HUIQIAN_TEST_BACKEND` says, and read back from each database's catalogue.
//!
//! What the two dialects spell differently is forgiven only through the explicit
//! equivalences below; everything else that differs is reported, one line per
//! difference.

use crate::harness::fresh_postgres_url;
use huiqian::store::{Backend, Store};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Declared SQLite type → the PostgreSQL type it stands for. Nothing else is equal.
///
/// - `INTEGER` is SQLite's only integer type (64-bit); PostgreSQL's equal is `bigint`.
///   A PostgreSQL `integer` (32-bit) would not do: counts and ids are decoded as i64.
/// - `TEXT` is `text` on both; `character varying` is accepted as PostgreSQL's spelling
///   of a string without a length limit that SQLite would not enforce anyway.
/// - `BLOB` ↔ `bytea`, `REAL` ↔ `double precision`, should either ever be used.
const TYPE_EQUIVALENCES: &[(&str, &str)] = &[
    ("INTEGER", "bigint"),
    ("TEXT", "text"),
    ("TEXT", "character varying"),
    ("BLOB", "bytea"),
    ("REAL", "double precision"),
];

/// Indexes that exist on one backend only, each with the reason. Nothing else may.
const ONE_BACKEND_ONLY_INDEXES: &[(&str, &str)] = &[
    // PostgreSQL reads a sheet's first contact and deadline from this index alone for
    // staff performance; SQLite reads a row by its rowid as cheaply (migration 13).
    ("sheets_owner", "postgres"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    /// The type, in SQLite's spelling (PostgreSQL's is mapped through TYPE_EQUIVALENCES).
    ty: String,
    not_null: bool,
    /// The default, normalised (see `normalise`), if any.
    default: Option<String>,
    /// PostgreSQL: an identity column. SQLite: an `INTEGER PRIMARY KEY` (the rowid).
    generated_id: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    table: String,
    /// The indexed columns or expressions, normalised.
    columns: String,
    unique: bool,
    /// The partial index's predicate, normalised.
    predicate: Option<String>,
}

#[derive(Debug, Default)]
struct Schema {
    /// table → column → description.
    tables: BTreeMap<String, BTreeMap<String, Column>>,
    /// table → primary key columns in key order.
    keys: BTreeMap<String, Vec<String>>,
    /// table → the column lists of its UNIQUE constraints.
    uniques: BTreeMap<String, BTreeSet<Vec<String>>>,
    /// Indexes created by name (`CREATE [UNIQUE] INDEX`).
    indexes: BTreeMap<String, Index>,
    /// `version_name` of every applied migration.
    migrations: BTreeSet<String>,
}

/// One spelling of what both dialects say in their own way: lower case, no casts
/// (`'x'::text`, `(0)::bigint`), `= ANY (ARRAY[…])` as `IN (…)`, no parentheses, no
/// white space. Good enough for the defaults and index expressions huiqian writes; a
/// difference it cannot see through is reported rather than hidden.
fn normalise(s: &str) -> String {
    let mut s = s.to_lowercase();
    while let Some(i) = s.find("::") {
        let rest = &s[i + 2..];
        let mut end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        // The types whose names are two words.
        for second in [" varying", " precision"] {
            if rest[end..].starts_with(second) {
                end += second.len();
            }
        }
        if rest[end..].starts_with("[]") {
            end += 2;
        }
        s = format!("{}{}", &s[..i], &rest[end..]);
    }
    let s =
        s.replace("!=", "<>").replace("<> all (array[", " not in (").replace("= any (array[", " in (").replace(']', "");
    s.chars().filter(|c| !c.is_whitespace() && *c != '(' && *c != ')').collect()
}

/// The text inside the parenthesis that opens at byte `open` of `s`, and the byte after
/// its closing parenthesis.
fn group(s: &str, open: usize) -> (&str, usize) {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return (&s[open + 1..open + i], open + i + 1);
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {s}")
}

/// `(columns)` and `WHERE predicate` of a `CREATE INDEX` text as either database
/// reports it (SQLite: as written; PostgreSQL: `pg_get_indexdef`).
///
/// PostgreSQL's `INCLUDE (…)` columns count as trailing columns of the key: SQLite has
/// no `INCLUDE`, and the same index-only reads come from putting them last in the key
/// (migration 13's covering indexes are written so on each backend).
fn index_parts(def: &str) -> (String, Option<String>) {
    let lower = def.to_lowercase();
    let on = lower.find(" on ").expect("CREATE INDEX … ON");
    let open = on + lower[on..].find('(').expect("an index has a column list");
    let (key, mut rest) = group(def, open);
    let mut columns = normalise(key);
    if lower[rest..].trim_start().starts_with("include") {
        let open = rest + lower[rest..].find('(').expect("INCLUDE (columns)");
        let (included, after) = group(def, open);
        columns = format!("{columns},{}", normalise(included));
        rest = after;
    }
    let predicate = lower[rest..].find(" where ").map(|w| normalise(&def[rest + w + 7..]));
    (columns, predicate)
}

async fn build(url: &str) -> (Store, AnyConnection) {
    let store = Store::connect(url, true).await.expect("open database");
    store.migrate().await.expect("migrations apply");
    let conn = store.read().acquire().await.expect("connection").detach();
    (store, conn)
}

async fn sqlite_schema(c: &mut AnyConnection) -> Schema {
    let mut s = Schema::default();
    let tables: Vec<(String, String)> = sqlx::query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *c)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    for (table, sql) in &tables {
        let rows =
            sqlx::query("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut *c)
                .await
                .unwrap();
        let mut key: Vec<(i64, String)> = rows
            .iter()
            .filter(|r| r.get::<i64, _>(4) > 0)
            .map(|r| (r.get::<i64, _>(4), r.get::<String, _>(0)))
            .collect();
        key.sort();
        let key: Vec<String> = key.into_iter().map(|(_, n)| n).collect();
        let without_rowid = sql.to_lowercase().contains("without rowid");
        let mut columns = BTreeMap::new();
        for r in &rows {
            let name: String = r.get(0);
            let ty: String = r.get::<String, _>(1).to_uppercase();
            let in_key = key.contains(&name);
            // The rowid's alias: the only key column, declared INTEGER, of a rowid table.
            let rowid = in_key && key.len() == 1 && ty == "INTEGER" && !without_rowid;
            columns.insert(
                name,
                Column {
                    ty,
                    // Key columns cannot be NULL: the rowid never is, and STRICT and
                    // WITHOUT ROWID tables refuse NULL in their keys.
                    not_null: r.get::<i64, _>(2) == 1 || in_key,
                    default: r.get::<Option<String>, _>(3).map(|d| normalise(&d)),
                    generated_id: rowid,
                },
            );
        }
        s.tables.insert(table.clone(), columns);
        s.keys.insert(table.clone(), key);
        let list = sqlx::query("SELECT name, \"unique\", origin FROM pragma_index_list($1)")
            .bind(table)
            .fetch_all(&mut *c)
            .await
            .unwrap();
        let uniques = s.uniques.entry(table.clone()).or_default();
        for r in &list {
            let name: String = r.get(0);
            match r.get::<String, _>(2).as_str() {
                "u" => {
                    let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                        .bind(&name)
                        .fetch_all(&mut *c)
                        .await
                        .unwrap();
                    uniques.insert(cols);
                }
                "c" => {
                    let def: String =
                        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1")
                            .bind(&name)
                            .fetch_one(&mut *c)
                            .await
                            .unwrap();
                    let (columns, predicate) = index_parts(&def);
                    let unique = r.get::<i64, _>(1) == 1;
                    s.indexes.insert(name, Index { table: table.clone(), columns, unique, predicate });
                }
                // The primary key's own index: compared as the key.
                _ => {}
            }
        }
    }
    s.migrations = applied(c).await;
    s
}

async fn postgres_schema(c: &mut AnyConnection) -> Schema {
    let mut s = Schema::default();
    let pg_to_sqlite: BTreeMap<&str, &str> = TYPE_EQUIVALENCES.iter().map(|(l, p)| (*p, *l)).collect();
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, column_default::text, \
         is_identity::text FROM information_schema.columns c WHERE table_schema = current_schema() \
         AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = c.table_schema \
         AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE') ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut *c)
    .await
    .unwrap();
    for r in &rows {
        let (table, name, ty): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let ty = pg_to_sqlite.get(ty.as_str()).map_or_else(|| format!("(PostgreSQL {ty})"), |t| t.to_string());
        s.tables.entry(table).or_default().insert(
            name,
            Column {
                ty,
                not_null: r.get::<String, _>(3) == "NO",
                default: r.get::<Option<String>, _>(4).map(|d| normalise(&d)),
                generated_id: r.get::<String, _>(5) == "YES",
            },
        );
    }
    // Keys, UNIQUE constraints and named indexes, from the indexes behind them.
    // The Any driver decodes no arrays: the key's columns come as one string.
    let rows = sqlx::query(
        "SELECT t.relname::text, i.relname::text, CASE WHEN x.indisprimary THEN 1 ELSE 0 END, \
         CASE WHEN x.indisunique THEN 1 ELSE 0 END, COALESCE(k.contype::text, ''), pg_get_indexdef(x.indexrelid), \
         array_to_string(ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY u(n, o) \
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n ORDER BY u.o), ',') \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
         LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid \
         WHERE t.relnamespace = current_schema()::regnamespace ORDER BY 1, 2",
    )
    .fetch_all(&mut *c)
    .await
    .unwrap();
    for r in &rows {
        let (table, name): (String, String) = (r.get(0), r.get(1));
        let primary = r.get::<i32, _>(2) == 1;
        let unique = r.get::<i32, _>(3) == 1;
        let constraint: String = r.get(4);
        let def: String = r.get(5);
        let cols: Vec<String> = r.get::<String, _>(6).split(',').map(str::to_string).collect();
        if primary {
            s.keys.insert(table, cols);
        } else if constraint == "u" {
            s.uniques.entry(table).or_default().insert(cols);
        } else {
            let (columns, predicate) = index_parts(&def);
            s.indexes.insert(name, Index { table, columns, unique, predicate });
        }
    }
    for t in s.tables.keys() {
        s.uniques.entry(t.clone()).or_default();
        s.keys.entry(t.clone()).or_default();
    }
    s.migrations = applied(c).await;
    s
}

async fn applied(c: &mut AnyConnection) -> BTreeSet<String> {
    sqlx::query("SELECT version, name FROM schema_migrations")
        .fetch_all(&mut *c)
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{}_{}", r.get::<i64, _>(0), r.get::<String, _>(1)))
        .collect()
}

/// Note a difference: one side has `what` and the other not, or both have it differently.
fn both(out: &mut Vec<String>, what: &str, l: Option<String>, p: Option<String>) {
    match (l, p) {
        (Some(l), Some(p)) if l != p => out.push(format!("{what}: SQLite {l} / PostgreSQL {p}")),
        (Some(_), None) => out.push(format!("{what}: only on SQLite")),
        (None, Some(_)) => out.push(format!("{what}: only on PostgreSQL")),
        _ => {}
    }
}

/// Every difference between the two schemas, one readable line each.
fn differences(lite: &Schema, pg: &Schema) -> Vec<String> {
    let mut out = vec![];
    let names: BTreeSet<&String> = lite.tables.keys().chain(pg.tables.keys()).collect();
    for t in names {
        let (lc, pc) = (lite.tables.get(t), pg.tables.get(t));
        if lc.is_none() || pc.is_none() {
            both(&mut out, &format!("table {t}"), lc.map(|_| String::new()), pc.map(|_| String::new()));
            continue;
        }
        let (lc, pc) = (lc.unwrap(), pc.unwrap());
        let cols: BTreeSet<&String> = lc.keys().chain(pc.keys()).collect();
        for col in cols {
            let (l, p) = (lc.get(col), pc.get(col));
            let what = format!("column {t}.{col}");
            match (l, p) {
                (Some(l), Some(p)) => {
                    both(&mut out, &format!("{what} type"), Some(l.ty.clone()), Some(p.ty.clone()));
                    both(
                        &mut out,
                        &format!("{what} NOT NULL"),
                        Some(l.not_null.to_string()),
                        Some(p.not_null.to_string()),
                    );
                    both(
                        &mut out,
                        &format!("{what} default"),
                        Some(format!("{:?}", l.default)),
                        Some(format!("{:?}", p.default)),
                    );
                    // PostgreSQL numbers new rows only through an identity column; a
                    // SQLite rowid numbers them too, but a key the application always
                    // gives (audit_log.seq) needs no identity on PostgreSQL.
                    if p.generated_id && !l.generated_id {
                        out.push(format!("{what}: an identity on PostgreSQL but not SQLite's INTEGER PRIMARY KEY"));
                    }
                }
                (l, p) => both(&mut out, &what, l.map(|_| String::new()), p.map(|_| String::new())),
            }
        }
        both(
            &mut out,
            &format!("primary key of {t}"),
            lite.keys.get(t).map(|k| k.join(", ")),
            pg.keys.get(t).map(|k| k.join(", ")),
        );
        both(
            &mut out,
            &format!("UNIQUE constraints of {t}"),
            lite.uniques.get(t).map(|u| format!("{u:?}")),
            pg.uniques.get(t).map(|u| format!("{u:?}")),
        );
    }
    let names: BTreeSet<&String> = lite.indexes.keys().chain(pg.indexes.keys()).collect();
    for i in names {
        let only = match (lite.indexes.contains_key(i), pg.indexes.contains_key(i)) {
            (true, false) => Some("sqlite"),
            (false, true) => Some("postgres"),
            _ => None,
        };
        if let Some(side) = only
            && ONE_BACKEND_ONLY_INDEXES.contains(&(i.as_str(), side))
        {
            continue;
        }
        both(
            &mut out,
            &format!("index {i}"),
            lite.indexes.get(i).map(|x| format!("{x:?}")),
            pg.indexes.get(i).map(|x| format!("{x:?}")),
        );
    }
    let names: BTreeSet<&String> = lite.migrations.iter().chain(pg.migrations.iter()).collect();
    for m in names {
        both(
            &mut out,
            &format!("applied migration {m}"),
            lite.migrations.contains(m).then(String::new),
            pg.migrations.contains(m).then(String::new),
        );
    }
    out
}

/// The `.sql` files of one backend's migration folder.
fn migration_files(backend: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".sql").map(str::to_string))
        .collect()
}

/// Both migration histories build one schema: tables, columns (type up to the declared
/// equivalences, nullability, default), keys, UNIQUE constraints and indexes agree, and
/// every migration file exists for both backends and is applied by both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (lite_store, mut lite) = build(&format!("sqlite://{}", dir.path().join("schema.db").display())).await;
    let (pg_store, mut pg) = build(&fresh_postgres_url().await).await;
    assert_eq!(lite_store.backend(), Backend::Sqlite);
    assert_eq!(pg_store.backend(), Backend::Postgres);
    let (l, p) = (sqlite_schema(&mut lite).await, postgres_schema(&mut pg).await);
    // The reading itself must have found something on both sides.
    assert!(l.tables.len() > 20 && l.indexes.len() > 20, "SQLite catalogue read: {:?}", l.tables.keys());
    assert!(p.tables.len() > 20 && p.indexes.len() > 20, "PostgreSQL catalogue read: {:?}", p.tables.keys());

    let mut diff = differences(&l, &p);
    let (lf, pf) = (migration_files("sqlite"), migration_files("postgres"));
    for f in lf.symmetric_difference(&pf) {
        let side = if lf.contains(f) { "sqlite" } else { "postgres" };
        diff.push(format!("migration {f}.sql exists only in migrations/{side}"));
    }
    for f in lf.union(&pf) {
        if !l.migrations.contains(f) || !p.migrations.contains(f) {
            diff.push(format!("migration file {f}.sql is not applied by both backends"));
        }
    }
    assert!(diff.is_empty(), "the two migration histories disagree:\n  {}", diff.join("\n  "));
}

#[test]
fn normalising_sees_through_the_dialects_spellings() {
    assert_eq!(normalise("'zh-CN'::text"), normalise("'zh-CN'"));
    assert_eq!(normalise("(0)::bigint"), "0");
    assert_eq!(
        index_parts(
            "CREATE UNIQUE INDEX user_roles_unique ON s.user_roles USING btree (user_id, COALESCE(community_id, (0)::bigint), role)"
        ),
        index_parts("CREATE UNIQUE INDEX user_roles_unique ON user_roles (user_id, COALESCE(community_id, 0), role)"),
    );
    assert_eq!(
        index_parts(
            "CREATE INDEX sheets_warn ON s.sheets USING btree (warn_at) WHERE ((notice_level < 3) AND (state = ANY (ARRAY['registered'::text, 'dispatched'::text])))"
        ),
        index_parts(
            "CREATE INDEX sheets_warn ON sheets (warn_at) WHERE notice_level < 3 AND state IN ('registered', 'dispatched')"
        ),
    );
    assert_ne!(
        index_parts("CREATE INDEX x ON t (a) WHERE state = 'open'"),
        index_parts("CREATE INDEX x ON t (a) WHERE state <> 'open'"),
    );
    assert_ne!(normalise("'a'::character varying"), normalise("'b'"));
    assert_eq!(
        index_parts(
            "CREATE INDEX r ON s.requests USING btree (community_id, kind) INCLUDE (category, flag) WHERE (closed = 0)"
        ),
        index_parts("CREATE INDEX r ON requests (community_id, kind, category, flag) WHERE closed = 0"),
    );
}

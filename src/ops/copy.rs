//! `huiqian copy --to postgres://…`: move a SQLite deployment into an empty PostgreSQL
//! database. Every table the schema has is copied — the list is read from the database,
//! never kept by hand — in one PostgreSQL transaction, values exactly as stored (the
//! audit chain's hashes, ciphertexts and lookup hashes stay valid), identity sequences
//! moved past the copied ids; then every table's rows and checksum are compared on both
//! sides and the audit chain is verified on PostgreSQL.

use super::{BoxError, lock};
use crate::app::App;
use crate::config::Config;
use crate::store::tables::{self, Summary, Table};
use crate::store::{Backend, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Options {
    /// The PostgreSQL database to fill (`postgres://…`).
    pub to: String,
}

/// One table's outcome.
#[derive(Debug)]
pub struct TableCopy {
    pub name: String,
    pub source: Summary,
    pub target: Summary,
}

#[derive(Debug)]
pub struct Copied {
    pub tables: Vec<TableCopy>,
    pub audit: String,
    pub millis: u128,
}

/// The rows the migrations themselves write into an empty database (the audit chain's
/// head, today), found by migrating a scratch SQLite database: a target holding exactly
/// these is empty, and copying replaces them.
async fn seeded_rows() -> Result<BTreeMap<String, Summary>, BoxError> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("seed.db").display()), true).await?;
    let result = async {
        // The scratch database's migrations are not the operator's business.
        tracing::instrument::WithSubscriber::with_subscriber(
            store.migrate(),
            tracing::subscriber::NoSubscriber::default(),
        )
        .await?;
        let mut c = store.read().acquire().await?;
        let list = tables::tables(&mut c, Backend::Sqlite).await?;
        let all = tables::summarise_all(&mut c, &list).await?;
        Ok::<_, BoxError>(all.into_iter().filter(|(_, s)| s.rows > 0).collect())
    }
    .await;
    store.close().await;
    result
}

fn compare_schemas(source: &[Table], target: &[Table]) -> Result<(), BoxError> {
    let describe =
        |t: &Table| t.columns.iter().map(|c| format!("{} {:?}", c.name, c.ty)).collect::<Vec<_>>().join(", ");
    let mut problems = vec![];
    for s in source {
        match target.iter().find(|t| t.name == s.name) {
            None => problems.push(format!("table {} is not in the target", s.name)),
            Some(t) if t.columns != s.columns => problems.push(format!(
                "table {} differs: SQLite ({}) vs PostgreSQL ({})",
                s.name,
                describe(s),
                describe(t)
            )),
            Some(_) => {}
        }
    }
    for t in target.iter().filter(|t| !source.iter().any(|s| s.name == t.name)) {
        problems.push(format!("table {} is only in the target", t.name));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("the two schemas differ, nothing was copied:\n  {}", problems.join("\n  ")).into())
    }
}

#[tracing::instrument(name = "copy", skip_all)]
pub async fn run(cfg: &Config, opts: &Options) -> Result<Copied, BoxError> {
    let started = std::time::Instant::now();
    if !(opts.to.starts_with("postgres://") || opts.to.starts_with("postgresql://")) {
        return Err("--to must be a PostgreSQL URL (postgres://user@host/database)".into());
    }
    if crate::store::sqlite_path(&cfg.effective_database_url()).is_none() {
        return Err(format!(
            "copy moves a SQLite deployment to PostgreSQL; this configuration already uses {}",
            crate::config::redact_url(&cfg.database_url)
        )
        .into());
    }
    // No server may write to the SQLite database while it is copied: what it wrote
    // after the copy began would stay behind.
    let _lock = lock::exclusive(&cfg.data, "copy it")?;
    let source = crate::cli::open_with(cfg.clone(), false).await?;
    let target = Store::connect(&opts.to, false).await?;
    target.migrate().await?;
    let result = copy(&source, target.clone(), cfg, &opts.to).await;
    source.store.close().await;
    target.close().await;
    let (tables, audit) = result?;
    let millis = started.elapsed().as_millis();
    tracing::info!(tables = tables.len(), millis = millis as u64, "copied to PostgreSQL");
    Ok(Copied { tables, audit, millis })
}

async fn copy(source: &App, target: Store, cfg: &Config, url: &str) -> Result<(Vec<TableCopy>, String), BoxError> {
    let mut src = source.store.read().acquire().await?;
    let mut dst = target.read().acquire().await?;
    let (sv, tv) = (tables::migration_versions(&mut src).await?, tables::migration_versions(&mut dst).await?);
    if sv != tv {
        return Err(format!("schema versions differ: SQLite has migrations {sv:?}, PostgreSQL {tv:?}").into());
    }
    let source_tables = tables::tables(&mut src, Backend::Sqlite).await?;
    let target_tables = tables::tables(&mut dst, Backend::Postgres).await?;
    compare_schemas(&source_tables, &target_tables)?;
    let seeds = seeded_rows().await?;
    let mut not_empty = vec![];
    for t in &target_tables {
        let s = tables::summarise(&mut dst, t).await?;
        if s.rows > 0 && seeds.get(&t.name) != Some(&s) {
            not_empty.push(format!("{} ({} rows)", t.name, s.rows));
        }
    }
    if !not_empty.is_empty() {
        return Err(format!(
            "the PostgreSQL database is not empty, nothing was copied: {}. Copy into a new database \
             (CREATE DATABASE …) so that nothing in it is overwritten.",
            not_empty.join(", ")
        )
        .into());
    }
    drop(dst);

    // One transaction on each side: a consistent read of SQLite, all-or-nothing on PostgreSQL.
    let mut read = sqlx::Connection::begin(&mut *src).await?;
    let mut write = target.begin().await?;
    for t in tables::dependency_order(&source_tables) {
        let n = tables::copy_rows(&mut read, &mut write, Backend::Postgres, t, seeds.contains_key(&t.name)).await?;
        tracing::debug!(table = %t.name, rows = n, "copied");
        tables::reset_sequences(&mut write, Backend::Postgres, t).await?;
    }
    write.commit().await?;

    let mut dst = target.read().acquire().await?;
    let mut out = vec![];
    let mut differ = vec![];
    for t in &source_tables {
        let s = tables::summarise(&mut read, t).await?;
        let d = tables::summarise(&mut dst, t).await?;
        if s != d {
            differ.push(t.name.clone());
        }
        out.push(TableCopy { name: t.name.clone(), source: s, target: d });
    }
    read.rollback().await?;
    drop(dst);
    if !differ.is_empty() {
        return Err(format!("after copying, these tables differ between SQLite and PostgreSQL: {differ:?}").into());
    }
    let mut on_target = cfg.clone();
    on_target.database_url = url.to_string();
    let app = App {
        store: target,
        secrets: source.secrets.clone(),
        config: Arc::new(on_target),
        clock: source.clock.clone(),
    };
    let audit = super::verify_audit(&app).await?;
    Ok((out, audit))
}

/// The report `huiqian copy` prints.
pub fn describe(c: &Copied, cfg: &Config, to: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let rows: i64 = c.tables.iter().map(|t| t.source.rows).sum();
    let _ = writeln!(
        s,
        "copied {} tables, {rows} rows, from {} to {} in {:.1} s",
        c.tables.len(),
        cfg.effective_database_url(),
        crate::config::redact_url(to),
        c.millis as f64 / 1000.0
    );
    let width = c.tables.iter().map(|t| t.name.len()).max().unwrap_or(5);
    let _ = writeln!(s, "  {:width$}  {:>10}  {:>10}  checksum", "table", "SQLite", "PostgreSQL");
    for t in &c.tables {
        let same = if t.source == t.target { "equal" } else { "DIFFERENT" };
        let _ = writeln!(s, "  {:width$}  {:>10}  {:>10}  {same}", t.name, t.source.rows, t.target.rows);
    }
    let _ = writeln!(s, "  {} on PostgreSQL", c.audit);
    let _ = writeln!(
        s,
        "next: start huiqian with --database-url {} and the same secret key and data folder (the \
         attachments stay in {}); keep the SQLite file until you are satisfied.",
        crate::config::redact_url(to),
        cfg.data.join(super::ATTACHMENTS_DIR).display()
    );
    s
}

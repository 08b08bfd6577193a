//! The only code that knows SQL.
//!
//! One application over SQLite (embedded default) or PostgreSQL, chosen from the URL.
//! Queries are written once in portable SQL and run through sqlx's `Any` driver; where the
//! dialects truly differ (triggers, text search) a function branches on [`Backend`].
//! See `docs/adr/0001-one-sql-for-two-backends.md`.

pub mod audit;
pub mod auth;
#[cfg(feature = "demo")]
pub mod bulk;
pub mod clock;
pub mod followup;
pub mod keys;
mod migrate;
pub mod notify;
pub mod org;
pub mod people;
pub mod report;
pub mod request;
pub mod sheet;
pub mod tables;

use chrono_tz::Tz;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use migrate::{MIGRATIONS_POSTGRES, MIGRATIONS_SQLITE, Migration};

/// A transaction on the write side of the store.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a connection talks to.
    pub fn of(conn: &AnyConnection) -> Backend {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use postgres://… or sqlite://…")]
    BadUrl(String),
    #[error(
        "the SQLite database {0} does not exist; start without --database-url to create one in the data folder, or check the path"
    )]
    MissingSqliteFile(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration {version} ({name}) was changed after it was applied; never edit an applied migration")]
    MigrationChanged { version: i64, name: String },
    #[error("the database has migration {0}, which this version of huiqian does not know; upgrade huiqian")]
    UnknownMigration(i64),
    #[error("community {community} has the time zone {zone:?}, which is not an IANA time zone name")]
    UnknownZone { community: i64, zone: String },
}

/// A community's stored time zone name, parsed.
pub fn parse_zone(community: i64, name: &str) -> Result<Tz, StoreError> {
    name.parse().map_err(|_| StoreError::UnknownZone { community, zone: name.to_string() })
}

/// The database: a read pool and a write pool. On SQLite the write pool has one
/// connection (SQLite has one writer anyway; queueing in-process avoids busy errors),
/// on PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// Reads of the fixed-shape lists (the board, a technician's day); see [`Store::lists`].
    lists: AnyPool,
    zones: Arc<RwLock<HashMap<i64, (Tz, Instant)>>>,
    /// The weekly table's registrations of days that are over (`report::Settled`).
    settled: Arc<report::Settled>,
    /// Whether the database answers, as far as this process knows (see [`Store::suspect`]).
    health: Arc<Health>,
}

/// What this process knows of the database's reachability.
struct Health {
    url: String,
    /// A request failed for want of the database and no probe has reached it since.
    down: AtomicBool,
    /// A probe is running (one at a time).
    probing: AtomicBool,
}

impl Health {
    fn new(url: &str) -> Arc<Health> {
        Arc::new(Health { url: url.to_string(), down: AtomicBool::new(false), probing: AtomicBool::new(false) })
    }
}

/// How long a request waits for a PostgreSQL connection before it is answered "database
/// unavailable". Connections are normally free within milliseconds; a longer wait means
/// the database is gone, and a front desk is better told at once than kept waiting.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a probe tries to reach a database that stopped answering.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// How long a community's time zone is taken from memory before it is read again. An
/// edit on this server forgets it at once; other servers see it within this time.
const ZONE_TTL: Duration = Duration::from_secs(60);

/// Is this a unique-constraint violation? Recognised by kind, not by constraint name.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d.is_unique_violation(),
        _ => false,
    }
}

impl Store {
    /// Open the database at `url`. A SQLite file must already exist unless `create` is
    /// set (the data folder's own database); a mistyped URL is an error, never a new
    /// empty database.
    pub async fn connect(url: &str, create: bool) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url).ok_or_else(|| StoreError::BadUrl(url.to_string()))?;
                let exists = std::path::Path::new(&path).exists();
                if !exists && !create {
                    return Err(StoreError::MissingSqliteFile(path));
                }
                let base = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
                let opts = AnyConnectOptions::from_str(&base)?;
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|c, _| Box::pin(async move { sqlite_pragmas(c).await }))
                    .after_release(|c, _| Box::pin(async move { Ok(released_clean(c).await) }))
                    .connect_with(opts.clone())
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(8)
                    .min_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|c, _| Box::pin(async move { sqlite_pragmas(c).await }))
                    .connect_with(opts)
                    .await?;
                Ok(Store {
                    backend,
                    lists: read.clone(),
                    read,
                    write,
                    zones: Arc::default(),
                    settled: Arc::default(),
                    health: Health::new(url),
                })
            }
            Backend::Postgres => {
                let opts = AnyConnectOptions::from_str(url)?;
                // More connections than the machine can run at once only add queueing
                // inside PostgreSQL and context switches: twice the cores, at least four.
                let cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(2);
                // Just-in-time compilation is off: PostgreSQL compiles a statement once its
                // estimated cost passes `jit_above_cost`, which a report over a year's
                // sheets does, and the compiling took longer than running the statement
                // (docs/benchmarks.md). Nothing here scans enough rows to win it back.
                let pool = AnyPoolOptions::new()
                    .max_connections((cores * 2).clamp(4, 32))
                    .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                    .after_connect(|c, _| {
                        Box::pin(async move {
                            c.execute("SET jit = off").await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts.clone())
                    .await?;
                // The list reads run on their own connections, which use PostgreSQL's
                // cached generic plans (see `Store::lists`).
                let lists = AnyPoolOptions::new()
                    .max_connections((cores * 2).clamp(4, 32))
                    .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                    .after_connect(|c, _| {
                        Box::pin(async move {
                            c.execute("SET plan_cache_mode = force_generic_plan").await?;
                            c.execute("SET jit = off").await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?;
                Ok(Store {
                    backend,
                    read: pool.clone(),
                    write: pool,
                    lists,
                    zones: Arc::default(),
                    settled: Arc::default(),
                    health: Health::new(url),
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads that need no transaction.
    pub fn read(&self) -> &AnyPool {
        &self.read
    }

    /// The pool for the fixed-shape list reads shown many times a minute (the
    /// dispatcher's board, a technician's day). On PostgreSQL its connections run
    /// statements on their cached generic plans (`plan_cache_mode`): PostgreSQL otherwise
    /// re-plans a statement with a `LIMIT` or a time range on every execution, and
    /// planning the joined list selects cost more than running them
    /// (docs/benchmarks.md). Statements whose best plan depends on the values (the archive
    /// search) use [`Store::read`]. On SQLite this is the read pool.
    pub fn lists(&self) -> &AnyPool {
        &self.lists
    }

    /// A community's time zone, from memory when read in the last minute. `None` if there
    /// is no such community; a zone that is not an IANA name is an error (the writes check
    /// it, so the database holds one only if edited by hand), never some other zone.
    pub async fn community_zone(&self, id: i64) -> Result<Option<Tz>, StoreError> {
        if let Some((zone, at)) = self.zones.read().expect("zone cache").get(&id)
            && at.elapsed() < ZONE_TTL
        {
            return Ok(Some(*zone));
        }
        let name: Option<String> = sqlx::query_scalar("SELECT timezone FROM communities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        let Some(name) = name else { return Ok(None) };
        let zone = parse_zone(id, &name)?;
        self.zones.write().expect("zone cache").insert(id, (zone, Instant::now()));
        Ok(Some(zone))
    }

    /// Forget a community's cached time zone (after it is edited).
    pub fn forget_zone(&self, id: i64) {
        self.zones.write().expect("zone cache").remove(&id);
    }

    /// Begin a write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.write.begin().await
    }

    /// Apply every migration not yet applied, each in its own transaction.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        migrate::run(self).await
    }

    /// Can the database answer a query within a second? Used by `/readyz`; a failure
    /// marks the database unavailable (see [`Store::suspect`]).
    pub async fn ping(&self) -> bool {
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(1), sqlx::query("SELECT 1").execute(&self.read)).await,
            Ok(Ok(_))
        );
        if !ok {
            self.suspect();
        }
        ok && self.available()
    }

    /// False while the database is known not to answer: requests are then refused at once
    /// ("database unavailable") instead of each waiting for a connection.
    pub fn available(&self) -> bool {
        !self.health.down.load(Ordering::Acquire)
    }

    /// A request failed for want of the database. Until a probe (a fresh connection, every
    /// half second) reaches it again, [`Store::available`] is false; then the pools take
    /// up again on their own.
    pub fn suspect(&self) {
        self.health.down.store(true, Ordering::Release);
        if self.health.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let health = self.health.clone();
        tokio::spawn(async move {
            tracing::warn!("the database does not answer; requests are refused until it does");
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if probe(&health.url).await {
                    health.down.store(false, Ordering::Release);
                    health.probing.store(false, Ordering::Release);
                    tracing::info!("the database answers again");
                    break;
                }
            }
        });
    }

    /// Online backup of a SQLite database into `dest` (`VACUUM INTO`): consistent even
    /// while huiqian serves requests. The write-ahead log is checkpointed afterwards.
    pub async fn backup_sqlite(&self, dest: &str) -> Result<(), StoreError> {
        {
            let mut c = self.write.acquire().await?;
            sqlx::query("VACUUM INTO $1").bind(dest.to_string()).execute(&mut *c).await?;
        }
        self.checkpoint().await?;
        Ok(())
    }

    /// Move everything in SQLite's write-ahead log into the database file and empty the
    /// log (`wal_checkpoint(TRUNCATE)`), so that the log does not keep the size of the
    /// busiest moment. Returns whether it completed (a long read can hold it back; the
    /// next checkpoint catches up). Nothing to do on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<bool, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(true);
        }
        let mut c = self.write.acquire().await?;
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *c).await?;
        Ok(sqlx::Row::get::<i64, _>(&row, 0) == 0)
    }

    /// Close every connection. On SQLite the log is checkpointed first, so that a
    /// stopped server leaves the database whole in its one file.
    pub async fn close(&self) {
        if self.backend == Backend::Sqlite && !self.write.is_closed() {
            let _ = self.checkpoint().await;
        }
        self.read.close().await;
        self.write.close().await;
        self.lists.close().await;
    }
}

/// Is a SQLite connection given back to the pool outside any transaction?
///
/// After some failures — a full disk, an I/O error — SQLite rolls the transaction back
/// by itself. sqlx does not notice: its rollback then fails ("no transaction is active")
/// and it goes on counting the connection as inside a transaction, so the next
/// transaction on it becomes a savepoint, and once a savepoint rollback leaves SQLite's
/// own transaction open, every later write is released into a transaction that never
/// commits: answered, invisible to readers, lost at the next stop. A connection that
/// comes back in any such state is closed (closing rolls back) and the pool opens a
/// fresh one.
async fn released_clean(c: &mut AnyConnection) -> bool {
    // A round trip first: it runs after the rollback sqlx queued when the transaction
    // was dropped.
    if sqlx::Connection::ping(c).await.is_err() || sqlx::Connection::is_in_transaction(c) {
        tracing::warn!("a database connection was left inside a transaction; it is replaced");
        return false;
    }
    // sqlx's count can be right while SQLite's own state is not: ask SQLite.
    match c.execute("BEGIN").await {
        Ok(_) => c.execute("ROLLBACK").await.is_ok(),
        Err(_) => {
            tracing::warn!("a database connection was left inside a transaction; it is replaced");
            false
        }
    }
}

/// Can a fresh connection to `url` run a query within a second?
async fn probe(url: &str) -> bool {
    let attempt = async {
        let mut c = <AnyConnection as sqlx::Connection>::connect(url).await?;
        sqlx::query("SELECT 1").execute(&mut c).await?;
        <AnyConnection as sqlx::Connection>::close(c).await
    };
    matches!(tokio::time::timeout(Duration::from_secs(1), attempt).await, Ok(Ok(())))
}

/// Every SQLite connection: write-ahead log (readers never wait for the writer),
/// `synchronous=NORMAL` (a committed transaction survives a crash of huiqian; a power
/// cut may lose the last ones, never the database), and a log truncated back to 64 MiB
/// after each checkpoint so that one busy hour does not leave it that size for good.
async fn sqlite_pragmas(c: &mut AnyConnection) -> Result<(), sqlx::Error> {
    c.execute(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; \
         PRAGMA busy_timeout=10000; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000; \
         PRAGMA mmap_size=2147418112; PRAGMA journal_size_limit=67108864;",
    )
    .await?;
    Ok(())
}

/// The file path in a `sqlite:` URL (`sqlite://path`, `sqlite:path`, query string dropped).
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(path.to_string())
}

/// Booleans are stored as 0/1 integers on both backends.
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// A statement with its arguments bound so far, on either backend.
pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The rows `select` (a SELECT with neither WHERE nor ORDER BY) finds, ordered by id: every
/// row when `ids` is `None`, else those `filter` keeps, where `{ids}` stands for `ids` as an
/// SQL list (numbers: nothing to escape). No ids, no rows (and no statement).
pub async fn select_in<T>(
    pool: &AnyPool,
    select: &str,
    filter: &str,
    ids: Option<&[i64]>,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = match ids {
        None => format!("{select} ORDER BY id"),
        Some([]) => return Ok(vec![]),
        Some(ids) => {
            let list = ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
            format!("{select} WHERE {} ORDER BY id", filter.replace("{ids}", &list))
        }
    };
    sqlx::query_as(&sql).fetch_all(pool).await
}

/// Runs `q`, an UPDATE of one row guarded by the version the caller read, with the row's id
/// and that version bound to its last two placeholders. Whether it changed the row: false
/// when the row is gone, someone changed it first, or the statement's other conditions no
/// longer hold.
pub async fn update_at_version<'q>(
    conn: &mut AnyConnection,
    q: AnyQuery<'q>,
    id: i64,
    version: i64,
) -> Result<bool, sqlx::Error> {
    changed_one(conn, q.bind(id).bind(version)).await
}

/// Runs `q`, a statement meant for one row: whether it changed exactly one.
pub async fn changed_one<'q>(conn: &mut AnyConnection, q: AnyQuery<'q>) -> Result<bool, sqlx::Error> {
    Ok(q.execute(conn).await?.rows_affected() == 1)
}

/// Sets `column` of the row `id` of `table` that belongs to `user_id` to `now`, once (a
/// token revoked, a notification read): whether it was the user's row and still unset.
pub async fn stamp_own(
    conn: &mut AnyConnection,
    table: &str,
    column: &str,
    id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!("UPDATE {table} SET {column} = $1 WHERE id = $2 AND user_id = $3 AND {column} IS NULL");
    changed_one(conn, sqlx::query(&sql).bind(now).bind(id).bind(user_id)).await
}

/// Drop LIKE wildcards from what a user typed, so a prefix search matches it literally
/// (room numbers, names and phone digits never contain them).
pub fn escape_like(s: &str) -> String {
    s.replace(['\\', '%', '_'], "")
}

/// Allocate `n` ids for a table before a batch insert, so that rows inserted in bulk
/// can be linked without a round trip per row. SQLite has one writer, so the next ids
/// after the largest are free for the rest of the transaction; PostgreSQL draws them
/// from the identity sequence.
pub async fn allocate_ids(
    tx: &mut AnyConnection,
    backend: Backend,
    table: &'static str,
    n: usize,
) -> Result<Vec<i64>, sqlx::Error> {
    if n == 0 {
        return Ok(vec![]);
    }
    match backend {
        Backend::Sqlite => {
            let max: i64 =
                sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}")).fetch_one(&mut *tx).await?;
            Ok((1..=n as i64).map(|i| max + i).collect())
        }
        Backend::Postgres => {
            sqlx::query_scalar(&format!(
                "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)"
            ))
            .bind(n as i64)
            .fetch_all(&mut *tx)
            .await
        }
    }
}

/// Placeholders `($1, $2, …), (…)` for a multi-row insert of `rows` rows of `cols` columns.
///
/// SQLite gets anonymous `?` instead: it looks up the name of a numbered parameter with
/// a linear scan for each one bound, which made a 7,200-parameter statement quadratic
/// (80% of a bulk insert's time went there).
pub fn values_placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    s.push('$');
                    s.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

/// Rows per multi-row INSERT: well under both backends' parameter limits.
pub const BATCH_ROWS: usize = 400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_backend() {
        assert_eq!(values_placeholders(Backend::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_placeholders(Backend::Sqlite, 2, 3), "(?, ?, ?), (?, ?, ?)");
    }
}

//! The command line: `huiqian serve|migrate|user|backup|restore|copy|audit|config`, and,
//! in a build with the `demo` feature, `serve --demo` and the hidden `bench-data` and
//! `bench-tick` of the benchmarks.

use crate::app::{Actor, App, Clock, auth};
use crate::config::{Config, Overrides};
use crate::crypto::Secrets;
use crate::store::Store;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "huiqian",
    version,
    about = "会签 huiqian — customer-service desk for residential property management"
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Global {
    /// Config file (TOML). Default: huiqian.toml in the data folder, if present.
    #[arg(long, global = true, env = "HUIQIAN_CONFIG")]
    config: Option<PathBuf>,
    /// Data folder (SQLite database, attachments, generated secret key).
    #[arg(long, global = true, env = "HUIQIAN_DATA")]
    data: Option<PathBuf>,
    /// postgres://… to run on PostgreSQL (default: SQLite in the data folder).
    #[arg(long, global = true, env = "HUIQIAN_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the web interface and the JSON API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "HUIQIAN_LISTEN")]
        listen: Option<SocketAddr>,
        /// Load the demo company into an empty database and print its log-ins (a build
        /// with the `demo` feature only).
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations (also done at every start).
    Migrate,
    /// Staff accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Back up the deployment into one file while it serves: the database (SQLite: a
    /// consistent online copy; PostgreSQL: prints the pg_dump command), the attachments
    /// and the secret key.
    Backup {
        /// Destination file (never overwritten).
        #[arg(long)]
        to: PathBuf,
        /// Leave the secret key out (keep it safe elsewhere: the backup cannot be read without it).
        #[arg(long)]
        without_key: bool,
    },
    /// Restore a backup into the data folder, checking it before it replaces anything.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// Replace a deployment that holds data (moved aside into replaced-<time>, not deleted).
        #[arg(long)]
        force: bool,
    },
    /// Copy this SQLite deployment into an empty PostgreSQL database, every table, and
    /// check the copy table by table and the audit trail on PostgreSQL.
    Copy {
        /// The PostgreSQL database (postgres://user@host/database), empty or just migrated.
        #[arg(long)]
        to: String,
    },
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// The State Council's holiday notices (public holidays and make-up working days).
    #[command(subcommand)]
    Holidays(HolidaysCmd),
    /// Fill an empty database with generated data for the benchmarks (docs/benchmarks.md):
    /// one company, its communities, units and residents, and the account `bench`.
    #[cfg(feature = "demo")]
    #[command(hide = true)]
    BenchData {
        #[arg(long, default_value_t = 50_000)]
        units: usize,
        #[arg(long, default_value_t = 100_000)]
        residents: usize,
        #[arg(long, default_value_t = 1)]
        communities: usize,
        /// Write sample mobile numbers of the first community here, one a line
        /// (default: print them).
        #[arg(long)]
        phones: Option<PathBuf>,
        /// Countersign sheets to generate over the last two years (with `bench_desk`,
        /// a receptionist in every community, for registering more over the API).
        #[arg(long, default_value_t = 0)]
        sheets: usize,
        /// Write up to 1,000 sample sheet ids here, one a line.
        #[arg(long)]
        sheet_ids: Option<PathBuf>,
        /// Key sets to generate, spread over the communities, with two years of their
        /// books (the key benchmark, scripts/bench-keys.sh).
        #[arg(long, default_value_t = 0)]
        key_sets: usize,
        /// Write sample key sets for signing out here, one a line:
        /// `key_set_id version taker_user_id`.
        #[arg(long)]
        key_ids: Option<PathBuf>,
    },
    /// Time scheduler ticks on the current database: rows read and milliseconds per tick,
    /// and the plan of the query that finds due sheets.
    #[cfg(feature = "demo")]
    #[command(hide = true)]
    BenchTick {
        #[arg(long, default_value_t = 5)]
        ticks: usize,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a staff account, optionally with roles (`role` or `role@COMMUNITYCODE`).
    Add {
        #[arg(long)]
        username: String,
        /// Name shown in the interface.
        #[arg(long)]
        name: String,
        /// Initial password (or HUIQIAN_PASSWORD); a random one is printed if absent.
        #[arg(long, env = "HUIQIAN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// e.g. `system_admin` (company-wide) or `receptionist@HY`.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Set a temporary password (changed at next sign-in); ends the person's sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, env = "HUIQIAN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Also remove the second factor (lost phone).
        #[arg(long)]
        clear_totp: bool,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Recompute the keyed chain, compare every sheet event with the entry that vouches
    /// for it and the trail with the kept checkpoints; report every edit, deletion,
    /// insertion and truncation found.
    Verify {
        /// Checkpoint files kept elsewhere (lines printed by `huiqian audit checkpoint`),
        /// besides the data folder's own `audit-checkpoints`.
        #[arg(long = "checkpoints")]
        checkpoints: Vec<PathBuf>,
    },
    /// Print a checkpoint of the trail as it is now: keep the line away from this machine
    /// (printed, mailed, on another server) and pass it to `verify --checkpoints` later.
    Checkpoint,
}

#[derive(Subcommand)]
enum HolidaysCmd {
    /// The notices loaded, with their holidays and make-up working days.
    List,
    /// Load a year's notice from a file (format: docs/operations.md) into every
    /// community's calendar; a community's own entries for a day stay.
    Load {
        /// The notice file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the effective configuration, secrets redacted.
    Check,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load(&overrides(&cli)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("huiqian: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The operations that read every row report for themselves: sqlx's warnings about
    // long statements are expected there and only noise.
    let quiet = matches!(cli.cmd, Cmd::Backup { .. } | Cmd::Restore { .. } | Cmd::Copy { .. });
    init_logging(&cfg, if quiet { "huiqian=warn,sqlx=error,warn" } else { "huiqian=info,warn" });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match rt.block_on(run(cli, cfg)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("huiqian: {e}");
            ExitCode::FAILURE
        }
    }
}

fn overrides(cli: &Cli) -> Overrides {
    let listen = match &cli.cmd {
        Cmd::Serve { listen, .. } => *listen,
        _ => None,
    };
    Overrides {
        config_file: cli.global.config.clone(),
        listen,
        data: cli.global.data.clone(),
        database_url: cli.global.database_url.clone(),
    }
}

/// Log to standard error: plain text (coloured only on a terminal), or one JSON object
/// a line with `log_format = "json"` (`HUIQIAN_LOG_FORMAT=json`) for a log collector.
/// `HUIQIAN_LOG` sets the levels (default `huiqian=info,warn`; warnings only for the
/// commands that report for themselves). A line that cannot be
/// written is lost, never the server.
fn init_logging(cfg: &Config, default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUIQIAN_LOG").unwrap_or_else(|_| default.into());
    // A log that cannot be written (a full disk under it) is dropped: the default would
    // report it on standard error, which panics when that fails too.
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).log_internal_errors(false);
    match cfg.log_format {
        crate::config::LogFormat::Json => builder.json().with_current_span(false).init(),
        crate::config::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What `serve --demo` answers in a build without the demo company.
const WITHOUT_DEMO: &str = "this build of huiqian carries no demo company: build it with \
    `cargo build --features demo` (or run `cargo run --features demo -- serve --demo`)";

/// Open the configured database (creating the data folder's SQLite file if needed),
/// apply migrations, and assemble the application.
pub async fn open(cfg: Config) -> Result<App, BoxError> {
    let default_sqlite = cfg.database_url.is_empty();
    open_with(cfg, default_sqlite).await
}

/// Like [`open`]; `create` allows creating a missing SQLite file (tests, the data folder).
pub async fn open_with(cfg: Config, create: bool) -> Result<App, BoxError> {
    open_on(cfg, create, Clock::System).await
}

/// Like [`open_with`], on the given clock (tests move a shifted one).
pub async fn open_on(cfg: Config, create: bool, clock: Clock) -> Result<App, BoxError> {
    let url = cfg.effective_database_url();
    let default_sqlite = create;
    if cfg.database_url.is_empty() {
        std::fs::create_dir_all(&cfg.data)
            .map_err(|e| format!("cannot create data folder {}: {e}", cfg.data.display()))?;
    }
    let secrets = Secrets::load_or_create(&cfg.secret_key, &cfg.data)?;
    let store = Store::connect(&url, default_sqlite).await?;
    store.migrate().await?;
    let app = App { store, secrets, config: Arc::new(cfg), clock };
    // Sheet histories from before the audit chain covered them are sealed first, by the
    // first entry written with the key.
    crate::app::audit::seal_on_upgrade(&app).await.map_err(|e| e.to_string())?;
    // The State Council's holiday notices shipped with this version (once per year).
    crate::app::holidays::ensure_shipped(&app)
        .await
        .map_err(|e| format!("loading the holiday notices failed: {e:?}"))?;
    Ok(app)
}

async fn run(cli: Cli, cfg: Config) -> Result<ExitCode, BoxError> {
    match cli.cmd {
        Cmd::Serve { demo, .. } => serve(cfg, demo).await,
        Cmd::Migrate => {
            let app = open(cfg).await?;
            println!("database is at the latest schema ({})", app.store.backend().name());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::User(u) => {
            let app = open(cfg).await?;
            user_cmd(&app, u).await
        }
        Cmd::Backup { to, without_key } => {
            let opts = crate::ops::backup::Options { to: to.clone(), without_key };
            let w = crate::ops::backup::run(&cfg, &opts).await?;
            print!("{}", crate::ops::backup::describe(&w, &to, &cfg));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Restore { from, force } => {
            let opts = crate::ops::restore::Options { from: from.clone(), force };
            let r = crate::ops::restore::run(&cfg, &opts).await?;
            print!("{}", crate::ops::restore::describe(&r, &cfg.data, &from));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Copy { to } => {
            let c = crate::ops::copy::run(&cfg, &crate::ops::copy::Options { to: to.clone() }).await?;
            print!("{}", crate::ops::copy::describe(&c, &cfg, &to));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Holidays(h) => holidays_cmd(cfg, h).await,
        Cmd::Audit(AuditCmd::Verify { checkpoints }) => audit_verify(cfg, &checkpoints).await,
        Cmd::Audit(AuditCmd::Checkpoint) => {
            let app = open(cfg).await?;
            for cp in crate::app::audit::checkpoints(&app).await.map_err(|e| e.to_string())? {
                println!("{}", cp.line(&app));
            }
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "demo")]
        Cmd::BenchTick { ticks } => bench_tick(cfg, ticks).await,
        #[cfg(feature = "demo")]
        Cmd::BenchData { units, residents, communities, phones, sheets, sheet_ids, key_sets, key_ids } => {
            let size = crate::demo::bench::Size { units, residents, communities, sheets };
            bench_data(cfg, size, phones, sheet_ids, key_sets, key_ids).await
        }
        Cmd::Config(ConfigCmd::Check) => config_check(&cfg),
    }
}

/// `serve`: open (and with `--demo`, fill) the database, start the scheduler, answer until
/// told to stop, then close the database whole.
async fn serve(mut cfg: Config, demo: bool) -> Result<ExitCode, BoxError> {
    if demo && !cfg!(feature = "demo") {
        return Err(WITHOUT_DEMO.into());
    }
    let started = std::time::Instant::now();
    cfg.demo = demo;
    // Held until the process ends: no restore or copy replaces the data under us.
    let _lock = crate::ops::lock::shared(&cfg.data)?;
    let app = open(cfg).await?;
    #[cfg(feature = "demo")]
    if demo {
        let loaded = crate::demo::load_if_empty(&app).await?;
        crate::demo::print_logins(&app, loaded).await?;
    }
    crate::app::notify::spawn(app.clone());
    let listener = tokio::net::TcpListener::bind(app.config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", app.config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "huiqian is ready at http://{addr}/ ({} database, started in {} ms)",
        app.store.backend().name(),
        started.elapsed().as_millis()
    );
    crate::web::serve(app.clone(), listener).await?;
    // Stopped (SIGTERM, Ctrl-C): requests have finished; leave SQLite's database
    // whole in its one file.
    app.store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn holidays_cmd(cfg: Config, h: HolidaysCmd) -> Result<ExitCode, BoxError> {
    let app = open(cfg).await?;
    let actor = Actor::cli();
    match h {
        HolidaysCmd::List => {
            let all = crate::app::holidays::list(&app, &actor).await.map_err(describe)?;
            for n in &all.notices {
                println!("{}  {}  (放假 {} 天, 调休上班 {} 天)", n.year, n.title, n.holidays, n.workdays);
            }
        }
        HolidaysCmd::Load { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let r = crate::app::holidays::load(&app, &actor, &crate::app::holidays::LoadInput { notice: text })
                .await
                .map_err(describe)?;
            println!(
                "{} {}: {} days loaded into {} communities{}",
                r.year,
                r.title,
                r.days,
                r.communities,
                if r.replaced { " (replacing the notice loaded before)" } else { "" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `audit verify`: exit 2 when the trail is damaged, listing what was found.
async fn audit_verify(cfg: Config, checkpoints: &[PathBuf]) -> Result<ExitCode, BoxError> {
    let app = open(cfg).await?;
    let r = crate::app::audit::verify(&app, checkpoints).await.map_err(|e| e.to_string())?;
    let summary = format!(
        "{} entries ({} sealed with the key, {} from before), {} sheet events, {} checkpoints",
        r.checked,
        r.keyed,
        r.checked - r.keyed,
        r.events,
        r.checkpoints
    );
    if r.ok() {
        println!("audit trail intact: {summary} verified");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("audit trail damaged ({summary} read):");
        for p in &r.problems {
            println!("  - [{}] {}", p.damage.label(), p.text);
        }
        Ok(ExitCode::from(2))
    }
}

#[cfg(feature = "demo")]
async fn bench_tick(cfg: Config, ticks: usize) -> Result<ExitCode, BoxError> {
    let app = open(cfg).await?;
    for line in crate::store::notify::explain_due(app.store.read(), app.store.backend(), app.clock.now()).await? {
        println!("plan: {line}");
    }
    for i in 1..=ticks {
        let started = std::time::Instant::now();
        let t = crate::app::notify::tick(&app, app.clock.now()).await.map_err(|e| e.to_string())?;
        println!(
            "tick {i}: {:.2} ms, {} rows read, {} notices",
            started.elapsed().as_secs_f64() * 1000.0,
            t.read,
            t.notices
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "demo")]
async fn bench_data(
    cfg: Config,
    size: crate::demo::bench::Size,
    phones: Option<PathBuf>,
    sheet_ids: Option<PathBuf>,
    key_sets: usize,
    key_ids: Option<PathBuf>,
) -> Result<ExitCode, BoxError> {
    let sheets = size.sheets;
    let app = open(cfg).await?;
    let g = crate::demo::bench::generate_with_keys(&app, size, key_sets).await?;
    println!(
        "generated {} units and {} residents in {} communities ({} database) in {} ms; \
         sign in as {} / {}",
        g.units,
        g.residents,
        g.communities.len(),
        app.store.backend().name(),
        g.millis,
        crate::demo::bench::USERNAME,
        crate::demo::bench::PASSWORD
    );
    let list = g.sample_phones.join("\n") + "\n";
    match phones {
        Some(path) => {
            std::fs::write(&path, list).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!(
                "{} sample phone numbers (community {}) written to {}",
                g.sample_phones.len(),
                g.communities[0],
                path.display()
            );
        }
        None => print!("{list}"),
    }
    if sheets > 0 {
        let s = &g.sheets;
        println!(
            "{} sheets ({} open, {} with 漏水), {} events, {} search terms; receptionist {} / {}",
            s.sheets,
            s.open,
            s.leaks,
            s.events,
            s.terms,
            crate::demo::bench::DESK_USERNAME,
            crate::demo::bench::PASSWORD
        );
        let n = g.communities.len();
        let k = crate::demo::bench::TECHNICIANS;
        println!(
            "{} flow rows; {} repairs on the dispatchers' boards, {} open with technicians; \
             dispatchers {} … {}, technicians {} … {} / {}",
            s.requests,
            s.board,
            s.assigned,
            crate::demo::bench::dispatcher_username(0),
            crate::demo::bench::dispatcher_username(n - 1),
            crate::demo::bench::technician_username(0, 1),
            crate::demo::bench::technician_username(n - 1, k),
            crate::demo::bench::PASSWORD
        );
        println!(
            "{} follow-up decisions, {} follow-ups ({} recorded), {} corrective actions",
            s.decisions, s.follow_ups, s.recorded, s.capas
        );
    }
    if let Some(path) = sheet_ids {
        let list: String = g.sample_sheets.iter().map(|i| format!("{i}\n")).collect();
        std::fs::write(&path, list).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if key_sets > 0 {
        let k = &g.keys;
        println!(
            "{} key sets in {} cabinets ({} handed back), {} custody agreements ({} in force), {} sign-outs \
             ({} out now, {} overdue), {} approvals, {} inspections, {} counts ({} lines), {} cabinet log entries, \
             {} incidents ({} open)",
            k.key_sets,
            k.cabinets,
            k.released,
            k.agreements,
            k.in_force,
            k.loans,
            k.open,
            k.overdue,
            k.approvals,
            k.inspections,
            k.counts,
            k.count_lines,
            k.log,
            k.incidents,
            k.open_incidents
        );
    }
    if let Some(path) = key_ids {
        let list: String = g.sample_keys.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, list).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn config_check(cfg: &Config) -> Result<ExitCode, BoxError> {
    let secret_source = if !cfg.secret_key.is_empty() {
        "configured".to_string()
    } else {
        format!("file {}", cfg.data.join("secret.key").display())
    };
    let text = toml::to_string_pretty(&cfg.redacted())?;
    println!("# effective configuration (secrets redacted)\n# secret key: {secret_source}\n{text}");
    Ok(ExitCode::SUCCESS)
}

fn random_password() -> String {
    let t = crate::crypto::random_token();
    format!("Hq-{}", &t[..12])
}

async fn user_cmd(app: &App, cmd: UserCmd) -> Result<ExitCode, BoxError> {
    let actor = Actor::cli();
    match cmd {
        UserCmd::Add { username, name, password, roles } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(random_password);
            let mut grants = Vec::new();
            for r in &roles {
                let (role, code) = match r.split_once('@') {
                    Some((r, c)) => (r, Some(c)),
                    None => (r.as_str(), None),
                };
                let role = huiqian_domain::auth::Role::parse(role).ok_or_else(|| format!("unknown role {role:?}"))?;
                let community = match code {
                    None => None,
                    Some(c) => {
                        let all = crate::store::org::communities(app.store.read(), None).await?;
                        Some(
                            all.into_iter()
                                .find(|x| x.code.eq_ignore_ascii_case(c))
                                .ok_or_else(|| format!("unknown community code {c:?}"))?
                                .id,
                        )
                    }
                };
                grants.push((community, role));
            }
            let input = auth::NewStaff {
                username: username.clone(),
                display_name: name,
                password: password.clone(),
                phone: String::new(),
                locale: "zh-CN".into(),
            };
            let user = auth::create_staff(
                app,
                &actor,
                &input,
                auth::StaffOptions { must_change_password: generated, totp_exempt: false },
            )
            .await
            .map_err(describe)?;
            for (community, role) in grants {
                auth::grant_role(app, &actor, user.id, community, role, None, false).await.map_err(describe)?;
            }
            println!("created user {username} (id {})", user.id);
            if generated {
                println!("temporary password: {password}  (to be changed at first sign-in)");
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCmd::ResetPassword { username, password, clear_totp } => {
            let mut conn = app.store.read().acquire().await?;
            let user = crate::store::auth::user_by_name(&mut conn, &username.to_lowercase())
                .await?
                .ok_or_else(|| format!("no user {username:?}"))?;
            drop(conn);
            let generated = password.is_none();
            let password = password.unwrap_or_else(random_password);
            auth::reset_password(app, &actor, user.id, &password, clear_totp).await.map_err(describe)?;
            println!("password of {username} reset; every session of theirs has ended and every API token is revoked");
            if generated {
                println!("temporary password: {password}  (to be changed at next sign-in)");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A use-case error as one line of English for the terminal.
fn describe(e: crate::app::AppError) -> String {
    use crate::app::AppError;
    match e {
        AppError::Validation(f) => f
            .iter()
            .map(|(field, v)| format!("{field}: {}", crate::web::error_message(v, crate::i18n::Lang::En)))
            .collect::<Vec<_>>()
            .join("; "),
        other => crate::web::app_error_message(&other, crate::i18n::Lang::En),
    }
}

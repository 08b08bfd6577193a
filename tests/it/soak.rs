//! The soak (issue point 8): a busy morning on one server process — in every community
//! the desk registering, chasing and following up, the engineering dispatcher assigning
//! repairs, the technician arriving and completing them, the manager reading the weekly
//! table and staff performance — for `HUIQIAN_SOAK_SECONDS` (default 5: the short run of
//! the test command; `scripts/soak.sh` runs 30 minutes over 20 communities). Every
//! answer's time is kept per route; no request may fail; the server's memory is sampled
//! throughout. `HUIQIAN_SOAK_COMMUNITIES` (default 2), `HUIQIAN_SOAK_OUT` (a folder for
//! the per-route table and the memory curve), `HUIQIAN_SERVER_BIN` (e.g. a release build).

use crate::harness::{PASSWORD, backend, fresh_database_url};
use crate::process::{Deployment, Server, free_port};
use crate::workload::{self, Crew, Journal, Session, Timings};
use huiqian::app::{Actor, auth, org};
use huiqian::domain::auth::Role;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The server's resident memory in MiB: all of it, its own heap and stacks (`RssAnon`),
/// and the pages of mapped files (`RssFile`: SQLite maps its database file, so these grow
/// with the database and are the kernel's to reclaim, not the process's to free).
fn rss_mib(pid: u32) -> Option<(f64, f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let kb: f64 = status.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("RssAnon:")?, field("RssFile:")?))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

const STEMS: [char; 10] = ['甲', '乙', '丙', '丁', '戊', '己', '庚', '辛', '壬', '癸'];

/// A community with its own desk, technician, manager and dispatcher, and the unit its
/// desk registers for; returns their usernames.
async fn community_with_staff(app: &huiqian::app::App, company: i64, k: usize) -> (i64, [String; 4]) {
    let cli = Actor::cli();
    let input = org::CommunityInput {
        company_id: company,
        code: format!("S{k:02}"),
        name: format!("晨园{k}期"),
        timezone: String::new(),
        address: String::new(),
        phone: String::new(),
        active: true,
    };
    let c = org::create_community(app, &cli, &input).await.unwrap().id;
    let roles = [Role::Receptionist, Role::Technician, Role::CsManager, Role::EngineeringDispatcher];
    let names = roles.map(|r| format!("s{k:02}_{}", r.as_str()));
    for (role, username) in roles.iter().zip(&names) {
        let staff = auth::NewStaff {
            username: username.clone(),
            // Names take no digits: the community's number as heavenly stems.
            display_name: format!("{}{}{}", STEMS[k / 10 % 10], STEMS[k % 10], role.label_zh()),
            password: PASSWORD.into(),
            phone: String::new(),
            locale: "zh-CN".into(),
        };
        let options = auth::StaffOptions { must_change_password: false, totp_exempt: false };
        let u = auth::create_staff(app, &cli, &staff, options).await.unwrap();
        auth::grant_role(app, &cli, u.id, Some(c), *role, None, false).await.unwrap();
    }
    workload::prepare(app, c).await;
    (c, names)
}

/// Read what each role reads through a morning, at a person's pace, until `stop`.
async fn readers(crew: &Crew, stop: &AtomicBool, pause: Duration) {
    let c = crew.community;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let month = today.format("%Y-%m-01");
    let reads: [(&Session, String); 6] = [
        (&crew.manager, format!("/api/v1/communities/{c}/weekly-report")),
        (&crew.manager, format!("/api/v1/communities/{c}/performance?from={month}&to={today}")),
        (&crew.dispatcher, format!("/api/v1/communities/{c}/repairs/board")),
        (&crew.tech, format!("/api/v1/communities/{c}/repairs/my-day")),
        (&crew.desk, format!("/api/v1/communities/{c}/queues/chase")),
        (&crew.desk, format!("/api/v1/communities/{c}/sheets?phone_last4=5678")),
    ];
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let (who, path) = &reads[i % reads.len()];
        let _ = who.get(path).await;
        i += 1;
        tokio::time::sleep(pause).await;
    }
}

/// Issue point 8: a busy morning without a single failed request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_morning_soak_fails_no_request() {
    let seconds = env_or("HUIQIAN_SOAK_SECONDS", 5);
    let communities = env_or("HUIQIAN_SOAK_COMMUNITIES", 2).max(1) as usize;
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_database_url(dir.path()).await;
    let (cfg, s) = workload::seeded(dir.path(), &db_url).await;
    let roles = [Role::Receptionist, Role::Technician, Role::CsManager, Role::EngineeringDispatcher];
    let mut staffed = vec![(s.c1, roles.map(|r| s.users[&r].clone()))];
    for k in 1..communities {
        staffed.push(community_with_staff(&s.app, s.company, k).await);
    }
    s.app.store.close().await;
    let mut d = Deployment::of(&cfg);
    d.config = "[notify]\ntick_seconds = 10\n".into();
    let log = dir.path().join("serve.log");
    let mut server = Server::start(&d, free_port(), &log, &[]).await;
    let pid = server.child.id();
    let bases = [server.base.clone()];
    let timings = Arc::new(Timings::default());
    let mut crews = vec![];
    for (c, names) in &staffed {
        let names: [&str; 4] = std::array::from_fn(|i| names[i].as_str());
        let crew = Crew::sign_in(&bases, *c, names, PASSWORD).await;
        crews.push(Crew {
            desk: crew.desk.timed(&timings),
            tech: crew.tech.timed(&timings),
            manager: crew.manager.timed(&timings),
            dispatcher: crew.dispatcher.timed(&timings),
            ..crew
        });
    }
    let journal = Journal::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let every = Duration::from_secs((seconds / 60).max(1));
    let mut rss: Vec<(u64, (f64, f64, f64))> = vec![];
    let sampler = async {
        while started.elapsed() < Duration::from_secs(seconds) {
            if let Some(m) = rss_mib(pid) {
                rss.push((started.elapsed().as_secs(), m));
            }
            tokio::time::sleep(every).await;
        }
        stop.store(true, Ordering::Relaxed);
    };
    let pace = Duration::from_millis(env_or("HUIQIAN_SOAK_PAUSE_MS", 100));
    let work = crews.iter().map(|crew| {
        let (journal, stop) = (&journal, &stop);
        async move {
            tokio::join!(workload::run_paced(crew, journal, 1, stop, pace), readers(crew, stop, pace));
        }
    });
    tokio::join!(futures_util::future::join_all(work), sampler);
    let elapsed = started.elapsed().as_secs_f64();
    let wal = std::fs::metadata(dir.path().join("test.db-wal")).map(|m| m.len()).unwrap_or(0);
    let store = huiqian::store::Store::connect(&db_url, false).await.unwrap();
    let problems = workload::check(store.read(), &journal).await;
    store.close().await;
    server.terminate();

    let by_route = timings.by_route.lock().unwrap().clone();
    let failed = timings.failed.lock().unwrap().clone();
    let refused = journal.refused.lock().unwrap().clone();
    let total: usize = by_route.values().map(Vec::len).sum::<usize>() + failed.len();
    let mut table = String::from("| route | requests | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|\n");
    for (route, times) in &by_route {
        let mut t = times.clone();
        t.sort_unstable();
        table.push_str(&format!(
            "| `{route}` | {} | {:.1} | {:.1} | {:.1} |\n",
            t.len(),
            percentile(&t, 0.5),
            percentile(&t, 0.99),
            percentile(&t, 1.0)
        ));
    }
    let curve: String = rss.iter().map(|(t, (m, a, f))| format!("{t},{m:.1},{a:.1},{f:.1}\n")).collect();
    let (first, last) = (rss.first().map_or(0.0, |r| r.1.0), rss.last().map_or(0.0, |r| r.1.0));
    let peak = rss.iter().map(|r| r.1.0).fold(0.0, f64::max);
    let anon_last = rss.last().map_or(0.0, |r| r.1.1);
    let anon_peak = rss.iter().map(|r| r.1.1).fold(0.0, f64::max);
    let db = std::fs::metadata(dir.path().join("test.db")).map(|m| m.len()).unwrap_or(0);
    let summary = format!(
        "soak ({}, {elapsed:.0} s, {communities} communities): {total} requests ({:.0}/s), {} failed, {} refused; \
         {} acknowledged writes; RSS {first:.1} MiB at start, {last:.1} MiB at end, {peak:.1} MiB peak \
         (of which the heap {anon_last:.1} MiB at end, {anon_peak:.1} MiB peak); database {} MiB, \
         write-ahead log at the end {} KiB",
        backend(),
        total as f64 / elapsed,
        failed.len(),
        refused.len(),
        journal.acknowledged(),
        db / (1024 * 1024),
        wal / 1024
    );
    println!("{summary}\n\n{table}");
    if let Ok(out) = std::env::var("HUIQIAN_SOAK_OUT") {
        let out = std::path::Path::new(&out);
        std::fs::create_dir_all(out).unwrap();
        std::fs::write(out.join(format!("routes-{}.md", backend())), format!("{summary}\n\n{table}")).unwrap();
        std::fs::write(
            out.join(format!("rss-{}.csv", backend())),
            format!("seconds,rss_mib,anon_mib,file_mib\n{curve}"),
        )
        .unwrap();
    }
    assert!(failed.is_empty(), "requests failed: {failed:#?}");
    assert!(refused.is_empty(), "requests refused: {refused:#?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(journal.acknowledged() > 0 && by_route.len() >= 10, "the morning did its work: {table}");
}

//! The crash drill: a server process killed with SIGKILL at random moments under a mixed
//! write load, restarted each time; after every restart each acknowledged write is
//! there, nothing is half-written, sheet numbers have no gaps and the audit trail
//! verifies. `HUIQIAN_DRILL_KILLS` (default 3) and `HUIQIAN_DRILL_CLIENTS` (default 8)
//! size it; `scripts/crash-drill.sh` runs the long drill on both backends.

use crate::harness::{backend, fresh_database_url};
use crate::process::{Deployment, Server, free_port};
use crate::workload::{self, Crew, Journal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small generator for the kill moments; the seed is printed so a run can be repeated.
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo)
    }
}

/// Issue point 4 (crash drill): every acknowledged write survives SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_drill_loses_no_acknowledged_write() {
    let kills = env_or("HUIQIAN_DRILL_KILLS", 3);
    let clients = env_or("HUIQIAN_DRILL_CLIENTS", 8) as usize;
    let seed_value = env_or("HUIQIAN_DRILL_SEED", crate::harness::now_nanos() | 1);
    let mut moments = Moments(seed_value);
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_database_url(dir.path()).await;
    let (cfg, s) = workload::seeded(dir.path(), &db_url).await;
    s.app.store.close().await;
    let deployment = Deployment::of(&cfg);
    let port = free_port();
    let log = dir.path().join("serve.log");
    let mut server = Server::start(&deployment, port, &log, &[]).await;
    let crew = Crew::of_test_company(&s, std::slice::from_ref(&server.base)).await;
    let journal = Journal::default();
    let started = std::time::Instant::now();
    for k in 1..=kills {
        let stop = AtomicBool::new(false);
        let wait = Duration::from_millis(moments.next_ms(300, 3000));
        let kill = async {
            tokio::time::sleep(wait).await;
            server.kill();
            stop.store(true, Ordering::Relaxed);
        };
        tokio::join!(workload::run(&crew, &journal, clients, &stop), kill);
        server = Server::start(&deployment, port, &log, &[]).await;
        let store = huiqian::store::Store::connect(&db_url, false).await.unwrap();
        let problems = workload::check(store.read(), &journal).await;
        store.close().await;
        assert!(problems.is_empty(), "after kill {k} (seed {seed_value}):\n{}", problems.join("\n"));
        let verify = deployment.command(&["audit", "verify"]).output().unwrap();
        assert!(
            verify.status.success(),
            "after kill {k}: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    server.terminate();
    let refused = journal.refused.lock().unwrap().clone();
    assert!(refused.is_empty(), "requests refused under the drill: {refused:#?}");
    assert!(journal.acknowledged() > 0, "the drill wrote nothing");
    println!(
        "crash drill ({}): {kills} kills, {} journeys, {} acknowledged writes, 0 lost, in {:.0} s (seed {seed_value})",
        backend(),
        journal.journeys.load(Ordering::Relaxed),
        journal.acknowledged(),
        started.elapsed().as_secs_f64()
    );
}

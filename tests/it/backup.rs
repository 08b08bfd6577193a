//! Backup and restore (issue points 1 and 2): a backup taken under load restores
//! elsewhere with every acknowledged write; one taken at rest restores every table
//! equal; a restore never replaces a running deployment, nor one with data unless told.

use crate::harness::{PASSWORD, TestApp, backend, fresh_database_url, seed, test_config};
use crate::process::{Deployment, Server, free_port};
use crate::workload::{self, Crew, Journal};
use huiqian::domain::auth::Role;
use huiqian::store::{Backend, Store, tables};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

async fn run(d: &Deployment, args: &[&str], without_key: bool) -> Output {
    let mut cmd = d.command(args);
    if without_key {
        cmd.env_remove("HUIQIAN_SECRET_KEY");
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A SQLite deployment in `dir` with the test's key.
fn sqlite_deployment(dir: &Path, key: &str) -> Deployment {
    Deployment { data: dir.to_path_buf(), db_url: String::new(), secret_key: key.to_string(), config: String::new() }
}

async fn summaries(store: &Store) -> std::collections::BTreeMap<String, tables::Summary> {
    let mut c = store.read().acquire().await.unwrap();
    let list = tables::tables(&mut c, store.backend()).await.unwrap();
    tables::summarise_all(&mut c, &list).await.unwrap()
}

/// Every attachment the database refers to is in `data`'s attachments folder.
async fn attachments_present(store: &Store, data: &Path) {
    let mut c = store.read().acquire().await.unwrap();
    let hashes = tables::attachment_hashes(&mut c).await.unwrap();
    assert!(!hashes.is_empty(), "the load stores signatures");
    for h in hashes {
        assert!(data.join(huiqian::ops::attachment_path(&h)).is_file(), "attachment {h} was not restored");
    }
}

/// Issue points 1 and 2: write under load → backup → restore elsewhere → every
/// acknowledged write is there; at rest, every table compares equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_elsewhere_with_every_acknowledged_write() {
    let t = TestApp::spawn().await;
    workload::prepare(&t.app, t.c1).await;
    let roles = [Role::Receptionist, Role::Technician, Role::CsManager, Role::EngineeringDispatcher];
    let names = roles.map(|r| t.users[&r].as_str());
    let crew = Arc::new(Crew::sign_in(std::slice::from_ref(&t.base), t.c1, names, PASSWORD).await);
    let journal = Arc::new(Journal::default());
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (crew, journal, stop) = (crew.clone(), journal.clone(), stop.clone());
        tokio::spawn(async move { workload::run(&crew, &journal, 6, &stop).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let before = journal.snapshot();
    let source = Deployment::of(&t.app.config);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("under-load.huiqian");
    let o = run(&source, &["backup", "--to", file.to_str().unwrap()], false).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(before.acknowledged() > 0 && journal.acknowledged() > before.acknowledged(), "writes went on meanwhile");
    let report = text(&o);
    // The test's key is configured, not a file: the backup says loudly it is not in it.
    assert!(report.contains("secret key: NOT in this file"), "{report}");

    let fresh = tempfile::tempdir().unwrap();
    if backend() == "postgres" {
        assert!(report.contains("pg_dump --format=custom"), "{report}");
        let target = Deployment { data: fresh.path().to_path_buf(), ..source.clone() };
        let o = run(&target, &["restore", "--from", file.to_str().unwrap()], false).await;
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("pg_restore"), "{}", text(&o));
        attachments_present(&t.app.store, fresh.path()).await;
        return;
    }
    assert!(report.contains("passed SQLite's integrity check"), "{report}");
    let target = sqlite_deployment(fresh.path(), &t.app.config.secret_key);
    // Without the key the data could not be read: refused, naming the key it needs.
    let o = run(&target, &["restore", "--from", file.to_str().unwrap()], true).await;
    assert!(!o.status.success());
    assert!(text(&o).contains("taken without its secret key (fingerprint"), "{}", text(&o));
    assert!(!fresh.path().join("huiqian.db").exists(), "a refused restore writes nothing");
    let o = run(&target, &["restore", "--from", file.to_str().unwrap()], false).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("audit trail intact"), "{}", text(&o));
    let restored =
        Store::connect(&format!("sqlite://{}", fresh.path().join("huiqian.db").display()), false).await.unwrap();
    let problems = workload::check(restored.read(), &before).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    attachments_present(&restored, fresh.path()).await;
    restored.close().await;

    // At rest: every table of the restored copy equals the source's.
    let file2 = out.path().join("at-rest.huiqian");
    let o = run(&source, &["backup", "--to", file2.to_str().unwrap()], false).await;
    assert!(o.status.success(), "{}", text(&o));
    let again = tempfile::tempdir().unwrap();
    let target = sqlite_deployment(again.path(), &t.app.config.secret_key);
    let o = run(&target, &["restore", "--from", file2.to_str().unwrap()], false).await;
    assert!(o.status.success(), "{}", text(&o));
    let copy = Store::connect(&format!("sqlite://{}", again.path().join("huiqian.db").display()), false).await.unwrap();
    let (a, b) = (summaries(&t.app.store).await, summaries(&copy).await);
    copy.close().await;
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (table, s) in &a {
        assert_eq!(Some(s), b.get(table), "table {table} differs after restore");
    }
    // A folder that holds a deployment is only replaced when asked, and then kept aside.
    let o = run(&target, &["restore", "--from", file2.to_str().unwrap()], false).await;
    assert!(!o.status.success());
    assert!(text(&o).contains("already holds a deployment"), "{}", text(&o));
    let o = run(&target, &["restore", "--force", "--from", file2.to_str().unwrap()], false).await;
    assert!(o.status.success(), "{}", text(&o));
    let aside: Vec<_> = std::fs::read_dir(again.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "{}", text(&o));
    assert!(aside[0].path().join("huiqian.db").is_file(), "the replaced database is kept");
}

/// Issue point 2: a restore never replaces a deployment a server is running on; a
/// stopped server leaves no write-ahead log behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_running_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_database_url(dir.path()).await;
    let cfg = test_config(dir.path(), &db_url);
    let s = seed(cfg.clone()).await;
    s.app.store.close().await;
    let d = Deployment::of(&cfg);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("b.huiqian");
    let mut server = Server::start(&d, free_port(), &dir.path().join("serve.log"), &[]).await;
    let o = run(&d, &["backup", "--to", file.to_str().unwrap()], false).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&d, &["restore", "--force", "--from", file.to_str().unwrap()], false).await;
    assert!(!o.status.success());
    assert!(text(&o).contains("huiqian is running on the data folder"), "{}", text(&o));
    server.terminate();
    if s.app.store.backend() == Backend::Sqlite {
        let db = dir.path().join("huiqian.db");
        for f in huiqian::ops::sqlite_companions(&db) {
            assert!(!f.exists(), "{} left after a clean stop", f.display());
        }
    }
    let o = run(&d, &["restore", "--force", "--from", file.to_str().unwrap()], false).await;
    assert!(o.status.success(), "{}", text(&o));
}

/// The audit trail's checkpoints go with the database they vouch for: a backup keeps those
/// up to its snapshot, and a restore over a deployment moves that deployment's own
/// (newer) checkpoints aside with it, so the restored trail verifies against its own.
#[tokio::test]
async fn checkpoints_travel_with_the_backup_and_a_restore_sets_the_newer_ones_aside() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::harness::test_config(dir.path(), "");
    let app = huiqian::cli::open_with(cfg.clone(), true).await.unwrap();
    assert!(huiqian::demo::load_if_empty(&app).await.unwrap());
    let kept = huiqian::app::audit::keep_checkpoint(&app).await.unwrap();
    assert!(kept.len() > 1, "a checkpoint for each chain: {kept:?}");
    let file = dir.path().join("with-checkpoints.huiqian");
    huiqian::ops::backup::run(&cfg, &huiqian::ops::backup::Options { to: file.clone(), without_key: false })
        .await
        .unwrap();
    // Later work, and a later checkpoint, that the backup does not hold.
    let cli = huiqian::app::Actor::cli();
    huiqian::app::org::create_company(&app, &cli, "后来的物业公司").await.unwrap();
    let later = huiqian::app::audit::keep_checkpoint(&app).await.unwrap();
    let before = |chain| kept.iter().find(|c| c.chain == chain).map_or(0, |c| c.seq);
    assert!(!later.is_empty() && later.iter().all(|c| c.seq > before(c.chain)), "{later:?}");
    app.store.close().await;
    let restored =
        huiqian::ops::restore::run(&cfg, &huiqian::ops::restore::Options { from: file, force: true }).await.unwrap();
    let aside = restored.moved_aside.expect("the replaced deployment was moved aside");
    assert!(aside.join(huiqian::app::audit::CHECKPOINTS_FILE).exists(), "its checkpoints went with it");
    let app = huiqian::cli::open_with(cfg, false).await.unwrap();
    let r = huiqian::app::audit::verify(&app, &[]).await.unwrap();
    assert!(
        r.ok() && r.checkpoints == kept.len() as i64,
        "the restored trail verifies against its own checkpoints: {:?}",
        r.problems
    );
}

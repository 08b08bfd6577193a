//! Two huiqian processes on one PostgreSQL database, as behind a load balancer (issue
//! point 7). Runs on PostgreSQL whatever the backend under test: several servers on one
//! database is what PostgreSQL is for.

use crate::harness::{PASSWORD, fresh_postgres_url};
use crate::process::{Deployment, Server, free_port};
use crate::workload::{self, Crew, Journal, Session};
use huiqian::domain::auth::Role;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A gateway that counts what it receives per notice (the `Idempotency-Key`).
async fn counting_gateway() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let s = s.clone();
            async move {
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                *s.lock().unwrap().entry(key).or_default() += 1;
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// Issue point 7: sessions are valid on both servers; sheets registered through both at
/// once are numbered uniquely without gaps; each deadline notice is given and sent once;
/// the weekly table (whose settled days each server keeps in memory) agrees on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_act_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_postgres_url().await;
    let (cfg, s) = workload::seeded(dir.path(), &db_url).await;
    s.app.store.close().await;
    let (gateway, sent) = counting_gateway().await;
    let mut d = Deployment::of(&cfg);
    d.config = format!("[notify]\ntick_seconds = 1\nretry_base_seconds = 1\nwebhook_url = \"{gateway}\"\n");
    let a = Server::start(&d, free_port(), &dir.path().join("a.log"), &[]).await;
    let b = Server::start(&d, free_port(), &dir.path().join("b.log"), &[]).await;
    let both = [a.base.clone(), b.base.clone()];

    // A session opened on one server works on the other, and ends on both.
    let on_a = Session::sign_in(std::slice::from_ref(&a.base), &s.users[&Role::Archivist], PASSWORD).await;
    let me = |base: &str| on_a.http.get(format!("{base}/api/v1/me")).send();
    assert_eq!(me(&b.base).await.unwrap().status(), 200, "a session from A is valid on B");
    let out = on_a.http.post(format!("{}/api/v1/auth/sign-out", b.base)).send().await.unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(me(&a.base).await.unwrap().status(), 401, "signed out on B is signed out on A");

    // The weekly table, its settled days now kept in A's memory.
    let director = Session::sign_in(&both, &s.users[&Role::CentreDirector], PASSWORD).await;
    let weekly = format!("/api/v1/communities/{}/weekly-report", s.c1);
    let on = |base: &str| director.http.get(format!("{base}{weekly}")).send();
    let before: Value = on(&a.base).await.unwrap().json().await.unwrap();

    // A working morning through both servers, request by request alternately.
    let crew = Crew::of_test_company(&s, &both).await;
    let journal = Journal::default();
    let stop = AtomicBool::new(false);
    let timer = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::Relaxed);
    };
    tokio::join!(workload::run(&crew, &journal, 8, &stop), timer);
    let refused = journal.refused.lock().unwrap().clone();
    assert!(refused.is_empty(), "{refused:#?}");
    let store = huiqian::store::Store::connect(&db_url, false).await.unwrap();
    let problems = workload::check(store.read(), &journal).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Both agree on the week, and A counted today's registrations afresh.
    let after_a: Value = on(&a.base).await.unwrap().json().await.unwrap();
    let after_b: Value = on(&b.base).await.unwrap().json().await.unwrap();
    assert_eq!(after_a, after_b, "the two servers' weekly tables differ");
    let registered = |v: &Value| v["totals"]["registered"].as_i64();
    let sheets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sheets").fetch_one(store.read()).await.unwrap();
    assert_eq!(
        registered(&after_a).map(|n| n - registered(&before).unwrap_or(0)),
        Some(sheets),
        "every registration of the morning counted: {after_a}"
    );

    // Notices: sheets whose warning time has come, with both schedulers ticking.
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM sheets WHERE state = 'dispatched' ORDER BY id LIMIT 5")
        .fetch_all(store.read())
        .await
        .unwrap();
    let ids = if ids.is_empty() {
        sqlx::query_scalar("SELECT id FROM sheets ORDER BY id LIMIT 5").fetch_all(store.read()).await.unwrap()
    } else {
        ids
    };
    let now = huiqian::app::Clock::System.now();
    for id in &ids {
        sqlx::query(
            "UPDATE sheets SET warn_at = $1, due_at = $2, notice_level = 0, state = 'dispatched' WHERE id = $3",
        )
        .bind(now - 1)
        .bind(now + 3_600_000)
        .bind(id)
        .execute(store.read())
        .await
        .unwrap();
    }
    let started = Instant::now();
    let expected = ids.len();
    loop {
        let given: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'due_soon'")
            .fetch_one(store.read())
            .await
            .unwrap();
        let delivered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL")
            .fetch_one(store.read())
            .await
            .unwrap();
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(store.read()).await.unwrap();
        if given as usize >= expected && delivered == queued {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "notices not given and sent within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Three more ticks each: nothing given twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let per_sheet: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT sheet_id, COUNT(*) FROM notifications WHERE kind = 'due_soon' GROUP BY sheet_id ORDER BY sheet_id",
    )
    .fetch_all(store.read())
    .await
    .unwrap();
    assert_eq!(per_sheet.len(), expected, "{per_sheet:?}");
    assert!(per_sheet.iter().all(|(_, n)| *n == 1), "a notice given twice: {per_sheet:?}");
    let posted = sent.lock().unwrap().clone();
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(store.read()).await.unwrap();
    assert_eq!(posted.len() as i64, queued, "every queued notice reached the gateway");
    assert!(posted.values().all(|n| *n == 1), "a notice sent twice: {posted:?}");
    let audit = huiqian::app::App {
        store: store.clone(),
        secrets: huiqian::crypto::Secrets::from_base64(&cfg.secret_key).unwrap(),
        config: Arc::new(cfg.clone()),
        clock: huiqian::app::Clock::System,
    };
    let verify = huiqian::app::audit::verify(&audit, &[]).await.unwrap();
    assert!(verify.ok(), "{:?}", verify.problems);
    store.close().await;
    drop((a, b));
}

//! `huiqian copy` (issue point 3): a SQLite deployment — the demo company and a working
//! day on top of it — copied into PostgreSQL, every table of the schema compared.

use crate::harness::{fresh_postgres_url, test_config};
use crate::process::Deployment;
use crate::workload::{self, Crew, Journal};
use huiqian::store::{Backend, Store, tables};
use std::sync::atomic::{AtomicBool, Ordering};

async fn catalogue(store: &Store) -> std::collections::BTreeMap<String, tables::Summary> {
    let mut c = store.read().acquire().await.unwrap();
    let list = tables::tables(&mut c, store.backend()).await.unwrap();
    tables::summarise_all(&mut c, &list).await.unwrap()
}

/// Issue point 3: every table moves, equal row for row; the audit chain verifies on
/// PostgreSQL; PostgreSQL numbers new rows after the copied ones. Every table of the
/// schema must hold rows in this test's data, so that a table a migration adds is only
/// accepted once the copy has been seen to move it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_every_table_of_a_sqlite_deployment_to_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), "");
    // Notices then also wait in the outbox for a gateway.
    cfg.notify.webhook_url = "http://127.0.0.1:9/notify".into();
    let app = huiqian::cli::open_with(cfg.clone(), true).await.unwrap();
    assert!(huiqian::demo::load_if_empty(&app).await.unwrap());
    let hy = huiqian::store::org::communities(app.store.read(), None)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.code == "HY")
        .unwrap()
        .id;
    workload::prepare(&app, hy).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = app.clone();
    tokio::spawn(async move { huiqian::web::serve(serving, listener).await });
    let names = ["hy.desk", "hy.tech", "hy.cs_manager", "hy.dispatcher"];
    let crew = Crew::sign_in(std::slice::from_ref(&base), hy, names, huiqian::demo::PASSWORD).await;
    let journal = Journal::default();
    let stop = AtomicBool::new(false);
    let timer = async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        stop.store(true, Ordering::Relaxed);
    };
    tokio::join!(workload::run(&crew, &journal, 4, &stop), timer);
    assert!(journal.refused.lock().unwrap().is_empty(), "{:?}", journal.refused.lock().unwrap());
    // A community's own rules, calendar and clock targets; an integration's token; a
    // person created with an idempotency key; a repair with its arrival timer; last
    // week's statistics kept.
    let admin = workload::Session::sign_in(std::slice::from_ref(&base), "hy.admin", huiqian::demo::PASSWORD).await;
    let put = |path: String, body: serde_json::Value| {
        let admin = admin.clone();
        async move {
            let (s, v) =
                admin.send(admin.http.put(format!("{base}{path}", base = admin.bases[0])).json(&body)).await.unwrap();
            assert_eq!(s, 200, "{path}: {v}");
        }
    };
    put(
        format!("/api/v1/communities/{hy}/request-settings"),
        serde_json::json!({"emergency_min": 10, "simple_min": 20,
        "general_min": 60, "slip_hours": 24, "repeat_count": 2, "repeat_days": 90, "progress_hours": 48,
        "promise_warn_min": 60, "version": 0}),
    )
    .await;
    put(
        format!("/api/v1/communities/{hy}/clock-targets"),
        serde_json::json!({"kind": "repair", "target_hours": "48", "warn_hours": "4"}),
    )
    .await;
    put(
        format!("/api/v1/communities/{hy}/calendar/week"),
        serde_json::json!({"days": ["08:30-17:30", "08:30-17:30",
        "08:30-17:30", "08:30-17:30", "08:30-17:30", "09:00-12:00", ""]}),
    )
    .await;
    put(
        format!("/api/v1/communities/{hy}/calendar/days"),
        serde_json::json!({"day": "2026-10-01", "kind": "holiday", "note": "国庆节"}),
    )
    .await;
    let (s, v) =
        crew.desk.post("/api/v1/me/tokens", &serde_json::json!({"name": "短信网关", "write": false})).await.unwrap();
    assert_eq!(s, 201, "{v}");
    let person = admin
        .http
        .post(format!("{base}/api/v1/communities/{hy}/persons"))
        .header("idempotency-key", "copy-test-person")
        .json(&serde_json::json!({"name": "钱淑华", "phone": "13900001111", "room_no": "20-2-1502"}));
    let (s, v) = admin.send(person).await.unwrap();
    assert_eq!(s, 201, "{v}");
    let repair = serde_json::json!({"kind": "repair", "channel": "phone", "room_no": "20-2-1502",
        "requester_name": "王秀英", "reason": "楼道下水管堵塞", "repair": {"category": "drainage"}});
    let (s, v) = crew.desk.post(&format!("/api/v1/communities/{hy}/sheets"), &repair).await.unwrap();
    assert_eq!(s, 201, "{v}");
    // A follow-up that did not reach the resident (tried again later, R-FU-4), and a
    // sign-in under a name nobody has (counted like an account's).
    let complaint = serde_json::json!({"kind": "complaint", "channel": "phone", "room_no": "20-2-1502",
        "requester_name": "王秀英", "reason": "夜间装修噪音", "complaint": {"category": "噪音", "cause": "楼上装修",
        "course": "连续两晚", "occurred_unknown": true, "place": "20号楼2单元", "people": "楼上装修工人"}});
    let (s, v) = crew.desk.post(&format!("/api/v1/communities/{hy}/sheets"), &complaint).await.unwrap();
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let act = |who: &workload::Session, version: &serde_json::Value, mut body: serde_json::Value| {
        body["version"] = version.clone();
        let who = who.clone();
        async move { who.post(&format!("/api/v1/sheets/{id}/actions"), &body).await.unwrap() }
    };
    let (s, d) = act(
        &crew.manager,
        &v["version"],
        serde_json::json!({"action": "judge_complaint", "valid": false,
        "explanation": "邻里纠纷，已解释"}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let (s, d) = act(
        &crew.desk,
        &d["sheet"]["version"],
        serde_json::json!({"action": "collect",
        "opinion": "接受解释", "phone_confirmed_at": 1}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let f = &d["follow_ups"][0];
    let (s, r) = crew
        .desk
        .post(
            &format!("/api/v1/follow-ups/{}/record", f["id"]),
            &serde_json::json!({"version": f["version"], "method": "phone", "outcome": "unreachable",
                "content": "电话无人接听"}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{r}");
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"username": "nobody.here", "password": "Wrong-pass-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    huiqian::app::report::keep_last_week(&app, app.clock.now()).await.unwrap();

    let source = catalogue(&app.store).await;
    let empty: Vec<&String> = source.iter().filter(|(_, s)| s.rows == 0).map(|(t, _)| t).collect();
    assert!(
        empty.is_empty(),
        "tables without rows in this test's data: {empty:?}. Add writes that fill them, so that copy is seen to move them."
    );

    // The copy, as an operator runs it: the server stopped.
    app.store.close().await;
    let target_url = fresh_postgres_url().await;
    let deployment = Deployment {
        data: dir.path().to_path_buf(),
        db_url: String::new(),
        secret_key: cfg.secret_key.clone(),
        config: String::new(),
    };
    let o = deployment.command(&["copy", "--to", &target_url]).output().unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("copied {} tables", source.len())), "{out}");
    assert!(out.contains("audit trail intact") && !out.contains("DIFFERENT"), "{out}");

    // Checked again here: the same tables on both sides, each equal.
    let target = Store::connect(&target_url, false).await.unwrap();
    let copied = catalogue(&target).await;
    assert_eq!(source.keys().collect::<Vec<_>>(), copied.keys().collect::<Vec<_>>(), "the same tables");
    for (table, s) in &source {
        assert_eq!(Some(s), copied.get(table), "table {table}");
    }
    assert_eq!(target.backend(), Backend::Postgres);
    // PostgreSQL numbers the next rows after the copied ones.
    let on_pg = huiqian::app::App {
        store: target.clone(),
        secrets: app.secrets.clone(),
        config: app.config.clone(),
        clock: app.clock.clone(),
    };
    let before: i64 = sqlx::query_scalar("SELECT MAX(id) FROM persons").fetch_one(target.read()).await.unwrap();
    let p = huiqian::app::people::create_person(
        &on_pg,
        &huiqian::app::Actor::cli(),
        hy,
        &huiqian::app::people::PersonInput { name: "孙立新".into(), ..Default::default() },
    )
    .await
    .unwrap();
    assert!(p.id > before, "a new person gets a fresh id after the copied ones");
    target.close().await;

    // A second copy into a database that holds data is refused and changes nothing.
    let o = deployment.command(&["copy", "--to", &target_url]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("is not empty, nothing was copied"), "{err}");
}

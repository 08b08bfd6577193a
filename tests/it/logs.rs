//! What the server writes to its log (issue point 9): no personal data and no secret,
//! plain text without colour codes when not on a terminal, JSON when configured.

use crate::harness::{PASSWORD, fresh_database_url, seed, test_config};
use crate::process::{Deployment, Server, free_port};
use crate::workload::{self, Crew, Journal, Session};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};

/// Mobile numbers (11 digits from 13…19) and resident ID numbers (17 digits and a
/// check character) standing on their own in `text`: what a log must never show.
pub fn personal_numbers(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = vec![];
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let mut end = i;
        if end - start == 17 && end < b.len() && matches!(b[end], b'X' | b'x') {
            end += 1;
        }
        let alone = end == b.len() || !b[end].is_ascii_alphanumeric();
        let run = &text[start..end];
        let phone = run.len() == 11 && run.starts_with('1') && (b'3'..=b'9').contains(&b[start + 1]);
        if alone && (phone || run.len() == 18) {
            found.push(run.to_string());
        }
        i = end.max(i);
    }
    found
}

#[test]
fn the_scanner_finds_phone_and_id_numbers_standing_alone() {
    let log = "2026-12-06T07:54:08.066Z INFO phone=13812345678 id 11010519491231002X at=1796544574759 \
               uuid 0a13812345678b seq=12345678901 x";
    assert_eq!(personal_numbers(log), ["13812345678", "11010519491231002X"]);
    assert!(personal_numbers("masked 138****5678, 110***********002X").is_empty());
}

/// Issue point 9: a server run through a working day — registrations with the
/// requester's phone, imports with ID numbers, sign-ins (one with a wrong password),
/// API tokens, searches by phone, a gateway with a key in its address that refuses every
/// notice — logs none of it, nor the session cookies, CSRF tokens or the secret key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_log_holds_no_personal_data_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_database_url(dir.path()).await;
    let (cfg, s) = workload::seeded(dir.path(), &db_url).await;
    s.app.store.close().await;
    let gateway_key = "gw-key-9f8e7d6c5b4a";
    let mut d = Deployment::of(&cfg);
    d.config = format!(
        "[notify]\ntick_seconds = 1\nretry_base_seconds = 1\nwebhook_url = \"http://127.0.0.1:{}/sms?key={gateway_key}\"\n",
        free_port()
    );
    let log = dir.path().join("serve.log");
    // Everything huiqian itself logs, down to debug.
    let mut server = Server::start(&d, free_port(), &log, &[("HUIQIAN_LOG", "huiqian=debug,info")]).await;
    let bases = [server.base.clone()];
    let crew = Crew::of_test_company(&s, &bases).await;
    let journal = Journal::default();
    let stop = AtomicBool::new(false);
    let secrets = async {
        let wrong = crew.desk.http.post(format!("{}/api/v1/auth/sign-in", bases[0]));
        let (st, _) = crew
            .desk
            .send(wrong.json(&json!({"username": "u_receptionist", "password": "Wrong-pass-987"})))
            .await
            .unwrap();
        assert_eq!(st, 401);
        let (st, token) = crew.desk.post("/api/v1/me/tokens", &json!({"name": "bridge", "write": true})).await.unwrap();
        assert_eq!(st, 201, "{token}");
        let secret = token["secret"].as_str().unwrap().to_string();
        let with_token = reqwest::Client::new()
            .get(format!("{}/api/v1/communities/{}/persons?q={}", bases[0], s.c1, workload::PHONE))
            .bearer_auth(&secret);
        let (st, found) = crew.desk.send(with_token).await.unwrap();
        assert_eq!(st, 200, "{found}");
        let (st, _) = crew
            .desk
            .get(&format!("/api/v1/communities/{}/sheets?phone_last4=5678&q={}", s.c1, workload::PHONE))
            .await
            .unwrap();
        assert_eq!(st, 200);
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        stop.store(true, Ordering::Relaxed);
        secret
    };
    let (_, token) = tokio::join!(workload::run(&crew, &journal, 4, &stop), secrets);
    let outbox: i64 = {
        let store = huiqian::store::Store::connect(&db_url, false).await.unwrap();
        let n =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE attempts > 0").fetch_one(store.read()).await.unwrap();
        store.close().await;
        n
    };
    server.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(journal.acknowledged() > 20, "a working day was logged");
    assert!(outbox > 0, "the gateway refused notices, and that was logged");
    assert!(text.contains("gateway did not take a notice"), "{text}");

    assert_eq!(personal_numbers(&text), Vec::<String>::new(), "personal numbers in the log");
    let mut secrets: Vec<(&str, String)> = vec![
        ("the password", PASSWORD.to_string()),
        ("the wrong password", "Wrong-pass-987".into()),
        ("the API token", token),
        ("the secret key", cfg.secret_key.clone()),
        ("the gateway's key", gateway_key.into()),
        ("the requester's name", "王秀英".into()),
    ];
    for c in [&crew.desk, &crew.tech, &crew.manager] {
        secrets.push(("a session cookie", c.cookie.clone()));
        secrets.push(("a CSRF token", c.csrf.clone()));
    }
    for (what, value) in &secrets {
        assert!(!text.contains(value.as_str()), "{what} is in the log");
    }
    assert!(!text.contains('\u{1b}'), "colour codes in a log written to a file");
}

/// Issue point 9: with `log_format = "json"` every line is one JSON object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_database_url(dir.path()).await;
    let cfg = test_config(dir.path(), &db_url);
    let s = seed(cfg.clone()).await;
    s.app.store.close().await;
    let log = dir.path().join("serve.log");
    let mut server = Server::start(&Deployment::of(&cfg), free_port(), &log, &[("HUIQIAN_LOG_FORMAT", "json")]).await;
    let desk = Session::sign_in(
        std::slice::from_ref(&server.base),
        &s.users[&huiqian::domain::auth::Role::Receptionist],
        PASSWORD,
    )
    .await;
    assert_eq!(desk.get("/api/v1/me").await.unwrap().0, 200);
    server.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text}");
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string() && v["fields"]["message"].is_string(), "{line}");
    }
    assert!(text.contains("huiqian is ready at"), "{text}");
}

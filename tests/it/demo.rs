//! The demo company (`huiqian serve --demo`): loaded once, only into an empty database,
//! the same every time, with valid personal data and log-ins for every role that need
//! no second factor.

use crate::harness::{fresh_database_url, test_config};
use huiqian::app::{Actor, App, audit, org};
use huiqian::config::AuthConfig;
use huiqian::demo;
use huiqian::domain::auth::Role;
use huiqian::domain::person::{IdDocument, IdKind, Phone, check_digit};
use serde_json::{Value, json};
use std::collections::HashSet;

async fn open_in(dir: &std::path::Path, tweak: impl FnOnce(&mut huiqian::config::Config)) -> App {
    let url = fresh_database_url(dir).await;
    let mut cfg = test_config(dir, &url);
    tweak(&mut cfg);
    huiqian::cli::open_with(cfg, true).await.expect("open database")
}

async fn count(app: &App, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(app.store.read()).await.unwrap()
}

#[tokio::test]
async fn demo_loads_once_into_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_in(dir.path(), |_| {}).await;
    assert!(demo::load_if_empty(&app).await.unwrap());

    assert_eq!(count(&app, "SELECT COUNT(*) FROM units").await, 672);
    for (code, n) in [("HY", 576), ("LY", 96)] {
        let units: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM units u JOIN communities c ON c.id = u.community_id WHERE c.code = $1",
        )
        .bind(code)
        .fetch_one(app.store.read())
        .await
        .unwrap();
        assert_eq!(units, n, "{code}");
    }
    let persons = count(&app, "SELECT COUNT(*) FROM persons").await;
    assert!((600..=3000).contains(&persons), "{persons} persons");
    let owners = count(&app, "SELECT COUNT(DISTINCT person_id) FROM occupancies WHERE relation = 'owner'").await;
    assert!(owners >= 300, "{owners} owners");
    for rel in ["family", "tenant", "agent"] {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM occupancies WHERE relation = $1")
            .bind(rel)
            .fetch_one(app.store.read())
            .await
            .unwrap();
        assert!(n > 0, "no {rel}");
    }
    // Every unit has an owner; statuses are mostly occupied, some vacant, a few renovating.
    let unowned = count(
        &app,
        "SELECT COUNT(*) FROM units WHERE id NOT IN (SELECT unit_id FROM occupancies WHERE relation = 'owner')",
    )
    .await;
    assert_eq!(unowned, 0);
    let occupied = count(&app, "SELECT COUNT(*) FROM units WHERE status = 'occupied'").await;
    let vacant = count(&app, "SELECT COUNT(*) FROM units WHERE status = 'vacant'").await;
    let renovating = count(&app, "SELECT COUNT(*) FROM units WHERE status = 'renovating'").await;
    assert!(occupied > 500 && vacant > 20 && renovating > 5 && renovating < vacant);

    // A user for every role in both communities, each in a department; and `admin`.
    for code in ["HY", "LY"] {
        for role in Role::ALL {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM user_roles r JOIN communities c ON c.id = r.community_id \
                 WHERE c.code = $1 AND r.role = $2 AND r.department_id IS NOT NULL",
            )
            .bind(code)
            .bind(role.as_str())
            .fetch_one(app.store.read())
            .await
            .unwrap();
            assert_eq!(n, 1, "{code} {role:?}");
        }
    }
    let company_admin = count(
        &app,
        "SELECT COUNT(*) FROM user_roles r JOIN users u ON u.id = r.user_id \
         WHERE u.username = 'admin' AND r.community_id IS NULL AND r.role = 'system_admin'",
    )
    .await;
    assert_eq!(company_admin, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 25);
    let text = demo::logins_text(&app, true).await.unwrap();
    for s in ["huiqian-demo", "hy.desk", "ly.finance", "admin", "和园", "柳园"] {
        assert!(text.contains(s), "{s} missing from:\n{text}");
    }

    // A second start changes nothing.
    let audit_before = count(&app, "SELECT COUNT(*) FROM audit_log").await;
    assert!(!demo::load_if_empty(&app).await.unwrap());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM units").await, 672);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log").await, audit_before);
    assert!(demo::logins_text(&app, false).await.unwrap().contains("already present"));

    // One audit entry per community for the data, one for the staff; the chain holds.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'demo.loaded'").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'demo.staff_created'").await, 1);
    let r = audit::verify(&app, &[]).await.unwrap();
    assert!(r.ok(), "{:?}", r.problems);
}

/// Every generated ID number and phone number is valid, and none is used twice (R-ARC-1:
/// they are stored encrypted, so they are read back through the key).
#[tokio::test]
async fn demo_personal_data_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_in(dir.path(), |_| {}).await;
    assert!(demo::load_if_empty(&app).await.unwrap());
    let rows: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT name, phone_enc, id_enc FROM persons ORDER BY id")
            .fetch_all(app.store.read())
            .await
            .unwrap();
    let today = chrono::Utc::now().date_naive();
    let (mut phones, mut ids) = (HashSet::new(), HashSet::new());
    for (name, phone, id) in &rows {
        let n = name.chars().count();
        assert!((2..=4).contains(&n), "{name}");
        if let Some(p) = phone {
            let p = app.secrets.decrypt(p).unwrap();
            Phone::parse_mobile(&p).unwrap();
            assert!(huiqian::demo::synth::MOBILE_PREFIXES.contains(&p[..3].parse().unwrap()), "{p}");
            assert!(phones.insert(p));
        }
        if let Some(i) = id {
            let i = app.secrets.decrypt(i).unwrap();
            let doc = IdDocument::parse(IdKind::ResidentIdCard, &i, today).unwrap();
            assert_eq!(check_digit(&i[..17]), i.chars().last());
            assert!(i.starts_with("110"), "{i}");
            let year = doc.birth_date().unwrap().format("%Y").to_string();
            assert!(("1950"..="1995").contains(&year.as_str()), "{i}");
            assert!(ids.insert(i));
        }
    }
    assert!(phones.len() * 10 > rows.len() * 8, "most people have a phone");
    assert!(ids.len() * 10 > rows.len() * 7, "most people have an ID number");
    // Room numbers are building-entrance-room with room = floor × 100 + n.
    let units: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT room_no, floor, area_centi FROM units").fetch_all(app.store.read()).await.unwrap();
    for (room, floor, area) in &units {
        let parts: Vec<&str> = room.split('-').collect();
        assert_eq!(parts.len(), 3, "{room}");
        let r: i64 = parts[2].parse().unwrap();
        assert_eq!(r / 100, *floor, "{room}");
        assert!((1..=2).contains(&(r % 100)), "{room}");
        assert!((5_000..=20_000).contains(area), "{room}: {area}");
    }
    assert!(units.iter().any(|u| u.0 == "3-2-1502"));
}

async fn snapshot(app: &App) -> Vec<String> {
    let rows: Vec<(String, i64, String, String, String, String, String)> = sqlx::query_as(
        "SELECT u.room_no, u.area_centi, u.status, o.relation, p.name, p.phone_masked, p.id_masked \
         FROM occupancies o JOIN units u ON u.id = o.unit_id JOIN persons p ON p.id = o.person_id \
         ORDER BY u.room_no, o.relation, p.name, p.phone_masked, p.id_masked",
    )
    .fetch_all(app.store.read())
    .await
    .unwrap();
    let users: Vec<(String, String)> = sqlx::query_as("SELECT username, display_name FROM users ORDER BY username")
        .fetch_all(app.store.read())
        .await
        .unwrap();
    rows.iter().map(|r| format!("{r:?}")).chain(users.iter().map(|u| format!("{u:?}"))).collect()
}

#[tokio::test]
async fn demo_is_the_same_every_time() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open_in(d1.path(), |_| {}).await;
    let b = open_in(d2.path(), |_| {}).await;
    assert!(demo::load_if_empty(&a).await.unwrap());
    assert!(demo::load_if_empty(&b).await.unwrap());
    let (sa, sb) = (snapshot(&a).await, snapshot(&b).await);
    assert!(sa.len() > 600);
    assert_eq!(sa, sb);
}

#[tokio::test]
async fn demo_is_not_loaded_over_existing_data() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_in(dir.path(), |_| {}).await;
    org::create_company(&app, &Actor::cli(), "另一家物业公司").await.unwrap();
    assert!(!demo::load_if_empty(&app).await.unwrap());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM units").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 0);
    let text = demo::logins_text(&app, false).await.unwrap();
    assert!(text.contains("not loaded"), "{text}");
    assert!(!text.contains(demo::PASSWORD) && !text.contains("hy.desk"));
}

/// The printed log-ins work over HTTP with the default configuration, where directors,
/// managers and administrators must otherwise use a second factor.
#[tokio::test]
async fn demo_log_ins_need_no_second_factor() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_in(dir.path(), |cfg| {
        cfg.auth.require_totp_roles = AuthConfig::default().require_totp_roles;
        cfg.demo = true;
    })
    .await;
    assert!(app.config.auth.require_totp_roles.iter().any(|r| r == "system_admin"));
    assert!(demo::load_if_empty(&app).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serve_app = app.clone();
    tokio::spawn(async move {
        let _ = huiqian::web::serve(serve_app, listener).await;
    });
    for (username, communities) in [("hy.desk", 1), ("admin", 2), ("hy.director", 1)] {
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let r = http
            .post(format!("{base}/api/v1/auth/sign-in"))
            .json(&json!({"username": username, "password": demo::PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{username}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["second_factor"], "done", "{username}: {body}");
        assert_eq!(body["must_change_password"], false);
        let r = http.get(format!("{base}/api/v1/communities")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{username}");
        let list: Value = r.json().await.unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(communities), "{username}: {list}");
    }
    // A wrong password is still refused.
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&json!({"username": "hy.desk", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// `huiqian bench-data`: exact counts, findable sample phones, the bench account in every
/// community, and only into an empty database.
#[tokio::test]
async fn bench_data_fills_an_empty_database_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_in(dir.path(), |_| {}).await;
    let size = demo::bench::Size { units: 500, residents: 1100, communities: 2, sheets: 0 };
    let g = demo::bench::generate(&app, size).await.unwrap();
    assert_eq!(g.communities.len(), 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM units").await, 500);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM persons").await, 1100);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM occupancies").await, 1100);
    assert!(g.sample_phones.len() >= 400);
    for phone in g.sample_phones.iter().take(20) {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons WHERE community_id = $1 AND phone_hash = $2")
            .bind(g.communities[0])
            .bind(app.secrets.lookup_hash("phone", phone))
            .fetch_one(app.store.read())
            .await
            .unwrap();
        assert_eq!(n, 1, "{phone}");
    }
    let grants = count(
        &app,
        "SELECT COUNT(*) FROM user_roles r JOIN users u ON u.id = r.user_id \
         WHERE u.username = 'bench' AND r.role = 'cs_manager' AND u.totp_exempt = 1",
    )
    .await;
    assert_eq!(grants, 2);
    assert!(demo::bench::generate(&app, size).await.is_err());
    assert!(!demo::load_if_empty(&app).await.unwrap());
    let r = audit::verify(&app, &[]).await.unwrap();
    assert!(r.ok(), "{:?}", r.problems);
}

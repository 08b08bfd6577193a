//! The demo company (`huiqian serve --demo`): loaded once, only into an empty database,
//! the same every time, with valid personal data and log-ins for every role that need
//! no second factor — and eight weeks of the desk's work played through the use-cases, so
//! that every role finds something to do.

use crate::harness::{fresh_database_url, test_config};
use huiqian::app::{Actor, App, Clock, audit, org, report};
use huiqian::config::AuthConfig;
use huiqian::demo;
use huiqian::domain::auth::Role;
use huiqian::domain::person::{IdDocument, IdKind, Phone, check_digit};
use huiqian::domain::sheet::lifecycle::Recorded;
use huiqian::domain::sheet::{Event, Sheet};
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};

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

/// A sheet as a first look sees it: number, kind, channel, state, reason, requester, the
/// minute it was registered, writes.
type SheetLine = (String, String, String, String, String, String, i64, i64);

async fn snapshot(app: &App) -> Vec<String> {
    let sheets: Vec<SheetLine> = sqlx::query_as(
        "SELECT s.number, s.kind, s.channel, s.state, s.reason, s.requester_name, s.registered_at / 60000, s.version \
         FROM sheets s ORDER BY s.community_id, s.number",
    )
    .fetch_all(app.store.read())
    .await
    .unwrap();
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
    let keys: Vec<(String, String, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT c.code, k.tag, k.room, k.state, k.total, k.out_qty, k.version FROM key_sets k \
         JOIN communities c ON c.id = k.community_id ORDER BY c.code, k.tag",
    )
    .fetch_all(app.store.read())
    .await
    .unwrap();
    let loans: Vec<(String, String, String, i64, Option<i64>, String)> = sqlx::query_as(
        "SELECT k.tag, l.reason, l.taker_name, l.issued_at / 60000, l.closed_at / 60000, l.taker_phone_masked \
         FROM key_loans l JOIN key_sets k ON k.id = l.key_set_id ORDER BY l.community_id, l.issued_at / 60000, k.tag",
    )
    .fetch_all(app.store.read())
    .await
    .unwrap();
    rows.iter()
        .map(|r| format!("{r:?}"))
        .chain(users.iter().map(|u| format!("{u:?}")))
        .chain(sheets.iter().map(|s| format!("{s:?}")))
        .chain(keys.iter().map(|k| format!("{k:?}")))
        .chain(loans.iter().map(|l| format!("{l:?}")))
        .collect()
}

/// An application on a clock set to `at`, so that two loads play their history up to the
/// same minute.
async fn open_at(dir: &std::path::Path, at: i64) -> App {
    let url = fresh_database_url(dir).await;
    let app = huiqian::cli::open_on(test_config(dir, &url), true, Clock::shifted()).await.expect("open database");
    app.clock.advance(at - app.clock.now());
    app
}

#[tokio::test]
async fn demo_is_the_same_every_time() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Both loads at the same instant (the middle of a minute): the same history.
    let at = chrono::Utc::now().timestamp_millis() / 60_000 * 60_000 + 30_000;
    let a = open_at(d1.path(), at).await;
    assert!(demo::load_if_empty(&a).await.unwrap());
    let b = open_at(d2.path(), at).await;
    assert!(demo::load_if_empty(&b).await.unwrap());
    let (sa, sb) = (snapshot(&a).await, snapshot(&b).await);
    assert!(sa.len() > 900, "{}", sa.len());
    let first = sa.iter().zip(&sb).position(|(x, y)| x != y);
    assert_eq!(first.map(|i| (&sa[i], &sb[i])), None, "the loads differ");
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
    let base = crate::harness::serve(&app).await;
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

/// What a first look finds (R-SHEET-1 … R-SHEET-11, R-REP, R-CMP, R-FU, R-CMP-8): sheets of
/// every kind, from every channel and in every state, some overdue, some waiting for the
/// resident's later signature (补签) and some beyond the centre; repairs on the board and
/// in the technician's day; complaints judged and followed up; suggestions answered;
/// follow-ups reviewed, one with a corrective action; past weeks' tables kept, analysed and
/// acknowledged — all played through the use-cases, none of it in the future, and every
/// sheet's events replaying to what its row says.
#[tokio::test]
async fn demo_history_is_lived_in() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_in(dir.path(), |_| {}).await;
    let started = std::time::Instant::now();
    let summary = demo::load(&app).await.unwrap().expect("loaded");
    let took = started.elapsed();
    assert!(summary.refused.is_empty(), "refused steps:\n{}", summary.refused.join("\n"));
    assert!(took.as_secs() < 60, "the demo took {took:?} to load");
    eprintln!(
        "demo loaded in {took:?}: {} sheets, {} steps, {} key steps",
        summary.sheets, summary.steps, summary.key_steps
    );
    let now = app.clock.now();

    let per = |sql: &'static str| {
        let app = app.clone();
        async move {
            let rows: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(app.store.read()).await.unwrap();
            rows.into_iter().collect::<HashMap<String, i64>>()
        }
    };
    let total = count(&app, "SELECT COUNT(*) FROM sheets").await;
    assert!((250..=700).contains(&total), "{total} sheets");
    for code in ["HY", "LY"] {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sheets s JOIN communities c ON c.id = s.community_id WHERE c.code = $1",
        )
        .bind(code)
        .fetch_one(app.store.read())
        .await
        .unwrap();
        assert!(n >= 80, "{code}: {n} sheets");
    }
    let kinds = per("SELECT kind, COUNT(*) FROM sheets GROUP BY kind").await;
    for k in huiqian::domain::sheet::SheetKind::ALL {
        assert!(kinds.get(k.as_str()).copied().unwrap_or(0) > 0, "no {k:?}: {kinds:?}");
    }
    let channels = per("SELECT channel, COUNT(*) FROM sheets GROUP BY channel").await;
    for c in huiqian::domain::sheet::Channel::ALL {
        assert!(channels.get(c.as_str()).copied().unwrap_or(0) > 0, "no {c:?}: {channels:?}");
    }
    let states = per("SELECT state, COUNT(*) FROM sheets GROUP BY state").await;
    for s in ["registered", "dispatched", "awaiting_acceptance", "suspended", "collected", "archived"] {
        assert!(states.get(s).copied().unwrap_or(0) > 0, "no {s} sheets: {states:?}");
    }
    assert!(states["archived"] * 2 > total, "older sheets are mostly closed: {states:?}");
    let handovers = per("SELECT state, COUNT(*) FROM sheet_handovers GROUP BY state").await;
    for s in ["handed_over", "acknowledged", "in_progress", "returned", "terminated", "suspended"] {
        assert!(handovers.get(s).copied().unwrap_or(0) > 0, "no {s} handovers: {handovers:?}");
    }

    // Overdue against their clocks (R-SHEET-7), waiting for 补签 (R-SHEET-3), beyond the
    // centre (R-SHEET-10), signatures waived by a manager.
    let open = "state IN ('registered', 'dispatched', 'awaiting_acceptance', 'suspended')";
    let overdue: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM sheets WHERE {open} AND due_at < $1"))
        .bind(now)
        .fetch_one(app.store.read())
        .await
        .unwrap();
    assert!(overdue > 0, "nothing overdue");
    assert!(count(&app, "SELECT COUNT(*) FROM sheets WHERE state = 'collected' AND signature_pending = 1").await > 0);
    let events = per("SELECT CASE WHEN data LIKE '%\"type\":\"beyond_centre\"%' THEN 'beyond' \
         WHEN data LIKE '%\"type\":\"signature_waived\"%' THEN 'waived' \
         WHEN data LIKE '%\"type\":\"signature_captured\"%' THEN 'captured' \
         WHEN data LIKE '%\"type\":\"extended\"%' THEN 'extended' \
         WHEN data LIKE '%\"type\":\"complaint_judged\"%' THEN 'judged' \
         WHEN data LIKE '%\"type\":\"solution_recorded\"%' THEN 'solution' \
         WHEN data LIKE '%\"type\":\"suggestion_replied\"%' THEN 'replied' \
         WHEN data LIKE '%\"type\":\"inquiry_answered\"%' THEN 'answered' \
         WHEN data LIKE '%\"type\":\"charge_confirmed\"%' THEN 'charged' \
         WHEN data LIKE '%\"type\":\"repair_completed\"%' THEN 'completed' \
         ELSE 'other' END AS what, COUNT(*) FROM sheet_events GROUP BY what")
    .await;
    for e in ["beyond", "waived", "captured", "extended", "judged", "replied", "answered", "charged", "completed"] {
        assert!(events.get(e).copied().unwrap_or(0) > 0, "no {e} events: {events:?}");
    }

    // Repairs on the dispatcher's board and in the technician's day (R-REP-2, R-REP-3).
    let unassigned = count(
        &app,
        "SELECT COUNT(*) FROM requests WHERE class_rank IS NOT NULL AND technician_id IS NULL AND closed = 0",
    )
    .await;
    let jobs = count(
        &app,
        "SELECT COUNT(*) FROM requests WHERE technician_id IS NOT NULL AND completed_at IS NULL AND closed = 0",
    )
    .await;
    assert!(unassigned > 0 && jobs > 0, "{unassigned} unassigned, {jobs} open jobs");

    // Follow-ups recorded, reviewed and still to do; corrective actions (R-FU-3, R-FU-4).
    let follow_ups = per("SELECT state, COUNT(*) FROM follow_ups GROUP BY state").await;
    for s in ["pending", "done", "reviewed"] {
        assert!(follow_ups.get(s).copied().unwrap_or(0) > 0, "no {s} follow-ups: {follow_ups:?}");
    }
    let complaints_followed =
        count(&app, "SELECT COUNT(*) FROM follow_ups f JOIN sheets s ON s.id = f.sheet_id WHERE s.kind = 'complaint'")
            .await;
    assert!(complaints_followed > 5, "{complaints_followed} complaints followed up");
    let capas = per("SELECT state, COUNT(*) FROM capas GROUP BY state").await;
    assert!(capas.get("verified").copied().unwrap_or(0) > 0, "no verified corrective action: {capas:?}");
    assert!(capas.values().sum::<i64>() >= 2, "{capas:?}");

    // The past weeks' tables, kept, analysed and acknowledged (R-CMP-8).
    for code in ["HY", "LY"] {
        let weeks: Vec<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT w.week_start, w.analysis, w.acknowledged_at FROM weekly_reports w \
             JOIN communities c ON c.id = w.community_id WHERE c.code = $1 ORDER BY w.week_start",
        )
        .bind(code)
        .fetch_all(app.store.read())
        .await
        .unwrap();
        assert!(weeks.len() >= 7, "{code}: {weeks:?}");
        assert!(weeks.iter().filter(|w| w.2.is_some()).count() >= 6, "{code}: {weeks:?}");
        // The week that ended last Sunday may still wait for this Monday's analysis.
        assert!(weeks[..weeks.len() - 1].iter().all(|w| !w.1.is_empty()), "{code}: {weeks:?}");
    }

    demo_key_register(&app, now).await;

    // Nothing in the future; numbers without gaps (R-SHEET-2); every sheet's events replay
    // to its row, its handovers and its version.
    let latest = count(&app, "SELECT MAX(at) FROM sheet_events").await;
    assert!(latest <= now, "an event {} ms in the future", latest - now);
    let rows = sqlx::query("SELECT sheet_id, at, by_user_id, data FROM sheet_events ORDER BY sheet_id, seq")
        .fetch_all(app.store.read())
        .await
        .unwrap();
    let mut history: BTreeMap<i64, Vec<Recorded>> = BTreeMap::new();
    for r in rows {
        let event: Event = serde_json::from_str(&r.get::<String, _>(3)).expect("stored event parses");
        history.entry(r.get(0)).or_default().push(Recorded { event, at: r.get(1), by: r.get(2) });
    }
    let sheet_handovers: HashMap<(i64, i64), String> = sqlx::query("SELECT sheet_id, no, state FROM sheet_handovers")
        .fetch_all(app.store.read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let sheets =
        sqlx::query("SELECT id, state, signature_pending, first_contact_id, version, community_id, seq FROM sheets")
            .fetch_all(app.store.read())
            .await
            .unwrap();
    let mut seqs: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for s in &sheets {
        let id: i64 = s.get(0);
        let events = &history[&id];
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at), "sheet {id}: events out of order");
        let replayed = Sheet::replay(events).expect("starts with the registration");
        assert_eq!(replayed.state.as_str(), s.get::<String, _>(1), "sheet {id}");
        assert_eq!(i64::from(replayed.signature_owed()), s.get::<i64, _>(2), "sheet {id}");
        assert_eq!(replayed.first_contact, s.get::<i64, _>(3), "sheet {id}");
        // One write for each step taken, however many events it made.
        assert!((1..=events.len() as i64).contains(&s.get::<i64, _>(4)), "sheet {id}: version");
        for h in &replayed.handovers {
            assert_eq!(sheet_handovers[&(id, i64::from(h.no))], h.state.as_str(), "sheet {id} handover {}", h.no);
        }
        seqs.entry(s.get(5)).or_default().push(s.get(6));
    }
    for (community, mut seq) in seqs {
        seq.sort_unstable();
        assert!(seq.iter().enumerate().all(|(i, n)| *n == i as i64 + 1), "community {community}: gaps");
    }
    let r = audit::verify(&app, &[]).await.unwrap();
    assert!(r.ok(), "{:?}", r.problems);
}

/// Each community's key register (R-KEY-1 … R-KEY-8, R-MOV-6, R-DUTY-3), as its manager and
/// the tables find it: a cabinet of 25–40 key sets of every basis and the special rooms,
/// eight weeks of sign-outs and returns (some for repair sheets, back before the sheet
/// could be archived), inspections, the seal log and daily counts with one difference
/// reported and resolved; and now two or three keys out, one overdue with its incident
/// open, a special room's approval waiting and one custody agreement in force.
async fn demo_key_register(app: &App, now: i64) {
    use huiqian::app::keys;
    use huiqian::store::keys::Where;
    let communities = huiqian::store::org::communities(app.store.read(), None).await.unwrap();
    for c in &demo::COMMUNITIES {
        let id = communities.iter().find(|x| x.code == c.code).unwrap().id;
        let manager: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(demo::username(c, "cs_manager"))
            .fetch_one(app.store.read())
            .await
            .unwrap();
        let actor = huiqian::app::auth::cli_actor_for(app, manager).await.unwrap();
        let all = keys::register(app, &actor, id, Where::All, "", 200, 0).await.unwrap();
        let code = c.code;
        assert!((25..=40).contains(&all.total), "{code}: {} key sets", all.total);
        assert_eq!(all.cabinets.len(), 1, "{code}");
        for basis in ["vacant_unit", "custody_agreement", "public_room"] {
            assert!(all.keys.iter().any(|k| k.basis == basis), "{code}: no {basis} keys");
        }
        assert!(all.keys.iter().any(|k| k.state == "released"), "{code}: no renovation over, its key handed back");
        for special in ["power", "plant", "roof", "gas"] {
            assert!(all.keys.iter().any(|k| k.special == special), "{code}: no {special} room");
        }
        assert!(all.open_incidents >= 1 && all.pending_approvals >= 1, "{code}: {all:?}");
        let out = keys::register(app, &actor, id, Where::Out, "", 200, 0).await.unwrap();
        assert!((2..=3).contains(&out.total), "{code}: {} keys out", out.total);
        assert_eq!(out.overdue, 1, "{code}: one key overdue");
        let overdue = keys::register(app, &actor, id, Where::Overdue, "", 200, 0).await.unwrap();
        let late = &overdue.keys[0];
        assert!(late.loan_due_at.is_some_and(|d| d < now) && late.open_incidents == 1, "{code}: {late:?}");
        let incidents = keys::incidents(app, &actor, id, false).await.unwrap();
        assert!(
            incidents.iter().any(|i| i.kind == "overdue" && i.state == "open" && i.key_set_id == Some(late.id)),
            "{code}: {incidents:?}"
        );
        assert!(
            incidents.iter().any(|i| i.kind == "count_difference" && i.state == "resolved" && !i.report.is_empty()),
            "{code}: no count difference reported and resolved: {incidents:?}"
        );
        let pending = keys::approvals(app, &actor, id, true).await.unwrap();
        assert!(pending.iter().all(|a| !a.special.is_empty()) && !pending.is_empty(), "{code}: {pending:?}");
        let n = |sql: &'static str| {
            let app = app.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).bind(id).bind(now).fetch_one(app.store.read()).await.unwrap() }
        };
        let in_force = n("SELECT COUNT(*) FROM key_agreements WHERE community_id = $1 AND state = 'active' \
             AND starts_at <= $2 AND ends_at > $2")
        .await;
        assert_eq!(in_force, 1, "{code}: agreements in force");
        let returned = n("SELECT COUNT(*) FROM key_loans WHERE community_id = $1 AND closed_at < $2").await;
        let for_repairs =
            n("SELECT COUNT(*) FROM key_loans WHERE community_id = $1 AND sheet_id IS NOT NULL AND closed_at < $2")
                .await;
        let contractors = n("SELECT COUNT(*) FROM key_loans WHERE community_id = $1 AND authorisation = 'agreement' \
             AND issued_at < $2")
        .await;
        let approved =
            n("SELECT COUNT(*) FROM key_approvals WHERE community_id = $1 AND state = 'used' AND decided_at < $2")
                .await;
        let inspections =
            n("SELECT COUNT(*) FROM unit_inspections WHERE community_id = $1 AND inspected_at < $2").await;
        let counts = n("SELECT COUNT(*) FROM key_counts WHERE community_id = $1 AND counted_at < $2").await;
        let seals =
            n("SELECT COUNT(*) FROM key_cabinet_log WHERE community_id = $1 AND step = 'sealed' AND at < $2").await;
        let opened = n("SELECT COUNT(*) FROM key_cabinet_log WHERE community_id = $1 \
             AND step = 'opened_in_morning' AND seal_intact = 1 AND at < $2")
        .await;
        eprintln!(
            "{code}: {} key sets, {returned} returned sign-outs ({for_repairs} for repairs, {contractors} by \
             contractors), {approved} approvals used, {inspections} inspections, {counts} counts, {seals} seals",
            all.total
        );
        assert!(
            returned >= 60 && for_repairs >= 2 && contractors >= 5,
            "{code}: {returned} {for_repairs} {contractors}"
        );
        assert!(approved >= 3 && inspections >= 10, "{code}: {approved} approvals, {inspections} inspections");
        assert!((45..=56).contains(&counts), "{code}: {counts} counts, most days");
        assert!(seals >= 55 && (seals - opened).abs() <= 1, "{code}: {seals} seals, {opened} opened");
        // Every repair's key was back before its sheet was archived.
        let early = n("SELECT COUNT(*) FROM key_loans l JOIN sheets s ON s.id = l.sheet_id WHERE l.community_id = $1 \
             AND s.archived_at IS NOT NULL AND (l.closed_at IS NULL OR l.closed_at > s.archived_at) AND $2 = $2")
        .await;
        assert_eq!(early, 0, "{code}");
    }
}

/// Every role with a home dashboard finds work on it in both communities: the desk its
/// open sheets and follow-ups, the manager follow-ups to review and corrective actions,
/// the dispatcher repairs to assign, the technician jobs, management this week's
/// complaints and the open sheets (R-ROLE-2, R-SHEET-9).
#[tokio::test]
async fn demo_every_role_home_dashboard_has_work() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_in(dir.path(), |_| {}).await;
    assert!(demo::load_if_empty(&app).await.unwrap());
    let communities = huiqian::store::org::communities(app.store.read(), None).await.unwrap();
    for c in &demo::COMMUNITIES {
        let community: Vec<_> = communities.iter().filter(|x| x.code == c.code).cloned().collect();
        for (role, suffix, _) in &demo::STAFF {
            let name = demo::username(c, suffix);
            let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
                .bind(&name)
                .fetch_one(app.store.read())
                .await
                .unwrap();
            let actor = huiqian::app::auth::cli_actor_for(&app, id).await.unwrap();
            let boards = report::home(&app, &actor, &community, "", "").await.unwrap();
            let Some(d) = boards.first() else {
                // The roles without a dashboard: nothing of theirs is counted there.
                assert!(
                    matches!(
                        role,
                        Role::MoveInReceptionist
                            | Role::Archivist
                            | Role::SecurityOfficer
                            | Role::FinanceClerk
                            | Role::SystemAdmin
                    ),
                    "{name} has no dashboard"
                );
                continue;
            };
            let (w, n) = (&d.wants, &d.counts);
            if w.desk && *role == Role::Receptionist {
                assert!(n.my_open > 0 && n.my_overdue > 0, "{name}: {n:?}");
            }
            if w.follow_up && matches!(role, Role::Receptionist | Role::BuildingManager) {
                assert!(n.my_follow_ups > 0, "{name}: {n:?}");
            }
            if w.review {
                assert!(n.to_review > 0, "{name}: {n:?}");
            }
            if w.dispatch {
                assert!(n.unassigned + n.late_arrivals > 0, "{name}: {n:?}");
            }
            if w.technician {
                assert!(n.my_jobs > 0, "{name}: {n:?}");
            }
            if let Some((open, late)) = d.open {
                assert!(open > 0 && late > 0, "{name}: {open} open, {late} late");
            }
            if let Some(recovery) = &d.recovery {
                assert!(!recovery.is_empty(), "{name}: no recovery rates");
            }
        }
    }
}

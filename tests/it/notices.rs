//! Clocks, the scheduler's notices and the outbox; attachments.

use crate::harness::TestApp;
use crate::sheets::{act, department, register, register_kind, setup};
use huiqian::app::notify;
use huiqian::domain::auth::Role;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// R-SHEET-7: the limit is configurable per kind; business hours follow the calendar.
#[tokio::test]
async fn r_sheet_7_targets_per_kind_and_business_calendar() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let (s, _) = desk
        .put_json(
            &format!("/api/v1/communities/{}/clock-targets", t.c1),
            &json!({"kind": "repair", "target_hours": "24"}),
        )
        .await;
    assert_eq!(s, 403, "community settings are the administrator's");
    let (s, e) = admin
        .put_json(
            &format!("/api/v1/communities/{}/clock-targets", t.c1),
            &json!({"kind": "repair", "target_hours": "24", "warn_hours": "30"}),
        )
        .await;
    assert_eq!((s, e["error"]["fields"][0]["code"].as_str()), (422, Some("clock.warn_after_due")));
    let (s, _) = admin
        .put_json(
            &format!("/api/v1/communities/{}/clock-targets", t.c1),
            &json!({"kind": "repair", "target_hours": "24", "warn_hours": "4"}),
        )
        .await;
    assert_eq!(s, 200);
    let v = register(&desk, t.c1, "phone", "水管爆裂").await;
    let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "急修"})).await;
    let started = v["clock"]["started_at"].as_i64().unwrap();
    assert_eq!(v["clock"]["due_at"].as_i64().unwrap() - started, 24 * 3_600_000);
    assert_eq!(v["clock"]["warn_at"].as_i64().unwrap() - started, 20 * 3_600_000);
    // Changing the target recomputes open sheets from their history at once.
    let (s, _) = admin
        .put_json(
            &format!("/api/v1/communities/{}/clock-targets", t.c1),
            &json!({"kind": "repair", "target_hours": "48", "warn_hours": "4"}),
        )
        .await;
    assert_eq!(s, 200);
    let due: i64 = sqlx::query_scalar("SELECT due_at FROM sheets WHERE id = $1")
        .bind(v["sheet"]["id"].as_i64().unwrap())
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(due - started, 48 * 3_600_000);
    let (_, again) = desk.get_json(&format!("/api/v1/sheets/{}", v["sheet"]["id"])).await;
    assert_eq!(again["sheet"]["version"], v["sheet"]["version"], "a setting change makes nobody's edit stale");
    // A complaint keeps the 72-hour default.
    let (s, c) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "complaint", "channel": "phone", "requester_name": "王秀英", "reason": "噪音", "complaint": {"category": "噪音", "cause": "楼上装修", "course": "晚上十点后仍在施工", "occurred_unknown": true, "place_unknown": true, "people_unknown": true}}),
        )
        .await;
    assert_eq!(s, 201);
    let (_, c) = act(&desk, &c, json!({"action": "dispatch", "department_id": eng, "opinion": "核实"})).await;
    assert_eq!(c["clock"]["due_at"].as_i64().unwrap() - c["clock"]["started_at"].as_i64().unwrap(), 72 * 3_600_000);
    // Calendar: hours, holidays and make-up days are the administrator's to set.
    let (s, e) = admin
        .put_json(
            &format!("/api/v1/communities/{}/calendar/week", t.c1),
            &json!({"days": ["08:30-17:30", "8:30-17:30", "08:30-17:30", "08:30-17:30", "08:30-12:00", "", "bad"]}),
        )
        .await;
    assert_eq!((s, e["error"]["fields"][0]["field"].as_str()), (422, Some("days.6")));
    let (s, _) = admin
        .put_json(
            &format!("/api/v1/communities/{}/calendar/week", t.c1),
            &json!({"days": ["08:30-17:30", "08:30-17:30", "08:30-17:30", "08:30-17:30", "08:30-12:00", "", ""]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = admin
        .put_json(
            &format!("/api/v1/communities/{}/calendar/days", t.c1),
            &json!({"day": "2027年1月1日", "kind": "holiday", "note": "元旦"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, cal) = desk.get_json(&format!("/api/v1/communities/{}/calendar", t.c1)).await;
    assert_eq!(cal["hours"].as_array().unwrap().len(), 5);
    let days = cal["days"].as_array().unwrap();
    let new_year = days.iter().find(|d| d["day"] == "2027-01-01").expect("the day set");
    assert_eq!((new_year["kind"].as_str(), new_year["source"].as_str()), (Some("holiday"), Some("local")));
    let (s, _) = admin
        .put_json(
            &format!("/api/v1/communities/{}/clock-targets", t.c1),
            &json!({"kind": "*", "target_hours": "9", "counting": "business_hours"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, sug) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "suggestion", "channel": "letter", "requester_name": "王秀英", "reason": "建议增加充电桩"}),
        )
        .await;
    let (_, sug) = act(&desk, &sug, json!({"action": "dispatch", "department_id": eng, "opinion": "研究"})).await;
    let due = sug["clock"]["due_at"].as_i64().unwrap();
    let local = chrono::DateTime::from_timestamp_millis(due).unwrap().with_timezone(&chrono_tz::Asia::Shanghai);
    use chrono::{Datelike, Timelike};
    assert!(local.weekday().num_days_from_monday() < 5, "due on a working day: {local}");
    let minutes = local.hour() * 60 + local.minute();
    assert!((8 * 60 + 30..=17 * 60 + 30).contains(&minutes), "due within working hours: {local}");
}

/// The scheduler warns, then notices and escalates overdue sheets, each once — even with
/// two huiqian processes on one database.
#[tokio::test]
async fn scheduler_notices_once_with_two_processes() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let eng = department(&desk, t.c1, "engineering").await;
    // A sheet without a flow of its own: only the collection clock gives notices here.
    let v = register_kind(&desk, t.c1, "situation_report", "电梯困人后异响").await;
    let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请检修"})).await;
    let due = v["clock"]["due_at"].as_i64().unwrap();
    let warn = v["clock"]["warn_at"].as_i64().unwrap();
    // A second process on the same database.
    let other = huiqian::cli::open_with(t.app.config.as_ref().clone(), false).await.unwrap();
    // Before the warning time, nothing is read.
    assert_eq!(notify::tick(&t.app, warn - 1000).await.unwrap(), notify::Tick { read: 0, notices: 0 });
    let (a, b) = tokio::join!(notify::tick(&t.app, warn + 1000), notify::tick(&other, warn + 1000));
    assert_eq!(a.unwrap().notices + b.unwrap().notices, 1, "one due-soon warning");
    assert_eq!(
        notify::tick(&t.app, warn + 2000).await.unwrap().read,
        0,
        "a warned sheet is not read again before it is due"
    );
    let (a, b) = tokio::join!(notify::tick(&t.app, due + 1000), notify::tick(&other, due + 1000));
    // Overdue: the receptionist, plus the supervisor and the manager.
    assert_eq!(a.unwrap().notices + b.unwrap().notices, 3);
    assert_eq!(
        notify::tick(&t.app, due + 60_000).await.unwrap(),
        notify::Tick { read: 0, notices: 0 },
        "escalated sheets leave the scheduler's index"
    );
    let (_, inbox) = desk.get_json("/api/v1/me/notifications").await;
    let kinds: Vec<&str> = inbox.as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["overdue", "due_soon"]);
    assert!(inbox[0]["title"].as_str().unwrap().contains(v["sheet"]["number"].as_str().unwrap()));
    let manager = t.as_role(Role::CsManager).await;
    let (_, m) = manager.get_json("/api/v1/me/notifications?unread=true").await;
    assert_eq!(m[0]["kind"], "escalated");
    let (s, _) = manager.post_json(&format!("/api/v1/me/notifications/{}/read", m[0]["id"]), &json!({})).await;
    assert_eq!(s, 204);
    assert!(manager.get_json("/api/v1/me/notifications?unread=true").await.1.as_array().unwrap().is_empty());
    // An extension gives a new deadline, and the notices start over for it.
    let later = chrono::Utc::now().timestamp_millis() + 10 * 86_400_000;
    let director = t.as_role(Role::CentreDirector).await;
    let (_, v) =
        act(&director, &v, json!({"action": "extend", "due_at": later, "explanation": "等待电梯厂家配件"})).await;
    let level: i64 = sqlx::query_scalar("SELECT notice_level FROM sheets WHERE id = $1")
        .bind(v["sheet"]["id"].as_i64().unwrap())
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(level, 0);
}

/// Notices go to the gateway with retries and backoff; nothing is lost while it is down.
#[tokio::test]
async fn outbox_retries_until_the_gateway_accepts() {
    // A local gateway that refuses the first two posts.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let calls = Arc::new(Mutex::new(0));
    let (r2, c2) = (received.clone(), calls.clone());
    let gateway = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let (r, c) = (r2.clone(), c2.clone());
            async move {
                let n = {
                    let mut c = c.lock().unwrap();
                    *c += 1;
                    *c
                };
                if n <= 2 {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                r.lock().unwrap().push(v);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway).await.unwrap() });
    let t = TestApp::spawn_with(|c| {
        c.notify.webhook_url = url.clone();
        c.notify.retry_base_seconds = 1;
    })
    .await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let eng = department(&desk, t.c1, "engineering").await;
    // A sheet without a flow of its own: only the collection clock gives notices here.
    let v = register_kind(&desk, t.c1, "situation_report", "单元门禁失灵").await;
    let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请检修"})).await;
    let warn = v["clock"]["warn_at"].as_i64().unwrap();
    notify::tick(&t.app, warn + 1).await.unwrap();
    let http = reqwest::Client::new();
    let now = t.now();
    assert_eq!(notify::deliver(&t.app, &http, now).await.unwrap(), 0, "first attempt refused");
    assert_eq!(notify::deliver(&t.app, &http, now).await.unwrap(), 0, "not retried before its time");
    assert_eq!(notify::deliver(&t.app, &http, now + 1_500).await.unwrap(), 0, "second attempt refused");
    assert_eq!(notify::deliver(&t.app, &http, now + 2_500).await.unwrap(), 0, "backoff doubled");
    assert_eq!(notify::deliver(&t.app, &http, now + 5_000).await.unwrap(), 1, "third attempt delivered");
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["kind"], "due_soon");
    assert_eq!(got[0]["sheet"], v["sheet"]["number"]);
    assert_eq!(*calls.lock().unwrap(), 3);
    assert_eq!(notify::deliver(&t.app, &http, now + 3_600_000).await.unwrap(), 0, "delivered once");
}

/// Attachments are checked for type and size; a refused file adds nothing to the sheet.
#[tokio::test]
async fn attachments_are_checked_and_join_the_timeline() {
    let t = TestApp::spawn_with(|c| c.limits.max_upload_bytes = 50_000).await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let v = register(&desk, t.c1, "phone", "楼道墙皮脱落").await;
    let id = v["id"].as_i64().unwrap();
    let send = |name: &'static str, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("purpose", "photo")
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name));
        desk.http.post(desk.url(&format!("/api/v1/sheets/{id}/attachments"))).multipart(form).send()
    };
    let r = send("script.jpg", b"<script>alert(1)</script>".to_vec()).await.unwrap();
    assert_eq!(r.status(), 422, "the name says JPEG, the content does not");
    let mut big = vec![0xFF, 0xD8, 0xFF];
    big.resize(60_000, 0);
    assert_eq!(send("big.jpg", big).await.unwrap().status(), 422);
    let r = send("墙皮.jpg", crate::harness::jpeg(64, 48)).await.unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["attachments"].as_array().unwrap().len(), 1);
    assert_eq!(d["attachments"][0]["mime"], "image/jpeg");
    assert_eq!(d["events"].as_array().unwrap().last().unwrap()["name"], "attached");
    let guard = t.as_role(Role::SecurityOfficer).await;
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(vec![0xFF, 0xD8, 0xFF, 1, 2, 3]).file_name("x.jpg"));
    let r =
        guard.http.post(guard.url(&format!("/api/v1/sheets/{id}/attachments"))).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 403, "security holds no part of this sheet");
}

/// A notice is told in the reader's language, whatever it was when the notice was sent:
/// it keeps its kind and arguments, not words in one language.
#[tokio::test]
async fn notices_speak_the_readers_language() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let tech = t.as_role(Role::Technician).await;
    // A technician takes a repair in on site: it goes to a receptionist, who is told.
    let body = json!({"kind": "repair", "channel": "visit", "requester_name": "王秀英", "reason": "楼道灯不亮",
                      "repair": {"category": "electrical"}, "signature": crate::sheets::SIGNATURE});
    let (s, v) = tech.post_json(&format!("/api/v1/communities/{}/sheets", t.c1), &body).await;
    assert_eq!(s, 201, "{v}");
    let number = v["number"].as_str().unwrap().to_string();
    let (_, list) = desk.get_json("/api/v1/me/notifications").await;
    let n = list.as_array().unwrap().iter().find(|n| n["kind"] == "first_contact_assigned").expect("told").clone();
    assert_eq!(n["title"], format!("首接责任：{number}"));
    let r = desk.http.put(desk.url("/api/v1/me/locale")).json(&json!({"locale": "en"})).send().await.unwrap();
    assert!(r.status().is_success());
    let (_, list) = desk.get_json("/api/v1/me/notifications").await;
    let n = list.as_array().unwrap().iter().find(|n| n["kind"] == "first_contact_assigned").unwrap().clone();
    assert_eq!(n["title"], format!("First contact: {number}"), "the same notice, now in English");
    assert!(n["body"].as_str().unwrap().contains("first-contact receptionist"));
    let html = desk.get("/inbox").await.text().await.unwrap();
    assert!(html.contains(&format!("First contact: {number}")) && !html.contains("首接责任"), "the inbox page too");
}

/// 全部标为已读: the inbox marks at once what it showed; a notice that came after the page
/// was read stays unread, and no one marks another's.
#[tokio::test]
async fn the_inbox_marks_all_it_showed_as_read() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let tech = t.as_role(Role::Technician).await;
    let manager = t.as_role(Role::CsManager).await;
    let take_in = |reason: &'static str| {
        let tech = &tech;
        let url = format!("/api/v1/communities/{}/sheets", t.c1);
        async move {
            let body = json!({"kind": "repair", "channel": "visit", "requester_name": "王秀英", "reason": reason,
                              "repair": {"category": "electrical"}, "signature": crate::sheets::SIGNATURE});
            assert_eq!(tech.post_json(&url, &body).await.0, 201);
        }
    };
    take_in("楼道灯不亮").await;
    take_in("电梯按钮失灵").await;
    async fn unread(c: &crate::harness::Client) -> usize {
        let (_, list) = c.get_json("/api/v1/me/notifications").await;
        list.as_array().unwrap().iter().filter(|n| n["read_at"].is_null()).count()
    }
    let mine = unread(&desk).await;
    assert!(mine >= 2, "the desk was told of both");
    let managers = unread(&manager).await;
    let html = desk.get("/inbox").await.text().await.unwrap();
    assert!(html.contains("id=\"read-all\"") && html.contains("全部标为已读"));
    let before: String = html.split("name=\"before\" value=\"").nth(1).unwrap().split('"').next().unwrap().into();
    t.advance(60_000);
    take_in("单元门禁坏了").await;
    let r = desk.post_form("/inbox/read-all", &[("before", before.as_str())]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(unread(&desk).await, 1, "what came after the page was read is still to read");
    assert_eq!(unread(&manager).await, managers, "only one's own inbox");
}

/// The menu's unread badge stays two characters wide: past 99 it says 99+ (a director
/// back from leave has hundreds), with the number in its title; marking all read clears it.
#[tokio::test]
async fn the_unread_badge_keeps_the_menu_on_one_line() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let (id, director) = t.staff("director_two", "二号主任", Role::CentreDirector).await;
    let mut tx = t.app.store.begin().await.unwrap();
    for i in 0..120 {
        sqlx::query(
            "INSERT INTO notifications (user_id, community_id, kind, title, body, dedupe, created_at) \
             VALUES ($1, $2, 'capa_opened', '纠正措施', '请处理', $3, $4)",
        )
        .bind(id)
        .bind(t.c1)
        .bind(format!("badge-test:{i}"))
        .bind(t.now() - 60_000)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let badge = director.get("/inbox/count").await.text().await.unwrap();
    assert!(badge.contains(">99+<") && badge.contains("title=\"120\""), "{badge}");
    assert_eq!(director.post_form("/inbox/read-all", &[]).await.status(), 303);
    assert_eq!(director.get("/inbox/count").await.text().await.unwrap(), "", "nothing left to read");
}

//! Countersign sheets over HTTP (R-SHEET-1 … R-SHEET-12), on both backends.

use crate::harness::{Client, PASSWORD, TestApp, new_staff};
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

pub const SIGNATURE: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACgAAAAUCAAAAADaLSBnAAAAJ0lEQVR42mNg+A8GBCli1aGQ1DGWgVjzGIi1l4FY9zGMBs9o8KBTAJ+1q3GjpzGEAAAAAElFTkSuQmCC";

pub async fn setup(t: &TestApp) {
    seed_unit(t, "").await;
}

/// Building 3 of community 1, its unit 3-2-1502 and the resident 王秀英 (13812345678, with
/// the identity card number `id_number` when not empty) living there, made through the
/// application; the building's, the unit's and the person's ids.
pub async fn seed_unit(t: &TestApp, id_number: &str) -> (i64, i64, i64) {
    use huiqian::app::{org, people};
    let cli = t.cli();
    let b = org::create_building(
        &t.app,
        &cli,
        t.c1,
        &org::BuildingInput { code: "3".into(), name: String::new(), floors: 18, active: true },
    )
    .await
    .unwrap();
    let u = org::create_unit(
        &t.app,
        &cli,
        t.c1,
        &org::UnitInput {
            room_no: "3-2-1502".into(),
            floor: String::new(),
            area: "89.5".into(),
            status: "occupied".into(),
            active: true,
        },
    )
    .await
    .unwrap();
    let p = people::create_person(
        &t.app,
        &cli,
        t.c1,
        &people::PersonInput {
            name: "王秀英".into(),
            phone: "13812345678".into(),
            id_number: id_number.into(),
            room_no: "3-2-1502".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (b.id, u.id, p.id)
}

/// The id of the sheet a page redirected to (the last part of its location).
pub fn sheet_id(location: &str) -> i64 {
    location.rsplit('/').next().unwrap().parse().unwrap()
}

/// The sheet's version as a form field carries it.
pub async fn version(t: &TestApp, id: i64) -> String {
    let v: i64 = sqlx::query_scalar("SELECT version FROM sheets WHERE id = $1")
        .bind(id)
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    v.to_string()
}

pub async fn department(c: &Client, community: i64, kind: &str) -> i64 {
    let (_, deps) = c.get_json(&format!("/api/v1/communities/{community}/departments")).await;
    deps.as_array().unwrap().iter().find(|d| d["kind"] == kind).unwrap()["id"].as_i64().unwrap()
}

/// A phone registration of any kind (no flow details).
pub async fn register_kind(c: &Client, community: i64, kind: &str, reason: &str) -> Value {
    let (s, v) = c
        .post_json(
            &format!("/api/v1/communities/{community}/sheets"),
            &json!({"kind": kind, "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英", "reason": reason}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v
}

pub async fn register(c: &Client, community: i64, channel: &str, reason: &str) -> Value {
    let sig = if channel == "visit" { SIGNATURE } else { "" };
    let (s, v) = c
        .post_json(
            &format!("/api/v1/communities/{community}/sheets"),
            &json!({"kind": "repair", "channel": channel, "room_no": "3-2-1502", "requester_name": "王秀英", "requester_phone": "13812345678", "reason": reason, "signature": sig, "repair": {"category": "other"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v
}

pub async fn act(c: &Client, sheet: &Value, body: Value) -> (u16, Value) {
    let id = sheet["id"].as_i64().or_else(|| sheet["sheet"]["id"].as_i64()).unwrap();
    let version = sheet["version"].as_i64().or_else(|| sheet["sheet"]["version"].as_i64()).unwrap();
    let mut b = body;
    b["version"] = json!(version);
    c.post_json(&format!("/api/v1/sheets/{id}/actions"), &b).await
}

/// R-SHEET-1/2/3: registration numbers the sheet per community and year; a visit is
/// signed at once; a call waits for its signature on a list.
#[tokio::test]
async fn r_sheet_1_2_3_registration_number_and_signature() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let year = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).format("%Y").to_string();
    let v = register(&desk, t.c1, "visit", "厨房水管漏水").await;
    assert_eq!(v["number"], format!("KF-{year}-000001"));
    assert_eq!(v["signature_pending"], 0);
    assert_eq!(v["state"], "registered");
    let (_, d) = desk.get_json(&format!("/api/v1/sheets/{}", v["id"])).await;
    assert_eq!(d["attachments"][0]["purpose"], "signature");
    assert_eq!(d["events"][0]["name"], "registered");
    // A visit without a signature is refused, and does not use up a number.
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "repair", "channel": "visit", "requester_name": "王秀英", "reason": "漏水", "repair": {"category": "water"}}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["fields"][0]["field"], "signature");
    let phone = register(&desk, t.c1, "phone", "电话反映楼道灯坏了").await;
    assert_eq!(phone["number"], format!("KF-{year}-000002"), "no gap after the refused registration");
    assert_eq!(phone["signature_pending"], 1);
    let (_, q) = desk.get_json(&format!("/api/v1/communities/{}/queues/signature", t.c1)).await;
    assert_eq!(q.as_array().unwrap().len(), 1);
    let (s, after) =
        act(&desk, &phone, json!({"action": "capture_signature", "signature": SIGNATURE, "signer": "王秀英"})).await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(after["sheet"]["signature_pending"], 0);
    let (_, q) = desk.get_json(&format!("/api/v1/communities/{}/queues/signature", t.c1)).await;
    assert!(q.as_array().unwrap().is_empty());
    // Another community numbers its own sheets.
    let (s, _) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c2),
            &json!({"kind": "inquiry", "channel": "phone", "requester_name": "张三", "reason": "x"}),
        )
        .await;
    assert_eq!(s, 403);
}

/// R-SHEET-2: concurrent registrations get distinct numbers without gaps.
#[tokio::test]
async fn r_sheet_2_concurrent_registrations_number_without_gaps() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let mut tasks = vec![];
    for i in 0..24 {
        let http = desk.http.clone();
        let url = desk.url(&format!("/api/v1/communities/{}/sheets", t.c1));
        tasks.push(tokio::spawn(async move {
            let r = http.post(url).json(&json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": format!("第{i}次咨询")})).send().await.unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["number"].as_str().unwrap().to_string()
        }));
    }
    let mut seqs: Vec<i64> = vec![];
    for task in tasks {
        let n = task.await.unwrap();
        seqs.push(n.rsplit('-').next().unwrap().parse().unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=24).collect::<Vec<_>>());
}

/// A double-click or a retried request registers one sheet.
#[tokio::test]
async fn registration_is_idempotent() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let body = json!({"kind": "complaint", "channel": "phone", "requester_name": "王秀英", "reason": "夜间施工噪音", "complaint": {"category": "噪音", "cause": "夜间施工", "course": "连续三晚", "occurred_unknown": true, "place": "3号楼", "people": "施工队"}});
    let url = desk.url(&format!("/api/v1/communities/{}/sheets", t.c1));
    let send = || desk.http.post(&url).header("idempotency-key", "reg-1").json(&body).send();
    let (a, b) = tokio::join!(send(), send());
    let (a, b): (Value, Value) = (a.unwrap().json().await.unwrap(), b.unwrap().json().await.unwrap());
    assert_eq!(a["id"], b["id"]);
    assert_eq!(t.count("sheets").await, 1);
}

/// R-SHEET-4/5/7/11: the everyday journey across departments, with the handover ledger.
#[tokio::test]
async fn r_sheet_4_5_7_11_journey_ledger_and_archives() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let tech = t.as_role(Role::Technician).await;
    let guard = t.as_role(Role::SecurityOfficer).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let v = register(&desk, t.c1, "visit", "卫生间漏水到楼下").await;
    // Only customer service dispatches.
    let (s, _) = act(&tech, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "x"})).await;
    assert_eq!(s, 403);
    let (s, v) =
        act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部上门查看漏水"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["sheet"]["state"], "dispatched");
    assert_eq!(v["clock"]["state"], "running");
    // Engineering's queue has it; security's does not, and security cannot sign for it.
    let (_, q) = tech.get_json(&format!("/api/v1/communities/{}/queues/department", t.c1)).await;
    assert_eq!(q.as_array().unwrap().len(), 1);
    let (_, q) = guard.get_json(&format!("/api/v1/communities/{}/queues/department", t.c1)).await;
    assert!(q.as_array().unwrap().is_empty());
    let (s, _) = act(&guard, &v, json!({"action": "acknowledge", "handover": 1})).await;
    assert_eq!(s, 403);
    let (s, e) = act(&tech, &v, json!({"action": "return", "handover": 1, "result": "x", "signer": "李师傅"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("sheet.handover_not_received")));
    let (s, v) = act(&tech, &v, json!({"action": "acknowledge", "handover": 1})).await;
    assert_eq!(s, 200);
    assert!(v["handovers"][0]["acknowledged_at"].is_i64(), "receipt time recorded");
    let (_, v) = act(
        &tech,
        &v,
        json!({"action": "return", "handover": 1, "result": "已更换三角阀，楼下不再渗水", "signer": "李师傅"}),
    )
    .await;
    assert_eq!(v["sheet"]["state"], "awaiting_acceptance");
    // Collection needs the acceptance opinion confirmed by the resident.
    let before = v["events"].as_array().unwrap().len();
    let (s, e) = act(&desk, &v, json!({"action": "collect", "opinion": ""})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("sheet.acceptance_required")));
    let (s, e) = act(&desk, &v, json!({"action": "collect", "opinion": "满意"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("sheet.confirmation_required")));
    let (_, same) = desk.get_json(&format!("/api/v1/sheets/{}", v["sheet"]["id"])).await;
    assert_eq!(same["events"].as_array().unwrap().len(), before, "a refused action writes nothing");
    let (s, v) = act(
        &desk,
        &v,
        json!({"action": "collect", "opinion": "维修及时，满意", "signature": SIGNATURE, "signer": "王秀英"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["clock"]["state"], "met");
    let (s, v) = act(&desk, &v, json!({"action": "archive"})).await;
    assert_eq!(s, 200);
    assert_eq!(v["sheet"]["state"], "archived");
    let names: Vec<&str> = v["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "registered",
            "repair_opened",
            "dispatched",
            "acknowledged",
            "returned",
            "return_received",
            "collected",
            "archived"
        ]
    );
    // The ledger: who handed over, to whom, receipt, return.
    let (_, ledger) = desk.get_json(&format!("/api/v1/communities/{}/handovers", t.c1)).await;
    assert_eq!(ledger[0]["state"], "returned");
    assert_eq!(ledger[0]["acknowledged_by_name"], "测试维修工");
    let csv = desk.get(&format!("/api/v1/communities/{}/handovers?format=csv", t.c1)).await.bytes().await.unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "BOM for Excel");
    let text = String::from_utf8_lossy(&csv[3..]).to_string();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].iter().any(|c| c == "李师傅"));
    // Three archives: the unit's, customer service's (by words, phone, number), the department's.
    let (_, units) = desk.get_json(&format!("/api/v1/communities/{}/units?room=3-2-1502", t.c1)).await;
    let (_, by_unit) = desk.get_json(&format!("/api/v1/units/{}/sheets", units[0]["id"])).await;
    assert_eq!(by_unit.as_array().unwrap().len(), 1);
    let (_, by_word) = desk.get_json(&format!("/api/v1/communities/{}/sheets?q={}", t.c1, "漏水")).await;
    assert_eq!(by_word.as_array().unwrap().len(), 1);
    let (_, by_phone) =
        desk.get_json(&format!("/api/v1/communities/{}/sheets?phone_last4=5678&state=archived", t.c1)).await;
    assert_eq!(by_phone.as_array().unwrap().len(), 1);
    let (_, by_number) = desk
        .get_json(&format!(
            "/api/v1/communities/{}/sheets?number={}",
            t.c1,
            v["sheet"]["number"].as_str().unwrap().to_lowercase()
        ))
        .await;
    assert_eq!(by_number.as_array().unwrap().len(), 1);
    let (_, by_dep) = desk.get_json(&format!("/api/v1/departments/{eng}/sheets")).await;
    assert_eq!(by_dep.as_array().unwrap().len(), 1);
    let (_, none) = desk.get_json(&format!("/api/v1/communities/{}/sheets?q={}", t.c1, "电梯")).await;
    assert!(none.as_array().unwrap().is_empty());
}

/// Two people acting on the same sheet: the second gets a conflict and re-reads.
#[tokio::test]
async fn concurrent_actions_conflict() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let other = t.as_role(Role::CsSupervisor).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let sec = department(&desk, t.c1, "security").await;
    let v = register(&desk, t.c1, "phone", "地下车库积水").await;
    let (s, _) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部排水"})).await;
    assert_eq!(s, 200);
    let (s, e) =
        act(&other, &v, json!({"action": "dispatch", "department_id": sec, "opinion": "请安保设置警示"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("stale_version")));
}

/// R-SHEET-10: beyond the centre, with a third party's receipt and the director's acceptance.
#[tokio::test]
async fn r_sheet_10_beyond_the_centre_with_third_party() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let director = t.as_role(Role::CentreDirector).await;
    let v = register(&desk, t.c1, "phone", "小区外道路井盖缺失").await;
    let (s, v) = act(&desk, &v, json!({"action": "beyond_centre", "explanation": "属市政管理，已告知业主并转市政", "third_party": "市政管理所"})).await;
    assert_eq!(s, 200, "{v}");
    let (s, e) = act(&director, &v, json!({"action": "collect", "opinion": "已解决", "phone_confirmed_at": 1, "phone_note": "业主确认", "as_director": true})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("sheet.third_party_receipt_required")));
    let (_, v) =
        act(&desk, &v, json!({"action": "record_third_party_receipt", "evidence": "市政管理所回执 2026-11-20"})).await;
    let (s, _) =
        act(&desk, &v, json!({"action": "collect", "opinion": "已解决", "phone_confirmed_at": 1, "as_director": true}))
            .await;
    assert_eq!(s, 403, "only the director writes the acceptance as director");
    let (s, v) = act(&director, &v, json!({"action": "collect", "opinion": "市政已补装井盖", "phone_confirmed_at": 1, "phone_note": "业主电话确认", "as_director": true})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["sheet"]["state"], "collected");
}

/// R-SHEET-6: only a manager or supervisor reassigns the first-contact receptionist.
#[tokio::test]
async fn r_sheet_6_reassignment_by_manager_or_supervisor() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let sup = t.as_role(Role::CsSupervisor).await;
    let v = register(&desk, t.c1, "phone", "信箱损坏").await;
    let mut conn = t.app.store.read().acquire().await.unwrap();
    let to = huiqian::store::auth::user_by_name(&mut conn, "u_cs_supervisor").await.unwrap().unwrap().id;
    let tech = huiqian::store::auth::user_by_name(&mut conn, "u_technician").await.unwrap().unwrap().id;
    drop(conn);
    let (s, _) = act(&desk, &v, json!({"action": "reassign_first_contact", "to_user_id": to, "reason": "休假"})).await;
    assert_eq!(s, 403);
    let (s, e) = act(&sup, &v, json!({"action": "reassign_first_contact", "to_user_id": tech, "reason": "休假"})).await;
    assert_eq!((s, e["error"]["fields"][0]["code"].as_str()), (422, Some("sheet.not_a_receptionist")));
    let (s, v) =
        act(&sup, &v, json!({"action": "reassign_first_contact", "to_user_id": to, "reason": "前台休假一周"})).await;
    assert_eq!(s, 200);
    assert_eq!(v["sheet"]["first_contact_name"], "测试客服部主管");
    let (_, mine) = sup.get_json(&format!("/api/v1/communities/{}/queues/mine", t.c1)).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    // Another receptionist may collect it per the ledger, but must say why.
    let eng = department(&desk, t.c1, "engineering").await;
    let tech_c = t.as_role(Role::Technician).await;
    let (_, v) = act(&sup, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请修理"})).await;
    let (_, v) = act(&tech_c, &v, json!({"action": "acknowledge", "handover": 1})).await;
    let (_, v) =
        act(&tech_c, &v, json!({"action": "return", "handover": 1, "result": "已修好", "signer": "李师傅"})).await;
    let (s, e) = act(&desk, &v, json!({"action": "collect", "opinion": "满意", "phone_confirmed_at": 1})).await;
    assert_eq!((s, e["error"]["fields"][0]["code"].as_str()), (422, Some("sheet.on_behalf_reason_required")));
    let (s, v) = act(&desk, &v, json!({"action": "collect", "opinion": "满意", "phone_confirmed_at": 1, "on_behalf": "主管休假，按交接记录代收"})).await;
    assert_eq!(s, 200, "{v}");
    let collected = v["events"].as_array().unwrap().iter().find(|e| e["name"] == "collected").unwrap();
    assert!(collected["data"].as_str().unwrap().contains("按交接记录代收"));
}

/// R-SHEET-9: the chase queue orders by time left; overdue sheets are listed; the
/// recovery rate per receptionist is reported.
#[tokio::test]
async fn r_sheet_9_chase_overdue_and_recovery_rate() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let eng = department(&desk, t.c1, "engineering").await;
    // The third sheet is dispatched first and its time runs out; the others come later.
    let v = register(&desk, t.c1, "phone", "三号").await;
    let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请处理"})).await;
    let late = v["sheet"]["id"].as_i64().unwrap();
    t.advance(v["sheet"]["due_at"].as_i64().expect("a time limit") + 3_600_000 - t.now());
    let desk = t.as_role(Role::Receptionist).await;
    let mut ids = vec![];
    for reason in ["一号", "二号"] {
        let v = register(&desk, t.c1, "phone", reason).await;
        let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请处理"})).await;
        ids.push(v["sheet"]["id"].as_i64().unwrap());
    }
    ids.push(late);
    let (_, chase) = desk.get_json(&format!("/api/v1/communities/{}/queues/chase", t.c1)).await;
    assert_eq!(chase[0]["id"], ids[2], "the least time left first");
    let (_, overdue) = desk.get_json(&format!("/api/v1/communities/{}/queues/overdue", t.c1)).await;
    assert_eq!(overdue.as_array().unwrap().len(), 1);
    let manager = t.as_role(Role::CsManager).await;
    let (s, r) = manager.get_json(&format!("/api/v1/communities/{}/recovery?from=0&to=99999999999999", t.c1)).await;
    assert_eq!(s, 200);
    assert_eq!((r[0]["registered"].as_i64(), r[0]["recovered"].as_i64()), (Some(3), Some(0)));
    assert_eq!(desk.get_json(&format!("/api/v1/communities/{}/recovery?from=0&to=1", t.c1)).await.0, 403);
}

/// R-SHEET-12: the record of a sheet cannot be altered afterwards.
#[tokio::test]
async fn r_sheet_12_sheet_events_are_append_only() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    register(&desk, t.c1, "phone", "咨询物业费").await;
    assert!(sqlx::query("UPDATE sheet_events SET data = '{}'").execute(t.app.store.read()).await.is_err());
    assert!(sqlx::query("DELETE FROM sheet_events").execute(t.app.store.read()).await.is_err());
}

/// R-ROLE-2 for sheet actions: each action × each role, on a sheet in the right state.
#[tokio::test]
async fn r_role_2_each_sheet_action_for_each_role() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let mut failures = vec![];
    for role in Role::ALL {
        let c = t.as_role(role).await;
        let fresh = register(&desk, t.c1, "phone", "权限检查").await;
        let other = register(&desk, t.c1, "phone", "权限检查").await;
        let (_, dispatched) =
            act(&desk, &other, json!({"action": "dispatch", "department_id": eng, "opinion": "请处理"})).await;
        let unsigned = register(&desk, t.c1, "phone", "权限检查").await;
        let cases: Vec<(&str, &Value, Value, bool)> = vec![
            (
                "dispatch",
                &fresh,
                json!({"action": "dispatch", "department_id": eng, "opinion": "请处理"}),
                matches!(role, Role::Receptionist | Role::CsSupervisor | Role::CsManager | Role::CentreDirector),
            ),
            (
                "acknowledge",
                &dispatched,
                json!({"action": "acknowledge", "handover": 1}),
                matches!(role, Role::Technician | Role::EngineeringDispatcher | Role::CentreDirector),
            ),
            (
                "capture_signature",
                &unsigned,
                json!({"action": "capture_signature", "signature": SIGNATURE, "signer": "王秀英"}),
                role.allows(huiqian::domain::auth::Permission::RegisterSheet),
            ),
        ];
        for (name, sheet, body, allowed) in cases {
            let before = t.audit_count().await;
            let (s, e) = act(&c, sheet, body).await;
            if allowed && s != 200 {
                failures.push(format!("{role:?} {name}: {s} {e}"));
            }
            if !allowed && (s != 403 || t.audit_count().await != before) {
                failures.push(format!("{role:?} {name}: {s}, expected 403 and nothing written"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// R-SHEET-4: a handover may name its receiver, who then signs for it.
#[tokio::test]
async fn r_sheet_4_a_named_receiver_signs_for_the_handover() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let building = t.as_role(Role::BuildingManager).await;
    let sec = department(&desk, t.c1, "security").await;
    let mut conn = t.app.store.read().acquire().await.unwrap();
    let bm = huiqian::store::auth::user_by_name(&mut conn, "u_building_manager").await.unwrap().unwrap().id;
    drop(conn);
    let outsider =
        new_staff(&t.app, "ly_guard", "柳园保安", PASSWORD, huiqian::app::auth::StaffOptions::default()).await;
    huiqian::app::auth::grant_role(&t.app, &t.cli(), outsider, Some(t.c2), Role::SecurityOfficer, None, false)
        .await
        .unwrap();
    let v = register(&desk, t.c1, "phone", "楼道堆放杂物").await;
    let (s, e) = act(
        &desk,
        &v,
        json!({"action": "dispatch", "department_id": sec, "to_user_id": outsider, "opinion": "请清理"}),
    )
    .await;
    assert_eq!((s, e["error"]["fields"][0]["code"].as_str()), (422, Some("sheet.receiver_unknown")));
    let (s, v) = act(
        &desk,
        &v,
        json!({"action": "dispatch", "department_id": sec, "to_user_id": bm, "opinion": "请楼宇管理员协调清理"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["handovers"][0]["to_user_id"], bm);
    let (s, v) = act(&building, &v, json!({"action": "acknowledge", "handover": 1})).await;
    assert_eq!(s, 200, "the named receiver signs although not of the security department");
    assert_eq!(v["handovers"][0]["acknowledged_by_name"], "测试楼宇管理员");
}

//! The manual read rule by rule where the first reading had departed from it: complaint
//! routing and follow-ups, department heads, suspension, first contact, signatures,
//! required fields, suggestions, arrival clocks, business hours and holidays, the phone
//! cap, unreachable residents, the weekly table to the director, the handover ledger's
//! receipts and ID numbers. Over HTTP, on both backends.

use crate::harness::{Client, PASSWORD, READY, TestApp, backend, new_staff};
use crate::sheets::{SIGNATURE, act, department, register, setup};
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Timelike};
use huiqian::app::{auth, org, people};
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;

async fn me_id(c: &Client) -> i64 {
    c.get_json("/api/v1/me").await.1["user"]["id"].as_i64().unwrap()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// The code the error gives a field, if it names it.
fn field_code(e: &Value, field: &str) -> Option<String> {
    e["error"]["fields"]
        .as_array()?
        .iter()
        .find(|x| x["field"] == field)
        .and_then(|x| x["code"].as_str().map(str::to_string))
}

async fn sheet(c: &Client, id: &Value) -> Value {
    let id = id.as_i64().or_else(|| id["id"].as_i64()).or_else(|| id["sheet"]["id"].as_i64()).unwrap();
    c.get_json(&format!("/api/v1/sheets/{id}")).await.1
}

/// A complaint by phone with its time, place and people; `extra` adds to its details.
async fn complaint(c: &Client, t: &TestApp, extra: Value) -> Value {
    let mut body = json!({"kind": "complaint", "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英",
        "reason": "投诉", "complaint": {"category": "服务态度", "cause": "态度生硬", "course": "办理业务时被催促",
        "place": "客服中心前台", "people": "前台接待员", "occurred_at": t.now() - 2 * HOUR}});
    for (k, v) in extra.as_object().unwrap() {
        body["complaint"][k] = v.clone();
    }
    let (s, v) = c.post_json(&format!("/api/v1/communities/{}/sheets", t.c1), &body).await;
    assert_eq!(s, 201, "{v}");
    sheet(c, &v["id"]).await
}

/// The values of the options of a `<select>` found by its id.
fn options(html: &str, select_id: &str) -> Vec<String> {
    let at = html.find(&format!("id=\"{select_id}\"")).unwrap_or_else(|| panic!("no #{select_id}: {html}"));
    let rest = &html[at..];
    let end = rest.find("</select>").unwrap();
    rest[..end].split("<option value=\"").skip(1).map(|o| o.split('"').next().unwrap().to_string()).collect()
}

async fn queue(c: &Client, community: i64, name: &str) -> Vec<i64> {
    let (_, q) = c.get_json(&format!("/api/v1/communities/{community}/queues/{name}")).await;
    q.as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

async fn notices(c: &Client) -> Vec<String> {
    let (_, v) = c.get_json("/api/v1/me/notifications").await;
    v.as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_string()).collect()
}

fn id_of(d: &Value) -> i64 {
    d["sheet"]["id"].as_i64().unwrap()
}

/// Dispatched to engineering, signed for and returned by the technician.
async fn returned(t: &TestApp, desk: &Client, reason: &str, channel: &str) -> Value {
    let tech = t.as_role(Role::Technician).await;
    let eng = department(desk, t.c1, "engineering").await;
    let v = register(desk, t.c1, channel, reason).await;
    let (s, d) = act(desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部处理"})).await;
    assert_eq!(s, 200, "{d}");
    let (_, d) = act(&tech, &d, json!({"action": "acknowledge", "handover": 1})).await;
    let (s, d) =
        act(&tech, &d, json!({"action": "return", "handover": 1, "result": "已处理", "signer": "李师傅"})).await;
    assert_eq!(s, 200, "{d}");
    d
}

/// R-CMP-2: a valid complaint goes "到被投诉或处理投诉的相关部门" — the department complained
/// about may handle it; R-CMP-3: one about staff goes to the director only. The judge form
/// offers exactly the departments the rule allows.
#[tokio::test]
async fn r_cmp_2_a_complaint_goes_to_the_department_complained_about() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let tech = t.as_role(Role::Technician).await;
    let (eng, sec, cs, office) = (
        department(&desk, t.c1, "engineering").await,
        department(&desk, t.c1, "security").await,
        department(&desk, t.c1, "customer_service").await,
        department(&desk, t.c1, "director_office").await,
    );
    let d =
        complaint(&desk, &t, json!({"against": "department", "against_department_id": eng, "category": "维修质量"}))
            .await;
    let html = manager.get(&format!("/sheets/{}", id_of(&d))).await.text().await.unwrap();
    let offered = options(&html, "judge-department");
    for dep in [eng, sec, cs] {
        assert!(offered.contains(&dep.to_string()), "{dep} should be offered: {offered:?}");
    }
    assert!(!html.contains("id=\"director-only\""));
    let deadline = t.now() + 72 * HOUR;
    let (s, d) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": true, "explanation": "维修质量问题，由工程部处理并答复", "department_id": eng, "deadline_at": deadline}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["handovers"][0]["department_id"], eng, "sent to the department complained about");
    assert_eq!(d["request"]["route"], "department");
    assert!(queue(&tech, t.c1, "department").await.contains(&id_of(&d)), "in engineering's queue");

    // About customer-service staff, a supervisor, or customer service as a department: the
    // director's office is the only choice offered.
    for against in [
        json!({"against": "customer_service_staff", "against_name": "前台小张"}),
        json!({"against": "supervisor"}),
        json!({"against": "department", "against_department_id": cs}),
    ] {
        let d = complaint(&desk, &t, against.clone()).await;
        let html = manager.get(&format!("/sheets/{}", id_of(&d))).await.text().await.unwrap();
        let offered: Vec<String> = options(&html, "judge-department").into_iter().filter(|o| !o.is_empty()).collect();
        assert_eq!(offered, vec![office.to_string()], "{against}");
        assert!(html.contains("id=\"director-only\""), "the form says why");
    }
}

/// R-CMP-7, R-FU-1: the person a complaint is about never follows it up: the task goes to
/// another receptionist, says why, and the person complained about can neither record it
/// nor be given it.
#[tokio::test]
async fn r_cmp_7_the_person_complained_about_never_follows_it_up() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let desk_id = me_id(&desk).await;
    let (other_id, other) = t.staff("desk_two", "二号接待员", Role::Receptionist).await;
    let d = complaint(
        &desk,
        &t,
        json!({"against": "customer_service_staff", "against_user_id": desk_id, "against_name": "测试前台接待员"}),
    )
    .await;
    assert_eq!(d["sheet"]["first_contact_id"], desk_id, "the person complained about took the call");
    assert_eq!(d["case"]["complaint"]["details"]["against_user"], desk_id);
    let (s, d) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": false, "explanation": "经核实系误会，已向业主解释"}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let (s, d) =
        act(&desk, &d, json!({"action": "collect", "opinion": "接受解释", "signature": SIGNATURE, "signer": "王秀英"}))
            .await;
    assert_eq!(s, 200, "{d}");
    let f = d["follow_ups"][0].clone();
    assert_eq!(f["assigned_to"], other_id, "another receptionist follows it up: {f}");
    assert_eq!(f["excluded_user_id"], desk_id);
    let note = f["note"].as_str().unwrap();
    assert!(note.contains("测试前台接待员") && note.contains("二号接待员") && note.contains("不回访"), "{note}");
    assert!(notices(&other).await.contains(&"follow_up_assigned".to_string()));
    // The person complained about cannot record it, nor be given it.
    let before = t.audit_count().await;
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/follow-ups/{}/record", f["id"]),
            &json!({"version": f["version"], "method": "visit", "outcome": "satisfied", "content": "满意", "signature": SIGNATURE, "signer": "王秀英"}),
        )
        .await;
    assert_eq!((s, code(&e)), (422, "followup.subject_excluded"));
    let (s, e) = manager
        .post_json(
            &format!("/api/v1/follow-ups/{}/reassign", f["id"]),
            &json!({"version": f["version"], "to_user_id": desk_id}),
        )
        .await;
    assert_eq!((s, field_code(&e, "to_user_id").as_deref()), (422, Some("followup.subject_excluded")), "{e}");
    assert_eq!(t.audit_count().await, before, "nothing written");
    // The task's page says why, and does not offer the person complained about.
    let html = manager.get(&format!("/follow-ups/{}", f["id"])).await.text().await.unwrap();
    assert!(html.contains("id=\"follow-up-note\"") && html.contains("不回访"));
    let form = &html[html.find("id=\"reassign-form\"").expect("the reassign form")..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(!form.contains(&format!("value=\"{desk_id}\"")), "the person complained about is not offered: {form}");
    let (s, r) = other
        .post_json(
            &format!("/api/v1/follow-ups/{}/record", f["id"]),
            &json!({"version": f["version"], "method": "visit", "outcome": "satisfied", "content": "入户回访，业主满意", "signature": SIGNATURE, "signer": "王秀英"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
}

/// R-SHEET-8: "由相关责任部门的负责人…签字" — a grant marks the head of a department;
/// extensions, suspensions and terminations are signed by the head of the department
/// holding the work, the customer-service manager only for customer service's own, the
/// director always.
#[tokio::test]
async fn r_sheet_8_the_head_of_the_department_that_holds_the_work_signs() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let tech = t.as_role(Role::Technician).await;
    let director = t.as_role(Role::CentreDirector).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let head = new_staff(&t.app, "eng_head", "工程部刘经理", PASSWORD, READY).await;
    // A head needs a department: a role of no department cannot head one.
    let (s, e) = admin
        .post_json(
            &format!("/api/v1/staff/{}/roles", head),
            &json!({"community_id": t.c1, "role": "system_admin", "head": true}),
        )
        .await;
    assert_eq!((s, field_code(&e, "department_id").as_deref()), (422, Some("department.head_needs_department")));
    let (s, v) = admin
        .post_json(
            &format!("/api/v1/staff/{}/roles", head),
            &json!({"community_id": t.c1, "role": "engineering_dispatcher", "head": true}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, detail) = admin.get_json(&format!("/api/v1/staff/{}", head)).await;
    let grant = &detail["roles"][0];
    assert_eq!((grant["is_head"].as_i64(), grant["department_id"].as_i64()), (Some(1), Some(eng)), "{detail}");
    let html = admin.get(&format!("/staff/{}", head)).await.text().await.unwrap();
    assert!(html.contains("head-tag") && html.contains("工程部"), "the staff page shows the head");
    let head_client = t.client("eng_head").await;

    // Engineering's work: its head signs; the CS manager and a technician do not.
    let v = register(&desk, t.c1, "phone", "外墙渗水").await;
    let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部查看"})).await;
    let later = t.now() + 7 * 86_400_000;
    let extend = json!({"action": "extend", "due_at": later, "explanation": "需外墙施工队，雨季后施工"});
    for c in [&desk, &manager, &tech] {
        let (s, e) = act(c, &v, extend.clone()).await;
        assert_eq!((s, code(&e)), (422, "sheet.head_signature_required"));
    }
    let (s, v) = act(&head_client, &v, extend.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["clock"]["due_at"], later);
    let last = v["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["name"].as_str(), last["by_role"].as_str()), (Some("extended"), Some("engineering_dispatcher")));
    // The director always may.
    let (s, v) = act(&director, &v, json!({"action": "terminate", "explanation": "业主自行维修，撤回申请"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["sheet"]["outcome"], "terminated");

    // Customer service's own work (nothing sent out yet): its manager signs, the head of
    // engineering does not.
    let w = register(&desk, t.c1, "phone", "业主要求暂缓处理").await;
    let (s, e) = act(&head_client, &w, json!({"action": "suspend", "explanation": "业主出差"})).await;
    assert_eq!((s, code(&e)), (422, "sheet.head_signature_required"));
    let (s, w) = act(&manager, &w, json!({"action": "suspend", "explanation": "业主出差，回来后再约"})).await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["sheet"]["state"], "suspended");
}

/// R-SHEET-8: "暂停的会签单应返回客服部" — the department hands it back with the signed
/// reason, it leaves the department's queue and shows why at the desk; resuming sends it
/// to the department again, a new handover in the ledger.
#[tokio::test]
async fn r_sheet_8_a_suspended_sheet_returns_to_customer_service() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let tech = t.as_role(Role::Technician).await;
    let director = t.as_role(Role::CentreDirector).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let v = register(&desk, t.c1, "phone", "楼顶防水层破损").await;
    let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部修补"})).await;
    let (_, v) = act(&tech, &v, json!({"action": "acknowledge", "handover": 1})).await;
    assert!(queue(&tech, t.c1, "department").await.contains(&id_of(&v)));
    let why = "等待业委会决定动用维修资金";
    let (s, v) = act(&director, &v, json!({"action": "suspend", "explanation": why})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["sheet"]["state"].as_str(), v["sheet"]["suspension"].as_str()), (Some("suspended"), Some(why)));
    assert_eq!(v["clock"]["state"], "paused");
    let h = &v["handovers"][0];
    assert_eq!((h["state"].as_str(), h["result"].as_str()), (Some("suspended"), Some(why)), "handed back: {h}");
    assert!(h["returned_at"].is_i64());
    assert!(!queue(&tech, t.c1, "department").await.contains(&id_of(&v)), "it left the department's queue");
    let (_, mine) = desk.get_json(&format!("/api/v1/communities/{}/queues/mine", t.c1)).await;
    let row = mine.as_array().unwrap().iter().find(|s| s["id"] == id_of(&v)).expect("with the desk").clone();
    assert_eq!(row["suspension"], why, "the reason shows in the desk's list");
    let list = desk.get(&format!("/queues?community_id={}&q=mine", t.c1)).await.text().await.unwrap();
    assert!(list.contains(why), "and on its page");
    let html = desk.get(&format!("/sheets/{}", id_of(&v))).await.text().await.unwrap();
    assert!(html.contains("id=\"suspension\"") && html.contains(why));
    let (s, e) = act(&tech, &v, json!({"action": "return", "handover": 1, "result": "x", "signer": "李"})).await;
    assert_eq!((s, code(&e)), (422, "sheet.suspended"));
    // Resumed: sent to engineering again, with the desk's signature for the return.
    let (s, v) = act(&desk, &v, json!({"action": "resume", "note": "业委会已同意"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["sheet"]["state"], "dispatched");
    assert_eq!(v["handovers"][0]["received_by_name"], "测试前台接待员", "customer service signed for it");
    let again = &v["handovers"][1];
    assert_eq!((again["department_id"].as_i64(), again["state"].as_str()), (Some(eng), Some("handed_over")));
    assert!(again["opinion"].as_str().unwrap().contains("业委会已同意"));
    assert!(queue(&tech, t.c1, "department").await.contains(&id_of(&v)));
}

/// R-SHEET-6: "业主来访的接待人员，即会签单的填写、发出、收回人员": a building manager or a
/// move-in receptionist follows their own sheet through; a sheet taken in by security
/// passes to a receptionist at once, who is told.
#[tokio::test]
async fn r_sheet_6_the_first_contact_owner_follows_through() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let building = t.as_role(Role::BuildingManager).await;
    let movein = t.as_role(Role::MoveInReceptionist).await;
    let security = t.as_role(Role::SecurityOfficer).await;
    let tech = t.as_role(Role::Technician).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let v = register(&building, t.c1, "visit", "巡视发现单元门闭门器损坏").await;
    assert_eq!(v["first_contact_id"], me_id(&building).await);
    let (s, d) =
        act(&building, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部更换闭门器"})).await;
    assert_eq!(s, 200, "{d}");
    let (_, d) = act(&tech, &d, json!({"action": "acknowledge", "handover": 1})).await;
    let (_, d) =
        act(&tech, &d, json!({"action": "return", "handover": 1, "result": "已更换", "signer": "李师傅"})).await;
    let (s, d) = act(
        &building,
        &d,
        json!({"action": "collect", "opinion": "已修好", "signature": SIGNATURE, "signer": "王秀英"}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let (s, d) = act(&building, &d, json!({"action": "archive"})).await;
    assert_eq!((s, d["sheet"]["state"].as_str()), (200, Some("archived")));
    // Their own sheets only.
    let other = register(&desk, t.c1, "phone", "前台受理的报修").await;
    let html = movein.get(&format!("/sheets/{}", other["id"])).await.text().await.unwrap();
    assert!(!html.contains("id=\"dispatch-form\""), "not offered on someone else's sheet");
    let (s, _) = act(&building, &other, json!({"action": "dispatch", "department_id": eng, "opinion": "x"})).await;
    assert_eq!(s, 403);
    let m = register(&movein, t.c1, "visit", "验房发现卫生间地漏堵塞").await;
    let html = movein.get(&format!("/sheets/{}", m["id"])).await.text().await.unwrap();
    assert!(html.contains("id=\"dispatch-form\""), "the move-in receptionist is offered the dispatch");
    let (s, _) = act(&movein, &m, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部疏通"})).await;
    assert_eq!(s, 200);

    // Security is not customer service: its sheet passes to a receptionist.
    let body = json!({"kind": "repair", "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英",
        "reason": "夜间水管爆裂", "repair": {"category": "water"}});
    let url = security.url(&format!("/api/v1/communities/{}/sheets", t.c1));
    let send = || security.http.post(&url).header("idempotency-key", "night-1").json(&body).send();
    let a: Value = send().await.unwrap().json().await.unwrap();
    let b: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(a["id"], b["id"], "a retried registration is one sheet, though its owner changed");
    assert_eq!(a["first_contact_id"], me_id(&desk).await, "a receptionist answers for it");
    let d = sheet(&desk, &a["id"]).await;
    let hand = d["events"].as_array().unwrap().iter().find(|e| e["name"] == "first_contact_reassigned").cloned();
    let hand = hand.expect("the hand-over is on the timeline");
    assert!(hand["data"].as_str().unwrap().contains("安保员受理"), "{hand}");
    assert!(notices(&desk).await.contains(&"first_contact_assigned".to_string()));
    let (s, _) = act(&security, &d, json!({"action": "dispatch", "department_id": eng, "opinion": "x"})).await;
    assert_eq!(s, 403, "security does not take customer service's part");
}

/// R-SHEET-7: "会签单收回时，必须已填写有验收意见，并经当事人签字确认": an acceptance by phone
/// is recorded as such and leaves the sheet on the awaiting-signature list; archiving
/// needs the signature or a customer-service manager's waiver with a reason.
#[tokio::test]
async fn r_sheet_7_collection_needs_the_party_signature() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let supervisor = t.as_role(Role::CsSupervisor).await;
    let d = returned(&t, &desk, "楼道灯不亮", "visit").await;
    assert_eq!(d["sheet"]["signature_pending"], 0, "a visit was signed at registration");
    let (s, d) = act(&desk, &d, json!({"action": "collect", "opinion": "业主电话确认已修好", "phone_confirmed_at": t.now(), "phone_note": "业主出差"})).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!((d["sheet"]["state"].as_str(), d["sheet"]["signature_pending"].as_i64()), (Some("collected"), Some(1)));
    assert!(queue(&desk, t.c1, "signature").await.contains(&id_of(&d)), "on the awaiting-signature list");
    let events = d["events"].as_array().unwrap().len();
    let (s, e) = act(&desk, &d, json!({"action": "archive"})).await;
    assert_eq!((s, code(&e)), (422, "sheet.signature_outstanding"));
    for c in [&desk, &supervisor] {
        let (s, _) = act(c, &d, json!({"action": "waive_signature", "reason": "业主出国"})).await;
        assert_eq!(s, 403, "a manager records the waiver");
    }
    let (s, e) = act(&manager, &d, json!({"action": "waive_signature", "reason": "  "})).await;
    assert_eq!((s, code(&e)), (422, "sheet.reason_required"));
    assert_eq!(sheet(&desk, &d["sheet"]["id"]).await["events"].as_array().unwrap().len(), events, "nothing written");
    let (s, d) =
        act(&manager, &d, json!({"action": "waive_signature", "reason": "业主长期在国外，电话确认验收，经理批准"}))
            .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["sheet"]["signature_pending"], 0);
    assert!(!queue(&desk, t.c1, "signature").await.contains(&id_of(&d)));
    let (s, d) = act(&desk, &d, json!({"action": "archive"})).await;
    assert_eq!((s, d["sheet"]["state"].as_str()), (200, Some("archived")));
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'sheet.signature_waived'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(n, 1, "the waiver is in the audit trail");

    // Or the party signs later at the desk.
    let d = returned(&t, &desk, "门禁卡失灵", "visit").await;
    let (_, d) = act(&desk, &d, json!({"action": "collect", "opinion": "好了", "phone_confirmed_at": t.now()})).await;
    let (s, d) =
        act(&desk, &d, json!({"action": "capture_signature", "signature": SIGNATURE, "signer": "王秀英"})).await;
    assert_eq!((s, d["sheet"]["signature_pending"].as_i64()), (200, Some(0)), "{d}");
    let (s, _) = act(&desk, &d, json!({"action": "archive"})).await;
    assert_eq!(s, 200);
}

/// R-SHEET-3: a call or letter waits for the party's later signature (补签) and cannot be
/// archived without it; the signature given at collection is that signature, and 待补签
/// leaves the sheet and the archive. An inquiry answered on the spot needs none.
#[tokio::test]
async fn r_sheet_3_the_later_signature_is_enforced_and_clears() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let d = returned(&t, &desk, "来电：厨房灯闪烁", "phone").await;
    assert_eq!(d["sheet"]["signature_pending"], 1);
    let (s, d) = act(
        &desk,
        &d,
        json!({"action": "collect", "opinion": "已更换灯管，满意", "signature": SIGNATURE, "signer": "王秀英"}),
    )
    .await;
    assert_eq!((s, d["sheet"]["signature_pending"].as_i64()), (200, Some(0)), "signed at collection: {d}");
    let (s, d) = act(&desk, &d, json!({"action": "archive"})).await;
    assert_eq!(s, 200);
    let html = desk.get(&format!("/sheets/{}", id_of(&d))).await.text().await.unwrap();
    assert!(!html.contains("待补签"), "the sheet page no longer says 待补签");
    let list = desk.get(&format!("/sheets?community_id={}&q=厨房灯闪烁", t.c1)).await.text().await.unwrap();
    assert!(list.contains(d["sheet"]["number"].as_str().unwrap()) && !list.contains("待补签"), "nor the archive");

    // A letter collected by phone: not archived without the later signature.
    let d = returned(&t, &desk, "来函：车位划线不清", "letter").await;
    let (_, d) =
        act(&desk, &d, json!({"action": "collect", "opinion": "已重新划线", "phone_confirmed_at": t.now()})).await;
    let (s, e) = act(&desk, &d, json!({"action": "archive"})).await;
    assert_eq!((s, code(&e)), (422, "sheet.signature_outstanding"));
    let (_, d) =
        act(&desk, &d, json!({"action": "capture_signature", "signature": SIGNATURE, "signer": "王秀英"})).await;
    let (s, _) = act(&desk, &d, json!({"action": "archive"})).await;
    assert_eq!(s, 200);

    // An inquiry by phone answered on the spot: closed with its answer, nothing to sign,
    // no collection clock.
    let (_, v) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": "咨询停水时间"}),
        )
        .await;
    let q = sheet(&desk, &v["id"]).await;
    assert_eq!(q["sheet"]["signature_pending"], 1);
    let (s, q) = act(
        &desk,
        &q,
        json!({"action": "answer_inquiry", "answer": "明天 9 点至 12 点停水", "basis": "自来水公司通知"}),
    )
    .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!((q["sheet"]["state"].as_str(), q["sheet"]["signature_pending"].as_i64()), (Some("collected"), Some(0)));
    assert_eq!(q["clock"]["state"], "not_started");
    let collected = q["events"].as_array().unwrap().iter().find(|e| e["name"] == "collected").unwrap().clone();
    assert!(collected["data"].as_str().unwrap().contains("on_the_spot"), "{collected}");
    let (s, _) = act(&desk, &q, json!({"action": "archive"})).await;
    assert_eq!(s, 200);
    // One that needed a promised reply is not on the spot: collected as any other sheet.
    let (_, v) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": "咨询电梯更换计划"}),
        )
        .await;
    let q = sheet(&desk, &v["id"]).await;
    let (_, q) = act(&desk, &q, json!({"action": "promise_reply", "by_at": t.now() + HOUR, "note": "问工程部"})).await;
    let (_, q) =
        act(&desk, &q, json!({"action": "answer_inquiry", "answer": "明年三月更换", "basis": "工程部计划"})).await;
    assert_eq!(q["sheet"]["state"], "awaiting_acceptance");
}

/// R-SHEET-1, R-CMP-1: a repair is registered with its category (it sets the arrival
/// class); a complaint records time, place and people ("要将事件的时间、地点…相关人员…做
/// 详细记录"), or marks them unknown on purpose.
#[tokio::test]
async fn r_sheet_1_required_fields_of_repairs_and_complaints() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let url = format!("/api/v1/communities/{}/sheets", t.c1);
    let (s, e) = desk
        .post_json(
            &url,
            &json!({"kind": "repair", "channel": "phone", "requester_name": "王秀英", "reason": "卫生间水管爆了"}),
        )
        .await;
    assert_eq!((s, field_code(&e, "repair.category").as_deref()), (422, Some("required")), "{e}");
    let (s, e) = desk
        .post_json(
            &url,
            &json!({"kind": "repair", "channel": "phone", "requester_name": "王秀英", "reason": "卫生间水管爆了", "repair": {"category": "plumbing"}}),
        )
        .await;
    assert_eq!((s, field_code(&e, "repair.category").as_deref()), (422, Some("repair_category.unknown")));
    let body = json!({"kind": "complaint", "channel": "phone", "requester_name": "王秀英", "reason": "投诉噪音",
        "complaint": {"category": "噪音", "cause": "楼上装修", "course": "晚上十点后仍在施工"}});
    let (s, e) = desk.post_json(&url, &body).await;
    assert_eq!(s, 422);
    for f in ["complaint.occurred_at", "complaint.place", "complaint.people"] {
        assert_eq!(field_code(&e, f).as_deref(), Some("complaint.given_or_unknown"), "{f}: {e}");
    }
    assert!(e["error"]["fields"][0]["message"].as_str().unwrap().contains("不详"));
    assert_eq!(t.count("sheets").await, 0, "nothing written");
    let mut body = body;
    body["complaint"]["occurred_unknown"] = json!(true);
    body["complaint"]["place"] = json!("5 号楼 1202 室");
    body["complaint"]["people_unknown"] = json!(true);
    let (s, v) = desk.post_json(&url, &body).await;
    assert_eq!(s, 201, "{v}");
    let d = sheet(&desk, &v["id"]).await;
    let details = &d["case"]["complaint"]["details"];
    assert_eq!((details["occurred_unknown"].as_bool(), details["people_unknown"].as_bool()), (Some(true), Some(true)));
    assert!(details.get("place_unknown").is_none(), "the place was given");
    let html = desk.get(&format!("/sheets/{}", v["id"])).await.text().await.unwrap();
    assert!(html.contains("不详") && html.contains("5 号楼 1202 室"));
    // A burst pipe is an emergency: the category is what decides.
    let (s, v) = desk
        .post_json(
            &url,
            &json!({"kind": "repair", "channel": "phone", "requester_name": "王秀英", "reason": "卫生间水管爆了", "repair": {"category": "water"}}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(sheet(&desk, &v["id"]).await["case"]["repair"]["class"], "emergency");
}

/// R-RECV-3: "住户提出的意见，必须由部门经理以上的管理人员作出书面回复" — a suggestion is
/// never collected without its written reply, terminated or beyond the centre included;
/// "客服经理应对住户提出的意见进行分析整理" — only the CS manager (or the director) analyses.
#[tokio::test]
async fn r_recv_3_a_suggestion_never_closes_without_its_written_reply() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let supervisor = t.as_role(Role::CsSupervisor).await;
    let url = format!("/api/v1/communities/{}/sheets", t.c1);
    let (_, v) = desk
        .post_json(
            &url,
            &json!({"kind": "suggestion", "channel": "letter", "requester_name": "王秀英", "reason": "建议增设充电桩"}),
        )
        .await;
    let d = sheet(&desk, &v["id"]).await;
    for c in [&desk, &supervisor] {
        let (s, _) = act(c, &d, json!({"action": "analyse_suggestion", "analysis": "可行"})).await;
        assert_eq!(s, 403, "only the CS manager or the director analyses");
    }
    let (s, d) = act(&manager, &d, json!({"action": "terminate", "explanation": "业主撤回"})).await;
    assert_eq!((s, d["sheet"]["state"].as_str()), (200, Some("awaiting_acceptance")), "{d}");
    let collect = json!({"action": "collect", "opinion": "同意", "signature": SIGNATURE, "signer": "王秀英"});
    let (s, e) = act(&desk, &d, collect.clone()).await;
    assert_eq!((s, code(&e)), (422, "suggestion.reply_required"), "terminated, still answered in writing");
    let (_, d) = act(&manager, &d, json!({"action": "analyse_suggestion", "analysis": "需求明确，待下年度预算"})).await;
    let (s, d) =
        act(&manager, &d, json!({"action": "reply_suggestion", "reply": "已列入下年度改造计划，届时通知。"})).await;
    assert_eq!(s, 200, "{d}");
    let (s, _) = act(&desk, &d, collect.clone()).await;
    assert_eq!(s, 200);

    let (_, v) = desk
        .post_json(&url, &json!({"kind": "suggestion", "channel": "letter", "requester_name": "王秀英", "reason": "建议修小区外人行道"}))
        .await;
    let d = sheet(&desk, &v["id"]).await;
    let (s, d) =
        act(&desk, &d, json!({"action": "beyond_centre", "explanation": "小区外道路属市政，已向业主说明"})).await;
    assert_eq!(s, 200, "{d}");
    let (s, e) = act(&desk, &d, collect).await;
    assert_eq!((s, code(&e)), (422, "suggestion.reply_required"), "beyond the centre, still answered in writing");
}

/// R-REP-3: "维修工接到通知后…赶到现场": the arrival clock starts when the technician is
/// told; "立即" may be a target of 0 minutes, and lateness is then every minute after.
#[tokio::test]
async fn r_rep_3_arrival_counts_from_when_the_technician_is_told() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let rules = |emergency: i64| {
        json!({"emergency_min": emergency, "simple_min": 20, "general_min": 60, "slip_hours": 24, "repeat_count": 2,
               "repeat_days": 90, "progress_hours": 48, "promise_warn_min": 60, "version": 0})
    };
    let url = format!("/api/v1/communities/{}/request-settings", t.c1);
    let (s, e) = admin.put_json(&url, &rules(-1)).await;
    assert_eq!((s, field_code(&e, "emergency_min").is_some()), (422, true), "{e}");
    let (s, v) = admin.put_json(&url, &rules(0)).await;
    assert_eq!(s, 200, "at once is 0 minutes: {v}");
    let (_, r) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "repair", "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英", "reason": "暖气管漏水", "repair": {"category": "heating"}}),
        )
        .await;
    let d = sheet(&desk, &r["id"]).await;
    assert!(d["request"]["arrival_due_at"].is_null(), "no clock before a technician is told");
    let board_url = format!("/api/v1/communities/{}/repairs/board", t.c1);
    let (_, board) = dispatcher.get_json(&board_url).await;
    assert!(board["late"].as_array().unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let (s, d) =
        act(&dispatcher, &d, json!({"action": "assign_technician", "technician_id": me_id(&tech).await})).await;
    assert_eq!(s, 200, "{d}");
    let told = d["case"]["repair"]["assigned_at"].as_i64().unwrap();
    assert!(told > d["case"]["repair"]["notified_at"].as_i64().unwrap(), "told after the registration");
    assert_eq!(d["request"]["arrival_due_at"].as_i64(), Some(told), "due at once from being told");
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let (_, board) = dispatcher.get_json(&board_url).await;
    assert!(board["late"].as_array().unwrap().iter().any(|j| j["sheet_id"] == id_of(&d)), "already late: {board}");
    let (s, d) = act(&tech, &d, json!({"action": "arrive"})).await;
    assert_eq!(s, 200);
    assert!(d["request"]["arrived_at"].as_i64().unwrap() > told);
    let html = desk.get(&format!("/sheets/{}", id_of(&d))).await.text().await.unwrap();
    assert!(html.contains("到场超时 1 分钟"), "lateness shown honestly, rounded up");
}

/// The instant `target` business milliseconds after `from`, walking the Shanghai days and
/// their spans `(start minute, end minute)` — a reference written apart from the product's.
fn business_due(from: i64, target: i64, spans: &[(u32, u32)], off: &[NaiveDate]) -> i64 {
    let tz = chrono_tz::Asia::Shanghai;
    let mut left = target;
    let mut day = chrono::Utc.timestamp_millis_opt(from).unwrap().with_timezone(&tz).date_naive();
    loop {
        if !off.contains(&day) {
            for (a, b) in spans {
                let at = |m: u32| {
                    tz.from_local_datetime(&day.and_hms_opt(m / 60, m % 60, 0).unwrap()).unwrap().timestamp_millis()
                };
                let (s, e) = (at(*a).max(from), at(*b));
                if e > s {
                    if e - s >= left {
                        return s + left;
                    }
                    left -= e - s;
                }
            }
        }
        day += Duration::days(1);
    }
}

/// R-SHEET-7 with business hours: several spans a day (a lunch break between them); the
/// deadline skips the break; open clocks are recomputed when the hours change.
#[tokio::test]
async fn r_sheet_7_business_hours_with_a_lunch_break() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let desk = t.as_role(Role::Receptionist).await;
    let eng = department(&desk, t.c1, "engineering").await;
    // Holidays out of the way, so the reference below needs only the week.
    sqlx::query("DELETE FROM calendar_days WHERE community_id = $1")
        .bind(t.c1)
        .execute(t.app.store.read())
        .await
        .unwrap();
    let week_url = format!("/api/v1/communities/{}/calendar/week", t.c1);
    let lunch = "00:00-11:00,14:00-23:00";
    let (s, e) = admin
        .put_json(&week_url, &json!({"days": [lunch, lunch, lunch, lunch, lunch, lunch, "09:00-12:00,11:00-17:00"]}))
        .await;
    assert_eq!((s, field_code(&e, "days.6").as_deref()), (422, Some("calendar.overlap")), "{e}");
    let (s, v) = admin.put_json(&week_url, &json!({"days": vec![lunch; 7]})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 14, "two spans a day");
    let (_, cal) = desk.get_json(&format!("/api/v1/communities/{}/calendar", t.c1)).await;
    assert_eq!(cal["week"][2], lunch);
    let (s, _) = admin
        .put_json(
            &format!("/api/v1/communities/{}/clock-targets", t.c1),
            &json!({"kind": "*", "target_hours": "16", "warn_hours": "1", "counting": "business_hours"}),
        )
        .await;
    assert_eq!(s, 200);
    let v = register(&desk, t.c1, "phone", "地下车库照明不足").await;
    let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部检查"})).await;
    let started = v["clock"]["started_at"].as_i64().unwrap();
    let due = v["clock"]["due_at"].as_i64().unwrap();
    assert_eq!(due, business_due(started, 16 * HOUR, &[(0, 660), (840, 1380)], &[]));
    let local = chrono::Utc.timestamp_millis_opt(due).unwrap().with_timezone(&chrono_tz::Asia::Shanghai);
    let minute = local.hour() * 60 + local.minute();
    assert!(!(660 < minute && minute < 840), "never due in the lunch break: {local}");
    // Mornings only: the same sheet falls due later, at once.
    let (s, _) = admin.put_json(&week_url, &json!({"days": vec!["00:00-08:00"; 7]})).await;
    assert_eq!(s, 200);
    let again = sheet(&desk, &v["sheet"]["id"]).await;
    assert_eq!(again["clock"]["due_at"].as_i64().unwrap(), business_due(started, 16 * HOUR, &[(0, 480)], &[]));
    assert!(again["clock"]["due_at"].as_i64().unwrap() > due);
    let stored: Option<i64> = sqlx::query_scalar("SELECT due_at FROM sheets WHERE id = $1")
        .bind(v["sheet"]["id"].as_i64().unwrap())
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(stored, again["clock"]["due_at"].as_i64(), "the queues' copy was recomputed too");
    // A day off (tomorrow) moves it on, and the page keeps the spans as typed.
    let tomorrow = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive() + Duration::days(1);
    let (s, _) = admin
        .put_json(
            &format!("/api/v1/communities/{}/calendar/days", t.c1),
            &json!({"day": tomorrow.to_string(), "kind": "holiday", "note": "停电检修"}),
        )
        .await;
    assert_eq!(s, 200);
    let third = sheet(&desk, &v["sheet"]["id"]).await;
    assert_eq!(third["clock"]["due_at"].as_i64().unwrap(), business_due(started, 16 * HOUR, &[(0, 480)], &[tomorrow]));
    let html = admin.get(&format!("/communities/{}/settings", t.c1)).await.text().await.unwrap();
    assert!(html.contains("value=\"00:00-08:00\""));
}

/// R-SHEET-7: the State Council's holidays and make-up working days of 2025 and 2026
/// ship with huiqian and are in every community's calendar; a community adjusts its own
/// days; a company-wide administrator loads a later year's notice from its text.
#[tokio::test]
async fn r_sheet_7_the_statutory_holiday_calendar_is_preloaded() {
    let t = TestApp::spawn().await;
    let desk = t.as_role(Role::Receptionist).await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let (_, all) = desk.get_json("/api/v1/holidays").await;
    let years: Vec<(i64, i64, i64)> = all["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["year"].as_i64().unwrap(), n["holidays"].as_i64().unwrap(), n["workdays"].as_i64().unwrap()))
        .collect();
    assert_eq!(years, vec![(2025, 28, 5), (2026, 33, 6)], "the notices of 2025 and 2026");
    let day = |cal: &Value, d: &str| cal["days"].as_array().unwrap().iter().find(|x| x["day"] == d).cloned();
    let (_, cal) = desk.get_json(&format!("/api/v1/communities/{}/calendar", t.c1)).await;
    for (d, kind) in [
        ("2025-01-28", "holiday"),
        ("2025-02-08", "workday"),
        ("2025-10-08", "holiday"),
        ("2026-01-04", "workday"),
        ("2026-02-23", "holiday"),
        ("2026-02-28", "workday"),
        ("2026-09-20", "workday"),
        ("2026-10-10", "workday"),
    ] {
        let x = day(&cal, d).unwrap_or_else(|| panic!("{d} is not in the calendar"));
        assert_eq!((x["kind"].as_str(), x["source"].as_str()), (Some(kind), Some("statutory")), "{d}");
    }
    assert!(day(&cal, "2026-10-08").is_none(), "2026's National Day ends on the 7th");
    // The community's own entry wins and stays.
    let (s, _) = admin
        .put_json(
            &format!("/api/v1/communities/{}/calendar/days", t.c1),
            &json!({"day": "2026-02-23", "kind": "workday", "spans": "08:30-12:00", "note": "春节后值班半天"}),
        )
        .await;
    assert_eq!(s, 200);

    // Loading a notice is for a company-wide administrator.
    let notice = "# 国务院办公厅关于2027年部分节假日安排的通知\nyear 2027\ntitle 2027 年节假日安排\nholiday 2027-01-01..2027-01-03 元旦\nworkday 2027-01-04 元旦调休上班\n";
    let (s, _) = admin.post_json("/api/v1/holidays", &json!({"notice": notice})).await;
    assert_eq!(s, 403, "a community's administrator does not load the country's notice");
    let boss = new_staff(
        &t.app,
        "hq_admin",
        "总部管理员",
        PASSWORD,
        auth::StaffOptions { must_change_password: false, totp_exempt: true },
    )
    .await;
    auth::grant_role(&t.app, &t.cli(), boss, None, Role::SystemAdmin, None, false).await.unwrap();
    let hq = t.client("hq_admin").await;
    let before = t.audit_count().await;
    let (s, e) = hq.post_json("/api/v1/holidays", &json!({"notice": "year 2027\nholiday 2027-13-01 元旦\n"})).await;
    assert_eq!((s, field_code(&e, "notice").as_deref()), (422, Some("holidays.date")), "{e}");
    assert!(e["error"]["fields"][0]["message"].as_str().unwrap().contains("第 2 行"), "{e}");
    assert_eq!(t.audit_count().await, before, "nothing loaded");
    let (s, loaded) = hq.post_json("/api/v1/holidays", &json!({"notice": notice})).await;
    assert_eq!(s, 200, "{loaded}");
    assert_eq!(
        (loaded["year"].as_i64(), loaded["days"].as_i64(), loaded["communities"].as_i64()),
        (Some(2027), Some(4), Some(2))
    );
    for c in [t.c1, t.c2] {
        let cal = t.app.store.read();
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM calendar_days WHERE community_id = $1 AND day LIKE '2027-%'")
                .bind(c)
                .fetch_one(cal)
                .await
                .unwrap();
        assert_eq!(n, 4, "community {c} took the 2027 notice");
    }
    let text = hq.get("/api/v1/holidays/2027").await.text().await.unwrap();
    assert!(text.contains("holiday 2027-01-01..2027-01-03 元旦"), "{text}");
    // A corrected 2026 notice: the community's own day stays, the others follow it.
    let corrected: String = huiqian::app::holidays::SHIPPED[1]
        .replace("holiday 2026-02-15..2026-02-23 春节", "holiday 2026-02-15..2026-02-22 春节");
    let (s, loaded) = hq.post_json("/api/v1/holidays", &json!({"notice": corrected})).await;
    assert_eq!((s, loaded["replaced"].as_bool()), (200, Some(true)), "{loaded}");
    let (_, c1) = desk.get_json(&format!("/api/v1/communities/{}/calendar", t.c1)).await;
    let own = day(&c1, "2026-02-23").unwrap();
    assert_eq!((own["source"].as_str(), own["spans"].as_str()), (Some("local"), Some("08:30-12:00")));
    let c2: Vec<String> =
        sqlx::query_scalar("SELECT day FROM calendar_days WHERE community_id = $1 AND day = '2026-02-23'")
            .bind(t.c2)
            .fetch_all(t.app.store.read())
            .await
            .unwrap();
    assert!(c2.is_empty(), "the day the notice no longer lists left the other community");
    // A community made later takes every notice.
    let c3 = org::create_community(
        &t.app,
        &t.cli(),
        &org::CommunityInput {
            company_id: t.company,
            code: "XY".into(),
            name: "新园".into(),
            timezone: String::new(),
            address: String::new(),
            phone: String::new(),
            active: true,
        },
    )
    .await
    .unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM calendar_days WHERE community_id = $1 AND source = 'statutory'")
            .bind(c3.id)
            .fetch_one(t.app.store.read())
            .await
            .unwrap();
    assert_eq!(n, 28 + 5 + 32 + 6 + 4);
    // The command line lists them, on the same database.
    if backend() == "sqlite" {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_huiqian"))
            .args(["holidays", "list", "--database-url", &t.db_url, "--data"])
            .arg(t.app.config.data.as_os_str())
            .env("HUIQIAN_SECRET_KEY", &t.app.config.secret_key)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("2027") && text.contains("2025"), "{text}");
    }
}

/// R-FU-2: "电话回访率不得超过年回访率总额的70%" — the cap is a hard limit: no warn mode, no
/// confirmation to accept it.
#[tokio::test]
async fn r_fu_2_the_phone_cap_is_a_hard_limit() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let url = format!("/api/v1/communities/{}/follow-up-settings", t.c1);
    let (_, cur) = manager.get_json(&url).await;
    assert!(cur.get("cap_mode").is_none(), "no mode to choose: {cur}");
    let d = complaint(&desk, &t, json!({})).await;
    let (_, d) =
        act(&manager, &d, json!({"action": "judge_complaint", "valid": false, "explanation": "非物业职责，已解释"}))
            .await;
    let (_, d) =
        act(&desk, &d, json!({"action": "collect", "opinion": "接受", "signature": SIGNATURE, "signer": "王秀英"}))
            .await;
    let f = d["follow_ups"][0].clone();
    // One task this year: a call would be 100% by phone.
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/follow-ups/{}/record", f["id"]),
            &json!({"version": f["version"], "method": "phone", "outcome": "satisfied", "content": "电话回访满意", "accept_over_cap": true}),
        )
        .await;
    assert_eq!((s, code(&e)), (422, "followup.phone_cap"), "refused even when asked to accept: {e}");
    let html = desk.get(&format!("/follow-ups/{}", f["id"])).await.text().await.unwrap();
    assert!(!html.contains("accept_over_cap"));
}

/// R-FU-4: a resident who could not be reached is tried again — a new attempt with a time
/// limit of its own — and that is no nonconformity; only an unsatisfied result opens a
/// corrective action.
#[tokio::test]
async fn r_fu_4_an_unreachable_resident_is_tried_again() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let url = format!("/api/v1/communities/{}/follow-up-settings", t.c1);
    let (_, mut cur) = manager.get_json(&url).await;
    cur["max_attempts"] = json!(11);
    let (s, e) = manager.put_json(&url, &cur).await;
    assert_eq!((s, field_code(&e, "max_attempts").is_some()), (422, true));
    cur["max_attempts"] = json!(2);
    let (s, _) = manager.put_json(&url, &cur).await;
    assert_eq!(s, 200);
    let d = complaint(&desk, &t, json!({})).await;
    let (_, d) =
        act(&manager, &d, json!({"action": "judge_complaint", "valid": false, "explanation": "非物业职责，已解释"}))
            .await;
    let (_, d) =
        act(&desk, &d, json!({"action": "collect", "opinion": "接受", "signature": SIGNATURE, "signer": "王秀英"}))
            .await;
    let f = d["follow_ups"][0].clone();
    let first_due = f["due_at"].as_i64().unwrap();
    // The first attempt by phone: nobody answered. A call not answered is no phone follow-up.
    let (s, r) = desk
        .post_json(
            &format!("/api/v1/follow-ups/{}/record", f["id"]),
            &json!({"version": f["version"], "method": "phone", "outcome": "unreachable", "content": "电话无人接听"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let g = &r["follow_up"];
    assert_eq!((g["state"].as_str(), g["attempt"].as_i64()), (Some("pending"), Some(2)), "tried again: {g}");
    assert!(g["due_at"].as_i64().unwrap() > first_due - HOUR, "a time limit of its own");
    assert!(r["capa"].is_null() && g["capa_id"].is_null(), "not a corrective action");
    assert_eq!(r["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(r["attempts"][0]["method"], "phone");
    assert!(notices(&desk).await.contains(&"follow_up_retry".to_string()));
    let html = desk.get(&format!("/follow-ups/{}", f["id"])).await.text().await.unwrap();
    assert!(html.contains("id=\"follow-up-attempts\"") && html.contains("电话无人接听"));
    // The last attempt, in person: still not there. Recorded as not reached, for review.
    let (s, r) = desk
        .post_json(
            &format!("/api/v1/follow-ups/{}/record", f["id"]),
            &json!({"version": g["version"], "method": "visit", "outcome": "unreachable", "content": "两次上门家中无人"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["follow_up"]["state"].as_str(), r["follow_up"]["outcome"].as_str()),
        (Some("done"), Some("unreachable"))
    );
    assert!(r["capa"].is_null());
    let (_, capas) = manager.get_json(&format!("/api/v1/communities/{}/capas", t.c1)).await;
    assert!(capas.as_array().unwrap().is_empty(), "{capas}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'follow_up.not_reached'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// R-CMP-8: "每周将业主/住户诉求进行统计分析填写业主/住户诉求统计表报中心主任" — a week that
/// has ended goes to the centre director with the customer-service manager's written
/// analysis, and the director's acknowledgement is kept.
#[tokio::test]
async fn r_cmp_8_weekly_table_goes_to_the_director() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let supervisor = t.as_role(Role::CsSupervisor).await;
    let director = t.as_role(Role::CentreDirector).await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let (last, before) = ((monday - Duration::days(7)).to_string(), (monday - Duration::days(14)).to_string());
    let analysis_url = |week: &str| format!("/api/v1/communities/{}/weekly-reports/{week}/analysis", t.c1);
    let ack_url = |week: &str| format!("/api/v1/communities/{}/weekly-reports/{week}/acknowledgement", t.c1);
    let text = "上周诉求以噪音投诉为主（3 起），均已回访；报修到场及时率 95%。建议下周加强装修巡视。";
    for c in [&desk, &supervisor, &director] {
        let (s, _) = c.post_json(&analysis_url(&last), &json!({"analysis": text, "version": 1})).await;
        assert_eq!(s, 403, "the customer-service manager writes it");
    }
    let (s, e) = manager.post_json(&analysis_url(&monday.to_string()), &json!({"analysis": text, "version": 1})).await;
    assert_eq!((s, code(&e)), (422, "report.week_not_over"));
    let (s, e) = manager.post_json(&analysis_url(&last), &json!({"analysis": "  ", "version": 1})).await;
    assert_eq!((s, field_code(&e, "analysis").as_deref()), (422, Some("required")));
    let (s, r) = manager.post_json(&analysis_url(&last), &json!({"analysis": text, "version": 1})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!((r["analysis"].as_str(), r["analysed_by"].as_i64()), (Some(text), Some(me_id(&manager).await)));
    assert!(notices(&director).await.contains(&"weekly_submitted".to_string()), "sent to the director");
    let (s, e) = director.post_json(&ack_url(&before), &json!({"remarks": "", "version": 1})).await;
    assert_eq!((s, code(&e)), (422, "report.not_submitted"));
    let (s, e) = manager.post_json(&ack_url(&last), &json!({"remarks": "", "version": r["version"]})).await;
    assert_eq!(s, 403, "the director acknowledges: {e}");
    let (s, a) = director
        .post_json(&ack_url(&last), &json!({"remarks": "同意，下周重点跟进装修噪音", "version": r["version"]}))
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["acknowledged_by"].as_i64(), Some(me_id(&director).await));
    assert!(notices(&manager).await.contains(&"weekly_acknowledged".to_string()));
    let (s, e) = manager.post_json(&analysis_url(&last), &json!({"analysis": "改", "version": a["version"]})).await;
    assert_eq!((s, code(&e)), (422, "report.acknowledged"), "the table the director signed does not change");
    let (s, e) = director.post_json(&ack_url(&last), &json!({"remarks": "", "version": a["version"]})).await;
    assert_eq!((s, code(&e)), (422, "report.acknowledged"));
    let (_, w) = director.get_json(&format!("/api/v1/communities/{}/weekly-report?week={last}", t.c1)).await;
    assert_eq!(w["review"]["analysis"], text);
    assert!(w["review"]["acknowledged_at"].is_i64() && w["generated_at"].is_i64(), "{w}");
    let html = director.get(&format!("/reports/weekly?community_id={}&week={last}", t.c1)).await.text().await.unwrap();
    assert!(
        html.contains("id=\"weekly-analysis\"") && html.contains("已签阅") && !html.contains("id=\"acknowledge-form\"")
    );
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('report.weekly_submitted', 'report.weekly_acknowledged')",
    )
    .fetch_one(t.app.store.read())
    .await
    .unwrap();
    assert_eq!(n, 2);
}

/// R-SHEET-5, R-SHEET-4: "接收人必须在会签单交接记录本上签字确认" — also when the sheet
/// comes back: the ledger names who at customer service received it, and when.
#[tokio::test]
async fn r_sheet_5_customer_service_signs_for_a_returned_sheet() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let tech = t.as_role(Role::Technician).await;
    let d = returned(&t, &desk, "楼道窗户关不上", "phone").await;
    assert!(d["handovers"][0]["received_at"].is_null());
    let html = desk.get(&format!("/sheets/{}", id_of(&d))).await.text().await.unwrap();
    assert!(html.contains("id=\"receive-return-1\""), "the desk is offered to sign for it");
    let (s, _) = act(&tech, &d, json!({"action": "receive_return", "handover": 1})).await;
    assert_eq!(s, 403, "the department does not sign for itself");
    let (s, d) = act(&desk, &d, json!({"action": "receive_return", "handover": 1})).await;
    assert_eq!(s, 200, "{d}");
    let h = &d["handovers"][0];
    assert_eq!(h["received_by_name"], "测试前台接待员");
    assert!(h["received_at"].as_i64() >= h["returned_at"].as_i64());
    let (s, e) = act(&desk, &d, json!({"action": "receive_return", "handover": 1})).await;
    assert_eq!((s, code(&e)), (422, "sheet.return_received"));
    let (_, ledger) = desk.get_json(&format!("/api/v1/communities/{}/handovers", t.c1)).await;
    let row = ledger.as_array().unwrap().iter().find(|r| r["sheet_id"] == id_of(&d)).unwrap().clone();
    assert_eq!(row["received_by_name"], "测试前台接待员");
    // Collecting signs for what nobody signed for yet, before the collection.
    let d = returned(&t, &desk, "消防通道杂物", "phone").await;
    let (_, d) =
        act(&desk, &d, json!({"action": "collect", "opinion": "已清理", "signature": SIGNATURE, "signer": "王秀英"}))
            .await;
    assert_eq!(d["handovers"][0]["received_by_name"], "测试前台接待员");
    let names: Vec<&str> = d["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    let (r, c) = (names.iter().position(|n| *n == "return_received"), names.iter().position(|n| *n == "collected"));
    assert!(r.is_some() && r < c, "{names:?}");
    let html = desk.get(&format!("/handovers?community_id={}", t.c1)).await.text().await.unwrap();
    assert!(html.contains("客服签收交回"), "the ledger page has the column");
}

/// One ID number belongs to one person in a company, whichever community they live in
/// (R-ARC-3: the owner files are kept so that each can be found, one per person): a clear
/// refusal names the existing record, masked.
#[tokio::test]
async fn r_arc_3_an_id_number_belongs_to_one_person_in_the_company() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let id = "11010519491231002X";
    let url = format!("/api/v1/communities/{}/persons", t.c1);
    let (s, zhang) = desk.post_json(&url, &json!({"name": "张伟", "id_number": id})).await;
    assert_eq!(s, 201, "{zhang}");
    let before = t.count("persons").await;
    let (s, e) = desk.post_json(&url, &json!({"name": "张卫", "id_number": id.to_lowercase()})).await;
    assert_eq!((s, field_code(&e, "id_number").as_deref()), (422, Some("id_number.taken")), "{e}");
    let msg = e["error"]["fields"][0]["message"].as_str().unwrap();
    assert!(msg.contains("张*") && msg.contains("和园") && msg.contains("110***"), "names the record, masked: {msg}");
    assert!(!msg.contains("张伟") && !msg.contains(id), "but shows neither the name nor the number: {msg}");
    assert_eq!(t.count("persons").await, before, "nothing written");
    // In another community of the company: refused too.
    let other = people::create_person(
        &t.app,
        &t.cli(),
        t.c2,
        &people::PersonInput { name: "张伟".into(), id_number: id.into(), ..Default::default() },
    )
    .await;
    match other {
        Err(huiqian::app::AppError::Validation(f)) => {
            assert!(f.iter().any(|(field, v)| field == "id_number" && v.code == "id_number.taken"))
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
    // Nor by an edit: someone else's number cannot be put on a person.
    let (_, li) = desk.post_json(&url, &json!({"name": "李娜"})).await;
    let (s, e) = desk
        .put_json(
            &format!("/api/v1/persons/{}", li["id"]),
            &json!({"version": li["version"], "name": "李娜", "id_number": id}),
        )
        .await;
    assert_eq!((s, field_code(&e, "id_number").as_deref()), (422, Some("id_number.taken")), "{e}");
    let (s, same) = desk
        .put_json(
            &format!("/api/v1/persons/{}", zhang["id"]),
            &json!({"version": zhang["version"], "name": "张伟", "note": "业主", "id_number": id}),
        )
        .await;
    assert_eq!(s, 200, "a person keeps their own number: {same}");
    // Nor by an import: against the company and within the file.
    let csv = format!(
        "房号,建筑面积,姓名,证件号码\n9-1-101,80,王五,{id}\n9-1-102,80,赵六,110101199003070011\n9-1-103,80,孙七,110101199003070011\n"
    );
    let part = reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("业主.csv");
    let r = manager
        .http
        .post(manager.url(&format!("/api/v1/communities/{}/imports?dry_run=true", t.c1)))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["row"] == 2 && e["code"] == "id_number.taken" && e["column"] == "证件号码"),
        "{report}"
    );
    assert!(errors.iter().any(|e| e["row"] == 4 && e["code"] == "import.duplicate_id"), "{report}");
    // Another company keeps its own people.
    let company = org::create_company(&t.app, &t.cli(), "另一家物业公司").await.unwrap();
    let c = org::create_community(
        &t.app,
        &t.cli(),
        &org::CommunityInput {
            company_id: company,
            code: "QT".into(),
            name: "其他小区".into(),
            timezone: String::new(),
            address: String::new(),
            phone: String::new(),
            active: true,
        },
    )
    .await
    .unwrap();
    let p = people::create_person(
        &t.app,
        &t.cli(),
        c.id,
        &people::PersonInput { name: "张伟".into(), id_number: id.into(), ..Default::default() },
    )
    .await;
    assert!(p.is_ok(), "{p:?}");
}

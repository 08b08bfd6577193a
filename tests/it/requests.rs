//! Repairs (R-REP-1 … R-REP-5), complaints (R-CMP-1 … R-CMP-7), inquiries (R-RECV-2),
//! suggestions (R-RECV-3) and situation reports (R-RECV-4) over HTTP, on both backends.

use crate::harness::{Client, TestApp};
use crate::sheets::{SIGNATURE, act, department, setup};
use huiqian::app::notify;
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

async fn me_id(c: &Client) -> i64 {
    c.get_json("/api/v1/me").await.1["user"]["id"].as_i64().unwrap()
}

async fn repair(c: &Client, community: i64, category: &str, reason: &str) -> (u16, Value) {
    c.post_json(
        &format!("/api/v1/communities/{community}/sheets"),
        &json!({"kind": "repair", "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英",
                "requester_phone": "13812345678", "reason": reason, "repair": {"category": category}}),
    )
    .await
}

async fn complaint(c: &Client, t: &TestApp, category: &str, against: Value) -> Value {
    let mut body = json!({"kind": "complaint", "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英",
        "reason": "投诉", "complaint": {"category": category, "cause": "前台态度生硬", "course": "上午十点办理业务时被催促",
        "place": "客服中心前台", "people": "前台接待员", "occurred_at": t.now() - 2 * HOUR}});
    for (k, v) in against.as_object().unwrap() {
        body["complaint"][k] = v.clone();
    }
    let (s, v) = c.post_json(&format!("/api/v1/communities/{}/sheets", t.c1), &body).await;
    assert_eq!(s, 201, "{v}");
    v
}

async fn sheet(c: &Client, id: &Value) -> Value {
    c.get_json(&format!("/api/v1/sheets/{id}")).await.1
}

async fn notices(c: &Client) -> Vec<String> {
    let (_, v) = c.get_json("/api/v1/me/notifications").await;
    v.as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_string()).collect()
}

/// Does the error name this field?
fn names_field(e: &Value, field: &str) -> bool {
    e["error"]["fields"].as_array().is_some_and(|f| f.iter().any(|x| x["field"] == field))
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// R-REP-1: the desk, security out of hours and a technician on site all take repairs in;
/// each is a sheet and a row of the repair ledger. Security cannot register a complaint.
#[tokio::test]
async fn r_rep_1_repairs_come_from_the_desk_security_and_technicians() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let security = t.as_role(Role::SecurityOfficer).await;
    let tech = t.as_role(Role::Technician).await;
    let (s, a) = repair(&desk, t.c1, "water", "厨房水管爆裂").await;
    assert_eq!(s, 201, "{a}");
    let (s, b) = repair(&security, t.c1, "electrical", "夜间跳闸").await;
    assert_eq!(s, 201, "{b}");
    let (s, c) = repair(&tech, t.c1, "fixtures", "巡检时住户反映水龙头滴水").await;
    assert_eq!(s, 201, "{c}");
    let (s, e) = security
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "complaint", "channel": "phone", "requester_name": "王秀英", "reason": "噪音",
                    "complaint": {"category": "噪音", "cause": "x", "course": "y", "occurred_unknown": true,
                                  "place_unknown": true, "people_unknown": true}}),
        )
        .await;
    assert_eq!(s, 403, "{e}");

    let a = sheet(&desk, &a["id"]).await;
    assert_eq!(a["case"]["repair"]["class"], "emergency", "water is an emergency (R-REP-3)");
    assert_eq!(a["case"]["repair"]["source"], "desk");
    let b = sheet(&desk, &b["id"]).await;
    assert_eq!(b["case"]["repair"]["source"], "security");
    assert_eq!(b["case"]["repair"]["class"], "general");
    let c = sheet(&desk, &c["id"]).await;
    assert_eq!(c["case"]["repair"]["source"], "technician");
    assert_eq!(c["case"]["repair"]["technician"], me_id(&tech).await, "the technician took it and is on it");
    assert!(c["case"]["repair"]["arrived_at"].is_i64());
    assert_eq!(c["handovers"][0]["state"], "in_progress");

    let (_, ledger) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/repairs", t.c1)).await;
    let numbers: Vec<_> = ledger.as_array().unwrap().iter().map(|j| j["number"].clone()).collect();
    assert_eq!(numbers.len(), 3);
    for x in [&a, &b, &c] {
        assert!(numbers.contains(&x["sheet"]["number"]));
    }
    // The technician's own repair is not on the board; the others are.
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let (s, board) = dispatcher.get_json(&format!("/api/v1/communities/{}/repairs/board", t.c1)).await;
    assert_eq!(s, 200);
    let on_board: Vec<_> = board["unassigned"].as_array().unwrap().iter().map(|j| j["sheet_id"].clone()).collect();
    assert_eq!(on_board, vec![a["sheet"]["id"].clone(), b["sheet"]["id"].clone()], "emergency first");
    assert_eq!(board["unassigned_total"], 2);
    // A complaint (it has a category of its own) is not the dispatcher's.
    complaint(&desk, &t, "噪音", json!({})).await;
    let (_, board) = dispatcher.get_json(&format!("/api/v1/communities/{}/repairs/board", t.c1)).await;
    assert_eq!((board["unassigned"].as_array().unwrap().len(), board["unassigned_total"].as_i64()), (2, Some(2)));
    // The dispatcher was told of each (an emergency as such).
    let n = notices(&dispatcher).await;
    assert!(n.contains(&"repair_emergency".to_string()) && n.contains(&"repair_new".to_string()), "{n:?}");
}

/// R-REP-2: the dispatcher sees the board by urgency and age with each technician's load,
/// assigns with an agreed time, and reassigns only saying why.
#[tokio::test]
async fn r_rep_2_dispatcher_assigns_and_reassigns() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let tech_id = me_id(&tech).await;
    let (other_id, other) = t.staff("tech_two", "二号维修工", Role::Technician).await;
    let (_, general) = repair(&desk, t.c1, "lift", "电梯异响").await;
    let (_, simple) = repair(&desk, t.c1, "lighting", "楼道灯不亮").await;
    let (_, board) = dispatcher.get_json(&format!("/api/v1/communities/{}/repairs/board", t.c1)).await;
    let order: Vec<_> = board["unassigned"].as_array().unwrap().iter().map(|j| j["class"].clone()).collect();
    assert_eq!(order, vec![json!("simple"), json!("general")], "by urgency, then age");
    assert_eq!(board["technicians"].as_array().unwrap().len(), 2);

    // Only the dispatcher assigns; only to a technician of the community.
    let s1 = sheet(&desk, &general["id"]).await;
    let (s, _) = act(&desk, &s1, json!({"action": "assign_technician", "technician_id": tech_id})).await;
    assert_eq!(s, 403);
    let (s, e) =
        act(&dispatcher, &s1, json!({"action": "assign_technician", "technician_id": me_id(&desk).await})).await;
    assert_eq!((s, names_field(&e, "technician_id")), (422, true), "{e}");
    let appointment = t.now() + 3 * HOUR;
    let (s, d) = act(
        &dispatcher,
        &s1,
        json!({"action": "assign_technician", "technician_id": tech_id, "appointment_at": appointment}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["case"]["repair"]["class"], "appointment", "an agreed time makes it an appointment");
    assert_eq!(d["request"]["arrival_due_at"], appointment);
    assert_eq!(d["handovers"][0]["state"], "acknowledged", "assigning sent it to engineering and signed for it");
    assert!(notices(&tech).await.contains(&"repair_assigned".to_string()));
    let (_, board) = dispatcher.get_json(&format!("/api/v1/communities/{}/repairs/board", t.c1)).await;
    assert_eq!(board["unassigned"].as_array().unwrap().len(), 1);
    let load = board["technicians"].as_array().unwrap().iter().find(|x| x["user_id"] == tech_id).unwrap().clone();
    assert_eq!(load["open_jobs"], 1);
    // Reassigning needs a reason; then the job moves to the other technician's day.
    let (s, e) = act(&dispatcher, &d, json!({"action": "assign_technician", "technician_id": other_id})).await;
    assert_eq!((s, code(&e)), (422, "repair.reason_required"));
    let (s, d) =
        act(&dispatcher, &d, json!({"action": "assign_technician", "technician_id": other_id, "note": "原维修工请假"}))
            .await;
    assert_eq!(s, 200, "{d}");
    let (_, day) = other.get_json(&format!("/api/v1/communities/{}/repairs/my-day", t.c1)).await;
    assert_eq!(day["open"][0]["sheet_id"], d["sheet"]["id"]);
    let (_, day) = tech.get_json(&format!("/api/v1/communities/{}/repairs/my-day", t.c1)).await;
    assert!(day["open"].as_array().unwrap().is_empty());
    // The first technician may no longer record arrival.
    let (s, e) = act(&tech, &d, json!({"action": "arrive"})).await;
    assert_eq!((s, code(&e)), (422, "repair.not_your_job"));
    let _ = simple;
}

/// R-REP-3: arrival targets per class from notification, configurable; a class differing
/// from the category's needs a reason; arrival is recorded and lateness is noticed.
#[tokio::test]
async fn r_rep_3_arrival_targets_and_lateness() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let (s, v) = admin
        .put_json(
            &format!("/api/v1/communities/{}/request-settings", t.c1),
            &json!({"emergency_min": 10, "simple_min": 20, "general_min": 60, "slip_hours": 24, "repeat_count": 2,
                    "repeat_days": 90, "progress_hours": 48, "promise_warn_min": 60, "version": 0}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "repair", "channel": "phone", "requester_name": "王秀英", "reason": "漏水",
                    "repair": {"category": "water", "class": "general"}}),
        )
        .await;
    assert_eq!(s, 422);
    assert!(names_field(&e, "repair.class_reason"), "{e}");
    assert_eq!(t.count("sheets").await, 0, "nothing half-written");
    let (_, r) = repair(&desk, t.c1, "gas", "闻到燃气味").await;
    let d = sheet(&desk, &r["id"]).await;
    assert!(d["request"]["arrival_due_at"].is_null(), "no arrival clock before a technician is told: {d}");
    let (s, e) = act(&dispatcher, &d, json!({"action": "reclassify", "class": "simple", "reason": ""})).await;
    assert_eq!((s, code(&e)), (422, "repair.reason_required"));
    let (s, d) =
        act(&dispatcher, &d, json!({"action": "reclassify", "class": "simple", "reason": "住户已关阀门"})).await;
    assert_eq!(s, 200);
    let (_, d) =
        act(&dispatcher, &d, json!({"action": "assign_technician", "technician_id": me_id(&tech).await})).await;
    // R-REP-3: "维修工接到通知后…赶到现场": the clock runs from the assignment.
    let told = d["case"]["repair"]["assigned_at"].as_i64().unwrap();
    assert!(told > d["case"]["repair"]["notified_at"].as_i64().unwrap() - 1);
    assert_eq!(d["request"]["arrival_due_at"].as_i64().unwrap(), told + 20 * MIN, "simple: 20 minutes from being told");
    // A changed target applies to open repairs at once.
    let (_, rules) = admin.get_json(&format!("/api/v1/communities/{}/request-settings", t.c1)).await;
    let mut rules = rules.clone();
    rules["simple_min"] = json!(30);
    assert_eq!(admin.put_json(&format!("/api/v1/communities/{}/request-settings", t.c1), &rules).await.0, 200);
    assert_eq!(sheet(&desk, &r["id"]).await["request"]["arrival_due_at"].as_i64().unwrap(), told + 30 * MIN);
    rules["simple_min"] = json!(20);
    rules["version"] = json!(rules["version"].as_i64().unwrap() + 1);
    assert_eq!(admin.put_json(&format!("/api/v1/communities/{}/request-settings", t.c1), &rules).await.0, 200);
    // Past the target without an arrival: the technician and the dispatcher are told once.
    let tick = notify::tick(&t.app, told + 21 * MIN).await.unwrap();
    assert!(tick.notices >= 2, "{tick:?}");
    assert!(notices(&tech).await.contains(&"timer_arrival".to_string()));
    assert!(notices(&dispatcher).await.contains(&"timer_arrival".to_string()));
    assert_eq!(notify::tick(&t.app, told + 22 * MIN).await.unwrap().notices, 0, "once");
    let (s, d) = act(&tech, &d, json!({"action": "arrive"})).await;
    assert_eq!(s, 200, "{d}");
    assert!(d["request"]["arrived_at"].is_i64());
    assert_eq!(d["handovers"][0]["state"], "in_progress");
    let (s, e) = act(&tech, &d, json!({"action": "arrive"})).await;
    assert_eq!((s, code(&e)), (422, "repair.already_arrived"));
}

async fn price(c: &Client, community: i64, name: &str, kind: &str, price: &str, unit: &str) -> i64 {
    let (s, v) = c
        .post_json(
            &format!("/api/v1/communities/{community}/price-items"),
            &json!({"name": name, "unit": unit, "item_kind": kind, "price": price}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().unwrap()
}

/// R-REP-4 and R-REP-5: paid work priced from the list and confirmed by the resident before
/// work; completion only after arrival, signed by the resident; the slip returns to the
/// desk; the ledger and the unit's history show it.
#[tokio::test]
async fn r_rep_4_5_paid_work_completion_and_slip() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let tap = price(&dispatcher, t.c1, "更换水龙头", "material", "35", "个").await;
    let pipe = price(&dispatcher, t.c1, "PPR 水管", "material", "12.50", "米").await;
    let (s, e) = dispatcher
        .post_json(
            &format!("/api/v1/communities/{}/price-items", t.c1),
            &json!({"name": "", "unit": "次", "item_kind": "服务", "price": "1.234"}),
        )
        .await;
    assert_eq!(s, 422);
    for f in ["name", "item_kind", "price"] {
        assert!(names_field(&e, f), "{f}: {e}");
    }
    let (_, r) = repair(&desk, t.c1, "fixtures", "水龙头坏了，要换新的").await;
    let d = sheet(&desk, &r["id"]).await;
    let (_, d) =
        act(&dispatcher, &d, json!({"action": "assign_technician", "technician_id": me_id(&tech).await})).await;
    let (s, d) = act(
        &dispatcher,
        &d,
        json!({"action": "quote_charge", "lines": [{"item_id": tap, "quantity_centi": 200}, {"item_id": pipe, "quantity_centi": 250}]}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["case"]["repair"]["charge"]["total_fen"], 7000 + 3125, "35×2 + 12.50×2.5 in fen");
    // Completing before arrival is refused, and so is completing before the charge is confirmed.
    let events = d["events"].as_array().unwrap().len();
    let (s, e) = act(
        &tech,
        &d,
        json!({"action": "complete_repair", "work_done": "更换水龙头", "signature": SIGNATURE, "signer": "王秀英"}),
    )
    .await;
    assert_eq!((s, code(&e)), (422, "repair.not_arrived"));
    let (_, d) = act(&tech, &d, json!({"action": "arrive"})).await;
    let (s, e) = act(
        &tech,
        &d,
        json!({"action": "complete_repair", "work_done": "更换水龙头", "signature": SIGNATURE, "signer": "王秀英"}),
    )
    .await;
    assert_eq!((s, code(&e)), (422, "repair.charge_unconfirmed"));
    assert_eq!(
        sheet(&desk, &r["id"]).await["events"].as_array().unwrap().len(),
        events + 2,
        "only the arrival was written"
    );
    let (s, d) = act(&tech, &d, json!({"action": "confirm_charge", "signature": SIGNATURE, "signer": "王秀英"})).await;
    assert_eq!(s, 200, "{d}");
    let (s, e) =
        act(&dispatcher, &d, json!({"action": "quote_charge", "lines": [{"item_id": tap, "quantity_centi": 100}]}))
            .await;
    assert_eq!((s, code(&e)), (422, "repair.charge_confirmed"));
    let (_, owed) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/charges", t.c1)).await;
    assert_eq!(owed[0]["charge_fen"], 10125);
    assert_eq!(owed[0]["charge_state"], "confirmed");
    // The resident signs on the technician's phone.
    let (s, e) = act(
        &tech,
        &d,
        json!({"action": "complete_repair", "work_done": "更换水龙头", "signature": "", "signer": "王秀英"}),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let (s, d) = act(
        &tech,
        &d,
        json!({"action": "complete_repair", "work_done": "更换水龙头及进水管", "materials": "水龙头 2 个，PPR 管 2.5 米",
               "signature": SIGNATURE, "signer": "王秀英"}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let signed = d["attachments"].as_array().unwrap().iter().filter(|a| a["purpose"] == "signature").count();
    assert_eq!(signed, 2, "the charge and the completion were signed");
    let slip_due = d["request"]["slip_due_at"].as_i64().unwrap();
    assert_eq!(slip_due, d["request"]["completed_at"].as_i64().unwrap() + 24 * HOUR, "slip back within 24 hours");
    // The slip not back in time: the desk is told.
    notify::tick(&t.app, slip_due + MIN).await.unwrap();
    assert!(notices(&desk).await.contains(&"timer_slip".to_string()));
    // The desk receives the slip and collects with the resident's completion signature.
    let (s, d) = act(&desk, &d, json!({"action": "receive_slip"})).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["sheet"]["state"], "awaiting_acceptance");
    assert!(d["handovers"][0]["result"].as_str().unwrap().contains("更换水龙头及进水管"));
    let (s, d) = act(&desk, &d, json!({"action": "collect", "opinion": "已修好，住户满意"})).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["sheet"]["state"], "collected");
    let (_, ledger) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/repairs", t.c1)).await;
    assert!(ledger[0]["slip_returned_at"].is_i64() && ledger[0]["completed_at"].is_i64());
    let unit = d["sheet"]["unit_id"].as_i64().unwrap();
    let (_, history) = desk.get_json(&format!("/api/v1/units/{unit}/sheets")).await;
    assert_eq!(history[0]["id"], d["sheet"]["id"], "the unit's file has the repair");
}

/// R-CMP-1: a complaint records time, place, cause, course and people; every complaint is
/// reported to the CS manager and supervisor.
#[tokio::test]
async fn r_cmp_1_complaint_details_and_managers_told() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "complaint", "channel": "phone", "requester_name": "王秀英", "reason": "投诉",
                    "complaint": {"category": "", "cause": "", "course": "", "occurred_unknown": true, "place_unknown": true, "people_unknown": true}}),
        )
        .await;
    assert_eq!(s, 422);
    for f in ["complaint.category", "complaint.cause", "complaint.course"] {
        assert!(names_field(&e, f), "{f}: {e}");
    }
    // R-CMP-3 routes by whom it is about: an empty choice (the form's 请选择) is refused;
    // left out of a request, it is the service in general.
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "complaint", "channel": "phone", "requester_name": "王秀英", "reason": "投诉",
                    "complaint": {"category": "服务态度", "cause": "态度差", "course": "前台未理会", "against": "",
                                  "occurred_unknown": true, "place_unknown": true, "people_unknown": true}}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert!(names_field(&e, "complaint.against"), "{e}");
    let v = complaint(&desk, &t, "噪音", json!({})).await;
    assert_eq!(sheet(&desk, &v["id"]).await["case"]["complaint"]["details"]["against"], "service");
    let v = complaint(&desk, &t, "服务态度", json!({"against": "service"})).await;
    let d = sheet(&desk, &v["id"]).await;
    assert_eq!(d["case"]["complaint"]["details"]["place"], "客服中心前台");
    for role in [Role::CsManager, Role::CsSupervisor] {
        let c = t.as_role(role).await;
        assert!(notices(&c).await.contains(&"complaint_new".to_string()), "{role:?}");
    }
    let (_, settings) = desk.get_json(&format!("/api/v1/communities/{}/request-settings", t.c1)).await;
    assert_eq!(settings["apology"], "", "the page falls back to the standard apology");
}

/// R-CMP-2 and R-CMP-7: not the centre's work is explained and closed; a valid complaint
/// goes to the responsible department with a deadline; a resolved complaint gets a
/// follow-up task.
#[tokio::test]
async fn r_cmp_2_7_validity_deadline_and_follow_up() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let tech = t.as_role(Role::Technician).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let v = complaint(&desk, &t, "噪音", json!({})).await;
    let d = sheet(&desk, &v["id"]).await;
    let (s, _) = act(&desk, &d, json!({"action": "judge_complaint", "valid": false, "explanation": "x"})).await;
    assert_eq!(s, 403, "a receptionist does not judge");
    let (s, d) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": false, "explanation": "属于邻里纠纷，已向住户解释并建议社区调解"}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["sheet"]["state"], "awaiting_acceptance");
    let (s, d) =
        act(&desk, &d, json!({"action": "collect", "opinion": "住户接受解释", "phone_confirmed_at": t.now()})).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["follow_ups"][0]["reason"], "complaint", "R-CMP-7");

    let v = complaint(&desk, &t, "漏水", json!({})).await;
    let d = sheet(&desk, &v["id"]).await;
    let (s, e) = act(&desk, &d, json!({"action": "collect", "opinion": "x", "phone_confirmed_at": 1})).await;
    assert_eq!((s, code(&e)), (422, "sheet.not_awaiting_acceptance"));
    let (s, e) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": true, "explanation": "楼上漏水", "department_id": eng}),
    )
    .await;
    assert_eq!((s, code(&e)), (422, "complaint.deadline_required"));
    let deadline = t.now() + 48 * HOUR;
    let (s, d) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": true, "explanation": "楼上管道漏水，请工程部处理", "department_id": eng, "deadline_at": deadline}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["handovers"][0]["department_id"], eng);
    assert_eq!(d["request"]["deadline_at"], deadline);
    // The department works it, returns it; the desk collects; a follow-up is due.
    let (_, d) = act(&tech, &d, json!({"action": "acknowledge", "handover": 1})).await;
    let (_, d) =
        act(&tech, &d, json!({"action": "return", "handover": 1, "result": "已修复", "signer": "李师傅"})).await;
    let (s, d) =
        act(&desk, &d, json!({"action": "collect", "opinion": "满意", "signature": SIGNATURE, "signer": "王秀英"}))
            .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["follow_ups"].as_array().unwrap().len(), 1);
}

/// R-CMP-3: a complaint against customer-service staff (or a supervisor, or company
/// administration) goes to the centre director, never to the department it is about.
#[tokio::test]
async fn r_cmp_3_complaints_about_staff_go_to_the_director() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let director = t.as_role(Role::CentreDirector).await;
    let cs = department(&desk, t.c1, "customer_service").await;
    let eng = department(&desk, t.c1, "engineering").await;
    let office = department(&desk, t.c1, "director_office").await;
    let deadline = t.now() + 72 * HOUR;
    let v = complaint(&desk, &t, "服务态度", json!({"against": "customer_service_staff", "against_name": "前台小张"}))
        .await;
    let d = sheet(&desk, &v["id"]).await;
    let audit = t.audit_count().await;
    // R-CMP-3: "若投诉…客服部人员…则将会签单报物业中心主任处理": neither customer service
    // nor any other department; the refusal names the department field.
    let field_code = |e: &Value| {
        e["error"]["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|x| x["field"] == "department_id"))
            .map(|x| x["code"].clone())
    };
    for dep in [cs, eng] {
        let (s, e) = act(
            &manager,
            &d,
            json!({"action": "judge_complaint", "valid": true, "explanation": "核实", "department_id": dep, "deadline_at": deadline}),
        )
        .await;
        assert_eq!((s, field_code(&e)), (422, Some(json!("complaint.director_required"))), "{e}");
        let (s, e) = act(&desk, &d, json!({"action": "dispatch", "department_id": dep, "opinion": "请处理"})).await;
        assert_eq!(
            (s, field_code(&e)),
            (422, Some(json!("complaint.director_required"))),
            "a plain dispatch is refused as well"
        );
    }
    assert_eq!(t.audit_count().await, audit, "nothing written");
    let (s, d) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": true, "explanation": "投诉客服人员，按规定交中心主任", "department_id": office, "deadline_at": deadline}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["handovers"][0]["department_id"], office);
    assert!(notices(&director).await.contains(&"complaint_director".to_string()));
    let (_, q) = director.get_json(&format!("/api/v1/communities/{}/queues/department", t.c1)).await;
    assert_eq!(q[0]["id"], d["sheet"]["id"], "it lands in the director's queue");

    // A complaint about the customer-service department as a whole is about its staff.
    let v = complaint(&desk, &t, "服务态度", json!({"against": "department", "against_department_id": cs})).await;
    let d = sheet(&desk, &v["id"]).await;
    let (s, e) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": true, "explanation": "核实", "department_id": cs, "deadline_at": deadline}),
    )
    .await;
    assert_eq!((s, field_code(&e)), (422, Some(json!("complaint.director_required"))), "{e}");
}

/// R-CMP-4: a developer-legacy matter goes to the developer's customer service and is
/// tracked like any sheet: it closes only on the developer's answer.
#[tokio::test]
async fn r_cmp_4_developer_legacy_is_tracked() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let v = complaint(&desk, &t, "外墙渗水", json!({"against": "developer_legacy"})).await;
    let d = sheet(&desk, &v["id"]).await;
    let (s, d) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": true, "explanation": "交房遗留外墙渗水", "developer_contact": "开发商客服部 李经理",
               "deadline_at": t.now() + 7 * 24 * HOUR}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["sheet"]["outcome"], "beyond_centre");
    assert_eq!(d["request"]["route"], "developer");
    // Tracked the same way: the owner is reminded of the progress until the developer answers.
    let judged = d["case"]["complaint"]["judgement"]["at"].as_i64().unwrap();
    notify::tick(&t.app, judged + 48 * HOUR + MIN).await.unwrap();
    assert!(notices(&desk).await.contains(&"timer_progress".to_string()));
    let (s, e) = act(&desk, &d, json!({"action": "collect", "opinion": "x", "phone_confirmed_at": 1})).await;
    assert_eq!((s, code(&e)), (422, "sheet.third_party_receipt_required"));
    let (_, d) =
        act(&desk, &d, json!({"action": "record_third_party_receipt", "evidence": "开发商回函：已安排维修"})).await;
    let (s, d) = act(&desk, &d, json!({"action": "collect", "opinion": "开发商已维修", "phone_confirmed_at": 1})).await;
    assert_eq!(s, 200, "{d}");
}

/// R-CMP-5: the same unit and category complaining again within the window is flagged
/// into the complaint ledger; a manager flags a serious one; the director records the
/// solution meeting and names the department.
#[tokio::test]
async fn r_cmp_5_repeated_and_serious_complaints_reach_the_ledger() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let director = t.as_role(Role::CentreDirector).await;
    let security = department(&desk, t.c1, "security").await;
    let first = complaint(&desk, &t, "噪音", json!({})).await;
    complaint(&desk, &t, "噪音", json!({})).await;
    let other = complaint(&desk, &t, "停车", json!({})).await;
    let third = complaint(&desk, &t, "噪音", json!({})).await;
    let d = sheet(&desk, &third["id"]).await;
    assert_eq!(d["case"]["complaint"]["flag"], "repeat", "the third noise complaint in 90 days");
    assert!(sheet(&desk, &first["id"]).await["case"]["complaint"]["flag"].is_null());
    let (_, ledger) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/complaints", t.c1)).await;
    assert_eq!(ledger.as_array().unwrap().len(), 1);
    assert!(notices(&director).await.contains(&"complaint_flagged".to_string()), "the director is told");
    let o = sheet(&desk, &other["id"]).await;
    let (s, _) = act(&desk, &o, json!({"action": "flag_complaint", "reason": "serious", "note": "x"})).await;
    assert_eq!(s, 403);
    let (s, o) =
        act(&manager, &o, json!({"action": "flag_complaint", "reason": "serious", "note": "多户联名投诉乱停车"})).await;
    assert_eq!(s, 200, "{o}");
    let (_, ledger) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/complaints", t.c1)).await;
    assert_eq!(ledger.as_array().unwrap().len(), 2);
    let (_, all) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/all_complaints", t.c1)).await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    let meeting = t.now();
    let body = json!({"action": "record_solution", "meeting_at": meeting, "attendees": "主任、客服经理、安保主管",
                      "plan": "增设访客车位并加强巡逻", "department_id": security});
    let (s, _) = act(&manager, &o, body.clone()).await;
    assert_eq!(s, 403, "the director convenes the solution");
    let (s, o) = act(&director, &o, body).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["handovers"][0]["department_id"], security);
    assert!(o["request"]["solution_at"].is_i64());
}

/// R-CMP-6: while unresolved, the owner is reminded to tell the resident the progress;
/// each report moves the next reminder on.
#[tokio::test]
async fn r_cmp_6_progress_until_solved() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let v = complaint(&desk, &t, "漏水", json!({})).await;
    let d = sheet(&desk, &v["id"]).await;
    let (_, d) = act(
        &manager,
        &d,
        json!({"action": "judge_complaint", "valid": true, "explanation": "工程部处理", "department_id": eng,
               "deadline_at": t.now() + 10 * 24 * HOUR}),
    )
    .await;
    let judged = d["case"]["complaint"]["judgement"]["at"].as_i64().unwrap();
    notify::tick(&t.app, judged + 48 * HOUR - MIN).await.unwrap();
    assert!(!notices(&desk).await.contains(&"timer_progress".to_string()));
    notify::tick(&t.app, judged + 48 * HOUR + MIN).await.unwrap();
    assert!(notices(&desk).await.contains(&"timer_progress".to_string()));
    let (s, d) =
        act(&desk, &d, json!({"action": "log_progress", "note": "已电话告知住户：配件周三到", "resident_told": true}))
            .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["request"]["progress_count"], 1);
    let (s, e) = act(&desk, &d, json!({"action": "log_progress", "note": " "})).await;
    assert_eq!((s, code(&e)), (422, "complaint.note_required"));
}

/// R-RECV-2 "妥善回答，解释清楚": a question the desk answers on the telephone is answered as
/// it is registered — one step, closed at once with the answer and its basis, no signature
/// owed; half an answer is refused naming the field.
#[tokio::test]
async fn r_recv_2_an_inquiry_answered_as_it_is_registered_closes_at_once() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let (_, art) = manager
        .post_json(
            &format!("/api/v1/communities/{}/articles", t.c1),
            &json!({"title": "快递代收", "answer": "前台代收快递，凭取件码领取。", "basis": "客服中心服务公约"}),
        )
        .await;
    let url = format!("/api/v1/communities/{}/sheets", t.c1);
    let body = |inquiry: Value| {
        json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": "前台能代收快递吗",
               "inquiry": inquiry})
    };
    let before = t.count("sheets").await;
    let (s, e) = desk.post_json(&url, &body(json!({"answer": "可以代收", "basis": ""}))).await;
    assert_eq!(s, 422, "{e}");
    assert!(names_field(&e, "inquiry.basis"), "{e}");
    let (s, e) = desk.post_json(&url, &body(json!({"answer": "可以", "basis": "公约", "article_id": 999_999}))).await;
    assert_eq!(s, 422, "{e}");
    assert!(names_field(&e, "inquiry.article_id"), "{e}");
    assert_eq!(t.count("sheets").await, before, "a refused registration writes nothing");

    let (s, v) = desk
        .post_json(&url, &body(json!({"answer": art["answer"], "basis": art["basis"], "article_id": art["id"]})))
        .await;
    assert_eq!(s, 201, "{v}");
    let d = sheet(&desk, &v["id"]).await;
    assert_eq!(d["sheet"]["state"], "collected", "{d}");
    assert_eq!(d["sheet"]["signature_pending"], 0);
    assert_eq!(d["clock"]["state"], "not_started");
    assert_eq!(d["case"]["inquiry"]["answer"]["text"], art["answer"], "{d}");
    assert_eq!(d["case"]["inquiry"]["answer"]["article"], art["id"]);

    // Without an answer the question is registered to be answered, promised or escalated.
    let (s, v) = desk.post_json(&url, &body(json!({"answer": " ", "basis": ""}))).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(sheet(&desk, &v["id"]).await["sheet"]["state"], "registered", "left for the desk to answer");
}

/// R-RECV-2: an inquiry answered with its basis from the knowledge base, escalated to a
/// manager, or promised a reply by a time that is tracked and visible when missed.
#[tokio::test]
async fn r_recv_2_inquiries_answered_escalated_or_promised() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let (s, _) = desk
        .post_json(
            &format!("/api/v1/communities/{}/articles", t.c1),
            &json!({"title": "装修时间", "answer": "x", "basis": "y"}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, art) = manager
        .post_json(
            &format!("/api/v1/communities/{}/articles", t.c1),
            &json!({"title": "装修施工时间规定", "answer": "工作日 8:00-12:00、14:00-18:00 可施工，节假日禁止噪音施工。",
                    "basis": "《住宅装饰装修管理规定》及本小区管理规约第 12 条"}),
        )
        .await;
    assert_eq!(s, 201, "{art}");
    manager
        .post_json(
            &format!("/api/v1/communities/{}/articles", t.c1),
            &json!({"title": "停车收费标准", "answer": "地面车位每月 150 元。", "basis": "物价局备案"}),
        )
        .await;
    let (_, found) = desk.get_json(&format!("/api/v1/communities/{}/articles?q=周末能装修吗", t.c1)).await;
    assert_eq!(found[0]["id"], art["id"], "{found}");
    assert_eq!(found.as_array().unwrap().len(), 1);

    let ask = |reason: &'static str| {
        let desk = &desk;
        let c1 = t.c1;
        async move {
            let (s, v) = desk
                .post_json(
                    &format!("/api/v1/communities/{c1}/sheets"),
                    &json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": reason}),
                )
                .await;
            assert_eq!(s, 201);
            sheet(desk, &v["id"]).await
        }
    };
    let d = ask("周末能装修吗").await;
    let (s, e) = act(&desk, &d, json!({"action": "answer_inquiry", "answer": "不能", "basis": ""})).await;
    assert_eq!((s, code(&e)), (422, "inquiry.basis_required"));
    let (s, d) = act(
        &desk,
        &d,
        json!({"action": "answer_inquiry", "answer": art["answer"], "basis": art["basis"], "article_id": art["id"]}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    // R-RECV-2 "妥善回答，解释清楚": answered there and then, the call is done: closed with
    // the answer, no later signature owed, never on a collection clock.
    assert_eq!(d["sheet"]["state"], "collected");
    assert_eq!(d["sheet"]["signature_pending"], 0);
    assert_eq!(d["clock"]["state"], "not_started");

    // Escalated to a manager (not to another receptionist).
    let d = ask("物业费能否减免").await;
    let (s, e) =
        act(&desk, &d, json!({"action": "escalate_inquiry", "to_user_id": me_id(&desk).await, "note": "x"})).await;
    assert_eq!(s, 422, "{e}");
    let (s, d) = act(
        &desk,
        &d,
        json!({"action": "escalate_inquiry", "to_user_id": me_id(&manager).await, "note": "涉及收费政策"}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert!(notices(&manager).await.contains(&"inquiry_escalated".to_string()));

    // A promised reply: reminded before, flagged when missed, blocks the close until answered.
    let d = ask("小区何时更换门禁").await;
    let (s, e) = act(&desk, &d, json!({"action": "promise_reply", "by_at": 1000})).await;
    assert_eq!((s, code(&e)), (422, "inquiry.promise_not_later"));
    let by = t.now() + 10 * 60_000;
    let (s, d) = act(&desk, &d, json!({"action": "promise_reply", "by_at": by, "note": "问工程部后回电"})).await;
    assert_eq!(s, 200, "{d}");
    let (_, q) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/inquiries?late=true", t.c1)).await;
    assert!(q.as_array().unwrap().is_empty());
    t.advance(20 * 60_000);
    let (_, q) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/inquiries?late=true", t.c1)).await;
    assert_eq!(q[0]["sheet_id"], d["sheet"]["id"], "the missed promise is visible");
    notify::tick(&t.app, t.now()).await.unwrap();
    assert!(notices(&desk).await.contains(&"timer_promise".to_string()));
    assert!(notices(&manager).await.contains(&"timer_promise".to_string()), "a missed promise goes up");
    let (s, _) = act(&desk, &d, json!({"action": "answer_inquiry", "answer": "下月更换", "basis": "工程部计划"})).await;
    assert_eq!(s, 200);
}

/// R-RECV-3: the manager analyses a suggestion, a department manager or higher replies in
/// writing, it goes into the suggestion ledger and on the follow-up plan.
#[tokio::test]
async fn r_recv_3_suggestions_analysed_and_answered_by_a_manager() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let (s, v) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "suggestion", "channel": "letter", "requester_name": "王秀英", "reason": "建议增设快递柜"}),
        )
        .await;
    assert_eq!(s, 201);
    let d = sheet(&desk, &v["id"]).await;
    let (s, e) = act(&manager, &d, json!({"action": "reply_suggestion", "reply": "x"})).await;
    assert_eq!((s, code(&e)), (422, "suggestion.not_analysed"));
    let (s, _) = act(&desk, &d, json!({"action": "analyse_suggestion", "analysis": "x"})).await;
    assert_eq!(s, 403);
    let (s, d) = act(
        &manager,
        &d,
        json!({"action": "analyse_suggestion", "analysis": "住户多次反映取件不便，建议采纳", "to_director": true}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let director = t.as_role(Role::CentreDirector).await;
    assert!(notices(&director).await.contains(&"suggestion_director".to_string()), "referred to the director");
    let (s, e) = act(&desk, &d, json!({"action": "reply_suggestion", "reply": "好的"})).await;
    assert_eq!((s, code(&e)), (422, "suggestion.reply_rank"));
    let (s, e) = act(&desk, &d, json!({"action": "collect", "opinion": "x", "phone_confirmed_at": 1})).await;
    assert_eq!((s, code(&e)), (422, "sheet.not_awaiting_acceptance"));
    let (s, d) =
        act(&manager, &d, json!({"action": "reply_suggestion", "reply": "已联系快递柜公司，下月在 3 号楼旁安装。"}))
            .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["sheet"]["state"], "awaiting_acceptance");
    let (_, ledger) = desk.get_json(&format!("/api/v1/communities/{}/request-ledgers/suggestions", t.c1)).await;
    assert_eq!(ledger[0]["to_director"], 1);
    assert!(ledger[0]["replied_at"].is_i64());
    let (s, d) = act(&desk, &d, json!({"action": "collect", "opinion": "满意", "phone_confirmed_at": 1})).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["follow_ups"][0]["reason"], "suggestion");
}

/// R-RECV-4: a situation report is routed to the responsible department like any sheet.
#[tokio::test]
async fn r_recv_4_situation_report_is_routed() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let guard = t.as_role(Role::SecurityOfficer).await;
    let security = department(&desk, t.c1, "security").await;
    let (_, v) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "situation_report", "channel": "phone", "requester_name": "王秀英", "reason": "地下车库有陌生人徘徊"}),
        )
        .await;
    let d = sheet(&desk, &v["id"]).await;
    assert!(d["request"].is_null(), "no flow part of its own");
    let (_, d) =
        act(&desk, &d, json!({"action": "dispatch", "department_id": security, "opinion": "请安保核查"})).await;
    let (_, d) = act(&guard, &d, json!({"action": "acknowledge", "handover": 1})).await;
    let (s, d) =
        act(&guard, &d, json!({"action": "return", "handover": 1, "result": "已巡查，系访客", "signer": "赵队长"}))
            .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["sheet"]["state"], "awaiting_acceptance");
}

/// Settings are the administrators', validated field by field, with optimistic locking.
#[tokio::test]
async fn request_settings_are_validated_and_locked() {
    let t = TestApp::spawn().await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let url = format!("/api/v1/communities/{}/request-settings", t.c1);
    let good = json!({"emergency_min": 15, "simple_min": 20, "general_min": 60, "slip_hours": 24, "repeat_count": 2,
                      "repeat_days": 90, "progress_hours": 48, "promise_warn_min": 60, "apology": "非常抱歉", "version": 0});
    let mut bad = good.clone();
    bad["emergency_min"] = json!(-1); // 0 is "at once" (R-REP-3); below it is nothing

    bad["repeat_days"] = json!(100_000);
    let (s, e) = admin.put_json(&url, &bad).await;
    assert_eq!(s, 422);
    assert!(names_field(&e, "emergency_min") && names_field(&e, "repeat_days"), "{e}");
    let (s, v) = admin.put_json(&url, &good).await;
    assert_eq!((s, v["version"].as_i64()), (200, Some(1)));
    let (s, e) = admin.put_json(&url, &good).await;
    assert_eq!((s, code(&e)), (409, "stale_version"), "a second writer with the old version conflicts");
    let mut next = good.clone();
    next["version"] = json!(1);
    next["general_min"] = json!(45);
    let (s, v) = admin.put_json(&url, &next).await;
    assert_eq!((s, v["general_min"].as_i64()), (200, Some(45)));
}

/// Calling the resident: the full phone is revealed only to the technician on the open job
/// or to customer service with a reason, and every reveal is audited; nobody else gets
/// more than the masked number.
#[tokio::test]
async fn calling_the_resident_reveals_the_phone_to_the_job_and_audits_it() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let (_, other) = t.staff("tech_two", "二号维修工", Role::Technician).await;
    let guard = t.as_role(Role::SecurityOfficer).await;
    let manager = t.as_role(Role::CsManager).await;
    let (_, r) = repair(&desk, t.c1, "water", "卫生间漏水").await;
    let d = sheet(&desk, &r["id"]).await;
    assert_eq!(d["sheet"]["requester_phone_masked"], "138****5678");
    assert!(!d.to_string().contains("13812345678"), "the sheet never carries the full number");
    let url = format!("/api/v1/sheets/{}/phone", r["id"]);
    let (s, _) = tech.post_json(&url, &json!({})).await;
    assert_eq!(s, 403, "not yet the technician's job");
    act(&dispatcher, &d, json!({"action": "assign_technician", "technician_id": me_id(&tech).await})).await;
    let (s, v) = tech.post_json(&url, &json!({})).await;
    assert_eq!((s, v["phone"].as_str()), (200, Some("13812345678")), "{v}");
    // The sheet's page gives the assigned technician the call button itself; the desk
    // keeps the reveal that asks why, and another technician has neither.
    let sheet_page = format!("/sheets/{}", r["id"]);
    let html = tech.get(&sheet_page).await.text().await.unwrap();
    assert!(html.contains("id=\"call\"") && !html.contains("id=\"reveal-form\""), "the technician's call button");
    let html = desk.get(&sheet_page).await.text().await.unwrap();
    assert!(!html.contains("id=\"call\"") && html.contains("id=\"reveal-form\""), "the desk gives a reason");
    assert!(!other.get(&sheet_page).await.text().await.unwrap().contains("id=\"call\""));
    for c in [&other, &guard] {
        assert_eq!(c.post_json(&url, &json!({})).await.0, 403);
    }
    let (s, e) = desk.post_json(&url, &json!({"reason": " "})).await;
    assert_eq!((s, names_field(&e, "reason")), (422, true));
    let (s, _) = desk.post_json(&url, &json!({"reason": "电话确认验收"})).await;
    assert_eq!(s, 200);
    let (_, trail) =
        manager.get_json(&format!("/api/v1/audit?community_id={}&action=sheet.phone_revealed", t.c1)).await;
    let trail = trail.as_array().unwrap();
    assert_eq!(trail.len(), 2, "each reveal is audited");
    assert!(!serde_json::to_string(trail).unwrap().contains("13812345678"), "the trail keeps the masked number");
    // On the technician's phone page, the call button leads to a tel: link.
    let page = tech.post_form(&format!("/sheets/{}/call", r["id"]), &[("back", "/repairs/day")]).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("href=\"tel:13812345678\""));
}

/// R-REP-5: the technician photographs the work from the day page — before, once there,
/// and after, with the completion — and the photos stand on the sheet, captioned; a sheet
/// that is no repair takes no such photo.
#[tokio::test]
async fn r_rep_5_photos_before_and_after_the_repair_from_the_day_page() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let (_, r) = repair(&desk, t.c1, "water", "厨房下水管漏水").await;
    let d = sheet(&desk, &r["id"]).await;
    act(&dispatcher, &d, json!({"action": "assign_technician", "technician_id": me_id(&tech).await})).await;
    let day = tech.get("/repairs/day").await.text().await.unwrap();
    let id = r["id"].as_i64().unwrap();
    assert!(!day.contains(&format!("id=\"before-photo-{id}\"")), "no photo before arriving");
    let d = sheet(&desk, &r["id"]).await;
    act(&tech, &d, json!({"action": "arrive"})).await;
    let day = tech.get("/repairs/day").await.text().await.unwrap();
    assert!(day.contains(&format!("id=\"before-photo-{id}\"")), "once there, the photo before the work");
    assert!(day.contains(&format!("id=\"after-photo-{id}\"")), "and with the completion, the photo after it");
    let photo = |purpose: &'static str, name: &'static str, who: &Client| {
        let form = reqwest::multipart::Form::new()
            .text("_csrf", who.csrf.clone())
            .text("purpose", purpose)
            .text("back", "/repairs/day")
            .part("file", reqwest::multipart::Part::bytes(crate::harness::jpeg(40, 30)).file_name(name));
        who.http.post(who.url(&format!("/sheets/{id}/attach"))).multipart(form).send()
    };
    let r1 = photo("before", "漏水处.jpg", &tech).await.unwrap();
    let status = r1.status().as_u16();
    let location = r1.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    assert_eq!((status, location.as_deref()), (303, Some("/repairs/day")), "{}", r1.text().await.unwrap());
    assert_eq!(photo("after", "修好后.jpg", &tech).await.unwrap().status(), 303);
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("维修前 · 漏水处.jpg") && html.contains("维修后 · 修好后.jpg"), "captioned on the sheet");
    // A suggestion has no repair to photograph.
    let (_, v) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "suggestion", "channel": "letter", "requester_name": "王秀英", "reason": "建议增加垃圾桶"}),
        )
        .await;
    let form = reqwest::multipart::Form::new()
        .text("_csrf", desk.csrf.clone())
        .text("purpose", "before")
        .part("file", reqwest::multipart::Part::bytes(crate::harness::jpeg(40, 30)).file_name("x.jpg"));
    let r = desk.http.post(desk.url(&format!("/sheets/{}/attach", v["id"]))).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 422, "the page comes back with the error");
    assert!(r.text().await.unwrap().contains("维修前后照片只用于报修单"));
}

/// Quick registrations (常用登记): customer service's manager keeps the desk's frequent
/// requests; each is checked as the registration form would check it, changed at its
/// version, audited, offered on the desk's home and fills the registration form.
#[tokio::test]
async fn quick_registrations_fill_the_form_from_home() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let url = format!("/api/v1/communities/{}/sheet-presets", t.c1);
    let tap = json!({"title": "水龙头滴水", "kind": "repair", "channel": "phone", "reason": "水龙头关不紧，一直滴水",
                     "repair_category": "water", "position": 10});
    let (s, _) = desk.post_json(&url, &tap).await;
    assert_eq!(s, 403, "the desk uses them; the manager keeps them");
    let before = t.count("sheet_presets").await;
    let (s, e) = manager
        .post_json(
            &url,
            &json!({"title": "一个非常非常非常非常非常长的按钮文字超过二十个字", "kind": "inquiry", "reason": " ",
                    "repair_category": "water", "position": 1000, "channel": "fax"}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    for f in ["title", "reason", "repair_category", "position", "channel"] {
        assert!(names_field(&e, f), "{f}: {e}");
    }
    let (s, e) = manager.post_json(&url, &json!({"title": "漏水", "kind": "repair", "reason": "漏水"})).await;
    assert!(s == 422 && names_field(&e, "repair_category"), "a repair needs its category: {e}");
    assert_eq!(t.count("sheet_presets").await, before, "refused, nothing written");
    let (s, p) = manager.post_json(&url, &tap).await;
    assert_eq!(s, 201, "{p}");
    let (_, list) = desk.get_json(&format!("{url}?active=true")).await;
    assert_eq!(list[0]["title"], "水龙头滴水");

    // Changed at the version read; the second of two edits is told, not overwritten.
    let edit = |title: &str, version: &Value| {
        let mut b = tap.clone();
        b["title"] = json!(title);
        b["version"] = version.clone();
        b
    };
    let put = format!("{url}/{}", p["id"]);
    let (s, _) = manager.put_json(&put, &edit("龙头滴水", &p["version"])).await;
    assert_eq!(s, 200);
    let (s, e) = manager.put_json(&put, &edit("滴水", &p["version"])).await;
    assert_eq!(s, 409, "{e}");
    let (_, trail) = manager.get_json(&format!("/api/v1/audit?community_id={}&action=preset.saved", t.c1)).await;
    assert_eq!(trail.as_array().unwrap().len(), 2, "each save is audited");

    // The desk's home offers it; it opens the registration form filled in.
    let home = desk.get("/").await.text().await.unwrap();
    assert!(
        home.contains(&format!("id=\"home-preset-{}\"", p["id"])) && home.contains("龙头滴水"),
        "on the desk's home"
    );
    let form = desk.get(&format!("/sheets/new?preset={}", p["id"])).await.text().await.unwrap();
    assert!(form.contains("水龙头关不紧，一直滴水</textarea>"), "the reason is filled in");
    assert!(form.contains("<option value=\"water\" data-suggested=\"紧急\" selected>"), "the category is chosen");
    assert!(form.contains("<option value=\"phone\" selected>"), "the channel is the preset's");

    // Withdrawn: off the desk's list, kept for the settings.
    let mut off = edit("龙头滴水", &json!(p["version"].as_i64().unwrap() + 1));
    off["active"] = json!(false);
    let (s, v) = manager.put_json(&put, &off).await;
    assert_eq!(s, 200, "{v}");
    let (_, list) = desk.get_json(&format!("{url}?active=true")).await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    let (_, list) = manager.get_json(&url).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

/// R-RECV-3: the head of any department may write the reply; a member may not.
#[tokio::test]
async fn r_recv_3_a_department_head_replies_to_a_suggestion() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let security = department(&desk, t.c1, "security").await;
    let (head_id, head) = t.staff("guard_head", "二号维修工", Role::SecurityOfficer).await;
    // The head of the security department (marked on the role's grant).
    let mut tx = t.app.store.begin().await.unwrap();
    sqlx::query("UPDATE user_roles SET department_id = $2, is_head = 1 WHERE user_id = $1")
        .bind(head_id)
        .bind(security)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (_, v) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "suggestion", "channel": "letter", "requester_name": "王秀英", "reason": "建议夜间加强巡逻"}),
        )
        .await;
    let d = sheet(&desk, &v["id"]).await;
    let (_, d) = act(&manager, &d, json!({"action": "analyse_suggestion", "analysis": "合理，交安保部答复"})).await;
    let guard = t.as_role(Role::SecurityOfficer).await;
    let (s, e) = act(&guard, &d, json!({"action": "reply_suggestion", "reply": "好"})).await;
    assert_eq!((s, code(&e)), (422, "suggestion.reply_rank"), "a member is not a manager");
    let page = head.get(&format!("/sheets/{}", v["id"])).await.text().await.unwrap();
    assert!(page.contains("id=\"reply-form\""), "the head is offered the reply form");
    let (s, d) =
        act(&head, &d, json!({"action": "reply_suggestion", "reply": "即日起夜间巡逻增加至每两小时一次。"})).await;
    assert_eq!(s, 200, "{d}");
}

/// R-REP-2: the board pages through a long queue, the most urgent first; the total is shown.
#[tokio::test]
async fn r_rep_2_the_board_pages_a_long_queue() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    for i in 0..31 {
        let category = if i == 30 { "gas" } else { "lift" };
        assert_eq!(repair(&desk, t.c1, category, &format!("报修第{i}件")).await.0, 201);
    }
    let (_, first) = dispatcher.get_json(&format!("/api/v1/communities/{}/repairs/board", t.c1)).await;
    assert_eq!(first["unassigned"].as_array().unwrap().len(), 30);
    assert_eq!(first["unassigned"][0]["class"], "emergency", "the last one, an emergency, comes first");
    let (_, second) = dispatcher.get_json(&format!("/api/v1/communities/{}/repairs/board?offset=30", t.c1)).await;
    assert_eq!(second["unassigned"].as_array().unwrap().len(), 1);
    let page = dispatcher.get(&format!("/repairs/board?community_id={}", t.c1)).await.text().await.unwrap();
    assert!(page.contains("id=\"board-total\">31<"), "the total, not the page");
    assert!(page.contains("id=\"board-next\""), "a next page");
    let next = dispatcher.get(&format!("/repairs/board?community_id={}&offset=30", t.c1)).await.text().await.unwrap();
    assert!(!next.contains("id=\"board-next\"") && next.contains("报修第"), "the last page");
}

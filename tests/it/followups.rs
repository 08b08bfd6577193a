//! Follow-ups (R-FU-1 … R-FU-5, R-CMP-7) over HTTP, on both backends: the sampling
//! decision on collection and its audit, the phone cap, records in person and by phone,
//! the manager's review, corrective-action reports, reassignment, overdue notices and the
//! follow-up ledger.

use crate::harness::{Client, PASSWORD, READY, TestApp, new_staff};
use crate::sheets::{SIGNATURE, act, department, setup};
use huiqian::app::{auth, followup, notify};
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

fn names_field(e: &Value, field: &str) -> bool {
    e["error"]["fields"].as_array().is_some_and(|f| f.iter().any(|x| x["field"] == field))
}

async fn me_id(c: &Client) -> i64 {
    c.get_json("/api/v1/me").await.1["user"]["id"].as_i64().unwrap()
}

async fn notices(c: &Client) -> Vec<String> {
    let (_, v) = c.get_json("/api/v1/me/notifications").await;
    v.as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_string()).collect()
}

async fn register(c: &Client, community: i64, body: Value) -> Value {
    let mut b = json!({"channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英", "requester_phone": "13812345678"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    let (s, v) = c.post_json(&format!("/api/v1/communities/{community}/sheets"), &b).await;
    assert_eq!(s, 201, "{v}");
    c.get_json(&format!("/api/v1/sheets/{}", v["id"])).await.1
}

/// A special service dispatched to engineering, done, returned and collected.
async fn collected_service(desk: &Client, tech: &Client, community: i64, eng: i64, reason: &str) -> Value {
    let d = register(desk, community, json!({"kind": "special_service", "reason": reason})).await;
    let (s, d) = act(desk, &d, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部上门"})).await;
    assert_eq!(s, 200, "{d}");
    let (_, d) = act(tech, &d, json!({"action": "acknowledge", "handover": 1})).await;
    let (s, d) =
        act(tech, &d, json!({"action": "return", "handover": 1, "result": "已完成", "signer": "李师傅"})).await;
    assert_eq!(s, 200, "{d}");
    let (s, d) = act(desk, &d, json!({"action": "collect", "opinion": "满意", "phone_confirmed_at": 1})).await;
    assert_eq!(s, 200, "{d}");
    d
}

/// A complaint found not to be the centre's work, explained and collected: a complaint
/// is always followed up (R-CMP-7).
async fn collected_complaint(desk: &Client, manager: &Client, community: i64) -> Value {
    let d = register(
        desk,
        community,
        json!({"kind": "complaint", "reason": "投诉噪音", "complaint": {"category": "噪音", "cause": "楼上夜间噪音", "course": "连续三晚", "occurred_unknown": true, "place_unknown": true, "people_unknown": true}}),
    )
    .await;
    let (s, d) = act(
        manager,
        &d,
        json!({"action": "judge_complaint", "valid": false, "explanation": "邻里纠纷，已解释并建议社区调解"}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let (s, d) = act(desk, &d, json!({"action": "collect", "opinion": "接受解释", "phone_confirmed_at": 1})).await;
    assert_eq!(s, 200, "{d}");
    d
}

fn task(d: &Value) -> Value {
    d["follow_ups"][0].clone()
}

async fn record(c: &Client, f: &Value, body: Value) -> (u16, Value) {
    let mut b = body;
    if b.get("version").is_none() {
        b["version"] = f["version"].clone();
    }
    c.post_json(&format!("/api/v1/follow-ups/{}/record", f["id"]), &b).await
}

async fn save_settings(c: &Client, community: i64, changes: Value) -> (u16, Value) {
    let (_, mut cur) = c.get_json(&format!("/api/v1/communities/{community}/follow-up-settings")).await;
    for (k, v) in changes.as_object().unwrap() {
        cur[k] = v.clone();
    }
    c.put_json(&format!("/api/v1/communities/{community}/follow-up-settings"), &cur).await
}

fn this_month(t: &TestApp) -> String {
    followup::period_of(chrono_tz::Asia::Shanghai, t.now())
}

/// R-FU-1: every collected special service is decided by its keyed draw, the month never
/// falls below the rate, every decision is kept and replays; a tampered decision shows.
/// Complaints and requests the resident asked for are always followed up.
#[tokio::test]
async fn r_fu_1_sampling_is_keyed_recorded_and_never_below_the_rate() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let tech = t.as_role(Role::Technician).await;
    let eng = department(&desk, t.c1, "engineering").await;

    // The rules: the manual's defaults until saved; rates are whole percents.
    let (_, s) = desk.get_json(&format!("/api/v1/communities/{}/follow-up-settings", t.c1)).await;
    assert_eq!(
        (s["repair_rate"].as_i64(), s["special_service_rate"].as_i64(), s["delivery_rate"].as_i64()),
        (Some(30), Some(30), Some(10))
    );
    assert_eq!((s["phone_cap_pct"].as_i64(), s["max_attempts"].as_i64()), (Some(70), Some(3)));
    assert!(s.get("sampling_key").is_none(), "the key is not shown with the rules");
    let (st, _) = save_settings(&desk, t.c1, json!({"special_service_rate": 40})).await;
    assert_eq!(st, 403, "the desk does not set the rates");
    let before = t.audit_count().await;
    let (st, e) = save_settings(&manager, t.c1, json!({"special_service_rate": 120, "due_hours": 0})).await;
    assert_eq!(st, 422);
    assert!(names_field(&e, "special_service_rate") && names_field(&e, "due_hours"), "{e}");
    assert_eq!(t.audit_count().await, before, "nothing saved");
    let (st, saved) = save_settings(&manager, t.c1, json!({"special_service_rate": 40})).await;
    assert_eq!(st, 200, "{saved}");
    let (st, e) = manager
        .put_json(&format!("/api/v1/communities/{}/follow-up-settings", t.c1), &json!({"version": 0, "repair_rate": 30, "special_service_rate": 50, "delivery_rate": 10, "event_rate": 10, "due_hours": 72, "phone_cap_pct": 70, "max_attempts": 3}))
        .await;
    assert_eq!((st, code(&e)), (409, "stale_version"), "a save over someone else's is a conflict");

    // Eight special services collected at 40%.
    let mut sheets = vec![];
    for i in 0..8 {
        sheets.push(collected_service(&desk, &tech, t.c1, eng, &format!("上门疏通下水道 {i}")).await);
    }
    let (st, month) =
        manager.get_json(&format!("/api/v1/communities/{}/follow-up-sampling/{}", t.c1, this_month(&t))).await;
    assert_eq!(st, 200, "{month}");
    let decisions: Vec<&Value> =
        month["decisions"].as_array().unwrap().iter().filter(|d| d["reason"] == "special_service").collect();
    assert_eq!(decisions.len(), 8);
    let mut selected = 0;
    for (n, (d, sheet)) in decisions.iter().zip(&sheets).enumerate() {
        assert_eq!(d["seq"], n as i64 + 1, "decided in the order collected");
        assert_eq!(d["number"], sheet["sheet"]["number"]);
        assert_eq!(d["rate"], 40);
        let chosen = d["selected"] == 1;
        selected += i64::from(chosen);
        // The floor: after n sheets at least ⌈40% × n⌉ are taken.
        assert!(selected * 100 >= 40 * (n as i64 + 1), "below the rate after {} sheets", n + 1);
        // Drawn exactly when the draw is under the rate; a task exactly for the selected.
        assert_eq!(d["cause"] == "drawn", d["draw"].as_i64().unwrap() < 4000, "{d}");
        assert_eq!(sheet["follow_ups"].as_array().unwrap().len(), usize::from(chosen), "{}", sheet["sheet"]["number"]);
    }
    let r = month["reasons"].as_array().unwrap().iter().find(|r| r["reason"] == "special_service").unwrap();
    assert_eq!(
        (r["collected"].as_i64(), r["selected"].as_i64(), r["required"].as_i64()),
        (Some(8), Some(selected), Some(4))
    );
    assert!(month["mismatches"].as_array().unwrap().is_empty(), "{month}");
    assert_eq!(month["sampling_key"].as_str().unwrap().len(), 64, "the auditor sees the key");
    let (st, _) = desk.get_json(&format!("/api/v1/communities/{}/follow-up-sampling/{}", t.c1, this_month(&t))).await;
    assert_eq!(st, 403, "the sampling audit is for auditors");
    let (st, e) = manager.get_json(&format!("/api/v1/communities/{}/follow-up-sampling/2026-13", t.c1)).await;
    assert!(st == 422 && names_field(&e, "period"), "{e}");

    // A decision changed behind the rules' back shows on replay.
    sqlx::query("UPDATE follow_up_decisions SET selected = 1 - selected WHERE sheet_id = $1")
        .bind(sheets[3]["sheet"]["id"].as_i64().unwrap())
        .execute(t.app.store.read())
        .await
        .unwrap();
    let (_, month) =
        manager.get_json(&format!("/api/v1/communities/{}/follow-up-sampling/{}", t.c1, this_month(&t))).await;
    let m = month["mismatches"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{month}");
    assert_eq!(m[0]["number"], sheets[3]["sheet"]["number"]);

    // Complaints always (R-CMP-7); a request the resident asked to be followed up always;
    // an inquiry otherwise never.
    let d = collected_complaint(&desk, &manager, t.c1).await;
    assert_eq!(task(&d)["reason"], "complaint");
    let asked =
        register(&desk, t.c1, json!({"kind": "inquiry", "reason": "询问停水时间", "follow_up_requested": true})).await;
    let (st, e) = act(&desk, &asked, json!({"action": "request_follow_up"})).await;
    assert_eq!((st, code(&e)), (422, "sheet.follow_up_already_requested"));
    // An inquiry answered on the spot is collected with its answer (R-RECV-2).
    let (st, d) =
        act(&desk, &asked, json!({"action": "answer_inquiry", "answer": "明天 9 点恢复", "basis": "自来水公司通知"}))
            .await;
    assert_eq!((st, d["sheet"]["state"].as_str()), (200, Some("collected")), "{d}");
    assert_eq!(task(&d)["reason"], "requested");
    let plain = register(&desk, t.c1, json!({"kind": "inquiry", "reason": "询问物业费标准"})).await;
    let (_, d) =
        act(&desk, &plain, json!({"action": "answer_inquiry", "answer": "每月每平方米 2.5 元", "basis": "物价局备案"}))
            .await;
    assert!(d["follow_ups"].as_array().unwrap().is_empty());
    let (st, e) = act(&desk, &d, json!({"action": "request_follow_up", "note": "业主又来电"})).await;
    assert_eq!((st, code(&e)), (422, "sheet.follow_up_after_collection"));
    let (_, month) =
        manager.get_json(&format!("/api/v1/communities/{}/follow-up-sampling/{}", t.c1, this_month(&t))).await;
    let always: Vec<&Value> =
        month["decisions"].as_array().unwrap().iter().filter(|d| d["cause"] == "always").collect();
    assert_eq!(always.len(), 2, "the complaint and the asked-for follow-up; the plain inquiry is not considered");
    // The task went to the first-contact receptionist.
    assert!(notices(&desk).await.contains(&"follow_up_assigned".to_string()));
}

/// R-FU-2, R-FU-3: in person the resident signs; by phone the outcome and the time are
/// recorded; the year's phone share may not pass the cap ("不得超过": refused, with no
/// exception to accept).
#[tokio::test]
async fn r_fu_2_3_records_in_person_and_by_phone_under_the_cap() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let (st, _) = save_settings(&manager, t.c1, json!({"phone_cap_pct": 50})).await;
    assert_eq!(st, 200);
    let a = task(&collected_complaint(&desk, &manager, t.c1).await);
    let b = task(&collected_complaint(&desk, &manager, t.c1).await);
    assert_eq!(a["state"], "pending");
    assert!(a["due_at"].as_i64().unwrap() > t.now() + 71 * HOUR, "72 hours by default");

    let (st, list) = desk.get_json(&format!("/api/v1/communities/{}/follow-ups", t.c1)).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "mine to do");
    assert_eq!((list["share"]["total"].as_i64(), list["share"]["phone_left"].as_i64()), (Some(2), Some(1)));

    // Bad input: named fields, rule refusals, nothing written.
    let before = t.audit_count().await;
    let (st, e) = record(&desk, &a, json!({"method": "fax", "outcome": "good", "content": "x"})).await;
    assert!(st == 422 && names_field(&e, "method") && names_field(&e, "outcome"), "{e}");
    let (st, e) = record(&desk, &a, json!({"method": "phone", "outcome": "satisfied", "content": " "})).await;
    assert_eq!((st, code(&e)), (422, "followup.content_required"));
    let later = t.now() + 2 * HOUR;
    let (st, e) =
        record(&desk, &a, json!({"method": "phone", "outcome": "satisfied", "content": "满意", "contacted_at": later}))
            .await;
    assert_eq!((st, code(&e)), (422, "followup.contacted_in_future"));
    let (st, e) =
        record(&desk, &a, json!({"method": "visit", "outcome": "satisfied", "content": "上门查看，噪音已消除"})).await;
    assert_eq!((st, code(&e)), (422, "followup.signature_required"), "in person the resident signs");
    assert_eq!(t.audit_count().await, before);

    // By phone: one of the two may be.
    let called = t.now() - HOUR;
    let (st, d) = record(
        &desk,
        &a,
        json!({"method": "phone", "outcome": "satisfied", "content": "电话回访，业主表示满意", "contacted_at": called}),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    let f = &d["follow_up"];
    assert_eq!(
        (f["state"].as_str(), f["method"].as_str(), f["contacted_at"].as_i64()),
        (Some("done"), Some("phone"), Some(called))
    );
    assert_eq!(d["share"]["phone_left"], 0);
    let (st, e) = record(&desk, &a, json!({"method": "phone", "outcome": "satisfied", "content": "再记一次"})).await;
    assert_eq!((st, code(&e)), (422, "followup.already_done"));
    // Someone changed the task since it was read: a conflict, not an overwrite.
    let stale = json!({"version": b["version"].as_i64().unwrap() + 1, "method": "visit", "outcome": "satisfied", "content": "入户", "signature": SIGNATURE, "signer": "王秀英"});
    let (st, e) = record(&desk, &b, stale).await;
    assert_eq!((st, code(&e)), (409, "stale_version"));
    let (st, e) = record(&desk, &b, json!({"method": "phone", "outcome": "satisfied", "content": "电话回访"})).await;
    assert_eq!((st, code(&e)), (422, "followup.phone_cap"), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("50%"), "{e}");
    let (st, d) = record(
        &desk,
        &b,
        json!({"method": "visit", "outcome": "satisfied", "content": "入户回访，业主满意", "signature": SIGNATURE, "signer": "王秀英", "signature_typed": true}),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["follow_up"]["signer"], "王秀英");
    // Typed with the pad's keyboard alternative: recorded and shown as such.
    assert_eq!(d["follow_up"]["signature_typed"], 1);
    let page = desk.get(&format!("/follow-ups/{}", b["id"])).await.text().await.unwrap();
    assert!(page.contains("（键盘签名）"), "the follow-up page says the signature was typed");
    let sig = d["follow_up"]["signature_id"].as_i64().expect("the signature is kept");
    let (_, sheet) = desk.get_json(&format!("/api/v1/sheets/{}", b["sheet_id"])).await;
    assert!(
        sheet["attachments"].as_array().unwrap().iter().any(|x| x["id"] == sig && x["purpose"] == "signature"),
        "{sheet}"
    );

    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'follow_up.recorded'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(n, 2);
}

/// R-FU-4: the manager reviews each record with remarks; an unsatisfied result opens a
/// corrective-action report: planned by the manager, carried out by the person
/// responsible, verified and signed by the manager or the director.
#[tokio::test]
async fn r_fu_4_review_and_corrective_action() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let director = t.as_role(Role::CentreDirector).await;
    let tech = t.as_role(Role::Technician).await;
    let f = task(&collected_complaint(&desk, &manager, t.c1).await);
    let (st, e) = desk
        .post_json(
            &format!("/api/v1/follow-ups/{}/review", f["id"]),
            &json!({"version": f["version"], "remarks": "好"}),
        )
        .await;
    assert_eq!((st, code(&e)), (403, "forbidden"));
    let (st, e) = manager
        .post_json(
            &format!("/api/v1/follow-ups/{}/review", f["id"]),
            &json!({"version": f["version"], "remarks": "好"}),
        )
        .await;
    assert_eq!((st, code(&e)), (422, "followup.not_done"));
    let (st, d) =
        record(&desk, &f, json!({"method": "phone", "outcome": "unsatisfied", "content": "业主认为噪音仍未解决"}))
            .await;
    // The year has one task: a 70% cap leaves no phone call. In person, unreachable needs no signature.
    assert_eq!((st, code(&d)), (422, "followup.phone_cap"));
    let (st, d) = record(&desk, &f, json!({"method": "visit", "outcome": "unsatisfied", "content": "业主认为噪音仍未解决", "signature": SIGNATURE, "signer": "王秀英"})).await;
    assert_eq!(st, 200, "{d}");
    let capa = d["capa"].clone();
    assert_eq!(capa["state"], "open");
    assert!(capa["nonconformity"].as_str().unwrap().contains("不满意"), "{capa}");
    assert!(notices(&manager).await.contains(&"capa_opened".to_string()));
    assert!(notices(&director).await.contains(&"capa_opened".to_string()));

    let (_, review) = manager.get_json(&format!("/api/v1/communities/{}/follow-ups?list=review", t.c1)).await;
    assert_eq!(review["items"][0]["id"], f["id"]);
    let fu = &d["follow_up"];
    let (st, e) = manager
        .post_json(
            &format!("/api/v1/follow-ups/{}/review", f["id"]),
            &json!({"version": fu["version"], "remarks": " "}),
        )
        .await;
    assert_eq!((st, code(&e)), (422, "followup.remarks_required"));
    let (st, d) = manager
        .post_json(
            &format!("/api/v1/follow-ups/{}/review", f["id"]),
            &json!({"version": fu["version"], "remarks": "回访记录完整，已开不合格报告"}),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(
        (d["follow_up"]["state"].as_str(), d["follow_up"]["remarks"].as_str()),
        (Some("reviewed"), Some("回访记录完整，已开不合格报告"))
    );

    let url = |what: &str| format!("/api/v1/capas/{}/{what}", capa["id"]);
    let tech_id = me_id(&tech).await;
    let due = t.now() + 72 * HOUR;
    let plan = json!({"version": capa["version"], "cause": "隔音处理不彻底", "action": "工程部加装隔音垫并复查", "responsible_id": tech_id, "due_at": due});
    let (st, _) = desk.post_json(&url("plan"), &plan).await;
    assert_eq!(st, 403);
    let mut past = plan.clone();
    past["due_at"] = json!(1000);
    let (st, e) = manager.post_json(&url("plan"), &past).await;
    assert_eq!((st, code(&e)), (422, "capa.due_in_past"));
    let (st, e) =
        manager.post_json(&url("verify"), &json!({"version": capa["version"], "effective": true, "note": "x"})).await;
    assert_eq!((st, code(&e)), (422, "capa.not_implemented"));
    let (st, c) = manager.post_json(&url("plan"), &plan).await;
    assert_eq!(st, 200, "{c}");
    assert_eq!((c["state"].as_str(), c["responsible_id"].as_i64()), (Some("planned"), Some(tech_id)));
    assert!(notices(&tech).await.contains(&"capa_assigned".to_string()));

    // The person responsible records what was done; the director finds it did not work.
    let (st, c) = tech.post_json(&url("implement"), &json!({"version": c["version"], "note": "已加装隔音垫"})).await;
    assert_eq!(st, 200, "{c}");
    assert!(notices(&manager).await.contains(&"capa_implemented".to_string()));
    let (st, _) =
        tech.post_json(&url("verify"), &json!({"version": c["version"], "effective": true, "note": "好了"})).await;
    assert_eq!(st, 403, "the person responsible does not verify their own action");
    let (st, c) = director
        .post_json(&url("verify"), &json!({"version": c["version"], "effective": false, "note": "复查仍有噪音"}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["state"], "planned");
    let (_, c) = tech.post_json(&url("implement"), &json!({"version": c["version"], "note": "更换为加厚隔音垫"})).await;
    let (st, e) =
        manager.post_json(&url("verify"), &json!({"version": c["version"], "effective": true, "note": " "})).await;
    assert_eq!((st, code(&e)), (422, "capa.note_required"));
    let (st, c) = manager
        .post_json(&url("verify"), &json!({"version": c["version"], "effective": true, "note": "复查无噪音，业主满意"}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!((c["state"].as_str(), c["verified_by_name"].as_str()), (Some("verified"), Some("测试客服部经理")));
    let (_, open) = manager.get_json(&format!("/api/v1/communities/{}/capas", t.c1)).await;
    assert!(open.as_array().unwrap().is_empty());
    let (_, all) = manager.get_json(&format!("/api/v1/communities/{}/capas?all=true", t.c1)).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    for action in ["capa.planned", "capa.implemented", "capa.verified", "follow_up.reviewed"] {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
            .bind(action)
            .fetch_one(t.app.store.read())
            .await
            .unwrap();
        assert!(n >= 1, "{action} audited");
    }
}

/// R-FU-3, R-FU-5: a task past its time limit is reported once to its assignee and the
/// manager; a supervisor gives a task to a colleague; the follow-up ledger lists what
/// was recorded in a period.
#[tokio::test]
async fn r_fu_5_ledger_reassignment_and_overdue() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let f = task(&collected_complaint(&desk, &manager, t.c1).await);

    // Overdue an hour after its time limit: told once. (Everyone signs in again after
    // the days that passed; the task made now is not late.)
    t.advance(f["due_at"].as_i64().unwrap() + HOUR - t.now());
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let supervisor = t.as_role(Role::CsSupervisor).await;
    let tech = t.as_role(Role::Technician).await;
    let g = task(&collected_complaint(&desk, &manager, t.c1).await);
    notify::tick(&t.app, t.now()).await.unwrap();
    notify::tick(&t.app, t.now()).await.unwrap();
    let overdue = |v: Vec<String>| v.iter().filter(|k| *k == "follow_up_overdue").count();
    assert_eq!(overdue(notices(&desk).await), 1);
    assert_eq!(overdue(notices(&manager).await), 1);

    // Reassignment: by a supervisor, to someone who does follow-ups.
    let cli = t.cli();
    let other = new_staff(&t.app, "desk_two", "二号接待员", PASSWORD, READY).await;
    auth::grant_role(&t.app, &cli, other, Some(t.c1), Role::Receptionist, None, false).await.unwrap();
    let url = format!("/api/v1/follow-ups/{}/reassign", g["id"]);
    let (st, _) = desk.post_json(&url, &json!({"version": g["version"], "to_user_id": other})).await;
    assert_eq!(st, 403);
    let (st, e) = supervisor.post_json(&url, &json!({"version": g["version"], "to_user_id": me_id(&tech).await})).await;
    assert!(st == 422 && names_field(&e, "to_user_id"), "{e}");
    let (st, d) = supervisor.post_json(&url, &json!({"version": g["version"], "to_user_id": other})).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["follow_up"]["assignee_name"], "二号接待员");
    let two = t.client("desk_two").await;
    assert!(notices(&two).await.contains(&"follow_up_assigned".to_string()));
    let (_, mine) = two.get_json(&format!("/api/v1/communities/{}/follow-ups", t.c1)).await;
    assert_eq!(mine["items"][0]["id"], g["id"]);

    // The ledger holds what was recorded in the period, not what is still to do.
    let start = t.now() - HOUR;
    let (st, _) = record(&desk, &f, json!({"method": "visit", "outcome": "satisfied", "content": "入户回访，已解决", "signature": SIGNATURE, "signer": "王秀英"})).await;
    assert_eq!(st, 200);
    let end = t.now() + HOUR;
    let (st, ledger) =
        manager.get_json(&format!("/api/v1/communities/{}/follow-up-ledger?from={start}&to={end}", t.c1)).await;
    assert_eq!(st, 200, "{ledger}");
    let rows = ledger.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["id"].as_i64(), rows[0]["outcome"].as_str(), rows[0]["method"].as_str()),
        (f["id"].as_i64(), Some("satisfied"), Some("visit"))
    );
    assert_eq!(rows[0]["requester_phone_masked"], "138****5678", "personal data masked in the ledger");
    let (_, none) =
        manager.get_json(&format!("/api/v1/communities/{}/follow-up-ledger?from={end}&to={}", t.c1, end + HOUR)).await;
    assert!(none.as_array().unwrap().is_empty());
}

/// R-FU-3: the visitor records what the resident said; the form chooses no result for
/// them, and without one it comes back with the reason next to the field, nothing written.
#[tokio::test]
async fn r_fu_3_the_form_presets_no_result() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let d = collected_complaint(&desk, &manager, t.c1).await;
    let (_, list) = desk.get_json(&format!("/api/v1/communities/{}/follow-ups", t.c1)).await;
    let f = list["items"].as_array().unwrap().iter().find(|f| f["sheet_id"] == d["sheet"]["id"]).unwrap().clone();
    let path = format!("/follow-ups/{}", f["id"]);
    let html = desk.get(&path).await.text().await.unwrap();
    let select = html.split("<select name=\"outcome\">").nth(1).unwrap();
    let select = &select[..select.find("</select>").unwrap()];
    assert!(select.contains("<option value=\"\" selected>"), "the empty choice is selected: {select}");
    assert_eq!(select.matches(" selected>").count(), 1, "only the empty choice is selected: {select}");
    let before = t.audit_count().await;
    let version = f["version"].to_string();
    let form = [("version", version.as_str()), ("method", "phone"), ("outcome", ""), ("content", "电话回访")];
    let r = desk.post_form(&format!("{path}/record"), &form).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"err-outcome\"") && html.contains("请选择住户的回访结果"), "{html}");
    assert_eq!(t.audit_count().await, before, "nothing written");
}

/// R-FU-2: a task counts in the year it was created, and its form shows that year's phone
/// share — in January a December task still counts in December, so the form says what the
/// check will say (it used to show the new year's "0 left" and then accept the call).
#[tokio::test]
async fn r_fu_2_the_form_shows_the_share_its_record_is_checked_against() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let zone = chrono_tz::Asia::Shanghai;
    let year = |ms: i64| chrono::Datelike::year(&chrono::TimeZone::timestamp_millis_opt(&zone, ms).unwrap());
    // Two tasks this year, then into the first days of the next.
    let a = task(&collected_complaint(&desk, &manager, t.c1).await);
    let b = task(&collected_complaint(&desk, &manager, t.c1).await);
    let created = year(t.now());
    let next_year = chrono::TimeZone::with_ymd_and_hms(&zone, created + 1, 1, 3, 10, 0, 0).unwrap().timestamp_millis();
    t.advance(next_year - t.now());
    let desk = t.as_role(Role::Receptionist).await; // a new day's sign-in
    let (_, list) = desk.get_json(&format!("/api/v1/communities/{}/follow-ups", t.c1)).await;
    assert_eq!(list["share"]["phone_left"], 0, "the new year has no follow-ups yet");
    let html = desk.get(&format!("/follow-ups/{}", a["id"])).await.text().await.unwrap();
    let share = html.split("id=\"record-share\">").nth(1).unwrap();
    let share = &share[..share.find("</p>").unwrap()];
    assert!(share.contains(&format!("{created} 年度")), "the task's own year: {share}");
    assert!(share.contains("还可电话回访 1"), "two tasks, 70%: one by phone: {share}");
    assert!(!html.contains("id=\"phone-full\""));
    let (st, r) =
        record(&desk, &a, json!({"method": "phone", "outcome": "satisfied", "content": "电话回访，业主满意"})).await;
    assert_eq!(st, 200, "the call is accepted, as the form said: {r}");
    // The year's one call is used: the other task's form says to go in person.
    let html = desk.get(&format!("/follow-ups/{}", b["id"])).await.text().await.unwrap();
    assert!(html.contains("id=\"phone-full\"") && html.contains("请上门回访"), "{html}");
}

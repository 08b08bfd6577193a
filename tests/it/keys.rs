//! Key custody (R-KEY-1 … R-KEY-8, R-MOV-6, R-DUTY-3) over HTTP, on both backends:
//! receipts, sign-outs and returns with both signatures, the owner's authorisation and
//! custody agreements, special rooms' approvals, the cabinet's seal and two-person opening,
//! the daily blind count and the incidents it opens, vacant units, and the sheet that
//! cannot be archived while its key is out.

use crate::harness::{Client, TestApp};
use crate::sheets::{SIGNATURE, act, register, setup};
use huiqian::app::notify;
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;
const PDF: &str = "data:application/pdf;base64,JVBERi0xLjQKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK";

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

fn names_field(e: &Value, field: &str) -> bool {
    e["error"]["fields"].as_array().is_some_and(|f| f.iter().any(|x| x["field"] == field))
}

async fn me_id(c: &Client) -> i64 {
    c.get_json("/api/v1/me").await.1["user"]["id"].as_i64().unwrap()
}

async fn cabinet(t: &TestApp) -> i64 {
    let m = t.as_role(Role::CsManager).await;
    let (s, v) = m
        .post_json(
            &format!("/api/v1/communities/{}/key-cabinets", t.c1),
            &json!({"name": "前台钥匙柜", "location": "客服中心"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().unwrap()
}

fn receipt(quantity: i64) -> Value {
    json!({"deliverer_name": "李建国", "deliverer_department": "工程部", "quantity": quantity, "signature": SIGNATURE})
}

/// A key set on the cabinet: `(tag, room_no or room, special, basis, keys)`.
#[allow(clippy::too_many_arguments)]
async fn key(c: &Client, t: &TestApp, cab: i64, tag: &str, room: &str, special: &str, basis: &str, n: i64) -> Value {
    let (room_no, room) = if room.contains('-') { (room, "") } else { ("", room) };
    let body = json!({"cabinet_id": cab, "tag": tag, "hook": "A-01", "room_no": room_no, "room": room, "special": special, "basis": basis, "receipt": receipt(n)});
    let (s, v) = c.post_json(&format!("/api/v1/communities/{}/keys", t.c1), &body).await;
    assert_eq!(s, 201, "{v}");
    v
}

fn sign_out_body(k: &Value, extra: Value) -> Value {
    let mut b = json!({"version": k["key"]["version"], "quantity": 1, "reason_kind": "inspection", "reason": "空置房季度巡查",
        "due_at": 0, "taker_kind": "staff", "signature": SIGNATURE});
    for (key, v) in extra.as_object().unwrap() {
        b[key] = v.clone();
    }
    b
}

async fn sign_out(c: &Client, t: &TestApp, k: &Value, extra: Value) -> (u16, Value) {
    let mut b = sign_out_body(k, extra);
    if b["due_at"] == 0 {
        b["due_at"] = json!(t.now() + 2 * HOUR);
    }
    c.post_json(&format!("/api/v1/keys/{}/sign-outs", k["key"]["id"]), &b).await
}

/// The taker brings one key of `loan` back in person and signs; `extra` adds to the form.
async fn give_back(c: &Client, loan: &Value, who: &str, extra: Value) -> (u16, Value) {
    let mut b = json!({"version": loan["version"], "quantity": 1, "returner_name": who, "signature": SIGNATURE});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    c.post_json(&format!("/api/v1/key-sign-outs/{}/returns", loan["id"]), &b).await
}

async fn detail(c: &Client, id: &Value) -> Value {
    c.get_json(&format!("/api/v1/keys/{id}")).await.1
}

/// R-KEY-1: a key set is received with who brought it, from where, how many and their
/// signature, the receiver named; a form missing the signature changes nothing and says
/// which field.
#[tokio::test]
async fn r_key_1_keys_are_received_signed_and_a_bad_form_changes_nothing() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let before = t.audit_count().await;
    let mut bad = json!({"cabinet_id": cab, "tag": "K-0001", "room_no": "3-2-1502", "basis": "vacant_unit", "receipt": receipt(2)});
    bad["receipt"]["signature"] = json!("");
    let (s, e) = desk.post_json(&format!("/api/v1/communities/{}/keys", t.c1), &bad).await;
    assert_eq!(s, 422, "{e}");
    assert!(names_field(&e, "signature"), "{e}");
    assert_eq!((t.count("key_sets").await, t.audit_count().await), (0, before), "nothing written");

    let k = key(&desk, &t, cab, "K-0001", "3-2-1502", "", "vacant_unit", 2).await;
    assert_eq!((k["key"]["total"].as_i64(), k["on_hook"].as_i64()), (Some(2), Some(2)));
    let r = &k["receipts"][0];
    assert_eq!((r["deliverer_name"].as_str(), r["deliverer_department"].as_str()), (Some("李建国"), Some("工程部")));
    assert_eq!(r["received_by"].as_i64(), Some(me_id(&desk).await));
    // A second tag of the same number is refused at its field.
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/communities/{}/keys", t.c1),
            &json!({"cabinet_id": cab, "tag": "K-0001", "room": "天台", "basis": "public_room", "receipt": receipt(1)}),
        )
        .await;
    assert!(s == 422 && names_field(&e, "tag"), "{e}");
    // More keys delivered later add to the books, at the key's version.
    let (s, k2) = desk
        .post_json(&format!("/api/v1/keys/{}/receipts", k["key"]["id"]), &{
            let mut b = receipt(1);
            b["version"] = k["key"]["version"].clone();
            b
        })
        .await;
    assert_eq!(s, 201, "{k2}");
    assert_eq!(k2["key"]["total"].as_i64(), Some(3));
    let (s, e) = desk
        .post_json(&format!("/api/v1/keys/{}/receipts", k["key"]["id"]), &{
            let mut b = receipt(1);
            b["version"] = k["key"]["version"].clone();
            b
        })
        .await;
    assert_eq!((s, code(&e)), (409, "stale_version"), "a second desk working from the same page gets a conflict");
}

/// R-KEY-3, R-KEY-4: keys leave only for work, signed by the taker and confirmed by
/// another member of staff; one open sign-out at a time; a partial return stays open and
/// flagged; keys come back from the taker in person.
#[tokio::test]
async fn r_key_3_sign_out_and_return_with_both_signatures_one_at_a_time() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let k = key(&desk, &t, cab, "K-0002", "3-2-1502", "", "vacant_unit", 2).await;
    let desk_id = me_id(&desk).await;

    let (s, e) = sign_out(&desk, &t, &k, json!({"taker_user_id": desk_id})).await;
    assert_eq!((s, code(&e)), (422, "key.issuer_is_taker"), "{e}");
    let (s, e) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "reason": " "})).await;
    assert!(s == 422 && names_field(&e, "reason"), "{e}");
    let (s, e) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "reason_kind": "repair"})).await;
    assert_eq!((s, code(&e)), (422, "key.sheet_required"), "{e}");
    let (s, e) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "signature": ""})).await;
    assert!(s == 422 && names_field(&e, "signature"), "{e}");
    assert_eq!(t.count("key_loans").await, 0, "refusals write nothing");

    let (s, out) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "quantity": 2})).await;
    assert_eq!(s, 201, "{out}");
    assert_eq!((out["on_hook"].as_i64(), out["key"]["loan_taker"].as_str()), (Some(0), Some("吴师傅")));
    // Never out twice, whatever the page showed.
    let (s, e) = sign_out(&desk, &t, &out, json!({"taker_user_id": tech})).await;
    assert_eq!((s, code(&e)), (422, "key.already_out"), "{e}");
    // The database itself refuses a second open sign-out.
    let dup = sqlx::query(
        "INSERT INTO key_loans (community_id, key_set_id, quantity, reason_kind, reason, taker_kind, taker_name, \
         taker_signature_id, issued_by, issued_at, due_at) SELECT community_id, key_set_id, 1, reason_kind, reason, \
         taker_kind, taker_name, taker_signature_id, issued_by, issued_at, due_at FROM key_loans",
    )
    .execute(t.app.store.read())
    .await;
    assert!(dup.is_err(), "the unique index keeps one open sign-out per key set");

    let loan = &out["loans"][0];
    let (s, e) = give_back(&desk, loan, "张三", json!({})).await;
    assert_eq!((s, code(&e)), (422, "key.return_in_person"), "{e}");
    let (s, part) = give_back(&desk, loan, "吴师傅", json!({})).await;
    assert_eq!(s, 201, "{part}");
    let l = &part["loans"][0];
    assert!(l["closed_at"].is_null() && l["returned"] == 1, "a partial return stays open: {l}");
    assert_eq!(part["on_hook"].as_i64(), Some(1));
    let (s, done) = give_back(&desk, l, "吴师傅", json!({})).await;
    assert_eq!(s, 201, "{done}");
    assert!(done["loans"][0]["closed_at"].is_i64() && done["key"]["loan_id"].is_null());
    assert_eq!(done["loans"][0]["returns"].as_array().unwrap().len(), 2);
    // Every step is in the audit trail.
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('key.signed_out', 'key.returned')")
            .fetch_one(t.app.store.read())
            .await
            .unwrap();
    assert_eq!(n, 3);
}

/// R-KEY-3: a repair sheet cannot be archived while a key taken for it is still out.
#[tokio::test]
async fn r_key_3_a_sheet_is_not_archived_while_its_key_is_out() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let sheet = register(&desk, t.c1, "phone", "卫生间漏水，业主不在家").await;
    let k = key(&desk, &t, cab, "K-0003", "3-2-1502", "", "vacant_unit", 1).await;
    let (s, out) = sign_out(
        &desk,
        &t,
        &k,
        json!({"taker_user_id": tech, "reason_kind": "repair", "sheet_number": sheet["number"]}),
    )
    .await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(out["loans"][0]["sheet_number"], sheet["number"]);
    let (s, e) = act(&desk, &sheet, json!({"action": "archive"})).await;
    assert_eq!((s, code(&e)), (422, "sheet.key_out"), "{e}");
    // The sheet's page says which key is out for it, and with whom.
    let page = desk.get(&format!("/sheets/{}", sheet["id"])).await.text().await.unwrap();
    assert!(page.contains("id=\"sheet-keys\"") && page.contains("K-0003") && page.contains("吴师傅"), "{page}");
    let loan = &out["loans"][0];
    let (s, _) = give_back(&desk, loan, "吴师傅", json!({})).await;
    assert_eq!(s, 201);
    let (_, e) = act(&desk, &sheet, json!({"action": "archive"})).await;
    assert_ne!(code(&e), "sheet.key_out", "with the key back, only the sheet's own state decides: {e}");
}

/// R-KEY-5: someone other than the owner needs the owner's authorisation (a letter
/// attached) and, where the community asks for it, a recorded phone call with the owner,
/// whose number is kept masked.
#[tokio::test]
async fn r_key_5_someone_else_needs_the_owners_letter_and_a_phone_confirmation() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let k = key(&desk, &t, cab, "K-0005", "3-2-1502", "", "vacant_unit", 1).await;
    let other = json!({"taker_kind": "other", "taker_name": "赵强", "taker_phone": "13900001111", "reason_kind": "other_work", "reason": "业主委托开门测量"});
    let (s, e) = sign_out(&desk, &t, &k, other.clone()).await;
    assert_eq!((s, code(&e)), (422, "key.owner_authorisation_required"), "{e}");
    let mut letter = other.clone();
    letter["authorisation"] = json!("letter");
    letter["letter"] = json!(PDF);
    let (s, e) = sign_out(&desk, &t, &k, letter.clone()).await;
    assert_eq!((s, code(&e)), (422, "key.phone_confirmation_required"), "{e}");
    letter["phone_confirmed_number"] = json!("13812345678");
    let (s, out) = sign_out(&desk, &t, &k, letter).await;
    assert_eq!(s, 201, "{out}");
    let l = &out["loans"][0];
    assert_eq!(
        (l["authorisation"].as_str(), l["phone_confirmed_number"].as_str()),
        (Some("letter"), Some("138****5678"))
    );
    assert_eq!(l["taker_phone_masked"].as_str(), Some("139****1111"));
    assert!(l["letter_id"].is_i64());
    // The owner herself needs no authorisation; someone claiming to be her is not.
    let k2 = key(&desk, &t, cab, "K-0006", "3-2-1502", "", "vacant_unit", 1).await;
    let (s, e) =
        sign_out(&desk, &t, &k2, json!({"taker_kind": "owner", "taker_name": "李四", "reason_kind": "other_work"}))
            .await;
    assert!(s == 422 && names_field(&e, "taker_name"), "{e}");
    let (s, e) =
        sign_out(&desk, &t, &k2, json!({"taker_kind": "owner", "taker_name": "王秀英", "reason_kind": "other_work"}))
            .await;
    assert_eq!(s, 201, "{e}");
}

/// R-MOV-6: an owner's key in custody during renovation goes only within the agreement's
/// dates, to staff for the work it names, and to the people it authorises.
#[tokio::test]
async fn r_mov_6_the_custody_agreement_governs_who_takes_the_key() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let k = key(&desk, &t, cab, "K-0007", "3-2-1502", "", "custody_agreement", 1).await;
    let (s, e) =
        sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "reason_kind": "renovation", "reason": "装修巡查"}))
            .await;
    assert_eq!((s, code(&e)), (422, "key.agreement_required"), "{e}");
    let now = t.now();
    let (s, k) = desk
        .post_json(
            &format!("/api/v1/keys/{}/agreements", k["key"]["id"]),
            &json!({"owner_name": "王秀英", "starts_at": now - HOUR, "ends_at": now + 30 * 24 * HOUR, "scope": ["renovation", "emergency"],
                "people": [{"name": "陈工长", "relation": "装修负责人", "phone": "13700002222"}], "signature": SIGNATURE}),
        )
        .await;
    assert_eq!(s, 201, "{k}");
    let person = &k["agreements"][0]["people"][0];
    assert_eq!(person["phone_masked"].as_str(), Some("137****2222"));
    let (s, e) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "reason_kind": "inspection"})).await;
    assert_eq!((s, code(&e)), (422, "key.agreement_scope"), "{e}");
    let named = json!({"taker_kind": "other", "taker_name": "陈工长", "taker_phone": "13700002222", "reason_kind": "renovation",
        "reason": "进场施工", "authorisation": "agreement", "agreement_person_id": person["id"], "phone_confirmed_number": "13812345678"});
    let (s, out) = sign_out(&desk, &t, &k, named).await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(out["loans"][0]["agreement_person_id"], person["id"]);
    // After the agreement's end the key does not go.
    let loan = &out["loans"][0];
    let (_, back) = give_back(&desk, loan, "陈工长", json!({})).await;
    t.advance(31 * 24 * HOUR);
    let desk = t.as_role(Role::Receptionist).await;
    let (s, e) =
        sign_out(&desk, &t, &back, json!({"taker_user_id": tech, "reason_kind": "renovation", "reason": "装修巡查"}))
            .await;
    assert_eq!((s, code(&e)), (422, "key.agreement_not_in_force"), "{e}");
}

/// R-KEY-6: a special room's key leaves only with a department manager's approval, asked
/// for and given before; nobody approves his own request, and an approval serves once.
#[tokio::test]
async fn r_key_6_a_special_rooms_key_needs_a_managers_approval() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let k = key(&desk, &t, cab, "R-ROOF-3", "3号楼天台", "roof", "public_room", 1).await;
    let (s, e) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech})).await;
    assert_eq!((s, code(&e)), (422, "key.approval_required"), "{e}");
    // The manager asks for himself: he may not approve it.
    let (s, own) =
        manager.post_json(&format!("/api/v1/keys/{}/approvals", k["key"]["id"]), &json!({"reason": "查看屋面"})).await;
    assert_eq!(s, 201, "{own}");
    let (s, e) = manager
        .post_json(
            &format!("/api/v1/key-approvals/{}/decision", own["id"]),
            &json!({"version": own["version"], "approve": true}),
        )
        .await;
    assert_eq!((s, code(&e)), (422, "key.approve_own_request"), "{e}");
    // The desk asks; a receptionist cannot approve, the manager can, and is told.
    let (s, a) =
        desk.post_json(&format!("/api/v1/keys/{}/approvals", k["key"]["id"]), &json!({"reason": "屋面防水检查"})).await;
    assert_eq!(s, 201, "{a}");
    let (_, inbox) = manager.get_json("/api/v1/me/notifications").await;
    assert!(inbox.as_array().unwrap().iter().any(|n| n["kind"] == "key_approval_requested"), "{inbox}");
    let (s, _) = desk
        .post_json(
            &format!("/api/v1/key-approvals/{}/decision", a["id"]),
            &json!({"version": a["version"], "approve": true}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, a) = manager
        .post_json(
            &format!("/api/v1/key-approvals/{}/decision", a["id"]),
            &json!({"version": a["version"], "approve": true, "note": "注意安全"}),
        )
        .await;
    assert_eq!((s, a["state"].as_str()), (200, Some("approved")), "{a}");
    let (s, out) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "approval_id": a["id"]})).await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(out["loans"][0]["approval_id"], a["id"]);
    let loan = &out["loans"][0];
    let (_, back) = give_back(&desk, loan, "吴师傅", json!({})).await;
    let (s, e) = sign_out(&desk, &t, &back, json!({"taker_user_id": tech, "approval_id": a["id"]})).await;
    assert_eq!((s, code(&e)), (422, "key.approval_required"), "an approval serves one sign-out: {e}");
}

/// R-KEY-7: after hours the cabinet is sealed and no key leaves; at night it opens only with
/// two people together — a security officer and a member of another department — each with
/// their own password; in the morning a seal not as left opens an incident.
#[tokio::test]
async fn r_key_7_sealed_at_night_opened_by_two_people_and_checked_in_the_morning() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let k = key(&desk, &t, cab, "K-0008", "3-2-1502", "", "vacant_unit", 1).await;
    let (_, c) = desk.get_json(&format!("/api/v1/key-cabinets/{cab}/log")).await;
    let (s, c) = desk
        .post_json(
            &format!("/api/v1/key-cabinets/{cab}/seal"),
            &json!({"version": c["cabinet"]["version"], "seal_no": "F-20261207"}),
        )
        .await;
    assert_eq!((s, c["state"].as_str()), (200, Some("sealed")), "{c}");
    let (s, e) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech})).await;
    assert_eq!((s, code(&e)), (422, "key.cabinet_sealed"), "{e}");

    let guard = t.users[&Role::SecurityOfficer].clone();
    let engineer = t.users[&Role::EngineeringDispatcher].clone();
    let opening = |a: &str, pa: &str, b: &str, pb: &str| json!({"version": c["version"], "reason": "3-2-1502 水管爆裂", "first_username": a, "first_password": pa, "second_username": b, "second_password": pb});
    let url = format!("/api/v1/key-cabinets/{cab}/night-opening");
    let pw = crate::harness::PASSWORD;
    let (s, e) = desk.post_json(&url, &opening(&guard, pw, &guard, pw)).await;
    assert_eq!((s, code(&e)), (422, "key.two_people"), "{e}");
    let (s, e) = desk.post_json(&url, &opening(&guard, pw, &engineer, "wrong-password")).await;
    assert!(s == 422 && names_field(&e, "second_password"), "{e}");
    let desk_name = t.users[&Role::Receptionist].clone();
    let tech_name = "tech_wu";
    let (s, e) = desk.post_json(&url, &opening(&desk_name, pw, tech_name, pw)).await;
    assert_eq!((s, code(&e)), (422, "key.night_roles"), "no security officer: {e}");
    let (s, opened) = desk.post_json(&url, &opening(&guard, pw, &engineer, pw)).await;
    assert_eq!((s, opened["state"].as_str()), (200, Some("night_open")), "{opened}");
    let (s, out) =
        sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "reason_kind": "emergency", "reason": "关闭进水阀"}))
            .await;
    assert_eq!(s, 201, "an emergency takes the key once the cabinet is open: {out}");
    // Sealed again, then opened in the morning with another seal number: an incident.
    let (_, c) = desk
        .post_json(
            &format!("/api/v1/key-cabinets/{cab}/seal"),
            &json!({"version": opened["version"], "seal_no": "F-20261208"}),
        )
        .await;
    let (s, m) = desk
        .post_json(
            &format!("/api/v1/key-cabinets/{cab}/morning-opening"),
            &json!({"version": c["version"], "seal_seen": "F-20261299", "intact": true}),
        )
        .await;
    assert_eq!((s, m["state"].as_str()), (200, Some("open")), "{m}");
    let (_, incidents) = desk.get_json(&format!("/api/v1/communities/{}/key-incidents", t.c1)).await;
    assert!(incidents.as_array().unwrap().iter().any(|i| i["kind"] == "seal_broken"), "{incidents}");
    let (_, log) = desk.get_json(&format!("/api/v1/key-cabinets/{cab}/log")).await;
    let steps: Vec<&str> = log["log"].as_array().unwrap().iter().map(|l| l["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["opened_in_morning", "sealed", "opened_at_night", "sealed"]);
    let night = &log["log"][2];
    assert!(night["first_name"].is_string() && night["second_name"].is_string(), "{night}");
}

/// R-KEY-8: the count is blind (the form does not say what the books expect); each
/// difference and each key out beyond its return opens an incident, reported and then
/// resolved by a manager; confirmed lost, the keys leave the books; nothing is edited away.
#[tokio::test]
async fn r_key_8_the_blind_count_opens_incidents_that_are_reported_and_resolved() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let a = key(&desk, &t, cab, "K-0010", "3-2-1502", "", "vacant_unit", 3).await;
    let b = key(&desk, &t, cab, "K-0011", "机房", "plant", "public_room", 1).await;
    let c = key(&desk, &t, cab, "K-0012", "地下车库门", "", "public_room", 1).await;
    let (s, _) = sign_out(&desk, &t, &c, json!({"taker_user_id": tech, "due_at": t.now() + HOUR})).await;
    assert_eq!(s, 201);

    let (s, form) = desk.get_json(&format!("/api/v1/key-cabinets/{cab}/count")).await;
    assert_eq!(s, 200, "{form}");
    let text = form.to_string();
    assert!(!text.contains("expected") && !text.contains("total") && !text.contains("out_qty"), "blind: {text}");
    let lines = |x: i64| json!({"lines": [{"key_set_id": a["key"]["id"], "counted": x}, {"key_set_id": b["key"]["id"], "counted": 1}, {"key_set_id": c["key"]["id"], "counted": 0}]});
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/key-cabinets/{cab}/count"),
            &json!({"lines": [{"key_set_id": a["key"]["id"], "counted": 3}]}),
        )
        .await;
    assert!(s == 422 && names_field(&e, "lines"), "every hook is counted: {e}");

    // Two hours on, the car-park key is overdue and one of three unit keys is missing.
    t.advance(2 * HOUR);
    // Sessions end after 30 idle minutes: the evening shift signs in.
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let (s, r) = desk.post_json(&format!("/api/v1/key-cabinets/{cab}/count"), &lines(2)).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!((r["differences"].as_i64(), r["incidents"].as_array().unwrap().len()), (Some(1), 2), "{r}");
    let (_, inbox) = manager.get_json("/api/v1/me/notifications").await;
    assert!(inbox.as_array().unwrap().iter().any(|n| n["kind"] == "key_incident"), "the manager is told: {inbox}");
    // The scheduler finds nothing more to open: one overdue incident per sign-out.
    notify::tick(&t.app, t.now()).await.unwrap();
    assert_eq!(t.count("key_incidents").await, 2);

    let (_, list) = desk.get_json(&format!("/api/v1/communities/{}/key-incidents", t.c1)).await;
    let diff = list.as_array().unwrap().iter().find(|i| i["kind"] == "count_difference").unwrap().clone();
    assert_eq!((diff["expected"].as_i64(), diff["counted"].as_i64()), (Some(3), Some(2)));
    let resolve = |i: &Value, r: &str| json!({"version": i["version"], "resolution": r, "note": "查监控确认遗失，已告知业主并更换锁芯"});
    let (s, e) =
        manager.post_json(&format!("/api/v1/key-incidents/{}/resolve", diff["id"]), &resolve(&diff, "lost")).await;
    assert_eq!((s, code(&e)), (422, "key.incident_not_reported"), "{e}");
    let (s, _) =
        desk.post_json(&format!("/api/v1/key-incidents/{}/resolve", diff["id"]), &resolve(&diff, "lost")).await;
    assert_eq!(s, 403, "the desk reports; a manager resolves");
    let (s, rep) = desk
        .post_json(
            &format!("/api/v1/key-incidents/{}/report", diff["id"]),
            &json!({"version": diff["version"], "report": "已报客服部经理"}),
        )
        .await;
    assert_eq!(s, 200, "{rep}");
    let (s, done) =
        manager.post_json(&format!("/api/v1/key-incidents/{}/resolve", diff["id"]), &resolve(&rep, "lost")).await;
    assert_eq!((s, done["state"].as_str(), done["lost_qty"].as_i64()), (200, Some("resolved"), Some(1)), "{done}");
    let a2 = detail(&desk, &a["key"]["id"]).await;
    assert_eq!((a2["key"]["total"].as_i64(), a2["on_hook"].as_i64()), (Some(2), Some(2)), "the books lose the key");

    // The overdue key cannot be resolved as found while it is out.
    let over = list.as_array().unwrap().iter().find(|i| i["kind"] == "overdue").unwrap().clone();
    let (_, rep) = desk
        .post_json(
            &format!("/api/v1/key-incidents/{}/report", over["id"]),
            &json!({"version": over["version"], "report": "电话联系吴师傅未接"}),
        )
        .await;
    let (s, e) =
        manager.post_json(&format!("/api/v1/key-incidents/{}/resolve", over["id"]), &resolve(&rep, "found")).await;
    assert_eq!((s, code(&e)), (422, "key.still_out"), "{e}");
    // The register shows where every key is and what is overdue.
    let (_, reg) = desk.get_json(&format!("/api/v1/communities/{}/keys?where=overdue", t.c1)).await;
    assert_eq!(reg["keys"].as_array().unwrap().len(), 1, "{reg}");
    assert_eq!(reg["keys"][0]["tag"], "K-0012");
    assert_eq!(reg["overdue"].as_i64(), Some(1));
}

/// R-KEY-8: the scheduler opens an overdue incident without waiting for the count, once.
#[tokio::test]
async fn r_key_8_a_key_out_too_long_is_reported_by_the_scheduler_once() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let k = key(&desk, &t, cab, "K-0020", "3-2-1502", "", "vacant_unit", 1).await;
    let (s, _) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech, "due_at": t.now() + HOUR})).await;
    assert_eq!(s, 201);
    notify::tick(&t.app, t.now()).await.unwrap();
    assert_eq!(t.count("key_incidents").await, 0, "not yet due");
    t.advance(HOUR + 60_000);
    notify::tick(&t.app, t.now()).await.unwrap();
    notify::tick(&t.app, t.now()).await.unwrap();
    assert_eq!(t.count("key_incidents").await, 1);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'key_incident.opened'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// R-DUTY-3: vacant units are listed with their keys and last inspection; a key back from
/// an inspection records the condition found.
#[tokio::test]
async fn r_duty_3_vacant_units_show_their_keys_and_last_inspection() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let (_, units) = manager.get_json(&format!("/api/v1/communities/{}/units", t.c1)).await;
    let unit = units.as_array().unwrap().iter().find(|u| u["room_no"] == "3-2-1502").unwrap().clone();
    let (s, u) = manager
        .put_json(
            &format!("/api/v1/units/{}", unit["id"]),
            &json!({"version": unit["version"], "area": "89.5", "status": "vacant"}),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    let k = key(&desk, &t, cab, "K-0030", "3-2-1502", "", "vacant_unit", 1).await;
    let (_, out) = sign_out(&desk, &t, &k, json!({"taker_user_id": tech})).await;
    let loan = &out["loans"][0];
    let (s, e) = give_back(&desk, loan, "吴师傅", json!({"condition": "attention"})).await;
    assert!(s == 422 && names_field(&e, "condition_note"), "{e}");
    let (s, _) =
        give_back(&desk, loan, "吴师傅", json!({"condition": "attention", "condition_note": "阳台窗未关，已关好"}))
            .await;
    assert_eq!(s, 201);
    let (_, list) = desk.get_json(&format!("/api/v1/communities/{}/vacant-units", t.c1)).await;
    let v = &list[0];
    assert_eq!(
        (v["room_no"].as_str(), v["tag"].as_str(), v["on_hook"].as_i64()),
        (Some("3-2-1502"), Some("K-0030"), Some(1))
    );
    assert_eq!(
        (v["last_condition"].as_str(), v["last_note"].as_str()),
        (Some("attention"), Some("阳台窗未关，已关好"))
    );
}

/// R-MOV-6: the owner takes the keys back with every key on its hook; the agreement ends
/// and the key is no longer held: nothing more goes out.
#[tokio::test]
async fn r_mov_6_the_owner_takes_the_keys_back_and_the_agreement_ends() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let k = key(&desk, &t, cab, "K-0040", "3-2-1502", "", "custody_agreement", 2).await;
    let now = t.now();
    let (_, k) = desk
        .post_json(
            &format!("/api/v1/keys/{}/agreements", k["key"]["id"]),
            &json!({"owner_name": "王秀英", "starts_at": now - HOUR, "ends_at": now + 30 * 24 * HOUR, "scope": ["repair"], "signature": SIGNATURE}),
        )
        .await;
    let release =
        |k: &Value, who: &str| json!({"version": k["key"]["version"], "receiver_name": who, "signature": SIGNATURE});
    let url = format!("/api/v1/keys/{}/release", k["key"]["id"]);
    let (s, e) = desk.post_json(&url, &release(&k, "李四")).await;
    assert!(s == 422 && names_field(&e, "receiver_name"), "only the owner (or a person the agreement names): {e}");
    let (s, back) = desk.post_json(&url, &release(&k, "王秀英")).await;
    assert_eq!(s, 200, "{back}");
    assert_eq!((back["key"]["state"].as_str(), back["key"]["total"].as_i64()), (Some("released"), Some(0)));
    assert_eq!(
        back["agreements"][0]["agreement"]["state"].as_str().or(back["agreements"][0]["state"].as_str()),
        Some("ended")
    );
    let (s, e) = sign_out(&desk, &t, &back, json!({"taker_user_id": tech, "reason_kind": "repair"})).await;
    assert_eq!((s, code(&e)), (422, "key.released"), "{e}");
}

/// R-KEY-8: a cabinet not counted by the community's hour is brought to the desk, once.
#[tokio::test]
async fn r_key_8_a_cabinet_not_counted_by_the_hour_is_brought_to_the_desk_once() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    key(&desk, &t, cab, "K-0050", "3-2-1502", "", "vacant_unit", 1).await;
    let m = t.as_role(Role::CsManager).await;
    // Due by the hour it is now (community time): already late today.
    let zone: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let hour = chrono::Timelike::hour(&chrono::DateTime::from_timestamp_millis(t.now()).unwrap().with_timezone(&zone));
    let (s, st) = m
        .put_json(
            &format!("/api/v1/communities/{}/key-settings", t.c1),
            &json!({"version": 0, "phone_confirmation": true, "count_due_hour": hour}),
        )
        .await;
    assert_eq!(s, 200, "{st}");
    notify::tick(&t.app, t.now()).await.unwrap();
    notify::tick(&t.app, t.now()).await.unwrap();
    let (_, inbox) = desk.get_json("/api/v1/me/notifications").await;
    let due = inbox.as_array().unwrap().iter().filter(|n| n["kind"] == "key_count_due").count();
    assert_eq!(due, 1, "{inbox}");
    // Counted, nothing more is said today.
    let (_, form) = desk.get_json(&format!("/api/v1/key-cabinets/{cab}/count")).await;
    let lines: Vec<Value> = form["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!({"key_set_id": l["key_set_id"], "counted": 1}))
        .collect();
    let (s, _) = desk.post_json(&format!("/api/v1/key-cabinets/{cab}/count"), &json!({"lines": lines})).await;
    assert_eq!(s, 201);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'key_count_due'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    notify::tick(&t.app, t.now()).await.unwrap();
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'key_count_due'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(n, after);
}

/// A sign-out retried with the same `Idempotency-Key` (a dropped connection) gets the
/// first answer; one sign-out is written.
#[tokio::test]
async fn a_retried_sign_out_is_written_once() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let cab = cabinet(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let k = key(&desk, &t, cab, "K-0060", "3-2-1502", "", "vacant_unit", 1).await;
    let mut body = sign_out_body(&k, json!({"taker_user_id": tech}));
    body["due_at"] = json!(t.now() + HOUR);
    let send = || async {
        desk.http
            .post(desk.url(&format!("/api/v1/keys/{}/sign-outs", k["key"]["id"])))
            .header("x-csrf-token", &desk.csrf)
            .header("idempotency-key", "so-0060-1")
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let first = send().await;
    assert_eq!(first.status(), 201);
    let again = send().await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(t.count("key_loans").await, 1);
}

//! The key custody pages (R-KEY-1 … R-KEY-8, R-DUTY-3) as the desk and the managers use
//! them, on both backends: forms that keep what was typed and say why beside the field,
//! the blind count, the tag label, the sealed cabinet's forms, and the ledger's export.

use crate::harness::{Client, TestApp};
use crate::sheets::{SIGNATURE, setup};
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

async fn cabinet(t: &TestApp, m: &Client) -> i64 {
    let r = m
        .post_form(&format!("/communities/{}/key-cabinets", t.c1), &[("name", "前台钥匙柜"), ("location", "客服中心")])
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, v) = m.get_json(&format!("/api/v1/communities/{}/key-cabinets", t.c1)).await;
    v[0]["id"].as_i64().unwrap()
}

async fn new_key(t: &TestApp, desk: &Client, cab: i64, tag: &str, quantity: &str) -> (u16, String) {
    let cab = cab.to_string();
    let r = desk
        .post_form(
            &format!("/communities/{}/keys", t.c1),
            &[
                ("cabinet_id", &cab),
                ("tag", tag),
                ("hook", "B-07"),
                ("room_no", "3-2-1502"),
                ("basis", "vacant_unit"),
                ("deliverer_name", "李建国"),
                ("deliverer_department", "工程部"),
                ("quantity", quantity),
                ("signature", SIGNATURE),
            ],
        )
        .await;
    let s = r.status().as_u16();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (s, location.unwrap_or_default() + &r.text().await.unwrap())
}

async fn html(c: &Client, path: &str) -> String {
    let r = c.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// R-KEY-1 on the page: a refused receipt keeps what was typed and names the field; a good
/// one opens the key's page, and the register shows where the key is.
#[tokio::test]
async fn r_key_1_the_receipt_form_keeps_what_was_typed_and_the_register_shows_the_key() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let m = t.as_role(Role::CsManager).await;
    let desk = t.as_role(Role::Receptionist).await;
    let cab = cabinet(&t, &m).await;
    let (s, body) = new_key(&t, &desk, cab, "K-0101", "0").await;
    assert_eq!(s, 422);
    assert!(body.contains("K-0101") && body.contains("李建国"), "what was typed is kept");
    assert!(body.contains("id=\"err-quantity\""), "the error sits at its field");
    assert_eq!(t.count("key_sets").await, 0);
    let (s, location) = new_key(&t, &desk, cab, "K-0101", "2").await;
    assert_eq!(s, 303);
    assert!(location.starts_with("/keys/"), "{location}");
    let page = html(&desk, &location).await;
    assert!(page.contains("K-0101") && page.contains("3-2-1502") && page.contains("2 / 2"), "the key's books");
    for path in ["/keys".to_string(), format!("/communities/{}/keys", t.c1)] {
        let reg = html(&desk, &path).await;
        assert!(reg.contains("K-0101") && reg.contains("前台钥匙柜 · B-07"), "{path}");
    }
    let label = html(&desk, &format!("{location}/label")).await;
    assert!(label.contains("<svg") && label.contains("K-0101"), "the tag label carries a QR code");
}

/// R-KEY-8 on the page: the count form never shows what the books expect; a difference
/// submitted becomes an incident the incidents page lists, with its report form.
#[tokio::test]
async fn r_key_8_the_count_page_is_blind_and_a_difference_becomes_an_incident() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let m = t.as_role(Role::CsManager).await;
    let desk = t.as_role(Role::Receptionist).await;
    let cab = cabinet(&t, &m).await;
    let (_, location) = new_key(&t, &desk, cab, "K-0102", "3").await;
    let key: i64 = location.trim_start_matches("/keys/").parse().unwrap();
    let form = html(&desk, &format!("/key-cabinets/{cab}/count")).await;
    assert!(form.contains("K-0102") && form.contains(&format!("name=\"n-{key}\"")));
    assert!(!form.contains("value=\"3\"") && !form.contains(">3<"), "blind: the books' 3 is nowhere on the page");
    let field = format!("n-{key}");
    let r = desk.post_form(&format!("/key-cabinets/{cab}/count"), &[(field.as_str(), "x")]).await;
    assert_eq!(r.status(), 422, "a count that is not a number is refused at its field");
    let r = desk.post_form(&format!("/key-cabinets/{cab}/count"), &[(field.as_str(), "2")]).await;
    assert_eq!(r.status(), 200);
    let done = r.text().await.unwrap();
    assert!(done.contains("id=\"count-result\"") && done.contains("id=\"count-incidents\""), "{done}");
    let list = html(&desk, &format!("/communities/{}/key-incidents", t.c1)).await;
    assert!(list.contains("K-0102") && list.contains("清点差异") && list.contains("/report"), "the desk reports it");
    let reg = html(&desk, &format!("/communities/{}/keys", t.c1)).await;
    let tile = &reg[reg.find("id=\"tile-incidents\"").unwrap()..];
    assert!(tile[..tile.find("</a>").unwrap()].contains("<strong>1</strong>"), "the register counts it");
}

/// R-KEY-7 on the page: the cabinet is sealed with its number, the night opening's form
/// names the two people and never sends a password back, the morning opening checks it.
#[tokio::test]
async fn r_key_7_the_cabinet_page_seals_and_a_refused_night_opening_keeps_no_password() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let m = t.as_role(Role::CsManager).await;
    let desk = t.as_role(Role::Receptionist).await;
    let cab = cabinet(&t, &m).await;
    let (_, v) = desk.get_json(&format!("/api/v1/key-cabinets/{cab}/log")).await;
    let version = v["cabinet"]["version"].to_string();
    let r = desk.post_form(&format!("/key-cabinets/{cab}/seal"), &[("version", &version), ("seal_no", "F-0001")]).await;
    assert_eq!(r.status(), 303);
    let page = html(&desk, &format!("/communities/{}/key-cabinets", t.c1)).await;
    assert!(
        page.contains("F-0001")
            && page.contains(&format!("id=\"night-{cab}\""))
            && page.contains(&format!("id=\"morning-{cab}\""))
    );
    let (_, v) = desk.get_json(&format!("/api/v1/key-cabinets/{cab}/log")).await;
    let version = v["cabinet"]["version"].to_string();
    let guard = t.users[&Role::SecurityOfficer].clone();
    let r = desk
        .post_form(
            &format!("/key-cabinets/{cab}/night-opening"),
            &[
                ("version", &version),
                ("reason", "漏水抢修"),
                ("first_username", &guard),
                ("first_password", "secret-typed-1"),
                ("second_username", "nobody"),
                ("second_password", "secret-typed-2"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(!body.contains("secret-typed-1") && !body.contains("secret-typed-2"), "passwords are never sent back");
    assert!(body.contains(&guard) && body.contains("漏水抢修"), "the rest is kept");
    let r = desk
        .post_form(
            &format!("/key-cabinets/{cab}/morning-opening"),
            &[("version", &version), ("seal_seen", "F-0001"), ("intact", "1")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, v) = desk.get_json(&format!("/api/v1/key-cabinets/{cab}/log")).await;
    assert_eq!(v["cabinet"]["state"], "open");
}

/// The key ledger (钥匙收发本) lists the month's sign-outs with their returns and exports them.
#[tokio::test]
async fn r_key_3_the_ledger_lists_and_exports_the_months_sign_outs() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let m = t.as_role(Role::CsManager).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (tech, _) = t.staff("tech_wu", "吴师傅", Role::Technician).await;
    let cab = cabinet(&t, &m).await;
    let (_, location) = new_key(&t, &desk, cab, "K-0103", "1").await;
    let (_, k): (u16, Value) = desk.get_json(&format!("/api/v1{location}")).await;
    let (s, out) = desk
        .post_json(
            &format!("/api/v1{location}/sign-outs"),
            &json!({"version": k["key"]["version"], "quantity": 1, "reason_kind": "inspection", "reason": "空置房巡查",
                "due_at": t.now() + 3_600_000, "taker_kind": "staff", "taker_user_id": tech, "signature": SIGNATURE}),
        )
        .await;
    assert_eq!(s, 201, "{out}");
    let page = html(&desk, &format!("/communities/{}/key-ledger", t.c1)).await;
    assert!(page.contains("K-0103") && page.contains("吴师傅") && page.contains("巡查验房"), "{page}");
    let csv = desk.get(&format!("/communities/{}/key-ledger?format=csv", t.c1)).await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(text.contains("K-0103") && text.contains("吴师傅"), "{text}");
    // A technician has no key register.
    let tc = t.client("tech_wu").await;
    assert_eq!(tc.get(&format!("/communities/{}/keys", t.c1)).await.status(), 403);
}

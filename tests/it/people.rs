//! Owners and residents: masked personal data, encrypted at rest, exact lookup by keyed
//! hash (R-ARC-1, foundation §6).

use crate::harness::TestApp;
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

async fn setup(t: &TestApp) -> crate::harness::Client {
    let m = t.as_role(Role::CsManager).await;
    m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": "3"})).await;
    m.post_json(&format!("/api/v1/communities/{}/units", t.c1), &json!({"room_no": "3-2-1502", "area": "89.5"})).await;
    m
}

/// R-ARC-1: phone and ID numbers are masked everywhere and the ID is encrypted at rest.
#[tokio::test]
async fn r_arc_1_personal_data_is_masked_and_encrypted() {
    let t = TestApp::spawn().await;
    let _ = setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (s, p) = desk
        .post_json(
            &format!("/api/v1/communities/{}/persons", t.c1),
            &json!({"name": "王秀英", "phone": "138 1234 5678", "id_number": "11010519491231002X", "employer": "北京市朝阳区某某科技有限公司", "address": "北京市朝阳区望京西园三区 301", "room_no": "3-2-1502", "relation": "owner"}),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["phone_masked"], "138****5678");
    assert_eq!(p["id_masked"], "110***********002X");
    let text = p.to_string();
    assert!(!text.contains("13812345678") && !text.contains("11010519491231002X"));
    assert!(!text.contains("望京西园"), "address masked: {text}");
    // At rest: nothing in the table holds the plain values.
    let row: (String, String, String) = sqlx::query_as("SELECT id_enc, phone_enc, address_enc FROM persons")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert!(!row.0.contains("1101051949") && !row.1.contains("1381234") && !row.2.contains("望京"));
    // The audit trail keeps the masked values only.
    let changes: Vec<String> = sqlx::query_scalar("SELECT changes FROM audit_log WHERE action = 'person.created'")
        .fetch_all(t.app.store.read())
        .await
        .unwrap();
    assert!(changes.iter().all(|c| !c.contains("13812345678") && !c.contains("11010519491231002X")));
    assert!(changes[0].contains("138****5678"));
    // The unit lists its owner.
    let (_, units) = desk.get_json(&format!("/api/v1/communities/{}/units?room=3-2", t.c1)).await;
    let uid = units[0]["id"].as_i64().unwrap();
    let (_, occ) = desk.get_json(&format!("/api/v1/units/{uid}/occupants")).await;
    assert_eq!(occ[0]["person_name"], "王秀英");
    assert_eq!(occ[0]["relation"], "owner");
}

/// Exact lookup by phone or ID number, and the desk's last-four-digits question.
#[tokio::test]
async fn lookup_by_phone_id_number_last_four_and_name() {
    let t = TestApp::spawn().await;
    let _ = setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    for (name, phone, id) in
        [("王秀英", "13812345678", "11010519491231002X"), ("李建国", "13998765678", ""), ("王强", "15000001111", "")]
    {
        let (s, _) = desk
            .post_json(
                &format!("/api/v1/communities/{}/persons", t.c1),
                &json!({"name": name, "phone": phone, "id_number": id}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let q = |q: &str| {
        let desk = &desk;
        let path = format!("/api/v1/communities/{}/persons?q={}", t.c1, urlencode(q));
        async move {
            let (_, v) = desk.get_json(&path).await;
            v.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(q("138-1234-5678").await, vec!["王秀英"]);
    assert_eq!(q("11010519491231002x").await, vec!["王秀英"]);
    let mut last4 = q("5678").await;
    last4.sort();
    assert_eq!(last4, vec!["李建国", "王秀英"]);
    let mut wang = q("王").await;
    wang.sort();
    assert_eq!(wang, vec!["王强", "王秀英"]);
    // Another community's staff cannot search this one.
    assert_eq!(desk.get_json(&format!("/api/v1/communities/{}/persons?q=5678", t.c2)).await.0, 404);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Bad input names the field and the reason, in the user's language, and writes nothing.
#[tokio::test]
async fn bad_phone_and_id_number_are_refused_with_reasons() {
    let t = TestApp::spawn().await;
    let desk = t.as_role(Role::Receptionist).await;
    let before = t.count("persons").await;
    let (s, e) = desk
        .post_json(
            &format!("/api/v1/communities/{}/persons", t.c1),
            &json!({"name": "张三", "phone": "1381234567", "id_number": "110105194912310021"}),
        )
        .await;
    assert_eq!(s, 422);
    let f: Vec<(String, String)> = e["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().into(), f["code"].as_str().unwrap().into()))
        .collect();
    assert!(f.contains(&("phone".into(), "phone.mobile_length".into())), "{f:?}");
    assert!(f.contains(&("id_number".into(), "id_number.bad_check_digit".into())), "{f:?}");
    let zh = e["error"]["fields"][0]["message"].as_str().unwrap();
    assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "Chinese message: {zh}");
    assert_eq!(t.count("persons").await, before);
    // Passport and Hong Kong/Macao permits are other document types.
    let (s, p) = desk
        .post_json(
            &format!("/api/v1/communities/{}/persons", t.c1),
            &json!({"name": "John Smith", "id_kind": "passport", "id_number": "E12345678"}),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let (s, _) = desk
        .post_json(
            &format!("/api/v1/communities/{}/persons", t.c1),
            &json!({"name": "陈大文", "id_kind": "hk_macao_permit", "id_number": "H12345678"}),
        )
        .await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn editing_keeps_unchanged_personal_data_and_detects_conflicts() {
    let t = TestApp::spawn().await;
    let desk = t.as_role(Role::Receptionist).await;
    let (_, p) = desk
        .post_json(&format!("/api/v1/communities/{}/persons", t.c1), &json!({"name": "王秀英", "phone": "13812345678"}))
        .await;
    let id = p["id"].as_i64().unwrap();
    let (s, p2) = desk
        .put_json(
            &format!("/api/v1/persons/{id}"),
            &json!({"version": p["version"], "name": "王秀英", "note": "腿脚不便，上门优先"}),
        )
        .await;
    assert_eq!(s, 200, "{p2}");
    assert_eq!(p2["phone_masked"], "138****5678", "an empty phone field keeps the stored number");
    let (s, _) =
        desk.put_json(&format!("/api/v1/persons/{id}"), &json!({"version": p["version"], "name": "王秀"})).await;
    assert_eq!(s, 409);
    // Deactivated, never deleted.
    let (s, p3) = desk
        .put_json(
            &format!("/api/v1/persons/{id}"),
            &json!({"version": p2["version"], "name": "王秀英", "active": false}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(p3["active"], 0);
    let v: Value = desk.get_json(&format!("/api/v1/persons/{id}")).await.1;
    assert_eq!(v["person"]["name"], "王秀英");
}

/// Family members, tenants and agents relate to units too; moving out ends the relation.
#[tokio::test]
async fn occupancies_owner_family_tenant_agent() {
    let t = TestApp::spawn().await;
    let _ = setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (_, units) = desk.get_json(&format!("/api/v1/communities/{}/units", t.c1)).await;
    let uid = units[0]["id"].as_i64().unwrap();
    let mut ids = vec![];
    for name in ["王秀英", "王小明", "赵租客"] {
        let (_, p) = desk.post_json(&format!("/api/v1/communities/{}/persons", t.c1), &json!({"name": name})).await;
        ids.push(p["id"].as_i64().unwrap());
    }
    for (pid, rel) in ids.iter().zip(["owner", "family", "tenant"]) {
        let (s, _) = desk
            .post_json(
                &format!("/api/v1/units/{uid}/occupants"),
                &json!({"person_id": pid, "relation": rel, "since": "2024年3月1日"}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, _) = desk
        .post_json(&format!("/api/v1/units/{uid}/occupants"), &json!({"person_id": ids[0], "relation": "owner"}))
        .await;
    assert_eq!(s, 409);
    let (_, occ) = desk.get_json(&format!("/api/v1/units/{uid}/occupants")).await;
    assert_eq!(occ.as_array().unwrap().len(), 3);
    assert_eq!(occ[0]["since"], "2024-03-01");
    let tenant = occ.as_array().unwrap().iter().find(|o| o["relation"] == "tenant").unwrap();
    let (s, ended) = desk
        .post_json(
            &format!("/api/v1/occupancies/{}/end", tenant["id"]),
            &json!({"version": tenant["version"], "until": "2026-10-31"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(ended["active"], 0);
    assert_eq!(ended["until"], "2026-10-31");
}

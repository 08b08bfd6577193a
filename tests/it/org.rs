//! Communities, buildings, units, departments (foundation §2), optimistic locking and
//! idempotent creates.

use crate::harness::TestApp;
use huiqian::domain::auth::Role;
use serde_json::json;

#[tokio::test]
async fn a_new_community_has_the_manuals_departments_and_shanghai_time() {
    let t = TestApp::spawn().await;
    let admin = t.as_role(Role::SystemAdmin).await;
    // A community-level administrator cannot create communities: that is company-wide.
    let (s, _) =
        admin.post_json("/api/v1/communities", &json!({"company_id": t.company, "code": "XY", "name": "新园"})).await;
    assert_eq!(s, 403);
    huiqian::app::auth::grant_role(&t.app, &t.cli(), admin_id(&t).await, None, Role::SystemAdmin, None, false)
        .await
        .unwrap();
    let (s, c) =
        admin.post_json("/api/v1/communities", &json!({"company_id": t.company, "code": "xy", "name": "新园"})).await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["timezone"], "Asia/Shanghai");
    assert_eq!(c["code"], "XY");
    let (_, deps) = admin.get_json(&format!("/api/v1/communities/{}/departments", c["id"])).await;
    let kinds: Vec<&str> = deps.as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for k in [
        "customer_service",
        "engineering",
        "security",
        "finance",
        "cleaning",
        "greening",
        "administration",
        "director_office",
    ] {
        assert!(kinds.contains(&k), "{k} missing");
    }
    let (s, e) = admin
        .post_json(
            "/api/v1/communities",
            &json!({"company_id": t.company, "code": "ZZ", "name": "错园", "timezone": "Mars/Base"}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["fields"][0]["field"], "timezone");
}

/// A time zone is checked when it is written; one that is not an IANA name but reached
/// the database anyway (edited by hand) is an error where days are counted in it, never
/// quietly Asia/Shanghai.
#[tokio::test]
async fn an_unknown_stored_zone_is_an_error_not_shanghai() {
    let t = TestApp::spawn().await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let (_, c) = admin.get_json(&format!("/api/v1/communities/{}", t.c1)).await;
    let edit = json!({"version": c["version"], "company_id": t.company, "code": c["code"], "name": c["name"], "timezone": "Mars/Olympus_Mons"});
    let (s, e) = admin.put_json(&format!("/api/v1/communities/{}", t.c1), &edit).await;
    assert_eq!((s, e["error"]["fields"][0]["code"].as_str()), (422, Some("timezone.unknown")), "{e}");

    sqlx::query("UPDATE communities SET timezone = 'Mars/Olympus_Mons' WHERE id = $1")
        .bind(t.c1)
        .execute(t.app.store.read())
        .await
        .unwrap();
    t.app.store.forget_zone(t.c1);
    let e = t.app.store.community_zone(t.c1).await.unwrap_err();
    assert!(
        matches!(&e, huiqian::store::StoreError::UnknownZone { community, zone } if *community == t.c1 && zone == "Mars/Olympus_Mons"),
        "{e}"
    );
    let director = t.as_role(Role::CentreDirector).await;
    let (s, body) = director.get_json(&format!("/api/v1/communities/{}/weekly-report", t.c1)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (500, Some("internal")), "{body}");
    assert_eq!(t.app.store.community_zone(t.c2).await.unwrap(), Some(chrono_tz::Asia::Shanghai));
}

async fn admin_id(t: &TestApp) -> i64 {
    let mut c = t.app.store.read().acquire().await.unwrap();
    huiqian::store::auth::user_by_name(&mut c, "u_system_admin").await.unwrap().unwrap().id
}

#[tokio::test]
async fn buildings_and_units_with_validation_in_the_users_language() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let (s, b) =
        m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": "3号楼", "floors": 18})).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["code"], "3");
    let (s, u) = m
        .post_json(
            &format!("/api/v1/communities/{}/units", t.c1),
            &json!({"room_no": "3号楼2单元1502", "area": "89.5", "status": "occupied"}),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(u["room_no"], "3-2-1502");
    assert_eq!(u["floor"], 15);
    assert_eq!(u["area_centi"], 8950);
    // Bad input: every field named, nothing written.
    let before = t.count("units").await;
    let (s, e) = m
        .post_json(
            &format!("/api/v1/communities/{}/units", t.c1),
            &json!({"room_no": "3-2-15x2", "area": "89.555", "status": "demolished"}),
        )
        .await;
    assert_eq!(s, 422);
    let fields: Vec<&str> =
        e["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields.len(), 3, "{e}");
    assert!(fields.contains(&"room_no") && fields.contains(&"area") && fields.contains(&"status"));
    assert!(e["error"]["fields"].as_array().unwrap().iter().all(|f| !f["message"].as_str().unwrap().is_empty()));
    assert_eq!(t.count("units").await, before);
    // Unknown building.
    let (s, e) =
        m.post_json(&format!("/api/v1/communities/{}/units", t.c1), &json!({"room_no": "7-1-101", "area": "60"})).await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["fields"][0]["code"], "building.unknown");
    // Duplicate room.
    let (s, e) = m
        .post_json(&format!("/api/v1/communities/{}/units", t.c1), &json!({"room_no": "3-2-1502", "area": "60"}))
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["fields"][0]["code"], "unit.room_taken");
}

/// Two people editing the same unit: the second gets a conflict, not a silent overwrite.
#[tokio::test]
async fn concurrent_edits_conflict_instead_of_overwriting() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let d = t.as_role(Role::CentreDirector).await;
    m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": "1"})).await;
    let (_, u) =
        m.post_json(&format!("/api/v1/communities/{}/units", t.c1), &json!({"room_no": "1-1-101", "area": "70"})).await;
    let id = u["id"].as_i64().unwrap();
    let v = u["version"].as_i64().unwrap();
    let (s, _) =
        m.put_json(&format!("/api/v1/units/{id}"), &json!({"version": v, "area": "71", "status": "occupied"})).await;
    assert_eq!(s, 200);
    let (s, e) =
        d.put_json(&format!("/api/v1/units/{id}"), &json!({"version": v, "area": "99", "status": "vacant"})).await;
    assert_eq!(s, 409);
    assert_eq!(e["error"]["code"], "stale_version");
    let (_, now) = m.get_json(&format!("/api/v1/units/{id}")).await;
    assert_eq!(now["area_centi"], 7100);
    assert_eq!(now["status"], "occupied");
}

/// A retried create (double-click, timeout) with the same Idempotency-Key creates once.
#[tokio::test]
async fn retried_create_with_the_same_key_creates_once() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let path = format!("/api/v1/communities/{}/buildings", t.c1);
    let send = || m.http.post(m.url(&path)).header("idempotency-key", "k-123").json(&json!({"code": "5"})).send();
    let (a, b) = tokio::join!(send(), send());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.status(), 201);
    assert_eq!(b.status(), 201);
    let (ja, jb): (serde_json::Value, serde_json::Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(ja["id"], jb["id"]);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM buildings WHERE code = '5'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(n, 1);
    // A failed create does not keep the key: fixing the input and retrying works.
    let bad =
        m.http.post(m.url(&path)).header("idempotency-key", "k-9").json(&json!({"code": "!!"})).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    let good =
        m.http.post(m.url(&path)).header("idempotency-key", "k-9").json(&json!({"code": "9"})).send().await.unwrap();
    assert_eq!(good.status(), 201);
}

/// R-ROLE-2: nobody sees another community's data without a role there.
#[tokio::test]
async fn r_role_2_other_communities_are_invisible() {
    let t = TestApp::spawn().await;
    let r = t.as_role(Role::CsManager).await;
    let (_, list) = r.get_json("/api/v1/communities").await;
    let ids: Vec<i64> = list.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![t.c1]);
    assert_eq!(r.get_json(&format!("/api/v1/communities/{}", t.c2)).await.0, 404);
    assert_eq!(r.get_json(&format!("/api/v1/communities/{}/units", t.c2)).await.0, 404);
    let (s, _) = r.post_json(&format!("/api/v1/communities/{}/buildings", t.c2), &json!({"code": "1"})).await;
    assert_eq!(s, 403);
    assert_eq!(t.count("buildings").await, 0);
}

#[tokio::test]
async fn departments_are_edited_and_deactivated_not_deleted() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let (_, deps) = m.get_json(&format!("/api/v1/communities/{}/departments", t.c1)).await;
    let d = deps.as_array().unwrap().iter().find(|d| d["kind"] == "greening").unwrap().clone();
    let (s, d2) = m
        .put_json(
            &format!("/api/v1/departments/{}", d["id"]),
            &json!({"version": d["version"], "name": "绿化部（外包）", "active": false}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(d2["active"], 0);
    let (_, deps) = m.get_json(&format!("/api/v1/communities/{}/departments", t.c1)).await;
    assert_eq!(deps.as_array().unwrap().len(), 8);
}

/// Oversized or malformed bodies get a clear error in the API's shape; nothing is written.
#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_clearly() {
    let t = TestApp::spawn_with(|c| c.limits.max_body_bytes = 16 * 1024).await;
    let m = t.as_role(Role::CsManager).await;
    let big = "楼".repeat(20_000);
    let (s, e) =
        m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": "1", "name": big})).await;
    assert_eq!(s, 413);
    assert_eq!(e["error"]["code"], "too_large");
    let r = m
        .http
        .post(m.url(&format!("/api/v1/communities/{}/buildings", t.c1)))
        .header("content-type", "application/json")
        .body("{\"code\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "bad_json");
    let (s, e) = m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": 5})).await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["code"], "bad_json_data");
    assert!(e["error"]["message"].as_str().unwrap().contains("code"), "{e}");
    assert_eq!(t.count("buildings").await, 0);
}

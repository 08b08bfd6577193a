//! The audit trail: every write recorded in its transaction, append-only on both
//! backends, hash-chained so that verification finds tampering (R-SHEET-12, foundation §7).

use crate::harness::TestApp;
use huiqian::domain::auth::Role;
use serde_json::json;

#[tokio::test]
async fn r_sheet_12_every_write_is_audited_with_actor_role_and_request_id() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let r = m
        .http
        .post(m.url(&format!("/api/v1/communities/{}/buildings", t.c1)))
        .header("x-request-id", "req-abc-1")
        .json(&json!({"code": "8"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (actor, role, community, action, entity, rid, authority): (String, String, Option<i64>, String, String, String, String) = sqlx::query_as(
        "SELECT actor_name, actor_role, community_id, action, entity_type, request_id, authority FROM audit_log ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(t.app.store.read())
    .await
    .unwrap();
    assert_eq!(
        (actor.as_str(), role.as_str(), community, action.as_str(), entity.as_str()),
        ("u_cs_manager", "cs_manager", Some(t.c1), "building.created", "building")
    );
    assert_eq!(rid, "req-abc-1");
    assert_eq!(authority, format!("cs_manager@{}", t.c1));
}

#[tokio::test]
async fn r_sheet_12_the_trail_refuses_update_and_delete_in_the_database() {
    let t = TestApp::spawn().await;
    assert!(t.audit_count().await > 0);
    let pool = t.app.store.read();
    assert!(sqlx::query("UPDATE audit_log SET actor_name = 'someone else'").execute(pool).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_log").execute(pool).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_head").execute(pool).await.is_err());
}

#[tokio::test]
async fn verify_reports_altered_inserted_and_removed_entries() {
    let t = TestApp::spawn().await;
    let r = huiqian::app::audit::verify(&t.app).await.unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    let n = r.checked;
    assert!(n > 10);
    // Someone with database access drops the trigger and alters an entry.
    let pool = t.app.store.read();
    let drop = if crate::harness::backend() == "postgres" {
        "DROP TRIGGER audit_log_no_update ON audit_log"
    } else {
        "DROP TRIGGER audit_log_no_update"
    };
    sqlx::query(drop).execute(pool).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor_name = 'intruder' WHERE seq = 3").execute(pool).await.unwrap();
    let r = huiqian::app::audit::verify(&t.app).await.unwrap();
    assert!(r.problems.iter().any(|p| p.contains("entry 3 was altered")), "{:?}", r.problems);

    // Removed entries (from the middle and from the end).
    let t = TestApp::spawn().await;
    let pool = t.app.store.read();
    let drop = if crate::harness::backend() == "postgres" {
        "DROP TRIGGER audit_log_no_delete ON audit_log"
    } else {
        "DROP TRIGGER audit_log_no_delete"
    };
    sqlx::query(drop).execute(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 5").execute(pool).await.unwrap();
    let r = huiqian::app::audit::verify(&t.app).await.unwrap();
    assert!(r.problems.iter().any(|p| p.contains("missing")), "{:?}", r.problems);
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log").fetch_one(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = $1").bind(last).execute(pool).await.unwrap();
    let r = huiqian::app::audit::verify(&t.app).await.unwrap();
    assert!(r.problems.iter().any(|p| p.contains("removed")), "{:?}", r.problems);

    // An inserted (forged) entry.
    let t = TestApp::spawn().await;
    let pool = t.app.store.read();
    sqlx::query("INSERT INTO audit_log (seq, at, actor_name, action, entity_type, entity_id, changes, prev_hash, hash) VALUES (100000, 0, 'x', 'forged', 'x', '1', '{}', 'aa', 'bb')").execute(pool).await.unwrap();
    let r = huiqian::app::audit::verify(&t.app).await.unwrap();
    assert!(!r.ok());
}

#[tokio::test]
async fn managers_browse_and_filter_their_communities_trail_only() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": "1"})).await;
    let (s, list) = m.get_json(&format!("/api/v1/audit?community_id={}&action=building.created", t.c1)).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list.as_array().unwrap().iter().all(|e| e["community_id"] == t.c1));
    assert_eq!(m.get_json(&format!("/api/v1/audit?community_id={}", t.c2)).await.0, 403);
    let (_, all) = m.get_json("/api/v1/audit").await;
    assert!(all.as_array().unwrap().iter().all(|e| e["community_id"] == t.c1));
    let tech = t.as_role(Role::Technician).await;
    assert_eq!(tech.get_json("/api/v1/audit").await.0, 403);
    let html = m.get(&format!("/audit?community_id={}", t.c1)).await.text().await.unwrap();
    assert!(html.contains("building.created"));
}

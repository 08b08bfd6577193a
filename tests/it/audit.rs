//! The audit trail: every write recorded in its transaction, append-only on both
//! backends, hash-chained so that verification finds tampering (R-SHEET-12, foundation §7).

use crate::harness::TestApp;
use huiqian::app::audit::{self, Damage, VerifyReport};
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

fn drop_trigger(name: &str, table: &str) -> String {
    if crate::harness::backend() == "postgres" {
        format!("DROP TRIGGER {name} ON {table}")
    } else {
        format!("DROP TRIGGER {name}")
    }
}

async fn verify(t: &TestApp) -> VerifyReport {
    audit::verify(&t.app, &[]).await.unwrap()
}

fn has(r: &VerifyReport, damage: Damage, words: &str) -> bool {
    r.problems.iter().any(|p| p.damage == damage && p.text.contains(words))
}

#[tokio::test]
async fn verify_reports_altered_inserted_and_removed_entries() {
    let t = TestApp::spawn().await;
    let r = verify(&t).await;
    assert!(r.ok(), "{:?}", r.problems);
    assert!(r.checked > 10 && r.keyed == r.checked, "every entry is sealed with the key");
    // Someone with database access drops the trigger and alters an entry.
    let pool = t.app.store.read();
    sqlx::query(&drop_trigger("audit_log_no_update", "audit_log")).execute(pool).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor_name = 'intruder' WHERE seq = 3").execute(pool).await.unwrap();
    assert!(has(&verify(&t).await, Damage::Edit, "entry 3 was altered"));

    // Removed entries (from the middle and from the end).
    let t = TestApp::spawn().await;
    let pool = t.app.store.read();
    sqlx::query(&drop_trigger("audit_log_no_delete", "audit_log")).execute(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 5").execute(pool).await.unwrap();
    assert!(has(&verify(&t).await, Damage::Deletion, "missing"));
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log").fetch_one(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = $1").bind(last).execute(pool).await.unwrap();
    assert!(has(&verify(&t).await, Damage::Truncation, "removed"));

    // An inserted (forged) entry.
    let t = TestApp::spawn().await;
    let pool = t.app.store.read();
    sqlx::query("INSERT INTO audit_log (seq, at, actor_name, action, entity_type, entity_id, changes, prev_hash, hash) VALUES (100000, 0, 'x', 'forged', 'x', '1', '{}', 'aa', 'bb')").execute(pool).await.unwrap();
    assert!(!verify(&t).await.ok());
}

/// Point 10 of the security review: an entry forged with a recomputed SHA-256 and the
/// head moved on to it is caught, because the chain is keyed with a key the database
/// does not hold.
#[tokio::test]
async fn p10_a_forged_entry_with_a_recomputed_digest_is_caught() {
    for sealed_as in ["", "the real key id"] {
        let t = TestApp::spawn().await;
        let pool = t.app.store.read();
        let (seq, prev) = huiqian::store::audit::head(pool).await.unwrap();
        let key_id = if sealed_as.is_empty() { String::new() } else { t.app.secrets.audit().id().to_string() };
        let fields = huiqian::store::audit::EntryFields {
            at: 1,
            actor_user_id: None,
            actor_name: "admin",
            actor_role: "system_admin",
            community_id: Some(t.c1),
            action: "user.role_granted",
            entity_type: "user",
            entity_id: "1",
            changes: "{}",
            authority: "system_admin@1",
            request_id: "",
            covers: "",
        };
        let forged = huiqian::store::audit::chain_hash(&prev, seq + 1, &fields);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor_user_id, actor_name, actor_role, community_id, action, entity_type, \
             entity_id, changes, authority, request_id, prev_hash, hash, key_id, covers) \
             VALUES ($1, 1, NULL, 'admin', 'system_admin', $2, 'user.role_granted', 'user', '1', '{}', 'system_admin@1', '', $3, $4, $5, '')",
        )
        .bind(seq + 1)
        .bind(t.c1)
        .bind(&prev)
        .bind(&forged)
        .bind(&key_id)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq + 1)
            .bind(&forged)
            .execute(pool)
            .await
            .unwrap();
        let r = verify(&t).await;
        let caught = if sealed_as.is_empty() {
            has(&r, Damage::Insertion, "not sealed with the key")
        } else {
            has(&r, Damage::Edit, &format!("entry {} was altered", seq + 1))
        };
        assert!(caught, "sealed as {sealed_as:?}: {:?}", r.problems);
    }
}

/// Point 10: a truncated trail whose head was rolled back to an earlier entry passes the
/// chain's own checks; the checkpoints kept outside the database catch it.
#[tokio::test]
async fn p10_truncation_is_caught_against_the_checkpoints() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    for code in ["7", "8", "9"] {
        m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": code})).await;
    }
    let kept = audit::keep_checkpoint(&t.app).await.unwrap().expect("a new checkpoint");
    assert!(audit::keep_checkpoint(&t.app).await.unwrap().is_none(), "kept once until the trail moves on");
    let elsewhere = t.app.config.data.join("printed-checkpoint.txt");
    std::fs::write(&elsewhere, format!("{}\n", audit::checkpoint(&t.app).await.unwrap().line(&t.app))).unwrap();
    let r = audit::verify(&t.app, std::slice::from_ref(&elsewhere)).await.unwrap();
    assert!(r.ok() && r.checkpoints == 1, "{:?}", r.problems);
    // A superuser removes the last three entries and rolls the head back to match.
    let pool = t.app.store.read();
    sqlx::query(&drop_trigger("audit_log_no_delete", "audit_log")).execute(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq > $1").bind(kept.seq - 3).execute(pool).await.unwrap();
    let (seq, hash): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_one(pool).await.unwrap();
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(pool)
        .await
        .unwrap();
    let r = audit::verify(&t.app, &[]).await.unwrap();
    assert!(has(&r, Damage::Truncation, &format!("entry {}", kept.seq)), "{:?}", r.problems);
    // The same against the line kept elsewhere, with the data folder's file gone too.
    std::fs::remove_file(audit::checkpoint_file(&t.app)).unwrap();
    let r = audit::verify(&t.app, std::slice::from_ref(&elsewhere)).await.unwrap();
    assert!(has(&r, Damage::Truncation, "ends at"), "{:?}", r.problems);
    // A forged checkpoint line is not believed.
    std::fs::write(
        &elsewhere,
        format!("{} {} {} {}\n", kept.seq, kept.hash, t.app.secrets.audit().id(), "00".repeat(32)),
    )
    .unwrap();
    let r = audit::verify(&t.app, std::slice::from_ref(&elsewhere)).await.unwrap();
    assert!(has(&r, Damage::Unverifiable, "not a genuine checkpoint"), "{:?}", r.problems);
}

/// Point 10: the chain vouches for the sheets' histories: an edited, removed or inserted
/// sheet event is reported.
#[tokio::test]
async fn p10_sheet_events_are_covered_by_the_chain() {
    let t = TestApp::spawn().await;
    crate::sheets::setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let s = crate::sheets::register(&desk, t.c1, "phone", "楼道灯不亮").await;
    let id = s["id"].as_i64().unwrap();
    let r = verify(&t).await;
    assert!(r.ok() && r.events >= 1, "{:?}", r.problems);
    let pool = t.app.store.read();
    sqlx::query(&drop_trigger("sheet_events_no_update", "sheet_events")).execute(pool).await.unwrap();
    sqlx::query(&drop_trigger("sheet_events_no_delete", "sheet_events")).execute(pool).await.unwrap();
    sqlx::query(
        "UPDATE sheet_events SET at = at - 3600000, by_role = 'centre_director' WHERE sheet_id = $1 AND seq = 1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    assert!(has(&verify(&t).await, Damage::Edit, &format!("event 1 of sheet {id} was altered")));
    sqlx::query("INSERT INTO sheet_events (sheet_id, seq, at, by_user_id, by_role, name, data) SELECT sheet_id, 99, at, by_user_id, by_role, name, data FROM sheet_events WHERE sheet_id = $1 AND seq = 1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    assert!(has(&verify(&t).await, Damage::Insertion, &format!("event 99 of sheet {id}")));
    sqlx::query("DELETE FROM sheet_events WHERE sheet_id = $1 AND seq = 1").bind(id).execute(pool).await.unwrap();
    assert!(has(&verify(&t).await, Damage::Deletion, &format!("event 1 of sheet {id} is missing")));
}

/// Point 10: a trail from before keying (SHA-256 only) and sheet histories from before
/// the chain covered them are taken over at start-up: the first keyed entry seals the
/// events, and from then on rewriting the old part shows.
#[tokio::test]
async fn p10_an_upgraded_trail_is_sealed_and_then_protected() {
    let t = TestApp::spawn().await;
    crate::sheets::setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    crate::sheets::register(&desk, t.c1, "phone", "水管漏水").await;
    let pool = t.app.store.read();
    // Make the trail look as an older huiqian left it: unkeyed entries, no covers.
    sqlx::query(&drop_trigger("audit_log_no_update", "audit_log")).execute(pool).await.unwrap();
    let entries = huiqian::store::audit::page_in_order(pool, 0, 100_000).await.unwrap();
    let mut prev = huiqian::store::audit::GENESIS.to_string();
    for mut e in entries {
        e.covers = String::new();
        let h = huiqian::store::audit::chain_hash(&prev, e.seq, &e.fields());
        sqlx::query("UPDATE audit_log SET key_id = '', covers = '', prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&prev)
            .bind(&h)
            .bind(e.seq)
            .execute(pool)
            .await
            .unwrap();
        prev = h;
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&prev).execute(pool).await.unwrap();
    let r = verify(&t).await;
    assert!(has(&r, Damage::Insertion, "not vouched for"), "the old events are not covered yet: {:?}", r.problems);
    // Start-up seals them.
    audit::seal_on_upgrade(&t.app).await.unwrap();
    let r = verify(&t).await;
    assert!(r.ok() && r.keyed == 1 && r.events > 0, "{:?}", r.problems);
    // Rewriting the old, unkeyed part consistently no longer passes: the keyed entry
    // after it sealed its last hash.
    let entries = huiqian::store::audit::page_in_order(pool, 0, 100_000).await.unwrap();
    let mut prev = huiqian::store::audit::GENESIS.to_string();
    for mut e in entries.into_iter().filter(|e| e.key_id.is_empty()) {
        if e.seq == 1 {
            e.actor_name = "someone else".into();
        }
        let h = huiqian::store::audit::chain_hash(&prev, e.seq, &e.fields());
        sqlx::query("UPDATE audit_log SET actor_name = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
            .bind(&e.actor_name)
            .bind(&prev)
            .bind(&h)
            .bind(e.seq)
            .execute(pool)
            .await
            .unwrap();
        prev = h;
    }
    let r = verify(&t).await;
    let sealed_at: i64 =
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE key_id <> ''").fetch_one(pool).await.unwrap();
    assert!(has(&r, Damage::Insertion, &format!("entry {sealed_at} does not link")), "{:?}", r.problems);
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
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
    let table = &html[html.find("id=\"audit\"").unwrap()..];
    assert!(table.contains("新建楼栋"), "the action in words");
    assert!(!table.contains("building.created"), "not its stored code");
}

/// The audit page speaks to people: what was done in words, the sheet by its number with
/// a link, the actor by name with the role and community rather than `role@id`, what
/// changed as labelled lines with times in the community's zone, and the scheduler as the
/// system.
#[tokio::test]
async fn the_audit_page_reads_in_words() {
    use huiqian::app::notify;
    let t = TestApp::spawn().await;
    crate::sheets::setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let m = t.as_role(Role::CsManager).await;
    let body = json!({"kind": "other", "channel": "phone", "requester_name": "王秀英", "reason": "楼道灯不亮"});
    let (s, v) = desk.post_json(&format!("/api/v1/communities/{}/sheets", t.c1), &body).await;
    assert_eq!(s, 201, "{v}");
    let number = v["number"].as_str().unwrap().to_string();
    let id = v["id"].as_i64().unwrap();
    // A day and more later the scheduler has warned about the collection limit.
    notify::tick(&t.app, t.now() + 30 * 86_400_000).await.unwrap();
    let html = m.get(&format!("/audit?community_id={}", t.c1)).await.text().await.unwrap();
    let table = &html[html.find("id=\"audit\"").unwrap()..];
    assert!(table.contains(&format!("<a href=\"/sheets/{id}\">会签单 {number}</a>")), "{table}");
    let me = desk.get_json("/api/v1/me").await.1;
    let name = me["user"]["display_name"].as_str().unwrap().to_string();
    let (_, community) = desk.get_json(&format!("/api/v1/communities/{}", t.c1)).await;
    let place = community["name"].as_str().unwrap();
    assert!(table.contains(&format!("<td>{name}<br>")), "the actor by display name {name}: {table}");
    assert!(table.contains(&format!(" · {place}</small>")), "role and community in words: {table}");
    assert!(!table.contains(&format!("receptionist@{}", t.c1)), "not role@id: {table}");
    assert!(!table.contains("sheet #") && !table.contains("sheet.registered"), "{table}");
    assert!(
        table.contains("<dt>单号</dt><dd>") && table.contains("<dt>状态</dt>"),
        "changes as labelled lines: {table}"
    );
    assert!(!table.contains("{&quot;"), "no JSON: {table}");
    assert!(table.contains("<td>系统"), "the scheduler is the system: {table}");
    assert!(!table.contains(">scheduler<"), "{table}");
}

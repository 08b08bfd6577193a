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
    assert!(sqlx::query("DELETE FROM audit_chains").execute(pool).await.is_err());
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
        // The end of community 1's chain, and the next number in the trail.
        let (seq, prev): (i64, String) = sqlx::query_as("SELECT seq, hash FROM audit_chains WHERE chain = $1")
            .bind(t.c1)
            .fetch_one(pool)
            .await
            .unwrap();
        let number: i64 = sqlx::query_scalar("SELECT MAX(seq) + 1 FROM audit_log").fetch_one(pool).await.unwrap();
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
             entity_id, changes, authority, request_id, prev_hash, hash, key_id, covers, chain, chain_seq) \
             VALUES ($1, 1, NULL, 'admin', 'system_admin', $2, 'user.role_granted', 'user', '1', '{}', 'system_admin@1', '', $3, $4, $5, '', $2, $6)",
        )
        .bind(number)
        .bind(t.c1)
        .bind(&prev)
        .bind(&forged)
        .bind(&key_id)
        .bind(seq + 1)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("UPDATE audit_chains SET seq = $1, hash = $2 WHERE chain = $3")
            .bind(seq + 1)
            .bind(&forged)
            .bind(t.c1)
            .execute(pool)
            .await
            .unwrap();
        let r = verify(&t).await;
        let caught = if sealed_as.is_empty() {
            has(&r, Damage::Insertion, "not sealed with the key")
        } else {
            has(&r, Damage::Edit, &format!("entry {number} was altered"))
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
    let all = audit::keep_checkpoint(&t.app).await.unwrap();
    assert!(audit::keep_checkpoint(&t.app).await.unwrap().is_empty(), "kept once until the trail moves on");
    // One line per chain: the company's (chain 0) and each community's that has entries.
    let kept = all.iter().find(|c| c.chain == t.c1).expect("community 1's chain has a checkpoint").clone();
    assert!(all.iter().any(|c| c.chain == 0), "{all:?}");
    let elsewhere = t.app.config.data.join("printed-checkpoint.txt");
    let lines: String =
        audit::checkpoints(&t.app).await.unwrap().iter().map(|c| format!("{}\n", c.line(&t.app))).collect();
    std::fs::write(&elsewhere, lines).unwrap();
    let r = audit::verify(&t.app, std::slice::from_ref(&elsewhere)).await.unwrap();
    assert!(r.ok() && r.checkpoints == all.len() as i64, "{:?}", r.problems);
    // A superuser removes community 1's last three entries and rolls its head back to match.
    let pool = t.app.store.read();
    sqlx::query(&drop_trigger("audit_log_no_delete", "audit_log")).execute(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE chain = $1 AND chain_seq > $2")
        .bind(t.c1)
        .bind(kept.seq - 3)
        .execute(pool)
        .await
        .unwrap();
    let (seq, hash): (i64, String) =
        sqlx::query_as("SELECT chain_seq, hash FROM audit_log WHERE chain = $1 ORDER BY chain_seq DESC LIMIT 1")
            .bind(t.c1)
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("UPDATE audit_chains SET seq = $1, hash = $2 WHERE chain = $3")
        .bind(seq)
        .bind(&hash)
        .bind(t.c1)
        .execute(pool)
        .await
        .unwrap();
    let r = audit::verify(&t.app, &[]).await.unwrap();
    assert!(has(&r, Damage::Truncation, &format!("entry {} of community {}", kept.seq, t.c1)), "{:?}", r.problems);
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
    // One chain, numbered 1, 2, … as the older trail was.
    let mut last = 0;
    for mut e in entries {
        e.covers = String::new();
        assert_eq!(e.seq, last + 1, "a fresh trail is numbered without gaps");
        let h = huiqian::store::audit::chain_hash(&prev, e.seq, &e.fields());
        sqlx::query(
            "UPDATE audit_log SET key_id = '', covers = '', prev_hash = $1, hash = $2, chain = 0, chain_seq = NULL WHERE seq = $3",
        )
        .bind(&prev)
        .bind(&h)
        .bind(e.seq)
        .execute(pool)
        .await
        .unwrap();
        prev = h;
        last = e.seq;
    }
    sqlx::query(&drop_trigger("audit_chains_no_delete", "audit_chains")).execute(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_chains WHERE chain <> 0").execute(pool).await.unwrap();
    sqlx::query("UPDATE audit_chains SET seq = $1, hash = $2 WHERE chain = 0")
        .bind(last)
        .bind(&prev)
        .execute(pool)
        .await
        .unwrap();
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

/// ADR 2, chains per community: each community's entries form a chain of their own,
/// numbered from 1, and the company's entries (no community) chain 0. On PostgreSQL a
/// write in one community does not wait for an audited write of another that has not
/// committed yet, while a second write in the same community does (its chain's head is
/// taken); SQLite has one writer whatever the chain, so there only the chains are checked.
#[tokio::test]
async fn adr_2_each_community_has_its_own_chain_and_does_not_wait_on_another() {
    let t = TestApp::spawn().await;
    let pool = t.app.store.read();
    let m1 = t.as_role(Role::CsManager).await;
    let id =
        crate::harness::new_staff(&t.app, "c2_manager", "二区经理", crate::harness::PASSWORD, crate::harness::READY)
            .await;
    huiqian::app::auth::grant_role(&t.app, &t.cli(), id, Some(t.c2), Role::CsManager, None, false).await.unwrap();
    let m2 = t.client("c2_manager").await;
    assert_eq!(m1.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": "11"})).await.0, 201);
    assert_eq!(m2.post_json(&format!("/api/v1/communities/{}/buildings", t.c2), &json!({"code": "21"})).await.0, 201);
    for c in [t.c1, t.c2] {
        let places: Vec<i64> = sqlx::query_scalar("SELECT chain_seq FROM audit_log WHERE chain = $1 ORDER BY seq")
            .bind(c)
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(places, (1..=places.len() as i64).collect::<Vec<_>>(), "community {c}'s chain runs 1, 2, …");
        let strays: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE community_id = $1 AND chain <> $1")
            .bind(c)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(strays, 0, "every entry of community {c} is in its chain");
    }
    let r = verify(&t).await;
    assert!(r.ok(), "{:?}", r.problems);

    if crate::harness::backend() != "postgres" {
        return;
    }
    // A write of community 1 in progress: its chain's head is taken until it commits.
    let mut open = pool.begin().await.unwrap();
    sqlx::query("UPDATE audit_chains SET seq = seq WHERE chain = $1").bind(t.c1).execute(&mut *open).await.unwrap();
    let holder: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut *open).await.unwrap();
    let url = format!("/api/v1/communities/{}/buildings", t.c1);
    let same = tokio::spawn(async move { m1.post_json(&url, &json!({"code": "12"})).await.0 });
    // …and waits on that head (PostgreSQL shows it blocked by the open write).
    let mut waiting = 0i64;
    for _ in 0..600 {
        waiting = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) \
             AND query LIKE 'UPDATE audit_chains%'",
        )
        .bind(holder)
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, 1, "the second write of community 1 waits for its chain's head");
    // Community 2 writes and is answered while community 1's write is still open.
    let other = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        m2.post_json(&format!("/api/v1/communities/{}/buildings", t.c2), &json!({"code": "22"})),
    )
    .await
    .expect("a write in community 2 does not wait for community 1's");
    assert_eq!(other.0, 201);
    assert!(!same.is_finished(), "a second write in community 1 waits for the first to commit");
    open.commit().await.unwrap();
    assert_eq!(same.await.unwrap(), 201, "and goes through once it has");
    let r = verify(&t).await;
    assert!(r.ok(), "{:?}", r.problems);
}

/// ADR 2, upgrading: a trail written as one chain before the chains were split (its
/// `audit_head`, no chain columns) is taken over by the migration without rewriting an
/// entry: it becomes chain 0, verifies, and each community's next entries start their own
/// chains after it.
#[tokio::test]
async fn adr_2_a_single_chain_trail_from_before_migrates_and_goes_on() {
    let t = TestApp::spawn().await;
    let pg = crate::harness::backend() == "postgres";
    let m = t.as_role(Role::CsManager).await;
    m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": "31"})).await;
    let pool = t.app.store.read();
    // Put the trail back as the older huiqian kept it: one chain numbered by seq.
    sqlx::query(&drop_trigger("audit_log_no_update", "audit_log")).execute(pool).await.unwrap();
    let entries = huiqian::store::audit::page_in_order(pool, 0, 100_000).await.unwrap();
    let key = t.app.secrets.audit();
    let mut prev = huiqian::store::audit::GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1, "a fresh trail is numbered without gaps");
        let h = huiqian::store::audit::keyed_hash(key, &prev, e.seq, &e.fields());
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&prev)
            .bind(&h)
            .bind(e.seq)
            .execute(pool)
            .await
            .unwrap();
        prev = h;
    }
    let last = entries.len() as i64;
    let int = if pg { "BIGINT" } else { "INTEGER" };
    let mut undo = vec![
        "DROP INDEX audit_log_chain_place".to_string(),
        "ALTER TABLE audit_log DROP COLUMN chain_seq".into(),
        "ALTER TABLE audit_log DROP COLUMN chain".into(),
        format!(
            "CREATE TABLE audit_head (id {int} PRIMARY KEY CHECK (id = 1), seq {int} NOT NULL, hash TEXT NOT NULL)"
        ),
        format!("INSERT INTO audit_head (id, seq, hash) VALUES (1, {last}, '{prev}')"),
        "DROP TABLE audit_chains".into(),
        "DELETE FROM schema_migrations WHERE version = 24".into(),
    ];
    if pg {
        undo.insert(0, "ALTER TABLE audit_log ALTER COLUMN seq DROP IDENTITY".into());
    }
    for sql in undo {
        sqlx::query(&sql).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    assert_eq!(t.app.store.migrate().await.unwrap(), vec![24]);

    let heads = huiqian::store::audit::heads(pool).await.unwrap();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert_eq!((heads[0].chain, heads[0].seq, heads[0].hash.as_str()), (0, last, prev.as_str()));
    let r = verify(&t).await;
    assert!(r.ok() && r.checked == last, "the older trail is chain 0 as it was: {:?}", r.problems);
    // Work goes on: the communities' entries start their chains, the company's continue 0.
    m.post_json(&format!("/api/v1/communities/{}/buildings", t.c1), &json!({"code": "32"})).await;
    huiqian::app::org::create_company(&t.app, &t.cli(), "后来的物业公司").await.unwrap();
    let heads = huiqian::store::audit::heads(pool).await.unwrap();
    assert!(heads.iter().any(|h| h.chain == t.c1 && h.seq >= 1), "{heads:?}");
    assert!(heads.iter().any(|h| h.chain == 0 && h.seq > last), "{heads:?}");
    let r = verify(&t).await;
    assert!(r.ok() && r.checked > last, "{:?}", r.problems);
}

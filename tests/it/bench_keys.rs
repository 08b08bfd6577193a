//! The key benchmark's generator (`huiqian bench-data --key-sets N`): books that add up
//! (one open sign-out at most per key set, none overlapping another, each closed one
//! returned once), the register and the count form as the desk reads them, and a sign-out
//! and its return through the use-cases afterwards, on a sample the generator names.

use crate::harness::{fresh_database_url, test_config};
use huiqian::app::{App, audit, keys};
use huiqian::demo::bench::{self, Size};
use huiqian::demo::bench_keys::HOOKS;
use huiqian::store::keys::Where;
use sqlx::Row;
use std::collections::BTreeMap;

const SIGNATURE: &str = crate::sheets::SIGNATURE;

async fn count(app: &App, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(app.store.read()).await.unwrap()
}

#[tokio::test]
async fn generated_key_books_add_up_and_take_new_movements() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let app = huiqian::cli::open_with(test_config(dir.path(), &url), true).await.expect("open database");
    let size = Size { units: 2_000, residents: 3_000, communities: 2, sheets: 0 };
    let g = bench::generate_with_keys(&app, size, 1_000).await.unwrap();
    let k = &g.keys;
    assert_eq!((k.key_sets, k.cabinets), (1_000, 2 * 500usize.div_ceil(HOOKS)));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM key_sets").await, 1_000);
    // About three movements a key set a week while held: tens of thousands of sign-outs.
    assert!(k.loans > 40_000 && k.loans < 200_000, "{} sign-outs", k.loans);
    assert!((5..=80).contains(&k.open) && k.overdue >= 1, "{} out, {} overdue", k.open, k.overdue);
    assert!(k.in_force >= 5 && k.released > 50 && k.inspections > 1_000, "{k:?}");
    assert!(k.counts > 2 * 700 && k.count_lines > 1_000 && k.incidents > 20, "{k:?}");

    // The books: out_qty is the open sign-out; sign-outs of a key set never overlap; every
    // closed one was returned once; every overdue one has its incident open.
    let rows = sqlx::query("SELECT key_set_id, issued_at, closed_at FROM key_loans ORDER BY key_set_id, issued_at")
        .fetch_all(app.store.read())
        .await
        .unwrap();
    let mut by_key: BTreeMap<i64, Vec<(i64, Option<i64>)>> = BTreeMap::new();
    for r in rows {
        by_key.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
    }
    let out: BTreeMap<i64, i64> = sqlx::query("SELECT id, out_qty FROM key_sets")
        .fetch_all(app.store.read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let now = app.clock.now();
    for (key, loans) in &by_key {
        for w in loans.windows(2) {
            assert!(w[0].1.is_some_and(|closed| closed <= w[1].0), "key set {key}: {w:?}");
        }
        let open = loans.iter().filter(|l| l.1.is_none()).count() as i64;
        assert_eq!(open, out[key], "key set {key}");
        assert!(loans.iter().all(|l| l.0 <= now), "key set {key}: a sign-out in the future");
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM key_loans WHERE closed_at IS NOT NULL").await,
        count(&app, "SELECT COUNT(*) FROM key_returns").await
    );
    let overdue_without = count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM key_loans l WHERE l.closed_at IS NULL AND l.due_at < {now} AND NOT EXISTS \
             (SELECT 1 FROM key_incidents i WHERE i.loan_id = l.id AND i.kind = 'overdue' AND i.state = 'open')"
        ),
    )
    .await;
    assert_eq!(overdue_without, 0);

    // The register and the count form as the desk reads them.
    let desk_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bench_desk'")
        .fetch_one(app.store.read())
        .await
        .unwrap();
    let desk = huiqian::app::auth::cli_actor_for(&app, desk_id).await.unwrap();
    let c = g.communities[0];
    let all = keys::register(&app, &desk, c, Where::All, "", 50, 0).await.unwrap();
    assert_eq!((all.keys.len(), all.total), (50, 500));
    assert!(all.keys.windows(2).all(|w| w[0].tag < w[1].tag));
    // The total comes with the page, and alone past the last page.
    let past = keys::register(&app, &desk, c, Where::All, "", 50, 1_000).await.unwrap();
    assert_eq!((past.keys.len(), past.total), (0, 500));
    let found = keys::register(&app, &desk, c, Where::All, "K0001", 50, 0).await.unwrap();
    assert_eq!((found.keys.len(), found.total), (10, 10), "K00010 … K00019");
    assert!(all.pending_approvals >= 1 && all.open_incidents >= 1, "{} {}", all.pending_approvals, all.open_incidents);
    let out = keys::register(&app, &desk, c, Where::Out, "", 50, 0).await.unwrap();
    let open_here =
        count(&app, &format!("SELECT COUNT(*) FROM key_loans WHERE community_id = {c} AND closed_at IS NULL")).await;
    assert_eq!(out.total, open_here);
    assert!(out.keys.iter().all(|k| k.loan_id.is_some()));
    let cabinet = all.cabinets[0].id;
    let (_, lines) = keys::count_form(&app, &desk, cabinet).await.unwrap();
    let held =
        count(&app, &format!("SELECT COUNT(*) FROM key_sets WHERE cabinet_id = {cabinet} AND state = 'held'")).await;
    assert_eq!(lines.len() as i64, held);

    // A sign-out and its return on a sample key set, as the benchmark makes them.
    assert!(g.sample_keys.len() >= 100, "{} samples", g.sample_keys.len());
    let parts: Vec<i64> = g.sample_keys[0].split(' ').map(|x| x.parse().unwrap()).collect();
    let input = keys::SignOutInput {
        version: parts[1],
        quantity: 1,
        reason_kind: "inspection".into(),
        reason: "空置房巡查".into(),
        sheet_number: String::new(),
        due_at: now + 3_600_000,
        taker_kind: "staff".into(),
        taker_user_id: Some(parts[2]),
        taker_name: String::new(),
        taker_phone: String::new(),
        authorisation: String::new(),
        agreement_person_id: None,
        letter: String::new(),
        authorisation_note: String::new(),
        phone_confirmed_number: String::new(),
        approval_id: None,
        signature: SIGNATURE.into(),
        signature_typed: false,
    };
    let signed = keys::sign_out(&app, &desk, parts[0], &input).await.unwrap();
    let loan = signed.loans.iter().find(|l| l.loan.closed_at.is_none()).expect("the new sign-out");
    let back = keys::ReturnInput {
        version: loan.loan.version,
        quantity: 1,
        returner_name: loan.loan.taker_name.clone(),
        signature: SIGNATURE.into(),
        signature_typed: false,
        condition: String::new(),
        condition_note: String::new(),
    };
    let returned = keys::take_back(&app, &desk, loan.loan.id, &back).await.unwrap();
    assert_eq!((returned.key.out_qty, returned.key.version), (0, parts[1] + 2));
    let r = audit::verify(&app, &[]).await.unwrap();
    assert!(r.ok(), "{:?}", r.problems);
}

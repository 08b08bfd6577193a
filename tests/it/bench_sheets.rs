//! The sheet benchmark's generator (`huiqian bench-data --sheets N`): sheets whose events
//! replay to their stored state, found by the archive search, numbered without gaps, and
//! a registration afterwards that takes the next number; repairs whose flow rows agree
//! with their events, on the dispatchers' boards and in the technicians' days.

use crate::harness::{fresh_database_url, test_config};
use huiqian::app::{Actor, App, request, sheet};
use huiqian::demo::bench::{self, Size};
use huiqian::domain::sheet::lifecycle::Recorded;
use huiqian::domain::sheet::{Event, Sheet, SheetKind};
use huiqian::store::sheet as st;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};

async fn open_in(dir: &std::path::Path) -> App {
    let url = fresh_database_url(dir).await;
    huiqian::cli::open_with(test_config(dir, &url), true).await.expect("open database")
}

async fn actor(app: &App, username: &str) -> Actor {
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(app.store.read())
        .await
        .unwrap();
    huiqian::app::auth::cli_actor_for(app, user_id).await.unwrap()
}

#[tokio::test]
async fn generated_sheets_replay_are_found_and_numbered_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_in(dir.path()).await;
    let g = bench::generate(&app, Size { units: 300, residents: 600, communities: 2, sheets: 2_000 }).await.unwrap();
    assert_eq!(g.sheets.sheets, 2_000);
    assert!(g.sheets.open > 20 && g.sheets.open < 200, "{} open", g.sheets.open);
    assert!(!g.sample_sheets.is_empty());
    let pool = app.store.read();

    // Every sheet's events replay to the stored state, flags and handovers.
    let rows = sqlx::query("SELECT sheet_id, at, by_user_id, data FROM sheet_events ORDER BY sheet_id, seq")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut history: BTreeMap<i64, Vec<Recorded>> = BTreeMap::new();
    for r in rows {
        let event: Event = serde_json::from_str(&r.get::<String, _>(3)).expect("stored event parses");
        history.entry(r.get(0)).or_default().push(Recorded { event, at: r.get(1), by: r.get(2) });
    }
    let sheets = sqlx::query(
        "SELECT id, state, signature_pending, first_contact_id, version, community_id, number, year, seq, reason FROM sheets",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(sheets.len(), 2_000);
    let handovers: HashMap<(i64, i64), String> = sqlx::query("SELECT sheet_id, no, state FROM sheet_handovers")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let mut states = HashMap::new();
    let mut leaks: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut seqs: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
    for s in &sheets {
        let id: i64 = s.get(0);
        let events = &history[&id];
        let replayed = Sheet::replay(events).expect("starts with the registration");
        assert_eq!(replayed.state.as_str(), s.get::<String, _>(1), "sheet {id}");
        assert_eq!(i64::from(replayed.signature_owed()), s.get::<i64, _>(2), "sheet {id}");
        assert_eq!(replayed.first_contact, s.get::<i64, _>(3), "sheet {id}");
        assert_eq!(events.len() as i64, s.get::<i64, _>(4), "sheet {id}: version");
        for h in &replayed.handovers {
            assert_eq!(handovers[&(id, i64::from(h.no))], h.state.as_str(), "sheet {id} handover {}", h.no);
        }
        *states.entry(s.get::<String, _>(1)).or_insert(0) += 1;
        let (community, number, year, seq): (i64, String, i64, i64) = (s.get(5), s.get(6), s.get(7), s.get(8));
        assert_eq!(number, format!("KF-{year}-{seq:06}"));
        seqs.entry((community, year)).or_default().push(seq);
        if s.get::<String, _>(9).contains("漏水") {
            leaks.entry(community).or_default().insert(id);
        }
    }
    assert_eq!(
        handovers.len(),
        history
            .values()
            .map(|h| h.iter().filter(|r| matches!(r.event, Event::Dispatched { .. })).count())
            .sum::<usize>()
    );
    assert!(states["archived"] > 1_500, "{states:?}");
    for s in ["registered", "dispatched", "awaiting_acceptance"] {
        assert!(states.get(s).copied().unwrap_or(0) > 0, "no {s} sheets: {states:?}");
    }

    // The flows' rows agree with the events: one per repair, inquiry and suggestion, with
    // the technician, times and state the replayed sheet has.
    let rows = sqlx::query(
        "SELECT sheet_id, community_id, kind, closed, category, class, technician_id, assigned_at, arrived_at, \
         completed_at, slip_returned_at, answered_at, replied_at FROM requests",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let rows: HashMap<i64, sqlx::any::AnyRow> = rows.into_iter().map(|r| (r.get(0), r)).collect();
    let mut board: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut days: HashMap<i64, HashSet<i64>> = HashMap::new();
    let (mut repairs, mut completed) = (0, 0);
    for s in &sheets {
        let id: i64 = s.get(0);
        let community: i64 = s.get(5);
        let replayed = Sheet::replay(&history[&id]).unwrap();
        let flow = matches!(replayed.kind, SheetKind::Repair | SheetKind::Inquiry | SheetKind::Suggestion);
        assert_eq!(rows.contains_key(&id), flow, "sheet {id} ({:?}): a flow row", replayed.kind);
        let Some(row) = rows.get(&id) else { continue };
        assert_eq!(row.get::<i64, _>(1), community, "sheet {id}");
        assert_eq!(row.get::<String, _>(2), replayed.kind.as_str(), "sheet {id}");
        assert_eq!(row.get::<i64, _>(3) == 1, !replayed.state.is_open(), "sheet {id}: closed");
        let case = &replayed.case;
        if replayed.kind == SheetKind::Repair {
            let r = case.repair.as_ref().unwrap_or_else(|| panic!("sheet {id}: a repair without its flow"));
            repairs += 1;
            completed += usize::from(r.completed_at.is_some());
            assert_eq!(row.get::<Option<String>, _>(4).as_deref(), Some(r.category.as_str()), "sheet {id}");
            assert_eq!(row.get::<Option<String>, _>(5).as_deref(), Some(r.class.as_str()), "sheet {id}");
            assert_eq!(row.get::<Option<i64>, _>(6), r.technician, "sheet {id}: technician");
            assert_eq!(row.get::<Option<i64>, _>(7), r.assigned_at, "sheet {id}");
            assert_eq!(row.get::<Option<i64>, _>(8), r.arrived_at, "sheet {id}");
            assert_eq!(row.get::<Option<i64>, _>(9), r.completed_at, "sheet {id}");
            let slip = r.handover.and_then(|h| replayed.handover(h)).and_then(|h| h.returned_at);
            assert_eq!(row.get::<Option<i64>, _>(10), slip, "sheet {id}: slip");
            if replayed.state.is_open() {
                match (r.technician, r.completed_at) {
                    (None, _) => assert!(board.entry(community).or_default().insert(id)),
                    (Some(t), None) => assert!(days.entry(t).or_default().insert(id)),
                    _ => {}
                }
            }
        }
        let answered = case.inquiry.as_ref().and_then(|i| i.answer.as_ref()).map(|a| a.at);
        assert_eq!(row.get::<Option<i64>, _>(11), answered, "sheet {id}: answered");
        let replied = case.suggestion.as_ref().and_then(|x| x.replied_at);
        assert_eq!(row.get::<Option<i64>, _>(12), replied, "sheet {id}: replied");
        if replayed.kind == SheetKind::Suggestion && !replayed.state.is_open() {
            assert!(replied.is_some(), "sheet {id}: a suggestion collected without a reply");
        }
    }
    assert!(repairs > 900 && completed * 10 > repairs * 9, "{completed} of {repairs} repairs completed");

    // The dispatcher of each community sees exactly its open unassigned repairs, and each
    // technician exactly their open jobs.
    for (i, &c) in g.communities.iter().enumerate() {
        let dispatcher = actor(&app, &bench::dispatcher_username(i)).await;
        let b = request::board(&app, &dispatcher, c, 200, 0).await.unwrap();
        let shown: HashSet<i64> = b.unassigned.iter().map(|j| j.sheet_id).collect();
        assert_eq!(shown, board.remove(&c).unwrap_or_default(), "community {c}: the board");
        assert_eq!(b.technicians.len(), bench::TECHNICIANS, "community {c}");
        let mut jobs = 0;
        for k in 1..=bench::TECHNICIANS {
            let tech = actor(&app, &bench::technician_username(i, k)).await;
            let day = request::technician_day(&app, &tech, c).await.unwrap();
            let open: HashSet<i64> = day.open.iter().map(|j| j.sheet_id).collect();
            assert_eq!(open, days.remove(&tech.user_id()).unwrap_or_default(), "{}", tech.username());
            let load = b.technicians.iter().find(|t| t.user_id == tech.user_id()).expect("on the board");
            assert_eq!(load.open_jobs, open.len() as i64, "{}", tech.username());
            jobs += open.len();
        }
        assert!(!shown.is_empty() && jobs > 0, "community {c}: {} on the board, {jobs} with technicians", shown.len());
    }
    assert!(days.is_empty(), "jobs of technicians of no community: {days:?}");

    // The archive search for 漏水 finds exactly the generated sheets containing it.
    let manager = actor(&app, bench::USERNAME).await;
    let total_leaks: usize = leaks.values().map(HashSet::len).sum();
    assert!((20..=120).contains(&total_leaks), "{total_leaks} sheets with 漏水");
    for &c in &g.communities {
        let found = sheet::search(
            &app,
            &manager,
            c,
            st::Search { text: Some("漏水".into()), limit: 500, ..Default::default() },
        )
        .await
        .unwrap();
        let found: HashSet<i64> = found.iter().map(|s| s.id).collect();
        assert_eq!(found, leaks.remove(&c).unwrap_or_default(), "community {c}");
    }

    // Numbers have no gaps per community and year; the counters hold the last one.
    for ((community, year), mut list) in seqs.clone() {
        list.sort();
        assert_eq!(list, (1..=list.len() as i64).collect::<Vec<_>>(), "{community} {year}");
        let last: i64 = sqlx::query_scalar("SELECT last_seq FROM sheet_counters WHERE community_id = $1 AND year = $2")
            .bind(community)
            .bind(year)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(last, list.len() as i64);
    }

    // A registration afterwards takes the next number of this year.
    let desk = actor(&app, bench::DESK_USERNAME).await;
    let c = g.communities[0];
    let input = sheet::RegisterInput {
        kind: "repair".into(),
        channel: "phone".into(),
        requester_name: "王秀英".into(),
        requester_phone: "13912345678".into(),
        reason: "厨房水管漏水".into(),
        repair: Some(huiqian::app::request::RepairIntake { category: "water".into(), ..Default::default() }),
        ..Default::default()
    };
    let made = sheet::register(&app, &desk, c, &input, None).await.unwrap();
    let year: i64 = made.number[3..7].parse().unwrap();
    let before = seqs.get(&(c, year)).map_or(0, Vec::len) as i64;
    assert_eq!(made.number, format!("KF-{year}-{:06}", before + 1));
    let found =
        sheet::search(&app, &manager, c, st::Search { text: Some("漏水".into()), limit: 1, ..Default::default() })
            .await
            .unwrap();
    assert_eq!(found[0].id, made.id, "the newest match first");

    // R-FU-1: every collected sheet a follow-up is considered for was decided, each month
    // replays from the community's key without a mismatch, and each selected sheet has its
    // task, recorded by its first contact when recorded.
    let cli = Actor::cli();
    let considered: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sheets WHERE collected_at IS NOT NULL \
         AND kind IN ('repair', 'complaint', 'suggestion', 'special_service')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let (decided, selected): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), CAST(SUM(selected) AS BIGINT) FROM follow_up_decisions")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(decided, considered);
    assert!(selected * 10 > decided * 3, "{selected} of {decided} selected");
    let tasks: Vec<(i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT f.sheet_id, f.recorded_by, s.first_contact_id FROM follow_ups f JOIN sheets s ON s.id = f.sheet_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(tasks.len() as i64, selected);
    assert!(tasks.iter().all(|(_, by, first)| by.is_none_or(|b| b == *first)));
    let months: Vec<(i64, String)> =
        sqlx::query_as("SELECT DISTINCT community_id, period FROM follow_up_decisions").fetch_all(pool).await.unwrap();
    assert!(months.len() >= 2 * 20, "{} months", months.len());
    for (c, period) in months {
        let m = huiqian::app::followup::sampling(&app, &cli, c, &period).await.unwrap();
        assert!(m.mismatches.is_empty(), "community {c} {period}: {} mismatches", m.mismatches.len());
    }

    // The scheduler finds only the handful left due for a notice.
    let t = huiqian::app::notify::tick(&app, app.clock.now()).await.unwrap();
    assert!(t.read >= 1 && t.read <= 8, "{t:?}");
    assert_eq!(huiqian::app::notify::tick(&app, app.clock.now()).await.unwrap().read, 0);
}

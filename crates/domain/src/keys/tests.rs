use super::cabinet::{self, CabinetState, CabinetStep, Witness};
use super::count::{self, Difference, IncidentKind, IncidentState, Resolution};
use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const NOW: Ms = 1_800_000_000_000;
const HOUR: Ms = 3_600_000;

fn sign_out(quantity: i64) -> SignOut {
    SignOut {
        quantity,
        reason_kind: ReasonKind::Inspection,
        reason: "空置房季度巡查".into(),
        sheet_linked: false,
        due_at: NOW + HOUR,
        taker: Taker::Staff(7),
        taker_signed: true,
        issuer: 3,
        basis: Basis::VacantUnit,
        special: false,
        approved: false,
        agreement: None,
        authorisation: None,
        letter_attached: false,
        phone_confirmation_required: true,
        phone_confirmed: false,
    }
}

fn held(total: i64) -> KeyBook {
    KeyBook::empty().receive(total).unwrap()
}

#[test]
fn r_key_1_receiving_adds_keys_and_a_lost_set_comes_back_only_through_its_incident() {
    let b = held(2).receive(1).unwrap();
    assert_eq!((b.total, b.on_hook()), (3, 3));
    assert_eq!(KeyBook::empty().receive(0), Err(Refusal("key.quantity")));
    let lost = held(1).lose(1, false).unwrap();
    assert_eq!(lost.state, KeyState::Lost);
    assert_eq!(lost.receive(1), Err(Refusal("key.lost")));
}

#[test]
fn r_key_3_keys_leave_only_for_work_signed_by_the_taker_and_confirmed_by_another() {
    let b = held(2);
    assert!(b.sign_out(&sign_out(1), CabinetState::Open, NOW).is_ok());
    let refused = |s: SignOut| b.sign_out(&s, CabinetState::Open, NOW).unwrap_err().0;
    assert_eq!(refused(SignOut { reason: " ".into(), ..sign_out(1) }), "key.reason_required");
    assert_eq!(refused(SignOut { reason_kind: ReasonKind::Repair, ..sign_out(1) }), "key.sheet_required");
    assert_eq!(refused(SignOut { taker_signed: false, ..sign_out(1) }), "key.taker_signature_required");
    assert_eq!(refused(SignOut { taker: Taker::Staff(3), ..sign_out(1) }), "key.issuer_is_taker");
    assert_eq!(refused(SignOut { due_at: NOW, ..sign_out(1) }), "key.due_in_past");
    assert_eq!(refused(sign_out(3)), "key.quantity");
}

#[test]
fn r_key_3_one_open_sign_out_and_a_partial_return_keeps_it_open() {
    let out = held(3).sign_out(&sign_out(2), CabinetState::Open, NOW).unwrap();
    assert_eq!(out.sign_out(&sign_out(1), CabinetState::Open, NOW), Err(Refusal("key.already_out")));
    let (part, r) = out.take_back(1, true, true).unwrap();
    assert_eq!(r, Returned::Partly { still_out: 1 });
    assert!(part.open_loan);
    assert_eq!(part.take_back(2, true, true).unwrap_err().0, "key.return_quantity");
    assert_eq!(part.take_back(1, false, true).unwrap_err().0, "key.return_in_person");
    let (back, r) = part.take_back(1, true, true).unwrap();
    assert_eq!((r, back.open_loan, back.on_hook()), (Returned::All, false, 3));
}

#[test]
fn r_key_5_someone_else_needs_the_owners_authorisation_and_a_phone_confirmation() {
    let b = held(1);
    let other = SignOut { taker: Taker::Other, ..sign_out(1) };
    let go = |s: &SignOut| b.sign_out(s, CabinetState::Open, NOW).map(|_| ()).map_err(|r| r.0);
    assert_eq!(go(&other), Err("key.owner_authorisation_required"));
    let letter = SignOut { authorisation: Some(Authorisation::Letter), ..other.clone() };
    assert_eq!(go(&letter), Err("key.letter_required"));
    let attached = SignOut { letter_attached: true, ..letter };
    assert_eq!(go(&attached), Err("key.phone_confirmation_required"));
    assert_eq!(go(&SignOut { phone_confirmed: true, ..attached.clone() }), Ok(()));
    assert_eq!(go(&SignOut { phone_confirmation_required: false, ..attached }), Ok(()));
    // The owner himself, and a public room's key, need no authorisation.
    assert_eq!(go(&SignOut { taker: Taker::Owner, ..sign_out(1) }), Ok(()));
    assert_eq!(go(&SignOut { basis: Basis::PublicRoom, ..other }), Ok(()));
}

#[test]
fn r_mov_6_the_custody_agreement_governs_who_and_for_what_within_its_dates() {
    let b = held(1);
    let terms = AgreementTerms {
        starts_at: NOW - HOUR,
        ends_at: NOW + 24 * HOUR,
        scope: vec![ReasonKind::Repair],
        names_taker: true,
    };
    let base = SignOut { basis: Basis::CustodyAgreement, agreement: Some(terms.clone()), ..sign_out(1) };
    let go = |s: &SignOut| b.sign_out(s, CabinetState::Open, NOW).map(|_| ()).map_err(|r| r.0);
    assert_eq!(go(&SignOut { agreement: None, ..base.clone() }), Err("key.agreement_required"));
    assert_eq!(go(&base), Err("key.agreement_scope"), "an inspection is not in the owner's scope");
    let repair = SignOut { reason_kind: ReasonKind::Repair, sheet_linked: true, ..base.clone() };
    assert_eq!(go(&repair), Ok(()));
    let expired = AgreementTerms { ends_at: NOW, ..terms.clone() };
    assert_eq!(go(&SignOut { agreement: Some(expired), ..repair }), Err("key.agreement_not_in_force"));
    let named = SignOut {
        taker: Taker::Other,
        authorisation: Some(Authorisation::Agreement),
        phone_confirmation_required: false,
        ..base.clone()
    };
    assert_eq!(go(&named), Ok(()));
    let stranger = AgreementTerms { names_taker: false, ..terms };
    assert_eq!(go(&SignOut { agreement: Some(stranger), ..named }), Err("key.not_named_in_agreement"));
}

#[test]
fn r_key_6_a_special_room_needs_a_managers_approval_and_nobody_approves_his_own() {
    let b = held(1);
    let special = SignOut { special: true, basis: Basis::PublicRoom, ..sign_out(1) };
    assert_eq!(b.sign_out(&special, CabinetState::Open, NOW).unwrap_err().0, "key.approval_required");
    assert!(b.sign_out(&SignOut { approved: true, ..special }, CabinetState::Open, NOW).is_ok());
    assert_eq!(check_approval(5, 5, true), Err(Refusal("key.approve_own_request")));
    assert_eq!(check_approval(5, 6, false), Err(Refusal("key.approver_not_manager")));
    assert_eq!(check_approval(5, 6, true), Ok(()));
}

#[test]
fn r_key_7_sealed_at_night_and_opened_by_two_people_of_the_right_roles() {
    let guard = Witness { user: 1, security: true, other_department: false };
    let engineer = Witness { user: 2, security: false, other_department: true };
    let sealed = cabinet::step(CabinetState::Open, None, &CabinetStep::Seal { seal_no: "F-0012".into() }).unwrap().0;
    assert_eq!(held(1).sign_out(&sign_out(1), sealed, NOW), Err(Refusal("key.cabinet_sealed")));
    let open = |a: Witness, b: Witness| {
        cabinet::step(
            sealed,
            Some("F-0012"),
            &CabinetStep::OpenAtNight { first: a, second: b, reason: "水管爆裂".into() },
        )
        .map(|x| x.0)
        .map_err(|r| r.0)
    };
    assert_eq!(open(guard, guard), Err("key.two_people"));
    assert_eq!(open(guard, Witness { user: 9, ..guard }), Err("key.night_roles"));
    assert_eq!(open(engineer, guard), Ok(CabinetState::NightOpen));
    assert!(held(1).sign_out(&sign_out(1), CabinetState::NightOpen, NOW).is_ok(), "an emergency can take a key");
    let morning = |seen: &str, intact: bool| {
        cabinet::step(sealed, Some("F-0012"), &CabinetStep::OpenInMorning { seal_seen: seen.into(), intact }).unwrap()
    };
    assert_eq!(morning("F-0012", true), (CabinetState::Open, false));
    assert_eq!(morning("F-0013", true), (CabinetState::Open, true), "another seal number is an incident");
    assert_eq!(morning("F-0012", false), (CabinetState::Open, true), "a broken seal is an incident");
}

#[test]
fn r_key_8_the_blind_count_must_cover_every_key_and_each_difference_is_listed() {
    let expected: BTreeMap<i64, i64> = [(1, 2), (2, 1), (3, 0)].into();
    let short: BTreeMap<i64, i64> = [(1, 2), (2, 1)].into();
    assert_eq!(count::compare(&expected, &short), Err(Refusal("key.count_incomplete")));
    let stray: BTreeMap<i64, i64> = [(1, 2), (2, 1), (3, 0), (4, 1)].into();
    assert_eq!(count::compare(&expected, &stray), Err(Refusal("key.count_unknown_key")));
    let counted: BTreeMap<i64, i64> = [(1, 1), (2, 1), (3, 1)].into();
    assert_eq!(
        count::compare(&expected, &counted).unwrap(),
        vec![Difference { key: 1, expected: 2, counted: 1 }, Difference { key: 3, expected: 0, counted: 1 }]
    );
}

#[test]
fn r_key_8_an_incident_is_reported_before_it_is_resolved_and_an_overdue_key_must_be_back() {
    use IncidentKind::*;
    assert_eq!(
        count::resolve(IncidentState::Open, Overdue, Resolution::Found, "x", false),
        Err(Refusal("key.incident_not_reported"))
    );
    let reported = count::report(IncidentState::Open, "已报客服部经理").unwrap();
    assert_eq!(count::report(reported, "again"), Err(Refusal("key.incident_not_open")));
    assert_eq!(count::resolve(reported, Overdue, Resolution::Found, "回来了", true), Err(Refusal("key.still_out")));
    assert_eq!(count::resolve(reported, Overdue, Resolution::Found, "回来了", false), Ok(IncidentState::Resolved));
    assert_eq!(
        count::resolve(reported, CountDifference, Resolution::Lost, " ", false),
        Err(Refusal("key.incident_text_required"))
    );
}

// ---- the property: books and the physical cabinet never part without an incident ----

#[derive(Debug, Clone)]
enum Op {
    Receive(usize, i64),
    SignOut(usize, i64),
    Return(usize, i64),
    /// A key slips off its hook unseen: the world changes, the books do not.
    Vanish(usize),
    /// A vanished key turns up again on its hook.
    Reappear(usize),
    Seal,
    OpenAtNight,
    OpenInMorning,
    Count,
    Resolve(usize),
    Overdue(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..4usize;
    prop_oneof![
        (k.clone(), 1..3i64).prop_map(|(k, q)| Op::Receive(k, q)),
        (k.clone(), 1..3i64).prop_map(|(k, q)| Op::SignOut(k, q)),
        (k.clone(), 1..3i64).prop_map(|(k, q)| Op::Return(k, q)),
        k.clone().prop_map(Op::Vanish),
        k.clone().prop_map(Op::Reappear),
        Just(Op::Seal),
        Just(Op::OpenAtNight),
        Just(Op::OpenInMorning),
        Just(Op::Count),
        k.clone().prop_map(Op::Resolve),
        k.prop_map(Op::Overdue),
    ]
}

#[derive(Debug, Default, Clone)]
struct World {
    on_hook: i64,
    with_taker: i64,
    /// Keys gone from the hook unseen.
    vanished: i64,
    /// Keys the books count out that were not on the hook to take.
    astray_out: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenIncident {
    kind: IncidentKind,
    difference: i64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// R-KEY-3, R-KEY-7, R-KEY-8: over any sequence of receipts, sign-outs, returns, seals,
    /// openings, keys going astray and counts, the books always account for every key out,
    /// no key is ever out twice, and every difference a count finds becomes an incident that
    /// stays until it is resolved; once resolved the books match the cabinet.
    #[test]
    fn r_key_8_the_books_match_the_cabinet_or_an_incident_says_why(ops in proptest::collection::vec(op(), 1..80)) {
        let mut books = [KeyBook::empty(); 4];
        let mut world: [World; 4] = Default::default();
        let mut incidents: Vec<Option<OpenIncident>> = vec![None; 4];
        let mut cab = CabinetState::Open;
        let mut seal: Option<String> = None;
        let mut seals = 0;
        for op in ops {
            match op {
                Op::Receive(k, q) => if let Ok(b) = books[k].receive(q) { books[k] = b; world[k].on_hook += q; },
                Op::SignOut(k, q) => {
                    let was_open = books[k].open_loan;
                    match books[k].sign_out(&SignOut { quantity: q, ..sign_out(q) }, cab, NOW) {
                        Ok(b) => {
                            prop_assert!(!was_open, "a key set already out was signed out again");
                            prop_assert!(cab != CabinetState::Sealed);
                            // The physical keys may be fewer than the books say; the taker
                            // takes what is there and the difference waits for the count.
                            let taken = q.min(world[k].on_hook);
                            books[k] = b;
                            world[k].on_hook -= taken;
                            world[k].with_taker += taken;
                            world[k].vanished -= q - taken;
                            world[k].astray_out += q - taken;
                        }
                        Err(r) => prop_assert!(was_open || cab == CabinetState::Sealed || q > books[k].on_hook() || books[k].state != KeyState::Held, "refused {r}"),
                    }
                }
                Op::Return(k, q) => {
                    let q = q.min(world[k].with_taker);
                    if q > 0 && let Ok((b, _)) = books[k].take_back(q, true, true) {
                        books[k] = b;
                        world[k].with_taker -= q;
                        world[k].on_hook += q;
                    }
                }
                Op::Vanish(k) => if world[k].on_hook > 0 { world[k].on_hook -= 1; world[k].vanished += 1; },
                Op::Reappear(k) => if world[k].vanished > 0 { world[k].vanished -= 1; world[k].on_hook += 1; },
                Op::Seal => {
                    seals += 1;
                    let no = format!("F-{seals:04}");
                    if let Ok((s, _)) = cabinet::step(cab, seal.as_deref(), &CabinetStep::Seal { seal_no: no.clone() }) { cab = s; seal = Some(no); }
                }
                Op::OpenAtNight => {
                    let first = Witness { user: 1, security: true, other_department: false };
                    let second = Witness { user: 2, security: false, other_department: true };
                    if let Ok((s, _)) = cabinet::step(cab, seal.as_deref(), &CabinetStep::OpenAtNight { first, second, reason: "抢修".into() }) { cab = s; }
                }
                Op::OpenInMorning => {
                    let seen = seal.clone().unwrap_or_default();
                    if let Ok((s, incident)) = cabinet::step(cab, seal.as_deref(), &CabinetStep::OpenInMorning { seal_seen: seen, intact: true }) {
                        prop_assert!(!incident, "a seal left whole and seen is no incident");
                        cab = s;
                    }
                }
                Op::Count => {
                    let expected: BTreeMap<i64, i64> = (0..4).filter(|&k| books[k].state == KeyState::Held).map(|k| (k as i64, books[k].on_hook())).collect();
                    let counted: BTreeMap<i64, i64> = expected.keys().map(|&k| (k, world[k as usize].on_hook)).collect();
                    for d in count::compare(&expected, &counted).unwrap() {
                        let k = d.key as usize;
                        if incidents[k].is_none() {
                            incidents[k] = Some(OpenIncident { kind: IncidentKind::CountDifference, difference: d.expected - d.counted });
                        }
                    }
                    // Every difference now has an incident.
                    for k in 0..4 {
                        if books[k].state == KeyState::Held && books[k].on_hook() != world[k].on_hook {
                            prop_assert!(incidents[k].is_some(), "a difference on key {k} without an incident");
                        }
                    }
                }
                Op::Overdue(k) => {
                    if books[k].open_loan && count::overdue(NOW + HOUR, NOW + 2 * HOUR) && incidents[k].is_none() {
                        incidents[k] = Some(OpenIncident { kind: IncidentKind::Overdue, difference: 0 });
                    }
                }
                Op::Resolve(k) => if let Some(i) = incidents[k] {
                    let state = count::report(IncidentState::Open, "已上报").unwrap();
                    match i.kind {
                        IncidentKind::CountDifference => {
                            // Recount: what is missing now is lost; what turned up is explained.
                            let missing = books[k].on_hook() - world[k].on_hook;
                            if missing > 0 {
                                prop_assert_eq!(count::resolve(state, i.kind, Resolution::Lost, "确认遗失", false), Ok(IncidentState::Resolved));
                                books[k] = books[k].lose(missing, false).unwrap();
                                world[k].vanished = 0;
                            } else if missing < 0 {
                                prop_assert!(count::resolve(state, i.kind, Resolution::Explained, "多出钥匙登记接收", false).is_ok());
                                books[k] = books[k].receive(-missing).unwrap();
                            }
                            let _ = i.difference;
                            incidents[k] = None;
                        }
                        IncidentKind::Overdue => {
                            let still_out = books[k].open_loan;
                            let found = count::resolve(state, i.kind, Resolution::Found, "已归还", still_out);
                            prop_assert_eq!(found.is_ok(), !still_out);
                            if still_out {
                                // The taker brings back what he has; what nobody has is lost.
                                if world[k].with_taker > 0 {
                                    let q = world[k].with_taker;
                                    books[k] = books[k].take_back(q, true, true).unwrap().0;
                                    world[k].with_taker = 0;
                                    world[k].on_hook += q;
                                }
                                if books[k].open_loan {
                                    prop_assert!(count::resolve(state, i.kind, Resolution::Lost, "确认遗失", true).is_ok());
                                    books[k] = books[k].lose(books[k].out, true).unwrap();
                                    world[k].astray_out = 0;
                                }
                            }
                            incidents[k] = None;
                        }
                        IncidentKind::SealBroken => unreachable!(),
                    }
                },
            }
            for k in 0..4 {
                let b = books[k];
                prop_assert!(b.out >= 0 && b.out <= b.total, "books of key {k}: {b:?}");
                prop_assert_eq!(b.open_loan, b.out > 0);
                // Every key the books say is out is with its taker or has gone astray.
                prop_assert_eq!(b.out, world[k].with_taker + world[k].astray_out);
                // Books and world differ only by keys gone astray, which a count or an
                // overdue sign-out will find.
                let w = &world[k];
                prop_assert_eq!(b.total, w.on_hook + w.with_taker + w.vanished + w.astray_out);
            }
        }
    }
}

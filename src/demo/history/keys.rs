//! The demo's key custody (钥匙管理) over the same eight weeks, played through
//! `app::keys` among the sheets' steps: each community's front-desk cabinet and its key
//! register — vacant units' keys the owners left with the property, owners' keys under a
//! custody agreement while their unit is renovated, public rooms, and the special rooms
//! whose keys leave only with the customer-service manager's approval (配电房, 水泵房,
//! 电梯机房, 燃气调压间, 天台).
//!
//! The receptionist receives, signs out and takes back keys at the desk and counts the
//! cabinet blind before leaving most evenings; security seals it at night and the desk
//! opens it next morning after checking the seal; the manager approves special rooms and
//! resolves incidents. Keys go out for the demo's repair sheets (linked to them, back before
//! the sheet can be archived), vacant units' inspections, renovation and the public rooms'
//! everyday use; a finished renovation's key goes back to its owner. One count in each community came out a key short, was reported and
//! resolved. The present — the last desk day before the demo was loaded, and the day
//! before — is written on purpose: a contractor's key out since yesterday, overdue, its
//! incident open; two keys out this morning; a special room's approval waiting for the
//! manager; one custody agreement in force.

use super::{COMMUNITIES, DESK, HOUR, MANAGER, MINUTE, Refs, SECURITY, Script, Who, ZONE};
use super::{Op, actor_for, local_start, minute_of_day};
use crate::app::keys as k;
use crate::app::request::FlowAction;
use crate::app::sheet::Action;
use crate::app::{App, AppError, report};
use crate::demo::SEED;
use crate::demo::synth::{self, Rng};
use crate::store::{keys as sk, org as so, people as sp, sheet as st};
use chrono::{Datelike, Duration, NaiveDate};

const BUILDING: Who = Who::Staff("building");
/// Days of key history before the present day (the cabinet arrives on the first).
const DAYS: i64 = 55;

/// A unit whose keys the property may hold, with its owner.
#[derive(Debug, Clone)]
pub(super) struct UnitRef {
    pub room_no: String,
    pub owner: String,
    pub owner_phone: Option<String>,
}

/// A community's vacant and renovating units, read once before planning.
#[derive(Debug, Clone, Default)]
pub(super) struct Estate {
    pub vacant: Vec<UnitRef>,
    pub renovating: Vec<UnitRef>,
}

/// The vacant and renovating units of a community with their owners, in room order.
pub(super) async fn estate(app: &App, community: i64) -> Result<Estate, AppError> {
    let units = so::units(app.store.read(), community, None, None, 100_000, 0).await?;
    let mut e = Estate::default();
    for u in units.iter().filter(|u| u.active == 1 && matches!(u.status.as_str(), "vacant" | "renovating")) {
        let occupancies = sp::occupancies_of_unit(app.store.read(), u.id).await?;
        let Some(owner) = occupancies.iter().find(|o| o.active == 1 && o.relation == "owner") else { continue };
        let mut conn = app.store.read().acquire().await?;
        let phone = sp::sealed(&mut conn, owner.person_id)
            .await?
            .and_then(|s| s.phone_enc)
            .and_then(|enc| app.secrets.decrypt(&enc).ok());
        let r = UnitRef { room_no: u.room_no.clone(), owner: owner.person_name.clone(), owner_phone: phone };
        if u.status == "vacant" { e.vacant.push(r) } else { e.renovating.push(r) }
    }
    Ok(e)
}

/// What a key set is for the planner: the rooms the repairs and rounds ask for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Vacant,
    Custody,
    Light,
    Weak,
    Activity,
    Meeting,
    Garbage,
    Garden,
    Garage,
    Other,
    Power,
    Pump,
    Lift,
    Gas,
    Roof,
}

#[derive(Debug, Clone)]
struct KeyDef {
    community: usize,
    tag: String,
    hook: String,
    room_no: String,
    room: String,
    special: &'static str,
    basis: &'static str,
    quantity: i64,
    deliverer: String,
    department: &'static str,
    use_: Use,
    /// The building it is in, for a vacant unit (`3` of `3-2-1502`).
    building: String,
    created: i64,
    /// When it is out, planned: [out, back).
    busy: Vec<(i64, i64)>,
}

#[derive(Debug, Clone)]
struct AgreementDef {
    key: usize,
    owner: String,
    owner_phone: String,
    starts: i64,
    ends: i64,
    foreman: String,
    foreman_phone: String,
}

#[derive(Debug, Clone)]
enum Taker {
    Staff(&'static str),
    /// The foreman named in the agreement.
    Contractor(usize),
    /// Someone from outside borrowing a public room's key.
    Visitor(&'static str, String),
}

#[derive(Debug, Clone)]
struct LoanDef {
    key: usize,
    reason_kind: &'static str,
    reason: String,
    /// The repair sheet's script.
    sheet: Option<usize>,
    due_at: i64,
    taker: Taker,
    /// For a vacant unit back from an inspection: condition and note.
    condition: Option<(&'static str, &'static str)>,
}

#[derive(Debug, Clone)]
enum KeyOp {
    Cabinet,
    /// The community's rules: a phone call to the owner before someone else takes an
    /// owner's key, and the hour the daily count is due.
    Settings,
    Create(usize),
    Receive(usize),
    Agreement(usize),
    /// Ask for a special room's approval for a sign-out.
    Ask(usize),
    /// The manager decides it: approved, or refused with the note.
    Decide(usize, Option<&'static str>),
    SignOut(usize),
    Return(usize),
    Seal,
    Open,
    /// The blind count; `short` counts one key set one key short (the incident of that number).
    Count {
        short: Option<usize>,
    },
    Report(usize),
    Resolve(usize),
    Inspect(usize),
    /// The renovation over, the owner takes the key back and the agreement ends.
    Release(usize),
}

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub at: i64,
    community: usize,
    who: Who,
    op: KeyOp,
}

/// Everything the communities' key registers will go through, in no particular order.
#[derive(Debug, Clone, Default)]
pub(super) struct Plan {
    keys: Vec<KeyDef>,
    agreements: Vec<AgreementDef>,
    loans: Vec<LoanDef>,
    incidents: usize,
    pub items: Vec<Item>,
}

/// What playing has made so far: the rows the later steps refer to.
#[derive(Debug, Default)]
pub(super) struct Books {
    cabinets: Vec<Option<i64>>,
    seals: Vec<u32>,
    keys: Vec<Option<i64>>,
    agreement_person: Vec<Option<i64>>,
    loans: Vec<Option<i64>>,
    approvals: Vec<Option<i64>>,
    incidents: Vec<Option<i64>>,
}

impl Books {
    pub(super) fn new(plan: &Plan) -> Books {
        Books {
            cabinets: vec![None; COMMUNITIES.len()],
            seals: (0..COMMUNITIES.len()).map(|i| 1_000 + 3_217 * i as u32).collect(),
            keys: vec![None; plan.keys.len()],
            agreement_person: vec![None; plan.agreements.len()],
            loans: vec![None; plan.loans.len()],
            approvals: vec![None; plan.loans.len()],
            incidents: vec![None; plan.incidents],
        }
    }
}

/// The last desk day before `until`: the latest day whose 09:00 has passed.
pub(super) fn present_day(until: i64) -> NaiveDate {
    let day = report::local_day(ZONE, until);
    if until >= local_start(day) + 9 * HOUR { day } else { day - Duration::days(1) }
}

fn at(day: NaiveDate, minute: i64) -> i64 {
    local_start(day) + minute * MINUTE
}

fn hm(h: i64, m: i64) -> i64 {
    h * 60 + m
}

/// Public rooms: room, use, keys.
const PUBLIC: &[(&str, Use, i64)] = &[
    ("客服中心会议室", Use::Meeting, 2),
    ("社区活动室", Use::Activity, 2),
    ("各楼强电井（通用）", Use::Light, 3),
    ("各楼弱电井（通用）", Use::Weak, 2),
    ("垃圾房", Use::Garbage, 2),
    ("绿化工具房", Use::Garden, 1),
    ("地下车库设备间", Use::Garage, 1),
    ("消防通道防火门（备用）", Use::Other, 2),
    ("小区东门岗亭备用钥匙", Use::Other, 1),
    ("快递柜检修门", Use::Other, 1),
    ("自行车棚", Use::Other, 2),
    ("信报箱备用钥匙", Use::Other, 1),
];

/// Special rooms (R-KEY-6): room, kind, use.
const SPECIAL: &[(&str, &str, Use)] = &[
    ("地下配电房", "power", Use::Power),
    ("生活水泵房", "plant", Use::Pump),
    ("电梯机房", "plant", Use::Lift),
    ("燃气调压间", "gas", Use::Gas),
    ("1号楼天台", "roof", Use::Roof),
    ("4号楼天台", "roof", Use::Roof),
];

const FOREMEN: &[&str] = &["刘建军", "孙志勇", "马德福", "胡永强", "徐长林", "钱国平", "唐春生"];
const VISITORS: &[&str] = &["周桂芳", "吴秀英", "郑德明"];

const ROUNDS: &[(Use, &str)] = &[
    (Use::Power, "配电房月度巡检"),
    (Use::Pump, "水泵房月度巡检，检查水箱水位"),
    (Use::Lift, "配合电梯维保单位月度保养"),
    (Use::Gas, "燃气调压间安全检查"),
    (Use::Roof, "天台防水层及避雷设施巡查"),
];

const ATTENTION: &[&str] = &[
    "卫生间地漏返味，已告知业主",
    "阳台窗户未关，已关闭",
    "厨房角阀轻微渗水，已关闭总阀并报工程部",
    "室内有霉味，已开窗通风",
];

impl Plan {
    fn key(&mut self, k: KeyDef) -> usize {
        self.keys.push(k);
        self.keys.len() - 1
    }

    fn push(&mut self, at: i64, community: usize, who: Who, op: KeyOp) {
        self.items.push(Item { at, community, who, op });
    }

    fn free(&self, key: usize, from: i64, to: i64) -> bool {
        let k = &self.keys[key];
        k.created < from && k.busy.iter().all(|&(a, b)| to <= a || from >= b)
    }

    fn loan(&mut self, l: LoanDef, out: i64, back: Option<i64>) -> usize {
        let key = l.key;
        self.loans.push(l);
        let i = self.loans.len() - 1;
        self.keys[key].busy.push((out, back.unwrap_or(i64::MAX)));
        i
    }

    /// A sign-out at `out` and its return at `back` (none: still out), by the desk.
    fn lend(&mut self, ci: usize, l: LoanDef, out: i64, back: Option<i64>) -> usize {
        let i = self.loan(l, out, back);
        self.push(out, ci, DESK, KeyOp::SignOut(i));
        if let Some(b) = back {
            self.push(b, ci, DESK, KeyOp::Return(i));
        }
        i
    }

    /// A special room's sign-out: asked for, approved by the manager, then signed out.
    fn lend_approved(&mut self, ci: usize, l: LoanDef, ask: i64, decide: i64, out: i64, back: i64) {
        let i = self.loan(l, out, Some(back));
        self.push(ask, ci, DESK, KeyOp::Ask(i));
        self.push(decide, ci, MANAGER, KeyOp::Decide(i, None));
        self.push(out, ci, DESK, KeyOp::SignOut(i));
        self.push(back, ci, DESK, KeyOp::Return(i));
    }

    fn find(&self, ci: usize, use_: Use) -> Vec<usize> {
        (0..self.keys.len()).filter(|&i| self.keys[i].community == ci && self.keys[i].use_ == use_).collect()
    }
}

/// Plan every community's key register up to `until`, around the sheets' `scripts`.
pub(super) fn plan(estates: &[Estate], scripts: &[Script], until: i64) -> Plan {
    let mut p = Plan::default();
    let present = present_day(until);
    let first = present - Duration::days(DAYS);
    for (ci, estate) in estates.iter().enumerate() {
        let code = COMMUNITIES[ci].code;
        let mut rng = Rng::derive(SEED, &format!("keys/{code}"));
        inventory(&mut p, &mut rng, ci, estate, first, present);
        cabinet_days(&mut p, &mut rng, ci, first, present);
        repairs(&mut p, &mut rng, ci, scripts, first, present);
        rounds(&mut p, &mut rng, ci, first, present);
        renovation(&mut p, &mut rng, ci, present);
        the_present(&mut p, &mut rng, ci, present, until);
    }
    p
}

/// The cabinet, arriving on the first morning, and its key sets: public and special rooms
/// and vacant units received over the first two days, custody keys as their agreements
/// begin.
fn inventory(p: &mut Plan, rng: &mut Rng, ci: usize, estate: &Estate, first: NaiveDate, present: NaiveDate) {
    let big = ci == 0;
    p.push(at(first, hm(8, 5)), ci, MANAGER, KeyOp::Cabinet);
    p.push(at(first, hm(8, 10)), ci, MANAGER, KeyOp::Settings);
    let dispatcher = COMMUNITIES[ci].staff_names[7];
    let mut t = at(first, hm(8, 40));
    let mut next = |rng: &mut Rng| {
        t += rng.range(4, 14) as i64 * MINUTE;
        if minute_of_day(t) > hm(16, 50) {
            t = at(report::local_day(ZONE, t) + Duration::days(1), hm(8, 45));
        }
        t
    };
    let mut hook = 0;
    let hook_of = |n: &mut u8| {
        *n += 1;
        format!("{}{:02}", (b'A' + (*n - 1) / 10) as char, (*n - 1) % 10 + 1)
    };
    for (i, (room, use_, quantity)) in PUBLIC.iter().enumerate() {
        let created = next(rng);
        let key = p.key(KeyDef {
            community: ci,
            tag: format!("G{:02}", i + 1),
            hook: hook_of(&mut hook),
            room_no: String::new(),
            room: (*room).into(),
            special: "",
            basis: "public_room",
            quantity: *quantity,
            deliverer: dispatcher.into(),
            department: "工程部",
            use_: *use_,
            building: String::new(),
            created,
            busy: vec![],
        });
        p.push(created, ci, DESK, KeyOp::Create(key));
    }
    let specials: Vec<_> = SPECIAL.iter().filter(|s| big || !matches!(s.2, Use::Lift) && s.0 != "4号楼天台").collect();
    for (i, (room, special, use_)) in specials.into_iter().enumerate() {
        let created = next(rng);
        let key = p.key(KeyDef {
            community: ci,
            tag: format!("T{:02}", i + 1),
            hook: hook_of(&mut hook),
            room_no: String::new(),
            room: (*room).into(),
            special,
            basis: "public_room",
            quantity: if *use_ == Use::Roof { 1 } else { 2 },
            deliverer: dispatcher.into(),
            department: "工程部",
            use_: *use_,
            building: String::new(),
            created,
            busy: vec![],
        });
        p.push(created, ci, DESK, KeyOp::Create(key));
    }
    // The owners of some vacant units leave a key with the property (R-DUTY-3).
    let vacant = if big { 15 } else { 12 };
    let step = (estate.vacant.len() / vacant).max(1);
    for (i, u) in estate.vacant.iter().step_by(step).take(vacant).enumerate() {
        let created = next(rng);
        let key = p.key(KeyDef {
            community: ci,
            tag: format!("K{:03}", i + 1),
            hook: hook_of(&mut hook),
            room_no: u.room_no.clone(),
            room: String::new(),
            special: "",
            basis: "vacant_unit",
            quantity: rng.range(1, 3) as i64,
            deliverer: u.owner.clone(),
            department: "业主",
            use_: Use::Vacant,
            building: u.room_no.split('-').next().unwrap_or_default().into(),
            created,
            busy: vec![],
        });
        p.push(created, ci, DESK, KeyOp::Create(key));
    }
    // A duplicate cut for two busy keys.
    for (use_, day) in [(Use::Light, 12), (Use::Garbage, 30)] {
        if let Some(&key) = p.find(ci, use_).first() {
            let t = at(first + Duration::days(day), hm(10, rng.range(5, 50) as i64));
            if p.free(key, t - MINUTE, t + MINUTE) {
                p.push(t, ci, DESK, KeyOp::Receive(key));
            }
        }
    }
    // Renovations: owners leave their key under a custody agreement (R-MOV-6); the last
    // one is in force now.
    let owners: Vec<&UnitRef> = estate.renovating.iter().filter(|u| u.owner_phone.is_some()).collect();
    let spans: &[(i64, i64)] =
        if big { &[(2, 24), (9, 36), (27, 51), (41, -1)] } else { &[(4, 30), (22, 47), (40, -1)] };
    // With fewer renovations than spans, the latest spans (the one in force) come first.
    let spans = &spans[spans.len() - spans.len().min(owners.len())..];
    for (n, (u, &(start, end))) in owners.iter().zip(spans).enumerate() {
        let start_day = first + Duration::days(start);
        let created = at(start_day, hm(9, 20) + rng.range(0, 90) as i64);
        let ends = if end < 0 {
            at(present + Duration::days(rng.range(12, 25) as i64), hm(18, 0))
        } else {
            at(first + Duration::days(end), hm(18, 0))
        };
        let key = p.key(KeyDef {
            community: ci,
            tag: format!("W{:02}", n + 1),
            hook: hook_of(&mut hook),
            room_no: u.room_no.clone(),
            room: String::new(),
            special: "",
            basis: "custody_agreement",
            quantity: 1,
            deliverer: u.owner.clone(),
            department: "业主",
            use_: Use::Custody,
            building: u.room_no.split('-').next().unwrap_or_default().into(),
            created,
            busy: vec![],
        });
        p.push(created, ci, DESK, KeyOp::Create(key));
        p.agreements.push(AgreementDef {
            key,
            owner: u.owner.clone(),
            owner_phone: u.owner_phone.clone().unwrap_or_default(),
            starts: created,
            ends,
            foreman: rng.pick(FOREMEN).into(),
            foreman_phone: synth::mobile(rng),
        });
        let a = p.agreements.len() - 1;
        p.push(created + rng.range(3, 8) as i64 * MINUTE, ci, DESK, KeyOp::Agreement(a));
        if end >= 0 {
            let back = at(first + Duration::days(end), hm(14, 0) + rng.range(0, 150) as i64);
            p.keys[key].busy.push((back, i64::MAX));
            p.push(back, ci, DESK, KeyOp::Release(a));
        }
    }
}

/// Every day: opened in the morning after the seal is checked, counted blind before the
/// desk closes (most days), sealed by security at night. One count in the weeks is a key
/// short: reported at once, resolved by the manager next morning.
fn cabinet_days(p: &mut Plan, rng: &mut Rng, ci: usize, first: NaiveDate, present: NaiveDate) {
    let short_day = rng.range(15, 40) as i64;
    for n in 0..=DAYS {
        let day = first + Duration::days(n);
        if n > 0 {
            p.push(at(day, hm(8, 18) + rng.range(0, 12) as i64), ci, DESK, KeyOp::Open);
        }
        let yesterday = day == present - Duration::days(1);
        if n > 0 && (yesterday || n == short_day || rng.chance(880)) {
            let t = if yesterday { at(day, hm(17, 15)) } else { at(day, hm(16, 50) + rng.range(0, 30) as i64) };
            let short = (n == short_day).then(|| {
                p.incidents += 1;
                p.incidents - 1
            });
            p.push(t, ci, DESK, KeyOp::Count { short });
            if let Some(i) = short {
                p.push(t + rng.range(6, 15) as i64 * MINUTE, ci, DESK, KeyOp::Report(i));
                let next = at(day + Duration::days(1), hm(9, 30) + rng.range(0, 60) as i64);
                p.push(next, ci, MANAGER, KeyOp::Resolve(i));
            }
        }
        p.push(at(day, hm(21, 40) + rng.range(0, 35) as i64), ci, SECURITY, KeyOp::Seal);
    }
}

/// The key a repair needs: the public room its category points at, or for water coming
/// through a ceiling a vacant unit above in the same building.
fn repair_key(p: &Plan, ci: usize, category: &str, s: &Script, from: i64, to: i64) -> Option<usize> {
    let use_ = match category {
        "lighting" => Use::Light,
        "intercom" => Use::Weak,
        "lift" => Use::Lift,
        "gas" => Use::Gas,
        "heating" => Use::Pump,
        "water" if s.input.reason.contains("楼下") => Use::Vacant,
        _ => return None,
    };
    let building = s.input.room_no.split('-').next().unwrap_or_default();
    p.find(ci, use_)
        .into_iter()
        .filter(|&key| {
            use_ != Use::Vacant || (p.keys[key].building == building && p.keys[key].room_no != s.input.room_no)
        })
        .find(|&key| p.free(key, from, to))
}

/// Keys the technician takes for the demo's repair sheets, on the way to the job and back
/// when it is done; a special room's with the manager's approval first.
fn repairs(p: &mut Plan, rng: &mut Rng, ci: usize, scripts: &[Script], first: NaiveDate, present: NaiveDate) {
    let from = at(first + Duration::days(2), 0);
    let last = at(present - Duration::days(1), 0);
    for (si, s) in scripts.iter().enumerate().filter(|(_, s)| s.community == ci) {
        let Some(category) = s.input.repair.as_ref().map(|r| r.category.clone()) else { continue };
        let arrive = s.steps.iter().position(|st| matches!(&st.op, Op::Act(Action::Flow(FlowAction::Arrive))));
        let Some(j) = arrive else { continue };
        let complete = s.steps[j..]
            .iter()
            .find(|st| matches!(&st.op, Op::Act(Action::Flow(FlowAction::CompleteRepair { .. }))))
            .map(|st| st.at);
        let Some(done) = complete else { continue };
        let t_a = s.steps[j].at;
        let before = if j == 0 { s.at } else { s.steps[j - 1].at };
        let window = (t_a - before) / MINUTE;
        let back = done + rng.range(10, 30) as i64 * MINUTE;
        let m = minute_of_day(t_a);
        let same_day = report::local_day(ZONE, t_a) == report::local_day(ZONE, back);
        if t_a < from || back >= last || !(hm(9, 0)..hm(16, 30)).contains(&m) || !same_day {
            continue;
        }
        if minute_of_day(back) > hm(17, 25) || window < 4 {
            continue;
        }
        let Some(key) = repair_key(p, ci, &category, s, t_a - 15 * MINUTE, back) else { continue };
        let k = &p.keys[key];
        let special = !k.special.is_empty();
        if special && window < 12 {
            continue;
        }
        let opens = if k.use_ == Use::Vacant { "楼上空置房".to_string() } else { k.room.clone() };
        let loan = LoanDef {
            key,
            reason_kind: "repair",
            reason: format!("{}，需进入{}检修", s.input.reason, opens),
            sheet: Some(si),
            due_at: at(report::local_day(ZONE, t_a), hm(17, 30)),
            taker: Taker::Staff("tech"),
            condition: (k.use_ == Use::Vacant).then(|| {
                if rng.chance(500) { ("attention", "卫生间防水层渗漏，已报工程部") } else { ("good", "") }
            }),
        };
        if special {
            p.lend_approved(ci, loan, t_a - 11 * MINUTE, t_a - 7 * MINUTE, t_a - 3 * MINUTE, back);
        } else {
            let out = t_a - rng.range(2, window.min(15) as u64 - 1) as i64 * MINUTE;
            p.lend(ci, loan, out, Some(back));
        }
    }
}

/// A free stretch of a working day for `key`: out between `lo` and `hi` (minutes of the
/// day), back `len` minutes later (range), before 17:25.
fn slot(p: &Plan, rng: &mut Rng, key: usize, day: NaiveDate, lo: i64, hi: i64, len: (u64, u64)) -> Option<(i64, i64)> {
    let out = at(day, rng.range(lo as u64, hi as u64) as i64);
    let back = out + rng.range(len.0, len.1) as i64 * MINUTE;
    (minute_of_day(back) <= hm(17, 25) && p.free(key, out - 20 * MINUTE, back + 5 * MINUTE)).then_some((out, back))
}

/// A public room lent for its work: the room, reason kind and reason, the taker, every how
/// many days (range) and for how many minutes (range).
type Lend = (Use, &'static str, &'static str, Taker, (u64, u64), (u64, u64));

/// The everyday rounds: vacant units inspected every two weeks or so by the building
/// manager (R-DUTY-3), the special rooms' monthly checks with approval (one refused), the
/// public rooms lent for their work.
fn rounds(p: &mut Plan, rng: &mut Rng, ci: usize, first: NaiveDate, present: NaiveDate) {
    let last = present - Duration::days(1);
    let weekday = |d: NaiveDate| d.weekday().number_from_monday() <= 5;
    for key in p.find(ci, Use::Vacant) {
        let mut day = report::local_day(ZONE, p.keys[key].created) + Duration::days(rng.range(3, 13) as i64);
        while day < last {
            if weekday(day)
                && let Some((out, back)) = slot(p, rng, key, day, hm(9, 30), hm(15, 30), (35, 100))
            {
                let condition = if rng.chance(150) { ("attention", rng.pick(ATTENTION)) } else { ("good", "") };
                let loan = LoanDef {
                    key,
                    reason_kind: "inspection",
                    reason: "空置房定期巡查".into(),
                    sheet: None,
                    due_at: back + rng.range(30, 90) as i64 * MINUTE,
                    taker: Taker::Staff("building"),
                    condition: Some(condition),
                };
                p.lend(ci, loan, out, Some(back));
            }
            day += Duration::days(rng.range(11, 17) as i64);
        }
    }
    // Owners who came to open their vacant unit themselves: inspected without the key.
    let vacant = p.find(ci, Use::Vacant);
    for n in 0..2 {
        let key = vacant[(n * 5 + 2) % vacant.len()];
        let day = first + Duration::days(10 + 17 * n as i64);
        p.push(at(day, hm(10, 0) + rng.range(0, 300) as i64), ci, BUILDING, KeyOp::Inspect(key));
    }
    let mut refused = false;
    for (use_, reason) in ROUNDS {
        for key in p.find(ci, *use_) {
            let mut day = first + Duration::days(rng.range(4, 20) as i64);
            while day < last {
                if weekday(day)
                    && let Some((out, back)) = slot(p, rng, key, day, hm(9, 40), hm(15, 0), (40, 100))
                {
                    let loan = LoanDef {
                        key,
                        reason_kind: "inspection",
                        reason: (*reason).into(),
                        sheet: None,
                        due_at: back + HOUR,
                        taker: Taker::Staff("tech"),
                        condition: None,
                    };
                    let ask = out - rng.range(25, 50) as i64 * MINUTE;
                    let decide = out - rng.range(5, 20) as i64 * MINUTE;
                    if *use_ == Use::Roof && !refused {
                        // A gale warning that day: no work on the roof.
                        refused = true;
                        p.loans.push(loan);
                        let i = p.loans.len() - 1;
                        p.push(ask, ci, DESK, KeyOp::Ask(i));
                        p.push(
                            decide,
                            ci,
                            MANAGER,
                            KeyOp::Decide(i, Some("今日大风橙色预警，禁止上天台作业，改期进行")),
                        );
                    } else {
                        p.lend_approved(ci, loan, ask, decide, out, back);
                    }
                }
                day += Duration::days(rng.range(18, 30) as i64);
            }
        }
    }
    let lends: &[Lend] = &[
        (Use::Activity, "other_work", "业主合唱团排练", Taker::Visitor(VISITORS[0], String::new()), (5, 7), (120, 150)),
        (Use::Meeting, "other_work", "业主座谈会", Taker::Staff("cs_supervisor"), (12, 20), (60, 120)),
        (Use::Garbage, "other_work", "垃圾房消杀", Taker::Staff("security"), (6, 9), (30, 60)),
        (Use::Garden, "other_work", "绿化修剪取工具", Taker::Staff("tech"), (8, 14), (60, 150)),
        (Use::Garage, "inspection", "地库排风设备巡查", Taker::Staff("security"), (9, 15), (30, 70)),
    ];
    for (use_, kind, reason, taker, every, len) in lends {
        let Some(&key) = p.find(ci, *use_).first() else { continue };
        let taker = match taker {
            Taker::Visitor(name, _) => Taker::Visitor(name, synth::mobile(rng)),
            t => t.clone(),
        };
        let mut day = first + Duration::days(rng.range(2, 8) as i64);
        while day < last {
            if let Some((out, back)) = slot(p, rng, key, day, hm(9, 0), hm(15, 0), *len) {
                let loan = LoanDef {
                    key,
                    reason_kind: kind,
                    reason: (*reason).into(),
                    sheet: None,
                    due_at: at(day, hm(17, 30)),
                    taker: taker.clone(),
                    condition: None,
                };
                p.lend(ci, loan, out, Some(back));
            }
            day += Duration::days(rng.range(every.0, every.1) as i64);
        }
    }
}

/// The contractors of renovated units take the key in the morning and bring it back
/// before the desk closes, on about half of the working days of the agreement.
fn renovation(p: &mut Plan, rng: &mut Rng, ci: usize, present: NaiveDate) {
    let last = present - Duration::days(1);
    for a in 0..p.agreements.len() {
        let ag = p.agreements[a].clone();
        if p.keys[ag.key].community != ci {
            continue;
        }
        let mut day = report::local_day(ZONE, ag.starts) + Duration::days(1);
        while day < last && at(day, hm(18, 0)) < ag.ends {
            if day.weekday().number_from_monday() <= 6 && rng.chance(500) {
                let out = at(day, hm(8, 40) + rng.range(0, 40) as i64);
                let back = at(day, hm(16, 30) + rng.range(0, 45) as i64);
                if p.free(ag.key, out - MINUTE, back + MINUTE) {
                    let loan = LoanDef {
                        key: ag.key,
                        reason_kind: "renovation",
                        reason: "装修施工进场".into(),
                        sheet: None,
                        due_at: at(day, hm(17, 30)),
                        taker: Taker::Contractor(a),
                        condition: None,
                    };
                    p.lend(ci, loan, out, Some(back));
                }
            }
            day += Duration::days(1);
        }
    }
}

/// Yesterday and this morning: the contractor of the renovation in force has not brought
/// the key back since yesterday (the evening count found it overdue); this morning the
/// building manager took a vacant unit's key and a technician the light wells' key; a
/// roof's approval waits for the manager.
fn the_present(p: &mut Plan, rng: &mut Rng, ci: usize, present: NaiveDate, until: i64) {
    let yesterday = present - Duration::days(1);
    if let Some(a) = (0..p.agreements.len()).rev().find(|&a| p.keys[p.agreements[a].key].community == ci) {
        let key = p.agreements[a].key;
        let out = at(yesterday, hm(8, 45) + rng.range(0, 15) as i64);
        let loan = LoanDef {
            key,
            reason_kind: "renovation",
            reason: "装修施工进场".into(),
            sheet: None,
            due_at: at(yesterday, hm(17, 0)),
            taker: Taker::Contractor(a),
            condition: None,
        };
        if p.free(key, out - MINUTE, i64::MAX) {
            p.lend(ci, loan, out, None);
        }
    }
    // Due back this afternoon; if the demo starts late in the day, tomorrow morning.
    let due = if until < at(present, hm(16, 0)) {
        at(present, hm(17, 0))
    } else {
        at(present + Duration::days(1), hm(10, 0))
    };
    let vacant = p.find(ci, Use::Vacant);
    if let Some(&key) = vacant.iter().find(|&&k| p.free(k, at(present, 0), i64::MAX)) {
        let loan = LoanDef {
            key,
            reason_kind: "inspection",
            reason: "空置房定期巡查".into(),
            sheet: None,
            due_at: due,
            taker: Taker::Staff("building"),
            condition: None,
        };
        p.lend(ci, loan, at(present, hm(8, 46)), None);
    }
    if let Some(&key) = p.find(ci, Use::Light).first()
        && p.free(key, at(present, 0), i64::MAX)
    {
        let loan = LoanDef {
            key,
            reason_kind: "inspection",
            reason: "楼道照明线路巡查".into(),
            sheet: None,
            due_at: due,
            taker: Taker::Staff("tech"),
            condition: None,
        };
        p.lend(ci, loan, at(present, hm(8, 50)), None);
    }
    if let Some(&key) = p.find(ci, Use::Roof).first() {
        let loan = LoanDef {
            key,
            reason_kind: "inspection",
            reason: "天台太阳能热水器支架加固，需上天台查看".into(),
            sheet: None,
            due_at: due,
            taker: Taker::Staff("tech"),
            condition: None,
        };
        p.loans.push(loan);
        let i = p.loans.len() - 1;
        p.push(at(present, hm(8, 55)), ci, DESK, KeyOp::Ask(i));
    }
}

// ---- playing ----

fn deliver(k: &KeyDef, sig: &str) -> k::ReceiveInput {
    k::ReceiveInput {
        version: 0,
        deliverer_name: k.deliverer.clone(),
        deliverer_department: k.department.into(),
        delivered_at: None,
        quantity: k.quantity,
        signature: sig.into(),
        signature_typed: false,
        note: String::new(),
    }
}

fn seal_no(code: &str, n: u32) -> String {
    format!("{code}-{n:06}")
}

/// Play one step; `Ok(false)` when it waits on a row an earlier step did not make.
pub(super) async fn run(
    app: &App,
    refs: &[Refs],
    plan: &Plan,
    books: &mut Books,
    sheets: &[Option<i64>],
    item: &Item,
    sig: &str,
) -> Result<bool, AppError> {
    let ci = item.community;
    let r = &refs[ci];
    let actor = actor_for(r, item.who, 0)?;
    let code = COMMUNITIES[ci].code;
    let cabinet = books.cabinets[ci];
    match &item.op {
        KeyOp::Cabinet => {
            let input = k::CabinetInput {
                name: "前台钥匙柜".into(),
                location: "客服中心前台".into(),
                keeper_id: Some(r.user("desk")),
            };
            books.cabinets[ci] = Some(k::create_cabinet(app, actor, r.id, &input).await?.id);
        }
        KeyOp::Settings => {
            let current = k::settings(app, actor, r.id).await?;
            // The walk-up estate's desk closes its day earlier.
            let hour = if ci == 0 { 22 } else { 21 };
            let input = k::SettingsInput { version: current.version, phone_confirmation: true, count_due_hour: hour };
            k::save_settings(app, actor, r.id, &input).await?;
        }
        KeyOp::Create(i) => {
            let Some(cabinet_id) = cabinet else { return Ok(false) };
            let d = &plan.keys[*i];
            let input = k::KeySetInput {
                cabinet_id,
                tag: d.tag.clone(),
                hook: d.hook.clone(),
                room_no: d.room_no.clone(),
                room: d.room.clone(),
                special: d.special.into(),
                basis: d.basis.into(),
                note: String::new(),
                receipt: deliver(d, sig),
            };
            books.keys[*i] = Some(k::create_key_set(app, actor, r.id, &input).await?.key.id);
        }
        KeyOp::Receive(i) => {
            let Some(id) = books.keys[*i] else { return Ok(false) };
            let Some(key) = sk::key_set(app.store.read(), id).await? else { return Ok(false) };
            let input = k::ReceiveInput {
                version: key.version,
                deliverer_name: r.name("dispatcher"),
                deliverer_department: "工程部".into(),
                quantity: 1,
                note: "补配钥匙一把".into(),
                ..deliver(&plan.keys[*i], sig)
            };
            k::receive(app, actor, id, &input).await?;
        }
        KeyOp::Agreement(a) => {
            let d = &plan.agreements[*a];
            let Some(id) = books.keys[d.key] else { return Ok(false) };
            let input = k::AgreementInput {
                owner_name: d.owner.clone(),
                starts_at: d.starts,
                ends_at: d.ends,
                scope: vec!["renovation".into(), "inspection".into(), "emergency".into()],
                people: vec![k::PersonInput {
                    name: d.foreman.clone(),
                    relation: "装修队负责人".into(),
                    phone: d.foreman_phone.clone(),
                }],
                signature: sig.into(),
                signature_typed: false,
            };
            let detail = k::add_agreement(app, actor, id, &input).await?;
            books.agreement_person[*a] = detail.agreements.first().and_then(|a| a.people.first()).map(|p| p.id);
        }
        KeyOp::Ask(l) => {
            let d = &plan.loans[*l];
            let Some(id) = books.keys[d.key] else { return Ok(false) };
            let input =
                k::ApprovalRequest { reason: d.reason.clone(), sheet_number: sheet_number(app, sheets, d).await? };
            books.approvals[*l] = Some(k::request_approval(app, actor, id, &input).await?.id);
        }
        KeyOp::Decide(l, refusal) => {
            let Some(id) = books.approvals[*l] else { return Ok(false) };
            let Some(a) = sk::approval(app.store.read(), id).await? else { return Ok(false) };
            let input = k::ApprovalDecision {
                version: a.version,
                approve: refusal.is_none(),
                note: refusal.map_or_else(|| "同意，注意作业安全".into(), str::to_string),
            };
            k::decide_approval(app, actor, id, &input).await?;
        }
        KeyOp::SignOut(l) => {
            let d = &plan.loans[*l];
            let Some(id) = books.keys[d.key] else { return Ok(false) };
            if !plan.keys[d.key].special.is_empty() && books.approvals[*l].is_none() {
                return Ok(false);
            }
            let sheet_number = sheet_number(app, sheets, d).await?;
            if d.sheet.is_some() && sheet_number.is_empty() {
                return Ok(false);
            }
            let Some(key) = sk::key_set(app.store.read(), id).await? else { return Ok(false) };
            let mut input = k::SignOutInput {
                version: key.version,
                quantity: 1,
                reason_kind: d.reason_kind.into(),
                reason: d.reason.clone(),
                sheet_number,
                due_at: d.due_at,
                taker_kind: "staff".into(),
                taker_user_id: None,
                taker_name: String::new(),
                taker_phone: String::new(),
                authorisation: String::new(),
                agreement_person_id: None,
                letter: String::new(),
                authorisation_note: String::new(),
                phone_confirmed_number: String::new(),
                approval_id: books.approvals[*l],
                signature: sig.into(),
                signature_typed: false,
            };
            match &d.taker {
                Taker::Staff(who) => input.taker_user_id = Some(r.user(who)),
                Taker::Visitor(name, phone) => {
                    input.taker_kind = "other".into();
                    input.taker_name = (*name).into();
                    input.taker_phone = phone.clone();
                }
                Taker::Contractor(a) => {
                    let ag = &plan.agreements[*a];
                    let Some(person) = books.agreement_person[*a] else { return Ok(false) };
                    input.taker_kind = "other".into();
                    input.taker_name = ag.foreman.clone();
                    input.taker_phone = ag.foreman_phone.clone();
                    input.authorisation = "agreement".into();
                    input.agreement_person_id = Some(person);
                    // The desk calls the owner before the key leaves (R-KEY-5).
                    input.phone_confirmed_number = ag.owner_phone.clone();
                }
            }
            let detail = k::sign_out(app, actor, id, &input).await?;
            books.loans[*l] = detail.key.loan_id;
        }
        KeyOp::Return(l) => {
            let Some(id) = books.loans[*l] else { return Ok(false) };
            let Some(loan) = sk::loan(app.store.read(), id).await? else { return Ok(false) };
            let (condition, note) = plan.loans[*l].condition.unwrap_or(("", ""));
            let input = k::ReturnInput {
                version: loan.version,
                quantity: loan.quantity - loan.returned,
                returner_name: loan.taker_name.clone(),
                signature: sig.into(),
                signature_typed: false,
                condition: condition.into(),
                condition_note: note.into(),
            };
            k::take_back(app, actor, id, &input).await?;
        }
        KeyOp::Seal => {
            let Some(id) = cabinet else { return Ok(false) };
            let Some(c) = sk::cabinet(app.store.read(), id).await? else { return Ok(false) };
            books.seals[ci] += 1;
            let input = k::SealInput { version: c.version, seal_no: seal_no(code, books.seals[ci]) };
            k::seal(app, actor, id, &input).await?;
        }
        KeyOp::Open => {
            let Some(id) = cabinet else { return Ok(false) };
            let Some(c) = sk::cabinet(app.store.read(), id).await? else { return Ok(false) };
            let input = k::MorningInput { version: c.version, seal_seen: c.seal_no.clone(), intact: true };
            k::open_in_morning(app, actor, id, &input).await?;
        }
        KeyOp::Count { short } => {
            let Some(id) = cabinet else { return Ok(false) };
            // What hangs on the hooks is what the books say, but for the one key short.
            let sheet = sk::count_sheet(app.store.read(), id).await?;
            let miss = short.and_then(|_| {
                let on_hook: Vec<usize> = (0..sheet.len()).filter(|&i| sheet[i].4 > 0).collect();
                on_hook.get(on_hook.len() / 3).copied()
            });
            let lines = sheet
                .iter()
                .enumerate()
                .map(|(i, l)| k::CountedLine { key_set_id: l.0, counted: l.4 - i64::from(Some(i) == miss) })
                .collect();
            let result = k::record_count(app, actor, id, &k::CountInput { lines }).await?;
            if let Some(n) = short {
                books.incidents[*n] = result.incidents.first().copied();
            }
        }
        KeyOp::Report(n) => {
            let Some(id) = books.incidents[*n] else { return Ok(false) };
            let Some(i) = sk::incident(app.store.read(), id).await? else { return Ok(false) };
            let input = k::ReportInput {
                version: i.version,
                report: "清点时该钩位少一把钥匙，已查当日收发记录，无未归还记录，已报客服主管".into(),
            };
            k::report_incident(app, actor, id, &input).await?;
        }
        KeyOp::Resolve(n) => {
            let Some(id) = books.incidents[*n] else { return Ok(false) };
            let Some(i) = sk::incident(app.store.read(), id).await? else { return Ok(false) };
            let input = k::ResolveInput {
                version: i.version,
                resolution: "found".into(),
                note: "钥匙误挂在相邻钩位，已找到并归位；已提醒前台归还时核对钩位".into(),
            };
            k::resolve_incident(app, actor, id, &input).await?;
        }
        KeyOp::Release(a) => {
            let d = &plan.agreements[*a];
            let Some(id) = books.keys[d.key] else { return Ok(false) };
            let Some(key) = sk::key_set(app.store.read(), id).await? else { return Ok(false) };
            let input = k::ReleaseInput {
                version: key.version,
                receiver_name: d.owner.clone(),
                signature: sig.into(),
                signature_typed: false,
            };
            k::release(app, actor, id, &input).await?;
        }
        KeyOp::Inspect(key) => {
            let Some(id) = books.keys[*key] else { return Ok(false) };
            let Some(unit) = sk::key_set(app.store.read(), id).await?.and_then(|k| k.unit_id) else { return Ok(false) };
            let input =
                k::InspectionInput { condition: "good".into(), note: "业主到场开门，一并巡查".into() };
            k::record_inspection(app, actor, unit, &input).await?;
        }
    }
    Ok(true)
}

/// The number of the loan's repair sheet, if it has one and it was registered.
async fn sheet_number(app: &App, sheets: &[Option<i64>], d: &LoanDef) -> Result<String, AppError> {
    let Some(id) = d.sheet.and_then(|s| sheets[s]) else { return Ok(String::new()) };
    Ok(st::sheet(app.store.read(), id).await?.map(|s| s.number).unwrap_or_default())
}

/// What an item is, for a refusal's report.
pub(super) fn describe(plan: &Plan, item: &Item) -> String {
    let tag = |key: usize| plan.keys[key].tag.clone();
    let what = match &item.op {
        KeyOp::Create(i) | KeyOp::Receive(i) | KeyOp::Inspect(i) => format!("{:?} {}", item.op, tag(*i)),
        KeyOp::Agreement(a) | KeyOp::Release(a) => format!("{:?} {}", item.op, tag(plan.agreements[*a].key)),
        KeyOp::Ask(l) | KeyOp::Decide(l, _) | KeyOp::SignOut(l) | KeyOp::Return(l) => {
            format!("{:?} {} {}", item.op, tag(plan.loans[*l].key), plan.loans[*l].reason)
        }
        op => format!("{op:?}"),
    };
    format!("key {} {what}", COMMUNITIES[item.community].code)
}

//! Eight weeks of the desk's work for the demo company, played through the same use-cases
//! as real work (`sheet::register`, `sheet::act`, the follow-ups, the weekly table), each
//! step by the demo account whose part it is, on a clone of the application whose clock is
//! moved back to the step's instant.
//!
//! The history is planned first — every sheet a script of steps at instants in the
//! community's working day, drawn from the demo's seed — and then played in the order of
//! its instants across both communities, so sheet numbers, notices, follow-up sampling and
//! the weekly tables see the days pass as they would. A step whose instant is not yet past
//! is not played: what was registered in the last days is still open, at whatever point
//! its script had reached.

mod keys;

use super::synth::Rng;
use super::{BoxError, COMMUNITIES, SEED, STAFF, username};
use crate::app::request::{ComplaintIntake, FlowAction, QuoteLine, RepairIntake};
use crate::app::sheet::{Action, RegisterInput, SheetAction};
use crate::app::{Actor, App, AppError, Clock, followup, notify, report, request as rq, sheet};
use crate::store::{auth as sa, org as so, sheet as st};
use chrono::{Datelike, Duration, NaiveDate, Timelike};
use huiqian_domain::unit::DepartmentKind;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// The demo's communities keep Beijing time.
const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
/// Days of history before today.
const DAYS: i64 = 55;

/// What was played: counts, and the steps the application refused (none, when the scripts
/// are right; a refused step ends its sheet's script and is reported here).
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub sheets: usize,
    pub steps: usize,
    /// Steps of the key register (`app::keys`) played.
    pub key_steps: usize,
    pub refused: Vec<String>,
    /// The instant the history was played up to (a minute before it was loaded).
    pub until: i64,
}

/// Who takes a step: a demo account by its role, or whoever the sheet or task names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Staff(&'static str),
    /// The sheet's first-contact owner (a sheet security or a technician registered went
    /// to a receptionist of the application's choosing).
    FirstContact,
}

const DESK: Who = Who::Staff("desk");
const SUPERVISOR: Who = Who::Staff("cs_supervisor");
const MANAGER: Who = Who::Staff("cs_manager");
const DIRECTOR: Who = Who::Staff("director");
const DISPATCHER: Who = Who::Staff("dispatcher");
const TECH: Who = Who::Staff("tech");
const SECURITY: Who = Who::Staff("security");
const FINANCE: Who = Who::Staff("finance");

/// A step after registration.
#[derive(Debug, Clone)]
enum Op {
    Act(Action),
    /// Record the sheet's follow-up task, if the sampling made one (R-FU-3).
    FollowUp {
        outcome: &'static str,
        phone: bool,
        content: &'static str,
    },
    /// The manager reviews a recorded task (R-FU-4).
    Review,
    /// The corrective action of an unsatisfied follow-up: planned, carried out, verified.
    CapaPlan {
        responsible: Who,
    },
    CapaImplement,
    CapaVerify,
}

#[derive(Debug, Clone)]
struct Step {
    at: i64,
    who: Who,
    op: Op,
}

/// One sheet's life as planned.
#[derive(Debug, Clone)]
struct Script {
    community: usize,
    at: i64,
    who: Who,
    input: RegisterInput,
    steps: Vec<Step>,
}

/// A community's accounts, departments, price list and knowledge base, by what the
/// scripts call them.
struct Refs {
    id: i64,
    users: Vec<(&'static str, i64, Actor, String)>,
    departments: Vec<(DepartmentKind, i64)>,
    labour: i64,
    material: i64,
    articles: Vec<i64>,
    requesters: Vec<Requester>,
}

/// A resident who comes to the desk.
#[derive(Debug, Clone)]
pub struct Requester {
    pub room_no: String,
    pub person_id: i64,
    pub name: String,
}

impl Refs {
    fn user(&self, suffix: &str) -> i64 {
        self.users.iter().find(|u| u.0 == suffix).map_or(0, |u| u.1)
    }

    fn name(&self, suffix: &str) -> String {
        self.users.iter().find(|u| u.0 == suffix).map(|u| u.3.clone()).unwrap_or_default()
    }

    fn department(&self, kind: DepartmentKind) -> i64 {
        self.departments.iter().find(|d| d.0 == kind).map_or(0, |d| d.1)
    }

    fn actor_by_id(&self, id: i64) -> Option<&Actor> {
        self.users.iter().find(|u| u.1 == id).map(|u| &u.2)
    }

    fn actor(&self, suffix: &str) -> Option<&Actor> {
        self.users.iter().find(|u| u.0 == suffix).map(|u| &u.2)
    }
}

/// A scribble for the residents' signatures (a real PNG: the application checks it).
fn signature() -> String {
    use base64::Engine;
    let img = image::GrayImage::from_fn(160, 48, |x, y| {
        let wave = 24.0 + 14.0 * ((x as f64) / 11.0).sin() * ((x as f64) / 37.0).cos();
        image::Luma([if (y as f64 - wave).abs() < 1.6 { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(out.into_inner()))
}

// ---- time ----

fn local_start(day: NaiveDate) -> i64 {
    report::day_start_ms(ZONE, day)
}

/// Minutes since local midnight.
fn minute_of_day(at: i64) -> i64 {
    let t = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default().with_timezone(&ZONE);
    i64::from(t.hour()) * 60 + i64::from(t.minute())
}

/// The instant itself if it falls in the desk's day (08:30–17:30), else the next morning
/// a little after opening.
fn working(rng: &mut Rng, at: i64) -> i64 {
    let m = minute_of_day(at);
    let opening = 8 * 60 + 30;
    if (opening..17 * 60 + 30).contains(&m) {
        return at;
    }
    let day = report::local_day(ZONE, at) + Duration::days(if m >= opening { 1 } else { 0 });
    local_start(day) + opening * MINUTE + rng.range(5, 75) as i64 * MINUTE
}

/// A script being written: the instant of its last step.
struct Writer<'r> {
    rng: &'r mut Rng,
    t: i64,
    steps: Vec<Step>,
}

impl Writer<'_> {
    /// Some minutes later, in working hours.
    fn later(&mut self, lo: u64, hi: u64) -> i64 {
        let t = self.t + self.rng.range(lo, hi) as i64 * MINUTE;
        self.t = working(self.rng, t);
        self.t
    }

    /// Some minutes later, at any hour (a technician called out, a third party).
    fn soon(&mut self, lo: u64, hi: u64) -> i64 {
        self.t += self.rng.range(lo, hi) as i64 * MINUTE;
        self.t
    }

    fn push(&mut self, who: Who, op: Op) {
        self.steps.push(Step { at: self.t, who, op });
    }

    fn act(&mut self, lo: u64, hi: u64, who: Who, a: SheetAction) {
        self.later(lo, hi);
        self.push(who, Op::Act(Action::Sheet(a)));
    }

    fn flow(&mut self, lo: u64, hi: u64, who: Who, a: FlowAction) {
        self.later(lo, hi);
        self.push(who, Op::Act(Action::Flow(a)));
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.rng.chance(per_mille)
    }
}

// ---- what residents come about ----

const REPAIRS: &[(&str, &str)] = &[
    ("厨房水管漏水", "water"),
    ("卫生间马桶堵塞", "drainage"),
    ("楼道灯不亮", "lighting"),
    ("入户门锁坏了，钥匙拧不动", "door_window"),
    ("电梯按键失灵", "lift"),
    ("客厅插座没电", "electrical"),
    ("窗户关不严，漏风", "door_window"),
    ("单元门禁刷卡无反应", "intercom"),
    ("暖气片不热", "heating"),
    ("阳台地漏反味", "drainage"),
    ("水龙头一直滴水", "fixtures"),
    ("卫生间漏水到楼下", "water"),
    ("单元门口地砖松动", "public_area"),
    ("燃气灶打不着火，有异味", "gas"),
];

const WORK_DONE: &[(&str, &str)] = &[
    ("更换角阀，试水无渗漏", "角阀 1 个"),
    ("疏通管道，排水正常", ""),
    ("更换 LED 灯泡", "LED 灯泡 9W 1 个"),
    ("更换锁芯，试开正常", "锁芯 1 个"),
    ("紧固接线，恢复供电", "空气开关 32A 1 个"),
    ("调整合页和密封条", "密封条 2 米"),
    ("排气放水，暖气恢复", ""),
];

/// Complaints: category, reason, cause, course, place, where it goes.
const COMPLAINTS: &[(&str, &str, &str, &str, &str, DepartmentKind)] = &[
    (
        "噪音",
        "楼上装修噪音扰民",
        "楼上住户装修",
        "上午八点前开始电钻作业，持续两个小时",
        "本单元楼上住户",
        DepartmentKind::Security,
    ),
    (
        "维修质量",
        "维修后仍然漏水",
        "上周维修的水管再次漏水",
        "更换接头后第三天又开始滴水",
        "业主家厨房",
        DepartmentKind::Engineering,
    ),
    (
        "停车",
        "消防通道被车辆占用",
        "外来车辆停在消防通道",
        "晚上九点以后通道被堵，多次反映",
        "北侧消防通道",
        DepartmentKind::Security,
    ),
    (
        "服务态度",
        "门岗保安态度生硬",
        "访客登记时发生争执",
        "保安拒绝解释登记要求",
        "小区东门岗亭",
        DepartmentKind::Security,
    ),
    ("设施", "电梯频繁停运", "电梯一周内停运三次", "早高峰被困五分钟", "本单元电梯", DepartmentKind::Engineering),
    ("宠物", "邻居遛狗不拴绳", "遛狗不拴绳", "孩子在中心花园被狗吓哭", "中心花园", DepartmentKind::Security),
];

/// Inquiries: question, answer, basis, the knowledge-base article it cites (by its place).
const INQUIRIES: &[(&str, &str, &str, Option<usize>)] = &[
    (
        "装修可以几点施工",
        "工作日 8:00—12:00、14:00—18:00 可以施工，周末不得进行产生噪音的施工。",
        "本小区《管理规约》第十二条",
        Some(0),
    ),
    ("物业费怎么交", "按季度预交，可在客服中心或线上缴纳。", "物业服务合同第五条", Some(1)),
    ("停水通知什么时候发", "计划停水至少提前 24 小时在单元门口和业主群通知。", "《物业服务规范》", Some(2)),
    ("养狗需要登记吗", "犬只须办证，出行拴绳并及时清理粪便。", "《城市养犬管理规定》", Some(3)),
    ("访客车辆怎么停", "访客车辆登记后可免费停放 2 小时。", "停车管理办法", Some(4)),
    ("门禁卡丢了怎么补办", "带身份证到客服中心登记，当场补办。", "门禁卡管理规定", None),
];

const SUGGESTIONS: &[(&str, &str, &str)] = &[
    (
        "建议在地库增加电动车充电桩",
        "需求集中在 2、3 号楼，地库有配电余量",
        "已列入明年改造计划，先在地库东侧试点 10 个充电位。",
    ),
    ("建议加装儿童游乐设施", "中心花园空地可用，需业主大会同意", "将在下次业主大会上提出，通过后实施。"),
    ("建议延长会所开放时间", "晚间使用人数较多，需增加值班人员", "自下月起周五、周六开放至 22:00。"),
    ("建议单元门口增设雨棚", "雨天进出湿滑，费用可从公共收益列支", "已报价，待业委会审批后施工。"),
];

/// Situation reports: reason, the department it goes to.
const REPORTS: &[(&str, DepartmentKind)] = &[
    ("楼道堆放杂物，影响通行", DepartmentKind::Security),
    ("地库有异味", DepartmentKind::Engineering),
    ("路灯损坏两盏", DepartmentKind::Engineering),
    ("小区东门有陌生人推销", DepartmentKind::Security),
    ("单元门闭门器损坏", DepartmentKind::Engineering),
];

/// Matters that are not the centre's: reason, the third party.
const BEYOND: &[(&str, &str)] = &[
    ("小区外市政路面塌陷", "市政道路养护中心"),
    ("供暖主管道压力不足", "市热力集团"),
    ("小区门口公交站牌损坏", "公交集团"),
];

const SERVICES: &[(&str, DepartmentKind)] = &[
    ("家电搬运", DepartmentKind::Engineering),
    ("空调清洗", DepartmentKind::Engineering),
    ("代收大件快递", DepartmentKind::Security),
    ("搬家时临时占用电梯", DepartmentKind::Security),
];

const OTHERS: &[(&str, DepartmentKind)] = &[
    ("物业费发票补开", DepartmentKind::Finance),
    ("捡到钥匙一串", DepartmentKind::Security),
    ("预存物业费退款", DepartmentKind::Finance),
];

// ---- planning ----

fn pick_channel(rng: &mut Rng) -> &'static str {
    match rng.below(100) {
        0..=49 => "phone",
        50..=89 => "visit",
        90..=95 => "letter",
        _ => "other",
    }
}

/// Who registers: mostly the receptionist; the supervisor, the building manager and the
/// move-in receptionist now and then.
fn pick_registrar(rng: &mut Rng, kind: &str) -> Who {
    match (rng.below(100), kind) {
        (0..=9, _) => SUPERVISOR,
        (10..=21, "repair" | "situation_report" | "other") => Who::Staff("building"),
        (10..=29, "inquiry") => Who::Staff("movein"),
        _ => DESK,
    }
}

fn base_input(rng: &mut Rng, r: &Refs, kind: &str, channel: &str, reason: &str, sig: &str) -> RegisterInput {
    let who = &r.requesters[rng.below(r.requesters.len() as u64) as usize];
    RegisterInput {
        kind: kind.into(),
        channel: channel.into(),
        room_no: who.room_no.clone(),
        person_id: Some(who.person_id),
        requester_name: who.name.clone(),
        reason: reason.into(),
        signature: if channel == "visit" { sig.into() } else { String::new() },
        ..Default::default()
    }
}

/// The desk collects a sheet back: signed by the resident at the desk, or confirmed by
/// phone (which owes a later signature, R-SHEET-7).
fn collect(w: &mut Writer, who: Who, opinion: &str, sig: &str, signer: &str) -> bool {
    let by_phone = w.chance(550);
    let at = w.later(60, 600);
    let a = SheetAction::Collect {
        opinion: opinion.into(),
        signature: if by_phone { String::new() } else { sig.into() },
        signer: if by_phone { String::new() } else { signer.into() },
        signature_typed: false,
        phone_confirmed_at: by_phone.then_some(at - 5 * MINUTE),
        phone_note: if by_phone { "电话回复业主，业主认可处理结果".into() } else { String::new() },
        as_director: false,
        on_behalf: String::new(),
    };
    w.push(who, Op::Act(Action::Sheet(a)));
    by_phone
}

/// After collection: the later signature (补签) or a manager's waiver where one is owed,
/// then the archive — except for some still waiting for the resident's signature.
fn close(w: &mut Writer, owed: bool, sig: &str, signer: &str) {
    if owed {
        match w.rng.below(100) {
            0..=54 => w.act(
                600,
                3 * 1440,
                DESK,
                SheetAction::CaptureSignature { signature: sig.into(), signer: signer.into(), signature_typed: false },
            ),
            55..=74 => w.act(
                1440,
                4 * 1440,
                MANAGER,
                SheetAction::WaiveSignature {
                    reason: "业主长期在外地，已电话确认，无法到场补签".into()
                },
            ),
            // Still owed: the sheet waits on the desk's 待补签 list.
            _ => return,
        }
    }
    w.act(600, 3 * 1440, Who::FirstContact, SheetAction::Archive);
}

/// The follow-up of a collected sheet, when the sampling made one (R-FU-1 … R-FU-4).
fn follow_up(w: &mut Writer, unsatisfied: bool) {
    follow_up_then(w, unsatisfied, true);
}

fn follow_up_then(w: &mut Writer, unsatisfied: bool, reviewed: bool) {
    w.later(600, 2 * 1440);
    let (outcome, content) = if unsatisfied {
        ("unsatisfied", "业主认为问题没有根本解决，仍不满意")
    } else {
        match w.rng.below(10) {
            0 => ("unreachable", "电话无人接听"),
            _ => ("satisfied", "业主对处理结果满意"),
        }
    };
    let phone = !unsatisfied && w.chance(450);
    w.push(Who::FirstContact, Op::FollowUp { outcome, phone, content });
    if outcome == "unreachable" {
        w.later(240, 1440);
        w.push(Who::FirstContact, Op::FollowUp { outcome: "satisfied", phone: false, content: "上门回访，业主满意" });
    }
    if !reviewed {
        return;
    }
    w.later(1440, 4 * 1440);
    w.push(MANAGER, Op::Review);
    if unsatisfied {
        let responsible = if w.chance(500) { DISPATCHER } else { SECURITY };
        w.later(60, 600);
        w.push(MANAGER, Op::CapaPlan { responsible });
        w.later(1440, 3 * 1440);
        w.push(responsible, Op::CapaImplement);
        w.later(600, 2 * 1440);
        let verifier = if w.chance(500) { MANAGER } else { DIRECTOR };
        w.push(verifier, Op::CapaVerify);
    }
}

/// How far a script may run: some sheets stop part-way (a department sits on them, the
/// dispatcher has not got to them), which is what leaves sheets overdue.
struct Plot {
    stall: bool,
    /// A repair the dispatcher has not got to yet: on the board, unassigned.
    board: bool,
    /// Registered in the last days: a suspension is not yet over.
    recent: bool,
    unsatisfied: bool,
    force: Option<Force>,
}

/// A sheet every first look should find, whatever the draw: placed on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Force {
    /// Suspended by the department's head, not yet resumed.
    Suspended,
    /// A repair on the dispatcher's board.
    Board,
    /// With a department that has sat on it: not received (0), received (1), started (2).
    Stalled(u64),
    /// Registered by the building manager, who has its follow-up still to do.
    Building,
    /// A complaint followed up unsatisfied, waiting for the manager's review; its
    /// corrective action not yet planned.
    Unreviewed,
}

fn repair(w: &mut Writer, r: &Refs, input: &mut RegisterInput, sig: &str, p: &Plot) {
    let (reason, category) = w.rng.pick(REPAIRS);
    input.reason = reason.into();
    input.repair = Some(RepairIntake { category: category.into(), ..Default::default() });
    let paid = input.kind == "special_service";
    if paid {
        input.reason = "卫生间下水道疏通（有偿）".into();
        input.repair = Some(RepairIntake { category: "drainage".into(), ..Default::default() });
    }
    let emergency = matches!(category, "water" | "heating" | "gas") && !paid;
    let signer = input.requester_name.clone();
    if !emergency && w.chance(80) {
        w.flow(
            10,
            60,
            DISPATCHER,
            FlowAction::Reclassify {
                class: "emergency".into(), reason: "业主家中有老人，水电影响生活".into()
            },
        );
    }
    if p.board {
        return;
    }
    let appointment = !emergency && w.chance(200);
    let t = w.later(5, if emergency { 15 } else { 90 });
    let slot = t + DAY + w.rng.range(0, 240) as i64 * MINUTE;
    let appointment_at = appointment.then(|| working(w.rng, slot));
    w.push(
        DISPATCHER,
        Op::Act(Action::Flow(FlowAction::AssignTechnician {
            technician_id: r.user("tech"),
            appointment_at,
            note: String::new(),
        })),
    );
    if p.stall {
        return;
    }
    match appointment_at {
        Some(at) => w.t = at + w.rng.range(0, 20) as i64 * MINUTE,
        None if emergency => {
            w.soon(10, 45);
        }
        // Some arrive later than the class allows (R-REP-3).
        None => {
            w.later(20, 300);
        }
    }
    w.push(TECH, Op::Act(Action::Flow(FlowAction::Arrive)));
    if paid {
        let lines = vec![
            QuoteLine { item_id: r.labour, quantity_centi: 100 },
            QuoteLine { item_id: r.material, quantity_centi: 100 },
        ];
        w.flow(10, 30, DISPATCHER, FlowAction::QuoteCharge { lines });
        w.flow(
            5,
            20,
            TECH,
            FlowAction::ConfirmCharge {
                signature: sig.into(),
                signer: signer.clone(),
                signature_typed: false,
                phone_confirmed_at: None,
                phone_note: String::new(),
            },
        );
    }
    let (work_done, materials) = w.rng.pick(WORK_DONE);
    w.soon(20, 120);
    w.push(
        TECH,
        Op::Act(Action::Flow(FlowAction::CompleteRepair {
            work_done: work_done.into(),
            materials: materials.into(),
            signature: sig.into(),
            signer: signer.clone(),
            signature_typed: false,
        })),
    );
    // The slip back at the desk, a few late (R-REP-5: within 24 hours).
    if w.chance(100) {
        w.soon(26 * 60, 30 * 60);
        w.t = working(w.rng, w.t);
        w.push(DESK, Op::Act(Action::Flow(FlowAction::ReceiveSlip)));
    } else {
        w.flow(30, 360, DESK, FlowAction::ReceiveSlip);
    }
    w.act(
        60,
        900,
        Who::FirstContact,
        SheetAction::Collect {
            opinion: "维修完成，业主验收满意".into(),
            signature: String::new(),
            signer: String::new(),
            signature_typed: false,
            phone_confirmed_at: None,
            phone_note: String::new(),
            as_director: false,
            on_behalf: String::new(),
        },
    );
    follow_up(w, p.unsatisfied);
    close(w, false, sig, &signer);
}

/// A handover to a department: received, started, returned with its result.
fn handover(w: &mut Writer, no: u32, dept: DepartmentKind, result: &str, signer: &str, p: &Plot) -> bool {
    let (ack, work) = match dept {
        DepartmentKind::Engineering => (DISPATCHER, TECH),
        DepartmentKind::Finance => (FINANCE, FINANCE),
        _ => (SECURITY, SECURITY),
    };
    // A stalled handover waits where it is: not yet received, received, or started.
    let stop = match p.force {
        Some(Force::Stalled(n)) => n,
        _ if p.stall => w.rng.below(3),
        _ => 3,
    };
    if stop == 0 {
        return false;
    }
    w.act(10, 180, ack, SheetAction::Acknowledge { handover: no });
    if stop == 1 {
        return false;
    }
    if stop == 2 || w.chance(600) {
        w.act(10, 240, work, SheetAction::StartWork { handover: no });
    }
    if stop == 2 {
        return false;
    }
    w.act(60, 2 * 1440, work, SheetAction::Return { handover: no, result: result.into(), signer: signer.into() });
    true
}

fn head_of(dept: DepartmentKind) -> Who {
    match dept {
        DepartmentKind::Engineering => DISPATCHER,
        DepartmentKind::Finance => FINANCE,
        _ => SECURITY,
    }
}

/// A sheet sent to a department and back (situation reports, special services, others),
/// with now and then an extension, a suspension and resumption, or a termination
/// (R-SHEET-4, R-SHEET-5, R-SHEET-8).
fn dispatched(w: &mut Writer, r: &Refs, dept: DepartmentKind, sig: &str, signer: &str, p: &Plot) {
    let d = r.department(dept);
    w.act(
        10,
        120,
        Who::FirstContact,
        SheetAction::Dispatch { department_id: d, to_user_id: None, opinion: "请及时处理并回复".into() },
    );
    let worker = r.name(match dept {
        DepartmentKind::Engineering => "tech",
        DepartmentKind::Finance => "finance",
        _ => "security",
    });
    let twist = match p.force {
        Some(Force::Suspended) => 0,
        Some(Force::Building) => 50,
        _ if p.recent && w.chance(300) => 0,
        _ => w.rng.below(100),
    };
    if twist < 12 && !p.stall {
        // Suspended by the department's head, resumed by the desk, sent out again.
        w.act(10, 120, head_of(dept), SheetAction::Acknowledge { handover: 1 });
        w.act(60, 600, head_of(dept), SheetAction::Suspend { explanation: "等待厂家配件到货，暂停办理".into() });
        let (lo, hi) = if p.recent { (6 * 1440, 9 * 1440) } else { (2 * 1440, 4 * 1440) };
        w.act(lo, hi, DESK, SheetAction::Resume { note: "配件已到".into() });
        if !handover(w, 2, dept, "已处理完毕", &worker, p) {
            return;
        }
    } else if twist < 18 && !p.stall {
        w.act(10, 120, head_of(dept), SheetAction::Acknowledge { handover: 1 });
        w.act(
            60,
            600,
            head_of(dept),
            SheetAction::Terminate { explanation: "业主表示问题已自行解决，撤回申请".into() },
        );
        let owed = collect(w, Who::FirstContact, "业主撤回，同意终止", sig, signer);
        close(w, owed, sig, signer);
        return;
    } else {
        if twist < 28 {
            w.act(10, 120, head_of(dept), SheetAction::Acknowledge { handover: 1 });
            let due = w.t + 5 * DAY;
            w.act(
                30,
                300,
                head_of(dept),
                SheetAction::Extend { due_at: due, explanation: "需协调外部单位，延期处理".into() },
            );
            if p.stall {
                return;
            }
            w.act(
                60,
                2 * 1440,
                head_of(dept),
                SheetAction::Return { handover: 1, result: "已协调处理完毕".into(), signer: worker.clone() },
            );
        } else if !handover(w, 1, dept, "已处理完毕，现场恢复正常", &worker, p) {
            return;
        }
    }
    let owed = collect(w, Who::FirstContact, "处理结果满意", sig, signer);
    if p.force != Some(Force::Building) {
        follow_up_if_asked(w, p);
    }
    close(w, owed, sig, signer);
}

/// Sheets the resident asked to be followed up, and special services the sampling draws.
fn follow_up_if_asked(w: &mut Writer, p: &Plot) {
    follow_up(w, p.unsatisfied);
}

fn complaint(w: &mut Writer, r: &Refs, input: &mut RegisterInput, sig: &str, p: &Plot) {
    let (category, reason, cause, course, place, dept) = w.rng.pick(COMPLAINTS);
    input.reason = reason.into();
    input.complaint = Some(ComplaintIntake {
        category: category.into(),
        occurred_at: Some(w.t - w.rng.range(2, 48) as i64 * HOUR),
        place: place.into(),
        cause: cause.into(),
        course: course.into(),
        people_unknown: true,
        against: Some(if category == "服务态度" { "department".into() } else { "service".into() }),
        against_department_id: (category == "服务态度").then(|| r.department(DepartmentKind::Security)),
        ..Default::default()
    });
    let signer = input.requester_name.clone();
    let path = if p.force == Some(Force::Unreviewed) { 50 } else { w.rng.below(100) };
    let d = r.department(dept);
    if path < 8 {
        // Serious: flagged, judged, the director's solution (R-CMP-5).
        w.flow(
            30,
            120,
            MANAGER,
            FlowAction::FlagComplaint { reason: "serious".into(), note: "多次反映未解决，影响恶劣".into() },
        );
        let deadline = w.t + 3 * DAY;
        w.flow(
            10,
            60,
            MANAGER,
            FlowAction::JudgeComplaint {
                valid: true,
                explanation: "投诉属实，需整改".into(),
                department_id: Some(d),
                developer_contact: String::new(),
                deadline_at: Some(deadline),
            },
        );
        let meeting = w.later(120, 600);
        w.push(
            DIRECTOR,
            Op::Act(Action::Flow(FlowAction::RecordSolution {
                meeting_at: meeting - HOUR,
                attendees: "中心主任、客服部经理、相关部门负责人".into(),
                plan: "专人负责，三日内整改到位，每日向业主通报进度".into(),
                department_id: d,
            })),
        );
    } else if path < 20 {
        // Not the centre's fault: explained and closed (R-CMP-2).
        w.flow(
            30,
            240,
            MANAGER,
            FlowAction::JudgeComplaint {
                valid: false,
                explanation: "经核实属邻里纠纷，已向业主解释并建议社区调解".into(),
                department_id: None,
                developer_contact: String::new(),
                deadline_at: None,
            },
        );
        let owed = collect(w, Who::FirstContact, "接受解释", sig, &signer);
        follow_up(w, false);
        close(w, owed, sig, &signer);
        return;
    } else if path < 27 {
        // The developer's (R-CMP-4): sent on, its receipt kept.
        let deadline = w.t + 7 * DAY;
        w.flow(
            30,
            240,
            MANAGER,
            FlowAction::JudgeComplaint {
                valid: true,
                explanation: "属开发商遗留问题，转开发商客服".into(),
                department_id: None,
                developer_contact: "开发商客服中心 400-810-6688".into(),
                deadline_at: Some(deadline),
            },
        );
        if p.stall {
            return;
        }
        w.act(
            600,
            3 * 1440,
            DESK,
            SheetAction::RecordThirdPartyReceipt {
                evidence: "开发商客服已受理，受理单号 KFS-2026-1187".into()
            },
        );
        w.act(
            60,
            600,
            DIRECTOR,
            SheetAction::Collect {
                opinion: "开发商已受理并答复业主".into(),
                signature: String::new(),
                signer: String::new(),
                signature_typed: false,
                phone_confirmed_at: Some(w.t),
                phone_note: "电话告知业主".into(),
                as_director: true,
                on_behalf: String::new(),
            },
        );
        follow_up(w, p.unsatisfied);
        close(w, true, sig, &signer);
        return;
    } else {
        let deadline = w.t + 3 * DAY;
        w.flow(
            30,
            240,
            MANAGER,
            FlowAction::JudgeComplaint {
                valid: true,
                explanation: "投诉属实，请相关部门处理".into(),
                department_id: Some(d),
                developer_contact: String::new(),
                deadline_at: Some(deadline),
            },
        );
    }
    let worker = r.name(if dept == DepartmentKind::Engineering { "tech" } else { "security" });
    let (ack, work) = if dept == DepartmentKind::Engineering { (DISPATCHER, TECH) } else { (SECURITY, SECURITY) };
    w.act(10, 180, ack, SheetAction::Acknowledge { handover: 1 });
    w.flow(600, 1440, DESK, FlowAction::LogProgress { note: "已电话告知业主处理进度".into(), resident_told: true });
    if p.stall {
        return;
    }
    w.act(
        600,
        2 * 1440,
        work,
        SheetAction::Return { handover: 1, result: "已整改，并向业主致歉".into(), signer: worker },
    );
    let owed = collect(w, Who::FirstContact, "整改结果认可", sig, &signer);
    if p.force == Some(Force::Unreviewed) {
        follow_up_then(w, true, false);
        return;
    }
    follow_up(w, p.unsatisfied);
    close(w, owed, sig, &signer);
}

fn inquiry(w: &mut Writer, r: &Refs, input: &mut RegisterInput, sig: &str) {
    let (q, answer, basis, article) = w.rng.pick(INQUIRIES);
    input.reason = q.into();
    let article_id = article.and_then(|i| r.articles.get(i).copied());
    let signer = input.requester_name.clone();
    let answer_it = |article_id| FlowAction::AnswerInquiry { answer: answer.into(), basis: basis.into(), article_id };
    match w.rng.below(100) {
        // Answered there and then: closed with its answer, nothing owed (R-RECV-2).
        0..=64 => {
            w.flow(2, 10, Who::FirstContact, answer_it(article_id));
            w.act(600, 2 * 1440, Who::FirstContact, SheetAction::Archive);
        }
        // A reply promised by a time, then given.
        65..=84 => {
            let by = w.t + DAY;
            w.flow(
                5,
                20,
                Who::FirstContact,
                FlowAction::PromiseReply { by_at: by, note: "需向工程部核实后答复".into() },
            );
            w.flow(120, 900, Who::FirstContact, answer_it(None));
            let owed = collect(w, Who::FirstContact, "已答复，业主清楚", sig, &signer);
            close(w, owed, sig, &signer);
        }
        // Escalated to the manager, who answers.
        _ => {
            w.flow(
                5,
                20,
                Who::FirstContact,
                FlowAction::EscalateInquiry {
                    to_user_id: r.user("cs_manager"), note: "业主要求经理答复".into()
                },
            );
            w.flow(60, 600, MANAGER, answer_it(article_id));
            let owed = collect(w, Who::FirstContact, "经理已答复", sig, &signer);
            close(w, owed, sig, &signer);
        }
    }
}

fn suggestion(w: &mut Writer, input: &mut RegisterInput, sig: &str) {
    let (reason, analysis, reply) = w.rng.pick(SUGGESTIONS);
    input.reason = reason.into();
    let signer = input.requester_name.clone();
    let to_director = w.chance(400);
    w.flow(1440, 3 * 1440, MANAGER, FlowAction::AnalyseSuggestion { analysis: analysis.into(), to_director });
    w.flow(
        600,
        3 * 1440,
        if to_director { DIRECTOR } else { MANAGER },
        FlowAction::ReplySuggestion { reply: reply.into() },
    );
    let owed = collect(w, Who::FirstContact, "已书面回复业主", sig, &signer);
    close(w, owed, sig, &signer);
}

fn beyond(w: &mut Writer, input: &mut RegisterInput, sig: &str, p: &Plot) {
    let (reason, third) = w.rng.pick(BEYOND);
    input.reason = reason.into();
    let signer = input.requester_name.clone();
    w.act(
        30,
        240,
        Who::FirstContact,
        SheetAction::BeyondCentre {
            explanation: "不属于服务中心管理范围，已转相关单位".into(),
            third_party: Some(third.into()),
        },
    );
    if p.stall {
        return;
    }
    w.act(
        1440,
        4 * 1440,
        DESK,
        SheetAction::RecordThirdPartyReceipt { evidence: format!("{third}已受理，电话记录存档") },
    );
    w.act(
        60,
        600,
        DIRECTOR,
        SheetAction::Collect {
            opinion: "相关单位已受理，告知业主".into(),
            signature: String::new(),
            signer: String::new(),
            signature_typed: false,
            phone_confirmed_at: Some(w.t),
            phone_note: "电话告知业主".into(),
            as_director: true,
            on_behalf: String::new(),
        },
    );
    close(w, true, sig, &signer);
}

/// One sheet registered at `at` in community `ci`.
fn script(rng: &mut Rng, ci: usize, r: &Refs, at: i64, age_days: i64, sig: &str, force: Option<Force>) -> Script {
    let draw = rng.below(100);
    let kind = match force {
        Some(Force::Board) => "repair",
        Some(Force::Suspended) => "situation_report",
        Some(Force::Stalled(_)) => "other",
        Some(Force::Building) => "situation_report",
        Some(Force::Unreviewed) => "complaint",
        None => match draw {
            0..=41 => "repair",
            42..=53 => "complaint",
            54..=67 => "inquiry",
            68..=77 => "situation_report",
            78..=86 => "special_service",
            87..=93 => "suggestion",
            _ => "other",
        },
    };
    let channel = pick_channel(rng);
    let mut who = if force == Some(Force::Building) { Who::Staff("building") } else { pick_registrar(rng, kind) };
    let mut input = base_input(rng, r, kind, channel, "", sig);
    // The building manager's residents ask to hear how it went (R-FU-1).
    input.follow_up_requested = who == Who::Staff("building");
    // Stalled sheets are what goes overdue: mostly some days old, a few older.
    let stall = match age_days {
        3..=12 => rng.chance(180),
        13.. => rng.chance(25),
        _ => false,
    };
    let board = (age_days <= 2 && rng.chance(300)) || force == Some(Force::Board);
    let stall = (stall && !matches!(force, Some(Force::Suspended | Force::Building | Force::Unreviewed)))
        || matches!(force, Some(Force::Stalled(_)));
    let plot = Plot { stall, board, recent: age_days <= 5, unsatisfied: rng.chance(60), force };
    let mut w = Writer { rng, t: at, steps: vec![] };
    let signer = input.requester_name.clone();
    match kind {
        "repair" => {
            // Out of hours security takes the call; a technician on site takes one in.
            let m = minute_of_day(at);
            if !(8 * 60 + 30..17 * 60 + 30).contains(&m) {
                who = SECURITY;
                input.channel = "phone".into();
                input.signature.clear();
            } else if force.is_none() && w.chance(80) {
                who = TECH;
                input.channel = "visit".into();
                input.signature = sig.into();
            }
            if who == TECH {
                let (reason, category) = w.rng.pick(REPAIRS);
                input.reason = reason.into();
                input.repair = Some(RepairIntake { category: category.into(), ..Default::default() });
                let (work_done, materials) = w.rng.pick(WORK_DONE);
                w.soon(20, 90);
                w.push(
                    TECH,
                    Op::Act(Action::Flow(FlowAction::CompleteRepair {
                        work_done: work_done.into(),
                        materials: materials.into(),
                        signature: sig.into(),
                        signer: signer.clone(),
                        signature_typed: false,
                    })),
                );
                w.flow(30, 600, DESK, FlowAction::ReceiveSlip);
                w.act(
                    60,
                    900,
                    Who::FirstContact,
                    SheetAction::Collect {
                        opinion: "现场维修完成".into(),
                        signature: String::new(),
                        signer: String::new(),
                        signature_typed: false,
                        phone_confirmed_at: None,
                        phone_note: String::new(),
                        as_director: false,
                        on_behalf: String::new(),
                    },
                );
                close(&mut w, false, sig, &signer);
            } else {
                repair(&mut w, r, &mut input, sig, &plot);
            }
        }
        "special_service" if w.chance(400) => repair(&mut w, r, &mut input, sig, &plot),
        "special_service" => {
            let (reason, dept) = w.rng.pick(SERVICES);
            input.reason = reason.into();
            dispatched(&mut w, r, dept, sig, &signer, &plot);
        }
        "complaint" => complaint(&mut w, r, &mut input, sig, &plot),
        "inquiry" => inquiry(&mut w, r, &mut input, sig),
        "suggestion" => suggestion(&mut w, &mut input, sig),
        "situation_report" if force.is_none() && w.chance(150) => beyond(&mut w, &mut input, sig, &plot),
        "situation_report" => {
            let (reason, dept) = w.rng.pick(REPORTS);
            input.reason = reason.into();
            input.follow_up_requested |= w.chance(200);
            dispatched(&mut w, r, dept, sig, &signer, &plot);
        }
        _ => {
            let (reason, dept) = w.rng.pick(OTHERS);
            input.reason = reason.into();
            dispatched(&mut w, r, dept, sig, &signer, &plot);
        }
    }
    Script { community: ci, at, who, input, steps: w.steps }
}

/// The sheets placed whatever the draw: days back, minute of the day, what they show.
const FEATURED: &[(i64, i64, Force)] = &[
    (9, 10 * 60 + 5, Force::Stalled(0)),
    (7, 14 * 60 + 20, Force::Stalled(2)),
    (4, 9 * 60 + 40, Force::Suspended),
    (3, 11 * 60 + 15, Force::Stalled(1)),
    (1, 16 * 60 + 50, Force::Board),
    (5, 9 * 60 + 10, Force::Building),
    (8, 10 * 60 + 30, Force::Unreviewed),
];

/// When the desk registers on a day: working hours, a few in the evening (taken by
/// security for repairs).
fn registration_times(rng: &mut Rng, day: NaiveDate, n: u64) -> Vec<i64> {
    let start = local_start(day);
    let mut out: Vec<i64> = (0..n)
        .map(|_| {
            let minute =
                if rng.chance(70) { rng.range(18 * 60, 22 * 60 + 30) } else { rng.range(8 * 60 + 35, 17 * 60 + 20) };
            start + minute as i64 * MINUTE + rng.below(50) as i64 * 1000
        })
        .collect();
    out.sort_unstable();
    out
}

/// Every community's sheets over the days before `until`.
fn plan(refs: &[Refs], today: NaiveDate, sig: &str) -> Vec<Script> {
    let mut out = vec![];
    for (ci, r) in refs.iter().enumerate() {
        let code = COMMUNITIES[ci].code;
        let mut rng = Rng::derive(SEED, &format!("history/{code}"));
        // 和园 has six times the units of 柳园, but a walk-up estate calls the desk more.
        let (weekday, weekend) = if ci == 0 { (4, 2) } else { (2, 1) };
        for back in (0..=DAYS).rev() {
            let day = today - Duration::days(back);
            let busy = if day.weekday().number_from_monday() >= 6 { weekend } else { weekday };
            let n = rng.range(busy.max(1) - 1, busy + 1);
            for at in registration_times(&mut rng, day, n) {
                out.push(script(&mut rng, ci, r, at, back, sig, None));
            }
            for (days, minute, force) in FEATURED {
                if *days == back {
                    let at = local_start(day) + minute * MINUTE;
                    out.push(script(&mut rng, ci, r, at, back, sig, Some(*force)));
                }
            }
        }
    }
    out
}

// ---- playing ----

/// An application whose clock is moved to each step's instant.
struct Past {
    app: App,
}

impl Past {
    fn new(app: &App) -> Past {
        Past { app: App { clock: Clock::shifted(), ..app.clone() } }
    }

    fn set(&self, at: i64) {
        self.app.clock.advance(at - self.app.clock.now());
    }
}

enum Entry {
    Register(usize),
    Step(usize, usize),
    /// The scheduler keeps last week's tables (R-CMP-8).
    KeepWeek,
    /// The CS manager sends a week's analysis to the director, who acknowledges it.
    Analyse(NaiveDate),
    Acknowledge(NaiveDate),
    /// A step of the key register.
    Key(usize),
}

/// The weekly tables' steps over the history: kept on Monday just after midnight, the
/// analysis that morning, the director's acknowledgement the next day.
fn weekly_entries(rng: &mut Rng, today: NaiveDate) -> Vec<(i64, Entry)> {
    let mut out = vec![];
    let first = report::monday_of(today - Duration::days(DAYS)) + Duration::days(7);
    let mut monday = first;
    while monday <= today {
        let start = local_start(monday);
        let last = monday - Duration::days(7);
        out.push((start + 10 * MINUTE, Entry::KeepWeek));
        out.push((start + (9 * 60 + rng.range(30, 150) as i64) * MINUTE, Entry::Analyse(last)));
        out.push((start + DAY + (9 * 60 + rng.range(0, 240) as i64) * MINUTE, Entry::Acknowledge(last)));
        monday += Duration::days(7);
    }
    out
}

fn refused(what: &str, e: &AppError) -> String {
    format!("{what}: {e:?}")
}

/// Play the history into a freshly loaded demo company, up to a minute before now.
pub(crate) async fn play(app: &App, communities: &[(i64, Vec<Requester>)]) -> Result<Summary, BoxError> {
    let now = app.clock.now();
    let until = now - now.rem_euclid(MINUTE) - MINUTE;
    let today = report::local_day(ZONE, until);
    let sig = signature();
    let mut refs = Vec::with_capacity(communities.len());
    for (ci, (id, requesters)) in communities.iter().enumerate() {
        refs.push(load_refs(app, ci, *id, requesters.clone()).await?);
    }
    let scripts = plan(&refs, today, &sig);
    let mut entries: Vec<(i64, usize, Entry)> = vec![];
    for (i, s) in scripts.iter().enumerate() {
        entries.push((s.at, entries.len(), Entry::Register(i)));
        for (j, step) in s.steps.iter().enumerate() {
            entries.push((step.at, entries.len(), Entry::Step(i, j)));
        }
    }
    let mut wrng = Rng::derive(SEED, "history/weekly");
    for (at, e) in weekly_entries(&mut wrng, today) {
        entries.push((at, entries.len(), e));
    }
    let mut estates = Vec::with_capacity(refs.len());
    for r in &refs {
        estates.push(keys::estate(app, r.id).await.map_err(|e| refused("key estate", &e))?);
    }
    let mut key_plan = keys::plan(&estates, &scripts, until);
    if std::env::var("TMP_NOKEYS").is_ok() {
        key_plan.items.clear();
    }
    for (i, item) in key_plan.items.iter().enumerate() {
        entries.push((item.at, entries.len(), Entry::Key(i)));
    }
    let mut books = keys::Books::new(&key_plan);
    entries.retain(|e| e.0 <= until);
    entries.sort_by_key(|e| (e.0, e.1));
    let past = Past::new(app);
    let mut ids: Vec<Option<i64>> = vec![None; scripts.len()];
    let mut summary = Summary { until, ..Default::default() };
    for (at, _, entry) in &entries {
        past.set(*at);
        let a = &past.app;
        match entry {
            Entry::Register(i) => {
                let s = &scripts[*i];
                let r = &refs[s.community];
                match register(a, r, s).await {
                    Ok(id) => {
                        ids[*i] = Some(id);
                        summary.sheets += 1;
                    }
                    Err(e) => summary.refused.push(refused(&format!("register {:?}", s.input.reason), &e)),
                }
            }
            Entry::Step(i, j) => {
                let Some(id) = ids[*i] else { continue };
                let s = &scripts[*i];
                let step = &s.steps[*j];
                match run(a, &refs[s.community], id, step).await {
                    Ok(()) => summary.steps += 1,
                    Err(e) => {
                        summary.refused.push(refused(&format!("sheet {id} step {j} {:?}", step.op), &e));
                        // The rest of this sheet's script no longer fits it.
                        ids[*i] = None;
                    }
                }
            }
            Entry::KeepWeek => {
                report::keep_last_week(a, *at).await.map_err(|e| refused("keep week", &e))?;
            }
            Entry::Analyse(week) => {
                for r in &refs {
                    if let Err(e) = analyse(a, r, *week).await {
                        summary.refused.push(refused("weekly analysis", &e));
                    }
                }
            }
            Entry::Acknowledge(week) => {
                for r in &refs {
                    if let Err(e) = acknowledge(a, r, *week).await {
                        summary.refused.push(refused("weekly acknowledgement", &e));
                    }
                }
            }
            Entry::Key(i) => {
                let item = &key_plan.items[*i];
                match keys::run(a, &refs, &key_plan, &mut books, &ids, item, &sig).await {
                    Ok(true) => summary.key_steps += 1,
                    // It waits on a row a refused step did not make (reported there).
                    Ok(false) => {}
                    Err(e) => summary.refused.push(refused(&keys::describe(&key_plan, item), &e)),
                }
            }
        }
    }
    past.set(until);
    read_notices(&past.app, &refs, until - DAY).await.map_err(|e| refused("reading notices", &e))?;
    for problem in &summary.refused {
        tracing::warn!(problem = %problem, "a demo history step was refused");
    }
    Ok(summary)
}

/// Staff read what they were told: everything up to a day old is read, the last day's
/// notices wait in their inboxes.
async fn read_notices(app: &App, refs: &[Refs], before: i64) -> Result<(), AppError> {
    for r in refs {
        for (_, _, actor, _) in &r.users {
            notify::mark_all_read(app, actor, Some(before)).await?;
        }
    }
    Ok(())
}

async fn load_refs(app: &App, ci: usize, id: i64, requesters: Vec<Requester>) -> Result<Refs, BoxError> {
    let c = &COMMUNITIES[ci];
    let all = sa::users(app.store.read(), None).await?;
    let mut users = vec![];
    for (_, suffix, _) in &STAFF {
        let name = username(c, suffix);
        if let Some(u) = all.iter().find(|u| u.username == name) {
            let actor = crate::app::auth::cli_actor_for(app, u.id).await?;
            users.push((*suffix, u.id, actor, u.display_name.clone()));
        }
    }
    let departments = so::departments(app.store.read(), id)
        .await?
        .into_iter()
        .filter_map(|d| DepartmentKind::parse(&d.kind).ok().map(|k| (k, d.id)))
        .collect();
    let manager = users.iter().find(|u| u.0 == "cs_manager").map(|u| u.2.clone()).ok_or("no demo manager")?;
    let items = rq::price_items(app, &manager, id, true).await.map_err(|e| refused("price list", &e))?;
    let labour = items.iter().find(|p| p.name.contains("疏通")).map_or(0, |p| p.id);
    let material = items.iter().find(|p| p.name.contains("角阀")).map_or(0, |p| p.id);
    let mut articles: Vec<(String, i64)> = rq::articles(app, &manager, id)
        .await
        .map_err(|e| refused("articles", &e))?
        .into_iter()
        .map(|a| (a.title, a.id))
        .collect();
    articles.sort_by_key(|a| a.1);
    Ok(Refs {
        id,
        users,
        departments,
        labour,
        material,
        articles: articles.into_iter().map(|a| a.1).collect(),
        requesters,
    })
}

fn actor_for(r: &Refs, who: Who, first_contact: i64) -> Result<&Actor, AppError> {
    match who {
        Who::Staff(s) => r.actor(s),
        Who::FirstContact => r.actor_by_id(first_contact),
    }
    .ok_or(AppError::NotFound)
}

async fn register(app: &App, r: &Refs, s: &Script) -> Result<i64, AppError> {
    let actor = actor_for(r, s.who, 0)?;
    let row = sheet::register(app, actor, r.id, &s.input, None).await?;
    Ok(row.id)
}

async fn run(app: &App, r: &Refs, id: i64, step: &Step) -> Result<(), AppError> {
    let row = st::sheet(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let actor = actor_for(r, step.who, row.first_contact_id)?;
    match &step.op {
        Op::Act(action) => {
            let action = on_behalf(action, actor, row.first_contact_id);
            sheet::act(app, actor, id, row.version, &action).await?;
        }
        Op::FollowUp { outcome, phone, content } => record_follow_up(app, r, id, outcome, *phone, content).await?,
        Op::Review => review(app, actor, id).await?,
        Op::CapaPlan { responsible } => {
            let Some(capa) = capa_of(app, r, id).await? else { return Ok(()) };
            let input = followup::CapaPlanInput {
                version: capa.version,
                cause: "处理后未跟进复查，整改不到位".into(),
                action: "责任部门重新整改，三日内复查并向业主反馈".into(),
                responsible_id: actor_for(r, *responsible, 0)?.user_id(),
                due_at: app.clock.now() + 3 * DAY,
            };
            followup::plan_capa(app, actor, capa.id, &input).await?;
        }
        Op::CapaImplement => {
            let Some(capa) = capa_of(app, r, id).await? else { return Ok(()) };
            let input =
                followup::CapaNoteInput { version: capa.version, note: "已重新整改并现场复查".into() };
            followup::implement_capa(app, actor, capa.id, &input).await?;
        }
        Op::CapaVerify => {
            let Some(capa) = capa_of(app, r, id).await? else { return Ok(()) };
            let input =
                followup::CapaVerifyInput {
                    version: capa.version, effective: true, note: "复查有效，业主认可".into()
                };
            followup::verify_capa(app, actor, capa.id, &input).await?;
        }
    }
    Ok(())
}

/// Someone other than the first-contact owner collecting says why (R-SHEET-6).
fn on_behalf(action: &Action, actor: &Actor, first_contact: i64) -> Action {
    match action {
        Action::Sheet(SheetAction::Collect {
            opinion,
            signature,
            signer,
            signature_typed,
            phone_confirmed_at,
            phone_note,
            as_director,
            ..
        }) if actor.user_id() != first_contact && !as_director => Action::Sheet(SheetAction::Collect {
            opinion: opinion.clone(),
            signature: signature.clone(),
            signer: signer.clone(),
            signature_typed: *signature_typed,
            phone_confirmed_at: *phone_confirmed_at,
            phone_note: phone_note.clone(),
            as_director: false,
            on_behalf: "首接人不在岗，代为收回".into(),
        }),
        other => other.clone(),
    }
}

/// The sheet's task still to do, recorded by whoever it was given to; by phone only
/// within the year's share (R-FU-2), else in person.
async fn record_follow_up(
    app: &App,
    r: &Refs,
    id: i64,
    outcome: &str,
    phone: bool,
    content: &str,
) -> Result<(), AppError> {
    let Some(task) =
        crate::store::followup::follow_ups_of(app.store.read(), id).await?.into_iter().find(|f| f.state == "pending")
    else {
        return Ok(());
    };
    let Some(actor) = task.assigned_to.and_then(|u| r.actor_by_id(u)) else { return Ok(()) };
    let visit = |sig: String| followup::RecordInput {
        version: task.version,
        method: "visit".into(),
        outcome: outcome.into(),
        content: content.into(),
        contacted_at: None,
        signature: sig,
        signer: task.requester_name.clone(),
        signature_typed: false,
    };
    if phone {
        let mut input = visit(String::new());
        input.method = "phone".into();
        input.signer.clear();
        match followup::record(app, actor, task.id, &input).await {
            Err(AppError::Rejected { code: "followup.phone_cap", .. }) => {}
            other => return other.map(|_| ()),
        }
    }
    let sig = if outcome == "unreachable" { String::new() } else { signature() };
    followup::record(app, actor, task.id, &visit(sig)).await.map(|_| ())
}

async fn review(app: &App, actor: &Actor, id: i64) -> Result<(), AppError> {
    for f in crate::store::followup::follow_ups_of(app.store.read(), id).await? {
        if f.state == "done" {
            let input = followup::ReviewInput { version: f.version, remarks: "回访记录完整".into() };
            followup::review(app, actor, f.id, &input).await?;
        }
    }
    Ok(())
}

/// The sheet's corrective action, as customer service finds it.
async fn capa_of(app: &App, r: &Refs, id: i64) -> Result<Option<crate::store::followup::Capa>, AppError> {
    let actor = r.actor("cs_manager").ok_or(AppError::NotFound)?;
    for f in crate::store::followup::follow_ups_of(app.store.read(), id).await? {
        if let Some(c) = followup::get(app, actor, f.id).await?.capa {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

async fn analyse(app: &App, r: &Refs, week: NaiveDate) -> Result<(), AppError> {
    let actor = r.actor("cs_manager").ok_or(AppError::NotFound)?;
    let table = report::weekly(app, actor, Some(r.id), Some(&week.to_string())).await?;
    let analysis = format!(
        "本周共受理诉求 {} 件，其中投诉 {} 件。报修以水电为主，投诉集中在噪音和停车，已要求相关部门加强巡查。",
        table.totals.registered, table.totals.complaints
    );
    let input = report::AnalysisInput { analysis, version: 1 };
    report::submit_analysis(app, actor, r.id, &week.to_string(), &input).await.map(|_| ())
}

async fn acknowledge(app: &App, r: &Refs, week: NaiveDate) -> Result<(), AppError> {
    let actor = r.actor("director").ok_or(AppError::NotFound)?;
    let Some(review) = crate::store::report::weekly_review(app.store.read(), r.id, &week.to_string()).await? else {
        return Ok(());
    };
    let input =
        report::AcknowledgeInput { remarks: "已阅，请继续跟进重点投诉".into(), version: review.version };
    report::acknowledge(app, actor, r.id, &week.to_string(), &input).await.map(|_| ())
}

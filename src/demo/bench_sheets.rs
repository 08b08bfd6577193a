//! `huiqian bench-data --sheets N`: countersign sheets for the sheet benchmark
//! (`scripts/bench-sheets.sh`, `docs/benchmarks.md`). Every sheet is built with the domain
//! (`Sheet::register` and `handle`), so its stored events replay to its projection; the
//! rows are then written in multi-row inserts, a few thousand sheets per transaction.
//! Repairs go through their flow (opened at the desk, assigned by the engineering
//! dispatcher, arrival, completion, the slip back), inquiries are answered and
//! suggestions analysed and replied to, and each flow's `requests` row is the projection
//! the application itself derives from the domain sheet.

use super::bench_follow_ups::{self, Collected, Staff};
use super::synth::Rng;
use super::{BoxError, fail};
use crate::app::{Actor, App, audit};
use crate::store::bulk::{self, BulkValue};
use crate::store::{self, request as srq};
use chrono::Datelike;
use huiqian_domain::auth::{Permission, Role};
use huiqian_domain::person::Phone;
use huiqian_domain::sheet::calendar::Calendar;
use huiqian_domain::sheet::lifecycle::Recorded;
use huiqian_domain::sheet::request::{FlowCommand, RepairCategory, RepairClass, RepairSource};
use huiqian_domain::sheet::sla::{self, ClockSpec};
use huiqian_domain::sheet::{Channel, Command, Confirmation, Handover, Sheet, SheetKind, SheetState, number, search};
use huiqian_domain::unit::DepartmentKind;
use serde_json::json;
use std::collections::BTreeMap;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;
/// The generated communities' time zone.
const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
/// Sheets per transaction.
const CHUNK: usize = 2_000;

/// Someone who may call the desk: a resident of the community, with their unit.
#[derive(Debug, Clone)]
pub struct Requester {
    pub unit_id: i64,
    pub person_id: i64,
    pub name: String,
    pub phone: Option<Phone>,
}

/// A community as the sheets need it: its residents, staff and departments.
#[derive(Debug, Clone)]
pub struct Desk {
    pub community_id: i64,
    pub code: String,
    pub requesters: Vec<Requester>,
    /// First-contact receptionists.
    pub receptionists: Vec<i64>,
    /// Who acknowledges and returns handovers (and signs suspensions as head).
    pub worker: i64,
    /// Analyses and replies to suggestions (cs_manager).
    pub manager: i64,
    /// The engineering dispatcher who assigns repairs.
    pub dispatcher: i64,
    /// The community's technicians, who do the repairs.
    pub technicians: Vec<i64>,
    pub departments: BTreeMap<&'static str, i64>,
}

/// Reasons containing 漏水 (about 3% of sheets), and the rest, per kind. None of the
/// others contains 漏水, so a search for it finds exactly the first list's sheets.
pub const LEAKS: &[&str] = &[
    "厨房水管漏水",
    "卫生间漏水到楼下",
    "阳台顶部漏水",
    "空调外机冷凝水管漏水",
    "地下车库顶板漏水",
    "楼上卫生间漏水，天花板起皮",
    "暖气片阀门漏水",
];

fn reasons(kind: SheetKind) -> &'static [&'static str] {
    match kind {
        SheetKind::Repair => &[
            "厨房下水道堵塞",
            "卫生间马桶堵塞",
            "楼道灯不亮",
            "入户门锁坏了",
            "电梯按键失灵",
            "客厅插座没电",
            "窗户关不严，漏风",
            "单元门禁刷卡无反应",
            "热水器打不着火",
            "阳台地漏反味",
            "外墙瓷砖脱落",
            "水表井盖破损",
        ],
        SheetKind::Complaint => &[
            "楼上装修噪音扰民",
            "邻居占用消防通道",
            "小区内车辆乱停",
            "广场舞音响太吵",
            "宠物狗不拴绳",
            "垃圾清运不及时",
        ],
        SheetKind::SituationReport => &["楼道堆放杂物", "绿化带有积水", "地库有异味", "路灯损坏两盏"],
        SheetKind::SpecialService => &["家电搬运", "疏通管道有偿服务", "代收快递", "开荒保洁"],
        SheetKind::Inquiry => &["物业费缴费方式", "车位月卡办理", "装修审批流程", "门禁卡补办"],
        SheetKind::Suggestion => &["建议增加充电桩", "建议加装儿童游乐设施", "建议延长泳池开放时间"],
        SheetKind::Other => &["捡到钥匙一串", "咨询社区活动", "借用会议室"],
    }
}

/// What is broken, from the reason a repair was registered with.
fn repair_category(reason: &str) -> RepairCategory {
    use RepairCategory::*;
    const BY_WORD: &[(&str, RepairCategory)] = &[
        ("漏水", Water),
        ("堵塞", Drainage),
        ("地漏", Drainage),
        ("灯", Lighting),
        ("门锁", DoorWindow),
        ("窗", DoorWindow),
        ("电梯", Lift),
        ("插座", Electrical),
        ("门禁", Intercom),
        ("热水器", Gas),
        ("瓷砖", PublicArea),
        ("井盖", PublicArea),
    ];
    BY_WORD.iter().find(|(w, _)| reason.contains(w)).map_or(Other, |(_, c)| *c)
}

/// Minutes a technician has to get there (the default settings, R-REP-3).
fn arrival_minutes(class: RepairClass) -> u64 {
    let t = srq::Settings::default();
    match class {
        RepairClass::Emergency => t.emergency_min,
        RepairClass::Simple => t.simple_min,
        RepairClass::General | RepairClass::Appointment => t.general_min,
    }
    .max(1) as u64
}

fn department_for(kind: SheetKind) -> DepartmentKind {
    match kind {
        SheetKind::Repair | SheetKind::SpecialService => DepartmentKind::Engineering,
        SheetKind::Complaint => DepartmentKind::Security,
        SheetKind::SituationReport => DepartmentKind::Cleaning,
        SheetKind::Inquiry => DepartmentKind::Finance,
        SheetKind::Suggestion => DepartmentKind::Administration,
        SheetKind::Other => DepartmentKind::Greening,
    }
}

fn pick_kind(rng: &mut Rng) -> SheetKind {
    match rng.below(100) {
        0..=54 => SheetKind::Repair,
        55..=66 => SheetKind::Complaint,
        67..=76 => SheetKind::Inquiry,
        77..=84 => SheetKind::SituationReport,
        85..=91 => SheetKind::SpecialService,
        92..=96 => SheetKind::Suggestion,
        _ => SheetKind::Other,
    }
}

fn pick_channel(rng: &mut Rng) -> Channel {
    match rng.below(100) {
        0..=49 => Channel::Phone,
        50..=89 => Channel::Visit,
        90..=94 => Channel::Letter,
        _ => Channel::Other,
    }
}

/// One generated sheet, ready to insert.
struct Made {
    id: i64,
    number: String,
    year: i64,
    seq: i64,
    kind: SheetKind,
    channel: Channel,
    sheet: Sheet,
    unit_id: Option<i64>,
    person_id: Option<i64>,
    name: String,
    phone_masked: String,
    last4: String,
    reason: &'static str,
    history: Vec<Recorded>,
    /// by_role of each event.
    roles: Vec<&'static str>,
    archived_at: Option<i64>,
    due_at: Option<i64>,
    warn_at: Option<i64>,
    clock_state: &'static str,
    notice_level: i64,
}

/// How far an open sheet has gone. Only repairs go through `Assigned` … `Completed`
/// (a repair left at `Registered` waits on the dispatcher's board).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Registered,
    Dispatched,
    Acknowledged,
    Assigned,
    Arrived,
    Completed,
    Returned,
    Collected,
    Archived,
}

/// What was generated for one community.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub sheets: usize,
    pub open: usize,
    pub leaks: usize,
    pub events: usize,
    pub terms: usize,
    /// Rows of the flows' projection (`requests`): repairs, inquiries, suggestions.
    pub requests: usize,
    /// Open repairs on the dispatcher's board (nobody assigned).
    pub board: usize,
    /// Open repairs assigned to a technician and not completed.
    pub assigned: usize,
    /// Follow-up decisions, tasks, tasks recorded, corrective actions.
    pub decisions: usize,
    pub follow_ups: usize,
    pub recorded: usize,
    pub capas: usize,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.sheets += o.sheets;
        self.open += o.open;
        self.leaks += o.leaks;
        self.events += o.events;
        self.terms += o.terms;
        self.requests += o.requests;
        self.board += o.board;
        self.assigned += o.assigned;
        self.decisions += o.decisions;
        self.follow_ups += o.follow_ups;
        self.recorded += o.recorded;
        self.capas += o.capas;
    }
}

/// Registration time of sheet `i` of `n`: most over two years up to ten days ago, the
/// last `open` ones (the open sheets) over the last four days. Strictly increasing.
fn registered_at(rng: &mut Rng, now: i64, i: usize, n: usize, open: usize) -> i64 {
    let (from, to, k, m) = if i < n - open {
        (now - 730 * DAY, now - 10 * DAY, i, n - open)
    } else {
        (now - 4 * DAY, now - 10 * MINUTE, i - (n - open), open)
    };
    let step = ((to - from) / m as i64).max(1);
    from + step * k as i64 + rng.below(step as u64) as i64
}

fn year_of(ms: i64) -> i64 {
    let t = chrono::DateTime::from_timestamp_millis(ms).expect("valid time").with_timezone(&chrono_tz::Asia::Shanghai);
    i64::from(t.year())
}

/// Build the sheets of one community with the domain, in registration order.
#[allow(clippy::too_many_arguments)]
fn build(
    desk: &Desk,
    n: usize,
    first_id: &[i64],
    now: i64,
    seed: u64,
    cal: &Calendar,
    counters: &mut BTreeMap<i64, i64>,
) -> Vec<Made> {
    let mut rng = Rng::derive(seed, &format!("sheets-{}", desk.code));
    let spec = ClockSpec::collection_default();
    let open = n * 4 / 100;
    // A handful of sheets per community left due for a notice right now.
    let (mut warn_now, mut escalate_now) = (2, 2);
    let mut out = Vec::with_capacity(n);
    for (i, &id) in first_id.iter().enumerate().take(n) {
        let reg = registered_at(&mut rng, now, i, n, open);
        let kind = pick_kind(&mut rng);
        let channel = pick_channel(&mut rng);
        let leak = rng.chance(30);
        let reason = if leak { rng.pick(LEAKS) } else { rng.pick(reasons(kind)) };
        let r = &desk.requesters[rng.below(desk.requesters.len() as u64) as usize];
        let (unit_id, person_id) = match rng.below(10) {
            0..=7 => (Some(r.unit_id), Some(r.person_id)),
            8 => (Some(r.unit_id), None),
            _ => (None, None),
        };
        let receptionist = desk.receptionists[rng.below(desk.receptionists.len() as u64) as usize];
        let worker = desk.worker;
        let is_open = i >= n - open;
        let repair = kind == SheetKind::Repair;
        let target = if is_open && repair {
            // Of the last days' repairs: about a fifth on the board, a fifth with a
            // technician (not yet there, or working), the rest done and on their way back.
            match rng.below(100) {
                0..=21 => Stage::Registered,
                22..=34 => Stage::Assigned,
                35..=40 => Stage::Arrived,
                41..=52 => Stage::Completed,
                53..=87 => Stage::Returned,
                _ => Stage::Collected,
            }
        } else if is_open {
            match rng.below(100) {
                0..=14 => Stage::Registered,
                15..=39 => Stage::Dispatched,
                40..=59 => Stage::Acknowledged,
                60..=89 => Stage::Returned,
                _ => Stage::Collected,
            }
        } else if reg > now - 40 * DAY && rng.chance(100) {
            Stage::Collected
        } else {
            Stage::Archived
        };
        let suspend = is_open && !repair && matches!(target, Stage::Acknowledged) && rng.chance(100);

        let (mut sheet, first) = Sheet::register(kind, channel, receptionist, reg);
        let mut history = vec![first];
        let mut roles = vec![Role::Receptionist.as_str()];
        let mut at = reg;
        let mut archived_at = None;
        // Each step happens some time after the previous one, unless that is still to come.
        let mut step =
            |sheet: &mut Sheet, at: &mut i64, after: i64, cmd: Command, by: i64, role: &'static str| -> bool {
                let when = *at + after;
                if when >= now {
                    return false;
                }
                let rec = sheet.handle(&cmd, when, by).expect("generated commands are valid");
                history.push(rec);
                roles.push(role);
                *at = when;
                true
            };
        let rec_role = Role::Receptionist.as_str();
        let tech_role = Role::Technician.as_str();
        let department_kind = department_for(kind);
        let department = desk.departments[department_kind.as_str()];
        if repair {
            // Taken in at the desk: the repair's part is recorded with the registration.
            let category = repair_category(reason);
            let cmd = Command::Flow(FlowCommand::OpenRepair {
                category,
                class: None,
                class_reason: String::new(),
                source: RepairSource::Desk,
            });
            step(&mut sheet, &mut at, 0, cmd, receptionist, rec_role);
        }
        'flow: {
            if sheet.signature_pending && !is_open && rng.chance(600) {
                let d = rng.range(10, 600) as i64 * MINUTE;
                step(
                    &mut sheet,
                    &mut at,
                    d,
                    Command::CaptureSignature { signer: r.name.clone() },
                    receptionist,
                    rec_role,
                );
            }
            if target < Stage::Dispatched {
                break 'flow;
            }
            if repair {
                // The dispatcher sends it to engineering, receives it and names the
                // technician in one go (as the board's assign action does), now and then
                // with an appointment; the technician gets there, mostly in time, works,
                // and the resident signs; the slip comes back to the desk.
                let class = sheet.case.repair.as_ref().map_or(RepairClass::General, |r| r.class);
                let target_min = arrival_minutes(class);
                let d = match class {
                    RepairClass::Emergency => rng.range(1, 8),
                    _ => rng.range(5, 90),
                } as i64
                    * MINUTE;
                let technician = desk.technicians[rng.below(desk.technicians.len() as u64) as usize];
                let appointment = rng.chance(100).then(|| {
                    let t = at + d + rng.range(2, 48) as i64 * HOUR;
                    t - t % HOUR
                });
                let dispatch =
                    Command::Dispatch {
                        department, kind: department_kind, to_user: None, opinion: "报修派工".into()
                    };
                let disp_role = Role::EngineeringDispatcher.as_str();
                if !step(&mut sheet, &mut at, d, dispatch, desk.dispatcher, disp_role) {
                    break 'flow;
                }
                step(&mut sheet, &mut at, 0, Command::Acknowledge { handover: 1 }, desk.dispatcher, disp_role);
                let note = String::new();
                let assign =
                    Command::Flow(FlowCommand::AssignTechnician { technician, appointment_at: appointment, note });
                step(&mut sheet, &mut at, 0, assign, desk.dispatcher, disp_role);
                if target < Stage::Arrived {
                    break 'flow;
                }
                let d = match appointment {
                    Some(t) => t - at - 10 * MINUTE + rng.range(0, 40) as i64 * MINUTE,
                    None if rng.chance(850) => rng.range(target_min / 3, target_min) as i64 * MINUTE,
                    None => rng.range(target_min + 1, target_min * 4) as i64 * MINUTE,
                };
                if !step(&mut sheet, &mut at, d, Command::StartWork { handover: 1 }, technician, tech_role) {
                    break 'flow;
                }
                step(&mut sheet, &mut at, 0, Command::Flow(FlowCommand::Arrive), technician, tech_role);
                if target < Stage::Completed {
                    break 'flow;
                }
                let materials = if rng.chance(300) { "配件一套" } else { "" };
                let cmd = Command::Flow(FlowCommand::CompleteRepair {
                    work_done: "已修复，业主确认".into(),
                    materials: materials.into(),
                    signer: r.name.clone(),
                });
                if !step(&mut sheet, &mut at, rng.range(20, 180) as i64 * MINUTE, cmd, technician, tech_role) {
                    break 'flow;
                }
                if target < Stage::Returned {
                    break 'flow;
                }
                let result = if materials.is_empty() {
                    "已修复，业主确认".to_string()
                } else {
                    format!("已修复，业主确认（材料：{materials}）")
                };
                let cmd = Command::Return { handover: 1, result, signer: r.name.clone() };
                if !step(&mut sheet, &mut at, rng.range(1, 20) as i64 * HOUR, cmd, receptionist, rec_role) {
                    break 'flow;
                }
                // The desk takes the slip and signs for it (R-SHEET-5).
                step(&mut sheet, &mut at, 0, Command::ReceiveReturn { handover: 1 }, receptionist, rec_role);
            } else {
                let opinion = "请尽快上门处理并回复".to_string();
                let d = rng.range(5, 120) as i64 * MINUTE;
                if !step(
                    &mut sheet,
                    &mut at,
                    d,
                    Command::Dispatch { department, kind: department_kind, to_user: None, opinion },
                    receptionist,
                    rec_role,
                ) {
                    break 'flow;
                }
                if target < Stage::Acknowledged {
                    break 'flow;
                }
                let d = rng.range(5, 60) as i64 * MINUTE;
                if !step(&mut sheet, &mut at, d, Command::Acknowledge { handover: 1 }, worker, tech_role) {
                    break 'flow;
                }
                if suspend {
                    let cmd =
                        Command::Suspend { explanation: "等待业主提供材料".into(), signed_by: Some(worker) };
                    step(&mut sheet, &mut at, rng.range(1, 12) as i64 * HOUR, cmd, worker, tech_role);
                    break 'flow;
                }
                if target < Stage::Returned {
                    break 'flow;
                }
                // Most come back well within the 72 hours; some late.
                let d = if rng.chance(80) { rng.range(72, 120) } else { rng.range(1, 48) } as i64 * HOUR;
                let cmd =
                    Command::Return { handover: 1, result: "已处理完毕".into(), signer: "维修师傅".into() };
                if !step(&mut sheet, &mut at, d, cmd, worker, tech_role) {
                    break 'flow;
                }
            }
            if target < Stage::Collected {
                break 'flow;
            }
            // An inquiry is answered, a suggestion analysed and replied to by the manager,
            // before the sheet is collected (R-RECV-2, R-RECV-3).
            let mgr_role = Role::CsManager.as_str();
            let extra: Vec<(Command, i64, &'static str)> = match kind {
                SheetKind::Inquiry => vec![(
                    Command::Flow(FlowCommand::AnswerInquiry {
                        answer: "已按规定答复业主".into(),
                        basis: "《物业服务合同》".into(),
                        article: None,
                    }),
                    receptionist,
                    rec_role,
                )],
                SheetKind::Suggestion => vec![
                    (
                        Command::Flow(FlowCommand::AnalyseSuggestion {
                            analysis: "可行，列入下季度计划".into(),
                            to_director: false,
                        }),
                        desk.manager,
                        mgr_role,
                    ),
                    (
                        Command::Flow(FlowCommand::ReplySuggestion { reply: "感谢建议，已列入计划".into() }),
                        desk.manager,
                        mgr_role,
                    ),
                ],
                _ => vec![],
            };
            for (cmd, by, role) in extra {
                if !step(&mut sheet, &mut at, rng.range(5, 120) as i64 * MINUTE, cmd, by, role) {
                    break 'flow;
                }
            }
            // Customer service signs for what came back before collecting it (R-SHEET-5).
            let back: Vec<u32> = sheet.returns_to_receive().map(|h| h.no).collect();
            for no in back {
                step(&mut sheet, &mut at, 0, Command::ReceiveReturn { handover: no }, receptionist, rec_role);
            }
            let d = rng.range(10, 240) as i64 * MINUTE;
            let confirmation = if rng.chance(700) {
                Confirmation::Phone { at: at + d, note: "电话回访，业主满意".into() }
            } else {
                Confirmation::Signature { signer: r.name.clone() }
            };
            let cmd = Command::Collect {
                opinion: "满意".into(),
                confirmation: Some(confirmation),
                by_director: false,
                on_behalf: None,
            };
            if !step(&mut sheet, &mut at, d, cmd, receptionist, rec_role) {
                break 'flow;
            }
            if target < Stage::Archived {
                break 'flow;
            }
            // An acceptance by phone is signed later at the desk, or, now and then, the
            // manager records why the resident cannot sign (R-SHEET-7).
            if sheet.signature_owed() {
                let d = rng.range(1, 72) as i64 * HOUR;
                let (cmd, by, role) = if rng.chance(50) {
                    (
                        Command::WaiveSignature { reason: "业主长期在外地，电话确认验收".into() },
                        desk.manager,
                        Role::CsManager.as_str(),
                    )
                } else {
                    (Command::CaptureSignature { signer: r.name.clone() }, receptionist, rec_role)
                };
                if !step(&mut sheet, &mut at, d, cmd, by, role) {
                    break 'flow;
                }
            }
            if step(&mut sheet, &mut at, rng.range(1, 48) as i64 * HOUR, Command::Archive, receptionist, rec_role) {
                archived_at = Some(at);
            }
        }
        // The projection as the last command left it (clock computed at that moment).
        let clock = sla::clock(&spec, cal, &history, at);
        let (mut warn_at, mut notice_level) = (clock.warn_at, 0);
        let watched =
            matches!(sheet.state, SheetState::Registered | SheetState::Dispatched | SheetState::AwaitingAcceptance);
        if let (true, Some(due), Some(warn)) = (watched, clock.due_at, clock.warn_at) {
            if due <= now {
                // Overdue: escalated long ago (out of the scheduler's index), but a few
                // were only warned and are due for escalation now.
                if escalate_now > 0 {
                    escalate_now -= 1;
                    notice_level = 1;
                    warn_at = Some(due);
                } else {
                    notice_level = 3;
                }
            } else if warn <= now {
                // Due soon: warned already (the next point of interest is the deadline),
                // but a few still wait for their warning.
                if warn_now > 0 {
                    warn_now -= 1;
                } else {
                    notice_level = 1;
                    warn_at = Some(due);
                }
            }
        }
        let year = year_of(reg);
        let seq = counters.entry(year).or_insert(0);
        *seq += 1;
        let phone = r.phone.as_ref();
        out.push(Made {
            id,
            number: number::format("KF", year as i32, *seq),
            year,
            seq: *seq,
            kind,
            channel,
            unit_id,
            person_id,
            name: r.name.clone(),
            phone_masked: phone.map(|p| p.masked()).unwrap_or_default(),
            last4: phone.map(|p| p.last4().to_string()).unwrap_or_default(),
            reason,
            history,
            roles,
            archived_at,
            due_at: clock.due_at,
            warn_at,
            clock_state: clock.state.as_str(),
            notice_level,
            sheet,
        });
    }
    out
}

fn handover_row(community_id: i64, sheet_id: i64, h: &Handover) -> Vec<BulkValue> {
    vec![
        BulkValue::I(sheet_id),
        BulkValue::I(i64::from(h.no)),
        BulkValue::I(community_id),
        BulkValue::I(h.department),
        BulkValue::N(h.to_user),
        BulkValue::S(h.state.as_str().into()),
        BulkValue::S(h.opinion_sent.clone()),
        BulkValue::I(h.handed_over_at),
        BulkValue::I(h.handed_over_by),
        BulkValue::N(h.acknowledged_at),
        BulkValue::N(h.acknowledged_by),
        BulkValue::N(h.returned_at),
        BulkValue::N(h.returned_by),
        BulkValue::S(h.result.clone()),
        BulkValue::S(h.signer.clone()),
        BulkValue::N(h.received_at),
        BulkValue::N(h.received_by),
    ]
}

/// A `requests` row in the store's column order (`bulk::requests`, 38 values).
fn request_row(p: &srq::Projection, updated_at: i64) -> Vec<BulkValue> {
    let flag = |b: bool| BulkValue::I(i64::from(b));
    let text = |s: &Option<String>| BulkValue::O(s.clone());
    let word = |s: Option<&'static str>| BulkValue::O(s.map(str::to_string));
    vec![
        BulkValue::I(p.sheet_id),
        BulkValue::I(p.community_id),
        BulkValue::S(p.kind.clone()),
        BulkValue::N(p.unit_id),
        BulkValue::I(p.opened_at),
        flag(p.closed),
        text(&p.category),
        text(&p.class),
        BulkValue::N(p.class_rank),
        text(&p.source),
        BulkValue::N(p.technician_id),
        BulkValue::N(p.assigned_at),
        BulkValue::N(p.appointment_at),
        BulkValue::N(p.arrival_due_at),
        BulkValue::N(p.arrived_at),
        BulkValue::N(p.completed_at),
        BulkValue::N(p.slip_due_at),
        BulkValue::N(p.slip_returned_at),
        BulkValue::N(p.charge_fen),
        BulkValue::S(p.charge_state.into()),
        text(&p.against),
        BulkValue::N(p.against_department_id),
        BulkValue::N(p.valid.map(i64::from)),
        word(p.route),
        BulkValue::N(p.routed_department_id),
        BulkValue::N(p.deadline_at),
        text(&p.flag),
        BulkValue::N(p.solution_at),
        BulkValue::I(p.progress_count),
        BulkValue::N(p.last_progress_at),
        BulkValue::N(p.promised_by_at),
        BulkValue::N(p.answered_at),
        BulkValue::N(p.escalated_to),
        BulkValue::N(p.analysed_at),
        flag(p.to_director),
        BulkValue::N(p.replied_at),
        BulkValue::N(p.replied_by),
        BulkValue::I(updated_at),
    ]
}

async fn write(app: &App, desk: &Desk, made: &[Made], counts: &mut Counts) -> Result<(), BoxError> {
    let backend = app.store.backend();
    let c = desk.community_id;
    let settings = srq::Settings::default();
    // Each sheet keeps its unit's building, as registration does.
    let buildings: std::collections::HashMap<i64, i64> =
        bulk::unit_buildings(app.store.read(), c).await?.into_iter().collect();
    for chunk in made.chunks(CHUNK) {
        let mut sheets = Vec::with_capacity(chunk.len());
        let mut events = Vec::new();
        let mut handovers = Vec::new();
        let mut terms = Vec::new();
        let mut requests = Vec::new();
        for m in chunk {
            let s = &m.sheet;
            let last = m.history.last().map_or(0, |r| r.at);
            let outcome: Option<String> = None;
            sheets.push(vec![
                BulkValue::I(m.id),
                BulkValue::I(c),
                BulkValue::S(m.number.clone()),
                BulkValue::I(m.year),
                BulkValue::I(m.seq),
                BulkValue::S(m.kind.as_str().into()),
                BulkValue::S(m.channel.as_str().into()),
                BulkValue::S(s.state.as_str().into()),
                BulkValue::N(m.unit_id),
                BulkValue::N(m.person_id),
                BulkValue::S(m.name.clone()),
                BulkValue::S(m.phone_masked.clone()),
                BulkValue::S(m.last4.clone()),
                BulkValue::S(m.reason.into()),
                BulkValue::I(s.first_contact),
                BulkValue::I(i64::from(s.signature_owed())),
                BulkValue::O(outcome),
                BulkValue::I(s.registered_at),
                BulkValue::N(s.first_dispatched_at()),
                BulkValue::N(s.acceptance.as_ref().map(|a| a.at)),
                BulkValue::N(m.archived_at),
                BulkValue::N(m.due_at),
                BulkValue::S(m.clock_state.into()),
                BulkValue::I(last),
                BulkValue::I(m.history.len() as i64),
                BulkValue::N(m.warn_at),
                BulkValue::I(m.notice_level),
                BulkValue::N(m.unit_id.and_then(|u| buildings.get(&u).copied())),
                BulkValue::S(if s.state == SheetState::Suspended {
                    m.history
                        .iter()
                        .rev()
                        .find_map(|r| match &r.event {
                            huiqian_domain::sheet::Event::Suspended { explanation, .. } => Some(explanation.clone()),
                            _ => None,
                        })
                        .unwrap_or_default()
                } else {
                    String::new()
                }),
            ]);
            for (n, (rec, role)) in m.history.iter().zip(&m.roles).enumerate() {
                events.push(vec![
                    BulkValue::I(m.id),
                    BulkValue::I(n as i64 + 1),
                    BulkValue::I(rec.at),
                    BulkValue::I(rec.by),
                    BulkValue::S((*role).into()),
                    BulkValue::S(rec.event.name().into()),
                    BulkValue::S(serde_json::to_string(&rec.event).expect("events serialise")),
                ]);
            }
            for h in &s.handovers {
                handovers.push(handover_row(c, m.id, h));
            }
            // The flow's projection, exactly as the application derives it from the sheet.
            if let Some(p) = crate::app::request::projection(s, m.id, c, m.unit_id, &settings) {
                if !p.closed && p.class_rank.is_some() {
                    counts.board += usize::from(p.technician_id.is_none());
                    counts.assigned += usize::from(p.technician_id.is_some() && p.completed_at.is_none());
                }
                requests.push(request_row(&p, last));
            }
            for t in search::terms(&format!("{} {}", m.reason, m.name)) {
                terms.push(vec![BulkValue::I(c), BulkValue::S(t), BulkValue::I(m.id)]);
            }
            counts.sheets += 1;
            counts.open += usize::from(s.state.is_open());
            counts.leaks += usize::from(m.reason.contains("漏水"));
        }
        counts.events += events.len();
        counts.terms += terms.len();
        counts.requests += requests.len();
        let mut tx = app.store.begin().await?;
        bulk::sheets(&mut tx, backend, sheets).await?;
        bulk::sheet_events(&mut tx, backend, events).await?;
        bulk::handovers(&mut tx, backend, handovers).await?;
        bulk::sheet_terms(&mut tx, backend, terms).await?;
        bulk::requests(&mut tx, backend, requests).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Generate `n` sheets spread over the desks (communities), registered over the last two
/// years; returns the counts and up to 1,000 sample sheet ids spread over all of them.
pub async fn generate(app: &App, desks: &[Desk], n: usize, seed: u64) -> Result<(Counts, Vec<i64>), BoxError> {
    let now = app.clock.now();
    let cal = Calendar::standard(chrono_tz::Asia::Shanghai);
    let actor = Actor::cli();
    let mut total = Counts::default();
    let mut all_ids = Vec::new();
    for (i, desk) in desks.iter().enumerate() {
        let count = n / desks.len() + usize::from(i < n % desks.len());
        if count == 0 {
            continue;
        }
        let mut tx = app.store.begin().await?;
        let ids = store::allocate_ids(&mut tx, app.store.backend(), "sheets", count).await?;
        tx.commit().await?;
        let mut counters = BTreeMap::new();
        let made = build(desk, count, &ids, now, seed, &cal, &mut counters);
        let mut counts = Counts::default();
        write(app, desk, &made, &mut counts).await?;
        all_ids.extend(made.iter().step_by(97).map(|m| m.id));
        let collected: Vec<Collected> = made
            .into_iter()
            .filter_map(|m| {
                Some(Collected {
                    collected_at: m.sheet.acceptance.as_ref()?.at,
                    sheet_id: m.id,
                    number: m.number,
                    kind: m.kind,
                    first_contact: m.sheet.first_contact,
                    resident: m.name,
                })
            })
            .collect();
        let staff = Staff { manager: desk.manager, worker: desk.worker };
        let f = bench_follow_ups::write(app, desk.community_id, ZONE, &staff, collected, now, seed).await?;
        (counts.decisions, counts.follow_ups, counts.recorded, counts.capas) =
            (f.decisions, f.follow_ups, f.recorded, f.capas);
        let mut tx = app.store.begin().await?;
        for (year, last) in &counters {
            bulk::set_sheet_counter(&mut tx, desk.community_id, *year, *last).await?;
        }
        audit::record(
            app,
            &mut tx,
            &actor,
            &actor.authorize(Permission::ImportData, desk.community_id).map_err(fail)?,
            "bench.sheets_loaded",
            "community",
            desk.community_id,
            json!({
                "sheets": counts.sheets, "open": counts.open, "with_leak": counts.leaks, "events": counts.events,
                "terms": counts.terms, "requests": counts.requests, "board": counts.board,
                "assigned": counts.assigned, "follow_ups": counts.follow_ups, "capas": counts.capas,
                "ids": [ids.first(), ids.last()], "counters": counters,
            }),
        )
        .await
        .map_err(fail)?;
        tx.commit().await?;
        total.add(&counts);
    }
    let step = (all_ids.len() / 1000).max(1);
    Ok((total, all_ids.into_iter().step_by(step).take(1000).collect()))
}

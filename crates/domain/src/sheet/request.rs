//! The flows that ride on a sheet (R-RECV-1): repairs (R-REP-1 … R-REP-5), complaints
//! (R-CMP-1 … R-CMP-7), inquiries (R-RECV-2) and suggestions (R-RECV-3).
//!
//! Each flow is a kind of sheet with its own part of the history: its events are sheet
//! events, decided and applied by the same state machine ([`super::Sheet`]), so the
//! clocks, notices, archive and audit of the sheet cover them too. This module holds the
//! flows' vocabulary, their slice of the sheet's state ([`Case`]) and their rules.

use super::lifecycle::{Confirmation, DepartmentId, Ms, Refusal, UserId};
use crate::unit::DepartmentKind;
use serde::{Deserialize, Serialize};

use crate::code::code_enum;

code_enum!(
    /// How fast a technician must be there (R-REP-3).
    RepairClass, "repair_class.unknown", {
        Emergency => "emergency", "紧急", "Emergency";
        Simple => "simple", "简单", "Simple";
        General => "general", "一般", "General";
        Appointment => "appointment", "预约", "By appointment";
    }
);

impl RepairClass {
    /// Order on the dispatcher's board: the most urgent first.
    pub fn rank(self) -> i64 {
        match self {
            RepairClass::Emergency => 0,
            RepairClass::Simple => 1,
            RepairClass::General => 2,
            RepairClass::Appointment => 3,
        }
    }
}

code_enum!(
    /// What is broken. The category suggests the class.
    RepairCategory, "repair_category.unknown", {
        Water => "water", "漏水/爆管", "Water leak / burst pipe";
        Heating => "heating", "供暖", "Heating";
        Gas => "gas", "燃气", "Gas";
        Electrical => "electrical", "电路/跳闸", "Electrical";
        Lighting => "lighting", "照明", "Lighting";
        DoorWindow => "door_window", "门窗锁具", "Doors, windows, locks";
        Drainage => "drainage", "下水疏通", "Blocked drain";
        Fixtures => "fixtures", "水龙头/洁具", "Taps and fixtures";
        Lift => "lift", "电梯", "Lift";
        Intercom => "intercom", "对讲/门禁", "Intercom / access";
        PublicArea => "public_area", "公共设施", "Common areas";
        Other => "other", "其它", "Other";
    }
);

impl RepairCategory {
    /// Water, heating and gas are emergencies (R-REP-3); small jobs are simple.
    pub fn suggested_class(self) -> RepairClass {
        use RepairCategory::*;
        match self {
            Water | Heating | Gas => RepairClass::Emergency,
            Lighting | DoorWindow | Drainage | Fixtures => RepairClass::Simple,
            Electrical | Lift | Intercom | PublicArea | Other => RepairClass::General,
        }
    }
}

code_enum!(
    /// Who took the repair in (R-REP-1).
    RepairSource, "repair_source.unknown", {
        Desk => "desk", "客服前台", "Front desk";
        Security => "security", "安保（非工作时间）", "Security (out of hours)";
        Technician => "technician", "维修工现场", "Technician on site";
    }
);

code_enum!(
    /// Whom a complaint is about (R-CMP-3).
    AgainstKind, "complaint_against.unknown", {
        Department => "department", "某部门", "A department";
        CustomerServiceStaff => "customer_service_staff", "客服人员", "Customer-service staff";
        Supervisor => "supervisor", "主管及以上", "A supervisor or above";
        CompanyAdministration => "company_administration", "公司行政人员", "Company administrative staff";
        DeveloperLegacy => "developer_legacy", "开发遗留问题", "Developer-legacy matter";
        Service => "service", "服务/设施本身", "The service or facilities";
    }
);

impl AgainstKind {
    /// R-CMP-3: complaints about these people go to the centre director.
    pub fn needs_director(self) -> bool {
        matches!(self, AgainstKind::CustomerServiceStaff | AgainstKind::Supervisor | AgainstKind::CompanyAdministration)
    }
}

code_enum!(
    /// Why a complaint is in the complaint ledger (R-CMP-5).
    FlagReason, "complaint_flag.unknown", {
        Serious => "serious", "严重", "Serious";
        Repeat => "repeat", "反复未解决", "Repeatedly unresolved";
    }
);

/// One line of a charge from the community's price list (R-REP-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeLine {
    pub item_id: i64,
    pub name: String,
    pub unit: String,
    pub unit_price_fen: i64,
    /// Hundredths of a unit (2.5 m is 250).
    pub quantity_centi: i64,
}

impl ChargeLine {
    /// Price × quantity in whole fen, half rounded up.
    pub fn amount_fen(&self) -> i64 {
        (self.unit_price_fen * self.quantity_centi + 50).div_euclid(100)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub lines: Vec<ChargeLine>,
    pub total_fen: i64,
    pub quoted_at: Ms,
    pub quoted_by: UserId,
    /// The resident's confirmation before work (R-REP-4).
    pub confirmed: Option<Confirmation>,
    pub confirmed_at: Option<Ms>,
}

/// The repair's part of the sheet (R-REP-1 … R-REP-5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairCase {
    pub category: RepairCategory,
    pub class: RepairClass,
    pub source: RepairSource,
    /// When the property was told of the repair (registration).
    pub notified_at: Ms,
    /// The engineering handover this repair rides on.
    pub handover: Option<u32>,
    pub technician: Option<UserId>,
    /// When the technician was told: the arrival clock starts here (R-REP-3,
    /// "维修工接到通知后"), again at a reassignment.
    pub assigned_at: Option<Ms>,
    pub reassignments: u32,
    pub appointment_at: Option<Ms>,
    pub arrived_at: Option<Ms>,
    pub completed_at: Option<Ms>,
    pub work_done: String,
    pub materials: String,
    pub completion_signer: String,
    pub charge: Option<Charge>,
}

/// How a complaint was judged (R-CMP-2 … R-CMP-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Route {
    /// A department of the centre (the director's office for R-CMP-3).
    Department { department: DepartmentId, kind: DepartmentKind },
    /// The developer's customer service (R-CMP-4), tracked like a department.
    Developer { contact: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    pub valid: bool,
    pub explanation: String,
    pub route: Option<Route>,
    pub deadline_at: Option<Ms>,
    pub at: Ms,
    pub by: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    pub meeting_at: Ms,
    pub attendees: String,
    pub plan: String,
    pub department: DepartmentId,
    pub at: Ms,
}

/// The complaint's part of the sheet (R-CMP-1 … R-CMP-7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintCase {
    pub details: ComplaintDetails,
    pub flag: Option<FlagReason>,
    pub flag_note: String,
    pub judgement: Option<Judgement>,
    pub solution: Option<Solution>,
    /// The last progress reported to the resident (R-CMP-6).
    pub last_progress_at: Option<Ms>,
    pub progress_count: u32,
}

impl ComplaintCase {
    /// Judged valid (R-CMP-2): the complaint stands and is handled.
    pub fn judged_valid(&self) -> bool {
        self.judgement.as_ref().is_some_and(|j| j.valid)
    }
}

/// What the desk records on receipt (R-CMP-1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ComplaintDetails {
    /// A short category ("噪音", "服务态度" …): repeat complaints are counted by unit and category.
    pub category: String,
    pub occurred_at: Option<Ms>,
    pub place: String,
    pub cause: String,
    pub course: String,
    pub people: String,
    pub against: Option<AgainstKind>,
    /// The department complained about, when `against` is a department.
    pub against_department: Option<DepartmentId>,
    /// Its kind: a complaint about customer service goes to the director (R-CMP-3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against_department_kind: Option<DepartmentKind>,
    /// The person complained about, by name, if any.
    pub against_name: String,
    /// The member of staff complained about, when known: they never handle the
    /// complaint's follow-up (R-FU-1, R-CMP-7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against_user: Option<UserId>,
    /// Time, place and people are recorded, or recorded as unknown on purpose (R-CMP-1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub occurred_unknown: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub place_unknown: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub people_unknown: bool,
}

impl ComplaintDetails {
    /// R-CMP-1: "要将事件的时间、地点、事件起因、过程、相关人员等投诉情况做详细记录" — each
    /// is written down, or marked unknown explicitly; the first one missing.
    pub fn missing(&self) -> Option<&'static str> {
        if self.occurred_at.is_none() && !self.occurred_unknown {
            return Some("occurred_at");
        }
        if self.place.trim().is_empty() && !self.place_unknown {
            return Some("place");
        }
        if self.cause.trim().is_empty() {
            return Some("cause");
        }
        if self.course.trim().is_empty() {
            return Some("course");
        }
        if self.people.trim().is_empty() && !self.people_unknown {
            return Some("people");
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub text: String,
    /// The regulation, document or article the answer rests on (R-RECV-2).
    pub basis: String,
    pub article: Option<i64>,
    pub at: Ms,
    pub by: UserId,
}

/// The inquiry's part of the sheet (R-RECV-2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InquiryCase {
    pub answer: Option<Answer>,
    pub escalated_to: Option<UserId>,
    /// The promised reply time, if the desk could not answer at once.
    pub promised_by: Option<Ms>,
    pub promised_at: Option<Ms>,
}

impl InquiryCase {
    /// A promise missed: past its time unanswered, or answered after it.
    pub fn promise_missed(&self, now: Ms) -> bool {
        match (self.promised_by, &self.answer) {
            (Some(by), None) => now > by,
            (Some(by), Some(a)) => a.at > by,
            _ => false,
        }
    }
}

/// The suggestion's part of the sheet (R-RECV-3).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SuggestionCase {
    pub analysis: Option<String>,
    pub analysed_at: Option<Ms>,
    pub to_director: bool,
    pub reply: Option<String>,
    pub replied_at: Option<Ms>,
    pub replied_by: Option<UserId>,
}

/// The flows' part of a sheet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Case {
    pub repair: Option<RepairCase>,
    pub complaint: Option<ComplaintCase>,
    pub inquiry: Option<InquiryCase>,
    pub suggestion: Option<SuggestionCase>,
}

/// Arrival targets per class, in minutes (R-REP-3); configurable per community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalTargets {
    pub emergency_min: i64,
    pub simple_min: i64,
    pub general_min: i64,
}

impl Default for ArrivalTargets {
    /// The manual: emergency "立即" (15 minutes to get there unless the community sets
    /// 0, at once), simple 20, general 60.
    fn default() -> Self {
        ArrivalTargets { emergency_min: 15, simple_min: 20, general_min: 60 }
    }
}

impl RepairCase {
    /// When the technician must be there: from the moment the technician was told
    /// (assigned), by class, or at the agreed appointment. None until a technician is
    /// told, or while an appointment is still to be agreed (R-REP-3: "维修工接到通知后").
    pub fn arrival_due(&self, t: &ArrivalTargets) -> Option<Ms> {
        let min = match self.class {
            RepairClass::Emergency => t.emergency_min,
            RepairClass::Simple => t.simple_min,
            RepairClass::General => t.general_min,
            RepairClass::Appointment => return self.appointment_at,
        };
        Some(self.assigned_at? + min.max(0) * 60_000)
    }

    /// Minutes late on arrival (positive) or still not there at `now`.
    pub fn lateness_ms(&self, t: &ArrivalTargets, now: Ms) -> Option<Ms> {
        let due = self.arrival_due(t)?;
        let at = self.arrived_at.unwrap_or(now);
        (at > due).then_some(at - due)
    }

    pub fn charge_outstanding(&self) -> bool {
        self.charge.as_ref().is_some_and(|c| c.confirmed.is_none())
    }
}

/// Must this complaint go to the centre director (R-CMP-3)? The manual sends a valid
/// complaint "到被投诉或处理投诉的相关部门" — to the department complained about or the one
/// that handles it — and only a complaint about a supervisor or above, customer-service
/// staff or company administrative staff "报物业中心主任处理". A complaint about the
/// customer-service department as a whole is a complaint about its staff.
pub fn complaint_needs_director(details: &ComplaintDetails) -> bool {
    let against = details.against.unwrap_or(AgainstKind::Service);
    against.needs_director()
        || (against == AgainstKind::Department
            && details.against_department_kind == Some(DepartmentKind::CustomerService))
}

/// R-CMP-2/R-CMP-3: may a complaint be sent to a department of this kind? Any department
/// — the one complained about included — unless the director must handle it.
pub fn complaint_route_allowed(details: &ComplaintDetails, kind: DepartmentKind) -> Result<(), Refusal> {
    if complaint_needs_director(details) && kind != DepartmentKind::DirectorOffice {
        return Err(Refusal("complaint.director_required"));
    }
    Ok(())
}

/// A step of a flow, as stored: each with the `type` it has always had, so a history
/// written before flows had a type of their own reads back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowEvent {
    /// A repair's category, arrival class and source (R-REP-1, R-REP-3).
    RepairOpened {
        category: RepairCategory,
        class: RepairClass,
        source: RepairSource,
        /// Why the class differs from the one the category suggests.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        class_reason: String,
    },
    RepairReclassified {
        class: RepairClass,
        reason: String,
    },
    /// The dispatcher names the technician and, if agreed, an appointment (R-REP-2).
    TechnicianAssigned {
        technician: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        appointment_at: Option<Ms>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
    /// The technician is at the door (R-REP-3).
    Arrived,
    /// Paid work priced from the community's list (R-REP-4).
    ChargeQuoted {
        lines: Vec<ChargeLine>,
        total_fen: i64,
    },
    ChargeConfirmed {
        confirmation: Confirmation,
    },
    /// Work done, materials, and the resident's signature on the technician's phone (R-REP-5).
    RepairCompleted {
        work_done: String,
        #[serde(default)]
        materials: String,
        signer: String,
    },
    /// Time, place, cause, course, people involved, whom it is about (R-CMP-1).
    ComplaintOpened {
        details: ComplaintDetails,
    },
    /// Into the complaint ledger as serious or repeated (R-CMP-5).
    ComplaintFlagged {
        reason: FlagReason,
        note: String,
    },
    /// Valid and where it goes, or not the centre's work and why (R-CMP-2 … R-CMP-4).
    ComplaintJudged {
        valid: bool,
        explanation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route: Option<Route>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_at: Option<Ms>,
    },
    /// The director's solution meeting and the department that carries it out (R-CMP-5).
    SolutionRecorded {
        meeting_at: Ms,
        attendees: String,
        plan: String,
        department: DepartmentId,
    },
    /// Progress told to the resident while a complaint is unresolved (R-CMP-6).
    ProgressLogged {
        note: String,
        resident_told: bool,
    },
    /// An inquiry answered with its basis (R-RECV-2).
    InquiryAnswered {
        answer: String,
        basis: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        article: Option<i64>,
    },
    InquiryEscalated {
        to: UserId,
        note: String,
    },
    /// A reply promised by a time: tracked to its deadline (R-RECV-2).
    ReplyPromised {
        by_at: Ms,
        note: String,
    },
    /// The manager's analysis of a suggestion (R-RECV-3).
    SuggestionAnalysed {
        analysis: String,
        to_director: bool,
    },
    /// The written reply by a department manager or higher (R-RECV-3).
    SuggestionReplied {
        reply: String,
    },
}

impl FlowEvent {
    /// The stable name of the event (`sheet.technician_assigned` in the audit trail).
    pub fn name(&self) -> &'static str {
        match self {
            FlowEvent::RepairOpened { .. } => "repair_opened",
            FlowEvent::RepairReclassified { .. } => "repair_reclassified",
            FlowEvent::TechnicianAssigned { .. } => "technician_assigned",
            FlowEvent::Arrived => "arrived",
            FlowEvent::ChargeQuoted { .. } => "charge_quoted",
            FlowEvent::ChargeConfirmed { .. } => "charge_confirmed",
            FlowEvent::RepairCompleted { .. } => "repair_completed",
            FlowEvent::ComplaintOpened { .. } => "complaint_opened",
            FlowEvent::ComplaintFlagged { .. } => "complaint_flagged",
            FlowEvent::ComplaintJudged { .. } => "complaint_judged",
            FlowEvent::SolutionRecorded { .. } => "solution_recorded",
            FlowEvent::ProgressLogged { .. } => "progress_logged",
            FlowEvent::InquiryAnswered { .. } => "inquiry_answered",
            FlowEvent::InquiryEscalated { .. } => "inquiry_escalated",
            FlowEvent::ReplyPromised { .. } => "reply_promised",
            FlowEvent::SuggestionAnalysed { .. } => "suggestion_analysed",
            FlowEvent::SuggestionReplied { .. } => "suggestion_replied",
        }
    }
}

/// What someone asks of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowCommand {
    OpenRepair { category: RepairCategory, class: Option<RepairClass>, class_reason: String, source: RepairSource },
    Reclassify { class: RepairClass, reason: String },
    AssignTechnician { technician: UserId, appointment_at: Option<Ms>, note: String },
    Arrive,
    QuoteCharge { lines: Vec<ChargeLine> },
    ConfirmCharge { confirmation: Option<Confirmation> },
    CompleteRepair { work_done: String, materials: String, signer: String },
    OpenComplaint { details: ComplaintDetails },
    FlagComplaint { reason: FlagReason, note: String },
    JudgeComplaint { valid: bool, explanation: String, route: Option<Route>, deadline_at: Option<Ms> },
    RecordSolution { meeting_at: Ms, attendees: String, plan: String, department: DepartmentId },
    LogProgress { note: String, resident_told: bool },
    AnswerInquiry { answer: String, basis: String, article: Option<i64> },
    EscalateInquiry { to: UserId, note: String },
    PromiseReply { by_at: Ms, note: String },
    AnalyseSuggestion { analysis: String, to_director: bool },
    ReplySuggestion { reply: String },
}

use super::SheetKind;
use super::lifecycle::{Sheet, SheetState};

fn need(text: &str, code: &'static str) -> Result<String, Refusal> {
    let t = text.trim();
    if t.is_empty() { Err(Refusal(code)) } else { Ok(t.to_string()) }
}

impl Sheet {
    pub(super) fn repair(&self) -> Result<&RepairCase, Refusal> {
        self.case.repair.as_ref().ok_or(Refusal("repair.not_opened"))
    }

    pub(super) fn complaint(&self) -> Result<&ComplaintCase, Refusal> {
        self.case.complaint.as_ref().ok_or(Refusal("request.wrong_kind"))
    }

    pub(super) fn kind_is(&self, kinds: &[SheetKind]) -> Result<(), Refusal> {
        if kinds.contains(&self.kind) { Ok(()) } else { Err(Refusal("request.wrong_kind")) }
    }

    /// An inquiry answered at the desk there and then (R-RECV-2: "妥善回答，解释清楚"):
    /// answered, never sent to a department, no reply promised, no manager brought in.
    pub fn answered_on_the_spot(&self) -> bool {
        self.kind == SheetKind::Inquiry
            && self.handovers.is_empty()
            && self
                .case
                .inquiry
                .as_ref()
                .is_some_and(|i| i.answer.is_some() && i.promised_by.is_none() && i.escalated_to.is_none())
    }

    /// R-CMP-2/R-CMP-3 for every way a complaint reaches a department: any department,
    /// the one complained about included, unless the director must handle it; then only
    /// the director's office, or the department the director's solution names (R-CMP-5).
    pub(super) fn complaint_may_go_to(&self, department: DepartmentId, kind: DepartmentKind) -> Result<(), Refusal> {
        let Some(c) = &self.case.complaint else { return Ok(()) };
        if c.solution.as_ref().is_some_and(|s| s.department == department) {
            return Ok(());
        }
        complaint_route_allowed(&c.details, kind)
    }

    /// The flow's own conditions for collecting the sheet back.
    pub(super) fn flow_ready_to_collect(&self) -> Result<(), Refusal> {
        if let Some(r) = &self.case.repair
            && r.technician.is_some()
            && r.completed_at.is_none()
            && self.outcome.is_none()
        {
            return Err(Refusal("repair.not_completed"));
        }
        if let Some(c) = &self.case.complaint
            && c.judgement.is_none()
        {
            return Err(Refusal("complaint.not_judged"));
        }
        if let Some(i) = &self.case.inquiry
            && i.promised_by.is_some()
            && i.answer.is_none()
        {
            return Err(Refusal("inquiry.promise_open"));
        }
        // R-RECV-3: "住户提出的意见，必须由部门经理以上的管理人员作出书面回复" — every
        // suggestion, terminated or beyond the centre included.
        if self.kind == SheetKind::Suggestion && self.case.suggestion.as_ref().is_none_or(|s| s.reply.is_none()) {
            return Err(Refusal("suggestion.reply_required"));
        }
        Ok(())
    }

    /// Decide a flow command's input; [`Sheet::admits`] has said the sheet takes the step.
    pub(super) fn decide_flow(&self, cmd: &FlowCommand, now: Ms) -> Result<FlowEvent, Refusal> {
        match cmd {
            FlowCommand::OpenRepair { category, class, class_reason, source } => {
                self.kind_is(&[SheetKind::Repair, SheetKind::SpecialService])?;
                if self.case.repair.is_some() {
                    return Err(Refusal("request.already_opened"));
                }
                let suggested = category.suggested_class();
                let class = class.unwrap_or(suggested);
                let class_reason = class_reason.trim().to_string();
                if class != suggested && class_reason.is_empty() {
                    return Err(Refusal("repair.reason_required"));
                }
                Ok(FlowEvent::RepairOpened { category: *category, class, source: *source, class_reason })
            }
            FlowCommand::Reclassify { class, reason } => {
                if self.repair()?.class == *class {
                    return Err(Refusal("repair.same_class"));
                }
                let reason = need(reason, "repair.reason_required")?;
                Ok(FlowEvent::RepairReclassified { class: *class, reason })
            }
            FlowCommand::AssignTechnician { technician, appointment_at, note } => {
                let r = self.repair()?;
                if r.technician == Some(*technician) && appointment_at.is_none() {
                    return Err(Refusal("repair.same_technician"));
                }
                // A reassignment says why (R-REP-2).
                if r.technician.is_some() && note.trim().is_empty() {
                    return Err(Refusal("repair.reason_required"));
                }
                if r.class == RepairClass::Appointment && appointment_at.or(r.appointment_at).is_none() {
                    return Err(Refusal("repair.appointment_required"));
                }
                if appointment_at.is_some_and(|a| a <= now) {
                    return Err(Refusal("sheet.deadline_not_later"));
                }
                Ok(FlowEvent::TechnicianAssigned {
                    technician: *technician,
                    appointment_at: *appointment_at,
                    note: note.trim().into(),
                })
            }
            FlowCommand::Arrive => Ok(FlowEvent::Arrived),
            FlowCommand::QuoteCharge { lines } => {
                if lines.is_empty() || lines.iter().any(|l| l.quantity_centi <= 0 || l.unit_price_fen < 0) {
                    return Err(Refusal("repair.charge_empty"));
                }
                let total_fen = lines.iter().map(ChargeLine::amount_fen).sum();
                Ok(FlowEvent::ChargeQuoted { lines: lines.clone(), total_fen })
            }
            FlowCommand::ConfirmCharge { confirmation } => {
                let confirmation = confirmation.clone().ok_or(Refusal("sheet.confirmation_required"))?;
                if let Confirmation::Signature { signer } = &confirmation {
                    need(signer, "sheet.signer_required")?;
                }
                Ok(FlowEvent::ChargeConfirmed { confirmation })
            }
            FlowCommand::CompleteRepair { work_done, materials, signer } => {
                let work_done = need(work_done, "repair.work_required")?;
                let signer = need(signer, "sheet.signer_required")?;
                Ok(FlowEvent::RepairCompleted { work_done, materials: materials.trim().into(), signer })
            }
            FlowCommand::OpenComplaint { details } => {
                self.kind_is(&[SheetKind::Complaint])?;
                if self.case.complaint.is_some() {
                    return Err(Refusal("request.already_opened"));
                }
                if details.missing().is_some() {
                    return Err(Refusal("complaint.details_required"));
                }
                if details.against == Some(AgainstKind::Department) && details.against_department.is_none() {
                    return Err(Refusal("complaint.details_required"));
                }
                Ok(FlowEvent::ComplaintOpened { details: details.clone() })
            }
            FlowCommand::FlagComplaint { reason, note } => {
                let note = need(note, "complaint.note_required")?;
                Ok(FlowEvent::ComplaintFlagged { reason: *reason, note })
            }
            FlowCommand::JudgeComplaint { valid, explanation, route, deadline_at } => {
                let c = self.complaint()?;
                let explanation = need(explanation, "sheet.explanation_required")?;
                if !*valid {
                    return Ok(FlowEvent::ComplaintJudged {
                        valid: false,
                        explanation,
                        route: None,
                        deadline_at: None,
                    });
                }
                let route = route.clone().ok_or(Refusal("complaint.route_required"))?;
                match &route {
                    Route::Department { kind, .. } => complaint_route_allowed(&c.details, *kind)?,
                    Route::Developer { .. } if complaint_needs_director(&c.details) => {
                        return Err(Refusal("complaint.director_required"));
                    }
                    Route::Developer { .. } => {}
                }
                let deadline = deadline_at.ok_or(Refusal("complaint.deadline_required"))?;
                if deadline <= now {
                    return Err(Refusal("sheet.deadline_not_later"));
                }
                Ok(FlowEvent::ComplaintJudged {
                    valid: true,
                    explanation,
                    route: Some(route),
                    deadline_at: Some(deadline),
                })
            }
            FlowCommand::RecordSolution { meeting_at, attendees, plan, department } => {
                let plan = need(plan, "sheet.explanation_required")?;
                let attendees = need(attendees, "complaint.note_required")?;
                Ok(FlowEvent::SolutionRecorded { meeting_at: *meeting_at, attendees, plan, department: *department })
            }
            FlowCommand::LogProgress { note, resident_told } => {
                let note = need(note, "complaint.note_required")?;
                Ok(FlowEvent::ProgressLogged { note, resident_told: *resident_told })
            }
            FlowCommand::AnswerInquiry { answer, basis, article } => {
                let answer = need(answer, "inquiry.answer_required")?;
                let basis = need(basis, "inquiry.basis_required")?;
                Ok(FlowEvent::InquiryAnswered { answer, basis, article: *article })
            }
            FlowCommand::EscalateInquiry { to, note } => {
                let note = need(note, "complaint.note_required")?;
                Ok(FlowEvent::InquiryEscalated { to: *to, note })
            }
            FlowCommand::PromiseReply { by_at, note } => {
                if *by_at <= now {
                    return Err(Refusal("inquiry.promise_not_later"));
                }
                Ok(FlowEvent::ReplyPromised { by_at: *by_at, note: note.trim().into() })
            }
            FlowCommand::AnalyseSuggestion { analysis, to_director } => {
                let analysis = need(analysis, "suggestion.analysis_required")?;
                Ok(FlowEvent::SuggestionAnalysed { analysis, to_director: *to_director })
            }
            FlowCommand::ReplySuggestion { reply } => {
                let reply = need(reply, "suggestion.reply_required")?;
                Ok(FlowEvent::SuggestionReplied { reply })
            }
        }
    }

    /// Back with customer service when nothing is out (an answer, a reply, a judgement).
    fn back_to_desk(&mut self) {
        if matches!(self.state, SheetState::Registered | SheetState::Dispatched)
            && self.departments_out().next().is_none()
        {
            self.state = SheetState::AwaitingAcceptance;
        }
    }

    pub(super) fn apply_flow(&mut self, event: &FlowEvent, at: Ms, by: UserId) {
        match event {
            FlowEvent::RepairOpened { category, class, source, .. } => {
                self.case.repair = Some(RepairCase {
                    category: *category,
                    class: *class,
                    source: *source,
                    notified_at: at,
                    handover: None,
                    technician: None,
                    assigned_at: None,
                    reassignments: 0,
                    appointment_at: None,
                    arrived_at: None,
                    completed_at: None,
                    work_done: String::new(),
                    materials: String::new(),
                    completion_signer: String::new(),
                    charge: None,
                });
            }
            FlowEvent::RepairReclassified { class, .. } => {
                if let Some(r) = &mut self.case.repair {
                    r.class = *class;
                }
            }
            FlowEvent::TechnicianAssigned { technician, appointment_at, .. } => {
                // The repair rides on the engineering handover that is out (the latest).
                let handover = self.departments_out().last().map(|h| h.no);
                if let Some(r) = &mut self.case.repair {
                    if r.technician.is_some() {
                        r.reassignments += 1;
                    }
                    r.technician = Some(*technician);
                    r.assigned_at = Some(at);
                    if appointment_at.is_some() {
                        r.appointment_at = *appointment_at;
                        r.class = RepairClass::Appointment;
                    }
                    if r.handover.is_none() {
                        r.handover = handover;
                    }
                }
            }
            FlowEvent::Arrived => {
                if let Some(r) = &mut self.case.repair {
                    r.arrived_at = Some(at);
                }
            }
            FlowEvent::ChargeQuoted { lines, total_fen } => {
                if let Some(r) = &mut self.case.repair {
                    r.charge = Some(Charge {
                        lines: lines.clone(),
                        total_fen: *total_fen,
                        quoted_at: at,
                        quoted_by: by,
                        confirmed: None,
                        confirmed_at: None,
                    });
                }
            }
            FlowEvent::ChargeConfirmed { confirmation } => {
                if let Some(c) = self.case.repair.as_mut().and_then(|r| r.charge.as_mut()) {
                    c.confirmed = Some(confirmation.clone());
                    c.confirmed_at = Some(at);
                }
            }
            FlowEvent::RepairCompleted { work_done, materials, signer } => {
                // R-REP-5: "完成后请当事人在业主(住户)服务登记会签单上签字": the party has
                // signed the sheet, which is the later signature a call or letter waits for.
                self.signature_pending = false;
                if let Some(r) = &mut self.case.repair {
                    r.completed_at = Some(at);
                    r.work_done = work_done.clone();
                    r.materials = materials.clone();
                    r.completion_signer = signer.clone();
                }
            }
            FlowEvent::ComplaintOpened { details } => {
                self.case.complaint = Some(ComplaintCase {
                    details: details.clone(),
                    flag: None,
                    flag_note: String::new(),
                    judgement: None,
                    solution: None,
                    last_progress_at: None,
                    progress_count: 0,
                });
            }
            FlowEvent::ComplaintFlagged { reason, note } => {
                if let Some(c) = &mut self.case.complaint {
                    c.flag = Some(*reason);
                    c.flag_note = note.clone();
                }
            }
            FlowEvent::ComplaintJudged { valid, explanation, route, deadline_at } => {
                if let Some(c) = &mut self.case.complaint {
                    c.judgement = Some(Judgement {
                        valid: *valid,
                        explanation: explanation.clone(),
                        route: route.clone(),
                        deadline_at: *deadline_at,
                        at,
                        by,
                    });
                }
                if !valid {
                    self.back_to_desk();
                }
            }
            FlowEvent::SolutionRecorded { meeting_at, attendees, plan, department } => {
                if let Some(c) = &mut self.case.complaint {
                    c.solution = Some(Solution {
                        meeting_at: *meeting_at,
                        attendees: attendees.clone(),
                        plan: plan.clone(),
                        department: *department,
                        at,
                    });
                }
            }
            FlowEvent::ProgressLogged { .. } => {
                if let Some(c) = &mut self.case.complaint {
                    c.last_progress_at = Some(at);
                    c.progress_count += 1;
                }
            }
            FlowEvent::InquiryAnswered { answer, basis, article } => {
                let i = self.case.inquiry.get_or_insert_with(InquiryCase::default);
                i.answer = Some(Answer { text: answer.clone(), basis: basis.clone(), article: *article, at, by });
                self.back_to_desk();
            }
            FlowEvent::InquiryEscalated { to, .. } => {
                self.case.inquiry.get_or_insert_with(InquiryCase::default).escalated_to = Some(*to);
            }
            FlowEvent::ReplyPromised { by_at, .. } => {
                let i = self.case.inquiry.get_or_insert_with(InquiryCase::default);
                i.promised_by = Some(*by_at);
                i.promised_at = Some(at);
            }
            FlowEvent::SuggestionAnalysed { analysis, to_director } => {
                let s = self.case.suggestion.get_or_insert_with(SuggestionCase::default);
                s.analysis = Some(analysis.clone());
                s.analysed_at = Some(at);
                s.to_director = *to_director;
            }
            FlowEvent::SuggestionReplied { reply } => {
                let s = self.case.suggestion.get_or_insert_with(SuggestionCase::default);
                s.reply = Some(reply.clone());
                s.replied_at = Some(at);
                s.replied_by = Some(by);
                self.back_to_desk();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::lifecycle::{Command, EVENT_TYPES};
    use crate::sheet::{Channel, Sheet};

    const DESK: UserId = 10;
    const TECH: UserId = 20;
    const ENG: DepartmentId = 2;
    const MIN: Ms = 60_000;

    /// Send the sheet to a department (engineering, or security for `SEC`).
    fn dispatch(department: DepartmentId, opinion: &str) -> Command {
        let kind = if department == 3 { DepartmentKind::Security } else { DepartmentKind::Engineering };
        Command::Dispatch { department, kind, to_user: None, opinion: opinion.into() }
    }
    fn repair(category: RepairCategory) -> Sheet {
        let (mut s, _) = Sheet::register(SheetKind::Repair, Channel::Phone, DESK, 0);
        s.handle(
            &Command::Flow(FlowCommand::OpenRepair {
                category,
                class: None,
                class_reason: String::new(),
                source: RepairSource::Desk,
            }),
            0,
            DESK,
        )
        .unwrap();
        s
    }

    fn dispatched_and_assigned(category: RepairCategory) -> Sheet {
        let mut s = repair(category);
        s.handle(&dispatch(ENG, "派工"), MIN, DESK).unwrap();
        s.handle(&Command::Acknowledge { handover: 1 }, MIN, 30).unwrap();
        s.handle(
            &Command::Flow(FlowCommand::AssignTechnician {
                technician: TECH,
                appointment_at: None,
                note: String::new(),
            }),
            2 * MIN,
            30,
        )
        .unwrap();
        s
    }

    /// R-REP-3: water, heating and gas are emergencies; small jobs simple; the rest general.
    #[test]
    fn r_rep_3_category_suggests_the_class() {
        assert_eq!(RepairCategory::Water.suggested_class(), RepairClass::Emergency);
        assert_eq!(RepairCategory::Heating.suggested_class(), RepairClass::Emergency);
        assert_eq!(RepairCategory::Gas.suggested_class(), RepairClass::Emergency);
        assert_eq!(RepairCategory::Lighting.suggested_class(), RepairClass::Simple);
        assert_eq!(RepairCategory::Lift.suggested_class(), RepairClass::General);
        assert_eq!(RepairCategory::parse("漏水/爆管"), Ok(RepairCategory::Water));
        assert_eq!(RepairClass::parse("紧急"), Ok(RepairClass::Emergency));
        assert!(RepairClass::Emergency.rank() < RepairClass::Simple.rank());
        // Another class than the suggested one needs a reason.
        let (s, _) = Sheet::register(SheetKind::Repair, Channel::Phone, DESK, 0);
        let open = |class, reason: &str| {
            Command::Flow(FlowCommand::OpenRepair {
                category: RepairCategory::Water,
                class: Some(class),
                class_reason: reason.into(),
                source: RepairSource::Desk,
            })
        };
        assert_eq!(s.decide(&open(RepairClass::General, ""), 0), Err(Refusal("repair.reason_required")));
        assert!(s.decide(&open(RepairClass::General, "住户已关总阀"), 0).is_ok());
        assert!(s.decide(&open(RepairClass::Emergency, ""), 0).is_ok());
    }

    /// R-REP-3: arrival due from when the technician is told (assigned) by class, or at the
    /// appointment; lateness; "at once" is a target of 0 minutes.
    #[test]
    fn r_rep_3_arrival_due_and_lateness() {
        let t = ArrivalTargets::default();
        let mut s = dispatched_and_assigned(RepairCategory::Water);
        let r = s.case.repair.clone().unwrap();
        assert_eq!(r.arrival_due(&t), Some(2 * MIN + 15 * MIN), "from the assignment, not the registration");
        assert_eq!(r.lateness_ms(&t, 10 * MIN), None);
        assert_eq!(r.lateness_ms(&t, 27 * MIN), Some(10 * MIN), "still not there");
        let at_once = ArrivalTargets { emergency_min: 0, ..t };
        assert_eq!(r.arrival_due(&at_once), Some(2 * MIN));
        s.handle(&Command::Flow(FlowCommand::Arrive), 20 * MIN, TECH).unwrap();
        let r = s.case.repair.clone().unwrap();
        assert_eq!(r.lateness_ms(&t, 60 * MIN), Some(3 * MIN), "arrived three minutes late");
        assert_eq!(r.lateness_ms(&at_once, 60 * MIN), Some(18 * MIN), "at once: every minute after being told counts");
        let g = repair(RepairCategory::Lift).case.repair.unwrap();
        assert_eq!(g.arrival_due(&t), None, "no clock before a technician is told");
        // An agreed time makes it an appointment, due then.
        let mut s = repair(RepairCategory::Lift);
        s.handle(&dispatch(ENG, "x"), 0, DESK).unwrap();
        s.handle(
            &Command::Flow(FlowCommand::AssignTechnician {
                technician: TECH,
                appointment_at: Some(300 * MIN),
                note: String::new(),
            }),
            MIN,
            30,
        )
        .unwrap();
        let r = s.case.repair.unwrap();
        assert_eq!((r.class, r.arrival_due(&t)), (RepairClass::Appointment, Some(300 * MIN)));
    }

    /// R-REP-4/R-REP-5: no completion without arrival, nor before the resident confirms a
    /// charge; the engineering handover cannot return before completion.
    #[test]
    fn r_rep_4_5_completion_rules() {
        let mut s = dispatched_and_assigned(RepairCategory::Fixtures);
        let complete = Command::Flow(FlowCommand::CompleteRepair {
            work_done: "换水龙头".into(),
            materials: String::new(),
            signer: "王".into(),
        });
        assert_eq!(s.decide(&complete, 3 * MIN), Err(Refusal("repair.not_arrived")));
        s.handle(&Command::Flow(FlowCommand::Arrive), 3 * MIN, TECH).unwrap();
        let line = ChargeLine {
            item_id: 1,
            name: "水龙头".into(),
            unit: "个".into(),
            unit_price_fen: 3550,
            quantity_centi: 150,
        };
        assert_eq!(line.amount_fen(), 5325);
        s.handle(&Command::Flow(FlowCommand::QuoteCharge { lines: vec![line.clone()] }), 4 * MIN, 30).unwrap();
        assert_eq!(s.decide(&complete, 5 * MIN), Err(Refusal("repair.charge_unconfirmed")));
        assert_eq!(
            s.decide(&Command::Flow(FlowCommand::ConfirmCharge { confirmation: None }), 5 * MIN),
            Err(Refusal("sheet.confirmation_required"))
        );
        let ret = Command::Return { handover: 1, result: "好了".into(), signer: "李".into() };
        assert_eq!(s.decide(&ret, 5 * MIN), Err(Refusal("repair.not_completed")));
        s.handle(
            &Command::Flow(FlowCommand::ConfirmCharge {
                confirmation: Some(Confirmation::Signature { signer: "王".into() }),
            }),
            5 * MIN,
            TECH,
        )
        .unwrap();
        assert_eq!(
            s.decide(&Command::Flow(FlowCommand::QuoteCharge { lines: vec![line] }), 6 * MIN),
            Err(Refusal("repair.charge_confirmed"))
        );
        s.handle(&complete, 6 * MIN, TECH).unwrap();
        assert_eq!(s.decide(&complete, 7 * MIN), Err(Refusal("repair.completed")));
        s.handle(&ret, 8 * MIN, DESK).unwrap();
        assert_eq!(s.state, SheetState::AwaitingAcceptance);
    }

    fn complaint(against: AgainstKind, department: Option<DepartmentId>) -> Sheet {
        let (mut s, _) = Sheet::register(SheetKind::Complaint, Channel::Visit, DESK, 0);
        let details = ComplaintDetails {
            category: "服务态度".into(),
            occurred_at: Some(0),
            place: "前台".into(),
            cause: "态度".into(),
            course: "经过".into(),
            people: "接待员".into(),
            against: Some(against),
            against_department: department,
            against_department_kind: department.map(|_| DepartmentKind::Engineering),
            ..Default::default()
        };
        s.handle(&Command::Flow(FlowCommand::OpenComplaint { details }), 0, DESK).unwrap();
        s
    }

    /// R-CMP-3 holds on a plain dispatch as on a judgement: a complaint about customer-service
    /// staff goes to the director's office, and on to another department only once the
    /// director's solution names it (R-CMP-5).
    #[test]
    fn r_cmp_3_a_complaint_for_the_director_is_dispatched_only_where_the_rules_allow() {
        let mut s = complaint(AgainstKind::CustomerServiceStaff, None);
        let send = |department, kind| Command::Dispatch { department, kind, to_user: None, opinion: "处理".into() };
        assert_eq!(s.decide(&send(ENG, DepartmentKind::Engineering), 1), Err(Refusal("complaint.director_required")));
        s.handle(&send(9, DepartmentKind::DirectorOffice), 1, DESK).unwrap();
        let flag = FlowCommand::FlagComplaint { reason: FlagReason::Serious, note: "严重".into() };
        s.handle(&Command::Flow(flag), 2, 40).unwrap();
        let solution = FlowCommand::RecordSolution {
            meeting_at: 3,
            attendees: "主任、工程部经理".into(),
            plan: "更换管道".into(),
            department: ENG,
        };
        s.handle(&Command::Flow(solution), 3, 40).unwrap();
        s.handle(&send(ENG, DepartmentKind::Engineering), 4, 40).unwrap();
        // Any department may take a complaint about the service itself, the subject included.
        let mut t = complaint(AgainstKind::Department, Some(ENG));
        t.handle(&send(ENG, DepartmentKind::Engineering), 1, DESK).unwrap();
    }

    /// R-CMP-3: complaints about staff go to the director; never to the subject.
    #[test]
    fn r_cmp_3_routing() {
        let judge = |department, kind| {
            Command::Flow(FlowCommand::JudgeComplaint {
                valid: true,
                explanation: "核实".into(),
                route: Some(Route::Department { department, kind }),
                deadline_at: Some(100),
            })
        };
        for against in [AgainstKind::CustomerServiceStaff, AgainstKind::Supervisor, AgainstKind::CompanyAdministration]
        {
            let s = complaint(against, None);
            assert!(s.decide(&judge(ENG, DepartmentKind::Engineering), 1).is_err(), "{against:?}");
            assert!(s.decide(&judge(9, DepartmentKind::DirectorOffice), 1).is_ok(), "{against:?}");
        }
        let s = complaint(AgainstKind::CustomerServiceStaff, None);
        assert_eq!(
            s.decide(&judge(1, DepartmentKind::CustomerService), 1),
            Err(Refusal("complaint.director_required"))
        );
        // R-CMP-2: "发送到被投诉或处理投诉的相关部门": the department complained about may
        // handle it, or another that handles it.
        let s = complaint(AgainstKind::Department, Some(ENG));
        assert!(s.decide(&judge(ENG, DepartmentKind::Engineering), 1).is_ok());
        assert!(s.decide(&judge(3, DepartmentKind::Security), 1).is_ok());
        // Customer service as a department is its staff: the director.
        let mut details = s.case.complaint.clone().unwrap().details;
        details.against_department = Some(1);
        details.against_department_kind = Some(DepartmentKind::CustomerService);
        assert!(complaint_needs_director(&details));
        assert_eq!(
            complaint_route_allowed(&details, DepartmentKind::CustomerService),
            Err(Refusal("complaint.director_required"))
        );
        assert!(complaint_route_allowed(&details, DepartmentKind::DirectorOffice).is_ok());
        let dev = Command::Flow(FlowCommand::JudgeComplaint {
            valid: true,
            explanation: "遗留".into(),
            route: Some(Route::Developer { contact: "开发商客服".into() }),
            deadline_at: Some(100),
        });
        assert_eq!(
            complaint(AgainstKind::Supervisor, None).decide(&dev, 1),
            Err(Refusal("complaint.director_required"))
        );
        assert!(complaint(AgainstKind::DeveloperLegacy, None).decide(&dev, 1).is_ok());
    }

    /// R-CMP-1: time, place, cause, course and people are each recorded, or time, place and
    /// people marked unknown on purpose; nothing is left out silently.
    #[test]
    fn r_cmp_1_details_are_recorded_or_marked_unknown() {
        let full = ComplaintDetails {
            category: "噪音".into(),
            occurred_at: Some(1),
            place: "3号楼".into(),
            cause: "装修".into(),
            course: "夜间施工".into(),
            people: "楼上住户".into(),
            ..Default::default()
        };
        assert_eq!(full.missing(), None);
        let mut d = full.clone();
        d.occurred_at = None;
        assert_eq!(d.missing(), Some("occurred_at"));
        d.occurred_unknown = true;
        assert_eq!(d.missing(), None);
        d.people = " ".into();
        assert_eq!(d.missing(), Some("people"));
        d.people_unknown = true;
        d.place.clear();
        assert_eq!(d.missing(), Some("place"));
        d.place_unknown = true;
        assert_eq!(d.missing(), None);
        d.cause.clear();
        assert_eq!(d.missing(), Some("cause"), "the cause is never unknown");
        let (s, _) = Sheet::register(SheetKind::Complaint, Channel::Phone, DESK, 0);
        assert_eq!(
            s.decide(&Command::Flow(FlowCommand::OpenComplaint { details: d }), 1),
            Err(Refusal("complaint.details_required"))
        );
        assert!(s.decide(&Command::Flow(FlowCommand::OpenComplaint { details: full }), 1).is_ok());
    }

    /// R-CMP-2: not the centre's work goes back to the desk with its explanation; a
    /// complaint cannot be collected before it is judged.
    #[test]
    fn r_cmp_2_judged_before_collected() {
        let mut s = complaint(AgainstKind::Service, None);
        let collect = Command::Collect {
            opinion: "好".into(),
            confirmation: Some(Confirmation::Phone { at: 1, note: String::new() }),
            by_director: false,
            on_behalf: None,
        };
        assert!(s.decide(&collect, 1).is_err());
        s.handle(
            &Command::Flow(FlowCommand::JudgeComplaint {
                valid: false,
                explanation: "非物业职责".into(),
                route: None,
                deadline_at: None,
            }),
            1,
            5,
        )
        .unwrap();
        assert_eq!(s.state, SheetState::AwaitingAcceptance);
        assert!(s.decide(&collect, 2).is_ok());
    }

    /// R-RECV-2: a promise is missed when past unanswered, or answered late.
    #[test]
    fn r_recv_2_promise_missed() {
        let (mut s, _) = Sheet::register(SheetKind::Inquiry, Channel::Phone, DESK, 0);
        assert_eq!(
            s.decide(&Command::Flow(FlowCommand::PromiseReply { by_at: 0, note: String::new() }), 5),
            Err(Refusal("inquiry.promise_not_later"))
        );
        s.handle(&Command::Flow(FlowCommand::PromiseReply { by_at: 100, note: String::new() }), 5, DESK).unwrap();
        let i = s.case.inquiry.clone().unwrap();
        assert!(!i.promise_missed(50) && i.promise_missed(101));
        s.handle(
            &Command::Flow(FlowCommand::AnswerInquiry { answer: "a".into(), basis: "b".into(), article: None }),
            120,
            DESK,
        )
        .unwrap();
        assert!(s.case.inquiry.unwrap().promise_missed(130), "answered after the promise");
    }

    /// Flow steps on the wrong kind of sheet are refused.
    #[test]
    fn steps_belong_to_their_kind() {
        let (s, _) = Sheet::register(SheetKind::Inquiry, Channel::Phone, DESK, 0);
        assert_eq!(s.decide(&Command::Flow(FlowCommand::Arrive), 1), Err(Refusal("repair.not_opened")));
        assert_eq!(
            s.decide(&Command::Flow(FlowCommand::ReplySuggestion { reply: "x".into() }), 1),
            Err(Refusal("request.wrong_kind"))
        );
        let (s, _) = Sheet::register(SheetKind::Suggestion, Channel::Phone, DESK, 0);
        assert_eq!(
            s.decide(
                &Command::Flow(FlowCommand::AnswerInquiry { answer: "a".into(), basis: "b".into(), article: None }),
                1
            ),
            Err(Refusal("request.wrong_kind"))
        );
    }

    mod flows_property {
        use super::*;
        use proptest::prelude::*;

        fn command() -> impl Strategy<Value = (Command, UserId)> {
            let text = prop_oneof![Just(String::new()), Just("说明".to_string())];
            let line = ChargeLine {
                item_id: 1,
                name: "水龙头".into(),
                unit: "个".into(),
                unit_price_fen: 4500,
                quantity_centi: 100,
            };
            prop_oneof![
                (0usize..RepairCategory::ALL.len()).prop_map(|c| (
                    Command::Flow(FlowCommand::OpenRepair {
                        category: RepairCategory::ALL[c],
                        class: None,
                        class_reason: String::new(),
                        source: RepairSource::Desk
                    }),
                    DESK
                )),
                (1i64..4, text.clone()).prop_map(|(d, o)| (
                    Command::Dispatch { department: d, kind: DepartmentKind::Engineering, to_user: None, opinion: o },
                    DESK
                )),
                (1u32..4).prop_map(|h| (Command::Acknowledge { handover: h }, 30)),
                (1u32..4, text.clone(), text.clone())
                    .prop_map(|(h, r, s)| (Command::Return { handover: h, result: r, signer: s }, 30)),
                (prop_oneof![Just(TECH), Just(TECH + 1)], text.clone()).prop_map(|(t, n)| (
                    Command::Flow(FlowCommand::AssignTechnician { technician: t, appointment_at: None, note: n }),
                    30
                )),
                Just((Command::Flow(FlowCommand::Arrive), TECH)),
                Just((Command::Flow(FlowCommand::QuoteCharge { lines: vec![line] }), 30)),
                any::<bool>().prop_map(|c| (
                    Command::Flow(FlowCommand::ConfirmCharge {
                        confirmation: c.then(|| Confirmation::Signature { signer: "王".into() })
                    }),
                    TECH
                )),
                (text.clone(), text.clone()).prop_map(|(w, s)| (
                    Command::Flow(FlowCommand::CompleteRepair { work_done: w, materials: String::new(), signer: s }),
                    TECH
                )),
                (text.clone(), any::<bool>(), 1i64..4).prop_map(|(e, v, d)| (
                    Command::Flow(FlowCommand::JudgeComplaint {
                        valid: v,
                        explanation: e,
                        route: Some(Route::Department { department: d, kind: DepartmentKind::Engineering }),
                        deadline_at: Some(10_000)
                    }),
                    5
                )),
                text.clone()
                    .prop_map(|n| (Command::Flow(FlowCommand::LogProgress { note: n, resident_told: true }), DESK)),
                (text.clone(), text.clone()).prop_map(|(a, b)| (
                    Command::Flow(FlowCommand::AnswerInquiry { answer: a, basis: b, article: None }),
                    DESK
                )),
                (0i64..200)
                    .prop_map(|t| (Command::Flow(FlowCommand::PromiseReply { by_at: t, note: String::new() }), DESK)),
                text.clone().prop_map(|a| (
                    Command::Flow(FlowCommand::AnalyseSuggestion { analysis: a, to_director: false }),
                    5
                )),
                text.clone().prop_map(|r| (Command::Flow(FlowCommand::ReplySuggestion { reply: r }), 5)),
                (text.clone(), any::<bool>()).prop_map(|(o, c)| (
                    Command::Collect {
                        opinion: o,
                        confirmation: c.then(|| Confirmation::Signature { signer: "王".into() }),
                        by_director: false,
                        on_behalf: None,
                    },
                    DESK
                )),
                text.prop_map(|e| (Command::Terminate { explanation: e, signed_by: Some(5) }, 5)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1500))]

            /// Whatever the order of steps: no repair completes without an arrival or with a
            /// charge unconfirmed, no assigned repair is collected unfinished, no complaint is
            /// collected unjudged, no suggestion without its reply, a refused step changes
            /// nothing, and the history rebuilds the sheet.
            #[test]
            fn flow_rules_hold_for_any_sequence(kind in 0usize..7, cmds in proptest::collection::vec(command(), 0..50)) {
                let kind = SheetKind::ALL[kind];
                let (mut s, first) = Sheet::register(kind, Channel::Phone, DESK, 0);
                let mut log = vec![first];
                if kind == SheetKind::Complaint {
                    let details = ComplaintDetails { category: "噪音".into(), cause: "c".into(), course: "c".into(), occurred_unknown: true, place_unknown: true, people_unknown: true, ..Default::default() };
                    log.push(s.handle(&Command::Flow(FlowCommand::OpenComplaint { details }), 0, DESK).unwrap());
                }
                for (i, (cmd, by)) in cmds.iter().enumerate() {
                    let before = s.clone();
                    match s.handle(cmd, i as i64 + 1, *by) {
                        Ok(rec) => {
                            prop_assert!(EVENT_TYPES.contains(&rec.event.name()), "{} is not a known event type", rec.event.name());
                            log.push(rec)
                        }
                        Err(_) => prop_assert_eq!(&s, &before, "a refused step changes nothing"),
                    }
                    if let Some(r) = &s.case.repair {
                        if let Some(done) = r.completed_at {
                            prop_assert!(r.arrived_at.is_some_and(|a| a <= done), "completed without arrival");
                            prop_assert!(!r.charge_outstanding(), "completed with the charge unconfirmed");
                        }
                        let closed = matches!(s.state, SheetState::Collected | SheetState::Archived);
                        if closed && r.technician.is_some() && s.outcome.is_none() {
                            prop_assert!(r.completed_at.is_some(), "collected with the repair unfinished");
                        }
                    }
                    if s.state == SheetState::Collected {
                        if let Some(c) = &s.case.complaint {
                            prop_assert!(c.judgement.is_some(), "complaint collected unjudged");
                        }
                        if kind == SheetKind::Suggestion {
                            prop_assert!(s.case.suggestion.as_ref().is_some_and(|x| x.reply.is_some()), "suggestion closed without its written reply");
                        }
                    }
                }
                prop_assert_eq!(Sheet::replay(&log).unwrap(), s, "the history rebuilds the sheet");
            }
        }
    }
}

//! The flows on a sheet (R-RECV-1 … R-RECV-4, R-REP-1 … R-REP-5, R-CMP-1 … R-CMP-7): who
//! may do each step and the commands it becomes, what registration adds for a repair or a
//! complaint, the flows' projection and timers, the dispatcher's board, the technician's
//! day, the ledgers, and the settings, price list and knowledge base a community keeps.

use super::sheet::{On, Plan, Signed, Step, cs_part, refused, step_authority, stored_signature};
use super::{Actor, App, AppError, AppResult, Authority, audit};
use crate::store::{self, org, request as srq, sheet as st};
use huiqian_domain::auth::{Permission, Role};
use huiqian_domain::money::Money;
use huiqian_domain::sheet::reminder::ReminderRules;
use huiqian_domain::sheet::request::{
    AgainstKind, ArrivalTargets, Case, ChargeLine, ComplaintDetails, FlagReason, FlowCommand, FlowEvent,
    RepairCategory, RepairClass, RepairSource, Route, complaint_needs_director,
};
use huiqian_domain::sheet::{Command, Confirmation, Outcome, Sheet, SheetKind, SheetState};
use huiqian_domain::unit::DepartmentKind;
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::json;

const HOUR: i64 = 3_600_000;

/// A step of a repair, complaint, inquiry or suggestion, as the API and forms send it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FlowAction {
    /// Change a repair's arrival class, saying why (R-REP-3).
    Reclassify { class: String, reason: String },
    /// The dispatcher names the technician and, if agreed with the resident, a time
    /// (R-REP-2). Naming another technician needs a `note` saying why.
    AssignTechnician {
        technician_id: i64,
        #[serde(default)]
        appointment_at: Option<i64>,
        #[serde(default)]
        note: String,
    },
    /// The assigned technician is at the door (R-REP-3).
    Arrive,
    /// Paid work priced from the community's list (R-REP-4).
    QuoteCharge { lines: Vec<QuoteLine> },
    /// The resident accepts the charge before work starts: signed, or by phone (R-REP-4).
    ConfirmCharge {
        #[serde(default)]
        signature: String,
        #[serde(default)]
        signer: String,
        /// Typed with the keyboard and confirmed rather than drawn.
        #[serde(default)]
        signature_typed: bool,
        #[serde(default)]
        phone_confirmed_at: Option<i64>,
        #[serde(default)]
        phone_note: String,
    },
    /// Work done and materials; the resident signs on the technician's phone (R-REP-5).
    CompleteRepair {
        work_done: String,
        #[serde(default)]
        materials: String,
        signature: String,
        signer: String,
        /// Typed with the keyboard and confirmed rather than drawn.
        #[serde(default)]
        signature_typed: bool,
    },
    /// Customer service receives the signed repair slip (R-REP-5, within 24 hours).
    ReceiveSlip,
    /// Into the complaint ledger as `serious` or `repeat` (R-CMP-5).
    FlagComplaint { reason: String, note: String },
    /// Valid (to a department with a deadline, or to the developer's customer service) or
    /// not the centre's work, explained (R-CMP-2 … R-CMP-4).
    JudgeComplaint {
        valid: bool,
        explanation: String,
        #[serde(default)]
        department_id: Option<i64>,
        #[serde(default)]
        developer_contact: String,
        #[serde(default)]
        deadline_at: Option<i64>,
    },
    /// The director's solution meeting and the department carrying it out (R-CMP-5).
    RecordSolution { meeting_at: i64, attendees: String, plan: String, department_id: i64 },
    /// Progress told to the resident (R-CMP-6).
    LogProgress {
        note: String,
        #[serde(default)]
        resident_told: bool,
    },
    /// Answer an inquiry with its basis, optionally citing a knowledge-base article (R-RECV-2).
    AnswerInquiry {
        answer: String,
        basis: String,
        #[serde(default)]
        article_id: Option<i64>,
    },
    /// Bring in a manager (R-RECV-2).
    EscalateInquiry { to_user_id: i64, note: String },
    /// Promise a reply by a time; tracked to its deadline (R-RECV-2).
    PromiseReply {
        by_at: i64,
        #[serde(default)]
        note: String,
    },
    /// The manager's analysis; valuable ones go to the director (R-RECV-3).
    AnalyseSuggestion {
        analysis: String,
        #[serde(default)]
        to_director: bool,
    },
    /// The written reply, by a department manager or higher (R-RECV-3).
    ReplySuggestion { reply: String },
}

impl FlowAction {
    /// The `action` of every step (what tells a flow step from one of the sheet's own).
    pub const TAGS: &'static [&'static str] = &[
        "reclassify",
        "assign_technician",
        "arrive",
        "quote_charge",
        "confirm_charge",
        "complete_repair",
        "receive_slip",
        "flag_complaint",
        "judge_complaint",
        "record_solution",
        "log_progress",
        "answer_inquiry",
        "escalate_inquiry",
        "promise_reply",
        "analyse_suggestion",
        "reply_suggestion",
    ];
}

/// One line of paid work: a price-list item and a quantity in hundredths (2.5 m → 250).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct QuoteLine {
    pub item_id: i64,
    pub quantity_centi: i64,
}

/// What registration records of a repair (R-REP-1, R-REP-3).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RepairIntake {
    /// Required: `water`, `heating`, `gas`, `electrical`, `lighting`, `door_window`,
    /// `drainage`, `fixtures`, `lift`, `intercom`, `public_area`, `other`. The category
    /// sets the arrival class (water, heating and gas are emergencies), so it is never
    /// guessed.
    pub category: String,
    /// Empty: the class the category suggests. Another class needs `class_reason`.
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub class_reason: String,
}

/// What registration records of a complaint (R-CMP-1: "要将事件的时间、地点、事件起因、过程、
/// 相关人员等投诉情况做详细记录"): time, place and people are each given, or marked unknown.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ComplaintIntake {
    /// A short category (噪音, 服务态度, 漏水 …); repeats are counted by unit and category.
    pub category: String,
    /// When it happened (epoch ms); required unless `occurred_unknown`.
    #[serde(default)]
    pub occurred_at: Option<i64>,
    /// The complainant does not know when: recorded as unknown on purpose.
    #[serde(default)]
    pub occurred_unknown: bool,
    /// Where; required unless `place_unknown`.
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub place_unknown: bool,
    pub cause: String,
    pub course: String,
    /// The people involved; required unless `people_unknown`.
    #[serde(default)]
    pub people: String,
    #[serde(default)]
    pub people_unknown: bool,
    /// `department`, `customer_service_staff`, `supervisor`, `company_administration`,
    /// `developer_legacy`, `service`. Left out, `service`; given but empty (a form whose
    /// choice was not made), refused: R-CMP-3 routes by it, so the desk must choose.
    #[serde(default)]
    pub against: Option<String>,
    #[serde(default)]
    pub against_department_id: Option<i64>,
    #[serde(default)]
    pub against_name: String,
    /// The member of staff complained about, when the complaint names one: they never
    /// follow the complaint up (R-FU-1, R-CMP-7).
    #[serde(default)]
    pub against_user_id: Option<i64>,
}

pub(crate) fn in_role(actor: &Actor, c: i64, roles: &[Role]) -> Option<Authority> {
    actor.roles_in(c).into_iter().find(|r| roles.contains(r)).and_then(|role| actor.holding(role, c).ok())
}

async fn department_of_kind(app: &App, c: i64, kind: DepartmentKind) -> AppResult<Option<i64>> {
    Ok(org::departments(app.store.read(), c)
        .await?
        .into_iter()
        .find(|d| d.kind == kind.as_str() && d.active == 1)
        .map(|d| d.id))
}

async fn department_kind(app: &App, c: i64, id: i64) -> AppResult<DepartmentKind> {
    let d = org::department(app.store.read(), id)
        .await?
        .filter(|d| d.community_id == c && d.active == 1)
        .ok_or_else(|| AppError::field("department_id", ValidationError::new("department.unknown")))?;
    DepartmentKind::parse(&d.kind).map_err(|e| AppError::field("department_id", e))
}

fn signature(app: &App, data: &str, signer: &str, typed: bool) -> AppResult<Signed> {
    if data.trim().is_empty() {
        return Err(AppError::field("signature", ValidationError::new("signature.required")));
    }
    stored_signature(app, data, signer, typed)
}

/// The engineering handover a repair rides on: its own, or the one that is out.
async fn engineering_handover(app: &App, c: i64, sheet: &Sheet) -> AppResult<Option<u32>> {
    if let Some(h) = sheet.case.repair.as_ref().and_then(|r| r.handover) {
        return Ok(Some(h));
    }
    let eng = department_of_kind(app, c, DepartmentKind::Engineering).await?;
    Ok(sheet.departments_out().filter(|h| Some(h.department) == eng).map(|h| h.no).last())
}

async fn is_technician(app: &App, c: i64, user_id: i64) -> AppResult<bool> {
    let mut conn = app.store.read().acquire().await?;
    Ok(srq::users_with_roles(&mut conn, c, &["technician"]).await?.contains(&user_id))
}

/// The assigned technician, acting on their own job.
pub(crate) fn own_job(actor: &Actor, c: i64, sheet: &Sheet) -> AppResult<Authority> {
    let a = actor.authorize(Permission::DoRepair, c)?;
    let r = sheet.case.repair.as_ref().ok_or(AppError::rejected("repair.not_opened"))?;
    if r.technician != Some(actor.user_id()) {
        return Err(AppError::rejected("repair.not_your_job"));
    }
    Ok(a)
}

/// Turn a flow action into commands, checking who may do it.
pub(crate) async fn plan(app: &App, actor: &Actor, c: i64, sheet: &Sheet, action: &FlowAction) -> AppResult<Plan> {
    let one = |authority: Authority, cmd: Command| Plan { authority, commands: vec![cmd], signature: None };
    let a = step_authority(app, actor, c, sheet, action.step(), On::default()).await?;
    Ok(match action {
        FlowAction::Reclassify { class, reason } => {
            let class = RepairClass::parse(class).map_err(|e| AppError::field("class", e))?;
            one(a, Command::Flow(FlowCommand::Reclassify { class, reason: reason.clone() }))
        }
        FlowAction::AssignTechnician { technician_id, appointment_at, note } => {
            let commands = assignment(app, c, sheet, *technician_id, *appointment_at, note).await?;
            Plan { authority: a, commands, signature: None }
        }
        FlowAction::Arrive => {
            let mut commands = vec![];
            if let Some(h) = sheet.case.repair.as_ref().and_then(|r| r.handover).and_then(|h| sheet.handover(h))
                && h.state == huiqian_domain::sheet::HandoverState::Acknowledged
            {
                commands.push(Command::StartWork { handover: h.no });
            }
            commands.push(Command::Flow(FlowCommand::Arrive));
            Plan { authority: a, commands, signature: None }
        }
        FlowAction::QuoteCharge { lines } => {
            let lines = priced(app, c, lines).await?;
            one(a, Command::Flow(FlowCommand::QuoteCharge { lines }))
        }
        FlowAction::ConfirmCharge { signature: data, signer, signature_typed, phone_confirmed_at, phone_note } => {
            let mut sig = None;
            let confirmation = if !data.trim().is_empty() {
                sig = Some(signature(app, data, signer, *signature_typed)?);
                Some(Confirmation::Signature { signer: signer.clone() })
            } else {
                phone_confirmed_at.map(|at| Confirmation::Phone { at, note: phone_note.clone() })
            };
            Plan {
                authority: a,
                commands: vec![Command::Flow(FlowCommand::ConfirmCharge { confirmation })],
                signature: sig,
            }
        }
        FlowAction::CompleteRepair { work_done, materials, signature: data, signer, signature_typed } => {
            let cmd = Command::Flow(FlowCommand::CompleteRepair {
                work_done: work_done.clone(),
                materials: materials.clone(),
                signer: signer.clone(),
            });
            // The domain's rules first (no arrival, charge unconfirmed): that refusal is the
            // answer, not the missing signature, and no signature is stored for nothing.
            sheet.decide(&cmd, app.clock.now()).map_err(|r| AppError::rejected(r.0))?;
            Plan { authority: a, commands: vec![cmd], signature: Some(signature(app, data, signer, *signature_typed)?) }
        }
        FlowAction::ReceiveSlip => {
            sheet.admits(Step::ReceiveSlip, None).map_err(refused)?;
            let r = sheet.case.repair.as_ref().ok_or(AppError::rejected("repair.not_opened"))?;
            let handover = r.handover.ok_or(AppError::rejected("repair.not_assigned"))?;
            let result = if r.materials.is_empty() {
                r.work_done.clone()
            } else {
                format!("{}（材料：{}）", r.work_done, r.materials)
            };
            let mut commands = vec![Command::Return { handover, result, signer: r.completion_signer.clone() }];
            // The slip comes back to the desk: whoever at customer service takes it signs
            // for it (R-SHEET-5); the dispatcher passing it on does not.
            if cs_part(actor, c, sheet).is_ok() {
                commands.push(Command::ReceiveReturn { handover });
            }
            Plan { authority: a, commands, signature: None }
        }
        FlowAction::FlagComplaint { reason, note } => {
            let reason = FlagReason::parse(reason).map_err(|e| AppError::field("reason", e))?;
            one(a, Command::Flow(FlowCommand::FlagComplaint { reason, note: note.clone() }))
        }
        FlowAction::JudgeComplaint { valid, explanation, department_id, developer_contact, deadline_at } => {
            let route = match (valid, department_id, developer_contact.trim()) {
                (false, _, _) => None,
                (true, Some(d), _) => {
                    Some(Route::Department { department: *d, kind: department_kind(app, c, *d).await? })
                }
                (true, None, contact) if !contact.is_empty() => Some(Route::Developer { contact: contact.to_string() }),
                (true, None, _) => return Err(AppError::rejected("complaint.route_required")),
            };
            let judged = FlowCommand::JudgeComplaint {
                valid: *valid,
                explanation: explanation.clone(),
                route: route.clone(),
                deadline_at: *deadline_at,
            };
            let mut commands = vec![Command::Flow(judged)];
            commands.extend(route.map(|r| routed(r, explanation)));
            Plan { authority: a, commands, signature: None }
        }
        FlowAction::RecordSolution { meeting_at, attendees, plan, department_id } => {
            // R-CMP-5: "中心主任组织相关人员制定解决方案，指定部门实施" — the director names
            // whichever department carries the solution out.
            let kind = department_kind(app, c, *department_id).await?;
            let mut commands = vec![Command::Flow(FlowCommand::RecordSolution {
                meeting_at: *meeting_at,
                attendees: attendees.clone(),
                plan: plan.clone(),
                department: *department_id,
            })];
            let holding = sheet.departments_out().any(|h| h.department == *department_id);
            if !holding && sheet.outcome.is_none() {
                commands.push(Command::Dispatch {
                    department: *department_id,
                    kind,
                    to_user: None,
                    opinion: plan.clone(),
                });
            }
            Plan { authority: a, commands, signature: None }
        }
        FlowAction::LogProgress { note, resident_told } => {
            one(a, Command::Flow(FlowCommand::LogProgress { note: note.clone(), resident_told: *resident_told }))
        }
        FlowAction::AnswerInquiry { answer, basis, article_id } => {
            if let Some(id) = article_id
                && !is_article_of(app, c, *id).await?
            {
                return Err(AppError::field("article_id", ValidationError::new("article.unknown")));
            }
            let cmd = Command::Flow(FlowCommand::AnswerInquiry {
                answer: answer.clone(),
                basis: basis.clone(),
                article: *article_id,
            });
            let mut commands = vec![cmd.clone()];
            commands.extend(answered_there(app, actor, sheet, &cmd, answer));
            Plan { authority: a, commands, signature: None }
        }
        FlowAction::EscalateInquiry { to_user_id, note } => {
            let mut conn = app.store.read().acquire().await?;
            let managers =
                srq::users_with_roles(&mut conn, c, &["cs_supervisor", "cs_manager", "centre_director"]).await?;
            if !managers.contains(to_user_id) {
                return Err(AppError::field("to_user_id", ValidationError::new("inquiry.not_a_manager")));
            }
            one(a, Command::Flow(FlowCommand::EscalateInquiry { to: *to_user_id, note: note.clone() }))
        }
        FlowAction::PromiseReply { by_at, note } => {
            one(a, Command::Flow(FlowCommand::PromiseReply { by_at: *by_at, note: note.clone() }))
        }
        FlowAction::AnalyseSuggestion { analysis, to_director } => one(
            a,
            Command::Flow(FlowCommand::AnalyseSuggestion { analysis: analysis.clone(), to_director: *to_director }),
        ),
        FlowAction::ReplySuggestion { reply } => {
            one(a, Command::Flow(FlowCommand::ReplySuggestion { reply: reply.clone() }))
        }
    })
}

/// A technician named for a repair (R-REP-2): the sheet goes to engineering first if it is
/// not there, and engineering signs for it, so the technician's job rides on a handover.
async fn assignment(
    app: &App,
    c: i64,
    sheet: &Sheet,
    technician: i64,
    appointment_at: Option<i64>,
    note: &str,
) -> AppResult<Vec<Command>> {
    if !is_technician(app, c, technician).await? {
        return Err(AppError::field("technician_id", ValidationError::new("repair.not_a_technician")));
    }
    let mut commands = vec![];
    let handover = match engineering_handover(app, c, sheet).await? {
        Some(h) => h,
        None => {
            let eng = department_of_kind(app, c, DepartmentKind::Engineering)
                .await?
                .ok_or(AppError::rejected("repair.no_engineering"))?;
            let opinion = "报修派工".to_string();
            commands.push(Command::Dispatch {
                department: eng,
                kind: DepartmentKind::Engineering,
                to_user: None,
                opinion,
            });
            sheet.handovers.len() as u32 + 1
        }
    };
    if sheet.handover(handover).is_none_or(|h| h.acknowledged_at.is_none()) {
        commands.push(Command::Acknowledge { handover });
    }
    commands.push(Command::Flow(FlowCommand::AssignTechnician { technician, appointment_at, note: note.to_string() }));
    Ok(commands)
}

/// A charge's lines priced from the community's list (R-REP-4): the item's name, unit and
/// price as they stand today, the quantity as given.
async fn priced(app: &App, c: i64, lines: &[QuoteLine]) -> AppResult<Vec<ChargeLine>> {
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let item = srq::price_item(app.store.read(), l.item_id)
            .await?
            .filter(|p| p.community_id == c && p.active == 1)
            .ok_or_else(|| {
                AppError::field(&format!("lines[{i}].item_id"), ValidationError::new("price_item.unknown"))
            })?;
        if l.quantity_centi <= 0 || l.quantity_centi > 1_000_000 {
            return Err(AppError::field(
                &format!("lines[{i}].quantity"),
                ValidationError::new("quantity.out_of_range"),
            ));
        }
        out.push(ChargeLine {
            item_id: item.id,
            name: item.name,
            unit: item.unit,
            unit_price_fen: item.price_fen,
            quantity_centi: l.quantity_centi,
        });
    }
    Ok(out)
}

/// Where a valid complaint goes: to the department judged to handle it, or (R-CMP-4) to
/// the developer's customer service, tracked like any third party.
fn routed(route: Route, explanation: &str) -> Command {
    match route {
        Route::Department { department, kind } => {
            Command::Dispatch { department, kind, to_user: None, opinion: explanation.to_string() }
        }
        Route::Developer { contact } => {
            Command::BeyondCentre { explanation: explanation.to_string(), third_party: Some(contact) }
        }
    }
}

/// R-RECV-2: "妥善回答，解释清楚" — a question answered there and then is done: it closes
/// with the answer as its acceptance, needs no later signature and never had a collection
/// clock (it went to no department).
fn answered_there(app: &App, actor: &Actor, sheet: &Sheet, answer_cmd: &Command, answer: &str) -> Option<Command> {
    let mut after = sheet.clone();
    let answered = after.handle(answer_cmd, app.clock.now(), actor.user_id()).is_ok() && after.answered_on_the_spot();
    answered.then(|| closed_on_the_spot(answer, sheet.first_contact != actor.user_id()))
}

/// The collection that closes an inquiry answered on the spot, its answer the acceptance.
fn closed_on_the_spot(answer: &str, on_behalf: bool) -> Command {
    Command::Collect {
        opinion: format!("当场答复：{}", answer.trim()),
        confirmation: Some(Confirmation::OnTheSpot),
        by_director: false,
        on_behalf: on_behalf.then(|| "当场答复".to_string()),
    }
}

/// An inquiry answered as it is registered (R-RECV-2): the answer, its basis and the
/// knowledge-base article it came from.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct InquiryIntake {
    pub answer: String,
    /// The regulation, document or notice the answer rests on.
    #[serde(default)]
    pub basis: String,
    #[serde(default)]
    pub article_id: Option<i64>,
}

/// The steps of an inquiry answered at registration — answered, then closed on the spot —
/// or the fields' errors. Nothing when no answer is given: the question stays open to be
/// answered, promised a reply or brought to a manager.
pub(crate) async fn answered_at_registration(
    app: &App,
    community_id: i64,
    inquiry: &InquiryIntake,
    errors: &mut FieldErrors,
) -> AppResult<Vec<Command>> {
    let (answer, basis) = (inquiry.answer.trim(), inquiry.basis.trim());
    if answer.is_empty() && basis.is_empty() {
        return Ok(vec![]);
    }
    let before = errors.len();
    for (field, text) in [("inquiry.answer", answer), ("inquiry.basis", basis)] {
        if text.is_empty() {
            errors.push(field, ValidationError::new("required"));
        } else if text.chars().count() > 2000 {
            errors.push(field, ValidationError::new("text.too_long").with("max", 2000));
        }
    }
    if let Some(id) = inquiry.article_id
        && !is_article_of(app, community_id, id).await?
    {
        errors.push("inquiry.article_id", ValidationError::new("article.unknown"));
    }
    if errors.len() > before {
        return Ok(vec![]);
    }
    Ok(vec![
        Command::Flow(FlowCommand::AnswerInquiry {
            answer: answer.to_string(),
            basis: basis.to_string(),
            article: inquiry.article_id,
        }),
        closed_on_the_spot(answer, false),
    ])
}

/// The departments a complaint may be sent to (R-CMP-2, R-CMP-3): every active one, or
/// only the director's office when the director must handle it. The judge form offers
/// these and no others.
pub fn complaint_departments<'a>(
    details: &ComplaintDetails,
    departments: &'a [crate::store::org::Department],
) -> Vec<&'a crate::store::org::Department> {
    let director = complaint_needs_director(details);
    departments
        .iter()
        .filter(|d| d.active == 1)
        .filter(|d| !director || d.kind == DepartmentKind::DirectorOffice.as_str())
        .collect()
}

/// Parse the intake of a repair or complaint at registration; errors name the field.
pub(crate) fn intake_commands(
    kind: SheetKind,
    repair: Option<&RepairIntake>,
    complaint: Option<&ComplaintIntake>,
    against_department_kind: Option<DepartmentKind>,
    source: RepairSource,
    errors: &mut FieldErrors,
) -> Vec<Command> {
    let mut out = vec![];
    let is_repair = kind == SheetKind::Repair || (kind == SheetKind::SpecialService && repair.is_some());
    if is_repair {
        let r = repair.cloned().unwrap_or_default();
        // R-SHEET-1: every field its kind needs. The category sets the arrival class: a
        // repair without one is refused rather than guessed (a burst pipe is no 其它).
        let category = RepairCategory::parse(&r.category).map_err(|e| errors.push("repair.category", e)).ok();
        let class = if r.class.trim().is_empty() {
            None
        } else {
            RepairClass::parse(&r.class).map_err(|e| errors.push("repair.class", e)).ok()
        };
        if let Some(category) = category {
            if class.is_some_and(|c| c != category.suggested_class()) && r.class_reason.trim().is_empty() {
                errors.push("repair.class_reason", ValidationError::new("repair.class_reason_required"));
            }
            if class == Some(RepairClass::Appointment) {
                errors.push("repair.class", ValidationError::new("repair.appointment_at_assignment"));
            }
            out.push(Command::Flow(FlowCommand::OpenRepair {
                category,
                class,
                class_reason: r.class_reason.clone(),
                source,
            }));
        }
    }
    if kind == SheetKind::Complaint {
        let c = complaint.cloned().unwrap_or_default();
        if c.category.trim().is_empty() {
            errors.push("complaint.category", ValidationError::new("required"));
        }
        if c.cause.trim().is_empty() {
            errors.push("complaint.cause", ValidationError::new("required"));
        }
        if c.course.trim().is_empty() {
            errors.push("complaint.course", ValidationError::new("required"));
        }
        if c.occurred_at.is_none() && !c.occurred_unknown {
            errors.push("complaint.occurred_at", ValidationError::new("complaint.given_or_unknown"));
        }
        if c.place.trim().is_empty() && !c.place_unknown {
            errors.push("complaint.place", ValidationError::new("complaint.given_or_unknown"));
        }
        if c.people.trim().is_empty() && !c.people_unknown {
            errors.push("complaint.people", ValidationError::new("complaint.given_or_unknown"));
        }
        let against = match c.against.as_deref().map(str::trim) {
            None => Some(AgainstKind::Service),
            Some("") => {
                errors.push("complaint.against", ValidationError::new("complaint.against_required"));
                None
            }
            Some(code) => AgainstKind::parse(code).map_err(|e| errors.push("complaint.against", e)).ok(),
        };
        if against == Some(AgainstKind::Department) && c.against_department_id.is_none() {
            errors.push("complaint.against_department_id", ValidationError::new("required"));
        }
        for (field, text) in [
            ("complaint.place", &c.place),
            ("complaint.cause", &c.cause),
            ("complaint.course", &c.course),
            ("complaint.people", &c.people),
        ] {
            if text.chars().count() > 2000 {
                errors.push(field, ValidationError::new("text.too_long").with("max", 2000));
            }
        }
        out.push(Command::Flow(FlowCommand::OpenComplaint {
            details: ComplaintDetails {
                category: c.category.trim().to_string(),
                occurred_at: c.occurred_at,
                place: c.place.trim().into(),
                cause: c.cause.trim().into(),
                course: c.course.trim().into(),
                people: c.people.trim().into(),
                against,
                against_department: if against == Some(AgainstKind::Department) {
                    c.against_department_id
                } else {
                    None
                },
                against_department_kind: if against == Some(AgainstKind::Department) {
                    against_department_kind
                } else {
                    None
                },
                against_name: c.against_name.trim().into(),
                against_user: c.against_user_id,
                occurred_unknown: c.occurred_at.is_none() && c.occurred_unknown,
                place_unknown: c.place.trim().is_empty() && c.place_unknown,
                people_unknown: c.people.trim().is_empty() && c.people_unknown,
            },
        }));
    }
    out
}

/// Where a repair taken in by this actor comes from (R-REP-1).
pub(crate) fn source_of(actor: &Actor, c: i64) -> RepairSource {
    let roles = actor.roles_in(c);
    if roles.iter().any(|r| r.allows(Permission::RegisterSheet)) {
        RepairSource::Desk
    } else if roles.contains(&Role::Technician) {
        RepairSource::Technician
    } else {
        RepairSource::Security
    }
}

/// What follows a registration in the same transaction: a repair a technician took in on
/// site is theirs and they are there; a complaint that repeats is flagged (R-CMP-5).
pub(crate) async fn after_intake(
    app: &App,
    actor: &Actor,
    c: i64,
    sheet: &Sheet,
    unit_id: Option<i64>,
    now: i64,
) -> AppResult<Vec<Command>> {
    let mut out = vec![];
    // The desk's and security's repairs wait on the dispatcher's board (notified at once);
    // assigning a technician sends the sheet to engineering if the desk has not already.
    // A technician who took the repair in on site is assigned and there.
    if let Some(r) = &sheet.case.repair
        && r.source == RepairSource::Technician
    {
        let eng = department_of_kind(app, c, DepartmentKind::Engineering)
            .await?
            .ok_or(AppError::rejected("repair.no_engineering"))?;
        out.push(Command::Dispatch {
            department: eng,
            kind: DepartmentKind::Engineering,
            to_user: None,
            opinion: "维修工现场受理".into(),
        });
        {
            let no = sheet.handovers.len() as u32 + 1;
            out.push(Command::Acknowledge { handover: no });
            out.push(Command::Flow(FlowCommand::AssignTechnician {
                technician: actor.user_id(),
                appointment_at: None,
                note: String::new(),
            }));
            out.push(Command::StartWork { handover: no });
            out.push(Command::Flow(FlowCommand::Arrive));
        }
    }
    if let (Some(cc), Some(unit)) = (&sheet.case.complaint, unit_id) {
        let s = srq::settings(app.store.read(), c).await?;
        let mut conn = app.store.read().acquire().await?;
        let since = now - s.repeat_days * 24 * HOUR;
        let earlier = srq::earlier_complaints(&mut conn, unit, &cc.details.category, since, 0).await?;
        if earlier >= s.repeat_count {
            out.push(Command::Flow(FlowCommand::FlagComplaint {
                reason: FlagReason::Repeat,
                note: format!("{} 天内同一房屋同类投诉第 {} 次", s.repeat_days, earlier + 1),
            }));
        }
    }
    Ok(out)
}

/// The flows' projection of a sheet.
pub(crate) fn projection(
    sheet: &Sheet,
    sheet_id: i64,
    community_id: i64,
    unit_id: Option<i64>,
    s: &srq::Settings,
) -> Option<srq::Projection> {
    let case = &sheet.case;
    if case.repair.is_none()
        && case.complaint.is_none()
        && case.inquiry.is_none()
        && case.suggestion.is_none()
        && !matches!(sheet.kind, SheetKind::Inquiry | SheetKind::Suggestion)
    {
        return None;
    }
    let closed = !sheet.state.is_open() || matches!(sheet.outcome, Some(Outcome::Terminated { .. }));
    let mut p = srq::Projection {
        sheet_id,
        community_id,
        kind: sheet.kind.as_str().into(),
        unit_id,
        opened_at: sheet.registered_at,
        closed,
        charge_state: "none",
        ..Default::default()
    };
    if let Some(r) = &case.repair {
        let targets = targets(s);
        p.category = Some(r.category.as_str().into());
        p.class = Some(r.class.as_str().into());
        p.class_rank = Some(r.class.rank());
        p.source = Some(r.source.as_str().into());
        p.technician_id = r.technician;
        p.assigned_at = r.assigned_at;
        p.appointment_at = r.appointment_at;
        p.arrival_due_at = r.arrival_due(&targets);
        p.arrived_at = r.arrived_at;
        p.completed_at = r.completed_at;
        p.slip_due_at = r.completed_at.map(|t| t + s.slip_hours * HOUR);
        p.slip_returned_at = r.handover.and_then(|h| sheet.handover(h)).and_then(|h| h.returned_at);
        if let Some(ch) = &r.charge {
            p.charge_fen = Some(ch.total_fen);
            p.charge_state = if ch.confirmed.is_some() { "confirmed" } else { "quoted" };
        }
    }
    if let Some(cc) = &case.complaint {
        p.category = Some(cc.details.category.clone());
        p.against = cc.details.against.map(|a| a.as_str().into());
        p.against_department_id = cc.details.against_department;
        p.flag = cc.flag.map(|f| f.as_str().into());
        p.solution_at = cc.solution.as_ref().map(|x| x.at);
        p.progress_count = i64::from(cc.progress_count);
        p.last_progress_at = cc.last_progress_at;
        if let Some(j) = &cc.judgement {
            p.valid = Some(j.valid);
            p.deadline_at = j.deadline_at;
            match &j.route {
                Some(Route::Department { department, .. }) => {
                    p.route = Some("department");
                    p.routed_department_id = Some(*department);
                }
                Some(Route::Developer { .. }) => p.route = Some("developer"),
                None => {}
            }
        }
    }
    if let Some(i) = &case.inquiry {
        p.promised_by_at = i.promised_by;
        p.answered_at = i.answer.as_ref().map(|a| a.at);
        p.escalated_to = i.escalated_to;
    }
    if let Some(x) = &case.suggestion {
        p.analysed_at = x.analysed_at;
        p.to_director = x.to_director;
        p.replied_at = x.replied_at;
        p.replied_by = x.replied_by;
    }
    Some(p)
}

pub(crate) fn targets(s: &srq::Settings) -> ArrivalTargets {
    ArrivalTargets { emergency_min: s.emergency_min, simple_min: s.simple_min, general_min: s.general_min }
}

/// The community's rules for the flows' reminders.
pub(crate) fn reminder_rules(s: &srq::Settings) -> ReminderRules {
    ReminderRules {
        arrival: targets(s),
        slip_hours: s.slip_hours,
        promise_warn_min: s.promise_warn_min,
        progress_hours: s.progress_hours,
    }
}

/// The reminders a sheet's flow is waiting on, as the scheduler keeps them: (name, when).
pub(crate) fn timers(sheet: &Sheet, s: &srq::Settings) -> Vec<(&'static str, i64)> {
    sheet.reminders(&reminder_rules(s)).into_iter().map(|(r, at)| (r.as_str(), at)).collect()
}

/// Who is told of a flow event, and how.
pub(crate) struct Notice {
    user: crate::store::auth::User,
    kind: &'static str,
    /// The deadline the notice names: `arrival` or `deadline` of the projection.
    due: Option<&'static str>,
    /// Part of the once-only key beyond kind, sheet and user.
    salt: i64,
}

/// What the flows need read before an event's transaction: the community's rules and the
/// people to tell. Read from the pool before the transaction begins, so the transaction
/// (on SQLite the one writer) only writes, and never waits for a second connection.
pub(crate) struct Prepared {
    settings: srq::Settings,
    notices: Vec<Notice>,
}

pub(crate) async fn prepare(
    app: &App,
    community_id: i64,
    new_events: &[huiqian_domain::sheet::Event],
) -> AppResult<Prepared> {
    use huiqian_domain::sheet::Event;
    let settings = srq::settings(app.store.read(), community_id).await?;
    let mut wanted: Vec<(i64, &'static str, Option<&'static str>, i64)> = vec![];
    let mut conn = app.store.read().acquire().await?;
    let now = app.clock.now();
    for e in new_events {
        let (roles, kind, due): (&[&str], &'static str, Option<&'static str>) = match e {
            // R-REP-2: the dispatcher hears of every repair, an emergency as such.
            Event::Flow(FlowEvent::RepairOpened { class, .. }) => (
                &["engineering_dispatcher"],
                if *class == RepairClass::Emergency { "repair_emergency" } else { "repair_new" },
                Some("arrival"),
            ),
            // R-CMP-1: every complaint is reported to the CS manager or supervisor.
            Event::Flow(FlowEvent::ComplaintOpened { .. }) => (&["cs_supervisor", "cs_manager"], "complaint_new", None),
            Event::Flow(FlowEvent::ComplaintJudged {
                route: Some(Route::Department { kind: DepartmentKind::DirectorOffice, .. }),
                ..
            }) => (&["centre_director"], "complaint_director", Some("deadline")),
            // R-CMP-5: the director convenes the solution for a serious or repeated complaint;
            // R-RECV-3: valuable suggestions go to the director.
            Event::Flow(FlowEvent::ComplaintFlagged { .. }) => (&["centre_director"], "complaint_flagged", None),
            Event::Flow(FlowEvent::SuggestionAnalysed { to_director: true, .. }) => {
                (&["centre_director"], "suggestion_director", None)
            }
            Event::Flow(FlowEvent::TechnicianAssigned { technician, .. }) => {
                wanted.push((*technician, "repair_assigned", Some("arrival"), now));
                continue;
            }
            Event::Flow(FlowEvent::InquiryEscalated { to, .. }) => {
                wanted.push((*to, "inquiry_escalated", None, 0));
                continue;
            }
            _ => continue,
        };
        for u in srq::users_with_roles(&mut conn, community_id, roles).await? {
            wanted.push((u, kind, due, 0));
        }
    }
    drop(conn);
    let mut notices = Vec::with_capacity(wanted.len());
    for (user_id, kind, due, salt) in wanted {
        if let Some(user) = crate::store::auth::user(app.store.read(), user_id).await? {
            notices.push(Notice { user, kind, due, salt });
        }
    }
    Ok(Prepared { settings, notices })
}

/// Everything the flows keep beside the events, in the event's transaction: the
/// projection, the timers and the notices prepared for the events. Writes only.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn persist(
    app: &App,
    tx: &mut store::Tx,
    prepared: &Prepared,
    sheet: &Sheet,
    sheet_id: i64,
    number: &str,
    community_id: i64,
    unit_id: Option<i64>,
    fresh: bool,
) -> AppResult<()> {
    let now = app.clock.now();
    let s = &prepared.settings;
    let Some(p) = projection(sheet, sheet_id, community_id, unit_id, s) else {
        return Ok(());
    };
    srq::save(tx, &p, now).await?;
    srq::sync_timers(tx, community_id, sheet_id, &timers(sheet, s), fresh).await?;
    for n in &prepared.notices {
        let due = match n.due {
            Some("arrival") => p.arrival_due_at,
            Some(_) => p.deadline_at,
            None => None,
        };
        let dedupe = if n.salt == 0 {
            format!("{}:{sheet_id}:{}", n.kind, n.user.id)
        } else {
            format!("{}:{sheet_id}:{}:{}", n.kind, n.user.id, n.salt)
        };
        super::notify::send_to(app, tx, &n.user, community_id, sheet_id, number, due, n.kind, &dedupe).await?;
    }
    Ok(())
}

// ---- the board, the technician's day, the ledgers ----

/// The dispatcher's board (R-REP-2, R-REP-3).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Board {
    /// Unassigned repairs, most urgent and oldest first (a page of them).
    pub unassigned: Vec<srq::Repair>,
    /// How many wait in all.
    pub unassigned_total: i64,
    /// Assigned but not there yet past the arrival target.
    pub late: Vec<srq::Repair>,
    pub technicians: Vec<srq::TechnicianLoad>,
}

/// Repairs on one page of the board: the most urgent first, the rest on the next pages.
pub const BOARD_PAGE: i64 = 30;
/// Late arrivals shown on the board, the longest overdue first.
const LATE_SHOWN: i64 = 20;
/// A technician's open jobs (soonest due first) and completed ones shown on the phone.
const DAY_SHOWN: i64 = 40;

/// Start and end of today in the community's zone, epoch ms.
pub fn today_bounds(zone: chrono_tz::Tz, now: i64) -> (i64, i64) {
    use chrono::TimeZone;
    let day = super::people::today_in(zone, now);
    let start = zone
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    (start, start + 24 * HOUR)
}

pub async fn board(app: &App, actor: &Actor, c: i64, limit: i64, offset: i64) -> AppResult<Board> {
    actor.may_read(Permission::DispatchRepair, c).or_else(|_| actor.may_read(Permission::HandleSheet, c))?;
    let now = app.clock.now();
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let (start, end) = today_bounds(zone, now);
    let lists = app.store.lists();
    let (unassigned, unassigned_total) = srq::board(lists, c, limit.clamp(1, 200), offset.max(0)).await?;
    Ok(Board {
        unassigned,
        unassigned_total,
        late: srq::late_open(lists, c, now, LATE_SHOWN).await?,
        technicians: srq::technician_loads(lists, app.store.backend(), c, start, end).await?,
    })
}

/// A technician's day (R-REP-3, R-REP-5).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = TechnicianDay)]
pub struct Day {
    pub open: Vec<srq::Repair>,
    pub done_today: Vec<srq::Repair>,
}

pub async fn technician_day(app: &App, actor: &Actor, c: i64) -> AppResult<Day> {
    actor.may_read(Permission::DoRepair, c)?;
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let (start, _) = today_bounds(zone, app.clock.now());
    let (open, done_today) = srq::technician_day(app.store.lists(), c, actor.user_id(), start, DAY_SHOWN).await?;
    Ok(Day { open, done_today })
}

/// The ledgers of the flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerName {
    /// 业主报修反映台帐 (R-REP-1, R-REP-5).
    Repairs,
    /// 业主意见投诉台帐: serious and repeated complaints (R-CMP-5).
    Complaints,
    /// Every complaint, flagged or not.
    AllComplaints,
    /// 住户意见建议台帐 (R-RECV-3).
    Suggestions,
    /// Inquiries with their answers and promised replies (R-RECV-2).
    Inquiries,
    /// Paid work charged and still owed (R-REP-4).
    Charges,
}

/// The kinds of sheet a ledger lists, and its filter with the ledger's own conditions.
fn ledger_of(name: LedgerName, f: srq::LedgerFilter, now: i64) -> (&'static [&'static str], srq::LedgerFilter) {
    let f = srq::LedgerFilter { now, ..f };
    match name {
        LedgerName::Repairs => (&["repair", "special_service"], f),
        LedgerName::Complaints => (&["complaint"], srq::LedgerFilter { flagged_only: true, ..f }),
        LedgerName::AllComplaints => (&["complaint"], f),
        LedgerName::Suggestions => (&["suggestion"], f),
        LedgerName::Inquiries => (&["inquiry"], f),
        LedgerName::Charges => (&["repair", "special_service"], srq::LedgerFilter { charges_only: true, ..f }),
    }
}

pub async fn ledger(
    app: &App,
    actor: &Actor,
    c: i64,
    name: LedgerName,
    f: srq::LedgerFilter,
) -> AppResult<Vec<srq::Job>> {
    actor.sees(c)?;
    let (kinds, f) = ledger_of(
        name,
        srq::LedgerFilter { limit: f.limit.clamp(1, 10_000), offset: f.offset.max(0), ..f },
        app.clock.now(),
    );
    Ok(srq::ledger(app.store.read(), c, kinds, &f).await?)
}

/// A whole ledger's sheets in its order, for a download ([`ledger_rows`] reads the rows a
/// page at a time).
pub async fn ledger_keys(
    app: &App,
    actor: &Actor,
    c: i64,
    name: LedgerName,
    f: srq::LedgerFilter,
) -> AppResult<Vec<i64>> {
    actor.sees(c)?;
    let (kinds, f) = ledger_of(name, f, app.clock.now());
    Ok(srq::ledger_keys(app.store.read(), c, kinds, &f).await?)
}

/// Rows of the flows' ledgers by sheet, in that order.
pub async fn ledger_rows(app: &App, actor: &Actor, c: i64, ids: &[i64]) -> AppResult<Vec<srq::Job>> {
    actor.sees(c)?;
    Ok(srq::jobs(app.store.read(), c, ids).await?)
}

// ---- settings, price list, knowledge base ----

/// The rules of the flows, as an administrator edits them.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = RequestSettingsInput)]
pub struct SettingsInput {
    pub emergency_min: i64,
    pub simple_min: i64,
    pub general_min: i64,
    pub slip_hours: i64,
    pub repeat_count: i64,
    pub repeat_days: i64,
    pub progress_hours: i64,
    pub promise_warn_min: i64,
    #[serde(default)]
    pub apology: String,
    /// The version read (0 when none was saved yet).
    pub version: i64,
}

/// The standard apology (R-CMP-1) when a community has not written its own.
pub fn default_apology(lang: crate::i18n::Lang) -> String {
    crate::i18n::t(lang, "complaint.apology_default").to_string()
}

pub async fn settings(app: &App, actor: &Actor, c: i64) -> AppResult<srq::Settings> {
    actor.sees(c)?;
    Ok(srq::settings(app.store.read(), c).await?)
}

pub async fn save_settings(app: &App, actor: &Actor, c: i64, input: &SettingsInput) -> AppResult<srq::Settings> {
    let now = app.clock.now();
    let authority = actor.authorize(Permission::ManageRequests, c)?;
    app.community_exists(c).await?;
    let mut errors = FieldErrors::default();
    // R-REP-3: "急修…应立即赶到现场" — "at once" may be a target of 0 minutes.
    if input.emergency_min < 0 || input.emergency_min > 24 * 60 {
        errors.push("emergency_min", ValidationError::new("number.range").with("min", 0).with("max", 24 * 60));
    }
    for (field, v, max) in [
        ("simple_min", input.simple_min, 24 * 60),
        ("general_min", input.general_min, 7 * 24 * 60),
        ("slip_hours", input.slip_hours, 7 * 24),
        ("repeat_count", input.repeat_count, 50),
        ("repeat_days", input.repeat_days, 3660),
        ("progress_hours", input.progress_hours, 30 * 24),
    ] {
        if v < 1 || v > max {
            errors.push(field, ValidationError::new("number.range").with("min", 1).with("max", max));
        }
    }
    if input.promise_warn_min < 0 || input.promise_warn_min > 24 * 60 {
        errors.push("promise_warn_min", ValidationError::new("number.range").with("min", 0).with("max", 24 * 60));
    }
    if input.apology.chars().count() > 500 {
        errors.push("apology", ValidationError::new("text.too_long").with("max", 500));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let before = srq::settings(app.store.read(), c).await?;
    let new = srq::Settings {
        emergency_min: input.emergency_min,
        simple_min: input.simple_min,
        general_min: input.general_min,
        slip_hours: input.slip_hours,
        repeat_count: input.repeat_count,
        repeat_days: input.repeat_days,
        progress_hours: input.progress_hours,
        promise_warn_min: input.promise_warn_min,
        apology: input.apology.trim().to_string(),
        version: input.version,
    };
    let mut tx = app.store.begin().await?;
    if !srq::save_settings(&mut tx, c, &new, now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "requests.settings_changed",
        "community",
        c,
        json!({"before": before, "after": new}),
    )
    .await?;
    tx.commit().await?;
    refresh_open(app, c).await?;
    Ok(srq::settings(app.store.read(), c).await?)
}

/// Recompute the flow projection and timers of a community's open flow sheets from their
/// histories, after its rules changed, so that the board, the days and the reminders
/// follow the new targets at once. The sheets' versions are left alone.
pub async fn refresh_open(app: &App, c: i64) -> AppResult<usize> {
    let now = app.clock.now();
    let settings = srq::settings(app.store.read(), c).await?;
    let open = srq::open_flow_sheets(app.store.read(), c).await?;
    for chunk in open.chunks(200) {
        let mut updates = Vec::with_capacity(chunk.len());
        for (id, unit_id) in chunk {
            let mut conn = app.store.read().acquire().await?;
            let rows = st::events(&mut conn, *id).await?;
            drop(conn);
            let history = super::sheet::recorded(&rows)?;
            let Some(sheet) = Sheet::replay(&history) else { continue };
            if let Some(p) = projection(&sheet, *id, c, *unit_id, &settings) {
                updates.push((p, timers(&sheet, &settings)));
            }
        }
        let mut tx = app.store.begin().await?;
        for (p, t) in &updates {
            srq::save(&mut tx, p, now).await?;
            srq::sync_timers(&mut tx, c, p.sheet_id, t, false).await?;
        }
        tx.commit().await?;
    }
    Ok(open.len())
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PriceItemInput {
    pub name: String,
    /// 次, 个, 米 …
    pub unit: String,
    /// `labour` or `material`.
    pub item_kind: String,
    /// The price in yuan as written (`35`, `12.50`).
    pub price: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// For an edit: the version read.
    #[serde(default)]
    pub version: Option<i64>,
}

fn yes() -> bool {
    true
}

fn parse_price_item(p: &PriceItemInput) -> Result<(String, String, &'static str, i64), FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = p.name.trim().to_string();
    if name.is_empty() {
        errors.push("name", ValidationError::new("required"));
    } else if name.chars().count() > 60 {
        errors.push("name", ValidationError::new("text.too_long").with("max", 60));
    }
    let unit = p.unit.trim().to_string();
    if unit.is_empty() {
        errors.push("unit", ValidationError::new("required"));
    }
    let kind = match p.item_kind.trim() {
        "labour" | "人工" => "labour",
        "material" | "材料" => "material",
        _ => {
            errors.push("item_kind", ValidationError::new("price_item.kind"));
            "labour"
        }
    };
    let price = Money::parse(&p.price).map_err(|e| errors.push("price", e)).ok();
    if price.is_some_and(|m| m.is_negative()) {
        errors.push("price", ValidationError::new("money.out_of_range"));
    }
    errors.into_result()?;
    Ok((name, unit, kind, price.map(|m| m.fen()).unwrap_or(0)))
}

pub async fn price_items(app: &App, actor: &Actor, c: i64, active_only: bool) -> AppResult<Vec<srq::PriceItem>> {
    actor.sees(c)?;
    Ok(srq::price_items(app.store.read(), c, active_only).await?)
}

pub async fn save_price_item(
    app: &App,
    actor: &Actor,
    c: i64,
    id: Option<i64>,
    input: &PriceItemInput,
) -> AppResult<srq::PriceItem> {
    let now = app.clock.now();
    let authority =
        actor.authorize(Permission::ManageRequests, c).or_else(|_| actor.authorize(Permission::DispatchRepair, c))?;
    app.community_exists(c).await?;
    let (name, unit, kind, fen) = parse_price_item(input).map_err(AppError::Validation)?;
    let mut tx = app.store.begin().await?;
    let id = match id {
        None => srq::insert_price_item(&mut tx, c, &name, &unit, kind, fen, now).await?,
        Some(id) => {
            let before = srq::price_item(app.store.read(), id)
                .await?
                .filter(|p| p.community_id == c)
                .ok_or(AppError::NotFound)?;
            let version = input.version.unwrap_or(before.version);
            if !srq::update_price_item(&mut tx, id, version, &name, &unit, kind, fen, input.active, now).await? {
                return Err(AppError::Conflict { code: "stale_version" });
            }
            id
        }
    };
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "price_item.saved",
        "price_item",
        id,
        json!({"name": name, "unit": unit, "kind": kind, "price_fen": fen, "active": input.active}),
    )
    .await?;
    tx.commit().await?;
    srq::price_item(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ArticleInput {
    pub title: String,
    pub answer: String,
    /// The regulation or document it rests on (《物业管理条例》第…条).
    pub basis: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub version: Option<i64>,
}

pub async fn save_article(
    app: &App,
    actor: &Actor,
    c: i64,
    id: Option<i64>,
    input: &ArticleInput,
) -> AppResult<srq::Article> {
    let now = app.clock.now();
    let authority = actor.authorize(Permission::ManageRequests, c)?;
    app.community_exists(c).await?;
    // An article has a person as its author; the command line is nobody.
    let author = actor.audit_user_id().ok_or(AppError::Forbidden)?;
    let mut errors = FieldErrors::default();
    for (field, v, max) in [("title", &input.title, 100), ("answer", &input.answer, 4000), ("basis", &input.basis, 500)]
    {
        if v.trim().is_empty() {
            errors.push(field, ValidationError::new("required"));
        } else if v.chars().count() > max {
            errors.push(field, ValidationError::new("text.too_long").with("max", max));
        }
    }
    errors.into_result().map_err(AppError::Validation)?;
    let (title, answer, basis) = (input.title.trim(), input.answer.trim(), input.basis.trim());
    let mut tx = app.store.begin().await?;
    let id = match id {
        None => srq::insert_article(&mut tx, c, title, answer, basis, author, now).await?,
        Some(id) => {
            let before =
                srq::article(app.store.read(), id).await?.filter(|a| a.community_id == c).ok_or(AppError::NotFound)?;
            let version = input.version.unwrap_or(before.version);
            if !srq::update_article(&mut tx, id, version, title, answer, basis, input.active, now).await? {
                return Err(AppError::Conflict { code: "stale_version" });
            }
            id
        }
    };
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "article.saved",
        "article",
        id,
        json!({"title": title, "basis": basis, "active": input.active}),
    )
    .await?;
    tx.commit().await?;
    srq::article(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// A quick registration (常用登记) as a manager writes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PresetInput {
    /// The button's words, at most 20 characters.
    pub title: String,
    /// The sheet's kind (`repair`, `inquiry` …).
    pub kind: String,
    /// `visit`, `phone`, `letter`, `other`; empty keeps the form's channel.
    #[serde(default)]
    pub channel: String,
    /// The reason it writes on the sheet (来访/来电事由), which the desk may complete.
    pub reason: String,
    /// A repair's category (kind `repair`, or paid work under `special_service`).
    #[serde(default)]
    pub repair_category: String,
    /// An inquiry answered at once from this knowledge-base article (kind `inquiry`).
    #[serde(default)]
    pub article_id: Option<i64>,
    /// Order among the community's quick registrations, smallest first (0–999).
    #[serde(default)]
    pub position: i64,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub version: Option<i64>,
}

/// Check a quick registration: every field is one the registration form would accept.
async fn checked_preset(app: &App, c: i64, input: &PresetInput) -> AppResult<()> {
    let mut errors = FieldErrors::default();
    let title = input.title.trim();
    if title.is_empty() {
        errors.push("title", ValidationError::new("required"));
    } else if title.chars().count() > 20 {
        errors.push("title", ValidationError::new("text.too_long").with("max", 20));
    }
    let kind = SheetKind::parse(&input.kind).map_err(|e| errors.push("kind", e)).ok();
    if !input.channel.trim().is_empty() {
        let _ = huiqian_domain::sheet::Channel::parse(&input.channel).map_err(|e| errors.push("channel", e));
    }
    let reason = input.reason.trim();
    if reason.is_empty() {
        errors.push("reason", ValidationError::new("required"));
    } else if reason.chars().count() > 1000 {
        errors.push("reason", ValidationError::new("text.too_long").with("max", 1000));
    }
    let repairs = matches!(kind, Some(SheetKind::Repair | SheetKind::SpecialService));
    match (input.repair_category.trim(), kind) {
        ("", Some(SheetKind::Repair)) => errors.push("repair_category", ValidationError::new("required")),
        ("", _) => {}
        (_, _) if !repairs => errors.push("repair_category", ValidationError::new("preset.category_for_repairs")),
        (code, _) => {
            let _ = RepairCategory::parse(code).map_err(|e| errors.push("repair_category", e));
        }
    }
    if let Some(id) = input.article_id {
        if kind != Some(SheetKind::Inquiry) {
            errors.push("article_id", ValidationError::new("preset.article_for_inquiries"));
        } else if !is_article_of(app, c, id).await? {
            errors.push("article_id", ValidationError::new("article.unknown"));
        }
    }
    if !(0..=999).contains(&input.position) {
        errors.push("position", ValidationError::new("number.range").with("min", 0).with("max", 999));
    }
    errors.into_result().map_err(AppError::Validation)
}

/// Add or change a community's quick registration (customer service's managers).
pub async fn save_preset(
    app: &App,
    actor: &Actor,
    c: i64,
    id: Option<i64>,
    input: &PresetInput,
) -> AppResult<srq::Preset> {
    let now = app.clock.now();
    let authority = actor.authorize(Permission::ManageRequests, c)?;
    app.community_exists(c).await?;
    let author = actor.audit_user_id().ok_or(AppError::Forbidden)?;
    checked_preset(app, c, input).await?;
    let fields = srq::PresetFields {
        title: input.title.trim(),
        kind: input.kind.trim(),
        channel: input.channel.trim(),
        reason: input.reason.trim(),
        repair_category: input.repair_category.trim(),
        article_id: input.article_id,
        position: input.position,
        active: input.active,
    };
    let mut tx = app.store.begin().await?;
    let id = match id {
        None => srq::insert_preset(&mut tx, c, &fields, author, now).await?,
        Some(id) => {
            let before =
                srq::preset(app.store.read(), id).await?.filter(|p| p.community_id == c).ok_or(AppError::NotFound)?;
            let version = input.version.unwrap_or(before.version);
            if !srq::update_preset(&mut tx, id, version, &fields, now).await? {
                return Err(AppError::Conflict { code: "stale_version" });
            }
            id
        }
    };
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "preset.saved",
        "preset",
        id,
        json!({"title": fields.title, "kind": fields.kind, "channel": fields.channel, "reason": fields.reason,
               "repair_category": fields.repair_category, "article_id": fields.article_id,
               "position": fields.position, "active": fields.active}),
    )
    .await?;
    tx.commit().await?;
    srq::preset(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// A community's quick registrations, for whoever works there; `active_only` for the desk.
pub async fn presets(app: &App, actor: &Actor, c: i64, active_only: bool) -> AppResult<Vec<srq::Preset>> {
    actor.sees(c)?;
    Ok(srq::presets(app.store.read(), c, active_only).await?)
}

/// What a quick registration fills in, with its article's answer for an inquiry.
pub async fn preset_for_form(app: &App, actor: &Actor, id: i64) -> AppResult<(srq::Preset, Option<srq::Article>)> {
    let p = srq::preset(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(p.community_id)?;
    let article = match p.article_id {
        Some(a) => srq::article(app.store.read(), a).await?.filter(|x| x.active == 1),
        None => None,
    };
    Ok((p, article))
}

/// Whether `id` is one of the community's knowledge-base articles still in use: the only
/// ones an answer may cite.
async fn is_article_of(app: &App, c: i64, id: i64) -> AppResult<bool> {
    Ok(srq::article(app.store.read(), id).await?.is_some_and(|a| a.community_id == c && a.active == 1))
}

/// The knowledge base searched by words: articles sharing the most character pairs and
/// words with the question first (R-RECV-2).
pub async fn search_articles(app: &App, actor: &Actor, c: i64, q: &str) -> AppResult<Vec<srq::Article>> {
    actor.sees(c)?;
    let all = srq::articles(app.store.read(), c, true).await?;
    let q = q.trim();
    if q.is_empty() {
        return Ok(all);
    }
    let wanted: std::collections::HashSet<String> = huiqian_domain::sheet::search::terms(q).into_iter().collect();
    let mut scored: Vec<(usize, srq::Article)> = all
        .into_iter()
        .filter_map(|a| {
            let have: std::collections::HashSet<String> =
                huiqian_domain::sheet::search::terms(&format!("{} {} {}", a.title, a.answer, a.basis))
                    .into_iter()
                    .collect();
            let score = wanted.intersection(&have).count();
            (score > 0).then_some((score, a))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    Ok(scored.into_iter().take(20).map(|(_, a)| a).collect())
}

pub async fn articles(app: &App, actor: &Actor, c: i64) -> AppResult<Vec<srq::Article>> {
    actor.sees(c)?;
    Ok(srq::articles(app.store.read(), c, false).await?)
}

/// Parse a quantity as written (`2`, `2.5`, `0.25`) into hundredths.
pub fn parse_quantity(s: &str) -> Result<i64, ValidationError> {
    let s = s.trim();
    let bad = || ValidationError::new("quantity.format");
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let w: i64 = whole.parse().map_err(|_| bad())?;
    let f: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let q = w.checked_mul(100).and_then(|x| x.checked_add(f)).ok_or_else(bad)?;
    if q <= 0 || q > 1_000_000 {
        return Err(ValidationError::new("quantity.out_of_range"));
    }
    Ok(q)
}

/// The requester's full phone, to call them: for the technician assigned to the open
/// repair (the visit is the reason) or for customer service handling the sheet, who says
/// why. Every reveal is in the audit trail with its reason; nobody else sees more than
/// the masked number.
/// The technician assigned to a repair still to be done calls the resident without
/// giving a reason: the call is the job. Anyone else states why.
fn own_open_job(actor: &Actor, state: SheetState, case: &Case) -> bool {
    state.is_open()
        && case.repair.as_ref().is_some_and(|r| r.technician == Some(actor.user_id()) && r.completed_at.is_none())
}

/// Whether the sheet's page offers this viewer the call button straight away (the
/// technician on their own open repair, with a phone on the sheet).
pub fn calls_straight_away(actor: &Actor, d: &super::sheet::SheetDetail) -> bool {
    !d.sheet.requester_phone_masked.is_empty()
        && SheetState::parse(&d.sheet.state).is_some_and(|state| own_open_job(actor, state, &d.case))
}

pub async fn reveal_phone(app: &App, actor: &Actor, sheet_id: i64, reason: &str) -> AppResult<String> {
    let row = st::sheet(app.store.read(), sheet_id).await?.ok_or(AppError::NotFound)?;
    let c = row.community_id;
    actor.sees(c)?;
    let mut conn = app.store.read().acquire().await?;
    let events = st::events(&mut conn, sheet_id).await?;
    drop(conn);
    let history = super::sheet::recorded(&events)?;
    let sheet = Sheet::replay(&history).ok_or(AppError::NotFound)?;
    let (authority, reason) = if own_open_job(actor, sheet.state, &sheet.case) {
        let a = actor.authorize(Permission::DoRepair, c)?;
        let why =
            if reason.trim().is_empty() { "上门维修联系住户".to_string() } else { reason.trim().to_string() };
        (a, why)
    } else {
        let a = actor.authorize(Permission::HandleSheet, c)?;
        if reason.trim().is_empty() {
            return Err(AppError::field("reason", ValidationError::new("reveal.reason_required")));
        }
        (a, reason.trim().to_string())
    };
    let sealed = st::sealed_phone(app.store.read(), sheet_id).await?.ok_or(AppError::rejected("sheet.no_phone"))?;
    let phone = app.secrets.decrypt(&sealed)?;
    let mut tx = app.store.begin().await?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "sheet.phone_revealed",
        "sheet",
        sheet_id,
        json!({"number": row.number, "phone": row.requester_phone_masked, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(phone)
}

/// The managers an inquiry may be escalated to (R-RECV-2): the community's CS supervisors,
/// CS managers and the centre director, with their names, for customer service.
pub async fn escalation_managers(app: &App, actor: &Actor, c: i64) -> AppResult<Vec<(i64, String)>> {
    actor.may_read(Permission::ViewCommunity, c).map_err(|_| AppError::NotFound)?;
    let mut conn = app.store.read().acquire().await?;
    let ids = srq::users_with_roles(&mut conn, c, &["cs_supervisor", "cs_manager", "centre_director"]).await?;
    drop(conn);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let name = store::auth::user(app.store.read(), id).await?.map(|u| u.display_name).unwrap_or_default();
        out.push((id, name));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::FlowAction;
    use utoipa::PartialSchema;
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::{RefOr, schema::SchemaType, schema::Type};

    /// `FlowAction::TAGS` tells a flow step from one of the sheet's own when an action is
    /// read; it must name exactly the steps `FlowAction` has, or a step added to the enum
    /// would be read as an unknown sheet action.
    #[test]
    fn flow_tags_name_every_flow_step_and_no_other() {
        let RefOr::T(Schema::OneOf(one)) = FlowAction::schema() else { panic!("FlowAction is a oneOf") };
        let mut tags: Vec<String> = one
            .items
            .iter()
            .map(|item| {
                let RefOr::T(Schema::Object(o)) = item else { panic!("each step is an object") };
                let RefOr::T(Schema::Object(action)) = &o.properties["action"] else { panic!("tagged by action") };
                assert!(action.schema_type == SchemaType::Type(Type::String));
                action.enum_values.as_ref().expect("one tag")[0].as_str().unwrap().to_string()
            })
            .collect();
        let mut listed: Vec<String> = FlowAction::TAGS.iter().map(|t| t.to_string()).collect();
        tags.sort();
        listed.sort();
        assert_eq!(tags, listed);
    }
}

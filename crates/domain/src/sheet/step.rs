//! The steps someone may ask for on a sheet, and the one place that says whether the
//! sheet, as it stands, admits each of them.
//!
//! [`Sheet::decide`] asks [`Sheet::admits`] before it looks at a command's input, and the
//! pages offer a step's form only where `admits` holds: a form that is shown can be
//! completed, a form that is hidden would be refused, and the rule is written once.

use super::SheetKind;
use super::lifecycle::{Command, HandoverState, Outcome, Refusal, Sheet, SheetState};
use super::request::FlowCommand;

/// Every step someone may ask for on a sheet, without its details: one for each `action`
/// a client may send. Registration, attachments and opening a flow's part are not steps:
/// they come with the sheet or beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    CaptureSignature,
    Dispatch,
    Acknowledge,
    StartWork,
    Return,
    Extend,
    Suspend,
    Resume,
    Terminate,
    BeyondCentre,
    RecordThirdPartyReceipt,
    Collect,
    Archive,
    ReceiveReturn,
    WaiveSignature,
    RequestFollowUp,
    ReassignFirstContact,
    Reclassify,
    AssignTechnician,
    Arrive,
    QuoteCharge,
    ConfirmCharge,
    CompleteRepair,
    /// The technician's completed slip back at the desk: the engineering handover returned
    /// with the slip's work and signer (R-REP-4).
    ReceiveSlip,
    FlagComplaint,
    JudgeComplaint,
    RecordSolution,
    LogProgress,
    AnswerInquiry,
    EscalateInquiry,
    PromiseReply,
    AnalyseSuggestion,
    ReplySuggestion,
}

impl Step {
    pub const ALL: [Step; 33] = [
        Step::CaptureSignature,
        Step::Dispatch,
        Step::Acknowledge,
        Step::StartWork,
        Step::Return,
        Step::Extend,
        Step::Suspend,
        Step::Resume,
        Step::Terminate,
        Step::BeyondCentre,
        Step::RecordThirdPartyReceipt,
        Step::Collect,
        Step::Archive,
        Step::ReceiveReturn,
        Step::WaiveSignature,
        Step::RequestFollowUp,
        Step::ReassignFirstContact,
        Step::Reclassify,
        Step::AssignTechnician,
        Step::Arrive,
        Step::QuoteCharge,
        Step::ConfirmCharge,
        Step::CompleteRepair,
        Step::ReceiveSlip,
        Step::FlagComplaint,
        Step::JudgeComplaint,
        Step::RecordSolution,
        Step::LogProgress,
        Step::AnswerInquiry,
        Step::EscalateInquiry,
        Step::PromiseReply,
        Step::AnalyseSuggestion,
        Step::ReplySuggestion,
    ];

    /// The `action` a client sends for this step.
    pub fn tag(self) -> &'static str {
        match self {
            Step::CaptureSignature => "capture_signature",
            Step::Dispatch => "dispatch",
            Step::Acknowledge => "acknowledge",
            Step::StartWork => "start_work",
            Step::Return => "return",
            Step::Extend => "extend",
            Step::Suspend => "suspend",
            Step::Resume => "resume",
            Step::Terminate => "terminate",
            Step::BeyondCentre => "beyond_centre",
            Step::RecordThirdPartyReceipt => "record_third_party_receipt",
            Step::Collect => "collect",
            Step::Archive => "archive",
            Step::ReceiveReturn => "receive_return",
            Step::WaiveSignature => "waive_signature",
            Step::RequestFollowUp => "request_follow_up",
            Step::ReassignFirstContact => "reassign_first_contact",
            Step::Reclassify => "reclassify",
            Step::AssignTechnician => "assign_technician",
            Step::Arrive => "arrive",
            Step::QuoteCharge => "quote_charge",
            Step::ConfirmCharge => "confirm_charge",
            Step::CompleteRepair => "complete_repair",
            Step::ReceiveSlip => "receive_slip",
            Step::FlagComplaint => "flag_complaint",
            Step::JudgeComplaint => "judge_complaint",
            Step::RecordSolution => "record_solution",
            Step::LogProgress => "log_progress",
            Step::AnswerInquiry => "answer_inquiry",
            Step::EscalateInquiry => "escalate_inquiry",
            Step::PromiseReply => "promise_reply",
            Step::AnalyseSuggestion => "analyse_suggestion",
            Step::ReplySuggestion => "reply_suggestion",
        }
    }

    /// A department's step on one of its handovers, or customer service signing for one.
    pub fn on_handover(self) -> bool {
        matches!(self, Step::Acknowledge | Step::StartWork | Step::Return | Step::ReceiveReturn)
    }
}

impl Command {
    /// The step this command takes, and the handover it is on; `None` for what is not a
    /// step of its own (an attachment, opening a flow's part).
    pub fn step(&self) -> Option<(Step, Option<u32>)> {
        let plain = |s| Some((s, None));
        match self {
            Command::CaptureSignature { .. } => plain(Step::CaptureSignature),
            Command::Dispatch { .. } => plain(Step::Dispatch),
            Command::Acknowledge { handover } => Some((Step::Acknowledge, Some(*handover))),
            Command::StartWork { handover } => Some((Step::StartWork, Some(*handover))),
            Command::Return { handover, .. } => Some((Step::Return, Some(*handover))),
            Command::Extend { .. } => plain(Step::Extend),
            Command::Suspend { .. } => plain(Step::Suspend),
            Command::Resume { .. } => plain(Step::Resume),
            Command::Terminate { .. } => plain(Step::Terminate),
            Command::BeyondCentre { .. } => plain(Step::BeyondCentre),
            Command::RecordThirdPartyReceipt { .. } => plain(Step::RecordThirdPartyReceipt),
            Command::Collect { .. } => plain(Step::Collect),
            Command::Archive => plain(Step::Archive),
            Command::ReceiveReturn { handover } => Some((Step::ReceiveReturn, Some(*handover))),
            Command::WaiveSignature { .. } => plain(Step::WaiveSignature),
            Command::ReassignFirstContact { .. } => plain(Step::ReassignFirstContact),
            Command::RequestFollowUp { .. } => plain(Step::RequestFollowUp),
            Command::Attach { .. } => None,
            Command::Flow(flow) => flow.step().and_then(plain),
        }
    }
}

impl FlowCommand {
    /// The step this flow command takes; `None` for opening the flow's part.
    pub fn step(&self) -> Option<Step> {
        Some(match self {
            FlowCommand::OpenRepair { .. } | FlowCommand::OpenComplaint { .. } => return None,
            FlowCommand::Reclassify { .. } => Step::Reclassify,
            FlowCommand::AssignTechnician { .. } => Step::AssignTechnician,
            FlowCommand::Arrive => Step::Arrive,
            FlowCommand::QuoteCharge { .. } => Step::QuoteCharge,
            FlowCommand::ConfirmCharge { .. } => Step::ConfirmCharge,
            FlowCommand::CompleteRepair { .. } => Step::CompleteRepair,
            FlowCommand::FlagComplaint { .. } => Step::FlagComplaint,
            FlowCommand::JudgeComplaint { .. } => Step::JudgeComplaint,
            FlowCommand::RecordSolution { .. } => Step::RecordSolution,
            FlowCommand::LogProgress { .. } => Step::LogProgress,
            FlowCommand::AnswerInquiry { .. } => Step::AnswerInquiry,
            FlowCommand::EscalateInquiry { .. } => Step::EscalateInquiry,
            FlowCommand::PromiseReply { .. } => Step::PromiseReply,
            FlowCommand::AnalyseSuggestion { .. } => Step::AnalyseSuggestion,
            FlowCommand::ReplySuggestion { .. } => Step::ReplySuggestion,
        })
    }
}

impl Sheet {
    /// Does the sheet, as it stands, admit the step (on handover `handover`, for a
    /// handover's step)? The conditions of state a step is refused for before any of its
    /// input is looked at, in the order they are checked; [`Sheet::decide`] asks this
    /// first, and a page offers a step's form only where it holds.
    pub fn admits(&self, step: Step, handover: Option<u32>) -> Result<(), Refusal> {
        use SheetState::*;
        if self.state == Archived {
            return Err(Refusal("sheet.archived"));
        }
        let closed = || if self.state.is_open() { Ok(()) } else { Err(Refusal("sheet.closed")) };
        let working = || {
            closed()?;
            if self.state == Suspended { Err(Refusal("sheet.suspended")) } else { Ok(()) }
        };
        let not_ended = || if self.outcome.is_some() { Err(Refusal("sheet.ended")) } else { Ok(()) };
        let nothing_out = || match self.departments_out().next() {
            Some(_) => Err(Refusal("sheet.departments_still_out")),
            None => Ok(()),
        };
        let signature_owed =
            || if self.signature_owed() { Ok(()) } else { Err(Refusal("sheet.signature_not_pending")) };
        let on = || handover.and_then(|no| self.handover(no)).ok_or(Refusal("sheet.handover_unknown"));
        match step {
            Step::CaptureSignature | Step::WaiveSignature => signature_owed(),
            Step::Dispatch => {
                working()?;
                not_ended()
            }
            Step::Acknowledge => {
                working()?;
                match on()?.state {
                    HandoverState::HandedOver => Ok(()),
                    _ => Err(Refusal("sheet.handover_not_out")),
                }
            }
            Step::StartWork => {
                working()?;
                match on()?.state {
                    HandoverState::Acknowledged => Ok(()),
                    HandoverState::HandedOver => Err(Refusal("sheet.handover_not_received")),
                    _ => Err(Refusal("sheet.handover_not_out")),
                }
            }
            Step::Return => {
                working()?;
                let h = on()?;
                match h.state {
                    // The engineering handover a repair rides on returns with the repair done.
                    HandoverState::Acknowledged | HandoverState::InProgress => match &self.case.repair {
                        Some(r) if r.handover == Some(h.no) && r.technician.is_some() && r.completed_at.is_none() => {
                            Err(Refusal("repair.not_completed"))
                        }
                        _ => Ok(()),
                    },
                    HandoverState::HandedOver => Err(Refusal("sheet.handover_not_received")),
                    _ => Err(Refusal("sheet.handover_not_out")),
                }
            }
            Step::Extend => closed(),
            Step::Suspend => working(),
            Step::Resume => match self.state {
                Suspended => Ok(()),
                _ => Err(Refusal("sheet.not_suspended")),
            },
            Step::Terminate => {
                closed()?;
                not_ended()
            }
            Step::BeyondCentre => {
                working()?;
                not_ended()?;
                nothing_out()
            }
            Step::RecordThirdPartyReceipt => match &self.outcome {
                Some(Outcome::BeyondCentre { third_party: Some(_), receipt: None, .. }) => Ok(()),
                Some(Outcome::BeyondCentre { third_party: Some(_), receipt: Some(_), .. }) => {
                    Err(Refusal("sheet.receipt_recorded"))
                }
                _ => Err(Refusal("sheet.no_third_party")),
            },
            Step::Collect => {
                working()?;
                nothing_out()?;
                if self.state != AwaitingAcceptance {
                    return Err(Refusal("sheet.not_awaiting_acceptance"));
                }
                self.flow_ready_to_collect()?;
                // R-SHEET-10: a third party's matter closes on its receipt.
                match &self.outcome {
                    Some(Outcome::BeyondCentre { third_party: Some(_), receipt: None, .. }) => {
                        Err(Refusal("sheet.third_party_receipt_required"))
                    }
                    _ => Ok(()),
                }
            }
            Step::Archive => {
                if self.state != Collected {
                    return Err(Refusal("sheet.not_collected"));
                }
                nothing_out()?;
                // R-SHEET-3, R-SHEET-7: the party signed, or a manager recorded why not.
                if self.signature_owed() {
                    return Err(Refusal("sheet.signature_outstanding"));
                }
                Ok(())
            }
            Step::ReceiveReturn => {
                let h = on()?;
                if h.state.is_out() || h.returned_at.is_none() {
                    return Err(Refusal("sheet.handover_not_returned"));
                }
                if h.received_at.is_some() {
                    return Err(Refusal("sheet.return_received"));
                }
                Ok(())
            }
            Step::RequestFollowUp => {
                // The follow-up is decided when the sheet is collected; after that the
                // resident's wish is a new request.
                if self.state == Collected {
                    return Err(Refusal("sheet.follow_up_after_collection"));
                }
                if self.follow_up_requested {
                    return Err(Refusal("sheet.follow_up_already_requested"));
                }
                Ok(())
            }
            Step::ReassignFirstContact => Ok(()),
            // A sheet terminated or passed beyond the centre sends no one out.
            Step::Reclassify => {
                working()?;
                not_ended()?;
                if self.repair()?.arrived_at.is_some() {
                    return Err(Refusal("repair.already_arrived"));
                }
                Ok(())
            }
            Step::AssignTechnician => {
                working()?;
                not_ended()?;
                let r = self.repair()?;
                if r.completed_at.is_some() {
                    return Err(Refusal("repair.completed"));
                }
                if r.arrived_at.is_some() {
                    return Err(Refusal("repair.already_arrived"));
                }
                Ok(())
            }
            Step::Arrive => {
                working()?;
                not_ended()?;
                let r = self.repair()?;
                if r.technician.is_none() {
                    return Err(Refusal("repair.not_assigned"));
                }
                if r.arrived_at.is_some() {
                    return Err(Refusal("repair.already_arrived"));
                }
                Ok(())
            }
            Step::QuoteCharge => {
                working()?;
                not_ended()?;
                let r = self.repair()?;
                if r.completed_at.is_some() {
                    return Err(Refusal("repair.completed"));
                }
                if r.charge.as_ref().is_some_and(|c| c.confirmed.is_some()) {
                    return Err(Refusal("repair.charge_confirmed"));
                }
                Ok(())
            }
            Step::ConfirmCharge => {
                working()?;
                not_ended()?;
                match &self.repair()?.charge {
                    None => Err(Refusal("repair.charge_empty")),
                    Some(c) if c.confirmed.is_some() => Err(Refusal("repair.charge_confirmed")),
                    Some(_) => Ok(()),
                }
            }
            Step::CompleteRepair => {
                working()?;
                not_ended()?;
                let r = self.repair()?;
                if r.completed_at.is_some() {
                    return Err(Refusal("repair.completed"));
                }
                if r.arrived_at.is_none() {
                    return Err(Refusal("repair.not_arrived"));
                }
                if r.charge_outstanding() {
                    return Err(Refusal("repair.charge_unconfirmed"));
                }
                Ok(())
            }
            // The slip returns the handover the repair rode on (R-REP-4).
            Step::ReceiveSlip => {
                working()?;
                let r = self.repair()?;
                if r.completed_at.is_none() {
                    return Err(Refusal("repair.not_completed"));
                }
                let no = r.handover.ok_or(Refusal("repair.not_assigned"))?;
                // The handover is returned with the slip: engineering has signed for it.
                match self.handover(no).map(|h| h.state) {
                    Some(HandoverState::Acknowledged | HandoverState::InProgress) => Ok(()),
                    Some(HandoverState::HandedOver) => Err(Refusal("sheet.handover_not_received")),
                    _ => Err(Refusal("sheet.handover_not_out")),
                }
            }
            Step::FlagComplaint => {
                working()?;
                if self.complaint()?.flag.is_some() {
                    return Err(Refusal("complaint.already_flagged"));
                }
                Ok(())
            }
            Step::JudgeComplaint => {
                working()?;
                if self.complaint()?.judgement.is_some() {
                    return Err(Refusal("complaint.already_judged"));
                }
                Ok(())
            }
            // R-CMP-5: a serious or repeated complaint (flagged), or one judged valid, gets
            // the director's one solution.
            Step::RecordSolution => {
                working()?;
                let c = self.complaint()?;
                if c.flag.is_none() && !c.judged_valid() {
                    return Err(Refusal("complaint.not_valid"));
                }
                if c.solution.is_some() {
                    return Err(Refusal("complaint.solution_recorded"));
                }
                Ok(())
            }
            // R-CMP-6: the resident is told the progress of a complaint that stands.
            Step::LogProgress => {
                working()?;
                let c = self.complaint()?;
                if c.flag.is_none() && !c.judged_valid() {
                    return Err(Refusal("complaint.progress_not_valid"));
                }
                Ok(())
            }
            Step::AnswerInquiry | Step::EscalateInquiry | Step::PromiseReply => {
                working()?;
                self.kind_is(&[SheetKind::Inquiry])?;
                if self.case.inquiry.as_ref().is_some_and(|i| i.answer.is_some()) {
                    return Err(Refusal("inquiry.answered"));
                }
                Ok(())
            }
            Step::AnalyseSuggestion => {
                working()?;
                self.kind_is(&[SheetKind::Suggestion])?;
                if self.case.suggestion.as_ref().is_some_and(|s| s.reply.is_some()) {
                    return Err(Refusal("suggestion.replied"));
                }
                Ok(())
            }
            Step::ReplySuggestion => {
                working()?;
                self.kind_is(&[SheetKind::Suggestion])?;
                let s = self.case.suggestion.as_ref().ok_or(Refusal("suggestion.not_analysed"))?;
                if s.analysis.is_none() {
                    return Err(Refusal("suggestion.not_analysed"));
                }
                if s.reply.is_some() {
                    return Err(Refusal("suggestion.replied"));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::Channel;
    use crate::sheet::lifecycle::{Confirmation, Ms, UserId};
    use crate::sheet::request::{
        ChargeLine, ComplaintDetails, FlagReason, RepairCategory, RepairClass, RepairSource, Route,
    };
    use crate::unit::DepartmentKind;
    use proptest::prelude::*;

    const DESK: UserId = 10;
    const TECH: UserId = 20;
    const HOUR: Ms = 3_600_000;

    /// A well-formed command for the step: every field filled as a careful user fills the
    /// form; `None` for the slip, which is the repair's handover returned.
    fn form(s: &Sheet, step: Step, handover: u32, valid: bool, now: Ms) -> Command {
        let text = || "说明".to_string();
        let complaint = s.case.complaint.is_some();
        match step {
            Step::CaptureSignature => Command::CaptureSignature { signer: "王先生".into() },
            Step::Dispatch => Command::Dispatch {
                department: 100 + s.handovers.len() as i64,
                kind: if complaint { DepartmentKind::DirectorOffice } else { DepartmentKind::Engineering },
                to_user: None,
                opinion: text(),
            },
            Step::Acknowledge => Command::Acknowledge { handover },
            Step::StartWork => Command::StartWork { handover },
            Step::Return => Command::Return { handover, result: text(), signer: "李工".into() },
            Step::Extend => Command::Extend {
                due_at: now.max(s.extended_due_at.unwrap_or(0)) + 24 * HOUR,
                explanation: text(),
                signed_by: Some(5),
            },
            Step::Suspend => Command::Suspend { explanation: text(), signed_by: Some(5) },
            Step::Resume => Command::Resume { note: text() },
            Step::Terminate => Command::Terminate { explanation: text(), signed_by: Some(5) },
            Step::BeyondCentre => {
                Command::BeyondCentre { explanation: text(), third_party: valid.then(|| "燃气公司".to_string()) }
            }
            Step::RecordThirdPartyReceipt => Command::RecordThirdPartyReceipt { evidence: text() },
            Step::Collect => Command::Collect {
                opinion: "满意".into(),
                confirmation: Some(Confirmation::Signature { signer: "王先生".into() }),
                by_director: false,
                on_behalf: None,
            },
            Step::Archive => Command::Archive,
            Step::ReceiveReturn => Command::ReceiveReturn { handover },
            Step::WaiveSignature => Command::WaiveSignature { reason: text() },
            Step::RequestFollowUp => Command::RequestFollowUp { note: text() },
            Step::ReassignFirstContact => Command::ReassignFirstContact { to: s.first_contact + 1, reason: text() },
            Step::Reclassify => {
                let now_class = s.case.repair.as_ref().map(|r| r.class);
                let class = *RepairClass::ALL.iter().find(|c| Some(**c) != now_class).unwrap();
                Command::Flow(FlowCommand::Reclassify { class, reason: text() })
            }
            Step::AssignTechnician => {
                let current = s.case.repair.as_ref().and_then(|r| r.technician);
                Command::Flow(FlowCommand::AssignTechnician {
                    technician: if current == Some(TECH) { TECH + 1 } else { TECH },
                    appointment_at: Some(now + HOUR),
                    note: "改派".into(),
                })
            }
            Step::Arrive => Command::Flow(FlowCommand::Arrive),
            Step::QuoteCharge => Command::Flow(FlowCommand::QuoteCharge {
                lines: vec![ChargeLine {
                    item_id: 1,
                    name: "水龙头".into(),
                    unit: "个".into(),
                    unit_price_fen: 4500,
                    quantity_centi: 100,
                }],
            }),
            Step::ConfirmCharge => Command::Flow(FlowCommand::ConfirmCharge {
                confirmation: Some(Confirmation::Signature { signer: "王先生".into() }),
            }),
            Step::CompleteRepair => Command::Flow(FlowCommand::CompleteRepair {
                work_done: "更换水龙头".into(),
                materials: String::new(),
                signer: "王先生".into(),
            }),
            Step::ReceiveSlip => {
                let no = s.case.repair.as_ref().and_then(|r| r.handover).unwrap_or(handover);
                Command::Return { handover: no, result: "更换水龙头".into(), signer: "王先生".into() }
            }
            Step::FlagComplaint => {
                Command::Flow(FlowCommand::FlagComplaint { reason: FlagReason::ALL[0], note: text() })
            }
            Step::JudgeComplaint => Command::Flow(FlowCommand::JudgeComplaint {
                valid,
                explanation: text(),
                route: valid.then_some(Route::Department { department: 200, kind: DepartmentKind::DirectorOffice }),
                deadline_at: valid.then_some(now + 24 * HOUR),
            }),
            Step::RecordSolution => Command::Flow(FlowCommand::RecordSolution {
                meeting_at: now,
                attendees: "主任、客服经理".into(),
                plan: text(),
                department: 200,
            }),
            Step::LogProgress => Command::Flow(FlowCommand::LogProgress { note: text(), resident_told: true }),
            Step::AnswerInquiry => {
                Command::Flow(FlowCommand::AnswerInquiry {
                    answer: text(), basis: "管理规约".into(), article: None
                })
            }
            Step::EscalateInquiry => Command::Flow(FlowCommand::EscalateInquiry { to: 7, note: text() }),
            Step::PromiseReply => Command::Flow(FlowCommand::PromiseReply { by_at: now + HOUR, note: text() }),
            Step::AnalyseSuggestion => {
                Command::Flow(FlowCommand::AnalyseSuggestion { analysis: text(), to_director: valid })
            }
            Step::ReplySuggestion => Command::Flow(FlowCommand::ReplySuggestion { reply: text() }),
        }
    }

    fn opened(kind: usize, channel: usize) -> Sheet {
        let kind = crate::sheet::SheetKind::ALL[kind];
        let (mut s, _) = Sheet::register(kind, Channel::ALL[channel], DESK, 0);
        let open = match kind {
            crate::sheet::SheetKind::Repair | crate::sheet::SheetKind::SpecialService => {
                Some(FlowCommand::OpenRepair {
                    category: RepairCategory::ALL[0],
                    class: None,
                    class_reason: String::new(),
                    source: RepairSource::Desk,
                })
            }
            crate::sheet::SheetKind::Complaint => Some(FlowCommand::OpenComplaint {
                details: ComplaintDetails {
                    category: "噪音".into(),
                    cause: "装修".into(),
                    course: "夜间施工".into(),
                    occurred_unknown: true,
                    place_unknown: true,
                    people_unknown: true,
                    ..Default::default()
                },
            }),
            _ => None,
        };
        if let Some(open) = open {
            s.handle(&Command::Flow(open), 0, DESK).unwrap();
        }
        s
    }

    #[test]
    fn every_step_has_its_own_tag() {
        let tags: std::collections::BTreeSet<_> = Step::ALL.iter().map(|s| s.tag()).collect();
        assert_eq!(tags.len(), Step::ALL.len());
    }

    fn judged(s: &mut Sheet) {
        let judge = form(s, Step::JudgeComplaint, 1, true, HOUR);
        s.handle(&judge, HOUR, 5).unwrap();
    }

    /// R-CMP-5: the director sets one solution for a complaint that stands; a second is
    /// refused, and the form is no longer offered.
    #[test]
    fn r_cmp_5_one_solution_for_a_standing_complaint() {
        let mut s = opened(1, 0);
        assert_eq!(s.kind, crate::sheet::SheetKind::Complaint);
        assert_eq!(s.admits(Step::RecordSolution, None), Err(Refusal("complaint.not_valid")));
        judged(&mut s);
        assert_eq!(s.admits(Step::RecordSolution, None), Ok(()));
        s.handle(&form(&s, Step::RecordSolution, 1, true, 2 * HOUR), 2 * HOUR, 5).unwrap();
        let again = form(&s, Step::RecordSolution, 1, true, 3 * HOUR);
        assert_eq!(s.decide(&again, 3 * HOUR), Err(Refusal("complaint.solution_recorded")));
    }

    /// R-CMP-6: progress is reported on a complaint judged valid or in the ledger, not on
    /// one waiting for its judgement.
    #[test]
    fn r_cmp_6_progress_on_a_complaint_that_stands() {
        let mut s = opened(1, 0);
        let note = form(&s, Step::LogProgress, 1, true, HOUR);
        assert_eq!(s.decide(&note, HOUR), Err(Refusal("complaint.progress_not_valid")));
        judged(&mut s);
        assert!(s.decide(&note, 2 * HOUR).is_ok());
    }

    /// R-SHEET-8: a terminated repair sends no technician out.
    #[test]
    fn r_sheet_8_a_terminated_repair_sends_no_one() {
        let mut s = opened(0, 0);
        assert_eq!(s.kind, crate::sheet::SheetKind::Repair);
        assert_eq!(s.admits(Step::AssignTechnician, None), Ok(()));
        s.handle(&form(&s, Step::Terminate, 1, true, HOUR), HOUR, 5).unwrap();
        let assign = form(&s, Step::AssignTechnician, 1, true, 2 * HOUR);
        assert_eq!(s.decide(&assign, 2 * HOUR), Err(Refusal("sheet.ended")));
    }

    /// Found by the walk: the slip returns the engineering handover, so it waits until
    /// engineering has signed for it, as the return itself does.
    #[test]
    fn the_slip_waits_for_engineering_to_sign_for_the_handover() {
        let mut s = opened(3, 0);
        for step in [Step::Dispatch, Step::AssignTechnician, Step::Arrive, Step::CompleteRepair] {
            let now = HOUR;
            s.handle(&form(&s, step, 1, false, now), now, TECH).unwrap();
        }
        assert_eq!(s.admits(Step::ReceiveSlip, None), Err(Refusal("sheet.handover_not_received")));
        s.handle(&Command::Acknowledge { handover: 1 }, 2 * HOUR, 30).unwrap();
        assert_eq!(s.admits(Step::ReceiveSlip, None), Ok(()));
        assert!(s.handle(&form(&s, Step::ReceiveSlip, 1, false, 2 * HOUR), 2 * HOUR, DESK).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// R-ROLE-2, the forms a page offers: on any sheet reached by any sequence of steps,
        /// a step the sheet admits is taken when its form is filled in well, and a step it
        /// does not admit is refused for the reason `admits` gives, whatever the input.
        #[test]
        fn a_step_admitted_can_be_taken_and_one_refused_is_refused_alike(
            kind in 0usize..7,
            channel in 0usize..4,
            walk in proptest::collection::vec((0usize..Step::ALL.len(), 1u32..4, any::<bool>()), 0..80),
        ) {
            let mut s = opened(kind, channel);
            for (i, (step, handover, valid)) in walk.into_iter().enumerate() {
                let step = Step::ALL[step];
                let now = (i as Ms + 1) * HOUR;
                let cmd = form(&s, step, handover, valid, now);
                let on = step.on_handover().then_some(handover);
                let by = if matches!(step, Step::Arrive | Step::CompleteRepair) { TECH } else { DESK };
                match s.admits(step, on) {
                    Ok(()) => {
                        let taken = s.handle(&cmd, now, by);
                        prop_assert!(taken.is_ok(), "{:?} admitted but its form refused: {:?}", step, taken);
                    }
                    Err(why) if step != Step::ReceiveSlip => {
                        prop_assert_eq!(s.decide(&cmd, now), Err(why), "{:?}", step);
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

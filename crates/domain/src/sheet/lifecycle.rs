//! The sheet's lifecycle as a pure state machine over its event history.
//!
//! ```text
//! registered → dispatched (per department: handed over → acknowledged → in progress → returned)
//!            → awaiting acceptance → collected → archived
//! plus: extended (new deadline), suspended ⇄ resumed, terminated, beyond the centre
//! ```
//!
//! A command is decided against the current state ([`Sheet::decide`]) and yields one
//! event or a refusal with a stable code; the event is then applied
//! ([`Sheet::apply`]). The state is only ever the fold of the history, so nothing that
//! happened is lost and the sheet can be rebuilt from its events at any time
//! (R-SHEET-12).

use super::request::{Case, FlowCommand, FlowEvent};
use super::{Channel, SheetKind};
use crate::unit::DepartmentKind;
use serde::{Deserialize, Serialize};

pub type UserId = i64;
pub type DepartmentId = i64;
/// Epoch milliseconds, UTC.
pub type Ms = i64;

/// Where the sheet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SheetState {
    /// Registered at the desk, not yet sent to any department.
    Registered,
    /// With one or more departments.
    Dispatched,
    /// Back with customer service: every department returned it, or it was terminated or
    /// found beyond the centre; waiting for the resident's acceptance.
    AwaitingAcceptance,
    /// Paused with a signed explanation; clocks stop.
    Suspended,
    /// Collected with an acceptance opinion confirmed by the party concerned (R-SHEET-7).
    Collected,
    /// Archived three ways (R-SHEET-11); nothing changes any more.
    Archived,
}

impl SheetState {
    pub fn as_str(self) -> &'static str {
        match self {
            SheetState::Registered => "registered",
            SheetState::Dispatched => "dispatched",
            SheetState::AwaitingAcceptance => "awaiting_acceptance",
            SheetState::Suspended => "suspended",
            SheetState::Collected => "collected",
            SheetState::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<SheetState> {
        [
            SheetState::Registered,
            SheetState::Dispatched,
            SheetState::AwaitingAcceptance,
            SheetState::Suspended,
            SheetState::Collected,
            SheetState::Archived,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Still open (customer service must chase it back, R-SHEET-9).
    pub fn is_open(self) -> bool {
        !matches!(self, SheetState::Collected | SheetState::Archived)
    }
}

/// One department's part: each handover is a ledger entry the receiver signs (R-SHEET-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoverState {
    /// Sent; the receiver has not yet confirmed receipt.
    HandedOver,
    /// The receiver confirmed receipt (the time of confirmation is the receipt).
    Acknowledged,
    /// Work has started.
    InProgress,
    /// Returned with the department's opinion and signature (R-SHEET-5).
    Returned,
    /// Closed by a termination of the whole sheet (R-SHEET-8).
    Terminated,
    /// Handed back to customer service by a suspension (R-SHEET-8: "暂停…将会签单交回客服部").
    Suspended,
}

impl HandoverState {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoverState::HandedOver => "handed_over",
            HandoverState::Acknowledged => "acknowledged",
            HandoverState::InProgress => "in_progress",
            HandoverState::Returned => "returned",
            HandoverState::Terminated => "terminated",
            HandoverState::Suspended => "suspended",
        }
    }

    /// Still with the department.
    pub fn is_out(self) -> bool {
        matches!(self, HandoverState::HandedOver | HandoverState::Acknowledged | HandoverState::InProgress)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// 1, 2, … within the sheet.
    pub no: u32,
    pub department: DepartmentId,
    /// A named receiver, if customer service chose one.
    pub to_user: Option<UserId>,
    pub state: HandoverState,
    pub handed_over_at: Ms,
    pub handed_over_by: UserId,
    pub opinion_sent: String,
    pub acknowledged_at: Option<Ms>,
    pub acknowledged_by: Option<UserId>,
    pub returned_at: Option<Ms>,
    pub returned_by: Option<UserId>,
    pub result: String,
    pub signer: String,
    /// Customer service signed for the sheet coming back (R-SHEET-4, R-SHEET-5: "接收人必须
    /// 在会签单交接记录本上签字确认"), like every other handover.
    #[serde(default)]
    pub received_at: Option<Ms>,
    #[serde(default)]
    pub received_by: Option<UserId>,
}

/// How the party concerned confirmed the acceptance opinion (R-SHEET-7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Confirmation {
    /// Signed on the screen (the signature image is an attachment of the sheet).
    Signature { signer: String },
    /// Confirmed by telephone at a recorded time: the sheet then waits for the party's
    /// signature, or a manager's waiver, before it is archived (R-SHEET-7).
    Phone { at: Ms, note: String },
    /// An inquiry answered on the spot: nothing was sent anywhere and nothing is to be
    /// accepted, so there is nothing for the resident to sign (R-RECV-2).
    OnTheSpot,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub opinion: String,
    pub confirmation: Confirmation,
    /// Written by the centre director (allowed for matters beyond the centre, R-SHEET-10).
    pub by_director: bool,
    pub at: Ms,
    pub by: UserId,
}

/// How a sheet ended other than by every department finishing its part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Terminated with an explanation signed by the head of the responsible department.
    Terminated { explanation: String, signed_by: UserId },
    /// Beyond the centre (R-SHEET-10): explained to the resident; a third party, if
    /// any, was sent a copy and its receipt is the evidence of resolution.
    BeyondCentre { explanation: String, third_party: Option<String>, receipt: Option<String> },
}

/// What happened to a sheet. Stored in order; the sheet is their fold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Registered {
        kind: SheetKind,
        channel: Channel,
        first_contact: UserId,
    },
    SignatureCaptured {
        signer: String,
    },
    Dispatched {
        handover: u32,
        department: DepartmentId,
        to_user: Option<UserId>,
        opinion: String,
    },
    Acknowledged {
        handover: u32,
    },
    WorkStarted {
        handover: u32,
    },
    Returned {
        handover: u32,
        result: String,
        signer: String,
    },
    Extended {
        due_at: Ms,
        explanation: String,
        signed_by: UserId,
    },
    Suspended {
        explanation: String,
        signed_by: UserId,
        /// The departments holding the sheet handed it back to customer service (every
        /// suspension since this was recorded; older histories kept their handovers out).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        to_desk: bool,
    },
    Resumed {
        note: String,
    },
    Terminated {
        explanation: String,
        signed_by: UserId,
    },
    BeyondCentre {
        explanation: String,
        third_party: Option<String>,
    },
    ThirdPartyReceipt {
        evidence: String,
    },
    Collected {
        opinion: String,
        confirmation: Confirmation,
        by_director: bool,
        /// Why someone other than the first-contact receptionist collected it (R-SHEET-6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_behalf: Option<String>,
    },
    Archived,
    /// Customer service signed for a handover that came back (returned, terminated or
    /// suspended).
    ReturnReceived {
        handover: u32,
    },
    /// A manager records why the party's signature will not be had (R-SHEET-3, R-SHEET-7).
    SignatureWaived {
        reason: String,
    },
    FirstContactReassigned {
        to: UserId,
        reason: String,
    },
    /// A photo, file or piece of evidence added to the sheet (stored content-addressed).
    Attached {
        purpose: String,
        filename: String,
        sha256: String,
    },
    /// The resident asked to be followed up: the collected sheet is then followed up
    /// whatever its kind's rate (R-FU-1).
    FollowUpRequested {
        note: String,
    },
    /// A step of a repair, complaint, inquiry or suggestion, stored with its own `type`
    /// beside the sheet's (the JSON of every event ever written reads back unchanged).
    #[serde(untagged)]
    Flow(FlowEvent),
}

impl Event {
    /// The stable name of the event (`sheet.dispatched` in the audit trail and timeline).
    pub fn name(&self) -> &'static str {
        match self {
            Event::Registered { .. } => "registered",
            Event::SignatureCaptured { .. } => "signature_captured",
            Event::Dispatched { .. } => "dispatched",
            Event::Acknowledged { .. } => "acknowledged",
            Event::WorkStarted { .. } => "work_started",
            Event::Returned { .. } => "returned",
            Event::Extended { .. } => "extended",
            Event::Suspended { .. } => "suspended",
            Event::Resumed { .. } => "resumed",
            Event::Terminated { .. } => "terminated",
            Event::BeyondCentre { .. } => "beyond_centre",
            Event::ThirdPartyReceipt { .. } => "third_party_receipt",
            Event::Collected { .. } => "collected",
            Event::Archived => "archived",
            Event::ReturnReceived { .. } => "return_received",
            Event::SignatureWaived { .. } => "signature_waived",
            Event::FirstContactReassigned { .. } => "first_contact_reassigned",
            Event::Attached { .. } => "attached",
            Event::FollowUpRequested { .. } => "follow_up_requested",
            Event::Flow(flow) => flow.name(),
        }
    }
}

/// Every event type a history may hold, as stored (`type`). The stored-shapes test holds
/// one example of each, and the property tests check that every event decided is one.
pub const EVENT_TYPES: &[&str] = &[
    "registered",
    "signature_captured",
    "dispatched",
    "acknowledged",
    "work_started",
    "returned",
    "extended",
    "suspended",
    "resumed",
    "terminated",
    "beyond_centre",
    "third_party_receipt",
    "collected",
    "archived",
    "return_received",
    "signature_waived",
    "first_contact_reassigned",
    "attached",
    "follow_up_requested",
    "repair_opened",
    "repair_reclassified",
    "technician_assigned",
    "arrived",
    "charge_quoted",
    "charge_confirmed",
    "repair_completed",
    "complaint_opened",
    "complaint_flagged",
    "complaint_judged",
    "solution_recorded",
    "progress_logged",
    "inquiry_answered",
    "inquiry_escalated",
    "reply_promised",
    "suggestion_analysed",
    "suggestion_replied",
];

/// An event as it happened: when, by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub event: Event,
    pub at: Ms,
    pub by: UserId,
}

/// What someone asks to do to a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CaptureSignature {
        signer: String,
    },
    /// Send the sheet to a department, of the kind the rules need to know (R-CMP-3).
    Dispatch {
        department: DepartmentId,
        kind: DepartmentKind,
        to_user: Option<UserId>,
        opinion: String,
    },
    Acknowledge {
        handover: u32,
    },
    StartWork {
        handover: u32,
    },
    Return {
        handover: u32,
        result: String,
        signer: String,
    },
    Extend {
        due_at: Ms,
        explanation: String,
        signed_by: Option<UserId>,
    },
    Suspend {
        explanation: String,
        signed_by: Option<UserId>,
    },
    Resume {
        note: String,
    },
    Terminate {
        explanation: String,
        signed_by: Option<UserId>,
    },
    BeyondCentre {
        explanation: String,
        third_party: Option<String>,
    },
    RecordThirdPartyReceipt {
        evidence: String,
    },
    Collect {
        opinion: String,
        confirmation: Option<Confirmation>,
        by_director: bool,
        on_behalf: Option<String>,
    },
    Archive,
    ReceiveReturn {
        handover: u32,
    },
    WaiveSignature {
        reason: String,
    },
    ReassignFirstContact {
        to: UserId,
        reason: String,
    },
    Attach {
        purpose: String,
        filename: String,
        sha256: String,
    },
    RequestFollowUp {
        note: String,
    },
    /// A step of a repair, complaint, inquiry or suggestion.
    Flow(FlowCommand),
}

/// Why a command was refused: a stable code the interface translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Every refusal code, for the translation check.
pub const REFUSALS: &[&str] = &[
    "sheet.archived",
    "sheet.closed",
    "sheet.suspended",
    "sheet.not_suspended",
    "sheet.signature_not_pending",
    "sheet.signer_required",
    "sheet.opinion_required",
    "sheet.department_holding",
    "sheet.ended",
    "sheet.handover_unknown",
    "sheet.handover_not_received",
    "sheet.handover_not_acknowledged",
    "sheet.handover_not_out",
    "sheet.explanation_required",
    "sheet.head_signature_required",
    "sheet.deadline_not_later",
    "sheet.departments_still_out",
    "sheet.not_awaiting_acceptance",
    "sheet.acceptance_required",
    "sheet.confirmation_required",
    "sheet.third_party_receipt_required",
    "sheet.director_only_beyond_centre",
    "sheet.no_third_party",
    "sheet.receipt_recorded",
    "sheet.not_collected",
    "sheet.reason_required",
    "sheet.same_first_contact",
    "sheet.follow_up_already_requested",
    "sheet.follow_up_after_collection",
    "sheet.handover_not_returned",
    "sheet.return_received",
    "sheet.signature_outstanding",
];

/// The sheet as its history makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sheet {
    pub kind: SheetKind,
    pub channel: Channel,
    pub state: SheetState,
    /// The receptionist who answers for the sheet to its close (首接责任人, R-SHEET-6).
    pub first_contact: UserId,
    /// Phone or letter: the requester's signature is still to be collected (R-SHEET-3).
    pub signature_pending: bool,
    /// Collected on the party's word by phone: their signature is still owed (R-SHEET-7).
    #[serde(default)]
    pub acceptance_signature_pending: bool,
    pub registered_at: Ms,
    pub handovers: Vec<Handover>,
    pub outcome: Option<Outcome>,
    pub acceptance: Option<Acceptance>,
    /// A deadline set by an extension (R-SHEET-8).
    pub extended_due_at: Option<Ms>,
    /// The state to return to on resuming.
    pub suspended_from: Option<SheetState>,
    /// The suspension handed the sheet back to customer service.
    #[serde(default)]
    pub suspended_to_desk: bool,
    /// The flow's part: repair, complaint, inquiry or suggestion (R-RECV-1).
    #[serde(default)]
    pub case: Case,
    /// The resident asked for a follow-up (R-FU-1).
    #[serde(default)]
    pub follow_up_requested: bool,
    /// Number of events applied.
    pub events: usize,
}

fn need(text: &str, code: &'static str) -> Result<(), Refusal> {
    if text.trim().is_empty() { Err(Refusal(code)) } else { Ok(()) }
}

impl Sheet {
    /// A new sheet from its registration.
    pub fn register(kind: SheetKind, channel: Channel, first_contact: UserId, at: Ms) -> (Sheet, Recorded) {
        let rec = Recorded { event: Event::Registered { kind, channel, first_contact }, at, by: first_contact };
        (Sheet::replay(std::slice::from_ref(&rec)).expect("a registration starts a sheet"), rec)
    }

    /// Rebuild a sheet from its history (the first event must be the registration).
    pub fn replay(events: &[Recorded]) -> Option<Sheet> {
        let first = events.first()?;
        let Event::Registered { kind, channel, first_contact } = &first.event else {
            return None;
        };
        let mut sheet = Sheet {
            kind: *kind,
            channel: *channel,
            state: SheetState::Registered,
            first_contact: *first_contact,
            signature_pending: !channel.signs_at_registration(),
            acceptance_signature_pending: false,
            registered_at: first.at,
            handovers: vec![],
            outcome: None,
            acceptance: None,
            extended_due_at: None,
            suspended_from: None,
            suspended_to_desk: false,
            case: Case::default(),
            follow_up_requested: false,
            events: 1,
        };
        for e in &events[1..] {
            sheet.apply(e);
        }
        Some(sheet)
    }

    pub fn handover(&self, no: u32) -> Option<&Handover> {
        self.handovers.iter().find(|h| h.no == no)
    }

    /// Departments still holding the sheet.
    pub fn departments_out(&self) -> impl Iterator<Item = &Handover> {
        self.handovers.iter().filter(|h| h.state.is_out())
    }

    /// The party's signature is still owed: at registration (补签) or on an acceptance
    /// given by phone. Listed as waiting for it; not archived until signed or waived.
    pub fn signature_owed(&self) -> bool {
        self.signature_pending || self.acceptance_signature_pending
    }

    /// Handovers back with customer service that nobody there has signed for yet.
    pub fn returns_to_receive(&self) -> impl Iterator<Item = &Handover> {
        self.handovers.iter().filter(|h| !h.state.is_out() && h.returned_at.is_some() && h.received_at.is_none())
    }

    /// When the sheet was first sent to a department (the start of the collection limit).
    pub fn first_dispatched_at(&self) -> Option<Ms> {
        self.handovers.iter().map(|h| h.handed_over_at).min()
    }

    /// Decide a command: the event it produces, or why it is refused. What the sheet's
    /// state allows is [`Sheet::admits`]'s to say, asked first; here the command's input.
    /// `now` is used only to check that a new deadline lies ahead.
    pub fn decide(&self, cmd: &Command, now: Ms) -> Result<Event, Refusal> {
        match cmd.step() {
            Some((step, handover)) => self.admits(step, handover)?,
            None => {
                if self.state == SheetState::Archived {
                    return Err(Refusal("sheet.archived"));
                }
                // A flow's part is opened with the sheet, while it is worked on.
                if matches!(cmd, Command::Flow(_)) {
                    if !self.state.is_open() {
                        return Err(Refusal("sheet.closed"));
                    }
                    if self.state == SheetState::Suspended {
                        return Err(Refusal("sheet.suspended"));
                    }
                }
            }
        }
        match cmd {
            Command::CaptureSignature { signer } => {
                need(signer, "sheet.signer_required")?;
                Ok(Event::SignatureCaptured { signer: signer.trim().into() })
            }
            Command::Dispatch { department, kind, to_user, opinion } => {
                need(opinion, "sheet.opinion_required")?;
                if self.departments_out().any(|h| h.department == *department) {
                    return Err(Refusal("sheet.department_holding"));
                }
                self.complaint_may_go_to(*department, *kind)?;
                let no = self.handovers.len() as u32 + 1;
                Ok(Event::Dispatched {
                    handover: no,
                    department: *department,
                    to_user: *to_user,
                    opinion: opinion.trim().into(),
                })
            }
            Command::Acknowledge { handover } => Ok(Event::Acknowledged { handover: *handover }),
            Command::StartWork { handover } => Ok(Event::WorkStarted { handover: *handover }),
            Command::Return { handover, result, signer } => {
                need(result, "sheet.opinion_required")?;
                need(signer, "sheet.signer_required")?;
                Ok(Event::Returned { handover: *handover, result: result.trim().into(), signer: signer.trim().into() })
            }
            Command::Extend { due_at, explanation, signed_by } => {
                need(explanation, "sheet.explanation_required")?;
                let signed_by = signed_by.ok_or(Refusal("sheet.head_signature_required"))?;
                if *due_at <= now || self.extended_due_at.is_some_and(|d| *due_at <= d) {
                    return Err(Refusal("sheet.deadline_not_later"));
                }
                Ok(Event::Extended { due_at: *due_at, explanation: explanation.trim().into(), signed_by })
            }
            Command::Suspend { explanation, signed_by } => {
                need(explanation, "sheet.explanation_required")?;
                let signed_by = signed_by.ok_or(Refusal("sheet.head_signature_required"))?;
                Ok(Event::Suspended { explanation: explanation.trim().into(), signed_by, to_desk: true })
            }
            Command::Resume { note } => Ok(Event::Resumed { note: note.trim().into() }),
            Command::Terminate { explanation, signed_by } => {
                need(explanation, "sheet.explanation_required")?;
                let signed_by = signed_by.ok_or(Refusal("sheet.head_signature_required"))?;
                Ok(Event::Terminated { explanation: explanation.trim().into(), signed_by })
            }
            Command::BeyondCentre { explanation, third_party } => {
                need(explanation, "sheet.explanation_required")?;
                let third_party = third_party.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
                Ok(Event::BeyondCentre { explanation: explanation.trim().into(), third_party })
            }
            Command::RecordThirdPartyReceipt { evidence } => {
                need(evidence, "sheet.explanation_required")?;
                Ok(Event::ThirdPartyReceipt { evidence: evidence.trim().into() })
            }
            Command::Collect { opinion, confirmation, by_director, on_behalf } => {
                need(opinion, "sheet.acceptance_required")?;
                let confirmation = confirmation.clone().ok_or(Refusal("sheet.confirmation_required"))?;
                match &confirmation {
                    Confirmation::Signature { signer } => need(signer, "sheet.signer_required")?,
                    Confirmation::Phone { .. } => {}
                    Confirmation::OnTheSpot if self.answered_on_the_spot() => {}
                    Confirmation::OnTheSpot => return Err(Refusal("sheet.confirmation_required")),
                }
                if *by_director && !matches!(self.outcome, Some(Outcome::BeyondCentre { .. })) {
                    return Err(Refusal("sheet.director_only_beyond_centre"));
                }
                let on_behalf = on_behalf.as_ref().map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
                Ok(Event::Collected {
                    opinion: opinion.trim().into(),
                    confirmation,
                    by_director: *by_director,
                    on_behalf,
                })
            }
            Command::Archive => Ok(Event::Archived),
            Command::ReceiveReturn { handover } => Ok(Event::ReturnReceived { handover: *handover }),
            Command::WaiveSignature { reason } => {
                need(reason, "sheet.reason_required")?;
                Ok(Event::SignatureWaived { reason: reason.trim().into() })
            }
            Command::RequestFollowUp { note } => Ok(Event::FollowUpRequested { note: note.trim().into() }),
            Command::Attach { purpose, filename, sha256 } => {
                Ok(Event::Attached { purpose: purpose.clone(), filename: filename.clone(), sha256: sha256.clone() })
            }
            Command::ReassignFirstContact { to, reason } => {
                need(reason, "sheet.reason_required")?;
                if *to == self.first_contact {
                    return Err(Refusal("sheet.same_first_contact"));
                }
                Ok(Event::FirstContactReassigned { to: *to, reason: reason.trim().into() })
            }
            Command::Flow(flow) => self.decide_flow(flow, now).map(Event::Flow),
        }
    }

    /// Apply an event that [`Sheet::decide`] produced (or that was stored).
    pub fn apply(&mut self, rec: &Recorded) {
        use SheetState::*;
        self.events += 1;
        let (at, by) = (rec.at, rec.by);
        match &rec.event {
            Event::Registered { .. } => {}
            // The party signs the sheet: the request (补签) and, after a phone acceptance,
            // the acceptance.
            Event::SignatureCaptured { .. } | Event::SignatureWaived { .. } => {
                self.signature_pending = false;
                self.acceptance_signature_pending = false;
            }
            Event::Dispatched { handover, department, to_user, opinion } => {
                self.handovers.push(Handover {
                    no: *handover,
                    department: *department,
                    to_user: *to_user,
                    state: HandoverState::HandedOver,
                    handed_over_at: at,
                    handed_over_by: by,
                    opinion_sent: opinion.clone(),
                    acknowledged_at: None,
                    acknowledged_by: None,
                    returned_at: None,
                    returned_by: None,
                    result: String::new(),
                    signer: String::new(),
                    received_at: None,
                    received_by: None,
                });
                self.state = Dispatched;
            }
            Event::Acknowledged { handover } => {
                if let Some(h) = self.handovers.iter_mut().find(|h| h.no == *handover) {
                    h.state = HandoverState::Acknowledged;
                    h.acknowledged_at = Some(at);
                    h.acknowledged_by = Some(by);
                }
            }
            Event::WorkStarted { handover } => {
                if let Some(h) = self.handovers.iter_mut().find(|h| h.no == *handover) {
                    h.state = HandoverState::InProgress;
                }
            }
            Event::Returned { handover, result, signer } => {
                if let Some(h) = self.handovers.iter_mut().find(|h| h.no == *handover) {
                    h.state = HandoverState::Returned;
                    h.returned_at = Some(at);
                    h.returned_by = Some(by);
                    h.result = result.clone();
                    h.signer = signer.clone();
                }
                if self.departments_out().next().is_none() {
                    self.state = AwaitingAcceptance;
                }
            }
            Event::Extended { due_at, .. } => self.extended_due_at = Some(*due_at),
            Event::Suspended { explanation, to_desk, .. } => {
                self.suspended_from = Some(self.state);
                if *to_desk {
                    // R-SHEET-8: the departments hand the sheet back to customer service
                    // with the head's signed explanation; it leaves their queues.
                    for h in self.handovers.iter_mut().filter(|h| h.state.is_out()) {
                        h.state = HandoverState::Suspended;
                        h.returned_at = Some(at);
                        h.returned_by = Some(by);
                        h.result = explanation.clone();
                    }
                    self.suspended_to_desk = true;
                }
                self.state = Suspended;
            }
            Event::Resumed { .. } => {
                let from = self.suspended_from.take().unwrap_or(Registered);
                // Back from the desk: sent out again by customer service, or still with it.
                self.state = if self.suspended_to_desk && from == Dispatched && self.departments_out().next().is_none()
                {
                    Registered
                } else {
                    from
                };
                self.suspended_to_desk = false;
            }
            Event::Terminated { explanation, signed_by } => {
                for h in self.handovers.iter_mut().filter(|h| h.state.is_out()) {
                    h.state = HandoverState::Terminated;
                    h.returned_at = Some(at);
                    h.returned_by = Some(by);
                    h.result = explanation.clone();
                }
                self.suspended_to_desk = false;
                self.outcome = Some(Outcome::Terminated { explanation: explanation.clone(), signed_by: *signed_by });
                self.suspended_from = None;
                self.state = AwaitingAcceptance;
            }
            Event::BeyondCentre { explanation, third_party } => {
                self.outcome = Some(Outcome::BeyondCentre {
                    explanation: explanation.clone(),
                    third_party: third_party.clone(),
                    receipt: None,
                });
                self.state = AwaitingAcceptance;
            }
            Event::ThirdPartyReceipt { evidence } => {
                if let Some(Outcome::BeyondCentre { receipt, .. }) = &mut self.outcome {
                    *receipt = Some(evidence.clone());
                }
            }
            Event::Collected { opinion, confirmation, by_director, .. } => {
                match confirmation {
                    Confirmation::Signature { .. } => {
                        self.signature_pending = false;
                        self.acceptance_signature_pending = false;
                    }
                    Confirmation::Phone { .. } => self.acceptance_signature_pending = true,
                    Confirmation::OnTheSpot => self.signature_pending = false,
                }
                self.acceptance = Some(Acceptance {
                    opinion: opinion.clone(),
                    confirmation: confirmation.clone(),
                    by_director: *by_director,
                    at,
                    by,
                });
                self.state = Collected;
            }
            Event::Archived => self.state = Archived,
            Event::ReturnReceived { handover } => {
                if let Some(h) = self.handovers.iter_mut().find(|h| h.no == *handover) {
                    h.received_at = Some(at);
                    h.received_by = Some(by);
                }
            }
            Event::FirstContactReassigned { to, .. } => self.first_contact = *to,
            Event::Attached { .. } => {}
            Event::FollowUpRequested { .. } => self.follow_up_requested = true,
            Event::Flow(flow) => self.apply_flow(flow, at, by),
        }
    }

    /// Decide and apply in one step (what a use-case does inside its transaction).
    pub fn handle(&mut self, cmd: &Command, at: Ms, by: UserId) -> Result<Recorded, Refusal> {
        let event = self.decide(cmd, at)?;
        let rec = Recorded { event, at, by };
        self.apply(&rec);
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESK: UserId = 10;
    const ENG: DepartmentId = 2;
    const SEC: DepartmentId = 3;

    /// Send the sheet to a department (engineering, or security for `SEC`).
    fn dispatch(department: DepartmentId, opinion: &str) -> Command {
        let kind = if department == 3 { DepartmentKind::Security } else { DepartmentKind::Engineering };
        Command::Dispatch { department, kind, to_user: None, opinion: opinion.into() }
    }
    fn visit() -> Sheet {
        Sheet::register(SheetKind::Repair, Channel::Visit, DESK, 1_000).0
    }

    fn signed() -> Option<Confirmation> {
        Some(Confirmation::Signature { signer: "王秀英".into() })
    }

    /// The everyday journey: register, dispatch to engineering, acknowledge, return,
    /// collect with the resident's acceptance, archive.
    #[test]
    fn r_sheet_4_5_7_11_everyday_journey() {
        let mut s = visit();
        assert!(!s.signature_pending, "a visit is signed at registration (R-SHEET-3)");
        s.handle(&dispatch(ENG, "请工程部处理漏水"), 2_000, DESK).unwrap();
        assert_eq!(s.state, SheetState::Dispatched);
        s.handle(&Command::Acknowledge { handover: 1 }, 3_000, 20).unwrap();
        assert_eq!(s.handover(1).unwrap().acknowledged_at, Some(3_000), "receipt time is the confirmation (R-SHEET-4)");
        s.handle(&Command::StartWork { handover: 1 }, 3_500, 20).unwrap();
        s.handle(&Command::Return { handover: 1, result: "已更换水管".into(), signer: "李师傅".into() }, 4_000, 20)
            .unwrap();
        assert_eq!(s.state, SheetState::AwaitingAcceptance);
        s.handle(
            &Command::Collect { opinion: "满意".into(), confirmation: signed(), by_director: false, on_behalf: None },
            5_000,
            DESK,
        )
        .unwrap();
        s.handle(&Command::Archive, 6_000, DESK).unwrap();
        assert_eq!(s.state, SheetState::Archived);
        assert_eq!(s.events, 7);
    }

    /// R-FU-1: the resident's request for a follow-up is kept on the sheet until it is
    /// collected, once; after collection the follow-up is already decided.
    #[test]
    fn r_fu_1_a_follow_up_is_requested_before_collection() {
        let (mut s, _) = Sheet::register(SheetKind::Inquiry, Channel::Phone, DESK, 0);
        assert!(!s.follow_up_requested);
        s.handle(&Command::RequestFollowUp { note: " 业主来电要求回访 ".into() }, 1, DESK).unwrap();
        assert!(s.follow_up_requested);
        let again = Sheet::replay(&[
            Recorded {
                event: Event::Registered { kind: SheetKind::Inquiry, channel: Channel::Phone, first_contact: DESK },
                at: 0,
                by: DESK,
            },
            Recorded { event: Event::FollowUpRequested { note: "业主来电要求回访".into() }, at: 1, by: DESK },
        ])
        .unwrap();
        assert!(again.follow_up_requested, "replayed from the history");
        assert_eq!(
            s.decide(&Command::RequestFollowUp { note: String::new() }, 2),
            Err(Refusal("sheet.follow_up_already_requested"))
        );
        let (mut t, _) = Sheet::register(SheetKind::Other, Channel::Phone, DESK, 0);
        t.state = SheetState::Collected;
        assert_eq!(
            t.decide(&Command::RequestFollowUp { note: String::new() }, 2),
            Err(Refusal("sheet.follow_up_after_collection"))
        );
    }

    /// R-SHEET-3: phone and letter sheets wait for a signature.
    #[test]
    fn r_sheet_3_phone_sheet_needs_a_later_signature() {
        let (mut s, _) = Sheet::register(SheetKind::Complaint, Channel::Phone, DESK, 0);
        assert!(s.signature_pending);
        assert_eq!(
            s.decide(&Command::CaptureSignature { signer: " ".into() }, 1),
            Err(Refusal("sheet.signer_required"))
        );
        s.handle(&Command::CaptureSignature { signer: "张伟".into() }, 1, DESK).unwrap();
        assert!(!s.signature_pending);
        assert_eq!(
            s.decide(&Command::CaptureSignature { signer: "张伟".into() }, 2),
            Err(Refusal("sheet.signature_not_pending"))
        );
    }

    /// R-SHEET-4: one open handover per department; several departments at once.
    #[test]
    fn r_sheet_4_several_departments_one_open_handover_each() {
        let mut s = visit();
        s.handle(&dispatch(ENG, "x"), 1, DESK).unwrap();
        assert_eq!(s.decide(&dispatch(ENG, "again"), 2), Err(Refusal("sheet.department_holding")));
        s.handle(
            &Command::Dispatch {
                department: SEC,
                kind: DepartmentKind::Security,
                to_user: Some(31),
                opinion: "请安保配合".into(),
            },
            2,
            DESK,
        )
        .unwrap();
        assert_eq!(
            s.decide(&Command::Return { handover: 2, result: "ok".into(), signer: "x".into() }, 3),
            Err(Refusal("sheet.handover_not_received"))
        );
        for h in [1, 2] {
            s.handle(&Command::Acknowledge { handover: h }, 3, 20).unwrap();
        }
        s.handle(&Command::Return { handover: 1, result: "修好".into(), signer: "李".into() }, 4, 20).unwrap();
        assert_eq!(s.state, SheetState::Dispatched, "security still holds it");
        assert_eq!(
            s.decide(
                &Command::Collect {
                    opinion: "满意".into(),
                    confirmation: signed(),
                    by_director: false,
                    on_behalf: None
                },
                5
            ),
            Err(Refusal("sheet.departments_still_out"))
        );
        s.handle(&Command::Return { handover: 2, result: "已巡查".into(), signer: "赵".into() }, 5, 31).unwrap();
        assert_eq!(s.state, SheetState::AwaitingAcceptance);
        // Back with customer service, it may be sent out again (e.g. the resident is not satisfied).
        s.handle(&dispatch(ENG, "返修"), 6, DESK).unwrap();
        assert_eq!(s.state, SheetState::Dispatched);
    }

    /// R-SHEET-7: no collection without an acceptance opinion confirmed by the party.
    #[test]
    fn r_sheet_7_collection_needs_opinion_and_confirmation() {
        let mut s = visit();
        s.handle(&dispatch(ENG, "x"), 1, DESK).unwrap();
        s.handle(&Command::Acknowledge { handover: 1 }, 2, 20).unwrap();
        s.handle(&Command::Return { handover: 1, result: "done".into(), signer: "李".into() }, 3, 20).unwrap();
        assert_eq!(
            s.decide(
                &Command::Collect { opinion: "".into(), confirmation: signed(), by_director: false, on_behalf: None },
                4
            ),
            Err(Refusal("sheet.acceptance_required"))
        );
        assert_eq!(
            s.decide(
                &Command::Collect { opinion: "满意".into(), confirmation: None, by_director: false, on_behalf: None },
                4
            ),
            Err(Refusal("sheet.confirmation_required"))
        );
        assert_eq!(s.decide(&Command::Archive, 4), Err(Refusal("sheet.not_collected")));
        let phone = Some(Confirmation::Phone { at: 4, note: "业主电话确认".into() });
        s.handle(
            &Command::Collect { opinion: "满意".into(), confirmation: phone, by_director: false, on_behalf: None },
            4,
            DESK,
        )
        .unwrap();
        assert_eq!(s.decide(&dispatch(ENG, "x"), 5), Err(Refusal("sheet.closed")));
    }

    /// R-SHEET-8: extension, suspension and termination need an explanation signed by
    /// the department head; suspension pauses until resumed.
    #[test]
    fn r_sheet_8_extend_suspend_terminate() {
        let mut s = visit();
        s.handle(&dispatch(ENG, "x"), 1, DESK).unwrap();
        assert_eq!(
            s.decide(&Command::Extend { due_at: 100, explanation: "等配件".into(), signed_by: None }, 2),
            Err(Refusal("sheet.head_signature_required"))
        );
        assert_eq!(
            s.decide(&Command::Extend { due_at: 100, explanation: " ".into(), signed_by: Some(5) }, 2),
            Err(Refusal("sheet.explanation_required"))
        );
        assert_eq!(
            s.decide(&Command::Extend { due_at: 1, explanation: "等配件".into(), signed_by: Some(5) }, 2),
            Err(Refusal("sheet.deadline_not_later"))
        );
        s.handle(&Command::Extend { due_at: 100, explanation: "等配件".into(), signed_by: Some(5) }, 2, 5).unwrap();
        assert_eq!(s.extended_due_at, Some(100));
        s.handle(&Command::Suspend { explanation: "业主出差".into(), signed_by: Some(5) }, 3, 5).unwrap();
        assert_eq!(s.state, SheetState::Suspended);
        // "暂停的会签单应返回客服部": the department hands it back with the explanation.
        let h = s.handover(1).unwrap();
        assert_eq!((h.state, h.returned_at, h.result.as_str()), (HandoverState::Suspended, Some(3), "业主出差"));
        assert!(s.departments_out().next().is_none(), "it left the department's queue");
        assert_eq!(s.decide(&Command::Acknowledge { handover: 1 }, 4), Err(Refusal("sheet.suspended")));
        s.handle(&Command::ReceiveReturn { handover: 1 }, 4, DESK).unwrap();
        s.handle(&Command::Resume { note: "业主回来了".into() }, 5, DESK).unwrap();
        assert_eq!(s.state, SheetState::Registered, "with customer service, to be sent out again");
        s.handle(&dispatch(ENG, "恢复办理"), 5, DESK).unwrap();
        assert_eq!((s.state, s.handover(2).unwrap().state), (SheetState::Dispatched, HandoverState::HandedOver));
        s.handle(&Command::Terminate { explanation: "业主撤回申请".into(), signed_by: Some(5) }, 6, 5).unwrap();
        assert_eq!(s.state, SheetState::AwaitingAcceptance, "returns to customer service");
        let h = s.handover(2).unwrap();
        assert_eq!((h.state, h.returned_at), (HandoverState::Terminated, Some(6)));
        s.handle(
            &Command::Collect {
                opinion: "业主同意终止".into(),
                confirmation: signed(),
                by_director: false,
                on_behalf: None,
            },
            7,
            DESK,
        )
        .unwrap();
        s.handle(&Command::Archive, 8, DESK).unwrap();
        // A sheet with customer service (not with a department) resumes where it was.
        let mut t = visit();
        t.handle(&Command::Suspend { explanation: "业主出差".into(), signed_by: Some(5) }, 1, 5).unwrap();
        t.handle(&Command::Resume { note: String::new() }, 2, DESK).unwrap();
        assert_eq!(t.state, SheetState::Registered);
    }

    /// R-SHEET-4/R-SHEET-5: customer service signs for a sheet that comes back, once.
    #[test]
    fn r_sheet_5_customer_service_signs_for_the_return() {
        let mut s = visit();
        s.handle(&dispatch(ENG, "x"), 1, DESK).unwrap();
        assert_eq!(s.decide(&Command::ReceiveReturn { handover: 1 }, 2), Err(Refusal("sheet.handover_not_returned")));
        s.handle(&Command::Acknowledge { handover: 1 }, 2, 20).unwrap();
        s.handle(&Command::Return { handover: 1, result: "修好".into(), signer: "李".into() }, 3, 20).unwrap();
        assert_eq!(s.returns_to_receive().count(), 1);
        s.handle(&Command::ReceiveReturn { handover: 1 }, 4, DESK).unwrap();
        let h = s.handover(1).unwrap();
        assert_eq!((h.received_at, h.received_by), (Some(4), Some(DESK)));
        assert_eq!(s.decide(&Command::ReceiveReturn { handover: 1 }, 5), Err(Refusal("sheet.return_received")));
        assert_eq!(s.returns_to_receive().count(), 0);
    }

    /// R-SHEET-3/R-SHEET-7: an acceptance by phone leaves the signature owed; a later
    /// signature or a manager's waiver clears it; only then may the sheet be archived. A
    /// signed acceptance is also the later signature of a call.
    #[test]
    fn r_sheet_7_phone_acceptance_owes_the_signature() {
        let back = |channel| {
            let (mut s, _) = Sheet::register(SheetKind::Other, channel, DESK, 0);
            s.handle(&dispatch(ENG, "x"), 1, DESK).unwrap();
            s.handle(&Command::Acknowledge { handover: 1 }, 2, 20).unwrap();
            s.handle(&Command::Return { handover: 1, result: "done".into(), signer: "李".into() }, 3, 20).unwrap();
            s
        };
        let phone = Some(Confirmation::Phone { at: 4, note: "业主电话确认".into() });
        let collect = |c: Option<Confirmation>| Command::Collect {
            opinion: "满意".into(),
            confirmation: c,
            by_director: false,
            on_behalf: None,
        };
        let mut s = back(Channel::Visit);
        s.handle(&collect(phone.clone()), 4, DESK).unwrap();
        assert!(s.signature_owed() && s.acceptance_signature_pending);
        assert_eq!(s.decide(&Command::Archive, 5), Err(Refusal("sheet.signature_outstanding")));
        assert_eq!(s.decide(&Command::WaiveSignature { reason: " ".into() }, 5), Err(Refusal("sheet.reason_required")));
        s.handle(&Command::WaiveSignature { reason: "业主长期在外地，经理批准".into() }, 5, 2).unwrap();
        assert!(!s.signature_owed());
        s.handle(&Command::Archive, 6, DESK).unwrap();

        let mut s = back(Channel::Phone);
        s.handle(&collect(phone), 4, DESK).unwrap();
        s.handle(&Command::CaptureSignature { signer: "王秀英".into() }, 5, DESK).unwrap();
        assert!(!s.signature_owed(), "one later signature confirms the request and the acceptance");
        s.handle(&Command::Archive, 6, DESK).unwrap();

        let mut s = back(Channel::Letter);
        assert!(s.signature_pending);
        s.handle(&collect(signed()), 4, DESK).unwrap();
        assert!(!s.signature_owed(), "signed at collection: 待补签 clears");
        assert_eq!(
            s.decide(&Command::WaiveSignature { reason: "x".into() }, 5),
            Err(Refusal("sheet.signature_not_pending"))
        );

        let mut s = back(Channel::Phone);
        assert_eq!(s.decide(&collect(Some(Confirmation::OnTheSpot)), 4), Err(Refusal("sheet.confirmation_required")));
        s.handle(&collect(signed()), 4, DESK).unwrap();
    }

    /// R-SHEET-10: beyond the centre; a third party's receipt is the evidence; the director
    /// may write the acceptance.
    #[test]
    fn r_sheet_10_beyond_the_centre() {
        let mut s = Sheet::register(SheetKind::SituationReport, Channel::Visit, DESK, 0).0;
        s.handle(
            &Command::BeyondCentre {
                explanation: "属燃气公司职责，已告知业主".into(),
                third_party: Some("燃气公司".into()),
            },
            1,
            DESK,
        )
        .unwrap();
        assert_eq!(
            s.decide(
                &Command::Collect {
                    opinion: "已解决".into(),
                    confirmation: signed(),
                    by_director: true,
                    on_behalf: None
                },
                2
            ),
            Err(Refusal("sheet.third_party_receipt_required"))
        );
        s.handle(&Command::RecordThirdPartyReceipt { evidence: "燃气公司回执（传真）".into() }, 2, DESK).unwrap();
        s.handle(
            &Command::Collect {
                opinion: "已由燃气公司解决".into(),
                confirmation: signed(),
                by_director: true,
                on_behalf: None,
            },
            3,
            1,
        )
        .unwrap();
        assert!(s.acceptance.as_ref().unwrap().by_director);
        // The director's acceptance is for matters beyond the centre only.
        let mut t = visit();
        t.handle(&dispatch(ENG, "x"), 1, DESK).unwrap();
        t.handle(&Command::Acknowledge { handover: 1 }, 2, 20).unwrap();
        t.handle(&Command::Return { handover: 1, result: "done".into(), signer: "李".into() }, 3, 20).unwrap();
        assert_eq!(
            t.decide(
                &Command::Collect { opinion: "ok".into(), confirmation: signed(), by_director: true, on_behalf: None },
                4
            ),
            Err(Refusal("sheet.director_only_beyond_centre"))
        );
    }

    /// R-SHEET-6: the first-contact owner can be replaced, with a reason.
    #[test]
    fn r_sheet_6_first_contact_reassigned_with_reason() {
        let mut s = visit();
        assert_eq!(
            s.decide(&Command::ReassignFirstContact { to: 11, reason: "".into() }, 1),
            Err(Refusal("sheet.reason_required"))
        );
        s.handle(&Command::ReassignFirstContact { to: 11, reason: "休假".into() }, 1, 2).unwrap();
        assert_eq!(s.first_contact, 11);
    }

    #[test]
    fn replay_rebuilds_the_same_sheet() {
        let (mut s, first) = Sheet::register(SheetKind::Repair, Channel::Letter, DESK, 0);
        let mut log = vec![first];
        for (cmd, by) in [
            (dispatch(ENG, "x"), DESK),
            (Command::Acknowledge { handover: 1 }, 20),
            (Command::Suspend { explanation: "s".into(), signed_by: Some(5) }, 5),
            (Command::Resume { note: String::new() }, DESK),
        ] {
            log.push(s.handle(&cmd, log.len() as i64, by).unwrap());
        }
        assert_eq!(Sheet::replay(&log).unwrap(), s);
        // Events serialise with a stable tag (they are stored as JSON).
        let json = serde_json::to_string(&log[1].event).unwrap();
        assert!(json.starts_with("{\"type\":\"dispatched\""), "{json}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn command() -> impl Strategy<Value = (Command, UserId)> {
            let text = prop_oneof![Just(String::new()), Just("说明".to_string())];
            let signer = prop_oneof![Just(None), Just(Some(5i64))];
            prop_oneof![
                text.clone().prop_map(|s| (Command::CaptureSignature { signer: s }, DESK)),
                (1i64..4, text.clone()).prop_map(|(d, o)| (
                    Command::Dispatch { department: d, kind: DepartmentKind::Engineering, to_user: None, opinion: o },
                    DESK
                )),
                (1u32..5).prop_map(|h| (Command::Acknowledge { handover: h }, 20)),
                (1u32..5).prop_map(|h| (Command::StartWork { handover: h }, 20)),
                (1u32..5, text.clone(), text.clone())
                    .prop_map(|(h, r, s)| (Command::Return { handover: h, result: r, signer: s }, 20)),
                (0i64..2000, text.clone(), signer.clone())
                    .prop_map(|(d, e, s)| (Command::Extend { due_at: d, explanation: e, signed_by: s }, 5)),
                (text.clone(), signer.clone())
                    .prop_map(|(e, s)| (Command::Suspend { explanation: e, signed_by: s }, 5)),
                text.clone().prop_map(|n| (Command::Resume { note: n }, DESK)),
                (text.clone(), signer).prop_map(|(e, s)| (Command::Terminate { explanation: e, signed_by: s }, 5)),
                (text.clone(), prop_oneof![Just(None), Just(Some("燃气公司".to_string()))])
                    .prop_map(|(e, t)| (Command::BeyondCentre { explanation: e, third_party: t }, DESK)),
                text.clone().prop_map(|e| (Command::RecordThirdPartyReceipt { evidence: e }, DESK)),
                (text.clone(), any::<bool>(), any::<bool>()).prop_map(|(o, c, d)| (
                    Command::Collect {
                        opinion: o,
                        confirmation: c.then(|| Confirmation::Signature { signer: "王".into() }),
                        by_director: d,
                        on_behalf: None,
                    },
                    DESK
                )),
                Just((Command::Archive, DESK)),
                (1u32..5).prop_map(|h| (Command::ReceiveReturn { handover: h }, DESK)),
                text.clone().prop_map(|r| (Command::WaiveSignature { reason: r }, 2)),
                (10i64..13, text).prop_map(|(to, r)| (Command::ReassignFirstContact { to, reason: r }, 2)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// No sequence of operations closes a sheet without an acceptance opinion,
            /// archives one with a department still out, or loses an event.
            #[test]
            fn invariants_hold_for_any_sequence(kind in 0usize..7, channel in 0usize..4, cmds in proptest::collection::vec(command(), 0..60)) {
                let (mut s, first) = Sheet::register(SheetKind::ALL[kind], Channel::ALL[channel], DESK, 0);
                let mut log = vec![first];
                for (i, (cmd, by)) in cmds.iter().enumerate() {
                    let before = s.clone();
                    match s.handle(cmd, i as i64 + 1, *by) {
                        Ok(rec) => {
                            prop_assert!(EVENT_TYPES.contains(&rec.event.name()), "{} is not a known event type", rec.event.name());
                            log.push(rec)
                        }
                        Err(_) => prop_assert_eq!(&s, &before, "a refused command changes nothing"),
                    }
                    if matches!(s.state, SheetState::Collected | SheetState::Archived) {
                        let a = s.acceptance.as_ref();
                        prop_assert!(a.is_some_and(|a| !a.opinion.trim().is_empty()), "closed without an acceptance opinion");
                    }
                    if s.state == SheetState::Archived {
                        prop_assert!(s.departments_out().next().is_none(), "archived with a department still out");
                        prop_assert!(!s.signature_owed(), "archived without the party's signature or a waiver");
                    }
                    if s.state == SheetState::Suspended && s.suspended_to_desk {
                        prop_assert!(s.departments_out().next().is_none(), "suspended but still in a department's queue");
                    }
                    if s.state == SheetState::AwaitingAcceptance {
                        prop_assert!(s.departments_out().next().is_none());
                    }
                    if s.acceptance.as_ref().is_some_and(|a| a.by_director) {
                        let beyond = matches!(s.outcome, Some(Outcome::BeyondCentre { .. }));
                        prop_assert!(beyond);
                    }
                    prop_assert_eq!(s.events, log.len(), "every accepted command is one event");
                }
                prop_assert_eq!(Sheet::replay(&log).unwrap(), s, "the history rebuilds the sheet");
            }
        }
    }
}

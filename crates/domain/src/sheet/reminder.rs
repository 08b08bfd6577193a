//! The reminders a flow waits on, beside the sheet's own clocks (`sla.rs`): a repair's
//! arrival (R-REP-3) and signed slip (R-REP-5), an inquiry's promised reply and the
//! warning before it (R-RECV-2), a complaint's progress report and its deadline (R-CMP-6).
//! Each is due at an instant computed from the sheet's state and the community's rules;
//! the scheduler sends each once, to the parties it names.

use super::calendar::Ms;
use super::lifecycle::{Outcome, Sheet, SheetState};
use super::request::ArrivalTargets;

const HOUR: Ms = 3_600_000;
const MINUTE: Ms = 60_000;

/// Which reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reminder {
    /// The technician is not yet at the door by the class's arrival time (R-REP-3).
    Arrival,
    /// The repair is done but the signed slip is not yet back with customer service (R-REP-5).
    Slip,
    /// A promised reply is near its time (R-RECV-2).
    PromiseWarn,
    /// A promised reply's time has come (R-RECV-2).
    Promise,
    /// The resident is owed word on an unresolved complaint (R-CMP-6).
    Progress,
    /// A complaint's deadline (R-CMP-2).
    Deadline,
}

/// Who a reminder goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The technician assigned to the repair.
    Technician,
    /// The community's engineering dispatchers.
    Dispatchers,
    /// The sheet's first-contact receptionist (R-SHEET-6).
    FirstContact,
    /// The manager an inquiry was escalated to.
    EscalatedTo,
    /// Customer service's management, to whom late work escalates.
    Managers,
}

impl Reminder {
    pub const ALL: &'static [Reminder] = &[
        Reminder::Arrival,
        Reminder::Slip,
        Reminder::PromiseWarn,
        Reminder::Promise,
        Reminder::Progress,
        Reminder::Deadline,
    ];

    /// The stored name (`sheet_timers.name`, and `timer_<name>` notices).
    pub fn as_str(self) -> &'static str {
        match self {
            Reminder::Arrival => "arrival",
            Reminder::Slip => "slip",
            Reminder::PromiseWarn => "promise_warn",
            Reminder::Promise => "promise",
            Reminder::Progress => "progress",
            Reminder::Deadline => "deadline",
        }
    }

    pub fn parse(s: &str) -> Option<Reminder> {
        Reminder::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    /// The rule of the manual the reminder keeps.
    pub fn rule(self) -> &'static str {
        match self {
            Reminder::Arrival => "R-REP-3",
            Reminder::Slip => "R-REP-5",
            Reminder::PromiseWarn | Reminder::Promise => "R-RECV-2",
            Reminder::Progress => "R-CMP-6",
            Reminder::Deadline => "R-CMP-2",
        }
    }

    /// Whom it goes to: whoever must act, and, once something is late, management.
    pub fn parties(self) -> &'static [Party] {
        match self {
            Reminder::Arrival => &[Party::Technician, Party::Dispatchers],
            Reminder::Slip => &[Party::FirstContact, Party::Dispatchers],
            Reminder::PromiseWarn => &[Party::FirstContact, Party::EscalatedTo],
            Reminder::Promise | Reminder::Deadline => &[Party::FirstContact, Party::EscalatedTo, Party::Managers],
            Reminder::Progress => &[Party::FirstContact],
        }
    }
}

/// A community's rules for the reminders (`request_settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderRules {
    pub arrival: ArrivalTargets,
    /// Hours after completion by which the signed slip is back (R-REP-5: 24).
    pub slip_hours: i64,
    /// Minutes before a promised reply to warn.
    pub promise_warn_min: i64,
    /// Hours between progress reports on an unresolved complaint (R-CMP-6).
    pub progress_hours: i64,
}

impl Sheet {
    /// The reminders this sheet's flow is waiting on, each with when it is due. A closed
    /// or suspended sheet waits on none.
    pub fn reminders(&self, rules: &ReminderRules) -> Vec<(Reminder, Ms)> {
        let mut out = vec![];
        if !self.state.is_open() || self.state == SheetState::Suspended {
            return out;
        }
        if let Some(r) = &self.case.repair {
            if r.arrived_at.is_none()
                && self.outcome.is_none()
                && let Some(due) = r.arrival_due(&rules.arrival)
            {
                out.push((Reminder::Arrival, due));
            }
            if let Some(done) = r.completed_at
                && r.handover.and_then(|h| self.handover(h)).is_some_and(|h| h.returned_at.is_none())
            {
                out.push((Reminder::Slip, done + rules.slip_hours * HOUR));
            }
        }
        if let Some(i) = &self.case.inquiry
            && let (Some(by), None) = (i.promised_by, &i.answer)
        {
            let warn = by - rules.promise_warn_min * MINUTE;
            if warn > i.promised_at.unwrap_or(0) {
                out.push((Reminder::PromiseWarn, warn));
            }
            out.push((Reminder::Promise, by));
        }
        // Unresolved: with a department, or with the developer's customer service until its
        // answer is recorded (R-CMP-4 is tracked the same way).
        let with_developer =
            matches!(&self.outcome, Some(Outcome::BeyondCentre { third_party: Some(_), receipt: None, .. }));
        if let Some(cc) = &self.case.complaint
            && let Some(j) = cc.judgement.as_ref().filter(|j| j.valid)
            && (self.state != SheetState::AwaitingAcceptance || with_developer)
        {
            let last = cc.last_progress_at.unwrap_or(j.at).max(j.at);
            out.push((Reminder::Progress, last + rules.progress_hours * HOUR));
            if let Some(d) = j.deadline_at {
                out.push((Reminder::Deadline, d));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::lifecycle::Command;
    use crate::sheet::request::{FlowCommand, RepairCategory, RepairSource};
    use crate::sheet::{Channel, SheetKind};
    use crate::unit::DepartmentKind;
    use proptest::prelude::*;

    const DESK: i64 = 10;
    const TECH: i64 = 20;
    const MIN: Ms = 60_000;

    fn rules() -> ReminderRules {
        ReminderRules { arrival: ArrivalTargets::default(), slip_hours: 24, promise_warn_min: 60, progress_hours: 24 }
    }

    fn assigned_leak() -> Sheet {
        let (mut s, _) = Sheet::register(SheetKind::Repair, Channel::Phone, DESK, 0);
        let open = FlowCommand::OpenRepair {
            category: RepairCategory::Water,
            class: None,
            class_reason: String::new(),
            source: RepairSource::Desk,
        };
        s.handle(&Command::Flow(open), 0, DESK).unwrap();
        let send = Command::Dispatch {
            department: 2,
            kind: DepartmentKind::Engineering,
            to_user: None,
            opinion: "派工".into(),
        };
        s.handle(&send, MIN, DESK).unwrap();
        let assign = FlowCommand::AssignTechnician { technician: TECH, appointment_at: None, note: String::new() };
        s.handle(&Command::Flow(assign), 2 * MIN, 30).unwrap();
        s
    }

    #[test]
    fn names_round_trip() {
        for r in Reminder::ALL {
            assert_eq!(Reminder::parse(r.as_str()), Some(*r));
            assert!(!r.parties().is_empty());
            assert!(r.rule().starts_with("R-"));
        }
        assert_eq!(Reminder::parse("teleport"), None);
    }

    #[test]
    fn r_rep_3_an_emergency_repair_is_awaited_from_its_assignment() {
        let s = assigned_leak();
        let due = ArrivalTargets::default().emergency_min * MIN + 2 * MIN;
        assert_eq!(s.reminders(&rules()), vec![(Reminder::Arrival, due)]);
    }

    #[test]
    fn r_rep_5_once_done_the_slip_is_awaited_not_the_arrival() {
        let mut s = assigned_leak();
        s.handle(&Command::Flow(FlowCommand::Arrive), 10 * MIN, TECH).unwrap();
        let done =
            FlowCommand::CompleteRepair {
                work_done: "换阀门".into(), materials: String::new(), signer: "张伟".into()
            };
        s.handle(&Command::Flow(done), 40 * MIN, TECH).unwrap();
        assert_eq!(s.reminders(&rules()), vec![(Reminder::Slip, 40 * MIN + 24 * 60 * MIN)]);
    }

    #[test]
    fn a_suspended_sheet_waits_on_nothing() {
        let mut s = assigned_leak();
        s.handle(&Command::Suspend { explanation: "业主出差".into(), signed_by: Some(40) }, 3 * MIN, 40).unwrap();
        assert!(s.reminders(&rules()).is_empty());
    }

    proptest! {
        /// Whatever the rules, a reminder of an open repair is never due before the
        /// sheet's registration, and one kind of reminder is never waited on twice.
        #[test]
        fn reminders_are_distinct_and_after_registration(target in 1i64..10_000, slip in 1i64..100) {
            let mut r = rules();
            r.arrival.emergency_min = target;
            r.slip_hours = slip;
            let s = assigned_leak();
            let got = s.reminders(&r);
            let mut kinds: Vec<Reminder> = got.iter().map(|(k, _)| *k).collect();
            kinds.sort();
            kinds.dedup();
            prop_assert_eq!(kinds.len(), got.len());
            prop_assert!(got.iter().all(|(_, at)| *at > 0));
        }
    }
}

//! The clocks a sheet carries (R-SHEET-7 and the deadlines of later flows): each with a
//! start, a stop, pauses, a target, a warning threshold and a breach flag. Clocks are
//! computed from the sheet's event history, so a changed target or calendar recomputes
//! them correctly.

use super::calendar::{Calendar, Ms};
use super::lifecycle::{Event, Recorded};
use serde::{Deserialize, Serialize};

/// Round the clock, or business time on the community's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    RoundTheClock,
    BusinessHours,
}

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockName {
    /// From the first dispatch until the sheet is collected back (R-SHEET-7, 72 h).
    Collection,
}

impl ClockName {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockName::Collection => "collection",
        }
    }
}

/// A clock's rule, configurable per community and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSpec {
    pub name: ClockName,
    pub target_ms: Ms,
    /// Warn when this much time is left.
    pub warn_ms: Ms,
    pub counting: Counting,
}

impl ClockSpec {
    /// R-SHEET-7: normally no more than 72 hours from dispatch; warn 12 hours ahead.
    pub fn collection_default() -> ClockSpec {
        ClockSpec {
            name: ClockName::Collection,
            target_ms: 72 * 3_600_000,
            warn_ms: 12 * 3_600_000,
            counting: Counting::RoundTheClock,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Not started yet (e.g. not dispatched).
    NotStarted,
    Running,
    /// Running with little time left.
    DueSoon,
    /// Paused (the sheet is suspended).
    Paused,
    /// Past its deadline and still running.
    Overdue,
    /// Stopped in time.
    Met,
    /// Stopped after its deadline.
    MetLate,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::NotStarted => "not_started",
            ClockState::Running => "running",
            ClockState::DueSoon => "due_soon",
            ClockState::Paused => "paused",
            ClockState::Overdue => "overdue",
            ClockState::Met => "met",
            ClockState::MetLate => "met_late",
        }
    }

    pub fn breached(self) -> bool {
        matches!(self, ClockState::Overdue | ClockState::MetLate)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStatus {
    pub name: ClockName,
    pub state: ClockState,
    pub started_at: Option<Ms>,
    pub stopped_at: Option<Ms>,
    /// Counted time so far (pauses excluded, business hours only when so counted).
    pub elapsed_ms: Ms,
    pub target_ms: Ms,
    /// When it falls due if nothing pauses it again (None when not running).
    pub due_at: Option<Ms>,
    /// Target minus elapsed; negative when overdue.
    pub remaining_ms: Ms,
    /// When the due-soon warning is due (None when not running).
    pub warn_at: Option<Ms>,
}

fn measure(spec: &ClockSpec, cal: &Calendar, a: Ms, b: Ms) -> Ms {
    match spec.counting {
        Counting::RoundTheClock => (b - a).max(0),
        Counting::BusinessHours => cal.business_ms(a, b),
    }
}

fn advance(spec: &ClockSpec, cal: &Calendar, from: Ms, ms: Ms) -> Ms {
    match spec.counting {
        Counting::RoundTheClock => from + ms,
        Counting::BusinessHours => cal.add_business_ms(from, ms),
    }
}

/// Where the clock starts and stops, from the history.
fn span(spec: &ClockSpec, events: &[Recorded]) -> (Option<Ms>, Option<Ms>) {
    match spec.name {
        ClockName::Collection => {
            let start = events
                .iter()
                .find(|e| matches!(e.event, Event::Dispatched { .. } | Event::BeyondCentre { .. }))
                .map(|e| e.at);
            let stop = events.iter().find(|e| matches!(e.event, Event::Collected { .. })).map(|e| e.at);
            (start, stop)
        }
    }
}

/// Compute a clock at `now` from a sheet's history.
pub fn clock(spec: &ClockSpec, cal: &Calendar, events: &[Recorded], now: Ms) -> ClockStatus {
    let (start, stop) = span(spec, events);
    let Some(start) = start else {
        return ClockStatus {
            name: spec.name,
            state: ClockState::NotStarted,
            started_at: None,
            stopped_at: None,
            elapsed_ms: 0,
            target_ms: spec.target_ms,
            due_at: None,
            remaining_ms: spec.target_ms,
            warn_at: None,
        };
    };
    let end = stop.unwrap_or(now).max(start);
    // Pauses: suspended → resumed (or still suspended at `end`).
    let mut paused = 0;
    let mut pause_from: Option<Ms> = None;
    let mut target = spec.target_ms;
    for e in events {
        if e.at > end {
            break;
        }
        match &e.event {
            Event::Suspended { .. } if pause_from.is_none() => pause_from = Some(e.at.max(start)),
            Event::Resumed { .. } | Event::Terminated { .. } => {
                if let Some(p) = pause_from.take() {
                    paused += measure(spec, cal, p, e.at.max(p));
                }
            }
            // An extension sets a new deadline: the target becomes the counted time from
            // the start to that deadline, less what was paused before it was granted.
            Event::Extended { due_at, .. } => target = target.max(measure(spec, cal, start, *due_at) - paused),
            _ => {}
        }
    }
    let is_paused = pause_from.is_some() && stop.is_none();
    if let Some(p) = pause_from {
        paused += measure(spec, cal, p, end);
    }
    let elapsed = measure(spec, cal, start, end) - paused;
    let remaining = target - elapsed;
    let state = match (stop, is_paused) {
        (Some(_), _) if remaining >= 0 => ClockState::Met,
        (Some(_), _) => ClockState::MetLate,
        (None, true) => ClockState::Paused,
        (None, false) if remaining < 0 => ClockState::Overdue,
        (None, false) if remaining <= spec.warn_ms => ClockState::DueSoon,
        (None, false) => ClockState::Running,
    };
    let due_at = (stop.is_none() && !is_paused)
        .then(|| if remaining >= 0 { advance(spec, cal, now, remaining) } else { now + remaining });
    let running = stop.is_none() && !is_paused;
    let warn_at =
        running.then(|| if remaining > spec.warn_ms { advance(spec, cal, now, remaining - spec.warn_ms) } else { now });
    ClockStatus {
        name: spec.name,
        state,
        started_at: Some(start),
        stopped_at: stop,
        elapsed_ms: elapsed,
        target_ms: target,
        due_at,
        remaining_ms: remaining,
        warn_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::{Channel, Command, Confirmation, Sheet, SheetKind};
    use crate::unit::DepartmentKind;
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;

    const H: Ms = 3_600_000;

    fn at(d: u32, h: u32) -> Ms {
        Shanghai.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap().timestamp_millis()
    }

    fn history(steps: &[(Command, Ms)]) -> Vec<Recorded> {
        let (mut s, first) = Sheet::register(SheetKind::Repair, Channel::Visit, 1, at(2, 8));
        let mut log = vec![first];
        for (c, t) in steps {
            log.push(s.handle(c, *t, 1).unwrap());
        }
        log
    }

    fn dispatch() -> Command {
        Command::Dispatch { department: 2, kind: DepartmentKind::Engineering, to_user: None, opinion: "x".into() }
    }

    /// R-SHEET-7: the collection limit runs 72 hours from dispatch.
    #[test]
    fn r_sheet_7_collection_clock_runs_from_dispatch() {
        let spec = ClockSpec::collection_default();
        let cal = Calendar::standard(Shanghai);
        let log = history(&[]);
        assert_eq!(clock(&spec, &cal, &log, at(3, 8)).state, ClockState::NotStarted);
        let log = history(&[(dispatch(), at(2, 9))]);
        let c = clock(&spec, &cal, &log, at(3, 9));
        assert_eq!((c.state, c.elapsed_ms, c.due_at), (ClockState::Running, 24 * H, Some(at(5, 9))));
        assert_eq!(clock(&spec, &cal, &log, at(4, 22)).state, ClockState::DueSoon);
        let c = clock(&spec, &cal, &log, at(5, 10));
        assert_eq!((c.state, c.remaining_ms), (ClockState::Overdue, -H));
    }

    #[test]
    fn suspension_pauses_and_extension_moves_the_deadline() {
        let spec = ClockSpec::collection_default();
        let cal = Calendar::standard(Shanghai);
        let log = history(&[
            (dispatch(), at(2, 9)),
            (Command::Suspend { explanation: "业主出差".into(), signed_by: Some(5) }, at(3, 9)),
            (Command::Resume { note: String::new() }, at(4, 9)),
        ]);
        let c = clock(&spec, &cal, &log, at(5, 9));
        assert_eq!((c.elapsed_ms, c.due_at), (48 * H, Some(at(6, 9))), "a day suspended moves the deadline a day");
        let c = clock(&spec, &cal, &log[..3], at(3, 21));
        assert_eq!((c.state, c.elapsed_ms, c.due_at), (ClockState::Paused, 24 * H, None));
        let log = history(&[
            (dispatch(), at(2, 9)),
            (Command::Extend { due_at: at(9, 9), explanation: "等配件".into(), signed_by: Some(5) }, at(3, 9)),
        ]);
        let c = clock(&spec, &cal, &log, at(6, 9));
        assert_eq!((c.state, c.due_at), (ClockState::Running, Some(at(9, 9))));
    }

    #[test]
    fn collected_in_time_or_late() {
        let spec = ClockSpec::collection_default();
        let cal = Calendar::standard(Shanghai);
        let done = |t| {
            history(&[
                (dispatch(), at(2, 9)),
                (Command::Acknowledge { handover: 1 }, at(2, 10)),
                (Command::Return { handover: 1, result: "ok".into(), signer: "李".into() }, t),
                (
                    Command::Collect {
                        opinion: "满意".into(),
                        confirmation: Some(Confirmation::Signature { signer: "王".into() }),
                        by_director: false,
                        on_behalf: None,
                    },
                    t,
                ),
            ])
        };
        assert_eq!(clock(&spec, &cal, &done(at(4, 9)), at(20, 9)).state, ClockState::Met);
        let late = clock(&spec, &cal, &done(at(6, 9)), at(20, 9));
        assert_eq!((late.state, late.elapsed_ms), (ClockState::MetLate, 96 * H));
        assert!(late.state.breached());
    }

    #[test]
    fn business_hours_clock() {
        let spec =
            ClockSpec { counting: Counting::BusinessHours, target_ms: 9 * H, warn_ms: H, name: ClockName::Collection };
        let cal = Calendar::standard(Shanghai);
        // Friday 2026-11-27 16:30 dispatch: nine business hours of 08:30–12:00 and
        // 13:30–17:30 are one on Friday, seven and a half on Monday and half an hour on
        // Tuesday morning.
        let (mut s, first) = Sheet::register(SheetKind::Repair, Channel::Visit, 1, at(27, 8));
        let t0 = Shanghai.with_ymd_and_hms(2026, 11, 27, 16, 30, 0).unwrap().timestamp_millis();
        let log = vec![first, s.handle(&dispatch(), t0, 1).unwrap()];
        let c = clock(&spec, &cal, &log, at(28, 12));
        assert_eq!(c.elapsed_ms, H);
        assert_eq!(c.due_at, Some(Shanghai.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap().timestamp_millis()));
    }
}

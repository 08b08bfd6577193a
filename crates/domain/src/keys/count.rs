//! The daily count (R-KEY-8, "当日钥匙当日点清") and the incidents it opens.
//!
//! The front desk counts blind: the counter enters what hangs on each hook without seeing
//! what the books expect. Every difference, and every key out beyond its expected return,
//! opens an incident that is reported and resolved; the books are never edited to match.

use crate::code::code_enum;
use crate::sheet::lifecycle::{Ms, Refusal};
use std::collections::BTreeMap;

code_enum!(
    /// What an incident is about.
    IncidentKind, "key.incident_kind_unknown", {
        CountDifference => "count_difference", "清点差异", "Count difference";
        Overdue => "overdue", "逾期未还", "Out beyond its return time";
        SealBroken => "seal_broken", "封条异常", "Seal not as left";
    }
);

code_enum!(
    /// Where an incident stands: opened, reported upward, resolved.
    IncidentState, "key.incident_state_unknown", {
        Open => "open", "待上报", "Open";
        Reported => "reported", "已上报", "Reported";
        Resolved => "resolved", "已处理", "Resolved";
    }
);

code_enum!(
    /// How an incident ended: the keys were there after all (a miscount, a key on the
    /// wrong hook) or came back; they are gone, and the books lose them; or nothing is
    /// missing (a seal replaced with a record, an extra key handed in).
    Resolution, "key.resolution_unknown", {
        Found => "found", "已找到/已归还", "Found or returned";
        Lost => "lost", "确认遗失", "Confirmed lost";
        Explained => "explained", "已查明原因", "Explained";
    }
);

/// One line of a count that differs from the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    pub key: i64,
    pub expected: i64,
    pub counted: i64,
}

/// Compare a blind count with the books. Every key set the books hold must have been
/// counted (zero is a count); a line for a key the books do not list is refused.
pub fn compare(expected: &BTreeMap<i64, i64>, counted: &BTreeMap<i64, i64>) -> Result<Vec<Difference>, Refusal> {
    if counted.keys().any(|k| !expected.contains_key(k)) {
        return Err(Refusal("key.count_unknown_key"));
    }
    if counted.values().any(|n| !(0..=super::MAX_KEYS).contains(n)) {
        return Err(Refusal("key.quantity"));
    }
    let mut out = vec![];
    for (&key, &e) in expected {
        let Some(&c) = counted.get(&key) else { return Err(Refusal("key.count_incomplete")) };
        if c != e {
            out.push(Difference { key, expected: e, counted: c });
        }
    }
    Ok(out)
}

/// Is a sign-out out beyond its expected return?
pub fn overdue(due_at: Ms, now: Ms) -> bool {
    now > due_at
}

/// An incident is reported upward with what is known, then resolved.
pub fn report(state: IncidentState, text: &str) -> Result<IncidentState, Refusal> {
    if state != IncidentState::Open {
        return Err(Refusal("key.incident_not_open"));
    }
    if text.trim().is_empty() {
        return Err(Refusal("key.incident_text_required"));
    }
    Ok(IncidentState::Reported)
}

/// A reported incident is resolved by a manager with a resolution and how it came about.
/// An overdue key is resolved as found only once it is back.
pub fn resolve(
    state: IncidentState,
    kind: IncidentKind,
    resolution: Resolution,
    text: &str,
    still_out: bool,
) -> Result<IncidentState, Refusal> {
    if state != IncidentState::Reported {
        return Err(Refusal("key.incident_not_reported"));
    }
    if text.trim().is_empty() {
        return Err(Refusal("key.incident_text_required"));
    }
    if kind == IncidentKind::Overdue && resolution == Resolution::Found && still_out {
        return Err(Refusal("key.still_out"));
    }
    if kind == IncidentKind::SealBroken && resolution == Resolution::Lost {
        return Err(Refusal("key.resolution_kind"));
    }
    Ok(IncidentState::Resolved)
}

/// Refusal codes of the count and incidents, for the translation check.
pub const REFUSALS: &[&str] = &[
    "key.count_unknown_key",
    "key.count_incomplete",
    "key.incident_not_open",
    "key.incident_text_required",
    "key.incident_not_reported",
    "key.still_out",
    "key.resolution_kind",
];

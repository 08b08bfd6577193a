//! The key cabinet after hours (R-KEY-2, R-KEY-7): sealed at closing with a numbered seal,
//! opened at night only by two people together — the senior member of the department on
//! duty and the senior security officer on duty, each confirming with their own
//! credentials — and opened next morning after the seal is checked.

use crate::code::code_enum;
use crate::sheet::lifecycle::{Refusal, UserId};

code_enum!(
    /// Where the cabinet stands.
    CabinetState, "key.cabinet_state_unknown", {
        Open => "open", "日间开启", "Open for the day";
        Sealed => "sealed", "已封存", "Sealed";
        NightOpen => "night_open", "夜间应急开启", "Opened at night";
    }
);

/// A person confirming a night opening with their own credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Witness {
    pub user: UserId,
    /// Holds the security officer's role in the community.
    pub security: bool,
    /// Holds a role of another department in the community.
    pub other_department: bool,
}

/// What happened to the cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CabinetStep {
    /// Sealed at closing, or again after a night opening.
    Seal { seal_no: String },
    /// Opened at night for an emergency by two people together.
    OpenAtNight { first: Witness, second: Witness, reason: String },
    /// Opened in the morning: the seal seen and whether it was whole.
    OpenInMorning { seal_seen: String, intact: bool },
}

/// The cabinet's next state, and whether the step found the seal not as it was left
/// (an incident: reported, never hidden).
pub fn step(state: CabinetState, current_seal: Option<&str>, s: &CabinetStep) -> Result<(CabinetState, bool), Refusal> {
    match s {
        CabinetStep::Seal { seal_no } => {
            if state == CabinetState::Sealed {
                return Err(Refusal("key.cabinet_sealed"));
            }
            if seal_no.trim().is_empty() {
                return Err(Refusal("key.seal_no_required"));
            }
            Ok((CabinetState::Sealed, false))
        }
        CabinetStep::OpenAtNight { first, second, reason } => {
            if state != CabinetState::Sealed {
                return Err(Refusal("key.cabinet_not_sealed"));
            }
            if first.user == second.user {
                return Err(Refusal("key.two_people"));
            }
            let pair = |a: &Witness, b: &Witness| a.security && b.other_department;
            if !(pair(first, second) || pair(second, first)) {
                return Err(Refusal("key.night_roles"));
            }
            if reason.trim().is_empty() {
                return Err(Refusal("key.reason_required"));
            }
            Ok((CabinetState::NightOpen, false))
        }
        CabinetStep::OpenInMorning { seal_seen, intact } => {
            if state != CabinetState::Sealed {
                return Err(Refusal("key.cabinet_not_sealed"));
            }
            if seal_seen.trim().is_empty() {
                return Err(Refusal("key.seal_no_required"));
            }
            let as_left = *intact && current_seal.is_some_and(|s| s.trim() == seal_seen.trim());
            Ok((CabinetState::Open, !as_left))
        }
    }
}

/// Refusal codes of the cabinet, for the translation check.
pub const REFUSALS: &[&str] = &["key.seal_no_required", "key.cabinet_not_sealed", "key.two_people", "key.night_roles"];

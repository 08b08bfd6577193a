//! Nonconformity / corrective and preventive action report (不合格/纠正预防措施报告,
//! R-FU-4).
//!
//! An unsatisfied or failed follow-up opens one. The customer-service manager (or the
//! centre director) sets the cause, the action, the person responsible and a due date;
//! the person responsible records what was done; the manager or the director verifies
//! it and signs. An action found not to work goes back for a new plan.

use crate::code::code_enum;
use crate::sheet::lifecycle::{Ms, Refusal, UserId};
use serde::{Deserialize, Serialize};

code_enum!(
    /// Where a corrective action stands.
    CapaState, "capa_state.unknown", {
        Open => "open", "待制定措施", "Open";
        Planned => "planned", "措施实施中", "Action under way";
        Implemented => "implemented", "待验证", "Awaiting verification";
        Verified => "verified", "已验证关闭", "Verified and closed";
    }
);

/// The plan: why it happened, what will be done, by whom, by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapaPlan {
    pub cause: String,
    pub action: String,
    pub responsible: UserId,
    pub due_at: Ms,
}

impl CapaPlan {
    /// A plan for a report in `state`: open, or back after a failed verification.
    pub fn check(&self, state: CapaState, now: Ms) -> Result<(), Refusal> {
        if !matches!(state, CapaState::Open | CapaState::Planned) {
            return Err(Refusal("capa.not_open"));
        }
        if self.cause.trim().is_empty() {
            return Err(Refusal("capa.cause_required"));
        }
        if self.action.trim().is_empty() {
            return Err(Refusal("capa.action_required"));
        }
        if self.due_at <= now {
            return Err(Refusal("capa.due_in_past"));
        }
        Ok(())
    }
}

/// The person responsible (or a manager for them) records what was done.
pub fn check_implemented(state: CapaState, note: &str) -> Result<(), Refusal> {
    if state != CapaState::Planned {
        return Err(Refusal("capa.not_planned"));
    }
    if note.trim().is_empty() {
        return Err(Refusal("capa.note_required"));
    }
    Ok(())
}

/// The verification: effective closes the report, not effective sends it back for a
/// new plan. Either way the verifier writes what was checked.
pub fn verify(state: CapaState, effective: bool, note: &str) -> Result<CapaState, Refusal> {
    if state != CapaState::Implemented {
        return Err(Refusal("capa.not_implemented"));
    }
    if note.trim().is_empty() {
        return Err(Refusal("capa.note_required"));
    }
    Ok(if effective { CapaState::Verified } else { CapaState::Planned })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_fu_4_a_report_is_planned_done_and_verified() {
        let plan =
            CapaPlan {
                cause: "维修工未清理现场".into(), action: "班前培训".into(), responsible: 7, due_at: 2_000
            };
        assert_eq!(plan.check(CapaState::Open, 1_000), Ok(()));
        assert_eq!(plan.check(CapaState::Open, 2_000), Err(Refusal("capa.due_in_past")));
        assert_eq!(plan.check(CapaState::Implemented, 1_000), Err(Refusal("capa.not_open")));
        let mut p = plan.clone();
        p.cause = " ".into();
        assert_eq!(p.check(CapaState::Open, 1_000), Err(Refusal("capa.cause_required")));
        p = plan.clone();
        p.action = String::new();
        assert_eq!(p.check(CapaState::Open, 1_000), Err(Refusal("capa.action_required")));

        assert_eq!(check_implemented(CapaState::Open, "已培训"), Err(Refusal("capa.not_planned")));
        assert_eq!(check_implemented(CapaState::Planned, ""), Err(Refusal("capa.note_required")));
        assert_eq!(check_implemented(CapaState::Planned, "已培训"), Ok(()));

        assert_eq!(verify(CapaState::Planned, true, "已核实"), Err(Refusal("capa.not_implemented")));
        assert_eq!(verify(CapaState::Implemented, true, ""), Err(Refusal("capa.note_required")));
        assert_eq!(verify(CapaState::Implemented, true, "回访业主满意"), Ok(CapaState::Verified));
        assert_eq!(verify(CapaState::Implemented, false, "仍有投诉"), Ok(CapaState::Planned));
        // Back in planning, a new plan may be set.
        assert_eq!(plan.check(CapaState::Planned, 1_000), Ok(()));
    }
}

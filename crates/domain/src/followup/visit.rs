//! A follow-up task (R-FU-3, R-FU-4) and the phone cap (R-FU-2).
//!
//! A task is assigned to a member of customer service with a time limit. It is done in
//! person (a home visit or an on-site inspection; the resident signs) or by phone (the
//! outcome and the time of the call). The customer-service manager then reviews it and
//! adds remarks. An unsatisfied result opens a corrective-action report
//! ([`super::capa`]); a resident who could not be reached is tried again, a new attempt
//! with its own time limit, up to the community's number of attempts.

use crate::code::code_enum;
use crate::sheet::lifecycle::{Ms, Refusal};
use serde::{Deserialize, Serialize};

code_enum!(
    /// Where a follow-up stands.
    VisitState, "followup_state.unknown", {
        Pending => "pending", "待回访", "To do";
        Done => "done", "待审核", "Awaiting review";
        Reviewed => "reviewed", "已审核", "Reviewed";
    }
);

code_enum!(
    /// How the resident was followed up (R-FU-2, R-FU-3).
    Method, "followup_method.unknown", {
        Visit => "visit", "入户面谈", "Home visit";
        Inspection => "inspection", "现场查看", "On-site inspection";
        Phone => "phone", "电话回访", "Phone call";
    }
);

impl Method {
    /// In person: the resident signs the record (R-FU-3).
    pub fn in_person(self) -> bool {
        !matches!(self, Method::Phone)
    }
}

code_enum!(
    /// What the resident said.
    Outcome, "followup_outcome.unknown", {
        Satisfied => "satisfied", "满意", "Satisfied";
        Unsatisfied => "unsatisfied", "不满意", "Unsatisfied";
        Unreachable => "unreachable", "未能回访", "Could not be reached";
    }
);

impl Outcome {
    /// R-FU-4: "对回访内容反馈为不合格的事件…执行不合格/纠正预防措施报告": an unsatisfied
    /// result is a nonconformity. A resident not reached said nothing about the service.
    pub fn opens_capa(self) -> bool {
        matches!(self, Outcome::Unsatisfied)
    }
}

/// What becomes of a task when the resident could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AfterUnreachable {
    /// Try again: attempt number `attempt`, with a time limit of its own.
    Retry { attempt: u32 },
    /// The attempts are used up: recorded as not reached, for the manager's review.
    GiveUp,
}

/// After attempt `attempt` (1, 2, …) failed to reach the resident, with `max_attempts`
/// allowed (at least one).
pub fn after_unreachable(attempt: u32, max_attempts: u32) -> AfterUnreachable {
    if attempt < max_attempts.max(1) {
        AfterUnreachable::Retry { attempt: attempt + 1 }
    } else {
        AfterUnreachable::GiveUp
    }
}

/// What the visitor records (R-FU-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRecord {
    pub method: Method,
    pub outcome: Outcome,
    /// The content, briefly.
    pub content: String,
    /// When the resident was called or visited.
    pub contacted_at: Ms,
    /// The resident's drawn signature was captured (in person).
    pub signed: bool,
}

/// How far ahead of the clock a contact time may be (clock drift between tablet and
/// server).
const FUTURE_SLACK_MS: Ms = 5 * 60_000;

impl VisitRecord {
    /// May this record be entered on a task in `state` at `now`?
    pub fn check(&self, state: VisitState, now: Ms) -> Result<(), Refusal> {
        if state != VisitState::Pending {
            return Err(Refusal("followup.already_done"));
        }
        if self.content.trim().is_empty() {
            return Err(Refusal("followup.content_required"));
        }
        if self.contacted_at > now + FUTURE_SLACK_MS {
            return Err(Refusal("followup.contacted_in_future"));
        }
        // In person, a resident who was met signs the record; one who was not found
        // cannot.
        if self.method.in_person() && self.outcome != Outcome::Unreachable && !self.signed {
            return Err(Refusal("followup.signature_required"));
        }
        Ok(())
    }
}

/// The manager's review of a done follow-up (R-FU-4).
pub fn check_review(state: VisitState, remarks: &str) -> Result<(), Refusal> {
    match state {
        VisitState::Pending => Err(Refusal("followup.not_done")),
        VisitState::Reviewed => Err(Refusal("followup.already_reviewed")),
        VisitState::Done if remarks.trim().is_empty() => Err(Refusal("followup.remarks_required")),
        VisitState::Done => Ok(()),
    }
}

/// Reassign a task to another member of customer service, before it is done.
pub fn check_reassign(state: VisitState, from: Option<i64>, to: i64) -> Result<(), Refusal> {
    if state != VisitState::Pending {
        return Err(Refusal("followup.already_done"));
    }
    if from == Some(to) {
        return Err(Refusal("followup.same_assignee"));
    }
    Ok(())
}

/// The year's follow-ups in a community (R-FU-2): how many were recorded by phone, and
/// how many the year has in all — recorded or still to do, the one at hand included. The
/// cap is on the year's total, so the first call of January is not held against an empty
/// year: it counts against every task the year already has, and a year whose tasks are
/// all done can never end over the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct YearShare {
    pub phone: u32,
    pub total: u32,
}

impl YearShare {
    /// The phone share of the year's tasks in whole percent (0 for an empty year).
    pub fn phone_pct(&self) -> u32 {
        (self.phone * 100).checked_div(self.total).unwrap_or(0)
    }

    /// How many more may be done by phone now without breaking the cap.
    pub fn phone_left(&self, cap_pct: u8) -> u32 {
        (u32::from(cap_pct) * self.total / 100).saturating_sub(self.phone)
    }
}

/// The answer to "may this follow-up be recorded by phone?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhoneCheck {
    /// Within the cap.
    Within,
    /// Over the cap after this one (percent): refused. R-FU-2: "电话回访率不得超过年回访率
    /// 总额的70%" — may not exceed; there is no exception.
    Refuse { after_pct: u32 },
}

/// Would recording one more task by phone put the year's phone share over `cap_pct`
/// percent of the year's follow-ups (R-FU-2)?
pub fn phone_check(share: YearShare, cap_pct: u8) -> PhoneCheck {
    let phone = share.phone + 1;
    let total = share.total.max(phone);
    if phone * 100 <= u32::from(cap_pct) * total {
        return PhoneCheck::Within;
    }
    PhoneCheck::Refuse { after_pct: phone * 100 / total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(method: Method, outcome: Outcome, signed: bool) -> VisitRecord {
        VisitRecord { method, outcome, content: "水管已修好，业主满意".into(), contacted_at: 1_000, signed }
    }

    #[test]
    fn r_fu_3_in_person_needs_the_signature_phone_does_not() {
        let now = 10_000;
        assert_eq!(
            record(Method::Visit, Outcome::Satisfied, false).check(VisitState::Pending, now),
            Err(Refusal("followup.signature_required"))
        );
        assert_eq!(record(Method::Visit, Outcome::Satisfied, true).check(VisitState::Pending, now), Ok(()));
        assert_eq!(record(Method::Inspection, Outcome::Unreachable, false).check(VisitState::Pending, now), Ok(()));
        assert_eq!(record(Method::Phone, Outcome::Unsatisfied, false).check(VisitState::Pending, now), Ok(()));
        let mut r = record(Method::Phone, Outcome::Satisfied, false);
        r.content = "  ".into();
        assert_eq!(r.check(VisitState::Pending, now), Err(Refusal("followup.content_required")));
        r.content = "ok".into();
        r.contacted_at = now + 3_600_000;
        assert_eq!(r.check(VisitState::Pending, now), Err(Refusal("followup.contacted_in_future")));
        assert_eq!(
            record(Method::Phone, Outcome::Satisfied, false).check(VisitState::Done, now),
            Err(Refusal("followup.already_done"))
        );
    }

    #[test]
    fn r_fu_4_review_after_the_record_with_remarks() {
        assert_eq!(check_review(VisitState::Pending, "好"), Err(Refusal("followup.not_done")));
        assert_eq!(check_review(VisitState::Done, " "), Err(Refusal("followup.remarks_required")));
        assert_eq!(check_review(VisitState::Done, "处理及时"), Ok(()));
        assert_eq!(check_review(VisitState::Reviewed, "再审"), Err(Refusal("followup.already_reviewed")));
        assert!(Outcome::Unsatisfied.opens_capa());
        assert!(
            !Outcome::Satisfied.opens_capa() && !Outcome::Unreachable.opens_capa(),
            "not reached is not a nonconformity"
        );
    }

    /// R-FU-4: a resident not reached is tried again, up to the number of attempts.
    #[test]
    fn r_fu_4_unreachable_is_retried() {
        assert_eq!(after_unreachable(1, 3), AfterUnreachable::Retry { attempt: 2 });
        assert_eq!(after_unreachable(2, 3), AfterUnreachable::Retry { attempt: 3 });
        assert_eq!(after_unreachable(3, 3), AfterUnreachable::GiveUp);
        assert_eq!(after_unreachable(1, 0), AfterUnreachable::GiveUp, "at least the one attempt");
    }

    #[test]
    fn r_fu_2_the_phone_cap() {
        // Ten tasks this year, six done by phone: a seventh makes 7 of 10 = 70%, within.
        assert_eq!(phone_check(YearShare { phone: 6, total: 10 }, 70), PhoneCheck::Within);
        // Seven done by phone: an eighth would make 80%.
        assert_eq!(phone_check(YearShare { phone: 7, total: 10 }, 70), PhoneCheck::Refuse { after_pct: 80 });
        // The first call of a year with ten tasks is 10%.
        assert_eq!(phone_check(YearShare { phone: 0, total: 10 }, 70), PhoneCheck::Within);
        // A year with a single task cannot do it by phone under a 70% cap.
        assert_eq!(phone_check(YearShare { phone: 0, total: 1 }, 70), PhoneCheck::Refuse { after_pct: 100 });
        assert_eq!(YearShare { phone: 7, total: 10 }.phone_pct(), 70);
        assert_eq!(YearShare::default().phone_pct(), 0);
        assert_eq!(YearShare { phone: 5, total: 10 }.phone_left(70), 2);
        assert_eq!(YearShare { phone: 8, total: 10 }.phone_left(70), 0);
    }

    proptest! {
        /// R-FU-2: tasks arrive through the year and are recorded in any order; recording
        /// by phone only what the check allows never puts the year's phone
        /// share over the cap, and everything refused could still be done in person.
        #[test]
        fn r_fu_2_refuse_mode_keeps_the_year_under_the_cap(
            cap in 0u8..=100,
            ops in proptest::collection::vec((any::<bool>(), any::<bool>()), 1..300),
        ) {
            let (mut created, mut recorded, mut phone) = (0u32, 0u32, 0u32);
            for (create, wants_phone) in ops {
                if create || recorded == created {
                    created += 1;
                } else {
                    let share = YearShare { phone, total: created };
                    if wants_phone && phone_check(share, cap) == PhoneCheck::Within {
                        phone += 1;
                    }
                    recorded += 1;
                }
                prop_assert!(phone * 100 <= u32::from(cap) * created);
            }
        }
    }
}

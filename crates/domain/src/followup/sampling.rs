//! Which collected sheets get a follow-up (R-FU-1).
//!
//! Complaints, opinions and suggestions, and requests where the resident asked for a
//! follow-up are all followed up. Repairs and special services are sampled at 30%,
//! newspaper delivery and community events at 10% (configurable per community).
//!
//! The sample is decided when the sheet is collected, by two rules an auditor can repeat:
//!
//! 1. **The draw.** HMAC-SHA256 of the sheet's number under the community's sampling
//!    key, read as a number from 0 to 9,999. The sheet is drawn when the number is below
//!    the rate in hundredths (30% → below 3,000). Nobody chooses which sheets are
//!    followed up, and anyone with the key can recompute every draw.
//! 2. **The floor.** Within a calendar month (in the community's time zone) and a
//!    reason, after the n-th collected sheet at least ⌈rate × n⌉ must have been selected;
//!    a sheet the draw passed over is taken when the month would otherwise fall below.
//!    So the month never ends under the rate (the first sheet of a month is always
//!    taken: ⌈30% × 1⌉ = 1), and the draw keeps the rest unpredictable.
//!
//! Each decision is kept with its draw, its place in the month and its cause, so the
//! whole month can be replayed and compared ([`replay`]).

use crate::code::code_enum;
use crate::sheet::SheetKind;
use crate::validation::{FieldErrors, ValidationError};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

code_enum!(
    /// Why a sheet is considered for a follow-up, each with its own rate.
    Reason, "followup_reason.unknown", {
        Complaint => "complaint", "投诉", "Complaint";
        Suggestion => "suggestion", "意见建议", "Opinion or suggestion";
        Requested => "requested", "业主要求回访", "Resident asked for a follow-up";
        Repair => "repair", "维修", "Repair";
        SpecialService => "special_service", "特约服务", "Special service";
        Delivery => "delivery", "报刊杂志发放", "Newspaper and magazine delivery";
        Event => "event", "社区文化活动", "Community event";
    }
);

impl Reason {
    /// The reason a collected sheet of `kind` is considered, if any. A resident's own
    /// request for a follow-up makes any sheet a 100% case; a complaint or a suggestion
    /// already is one.
    pub fn of_sheet(kind: SheetKind, requested: bool) -> Option<Reason> {
        match kind {
            SheetKind::Complaint => Some(Reason::Complaint),
            SheetKind::Suggestion => Some(Reason::Suggestion),
            _ if requested => Some(Reason::Requested),
            SheetKind::Repair => Some(Reason::Repair),
            SheetKind::SpecialService => Some(Reason::SpecialService),
            SheetKind::SituationReport | SheetKind::Inquiry | SheetKind::Other => None,
        }
    }

    /// Reasons whose rate the manual fixes at 100%: every resolved complaint (R-CMP-7),
    /// every opinion or suggestion, every request for a follow-up (R-FU-1).
    pub fn is_mandatory(self) -> bool {
        matches!(self, Reason::Complaint | Reason::Suggestion | Reason::Requested)
    }
}

/// Follow-up rates in percent (R-FU-1). The mandatory reasons are always 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub repair: u8,
    pub special_service: u8,
    pub delivery: u8,
    pub event: u8,
}

impl Default for Rates {
    /// The manual's rates: repairs and special services 30%, deliveries and events 10%.
    fn default() -> Self {
        Rates { repair: 30, special_service: 30, delivery: 10, event: 10 }
    }
}

impl Rates {
    /// Rates as typed, each a whole percent from 0 to 100.
    pub fn parse(repair: i64, special_service: i64, delivery: i64, event: i64) -> Result<Rates, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut pct = |field: &'static str, v: i64| -> u8 {
            let checked = u8::try_from(v).ok().filter(|v| *v <= 100).ok_or(ValidationError::new("followup_rate.range"));
            errors.check(field, checked).unwrap_or(0)
        };
        let rates = Rates {
            repair: pct("repair_rate", repair),
            special_service: pct("special_service_rate", special_service),
            delivery: pct("delivery_rate", delivery),
            event: pct("event_rate", event),
        };
        errors.into_result().map(|()| rates)
    }

    pub fn of(&self, reason: Reason) -> u8 {
        match reason {
            Reason::Complaint | Reason::Suggestion | Reason::Requested => 100,
            Reason::Repair => self.repair,
            Reason::SpecialService => self.special_service,
            Reason::Delivery => self.delivery,
            Reason::Event => self.event,
        }
    }
}

/// The draw of a sheet: HMAC-SHA256 of its number under the community's sampling key,
/// its first eight bytes as a big-endian number, modulo 10,000.
pub fn draw(key: &[u8], number: &str) -> u32 {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(number.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let head = u64::from_be_bytes(bytes[..8].try_into().expect("a SHA-256 digest has 32 bytes"));
    (head % 10_000) as u32
}

/// A month's decisions for one reason so far, before the sheet being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    pub collected: u32,
    pub selected: u32,
}

code_enum!(
    /// Why a sheet was or was not selected.
    Cause, "followup_cause.unknown", {
        Always => "always", "必回访", "Always followed up";
        Drawn => "drawn", "抽中", "Drawn";
        Floor => "floor", "补足比例", "Taken to keep the rate";
        NotDrawn => "not_drawn", "未抽中", "Not drawn";
    }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub selected: bool,
    pub cause: Cause,
}

/// How many of the first `n` sheets must be selected at `rate` percent: ⌈rate × n⌉.
pub fn floor_count(rate: u8, n: u32) -> u32 {
    (u32::from(rate) * n).div_ceil(100)
}

/// Decide one sheet: its rate, its draw and the month so far.
pub fn decide(rate: u8, draw: u32, before: Tally) -> Decision {
    let (selected, cause) = if rate >= 100 {
        (true, Cause::Always)
    } else if draw < u32::from(rate) * 100 {
        (true, Cause::Drawn)
    } else if before.selected < floor_count(rate, before.collected + 1) {
        (true, Cause::Floor)
    } else {
        (false, Cause::NotDrawn)
    };
    Decision { selected, cause }
}

/// Replay a month of one reason from the draws in the order the sheets were collected,
/// with the rate each was decided at: the decisions as they must have been made.
pub fn replay(decided: &[(u8, u32)]) -> Vec<Decision> {
    let mut tally = Tally::default();
    decided
        .iter()
        .map(|&(rate, draw)| {
            let d = decide(rate, draw, tally);
            tally.collected += 1;
            tally.selected += u32::from(d.selected);
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn r_fu_1_reasons_of_sheets() {
        assert_eq!(Reason::of_sheet(SheetKind::Complaint, false), Some(Reason::Complaint));
        assert_eq!(Reason::of_sheet(SheetKind::Suggestion, true), Some(Reason::Suggestion));
        assert_eq!(Reason::of_sheet(SheetKind::Repair, false), Some(Reason::Repair));
        assert_eq!(Reason::of_sheet(SheetKind::Repair, true), Some(Reason::Requested));
        assert_eq!(Reason::of_sheet(SheetKind::SpecialService, false), Some(Reason::SpecialService));
        assert_eq!(Reason::of_sheet(SheetKind::Inquiry, false), None);
        assert_eq!(Reason::of_sheet(SheetKind::Inquiry, true), Some(Reason::Requested));
        assert_eq!(Reason::of_sheet(SheetKind::SituationReport, false), None);
        let rates = Rates::default();
        for r in Reason::ALL {
            assert_eq!(rates.of(*r) == 100, r.is_mandatory(), "{r:?}");
        }
        assert_eq!(rates.of(Reason::Repair), 30);
        assert_eq!(rates.of(Reason::Event), 10);
    }

    #[test]
    fn rates_are_whole_percents() {
        assert_eq!(
            Rates::parse(50, 30, 0, 100).unwrap(),
            Rates { repair: 50, special_service: 30, delivery: 0, event: 100 }
        );
        let e = Rates::parse(101, -1, 10, 10).unwrap_err();
        assert_eq!(e.get("repair_rate").map(|e| e.code), Some("followup_rate.range"));
        assert_eq!(e.get("special_service_rate").map(|e| e.code), Some("followup_rate.range"));
        assert!(e.get("delivery_rate").is_none());
    }

    #[test]
    fn the_draw_is_keyed_and_repeatable() {
        let a = draw(b"key-1", "JD-20261128-0001");
        assert_eq!(a, draw(b"key-1", "JD-20261128-0001"));
        assert!(a < 10_000);
        // Another key gives other draws: over a hundred numbers, not all equal.
        let differ = (0..100).filter(|i| draw(b"key-1", &format!("N{i}")) != draw(b"key-2", &format!("N{i}"))).count();
        assert!(differ > 90, "{differ}");
    }

    #[test]
    fn r_fu_1_the_floor_takes_the_first_of_a_month_and_catches_up() {
        // Draws that never fall under 30%: only the floor selects.
        let d = replay(&[(30, 9_999); 11]);
        let taken: Vec<usize> = d.iter().enumerate().filter(|(_, d)| d.selected).map(|(i, _)| i + 1).collect();
        // ⌈0.3n⌉ steps up at n = 1, 4, 7, 11.
        assert_eq!(taken, vec![1, 4, 7, 11]);
        assert!(d.iter().filter(|d| d.selected).all(|d| d.cause == Cause::Floor));
        // A drawn sheet counts towards the floor.
        let d = replay(&[(30, 0), (30, 9_999), (30, 9_999), (30, 9_999)]);
        assert_eq!(d.iter().map(|d| d.selected).collect::<Vec<_>>(), vec![true, false, false, true]);
        assert_eq!(d[0].cause, Cause::Drawn);
        // 100% always, 0% never.
        assert!(replay(&[(100, 9_999); 5]).iter().all(|d| d.selected && d.cause == Cause::Always));
        assert!(replay(&[(0, 0); 5]).iter().all(|d| !d.selected));
    }

    proptest! {
        /// R-FU-1: over any population the month never falls below the rate, at any
        /// point, and a sheet drawn is always selected.
        #[test]
        fn r_fu_1_never_below_the_rate(rate in 0u8..=100, draws in proptest::collection::vec(0u32..10_000, 1..400)) {
            let decided: Vec<(u8, u32)> = draws.iter().map(|&d| (rate, d)).collect();
            let out = replay(&decided);
            let mut selected = 0u32;
            for (i, (d, &draw)) in out.iter().zip(&draws).enumerate() {
                selected += u32::from(d.selected);
                let n = i as u32 + 1;
                prop_assert!(selected * 100 >= u32::from(rate) * n, "n={n} selected={selected}");
                if draw < u32::from(rate) * 100 {
                    prop_assert!(d.selected);
                }
            }
        }

        /// Over a large population drawn with real keys the share stays near the rate:
        /// the floor adds only what chance left short.
        #[test]
        fn r_fu_1_sampling_is_near_the_rate(rate in 5u8..=95, key in proptest::collection::vec(any::<u8>(), 16)) {
            let decided: Vec<(u8, u32)> = (0..2_000).map(|i| (rate, draw(&key, &format!("JD-{i:05}")))).collect();
            // In whole numbers: 1,140 of 2,000 is exactly 57%.
            let selected = replay(&decided).iter().filter(|d| d.selected).count() as u32;
            prop_assert!(selected * 100 >= u32::from(rate) * 2_000, "{selected} of 2,000 < {rate}%");
            prop_assert!(selected * 100 <= (u32::from(rate) + 6) * 2_000, "{selected} of 2,000 far above {rate}%");
        }
    }
}

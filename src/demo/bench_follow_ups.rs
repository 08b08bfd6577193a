//! The follow-ups of the generated sheets (`huiqian bench-data --sheets N`), so the reports
//! and the follow-up ledger are measured with them (`docs/benchmarks.md`).
//!
//! Every collected sheet a follow-up is considered for is decided as the application
//! decides it on collection (R-FU-1): in the order the sheets were collected, the draw
//! under the community's sampling key and the month's floor, each decision kept with its
//! cause and the month's tallies left where the next collection continues them. The
//! selected sheets' tasks go to the first-contact receptionist; those due before today
//! are recorded (by phone about three times in five, under the 70% cap, R-FU-2), most
//! residents satisfied, a few not reached after every attempt; records older than a week
//! are reviewed by the manager, and an unsatisfied one has its corrective action
//! (R-FU-4), verified once it is old enough.

use super::BoxError;
use super::synth::Rng;
use crate::app::followup::period_of;
use crate::store;
use crate::store::bulk::{self, BulkValue, FollowUpTable};
use huiqian_domain::followup::sampling::{self, Rates, Reason, Tally};
use huiqian_domain::sheet::SheetKind;
use std::collections::BTreeMap;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// The manual's time limit for a follow-up (the settings' default).
const DUE: i64 = 72 * HOUR;
/// Rows per transaction.
const CHUNK: usize = 5_000;

/// A collected sheet, as the follow-ups need it.
pub struct Collected {
    pub sheet_id: i64,
    pub number: String,
    pub kind: SheetKind,
    pub collected_at: i64,
    pub first_contact: i64,
    pub resident: String,
}

/// Who reviews and who carries out a corrective action in the community.
pub struct Staff {
    pub manager: i64,
    pub worker: i64,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Made {
    pub decisions: usize,
    pub follow_ups: usize,
    pub recorded: usize,
    pub capas: usize,
}

/// Decide and write the follow-ups of one community's collected sheets.
pub async fn write(
    app: &crate::app::App,
    community_id: i64,
    zone: chrono_tz::Tz,
    staff: &Staff,
    mut collected: Vec<Collected>,
    now: i64,
    seed: u64,
) -> Result<Made, BoxError> {
    let backend = app.store.backend();
    let mut rng = Rng::derive(seed, &format!("follow-ups-{community_id}"));
    let key: Vec<u8> = (0..32).map(|_| rng.below(256) as u8).collect();
    let rates = Rates::default();
    collected.sort_by_key(|c| (c.collected_at, c.sheet_id));

    let mut tx = app.store.begin().await?;
    store::followup::ensure_settings(&mut tx, community_id, &hex::encode(&key)).await?;
    tx.commit().await?;

    let mut tallies: BTreeMap<(&'static str, String), Tally> = BTreeMap::new();
    let mut decisions = Vec::new();
    let mut chosen = Vec::new();
    for c in &collected {
        let Some(reason) = Reason::of_sheet(c.kind, false) else { continue };
        let rate = rates.of(reason);
        let period = period_of(zone, c.collected_at);
        let tally = tallies.entry((reason.as_str(), period.clone())).or_default();
        let draw = sampling::draw(&key, &c.number);
        let d = sampling::decide(rate, draw, *tally);
        tally.collected += 1;
        tally.selected += u32::from(d.selected);
        decisions.push(vec![
            BulkValue::I(c.sheet_id),
            BulkValue::I(community_id),
            BulkValue::S(reason.as_str().into()),
            BulkValue::S(period),
            BulkValue::I(i64::from(tally.collected)),
            BulkValue::I(i64::from(rate)),
            BulkValue::I(i64::from(draw)),
            BulkValue::I(i64::from(d.selected)),
            BulkValue::S(d.cause.as_str().into()),
            BulkValue::I(c.collected_at),
        ]);
        if d.selected {
            chosen.push((c, reason));
        }
    }

    let mut tx = app.store.begin().await?;
    let ids = store::allocate_ids(&mut tx, backend, "follow_ups", chosen.len()).await?;
    tx.commit().await?;
    let mut made = Made { decisions: decisions.len(), follow_ups: chosen.len(), ..Made::default() };
    let mut follow_ups = Vec::with_capacity(chosen.len());
    let mut capas = Vec::new();
    for ((c, reason), id) in chosen.into_iter().zip(ids) {
        let due = c.collected_at + DUE;
        let recorded_at = c.collected_at + rng.range(2, 60) as i64 * HOUR;
        let mut row = FollowUpRow::pending(id, community_id, c, reason, due);
        if recorded_at < now {
            made.recorded += 1;
            let phone = rng.chance(600);
            let outcome = match rng.below(100) {
                0..=93 => "satisfied",
                94..=97 => "unsatisfied",
                _ => "unreachable",
            };
            row.method = Some(if phone { "phone" } else { "visit" });
            row.outcome = Some(outcome);
            row.content = match outcome {
                "satisfied" => "业主对处理结果满意",
                "unsatisfied" => "业主对处理结果不满意，要求再次处理",
                _ => "三次联系均未接通",
            };
            row.contacted_at = phone.then_some(recorded_at - rng.range(5, 60) as i64 * 60_000);
            row.signer = if phone { String::new() } else { c.resident.clone() };
            row.recorded_at = Some(recorded_at);
            row.state = "done";
            let reviewed_at = recorded_at + rng.range(4, 48) as i64 * HOUR;
            if reviewed_at < now - 7 * DAY {
                row.state = "reviewed";
                row.reviewed_at = Some(reviewed_at);
                row.remarks = "已核实";
            }
            if outcome == "unsatisfied" && row.reviewed_at.is_some() {
                capas.push(capa_row(community_id, staff, c.sheet_id, id, reviewed_at, now));
                made.capas += 1;
            }
        }
        follow_ups.push(row.values(staff));
    }

    let tally_rows: Vec<Vec<BulkValue>> = tallies
        .into_iter()
        .map(|((reason, period), t)| {
            vec![
                BulkValue::I(community_id),
                BulkValue::S(reason.into()),
                BulkValue::S(period),
                BulkValue::I(i64::from(t.collected)),
                BulkValue::I(i64::from(t.selected)),
            ]
        })
        .collect();
    let inserts = [
        (FollowUpTable::Decisions, decisions),
        (FollowUpTable::Tallies, tally_rows),
        (FollowUpTable::FollowUps, follow_ups),
        (FollowUpTable::Capas, capas),
    ];
    for (table, mut rows) in inserts {
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(CHUNK));
            let mut tx = app.store.begin().await?;
            bulk::follow_ups(&mut tx, backend, table, rows).await?;
            tx.commit().await?;
            rows = rest;
        }
    }
    Ok(made)
}

struct FollowUpRow {
    id: i64,
    community_id: i64,
    sheet_id: i64,
    reason: Reason,
    state: &'static str,
    due_at: i64,
    assigned_to: i64,
    created_at: i64,
    method: Option<&'static str>,
    outcome: Option<&'static str>,
    content: &'static str,
    contacted_at: Option<i64>,
    signer: String,
    recorded_at: Option<i64>,
    remarks: &'static str,
    reviewed_at: Option<i64>,
}

impl FollowUpRow {
    fn pending(id: i64, community_id: i64, c: &Collected, reason: Reason, due_at: i64) -> FollowUpRow {
        FollowUpRow {
            id,
            community_id,
            sheet_id: c.sheet_id,
            reason,
            state: "pending",
            due_at,
            assigned_to: c.first_contact,
            created_at: c.collected_at,
            method: None,
            outcome: None,
            content: "",
            contacted_at: None,
            signer: String::new(),
            recorded_at: None,
            remarks: "",
            reviewed_at: None,
        }
    }

    fn values(self, staff: &Staff) -> Vec<BulkValue> {
        let word = |w: Option<&'static str>| BulkValue::O(w.map(str::to_string));
        vec![
            BulkValue::I(self.id),
            BulkValue::I(self.community_id),
            BulkValue::I(self.sheet_id),
            BulkValue::S(self.reason.as_str().into()),
            BulkValue::S(self.state.into()),
            BulkValue::I(self.due_at),
            BulkValue::I(self.assigned_to),
            BulkValue::I(self.created_at),
            word(self.method),
            word(self.outcome),
            BulkValue::S(self.content.into()),
            BulkValue::N(self.contacted_at),
            BulkValue::S(self.signer),
            BulkValue::N(self.recorded_at.map(|_| self.assigned_to)),
            BulkValue::N(self.recorded_at),
            BulkValue::S(self.remarks.into()),
            BulkValue::N(self.reviewed_at.map(|_| staff.manager)),
            BulkValue::N(self.reviewed_at),
        ]
    }
}

/// The corrective action of a follow-up reviewed at `reviewed_at`: planned then; done and
/// verified within a week when that week is over, otherwise still open.
fn capa_row(community_id: i64, staff: &Staff, sheet_id: i64, follow_up_id: i64, at: i64, now: i64) -> Vec<BulkValue> {
    let done = at + 7 * DAY < now;
    let (state, rounds) = if done { ("verified", 1) } else { ("open", 0) };
    let when = |d: i64| BulkValue::N(done.then_some(at + d));
    let who = |u: i64| BulkValue::N(done.then_some(u));
    let text = |s: &str| BulkValue::S(if done { s.into() } else { String::new() });
    vec![
        BulkValue::I(community_id),
        BulkValue::I(follow_up_id),
        BulkValue::I(sheet_id),
        BulkValue::S("回访结果不满意或未能回访".into()),
        BulkValue::S(state.into()),
        text("处理不彻底"),
        text("重新派工处理并再次回访"),
        who(staff.worker),
        when(5 * DAY),
        who(staff.manager),
        when(HOUR),
        BulkValue::I(rounds),
        text("已重新处理"),
        who(staff.worker),
        when(3 * DAY),
        text("业主确认，措施有效"),
        who(staff.manager),
        when(5 * DAY),
        BulkValue::I(at),
    ]
}

//! `huiqian bench-data --key-sets N`: key custody for the key benchmark
//! (`scripts/bench-keys.sh`, `docs/benchmarks.md`).
//!
//! Each community gets cabinets of [`HOOKS`] hooks holding its share of the key sets, in
//! tag order: vacant units' keys (about 55%), owners' keys under custody agreements (25%),
//! public rooms (17%) and special rooms (3%). Two years of their books follow: the first
//! receipt; sign-outs and returns about twice a week each while the property holds the key
//! (some three movements a key set a week over the two years): contractors under the
//! agreements, vacant units' inspections recorded on the key's return, special rooms with
//! the manager's approval; a custody key handed back when its agreement ends; the cabinet
//! sealed at night and opened in the morning every day; the blind count most days (its
//! lines kept for the last [`LINE_DAYS`] days); and the incidents, counts a key short and
//! keys back late, reported and resolved. Now a few per cent of the keys are out, some
//! overdue with their incident open, and two special rooms' approvals wait. Every cabinet
//! is open (its last opening this morning, or a few minutes ago before 08:25), so that the
//! benchmark can sign keys out at any hour.
//!
//! The rows are written in multi-row inserts, one transaction per community, bypassing the
//! use-cases; one audit entry per community vouches for them (`bench.keys_loaded`).

use super::synth::{self, Rng};
use super::{BoxError, fail};
use crate::app::{Actor, App, audit, files, report};
use crate::store::bulk::{self, BulkValue, KeyTable};
use crate::store::{self, keys as sk};
use chrono::Duration;
use huiqian_domain::auth::Permission;
use huiqian_domain::person::Phone;
use serde_json::json;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
/// Key sets per cabinet.
pub const HOOKS: usize = 200;
/// Days of history.
const DAYS: usize = 730;
/// The daily counts of the last days keep their lines (older counts their totals only).
pub const LINE_DAYS: usize = 30;
/// Rows converted to parameters at a time.
const CHUNK: usize = 20_000;

/// A unit of the community with its owner, for the units' keys.
#[derive(Debug, Clone)]
pub struct KeyUnit {
    pub unit_id: i64,
    pub room_no: String,
    pub owner: String,
    pub owner_phone: Option<Phone>,
}

/// A community as the key register needs it.
#[derive(Debug, Clone)]
pub struct KeyDesk {
    pub community_id: i64,
    pub code: String,
    /// The desk: who receives, signs out and takes back keys (id, name).
    pub receptionists: Vec<(i64, String)>,
    /// Who take keys for their work (id, name).
    pub technicians: Vec<(i64, String)>,
    /// Approves special rooms and resolves incidents.
    pub manager: i64,
    pub units: Vec<KeyUnit>,
}

/// What was generated.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub key_sets: usize,
    pub cabinets: usize,
    pub released: usize,
    pub agreements: usize,
    pub in_force: usize,
    pub approvals: usize,
    pub loans: usize,
    pub open: usize,
    pub overdue: usize,
    pub inspections: usize,
    pub counts: usize,
    pub count_lines: usize,
    pub incidents: usize,
    pub open_incidents: usize,
    pub log: usize,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.key_sets += o.key_sets;
        self.cabinets += o.cabinets;
        self.released += o.released;
        self.agreements += o.agreements;
        self.in_force += o.in_force;
        self.approvals += o.approvals;
        self.loans += o.loans;
        self.open += o.open;
        self.overdue += o.overdue;
        self.inspections += o.inspections;
        self.counts += o.counts;
        self.count_lines += o.count_lines;
        self.incidents += o.incidents;
        self.open_incidents += o.open_incidents;
        self.log += o.log;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Vacant,
    Custody,
    Public,
    Special(&'static str),
}

const PUBLIC: &[&str] = &[
    "会议室",
    "社区活动室",
    "强电井",
    "弱电井",
    "垃圾房",
    "绿化工具房",
    "地下车库设备间",
    "自行车棚",
    "信报箱备用钥匙",
    "消防通道防火门",
];
const SPECIAL: &[(&str, &str)] =
    &[("配电房", "power"), ("生活水泵房", "plant"), ("电梯机房", "plant"), ("燃气调压间", "gas"), ("天台", "roof")];
const FOREMEN: &[&str] = &["刘建军", "孙志勇", "马德福", "胡永强", "徐长林", "钱国平", "唐春生", "罗志明"];

struct KeyRow {
    cabinet: usize,
    tag: String,
    hook: String,
    unit: Option<usize>,
    room: String,
    kind: Kind,
    total: i64,
    created: i64,
    /// Handed back to its owner (a custody key whose agreement ended).
    released: Option<i64>,
    out: bool,
    movements: i64,
    updated: i64,
}

struct AgreementRow {
    key: usize,
    owner: String,
    starts: i64,
    ends: i64,
    foreman: String,
    phone_enc: String,
    phone_masked: String,
    owner_phone: String,
    by: i64,
}

struct ApprovalRow {
    key: usize,
    by: i64,
    reason: &'static str,
    state: &'static str,
    decided: Option<i64>,
    created: i64,
}

struct LoanRow {
    key: usize,
    reason_kind: &'static str,
    reason: &'static str,
    /// A technician, or the agreement's foreman.
    taker: Result<usize, usize>,
    approval: Option<usize>,
    issued_by: usize,
    issued: i64,
    due: i64,
    back: Option<(i64, usize)>,
    /// For a vacant unit's inspection: the condition found on return.
    condition: Option<(&'static str, &'static str)>,
}

struct IncidentRow {
    cabinet: usize,
    key: Option<usize>,
    kind: &'static str,
    count: Option<usize>,
    loan: Option<usize>,
    opened: i64,
    detail: String,
    /// Reported (by the desk) and resolved (by the manager) when.
    reported: Option<i64>,
    resolved: Option<(i64, &'static str, &'static str)>,
}

struct CountRow {
    cabinet: usize,
    day: String,
    at: i64,
    by: usize,
    lines: i64,
    differences: i64,
    /// Its lines are kept: (key, expected, counted).
    kept: Vec<(usize, i64, i64)>,
}

/// A cabinet's seal or opening: cabinet, step, seal number, seal intact, by (desk), at.
type LogRow = (usize, &'static str, String, Option<i64>, usize, i64);

#[derive(Default)]
struct Made {
    keys: Vec<KeyRow>,
    agreements: Vec<AgreementRow>,
    approvals: Vec<ApprovalRow>,
    loans: Vec<LoanRow>,
    incidents: Vec<IncidentRow>,
    counts: Vec<CountRow>,
    log: Vec<LogRow>,
    /// When each cabinet was last opened.
    opened: Vec<i64>,
}

/// A working instant of day `d`: `lo`..`hi` minutes after its midnight.
fn within(rng: &mut Rng, start: &[i64], d: usize, lo: i64, hi: i64) -> i64 {
    start[d] + rng.range(lo as u64, hi as u64) as i64 * MINUTE + rng.below(60) as i64 * 1000
}

fn build(d: &KeyDesk, n: usize, now: i64, seed: u64, secrets: &crate::crypto::Secrets) -> Made {
    let mut rng = Rng::derive(seed, &format!("keys/{}", d.code));
    let today = report::local_day(ZONE, now);
    let first = today - Duration::days(DAYS as i64);
    // Local midnights of the days of the history, today (DAYS) and tomorrow.
    let start: Vec<i64> =
        (0..=DAYS + 1).map(|i| report::day_start_ms(ZONE, first + Duration::days(i as i64))).collect();
    let day_of = |t: i64| start.partition_point(|&s| s <= t).saturating_sub(1);
    let desk = d.receptionists.len().max(1);
    let techs = d.technicians.len().max(1);
    let mut m = Made::default();
    let cabinets = n.div_ceil(HOOKS);
    // The key sets, in tag order through the cabinets.
    let mut next_unit = 0usize;
    let unit_step = (d.units.len() / (n * 4 / 5).max(1)).max(1);
    for i in 0..n {
        let kind = match rng.below(100) {
            0..=54 => Kind::Vacant,
            55..=79 => Kind::Custody,
            80..=96 => Kind::Public,
            _ => {
                let (_, s) = rng.pick(SPECIAL);
                Kind::Special(s)
            }
        };
        let unit = if matches!(kind, Kind::Vacant | Kind::Custody) && !d.units.is_empty() {
            let u = next_unit % d.units.len();
            next_unit += unit_step;
            Some(u)
        } else {
            None
        };
        let room = match (kind, unit) {
            (_, Some(u)) => d.units[u].room_no.clone(),
            (Kind::Special(_), _) => {
                let (room, _) = SPECIAL.iter().find(|(_, s)| Kind::Special(s) == kind).copied().unwrap_or(SPECIAL[0]);
                format!("{}号楼{room}", rng.range(1, 20))
            }
            _ => format!("{}号楼{}", rng.range(1, 20), rng.pick(PUBLIC)),
        };
        let created_day = match kind {
            Kind::Custody => rng.below(DAYS as u64 - 20) as usize,
            _ if rng.chance(700) => rng.below(60) as usize,
            _ => rng.below(DAYS as u64 - 30) as usize,
        };
        let cabinet = i / HOOKS;
        let slot = i % HOOKS;
        m.keys.push(KeyRow {
            cabinet,
            tag: format!("K{:05}", i + 1),
            hook: format!("{}{:02}", (b'A' + (slot / 20) as u8) as char, slot % 20 + 1),
            unit,
            room,
            kind,
            total: rng.range(1, 3) as i64,
            created: within(&mut rng, &start, created_day, 9 * 60, 17 * 60),
            released: None,
            out: false,
            movements: 0,
            updated: 0,
        });
    }
    // Each key set's movements, one sign-out at a time, every 1–8 days (1.5 a week).
    // Sign-outs 1–6 days apart (3.5 on average: 4 movements a week while the property
    // holds the key, about 3 over the two years since custody keys go back to their owners
    // and some key sets arrive later).
    let gap = |rng: &mut Rng| rng.range(1, 6) as usize;
    let mut overdue_yet = 0;
    for k in 0..m.keys.len() {
        let created = m.keys[k].created;
        let kind = m.keys[k].kind;
        let mut day = day_of(created) + 1;
        let mut end = DAYS - 1;
        let mut agreement = None;
        if kind == Kind::Custody {
            let u = &d.units[m.keys[k].unit.unwrap_or(0)];
            let ends = created + rng.range(60, 400) as i64 * 24 * HOUR;
            let phone = synth::mobile(&mut rng);
            let owner_phone = u.owner_phone.as_ref().map(Phone::masked).unwrap_or_default();
            m.agreements.push(AgreementRow {
                key: k,
                owner: u.owner.clone(),
                starts: created,
                ends,
                foreman: rng.pick(FOREMEN).into(),
                phone_enc: secrets.encrypt(&phone),
                phone_masked: Phone::parse(&phone).map(|p| p.masked()).unwrap_or_default(),
                owner_phone,
                by: d.receptionists[0].0,
            });
            agreement = Some(m.agreements.len() - 1);
            if ends < start[DAYS - 1] {
                // The renovation over, the owner took the key back the last day.
                end = day_of(ends);
                m.keys[k].released = Some(ends - 2 * HOUR);
            }
        }
        // Now: a few keys out since this morning, a few out since days and overdue.
        let held_now = m.keys[k].released.is_none();
        // Four in a thousand, and at least one a community.
        let overdue = held_now && (rng.chance(4) || (overdue_yet == 0 && k >= 100));
        overdue_yet += usize::from(overdue);
        let out_now = held_now && !overdue && rng.chance(30);
        if overdue {
            end = DAYS - rng.range(1, 3) as usize;
        }
        while day < end {
            let issued = within(&mut rng, &start, day, 9 * 60, 16 * 60);
            let renovating = kind == Kind::Custody && issued < created + 60 * 24 * HOUR;
            let length = if renovating { rng.range(360, 480) } else { rng.range(20, 240) } as i64 * MINUTE;
            let back = issued + length;
            // One in 300 comes back late and opens an incident.
            let late = rng.chance(3);
            let due = if late {
                back - rng.range(30, 120) as i64 * MINUTE
            } else {
                back + rng.range(15, 120) as i64 * MINUTE
            };
            let l = loan(&mut m, &mut rng, d, k, kind, agreement, renovating, issued, due, Some(back), desk, techs);
            if late {
                let detail = m.keys[k].tag.clone();
                m.incidents.push(IncidentRow {
                    cabinet: m.keys[k].cabinet,
                    key: Some(k),
                    kind: "overdue",
                    count: None,
                    loan: Some(l),
                    opened: due + 10 * MINUTE,
                    detail,
                    reported: Some(due + 25 * MINUTE),
                    resolved: Some((back + 10 * MINUTE, "found", "已归还，提醒按时归还")),
                });
            }
            day += gap(&mut rng);
        }
        if overdue || out_now {
            let issued = if overdue {
                within(&mut rng, &start, end, 9 * 60, 15 * 60)
            } else {
                now - rng.range(10, 300) as i64 * MINUTE
            };
            let due =
                if overdue { issued + rng.range(2, 6) as i64 * HOUR } else { now + rng.range(60, 300) as i64 * MINUTE };
            let renovating = kind == Kind::Custody && issued < created + 60 * 24 * HOUR;
            let l = loan(&mut m, &mut rng, d, k, kind, agreement, renovating, issued, due, None, desk, techs);
            m.keys[k].out = true;
            if overdue {
                m.incidents.push(IncidentRow {
                    cabinet: m.keys[k].cabinet,
                    key: Some(k),
                    kind: "overdue",
                    count: None,
                    loan: Some(l),
                    opened: due + 10 * MINUTE,
                    detail: m.keys[k].tag.clone(),
                    reported: None,
                    resolved: None,
                });
            }
        }
    }
    // Two special rooms' approvals waiting for the manager.
    for k in (0..m.keys.len()).filter(|&k| matches!(m.keys[k].kind, Kind::Special(_)) && !m.keys[k].out).take(2) {
        m.approvals.push(ApprovalRow {
            key: k,
            by: d.receptionists[0].0,
            reason: "设备房检修，需开门",
            state: "pending",
            decided: None,
            created: now - rng.range(10, 90) as i64 * MINUTE,
        });
    }
    // The cabinets' nights and the daily counts, one in about two weeks a key short.
    let mut seals: Vec<u32> = (0..cabinets).map(|_| 10_000 + rng.below(80_000) as u32).collect();
    let mut by_cabinet: Vec<Vec<usize>> = vec![vec![]; cabinets];
    for (k, key) in m.keys.iter().enumerate() {
        by_cabinet[key.cabinet].push(k);
    }
    m.opened = vec![0; cabinets];
    for day in 0..DAYS {
        let date = (first + Duration::days(day as i64)).format("%Y-%m-%d").to_string();
        let short = (day > 0 && rng.chance(70)).then(|| rng.below(cabinets as u64) as usize);
        let broken = day > 0 && rng.chance(3);
        for c in 0..cabinets {
            if day > 0 {
                let opened = (start[day] + 8 * HOUR + 25 * MINUTE).min(now - 5 * MINUTE);
                let intact = !(broken && c == 0);
                let seal = format!("{}-{c}-{:06}", d.code, seals[c]);
                m.log.push((c, "opened_in_morning", seal.clone(), Some(i64::from(intact)), 0, opened));
                m.opened[c] = opened;
                if !intact {
                    m.incidents.push(IncidentRow {
                        cabinet: c,
                        key: None,
                        kind: "seal_broken",
                        count: None,
                        loan: None,
                        opened,
                        detail: seal,
                        reported: Some(opened + 15 * MINUTE),
                        resolved: Some((opened + 3 * HOUR, "explained", "夜班保洁误碰封条，监控已核实，重新加封")),
                    });
                }
            }
            let held: Vec<usize> = by_cabinet[c]
                .iter()
                .copied()
                .filter(|&k| {
                    m.keys[k].created < start[day + 1] && m.keys[k].released.is_none_or(|r| r >= start[day + 1])
                })
                .collect();
            if day > 0 && !held.is_empty() && (short == Some(c) || rng.chance(950)) {
                let at = within(&mut rng, &start, day, 17 * 60, 18 * 60);
                let missing = (short == Some(c)).then(|| held[rng.below(held.len() as u64) as usize]);
                let kept = if day >= DAYS - LINE_DAYS {
                    held.iter()
                        .map(|&k| (k, m.keys[k].total, m.keys[k].total - i64::from(Some(k) == missing)))
                        .collect()
                } else {
                    vec![]
                };
                m.counts.push(CountRow {
                    cabinet: c,
                    day: date.clone(),
                    at,
                    by: rng.below(desk as u64) as usize,
                    lines: held.len() as i64,
                    differences: i64::from(missing.is_some()),
                    kept,
                });
                if let Some(k) = missing {
                    m.incidents.push(IncidentRow {
                        cabinet: c,
                        key: Some(k),
                        kind: "count_difference",
                        count: Some(m.counts.len() - 1),
                        loan: None,
                        opened: at,
                        detail: m.keys[k].tag.clone(),
                        reported: Some(at + 10 * MINUTE),
                        resolved: Some((start[day + 1] + 10 * HOUR, "found", "钥匙误挂在相邻钩位，已归位")),
                    });
                }
            }
            seals[c] += 1;
            m.log.push((c, "sealed", format!("{}-{c}-{:06}", d.code, seals[c]), None, 0, start[day] + 22 * HOUR));
        }
    }
    // This morning's opening.
    let opened = (start[DAYS] + 8 * HOUR + 25 * MINUTE).min(now - 5 * MINUTE);
    for (c, seal) in seals.iter().enumerate() {
        m.log.push((c, "opened_in_morning", format!("{}-{c}-{seal:06}", d.code), Some(1), 0, opened));
        m.opened[c] = opened;
    }
    m
}

/// One sign-out (and its return, when `back` is given) of key `k`.
#[allow(clippy::too_many_arguments)]
fn loan(
    m: &mut Made,
    rng: &mut Rng,
    d: &KeyDesk,
    k: usize,
    kind: Kind,
    agreement: Option<usize>,
    renovating: bool,
    issued: i64,
    due: i64,
    back: Option<i64>,
    desk: usize,
    techs: usize,
) -> usize {
    let (reason_kind, reason, condition) = match kind {
        Kind::Vacant if rng.chance(750) => {
            let condition =
                if rng.chance(920) { ("good", "") } else { ("attention", "卫生间地漏返味，已告知业主") };
            ("inspection", "空置房定期巡查", Some(condition))
        }
        Kind::Vacant => ("other_work", "陪同业主委托的中介看房", None),
        Kind::Custody if renovating => ("renovation", "装修施工进场", None),
        Kind::Custody => ("inspection", "托管房屋定期查看", None),
        Kind::Public => ("other_work", "公共用房日常使用", None),
        Kind::Special(_) => ("inspection", "设备房月度巡检", None),
    };
    let approval = matches!(kind, Kind::Special(_)).then(|| {
        m.approvals.push(ApprovalRow {
            key: k,
            by: d.receptionists[0].0,
            reason,
            state: "used",
            decided: Some(issued - rng.range(5, 20) as i64 * MINUTE),
            created: issued - rng.range(25, 50) as i64 * MINUTE,
        });
        m.approvals.len() - 1
    });
    let taker = match agreement {
        Some(a) if renovating => Err(a),
        _ => Ok(rng.below(techs as u64) as usize),
    };
    let key = &mut m.keys[k];
    key.movements += 1 + i64::from(back.is_some());
    key.updated = back.unwrap_or(issued);
    m.loans.push(LoanRow {
        key: k,
        reason_kind,
        reason,
        taker,
        approval,
        issued_by: rng.below(desk as u64) as usize,
        issued,
        due,
        back: back.map(|b| (b, rng.below(desk as u64) as usize)),
        condition: condition.filter(|_| back.is_some()),
    });
    m.loans.len() - 1
}

/// A scribble for the signatures, stored as a file once per database.
fn signature_png() -> Vec<u8> {
    let img = image::GrayImage::from_fn(160, 48, |x, y| {
        let wave = 24.0 + 12.0 * ((x as f64) / 9.0).sin();
        image::Luma([if (y as f64 - wave).abs() < 1.6 { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

async fn write_chunks(
    tx: &mut sqlx::AnyConnection,
    backend: store::Backend,
    table: KeyTable,
    rows: impl Iterator<Item = Vec<BulkValue>>,
) -> Result<(), sqlx::Error> {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<BulkValue>> = rows.by_ref().take(CHUNK).collect();
        bulk::key_rows(tx, backend, table, chunk).await?;
    }
    Ok(())
}

/// A community's rows as written, for the rows that refer to them.
struct Ids {
    sig: i64,
    cabinets: Vec<i64>,
    keys: Vec<i64>,
    agreements: Vec<i64>,
    people: Vec<i64>,
    approvals: Vec<i64>,
    counts: Vec<i64>,
    /// Filled when the movements are written, in time order over every community.
    loans: Vec<i64>,
}

/// Write a community's register but its movements: settings, cabinets, key sets and
/// receipts, agreements, approvals, the cabinets' log and the counts.
async fn write_books(app: &App, d: &KeyDesk, m: &Made, now: i64) -> Result<Ids, BoxError> {
    use BulkValue::{I, N, O, S};
    let backend = app.store.backend();
    let c = d.community_id;
    let png = signature_png();
    let stored = files::store(app, "signature", &png, files::Purpose::Signature).map_err(fail)?;
    let mut tx = app.store.begin().await?;
    let desk = |i: usize| d.receptionists[i % d.receptionists.len()].0;
    let sig = sk::insert_file(
        &mut tx,
        c,
        "signature",
        &stored.sha256,
        stored.size,
        stored.mime,
        "signature.png",
        "",
        false,
        desk(0),
        now,
    )
    .await?;
    let cabinets = m.opened.len();
    let cab_ids = store::allocate_ids(&mut tx, backend, "key_cabinets", cabinets).await?;
    let key_ids = store::allocate_ids(&mut tx, backend, "key_sets", m.keys.len()).await?;
    let agreement_ids = store::allocate_ids(&mut tx, backend, "key_agreements", m.agreements.len()).await?;
    let person_ids = store::allocate_ids(&mut tx, backend, "key_agreement_people", m.agreements.len()).await?;
    let approval_ids = store::allocate_ids(&mut tx, backend, "key_approvals", m.approvals.len()).await?;
    let count_ids = store::allocate_ids(&mut tx, backend, "key_counts", m.counts.len()).await?;
    let settings = vec![vec![I(c), I(1), I(22), I(now), I(d.manager)]];
    bulk::key_rows(&mut tx, backend, KeyTable::Settings, settings).await?;
    let rows = (0..cabinets).map(|i| {
        vec![
            I(cab_ids[i]),
            I(c),
            S(format!("前台钥匙柜{}", i + 1)),
            S("客服中心前台".into()),
            N(Some(desk(0))),
            S("open".into()),
            S(String::new()),
            I(m.opened[i]),
            I(m.keys.iter().find(|k| k.cabinet == i).map_or(now, |k| k.created) - HOUR),
            I(d.manager),
            I(1 + 2 * DAYS as i64),
        ]
    });
    write_chunks(&mut tx, backend, KeyTable::Cabinets, rows).await?;
    let rows = m.keys.iter().enumerate().map(|(i, k)| {
        let (special, basis) = match k.kind {
            Kind::Vacant => ("", "vacant_unit"),
            Kind::Custody => ("", "custody_agreement"),
            Kind::Public => ("", "public_room"),
            Kind::Special(s) => (s, "public_room"),
        };
        let (state, total) = if k.released.is_some() { ("released", 0) } else { ("held", k.total) };
        vec![
            I(key_ids[i]),
            I(c),
            I(cab_ids[k.cabinet]),
            S(k.tag.clone()),
            S(k.hook.clone()),
            N(k.unit.map(|u| d.units[u].unit_id)),
            S(k.room.clone()),
            S(special.into()),
            S(basis.into()),
            S(state.into()),
            I(total),
            I(i64::from(k.out)),
            I(k.created),
            I(desk(i)),
            I(k.released.unwrap_or(k.updated.max(k.created))),
            I(1 + k.movements + i64::from(k.released.is_some())),
        ]
    });
    write_chunks(&mut tx, backend, KeyTable::KeySets, rows).await?;
    let rows = m.keys.iter().enumerate().map(|(i, k)| {
        let (name, department) = match k.unit {
            Some(u) => (d.units[u].owner.clone(), "业主"),
            None => (d.technicians[i % d.technicians.len()].1.clone(), "工程部"),
        };
        vec![
            I(c),
            I(key_ids[i]),
            S(name),
            S(department.into()),
            I(k.created),
            I(k.total),
            I(sig),
            I(desk(i)),
            I(k.created),
        ]
    });
    write_chunks(&mut tx, backend, KeyTable::Receipts, rows).await?;
    let rows = m.agreements.iter().enumerate().map(|(i, a)| {
        let ended = m.keys[a.key].released;
        vec![
            I(agreement_ids[i]),
            I(c),
            I(key_ids[a.key]),
            S(a.owner.clone()),
            I(a.starts),
            I(a.ends),
            S("renovation,inspection,emergency".into()),
            I(sig),
            S(if ended.is_some() { "ended" } else { "active" }.into()),
            I(a.by),
            I(a.starts),
            N(ended.map(|_| a.by)),
            N(ended),
            I(1 + i64::from(ended.is_some())),
        ]
    });
    write_chunks(&mut tx, backend, KeyTable::Agreements, rows).await?;
    let rows = m.agreements.iter().enumerate().map(|(i, a)| {
        vec![
            I(person_ids[i]),
            I(agreement_ids[i]),
            S(a.foreman.clone()),
            S("装修队负责人".into()),
            O(Some(a.phone_enc.clone())),
            S(a.phone_masked.clone()),
        ]
    });
    write_chunks(&mut tx, backend, KeyTable::AgreementPeople, rows).await?;
    let rows = m.approvals.iter().enumerate().map(|(i, a)| {
        vec![
            I(approval_ids[i]),
            I(c),
            I(key_ids[a.key]),
            I(a.by),
            S(a.reason.into()),
            S(a.state.into()),
            N(a.decided.map(|_| d.manager)),
            N(a.decided),
            N(a.decided.map(|t| t + 4 * HOUR)),
            I(a.created),
            I(if a.decided.is_some() { 3 } else { 1 }),
        ]
    });
    write_chunks(&mut tx, backend, KeyTable::Approvals, rows).await?;
    let rows = m.log.iter().map(|(cab, step, seal, intact, by, at)| {
        vec![I(c), I(cab_ids[*cab]), S((*step).into()), S(seal.clone()), N(*intact), I(desk(*by)), I(*at)]
    });
    write_chunks(&mut tx, backend, KeyTable::CabinetLog, rows).await?;
    let rows = m.counts.iter().enumerate().map(|(i, n)| {
        vec![
            I(count_ids[i]),
            I(c),
            I(cab_ids[n.cabinet]),
            S(n.day.clone()),
            I(desk(n.by)),
            I(n.at),
            I(n.lines),
            I(n.differences),
        ]
    });
    write_chunks(&mut tx, backend, KeyTable::Counts, rows).await?;
    let (count_of, key_of) = (&count_ids, &key_ids);
    let rows = m.counts.iter().enumerate().flat_map(|(i, n)| {
        n.kept.iter().map(move |&(k, expected, counted)| vec![I(count_of[i]), I(key_of[k]), I(expected), I(counted)])
    });
    write_chunks(&mut tx, backend, KeyTable::CountLines, rows).await?;
    tx.commit().await?;
    Ok(Ids {
        sig,
        cabinets: cab_ids,
        keys: key_ids,
        agreements: agreement_ids,
        people: person_ids,
        approvals: approval_ids,
        counts: count_ids,
        loans: vec![],
    })
}

/// One sign-out's row.
fn loan_row(d: &KeyDesk, m: &Made, ids: &Ids, i: usize) -> Vec<BulkValue> {
    use BulkValue::{I, N, O, S};
    let l = &m.loans[i];
    let desk = |i: usize| d.receptionists[i % d.receptionists.len()].0;
    let (kind, user, name, phone_enc, phone_masked, authorisation, agreement, person, called) = match l.taker {
        Ok(t) => {
            let (id, name) = &d.technicians[t];
            ("staff", Some(*id), name.clone(), None, String::new(), "", None, None, None)
        }
        Err(a) => {
            let ag = &m.agreements[a];
            (
                "other",
                None,
                ag.foreman.clone(),
                Some(ag.phone_enc.clone()),
                ag.phone_masked.clone(),
                "agreement",
                Some(ids.agreements[a]),
                Some(ids.people[a]),
                Some(ag.owner_phone.clone()),
            )
        }
    };
    let agreement = agreement.or_else(|| {
        m.agreements
            .iter()
            .position(|a| a.key == l.key)
            .map(|a| ids.agreements[a])
            .filter(|_| l.reason_kind != "other_work")
    });
    vec![
        I(ids.loans[i]),
        I(d.community_id),
        I(ids.keys[l.key]),
        I(1),
        I(i64::from(l.back.is_some())),
        S(l.reason_kind.into()),
        S(l.reason.into()),
        S(kind.into()),
        N(user),
        S(name),
        O(phone_enc),
        S(phone_masked),
        S(authorisation.into()),
        N(agreement),
        N(person),
        N(called.as_ref().map(|_| desk(l.issued_by))),
        N(called.as_ref().map(|_| l.issued - 2 * MINUTE)),
        S(called.unwrap_or_default()),
        N(l.approval.map(|a| ids.approvals[a])),
        I(ids.sig),
        I(desk(l.issued_by)),
        I(l.issued),
        I(l.due),
        N(l.back.map(|b| b.0)),
        I(1 + i64::from(l.back.is_some())),
    ]
}

/// Rows written per transaction when the movements are written.
const PER_TX: usize = 100_000;

/// Rows (community, index) in time order, written a transaction of [`PER_TX`] at a time.
async fn write_in_order(
    app: &App,
    table: KeyTable,
    mut order: Vec<(i64, usize, usize)>,
    row: impl Fn(usize, usize) -> Vec<BulkValue>,
) -> Result<(), BoxError> {
    order.sort_unstable();
    for part in order.chunks(PER_TX) {
        let mut tx = app.store.begin().await?;
        write_chunks(&mut tx, app.store.backend(), table, part.iter().map(|&(_, c, i)| row(c, i))).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The sign-outs, returns and inspections of every community in the order they happened,
/// numbered in that order, as a database that grew over two years holds them (written
/// community by community and key set by key set, the table's order would follow the key
/// sets, and PostgreSQL would plan for that).
async fn write_movements(app: &App, desks: &[&KeyDesk], made: &[Made], ids: &mut [Ids]) -> Result<(), BoxError> {
    use BulkValue::{I, N, S};
    let mut issued: Vec<(i64, usize, usize)> = vec![];
    for (c, m) in made.iter().enumerate() {
        issued.extend(m.loans.iter().enumerate().map(|(i, l)| (l.issued, c, i)));
    }
    issued.sort_unstable();
    let mut tx = app.store.begin().await?;
    let first = bulk::reserve_ids(&mut tx, app.store.backend(), "key_loans", issued.len()).await?;
    tx.commit().await?;
    for (c, m) in made.iter().enumerate() {
        ids[c].loans = vec![0; m.loans.len()];
    }
    for (rank, &(_, c, i)) in issued.iter().enumerate() {
        ids[c].loans[i] = first + rank as i64;
    }
    let ids = &*ids;
    write_in_order(app, KeyTable::Loans, issued, |c, i| loan_row(desks[c], &made[c], &ids[c], i)).await?;
    let desk = |c: usize, i: usize| desks[c].receptionists[i % desks[c].receptionists.len()].0;
    let mut returned = vec![];
    let mut inspected = vec![];
    for (c, m) in made.iter().enumerate() {
        for (i, l) in m.loans.iter().enumerate() {
            if let Some((back, _)) = l.back {
                returned.push((back, c, i));
                if l.condition.is_some() && m.keys[l.key].unit.is_some() {
                    inspected.push((back, c, i));
                }
            }
        }
    }
    write_in_order(app, KeyTable::Returns, returned, |c, i| {
        let (d, m, l) = (desks[c], &made[c], &made[c].loans[i]);
        let (back, by) = l.back.unwrap_or_default();
        let taker = match l.taker {
            Ok(t) => d.technicians[t].1.clone(),
            Err(a) => m.agreements[a].foreman.clone(),
        };
        vec![I(d.community_id), I(ids[c].loans[i]), I(1), S(taker), I(ids[c].sig), I(desk(c, by)), I(back)]
    })
    .await?;
    write_in_order(app, KeyTable::Inspections, inspected, |c, i| {
        let (d, m, l) = (desks[c], &made[c], &made[c].loans[i]);
        let (back, by) = l.back.unwrap_or_default();
        let (condition, note) = l.condition.unwrap_or_default();
        let unit = m.keys[l.key].unit.map_or(0, |u| d.units[u].unit_id);
        vec![
            I(d.community_id),
            I(unit),
            I(back),
            I(desk(c, by)),
            S(condition.into()),
            S(note.into()),
            N(Some(ids[c].loans[i])),
        ]
    })
    .await?;
    Ok(())
}

/// A community's incidents (they refer to its sign-outs and counts) and the audit entry
/// vouching for its register; returns its counts and sample lines for the write benchmark
/// (`key_set_id version taker_user_id`: held, not out, no approval needed).
async fn write_incidents(
    app: &App,
    d: &KeyDesk,
    m: &Made,
    ids: &Ids,
    now: i64,
) -> Result<(Counts, Vec<String>), BoxError> {
    use BulkValue::{I, N, S};
    let backend = app.store.backend();
    let c = d.community_id;
    let desk = |i: usize| d.receptionists[i % d.receptionists.len()].0;
    let (cab_ids, key_ids, count_ids, loan_ids) = (&ids.cabinets, &ids.keys, &ids.counts, &ids.loans);
    let cabinets = cab_ids.len();
    let mut tx = app.store.begin().await?;
    let rows = m.incidents.iter().map(|x| {
        let (expected, counted) = match x.count {
            Some(_) => {
                let total = x.key.map_or(0, |k| m.keys[k].total);
                (Some(total), Some(total - 1))
            }
            None => (None, None),
        };
        let state = match (x.reported, x.resolved) {
            (_, Some(_)) => "resolved",
            (Some(_), None) => "reported",
            _ => "open",
        };
        let (resolved_at, resolution, note) = match x.resolved {
            Some((at, r, n)) => (Some(at), r, n),
            None => (None, "", ""),
        };
        vec![
            I(c),
            I(cab_ids[x.cabinet]),
            N(x.key.map(|k| key_ids[k])),
            S(x.kind.into()),
            N(x.count.map(|n| count_ids[n])),
            N(x.loan.map(|l| loan_ids[l])),
            N(expected),
            N(counted),
            S(x.detail.clone()),
            S(state.into()),
            N(if x.kind == "overdue" { None } else { Some(desk(0)) }),
            I(x.opened),
            S(if x.reported.is_some() { "已核实并上报客服主管" } else { "" }.into()),
            N(x.reported.map(|_| desk(0))),
            N(x.reported),
            S(resolution.into()),
            S(note.into()),
            N(resolved_at.map(|_| d.manager)),
            N(resolved_at),
            I(1 + i64::from(x.reported.is_some()) + i64::from(x.resolved.is_some())),
        ]
    });
    write_chunks(&mut tx, backend, KeyTable::Incidents, rows).await?;
    let counts = Counts {
        key_sets: m.keys.len(),
        cabinets,
        released: m.keys.iter().filter(|k| k.released.is_some()).count(),
        agreements: m.agreements.len(),
        in_force: m.agreements.iter().filter(|a| a.starts <= now && a.ends > now).count(),
        approvals: m.approvals.len(),
        loans: m.loans.len(),
        open: m.loans.iter().filter(|l| l.back.is_none()).count(),
        overdue: m.loans.iter().filter(|l| l.back.is_none() && l.due < now).count(),
        inspections: m.loans.iter().filter(|l| l.condition.is_some()).count(),
        counts: m.counts.len(),
        count_lines: m.counts.iter().map(|n| n.kept.len()).sum(),
        incidents: m.incidents.len(),
        open_incidents: m.incidents.iter().filter(|x| x.resolved.is_none()).count(),
        log: m.log.len(),
    };
    let actor = Actor::cli();
    audit::record(
        app,
        &mut tx,
        &actor,
        &actor.authorize(Permission::ImportData, c).map_err(fail)?,
        "bench.keys_loaded",
        "community",
        c,
        json!({
            "key_sets": counts.key_sets, "cabinets": counts.cabinets, "released": counts.released,
            "agreements": counts.agreements, "loans": counts.loans, "open": counts.open, "overdue": counts.overdue,
            "inspections": counts.inspections, "counts": counts.counts, "count_lines": counts.count_lines,
            "incidents": counts.incidents, "open_incidents": counts.open_incidents,
            "key_set_ids": [key_ids.first(), key_ids.last()], "loan_ids": [loan_ids.first(), loan_ids.last()],
        }),
    )
    .await
    .map_err(fail)?;
    tx.commit().await?;
    let taker = d.technicians[0].0;
    let samples = m
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| !k.out && k.released.is_none() && matches!(k.kind, Kind::Vacant | Kind::Public))
        .step_by(3)
        .take(200)
        .map(|(i, k)| format!("{} {} {taker}", key_ids[i], 1 + k.movements))
        .collect();
    Ok((counts, samples))
}

/// Generate `n` key sets spread over the desks (communities) with two years of their
/// books; returns the counts and sample lines for the write benchmark
/// (`key_set_id version taker_user_id`).
pub async fn generate(app: &App, desks: &[KeyDesk], n: usize, seed: u64) -> Result<(Counts, Vec<String>), BoxError> {
    let now = app.clock.now();
    let mut built: Vec<(&KeyDesk, Made)> = vec![];
    for (i, d) in desks.iter().enumerate() {
        let count = n / desks.len() + usize::from(i < n % desks.len());
        if count == 0 || d.receptionists.is_empty() || d.technicians.is_empty() {
            continue;
        }
        built.push((d, build(d, count, now, seed, &app.secrets)));
    }
    let mut ids = Vec::with_capacity(built.len());
    for (d, m) in &built {
        ids.push(write_books(app, d, m, now).await?);
    }
    let (desks, made): (Vec<&KeyDesk>, Vec<Made>) = built.into_iter().unzip();
    write_movements(app, &desks, &made, &mut ids).await?;
    let mut total = Counts::default();
    let mut samples = Vec::new();
    for ((d, m), ids) in desks.iter().zip(&made).zip(&ids) {
        let (counts, lines) = write_incidents(app, d, m, ids, now).await?;
        total.add(&counts);
        samples.extend(lines);
    }
    Ok((total, samples))
}

//! Follow-ups (回访, R-FU-1 … R-FU-5, R-CMP-7): the sampling decision taken when a sheet
//! is collected, the tasks with their records (in person with the resident's signature,
//! or by phone under the year's cap), the manager's review, the corrective-action reports
//! an unsatisfied result opens, the community's rules, and the sampling audit.

use super::{Actor, App, AppError, AppResult, audit, files, notify};
use crate::store::{self, auth as sa, followup as sf, request as srq, sheet as st};
use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;
use huiqian_domain::auth::Permission;
use huiqian_domain::followup::capa::{self, CapaPlan, CapaState};
use huiqian_domain::followup::sampling::{self, Cause, Rates, Reason, Tally};
use huiqian_domain::followup::visit::{
    self, AfterUnreachable, Method, Outcome, PhoneCheck, VisitRecord, VisitState, YearShare, after_unreachable,
    phone_check,
};
use huiqian_domain::sheet::{Event, Sheet};
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::json;

const HOUR: i64 = 3_600_000;
/// A record's content and a review's remarks are brief (R-FU-3).
const TEXT_MAX: usize = 1000;

/// The sampling month of an instant in the community's zone: `YYYY-MM`.
pub fn period_of(zone: Tz, at: i64) -> String {
    let t = chrono::Utc.timestamp_millis_opt(at).single().unwrap_or_default().with_timezone(&zone);
    format!("{:04}-{:02}", t.year(), t.month())
}

/// The calendar year of `at` in the zone, as `[start, end)` in epoch ms.
pub fn year_bounds(tz: Tz, at: i64) -> (i32, i64, i64) {
    let year = chrono::Utc.timestamp_millis_opt(at).single().unwrap_or_default().with_timezone(&tz).year();
    let start =
        |y: i32| tz.with_ymd_and_hms(y, 1, 1, 0, 0, 0).earliest().map(|t| t.timestamp_millis()).unwrap_or_default();
    (year, start(year), start(year + 1))
}

fn new_key() -> String {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
    hex::encode(key)
}

fn key_bytes(s: &sf::Settings) -> Vec<u8> {
    hex::decode(&s.sampling_key).unwrap_or_else(|_| s.sampling_key.as_bytes().to_vec())
}

fn rates_of(s: &sf::Settings) -> Rates {
    let pct = |v: i64| u8::try_from(v.clamp(0, 100)).unwrap_or(100);
    Rates {
        repair: pct(s.repair_rate),
        special_service: pct(s.special_service_rate),
        delivery: pct(s.delivery_rate),
        event: pct(s.event_rate),
    }
}

// ---- the decision on collection (R-FU-1, R-CMP-7) ----

/// What the decision needs, read before the collecting transaction.
pub(crate) struct Prepared {
    reason: Reason,
    settings: Option<sf::Settings>,
    zone: Tz,
}

/// Does this change collect a sheet that is considered for a follow-up? Then read what
/// the decision needs.
pub(crate) async fn prepare(app: &App, c: i64, sheet: &Sheet, new_events: &[Event]) -> AppResult<Option<Prepared>> {
    if !new_events.iter().any(|e| matches!(e, Event::Collected { .. })) {
        return Ok(None);
    }
    let Some(reason) = Reason::of_sheet(sheet.kind, sheet.follow_up_requested) else {
        return Ok(None);
    };
    let settings = sf::settings(app.store.read(), c).await?;
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    Ok(Some(Prepared { reason, settings, zone }))
}

/// Decide, inside the collecting transaction, whether the sheet is followed up; keep the
/// decision with its draw and cause, and create the task for the sheet's first-contact
/// receptionist — unless a complaint is about that very person: then another
/// receptionist (or a supervisor) takes it, and the task says why (R-FU-1, R-CMP-7).
/// Returns the task's id when one was created.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide(
    app: &App,
    tx: &mut store::Tx,
    p: &Prepared,
    sheet: &Sheet,
    sheet_id: i64,
    number: &str,
    c: i64,
    now: i64,
) -> AppResult<Option<i64>> {
    let settings = match &p.settings {
        Some(s) => s.clone(),
        None => sf::ensure_settings(tx, c, &new_key()).await?,
    };
    let rate = rates_of(&settings).of(p.reason);
    let period = period_of(p.zone, now);
    let reason = p.reason.as_str();
    // The tally's row lock orders two collections of the same month one after the other.
    let (collected, selected) = sf::bump_tally(tx, c, reason, &period).await?;
    let draw = sampling::draw(&key_bytes(&settings), number);
    let before =
        Tally { collected: u32::try_from(collected).unwrap_or(0), selected: u32::try_from(selected).unwrap_or(0) };
    let d = sampling::decide(rate, draw, before);
    sf::insert_decision(
        tx,
        c,
        sheet_id,
        reason,
        &period,
        collected + 1,
        i64::from(rate),
        i64::from(draw),
        d.selected,
        d.cause.as_str(),
        now,
    )
    .await?;
    if !d.selected {
        return Ok(None);
    }
    sf::count_selected(tx, c, reason, &period).await?;
    let due = now + settings.due_hours * HOUR;
    let subject = sheet.case.complaint.as_ref().and_then(|cc| cc.details.against_user);
    let (assignee, note) = match subject {
        Some(u) if u == sheet.first_contact => {
            let other = sf::least_loaded_visitor(tx, c, u).await?;
            let subject_name = display_name(tx, Some(u)).await?;
            let note = match other {
                Some(_) => {
                    format!("投诉涉及首接责任人{subject_name}，本人不回访，改由{}回访", display_name(tx, other).await?)
                }
                // Nobody else in customer service: the task waits for a manager to give it.
                None => format!("投诉涉及首接责任人{subject_name}，本人不回访，待主管指派回访人"),
            };
            (other, note)
        }
        _ => (Some(sheet.first_contact), String::new()),
    };
    let id = sf::insert_follow_up(
        tx,
        &sf::NewFollowUp {
            community_id: c,
            sheet_id,
            reason,
            due_at: due,
            assigned_to: assignee,
            note: &note,
            excluded_user_id: subject,
        },
        now,
    )
    .await?;
    if let (Some(_), Some(to)) = (id, assignee) {
        let dedupe = format!("follow_up_assigned:{sheet_id}:{to}");
        notify::send(app, tx, to, c, sheet_id, number, Some(due), "follow_up_assigned", &dedupe).await?;
    }
    Ok(id)
}

async fn display_name(conn: &mut sqlx::AnyConnection, id: Option<i64>) -> AppResult<String> {
    Ok(match id {
        Some(id) => sa::user(conn, id).await?.map(|x| x.display_name).unwrap_or_default(),
        None => String::new(),
    })
}

// ---- the tasks (R-FU-2, R-FU-3) ----

/// The year's phone share beside the cap, shown on the task list (R-FU-2).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Share {
    pub year: i32,
    /// The year's follow-ups recorded by phone.
    pub phone: i64,
    /// The year's follow-ups recorded.
    pub recorded: i64,
    /// The year's follow-ups, recorded or still to do: the cap is a share of these.
    pub total: i64,
    /// Phone share of the recorded ones, in whole percent.
    pub phone_pct: i64,
    /// The cap: phone follow-ups may not exceed this share of the year's (R-FU-2).
    pub cap_pct: i64,
    /// How many more may be done by phone now without breaking the cap.
    pub phone_left: i64,
}

/// The phone share of the year `at` falls in (R-FU-2).
async fn share_of_year(app: &App, c: i64, settings: &sf::Settings, at: i64) -> AppResult<Share> {
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let (year, from, to) = year_bounds(zone, at);
    let (phone, recorded, total) = sf::share(app.store.read(), c, from, to).await?;
    let ys = YearShare { phone: u32::try_from(phone).unwrap_or(0), total: u32::try_from(total).unwrap_or(0) };
    let cap = u8::try_from(settings.phone_cap_pct.clamp(0, 100)).unwrap_or(70);
    Ok(Share {
        year,
        phone,
        recorded,
        total,
        phone_pct: (phone * 100).checked_div(recorded).unwrap_or(0),
        cap_pct: settings.phone_cap_pct,
        phone_left: i64::from(ys.phone_left(cap)),
    })
}

/// A community's rules, or the manual's defaults while it has none saved.
async fn settings_or_default(app: &App, c: i64) -> AppResult<sf::Settings> {
    Ok(sf::settings(app.store.read(), c).await?.unwrap_or(sf::Settings {
        community_id: c,
        repair_rate: 30,
        special_service_rate: 30,
        delivery_rate: 10,
        event_rate: 10,
        due_hours: 72,
        phone_cap_pct: 70,
        max_attempts: 3,
        sampling_key: String::new(),
        version: 0,
    }))
}

/// Which tasks to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tasks {
    /// Mine to do, soonest due first.
    Mine,
    /// Everyone's to do.
    Pending,
    /// Recorded, waiting for the manager's review.
    Review,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskPage {
    pub items: Vec<sf::FollowUp>,
    pub share: Share,
}

pub async fn tasks(app: &App, actor: &Actor, c: i64, which: Tasks, limit: i64, offset: i64) -> AppResult<TaskPage> {
    match which {
        Tasks::Review => actor.may_read(Permission::ReviewFollowUp, c)?,
        _ => actor.may_read(Permission::FollowUp, c)?,
    };
    let list = match which {
        Tasks::Mine => sf::TaskList::Pending { assignee: Some(actor.user_id()) },
        Tasks::Pending => sf::TaskList::Pending { assignee: None },
        Tasks::Review => sf::TaskList::ToReview,
    };
    let items = sf::follow_ups(app.store.read(), c, list, limit.clamp(1, 200), offset.max(0)).await?;
    let settings = settings_or_default(app, c).await?;
    Ok(TaskPage { items, share: share_of_year(app, c, &settings, app.clock.now()).await? })
}

/// One follow-up with its earlier attempts and its report, if it opened one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub follow_up: sf::FollowUp,
    /// Earlier attempts that did not reach the resident.
    pub attempts: Vec<sf::Attempt>,
    /// How many attempts the community allows.
    pub max_attempts: i64,
    pub capa: Option<sf::Capa>,
    pub share: Share,
}

async fn load(app: &App, actor: &Actor, id: i64) -> AppResult<sf::FollowUp> {
    let f = sf::follow_up(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(f.community_id)?;
    Ok(f)
}

pub async fn get(app: &App, actor: &Actor, id: i64) -> AppResult<Detail> {
    let f = load(app, actor, id).await?;
    actor.may_read(Permission::FollowUp, f.community_id)?;
    let capa = match f.capa_id {
        Some(cid) => sf::capa(app.store.read(), cid).await?,
        None => None,
    };
    let settings = settings_or_default(app, f.community_id).await?;
    // The share the task counts in: that of the year it was created, which is the one its
    // record is checked against — in January a task of December still counts in December.
    let share = share_of_year(app, f.community_id, &settings, f.created_at).await?;
    let attempts = sf::attempts(app.store.read(), f.id).await?;
    Ok(Detail { follow_up: f, attempts, max_attempts: settings.max_attempts, capa, share })
}

/// What the visitor records (R-FU-3).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RecordInput {
    pub version: i64,
    /// `visit`, `inspection` or `phone`.
    pub method: String,
    /// `satisfied`, `unsatisfied` or `unreachable`.
    pub outcome: String,
    /// What was said and seen, briefly.
    pub content: String,
    /// When the resident was called or visited (epoch ms); now when absent.
    #[serde(default)]
    pub contacted_at: Option<i64>,
    /// In person: the resident's signature, a PNG data URL drawn on the tablet.
    #[serde(default)]
    pub signature: String,
    #[serde(default)]
    pub signer: String,
    /// The resident typed their name and confirmed it instead of drawing (the pad's
    /// keyboard alternative); recorded as typed.
    #[serde(default)]
    pub signature_typed: bool,
}

/// Record a follow-up (R-FU-3). A resident not reached is tried again — the task stays
/// to do with a new time limit — until the community's attempts are used up; only an
/// unsatisfied result opens a corrective action (R-FU-4). By phone, only within the
/// year's cap (R-FU-2).
#[tracing::instrument(name = "follow_up.record", skip_all, fields(follow_up = id, user = actor.user_id()))]
pub async fn record(app: &App, actor: &Actor, id: i64, input: &RecordInput) -> AppResult<Detail> {
    let f = load(app, actor, id).await?;
    let c = f.community_id;
    let authority = actor.authorize(Permission::FollowUp, c)?;
    // R-CMP-7: the person a complaint is about does not follow it up.
    if f.excluded_user_id == Some(actor.user_id()) {
        return Err(AppError::rejected("followup.subject_excluded"));
    }
    let now = app.clock.now();
    let mut errors = FieldErrors::default();
    let method = Method::parse(&input.method).map_err(|e| errors.push("method", e)).ok();
    let outcome = if input.outcome.trim().is_empty() {
        errors.push("outcome", ValidationError::new("followup.outcome_required"));
        None
    } else {
        Outcome::parse(&input.outcome).map_err(|e| errors.push("outcome", e)).ok()
    };
    if input.content.chars().count() > TEXT_MAX {
        errors.push("content", ValidationError::new("text.too_long").with("max", TEXT_MAX));
    }
    let png = if input.signature.trim().is_empty() {
        None
    } else {
        files::signature_png(&input.signature).map_err(|e| errors.push("signature", e)).ok()
    };
    if png.is_some() && input.signer.trim().is_empty() {
        errors.push("signer", ValidationError::new("required"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let (method, outcome) = (method.expect("checked"), outcome.expect("checked"));
    let state = VisitState::parse(&f.state).map_err(|_| AppError::Internal(format!("follow-up {id} state")))?;
    let rec = VisitRecord {
        method,
        outcome,
        content: input.content.trim().to_string(),
        contacted_at: input.contacted_at.unwrap_or(now),
        signed: png.is_some() && method.in_person(),
    };
    rec.check(state, now).map_err(|r| AppError::rejected(r.0))?;
    let settings = settings_or_default(app, c).await?;
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    // The task counts in the year it was created.
    let (_, from, to) = year_bounds(zone, f.created_at);
    let cap = u8::try_from(settings.phone_cap_pct.clamp(0, 100)).unwrap_or(70);
    let stored = match &png {
        Some(png) if method.in_person() => Some(files::store(app, "signature", png, files::Purpose::Signature)?),
        _ => None,
    };
    let retry = match outcome {
        Outcome::Unreachable => {
            match after_unreachable(
                u32::try_from(f.attempt).unwrap_or(1),
                u32::try_from(settings.max_attempts).unwrap_or(1),
            ) {
                AfterUnreachable::Retry { .. } => true,
                AfterUnreachable::GiveUp => false,
            }
        }
        _ => false,
    };
    if retry {
        let next_due = now + settings.due_hours * HOUR;
        let mut tx = app.store.begin().await?;
        if !sf::retry(
            &mut tx,
            id,
            input.version,
            c,
            f.attempt,
            method.as_str(),
            &rec.content,
            rec.contacted_at,
            f.due_at,
            next_due,
            actor.user_id(),
            now,
        )
        .await?
        {
            return Err(AppError::Conflict { code: "stale_version" });
        }
        if let Some(to) = f.assigned_to {
            let dedupe = format!("follow_up_retry:{id}:{}:{to}", f.attempt + 1);
            notify::send(app, &mut tx, to, c, f.sheet_id, &f.number, Some(next_due), "follow_up_retry", &dedupe)
                .await?;
        }
        audit::record(app,
            &mut tx,
            actor,
            &authority,
            "follow_up.not_reached",
            "follow_up",
            id,
            json!({"sheet": f.number, "attempt": f.attempt, "method": method.as_str(), "contacted_at": rec.contacted_at, "next_attempt": f.attempt + 1, "due_at": next_due}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(attempt = f.attempt, "follow-up not reached, tried again later");
        return get(app, actor, id).await;
    }
    let mut tx = app.store.begin().await?;
    // The year's share is read in the transaction, after taking the rules' row lock, so
    // two phone follow-ups recorded at once cannot both pass the cap.
    sf::lock_settings(&mut tx, c, &new_key()).await?;
    if method == Method::Phone {
        let (phone, _, total) = sf::share(&mut *tx, c, from, to).await?;
        let ys = YearShare { phone: u32::try_from(phone).unwrap_or(0), total: u32::try_from(total).unwrap_or(0) };
        if let PhoneCheck::Refuse { after_pct } = phone_check(ys, cap) {
            return Err(AppError::Rejected {
                code: "followup.phone_cap",
                params: vec![("after_pct", after_pct.to_string()), ("cap", cap.to_string())],
            });
        }
    }
    let signature_id = match &stored {
        Some(s) => Some(
            st::insert_attachment(
                &mut tx,
                c,
                f.sheet_id,
                "signature",
                &s.sha256,
                s.size,
                s.mime,
                "follow-up-signature.png",
                input.signer.trim(),
                input.signature_typed,
                actor.user_id(),
                now,
            )
            .await?,
        ),
        None => None,
    };
    let row = sf::RecordRow {
        method: method.as_str(),
        outcome: outcome.as_str(),
        content: &rec.content,
        contacted_at: rec.contacted_at,
        signer: if stored.is_some() { input.signer.trim() } else { "" },
        signature_id,
        by: actor.user_id(),
    };
    if !sf::record(&mut tx, id, input.version, &row, now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    // An unsatisfied follow-up is a nonconformity (R-FU-4): a report is opened and the
    // customer-service manager and the centre director are told.
    let mut capa_id = None;
    if outcome.opens_capa() {
        let what = format!("{}（{}）：{}", outcome.label_zh(), method.label_zh(), rec.content);
        let cid = sf::insert_capa(&mut tx, c, id, f.sheet_id, &what, now).await?;
        capa_id = Some(cid);
        for u in srq::users_with_roles(&mut tx, c, &["cs_manager", "centre_director"]).await? {
            let dedupe = format!("capa_opened:{cid}:{u}");
            notify::send(app, &mut tx, u, c, f.sheet_id, &f.number, None, "capa_opened", &dedupe).await?;
        }
    }
    let mut detail = json!({"sheet": f.number, "method": method.as_str(), "outcome": outcome.as_str(), "contacted_at": rec.contacted_at, "attempt": f.attempt, "capa_id": capa_id});
    if signature_id.is_some() {
        detail["signature_typed"] = json!(input.signature_typed);
    }
    audit::record(app, &mut tx, actor, &authority, "follow_up.recorded", "follow_up", id, detail).await?;
    tx.commit().await?;
    tracing::info!(outcome = outcome.as_str(), attempt = f.attempt, capa = ?capa_id, "follow-up recorded");
    get(app, actor, id).await
}

/// The manager's review (R-FU-4).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ReviewInput {
    pub version: i64,
    pub remarks: String,
}

pub async fn review(app: &App, actor: &Actor, id: i64, input: &ReviewInput) -> AppResult<Detail> {
    let now = app.clock.now();
    let f = load(app, actor, id).await?;
    let authority = actor.authorize(Permission::ReviewFollowUp, f.community_id)?;
    if input.remarks.chars().count() > TEXT_MAX {
        return Err(AppError::field("remarks", ValidationError::new("text.too_long").with("max", TEXT_MAX)));
    }
    let state = VisitState::parse(&f.state).map_err(|_| AppError::Internal(format!("follow-up {id} state")))?;
    visit::check_review(state, &input.remarks).map_err(|r| AppError::rejected(r.0))?;
    let mut tx = app.store.begin().await?;
    if !sf::review(&mut tx, id, input.version, input.remarks.trim(), actor.user_id(), now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "follow_up.reviewed",
        "follow_up",
        id,
        json!({"sheet": f.number, "remarks": input.remarks.trim()}),
    )
    .await?;
    tx.commit().await?;
    get(app, actor, id).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ReassignInput {
    pub version: i64,
    pub to_user_id: i64,
}

/// Give a task to another member of customer service before it is done.
pub async fn reassign(app: &App, actor: &Actor, id: i64, input: &ReassignInput) -> AppResult<Detail> {
    let f = load(app, actor, id).await?;
    let c = f.community_id;
    let authority = actor.authorize(Permission::ReassignSheet, c)?;
    let mut conn = app.store.read().acquire().await?;
    let target = sa::grants(&mut conn, input.to_user_id).await?;
    drop(conn);
    let ok =
        target.iter().any(|g| (g.community == Some(c) || g.community.is_none()) && g.role.allows(Permission::FollowUp));
    if !ok {
        return Err(AppError::field("to_user_id", ValidationError::new("followup.assignee_unknown")));
    }
    if f.excluded_user_id == Some(input.to_user_id) {
        return Err(AppError::field("to_user_id", ValidationError::new("followup.subject_excluded")));
    }
    let state = VisitState::parse(&f.state).map_err(|_| AppError::Internal(format!("follow-up {id} state")))?;
    visit::check_reassign(state, f.assigned_to, input.to_user_id).map_err(|r| AppError::rejected(r.0))?;
    let mut tx = app.store.begin().await?;
    if !sf::reassign(&mut tx, id, input.version, input.to_user_id).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    let dedupe = format!("follow_up_assigned:{}:{}:{}", f.sheet_id, input.to_user_id, f.version + 1);
    notify::send(
        app,
        &mut tx,
        input.to_user_id,
        c,
        f.sheet_id,
        &f.number,
        Some(f.due_at),
        "follow_up_assigned",
        &dedupe,
    )
    .await?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "follow_up.reassigned",
        "follow_up",
        id,
        json!({"sheet": f.number, "from": f.assigned_to, "to": input.to_user_id}),
    )
    .await?;
    tx.commit().await?;
    get(app, actor, id).await
}

/// The follow-up ledger (回访登记台帐, R-FU-5): follow-ups recorded in `[from, to)`.
pub async fn ledger(app: &App, actor: &Actor, c: i64, f: sf::LedgerFilter) -> AppResult<Vec<sf::FollowUp>> {
    actor.may_read(Permission::FollowUp, c)?;
    let f = sf::LedgerFilter { limit: f.limit.clamp(1, 100_000), offset: f.offset.max(0), ..f };
    Ok(sf::ledger(app.store.read(), c, &f).await?)
}

/// The whole ledger's follow-ups in its order, for a download ([`ledger_rows`] reads the
/// rows a page at a time).
pub async fn ledger_keys(app: &App, actor: &Actor, c: i64, f: &sf::LedgerFilter) -> AppResult<Vec<i64>> {
    actor.may_read(Permission::FollowUp, c)?;
    Ok(sf::ledger_keys(app.store.read(), c, f).await?)
}

/// Follow-ups of the ledger by id, in that order.
pub async fn ledger_rows(app: &App, actor: &Actor, c: i64, ids: &[i64]) -> AppResult<Vec<sf::FollowUp>> {
    actor.may_read(Permission::FollowUp, c)?;
    Ok(sf::follow_ups_by_id(app.store.read(), c, ids).await?)
}

/// Tell assignees (and the customer-service managers) of tasks past their time limit,
/// once each. Run by the scheduler.
pub async fn tick_overdue(app: &App, now: i64) -> AppResult<usize> {
    let due = sf::overdue(app.store.read(), now, 500).await?;
    let mut sent = 0;
    for (id, c) in due {
        let Some(f) = sf::follow_up(app.store.read(), id).await? else { continue };
        let mut tx = app.store.begin().await?;
        if !sf::claim_overdue(&mut tx, id, now).await? {
            continue;
        }
        let mut to: Vec<i64> = f.assigned_to.into_iter().collect();
        to.extend(srq::users_with_roles(&mut tx, c, &["cs_manager"]).await?);
        to.sort_unstable();
        to.dedup();
        for u in to {
            let dedupe = format!("follow_up_overdue:{id}:{u}");
            sent += usize::from(
                notify::send(app, &mut tx, u, c, f.sheet_id, &f.number, Some(f.due_at), "follow_up_overdue", &dedupe)
                    .await?,
            );
        }
        crate::app::audit::record_system(
            app,
            &mut tx,
            now,
            Some(c),
            "follow_up.overdue",
            "follow_up",
            id,
            json!({"sheet": f.number, "due_at": f.due_at, "assigned_to": f.assigned_to}),
            "R-FU-3",
        )
        .await?;
        tx.commit().await?;
    }
    Ok(sent)
}

// ---- corrective actions (R-FU-4) ----

pub async fn capas(app: &App, actor: &Actor, c: i64, open_only: bool) -> AppResult<Vec<sf::Capa>> {
    actor.may_read(Permission::FollowUp, c)?;
    Ok(sf::capas(app.store.read(), c, open_only, 500).await?)
}

async fn load_capa(app: &App, actor: &Actor, id: i64) -> AppResult<(sf::Capa, CapaState)> {
    let r = sf::capa(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(r.community_id)?;
    let state = CapaState::parse(&r.state).map_err(|_| AppError::Internal(format!("capa {id} state")))?;
    Ok((r, state))
}

/// A report, for customer service and for the person responsible for its action.
pub async fn capa(app: &App, actor: &Actor, id: i64) -> AppResult<sf::Capa> {
    let (r, _) = load_capa(app, actor, id).await?;
    if r.responsible_id != Some(actor.user_id()) {
        actor.may_read(Permission::FollowUp, r.community_id)?;
    }
    Ok(r)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CapaPlanInput {
    pub version: i64,
    pub cause: String,
    pub action: String,
    /// A member of staff of the community.
    pub responsible_id: i64,
    /// Epoch ms.
    pub due_at: i64,
}

/// The manager (or the director) sets the cause, the action, who and by when.
pub async fn plan_capa(app: &App, actor: &Actor, id: i64, input: &CapaPlanInput) -> AppResult<sf::Capa> {
    let (r, state) = load_capa(app, actor, id).await?;
    let c = r.community_id;
    let authority = actor.authorize(Permission::ReviewFollowUp, c)?;
    let mut errors = FieldErrors::default();
    for (field, text) in [("cause", &input.cause), ("action", &input.action)] {
        if text.chars().count() > TEXT_MAX {
            errors.push(field, ValidationError::new("text.too_long").with("max", TEXT_MAX));
        }
    }
    let mut conn = app.store.read().acquire().await?;
    let grants = sa::grants(&mut conn, input.responsible_id).await?;
    drop(conn);
    if !grants.iter().any(|g| g.community == Some(c) || g.community.is_none()) {
        errors.push("responsible_id", ValidationError::new("capa.responsible_unknown"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let plan = CapaPlan {
        cause: input.cause.trim().into(),
        action: input.action.trim().into(),
        responsible: input.responsible_id,
        due_at: input.due_at,
    };
    let now = app.clock.now();
    plan.check(state, now).map_err(|x| AppError::rejected(x.0))?;
    let mut tx = app.store.begin().await?;
    if !sf::plan_capa(
        &mut tx,
        id,
        input.version,
        &plan.cause,
        &plan.action,
        plan.responsible,
        plan.due_at,
        actor.user_id(),
        now,
    )
    .await?
    {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    let dedupe = format!("capa_assigned:{id}:{}:{}", plan.responsible, r.rounds + 1);
    notify::send(app, &mut tx, plan.responsible, c, r.sheet_id, &r.number, Some(plan.due_at), "capa_assigned", &dedupe)
        .await?;
    audit::record(app,&mut tx, actor, &authority, "capa.planned", "capa", id, json!({"sheet": r.number, "cause": plan.cause, "action": plan.action, "responsible_id": plan.responsible, "due_at": plan.due_at})).await?;
    tx.commit().await?;
    capa(app, actor, id).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CapaNoteInput {
    pub version: i64,
    pub note: String,
}

/// The person responsible (or a manager) records what was done.
pub async fn implement_capa(app: &App, actor: &Actor, id: i64, input: &CapaNoteInput) -> AppResult<sf::Capa> {
    let now = app.clock.now();
    let (r, state) = load_capa(app, actor, id).await?;
    let c = r.community_id;
    let authority = if r.responsible_id == Some(actor.user_id()) {
        actor.authorize(Permission::ViewCommunity, c)?
    } else {
        actor.authorize(Permission::ReviewFollowUp, c)?
    };
    if input.note.chars().count() > TEXT_MAX {
        return Err(AppError::field("note", ValidationError::new("text.too_long").with("max", TEXT_MAX)));
    }
    capa::check_implemented(state, &input.note).map_err(|x| AppError::rejected(x.0))?;
    let mut tx = app.store.begin().await?;
    if !sf::implement_capa(&mut tx, id, input.version, input.note.trim(), actor.user_id(), now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    for u in srq::users_with_roles(&mut tx, c, &["cs_manager"]).await? {
        let dedupe = format!("capa_implemented:{id}:{u}:{}", r.version + 1);
        notify::send(app, &mut tx, u, c, r.sheet_id, &r.number, None, "capa_implemented", &dedupe).await?;
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "capa.implemented",
        "capa",
        id,
        json!({"sheet": r.number, "note": input.note.trim()}),
    )
    .await?;
    tx.commit().await?;
    capa(app, actor, id).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CapaVerifyInput {
    pub version: i64,
    /// Did the action work? Not effective sends the report back for a new plan.
    pub effective: bool,
    pub note: String,
}

/// Verification, signed by the customer-service manager or the centre director.
pub async fn verify_capa(app: &App, actor: &Actor, id: i64, input: &CapaVerifyInput) -> AppResult<sf::Capa> {
    let now = app.clock.now();
    let (r, state) = load_capa(app, actor, id).await?;
    let authority = actor.authorize(Permission::ReviewFollowUp, r.community_id)?;
    if input.note.chars().count() > TEXT_MAX {
        return Err(AppError::field("note", ValidationError::new("text.too_long").with("max", TEXT_MAX)));
    }
    let next = capa::verify(state, input.effective, &input.note).map_err(|x| AppError::rejected(x.0))?;
    let mut tx = app.store.begin().await?;
    if !sf::verify_capa(&mut tx, id, input.version, next.as_str(), input.note.trim(), actor.user_id(), now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "capa.verified",
        "capa",
        id,
        json!({"sheet": r.number, "effective": input.effective, "state": next.as_str(), "note": input.note.trim()}),
    )
    .await?;
    tx.commit().await?;
    capa(app, actor, id).await
}

// ---- the rules and the sampling audit ----

pub async fn settings(app: &App, actor: &Actor, c: i64) -> AppResult<sf::Settings> {
    actor.sees(c)?;
    settings_or_default(app, c).await
}

/// The rules an administrator edits (R-FU-1, R-FU-2, R-FU-3).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = FollowUpSettingsInput)]
pub struct SettingsInput {
    /// The version read; 0 while the community still runs on the defaults.
    pub version: i64,
    pub repair_rate: i64,
    pub special_service_rate: i64,
    pub delivery_rate: i64,
    pub event_rate: i64,
    /// Hours from collection to the follow-up's time limit.
    pub due_hours: i64,
    /// The most phone follow-ups may be of the year's, in percent (70 in the manual): a
    /// phone follow-up beyond it is refused ("不得超过").
    pub phone_cap_pct: i64,
    /// Attempts to reach a resident before the task is recorded as not reached (1–10).
    #[serde(default = "three")]
    pub max_attempts: i64,
}

fn three() -> i64 {
    3
}

pub async fn save_settings(app: &App, actor: &Actor, c: i64, input: &SettingsInput) -> AppResult<sf::Settings> {
    let authority = actor.authorize(Permission::ManageRequests, c)?;
    app.community_exists(c).await?;
    let mut errors =
        match Rates::parse(input.repair_rate, input.special_service_rate, input.delivery_rate, input.event_rate) {
            Ok(_) => FieldErrors::default(),
            Err(e) => e,
        };
    if !(1..=720).contains(&input.due_hours) {
        errors.push("due_hours", ValidationError::new("followup_due.range").with("min", 1).with("max", 720));
    }
    if !(0..=100).contains(&input.phone_cap_pct) {
        errors.push("phone_cap_pct", ValidationError::new("followup_rate.range"));
    }
    if !(1..=10).contains(&input.max_attempts) {
        errors.push("max_attempts", ValidationError::new("number.range").with("min", 1).with("max", 10));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let before = settings_or_default(app, c).await?;
    let mut tx = app.store.begin().await?;
    let current = sf::ensure_settings(&mut tx, c, &new_key()).await?;
    // A community still on the defaults saves against version 0, which is the row just
    // made; anyone else's save since then is a conflict.
    let version = if input.version == 0 && before.version == 0 { current.version } else { input.version };
    let update = sf::SettingsUpdate {
        repair_rate: input.repair_rate,
        special_service_rate: input.special_service_rate,
        delivery_rate: input.delivery_rate,
        event_rate: input.event_rate,
        due_hours: input.due_hours,
        phone_cap_pct: input.phone_cap_pct,
        max_attempts: input.max_attempts,
    };
    if !sf::save_settings(&mut tx, c, version, &update).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "follow_up.settings_saved",
        "community",
        c,
        json!({
            "repair_rate": [current.repair_rate, update.repair_rate],
            "special_service_rate": [current.special_service_rate, update.special_service_rate],
            "delivery_rate": [current.delivery_rate, update.delivery_rate],
            "event_rate": [current.event_rate, update.event_rate],
            "due_hours": [current.due_hours, update.due_hours],
            "phone_cap_pct": [current.phone_cap_pct, update.phone_cap_pct],
            "max_attempts": [current.max_attempts, update.max_attempts],
        }),
    )
    .await?;
    tx.commit().await?;
    settings_or_default(app, c).await
}

/// One reason's month in the sampling audit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReasonMonth {
    pub reason: String,
    pub collected: i64,
    pub selected: i64,
    /// The rate the last decision was taken at.
    pub rate: i64,
    /// ⌈rate × collected⌉: the month may not end below it.
    pub required: i64,
    /// Selected because drawn, and taken to keep the rate.
    pub drawn: i64,
    pub floor: i64,
}

/// A decision the replay does not reproduce.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Mismatch {
    pub number: String,
    pub reason: String,
    pub seq: i64,
    pub stored_draw: i64,
    pub draw: i64,
    pub stored_selected: bool,
    pub selected: bool,
}

/// A month's sampling, replayed from the key (R-FU-1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SamplingMonth {
    pub period: String,
    /// The community's sampling key (hex): with it anyone can recompute every draw as
    /// HMAC-SHA256(key, sheet number), first eight bytes big-endian, mod 10,000.
    pub sampling_key: String,
    pub reasons: Vec<ReasonMonth>,
    pub decisions: Vec<sf::Decision>,
    /// Empty: every decision is what the rules give.
    pub mismatches: Vec<Mismatch>,
}

pub async fn sampling(app: &App, actor: &Actor, c: i64, period: &str) -> AppResult<SamplingMonth> {
    actor.authorize(Permission::ViewAudit, c)?;
    let ok = period.len() == 7
        && period.as_bytes()[4] == b'-'
        && chrono::NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").is_ok();
    if !ok {
        return Err(AppError::field("period", ValidationError::new("followup_period.format")));
    }
    let settings = settings_or_default(app, c).await?;
    let key = key_bytes(&settings);
    let decisions = sf::decisions(app.store.read(), c, period).await?;
    let mut reasons: Vec<ReasonMonth> = vec![];
    let mut mismatches = vec![];
    for r in Reason::ALL {
        let of: Vec<&sf::Decision> = decisions.iter().filter(|d| d.reason == r.as_str()).collect();
        if of.is_empty() {
            continue;
        }
        let draws: Vec<(u8, u32)> = of
            .iter()
            .map(|d| (u8::try_from(d.rate.clamp(0, 100)).unwrap_or(100), sampling::draw(&key, &d.number)))
            .collect();
        let replayed = sampling::replay(&draws);
        for ((d, (_, draw)), again) in of.iter().zip(&draws).zip(&replayed) {
            if i64::from(*draw) != d.draw || again.selected != (d.selected == 1) || again.cause.as_str() != d.cause {
                mismatches.push(Mismatch {
                    number: d.number.clone(),
                    reason: d.reason.clone(),
                    seq: d.seq,
                    stored_draw: d.draw,
                    draw: i64::from(*draw),
                    stored_selected: d.selected == 1,
                    selected: again.selected,
                });
            }
        }
        let rate = of.last().map(|d| d.rate).unwrap_or(0);
        let n = of.len() as i64;
        let count = |cause: Cause| of.iter().filter(|d| d.cause == cause.as_str()).count() as i64;
        reasons.push(ReasonMonth {
            reason: r.as_str().to_string(),
            collected: n,
            selected: of.iter().filter(|d| d.selected == 1).count() as i64,
            rate,
            required: i64::from(sampling::floor_count(u8::try_from(rate.clamp(0, 100)).unwrap_or(100), n as u32)),
            drawn: count(Cause::Drawn) + count(Cause::Always),
            floor: count(Cause::Floor),
        });
    }
    Ok(SamplingMonth {
        period: period.to_string(),
        sampling_key: settings.sampling_key.clone(),
        reasons,
        decisions,
        mismatches,
    })
}

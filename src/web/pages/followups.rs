//! Follow-up pages (R-FU-1 … R-FU-5): the task lists with the year's phone share, a task
//! with its record form (signature pad in person, the phone cap), its earlier attempts, the
//! manager's review, reassignment, the corrective-action report, the community's rules,
//! the monthly sampling audit and the follow-up ledger with its export.

use super::requests::local_ms;
use super::sheets::{communities, pick};
use super::{Chrome, Form, OrPage, PageResult, page, render, see_other, when};
use crate::app::{AppError, followup as fu};
use crate::store::followup as sf;
use crate::web::extract::Ctx;
use crate::web::{AppState, export};
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use huiqian_domain::auth::Permission;
use huiqian_domain::followup::capa::CapaState;
use huiqian_domain::followup::sampling::{Cause, Reason};
use huiqian_domain::followup::visit::{Method, Outcome, VisitState};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/follow-ups", get(list))
        .route("/follow-ups/{id}", get(show))
        .route("/follow-ups/{id}/record", post(record))
        .route("/follow-ups/{id}/review", post(review))
        .route("/follow-ups/{id}/reassign", post(reassign))
        .route("/capas", get(capa_list))
        .route("/capas/{id}/plan", post(capa_plan))
        .route("/capas/{id}/implement", post(capa_implement))
        .route("/capas/{id}/verify", post(capa_verify))
        .route("/follow-up-settings", get(settings).post(save_settings))
        .route("/follow-up-sampling", get(sampling))
        .route("/follow-up-ledger", get(ledger))
}

fn reason_label(c: &Chrome, code: &str) -> String {
    c.label_code(Reason::parse(code).ok(), code)
}
fn state_label(c: &Chrome, code: &str) -> String {
    c.label_code(VisitState::parse(code).ok(), code)
}
fn method_label(c: &Chrome, code: &str) -> String {
    c.label_code(Method::parse(code).ok(), code)
}
fn outcome_label(c: &Chrome, code: &str) -> String {
    c.label_code(Outcome::parse(code).ok(), code)
}
fn capa_label(c: &Chrome, code: &str) -> String {
    c.label_code(CapaState::parse(code).ok(), code)
}
fn cause_label(c: &Chrome, code: &str) -> String {
    c.label_code(Cause::parse(code).ok(), code)
}

fn community_options(list: &[crate::store::org::Community]) -> Vec<(String, String)> {
    list.iter().map(|x| (x.id.to_string(), x.name.clone())).collect()
}

/// One task as the lists show it.
pub struct Row {
    pub f: sf::FollowUp,
    pub reason: String,
    pub state: String,
    pub due: String,
    pub overdue: bool,
    pub method: String,
    pub outcome: String,
    pub recorded: String,
}

fn row(c: &Chrome, tz: chrono_tz::Tz, f: sf::FollowUp, now: i64) -> Row {
    Row {
        reason: reason_label(c, &f.reason),
        state: state_label(c, &f.state),
        due: when(f.due_at, tz),
        overdue: f.state == "pending" && f.due_at < now,
        method: f.method.as_deref().map(|m| method_label(c, m)).unwrap_or_default(),
        outcome: f.outcome.as_deref().map(|o| outcome_label(c, o)).unwrap_or_default(),
        recorded: f.recorded_at.map(|t| when(t, tz)).unwrap_or_default(),
        f,
    }
}

// ---- the task lists ----

#[derive(Deserialize, Default)]
struct ListQuery {
    community_id: Option<i64>,
    list: Option<String>,
}

#[derive(Template)]
#[template(path = "followups/list.html")]
struct ListPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    list: String,
    tabs: Vec<(String, String)>,
    rows: Vec<Row>,
    share: fu::Share,
    can_audit: bool,
    can_settings: bool,
}

async fn list(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> PageResult {
    let all = communities(&s, &ctx, Permission::FollowUp).await?;
    let cm = pick(&all, q.community_id, ctx.lang)?;
    let can_review = ctx.actor.authorize(Permission::ReviewFollowUp, cm.id).is_ok();
    let (which, name) = match q.list.as_deref() {
        Some("pending") => (fu::Tasks::Pending, "pending"),
        Some("review") if can_review => (fu::Tasks::Review, "review"),
        _ => (fu::Tasks::Mine, "mine"),
    };
    let p = fu::tasks(&s.app, &ctx.actor, cm.id, which, 200, 0).await.page(ctx.lang)?;
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    let c = Chrome::of(&ctx);
    let mut tabs = vec![
        ("mine".to_string(), c.t.get("followup.mine").to_string()),
        ("pending".to_string(), c.t.get("followup.pending").to_string()),
    ];
    if can_review {
        tabs.push(("review".to_string(), c.t.get("followup.to_review").to_string()));
    }
    Ok(render(&ListPage {
        rows: p.items.into_iter().map(|f| row(&c, zone, f, ctx.now)).collect(),
        share: p.share,
        communities: community_options(&all),
        community_id: cm.id,
        list: name.to_string(),
        tabs,
        can_audit: ctx.actor.authorize(Permission::ViewAudit, cm.id).is_ok(),
        can_settings: ctx.actor.authorize(Permission::ManageRequests, cm.id).is_ok(),
        c,
    }))
}

// ---- one task ----

#[derive(Template)]
#[template(path = "followups/show.html")]
struct ShowPage {
    c: Chrome,
    r: Row,
    capa: Option<CapaView>,
    share: fu::Share,
    f: Form,
    methods: Vec<(String, String)>,
    outcomes: Vec<(String, String)>,
    /// Earlier attempts that did not reach the resident.
    attempts: Vec<(sf::Attempt, String, String)>,
    max_attempts: i64,
    can_record: bool,
    can_review: bool,
    can_reassign: bool,
    colleagues: Vec<(String, String)>,
    staff: Vec<(String, String)>,
    pad: String,
    now_local: String,
}

pub struct CapaView {
    pub r: sf::Capa,
    pub state: String,
    pub due: String,
    pub can_plan: bool,
    pub can_implement: bool,
    pub can_verify: bool,
}

fn local_input(ms: i64, tz: chrono_tz::Tz) -> String {
    huiqian_domain::time::format_local_input(ms, tz)
}

async fn show_view(s: &AppState, ctx: &Ctx, id: i64, f: Form, status: StatusCode) -> PageResult {
    let d = fu::get(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let cid = d.follow_up.community_id;
    let tz = super::community_zone(s, ctx, cid).await?;
    let c = Chrome::of(ctx);
    let can_review = ctx.actor.authorize(Permission::ReviewFollowUp, cid).is_ok();
    let can_reassign = ctx.actor.authorize(Permission::ReassignSheet, cid).is_ok();
    let members = crate::app::auth::community_members(&s.app, &ctx.actor, cid).await.page(ctx.lang)?;
    let mut colleagues: Vec<(String, String)> = vec![];
    let mut staff: Vec<(String, String)> = vec![];
    for (id, name, role) in &members {
        let entry = (id.to_string(), name.clone());
        // The person a complaint is about is never offered its follow-up (R-CMP-7).
        let follows = huiqian_domain::auth::Role::parse(role).is_some_and(|r| r.allows(Permission::FollowUp))
            && d.follow_up.excluded_user_id != Some(*id);
        if follows && !colleagues.contains(&entry) {
            colleagues.push(entry.clone());
        }
        if !staff.contains(&entry) {
            staff.push(entry);
        }
    }
    let capa = d.capa.map(|r| {
        let st = CapaState::parse(&r.state).ok();
        CapaView {
            state: capa_label(&c, &r.state),
            due: r.due_at.map(|t| when(t, tz)).unwrap_or_default(),
            can_plan: can_review && matches!(st, Some(CapaState::Open | CapaState::Planned)),
            can_implement: st == Some(CapaState::Planned)
                && (can_review || r.responsible_id == Some(ctx.actor.user_id())),
            can_verify: can_review && st == Some(CapaState::Implemented),
            r,
        }
    });
    let now_local = local_input(ctx.now, tz);
    // A plan being revised starts from the current one.
    let mut f = f;
    if let Some(x) = capa.as_ref().filter(|x| x.can_plan && !x.r.cause.is_empty())
        && f.values.is_empty()
    {
        f.values.insert("cause".into(), x.r.cause.clone());
        f.values.insert("action".into(), x.r.action.clone());
        f.values.insert("responsible_id".into(), x.r.responsible_id.map(|r| r.to_string()).unwrap_or_default());
        f.values.insert("due_at".into(), x.r.due_at.map(|t| local_input(t, tz)).unwrap_or_default());
    }
    let attempts = d
        .attempts
        .into_iter()
        .map(|a| {
            let method = Method::parse(&a.method).map(|m| c.label(m).to_string()).unwrap_or_default();
            let at = when(a.contacted_at, tz);
            (a, method, at)
        })
        .collect();
    let view = ShowPage {
        attempts,
        max_attempts: d.max_attempts,
        can_record: d.follow_up.state == "pending"
            && ctx.actor.authorize(Permission::FollowUp, cid).is_ok()
            && d.follow_up.excluded_user_id != Some(ctx.actor.user_id()),
        can_review: can_review && d.follow_up.state == "done",
        can_reassign: can_reassign && d.follow_up.state == "pending",
        pad: format!("fu-sig-{id}"),
        r: row(&c, tz, d.follow_up, ctx.now),
        capa,
        share: d.share,
        f,
        methods: c.options(Method::ALL),
        // The result is what the resident said: nothing is chosen for the visitor.
        outcomes: std::iter::once((String::new(), c.t.get("followup.choose_outcome").to_string()))
            .chain(c.options(Outcome::ALL))
            .collect(),
        colleagues,
        staff,
        now_local,
        c,
    };
    Ok(page(status, &view))
}

async fn show(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    show_view(&s, &ctx, id, Form::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
struct RecordForm {
    version: i64,
    #[serde(default)]
    method: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    contacted_at: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    signer: String,
    /// "1" when the signature was typed with the keyboard and confirmed.
    #[serde(default)]
    signature_typed: String,
}

async fn record(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<RecordForm>) -> PageResult {
    let mut form = Form::with(&[
        ("method", f.method.clone()),
        ("outcome", f.outcome.clone()),
        ("content", f.content.clone()),
        ("contacted_at", f.contacted_at.clone()),
        ("signer", f.signer.clone()),
    ]);
    let task = fu::get(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let tz = super::community_zone(&s, &ctx, task.follow_up.community_id).await?;
    let contacted_at = if f.contacted_at.trim().is_empty() {
        None
    } else {
        match local_ms(&f.contacted_at, tz) {
            Some(t) => Some(t),
            None => {
                let e =
                    AppError::field("contacted_at", huiqian_domain::validation::ValidationError::new("date.invalid"));
                let st = form.fail(e, ctx.lang)?;
                return show_view(&s, &ctx, id, form, st).await;
            }
        }
    };
    let input = fu::RecordInput {
        version: f.version,
        method: f.method.clone(),
        outcome: f.outcome.clone(),
        content: f.content.clone(),
        contacted_at,
        signature: f.signature.clone(),
        signer: f.signer.clone(),
        signature_typed: f.signature_typed == "1",
    };
    match fu::record(&s.app, &ctx.actor, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/follow-ups/{id}"))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            show_view(&s, &ctx, id, form, st).await
        }
    }
}

#[derive(Deserialize, Default)]
struct ReviewForm {
    version: i64,
    #[serde(default)]
    remarks: String,
}

async fn review(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<ReviewForm>) -> PageResult {
    let mut form = Form::with(&[("remarks", f.remarks.clone())]);
    match fu::review(&s.app, &ctx.actor, id, &fu::ReviewInput { version: f.version, remarks: f.remarks.clone() }).await
    {
        Ok(_) => Ok(see_other(&format!("/follow-ups/{id}"))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            show_view(&s, &ctx, id, form, st).await
        }
    }
}

#[derive(Deserialize, Default)]
struct ReassignForm {
    version: i64,
    #[serde(default)]
    to_user_id: String,
}

async fn reassign(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<ReassignForm>,
) -> PageResult {
    let mut form = Form::with(&[("to_user_id", f.to_user_id.clone())]);
    let input = fu::ReassignInput { version: f.version, to_user_id: f.to_user_id.trim().parse().unwrap_or(0) };
    match fu::reassign(&s.app, &ctx.actor, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/follow-ups/{id}"))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            show_view(&s, &ctx, id, form, st).await
        }
    }
}

// ---- corrective actions ----

#[derive(Deserialize, Default)]
struct CapaListQuery {
    community_id: Option<i64>,
    all: Option<String>,
}

#[derive(Template)]
#[template(path = "followups/capas.html")]
struct CapaListPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    all: bool,
    rows: Vec<(sf::Capa, String, String)>,
}

async fn capa_list(State(s): State<AppState>, ctx: Ctx, Query(q): Query<CapaListQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::FollowUp).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let all = q.all.is_some_and(|a| !a.is_empty());
    let rows = fu::capas(&s.app, &ctx.actor, cm.id, !all).await.page(ctx.lang)?;
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    let c = Chrome::of(&ctx);
    let rows = rows
        .into_iter()
        .map(|r| {
            let st = capa_label(&c, &r.state);
            let due = r.due_at.map(|t| when(t, zone)).unwrap_or_default();
            (r, st, due)
        })
        .collect();
    Ok(render(&CapaListPage { communities: community_options(&list), community_id: cm.id, all, rows, c }))
}

/// After a step on a report, back to its follow-up.
async fn after_capa(s: &AppState, ctx: &Ctx, id: i64, r: Result<sf::Capa, AppError>, mut form: Form) -> PageResult {
    let report = fu::capa(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    match r {
        Ok(_) => Ok(see_other(&format!("/follow-ups/{}#capa", report.follow_up_id))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            show_view(s, ctx, report.follow_up_id, form, st).await
        }
    }
}

#[derive(Deserialize, Default)]
struct PlanForm {
    version: i64,
    #[serde(default)]
    cause: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    responsible_id: String,
    #[serde(default)]
    due_at: String,
}

async fn capa_plan(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<PlanForm>,
) -> PageResult {
    let form = Form::with(&[
        ("cause", f.cause.clone()),
        ("action", f.action.clone()),
        ("responsible_id", f.responsible_id.clone()),
        ("due_at", f.due_at.clone()),
    ]);
    let report = fu::capa(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let tz = super::community_zone(&s, &ctx, report.community_id).await?;
    let due = local_ms(&f.due_at, tz);
    let r = match due {
        None => Err(AppError::field("due_at", huiqian_domain::validation::ValidationError::new("date.invalid"))),
        Some(due_at) => {
            let input = fu::CapaPlanInput {
                version: f.version,
                cause: f.cause.clone(),
                action: f.action.clone(),
                responsible_id: f.responsible_id.trim().parse().unwrap_or(0),
                due_at,
            };
            fu::plan_capa(&s.app, &ctx.actor, id, &input).await
        }
    };
    after_capa(&s, &ctx, id, r, form).await
}

#[derive(Deserialize, Default)]
struct NoteForm {
    version: i64,
    #[serde(default)]
    note: String,
    #[serde(default)]
    effective: String,
}

async fn capa_implement(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<NoteForm>,
) -> PageResult {
    let form = Form::with(&[("note", f.note.clone())]);
    let r = fu::implement_capa(&s.app, &ctx.actor, id, &fu::CapaNoteInput { version: f.version, note: f.note.clone() })
        .await;
    after_capa(&s, &ctx, id, r, form).await
}

async fn capa_verify(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<NoteForm>,
) -> PageResult {
    let form = Form::with(&[("verify_note", f.note.clone())]);
    let input = fu::CapaVerifyInput { version: f.version, effective: f.effective == "yes", note: f.note.clone() };
    let r = fu::verify_capa(&s.app, &ctx.actor, id, &input).await;
    after_capa(&s, &ctx, id, r, form).await
}

// ---- the rules ----

#[derive(Deserialize, Default)]
struct CommunityQuery {
    community_id: Option<i64>,
    saved: Option<String>,
    period: Option<String>,
}

#[derive(Template)]
#[template(path = "followups/settings.html")]
struct SettingsPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    version: i64,
    f: Form,
    saved: bool,
}

async fn settings_view(
    s: &AppState,
    ctx: &Ctx,
    wanted: Option<i64>,
    form: Option<Form>,
    status: StatusCode,
    saved: bool,
) -> PageResult {
    let list = communities(s, ctx, Permission::ManageRequests).await?;
    let cm = pick(&list, wanted, ctx.lang)?;
    let cur = fu::settings(&s.app, &ctx.actor, cm.id).await.page(ctx.lang)?;
    let f = form.unwrap_or_else(|| {
        Form::with(&[
            ("repair_rate", cur.repair_rate.to_string()),
            ("special_service_rate", cur.special_service_rate.to_string()),
            ("delivery_rate", cur.delivery_rate.to_string()),
            ("event_rate", cur.event_rate.to_string()),
            ("due_hours", cur.due_hours.to_string()),
            ("phone_cap_pct", cur.phone_cap_pct.to_string()),
            ("max_attempts", cur.max_attempts.to_string()),
        ])
    });
    let c = Chrome::of(ctx);
    let view =
        SettingsPage { communities: community_options(&list), community_id: cm.id, version: cur.version, f, saved, c };
    Ok(page(status, &view))
}

async fn settings(State(s): State<AppState>, ctx: Ctx, Query(q): Query<CommunityQuery>) -> PageResult {
    settings_view(&s, &ctx, q.community_id, None, StatusCode::OK, q.saved.is_some()).await
}

#[derive(Deserialize, Default)]
struct SettingsForm {
    community_id: i64,
    version: i64,
    #[serde(default)]
    repair_rate: String,
    #[serde(default)]
    special_service_rate: String,
    #[serde(default)]
    delivery_rate: String,
    #[serde(default)]
    event_rate: String,
    #[serde(default)]
    due_hours: String,
    #[serde(default)]
    phone_cap_pct: String,
    #[serde(default)]
    max_attempts: String,
}

async fn save_settings(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<SettingsForm>) -> PageResult {
    let mut form = Form::with(&[
        ("repair_rate", f.repair_rate.clone()),
        ("special_service_rate", f.special_service_rate.clone()),
        ("delivery_rate", f.delivery_rate.clone()),
        ("event_rate", f.event_rate.clone()),
        ("due_hours", f.due_hours.clone()),
        ("phone_cap_pct", f.phone_cap_pct.clone()),
        ("max_attempts", f.max_attempts.clone()),
    ]);
    // A number that is not a number is out of range (-1 fails every rule).
    let n = |v: &str| v.trim().parse::<i64>().unwrap_or(-1);
    let input = fu::SettingsInput {
        version: f.version,
        repair_rate: n(&f.repair_rate),
        special_service_rate: n(&f.special_service_rate),
        delivery_rate: n(&f.delivery_rate),
        event_rate: n(&f.event_rate),
        due_hours: n(&f.due_hours),
        phone_cap_pct: n(&f.phone_cap_pct),
        max_attempts: n(&f.max_attempts),
    };
    match fu::save_settings(&s.app, &ctx.actor, f.community_id, &input).await {
        Ok(_) => Ok(see_other(&format!("/follow-up-settings?community_id={}&saved=1", f.community_id))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            settings_view(&s, &ctx, Some(f.community_id), Some(form), st, false).await
        }
    }
}

// ---- the sampling audit ----

#[derive(Template)]
#[template(path = "followups/sampling.html")]
struct SamplingPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    m: fu::SamplingMonth,
    reasons: Vec<(String, fu::ReasonMonth)>,
    decisions: Vec<(sf::Decision, String, String, String)>,
}

async fn sampling(State(s): State<AppState>, ctx: Ctx, Query(q): Query<CommunityQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::ViewAudit).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    let period = q.period.filter(|p| !p.trim().is_empty()).unwrap_or_else(|| fu::period_of(zone, ctx.now));
    let m = fu::sampling(&s.app, &ctx.actor, cm.id, period.trim()).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let reasons = m.reasons.iter().map(|r| (reason_label(&c, &r.reason), r.clone())).collect();
    let decisions = m
        .decisions
        .iter()
        .map(|d| (d.clone(), reason_label(&c, &d.reason), cause_label(&c, &d.cause), when(d.decided_at, zone)))
        .collect();
    Ok(render(&SamplingPage { communities: community_options(&list), community_id: cm.id, m, reasons, decisions, c }))
}

// ---- the follow-up ledger (回访登记台帐) ----

#[derive(Deserialize, Default)]
struct LedgerQuery {
    community_id: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    /// `csv` or `xlsx` to download what the page shows, in its order.
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "followups/ledger.html")]
struct LedgerPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    f: Form,
    headers: Vec<export::Header>,
    sort: export::Sort,
    lines: Vec<(i64, Vec<String>)>,
    /// The filters and the order, for the export links.
    query: String,
}

fn day_start(s: &str, tz: chrono_tz::Tz) -> Option<i64> {
    local_ms(&format!("{}T00:00", s.trim()), tz)
}

/// The ledger's columns: message key, the width an export needs, and the column of
/// `sf::LEDGER_SORTS` it sorts by.
const LEDGER_COLUMNS: [(&str, usize, Option<&str>); 12] = [
    ("ledger.number", 16, Some("number")),
    ("followup.reason", 10, Some("reason")),
    ("unit.room_no", 10, Some("room")),
    ("sheet.requester", 8, Some("requester")),
    ("followup.method", 8, Some("method")),
    ("followup.outcome", 8, Some("outcome")),
    ("followup.content", 30, None),
    ("followup.contacted_at", 17, Some("contacted_at")),
    ("followup.recorded_by", 8, Some("recorded_by")),
    ("followup.remarks", 20, None),
    ("followup.reviewer", 8, Some("reviewer")),
    ("followup.capa", 10, Some("capa")),
];

/// A follow-up as a row of the ledger, in [`LEDGER_COLUMNS`]' order.
fn ledger_cells(c: &Chrome, tz: chrono_tz::Tz, f: &sf::FollowUp) -> Vec<String> {
    vec![
        f.number.clone(),
        reason_label(c, &f.reason),
        f.room_no.clone().unwrap_or_default(),
        f.requester_name.clone(),
        f.method.as_deref().map(|m| method_label(c, m)).unwrap_or_default(),
        f.outcome.as_deref().map(|o| outcome_label(c, o)).unwrap_or_default(),
        f.content.clone(),
        f.contacted_at.map(|t| when(t, tz)).unwrap_or_default(),
        f.recorded_by_name.clone().unwrap_or_default(),
        f.remarks.clone(),
        f.reviewer_name.clone().unwrap_or_default(),
        f.capa_state.as_deref().map(|x| capa_label(c, x)).unwrap_or_default(),
    ]
}

/// The follow-up ledger (回访登记台帐, R-FU-5) of a period as a page, sortable by its
/// columns, and as CSV or XLSX.
async fn ledger(State(s): State<AppState>, ctx: Ctx, Query(q): Query<LedgerQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::FollowUp).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let tz = super::community_zone(&s, &ctx, cm.id).await?;
    let today = crate::app::people::today_in(tz, ctx.now);
    let from_s = q.from.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| today.format("%Y-%m-01").to_string());
    let to_s = q.to.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| today.to_string());
    let from = day_start(&from_s, tz).unwrap_or(0);
    let to = day_start(&to_s, tz).map(|t| t + 24 * 3_600_000).unwrap_or(i64::MAX);
    let sort = export::Sort::parse(q.sort.as_deref(), q.dir.as_deref(), sf::LEDGER_SORTS);
    let filter = sf::LedgerFilter { from, to, sort: sort.column(), desc: sort.desc, limit: 1000, offset: 0 };
    let c = Chrome::of(&ctx);
    if let Some(format) = export::Format::parse(q.format.as_deref()) {
        let keys = fu::ledger_keys(&s.app, &ctx.actor, cm.id, &filter).await.page(ctx.lang)?;
        let title = c.t.get("followup.ledger");
        let table = export::Table {
            title: title.to_string(),
            columns: LEDGER_COLUMNS.iter().map(|(k, width, _)| export::Column::text(c.t.get(k), *width)).collect(),
        };
        let d = export::Download {
            format,
            table,
            name: format!("{title} {} {from_s} {to_s}", cm.name),
            fallback: format!("follow-up-ledger-{from_s}-{to_s}"),
        };
        let (app, actor, id) = (s.app.clone(), ctx.actor.clone(), cm.id);
        let fetch = move |ids: Vec<i64>| {
            let (app, actor) = (app.clone(), actor.clone());
            async move { fu::ledger_rows(&app, &actor, id, &ids).await }
        };
        let cells = move |f: sf::FollowUp| ledger_cells(&c, tz, &f);
        return export::download(d, keys, fetch, cells).await.page(ctx.lang);
    }
    let rows = fu::ledger(&s.app, &ctx.actor, cm.id, filter).await.page(ctx.lang)?;
    let lines: Vec<(i64, Vec<String>)> = rows.iter().map(|f| (f.id, ledger_cells(&c, tz, f))).collect();
    let filters = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("community_id", &cm.id.to_string())
        .append_pair("from", &from_s)
        .append_pair("to", &to_s)
        .finish();
    let query = url::form_urlencoded::Serializer::new(filters.clone()).extend_pairs(sort.pairs()).finish();
    let base = format!("/follow-up-ledger?{filters}");
    let headers = LEDGER_COLUMNS.iter().map(|(k, _, key)| sort.header(c.t.get(k), *key, &base)).collect();
    let f = Form::with(&[("from", from_s), ("to", to_s)]);
    Ok(render(&LedgerPage {
        communities: community_options(&list),
        community_id: cm.id,
        f,
        headers,
        sort,
        lines,
        query,
        c,
    }))
}

//! The flows' pages (R-RECV-1 … R-RECV-3, R-REP-1 … R-REP-5, R-CMP-1 … R-CMP-7): the
//! flow panel of the sheet page, the engineering dispatcher's board, the technician's day
//! on a phone, the ledgers with their CSV export, and the rules, price list and knowledge
//! base an administrator keeps. Every step is a sheet action posted to `/sheets/{id}/act`.

use super::sheets::{communities, day_ms, pick};
use super::{Chrome, Form, OrPage, PageError, PageResult, page, render, see_other, when};
use crate::app::{AppError, org, request as rq, sheet};
use crate::store::{org as so, request as srq};
use crate::web::extract::Ctx;
use crate::web::{AppState, export};
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use huiqian_domain::auth::Permission;
use huiqian_domain::money::Money;
use huiqian_domain::sheet::request::{AgainstKind, FlagReason, RepairCategory, RepairClass, RepairSource, Route};
use huiqian_domain::unit::DepartmentKind;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/repairs/board", get(board))
        .route("/repairs/day", get(day))
        .route("/sheets/{id}/call", post(call))
        .route("/requests/ledger/{name}", get(ledger))
        .route("/requests/articles/search", get(article_search))
        .route("/requests/settings", get(settings))
        .route("/requests/settings/rules", post(save_rules))
        .route("/requests/settings/prices", post(new_price))
        .route("/requests/settings/prices/{item}", post(edit_price))
        .route("/requests/settings/articles", post(new_article))
        .route("/requests/settings/articles/{article}", post(edit_article))
        .route("/requests/settings/presets", post(new_preset))
        .route("/requests/settings/presets/{preset}", post(edit_preset))
}

// ---- small helpers shared with the sheet pages ----

/// A `datetime-local` value (`2026-03-01T09:30`) in the community's zone, as epoch ms.
pub(super) fn local_ms(s: &str, tz: chrono_tz::Tz) -> Option<i64> {
    huiqian_domain::time::parse_local(s, tz)
}

/// Money from integer fen, as people read it (`¥1,234.50`).
pub(super) fn yuan(fen: i64) -> String {
    Money::from_fen(fen).to_string()
}

fn label_of<L: super::Labelled>(
    c: &Chrome,
    parsed: Result<L, huiqian_domain::validation::ValidationError>,
    code: &str,
) -> String {
    c.label_code(parsed.ok(), code)
}

fn class_label(c: &Chrome, code: &str) -> String {
    label_of(c, RepairClass::parse(code), code)
}

fn category_label(c: &Chrome, code: &str) -> String {
    label_of(c, RepairCategory::parse(code), code)
}

fn minutes(ms: i64) -> i64 {
    (ms + 59_999) / 60_000
}

/// A safe place to return to after a step taken from another page (same site only).
pub(super) fn back_to(back: &str) -> Option<&str> {
    (back.starts_with('/') && !back.starts_with("//") && !back.contains('\\')).then_some(back)
}

/// A `(value, label)` list with an empty first choice.
fn with_blank(blank: &str, rest: Vec<(String, String)>) -> Vec<(String, String)> {
    std::iter::once((String::new(), blank.to_string())).chain(rest).collect()
}

fn community_options(list: &[so::Community]) -> Vec<(String, String)> {
    list.iter().map(|x| (x.id.to_string(), x.name.clone())).collect()
}

// ---- registration: what the form adds for a repair or a complaint ----

/// The repair and complaint parts of the registration form.
pub struct Intake {
    /// Security and technicians register repairs only (R-REP-1).
    pub repair_only: bool,
    /// (code, label, the class it suggests)
    pub categories: Vec<(String, String, String)>,
    pub classes: Vec<(String, String)>,
    pub against: Vec<(String, String)>,
    pub departments: Vec<(String, String)>,
    /// The community's staff, for the person a complaint is about.
    pub staff: Vec<(String, String)>,
    /// The words the receptionist reads out on receipt of a complaint (R-CMP-1).
    pub apology: String,
}

pub(super) async fn intake(s: &AppState, ctx: &Ctx, community_id: i64) -> Intake {
    let c = Chrome::of(ctx);
    let repair_only = ctx.actor.authorize(Permission::RegisterSheet, community_id).is_err();
    let apology = rq::settings(&s.app, &ctx.actor, community_id)
        .await
        .ok()
        .map(|x| x.apology)
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| rq::default_apology(ctx.lang));
    let departments = org::departments(&s.app, &ctx.actor, community_id)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.active == 1)
        .map(|d| (d.id.to_string(), d.name))
        .collect();
    let mut staff: Vec<(String, String)> = vec![];
    for (id, name, _) in crate::app::auth::community_members(&s.app, &ctx.actor, community_id).await.unwrap_or_default()
    {
        let entry = (id.to_string(), name);
        if !staff.contains(&entry) {
            staff.push(entry);
        }
    }
    Intake {
        repair_only,
        categories: RepairCategory::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), c.label(*k).to_string(), c.label(k.suggested_class()).to_string()))
            .collect(),
        classes: with_blank(
            c.t.get("repair.class_by_category"),
            RepairClass::ALL
                .iter()
                .filter(|k| **k != RepairClass::Appointment)
                .map(|k| (k.as_str().to_string(), c.label(*k).to_string()))
                .collect(),
        ),
        against: with_blank(c.t.get("complaint.choose_against"), c.options(AgainstKind::ALL)),
        departments: with_blank(c.t.get("complaint.no_department"), departments),
        staff: with_blank(c.t.get("complaint.no_person"), staff),
        apology,
    }
}

// ---- the sheet page's flow panel ----

pub struct ChargeRow {
    pub name: String,
    pub quantity: String,
    pub unit: String,
    pub price: String,
    pub amount: String,
}

pub struct ProgressRow {
    pub at: String,
    pub by: String,
    pub note: String,
    pub told: bool,
}

pub struct ArticleHit {
    pub id: i64,
    pub title: String,
    pub answer: String,
    pub basis: String,
}

/// What the sheet page shows of the flow, and the steps this viewer may take.
#[derive(Default)]
pub struct FlowView {
    /// `repair`, `complaint`, `inquiry`, `suggestion`, or empty for other sheets.
    pub flow: &'static str,
    pub title: String,
    pub facts: Vec<(String, String)>,
    /// Something on the flow is late (arrival, slip, promise).
    pub warnings: Vec<String>,
    pub arrival_due_ms: i64,
    pub charge: Vec<ChargeRow>,
    pub charge_total: String,
    pub charge_state: String,
    pub progress: Vec<ProgressRow>,
    pub can_reclassify: bool,
    pub can_assign: bool,
    pub reassigning: bool,
    pub can_arrive: bool,
    pub can_quote: bool,
    pub can_confirm_charge: bool,
    pub can_complete: bool,
    pub can_receive_slip: bool,
    pub can_flag: bool,
    pub can_judge: bool,
    pub can_solution: bool,
    pub can_log_progress: bool,
    pub can_answer: bool,
    pub can_escalate: bool,
    pub can_promise: bool,
    pub can_analyse: bool,
    pub can_reply: bool,
    pub classes: Vec<(String, String)>,
    pub technicians: Vec<(String, String)>,
    pub departments: Vec<(String, String)>,
    /// Any department, for the director's solution (R-CMP-5).
    pub solution_departments: Vec<(String, String)>,
    /// The complaint goes to the director (R-CMP-3): the judge form says so.
    pub director_only: bool,
    pub flag_reasons: Vec<(String, String)>,
    pub price_items: Vec<(String, String)>,
    pub managers: Vec<(String, String)>,
    pub articles: Vec<ArticleHit>,
    pub kb_query: String,
}

impl FlowView {
    pub fn any_step(&self) -> bool {
        self.can_reclassify
            || self.can_assign
            || self.can_arrive
            || self.can_quote
            || self.can_confirm_charge
            || self.can_complete
            || self.can_receive_slip
            || self.can_flag
            || self.can_judge
            || self.can_solution
            || self.can_log_progress
            || self.can_answer
            || self.can_escalate
            || self.can_promise
            || self.can_analyse
            || self.can_reply
    }
}

fn yes_no(c: &Chrome, b: bool) -> String {
    c.t.get(if b { "common.yes" } else { "common.no" }).to_string()
}

/// Build the flow panel of a sheet for this viewer, offering the steps `p` permits.
#[allow(clippy::too_many_arguments)]
pub(super) async fn flow_view(
    s: &AppState,
    ctx: &Ctx,
    c: &Chrome,
    d: &sheet::SheetDetail,
    p: &sheet::Permitted,
    deps: &[so::Department],
    tz: chrono_tz::Tz,
    kb: Option<&str>,
) -> FlowView {
    let mut panel = Panel {
        s,
        ctx,
        c,
        d,
        p,
        deps,
        tz,
        open: matches!(d.sheet.state.as_str(), "registered" | "dispatched" | "awaiting_acceptance"),
        v: FlowView { kb_query: kb.unwrap_or_default().to_string(), ..Default::default() },
    };
    if let Some(r) = &d.case.repair {
        panel.repair(r).await;
    }
    if let Some(cc) = &d.case.complaint {
        panel.complaint(cc).await;
    }
    if d.sheet.kind == "inquiry" {
        panel.inquiry(kb).await;
    }
    if d.sheet.kind == "suggestion" {
        panel.suggestion().await;
    }
    panel.v
}

/// The flow panel being built: what it is built from, and the view so far.
struct Panel<'a> {
    s: &'a AppState,
    ctx: &'a Ctx,
    c: &'a Chrome,
    d: &'a sheet::SheetDetail,
    p: &'a sheet::Permitted,
    deps: &'a [so::Department],
    tz: chrono_tz::Tz,
    /// The sheet is being worked on (not suspended, not closed).
    open: bool,
    v: FlowView,
}

impl Panel<'_> {
    /// A labelled fact, shown when it has a value.
    fn fact(&mut self, key: &str, val: String) {
        if !val.is_empty() {
            self.v.facts.push((self.c.t.get(key).to_string(), val));
        }
    }

    fn at(&self, ms: Option<i64>) -> String {
        ms.map(|v| when(v, self.tz)).unwrap_or_default()
    }

    async fn user_name(&self, id: Option<i64>) -> String {
        match id {
            Some(id) => crate::app::auth::display_name(&self.s.app, &self.ctx.actor, self.d.sheet.community_id, id)
                .await
                .unwrap_or_default(),
            None => String::new(),
        }
    }

    fn dep_name(&self, id: i64) -> String {
        self.deps.iter().find(|x| x.id == id).map(|x| x.name.clone()).unwrap_or_else(|| format!("#{id}"))
    }

    fn dep_option(&self, x: &so::Department) -> (String, String) {
        let kind = DepartmentKind::parse(&x.kind).map(|k| self.c.label(k)).unwrap_or("");
        (x.id.to_string(), format!("{}{}", x.name, self.c.paren(kind)))
    }

    fn permits(&self, step: sheet::Step) -> bool {
        self.p.permits(step)
    }

    async fn repair(&mut self, r: &huiqian_domain::sheet::request::RepairCase) {
        let (c, now, job) = (self.c, self.ctx.now, self.d.request.as_ref());
        self.v.flow = "repair";
        self.v.title = c.t.get("flow.repair").to_string();
        self.fact("repair.category", c.label(r.category).to_string());
        self.fact("repair.class", c.label(r.class).to_string());
        self.fact("repair.source", c.label(r.source).to_string());
        self.fact("repair.notified_at", when(r.notified_at, self.tz));
        let due = job.and_then(|j| j.arrival_due_at);
        self.fact("repair.arrival_due", self.at(due));
        if let Some(due) = due {
            let late = r.arrived_at.unwrap_or(now) - due;
            if r.arrived_at.is_none() && self.d.sheet.outcome.is_none() && self.open {
                self.v.arrival_due_ms = due;
            }
            if late > 0 {
                let key = if r.arrived_at.is_some() { "repair.arrived_late" } else { "repair.not_there_late" };
                self.v.warnings.push(crate::i18n::tf(self.ctx.lang, key, &[("minutes", minutes(late).to_string())]));
            }
        }
        let technician = self.user_name(r.technician).await;
        self.fact("repair.technician", technician);
        self.fact("repair.assigned_at", self.at(r.assigned_at));
        if r.reassignments > 0 {
            self.fact("repair.reassignments", r.reassignments.to_string());
        }
        self.fact("repair.appointment_at", self.at(r.appointment_at));
        self.fact("repair.arrived_at", self.at(r.arrived_at));
        self.fact("repair.completed_at", self.at(r.completed_at));
        self.fact("repair.work_done", r.work_done.clone());
        self.fact("repair.materials", r.materials.clone());
        self.fact("repair.signer", r.completion_signer.clone());
        let slip_due = job.and_then(|j| j.slip_due_at);
        let slip_back = job.and_then(|j| j.slip_returned_at);
        self.fact("repair.slip_due", self.at(slip_due));
        self.fact("repair.slip_returned_at", self.at(slip_back));
        if let Some(due) = slip_due
            && slip_back.unwrap_or(now) > due
        {
            self.v.warnings.push(c.t.get("repair.slip_late").to_string());
        }
        if let Some(ch) = &r.charge {
            self.v.charge = ch.lines.iter().map(charge_row).collect();
            self.v.charge_total = yuan(ch.total_fen);
            self.v.charge_state =
                c.t.get(if ch.confirmed.is_some() { "charge.confirmed" } else { "charge.quoted" }).to_string();
        }
        use sheet::Step;
        self.v.can_reclassify = self.permits(Step::Reclassify);
        self.v.can_assign = self.permits(Step::AssignTechnician);
        self.v.reassigning = r.technician.is_some();
        self.v.can_arrive = self.permits(Step::Arrive);
        self.v.can_quote = self.permits(Step::QuoteCharge);
        self.v.can_confirm_charge = self.permits(Step::ConfirmCharge);
        self.v.can_complete = self.permits(Step::CompleteRepair);
        self.v.can_receive_slip = self.permits(Step::ReceiveSlip);
        self.v.classes = c.options(RepairClass::ALL);
        let (app, actor, cid) = (&self.s.app, &self.ctx.actor, self.d.sheet.community_id);
        if self.v.can_assign
            && let Ok(b) = rq::board(app, actor, cid, 1, 0).await
        {
            self.v.technicians = technician_options(c, &b.technicians, self.tz);
        }
        if self.v.can_quote {
            let items = rq::price_items(app, actor, cid, true).await.unwrap_or_default();
            let items = items
                .into_iter()
                .map(|p| (p.id.to_string(), format!("{} · {}/{}", p.name, yuan(p.price_fen), p.unit)))
                .collect();
            self.v.price_items = with_blank("—", items);
        }
    }

    async fn complaint(&mut self, cc: &huiqian_domain::sheet::request::ComplaintCase) {
        let (c, now) = (self.c, self.ctx.now);
        self.v.flow = "complaint";
        self.v.title = c.t.get("flow.complaint").to_string();
        let dt = &cc.details;
        self.fact("complaint.category", dt.category.clone());
        // R-CMP-1: each recorded, or recorded as unknown on purpose.
        let unknown = |flag: bool, value: String| if flag { c.t.get("complaint.unknown").to_string() } else { value };
        self.fact("complaint.occurred_at", unknown(dt.occurred_unknown, self.at(dt.occurred_at)));
        self.fact("complaint.place", unknown(dt.place_unknown, dt.place.clone()));
        self.fact("complaint.cause", dt.cause.clone());
        self.fact("complaint.course", dt.course.clone());
        self.fact("complaint.people", unknown(dt.people_unknown, dt.people.clone()));
        let mut against = dt.against.map(|a| c.label(a).to_string()).unwrap_or_default();
        if let Some(dep) = dt.against_department {
            against = format!("{against}{}{}", c.t.get("common.colon"), self.dep_name(dep));
        }
        if !dt.against_name.is_empty() {
            against = format!("{against}{}", c.paren(&dt.against_name));
        }
        if dt.against_user.is_some() {
            against = format!("{against} · {}", self.user_name(dt.against_user).await);
        }
        self.fact("complaint.against", against);
        if let Some(f) = cc.flag {
            self.fact("complaint.flag", format!("{} · {}", c.label(f), cc.flag_note));
        }
        if let Some(j) = &cc.judgement {
            let verdict = c.t.get(if j.valid { "complaint.valid" } else { "complaint.not_valid" });
            self.fact("complaint.judgement", format!("{verdict} · {}", j.explanation));
            let route = match &j.route {
                Some(Route::Department { department, .. }) => self.dep_name(*department),
                Some(Route::Developer { contact }) => {
                    format!("{}{}{contact}", c.t.get("complaint.developer"), c.t.get("common.colon"))
                }
                None => String::new(),
            };
            self.fact("complaint.route", route);
            self.fact("complaint.deadline", self.at(j.deadline_at));
            if j.deadline_at.is_some_and(|dl| dl < now) && self.open {
                self.v.warnings.push(c.t.get("complaint.deadline_passed").to_string());
            }
        }
        if let Some(sol) = &cc.solution {
            self.fact("complaint.meeting_at", when(sol.meeting_at, self.tz));
            self.fact("complaint.attendees", sol.attendees.clone());
            self.fact("complaint.plan", sol.plan.clone());
            self.fact("complaint.solution_department", self.dep_name(sol.department));
        }
        self.v.progress =
            self.d.events.iter().filter(|e| e.name == "progress_logged").map(|e| progress_row(e, self.tz)).collect();
        use sheet::Step;
        self.v.can_flag = self.permits(Step::FlagComplaint);
        self.v.can_judge = self.permits(Step::JudgeComplaint);
        self.v.can_solution = self.permits(Step::RecordSolution);
        self.v.can_log_progress = self.permits(Step::LogProgress);
        // R-CMP-2/R-CMP-3: the departments the complaint may go to, and no others: the
        // one complained about or the one that handles it; the director's office only
        // for complaints about supervisors and above, customer-service or admin staff.
        self.v.departments =
            crate::app::request::complaint_departments(dt, self.deps).into_iter().map(|x| self.dep_option(x)).collect();
        self.v.solution_departments = self.deps.iter().filter(|x| x.active == 1).map(|x| self.dep_option(x)).collect();
        self.v.director_only = huiqian_domain::sheet::request::complaint_needs_director(dt);
        self.v.flag_reasons = c.options(FlagReason::ALL);
    }

    async fn inquiry(&mut self, kb: Option<&str>) {
        let c = self.c;
        self.v.flow = "inquiry";
        self.v.title = c.t.get("flow.inquiry").to_string();
        let i = self.d.case.inquiry.clone().unwrap_or_default();
        if let Some(a) = &i.answer {
            self.fact("inquiry.answer", a.text.clone());
            self.fact("inquiry.basis", a.basis.clone());
            let by = self.user_name(Some(a.by)).await;
            self.fact("inquiry.answered_at", format!("{} · {by}", when(a.at, self.tz)));
        }
        let escalated_to = self.user_name(i.escalated_to).await;
        self.fact("inquiry.escalated_to", escalated_to);
        self.fact("inquiry.promised_by", self.at(i.promised_by));
        if i.promise_missed(self.ctx.now) {
            self.v.warnings.push(c.t.get("inquiry.promise_missed").to_string());
        }
        use sheet::Step;
        self.v.can_answer = self.permits(Step::AnswerInquiry);
        self.v.can_escalate = self.permits(Step::EscalateInquiry);
        self.v.can_promise = self.permits(Step::PromiseReply);
        let (app, actor, cid) = (&self.s.app, &self.ctx.actor, self.d.sheet.community_id);
        if self.v.can_escalate {
            let managers = rq::escalation_managers(app, actor, cid).await.unwrap_or_default();
            self.v.managers = managers.into_iter().map(|(id, name)| (id.to_string(), name)).collect();
        }
        if self.v.can_answer
            && let Some(q) = kb.filter(|q| !q.trim().is_empty())
        {
            let hits = rq::search_articles(app, actor, cid, q).await.unwrap_or_default();
            self.v.articles = hits
                .into_iter()
                .map(|a| ArticleHit { id: a.id, title: a.title, answer: a.answer, basis: a.basis })
                .collect();
        }
    }

    async fn suggestion(&mut self) {
        let c = self.c;
        self.v.flow = "suggestion";
        self.v.title = c.t.get("flow.suggestion").to_string();
        let x = self.d.case.suggestion.clone().unwrap_or_default();
        self.fact("suggestion.analysis", x.analysis.clone().unwrap_or_default());
        if x.analysis.is_some() {
            self.fact("suggestion.to_director", yes_no(c, x.to_director));
        }
        self.fact("suggestion.reply", x.reply.clone().unwrap_or_default());
        let by = self.user_name(x.replied_by).await;
        self.fact("suggestion.replied_at", format!("{} {by}", self.at(x.replied_at)).trim().to_string());
        self.v.can_analyse = self.permits(sheet::Step::AnalyseSuggestion);
        self.v.can_reply = self.permits(sheet::Step::ReplySuggestion);
    }
}

fn charge_row(l: &huiqian_domain::sheet::request::ChargeLine) -> ChargeRow {
    ChargeRow {
        name: l.name.clone(),
        quantity: {
            // 2 and 2.5, not 2.00 and 2.50: a quantity, not money.
            let q = Money::from_fen(l.quantity_centi).yuan_string();
            q.trim_end_matches('0').trim_end_matches('.').to_string()
        },
        unit: l.unit.clone(),
        price: yuan(l.unit_price_fen),
        amount: yuan(l.amount_fen()),
    }
}

/// A progress report to the resident (R-CMP-6), from its event.
fn progress_row(e: &crate::store::sheet::EventRow, tz: chrono_tz::Tz) -> ProgressRow {
    let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
    ProgressRow {
        at: when(e.at, tz),
        by: e.by_name.clone(),
        note: data.get("note").and_then(|x| x.as_str()).unwrap_or("").to_string(),
        told: data.get("resident_told").and_then(|x| x.as_bool()).unwrap_or(false),
    }
}

fn technician_options(c: &Chrome, list: &[srq::TechnicianLoad], tz: chrono_tz::Tz) -> Vec<(String, String)> {
    list.iter()
        .map(|t| {
            let next = t.next_appointment_at.map(|n| format!(" · {}", when(n, tz))).unwrap_or_default();
            let load = crate::i18n::tf(
                if c.t.is_en() { crate::i18n::Lang::En } else { crate::i18n::Lang::Zh },
                "board.load",
                &[("open", t.open_jobs.to_string()), ("today", t.appointments_today.to_string())],
            );
            (t.user_id.to_string(), format!("{}{}", t.display_name, c.paren(format!("{load}{next}"))))
        })
        .collect()
}

/// One line of the timeline for a flow event.
pub(super) fn describe_flow_event(c: &Chrome, name: &str, v: &serde_json::Value) -> String {
    let pick = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    match name {
        "repair_opened" => format!("{} · {}", category_label(c, &pick("category")), class_label(c, &pick("class"))),
        "repair_reclassified" => format!("{} · {}", class_label(c, &pick("class")), pick("reason")),
        "technician_assigned" | "reply_promised" | "inquiry_escalated" | "progress_logged" | "complaint_flagged" => {
            pick("note")
        }
        "charge_quoted" => v.get("total_fen").and_then(|x| x.as_i64()).map(yuan).unwrap_or_default(),
        "repair_completed" => format!("{}{}", pick("work_done"), c.paren(pick("signer"))),
        "complaint_opened" => {
            v.get("details").and_then(|d| d.get("cause")).and_then(|x| x.as_str()).unwrap_or("").into()
        }
        "complaint_judged" | "solution_recorded" => {
            let t = pick("explanation");
            if t.is_empty() { pick("plan") } else { t }
        }
        "inquiry_answered" => format!("{}{}", pick("answer"), c.paren(pick("basis"))),
        "suggestion_analysed" => pick("analysis"),
        "suggestion_replied" => pick("reply"),
        _ => String::new(),
    }
}

/// The knowledge base's answers to a question, as a fragment under the inquiry's answer
/// form (htmx); a button fills the answer, its basis and the article.
#[derive(Template)]
#[template(path = "requests/articles_found.html")]
struct ArticlesFound {
    c: Chrome,
    articles: Vec<ArticleHit>,
}

#[derive(Deserialize)]
struct ArticleQuery {
    community_id: i64,
    #[serde(default)]
    kb: String,
}

async fn article_search(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ArticleQuery>) -> PageResult {
    let found = rq::search_articles(&s.app, &ctx.actor, q.community_id, &q.kb).await.page(ctx.lang)?;
    let articles =
        found.into_iter().map(|a| ArticleHit { id: a.id, title: a.title, answer: a.answer, basis: a.basis }).collect();
    Ok(render(&ArticlesFound { c: Chrome::of(&ctx), articles }))
}

// ---- the dispatcher's board ----

pub struct JobRow {
    pub j: srq::Repair,
    pub version: i64,
    pub class: String,
    pub category: String,
    pub registered: String,
    pub age_min: i64,
    pub due: String,
    pub due_ms: i64,
    pub late_min: i64,
    pub appointment: String,
    pub done: String,
}

fn job_rows(c: &Chrome, tz: chrono_tz::Tz, jobs: Vec<srq::Repair>, now: i64) -> Vec<JobRow> {
    let mut out = Vec::with_capacity(jobs.len());
    for j in jobs {
        let version = j.version;
        let late = j.arrival_due_at.map(|d| j.arrived_at.unwrap_or(now) - d).filter(|l| *l > 0).unwrap_or(0);
        out.push(JobRow {
            version,
            class: j.class.as_deref().map(|x| class_label(c, x)).unwrap_or_default(),
            category: j.category.as_deref().map(|x| category_label(c, x)).unwrap_or_default(),
            registered: when(j.registered_at, tz),
            age_min: (now - j.registered_at).max(0) / 60_000,
            due: j.arrival_due_at.map(|d| when(d, tz)).unwrap_or_default(),
            due_ms: j.arrival_due_at.unwrap_or(0),
            late_min: minutes(late),
            appointment: j.appointment_at.map(|d| when(d, tz)).unwrap_or_default(),
            done: j.completed_at.map(|d| when(d, tz)).unwrap_or_default(),
            j,
        });
    }
    out
}

pub struct LoadRow {
    pub name: String,
    pub open_jobs: i64,
    pub appointments_today: i64,
    pub next: String,
}

#[derive(Template)]
#[template(path = "requests/board.html")]
struct BoardPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    unassigned: Vec<JobRow>,
    unassigned_total: i64,
    next: Option<String>,
    previous: Option<String>,
    late: Vec<JobRow>,
    loads: Vec<LoadRow>,
    technicians: Vec<(String, String)>,
    can_assign: bool,
    back: String,
}

#[derive(Deserialize)]
struct CommunityQuery {
    community_id: Option<i64>,
    /// The board's page (0, 30, 60 …).
    offset: Option<i64>,
}

/// The engineering dispatcher's board (R-REP-2, R-REP-3).
async fn board(State(s): State<AppState>, ctx: Ctx, Query(q): Query<CommunityQuery>) -> PageResult {
    let mut list = communities(&s, &ctx, Permission::DispatchRepair).await?;
    if list.is_empty() {
        list = communities(&s, &ctx, Permission::HandleSheet).await?;
    }
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let offset = q.offset.unwrap_or(0).max(0);
    let b = rq::board(&s.app, &ctx.actor, cm.id, rq::BOARD_PAGE, offset).await.page(ctx.lang)?;
    let next = (offset + rq::BOARD_PAGE < b.unassigned_total)
        .then(|| format!("/repairs/board?community_id={}&offset={}", cm.id, offset + rq::BOARD_PAGE));
    let previous = (offset > 0)
        .then(|| format!("/repairs/board?community_id={}&offset={}", cm.id, (offset - rq::BOARD_PAGE).max(0)));
    let c = Chrome::of(&ctx);
    let tz = super::community_zone(&s, &ctx, cm.id).await?;
    let loads = b
        .technicians
        .iter()
        .map(|t| LoadRow {
            name: t.display_name.clone(),
            open_jobs: t.open_jobs,
            appointments_today: t.appointments_today,
            next: t.next_appointment_at.map(|n| when(n, tz)).unwrap_or_default(),
        })
        .collect();
    Ok(render(&BoardPage {
        technicians: technician_options(&c, &b.technicians, tz),
        unassigned: job_rows(&c, tz, b.unassigned, ctx.now),
        unassigned_total: b.unassigned_total,
        next,
        previous,
        late: job_rows(&c, tz, b.late, ctx.now),
        loads,
        can_assign: ctx.actor.authorize(Permission::DispatchRepair, cm.id).is_ok(),
        back: format!("/repairs/board?community_id={}", cm.id),
        communities: community_options(&list),
        community_id: cm.id,
        c,
    }))
}

// ---- the technician's day ----

#[derive(Template)]
#[template(path = "requests/day.html")]
struct DayPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    open: Vec<JobRow>,
    done: Vec<JobRow>,
    back: String,
}

/// A technician's jobs on a phone: open ones in order, arrive, complete with the
/// resident's signature, and what was done today (R-REP-3, R-REP-5).
async fn day(State(s): State<AppState>, ctx: Ctx, Query(q): Query<CommunityQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::DoRepair).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let d = rq::technician_day(&s.app, &ctx.actor, cm.id).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let tz = super::community_zone(&s, &ctx, cm.id).await?;
    Ok(render(&DayPage {
        open: job_rows(&c, tz, d.open, ctx.now),
        done: job_rows(&c, tz, d.done_today, ctx.now),
        back: format!("/repairs/day?community_id={}", cm.id),
        communities: community_options(&list),
        community_id: cm.id,
        c,
    }))
}

// ---- ledgers ----

#[derive(Deserialize, Default)]
struct LedgerQuery {
    community_id: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    /// Complaints: every complaint, not only the ledger's serious and repeated ones.
    all: Option<String>,
    /// Only late arrivals, late slips and missed promises.
    late: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    /// `csv` or `xlsx` to download what the page shows, in its order.
    format: Option<String>,
}

pub struct LedgerLine {
    pub sheet_id: i64,
    pub cells: Vec<String>,
    /// Late, missed or owed: marked in the table.
    pub marked: bool,
}

#[derive(Template)]
#[template(path = "requests/ledger.html")]
struct LedgerPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    name: String,
    title: String,
    tabs: Vec<(String, String)>,
    f: Form,
    headers: Vec<export::Header>,
    sort: export::Sort,
    lines: Vec<LedgerLine>,
    /// The filters and the order, for the export links.
    query: String,
}

const LEDGERS: [&str; 5] = ["repairs", "complaints", "suggestions", "inquiries", "charges"];

/// A column of a flow's ledger: its message key, the width it needs in an export, how it
/// is exported, and the column of `srq::LEDGER_SORTS` it sorts by.
type LedgerColumn = (&'static str, usize, export::Kind, Option<&'static str>);

fn ledger_columns(name: &str) -> Vec<LedgerColumn> {
    use export::Kind::{Number, Text};
    let mut cols: Vec<LedgerColumn> = vec![
        ("ledger.number", 16, Text, Some("number")),
        ("sheet.registered_at", 17, Text, Some("registered_at")),
        ("unit.room_no", 10, Text, Some("room")),
        ("sheet.requester", 8, Text, Some("requester")),
    ];
    cols.extend(match name {
        "repairs" | "charges" => vec![
            ("repair.category", 10, Text, Some("category")),
            ("repair.class", 8, Text, Some("class")),
            ("repair.source", 8, Text, Some("source")),
            ("repair.technician", 8, Text, Some("technician")),
            ("repair.arrival_due", 17, Text, Some("arrival_due")),
            ("repair.arrived_at", 17, Text, Some("arrived_at")),
            ("repair.late_minutes", 8, Number, None),
            ("repair.completed_at", 17, Text, Some("completed_at")),
            ("repair.slip_returned_at", 17, Text, Some("slip_returned_at")),
            ("charge.total", 10, Text, Some("charge")),
            ("charge.state", 8, Text, Some("charge_state")),
            ("common.status", 8, Text, Some("state")),
        ],
        "complaints" => vec![
            ("complaint.category", 10, Text, Some("category")),
            ("complaint.against", 10, Text, Some("against")),
            ("complaint.flag", 10, Text, Some("flag")),
            ("complaint.judgement", 8, Text, Some("judgement")),
            ("complaint.route", 10, Text, None),
            ("complaint.deadline", 17, Text, Some("deadline")),
            ("complaint.progress_count", 8, Number, Some("progress")),
            ("complaint.solution_at", 17, Text, Some("solution_at")),
            ("common.status", 8, Text, Some("state")),
        ],
        "suggestions" => vec![
            ("sheet.reason", 30, Text, Some("reason")),
            ("suggestion.analysed_at", 17, Text, Some("analysed_at")),
            ("suggestion.to_director", 8, Text, Some("to_director")),
            ("suggestion.replied_at", 17, Text, Some("replied_at")),
            ("common.status", 8, Text, Some("state")),
        ],
        _ => vec![
            ("sheet.reason", 30, Text, Some("reason")),
            ("inquiry.promised_by", 17, Text, Some("promised_by")),
            ("inquiry.answered_at", 17, Text, Some("answered_at")),
            ("inquiry.missed", 8, Text, None),
            ("common.status", 8, Text, Some("state")),
        ],
    });
    cols
}

/// A row of a flow's ledger, in [`ledger_columns`]' order.
fn ledger_line(c: &Chrome, name: &str, j: &srq::Job, tz: chrono_tz::Tz, now: i64) -> LedgerLine {
    let at = |ms: Option<i64>| ms.map(|v| when(v, tz)).unwrap_or_default();
    let mut cells = vec![
        j.number.clone(),
        at(Some(j.registered_at)),
        j.room_no.clone().unwrap_or_default(),
        j.requester_name.clone(),
    ];
    let state = c.t.get(&format!("sheet_state.{}", j.state)).to_string();
    let marked = match name {
        "repairs" | "charges" => {
            let late = j.arrival_due_at.map(|d| j.arrived_at.unwrap_or(now) - d).filter(|l| *l > 0);
            let slip_late = j.slip_due_at.is_some_and(|d| j.slip_returned_at.unwrap_or(now) > d);
            cells.extend([
                j.category.as_deref().map(|x| category_label(c, x)).unwrap_or_default(),
                j.class.as_deref().map(|x| class_label(c, x)).unwrap_or_default(),
                j.source.as_deref().map(|x| label_of(c, RepairSource::parse(x), x)).unwrap_or_default(),
                j.technician_name.clone().unwrap_or_default(),
                at(j.arrival_due_at),
                at(j.arrived_at),
                late.map(|l| minutes(l).to_string()).unwrap_or_default(),
                at(j.completed_at),
                at(j.slip_returned_at),
                j.charge_fen.map(yuan).unwrap_or_default(),
                if j.charge_state == "none" {
                    String::new()
                } else {
                    c.t.get(&format!("charge.{}", j.charge_state)).to_string()
                },
                state,
            ]);
            if name == "charges" { j.charge_state == "quoted" } else { late.is_some() || slip_late }
        }
        "complaints" => {
            let route = match j.route.as_deref() {
                Some("developer") => c.t.get("complaint.developer").to_string(),
                _ => j.routed_department_name.clone().unwrap_or_default(),
            };
            cells.extend([
                j.category.clone().unwrap_or_default(),
                j.against.as_deref().map(|x| label_of(c, AgainstKind::parse(x), x)).unwrap_or_default(),
                j.flag.as_deref().map(|x| label_of(c, FlagReason::parse(x), x)).unwrap_or_default(),
                match j.valid {
                    Some(1) => c.t.get("complaint.valid").to_string(),
                    Some(_) => c.t.get("complaint.not_valid").to_string(),
                    None => String::new(),
                },
                route,
                at(j.deadline_at),
                j.progress_count.to_string(),
                at(j.solution_at),
                state,
            ]);
            j.flag.is_some()
        }
        "suggestions" => {
            cells.extend([
                j.reason.clone(),
                at(j.analysed_at),
                if j.analysed_at.is_some() { yes_no(c, j.to_director == 1) } else { String::new() },
                at(j.replied_at),
                state,
            ]);
            j.replied_at.is_none()
        }
        _ => {
            let missed = j.promised_by_at.is_some_and(|by| j.answered_at.unwrap_or(now) > by);
            cells.extend([
                j.reason.clone(),
                at(j.promised_by_at),
                at(j.answered_at),
                if missed { c.t.get("inquiry.promise_missed").to_string() } else { String::new() },
                state,
            ]);
            missed
        }
    };
    LedgerLine { sheet_id: j.sheet_id, cells, marked }
}

/// The flows' ledgers: repairs (业主报修反映台帐), complaints (业主意见投诉台帐), suggestions
/// (住户意见建议台帐), inquiries and paid work owed; as a page sortable by its columns, and
/// as CSV or XLSX.
async fn ledger(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Query(q): Query<LedgerQuery>,
) -> PageResult {
    let Some(name) = LEDGERS.iter().find(|n| **n == name).copied() else {
        return Err(PageError(AppError::NotFound, ctx.lang));
    };
    let list = communities(&s, &ctx, Permission::ViewCommunity).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    let c = Chrome::of(&ctx);
    let ne = |v: &Option<String>| v.as_ref().map(|x| x.trim().to_string()).filter(|x| !x.is_empty());
    let all = ne(&q.all).is_some();
    let which = match (name, all) {
        ("repairs", _) => rq::LedgerName::Repairs,
        ("complaints", false) => rq::LedgerName::Complaints,
        ("complaints", true) => rq::LedgerName::AllComplaints,
        ("suggestions", _) => rq::LedgerName::Suggestions,
        ("inquiries", _) => rq::LedgerName::Inquiries,
        _ => rq::LedgerName::Charges,
    };
    let columns = ledger_columns(name);
    let sortable: Vec<(&'static str, &str)> =
        srq::LEDGER_SORTS.iter().filter(|(k, _)| columns.iter().any(|col| col.3 == Some(*k))).copied().collect();
    let sort = export::Sort::parse(q.sort.as_deref(), q.dir.as_deref(), &sortable);
    let filter = srq::LedgerFilter {
        from_ms: ne(&q.from).and_then(|d| day_ms(&d, zone, false)),
        to_ms: ne(&q.to).and_then(|d| day_ms(&d, zone, true)),
        late_only: ne(&q.late).is_some(),
        sort: sort.column(),
        desc: sort.desc,
        limit: 500,
        ..Default::default()
    };
    let title = c.t.get(&format!("ledger_name.{}", if name == "complaints" && all { "all_complaints" } else { name }));
    if let Some(format) = export::Format::parse(q.format.as_deref()) {
        let keys = rq::ledger_keys(&s.app, &ctx.actor, cm.id, which, filter).await.page(ctx.lang)?;
        let table = export::Table {
            title: title.to_string(),
            columns: columns
                .iter()
                .map(|(k, width, kind, _)| export::Column { title: c.t.get(k).to_string(), width: *width, kind: *kind })
                .collect(),
        };
        let d = export::Download {
            format,
            table,
            name: format!("{title} {}", cm.name),
            fallback: format!("{name}-ledger"),
        };
        let (app, actor, id, tz) = (s.app.clone(), ctx.actor.clone(), cm.id, zone);
        let fetch = move |ids: Vec<i64>| {
            let (app, actor) = (app.clone(), actor.clone());
            async move { rq::ledger_rows(&app, &actor, id, &ids).await }
        };
        let now = ctx.now;
        let cells = move |j: srq::Job| ledger_line(&c, name, &j, tz, now).cells;
        return export::download(d, keys, fetch, cells).await.page(ctx.lang);
    }
    let jobs = rq::ledger(&s.app, &ctx.actor, cm.id, which, filter).await.page(ctx.lang)?;
    let now = ctx.now;
    let lines = jobs.iter().map(|j| ledger_line(&c, name, j, zone, now)).collect();
    let f = Form::with(&[
        ("from", q.from.clone().unwrap_or_default()),
        ("to", q.to.clone().unwrap_or_default()),
        ("all", if all { "1".into() } else { String::new() }),
        ("late", ne(&q.late).map(|_| "1".to_string()).unwrap_or_default()),
    ]);
    let filters: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("community_id", &cm.id.to_string())
        .extend_pairs(f.values.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    let query = url::form_urlencoded::Serializer::new(filters.clone()).extend_pairs(sort.pairs()).finish();
    let base = format!("/requests/ledger/{name}?{filters}");
    let headers = columns.iter().map(|(k, _, _, key)| sort.header(c.t.get(k), *key, &base)).collect();
    Ok(render(&LedgerPage {
        title: c.t.get(&format!("ledger_name.{name}")).to_string(),
        tabs: LEDGERS.iter().map(|n| (n.to_string(), c.t.get(&format!("ledger_name.{n}")).to_string())).collect(),
        communities: community_options(&list),
        community_id: cm.id,
        name: name.to_string(),
        headers,
        sort,
        lines,
        query,
        f,
        c,
    }))
}

// ---- settings, price list, knowledge base ----

pub struct PriceRow {
    pub p: srq::PriceItem,
    /// The price in yuan as the form edits it (`35.00`).
    pub price: String,
}

#[derive(Template)]
#[template(path = "requests/settings.html")]
struct SettingsPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    can_rules: bool,
    rules: Form,
    version: i64,
    prices: Vec<PriceRow>,
    price_form: Form,
    articles: Vec<srq::Article>,
    article_form: Form,
    kinds: Vec<(String, String)>,
    presets: Vec<PresetRow>,
    preset_form: Form,
    preset_choices: PresetChoices,
    saved: bool,
}

/// A quick registration on the settings page, its form's values.
pub struct PresetRow {
    pub p: srq::Preset,
    pub form: Form,
}

/// The choices a quick registration's form offers.
pub struct PresetChoices {
    pub kinds: Vec<(String, String)>,
    pub channels: Vec<(String, String)>,
    pub categories: Vec<(String, String)>,
    pub articles: Vec<(String, String)>,
}

fn preset_values(p: &srq::Preset) -> Form {
    Form::with(&[
        ("title", p.title.clone()),
        ("kind", p.kind.clone()),
        ("channel", p.channel.clone()),
        ("reason", p.reason.clone()),
        ("repair_category", p.repair_category.clone()),
        ("article_id", p.article_id.map(|a| a.to_string()).unwrap_or_default()),
        ("position", p.position.to_string()),
    ])
}

#[derive(Deserialize)]
struct SettingsQuery {
    community_id: Option<i64>,
    saved: Option<String>,
}

async fn settings_communities(s: &AppState, ctx: &Ctx) -> Result<Vec<so::Community>, PageError> {
    let mut list = communities(s, ctx, Permission::ManageRequests).await?;
    for x in communities(s, ctx, Permission::DispatchRepair).await? {
        if !list.iter().any(|y| y.id == x.id) {
            list.push(x);
        }
    }
    Ok(list)
}

fn rules_form(x: &srq::Settings) -> Form {
    Form::with(&[
        ("emergency_min", x.emergency_min.to_string()),
        ("simple_min", x.simple_min.to_string()),
        ("general_min", x.general_min.to_string()),
        ("slip_hours", x.slip_hours.to_string()),
        ("repeat_count", x.repeat_count.to_string()),
        ("repeat_days", x.repeat_days.to_string()),
        ("progress_hours", x.progress_hours.to_string()),
        ("promise_warn_min", x.promise_warn_min.to_string()),
        ("apology", x.apology.clone()),
    ])
}

/// Which form of the settings page failed, with what was typed.
enum Failed {
    None,
    Rules(Form, i64),
    Price(Form),
    Article(Form),
    Preset(Form, Option<i64>),
}

async fn settings_view(
    s: &AppState,
    ctx: &Ctx,
    community_id: Option<i64>,
    failed: Failed,
    status: StatusCode,
    saved: bool,
) -> PageResult {
    let list = settings_communities(s, ctx).await?;
    let cm = pick(&list, community_id, ctx.lang)?;
    let c = Chrome::of(ctx);
    let current = rq::settings(&s.app, &ctx.actor, cm.id).await.page(ctx.lang)?;
    let can_rules = ctx.actor.authorize(Permission::ManageRequests, cm.id).is_ok();
    let prices = rq::price_items(&s.app, &ctx.actor, cm.id, false)
        .await
        .page(ctx.lang)?
        .into_iter()
        .map(|p| PriceRow { price: Money::from_fen(p.price_fen).yuan_string(), p })
        .collect();
    let articles = if can_rules { rq::articles(&s.app, &ctx.actor, cm.id).await.page(ctx.lang)? } else { vec![] };
    let mut presets: Vec<PresetRow> = if can_rules {
        rq::presets(&s.app, &ctx.actor, cm.id, false)
            .await
            .page(ctx.lang)?
            .into_iter()
            .map(|p| PresetRow { form: preset_values(&p), p })
            .collect()
    } else {
        vec![]
    };
    let mut preset_form = Form::with(&[("position", ((presets.len() + 1) * 10).to_string())]);
    let (rules, version, price_form, article_form) = match failed {
        Failed::None => (rules_form(&current), current.version, Form::default(), Form::default()),
        Failed::Rules(f, v) => (f, v, Form::default(), Form::default()),
        Failed::Price(f) => (rules_form(&current), current.version, f, Form::default()),
        Failed::Article(f) => (rules_form(&current), current.version, Form::default(), f),
        Failed::Preset(f, id) => {
            match presets.iter_mut().find(|r| Some(r.p.id) == id) {
                Some(row) => row.form = f,
                None => preset_form = f,
            }
            (rules_form(&current), current.version, Form::default(), Form::default())
        }
    };
    let preset_choices = PresetChoices {
        kinds: c.options(&huiqian_domain::sheet::SheetKind::ALL),
        channels: with_blank(c.t.get("preset.channel_any"), c.options(&huiqian_domain::sheet::Channel::ALL)),
        categories: with_blank(c.t.get("preset.no_category"), c.options(RepairCategory::ALL)),
        articles: with_blank(
            c.t.get("preset.no_article"),
            articles.iter().filter(|a| a.active == 1).map(|a| (a.id.to_string(), a.title.clone())).collect(),
        ),
    };
    Ok(page(
        status,
        &SettingsPage {
            kinds: vec![
                ("labour".into(), c.t.get("price_item.labour").to_string()),
                ("material".into(), c.t.get("price_item.material").to_string()),
            ],
            communities: community_options(&list),
            community_id: cm.id,
            can_rules,
            rules,
            version,
            prices,
            price_form,
            articles,
            article_form,
            presets,
            preset_form,
            preset_choices,
            saved,
            c,
        },
    ))
}

async fn settings(State(s): State<AppState>, ctx: Ctx, Query(q): Query<SettingsQuery>) -> PageResult {
    settings_view(&s, &ctx, q.community_id, Failed::None, StatusCode::OK, q.saved.is_some()).await
}

#[derive(Deserialize, Default)]
struct RulesForm {
    community_id: i64,
    #[serde(default)]
    emergency_min: String,
    #[serde(default)]
    simple_min: String,
    #[serde(default)]
    general_min: String,
    #[serde(default)]
    slip_hours: String,
    #[serde(default)]
    repeat_count: String,
    #[serde(default)]
    repeat_days: String,
    #[serde(default)]
    progress_hours: String,
    #[serde(default)]
    promise_warn_min: String,
    #[serde(default)]
    apology: String,
    #[serde(default)]
    version: i64,
}

async fn save_rules(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<RulesForm>) -> PageResult {
    let mut form = Form::with(&[
        ("emergency_min", f.emergency_min.clone()),
        ("simple_min", f.simple_min.clone()),
        ("general_min", f.general_min.clone()),
        ("slip_hours", f.slip_hours.clone()),
        ("repeat_count", f.repeat_count.clone()),
        ("repeat_days", f.repeat_days.clone()),
        ("progress_hours", f.progress_hours.clone()),
        ("promise_warn_min", f.promise_warn_min.clone()),
        ("apology", f.apology.clone()),
    ]);
    // A number that is not a number is out of range (-1 fails every rule).
    let n = |v: &str| v.trim().parse::<i64>().unwrap_or(-1);
    let input = rq::SettingsInput {
        emergency_min: n(&f.emergency_min),
        simple_min: n(&f.simple_min),
        general_min: n(&f.general_min),
        slip_hours: n(&f.slip_hours),
        repeat_count: n(&f.repeat_count),
        repeat_days: n(&f.repeat_days),
        progress_hours: n(&f.progress_hours),
        promise_warn_min: n(&f.promise_warn_min),
        apology: f.apology.clone(),
        version: f.version,
    };
    match rq::save_settings(&s.app, &ctx.actor, f.community_id, &input).await {
        Ok(_) => Ok(see_other(&format!("/requests/settings?community_id={}&saved=1", f.community_id))),
        Err(e) => {
            let status = form.fail(e, ctx.lang)?;
            settings_view(&s, &ctx, Some(f.community_id), Failed::Rules(form, f.version), status, false).await
        }
    }
}

#[derive(Deserialize, Default)]
struct PriceForm {
    community_id: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    item_kind: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

async fn save_price(s: AppState, ctx: Ctx, id: Option<i64>, f: PriceForm) -> PageResult {
    let input = rq::PriceItemInput {
        name: f.name.clone(),
        unit: f.unit.clone(),
        item_kind: f.item_kind.clone(),
        price: f.price.clone(),
        active: id.is_none() || f.active.is_some(),
        version: f.version,
    };
    match rq::save_price_item(&s.app, &ctx.actor, f.community_id, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/requests/settings?community_id={}&saved=1#prices", f.community_id))),
        Err(e) => {
            let mut form = Form::with(&[
                ("name", f.name.clone()),
                ("unit", f.unit.clone()),
                ("item_kind", f.item_kind.clone()),
                ("price", f.price.clone()),
            ]);
            let status = form.fail(e, ctx.lang)?;
            settings_view(&s, &ctx, Some(f.community_id), Failed::Price(form), status, false).await
        }
    }
}

async fn new_price(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<PriceForm>) -> PageResult {
    save_price(s, ctx, None, f).await
}

async fn edit_price(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(item): Path<i64>,
    AxForm(f): AxForm<PriceForm>,
) -> PageResult {
    save_price(s, ctx, Some(item), f).await
}

#[derive(Deserialize, Default)]
struct ArticleForm {
    community_id: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

async fn save_article(s: AppState, ctx: Ctx, id: Option<i64>, f: ArticleForm) -> PageResult {
    let input = rq::ArticleInput {
        title: f.title.clone(),
        answer: f.answer.clone(),
        basis: f.basis.clone(),
        active: id.is_none() || f.active.is_some(),
        version: f.version,
    };
    match rq::save_article(&s.app, &ctx.actor, f.community_id, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/requests/settings?community_id={}&saved=1#articles", f.community_id))),
        Err(e) => {
            let mut form =
                Form::with(&[("title", f.title.clone()), ("answer", f.answer.clone()), ("basis", f.basis.clone())]);
            let status = form.fail(e, ctx.lang)?;
            settings_view(&s, &ctx, Some(f.community_id), Failed::Article(form), status, false).await
        }
    }
}

async fn new_article(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<ArticleForm>) -> PageResult {
    save_article(s, ctx, None, f).await
}

async fn edit_article(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(article): Path<i64>,
    AxForm(f): AxForm<ArticleForm>,
) -> PageResult {
    save_article(s, ctx, Some(article), f).await
}

#[derive(Deserialize, Default)]
struct PresetForm {
    community_id: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    repair_category: String,
    #[serde(default)]
    article_id: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

async fn save_preset(s: AppState, ctx: Ctx, id: Option<i64>, f: PresetForm) -> PageResult {
    // Not a whole number: out of range, refused at the field.
    let position = match f.position.trim() {
        "" => 0,
        p => p.parse().unwrap_or(-1),
    };
    let input = rq::PresetInput {
        title: f.title.clone(),
        kind: f.kind.clone(),
        channel: f.channel.clone(),
        reason: f.reason.clone(),
        repair_category: f.repair_category.clone(),
        article_id: f.article_id.trim().parse().ok(),
        position,
        active: id.is_none() || f.active.is_some(),
        version: f.version,
    };
    match rq::save_preset(&s.app, &ctx.actor, f.community_id, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/requests/settings?community_id={}&saved=1#presets", f.community_id))),
        Err(e) => {
            let mut form = Form::with(&[
                ("title", f.title.clone()),
                ("kind", f.kind.clone()),
                ("channel", f.channel.clone()),
                ("reason", f.reason.clone()),
                ("repair_category", f.repair_category.clone()),
                ("article_id", f.article_id.clone()),
                ("position", f.position.clone()),
            ]);
            let status = form.fail(e, ctx.lang)?;
            settings_view(&s, &ctx, Some(f.community_id), Failed::Preset(form, id), status, false).await
        }
    }
}

async fn new_preset(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<PresetForm>) -> PageResult {
    save_preset(s, ctx, None, f).await
}

async fn edit_preset(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(preset): Path<i64>,
    AxForm(f): AxForm<PresetForm>,
) -> PageResult {
    save_preset(s, ctx, Some(preset), f).await
}

#[derive(Deserialize, Default)]
struct CallForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

#[derive(Template)]
#[template(path = "requests/call.html")]
struct CallPage {
    c: Chrome,
    sheet_id: i64,
    phone: String,
    back: String,
}

/// Call the resident: the full number is revealed (and audited) only on this deliberate
/// step, to the technician on the job or to customer service with a reason.
async fn call(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<CallForm>) -> PageResult {
    let phone = rq::reveal_phone(&s.app, &ctx.actor, id, &f.reason).await.page(ctx.lang)?;
    let back = if f.back.starts_with('/') && !f.back.starts_with("//") { f.back } else { format!("/sheets/{id}") };
    Ok(render(&CallPage { c: Chrome::of(&ctx), sheet_id: id, phone, back }))
}

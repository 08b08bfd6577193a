//! Countersign-sheet pages: registration with a signature pad, the sheet with its
//! timeline, clocks and actions, the printed four-part form, queues, the archive search
//! and the handover ledger.

use super::{Chrome, Form, OrPage, PageError, PageResult, page, render, see_other, when};
use crate::app::{AppError, org, sheet};
use crate::store::{org as so, sheet as st};
use crate::web::extract::Ctx;
use crate::web::{AppState, export};
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use huiqian_domain::auth::{Permission, Role};
use huiqian_domain::sheet::{Channel, SheetKind};
use serde::Deserialize;

pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/sheets/{id}/attach", post(attach).layer(axum::extract::DefaultBodyLimit::max(upload_limit)))
        .route(
            "/sheets/new",
            get(new_sheet).post(create_sheet).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/sheets/find", get(finder))
        .route("/sheets", get(archive))
        .route("/sheets/{id}", get(sheet_page))
        .route("/sheets/{id}/print", get(print))
        .route("/sheets/{id}/act", post(act))
        .route("/queues", get(queues))
        .route("/handovers", get(ledger))
        .route("/attachments/{id}", get(attachment))
}

fn kind_label(c: &Chrome, code: &str) -> String {
    c.label_code(SheetKind::parse(code).ok(), code)
}

fn channel_label(c: &Chrome, code: &str) -> String {
    c.label_code(Channel::parse(code).ok(), code)
}

fn kind_options(c: &Chrome) -> Vec<(String, String)> {
    c.options(&SheetKind::ALL)
}

fn channel_options(c: &Chrome) -> Vec<(String, String)> {
    c.options(&Channel::ALL)
}

/// A sheet row as lists show it.
pub struct Row {
    pub s: st::SheetRow,
    pub kind: String,
    pub state: String,
    pub registered: String,
    pub due: String,
    pub overdue: bool,
}

pub(super) fn rows(c: &Chrome, tz: chrono_tz::Tz, list: Vec<st::SheetRow>, now: i64) -> Vec<Row> {
    list.into_iter()
        .map(|s| Row {
            kind: kind_label(c, &s.kind),
            state: c.t.get(&format!("sheet_state.{}", s.state)).to_string(),
            registered: when(s.registered_at, tz),
            due: s.due_at.map(|d| when(d, tz)).unwrap_or_default(),
            overdue: s.due_at.is_some_and(|d| d < now)
                && !matches!(s.state.as_str(), "collected" | "archived" | "suspended"),
            s,
        })
        .collect()
}

pub(super) async fn communities(s: &AppState, ctx: &Ctx, p: Permission) -> Result<Vec<so::Community>, PageError> {
    let all = org::my_communities(&s.app, &ctx.actor).await.page(ctx.lang)?;
    Ok(all.into_iter().filter(|c| ctx.actor.authorize(p, c.id).is_ok()).collect())
}

pub(super) fn pick(
    list: &[so::Community],
    wanted: Option<i64>,
    lang: crate::i18n::Lang,
) -> Result<so::Community, PageError> {
    wanted
        .and_then(|w| list.iter().find(|c| c.id == w))
        .or_else(|| list.first())
        .cloned()
        .ok_or(PageError(AppError::Forbidden, lang))
}

// ---- registration ----

#[derive(Template)]
#[template(path = "sheets/new.html")]
struct NewPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    kinds: Vec<(String, String)>,
    channels: Vec<(String, String)>,
    f: Form,
    key: String,
    /// The repair and complaint parts (R-REP-1, R-CMP-1).
    x: super::requests::Intake,
    /// The requester's and the reason's labels for each channel (来访人/来电人/来函人 …),
    /// as (channel, requester, reason); the form shows the chosen channel's.
    channel_words: Vec<(String, String, String)>,
    /// The community's quick registrations, each with what it fills in.
    presets: Vec<PresetButton>,
}

/// A quick registration's button on the registration form: a link that works on its own,
/// and the values a script fills in without leaving what was typed.
pub struct PresetButton {
    pub p: crate::store::request::Preset,
    pub answer: String,
    pub basis: String,
    pub article_id: String,
}

impl NewPage {
    /// The requester's and the reason's labels for the channel the form shows.
    fn words(&self) -> (&str, &str) {
        let chosen = self.f.v("channel");
        let w = self.channel_words.iter().find(|(ch, _, _)| ch == chosen).or(self.channel_words.first());
        w.map(|(_, who, why)| (who.as_str(), why.as_str())).unwrap_or_default()
    }
}

/// Who may open the registration form: the desk, and for repairs security and technicians.
async fn registering(s: &AppState, ctx: &Ctx) -> Result<Vec<so::Community>, PageError> {
    let mut list = communities(s, ctx, Permission::RegisterSheet).await?;
    for x in communities(s, ctx, Permission::RegisterRepair).await? {
        if !list.iter().any(|y| y.id == x.id) {
            list.push(x);
        }
    }
    Ok(list)
}

async fn new_page(s: &AppState, ctx: &Ctx, list: &[so::Community], community_id: i64, f: Form, key: String) -> NewPage {
    let c = Chrome::of(ctx);
    let x = super::requests::intake(s, ctx, community_id).await;
    let kinds = if x.repair_only {
        kind_options(&c).into_iter().filter(|(k, _)| k == "repair").collect()
    } else {
        kind_options(&c)
    };
    let channel_words = huiqian_domain::sheet::Channel::ALL
        .iter()
        .map(|ch| {
            let ch = ch.as_str();
            let who = c.t.get(&format!("sheet.requester_by.{ch}")).to_string();
            (ch.to_string(), who, c.t.get(&format!("sheet.reason_by.{ch}")).to_string())
        })
        .collect();
    let presets = crate::app::request::presets(&s.app, &ctx.actor, community_id, true)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|p| kinds.iter().any(|(k, _)| *k == p.kind))
        .collect::<Vec<_>>();
    let articles = if presets.iter().any(|p| p.article_id.is_some()) {
        crate::app::request::articles(&s.app, &ctx.actor, community_id).await.unwrap_or_default()
    } else {
        vec![]
    };
    let presets = presets
        .into_iter()
        .map(|p| {
            let article = p.article_id.and_then(|a| articles.iter().find(|x| x.id == a && x.active == 1));
            PresetButton {
                answer: article.map(|a| a.answer.clone()).unwrap_or_default(),
                basis: article.map(|a| a.basis.clone()).unwrap_or_default(),
                article_id: article.map(|a| a.id.to_string()).unwrap_or_default(),
                p,
            }
        })
        .collect();
    NewPage {
        kinds,
        presets,
        channel_words,
        channels: channel_options(&c),
        communities: list.iter().map(|x| (x.id.to_string(), x.name.clone())).collect(),
        community_id,
        c,
        f,
        key,
        x,
    }
}

#[derive(Deserialize)]
struct CommunityQuery {
    community_id: Option<i64>,
    room_no: Option<String>,
    /// A quick registration (常用登记) to fill the form with.
    preset: Option<i64>,
}

async fn new_sheet(State(s): State<AppState>, ctx: Ctx, Query(q): Query<CommunityQuery>) -> PageResult {
    let list = registering(&s, &ctx).await?;
    let mut f = Form::with(&[
        ("channel", "visit".into()),
        ("kind", "repair".into()),
        ("room_no", q.room_no.unwrap_or_default()),
    ]);
    let mut community_id = q.community_id;
    if let Some(id) = q.preset {
        let (p, article) = crate::app::request::preset_for_form(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
        community_id = Some(p.community_id);
        f.values.insert("kind".into(), p.kind);
        if !p.channel.is_empty() {
            f.values.insert("channel".into(), p.channel);
        }
        f.values.insert("reason".into(), p.reason);
        f.values.insert("repair.category".into(), p.repair_category);
        if let Some(a) = article {
            f.values.insert("inquiry.answer".into(), a.answer);
            f.values.insert("inquiry.basis".into(), a.basis);
            f.values.insert("inquiry.article_id".into(), a.id.to_string());
        }
    }
    let cm = pick(&list, community_id, ctx.lang)?;
    Ok(render(&new_page(&s, &ctx, &list, cm.id, f, uuid::Uuid::new_v4().to_string()).await))
}

#[derive(Deserialize, Default)]
struct NewForm {
    #[serde(default)]
    community_id: i64,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    room_no: String,
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    requester_name: String,
    #[serde(default)]
    requester_phone: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    signature: String,
    /// "1" when the signature was typed with the keyboard and confirmed.
    #[serde(default)]
    signature_typed: String,
    /// Generated with the form: a double submit registers one sheet.
    #[serde(default)]
    key: String,
    // The repair's and the complaint's fields, named as the use-case names their errors.
    #[serde(default, rename = "repair.category")]
    repair_category: String,
    #[serde(default, rename = "repair.class")]
    repair_class: String,
    #[serde(default, rename = "repair.class_reason")]
    repair_class_reason: String,
    #[serde(default, rename = "complaint.category")]
    complaint_category: String,
    #[serde(default, rename = "complaint.occurred_at")]
    complaint_occurred_at: String,
    #[serde(default, rename = "complaint.occurred_unknown")]
    complaint_occurred_unknown: String,
    #[serde(default, rename = "complaint.place_unknown")]
    complaint_place_unknown: String,
    #[serde(default, rename = "complaint.people_unknown")]
    complaint_people_unknown: String,
    #[serde(default, rename = "complaint.against_user_id")]
    complaint_against_user_id: String,
    #[serde(default, rename = "complaint.place")]
    complaint_place: String,
    #[serde(default, rename = "complaint.cause")]
    complaint_cause: String,
    #[serde(default, rename = "complaint.course")]
    complaint_course: String,
    #[serde(default, rename = "complaint.people")]
    complaint_people: String,
    #[serde(default, rename = "complaint.against")]
    complaint_against: String,
    #[serde(default, rename = "complaint.against_department_id")]
    complaint_against_department_id: String,
    #[serde(default, rename = "complaint.against_name")]
    complaint_against_name: String,
    /// The checkbox: the resident asks to be followed up (R-FU-1).
    #[serde(default)]
    follow_up_requested: String,
    /// An inquiry answered there and then (R-RECV-2).
    #[serde(default, rename = "inquiry.answer")]
    inquiry_answer: String,
    #[serde(default, rename = "inquiry.basis")]
    inquiry_basis: String,
    #[serde(default, rename = "inquiry.article_id")]
    inquiry_article_id: String,
}

impl NewForm {
    /// What was typed, to show again when the form comes back.
    fn flow_values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("repair.category", self.repair_category.clone()),
            ("repair.class", self.repair_class.clone()),
            ("repair.class_reason", self.repair_class_reason.clone()),
            ("complaint.category", self.complaint_category.clone()),
            ("complaint.occurred_at", self.complaint_occurred_at.clone()),
            ("complaint.place", self.complaint_place.clone()),
            ("complaint.cause", self.complaint_cause.clone()),
            ("complaint.course", self.complaint_course.clone()),
            ("complaint.people", self.complaint_people.clone()),
            ("complaint.against", self.complaint_against.clone()),
            ("complaint.against_department_id", self.complaint_against_department_id.clone()),
            ("complaint.against_name", self.complaint_against_name.clone()),
            ("complaint.occurred_unknown", self.complaint_occurred_unknown.clone()),
            ("complaint.place_unknown", self.complaint_place_unknown.clone()),
            ("complaint.people_unknown", self.complaint_people_unknown.clone()),
            ("complaint.against_user_id", self.complaint_against_user_id.clone()),
            ("follow_up_requested", self.follow_up_requested.clone()),
            ("inquiry.answer", self.inquiry_answer.clone()),
            ("inquiry.basis", self.inquiry_basis.clone()),
            ("inquiry.article_id", self.inquiry_article_id.clone()),
        ]
    }

    /// An answer given at once, for an inquiry.
    fn inquiry_intake(&self) -> Option<crate::app::request::InquiryIntake> {
        (self.kind == "inquiry").then(|| crate::app::request::InquiryIntake {
            answer: self.inquiry_answer.clone(),
            basis: self.inquiry_basis.clone(),
            article_id: self.inquiry_article_id.trim().parse().ok(),
        })
    }

    /// The repair part: always for a repair, for paid work when a category was chosen.
    fn repair_intake(&self) -> Option<crate::app::request::RepairIntake> {
        let wanted =
            self.kind == "repair" || (self.kind == "special_service" && !self.repair_category.trim().is_empty());
        wanted.then(|| crate::app::request::RepairIntake {
            category: self.repair_category.clone(),
            class: self.repair_class.clone(),
            class_reason: self.repair_class_reason.clone(),
        })
    }

    fn complaint_intake(&self, tz: Option<chrono_tz::Tz>) -> Option<crate::app::request::ComplaintIntake> {
        (self.kind == "complaint").then(|| crate::app::request::ComplaintIntake {
            category: self.complaint_category.clone(),
            occurred_at: tz.and_then(|tz| super::requests::local_ms(&self.complaint_occurred_at, tz)),
            place: self.complaint_place.clone(),
            cause: self.complaint_cause.clone(),
            course: self.complaint_course.clone(),
            people: self.complaint_people.clone(),
            against: Some(self.complaint_against.clone()),
            against_department_id: self.complaint_against_department_id.trim().parse().ok(),
            against_name: self.complaint_against_name.clone(),
            against_user_id: self.complaint_against_user_id.trim().parse().ok(),
            occurred_unknown: !self.complaint_occurred_unknown.is_empty(),
            place_unknown: !self.complaint_place_unknown.is_empty(),
            people_unknown: !self.complaint_people_unknown.is_empty(),
        })
    }

    fn from_pairs(pairs: &std::collections::HashMap<String, String>) -> NewForm {
        let get = |k: &str| pairs.get(k).cloned().unwrap_or_default();
        NewForm {
            community_id: get("community_id").parse().unwrap_or(0),
            kind: get("kind"),
            channel: get("channel"),
            room_no: get("room_no"),
            person_id: get("person_id"),
            requester_name: get("requester_name"),
            requester_phone: get("requester_phone"),
            reason: get("reason"),
            signature: get("signature"),
            signature_typed: get("signature_typed"),
            key: get("key"),
            repair_category: get("repair.category"),
            repair_class: get("repair.class"),
            repair_class_reason: get("repair.class_reason"),
            complaint_category: get("complaint.category"),
            complaint_occurred_at: get("complaint.occurred_at"),
            complaint_place: get("complaint.place"),
            complaint_cause: get("complaint.cause"),
            complaint_course: get("complaint.course"),
            complaint_people: get("complaint.people"),
            complaint_against: get("complaint.against"),
            complaint_against_department_id: get("complaint.against_department_id"),
            complaint_against_name: get("complaint.against_name"),
            complaint_occurred_unknown: get("complaint.occurred_unknown"),
            complaint_place_unknown: get("complaint.place_unknown"),
            complaint_people_unknown: get("complaint.people_unknown"),
            complaint_against_user_id: get("complaint.against_user_id"),
            follow_up_requested: get("follow_up_requested"),
            inquiry_answer: get("inquiry.answer"),
            inquiry_basis: get("inquiry.basis"),
            inquiry_article_id: get("inquiry.article_id"),
        }
    }
}

/// The registration form: urlencoded, or multipart when photos and files come with it
/// (the CSRF token then rides in a form field of its own, first in the form).
async fn read_new_form(
    s: &AppState,
    req: axum::extract::Request,
) -> Result<(NewForm, Vec<(String, Vec<u8>)>, Option<AppError>), AppError> {
    use axum::extract::FromRequest;
    use huiqian_domain::validation::ValidationError;
    let limit = s.app.config.limits.max_upload_bytes;
    let too_large =
        || AppError::field("photos", ValidationError::new("upload.too_large").with("max_mb", limit / 1024 / 1024));
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let AxForm(f) = AxForm::<NewForm>::from_request(req, s).await.map_err(|_| AppError::rejected("bad_form"))?;
        return Ok((f, vec![], None));
    }
    let mut mp = axum::extract::Multipart::from_request(req, s).await.map_err(|_| AppError::rejected("bad_form"))?;
    let mut pairs = std::collections::HashMap::new();
    let mut files = vec![];
    let mut problem = None;
    while let Some(mut field) = mp.next_field().await.map_err(|_| too_large())? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "photos" {
            let filename = field.file_name().unwrap_or("photo").to_string();
            let mut buf = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|_| too_large())? {
                if buf.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            if !buf.is_empty() {
                if let Err(e) = crate::app::sheet::check_attachment(&buf) {
                    problem = Some(AppError::field("photos", e));
                }
                files.push((filename, buf));
            }
        } else {
            pairs.insert(name, field.text().await.unwrap_or_default());
        }
    }
    Ok((NewForm::from_pairs(&pairs), files, problem))
}

async fn create_sheet(State(s): State<AppState>, ctx: Ctx, req: axum::extract::Request) -> PageResult {
    let (f, files, problem) = match read_new_form(&s, req).await {
        Ok(x) => x,
        Err(e) => {
            let mut form = Form::default();
            let status = form.fail(e, ctx.lang)?;
            let list = registering(&s, &ctx).await?;
            let cm = pick(&list, None, ctx.lang)?;
            return Ok(page(status, &new_page(&s, &ctx, &list, cm.id, form, uuid::Uuid::new_v4().to_string()).await));
        }
    };
    // A community that cannot be read here refuses the registration below.
    let tz = org::zone(&s.app, &ctx.actor, f.community_id).await.ok();
    let input = sheet::RegisterInput {
        kind: f.kind.clone(),
        channel: f.channel.clone(),
        room_no: f.room_no.clone(),
        person_id: f.person_id.parse().ok(),
        requester_name: f.requester_name.clone(),
        requester_phone: f.requester_phone.clone(),
        reason: f.reason.clone(),
        signature: f.signature.clone(),
        signature_typed: f.signature_typed == "1",
        repair: f.repair_intake(),
        complaint: f.complaint_intake(tz),
        follow_up_requested: !f.follow_up_requested.is_empty(),
        inquiry: f.inquiry_intake(),
    };
    let key = (!f.key.is_empty()).then_some(f.key.as_str());
    let registered = match problem {
        Some(e) => Err(e),
        None => sheet::register(&s.app, &ctx.actor, f.community_id, &input, key).await,
    };
    match registered {
        Ok(row) => {
            // Photos and files that came with the form join the new sheet (checked above).
            for (name, bytes) in files {
                let purpose = if crate::app::sheet::check_attachment(&bytes).is_ok_and(|m| m.starts_with("image/")) {
                    "photo"
                } else {
                    "file"
                };
                if let Err(e) = sheet::attach(&s.app, &ctx.actor, row.id, purpose, &name, &bytes).await {
                    tracing::warn!(error = %e, sheet = row.id, "attachment with the registration refused");
                }
            }
            Ok(see_other(&format!("/sheets/{}", row.id)))
        }
        Err(e) => {
            let mut form = Form::with(&[
                ("kind", f.kind.clone()),
                ("channel", f.channel.clone()),
                ("room_no", f.room_no.clone()),
                ("person_id", f.person_id.clone()),
                ("requester_name", f.requester_name.clone()),
                ("requester_phone", f.requester_phone.clone()),
                ("reason", f.reason.clone()),
            ]);
            for (k, v) in f.flow_values() {
                form.values.insert(k.to_string(), v);
            }
            let status = form.fail(e, ctx.lang)?;
            let list = registering(&s, &ctx).await?;
            let key = f.key.clone();
            Ok(page(status, &new_page(&s, &ctx, &list, f.community_id, form, key).await))
        }
    }
}

#[derive(Template)]
#[template(path = "sheets/finder.html")]
struct FinderFragment {
    c: Chrome,
    candidates: Vec<st::Candidate>,
}

#[derive(Deserialize)]
struct FinderQuery {
    community_id: i64,
    #[serde(default)]
    q: String,
}

/// The unit finder's results (an htmx fragment under the search box).
async fn finder(State(s): State<AppState>, ctx: Ctx, Query(q): Query<FinderQuery>) -> PageResult {
    let candidates = sheet::find_requester(&s.app, &ctx.actor, q.community_id, &q.q).await.page(ctx.lang)?;
    Ok(render(&FinderFragment { c: Chrome::of(&ctx), candidates }))
}

// ---- the sheet ----

pub struct EventView {
    pub at: String,
    pub by: String,
    pub role: String,
    pub what: String,
    pub detail: String,
}

pub struct HandoverView {
    pub h: st::HandoverRow,
    pub state: String,
    pub sent: String,
    pub received: String,
    pub returned: String,
    /// When customer service signed for it coming back (R-SHEET-5).
    pub received_back: String,
    /// The viewer's department may sign for it, or hand it back (R-SHEET-4, R-SHEET-5).
    pub can_acknowledge: bool,
    pub can_return: bool,
    /// Back with customer service and not yet signed for: this viewer may sign.
    pub can_receive: bool,
}

#[derive(Template)]
#[template(path = "sheets/sheet.html")]
struct SheetPage {
    c: Chrome,
    cm: so::Community,
    s: st::SheetRow,
    kind: String,
    channel: String,
    state: String,
    registered: String,
    clock_state: String,
    due: String,
    due_ms: i64,
    handovers: Vec<HandoverView>,
    events: Vec<EventView>,
    signatures: Vec<st::Attachment>,
    files: Vec<st::Attachment>,
    departments: Vec<(String, String)>,
    receptionists: Vec<(String, String)>,
    /// Everyone of the community, for naming a receiver when dispatching.
    staff: Vec<(String, String)>,
    /// The viewer takes customer service's part (and may call the requester).
    can_handle: bool,
    /// The technician's call button: their own open repair, a phone on the sheet.
    calls: bool,
    is_director: bool,
    /// The viewer answers for this sheet (otherwise collecting needs a reason).
    mine_first_contact: bool,
    /// The steps the viewer may take on the sheet now (`may.may("dispatch")`).
    may: sheet::Permitted,
    /// Collected on the party's word by phone: their signature is still owed.
    acceptance_by_phone: bool,
    f: Form,
    /// The repair, complaint, inquiry or suggestion on the sheet and its steps.
    flow: super::requests::FlowView,
    /// Keys taken for the work (R-KEY-3): tag, who has them, until when, whether back.
    keys: Vec<(crate::store::keys::Loan, String)>,
}

fn describe_event(c: &Chrome, name: &str, data: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
    // What people wrote as they wrote it; what the program wrote in the reader's language.
    let pick = |k: &str| c.stored(v.get(k).and_then(|x| x.as_str()).unwrap_or(""));
    match name {
        "dispatched" => format!("#{} {}", v.get("handover").and_then(|x| x.as_i64()).unwrap_or(0), pick("opinion")),
        "acknowledged" | "work_started" | "return_received" => {
            format!("#{}", v.get("handover").and_then(|x| x.as_i64()).unwrap_or(0))
        }
        "signature_waived" => pick("reason"),
        "returned" => format!(
            "#{} {}{}",
            v.get("handover").and_then(|x| x.as_i64()).unwrap_or(0),
            pick("result"),
            c.paren(pick("signer"))
        ),
        "extended" | "suspended" | "terminated" | "beyond_centre" => pick("explanation"),
        "third_party_receipt" => pick("evidence"),
        "signature_captured" => pick("signer"),
        "collected" => {
            let conf = v.get("confirmation").cloned().unwrap_or_default();
            let how = if conf.get("by").and_then(|x| x.as_str()) == Some("phone") {
                c.t.get("sheet.confirmed_by_phone")
            } else {
                c.t.get("sheet.confirmed_by_signature")
            };
            format!("{} · {how}", pick("opinion"))
        }
        "resumed" => pick("note"),
        "first_contact_reassigned" => pick("reason"),
        other => super::requests::describe_flow_event(c, other, &v),
    }
}

async fn sheet_view(s: &AppState, ctx: &Ctx, id: i64, f: Form, kb: Option<&str>) -> PageResult {
    let d = sheet::detail(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let cm = org::community(&s.app, &ctx.actor, d.sheet.community_id).await.page(ctx.lang)?;
    let c = Chrome::of(ctx);
    let tz = super::community_zone(s, ctx, cm.id).await?;
    let cid = cm.id;
    let deps = org::departments(&s.app, &ctx.actor, cid).await.page(ctx.lang)?;
    let p = sheet::permitted_actions(&s.app, &ctx.actor, &d).await.page(ctx.lang)?;
    let is_director = ctx.actor.roles_in(cid).contains(&Role::CentreDirector);
    let can_handle = sheet::may_handle(&ctx.actor, cid, d.sheet.first_contact_id);
    let calls = crate::app::request::calls_straight_away(&ctx.actor, &d);
    let handovers: Vec<HandoverView> = d
        .handovers
        .clone()
        .into_iter()
        .map(|h| {
            use sheet::Step;
            HandoverView {
                state: c.t.get(&format!("handover.{}", h.state)).to_string(),
                sent: when(h.handed_over_at, tz),
                received: h.acknowledged_at.map(|v| when(v, tz)).unwrap_or_default(),
                returned: h.returned_at.map(|v| when(v, tz)).unwrap_or_default(),
                received_back: h.received_at.map(|v| when(v, tz)).unwrap_or_default(),
                can_acknowledge: p.permits_on(Step::Acknowledge, h.no),
                can_return: p.permits_on(Step::Return, h.no),
                can_receive: p.permits_on(Step::ReceiveReturn, h.no),
                h,
            }
        })
        .collect();
    let events = d
        .events
        .iter()
        .map(|e| EventView {
            at: when(e.at, tz),
            by: e.by_name.clone(),
            role: Role::parse(&e.by_role).map(|r| c.label(r).to_string()).unwrap_or_default(),
            what: c.t.get(&format!("sheet_event.{}", e.name)).to_string(),
            detail: describe_event(&c, &e.name, &e.data),
        })
        .collect();
    let staff = crate::app::auth::list_staff(&s.app, &ctx.actor).await.unwrap_or_default();
    let flow = super::requests::flow_view(s, ctx, &c, &d, &p, &deps, tz, kb).await;
    let keys = crate::app::keys::for_sheet(&s.app, &ctx.actor, cid, d.sheet.id)
        .await
        .page(ctx.lang)?
        .into_iter()
        .map(|l| (when(l.due_at, tz), l))
        .map(|(due, l)| (l, due))
        .collect();
    let status = if f.errors.is_empty() && f.banner.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &SheetPage {
            kind: kind_label(&c, &d.sheet.kind),
            channel: channel_label(&c, &d.sheet.channel),
            state: c.t.get(&format!("sheet_state.{}", d.sheet.state)).to_string(),
            registered: when(d.sheet.registered_at, tz),
            clock_state: c.t.get(&format!("clock.{}", d.clock.state.as_str())).to_string(),
            due: d.clock.due_at.map(|v| when(v, tz)).unwrap_or_default(),
            due_ms: d.clock.due_at.unwrap_or(0),
            handovers,
            events,
            files: d.attachments.iter().filter(|a| a.purpose != "signature").cloned().collect(),
            signatures: d.attachments.into_iter().filter(|a| a.purpose == "signature").collect(),
            // R-CMP-3: a complaint is offered only the departments the rule allows.
            departments: match &d.case.complaint {
                Some(cc) => crate::app::request::complaint_departments(&cc.details, &deps)
                    .into_iter()
                    .map(|x| (x.id.to_string(), x.name.clone()))
                    .collect(),
                None => deps.iter().filter(|x| x.active == 1).map(|x| (x.id.to_string(), x.name.clone())).collect(),
            },
            receptionists: staff
                .iter()
                .filter(|u| u.active == 1 && u.id != d.sheet.first_contact_id)
                .map(|u| (u.id.to_string(), u.display_name.clone()))
                .collect(),
            staff: std::iter::once((String::new(), c.t.get("sheet.any_receiver").to_string()))
                .chain(staff.iter().filter(|u| u.active == 1).map(|u| (u.id.to_string(), u.display_name.clone())))
                .collect(),
            can_handle,
            calls,
            acceptance_by_phone: d.sheet.signature_pending == 1 && d.sheet.collected_at.is_some(),
            may: p,
            is_director,
            mine_first_contact: d.sheet.first_contact_id == ctx.actor.user_id(),
            flow,
            keys,
            c,
            cm,
            s: d.sheet,
            f,
        },
    ))
}

#[derive(Deserialize, Default)]
struct SheetQuery {
    /// Words to look up in the knowledge base for an inquiry's answer (R-RECV-2).
    kb: Option<String>,
    /// An article chosen from the knowledge base: its answer and basis fill the form.
    article: Option<i64>,
}

async fn sheet_page(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<SheetQuery>,
) -> PageResult {
    let mut f = Form::default();
    if let Some(aid) = q.article
        && let Ok(row) = sheet::row(&s.app, &ctx.actor, id).await
    {
        let found = crate::app::request::articles(&s.app, &ctx.actor, row.community_id).await.page(ctx.lang)?;
        if let Some(a) = found.into_iter().find(|a| a.id == aid && a.active == 1) {
            f = Form::with(&[("answer", a.answer), ("basis", a.basis), ("article_id", a.id.to_string())]);
        }
    }
    sheet_view(&s, &ctx, id, f, q.kb.as_deref()).await
}

/// Every action form posts here: `action` names it, the other fields are its own.
#[derive(Deserialize, Default)]
struct ActForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    department_id: String,
    #[serde(default)]
    opinion: String,
    #[serde(default)]
    handover: u32,
    #[serde(default)]
    result: String,
    #[serde(default)]
    signer: String,
    #[serde(default)]
    signature: String,
    /// "1" when the signature was typed with the keyboard and confirmed.
    #[serde(default)]
    signature_typed: String,
    #[serde(default)]
    explanation: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    third_party: String,
    #[serde(default)]
    evidence: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    phone_note: String,
    #[serde(default)]
    as_director: Option<String>,
    #[serde(default)]
    on_behalf: String,
    #[serde(default)]
    to_user_id: String,
    #[serde(default)]
    reason: String,
    // The flows' steps (R-REP-*, R-CMP-*, R-RECV-*).
    #[serde(default)]
    class: String,
    #[serde(default)]
    technician_id: String,
    #[serde(default)]
    appointment_at: String,
    #[serde(default)]
    work_done: String,
    #[serde(default)]
    materials: String,
    #[serde(default)]
    item_1: String,
    #[serde(default)]
    qty_1: String,
    #[serde(default)]
    item_2: String,
    #[serde(default)]
    qty_2: String,
    #[serde(default)]
    item_3: String,
    #[serde(default)]
    qty_3: String,
    #[serde(default)]
    item_4: String,
    #[serde(default)]
    qty_4: String,
    #[serde(default)]
    flag_reason: String,
    #[serde(default)]
    valid: String,
    #[serde(default)]
    developer_contact: String,
    #[serde(default)]
    deadline_date: String,
    #[serde(default)]
    meeting_at: String,
    #[serde(default)]
    attendees: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    article_id: String,
    #[serde(default)]
    by_at: String,
    #[serde(default)]
    analysis: String,
    #[serde(default)]
    reply: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    resident_told: Option<String>,
    #[serde(default)]
    to_director: Option<String>,
}

impl ActForm {
    /// The signature was typed with the keyboard and confirmed (the pad's hidden flag).
    fn typed(&self) -> bool {
        self.signature_typed == "1"
    }

    /// Paid work's lines: up to four price-list items with their quantities (R-REP-4).
    fn quote_lines(&self) -> Result<Vec<crate::app::request::QuoteLine>, AppError> {
        let mut out = vec![];
        for (i, (item, qty)) in [
            (&self.item_1, &self.qty_1),
            (&self.item_2, &self.qty_2),
            (&self.item_3, &self.qty_3),
            (&self.item_4, &self.qty_4),
        ]
        .into_iter()
        .enumerate()
        {
            let Ok(item_id) = item.trim().parse::<i64>() else { continue };
            let quantity_centi = crate::app::request::parse_quantity(if qty.trim().is_empty() { "1" } else { qty })
                .map_err(|e| AppError::field(&format!("qty_{}", i + 1), e))?;
            out.push(crate::app::request::QuoteLine { item_id, quantity_centi });
        }
        Ok(out)
    }
}

fn end_of_day_ms(date: &str, tz: chrono_tz::Tz) -> Option<i64> {
    use chrono::TimeZone;
    let d = huiqian_domain::time::CivilDate::parse(date).ok()?.date();
    tz.from_local_datetime(&d.and_hms_opt(18, 0, 0)?).single().map(|x| x.timestamp_millis())
}

async fn act(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<ActForm>) -> PageResult {
    use crate::app::request::FlowAction as F;
    use sheet::{Action as A, SheetAction as S};
    let row = sheet::row(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let tz = super::community_zone(&s, &ctx, row.community_id).await?;
    let now = ctx.now;
    let required = |field: &str| AppError::field(field, huiqian_domain::validation::ValidationError::new("required"));
    let action: Result<A, AppError> = Ok(match f.action.as_str() {
        "dispatch" => A::Sheet(S::Dispatch {
            department_id: f.department_id.parse().unwrap_or(0),
            to_user_id: None,
            opinion: f.opinion.clone(),
        }),
        "acknowledge" => A::Sheet(S::Acknowledge { handover: f.handover }),
        "start_work" => A::Sheet(S::StartWork { handover: f.handover }),
        "return" => A::Sheet(S::Return { handover: f.handover, result: f.result.clone(), signer: f.signer.clone() }),
        "extend" => A::Sheet(S::Extend {
            due_at: end_of_day_ms(&f.due_date, tz).unwrap_or(0),
            explanation: f.explanation.clone(),
        }),
        "suspend" => A::Sheet(S::Suspend { explanation: f.explanation.clone() }),
        "resume" => A::Sheet(S::Resume { note: f.note.clone() }),
        "terminate" => A::Sheet(S::Terminate { explanation: f.explanation.clone() }),
        "beyond_centre" => {
            A::Sheet(S::BeyondCentre { explanation: f.explanation.clone(), third_party: Some(f.third_party.clone()) })
        }
        "record_third_party_receipt" => A::Sheet(S::RecordThirdPartyReceipt { evidence: f.evidence.clone() }),
        "collect" => {
            let by_phone = f.confirm == "phone";
            A::Sheet(S::Collect {
                opinion: f.opinion.clone(),
                signature: if by_phone { String::new() } else { f.signature.clone() },
                signer: f.signer.clone(),
                signature_typed: f.typed(),
                phone_confirmed_at: by_phone.then_some(now),
                phone_note: f.phone_note.clone(),
                as_director: f.as_director.is_some(),
                on_behalf: f.on_behalf.clone(),
            })
        }
        "archive" => A::Sheet(S::Archive),
        "receive_return" => A::Sheet(S::ReceiveReturn { handover: f.handover }),
        "waive_signature" => A::Sheet(S::WaiveSignature { reason: f.reason.clone() }),
        "capture_signature" => A::Sheet(S::CaptureSignature {
            signature: f.signature.clone(),
            signer: f.signer.clone(),
            signature_typed: f.typed(),
        }),
        "reassign_first_contact" => A::Sheet(S::ReassignFirstContact {
            to_user_id: f.to_user_id.parse().unwrap_or(0),
            reason: f.reason.clone(),
        }),
        "reclassify" => A::Flow(F::Reclassify { class: f.class.clone(), reason: f.reason.clone() }),
        "assign_technician" => A::Flow(F::AssignTechnician {
            technician_id: f.technician_id.trim().parse().unwrap_or(0),
            appointment_at: super::requests::local_ms(&f.appointment_at, tz),
            note: f.note.clone(),
        }),
        "arrive" => A::Flow(F::Arrive),
        "quote_charge" => match f.quote_lines() {
            Ok(lines) => A::Flow(F::QuoteCharge { lines }),
            Err(e) => return act_failed(&s, &ctx, id, &f, e).await,
        },
        "confirm_charge" => {
            let by_phone = f.confirm == "phone";
            A::Flow(F::ConfirmCharge {
                signature: if by_phone { String::new() } else { f.signature.clone() },
                signer: f.signer.clone(),
                signature_typed: f.typed(),
                phone_confirmed_at: by_phone.then_some(now),
                phone_note: f.phone_note.clone(),
            })
        }
        "complete_repair" => A::Flow(F::CompleteRepair {
            work_done: f.work_done.clone(),
            materials: f.materials.clone(),
            signature: f.signature.clone(),
            signer: f.signer.clone(),
            signature_typed: f.typed(),
        }),
        "receive_slip" => A::Flow(F::ReceiveSlip),
        "flag_complaint" => A::Flow(F::FlagComplaint { reason: f.flag_reason.clone(), note: f.note.clone() }),
        "judge_complaint" => A::Flow(F::JudgeComplaint {
            valid: f.valid == "1",
            explanation: f.explanation.clone(),
            department_id: f.department_id.trim().parse().ok(),
            developer_contact: f.developer_contact.clone(),
            deadline_at: end_of_day_ms(&f.deadline_date, tz),
        }),
        "record_solution" => match super::requests::local_ms(&f.meeting_at, tz) {
            Some(meeting_at) => A::Flow(F::RecordSolution {
                meeting_at,
                attendees: f.attendees.clone(),
                plan: f.plan.clone(),
                department_id: f.department_id.trim().parse().unwrap_or(0),
            }),
            None => return act_failed(&s, &ctx, id, &f, required("meeting_at")).await,
        },
        "log_progress" => A::Flow(F::LogProgress { note: f.note.clone(), resident_told: f.resident_told.is_some() }),
        "answer_inquiry" => A::Flow(F::AnswerInquiry {
            answer: f.answer.clone(),
            basis: f.basis.clone(),
            article_id: f.article_id.trim().parse().ok(),
        }),
        "escalate_inquiry" => {
            A::Flow(F::EscalateInquiry { to_user_id: f.to_user_id.trim().parse().unwrap_or(0), note: f.note.clone() })
        }
        "promise_reply" => match super::requests::local_ms(&f.by_at, tz) {
            Some(by_at) => A::Flow(F::PromiseReply { by_at, note: f.note.clone() }),
            None => return act_failed(&s, &ctx, id, &f, required("by_at")).await,
        },
        "analyse_suggestion" => {
            A::Flow(F::AnalyseSuggestion { analysis: f.analysis.clone(), to_director: f.to_director.is_some() })
        }
        "reply_suggestion" => A::Flow(F::ReplySuggestion { reply: f.reply.clone() }),
        _ => return Err(PageError(AppError::NotFound, ctx.lang)),
    });
    let action = match action {
        Ok(a) => a,
        Err(e) => return act_failed(&s, &ctx, id, &f, e).await,
    };
    match sheet::act(&s.app, &ctx.actor, id, f.version, &action).await {
        Ok(_) => match super::requests::back_to(&f.back) {
            Some(back) => Ok(see_other(back)),
            None => Ok(see_other(&format!("/sheets/{id}"))),
        },
        Err(e) => act_failed(&s, &ctx, id, &f, e).await,
    }
}

/// The sheet again with the refusal in the user's language and what was typed.
async fn act_failed(s: &AppState, ctx: &Ctx, id: i64, f: &ActForm, e: AppError) -> PageResult {
    let mut form = Form::with(&[
        ("action", f.action.clone()),
        ("opinion", f.opinion.clone()),
        ("result", f.result.clone()),
        ("signer", f.signer.clone()),
        ("explanation", f.explanation.clone()),
        ("due_date", f.due_date.clone()),
        ("note", f.note.clone()),
        ("third_party", f.third_party.clone()),
        ("evidence", f.evidence.clone()),
        ("phone_note", f.phone_note.clone()),
        ("reason", f.reason.clone()),
        ("on_behalf", f.on_behalf.clone()),
        ("class", f.class.clone()),
        ("technician_id", f.technician_id.clone()),
        ("appointment_at", f.appointment_at.clone()),
        ("work_done", f.work_done.clone()),
        ("materials", f.materials.clone()),
        ("flag_reason", f.flag_reason.clone()),
        ("valid", f.valid.clone()),
        ("department_id", f.department_id.clone()),
        ("developer_contact", f.developer_contact.clone()),
        ("deadline_date", f.deadline_date.clone()),
        ("meeting_at", f.meeting_at.clone()),
        ("attendees", f.attendees.clone()),
        ("plan", f.plan.clone()),
        ("answer", f.answer.clone()),
        ("basis", f.basis.clone()),
        ("article_id", f.article_id.clone()),
        ("by_at", f.by_at.clone()),
        ("analysis", f.analysis.clone()),
        ("reply", f.reply.clone()),
        ("to_user_id", f.to_user_id.clone()),
    ]);
    for (i, (item, qty)) in [(&f.item_1, &f.qty_1), (&f.item_2, &f.qty_2), (&f.item_3, &f.qty_3), (&f.item_4, &f.qty_4)]
        .into_iter()
        .enumerate()
    {
        form.values.insert(format!("item_{}", i + 1), item.clone());
        form.values.insert(format!("qty_{}", i + 1), qty.clone());
    }
    form.fail(e, ctx.lang)?;
    sheet_view(s, ctx, id, form, None).await
}

// ---- print ----

#[derive(Template)]
#[template(path = "sheets/print.html")]
struct PrintPage {
    c: Chrome,
    cm: so::Community,
    company: String,
    s: st::SheetRow,
    kind: String,
    channel: String,
    /// "来访人"/"来电人"…, "来访事由"/"来电事由"… as the channel names them.
    requester_label: &'static str,
    reason_label: &'static str,
    registered: String,
    printed: String,
    qr_svg: String,
    link: String,
    /// The four parts (联): their label and where each goes on archiving (R-SHEET-11).
    parts: Vec<PrintPart>,
    /// One block per handover, then blank blocks up to [`PRINT_DEPARTMENT_BLOCKS`] for
    /// departments the sheet is yet to be sent to by hand.
    handovers: Vec<PrintHandover>,
    /// The requester's signatures of the request (at registration or signed later).
    requester_signatures: Vec<st::Attachment>,
    /// Extensions, suspensions, terminations and matters beyond the centre, with who
    /// signed them (R-SHEET-8, R-SHEET-10).
    explanations: Vec<String>,
    acceptance: Option<PrintAcceptance>,
    /// The party's signatures of the acceptance (at collection, on the technician's
    /// phone, or signed later).
    acceptance_signatures: Vec<st::Attachment>,
    archived: String,
    archived_by: String,
}

struct PrintPart {
    label: &'static str,
    keeps: &'static str,
}

/// A department's block of the form: what the record holds, or blank to fill in by hand.
#[derive(Default)]
struct PrintHandover {
    no: i64,
    department: String,
    opinion: String,
    sent: String,
    received: String,
    received_by: String,
    result: String,
    signer: String,
    returned: String,
    received_back: String,
    received_back_by: String,
}

/// The collection and acceptance as recorded (R-SHEET-7).
struct PrintAcceptance {
    opinion: String,
    confirmation: String,
    signer: String,
    at: String,
    by: String,
}

/// Department blocks every printed form has room for: a sheet printed at registration
/// goes round the departments on paper and is filled in by hand.
const PRINT_DEPARTMENT_BLOCKS: usize = 3;

/// The paper four-part form (四联单): A4, one part a page, with a QR code back to the record.
async fn print(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, headers: axum::http::HeaderMap) -> PageResult {
    let d = sheet::detail(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let cm = org::community(&s.app, &ctx.actor, d.sheet.community_id).await.page(ctx.lang)?;
    let company = org::company_name(&s.app, &ctx.actor, cm.id).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let tz = super::community_zone(&s, &ctx, cm.id).await?;
    let base = if s.app.config.public_url.is_empty() {
        headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(|h| format!("http://{h}")).unwrap_or_default()
    } else {
        s.app.config.public_url.trim_end_matches('/').to_string()
    };
    let link = format!("{base}/sheets/{id}");
    let collected = d.events.iter().rev().find(|e| e.name == "collected");
    let acceptance = collected.map(|e| {
        let v: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
        let pick = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let conf = v.get("confirmation").cloned().unwrap_or_default();
        let (confirmation, signer) = match conf.get("by").and_then(|x| x.as_str()) {
            Some("phone") => (c.t.get("sheet.confirmed_by_phone").to_string(), String::new()),
            Some("signature") => (
                c.t.get("sheet.confirmed_by_signature").to_string(),
                conf.get("signer").and_then(|x| x.as_str()).unwrap_or("").to_string(),
            ),
            _ => (c.t.get("print.answered_on_the_spot").to_string(), String::new()),
        };
        PrintAcceptance { opinion: pick("opinion"), confirmation, signer, at: when(e.at, tz), by: e.by_name.clone() }
    });
    // Which signature is which: the request's is made at registration or signed for it
    // later (补签) before collection; the acceptance's at or after collection, or on the
    // technician's phone when the repair was done. A follow-up's signature is neither.
    let captured: Vec<i64> = d.events.iter().filter(|e| e.name == "signature_captured").map(|e| e.at).collect();
    let follow_up_signatures: Vec<i64> = d.follow_ups.iter().filter_map(|f| f.signature_id).collect();
    let collected_at = collected.map(|e| e.at);
    let (requester_signatures, acceptance_signatures): (Vec<_>, Vec<_>) = d
        .attachments
        .into_iter()
        .filter(|a| a.purpose == "signature" && !follow_up_signatures.contains(&a.id))
        .partition(|a| {
            let before_collection = collected_at.is_none_or(|at| a.created_at < at);
            before_collection && (a.created_at <= d.sheet.registered_at || captured.contains(&a.created_at))
        });
    let explanations = d
        .events
        .iter()
        .filter(|e| {
            matches!(e.name.as_str(), "extended" | "suspended" | "terminated" | "beyond_centre" | "third_party_receipt")
        })
        .map(|e| {
            format!(
                "{} {} · {}{}",
                when(e.at, tz),
                c.t.get(&format!("sheet_event.{}", e.name)),
                describe_event(&c, &e.name, &e.data),
                c.paren(&e.by_name)
            )
        })
        .collect();
    let archived = d.events.iter().rev().find(|e| e.name == "archived");
    let mut handovers: Vec<PrintHandover> = d
        .handovers
        .into_iter()
        .map(|h| PrintHandover {
            no: h.no,
            sent: when(h.handed_over_at, tz),
            received: h.acknowledged_at.map(|v| when(v, tz)).unwrap_or_default(),
            received_by: h.acknowledged_by_name.unwrap_or_default(),
            returned: h.returned_at.map(|v| when(v, tz)).unwrap_or_default(),
            received_back: h.received_at.map(|v| when(v, tz)).unwrap_or_default(),
            received_back_by: h.received_by_name.unwrap_or_default(),
            department: h.department_name,
            opinion: h.opinion,
            result: h.result,
            signer: h.signer,
        })
        .collect();
    while handovers.len() < PRINT_DEPARTMENT_BLOCKS {
        handovers.push(PrintHandover { no: handovers.len() as i64 + 1, ..Default::default() });
    }
    let parts = (1..=4)
        .map(|n| PrintPart { label: c.t.get(&format!("print.part_{n}")), keeps: c.t.get(&format!("print.keeps_{n}")) })
        .collect();
    Ok(render(&PrintPage {
        kind: kind_label(&c, &d.sheet.kind),
        channel: channel_label(&c, &d.sheet.channel),
        requester_label: c.t.get(&format!("sheet.requester_by.{}", d.sheet.channel)),
        reason_label: c.t.get(&format!("sheet.reason_by.{}", d.sheet.channel)),
        registered: when(d.sheet.registered_at, tz),
        printed: when(ctx.now, tz),
        qr_svg: super::sign_in::qr_svg(&link),
        link,
        parts,
        handovers,
        requester_signatures,
        explanations,
        acceptance,
        acceptance_signatures,
        archived: archived.map(|e| when(e.at, tz)).unwrap_or_default(),
        archived_by: archived.map(|e| e.by_name.clone()).unwrap_or_default(),
        company,
        c,
        cm,
        s: d.sheet,
    }))
}

// ---- queues, archive, ledger ----

#[derive(Deserialize)]
struct QueueQuery {
    community_id: Option<i64>,
    q: Option<String>,
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "sheets/queues.html")]
struct QueuesPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    current: String,
    tabs: Vec<(String, String)>,
    list: Vec<Row>,
    can_register: bool,
    page: i64,
    more: bool,
}

async fn queues(State(s): State<AppState>, ctx: Ctx, Query(q): Query<QueueQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::ViewCommunity).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let c = Chrome::of(&ctx);
    let handles = ctx.actor.authorize(Permission::HandleSheet, cm.id).is_ok()
        || ctx.actor.authorize(Permission::RegisterSheet, cm.id).is_ok();
    let default = if handles { "mine" } else { "department" };
    let current =
        q.q.filter(|x| ["mine", "chase", "department", "overdue", "signature"].contains(&x.as_str()))
            .unwrap_or_else(|| default.into());
    let name: sheet::QueueName =
        serde_json::from_value(serde_json::json!(current)).map_err(|_| PageError(AppError::NotFound, ctx.lang))?;
    let size = crate::web::api_sheets::QUEUE_PAGE;
    let pg = q.page.unwrap_or(0).max(0);
    let mut rows_ = sheet::queue(&s.app, &ctx.actor, cm.id, name, size + 1, pg * size).await.page(ctx.lang)?;
    let more = rows_.len() as i64 > size;
    rows_.truncate(size as usize);
    let tabs = ["mine", "chase", "department", "overdue", "signature"]
        .iter()
        .map(|t| (t.to_string(), c.t.get(&format!("queue.{t}")).to_string()))
        .collect();
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    Ok(render(&QueuesPage {
        list: rows(&c, zone, rows_, ctx.now),
        can_register: ctx.actor.authorize(Permission::RegisterSheet, cm.id).is_ok(),
        page: pg,
        more,
        communities: list.iter().map(|x| (x.id.to_string(), x.name.clone())).collect(),
        community_id: cm.id,
        current,
        tabs,
        c,
    }))
}

#[derive(Deserialize, Default)]
struct ArchiveQuery {
    community_id: Option<i64>,
    number: Option<String>,
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    room: Option<String>,
    phone_last4: Option<String>,
    q: Option<String>,
    department_id: Option<String>,
    receptionist_id: Option<String>,
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "sheets/archive.html")]
struct ArchivePage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    f: Form,
    kinds: Vec<(String, String)>,
    states: Vec<(String, String)>,
    departments: Vec<(String, String)>,
    receptionists: Vec<(String, String)>,
    list: Vec<Row>,
    page: i64,
    more: bool,
    query: String,
}

pub(super) fn day_ms(d: &str, tz: chrono_tz::Tz, next: bool) -> Option<i64> {
    use chrono::TimeZone;
    let d = huiqian_domain::time::CivilDate::parse(d).ok()?.date();
    let d = if next { d.succ_opt()? } else { d };
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single().map(|x| x.timestamp_millis())
}

/// The customer-service archive: any sheet by number, dates, kind, state, unit, phone,
/// receptionist, department or words (R-SHEET-11).
async fn archive(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ArchiveQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::ViewCommunity).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    let c = Chrome::of(&ctx);
    let ne = |v: &Option<String>| v.as_ref().map(|x| x.trim().to_string()).filter(|x| !x.is_empty());
    let pg = q.page.unwrap_or(0).max(0);
    let filter = st::Search {
        number: ne(&q.number),
        from_ms: ne(&q.from).and_then(|d| day_ms(&d, zone, false)),
        to_ms: ne(&q.to).and_then(|d| day_ms(&d, zone, true)),
        kind: ne(&q.kind),
        state: ne(&q.state),
        unit_id: None,
        room_prefix: ne(&q.room).map(|r| r.to_uppercase()),
        person_id: None,
        first_contact_id: ne(&q.receptionist_id).and_then(|v| v.parse().ok()),
        department_id: ne(&q.department_id).and_then(|v| v.parse().ok()),
        phone_last4: ne(&q.phone_last4),
        text: ne(&q.q),
        limit: 51,
        offset: pg * 50,
    };
    let mut found = sheet::search(&s.app, &ctx.actor, cm.id, filter).await.page(ctx.lang)?;
    let more = found.len() > 50;
    found.truncate(50);
    let f = Form::with(&[
        ("number", q.number.clone().unwrap_or_default()),
        ("from", q.from.clone().unwrap_or_default()),
        ("to", q.to.clone().unwrap_or_default()),
        ("kind", q.kind.clone().unwrap_or_default()),
        ("state", q.state.clone().unwrap_or_default()),
        ("room", q.room.clone().unwrap_or_default()),
        ("phone_last4", q.phone_last4.clone().unwrap_or_default()),
        ("q", q.q.clone().unwrap_or_default()),
        ("department_id", q.department_id.clone().unwrap_or_default()),
        ("receptionist_id", q.receptionist_id.clone().unwrap_or_default()),
    ]);
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("community_id", &cm.id.to_string())
        .extend_pairs(f.values.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    let any = (String::new(), c.t.get("audit.all_communities").to_string());
    let deps = org::departments(&s.app, &ctx.actor, cm.id).await.page(ctx.lang)?;
    let staff = crate::app::auth::list_staff(&s.app, &ctx.actor).await.unwrap_or_default();
    let states = ["registered", "dispatched", "awaiting_acceptance", "suspended", "collected", "archived"];
    Ok(render(&ArchivePage {
        kinds: std::iter::once(any.clone()).chain(kind_options(&c)).collect(),
        states: std::iter::once(any.clone())
            .chain(states.iter().map(|x| (x.to_string(), c.t.get(&format!("sheet_state.{x}")).to_string())))
            .collect(),
        departments: std::iter::once(any.clone())
            .chain(deps.iter().map(|d| (d.id.to_string(), d.name.clone())))
            .collect(),
        receptionists: std::iter::once(any)
            .chain(staff.iter().map(|u| (u.id.to_string(), u.display_name.clone())))
            .collect(),
        list: rows(&c, zone, found, ctx.now),
        communities: list.iter().map(|x| (x.id.to_string(), x.name.clone())).collect(),
        community_id: cm.id,
        page: pg,
        more,
        query,
        c,
        f,
    }))
}

#[derive(Deserialize, Default)]
struct LedgerQuery {
    community_id: Option<i64>,
    department_id: Option<String>,
    state: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    /// `csv` or `xlsx` to download what the page shows, in its order.
    format: Option<String>,
}

pub struct LedgerRow {
    pub h: st::HandoverRow,
    pub state: String,
    pub sent: String,
    pub received: String,
    pub returned: String,
    /// Customer service signed for it coming back (R-SHEET-5).
    pub received_back: String,
}

#[derive(Template)]
#[template(path = "sheets/ledger.html")]
struct LedgerPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    f: Form,
    departments: Vec<(String, String)>,
    states: Vec<(String, String)>,
    headers: Vec<export::Header>,
    sort: export::Sort,
    rows: Vec<LedgerRow>,
    /// The filters and the order, for the export links.
    query: String,
}

/// The handover ledger (会签单交接记录本, R-SHEET-4) as a page, sortable by its columns,
/// and as CSV or XLSX.
async fn ledger(State(s): State<AppState>, ctx: Ctx, Query(q): Query<LedgerQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::ViewCommunity).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    let c = Chrome::of(&ctx);
    let ne = |v: &Option<String>| v.as_ref().map(|x| x.trim().to_string()).filter(|x| !x.is_empty());
    let sort = export::Sort::parse(q.sort.as_deref(), q.dir.as_deref(), st::LEDGER_SORTS);
    let filter = st::LedgerFilter {
        department_id: ne(&q.department_id).and_then(|v| v.parse().ok()),
        state: ne(&q.state),
        from_ms: ne(&q.from).and_then(|d| day_ms(&d, zone, false)),
        to_ms: ne(&q.to).and_then(|d| day_ms(&d, zone, true)),
        sort: sort.column(),
        desc: sort.desc,
        limit: 200,
        offset: 0,
    };
    if let Some(format) = export::Format::parse(q.format.as_deref()) {
        let keys = sheet::ledger_keys(&s.app, &ctx.actor, cm.id, &filter).await.page(ctx.lang)?;
        let (app, actor, id, tz, lang) = (s.app.clone(), ctx.actor.clone(), cm.id, zone, ctx.lang);
        let d = export::Download {
            format,
            table: crate::web::api_sheets::handover_table(lang),
            name: format!("{} {}", c.t.get("export.handover_ledger"), cm.name),
            fallback: "handover-ledger".into(),
        };
        let fetch = move |keys: Vec<(i64, i64)>| {
            let (app, actor) = (app.clone(), actor.clone());
            async move { sheet::ledger_rows(&app, &actor, id, &keys).await }
        };
        let cells = move |r: st::HandoverRow| crate::web::api_sheets::handover_cells(&r, tz, lang);
        return export::download(d, keys, fetch, cells).await.page(ctx.lang);
    }
    let found = sheet::ledger(&s.app, &ctx.actor, cm.id, filter).await.page(ctx.lang)?;
    let f = Form::with(&[
        ("department_id", q.department_id.clone().unwrap_or_default()),
        ("state", q.state.clone().unwrap_or_default()),
        ("from", q.from.clone().unwrap_or_default()),
        ("to", q.to.clone().unwrap_or_default()),
    ]);
    let filters: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("community_id", &cm.id.to_string())
        .extend_pairs(f.values.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    let query: String = url::form_urlencoded::Serializer::new(filters.clone()).extend_pairs(sort.pairs()).finish();
    let base = format!("/handovers?{filters}");
    let headers = [
        ("ledger.number", Some("number")),
        ("ledger.department", Some("department")),
        ("ledger.handed_over_at", Some("handed_over_at")),
        ("ledger.handed_over_by", Some("handed_over_by")),
        ("ledger.acknowledged_at", Some("acknowledged_at")),
        ("ledger.acknowledged_by", Some("acknowledged_by")),
        ("ledger.returned_at", Some("returned_at")),
        ("ledger.result", None),
        ("ledger.received_back", Some("received_at")),
        ("common.status", Some("state")),
    ]
    .into_iter()
    .map(|(k, key)| {
        let h = sort.header(c.t.get(k), key, &base);
        if k == "ledger.result" { h.class("opt") } else { h }
    })
    .collect();
    let any = (String::new(), c.t.get("audit.all_communities").to_string());
    let deps = org::departments(&s.app, &ctx.actor, cm.id).await.page(ctx.lang)?;
    let rows = found
        .into_iter()
        .map(|h| LedgerRow {
            state: c.t.get(&format!("handover.{}", h.state)).to_string(),
            sent: when(h.handed_over_at, zone),
            received: h.acknowledged_at.map(|v| when(v, zone)).unwrap_or_default(),
            returned: h.returned_at.map(|v| when(v, zone)).unwrap_or_default(),
            received_back: h.received_at.map(|v| when(v, zone)).unwrap_or_default(),
            h,
        })
        .collect();
    Ok(render(&LedgerPage {
        departments: std::iter::once(any.clone())
            .chain(deps.iter().map(|d| (d.id.to_string(), d.name.clone())))
            .collect(),
        states: std::iter::once(any)
            .chain(
                ["handed_over", "acknowledged", "in_progress", "returned", "terminated", "suspended"]
                    .iter()
                    .map(|x| (x.to_string(), c.t.get(&format!("handover.{x}")).to_string())),
            )
            .collect(),
        communities: list.iter().map(|x| (x.id.to_string(), x.name.clone())).collect(),
        community_id: cm.id,
        headers,
        sort,
        rows,
        query,
        c,
        f,
    }))
}

/// A stored photo, file or signature (only for staff of its community).
async fn attachment(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let (a, bytes) = sheet::attachment(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let disposition = format!("inline; filename=\"attachment-{}\"", a.id);
    Ok((
        [
            (header::CONTENT_TYPE, a.mime.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// Attach a photo, a file or evidence from the sheet page (multipart; the CSRF token is in
/// the form action's query string).
async fn attach(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    mut mp: axum::extract::Multipart,
) -> PageResult {
    use huiqian_domain::validation::ValidationError;
    let limit = s.app.config.limits.max_upload_bytes;
    let too_large =
        || AppError::field("file", ValidationError::new("upload.too_large").with("max_mb", limit / 1024 / 1024));
    let (mut purpose, mut file, mut problem, mut back) = (String::from("photo"), None, None, String::new());
    loop {
        match mp.next_field().await {
            Ok(Some(mut field)) => match field.name().unwrap_or_default() {
                "purpose" => purpose = field.text().await.unwrap_or_default(),
                "back" => back = field.text().await.unwrap_or_default(),
                "file" => {
                    let name = field.file_name().unwrap_or("upload").to_string();
                    let mut buf = Vec::new();
                    loop {
                        match field.chunk().await {
                            Ok(Some(chunk)) if buf.len() + chunk.len() <= limit => buf.extend_from_slice(&chunk),
                            Ok(Some(_)) | Err(_) => {
                                problem = Some(too_large());
                                break;
                            }
                            Ok(None) => break,
                        }
                    }
                    file = Some((name, buf));
                }
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                problem = Some(too_large());
                break;
            }
        }
    }
    let result = match (problem, file) {
        (Some(e), _) => Err(e),
        (None, Some((name, bytes))) if !bytes.is_empty() => {
            sheet::attach(&s.app, &ctx.actor, id, purpose.trim(), &name, &bytes).await.map(|_| ())
        }
        _ => Err(AppError::field("file", ValidationError::new("upload.missing"))),
    };
    // Back to the technician's day when the photo was taken there.
    let back = if back.starts_with('/') && !back.starts_with("//") { back } else { format!("/sheets/{id}") };
    match result {
        Ok(()) => Ok(see_other(&back)),
        Err(e) => {
            let mut form = Form::default();
            form.fail(e, ctx.lang)?;
            sheet_view(&s, &ctx, id, form, None).await
        }
    }
}

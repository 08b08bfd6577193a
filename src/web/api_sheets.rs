//! The countersign-sheet part of the JSON API.

use super::extract::{ApiJson, Idempotency};
use super::{ApiActor, ApiError, AppState, ErrorBody, export};
use crate::app::{AppResult, sheet};
use crate::store::sheet as st;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(upload_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(OpenApiRouter::new().routes(routes!(attach)).layer(axum::extract::DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(my_notifications))
        .routes(routes!(read_notification))
        .routes(routes!(clock_targets, set_clock_target))
        .routes(routes!(get_calendar))
        .routes(routes!(set_week))
        .routes(routes!(set_day))
        .routes(routes!(remove_day))
        .routes(routes!(holiday_notices, load_holiday_notice))
        .routes(routes!(holiday_notice_text))
        .routes(routes!(search_sheets, register_sheet))
        .routes(routes!(get_sheet))
        .routes(routes!(sheet_action))
        .routes(routes!(sheet_queue))
        .routes(routes!(handover_ledger))
        .routes(routes!(unit_sheets))
        .routes(routes!(department_sheets))
        .routes(routes!(recovery_rate))
}

type ApiResult<T> = Result<T, ApiError>;

fn api<T>(r: AppResult<T>, lang: crate::i18n::Lang) -> ApiResult<T> {
    r.map_err(|e| ApiError::from_app(e, lang))
}

/// Register a resident's request (R-SHEET-1). `Idempotency-Key`: a retried registration
/// returns the first sheet instead of creating a second.
#[utoipa::path(post, path = "/communities/{id}/sheets", tag = "sheets", params(("id" = i64, Path), super::api::IdempotencyHeader), request_body = sheet::RegisterInput,
    responses((status = 201, body = st::SheetRow), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register_sheet(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<sheet::RegisterInput>,
) -> ApiResult<Response> {
    let key = idem.0.as_ref().map(|(k, _)| k.as_str());
    super::api::idempotent(&s, &a, &idem, sheet::register(&s.app, &a.actor, id, &b, key)).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    /// Sheet number (`KF-2026-000123`).
    pub number: Option<String>,
    /// Registered from (epoch ms, inclusive).
    pub from: Option<i64>,
    /// Registered before (epoch ms).
    pub to: Option<i64>,
    pub kind: Option<String>,
    pub state: Option<String>,
    /// Room-number prefix.
    pub room: Option<String>,
    pub person_id: Option<i64>,
    /// The first-contact receptionist.
    pub receptionist_id: Option<i64>,
    pub department_id: Option<i64>,
    /// Last four digits of the requester's phone.
    pub phone_last4: Option<String>,
    /// Words in the reason or the requester's name.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl SearchQuery {
    pub fn filter(&self) -> st::Search {
        st::Search {
            number: nonempty(&self.number),
            from_ms: self.from,
            to_ms: self.to,
            kind: nonempty(&self.kind),
            state: nonempty(&self.state),
            unit_id: None,
            room_prefix: nonempty(&self.room),
            person_id: self.person_id,
            first_contact_id: self.receptionist_id,
            department_id: self.department_id,
            phone_last4: nonempty(&self.phone_last4),
            text: nonempty(&self.q),
            limit: self.limit.unwrap_or(50),
            offset: self.offset.unwrap_or(0),
        }
    }
}

/// The customer-service archive: find any sheet (R-SHEET-11).
#[utoipa::path(get, path = "/communities/{id}/sheets", tag = "sheets", params(("id" = i64, Path), SearchQuery), responses((status = 200, body = [st::SheetRow]), (status = 404, body = ErrorBody)))]
async fn search_sheets(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<st::SheetRow>>> {
    api(sheet::search(&s.app, &a.actor, id, q.filter()).await, a.lang).map(Json)
}

/// A sheet with its handovers, timeline, attachments and live collection clock (R-SHEET-12).
#[utoipa::path(get, path = "/sheets/{id}", tag = "sheets", params(("id" = i64, Path)), responses((status = 200, body = sheet::SheetDetail), (status = 404, body = ErrorBody)))]
async fn get_sheet(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<sheet::SheetDetail>> {
    api(sheet::detail(&s.app, &a.actor, id).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActionBody {
    /// The sheet's `version` as read; a stale one gets 409.
    pub version: i64,
    #[serde(flatten)]
    pub action: sheet::Action,
}

/// Act on a sheet: dispatch, acknowledge, return, extend, suspend, resume, terminate,
/// beyond the centre, collect, archive, reassign, capture a signature; and the flows'
/// steps — repairs (reclassify, assign a technician, arrive, quote and confirm a charge,
/// complete, receive the slip), complaints (flag, judge, solution, progress), inquiries
/// (answer, escalate, promise a reply), suggestions (analyse, reply). Who may do what
/// follows the manual (R-ROLE-2); refusals name the rule.
#[utoipa::path(post, path = "/sheets/{id}/actions", tag = "sheets", params(("id" = i64, Path)), request_body = ActionBody,
    responses((status = 200, body = sheet::SheetDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sheet_action(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ActionBody>,
) -> ApiResult<Json<sheet::SheetDetail>> {
    api(sheet::act(&s.app, &a.actor, id, b.version, &b.action).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Paging {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A queue's default page: what a receptionist works through before the next look
/// (ask for more with `limit`/`offset`).
pub const QUEUE_PAGE: i64 = 50;

/// Work queues: `mine`, `chase` (soonest due first), `department`, `overdue`, `signature`;
/// 50 at a time unless `limit` says otherwise.
#[utoipa::path(get, path = "/communities/{id}/queues/{name}", tag = "sheets", params(("id" = i64, Path), ("name" = sheet::QueueName, Path), Paging), responses((status = 200, body = [st::SheetRow])))]
async fn sheet_queue(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, name)): Path<(i64, sheet::QueueName)>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Vec<st::SheetRow>>> {
    api(sheet::queue(&s.app, &a.actor, id, name, p.limit.unwrap_or(QUEUE_PAGE), p.offset.unwrap_or(0)).await, a.lang)
        .map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LedgerQuery {
    pub department_id: Option<i64>,
    pub state: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// `csv` to download (UTF-8 with BOM, opens in Excel).
    pub format: Option<String>,
}

/// The handover ledger (会签单交接记录本, R-SHEET-4), filterable and exportable.
#[utoipa::path(get, path = "/communities/{id}/handovers", tag = "sheets", params(("id" = i64, Path), LedgerQuery), responses((status = 200, body = [st::HandoverRow])))]
async fn handover_ledger(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Response> {
    let csv = q.format.as_deref() == Some("csv");
    let f = st::LedgerFilter {
        department_id: q.department_id,
        state: nonempty(&q.state),
        from_ms: q.from,
        to_ms: q.to,
        limit: q.limit.unwrap_or(100),
        offset: q.offset.unwrap_or(0),
        ..Default::default()
    };
    if !csv {
        return api(sheet::ledger(&s.app, &a.actor, id, f).await, a.lang).map(|rows| Json(rows).into_response());
    }
    let lang = a.lang;
    // The whole ledger from `offset`, or `limit` rows of it, read page by page.
    let keys = api(sheet::ledger_keys(&s.app, &a.actor, id, &f).await, lang)?;
    let tz = api(crate::app::org::zone(&s.app, &a.actor, id).await, lang)?;
    let start = usize::try_from(q.offset.unwrap_or(0)).unwrap_or(0);
    let cap = q.limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(0));
    let keys: Vec<(i64, i64)> = keys.into_iter().skip(start).take(cap).collect();
    let d = export::Download {
        format: export::Format::Csv,
        table: handover_table(lang),
        name: crate::i18n::t(lang, "export.handover_ledger").to_string(),
        fallback: "handover-ledger".into(),
    };
    let (app, actor) = (s.app.clone(), a.actor.clone());
    let fetch = move |keys: Vec<(i64, i64)>| {
        let (app, actor) = (app.clone(), actor.clone());
        async move { sheet::ledger_rows(&app, &actor, id, &keys).await }
    };
    api(export::download(d, keys, fetch, move |r| handover_cells(&r, tz, lang)).await, lang)
}

/// The handover ledger's export columns.
pub fn handover_table(lang: crate::i18n::Lang) -> export::Table {
    let t = |k: &str| crate::i18n::t(lang, k);
    export::Table {
        title: t("export.handover_ledger").to_string(),
        columns: vec![
            export::Column::text(t("ledger.number"), 16),
            export::Column::number(t("ledger.no"), 6),
            export::Column::text(t("ledger.department"), 10),
            export::Column::text(t("ledger.handed_over_at"), 17),
            export::Column::text(t("ledger.handed_over_by"), 8),
            export::Column::text(t("ledger.opinion"), 20),
            export::Column::text(t("ledger.acknowledged_at"), 17),
            export::Column::text(t("ledger.acknowledged_by"), 8),
            export::Column::text(t("ledger.returned_at"), 17),
            export::Column::text(t("ledger.returned_by"), 8),
            export::Column::text(t("ledger.result"), 20),
            export::Column::text(t("ledger.signer"), 8),
            export::Column::text(t("ledger.received_back"), 17),
            export::Column::text(t("ledger.received_back_by"), 8),
            export::Column::text(t("common.status"), 8),
        ],
    }
}

/// A handover as the export's row, in [`handover_table`]'s columns.
pub fn handover_cells(r: &st::HandoverRow, tz: chrono_tz::Tz, lang: crate::i18n::Lang) -> Vec<String> {
    let when = |ms: Option<i64>| ms.map(|m| super::pages::when(m, tz)).unwrap_or_default();
    vec![
        r.number.clone(),
        r.no.to_string(),
        r.department_name.clone(),
        when(Some(r.handed_over_at)),
        r.handed_over_by_name.clone(),
        r.opinion.clone(),
        when(r.acknowledged_at),
        r.acknowledged_by_name.clone().unwrap_or_default(),
        when(r.returned_at),
        r.returned_by_name.clone().unwrap_or_default(),
        r.result.clone(),
        r.signer.clone(),
        when(r.received_at),
        r.received_by_name.clone().unwrap_or_default(),
        crate::i18n::t(lang, &format!("handover.{}", r.state)).to_string(),
    ]
}

/// Every sheet of a unit: the owner's file (R-SHEET-11).
#[utoipa::path(get, path = "/units/{id}/sheets", tag = "sheets", params(("id" = i64, Path), Paging), responses((status = 200, body = [st::SheetRow]), (status = 404, body = ErrorBody)))]
async fn unit_sheets(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Vec<st::SheetRow>>> {
    let u = api(crate::app::org::unit(&s.app, &a.actor, id).await, a.lang)?;
    let f = st::Search {
        unit_id: Some(id),
        limit: p.limit.unwrap_or(100),
        offset: p.offset.unwrap_or(0),
        ..Default::default()
    };
    api(sheet::search(&s.app, &a.actor, u.community_id, f).await, a.lang).map(Json)
}

/// Every sheet a department handled: its own archive (R-SHEET-11).
#[utoipa::path(get, path = "/departments/{id}/sheets", tag = "sheets", params(("id" = i64, Path), Paging), responses((status = 200, body = [st::SheetRow]), (status = 404, body = ErrorBody)))]
async fn department_sheets(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Vec<st::SheetRow>>> {
    let d = api(crate::app::org::department(&s.app, &a.actor, id).await, a.lang)?;
    let f = st::Search {
        department_id: Some(id),
        limit: p.limit.unwrap_or(100),
        offset: p.offset.unwrap_or(0),
        ..Default::default()
    };
    api(sheet::search(&s.app, &a.actor, d.community_id, f).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PeriodQuery {
    /// Period start (epoch ms).
    pub from: i64,
    /// Period end (epoch ms, exclusive).
    pub to: i64,
}

/// Recovery rate per receptionist for a period (R-SHEET-9; target 100%).
#[utoipa::path(get, path = "/communities/{id}/recovery", tag = "sheets", params(("id" = i64, Path), PeriodQuery), responses((status = 200, body = [st::Recovery]), (status = 403, body = ErrorBody)))]
async fn recovery_rate(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Vec<st::Recovery>>> {
    api(sheet::recovery(&s.app, &a.actor, id, q.from, q.to).await, a.lang).map(Json)
}

// ---------------------------------------------------------------- attachments, notices, clocks

#[derive(ToSchema)]
#[allow(dead_code)]
struct AttachmentUpload {
    /// `photo`, `file` or `evidence`.
    purpose: String,
    /// An image (PNG, JPEG, WebP, HEIC), a PDF or an Office document.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
}

/// Attach a photo, a file or evidence to a sheet.
#[utoipa::path(post, path = "/sheets/{id}/attachments", tag = "sheets", params(("id" = i64, Path)),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = sheet::SheetDetail), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn attach(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    mut mp: axum::extract::Multipart,
) -> ApiResult<Json<sheet::SheetDetail>> {
    use huiqian_domain::validation::ValidationError;
    let limit = s.app.config.limits.max_upload_bytes;
    let too_large = || {
        crate::app::AppError::field(
            "file",
            ValidationError::new("upload.too_large").with("max_mb", limit / 1024 / 1024),
        )
    };
    let (mut purpose, mut file) = (String::from("photo"), None);
    while let Some(mut field) = mp.next_field().await.map_err(|_| ApiError::from_app(too_large(), a.lang))? {
        match field.name().unwrap_or_default() {
            "purpose" => purpose = field.text().await.unwrap_or_default(),
            "file" => {
                let name = field.file_name().unwrap_or("upload").to_string();
                let mut buf = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|_| ApiError::from_app(too_large(), a.lang))? {
                    if buf.len() + chunk.len() > limit {
                        return Err(ApiError::from_app(too_large(), a.lang));
                    }
                    buf.extend_from_slice(&chunk);
                }
                file = Some((name, buf));
            }
            _ => {}
        }
    }
    let (name, bytes) = file.ok_or_else(|| {
        ApiError::from_app(crate::app::AppError::field("file", ValidationError::new("upload.missing")), a.lang)
    })?;
    api(sheet::attach(&s.app, &a.actor, id, purpose.trim(), &name, &bytes).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InboxQuery {
    /// Only unread notices.
    pub unread: Option<bool>,
}

/// My notices: due-soon warnings, overdue notices, escalations.
#[utoipa::path(get, path = "/me/notifications", tag = "sheets", params(InboxQuery), responses((status = 200, body = [crate::store::notify::Notification])))]
async fn my_notifications(
    State(s): State<AppState>,
    a: ApiActor,
    Query(q): Query<InboxQuery>,
) -> ApiResult<Json<Vec<crate::store::notify::Notification>>> {
    let list = crate::app::notify::inbox(&s.app, &a.actor, q.unread.unwrap_or(false), a.lang).await;
    api(list.map(|l| l.into_iter().map(|(n, _)| n).collect()), a.lang).map(Json)
}

/// Mark a notice read.
#[utoipa::path(post, path = "/me/notifications/{id}/read", tag = "sheets", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn read_notification(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    api(crate::app::notify::mark_read(&s.app, &a.actor, id).await, a.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The clock targets of a community (the collection limit per kind).
#[utoipa::path(get, path = "/communities/{id}/clock-targets", tag = "sheets", params(("id" = i64, Path)), responses((status = 200, body = [crate::store::clock::Target])))]
async fn clock_targets(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<crate::store::clock::Target>>> {
    api(crate::app::org::community(&s.app, &a.actor, id).await, a.lang)?;
    api(crate::app::clock::targets(&s.app, &a.actor, id).await, a.lang).map(Json)
}

/// Set the collection limit for a kind (or `*`): hours, warning, round the clock or
/// business hours (R-SHEET-7: configurable per kind). Open sheets are recomputed from their
/// history at their next event.
#[utoipa::path(put, path = "/communities/{id}/clock-targets", tag = "sheets", params(("id" = i64, Path)), request_body = crate::app::clock::TargetInput,
    responses((status = 200, body = [crate::store::clock::Target]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_clock_target(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<crate::app::clock::TargetInput>,
) -> ApiResult<Json<Vec<crate::store::clock::Target>>> {
    api(crate::app::clock::set_target(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CalendarView {
    /// The working spans of each weekday as stored (none: the default week).
    pub hours: Vec<crate::store::clock::Hours>,
    /// The week as it counts, Monday first: each day's spans (`08:30-12:00,13:30-17:30`),
    /// empty for a day off.
    pub week: Vec<String>,
    /// Holidays, make-up working days and days with hours of their own.
    pub days: Vec<crate::store::clock::Day>,
}

/// The community's business calendar.
#[utoipa::path(get, path = "/communities/{id}/calendar", tag = "sheets", params(("id" = i64, Path)), responses((status = 200, body = CalendarView)))]
async fn get_calendar(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<CalendarView>> {
    api(crate::app::org::community(&s.app, &a.actor, id).await, a.lang)?;
    let (hours, days) = api(crate::app::clock::stored_calendar(&s.app, &a.actor, id).await, a.lang)?;
    Ok(Json(CalendarView { hours, week: api(crate::app::clock::week(&s.app, id).await, a.lang)?, days }))
}

/// The State Council's holiday notices loaded, and their days (国务院节假日安排通知).
#[utoipa::path(get, path = "/holidays", tag = "sheets", responses((status = 200, body = crate::app::holidays::Notices)))]
async fn holiday_notices(State(s): State<AppState>, a: ApiActor) -> ApiResult<Json<crate::app::holidays::Notices>> {
    api(crate::app::holidays::list(&s.app, &a.actor).await, a.lang).map(Json)
}

/// Load a year's notice in huiqian's holiday format (docs/operations.md) into every
/// community's calendar; a community's own entries for a day stay. A company-wide
/// administrator.
#[utoipa::path(post, path = "/holidays", tag = "sheets", request_body = crate::app::holidays::LoadInput,
    responses((status = 200, body = crate::app::holidays::Loaded), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn load_holiday_notice(
    State(s): State<AppState>,
    a: ApiActor,
    ApiJson(b): ApiJson<crate::app::holidays::LoadInput>,
) -> ApiResult<Json<crate::app::holidays::Loaded>> {
    api(crate::app::holidays::load(&s.app, &a.actor, &b).await, a.lang).map(Json)
}

/// A loaded notice in its file format.
#[utoipa::path(get, path = "/holidays/{year}", tag = "sheets", params(("year" = i64, Path)),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 404, body = ErrorBody)))]
async fn holiday_notice_text(State(s): State<AppState>, a: ApiActor, Path(year): Path<i64>) -> ApiResult<String> {
    api(crate::app::holidays::text(&s.app, &a.actor, year).await, a.lang)
}

/// Set the working hours of each weekday.
#[utoipa::path(put, path = "/communities/{id}/calendar/week", tag = "sheets", params(("id" = i64, Path)), request_body = crate::app::clock::WeekInput,
    responses((status = 200, body = [crate::store::clock::Hours]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_week(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<crate::app::clock::WeekInput>,
) -> ApiResult<Json<Vec<crate::store::clock::Hours>>> {
    api(crate::app::clock::set_week(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// Mark a public holiday or a make-up working day (调休).
#[utoipa::path(put, path = "/communities/{id}/calendar/days", tag = "sheets", params(("id" = i64, Path)), request_body = crate::app::clock::DayInput,
    responses((status = 200, body = [crate::store::clock::Day]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_day(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<crate::app::clock::DayInput>,
) -> ApiResult<Json<Vec<crate::store::clock::Day>>> {
    api(crate::app::clock::set_day(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// Remove a holiday or make-up day.
#[utoipa::path(delete, path = "/communities/{id}/calendar/days/{day}", tag = "sheets", params(("id" = i64, Path), ("day" = String, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_day(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, day)): Path<(i64, String)>,
) -> ApiResult<StatusCode> {
    api(crate::app::clock::remove_day(&s.app, &a.actor, id, &day).await, a.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

//! Key custody in the JSON API (R-KEY-1 … R-KEY-8, R-MOV-6, R-DUTY-3): the register of
//! where every key is, the inventory, receipts, custody agreements, special rooms'
//! approvals, sign-outs and returns, the cabinet's seal and openings, the daily count, the
//! incidents, the ledger, vacant units and the community's rules. Creates take an
//! `Idempotency-Key`; changes to a record carry its `version`.

use super::extract::{ApiJson, Idempotency};
use super::{ApiActor, ApiError, AppState, ErrorBody};
use crate::app::{AppResult, keys as k};
use crate::store::keys as sk;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register, create_key_set))
        .routes(routes!(get_key_set))
        .routes(routes!(receive_keys))
        .routes(routes!(sign_out))
        .routes(routes!(return_keys))
        .routes(routes!(add_agreement))
        .routes(routes!(release_keys))
        .routes(routes!(request_approval))
        .routes(routes!(list_approvals))
        .routes(routes!(decide_approval))
        .routes(routes!(list_cabinets, create_cabinet))
        .routes(routes!(cabinet_log))
        .routes(routes!(seal_cabinet))
        .routes(routes!(open_at_night))
        .routes(routes!(open_in_morning))
        .routes(routes!(count_form, record_count))
        .routes(routes!(list_incidents))
        .routes(routes!(report_incident))
        .routes(routes!(resolve_incident))
        .routes(routes!(key_ledger))
        .routes(routes!(vacant_units))
        .routes(routes!(record_inspection))
        .routes(routes!(get_settings, put_settings))
}

type ApiResult<T> = Result<T, ApiError>;

fn api<T>(r: AppResult<T>, lang: crate::i18n::Lang) -> ApiResult<T> {
    r.map_err(|e| ApiError::from_app(e, lang))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RegisterQuery {
    /// `all` (default), `out`, `overdue` or `vacant`.
    #[param(value_type = Option<String>)]
    pub r#where: Option<sk::Where>,
    /// Part of a tag or of what the key opens.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Where every key is and when it is due back (R-KEY-8), with what needs doing today.
#[utoipa::path(get, path = "/communities/{id}/keys", tag = "keys", params(("id" = i64, Path), RegisterQuery),
    responses((status = 200, body = k::Register), (status = 403, body = ErrorBody)))]
async fn register(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<RegisterQuery>,
) -> ApiResult<Json<k::Register>> {
    let which = q.r#where.unwrap_or_default();
    let search = q.q.unwrap_or_default();
    api(k::register(&s.app, &a.actor, id, which, &search, q.limit.unwrap_or(50), q.offset.unwrap_or(0)).await, a.lang)
        .map(Json)
}

/// A new key set on a hook with its first receipt, signed by the deliverer (R-KEY-1).
#[utoipa::path(post, path = "/communities/{id}/keys", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::KeySetInput,
    responses((status = 201, body = k::KeyDetail), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_key_set(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::KeySetInput>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::create_key_set(&s.app, &a.actor, id, &b)).await
}

/// A key set's books and history: receipts, sign-outs with their returns, agreements,
/// approvals, incidents, and for a unit its inspections.
#[utoipa::path(get, path = "/keys/{id}", tag = "keys", params(("id" = i64, Path)),
    responses((status = 200, body = k::KeyDetail), (status = 404, body = ErrorBody)))]
async fn get_key_set(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<k::KeyDetail>> {
    api(k::key_detail(&s.app, &a.actor, id).await, a.lang).map(Json)
}

/// More keys of a key set delivered (R-KEY-1).
#[utoipa::path(post, path = "/keys/{id}/receipts", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::ReceiveInput,
    responses((status = 201, body = k::KeyDetail), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn receive_keys(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::ReceiveInput>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::receive(&s.app, &a.actor, id, &b)).await
}

/// Sign keys out for work (R-KEY-3): the taker's signature, the issuer's confirmation;
/// someone other than the owner with the owner's authorisation (R-KEY-5); a special room
/// with a manager's approval (R-KEY-6). At most one open sign-out per key set.
#[utoipa::path(post, path = "/keys/{id}/sign-outs", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::SignOutInput,
    responses((status = 201, body = k::KeyDetail), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sign_out(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::SignOutInput>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::sign_out(&s.app, &a.actor, id, &b)).await
}

/// Keys back, by the taker in person, confirmed by the receiver (R-KEY-3, R-KEY-4); fewer
/// than were taken leave the sign-out open.
#[utoipa::path(post, path = "/key-sign-outs/{id}/returns", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::ReturnInput,
    responses((status = 201, body = k::KeyDetail), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn return_keys(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::ReturnInput>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::take_back(&s.app, &a.actor, id, &b)).await
}

/// The owner leaves the key under a custody agreement (R-MOV-6).
#[utoipa::path(post, path = "/keys/{id}/agreements", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::AgreementInput,
    responses((status = 201, body = k::KeyDetail), (status = 422, body = ErrorBody)))]
async fn add_agreement(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::AgreementInput>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::add_agreement(&s.app, &a.actor, id, &b)).await
}

/// The owner takes the keys back: all on the hook, the agreements in force end, the
/// receiver signs (R-MOV-6).
#[utoipa::path(post, path = "/keys/{id}/release", tag = "keys", params(("id" = i64, Path)),
    request_body = k::ReleaseInput,
    responses((status = 200, body = k::KeyDetail), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn release_keys(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::ReleaseInput>,
) -> ApiResult<Json<k::KeyDetail>> {
    api(k::release(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// Ask a department manager to let a special room's key leave (R-KEY-6).
#[utoipa::path(post, path = "/keys/{id}/approvals", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::ApprovalRequest,
    responses((status = 201, body = sk::Approval), (status = 422, body = ErrorBody)))]
async fn request_approval(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::ApprovalRequest>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::request_approval(&s.app, &a.actor, id, &b)).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PendingQuery {
    /// Only those still waiting (default true).
    pub pending: Option<bool>,
}

#[utoipa::path(get, path = "/communities/{id}/key-approvals", tag = "keys", params(("id" = i64, Path), PendingQuery),
    responses((status = 200, body = [sk::Approval]), (status = 403, body = ErrorBody)))]
async fn list_approvals(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<PendingQuery>,
) -> ApiResult<Json<Vec<sk::Approval>>> {
    api(k::approvals(&s.app, &a.actor, id, q.pending.unwrap_or(true)).await, a.lang).map(Json)
}

/// A department manager approves or refuses; never his own request (R-KEY-6).
#[utoipa::path(post, path = "/key-approvals/{id}/decision", tag = "keys", params(("id" = i64, Path)),
    request_body = k::ApprovalDecision,
    responses((status = 200, body = sk::Approval), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide_approval(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::ApprovalDecision>,
) -> ApiResult<Json<sk::Approval>> {
    api(k::decide_approval(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

#[utoipa::path(get, path = "/communities/{id}/key-cabinets", tag = "keys", params(("id" = i64, Path)),
    responses((status = 200, body = [sk::Cabinet]), (status = 403, body = ErrorBody)))]
async fn list_cabinets(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<sk::Cabinet>>> {
    api(k::register(&s.app, &a.actor, id, sk::Where::All, "", 1, 0).await.map(|r| r.cabinets), a.lang).map(Json)
}

/// A key cabinet, with the person who keeps its own key (R-KEY-2).
#[utoipa::path(post, path = "/communities/{id}/key-cabinets", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::CabinetInput,
    responses((status = 201, body = sk::Cabinet), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_cabinet(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::CabinetInput>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::create_cabinet(&s.app, &a.actor, id, &b)).await
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = KeyCabinetLogPage)]
pub struct CabinetLog {
    pub cabinet: sk::Cabinet,
    pub log: Vec<sk::CabinetLog>,
}

/// The cabinet's seals and openings, newest first (R-KEY-7).
#[utoipa::path(get, path = "/key-cabinets/{id}/log", tag = "keys", params(("id" = i64, Path)),
    responses((status = 200, body = CabinetLog), (status = 404, body = ErrorBody)))]
async fn cabinet_log(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<CabinetLog>> {
    api(k::cabinet_log(&s.app, &a.actor, id).await, a.lang).map(|(cabinet, log)| Json(CabinetLog { cabinet, log }))
}

/// Seal the cabinet at closing, or again after a night opening (R-KEY-7).
#[utoipa::path(post, path = "/key-cabinets/{id}/seal", tag = "keys", params(("id" = i64, Path)),
    request_body = k::SealInput,
    responses((status = 200, body = sk::Cabinet), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn seal_cabinet(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::SealInput>,
) -> ApiResult<Json<sk::Cabinet>> {
    api(k::seal(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// Open the sealed cabinet at night: two people together, a security officer and a member
/// of another department, each with their own credentials (R-KEY-7).
#[utoipa::path(post, path = "/key-cabinets/{id}/night-opening", tag = "keys", params(("id" = i64, Path)),
    request_body = k::NightOpeningInput,
    responses((status = 200, body = sk::Cabinet), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn open_at_night(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::NightOpeningInput>,
) -> ApiResult<Json<sk::Cabinet>> {
    api(k::open_at_night(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// Open the cabinet in the morning after checking its seal; a seal not as left opens an
/// incident (R-KEY-7).
#[utoipa::path(post, path = "/key-cabinets/{id}/morning-opening", tag = "keys", params(("id" = i64, Path)),
    request_body = k::MorningInput,
    responses((status = 200, body = sk::Cabinet), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn open_in_morning(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::MorningInput>,
) -> ApiResult<Json<sk::Cabinet>> {
    api(k::open_in_morning(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = KeyCountForm)]
pub struct CountForm {
    pub cabinet: sk::Cabinet,
    /// The hooks to count; what the books expect is not given (a blind count).
    pub lines: Vec<k::CountLine>,
}

/// The blind count's form: every key set of the cabinet, without what the books expect.
#[utoipa::path(get, path = "/key-cabinets/{id}/count", tag = "keys", params(("id" = i64, Path)),
    responses((status = 200, body = CountForm), (status = 403, body = ErrorBody)))]
async fn count_form(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<CountForm>> {
    api(k::count_form(&s.app, &a.actor, id).await, a.lang).map(|(cabinet, lines)| Json(CountForm { cabinet, lines }))
}

/// Record the day's blind count; each difference and each key out beyond its return opens
/// an incident (R-KEY-8).
#[utoipa::path(post, path = "/key-cabinets/{id}/count", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::CountInput,
    responses((status = 201, body = k::CountResult), (status = 422, body = ErrorBody)))]
async fn record_count(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::CountInput>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::record_count(&s.app, &a.actor, id, &b)).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OpenQuery {
    /// Only those not yet resolved (default true).
    pub open: Option<bool>,
}

#[utoipa::path(get, path = "/communities/{id}/key-incidents", tag = "keys", params(("id" = i64, Path), OpenQuery),
    responses((status = 200, body = [sk::Incident]), (status = 403, body = ErrorBody)))]
async fn list_incidents(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<OpenQuery>,
) -> ApiResult<Json<Vec<sk::Incident>>> {
    api(k::incidents(&s.app, &a.actor, id, q.open.unwrap_or(true)).await, a.lang).map(Json)
}

/// Report an incident upward (R-KEY-8).
#[utoipa::path(post, path = "/key-incidents/{id}/report", tag = "keys", params(("id" = i64, Path)),
    request_body = k::ReportInput,
    responses((status = 200, body = sk::Incident), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn report_incident(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::ReportInput>,
) -> ApiResult<Json<sk::Incident>> {
    api(k::report_incident(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// A manager resolves a reported incident: found, confirmed lost (the books lose the keys),
/// or explained (R-KEY-8).
#[utoipa::path(post, path = "/key-incidents/{id}/resolve", tag = "keys", params(("id" = i64, Path)),
    request_body = k::ResolveInput,
    responses((status = 200, body = sk::Incident), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve_incident(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::ResolveInput>,
) -> ApiResult<Json<sk::Incident>> {
    api(k::resolve_incident(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LedgerQuery {
    /// Issued from (epoch ms, inclusive).
    pub from: i64,
    /// Issued before (epoch ms).
    pub to: i64,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The key ledger (钥匙收发本): sign-outs issued in a period with their returns.
#[utoipa::path(get, path = "/communities/{id}/key-ledger", tag = "keys", params(("id" = i64, Path), LedgerQuery),
    responses((status = 200, body = [k::LoanView]), (status = 403, body = ErrorBody)))]
async fn key_ledger(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Json<Vec<k::LoanView>>> {
    api(k::ledger(&s.app, &a.actor, id, q.from, q.to, q.limit.unwrap_or(500), q.offset.unwrap_or(0)).await, a.lang)
        .map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Vacant units with their keys and their last inspection (R-DUTY-3).
#[utoipa::path(get, path = "/communities/{id}/vacant-units", tag = "keys", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = [sk::VacantUnit]), (status = 403, body = ErrorBody)))]
async fn vacant_units(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Vec<sk::VacantUnit>>> {
    api(k::vacant_units(&s.app, &a.actor, id, q.limit.unwrap_or(100), q.offset.unwrap_or(0)).await, a.lang).map(Json)
}

/// A vacant unit's inspection: the condition found (R-DUTY-3).
#[utoipa::path(post, path = "/units/{id}/inspections", tag = "keys", params(("id" = i64, Path), super::api::IdempotencyHeader),
    request_body = k::InspectionInput,
    responses((status = 201, body = sk::Inspection), (status = 422, body = ErrorBody)))]
async fn record_inspection(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::InspectionInput>,
) -> ApiResult<Response> {
    super::api::idempotent(&s, &a, &idem, k::record_inspection(&s.app, &a.actor, id, &b)).await
}

#[utoipa::path(get, path = "/communities/{id}/key-settings", tag = "keys", params(("id" = i64, Path)),
    responses((status = 200, body = sk::Settings), (status = 403, body = ErrorBody)))]
async fn get_settings(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<sk::Settings>> {
    api(k::settings(&s.app, &a.actor, id).await, a.lang).map(Json)
}

/// The community's key rules: the phone confirmation with the owner (R-KEY-5) and the
/// hour by which the day's count is due (R-KEY-8).
#[utoipa::path(put, path = "/communities/{id}/key-settings", tag = "keys", params(("id" = i64, Path)),
    request_body = k::SettingsInput,
    responses((status = 200, body = sk::Settings), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<k::SettingsInput>,
) -> ApiResult<Json<sk::Settings>> {
    api(k::save_settings(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

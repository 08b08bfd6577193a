//! Follow-ups in the JSON API (R-FU-1 … R-FU-5): the task lists with the year's phone
//! share, recording, review and reassignment, the follow-up ledger, corrective-action
//! reports, the community's rules and the monthly sampling audit.

use super::extract::ApiJson;
use super::{ApiActor, ApiError, AppState, ErrorBody};
use crate::app::{AppResult, followup as fu};
use crate::store::followup as sf;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks))
        .routes(routes!(get_follow_up))
        .routes(routes!(record_follow_up))
        .routes(routes!(review_follow_up))
        .routes(routes!(reassign_follow_up))
        .routes(routes!(follow_up_ledger))
        .routes(routes!(list_capas))
        .routes(routes!(get_capa))
        .routes(routes!(plan_capa))
        .routes(routes!(implement_capa))
        .routes(routes!(verify_capa))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(sampling_month))
}

type ApiResult<T> = Result<T, ApiError>;

fn api<T>(r: AppResult<T>, lang: crate::i18n::Lang) -> ApiResult<T> {
    r.map_err(|e| ApiError::from_app(e, lang))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TaskQuery {
    /// `mine` (default), `pending` (everyone's) or `review` (recorded, to review).
    pub list: Option<fu::Tasks>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Follow-up tasks with the year's phone share beside its cap (R-FU-2, R-FU-3).
#[utoipa::path(get, path = "/communities/{id}/follow-ups", tag = "follow-ups", params(("id" = i64, Path), TaskQuery),
    responses((status = 200, body = fu::TaskPage), (status = 403, body = ErrorBody)))]
async fn list_tasks(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<TaskQuery>,
) -> ApiResult<Json<fu::TaskPage>> {
    let which = q.list.unwrap_or(fu::Tasks::Mine);
    api(fu::tasks(&s.app, &a.actor, id, which, q.limit.unwrap_or(50), q.offset.unwrap_or(0)).await, a.lang).map(Json)
}

#[utoipa::path(get, path = "/follow-ups/{id}", tag = "follow-ups", params(("id" = i64, Path)),
    responses((status = 200, body = fu::Detail), (status = 404, body = ErrorBody)))]
async fn get_follow_up(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<fu::Detail>> {
    api(fu::get(&s.app, &a.actor, id).await, a.lang).map(Json)
}

/// Record the follow-up: in person with the resident's signature, or by phone within the
/// year's cap (R-FU-2, R-FU-3). An unsatisfied or failed result opens a corrective-action
/// report (R-FU-4).
#[utoipa::path(post, path = "/follow-ups/{id}/record", tag = "follow-ups", params(("id" = i64, Path)),
    request_body = fu::RecordInput,
    responses((status = 200, body = fu::Detail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_follow_up(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<fu::RecordInput>,
) -> ApiResult<Json<fu::Detail>> {
    api(fu::record(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// The customer-service manager's review with remarks (R-FU-4).
#[utoipa::path(post, path = "/follow-ups/{id}/review", tag = "follow-ups", params(("id" = i64, Path)),
    request_body = fu::ReviewInput,
    responses((status = 200, body = fu::Detail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn review_follow_up(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<fu::ReviewInput>,
) -> ApiResult<Json<fu::Detail>> {
    api(fu::review(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

#[utoipa::path(post, path = "/follow-ups/{id}/reassign", tag = "follow-ups", params(("id" = i64, Path)),
    request_body = fu::ReassignInput,
    responses((status = 200, body = fu::Detail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reassign_follow_up(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<fu::ReassignInput>,
) -> ApiResult<Json<fu::Detail>> {
    api(fu::reassign(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LedgerQuery {
    /// Recorded from (epoch ms, inclusive).
    pub from: i64,
    /// Recorded before (epoch ms).
    pub to: i64,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The follow-up ledger (回访登记台帐, R-FU-5): follow-ups recorded in a period.
#[utoipa::path(get, path = "/communities/{id}/follow-up-ledger", tag = "follow-ups", params(("id" = i64, Path), LedgerQuery),
    responses((status = 200, body = [sf::FollowUp]), (status = 403, body = ErrorBody)))]
async fn follow_up_ledger(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Json<Vec<sf::FollowUp>>> {
    let f = sf::LedgerFilter {
        from: q.from,
        to: q.to,
        limit: q.limit.unwrap_or(100),
        offset: q.offset.unwrap_or(0),
        ..Default::default()
    };
    let r = fu::ledger(&s.app, &a.actor, id, f).await;
    api(r, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CapaQuery {
    /// Include verified (closed) reports.
    #[serde(default)]
    pub all: bool,
}

/// Corrective-action reports: open ones oldest first, or all newest first (R-FU-4).
#[utoipa::path(get, path = "/communities/{id}/capas", tag = "follow-ups", params(("id" = i64, Path), CapaQuery),
    responses((status = 200, body = [sf::Capa]), (status = 403, body = ErrorBody)))]
async fn list_capas(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<CapaQuery>,
) -> ApiResult<Json<Vec<sf::Capa>>> {
    api(fu::capas(&s.app, &a.actor, id, !q.all).await, a.lang).map(Json)
}

#[utoipa::path(get, path = "/capas/{id}", tag = "follow-ups", params(("id" = i64, Path)),
    responses((status = 200, body = sf::Capa), (status = 404, body = ErrorBody)))]
async fn get_capa(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<sf::Capa>> {
    api(fu::capa(&s.app, &a.actor, id).await, a.lang).map(Json)
}

/// Cause, action, the person responsible and a due date; by the customer-service manager
/// or the centre director.
#[utoipa::path(post, path = "/capas/{id}/plan", tag = "follow-ups", params(("id" = i64, Path)),
    request_body = fu::CapaPlanInput,
    responses((status = 200, body = sf::Capa), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn plan_capa(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<fu::CapaPlanInput>,
) -> ApiResult<Json<sf::Capa>> {
    api(fu::plan_capa(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// What was done, by the person responsible (or a manager).
#[utoipa::path(post, path = "/capas/{id}/implement", tag = "follow-ups", params(("id" = i64, Path)),
    request_body = fu::CapaNoteInput,
    responses((status = 200, body = sf::Capa), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn implement_capa(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<fu::CapaNoteInput>,
) -> ApiResult<Json<sf::Capa>> {
    api(fu::implement_capa(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// The verification, signed by the customer-service manager or the centre director.
#[utoipa::path(post, path = "/capas/{id}/verify", tag = "follow-ups", params(("id" = i64, Path)),
    request_body = fu::CapaVerifyInput,
    responses((status = 200, body = sf::Capa), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn verify_capa(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<fu::CapaVerifyInput>,
) -> ApiResult<Json<sf::Capa>> {
    api(fu::verify_capa(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// The community's follow-up rules: rates, time limit, phone cap and its mode.
#[utoipa::path(get, path = "/communities/{id}/follow-up-settings", tag = "follow-ups", params(("id" = i64, Path)),
    responses((status = 200, body = sf::Settings), (status = 404, body = ErrorBody)))]
async fn get_settings(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<sf::Settings>> {
    api(fu::settings(&s.app, &a.actor, id).await, a.lang).map(Json)
}

#[utoipa::path(put, path = "/communities/{id}/follow-up-settings", tag = "follow-ups", params(("id" = i64, Path)),
    request_body = fu::SettingsInput,
    responses((status = 200, body = sf::Settings), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<fu::SettingsInput>,
) -> ApiResult<Json<sf::Settings>> {
    api(fu::save_settings(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

/// A month's sampling decisions replayed from the community's key: any decision the
/// rules do not reproduce is listed (R-FU-1).
#[utoipa::path(get, path = "/communities/{id}/follow-up-sampling/{period}", tag = "follow-ups",
    params(("id" = i64, Path), ("period" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = fu::SamplingMonth), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sampling_month(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, period)): Path<(i64, String)>,
) -> ApiResult<Json<fu::SamplingMonth>> {
    api(fu::sampling(&s.app, &a.actor, id, &period).await, a.lang).map(Json)
}

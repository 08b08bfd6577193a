//! The flows' part of the JSON API: the dispatcher's board, the technician's day, the
//! ledgers of repairs, complaints, suggestions and inquiries, and the settings, price
//! list and knowledge base of a community. The steps themselves are sheet actions
//! (`POST /sheets/{id}/actions`).

use super::extract::ApiJson;
use super::{ApiActor, ApiError, AppState, ErrorBody};
use crate::app::{AppResult, request as rq};
use crate::store::request as srq;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(repair_board))
        .routes(routes!(technician_day))
        .routes(routes!(request_ledger))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_price_items, create_price_item))
        .routes(routes!(update_price_item))
        .routes(routes!(list_articles, create_article))
        .routes(routes!(update_article))
        .routes(routes!(list_presets, create_preset))
        .routes(routes!(update_preset))
        .routes(routes!(reveal_phone))
}

type ApiResult<T> = Result<T, ApiError>;

fn api<T>(r: AppResult<T>, lang: crate::i18n::Lang) -> ApiResult<T> {
    r.map_err(|e| ApiError::from_app(e, lang))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The engineering dispatcher's board: unassigned repairs by urgency and age, late
/// arrivals, and each technician's load and today's appointments (R-REP-2, R-REP-3).
#[utoipa::path(get, path = "/communities/{id}/repairs/board", tag = "requests", params(("id" = i64, Path), Page),
    responses((status = 200, body = rq::Board), (status = 403, body = ErrorBody)))]
async fn repair_board(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(p): Query<Page>,
) -> ApiResult<Json<rq::Board>> {
    let limit = p.limit.unwrap_or(rq::BOARD_PAGE);
    api(rq::board(&s.app, &a.actor, id, limit, p.offset.unwrap_or(0)).await, a.lang).map(Json)
}

/// The signed-in technician's jobs: open ones soonest due first, and today's completed.
#[utoipa::path(get, path = "/communities/{id}/repairs/my-day", tag = "requests", params(("id" = i64, Path)),
    responses((status = 200, body = rq::Day), (status = 403, body = ErrorBody)))]
async fn technician_day(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<rq::Day>> {
    api(rq::technician_day(&s.app, &a.actor, id).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LedgerQuery {
    /// Opened from (epoch ms, inclusive).
    pub from: Option<i64>,
    /// Opened before (epoch ms).
    pub to: Option<i64>,
    /// Only late arrivals, late slips and missed promises.
    #[serde(default)]
    pub late: bool,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A ledger of the flows: `repairs` (业主报修反映台帐), `complaints` (业主意见投诉台帐:
/// serious and repeated), `all_complaints`, `suggestions` (住户意见建议台帐), `inquiries`,
/// `charges` (paid work owed).
#[utoipa::path(get, path = "/communities/{id}/request-ledgers/{name}", tag = "requests",
    params(("id" = i64, Path), ("name" = rq::LedgerName, Path), LedgerQuery),
    responses((status = 200, body = [srq::Job]), (status = 404, body = ErrorBody)))]
async fn request_ledger(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, name)): Path<(i64, rq::LedgerName)>,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Json<Vec<srq::Job>>> {
    let f = srq::LedgerFilter {
        from_ms: q.from,
        to_ms: q.to,
        late_only: q.late,
        limit: q.limit.unwrap_or(100),
        offset: q.offset.unwrap_or(0),
        ..Default::default()
    };
    api(rq::ledger(&s.app, &a.actor, id, name, f).await, a.lang).map(Json)
}

/// The community's rules of the flows: arrival targets, slip limit, repeat-complaint rule,
/// progress interval, promise warning, apology wording.
#[utoipa::path(get, path = "/communities/{id}/request-settings", tag = "requests", params(("id" = i64, Path)),
    responses((status = 200, body = srq::Settings), (status = 404, body = ErrorBody)))]
async fn get_settings(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<srq::Settings>> {
    api(rq::settings(&s.app, &a.actor, id).await, a.lang).map(Json)
}

#[utoipa::path(put, path = "/communities/{id}/request-settings", tag = "requests", params(("id" = i64, Path)),
    request_body = rq::SettingsInput,
    responses((status = 200, body = srq::Settings), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<rq::SettingsInput>,
) -> ApiResult<Json<srq::Settings>> {
    api(rq::save_settings(&s.app, &a.actor, id, &b).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ActiveQuery {
    /// Include items taken off the list.
    #[serde(default)]
    pub all: bool,
}

/// The price list for paid work (R-REP-4).
#[utoipa::path(get, path = "/communities/{id}/price-items", tag = "requests", params(("id" = i64, Path), ActiveQuery),
    responses((status = 200, body = [srq::PriceItem]), (status = 404, body = ErrorBody)))]
async fn list_price_items(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<ActiveQuery>,
) -> ApiResult<Json<Vec<srq::PriceItem>>> {
    api(rq::price_items(&s.app, &a.actor, id, !q.all).await, a.lang).map(Json)
}

#[utoipa::path(post, path = "/communities/{id}/price-items", tag = "requests", params(("id" = i64, Path)),
    request_body = rq::PriceItemInput,
    responses((status = 201, body = srq::PriceItem), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_price_item(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<rq::PriceItemInput>,
) -> ApiResult<(StatusCode, Json<srq::PriceItem>)> {
    let item = api(rq::save_price_item(&s.app, &a.actor, id, None, &b).await, a.lang)?;
    Ok((StatusCode::CREATED, Json(item)))
}

#[utoipa::path(put, path = "/communities/{id}/price-items/{item}", tag = "requests",
    params(("id" = i64, Path), ("item" = i64, Path)), request_body = rq::PriceItemInput,
    responses((status = 200, body = srq::PriceItem), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_price_item(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, item)): Path<(i64, i64)>,
    ApiJson(b): ApiJson<rq::PriceItemInput>,
) -> ApiResult<Json<srq::PriceItem>> {
    api(rq::save_price_item(&s.app, &a.actor, id, Some(item), &b).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ArticleQuery {
    /// Words of the question; empty lists every article.
    pub q: Option<String>,
}

/// The knowledge base the desk answers inquiries from (R-RECV-2), searched by words.
#[utoipa::path(get, path = "/communities/{id}/articles", tag = "requests", params(("id" = i64, Path), ArticleQuery),
    responses((status = 200, body = [srq::Article]), (status = 404, body = ErrorBody)))]
async fn list_articles(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<ArticleQuery>,
) -> ApiResult<Json<Vec<srq::Article>>> {
    match q.q.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        Some(words) => api(rq::search_articles(&s.app, &a.actor, id, words).await, a.lang).map(Json),
        None => api(rq::articles(&s.app, &a.actor, id).await, a.lang).map(Json),
    }
}

#[utoipa::path(post, path = "/communities/{id}/articles", tag = "requests", params(("id" = i64, Path)),
    request_body = rq::ArticleInput,
    responses((status = 201, body = srq::Article), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_article(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<rq::ArticleInput>,
) -> ApiResult<(StatusCode, Json<srq::Article>)> {
    let art = api(rq::save_article(&s.app, &a.actor, id, None, &b).await, a.lang)?;
    Ok((StatusCode::CREATED, Json(art)))
}

#[utoipa::path(put, path = "/communities/{id}/articles/{article}", tag = "requests",
    params(("id" = i64, Path), ("article" = i64, Path)), request_body = rq::ArticleInput,
    responses((status = 200, body = srq::Article), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_article(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, article)): Path<(i64, i64)>,
    ApiJson(b): ApiJson<rq::ArticleInput>,
) -> ApiResult<Json<srq::Article>> {
    api(rq::save_article(&s.app, &a.actor, id, Some(article), &b).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PresetQuery {
    /// Only those the desk is offered (active); otherwise every one, for the settings.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A community's quick registrations (常用登记): the desk's frequent requests, in order.
#[utoipa::path(get, path = "/communities/{id}/sheet-presets", tag = "requests", params(("id" = i64, Path), PresetQuery),
    responses((status = 200, body = [srq::Preset]), (status = 404, body = ErrorBody)))]
async fn list_presets(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<PresetQuery>,
) -> ApiResult<Json<Vec<srq::Preset>>> {
    api(rq::presets(&s.app, &a.actor, id, q.active.unwrap_or(false)).await, a.lang).map(Json)
}

#[utoipa::path(post, path = "/communities/{id}/sheet-presets", tag = "requests", params(("id" = i64, Path)),
    request_body = rq::PresetInput,
    responses((status = 201, body = srq::Preset), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_preset(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<rq::PresetInput>,
) -> ApiResult<(StatusCode, Json<srq::Preset>)> {
    let p = api(rq::save_preset(&s.app, &a.actor, id, None, &b).await, a.lang)?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(put, path = "/communities/{id}/sheet-presets/{preset}", tag = "requests",
    params(("id" = i64, Path), ("preset" = i64, Path)), request_body = rq::PresetInput,
    responses((status = 200, body = srq::Preset), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_preset(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, preset)): Path<(i64, i64)>,
    ApiJson(b): ApiJson<rq::PresetInput>,
) -> ApiResult<Json<srq::Preset>> {
    api(rq::save_preset(&s.app, &a.actor, id, Some(preset), &b).await, a.lang).map(Json)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RevealBody {
    /// Why the full number is needed (the assigned technician may leave it empty).
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Revealed {
    pub phone: String,
}

/// The requester's full phone to call them: the technician on the open repair, or
/// customer service with a reason. Each reveal is audited.
#[utoipa::path(post, path = "/sheets/{id}/phone", tag = "requests", params(("id" = i64, Path)), request_body = RevealBody,
    responses((status = 200, body = Revealed), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reveal_phone(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<RevealBody>,
) -> ApiResult<Json<Revealed>> {
    api(rq::reveal_phone(&s.app, &a.actor, id, &b.reason).await, a.lang).map(|phone| Json(Revealed { phone }))
}

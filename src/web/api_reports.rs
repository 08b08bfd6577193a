//! Reports in the JSON API: the weekly statistics table (R-CMP-8) and staff performance
//! with the sheets behind each number (R-ROLE-3, R-SHEET-9).

use super::extract::ApiJson;
use super::{ApiActor, ApiError, AppState, ErrorBody};
use crate::app::{AppResult, report as rp};
use crate::store::{report as sr, sheet as st};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(weekly_all))
        .routes(routes!(weekly_one))
        .routes(routes!(kept_weeks))
        .routes(routes!(submit_analysis))
        .routes(routes!(acknowledge_week))
        .routes(routes!(performance))
        .routes(routes!(drill))
}

type ApiResult<T> = Result<T, ApiError>;

fn api<T>(r: AppResult<T>, lang: crate::i18n::Lang) -> ApiResult<T> {
    r.map_err(|e| ApiError::from_app(e, lang))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WeekQuery {
    /// Any day of the week (YYYY-MM-DD); this week when absent.
    pub week: Option<String>,
}

/// The weekly statistics table over every community the caller reports on.
#[utoipa::path(get, path = "/reports/weekly", tag = "reports", params(WeekQuery),
    responses((status = 200, body = rp::Weekly), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn weekly_all(State(s): State<AppState>, a: ApiActor, Query(q): Query<WeekQuery>) -> ApiResult<Json<rp::Weekly>> {
    api(rp::weekly(&s.app, &a.actor, None, q.week.as_deref()).await, a.lang).map(Json)
}

/// A community's weekly statistics table (业主/住户诉求统计表): a past week as kept when
/// it ended, this week counted now (R-CMP-8).
#[utoipa::path(get, path = "/communities/{id}/weekly-report", tag = "reports", params(("id" = i64, Path), WeekQuery),
    responses((status = 200, body = rp::Weekly), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn weekly_one(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<WeekQuery>,
) -> ApiResult<Json<rp::Weekly>> {
    api(rp::weekly(&s.app, &a.actor, Some(id), q.week.as_deref()).await, a.lang).map(Json)
}

/// The weeks kept for a community, newest first: `[monday, generated_at]`.
#[utoipa::path(get, path = "/communities/{id}/weekly-reports", tag = "reports", params(("id" = i64, Path)),
    responses((status = 200, body = [crate::store::report::KeptWeek]), (status = 403, body = ErrorBody)))]
async fn kept_weeks(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<crate::store::report::KeptWeek>>> {
    api(rp::kept_weeks(&s.app, &a.actor, id).await, a.lang).map(Json)
}

/// The customer-service manager's analysis of a week that has ended, sent with its table
/// to the centre director (R-CMP-8: "统计分析…报中心主任"); rewritable until acknowledged.
#[utoipa::path(post, path = "/communities/{id}/weekly-reports/{week}/analysis", tag = "reports",
    params(("id" = i64, Path), ("week" = String, Path, description = "Any day of the week, YYYY-MM-DD")),
    request_body = rp::AnalysisInput,
    responses((status = 200, body = sr::WeeklyReview), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn submit_analysis(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, week)): Path<(i64, String)>,
    ApiJson(b): ApiJson<rp::AnalysisInput>,
) -> ApiResult<Json<sr::WeeklyReview>> {
    api(rp::submit_analysis(&s.app, &a.actor, id, &week, &b).await, a.lang).map(Json)
}

/// The centre director acknowledges the week's table and analysis (签阅), once.
#[utoipa::path(post, path = "/communities/{id}/weekly-reports/{week}/acknowledgement", tag = "reports",
    params(("id" = i64, Path), ("week" = String, Path, description = "Any day of the week, YYYY-MM-DD")),
    request_body = rp::AcknowledgeInput,
    responses((status = 200, body = sr::WeeklyReview), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn acknowledge_week(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, week)): Path<(i64, String)>,
    ApiJson(b): ApiJson<rp::AcknowledgeInput>,
) -> ApiResult<Json<sr::WeeklyReview>> {
    api(rp::acknowledge(&s.app, &a.actor, id, &week, &b).await, a.lang).map(Json)
}

/// Staff performance over a period: per person and per department (R-ROLE-3).
#[utoipa::path(get, path = "/communities/{id}/performance", tag = "reports", params(("id" = i64, Path), rp::Period),
    responses((status = 200, body = rp::Performance), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn performance(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(p): Query<rp::Period>,
) -> ApiResult<Json<rp::Performance>> {
    api(rp::performance(&s.app, &a.actor, id, &p).await, a.lang).map(Json)
}

/// The sheets behind one of a person's numbers.
#[utoipa::path(get, path = "/communities/{id}/performance/{user}/{measure}", tag = "reports",
    params(("id" = i64, Path), ("user" = i64, Path), ("measure" = sr::Measure, Path), rp::Period),
    responses((status = 200, body = [st::SheetRow]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn drill(
    State(s): State<AppState>,
    a: ApiActor,
    Path((id, user, measure)): Path<(i64, i64, sr::Measure)>,
    Query(p): Query<rp::Period>,
) -> ApiResult<Json<Vec<st::SheetRow>>> {
    api(rp::drill(&s.app, &a.actor, id, user, measure, &p).await, a.lang).map(Json)
}

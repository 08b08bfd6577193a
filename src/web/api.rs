//! The JSON API under `/api/v1`. Routes are registered through `utoipa_axum::routes!`, so
//! the OpenAPI document at `/api/openapi.json` is generated from these very handlers.

use super::extract::{ApiJson, Idempotency, Meta};
use super::{ApiActor, ApiError, AppState, ErrorBody};
use crate::app::{self, AppError, AppResult, auth, import, org, people};
use crate::store::{audit::Entry, auth as sa, org as so, people as sp};
use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "huiqian API", version = "1", description = "Customer-service desk of a residential property-management company. Errors: `{\"error\": {\"code\", \"message\", \"fields\"}}`; the message follows Accept-Language (zh-CN default, en). Writes with a browser session need the `X-CSRF-Token` header; integrations use `Authorization: Bearer hq_…` tokens with `read` or `read,write` scope. Creates accept an `Idempotency-Key` header."),
    components(schemas(ErrorBody, crate::app::sheet::QueueName, crate::app::request::LedgerName, crate::store::report::Measure, crate::app::followup::Tasks)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags((name = "auth", description = "Sign-in, sessions, second factor, API tokens"),
         (name = "org", description = "Companies, communities, buildings, units, departments"),
         (name = "people", description = "Owners and residents (personal data masked)"),
         (name = "staff", description = "Staff accounts and roles"),
         (name = "import", description = "Bulk import"),
         (name = "audit", description = "Audit trail"),
         (name = "sheets", description = "Countersign sheets (会签单): registration, handovers, collection, archive"),
         (name = "requests", description = "Repairs, complaints, inquiries and suggestions on the sheet: the dispatcher's board, the technician's day, ledgers, price list, knowledge base"),
         (name = "follow-ups", description = "Follow-ups (回访): sampling on collection, tasks under the phone cap, reviews, corrective-action reports, the ledger"),
         (name = "reports", description = "The weekly statistics table and staff performance"),
         (name = "keys", description = "Key custody (钥匙管理): where every key is, receipts, sign-outs and returns, custody agreements, special rooms' approvals, the cabinet's seal, the daily blind count and its incidents, the ledger, vacant units"))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::SESSION_COOKIE))),
        );
    }
}

/// Every operation may also answer with an error its own responses do not list (a malformed
/// request, a missing or read-only credential, a record that is not there, a body too
/// large): each says so with a `default` response in the error shape of docs/api.md.
pub fn document_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let default = ResponseBuilder::new()
        .description("Any other status: an error, as `{\"error\": {\"code\", \"message\", \"fields\"}}` (docs/api.md)")
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build();
    for item in openapi.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            op.responses.responses.entry("default".to_string()).or_insert_with(|| default.clone().into());
        }
    }
}

/// `upload_limit`: the body limit of the upload routes (others keep the global limit).
pub fn router(upload_limit: usize) -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(second_factor))
        .routes(routes!(sign_out))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(set_locale))
        .routes(routes!(my_sessions))
        .routes(routes!(end_session))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(totp_begin))
        .routes(routes!(totp_confirm))
        .routes(routes!(list_companies, create_company))
        .routes(routes!(list_communities, create_community))
        .routes(routes!(get_community, update_community))
        .routes(routes!(list_buildings, create_building))
        .routes(routes!(update_building))
        .routes(routes!(list_units, create_unit))
        .routes(routes!(get_unit, update_unit))
        .routes(routes!(list_occupants, add_occupant))
        .routes(routes!(end_occupancy))
        .routes(routes!(list_departments, create_department))
        .routes(routes!(update_department))
        .routes(routes!(search_persons, create_person))
        .routes(routes!(get_person, update_person))
        .merge(
            OpenApiRouter::new().routes(routes!(import_file)).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(get_staff, update_staff))
        .routes(routes!(grant_role))
        .routes(routes!(revoke_role))
        .routes(routes!(reset_password))
        .routes(routes!(audit_log));
    let v1 = v1
        .merge(super::api_sheets::router(upload_limit))
        .merge(super::api_requests::router())
        .merge(super::api_followups::router())
        .merge(super::api_keys::router())
        .merge(super::api_reports::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1)
}

type ApiResult<T> = Result<T, ApiError>;

/// The `Idempotency-Key` header of the creates that take one.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(crate) struct IdempotencyHeader {
    /// 1 to 100 visible characters (a UUID, say). A retry with the same key and the same
    /// request gets the first response (`Idempotent-Replayed: true`); the same key with a
    /// different request is refused (422 `idempotency.key_reused`); a retry that arrives
    /// while the first is still running waits for it, or gets 409 `request_in_progress`.
    #[serde(rename = "Idempotency-Key")]
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
}

trait OrApi<T> {
    fn api(self, lang: crate::i18n::Lang) -> ApiResult<T>;
}

impl<T> OrApi<T> for AppResult<T> {
    fn api(self, lang: crate::i18n::Lang) -> ApiResult<T> {
        self.map_err(|e| ApiError::from_app(e, lang))
    }
}

/// Run a create once per `Idempotency-Key`: a retried request gets the first response,
/// marked `Idempotent-Replayed: true`; the same key with another request is refused; a
/// retry that arrives while the first still runs waits for it (see `app::idempotency`).
pub(crate) async fn idempotent<T, F>(s: &AppState, a: &ApiActor, idem: &Idempotency, create: F) -> ApiResult<Response>
where
    T: Serialize,
    F: std::future::Future<Output = AppResult<T>>,
{
    let Some((key, digest)) = &idem.0 else {
        let v = create.await.api(a.lang)?;
        return Ok((StatusCode::CREATED, Json(v)).into_response());
    };
    let user = a.actor.user_id();
    match app::idempotency::reserve(&s.app, user, key, digest).await.api(a.lang)? {
        app::idempotency::Reservation::Replay(status, body) => {
            let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            let mut r = (status, body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().expect("literal"));
            r.headers_mut().insert("idempotent-replayed", "true".parse().expect("literal"));
            Ok(r)
        }
        app::idempotency::Reservation::Reserved => match create.await {
            Ok(v) => {
                let body = serde_json::to_string(&v)
                    .map_err(|e| ApiError::from_app(AppError::Internal(e.to_string()), a.lang))?;
                app::idempotency::complete(&s.app, user, key, 201, &body).await.api(a.lang)?;
                let mut r = (StatusCode::CREATED, body).into_response();
                r.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().expect("literal"));
                Ok(r)
            }
            Err(e) => {
                app::idempotency::release(&s.app, user, key).await.api(a.lang)?;
                Err(ApiError::from_app(e, a.lang))
            }
        },
    }
}

// ---------------------------------------------------------------- auth

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignInBody {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignInResult {
    /// `done`, `required` (send a TOTP code to /auth/second-factor) or `must_enrol`.
    pub second_factor: String,
    pub must_change_password: bool,
    /// Send as `X-CSRF-Token` with every write made with this session.
    pub csrf_token: String,
}

/// Sign in with a password; sets the session cookie.
#[utoipa::path(post, path = "/auth/sign-in", tag = "auth", security(()), request_body = SignInBody,
    responses((status = 200, body = SignInResult), (status = 401, body = ErrorBody), (status = 423, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn sign_in(State(s): State<AppState>, meta: Meta, ApiJson(b): ApiJson<SignInBody>) -> ApiResult<Response> {
    let r = super::pages::do_sign_in(&s, &meta, &b.username, &b.password).await.api(meta.lang)?;
    let second = match r.0.second_factor {
        auth::SecondFactor::Done => "done",
        auth::SecondFactor::Required => "required",
        auth::SecondFactor::MustEnrol => "must_enrol",
    };
    let csrf = auth::csrf_of_new_session(&s.app, &r.0).await.api(meta.lang)?;
    let body =
        SignInResult { second_factor: second.into(), must_change_password: r.0.must_change_password, csrf_token: csrf };
    Ok(([(header::SET_COOKIE, r.1)], Json(body)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeBody {
    pub code: String,
}

/// Second step of sign-in: a TOTP code.
#[utoipa::path(post, path = "/auth/second-factor", tag = "auth", request_body = CodeBody,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn second_factor(State(s): State<AppState>, meta: Meta, ApiJson(b): ApiJson<CodeBody>) -> ApiResult<StatusCode> {
    let Some(sess) = meta.session else {
        return Err(ApiError::from_code(StatusCode::UNAUTHORIZED, "unauthenticated", meta.lang));
    };
    auth::totp_verify(&s.app, &sess.id, &sess.user, &b.code, &meta.request_id).await.api(meta.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

/// End the current session.
#[utoipa::path(post, path = "/auth/sign-out", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn sign_out(State(s): State<AppState>, meta: Meta) -> ApiResult<Response> {
    let Some(sess) = meta.session else {
        return Err(ApiError::from_code(StatusCode::UNAUTHORIZED, "unauthenticated", meta.lang));
    };
    auth::sign_out(&s.app, &sess.id, &sess.user, &meta.request_id).await.api(meta.lang)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, super::pages::clear_cookie(&s))]).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: sa::User,
    pub roles: Vec<sa::RoleRow>,
}

/// Who am I, with my roles.
#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(s): State<AppState>, a: ApiActor) -> ApiResult<Json<Me>> {
    let (user, roles) = auth::staff_detail(&s.app, &a.actor, a.actor.user_id()).await.api(a.lang)?;
    Ok(Json(Me { user, roles }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordBody {
    pub current_password: String,
    pub new_password: String,
    /// Keep one's API tokens working (by default a password change revokes them all).
    #[serde(default)]
    pub keep_tokens: bool,
}

/// Change one's own password (other sessions end; API tokens are revoked unless `keep_tokens`).
#[utoipa::path(put, path = "/me/password", tag = "auth", request_body = PasswordBody,
    responses((status = 204), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(s): State<AppState>,
    a: ApiActor,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    auth::change_password(
        &s.app,
        &a.actor,
        a.session_id.as_deref(),
        &b.current_password,
        &b.new_password,
        b.keep_tokens,
    )
    .await
    .api(a.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LocaleBody {
    /// `zh-CN` or `en`.
    pub locale: String,
}

/// Choose the interface language (per user).
#[utoipa::path(put, path = "/me/locale", tag = "auth", request_body = LocaleBody, responses((status = 204), (status = 422, body = ErrorBody)))]
async fn set_locale(State(s): State<AppState>, a: ApiActor, ApiJson(b): ApiJson<LocaleBody>) -> ApiResult<StatusCode> {
    auth::set_locale(&s.app, &a.actor, &b.locale).await.api(a.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

/// One's own open sessions.
#[utoipa::path(get, path = "/me/sessions", tag = "auth", responses((status = 200, body = [sa::Session])))]
async fn my_sessions(State(s): State<AppState>, a: ApiActor) -> ApiResult<Json<Vec<sa::Session>>> {
    auth::my_sessions(&s.app, a.actor.user_id()).await.map(Json).api(a.lang)
}

/// Sign out one of one's own sessions.
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "auth", params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn end_session(State(s): State<AppState>, a: ApiActor, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth::end_my_session(&s.app, &a.actor, &id).await.api(a.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

/// One's own API tokens (never the secret part).
#[utoipa::path(get, path = "/me/tokens", tag = "auth", responses((status = 200, body = [sa::ApiToken])))]
async fn list_tokens(State(s): State<AppState>, a: ApiActor) -> ApiResult<Json<Vec<sa::ApiToken>>> {
    auth::my_tokens(&s.app, &a.actor).await.map(Json).api(a.lang)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTokenBody {
    pub name: String,
    /// Allow writes (`read,write`); otherwise read-only.
    #[serde(default)]
    pub write: bool,
    /// Days until it expires (none: until revoked).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    pub token: sa::ApiToken,
    /// The secret: shown once, store it now.
    pub secret: String,
}

/// Create an API token (browser session only).
#[utoipa::path(post, path = "/me/tokens", tag = "auth", request_body = NewTokenBody, responses((status = 201, body = NewToken), (status = 403, body = ErrorBody)))]
async fn create_token(
    State(s): State<AppState>,
    a: ApiActor,
    ApiJson(b): ApiJson<NewTokenBody>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let (token, secret) =
        auth::create_token(&s.app, &a.actor, &b.name, b.write, b.expires_in_days).await.api(a.lang)?;
    Ok((StatusCode::CREATED, Json(NewToken { token, secret })))
}

/// Revoke one of one's own tokens.
#[utoipa::path(delete, path = "/me/tokens/{id}", tag = "auth", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_token(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    auth::revoke_token(&s.app, &a.actor, id).await.api(a.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    pub otpauth_url: String,
    pub secret_base32: String,
}

/// Start setting up the second factor (TOTP).
#[utoipa::path(post, path = "/me/totp", tag = "auth", responses((status = 200, body = TotpSetup)))]
async fn totp_begin(State(s): State<AppState>, meta: Meta) -> ApiResult<Json<TotpSetup>> {
    let Some(sess) = meta.session else {
        return Err(ApiError::from_code(StatusCode::UNAUTHORIZED, "unauthenticated", meta.lang));
    };
    let (url, b32) = auth::totp_begin(&s.app, sess.user.id, &sess.user.username).await.api(meta.lang)?;
    Ok(Json(TotpSetup { otpauth_url: url, secret_base32: b32 }))
}

/// Finish setting up TOTP with a first code.
#[utoipa::path(post, path = "/me/totp/confirm", tag = "auth", request_body = CodeBody, responses((status = 204), (status = 422, body = ErrorBody)))]
async fn totp_confirm(State(s): State<AppState>, meta: Meta, ApiJson(b): ApiJson<CodeBody>) -> ApiResult<StatusCode> {
    let Some(sess) = meta.session else {
        return Err(ApiError::from_code(StatusCode::UNAUTHORIZED, "unauthenticated", meta.lang));
    };
    auth::totp_confirm(&s.app, &sess.id, &sess.user, &b.code, &meta.request_id).await.api(meta.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- org

#[derive(Debug, Deserialize, ToSchema)]
pub struct NameBody {
    pub name: String,
}

/// Companies (administrators).
#[utoipa::path(get, path = "/companies", tag = "org", responses((status = 200, body = [so::Company]), (status = 403, body = ErrorBody)))]
async fn list_companies(State(s): State<AppState>, a: ApiActor) -> ApiResult<Json<Vec<so::Company>>> {
    crate::app::org::companies(&s.app, &a.actor).await.map(Json).api(a.lang)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Create a company (company-wide administrators).
#[utoipa::path(post, path = "/companies", tag = "org", params(IdempotencyHeader), request_body = NameBody, responses((status = 201, body = Created), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_company(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    ApiJson(b): ApiJson<NameBody>,
) -> ApiResult<Response> {
    idempotent(&s, &a, &idem, async { org::create_company(&s.app, &a.actor, &b.name).await.map(|id| Created { id }) })
        .await
}

/// Communities the caller works in.
#[utoipa::path(get, path = "/communities", tag = "org", responses((status = 200, body = [so::Community])))]
async fn list_communities(State(s): State<AppState>, a: ApiActor) -> ApiResult<Json<Vec<so::Community>>> {
    org::my_communities(&s.app, &a.actor).await.map(Json).api(a.lang)
}

/// Create a community, with the manual's departments.
#[utoipa::path(post, path = "/communities", tag = "org", params(IdempotencyHeader), request_body = org::CommunityInput, responses((status = 201, body = so::Community), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_community(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    ApiJson(b): ApiJson<org::CommunityInput>,
) -> ApiResult<Response> {
    idempotent(&s, &a, &idem, org::create_community(&s.app, &a.actor, &b)).await
}

#[utoipa::path(get, path = "/communities/{id}", tag = "org", params(("id" = i64, Path)), responses((status = 200, body = so::Community), (status = 404, body = ErrorBody)))]
async fn get_community(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<so::Community>> {
    org::community(&s.app, &a.actor, id).await.map(Json).api(a.lang)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateCommunity {
    /// The version read; a stale one gets 409.
    pub version: i64,
    #[serde(flatten)]
    pub data: org::CommunityInput,
}

/// Edit a community (optimistic locking on `version`).
#[utoipa::path(put, path = "/communities/{id}", tag = "org", params(("id" = i64, Path)), request_body = UpdateCommunity, responses((status = 200, body = so::Community), (status = 409, body = ErrorBody)))]
async fn update_community(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateCommunity>,
) -> ApiResult<Json<so::Community>> {
    org::update_community(&s.app, &a.actor, id, b.version, &b.data).await.map(Json).api(a.lang)
}

#[utoipa::path(get, path = "/communities/{id}/buildings", tag = "org", params(("id" = i64, Path)), responses((status = 200, body = [so::Building])))]
async fn list_buildings(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<so::Building>>> {
    org::buildings(&s.app, &a.actor, id).await.map(Json).api(a.lang)
}

#[utoipa::path(post, path = "/communities/{id}/buildings", tag = "org", params(IdempotencyHeader, ("id" = i64, Path)), request_body = org::BuildingInput, responses((status = 201, body = so::Building), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_building(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<org::BuildingInput>,
) -> ApiResult<Response> {
    idempotent(&s, &a, &idem, org::create_building(&s.app, &a.actor, id, &b)).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateBuilding {
    pub version: i64,
    #[serde(flatten)]
    pub data: org::BuildingInput,
}

#[utoipa::path(put, path = "/buildings/{id}", tag = "org", params(("id" = i64, Path)), request_body = UpdateBuilding, responses((status = 200, body = so::Building), (status = 409, body = ErrorBody)))]
async fn update_building(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateBuilding>,
) -> ApiResult<Json<so::Building>> {
    org::update_building(&s.app, &a.actor, id, b.version, &b.data).await.map(Json).api(a.lang)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UnitQuery {
    pub building_id: Option<i64>,
    /// Room-number prefix, e.g. `3-2-15`.
    pub room: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[utoipa::path(get, path = "/communities/{id}/units", tag = "org", params(("id" = i64, Path), UnitQuery), responses((status = 200, body = [so::Unit])))]
async fn list_units(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<UnitQuery>,
) -> ApiResult<Json<Vec<so::Unit>>> {
    org::units(&s.app, &a.actor, id, q.building_id, q.room.as_deref(), q.limit.unwrap_or(100), q.offset.unwrap_or(0))
        .await
        .map(Json)
        .api(a.lang)
}

#[utoipa::path(post, path = "/communities/{id}/units", tag = "org", params(IdempotencyHeader, ("id" = i64, Path)), request_body = org::UnitInput, responses((status = 201, body = so::Unit), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_unit(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<org::UnitInput>,
) -> ApiResult<Response> {
    idempotent(&s, &a, &idem, org::create_unit(&s.app, &a.actor, id, &b)).await
}

#[utoipa::path(get, path = "/units/{id}", tag = "org", params(("id" = i64, Path)), responses((status = 200, body = so::Unit), (status = 404, body = ErrorBody)))]
async fn get_unit(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<so::Unit>> {
    org::unit(&s.app, &a.actor, id).await.map(Json).api(a.lang)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUnit {
    pub version: i64,
    #[serde(flatten)]
    pub data: org::UnitInput,
}

#[utoipa::path(put, path = "/units/{id}", tag = "org", params(("id" = i64, Path)), request_body = UpdateUnit, responses((status = 200, body = so::Unit), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_unit(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateUnit>,
) -> ApiResult<Json<so::Unit>> {
    org::update_unit(&s.app, &a.actor, id, b.version, &b.data).await.map(Json).api(a.lang)
}

#[utoipa::path(get, path = "/units/{id}/occupants", tag = "people", params(("id" = i64, Path)), responses((status = 200, body = [sp::Occupancy])))]
async fn list_occupants(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<sp::Occupancy>>> {
    people::occupants(&s.app, &a.actor, id).await.map(Json).api(a.lang)
}

#[utoipa::path(post, path = "/units/{id}/occupants", tag = "people", params(IdempotencyHeader, ("id" = i64, Path)), request_body = people::OccupancyInput, responses((status = 201, body = sp::Occupancy), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_occupant(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<people::OccupancyInput>,
) -> ApiResult<Response> {
    idempotent(&s, &a, &idem, people::add_occupancy(&s.app, &a.actor, id, &b)).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EndOccupancy {
    pub version: i64,
    /// Last day (default: today in the community's time zone).
    #[serde(default)]
    pub until: String,
}

/// End an occupancy (moved out, sold); history is kept.
#[utoipa::path(post, path = "/occupancies/{id}/end", tag = "people", params(("id" = i64, Path)), request_body = EndOccupancy, responses((status = 200, body = sp::Occupancy), (status = 409, body = ErrorBody)))]
async fn end_occupancy(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<EndOccupancy>,
) -> ApiResult<Json<sp::Occupancy>> {
    people::end_occupancy(&s.app, &a.actor, id, b.version, &b.until).await.map(Json).api(a.lang)
}

#[utoipa::path(get, path = "/communities/{id}/departments", tag = "org", params(("id" = i64, Path)), responses((status = 200, body = [so::Department])))]
async fn list_departments(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<so::Department>>> {
    org::departments(&s.app, &a.actor, id).await.map(Json).api(a.lang)
}

#[utoipa::path(post, path = "/communities/{id}/departments", tag = "org", params(IdempotencyHeader, ("id" = i64, Path)), request_body = org::DepartmentInput, responses((status = 201, body = so::Department), (status = 422, body = ErrorBody)))]
async fn create_department(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<org::DepartmentInput>,
) -> ApiResult<Response> {
    idempotent(&s, &a, &idem, org::create_department(&s.app, &a.actor, id, &b)).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateDepartment {
    pub version: i64,
    #[serde(flatten)]
    pub data: org::DepartmentInput,
}

#[utoipa::path(put, path = "/departments/{id}", tag = "org", params(("id" = i64, Path)), request_body = UpdateDepartment, responses((status = 200, body = so::Department), (status = 409, body = ErrorBody)))]
async fn update_department(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateDepartment>,
) -> ApiResult<Json<so::Department>> {
    org::update_department(&s.app, &a.actor, id, b.version, &b.data).await.map(Json).api(a.lang)
}

// ---------------------------------------------------------------- people

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PersonQuery {
    /// Full phone number, ID number, the last four digits of a phone, or a name prefix.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Find owners and residents (personal data masked).
#[utoipa::path(get, path = "/communities/{id}/persons", tag = "people", params(("id" = i64, Path), PersonQuery), responses((status = 200, body = [sp::Person])))]
async fn search_persons(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<PersonQuery>,
) -> ApiResult<Json<Vec<sp::Person>>> {
    people::search(&s.app, &a.actor, id, q.q.as_deref().unwrap_or(""), q.limit.unwrap_or(50), q.offset.unwrap_or(0))
        .await
        .map(Json)
        .api(a.lang)
}

#[utoipa::path(post, path = "/communities/{id}/persons", tag = "people", params(IdempotencyHeader, ("id" = i64, Path)), request_body = people::PersonInput, responses((status = 201, body = sp::Person), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_person(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<people::PersonInput>,
) -> ApiResult<Response> {
    idempotent(&s, &a, &idem, people::create_person(&s.app, &a.actor, id, &b)).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonDetail {
    pub person: sp::Person,
    pub occupancies: Vec<sp::Occupancy>,
}

#[utoipa::path(get, path = "/persons/{id}", tag = "people", params(("id" = i64, Path)), responses((status = 200, body = PersonDetail), (status = 404, body = ErrorBody)))]
async fn get_person(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<PersonDetail>> {
    let (person, occupancies) = people::person(&s.app, &a.actor, id).await.api(a.lang)?;
    Ok(Json(PersonDetail { person, occupancies }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdatePerson {
    pub version: i64,
    #[serde(flatten)]
    pub data: people::PersonInput,
}

/// Edit a person. Empty personal-data fields keep their stored values.
#[utoipa::path(put, path = "/persons/{id}", tag = "people", params(("id" = i64, Path)), request_body = UpdatePerson, responses((status = 200, body = sp::Person), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_person(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdatePerson>,
) -> ApiResult<Json<sp::Person>> {
    people::update_person(&s.app, &a.actor, id, b.version, &b.data).await.map(Json).api(a.lang)
}

// ---------------------------------------------------------------- import

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// Only check the file; write nothing (default true).
    pub dry_run: Option<bool>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ImportUpload {
    /// CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX/XLS.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
}

/// Import units and owners from a spreadsheet: a dry run lists every bad row; the real
/// import writes nothing unless every row is good.
#[utoipa::path(post, path = "/communities/{id}/imports", tag = "import", params(("id" = i64, Path), ImportQuery),
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = import::ImportReport), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_file(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    Query(q): Query<ImportQuery>,
    mp: Multipart,
) -> ApiResult<Json<import::ImportReport>> {
    a.actor.authorize(huiqian_domain::auth::Permission::ImportData, id).api(a.lang)?;
    let (name, bytes) = super::pages::read_upload(mp, s.app.config.limits.max_upload_bytes).await.api(a.lang)?;
    import::import_units_and_owners(&s.app, &a.actor, id, &name, &bytes, q.dry_run.unwrap_or(true))
        .await
        .map(Json)
        .api(a.lang)
}

// ---------------------------------------------------------------- staff

#[utoipa::path(get, path = "/staff", tag = "staff", responses((status = 200, body = [sa::User]), (status = 403, body = ErrorBody)))]
async fn list_staff(State(s): State<AppState>, a: ApiActor) -> ApiResult<Json<Vec<sa::User>>> {
    auth::list_staff(&s.app, &a.actor).await.map(Json).api(a.lang)
}

/// Create a staff account (they change the password at first sign-in).
#[utoipa::path(post, path = "/staff", tag = "staff", params(IdempotencyHeader), request_body = auth::NewStaff, responses((status = 201, body = sa::User), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_staff(
    State(s): State<AppState>,
    a: ApiActor,
    idem: Idempotency,
    ApiJson(b): ApiJson<auth::NewStaff>,
) -> ApiResult<Response> {
    idempotent(&s, &a, &idem, auth::create_staff(&s.app, &a.actor, &b, auth::StaffOptions::default())).await
}

#[utoipa::path(get, path = "/staff/{id}", tag = "staff", params(("id" = i64, Path)), responses((status = 200, body = Me), (status = 404, body = ErrorBody)))]
async fn get_staff(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<Json<Me>> {
    let (user, roles) = auth::staff_detail(&s.app, &a.actor, id).await.api(a.lang)?;
    Ok(Json(Me { user, roles }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateStaff {
    pub version: i64,
    pub display_name: String,
    pub active: bool,
}

/// Edit or (de)activate a staff account; people with history are never deleted.
#[utoipa::path(put, path = "/staff/{id}", tag = "staff", params(("id" = i64, Path)), request_body = UpdateStaff, responses((status = 200, body = sa::User), (status = 409, body = ErrorBody)))]
async fn update_staff(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateStaff>,
) -> ApiResult<Json<sa::User>> {
    auth::update_staff(&s.app, &a.actor, id, b.version, &b.display_name, b.active).await.map(Json).api(a.lang)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantBody {
    /// None: company-wide (system administrators only).
    pub community_id: Option<i64>,
    pub role: String,
    /// The department the role works in; with `head` and without it, the community's
    /// department of the role's own kind.
    pub department_id: Option<i64>,
    /// The holder heads the department (负责人): signs its extensions, suspensions and
    /// terminations (R-SHEET-8).
    #[serde(default)]
    pub head: bool,
}

/// Grant a role in a community.
#[utoipa::path(post, path = "/staff/{id}/roles", tag = "staff", params(("id" = i64, Path)), request_body = GrantBody, responses((status = 201, body = Created), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn grant_role(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<GrantBody>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let role = huiqian_domain::auth::Role::parse(&b.role)
        .ok_or_else(|| AppError::field("role", huiqian_domain::validation::ValidationError::new("role.unknown")))
        .api(a.lang)?;
    let department = match (b.department_id, b.head, b.community_id, role.department_kind()) {
        (None, true, Some(c), Some(kind)) => org::department_of_kind(&s.app, c, kind).await.api(a.lang)?,
        (d, ..) => d,
    };
    let rid = auth::grant_role(&s.app, &a.actor, id, b.community_id, role, department, b.head).await.api(a.lang)?;
    Ok((StatusCode::CREATED, Json(Created { id: rid })))
}

/// Revoke a role.
#[utoipa::path(delete, path = "/roles/{id}", tag = "staff", params(("id" = i64, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_role(State(s): State<AppState>, a: ApiActor, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    auth::revoke_role(&s.app, &a.actor, id).await.api(a.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetBody {
    /// Temporary password, to be changed at next sign-in.
    pub password: String,
    /// Also remove the second factor (lost phone).
    #[serde(default)]
    pub clear_totp: bool,
}

/// Administrator password reset; every session of that person ends.
#[utoipa::path(post, path = "/staff/{id}/reset-password", tag = "staff", params(("id" = i64, Path)), request_body = ResetBody, responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reset_password(
    State(s): State<AppState>,
    a: ApiActor,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ResetBody>,
) -> ApiResult<StatusCode> {
    auth::reset_password(&s.app, &a.actor, id, &b.password, b.clear_totp).await.api(a.lang)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- audit

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    pub community_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// From (epoch milliseconds, inclusive).
    pub from: Option<i64>,
    /// To (epoch milliseconds, exclusive).
    pub to: Option<i64>,
    /// Entries older than this sequence number (paging).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// Browse the audit trail (managers; their communities only).
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = [Entry]), (status = 403, body = ErrorBody)))]
async fn audit_log(State(s): State<AppState>, a: ApiActor, Query(q): Query<AuditQuery>) -> ApiResult<Json<Vec<Entry>>> {
    let f = crate::store::audit::Filter {
        communities: None,
        community_id: q.community_id,
        actor_user_id: q.actor_user_id,
        action: q.action.filter(|s| !s.is_empty()),
        entity_type: q.entity_type.filter(|s| !s.is_empty()),
        entity_id: q.entity_id.filter(|s| !s.is_empty()),
        from_ms: q.from,
        to_ms: q.to,
        before_seq: q.before,
        limit: q.limit.unwrap_or(100),
    };
    app::audit::browse(&s.app, &a.actor, f).await.map(Json).api(a.lang)
}

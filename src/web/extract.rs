//! Who is asking, in which language: extractors for pages and for the API.

use super::security::SessionSlot;
use super::{ApiError, AppState, REQUEST_ID};
use crate::app::Actor;
use crate::app::auth::LiveSession;
use crate::i18n::{Lang, T};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;

fn request_id(parts: &Parts) -> String {
    parts.headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

pub fn client_ip(parts: &Parts) -> std::net::IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn actor_of(s: &LiveSession, rid: String) -> Actor {
    crate::app::auth::session_actor(s, &rid)
}

/// Request metadata pages and sign-in need.
#[derive(Debug, Clone)]
pub struct Meta {
    pub request_id: String,
    pub ip: std::net::IpAddr,
    pub user_agent: String,
    pub lang: Lang,
    pub session: Option<LiveSession>,
}

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Meta {
            request_id: request_id(parts),
            ip: client_ip(parts),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            lang: parts.extensions.get::<Lang>().copied().unwrap_or_default(),
            session: parts.extensions.get::<SessionSlot>().and_then(|s| s.0.clone()),
        })
    }
}

/// A signed-in member of staff on a page. Without a session the browser is sent to the
/// sign-in page (and back afterwards); with the second factor or a password change
/// pending, to that step first.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub lang: Lang,
    pub t: T,
    pub csrf: String,
    pub session: LiveSession,
    pub path: String,
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let Some(s) = parts.extensions.get::<SessionSlot>().and_then(|s| s.0.clone()) else {
            if parts.headers.contains_key("hx-request") {
                let mut r = StatusCode::UNAUTHORIZED.into_response();
                r.headers_mut().insert("hx-redirect", "/login".parse().expect("literal"));
                return Err(r);
            }
            return Err(Redirect::to(&format!("/login?next={}", encode(&path))).into_response());
        };
        if !s.second_factor_done {
            return Err(Redirect::to("/login/second-factor").into_response());
        }
        if s.user.must_change_password == 1 && !path.starts_with("/account/password") {
            return Err(Redirect::to("/account/password").into_response());
        }
        Ok(Ctx {
            actor: actor_of(&s, request_id(parts)),
            lang,
            t: T(lang),
            csrf: s.csrf_token.clone(),
            session: s,
            path,
        })
    }
}

/// The caller of an API route: a bearer token (`Authorization: Bearer hq_…`) or a
/// signed-in browser session (whose writes carry the CSRF token).
#[derive(Debug, Clone)]
pub struct ApiActor {
    pub actor: Actor,
    pub lang: Lang,
    pub session_id: Option<String>,
}

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let rid = request_id(parts);
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            let token = auth.strip_prefix("Bearer ").unwrap_or("").trim();
            return match crate::app::auth::actor_from_token(&state.app, token, &rid).await {
                Ok(Some((actor, locale))) => {
                    let lang = parts
                        .extensions
                        .get::<Lang>()
                        .copied()
                        .filter(|_| parts.headers.contains_key(header::ACCEPT_LANGUAGE))
                        .or_else(|| Lang::parse(&locale))
                        .unwrap_or_default();
                    // A read-only token never reaches a handler that may write, whatever
                    // the handler then checks (the use-cases refuse it as well).
                    let reads = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
                    if !reads && !actor.can_write() {
                        return Err(ApiError::from_code(StatusCode::FORBIDDEN, "token_read_only", lang));
                    }
                    Ok(ApiActor { actor, lang, session_id: None })
                }
                Ok(None) => Err(ApiError::from_code(StatusCode::UNAUTHORIZED, "unauthenticated", lang)),
                Err(e) => Err(ApiError::from_app(e, lang)),
            };
        }
        match parts.extensions.get::<SessionSlot>().and_then(|s| s.0.clone()) {
            Some(s) if s.second_factor_done => {
                Ok(ApiActor { actor: actor_of(&s, rid), lang, session_id: Some(s.id.clone()) })
            }
            _ => Err(ApiError::from_code(StatusCode::UNAUTHORIZED, "unauthenticated", lang)),
        }
    }
}

/// A JSON body whose problems (not JSON, wrong types, missing fields, too large) are
/// answered in the API's error shape and the caller's language, never as bare text.
pub struct ApiJson<T>(pub T);

impl<T> axum::extract::FromRequest<AppState> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                use axum::extract::rejection::JsonRejection::*;
                let (status, code) = match &rejection {
                    JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad_json_data"),
                    JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "bad_json"),
                    MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_required"),
                    BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
                    }
                    _ => (rejection.status(), "bad_json"),
                };
                let mut e = ApiError::from_code(status, code, lang);
                // Say where the body went wrong (serde's path and reason), after the message.
                e.body.error.message = format!("{} ({})", e.body.error.message, rejection.body_text());
                Err(e)
            }
        }
    }
}

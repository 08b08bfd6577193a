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

/// The client's address: the connecting peer, unless that peer is a trusted reverse
/// proxy, in which case `X-Forwarded-For` is read from the right, passing over trusted
/// proxies, and the first other address is the client (addresses further left were
/// written by the client itself and are not believed).
pub fn client_ip(parts: &Parts, trusted: &[crate::config::IpRange]) -> std::net::IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    forwarded_client(peer, parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()), trusted)
}

fn forwarded_client<'a>(
    peer: std::net::IpAddr,
    headers: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[crate::config::IpRange],
) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in headers.rev().flat_map(|h| h.rsplit(',')) {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // A garbled hop: believe nothing beyond it.
            Err(_) => break,
        }
    }
    client
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
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Meta {
            request_id: request_id(parts),
            ip: client_ip(parts, &state.trusted_proxies),
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
    /// The request's instant, from the application's clock.
    pub now: i64,
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
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
            now: state.app.clock.now(),
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
                // A temporary password is for choosing one's own, and nothing else.
                // (Under `nest`, the request's own URI has lost its `/api/v1` prefix.)
                let path = parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map(|u| u.0.path().to_string())
                    .unwrap_or_else(|| parts.uri.path().to_string());
                let path = path.as_str();
                let allowed =
                    path == "/api/v1/me/password" || (path == "/api/v1/me" && parts.method == axum::http::Method::GET);
                if s.user.must_change_password == 1 && !allowed {
                    return Err(ApiError::from_code(StatusCode::FORBIDDEN, "password_change_required", lang));
                }
                Ok(ApiActor { actor: actor_of(&s, rid), lang, session_id: Some(s.id.clone()) })
            }
            _ => Err(ApiError::from_code(StatusCode::UNAUTHORIZED, "unauthenticated", lang)),
        }
    }
}

/// A create's `Idempotency-Key` header, with the digest of the request it came with
/// (method, address and body, taken as the request came in).
#[derive(Debug, Clone, Default)]
pub struct Idempotency(pub Option<(String, String)>);

/// Keys are 1 to 100 visible ASCII characters (a UUID, typically).
fn key_ok(k: &str) -> bool {
    (1..=100).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
}

impl FromRequestParts<AppState> for Idempotency {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let Some(raw) = parts.headers.get("idempotency-key") else { return Ok(Idempotency(None)) };
        let key = raw.to_str().map(str::trim).unwrap_or_default();
        if !key_ok(key) {
            let e = crate::app::AppError::field(
                "Idempotency-Key",
                huiqian_domain::validation::ValidationError::new("idempotency.key_format"),
            );
            return Err(ApiError::from_app(e, lang));
        }
        let digest = parts.extensions.get::<super::security::RequestDigest>().map(|d| d.0.clone()).unwrap_or_default();
        Ok(Idempotency(Some((key.to_string(), digest))))
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
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !is_json_type(content_type) {
            return Err(ApiError::from_code(StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_required", lang));
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::from_code(StatusCode::PAYLOAD_TOO_LARGE, "too_large", lang));
            }
            Err(_) => return Err(ApiError::from_code(StatusCode::BAD_REQUEST, "bad_json", lang)),
        };
        // No text may carry a NUL character: PostgreSQL refuses it, and SQLite must not
        // keep what PostgreSQL would refuse.
        if let Some(field) = nul_field(&bytes) {
            let e = crate::app::AppError::field(&field, huiqian_domain::validation::ValidationError::new("text.nul"));
            return Err(ApiError::from_app(e, lang));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
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

/// `application/json` or `application/…+json`, with or without parameters.
fn is_json_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Where a JSON body holds a NUL character in a string or a key (`reason`,
/// `items[2].name`), if it does. JSON can only carry it escaped, so bodies without the
/// escape are not parsed twice.
pub(crate) fn nul_field(body: &[u8]) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        use serde_json::Value::*;
        match v {
            String(s) if s.contains('\0') => Some(if path.is_empty() { "body".into() } else { path.into() }),
            Array(items) => items.iter().enumerate().find_map(|(i, x)| walk(x, &format!("{path}[{i}]"))),
            Object(map) => map.iter().find_map(|(k, x)| {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                if k.contains('\0') { Some(p.replace('\0', "\\0")) } else { walk(x, &p) }
            }),
            _ => None,
        }
    }
    let escaped = body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"));
    if !escaped {
        return None;
    }
    walk(&serde_json::from_slice(body).ok()?, "")
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;
    use crate::config::IpRange;

    #[test]
    fn nul_characters_are_found_with_their_field() {
        use super::nul_field;
        assert_eq!(nul_field(br#"{"reason": "ok"}"#), None);
        assert_eq!(nul_field(br#"{"reason": "a\u0000b"}"#).as_deref(), Some("reason"));
        assert_eq!(nul_field(br#"{"items": [{"name": "x"}, {"name": "\u0000"}]}"#).as_deref(), Some("items[1].name"));
        assert_eq!(nul_field(br#"{"a": "\\u0000"}"#), None, "an escaped backslash is not a NUL");
    }

    /// Point 6 of the security review: behind a configured proxy the throttle sees the
    /// real client; a client cannot choose its address by sending the header itself.
    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [IpRange::parse("10.0.0.0/8").unwrap()];
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        // Straight from the internet: the header is the client's own words.
        assert_eq!(forwarded_client(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &trusted), ip("203.0.113.9"));
        // Through the proxy: the last untrusted hop is the client.
        assert_eq!(forwarded_client(ip("10.0.0.2"), ["203.0.113.9"].into_iter(), &trusted), ip("203.0.113.9"));
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), ["6.6.6.6, 203.0.113.9, 10.0.0.7"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), ["6.6.6.6", "203.0.113.9"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        // A garbled hop stops the walk at the last good address.
        assert_eq!(forwarded_client(ip("10.0.0.2"), ["evil, 10.0.0.5"].into_iter(), &trusted), ip("10.0.0.5"));
        // No proxies configured: nobody is believed.
        assert_eq!(forwarded_client(ip("10.0.0.2"), ["203.0.113.9"].into_iter(), &[]), ip("10.0.0.2"));
    }
}

//! Sessions from cookies, protection against cross-site requests, and sign-in throttling.

use super::{AppState, SESSION_COOKIE};
use crate::app::auth::{self, LiveSession};
use crate::i18n::{Lang, t};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The digest of a write that carries an `Idempotency-Key` (method, address, body).
#[derive(Clone, Debug)]
pub struct RequestDigest(pub String);

/// The session found for this request (if any), put in the request's extensions.
#[derive(Clone)]
pub struct SessionSlot(pub Option<LiveSession>);

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Does the `Origin` header (when the browser sends one) name this very host?
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        return false;
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    origin_host.trim_end_matches('/') == host
}

fn lang_of(headers: &HeaderMap, session: Option<&LiveSession>) -> Lang {
    if let Some(s) = session {
        return Lang::parse(&s.user.locale).unwrap_or_default();
    }
    super::lang_of_headers(headers)
}

fn refuse(lang: Lang, path: &str, code: &'static str) -> Response {
    if path.starts_with("/api/") {
        super::ApiError::from_code(StatusCode::FORBIDDEN, code, lang).into_response()
    } else {
        (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            t(lang, &format!("error.{code}")).to_string(),
        )
            .into_response()
    }
}

/// Resolve the session cookie once per request and refuse cross-site writes: an unsafe
/// request must come from our own origin, and when authenticated by cookie it must carry
/// the session's CSRF token, in the `X-CSRF-Token` header or a `_csrf` form field (plain
/// or multipart), never in the address, where it would leak into logs and the referrer.
/// Only the API authenticates by bearer token, so only there does a bearer header stand
/// in for the token; on a page route the cookie decides and the CSRF check applies.
///
/// Responses to signed-in requests and every API response carry `Cache-Control:
/// no-store`, so that no shared or back-button cache keeps a resident's data.
pub async fn session_and_csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let private = req.uri().path().starts_with("/api/")
        || cookie(req.headers(), SESSION_COOKIE).is_some_and(|t| !t.is_empty())
        || req.headers().contains_key(header::AUTHORIZATION);
    let mut r = check_session_and_csrf(state, req, next).await;
    if private && !r.headers().contains_key(header::CACHE_CONTROL) {
        r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    r
}

async fn check_session_and_csrf(state: AppState, req: Request, next: Next) -> Response {
    let token = cookie(req.headers(), SESSION_COOKIE).map(str::to_string);
    let session = match token {
        Some(t) if !t.is_empty() => match auth::session_from_cookie(&state.app, &t).await {
            Ok(s) => s,
            Err(e) => return super::error::internal(e).into_response(),
        },
        _ => None,
    };
    let lang = lang_of(req.headers(), session.as_ref());
    let path = req.uri().path().to_string();
    if let Some(place) = nul_in_uri(req.uri()) {
        return refuse_nul(lang, &path, &place);
    }
    let mut req = req;
    if is_unsafe(req.method()) {
        if !same_origin(req.headers()) {
            return refuse(lang, &path, "cross_site");
        }
        // Forms are read here once: for the CSRF field, and so that no text with a NUL
        // character reaches a handler (PostgreSQL refuses it; SQLite must not keep it).
        let content_type =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let is_form = content_type.starts_with("application/x-www-form-urlencoded");
        let boundary = if content_type.starts_with("multipart/form-data") {
            multer::parse_boundary(&content_type).ok()
        } else {
            None
        };
        // A create retried with an Idempotency-Key is recognised by what it asks for: the
        // digest of its method, address and body (see `app::idempotency`).
        let keyed = path.starts_with("/api/") && req.headers().contains_key("idempotency-key");
        let mut fields: Vec<(String, String)> = Vec::new();
        if is_form || boundary.is_some() || keyed {
            let (mut parts, body) = req.into_parts();
            // Room beyond the largest file for the form's other fields, so that a file over
            // the limit is refused by the handler, which names the field and the limit.
            let limit = if boundary.is_some() {
                state.app.config.limits.max_upload_bytes + (1 << 20)
            } else {
                state.app.config.limits.max_body_bytes
            };
            let bytes = match axum::body::to_bytes(body, limit).await {
                Ok(b) => b,
                Err(_) => return too_large(lang, &path),
            };
            if keyed {
                use sha2::{Digest, Sha256};
                let mut h = Sha256::new();
                h.update(parts.method.as_str().as_bytes());
                h.update(b" ");
                h.update(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or_default().as_bytes());
                h.update(b"\n");
                h.update(&bytes);
                parts.extensions.insert(RequestDigest(hex::encode(h.finalize())));
            }
            fields = match &boundary {
                Some(b) => multipart_text_fields(bytes.clone(), b).await,
                None if is_form => {
                    url::form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
                }
                None => Vec::new(),
            };
            if let Some((name, _)) = fields.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
                return refuse_nul(lang, &path, &name.replace('\0', "\\0"));
            }
            req = Request::from_parts(parts, Body::from(bytes));
        }
        let bearer = path.starts_with("/api/")
            && req.headers().get(header::AUTHORIZATION).is_some_and(|v| v.as_bytes().starts_with(b"Bearer "));
        // Signing in replaces whatever session the browser had; it carries no token of
        // it (the origin check above still applies).
        let signing_in = path == "/login" || path == "/api/v1/auth/sign-in";
        if let (Some(s), false, false) = (&session, bearer, signing_in) {
            let presented = req
                .headers()
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .or_else(|| fields.iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v.clone()));
            let ok = presented.is_some_and(|p| crate::crypto::constant_time_eq(p.as_bytes(), s.csrf_token.as_bytes()));
            if !ok {
                return refuse(lang, &path, "csrf");
            }
        }
    }
    req.extensions_mut().insert(SessionSlot(session));
    req.extensions_mut().insert(lang);
    next.run(req).await
}

fn too_large(lang: Lang, path: &str) -> Response {
    if path.starts_with("/api/") {
        super::ApiError::from_code(StatusCode::PAYLOAD_TOO_LARGE, "too_large", lang).into_response()
    } else {
        (StatusCode::PAYLOAD_TOO_LARGE, t(lang, "error.too_large").to_string()).into_response()
    }
}

/// Where the address carries a NUL character once decoded: `path`, or a query
/// parameter's name.
fn nul_in_uri(uri: &axum::http::Uri) -> Option<String> {
    if uri.path().contains("%00") {
        return Some("path".into());
    }
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', "\\0"))
}

fn refuse_nul(lang: Lang, path: &str, field: &str) -> Response {
    let e = crate::app::AppError::field(field, huiqian_domain::validation::ValidationError::new("text.nul"));
    if path.starts_with("/api/") {
        super::ApiError::from_app(e, lang).into_response()
    } else {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}: {}", field, t(lang, "text.nul")),
        )
            .into_response()
    }
}

/// The text fields (those without a file name) of a buffered multipart body.
async fn multipart_text_fields(body: axum::body::Bytes, boundary: &str) -> Vec<(String, String)> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut m = multer::Multipart::new(stream, boundary);
    let mut out = Vec::new();
    while let Ok(Some(field)) = m.next_field().await {
        if field.file_name().is_some() {
            continue;
        }
        let name = field.name().unwrap_or_default().to_string();
        if let Ok(text) = field.text().await {
            out.push((name, text));
        }
    }
    out
}

/// Failed sign-ins per client address: after `MAX` in `WINDOW`, further attempts are
/// refused until the window passes. Per-account lockout is kept in the database.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    const MAX: u32 = 20;
    const WINDOW: Duration = Duration::from_secs(15 * 60);

    /// Seconds to wait before trying again, if this address is throttled.
    pub fn check(&self, ip: IpAddr) -> Option<u64> {
        let map = self.failures.lock().expect("throttle lock");
        let (n, since) = map.get(&ip)?;
        let elapsed = since.elapsed();
        (*n >= Self::MAX && elapsed < Self::WINDOW).then(|| (Self::WINDOW - elapsed).as_secs() + 1)
    }

    pub fn failed(&self, ip: IpAddr) {
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
        }
        let e = map.entry(ip).or_insert((0, Instant::now()));
        if e.1.elapsed() >= Self::WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.failures.lock().expect("throttle lock").remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_repeated_failures() {
        let t = Throttle::default();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        for _ in 0..Throttle::MAX {
            assert!(t.check(ip).is_none());
            t.failed(ip);
        }
        assert!(t.check(ip).is_some());
        t.succeeded(ip);
        assert!(t.check(ip).is_none());
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }
}

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
    if let Some(l) = cookie(headers, super::LANG_COOKIE).and_then(Lang::parse) {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default()
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
/// the session's CSRF token (`X-CSRF-Token` header, `_csrf` form field or query parameter).
pub async fn session_and_csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
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
    let mut req = req;
    if is_unsafe(req.method()) {
        if !same_origin(req.headers()) {
            return refuse(lang, &path, "cross_site");
        }
        let bearer = req.headers().get(header::AUTHORIZATION).is_some_and(|v| v.as_bytes().starts_with(b"Bearer "));
        // Signing in replaces whatever session the browser had; it carries no token of
        // it (the origin check above still applies).
        let signing_in = path == "/login" || path == "/api/v1/auth/sign-in";
        if let (Some(s), false, false) = (&session, bearer, signing_in) {
            let mut presented = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_string);
            if presented.is_none() {
                presented = req.uri().query().and_then(|q| form_field(q.as_bytes(), "_csrf"));
            }
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            if presented.is_none() && is_form {
                let (parts, body) = req.into_parts();
                let limit = state.app.config.limits.max_body_bytes;
                let bytes = match axum::body::to_bytes(body, limit).await {
                    Ok(b) => b,
                    Err(_) => {
                        return (StatusCode::PAYLOAD_TOO_LARGE, t(lang, "error.too_large").to_string()).into_response();
                    }
                };
                presented = form_field(&bytes, "_csrf");
                req = Request::from_parts(parts, Body::from(bytes));
            }
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

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
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

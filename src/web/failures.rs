//! What a request gets when its handler does not answer properly, and the log line every
//! request leaves.
//!
//! - **Tracing**: each request runs in a `request` span carrying its id (`X-Request-Id`,
//!   set or kept by the request-id layers), its method and its route *template*
//!   (`/api/v1/sheets/{id}`), never the path or query as sent: those may hold a phone
//!   number someone searched for. Every event logged while the request runs carries the
//!   span; the answer is logged at debug level, or at warn level when it is a 5xx.
//! - **A panic** in a handler or a middleware below is caught (tower-http's catch-panic)
//!   and answered like any internal error: 500 in the API's JSON error shape, the error
//!   page for pages. The panic's message is logged, never shown.
//! - **A timeout**: a request whose answer is not ready within
//!   `limits.request_timeout_seconds` of its headers is dropped (an open transaction
//!   rolls back) and answered 503 `request_timeout`. Receiving the body counts; sending
//!   the answer does not: a large download that has started streaming is not cut off.

use super::error::ApiError;
use super::pages::PageError;
use crate::app::AppError;
use crate::i18n::Lang;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Response;
use axum::middleware::Next;
use axum::response::IntoResponse;
use std::time::Duration;

/// The span every request runs in (the `make_span_with` of the trace layer).
pub(super) fn request_span(req: &Request) -> tracing::Span {
    let id = req.headers().get(&super::REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
    // The route as registered: the path as sent may carry anything a client typed.
    let route = req.extensions().get::<MatchedPath>().map_or("(no route)", MatchedPath::as_str);
    tracing::info_span!("request", id = %id, method = %req.method(), route = %route)
}

/// The line a request's answer leaves (the `on_response` of the trace layer).
pub(super) fn log_answer(r: &Response<axum::body::Body>, latency: Duration, _: &tracing::Span) {
    let status = r.status().as_u16();
    let ms = latency.as_millis() as u64;
    if r.status().is_server_error() {
        tracing::warn!(status, ms, "answered with a server error");
    } else {
        tracing::debug!(status, ms, "answered");
    }
}

/// Marks the plain 500 that catch-panic answered, with the panic's message, for
/// [`answer_failures`] to turn into the error shape the caller expects.
#[derive(Debug, Clone)]
pub(super) struct Panicked(String);

/// catch-panic's answer to a panic: a bare 500 carrying [`Panicked`].
pub(super) fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response<String> {
    let message = if let Some(s) = err.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = err.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "a panic without a message".to_string()
    };
    let mut r = Response::new(String::new());
    *r.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    r.extensions_mut().insert(Panicked(message));
    r
}

/// Bound the time a request may take, and answer a caught panic or a timeout in the
/// caller's shape: the API's JSON error for `/api/…`, the error page otherwise.
pub(super) async fn answer_failures(
    State(s): State<super::AppState>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    let api = req.uri().path().starts_with("/api/");
    let lang = super::lang_of_headers(req.headers());
    let limit = Duration::from_secs(s.app.config.limits.request_timeout_seconds.max(1));
    let failure = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => match r.extensions().get::<Panicked>() {
            None => return r,
            Some(Panicked(message)) => AppError::Internal(format!("a handler panicked: {message}")),
        },
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "request timed out");
            AppError::Unavailable { code: "request_timeout" }
        }
    };
    answer(failure, api, lang)
}

fn answer(e: AppError, api: bool, lang: Lang) -> axum::response::Response {
    if api { ApiError::from_app(e, lang).into_response() } else { PageError(e, lang).into_response() }
}

/// Routes that misbehave on purpose, compiled into the unit tests only.
#[cfg(test)]
pub(super) fn test_routes() -> axum::Router<super::AppState> {
    async fn panics() -> &'static str {
        panic!("boom from a test route")
    }
    async fn hangs() -> &'static str {
        std::future::pending::<()>().await;
        "never"
    }
    axum::Router::new()
        .route("/test/panic", axum::routing::get(panics))
        .route("/api/test/panic", axum::routing::get(panics))
        .route("/test/hang", axum::routing::get(hangs))
        .route("/api/test/hang", axum::routing::get(hangs))
}

#[cfg(test)]
mod tests {
    use super::super::router;
    use crate::app::App;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    /// A log that the test can read back.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Log {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    /// Log this thread's events, down to debug, into a [`Log`]. Every test here captures
    /// its log, so that no test runs the request span's callsite with no subscriber
    /// (which could leave it cached as disabled for the others).
    fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("huiqian=debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    async fn app(dir: &std::path::Path, timeout_seconds: u64) -> App {
        let mut cfg = crate::config::Config {
            data: dir.to_path_buf(),
            secret_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
            ..crate::config::Config::default()
        };
        cfg.limits.request_timeout_seconds = timeout_seconds;
        crate::cli::open_with(cfg, true).await.unwrap()
    }

    async fn get(app: &App, path: &str) -> (StatusCode, String, String) {
        let req = Request::get(path)
            .header("x-request-id", "rid-test-42")
            .header(header::ACCEPT_LANGUAGE, "en")
            .body(Body::empty())
            .unwrap();
        let r = router(app.clone()).oneshot(req).await.unwrap();
        let status = r.status();
        let ty = r.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, ty, String::from_utf8_lossy(&body).into_owned())
    }

    /// A panic in a handler answers 500 in the caller's shape — the API's JSON error, or
    /// the error page — shows nothing of the panic, and is logged with the request's id.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_the_error_shape_and_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path(), 30).await;
        let (log, _guard) = capture();

        let (status, ty, body) = get(&app, "/api/test/panic").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(ty.starts_with("application/json"), "{ty}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal", "{body}");
        assert!(!body.contains("boom"), "the panic's message is not shown: {body}");

        let (status, ty, body) = get(&app, "/test/panic").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(ty.starts_with("text/html"), "{ty}");
        assert!(body.contains("500") && !body.contains("boom"), "{body}");

        // The server goes on answering.
        let (status, _, _) = get(&app, "/healthz").await;
        assert_eq!(status, StatusCode::OK);

        let text = log.text();
        let panics: Vec<&str> =
            text.lines().filter(|l| l.contains("a handler panicked: boom from a test route")).collect();
        assert_eq!(panics.len(), 2, "one error line per panic:\n{text}");
        for line in panics {
            assert!(line.contains("ERROR") && line.contains("rid-test-42"), "{line}");
            assert!(line.contains("route=/api/test/panic") || line.contains("route=/test/panic"), "{line}");
        }
        assert!(text.contains("answered with a server error"), "{text}");
    }

    /// A request whose answer is not ready in `limits.request_timeout_seconds` is
    /// answered 503 `request_timeout`, in the API's shape or as the error page.
    #[tokio::test]
    async fn a_handler_that_does_not_answer_in_time_gets_503_request_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path(), 1).await;
        let (log, _guard) = capture();
        let (status, ty, body) = get(&app, "/api/test/hang").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(ty.starts_with("application/json"), "{ty}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "request_timeout", "{body}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty() && !m.contains("error.")), "{body}");

        let (status, ty, _) = get(&app, "/test/hang").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(ty.starts_with("text/html"), "{ty}");

        let text = log.text();
        let timeouts: Vec<&str> = text.lines().filter(|l| l.contains("request timed out")).collect();
        assert_eq!(timeouts.len(), 2, "{text}");
        assert!(timeouts.iter().all(|l| l.contains("WARN") && l.contains("rid-test-42")), "{text}");
    }
}

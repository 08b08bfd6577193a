//! The web interface (server-rendered HTML) and the JSON API under `/api/v1`.
//!
//! Nothing below this module knows about HTTP. Requests are parsed here into the inputs
//! of the use-cases in [`crate::app`]; their errors become one HTML or JSON shape here.

pub mod api;
pub(crate) mod api_followups;
pub(crate) mod api_keys;
pub(crate) mod api_reports;
pub(crate) mod api_requests;
pub(crate) mod api_sheets;
mod assets;
mod error;
pub(crate) mod export;
mod extract;
mod failures;
mod pages;
mod security;

pub use error::{ApiError, ErrorBody, FieldErrorBody};
pub use extract::{ApiActor, Ctx};

use crate::app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub const SESSION_COOKIE: &str = "hq_session";
pub const LANG_COOKIE: &str = "hq_lang";
pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub throttle: Arc<security::Throttle>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`trusted_proxies`).
    pub trusted_proxies: Arc<Vec<crate::config::IpRange>>,
}

/// The whole HTTP application: pages, API, OpenAPI document, health checks.
pub fn router(app: App) -> Router {
    let limit = app.config.limits.max_body_bytes;
    let upload_limit = app.config.limits.max_upload_bytes;
    let trusted_proxies =
        Arc::new(app.config.trusted_proxies.iter().filter_map(|p| crate::config::IpRange::parse(p)).collect());
    let state = AppState { app, throttle: Arc::new(security::Throttle::default()), trusted_proxies };
    let (api_router, mut openapi) = api::router(upload_limit).split_for_parts();
    api::document_errors(&mut openapi);
    let openapi = Arc::new(openapi);
    let routes = Router::new().merge(pages::router(upload_limit));
    #[cfg(test)]
    let routes = routes.merge(failures::test_routes());
    routes
        .merge(api_router)
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(readyz))
        .merge(assets::router())
        .layer(axum::middleware::from_fn(error::api_errors_as_json))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::session_and_csrf))
        .layer(axum::middleware::from_fn_with_state(state.clone(), database_gate))
        .layer(CatchPanicLayer::custom(failures::panic_response))
        .layer(axum::middleware::from_fn_with_state(state.clone(), failures::answer_failures))
        .layer(DefaultBodyLimit::max(limit))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(failures::request_span)
                .on_request(())
                .on_response(failures::log_answer)
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .with_state(state)
}

/// While the database is known not to answer, refuse every request that needs it at
/// once — 503 `database_unavailable` in the API's error shape, or the error page — rather
/// than letting each wait for a connection; and notice when a request failed for want
/// of it. The store's probe lifts the refusal as soon as the database answers again.
async fn database_gate(
    axum::extract::State(s): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = req.uri().path();
    let needs_database = !(path == "/healthz" || path == "/readyz" || path.starts_with("/static/"));
    if needs_database && !s.app.database_available() {
        let lang = lang_of_headers(req.headers());
        let e = crate::app::AppError::Unavailable { code: "database_unavailable" };
        return if path.starts_with("/api/") {
            ApiError::from_app(e, lang).into_response()
        } else {
            pages::PageError(e, lang).into_response()
        };
    }
    let r = next.run(req).await;
    if r.extensions().get::<error::DatabaseUnavailable>().is_some() {
        s.app.database_suspect();
    }
    r
}

/// The caller's language before the session is known: the language cookie, else
/// `Accept-Language`.
fn lang_of_headers(headers: &axum::http::HeaderMap) -> crate::i18n::Lang {
    security::cookie(headers, LANG_COOKIE)
        .and_then(crate::i18n::Lang::parse)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(crate::i18n::Lang::from_accept_language)
        })
        .unwrap_or_default()
}

async fn readyz(axum::extract::State(s): axum::extract::State<AppState>) -> (axum::http::StatusCode, &'static str) {
    if s.app.ready().await {
        (axum::http::StatusCode::OK, "ready")
    } else {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// Serve until Ctrl-C or SIGTERM; in-flight requests finish first.
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_until(app, listener, shutdown_signal()).await
}

/// Serve until `stop` completes; in-flight requests finish first.
///
/// A client that holds a connection without finishing its request is cut off: the
/// request's headers must arrive within `limits.header_timeout_seconds` (also the most a
/// kept-alive connection idles), and its body must keep coming, each part within
/// `limits.body_timeout_seconds` (408 otherwise). A slow client costs one idle task and
/// a socket; it never holds a database connection, which is only taken once the whole
/// request has arrived.
pub async fn serve_until(
    app: App,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let limits = app.config.limits.clone();
    let router = router(app).layer(tower_http::timeout::RequestBodyTimeoutLayer::new(std::time::Duration::from_secs(
        limits.body_timeout_seconds.max(1),
    )));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(limits.header_timeout_seconds.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let service = router.clone().map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(remote));
            req.map(axum::body::Body::new)
        });
        let conn = http.serve_connection(TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client going away mid-request is its own business, not an error of ours.
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The translated message of a refused field value (also used by the command line).
pub fn error_message(e: &huiqian_domain::validation::ValidationError, lang: crate::i18n::Lang) -> String {
    error::field_message(e, lang)
}

/// The translated message of a use-case error (also used by the command line).
pub fn app_error_message(e: &crate::app::AppError, lang: crate::i18n::Lang) -> String {
    error::message_of(e, lang)
}

//! Static assets, embedded in the binary (many sites run on intranets without a CDN).

use super::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const HTMX: &str = include_str!("../../static/vendor/htmx.min.js");
/// Apache ECharts 5.6.0 (Apache-2.0, `static/vendor/echarts.LICENSE`), for the reports' charts.
const ECHARTS: &str = include_str!("../../static/vendor/echarts.min.js");

fn asset(body: &'static str, mime: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(|| async { asset(CSS, "text/css; charset=utf-8") }))
        .route("/static/app.js", get(|| async { asset(JS, "text/javascript; charset=utf-8") }))
        .route("/static/htmx.min.js", get(|| async { asset(HTMX, "text/javascript; charset=utf-8") }))
        .route("/static/echarts.min.js", get(|| async { asset(ECHARTS, "text/javascript; charset=utf-8") }))
}

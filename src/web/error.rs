//! One error shape for the API and one for pages.
//!
//! API errors are `{"error": {"code", "message", "fields": [{"field", "code", "message"}]}}`:
//! the code is stable (clients key on it), the message is in the caller's language.
//! Internal errors are logged with the request id and never shown.

use crate::app::AppError;
use crate::i18n::{Lang, t, tf};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldErrorBody>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after: Option<i64>,
}

pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Forbidden | AppError::Refused { .. } => StatusCode::FORBIDDEN,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::Rejected { code: "account_locked", .. } => StatusCode::LOCKED,
        AppError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable { code: "storage_full" } => StatusCode::INSUFFICIENT_STORAGE,
        AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The translated message of a use-case error.
pub fn message_of(e: &AppError, lang: Lang) -> String {
    match e {
        AppError::Rejected { code, params } => tf(lang, &format!("error.{code}"), params),
        AppError::TooManyRequests { retry_after_secs } => {
            tf(lang, "error.too_many_requests", &[("seconds", retry_after_secs.to_string())])
        }
        other => t(lang, &format!("error.{}", other.code())).to_string(),
    }
}

/// The translated message of a refused field value.
pub fn field_message(e: &huiqian_domain::validation::ValidationError, lang: Lang) -> String {
    tf(lang, e.code, &e.params)
}

impl ApiError {
    pub fn from_app(e: AppError, lang: Lang) -> ApiError {
        if let AppError::Internal(msg) = &e {
            tracing::error!(error = %msg, "internal error");
        }
        let fields = match &e {
            AppError::Validation(f) => f
                .iter()
                .map(|(field, v)| FieldErrorBody {
                    field: field.to_string(),
                    code: v.code.to_string(),
                    message: field_message(v, lang),
                })
                .collect(),
            _ => vec![],
        };
        let retry_after = match &e {
            AppError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            AppError::Unavailable { code: "database_unavailable" } => Some(RETRY_UNAVAILABLE_SECS),
            _ => None,
        };
        ApiError {
            status: status_of(&e),
            body: ErrorBody {
                error: ErrorDetail { code: e.code().to_string(), message: message_of(&e, lang), fields },
            },
            retry_after,
        }
    }

    pub fn from_code(status: StatusCode, code: &str, lang: Lang) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    code: code.to_string(),
                    message: t(lang, &format!("error.{code}")).to_string(),
                    fields: vec![],
                },
            },
            retry_after: None,
        }
    }
}

/// Seconds a client is told to wait before retrying while the database is unavailable.
pub const RETRY_UNAVAILABLE_SECS: i64 = 5;

/// Marks a response that failed for want of the database, so that the server stops
/// sending requests to it until it answers again (see `Store::suspect`).
#[derive(Debug, Clone, Copy)]
pub struct DatabaseUnavailable;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unavailable = self.body.error.code == "database_unavailable";
        let mut r = (self.status, Json(self.body)).into_response();
        if unavailable {
            r.extensions_mut().insert(DatabaseUnavailable);
        }
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

pub fn internal(e: AppError) -> ApiError {
    ApiError::from_app(e, Lang::Zh)
}

/// The code an error status gets when something below the handlers (routing, path and
/// query parsing, multipart parsing, body limits) answered it without a code of its own.
fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "bad_request_data",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Every error the API answers has the JSON shape of docs/api.md, whoever produced it:
/// a plain-text rejection from routing or an extractor (an unknown path, a path segment
/// that is not a number, a malformed query or multipart body, a body over the limit) is
/// rewritten here into `{"error": {"code", "message"}}`, the message in the caller's
/// language followed by what the parser said (never for a 5xx, whose details are logged).
pub async fn api_errors_as_json(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
    let r = next.run(req).await;
    let status = r.status();
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return r;
    }
    let (parts, body) = r.into_parts();
    let said = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let mut e = ApiError::from_code(status, code_for_status(status), lang);
    match said {
        Ok(text) if !text.is_empty() && !status.is_server_error() => {
            e.body.error.message = format!("{} ({text})", e.body.error.message);
        }
        _ => {}
    }
    let mut out = e.into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

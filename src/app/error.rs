//! The one error type of the use-cases.
//!
//! When to use which:
//! - `Validation`: the caller's input was wrong; each field says why. Nothing was written.
//! - `Forbidden`: the caller lacks the permission in that community (R-ROLE-2).
//! - `Refused`: the caller has the permission, but not over this record, and the reason is
//!   worth saying (an account outside one's communities); answered like `Forbidden`.
//! - `NotFound`: the record does not exist, or exists in a community the caller cannot see
//!   (the two are indistinguishable on purpose).
//! - `Conflict`: someone else changed the record first (stale version), or a unique value
//!   is taken; the caller should re-read.
//! - `Rejected`: a rule of the manual refuses the action; the code names the rule.
//! - `Unauthenticated`, `TooManyRequests`: sign-in problems.
//! - `Unavailable`: the database cannot be reached (`database_unavailable`) or has no
//!   room left (`storage_full`); nothing was written, the same request may be sent again.
//! - `Internal`: a bug; the message is logged, never shown.

use huiqian_domain::validation::{FieldErrors, ValidationError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("forbidden")]
    Forbidden,
    #[error("refused: {code}")]
    Refused { code: &'static str },
    #[error("not found")]
    NotFound,
    #[error("conflict: {code}")]
    Conflict { code: &'static str },
    #[error("rejected: {code}")]
    Rejected { code: &'static str, params: Vec<(&'static str, String)> },
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: i64 },
    #[error("unavailable: {code}")]
    Unavailable { code: &'static str },
    #[error("internal error: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// One invalid field.
    pub fn field(field: &str, err: ValidationError) -> AppError {
        let mut f = FieldErrors::default();
        f.push(field, err);
        AppError::Validation(f)
    }

    pub fn rejected(code: &'static str) -> AppError {
        AppError::Rejected { code, params: vec![] }
    }

    /// The stable code clients and translations key on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_failed",
            AppError::Forbidden => "forbidden",
            AppError::Refused { code } => code,
            AppError::NotFound => "not_found",
            AppError::Conflict { code } => code,
            AppError::Rejected { code, .. } => code,
            AppError::Unauthenticated => "unauthenticated",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Unavailable { code } => code,
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if crate::store::is_unique_violation(&e) {
            return AppError::Conflict { code: "duplicate" };
        }
        // A reference to a record that does not exist is the caller's mistake, not ours;
        // the use-cases check their references, so this is logged to be found and fixed.
        if let sqlx::Error::Database(d) = &e
            && d.is_foreign_key_violation()
        {
            tracing::warn!(error = %d, "a write referred to a record that does not exist");
            return AppError::NotFound;
        }
        if let Some(code) = unavailable(&e) {
            tracing::warn!(error = %e, code, "database unavailable");
            return AppError::Unavailable { code };
        }
        AppError::Internal(e.to_string())
    }
}

/// Errors that say the database is out of reach or out of room rather than that the
/// request was wrong: the transaction did not commit, nothing was written.
fn unavailable(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Some("database_unavailable"),
        sqlx::Error::Database(d) => match d.code().as_deref() {
            // SQLITE_FULL (the disk, or max_page_count), PostgreSQL's disk_full.
            Some("13" | "53100") => Some("storage_full"),
            // PostgreSQL: connection exceptions (class 08), shutting down, starting up.
            Some(c) if c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03") => Some("database_unavailable"),
            _ => None,
        },
        _ => None,
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Db(e) => e.into(),
            e => AppError::Internal(e.to_string()),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            return AppError::Unavailable { code: "storage_full" };
        }
        AppError::Internal(e.to_string())
    }
}

impl From<crate::crypto::SecretError> for AppError {
    fn from(e: crate::crypto::SecretError) -> Self {
        AppError::Internal(e.to_string())
    }
}

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
//! - `Internal`: a bug or an unavailable database; the message is logged, never shown.

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
        AppError::Internal(e.to_string())
    }
}

impl From<crate::crypto::SecretError> for AppError {
    fn from(e: crate::crypto::SecretError) -> Self {
        AppError::Internal(e.to_string())
    }
}

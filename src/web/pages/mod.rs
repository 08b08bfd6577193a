//! Server-rendered pages (askama templates, checked at build time). Forms re-render with
//! field errors on 422 and keep what was typed.

mod account;
mod admin;
mod audit_words;
mod followups;
mod inbox;
mod keys;
mod org;
mod people;
mod reports;
mod requests;
mod sheets;
pub(crate) mod sign_in;

pub use sign_in::{clear_cookie, do_sign_in};

use super::AppState;
use super::extract::Ctx;
use crate::app::AppError;
use crate::i18n::{Lang, T};
use askama::Template;
use axum::Router;
use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use huiqian_domain::auth::Permission;
use std::collections::HashMap;

pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .merge(sign_in::router())
        .merge(account::router())
        .merge(org::router())
        .merge(people::router())
        .merge(sheets::router(upload_limit))
        .merge(requests::router())
        .merge(followups::router())
        .merge(keys::router())
        .merge(reports::router())
        .merge(inbox::router())
        .merge(admin::router(upload_limit))
}

/// What every page's frame needs: translator, who is signed in, navigation, CSRF token.
pub struct Chrome {
    pub t: T,
    pub user: String,
    pub csrf: String,
    pub path: String,
    pub nav_staff: bool,
    pub nav_audit: bool,
    pub nav_import: bool,
    /// The engineering dispatcher's board (R-REP-2).
    pub nav_board: bool,
    /// A technician's jobs of the day (R-REP-3).
    pub nav_day: bool,
    /// The flows' rules, price list and knowledge base.
    pub nav_request_settings: bool,
    /// Follow-up tasks (R-FU-3).
    pub nav_follow_ups: bool,
    /// The weekly statistics and staff performance (R-CMP-8, R-ROLE-3).
    pub nav_reports: bool,
    /// Registering a sheet, from every page (the desk; security and technicians for repairs).
    pub nav_new_sheet: bool,
    /// The key register (R-KEY-8).
    pub nav_keys: bool,
}

impl Chrome {
    pub fn of(c: &Ctx) -> Chrome {
        let g = &c.actor;
        Chrome {
            t: c.t,
            user: c.actor.display_name().to_string(),
            csrf: c.csrf.clone(),
            path: c.path.clone(),
            nav_staff: g.may_anywhere(Permission::ViewStaff),
            nav_audit: g.may_anywhere(Permission::ViewAudit),
            nav_import: g.may_anywhere(Permission::ImportData),
            nav_board: g.may_anywhere(Permission::DispatchRepair),
            nav_day: g.may_anywhere(Permission::DoRepair),
            nav_request_settings: g.may_anywhere(Permission::ManageRequests)
                || g.may_anywhere(Permission::DispatchRepair),
            nav_follow_ups: g.may_anywhere(Permission::FollowUp),
            nav_reports: g.may_anywhere(Permission::ViewReports),
            nav_new_sheet: g.may_anywhere(Permission::RegisterSheet) || g.may_anywhere(Permission::RegisterRepair),
            nav_keys: g.may_anywhere(Permission::ViewKeys),
        }
    }

    /// The frame of pages shown before sign-in.
    pub fn anonymous(lang: Lang, path: &str) -> Chrome {
        Chrome {
            t: T(lang),
            user: String::new(),
            csrf: String::new(),
            path: path.to_string(),
            nav_staff: false,
            nav_audit: false,
            nav_import: false,
            nav_board: false,
            nav_day: false,
            nav_request_settings: false,
            nav_follow_ups: false,
            nav_reports: false,
            nav_new_sheet: false,
            nav_keys: false,
        }
    }
}

/// Text the program wrote into the record, read in `lang` (see [`crate::i18n::stored`]),
/// with the manual's terms it may hold (a role, a follow-up's outcome and method).
pub fn stored_text(lang: crate::i18n::Lang, text: &str) -> String {
    use huiqian_domain::followup::visit::{Method, Outcome};
    static TERMS: std::sync::OnceLock<Vec<(&'static str, &'static str)>> = std::sync::OnceLock::new();
    let terms = TERMS.get_or_init(|| {
        let roles = huiqian_domain::auth::Role::ALL.iter().map(|r| (r.label_zh(), r.label_en()));
        let outcomes = Outcome::ALL.iter().map(|o| (o.label_zh(), o.label_en()));
        let methods = Method::ALL.iter().map(|m| (m.label_zh(), m.label_en()));
        roles.chain(outcomes).chain(methods).collect()
    });
    crate::i18n::stored(lang, text, terms)
}

/// The manual's terms (roles, kinds, statuses …) carry a Chinese and an English label.
pub trait Labelled: Copy {
    fn code(self) -> &'static str;
    fn zh(self) -> &'static str;
    fn en(self) -> &'static str;

    /// The label in `lang`.
    fn in_lang(self, lang: crate::i18n::Lang) -> &'static str {
        if lang == crate::i18n::Lang::En { self.en() } else { self.zh() }
    }
}

macro_rules! labelled {
    ($($t:ty),* $(,)?) => {$(
        impl Labelled for $t {
            fn code(self) -> &'static str { self.as_str() }
            fn zh(self) -> &'static str { self.label_zh() }
            fn en(self) -> &'static str { self.label_en() }
        }
    )*};
}

labelled!(
    huiqian_domain::auth::Role,
    huiqian_domain::unit::UnitStatus,
    huiqian_domain::unit::OccupantRelation,
    huiqian_domain::unit::DepartmentKind,
    huiqian_domain::person::IdKind,
    huiqian_domain::sheet::SheetKind,
    huiqian_domain::sheet::Channel,
    huiqian_domain::sheet::request::RepairClass,
    huiqian_domain::sheet::request::RepairCategory,
    huiqian_domain::sheet::request::RepairSource,
    huiqian_domain::sheet::request::AgainstKind,
    huiqian_domain::sheet::request::FlagReason,
    huiqian_domain::followup::sampling::Reason,
    huiqian_domain::followup::sampling::Cause,
    huiqian_domain::followup::visit::VisitState,
    huiqian_domain::followup::visit::Method,
    huiqian_domain::followup::visit::Outcome,
    huiqian_domain::followup::capa::CapaState,
    huiqian_domain::keys::Basis,
    huiqian_domain::keys::SpecialRoom,
    huiqian_domain::keys::ReasonKind,
    huiqian_domain::keys::TakerKind,
    huiqian_domain::keys::Authorisation,
    huiqian_domain::keys::KeyState,
    huiqian_domain::keys::cabinet::CabinetState,
    huiqian_domain::keys::count::IncidentKind,
    huiqian_domain::keys::count::IncidentState,
    huiqian_domain::keys::count::Resolution,
);

impl Chrome {
    /// An aside in brackets as the page's language writes it: "（紧急）" in Chinese,
    /// " (Emergency)" in English.
    pub fn paren(&self, aside: impl std::fmt::Display) -> String {
        if self.t.is_en() { format!(" ({aside})") } else { format!("（{aside}）") }
    }

    /// Text the program wrote into the record (报修派工, 当场答复：…) in the page's language.
    pub fn stored(&self, text: &str) -> String {
        stored_text(self.t.0, text)
    }

    /// A term's label in the page's language.
    pub fn label<L: Labelled>(&self, l: L) -> &'static str {
        l.in_lang(self.t.0)
    }

    /// The label of a stored code, or the code itself if it is not one of the terms.
    pub fn label_code<L: Labelled>(&self, parsed: Option<L>, code: &str) -> String {
        parsed.map(|l| self.label(l).to_string()).unwrap_or_else(|| code.to_string())
    }

    /// `(code, label)` pairs for a select.
    pub fn options<L: Labelled>(&self, all: &[L]) -> Vec<(String, String)> {
        all.iter().map(|l| (l.code().to_string(), self.label(*l).to_string())).collect()
    }
}

/// What a form shows: the values as typed and a message per refused field.
#[derive(Debug, Default, Clone)]
pub struct Form {
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
    /// A message about the whole form (conflict, refusal).
    pub banner: String,
}

impl Form {
    pub fn with(values: &[(&str, String)]) -> Form {
        Form { values: values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), ..Default::default() }
    }
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }
    pub fn e(&self, name: &str) -> &str {
        self.errors.get(name).map(String::as_str).unwrap_or("")
    }
    pub fn has(&self, name: &str) -> bool {
        self.errors.contains_key(name)
    }
    /// Put a use-case error on the form: field errors beside their fields, anything else
    /// in the banner. Returns the status to answer with.
    pub fn fail(&mut self, e: AppError, lang: Lang) -> Result<StatusCode, PageError> {
        match e {
            AppError::Validation(fields) => {
                for (f, v) in fields.iter() {
                    self.errors.insert(f.to_string(), super::error::field_message(v, lang));
                }
                self.banner = crate::i18n::t(lang, "error.validation_failed").to_string();
                Ok(StatusCode::UNPROCESSABLE_ENTITY)
            }
            e @ (AppError::Conflict { .. } | AppError::Rejected { .. }) => {
                let st = super::error::status_of(&e);
                self.banner = super::error::message_of(&e, lang);
                Ok(st)
            }
            other => Err(PageError(other, lang)),
        }
    }
}

/// An error page.
#[derive(Debug)]
pub struct PageError(pub AppError, pub Lang);

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    status: u16,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let AppError::Internal(m) = &self.0 {
            tracing::error!(error = %m, "internal error");
        }
        let status = super::error::status_of(&self.0);
        let page = ErrorPage {
            c: Chrome::anonymous(self.1, "/"),
            status: status.as_u16(),
            message: super::error::message_of(&self.0, self.1),
        };
        let mut r = (status, render(&page)).into_response();
        if matches!(self.0, AppError::Unavailable { code: "database_unavailable" }) {
            r.extensions_mut().insert(super::error::DatabaseUnavailable);
        }
        r
    }
}

pub type PageResult = Result<Response, PageError>;

pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template error");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    (status, render(t)).into_response()
}

pub trait OrPage<T> {
    fn page(self, lang: Lang) -> Result<T, PageError>;
}

impl<T> OrPage<T> for Result<T, AppError> {
    fn page(self, lang: Lang) -> Result<T, PageError> {
        self.map_err(|e| PageError(e, lang))
    }
}

pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Read the one file of a multipart upload, refusing it past `limit` bytes.
pub async fn read_upload(mut mp: Multipart, limit: usize) -> Result<(String, Vec<u8>), AppError> {
    use huiqian_domain::validation::ValidationError;
    while let Some(mut field) =
        mp.next_field().await.map_err(|_| AppError::field("file", ValidationError::new("upload.broken")))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("upload").to_string();
        let mut buf = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| {
            AppError::field("file", ValidationError::new("upload.too_large").with("max_mb", limit / 1024 / 1024))
        })? {
            if buf.len() + chunk.len() > limit {
                return Err(AppError::field(
                    "file",
                    ValidationError::new("upload.too_large").with("max_mb", limit / 1024 / 1024),
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        if buf.is_empty() {
            return Err(AppError::field("file", ValidationError::new("upload.empty")));
        }
        return Ok((name, buf));
    }
    Err(AppError::field("file", ValidationError::new("upload.missing")))
}

/// A community's time zone, for a page that shows its instants or counts its days.
pub(super) async fn community_zone(s: &AppState, ctx: &Ctx, community_id: i64) -> Result<chrono_tz::Tz, PageError> {
    crate::app::org::zone(&s.app, &ctx.actor, community_id).await.map_err(|e| PageError(e, ctx.lang))
}

/// Format an instant for people, in the zone of what it belongs to (its community's, or
/// the company-wide display zone).
pub fn when(ms: i64, tz: chrono_tz::Tz) -> String {
    huiqian_domain::time::format_instant(ms, tz)
}

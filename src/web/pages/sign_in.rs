//! Sign-in, second factor, sign-out, language switch, and the home page.

use super::{Chrome, Form, OrPage, PageResult, page, render, see_other};
use crate::app::auth::{self, SecondFactor, SignedIn};
use crate::app::{AppError, AppResult};
use crate::i18n::Lang;
use crate::web::extract::{Ctx, Meta};
use crate::web::{AppState, LANG_COOKIE, SESSION_COOKIE};
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/login/second-factor", get(second_factor_page).post(second_factor_submit))
        .route("/logout", post(logout))
        .route("/lang", post(switch_lang))
        .route("/companies", post(create_company))
}

fn session_cookie(s: &AppState, token: &str) -> String {
    let secure = if s.app.config.auth.secure_cookies { "; Secure" } else { "" };
    let max_age = s.app.config.auth.absolute_timeout_hours * 3600;
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

pub fn clear_cookie(s: &AppState) -> String {
    let secure = if s.app.config.auth.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// Check throttling, sign in, and end the session the browser had before (the session
/// id is always new after sign-in). Returns the result and the `Set-Cookie` value.
pub async fn do_sign_in(s: &AppState, meta: &Meta, username: &str, password: &str) -> AppResult<(SignedIn, String)> {
    if let Some(secs) = s.throttle.check(meta.ip) {
        return Err(AppError::TooManyRequests { retry_after_secs: secs as i64 });
    }
    let r = auth::sign_in(&s.app, username, password, &meta.ip.to_string(), &meta.user_agent, &meta.request_id).await;
    match &r {
        Err(AppError::Unauthenticated) => s.throttle.failed(meta.ip),
        Ok(_) => s.throttle.succeeded(meta.ip),
        _ => {}
    }
    let signed = r?;
    if let Some(old) = &meta.session {
        auth::end_replaced_session(&s.app, &old.id).await?;
    }
    let cookie = session_cookie(s, &signed.token);
    Ok((signed, cookie))
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    c: Chrome,
    f: Form,
    next: String,
    demo: bool,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    /// Why the sign-in starts again (`second_factor`: too many wrong codes).
    again: Option<String>,
}

/// Only paths of this very site are followed after sign-in (no open redirect): a path
/// that starts with one `/`, with no control characters, white space or backslashes
/// (browsers drop tabs and line breaks and read `\` as `/`, which would turn `/\t/evil`
/// into `//evil`), that still names this host once resolved. The result is ASCII
/// (percent-encoded), so it is always a valid `Location`.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    const BASE: &str = "http://huiqian.invalid/";
    let Some(n) = next else { return "/".into() };
    let plain = n.starts_with('/')
        && !n.starts_with("//")
        && n.chars().all(|c| !c.is_control() && !c.is_whitespace() && c != '\\');
    if !plain {
        return "/".into();
    }
    match url::Url::parse(BASE).and_then(|b| b.join(n)) {
        Ok(u) if u.origin() == url::Url::parse(BASE).expect("literal").origin() => {
            u[url::Position::BeforePath..].to_string()
        }
        _ => "/".into(),
    }
}

async fn login_page(State(s): State<AppState>, meta: Meta, Query(q): Query<NextQuery>) -> Response {
    if meta.session.as_ref().is_some_and(|x| x.second_factor_done) {
        return see_other(&safe_next(q.next.as_deref()));
    }
    let mut f = Form::default();
    if q.again.as_deref() == Some("second_factor") {
        f.banner = crate::i18n::t(meta.lang, "login.second_factor_ended").to_string();
    }
    render(&LoginPage {
        c: Chrome::anonymous(meta.lang, "/login"),
        f,
        next: safe_next(q.next.as_deref()),
        demo: s.app.config.demo,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login_submit(State(s): State<AppState>, meta: Meta, AxForm(f): AxForm<LoginForm>) -> Response {
    let next = safe_next(Some(&f.next));
    match do_sign_in(&s, &meta, &f.username, &f.password).await {
        Ok((signed, cookie)) => {
            let lang = Lang::parse(&signed.locale).unwrap_or_default();
            let to = match signed.second_factor {
                SecondFactor::Done if signed.must_change_password => "/account/password".to_string(),
                SecondFactor::Done => next,
                _ => "/login/second-factor".to_string(),
            };
            let lang_cookie = format!("{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code());
            let mut r = see_other(&to);
            r.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
            r.headers_mut().append(header::SET_COOKIE, lang_cookie.parse().expect("cookie is ASCII"));
            r
        }
        Err(e) => {
            let status = crate::web::error::status_of(&e);
            let mut form = Form::with(&[("username", f.username.clone())]);
            form.banner = if matches!(e, AppError::Unauthenticated) {
                crate::i18n::t(meta.lang, "login.failed").to_string()
            } else if matches!(e, AppError::Internal(_)) {
                return super::PageError(e, meta.lang).into_response();
            } else {
                crate::web::error::message_of(&e, meta.lang)
            };
            page(
                status,
                &LoginPage { c: Chrome::anonymous(meta.lang, "/login"), f: form, next, demo: s.app.config.demo },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "auth/second_factor.html")]
struct SecondFactorPage {
    c: Chrome,
    f: Form,
    enrol: bool,
    qr_svg: String,
    secret: String,
}

pub(super) fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color>().min_dimensions(180, 180).build(),
        Err(_) => String::new(),
    }
}

/// Second step: a TOTP code, or, when the roles require one and none is set up yet,
/// setting it up now.
async fn second_factor_page(State(s): State<AppState>, meta: Meta) -> PageResult {
    let Some(sess) = meta.session.clone() else {
        return Ok(see_other("/login"));
    };
    if sess.second_factor_done {
        return Ok(see_other("/"));
    }
    let c = Chrome { csrf: sess.csrf_token.clone(), ..Chrome::anonymous(meta.lang, "/login/second-factor") };
    if sess.user.totp_enabled == 1 {
        return Ok(render(&SecondFactorPage {
            c,
            f: Form::default(),
            enrol: false,
            qr_svg: String::new(),
            secret: String::new(),
        }));
    }
    let (url, secret) = auth::totp_begin(&s.app, sess.user.id, &sess.user.username).await.page(meta.lang)?;
    Ok(render(&SecondFactorPage { c, f: Form::default(), enrol: true, qr_svg: qr_svg(&url), secret }))
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    secret: String,
}

async fn second_factor_submit(State(s): State<AppState>, meta: Meta, AxForm(f): AxForm<CodeForm>) -> PageResult {
    let Some(sess) = meta.session.clone() else {
        return Ok(see_other("/login"));
    };
    let enrol = sess.user.totp_enabled == 0;
    let r = if enrol {
        auth::totp_confirm(&s.app, &sess.id, &sess.user, &f.code, &meta.request_id).await
    } else {
        auth::totp_verify(&s.app, &sess.id, &sess.user, &f.code, &meta.request_id).await
    };
    match r {
        Ok(()) if sess.user.must_change_password == 1 => Ok(see_other("/account/password")),
        Ok(()) => Ok(see_other("/")),
        // Too many wrong codes (or the account locked meanwhile): the pending sign-in has
        // ended; start again from the password.
        Err(AppError::Unauthenticated) => Ok(see_other("/login?again=second_factor")),
        Err(e) => {
            let mut form = Form::default();
            let status = form.fail(e, meta.lang)?;
            let c = Chrome { csrf: sess.csrf_token.clone(), ..Chrome::anonymous(meta.lang, "/login/second-factor") };
            let (qr, secret) = if enrol {
                let url = totp_rs::TOTP::new(
                    totp_rs::Algorithm::SHA1,
                    6,
                    1,
                    30,
                    totp_rs::Secret::Encoded(f.secret.clone()).to_bytes().unwrap_or_default(),
                    Some("huiqian".into()),
                    sess.user.username.clone(),
                )
                .map(|t| t.get_url())
                .unwrap_or_default();
                (qr_svg(&url), f.secret)
            } else {
                (String::new(), String::new())
            };
            Ok(page(status, &SecondFactorPage { c, f: form, enrol, qr_svg: qr, secret }))
        }
    }
}

async fn logout(State(s): State<AppState>, meta: Meta) -> Response {
    if let Some(sess) = &meta.session
        && let Err(e) = auth::sign_out(&s.app, &sess.id, &sess.user, &meta.request_id).await
    {
        return super::PageError(e, meta.lang).into_response();
    }
    let mut r = see_other("/login");
    r.headers_mut().insert(header::SET_COOKIE, clear_cookie(&s).parse().expect("cookie is ASCII"));
    r
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    #[serde(default)]
    next: String,
}

/// Switch the interface language: kept per user when signed in, in a cookie otherwise.
async fn switch_lang(State(s): State<AppState>, meta: Meta, AxForm(f): AxForm<LangForm>) -> Response {
    let lang = Lang::parse(&f.lang).unwrap_or_default();
    if let Some(sess) = meta.session.as_ref().filter(|x| x.second_factor_done) {
        let actor = auth::session_actor(sess, &meta.request_id);
        if let Err(e) = auth::set_locale(&s.app, &actor, lang.code()).await {
            return super::PageError(e, meta.lang).into_response();
        }
    }
    let mut r = see_other(&safe_next(Some(&f.next)));
    let c = format!("{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code());
    r.headers_mut().insert(header::SET_COOKIE, c.parse().expect("cookie is ASCII"));
    r
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
    communities: Vec<crate::store::org::Community>,
    roles: Vec<(String, String)>,
    /// For managers: per community, open and overdue sheets and this month's recovery
    /// rate per receptionist (R-SHEET-9).
    dashboards: Vec<Dashboard>,
    /// Companies, for company-wide administrators (who create companies and communities).
    companies: Option<Vec<crate::store::org::Company>>,
    f: Form,
}

/// Home: the communities one works in and one's roles there.
#[derive(Deserialize, Default)]
struct PeriodQuery {
    /// First day of the recovery-rate period (default: the first of this month).
    from: Option<String>,
    /// Last day of the period (default: today).
    to: Option<String>,
}

async fn home(State(s): State<AppState>, ctx: Ctx, Query(q): Query<PeriodQuery>) -> PageResult {
    let f = Form::with(&[("from", q.from.unwrap_or_default()), ("to", q.to.unwrap_or_default())]);
    home_page(&s, &ctx, f).await
}

async fn home_page(s: &AppState, ctx: &Ctx, f: Form) -> PageResult {
    let communities = crate::app::org::my_communities(&s.app, &ctx.actor).await.page(ctx.lang)?;
    let roles = ctx
        .actor
        .grants()
        .map(|g| {
            let place = match g.community {
                None => crate::i18n::t(ctx.lang, "role.company_wide").to_string(),
                Some(id) => {
                    communities.iter().find(|c| c.id == id).map(|c| c.name.clone()).unwrap_or_else(|| id.to_string())
                }
            };
            let label = if ctx.t.is_en() { g.role.label_en() } else { g.role.label_zh() };
            (place, label.to_string())
        })
        .collect();
    let companies = if ctx.actor.authorize_company(huiqian_domain::auth::Permission::ManageCommunity).is_ok() {
        Some(crate::app::org::companies(&s.app, &ctx.actor).await.page(ctx.lang)?)
    } else {
        None
    };
    let status =
        if f.banner.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    let dashboards = dashboards(s, ctx, &communities, &f).await?;
    Ok(page(status, &HomePage { c: Chrome::of(ctx), communities, roles, dashboards, companies, f }))
}

/// A number a role acts on, linking to the list behind it.
pub struct Tile {
    pub id: String,
    pub label: String,
    pub value: i64,
    pub href: String,
    /// Something is late: shown in red.
    pub alert: bool,
}

/// The few numbers each of the person's roles acts on, per community: the desk's own
/// sheets and follow-ups, the manager's reviews and corrective actions and the
/// receptionists' recovery rates, the dispatcher's board, the technician's jobs, the
/// director's week.
pub struct Dashboard {
    pub community: String,
    pub community_id: i64,
    pub tiles: Vec<Tile>,
    /// (receptionist, registered, recovered, rate %); managers only.
    pub recovery: Option<Vec<(String, i64, i64, i64)>>,
    /// The community's quick registrations (id, button), for whoever registers there.
    pub presets: Vec<(i64, String)>,
}

async fn dashboards(
    s: &AppState,
    ctx: &Ctx,
    communities: &[crate::store::org::Community],
    f: &Form,
) -> Result<Vec<Dashboard>, super::PageError> {
    let t = |k: &str| crate::i18n::t(ctx.lang, k).to_string();
    let homes =
        crate::app::report::home(&s.app, &ctx.actor, communities, f.v("from"), f.v("to")).await.page(ctx.lang)?;
    let mut out = vec![];
    for d in homes {
        let (c, n, wants) = (d.community_id, &d.counts, d.wants);
        let mut tiles = vec![];
        let mut tile = |id: &str, key: &str, value: i64, href: String, alert: bool| {
            tiles.push(Tile { id: format!("{id}-{c}"), label: t(key), value, href, alert });
        };
        if let Some((open, overdue)) = d.open {
            tile("open", "home.open", open, format!("/queues?community_id={c}&q=chase"), false);
            tile("overdue", "queue.overdue", overdue, format!("/queues?community_id={c}&q=overdue"), overdue > 0);
        }
        if wants.desk {
            tile("my-open", "home.my_open", n.my_open, format!("/queues?community_id={c}&q=mine"), false);
            tile(
                "my-overdue",
                "home.my_overdue",
                n.my_overdue,
                format!("/queues?community_id={c}&q=overdue"),
                n.my_overdue > 0,
            );
            tile(
                "my-collect",
                "home.my_to_collect",
                n.my_to_collect,
                format!("/queues?community_id={c}&q=mine"),
                false,
            );
        }
        if wants.follow_up {
            tile(
                "my-follow-ups",
                "home.my_follow_ups",
                n.my_follow_ups,
                format!("/follow-ups?community_id={c}"),
                false,
            );
            let late = n.my_follow_ups_overdue;
            tile(
                "my-follow-ups-late",
                "home.my_follow_ups_overdue",
                late,
                format!("/follow-ups?community_id={c}"),
                late > 0,
            );
        }
        if wants.review {
            tile(
                "to-review",
                "home.to_review",
                n.to_review,
                format!("/follow-ups?community_id={c}&list=review"),
                false,
            );
            tile("capas", "home.capas_open", n.capas_open, format!("/capas?community_id={c}"), n.capas_open > 0);
        }
        if wants.dispatch {
            tile("unassigned", "home.unassigned", n.unassigned, format!("/repairs/board?community_id={c}"), false);
            let late = n.late_arrivals;
            tile("late-arrivals", "home.late_arrivals", late, format!("/repairs/board?community_id={c}"), late > 0);
        }
        if wants.technician {
            tile("my-jobs", "home.my_jobs", n.my_jobs, format!("/repairs/day?community_id={c}"), false);
            tile(
                "my-jobs-late",
                "home.my_jobs_late",
                n.my_jobs_late,
                format!("/repairs/day?community_id={c}"),
                n.my_jobs_late > 0,
            );
        }
        if wants.reports {
            let week = n.complaints_this_week;
            tile(
                "complaints-week",
                "home.complaints_this_week",
                week,
                format!("/reports/weekly?community_id={c}"),
                false,
            );
        }
        let recovery = d.recovery.map(|rows| {
            rows.into_iter()
                .map(|r| {
                    let rate = if r.registered > 0 { r.recovered * 100 / r.registered } else { 100 };
                    (r.name, r.registered, r.recovered, rate)
                })
                .collect()
        });
        // The desk starts its common requests from here: one tap to a filled form.
        let presets = if wants.desk && ctx.actor.authorize(huiqian_domain::auth::Permission::RegisterSheet, c).is_ok() {
            crate::app::request::presets(&s.app, &ctx.actor, c, true)
                .await
                .page(ctx.lang)?
                .into_iter()
                .map(|p| (p.id, p.title))
                .collect()
        } else {
            vec![]
        };
        out.push(Dashboard { community: d.community, community_id: c, tiles, recovery, presets });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct CompanyForm {
    #[serde(default)]
    name: String,
}

/// Create a company (company-wide administrators).
async fn create_company(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<CompanyForm>) -> PageResult {
    match crate::app::org::create_company(&s.app, &ctx.actor, &f.name).await {
        Ok(_) => Ok(see_other("/")),
        Err(e) => {
            let mut form = Form::with(&[("name", f.name)]);
            form.fail(e, ctx.lang)?;
            home_page(&s, &ctx, form).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    /// Point 4 of the security review: only same-site paths are followed after sign-in.
    #[test]
    fn next_is_only_ever_a_path_of_this_site() {
        for evil in [
            "//evil.example/",
            "/\t/evil.example/",
            "/\\evil.example/",
            "/\\/evil.example/",
            "/%09/evil.example/x\r\nSet-Cookie: a=b",
            "/a\r\nLocation: http://evil.example/",
            "https://evil.example/",
            "javascript:alert(1)",
            " /x",
            "",
        ] {
            let got = safe_next(Some(evil));
            assert!(got.starts_with('/') && !got.starts_with("//") && !got.contains("evil"), "{evil:?} → {got:?}");
        }
        assert_eq!(safe_next(Some("/sheets/12?tab=timeline")), "/sheets/12?tab=timeline");
        assert_eq!(safe_next(Some("/sheets?q=张三")), "/sheets?q=%E5%BC%A0%E4%B8%89");
        assert_eq!(safe_next(Some("/%09/x")), "/%09/x");
        assert_eq!(safe_next(None), "/");
    }
}

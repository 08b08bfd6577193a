//! One's own account: password, language, sessions, API tokens, second factor.

use super::{Chrome, Form, OrPage, PageResult, page, render, see_other, when};
use crate::app::auth;
use crate::web::AppState;
use crate::web::extract::Ctx;
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Path, State};
use axum::routing::{get, post};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/account/password", get(password_page).post(password_submit))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
        .route("/account/totp", get(totp_page).post(totp_submit))
}

pub struct SessionRow {
    pub id: String,
    pub short: String,
    pub current: bool,
    pub created: String,
    pub last_seen: String,
    pub ip: String,
    pub agent: String,
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "account/account.html")]
struct AccountPage {
    c: Chrome,
    username: String,
    display_name: String,
    totp_enabled: bool,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    new_secret: String,
    f: Form,
}

async fn account_page(s: &AppState, ctx: &Ctx, new_secret: String, f: Form) -> PageResult {
    // Sessions and tokens belong to the person, not to a community.
    let tz = s.app.display_zone();
    let sessions = auth::my_sessions(&s.app, ctx.actor.user_id()).await.page(ctx.lang)?;
    let sessions = sessions
        .into_iter()
        .map(|x| SessionRow {
            current: x.id == ctx.session.id,
            short: x.id[..8].to_string(),
            created: when(x.created_at, tz),
            last_seen: when(x.last_seen_at, tz),
            ip: x.ip,
            agent: x.user_agent.chars().take(60).collect(),
            id: x.id,
        })
        .collect();
    let tokens = crate::app::auth::my_tokens(&s.app, &ctx.actor).await.page(ctx.lang)?;
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            scopes: t.scopes,
            created: when(t.created_at, tz),
            last_used: t.last_used_at.map(|v| when(v, tz)).unwrap_or_default(),
            expires: t.expires_at.map(|v| when(v, tz)).unwrap_or_default(),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    let status =
        if f.errors.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    Ok(page(
        status,
        &AccountPage {
            c: Chrome::of(ctx),
            username: ctx.session.user.username.clone(),
            display_name: ctx.session.user.display_name.clone(),
            totp_enabled: ctx.session.user.totp_enabled == 1,
            sessions,
            tokens,
            new_secret,
            f,
        },
    ))
}

async fn account(State(s): State<AppState>, ctx: Ctx) -> PageResult {
    account_page(&s, &ctx, String::new(), Form::default()).await
}

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    c: Chrome,
    f: Form,
    forced: bool,
}

async fn password_page(ctx: Ctx) -> PageResult {
    let forced = ctx.session.user.must_change_password == 1;
    Ok(render(&PasswordPage { c: Chrome::of(&ctx), f: Form::default(), forced }))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
    #[serde(default)]
    keep_tokens: Option<String>,
}

async fn password_submit(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<PasswordForm>) -> PageResult {
    let forced = ctx.session.user.must_change_password == 1;
    let mut form = Form::default();
    if f.new_password != f.confirm_password {
        form.errors.insert("confirm_password".into(), crate::i18n::t(ctx.lang, "password.mismatch").into());
        form.banner = crate::i18n::t(ctx.lang, "error.validation_failed").into();
        return Ok(page(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage { c: Chrome::of(&ctx), f: form, forced },
        ));
    }
    let keep_tokens = f.keep_tokens.is_some();
    match auth::change_password(
        &s.app,
        &ctx.actor,
        Some(&ctx.session.id),
        &f.current_password,
        &f.new_password,
        keep_tokens,
    )
    .await
    {
        Ok(()) => Ok(see_other("/account?saved=1")),
        Err(e) => {
            let status = form.fail(e, ctx.lang)?;
            Ok(page(status, &PasswordPage { c: Chrome::of(&ctx), f: form, forced }))
        }
    }
}

async fn end_session(State(s): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> PageResult {
    auth::end_my_session(&s.app, &ctx.actor, &id).await.page(ctx.lang)?;
    Ok(see_other("/account"))
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    write: Option<String>,
    #[serde(default)]
    days: String,
}

async fn create_token(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<TokenForm>) -> PageResult {
    let days = f.days.trim().parse::<i64>().ok();
    match auth::create_token(&s.app, &ctx.actor, &f.name, f.write.is_some(), days).await {
        Ok((_, secret)) => account_page(&s, &ctx, secret, Form::default()).await,
        Err(e) => {
            let mut form = Form::with(&[("name", f.name.clone())]);
            form.fail(e, ctx.lang)?;
            account_page(&s, &ctx, String::new(), form).await
        }
    }
}

async fn revoke_token(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    auth::revoke_token(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    Ok(see_other("/account"))
}

#[derive(Template)]
#[template(path = "account/totp.html")]
struct TotpPage {
    c: Chrome,
    f: Form,
    qr_svg: String,
    secret: String,
}

/// Set up (or replace) one's own second factor.
async fn totp_page(State(s): State<AppState>, ctx: Ctx) -> PageResult {
    let (url, secret) = auth::totp_begin(&s.app, ctx.actor.user_id(), ctx.actor.username()).await.page(ctx.lang)?;
    Ok(render(&TotpPage { c: Chrome::of(&ctx), f: Form::default(), qr_svg: super::sign_in::qr_svg(&url), secret }))
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn totp_submit(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<CodeForm>) -> PageResult {
    match auth::totp_confirm(&s.app, &ctx.session.id, &ctx.session.user, &f.code, ctx.actor.request_id()).await {
        Ok(()) => Ok(see_other("/account")),
        Err(e) => {
            let mut form = Form::default();
            let status = form.fail(e, ctx.lang)?;
            let (url, secret) =
                auth::totp_begin(&s.app, ctx.actor.user_id(), ctx.actor.username()).await.page(ctx.lang)?;
            Ok(page(status, &TotpPage { c: Chrome::of(&ctx), f: form, qr_svg: super::sign_in::qr_svg(&url), secret }))
        }
    }
}

//! Sign-in, sessions, second factor, API tokens and staff accounts.

use super::{Actor, App, AppError, AppResult, Authority, Via, audit};
use crate::crypto::{random_token, sha256_hex};
use crate::store::{self, auth as st};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use huiqian_domain::auth::{Grants, Permission, Role};
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde_json::json;

/// Password hashing is deliberately expensive (19 MiB, 2 passes): run at most one per
/// core at a time, so that a burst of sign-ins queues instead of holding memory for
/// every waiting request and thrashing the caches.
async fn hashing<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let sem = PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
    });
    let _permit = sem.acquire().await.map_err(|e| AppError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(f).await.map_err(|e| AppError::Internal(e.to_string()))
}

/// Hash a password with argon2id (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 hashing").to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so that timing does not tell
/// which usernames exist.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not a real password"))
}

/// Password rules: long enough, not the username.
pub fn check_password(username: &str, password: &str) -> Result<(), ValidationError> {
    if password.chars().count() < 8 {
        return Err(ValidationError::new("password.too_short").with("min", "8"));
    }
    if password.chars().count() > 128 {
        return Err(ValidationError::new("password.too_long").with("max", "128"));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(ValidationError::new("password.same_as_username"));
    }
    Ok(())
}

/// Usernames: 3–32 of a–z, 0–9, `.`, `_`, `-`, starting with a letter.
pub fn check_username(username: &str) -> Result<(), ValidationError> {
    let ok_len = (3..=32).contains(&username.len());
    let ok_chars = username.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    let ok_start = username.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !(ok_len && ok_chars && ok_start) {
        return Err(ValidationError::new("username.format"));
    }
    Ok(())
}

/// What a successful password check produced.
#[derive(Debug)]
pub struct SignedIn {
    /// The cookie value; only its hash is stored.
    pub token: String,
    pub user_id: i64,
    pub locale: String,
    pub second_factor: SecondFactor,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// Not required, or already satisfied.
    Done,
    /// A TOTP code must be entered.
    Required,
    /// The user's roles require TOTP but none is set up yet: enrol first.
    MustEnrol,
}

/// Does this user need a second factor at sign-in?
fn needs_totp(app: &App, user: &st::User, grants: &[huiqian_domain::auth::RoleGrant]) -> bool {
    if user.totp_enabled == 1 {
        return true;
    }
    if user.totp_exempt == 1 {
        return false;
    }
    grants.iter().any(|g| app.config.auth.require_totp_roles.iter().any(|r| r == g.role.as_str()))
}

/// Check a password and open a new session (always a new id: the session id is rotated
/// at every sign-in). Failures are counted; too many lock the account for a while.
/// The log names the account by id only: a name typed wrong may be anything.
#[tracing::instrument(name = "sign_in", skip_all)]
pub async fn sign_in(
    app: &App,
    username: &str,
    password: &str,
    ip: &str,
    user_agent: &str,
    request_id: &str,
) -> AppResult<SignedIn> {
    let username = username.trim().to_lowercase();
    let mut conn = app.store.read().acquire().await?;
    let user = st::user_by_name(&mut conn, &username).await?;
    let now = app.clock.now();
    let Some(user) = user.filter(|u| u.active == 1) else {
        // Nobody (active) has this name: answer exactly as for a person, lockout included,
        // so that neither the answer nor its timing tells which names exist.
        let name_hash = app.secrets.lookup_hash("sign_in", &username);
        if let Some(until) = st::unknown_name_locked_until(&mut conn, &name_hash).await?.filter(|t| *t > now) {
            return Err(locked(until, now));
        }
        drop(conn);
        let pw = password.to_string();
        let _ = hashing(move || verify_password(&pw, dummy_hash())).await;
        let mut tx = app.store.begin().await?;
        let lock_until = now + app.config.auth.lockout_minutes * 60_000;
        st::record_unknown_name_failure(&mut tx, &name_hash, app.config.auth.max_failed_logins, lock_until, now)
            .await?;
        tx.commit().await?;
        tracing::info!("sign-in refused: no such account");
        return Err(AppError::Unauthenticated);
    };
    if let Some(until) = user.locked_until.filter(|t| *t > now) {
        tracing::info!(user = user.id, "sign-in refused: account locked");
        return Err(locked(until, now));
    }
    let hash = st::password_hash(&mut conn, user.id).await?;
    let grants = st::grants(&mut conn, user.id).await?;
    drop(conn);
    let pw = password.to_string();
    let ok = hashing(move || verify_password(&pw, &hash)).await?;
    let mut tx = app.store.begin().await?;
    if !ok {
        let lock_until = now + app.config.auth.lockout_minutes * 60_000;
        let n = st::record_failed_login(&mut tx, user.id, app.config.auth.max_failed_logins, lock_until).await?;
        audit::record_self(
            app,
            &mut tx,
            Some(user.id),
            &user.username,
            request_id,
            "auth.sign_in_failed",
            json!({"ip": ip, "failures": n}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user = user.id, failures = n, "sign-in refused: wrong password");
        return Err(AppError::Unauthenticated);
    }
    st::clear_failed_logins(&mut tx, user.id).await?;
    let second_factor = if !needs_totp(app, &user, &grants) {
        SecondFactor::Done
    } else if user.totp_enabled == 1 {
        SecondFactor::Required
    } else {
        SecondFactor::MustEnrol
    };
    let token = random_token();
    let csrf = random_token();
    let expires = now + app.config.auth.absolute_timeout_hours * 3_600_000;
    let ua: String = user_agent.chars().take(200).collect();
    st::insert_session(
        &mut tx,
        &sha256_hex(token.as_bytes()),
        user.id,
        &csrf,
        second_factor == SecondFactor::Done,
        expires,
        ip,
        &ua,
        now,
    )
    .await?;
    audit::record_self(
        app,
        &mut tx,
        Some(user.id),
        &user.username,
        request_id,
        "auth.sign_in",
        json!({"ip": ip, "second_factor": format!("{second_factor:?}")}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = user.id, second_factor = ?second_factor, "signed in");
    Ok(SignedIn {
        token,
        user_id: user.id,
        locale: user.locale,
        second_factor,
        must_change_password: user.must_change_password == 1,
    })
}

fn locked(until: i64, now: i64) -> AppError {
    let minutes = ((until - now) / 60_000 + 1).to_string();
    AppError::Rejected { code: "account_locked", params: vec![("minutes", minutes)] }
}

/// A session found from its cookie, still valid.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id: String,
    pub csrf_token: String,
    pub second_factor_done: bool,
    pub user: st::User,
    pub grants: Grants,
}

/// Find the session behind a cookie value and check its idle and absolute timeouts.
/// Activity is recorded at most once a minute, to keep reads cheap.
pub async fn session_from_cookie(app: &App, token: &str) -> AppResult<Option<LiveSession>> {
    let id = sha256_hex(token.as_bytes());
    let Some((s, user, grants)) = st::session_principal(app.store.read(), &id).await? else {
        return Ok(None);
    };
    let now = app.clock.now();
    let idle_ms = app.config.auth.idle_timeout_minutes * 60_000;
    if s.ended_at.is_some() {
        return Ok(None);
    }
    if s.expires_at <= now || s.last_seen_at + idle_ms <= now {
        let mut tx = app.store.begin().await?;
        let reason = if s.expires_at <= now { "absolute_timeout" } else { "idle_timeout" };
        st::end_session(&mut tx, &id, reason, now).await?;
        tx.commit().await?;
        return Ok(None);
    }
    if user.active != 1 {
        return Ok(None);
    }
    if now - s.last_seen_at > 60_000 {
        let mut tx = app.store.begin().await?;
        st::touch_session(&mut tx, &id, now).await?;
        tx.commit().await?;
    }
    Ok(Some(LiveSession {
        id,
        csrf_token: s.csrf_token,
        second_factor_done: s.second_factor_done == 1,
        user,
        grants: Grants::new(grants),
    }))
}

pub async fn sign_out(app: &App, session_id: &str, user: &st::User, request_id: &str) -> AppResult<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if st::end_session(&mut tx, session_id, "signed_out", now).await? {
        audit::record_self(app, &mut tx, Some(user.id), &user.username, request_id, "auth.sign_out", json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One's own open sessions.
pub async fn my_sessions(app: &App, user_id: i64) -> AppResult<Vec<st::Session>> {
    Ok(st::open_sessions(app.store.read(), user_id, app.clock.now()).await?)
}

/// End one of one's own sessions (e.g. a PC left signed in at the desk).
pub async fn end_my_session(app: &App, actor: &Actor, session_id: &str) -> AppResult<()> {
    let now = app.clock.now();
    actor.own_account()?;
    let s = st::session(app.store.read(), session_id).await?;
    let Some(s) = s.filter(|s| s.user_id == actor.user_id()) else {
        return Err(AppError::NotFound);
    };
    let mut tx = app.store.begin().await?;
    if st::end_session(&mut tx, &s.id, "ended_by_user", now).await? {
        audit::record_own(app, &mut tx, actor, "auth.session_ended", json!({"session": &s.id[..12]})).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Change one's own password. Every other session ends, and every API token stops
/// working unless `keep_tokens` says, explicitly, that they are still in safe hands.
pub async fn change_password(
    app: &App,
    actor: &Actor,
    session_id: Option<&str>,
    current: &str,
    new: &str,
    keep_tokens: bool,
) -> AppResult<()> {
    let now = app.clock.now();
    actor.own_account()?;
    let mut errors = FieldErrors::default();
    if let Err(e) = check_password(actor.username(), new) {
        errors.push("new_password", e);
    }
    let mut conn = app.store.read().acquire().await?;
    let hash = st::password_hash(&mut conn, actor.user_id()).await?;
    drop(conn);
    let cur = current.to_string();
    let ok = hashing(move || verify_password(&cur, &hash)).await?;
    if !ok {
        errors.push("current_password", ValidationError::new("password.wrong"));
    }
    if new == current && ok {
        errors.push("new_password", ValidationError::new("password.unchanged"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let new = new.to_string();
    let hash = hashing(move || hash_password(&new)).await?;
    let mut tx = app.store.begin().await?;
    st::set_password(&mut tx, actor.user_id(), &hash, false, now).await?;
    st::end_user_sessions(&mut tx, actor.user_id(), session_id, "password_changed", now).await?;
    let tokens_revoked = if keep_tokens { 0 } else { st::revoke_user_tokens(&mut tx, actor.user_id(), now).await? };
    audit::record_own(
        app,
        &mut tx,
        actor,
        "auth.password_changed",
        json!({"tokens_revoked": tokens_revoked, "tokens_kept": keep_tokens}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_locale(app: &App, actor: &Actor, locale: &str) -> AppResult<()> {
    let now = app.clock.now();
    actor.own_account()?;
    if !matches!(locale, "zh-CN" | "en") {
        return Err(AppError::field("locale", ValidationError::new("locale.unknown")));
    }
    let mut tx = app.store.begin().await?;
    st::set_locale(&mut tx, actor.user_id(), locale, now).await?;
    audit::record_own(app, &mut tx, actor, "user.locale_changed", json!({"locale": locale})).await?;
    tx.commit().await?;
    Ok(())
}

// ---- TOTP ----

const TOTP_STEP: u64 = 30;

fn totp_for(secret: Vec<u8>, account: &str) -> AppResult<totp_rs::TOTP> {
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, TOTP_STEP, secret, Some("huiqian".into()), account.to_string())
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Start enrolment: a new secret, stored encrypted and not yet enabled. Returns the
/// `otpauth://` URL (for the QR code) and the base32 secret (to type in by hand).
pub async fn totp_begin(app: &App, user_id: i64, username: &str) -> AppResult<(String, String)> {
    let now = app.clock.now();
    let mut secret = vec![0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut secret);
    let totp = totp_for(secret.clone(), username)?;
    let b32 = totp.get_secret_base32();
    let mut tx = app.store.begin().await?;
    st::set_totp(&mut tx, user_id, Some(&app.secrets.encrypt(&b32)), false, now).await?;
    tx.commit().await?;
    Ok((totp.get_url(), b32))
}

/// Check a TOTP code against the user's secret; each time step is accepted once.
async fn check_totp(app: &App, tx: &mut store::Tx, user_id: i64, username: &str, code: &str) -> AppResult<bool> {
    let (enc, _) = st::totp_secret(tx, user_id).await?;
    let Some(enc) = enc else { return Ok(false) };
    let b32 = app.secrets.decrypt(&enc)?;
    let secret = totp_rs::Secret::Encoded(b32).to_bytes().map_err(|e| AppError::Internal(e.to_string()))?;
    let totp = totp_for(secret, username)?;
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    let now = (app.clock.now() / 1000) as u64;
    for t in [now.saturating_sub(TOTP_STEP), now, now + TOTP_STEP] {
        if crate::crypto::constant_time_eq(totp.generate(t).as_bytes(), code.as_bytes()) {
            let step = (t / TOTP_STEP) as i64;
            return Ok(st::use_totp_step(tx, user_id, step).await?);
        }
    }
    Ok(false)
}

/// Finish enrolment with a first code; the session's second factor is then satisfied.
pub async fn totp_confirm(app: &App, session_id: &str, user: &st::User, code: &str, request_id: &str) -> AppResult<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !check_totp(app, &mut tx, user.id, &user.username, code).await? {
        return Err(AppError::field("code", ValidationError::new("totp.wrong_code")));
    }
    st::enable_totp(&mut tx, user.id, now).await?;
    st::complete_second_factor(&mut tx, session_id, now).await?;
    audit::record_self(app, &mut tx, Some(user.id), &user.username, request_id, "auth.totp_enabled", json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Wrong second-factor codes one pending sign-in may try before it ends (and the
/// password must be given again). Each also counts toward the account's lockout.
pub const SECOND_FACTOR_TRIES: i64 = 5;

/// The second step of sign-in. A wrong code counts against this pending sign-in and
/// against the account's lockout; the last allowed failure, or the lockout, ends the
/// pending sign-in.
pub async fn totp_verify(app: &App, session_id: &str, user: &st::User, code: &str, request_id: &str) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    let now = app.clock.now();
    if st::user(&mut *tx, user.id).await?.and_then(|u| u.locked_until).is_some_and(|t| t > now) {
        st::end_session(&mut tx, session_id, "locked", now).await?;
        tx.commit().await?;
        return Err(AppError::Unauthenticated);
    }
    if !check_totp(app, &mut tx, user.id, &user.username, code).await? {
        let lock_until = now + app.config.auth.lockout_minutes * 60_000;
        st::record_failed_login(&mut tx, user.id, app.config.auth.max_failed_logins, lock_until).await?;
        let tries = st::count_second_factor_failure(&mut tx, session_id).await?;
        let locked = st::user(&mut *tx, user.id).await?.and_then(|u| u.locked_until).is_some_and(|t| t > now);
        let ended = tries >= SECOND_FACTOR_TRIES || locked;
        if ended {
            st::end_session(&mut tx, session_id, "second_factor_failures", now).await?;
        }
        audit::record_self(
            app,
            &mut tx,
            Some(user.id),
            &user.username,
            request_id,
            "auth.totp_failed",
            json!({"tries": tries, "sign_in_ended": ended}),
        )
        .await?;
        tx.commit().await?;
        return Err(if ended {
            AppError::Unauthenticated
        } else {
            AppError::field(
                "code",
                ValidationError::new("totp.wrong_code_tries").with("left", SECOND_FACTOR_TRIES - tries),
            )
        });
    }
    st::complete_second_factor(&mut tx, session_id, now).await?;
    audit::record_self(app, &mut tx, Some(user.id), &user.username, request_id, "auth.totp_passed", json!({})).await?;
    tx.commit().await?;
    Ok(())
}

// ---- API tokens ----

pub const TOKEN_PREFIX: &str = "hq_";

/// The longest a token may be made to last: ten years (or no expiry at all).
pub const MAX_TOKEN_DAYS: i64 = 3650;

/// Create an API token for oneself. The token is shown once; only its hash is kept.
pub async fn create_token(
    app: &App,
    actor: &Actor,
    name: &str,
    write: bool,
    days: Option<i64>,
) -> AppResult<(st::ApiToken, String)> {
    let now = app.clock.now();
    if *actor.via() != Via::Session {
        return Err(AppError::Forbidden);
    }
    let name = name.trim();
    let mut errors = FieldErrors::default();
    if name.is_empty() {
        errors.push("name", ValidationError::new("required"));
    } else if name.chars().count() > 60 {
        errors.push("name", ValidationError::new("text.too_long").with("max", 60));
    }
    if let Some(d) = days.filter(|d| !(1..=MAX_TOKEN_DAYS).contains(d)) {
        errors.push(
            "expires_in_days",
            ValidationError::new("number.range").with("min", 1).with("max", MAX_TOKEN_DAYS).with("value", d),
        );
    }
    errors.into_result().map_err(AppError::Validation)?;
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let scopes = if write { "read,write" } else { "read" };
    let expires = days.map(|d| app.clock.now() + d * 86_400_000);
    let mut tx = app.store.begin().await?;
    let id = st::insert_token(
        &mut tx,
        actor.user_id(),
        name,
        &token[..10],
        &sha256_hex(token.as_bytes()),
        scopes,
        expires,
        now,
    )
    .await?;
    audit::record_own(
        app,
        &mut tx,
        actor,
        "auth.token_created",
        json!({"token_id": id, "name": name, "scopes": scopes}),
    )
    .await?;
    tx.commit().await?;
    let t = st::tokens_of(app.store.read(), actor.user_id())
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(AppError::NotFound)?;
    Ok((t, token))
}

pub async fn revoke_token(app: &App, actor: &Actor, id: i64) -> AppResult<()> {
    let now = app.clock.now();
    actor.own_account()?;
    let mut tx = app.store.begin().await?;
    if !st::revoke_token(&mut tx, id, actor.user_id(), now).await? {
        return Err(AppError::NotFound);
    }
    audit::record_own(app, &mut tx, actor, "auth.token_revoked", json!({"token_id": id})).await?;
    tx.commit().await?;
    Ok(())
}

/// The actor behind a bearer token, if it is valid.
pub async fn actor_from_token(app: &App, token: &str, request_id: &str) -> AppResult<Option<(Actor, String)>> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some((t, user, grants)) = st::token_principal(app.store.read(), &sha256_hex(token.as_bytes())).await? else {
        return Ok(None);
    };
    let now = app.clock.now();
    if t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= now) || user.active != 1 {
        return Ok(None);
    }
    if user.must_change_password == 1 {
        return Err(AppError::Refused { code: "password_change_required" });
    }
    if t.last_used_at.is_none_or(|l| now - l > 60_000) {
        let mut tx = app.store.begin().await?;
        st::touch_token(&mut tx, t.id, now).await?;
        tx.commit().await?;
    }
    let actor = Actor::new(
        user.id,
        user.username.clone(),
        user.display_name.clone(),
        Grants::new(grants),
        request_id.to_string(),
        Via::ApiToken { token_id: t.id, write: t.scopes.split(',').any(|s| s == "write") },
    );
    Ok(Some((actor, user.locale)))
}

/// The command line acting as a named member of staff, with that person's own roles (the
/// demo and benchmark generators write "as" the people they create).
pub async fn cli_actor_for(app: &App, user_id: i64) -> AppResult<Actor> {
    let user = st::user(app.store.read(), user_id).await?.ok_or(AppError::NotFound)?;
    let mut conn = app.store.read().acquire().await?;
    let grants = st::grants(&mut conn, user_id).await?;
    Ok(Actor::new(
        user.id,
        user.username,
        user.display_name,
        Grants::new(grants),
        uuid::Uuid::now_v7().to_string(),
        Via::Cli,
    ))
}

/// The actor behind a live session.
pub fn session_actor(s: &LiveSession, request_id: &str) -> Actor {
    Actor::new(
        s.user.id,
        s.user.username.clone(),
        s.user.display_name.clone(),
        s.grants.clone(),
        request_id.to_string(),
        Via::Session,
    )
}

// ---- staff administration ----

/// A new staff account.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    pub password: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default = "default_locale")]
    pub locale: String,
}

fn default_locale() -> String {
    "zh-CN".into()
}

/// Create a staff account. Administrators (and the command line) only. The new person
/// must change the password at first sign-in.
/// How a new account starts.
#[derive(Debug, Clone, Copy)]
pub struct StaffOptions {
    /// The person must choose their own password at first sign-in.
    pub must_change_password: bool,
    /// Never ask this account for a second factor (demo data only).
    pub totp_exempt: bool,
}

impl Default for StaffOptions {
    fn default() -> Self {
        StaffOptions { must_change_password: true, totp_exempt: false }
    }
}

pub async fn create_staff(app: &App, actor: &Actor, s: &NewStaff, opts: StaffOptions) -> AppResult<st::User> {
    let now = app.clock.now();
    // A community administrator creates accounts too; roles are then granted per community.
    let authority = actor.authorize_somewhere(Permission::ManageStaff)?;
    let username = s.username.trim().to_lowercase();
    let mut errors = FieldErrors::default();
    if let Err(e) = check_username(&username) {
        errors.push("username", e);
    }
    let name = match huiqian_domain::person::PersonName::parse(&s.display_name) {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push("display_name", e);
            None
        }
    };
    if let Err(e) = check_password(&username, &s.password) {
        errors.push("password", e);
    }
    let phone = if s.phone.trim().is_empty() {
        None
    } else {
        match huiqian_domain::person::Phone::parse(&s.phone) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push("phone", e);
                None
            }
        }
    };
    if !matches!(s.locale.as_str(), "zh-CN" | "en") {
        errors.push("locale", ValidationError::new("locale.unknown"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let name = name.expect("validated");
    let pw = s.password.clone();
    let hash = hashing(move || hash_password(&pw)).await?;
    let phone_enc = phone.as_ref().map(|p| app.secrets.encrypt(p.as_str()));
    let phone_masked = phone.as_ref().map(|p| p.masked()).unwrap_or_default();
    let mut tx = app.store.begin().await?;
    let id = match st::insert_user(
        &mut tx,
        &st::NewUser {
            username: &username,
            display_name: name.as_str(),
            phone_masked: &phone_masked,
            phone_enc: phone_enc.as_deref(),
            password_hash: &hash,
            locale: &s.locale,
            must_change_password: opts.must_change_password,
            totp_exempt: opts.totp_exempt,
        },
        now,
    )
    .await
    {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(AppError::field("username", ValidationError::new("username.taken")));
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "user.created",
        "user",
        id,
        json!({"username": username, "display_name": name.as_str(), "phone": phone_masked}),
    )
    .await?;
    tx.commit().await?;
    st::user(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// Which authority lets `actor` administer the account `user_id`, read inside the write
/// transaction after locking that account, so that a grant made elsewhere at the same
/// moment cannot slip between the check and the change.
///
/// A company-wide administrator administers everyone. A community administrator
/// administers only people whose every grant lies in communities he administers:
/// company-wide accounts and people who also work in other communities are out of his
/// reach (roles, password and second-factor resets, deactivation), so that no
/// community's administrator can take over an account that reaches further than he does.
/// An account with no role yet (just created) is within reach of any administrator.
async fn staff_authority(tx: &mut store::Tx, actor: &Actor, user_id: i64) -> AppResult<Authority> {
    if !st::lock_user(tx, user_id).await? {
        return Err(AppError::NotFound);
    }
    if let Ok(a) = actor.authorize_company(Permission::ManageStaff) {
        return Ok(a);
    }
    let grants = st::grants(tx, user_id).await?;
    let mut authority = None;
    for g in &grants {
        let Some(c) = g.community else {
            return Err(AppError::Refused { code: "staff.out_of_reach" });
        };
        match actor.authorize(Permission::ManageStaff, c) {
            Ok(a) => {
                authority.get_or_insert(a);
            }
            Err(_) => return Err(AppError::Refused { code: "staff.out_of_reach" }),
        }
    }
    match authority {
        Some(a) => Ok(a),
        None => actor.authorize_somewhere(Permission::ManageStaff),
    }
}

/// Grant a role in a community (or company-wide for administrators). The granter must
/// administer both the community and the person (see [`staff_authority`]), and never
/// himself: nobody widens his own rights. The grant may name a department and make the
/// person its head (负责人, R-SHEET-8) when `head` is set.
pub async fn grant_role(
    app: &App,
    actor: &Actor,
    user_id: i64,
    community: Option<i64>,
    role: Role,
    department_id: Option<i64>,
    head: bool,
) -> AppResult<i64> {
    let now = app.clock.now();
    let authority = match community {
        Some(c) => actor.authorize(Permission::ManageStaff, c)?,
        None => actor.authorize_company(Permission::ManageStaff)?,
    };
    if community.is_none() && role != Role::SystemAdmin {
        return Err(AppError::field("community_id", ValidationError::new("required")));
    }
    if user_id == actor.user_id() {
        return Err(AppError::Refused { code: "staff.cannot_grant_self" });
    }
    if head && department_id.is_none() {
        return Err(AppError::field("department_id", ValidationError::new("department.head_needs_department")));
    }
    if let Some(d) = department_id {
        let dep = crate::store::org::department(app.store.read(), d).await?;
        if dep.is_none_or(|d| Some(d.community_id) != community) {
            return Err(AppError::field("department_id", ValidationError::new("department.other_community")));
        }
    }
    let mut tx = app.store.begin().await?;
    staff_authority(&mut tx, actor, user_id).await?;
    let id = match st::insert_role(&mut tx, user_id, community, role, department_id, head, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(AppError::Conflict { code: "role_already_granted" });
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "user.role_granted",
        "user",
        user_id,
        json!({"role": role.as_str(), "community_id": community, "department_id": department_id, "head": head}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Take a role away. Removing can only narrow what someone can do, so an administrator of
/// the grant's community may remove it whoever holds it; only his own administrator
/// grant he cannot remove (someone must be left to administer).
pub async fn revoke_role(app: &App, actor: &Actor, role_id: i64) -> AppResult<()> {
    let r = st::role_row(app.store.read(), role_id).await?.ok_or(AppError::NotFound)?;
    let authority = match r.community_id {
        Some(c) => actor.authorize(Permission::ManageStaff, c)?,
        None => actor.authorize_company(Permission::ManageStaff)?,
    };
    if r.user_id == actor.user_id() && r.role == Role::SystemAdmin.as_str() {
        return Err(AppError::rejected("cannot_revoke_own_admin"));
    }
    let mut tx = app.store.begin().await?;
    st::delete_role(&mut tx, role_id).await?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "user.role_revoked",
        "user",
        r.user_id,
        json!({"role": r.role, "community_id": r.community_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Edit a staff account's name, or (de)activate it. People with history are never deleted.
pub async fn update_staff(
    app: &App,
    actor: &Actor,
    user_id: i64,
    version: i64,
    display_name: &str,
    active: bool,
) -> AppResult<st::User> {
    let now = app.clock.now();
    let name =
        huiqian_domain::person::PersonName::parse(display_name).map_err(|e| AppError::field("display_name", e))?;
    if user_id == actor.user_id() && !active {
        return Err(AppError::rejected("cannot_deactivate_self"));
    }
    let mut tx = app.store.begin().await?;
    let authority = staff_authority(&mut tx, actor, user_id).await?;
    let before = st::user(&mut *tx, user_id).await?.ok_or(AppError::NotFound)?;
    if !st::update_user(&mut tx, user_id, version, name.as_str(), active, now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    if !active {
        st::end_user_sessions(&mut tx, user_id, None, "deactivated", now).await?;
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "user.updated",
        "user",
        user_id,
        json!({"display_name": [before.display_name, name.as_str()], "active": [before.active, i64::from(active)]}),
    )
    .await?;
    tx.commit().await?;
    st::user(app.store.read(), user_id).await?.ok_or(AppError::NotFound)
}

/// Administrator reset: a temporary password, to be changed at next sign-in; every open
/// session of that person ends and every API token of theirs is revoked (whoever needed
/// the reset may have lost control of them). One's own password is changed on the account
/// page, with the current one.
pub async fn reset_password(
    app: &App,
    actor: &Actor,
    user_id: i64,
    temporary: &str,
    clear_totp: bool,
) -> AppResult<()> {
    let now = app.clock.now();
    if user_id == actor.user_id() {
        return Err(AppError::Refused { code: "staff.reset_own_password" });
    }
    let user = st::user(app.store.read(), user_id).await?.ok_or(AppError::NotFound)?;
    check_password(&user.username, temporary).map_err(|e| AppError::field("password", e))?;
    let pw = temporary.to_string();
    let hash = hashing(move || hash_password(&pw)).await?;
    let mut tx = app.store.begin().await?;
    let authority = staff_authority(&mut tx, actor, user_id).await?;
    st::set_password(&mut tx, user_id, &hash, true, now).await?;
    if clear_totp {
        st::set_totp(&mut tx, user_id, None, false, now).await?;
    }
    st::end_user_sessions(&mut tx, user_id, None, "password_reset", now).await?;
    let tokens = st::revoke_user_tokens(&mut tx, user_id, now).await?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "user.password_reset",
        "user",
        user_id,
        json!({"totp_cleared": clear_totp, "tokens_revoked": tokens}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Staff visible to the actor: everyone for company-wide viewers, else those holding a
/// role in a community where the actor may view staff.
pub async fn list_staff(app: &App, actor: &Actor) -> AppResult<Vec<st::User>> {
    let scope = actor.scope(Permission::ViewStaff);
    if matches!(&scope, Some(v) if v.is_empty()) {
        return Err(AppError::Forbidden);
    }
    Ok(st::users(app.store.read(), scope.as_deref()).await?)
}

pub async fn staff_detail(app: &App, actor: &Actor, user_id: i64) -> AppResult<(st::User, Vec<st::RoleRow>)> {
    let user = st::user(app.store.read(), user_id).await?.ok_or(AppError::NotFound)?;
    let roles = st::role_rows(app.store.read(), user_id).await?;
    let visible = actor.authorize_company(Permission::ViewStaff).is_ok()
        || roles.iter().filter_map(|r| r.community_id).any(|c| actor.authorize(Permission::ViewStaff, c).is_ok())
        || user_id == actor.user_id();
    if !visible {
        let shares_community = roles.iter().filter_map(|r| r.community_id).any(|c| !actor.roles_in(c).is_empty());
        return Err(if shares_community { AppError::Forbidden } else { AppError::NotFound });
    }
    Ok((user, roles))
}

/// End the session a browser held before it signed in again: the new sign-in always gets
/// a new session, and the old one is not left open beside it. Only the browser holding the
/// old session's cookie names it.
pub async fn end_replaced_session(app: &App, session_id: &str) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    st::end_session(&mut tx, session_id, "replaced_at_sign_in", app.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// The CSRF token of the session a sign-in just opened, for a client that signed in
/// through the API and writes with the cookie.
pub async fn csrf_of_new_session(app: &App, signed: &SignedIn) -> AppResult<String> {
    Ok(st::session(app.store.read(), &sha256_hex(signed.token.as_bytes()))
        .await?
        .map(|x| x.csrf_token)
        .unwrap_or_default())
}

/// One's own API tokens (never the secret part).
pub async fn my_tokens(app: &App, actor: &Actor) -> AppResult<Vec<st::ApiToken>> {
    Ok(st::tokens_of(app.store.read(), actor.user_id()).await?)
}

/// Everyone holding a role in a community, with the role (a person with two roles is
/// listed twice), for naming a colleague on a form; members of the community only.
pub async fn community_members(app: &App, actor: &Actor, community_id: i64) -> AppResult<Vec<(i64, String, String)>> {
    actor.may_read(Permission::ViewCommunity, community_id).map_err(|_| AppError::NotFound)?;
    Ok(st::community_members(app.store.read(), community_id).await?)
}

/// A colleague's display name, as a sheet or a report of `community_id` names them; empty
/// for an account that no longer exists.
pub async fn display_name(app: &App, actor: &Actor, community_id: i64, user_id: i64) -> AppResult<String> {
    actor.may_read(Permission::ViewCommunity, community_id).map_err(|_| AppError::NotFound)?;
    Ok(st::user(app.store.read(), user_id).await?.map(|u| u.display_name).unwrap_or_default())
}

/// The account of a user name, for someone who may read the audit trail somewhere (to
/// filter it by who acted).
pub async fn user_id_by_name(app: &App, actor: &Actor, username: &str) -> AppResult<Option<i64>> {
    if !actor.may_anywhere(Permission::ViewAudit) {
        return Err(AppError::Forbidden);
    }
    let mut conn = app.store.read().acquire().await?;
    Ok(st::user_by_name(&mut conn, &username.to_lowercase()).await?.map(|u| u.id))
}

/// A role grant, for someone who may see the staff of its community (or company-wide
/// staff, for a company-wide grant).
pub async fn role_grant(app: &App, actor: &Actor, role_id: i64) -> AppResult<st::RoleRow> {
    let r = st::role_row(app.store.read(), role_id).await?.ok_or(AppError::NotFound)?;
    let visible = actor.authorize_company(Permission::ViewStaff).is_ok()
        || r.community_id.is_some_and(|c| actor.may_read(Permission::ViewStaff, c).is_ok());
    if !visible {
        return Err(AppError::Forbidden);
    }
    Ok(r)
}

/// A person present confirms a step with their own credentials at the time (R-KEY-7's
/// two-person rule): their password, and their authenticator code when they have one. A
/// wrong password counts toward the account's lockout as at sign-in; the answer does not
/// say which of name and password was wrong. Returns the person confirmed.
pub async fn confirm_in_person(
    app: &App,
    field: &'static str,
    username: &str,
    password: &str,
    code: &str,
) -> AppResult<st::User> {
    let refused = || AppError::field(field, ValidationError::new("witness.credentials"));
    let username = username.trim().to_lowercase();
    let now = app.clock.now();
    let mut conn = app.store.read().acquire().await?;
    let user = st::user_by_name(&mut conn, &username).await?.filter(|u| u.active == 1);
    let Some(user) = user else {
        drop(conn);
        let pw = password.to_string();
        let _ = hashing(move || verify_password(&pw, dummy_hash())).await;
        return Err(refused());
    };
    if let Some(until) = user.locked_until.filter(|t| *t > now) {
        return Err(locked(until, now));
    }
    let hash = st::password_hash(&mut conn, user.id).await?;
    drop(conn);
    let pw = password.to_string();
    let ok = hashing(move || verify_password(&pw, &hash)).await?;
    let mut tx = app.store.begin().await?;
    if !ok {
        let lock_until = now + app.config.auth.lockout_minutes * 60_000;
        st::record_failed_login(&mut tx, user.id, app.config.auth.max_failed_logins, lock_until).await?;
        audit::record_self(app, &mut tx, Some(user.id), &user.username, "", "auth.witness_failed", json!({})).await?;
        tx.commit().await?;
        return Err(refused());
    }
    if user.totp_enabled == 1 && !check_totp(app, &mut tx, user.id, &user.username, code).await? {
        tx.commit().await?;
        return Err(AppError::field(field, ValidationError::new("witness.code")));
    }
    st::clear_failed_logins(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(user)
}

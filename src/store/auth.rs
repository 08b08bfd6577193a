//! Staff accounts, their roles, sessions, API tokens and idempotency keys.

use huiqian_domain::auth::{Role, RoleGrant};
use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub phone_masked: String,
    pub locale: String,
    pub totp_enabled: i64,
    pub totp_exempt: i64,
    pub must_change_password: i64,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub active: i64,
    pub version: i64,
}

const USER_COLS: &str = "id, username, display_name, phone_masked, locale, totp_enabled, totp_exempt, \
                         must_change_password, failed_logins, locked_until, active, version";

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub phone_masked: &'a str,
    pub phone_enc: Option<&'a str>,
    pub password_hash: &'a str,
    pub locale: &'a str,
    pub must_change_password: bool,
    pub totp_exempt: bool,
}

pub async fn insert_user(tx: &mut AnyConnection, u: &NewUser<'_>, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (username, display_name, phone_masked, phone_enc, password_hash, locale, \
         must_change_password, totp_exempt, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(u.username)
    .bind(u.display_name)
    .bind(u.phone_masked)
    .bind(u.phone_enc)
    .bind(u.password_hash)
    .bind(u.locale)
    .bind(super::flag(u.must_change_password))
    .bind(super::flag(u.totp_exempt))
    .bind(now)
    .fetch_one(tx)
    .await
}

pub async fn update_user(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    display_name: &str,
    active: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE users SET display_name = $1, active = $2, updated_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(display_name)
    .bind(super::flag(active))
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

/// A user by id, from the pool or inside a transaction.
pub async fn user<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn user_by_name(conn: &mut AnyConnection, username: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE username = $1"))
        .bind(username)
        .fetch_optional(conn)
        .await
}

/// Staff who hold any role in one of `communities` (`None`: everybody).
pub async fn users(pool: &AnyPool, communities: Option<&[i64]>) -> Result<Vec<User>, sqlx::Error> {
    let filter = "id IN (SELECT user_id FROM user_roles WHERE community_id IN ({ids}))";
    super::select_in(pool, &format!("SELECT {USER_COLS} FROM users"), filter, communities).await
}

pub async fn password_hash(conn: &mut AnyConnection, id: i64) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(id).fetch_one(conn).await
}

pub async fn set_password(
    tx: &mut AnyConnection,
    id: i64,
    hash: &str,
    must_change: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = $2, failed_logins = 0, locked_until = NULL, \
         updated_at = $3, version = version + 1 WHERE id = $4",
    )
    .bind(hash)
    .bind(super::flag(must_change))
    .bind(now)
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Take the account's row lock for the rest of the transaction (PostgreSQL; SQLite has
/// one writer). False when there is no such account.
pub async fn lock_user(tx: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("UPDATE users SET version = version WHERE id = $1").bind(id).execute(tx).await?.rows_affected() == 1)
}

/// Revoke every live API token of an account; returns how many.
pub async fn revoke_user_tokens(tx: &mut AnyConnection, user_id: i64, now: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(tx)
        .await?
        .rows_affected())
}

pub async fn set_locale(tx: &mut AnyConnection, id: i64, locale: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET locale = $1, updated_at = $2 WHERE id = $3")
        .bind(locale)
        .bind(now)
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Count a failed sign-in; lock the account until `lock_until` once `max` is reached.
pub async fn record_failed_login(
    tx: &mut AnyConnection,
    id: i64,
    max: i64,
    lock_until: i64,
) -> Result<i64, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if n >= max {
        sqlx::query("UPDATE users SET locked_until = $1, failed_logins = 0 WHERE id = $2")
            .bind(lock_until)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(n)
}

pub async fn clear_failed_logins(tx: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn totp_secret(conn: &mut AnyConnection, id: i64) -> Result<(Option<String>, i64), sqlx::Error> {
    let r =
        sqlx::query("SELECT totp_secret_enc, totp_last_step FROM users WHERE id = $1").bind(id).fetch_one(conn).await?;
    Ok((r.get(0), r.get(1)))
}

pub async fn set_totp(
    tx: &mut AnyConnection,
    id: i64,
    secret_enc: Option<&str>,
    enabled: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET totp_secret_enc = $1, totp_enabled = $2, totp_last_step = 0, updated_at = $3 WHERE id = $4",
    )
    .bind(secret_enc)
    .bind(super::flag(enabled))
    .bind(now)
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Turn on the second factor whose secret was stored by enrolment.
pub async fn enable_totp(tx: &mut AnyConnection, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET totp_enabled = 1, updated_at = $1 WHERE id = $2 AND totp_secret_enc IS NOT NULL")
        .bind(now)
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Remember the last TOTP time step used, so a code cannot be replayed. Returns false
/// when the step was already used.
pub async fn use_totp_step(tx: &mut AnyConnection, id: i64, step: i64) -> Result<bool, sqlx::Error> {
    let q =
        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1").bind(step).bind(id);
    super::changed_one(tx, q).await
}

pub async fn grants(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<RoleGrant>, sqlx::Error> {
    let rows = sqlx::query("SELECT community_id, role FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let role = Role::parse(&r.get::<String, _>(1))?;
            Some(RoleGrant { community: r.get(0), role })
        })
        .collect())
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct RoleRow {
    pub id: i64,
    pub user_id: i64,
    pub community_id: Option<i64>,
    pub role: String,
    pub department_id: Option<i64>,
    /// 1: the holder heads that department (负责人) and signs its extensions, suspensions
    /// and terminations (R-SHEET-8).
    pub is_head: i64,
}

pub async fn role_rows(pool: &AnyPool, user_id: i64) -> Result<Vec<RoleRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, user_id, community_id, role, department_id, is_head FROM user_roles WHERE user_id = $1 ORDER BY community_id, role")
        .bind(user_id)
        .fetch_all(pool)
        .await
}

pub async fn role_row(pool: &AnyPool, id: i64) -> Result<Option<RoleRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, user_id, community_id, role, department_id, is_head FROM user_roles WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn insert_role(
    tx: &mut AnyConnection,
    user_id: i64,
    community_id: Option<i64>,
    role: Role,
    department_id: Option<i64>,
    head: bool,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO user_roles (user_id, community_id, role, department_id, created_at, is_head) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(user_id)
    .bind(community_id)
    .bind(role.as_str())
    .bind(department_id)
    .bind(now)
    .bind(super::flag(head))
    .fetch_one(tx)
    .await
}

pub async fn delete_role(tx: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    super::changed_one(tx, sqlx::query("DELETE FROM user_roles WHERE id = $1").bind(id)).await
}

// ---- sessions ----

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// SHA-256 of the cookie value; shown shortened to let people tell sessions apart.
    pub id: String,
    pub user_id: i64,
    #[serde(skip)]
    pub csrf_token: String,
    pub second_factor_done: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: String,
    pub user_agent: String,
    pub ended_at: Option<i64>,
}

const SESSION_COLS: &str =
    "id, user_id, csrf_token, second_factor_done, created_at, last_seen_at, expires_at, ip, user_agent, ended_at";

#[allow(clippy::too_many_arguments)]
pub async fn insert_session(
    tx: &mut AnyConnection,
    id: &str,
    user_id: i64,
    csrf: &str,
    second_factor_done: bool,
    expires_at: i64,
    ip: &str,
    user_agent: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, csrf_token, second_factor_done, created_at, last_seen_at, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(user_id)
    .bind(csrf)
    .bind(super::flag(second_factor_done))
    .bind(now)
    .bind(expires_at)
    .bind(ip)
    .bind(user_agent)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn session(pool: &AnyPool, id: &str) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SESSION_COLS} FROM sessions WHERE id = $1")).bind(id).fetch_optional(pool).await
}

pub async fn touch_session(tx: &mut AnyConnection, id: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(at)
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn complete_second_factor(tx: &mut AnyConnection, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET second_factor_done = 1, last_seen_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Until when failed sign-ins under a name nobody has keep that name locked, if they do.
pub async fn unknown_name_locked_until(conn: &mut AnyConnection, name_hash: &str) -> Result<Option<i64>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT locked_until FROM sign_in_failures WHERE name_hash = $1")
        .bind(name_hash)
        .fetch_optional(conn)
        .await?
        .flatten())
}

/// Count a failed sign-in under a name nobody has, locking the name like an account once
/// `max` is reached. Rows older than a lockout are forgotten on the way, so guessing
/// names cannot grow the table without bound.
pub async fn record_unknown_name_failure(
    tx: &mut AnyConnection,
    name_hash: &str,
    max: i64,
    lock_until: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    let window = lock_until - now;
    sqlx::query("DELETE FROM sign_in_failures WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $2)")
        .bind(now - window)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO sign_in_failures (name_hash, failures, locked_until, updated_at) VALUES ($1, 1, NULL, $2) \
         ON CONFLICT (name_hash) DO UPDATE SET failures = sign_in_failures.failures + 1, updated_at = $2 \
         RETURNING failures",
    )
    .bind(name_hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    if n >= max {
        sqlx::query("UPDATE sign_in_failures SET failures = 0, locked_until = $1 WHERE name_hash = $2")
            .bind(lock_until)
            .bind(name_hash)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Count a wrong second-factor code on a pending sign-in; returns the count so far.
pub async fn count_second_factor_failure(tx: &mut AnyConnection, id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE sessions SET second_factor_failures = second_factor_failures + 1 WHERE id = $1 \
         RETURNING second_factor_failures",
    )
    .bind(id)
    .fetch_one(tx)
    .await
}

pub async fn end_session(tx: &mut AnyConnection, id: &str, reason: &str, now: i64) -> Result<bool, sqlx::Error> {
    let q = sqlx::query("UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(id);
    super::changed_one(tx, q).await
}

/// End every open session of a user (password reset, deactivation), except `keep`.
pub async fn end_user_sessions(
    tx: &mut AnyConnection,
    user_id: i64,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE user_id = $3 AND ended_at IS NULL AND id <> $4",
    )
    .bind(now)
    .bind(reason)
    .bind(user_id)
    .bind(keep.unwrap_or(""))
    .execute(tx)
    .await?;
    Ok(r.rows_affected())
}

pub async fn open_sessions(pool: &AnyPool, user_id: i64, now: i64) -> Result<Vec<Session>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SESSION_COLS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY last_seen_at DESC"
    ))
    .bind(user_id)
    .bind(now)
    .fetch_all(pool)
    .await
}

// ---- API tokens ----

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// `read` or `read,write`.
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const TOKEN_COLS: &str = "id, user_id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at";

#[allow(clippy::too_many_arguments)]
pub async fn insert_token(
    tx: &mut AnyConnection,
    user_id: i64,
    name: &str,
    prefix: &str,
    hash: &str,
    scopes: &str,
    expires_at: Option<i64>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, prefix, token_hash, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(prefix)
    .bind(hash)
    .bind(scopes)
    .bind(now)
    .bind(expires_at)
    .fetch_one(tx)
    .await
}

pub async fn tokens_of(pool: &AnyPool, user_id: i64) -> Result<Vec<ApiToken>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC"))
        .bind(user_id)
        .fetch_all(pool)
        .await
}

pub async fn revoke_token(tx: &mut AnyConnection, id: i64, user_id: i64, now: i64) -> Result<bool, sqlx::Error> {
    super::stamp_own(tx, "api_tokens", "revoked_at", id, user_id, now).await
}

pub async fn touch_token(tx: &mut AnyConnection, id: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(at).bind(id).execute(tx).await?;
    Ok(())
}

// ---- idempotency ----

/// What is kept of a create under an idempotency key: its status (0 while it runs), the
/// response body, the request's digest and when the key was taken.
#[derive(Debug, Clone, FromRow)]
pub struct KeptResponse {
    pub status: i64,
    pub body: String,
    pub request_hash: String,
    pub created_at: i64,
}

/// The response stored for a create retried with the same key.
pub async fn idempotent_response(
    conn: &mut AnyConnection,
    user_id: i64,
    key: &str,
) -> Result<Option<KeptResponse>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, body, request_hash, created_at FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Take a key for a create about to run (status 0); a unique violation means someone
/// has it already.
pub async fn reserve_key(
    tx: &mut AnyConnection,
    user_id: i64,
    key: &str,
    request_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, status, body, created_at, request_hash) VALUES ($1, $2, 0, '', $3, $4)",
    )
    .bind(user_id)
    .bind(key)
    .bind(now)
    .bind(request_hash)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn complete_response(
    tx: &mut AnyConnection,
    user_id: i64,
    key: &str,
    status: i64,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE idempotency_keys SET status = $1, body = $2 WHERE user_id = $3 AND key = $4")
        .bind(status)
        .bind(body)
        .bind(user_id)
        .bind(key)
        .execute(tx)
        .await?;
    Ok(())
}

/// Give a key back whose create failed (or was abandoned before `stale_before`).
pub async fn forget_response(
    tx: &mut AnyConnection,
    user_id: i64,
    key: &str,
    stale_before: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status = 0 AND created_at <= $3")
        .bind(user_id)
        .bind(key)
        .bind(stale_before)
        .execute(tx)
        .await?;
    Ok(())
}

/// The user behind a credential, with every role they hold, in one round trip.
fn principal(rows: &[sqlx::any::AnyRow]) -> Result<Option<(User, Vec<RoleGrant>)>, sqlx::Error> {
    let Some(first) = rows.first() else { return Ok(None) };
    let user = User::from_row(first)?;
    let grants = rows
        .iter()
        .filter_map(|r| {
            let role: Option<String> = r.get("grant_role");
            let role = Role::parse(&role?)?;
            Some(RoleGrant { community: r.get("grant_community_id"), role })
        })
        .collect();
    Ok(Some((user, grants)))
}

const PRINCIPAL_COLS: &str = "u.id, u.username, u.display_name, u.phone_masked, u.locale, u.totp_enabled, u.totp_exempt, \
     u.must_change_password, u.failed_logins, u.locked_until, u.active, u.version, \
     r.community_id AS grant_community_id, r.role AS grant_role";

/// A session with its user and roles (one query per request instead of three).
pub async fn session_principal(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<(Session, User, Vec<RoleGrant>)>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {PRINCIPAL_COLS}, s.id AS s_id, s.csrf_token AS s_csrf_token, s.second_factor_done AS s_second_factor_done, \
         s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, s.expires_at AS s_expires_at, s.ip AS s_ip, \
         s.user_agent AS s_user_agent, s.ended_at AS s_ended_at \
         FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN user_roles r ON r.user_id = u.id WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?;
    let Some((user, grants)) = principal(&rows)? else { return Ok(None) };
    let r = &rows[0];
    let session = Session {
        id: r.get("s_id"),
        user_id: user.id,
        csrf_token: r.get("s_csrf_token"),
        second_factor_done: r.get("s_second_factor_done"),
        created_at: r.get("s_created_at"),
        last_seen_at: r.get("s_last_seen_at"),
        expires_at: r.get("s_expires_at"),
        ip: r.get("s_ip"),
        user_agent: r.get("s_user_agent"),
        ended_at: r.get("s_ended_at"),
    };
    Ok(Some((session, user, grants)))
}

/// An API token with its user and roles, in one query.
pub async fn token_principal(
    pool: &AnyPool,
    hash: &str,
) -> Result<Option<(ApiToken, User, Vec<RoleGrant>)>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {PRINCIPAL_COLS}, t.id AS t_id, t.name AS t_name, t.prefix AS t_prefix, t.scopes AS t_scopes, \
         t.created_at AS t_created_at, t.expires_at AS t_expires_at, t.last_used_at AS t_last_used_at, t.revoked_at AS t_revoked_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN user_roles r ON r.user_id = u.id WHERE t.token_hash = $1"
    ))
    .bind(hash)
    .fetch_all(pool)
    .await?;
    let Some((user, grants)) = principal(&rows)? else { return Ok(None) };
    let r = &rows[0];
    let token = ApiToken {
        id: r.get("t_id"),
        user_id: user.id,
        name: r.get("t_name"),
        prefix: r.get("t_prefix"),
        scopes: r.get("t_scopes"),
        created_at: r.get("t_created_at"),
        expires_at: r.get("t_expires_at"),
        last_used_at: r.get("t_last_used_at"),
        revoked_at: r.get("t_revoked_at"),
    };
    Ok(Some((token, user, grants)))
}

/// The active staff of a community with each role they hold there: (user, name, role).
pub async fn community_members(pool: &AnyPool, community_id: i64) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.display_name, r.role FROM user_roles r JOIN users u ON u.id = r.user_id \
         WHERE r.community_id = $1 AND u.active = 1 ORDER BY u.display_name, u.id",
    )
    .bind(community_id)
    .fetch_all(pool)
    .await
}

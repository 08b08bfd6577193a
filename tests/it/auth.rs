//! Sign-in, sessions, lockout, CSRF, tokens, second factor (issue: foundation §4).

use crate::harness::{PASSWORD, TestApp};
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn health_and_readiness() {
    let t = TestApp::spawn().await;
    let c = t.anon();
    assert_eq!(c.get(t.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(t.url("/readyz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn sign_in_page_is_chinese_by_default_and_english_on_request() {
    let t = TestApp::spawn().await;
    let c = t.anon();
    let html = c.get(t.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(html.contains("登录"));
    let html =
        c.get(t.url("/login")).header("accept-language", "en-US,en;q=0.9").send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Sign in"));
}

#[tokio::test]
async fn pages_redirect_to_sign_in_and_back() {
    let t = TestApp::spawn().await;
    let r = t.anon().get(t.url("/persons?q=1234")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=%2Fpersons%3Fq%3D1234");
}

#[tokio::test]
async fn wrong_password_is_refused_and_audited_without_saying_which_part_was_wrong() {
    let t = TestApp::spawn().await;
    let c = t.anon();
    let before = t.audit_count().await;
    let r = c
        .post(t.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": "u_receptionist", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "unauthenticated");
    let r = c
        .post(t.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": "nobody", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(t.audit_count().await, before + 1, "the failed sign-in of a real account is audited");
}

#[tokio::test]
async fn account_locks_after_repeated_failures() {
    let t = TestApp::spawn().await;
    let c = t.anon();
    for _ in 0..5 {
        c.post(t.url("/api/v1/auth/sign-in"))
            .json(&json!({"username": "u_receptionist", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
    }
    // Even the right password is refused while locked.
    let r = c
        .post(t.url("/api/v1/auth/sign-in"))
        .header("accept-language", "en")
        .json(&json!({"username": "u_receptionist", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 423);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "account_locked");
    assert!(b["error"]["message"].as_str().unwrap().contains("minutes"));
}

#[tokio::test]
async fn session_cookie_is_http_only_same_site_and_rotated_at_sign_in() {
    let t = TestApp::spawn().await;
    let c = t.anon();
    let r = c
        .post(t.url("/login"))
        .form(&[("username", "u_receptionist"), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let first = cookies.iter().find(|c| c.starts_with("hq_session=")).unwrap().clone();
    assert!(first.contains("HttpOnly") && first.contains("SameSite=Lax"), "{first}");
    let r = c
        .post(t.url("/login"))
        .form(&[("username", "u_receptionist"), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    let second = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("hq_session="))
        .unwrap();
    assert_ne!(first.split(';').next(), second.split(';').next(), "a new session id at every sign-in");
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(open, 1, "the session the browser had before is ended");
}

#[tokio::test]
async fn writes_without_csrf_token_or_from_another_origin_are_refused() {
    let t = TestApp::spawn().await;
    let c = t.as_role(Role::Receptionist).await;
    // Same session, no token.
    let bare = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let _ = bare;
    let r = c
        .http
        .put(c.url("/api/v1/me/locale"))
        .header("x-csrf-token", "forged")
        .json(&json!({"locale": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .http
        .put(c.url("/api/v1/me/locale"))
        .header("origin", "http://evil.example")
        .json(&json!({"locale": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (s, _) = c.put_json("/api/v1/me/locale", &json!({"locale": "en"})).await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_sessions() {
    let t = TestApp::spawn().await;
    let c = t.as_role(Role::Receptionist).await;
    assert_eq!(c.get_json("/api/v1/me").await.0, 200);
    // Left alone for 31 minutes.
    t.advance(31 * 60_000);
    assert_eq!(c.get_json("/api/v1/me").await.0, 401);
    let reason: String =
        sqlx::query_scalar("SELECT end_reason FROM sessions").fetch_one(t.app.store.read()).await.unwrap();
    assert_eq!(reason, "idle_timeout");
    // Used every 20 minutes, a session still ends 12 hours after sign-in.
    let c = t.as_role(Role::Receptionist).await;
    for _ in 0..35 {
        t.advance(20 * 60_000);
        assert_eq!(c.get_json("/api/v1/me").await.0, 200);
    }
    t.advance(20 * 60_000);
    assert_eq!(c.get_json("/api/v1/me").await.0, 401);
    let ended: Vec<String> = sqlx::query_scalar("SELECT end_reason FROM sessions ORDER BY created_at")
        .fetch_all(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(ended, ["idle_timeout", "absolute_timeout"]);
}

#[tokio::test]
async fn own_sessions_are_listed_and_can_be_signed_out() {
    let t = TestApp::spawn().await;
    let pc = t.as_role(Role::Receptionist).await;
    let tablet = t.as_role(Role::Receptionist).await;
    let (s, list) = pc.get_json("/api/v1/me/sessions").await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Sign out the tablet from the PC.
    let (_, me_tablet) = tablet.get_json("/api/v1/me/sessions").await;
    let ids: Vec<String> =
        me_tablet.as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect();
    let r = pc.http.delete(pc.url(&format!("/api/v1/me/sessions/{}", ids[0]))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let alive = [pc.get_json("/api/v1/me").await.0, tablet.get_json("/api/v1/me").await.0];
    assert_eq!(alive.iter().filter(|s| **s == 401).count(), 1, "exactly one of the two sessions ended");
}

#[tokio::test]
async fn password_change_and_admin_reset() {
    let t = TestApp::spawn().await;
    let c = t.as_role(Role::Technician).await;
    let (s, b) =
        c.put_json("/api/v1/me/password", &json!({"current_password": "nope-nope", "new_password": "short"})).await;
    assert_eq!(s, 422);
    let fields: Vec<&str> =
        b["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"current_password") && fields.contains(&"new_password"));
    let (s, _) =
        c.put_json("/api/v1/me/password", &json!({"current_password": PASSWORD, "new_password": "New-pass-456"})).await;
    assert_eq!(s, 204);
    // The administrator resets it: the person must change it at next sign-in.
    let admin = t.as_role(Role::SystemAdmin).await;
    let (_, me) = c.get_json("/api/v1/me").await;
    let id = me["user"]["id"].as_i64().unwrap();
    let (s, _) = admin.post_json(&format!("/api/v1/staff/{id}/reset-password"), &json!({"password": PASSWORD})).await;
    assert_eq!(s, 204);
    assert_eq!(c.get_json("/api/v1/me").await.0, 401, "sessions end at reset");
    let anon = t.anon();
    let r = anon
        .post(t.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": "u_technician", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["must_change_password"], true);
}

#[tokio::test]
async fn api_tokens_have_scopes_and_can_be_revoked() {
    let t = TestApp::spawn().await;
    let c = t.as_role(Role::CsManager).await;
    let (s, tok) = c.post_json("/api/v1/me/tokens", &json!({"name": "报表系统", "write": false})).await;
    assert_eq!(s, 201);
    let secret = tok["secret"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let r = http.get(t.url(&format!("/api/v1/communities/{}/units", t.c1))).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Read-only token cannot write.
    let r = http
        .post(t.url(&format!("/api/v1/communities/{}/buildings", t.c1)))
        .bearer_auth(&secret)
        .json(&json!({"code": "9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let id = tok["token"]["id"].as_i64().unwrap();
    let r = c.http.delete(c.url(&format!("/api/v1/me/tokens/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = http.get(t.url("/api/v1/me")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // The hash, not the token, is stored.
    let stored: String =
        sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_one(t.app.store.read()).await.unwrap();
    assert!(!stored.contains(&secret[3..]));
}

fn totp_code(secret_b32: &str, at_secs: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string()).to_bytes().unwrap();
    let t = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into()).unwrap();
    t.generate(at_secs)
}

/// R-ARC-1 / foundation §4: administrators must enrol and then use a second factor.
#[tokio::test]
async fn second_factor_is_required_for_administrators() {
    let t = TestApp::spawn_with(|c| c.auth.require_totp_roles = vec!["system_admin".into()]).await;
    let (http, b) = t.sign_in_json("u_system_admin", PASSWORD).await;
    assert_eq!(b["second_factor"], "must_enrol");
    let csrf = b["csrf_token"].as_str().unwrap().to_string();
    // Nothing but enrolment works yet.
    assert_eq!(http.get(t.url("/api/v1/staff")).send().await.unwrap().status(), 401);
    let setup: Value =
        http.post(t.url("/api/v1/me/totp")).header("x-csrf-token", &csrf).send().await.unwrap().json().await.unwrap();
    let secret = setup["secret_base32"].as_str().unwrap().to_string();
    assert!(setup["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"));
    let now = (chrono::Utc::now().timestamp()) as u64;
    let r = http
        .post(t.url("/api/v1/me/totp/confirm"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": "000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = http
        .post(t.url("/api/v1/me/totp/confirm"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": totp_code(&secret, now)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(http.get(t.url("/api/v1/staff")).send().await.unwrap().status(), 200);
    // Next sign-in asks for a code; the same code cannot be used twice.
    let (http2, b) = t.sign_in_json("u_system_admin", PASSWORD).await;
    assert_eq!(b["second_factor"], "required");
    let csrf2 = b["csrf_token"].as_str().unwrap().to_string();
    let r = http2
        .post(t.url("/api/v1/auth/second-factor"))
        .header("x-csrf-token", &csrf2)
        .json(&json!({"code": totp_code(&secret, now)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a used code is not accepted again");
    let r = http2
        .post(t.url("/api/v1/auth/second-factor"))
        .header("x-csrf-token", &csrf2)
        .json(&json!({"code": totp_code(&secret, now + 30)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(http2.get(t.url("/api/v1/staff")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn language_is_per_user() {
    let t = TestApp::spawn().await;
    let c = t.as_role(Role::Receptionist).await;
    let r = c.post_form("/lang", &[("lang", "en"), ("next", "/")]).await;
    assert_eq!(r.status(), 303);
    let html = c.get("/").await.text().await.unwrap();
    assert!(html.contains("My communities"), "English after the switch");
    // Another user is still in Chinese.
    let other = t.as_role(Role::Technician).await;
    assert!(other.get("/").await.text().await.unwrap().contains("我负责的小区"));
    // And the choice survives a new sign-in.
    let again = t.as_role(Role::Receptionist).await;
    let (_, err) = again.get_json("/api/v1/units/999999").await;
    assert_eq!(err["error"]["message"], "Not found, or you may not see it.");
}

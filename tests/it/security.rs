//! The security review's points, each as a test named after it (docs/security.md): tried
//! as an attacker would, over HTTP against the real server, on both backends.

use crate::harness::{Client, PASSWORD, TestApp, jpeg, new_staff, png};
use huiqian::app::{Actor, auth};
use huiqian::domain::auth::{Permission, Role};
use reqwest::Method;
use serde_json::{Value, json};

async fn make_staff(t: &TestApp, username: &str, grants: &[(Option<i64>, Role)]) -> i64 {
    let cli = Actor::cli();
    let u = new_staff(
        &t.app,
        username,
        "测试员工",
        PASSWORD,
        auth::StaffOptions { must_change_password: false, totp_exempt: true },
    )
    .await;
    for (c, r) in grants {
        auth::grant_role(&t.app, &cli, u, *c, *r, None, false).await.unwrap();
    }
    u
}

async fn sign_in_status(t: &TestApp, username: &str, password: &str) -> (u16, Value) {
    let r = t
        .anon()
        .post(t.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn grants_of(t: &TestApp, user: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM user_roles WHERE user_id = $1")
        .bind(user)
        .fetch_one(t.app.store.read())
        .await
        .unwrap()
}

/// Point 1: a community administrator cannot take over an account that reaches further
/// than he does (a company-wide administrator, another community's director, someone who
/// also works elsewhere), by any of the four doors, nor grant himself a role; his own
/// people he still administers. Tried with every role that can administer staff.
#[tokio::test]
async fn p1_community_administrators_cannot_take_over_wider_accounts() {
    let t = TestApp::spawn().await;
    let company_admin = make_staff(&t, "root_admin", &[(None, Role::SystemAdmin)]).await;
    let other_director = make_staff(&t, "ly_director", &[(Some(t.c2), Role::CentreDirector)]).await;
    let both =
        make_staff(&t, "both_sites", &[(Some(t.c1), Role::Receptionist), (Some(t.c2), Role::Receptionist)]).await;
    let own = make_staff(&t, "own_desk", &[(Some(t.c1), Role::Receptionist)]).await;
    let sysadmin = t.as_role(Role::SystemAdmin).await;
    let administering: Vec<Role> = Role::ALL.into_iter().filter(|r| r.allows(Permission::ManageStaff)).collect();
    assert!(!administering.is_empty());
    for role in administering {
        let admin_name = format!("adm_{}", role.as_str());
        let admin_id = make_staff(&t, &admin_name, &[(Some(t.c1), role)]).await;
        let c = t.client(&admin_name).await;
        for (target, name) in [(company_admin, "root_admin"), (other_director, "ly_director"), (both, "both_sites")] {
            let (_, detail) = sysadmin.get_json(&format!("/api/v1/staff/{target}")).await;
            let version = detail["user"]["version"].as_i64().unwrap_or(1);
            let audit = t.audit_count().await;
            let roles = grants_of(&t, target).await;
            let (s, b) = c
                .post_json(
                    &format!("/api/v1/staff/{target}/roles"),
                    &json!({"community_id": t.c1, "role": "finance_clerk"}),
                )
                .await;
            assert_eq!(s, 403, "{role} granting a role to {name}: {b}");
            assert_eq!(b["error"]["code"], "staff.out_of_reach");
            let (s, _) = c
                .post_json(
                    &format!("/api/v1/staff/{target}/reset-password"),
                    &json!({"password": "Taken-over-1", "clear_totp": true}),
                )
                .await;
            assert_eq!(s, 403, "{role} resetting the password of {name}");
            let (s, _) = c
                .put_json(
                    &format!("/api/v1/staff/{target}"),
                    &json!({"version": version, "display_name": "已停用", "active": false}),
                )
                .await;
            assert_eq!(s, 403, "{role} deactivating {name}");
            assert_eq!(t.audit_count().await, audit, "nothing written for {name}");
            assert_eq!(grants_of(&t, target).await, roles);
            assert_eq!(sign_in_status(&t, name, PASSWORD).await.0, 200, "{name} still signs in with their password");
        }
        // Nobody grants himself a role.
        let (s, b) = c
            .post_json(
                &format!("/api/v1/staff/{admin_id}/roles"),
                &json!({"community_id": t.c1, "role": "centre_director"}),
            )
            .await;
        assert_eq!((s, b["error"]["code"].as_str()), (403, Some("staff.cannot_grant_self")));
        // A role in another community is not his to give.
        let (s, _) = c
            .post_json(&format!("/api/v1/staff/{own}/roles"), &json!({"community_id": t.c2, "role": "receptionist"}))
            .await;
        assert_eq!(s, 403);
        // His own people he administers.
        let (s, _) = c.post_json(&format!("/api/v1/staff/{own}/reset-password"), &json!({"password": PASSWORD})).await;
        assert_eq!(s, 204, "{role} resets the password of his own receptionist");
    }
    // The company-wide administrator reaches everyone.
    let root = t.client("root_admin").await;
    let (s, _) = root
        .post_json(&format!("/api/v1/staff/{both}/roles"), &json!({"community_id": t.c2, "role": "finance_clerk"}))
        .await;
    assert_eq!(s, 201);
}

/// Point 2: a read-only token is refused on every write, at the edge and below it; it
/// still reads.
#[tokio::test]
async fn p2_read_only_tokens_never_write() {
    let t = TestApp::spawn().await;
    let director = t.as_role(Role::CentreDirector).await;
    let (_, tok) = director.post_json("/api/v1/me/tokens", &json!({"name": "看板", "write": false})).await;
    let secret = tok["secret"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let before = t.audit_count().await;
    for (method, path, body) in [
        (Method::POST, format!("/api/v1/communities/{}/sheets", t.c1), json!({})),
        (
            Method::POST,
            "/api/v1/staff".to_string(),
            json!({"username": "x_made", "display_name": "某人", "password": "Pass-word-1"}),
        ),
        (Method::POST, "/api/v1/me/tokens".to_string(), json!({"name": "more", "write": true})),
        (Method::PUT, "/api/v1/me/locale".to_string(), json!({"locale": "en"})),
        (
            Method::PUT,
            "/api/v1/me/password".to_string(),
            json!({"current_password": PASSWORD, "new_password": "Another-1"}),
        ),
        (Method::POST, "/api/v1/sheets/1/actions".to_string(), json!({"version": 1, "action": {"type": "archive"}})),
    ] {
        let r = http.request(method.clone(), t.url(&path)).bearer_auth(&secret).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "token_read_only", "{method} {path}");
    }
    let r = http.get(t.url(&format!("/api/v1/communities/{}/sheets", t.c1))).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), 200, "it still reads");
    assert_eq!(t.audit_count().await, before);
    assert_eq!(sign_in_status(&t, "u_centre_director", PASSWORD).await.0, 200, "the password did not change");
}

/// Point 3: a password change revokes the API tokens unless asked to keep them; an
/// administrator's reset always does.
#[tokio::test]
async fn p3_tokens_stop_working_when_the_password_changes() {
    let t = TestApp::spawn().await;
    let c = t.as_role(Role::CsManager).await;
    let token = |c: &Client| {
        let c = c.http.clone();
        let url = t.url("/api/v1/me/tokens");
        async move {
            let r = c.post(url).json(&json!({"name": "报表", "write": true})).send().await.unwrap();
            r.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_string()
        }
    };
    let me = |secret: String| {
        let url = t.url("/api/v1/me");
        async move { reqwest::Client::new().get(url).bearer_auth(secret).send().await.unwrap().status().as_u16() }
    };
    let kept = token(&c).await;
    let (s, _) = c
        .put_json(
            "/api/v1/me/password",
            &json!({"current_password": PASSWORD, "new_password": "Second-pass-2", "keep_tokens": true}),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(me(kept.clone()).await, 200, "kept on request");
    let (s, _) = c
        .put_json("/api/v1/me/password", &json!({"current_password": "Second-pass-2", "new_password": "Third-pass-3"}))
        .await;
    assert_eq!(s, 204);
    assert_eq!(me(kept).await, 401, "revoked by default");
    let again = token(&c).await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let (_, who) = c.get_json("/api/v1/me").await;
    let id = who["user"]["id"].as_i64().unwrap();
    let (s, _) =
        admin.post_json(&format!("/api/v1/staff/{id}/reset-password"), &json!({"password": "Temp-pass-44"})).await;
    assert_eq!(s, 204);
    assert_eq!(me(again).await, 401, "an administrator's reset revokes them");
    // Until the temporary password is replaced, the API allows only that.
    let (http, b) = t.sign_in_json("u_cs_manager", "Temp-pass-44").await;
    assert_eq!(b["must_change_password"], true);
    let csrf = b["csrf_token"].as_str().unwrap().to_string();
    let r = http.get(t.url(&format!("/api/v1/communities/{}/units", t.c1))).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "password_change_required");
    let r = http
        .post(t.url("/api/v1/me/tokens"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "x", "write": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(http.get(t.url("/api/v1/me")).send().await.unwrap().status(), 200);
    let r = http
        .put(t.url("/api/v1/me/password"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"current_password": "Temp-pass-44", "new_password": "Own-pass-55"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http.get(t.url(&format!("/api/v1/communities/{}/units", t.c1))).send().await.unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

/// Point 3: second-factor codes are limited per pending sign-in, and count toward the
/// account's lockout.
#[tokio::test]
async fn p3_second_factor_codes_are_limited_per_sign_in() {
    let t = TestApp::spawn_with(|c| {
        c.auth.require_totp_roles = vec!["centre_director".into()];
        c.auth.max_failed_logins = 8;
    })
    .await;
    // Enrol the director's second factor.
    let (http, b) = t.sign_in_json("u_centre_director", PASSWORD).await;
    let csrf = b["csrf_token"].as_str().unwrap().to_string();
    let setup: Value =
        http.post(t.url("/api/v1/me/totp")).header("x-csrf-token", &csrf).send().await.unwrap().json().await.unwrap();
    let secret = setup["secret_base32"].as_str().unwrap().to_string();
    let code = |at: u64| {
        let bytes = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into()).unwrap().generate(at)
    };
    let now = chrono::Utc::now().timestamp() as u64;
    let r = http
        .post(t.url("/api/v1/me/totp/confirm"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": code(now)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // A new sign-in waits for a code: five wrong ones end it.
    let (pending, b) = t.sign_in_json("u_centre_director", PASSWORD).await;
    assert_eq!(b["second_factor"], "required");
    let csrf = b["csrf_token"].as_str().unwrap().to_string();
    let wrong = if code(now + 60) == "123456" { "654321" } else { "123456" };
    for i in 1..=auth::SECOND_FACTOR_TRIES {
        let r = pending
            .post(t.url("/api/v1/auth/second-factor"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"code": wrong}))
            .send()
            .await
            .unwrap();
        let expect = if i < auth::SECOND_FACTOR_TRIES { 422 } else { 401 };
        assert_eq!(r.status(), expect, "wrong code {i}");
    }
    // The right code no longer helps: the pending sign-in has ended.
    let r = pending
        .post(t.url("/api/v1/auth/second-factor"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": code(now + 30)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let failures: i64 = sqlx::query_scalar("SELECT failed_logins FROM users WHERE username = 'u_centre_director'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(failures, auth::SECOND_FACTOR_TRIES, "each wrong code counts toward the lockout");
    // In the browser: the fifth wrong code sends the person back to the password, saying why.
    let page =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = page
        .post(t.url("/login"))
        .form(&[("username", "u_centre_director"), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/login/second-factor");
    let html = page.get(t.url("/login/second-factor")).send().await.unwrap().text().await.unwrap();
    let csrf = html.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let mut last = None;
    for _ in 0..auth::SECOND_FACTOR_TRIES {
        let r = page
            .post(t.url("/login/second-factor"))
            .form(&[("_csrf", csrf.as_str()), ("code", wrong)])
            .send()
            .await
            .unwrap();
        last = Some((r.status().as_u16(), r.headers().get("location").map(|v| v.to_str().unwrap().to_string())));
    }
    assert_eq!(last, Some((303, Some("/login?again=second_factor".to_string()))));
    let html = page.get(t.url("/login?again=second_factor")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("动态口令错误次数过多"), "the page says why");
}

/// Point 4: only same-site paths are followed after sign-in; nothing in `next` yields a 5xx.
#[tokio::test]
async fn p4_sign_in_redirects_only_within_the_site() {
    let t = TestApp::spawn().await;
    for next in [
        "/%09/evil.example/",
        "//evil.example",
        "/%5Cevil.example",
        "/x%0D%0ASet-Cookie:%20a=b",
        "https://evil.example",
    ] {
        let c = t.anon();
        let r = c.get(t.url(&format!("/login?next={next}"))).send().await.unwrap();
        assert_eq!(r.status(), 200, "{next}");
        let html = r.text().await.unwrap();
        assert!(!html.contains("evil.example") && !html.contains("Set-Cookie"), "{next}");
        let r = c
            .post(t.url("/login"))
            .form(&[("username", "u_receptionist"), ("password", PASSWORD), ("next", &decode(next))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{next}");
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with('/') && !to.starts_with("//") && !to.contains("evil"), "{next} → {to}");
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().unwrap().1.into_owned()
}

/// Point 5: a bearer header on a page route does not skip the CSRF check, and the token
/// is never taken from the query string.
#[tokio::test]
async fn p5_csrf_is_not_skipped_by_a_bearer_header_nor_read_from_the_address() {
    let t = TestApp::spawn().await;
    let c = t.as_role(Role::Receptionist).await;
    // Without the token: refused, whatever bearer header comes with it.
    let no_header =
        reqwest::Client::builder().cookie_provider(cookie_jar_of(&t, "u_receptionist").await).build().unwrap();
    let r = no_header
        .post(t.url("/lang"))
        .header("authorization", "Bearer hq_not_a_token")
        .form(&[("lang", "en"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a bearer header on a page route");
    let r = no_header
        .post(t.url(&format!("/lang?_csrf={}", c.csrf)))
        .form(&[("lang", "en"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the token in the address");
    let r = no_header
        .post(t.url("/lang"))
        .form(&[("_csrf", c.csrf.as_str()), ("lang", "en"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "another session's token");
}

/// A cookie jar signed in as `username` (no CSRF header sent by default).
async fn cookie_jar_of(t: &TestApp, username: &str) -> std::sync::Arc<reqwest::cookie::Jar> {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder().cookie_provider(jar.clone()).build().unwrap();
    let r = http
        .post(t.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    jar
}

/// Point 6: the lockout answers alike for names that exist and names that do not.
#[tokio::test]
async fn p6_lockout_does_not_tell_which_names_exist() {
    let t = TestApp::spawn().await;
    let max = t.app.config.auth.max_failed_logins;
    let mut answers = Vec::new();
    for name in ["u_receptionist", "nobody_here"] {
        let mut seen = Vec::new();
        for _ in 0..=max {
            let (s, b) = sign_in_status(&t, name, "Wrong-pass-9").await;
            seen.push((s, b["error"]["code"].as_str().unwrap_or_default().to_string()));
        }
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "the same answers, in the same order");
    assert_eq!(answers[0].last().unwrap(), &(423, "account_locked".to_string()));
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT name_hash FROM sign_in_failures").fetch_all(t.app.store.read()).await.unwrap();
    assert!(stored.iter().all(|h| !h.contains("nobody")), "the names typed are not stored");
}

/// Point 7: authenticated pages and every API answer are not kept in caches.
#[tokio::test]
async fn p7_private_answers_are_not_cached() {
    let t = TestApp::spawn().await;
    let c = t.as_role(Role::Receptionist).await;
    for path in ["/", "/api/v1/me", &format!("/api/v1/communities/{}/units", t.c1), "/api/v1/nowhere"] {
        let r = c.get(path).await;
        assert_eq!(r.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    }
    let r = t.anon().get(t.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
}

/// Point 8: every 4xx of the API has the JSON error shape, and bad input never yields a 5xx.
#[tokio::test]
async fn p8_bad_input_gets_json_errors_never_5xx() {
    let t = TestApp::spawn().await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let shape = |s: u16, b: &Value, what: &str| {
        assert!((400..500).contains(&s), "{what}: {s} {b}");
        assert!(b["error"]["code"].is_string() && b["error"]["message"].is_string(), "{what}: {b}");
    };
    for path in [
        "/api/v1/units/abc".to_string(),
        "/api/v1/nowhere".to_string(),
        format!("/api/v1/communities/{}/sheets?limit=many", t.c1),
        format!("/api/v1/communities/{}/sheets?from=1e999", t.c1),
        "/api/v1/units/99999999999999999999999".to_string(),
    ] {
        let (s, b) = admin.get_json(&path).await;
        shape(s, &b, &path);
    }
    // Writes under a community that does not exist: 404, for a company-wide administrator too.
    let root = {
        make_staff(&t, "root_p8", &[(None, Role::SystemAdmin)]).await;
        t.client("root_p8").await
    };
    for (method, path, body) in [
        (Method::POST, "/api/v1/communities/987654/departments", json!({"name": "工程部", "kind": "engineering"})),
        (Method::POST, "/api/v1/communities/987654/buildings", json!({"code": "1"})),
        (Method::POST, "/api/v1/communities/987654/articles", json!({"title": "a", "answer": "b", "basis": "c"})),
        (
            Method::POST,
            "/api/v1/communities/987654/price-items",
            json!({"name": "a", "unit": "次", "item_kind": "labour", "price": "1"}),
        ),
        (Method::PUT, "/api/v1/communities/987654/clock-targets", json!({"targets": []})),
        (Method::PUT, "/api/v1/communities/987654/calendar/week", json!({"days": []})),
    ] {
        let (s, b) = root.send_json(method.clone(), path, &body).await;
        assert!(s == 404 || s == 422, "{method} {path}: {s} {b}");
        shape(s, &b, path);
    }
    // A NUL character anywhere in text: 422, naming the field, nothing stored.
    let sheets = t.count("sheets").await;
    let desk = t.as_role(Role::Receptionist).await;
    let (s, b) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "inquiry", "channel": "visit", "requester_name": "王\u{0}秀英", "reason": "问路",
                    "signature": crate::sheets::SIGNATURE}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["fields"][0]["field"], "requester_name");
    let (s, b) = desk.get_json(&format!("/api/v1/communities/{}/sheets?q=%00", t.c1)).await;
    assert_eq!(s, 422, "{b}");
    let r = desk.post_form("/lang", &[("lang", "en\u{0}"), ("next", "/")]).await;
    assert_eq!(r.status(), 422);
    assert_eq!(t.count("sheets").await, sheets);
    // In an imported file too.
    let m = t.as_role(Role::CsManager).await;
    let csv = "房号,建筑面积,姓名\n1-1-101,80,王\u{0}一\n";
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("名册.csv"));
    let r = m.http.post(m.url(&format!("/api/v1/communities/{}/imports", t.c1))).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let b: Value = r.json().await.unwrap();
    assert!(b["error"]["fields"][0]["code"] == "import.nul" || b["error"]["code"] == "import.nul", "{b}");
    // Overflowing numbers.
    let (s, b) = desk.post_json("/api/v1/me/tokens", &json!({"name": "x", "expires_in_days": i64::MAX})).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["fields"][0]["field"], "expires_in_days");
    // A multipart body that is not one.
    let r = desk
        .http
        .post(desk.url("/api/v1/sheets/1/attachments"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("garbage")
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let b: Value = r.json().await.unwrap();
    shape(s, &b, "multipart garbage");
}

/// Point 9: uploads are what they claim to be.
#[tokio::test]
async fn p9_uploads_are_decoded_before_they_are_stored() {
    let t = TestApp::spawn().await;
    let desk = t.as_role(Role::Receptionist).await;
    let (s, v) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &json!({"kind": "repair", "channel": "phone", "requester_name": "王秀英", "reason": "灯坏了",
                    "repair": {"category": "electrical"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let send = |purpose: &'static str, name: &'static str, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("purpose", purpose)
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name));
        desk.http.post(desk.url(&format!("/api/v1/sheets/{id}/attachments"))).multipart(form).send()
    };
    let mut fake_png = b"\x89PNG\r\n\x1a\n".to_vec();
    fake_png.extend_from_slice(b"%PDF-1.7\n<html><script>alert(1)</script></html>\n%%EOF");
    let mut fake_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    fake_jpeg.extend_from_slice(b"<html><body onload=alert(1)></body></html>");
    for (purpose, name, bytes, code) in [
        ("photo", "a.png", fake_png.clone(), "upload.not_an_image"),
        ("file", "a.png", fake_png, "upload.not_an_image"),
        ("photo", "b.jpg", fake_jpeg, "upload.not_an_image"),
        ("photo", "c.pdf", b"%PDF-1.7\n1 0 obj\n%%EOF\n".to_vec(), "upload.photo_type"),
        ("file", "d.pdf", b"%PDF-1.7\n1 0 obj <<>>".to_vec(), "upload.incomplete"),
        ("file", "e.html", b"<html></html>".to_vec(), "upload.type"),
    ] {
        let r = send(purpose, name, bytes).await.unwrap();
        assert_eq!(r.status(), 422, "{purpose} {name}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["fields"][0]["code"], code, "{purpose} {name}: {b}");
    }
    assert_eq!(t.count("attachments").await, 0, "nothing refused was stored");
    for (purpose, name, bytes) in [
        ("photo", "灯.jpg", jpeg(80, 60)),
        ("photo", "灯.png", png(32, 32)),
        ("file", "报告.pdf", b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec()),
    ] {
        assert_eq!(send(purpose, name, bytes).await.unwrap().status(), 200, "{name}");
    }
    assert_eq!(t.count("attachments").await, 3);
}

/// Point 11: a replayed registration says so, a reused key with another body is refused,
/// and sixteen concurrent retries each get the one sheet (or a clear 409), never a 5xx.
#[tokio::test]
async fn p11_idempotent_registration_keeps_the_api_promises() {
    let t = TestApp::spawn().await;
    crate::sheets::setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let url = desk.url(&format!("/api/v1/communities/{}/sheets", t.c1));
    let body = json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": "物业费怎么交"});
    let first = desk.http.post(&url).header("idempotency-key", "p11-a").json(&body).send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = desk.http.post(&url).header("idempotency-key", "p11-a").json(&body).send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let other = json!({"kind": "inquiry", "channel": "phone", "requester_name": "李强", "reason": "停车位"});
    let r = desk.http.post(&url).header("idempotency-key", "p11-a").json(&other).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["fields"][0]["code"], "idempotency.key_reused");
    assert_eq!(t.count("sheets").await, 1);
    // Sixteen at once with one key.
    let body = json!({"kind": "repair", "channel": "phone", "requester_name": "赵敏", "reason": "厨房下水道堵塞",
                      "repair": {"category": "drainage"}});
    let sends = (0..16).map(|_| {
        let (http, url, body) = (desk.http.clone(), url.clone(), body.clone());
        async move {
            let r = http.post(&url).header("idempotency-key", "p11-burst").json(&body).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let ids: std::collections::HashSet<i64> =
        answers.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b["id"].as_i64().unwrap()).collect();
    for (s, b) in &answers {
        assert!(*s == 201 || (*s == 409 && b["error"]["code"] == "request_in_progress"), "{s} {b}");
    }
    assert_eq!(ids.len(), 1, "one sheet for every answer: {answers:?}");
    assert_eq!(t.count("sheets").await, 2);
    // The pool is not exhausted: the desk carries on at once.
    let (s, _) = desk.get_json(&format!("/api/v1/communities/{}/sheets", t.c1)).await;
    assert_eq!(s, 200);
}

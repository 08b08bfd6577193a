//! The command line operators' scripts rely on (foundation §9).

use crate::harness::{TestApp, backend};
use std::process::{Command, Output};

fn huiqian(t: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_huiqian"))
        .args(args)
        .env("HUIQIAN_DATABASE_URL", &t.db_url)
        .env("HUIQIAN_DATA", &t.app.config.data)
        .env("HUIQIAN_SECRET_KEY", &t.app.config.secret_key)
        .env_remove("HUIQIAN_PASSWORD")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn config_check_redacts_secrets() {
    let t = TestApp::spawn().await;
    let o = Command::new(env!("CARGO_BIN_EXE_huiqian"))
        .args(["config", "check"])
        .env("HUIQIAN_DATABASE_URL", "postgres://hq:s3cret-pw@db.internal:5432/hq")
        .env("HUIQIAN_SECRET_KEY", &t.app.config.secret_key)
        .env("HUIQIAN_LISTEN", "0.0.0.0:9000")
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(!out.contains("s3cret-pw") && !out.contains(&t.app.config.secret_key), "{out}");
    assert!(out.contains("postgres://hq:redacted@db.internal:5432/hq"), "{out}");
    assert!(out.contains("secret_key = \"<redacted>\""), "{out}");
}

#[tokio::test]
async fn settings_come_from_the_config_file_and_unknown_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("huiqian.toml"), "listen = \"127.0.0.1:9234\"\n[auth]\nidle_timeout_minutes = 15\n")
        .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_huiqian"))
        .args(["config", "check"])
        .env("HUIQIAN_DATA", dir.path())
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains("listen = \"127.0.0.1:9234\""), "{out}");
    assert!(out.contains("idle_timeout_minutes = 15"), "{out}");
    std::fs::write(dir.path().join("huiqian.toml"), "listen = \"127.0.0.1:9234\"\nno_such_setting = 1\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_huiqian"))
        .args(["config", "check"])
        .env("HUIQIAN_DATA", dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success(), "an unknown setting is an error, not ignored");
}

#[tokio::test]
async fn user_add_and_reset_password() {
    let t = TestApp::spawn().await;
    let o = huiqian(
        &t,
        &[
            "user",
            "add",
            "--username",
            "zhangwei",
            "--name",
            "张伟",
            "--role",
            "receptionist@HY",
            "--role",
            "technician@LY",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("temporary password: "), "{out}");
    let pw = out.split("temporary password: ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let r = t
        .anon()
        .post(t.url("/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"username": "zhangwei", "password": pw}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["must_change_password"], true);
    let roles: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_roles r JOIN users u ON u.id = r.user_id WHERE u.username = 'zhangwei'",
    )
    .fetch_one(t.app.store.read())
    .await
    .unwrap();
    assert_eq!(roles, 2);
    let o = huiqian(&t, &["user", "add", "--username", "Bad Name", "--name", "x1", "--password", "short"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("username") && err.contains("password"), "{err}");
    let o = huiqian(&t, &["user", "reset-password", "--username", "zhangwei", "--password", "Reset-pass-123"]);
    assert!(o.status.success());
    let r = t
        .anon()
        .post(t.url("/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"username": "zhangwei", "password": "Reset-pass-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn audit_verify_and_migrate() {
    let t = TestApp::spawn().await;
    let o = huiqian(&t, &["audit", "verify"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("audit trail intact"));
    let o = huiqian(&t, &["migrate"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains(&format!("({})", backend())));
    let drop = if backend() == "postgres" {
        "DROP TRIGGER audit_log_no_update ON audit_log"
    } else {
        "DROP TRIGGER audit_log_no_update"
    };
    sqlx::query(drop).execute(t.app.store.read()).await.unwrap();
    sqlx::query("UPDATE audit_log SET changes = '{}' WHERE seq = 2").execute(t.app.store.read()).await.unwrap();
    let o = huiqian(&t, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("entry 2 was altered"));
}

#[test]
fn a_mistyped_database_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_huiqian"))
        .args(["migrate", "--database-url"])
        .arg(format!("sqlite://{}/typo.db", dir.path().display()))
        .env("HUIQIAN_DATA", dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    assert!(!dir.path().join("typo.db").exists());
}

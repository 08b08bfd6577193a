//! Storage rules that must hold on both backends.

use crate::harness::{TestApp, backend, fresh_database_url, test_config};
use huiqian::store::{MIGRATIONS_POSTGRES, MIGRATIONS_SQLITE, Store, StoreError};

#[test]
fn both_backends_have_the_same_migration_versions() {
    let a: Vec<(i64, &str)> = MIGRATIONS_SQLITE.iter().map(|m| (m.version, m.name)).collect();
    let b: Vec<(i64, &str)> = MIGRATIONS_POSTGRES.iter().map(|m| (m.version, m.name)).collect();
    assert_eq!(a, b);
}

#[tokio::test]
async fn migrations_are_idempotent_and_an_edited_one_is_refused() {
    let t = TestApp::spawn().await;
    assert!(t.app.store.migrate().await.unwrap().is_empty(), "nothing left to apply");
    sqlx::query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        .execute(t.app.store.read())
        .await
        .unwrap();
    assert!(matches!(t.app.store.migrate().await, Err(StoreError::MigrationChanged { version: 1, .. })));
}

#[tokio::test]
async fn a_mistyped_url_is_an_error_not_a_new_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("no-such.db").display());
    assert!(matches!(Store::connect(&missing, false).await, Err(StoreError::MissingSqliteFile(_))));
    assert!(!dir.path().join("no-such.db").exists());
    assert!(matches!(Store::connect("mysql://localhost/x", false).await, Err(StoreError::BadUrl(_))));
    assert!(Store::connect("postgres://postgres@127.0.0.1:5432/no_such_database_hq", false).await.is_err());
}

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let app = huiqian::cli::open_with(test_config(dir.path(), &url), true).await.unwrap();
    let id = huiqian::app::org::create_company(&app, &huiqian::app::Actor::cli(), "重启测试物业").await.unwrap();
    app.store.close().await;
    drop(app);
    let app = huiqian::cli::open_with(test_config(dir.path(), &url), false).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM companies WHERE id = $1")
        .bind(id)
        .fetch_all(app.store.read())
        .await
        .unwrap();
    assert_eq!(names, vec!["重启测试物业"]);
    assert_eq!(app.store.backend().name(), backend());
}

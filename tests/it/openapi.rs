//! The OpenAPI document is generated from the handlers; this snapshot makes every change
//! to the API visible in review. Refresh with `UPDATE_SNAPSHOTS=1`.

use crate::harness::TestApp;

#[tokio::test]
async fn openapi_document_matches_snapshot() {
    let t = TestApp::spawn().await;
    let doc: serde_json::Value = t.anon().get(t.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(path).expect("snapshot exists (run with UPDATE_SNAPSHOTS=1 to create it)");
    assert!(
        expected == text,
        "the API changed: review and refresh tests/snapshots/openapi.json with UPDATE_SNAPSHOTS=1"
    );
    assert!(doc["paths"]["/api/v1/communities/{id}/units"]["post"].is_object());
}

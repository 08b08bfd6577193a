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

/// Point 12 of the security review: every `$ref` in the document names a schema it defines.
#[tokio::test]
async fn p12_every_reference_resolves() {
    let t = TestApp::spawn().await;
    let doc: serde_json::Value = t.anon().get(t.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", serde_json::Value::String(r)) => out.push(r.clone()),
                        _ => refs(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50);
    let unresolved: Vec<&String> = all
        .iter()
        .filter(|r| {
            let pointer = r.strip_prefix('#').unwrap_or("(not local)");
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(unresolved.is_empty(), "references to nothing: {unresolved:?}");
    // Schema objects are what OpenAPI 3.1 allows where schemathesis and clients read them:
    // `items` is one schema (a tuple would need `prefixItems`), `type` names JSON types.
    fn shapes(v: &serde_json::Value, at: &str, bad: &mut Vec<String>) {
        const TYPES: [&str; 7] = ["string", "integer", "number", "boolean", "array", "object", "null"];
        match v {
            serde_json::Value::Object(m) => {
                if let Some(items) = m.get("items")
                    && !(items.is_object() || items.is_boolean())
                {
                    bad.push(format!("{at}/items is not a schema"));
                }
                match m.get("type") {
                    Some(serde_json::Value::String(t)) if !TYPES.contains(&t.as_str()) => {
                        bad.push(format!("{at}/type {t}"))
                    }
                    Some(serde_json::Value::Array(ts))
                        if ts.iter().any(|t| !t.as_str().is_some_and(|t| TYPES.contains(&t))) =>
                    {
                        bad.push(format!("{at}/type {ts:?}"))
                    }
                    _ => {}
                }
                for (k, x) in m {
                    if !matches!(k.as_str(), "example" | "examples" | "securitySchemes") {
                        shapes(x, &format!("{at}/{k}"), bad);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| shapes(x, &format!("{at}/{i}"), bad)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    shapes(&doc, "", &mut bad);
    assert!(bad.is_empty(), "invalid schema objects: {bad:?}");
}

/// Point 12: no two types share a schema name (utoipa would keep one of them silently and
/// describe the other's routes with it). Every `ToSchema` type in the source, by the name
/// it is published under.
#[test]
fn p12_schema_names_are_unique() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut names: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut stack = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if !(line.trim_start().starts_with("#[derive(") && line.contains("ToSchema")) {
                    continue;
                }
                let mut published = None;
                for next in &lines[i + 1..] {
                    let next = next.trim();
                    if let Some(rest) = next.strip_prefix("#[schema(as = ") {
                        published = Some(rest.trim_end_matches(")]").rsplit("::").next().unwrap().to_string());
                    }
                    let decl = next.strip_prefix("pub ").unwrap_or(next);
                    let decl = decl.strip_prefix("(crate) ").unwrap_or(decl);
                    if let Some(rest) = decl.strip_prefix("struct ").or_else(|| decl.strip_prefix("enum ")) {
                        let own: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        let at = format!("{}:{}", path.strip_prefix(root).unwrap().display(), i + 1);
                        names.entry(published.unwrap_or(own)).or_default().push(at);
                        break;
                    }
                }
            }
        }
    }
    assert!(names.len() > 50, "the scan found the API's types");
    let clashes: Vec<_> = names.into_iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(clashes.is_empty(), "schema names used by more than one type (add #[schema(as = …)]): {clashes:?}");
}

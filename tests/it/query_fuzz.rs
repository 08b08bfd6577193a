//! Query strings from outside (issue point 6): every GET route of the API (from its
//! OpenAPI document) and of the pages, asked with malformed, oversized and hostile query
//! strings by a manager and by a receptionist, never answers with a server error.
//! `HUIQIAN_FUZZ_CASES` sets the query strings per route (default 3).

use crate::harness::TestApp;
use crate::workload;
use huiqian::domain::auth::Role;
use serde_json::Value;

/// Values a query parameter may be given by a careless or hostile client.
const VALUES: &[&str] = &[
    "",
    "0",
    "-1",
    "1",
    "99999999999999999999999",
    "-9223372036854775808",
    "1e309",
    "NaN",
    "true",
    "abc",
    "%FF%FE",
    "%",
    "%%",
    "%00",
    "2026-13-45",
    "2026-02-30",
    "9999-12-31",
    "0000-00-00",
    "😀",
    "和园%20漏水",
    "'; DROP TABLE sheets; --",
    "<script>alert(1)</script>",
    "a=b&c",
    "[]",
    "{}",
    "desc",
    "asc",
    "csv",
    "xlsx",
    "repair",
    "registered",
    "13812345678",
    "5678",
    "3-2-1502",
    "KF-2026-000001",
    "+",
    "..",
    "/etc/passwd",
];

/// Names the routes use, plus nonsense.
const NAMES: &[&str] = &[
    "q",
    "page",
    "limit",
    "offset",
    "sort",
    "dir",
    "format",
    "from",
    "to",
    "week",
    "community_id",
    "state",
    "kind",
    "number",
    "phone_last4",
    "dry_run",
    "unread",
    "list",
    "period",
    "year",
    "month",
    "before_seq",
    "action",
    "entity_type",
    "user",
    "_csrf",
    "next",
    "lang",
    "",
    "q[]",
    "a.b",
    "%71",
];

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn query(rng: &mut Rng, declared: &[String]) -> String {
    let mut parts = vec![];
    for _ in 0..rng.below(6) + 1 {
        let name = if !declared.is_empty() && rng.below(3) > 0 {
            declared[rng.below(declared.len())].clone()
        } else {
            NAMES[rng.below(NAMES.len())].to_string()
        };
        let value = match rng.below(12) {
            0 => "x".repeat(5000),
            _ => VALUES[rng.below(VALUES.len())].to_string(),
        };
        // Raw: percent-signs and brackets reach the server as written.
        parts.push(format!("{name}={value}").replace(' ', "%20").replace('#', "%23"));
    }
    parts.join("&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_query_strings_never_cause_a_server_error() {
    let cases: usize = std::env::var("HUIQIAN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let seed = crate::harness::now_nanos() | 1;
    let mut rng = Rng(seed);
    let t = TestApp::spawn().await;
    workload::prepare(&t.app, t.c1).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CentreDirector).await;
    let (_, sheet) = desk
        .post_json(
            &format!("/api/v1/communities/{}/sheets", t.c1),
            &serde_json::json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": "停水"}),
        )
        .await;
    let sheet = sheet["id"].as_i64().unwrap().to_string();
    let doc: Value = reqwest::get(t.url("/api/openapi.json")).await.unwrap().json().await.unwrap();
    let mut routes: Vec<(String, Vec<String>)> = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let declared = get["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter().filter(|p| p["in"] == "query").map(|p| p["name"].as_str().unwrap().to_string()).collect()
            })
            .unwrap_or_default();
        routes.push((format!("/api/v1{path}"), declared));
    }
    for page in [
        "/",
        "/sheets",
        "/sheets/find",
        "/sheets/{id}",
        "/queues",
        "/handovers",
        "/inbox",
        "/persons",
        "/audit",
        "/follow-ups",
        "/follow-up-ledger",
        "/follow-up-sampling",
        "/capas",
        "/repairs/board",
        "/repairs/day",
        "/reports/weekly",
        "/reports/staff",
        "/requests/articles/search",
        "/requests/ledger/repair",
        "/staff",
        "/communities/{id}/units",
        "/login",
    ] {
        routes.push((page.to_string(), vec![]));
    }
    assert!(routes.len() > 60, "the API's GET routes were read from its document");
    let fill = |path: &str| {
        let mut p = path.to_string();
        for (name, value) in [
            ("{id}", t.c1.to_string()),
            ("{sheet}", sheet.clone()),
            ("{user}", "1".to_string()),
            ("{measure}", "registered".to_string()),
            ("{name}", "repair".to_string()),
            ("{period}", "2026-06".to_string()),
            ("{day}", "2026-10-01".to_string()),
        ] {
            p = p.replace(name, &value);
        }
        // Any other parameter: a number.
        while let (Some(a), Some(b)) = (p.find('{'), p.find('}')) {
            p.replace_range(a..=b, "1");
        }
        p
    };
    let mut failures = vec![];
    let mut asked = 0;
    for (path, declared) in &routes {
        let path = fill(path);
        for _ in 0..cases {
            let q = query(&mut rng, declared);
            for c in [&desk, &manager] {
                let r = c.http.get(format!("{}{path}?{q}", t.base)).send().await.unwrap();
                asked += 1;
                if r.status().is_server_error() {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    failures.push(format!(
                        "{status} GET {path}?{} → {}",
                        &q[..q.len().min(200)],
                        &body[..body.len().min(200)]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "server errors (seed {seed}):\n{}", failures.join("\n"));
    println!("query strings: {asked} requests over {} routes, no server error (seed {seed})", routes.len());
}

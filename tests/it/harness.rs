//! `TestApp`: a fresh database (a SQLite file, or a PostgreSQL schema of its own), a
//! server on 127.0.0.1:0, a company with two communities and a user for every role.

use huiqian::app::{Actor, App, Clock, auth, org};
use huiqian::config::Config;
use huiqian::domain::auth::Role;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub const PASSWORD: &str = "Test-pass-123";

pub fn backend() -> String {
    std::env::var("HUIQIAN_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

fn pg_base() -> String {
    std::env::var("HUIQIAN_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestApp {
    pub app: App,
    pub base: String,
    pub company: i64,
    /// Two communities: `c1` (HY, 和园) and `c2` (LY, 柳园).
    pub c1: i64,
    pub c2: i64,
    /// Username of the user holding each role in `c1`.
    pub users: HashMap<Role, String>,
    pub db_url: String,
    _dir: tempfile::TempDir,
}

/// A database URL of its own for one test.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    if backend() == "postgres" {
        fresh_postgres_url().await
    } else {
        format!("sqlite://{}", dir.join("test.db").display())
    }
}

/// A PostgreSQL schema of its own for one test, whatever the backend under test.
pub async fn fresh_postgres_url() -> String {
    {
        // The schema names the test process, so that a later run can drop the schemas of
        // processes that have ended (and only those: a concurrent run keeps its own).
        let pid = std::process::id();
        let schema = format!("hq_t_{pid}_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_base())
            .await
            .expect("PostgreSQL must be reachable for HUIQIAN_TEST_BACKEND=postgres (127.0.0.1:5432)");
        static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        CLEANED
            .get_or_init(|| async {
                let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_base()).await.expect("PostgreSQL");
                let old: Vec<String> =
                    sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'hq\\_t\\_%'")
                        .fetch_all(&mut c)
                        .await
                        .unwrap_or_default();
                for name in old {
                    let owner: Option<u32> = name.split('_').nth(2).and_then(|p| p.parse().ok());
                    let alive = owner.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
                    if !alive {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut c).await;
                    }
                }
            })
            .await;
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("create schema");
        format!("{}?options=-c%20search_path%3D{schema}", pg_base())
    }
}

pub fn test_config(dir: &std::path::Path, db_url: &str) -> Config {
    let mut cfg = Config { data: dir.to_path_buf(), database_url: db_url.to_string(), ..Config::default() };
    cfg.secret_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into();
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.auth.require_totp_roles = vec![];
    cfg
}

/// A database with the test company: two communities and a user for every role in `c1`.
pub struct Seeded {
    pub app: App,
    pub company: i64,
    pub c1: i64,
    pub c2: i64,
    pub users: HashMap<Role, String>,
}

/// Open (and migrate) the configured database and fill it with the test company. The
/// application runs on a shifted clock, which [`TestApp::advance`] moves.
pub async fn seed(cfg: Config) -> Seeded {
    let app = huiqian::cli::open_on(cfg, true, Clock::shifted()).await.expect("open database");
    let cli = Actor::cli();
    let company = org::create_company(&app, &cli, "测试物业有限公司").await.unwrap();
    let mk = |code: &str, name: &str| org::CommunityInput {
        company_id: company,
        code: code.into(),
        name: name.into(),
        timezone: String::new(),
        address: String::new(),
        phone: String::new(),
        active: true,
    };
    let c1 = org::create_community(&app, &cli, &mk("HY", "和园")).await.unwrap().id;
    let c2 = org::create_community(&app, &cli, &mk("LY", "柳园")).await.unwrap().id;
    let mut users = HashMap::new();
    for role in Role::ALL {
        let username = format!("u_{}", role.as_str());
        let u = new_staff(&app, &username, &format!("测试{}", role.label_zh()), PASSWORD, READY).await;
        auth::grant_role(&app, &cli, u, Some(c1), role, None, false).await.unwrap();
        users.insert(role, username);
    }
    Seeded { app, company, c1, c2, users }
}

/// How the tests' own accounts start: the password works as given (no change due), and
/// a second factor is asked for as of anyone else.
pub const READY: auth::StaffOptions = auth::StaffOptions { must_change_password: false, totp_exempt: false };

/// A member of staff made through the application as the command line does (no phone,
/// Chinese locale), starting as `options` says, without roles; the user's id.
pub async fn new_staff(
    app: &App,
    username: &str,
    display_name: &str,
    password: &str,
    options: auth::StaffOptions,
) -> i64 {
    let s = auth::NewStaff {
        username: username.into(),
        display_name: display_name.into(),
        password: password.into(),
        phone: String::new(),
        locale: "zh-CN".into(),
    };
    auth::create_staff(app, &Actor::cli(), &s, options).await.unwrap().id
}

/// Serve `app` on a free loopback port; its base address.
pub async fn serve(app: &App) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = app.clone();
    tokio::spawn(async move {
        let _ = huiqian::web::serve(serving, listener).await;
    });
    format!("http://{addr}")
}

/// Sign `username` in over the API at `base`: a client that keeps the session's cookie and
/// sends its CSRF token.
pub async fn sign_in(base: &str, username: &str, password: &str) -> Client {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign-in of {username}");
    let body: Value = r.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    let mut h = HeaderMap::new();
    h.insert("x-csrf-token", HeaderValue::from_str(&csrf).unwrap());
    let http = reqwest::Client::builder()
        .cookie_provider(jar)
        .default_headers(h)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Client { http, base: base.to_string(), csrf }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let db_url = fresh_database_url(dir.path()).await;
        let mut cfg = test_config(dir.path(), &db_url);
        tweak(&mut cfg);
        let s = seed(cfg).await;
        let base = serve(&s.app).await;
        TestApp { app: s.app, base, company: s.company, c1: s.c1, c2: s.c2, users: s.users, db_url, _dir: dir }
    }

    /// Now, on the application's clock.
    pub fn now(&self) -> i64 {
        self.app.clock.now()
    }

    /// Let `ms` milliseconds pass for the application (its pages, API, scheduler and
    /// store), at once.
    pub fn advance(&self, ms: i64) {
        self.app.clock.advance(ms);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client (cookie store) not signed in.
    pub fn anon(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// Sign in through the API; the client then sends the CSRF token with every request.
    pub async fn client(&self, username: &str) -> Client {
        sign_in(&self.base, username, PASSWORD).await
    }

    pub async fn as_role(&self, role: Role) -> Client {
        self.client(&self.users[&role].clone()).await
    }

    /// Another member of staff with one role in the first community, signed in.
    pub async fn staff(&self, username: &str, name: &str, role: Role) -> (i64, Client) {
        let id = new_staff(&self.app, username, name, PASSWORD, READY).await;
        auth::grant_role(&self.app, &self.cli(), id, Some(self.c1), role, None, false).await.unwrap();
        (id, self.client(username).await)
    }

    /// A client of its own that keeps cookies, and the answer to signing `username` in over
    /// the API with `password`, whatever its status.
    pub async fn sign_in_json(&self, username: &str, password: &str) -> (reqwest::Client, Value) {
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let b = http
            .post(self.url("/api/v1/auth/sign-in"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (http, b)
    }

    pub fn cli(&self) -> Actor {
        Actor::cli()
    }

    /// Number of audit entries.
    pub async fn audit_count(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(self.app.store.read()).await.unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(self.app.store.read()).await.unwrap()
    }
}

/// A signed-in HTTP client.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

impl Client {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }
    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let r = self.http.request(method, self.url(path)).json(body).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, path, body).await
    }
    pub async fn put_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::PUT, path, body).await
    }
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut f: Vec<(&str, &str)> = form.to_vec();
        f.push(("_csrf", &self.csrf));
        self.http.post(self.url(path)).form(&f).send().await.unwrap()
    }
}

/// A real JPEG photo of `w`×`h` pixels (a gradient, so it does not compress to nothing).
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A real PNG image of `w`×`h` pixels.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Nanoseconds since the epoch (a seed for generated test values).
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

//! Faults (issue point 5): PostgreSQL going away and coming back while serving, a full
//! disk under SQLite, slow clients, and a notice gateway that hangs.

use crate::harness::{PASSWORD, Seeded, TestApp, fresh_postgres_url, seed, test_config};
use crate::workload::{self, Session};
use huiqian::domain::auth::Role;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP relay in front of PostgreSQL that the test can cut: down, it drops every
/// connection it carries and refuses new ones (as a stopped server does); up, it
/// carries them again on the same port.
struct Relay {
    port: u16,
    up: watch::Sender<bool>,
}

impl Relay {
    async fn start(target: &'static str) -> Relay {
        let port = crate::process::free_port();
        let (up, rx) = watch::channel(true);
        tokio::spawn(async move {
            let mut rx = rx;
            loop {
                while !*rx.borrow() {
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.set_reuseaddr(true).unwrap();
                socket.bind(format!("127.0.0.1:{port}").parse().unwrap()).unwrap();
                let listener = socket.listen(64).unwrap();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((mut client, _)) = accepted else { continue };
                            let mut down = rx.clone();
                            tokio::spawn(async move {
                                let Ok(mut server) = TcpStream::connect(target).await else { return };
                                tokio::select! {
                                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                                    _ = async { while *down.borrow_and_update() { if down.changed().await.is_err() { break } } } => {}
                                }
                            });
                        }
                        changed = rx.changed() => {
                            if changed.is_err() { return; }
                            if !*rx.borrow() { break; }
                        }
                    }
                }
            }
        });
        Relay { port, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn serve(app: &huiqian::app::App) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = app.clone();
    tokio::spawn(async move { huiqian::web::serve(serving, listener).await });
    base
}

async fn register(desk: &Session, community: i64, reason: &str) -> (u16, Value) {
    let body = json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": reason});
    desk.post(&format!("/api/v1/communities/{community}/sheets"), &body).await.unwrap()
}

/// Issue point 5: PostgreSQL goes away while huiqian serves. Requests are answered at
/// once with 503 `database_unavailable` in the API's error shape (not after a long
/// wait), `/readyz` says not ready, nothing is written; when PostgreSQL is back the
/// server takes up again by itself, numbering where it left off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_is_answered_at_once_and_recovered_from() {
    let relay = Relay::start("127.0.0.1:5432").await;
    let direct = fresh_postgres_url().await;
    let url = direct.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", relay.port), 1);
    let dir = tempfile::tempdir().unwrap();
    let s: Seeded = seed(test_config(dir.path(), &url)).await;
    let base = serve(&s.app).await;
    let desk = Session::sign_in(std::slice::from_ref(&base), &s.users[&Role::Receptionist], PASSWORD).await;
    let (st, first) = register(&desk, s.c1, "停车卡办理").await;
    assert_eq!(st, 201, "{first}");
    let http = reqwest::Client::new();

    relay.set(false);
    let started = Instant::now();
    let (st, e) = register(&desk, s.c1, "电梯异响").await;
    assert_eq!((st, e["error"]["code"].as_str()), (503, Some("database_unavailable")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("数据库"), "in the user's language: {e}");
    assert!(started.elapsed() < Duration::from_secs(6), "the first request waited {:?}", started.elapsed());
    // Known unavailable: refused at once, with a time to retry.
    for path in ["/api/v1/me", "/api/v1/communities"] {
        let started = Instant::now();
        let r = desk.http.get(format!("{base}{path}")).send().await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(500), "{path} waited {:?}", started.elapsed());
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "database_unavailable");
    }
    let page = desk.http.get(format!("{base}/sheets")).send().await.unwrap();
    assert_eq!(page.status(), 503, "pages too, as an error page");
    let started = Instant::now();
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(2), "/readyz waited {:?}", started.elapsed());
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200, "the process itself is alive");

    relay.set(true);
    let started = Instant::now();
    loop {
        let r = http.get(format!("{base}/readyz")).send().await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "not ready again after 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (st, second) = register(&desk, s.c1, "电梯异响").await;
    assert_eq!(st, 201, "{second}");
    let seq = |v: &Value| v["number"].as_str().unwrap().rsplit('-').next().unwrap().parse::<i64>().unwrap();
    assert_eq!(seq(&second), seq(&first) + 1, "nothing was written while PostgreSQL was away; no gap");
    let verify = huiqian::app::audit::verify(&s.app, &[]).await.unwrap();
    assert!(verify.ok(), "{:?}", verify.problems);
}

/// Issue point 5: the disk fills up under SQLite. The write is refused with a clear
/// message (507 `storage_full`), nothing of it is written, and once there is room
/// again writing goes on with the next number. (SQLite reports a database at its
/// `max_page_count` exactly as a full disk: SQLITE_FULL. The drill on a real full file
/// system is in docs/reliability.md.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_the_write_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("full.db").display());
    let s = seed(test_config(dir.path(), &url)).await;
    let base = serve(&s.app).await;
    let desk = Session::sign_in(std::slice::from_ref(&base), &s.users[&Role::Receptionist], PASSWORD).await;
    let (st, first) = register(&desk, s.c1, "停车卡办理").await;
    assert_eq!(st, 201, "{first}");
    let limit = |pages: i64| {
        let app = s.app.clone();
        async move {
            let mut tx = app.store.begin().await.unwrap();
            sqlx::query(&format!("PRAGMA max_page_count = {pages}")).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
    };
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(s.app.store.read()).await.unwrap();
    limit(pages).await;
    // Registrations until the database has no page left (the first may still fit).
    let mut refused = None;
    let mut last = first.clone();
    for i in 0..50 {
        let (sheets, audit) = (count(&s, "sheets").await, count(&s, "audit_log").await);
        let (st, v) = register(&desk, s.c1, &format!("第{i}次：{}", "电梯异响，".repeat(150))).await;
        if st == 201 {
            last = v;
            continue;
        }
        refused = Some((st, v, sheets, audit));
        break;
    }
    let (st, e, sheets, audit) = refused.expect("the database fills up");
    let first = last;
    assert_eq!((st, e["error"]["code"].as_str()), (507, Some("storage_full")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("磁盘已满"), "{e}");
    assert_eq!((count(&s, "sheets").await, count(&s, "audit_log").await), (sheets, audit), "nothing half-written");
    let page = desk.http.get(format!("{base}/sheets")).send().await.unwrap();
    assert_eq!(page.status(), 200, "reading goes on");

    limit(1_073_741_823).await;
    let (st, second) = register(&desk, s.c1, "电梯异响").await;
    assert_eq!(st, 201, "{second}");
    let seq = |v: &Value| v["number"].as_str().unwrap().rsplit('-').next().unwrap().parse::<i64>().unwrap();
    assert_eq!(seq(&second), seq(&first) + 1, "the refused registration used no number");
    let verify = huiqian::app::audit::verify(&s.app, &[]).await.unwrap();
    assert!(verify.ok(), "{:?}", verify.problems);
}

async fn count(s: &Seeded, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(s.app.store.read()).await.unwrap()
}

/// Read until the server closes the connection (or `within` passes); what it sent.
async fn read_until_closed(c: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Issue point 5: a client that sends its request slowly is cut off — headers within
/// `limits.header_timeout_seconds`, the body's parts within `limits.body_timeout_seconds`
/// — and others are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_served_meanwhile() {
    let t = TestApp::spawn_with(|c| {
        c.limits.header_timeout_seconds = 1;
        c.limits.body_timeout_seconds = 1;
    })
    .await;
    let addr = t.base.trim_start_matches("http://").to_string();
    // Headers that never finish.
    let mut slow_headers = TcpStream::connect(&addr).await.unwrap();
    slow_headers.write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // A body that stops after ten of its hundred bytes.
    let mut slow_body = TcpStream::connect(&addr).await.unwrap();
    slow_body
        .write_all(b"POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username")
        .await
        .unwrap();
    // An idle kept-alive connection.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    // Meanwhile others are served at once.
    let started = Instant::now();
    let desk = t.as_role(Role::Receptionist).await;
    assert_eq!(desk.get("/api/v1/me").await.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));

    let headers = read_until_closed(&mut slow_headers, Duration::from_secs(4)).await;
    assert!(headers.is_some(), "a client that never finishes its headers is disconnected");
    let body = read_until_closed(&mut slow_body, Duration::from_secs(4)).await.expect("disconnected");
    assert!(body.starts_with("HTTP/1.1 4"), "a stalled body is refused: {body:?}");
    assert!(read_until_closed(&mut idle, Duration::from_secs(4)).await.is_some(), "an idle connection is closed");
}

/// Issue point 5: a gateway that accepts connections and never answers. Deliveries time
/// out and are retried with growing delays; deadline notices keep reaching the inbox
/// and requests are answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_gateway_is_retried_with_back_off_and_nothing_else_waits() {
    let gateway = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", gateway.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((c, _)) = gateway.accept().await {
            held.push(c); // accepted, never answered
        }
    });
    let t = TestApp::spawn_with(|c| {
        c.notify.webhook_url = url.clone();
        c.notify.tick_seconds = 1;
        c.notify.retry_base_seconds = 1;
        c.notify.timeout_seconds = 1;
    })
    .await;
    workload::prepare(&t.app, t.c1).await;
    let desk = t.as_role(Role::Receptionist).await;
    huiqian::app::notify::spawn(t.app.clone());
    let due_soon = async |reason: &str| {
        let (st, v) = desk
            .post_json(
                &format!("/api/v1/communities/{}/sheets", t.c1),
                &json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": reason}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
        // Its warning time has come.
        sqlx::query("UPDATE sheets SET warn_at = $1, due_at = $2 WHERE id = $3")
            .bind(t.now() - 1)
            .bind(t.now() + 3_600_000)
            .bind(v["id"].as_i64().unwrap())
            .execute(t.app.store.read())
            .await
            .unwrap();
    };
    let inbox = async || desk.get_json("/api/v1/me/notifications").await.1.as_array().unwrap().len();
    due_soon("咨询停水时间").await;
    let wait_for = async |n: usize, what: &str| {
        let started = Instant::now();
        while inbox().await < n {
            assert!(started.elapsed() < Duration::from_secs(5), "{what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    wait_for(1, "the first notice reaches the inbox").await;
    // While deliveries hang on the gateway, a second notice still arrives in time, and
    // requests are answered at once.
    due_soon("咨询停电时间").await;
    let started = Instant::now();
    assert_eq!(desk.get("/api/v1/me").await.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(500));
    wait_for(2, "the second notice reaches the inbox while the gateway hangs").await;
    // Retried, each delay longer than the one before; nothing delivered, nothing lost.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let rows: Vec<(i64, i64, Option<i64>, String)> =
        sqlx::query_as("SELECT attempts, next_attempt_at, delivered_at, last_error FROM outbox ORDER BY id")
            .fetch_all(t.app.store.read())
            .await
            .unwrap();
    assert_eq!(rows.len(), 2, "both notices wait in the outbox");
    assert!(rows.iter().all(|r| r.2.is_none()));
    assert!(rows[0].0 >= 2, "retried: {rows:?}");
    assert!(rows[0].3.contains("timed out") || rows[0].3.contains("timeout"), "{rows:?}");
    assert!(!rows[0].3.contains("/notify"), "the gateway's address (and any key in it) stays out: {rows:?}");
}

/// A full disk under SQLite can roll a transaction back inside SQLite without the
/// database driver noticing (seen in the full-disk drill): the driver then kept counting
/// the connection as inside a transaction, every later write went into a transaction
/// that never committed — answered, invisible, lost at the next stop. The write
/// connection that comes back in such a state is replaced. Here SQLite's own rollback
/// is made by hand, the way the full disk made it.
#[tokio::test]
async fn writes_after_sqlite_rolled_a_transaction_back_by_itself_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let app = huiqian::cli::open_with(test_config(dir.path(), &url), true).await.unwrap();
    let cli = huiqian::app::Actor::cli();
    // SQLite ends the transaction; the driver still counts it open, and its own
    // rollback then fails ("no transaction is active").
    let mut tx = app.store.begin().await.unwrap();
    sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
    drop(tx);
    // The next transaction is then a savepoint that leaves SQLite's transaction open.
    let tx = app.store.begin().await.unwrap();
    drop(tx);
    let id = huiqian::app::org::create_company(&app, &cli, "磁盘演练物业").await.unwrap();
    let seen: Option<String> = sqlx::query_scalar("SELECT name FROM companies WHERE id = $1")
        .bind(id)
        .fetch_optional(app.store.read())
        .await
        .unwrap();
    assert_eq!(seen.as_deref(), Some("磁盘演练物业"), "a committed write is visible to readers");
    app.store.close().await;
    let again = huiqian::cli::open_with(test_config(dir.path(), &url), false).await.unwrap();
    assert_eq!(again.store.backend(), huiqian::store::Backend::Sqlite);
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM companies WHERE id = $1")
        .bind(id)
        .fetch_one(again.store.read())
        .await
        .unwrap();
    assert_eq!(kept, 1, "and kept after a restart");
}

/// A full disk under the log (or a log that cannot be written for any reason) loses log
/// lines, never the server: it starts and answers with its standard error on /dev/full.
#[tokio::test]
async fn a_log_that_cannot_be_written_does_not_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let cfg = test_config(dir.path(), &url);
    seed(cfg.clone()).await.app.store.close().await;
    let port = crate::process::free_port();
    let mut child = crate::process::Deployment::of(&cfg)
        .command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("HUIQIAN_LOG", "huiqian=debug,info")
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .stderr(std::fs::File::create("/dev/full").unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut ready = false;
    while started.elapsed() < Duration::from_secs(30) && !ready {
        ready = http.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status() == 200);
        assert!(child.try_wait().unwrap().is_none(), "the server stopped when its log could not be written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready);
    for _ in 0..3 {
        let r = http
            .post(format!("http://127.0.0.1:{port}/api/v1/auth/sign-in"))
            .json(&json!({"username": "u_receptionist", "password": "wrong-password-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert!(child.try_wait().unwrap().is_none());
    let _ = child.kill();
    let _ = child.wait();
}

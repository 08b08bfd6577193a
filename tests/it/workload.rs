//! A front desk's mixed writes, run by several clients at once against one or more
//! servers: repairs registered (half of them at the counter with a signature, so an
//! attachment), dispatched to engineering, received, returned and collected; complaints
//! judged, collected and followed up in person; owners imported from CSV. Every answer
//! the server acknowledged is written down, so that after a crash, a restore or a copy a
//! test can check that each acknowledged write is there and nothing is half-written.

use crate::sheets::SIGNATURE;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The requester's phone and a resident ID number the imports carry: personal data
/// the logs must never show.
pub const PHONE: &str = "13812345678";
/// A valid resident ID number of its own for journey `n` (an ID number belongs to one
/// person in a company, R-ARC-3): born on a day of 1980–2007, with its check digit.
pub fn id_number(n: usize) -> String {
    let day = chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + chrono::Duration::days((n % 10_000) as i64);
    let first17 = format!("110105{}{:03}", day.format("%Y%m%d"), n / 10_000 % 1000);
    let check = huiqian::domain::person::check_digit(&first17).unwrap();
    format!("{first17}{check}")
}
/// The building and the unit the journeys register for (clear of the demo's buildings).
const BUILDING: &str = "20";
const ROOM: &str = "20-2-1502";

/// A signed-in client that spreads its requests over the servers given.
#[derive(Clone)]
pub struct Session {
    pub http: reqwest::Client,
    pub bases: Vec<String>,
    pub csrf: String,
    /// The session cookie's value (a secret the logs must not show).
    pub cookie: String,
    next: std::sync::Arc<AtomicUsize>,
    /// Where each answer's time is written down, by route (`soak`).
    pub timings: Option<std::sync::Arc<Timings>>,
}

/// Answer times in microseconds per route (`GET /api/v1/sheets/{id}`), and requests that
/// got no answer or a server error.
#[derive(Default)]
pub struct Timings {
    pub by_route: Mutex<BTreeMap<String, Vec<u32>>>,
    pub failed: Mutex<Vec<String>>,
}

/// A request's route: its method and path with the numbers taken out.
fn route_of(method: &reqwest::Method, url: &reqwest::Url) -> String {
    let path: Vec<String> = url
        .path_segments()
        .map(|s| {
            s.map(|p| if p.bytes().all(|b| b.is_ascii_digit()) { "{id}".to_string() } else { p.to_string() }).collect()
        })
        .unwrap_or_default();
    format!("{method} /{}", path.join("/"))
}

impl Session {
    pub async fn sign_in(bases: &[String], username: &str, password: &str) -> Session {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        let r = http
            .post(format!("{}/api/v1/auth/sign-in", bases[0]))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "sign-in of {username}");
        let cookie = r
            .cookies()
            .find(|c| c.name() == huiqian::web::SESSION_COOKIE)
            .map(|c| c.value().to_string())
            .expect("session cookie");
        let csrf = r.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
        let mut h = HeaderMap::new();
        h.insert("x-csrf-token", HeaderValue::from_str(&csrf).unwrap());
        let http = reqwest::Client::builder()
            .cookie_provider(jar)
            .default_headers(h)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        Session { http, bases: bases.to_vec(), csrf, cookie, next: Default::default(), timings: None }
    }

    fn url(&self, path: &str) -> String {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len();
        format!("{}{path}", self.bases[i])
    }

    /// Send; `Err` when no answer came (the server was killed, or restarting).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, Value), String> {
        let req = req.build().map_err(|e| e.to_string())?;
        let route = self.timings.as_ref().map(|_| {
            let route = route_of(req.method(), req.url());
            // Sheet actions apart: assigning, arriving and collecting are different work.
            let action = req
                .body()
                .and_then(|b| b.as_bytes())
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .and_then(|v| v["action"].as_str().map(str::to_string));
            match action {
                Some(a) => format!("{route} ({a})"),
                None => route,
            }
        });
        let started = std::time::Instant::now();
        let answer = async {
            let r = self.http.execute(req).await.map_err(|e| e.to_string())?;
            let s = r.status().as_u16();
            let body = r.bytes().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((s, body))
        }
        .await;
        if let (Some(t), Some(route)) = (&self.timings, route) {
            let micros = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            match &answer {
                Ok((s, _)) if *s < 500 => t.by_route.lock().unwrap().entry(route).or_default().push(micros),
                Ok((s, _)) => t.failed.lock().unwrap().push(format!("{route}: {s}")),
                Err(e) => t.failed.lock().unwrap().push(format!("{route}: {e}")),
            }
        }
        let (s, body) = answer?;
        Ok((s, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// The same session, its answer times written down in `timings`.
    pub fn timed(&self, timings: &std::sync::Arc<Timings>) -> Session {
        Session { timings: Some(timings.clone()), ..self.clone() }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn get(&self, path: &str) -> Result<(u16, Value), String> {
        self.send(self.http.get(self.url(path))).await
    }
}

/// The people a journey needs, in community `c1` of the test company.
#[derive(Clone)]
pub struct Crew {
    pub desk: Session,
    pub tech: Session,
    pub manager: Session,
    pub dispatcher: Session,
    pub community: i64,
    pub engineering: i64,
    pub technician_id: i64,
}

/// The test company (`harness::seed`) in the database at `db_url`, served from `dir`,
/// with the unit and the owner the journeys register for in its first community; the
/// configuration a server of it starts with.
pub async fn seeded(dir: &std::path::Path, db_url: &str) -> (huiqian::config::Config, crate::harness::Seeded) {
    let cfg = crate::harness::test_config(dir, db_url);
    let s = crate::harness::seed(cfg.clone()).await;
    prepare(&s.app, s.c1).await;
    (cfg, s)
}

/// The unit and the owner the journeys register for, in `community`.
pub async fn prepare(app: &huiqian::app::App, community: i64) {
    use huiqian::app::{Actor, org, people};
    let cli = Actor::cli();
    let building = org::BuildingInput { code: BUILDING.into(), name: String::new(), floors: 18, active: true };
    org::create_building(app, &cli, community, &building).await.unwrap();
    let unit = org::UnitInput {
        room_no: ROOM.into(),
        floor: String::new(),
        area: "89.5".into(),
        status: "occupied".into(),
        active: true,
    };
    org::create_unit(app, &cli, community, &unit).await.unwrap();
    let person =
        people::PersonInput {
            name: "王秀英".into(), phone: PHONE.into(), room_no: ROOM.into(), ..Default::default()
        };
    people::create_person(app, &cli, community, &person).await.unwrap();
}

impl Crew {
    /// Sign in a receptionist, a technician, a customer-service manager and an
    /// engineering dispatcher of `community`.
    pub async fn sign_in(
        bases: &[String],
        community: i64,
        [desk, tech, manager, dispatcher]: [&str; 4],
        password: &str,
    ) -> Crew {
        let desk = Session::sign_in(bases, desk, password).await;
        let tech = Session::sign_in(bases, tech, password).await;
        let manager = Session::sign_in(bases, manager, password).await;
        let dispatcher = Session::sign_in(bases, dispatcher, password).await;
        let (_, deps) = desk.get(&format!("/api/v1/communities/{community}/departments")).await.unwrap();
        let engineering =
            deps.as_array().unwrap().iter().find(|d| d["kind"] == "engineering").unwrap()["id"].as_i64().unwrap();
        let technician_id = tech.get("/api/v1/me").await.unwrap().1["user"]["id"].as_i64().unwrap();
        Crew { desk, tech, manager, dispatcher, community, engineering, technician_id }
    }

    /// The crew of the test company (`harness::seed`).
    pub async fn of_test_company(s: &crate::harness::Seeded, bases: &[String]) -> Crew {
        use huiqian::domain::auth::Role;
        let roles = [Role::Receptionist, Role::Technician, Role::CsManager, Role::EngineeringDispatcher];
        Crew::sign_in(bases, s.c1, roles.map(|r| s.users[&r].as_str()), crate::harness::PASSWORD).await
    }
}

/// What the servers acknowledged.
#[derive(Default)]
pub struct Journal {
    /// Per sheet: its number and the events of every acknowledged step, in order.
    pub sheets: Mutex<BTreeMap<i64, (String, Vec<&'static str>)>>,
    /// Follow-ups acknowledged as recorded.
    pub follow_ups: Mutex<Vec<i64>>,
    /// Rooms of acknowledged imports.
    pub imported: Mutex<Vec<String>>,
    /// Answers that were neither a success nor a lost connection, with what was asked.
    pub refused: Mutex<Vec<String>>,
    pub journeys: AtomicUsize,
}

impl Journal {
    /// What was acknowledged so far (a copy).
    pub fn snapshot(&self) -> Journal {
        Journal {
            sheets: Mutex::new(self.sheets.lock().unwrap().clone()),
            follow_ups: Mutex::new(self.follow_ups.lock().unwrap().clone()),
            imported: Mutex::new(self.imported.lock().unwrap().clone()),
            refused: Mutex::new(vec![]),
            journeys: AtomicUsize::new(self.journeys.load(Ordering::Relaxed)),
        }
    }

    /// Acknowledged writes: every step of every sheet, follow-ups and imports.
    pub fn acknowledged(&self) -> usize {
        self.sheets.lock().unwrap().values().map(|(_, steps)| steps.len()).sum::<usize>()
            + self.follow_ups.lock().unwrap().len()
            + self.imported.lock().unwrap().len()
    }

    fn ack(&self, id: i64, number: &str, step: &'static str) {
        self.sheets.lock().unwrap().entry(id).or_insert_with(|| (number.to_string(), vec![])).1.push(step);
    }

    fn refused(&self, what: &str, status: u16, body: &Value) {
        self.refused.lock().unwrap().push(format!("{what}: {status} {body}"));
    }
}

/// One step: `Ok(Some(v))` acknowledged, `Ok(None)` refused (written down), `Err` no answer.
async fn step(j: &Journal, what: &str, r: Result<(u16, Value), String>) -> Result<Option<Value>, String> {
    let (s, v) = r?;
    if (200..300).contains(&s) {
        Ok(Some(v))
    } else {
        j.refused(what, s, &v);
        Ok(None)
    }
}

async fn act(c: &Session, sheet: &Value, body: Value) -> Result<(u16, Value), String> {
    let id = sheet["id"].as_i64().or_else(|| sheet["sheet"]["id"].as_i64()).unwrap();
    let version = sheet["version"].as_i64().or_else(|| sheet["sheet"]["version"].as_i64()).unwrap();
    let mut b = body;
    b["version"] = json!(version);
    c.post(&format!("/api/v1/sheets/{id}/actions"), &b).await
}

/// A repair from registration to collection.
async fn repair(crew: &Crew, j: &Journal, n: usize) -> Result<(), String> {
    let visit = n.is_multiple_of(2);
    let body = json!({"kind": "repair", "channel": if visit { "visit" } else { "phone" }, "room_no": ROOM,
        "requester_name": "王秀英", "requester_phone": PHONE, "reason": format!("卫生间漏水 第{n}次"),
        "signature": if visit { SIGNATURE } else { "" }, "repair": {"category": "water"}});
    let req = crew
        .desk
        .http
        .post(crew.desk.url(&format!("/api/v1/communities/{}/sheets", crew.community)))
        .header("idempotency-key", format!("journey-{n}-{}", uuid::Uuid::new_v4()))
        .json(&body);
    let Some(v) = step(j, "register", crew.desk.send(req).await).await? else { return Ok(()) };
    let (id, number) = (v["id"].as_i64().unwrap(), v["number"].as_str().unwrap().to_string());
    j.ack(id, &number, "registered");
    let dispatch = json!({"action": "dispatch", "department_id": crew.engineering, "opinion": "请工程部上门查看"});
    let Some(v) = step(j, "dispatch", act(&crew.desk, &v, dispatch).await).await? else { return Ok(()) };
    j.ack(id, &number, "dispatched");
    let receive = json!({"action": "acknowledge", "handover": 1});
    let Some(v) = step(j, "acknowledge", act(&crew.tech, &v, receive).await).await? else { return Ok(()) };
    j.ack(id, &number, "acknowledged");
    let ret = json!({"action": "return", "handover": 1, "result": "已更换三角阀", "signer": "李师傅"});
    let Some(v) = step(j, "return", act(&crew.tech, &v, ret).await).await? else { return Ok(()) };
    j.ack(id, &number, "returned");
    let collect = json!({"action": "collect", "opinion": "维修及时，满意", "phone_confirmed_at": 1});
    if step(j, "collect", act(&crew.desk, &v, collect).await).await?.is_some() {
        j.ack(id, &number, "collected");
    }
    Ok(())
}

/// A repair on the engineering dispatcher's board: assigned to the technician, who
/// arrives and completes it with the resident's signature.
async fn repair_flow(crew: &Crew, j: &Journal, n: usize) -> Result<(), String> {
    let body = json!({"kind": "repair", "channel": "phone", "room_no": ROOM, "requester_name": "王秀英",
        "requester_phone": PHONE, "reason": format!("厨房下水道堵塞 第{n}次"), "repair": {"category": "drainage"}});
    let req = crew
        .desk
        .http
        .post(crew.desk.url(&format!("/api/v1/communities/{}/sheets", crew.community)))
        .header("idempotency-key", format!("journey-{n}-{}", uuid::Uuid::new_v4()))
        .json(&body);
    let Some(v) = step(j, "register repair", crew.desk.send(req).await).await? else { return Ok(()) };
    let (id, number) = (v["id"].as_i64().unwrap(), v["number"].as_str().unwrap().to_string());
    j.ack(id, &number, "registered");
    let Some(v) = step(j, "read repair", crew.dispatcher.get(&format!("/api/v1/sheets/{id}")).await).await? else {
        return Ok(());
    };
    let assign = json!({"action": "assign_technician", "technician_id": crew.technician_id});
    let Some(v) = step(j, "assign", act(&crew.dispatcher, &v, assign).await).await? else { return Ok(()) };
    j.ack(id, &number, "technician_assigned");
    let Some(v) = step(j, "arrive", act(&crew.tech, &v, json!({"action": "arrive"})).await).await? else {
        return Ok(());
    };
    j.ack(id, &number, "arrived");
    let done =
        json!({"action": "complete_repair", "work_done": "疏通下水管", "signature": SIGNATURE, "signer": "王秀英"});
    if step(j, "complete", act(&crew.tech, &v, done).await).await?.is_some() {
        j.ack(id, &number, "repair_completed");
    }
    Ok(())
}

/// A complaint judged not the centre's work, collected, and followed up at the door.
async fn complaint(crew: &Crew, j: &Journal, n: usize) -> Result<(), String> {
    let body = json!({"kind": "complaint", "channel": "phone", "room_no": ROOM, "requester_name": "王秀英",
        "requester_phone": PHONE, "reason": format!("投诉夜间噪音 第{n}次"),
        "complaint": {"category": "噪音", "cause": "楼上夜间噪音", "course": "连续三晚",
                      "occurred_at": huiqian::app::Clock::System.now() - 3_600_000, "place": "3号楼2单元", "people": "楼上住户"}});
    let req = crew
        .desk
        .http
        .post(crew.desk.url(&format!("/api/v1/communities/{}/sheets", crew.community)))
        .header("idempotency-key", format!("journey-{n}-{}", uuid::Uuid::new_v4()))
        .json(&body);
    let Some(v) = step(j, "register complaint", crew.desk.send(req).await).await? else { return Ok(()) };
    let (id, number) = (v["id"].as_i64().unwrap(), v["number"].as_str().unwrap().to_string());
    j.ack(id, &number, "registered");
    let judge = json!({"action": "judge_complaint", "valid": false, "explanation": "邻里纠纷，已解释并建议社区调解"});
    let Some(v) = step(j, "judge", act(&crew.manager, &v, judge).await).await? else { return Ok(()) };
    j.ack(id, &number, "complaint_judged");
    let collect = json!({"action": "collect", "opinion": "接受解释", "phone_confirmed_at": 1});
    let Some(_) = step(j, "collect complaint", act(&crew.desk, &v, collect).await).await? else { return Ok(()) };
    j.ack(id, &number, "collected");
    let Some(d) = step(j, "read complaint", crew.desk.get(&format!("/api/v1/sheets/{id}")).await).await? else {
        return Ok(());
    };
    let f = d["follow_ups"][0].clone();
    // One in three residents is still unhappy: that opens a corrective-action report.
    let (outcome, content) = if n.is_multiple_of(3) {
        ("unsatisfied", "业主认为噪音仍未解决")
    } else {
        ("satisfied", "入户回访，业主满意")
    };
    let record = json!({"version": f["version"], "method": "visit", "outcome": outcome,
        "content": content, "signature": SIGNATURE, "signer": "王秀英"});
    let path = format!("/api/v1/follow-ups/{}/record", f["id"]);
    if step(j, "record follow-up", crew.desk.post(&path, &record).await).await?.is_some() {
        j.follow_ups.lock().unwrap().push(f["id"].as_i64().unwrap());
    }
    Ok(())
}

/// Owners of two new units, imported from CSV (all or nothing).
async fn import(crew: &Crew, j: &Journal, n: usize) -> Result<(), String> {
    // Units of their own for each journey, in a building of their own (the import
    // creates it): two imports never race to create the same building.
    let building = 1000 + n;
    let (a, b) = (format!("{building}-1-101"), format!("{building}-1-102"));
    let csv = format!(
        "房号,建筑面积,状态,姓名,手机,证件类型,证件号码,关系\n{a},89.5,入住,{},139{n:08},身份证,{},业主\n\
         {b},76.2,空置,,,,,\n",
        ["赵建国", "钱秀兰", "孙志强", "李淑珍", "周海涛", "吴丽娟", "郑国栋"][n % 7],
        id_number(n)
    );
    let part = reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("owners.csv");
    let form = reqwest::multipart::Form::new().part("file", part);
    let url = crew.manager.url(&format!("/api/v1/communities/{}/imports?dry_run=false", crew.community));
    let r = crew.manager.send(crew.manager.http.post(url).multipart(form)).await;
    match step(j, "import", r).await? {
        Some(v) if v["applied"] == true => j.imported.lock().unwrap().extend([a, b]),
        Some(v) => j.refused("import", 200, &v),
        None => {}
    }
    Ok(())
}

/// Run journeys on `clients` concurrent clients until `stop` is set. A journey that
/// gets no answer (the server died) ends there; the next one starts afresh.
pub async fn run(crew: &Crew, j: &Journal, clients: usize, stop: &AtomicBool) {
    run_paced(crew, j, clients, stop, std::time::Duration::ZERO).await
}

/// [`run`], each client pausing `pause` between journeys (a desk's pace, not a machine's).
pub async fn run_paced(crew: &Crew, j: &Journal, clients: usize, stop: &AtomicBool, pause: std::time::Duration) {
    let work = (0..clients).map(|k| async move {
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let n = j.journeys.fetch_add(1, Ordering::Relaxed);
            let r = match (n + k) % 8 {
                0 | 3 => complaint(crew, j, n).await,
                5 => import(crew, j, n).await,
                2 | 6 => repair_flow(crew, j, n).await,
                _ => repair(crew, j, n).await,
            };
            if r.is_err() {
                // No server to answer: wait a little rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            i += 1;
        }
        i
    });
    futures_util::future::join_all(work).await;
}

/// What a check after a crash, a restore or a copy found missing or inconsistent.
pub async fn check(pool: &sqlx::AnyPool, j: &Journal) -> Vec<String> {
    use sqlx::Row;
    let mut problems = vec![];
    // Every acknowledged step of every sheet is in its history.
    let sheets = j.sheets.lock().unwrap().clone();
    for (id, (number, steps)) in &sheets {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM sheet_events WHERE sheet_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(pool)
            .await
            .unwrap();
        for s in steps {
            if !names.iter().any(|n| n == s) {
                problems.push(format!("sheet {number}: acknowledged step {s} is missing (history: {names:?})"));
            }
        }
    }
    let follow_ups = j.follow_ups.lock().unwrap().clone();
    for f in &follow_ups {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM follow_ups WHERE id = $1")
            .bind(f)
            .fetch_optional(pool)
            .await
            .unwrap();
        if state.as_deref() != Some("done") {
            problems.push(format!("follow-up {f}: acknowledged as recorded, found {state:?}"));
        }
    }
    let imported = j.imported.lock().unwrap().clone();
    for room in &imported {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM units WHERE room_no = $1")
            .bind(room)
            .fetch_one(pool)
            .await
            .unwrap();
        if n != 1 {
            problems.push(format!("imported unit {room}: {n} rows"));
        }
    }
    // Numbering: per community and year, 1 … n without a gap.
    let numbers: Vec<(i64, String)> = sqlx::query("SELECT community_id, number FROM sheets")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut seqs: HashMap<(i64, String), Vec<i64>> = HashMap::new();
    for (c, number) in numbers {
        let (prefix, seq) = number.rsplit_once('-').unwrap();
        seqs.entry((c, prefix.to_string())).or_default().push(seq.parse().unwrap());
    }
    for ((c, prefix), mut list) in seqs {
        list.sort_unstable();
        if list != (1..=list.len() as i64).collect::<Vec<_>>() {
            problems.push(format!("community {c}, {prefix}: numbers are not 1…{} without gaps", list.len()));
        }
    }
    // Nothing half-written: each sheet's projection is the state its last audited
    // action left it in, and it has the events that action wrote.
    let rows = sqlx::query(
        "SELECT s.id, s.number, s.state, (SELECT COUNT(*) FROM sheet_events e WHERE e.sheet_id = s.id) FROM sheets s",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for r in rows {
        let (id, number, state, events): (i64, String, String, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let last: Option<String> = sqlx::query_scalar(
            "SELECT changes FROM audit_log WHERE entity_type = 'sheet' AND entity_id = $1 \
             AND action LIKE 'sheet.%' AND changes LIKE '%\"state\"%' ORDER BY seq DESC LIMIT 1",
        )
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .unwrap();
        let audited = last
            .and_then(|c| serde_json::from_str::<Value>(&c).ok())
            .and_then(|v| v["state"].as_str().map(str::to_string));
        if let Some(a) = audited
            && a != state
        {
            problems.push(format!("sheet {number}: projection says {state}, its last audited action left it {a}"));
        }
        if events == 0 {
            problems.push(format!("sheet {number}: no events"));
        }
    }
    problems
}

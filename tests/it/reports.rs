//! The weekly statistics table (R-CMP-8) and staff performance (R-ROLE-3, R-SHEET-9) over
//! HTTP on both backends, every number checked against a fixture small enough to count
//! by hand.

use crate::harness::{Client, PASSWORD, READY, TestApp, new_staff};
use crate::sheets::{SIGNATURE, act, department, setup};
use huiqian::app::{auth, report};
use huiqian::domain::auth::Role;
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;

async fn me_id(c: &Client) -> i64 {
    c.get_json("/api/v1/me").await.1["user"]["id"].as_i64().unwrap()
}

async fn register(c: &Client, community: i64, body: Value) -> Value {
    let mut b = json!({"channel": "phone", "requester_name": "王秀英", "requester_phone": "13812345678"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    let (s, v) = c.post_json(&format!("/api/v1/communities/{community}/sheets"), &b).await;
    assert_eq!(s, 201, "{v}");
    c.get_json(&format!("/api/v1/sheets/{}", v["id"])).await.1
}

fn split(v: &Value, section: &str, key: &str) -> (i64, i64) {
    let row = v[section].as_array().unwrap().iter().find(|r| r["key"] == key);
    row.map(|r| (r["this"].as_i64().unwrap(), r["prev"].as_i64().unwrap())).unwrap_or((0, 0))
}

fn keys(v: &Value, section: &str) -> Vec<String> {
    v[section].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap().to_string()).collect()
}

struct Fixture {
    desk_id: i64,
    tech_id: i64,
    /// Last week's complaint, not yet judged.
    s6: Value,
    eng: i64,
}

/// This week: a water repair in building 3 (assigned, arrived, completed), a water repair
/// without a unit, a noise complaint by letter in building 3 (not the centre's work,
/// collected, followed up in person: satisfied), another request without a unit
/// dispatched to engineering and returned. Last week: an electrical repair and a noise
/// complaint, both in building 3. All registered by the same receptionist.
async fn fixture(t: &TestApp) -> Fixture {
    setup(t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let tech_id = me_id(&tech).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let c1 = t.c1;

    let s1 = register(
        &desk,
        c1,
        json!({"kind": "repair", "room_no": "3-2-1502", "reason": "厨房水管漏水", "repair": {"category": "water"}}),
    )
    .await;
    let (s, d) = act(&dispatcher, &s1, json!({"action": "assign_technician", "technician_id": tech_id})).await;
    assert_eq!(s, 200, "{d}");
    let (_, d) = act(&tech, &d, json!({"action": "arrive"})).await;
    let (s, d) = act(
        &tech,
        &d,
        json!({"action": "complete_repair", "work_done": "更换三角阀", "signature": SIGNATURE, "signer": "王秀英"}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    register(&desk, c1, json!({"kind": "repair", "reason": "地下车库水管滴水", "repair": {"category": "water"}})).await;
    let s3 = register(
        &desk,
        c1,
        json!({"kind": "complaint", "channel": "letter", "room_no": "3-2-1502", "reason": "投诉楼上噪音",
        "complaint": {"category": "噪音", "cause": "楼上夜间噪音", "course": "连续三晚", "occurred_unknown": true, "place_unknown": true, "people_unknown": true}}),
    )
    .await;
    let (s, d) =
        act(&manager, &s3, json!({"action": "judge_complaint", "valid": false, "explanation": "邻里纠纷，已解释"}))
            .await;
    assert_eq!(s, 200, "{d}");
    let (s, d) = act(&desk, &d, json!({"action": "collect", "opinion": "接受解释", "phone_confirmed_at": 1})).await;
    assert_eq!(s, 200, "{d}");
    let f = d["follow_ups"][0].clone();
    let (s, r) = desk
        .post_json(
            &format!("/api/v1/follow-ups/{}/record", f["id"]),
            &json!({"version": f["version"], "method": "visit", "outcome": "satisfied", "content": "入户回访，业主满意", "signature": SIGNATURE, "signer": "王秀英"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let s4 = register(&desk, c1, json!({"kind": "other", "reason": "小区路灯不亮"})).await;
    let (s, d) = act(&desk, &s4, json!({"action": "dispatch", "department_id": eng, "opinion": "请工程部查看"})).await;
    assert_eq!(s, 200, "{d}");
    let (_, d) = act(&tech, &d, json!({"action": "acknowledge", "handover": 1})).await;
    let (s, d) =
        act(&tech, &d, json!({"action": "return", "handover": 1, "result": "已更换灯泡", "signer": "李师傅"})).await;
    assert_eq!(s, 200, "{d}");

    // Last week's two, registered a week ago.
    t.advance(-7 * DAY);
    register(
        &desk,
        c1,
        json!({"kind": "repair", "room_no": "3-2-1502", "reason": "插座没电", "repair": {"category": "electrical"}}),
    )
    .await;
    let s6 = register(
        &desk,
        c1,
        json!({"kind": "complaint", "room_no": "3-2-1502", "reason": "投诉噪音",
        "complaint": {"category": "噪音", "cause": "装修噪音", "course": "中午施工", "occurred_unknown": true, "place_unknown": true, "people_unknown": true}}),
    )
    .await;
    t.advance(7 * DAY);
    Fixture { desk_id: me_id(&desk).await, tech_id, s6, eng }
}

/// R-CMP-8: the week's counts by kind, channel, building and category, collections on
/// time, complaints, arrivals and follow-up satisfaction, each beside the week before;
/// the table is kept when the week ends and reads the same afterwards; the sum over
/// communities; the page, its charts' data and its CSV.
#[tokio::test]
async fn r_cmp_8_weekly_statistics_table() {
    let t = TestApp::spawn().await;
    let fx = fixture(&t).await;
    let director = t.as_role(Role::CentreDirector).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (s, _) = desk.get_json(&format!("/api/v1/communities/{}/weekly-report", t.c1)).await;
    assert_eq!(s, 403, "the table is for the centre's management");

    let (s, w) = director.get_json(&format!("/api/v1/communities/{}/weekly-report", t.c1)).await;
    assert_eq!(s, 200, "{w}");
    assert!(w["generated_at"].is_null(), "this week is counted now");
    let tot = &w["totals"];
    let n = |k: &str| tot[k].as_i64().unwrap();
    assert_eq!((n("registered"), n("registered_prev")), (4, 2));
    assert_eq!(
        (split(&w, "by_kind", "repair"), split(&w, "by_kind", "complaint"), split(&w, "by_kind", "other")),
        ((2, 1), (1, 1), (1, 0))
    );
    assert_eq!(keys(&w, "by_kind"), ["complaint", "other", "repair"]);
    assert_eq!((split(&w, "by_channel", "phone"), split(&w, "by_channel", "letter")), ((3, 2), (1, 0)));
    assert_eq!((split(&w, "by_building", "3"), split(&w, "by_building", "")), ((2, 2), (2, 0)));
    assert_eq!(
        (
            split(&w, "by_category", "repair:water"),
            split(&w, "by_category", "repair:electrical"),
            split(&w, "by_category", "complaint:噪音")
        ),
        ((2, 0), (0, 1), (1, 1))
    );
    assert_eq!((n("collected"), n("collected_on_time"), n("collected_prev")), (1, 1, 0));
    assert_eq!((n("complaints"), n("complaints_prev"), n("complaints_valid")), (1, 1, 0));
    assert_eq!((n("arrived"), n("arrived_on_time")), (1, 1));
    assert_eq!((n("followed_up"), n("satisfied")), (1, 1));
    assert_eq!(n("open_at_end"), 5, "all but the collected complaint");

    // Asked again after another registration: the days that are over come from memory
    // (a registration never changes its day), today is counted anew.
    register(&desk, t.c1, json!({"kind": "inquiry", "reason": "物业费缴费方式"})).await;
    let (_, w) = director.get_json(&format!("/api/v1/communities/{}/weekly-report", t.c1)).await;
    assert_eq!((w["totals"]["registered"].as_i64(), w["totals"]["registered_prev"].as_i64()), (Some(5), Some(2)));
    assert_eq!((split(&w, "by_kind", "inquiry"), split(&w, "by_kind", "repair")), ((1, 0), (2, 1)));
    assert_eq!((split(&w, "by_channel", "phone"), split(&w, "by_building", "")), ((4, 2), (3, 0)));

    // The page, its charts and its CSV.
    let page = director.get(&format!("/reports/weekly?community_id={}", t.c1)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("按诉求类别") && html.contains("id=\"chart-kind\"") && html.contains("/static/echarts.min.js")
    );
    let csv = director.get(&format!("/reports/weekly?community_id={}&format=csv", t.c1)).await;
    let bytes = csv.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.lines().any(|l| l == "按诉求类别,投诉,1,1,0"), "{text}");
    assert!(text.lines().any(|l| l == "按诉求类别,报修,2,1,+1"), "{text}");

    // Last week, kept when it ended: later changes do not rewrite it.
    let monday = report::monday_of(report::local_day(chrono_tz::Asia::Shanghai, t.now()));
    let last = (monday - chrono::Duration::days(7)).to_string();
    assert_eq!(report::keep_last_week(&t.app, t.now()).await.unwrap(), 2, "both communities");
    assert_eq!(report::keep_last_week(&t.app, t.now()).await.unwrap(), 0, "kept once");
    // Last week's complaint is judged valid after its week ended.
    let manager = t.as_role(Role::CsManager).await;
    let deadline = t.now() + 48 * 3_600_000;
    let (s, d) = act(
        &manager,
        &fx.s6,
        json!({"action": "judge_complaint", "valid": true, "explanation": "装修时间违规，请工程部处理",
        "department_id": fx.eng, "deadline_at": deadline}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let (_, kept) = director.get_json(&format!("/api/v1/communities/{}/weekly-report?week={last}", t.c1)).await;
    assert!(kept["generated_at"].is_i64(), "{kept}");
    assert_eq!((kept["week_start"].as_str(), kept["totals"]["registered"].as_i64()), (Some(last.as_str()), Some(2)));
    assert_eq!(kept["totals"]["complaints_valid"], 0, "as it was when the week ended");
    let (_, weeks) = director.get_json(&format!("/api/v1/communities/{}/weekly-reports", t.c1)).await;
    assert_eq!(weeks[0]["week_start"], last.as_str());

    // Over every community the person reports on, counted now.
    let cli = t.cli();
    let boss = new_staff(&t.app, "boss", "区域总监", PASSWORD, READY).await;
    for c in [t.c1, t.c2] {
        auth::grant_role(&t.app, &cli, boss, Some(c), Role::CentreDirector, None, false).await.unwrap();
    }
    let boss = t.client("boss").await;
    let (_, all) = boss.get_json(&format!("/api/v1/reports/weekly?week={last}")).await;
    assert_eq!(all["community_ids"].as_array().unwrap().len(), 2);
    assert!(all["generated_at"].is_null());
    assert_eq!(all["totals"]["registered"], 2);
    assert_eq!(all["totals"]["complaints_valid"], 1, "the judgment since counts in the live sum");
    let (s, e) = boss.get_json("/api/v1/reports/weekly?week=2026-02-30").await;
    assert_eq!(s, 422, "{e}");

    let _ = fx.desk_id;
}

/// R-ROLE-3, R-SHEET-9: per person — sheets registered as first contact, the recovery rate,
/// collections on time, repairs completed and arrivals on time, follow-up satisfaction and
/// follow-ups done — and per department; each number lists its sheets.
#[tokio::test]
async fn r_role_3_staff_performance_with_drill_down() {
    let t = TestApp::spawn().await;
    let fx = fixture(&t).await;
    let manager = t.as_role(Role::CsManager).await;
    let today = report::local_day(chrono_tz::Asia::Shanghai, t.now());
    let from = (today - chrono::Duration::days(8)).to_string();
    let q = format!("from={from}&to={today}");
    let (s, p) = manager.get_json(&format!("/api/v1/communities/{}/performance?{q}", t.c1)).await;
    assert_eq!(s, 200, "{p}");
    let person = |id: i64| p["people"].as_array().unwrap().iter().find(|x| x["user_id"] == id).cloned().unwrap();
    let desk = person(fx.desk_id);
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap();
    assert_eq!((n(&desk, "registered"), n(&desk, "recovered"), n(&desk, "recovered_on_time")), (6, 1, 1));
    assert_eq!(
        (n(&desk, "followed_up"), n(&desk, "satisfied"), n(&desk, "follow_ups_done"), n(&desk, "capas")),
        (1, 1, 1, 0)
    );
    let tech = person(fx.tech_id);
    assert_eq!(
        (n(&tech, "repairs_completed"), n(&tech, "arrived_on_time"), n(&tech, "arrived_late"), n(&tech, "registered")),
        (1, 1, 0, 0)
    );
    let eng = p["departments"].as_array().unwrap().iter().find(|d| d["name"] == "工程部").cloned().unwrap();
    assert_eq!((n(&eng, "received"), n(&eng, "returned"), n(&eng, "returned_on_time")), (2, 1, 1));

    // Today only: the week-old sheets drop out.
    let (_, today_only) =
        manager.get_json(&format!("/api/v1/communities/{}/performance?from={today}&to={today}", t.c1)).await;
    let d = today_only["people"].as_array().unwrap().iter().find(|x| x["user_id"] == fx.desk_id).cloned().unwrap();
    assert_eq!(n(&d, "registered"), 4);

    // The sheets behind the numbers.
    let (_, not_back) =
        manager.get_json(&format!("/api/v1/communities/{}/performance/{}/not_recovered?{q}", t.c1, fx.desk_id)).await;
    assert_eq!(not_back.as_array().unwrap().len(), 5);
    let (_, done) = manager
        .get_json(&format!("/api/v1/communities/{}/performance/{}/repairs_completed?{q}", t.c1, fx.tech_id))
        .await;
    assert_eq!(done.as_array().unwrap().len(), 1);
    assert_eq!(done[0]["reason"], "厨房水管漏水");
    let (s, _) = manager.get_json(&format!("/api/v1/communities/{}/performance/{}/bogus?{q}", t.c1, fx.desk_id)).await;
    assert!(s == 400 || s == 404 || s == 422, "an unknown measure is refused ({s})");
    let (s, e) = manager.get_json(&format!("/api/v1/communities/{}/performance?from={today}&to={from}", t.c1)).await;
    assert!(s == 422 && e["error"]["fields"][0]["field"] == "to", "{e}");
    let desk_client = t.as_role(Role::Receptionist).await;
    let (s, _) = desk_client.get_json(&format!("/api/v1/communities/{}/performance", t.c1)).await;
    assert_eq!(s, 403);

    // The page: the recovery short of 100% links to the sheets not back.
    let html = manager.get(&format!("/reports/staff?community_id={}&{q}", t.c1)).await.text().await.unwrap();
    assert!(html.contains(&format!("/reports/staff/{}/not_recovered?", fx.desk_id)), "{html}");
    assert!(html.contains("17%"), "1 of 6 back");
    let drill = manager.get(&format!("/reports/staff/{}/not_recovered?community_id={}&{q}", fx.desk_id, t.c1)).await;
    assert_eq!(drill.status(), 200);
    let html = drill.text().await.unwrap();
    assert_eq!(html.matches("<tr><td><a href=\"/sheets/").count(), 5);
}

/// The number a tile shows on the home page (`None`: no such tile for this person).
fn tile(html: &str, id: &str) -> Option<i64> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find("<strong>")? + "<strong>".len();
    let end = rest[start..].find("</strong>")?;
    rest[start..start + end].trim().parse().ok()
}

/// Dashboards per role: each person's home page shows the few numbers their roles act on,
/// counted from the same fixture (and not the numbers of roles they do not hold).
#[tokio::test]
async fn dashboards_show_each_role_its_numbers() {
    let t = TestApp::spawn().await;
    let _fx = fixture(&t).await;
    let c = t.c1;
    let home = |role: Role| {
        let t = &t;
        async move { t.as_role(role).await.get("/").await.text().await.unwrap() }
    };
    let desk = home(Role::Receptionist).await;
    // Open as first contact: all but the collected complaint; back for collection: the
    // returned request; no follow-up left to do (the one there was is recorded).
    assert_eq!(tile(&desk, &format!("my-open-{c}")), Some(5), "{desk}");
    assert_eq!(tile(&desk, &format!("my-collect-{c}")), Some(1));
    assert_eq!(tile(&desk, &format!("my-follow-ups-{c}")), Some(0));
    assert_eq!(tile(&desk, &format!("to-review-{c}")), None, "the desk does not review");
    let manager = home(Role::CsManager).await;
    assert_eq!(tile(&manager, &format!("to-review-{c}")), Some(1), "the recorded follow-up");
    assert_eq!(tile(&manager, &format!("capas-{c}")), Some(0));
    assert!(manager.contains("class=\"recovery\""), "the receptionists' recovery rates");
    let dispatcher = home(Role::EngineeringDispatcher).await;
    // The water repair without a unit and last week's electrical repair wait for a technician.
    assert_eq!(tile(&dispatcher, &format!("unassigned-{c}")), Some(2), "{dispatcher}");
    assert_eq!(tile(&dispatcher, &format!("late-arrivals-{c}")), Some(0));
    let tech = home(Role::Technician).await;
    assert_eq!(tile(&tech, &format!("my-jobs-{c}")), Some(0), "the one job is completed");
    assert_eq!(tile(&tech, &format!("my-open-{c}")), None);
    let director = home(Role::CentreDirector).await;
    assert_eq!(tile(&director, &format!("complaints-week-{c}")), Some(1));
}

/// The staff performance table (R-ROLE-3) is reached from the menu: the readers of reports
/// have a reports entry, and each report links the other for the same community; the desk
/// has neither.
#[tokio::test]
async fn r_role_3_staff_performance_is_reached_from_the_menu() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    for role in [Role::CentreDirector, Role::CsManager, Role::CsSupervisor] {
        let c = t.as_role(role).await;
        let home = c.get("/").await.text().await.unwrap();
        assert!(home.contains("id=\"nav-reports\""), "{role:?} has a reports entry");
        let weekly = c.get(&format!("/reports/weekly?community_id={}", t.c1)).await.text().await.unwrap();
        let tab = format!("href=\"/reports/staff?community_id={}\" id=\"tab-staff\"", t.c1);
        assert!(weekly.contains(&tab), "{role:?}: the weekly table links staff performance");
        let r = c.get(&format!("/reports/staff?community_id={}", t.c1)).await;
        assert_eq!(r.status(), 200);
        let staff = r.text().await.unwrap();
        assert!(staff.contains("id=\"staff-filter\"") && staff.contains("id=\"tab-weekly\""));
        assert!(staff.contains("id=\"tab-staff\" class=\"current\""), "the current report is marked");
    }
    let desk = t.as_role(Role::Receptionist).await;
    let home = desk.get("/").await.text().await.unwrap();
    assert!(!home.contains("id=\"nav-reports\""));
    assert_eq!(desk.get(&format!("/reports/staff?community_id={}", t.c1)).await.status(), 403);
}

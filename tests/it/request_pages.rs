//! The flows' pages: registration of a repair or a complaint, the flow panel of the sheet,
//! the dispatcher's board, the technician's day, the ledgers and the settings.

use crate::harness::{Client, TestApp};
use crate::sheets::{SIGNATURE, department, setup};
use huiqian::domain::auth::Role;

fn sheet_id(location: &str) -> i64 {
    location.rsplit('/').next().unwrap().parse().unwrap()
}

async fn version(t: &TestApp, id: i64) -> String {
    let v: i64 = sqlx::query_scalar("SELECT version FROM sheets WHERE id = $1")
        .bind(id)
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    v.to_string()
}

async fn user_id(t: &TestApp, role: Role) -> String {
    let v: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(&t.users[&role])
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    v.to_string()
}

/// Register through the form (urlencoded, as without photos); returns the new sheet.
async fn register(c: &Client, community: i64, fields: &[(&str, &str)]) -> i64 {
    let c1 = community.to_string();
    let mut form = vec![
        ("community_id", c1.as_str()),
        ("channel", "phone"),
        ("room_no", "3-2-1502"),
        ("requester_name", "王秀英"),
        ("requester_phone", "13812345678"),
    ];
    form.extend_from_slice(fields);
    let r = c.post_form("/sheets/new", &form).await;
    let status = r.status();
    let loc = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    assert_eq!(status, 303, "registration refused: {}", r.text().await.unwrap_or_default());
    sheet_id(&loc.unwrap())
}

async fn act(t: &TestApp, c: &Client, id: i64, fields: &[(&str, &str)]) -> reqwest::Response {
    let v = version(t, id).await;
    let mut form = vec![("version", v.as_str())];
    form.extend_from_slice(fields);
    c.post_form(&format!("/sheets/{id}/act"), &form).await
}

/// R-REP-1 … R-REP-5 through the pages: the desk registers an emergency leak, the
/// dispatcher assigns it from the board, the technician arrives and completes on the day
/// page with the resident's signature, the desk receives the slip; the repair ledger lists
/// it and exports it as CSV.
#[tokio::test]
async fn r_rep_repair_through_the_pages() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let c1 = t.c1;

    // The form carries the repair fields with the class each category suggests.
    let html = desk.get(&format!("/sheets/new?community_id={c1}")).await.text().await.unwrap();
    assert!(html.contains("name=\"repair.category\"") && html.contains("漏水/爆管（紧急）"));
    assert!(html.contains("name=\"complaint.cause\"") && html.contains("id=\"apology\""));
    // Another class than the suggested one needs a reason; the form keeps what was typed.
    let r = desk
        .post_form(
            "/sheets/new",
            &[
                ("community_id", &c1.to_string()),
                ("channel", "phone"),
                ("kind", "repair"),
                ("requester_name", "王秀英"),
                ("reason", "厨房水管爆裂"),
                ("repair.category", "water"),
                ("repair.class", "general"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("厨房水管爆裂") && html.contains("请写明原因"), "{html}");

    let id = register(&desk, c1, &[("kind", "repair"), ("reason", "厨房水管爆裂"), ("repair.category", "water")]).await;
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("id=\"flow-panel\"") && html.contains("紧急") && html.contains("漏水/爆管"));
    assert!(!html.contains("id=\"assign-form\""), "the desk does not assign technicians");

    // The board: the dispatcher assigns; the desk may look; a technician may not.
    let board = dispatcher.get("/repairs/board").await;
    assert_eq!(board.status(), 200);
    let html = board.text().await.unwrap();
    assert!(html.contains(&format!("id=\"assign-{id}\"")) && html.contains("测试维修工"), "{html}");
    let html = desk.get("/repairs/board").await.text().await.unwrap();
    assert!(html.contains("board-unassigned") && !html.contains(&format!("id=\"assign-{id}\"")));
    assert_eq!(tech.get("/repairs/board").await.status(), 403);
    let tech_id = user_id(&t, Role::Technician).await;
    let back = format!("/repairs/board?community_id={c1}");
    let r = act(&t, &dispatcher, id, &[("action", "assign_technician"), ("technician_id", &tech_id), ("back", &back)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], back.as_str());
    let html = dispatcher.get(&back).await.text().await.unwrap();
    assert!(!html.contains(&format!("id=\"assign-{id}\"")));

    // The technician's day: arrive with one tap, complete with the resident's signature.
    assert_eq!(desk.get("/repairs/day").await.status(), 403);
    let html = tech.get("/repairs/day").await.text().await.unwrap();
    assert!(html.contains(&format!("id=\"arrive-{id}\"")) && html.contains("138****5678"));
    assert!(!html.contains("13812345678"), "the day page shows no plain phone number");
    let day = format!("/repairs/day?community_id={c1}");
    // Completing before arriving is refused with the reason in Chinese.
    let r = act(
        &t,
        &tech,
        id,
        &[("action", "complete_repair"), ("work_done", "更换水管"), ("signature", SIGNATURE), ("signer", "王秀英")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("维修工还没有登记到场"), "{html}");
    let r = act(&t, &tech, id, &[("action", "arrive"), ("back", &day)]).await;
    assert_eq!(r.status(), 303);
    let html = tech.get(&day).await.text().await.unwrap();
    assert!(html.contains(&format!("id=\"complete-{id}\"")) && html.contains(&format!("sig-{id}")));
    // Without the signature the form comes back and says so.
    let r = act(&t, &tech, id, &[("action", "complete_repair"), ("work_done", "更换水管"), ("signer", "王秀英")]).await;
    assert_eq!(r.status(), 422);
    let r = act(
        &t,
        &tech,
        id,
        &[
            ("action", "complete_repair"),
            ("work_done", "更换水管"),
            ("materials", "PPR 管 2 米"),
            ("signature", SIGNATURE),
            ("signer", "王秀英"),
            ("back", &day),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let html = tech.get(&day).await.text().await.unwrap();
    assert!(html.contains("id=\"day-done\"") && html.contains(&format!("/sheets/{id}\"")));

    // The desk receives the signed slip, then collects.
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("id=\"receive-slip-form\"") && html.contains("更换水管"));
    let r = act(&t, &desk, id, &[("action", "receive_slip")]).await;
    assert_eq!(r.status(), 303);
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("id=\"collect-form\"") && !html.contains("id=\"receive-slip-form\""));

    // The repair ledger, and its CSV with a BOM.
    let html = desk.get(&format!("/requests/ledger/repairs?community_id={c1}")).await.text().await.unwrap();
    assert!(
        html.contains("业主报修反映台帐") && html.contains("测试维修工") && html.contains(&format!("/sheets/{id}"))
    );
    let r = desk.get(&format!("/requests/ledger/repairs?community_id={c1}&format=csv")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let body = r.bytes().await.unwrap();
    assert!(body.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(body[3..].to_vec()).unwrap();
    assert!(text.contains("维修工") && text.contains("漏水/爆管"), "{text}");
    assert_eq!(desk.get(&format!("/requests/ledger/nonsense?community_id={c1}")).await.status(), 404);
}

/// Security and technicians take repairs in (R-REP-1): the form offers them repairs only.
#[tokio::test]
async fn r_rep_1_security_registers_a_repair_only() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let security = t.as_role(Role::SecurityOfficer).await;
    let r = security.get(&format!("/sheets/new?community_id={}", t.c1)).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"repair.category\"") && !html.contains("name=\"complaint.cause\""));
    assert!(!html.contains("value=\"complaint\""), "security may not register a complaint");
    let id =
        register(&security, t.c1, &[("kind", "repair"), ("reason", "夜间楼道灯不亮"), ("repair.category", "lighting")])
            .await;
    let html = security.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("安保（非工作时间）"));
    assert_eq!(t.as_role(Role::FinanceClerk).await.get("/sheets/new").await.status(), 403);
}

/// R-CMP-1 … R-CMP-3 through the pages: the complaint form shows the apology; a complaint
/// about a receptionist cannot go to customer service (the refusal is translated) and goes
/// to the director's office, whose director is told.
#[tokio::test]
async fn r_cmp_complaint_about_staff_goes_to_the_director() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let director = t.as_role(Role::CentreDirector).await;
    let id = register(
        &desk,
        t.c1,
        &[
            ("kind", "complaint"),
            ("reason", "投诉前台接待员态度"),
            ("complaint.category", "服务态度"),
            ("complaint.place", "客服中心前台"),
            ("complaint.cause", "态度生硬"),
            ("complaint.course", "上午办理业务时被催促"),
            ("complaint.against", "customer_service_staff"),
            ("complaint.against_name", "小李"),
        ],
    )
    .await;
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("客服人员") && html.contains("态度生硬") && !html.contains("id=\"judge-form\""));
    let html = manager.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("id=\"judge-form\"") && html.contains("id=\"flag-form\""));
    let cs = department(&manager, t.c1, "customer_service").await.to_string();
    let office = department(&manager, t.c1, "director_office").await.to_string();
    let judge = |dep: String| {
        vec![
            ("action", "judge_complaint".to_string()),
            ("valid", "1".to_string()),
            ("explanation", "转主任处理".to_string()),
            ("department_id", dep),
            ("deadline_date", "2099-01-31".to_string()),
        ]
    };
    let form = judge(cs);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = act(&t, &manager, id, &pairs).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let refused = html.contains("须交中心主任处理") || html.contains("投诉不能交给被投诉的部门处理");
    assert!(refused && html.contains("转主任处理"), "{html}");
    // The same refusal in English for an English-speaking manager.
    manager.http.put(manager.url("/api/v1/me/locale")).json(&serde_json::json!({"locale": "en"})).send().await.unwrap();
    let r = act(&t, &manager, id, &pairs).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("centre director") || html.contains("cannot go to the department"), "{html}");
    let form = judge(office);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = act(&t, &manager, id, &pairs).await;
    assert_eq!(r.status(), 303);
    let html = director.get("/inbox").await.text().await.unwrap();
    assert!(html.contains("投诉交主任处理"), "{html}");
    let html = director.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("id=\"progress-form\"") && html.contains("2099-01-31"));
    // The complaint ledger lists the serious and repeated; the toggle shows them all.
    let html = desk.get(&format!("/requests/ledger/complaints?community_id={}", t.c1)).await.text().await.unwrap();
    assert!(html.contains("业主意见投诉台帐") && !html.contains(&format!("/sheets/{id}\"")));
    let html =
        desk.get(&format!("/requests/ledger/complaints?community_id={}&all=1", t.c1)).await.text().await.unwrap();
    assert!(html.contains(&format!("/sheets/{id}\"")));
    let r =
        act(&t, &manager, id, &[("action", "flag_complaint"), ("flag_reason", "serious"), ("note", "影响恶劣")]).await;
    assert_eq!(r.status(), 303);
    let html = desk.get(&format!("/requests/ledger/complaints?community_id={}", t.c1)).await.text().await.unwrap();
    assert!(html.contains(&format!("/sheets/{id}\"")) && html.contains("严重"));
}

/// The settings pages belong to administrators: rules with an optimistic version, the
/// price list in yuan, the knowledge base; the inquiry's answer form finds an article.
#[tokio::test]
async fn r_recv_2_settings_price_list_and_knowledge_base() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let manager = t.as_role(Role::CsManager).await;
    let desk = t.as_role(Role::Receptionist).await;
    let c1 = t.c1.to_string();
    assert_eq!(desk.get("/requests/settings").await.status(), 403);
    let html = manager.get("/requests/settings").await.text().await.unwrap();
    assert!(
        html.contains("id=\"rules-form\"") && html.contains("id=\"price-new\"") && html.contains("id=\"article-new\"")
    );
    let rules = |general: &'static str, version: &'static str| {
        vec![
            ("community_id", c1.clone()),
            ("emergency_min", "10".into()),
            ("simple_min", "20".into()),
            ("general_min", general.into()),
            ("slip_hours", "24".into()),
            ("repeat_count", "2".into()),
            ("repeat_days", "90".into()),
            ("progress_hours", "48".into()),
            ("promise_warn_min", "60".into()),
            ("apology", "对不起，我们马上处理。".into()),
            ("version", version.into()),
        ]
    };
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let m = &manager;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            m.post_form(path, &pairs).await
        }
    };
    let r = post("/requests/settings/rules", rules("0", "0")).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("应在 1 到"));
    let r = post("/requests/settings/rules", rules("45", "0")).await;
    assert_eq!(r.status(), 303);
    // A second save from the same stale page is refused.
    let r = post("/requests/settings/rules", rules("50", "0")).await;
    assert_eq!(r.status(), 409);
    // The apology is what the desk reads out.
    let html = desk.get(&format!("/sheets/new?community_id={c1}")).await.text().await.unwrap();
    assert!(html.contains("对不起，我们马上处理。"));

    let r = post(
        "/requests/settings/prices",
        vec![
            ("community_id", c1.clone()),
            ("name", "疏通下水".into()),
            ("unit", "次".into()),
            ("item_kind", "labour".into()),
            ("price", "35.5".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let html = manager.get("/requests/settings").await.text().await.unwrap();
    assert!(html.contains("疏通下水") && html.contains("35.50"));
    let r = post(
        "/requests/settings/prices",
        vec![
            ("community_id", c1.clone()),
            ("name", "换锁".into()),
            ("unit", "个".into()),
            ("item_kind", "labour".into()),
            ("price", "abc".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = post(
        "/requests/settings/articles",
        vec![
            ("community_id", c1.clone()),
            ("title", "装修押金退还".into()),
            ("answer", "装修完工验收合格后 30 日内退还".into()),
            ("basis", "《装修管理规定》第十二条".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);

    // An inquiry: the knowledge base answers, the desk uses it.
    let id = register(&desk, t.c1, &[("kind", "inquiry"), ("reason", "装修押金什么时候退")]).await;
    let frag =
        desk.get(&format!("/requests/articles/search?community_id={c1}&kb=装修押金")).await.text().await.unwrap();
    assert!(frag.contains("装修押金退还") && frag.contains("data-basis=\"《装修管理规定》第十二条\""), "{frag}");
    let html = desk.get(&format!("/sheets/{id}?kb=装修押金")).await.text().await.unwrap();
    assert!(html.contains("id=\"answer-form\"") && html.contains("?article="));
    let aid = html.split("?article=").nth(1).unwrap().split('#').next().unwrap().to_string();
    let html = desk.get(&format!("/sheets/{id}?article={aid}")).await.text().await.unwrap();
    assert!(html.contains("30 日内退还</textarea>"));
    let r = act(&t, &desk, id, &[("action", "answer_inquiry"), ("answer", "30 日内退还"), ("basis", "")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("请注明答复依据"));
    let r = act(
        &t,
        &desk,
        id,
        &[
            ("action", "answer_inquiry"),
            ("answer", "30 日内退还"),
            ("basis", "《装修管理规定》第十二条"),
            ("article_id", &aid),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let html = desk.get(&format!("/requests/ledger/inquiries?community_id={c1}")).await.text().await.unwrap();
    assert!(html.contains(&format!("/sheets/{id}\"")));
    // Navigation: the manager sees the settings link, the desk does not; both see ledgers.
    assert!(html.contains("nav-request-ledgers") && !html.contains("nav-request-settings"));
    let home = manager.get("/").await.text().await.unwrap();
    assert!(home.contains("nav-request-settings") && !home.contains("nav-day"));
}

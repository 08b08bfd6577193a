//! The flows' pages: registration of a repair or a complaint, the flow panel of the sheet,
//! the dispatcher's board, the technician's day, the ledgers and the settings.

use crate::harness::{Client, TestApp};
use crate::sheets::{SIGNATURE, department, setup, sheet_id, version};
use huiqian::domain::auth::Role;

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

/// A form as a page renders it: where it posts, what a browser would send untouched
/// (hidden fields, typed-in values, the selected option, checked boxes), and which names
/// and choices it offers, so that a test fills in only what the page has.
struct PageForm {
    action: String,
    fields: Vec<(String, String)>,
    /// Every control's name, with the values it offers (options, radios, checkboxes).
    controls: Vec<(String, Vec<(String, String)>)>,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// The value of `attr` in one tag (`<input … name="x" …>`), if present.
fn attr(tag: &str, attr: &str) -> Option<String> {
    let key = format!(" {attr}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn flag(tag: &str, name: &str) -> bool {
    tag.split(|c: char| c.is_whitespace() || c == '>' || c == '"').any(|w| w == name)
}

/// The form holding the element with this id (the form itself or, say, its button).
fn find_form(html: &str, id: &str) -> Option<PageForm> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind("<form")?;
    let end = html[start..].find("</form>")? + start;
    let body = &html[start..end];
    let head = &body[..body.find('>')?];
    let mut f = PageForm { action: attr(head, "action").unwrap_or_default(), fields: vec![], controls: vec![] };
    let mut rest = body;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        let close = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..close];
        let name = attr(tag, "name");
        if tag.starts_with("<input")
            && let Some(name) = name
        {
            let kind = attr(tag, "type").unwrap_or_else(|| "text".into());
            let value =
                attr(tag, "value").unwrap_or_else(|| if kind == "checkbox" { "on".into() } else { String::new() });
            if kind == "radio" || kind == "checkbox" {
                f.offer(&name, &value, "");
                if flag(tag, "checked") {
                    f.fields.push((name, value));
                }
            } else if kind != "submit" && kind != "button" {
                f.offer(&name, "", "");
                f.fields.push((name, value));
            }
        } else if tag.starts_with("<textarea")
            && let Some(name) = name
        {
            let text = &rest[close + 1..rest.find("</textarea>").unwrap_or(close + 1)];
            f.offer(&name, "", "");
            f.fields.push((name, unescape(text)));
        } else if tag.starts_with("<select")
            && let Some(name) = name
        {
            let options = &rest[close..rest.find("</select>").unwrap_or(close)];
            let mut chosen = None;
            f.offer(&name, "", "");
            for o in options.split("<option").skip(1) {
                let value = attr(&format!(" {o}"), "value").unwrap_or_default();
                let text = o[o.find('>').map_or(0, |x| x + 1)..].split('<').next().unwrap_or_default();
                f.offer(&name, &value, &unescape(text));
                if chosen.is_none() || flag(&o[..o.find('>').unwrap_or(0)], "selected") {
                    chosen = Some(value);
                }
            }
            f.fields.push((name, chosen.unwrap_or_default()));
        }
        rest = &rest[1..];
    }
    Some(f)
}

/// The form, which must be on the page.
fn form(html: &str, id: &str) -> PageForm {
    find_form(html, id).unwrap_or_else(|| panic!("no form #{id} on the page:\n{html}"))
}

impl PageForm {
    fn offer(&mut self, name: &str, value: &str, text: &str) {
        match self.controls.iter_mut().find(|(n, _)| n == name) {
            Some((_, choices)) if !value.is_empty() || !text.is_empty() => {
                choices.push((value.to_string(), text.to_string()))
            }
            Some(_) => {}
            None => {
                let choices =
                    if value.is_empty() && text.is_empty() { vec![] } else { vec![(value.into(), text.into())] };
                self.controls.push((name.to_string(), choices))
            }
        }
    }

    /// Type into (or choose) a control the form has; a choice must be one it offers.
    fn set(&mut self, name: &str, value: &str) -> &mut Self {
        let (_, choices) = self
            .controls
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("the form to {} has no field {name}", self.action));
        assert!(choices.is_empty() || choices.iter().any(|(v, _)| v == value), "{name} offers no {value}: {choices:?}");
        self.fields.retain(|(n, _)| n != name);
        self.fields.push((name.to_string(), value.to_string()));
        self
    }

    /// The value of the option of `name` whose text contains `text`.
    fn option(&self, name: &str, text: &str) -> String {
        let (_, choices) = self.controls.iter().find(|(n, _)| n == name).expect(name);
        choices
            .iter()
            .find(|(_, t)| t.contains(text))
            .unwrap_or_else(|| panic!("{name} offers nothing like {text}: {choices:?}"))
            .0
            .clone()
    }

    /// Post it as the browser would (the client adds its own CSRF token).
    async fn submit(&self, c: &Client) -> reqwest::Response {
        let pairs: Vec<(&str, &str)> =
            self.fields.iter().filter(|(k, _)| k != "_csrf").map(|(k, v)| (k.as_str(), v.as_str())).collect();
        c.post_form(&self.action, &pairs).await
    }
}

/// A page the client may see.
async fn page(c: &Client, path: &str) -> String {
    let r = c.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// The form was accepted and the browser goes to the sheet (or where it was sent back).
async fn accepted(r: reqwest::Response, to: &str) {
    let status = r.status();
    let loc = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    assert_eq!(status, 303, "refused: {}", r.text().await.unwrap_or_default());
    assert_eq!(loc.as_deref(), Some(to));
}

async fn use_english(c: &Client) {
    let r = c.http.put(c.url("/api/v1/me/locale")).json(&serde_json::json!({"locale": "en"})).send().await.unwrap();
    assert!(r.status().is_success());
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
            ("complaint.occurred_unknown", "1"),
            ("complaint.people", "前台接待员小李"),
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

    // Quick registrations: an inquiry answered from the article just written; a wrong
    // combination comes back with its message at the field and what was typed.
    let html = manager.get("/requests/settings").await.text().await.unwrap();
    let article = html.split("id=\"article-").nth(1).unwrap().split('"').next().unwrap().to_string();
    let preset = |category: &'static str| {
        vec![
            ("community_id", c1.clone()),
            ("title", "装修押金".into()),
            ("kind", "inquiry".into()),
            ("channel", "".into()),
            ("reason", "咨询装修押金退还".into()),
            ("repair_category", category.into()),
            ("article_id", article.clone()),
            ("position", "10".into()),
        ]
    };
    let r = post("/requests/settings/presets", preset("water")).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("只有报修或特约服务才有报修类别") && html.contains("咨询装修押金退还</textarea>"));
    let r = post("/requests/settings/presets", preset("")).await;
    assert_eq!(r.status(), 303);
    let html = desk.get(&format!("/sheets/new?community_id={c1}")).await.text().await.unwrap();
    assert!(
        html.contains("data-answer=\"装修完工验收合格后 30 日内退还\"") && html.contains(">装修押金</a>"),
        "{html}"
    );

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

/// R-REP-4 through the pages: the dispatcher adds items to the price list, quotes paid work
/// from it on the sheet, and the technician on site has the resident sign the charge before
/// the work; the total reads in yuan.
#[tokio::test]
async fn r_rep_4_quote_from_the_price_list_and_confirm_with_the_signature() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let security = t.as_role(Role::SecurityOfficer).await;
    let c1 = t.c1;
    let settings = format!("/requests/settings?community_id={c1}&saved=1#prices");
    for (name, unit, price) in [("更换水龙头", "个", "35"), ("PPR 水管", "米", "12.50")] {
        let html = page(&dispatcher, &format!("/requests/settings?community_id={c1}")).await;
        let mut f = form(&html, "price-new");
        f.set("name", name).set("unit", unit).set("item_kind", "material").set("price", price);
        accepted(f.submit(&dispatcher).await, &settings).await;
    }
    let id =
        register(&desk, c1, &[("kind", "repair"), ("reason", "水龙头坏了，要换新的"), ("repair.category", "fixtures")])
            .await;
    let sheet = format!("/sheets/{id}");
    let html = page(&dispatcher, &sheet).await;
    let mut f = form(&html, "assign-form");
    f.set("technician_id", &user_id(&t, Role::Technician).await);
    accepted(f.submit(&dispatcher).await, &sheet).await;

    // Only the dispatcher quotes.
    for c in [&desk, &tech] {
        assert!(find_form(&page(c, &sheet).await, "quote-form").is_none());
    }
    let html = page(&dispatcher, &sheet).await;
    let mut f = form(&html, "quote-form");
    let tap = f.option("item_1", "更换水龙头 · ¥35.00/个");
    let pipe = f.option("item_2", "PPR 水管 · ¥12.50/米");
    f.set("item_1", &tap).set("qty_1", "2").set("item_2", &pipe).set("qty_2", "2.5");
    accepted(f.submit(&dispatcher).await, &sheet).await;
    let html = page(&dispatcher, &sheet).await;
    assert!(html.contains("id=\"charge-total\">¥101.25<") && html.contains("待住户确认"), "{html}");
    assert!(
        html.contains("<td>¥70.00</td>") && html.contains("<td>¥31.25</td>") && html.contains("<td>2.5 米</td>"),
        "{html}"
    );

    // On site, the day page sends the technician to the charge before the work.
    let day = format!("/repairs/day?community_id={c1}");
    let html = page(&tech, &day).await;
    accepted(form(&html, &format!("arrive-{id}")).submit(&tech).await, &day).await;
    let html = page(&tech, &day).await;
    assert!(html.contains(&format!("/sheets/{id}#confirm-charge-form")) && !html.contains(&format!("complete-{id}")));
    assert!(find_form(&page(&security, &sheet).await, "confirm-charge-form").is_none());
    let html = page(&tech, &sheet).await;
    assert!(html.contains("id=\"charge-total\">¥101.25<"));
    let f = form(&html, "confirm-charge-form");
    assert!(f.fields.contains(&("signer".into(), "王秀英".into())), "the resident signs by default");
    // Without drawing, the page says what is missing.
    let r = f.submit(&tech).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("验收意见须由当事人签字或电话确认"));
    let html = page(&tech, &sheet).await;
    let mut f = form(&html, "confirm-charge-form");
    f.set("signature", SIGNATURE);
    accepted(f.submit(&tech).await, &sheet).await;
    let html = page(&tech, &sheet).await;
    assert!(html.contains("住户已确认") && html.contains("id=\"charge-total\">¥101.25<"), "{html}");
    assert!(find_form(&html, "confirm-charge-form").is_none() && find_form(&html, "complete-form").is_some());
    assert!(find_form(&page(&dispatcher, &sheet).await, "quote-form").is_none(), "a confirmed charge stays");
    let html = page(&tech, &day).await;
    assert!(html.contains(&format!("id=\"complete-{id}\"")));
    // The charges ledger shows what is owed.
    let html = page(&desk, &format!("/requests/ledger/charges?community_id={c1}")).await;
    assert!(html.contains("¥101.25") && html.contains(&format!("/sheets/{id}\"")), "{html}");
}

/// R-REP-3 through the pages: the class of a repair changes only with a reason; the refusal
/// is in the user's language and the form keeps what was chosen.
#[tokio::test]
async fn r_rep_3_reclassify_with_a_reason() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let dispatcher = t.as_role(Role::EngineeringDispatcher).await;
    let tech = t.as_role(Role::Technician).await;
    let id = register(&desk, t.c1, &[("kind", "repair"), ("reason", "闻到燃气味"), ("repair.category", "gas")]).await;
    let sheet = format!("/sheets/{id}");
    assert!(find_form(&page(&tech, &sheet).await, "reclassify-form").is_none());
    let html = page(&dispatcher, &sheet).await;
    assert!(html.contains("<dd>紧急</dd>"), "{html}");
    let mut f = form(&html, "reclassify-form");
    f.set("class", "simple");
    let r = f.submit(&dispatcher).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("请写明原因（改类别、改派维修工都要说明原因）"), "{html}");
    let again = form(&html, "reclassify-form");
    assert!(again.fields.contains(&("class".into(), "simple".into())), "the chosen class is kept");
    assert!(html.contains("<details open><summary>改到场时限类别"), "the refused form stays open");
    use_english(&dispatcher).await;
    let r = f.submit(&dispatcher).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Say why (changing the class or the technician needs a reason)."), "{html}");
    let html = page(&dispatcher, &sheet).await;
    let mut f = form(&html, "reclassify-form");
    f.set("class", "simple").set("reason", "住户已关阀门");
    accepted(f.submit(&dispatcher).await, &sheet).await;
    let html = page(&desk, &sheet).await;
    assert!(html.contains("<dd>简单</dd>") && html.contains("住户已关阀门"), "{html}");
}

/// R-RECV-2 through the pages: the desk cannot answer at once, escalates the inquiry to
/// the CS manager, and promises the resident a reply by a time.
#[tokio::test]
async fn r_recv_2_escalate_an_inquiry_and_promise_a_reply() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let security = t.as_role(Role::SecurityOfficer).await;
    let id = register(&desk, t.c1, &[("kind", "inquiry"), ("reason", "物业费能否减免")]).await;
    let sheet = format!("/sheets/{id}");
    let html = page(&security, &sheet).await;
    assert!(find_form(&html, "escalate-form").is_none() && find_form(&html, "promise-form").is_none());
    let html = page(&desk, &sheet).await;
    let mut f = form(&html, "escalate-form");
    let to = user_id(&t, Role::CsManager).await;
    assert_eq!(f.option("to_user_id", "测试客服部经理"), to);
    assert!(
        f.controls.iter().find(|(n, _)| n == "to_user_id").unwrap().1.iter().all(|(_, text)| !text.contains("接待")),
        "only managers"
    );
    f.set("to_user_id", &to).set("note", "涉及收费政策");
    accepted(f.submit(&desk).await, &sheet).await;
    let html = page(&manager, "/inbox").await;
    assert!(html.contains("咨询请经理答复"), "{html}");
    let html = page(&manager, &sheet).await;
    assert!(html.contains("<dt>转交经理</dt><dd>测试客服部经理</dd>") && html.contains("涉及收费政策"), "{html}");
    assert!(find_form(&html, "answer-form").is_some());

    // A promised time must be later than now; then it is on the sheet and in the ledger.
    let html = page(&desk, &sheet).await;
    let mut f = form(&html, "promise-form");
    f.set("by_at", "2000-01-01T09:00").set("note", "问财务后回电");
    let r = f.submit(&desk).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("承诺答复时间须晚于现在"));
    let html = page(&desk, &sheet).await;
    let mut f = form(&html, "promise-form");
    f.set("by_at", "2099-01-31T17:30").set("note", "问财务后回电");
    accepted(f.submit(&desk).await, &sheet).await;
    let html = page(&desk, &sheet).await;
    assert!(html.contains("<dt>承诺答复时间</dt><dd>2099-01-31 17:30</dd>"), "{html}");
    let html = page(&desk, &format!("/requests/ledger/inquiries?community_id={}", t.c1)).await;
    assert!(html.contains("2099-01-31 17:30") && html.contains(&format!("{sheet}\"")), "{html}");
}

/// R-CMP-5 through the pages: the CS manager flags a complaint as serious, which puts it
/// in the complaint ledger; the centre director (and not the CS manager) records the
/// solution meeting and names the department that carries it out.
#[tokio::test]
async fn r_cmp_5_serious_complaint_and_solution_meeting() {
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
            ("reason", "地库乱停车"),
            ("complaint.category", "停车"),
            ("complaint.place", "地下车库"),
            ("complaint.occurred_unknown", "1"),
            ("complaint.people_unknown", "1"),
            ("complaint.cause", "访客车辆占用业主车位"),
            ("complaint.course", "连续一周晚上车位被占"),
            ("complaint.against", "service"),
        ],
    )
    .await;
    let sheet = format!("/sheets/{id}");
    assert!(find_form(&page(&desk, &sheet).await, "flag-form").is_none());
    let html = page(&manager, &sheet).await;
    assert!(find_form(&html, "solution-form").is_none(), "nothing to solve before it is flagged or judged");
    let mut f = form(&html, "flag-form");
    f.set("flag_reason", "serious").set("note", "多户联名投诉乱停车");
    accepted(f.submit(&manager).await, &sheet).await;
    let html = page(&manager, &sheet).await;
    assert!(html.contains("<dd>严重 · 多户联名投诉乱停车</dd>"), "{html}");
    assert!(find_form(&html, "flag-form").is_none() && find_form(&html, "solution-form").is_none());
    let html = page(&desk, &format!("/requests/ledger/complaints?community_id={}", t.c1)).await;
    assert!(html.contains(&format!("{sheet}\"")) && html.contains("严重"));

    let html = page(&director, &sheet).await;
    let mut f = form(&html, "solution-form");
    let security = f.option("department_id", "安保");
    f.set("attendees", "主任、客服经理、安保主管")
        .set("plan", "增设访客车位并加强巡逻")
        .set("department_id", &security);
    // The meeting's time is needed, and the form says so next to the field.
    let r = f.submit(&director).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("class=\"field invalid\"><span>协调会时间"), "{html}");
    assert!(html.contains("增设访客车位并加强巡逻"), "what was typed stays");
    f.set("meeting_at", "2099-02-01T10:00");
    accepted(f.submit(&director).await, &sheet).await;
    let html = page(&director, &sheet).await;
    assert!(html.contains("2099-02-01 10:00") && html.contains("<dd>增设访客车位并加强巡逻</dd>"), "{html}");
    assert!(find_form(&html, "solution-form").is_none());
    let handovers = html.split("id=\"handovers\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert!(handovers.contains("安保") && handovers.contains("增设访客车位并加强巡逻"), "{handovers}");
}

/// R-RECV-3 through the pages: the CS manager analyses a suggestion and refers it to the
/// director, then replies in writing; a receptionist's reply is refused with the reason.
#[tokio::test]
async fn r_recv_3_suggestion_analysed_referred_and_replied() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let director = t.as_role(Role::CentreDirector).await;
    let id = register(&desk, t.c1, &[("kind", "suggestion"), ("reason", "建议增设快递柜")]).await;
    let sheet = format!("/sheets/{id}");
    let html = page(&desk, &sheet).await;
    assert!(find_form(&html, "analyse-form").is_none() && find_form(&html, "reply-form").is_none());
    let html = page(&manager, &sheet).await;
    assert!(find_form(&html, "reply-form").is_none(), "analysed first");
    let mut f = form(&html, "analyse-form");
    f.set("analysis", "住户多次反映取件不便，建议采纳").set("to_director", "1");
    accepted(f.submit(&manager).await, &sheet).await;
    let html = page(&director, "/inbox").await;
    assert!(html.contains("建议呈报主任"), "{html}");
    let html = page(&manager, &sheet).await;
    assert!(html.contains("<dt>有价值，报中心主任</dt><dd>是</dd>") && html.contains("住户多次反映取件不便"), "{html}");
    let reply = form(&html, "reply-form");
    assert!(find_form(&page(&desk, &sheet).await, "reply-form").is_none());

    // The same reply sent by a receptionist is refused, in Chinese and in English.
    let mut f = reply;
    f.set("reply", "好的，我们考虑");
    let r = f.submit(&desk).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("意见建议须由部门经理或以上人员书面答复"), "{html}");
    use_english(&desk).await;
    let r = f.submit(&desk).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("A department manager or higher writes the reply to a suggestion."));

    f.set("reply", "已联系快递柜公司，下月在 3 号楼旁安装。");
    accepted(f.submit(&manager).await, &sheet).await;
    let html = page(&manager, &sheet).await;
    assert!(html.contains("<dd>已联系快递柜公司，下月在 3 号楼旁安装。</dd>") && html.contains("待收回验收"), "{html}");
    assert!(find_form(&html, "reply-form").is_none() && find_form(&html, "analyse-form").is_none());
    let html = page(&manager, &format!("/requests/ledger/suggestions?community_id={}", t.c1)).await;
    assert!(html.contains(&format!("{sheet}\"")) && html.contains("快递柜"), "{html}");
}

/// R-RECV-3, R-ROLE-2: the page and the API agree on what each role may do on a sheet.
/// For every role, a step's form is on the sheet's page exactly when the API carries the
/// step out: sent with a stale version, a permitted step passes every check of who may do
/// it and of the sheet's state, and is stopped only at the write (409, nothing written);
/// any other is refused before that.
#[tokio::test]
async fn r_recv_3_r_role_2_page_and_api_agree_on_who_may_act() {
    use crate::sheets::register_kind;
    use serde_json::json;
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let suggestion = register_kind(&desk, t.c1, "suggestion", "建议增设快递柜").await;
    let (s, v) = crate::sheets::act(
        &manager,
        &suggestion,
        json!({"action": "analyse_suggestion", "analysis": "住户多次反映取件不便", "to_director": false}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let inquiry = register_kind(&desk, t.c1, "inquiry", "物业费怎么交").await;
    let eng = department(&desk, t.c1, "engineering").await;
    let manager_id: i64 = user_id(&t, Role::CsManager).await.parse().unwrap();
    let tomorrow = t.now() + 86_400_000;
    let steps = [
        (suggestion["id"].as_i64().unwrap(), "reply-form", json!({"action": "reply_suggestion", "reply": "下月安装"})),
        (
            suggestion["id"].as_i64().unwrap(),
            "analyse-form",
            json!({"action": "analyse_suggestion", "analysis": "再议", "to_director": true}),
        ),
        (
            inquiry["id"].as_i64().unwrap(),
            "answer-form",
            json!({"action": "answer_inquiry", "answer": "服务中心缴纳", "basis": "收费公示"}),
        ),
        (
            inquiry["id"].as_i64().unwrap(),
            "promise-form",
            json!({"action": "promise_reply", "by_at": tomorrow, "note": "明日答复"}),
        ),
        (
            inquiry["id"].as_i64().unwrap(),
            "escalate-form",
            json!({"action": "escalate_inquiry", "to_user_id": manager_id, "note": "请经理答复"}),
        ),
        (
            inquiry["id"].as_i64().unwrap(),
            "dispatch-form",
            json!({"action": "dispatch", "department_id": eng, "opinion": "请核实"}),
        ),
    ];
    let mut offered_somewhere = std::collections::HashSet::new();
    for role in Role::ALL {
        let c = t.as_role(role).await;
        for (id, form_id, body) in &steps {
            let html = page(&c, &format!("/sheets/{id}")).await;
            let offered = find_form(&html, form_id).is_some();
            let version: i64 = version(&t, *id).await.parse().unwrap();
            let mut stale = body.clone();
            stale["version"] = json!(version - 1);
            let (status, answer) = c.post_json(&format!("/api/v1/sheets/{id}/actions"), &stale).await;
            assert_eq!(
                offered,
                status == 409,
                "{role:?} {form_id}: the page {} the form, the API answered {status} {answer}",
                if offered { "offers" } else { "does not offer" }
            );
            assert_eq!(version.to_string(), self::version(&t, *id).await, "nothing written");
            if offered {
                offered_somewhere.insert(*form_id);
            }
        }
    }
    // Each step is offered to someone, and refused to the receptionist where R-RECV-3 says so.
    assert_eq!(offered_somewhere.len(), steps.len(), "{offered_somewhere:?}");
    let html = page(&desk, &format!("/sheets/{}", suggestion["id"])).await;
    assert!(find_form(&html, "reply-form").is_none() && find_form(&html, "analyse-form").is_none());
}

/// R-SHEET-10, R-ROLE-2: a step the sheet does not admit yet is not offered, and the page
/// says what the desk still has to see to: a matter passed to a third party is collected
/// only on its receipt, so the collection form waits for it and says so.
#[tokio::test]
async fn r_sheet_10_the_page_says_why_a_sheet_cannot_be_collected_yet() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let id = register(&desk, t.c1, &[("kind", "other"), ("reason", "小区外道路井盖缺失")]).await;
    let path = format!("/sheets/{id}");
    let html = page(&desk, &path).await;
    assert!(!html.contains("id=\"collect-held\""), "nothing to see to while the sheet is being worked on");
    let r = act(
        &t,
        &desk,
        id,
        &[("action", "beyond_centre"), ("explanation", "属市政管理，已转市政"), ("third_party", "市政管理所")],
    )
    .await;
    accepted(r, &path).await;
    let html = page(&desk, &path).await;
    assert!(!html.contains("id=\"collect-form\""), "collecting is not offered before the third party's receipt");
    let held = html.split("id=\"collect-held\"").nth(1).expect("the page says why it cannot be collected yet");
    assert!(held[..held.find("</p>").unwrap()].contains("回执"), "{held}");
    assert!(html.contains("id=\"receipt-form\"") || html.contains("record_third_party_receipt"));
    let r = act(&t, &desk, id, &[("action", "record_third_party_receipt"), ("evidence", "市政管理所回执")]).await;
    accepted(r, &path).await;
    let html = page(&desk, &path).await;
    assert!(html.contains("id=\"collect-form\"") && !html.contains("id=\"collect-held\""));
}

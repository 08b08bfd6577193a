//! The sheet pages a receptionist and a department use every day.

use crate::harness::{PASSWORD, READY, TestApp, new_staff};
use crate::sheets::{SIGNATURE, department, setup, sheet_id, version};
use huiqian::domain::auth::Role;

/// The everyday journey through the pages: register a visit with a drawn signature,
/// dispatch to engineering, engineering signs and returns, the desk collects with the
/// resident's signature and archives; the printed form carries a QR code.
#[tokio::test]
async fn r_sheet_journey_through_the_pages() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let tech = t.as_role(Role::Technician).await;
    let c1 = t.c1.to_string();
    let page = desk.get(&format!("/sheets/new?community_id={c1}")).await.text().await.unwrap();
    assert!(page.contains("signature-pad"));
    let key = page.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    // The finder finds the unit by the last four digits of the owner's phone.
    let found = desk.get(&format!("/sheets/find?community_id={c1}&q=5678")).await.text().await.unwrap();
    assert!(found.contains("3-2-1502") && found.contains("王秀英") && found.contains("138****5678"));
    // Without the signature the form comes back with what was typed.
    let form = [
        ("community_id", c1.as_str()),
        ("channel", "visit"),
        ("kind", "repair"),
        ("room_no", "3-2-1502"),
        ("requester_name", "王秀英"),
        ("requester_phone", "13812345678"),
        ("reason", "厨房水槽下水管漏水"),
        ("repair.category", "drainage"),
        ("key", &key),
    ];
    let r = desk.post_form("/sheets/new", &form).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("厨房水槽下水管漏水") && html.contains("id=\"err-signature\""));
    let mut signed = form.to_vec();
    signed.push(("signature", SIGNATURE));
    let r = desk.post_form("/sheets/new", &signed).await;
    assert_eq!(r.status(), 303);
    let id = sheet_id(r.headers()["location"].to_str().unwrap());
    // A double submit of the same form registers nothing more.
    let again = desk.post_form("/sheets/new", &signed).await;
    assert_eq!(sheet_id(again.headers()["location"].to_str().unwrap()), id);
    assert_eq!(t.count("sheets").await, 1);
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("KF-") && html.contains("dispatch-form") && html.contains("/attachments/"));
    let eng = department(&desk, t.c1, "engineering").await.to_string();
    let r = desk
        .post_form(
            &format!("/sheets/{id}/act"),
            &[
                ("action", "dispatch"),
                ("version", &version(&t, id).await),
                ("department_id", &eng),
                ("opinion", "请工程部今天上门"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    // Engineering sees it in its queue and signs for it.
    let q = tech.get(&format!("/queues?community_id={c1}&q=department")).await.text().await.unwrap();
    assert!(q.contains(&format!("/sheets/{id}")));
    let html = tech.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("acknowledge-1"));
    let r = tech
        .post_form(
            &format!("/sheets/{id}/act"),
            &[("action", "acknowledge"), ("version", &version(&t, id).await), ("handover", "1")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = tech
        .post_form(
            &format!("/sheets/{id}/act"),
            &[
                ("action", "return"),
                ("version", &version(&t, id).await),
                ("handover", "1"),
                ("result", "已更换下水管"),
                ("signer", "李师傅"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    // A refused collection keeps the opinion typed and says why.
    let r = desk
        .post_form(
            &format!("/sheets/{id}/act"),
            &[
                ("action", "collect"),
                ("version", &version(&t, id).await),
                ("opinion", "满意"),
                ("confirm", "signature"),
                ("signer", "王秀英"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("签字或电话确认"));
    let r = desk
        .post_form(
            &format!("/sheets/{id}/act"),
            &[
                ("action", "collect"),
                ("version", &version(&t, id).await),
                ("opinion", "满意"),
                ("confirm", "signature"),
                ("signer", "王秀英"),
                ("signature", SIGNATURE),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = desk
        .post_form(&format!("/sheets/{id}/act"), &[("action", "archive"), ("version", &version(&t, id).await)])
        .await;
    assert_eq!(r.status(), 303);
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("已归档") && html.contains("按时收回") && html.contains("李师傅"));
    let print = desk.get(&format!("/sheets/{id}/print")).await.text().await.unwrap();
    assert_eq!(print.matches("class=\"four-part\"").count(), 4, "four parts");
    assert!(print.contains("<svg") && print.contains(&format!("/sheets/{id}")));
    assert!(print.contains("class=\"signed\"><img src=\"/attachments/"), "the drawn signatures are on the paper form");
    // R-SHEET-11: each part says which it is and where it is filed; each has the request's
    // signature in its registration and the acceptance's in its collection block, and a
    // block for the department with its receipt, opinion and signature, then room for two
    // more departments to be written in by hand.
    for part in ["第一联", "第二联", "第三联", "第四联"] {
        assert_eq!(print.matches(part).count(), 3, "{part}: its head, its archive row and its foot");
    }
    assert!(print.contains("收回后存入业主档案") && print.contains("收回后存入客服部会签单档案"));
    assert_eq!(print.matches("<img src=\"/attachments/").count(), 8, "two signatures on each of the four parts");
    assert_eq!(print.matches("class=\"department\"").count(), 12, "three department blocks a part");
    assert_eq!(print.matches("已更换下水管").count(), 4);
    assert_eq!(print.matches("李师傅").count(), 4);
    assert_eq!(print.matches("请工程部今天上门").count(), 4);
    // The unit's page (the owner's file) lists it.
    let (_, units) = desk.get_json(&format!("/api/v1/communities/{c1}/units?room=3-2-1502")).await;
    let unit_page = desk.get(&format!("/units/{}", units[0]["id"])).await.text().await.unwrap();
    assert!(unit_page.contains(&format!("/sheets/{id}")), "the unit's page lists its sheets");
    // The archive and the ledger pages find it; the ledger exports.
    let archive = desk.get(&format!("/sheets?community_id={c1}&q=下水管")).await.text().await.unwrap();
    assert!(archive.contains(&format!("/sheets/{id}")));
    let ledger = desk.get(&format!("/handovers?community_id={c1}")).await.text().await.unwrap();
    assert!(ledger.contains("李师傅") || ledger.contains("已更换下水管"));
    let csv = desk.get(&format!("/handovers?community_id={c1}&format=csv")).await.bytes().await.unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    // Stored signatures are served to staff of the community only.
    let img = desk.get("/attachments/1").await;
    assert_eq!(img.headers()["content-type"], "image/png");
    let outsider = {
        let cli = t.cli();
        let u = new_staff(&t.app, "ly_desk", "柳园前台", PASSWORD, READY).await;
        huiqian::app::auth::grant_role(&t.app, &cli, u, Some(t.c2), Role::Receptionist, None, false).await.unwrap();
        t.client("ly_desk").await
    };
    assert_eq!(outsider.get("/attachments/1").await.status(), 404);
    assert_eq!(outsider.get(&format!("/sheets/{id}")).await.status(), 404);
}

/// Pages for every role: queues and archives open for all staff; registration only for
/// those who register (R-ROLE-2).
#[tokio::test]
async fn r_role_2_sheet_pages_per_role() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    for role in Role::ALL {
        let c = t.as_role(role).await;
        for path in ["/queues", "/sheets", "/handovers"] {
            assert_eq!(c.get(path).await.status(), 200, "{role:?} {path}");
        }
        let s = c.get("/sheets/new").await.status();
        // Security and technicians register repairs (R-REP-1).
        use huiqian::domain::auth::Permission::{RegisterRepair, RegisterSheet};
        let expected = if role.allows(RegisterSheet) || role.allows(RegisterRepair) { 200 } else { 403 };
        assert_eq!(s, expected, "{role:?} /sheets/new");
    }
}

/// Managers see open, overdue and the month's recovery rate; notices reach the inbox;
/// administrators set limits and the calendar from the settings page; photos are
/// attached from the sheet page.
#[tokio::test]
async fn dashboard_inbox_settings_and_attachments() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let admin = t.as_role(Role::SystemAdmin).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let v = crate::sheets::register(&desk, t.c1, "phone", "地库照明不亮").await;
    let (_, v) = crate::sheets::act(
        &desk,
        &v,
        serde_json::json!({"action": "dispatch", "department_id": eng, "opinion": "请检修"}),
    )
    .await;
    let id = v["sheet"]["id"].as_i64().unwrap();
    let home = manager.get("/").await.text().await.unwrap();
    assert!(home.contains("回收率") && home.contains("测试前台接待员") && home.contains("0%"), "dashboard");
    let past = manager.get("/?from=2001-01-01&to=2001-01-31").await.text().await.unwrap();
    assert!(!past.contains("测试前台接待员"), "another period, other numbers");
    assert!(!desk.get("/").await.text().await.unwrap().contains("回收率"), "the desk has no manager dashboard");
    // The overdue notice appears in the receptionist's inbox.
    let due = v["clock"]["due_at"].as_i64().unwrap();
    huiqian::app::notify::tick(&t.app, due + 1).await.unwrap();
    let inbox = desk.get("/inbox").await.text().await.unwrap();
    assert!(inbox.contains("已超期") && inbox.contains(&format!("/sheets/{id}")));
    assert!(desk.get("/inbox/count").await.text().await.unwrap().contains("badge"));
    // Settings: refused to the desk; a bad value keeps what was typed.
    assert_eq!(desk.get(&format!("/communities/{}/settings", t.c1)).await.status(), 403);
    let r = admin
        .post_form(
            &format!("/communities/{}/settings/target", t.c1),
            &[("kind", "repair"), ("target_hours", "abc"), ("warn_hours", "2"), ("counting", "round_the_clock")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("value=\"abc\""));
    let r = admin
        .post_form(
            &format!("/communities/{}/settings/target", t.c1),
            &[("kind", "repair"), ("target_hours", "48"), ("warn_hours", "6"), ("counting", "business_hours")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = admin
        .post_form(
            &format!("/communities/{}/settings/week", t.c1),
            &[
                ("d0", "08:00-17:00"),
                ("d1", "08:00-17:00"),
                ("d2", "08:00-17:00"),
                ("d3", "08:00-17:00"),
                ("d4", "8-17"),
                ("d5", ""),
                ("d6", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("value=\"8-17\""));
    let r = admin
        .post_form(
            &format!("/communities/{}/settings/day", t.c1),
            &[("day", "2027-02-17"), ("kind", "holiday"), ("note", "春节")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = admin.get(&format!("/communities/{}/settings", t.c1)).await.text().await.unwrap();
    assert!(page.contains("48.0") && page.contains("2027-02-17") && page.contains("春节"));
    // A photo from the sheet page.
    let jpeg = crate::harness::jpeg(40, 30);
    let form = reqwest::multipart::Form::new()
        .text("_csrf", desk.csrf.clone())
        .text("purpose", "photo")
        .part("file", reqwest::multipart::Part::bytes(jpeg).file_name("灯.jpg"));
    let r = desk.http.post(desk.url(&format!("/sheets/{id}/attach"))).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("灯.jpg") && html.contains("添加附件"));
}

/// R-SHEET-1: photos and files come with the registration form; a file of the wrong kind
/// refuses the whole form and keeps what was typed.
#[tokio::test]
async fn r_sheet_1_photos_with_the_registration() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let form = |photo: Vec<u8>, name: &'static str| {
        reqwest::multipart::Form::new()
            .text("_csrf", desk.csrf.clone())
            .text("community_id", t.c1.to_string())
            .text("channel", "phone")
            .text("kind", "repair")
            .text("repair.category", "door_window")
            .text("room_no", "3-2-1502")
            .text("requester_name", "王秀英")
            .text("reason", "阳台玻璃开裂")
            .text("key", uuid::Uuid::new_v4().to_string())
            .part("photos", reqwest::multipart::Part::bytes(photo).file_name(name))
    };
    let url = desk.url("/sheets/new");
    let r = desk.http.post(&url).multipart(form(b"MZ\x90\x00not an image".to_vec(), "virus.jpg")).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("阳台玻璃开裂") && html.contains("id=\"err-photos\""), "what was typed is kept");
    assert_eq!(t.count("sheets").await, 0);
    let r = desk.http.post(&url).multipart(form(crate::harness::jpeg(50, 40), "玻璃.jpg")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let id = sheet_id(r.headers()["location"].to_str().unwrap());
    let (_, d) = desk.get_json(&format!("/api/v1/sheets/{id}")).await;
    assert_eq!(d["attachments"][0]["filename"], "玻璃.jpg");
    assert_eq!(d["attachments"][0]["purpose"], "photo");
}

/// The finder fills the phone: a resident chosen in the finder brings the phone from their
/// file, kept masked on every page and sealed in the sheet, so nobody has to ask for the
/// number again; a number typed in wins. Rooms are listed as people count them.
#[tokio::test]
async fn r_arc_1_the_finder_brings_the_residents_phone_masked() {
    use huiqian::app::org;
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let c1 = t.c1.to_string();
    let cli = t.cli();
    for room in ["3-2-1001", "3-2-101"] {
        let unit = org::UnitInput {
            room_no: room.into(),
            floor: String::new(),
            area: "89.5".into(),
            status: "occupied".into(),
            active: true,
        };
        org::create_unit(&t.app, &cli, t.c1, &unit).await.unwrap();
    }
    let found = desk.get(&format!("/sheets/find?community_id={c1}&q=3-2-1")).await.text().await.unwrap();
    let at = |room: &str| found.find(&format!("data-room=\"{room}\"")).unwrap_or_else(|| panic!("{room}: {found}"));
    assert!(at("3-2-101") < at("3-2-1001") && at("3-2-1001") < at("3-2-1502"), "{found}");
    let found = desk.get(&format!("/sheets/find?community_id={c1}&q=5678")).await.text().await.unwrap();
    assert!(found.contains("data-phone=\"138****5678\""), "{found}");
    assert!(!found.contains("13812345678"));
    let person: i64 = sqlx::query_scalar("SELECT id FROM persons WHERE name = $1")
        .bind("王秀英")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    let person = person.to_string();

    let form = |phone: &'static str| {
        vec![
            ("community_id", c1.clone()),
            ("channel", "phone".to_string()),
            ("kind", "inquiry".to_string()),
            ("room_no", "3-2-1502".to_string()),
            ("requester_name", "王秀英".to_string()),
            ("person_id", person.clone()),
            ("requester_phone", phone.to_string()),
            ("reason", "物业费缴费时间".to_string()),
        ]
    };
    let register = |fields: Vec<(&'static str, String)>| {
        let desk = &desk;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = desk.post_form("/sheets/new", &pairs).await;
            assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
            sheet_id(r.headers()["location"].to_str().unwrap())
        }
    };
    let id = register(form("")).await;
    let html = desk.get(&format!("/sheets/{id}")).await.text().await.unwrap();
    assert!(html.contains("138****5678") && !html.contains("13812345678"), "the page shows the phone masked");
    let stored: (String, String, Option<String>) = sqlx::query_as(
        "SELECT requester_phone_masked, requester_phone_last4, requester_phone_enc FROM sheets WHERE id = $1",
    )
    .bind(id)
    .fetch_one(t.app.store.read())
    .await
    .unwrap();
    assert_eq!((stored.0.as_str(), stored.1.as_str()), ("138****5678", "5678"));
    let enc = stored.2.expect("the phone is kept sealed for the call button");
    assert!(!enc.contains("13812345678"));
    assert_eq!(t.app.secrets.decrypt(&enc).unwrap(), "13812345678");

    let id = register(form("13998765432")).await;
    let masked: String = sqlx::query_scalar("SELECT requester_phone_masked FROM sheets WHERE id = $1")
        .bind(id)
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(masked, "139****5432", "a number typed in is the one kept");
}

/// The registration form names the requester and the reason after the channel (来访人 and
/// 来访事由 for a visit, 来电人 and 来电事由 for a call, 来函人 for a letter), in both
/// languages, and keeps the chosen channel's words when the form comes back with an error.
#[tokio::test]
async fn r_sheet_2_r_cmp_1_labels_follow_the_channel_and_say_what_they_mean() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let c1 = t.c1.to_string();
    let html = desk.get(&format!("/sheets/new?community_id={c1}")).await.text().await.unwrap();
    let label = |html: &str, id: &str| {
        let rest = html.split(&format!("id=\"{id}\"")).nth(1).unwrap_or_else(|| panic!("no #{id}"));
        rest[rest.find('>').unwrap() + 1..rest.find("</span>").unwrap()].to_string()
    };
    assert_eq!((label(&html, "requester-label"), label(&html, "reason-label")), ("来访人".into(), "来访事由".into()));
    assert!(html.contains("data-phone=\"来电人\"") && html.contains("data-letter=\"来函人\""));
    assert!(html.contains("data-phone=\"来电事由\""));
    // R-CMP-1: the complaint part's empty choices say what they mean.
    let part = html.split("data-for-kind=\"complaint\"").nth(1).expect("the complaint part");
    let part = &part[..part.find("</fieldset>").unwrap()];
    assert!(part.contains("（不涉及具体部门）") && part.contains("（不涉及具体人员）"), "{part}");
    assert!(!part.contains("暂无记录"));
    let form = [("community_id", c1.as_str()), ("channel", "phone"), ("kind", "inquiry"), ("requester_name", "王秀英")];
    let r = desk.post_form("/sheets/new", &form).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert_eq!((label(&html, "requester-label"), label(&html, "reason-label")), ("来电人".into(), "来电事由".into()));
    let r =
        desk.http.put(desk.url("/api/v1/me/locale")).json(&serde_json::json!({"locale": "en"})).send().await.unwrap();
    assert!(r.status().is_success());
    let html = desk.get(&format!("/sheets/new?community_id={c1}")).await.text().await.unwrap();
    assert_eq!(label(&html, "requester-label"), "Visitor");
    assert!(html.contains("data-phone=\"Caller\""));
    // English asides in English brackets: "Water leak / burst pipe (Emergency)".
    assert!(html.contains("Water leak / burst pipe (Emergency)"), "English brackets");
    assert!(!html.contains('（') && !html.contains('）'), "no full-width brackets in the English form");
}

/// The signature pad's keyboard alternative (R-SHEET-3, R-SHEET-7): a requester who
/// cannot draw types their name and confirms it. The sheet keeps the image and records
/// it as typed: the sheet page and the printed form say 键盘签名 beside it, the API marks
/// the attachment, and the audit entry of the step it signed says so. A drawn signature
/// says none of this.
#[tokio::test]
async fn r_sheet_3_a_typed_signature_is_recorded_as_typed() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let c1 = t.c1.to_string();
    let form = |reason: &'static str, typed: &'static str| {
        vec![
            ("community_id", c1.clone()),
            ("channel", "visit".to_string()),
            ("kind", "repair".to_string()),
            ("room_no", "3-2-1502".to_string()),
            ("requester_name", "王秀英".to_string()),
            ("reason", reason.to_string()),
            ("repair.category", "drainage".to_string()),
            ("signature", SIGNATURE.to_string()),
            ("signature_typed", typed.to_string()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let desk = &desk;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = desk.post_form("/sheets/new", &pairs).await;
            assert_eq!(r.status(), 303);
            sheet_id(r.headers()["location"].to_str().unwrap())
        }
    };
    let typed = post(form("卫生间地漏反味", "1")).await;
    let drawn = post(form("阳台下水管滴水", "")).await;

    let html = desk.get(&format!("/sheets/{typed}")).await.text().await.unwrap();
    assert!(html.contains("（键盘签名）"), "the sheet page says the signature was typed");
    let html = desk.get(&format!("/sheets/{drawn}")).await.text().await.unwrap();
    assert!(!html.contains("（键盘签名）"), "a drawn signature is not called typed");
    let print = desk.get(&format!("/sheets/{typed}/print")).await.text().await.unwrap();
    assert!(print.contains("（键盘签名）"), "nor is it hidden on the printed form");
    let kinds = |d: serde_json::Value| -> Vec<i64> {
        d["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["purpose"] == "signature")
            .map(|a| a["typed"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(kinds(desk.get_json(&format!("/api/v1/sheets/{typed}")).await.1), vec![1]);
    assert_eq!(kinds(desk.get_json(&format!("/api/v1/sheets/{drawn}")).await.1), vec![0]);
    let registered: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT changes FROM audit_log WHERE action = 'sheet.registered' AND entity_id IN ('{typed}', '{drawn}') ORDER BY seq"
    ))
    .fetch_all(t.app.store.read())
    .await
    .unwrap();
    let typed_flag = |c: &str| serde_json::from_str::<serde_json::Value>(c).unwrap()["signature_typed"].clone();
    assert_eq!(
        registered.iter().map(|c| typed_flag(c)).collect::<Vec<_>>(),
        vec![serde_json::json!(true), serde_json::json!(false)]
    );

    // A call waits for its later signature (补签): typed on the sheet page, it clears
    // 待补签 and is recorded as typed in the audit entry of the capture.
    let c = t.c1;
    let phone = crate::sheets::register(&desk, c, "phone", "来电：楼道灯不亮").await;
    let id = phone["id"].as_i64().unwrap();
    let r = desk
        .post_form(
            &format!("/sheets/{id}/act"),
            &[
                ("action", "capture_signature"),
                ("version", &version(&t, id).await),
                ("signature", SIGNATURE),
                ("signer", "王秀英"),
                ("signature_typed", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, d) = desk.get_json(&format!("/api/v1/sheets/{id}")).await;
    assert_eq!((d["sheet"]["signature_pending"].as_i64(), kinds(d)), (Some(0), vec![1]));
    let captured: String = sqlx::query_scalar(&format!(
        "SELECT changes FROM audit_log WHERE action = 'sheet.signature_captured' AND entity_id = '{id}'"
    ))
    .fetch_one(t.app.store.read())
    .await
    .unwrap();
    assert_eq!(typed_flag(&captured), true);
}

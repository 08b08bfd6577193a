//! The web interface: pages per role (R-ROLE-2), forms that keep what was typed and
//! name the bad field, masked personal data on every page (R-ARC-1).

use crate::harness::{PASSWORD, READY, TestApp, new_staff};
use crate::sheets::seed_unit;
use huiqian::domain::auth::{Permission, Role};

async fn seed(t: &TestApp) -> (i64, i64, i64, i64) {
    use huiqian::app::auth;
    let (b, u, p) = seed_unit(t, "11010519491231002X").await;
    let cli = t.cli();
    let staff = new_staff(&t.app, "target", "目标员工", "Target-pass-1", auth::StaffOptions::default()).await;
    auth::grant_role(&t.app, &cli, staff, Some(t.c1), Role::Technician, None, false).await.unwrap();
    (b, u, p, staff)
}

/// R-ROLE-2 for pages: every page × every role; a page the role may not open answers
/// 403 (or 404 for another community's records) and shows no data.
#[tokio::test]
async fn r_role_2_every_page_for_every_role() {
    let t = TestApp::spawn().await;
    let (b, u, p, staff) = seed(&t).await;
    let c1 = t.c1;
    let pages: Vec<(String, Option<Permission>)> = vec![
        ("/".into(), None),
        ("/account".into(), None),
        ("/account/password".into(), None),
        ("/persons".into(), Some(Permission::ViewCommunity)),
        (format!("/persons?community_id={c1}&q=5678"), Some(Permission::ViewCommunity)),
        (format!("/persons/{p}"), Some(Permission::ViewCommunity)),
        (format!("/persons/{p}/edit"), Some(Permission::ManageResidents)),
        (format!("/communities/{c1}"), Some(Permission::ViewCommunity)),
        (format!("/communities/{c1}/edit"), Some(Permission::ManageCommunity)),
        (format!("/communities/{c1}/units"), Some(Permission::ViewCommunity)),
        (format!("/communities/{c1}/units/new"), Some(Permission::ManageStructure)),
        (format!("/communities/{c1}/persons/new"), Some(Permission::ManageResidents)),
        (format!("/buildings/{b}"), Some(Permission::ViewCommunity)),
        (format!("/units/{u}"), Some(Permission::ViewCommunity)),
        (format!("/units/{u}/edit"), Some(Permission::ManageStructure)),
        ("/staff".into(), Some(Permission::ViewStaff)),
        (format!("/staff/{staff}"), Some(Permission::ViewStaff)),
        ("/staff/new".into(), Some(Permission::ManageStaff)),
        ("/import".into(), Some(Permission::ImportData)),
        ("/audit".into(), Some(Permission::ViewAudit)),
        ("/inbox".into(), None),
        (format!("/communities/{c1}/settings"), Some(Permission::ManageCommunity)),
    ];
    let mut failures = vec![];
    for (i, role) in Role::ALL.into_iter().enumerate() {
        let c = t.as_role(role).await;
        for (path, need) in &pages {
            let r = c.get(path).await;
            let s = r.status().as_u16();
            let body = r.text().await.unwrap();
            let ok = need.is_none_or(|p| role.allows(p));
            if ok && s != 200 {
                failures.push(format!("{role:?} GET {path}: {s}, expected 200"));
            }
            if !ok && s != 403 {
                failures.push(format!("{role:?} GET {path}: {s}, expected 403"));
            }
            if body.contains("13812345678") || body.contains("11010519491231002X") {
                failures.push(format!("{role:?} GET {path}: unmasked personal data"));
            }
        }
        // Company-wide pages: nobody here holds a company-wide role.
        assert_eq!(c.get("/communities/new").await.status(), 403, "{role:?}");
        // Another community's pages are not found.
        assert_eq!(c.get(&format!("/communities/{}", t.c2)).await.status(), 404, "{role:?}");
        // A refused form post writes nothing.
        let before = t.audit_count().await;
        let code = format!("7{i}");
        let r = c.post_form(&format!("/communities/{c1}/buildings"), &[("code", &code)]).await;
        if !role.allows(Permission::ManageStructure) {
            assert_eq!(r.status(), 403, "{role:?}");
            assert_eq!(t.audit_count().await, before, "{role:?}");
        } else {
            assert_eq!(r.status(), 303, "{role:?}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bad input: the form comes back with 422, a message beside the field in the user's
/// language, and everything typed still there; nothing is written.
#[tokio::test]
async fn a_bad_form_keeps_what_was_typed_and_names_the_field() {
    let t = TestApp::spawn().await;
    seed(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let before = t.count("persons").await;
    let r = desk
        .post_form(
            &format!("/communities/{}/persons/new", t.c1),
            &[
                ("name", "李建国"),
                ("phone", "139-9876-543"),
                ("id_kind", "resident_id_card"),
                ("id_number", ""),
                ("room_no", "3-2-1502"),
                ("relation", "tenant"),
                ("note", "周末在家"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("value=\"李建国\""), "name kept");
    assert!(html.contains("value=\"139-9876-543\""), "phone kept as typed");
    assert!(html.contains("value=\"周末在家\""), "note kept");
    assert!(html.contains("id=\"err-phone\""), "error beside the phone field");
    assert!(html.contains("<option value=\"tenant\" selected>"), "relation kept");
    assert_eq!(t.count("persons").await, before);
    // And it works once corrected.
    let r = desk
        .post_form(
            &format!("/communities/{}/persons/new", t.c1),
            &[
                ("name", "李建国"),
                ("phone", "139-9876-5432"),
                ("id_kind", "resident_id_card"),
                ("room_no", "3-2-1502"),
                ("relation", "tenant"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let person = r.headers()["location"].to_str().unwrap().to_string();
    let html = desk.get(&person).await.text().await.unwrap();
    assert!(html.contains("139****5432"));
    assert!(html.contains("3-2-1502"));
}

/// Two people on the same unit form: the second is told someone else changed it.
#[tokio::test]
async fn a_stale_form_gets_a_conflict_message() {
    let t = TestApp::spawn().await;
    let (_, u, _, _) = seed(&t).await;
    let m = t.as_role(Role::CsManager).await;
    let r = m
        .post_form(
            &format!("/units/{u}/edit"),
            &[("version", "1"), ("area", "90"), ("status", "occupied"), ("active", "on")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = m
        .post_form(
            &format!("/units/{u}/edit"),
            &[("version", "1"), ("area", "95"), ("status", "vacant"), ("active", "on")],
        )
        .await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(html.contains("刚被其他人修改过"));
    assert!(html.contains("value=\"95\""), "what was typed is kept");
}

#[tokio::test]
async fn import_page_dry_run_lists_bad_rows() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let csv = "房号,建筑面积,姓名,手机\n9-1-101,89.5,赵一,13800000001\n9-1-102,abc,钱二,1380000\n";
    let form = reqwest::multipart::Form::new()
        .text("_csrf", m.csrf.clone())
        .text("community_id", t.c1.to_string())
        .text("dry_run", "1")
        .part("file", reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("业主名册.csv"));
    let r = m.http.post(m.url("/import")).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"import-errors\""));
    assert!(html.contains("<td>3</td><td>建筑面积</td>"), "{html}");
    assert!(html.contains("<td>3</td><td>手机</td>"));
    assert_eq!(t.count("units").await, 0);
    // Without the token in the action, the upload is refused as cross-site.
    let form = reqwest::multipart::Form::new()
        .text("community_id", t.c1.to_string())
        .part("file", reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("x.csv"));
    let r = m.http.post(m.url("/import")).header("x-csrf-token", "").multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn must_change_password_is_enforced_on_pages() {
    let t = TestApp::spawn().await;
    let cli = t.cli();
    let u = new_staff(&t.app, "newbie", "新同事", PASSWORD, huiqian::app::auth::StaffOptions::default()).await;
    huiqian::app::auth::grant_role(&t.app, &cli, u, Some(t.c1), Role::Receptionist, None, false).await.unwrap();
    let c = t.client("newbie").await;
    let r = c.get("/persons").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account/password");
    let r = c
        .post_form(
            "/account/password",
            &[
                ("current_password", crate::harness::PASSWORD),
                ("new_password", "My-own-pass-1"),
                ("confirm_password", "My-own-pass-1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(c.get("/persons").await.status(), 200);
}

/// Foundation §2: a company-wide administrator creates companies and communities from
/// the home page; a community administrator cannot.
#[tokio::test]
async fn company_wide_administrator_creates_companies_and_communities() {
    let t = TestApp::spawn().await;
    let local = t.as_role(Role::SystemAdmin).await;
    assert_eq!(local.post_form("/companies", &[("name", "另一家物业")]).await.status(), 403);
    new_staff(&t.app, "boss", "总部管理员", PASSWORD, READY).await;
    let mut conn = t.app.store.read().acquire().await.unwrap();
    let boss = huiqian::store::auth::user_by_name(&mut conn, "boss").await.unwrap().unwrap().id;
    drop(conn);
    huiqian::app::auth::grant_role(&t.app, &t.cli(), boss, None, Role::SystemAdmin, None, false).await.unwrap();
    let c = t.client("boss").await;
    assert_eq!(c.post_form("/companies", &[("name", "另一家物业")]).await.status(), 303);
    let home = c.get("/").await.text().await.unwrap();
    assert!(
        home.contains("另一家物业") && home.contains("和园") && home.contains("柳园"),
        "company-wide sees every community"
    );
    let r = c
        .post_form(
            "/communities/new",
            &[("company_id", &t.company.to_string()), ("code", "SY"), ("name", "松园"), ("timezone", "Asia/Urumqi")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = c.get(r.headers()["location"].to_str().unwrap()).await.text().await.unwrap();
    assert!(page.contains("松园") && page.contains("Asia/Urumqi") && page.contains("工程部"));
}

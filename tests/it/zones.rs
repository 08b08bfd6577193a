//! Time zones on the pages: what belongs to a community is shown in that community's
//! zone, what belongs to none in the company's configured `display.timezone`.

use crate::harness::{Client, TestApp};
use crate::sheets::{act, department, register_kind, setup};
use huiqian::app::notify;
use huiqian::domain::auth::Role;
use huiqian::domain::time::format_instant;
use serde_json::json;

const URUMQI: chrono_tz::Tz = chrono_tz::Asia::Urumqi;
const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// Move community `id` to `zone`, as its administrator would.
async fn set_zone(t: &TestApp, id: i64, zone: &str) {
    let admin = t.as_role(Role::SystemAdmin).await;
    let (_, c) = admin.get_json(&format!("/api/v1/communities/{id}")).await;
    let edit = json!({"version": c["version"], "company_id": t.company, "code": c["code"], "name": c["name"], "timezone": zone});
    let (s, c) = admin.put_json(&format!("/api/v1/communities/{id}"), &edit).await;
    assert_eq!((s, c["timezone"].as_str()), (200, Some(zone)), "{c}");
}

async fn html(c: &Client, path: &str) -> String {
    let r = c.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// A sheet of a community in Urumqi (two hours behind Shanghai) shows its registration,
/// its history and its row in the queue in Urumqi time; a sheet of a community left in
/// Shanghai, registered alongside, in Shanghai time.
#[tokio::test]
async fn a_communitys_pages_show_its_times_in_its_own_zone() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    set_zone(&t, t.c1, "Asia/Urumqi").await;
    let desk = t.as_role(Role::Receptionist).await;
    let v = register_kind(&desk, t.c1, "situation_report", "电梯困人后异响").await;
    let (id, at) = (v["id"].as_i64().unwrap(), v["registered_at"].as_i64().unwrap());
    let (here, shanghai) = (format_instant(at, URUMQI), format_instant(at, SHANGHAI));
    assert_ne!(here, shanghai);

    let page = html(&desk, &format!("/sheets/{id}")).await;
    assert!(page.contains(&format!("<dd>{here}</dd>")), "registration in Urumqi time {here}");
    assert!(page.contains(&format!("<time>{here}</time>")), "history in Urumqi time {here}");
    assert!(!page.contains(&format!("<dd>{shanghai}</dd>")), "registration not in Shanghai time");
    assert!(!page.contains(&format!("<time>{shanghai}</time>")), "history not in Shanghai time");
    let print = html(&desk, &format!("/sheets/{id}/print")).await;
    assert!(print.contains(&here), "the printed form in Urumqi time {here}");

    // The second community keeps Shanghai's zone: the zone is the community's, not the page's.
    let other = t.client(&other_receptionist(&t).await).await;
    let w = register_kind(&other, t.c2, "situation_report", "楼道灯不亮").await;
    let (id2, at2) = (w["id"].as_i64().unwrap(), w["registered_at"].as_i64().unwrap());
    let page = html(&other, &format!("/sheets/{id2}")).await;
    assert!(page.contains(&format!("<dd>{}</dd>", format_instant(at2, SHANGHAI))));
    assert!(!page.contains(&format!("<dd>{}</dd>", format_instant(at2, URUMQI))));
}

/// A receptionist of the second community (the harness's users work in the first), and
/// the room the sheets are registered for.
async fn other_receptionist(t: &TestApp) -> String {
    use huiqian::app::{auth, org};
    let cli = t.cli();
    org::create_building(
        &t.app,
        &cli,
        t.c2,
        &org::BuildingInput { code: "3".into(), name: String::new(), floors: 18, active: true },
    )
    .await
    .unwrap();
    let unit = org::UnitInput {
        room_no: "3-2-1502".into(),
        floor: String::new(),
        area: "89.5".into(),
        status: "occupied".into(),
        active: true,
    };
    org::create_unit(&t.app, &cli, t.c2, &unit).await.unwrap();
    let staff = auth::create_staff(
        &t.app,
        &t.cli(),
        &auth::NewStaff {
            username: "desk_c2".into(),
            display_name: "柳园前台".into(),
            password: crate::harness::PASSWORD.into(),
            phone: String::new(),
            locale: "zh-CN".into(),
        },
        auth::StaffOptions { must_change_password: false, totp_exempt: false },
    )
    .await
    .unwrap();
    auth::grant_role(&t.app, &t.cli(), staff.id, Some(t.c2), Role::Receptionist, None, false).await.unwrap();
    "desk_c2".into()
}

/// The inbox belongs to no community, but each notice does: a notice about a sheet of a
/// community in Urumqi is dated in Urumqi time.
#[tokio::test]
async fn the_inbox_shows_a_notice_in_its_communitys_zone() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    set_zone(&t, t.c1, "Asia/Urumqi").await;
    let desk = t.as_role(Role::Receptionist).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let v = register_kind(&desk, t.c1, "situation_report", "电梯困人后异响").await;
    let (_, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请检修"})).await;
    let warn = v["clock"]["warn_at"].as_i64().unwrap();
    assert_eq!(notify::tick(&t.app, warn + 1000).await.unwrap().notices, 1);
    let (_, inbox) = desk.get_json("/api/v1/me/notifications").await;
    assert_eq!(inbox[0]["community_id"], t.c1, "{inbox}");
    let at = inbox[0]["created_at"].as_i64().unwrap();

    let page = html(&desk, "/inbox").await;
    assert!(page.contains(&format!("<time>{}</time>", format_instant(at, URUMQI))), "the notice in Urumqi time");
    assert!(!page.contains(&format!("<time>{}</time>", format_instant(at, SHANGHAI))), "not in Shanghai time");
}

/// A person's sessions belong to no community: the account page shows them in the
/// company's configured display zone.
#[tokio::test]
async fn what_belongs_to_no_community_is_shown_in_the_configured_display_zone() {
    let london = chrono_tz::Europe::London;
    let t = TestApp::spawn_with(|cfg| cfg.display.timezone = huiqian::config::Zone(london)).await;
    let desk = t.as_role(Role::Receptionist).await;
    let (_, sessions) = desk.get_json("/api/v1/me/sessions").await;
    let created = sessions[0]["created_at"].as_i64().unwrap();
    let page = html(&desk, "/account").await;
    assert!(page.contains(&format_instant(created, london)), "the session in London time");
    assert!(!page.contains(&format_instant(created, SHANGHAI)), "not in Shanghai time");
}

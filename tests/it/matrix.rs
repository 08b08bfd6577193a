//! R-ROLE-2: every API route × every role. A role without the right is refused (403) and
//! nothing is written; no role reaches into another community. The table must classify
//! every operation of the OpenAPI document, so a new route cannot escape it.

use crate::harness::{Client, TestApp, new_staff};
use huiqian::domain::auth::{Permission, Role};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
enum Need {
    /// Any signed-in person (their own account).
    Me,
    /// Any member of staff (the list is scoped to what they may see).
    AnyStaff,
    /// A permission in the community the route touches.
    In(Permission),
    /// A company-wide grant (of ManageCommunity): no community role is enough.
    CompanyWide,
    /// Either of two permissions in the community.
    Either(Permission, Permission),
}

/// (method, path, need). Paths with `{id}` refer to a record of the first community.
fn table() -> Vec<(&'static str, &'static str, Need)> {
    use Need::*;
    use Permission::*;
    vec![
        ("get", "/api/v1/me", Me),
        ("put", "/api/v1/me/password", Me),
        ("put", "/api/v1/me/locale", Me),
        ("get", "/api/v1/me/sessions", Me),
        ("delete", "/api/v1/me/sessions/{id}", Me),
        ("get", "/api/v1/me/tokens", Me),
        ("post", "/api/v1/me/tokens", Me),
        ("delete", "/api/v1/me/tokens/{id}", Me),
        ("get", "/api/v1/companies", CompanyWide),
        ("post", "/api/v1/companies", CompanyWide),
        ("get", "/api/v1/communities", AnyStaff),
        ("post", "/api/v1/communities", CompanyWide),
        ("get", "/api/v1/communities/{id}", In(ViewCommunity)),
        ("put", "/api/v1/communities/{id}", In(ManageCommunity)),
        ("get", "/api/v1/communities/{id}/buildings", In(ViewCommunity)),
        ("post", "/api/v1/communities/{id}/buildings", In(ManageStructure)),
        ("put", "/api/v1/buildings/{id}", In(ManageStructure)),
        ("get", "/api/v1/communities/{id}/units", In(ViewCommunity)),
        ("post", "/api/v1/communities/{id}/units", In(ManageStructure)),
        ("get", "/api/v1/units/{id}", In(ViewCommunity)),
        ("put", "/api/v1/units/{id}", In(ManageStructure)),
        ("get", "/api/v1/units/{id}/occupants", In(ViewCommunity)),
        ("post", "/api/v1/units/{id}/occupants", In(ManageResidents)),
        ("post", "/api/v1/occupancies/{id}/end", In(ManageResidents)),
        ("get", "/api/v1/communities/{id}/departments", In(ViewCommunity)),
        ("post", "/api/v1/communities/{id}/departments", In(ManageStructure)),
        ("put", "/api/v1/departments/{id}", In(ManageStructure)),
        ("get", "/api/v1/communities/{id}/persons", In(ViewCommunity)),
        ("post", "/api/v1/communities/{id}/persons", In(ManageResidents)),
        ("get", "/api/v1/persons/{id}", In(ViewCommunity)),
        ("put", "/api/v1/persons/{id}", In(ManageResidents)),
        ("post", "/api/v1/communities/{id}/imports", In(ImportData)),
        ("get", "/api/v1/staff", In(ViewStaff)),
        ("post", "/api/v1/staff", In(ManageStaff)),
        ("get", "/api/v1/staff/{id}", In(ViewStaff)),
        ("put", "/api/v1/staff/{id}", In(ManageStaff)),
        ("post", "/api/v1/staff/{id}/roles", In(ManageStaff)),
        ("delete", "/api/v1/roles/{id}", In(ManageStaff)),
        ("post", "/api/v1/staff/{id}/reset-password", In(ManageStaff)),
        ("get", "/api/v1/audit", In(ViewAudit)),
        ("get", "/api/v1/communities/{id}/sheets", In(ViewCommunity)),
        ("post", "/api/v1/communities/{id}/sheets", In(RegisterSheet)),
        ("get", "/api/v1/sheets/{id}", In(ViewCommunity)),
        ("get", "/api/v1/communities/{id}/queues/{name}", In(ViewCommunity)),
        ("get", "/api/v1/communities/{id}/handovers", In(ViewCommunity)),
        ("get", "/api/v1/units/{id}/sheets", In(ViewCommunity)),
        ("get", "/api/v1/departments/{id}/sheets", In(ViewCommunity)),
        ("get", "/api/v1/communities/{id}/recovery", In(ReassignSheet)),
        ("get", "/api/v1/me/notifications", Me),
        ("post", "/api/v1/me/notifications/{id}/read", Me),
        ("get", "/api/v1/communities/{id}/clock-targets", In(ViewCommunity)),
        ("put", "/api/v1/communities/{id}/clock-targets", In(ManageCommunity)),
        ("get", "/api/v1/communities/{id}/calendar", In(ViewCommunity)),
        ("put", "/api/v1/communities/{id}/calendar/week", In(ManageCommunity)),
        ("put", "/api/v1/communities/{id}/calendar/days", In(ManageCommunity)),
        ("get", "/api/v1/holidays", AnyStaff),
        ("get", "/api/v1/holidays/{year}", AnyStaff),
        ("get", "/api/v1/communities/{id}/keys", In(ViewKeys)),
        ("post", "/api/v1/communities/{id}/keys", In(HandleKeys)),
        ("get", "/api/v1/keys/{id}", In(ViewKeys)),
        ("post", "/api/v1/keys/{id}/receipts", In(HandleKeys)),
        ("post", "/api/v1/keys/{id}/sign-outs", In(HandleKeys)),
        ("post", "/api/v1/keys/{id}/agreements", In(HandleKeys)),
        ("post", "/api/v1/keys/{id}/approvals", In(HandleKeys)),
        ("post", "/api/v1/keys/{id}/release", In(HandleKeys)),
        ("post", "/api/v1/key-sign-outs/{id}/returns", In(HandleKeys)),
        ("get", "/api/v1/communities/{id}/key-approvals", In(ViewKeys)),
        ("post", "/api/v1/key-approvals/{id}/decision", In(ApproveKeys)),
        ("get", "/api/v1/communities/{id}/key-cabinets", In(ViewKeys)),
        ("post", "/api/v1/communities/{id}/key-cabinets", In(ManageKeys)),
        ("get", "/api/v1/key-cabinets/{id}/log", In(ViewKeys)),
        ("post", "/api/v1/key-cabinets/{id}/seal", In(HandleKeys)),
        // The person recording; the two who open confirm with their own credentials.
        ("post", "/api/v1/key-cabinets/{id}/night-opening", In(ViewKeys)),
        ("post", "/api/v1/key-cabinets/{id}/morning-opening", In(HandleKeys)),
        ("get", "/api/v1/key-cabinets/{id}/count", In(HandleKeys)),
        ("post", "/api/v1/key-cabinets/{id}/count", In(HandleKeys)),
        ("get", "/api/v1/communities/{id}/key-incidents", In(ViewKeys)),
        ("post", "/api/v1/key-incidents/{id}/report", In(HandleKeys)),
        ("post", "/api/v1/key-incidents/{id}/resolve", In(ManageKeys)),
        ("get", "/api/v1/communities/{id}/key-ledger", In(ViewKeys)),
        ("get", "/api/v1/communities/{id}/vacant-units", In(ViewKeys)),
        ("post", "/api/v1/units/{id}/inspections", In(HandleKeys)),
        ("get", "/api/v1/communities/{id}/key-settings", In(ViewKeys)),
        ("put", "/api/v1/communities/{id}/key-settings", In(ManageKeys)),
        // The State Council's notice is the company's: only a company-wide administrator loads one.
        ("post", "/api/v1/holidays", CompanyWide),
        ("get", "/api/v1/communities/{id}/repairs/board", Either(DispatchRepair, HandleSheet)),
        ("get", "/api/v1/communities/{id}/repairs/my-day", In(DoRepair)),
        ("get", "/api/v1/communities/{id}/request-ledgers/{name}", In(ViewCommunity)),
        ("get", "/api/v1/communities/{id}/request-settings", In(ViewCommunity)),
        ("put", "/api/v1/communities/{id}/request-settings", In(ManageRequests)),
        ("get", "/api/v1/communities/{id}/price-items", In(ViewCommunity)),
        ("post", "/api/v1/communities/{id}/price-items", Either(ManageRequests, DispatchRepair)),
        ("put", "/api/v1/communities/{id}/price-items/{item}", Either(ManageRequests, DispatchRepair)),
        ("get", "/api/v1/communities/{id}/articles", In(ViewCommunity)),
        ("post", "/api/v1/communities/{id}/articles", In(ManageRequests)),
        ("put", "/api/v1/communities/{id}/articles/{article}", In(ManageRequests)),
        ("get", "/api/v1/communities/{id}/sheet-presets", In(ViewCommunity)),
        ("post", "/api/v1/communities/{id}/sheet-presets", In(ManageRequests)),
        ("put", "/api/v1/communities/{id}/sheet-presets/{preset}", In(ManageRequests)),
        ("get", "/api/v1/communities/{id}/follow-ups", In(FollowUp)),
        ("get", "/api/v1/follow-ups/{id}", In(FollowUp)),
        ("post", "/api/v1/follow-ups/{id}/record", In(FollowUp)),
        ("post", "/api/v1/follow-ups/{id}/review", In(ReviewFollowUp)),
        ("post", "/api/v1/follow-ups/{id}/reassign", In(ReassignSheet)),
        ("get", "/api/v1/communities/{id}/follow-up-ledger", In(FollowUp)),
        ("get", "/api/v1/communities/{id}/capas", In(FollowUp)),
        ("get", "/api/v1/capas/{id}", In(FollowUp)),
        ("post", "/api/v1/capas/{id}/plan", In(ReviewFollowUp)),
        // The person responsible may too; none of the roles here is.
        ("post", "/api/v1/capas/{id}/implement", In(ReviewFollowUp)),
        ("post", "/api/v1/capas/{id}/verify", In(ReviewFollowUp)),
        ("get", "/api/v1/communities/{id}/follow-up-settings", In(ViewCommunity)),
        ("put", "/api/v1/communities/{id}/follow-up-settings", In(ManageRequests)),
        ("get", "/api/v1/communities/{id}/follow-up-sampling/{period}", In(ViewAudit)),
        ("get", "/api/v1/reports/weekly", In(ViewReports)),
        ("get", "/api/v1/communities/{id}/weekly-report", In(ViewReports)),
        ("get", "/api/v1/communities/{id}/weekly-reports", In(ViewReports)),
        ("get", "/api/v1/communities/{id}/performance", In(ViewReports)),
        ("get", "/api/v1/communities/{id}/performance/{user}/{measure}", In(ViewReports)),
    ]
}

/// Operations tested elsewhere, because running them would end the session under test.
const ELSEWHERE: &[(&str, &str, &str)] = &[
    ("post", "/api/v1/auth/sign-in", "auth::session_cookie_is_http_only_same_site_and_rotated_at_sign_in"),
    ("post", "/api/v1/auth/second-factor", "auth::second_factor_is_required_for_administrators"),
    ("post", "/api/v1/auth/sign-out", "auth (sign-out ends the session)"),
    ("post", "/api/v1/me/totp", "auth::second_factor_is_required_for_administrators"),
    ("post", "/api/v1/me/totp/confirm", "auth::second_factor_is_required_for_administrators"),
    (
        "delete",
        "/api/v1/communities/{id}/calendar/days/{day}",
        "notices::r_sheet_7_targets_per_kind_and_business_calendar (needs a day to remove)",
    ),
    (
        "post",
        "/api/v1/sheets/{id}/attachments",
        "notices::attachments_are_checked_and_join_the_timeline (multipart; holders of the sheet)",
    ),
    (
        "post",
        "/api/v1/sheets/{id}/phone",
        "requests::calling_the_resident_reveals_the_phone_to_the_job_and_audits_it (the technician on the job, or the desk with a reason)",
    ),
    (
        "post",
        "/api/v1/sheets/{id}/actions",
        "sheets::r_role_2_each_sheet_action_for_each_role (the right depends on the action)",
    ),
    (
        "post",
        "/api/v1/communities/{id}/weekly-reports/{week}/analysis",
        "reports::r_cmp_8_weekly_table_goes_to_the_director (the CS manager's role, a week that has ended)",
    ),
    (
        "post",
        "/api/v1/communities/{id}/weekly-reports/{week}/acknowledgement",
        "reports::r_cmp_8_weekly_table_goes_to_the_director (the director's role, after the analysis)",
    ),
];

struct Fixture {
    community: i64,
    building: i64,
    unit: i64,
    person: i64,
    occupancy: i64,
    department: i64,
    staff: i64,
    role_row: i64,
    sheet: i64,
    price_item: i64,
    article: i64,
    preset: i64,
    follow_up: i64,
    capa: i64,
    key: i64,
    cabinet: i64,
    loan: i64,
    approval: i64,
    incident: i64,
}

async fn fixture(t: &TestApp, community: i64, tag: &str) -> Fixture {
    use huiqian::app::{auth, org, people};
    let cli = t.cli();
    let b = org::create_building(
        &t.app,
        &cli,
        community,
        &org::BuildingInput { code: "1".into(), name: String::new(), floors: 6, active: true },
    )
    .await
    .unwrap();
    let u = org::create_unit(
        &t.app,
        &cli,
        community,
        &org::UnitInput {
            room_no: "1-1-101".into(),
            floor: String::new(),
            area: "80".into(),
            status: String::new(),
            active: true,
        },
    )
    .await
    .unwrap();
    let p = people::create_person(
        &t.app,
        &cli,
        community,
        &people::PersonInput { name: "王秀英".into(), phone: "13812345678".into(), ..Default::default() },
    )
    .await
    .unwrap();
    let o = people::add_occupancy(
        &t.app,
        &cli,
        u.id,
        &people::OccupancyInput { person_id: p.id, relation: "owner".into(), since: String::new() },
    )
    .await
    .unwrap();
    let d = org::departments(&t.app, &cli, community).await.unwrap()[0].id;
    let s =
        new_staff(&t.app, &format!("target_{tag}"), "目标员工", "Target-pass-1", auth::StaffOptions::default()).await;
    let r = auth::grant_role(&t.app, &cli, s, Some(community), Role::Technician, None, false).await.unwrap();
    let desk = new_staff(&t.app, &format!("desk_{tag}"), "前台", "Target-pass-1", auth::StaffOptions::default()).await;
    auth::grant_role(&t.app, &cli, desk, Some(community), Role::Receptionist, None, false).await.unwrap();
    let desk_actor = auth::cli_actor_for(&t.app, desk).await.unwrap();
    let sheet = huiqian::app::sheet::register(
        &t.app,
        &desk_actor,
        community,
        &huiqian::app::sheet::RegisterInput {
            kind: "repair".into(),
            channel: "phone".into(),
            room_no: "1-1-101".into(),
            requester_name: "王秀英".into(),
            reason: "厨房漏水".into(),
            repair: Some(huiqian::app::request::RepairIntake { category: "water".into(), ..Default::default() }),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    let price_item = huiqian::app::request::save_price_item(
        &t.app,
        &cli,
        community,
        None,
        &huiqian::app::request::PriceItemInput {
            name: "更换水龙头".into(),
            unit: "个".into(),
            item_kind: "material".into(),
            price: "35".into(),
            active: true,
            version: None,
        },
    )
    .await
    .unwrap()
    .id;
    // An article is written by a person (its author is kept).
    auth::grant_role(&t.app, &cli, desk, Some(community), Role::CsManager, None, false).await.unwrap();
    let author = auth::cli_actor_for(&t.app, desk).await.unwrap();
    let article = huiqian::app::request::save_article(
        &t.app,
        &author,
        community,
        None,
        &huiqian::app::request::ArticleInput {
            title: "停水通知".into(),
            answer: "计划停水提前一天张贴通知。".into(),
            basis: "《供水管理办法》".into(),
            active: true,
            version: None,
        },
    )
    .await
    .unwrap()
    .id;
    let preset = huiqian::app::request::save_preset(
        &t.app,
        &author,
        community,
        None,
        &huiqian::app::request::PresetInput {
            title: "停水".into(),
            kind: "inquiry".into(),
            channel: "phone".into(),
            reason: "咨询停水安排".into(),
            repair_category: String::new(),
            article_id: Some(article),
            position: 10,
            active: true,
            version: None,
        },
    )
    .await
    .unwrap()
    .id;
    // A follow-up task on the sheet, with a corrective-action report.
    let mut tx = t.app.store.begin().await.unwrap();
    let now = t.now();
    let follow_up = huiqian::store::followup::insert_follow_up(
        &mut tx,
        &huiqian::store::followup::NewFollowUp {
            community_id: community,
            sheet_id: sheet.id,
            reason: "requested",
            due_at: now + 3_600_000,
            assigned_to: Some(desk),
            note: "",
            excluded_user_id: None,
        },
        now,
    )
    .await
    .unwrap()
    .unwrap();
    let capa =
        huiqian::store::followup::insert_capa(&mut tx, community, follow_up, sheet.id, "不满意", now).await.unwrap();
    tx.commit().await.unwrap();
    let (key, cabinet, loan, approval, incident) = key_fixture(t, &author, &desk_actor, community, desk, s).await;
    Fixture {
        key,
        cabinet,
        loan,
        approval,
        incident,
        follow_up,
        capa,
        price_item,
        article,
        preset,
        sheet: sheet.id,
        community,
        building: b.id,
        unit: u.id,
        person: p.id,
        occupancy: o.id,
        department: d,
        staff: s,
        role_row: r,
    }
}

/// A cabinet with a special room's key (an approval asked for it) and a vacant unit's key
/// signed out, and a count that found the special key missing (an incident).
async fn key_fixture(
    t: &TestApp,
    manager: &huiqian::app::Actor,
    desk: &huiqian::app::Actor,
    community: i64,
    desk_id: i64,
    technician: i64,
) -> (i64, i64, i64, i64, i64) {
    use huiqian::app::keys;
    let sig = crate::sheets::SIGNATURE.to_string();
    let cabinet = keys::create_cabinet(
        &t.app,
        manager,
        community,
        &keys::CabinetInput {
            name: "前台钥匙柜".into(), location: "客服中心".into(), keeper_id: Some(desk_id)
        },
    )
    .await
    .unwrap()
    .id;
    let receipt = |q: i64| keys::ReceiveInput {
        version: 0,
        deliverer_name: "李工".into(),
        deliverer_department: "工程部".into(),
        delivered_at: None,
        quantity: q,
        signature: sig.clone(),
        signature_typed: false,
        note: String::new(),
    };
    let set = |tag: &str, room_no: &str, room: &str, special: &str, basis: &str| keys::KeySetInput {
        cabinet_id: cabinet,
        tag: tag.into(),
        hook: "A-1".into(),
        room_no: room_no.into(),
        room: room.into(),
        special: special.into(),
        basis: basis.into(),
        note: String::new(),
        receipt: receipt(1),
    };
    let roof = keys::create_key_set(&t.app, desk, community, &set("T-001", "", "1号楼天台", "roof", "public_room"))
        .await
        .unwrap();
    let unit =
        keys::create_key_set(&t.app, desk, community, &set("T-002", "1-1-101", "", "", "vacant_unit")).await.unwrap();
    let approval = keys::request_approval(
        &t.app,
        desk,
        roof.key.id,
        &keys::ApprovalRequest { reason: "检查屋面防水".into(), sheet_number: String::new() },
    )
    .await
    .unwrap()
    .id;
    let out = keys::sign_out(
        &t.app,
        desk,
        unit.key.id,
        &keys::SignOutInput {
            version: unit.key.version,
            quantity: 1,
            reason_kind: "inspection".into(),
            reason: "空置房巡查".into(),
            sheet_number: String::new(),
            due_at: t.now() + 3_600_000,
            taker_kind: "staff".into(),
            taker_user_id: Some(technician),
            taker_name: String::new(),
            taker_phone: String::new(),
            authorisation: String::new(),
            agreement_person_id: None,
            letter: String::new(),
            authorisation_note: String::new(),
            phone_confirmed_number: String::new(),
            approval_id: None,
            signature: sig.clone(),
            signature_typed: false,
        },
    )
    .await
    .unwrap();
    let loan = out.loans[0].loan.id;
    let lines = vec![
        keys::CountedLine { key_set_id: roof.key.id, counted: 0 },
        keys::CountedLine { key_set_id: unit.key.id, counted: 0 },
    ];
    let count = keys::record_count(&t.app, desk, cabinet, &keys::CountInput { lines }).await.unwrap();
    (roof.key.id, cabinet, loan, approval, count.incidents[0])
}

fn path_for(path: &str, f: &Fixture) -> String {
    let id = if path.starts_with("/api/v1/communities/") {
        f.community
    } else if path.starts_with("/api/v1/buildings/") {
        f.building
    } else if path.starts_with("/api/v1/units/") {
        f.unit
    } else if path.starts_with("/api/v1/persons/") {
        f.person
    } else if path.starts_with("/api/v1/occupancies/") {
        f.occupancy
    } else if path.starts_with("/api/v1/departments/") {
        f.department
    } else if path.starts_with("/api/v1/staff/") {
        f.staff
    } else if path.starts_with("/api/v1/roles/") {
        f.role_row
    } else if path.starts_with("/api/v1/sheets/") {
        f.sheet
    } else if path.starts_with("/api/v1/follow-ups/") {
        f.follow_up
    } else if path.starts_with("/api/v1/capas/") {
        f.capa
    } else if path.starts_with("/api/v1/keys/") {
        f.key
    } else if path.starts_with("/api/v1/key-cabinets/") {
        f.cabinet
    } else if path.starts_with("/api/v1/key-sign-outs/") {
        f.loan
    } else if path.starts_with("/api/v1/key-approvals/") {
        f.approval
    } else if path.starts_with("/api/v1/key-incidents/") {
        f.incident
    } else {
        999_999
    };
    let name = if path.contains("/request-ledgers/") { "repairs" } else { "chase" };
    let path = path
        .replace("{id}", &id.to_string())
        .replace("{name}", name)
        .replace("{item}", &f.price_item.to_string())
        .replace("{article}", &f.article.to_string())
        .replace("{preset}", &f.preset.to_string())
        .replace("{period}", "2026-11")
        .replace("{user}", &f.staff.to_string())
        .replace("{measure}", "registered")
        .replace("{year}", "2026");
    if path.ends_with("/recovery") || path.ends_with("/follow-up-ledger") || path.ends_with("/key-ledger") {
        format!("{path}?from=0&to=9999999999999")
    } else {
        path
    }
}

fn body_for(method: &str, path: &str, n: usize) -> Value {
    match (method, path) {
        ("put", "/api/v1/me/password") => {
            json!({"current_password": "wrong-one", "new_password": "whatever-1"})
        }
        ("put", "/api/v1/me/locale") => json!({"locale": "zh-CN"}),
        ("post", "/api/v1/me/tokens") => json!({"name": "t"}),
        ("post", "/api/v1/companies") => json!({"name": format!("公司{n}")}),
        ("post", "/api/v1/communities") => {
            json!({"company_id": 1, "code": format!("Q{n}"), "name": format!("小区{n}")})
        }
        ("put", "/api/v1/communities/{id}") => json!({"version": 1, "name": "和园"}),
        ("post", "/api/v1/communities/{id}/buildings") => json!({"code": format!("B{n}")}),
        ("put", "/api/v1/buildings/{id}") => json!({"version": 1, "name": "1号楼", "floors": 6}),
        ("post", "/api/v1/communities/{id}/units") => {
            json!({"room_no": format!("1-1-{}", 200 + n), "area": "80"})
        }
        ("put", "/api/v1/units/{id}") => json!({"version": 1, "area": "81", "status": "occupied"}),
        ("post", "/api/v1/units/{id}/occupants") => json!({"person_id": 1, "relation": "agent"}),
        ("post", "/api/v1/occupancies/{id}/end") => json!({"version": 1}),
        ("post", "/api/v1/communities/{id}/departments") => json!({"kind": "security"}),
        ("put", "/api/v1/departments/{id}") => json!({"version": 1, "name": "客服部"}),
        ("post", "/api/v1/communities/{id}/persons") => {
            json!({"name": format!("测试{}", ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸", "子", "丑", "寅"][n % 13])})
        }
        ("put", "/api/v1/persons/{id}") => json!({"version": 1, "name": "王秀英"}),
        ("post", "/api/v1/staff") => {
            json!({"username": format!("new{n}"), "display_name": "新员工", "password": "New-staff-123"})
        }
        ("put", "/api/v1/staff/{id}") => {
            json!({"version": 1, "display_name": "目标员工", "active": true})
        }
        ("post", "/api/v1/staff/{id}/roles") => {
            json!({"community_id": 0, "role": "security_officer"})
        }
        ("post", "/api/v1/staff/{id}/reset-password") => json!({"password": "Reset-pass-123"}),
        ("put", "/api/v1/communities/{id}/clock-targets") => {
            json!({"kind": "*", "target_hours": "72", "warn_hours": "12"})
        }
        ("put", "/api/v1/communities/{id}/calendar/week") => {
            json!({"days": ["08:30-17:30", "08:30-17:30", "08:30-17:30", "08:30-17:30", "08:30-17:30", "", ""]})
        }
        ("put", "/api/v1/communities/{id}/calendar/days") => json!({"day": "2027-01-01", "kind": "holiday"}),
        ("post", "/api/v1/holidays") => json!({"notice": "year 2030\nholiday 2030-01-01 元旦\n"}),
        ("put", "/api/v1/communities/{id}/request-settings") => json!({
            "emergency_min": 15, "simple_min": 20, "general_min": 60, "slip_hours": 24, "repeat_count": 2,
            "repeat_days": 90, "progress_hours": 48, "promise_warn_min": 60, "version": 0
        }),
        ("post", "/api/v1/communities/{id}/price-items") => {
            json!({"name": format!("疏通{n}"), "unit": "次", "item_kind": "labour", "price": "50"})
        }
        ("put", "/api/v1/communities/{id}/price-items/{item}") => {
            json!({"name": "更换水龙头", "unit": "个", "item_kind": "material", "price": "36"})
        }
        ("post", "/api/v1/communities/{id}/articles") | ("put", "/api/v1/communities/{id}/articles/{article}") => {
            json!({"title": format!("停水通知{n}"), "answer": "计划停水提前一天张贴通知。", "basis": "《供水管理办法》"})
        }
        ("post", "/api/v1/communities/{id}/sheet-presets")
        | ("put", "/api/v1/communities/{id}/sheet-presets/{preset}") => {
            json!({"title": format!("漏水{n}"), "kind": "repair", "reason": "厨房漏水", "repair_category": "water"})
        }
        ("post", "/api/v1/follow-ups/{id}/record") => {
            json!({"version": 1, "method": "phone", "outcome": "satisfied", "content": "业主表示满意"})
        }
        ("post", "/api/v1/follow-ups/{id}/review") => json!({"version": 2, "remarks": "记录完整"}),
        ("post", "/api/v1/follow-ups/{id}/reassign") => json!({"version": 1, "to_user_id": 1}),
        ("post", "/api/v1/capas/{id}/plan") => json!({
            "version": 1, "cause": "维修未彻底", "action": "重新维修并回访", "responsible_id": 1, "due_at": 9_999_999_999_999i64
        }),
        ("post", "/api/v1/capas/{id}/implement") | ("post", "/api/v1/capas/{id}/verify") => {
            json!({"version": 2, "note": "已重新维修", "effective": true})
        }
        ("put", "/api/v1/communities/{id}/follow-up-settings") => json!({
            "version": 0, "repair_rate": 30, "special_service_rate": 30, "delivery_rate": 10, "event_rate": 10,
            "due_hours": 72, "phone_cap_pct": 70, "max_attempts": 3
        }),
        ("post", "/api/v1/communities/{id}/sheets") => {
            json!({"kind": "inquiry", "channel": "phone", "requester_name": "王秀英", "reason": "询问停水时间"})
        }
        // Key custody: bodies of the right shape; an allowed role may still be refused for
        // what they say (422), never for who it is.
        ("post", "/api/v1/communities/{id}/keys") => json!({"cabinet_id": 0, "tag": "", "basis": "public_room",
            "receipt": {"deliverer_name": "", "deliverer_department": "", "quantity": 1, "signature": ""}}),
        ("post", "/api/v1/keys/{id}/receipts") => {
            json!({"version": 1, "deliverer_name": "", "deliverer_department": "", "quantity": 1, "signature": ""})
        }
        ("post", "/api/v1/keys/{id}/sign-outs") => json!({"version": 1, "quantity": 1, "reason_kind": "inspection",
            "reason": "", "due_at": 0, "taker_kind": "staff", "signature": ""}),
        ("post", "/api/v1/key-sign-outs/{id}/returns") => {
            json!({"version": 1, "quantity": 1, "returner_name": "", "signature": ""})
        }
        ("post", "/api/v1/keys/{id}/agreements") => {
            json!({"owner_name": "", "starts_at": 0, "ends_at": 0, "scope": [], "signature": ""})
        }
        ("post", "/api/v1/keys/{id}/approvals") => json!({"reason": ""}),
        ("post", "/api/v1/keys/{id}/release") => json!({"version": 1, "receiver_name": "", "signature": ""}),
        ("post", "/api/v1/key-approvals/{id}/decision") => json!({"version": 1, "approve": false, "note": ""}),
        ("post", "/api/v1/communities/{id}/key-cabinets") => json!({"name": ""}),
        ("post", "/api/v1/key-cabinets/{id}/seal") => json!({"version": 1, "seal_no": ""}),
        ("post", "/api/v1/key-cabinets/{id}/night-opening") => json!({"version": 1, "reason": "", "first_username": "",
            "first_password": "", "second_username": "", "second_password": ""}),
        ("post", "/api/v1/key-cabinets/{id}/morning-opening") => json!({"version": 1, "seal_seen": "", "intact": true}),
        ("post", "/api/v1/key-cabinets/{id}/count") => json!({"lines": []}),
        ("post", "/api/v1/key-incidents/{id}/report") => json!({"version": 1, "report": ""}),
        ("post", "/api/v1/key-incidents/{id}/resolve") => json!({"version": 1, "resolution": "found", "note": ""}),
        ("post", "/api/v1/units/{id}/inspections") => json!({"condition": "unknown"}),
        ("put", "/api/v1/communities/{id}/key-settings") => {
            json!({"version": 99, "phone_confirmation": true, "count_due_hour": 22})
        }
        _ => json!({}),
    }
}

async fn send(c: &Client, method: &str, path: &str, body: &Value) -> u16 {
    if path.ends_with("/imports") {
        let part =
            reqwest::multipart::Part::bytes("房号,建筑面积\n9-1-101,80\n".as_bytes().to_vec()).file_name("m.csv");
        let form = reqwest::multipart::Form::new().part("file", part);
        return c
            .http
            .post(c.url(&format!("{path}?dry_run=true")))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut rb = c.http.request(m.clone(), c.url(path));
    if m != Method::GET && m != Method::DELETE {
        rb = rb.json(body);
    }
    rb.send().await.unwrap().status().as_u16()
}

fn allowed(need: Need, role: Role) -> bool {
    match need {
        Need::Me | Need::AnyStaff => true,
        Need::In(p) => role.allows(p),
        Need::Either(p, q) => role.allows(p) || role.allows(q),
        Need::CompanyWide => false,
    }
}

#[tokio::test]
async fn r_role_2_every_route_for_every_role() {
    let t = TestApp::spawn().await;
    let f1 = fixture(&t, t.c1, "one").await;
    let f2 = fixture(&t, t.c2, "two").await;

    // Every operation in the document is classified.
    let doc: Value = t.anon().get(t.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let table = table();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let known = table.iter().any(|(m, p, _)| m == method && p == path)
                || ELSEWHERE.iter().any(|(m, p, _)| m == method && p == path);
            assert!(known, "{method} {path} is not in the route × role matrix");
        }
    }

    let mut clients: HashMap<Role, Client> = HashMap::new();
    for role in Role::ALL {
        clients.insert(role, t.as_role(role).await);
    }
    let mut n = 0;
    let mut failures = Vec::new();
    for (method, path, need) in &table {
        for role in Role::ALL {
            n += 1;
            let c = &clients[&role];
            let mut body = body_for(method, path, n);
            if body.get("community_id").is_some() {
                body["community_id"] = json!(t.c1);
            }
            // In the person's own community.
            let before = t.audit_count().await;
            let s = send(c, method, &path_for(path, &f1), &body).await;
            let ok = allowed(*need, role);
            if ok && (s == 401 || s == 403) {
                failures.push(format!("{role:?} {method} {path}: refused ({s}) but should be allowed"));
            }
            if !ok {
                if s != 403 {
                    failures.push(format!("{role:?} {method} {path}: got {s}, expected 403"));
                }
                if t.audit_count().await != before {
                    failures.push(format!("{role:?} {method} {path}: refused but something was written"));
                }
            }
            // In the other community: always refused, nothing written.
            if path.contains("{id}") && matches!(need, Need::In(_) | Need::Either(..)) {
                if body.get("community_id").is_some() {
                    body["community_id"] = json!(t.c2);
                }
                let before = t.audit_count().await;
                let s = send(c, method, &path_for(path, &f2), &body).await;
                let refused = s == 403 || s == 404;
                if !refused {
                    failures.push(format!("{role:?} {method} {path} in another community: got {s}"));
                }
                if t.audit_count().await != before {
                    failures.push(format!("{role:?} {method} {path} in another community: something was written"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {n} checks failed:\n{}", failures.len(), failures.join("\n"));
}

/// A client that authenticates with a bearer token only (no cookies, no CSRF token).
fn bearer_client(t: &TestApp, token: &str) -> Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let http =
        reqwest::Client::builder().default_headers(h).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Client { http, base: t.base.clone(), csrf: String::new() }
}

/// Point 2 of the security review: the token's scope is an axis of the matrix. With a
/// read-only token every role reads what it may read and writes nothing, on every route of
/// the document (those tested elsewhere included); with a read-write token it may do what
/// its role allows, like a session.
#[tokio::test]
async fn p2_every_route_for_every_role_and_token_scope() {
    let t = TestApp::spawn().await;
    let f1 = fixture(&t, t.c1, "one").await;
    let doc: Value = t.anon().get(t.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut routes: Vec<(String, String, Option<Need>)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let need = table().into_iter().find(|(m, p, _)| m == method && p == path).map(|(_, _, n)| n);
            let elsewhere = ELSEWHERE.iter().any(|(m, p, _)| m == method && p == path);
            assert!(need.is_some() || elsewhere, "{method} {path} is not in the route × role matrix");
            routes.push((method.clone(), path.clone(), need));
        }
    }
    let mut failures = Vec::new();
    let mut n = 10_000;
    for role in Role::ALL {
        let session = t.as_role(role).await;
        let (_, r) = session.post_json("/api/v1/me/tokens", &json!({"name": "只读", "write": false})).await;
        let read = bearer_client(&t, r["secret"].as_str().unwrap());
        let (_, w) = session.post_json("/api/v1/me/tokens", &json!({"name": "读写", "write": true})).await;
        let write = bearer_client(&t, w["secret"].as_str().unwrap());
        for (method, path, need) in &routes {
            n += 1;
            let mut body = body_for(method, path, n);
            if body.get("community_id").is_some() {
                body["community_id"] = json!(t.c1);
            }
            let url = path_for(path, &f1);
            let before = t.audit_count().await;
            let s = send(&read, method, &url, &body).await;
            if method == "get" {
                if let Some(need) = need {
                    let ok = allowed(*need, role);
                    if ok && (s == 401 || s == 403) {
                        failures.push(format!("{role:?} read token GET {path}: refused ({s}) but may read"));
                    }
                    if !ok && s != 403 {
                        failures.push(format!("{role:?} read token GET {path}: got {s}, expected 403"));
                    }
                }
            } else {
                // Routes of the matrix refuse the token (403); the sign-in steps tested
                // elsewhere do not take tokens at all and refuse the empty body.
                let refused = if need.is_some() { s == 403 } else { (400..500).contains(&s) };
                if !refused {
                    failures.push(format!("{role:?} read token {method} {path}: got {s}, expected 403"));
                }
                if t.audit_count().await != before {
                    failures.push(format!("{role:?} read token {method} {path}: something was written"));
                }
            }
            // The read-write token behaves as the role does (creating tokens and changing
            // the password need a session, and are left to the session matrix).
            let Some(need) = need else { continue };
            if path.starts_with("/api/v1/me/") && method != "get" {
                continue;
            }
            let s = send(&write, method, &url, &body).await;
            let ok = allowed(*need, role);
            if ok && (s == 401 || s == 403) {
                failures.push(format!("{role:?} write token {method} {path}: refused ({s}) but should be allowed"));
            }
            if !ok && s != 403 {
                failures.push(format!("{role:?} write token {method} {path}: got {s}, expected 403"));
            }
        }
    }
    assert!(failures.is_empty(), "{} checks failed:\n{}", failures.len(), failures.join("\n"));
}

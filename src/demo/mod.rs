//! The demo company: deterministic, realistic data for a first look (`huiqian serve
//! --demo`), and the larger generated database the benchmarks run on (`huiqian
//! bench-data`, see `docs/benchmarks.md`).
//!
//! The company's estates, residents and staff are written straight into an empty database
//! in bulk, one transaction and one audit entry per community. Its eight weeks of work are
//! then played through the use-cases themselves ([`history`]), each step by the demo
//! account whose part it is, at its instant in the past.

pub mod bench;
pub mod bench_follow_ups;
pub mod bench_keys;
pub mod bench_sheets;
pub mod history;
pub mod synth;

use crate::app::people::{seal, today_in};
use crate::app::{Actor, App, AppError, audit, auth, org};
use crate::store::{auth as sa, org as so, people as sp};
use huiqian_domain::auth::{Permission, Role};
use huiqian_domain::unit::{DepartmentKind, OccupantRelation};
use serde_json::json;
use std::fmt::Write as _;
use synth::{Estate, PersonFactory, Plan, Rng};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The demo's company.
pub const COMPANY: &str = "北京丰景物业管理有限公司";
/// The one password of every demo account.
pub const PASSWORD: &str = "huiqian-demo";
/// The seed of every generated value: the same seed, the same company.
pub const SEED: u64 = 0x6875_6971_6961_6e01;

/// A community of the demo.
pub struct DemoCommunity {
    pub code: &'static str,
    pub name: &'static str,
    /// Prefix of its staff's usernames (`hy.desk`).
    pub prefix: &'static str,
    pub address: &'static str,
    pub phone: &'static str,
    pub estate: Estate,
    /// Display names of its staff, in the order of [`STAFF`].
    pub staff_names: [&'static str; 12],
}

pub const COMMUNITIES: [DemoCommunity; 2] = [
    DemoCommunity {
        code: "HY",
        name: "和园",
        prefix: "hy",
        address: "北京市海淀区丰景路18号",
        phone: "010-62881234",
        // High-rise: 8 buildings × 18 floors × 2 entrances × 2 units per landing = 576.
        estate: Estate {
            buildings: 8,
            floors: 18,
            entrances: 2,
            per_floor: 2,
            large: &[12030, 12845, 14300, 16520],
            small: &[8950, 9876, 10560],
            max_units: None,
        },
        staff_names: [
            "周国庆",
            "李雪梅",
            "张晓东",
            "王志刚",
            "刘佳怡",
            "陈思琪",
            "杨丽华",
            "赵海涛",
            "孙建军",
            "马卫东",
            "吴静",
            "郑磊",
        ],
    },
    DemoCommunity {
        code: "LY",
        name: "柳园",
        prefix: "ly",
        address: "北京市朝阳区柳荫街6号",
        phone: "010-64325678",
        // An older walk-up estate: 4 buildings × 6 floors × 2 entrances × 2 = 96.
        estate: Estate {
            buildings: 4,
            floors: 6,
            entrances: 2,
            per_floor: 2,
            large: &[9245, 10860, 11230],
            small: &[6820, 7680, 8135],
            max_units: None,
        },
        staff_names: [
            "黄振华",
            "林晓燕",
            "何俊杰",
            "郭立新",
            "许婷婷",
            "宋雨欣",
            "韩秀兰",
            "冯志强",
            "曹国栋",
            "邓勇",
            "彭丽娟",
            "蒋涛",
        ],
    },
];

/// The company-wide administrator.
pub const ADMIN_USERNAME: &str = "admin";
const ADMIN_NAME: &str = "高明远";

/// One account per role in each community: role, username suffix, department.
pub const STAFF: [(Role, &str, DepartmentKind); 12] = [
    (Role::CentreDirector, "director", DepartmentKind::DirectorOffice),
    (Role::CsManager, "cs_manager", DepartmentKind::CustomerService),
    (Role::CsSupervisor, "cs_supervisor", DepartmentKind::CustomerService),
    (Role::BuildingManager, "building", DepartmentKind::CustomerService),
    (Role::Receptionist, "desk", DepartmentKind::CustomerService),
    (Role::MoveInReceptionist, "movein", DepartmentKind::CustomerService),
    (Role::Archivist, "archivist", DepartmentKind::CustomerService),
    (Role::EngineeringDispatcher, "dispatcher", DepartmentKind::Engineering),
    (Role::Technician, "tech", DepartmentKind::Engineering),
    (Role::SecurityOfficer, "security", DepartmentKind::Security),
    (Role::FinanceClerk, "finance", DepartmentKind::Finance),
    (Role::SystemAdmin, "admin", DepartmentKind::Administration),
];

pub fn username(c: &DemoCommunity, suffix: &str) -> String {
    format!("{}.{suffix}", c.prefix)
}

fn fail(e: AppError) -> BoxError {
    format!("generating data failed: {e:?}").into()
}

/// Nothing in it yet: no company and no account.
pub async fn database_is_empty(app: &App) -> Result<bool, BoxError> {
    Ok(so::companies(app.store.read()).await?.is_empty() && sa::users(app.store.read(), None).await?.is_empty())
}

async fn demo_present(app: &App) -> Result<bool, BoxError> {
    Ok(so::companies(app.store.read()).await?.iter().any(|c| c.name == COMPANY))
}

/// Load the demo company if the database is empty; returns whether it did.
pub async fn load_if_empty(app: &App) -> Result<bool, BoxError> {
    Ok(load(app).await?.is_some())
}

/// Load the demo company if the database is empty, and say what its history holds.
pub async fn load(app: &App) -> Result<Option<history::Summary>, BoxError> {
    if !database_is_empty(app).await? {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let actor = Actor::cli();
    // The one slow step (argon2 by design) runs while the data is generated and written.
    let hash = tokio::task::spawn_blocking(|| auth::hash_password(PASSWORD));
    let company = org::create_company(app, &actor, COMPANY).await.map_err(fail)?;
    let mut factory = PersonFactory::new(today_in(chrono_tz::Asia::Shanghai, app.clock.now()));
    let mut ids = Vec::new();
    let mut residents = Vec::new();
    for c in &COMMUNITIES {
        let community = org::create_community(
            app,
            &actor,
            &org::CommunityInput {
                company_id: company,
                code: c.code.into(),
                name: c.name.into(),
                timezone: "Asia/Shanghai".into(),
                address: c.address.into(),
                phone: c.phone.into(),
                active: true,
            },
        )
        .await
        .map_err(fail)?;
        let mut rng = Rng::derive(SEED, c.code);
        let mut plan = Plan::default();
        (plan.buildings, plan.units) = synth::estate(&mut rng, &c.estate);
        synth::demo_residents(&mut rng, &mut factory, &mut plan);
        let (_, person_ids) = write_plan(app, &actor, community.id, &plan, "demo.loaded").await?;
        residents.push((community.id, requesters(&plan, &person_ids)));
        ids.push(community.id);
    }
    let hash = hash.await?;
    let admin = create_staff(app, &actor, company, &ids, &hash).await?;
    let author = crate::app::auth::cli_actor_for(app, admin).await?;
    for &community in &ids {
        request_lists(app, &author, community).await?;
    }
    let summary = history::play(app, &residents).await?;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        sheets = summary.sheets,
        steps = summary.steps,
        key_steps = summary.key_steps,
        refused = summary.refused.len(),
        "demo company loaded"
    );
    Ok(Some(summary))
}

/// The residents who come to the desk: everyone living in or owning a unit, with a
/// phone on file so the desk can call them back.
fn requesters(plan: &Plan, person_ids: &[i64]) -> Vec<history::Requester> {
    plan.links
        .iter()
        .filter(|l| plan.persons[l.person].phone.is_some())
        .map(|l| history::Requester {
            room_no: plan.units[l.unit].room.as_str().to_string(),
            person_id: person_ids[l.person],
            name: plan.persons[l.person].name.as_str().to_string(),
        })
        .collect()
}

/// Write a community's generated contents in one transaction, with one audit entry
/// (`action`) holding the counts.
pub(crate) async fn write_plan(
    app: &App,
    actor: &Actor,
    community_id: i64,
    plan: &Plan,
    action: &str,
) -> Result<(Vec<i64>, Vec<i64>), BoxError> {
    let now = app.clock.now();
    let rows = seal_all(app, plan).await?;
    let backend = app.store.backend();
    let mut tx = app.store.begin().await?;
    let mut building_ids = Vec::with_capacity(plan.buildings.len());
    for b in &plan.buildings {
        building_ids.push(so::insert_building(&mut tx, community_id, &b.code, &b.name, b.floors, now).await?);
    }
    let unit_rows: Vec<so::UnitRow> = plan
        .units
        .iter()
        .map(|u| so::UnitRow {
            building_id: building_ids[u.building],
            room_no: u.room.as_str().to_string(),
            floor: u.floor,
            area_centi: u.area_centi,
            status: u.status.as_str().to_string(),
        })
        .collect();
    let unit_ids = so::insert_units_batch(&mut tx, backend, community_id, &unit_rows, now).await?;
    let person_ids = sp::insert_persons_batch(&mut tx, backend, community_id, &rows, now).await?;
    let links: Vec<(i64, i64, &str)> =
        plan.links.iter().map(|l| (unit_ids[l.unit], person_ids[l.person], l.relation.as_str())).collect();
    sp::insert_occupancies_batch(&mut tx, community_id, &links, now).await?;
    let authority = actor.authorize(Permission::ImportData, community_id).map_err(fail)?;
    use OccupantRelation::*;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        action,
        "community",
        community_id,
        json!({
            "buildings": plan.buildings.len(), "units": plan.units.len(), "persons": plan.persons.len(),
            "owners": plan.count(Owner), "family": plan.count(Family), "tenants": plan.count(Tenant),
            "agents": plan.count(Agent),
            "unit_ids": [unit_ids.first(), unit_ids.last()], "person_ids": [person_ids.first(), person_ids.last()],
        }),
    )
    .await
    .map_err(fail)?;
    tx.commit().await?;
    Ok((unit_ids, person_ids))
}

/// Encrypt, mask and hash everyone's personal data, on every core: this is most of the
/// work for a large benchmark database.
async fn seal_all(app: &App, plan: &Plan) -> Result<Vec<sp::PersonRow>, BoxError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = plan.persons.len().div_ceil(threads).max(1);
    let secrets = &app.secrets;
    let rows = std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .persons
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| sp::PersonRow {
                            name: p.name.as_str().to_string(),
                            sealed: seal(secrets, p),
                            note: p.note.clone(),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("sealing thread")).collect()
    });
    Ok(rows)
}

/// The demo's staff: `admin` for the whole company and one account per role in each
/// community, all with the demo password and no second factor.
/// The price list for paid work and the answers the desk cites, as a community starts
/// them (R-REP-4, R-RECV-2).
async fn request_lists(app: &App, actor: &Actor, community: i64) -> Result<(), BoxError> {
    use crate::app::request as rq;
    const PRICES: &[(&str, &str, &str, &str)] = &[
        ("上门维修人工费", "次", "labour", "30"),
        ("疏通下水道", "次", "labour", "80"),
        ("更换水龙头（人工）", "个", "labour", "20"),
        ("水龙头（普通）", "个", "material", "45"),
        ("PPR 水管 20mm", "米", "material", "12.50"),
        ("角阀", "个", "material", "25"),
        ("LED 灯泡 9W", "个", "material", "15"),
        ("空气开关 32A", "个", "material", "38"),
    ];
    for (name, unit, kind, price) in PRICES {
        let input = rq::PriceItemInput {
            name: (*name).into(),
            unit: (*unit).into(),
            item_kind: (*kind).into(),
            price: (*price).into(),
            active: true,
            version: None,
        };
        rq::save_price_item(app, actor, community, None, &input).await.map_err(fail)?;
    }
    const ARTICLES: &[(&str, &str, &str)] = &[
        (
            "装修施工时间",
            "工作日 8:00—12:00、14:00—18:00 可以施工；周末和法定节假日不得进行产生噪音的施工。",
            "《住宅室内装饰装修管理办法》；本小区《管理规约》第十二条",
        ),
        (
            "物业费收费标准与缴纳时间",
            "住宅物业费按建筑面积每月每平方米 2.20 元，按季度预交，可在客服中心或线上缴纳。",
            "物业服务合同第五条；价格主管部门备案文件",
        ),
        (
            "停水停电通知",
            "计划停水停电至少提前 24 小时在单元门口和业主群通知；突发停水停电立即通知并公布预计恢复时间。",
            "《物业服务规范》；供水供电单位的通知",
        ),
        (
            "宠物饲养规定",
            "犬只须办证、拴绳出行并及时清理粪便；禁止在公共区域饲养家禽家畜。",
            "《城市养犬管理规定》；本小区《管理规约》第十八条",
        ),
        (
            "车位租用与临时停车",
            "地面车位月租 150 元；访客车辆登记后可免费停放 2 小时，超时按每小时 5 元收费。",
            "停车管理办法（业主大会通过）；价格备案",
        ),
    ];
    let mut articles = Vec::with_capacity(ARTICLES.len());
    for (title, answer, basis) in ARTICLES {
        let input = rq::ArticleInput {
            title: (*title).into(),
            answer: (*answer).into(),
            basis: (*basis).into(),
            active: true,
            version: None,
        };
        let saved = rq::save_article(app, actor, community, None, &input).await.map_err(fail)?;
        articles.push(saved.id);
    }
    // The desk's quick registrations: (button, kind, channel, reason, category, article).
    type Preset = (&'static str, &'static str, &'static str, &'static str, &'static str, Option<usize>);
    const PRESETS: &[Preset] = &[
        ("水龙头滴水", "repair", "phone", "水龙头关不紧，一直滴水", "water", None),
        ("下水道堵塞", "repair", "phone", "下水道堵塞，排水很慢", "water", None),
        ("灯不亮", "repair", "phone", "灯不亮，换灯泡后仍不亮", "electrical", None),
        ("门锁故障", "repair", "visit", "入户门锁打不开", "door_window", None),
        ("装修时间", "inquiry", "phone", "咨询装修施工时间", "", Some(0)),
        ("停水停电", "inquiry", "phone", "咨询停水停电安排", "", Some(2)),
        ("噪音扰民", "situation_report", "phone", "反映夜间噪音扰民", "", None),
    ];
    for (i, (title, kind, channel, reason, category, article)) in PRESETS.iter().enumerate() {
        let input = rq::PresetInput {
            title: (*title).into(),
            kind: (*kind).into(),
            channel: (*channel).into(),
            reason: (*reason).into(),
            repair_category: (*category).into(),
            article_id: article.map(|a| articles[a]),
            position: (i as i64 + 1) * 10,
            active: true,
            version: None,
        };
        rq::save_preset(app, actor, community, None, &input).await.map_err(fail)?;
    }
    Ok(())
}

async fn create_staff(
    app: &App,
    actor: &Actor,
    company: i64,
    communities: &[i64],
    hash: &str,
) -> Result<i64, BoxError> {
    let now = app.clock.now();
    struct Made {
        user: i64,
        community: Option<i64>,
        role: Role,
        department: Option<DepartmentKind>,
    }
    let mut made = Vec::new();
    let mut usernames = Vec::new();
    let mut tx = app.store.begin().await?;
    let mut insert = async |tx: &mut crate::store::Tx, username: &str, name: &str| {
        usernames.push(username.to_string());
        sa::insert_user(
            tx,
            &sa::NewUser {
                username,
                display_name: name,
                phone_masked: "",
                phone_enc: None,
                password_hash: hash,
                locale: "zh-CN",
                must_change_password: false,
                totp_exempt: true,
            },
            now,
        )
        .await
    };
    let admin = insert(&mut tx, ADMIN_USERNAME, ADMIN_NAME).await?;
    made.push(Made { user: admin, community: None, role: Role::SystemAdmin, department: None });
    for (c, &community) in COMMUNITIES.iter().zip(communities) {
        for ((role, suffix, dept), name) in STAFF.iter().zip(c.staff_names) {
            let user = insert(&mut tx, &username(c, suffix), name).await?;
            made.push(Made { user, community: Some(community), role: *role, department: Some(*dept) });
        }
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &actor.authorize_company(Permission::ManageStaff).map_err(fail)?,
        "demo.staff_created",
        "company",
        company,
        json!({"usernames": usernames, "must_change_password": false, "totp_exempt": true}),
    )
    .await
    .map_err(fail)?;
    tx.commit().await?;
    for m in made {
        let department = match (m.community, m.department) {
            (Some(c), Some(kind)) => {
                so::departments(app.store.read(), c).await?.into_iter().find(|d| d.kind == kind.as_str()).map(|d| d.id)
            }
            _ => None,
        };
        // Each department with staff has its head (负责人), who signs its extensions,
        // suspensions and terminations (R-SHEET-8); the CS manager heads customer service
        // and the director answers for every department by their roles.
        let head = matches!(m.role, Role::EngineeringDispatcher | Role::SecurityOfficer | Role::FinanceClerk);
        auth::grant_role(app, actor, m.user, m.community, m.role, department, head).await.map_err(fail)?;
    }
    Ok(admin)
}

/// Print the demo's log-ins (zh-CN and English) for whoever started it.
pub async fn print_logins(app: &App, loaded: bool) -> Result<(), BoxError> {
    print!("{}", logins_text(app, loaded).await?);
    Ok(())
}

/// What [`print_logins`] prints: the log-ins, or why the demo was not loaded.
pub async fn logins_text(app: &App, loaded: bool) -> Result<String, BoxError> {
    if !loaded && !demo_present(app).await? {
        return Ok(
            "演示数据未载入：数据库中已有数据。 / Demo data not loaded: the database already holds data.\n".into()
        );
    }
    let rule = "=".repeat(72);
    let thin = "-".repeat(72);
    let mut s = String::new();
    let _ = writeln!(s, "{rule}");
    if loaded {
        let _ = writeln!(s, "会签 huiqian 演示数据已载入 / Demo data loaded");
    } else {
        let _ = writeln!(s, "会签 huiqian 演示数据已存在 / Demo data already present");
    }
    let estates: Vec<String> = COMMUNITIES
        .iter()
        .map(|c| {
            let e = &c.estate;
            format!("{} ({}) {} 户", c.name, c.code, e.buildings * e.floors * e.entrances * e.per_floor)
        })
        .collect();
    let _ = writeln!(s, "{COMPANY}: {}", estates.join(" · "));
    let _ = writeln!(s, "所有演示账号的密码 / Password of every demo account: {PASSWORD}");
    let _ = writeln!(s, "演示账号登录无需第二因素（动态验证码）/ Demo accounts sign in without a second factor.");
    let _ = writeln!(s, "{thin}");
    let names: Vec<String> = COMMUNITIES.iter().map(|c| format!("{} {}", c.name, c.code)).collect();
    let _ = writeln!(s, "{}{}{}", pad("角色 Role", 44), pad(&names[0], 19), names[1]);
    for (role, suffix, _) in &STAFF {
        let label = format!("{} {}", role.label_zh(), role.label_en());
        let _ = writeln!(
            s,
            "{}{}{}",
            pad(&label, 44),
            pad(&username(&COMMUNITIES[0], suffix), 19),
            username(&COMMUNITIES[1], suffix)
        );
    }
    let _ = writeln!(s, "{thin}");
    let _ = writeln!(s, "{}{ADMIN_USERNAME}", pad("全公司系统管理员 Company-wide administrator", 44));
    let _ = writeln!(s, "{rule}");
    Ok(s)
}

/// Pad to `width` terminal columns (Chinese characters take two).
fn pad(text: &str, width: usize) -> String {
    let cols: usize = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(cols).max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_a_demo_account() {
        for role in Role::ALL {
            assert!(STAFF.iter().any(|(r, _, _)| *r == role), "{role:?}");
        }
        for c in &COMMUNITIES {
            for (_, suffix, _) in &STAFF {
                auth::check_username(&username(c, suffix)).unwrap();
            }
            for n in c.staff_names {
                huiqian_domain::person::PersonName::parse(n).unwrap();
            }
        }
        auth::check_password(ADMIN_USERNAME, PASSWORD).unwrap();
    }

    #[test]
    fn demo_estates_have_the_documented_sizes() {
        let size = |e: &Estate| e.buildings * e.floors * e.entrances * e.per_floor;
        assert_eq!(size(&COMMUNITIES[0].estate), 576);
        assert_eq!(size(&COMMUNITIES[1].estate), 96);
    }
}

//! `huiqian bench-data`: a large generated database for the performance targets
//! (`scripts/bench.sh`, `docs/benchmarks.md`). Same generators as the demo, other seed.

use super::bench_keys::{self, KeyDesk, KeyUnit};
use super::bench_sheets::{self, Desk, Requester};
use super::synth::{self, Estate, PersonFactory, Plan, Rng};
use super::{BoxError, database_is_empty, fail, write_plan};
use crate::app::people::today_in;
use crate::app::{Actor, App, audit, auth, org};
use crate::store::{auth as sa, org as so};
use huiqian_domain::auth::{Permission, Role};
use huiqian_domain::unit::{DepartmentKind, OccupantRelation};
use serde_json::json;
use std::collections::BTreeMap;

pub const COMPANY: &str = "基准测试物业有限公司";
pub const USERNAME: &str = "bench";
pub const PASSWORD: &str = "bench-password-1";
/// A receptionist in every community, for registering sheets over the API.
pub const DESK_USERNAME: &str = "bench_desk";
/// Technicians per community when sheets are generated (`bench_tNN_1` … `bench_tNN_4`).
pub const TECHNICIANS: usize = 4;

/// The engineering dispatcher of community `i` (0-based; code `B01` is `bench_d01`).
pub fn dispatcher_username(i: usize) -> String {
    format!("bench_d{:02}", i + 1)
}

/// Technician `k` (1-based) of community `i` (0-based).
pub fn technician_username(i: usize, k: usize) -> String {
    format!("bench_t{:02}_{k}", i + 1)
}
const SEED: u64 = 0x6265_6e63_6801;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub units: usize,
    pub residents: usize,
    pub communities: usize,
    /// Countersign sheets, spread over the communities and the last two years.
    pub sheets: usize,
}

/// What was generated.
#[derive(Debug)]
pub struct Generated {
    pub communities: Vec<i64>,
    pub units: usize,
    pub residents: usize,
    /// Mobile numbers of residents of the first community, for lookups.
    pub sample_phones: Vec<String>,
    /// What the sheets came to, and up to 1,000 sheet ids spread over all of them.
    pub sheets: bench_sheets::Counts,
    pub sample_sheets: Vec<i64>,
    /// What the key register came to, and sample lines for the key benchmark's writes
    /// (`key_set_id version taker_user_id`).
    pub keys: bench_keys::Counts,
    pub sample_keys: Vec<String>,
    pub millis: u128,
}

/// Split `total` into `parts` nearly equal shares.
fn share(total: usize, parts: usize, i: usize) -> usize {
    total / parts + usize::from(i < total % parts)
}

/// Fill an empty database: one company, `communities` communities of high-rise
/// buildings (30 floors × 3 entrances × 2 units per landing), the residents, and the
/// `bench` account holding cs_manager everywhere (no second factor).
pub async fn generate(app: &App, size: Size) -> Result<Generated, BoxError> {
    generate_with_keys(app, size, 0).await
}

/// [`generate`], and `key_sets` key sets with two years of their books
/// ([`bench_keys`]); the community staff are made for either.
pub async fn generate_with_keys(app: &App, size: Size, key_sets: usize) -> Result<Generated, BoxError> {
    let now = app.clock.now();
    if size.communities == 0 || size.communities > 99 {
        return Err("--communities must be between 1 and 99".into());
    }
    if !database_is_empty(app).await? {
        return Err("bench-data fills an empty database only; this one already holds data".into());
    }
    let started = std::time::Instant::now();
    let actor = Actor::cli();
    let hash = tokio::task::spawn_blocking(|| auth::hash_password(PASSWORD));
    let company = org::create_company(app, &actor, COMPANY).await.map_err(fail)?;
    let mut factory = PersonFactory::new(today_in(chrono_tz::Asia::Shanghai, app.clock.now()));
    let mut ids = Vec::new();
    let mut sample_phones = Vec::new();
    let mut requesters = Vec::new();
    let mut key_units = Vec::new();
    for i in 0..size.communities {
        let code = format!("B{:02}", i + 1);
        let community = org::create_community(
            app,
            &actor,
            &org::CommunityInput {
                company_id: company,
                code: code.clone(),
                name: format!("基准{}号小区", i + 1),
                timezone: "Asia/Shanghai".into(),
                address: String::new(),
                phone: String::new(),
                active: true,
            },
        )
        .await
        .map_err(fail)?;
        let units = share(size.units, size.communities, i);
        let per_building = 30 * 3 * 2;
        let estate = Estate {
            buildings: units.div_ceil(per_building) as u32,
            floors: 30,
            entrances: 3,
            per_floor: 2,
            large: &[12030, 13580, 14300],
            small: &[8950, 9620],
            max_units: Some(units),
        };
        let mut rng = Rng::derive(SEED, &code);
        let mut plan = Plan::default();
        (plan.buildings, plan.units) = synth::estate(&mut rng, &estate);
        synth::bench_residents(&mut rng, &mut factory, &mut plan, share(size.residents, size.communities, i));
        if i == 0 {
            let phones: Vec<&str> = plan.persons.iter().filter_map(|p| p.phone.as_ref().map(|x| x.as_str())).collect();
            let step = (phones.len() / 1000).max(1);
            sample_phones = phones.into_iter().step_by(step).take(1000).map(str::to_string).collect();
        }
        let (unit_ids, person_ids) = write_plan(app, &actor, community.id, &plan, "bench.loaded").await?;
        if size.sheets > 0 {
            let owners: Vec<Requester> = plan
                .links
                .iter()
                .filter(|l| l.relation == OccupantRelation::Owner)
                .map(|l| Requester {
                    unit_id: unit_ids[l.unit],
                    person_id: person_ids[l.person],
                    name: plan.persons[l.person].name.as_str().to_string(),
                    phone: plan.persons[l.person].phone.clone(),
                })
                .collect();
            requesters.push((code.clone(), owners));
        }
        if key_sets > 0 {
            let units: Vec<KeyUnit> = plan
                .links
                .iter()
                .filter(|l| l.relation == OccupantRelation::Owner)
                .map(|l| KeyUnit {
                    unit_id: unit_ids[l.unit],
                    room_no: plan.units[l.unit].room.as_str().to_string(),
                    owner: plan.persons[l.person].name.as_str().to_string(),
                    owner_phone: plan.persons[l.person].phone.clone(),
                })
                .collect();
            key_units.push((code, units));
        }
        ids.push(community.id);
    }
    let hash = hash.await?;
    // The staff: `bench` (cs_manager everywhere), `bench_desk` (receptionist everywhere),
    // and per community three receptionists, an engineering dispatcher and four
    // technicians who answer for the sheets.
    let mut tx = app.store.begin().await?;
    let insert = async |tx: &mut crate::store::Tx, username: &str, name: &str| {
        sa::insert_user(
            tx,
            &sa::NewUser {
                username,
                display_name: name,
                phone_masked: "",
                phone_enc: None,
                password_hash: &hash,
                locale: "zh-CN",
                must_change_password: false,
                totp_exempt: true,
            },
            now,
        )
        .await
    };
    let user = insert(&mut tx, USERNAME, "基准测试").await?;
    let desk_user = insert(&mut tx, DESK_USERNAME, "基准前台").await?;
    let mut usernames = vec![USERNAME.to_string(), DESK_USERNAME.to_string()];
    let mut staff: Vec<(Vec<i64>, i64, Vec<i64>)> = Vec::new();
    if size.sheets > 0 || key_sets > 0 {
        for i in 0..ids.len() {
            let mut receptionists = Vec::new();
            for k in 1..=3 {
                let name = format!("bench_r{:02}_{k}", i + 1);
                receptionists.push(insert(&mut tx, &name, &format!("接待员{}-{k}", i + 1)).await?);
                usernames.push(name);
            }
            let name = dispatcher_username(i);
            let dispatcher = insert(&mut tx, &name, &format!("调度员{}", i + 1)).await?;
            usernames.push(name);
            let mut technicians = Vec::new();
            for k in 1..=TECHNICIANS {
                let name = technician_username(i, k);
                technicians.push(insert(&mut tx, &name, &format!("维修工{}-{k}", i + 1)).await?);
                usernames.push(name);
            }
            staff.push((receptionists, dispatcher, technicians));
        }
    }
    audit::record(
        app,
        &mut tx,
        &actor,
        &actor.authorize_company(Permission::ManageStaff).map_err(fail)?,
        "bench.staff_created",
        "company",
        company,
        json!({"usernames": usernames, "totp_exempt": true}),
    )
    .await
    .map_err(fail)?;
    tx.commit().await?;
    let mut desks = Vec::new();
    let mut key_desks = Vec::new();
    for (i, &c) in ids.iter().enumerate() {
        let departments = so::departments(app.store.read(), c).await?;
        let dep = |kind: DepartmentKind| departments.iter().find(|d| d.kind == kind.as_str()).map(|d| d.id);
        let cs = dep(DepartmentKind::CustomerService);
        auth::grant_role(app, &actor, user, Some(c), Role::CsManager, cs, false).await.map_err(fail)?;
        auth::grant_role(app, &actor, desk_user, Some(c), Role::Receptionist, cs, false).await.map_err(fail)?;
        if let Some((receptionists, dispatcher, technicians)) = staff.get(i) {
            for &r in receptionists {
                auth::grant_role(app, &actor, r, Some(c), Role::Receptionist, cs, false).await.map_err(fail)?;
            }
            let eng = dep(DepartmentKind::Engineering);
            auth::grant_role(app, &actor, *dispatcher, Some(c), Role::EngineeringDispatcher, eng, false)
                .await
                .map_err(fail)?;
            for &t in technicians {
                auth::grant_role(app, &actor, t, Some(c), Role::Technician, eng, false).await.map_err(fail)?;
            }
            if let Some((code, units)) = key_units.get_mut(i) {
                let names = |ids: &[i64], what: &str| -> Vec<(i64, String)> {
                    ids.iter().enumerate().map(|(k, &id)| (id, format!("{what}{}-{}", i + 1, k + 1))).collect()
                };
                key_desks.push(KeyDesk {
                    community_id: c,
                    code: code.clone(),
                    receptionists: names(receptionists, "接待员"),
                    technicians: names(technicians, "维修工"),
                    manager: user,
                    units: std::mem::take(units),
                });
            }
            let Some((code, owners)) = requesters.get_mut(i).map(std::mem::take) else { continue };
            let mut by_kind = BTreeMap::new();
            for k in DepartmentKind::ALL {
                if let Some(d) = dep(*k) {
                    by_kind.insert(k.as_str(), d);
                }
            }
            desks.push(Desk {
                community_id: c,
                code,
                requesters: owners,
                receptionists: receptionists.clone(),
                worker: technicians[0],
                manager: user,
                dispatcher: *dispatcher,
                technicians: technicians.clone(),
                departments: by_kind,
            });
        }
    }
    let (sheets, sample_sheets) = if size.sheets > 0 {
        let generated = bench_sheets::generate(app, &desks, size.sheets, SEED).await?;
        // The histories were written in bulk, without an entry each: one entry vouches for them.
        crate::app::audit::seal_uncovered_events(app, "benchmark data").await.map_err(fail)?;
        generated
    } else {
        Default::default()
    };
    let (keys, sample_keys) =
        if key_sets > 0 { bench_keys::generate(app, &key_desks, key_sets, SEED).await? } else { Default::default() };
    Ok(Generated {
        communities: ids,
        units: size.units,
        residents: size.residents,
        sample_phones,
        sheets,
        sample_sheets,
        keys,
        sample_keys,
        millis: started.elapsed().as_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_add_up() {
        for (total, parts) in [(50_000, 1), (50_000, 3), (7, 4), (0, 2)] {
            let sum: usize = (0..parts).map(|i| share(total, parts, i)).sum();
            assert_eq!(sum, total);
        }
    }
}

//! `huiqian bench-data`: a large generated database for the performance targets
//! (`scripts/bench.sh`, `docs/benchmarks.md`). Same generators as the demo, other seed.

use super::synth::{self, Estate, PersonFactory, Plan, Rng};
use super::{BoxError, database_is_empty, fail, write_plan};
use crate::app::people::today_in;
use crate::app::{Actor, App, Authority, audit, auth, org};
use crate::store::{auth as sa, org as so};
use huiqian_domain::auth::Role;
use huiqian_domain::unit::DepartmentKind;
use serde_json::json;

pub const COMPANY: &str = "基准测试物业有限公司";
pub const USERNAME: &str = "bench";
pub const PASSWORD: &str = "bench-password-1";
const SEED: u64 = 0x6265_6e63_6801;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub units: usize,
    pub residents: usize,
    pub communities: usize,
}

/// What was generated.
#[derive(Debug)]
pub struct Generated {
    pub communities: Vec<i64>,
    pub units: usize,
    pub residents: usize,
    /// Mobile numbers of residents of the first community, for lookups.
    pub sample_phones: Vec<String>,
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
    let mut factory = PersonFactory::new(today_in("Asia/Shanghai"));
    let mut ids = Vec::new();
    let mut sample_phones = Vec::new();
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
        write_plan(app, &actor, community.id, &plan, "bench.loaded").await?;
        ids.push(community.id);
    }
    let hash = hash.await?;
    let mut tx = app.store.begin().await?;
    let user = sa::insert_user(
        &mut tx,
        &sa::NewUser {
            username: USERNAME,
            display_name: "基准测试",
            phone_masked: "",
            phone_enc: None,
            password_hash: &hash,
            locale: "zh-CN",
            must_change_password: false,
            totp_exempt: true,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        &actor,
        &Authority { role: Role::SystemAdmin, community: None },
        "bench.staff_created",
        "user",
        user,
        json!({"username": USERNAME, "totp_exempt": true}),
    )
    .await
    .map_err(fail)?;
    tx.commit().await?;
    for &c in &ids {
        let department = so::departments(app.store.read(), c)
            .await?
            .into_iter()
            .find(|d| d.kind == DepartmentKind::CustomerService.as_str())
            .map(|d| d.id);
        auth::grant_role(app, &actor, user, Some(c), Role::CsManager, department).await.map_err(fail)?;
    }
    Ok(Generated {
        communities: ids,
        units: size.units,
        residents: size.residents,
        sample_phones,
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

//! Companies, communities, buildings, units and departments.

use super::{Actor, App, AppError, AppResult, audit};
use crate::store::{self, org as st};
use huiqian_domain::auth::Permission;
use huiqian_domain::unit::{Area, DepartmentKind, Floor, RoomNo, UnitStatus};
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde::Deserialize;
use serde_json::json;

fn required(errors: &mut FieldErrors, field: &str, v: &str, max: usize) -> String {
    let v = v.trim();
    if v.is_empty() {
        errors.push(field, ValidationError::new("required"));
    } else if v.chars().count() > max {
        errors.push(field, ValidationError::new("text.too_long").with("max", max.to_string()));
    }
    v.to_string()
}

fn stale() -> AppError {
    AppError::Conflict { code: "stale_version" }
}

// ---- companies and communities ----

pub async fn create_company(app: &App, actor: &Actor, name: &str) -> AppResult<i64> {
    let now = app.clock.now();
    let authority = actor.authorize_company(Permission::ManageCommunity)?;
    let mut errors = FieldErrors::default();
    let name = required(&mut errors, "name", name, 80);
    errors.into_result().map_err(AppError::Validation)?;
    let mut tx = app.store.begin().await?;
    let id = st::insert_company(&mut tx, &name, now).await.map_err(|e| dup(e, "name", "company.name_taken"))?;
    audit::record(app, &mut tx, actor, &authority, "company.created", "company", id, json!({"name": name})).await?;
    tx.commit().await?;
    Ok(id)
}

fn dup(e: sqlx::Error, field: &str, code: &'static str) -> AppError {
    if store::is_unique_violation(&e) { AppError::field(field, ValidationError::new(code)) } else { e.into() }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CommunityInput {
    #[serde(default)]
    pub company_id: i64,
    /// Short code (2–10 letters or digits) used in sheet numbers; fixed once created.
    #[serde(default)]
    pub code: String,
    pub name: String,
    /// IANA time zone, default Asia/Shanghai.
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn check_community(c: &CommunityInput, errors: &mut FieldErrors, creating: bool) -> (String, String, String) {
    let name = required(errors, "name", &c.name, 80);
    let tz = if c.timezone.trim().is_empty() { "Asia/Shanghai".to_string() } else { c.timezone.trim().to_string() };
    if tz.parse::<chrono_tz::Tz>().is_err() {
        errors.push("timezone", ValidationError::new("timezone.unknown"));
    }
    let code = c.code.trim().to_uppercase();
    if creating && !(2..=10).contains(&code.len()) || !code.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        errors.push("code", ValidationError::new("community.code_format"));
    }
    if !c.phone.trim().is_empty() && huiqian_domain::person::Phone::parse(&c.phone).is_err() {
        errors.push("phone", ValidationError::new("phone.format"));
    }
    (name, tz, code)
}

/// The community's active department of a kind (the one a role works in).
pub async fn department_of_kind(app: &App, community_id: i64, kind: DepartmentKind) -> AppResult<Option<i64>> {
    Ok(st::departments(app.store.read(), community_id)
        .await?
        .into_iter()
        .find(|d| d.kind == kind.as_str() && d.active == 1)
        .map(|d| d.id))
}

pub async fn create_community(app: &App, actor: &Actor, c: &CommunityInput) -> AppResult<st::Community> {
    let now = app.clock.now();
    let authority = actor.authorize_company(Permission::ManageCommunity)?;
    let mut errors = FieldErrors::default();
    let (name, tz, code) = check_community(c, &mut errors, true);
    let companies = st::companies(app.store.read()).await?;
    if !companies.iter().any(|x| x.id == c.company_id) {
        errors.push("company_id", ValidationError::new("company.unknown"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let notices = super::holidays::for_new_community(app).await?;
    let mut tx = app.store.begin().await?;
    let nc = st::NewCommunity {
        company_id: c.company_id,
        code: &code,
        name: &name,
        timezone: &tz,
        address: c.address.trim(),
        phone: c.phone.trim(),
    };
    let id = st::insert_community(&mut tx, &nc, now).await.map_err(|e| dup(e, "code", "community.code_taken"))?;
    // Every community has the manual's departments from the start.
    for k in DepartmentKind::ALL {
        st::insert_department(&mut tx, id, k.as_str(), k.label_zh(), now).await?;
    }
    // … and the statutory holidays of the State Council's notices loaded so far.
    for (year, days) in &notices {
        crate::store::clock::apply_notice(&mut tx, id, *year, days, &[], now).await?;
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "community.created",
        "community",
        id,
        json!({"code": code, "name": name, "timezone": tz}),
    )
    .await?;
    tx.commit().await?;
    st::community(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn update_community(
    app: &App,
    actor: &Actor,
    id: i64,
    version: i64,
    c: &CommunityInput,
) -> AppResult<st::Community> {
    let now = app.clock.now();
    let before = st::community(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let authority = actor.authorize(Permission::ManageCommunity, id)?;
    let mut errors = FieldErrors::default();
    let (name, tz, _) = check_community(&CommunityInput { code: before.code.clone(), ..c.clone() }, &mut errors, false);
    errors.into_result().map_err(AppError::Validation)?;
    let mut tx = app.store.begin().await?;
    let nc = st::NewCommunity {
        company_id: before.company_id,
        code: &before.code,
        name: &name,
        timezone: &tz,
        address: c.address.trim(),
        phone: c.phone.trim(),
    };
    if !st::update_community(&mut tx, id, version, &nc, c.active, now).await? {
        return Err(stale());
    }
    audit::record(app,&mut tx, actor, &authority, "community.updated", "community", id, json!({"name": [before.name, name], "timezone": [before.timezone, tz], "active": [before.active, i64::from(c.active)]})).await?;
    tx.commit().await?;
    app.store.forget_zone(id);
    st::community(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// Communities the actor works in (every one for company-wide roles).
pub async fn my_communities(app: &App, actor: &Actor) -> AppResult<Vec<st::Community>> {
    let scope = actor.scope(Permission::ViewCommunity);
    Ok(st::communities(app.store.read(), scope.as_deref()).await?)
}

/// A community the actor may see; otherwise not found (R-ROLE-2).
pub async fn community(app: &App, actor: &Actor, id: i64) -> AppResult<st::Community> {
    actor.sees(id)?;
    st::community(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// The name of the company running a community, for the head of its printed forms.
pub async fn company_name(app: &App, actor: &Actor, community_id: i64) -> AppResult<String> {
    actor.sees(community_id)?;
    st::company_name_of(app.store.read(), community_id).await?.ok_or(AppError::NotFound)
}

/// A community's time zone, for counting its days (an unknown stored zone is an error).
pub async fn zone(app: &App, actor: &Actor, id: i64) -> AppResult<chrono_tz::Tz> {
    actor.sees(id)?;
    app.store.community_zone(id).await?.ok_or(AppError::NotFound)
}

// ---- buildings ----

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct BuildingInput {
    /// Building code as it appears in room numbers (`3`, `A3`).
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub floors: i64,
    #[serde(default = "yes")]
    pub active: bool,
}

pub fn parse_building_code(code: &str) -> Result<String, ValidationError> {
    let c = code.trim().trim_end_matches(['号', '栋', '座', '楼']).trim_end_matches('号').to_uppercase();
    if c.is_empty() || c.len() > 6 || !c.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        return Err(ValidationError::new("building.code_format"));
    }
    Ok(c)
}

pub async fn create_building(
    app: &App,
    actor: &Actor,
    community_id: i64,
    b: &BuildingInput,
) -> AppResult<st::Building> {
    let now = app.clock.now();
    let authority = actor.authorize(Permission::ManageStructure, community_id)?;
    app.community_exists(community_id).await?;
    let mut errors = FieldErrors::default();
    let code = parse_building_code(&b.code).map_err(|e| errors.push("code", e)).ok();
    let name = if b.name.trim().is_empty() {
        code.as_ref().map(|c| format!("{c}号楼")).unwrap_or_default()
    } else {
        required(&mut errors, "name", &b.name, 40)
    };
    if !(0..=200).contains(&b.floors) {
        errors.push("floors", ValidationError::new("building.floors_range"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let code = code.expect("validated");
    let mut tx = app.store.begin().await?;
    let id = st::insert_building(&mut tx, community_id, &code, &name, b.floors, now)
        .await
        .map_err(|e| dup(e, "code", "building.code_taken"))?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "building.created",
        "building",
        id,
        json!({"code": code, "name": name, "floors": b.floors}),
    )
    .await?;
    tx.commit().await?;
    st::building(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn update_building(
    app: &App,
    actor: &Actor,
    id: i64,
    version: i64,
    b: &BuildingInput,
) -> AppResult<st::Building> {
    let now = app.clock.now();
    let before = st::building(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let authority = actor.authorize(Permission::ManageStructure, before.community_id)?;
    let mut errors = FieldErrors::default();
    let name = required(&mut errors, "name", &b.name, 40);
    if !(0..=200).contains(&b.floors) {
        errors.push("floors", ValidationError::new("building.floors_range"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let mut tx = app.store.begin().await?;
    if !st::update_building(&mut tx, id, version, &name, b.floors, b.active, now).await? {
        return Err(stale());
    }
    audit::record(app,&mut tx, actor, &authority, "building.updated", "building", id, json!({"name": [before.name, name], "floors": [before.floors, b.floors], "active": [before.active, i64::from(b.active)]})).await?;
    tx.commit().await?;
    st::building(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn buildings(app: &App, actor: &Actor, community_id: i64) -> AppResult<Vec<st::Building>> {
    actor.sees(community_id)?;
    Ok(st::buildings(app.store.read(), community_id).await?)
}

// ---- units ----

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct UnitInput {
    /// `3-2-1502` (building-entrance-room) or `12-0801`; the building must exist.
    #[serde(default)]
    pub room_no: String,
    /// Floor; empty: taken from the room number (1502 → 15).
    #[serde(default)]
    pub floor: String,
    /// Floor area in m², up to two decimals (`89.5`).
    #[serde(default)]
    pub area: String,
    /// `vacant`, `occupied` or `renovating`.
    #[serde(default)]
    pub status: String,
    #[serde(default = "yes")]
    pub active: bool,
}

/// A unit's fields parsed into domain values.
pub struct ParsedUnit {
    pub room: RoomNo,
    pub floor: i64,
    pub area: Area,
    pub status: UnitStatus,
}

/// Parse a unit's fields, collecting every error (shared by forms, the API and imports).
pub fn parse_unit(u: &UnitInput, errors: &mut FieldErrors) -> Option<ParsedUnit> {
    let room = RoomNo::parse(&u.room_no).map_err(|e| errors.push("room_no", e)).ok();
    let floor = if u.floor.trim().is_empty() {
        room.as_ref().map(|r| i64::from(r.floor_hint()))
    } else {
        Floor::parse(&u.floor).map(|f| i64::from(f.value())).map_err(|e| errors.push("floor", e)).ok()
    };
    let area = Area::parse(&u.area).map_err(|e| errors.push("area", e)).ok();
    let status = if u.status.trim().is_empty() {
        Some(UnitStatus::Vacant)
    } else {
        UnitStatus::parse(&u.status).map_err(|e| errors.push("status", e)).ok()
    };
    Some(ParsedUnit { room: room?, floor: floor?, area: area?, status: status? })
}

pub async fn create_unit(app: &App, actor: &Actor, community_id: i64, u: &UnitInput) -> AppResult<st::Unit> {
    let now = app.clock.now();
    let authority = actor.authorize(Permission::ManageStructure, community_id)?;
    app.community_exists(community_id).await?;
    let mut errors = FieldErrors::default();
    let parsed = parse_unit(u, &mut errors);
    errors.into_result().map_err(AppError::Validation)?;
    let p = parsed.expect("validated");
    let mut tx = app.store.begin().await?;
    let Some(building) = st::building_by_code(&mut tx, community_id, p.room.building()).await? else {
        return Err(AppError::field(
            "room_no",
            ValidationError::new("building.unknown").with("code", p.room.building()),
        ));
    };
    let nu = st::NewUnit {
        community_id,
        building_id: building.id,
        room_no: p.room.as_str(),
        floor: p.floor,
        area_centi: p.area.as_centi(),
        status: p.status.as_str(),
    };
    let id = st::insert_unit(&mut tx, &nu, now).await.map_err(|e| dup(e, "room_no", "unit.room_taken"))?;
    audit::record(app,&mut tx, actor, &authority, "unit.created", "unit", id, json!({"room_no": p.room.as_str(), "floor": p.floor, "area_centi": p.area.as_centi(), "status": p.status.as_str()})).await?;
    tx.commit().await?;
    st::unit(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn update_unit(app: &App, actor: &Actor, id: i64, version: i64, u: &UnitInput) -> AppResult<st::Unit> {
    let now = app.clock.now();
    let before = st::unit(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let authority = actor.authorize(Permission::ManageStructure, before.community_id)?;
    let mut errors = FieldErrors::default();
    let parsed = parse_unit(&UnitInput { room_no: before.room_no.clone(), ..u.clone() }, &mut errors);
    errors.into_result().map_err(AppError::Validation)?;
    let p = parsed.expect("validated");
    let mut tx = app.store.begin().await?;
    if !st::update_unit(&mut tx, id, version, p.floor, p.area.as_centi(), p.status.as_str(), u.active, now).await? {
        return Err(stale());
    }
    audit::record(app,&mut tx, actor, &authority, "unit.updated", "unit", id, json!({"floor": [before.floor, p.floor], "area_centi": [before.area_centi, p.area.as_centi()], "status": [before.status, p.status.as_str()], "active": [before.active, i64::from(u.active)]})).await?;
    tx.commit().await?;
    st::unit(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn unit(app: &App, actor: &Actor, id: i64) -> AppResult<st::Unit> {
    let u = st::unit(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(u.community_id)?;
    Ok(u)
}

pub async fn units(
    app: &App,
    actor: &Actor,
    community_id: i64,
    building_id: Option<i64>,
    room_prefix: Option<&str>,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<st::Unit>> {
    actor.sees(community_id)?;
    let prefix = room_prefix.map(|p| p.trim().to_uppercase()).filter(|p| !p.is_empty());
    Ok(st::units(app.store.read(), community_id, building_id, prefix.as_deref(), limit.clamp(1, 500), offset.max(0))
        .await?)
}

// ---- departments ----

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DepartmentInput {
    /// One of the manual's departments (`engineering`, …); fixed once created.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
}

pub async fn create_department(
    app: &App,
    actor: &Actor,
    community_id: i64,
    d: &DepartmentInput,
) -> AppResult<st::Department> {
    let now = app.clock.now();
    let authority = actor.authorize(Permission::ManageStructure, community_id)?;
    app.community_exists(community_id).await?;
    let mut errors = FieldErrors::default();
    let kind = DepartmentKind::parse(&d.kind).map_err(|e| errors.push("kind", e)).ok();
    let name = if d.name.trim().is_empty() {
        kind.map(|k| k.label_zh().to_string()).unwrap_or_default()
    } else {
        required(&mut errors, "name", &d.name, 40)
    };
    errors.into_result().map_err(AppError::Validation)?;
    let kind = kind.expect("validated");
    let mut tx = app.store.begin().await?;
    let id = st::insert_department(&mut tx, community_id, kind.as_str(), &name, now)
        .await
        .map_err(|e| dup(e, "kind", "department.exists"))?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "department.created",
        "department",
        id,
        json!({"kind": kind.as_str(), "name": name}),
    )
    .await?;
    tx.commit().await?;
    st::department(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn update_department(
    app: &App,
    actor: &Actor,
    id: i64,
    version: i64,
    d: &DepartmentInput,
) -> AppResult<st::Department> {
    let now = app.clock.now();
    let before = st::department(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let authority = actor.authorize(Permission::ManageStructure, before.community_id)?;
    let mut errors = FieldErrors::default();
    let name = required(&mut errors, "name", &d.name, 40);
    errors.into_result().map_err(AppError::Validation)?;
    let mut tx = app.store.begin().await?;
    if !st::update_department(&mut tx, id, version, &name, d.active, now).await? {
        return Err(stale());
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "department.updated",
        "department",
        id,
        json!({"name": [before.name, name], "active": [before.active, i64::from(d.active)]}),
    )
    .await?;
    tx.commit().await?;
    st::department(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn departments(app: &App, actor: &Actor, community_id: i64) -> AppResult<Vec<st::Department>> {
    actor.sees(community_id)?;
    Ok(st::departments(app.store.read(), community_id).await?)
}

/// Every company, for company-wide administrators (who create companies and communities).
pub async fn companies(app: &App, actor: &Actor) -> AppResult<Vec<st::Company>> {
    actor.authorize_company(Permission::ManageCommunity)?;
    Ok(st::companies(app.store.read()).await?)
}

/// How many units and registered persons a community holds (its overview page).
pub async fn community_counts(app: &App, actor: &Actor, id: i64) -> AppResult<(i64, i64)> {
    actor.may_read(Permission::ViewCommunity, id).map_err(|_| AppError::NotFound)?;
    let units = st::count_units(app.store.read(), id).await?;
    let persons = store::people::count_persons(app.store.read(), id).await?;
    Ok((units, persons))
}

/// A building of a community the actor may see; otherwise not found.
pub async fn building(app: &App, actor: &Actor, id: i64) -> AppResult<st::Building> {
    let b = st::building(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.may_read(Permission::ViewCommunity, b.community_id).map_err(|_| AppError::NotFound)?;
    Ok(b)
}

/// A department of a community the actor may see; otherwise not found.
pub async fn department(app: &App, actor: &Actor, id: i64) -> AppResult<st::Department> {
    let d = st::department(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.may_read(Permission::ViewCommunity, d.community_id).map_err(|_| AppError::NotFound)?;
    Ok(d)
}

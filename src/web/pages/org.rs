//! Communities, buildings, units and departments.

use super::{Chrome, Form, OrPage, PageError, PageResult, page, render, see_other};
use crate::app::{AppError, org, people};
use crate::store::{org as so, people as sp};
use crate::web::AppState;
use crate::web::extract::Ctx;
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Path, Query, State};
use axum::routing::{get, post};
use huiqian_domain::auth::Permission;
use huiqian_domain::unit::{DepartmentKind, UnitStatus};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/communities/new", get(new_community).post(create_community))
        .route("/communities/{id}", get(community))
        .route("/communities/{id}/edit", get(edit_community).post(update_community))
        .route("/communities/{id}/buildings", post(create_building))
        .route("/buildings/{id}", get(building))
        .route("/buildings/{id}/edit", post(update_building))
        .route("/communities/{id}/units", get(units))
        .route("/communities/{id}/units/new", get(new_unit).post(create_unit))
        .route("/units/{id}", get(unit))
        .route("/units/{id}/edit", get(edit_unit).post(update_unit))
        .route("/departments/{id}/edit", post(update_department))
}

fn status_options(c: &Chrome) -> Vec<(String, String)> {
    c.options(UnitStatus::ALL)
}

pub fn status_label(c: &Chrome, code: &str) -> String {
    c.label_code(UnitStatus::parse(code).ok(), code)
}

pub fn area_text(centi: i64) -> String {
    huiqian_domain::unit::Area::from_centi(centi).map(|a| a.to_string()).unwrap_or_default()
}

// ---- community ----

pub struct DeptRow {
    pub d: so::Department,
    pub label: String,
}

#[derive(Template)]
#[template(path = "org/community.html")]
struct CommunityPage {
    c: Chrome,
    cm: so::Community,
    buildings: Vec<so::Building>,
    departments: Vec<DeptRow>,
    units: i64,
    persons: i64,
    can_edit: bool,
    can_structure: bool,
    can_residents: bool,
    f: Form,
}

async fn community_page(s: &AppState, ctx: &Ctx, id: i64, f: Form) -> PageResult {
    let cm = org::community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let buildings = org::buildings(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let departments = org::departments(&s.app, &ctx.actor, id)
        .await
        .page(ctx.lang)?
        .into_iter()
        .map(|d| {
            let label = DepartmentKind::parse(&d.kind)
                .map(|k| if ctx.t.is_en() { k.label_en() } else { k.label_zh() }.to_string())
                .unwrap_or_default();
            DeptRow { d, label }
        })
        .collect();
    let (units, persons) = org::community_counts(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let status = if f.errors.is_empty() && f.banner.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &CommunityPage {
            c: Chrome::of(ctx),
            can_edit: ctx.actor.authorize(Permission::ManageCommunity, id).is_ok(),
            can_structure: ctx.actor.authorize(Permission::ManageStructure, id).is_ok(),
            can_residents: ctx.actor.authorize(Permission::ManageResidents, id).is_ok(),
            cm,
            buildings,
            departments,
            units,
            persons,
            f,
        },
    ))
}

async fn community(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    community_page(&s, &ctx, id, Form::default()).await
}

#[derive(Template)]
#[template(path = "org/community_form.html")]
struct CommunityFormPage {
    c: Chrome,
    f: Form,
    id: i64,
    version: i64,
    companies: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
struct CommunityForm {
    #[serde(default)]
    company_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: i64,
}

impl CommunityForm {
    fn input(&self, active: bool) -> org::CommunityInput {
        org::CommunityInput {
            company_id: self.company_id.parse().unwrap_or(0),
            code: self.code.clone(),
            name: self.name.clone(),
            timezone: self.timezone.clone(),
            address: self.address.clone(),
            phone: self.phone.clone(),
            active,
        }
    }
    fn form(&self) -> Form {
        Form::with(&[
            ("company_id", self.company_id.clone()),
            ("code", self.code.clone()),
            ("name", self.name.clone()),
            ("timezone", self.timezone.clone()),
            ("address", self.address.clone()),
            ("phone", self.phone.clone()),
            ("active", if self.active.is_some() { "on".into() } else { String::new() }),
        ])
    }
}

async fn companies(s: &AppState, ctx: &Ctx) -> Result<Vec<(String, String)>, PageError> {
    Ok(org::companies(&s.app, &ctx.actor)
        .await
        .page(ctx.lang)?
        .into_iter()
        .map(|c| (c.id.to_string(), c.name))
        .collect())
}

async fn new_community(State(s): State<AppState>, ctx: Ctx) -> PageResult {
    ctx.actor.authorize_company(Permission::ManageCommunity).page(ctx.lang)?;
    let companies = companies(&s, &ctx).await?;
    let f = Form::with(&[("timezone", "Asia/Shanghai".into()), ("active", "on".into())]);
    Ok(render(&CommunityFormPage { c: Chrome::of(&ctx), f, id: 0, version: 0, companies }))
}

async fn create_community(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<CommunityForm>) -> PageResult {
    match org::create_community(&s.app, &ctx.actor, &f.input(true)).await {
        Ok(c) => Ok(see_other(&format!("/communities/{}", c.id))),
        Err(e) => {
            let mut form = f.form();
            let status = form.fail(e, ctx.lang)?;
            let companies = companies(&s, &ctx).await?;
            Ok(page(status, &CommunityFormPage { c: Chrome::of(&ctx), f: form, id: 0, version: 0, companies }))
        }
    }
}

async fn edit_community(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let cm = org::community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    ctx.actor.authorize(Permission::ManageCommunity, id).page(ctx.lang)?;
    let f = Form::with(&[
        ("code", cm.code.clone()),
        ("name", cm.name.clone()),
        ("timezone", cm.timezone.clone()),
        ("address", cm.address.clone()),
        ("phone", cm.phone.clone()),
        ("active", if cm.active == 1 { "on".into() } else { String::new() }),
    ]);
    Ok(render(&CommunityFormPage { c: Chrome::of(&ctx), f, id, version: cm.version, companies: vec![] }))
}

async fn update_community(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<CommunityForm>,
) -> PageResult {
    match org::update_community(&s.app, &ctx.actor, id, f.version, &f.input(f.active.is_some())).await {
        Ok(_) => Ok(see_other(&format!("/communities/{id}"))),
        Err(e) => {
            let mut form = f.form();
            let status = form.fail(e, ctx.lang)?;
            Ok(page(
                status,
                &CommunityFormPage { c: Chrome::of(&ctx), f: form, id, version: f.version, companies: vec![] },
            ))
        }
    }
}

// ---- buildings ----

#[derive(Deserialize)]
struct BuildingForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    floors: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: i64,
}

fn floors_of(s: &str) -> i64 {
    s.trim().parse().unwrap_or(if s.trim().is_empty() { 0 } else { -1 })
}

async fn create_building(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<BuildingForm>,
) -> PageResult {
    let input =
        org::BuildingInput { code: f.code.clone(), name: f.name.clone(), floors: floors_of(&f.floors), active: true };
    match org::create_building(&s.app, &ctx.actor, id, &input).await {
        Ok(b) => Ok(see_other(&format!("/buildings/{}", b.id))),
        Err(e) => {
            let mut form = Form::with(&[("code", f.code), ("name", f.name), ("floors", f.floors)]);
            form.fail(e, ctx.lang)?;
            community_page(&s, &ctx, id, form).await
        }
    }
}

#[derive(Template)]
#[template(path = "org/building.html")]
struct BuildingPage {
    c: Chrome,
    cm: so::Community,
    b: so::Building,
    units: Vec<UnitRow>,
    can_structure: bool,
    f: Form,
}

pub struct UnitRow {
    pub u: so::Unit,
    pub status: String,
    pub area: String,
}

fn unit_rows(c: &Chrome, units: Vec<so::Unit>) -> Vec<UnitRow> {
    units
        .into_iter()
        .map(|u| UnitRow { status: status_label(c, &u.status), area: area_text(u.area_centi), u })
        .collect()
}

async fn building_page(s: &AppState, ctx: &Ctx, id: i64, f: Form) -> PageResult {
    let b = org::building(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let cm = org::community(&s.app, &ctx.actor, b.community_id).await.page(ctx.lang)?;
    let c = Chrome::of(ctx);
    let units =
        unit_rows(&c, org::units(&s.app, &ctx.actor, b.community_id, Some(id), None, 500, 0).await.page(ctx.lang)?);
    let status = if f.errors.is_empty() && f.banner.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let can_structure = ctx.actor.authorize(Permission::ManageStructure, b.community_id).is_ok();
    Ok(page(status, &BuildingPage { c, cm, b, units, can_structure, f }))
}

async fn building(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let b = match org::building(&s.app, &ctx.actor, id).await {
        Ok(b) => Some(b),
        Err(AppError::NotFound) => None,
        Err(e) => return Err(PageError(e, ctx.lang)),
    };
    let f = b
        .map(|b| {
            Form::with(&[
                ("name", b.name),
                ("floors", b.floors.to_string()),
                ("active", if b.active == 1 { "on".into() } else { String::new() }),
            ])
        })
        .unwrap_or_default();
    building_page(&s, &ctx, id, f).await
}

async fn update_building(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<BuildingForm>,
) -> PageResult {
    let input = org::BuildingInput {
        code: String::new(),
        name: f.name.clone(),
        floors: floors_of(&f.floors),
        active: f.active.is_some(),
    };
    match org::update_building(&s.app, &ctx.actor, id, f.version, &input).await {
        Ok(_) => Ok(see_other(&format!("/buildings/{id}"))),
        Err(e) => {
            let mut form =
                Form::with(&[("name", f.name), ("floors", f.floors), ("active", f.active.unwrap_or_default())]);
            form.fail(e, ctx.lang)?;
            building_page(&s, &ctx, id, form).await
        }
    }
}

// ---- units ----

#[derive(Deserialize)]
struct UnitsQuery {
    room: Option<String>,
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "org/units.html")]
struct UnitsPage {
    c: Chrome,
    cm: so::Community,
    room: String,
    units: Vec<UnitRow>,
    page: i64,
    more: bool,
    can_structure: bool,
}

const PAGE: i64 = 50;

async fn units(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(q): Query<UnitsQuery>) -> PageResult {
    let cm = org::community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let room = q.room.unwrap_or_default();
    let pg = q.page.unwrap_or(0).max(0);
    let c = Chrome::of(&ctx);
    let mut list = org::units(&s.app, &ctx.actor, id, None, Some(&room), PAGE + 1, pg * PAGE).await.page(ctx.lang)?;
    let more = list.len() as i64 > PAGE;
    list.truncate(PAGE as usize);
    let can_structure = ctx.actor.authorize(Permission::ManageStructure, id).is_ok();
    Ok(render(&UnitsPage { units: unit_rows(&c, list), c, cm, room, page: pg, more, can_structure }))
}

#[derive(Template)]
#[template(path = "org/unit.html")]
struct UnitPage {
    c: Chrome,
    cm: so::Community,
    u: UnitRow,
    occupants: Vec<OccRow>,
    can_structure: bool,
    can_residents: bool,
    /// Every sheet of the unit: the owner's file (R-SHEET-11).
    list: Vec<super::sheets::Row>,
}

pub struct OccRow {
    pub o: sp::Occupancy,
    pub relation: String,
}

pub fn relation_label(c: &Chrome, code: &str) -> String {
    c.label_code(huiqian_domain::unit::OccupantRelation::parse(code).ok(), code)
}

pub fn occ_rows(c: &Chrome, list: Vec<sp::Occupancy>) -> Vec<OccRow> {
    list.into_iter().map(|o| OccRow { relation: relation_label(c, &o.relation), o }).collect()
}

async fn unit(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let u = org::unit(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let cm = org::community(&s.app, &ctx.actor, u.community_id).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let occupants = occ_rows(&c, people::occupants(&s.app, &ctx.actor, id).await.page(ctx.lang)?);
    let can_structure = ctx.actor.authorize(Permission::ManageStructure, u.community_id).is_ok();
    let can_residents = ctx.actor.authorize(Permission::ManageResidents, u.community_id).is_ok();
    let u = unit_rows(&c, vec![u]).remove(0);
    let search = crate::store::sheet::Search { unit_id: Some(id), limit: 200, ..Default::default() };
    let found = crate::app::sheet::search(&s.app, &ctx.actor, u.u.community_id, search).await.page(ctx.lang)?;
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    let list = super::sheets::rows(&c, zone, found, ctx.now);
    Ok(render(&UnitPage { c, cm, u, occupants, can_structure, can_residents, list }))
}

#[derive(Template)]
#[template(path = "org/unit_form.html")]
struct UnitFormPage {
    c: Chrome,
    cm: so::Community,
    f: Form,
    id: i64,
    version: i64,
    statuses: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct UnitForm {
    #[serde(default)]
    room_no: String,
    #[serde(default)]
    floor: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: i64,
}

impl UnitForm {
    fn form(&self) -> Form {
        Form::with(&[
            ("room_no", self.room_no.clone()),
            ("floor", self.floor.clone()),
            ("area", self.area.clone()),
            ("status", self.status.clone()),
            ("active", self.active.clone().unwrap_or_default()),
        ])
    }
    fn input(&self, active: bool) -> org::UnitInput {
        org::UnitInput {
            room_no: self.room_no.clone(),
            floor: self.floor.clone(),
            area: self.area.clone(),
            status: self.status.clone(),
            active,
        }
    }
}

async fn new_unit(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let cm = org::community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    ctx.actor.authorize(Permission::ManageStructure, id).page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let statuses = status_options(&c);
    Ok(render(&UnitFormPage { c, cm, f: Form::with(&[("status", "vacant".into())]), id: 0, version: 0, statuses }))
}

async fn create_unit(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<UnitForm>,
) -> PageResult {
    match org::create_unit(&s.app, &ctx.actor, id, &f.input(true)).await {
        Ok(u) => Ok(see_other(&format!("/units/{}", u.id))),
        Err(e) => {
            let mut form = f.form();
            let status = form.fail(e, ctx.lang)?;
            let cm = org::community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
            let c = Chrome::of(&ctx);
            let statuses = status_options(&c);
            Ok(page(status, &UnitFormPage { c, cm, f: form, id: 0, version: 0, statuses }))
        }
    }
}

async fn edit_unit(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let u = org::unit(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    ctx.actor.authorize(Permission::ManageStructure, u.community_id).page(ctx.lang)?;
    let cm = org::community(&s.app, &ctx.actor, u.community_id).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let statuses = status_options(&c);
    let f = Form::with(&[
        ("room_no", u.room_no.clone()),
        ("floor", u.floor.to_string()),
        ("area", area_text(u.area_centi)),
        ("status", u.status.clone()),
        ("active", if u.active == 1 { "on".into() } else { String::new() }),
    ]);
    Ok(render(&UnitFormPage { c, cm, f, id, version: u.version, statuses }))
}

async fn update_unit(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<UnitForm>,
) -> PageResult {
    match org::update_unit(&s.app, &ctx.actor, id, f.version, &f.input(f.active.is_some())).await {
        Ok(_) => Ok(see_other(&format!("/units/{id}"))),
        Err(e) => {
            let mut form = f.form();
            let status = form.fail(e, ctx.lang)?;
            let u = org::unit(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
            form.values.insert("room_no".into(), u.room_no.clone());
            let cm = org::community(&s.app, &ctx.actor, u.community_id).await.page(ctx.lang)?;
            let c = Chrome::of(&ctx);
            let statuses = status_options(&c);
            Ok(page(status, &UnitFormPage { c, cm, f: form, id, version: f.version, statuses }))
        }
    }
}

// ---- departments ----

#[derive(Deserialize)]
struct DepartmentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: i64,
}

async fn update_department(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<DepartmentForm>,
) -> PageResult {
    let d = org::department(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let input = org::DepartmentInput { kind: String::new(), name: f.name.clone(), active: f.active.is_some() };
    match org::update_department(&s.app, &ctx.actor, id, f.version, &input).await {
        Ok(_) => Ok(see_other(&format!("/communities/{}", d.community_id))),
        Err(e) => {
            let mut form = Form::default();
            form.fail(e, ctx.lang)?;
            community_page(&s, &ctx, d.community_id, form).await
        }
    }
}

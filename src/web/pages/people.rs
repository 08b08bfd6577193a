//! Owners and residents: search, detail, create, edit, link to units.

use super::org::{OccRow, occ_rows};
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
use huiqian_domain::person::IdKind;
use huiqian_domain::unit::OccupantRelation;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/persons", get(persons))
        .route("/persons/{id}", get(person))
        .route("/persons/{id}/edit", get(edit_person).post(update_person))
        .route("/persons/{id}/occupancies", post(link_person))
        .route("/communities/{id}/persons/new", get(new_person).post(create_person))
        .route("/occupancies/{id}/end", post(end_occupancy))
}

fn relation_options(c: &Chrome) -> Vec<(String, String)> {
    c.options(OccupantRelation::ALL)
}

fn id_kind_options(c: &Chrome) -> Vec<(String, String)> {
    c.options(&IdKind::ALL)
}

fn id_kind_label(c: &Chrome, code: &Option<String>) -> String {
    code.as_deref().and_then(|k| IdKind::parse(k).ok()).map(|k| c.label(k).to_string()).unwrap_or_default()
}

#[derive(Deserialize)]
struct SearchQuery {
    community_id: Option<i64>,
    q: Option<String>,
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "people/persons.html")]
struct PersonsPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    q: String,
    persons: Vec<sp::Person>,
    page: i64,
    more: bool,
    can_create: bool,
}

const PAGE: i64 = 50;

/// Find a person the way the desk asks: room-less, by phone, its last four digits, an ID
/// number, or a name. Every number on the page is masked (R-ARC-1).
async fn persons(State(s): State<AppState>, ctx: Ctx, Query(q): Query<SearchQuery>) -> PageResult {
    let list = org::my_communities(&s.app, &ctx.actor).await.page(ctx.lang)?;
    let Some(first) = list.first() else {
        return Err(PageError(AppError::Forbidden, ctx.lang));
    };
    let community_id = q.community_id.unwrap_or(first.id);
    let query = q.q.unwrap_or_default();
    let pg = q.page.unwrap_or(0).max(0);
    let mut persons =
        people::search(&s.app, &ctx.actor, community_id, &query, PAGE + 1, pg * PAGE).await.page(ctx.lang)?;
    let more = persons.len() as i64 > PAGE;
    persons.truncate(PAGE as usize);
    let can_create = ctx.actor.authorize(Permission::ManageResidents, community_id).is_ok();
    Ok(render(&PersonsPage {
        c: Chrome::of(&ctx),
        communities: list.into_iter().map(|c| (c.id.to_string(), c.name)).collect(),
        community_id,
        q: query,
        persons,
        page: pg,
        more,
        can_create,
    }))
}

#[derive(Template)]
#[template(path = "people/person.html")]
struct PersonPage {
    c: Chrome,
    cm: so::Community,
    p: sp::Person,
    id_kind: String,
    occupants: Vec<OccRow>,
    can_edit: bool,
    relations: Vec<(String, String)>,
    f: Form,
    /// The sheets this person raised.
    list: Vec<super::sheets::Row>,
}

async fn person_page(s: &AppState, ctx: &Ctx, id: i64, f: Form) -> PageResult {
    let raised = {
        let (p, _) = people::person(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
        let search = crate::store::sheet::Search { person_id: Some(id), limit: 200, ..Default::default() };
        crate::app::sheet::search(&s.app, &ctx.actor, p.community_id, search).await.page(ctx.lang)?
    };
    let (p, occ) = people::person(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let cm = org::community(&s.app, &ctx.actor, p.community_id).await.page(ctx.lang)?;
    let zone = super::community_zone(s, ctx, cm.id).await?;
    let c = Chrome::of(ctx);
    let status = if f.errors.is_empty() && f.banner.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &PersonPage {
            id_kind: id_kind_label(&c, &p.id_kind),
            occupants: occ_rows(&c, occ),
            can_edit: ctx.actor.authorize(Permission::ManageResidents, p.community_id).is_ok(),
            relations: relation_options(&c),
            list: super::sheets::rows(&c, zone, raised, ctx.now),
            c,
            cm,
            p,
            f,
        },
    ))
}

async fn person(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    person_page(&s, &ctx, id, Form::with(&[("relation", "owner".into())])).await
}

#[derive(Template)]
#[template(path = "people/person_form.html")]
struct PersonFormPage {
    c: Chrome,
    cm: so::Community,
    f: Form,
    id: i64,
    version: i64,
    relations: Vec<(String, String)>,
    id_kinds: Vec<(String, String)>,
    masked: Option<sp::Person>,
}

#[derive(Deserialize, Default)]
struct PersonForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    id_kind: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    employer: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    room_no: String,
    #[serde(default)]
    relation: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: i64,
}

impl PersonForm {
    fn input(&self, active: bool) -> people::PersonInput {
        people::PersonInput {
            name: self.name.clone(),
            phone: self.phone.clone(),
            id_kind: self.id_kind.clone(),
            id_number: self.id_number.clone(),
            employer: self.employer.clone(),
            address: self.address.clone(),
            note: self.note.clone(),
            room_no: self.room_no.clone(),
            relation: self.relation.clone(),
            active,
        }
    }
    /// What the form shows again after an error: everything typed, including personal
    /// data (it is the typist's own input, on its way in).
    fn form(&self) -> Form {
        Form::with(&[
            ("name", self.name.clone()),
            ("phone", self.phone.clone()),
            ("id_kind", self.id_kind.clone()),
            ("id_number", self.id_number.clone()),
            ("employer", self.employer.clone()),
            ("address", self.address.clone()),
            ("note", self.note.clone()),
            ("room_no", self.room_no.clone()),
            ("relation", self.relation.clone()),
            ("active", self.active.clone().unwrap_or_default()),
        ])
    }
}

#[derive(Deserialize)]
struct NewQuery {
    room_no: Option<String>,
}

async fn new_person(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(q): Query<NewQuery>) -> PageResult {
    let cm = org::community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    ctx.actor.authorize(Permission::ManageResidents, id).page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let f = Form::with(&[
        ("room_no", q.room_no.unwrap_or_default()),
        ("relation", "owner".into()),
        ("id_kind", "resident_id_card".into()),
    ]);
    Ok(render(&PersonFormPage {
        relations: relation_options(&c),
        id_kinds: id_kind_options(&c),
        c,
        cm,
        f,
        id: 0,
        version: 0,
        masked: None,
    }))
}

async fn create_person(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<PersonForm>,
) -> PageResult {
    match people::create_person(&s.app, &ctx.actor, id, &f.input(true)).await {
        Ok(p) => Ok(see_other(&format!("/persons/{}", p.id))),
        Err(e) => {
            let mut form = f.form();
            let status = form.fail(e, ctx.lang)?;
            let cm = org::community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
            let c = Chrome::of(&ctx);
            Ok(page(
                status,
                &PersonFormPage {
                    relations: relation_options(&c),
                    id_kinds: id_kind_options(&c),
                    c,
                    cm,
                    f: form,
                    id: 0,
                    version: 0,
                    masked: None,
                },
            ))
        }
    }
}

async fn edit_person(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let (p, _) = people::person(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    ctx.actor.authorize(Permission::ManageResidents, p.community_id).page(ctx.lang)?;
    let cm = org::community(&s.app, &ctx.actor, p.community_id).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let f = Form::with(&[
        ("name", p.name.clone()),
        ("note", p.note.clone()),
        ("id_kind", p.id_kind.clone().unwrap_or_else(|| "resident_id_card".into())),
        ("active", if p.active == 1 { "on".into() } else { String::new() }),
    ]);
    Ok(render(&PersonFormPage {
        relations: relation_options(&c),
        id_kinds: id_kind_options(&c),
        c,
        cm,
        f,
        id,
        version: p.version,
        masked: Some(p),
    }))
}

async fn update_person(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<PersonForm>,
) -> PageResult {
    match people::update_person(&s.app, &ctx.actor, id, f.version, &f.input(f.active.is_some())).await {
        Ok(_) => Ok(see_other(&format!("/persons/{id}"))),
        Err(e) => {
            let mut form = f.form();
            let status = form.fail(e, ctx.lang)?;
            let (p, _) = people::person(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
            let cm = org::community(&s.app, &ctx.actor, p.community_id).await.page(ctx.lang)?;
            let c = Chrome::of(&ctx);
            Ok(page(
                status,
                &PersonFormPage {
                    relations: relation_options(&c),
                    id_kinds: id_kind_options(&c),
                    c,
                    cm,
                    f: form,
                    id,
                    version: f.version,
                    masked: Some(p),
                },
            ))
        }
    }
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    room_no: String,
    #[serde(default)]
    relation: String,
    #[serde(default)]
    since: String,
}

async fn link_person(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<LinkForm>,
) -> PageResult {
    match people::link_to_room(&s.app, &ctx.actor, id, &f.room_no, &f.relation, &f.since).await {
        Ok(_) => Ok(see_other(&format!("/persons/{id}"))),
        Err(e) => {
            let mut form = Form::with(&[("room_no", f.room_no), ("relation", f.relation), ("since", f.since)]);
            form.fail(e, ctx.lang)?;
            person_page(&s, &ctx, id, form).await
        }
    }
}

#[derive(Deserialize)]
struct EndForm {
    #[serde(default)]
    version: i64,
    #[serde(default)]
    until: String,
    #[serde(default)]
    back: String,
}

async fn end_occupancy(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<EndForm>,
) -> PageResult {
    let o = people::end_occupancy(&s.app, &ctx.actor, id, f.version, &f.until).await.page(ctx.lang)?;
    let back = if f.back == "person" { format!("/persons/{}", o.person_id) } else { format!("/units/{}", o.unit_id) };
    Ok(see_other(&back))
}

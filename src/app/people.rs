//! Owners and residents: personal data sealed at the edge (R-ARC-1), looked up by keyed
//! hash, shown masked.

use super::{Actor, App, AppError, AppResult, audit};
use crate::crypto::Secrets;
use crate::store::{self, org, people as st};
use huiqian_domain::auth::Permission;
use huiqian_domain::person::{IdDocument, IdKind, PersonName, Phone, mask_address, mask_employer};
use huiqian_domain::time::CivilDate;
use huiqian_domain::unit::{OccupantRelation, RoomNo};
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PersonInput {
    pub name: String,
    /// Mobile (`13812341234`) or landline (`010-12345678`).
    #[serde(default)]
    pub phone: String,
    /// `resident_id_card` (default), `passport`, `hk_macao_permit`, `taiwan_permit`, …
    #[serde(default)]
    pub id_kind: String,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub employer: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub note: String,
    /// On creation: link the person to this unit at once.
    #[serde(default)]
    pub room_no: String,
    /// `owner`, `tenant`, `family` or `agent` (with `room_no`).
    #[serde(default)]
    pub relation: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A person's fields parsed into domain values.
pub struct ParsedPerson {
    pub name: PersonName,
    pub phone: Option<Phone>,
    pub id: Option<IdDocument>,
    pub employer: String,
    pub address: String,
    pub note: String,
}

/// Parse a person's fields, collecting every error (forms, API and imports share this).
pub fn parse_person(p: &PersonInput, today: chrono::NaiveDate, errors: &mut FieldErrors) -> Option<ParsedPerson> {
    let name = PersonName::parse(&p.name).map_err(|e| errors.push("name", e)).ok();
    let phone = if p.phone.trim().is_empty() {
        Some(None)
    } else {
        Phone::parse(&p.phone).map(Some).map_err(|e| errors.push("phone", e)).ok()
    };
    let id = if p.id_number.trim().is_empty() {
        Some(None)
    } else {
        let kind = if p.id_kind.trim().is_empty() {
            Some(IdKind::ResidentIdCard)
        } else {
            IdKind::parse(&p.id_kind).map_err(|e| errors.push("id_kind", e)).ok()
        };
        kind.and_then(|k| {
            IdDocument::parse(k, &p.id_number, today).map(Some).map_err(|e| errors.push("id_number", e)).ok()
        })
    };
    for (field, v, max) in [("employer", &p.employer, 100), ("address", &p.address, 200), ("note", &p.note, 500)] {
        if v.trim().chars().count() > max {
            errors.push(field, ValidationError::new("text.too_long").with("max", max.to_string()));
        }
    }
    Some(ParsedPerson {
        name: name?,
        phone: phone?,
        id: id?,
        employer: p.employer.trim().into(),
        address: p.address.trim().into(),
        note: p.note.trim().into(),
    })
}

/// Encrypt, mask and hash personal data for storage.
pub fn seal(secrets: &Secrets, p: &ParsedPerson) -> st::SealedPersonal {
    let opt = |s: &str| (!s.is_empty()).then(|| secrets.encrypt(s));
    st::SealedPersonal {
        phone_enc: p.phone.as_ref().map(|x| secrets.encrypt(x.as_str())),
        phone_hash: p.phone.as_ref().map(|x| secrets.lookup_hash("phone", x.as_str())),
        phone_last4: p.phone.as_ref().map(|x| x.last4().to_string()),
        phone_masked: p.phone.as_ref().map(|x| x.masked()).unwrap_or_default(),
        id_kind: p.id.as_ref().map(|x| x.kind().as_str().to_string()),
        id_enc: p.id.as_ref().map(|x| secrets.encrypt(x.number())),
        id_hash: p.id.as_ref().map(|x| secrets.lookup_hash("id", x.number())),
        id_masked: p.id.as_ref().map(|x| x.masked()).unwrap_or_default(),
        employer_enc: opt(&p.employer),
        employer_masked: if p.employer.is_empty() { String::new() } else { mask_employer(&p.employer) },
        address_enc: opt(&p.address),
        address_masked: if p.address.is_empty() { String::new() } else { mask_address(&p.address) },
    }
}

/// A name as a refusal may show it to someone who may not see that person: the surname,
/// the rest starred.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

/// The refusal for an ID number another person of the company holds, naming that record
/// (masked): "the same ID number cannot belong to two persons".
pub fn id_taken(owner: &st::IdOwner) -> ValidationError {
    ValidationError::new("id_number.taken")
        .with("name", mask_name(&owner.name))
        .with("community", &owner.community_name)
        .with("id", &owner.id_masked)
        .with("person_id", owner.person_id)
}

/// Check that nobody else in the company holds this ID number, then claim it for the
/// person, inside the caller's transaction (a concurrent claim is refused by the key).
async fn claim_id(tx: &mut store::Tx, company_id: i64, id_hash: &str, person_id: i64) -> AppResult<()> {
    if let Some(owner) = st::id_owner(tx, company_id, id_hash).await?
        && owner.person_id != person_id
    {
        return Err(AppError::field("id_number", id_taken(&owner)));
    }
    match st::claim_id(tx, company_id, id_hash, person_id).await {
        Ok(()) => Ok(()),
        Err(e) if store::is_unique_violation(&e) => Err(AppError::Conflict { code: "id_number_taken" }),
        Err(e) => Err(e.into()),
    }
}

/// The day of `now` in the community's time zone (ID birth dates are checked against it).
pub fn today_in(tz: chrono_tz::Tz, now: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().with_timezone(&tz).date_naive()
}

pub async fn create_person(app: &App, actor: &Actor, community_id: i64, p: &PersonInput) -> AppResult<st::Person> {
    let authority = actor.authorize(Permission::ManageResidents, community_id)?;
    app.community_exists(community_id).await?;
    let now = app.clock.now();
    let community = org::community(app.store.read(), community_id).await?.ok_or(AppError::NotFound)?;
    let zone = app.store.community_zone(community_id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::default();
    let parsed = parse_person(p, today_in(zone, now), &mut errors);
    let link = if p.room_no.trim().is_empty() {
        None
    } else {
        let room = RoomNo::parse(&p.room_no).map_err(|e| errors.push("room_no", e)).ok();
        let rel = if p.relation.trim().is_empty() {
            Some(OccupantRelation::Owner)
        } else {
            OccupantRelation::parse(&p.relation).map_err(|e| errors.push("relation", e)).ok()
        };
        room.zip(rel)
    };
    errors.into_result().map_err(AppError::Validation)?;
    let parsed = parsed.expect("validated");
    let sealed = seal(&app.secrets, &parsed);
    let mut tx = app.store.begin().await?;
    let unit = match &link {
        Some((room, _)) => Some(org::unit_by_room(&mut tx, community_id, room.as_str()).await?.ok_or_else(|| {
            AppError::field("room_no", ValidationError::new("unit.unknown").with("room_no", room.as_str()))
        })?),
        None => None,
    };
    let id = st::insert_person(&mut tx, community_id, parsed.name.as_str(), &sealed, &parsed.note, now).await?;
    if let Some(h) = &sealed.id_hash {
        claim_id(&mut tx, community.company_id, h, id).await?;
    }
    audit::record(app, &mut tx, actor, &authority, "person.created", "person", id, json!({
        "name": parsed.name.as_str(), "phone": sealed.phone_masked, "id_kind": sealed.id_kind, "id_number": sealed.id_masked,
        "employer": sealed.employer_masked, "address": sealed.address_masked,
    })).await?;
    if let (Some(unit), Some((_, rel))) = (unit, link) {
        let oid = st::insert_occupancy(&mut tx, community_id, unit.id, id, rel.as_str(), None, now).await?;
        audit::record(
            app,
            &mut tx,
            actor,
            &authority,
            "occupancy.created",
            "occupancy",
            oid,
            json!({"unit_id": unit.id, "room_no": unit.room_no, "person_id": id, "relation": rel.as_str()}),
        )
        .await?;
    }
    tx.commit().await?;
    st::person(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// Edit a person. Personal-data fields left empty keep their stored value (staff never
/// see the full value, so they cannot be asked to retype it); `clear_*` is not offered:
/// a wrong number is replaced, not erased.
pub async fn update_person(app: &App, actor: &Actor, id: i64, version: i64, p: &PersonInput) -> AppResult<st::Person> {
    let before = st::person(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let authority = actor.authorize(Permission::ManageResidents, before.community_id).map_err(|e| {
        if actor.authorize(Permission::ViewCommunity, before.community_id).is_ok() { e } else { AppError::NotFound }
    })?;
    let now = app.clock.now();
    let community = org::community(app.store.read(), before.community_id).await?.ok_or(AppError::NotFound)?;
    let zone = app.store.community_zone(before.community_id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::default();
    let parsed = parse_person(p, today_in(zone, now), &mut errors);
    errors.into_result().map_err(AppError::Validation)?;
    let parsed = parsed.expect("validated");
    let fresh = seal(&app.secrets, &parsed);
    let mut tx = app.store.begin().await?;
    let old = st::sealed(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let mut merged = old.clone();
    let mut changed = serde_json::Map::new();
    if parsed.phone.is_some() && fresh.phone_hash != old.phone_hash {
        changed.insert("phone".into(), json!([old.phone_masked, fresh.phone_masked]));
        merged.phone_enc = fresh.phone_enc;
        merged.phone_hash = fresh.phone_hash;
        merged.phone_last4 = fresh.phone_last4;
        merged.phone_masked = fresh.phone_masked;
    }
    if parsed.id.is_some() && fresh.id_hash != old.id_hash {
        if let Some(h) = &fresh.id_hash {
            claim_id(&mut tx, community.company_id, h, id).await?;
        }
        changed.insert("id_number".into(), json!([old.id_masked, fresh.id_masked]));
        merged.id_kind = fresh.id_kind;
        merged.id_enc = fresh.id_enc;
        merged.id_hash = fresh.id_hash;
        merged.id_masked = fresh.id_masked;
    }
    if !parsed.employer.is_empty() {
        changed.insert("employer".into(), json!([old.employer_masked, fresh.employer_masked]));
        merged.employer_enc = fresh.employer_enc;
        merged.employer_masked = fresh.employer_masked;
    }
    if !parsed.address.is_empty() {
        changed.insert("address".into(), json!([old.address_masked, fresh.address_masked]));
        merged.address_enc = fresh.address_enc;
        merged.address_masked = fresh.address_masked;
    }
    if before.name != parsed.name.as_str() {
        changed.insert("name".into(), json!([before.name, parsed.name.as_str()]));
    }
    if before.note != parsed.note {
        changed.insert("note".into(), json!([before.note, parsed.note]));
    }
    if before.active != i64::from(p.active) {
        changed.insert("active".into(), json!([before.active, i64::from(p.active)]));
    }
    if !st::update_person(&mut tx, id, version, parsed.name.as_str(), &merged, &parsed.note, p.active, now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    audit::record(app, &mut tx, actor, &authority, "person.updated", "person", id, serde_json::Value::Object(changed))
        .await?;
    tx.commit().await?;
    st::person(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn person(app: &App, actor: &Actor, id: i64) -> AppResult<(st::Person, Vec<st::Occupancy>)> {
    let p = st::person(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(p.community_id)?;
    let occ = st::occupancies_of_person(app.store.read(), id).await?;
    Ok((p, occ))
}

/// Find people the way the desk asks: a full phone number, an ID number, the last four
/// digits of a phone, or a name. Exact numbers are matched by keyed hash, never by
/// decrypting the table.
pub async fn search(
    app: &App,
    actor: &Actor,
    community_id: i64,
    q: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<st::Person>> {
    actor.sees(community_id)?;
    let q = q.trim();
    let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
    let query = if q.is_empty() {
        st::PersonQuery::All
    } else if digits.len() == 4 && q.len() == 4 {
        st::PersonQuery::PhoneLast4(digits)
    } else if let Ok(phone) = Phone::parse(q) {
        st::PersonQuery::PhoneHash(app.secrets.lookup_hash("phone", phone.as_str()))
    } else if q.len() >= 15 && q.chars().all(|c| c.is_ascii_alphanumeric()) {
        st::PersonQuery::IdHash(app.secrets.lookup_hash("id", &q.to_uppercase()))
    } else {
        st::PersonQuery::Name(q.to_string())
    };
    Ok(st::find_persons(app.store.read(), community_id, &query, limit.clamp(1, 200), offset.max(0)).await?)
}

pub async fn occupants(app: &App, actor: &Actor, unit_id: i64) -> AppResult<Vec<st::Occupancy>> {
    let u = org::unit(app.store.read(), unit_id).await?.ok_or(AppError::NotFound)?;
    actor.sees(u.community_id)?;
    Ok(st::occupancies_of_unit(app.store.read(), unit_id).await?)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct OccupancyInput {
    pub person_id: i64,
    /// `owner`, `tenant`, `family` or `agent`.
    pub relation: String,
    /// Since when (date, optional).
    #[serde(default)]
    pub since: String,
}

pub async fn add_occupancy(app: &App, actor: &Actor, unit_id: i64, o: &OccupancyInput) -> AppResult<st::Occupancy> {
    let u = org::unit(app.store.read(), unit_id).await?.ok_or(AppError::NotFound)?;
    let authority = actor.authorize(Permission::ManageResidents, u.community_id)?;
    let mut errors = FieldErrors::default();
    let rel = OccupantRelation::parse(&o.relation).map_err(|e| errors.push("relation", e)).ok();
    let since = if o.since.trim().is_empty() {
        None
    } else {
        CivilDate::parse(&o.since).map_err(|e| errors.push("since", e)).ok()
    };
    let person = st::person(app.store.read(), o.person_id).await?;
    if person.as_ref().is_none_or(|p| p.community_id != u.community_id) {
        errors.push("person_id", ValidationError::new("person.unknown"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let rel = rel.expect("validated");
    let since = since.map(|d| d.to_string());
    let mut tx = app.store.begin().await?;
    let id = match st::insert_occupancy(
        &mut tx,
        u.community_id,
        unit_id,
        o.person_id,
        rel.as_str(),
        since.as_deref(),
        app.clock.now(),
    )
    .await
    {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(AppError::Conflict { code: "occupancy_exists" });
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(app,&mut tx, actor, &authority, "occupancy.created", "occupancy", id, json!({"unit_id": unit_id, "room_no": u.room_no, "person_id": o.person_id, "relation": rel.as_str(), "since": since})).await?;
    tx.commit().await?;
    st::occupancy(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// End an occupancy (moved out, sold). Kept for history.
pub async fn end_occupancy(app: &App, actor: &Actor, id: i64, version: i64, until: &str) -> AppResult<st::Occupancy> {
    let o = st::occupancy(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let authority = actor.authorize(Permission::ManageResidents, o.community_id)?;
    let now = app.clock.now();
    let zone = app.store.community_zone(o.community_id).await?.ok_or(AppError::NotFound)?;
    let until = if until.trim().is_empty() {
        today_in(zone, now).to_string()
    } else {
        CivilDate::parse(until).map_err(|e| AppError::field("until", e))?.to_string()
    };
    let mut tx = app.store.begin().await?;
    if !st::end_occupancy(&mut tx, id, version, &until, now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "occupancy.ended",
        "occupancy",
        id,
        json!({"unit_id": o.unit_id, "person_id": o.person_id, "relation": o.relation, "until": until}),
    )
    .await?;
    tx.commit().await?;
    st::occupancy(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// Link a person to a unit given by its room number (the desk knows rooms, not ids).
pub async fn link_to_room(
    app: &App,
    actor: &Actor,
    person_id: i64,
    room_no: &str,
    relation: &str,
    since: &str,
) -> AppResult<st::Occupancy> {
    let p = st::person(app.store.read(), person_id).await?.ok_or(AppError::NotFound)?;
    actor.authorize(Permission::ManageResidents, p.community_id)?;
    let room = RoomNo::parse(room_no).map_err(|e| AppError::field("room_no", e))?;
    let mut conn = app.store.read().acquire().await?;
    let unit = org::unit_by_room(&mut conn, p.community_id, room.as_str()).await?.ok_or_else(|| {
        AppError::field("room_no", ValidationError::new("unit.unknown").with("room_no", room.as_str()))
    })?;
    drop(conn);
    add_occupancy(
        app,
        actor,
        unit.id,
        &OccupancyInput { person_id, relation: relation.to_string(), since: since.to_string() },
    )
    .await
}

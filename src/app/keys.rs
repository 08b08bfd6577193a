//! Key custody (钥匙管理, R-KEY-1 … R-KEY-8, R-MOV-6, R-DUTY-3): the inventory of key
//! sets in their cabinets, receipts, sign-outs and returns with both signatures, the
//! owner's authorisation and custody agreements, special rooms' approvals, the cabinet's
//! seal and its two-person opening at night, the daily blind count and the incidents it
//! opens, vacant units' inspections, and the key ledger. The books of a key set change
//! only through these steps, each decided by `huiqian_domain::keys` and audited.

use super::{Actor, App, AppError, AppResult, Authority, audit, auth, files, notify};
use crate::store::{self, auth as sa, keys as sk, org as so, people as sp, request as srq, sheet as st};
use huiqian_domain::Phone;
use huiqian_domain::auth::{Permission, Role};
use huiqian_domain::keys::cabinet::{self, CabinetState, CabinetStep, Witness};
use huiqian_domain::keys::count::{self, IncidentKind, IncidentState, Resolution};
use huiqian_domain::keys::{
    self as dk, AgreementTerms, Authorisation, Basis, KeyBook, KeyState, ReasonKind, Returned, SignOut, SpecialRoom,
    Taker, TakerKind,
};
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

const TEXT_MAX: usize = 500;
const HOUR: i64 = 3_600_000;
/// How long a special room's approval stays usable.
const APPROVAL_HOURS: i64 = 4;

fn refused(r: huiqian_domain::sheet::lifecycle::Refusal) -> AppError {
    AppError::rejected(r.0)
}

fn stale() -> AppError {
    AppError::Conflict { code: "stale_version" }
}

fn too_long(errors: &mut FieldErrors, field: &str, text: &str) {
    if text.chars().count() > TEXT_MAX {
        errors.push(field, ValidationError::new("text.too_long").with("max", TEXT_MAX));
    }
}

fn book_of(k: &sk::KeySet) -> AppResult<KeyBook> {
    let state = KeyState::parse(&k.state).map_err(|_| AppError::Internal(format!("key set {} state", k.id)))?;
    Ok(KeyBook { state, total: k.total, out: k.out_qty, open_loan: k.loan_id.is_some() })
}

async fn load_key(app: &App, actor: &Actor, id: i64) -> AppResult<sk::KeySet> {
    let k = sk::key_set(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(k.community_id)?;
    Ok(k)
}

async fn load_cabinet(app: &App, actor: &Actor, id: i64) -> AppResult<(sk::Cabinet, CabinetState)> {
    let c = sk::cabinet(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(c.community_id)?;
    let state = CabinetState::parse(&c.state).map_err(|_| AppError::Internal(format!("cabinet {id} state")))?;
    Ok((c, state))
}

/// A signature from a form, stored and linked (as an attachment of no sheet) in `tx`.
#[allow(clippy::too_many_arguments)]
async fn signature(
    app: &App,
    tx: &mut sqlx::AnyConnection,
    c: i64,
    field: &'static str,
    data: &str,
    signer: &str,
    typed: bool,
    by: i64,
) -> AppResult<i64> {
    let png = files::signature_png(data).map_err(|e| AppError::field(field, e))?;
    let f = files::store(app, field, &png, files::Purpose::Signature)?;
    let now = app.clock.now();
    Ok(sk::insert_file(tx, c, "signature", &f.sha256, f.size, f.mime, "signature.png", signer.trim(), typed, by, now)
        .await?)
}

/// Check a signature before any write, so that a missing one refuses the form at its field.
fn check_signature(errors: &mut FieldErrors, field: &str, data: &str) {
    if data.trim().is_empty() {
        errors.push(field, ValidationError::new("key.signature_required"));
    } else if let Err(e) = files::signature_png(data) {
        errors.push(field, e);
    }
}

// ---- the register ----

/// The key register of a community: where every key is (R-KEY-8), with what needs doing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KeyRegister)]
pub struct Register {
    pub keys: Vec<sk::KeySet>,
    pub total: i64,
    pub cabinets: Vec<sk::Cabinet>,
    pub open_incidents: i64,
    pub pending_approvals: i64,
    /// Cabinets not yet counted today (the community's day).
    pub uncounted: Vec<String>,
    pub overdue: i64,
}

pub async fn register(
    app: &App,
    actor: &Actor,
    c: i64,
    which: sk::Where,
    search: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Register> {
    actor.may_read(Permission::ViewKeys, c)?;
    // The register's six fixed-shape statements run on PostgreSQL's cached generic plans:
    // planning the page's joins cost more than running them (docs/benchmarks.md, "Key
    // custody").
    let pool = app.store.lists();
    let now = app.clock.now();
    let (keys, total) = sk::key_sets(pool, c, which, search.trim(), now, limit.clamp(1, 200), offset.max(0)).await?;
    let cabinets = sk::cabinets(pool, c).await?;
    let open_incidents = sk::incidents(pool, c, true, 500).await?.len() as i64;
    let pending_approvals = sk::approvals(pool, c, true).await?.len() as i64;
    let day = today(app, c).await?;
    let uncounted = sk::uncounted(pool, c, &day).await?.into_iter().map(|(_, n)| n).collect();
    let (_, overdue) = sk::key_sets(pool, c, sk::Where::Overdue, "", now, 1, 0).await?;
    Ok(Register { keys, total, cabinets, open_incidents, pending_approvals, uncounted, overdue })
}

/// The community's calendar day now, `YYYY-MM-DD`.
async fn today(app: &App, c: i64) -> AppResult<String> {
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let now = chrono::DateTime::from_timestamp_millis(app.clock.now()).unwrap_or_default().with_timezone(&zone);
    Ok(now.format("%Y-%m-%d").to_string())
}

/// A sign-out with its returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KeySignOutView)]
pub struct LoanView {
    #[serde(flatten)]
    pub loan: sk::Loan,
    pub returns: Vec<sk::Return>,
    /// Out beyond the expected return.
    pub overdue: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KeyAgreementView)]
pub struct AgreementView {
    #[serde(flatten)]
    pub agreement: sk::Agreement,
    pub people: Vec<sk::AgreementPerson>,
}

/// A key set, its books and its history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyDetail {
    pub key: sk::KeySet,
    pub on_hook: i64,
    pub receipts: Vec<sk::Receipt>,
    pub loans: Vec<LoanView>,
    pub agreements: Vec<AgreementView>,
    pub approvals: Vec<sk::Approval>,
    pub incidents: Vec<sk::Incident>,
    /// The unit's inspections, for a vacant unit's key (R-DUTY-3).
    pub inspections: Vec<sk::Inspection>,
}

pub async fn key_detail(app: &App, actor: &Actor, id: i64) -> AppResult<KeyDetail> {
    let key = load_key(app, actor, id).await?;
    actor.may_read(Permission::ViewKeys, key.community_id)?;
    let pool = app.store.read();
    let now = app.clock.now();
    let loans = sk::loans_of_key(pool, id, 50).await?;
    let ids: Vec<i64> = loans.iter().map(|l| l.id).collect();
    let mut returns = sk::returns(pool, &ids).await?;
    let loans = loans
        .into_iter()
        .map(|loan| {
            let (mine, rest): (Vec<_>, Vec<_>) = returns.drain(..).partition(|r| r.loan_id == loan.id);
            returns = rest;
            let overdue = loan.closed_at.is_none() && count::overdue(loan.due_at, now);
            LoanView { loan, returns: mine, overdue }
        })
        .collect();
    let agreements = sk::agreements(pool, id).await?;
    let aids: Vec<i64> = agreements.iter().map(|a| a.id).collect();
    let mut people = sk::agreement_people(pool, &aids).await?;
    let agreements = agreements
        .into_iter()
        .map(|agreement| {
            let (mine, rest): (Vec<_>, Vec<_>) = people.drain(..).partition(|p| p.agreement_id == agreement.id);
            people = rest;
            AgreementView { agreement, people: mine }
        })
        .collect();
    let inspections = match key.unit_id {
        Some(u) => sk::inspections(pool, u, 20).await?,
        None => vec![],
    };
    Ok(KeyDetail {
        on_hook: key.total - key.out_qty,
        receipts: sk::receipts(pool, id).await?,
        loans,
        agreements,
        approvals: sk::approvals_of_key(pool, id).await?,
        incidents: sk::incidents_of_key(pool, id).await?,
        inspections,
        key,
    })
}

// ---- inventory ----

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyCabinetInput)]
pub struct CabinetInput {
    pub name: String,
    #[serde(default)]
    pub location: String,
    /// The member of staff who keeps the cabinet's own key (R-KEY-2).
    pub keeper_id: Option<i64>,
}

pub async fn create_cabinet(app: &App, actor: &Actor, c: i64, input: &CabinetInput) -> AppResult<sk::Cabinet> {
    actor.sees(c)?;
    let authority = actor.authorize(Permission::ManageKeys, c)?;
    let mut errors = FieldErrors::default();
    let name = input.name.trim();
    if name.is_empty() {
        errors.push("name", ValidationError::required());
    }
    too_long(&mut errors, "name", name);
    too_long(&mut errors, "location", &input.location);
    if let Some(k) = input.keeper_id
        && !is_staff_of(app, k, c).await?
    {
        errors.push("keeper_id", ValidationError::new("key.staff_unknown"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let id = sk::insert_cabinet(&mut tx, c, name, input.location.trim(), input.keeper_id, actor.user_id(), now)
        .await?
        .ok_or_else(|| AppError::field("name", ValidationError::new("key.cabinet_name_taken")))?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "key_cabinet.created",
        "key_cabinet",
        id,
        json!({"name": name, "location": input.location.trim(), "keeper_id": input.keeper_id}),
    )
    .await?;
    tx.commit().await?;
    sk::cabinet(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

async fn is_staff_of(app: &App, user_id: i64, c: i64) -> AppResult<bool> {
    let mut conn = app.store.read().acquire().await?;
    let grants = sa::grants(&mut conn, user_id).await?;
    Ok(grants.iter().any(|g| g.community == Some(c)))
}

/// Keys delivered (R-KEY-1).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyReceiveInput)]
pub struct ReceiveInput {
    /// The key set's version (ignored when the key set is being created).
    #[serde(default)]
    pub version: i64,
    pub deliverer_name: String,
    pub deliverer_department: String,
    /// When the keys were delivered (epoch ms); now when absent.
    pub delivered_at: Option<i64>,
    pub quantity: i64,
    /// The deliverer's signature (`data:image/png;base64,…`).
    pub signature: String,
    #[serde(default)]
    pub signature_typed: bool,
    #[serde(default)]
    pub note: String,
}

fn check_receipt(errors: &mut FieldErrors, r: &ReceiveInput, now: i64) {
    for (field, text) in [("deliverer_name", &r.deliverer_name), ("deliverer_department", &r.deliverer_department)] {
        if text.trim().is_empty() {
            errors.push(field, ValidationError::required());
        }
        too_long(errors, field, text);
    }
    too_long(errors, "note", &r.note);
    if !(1..=dk::MAX_KEYS).contains(&r.quantity) {
        errors.push("quantity", ValidationError::new("key.quantity_range").with("max", dk::MAX_KEYS));
    }
    if r.delivered_at.is_some_and(|t| t > now + 5 * 60_000) {
        errors.push("delivered_at", ValidationError::new("key.in_future"));
    }
    check_signature(errors, "signature", &r.signature);
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct KeySetInput {
    pub cabinet_id: i64,
    /// The tag number on the key ring, unique in the community.
    pub tag: String,
    #[serde(default)]
    pub hook: String,
    /// The unit it opens (room number such as 3-2-1502), or empty for a room that is no unit.
    #[serde(default)]
    pub room_no: String,
    /// What it opens when it is no unit (2号楼天台, 地下配电房).
    #[serde(default)]
    pub room: String,
    /// Empty, or `plant`, `roof`, `power`, `gas`, `other` (R-KEY-6).
    #[serde(default)]
    pub special: String,
    /// `custody_agreement`, `vacant_unit` or `public_room`.
    pub basis: String,
    #[serde(default)]
    pub note: String,
    /// The first keys, delivered now.
    pub receipt: ReceiveInput,
}

/// A new key set on a hook, with its first receipt (R-KEY-1).
pub async fn create_key_set(app: &App, actor: &Actor, c: i64, input: &KeySetInput) -> AppResult<KeyDetail> {
    actor.sees(c)?;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let now = app.clock.now();
    let mut errors = FieldErrors::default();
    let tag = input.tag.trim();
    if tag.is_empty() {
        errors.push("tag", ValidationError::required());
    }
    too_long(&mut errors, "tag", tag);
    too_long(&mut errors, "hook", &input.hook);
    too_long(&mut errors, "note", &input.note);
    let cabinet = sk::cabinet(app.store.read(), input.cabinet_id).await?.filter(|x| x.community_id == c);
    if cabinet.is_none() {
        errors.push("cabinet_id", ValidationError::new("key.cabinet_unknown"));
    }
    let basis = Basis::parse(&input.basis).map_err(|e| errors.push("basis", e)).ok();
    let special = if input.special.trim().is_empty() {
        Some(String::new())
    } else {
        SpecialRoom::parse(&input.special).map(|s| s.as_str().to_string()).map_err(|e| errors.push("special", e)).ok()
    };
    let (unit_id, room) = if input.room_no.trim().is_empty() {
        if input.room.trim().is_empty() {
            errors.push("room", ValidationError::new("key.room_required"));
        }
        too_long(&mut errors, "room", &input.room);
        (None, input.room.trim().to_string())
    } else {
        let mut conn = app.store.read().acquire().await?;
        match huiqian_domain::RoomNo::parse(&input.room_no) {
            Ok(r) => match so::unit_by_room(&mut conn, c, r.as_str()).await? {
                Some(u) => (Some(u.id), u.room_no),
                None => {
                    errors.push("room_no", ValidationError::new("unit.unknown"));
                    (None, String::new())
                }
            },
            Err(e) => {
                errors.push("room_no", e);
                (None, String::new())
            }
        }
    };
    if basis.is_some_and(|b| b != Basis::PublicRoom) && unit_id.is_none() && !input.room_no.trim().is_empty() {
        // Reported above.
    } else if basis.is_some_and(|b| b != Basis::PublicRoom) && unit_id.is_none() {
        errors.push("room_no", ValidationError::new("key.unit_required"));
    }
    check_receipt(&mut errors, &input.receipt, now);
    errors.into_result().map_err(AppError::Validation)?;
    let (basis, special) = (basis.expect("checked"), special.expect("checked"));
    let book = KeyBook::empty().receive(input.receipt.quantity).map_err(refused)?;
    let r = &input.receipt;
    let mut tx = app.store.begin().await?;
    let new = sk::NewKeySet {
        community_id: c,
        cabinet_id: input.cabinet_id,
        tag,
        hook: input.hook.trim(),
        unit_id,
        room: &room,
        special: &special,
        basis: basis.as_str(),
        note: input.note.trim(),
    };
    let id = sk::insert_key_set(&mut tx, &new, actor.user_id(), now)
        .await?
        .ok_or_else(|| AppError::field("tag", ValidationError::new("key.tag_taken")))?;
    if !sk::set_books(&mut tx, id, 1, book.state.as_str(), book.total, book.out, now).await? {
        return Err(stale());
    }
    let receipt = write_receipt(app, &mut tx, actor, c, id, r).await?;
    audit::record(app, &mut tx, actor, &authority, "key_set.created", "key_set", id, json!({"tag": tag, "cabinet_id": input.cabinet_id, "hook": input.hook.trim(), "room": room, "unit_id": unit_id, "special": special, "basis": basis.as_str(), "receipt_id": receipt, "quantity": r.quantity, "deliverer": r.deliverer_name.trim(), "department": r.deliverer_department.trim(), "signature_typed": r.signature_typed})).await?;
    tx.commit().await?;
    key_detail(app, actor, id).await
}

async fn write_receipt(
    app: &App,
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    c: i64,
    id: i64,
    r: &ReceiveInput,
) -> AppResult<i64> {
    let now = app.clock.now();
    let sig =
        signature(app, tx, c, "signature", &r.signature, &r.deliverer_name, r.signature_typed, actor.user_id()).await?;
    let receipt = sk::NewReceipt {
        community_id: c,
        key_set_id: id,
        deliverer_name: r.deliverer_name.trim(),
        deliverer_department: r.deliverer_department.trim(),
        delivered_at: r.delivered_at.unwrap_or(now),
        quantity: r.quantity,
        signature_id: sig,
        note: r.note.trim(),
    };
    Ok(sk::insert_receipt(tx, &receipt, actor.user_id(), now).await?)
}

/// More keys of a key set delivered (R-KEY-1).
pub async fn receive(app: &App, actor: &Actor, id: i64, input: &ReceiveInput) -> AppResult<KeyDetail> {
    let k = load_key(app, actor, id).await?;
    let c = k.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let now = app.clock.now();
    let mut errors = FieldErrors::default();
    check_receipt(&mut errors, input, now);
    errors.into_result().map_err(AppError::Validation)?;
    let book = book_of(&k)?.receive(input.quantity).map_err(refused)?;
    let mut tx = app.store.begin().await?;
    if !sk::set_books(&mut tx, id, input.version, book.state.as_str(), book.total, book.out, now).await? {
        return Err(stale());
    }
    let receipt = write_receipt(app, &mut tx, actor, c, id, input).await?;
    audit::record(app, &mut tx, actor, &authority, "key_set.received", "key_set", id, json!({"tag": k.tag, "receipt_id": receipt, "quantity": input.quantity, "total": book.total, "deliverer": input.deliverer_name.trim(), "department": input.deliverer_department.trim(), "signature_typed": input.signature_typed})).await?;
    tx.commit().await?;
    key_detail(app, actor, id).await
}

// ---- custody agreements (R-MOV-6) ----

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyAgreementPersonInput)]
pub struct PersonInput {
    pub name: String,
    #[serde(default)]
    pub relation: String,
    #[serde(default)]
    pub phone: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyAgreementInput)]
pub struct AgreementInput {
    pub owner_name: String,
    /// Epoch ms.
    pub starts_at: i64,
    /// Epoch ms, after `starts_at`.
    pub ends_at: i64,
    /// The work staff may take the key for (`repair`, `inspection`, `renovation`, `emergency`, `other_work`).
    pub scope: Vec<String>,
    /// The people besides the owner the owner authorises to take the key.
    #[serde(default)]
    pub people: Vec<PersonInput>,
    /// The owner's signature.
    pub signature: String,
    #[serde(default)]
    pub signature_typed: bool,
}

/// The owner leaves the key under a custody agreement; a new agreement replaces one in force.
pub async fn add_agreement(app: &App, actor: &Actor, id: i64, input: &AgreementInput) -> AppResult<KeyDetail> {
    let k = load_key(app, actor, id).await?;
    let c = k.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let mut errors = FieldErrors::default();
    let owner = input.owner_name.trim();
    if owner.is_empty() {
        errors.push("owner_name", ValidationError::required());
    }
    too_long(&mut errors, "owner_name", owner);
    if input.ends_at <= input.starts_at {
        errors.push("ends_at", ValidationError::new("key.agreement_dates"));
    }
    let mut scope = vec![];
    for s in &input.scope {
        match ReasonKind::parse(s) {
            Ok(r) if !scope.contains(&r) => scope.push(r),
            Ok(_) => {}
            Err(e) => errors.push("scope", e),
        }
    }
    if scope.is_empty() {
        errors.push("scope", ValidationError::new("key.scope_required"));
    }
    let mut people = vec![];
    for (i, p) in input.people.iter().enumerate() {
        let field = format!("people.{i}");
        if p.name.trim().is_empty() {
            errors.push(&field, ValidationError::required());
            continue;
        }
        too_long(&mut errors, &field, &p.name);
        let phone = if p.phone.trim().is_empty() {
            None
        } else {
            match Phone::parse(&p.phone) {
                Ok(ph) => Some(ph),
                Err(e) => {
                    errors.push(&field, e);
                    None
                }
            }
        };
        people.push((p.name.trim().to_string(), p.relation.trim().to_string(), phone));
    }
    if k.unit_id.is_none() {
        errors.push("owner_name", ValidationError::new("key.agreement_needs_unit"));
    }
    check_signature(&mut errors, "signature", &input.signature);
    errors.into_result().map_err(AppError::Validation)?;
    let now = app.clock.now();
    let scope_text = scope.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let mut tx = app.store.begin().await?;
    let ended = sk::end_agreements(&mut tx, id, actor.user_id(), now).await?;
    let sig = signature(app, &mut tx, c, "signature", &input.signature, owner, input.signature_typed, actor.user_id())
        .await?;
    let new = sk::NewAgreement {
        community_id: c,
        key_set_id: id,
        owner_name: owner,
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        scope: &scope_text,
        signature_id: sig,
    };
    let aid = sk::insert_agreement(&mut tx, &new, actor.user_id(), now).await?;
    let mut names = vec![];
    for (name, relation, phone) in &people {
        let enc = phone.as_ref().map(|p| app.secrets.encrypt(p.as_str()));
        let masked = phone.as_ref().map(Phone::masked).unwrap_or_default();
        sk::insert_agreement_person(&mut tx, aid, name, relation, enc.as_deref(), &masked).await?;
        names.push(json!({"name": name, "relation": relation, "phone": masked}));
    }
    audit::record(app, &mut tx, actor, &authority, "key_agreement.signed", "key_set", id, json!({"tag": k.tag, "agreement_id": aid, "owner": owner, "starts_at": input.starts_at, "ends_at": input.ends_at, "scope": scope_text, "people": names, "replaced": ended, "signature_typed": input.signature_typed})).await?;
    tx.commit().await?;
    key_detail(app, actor, id).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyReleaseInput)]
pub struct ReleaseInput {
    /// The key set's version.
    pub version: i64,
    /// The owner (or the person the owner sent, named in the agreement) taking the keys.
    pub receiver_name: String,
    pub signature: String,
    #[serde(default)]
    pub signature_typed: bool,
}

/// The owner takes the keys back (the renovation is over, the unit is sold or let): every
/// key must be on its hook; the agreements in force end; the receiver signs for them.
pub async fn release(app: &App, actor: &Actor, id: i64, input: &ReleaseInput) -> AppResult<KeyDetail> {
    let k = load_key(app, actor, id).await?;
    let c = k.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let mut errors = FieldErrors::default();
    let receiver = input.receiver_name.trim();
    if receiver.is_empty() {
        errors.push("receiver_name", ValidationError::required());
    }
    too_long(&mut errors, "receiver_name", receiver);
    check_signature(&mut errors, "signature", &input.signature);
    errors.into_result().map_err(AppError::Validation)?;
    if k.basis == Basis::PublicRoom.as_str() {
        return Err(AppError::rejected("key.public_room_stays"));
    }
    let owner = is_owner(app, &k, receiver).await?;
    let named = match sk::active_agreement(app.store.read(), id).await? {
        Some(a) => sk::agreement_people(app.store.read(), &[a.id]).await?.iter().any(|p| p.name == receiver),
        None => false,
    };
    if !owner && !named {
        return Err(AppError::field("receiver_name", ValidationError::new("key.not_the_owner")));
    }
    let handed = k.total;
    let book = book_of(&k)?.release().map_err(refused)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !sk::set_books(&mut tx, id, input.version, book.state.as_str(), book.total, book.out, now).await? {
        return Err(stale());
    }
    let ended = sk::end_agreements(&mut tx, id, actor.user_id(), now).await?;
    let sig =
        signature(app, &mut tx, c, "signature", &input.signature, receiver, input.signature_typed, actor.user_id())
            .await?;
    audit::record(app, &mut tx, actor, &authority, "key_set.released", "key_set", id, json!({"tag": k.tag, "receiver": receiver, "quantity": handed, "agreements_ended": ended, "signature_id": sig, "signature_typed": input.signature_typed})).await?;
    tx.commit().await?;
    key_detail(app, actor, id).await
}

// ---- special rooms: approval (R-KEY-6) ----

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyApprovalRequest)]
pub struct ApprovalRequest {
    pub reason: String,
    /// The sheet the key is for, by number (KF-2026-000123), when there is one.
    #[serde(default)]
    pub sheet_number: String,
}

async fn sheet_of(app: &App, c: i64, number: &str) -> AppResult<Option<(i64, String)>> {
    let number = number.trim();
    if number.is_empty() {
        return Ok(None);
    }
    let mut conn = app.store.read().acquire().await?;
    match sk::sheet_by_number(&mut conn, c, &number.to_uppercase()).await? {
        Some(s) => Ok(Some(s)),
        None => Err(AppError::field("sheet_number", ValidationError::new("key.sheet_unknown"))),
    }
}

/// Ask a department manager to let a special room's key leave.
pub async fn request_approval(app: &App, actor: &Actor, id: i64, input: &ApprovalRequest) -> AppResult<sk::Approval> {
    let k = load_key(app, actor, id).await?;
    let c = k.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    if k.special.is_empty() {
        return Err(AppError::rejected("key.not_special"));
    }
    let mut errors = FieldErrors::default();
    if input.reason.trim().is_empty() {
        errors.push("reason", ValidationError::required());
    }
    too_long(&mut errors, "reason", &input.reason);
    errors.into_result().map_err(AppError::Validation)?;
    let sheet = sheet_of(app, c, &input.sheet_number).await?;
    let now = app.clock.now();
    let approvers = approvers(app, c).await?;
    let mut tx = app.store.begin().await?;
    let aid =
        sk::insert_approval(&mut tx, c, id, input.reason.trim(), sheet.as_ref().map(|s| s.0), actor.user_id(), now)
            .await?;
    for u in approvers.iter().filter(|u| u.id != actor.user_id()) {
        let dedupe = format!("key_approval:{aid}:{}", u.id);
        notify::send_about(
            app,
            &mut tx,
            u,
            c,
            sheet.as_ref().map(|s| s.0),
            &k.tag,
            None,
            "key_approval_requested",
            &dedupe,
        )
        .await?;
    }
    audit::record(app, &mut tx, actor, &authority, "key_approval.requested", "key_approval", aid, json!({"tag": k.tag, "key_set_id": id, "reason": input.reason.trim(), "sheet": sheet.as_ref().map(|s| s.1.clone())})).await?;
    tx.commit().await?;
    sk::approval(app.store.read(), aid).await?.ok_or(AppError::NotFound)
}

/// The managers who may approve: the customer-service manager and the director, and the
/// heads of the community's departments.
async fn approvers(app: &App, c: i64) -> AppResult<Vec<sa::User>> {
    let mut conn = app.store.read().acquire().await?;
    let mut ids = srq::users_with_roles(&mut conn, c, &["cs_manager", "centre_director"]).await?;
    ids.extend(sk::department_heads(&mut conn, c).await?);
    ids.sort_unstable();
    ids.dedup();
    let mut users = vec![];
    for id in ids {
        if let Some(u) = sa::user(&mut *conn, id).await?.filter(|u| u.active == 1) {
            users.push(u);
        }
    }
    Ok(users)
}

/// May this actor approve in this community, and on which authority?
async fn approving_authority(app: &App, actor: &Actor, c: i64) -> AppResult<Authority> {
    if let Ok(a) = actor.authorize(Permission::ApproveKeys, c) {
        return Ok(a);
    }
    let mut conn = app.store.read().acquire().await?;
    let heads = st::memberships(&mut conn, actor.user_id(), c).await?.iter().any(|(_, head)| *head);
    drop(conn);
    if !heads {
        return Err(AppError::Forbidden);
    }
    actor.any_role(c)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyApprovalDecision)]
pub struct ApprovalDecision {
    pub version: i64,
    pub approve: bool,
    #[serde(default)]
    pub note: String,
}

/// A department manager approves (or refuses) a special room's sign-out; never his own.
pub async fn decide_approval(app: &App, actor: &Actor, id: i64, input: &ApprovalDecision) -> AppResult<sk::Approval> {
    let a = sk::approval(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(a.community_id)?;
    let c = a.community_id;
    let authority = approving_authority(app, actor, c).await?;
    dk::check_approval(a.requested_by, actor.user_id(), true).map_err(refused)?;
    if a.state != "pending" {
        return Err(AppError::rejected("key.approval_decided"));
    }
    if input.note.chars().count() > TEXT_MAX {
        return Err(AppError::field("note", ValidationError::new("text.too_long").with("max", TEXT_MAX)));
    }
    if !input.approve && input.note.trim().is_empty() {
        return Err(AppError::field("note", ValidationError::new("key.refusal_reason_required")));
    }
    let now = app.clock.now();
    let (state, expires) =
        if input.approve { ("approved", Some(now + APPROVAL_HOURS * HOUR)) } else { ("refused", None) };
    let requester = sa::user(app.store.read(), a.requested_by).await?;
    let mut tx = app.store.begin().await?;
    if !sk::decide_approval(&mut tx, id, input.version, state, input.note.trim(), expires, actor.user_id(), now).await?
    {
        return Err(stale());
    }
    if let Some(u) = &requester {
        let kind = if input.approve { "key_approval_granted" } else { "key_approval_refused" };
        notify::send_about(app, &mut tx, u, c, a.sheet_id, &a.tag, expires, kind, &format!("{kind}:{id}")).await?;
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "key_approval.decided",
        "key_approval",
        id,
        json!({"tag": a.tag, "decision": state, "note": input.note.trim(), "expires_at": expires}),
    )
    .await?;
    tx.commit().await?;
    sk::approval(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

pub async fn approvals(app: &App, actor: &Actor, c: i64, pending_only: bool) -> AppResult<Vec<sk::Approval>> {
    actor.may_read(Permission::ViewKeys, c)?;
    Ok(sk::approvals(app.store.read(), c, pending_only).await?)
}

// ---- sign-out and return (R-KEY-3 … R-KEY-6) ----

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeySignOutInput)]
pub struct SignOutInput {
    /// The key set's version.
    pub version: i64,
    pub quantity: i64,
    /// `repair`, `inspection`, `renovation`, `emergency` or `other_work`.
    pub reason_kind: String,
    pub reason: String,
    /// The sheet the key is for (required for a repair), by number.
    #[serde(default)]
    pub sheet_number: String,
    /// Expected return (epoch ms).
    pub due_at: i64,
    /// `staff`, `owner` or `other`.
    pub taker_kind: String,
    /// For a member of staff.
    pub taker_user_id: Option<i64>,
    /// For the owner or someone else.
    #[serde(default)]
    pub taker_name: String,
    #[serde(default)]
    pub taker_phone: String,
    /// For someone else: `agreement`, `letter` or `recorded` (R-KEY-5).
    #[serde(default)]
    pub authorisation: String,
    /// With `agreement`: the person the agreement names.
    pub agreement_person_id: Option<i64>,
    /// With `letter`: the owner's letter, scanned (`data:application/pdf;base64,…` or an image).
    #[serde(default)]
    pub letter: String,
    /// With `recorded`: how the owner authorised it.
    #[serde(default)]
    pub authorisation_note: String,
    /// The owner's number the issuer called to confirm (R-KEY-5), kept masked.
    #[serde(default)]
    pub phone_confirmed_number: String,
    /// A special room's approval (R-KEY-6).
    pub approval_id: Option<i64>,
    /// The taker's signature.
    pub signature: String,
    #[serde(default)]
    pub signature_typed: bool,
}

/// What was found about a sign-out before its transaction.
struct Prepared {
    taker: Taker,
    taker_name: String,
    phone: Option<Phone>,
    sheet: Option<(i64, String)>,
    agreement: Option<sk::Agreement>,
    letter: Option<files::Stored>,
    called: Option<Phone>,
    authorisation: Option<Authorisation>,
    reason_kind: ReasonKind,
}

async fn prepare_sign_out(app: &App, k: &sk::KeySet, input: &SignOutInput) -> AppResult<(Prepared, SignOut)> {
    let c = k.community_id;
    let mut errors = FieldErrors::default();
    let reason_kind = ReasonKind::parse(&input.reason_kind).map_err(|e| errors.push("reason_kind", e)).ok();
    too_long(&mut errors, "reason", &input.reason);
    if input.reason.trim().is_empty() {
        errors.push("reason", ValidationError::required());
    }
    let taker_kind = TakerKind::parse(&input.taker_kind).map_err(|e| errors.push("taker_kind", e)).ok();
    let mut taker_name = input.taker_name.trim().to_string();
    too_long(&mut errors, "taker_name", &taker_name);
    let taker = match taker_kind {
        Some(TakerKind::Staff) => match input.taker_user_id {
            Some(u) if is_staff_of(app, u, c).await? => {
                taker_name = sa::user(app.store.read(), u).await?.map(|u| u.display_name).unwrap_or_default();
                Some(Taker::Staff(u))
            }
            _ => {
                errors.push("taker_user_id", ValidationError::new("key.staff_unknown"));
                None
            }
        },
        Some(kind) => {
            if taker_name.is_empty() {
                errors.push("taker_name", ValidationError::required());
            }
            if kind == TakerKind::Owner && !taker_name.is_empty() && !is_owner(app, k, &taker_name).await? {
                errors.push("taker_name", ValidationError::new("key.not_the_owner"));
            }
            Some(if kind == TakerKind::Owner { Taker::Owner } else { Taker::Other })
        }
        None => None,
    };
    let phone = if input.taker_phone.trim().is_empty() {
        None
    } else {
        Phone::parse(&input.taker_phone).map_err(|e| errors.push("taker_phone", e)).ok()
    };
    if matches!(taker, Some(Taker::Other)) && phone.is_none() && input.taker_phone.trim().is_empty() {
        errors.push("taker_phone", ValidationError::required());
    }
    let authorisation = if input.authorisation.trim().is_empty() {
        None
    } else {
        Authorisation::parse(&input.authorisation).map_err(|e| errors.push("authorisation", e)).ok()
    };
    too_long(&mut errors, "authorisation_note", &input.authorisation_note);
    if authorisation == Some(Authorisation::Recorded) && input.authorisation_note.trim().is_empty() {
        errors.push("authorisation_note", ValidationError::new("key.authorisation_note_required"));
    }
    let letter = if input.letter.trim().is_empty() {
        None
    } else {
        match files::data_url(&input.letter) {
            Ok(bytes) => match files::store(app, "letter", &bytes, files::Purpose::Document) {
                Ok(f) => Some(f),
                Err(AppError::Validation(e)) => {
                    for (f, e) in e.iter() {
                        errors.push(f, e.clone());
                    }
                    None
                }
                Err(e) => return Err(e),
            },
            Err(e) => {
                errors.push("letter", e);
                None
            }
        }
    };
    let called = if input.phone_confirmed_number.trim().is_empty() {
        None
    } else {
        Phone::parse(&input.phone_confirmed_number).map_err(|e| errors.push("phone_confirmed_number", e)).ok()
    };
    check_signature(&mut errors, "signature", &input.signature);
    let sheet = match sheet_of(app, c, &input.sheet_number).await {
        Ok(s) => s,
        Err(AppError::Validation(e)) => {
            for (f, e) in e.iter() {
                errors.push(f, e.clone());
            }
            None
        }
        Err(e) => return Err(e),
    };
    let agreement = sk::active_agreement(app.store.read(), k.id).await?;
    if let (Some(Authorisation::Agreement), Some(pid)) = (authorisation, input.agreement_person_id) {
        let named = match &agreement {
            Some(a) => sk::agreement_people(app.store.read(), &[a.id]).await?.iter().any(|p| p.id == pid),
            None => false,
        };
        if !named {
            errors.push("agreement_person_id", ValidationError::new("key.not_named_in_agreement"));
        }
    }
    errors.into_result().map_err(AppError::Validation)?;
    let (reason_kind, taker) = (reason_kind.expect("checked"), taker.expect("checked"));
    let basis = Basis::parse(&k.basis).map_err(|_| AppError::Internal(format!("key set {} basis", k.id)))?;
    let settings = sk::settings(app.store.read(), c).await?;
    let approved = match input.approval_id {
        Some(aid) => sk::approval(app.store.read(), aid).await?.is_some_and(|a| {
            a.key_set_id == k.id && a.state == "approved" && a.expires_at.is_none_or(|t| t > app.clock.now())
        }),
        None => false,
    };
    let terms = agreement.as_ref().map(|a| AgreementTerms {
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        scope: a.scope.split(',').filter_map(|s| ReasonKind::parse(s).ok()).collect(),
        names_taker: input.agreement_person_id.is_some(),
    });
    let decision = SignOut {
        quantity: input.quantity,
        reason_kind,
        reason: input.reason.trim().to_string(),
        sheet_linked: sheet.is_some(),
        due_at: input.due_at,
        taker,
        taker_signed: true,
        issuer: 0,
        basis,
        special: !k.special.is_empty(),
        approved,
        agreement: terms,
        authorisation,
        letter_attached: letter.is_some(),
        phone_confirmation_required: settings.phone_confirmation == 1,
        phone_confirmed: called.is_some(),
    };
    let prepared = Prepared { taker, taker_name, phone, sheet, agreement, letter, called, authorisation, reason_kind };
    Ok((prepared, decision))
}

/// Is `name` an owner of the key set's unit on record?
async fn is_owner(app: &App, k: &sk::KeySet, name: &str) -> AppResult<bool> {
    let Some(unit) = k.unit_id else { return Ok(false) };
    let owners = sp::occupancies_of_unit(app.store.read(), unit).await?;
    Ok(owners.iter().any(|o| o.active == 1 && o.relation == "owner" && o.person_name.trim() == name))
}

/// Sign keys out for work: the taker signs, the issuer (the actor) confirms (R-KEY-3).
pub async fn sign_out(app: &App, actor: &Actor, id: i64, input: &SignOutInput) -> AppResult<KeyDetail> {
    let k = load_key(app, actor, id).await?;
    let c = k.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let (p, mut decision) = prepare_sign_out(app, &k, input).await?;
    decision.issuer = actor.user_id();
    let now = app.clock.now();
    let (cabinet, cabinet_state) = load_cabinet(app, actor, k.cabinet_id).await?;
    let book = book_of(&k)?.sign_out(&decision, cabinet_state, now).map_err(refused)?;
    let mut tx = app.store.begin().await?;
    if !sk::set_books(&mut tx, id, input.version, book.state.as_str(), book.total, book.out, now).await? {
        return Err(stale());
    }
    if let Some(aid) = input.approval_id.filter(|_| decision.special)
        && !sk::use_approval(&mut tx, aid, now).await?
    {
        return Err(AppError::rejected("key.approval_required"));
    }
    let sig = signature(
        app,
        &mut tx,
        c,
        "signature",
        &input.signature,
        &p.taker_name,
        input.signature_typed,
        actor.user_id(),
    )
    .await?;
    let letter_id = match &p.letter {
        Some(f) => Some(
            sk::insert_file(
                &mut tx,
                c,
                "file",
                &f.sha256,
                f.size,
                f.mime,
                "authorisation",
                "",
                false,
                actor.user_id(),
                now,
            )
            .await?,
        ),
        None => None,
    };
    let enc = p.phone.as_ref().map(|ph| app.secrets.encrypt(ph.as_str()));
    let masked = p.phone.as_ref().map(Phone::masked).unwrap_or_default();
    let called = p.called.as_ref().map(Phone::masked).unwrap_or_default();
    let (kind, user) = match p.taker {
        Taker::Staff(u) => ("staff", Some(u)),
        Taker::Owner => ("owner", None),
        Taker::Other => ("other", None),
    };
    let authorisation = if kind == "other" { p.authorisation.map(|a| a.as_str()).unwrap_or("") } else { "" };
    let loan = sk::NewLoan {
        community_id: c,
        key_set_id: id,
        quantity: input.quantity,
        reason_kind: p.reason_kind.as_str(),
        reason: input.reason.trim(),
        sheet_id: p.sheet.as_ref().map(|s| s.0),
        taker_kind: kind,
        taker_user_id: user,
        taker_name: &p.taker_name,
        taker_phone_enc: enc.as_deref(),
        taker_phone_masked: &masked,
        authorisation,
        agreement_id: p.agreement.as_ref().map(|a| a.id),
        agreement_person_id: input.agreement_person_id.filter(|_| authorisation == "agreement"),
        letter_id,
        authorisation_note: input.authorisation_note.trim(),
        phone_confirmed_by: p.called.as_ref().map(|_| actor.user_id()),
        phone_confirmed_at: p.called.as_ref().map(|_| now),
        phone_confirmed_number: &called,
        approval_id: input.approval_id.filter(|_| decision.special),
        taker_signature_id: sig,
        due_at: input.due_at,
    };
    let loan_id = sk::insert_loan(&mut tx, &loan, actor.user_id(), now)
        .await?
        .ok_or(AppError::Conflict { code: "key.already_out" })?;
    audit::record(app, &mut tx, actor, &authority, "key.signed_out", "key_set", id, json!({"tag": k.tag, "loan_id": loan_id, "cabinet": cabinet.name, "quantity": input.quantity, "reason_kind": p.reason_kind.as_str(), "reason": input.reason.trim(), "sheet": p.sheet.as_ref().map(|s| s.1.clone()), "due_at": input.due_at, "taker_kind": kind, "taker": p.taker_name, "taker_phone": masked, "authorisation": authorisation, "phone_confirmed_number": called, "approval_id": loan.approval_id, "signature_typed": input.signature_typed})).await?;
    tx.commit().await?;
    tracing::info!(key_set = id, loan = loan_id, "key signed out");
    key_detail(app, actor, id).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyReturnInput)]
pub struct ReturnInput {
    /// The sign-out's version.
    pub version: i64,
    pub quantity: i64,
    /// Who brings the keys back: the taker, in person (R-KEY-4).
    pub returner_name: String,
    pub signature: String,
    #[serde(default)]
    pub signature_typed: bool,
    /// For a vacant unit's key back from an inspection: the condition found (`good` or
    /// `attention`) and a note, recorded as the unit's inspection (R-DUTY-3).
    #[serde(default)]
    pub condition: String,
    #[serde(default)]
    pub condition_note: String,
}

/// Keys back: the receiver (the actor) confirms; fewer than were taken leave the sign-out
/// open and flagged.
pub async fn take_back(app: &App, actor: &Actor, loan_id: i64, input: &ReturnInput) -> AppResult<KeyDetail> {
    let loan = sk::loan(app.store.read(), loan_id).await?.ok_or(AppError::NotFound)?;
    actor.sees(loan.community_id)?;
    let c = loan.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let k = load_key(app, actor, loan.key_set_id).await?;
    let mut errors = FieldErrors::default();
    let returner = input.returner_name.trim();
    if returner.is_empty() {
        errors.push("returner_name", ValidationError::required());
    }
    too_long(&mut errors, "returner_name", returner);
    check_signature(&mut errors, "signature", &input.signature);
    let condition = match input.condition.trim() {
        "" => None,
        c @ ("good" | "attention") => Some(c),
        _ => {
            errors.push("condition", ValidationError::new("key.condition_unknown"));
            None
        }
    };
    too_long(&mut errors, "condition_note", &input.condition_note);
    if condition == Some("attention") && input.condition_note.trim().is_empty() {
        errors.push("condition_note", ValidationError::new("key.condition_note_required"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    if loan.closed_at.is_some() {
        return Err(AppError::rejected("key.not_out"));
    }
    let in_person = returner == loan.taker_name.trim();
    let (book, returned) = book_of(&k)?.take_back(input.quantity, in_person, true).map_err(refused)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !sk::settle_loan(&mut tx, loan_id, input.version, input.quantity, 0, now).await? {
        return Err(stale());
    }
    if !sk::set_books(&mut tx, k.id, k.version, book.state.as_str(), book.total, book.out, now).await? {
        return Err(stale());
    }
    let sig =
        signature(app, &mut tx, c, "signature", &input.signature, returner, input.signature_typed, actor.user_id())
            .await?;
    let rid = sk::insert_return(&mut tx, c, loan_id, input.quantity, returner, sig, actor.user_id(), now).await?;
    if let (Some(cond), Some(unit)) = (condition, k.unit_id) {
        sk::insert_inspection(&mut tx, c, unit, cond, input.condition_note.trim(), Some(loan_id), actor.user_id(), now)
            .await?;
    }
    let still_out = match returned {
        Returned::All => 0,
        Returned::Partly { still_out } => still_out,
    };
    audit::record(app, &mut tx, actor, &authority, "key.returned", "key_set", k.id, json!({"tag": k.tag, "loan_id": loan_id, "return_id": rid, "quantity": input.quantity, "still_out": still_out, "returner": returner, "condition": condition, "signature_typed": input.signature_typed})).await?;
    tx.commit().await?;
    key_detail(app, actor, k.id).await
}

// ---- the cabinet after hours (R-KEY-7) ----

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeySealInput)]
pub struct SealInput {
    pub version: i64,
    pub seal_no: String,
}

pub async fn seal(app: &App, actor: &Actor, id: i64, input: &SealInput) -> AppResult<sk::Cabinet> {
    let (cab, state) = load_cabinet(app, actor, id).await?;
    let c = cab.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    if input.seal_no.chars().count() > 40 {
        return Err(AppError::field("seal_no", ValidationError::new("text.too_long").with("max", 40)));
    }
    let step = CabinetStep::Seal { seal_no: input.seal_no.trim().to_string() };
    let (next, _) = cabinet::step(state, Some(&cab.seal_no), &step).map_err(refused)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !sk::set_cabinet_state(&mut tx, id, input.version, next.as_str(), input.seal_no.trim(), now).await? {
        return Err(stale());
    }
    let entry = sk::LogEntry {
        community_id: c,
        cabinet_id: id,
        step: "sealed",
        seal_no: input.seal_no.trim(),
        seal_intact: None,
        first_user: actor.user_id(),
        second_user: None,
        reason: "",
        at: now,
    };
    sk::insert_log(&mut tx, &entry).await?;
    audit::record(app, &mut tx, actor, &authority, "key_cabinet.sealed", "key_cabinet", id, json!({"name": cab.name, "seal_no": input.seal_no.trim(), "after_night_opening": state == CabinetState::NightOpen})).await?;
    tx.commit().await?;
    sk::cabinet(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyNightOpeningInput)]
pub struct NightOpeningInput {
    pub version: i64,
    pub reason: String,
    /// The two people opening together, each with their own credentials.
    pub first_username: String,
    pub first_password: String,
    #[serde(default)]
    pub first_code: String,
    pub second_username: String,
    pub second_password: String,
    #[serde(default)]
    pub second_code: String,
}

/// Open the sealed cabinet at night for an emergency: the senior member of the department
/// on duty and the senior security officer on duty, together, each confirming with their
/// own credentials (one person cannot confirm twice).
pub async fn open_at_night(app: &App, actor: &Actor, id: i64, input: &NightOpeningInput) -> AppResult<sk::Cabinet> {
    let (cab, state) = load_cabinet(app, actor, id).await?;
    let c = cab.community_id;
    let authority = actor.authorize(Permission::ViewKeys, c)?;
    if state != CabinetState::Sealed {
        return Err(AppError::rejected("key.cabinet_not_sealed"));
    }
    if input.reason.trim().is_empty() {
        return Err(AppError::field("reason", ValidationError::required()));
    }
    if input.first_username.trim().eq_ignore_ascii_case(input.second_username.trim()) {
        return Err(AppError::rejected("key.two_people"));
    }
    let first =
        auth::confirm_in_person(app, "first_password", &input.first_username, &input.first_password, &input.first_code)
            .await?;
    let second = auth::confirm_in_person(
        app,
        "second_password",
        &input.second_username,
        &input.second_password,
        &input.second_code,
    )
    .await?;
    let (w1, w2) = (witness(app, c, &first).await?, witness(app, c, &second).await?);
    let step = CabinetStep::OpenAtNight { first: w1, second: w2, reason: input.reason.trim().to_string() };
    let (next, _) = cabinet::step(state, Some(&cab.seal_no), &step).map_err(refused)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !sk::set_cabinet_state(&mut tx, id, input.version, next.as_str(), "", now).await? {
        return Err(stale());
    }
    let entry = sk::LogEntry {
        community_id: c,
        cabinet_id: id,
        step: "opened_at_night",
        seal_no: &cab.seal_no,
        seal_intact: None,
        first_user: first.id,
        second_user: Some(second.id),
        reason: input.reason.trim(),
        at: now,
    };
    sk::insert_log(&mut tx, &entry).await?;
    for u in srq::users_with_roles(&mut tx, c, &["cs_manager"]).await? {
        let dedupe = format!("key_night_opening:{id}:{now}:{u}");
        if let Some(user) = sa::user(&mut *tx, u).await? {
            notify::send_about(app, &mut tx, &user, c, None, &cab.name, None, "key_night_opening", &dedupe).await?;
        }
    }
    audit::record(app, &mut tx, actor, &authority, "key_cabinet.opened_at_night", "key_cabinet", id, json!({"name": cab.name, "seal_no": cab.seal_no, "reason": input.reason.trim(), "first": first.display_name, "second": second.display_name})).await?;
    tx.commit().await?;
    sk::cabinet(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// What a person confirming a night opening is in the community.
async fn witness(app: &App, c: i64, u: &sa::User) -> AppResult<Witness> {
    let mut conn = app.store.read().acquire().await?;
    let roles: Vec<Role> =
        sa::grants(&mut conn, u.id).await?.into_iter().filter(|g| g.community == Some(c)).map(|g| g.role).collect();
    Ok(Witness {
        user: u.id,
        security: roles.contains(&Role::SecurityOfficer),
        other_department: roles.iter().any(|r| *r != Role::SecurityOfficer && r.department_kind().is_some()),
    })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyMorningInput)]
pub struct MorningInput {
    pub version: i64,
    /// The seal number read on the cabinet.
    pub seal_seen: String,
    /// Was the seal whole?
    pub intact: bool,
}

/// Open the cabinet in the morning after checking its seal; a seal not as it was left
/// opens an incident.
pub async fn open_in_morning(app: &App, actor: &Actor, id: i64, input: &MorningInput) -> AppResult<sk::Cabinet> {
    let (cab, state) = load_cabinet(app, actor, id).await?;
    let c = cab.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let step = CabinetStep::OpenInMorning { seal_seen: input.seal_seen.trim().to_string(), intact: input.intact };
    let (next, incident) = cabinet::step(state, Some(&cab.seal_no), &step).map_err(refused)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !sk::set_cabinet_state(&mut tx, id, input.version, next.as_str(), "", now).await? {
        return Err(stale());
    }
    let entry = sk::LogEntry {
        community_id: c,
        cabinet_id: id,
        step: "opened_in_morning",
        seal_no: input.seal_seen.trim(),
        seal_intact: Some(input.intact),
        first_user: actor.user_id(),
        second_user: None,
        reason: "",
        at: now,
    };
    sk::insert_log(&mut tx, &entry).await?;
    let mut incident_id = None;
    if incident {
        let detail = format!("{} / {}", cab.seal_no, input.seal_seen.trim());
        let new = sk::NewIncident {
            community_id: c,
            cabinet_id: id,
            key_set_id: None,
            kind: IncidentKind::SealBroken.as_str(),
            count_id: None,
            loan_id: None,
            expected: None,
            counted: None,
            detail: &detail,
            opened_by: Some(actor.user_id()),
        };
        incident_id = sk::insert_incident(&mut tx, &new, now).await?;
        tell_managers(app, &mut tx, c, &cab.name, incident_id).await?;
    }
    audit::record(app, &mut tx, actor, &authority, "key_cabinet.opened_in_morning", "key_cabinet", id, json!({"name": cab.name, "seal_no": cab.seal_no, "seal_seen": input.seal_seen.trim(), "intact": input.intact, "incident_id": incident_id})).await?;
    tx.commit().await?;
    sk::cabinet(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

async fn tell_managers(app: &App, tx: &mut store::Tx, c: i64, what: &str, incident: Option<i64>) -> AppResult<()> {
    let Some(i) = incident else { return Ok(()) };
    for u in srq::users_with_roles(&mut *tx, c, &["cs_manager", "cs_supervisor"]).await? {
        if let Some(user) = sa::user(&mut **tx, u).await? {
            notify::send_about(app, tx, &user, c, None, what, None, "key_incident", &format!("key_incident:{i}:{u}"))
                .await?;
        }
    }
    Ok(())
}

/// The cabinet's log, newest first.
pub async fn cabinet_log(app: &App, actor: &Actor, id: i64) -> AppResult<(sk::Cabinet, Vec<sk::CabinetLog>)> {
    let (cab, _) = load_cabinet(app, actor, id).await?;
    actor.may_read(Permission::ViewKeys, cab.community_id)?;
    let log = sk::cabinet_log(app.store.read(), id, 60).await?;
    Ok((cab, log))
}

// ---- the daily count (R-KEY-8) ----

/// A line of the blind count's form: the key set, never what the books expect.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KeyCountLine)]
pub struct CountLine {
    pub key_set_id: i64,
    pub tag: String,
    pub hook: String,
    pub room: String,
}

pub async fn count_form(app: &App, actor: &Actor, cabinet_id: i64) -> AppResult<(sk::Cabinet, Vec<CountLine>)> {
    let (cab, _) = load_cabinet(app, actor, cabinet_id).await?;
    actor.may_read(Permission::HandleKeys, cab.community_id)?;
    let lines = sk::count_sheet(app.store.read(), cabinet_id)
        .await?
        .into_iter()
        .map(|(key_set_id, tag, hook, room, _)| CountLine { key_set_id, tag, hook, room })
        .collect();
    Ok((cab, lines))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyCountedLine)]
pub struct CountedLine {
    pub key_set_id: i64,
    pub counted: i64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyCountInput)]
pub struct CountInput {
    pub lines: Vec<CountedLine>,
}

/// What a count found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KeyCountResult)]
pub struct CountResult {
    pub count_id: i64,
    pub lines: i64,
    pub differences: i64,
    /// Incidents opened: one per difference, one per key out beyond its return.
    pub incidents: Vec<i64>,
}

/// Record a blind count: compared with the books, every difference and every key out
/// beyond its expected return opens an incident, reported to the managers.
pub async fn record_count(app: &App, actor: &Actor, cabinet_id: i64, input: &CountInput) -> AppResult<CountResult> {
    let (cab, _) = load_cabinet(app, actor, cabinet_id).await?;
    let c = cab.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let now = app.clock.now();
    let sheet = sk::count_sheet(app.store.read(), cabinet_id).await?;
    let expected: BTreeMap<i64, i64> = sheet.iter().map(|l| (l.0, l.4)).collect();
    let mut counted = BTreeMap::new();
    for l in &input.lines {
        if counted.insert(l.key_set_id, l.counted).is_some() {
            return Err(AppError::field("lines", ValidationError::new("key.count_twice")));
        }
    }
    let differences =
        count::compare(&expected, &counted).map_err(|r| AppError::field("lines", ValidationError::new(r.0)))?;
    let day = today(app, c).await?;
    let overdue: Vec<sk::Loan> = {
        let mut conn = app.store.read().acquire().await?;
        sk::overdue_without_incident(&mut conn, now, 500).await?.into_iter().filter(|l| l.community_id == c).collect()
    };
    let tags: BTreeMap<i64, String> = sheet.iter().map(|l| (l.0, l.1.clone())).collect();
    let mut tx = app.store.begin().await?;
    let lines: Vec<(i64, i64, i64)> = expected.iter().map(|(k, e)| (*k, *e, counted[k])).collect();
    let count_id = sk::insert_count(
        &mut tx,
        c,
        cabinet_id,
        &day,
        lines.len() as i64,
        differences.len() as i64,
        actor.user_id(),
        now,
    )
    .await?;
    sk::insert_count_lines(&mut tx, count_id, &lines).await?;
    let mut incidents = vec![];
    for d in &differences {
        let detail = tags.get(&d.key).cloned().unwrap_or_default();
        let new = sk::NewIncident {
            community_id: c,
            cabinet_id,
            key_set_id: Some(d.key),
            kind: IncidentKind::CountDifference.as_str(),
            count_id: Some(count_id),
            loan_id: None,
            expected: Some(d.expected),
            counted: Some(d.counted),
            detail: &detail,
            opened_by: Some(actor.user_id()),
        };
        if let Some(i) = sk::insert_incident(&mut tx, &new, now).await? {
            tell_managers(app, &mut tx, c, &detail, Some(i)).await?;
            incidents.push(i);
        }
    }
    for l in overdue.iter().filter(|l| tags.contains_key(&l.key_set_id)) {
        if let Some(i) = open_overdue(&mut tx, l, cabinet_id, Some(actor.user_id()), now).await? {
            tell_managers(app, &mut tx, c, &l.tag, Some(i)).await?;
            incidents.push(i);
        }
    }
    audit::record(app, &mut tx, actor, &authority, "key_count.recorded", "key_cabinet", cabinet_id, json!({"name": cab.name, "day": day, "count_id": count_id, "lines": lines.len(), "differences": differences.iter().map(|d| json!({"tag": tags.get(&d.key), "expected": d.expected, "counted": d.counted})).collect::<Vec<_>>(), "incidents": incidents})).await?;
    tx.commit().await?;
    Ok(CountResult { count_id, lines: lines.len() as i64, differences: differences.len() as i64, incidents })
}

async fn open_overdue(
    tx: &mut sqlx::AnyConnection,
    l: &sk::Loan,
    cabinet_id: i64,
    by: Option<i64>,
    now: i64,
) -> AppResult<Option<i64>> {
    let detail = format!("{} · {}", l.tag, l.taker_name);
    let new = sk::NewIncident {
        community_id: l.community_id,
        cabinet_id,
        key_set_id: Some(l.key_set_id),
        kind: IncidentKind::Overdue.as_str(),
        count_id: None,
        loan_id: Some(l.id),
        expected: None,
        counted: None,
        detail: &detail,
        opened_by: by,
    };
    Ok(sk::insert_incident(tx, &new, now).await?)
}

/// The scheduler: every key out beyond its expected return opens its incident once, and
/// the managers are told (R-KEY-8: reported, never hidden).
pub async fn tick_overdue(app: &App, now: i64) -> AppResult<usize> {
    let mut conn = app.store.read().acquire().await?;
    let due = sk::overdue_without_incident(&mut conn, now, 200).await?;
    drop(conn);
    if due.is_empty() {
        return Ok(0);
    }
    let mut opened = 0;
    let mut tx = app.store.begin().await?;
    for l in &due {
        let Some(k) = sk::key_set(&mut *tx, l.key_set_id).await? else { continue };
        if let Some(i) = open_overdue(&mut tx, l, k.cabinet_id, None, now).await? {
            tell_managers(app, &mut tx, l.community_id, &l.tag, Some(i)).await?;
            let what =
                json!({"tag": l.tag, "kind": "overdue", "loan_id": l.id, "due_at": l.due_at, "taker": l.taker_name});
            audit::record_system(
                app,
                &mut tx,
                now,
                Some(l.community_id),
                "key_incident.opened",
                "key_incident",
                i,
                what,
                "R-KEY-8",
            )
            .await?;
            opened += 1;
        }
    }
    tx.commit().await?;
    Ok(opened)
}

/// The scheduler: a cabinet not counted by the community's hour (R-KEY-8, "当日钥匙当日点清")
/// is brought to the desk and its supervisors once a day.
pub async fn tick_count_due(app: &App, now: i64) -> AppResult<usize> {
    let due = sk::cabinets_with_keys(app.store.read()).await?;
    let mut told = 0;
    let mut tx: Option<store::Tx> = None;
    for (cabinet, c, name) in due {
        let Some(zone) = app.store.community_zone(c).await? else { continue };
        let local = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().with_timezone(&zone);
        let settings = sk::settings(app.store.read(), c).await?;
        if i64::from(chrono::Timelike::hour(&local)) < settings.count_due_hour {
            continue;
        }
        let day = local.format("%Y-%m-%d").to_string();
        if sk::counted_on(app.store.read(), cabinet, &day).await? {
            continue;
        }
        if tx.is_none() {
            tx = Some(app.store.begin().await?);
        }
        let t = tx.as_mut().expect("begun above");
        for u in srq::users_with_roles(t, c, &["receptionist", "cs_supervisor"]).await? {
            if let Some(user) = sa::user(&mut **t, u).await? {
                let dedupe = format!("key_count_due:{cabinet}:{day}:{u}");
                told += usize::from(
                    notify::send_about(app, t, &user, c, None, &name, None, "key_count_due", &dedupe).await?,
                );
            }
        }
    }
    if let Some(t) = tx {
        t.commit().await?;
    }
    Ok(told)
}

// ---- incidents ----

pub async fn incidents(app: &App, actor: &Actor, c: i64, open_only: bool) -> AppResult<Vec<sk::Incident>> {
    actor.may_read(Permission::ViewKeys, c)?;
    Ok(sk::incidents(app.store.read(), c, open_only, 200).await?)
}

async fn load_incident(app: &App, actor: &Actor, id: i64) -> AppResult<(sk::Incident, IncidentState, IncidentKind)> {
    let i = sk::incident(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(i.community_id)?;
    let state = IncidentState::parse(&i.state).map_err(|_| AppError::Internal(format!("incident {id} state")))?;
    let kind = IncidentKind::parse(&i.kind).map_err(|_| AppError::Internal(format!("incident {id} kind")))?;
    Ok((i, state, kind))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyIncidentReport)]
pub struct ReportInput {
    pub version: i64,
    /// What is known, and to whom it was reported.
    pub report: String,
}

/// The desk reports an incident upward with what it knows.
pub async fn report_incident(app: &App, actor: &Actor, id: i64, input: &ReportInput) -> AppResult<sk::Incident> {
    let (i, state, _) = load_incident(app, actor, id).await?;
    let authority = actor.authorize(Permission::HandleKeys, i.community_id)?;
    if input.report.chars().count() > TEXT_MAX {
        return Err(AppError::field("report", ValidationError::new("text.too_long").with("max", TEXT_MAX)));
    }
    count::report(state, &input.report).map_err(refused)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !sk::report_incident(&mut tx, id, input.version, input.report.trim(), actor.user_id(), now).await? {
        return Err(stale());
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "key_incident.reported",
        "key_incident",
        id,
        json!({"tag": i.tag, "kind": i.kind, "report": input.report.trim()}),
    )
    .await?;
    tx.commit().await?;
    sk::incident(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeyIncidentResolution)]
pub struct ResolveInput {
    pub version: i64,
    /// `found`, `lost` or `explained`.
    pub resolution: String,
    pub note: String,
}

/// A manager resolves a reported incident. Confirmed lost, the keys leave the books (the
/// set is lost when none is left; a sign-out's missing keys end it); found, the books stand.
pub async fn resolve_incident(app: &App, actor: &Actor, id: i64, input: &ResolveInput) -> AppResult<sk::Incident> {
    let (i, state, kind) = load_incident(app, actor, id).await?;
    let c = i.community_id;
    let authority = actor.authorize(Permission::ManageKeys, c)?;
    let resolution = Resolution::parse(&input.resolution).map_err(|e| AppError::field("resolution", e))?;
    if input.note.chars().count() > TEXT_MAX {
        return Err(AppError::field("note", ValidationError::new("text.too_long").with("max", TEXT_MAX)));
    }
    let key = match i.key_set_id {
        Some(k) => Some(sk::key_set(app.store.read(), k).await?.ok_or(AppError::NotFound)?),
        None => None,
    };
    let loan = match i.loan_id {
        Some(l) => sk::loan(app.store.read(), l).await?,
        None => None,
    };
    let still_out = loan.as_ref().is_some_and(|l| l.closed_at.is_none());
    count::resolve(state, kind, resolution, &input.note, still_out).map_err(refused)?;
    // What leaves the books when the keys are confirmed lost.
    let (lost, from_loan) = match (resolution, kind) {
        (Resolution::Lost, IncidentKind::Overdue) => (
            loan.as_ref().filter(|l| l.closed_at.is_none()).map(|l| l.quantity - l.returned - l.lost).unwrap_or(0),
            true,
        ),
        (Resolution::Lost, IncidentKind::CountDifference) => {
            ((i.expected.unwrap_or(0) - i.counted.unwrap_or(0)).max(0), false)
        }
        _ => (0, false),
    };
    if resolution == Resolution::Lost && lost == 0 {
        return Err(AppError::rejected("key.nothing_missing"));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !sk::resolve_incident(
        &mut tx,
        id,
        input.version,
        resolution.as_str(),
        input.note.trim(),
        lost,
        actor.user_id(),
        now,
    )
    .await?
    {
        return Err(stale());
    }
    if lost > 0
        && let Some(k) = &key
    {
        let book = book_of(k)?.lose(lost, from_loan).map_err(refused)?;
        if !sk::set_books(&mut tx, k.id, k.version, book.state.as_str(), book.total, book.out, now).await? {
            return Err(stale());
        }
        if let (true, Some(l)) = (from_loan, &loan)
            && !sk::settle_loan(&mut tx, l.id, l.version, 0, lost, now).await?
        {
            return Err(stale());
        }
    }
    audit::record(app, &mut tx, actor, &authority, "key_incident.resolved", "key_incident", id, json!({"tag": i.tag, "kind": i.kind, "resolution": resolution.as_str(), "note": input.note.trim(), "lost": lost})).await?;
    tx.commit().await?;
    sk::incident(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

// ---- the ledger, vacant units, settings ----

/// The key ledger (钥匙收发本) of a period, newest first.
pub async fn ledger(
    app: &App,
    actor: &Actor,
    c: i64,
    from: i64,
    to: i64,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<LoanView>> {
    actor.may_read(Permission::ViewKeys, c)?;
    let pool = app.store.read();
    let now = app.clock.now();
    let loans = sk::ledger(pool, c, from, to, limit.clamp(1, 5000), offset.max(0)).await?;
    let ids: Vec<i64> = loans.iter().map(|l| l.id).collect();
    let returns = sk::returns(pool, &ids).await?;
    let mut by_loan: BTreeMap<i64, Vec<sk::Return>> = BTreeMap::new();
    for r in returns {
        by_loan.entry(r.loan_id).or_default().push(r);
    }
    Ok(loans
        .into_iter()
        .map(|loan| {
            let overdue = loan.closed_at.is_none() && count::overdue(loan.due_at, now);
            LoanView { returns: by_loan.remove(&loan.id).unwrap_or_default(), loan, overdue }
        })
        .collect())
}

pub async fn vacant_units(app: &App, actor: &Actor, c: i64, limit: i64, offset: i64) -> AppResult<Vec<sk::VacantUnit>> {
    actor.may_read(Permission::ViewKeys, c)?;
    Ok(sk::vacant_units(app.store.read(), c, limit.clamp(1, 500), offset.max(0)).await?)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = UnitInspectionInput)]
pub struct InspectionInput {
    /// `good` or `attention`.
    pub condition: String,
    #[serde(default)]
    pub note: String,
}

/// A vacant unit's inspection (R-DUTY-3).
pub async fn record_inspection(
    app: &App,
    actor: &Actor,
    unit_id: i64,
    input: &InspectionInput,
) -> AppResult<sk::Inspection> {
    let unit = so::unit(app.store.read(), unit_id).await?.ok_or(AppError::NotFound)?;
    actor.sees(unit.community_id)?;
    let c = unit.community_id;
    let authority = actor.authorize(Permission::HandleKeys, c)?;
    let mut errors = FieldErrors::default();
    if !matches!(input.condition.as_str(), "good" | "attention") {
        errors.push("condition", ValidationError::new("key.condition_unknown"));
    }
    too_long(&mut errors, "note", &input.note);
    if input.condition == "attention" && input.note.trim().is_empty() {
        errors.push("note", ValidationError::new("key.condition_note_required"));
    }
    errors.into_result().map_err(AppError::Validation)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let id =
        sk::insert_inspection(&mut tx, c, unit_id, &input.condition, input.note.trim(), None, actor.user_id(), now)
            .await?;
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "unit.inspected",
        "unit",
        unit_id,
        json!({"room_no": unit.room_no, "condition": input.condition, "note": input.note.trim()}),
    )
    .await?;
    tx.commit().await?;
    let list = sk::inspections(app.store.read(), unit_id, 1).await?;
    list.into_iter().find(|i| i.id == id).ok_or(AppError::NotFound)
}

pub async fn settings(app: &App, actor: &Actor, c: i64) -> AppResult<sk::Settings> {
    actor.may_read(Permission::ViewKeys, c)?;
    Ok(sk::settings(app.store.read(), c).await?)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = KeySettingsInput)]
pub struct SettingsInput {
    pub version: i64,
    pub phone_confirmation: bool,
    pub count_due_hour: i64,
}

pub async fn save_settings(app: &App, actor: &Actor, c: i64, input: &SettingsInput) -> AppResult<sk::Settings> {
    actor.sees(c)?;
    let authority = actor.authorize(Permission::ManageKeys, c)?;
    if !(0..=23).contains(&input.count_due_hour) {
        return Err(AppError::field("count_due_hour", ValidationError::new("key.hour_range")));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !sk::save_settings(
        &mut tx,
        c,
        input.version,
        input.phone_confirmation,
        input.count_due_hour,
        actor.user_id(),
        now,
    )
    .await?
    {
        return Err(stale());
    }
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "key_settings.saved",
        "community",
        c,
        json!({"phone_confirmation": input.phone_confirmation, "count_due_hour": input.count_due_hour}),
    )
    .await?;
    tx.commit().await?;
    Ok(sk::settings(app.store.read(), c).await?)
}

/// R-KEY-3: a sheet cannot be archived while a key taken for it is still out.
pub(crate) async fn check_no_key_out(conn: &mut sqlx::AnyConnection, sheet_id: i64) -> AppResult<()> {
    match sk::key_out_for_sheet(conn, sheet_id).await? {
        Some(_) => Err(AppError::rejected("sheet.key_out")),
        None => Ok(()),
    }
}

/// The community of an incident, for the pages that go back to its list.
pub async fn incident_community(app: &App, actor: &Actor, id: i64) -> AppResult<i64> {
    Ok(load_incident(app, actor, id).await?.0.community_id)
}

/// The community of an approval.
pub async fn approval_community(app: &App, actor: &Actor, id: i64) -> AppResult<i64> {
    let a = sk::approval(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(a.community_id)?;
    Ok(a.community_id)
}

/// May the actor approve special rooms' sign-outs in the community (a page offers the
/// buttons only then)?
pub async fn may_approve(app: &App, actor: &Actor, c: i64) -> bool {
    approving_authority(app, actor, c).await.is_ok()
}

/// The keys taken for a sheet (its page shows them, and whether they are back), for those
/// who see the key register; nobody else is shown any.
pub async fn for_sheet(app: &App, actor: &Actor, c: i64, sheet_id: i64) -> AppResult<Vec<sk::Loan>> {
    if actor.may_read(Permission::ViewKeys, c).is_err() {
        return Ok(vec![]);
    }
    Ok(sk::loans_for_sheet(app.store.read(), sheet_id).await?)
}

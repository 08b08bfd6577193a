//! Key custody pages (R-KEY-1 … R-KEY-8, R-MOV-6, R-DUTY-3): where every key is, a key
//! set with its forms (receive, sign out, take back, ask approval, custody agreement) and
//! history, its printable tag label, the cabinets with their seal and openings, the blind
//! daily count, incidents, approvals, the key ledger with its export, vacant units and the
//! community's rules.

use super::requests::local_ms;
use super::sheets::communities;
use super::{Chrome, Form, OrPage, PageError, PageResult, page, render, see_other, when};
use crate::app::{AppError, keys as k};
use crate::store::keys as sk;
use crate::web::extract::Ctx;
use crate::web::{AppState, export};
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use huiqian_domain::auth::Permission;
use huiqian_domain::keys::cabinet::CabinetState;
use huiqian_domain::keys::count::{IncidentKind, IncidentState, Resolution};
use huiqian_domain::keys::{Authorisation, Basis, KeyState, ReasonKind, SpecialRoom, TakerKind};
use huiqian_domain::validation::ValidationError;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/keys", get(first_register))
        .route("/communities/{id}/keys", get(register).post(create))
        .route("/communities/{id}/keys/new", get(new_key))
        .route("/keys/{id}", get(show))
        .route("/keys/{id}/label", get(label))
        .route("/keys/{id}/receive", post(receive))
        .route("/keys/{id}/sign-out", post(sign_out))
        .route("/keys/{id}/approval", post(ask_approval))
        .route("/keys/{id}/agreement", post(agreement))
        .route("/keys/{id}/release", post(release))
        .route("/key-sign-outs/{id}/return", post(give_back))
        .route("/communities/{id}/key-cabinets", get(cabinets).post(create_cabinet))
        .route("/key-cabinets/{id}/seal", post(seal))
        .route("/key-cabinets/{id}/night-opening", post(night_opening))
        .route("/key-cabinets/{id}/morning-opening", post(morning_opening))
        .route("/key-cabinets/{id}/count", get(count_form).post(count))
        .route("/communities/{id}/key-incidents", get(incidents))
        .route("/key-incidents/{id}/report", post(report))
        .route("/key-incidents/{id}/resolve", post(resolve))
        .route("/communities/{id}/key-approvals", get(approvals))
        .route("/key-approvals/{id}/decide", post(decide))
        .route("/communities/{id}/key-ledger", get(ledger))
        .route("/communities/{id}/vacant-units", get(vacant))
        .route("/units/{id}/inspect", post(inspect))
        .route("/communities/{id}/key-settings", get(settings).post(save_settings))
}

fn label_of<L: super::Labelled>(c: &Chrome, parsed: Result<L, ValidationError>, code: &str) -> String {
    c.label_code(parsed.ok(), code)
}

/// The pages' tabs across the module, the current one marked.
pub struct Tab {
    pub href: String,
    pub title: String,
    pub current: bool,
    pub id: &'static str,
}

fn tabs(c: &Chrome, community: i64, current: &str, manage: bool) -> Vec<Tab> {
    let mut list = vec![
        ("keys", format!("/communities/{community}/keys"), "keys.register"),
        ("cabinets", format!("/communities/{community}/key-cabinets"), "keys.cabinets"),
        ("incidents", format!("/communities/{community}/key-incidents"), "keys.incidents"),
        ("approvals", format!("/communities/{community}/key-approvals"), "keys.approvals"),
        ("ledger", format!("/communities/{community}/key-ledger"), "keys.ledger"),
        ("vacant", format!("/communities/{community}/vacant-units"), "keys.vacant_units"),
    ];
    if manage {
        list.push(("settings", format!("/communities/{community}/key-settings"), "keys.settings"));
    }
    list.into_iter()
        .map(|(id, href, key)| Tab { href, title: c.t.get(key).to_string(), current: id == current, id: tab_id(id) })
        .collect()
}

/// An approval's state as people read it: one not used before its time has lapsed.
fn approval_state(c: &Chrome, a: &sk::Approval, now: i64) -> String {
    let lapsed = a.state == "approved" && a.expires_at.is_some_and(|t| t <= now);
    let state = if lapsed { "expired" } else { a.state.as_str() };
    c.t.get(&format!("keys.approval_{state}")).to_string()
}

fn tab_id(id: &str) -> &'static str {
    match id {
        "keys" => "tab-keys",
        "cabinets" => "tab-key-cabinets",
        "incidents" => "tab-key-incidents",
        "approvals" => "tab-key-approvals",
        "ledger" => "tab-key-ledger",
        "vacant" => "tab-vacant-units",
        _ => "tab-key-settings",
    }
}

/// The communities the reader sees keys in, for the switcher.
/// The same page in each of them: (link, name, whether it is this one).
async fn switcher(
    s: &AppState,
    ctx: &Ctx,
    current: i64,
    section: &str,
) -> Result<Vec<(String, String, bool)>, PageError> {
    let list = communities(s, ctx, Permission::ViewKeys).await?;
    if !list.iter().any(|x| x.id == current) {
        return Err(PageError(AppError::Forbidden, ctx.lang));
    }
    Ok(list.into_iter().map(|x| (format!("/communities/{}/{section}", x.id), x.name, x.id == current)).collect())
}

/// The menu's entry: the register of the reader's first community.
async fn first_register(State(s): State<AppState>, ctx: Ctx, q: Query<RegisterQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::ViewKeys).await?;
    let first = list.first().ok_or(PageError(AppError::Forbidden, ctx.lang))?.id;
    register(State(s), ctx, Path(first), q).await
}

// ---- where every key is ----

pub struct KeyRow {
    pub k: sk::KeySet,
    pub opens: String,
    pub special: String,
    pub basis: String,
    pub state: String,
    pub place: String,
    pub due: String,
    pub overdue: bool,
    pub unit_status: String,
}

fn key_row(c: &Chrome, tz: chrono_tz::Tz, k: sk::KeySet, now: i64) -> KeyRow {
    let special =
        if k.special.is_empty() { String::new() } else { label_of(c, SpecialRoom::parse(&k.special), &k.special) };
    KeyRow {
        opens: k.room.clone(),
        basis: label_of(c, Basis::parse(&k.basis), &k.basis),
        state: label_of(c, KeyState::parse(&k.state), &k.state),
        place: if k.hook.is_empty() { k.cabinet_name.clone() } else { format!("{} · {}", k.cabinet_name, k.hook) },
        due: k.loan_due_at.map(|t| when(t, tz)).unwrap_or_default(),
        overdue: k.loan_due_at.is_some_and(|t| t < now),
        unit_status: k
            .unit_status
            .as_deref()
            .map(|x| label_of(c, huiqian_domain::UnitStatus::parse(x), x))
            .unwrap_or_default(),
        special,
        k,
    }
}

#[derive(Deserialize, Default)]
struct RegisterQuery {
    r#where: Option<String>,
    q: Option<String>,
    offset: Option<i64>,
}

#[derive(Template)]
#[template(path = "keys/register.html")]
struct RegisterPage {
    c: Chrome,
    community_id: i64,
    communities: Vec<(String, String, bool)>,
    tabs: Vec<Tab>,
    filters: Vec<(String, String, bool)>,
    which: String,
    q: String,
    rows: Vec<KeyRow>,
    total: i64,
    next: Option<i64>,
    cabinets: Vec<(sk::Cabinet, String)>,
    uncounted: Vec<String>,
    open_incidents: i64,
    pending_approvals: i64,
    overdue: i64,
    can_handle: bool,
}

const PAGE: i64 = 50;

async fn register(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<RegisterQuery>,
) -> PageResult {
    let communities = switcher(&s, &ctx, id, "keys").await?;
    let which = match q.r#where.as_deref() {
        Some("out") => sk::Where::Out,
        Some("overdue") => sk::Where::Overdue,
        Some("vacant") => sk::Where::Vacant,
        _ => sk::Where::All,
    };
    let name = match which {
        sk::Where::All => "all",
        sk::Where::Out => "out",
        sk::Where::Overdue => "overdue",
        sk::Where::Vacant => "vacant",
    };
    let search = q.q.clone().unwrap_or_default();
    let offset = q.offset.unwrap_or(0).max(0);
    let r = k::register(&s.app, &ctx.actor, id, which, &search, PAGE, offset).await.page(ctx.lang)?;
    let tz = super::community_zone(&s, &ctx, id).await?;
    let c = Chrome::of(&ctx);
    let filters = [
        ("all", "keys.where_all"),
        ("out", "keys.where_out"),
        ("overdue", "keys.where_overdue"),
        ("vacant", "keys.where_vacant"),
    ]
    .into_iter()
    .map(|(v, key)| (v.to_string(), c.t.get(key).to_string(), v == name))
    .collect();
    let cabinets = r
        .cabinets
        .into_iter()
        .map(|x| {
            let state = label_of(&c, CabinetState::parse(&x.state), &x.state);
            (x, state)
        })
        .collect();
    let manage = ctx.actor.authorize(Permission::ManageKeys, id).is_ok();
    Ok(render(&RegisterPage {
        tabs: tabs(&c, id, "keys", manage),
        rows: r.keys.into_iter().map(|x| key_row(&c, tz, x, ctx.now)).collect(),
        next: (offset + PAGE < r.total).then_some(offset + PAGE),
        total: r.total,
        cabinets,
        uncounted: r.uncounted,
        open_incidents: r.open_incidents,
        pending_approvals: r.pending_approvals,
        overdue: r.overdue,
        can_handle: ctx.actor.authorize(Permission::HandleKeys, id).is_ok(),
        community_id: id,
        communities,
        filters,
        which: name.to_string(),
        q: search,
        c,
    }))
}

// ---- a new key set with its first receipt ----

#[derive(Template)]
#[template(path = "keys/new.html")]
struct NewPage {
    c: Chrome,
    community_id: i64,
    f: Form,
    cabinets: Vec<(String, String)>,
    specials: Vec<(String, String)>,
    bases: Vec<(String, String)>,
    now_local: String,
}

async fn new_view(s: &AppState, ctx: &Ctx, id: i64, mut f: Form, status: StatusCode) -> PageResult {
    ctx.actor.authorize(Permission::HandleKeys, id).page(ctx.lang)?;
    let r = k::register(&s.app, &ctx.actor, id, sk::Where::All, "", 1, 0).await.page(ctx.lang)?;
    let tz = super::community_zone(s, ctx, id).await?;
    let c = Chrome::of(ctx);
    if f.v("quantity").is_empty() {
        f.values.insert("quantity".into(), "1".into());
    }
    let specials = std::iter::once((String::new(), c.t.get("keys.not_special").to_string()))
        .chain(c.options(SpecialRoom::ALL))
        .collect();
    let bases = std::iter::once((String::new(), c.t.get("keys.choose_basis").to_string()))
        .chain(c.options(Basis::ALL))
        .collect();
    Ok(page(
        status,
        &NewPage {
            cabinets: r.cabinets.iter().map(|x| (x.id.to_string(), x.name.clone())).collect(),
            specials,
            bases,
            now_local: huiqian_domain::time::format_local_input(ctx.now, tz),
            community_id: id,
            f,
            c,
        },
    ))
}

async fn new_key(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    new_view(&s, &ctx, id, Form::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
struct NewForm {
    #[serde(default)]
    cabinet_id: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    hook: String,
    #[serde(default)]
    room_no: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    special: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    note: String,
    #[serde(flatten)]
    receipt: ReceiptForm,
}

#[derive(Deserialize, Default, Clone)]
struct ReceiptForm {
    #[serde(default)]
    version: i64,
    #[serde(default)]
    deliverer_name: String,
    #[serde(default)]
    deliverer_department: String,
    #[serde(default)]
    delivered_at: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    signature_typed: String,
    #[serde(default)]
    receipt_note: String,
}

impl ReceiptForm {
    fn values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("deliverer_name", self.deliverer_name.clone()),
            ("deliverer_department", self.deliverer_department.clone()),
            ("delivered_at", self.delivered_at.clone()),
            ("quantity", self.quantity.clone()),
            ("receipt_note", self.receipt_note.clone()),
        ]
    }

    fn input(&self, tz: chrono_tz::Tz) -> Result<k::ReceiveInput, AppError> {
        let delivered_at = if self.delivered_at.trim().is_empty() {
            None
        } else {
            Some(
                local_ms(&self.delivered_at, tz)
                    .ok_or_else(|| AppError::field("delivered_at", ValidationError::new("date.invalid")))?,
            )
        };
        Ok(k::ReceiveInput {
            version: self.version,
            deliverer_name: self.deliverer_name.clone(),
            deliverer_department: self.deliverer_department.clone(),
            delivered_at,
            quantity: quantity(&self.quantity)?,
            signature: self.signature.clone(),
            signature_typed: self.signature_typed == "1",
            note: self.receipt_note.clone(),
        })
    }
}

fn quantity(s: &str) -> Result<i64, AppError> {
    s.trim()
        .parse()
        .map_err(|_| AppError::field("quantity", ValidationError::new("key.quantity_range").with("max", 50)))
}

async fn create(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<NewForm>) -> PageResult {
    let mut values = vec![
        ("cabinet_id", f.cabinet_id.clone()),
        ("tag", f.tag.clone()),
        ("hook", f.hook.clone()),
        ("room_no", f.room_no.clone()),
        ("room", f.room.clone()),
        ("special", f.special.clone()),
        ("basis", f.basis.clone()),
        ("note", f.note.clone()),
    ];
    values.extend(f.receipt.values());
    let mut form = Form::with(&values);
    let tz = super::community_zone(&s, &ctx, id).await?;
    let result = match f.receipt.input(tz) {
        Ok(receipt) => {
            let input = k::KeySetInput {
                cabinet_id: f.cabinet_id.trim().parse().unwrap_or(0),
                tag: f.tag,
                hook: f.hook,
                room_no: f.room_no,
                room: f.room,
                special: f.special,
                basis: f.basis,
                note: f.note,
                receipt,
            };
            k::create_key_set(&s.app, &ctx.actor, id, &input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(d) => Ok(see_other(&format!("/keys/{}", d.key.id))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            new_view(&s, &ctx, id, form, st).await
        }
    }
}

// ---- a key set ----

#[derive(Clone)]
pub struct LoanRow {
    pub l: sk::Loan,
    pub reason_kind: String,
    pub taker_kind: String,
    pub authorisation: String,
    pub issued: String,
    pub due: String,
    pub closed: String,
    pub overdue: bool,
    pub out: i64,
    pub returns: Vec<(sk::Return, String)>,
}

pub struct IncidentRow {
    pub i: sk::Incident,
    pub kind: String,
    pub state: String,
    pub resolution: String,
    pub opened: String,
    pub can_report: bool,
    pub can_resolve: bool,
}

#[derive(Template)]
#[template(path = "keys/show.html")]
struct ShowPage {
    c: Chrome,
    r: KeyRow,
    on_hook: i64,
    f: Form,
    /// Which form the values and errors belong to.
    form: String,
    open: Option<LoanRow>,
    loans: Vec<LoanRow>,
    receipts: Vec<(sk::Receipt, String)>,
    agreements: Vec<(k::AgreementView, String, String, String)>,
    agreement_people: Vec<(String, String)>,
    approvals: Vec<(sk::Approval, String, String)>,
    usable_approvals: Vec<(String, String)>,
    incidents: Vec<IncidentRow>,
    inspections: Vec<(sk::Inspection, String, String)>,
    staff: Vec<(String, String)>,
    reasons: Vec<(String, String)>,
    takers: Vec<(String, String)>,
    authorisations: Vec<(String, String)>,
    can_handle: bool,
    can_sign_out: bool,
    /// The owner may take the keys back (none out, not a public room's).
    can_release: bool,
    phone_confirmation: bool,
    due_default: String,
    now_local: String,
}

fn loan_row(c: &Chrome, tz: chrono_tz::Tz, v: k::LoanView) -> LoanRow {
    let l = v.loan;
    LoanRow {
        reason_kind: label_of(c, ReasonKind::parse(&l.reason_kind), &l.reason_kind),
        taker_kind: label_of(c, TakerKind::parse(&l.taker_kind), &l.taker_kind),
        authorisation: if l.authorisation.is_empty() {
            String::new()
        } else {
            label_of(c, Authorisation::parse(&l.authorisation), &l.authorisation)
        },
        issued: when(l.issued_at, tz),
        due: when(l.due_at, tz),
        closed: l.closed_at.map(|t| when(t, tz)).unwrap_or_default(),
        overdue: v.overdue,
        out: l.quantity - l.returned - l.lost,
        returns: v.returns.into_iter().map(|r| (when(r.returned_at, tz), r)).map(|(t, r)| (r, t)).collect(),
        l,
    }
}

fn incident_row(c: &Chrome, tz: chrono_tz::Tz, i: sk::Incident, handle: bool, manage: bool) -> IncidentRow {
    IncidentRow {
        kind: label_of(c, IncidentKind::parse(&i.kind), &i.kind),
        state: label_of(c, IncidentState::parse(&i.state), &i.state),
        resolution: if i.resolution.is_empty() {
            String::new()
        } else {
            label_of(c, Resolution::parse(&i.resolution), &i.resolution)
        },
        opened: when(i.opened_at, tz),
        can_report: handle && i.state == "open",
        can_resolve: manage && i.state == "reported",
        i,
    }
}

async fn show_view(s: &AppState, ctx: &Ctx, id: i64, f: Form, form: &str, status: StatusCode) -> PageResult {
    let d = k::key_detail(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let cid = d.key.community_id;
    let tz = super::community_zone(s, ctx, cid).await?;
    let c = Chrome::of(ctx);
    let handle = ctx.actor.authorize(Permission::HandleKeys, cid).is_ok();
    let manage = ctx.actor.authorize(Permission::ManageKeys, cid).is_ok();
    let settings = k::settings(&s.app, &ctx.actor, cid).await.page(ctx.lang)?;
    let members = crate::app::auth::community_members(&s.app, &ctx.actor, cid).await.page(ctx.lang)?;
    let mut staff: Vec<(String, String)> = vec![(String::new(), c.t.get("keys.choose_staff").to_string())];
    for (uid, name, _) in &members {
        let entry = (uid.to_string(), name.clone());
        if !staff.contains(&entry) && *uid != ctx.actor.user_id() {
            staff.push(entry);
        }
    }
    // The open sign-out has its card, and its line in the history too.
    let loans: Vec<LoanRow> = d.loans.into_iter().map(|v| loan_row(&c, tz, v)).collect();
    let open = loans.iter().find(|l| l.l.closed_at.is_none()).cloned();
    let agreement_people = d
        .agreements
        .iter()
        .filter(|a| a.agreement.state == "active")
        .flat_map(|a| {
            a.people.iter().map(|p| (p.id.to_string(), format!("{} {}", p.name, p.relation).trim().to_string()))
        })
        .collect();
    let agreements = d
        .agreements
        .into_iter()
        .map(|a| {
            let scope = a
                .agreement
                .scope
                .split(',')
                .map(|x| label_of(&c, ReasonKind::parse(x), x))
                .collect::<Vec<_>>()
                .join(if c.t.is_en() { ", " } else { "、" });
            let (from, to) = (when(a.agreement.starts_at, tz), when(a.agreement.ends_at, tz));
            (a, scope, from, to)
        })
        .collect();
    let usable_approvals = d
        .approvals
        .iter()
        .filter(|a| a.state == "approved" && a.expires_at.is_none_or(|t| t > ctx.now))
        .map(|a| (a.id.to_string(), format!("{} · {}", a.reason, a.decided_by_name.clone().unwrap_or_default())))
        .collect();
    let approvals = d
        .approvals
        .into_iter()
        .map(|a| {
            let state = approval_state(&c, &a, ctx.now);
            let at = when(a.created_at, tz);
            (a, state, at)
        })
        .collect();
    let r = key_row(&c, tz, d.key, ctx.now);
    let can_sign_out = handle && r.k.state == "held" && r.k.loan_id.is_none() && d.on_hook > 0;
    let can_release = handle && r.k.state == "held" && r.k.loan_id.is_none() && r.k.basis != "public_room";
    let view = ShowPage {
        on_hook: d.on_hook,
        f,
        form: form.to_string(),
        open,
        loans,
        receipts: d.receipts.into_iter().map(|x| (when(x.delivered_at, tz), x)).map(|(t, x)| (x, t)).collect(),
        agreements,
        agreement_people,
        approvals,
        usable_approvals,
        incidents: d.incidents.into_iter().map(|i| incident_row(&c, tz, i, handle, manage)).collect(),
        inspections: d
            .inspections
            .into_iter()
            .map(|i| {
                let cond = c.t.get(&format!("keys.condition_{}", i.condition)).to_string();
                (when(i.inspected_at, tz), cond, i)
            })
            .map(|(t, cond, i)| (i, t, cond))
            .collect(),
        staff,
        reasons: c.options(ReasonKind::ALL),
        takers: c.options(TakerKind::ALL),
        authorisations: std::iter::once((String::new(), c.t.get("keys.no_authorisation").to_string()))
            .chain(c.options(Authorisation::ALL))
            .collect(),
        can_handle: handle,
        can_sign_out,
        can_release,
        phone_confirmation: settings.phone_confirmation == 1,
        due_default: huiqian_domain::time::format_local_input(ctx.now + 4 * 3_600_000, tz),
        now_local: huiqian_domain::time::format_local_input(ctx.now, tz),
        r,
        c,
    };
    Ok(page(status, &view))
}

async fn show(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    show_view(&s, &ctx, id, Form::default(), "", StatusCode::OK).await
}

/// After a form: back to the key's page, or the page again with what was typed and why.
async fn after<T>(
    s: &AppState,
    ctx: &Ctx,
    key: i64,
    r: Result<T, AppError>,
    mut form: Form,
    which: &str,
) -> PageResult {
    match r {
        Ok(_) => Ok(see_other(&format!("/keys/{key}"))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            show_view(s, ctx, key, form, which, st).await
        }
    }
}

async fn key_zone(s: &AppState, ctx: &Ctx, id: i64) -> Result<(sk::KeySet, chrono_tz::Tz), PageError> {
    let d = k::key_detail(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let tz = super::community_zone(s, ctx, d.key.community_id).await?;
    Ok((d.key, tz))
}

async fn receive(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<ReceiptForm>,
) -> PageResult {
    let form = Form::with(&f.values());
    let (_, tz) = key_zone(&s, &ctx, id).await?;
    let r = match f.input(tz) {
        Ok(input) => k::receive(&s.app, &ctx.actor, id, &input).await,
        Err(e) => Err(e),
    };
    after(&s, &ctx, id, r, form, "receive").await
}

#[derive(Default)]
struct SignOutForm {
    version: i64,
    quantity: String,
    reason_kind: String,
    reason: String,
    sheet_number: String,
    due_at: String,
    taker_kind: String,
    taker_user_id: String,
    taker_name: String,
    taker_phone: String,
    authorisation: String,
    agreement_person_id: String,
    authorisation_note: String,
    phone_confirmed_number: String,
    approval_id: String,
    signature: String,
    signature_typed: String,
}

/// The owner's letter comes as a file in a multipart form; the page reads it as a data URL.
async fn sign_out(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    mp: axum::extract::Multipart,
) -> PageResult {
    let (f, letter) = match read_sign_out(mp, s.app.config.limits.max_upload_bytes).await {
        Ok(x) => x,
        Err(e) => return after(&s, &ctx, id, Err::<(), _>(e), Form::default(), "sign_out").await,
    };
    let form = Form::with(&[
        ("quantity", f.quantity.clone()),
        ("reason_kind", f.reason_kind.clone()),
        ("reason", f.reason.clone()),
        ("sheet_number", f.sheet_number.clone()),
        ("due_at", f.due_at.clone()),
        ("taker_kind", f.taker_kind.clone()),
        ("taker_user_id", f.taker_user_id.clone()),
        ("taker_name", f.taker_name.clone()),
        ("taker_phone", f.taker_phone.clone()),
        ("authorisation", f.authorisation.clone()),
        ("agreement_person_id", f.agreement_person_id.clone()),
        ("authorisation_note", f.authorisation_note.clone()),
        ("phone_confirmed_number", f.phone_confirmed_number.clone()),
        ("approval_id", f.approval_id.clone()),
    ]);
    let (_, tz) = key_zone(&s, &ctx, id).await?;
    let r = match (local_ms(&f.due_at, tz), quantity(&f.quantity)) {
        (None, _) => Err(AppError::field("due_at", ValidationError::new("date.invalid"))),
        (_, Err(e)) => Err(e),
        (Some(due_at), Ok(quantity)) => {
            let input = k::SignOutInput {
                version: f.version,
                quantity,
                reason_kind: f.reason_kind,
                reason: f.reason,
                sheet_number: f.sheet_number,
                due_at,
                taker_kind: f.taker_kind,
                taker_user_id: f.taker_user_id.trim().parse().ok(),
                taker_name: f.taker_name,
                taker_phone: f.taker_phone,
                authorisation: f.authorisation,
                agreement_person_id: f.agreement_person_id.trim().parse().ok(),
                letter,
                authorisation_note: f.authorisation_note,
                phone_confirmed_number: f.phone_confirmed_number,
                approval_id: f.approval_id.trim().parse().ok(),
                signature: f.signature,
                signature_typed: f.signature_typed == "1",
            };
            k::sign_out(&s.app, &ctx.actor, id, &input).await
        }
    };
    after(&s, &ctx, id, r, form, "sign_out").await
}

/// The sign-out form's fields, and its letter as a data URL (empty when none was chosen).
async fn read_sign_out(mut mp: axum::extract::Multipart, limit: usize) -> Result<(SignOutForm, String), AppError> {
    use base64::Engine;
    let mut pairs: Vec<(String, String)> = vec![];
    let mut letter = String::new();
    let broken = || AppError::field("letter", ValidationError::new("upload.broken"));
    while let Some(field) = mp.next_field().await.map_err(|_| broken())? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "letter" {
            let bytes = field.bytes().await.map_err(|_| broken())?;
            if bytes.len() > limit {
                return Err(AppError::field(
                    "letter",
                    ValidationError::new("upload.too_large").with("max_mb", limit / 1024 / 1024),
                ));
            }
            if !bytes.is_empty() {
                letter = format!("data:;base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes));
            }
        } else {
            pairs.push((name, field.text().await.map_err(|_| broken())?));
        }
    }
    let mut f = SignOutForm::default();
    for (name, v) in pairs {
        let slot = match name.as_str() {
            "version" => {
                f.version = v.trim().parse().unwrap_or(0);
                continue;
            }
            "quantity" => &mut f.quantity,
            "reason_kind" => &mut f.reason_kind,
            "reason" => &mut f.reason,
            "sheet_number" => &mut f.sheet_number,
            "due_at" => &mut f.due_at,
            "taker_kind" => &mut f.taker_kind,
            "taker_user_id" => &mut f.taker_user_id,
            "taker_name" => &mut f.taker_name,
            "taker_phone" => &mut f.taker_phone,
            "authorisation" => &mut f.authorisation,
            "agreement_person_id" => &mut f.agreement_person_id,
            "authorisation_note" => &mut f.authorisation_note,
            "phone_confirmed_number" => &mut f.phone_confirmed_number,
            "approval_id" => &mut f.approval_id,
            "signature" => &mut f.signature,
            "signature_typed" => &mut f.signature_typed,
            _ => continue,
        };
        *slot = v;
    }
    Ok((f, letter))
}

#[derive(Deserialize, Default)]
struct ReturnForm {
    version: i64,
    #[serde(default)]
    key_set_id: i64,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    returner_name: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    signature_typed: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    condition_note: String,
}

async fn give_back(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<ReturnForm>,
) -> PageResult {
    let form = Form::with(&[
        ("quantity", f.quantity.clone()),
        ("returner_name", f.returner_name.clone()),
        ("condition", f.condition.clone()),
        ("condition_note", f.condition_note.clone()),
    ]);
    let r = match quantity(&f.quantity) {
        Ok(quantity) => {
            let input = k::ReturnInput {
                version: f.version,
                quantity,
                returner_name: f.returner_name,
                signature: f.signature,
                signature_typed: f.signature_typed == "1",
                condition: f.condition,
                condition_note: f.condition_note,
            };
            k::take_back(&s.app, &ctx.actor, id, &input).await
        }
        Err(e) => Err(e),
    };
    after(&s, &ctx, f.key_set_id, r, form, "return").await
}

#[derive(Deserialize, Default)]
struct ApprovalForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    sheet_number: String,
}

async fn ask_approval(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<ApprovalForm>,
) -> PageResult {
    let form = Form::with(&[("approval_reason", f.reason.clone()), ("approval_sheet_number", f.sheet_number.clone())]);
    let input = k::ApprovalRequest { reason: f.reason, sheet_number: f.sheet_number };
    let r = k::request_approval(&s.app, &ctx.actor, id, &input).await;
    after(&s, &ctx, id, r, form, "approval").await
}

#[derive(Deserialize, Default)]
struct AgreementForm {
    #[serde(default)]
    owner_name: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    scope: Vec<String>,
    /// One authorised person a line: name, relation, phone (separated by spaces or commas).
    #[serde(default)]
    people: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    signature_typed: String,
}

async fn agreement(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, body: String) -> PageResult {
    // Several boxes share the name `scope`: read the pairs as they come.
    let mut f = AgreementForm::default();
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        match k.as_ref() {
            "owner_name" => f.owner_name = v.into_owned(),
            "starts_at" => f.starts_at = v.into_owned(),
            "ends_at" => f.ends_at = v.into_owned(),
            "scope" => f.scope.push(v.into_owned()),
            "people" => f.people = v.into_owned(),
            "signature" => f.signature = v.into_owned(),
            "signature_typed" => f.signature_typed = v.into_owned(),
            _ => {}
        }
    }
    let form = Form::with(&[
        ("owner_name", f.owner_name.clone()),
        ("starts_at", f.starts_at.clone()),
        ("ends_at", f.ends_at.clone()),
        ("people", f.people.clone()),
        ("scope", f.scope.join(",")),
    ]);
    let (_, tz) = key_zone(&s, &ctx, id).await?;
    let day = |v: &str, field: &'static str| {
        local_ms(&format!("{}T00:00", v.trim()), tz)
            .ok_or_else(|| AppError::field(field, ValidationError::new("date.invalid")))
    };
    let r = match (day(&f.starts_at, "starts_at"), day(&f.ends_at, "ends_at")) {
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(starts_at), Ok(ends)) => {
            let people = f
                .people
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let parts: Vec<&str> = l.split([' ', ',', '，', '\t']).filter(|x| !x.is_empty()).collect();
                    let phone = parts
                        .iter()
                        .find(|p| p.chars().filter(char::is_ascii_digit).count() >= 7)
                        .copied()
                        .unwrap_or("");
                    let rest: Vec<&str> = parts.iter().copied().filter(|p| *p != phone).collect();
                    k::PersonInput {
                        name: rest.first().copied().unwrap_or("").to_string(),
                        relation: rest.get(1..).map(|x| x.join(" ")).unwrap_or_default(),
                        phone: phone.to_string(),
                    }
                })
                .collect();
            let input = k::AgreementInput {
                owner_name: f.owner_name,
                starts_at,
                // The end day is included.
                ends_at: ends + 24 * 3_600_000,
                scope: f.scope,
                people,
                signature: f.signature,
                signature_typed: f.signature_typed == "1",
            };
            k::add_agreement(&s.app, &ctx.actor, id, &input).await
        }
    };
    after(&s, &ctx, id, r, form, "agreement").await
}

#[derive(Deserialize, Default)]
struct ReleaseForm {
    version: i64,
    #[serde(default)]
    receiver_name: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    signature_typed: String,
}

async fn release(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<ReleaseForm>,
) -> PageResult {
    let form = Form::with(&[("receiver_name", f.receiver_name.clone())]);
    let input = k::ReleaseInput {
        version: f.version,
        receiver_name: f.receiver_name,
        signature: f.signature,
        signature_typed: f.signature_typed == "1",
    };
    let r = k::release(&s.app, &ctx.actor, id, &input).await;
    after(&s, &ctx, id, r, form, "release").await
}

// ---- the tag label ----

#[derive(Template)]
#[template(path = "keys/label.html")]
struct LabelPage {
    c: Chrome,
    r: KeyRow,
    qr: String,
}

async fn label(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let (key, tz) = key_zone(&s, &ctx, id).await?;
    let c = Chrome::of(&ctx);
    // The QR code opens the key's page: scanned at the cabinet, it shows where the key is.
    let qr = match qrcode::QrCode::new(format!("/keys/{id}").as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color>().min_dimensions(120, 120).build(),
        Err(_) => String::new(),
    };
    Ok(render(&LabelPage { r: key_row(&c, tz, key, ctx.now), qr, c }))
}

// ---- cabinets: seal, openings, counts ----

pub struct CabinetView {
    pub x: sk::Cabinet,
    pub state: String,
    pub since: String,
    pub log: Vec<(sk::CabinetLog, String, String)>,
    pub sealed: bool,
    pub night_open: bool,
}

#[derive(Template)]
#[template(path = "keys/cabinets.html")]
struct CabinetsPage {
    c: Chrome,
    community_id: i64,
    communities: Vec<(String, String, bool)>,
    tabs: Vec<Tab>,
    cabinets: Vec<CabinetView>,
    f: Form,
    /// The cabinet the form values and errors belong to (0: the new cabinet form).
    form_cabinet: i64,
    can_handle: bool,
    can_manage: bool,
    staff: Vec<(String, String)>,
}

async fn cabinets_view(s: &AppState, ctx: &Ctx, id: i64, f: Form, form_cabinet: i64, status: StatusCode) -> PageResult {
    let communities = switcher(s, ctx, id, "key-cabinets").await?;
    let tz = super::community_zone(s, ctx, id).await?;
    let r = k::register(&s.app, &ctx.actor, id, sk::Where::All, "", 1, 0).await.page(ctx.lang)?;
    let c = Chrome::of(ctx);
    let mut cabinets = vec![];
    for x in r.cabinets {
        let (_, log) = k::cabinet_log(&s.app, &ctx.actor, x.id).await.page(ctx.lang)?;
        let log = log
            .into_iter()
            .take(8)
            .map(|l| {
                let step = c.t.get(&format!("keys.step_{}", l.step)).to_string();
                let at = when(l.at, tz);
                (l, step, at)
            })
            .collect();
        cabinets.push(CabinetView {
            state: label_of(&c, CabinetState::parse(&x.state), &x.state),
            since: when(x.state_at, tz),
            sealed: x.state == "sealed",
            night_open: x.state == "night_open",
            log,
            x,
        });
    }
    let manage = ctx.actor.authorize(Permission::ManageKeys, id).is_ok();
    let members = crate::app::auth::community_members(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let mut staff: Vec<(String, String)> = vec![(String::new(), c.t.get("keys.choose_staff").to_string())];
    for (uid, name, _) in &members {
        let entry = (uid.to_string(), name.clone());
        if !staff.contains(&entry) {
            staff.push(entry);
        }
    }
    Ok(page(
        status,
        &CabinetsPage {
            tabs: tabs(&c, id, "cabinets", manage),
            can_handle: ctx.actor.authorize(Permission::HandleKeys, id).is_ok(),
            can_manage: manage,
            community_id: id,
            communities,
            cabinets,
            f,
            form_cabinet,
            staff,
            c,
        },
    ))
}

async fn cabinets(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    cabinets_view(&s, &ctx, id, Form::default(), -1, StatusCode::OK).await
}

async fn cabinet_after<T>(s: &AppState, ctx: &Ctx, cabinet: i64, r: Result<T, AppError>, mut form: Form) -> PageResult {
    let (x, _) = k::cabinet_log(&s.app, &ctx.actor, cabinet).await.page(ctx.lang)?;
    match r {
        Ok(_) => Ok(see_other(&format!("/communities/{}/key-cabinets#cabinet-{cabinet}", x.community_id))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            cabinets_view(s, ctx, x.community_id, form, cabinet, st).await
        }
    }
}

#[derive(Deserialize, Default)]
struct CabinetForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    keeper_id: String,
}

async fn create_cabinet(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<CabinetForm>,
) -> PageResult {
    let mut form =
        Form::with(&[("name", f.name.clone()), ("location", f.location.clone()), ("keeper_id", f.keeper_id.clone())]);
    let input = k::CabinetInput { name: f.name, location: f.location, keeper_id: f.keeper_id.trim().parse().ok() };
    match k::create_cabinet(&s.app, &ctx.actor, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/communities/{id}/key-cabinets"))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            cabinets_view(&s, &ctx, id, form, 0, st).await
        }
    }
}

#[derive(Deserialize, Default)]
struct SealForm {
    version: i64,
    #[serde(default)]
    seal_no: String,
}

async fn seal(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<SealForm>) -> PageResult {
    let form = Form::with(&[("seal_no", f.seal_no.clone())]);
    let r = k::seal(&s.app, &ctx.actor, id, &k::SealInput { version: f.version, seal_no: f.seal_no }).await;
    cabinet_after(&s, &ctx, id, r, form).await
}

#[derive(Deserialize, Default)]
struct MorningForm {
    version: i64,
    #[serde(default)]
    seal_seen: String,
    #[serde(default)]
    intact: String,
}

async fn morning_opening(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<MorningForm>,
) -> PageResult {
    let form = Form::with(&[("seal_seen", f.seal_seen.clone())]);
    let input = k::MorningInput { version: f.version, seal_seen: f.seal_seen, intact: f.intact == "1" };
    let r = k::open_in_morning(&s.app, &ctx.actor, id, &input).await;
    cabinet_after(&s, &ctx, id, r, form).await
}

#[derive(Deserialize, Default)]
struct NightForm {
    version: i64,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    first_username: String,
    #[serde(default)]
    first_password: String,
    #[serde(default)]
    first_code: String,
    #[serde(default)]
    second_username: String,
    #[serde(default)]
    second_password: String,
    #[serde(default)]
    second_code: String,
}

async fn night_opening(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<NightForm>,
) -> PageResult {
    // The passwords are never sent back to the page.
    let form = Form::with(&[
        ("night_reason", f.reason.clone()),
        ("first_username", f.first_username.clone()),
        ("second_username", f.second_username.clone()),
    ]);
    let input = k::NightOpeningInput {
        version: f.version,
        reason: f.reason,
        first_username: f.first_username,
        first_password: f.first_password,
        first_code: f.first_code,
        second_username: f.second_username,
        second_password: f.second_password,
        second_code: f.second_code,
    };
    let r = k::open_at_night(&s.app, &ctx.actor, id, &input).await;
    cabinet_after(&s, &ctx, id, r, form).await
}

#[derive(Template)]
#[template(path = "keys/count.html")]
struct CountPage {
    c: Chrome,
    x: sk::Cabinet,
    /// Each hook with the name of its field.
    lines: Vec<(k::CountLine, String)>,
    f: Form,
    result: Option<k::CountResult>,
}

fn named(lines: Vec<k::CountLine>) -> Vec<(k::CountLine, String)> {
    lines.into_iter().map(|l| (format!("n-{}", l.key_set_id), l)).map(|(n, l)| (l, n)).collect()
}

async fn count_form(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let (x, lines) = k::count_form(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let lines = named(lines);
    Ok(render(&CountPage { c: Chrome::of(&ctx), x, lines, f: Form::default(), result: None }))
}

async fn count(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, body: String) -> PageResult {
    let (x, lines) = k::count_form(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let lines = named(lines);
    let mut form = Form::default();
    let mut counted = vec![];
    for (name, v) in url::form_urlencoded::parse(body.as_bytes()) {
        let Some(key) = name.strip_prefix("n-").and_then(|k| k.parse::<i64>().ok()) else { continue };
        form.values.insert(name.to_string(), v.to_string());
        match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 => counted.push(k::CountedLine { key_set_id: key, counted: n }),
            _ if v.trim().is_empty() => {}
            _ => {
                form.errors.insert(name.to_string(), crate::i18n::t(ctx.lang, "key.quantity").to_string());
            }
        }
    }
    let c = Chrome::of(&ctx);
    if !form.errors.is_empty() {
        form.banner = c.t.get("error.validation_failed").to_string();
        return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &CountPage { c, x, lines, f: form, result: None }));
    }
    match k::record_count(&s.app, &ctx.actor, id, &k::CountInput { lines: counted }).await {
        Ok(result) => Ok(render(&CountPage { c, x, lines: vec![], f: Form::default(), result: Some(result) })),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            Ok(page(st, &CountPage { c, x, lines, f: form, result: None }))
        }
    }
}

// ---- incidents and approvals ----

#[derive(Template)]
#[template(path = "keys/incidents.html")]
struct IncidentsPage {
    c: Chrome,
    community_id: i64,
    communities: Vec<(String, String, bool)>,
    tabs: Vec<Tab>,
    rows: Vec<IncidentRow>,
    all: bool,
    resolutions: Vec<(String, String)>,
    f: Form,
    form_incident: i64,
}

#[derive(Deserialize, Default)]
struct AllQuery {
    all: Option<String>,
}

async fn incidents_view(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    all: bool,
    f: Form,
    form_incident: i64,
    status: StatusCode,
) -> PageResult {
    let communities = switcher(s, ctx, id, "key-incidents").await?;
    let tz = super::community_zone(s, ctx, id).await?;
    let list = k::incidents(&s.app, &ctx.actor, id, !all).await.page(ctx.lang)?;
    let c = Chrome::of(ctx);
    let handle = ctx.actor.authorize(Permission::HandleKeys, id).is_ok();
    let manage = ctx.actor.authorize(Permission::ManageKeys, id).is_ok();
    Ok(page(
        status,
        &IncidentsPage {
            tabs: tabs(&c, id, "incidents", manage),
            rows: list.into_iter().map(|i| incident_row(&c, tz, i, handle, manage)).collect(),
            resolutions: c.options(Resolution::ALL),
            community_id: id,
            communities,
            all,
            f,
            form_incident,
            c,
        },
    ))
}

async fn incidents(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(q): Query<AllQuery>) -> PageResult {
    incidents_view(&s, &ctx, id, q.all.is_some(), Form::default(), 0, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
struct IncidentForm {
    version: i64,
    #[serde(default)]
    report: String,
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    note: String,
}

async fn incident_after<T>(s: &AppState, ctx: &Ctx, id: i64, r: Result<T, AppError>, mut form: Form) -> PageResult {
    let community = k::incident_community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    match r {
        Ok(_) => Ok(see_other(&format!("/communities/{community}/key-incidents?all=1#incident-{id}"))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            incidents_view(s, ctx, community, true, form, id, st).await
        }
    }
}

async fn report(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<IncidentForm>,
) -> PageResult {
    let form = Form::with(&[("report", f.report.clone())]);
    let r = k::report_incident(&s.app, &ctx.actor, id, &k::ReportInput { version: f.version, report: f.report }).await;
    incident_after(&s, &ctx, id, r, form).await
}

async fn resolve(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<IncidentForm>,
) -> PageResult {
    let form = Form::with(&[("resolution", f.resolution.clone()), ("note", f.note.clone())]);
    let input = k::ResolveInput { version: f.version, resolution: f.resolution, note: f.note };
    let r = k::resolve_incident(&s.app, &ctx.actor, id, &input).await;
    incident_after(&s, &ctx, id, r, form).await
}

#[derive(Template)]
#[template(path = "keys/approvals.html")]
struct ApprovalsPage {
    c: Chrome,
    community_id: i64,
    communities: Vec<(String, String, bool)>,
    tabs: Vec<Tab>,
    rows: Vec<(sk::Approval, String, String, String)>,
    all: bool,
    can_decide: bool,
    f: Form,
    form_approval: i64,
}

async fn approvals_view(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    all: bool,
    f: Form,
    form_approval: i64,
    status: StatusCode,
) -> PageResult {
    let communities = switcher(s, ctx, id, "key-approvals").await?;
    let tz = super::community_zone(s, ctx, id).await?;
    let list = k::approvals(&s.app, &ctx.actor, id, !all).await.page(ctx.lang)?;
    let c = Chrome::of(ctx);
    let manage = ctx.actor.authorize(Permission::ManageKeys, id).is_ok();
    let rows = list
        .into_iter()
        .map(|a| {
            let state = approval_state(&c, &a, ctx.now);
            let special = label_of(&c, SpecialRoom::parse(&a.special), &a.special);
            let at = when(a.created_at, tz);
            (a, state, special, at)
        })
        .collect();
    Ok(page(
        status,
        &ApprovalsPage {
            tabs: tabs(&c, id, "approvals", manage),
            can_decide: k::may_approve(&s.app, &ctx.actor, id).await,
            community_id: id,
            communities,
            rows,
            all,
            f,
            form_approval,
            c,
        },
    ))
}

async fn approvals(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(q): Query<AllQuery>) -> PageResult {
    approvals_view(&s, &ctx, id, q.all.is_some(), Form::default(), 0, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
struct DecideForm {
    version: i64,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

async fn decide(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<DecideForm>) -> PageResult {
    let mut form = Form::with(&[("note", f.note.clone())]);
    let community = k::approval_community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let input = k::ApprovalDecision { version: f.version, approve: f.decision == "approve", note: f.note };
    match k::decide_approval(&s.app, &ctx.actor, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/communities/{community}/key-approvals?all=1#approval-{id}"))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            approvals_view(&s, &ctx, community, true, form, id, st).await
        }
    }
}

// ---- the key ledger ----

#[derive(Deserialize, Default)]
struct LedgerQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "keys/ledger.html")]
struct LedgerPage {
    c: Chrome,
    community_id: i64,
    communities: Vec<(String, String, bool)>,
    tabs: Vec<Tab>,
    f: Form,
    headers: Vec<String>,
    lines: Vec<(i64, bool, Vec<String>)>,
    query: String,
}

/// The ledger's columns (钥匙收发本): message key and the width an export needs.
const LEDGER_COLUMNS: [(&str, usize); 12] = [
    ("keys.tag", 10),
    ("keys.opens", 16),
    ("keys.quantity", 6),
    ("keys.reason", 24),
    ("keys.sheet", 16),
    ("keys.taker", 12),
    ("keys.authorisation", 14),
    ("keys.issued_by", 10),
    ("keys.issued_at", 17),
    ("keys.due_at", 17),
    ("keys.returned", 24),
    ("keys.closed_at", 17),
];

fn ledger_cells(c: &Chrome, tz: chrono_tz::Tz, v: &k::LoanView) -> Vec<String> {
    let l = &v.loan;
    let reason = format!("{}{}", label_of(c, ReasonKind::parse(&l.reason_kind), &l.reason_kind), c.paren(&l.reason));
    let taker = if l.taker_phone_masked.is_empty() {
        l.taker_name.clone()
    } else {
        format!("{} {}", l.taker_name, l.taker_phone_masked)
    };
    let authorisation = if l.authorisation.is_empty() {
        String::new()
    } else {
        label_of(c, Authorisation::parse(&l.authorisation), &l.authorisation)
    };
    let sep = if c.t.is_en() { "; " } else { "；" };
    let returned = v
        .returns
        .iter()
        .map(|r| format!("{} × {} {} ({})", r.returner_name, r.quantity, when(r.returned_at, tz), r.received_by_name))
        .collect::<Vec<_>>()
        .join(sep);
    vec![
        l.tag.clone(),
        l.room.clone(),
        l.quantity.to_string(),
        reason,
        l.sheet_number.clone().unwrap_or_default(),
        taker,
        authorisation,
        l.issued_by_name.clone(),
        when(l.issued_at, tz),
        when(l.due_at, tz),
        returned,
        l.closed_at.map(|t| when(t, tz)).unwrap_or_default(),
    ]
}

fn day_start(s: &str, tz: chrono_tz::Tz) -> Option<i64> {
    local_ms(&format!("{}T00:00", s.trim()), tz)
}

async fn ledger(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(q): Query<LedgerQuery>) -> PageResult {
    let communities = switcher(&s, &ctx, id, "key-ledger").await?;
    let tz = super::community_zone(&s, &ctx, id).await?;
    let today = crate::app::people::today_in(tz, ctx.now);
    let from_s = q.from.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| today.format("%Y-%m-01").to_string());
    let to_s = q.to.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| today.to_string());
    let from = day_start(&from_s, tz).unwrap_or(0);
    let to = day_start(&to_s, tz).map(|t| t + 24 * 3_600_000).unwrap_or(i64::MAX);
    let rows = k::ledger(&s.app, &ctx.actor, id, from, to, 5000, 0).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    if let Some(format) = export::Format::parse(q.format.as_deref()) {
        let title = c.t.get("keys.ledger");
        let table = export::Table {
            title: title.to_string(),
            columns: LEDGER_COLUMNS.iter().map(|(k, width)| export::Column::text(c.t.get(k), *width)).collect(),
        };
        let name = communities.iter().find(|x| x.2).map(|x| x.1.clone()).unwrap_or_default();
        let d = export::Download {
            format,
            table,
            name: format!("{title} {name} {from_s} {to_s}"),
            fallback: format!("key-ledger-{from_s}-{to_s}"),
        };
        let cells = rows.iter().map(|v| ledger_cells(&c, tz, v)).collect();
        return export::download_rows(d, cells).await.page(ctx.lang);
    }
    let lines = rows.iter().map(|v| (v.loan.key_set_id, v.overdue, ledger_cells(&c, tz, v))).collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("from", &from_s)
        .append_pair("to", &to_s)
        .finish();
    let manage = ctx.actor.authorize(Permission::ManageKeys, id).is_ok();
    Ok(render(&LedgerPage {
        tabs: tabs(&c, id, "ledger", manage),
        headers: LEDGER_COLUMNS.iter().map(|(k, _)| c.t.get(k).to_string()).collect(),
        f: Form::with(&[("from", from_s), ("to", to_s)]),
        community_id: id,
        communities,
        lines,
        query,
        c,
    }))
}

// ---- vacant units ----

#[derive(Template)]
#[template(path = "keys/vacant.html")]
struct VacantPage {
    c: Chrome,
    communities: Vec<(String, String, bool)>,
    tabs: Vec<Tab>,
    rows: Vec<(sk::VacantUnit, String, String)>,
    can_handle: bool,
    f: Form,
    form_unit: i64,
}

async fn vacant_view(s: &AppState, ctx: &Ctx, id: i64, f: Form, form_unit: i64, status: StatusCode) -> PageResult {
    let communities = switcher(s, ctx, id, "vacant-units").await?;
    let tz = super::community_zone(s, ctx, id).await?;
    let list = k::vacant_units(&s.app, &ctx.actor, id, 500, 0).await.page(ctx.lang)?;
    let c = Chrome::of(ctx);
    let manage = ctx.actor.authorize(Permission::ManageKeys, id).is_ok();
    let rows = list
        .into_iter()
        .map(|v| {
            let at = v.last_inspected_at.map(|t| when(t, tz)).unwrap_or_default();
            let cond = v
                .last_condition
                .as_deref()
                .map(|x| c.t.get(&format!("keys.condition_{x}")).to_string())
                .unwrap_or_default();
            (v, at, cond)
        })
        .collect();
    Ok(page(
        status,
        &VacantPage {
            tabs: tabs(&c, id, "vacant", manage),
            can_handle: ctx.actor.authorize(Permission::HandleKeys, id).is_ok(),
            communities,
            rows,
            f,
            form_unit,
            c,
        },
    ))
}

async fn vacant(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    vacant_view(&s, &ctx, id, Form::default(), 0, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
struct InspectForm {
    #[serde(default)]
    condition: String,
    #[serde(default)]
    note: String,
}

async fn inspect(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<InspectForm>,
) -> PageResult {
    let mut form = Form::with(&[("condition", f.condition.clone()), ("note", f.note.clone())]);
    let community = crate::app::org::unit(&s.app, &ctx.actor, id).await.page(ctx.lang)?.community_id;
    match k::record_inspection(&s.app, &ctx.actor, id, &k::InspectionInput { condition: f.condition, note: f.note })
        .await
    {
        Ok(_) => Ok(see_other(&format!("/communities/{community}/vacant-units#unit-{id}"))),
        Err(e) => {
            let st = form.fail(e, ctx.lang)?;
            vacant_view(&s, &ctx, community, form, id, st).await
        }
    }
}

// ---- settings ----

#[derive(Template)]
#[template(path = "keys/settings.html")]
struct SettingsPage {
    c: Chrome,
    community_id: i64,
    communities: Vec<(String, String, bool)>,
    tabs: Vec<Tab>,
    version: i64,
    phone_confirmation: bool,
    f: Form,
    saved: bool,
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    saved: Option<String>,
}

async fn settings(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(q): Query<SavedQuery>) -> PageResult {
    ctx.actor.authorize(Permission::ManageKeys, id).page(ctx.lang)?;
    let communities = switcher(&s, &ctx, id, "key-settings").await?;
    let st = k::settings(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    Ok(render(&SettingsPage {
        tabs: tabs(&c, id, "settings", true),
        version: st.version,
        phone_confirmation: st.phone_confirmation == 1,
        f: Form::with(&[("count_due_hour", st.count_due_hour.to_string())]),
        saved: q.saved.is_some(),
        community_id: id,
        communities,
        c,
    }))
}

#[derive(Deserialize, Default)]
struct SettingsForm {
    version: i64,
    #[serde(default)]
    phone_confirmation: String,
    #[serde(default)]
    count_due_hour: String,
}

async fn save_settings(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<SettingsForm>,
) -> PageResult {
    let mut form = Form::with(&[("count_due_hour", f.count_due_hour.clone())]);
    let hour = f.count_due_hour.trim().parse::<i64>().unwrap_or(-1);
    let input =
        k::SettingsInput { version: f.version, phone_confirmation: f.phone_confirmation == "1", count_due_hour: hour };
    match k::save_settings(&s.app, &ctx.actor, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/communities/{id}/key-settings?saved=1"))),
        Err(e) => {
            let status = form.fail(e, ctx.lang)?;
            let communities = switcher(&s, &ctx, id, "key-settings").await?;
            let c = Chrome::of(&ctx);
            Ok((
                status,
                render(&SettingsPage {
                    tabs: tabs(&c, id, "settings", true),
                    version: f.version,
                    phone_confirmation: f.phone_confirmation == "1",
                    f: form,
                    saved: false,
                    community_id: id,
                    communities,
                    c,
                }),
            )
                .into_response())
        }
    }
}

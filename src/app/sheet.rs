//! Countersign sheets: registration, the commands of the lifecycle, queues, the archive
//! and the handover ledger (R-SHEET-1 … R-SHEET-12).
//!
//! Every command runs the same way: load the sheet and its history, rebuild it, check
//! who may do this, let the domain decide, then in one transaction append the event,
//! update the projection (refusing a stale `version`), write the handover ledger and the
//! audit entry.

use super::request::FlowAction;
use super::{Actor, App, AppError, AppResult, Authority, audit, files};
use crate::store::{self, org, people as sp, sheet as st};
use huiqian_domain::auth::{Permission, Role};
use huiqian_domain::person::{PersonName, Phone};
use huiqian_domain::sheet::lifecycle::Recorded;
use huiqian_domain::sheet::sla;
use huiqian_domain::sheet::{Channel, Command, Confirmation, Event, Sheet, SheetKind, number};
use huiqian_domain::unit::{DepartmentKind, RoomNo};
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What the desk fills in (R-SHEET-1).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RegisterInput {
    /// `repair`, `complaint`, `situation_report`, `special_service`, `inquiry`, `suggestion`, `other`.
    pub kind: String,
    /// `visit`, `phone`, `letter`, `other`.
    pub channel: String,
    /// The unit, by room number (`3-2-1502`).
    #[serde(default)]
    pub room_no: String,
    /// A registered owner or resident, when the requester is one.
    #[serde(default)]
    pub person_id: Option<i64>,
    pub requester_name: String,
    #[serde(default)]
    pub requester_phone: String,
    /// 来访事由: clear and brief; longer notes go in attachments.
    pub reason: String,
    /// For a visit: the requester's signature drawn on the screen (`data:image/png;base64,…`).
    #[serde(default)]
    pub signature: String,
    /// The requester typed their name and confirmed it instead of drawing (the pad's
    /// keyboard alternative): `signature` is then that name as the browser drew it, and
    /// the signature is recorded as typed.
    #[serde(default)]
    pub signature_typed: bool,
    /// A repair's category and arrival class (kind `repair`, or paid work under `special_service`).
    #[serde(default)]
    pub repair: Option<super::request::RepairIntake>,
    /// A complaint's time, place, cause, course, people and whom it is about (kind `complaint`).
    #[serde(default)]
    pub complaint: Option<super::request::ComplaintIntake>,
    /// The resident asks to be followed up once the request is done (R-FU-1).
    #[serde(default)]
    pub follow_up_requested: bool,
    /// An inquiry answered there and then (kind `inquiry`, by customer service): its
    /// answer and basis; the sheet is registered answered and closed (R-RECV-2). Ignored
    /// for other kinds.
    #[serde(default)]
    pub inquiry: Option<super::request::InquiryIntake>,
}

/// Reasons are "clear and brief" (R-SHEET-1); longer notes are attached.
const REASON_MAX: usize = 1000;

async fn community_tz(app: &App, community_id: i64) -> AppResult<chrono_tz::Tz> {
    app.store.community_zone(community_id).await?.ok_or(AppError::NotFound)
}

/// A registration as the desk typed it, checked: every field parsed, the unit and the
/// person found in the community, the flow's opening commands (a repair's category, a
/// complaint's details) ready for the domain.
struct Intake {
    kind: SheetKind,
    channel: Channel,
    name: PersonName,
    /// The requester's phone: as typed, or the chosen resident's from their file, kept
    /// sealed (masked, last four digits, encrypted) and never shown whole.
    phone: SealedPhone,
    reason: String,
    unit: Option<org::Unit>,
    signature: Option<Vec<u8>>,
    commands: Vec<Command>,
    /// The steps that close it at once: an inquiry answered on the spot.
    closing: Vec<Command>,
}

/// A phone number as a sheet keeps it: masked for the screen, the last four digits for
/// the finder, encrypted for the call button.
#[derive(Debug, Default)]
struct SealedPhone {
    masked: String,
    last4: String,
    enc: Option<String>,
}

impl SealedPhone {
    fn of(app: &App, phone: Option<&Phone>) -> SealedPhone {
        match phone {
            Some(p) => SealedPhone {
                masked: p.masked(),
                last4: p.last4().to_string(),
                enc: Some(app.secrets.encrypt(p.as_str())),
            },
            None => SealedPhone::default(),
        }
    }
}

/// Parse and check a registration; every bad field is reported at once, nothing written.
async fn parse_registration(app: &App, actor: &Actor, community_id: i64, input: &RegisterInput) -> AppResult<Intake> {
    let mut errors = FieldErrors::default();
    let kind = SheetKind::parse(&input.kind).map_err(|e| errors.push("kind", e)).ok();
    let mut against_kind = None;
    if let Some(d) = input.complaint.as_ref().and_then(|c| c.against_department_id) {
        match org::department(app.store.read(), d).await?.filter(|x| x.community_id == community_id) {
            Some(dep) => against_kind = DepartmentKind::parse(&dep.kind).ok(),
            None => errors.push("complaint.against_department_id", ValidationError::new("department.unknown")),
        }
    }
    if let Some(u) = input.complaint.as_ref().and_then(|c| c.against_user_id) {
        let mut conn = app.store.read().acquire().await?;
        let grants = store::auth::grants(&mut conn, u).await?;
        if !grants.iter().any(|g| g.community == Some(community_id)) {
            errors.push("complaint.against_user_id", ValidationError::new("sheet.receiver_unknown"));
        }
    }
    let intake = match kind {
        Some(k) => super::request::intake_commands(
            k,
            input.repair.as_ref(),
            input.complaint.as_ref(),
            against_kind,
            super::request::source_of(actor, community_id),
            &mut errors,
        ),
        None => vec![],
    };
    let closing = match (kind, &input.inquiry) {
        // Only customer service registers inquiries (RegisterSheet), and answers them.
        (Some(SheetKind::Inquiry), Some(inquiry)) => {
            super::request::answered_at_registration(app, community_id, inquiry, &mut errors).await?
        }
        _ => vec![],
    };
    let channel = Channel::parse(&input.channel).map_err(|e| errors.push("channel", e)).ok();
    let name = PersonName::parse(&input.requester_name).map_err(|e| errors.push("requester_name", e)).ok();
    let phone = if input.requester_phone.trim().is_empty() {
        None
    } else {
        Phone::parse(&input.requester_phone).map_err(|e| errors.push("requester_phone", e)).ok()
    };
    let reason = input.reason.trim();
    if reason.is_empty() {
        errors.push("reason", ValidationError::new("required"));
    } else if reason.chars().count() > REASON_MAX {
        errors.push("reason", ValidationError::new("text.too_long").with("max", REASON_MAX));
    }
    let room = if input.room_no.trim().is_empty() {
        None
    } else {
        RoomNo::parse(&input.room_no).map_err(|e| errors.push("room_no", e)).ok()
    };
    let signature = match channel {
        Some(c) if c.signs_at_registration() => match files::signature_png(&input.signature) {
            Ok(png) => Some(png),
            Err(_) if input.signature.trim().is_empty() => {
                errors.push("signature", ValidationError::new("signature.required"));
                None
            }
            Err(e) => {
                errors.push("signature", e);
                None
            }
        },
        _ => None,
    };
    let mut conn = app.store.read().acquire().await?;
    let unit = match &room {
        Some(r) => {
            let u = org::unit_by_room(&mut conn, community_id, r.as_str()).await?;
            if u.is_none() {
                errors.push("room_no", ValidationError::new("unit.unknown").with("room_no", r.as_str()));
            }
            u
        }
        None => None,
    };
    let mut sealed = SealedPhone::of(app, phone.as_ref());
    if let Some(pid) = input.person_id {
        if sp::person(app.store.read(), pid).await?.is_none_or(|p| p.community_id != community_id) {
            errors.push("person_id", ValidationError::new("person.unknown"));
        } else if phone.is_none()
            && let Some(file) = sp::sealed(&mut conn, pid).await?
            && file.phone_enc.is_some()
        {
            // The resident chosen in the finder: their phone from their file, so the
            // technician can call without the desk asking for the number again.
            sealed = SealedPhone {
                masked: file.phone_masked,
                last4: file.phone_last4.unwrap_or_default(),
                enc: file.phone_enc,
            };
        }
    }
    drop(conn);
    errors.into_result().map_err(AppError::Validation)?;
    Ok(Intake {
        kind: kind.expect("validated"),
        channel: channel.expect("validated"),
        name: name.expect("validated"),
        phone: sealed,
        reason: reason.to_string(),
        unit,
        signature,
        commands: intake,
        closing,
    })
}

/// Register a request. A visit carries the requester's signature; a call or letter is
/// listed as waiting for one (R-SHEET-3). The number is drawn inside the transaction
/// (gap-free, R-SHEET-2). A retry with the same idempotency key returns the first sheet.
#[tracing::instrument(name = "sheet.register", skip_all, fields(community = community_id, user = actor.user_id()))]
pub async fn register(
    app: &App,
    actor: &Actor,
    community_id: i64,
    input: &RegisterInput,
    idempotency_key: Option<&str>,
) -> AppResult<st::SheetRow> {
    let authority = registering(actor, community_id, &input.kind)?;
    if let Some(key) = idempotency_key
        && let Some(row) = registered_before(app, actor, key).await?
    {
        return Ok(row);
    }
    let tz = community_tz(app, community_id).await?;
    let intake = parse_registration(app, actor, community_id, input).await?;
    let signature = match &intake.signature {
        Some(png) => Some(Signed {
            file: files::store(app, "signature", png, files::Purpose::Signature)?,
            signer: intake.name.as_str().to_string(),
            typed: input.signature_typed,
        }),
        None => None,
    };
    let now = app.clock.now();
    let steps = first_steps(app, actor, community_id, &intake, input.follow_up_requested, now).await?;
    let year = i64::from(chrono::Datelike::year(&super::people::today_in(tz, now)));
    let new = Registration { community_id, person_id: input.person_id, intake, signature, year, now, idempotency_key };
    let id = match record_registration(app, actor, &authority, new, steps).await? {
        Written::New(id) => id,
        Written::Before(row) => return Ok(*row),
    };
    st::sheet(app.store.read(), id).await?.ok_or(AppError::NotFound)
}

/// Who may register: the desk; security out of hours and a technician on site take
/// repairs in too (R-REP-1).
fn registering(actor: &Actor, community_id: i64, kind: &str) -> AppResult<Authority> {
    match actor.authorize(Permission::RegisterSheet, community_id) {
        Ok(a) => Ok(a),
        Err(e) => match SheetKind::parse(kind) {
            Ok(SheetKind::Repair) => actor.authorize(Permission::RegisterRepair, community_id),
            _ => Err(e),
        },
    }
}

/// The sheet a retried registration (same person, same key) already made.
async fn registered_before(app: &App, actor: &Actor, key: &str) -> AppResult<Option<st::SheetRow>> {
    let mut conn = app.store.read().acquire().await?;
    let Some(id) = st::sheet_by_idempotency(&mut conn, actor.user_id(), key).await? else {
        return Ok(None);
    };
    drop(conn);
    Ok(Some(st::sheet(app.store.read(), id).await?.ok_or(AppError::NotFound)?))
}

/// A registration the domain accepted: the sheet, its first event and the steps that
/// follow at once (the flow's opening, a follow-up asked for, the hand-over to the desk).
struct FirstSteps {
    sheet: Sheet,
    first: Recorded,
    follow: Vec<Recorded>,
    /// The receptionist a sheet registered outside customer service went to (R-SHEET-6).
    handed_to: Option<i64>,
    /// The projection after the follow-up steps (read before the transaction: it needs
    /// the community's clock settings).
    projection: Option<Proj>,
}

async fn first_steps(
    app: &App,
    actor: &Actor,
    community_id: i64,
    intake: &Intake,
    follow_up_requested: bool,
    now: i64,
) -> AppResult<FirstSteps> {
    let by = actor.user_id();
    let (mut sheet, first) = Sheet::register(intake.kind, intake.channel, by, now);
    let mut follow = Vec::new();
    let asked = follow_up_requested.then(|| Command::RequestFollowUp { note: String::new() });
    for cmd in intake.commands.iter().chain(asked.as_ref()) {
        follow.push(sheet.handle(cmd, now, by).map_err(|r| AppError::rejected(r.0))?);
    }
    let unit_id = intake.unit.as_ref().map(|u| u.id);
    for cmd in super::request::after_intake(app, actor, community_id, &sheet, unit_id, now).await? {
        follow.push(sheet.handle(&cmd, now, by).map_err(|r| AppError::rejected(r.0))?);
    }
    for cmd in &intake.closing {
        follow.push(sheet.handle(cmd, now, by).map_err(|r| AppError::rejected(r.0))?);
    }
    // R-SHEET-6: the first-contact owner issues, collects and closes the sheet. Security
    // out of hours and a technician on site are not customer service ("会签单由客服部填写
    // 并发送"): their sheet goes to a receptionist, who answers for it from now on.
    let handed_to = if desk_member(actor, community_id).is_none() {
        let mut conn = app.store.read().acquire().await?;
        let to = st::least_busy(&mut conn, community_id, &["receptionist", "cs_supervisor", "cs_manager"]).await?;
        drop(conn);
        let to = to.ok_or(AppError::rejected("sheet.no_receptionist"))?;
        let role = actor.roles_in(community_id).first().map(|r| r.label_zh()).unwrap_or("");
        let cmd = Command::ReassignFirstContact { to, reason: format!("{role}受理，交客服部首接") };
        follow.push(sheet.handle(&cmd, now, by).map_err(|r| AppError::rejected(r.0))?);
        Some(to)
    } else {
        None
    };
    let projection = if follow.is_empty() {
        None
    } else {
        let mut history = vec![first.clone()];
        history.extend(follow.iter().cloned());
        Some(project(app, community_id, &sheet, &history, now, None).await?)
    };
    Ok(FirstSteps { sheet, first, follow, handed_to, projection })
}

/// What a registration writes besides its steps.
struct Registration<'a> {
    community_id: i64,
    person_id: Option<i64>,
    intake: Intake,
    signature: Option<Signed>,
    year: i64,
    now: i64,
    idempotency_key: Option<&'a str>,
}

/// A registration written, or the one a concurrent retry of it wrote first.
enum Written {
    New(i64),
    Before(Box<st::SheetRow>),
}

/// Write a registration in one transaction: the sheet under the year's next number, its
/// search terms, events, signature, the flow's rows, the audit entries, the projection
/// after the first steps and the notice to the receptionist it went to.
async fn record_registration(
    app: &App,
    actor: &Actor,
    authority: &Authority,
    r: Registration<'_>,
    steps: FirstSteps,
) -> AppResult<Written> {
    let Registration { community_id, person_id, intake, signature, year, now, idempotency_key } = r;
    let Intake { kind, channel, name, phone, reason, unit, .. } = intake;
    let FirstSteps { sheet: domain_sheet, first, follow, handed_to, projection } = steps;
    let new_events: Vec<Event> =
        std::iter::once(first.event.clone()).chain(follow.iter().map(|r| r.event.clone())).collect();
    let prepared = super::request::prepare(app, community_id, &new_events).await?;
    let mut tx = app.store.begin().await?;
    let seq = st::next_seq(&mut tx, community_id, year).await?;
    let no = number::format("KF", year as i32, seq);
    let new = st::NewSheet {
        community_id,
        number: &no,
        year,
        seq,
        kind: kind.as_str(),
        channel: channel.as_str(),
        unit_id: unit.as_ref().map(|u| u.id),
        person_id,
        requester_name: name.as_str(),
        requester_phone_masked: &phone.masked,
        requester_phone_last4: &phone.last4,
        requester_phone_enc: phone.enc.as_deref(),
        reason: &reason,
        first_contact_id: actor.user_id(),
        signature_pending: domain_sheet.signature_pending,
        registered_at: now,
        idempotency_key,
    };
    let id = match st::insert_sheet(&mut tx, &new).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) && idempotency_key.is_some() => {
            // The same registration committed concurrently: answer with it.
            drop(tx);
            let row = registered_before(app, actor, idempotency_key.unwrap_or_default()).await?;
            return row.map(|r| Written::Before(Box::new(r))).ok_or(AppError::Conflict { code: "duplicate" });
        }
        Err(e) => return Err(e.into()),
    };
    let words = huiqian_domain::sheet::search::terms(&format!("{reason} {}", name.as_str()));
    st::insert_terms(&mut tx, community_id, id, &words).await?;
    let registered = append_events(&mut tx, id, 1, std::slice::from_ref(&first), authority).await?;
    if let (Some(s), true) = (&signature, channel.signs_at_registration()) {
        insert_signature(&mut tx, community_id, id, s, actor.user_id(), now).await?;
    }
    // The flow's rows before the audit entries: appending to the audit chain takes its
    // head's lock until commit, so the chain is written last.
    let unit_id = unit.as_ref().map(|u| u.id);
    super::request::persist(app, &mut tx, &prepared, &domain_sheet, id, &no, community_id, unit_id, true).await?;
    let mut detail = json!({
        "number": no, "kind": kind.as_str(), "channel": channel.as_str(), "room_no": unit.as_ref().map(|u| u.room_no.clone()),
        "requester": name.as_str(), "phone": phone.masked, "signature_pending": domain_sheet.signature_pending,
    });
    if let Some(s) = &signature {
        detail["signature_typed"] = json!(s.typed);
    }
    audit::record_covering(
        app,
        &mut tx,
        actor,
        authority,
        "sheet.registered",
        "sheet",
        id,
        detail,
        &registered[0].covers,
    )
    .await?;
    if let Some(projection) = &projection {
        let appended = append_events(&mut tx, id, 2, &follow, authority).await?;
        audit_appended(app, &mut tx, actor, authority, id, &no, &appended, None).await?;
        for h in &domain_sheet.handovers {
            st::save_handover(&mut tx, community_id, id, h).await?;
        }
        st::update_projection(&mut tx, id, 1, &projection.as_projection(), now).await?;
    }
    if let Some(to) = handed_to {
        let dedupe = format!("first_contact_assigned:{id}:{to}");
        super::notify::send(app, &mut tx, to, community_id, id, &no, None, "first_contact_assigned", &dedupe).await?;
    }
    tx.commit().await?;
    tracing::info!(sheet = id, number = %no, kind = kind.as_str(), "sheet registered");
    Ok(Written::New(id))
}

/// A sheet with everything its page shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SheetDetail {
    pub sheet: st::SheetRow,
    pub handovers: Vec<st::HandoverRow>,
    pub events: Vec<st::EventRow>,
    pub attachments: Vec<st::Attachment>,
    #[schema(value_type = Object)]
    pub clock: sla::ClockStatus,
    /// The flow's part (repair, complaint, inquiry, suggestion) as the history makes it.
    #[schema(value_type = Object)]
    pub case: huiqian_domain::sheet::request::Case,
    /// The flow's projection: arrival due, lateness, ledgers' columns.
    pub request: Option<crate::store::request::Job>,
    pub follow_ups: Vec<crate::store::followup::FollowUp>,
}

pub(crate) fn recorded(rows: &[st::EventRow]) -> AppResult<Vec<Recorded>> {
    rows.iter()
        .map(|r| {
            let event: Event =
                serde_json::from_str(&r.data).map_err(|e| AppError::Internal(format!("sheet event {}: {e}", r.seq)))?;
            Ok(Recorded { event, at: r.at, by: r.by_user_id })
        })
        .collect()
}

pub async fn detail(app: &App, actor: &Actor, id: i64) -> AppResult<SheetDetail> {
    let sheet = st::sheet(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(sheet.community_id)?;
    let mut conn = app.store.read().acquire().await?;
    let events = st::events(&mut conn, id).await?;
    drop(conn);
    let tz = community_tz(app, sheet.community_id).await?;
    let spec = super::clock::collection_spec(app, sheet.community_id, &sheet.kind).await?;
    let cal = super::clock::calendar(app, sheet.community_id, tz).await?;
    let history = recorded(&events)?;
    let clock = sla::clock(&spec, &cal, &history, app.clock.now());
    let case = Sheet::replay(&history).map(|s| s.case).unwrap_or_default();
    Ok(SheetDetail {
        case,
        request: crate::store::request::job(app.store.read(), id).await?,
        follow_ups: crate::store::followup::follow_ups_of(app.store.read(), id).await?,
        handovers: st::handovers_of(app.store.read(), id).await?,
        attachments: st::attachments_of(app.store.read(), id).await?,
        events,
        clock,
        sheet,
    })
}

/// What someone asks to do, as the API and forms send it: a step of the sheet's own
/// journey, or of its flow. The JSON is one object whose `action` names the step.
#[derive(Debug, Clone)]
pub enum Action {
    Sheet(SheetAction),
    Flow(FlowAction),
}

/// A step of the sheet's own journey (R-SHEET-1 … R-SHEET-12).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SheetAction {
    /// Capture the requester's later signature (补签).
    CaptureSignature {
        signature: String,
        signer: String,
        /// Typed with the keyboard and confirmed rather than drawn.
        #[serde(default)]
        signature_typed: bool,
    },
    /// Customer service's opinion, sent to a department (R-SHEET-4).
    Dispatch {
        department_id: i64,
        #[serde(default)]
        to_user_id: Option<i64>,
        opinion: String,
    },
    /// The receiving department confirms receipt.
    Acknowledge {
        handover: u32,
    },
    StartWork {
        handover: u32,
    },
    /// The department's opinion/result and signature (R-SHEET-5).
    Return {
        handover: u32,
        result: String,
        signer: String,
    },
    /// A new deadline, explained and signed by the head of the responsible department.
    Extend {
        due_at: i64,
        explanation: String,
    },
    Suspend {
        explanation: String,
    },
    Resume {
        #[serde(default)]
        note: String,
    },
    Terminate {
        explanation: String,
    },
    /// Beyond the centre (R-SHEET-10).
    BeyondCentre {
        explanation: String,
        #[serde(default)]
        third_party: Option<String>,
    },
    RecordThirdPartyReceipt {
        evidence: String,
    },
    /// Collect with the acceptance opinion confirmed by the party concerned (R-SHEET-7).
    Collect {
        opinion: String,
        #[serde(default)]
        signature: String,
        #[serde(default)]
        signer: String,
        /// The signature was typed with the keyboard and confirmed rather than drawn.
        #[serde(default)]
        signature_typed: bool,
        #[serde(default)]
        phone_confirmed_at: Option<i64>,
        #[serde(default)]
        phone_note: String,
        #[serde(default)]
        as_director: bool,
        /// Why someone other than the first-contact receptionist collects it (required then,
        /// R-SHEET-6).
        #[serde(default)]
        on_behalf: String,
    },
    Archive,
    /// Customer service signs for a handover that came back (R-SHEET-5: "接收人必须在会签单
    /// 交接记录本上签字确认"). Collecting, sending out again or resuming signs for any still
    /// unsigned, by whoever does it.
    ReceiveReturn {
        handover: u32,
    },
    /// A customer-service manager records why the party's signature will not be had, so
    /// that the sheet may be archived without it (R-SHEET-3, R-SHEET-7).
    WaiveSignature {
        reason: String,
    },
    /// The resident asks to be followed up once the sheet is collected (R-FU-1).
    RequestFollowUp {
        #[serde(default)]
        note: String,
    },
    /// A manager or supervisor hands the sheet to another receptionist (R-SHEET-6).
    ReassignFirstContact {
        to_user_id: i64,
        reason: String,
    },
}

impl<'de> Deserialize<'de> for Action {
    /// The `action` tag says which of the two it is; the rest is read by that type, so a
    /// refusal names the field of the step asked for.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        let flow = match v.get("action") {
            Some(serde_json::Value::String(tag)) => FlowAction::TAGS.contains(&tag.as_str()),
            Some(_) => return Err(D::Error::custom("`action` must be a string")),
            None => return Err(D::Error::missing_field("action")),
        };
        if flow {
            FlowAction::deserialize(v).map(Action::Flow).map_err(D::Error::custom)
        } else {
            SheetAction::deserialize(v).map(Action::Sheet).map_err(D::Error::custom)
        }
    }
}

impl utoipa::PartialSchema for Action {
    /// One `oneOf` of every step, the sheet's and the flows', as a client sees them.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{OneOfBuilder, Schema};
        fn steps(schema: RefOr<Schema>) -> Vec<RefOr<Schema>> {
            match schema {
                RefOr::T(Schema::OneOf(one)) => one.items,
                other => vec![other],
            }
        }
        let mut one = OneOfBuilder::new().description(Some("What someone asks to do, as the API and forms send it."));
        for step in steps(SheetAction::schema()).into_iter().chain(steps(FlowAction::schema())) {
            one = one.item(step);
        }
        RefOr::T(Schema::OneOf(one.build()))
    }
}

impl utoipa::ToSchema for Action {
    fn schemas(out: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <SheetAction as utoipa::ToSchema>::schemas(out);
        <FlowAction as utoipa::ToSchema>::schemas(out);
    }
}

/// Does the actor act for this department (a grant naming it, or a role of its kind)?
pub(crate) async fn acts_for(
    app: &App,
    actor: &Actor,
    community_id: i64,
    department_id: i64,
) -> AppResult<Option<(Role, bool)>> {
    let dep = org::department(app.store.read(), department_id)
        .await?
        .filter(|d| d.community_id == community_id)
        .ok_or(AppError::NotFound)?;
    let kind = DepartmentKind::parse(&dep.kind).ok();
    let mut conn = app.store.read().acquire().await?;
    let explicit = st::memberships(&mut conn, actor.user_id(), community_id).await?;
    drop(conn);
    let head_explicit = explicit.iter().any(|(d, head)| *d == department_id && *head);
    let member_explicit = explicit.iter().any(|(d, _)| *d == department_id);
    for role in actor.roles_in(community_id) {
        let by_kind = kind.is_some() && role.department_kind() == kind;
        let head = head_explicit || kind.is_some_and(|k| role.heads(k));
        if member_explicit || by_kind || head {
            return Ok(Some((role, head)));
        }
    }
    Ok(None)
}

/// The departments whose work the sheet is: those holding it; while it is suspended, those
/// that handed it back.
fn working_departments(sheet: &Sheet) -> Vec<i64> {
    let mut deps: Vec<i64> = sheet.departments_out().map(|h| h.department).collect();
    if deps.is_empty() && sheet.state == huiqian_domain::sheet::SheetState::Suspended {
        for h in &sheet.handovers {
            let later = sheet.handovers.iter().any(|x| x.department == h.department && x.no > h.no);
            if h.state == huiqian_domain::sheet::HandoverState::Suspended && !later {
                deps.push(h.department);
            }
        }
    }
    deps.sort_unstable();
    deps.dedup();
    deps
}

/// Who may sign an extension, a suspension or a termination (R-SHEET-8: "必须由相关责任部门
/// 的负责人…签字"): the head of a department whose work it is (a grant marked head of that
/// department); the customer-service manager only for customer service's own work (nothing
/// with a department); the centre director always.
pub(crate) async fn head_authority(app: &App, actor: &Actor, community_id: i64, sheet: &Sheet) -> AppResult<Authority> {
    if actor.roles_in(community_id).contains(&Role::CentreDirector) {
        return actor.holding(Role::CentreDirector, community_id);
    }
    let mut deps = working_departments(sheet);
    if deps.is_empty() {
        let all = org::departments(app.store.read(), community_id).await?;
        deps.extend(all.iter().filter(|d| d.kind == DepartmentKind::CustomerService.as_str()).map(|d| d.id));
    }
    for d in deps {
        if let Some((role, true)) = acts_for(app, actor, community_id, d).await? {
            return actor.holding(role, community_id);
        }
    }
    Err(AppError::rejected("sheet.head_signature_required"))
}

/// A role of customer service that meets residents and registers their requests: a
/// receptionist, a building manager, a move-in receptionist, the department's management.
fn desk_member(actor: &Actor, community_id: i64) -> Option<Role> {
    let roles = actor.roles_in(community_id);
    roles.iter().copied().find(|r| r.allows(Permission::HandleSheet)).or_else(|| {
        roles.into_iter().find(|r| {
            r.department_kind() == Some(DepartmentKind::CustomerService) && r.allows(Permission::RegisterSheet)
        })
    })
}

/// Customer service's part of a sheet — its opinion and dispatch, signing for what comes
/// back, collection and archive: the desk and its management, and the sheet's own
/// first-contact owner where that is a member of customer service who registered it (a
/// building manager or move-in receptionist). R-SHEET-6: "业主来访的接待人员，即会签单的
/// 填写、发出、收回人员".
pub(crate) fn cs_part(actor: &Actor, community_id: i64, sheet: &Sheet) -> AppResult<Authority> {
    cs_part_of(actor, community_id, sheet.first_contact)
}

fn cs_part_of(actor: &Actor, community_id: i64, first_contact: i64) -> AppResult<Authority> {
    match actor.authorize(Permission::HandleSheet, community_id) {
        Ok(a) => Ok(a),
        Err(e) if first_contact != actor.user_id() => Err(e),
        Err(e) => match desk_member(actor, community_id) {
            Some(role) => actor.holding(role, community_id),
            None => Err(e),
        },
    }
}

/// May this viewer take customer service's part of this sheet (for showing the forms)?
pub fn may_handle(actor: &Actor, community_id: i64, first_contact: i64) -> bool {
    cs_part_of(actor, community_id, first_contact).is_ok()
}

/// Sign for every handover back with customer service that nobody there signed for: the
/// person collecting, sending out again or resuming has the sheet in hand.
fn receipts(sheet: &Sheet) -> Vec<Command> {
    sheet.returns_to_receive().map(|h| Command::ReceiveReturn { handover: h.no }).collect()
}

/// A department's part of its handover: its members', or the named receiver's.
async fn handover_part(app: &App, actor: &Actor, c: i64, sheet: &Sheet, handover: u32) -> AppResult<Authority> {
    let h = sheet.handover(handover).ok_or(AppError::rejected("sheet.handover_unknown"))?;
    if h.to_user == Some(actor.user_id()) {
        return actor.any_role(c);
    }
    let (role, _) = acts_for(app, actor, c, h.department).await?.ok_or(AppError::Forbidden)?;
    actor.holding(role, c)
}

/// The commands an action becomes, with the authority it was allowed on and the
/// signature it brings (stored before the transaction, linked to the sheet in it).
pub(crate) struct Plan {
    pub authority: Authority,
    pub commands: Vec<Command>,
    pub signature: Option<Signed>,
}

/// A signature stored as an image: who signed, and whether they drew it or, with the pad's
/// keyboard alternative, typed their name and confirmed it (recorded as typed).
pub(crate) struct Signed {
    pub file: files::Stored,
    pub signer: String,
    pub typed: bool,
}

/// A signature from the form, stored as an image under the signer's name.
pub(crate) fn stored_signature(app: &App, data: &str, signer: &str, typed: bool) -> AppResult<Signed> {
    let png = files::signature_png(data).map_err(|e| AppError::field("signature", e))?;
    let file = files::store(app, "signature", &png, files::Purpose::Signature)?;
    Ok(Signed { file, signer: signer.trim().to_string(), typed })
}

/// Link a stored signature to its sheet, in the transaction of the step it signs.
pub(crate) async fn insert_signature(
    tx: &mut sqlx::AnyConnection,
    community_id: i64,
    sheet_id: i64,
    s: &Signed,
    by: i64,
    now: i64,
) -> AppResult<i64> {
    let f = &s.file;
    let name = "signature.png";
    Ok(st::insert_attachment(
        tx,
        community_id,
        sheet_id,
        "signature",
        &f.sha256,
        f.size,
        f.mime,
        name,
        &s.signer,
        s.typed,
        by,
        now,
    )
    .await?)
}

/// Carry out an action on a sheet whose projection was read at `version`: who may, the
/// commands it becomes, the domain's decision on each, then one transaction.
#[tracing::instrument(name = "sheet.act", skip_all, fields(sheet = id, version, user = actor.user_id()))]
pub async fn act(app: &App, actor: &Actor, id: i64, version: i64, action: &Action) -> AppResult<SheetDetail> {
    let row = st::sheet(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let c = row.community_id;
    actor.sees(c)?;
    if matches!(action, Action::Sheet(SheetAction::Archive)) {
        // R-KEY-3: a key taken for the work must be back before the sheet is filed.
        let mut conn = app.store.read().acquire().await?;
        super::keys::check_no_key_out(&mut conn, id).await?;
    }
    let mut conn = app.store.read().acquire().await?;
    let rows = st::events(&mut conn, id).await?;
    drop(conn);
    let history = recorded(&rows)?;
    let mut sheet =
        Sheet::replay(&history).ok_or_else(|| AppError::Internal(format!("sheet {id} has no registration")))?;
    let plan = match action {
        Action::Flow(step) => super::request::plan(app, actor, c, &sheet, step).await?,
        Action::Sheet(step) => plan(app, actor, c, &sheet, step).await?,
    };
    let now = app.clock.now();
    let before = sheet.clone();
    let mut recs = Vec::with_capacity(plan.commands.len());
    for command in &plan.commands {
        recs.push(sheet.handle(command, now, actor.user_id()).map_err(refused)?);
    }
    let taken = Taken { row: &row, version, history, before: &before, sheet: &sheet, recs, now };
    record(app, actor, &plan, taken).await?;
    detail(app, actor, id).await
}

/// Turn a step of the sheet into commands, checking who may take it.
async fn plan(app: &App, actor: &Actor, c: i64, sheet: &Sheet, step: &SheetAction) -> AppResult<Plan> {
    // R-SHEET-6: another receptionist may collect it, saying why (the director writing
    // the acceptance of a matter beyond the centre needs no other reason, R-SHEET-10).
    if let SheetAction::Collect { as_director, on_behalf, .. } = step
        && actor.user_id() != sheet.first_contact
        && !*as_director
        && on_behalf.trim().is_empty()
    {
        return Err(AppError::field("on_behalf", ValidationError::new("sheet.on_behalf_reason_required")));
    }
    let authority = step_authority(app, actor, c, sheet, step.step(), step.on()).await?;
    let (command, signature) = command(app, actor, c, sheet, step).await?;
    // Customer service signs for what came back before it acts on the sheet again.
    let mut commands = match step {
        SheetAction::Dispatch { .. }
        | SheetAction::Resume { .. }
        | SheetAction::BeyondCentre { .. }
        | SheetAction::Collect { .. } => receipts(sheet),
        _ => vec![],
    };
    // Resuming a sheet the departments handed back sends it to them again: new
    // handovers in the ledger, each to be signed for (R-SHEET-4, R-SHEET-8).
    let resent = match &command {
        Command::Resume { note } if sheet.suspended_to_desk => redispatch(app, sheet, note).await?,
        _ => vec![],
    };
    commands.push(command);
    commands.extend(resent);
    Ok(Plan { authority, commands, signature })
}

/// The command a step of the sheet is, from the form's input: departments and people it
/// names checked against the community, a signature drawn stored.
async fn command(
    app: &App,
    actor: &Actor,
    c: i64,
    sheet: &Sheet,
    step: &SheetAction,
) -> AppResult<(Command, Option<Signed>)> {
    let mut signature = None;
    let command = match step {
        SheetAction::CaptureSignature { signature: data, signer, signature_typed } => {
            signature = Some(stored_signature(app, data, signer, *signature_typed)?);
            Command::CaptureSignature { signer: signer.clone() }
        }
        SheetAction::Dispatch { department_id, to_user_id, opinion } => {
            let kind = org::department(app.store.read(), *department_id)
                .await?
                .filter(|d| d.community_id == c && d.active == 1)
                .and_then(|d| DepartmentKind::parse(&d.kind).ok())
                .ok_or_else(|| AppError::field("department_id", ValidationError::new("department.unknown")))?;
            if let Some(u) = to_user_id {
                let mut conn = app.store.read().acquire().await?;
                let grants = store::auth::grants(&mut conn, *u).await?;
                if !grants.iter().any(|g| g.community == Some(c)) {
                    return Err(AppError::field("to_user_id", ValidationError::new("sheet.receiver_unknown")));
                }
            }
            Command::Dispatch { department: *department_id, kind, to_user: *to_user_id, opinion: opinion.clone() }
        }
        SheetAction::Acknowledge { handover } => Command::Acknowledge { handover: *handover },
        SheetAction::StartWork { handover } => Command::StartWork { handover: *handover },
        SheetAction::Return { handover, result, signer } => {
            Command::Return { handover: *handover, result: result.clone(), signer: signer.clone() }
        }
        SheetAction::Extend { due_at, explanation } => {
            Command::Extend { due_at: *due_at, explanation: explanation.clone(), signed_by: Some(actor.user_id()) }
        }
        SheetAction::Suspend { explanation } => {
            Command::Suspend { explanation: explanation.clone(), signed_by: Some(actor.user_id()) }
        }
        SheetAction::Terminate { explanation } => {
            Command::Terminate { explanation: explanation.clone(), signed_by: Some(actor.user_id()) }
        }
        SheetAction::Resume { note } => Command::Resume { note: note.clone() },
        SheetAction::BeyondCentre { explanation, third_party } => {
            Command::BeyondCentre { explanation: explanation.clone(), third_party: third_party.clone() }
        }
        SheetAction::RecordThirdPartyReceipt { evidence } => {
            Command::RecordThirdPartyReceipt { evidence: evidence.clone() }
        }
        SheetAction::ReceiveReturn { handover } => Command::ReceiveReturn { handover: *handover },
        SheetAction::WaiveSignature { reason } => Command::WaiveSignature { reason: reason.clone() },
        SheetAction::Collect {
            opinion,
            signature: data,
            signer,
            signature_typed,
            phone_confirmed_at,
            phone_note,
            as_director,
            on_behalf,
        } => {
            let confirmation = if !data.trim().is_empty() {
                signature = Some(stored_signature(app, data, signer, *signature_typed)?);
                Some(Confirmation::Signature { signer: signer.clone() })
            } else if let Some(at) = phone_confirmed_at {
                Some(Confirmation::Phone { at: *at, note: phone_note.clone() })
            } else {
                // A repair the resident signed off on the technician's phone (R-REP-5) is
                // confirmed by that signature.
                sheet
                    .case
                    .repair
                    .as_ref()
                    .filter(|r| r.completed_at.is_some() && !r.completion_signer.is_empty())
                    .map(|r| Confirmation::Signature { signer: r.completion_signer.clone() })
            };
            let on_behalf =
                (actor.user_id() != sheet.first_contact && !*as_director).then(|| on_behalf.trim().to_string());
            Command::Collect { opinion: opinion.clone(), confirmation, by_director: *as_director, on_behalf }
        }
        SheetAction::Archive => Command::Archive,
        SheetAction::RequestFollowUp { note } => Command::RequestFollowUp { note: note.clone() },
        SheetAction::ReassignFirstContact { to_user_id, reason } => {
            let mut conn = app.store.read().acquire().await?;
            let target = store::auth::grants(&mut conn, *to_user_id).await?;
            drop(conn);
            let ok = target
                .iter()
                .any(|g| (g.community == Some(c) || g.community.is_none()) && g.role.allows(Permission::HandleSheet));
            if !ok {
                return Err(AppError::field("to_user_id", ValidationError::new("sheet.not_a_receptionist")));
            }
            Command::ReassignFirstContact { to: *to_user_id, reason: reason.clone() }
        }
    };
    Ok((command, signature))
}

/// A sheet resumed after its departments handed it back goes to each of them again.
async fn redispatch(app: &App, sheet: &Sheet, note: &str) -> AppResult<Vec<Command>> {
    let mut out = vec![];
    for department in working_departments(sheet) {
        let kind = org::department(app.store.read(), department)
            .await?
            .and_then(|d| DepartmentKind::parse(&d.kind).ok())
            .ok_or_else(|| AppError::Internal(format!("department {department} has no kind")))?;
        let opinion =
            if note.trim().is_empty() { "恢复办理".to_string() } else { format!("恢复办理：{}", note.trim()) };
        out.push(Command::Dispatch { department, kind, to_user: None, opinion });
    }
    Ok(out)
}

/// An action the domain accepted: the sheet before and after, and the events it made.
struct Taken<'a> {
    row: &'a st::SheetRow,
    /// The projection's version the action was read at.
    version: i64,
    history: Vec<Recorded>,
    before: &'a Sheet,
    sheet: &'a Sheet,
    recs: Vec<Recorded>,
    now: i64,
}

/// Write an accepted action in one transaction: the projection at the version it was read
/// at (or a conflict), the events, the new handovers, the signature, the flow's and the
/// follow-up's rows, and the audit entries.
async fn record(app: &App, actor: &Actor, plan: &Plan, t: Taken<'_>) -> AppResult<()> {
    let (row, sheet, now) = (t.row, t.sheet, t.now);
    let (id, c) = (row.id, row.community_id);
    let first_seq = t.history.len() as i64 + 1;
    let mut all = t.history;
    all.extend(t.recs.iter().cloned());
    let archived_at = t.recs.iter().any(|r| matches!(r.event, Event::Archived)).then_some(now).or(row.archived_at);
    let projection = project(app, c, sheet, &all, now, archived_at).await?;
    let new_events: Vec<Event> = t.recs.iter().map(|r| r.event.clone()).collect();
    let prepared = super::request::prepare(app, c, &new_events).await?;
    let follow_up = super::followup::prepare(app, c, sheet, &new_events).await?;
    let mut tx = app.store.begin().await?;
    if !st::update_projection(&mut tx, id, t.version, &projection.as_projection(), now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    let mut appended = match append_events(&mut tx, id, first_seq, &t.recs, &plan.authority).await {
        Err(AppError::Conflict { .. }) => return Err(AppError::Conflict { code: "stale_version" }),
        other => other?,
    };
    for h in sheet.handovers.iter().filter(|h| !t.before.handovers.contains(h)) {
        st::save_handover(&mut tx, c, id, h).await?;
    }
    if let Some(s) = &plan.signature {
        insert_signature(&mut tx, c, id, s, actor.user_id(), now).await?;
        // The step the signature confirms is the last event; its entry says how it was signed.
        if let Some(last) = appended.last_mut() {
            last.signature_typed = Some(s.typed);
        }
    }
    // The flow's rows before the audit entries, which lock the chain's head until commit.
    super::request::persist(app, &mut tx, &prepared, sheet, id, &row.number, c, row.unit_id, false).await?;
    if let Some(p) = &follow_up {
        super::followup::decide(app, &mut tx, p, sheet, id, &row.number, c, now).await?;
    }
    let authority = &plan.authority;
    audit_appended(app, &mut tx, actor, authority, id, &row.number, &appended, Some(sheet.state.as_str())).await?;
    tx.commit().await?;
    tracing::info!(events = appended.len(), state = sheet.state.as_str(), "sheet action recorded");
    Ok(())
}

/// A domain refusal in the user's terms: the rules about where a complaint may go name
/// the department field the form offers (R-CMP-3), the rest refuse the step.
pub(crate) fn refused(r: huiqian_domain::sheet::Refusal) -> AppError {
    match r.0 {
        "complaint.director_required" => AppError::field("department_id", ValidationError::new(r.0)),
        code => AppError::rejected(code),
    }
}

/// An event appended to a sheet's history, and what its audit entry vouches for.
struct Appended {
    name: &'static str,
    data: serde_json::Value,
    covers: store::audit::Covers,
    /// For the step a signature confirms: whether it was typed rather than drawn.
    signature_typed: Option<bool>,
}

/// Append events to a sheet's history from `first_seq`, as their authority's role: the one
/// way registration and every action write a sheet's events. Two writers appending at the
/// same place clash on the sequence number: the later gets a conflict, never a fork.
async fn append_events(
    tx: &mut sqlx::AnyConnection,
    id: i64,
    first_seq: i64,
    recs: &[Recorded],
    authority: &Authority,
) -> AppResult<Vec<Appended>> {
    let mut out = Vec::with_capacity(recs.len());
    for (i, rec) in recs.iter().enumerate() {
        let seq = first_seq + i as i64;
        let data = serde_json::to_string(&rec.event).expect("events serialise");
        let digest =
            match st::insert_event(tx, id, seq, rec.at, rec.by, authority.role().as_str(), rec.event.name(), &data)
                .await
            {
                Ok(d) => d,
                Err(e) if store::is_unique_violation(&e) => return Err(AppError::Conflict { code: "stale_version" }),
                Err(e) => return Err(e.into()),
            };
        let mut covers = store::audit::Covers::default();
        covers.event(id, seq, digest);
        out.push(Appended {
            name: rec.event.name(),
            data: serde_json::to_value(&rec.event).expect("events serialise"),
            covers,
            signature_typed: None,
        });
    }
    Ok(out)
}

/// One audit entry per appended event, each covering its event (`sheet.<event>`, with the
/// sheet's number and, after an action, the state it left the sheet in). Written last in
/// the transaction: appending to the audit chain holds its head until commit.
#[allow(clippy::too_many_arguments)]
async fn audit_appended(
    app: &App,
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    authority: &Authority,
    id: i64,
    number: &str,
    appended: &[Appended],
    state: Option<&str>,
) -> AppResult<()> {
    for a in appended {
        let mut detail = json!({"number": number, "event": a.data});
        if let Some(state) = state {
            detail["state"] = json!(state);
        }
        if let Some(typed) = a.signature_typed {
            detail["signature_typed"] = json!(typed);
        }
        audit::record_covering(app, tx, actor, authority, &format!("sheet.{}", a.name), "sheet", id, detail, &a.covers)
            .await?;
    }
    Ok(())
}

/// The sheet row's projection after its events: state, flags and the collection clock.
pub(crate) struct Proj {
    state: &'static str,
    first_contact_id: i64,
    signature_pending: bool,
    suspension: String,
    outcome: Option<&'static str>,
    dispatched_at: Option<i64>,
    collected_at: Option<i64>,
    archived_at: Option<i64>,
    clock: sla::ClockStatus,
}

impl Proj {
    pub(crate) fn as_projection(&self) -> st::Projection<'_> {
        st::Projection {
            state: self.state,
            first_contact_id: self.first_contact_id,
            signature_pending: self.signature_pending,
            outcome: self.outcome,
            dispatched_at: self.dispatched_at,
            collected_at: self.collected_at,
            archived_at: self.archived_at,
            due_at: self.clock.due_at,
            warn_at: self.clock.warn_at,
            clock_state: self.clock.state.as_str(),
            suspension: &self.suspension,
        }
    }
}

pub(crate) async fn project(
    app: &App,
    c: i64,
    sheet: &Sheet,
    all: &[Recorded],
    now: i64,
    archived_at: Option<i64>,
) -> AppResult<Proj> {
    let tz = community_tz(app, c).await?;
    let spec = super::clock::collection_spec(app, c, sheet.kind.as_str()).await?;
    let cal = super::clock::calendar(app, c, tz).await?;
    let clock = sla::clock(&spec, &cal, all, now);
    let outcome = sheet.outcome.as_ref().map(|o| match o {
        huiqian_domain::sheet::Outcome::Terminated { .. } => "terminated",
        huiqian_domain::sheet::Outcome::BeyondCentre { .. } => "beyond_centre",
    });
    let suspension = if sheet.state == huiqian_domain::sheet::SheetState::Suspended {
        all.iter()
            .rev()
            .find_map(|r| match &r.event {
                Event::Suspended { explanation, .. } => Some(explanation.clone()),
                _ => None,
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(Proj {
        state: sheet.state.as_str(),
        first_contact_id: sheet.first_contact,
        // Waiting for the party's signature: at registration (补签) or after a phone acceptance.
        signature_pending: sheet.signature_owed(),
        suspension,
        outcome,
        dispatched_at: sheet.first_dispatched_at(),
        collected_at: sheet.acceptance.as_ref().map(|a| a.at),
        archived_at,
        clock,
    })
}

/// The queues of the desk and the departments (R-SHEET-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueName {
    /// My open sheets.
    Mine,
    /// Sheets to chase back, soonest due first.
    Chase,
    /// Sheets my departments hold.
    Department,
    /// Past the collection limit.
    Overdue,
    /// Waiting for the requester's signature.
    Signature,
}

pub async fn queue(
    app: &App,
    actor: &Actor,
    community_id: i64,
    name: QueueName,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<st::SheetRow>> {
    actor.sees(community_id)?;
    let (limit, offset) = (limit.clamp(1, 500), offset.max(0));
    let pool = app.store.read();
    let communities = [community_id];
    Ok(match name {
        QueueName::Mine => st::queue(pool, &communities, &st::Queue::MineOpen(actor.user_id()), limit, offset).await?,
        QueueName::Chase => st::queue(pool, &communities, &st::Queue::ToChase, limit, offset).await?,
        QueueName::Overdue => {
            st::queue(pool, &communities, &st::Queue::Overdue(app.clock.now()), limit, offset).await?
        }
        QueueName::Signature => st::queue(pool, &communities, &st::Queue::SignaturePending, limit, offset).await?,
        QueueName::Department => {
            let deps = org::departments(pool, community_id).await?;
            let mut out = Vec::new();
            for d in deps {
                if acts_for(app, actor, community_id, d.id).await?.is_some() {
                    out.extend(st::queue(pool, &communities, &st::Queue::Department(d.id), limit, offset).await?);
                }
            }
            out.sort_by_key(|s| (s.due_at.is_none(), s.due_at, s.id));
            out.dedup_by_key(|s| s.id);
            out.truncate(limit as usize);
            out
        }
    })
}

/// The customer-service archive (R-SHEET-11).
pub async fn search(app: &App, actor: &Actor, community_id: i64, f: st::Search) -> AppResult<Vec<st::SheetRow>> {
    actor.sees(community_id)?;
    Ok(st::search(
        app.store.read(),
        community_id,
        &st::Search { limit: f.limit.clamp(1, 500), offset: f.offset.max(0), ..f },
    )
    .await?)
}

/// The handover ledger (R-SHEET-4).
pub async fn ledger(
    app: &App,
    actor: &Actor,
    community_id: i64,
    f: st::LedgerFilter,
) -> AppResult<Vec<st::HandoverRow>> {
    actor.sees(community_id)?;
    Ok(st::ledger(
        app.store.read(),
        community_id,
        &st::LedgerFilter { limit: f.limit.clamp(1, 10_000), offset: f.offset.max(0), ..f },
    )
    .await?)
}

/// The whole handover ledger's keys in its order, for a download ([`ledger_rows`] reads
/// the rows a page at a time).
pub async fn ledger_keys(
    app: &App,
    actor: &Actor,
    community_id: i64,
    f: &st::LedgerFilter,
) -> AppResult<Vec<(i64, i64)>> {
    actor.sees(community_id)?;
    Ok(st::ledger_keys(app.store.read(), community_id, f).await?)
}

/// Handovers of the ledger by key, in that order.
pub async fn ledger_rows(
    app: &App,
    actor: &Actor,
    community_id: i64,
    keys: &[(i64, i64)],
) -> AppResult<Vec<st::HandoverRow>> {
    actor.sees(community_id)?;
    Ok(st::handovers(app.store.read(), community_id, keys).await?)
}

/// Recovery rate per receptionist for a period (R-SHEET-9), for managers.
pub async fn recovery(
    app: &App,
    actor: &Actor,
    community_id: i64,
    from_ms: i64,
    to_ms: i64,
) -> AppResult<Vec<st::Recovery>> {
    actor.may_read(Permission::ReassignSheet, community_id)?;
    Ok(st::recovery(app.store.read(), community_id, from_ms, to_ms).await?)
}

/// The desk's finder: a room number (`3-2-15…`), the last four digits of a phone, or a
/// name; units with their people, masked.
pub async fn find_requester(app: &App, actor: &Actor, community_id: i64, q: &str) -> AppResult<Vec<st::Candidate>> {
    actor.sees(community_id)?;
    let q = q.trim();
    if q.is_empty() {
        return Ok(vec![]);
    }
    let finder = if q.len() == 4 && q.chars().all(|c| c.is_ascii_digit()) {
        st::Finder::Last4(q.to_string())
    } else if q.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        st::Finder::Room(RoomNo::parse(q).map(|r| r.as_str().to_string()).unwrap_or_else(|_| q.to_uppercase()))
    } else {
        st::Finder::Name(q.to_string())
    };
    let mut found = st::find_candidates(app.store.read(), community_id, &finder).await?;
    // Rooms as people count them: 5-1-101 before 5-1-1001.
    found.sort_by(|a, b| huiqian_domain::unit::natural(&a.room_no, &b.room_no));
    Ok(found)
}

/// An attachment the actor may see (it belongs to a sheet of one of their communities).
pub async fn attachment(app: &App, actor: &Actor, id: i64) -> AppResult<(st::Attachment, Vec<u8>)> {
    let a = st::attachment(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.sees(a.community_id)?;
    let bytes = files::read(app, &a.sha256)?;
    Ok((a, bytes))
}

/// Add a photo, a file or evidence (a third party's receipt) to a sheet, or a repair's
/// photo before or after the work (`before`, `after`, taken by the technician). Whoever may
/// register, handle or work on the sheet may attach; the file is checked and stored
/// before the transaction, and becomes part of the sheet only when it commits.
pub async fn attach(
    app: &App,
    actor: &Actor,
    id: i64,
    purpose: &str,
    filename: &str,
    bytes: &[u8],
) -> AppResult<SheetDetail> {
    let row = st::sheet(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    let c = row.community_id;
    actor.sees(c)?;
    if !matches!(purpose, "photo" | "file" | "evidence" | "before" | "after") {
        return Err(AppError::field("purpose", ValidationError::new("attachment.purpose")));
    }
    let mut conn = app.store.read().acquire().await?;
    let rows = st::events(&mut conn, id).await?;
    drop(conn);
    let history = recorded(&rows)?;
    let mut sheet =
        Sheet::replay(&history).ok_or_else(|| AppError::Internal(format!("sheet {id} has no registration")))?;
    // Photos before and after the work belong to a repair.
    if matches!(purpose, "before" | "after") && sheet.case.repair.is_none() {
        return Err(AppError::field("purpose", ValidationError::new("attachment.before_after_repair")));
    }
    let authority =
        match actor.authorize(Permission::HandleSheet, c).or_else(|_| actor.authorize(Permission::RegisterSheet, c)) {
            Ok(a) => a,
            Err(_) => {
                let mut found = None;
                for h in &sheet.handovers {
                    if let Some((role, _)) = acts_for(app, actor, c, h.department).await? {
                        found = Some(actor.holding(role, c)?);
                        break;
                    }
                }
                found.ok_or(AppError::Forbidden)?
            }
        };
    let kind =
        if matches!(purpose, "photo" | "before" | "after") { files::Purpose::Photo } else { files::Purpose::Document };
    let stored = files::store(app, "file", bytes, kind)?;
    let name: String = filename.chars().filter(|ch| !ch.is_control() && !"/\\\"".contains(*ch)).take(120).collect();
    let cmd = Command::Attach { purpose: purpose.to_string(), filename: name.clone(), sha256: stored.sha256.clone() };
    let now = app.clock.now();
    let rec = sheet.handle(&cmd, now, actor.user_id()).map_err(|r| AppError::rejected(r.0))?;
    let mut tx = app.store.begin().await?;
    let seq = history.len() as i64 + 1;
    let appended = append_events(&mut tx, id, seq, std::slice::from_ref(&rec), &authority).await?;
    st::insert_attachment(
        &mut tx,
        c,
        id,
        purpose,
        &stored.sha256,
        stored.size,
        stored.mime,
        &name,
        "",
        false,
        actor.user_id(),
        now,
    )
    .await?;
    audit::record_covering(app, &mut tx, actor, &authority, "sheet.attached", "sheet", id, json!({"number": row.number, "purpose": purpose, "filename": name, "sha256": stored.sha256, "size": stored.size}), &appended[0].covers).await?;
    tx.commit().await?;
    detail(app, actor, id).await
}

/// Recompute the clocks of a community's open sheets from their histories, after its
/// targets or calendar changed, so that queues and notices follow the new rule at once.
pub async fn refresh_clocks(app: &App, community_id: i64) -> AppResult<usize> {
    let tz = community_tz(app, community_id).await?;
    let cal = super::clock::calendar(app, community_id, tz).await?;
    let open = st::open_sheets(app.store.read(), community_id).await?;
    let now = app.clock.now();
    let mut specs = std::collections::HashMap::new();
    for chunk in open.chunks(200) {
        let mut updates = Vec::with_capacity(chunk.len());
        for (id, kind) in chunk {
            if !specs.contains_key(kind) {
                specs.insert(kind.clone(), super::clock::collection_spec(app, community_id, kind).await?);
            }
            let mut conn = app.store.read().acquire().await?;
            let events = recorded(&st::events(&mut conn, *id).await?)?;
            drop(conn);
            let clock = sla::clock(&specs[kind], &cal, &events, now);
            updates.push((*id, clock));
        }
        let mut tx = app.store.begin().await?;
        for (id, clock) in &updates {
            st::refresh_clock(&mut tx, *id, clock.due_at, clock.warn_at, clock.state.as_str()).await?;
        }
        tx.commit().await?;
    }
    Ok(open.len())
}

/// The type of a file as attachments accept it, or why it is refused.
pub fn check_attachment(bytes: &[u8]) -> Result<&'static str, ValidationError> {
    files::check(bytes, files::Purpose::Document)
}

/// A sheet's row (its number, community, state and clock) for someone who may see its
/// community; otherwise not found.
pub async fn row(app: &App, actor: &Actor, id: i64) -> AppResult<st::SheetRow> {
    let row = st::sheet(app.store.read(), id).await?.ok_or(AppError::NotFound)?;
    actor.may_read(Permission::ViewCommunity, row.community_id).map_err(|_| AppError::NotFound)?;
    Ok(row)
}

// ---- who may do what ----

/// Every step someone may ask for on a sheet: one for each `action` tag of [`SheetAction`]
/// and [`FlowAction`]. The domain says when a sheet admits each ([`Sheet::admits`]).
pub use huiqian_domain::sheet::Step;

impl SheetAction {
    pub fn step(&self) -> Step {
        match self {
            SheetAction::CaptureSignature { .. } => Step::CaptureSignature,
            SheetAction::Dispatch { .. } => Step::Dispatch,
            SheetAction::Acknowledge { .. } => Step::Acknowledge,
            SheetAction::StartWork { .. } => Step::StartWork,
            SheetAction::Return { .. } => Step::Return,
            SheetAction::Extend { .. } => Step::Extend,
            SheetAction::Suspend { .. } => Step::Suspend,
            SheetAction::Resume { .. } => Step::Resume,
            SheetAction::Terminate { .. } => Step::Terminate,
            SheetAction::BeyondCentre { .. } => Step::BeyondCentre,
            SheetAction::RecordThirdPartyReceipt { .. } => Step::RecordThirdPartyReceipt,
            SheetAction::Collect { .. } => Step::Collect,
            SheetAction::Archive => Step::Archive,
            SheetAction::ReceiveReturn { .. } => Step::ReceiveReturn,
            SheetAction::WaiveSignature { .. } => Step::WaiveSignature,
            SheetAction::RequestFollowUp { .. } => Step::RequestFollowUp,
            SheetAction::ReassignFirstContact { .. } => Step::ReassignFirstContact,
        }
    }

    /// What the authority check needs besides the step.
    fn on(&self) -> On {
        match self {
            SheetAction::Acknowledge { handover }
            | SheetAction::StartWork { handover }
            | SheetAction::Return { handover, .. }
            | SheetAction::ReceiveReturn { handover } => On { handover: Some(*handover), as_director: false },
            SheetAction::Collect { as_director, .. } => On { handover: None, as_director: *as_director },
            SheetAction::CaptureSignature { .. }
            | SheetAction::Dispatch { .. }
            | SheetAction::Extend { .. }
            | SheetAction::Suspend { .. }
            | SheetAction::Resume { .. }
            | SheetAction::Terminate { .. }
            | SheetAction::BeyondCentre { .. }
            | SheetAction::RecordThirdPartyReceipt { .. }
            | SheetAction::Archive
            | SheetAction::WaiveSignature { .. }
            | SheetAction::RequestFollowUp { .. }
            | SheetAction::ReassignFirstContact { .. } => On::default(),
        }
    }
}

impl FlowAction {
    pub fn step(&self) -> Step {
        match self {
            FlowAction::Reclassify { .. } => Step::Reclassify,
            FlowAction::AssignTechnician { .. } => Step::AssignTechnician,
            FlowAction::Arrive => Step::Arrive,
            FlowAction::QuoteCharge { .. } => Step::QuoteCharge,
            FlowAction::ConfirmCharge { .. } => Step::ConfirmCharge,
            FlowAction::CompleteRepair { .. } => Step::CompleteRepair,
            FlowAction::ReceiveSlip => Step::ReceiveSlip,
            FlowAction::FlagComplaint { .. } => Step::FlagComplaint,
            FlowAction::JudgeComplaint { .. } => Step::JudgeComplaint,
            FlowAction::RecordSolution { .. } => Step::RecordSolution,
            FlowAction::LogProgress { .. } => Step::LogProgress,
            FlowAction::AnswerInquiry { .. } => Step::AnswerInquiry,
            FlowAction::EscalateInquiry { .. } => Step::EscalateInquiry,
            FlowAction::PromiseReply { .. } => Step::PromiseReply,
            FlowAction::AnalyseSuggestion { .. } => Step::AnalyseSuggestion,
            FlowAction::ReplySuggestion { .. } => Step::ReplySuggestion,
        }
    }
}

impl Action {
    pub fn step(&self) -> Step {
        match self {
            Action::Sheet(a) => a.step(),
            Action::Flow(a) => a.step(),
        }
    }
}

/// What an authority check needs besides the step: the handover a department's step (or
/// customer service's signing for it) is on, and whether the director collects as
/// director (R-SHEET-10).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct On {
    pub handover: Option<u32>,
    pub as_director: bool,
}

/// Who may take a step on this sheet (R-ROLE-2): the one rule per step, asked by [`act`]
/// (and the flows' plan) before a step is carried out, and by [`permitted_actions`] for
/// the forms a page offers. A refusal keeps the code the step has always answered with.
pub(crate) async fn step_authority(
    app: &App,
    actor: &Actor,
    c: i64,
    sheet: &Sheet,
    step: Step,
    on: On,
) -> AppResult<Authority> {
    use super::request::{in_role, own_job};
    let handover = on.handover.ok_or(AppError::rejected("sheet.handover_unknown"));
    match step {
        Step::CaptureSignature => actor.authorize(Permission::RegisterSheet, c),
        Step::Dispatch
        | Step::BeyondCentre
        | Step::RecordThirdPartyReceipt
        | Step::ReceiveReturn
        | Step::Archive
        | Step::EscalateInquiry
        | Step::PromiseReply => cs_part(actor, c, sheet),
        Step::Acknowledge | Step::StartWork | Step::Return => handover_part(app, actor, c, sheet, handover?).await,
        Step::Extend => {
            actor.authorize(Permission::ViewCommunity, c)?;
            head_authority(app, actor, c, sheet).await
        }
        Step::Suspend | Step::Terminate => head_authority(app, actor, c, sheet).await,
        Step::Resume => match cs_part(actor, c, sheet) {
            Ok(a) => Ok(a),
            Err(_) => head_authority(app, actor, c, sheet).await,
        },
        // "a manager": the customer-service manager, or the centre director.
        Step::WaiveSignature => in_role(actor, c, &[Role::CsManager, Role::CentreDirector]).ok_or(AppError::Forbidden),
        Step::Collect if on.as_director => actor.holding(Role::CentreDirector, c),
        Step::Collect => cs_part(actor, c, sheet),
        Step::RequestFollowUp => cs_part(actor, c, sheet).or_else(|_| actor.authorize(Permission::RegisterSheet, c)),
        Step::ReassignFirstContact | Step::FlagComplaint | Step::JudgeComplaint => {
            actor.authorize(Permission::ReassignSheet, c)
        }
        Step::Reclassify => actor.authorize(Permission::DispatchRepair, c).or_else(|_| cs_part(actor, c, sheet)),
        Step::AssignTechnician | Step::QuoteCharge => actor.authorize(Permission::DispatchRepair, c),
        Step::Arrive | Step::CompleteRepair => own_job(actor, c, sheet),
        Step::ConfirmCharge => own_job(actor, c, sheet)
            .or_else(|_| cs_part(actor, c, sheet))
            .or_else(|_| actor.authorize(Permission::DispatchRepair, c)),
        Step::ReceiveSlip => cs_part(actor, c, sheet).or_else(|_| actor.authorize(Permission::DispatchRepair, c)),
        // R-CMP-5: "中心主任组织相关人员制定解决方案".
        Step::RecordSolution => in_role(actor, c, &[Role::CentreDirector]).ok_or(AppError::Forbidden),
        // Customer service, or a department holding the complaint (R-CMP-6).
        Step::LogProgress => match cs_part(actor, c, sheet) {
            Ok(a) => Ok(a),
            Err(_) => {
                let mut found = None;
                for h in sheet.departments_out() {
                    if let Some((role, _)) = acts_for(app, actor, c, h.department).await? {
                        found = Some(actor.holding(role, c)?);
                    }
                }
                found.ok_or(AppError::Forbidden)
            }
        },
        // Customer service, or the manager the inquiry was escalated to (R-RECV-2).
        Step::AnswerInquiry => {
            let escalated = sheet.case.inquiry.as_ref().and_then(|i| i.escalated_to) == Some(actor.user_id());
            match cs_part(actor, c, sheet) {
                Ok(a) => Ok(a),
                Err(_) if escalated => actor.any_role(c),
                Err(e) => Err(e),
            }
        }
        // R-RECV-3: "客服经理应对住户提出的意见进行分析整理" — the manager (or the director).
        Step::AnalyseSuggestion => {
            in_role(actor, c, &[Role::CsManager, Role::CentreDirector]).ok_or(AppError::Forbidden)
        }
        // R-RECV-3: a department manager or higher writes the reply — the director, the CS
        // manager, or the head of any department.
        Step::ReplySuggestion => match in_role(actor, c, &[Role::CentreDirector, Role::CsManager]) {
            Some(a) => Ok(a),
            None => {
                let mut conn = app.store.read().acquire().await?;
                let heads = st::memberships(&mut conn, actor.user_id(), c).await?;
                drop(conn);
                let role = actor.roles_in(c).first().copied();
                match (heads.iter().any(|(_, head)| *head), role) {
                    (true, Some(role)) => actor.holding(role, c),
                    _ => Err(AppError::rejected("suggestion.reply_rank")),
                }
            }
        },
    }
}

/// The steps this actor may take on this sheet now: those whose form a page offers.
#[derive(Debug, Clone, Default)]
pub struct Permitted {
    steps: std::collections::BTreeSet<Step>,
    /// Steps on one handover (by its number).
    on_handovers: std::collections::BTreeSet<(i64, Step)>,
    /// Closing steps this actor would take but the sheet does not admit yet, with the
    /// reason (a refusal code): what the desk still has to see to.
    held: std::collections::BTreeMap<Step, &'static str>,
}

impl Permitted {
    /// May the step be taken (on any handover, for a handover's steps)?
    pub fn permits(&self, step: Step) -> bool {
        self.steps.contains(&step) || self.on_handovers.iter().any(|(_, s)| *s == step)
    }

    /// May the step be taken on this handover?
    pub fn permits_on(&self, step: Step, handover: i64) -> bool {
        self.on_handovers.contains(&(handover, step))
    }

    /// The same as [`Permitted::permits`], by the step's `action` tag (for templates).
    pub fn may(&self, tag: &str) -> bool {
        Step::ALL.iter().any(|s| s.tag() == tag && self.permits(*s))
    }

    /// Why a closing step (collect, archive) this actor would take is not open yet, as the
    /// translation key of the reason; `None` when it is open or not theirs (for templates).
    pub fn held(&self, tag: &str) -> Option<String> {
        self.held.iter().find(|(s, _)| s.tag() == tag).map(|(_, code)| format!("error.{code}"))
    }
}

/// A reason a closing step is not open that only says the sheet is not at that point yet
/// (still with departments, not back, not collected): nothing for the desk to see to.
fn before_closing(code: &str) -> bool {
    matches!(
        code,
        "sheet.archived"
            | "sheet.closed"
            | "sheet.suspended"
            | "sheet.departments_still_out"
            | "sheet.not_awaiting_acceptance"
            | "sheet.not_collected"
    )
}

/// An authority check's answer as "may" or "may not"; a failure to check is an error.
fn granted(r: AppResult<Authority>) -> AppResult<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(
            AppError::Forbidden
            | AppError::NotFound
            | AppError::Rejected { .. }
            | AppError::Refused { .. }
            | AppError::Validation(_),
        ) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What this actor may do on this sheet now (R-ROLE-2): every step whose authority
/// ([`step_authority`], the same check [`act`] makes) holds and that the sheet admits
/// ([`Sheet::admits`], the same check the domain makes first when the step is taken).
/// Pages show a step's form only when it is permitted.
pub async fn permitted_actions(app: &App, actor: &Actor, d: &SheetDetail) -> AppResult<Permitted> {
    let c = d.sheet.community_id;
    actor.may_read(Permission::ViewCommunity, c).map_err(|_| AppError::NotFound)?;
    let history = recorded(&d.events)?;
    let mut out = Permitted::default();
    let Some(sheet) = Sheet::replay(&history) else {
        return Ok(out);
    };
    for step in Step::ALL {
        if step.on_handover() {
            for h in sheet.handovers.iter().filter(|h| sheet.admits(step, Some(h.no)).is_ok()) {
                let on = On { handover: Some(h.no), as_director: false };
                if granted(step_authority(app, actor, c, &sheet, step, on).await)? {
                    out.on_handovers.insert((i64::from(h.no), step));
                }
            }
        } else {
            let admitted = sheet.admits(step, None);
            let waiting = match (step, admitted) {
                (_, Ok(())) => None,
                (Step::Collect | Step::Archive, Err(why)) if !before_closing(why.0) => Some(why.0),
                _ => continue,
            };
            let mut ok = granted(step_authority(app, actor, c, &sheet, step, On::default()).await)?;
            if !ok && step == Step::Collect {
                let on = On { handover: None, as_director: true };
                ok = granted(step_authority(app, actor, c, &sheet, step, on).await)?;
            }
            match (ok, waiting) {
                (true, None) => {
                    out.steps.insert(step);
                }
                (true, Some(why)) => {
                    out.held.insert(step, why);
                }
                (false, _) => {}
            }
        }
    }
    Ok(out)
}

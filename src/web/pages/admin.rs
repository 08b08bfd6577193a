//! Administration pages: staff and roles, bulk import, the audit trail.

use super::audit_words as words;
use super::{Chrome, Form, OrPage, PageError, PageResult, page, render, see_other, when};
use crate::app::{AppError, audit, auth, import, org};
use crate::store::{audit as sau, auth as sa};
use crate::web::AppState;
use crate::web::extract::Ctx;
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Multipart, Path, Query, State};
use axum::routing::{get, post};
use huiqian_domain::auth::{Permission, Role};
use serde::Deserialize;

pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/staff", get(staff_list))
        .route("/staff/new", get(new_staff).post(create_staff))
        .route("/staff/{id}", get(staff))
        .route("/staff/{id}/edit", post(update_staff))
        .route("/staff/{id}/roles", post(grant_role))
        .route("/staff/{id}/reset-password", post(reset_password))
        .route("/roles/{id}/revoke", post(revoke_role))
        .route(
            "/import",
            get(import_page).post(import_submit).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/audit", get(audit_page))
}

fn role_label(c: &Chrome, code: &str) -> String {
    c.label_code(Role::parse(code), code)
}

// ---- staff ----

#[derive(Template)]
#[template(path = "admin/staff_list.html")]
struct StaffListPage {
    c: Chrome,
    users: Vec<sa::User>,
    can_create: bool,
}

async fn staff_list(State(s): State<AppState>, ctx: Ctx) -> PageResult {
    let users = auth::list_staff(&s.app, &ctx.actor).await.page(ctx.lang)?;
    let can_create = ctx.actor.may_anywhere(Permission::ManageStaff);
    Ok(render(&StaffListPage { c: Chrome::of(&ctx), users, can_create }))
}

#[derive(Template)]
#[template(path = "admin/staff_form.html")]
struct StaffFormPage {
    c: Chrome,
    f: Form,
}

async fn new_staff(ctx: Ctx) -> PageResult {
    if !ctx.actor.may_anywhere(Permission::ManageStaff) {
        return Err(PageError(AppError::Forbidden, ctx.lang));
    }
    Ok(render(&StaffFormPage { c: Chrome::of(&ctx), f: Form::with(&[("locale", "zh-CN".into())]) }))
}

#[derive(Deserialize)]
struct StaffForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    locale: String,
}

async fn create_staff(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<StaffForm>) -> PageResult {
    let input = auth::NewStaff {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        password: f.password.clone(),
        phone: f.phone.clone(),
        locale: if f.locale.is_empty() { "zh-CN".into() } else { f.locale.clone() },
    };
    match auth::create_staff(&s.app, &ctx.actor, &input, auth::StaffOptions::default()).await {
        Ok(u) => Ok(see_other(&format!("/staff/{}", u.id))),
        Err(e) => {
            let mut form = Form::with(&[
                ("username", f.username),
                ("display_name", f.display_name),
                ("phone", f.phone),
                ("locale", f.locale),
            ]);
            let status = form.fail(e, ctx.lang)?;
            Ok(page(status, &StaffFormPage { c: Chrome::of(&ctx), f: form }))
        }
    }
}

pub struct RoleRowView {
    pub id: i64,
    pub community: String,
    pub role: String,
    /// The department the grant names, if any.
    pub department: String,
    /// Heads that department (负责人, R-SHEET-8).
    pub head: bool,
    pub can_revoke: bool,
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffPage {
    c: Chrome,
    u: sa::User,
    roles: Vec<RoleRowView>,
    communities: Vec<(String, String)>,
    role_options: Vec<(String, String)>,
    /// Department kinds for a grant ("" = the role's own department).
    department_options: Vec<(String, String)>,
    can_manage: bool,
    f: Form,
}

async fn staff_page(s: &AppState, ctx: &Ctx, id: i64, f: Form) -> PageResult {
    let (u, rows) = auth::staff_detail(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let c = Chrome::of(ctx);
    let all = org::my_communities(&s.app, &ctx.actor).await.page(ctx.lang)?;
    let name_of = |cid: Option<i64>| match cid {
        None => crate::i18n::t(ctx.lang, "role.company_wide").to_string(),
        Some(id) => all.iter().find(|c| c.id == id).map(|c| c.name.clone()).unwrap_or_else(|| format!("#{id}")),
    };
    let mut roles = Vec::with_capacity(rows.len());
    for r in &rows {
        let department = match r.department_id {
            Some(d) => match org::department(&s.app, &ctx.actor, d).await {
                Ok(d) => d.name,
                // A department of a community this viewer does not work in.
                Err(AppError::NotFound) => format!("#{d}"),
                Err(e) => return Err(PageError(e, ctx.lang)),
            },
            None => String::new(),
        };
        roles.push(RoleRowView {
            id: r.id,
            community: name_of(r.community_id),
            role: role_label(&c, &r.role),
            department,
            head: r.is_head == 1,
            can_revoke: match r.community_id {
                Some(cid) => ctx.actor.authorize(Permission::ManageStaff, cid).is_ok(),
                None => ctx.actor.authorize_company(Permission::ManageStaff).is_ok(),
            },
        });
    }
    let manageable: Vec<(String, String)> = all
        .iter()
        .filter(|cm| ctx.actor.authorize(Permission::ManageStaff, cm.id).is_ok())
        .map(|cm| (cm.id.to_string(), cm.name.clone()))
        .collect();
    let can_manage =
        rows.iter().filter_map(|r| r.community_id).any(|cid| ctx.actor.authorize(Permission::ManageStaff, cid).is_ok())
            || ctx.actor.authorize_company(Permission::ManageStaff).is_ok()
            || (rows.is_empty() && !manageable.is_empty());
    let role_options = c.options(&Role::ALL);
    let mut department_options = vec![(String::new(), c.t.get("staff.department_by_role").to_string())];
    department_options.extend(c.options(huiqian_domain::unit::DepartmentKind::ALL));
    let status = if f.errors.is_empty() && f.banner.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &StaffPage { c, u, roles, communities: manageable, role_options, department_options, can_manage, f },
    ))
}

async fn staff(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    staff_page(&s, &ctx, id, Form::default()).await
}

#[derive(Deserialize)]
struct EditStaffForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    version: i64,
}

async fn update_staff(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<EditStaffForm>,
) -> PageResult {
    match auth::update_staff(&s.app, &ctx.actor, id, f.version, &f.display_name, f.active.is_some()).await {
        Ok(_) => Ok(see_other(&format!("/staff/{id}"))),
        Err(e) => {
            let mut form = Form::with(&[("display_name", f.display_name)]);
            form.fail(e, ctx.lang)?;
            staff_page(&s, &ctx, id, form).await
        }
    }
}

#[derive(Deserialize)]
struct GrantForm {
    #[serde(default)]
    community_id: String,
    #[serde(default)]
    role: String,
    /// A department kind; empty: the role's own department.
    #[serde(default)]
    department: String,
    #[serde(default)]
    head: Option<String>,
}

async fn grant_role(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<GrantForm>,
) -> PageResult {
    let community = f.community_id.parse().ok();
    let result = match Role::parse(&f.role) {
        None => Err(AppError::field("role", huiqian_domain::validation::ValidationError::new("role.unknown"))),
        Some(role) => {
            let kind = if f.department.trim().is_empty() {
                Ok(role.department_kind())
            } else {
                huiqian_domain::unit::DepartmentKind::parse(&f.department)
                    .map(Some)
                    .map_err(|e| AppError::field("department", e))
            };
            match kind {
                Err(e) => Err(e),
                Ok(kind) => {
                    let department = match (community, kind) {
                        (Some(c), Some(k)) => org::department_of_kind(&s.app, c, k).await.page(ctx.lang)?,
                        _ => None,
                    };
                    auth::grant_role(&s.app, &ctx.actor, id, community, role, department, f.head.is_some()).await
                }
            }
        }
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/staff/{id}"))),
        Err(e) => {
            let mut form =
                Form::with(&[("community_id", f.community_id), ("role", f.role), ("department", f.department)]);
            form.fail(e, ctx.lang)?;
            staff_page(&s, &ctx, id, form).await
        }
    }
}

async fn revoke_role(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let row = auth::role_grant(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    match auth::revoke_role(&s.app, &ctx.actor, id).await {
        Ok(()) => Ok(see_other(&format!("/staff/{}", row.user_id))),
        Err(e) => {
            let mut form = Form::default();
            form.fail(e, ctx.lang)?;
            staff_page(&s, &ctx, row.user_id, form).await
        }
    }
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    clear_totp: Option<String>,
}

async fn reset_password(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<ResetForm>,
) -> PageResult {
    match auth::reset_password(&s.app, &ctx.actor, id, &f.password, f.clear_totp.is_some()).await {
        Ok(()) => {
            let form = Form::with(&[("reset_done", "1".into())]);
            staff_page(&s, &ctx, id, form).await
        }
        Err(e) => {
            let mut form = Form::default();
            form.fail(e, ctx.lang)?;
            staff_page(&s, &ctx, id, form).await
        }
    }
}

// ---- import ----

#[derive(Template)]
#[template(path = "admin/import.html")]
struct ImportPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: String,
    dry_run: bool,
    f: Form,
    report: Option<import::ImportReport>,
    errors: Vec<(usize, String, String)>,
    filename: String,
}

async fn import_communities(s: &AppState, ctx: &Ctx) -> Result<Vec<(String, String)>, PageError> {
    let all = org::my_communities(&s.app, &ctx.actor).await.page(ctx.lang)?;
    let list: Vec<(String, String)> = all
        .into_iter()
        .filter(|c| ctx.actor.authorize(Permission::ImportData, c.id).is_ok())
        .map(|c| (c.id.to_string(), c.name))
        .collect();
    if list.is_empty() {
        return Err(PageError(AppError::Forbidden, ctx.lang));
    }
    Ok(list)
}

async fn import_page(State(s): State<AppState>, ctx: Ctx) -> PageResult {
    let communities = import_communities(&s, &ctx).await?;
    let community_id = communities[0].0.clone();
    Ok(render(&ImportPage {
        c: Chrome::of(&ctx),
        communities,
        community_id,
        dry_run: true,
        f: Form::default(),
        report: None,
        errors: vec![],
        filename: String::new(),
    }))
}

/// The upload: a multipart form (`community_id`, `dry_run`, `file`); the CSRF token rides
/// in the form action's query string.
async fn import_submit(State(s): State<AppState>, ctx: Ctx, mut mp: Multipart) -> PageResult {
    let communities = import_communities(&s, &ctx).await?;
    let limit = s.app.config.limits.max_upload_bytes;
    let mut community_id = String::new();
    let mut dry_run = false;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut upload_error: Option<AppError> = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                upload_error = Some(AppError::field(
                    "file",
                    huiqian_domain::validation::ValidationError::new("upload.too_large")
                        .with("max_mb", limit / 1024 / 1024),
                ));
                break;
            }
        };
        match field.name().unwrap_or_default() {
            "community_id" => community_id = field.text().await.unwrap_or_default(),
            "dry_run" => dry_run = true,
            "file" => {
                let name = field.file_name().unwrap_or("upload").to_string();
                match read_field(field, limit).await {
                    Ok(bytes) if bytes.is_empty() => {
                        upload_error = Some(AppError::field(
                            "file",
                            huiqian_domain::validation::ValidationError::new("upload.missing"),
                        ))
                    }
                    Ok(bytes) => file = Some((name, bytes)),
                    Err(e) => upload_error = Some(e),
                }
            }
            _ => {}
        }
    }
    let mut form = Form::default();
    let cid: i64 = community_id.parse().unwrap_or(0);
    let result = match (upload_error, file) {
        (Some(e), _) => Err(e),
        (None, None) => {
            Err(AppError::field("file", huiqian_domain::validation::ValidationError::new("upload.missing")))
        }
        (None, Some((name, bytes))) => {
            import::import_units_and_owners(&s.app, &ctx.actor, cid, &name, &bytes, dry_run).await.map(|r| (name, r))
        }
    };
    let c = Chrome::of(&ctx);
    match result {
        Ok((filename, report)) => {
            let errors = report
                .errors
                .iter()
                .map(|e| {
                    (e.row, e.column.clone(), crate::i18n::tf(ctx.lang, &e.code, &e.params.iter().collect::<Vec<_>>()))
                })
                .collect();
            let status = if report.errors.is_empty() {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok(page(
                status,
                &ImportPage { c, communities, community_id, dry_run, f: form, report: Some(report), errors, filename },
            ))
        }
        Err(e) => {
            let status = form.fail(e, ctx.lang)?;
            Ok(page(
                status,
                &ImportPage {
                    c,
                    communities,
                    community_id,
                    dry_run,
                    f: form,
                    report: None,
                    errors: vec![],
                    filename: String::new(),
                },
            ))
        }
    }
}

async fn read_field(mut field: axum::extract::multipart::Field<'_>, limit: usize) -> Result<Vec<u8>, AppError> {
    let mut buf = Vec::new();
    let too_large = || {
        AppError::field(
            "file",
            huiqian_domain::validation::ValidationError::new("upload.too_large").with("max_mb", limit / 1024 / 1024),
        )
    };
    while let Some(chunk) = field.chunk().await.map_err(|_| too_large())? {
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

// ---- audit ----

#[derive(Deserialize, Default)]
struct AuditQuery {
    community_id: Option<String>,
    action: Option<String>,
    entity_type: Option<String>,
    entity_id: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
}

pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    /// Who: the person's name, or the system.
    pub actor: String,
    pub role: String,
    /// What was done, in words.
    pub action: String,
    /// What it was done to ("会签单 KF-2026-000003"), and its page.
    pub entity: String,
    pub entity_href: Option<String>,
    /// What changed, one line a field.
    pub changes: Vec<(String, String)>,
    /// On whose authority, in words; the manual's rule number for the system's entries.
    pub authority: String,
    pub authority_title: String,
    pub request_id: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    f: Form,
    rows: Vec<AuditRow>,
    next_before: Option<i64>,
    query: String,
}

fn day_start_ms(d: &str, end: bool, tz: chrono_tz::Tz) -> Option<i64> {
    let date = huiqian_domain::time::CivilDate::parse(d).ok()?.date();
    let date = if end { date.succ_opt()? } else { date };
    use chrono::TimeZone;
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0)?).single().map(|d| d.timestamp_millis())
}

/// Browse the audit trail with filters; newest first, a page at a time.
async fn audit_page(State(s): State<AppState>, ctx: Ctx, Query(q): Query<AuditQuery>) -> PageResult {
    let all = org::my_communities(&s.app, &ctx.actor).await.page(ctx.lang)?;
    let communities: Vec<(String, String)> =
        std::iter::once((String::new(), crate::i18n::t(ctx.lang, "audit.all_communities").to_string()))
            .chain(
                all.iter()
                    .filter(|c| ctx.actor.authorize(Permission::ViewAudit, c.id).is_ok())
                    .map(|c| (c.id.to_string(), c.name.clone())),
            )
            .collect();
    let actor_id = match q.actor.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(name) => Some(auth::user_id_by_name(&s.app, &ctx.actor, name).await.page(ctx.lang)?.unwrap_or(-1)),
    };
    let nonempty = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let community_id = nonempty(&q.community_id).and_then(|v| v.parse().ok());
    // Days are counted in the chosen community's zone, else in the company's.
    let zone = audit::filter_zone(&s.app, &ctx.actor, community_id).await.page(ctx.lang)?;
    let filter = sau::Filter {
        communities: None,
        community_id,
        actor_user_id: actor_id,
        action: nonempty(&q.action),
        entity_type: nonempty(&q.entity_type),
        entity_id: nonempty(&q.entity_id),
        from_ms: nonempty(&q.from).and_then(|d| day_start_ms(&d, false, zone)),
        to_ms: nonempty(&q.to).and_then(|d| day_start_ms(&d, true, zone)),
        before_seq: q.before,
        limit: 100,
    };
    let entries = audit::browse_shown(&s.app, &ctx.actor, filter).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let next_before = (entries.len() == 100).then(|| entries.last().map(|x| x.entry.seq)).flatten();
    let community_name = |id: i64| all.iter().find(|x| x.id == id).map(|x| x.name.clone());
    let rows = entries
        .into_iter()
        .map(|x| {
            let e = x.entry;
            let (authority, authority_title) =
                words::authority(ctx.lang, &e.authority, |r| role_label(&c, r), community_name);
            let (entity, entity_href) =
                words::entity(ctx.lang, &e.entity_type, &e.entity_id, x.sheet_number.as_deref());
            AuditRow {
                seq: e.seq,
                at: when(e.at, x.zone),
                actor: x.actor.unwrap_or_else(|| c.t.get("audit.system").to_string()),
                role: if e.actor_role.is_empty() { String::new() } else { role_label(&c, &e.actor_role) },
                action: words::action(ctx.lang, &e.action),
                entity,
                entity_href,
                changes: words::changes(ctx.lang, &e.changes, x.zone),
                authority,
                authority_title,
                request_id: e.request_id,
            }
        })
        .collect();
    let f = Form::with(&[
        ("community_id", q.community_id.clone().unwrap_or_default()),
        ("action", q.action.clone().unwrap_or_default()),
        ("entity_type", q.entity_type.clone().unwrap_or_default()),
        ("entity_id", q.entity_id.clone().unwrap_or_default()),
        ("actor", q.actor.clone().unwrap_or_default()),
        ("from", q.from.clone().unwrap_or_default()),
        ("to", q.to.clone().unwrap_or_default()),
    ]);
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(f.values.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    Ok(render(&AuditPage { c, communities, f, rows, next_before, query }))
}

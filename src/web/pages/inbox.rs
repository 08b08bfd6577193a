//! The in-app inbox of deadline notices, and community settings for clocks and calendar.

use super::{Chrome, Form, OrPage, PageResult, page, render, see_other, when};
use crate::app::{clock, notify, org};
use crate::store::clock as sc;
use crate::web::AppState;
use crate::web::extract::Ctx;
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Path, State};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use huiqian_domain::auth::Permission;
use huiqian_domain::sheet::SheetKind;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(inbox))
        .route("/inbox/count", get(count))
        .route("/inbox/{id}/read", post(read))
        .route("/inbox/read-all", post(read_all))
        .route("/communities/{id}/settings", get(settings))
        .route("/communities/{id}/settings/target", post(set_target))
        .route("/communities/{id}/settings/week", post(set_week))
        .route("/communities/{id}/settings/day", post(set_day))
        .route("/communities/{id}/settings/day/{day}/remove", post(remove_day))
        .route("/communities/{id}/settings/holidays", post(load_holidays))
        .route("/holidays/{year}", get(holiday_text))
}

pub struct NoticeView {
    pub n: crate::store::notify::Notification,
    pub at: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    c: Chrome,
    notices: Vec<NoticeView>,
    /// When the page was read: 全部标为已读 marks what it showed.
    now: i64,
    unread: usize,
}

async fn inbox(State(s): State<AppState>, ctx: Ctx) -> PageResult {
    let list = notify::inbox(&s.app, &ctx.actor, false, ctx.lang).await.page(ctx.lang)?;
    let notices: Vec<NoticeView> =
        list.into_iter().map(|(n, zone)| NoticeView { at: when(n.created_at, zone), n }).collect();
    let unread = notices.iter().filter(|v| v.n.read_at.is_none()).count();
    Ok(render(&InboxPage { c: Chrome::of(&ctx), notices, now: ctx.now + 1, unread }))
}

/// The unread count shown in the header (loaded by htmx after the page).
async fn count(State(s): State<AppState>, ctx: Ctx) -> PageResult {
    let n = crate::app::notify::unread_count(&s.app, &ctx.actor).await.page(ctx.lang)?;
    // Three digits would push the menu onto a second line: past 99 the badge says 99+,
    // its title the number.
    let shown = if n > 99 { "99+".to_string() } else { n.to_string() };
    Ok(Html(if n > 0 {
        format!("<span class=\"badge\" id=\"unread\" title=\"{n}\">{shown}</span>")
    } else {
        String::new()
    })
    .into_response())
}

/// 全部标为已读: what was there when the page was shown (`before`), not what came since.
#[derive(serde::Deserialize)]
struct ReadAll {
    #[serde(default)]
    before: Option<i64>,
}

async fn read_all(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<ReadAll>) -> PageResult {
    notify::mark_all_read(&s.app, &ctx.actor, f.before).await.page(ctx.lang)?;
    Ok(see_other("/inbox"))
}

async fn read(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    notify::mark_read(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    Ok(see_other("/inbox"))
}

#[derive(Template)]
#[template(path = "org/settings.html")]
struct SettingsPage {
    c: Chrome,
    cm: crate::store::org::Community,
    targets: Vec<(String, String, String, String)>,
    kinds: Vec<(String, String)>,
    countings: Vec<(String, String)>,
    week: Vec<WeekRow>,
    days: Vec<sc::Day>,
    /// The State Council's notices loaded (国务院节假日安排通知).
    notices: Vec<sc::HolidayNotice>,
    /// A company-wide administrator may load a later year's notice.
    can_load: bool,
    f: Form,
}

/// One weekday of the working-hours form.
pub struct WeekRow {
    pub name: String,
    pub value: String,
    pub input: String,
    pub error: String,
}

async fn settings_page(s: &AppState, ctx: &Ctx, id: i64, f: Form) -> PageResult {
    let cm = org::community(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    ctx.actor.authorize(Permission::ManageCommunity, id).page(ctx.lang)?;
    let c = Chrome::of(ctx);
    let label = |k: &str| {
        if k == "*" {
            c.t.get("settings.all_kinds").to_string()
        } else {
            SheetKind::parse(k).map(|k| c.label(k).to_string()).unwrap_or_default()
        }
    };
    let targets = clock::targets(&s.app, &ctx.actor, id)
        .await
        .page(ctx.lang)?
        .into_iter()
        .map(|t| {
            (
                label(&t.kind),
                format!("{:.1}", t.target_minutes as f64 / 60.0),
                format!("{:.1}", t.warn_minutes as f64 / 60.0),
                c.t.get(&format!("settings.{}", t.counting)).to_string(),
            )
        })
        .collect();
    let current = clock::week(&s.app, id).await.page(ctx.lang)?;
    let names =
        ["weekday.mon", "weekday.tue", "weekday.wed", "weekday.thu", "weekday.fri", "weekday.sat", "weekday.sun"];
    let week = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let v = match f.values.get(&format!("d{i}")) {
                Some(typed) => typed.clone(),
                None => current.get(i).cloned().unwrap_or_default(),
            };
            WeekRow {
                name: c.t.get(n).to_string(),
                value: v,
                input: format!("d{i}"),
                error: f.e(&format!("days.{i}")).to_string(),
            }
        })
        .collect();
    let kinds = std::iter::once(("*".to_string(), c.t.get("settings.all_kinds").to_string()))
        .chain(c.options(&SheetKind::ALL))
        .collect();
    let countings = ["round_the_clock", "business_hours"]
        .iter()
        .map(|x| (x.to_string(), c.t.get(&format!("settings.{x}")).to_string()))
        .collect();
    // This year's days and later ones; past years stay in the calendar (and the API).
    let this_year = format!(
        "{}-01-01",
        crate::app::people::today_in(super::community_zone(s, ctx, cm.id).await?, ctx.now).format("%Y")
    );
    let (_, days) = clock::stored_calendar(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let days: Vec<sc::Day> = days.into_iter().filter(|d| d.day >= this_year).collect();
    let notices = clock::notices(&s.app, &ctx.actor, id).await.page(ctx.lang)?;
    let can_load = ctx.actor.authorize_company(Permission::ManageCommunity).is_ok();
    let status = if f.errors.is_empty() && f.banner.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(status, &SettingsPage { c, cm, targets, kinds, countings, week, days, notices, can_load, f }))
}

async fn settings(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    settings_page(
        &s,
        &ctx,
        id,
        Form::with(&[("kind", "*".into()), ("target_hours", "72".into()), ("warn_hours", "12".into())]),
    )
    .await
}

#[derive(Deserialize)]
struct TargetForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target_hours: String,
    #[serde(default)]
    warn_hours: String,
    #[serde(default)]
    counting: String,
}

async fn set_target(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<TargetForm>,
) -> PageResult {
    let input = clock::TargetInput {
        kind: f.kind.clone(),
        target_hours: f.target_hours.clone(),
        warn_hours: f.warn_hours.clone(),
        counting: f.counting.clone(),
    };
    match clock::set_target(&s.app, &ctx.actor, id, &input).await {
        Ok(_) => Ok(see_other(&format!("/communities/{id}/settings"))),
        Err(e) => {
            let mut form = Form::with(&[
                ("kind", f.kind),
                ("target_hours", f.target_hours),
                ("warn_hours", f.warn_hours),
                ("counting", f.counting),
            ]);
            form.fail(e, ctx.lang)?;
            settings_page(&s, &ctx, id, form).await
        }
    }
}

#[derive(Deserialize)]
struct WeekForm {
    #[serde(default)]
    d0: String,
    #[serde(default)]
    d1: String,
    #[serde(default)]
    d2: String,
    #[serde(default)]
    d3: String,
    #[serde(default)]
    d4: String,
    #[serde(default)]
    d5: String,
    #[serde(default)]
    d6: String,
}

async fn set_week(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<WeekForm>) -> PageResult {
    let days = vec![f.d0, f.d1, f.d2, f.d3, f.d4, f.d5, f.d6];
    match clock::set_week(&s.app, &ctx.actor, id, &clock::WeekInput { days: days.clone() }).await {
        Ok(_) => Ok(see_other(&format!("/communities/{id}/settings"))),
        Err(e) => {
            let typed: Vec<(String, String)> =
                days.into_iter().enumerate().map(|(i, d)| (format!("d{i}"), d)).collect();
            let mut form = Form { values: typed.into_iter().collect(), ..Default::default() };
            form.fail(e, ctx.lang)?;
            settings_page(&s, &ctx, id, form).await
        }
    }
}

#[derive(Deserialize)]
struct DayForm {
    #[serde(default)]
    day: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    spans: String,
}

async fn set_day(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, AxForm(f): AxForm<DayForm>) -> PageResult {
    match clock::set_day(
        &s.app,
        &ctx.actor,
        id,
        &clock::DayInput { day: f.day.clone(), kind: f.kind.clone(), note: f.note.clone(), spans: f.spans.clone() },
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("/communities/{id}/settings"))),
        Err(e) => {
            let mut form = Form::with(&[("day", f.day), ("kind", f.kind), ("note", f.note), ("spans", f.spans)]);
            form.fail(e, ctx.lang)?;
            settings_page(&s, &ctx, id, form).await
        }
    }
}

async fn remove_day(State(s): State<AppState>, ctx: Ctx, Path((id, day)): Path<(i64, String)>) -> PageResult {
    clock::remove_day(&s.app, &ctx.actor, id, &day).await.page(ctx.lang)?;
    Ok(see_other(&format!("/communities/{id}/settings")))
}

#[derive(Deserialize)]
struct NoticeForm {
    #[serde(default)]
    notice: String,
}

/// Load a year's holiday notice (pasted in the file format) into every community.
async fn load_holidays(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    AxForm(f): AxForm<NoticeForm>,
) -> PageResult {
    match crate::app::holidays::load(&s.app, &ctx.actor, &crate::app::holidays::LoadInput { notice: f.notice.clone() })
        .await
    {
        Ok(_) => Ok(see_other(&format!("/communities/{id}/settings"))),
        Err(e) => {
            let mut form = Form::with(&[("notice", f.notice)]);
            form.fail(e, ctx.lang)?;
            settings_page(&s, &ctx, id, form).await
        }
    }
}

/// A loaded notice in its file format, to check or to pass on.
async fn holiday_text(State(s): State<AppState>, ctx: Ctx, Path(year): Path<i64>) -> PageResult {
    let text = crate::app::holidays::text(&s.app, &ctx.actor, year).await.page(ctx.lang)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

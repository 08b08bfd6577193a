//! Report pages: the weekly statistics table of requests and complaints with its charts
//! and printable layout (R-CMP-8), and staff performance with the sheets behind each
//! number (R-ROLE-3, R-SHEET-9).

use super::sheets::{communities, pick};
use super::{Chrome, Form, OrPage, PageResult, page, render, see_other, when};
use crate::app::{AppError, report as rp};
use crate::store::{report as sr, sheet as st};
use crate::web::extract::Ctx;
use crate::web::{AppState, export};
use askama::Template;
use axum::Router;
use axum::extract::{Form as AxForm, Path, Query, State};
use axum::routing::{get, post};
use huiqian_domain::auth::Permission;
use huiqian_domain::sheet::request::RepairCategory;
use huiqian_domain::sheet::{Channel, SheetKind};
use serde::Deserialize;
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports/weekly", get(weekly))
        .route("/reports/weekly/analysis", post(submit_analysis))
        .route("/reports/weekly/acknowledge", post(acknowledge))
        .route("/reports/staff", get(staff))
        .route("/reports/staff/{user}/{measure}", get(drill))
}

/// A change as people read it: `+3`, `-2`, `0`.
fn delta(this: i64, prev: i64) -> String {
    match this - prev {
        d if d > 0 => format!("+{d}"),
        d => d.to_string(),
    }
}

/// `part / whole` in whole percent, or a dash.
fn pct(part: i64, whole: i64) -> String {
    if whole == 0 { "—".into() } else { format!("{}%", (part * 100 + whole / 2) / whole) }
}

/// One line of a breakdown as shown.
pub struct Line {
    pub label: String,
    pub this: i64,
    pub prev: i64,
    pub delta: String,
    pub up: bool,
}

fn lines(rows: &[sr::Split], label: impl Fn(&str) -> String) -> Vec<Line> {
    rows.iter()
        .map(|r| Line {
            label: label(&r.key),
            this: r.this,
            prev: r.prev,
            delta: delta(r.this, r.prev),
            up: r.this > r.prev,
        })
        .collect()
}

/// A headline number with last week's beside it.
pub struct Kpi {
    pub id: &'static str,
    pub label: String,
    pub value: String,
    pub prev: String,
}

/// What a chart says about itself: its title, and its axes' names with their units.
struct Titles<'a> {
    title: &'a str,
    /// What the categories are (楼栋), for a bar chart.
    x: &'a str,
    /// What is counted, with its unit (件数（件）).
    y: &'a str,
}

fn chart(kind: &str, lines: &[Line], this: &str, prev: &str, t: Titles<'_>) -> String {
    let labels: Vec<&str> = lines.iter().map(|l| l.label.as_str()).collect();
    let spec = if kind == "pie" {
        json!({"type": "pie", "title": t.title, "unit": t.y, "labels": labels,
               "series": [{"name": this, "data": lines.iter().map(|l| l.this).collect::<Vec<_>>()}]})
    } else {
        json!({"type": "bar", "title": t.title, "x": t.x, "y": t.y, "labels": labels, "series": [
            {"name": this, "data": lines.iter().map(|l| l.this).collect::<Vec<_>>()},
            {"name": prev, "data": lines.iter().map(|l| l.prev).collect::<Vec<_>>()},
        ]})
    };
    spec.to_string()
}

#[derive(Deserialize, Default)]
struct WeekQuery {
    /// A community's id, or `all`.
    community_id: Option<String>,
    week: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "reports/weekly.html")]
struct WeeklyPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    selected: String,
    title: String,
    w: rp::Weekly,
    generated: String,
    kpis: Vec<Kpi>,
    sections: Vec<(String, String, Vec<Line>)>,
    charts: Vec<(String, String)>,
    prev_week: String,
    next_week: String,
    kept: Vec<(String, String)>,
    query: String,
    /// One community's week that has ended: its analysis and acknowledgement (R-CMP-8).
    review: Option<ReviewView>,
    f: Form,
}

/// The week's analysis for the director and the director's acknowledgement.
pub struct ReviewView {
    pub community_id: i64,
    pub r: Option<sr::WeeklyReview>,
    pub analysed_at: String,
    pub acknowledged_at: String,
    /// The CS manager may write (or rewrite) the analysis: not acknowledged yet.
    pub can_submit: bool,
    /// The director may acknowledge: submitted, not yet acknowledged.
    pub can_acknowledge: bool,
}

fn kind_label(c: &Chrome, k: &str) -> String {
    c.label_code(SheetKind::parse(k).ok(), k)
}

fn category_label(c: &Chrome, key: &str) -> String {
    let (kind, cat) = key.split_once(':').unwrap_or(("", key));
    let cat = if kind == "complaint" { cat.to_string() } else { c.label_code(RepairCategory::parse(cat).ok(), cat) };
    format!("{} · {cat}", kind_label(c, kind))
}

async fn weekly(State(s): State<AppState>, ctx: Ctx, Query(q): Query<WeekQuery>) -> PageResult {
    weekly_view(&s, &ctx, q, Form::default()).await
}

async fn weekly_view(s: &AppState, ctx: &Ctx, q: WeekQuery, f: Form) -> PageResult {
    let s = s.clone();
    let ctx = ctx.clone();
    let list = communities(&s, &ctx, Permission::ViewReports).await?;
    let all = q.community_id.as_deref() == Some("all") && list.len() > 1;
    let wanted = q.community_id.as_deref().and_then(|v| v.parse().ok());
    let cm = pick(&list, wanted, ctx.lang)?;
    let community = (!all).then_some(cm.id);
    let w = rp::weekly(&s.app, &ctx.actor, community, q.week.as_deref()).await.page(ctx.lang)?;
    let c = Chrome::of(&ctx);
    let t = w.totals.clone();
    let kpis = vec![
        Kpi {
            id: "kpi-registered",
            label: c.t.get("report.registered").into(),
            value: t.registered.to_string(),
            prev: t.registered_prev.to_string(),
        },
        Kpi {
            id: "kpi-collected",
            label: c.t.get("report.collected").into(),
            value: t.collected.to_string(),
            prev: t.collected_prev.to_string(),
        },
        Kpi {
            id: "kpi-on-time",
            label: c.t.get("report.on_time").into(),
            value: pct(t.collected_on_time, t.collected),
            prev: pct(t.collected_on_time_prev, t.collected_prev),
        },
        Kpi {
            id: "kpi-complaints",
            label: c.t.get("report.complaints").into(),
            value: t.complaints.to_string(),
            prev: t.complaints_prev.to_string(),
        },
        Kpi {
            id: "kpi-repeat",
            label: c.t.get("report.repeat_complaints").into(),
            value: t.complaints_repeat.to_string(),
            prev: t.complaints_repeat_prev.to_string(),
        },
        Kpi {
            id: "kpi-arrival",
            label: c.t.get("report.arrival_on_time").into(),
            value: pct(t.arrived_on_time, t.arrived),
            prev: pct(t.arrived_on_time_prev, t.arrived_prev),
        },
        Kpi {
            id: "kpi-satisfied",
            label: c.t.get("report.satisfaction").into(),
            value: pct(t.satisfied, t.followed_up),
            prev: pct(t.satisfied_prev, t.followed_up_prev),
        },
        Kpi {
            id: "kpi-open",
            label: c.t.get("report.open_at_end").into(),
            value: t.open_at_end.to_string(),
            prev: String::new(),
        },
    ];
    let by_kind = lines(&w.by_kind, |k| kind_label(&c, k));
    let by_channel = lines(&w.by_channel, |k| c.label_code(Channel::parse(k).ok(), k));
    let none = c.t.get("report.no_building").to_string();
    let by_building = lines(&w.by_building, |k| if k.is_empty() { none.clone() } else { k.to_string() });
    let by_category = lines(&w.by_category, |k| category_label(&c, k));
    let (this_name, prev_name) = (c.t.get("report.this_week"), c.t.get("report.last_week"));
    let count = c.t.get("report.axis_count");
    let titled = |title: &'static str, x: &'static str| Titles { title: c.t.get(title), x: c.t.get(x), y: count };
    let charts = vec![
        (
            "chart-kind".to_string(),
            chart("bar", &by_kind, this_name, prev_name, titled("report.by_kind", "sheet.kind")),
        ),
        (
            "chart-channel".to_string(),
            chart("pie", &by_channel, this_name, prev_name, titled("report.by_channel", "sheet.channel")),
        ),
        (
            "chart-building".to_string(),
            chart("bar", &by_building, this_name, prev_name, titled("report.by_building", "report.axis_building")),
        ),
    ];
    let sections = vec![
        ("by-kind".to_string(), c.t.get("report.by_kind").to_string(), by_kind),
        ("by-channel".to_string(), c.t.get("report.by_channel").to_string(), by_channel),
        ("by-building".to_string(), c.t.get("report.by_building").to_string(), by_building),
        ("by-category".to_string(), c.t.get("report.by_category").to_string(), by_category),
    ];
    let monday = chrono::NaiveDate::parse_from_str(&w.week_start, "%Y-%m-%d").unwrap_or_default();
    let selected = if all { "all".to_string() } else { cm.id.to_string() };
    let tz = super::community_zone(&s, &ctx, cm.id).await?;
    let kept = if all {
        vec![]
    } else {
        rp::kept_weeks(&s.app, &ctx.actor, cm.id)
            .await
            .page(ctx.lang)?
            .into_iter()
            .take(12)
            .map(|k| (k.week_start, when(k.generated_at, tz)))
            .collect()
    };
    let query = format!("community_id={selected}&week={}", w.week_start);
    let title = if all { c.t.get("report.all_communities").to_string() } else { cm.name.clone() };
    if let Some(format) = export::Format::parse(q.format.as_deref()) {
        let table = export::Table {
            title: c.t.get("report.weekly").to_string(),
            columns: vec![
                export::Column::text(c.t.get("report.section"), 10),
                export::Column::text(c.t.get("report.item"), 16),
                export::Column::number(this_name, 8),
                export::Column::number(prev_name, 8),
                export::Column::signed(c.t.get("report.change"), 6),
            ],
        };
        let mut rows = vec![];
        for k in &kpis {
            rows.push(vec![
                c.t.get("report.summary").to_string(),
                k.label.clone(),
                k.value.clone(),
                k.prev.clone(),
                String::new(),
            ]);
        }
        for (_, section, ls) in &sections {
            for l in ls {
                rows.push(vec![
                    section.clone(),
                    l.label.clone(),
                    l.this.to_string(),
                    l.prev.to_string(),
                    l.delta.clone(),
                ]);
            }
        }
        let d = export::Download {
            format,
            table,
            name: format!("{} {title} {}", c.t.get("report.weekly"), w.week_start),
            fallback: format!("weekly-{}", w.week_start),
        };
        return export::download_rows(d, rows).await.page(ctx.lang);
    }
    let generated = w.generated_at.map(|at| when(at, tz)).unwrap_or_default();
    let this_monday = rp::monday_of(rp::local_day(tz, ctx.now));
    let review = (!all && monday < this_monday).then(|| {
        let roles = ctx.actor.roles_in(cm.id);
        let r = w.review.clone();
        let acknowledged = r.as_ref().is_some_and(|x| x.acknowledged_at.is_some());
        let submitted = r.as_ref().is_some_and(|x| x.analysed_at.is_some());
        ReviewView {
            community_id: cm.id,
            analysed_at: r.as_ref().and_then(|x| x.analysed_at).map(|t| when(t, tz)).unwrap_or_default(),
            acknowledged_at: r.as_ref().and_then(|x| x.acknowledged_at).map(|t| when(t, tz)).unwrap_or_default(),
            can_submit: !acknowledged
                && roles.contains(&huiqian_domain::auth::Role::CsManager)
                && ctx.actor.can_write(),
            can_acknowledge: submitted
                && !acknowledged
                && roles.contains(&huiqian_domain::auth::Role::CentreDirector)
                && ctx.actor.can_write(),
            r,
        }
    });
    let mut options: Vec<(String, String)> = list.iter().map(|x| (x.id.to_string(), x.name.clone())).collect();
    if list.len() > 1 {
        options.insert(0, ("all".to_string(), c.t.get("report.all_communities").to_string()));
    }
    Ok(render(&WeeklyPage {
        communities: options,
        selected,
        title,
        generated,
        kpis,
        sections,
        charts,
        prev_week: (monday - chrono::Duration::days(7)).to_string(),
        next_week: (monday + chrono::Duration::days(7)).to_string(),
        kept,
        query,
        review,
        f,
        w,
        c,
    }))
}

#[derive(Deserialize, Default)]
struct ReviewForm {
    community_id: i64,
    #[serde(default)]
    week: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    analysis: String,
    #[serde(default)]
    remarks: String,
}

/// The CS manager's analysis, sent with the week's table to the director (R-CMP-8).
async fn submit_analysis(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<ReviewForm>) -> PageResult {
    let input = rp::AnalysisInput { analysis: f.analysis.clone(), version: f.version };
    review_done(&s, &ctx, &f, rp::submit_analysis(&s.app, &ctx.actor, f.community_id, &f.week, &input).await).await
}

/// The director's acknowledgement of the week's table and analysis.
async fn acknowledge(State(s): State<AppState>, ctx: Ctx, AxForm(f): AxForm<ReviewForm>) -> PageResult {
    let input = rp::AcknowledgeInput { remarks: f.remarks.clone(), version: f.version };
    review_done(&s, &ctx, &f, rp::acknowledge(&s.app, &ctx.actor, f.community_id, &f.week, &input).await).await
}

async fn review_done(
    s: &AppState,
    ctx: &Ctx,
    f: &ReviewForm,
    r: crate::app::AppResult<sr::WeeklyReview>,
) -> PageResult {
    let back = WeekQuery { community_id: Some(f.community_id.to_string()), week: Some(f.week.clone()), format: None };
    match r {
        Ok(_) => Ok(see_other(&format!("/reports/weekly?community_id={}&week={}", f.community_id, f.week))),
        Err(e) => {
            let mut form = Form::with(&[("analysis", f.analysis.clone()), ("remarks", f.remarks.clone())]);
            form.fail(e, ctx.lang)?;
            weekly_view(s, ctx, back, form).await
        }
    }
}

// ---- staff performance ----

#[derive(Deserialize, Default)]
struct StaffQuery {
    community_id: Option<i64>,
    from: Option<String>,
    to: Option<String>,
}

pub struct PersonLine {
    pub p: sr::Person,
    pub recovery: String,
    pub on_time: String,
    pub arrival: String,
    pub satisfaction: String,
    /// Recovery below 100% (R-SHEET-9).
    pub short: bool,
}

#[derive(Template)]
#[template(path = "reports/staff.html")]
struct StaffPage {
    c: Chrome,
    communities: Vec<(String, String)>,
    community_id: i64,
    f: Form,
    people: Vec<PersonLine>,
    departments: Vec<(sr::Department, String)>,
    query: String,
}

async fn staff(State(s): State<AppState>, ctx: Ctx, Query(q): Query<StaffQuery>) -> PageResult {
    let list = communities(&s, &ctx, Permission::ViewReports).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let period = rp::Period { from: q.from.clone(), to: q.to.clone() };
    let mut f = Form::with(&[("from", q.from.clone().unwrap_or_default()), ("to", q.to.clone().unwrap_or_default())]);
    let c = Chrome::of(&ctx);
    let options: Vec<(String, String)> = list.iter().map(|x| (x.id.to_string(), x.name.clone())).collect();
    match rp::performance(&s.app, &ctx.actor, cm.id, &period).await {
        Ok(p) => {
            let query = format!("community_id={}&from={}&to={}", cm.id, p.from, p.to);
            f.values.insert("from".into(), p.from.clone());
            f.values.insert("to".into(), p.to.clone());
            let people = p
                .people
                .into_iter()
                .map(|p| PersonLine {
                    recovery: pct(p.recovered, p.registered),
                    on_time: pct(p.recovered_on_time, p.recovered),
                    arrival: pct(p.arrived_on_time, p.arrived_on_time + p.arrived_late),
                    satisfaction: pct(p.satisfied, p.followed_up),
                    short: p.recovered < p.registered,
                    p,
                })
                .collect();
            let departments = p
                .departments
                .into_iter()
                .map(|d| {
                    let on_time = pct(d.returned_on_time, d.returned);
                    (d, on_time)
                })
                .collect();
            Ok(render(&StaffPage { communities: options, community_id: cm.id, f, people, departments, query, c }))
        }
        Err(e @ AppError::Validation(_)) => {
            let st = f.fail(e, ctx.lang)?;
            let view = StaffPage {
                communities: options,
                community_id: cm.id,
                f,
                people: vec![],
                departments: vec![],
                query: String::new(),
                c,
            };
            Ok(page(st, &view))
        }
        Err(e) => Err(super::PageError(e, ctx.lang)),
    }
}

#[derive(Template)]
#[template(path = "reports/drill.html")]
struct DrillPage {
    c: Chrome,
    title: String,
    rows: Vec<(st::SheetRow, String, String)>,
    back: String,
}

async fn drill(
    State(s): State<AppState>,
    ctx: Ctx,
    Path((user, measure)): Path<(i64, String)>,
    Query(q): Query<StaffQuery>,
) -> PageResult {
    let list = communities(&s, &ctx, Permission::ViewReports).await?;
    let cm = pick(&list, q.community_id, ctx.lang)?;
    let m: sr::Measure =
        serde_json::from_value(json!(measure)).map_err(|_| super::PageError(AppError::NotFound, ctx.lang))?;
    let period = rp::Period { from: q.from.clone(), to: q.to.clone() };
    let rows = rp::drill(&s.app, &ctx.actor, cm.id, user, m, &period).await.page(ctx.lang)?;
    let zone = super::community_zone(&s, &ctx, cm.id).await?;
    let c = Chrome::of(&ctx);
    let name = crate::app::auth::display_name(&s.app, &ctx.actor, cm.id, user).await.page(ctx.lang)?;
    let title = format!("{name} · {}", c.t.get(&format!("report.measure.{measure}")));
    let rows = rows
        .into_iter()
        .map(|r| {
            let kind = kind_label(&c, &r.kind);
            let at = when(r.registered_at, zone);
            (r, kind, at)
        })
        .collect();
    let back = format!(
        "/reports/staff?community_id={}&from={}&to={}",
        cm.id,
        q.from.unwrap_or_default(),
        q.to.unwrap_or_default()
    );
    Ok(render(&DrillPage { title, rows, back, c }))
}

//! Reports for the centre's management: the weekly statistics table of requests and
//! complaints (业主/住户诉求统计表, R-CMP-8), generated for each community when its week
//! ends and kept; staff performance per person and per department over a period with the
//! sheets behind each number (R-ROLE-3, R-SHEET-9).

use super::{Actor, App, AppError, AppResult};
use crate::store::{self, report as sr};
use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use huiqian_domain::auth::Permission;
use huiqian_domain::validation::ValidationError;
use serde::{Deserialize, Serialize};

/// Midnight at the start of `day` in the zone, epoch ms.
pub fn day_start_ms(zone: Tz, day: NaiveDate) -> i64 {
    zone.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// The Monday of the week holding `day`.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The local day of an instant.
pub fn local_day(zone: Tz, at: i64) -> NaiveDate {
    chrono::Utc.timestamp_millis_opt(at).single().unwrap_or_default().with_timezone(&zone).date_naive()
}

/// How long after midnight the day before counts as settled (see [`count_week`]).
const SETTLE_GRACE: i64 = 5 * 60_000;

fn weeks(zone: Tz, monday: NaiveDate) -> sr::Weeks {
    sr::Weeks {
        prev: day_start_ms(zone, monday - Duration::days(7)),
        start: day_start_ms(zone, monday),
        end: day_start_ms(zone, monday + Duration::days(7)),
    }
}

/// The weekly statistics table (R-CMP-8): this week beside the week before.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Weekly {
    /// The communities counted.
    pub community_ids: Vec<i64>,
    /// Monday and Sunday of the week (community's zone).
    pub week_start: String,
    pub week_end: String,
    pub totals: sr::Totals,
    /// By kind of request (`repair`, `complaint`, …).
    pub by_kind: Vec<sr::Split>,
    /// By channel (`visit`, `phone`, `letter`).
    pub by_channel: Vec<sr::Split>,
    /// By building code (empty: no unit named).
    pub by_building: Vec<sr::Split>,
    /// Repairs and complaints by category (`repair:water`, `complaint:噪音`).
    pub by_category: Vec<sr::Split>,
    /// When the kept report was generated (absent: counted now).
    pub generated_at: Option<i64>,
    /// The customer-service manager's analysis sent to the centre director with a kept
    /// week, and the director's acknowledgement (R-CMP-8). Read with the table, never kept
    /// inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<sr::WeeklyReview>,
}

async fn count_week(app: &App, ids: &[i64], zone: Tz, monday: NaiveDate, now: i64) -> AppResult<Weekly> {
    // Days are settled from the start of the day five minutes ago: a registration still
    // being committed at midnight is counted with its day, never left out of it.
    let settled_to = day_start_ms(zone, local_day(zone, now - SETTLE_GRACE));
    let week = sr::week(&app.store, ids, weeks(zone, monday), settled_to, ids.len() > 1).await?;
    Ok(Weekly {
        community_ids: ids.to_vec(),
        week_start: monday.to_string(),
        week_end: (monday + Duration::days(6)).to_string(),
        totals: week.totals,
        by_kind: week.by_kind,
        by_channel: week.by_channel,
        by_building: week.by_building,
        by_category: week.by_category,
        generated_at: None,
        review: None,
    })
}

fn parse_week(week: Option<&str>, zone: Tz, now: i64) -> AppResult<NaiveDate> {
    match week.map(str::trim).filter(|w| !w.is_empty()) {
        None => Ok(monday_of(local_day(zone, now))),
        Some(w) => NaiveDate::parse_from_str(w, "%Y-%m-%d")
            .map(monday_of)
            .map_err(|_| AppError::field("week", ValidationError::new("date.format"))),
    }
}

/// The week's table for one community, or for every community the actor reports on
/// (`community == None`). A past week of one community is read as it was kept when the
/// week ended; the current week, and sums over communities, are counted now.
pub async fn weekly(app: &App, actor: &Actor, community: Option<i64>, week: Option<&str>) -> AppResult<Weekly> {
    let ids: Vec<i64> = match community {
        Some(c) => {
            actor.authorize(Permission::ViewReports, c)?;
            vec![c]
        }
        None => {
            let all = super::org::my_communities(app, actor).await?;
            let ids: Vec<i64> =
                all.iter().map(|c| c.id).filter(|id| actor.authorize(Permission::ViewReports, *id).is_ok()).collect();
            if ids.is_empty() {
                return Err(AppError::Forbidden);
            }
            ids
        }
    };
    let now = app.clock.now();
    let zone = app.store.community_zone(ids[0]).await?.ok_or(AppError::NotFound)?;
    let monday = parse_week(week, zone, now)?;
    if let [c] = ids[..]
        && let Some((data, at)) = sr::kept_weekly(app.store.read(), c, &monday.to_string()).await?
    {
        let mut kept: Weekly =
            serde_json::from_str(&data).map_err(|e| AppError::Internal(format!("kept report: {e}")))?;
        kept.generated_at = Some(at);
        kept.review = sr::weekly_review(app.store.read(), c, &monday.to_string()).await?;
        return Ok(kept);
    }
    count_week(app, &ids, zone, monday, now).await
}

/// The weeks kept for a community, newest first: (Monday, generated at).
pub async fn kept_weeks(app: &App, actor: &Actor, c: i64) -> AppResult<Vec<sr::KeptWeek>> {
    actor.authorize(Permission::ViewReports, c)?;
    Ok(sr::kept_weeks(app.store.read(), c, 104).await?)
}

/// Keep last week's table for every community whose week has ended and has none yet.
/// Run by the scheduler; two processes keep one copy.
pub async fn keep_last_week(app: &App, now: i64) -> AppResult<usize> {
    let mut kept = 0;
    // Communities in different zones end their weeks at different instants: each is
    // asked for its own last week.
    let zones = sr::active_zones(app.store.read()).await?;
    let mut asked: Vec<String> = vec![];
    for &(_, zone) in &zones {
        let last = monday_of(local_day(zone, now)) - Duration::days(7);
        let key = last.to_string();
        if asked.contains(&key) {
            continue;
        }
        asked.push(key.clone());
        for (c, zone) in sr::communities_missing_week(app.store.read(), &key).await? {
            if monday_of(local_day(zone, now)) - Duration::days(7) != last {
                continue;
            }
            let table = count_week(app, &[c], zone, last, now).await?;
            let data = serde_json::to_string(&table).expect("reports serialise");
            let mut tx = app.store.begin().await?;
            if sr::keep_weekly(&mut tx, c, &key, &data, now).await? {
                crate::app::audit::record_system(
                    app,
                    &mut tx,
                    now,
                    Some(c),
                    "report.weekly_kept",
                    "community",
                    c,
                    serde_json::json!({"week_start": key}),
                    "R-CMP-8",
                )
                .await?;
                kept += 1;
            }
            tx.commit().await?;
        }
    }
    Ok(kept)
}

// ---- the table to the director (R-CMP-8) ----

/// A week that has ended in the community's zone, as its Monday.
fn ended_week(zone: Tz, week: &str, now: i64) -> AppResult<NaiveDate> {
    let monday = parse_week(Some(week), zone, now)?;
    if monday >= monday_of(local_day(zone, now)) {
        return Err(AppError::rejected("report.week_not_over"));
    }
    Ok(monday)
}

/// The week's table as kept, keeping it now if the scheduler has not yet.
async fn ensure_kept(app: &App, c: i64, zone: Tz, monday: NaiveDate, now: i64) -> AppResult<()> {
    let key = monday.to_string();
    if sr::kept_weekly(app.store.read(), c, &key).await?.is_some() {
        return Ok(());
    }
    let table = count_week(app, &[c], zone, monday, now).await?;
    let data = serde_json::to_string(&table).expect("reports serialise");
    let mut tx = app.store.begin().await?;
    sr::keep_weekly(&mut tx, c, &key, &data, now).await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AnalysisInput {
    /// The customer-service manager's written analysis of the week's requests and complaints.
    pub analysis: String,
    /// The review's version read (1 for a week nobody has analysed yet).
    pub version: i64,
}

/// The customer-service manager writes the week's analysis and sends the table to the
/// centre director (R-CMP-8: "每周将业主/住户诉求进行统计分析填写业主/住户诉求统计表报中心
/// 主任"). May be rewritten until the director has acknowledged it.
pub async fn submit_analysis(
    app: &App,
    actor: &Actor,
    c: i64,
    week: &str,
    input: &AnalysisInput,
) -> AppResult<sr::WeeklyReview> {
    actor.authorize(Permission::ViewReports, c)?;
    let authority =
        super::request::in_role(actor, c, &[huiqian_domain::auth::Role::CsManager]).ok_or(AppError::Forbidden)?;
    let now = app.clock.now();
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let monday = ended_week(zone, week, now)?;
    let analysis = input.analysis.trim();
    if analysis.is_empty() {
        return Err(AppError::field("analysis", ValidationError::new("required")));
    }
    if analysis.chars().count() > 4000 {
        return Err(AppError::field("analysis", ValidationError::new("text.too_long").with("max", 4000)));
    }
    ensure_kept(app, c, zone, monday, now).await?;
    let key = monday.to_string();
    let before = sr::weekly_review(app.store.read(), c, &key).await?.ok_or(AppError::NotFound)?;
    if before.acknowledged_at.is_some() {
        return Err(AppError::rejected("report.acknowledged"));
    }
    let mut conn = app.store.read().acquire().await?;
    let directors = crate::store::request::users_with_roles(&mut conn, c, &["centre_director"]).await?;
    drop(conn);
    let mut tx = app.store.begin().await?;
    if !sr::submit_analysis(&mut tx, c, &key, input.version, analysis, actor.user_id(), now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    for d in directors {
        let dedupe = format!("weekly_submitted:{c}:{key}:{d}:{}", before.version + 1);
        notify_week(app, &mut tx, d, c, &key, "weekly_submitted", &dedupe, now).await?;
    }
    super::audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "report.weekly_submitted",
        "community",
        c,
        serde_json::json!({"week_start": key, "analysis": analysis}),
    )
    .await?;
    tx.commit().await?;
    sr::weekly_review(app.store.read(), c, &key).await?.ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AcknowledgeInput {
    /// The director's remarks, if any.
    #[serde(default)]
    pub remarks: String,
    pub version: i64,
}

/// The centre director acknowledges the week's table and analysis (签阅), once.
pub async fn acknowledge(
    app: &App,
    actor: &Actor,
    c: i64,
    week: &str,
    input: &AcknowledgeInput,
) -> AppResult<sr::WeeklyReview> {
    let authority =
        super::request::in_role(actor, c, &[huiqian_domain::auth::Role::CentreDirector]).ok_or(AppError::Forbidden)?;
    let now = app.clock.now();
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let key = ended_week(zone, week, now)?.to_string();
    let before =
        sr::weekly_review(app.store.read(), c, &key).await?.ok_or(AppError::rejected("report.not_submitted"))?;
    if before.analysed_at.is_none() {
        return Err(AppError::rejected("report.not_submitted"));
    }
    if before.acknowledged_at.is_some() {
        return Err(AppError::rejected("report.acknowledged"));
    }
    let remarks = input.remarks.trim();
    if remarks.chars().count() > 2000 {
        return Err(AppError::field("remarks", ValidationError::new("text.too_long").with("max", 2000)));
    }
    let mut tx = app.store.begin().await?;
    if !sr::acknowledge(&mut tx, c, &key, input.version, remarks, actor.user_id(), now).await? {
        return Err(AppError::Conflict { code: "stale_version" });
    }
    if let Some(m) = before.analysed_by {
        let dedupe = format!("weekly_acknowledged:{c}:{key}:{m}");
        notify_week(app, &mut tx, m, c, &key, "weekly_acknowledged", &dedupe, now).await?;
    }
    super::audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "report.weekly_acknowledged",
        "community",
        c,
        serde_json::json!({"week_start": key, "remarks": remarks}),
    )
    .await?;
    tx.commit().await?;
    sr::weekly_review(app.store.read(), c, &key).await?.ok_or(AppError::NotFound)
}

/// A notice about a week's table (no sheet behind it).
#[allow(clippy::too_many_arguments)]
async fn notify_week(
    app: &App,
    tx: &mut store::Tx,
    user_id: i64,
    c: i64,
    week: &str,
    kind: &str,
    dedupe: &str,
    now: i64,
) -> AppResult<()> {
    let Some(user) = crate::store::auth::user(&mut **tx, user_id).await? else { return Ok(()) };
    let lang = crate::i18n::Lang::parse(&user.locale).unwrap_or_default();
    let said = super::notify::Said { week: Some(week.to_string()), ..Default::default() };
    let zone = app.zone_of(Some(c)).await?;
    let (title, body) = said.told(lang, kind, zone);
    let params = said.stored();
    let id = crate::store::notify::insert_notification(
        tx,
        user_id,
        Some(c),
        None,
        kind,
        &title,
        &body,
        &params,
        dedupe,
        now,
    )
    .await?;
    if let Some(id) = id
        && !app.config.notify.webhook_url.is_empty()
    {
        let payload = serde_json::json!({"id": id, "kind": kind, "user_id": user_id, "phone_masked": user.phone_masked, "week": week, "title": title, "body": body});
        crate::store::notify::enqueue(tx, id, &payload.to_string(), now).await?;
    }
    Ok(())
}

// ---- staff performance ----

/// A period as the manager picks it: `[from, to]` local days.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct Period {
    /// First day (YYYY-MM-DD); the first of this month when absent.
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), included; today when absent.
    pub to: Option<String>,
}

fn period(p: &Period, zone: Tz, now: i64) -> AppResult<(NaiveDate, NaiveDate, i64, i64)> {
    let today = local_day(zone, now);
    let day = |v: &Option<String>, field: &str, default: NaiveDate| match v.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| AppError::field(field, ValidationError::new("date.format"))),
    };
    let from = day(&p.from, "from", today.with_day(1).unwrap_or(today))?;
    let to = day(&p.to, "to", today)?;
    if to < from {
        return Err(AppError::field("to", ValidationError::new("report.end_before_start")));
    }
    Ok((from, to, day_start_ms(zone, from), day_start_ms(zone, to + Duration::days(1))))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Performance {
    pub community_id: i64,
    pub from: String,
    pub to: String,
    pub people: Vec<sr::Person>,
    pub departments: Vec<sr::Department>,
}

pub async fn performance(app: &App, actor: &Actor, c: i64, p: &Period) -> AppResult<Performance> {
    actor.authorize(Permission::ViewReports, c)?;
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let (from, to, a, b) = period(p, zone, app.clock.now())?;
    let pool = app.store.read();
    Ok(Performance {
        community_id: c,
        from: from.to_string(),
        to: to.to_string(),
        people: sr::people(pool, c, a, b).await?,
        departments: sr::departments(pool, app.store.backend(), c, a, b).await?,
    })
}

/// The sheets behind one of a person's numbers.
pub async fn drill(
    app: &App,
    actor: &Actor,
    c: i64,
    user_id: i64,
    m: sr::Measure,
    p: &Period,
) -> AppResult<Vec<crate::store::sheet::SheetRow>> {
    actor.authorize(Permission::ViewReports, c)?;
    let zone = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
    let (_, _, a, b) = period(p, zone, app.clock.now())?;
    Ok(sr::drill(app.store.read(), c, user_id, m, a, b, 1000).await?)
}

// ---- home dashboards ----

/// The numbers one community's home dashboard shows this person: what each of their
/// roles acts on there (R-ROLE-2), and for managers the open sheets and the
/// receptionists' recovery rates over a period (R-SHEET-9).
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub community_id: i64,
    pub community: String,
    /// Which of the counts apply to this person here.
    pub wants: sr::Wants,
    pub counts: sr::Counts,
    /// Managers: open sheets and those past their deadline.
    pub open: Option<(i64, i64)>,
    /// Managers: per receptionist, sheets registered and recovered in the period.
    pub recovery: Option<Vec<crate::store::sheet::Recovery>>,
}

/// The home dashboards over the communities given (those one works in). `from` and `to`
/// bound the recovery period (local days, `YYYY-MM-DD`); a day that does not parse falls
/// back to the first of this month and today. A community where the person holds no
/// role with a number to show has no dashboard.
pub async fn home(
    app: &App,
    actor: &Actor,
    communities: &[crate::store::org::Community],
    from: &str,
    to: &str,
) -> AppResult<Vec<Dashboard>> {
    use Permission as P;
    let now = app.clock.now();
    let may = |p: P, c: i64| actor.authorize(p, c).is_ok();
    let mut out = vec![];
    for cm in communities {
        let c = cm.id;
        let manager = may(P::ReassignSheet, c);
        let wants = sr::Wants {
            desk: may(P::HandleSheet, c),
            follow_up: may(P::FollowUp, c),
            review: may(P::ReviewFollowUp, c),
            dispatch: may(P::DispatchRepair, c),
            technician: may(P::DoRepair, c),
            reports: may(P::ViewReports, c),
        };
        if !manager && wants == sr::Wants::default() {
            continue;
        }
        let tz = app.store.community_zone(c).await?.ok_or(AppError::NotFound)?;
        let today = crate::app::people::today_in(tz, now);
        let at = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0).and_then(|d| tz.from_local_datetime(&d).single()).map(|d| d.timestamp_millis())
        };
        let week_start = at(monday_of(today)).unwrap_or(0);
        let pool = app.store.read();
        let counts = sr::counts(pool, c, actor.user_id(), now, week_start, wants).await?;
        let (open, recovery) = if manager {
            // The period: the days asked for, else this month so far.
            let day = |v: &str| huiqian_domain::time::CivilDate::parse(v).ok().map(|d| d.date());
            let first = day(from).unwrap_or(today.with_day(1).unwrap_or(today));
            let last = day(to).unwrap_or(today).max(first);
            let period_start = at(first).unwrap_or(0);
            let period_end = last.succ_opt().and_then(at).unwrap_or(now + 1);
            (
                Some(crate::store::sheet::open_counts(pool, c, now).await?),
                Some(crate::store::sheet::recovery(pool, c, period_start, period_end).await?),
            )
        } else {
            (None, None)
        };
        out.push(Dashboard { community_id: c, community: cm.name.clone(), wants, counts, open, recovery });
    }
    Ok(out)
}

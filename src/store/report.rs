//! Reports read from the sheets: the weekly statistics of requests and complaints
//! (R-CMP-8) and staff performance (R-ROLE-3, R-SHEET-9). Every count is one grouped
//! statement over a time range, split into the period and the one before it where a
//! change is shown, so a report costs a handful of index range scans whatever the
//! database's size.

use super::{StoreError, parse_zone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, FromRow};

/// `IN (…)` of community ids (integers only, so it is safe to inline).
fn in_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "(NULL)".into();
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({})", list.join(","))
}

/// One line of a breakdown: its key, this period and the one before.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Split {
    pub key: String,
    pub this: i64,
    pub prev: i64,
}

/// The time ranges of a weekly report: `[prev, start)` is the week before `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct Weeks {
    pub prev: i64,
    pub start: i64,
    pub end: i64,
}

fn this_prev(column: &str) -> String {
    format!(
        "CAST(SUM(CASE WHEN {column} >= $2 THEN 1 ELSE 0 END) AS BIGINT) AS this, \
         CAST(SUM(CASE WHEN {column} < $2 THEN 1 ELSE 0 END) AS BIGINT) AS prev"
    )
}

/// The week's numbers the director reads first, each this week and the week before.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq, utoipa::ToSchema)]
pub struct Totals {
    pub registered: i64,
    pub registered_prev: i64,
    /// Collected (closed with the resident's confirmation) in the week.
    pub collected: i64,
    pub collected_prev: i64,
    /// … of which within their deadline (R-SHEET-7).
    pub collected_on_time: i64,
    pub collected_on_time_prev: i64,
    /// Complaints registered; valid ones; repeats and serious ones flagged (R-CMP-5).
    pub complaints: i64,
    pub complaints_prev: i64,
    pub complaints_valid: i64,
    pub complaints_valid_prev: i64,
    pub complaints_repeat: i64,
    pub complaints_repeat_prev: i64,
    pub complaints_serious: i64,
    pub complaints_serious_prev: i64,
    /// Repairs arrived at; on time (R-REP-3).
    pub arrived: i64,
    pub arrived_prev: i64,
    pub arrived_on_time: i64,
    pub arrived_on_time_prev: i64,
    /// Follow-ups recorded; residents satisfied (R-FU-3).
    pub followed_up: i64,
    pub followed_up_prev: i64,
    pub satisfied: i64,
    pub satisfied_prev: i64,
    /// Registered before the week's end and not collected by then.
    pub open_at_end: i64,
}

/// The weekly table's numbers: the totals and the four breakdowns, each key in natural
/// order (building 3 before building 10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Week {
    pub totals: Totals,
    pub by_kind: Vec<Split>,
    pub by_channel: Vec<Split>,
    pub by_building: Vec<Split>,
    pub by_category: Vec<Split>,
}

/// One group of a community's registered sheets.
#[derive(FromRow, Clone)]
struct Registered {
    community_id: i64,
    kind: String,
    channel: String,
    building_id: Option<i64>,
    this: i64,
    prev: i64,
}

/// The registrations of settled days, per community, kept in memory: a sheet's
/// community, kind, channel, building and registration time never change once it is
/// registered, and the desk registers only at the present moment, so the groups of days
/// that are over (see [`week`]) are final and are counted once. Keyed by community, the
/// range's start, the week's start (where this week and the last are split) and the end
/// of the settled days.
#[derive(Default)]
pub struct Settled(std::sync::Mutex<std::collections::HashMap<SettledKey, Vec<Registered>>>);

/// Community, range start, week start, end of the settled days.
type SettledKey = (i64, i64, i64, i64);

/// Entries kept before the memory of settled days starts afresh (a key lasts a day).
const SETTLED_MAX: usize = 20_000;

/// A community's sheets registered in `[from, to)` grouped by kind, channel and building,
/// split at `split` into this week and the week before.
async fn registered(pool: &AnyPool, c: &[i64], from: i64, split: i64, to: i64) -> Result<Vec<Registered>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT s.community_id, s.kind, s.channel, s.building_id, {} FROM sheets s WHERE s.community_id IN {} \
         AND s.registered_at >= $1 AND s.registered_at < $3 GROUP BY s.community_id, s.kind, s.channel, s.building_id",
        this_prev("s.registered_at"),
        in_list(c)
    ))
    .bind(from)
    .bind(split)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// The two weeks' registrations: the settled days (before `settled_to`) from memory where
/// counted before, the rest from the database.
async fn registrations(
    store: &super::Store,
    c: &[i64],
    w: Weeks,
    settled_to: i64,
) -> Result<Vec<Registered>, sqlx::Error> {
    let pool = store.read();
    let settled_to = settled_to.clamp(w.prev, w.end);
    let mut groups = Vec::new();
    if settled_to > w.prev {
        let key = |c: i64| (c, w.prev, w.start, settled_to);
        let mut missing = Vec::new();
        {
            let kept = store.settled.0.lock().expect("settled registrations");
            for &id in c {
                match kept.get(&key(id)) {
                    Some(g) => groups.extend(g.iter().cloned()),
                    None => missing.push(id),
                }
            }
        }
        if !missing.is_empty() {
            let mut per: std::collections::HashMap<i64, Vec<Registered>> =
                missing.iter().map(|id| (*id, Vec::new())).collect();
            for g in registered(pool, &missing, w.prev, w.start, settled_to).await? {
                per.entry(g.community_id).or_default().push(g);
            }
            let mut kept = store.settled.0.lock().expect("settled registrations");
            if kept.len() + per.len() > SETTLED_MAX {
                kept.clear();
            }
            for (id, g) in per {
                groups.extend(g.iter().cloned());
                kept.insert(key(id), g);
            }
        }
    }
    if settled_to < w.end {
        groups.extend(registered(pool, c, settled_to, w.start, w.end).await?);
    }
    Ok(groups)
}

/// One group of the two weeks' repairs, complaints and special services.
#[derive(FromRow)]
struct Opened {
    kind: String,
    category: Option<String>,
    valid: Option<i64>,
    flag: Option<String>,
    this: i64,
    prev: i64,
}

/// Four counts, each this week and the week before.
#[derive(FromRow, Default)]
struct Quad {
    a: i64,
    a_prev: i64,
    b: i64,
    b_prev: i64,
}

/// Rows of a statement over two weeks (`$1` the previous week's start, `$2` this week's,
/// `$3` its end).
async fn two_weeks<O>(pool: &AnyPool, w: Weeks, sql: &str) -> Result<Vec<O>, sqlx::Error>
where
    O: for<'r> FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    sqlx::query_as(sql).bind(w.prev).bind(w.start).bind(w.end).fetch_all(pool).await
}

/// `{name}` and `{name}_prev`: rows of the two weeks where `cond` holds, split at `$2`.
fn sum_if(column: &str, cond: &str, name: &str) -> String {
    format!(
        "CAST(COALESCE(SUM(CASE WHEN {column} >= $2 AND {cond} THEN 1 ELSE 0 END), 0) AS BIGINT) AS {name}, \
         CAST(COALESCE(SUM(CASE WHEN {column} < $2 AND {cond} THEN 1 ELSE 0 END), 0) AS BIGINT) AS {name}_prev"
    )
}

/// Count the week `[w.start, w.end)` beside the week before for communities `c`: one pass
/// over each kind of row the table reads (sheets by registration, by collection; requests
/// by opening, by arrival; follow-ups by record), each an index range scan of the two
/// weeks, and the open sheets from their own index. Registrations before `settled_to`
/// (the start of a day that is over) are counted once and then read from memory
/// ([`Settled`]); everything else is counted each time. Over several communities a
/// building is shown with its community's code first (`HY/3`).
pub async fn week(
    store: &super::Store,
    c: &[i64],
    w: Weeks,
    settled_to: i64,
    with_community: bool,
) -> Result<Week, sqlx::Error> {
    let pool = store.read();
    let ids = in_list(c);
    let range = |t: &str| format!("{t} >= $1 AND {t} < $3");
    let mut out = Week::default();
    let t = &mut out.totals;

    let registered = registrations(store, c, w, settled_to).await?;
    let buildings = building_keys(pool, &registered, with_community).await?;
    let (mut kinds, mut channels, mut by_building) = (Tally::default(), Tally::default(), Tally::default());
    for g in &registered {
        (t.registered, t.registered_prev) = (t.registered + g.this, t.registered_prev + g.prev);
        kinds.add(&g.kind, g.this, g.prev);
        channels.add(&g.channel, g.this, g.prev);
        let key = g.building_id.and_then(|b| buildings.get(&b)).map_or("", String::as_str);
        by_building.add(key, g.this, g.prev);
    }

    let opened: Vec<Opened> = two_weeks(
        pool,
        w,
        &format!(
            "SELECT r.kind, r.category, r.valid, r.flag, {} FROM requests r WHERE r.community_id IN {ids} \
         AND r.kind IN ('repair', 'complaint', 'special_service') AND {} GROUP BY r.kind, r.category, r.valid, r.flag",
            this_prev("r.opened_at"),
            range("r.opened_at")
        ),
    )
    .await?;
    let mut categories = Tally::default();
    for g in &opened {
        if let Some(category) = &g.category {
            categories.add(&format!("{}:{category}", g.kind), g.this, g.prev);
        }
        if g.kind == "complaint" {
            let add = |n: &mut i64, p: &mut i64| (*n, *p) = (*n + g.this, *p + g.prev);
            add(&mut t.complaints, &mut t.complaints_prev);
            if g.valid == Some(1) {
                add(&mut t.complaints_valid, &mut t.complaints_valid_prev);
            }
            match g.flag.as_deref() {
                Some("repeat") => add(&mut t.complaints_repeat, &mut t.complaints_repeat_prev),
                Some("serious") => add(&mut t.complaints_serious, &mut t.complaints_serious_prev),
                _ => {}
            }
        }
    }

    // All rows of the range (a) and those where `b` holds, from `table` (aliased `x`).
    let quad = |table: &str, column: &str, b: &str| {
        format!(
            "SELECT {}, {} FROM {table} x WHERE x.community_id IN {ids} AND x.{column} IS NOT NULL AND {}",
            sum_if(&format!("x.{column}"), "1 = 1", "a"),
            sum_if(&format!("x.{column}"), b, "b"),
            range(&format!("x.{column}"))
        )
    };
    let one = async |sql: String| -> Result<Quad, sqlx::Error> {
        Ok(two_weeks(pool, w, &sql).await?.into_iter().next().unwrap_or_default())
    };
    let q = one(quad("sheets", "collected_at", "(x.due_at IS NULL OR x.collected_at <= x.due_at)")).await?;
    (t.collected, t.collected_prev, t.collected_on_time, t.collected_on_time_prev) = (q.a, q.a_prev, q.b, q.b_prev);
    let q =
        one(quad("requests", "arrived_at", "(x.arrival_due_at IS NULL OR x.arrived_at <= x.arrival_due_at)")).await?;
    (t.arrived, t.arrived_prev, t.arrived_on_time, t.arrived_on_time_prev) = (q.a, q.a_prev, q.b, q.b_prev);
    let q = one(quad("follow_ups", "recorded_at", "x.outcome = 'satisfied'")).await?;
    (t.followed_up, t.followed_up_prev, t.satisfied, t.satisfied_prev) = (q.a, q.a_prev, q.b, q.b_prev);

    // Open at the week's end: still open now, or collected only after it (both read from
    // indexes: `sheets_open_registered`, whose state list this repeats, and the collection
    // time).
    t.open_at_end = sqlx::query_scalar(&format!(
        "SELECT (SELECT COUNT(*) FROM sheets s WHERE s.community_id IN {ids} \
           AND s.state IN ('registered', 'dispatched', 'awaiting_acceptance', 'suspended') AND s.registered_at < $1) \
         + (SELECT COUNT(*) FROM sheets s WHERE s.community_id IN {ids} AND s.collected_at >= $1 AND s.registered_at < $1)"
    ))
    .bind(w.end)
    .fetch_one(pool)
    .await?;

    out.by_kind = kinds.into_splits();
    out.by_channel = channels.into_splits();
    out.by_building = by_building.into_splits();
    out.by_category = categories.into_splits();
    Ok(out)
}

/// The key each building is shown under: its code, or `HY/3` with the community's code.
async fn building_keys(
    pool: &AnyPool,
    groups: &[Registered],
    with_community: bool,
) -> Result<std::collections::HashMap<i64, String>, sqlx::Error> {
    let mut ids: Vec<i64> = groups.iter().filter_map(|g| g.building_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, String, String)> = sqlx::query_as(&format!(
        "SELECT b.id, b.code, cm.code FROM buildings b JOIN communities cm ON cm.id = b.community_id WHERE b.id IN {}",
        in_list(&ids)
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, code, community)| (id, if with_community { format!("{community}/{code}") } else { code }))
        .collect())
}

/// Splits summed by key.
#[derive(Default)]
struct Tally(std::collections::HashMap<String, (i64, i64)>);

impl Tally {
    fn add(&mut self, key: &str, this: i64, prev: i64) {
        let e = self.0.entry(key.to_string()).or_default();
        (e.0, e.1) = (e.0 + this, e.1 + prev);
    }

    fn into_splits(self) -> Vec<Split> {
        let mut list: Vec<Split> = self.0.into_iter().map(|(key, (this, prev))| Split { key, this, prev }).collect();
        list.sort_by(|a, b| huiqian_domain::unit::natural(&a.key, &b.key));
        list
    }
}

// ---- kept weekly reports ----

/// Keep a community's weekly report (once: a second writer keeps the first).
pub async fn keep_weekly(
    tx: &mut sqlx::AnyConnection,
    community_id: i64,
    week_start: &str,
    data: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "INSERT INTO weekly_reports (community_id, week_start, data, generated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (community_id, week_start) DO NOTHING",
    )
    .bind(community_id)
    .bind(week_start)
    .bind(data)
    .bind(now);
    super::changed_one(tx, q).await
}

pub async fn kept_weekly(
    pool: &AnyPool,
    community_id: i64,
    week_start: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT data, generated_at FROM weekly_reports WHERE community_id = $1 AND week_start = $2")
        .bind(community_id)
        .bind(week_start)
        .fetch_optional(pool)
        .await
}

/// The customer-service manager's analysis sent with a kept week's table to the centre
/// director, and the director's acknowledgement (R-CMP-8: "统计分析…报中心主任").
#[derive(Debug, Clone, FromRow, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct WeeklyReview {
    pub week_start: String,
    pub analysis: String,
    pub analysed_by: Option<i64>,
    pub analysed_by_name: Option<String>,
    pub analysed_at: Option<i64>,
    pub acknowledged_by: Option<i64>,
    pub acknowledged_by_name: Option<String>,
    pub acknowledged_at: Option<i64>,
    pub director_remarks: String,
    pub version: i64,
}

pub async fn weekly_review<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    community_id: i64,
    week_start: &str,
) -> Result<Option<WeeklyReview>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.week_start, w.analysis, w.analysed_by, a.display_name AS analysed_by_name, w.analysed_at, \
         w.acknowledged_by, k.display_name AS acknowledged_by_name, w.acknowledged_at, w.director_remarks, w.version \
         FROM weekly_reports w LEFT JOIN users a ON a.id = w.analysed_by LEFT JOIN users k ON k.id = w.acknowledged_by \
         WHERE w.community_id = $1 AND w.week_start = $2",
    )
    .bind(community_id)
    .bind(week_start)
    .fetch_optional(ex)
    .await
}

/// Write the analysis and send it to the director, if the row is at `version` and the
/// director has not acknowledged it yet.
pub async fn submit_analysis(
    tx: &mut sqlx::AnyConnection,
    community_id: i64,
    week_start: &str,
    version: i64,
    analysis: &str,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE weekly_reports SET analysis = $1, analysed_by = $2, analysed_at = $3, version = version + 1 \
         WHERE community_id = $4 AND week_start = $5 AND version = $6 AND acknowledged_at IS NULL",
    )
    .bind(analysis)
    .bind(by)
    .bind(now)
    .bind(community_id)
    .bind(week_start)
    .bind(version);
    super::changed_one(tx, q).await
}

/// The director's acknowledgement (签阅), once.
pub async fn acknowledge(
    tx: &mut sqlx::AnyConnection,
    community_id: i64,
    week_start: &str,
    version: i64,
    remarks: &str,
    by: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE weekly_reports SET acknowledged_by = $1, acknowledged_at = $2, director_remarks = $3, version = version + 1 \
         WHERE community_id = $4 AND week_start = $5 AND version = $6 AND acknowledged_at IS NULL AND analysed_at IS NOT NULL",
    )
    .bind(by)
    .bind(now)
    .bind(remarks)
    .bind(community_id)
    .bind(week_start)
    .bind(version);
    super::changed_one(tx, q).await
}

/// The weeks kept for a community, newest first.
/// A week whose table was kept as generated.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct KeptWeek {
    /// The Monday the week starts on (`YYYY-MM-DD`).
    pub week_start: String,
    /// When the table was kept (epoch ms).
    pub generated_at: i64,
}

pub async fn kept_weeks(pool: &AnyPool, community_id: i64, limit: i64) -> Result<Vec<KeptWeek>, sqlx::Error> {
    sqlx::query_as(
        "SELECT week_start, generated_at FROM weekly_reports WHERE community_id = $1 ORDER BY week_start DESC LIMIT $2",
    )
    .bind(community_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every active community with its time zone.
pub async fn active_zones(pool: &AnyPool) -> Result<Vec<(i64, Tz)>, StoreError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, timezone FROM communities WHERE active = 1").fetch_all(pool).await?;
    rows.into_iter().map(|(id, name)| Ok((id, parse_zone(id, &name)?))).collect()
}

/// Communities without a kept report for the week starting `week_start`.
pub async fn communities_missing_week(pool: &AnyPool, week_start: &str) -> Result<Vec<(i64, Tz)>, StoreError> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT c.id, c.timezone FROM communities c WHERE c.active = 1 AND NOT EXISTS \
         (SELECT 1 FROM weekly_reports w WHERE w.community_id = c.id AND w.week_start = $1) ORDER BY c.id",
    )
    .bind(week_start)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(|(id, name)| Ok((id, parse_zone(id, &name)?))).collect()
}

// ---- staff performance (R-ROLE-3, R-SHEET-9) ----

/// A person's numbers over a period; each is read from the sheets and can be listed.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = PersonPerformance)]
pub struct Person {
    pub user_id: i64,
    pub name: String,
    /// Sheets registered as first contact (首接) in the period …
    pub registered: i64,
    /// … collected back (the recovery rate's numerator, R-SHEET-9) …
    pub recovered: i64,
    /// … and collected within their deadline.
    pub recovered_on_time: i64,
    /// Repairs completed in the period, arrived on time, arrived late (R-REP-3).
    pub repairs_completed: i64,
    pub arrived_on_time: i64,
    pub arrived_late: i64,
    /// Follow-ups recorded in the period of this person's sheets and repairs, and how many
    /// residents were satisfied (R-FU-3).
    pub followed_up: i64,
    pub satisfied: i64,
    /// Corrective-action reports opened on this person's sheets and repairs (R-FU-4).
    pub capas: i64,
    /// Follow-ups this person recorded.
    pub follow_ups_done: i64,
}

/// A department's handovers over a period (R-SHEET-4, R-SHEET-7).
#[derive(Debug, Clone, FromRow, Serialize, Default, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = DepartmentPerformance)]
pub struct Department {
    pub department_id: i64,
    pub name: String,
    pub received: i64,
    pub returned: i64,
    /// Returned while the sheet's deadline still ran.
    pub returned_on_time: i64,
}

#[derive(FromRow)]
struct Count4 {
    id: i64,
    a: i64,
    b: i64,
    c: i64,
}

/// Follow-ups of one first contact and technician (none: not a repair).
#[derive(FromRow)]
struct Followed {
    first_contact: i64,
    technician: Option<i64>,
    a: i64,
    b: i64,
    c: i64,
}

async fn count4(pool: &AnyPool, sql: &str, c: i64, from: i64, to: i64) -> Result<Vec<Count4>, sqlx::Error> {
    sqlx::query_as(sql).bind(c).bind(from).bind(to).fetch_all(pool).await
}

pub async fn people(pool: &AnyPool, c: i64, from: i64, to: i64) -> Result<Vec<Person>, sqlx::Error> {
    use std::collections::BTreeMap;
    let mut by: BTreeMap<i64, Person> = BTreeMap::new();
    let first = count4(
        pool,
        "SELECT s.first_contact_id AS id, COUNT(*) AS a, \
         CAST(SUM(CASE WHEN s.collected_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS b, \
         CAST(SUM(CASE WHEN s.collected_at IS NOT NULL AND (s.due_at IS NULL OR s.collected_at <= s.due_at) THEN 1 ELSE 0 END) AS BIGINT) AS c \
         FROM sheets s WHERE s.community_id = $1 AND s.registered_at >= $2 AND s.registered_at < $3 GROUP BY s.first_contact_id",
        c,
        from,
        to,
    )
    .await?;
    for r in first {
        let p = by.entry(r.id).or_default();
        (p.registered, p.recovered, p.recovered_on_time) = (r.a, r.b, r.c);
    }
    let tech = count4(
        pool,
        "SELECT r.technician_id AS id, COUNT(*) AS a, \
         CAST(SUM(CASE WHEN r.arrived_at IS NOT NULL AND (r.arrival_due_at IS NULL OR r.arrived_at <= r.arrival_due_at) THEN 1 ELSE 0 END) AS BIGINT) AS b, \
         CAST(SUM(CASE WHEN r.arrived_at IS NOT NULL AND r.arrived_at > r.arrival_due_at THEN 1 ELSE 0 END) AS BIGINT) AS c \
         FROM requests r WHERE r.community_id = $1 AND r.technician_id IS NOT NULL AND r.completed_at >= $2 AND r.completed_at < $3 \
         GROUP BY r.technician_id",
        c,
        from,
        to,
    )
    .await?;
    for r in tech {
        let p = by.entry(r.id).or_default();
        (p.repairs_completed, p.arrived_on_time, p.arrived_late) = (r.a, r.b, r.c);
    }
    // Follow-ups and corrective actions count for the sheet's first contact, and for the
    // technician of a repair: one pass over the period's records grouped by both, added
    // to each. The owners are looked up per record (scalar subqueries, so each backend
    // probes the two primary keys rather than scanning `sheets` or `requests` for a
    // hash join); only a record that was not satisfied can have a corrective action.
    let followed: Vec<Followed> = sqlx::query_as(
        "SELECT t.first_contact, t.technician, COUNT(*) AS a, \
         CAST(SUM(CASE WHEN t.outcome = 'satisfied' THEN 1 ELSE 0 END) AS BIGINT) AS b, \
         CAST(SUM(t.capa) AS BIGINT) AS c FROM (SELECT f.outcome, \
           (SELECT s.first_contact_id FROM sheets s WHERE s.id = f.sheet_id) AS first_contact, \
           (SELECT r.technician_id FROM requests r WHERE r.sheet_id = f.sheet_id) AS technician, \
           CASE WHEN f.outcome <> 'satisfied' AND EXISTS (SELECT 1 FROM capas x WHERE x.follow_up_id = f.id) \
             THEN 1 ELSE 0 END AS capa \
           FROM follow_ups f WHERE f.community_id = $1 AND f.recorded_at IS NOT NULL \
           AND f.recorded_at >= $2 AND f.recorded_at < $3) t \
         GROUP BY t.first_contact, t.technician",
    )
    .bind(c)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    for r in followed {
        for id in std::iter::once(r.first_contact).chain(r.technician) {
            let p = by.entry(id).or_default();
            p.followed_up += r.a;
            p.satisfied += r.b;
            p.capas += r.c;
        }
    }
    let done = count4(
        pool,
        "SELECT f.recorded_by AS id, COUNT(*) AS a, CAST(0 AS BIGINT) AS b, CAST(0 AS BIGINT) AS c FROM follow_ups f \
         WHERE f.community_id = $1 AND f.recorded_at IS NOT NULL AND f.recorded_at >= $2 AND f.recorded_at < $3 \
         AND f.recorded_by IS NOT NULL GROUP BY f.recorded_by",
        c,
        from,
        to,
    )
    .await?;
    for r in done {
        by.entry(r.id).or_default().follow_ups_done = r.a;
    }
    let names: Vec<(i64, String)> = if by.is_empty() {
        vec![]
    } else {
        let ids: Vec<i64> = by.keys().copied().collect();
        sqlx::query_as(&format!("SELECT id, display_name FROM users WHERE id IN {}", in_list(&ids)))
            .fetch_all(pool)
            .await?
    };
    for (id, name) in names {
        if let Some(p) = by.get_mut(&id) {
            p.user_id = id;
            p.name = name;
        }
    }
    let mut list: Vec<Person> = by.into_values().filter(|p| p.user_id != 0).collect();
    list.sort_by(|a, b| a.name.cmp(&b.name).then(a.user_id.cmp(&b.user_id)));
    Ok(list)
}

/// A department's handovers over a period, with the sheet's deadline for the returned
/// ones. SQLite joins the sheets (a nested loop of rowid lookups); PostgreSQL reads the
/// deadline per returned handover by key, since a join let it scan the whole sheets table
/// for a year's handovers (docs/benchmarks.md).
pub async fn departments(
    pool: &AnyPool,
    backend: super::Backend,
    c: i64,
    from: i64,
    to: i64,
) -> Result<Vec<Department>, sqlx::Error> {
    let (on_time, join) = match backend {
        super::Backend::Sqlite => (
            "CASE WHEN h.returned_at IS NOT NULL AND (s.due_at IS NULL OR h.returned_at <= s.due_at) THEN 1 ELSE 0 END",
            "JOIN sheets s ON s.id = h.sheet_id",
        ),
        super::Backend::Postgres => (
            "CASE WHEN h.returned_at IS NULL THEN 0 \
             WHEN COALESCE((SELECT h.returned_at <= s.due_at FROM sheets s WHERE s.id = h.sheet_id), TRUE) THEN 1 \
             ELSE 0 END",
            "",
        ),
    };
    sqlx::query_as(&format!(
        "SELECT h.department_id, d.name, COUNT(*) AS received, \
         CAST(SUM(CASE WHEN h.returned_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS returned, \
         CAST(SUM({on_time}) AS BIGINT) AS returned_on_time \
         FROM sheet_handovers h JOIN departments d ON d.id = h.department_id {join} \
         WHERE h.community_id = $1 AND h.handed_over_at >= $2 AND h.handed_over_at < $3 \
         GROUP BY h.department_id, d.name ORDER BY d.name"
    ))
    .bind(c)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// The sheets behind one of a person's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Registered,
    /// Registered and not collected back.
    NotRecovered,
    /// Collected after their deadline.
    RecoveredLate,
    RepairsCompleted,
    ArrivedLate,
    /// Follow-ups of the person's sheets or repairs where the resident was not satisfied.
    NotSatisfied,
}

pub async fn drill(
    pool: &AnyPool,
    c: i64,
    user_id: i64,
    m: Measure,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<super::sheet::SheetRow>, sqlx::Error> {
    let select = super::sheet::SHEET_SELECT;
    let cond = match m {
        Measure::Registered => "s.first_contact_id = $4 AND s.registered_at >= $2 AND s.registered_at < $3",
        Measure::NotRecovered => {
            "s.first_contact_id = $4 AND s.registered_at >= $2 AND s.registered_at < $3 AND s.collected_at IS NULL"
        }
        Measure::RecoveredLate => {
            "s.first_contact_id = $4 AND s.registered_at >= $2 AND s.registered_at < $3 AND s.collected_at > s.due_at"
        }
        Measure::RepairsCompleted => {
            "s.id IN (SELECT r.sheet_id FROM requests r WHERE r.community_id = $1 AND r.technician_id = $4 \
             AND r.completed_at >= $2 AND r.completed_at < $3)"
        }
        Measure::ArrivedLate => {
            "s.id IN (SELECT r.sheet_id FROM requests r WHERE r.community_id = $1 AND r.technician_id = $4 \
             AND r.completed_at >= $2 AND r.completed_at < $3 AND r.arrived_at > r.arrival_due_at)"
        }
        Measure::NotSatisfied => {
            "s.id IN (SELECT f.sheet_id FROM follow_ups f LEFT JOIN requests r ON r.sheet_id = f.sheet_id \
             JOIN sheets fs ON fs.id = f.sheet_id WHERE f.community_id = $1 AND f.recorded_at >= $2 AND f.recorded_at < $3 \
             AND f.outcome <> 'satisfied' AND (fs.first_contact_id = $4 OR r.technician_id = $4))"
        }
    };
    sqlx::query_as(&format!(
        "{select} WHERE s.community_id = $1 AND {cond} ORDER BY s.registered_at DESC, s.id DESC LIMIT $5"
    ))
    .bind(c)
    .bind(from)
    .bind(to)
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

// ---- the dashboards' counts ----

async fn count(pool: &AnyPool, sql: &str, binds: &[i64]) -> Result<i64, sqlx::Error> {
    let mut q = sqlx::query_scalar(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_one(pool).await
}

/// The few numbers each role acts on, for one person in one community. Each is one
/// indexed count; only the ones asked for are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wants {
    pub desk: bool,
    pub follow_up: bool,
    pub review: bool,
    pub dispatch: bool,
    pub technician: bool,
    pub reports: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// My sheets as first contact still open, past their deadline, back and waiting for me
    /// to collect (R-SHEET-6, R-SHEET-7).
    pub my_open: i64,
    pub my_overdue: i64,
    pub my_to_collect: i64,
    /// My follow-ups to do, past their time limit (R-FU-3).
    pub my_follow_ups: i64,
    pub my_follow_ups_overdue: i64,
    /// Follow-ups waiting for the manager's review; open corrective actions (R-FU-4).
    pub to_review: i64,
    pub capas_open: i64,
    /// Repairs nobody is assigned to; assigned ones late for arrival (R-REP-2, R-REP-3).
    pub unassigned: i64,
    pub late_arrivals: i64,
    /// My open jobs, late for arrival (R-REP-3).
    pub my_jobs: i64,
    pub my_jobs_late: i64,
    /// Complaints this week (R-CMP-8).
    pub complaints_this_week: i64,
}

pub async fn counts(
    pool: &AnyPool,
    c: i64,
    user: i64,
    now: i64,
    week_start: i64,
    w: Wants,
) -> Result<Counts, sqlx::Error> {
    let mut out = Counts::default();
    if w.desk {
        let open = "SELECT COUNT(*) FROM sheets WHERE first_contact_id = $1 AND community_id = $2 \
                    AND state IN ('registered', 'dispatched', 'awaiting_acceptance', 'suspended')";
        out.my_open = count(pool, open, &[user, c]).await?;
        out.my_overdue = count(pool, &format!("{open} AND due_at < $3"), &[user, c, now]).await?;
        out.my_to_collect = count(
            pool,
            "SELECT COUNT(*) FROM sheets WHERE first_contact_id = $1 AND community_id = $2 AND state = 'awaiting_acceptance'",
            &[user, c],
        )
        .await?;
    }
    if w.follow_up {
        let mine = "SELECT COUNT(*) FROM follow_ups WHERE assigned_to = $1 AND state = 'pending' AND community_id = $2";
        out.my_follow_ups = count(pool, mine, &[user, c]).await?;
        out.my_follow_ups_overdue = count(pool, &format!("{mine} AND due_at < $3"), &[user, c, now]).await?;
    }
    if w.review {
        out.to_review =
            count(pool, "SELECT COUNT(*) FROM follow_ups WHERE community_id = $1 AND state = 'done'", &[c]).await?;
        out.capas_open =
            count(pool, "SELECT COUNT(*) FROM capas WHERE community_id = $1 AND state <> 'verified'", &[c]).await?;
    }
    if w.dispatch {
        out.unassigned = count(
            pool,
            "SELECT COUNT(*) FROM requests WHERE community_id = $1 AND class_rank IS NOT NULL AND technician_id IS NULL AND closed = 0",
            &[c],
        )
        .await?;
        out.late_arrivals = count(
            pool,
            "SELECT COUNT(*) FROM requests WHERE technician_id IN (SELECT ur.user_id FROM user_roles ur \
             WHERE ur.community_id = $1 AND ur.role = 'technician') AND technician_id IS NOT NULL AND completed_at IS NULL \
             AND closed = 0 AND arrived_at IS NULL AND arrival_due_at < $2 AND community_id = $1",
            &[c, now],
        )
        .await?;
    }
    if w.technician {
        let mine = "SELECT COUNT(*) FROM requests WHERE technician_id = $1 AND completed_at IS NULL AND closed = 0 \
                    AND community_id = $2";
        out.my_jobs = count(pool, mine, &[user, c]).await?;
        out.my_jobs_late =
            count(pool, &format!("{mine} AND arrived_at IS NULL AND arrival_due_at < $3"), &[user, c, now]).await?;
    }
    if w.reports {
        out.complaints_this_week = count(
            pool,
            "SELECT COUNT(*) FROM requests WHERE community_id = $1 AND kind = 'complaint' AND opened_at >= $2",
            &[c, week_start],
        )
        .await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use huiqian_domain::unit::natural;

    /// The weekly table lists buildings as a person counts them (R-CMP-8).
    #[test]
    fn keys_in_natural_order() {
        let mut keys =
            vec!["HY/12", "", "HY/3", "HY/03A", "AB/1", "HY/9", "10", "9", "repair:water", "repair:electrical"];
        keys.sort_by(|a, b| natural(a, b));
        assert_eq!(
            keys,
            ["", "9", "10", "AB/1", "HY/3", "HY/03A", "HY/9", "HY/12", "repair:electrical", "repair:water"]
        );
    }
}

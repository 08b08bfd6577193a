//! The scheduler: due-soon warnings and overdue notices to the responsible receptionist,
//! escalation of overdue sheets to the supervisor and manager, each sent once (even with
//! several huiqian processes on one database); and the outbox that forwards notices to a
//! gateway with retries, so that nothing is lost while the gateway is down.

use super::{Actor, App, AppError, AppResult};
use crate::i18n::{Lang, tf};
use crate::store::{self, auth as sa, notify as st};
use huiqian_domain::sheet::reminder::{Party, Reminder};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

/// What one scheduler tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tick {
    /// Sheets read (only those with a notice due).
    pub read: usize,
    /// Notices put in inboxes.
    pub notices: usize,
}

async fn notify_user(
    app: &App,
    tx: &mut store::Tx,
    user_id: i64,
    sheet: &st::Due,
    kind: &str,
    dedupe: &str,
) -> AppResult<bool> {
    send(app, tx, user_id, sheet.community_id, sheet.id, &sheet.number, sheet.due_at, kind, dedupe).await
}

/// Put a notice about a sheet in a user's inbox (in their language) and, with a gateway
/// configured, in the outbox; once per `dedupe`. True when it was new.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send(
    app: &App,
    tx: &mut store::Tx,
    user_id: i64,
    community_id: i64,
    sheet_id: i64,
    number: &str,
    due_at: Option<i64>,
    kind: &str,
    dedupe: &str,
) -> AppResult<bool> {
    // Read inside the transaction: a write transaction never waits for a second connection.
    let Some(user) = sa::user(&mut **tx, user_id).await? else {
        return Ok(false);
    };
    send_to(app, tx, &user, community_id, sheet_id, number, due_at, kind, dedupe).await
}

/// [`send`] to a user already read (before the transaction).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_to(
    app: &App,
    tx: &mut store::Tx,
    user: &sa::User,
    community_id: i64,
    sheet_id: i64,
    number: &str,
    due_at: Option<i64>,
    kind: &str,
    dedupe: &str,
) -> AppResult<bool> {
    send_about(app, tx, user, community_id, Some(sheet_id), number, due_at, kind, dedupe).await
}

/// A notice about something other than a sheet (a key, by its tag), or about a sheet.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_about(
    app: &App,
    tx: &mut store::Tx,
    user: &sa::User,
    community_id: i64,
    sheet_id: Option<i64>,
    number: &str,
    due_at: Option<i64>,
    kind: &str,
    dedupe: &str,
) -> AppResult<bool> {
    let now = app.clock.now();
    let user_id = user.id;
    let lang = Lang::parse(&user.locale).unwrap_or_default();
    let zone = app.store.community_zone(community_id).await?.ok_or(AppError::NotFound)?;
    let said = Said { number: number.to_string(), due_at, ..Default::default() };
    let (title, body) = said.told(lang, kind, zone);
    let params = said.stored();
    let c = Some(community_id);
    let Some(id) = st::insert_notification(tx, user_id, c, sheet_id, kind, &title, &body, &params, dedupe, now).await?
    else {
        return Ok(false);
    };
    if !app.config.notify.webhook_url.is_empty() {
        let phone = user.phone_masked.clone();
        let payload = json!({"id": id, "kind": kind, "user_id": user_id, "phone_masked": phone, "sheet": number, "title": title, "body": body});
        st::enqueue(tx, id, &payload.to_string(), now).await?;
    }
    Ok(true)
}

/// The flows' timers whose time has come (arrival, repair slip, promised reply, complaint
/// progress and deadline), each sent once to whoever must act.
async fn tick_timers(app: &App, now: i64, report: &mut Tick) -> AppResult<()> {
    use crate::store::request as srq;
    let due = srq::due_timers(app.store.read(), now, 500).await?;
    report.read += due.len();
    if due.is_empty() {
        return Ok(());
    }
    // Every timer of the pass in one transaction: a commit per timer made the first pass of
    // a day cost a commit per row. A timer another process claimed first is passed over.
    let mut tx = app.store.begin().await?;
    for t in due {
        if !srq::claim_timer(&mut tx, t.id, now).await? {
            continue;
        }
        let Some(reminder) = Reminder::parse(&t.name) else {
            return Err(AppError::Internal(format!("sheet {}: unknown reminder {:?}", t.sheet_id, t.name)));
        };
        let mut to: Vec<i64> = vec![];
        for party in reminder.parties() {
            match party {
                Party::Technician => to.extend(t.technician_id),
                Party::Dispatchers => {
                    to.extend(srq::users_with_roles(&mut tx, t.community_id, &["engineering_dispatcher"]).await?)
                }
                Party::FirstContact => to.push(t.first_contact_id),
                Party::EscalatedTo => to.extend(t.escalated_to),
                Party::Managers => to.extend(st::escalation_targets(&mut tx, t.community_id).await?),
            }
        }
        to.sort_unstable();
        to.dedup();
        let kind = format!("timer_{}", t.name);
        for u in to {
            let dedupe = format!("{kind}:{}:{}:{u}", t.sheet_id, t.due_at);
            report.notices += usize::from(
                send(app, &mut tx, u, t.community_id, t.sheet_id, &t.number, Some(t.due_at), &kind, &dedupe).await?,
            );
        }
        crate::app::audit::record_system(
            app,
            &mut tx,
            now,
            Some(t.community_id),
            "sheet.timer_fired",
            "sheet",
            t.sheet_id,
            json!({"number": t.number, "timer": t.name, "due_at": t.due_at}),
            reminder.rule(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One pass: every sheet whose warning time has come gets the notices it is due.
pub async fn tick(app: &App, now: i64) -> AppResult<Tick> {
    let due = st::due(app.store.read(), now, 500).await?;
    let mut report = Tick { read: due.len(), notices: 0 };
    // The whole pass in one transaction (a commit per sheet made the first pass of a day
    // cost a commit per row); a sheet another process claimed first is passed over.
    let mut tx = if due.is_empty() { None } else { Some(app.store.begin().await?) };
    let mut managers_of: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
    for s in due {
        let tx = tx.as_mut().expect("begun for the due sheets");
        let overdue = s.due_at.is_some_and(|d| d <= now);
        let target = if overdue { 3 } else { 1 };
        if !st::claim_level(tx, s.id, target, s.due_at).await? {
            continue;
        }
        let stamp = s.due_at.unwrap_or(0);
        if s.notice_level < 1 && !overdue {
            report.notices += usize::from(
                notify_user(app, tx, s.first_contact_id, &s, "due_soon", &format!("due_soon:{}:{stamp}", s.id)).await?,
            );
        }
        if overdue {
            report.notices += usize::from(
                notify_user(app, tx, s.first_contact_id, &s, "overdue", &format!("overdue:{}:{stamp}", s.id)).await?,
            );
            // Read inside the transaction, once per community in the pass.
            let managers = match managers_of.get(&s.community_id) {
                Some(m) => m.clone(),
                None => {
                    let m = st::escalation_targets(tx, s.community_id).await?;
                    managers_of.insert(s.community_id, m.clone());
                    m
                }
            };
            for m in managers {
                report.notices += usize::from(
                    notify_user(app, tx, m, &s, "escalated", &format!("escalated:{}:{stamp}:{m}", s.id)).await?,
                );
            }
        }
        let action = if overdue { "sheet.escalated" } else { "sheet.due_soon_warned" };
        crate::app::audit::record_system(
            app,
            tx,
            now,
            Some(s.community_id),
            action,
            "sheet",
            s.id,
            json!({"number": s.number, "due_at": s.due_at, "level": target}),
            "R-SHEET-7",
        )
        .await?;
    }
    if let Some(tx) = tx {
        tx.commit().await?;
    }
    tick_timers(app, now, &mut report).await?;
    report.notices += super::followup::tick_overdue(app, now).await?;
    report.notices += super::keys::tick_overdue(app, now).await?;
    report.notices += super::keys::tick_count_due(app, now).await?;
    super::report::keep_last_week(app, now).await?;
    Ok(report)
}

/// Deliver what is waiting in the outbox: a 2xx answer delivers; anything else is retried
/// later, the delay doubling from `retry_base_seconds` up to an hour. The first failure
/// ends the pass: a gateway that is down or hangs costs one attempt per pass (at most
/// `notify.timeout_seconds`), and the rest wait their turn in the outbox.
pub async fn deliver(app: &App, http: &reqwest::Client, now: i64) -> AppResult<usize> {
    let url = &app.config.notify.webhook_url;
    if url.is_empty() {
        return Ok(0);
    }
    let mut sent = 0;
    for p in st::pending(app.store.read(), now, 50).await? {
        let mut tx = app.store.begin().await?;
        if !st::lease(&mut tx, p.id, p.next_attempt_at, now + 120_000).await? {
            continue;
        }
        tx.commit().await?;
        let result = http
            .post(url)
            .header("content-type", "application/json")
            .header("idempotency-key", format!("huiqian-notice-{}", p.id))
            .body(p.payload.clone())
            .timeout(Duration::from_secs(app.config.notify.timeout_seconds.max(1)))
            .send()
            .await;
        let mut tx = app.store.begin().await?;
        match result {
            Ok(r) if r.status().is_success() => {
                st::delivered(&mut tx, p.id, now).await?;
                sent += 1;
            }
            other => {
                let err = match other {
                    Ok(r) => format!("HTTP {}", r.status()),
                    // Without the URL: a gateway's key often rides in its query string.
                    Err(e) => {
                        let e = e.without_url();
                        let mut text = e.to_string();
                        let mut cause = std::error::Error::source(&e);
                        while let Some(c) = cause {
                            text.push_str(&format!(": {c}"));
                            cause = c.source();
                        }
                        text
                    }
                };
                let base = app.config.notify.retry_base_seconds.max(1) * 1000;
                let delay = (base << p.attempts.min(16)).min(3_600_000);
                st::failed(&mut tx, p.id, now + delay, &err).await?;
                tx.commit().await?;
                tracing::warn!(notice = p.id, attempts = p.attempts + 1, retry_in_ms = delay, error = %err, "gateway did not take a notice");
                break;
            }
        }
        tx.commit().await?;
    }
    Ok(sent)
}

/// Run the scheduler's ticks and the outbox's deliveries until the process ends, each in
/// its own task: a gateway that hangs delays no deadline notice.
pub fn spawn(app: App) {
    let every = Duration::from_secs(app.config.notify.tick_seconds.max(1));
    let ticks = app.clone();
    tokio::spawn(async move {
        let mut checkpointed: Option<i64> = None;
        loop {
            let now = ticks.clock.now();
            // The audit trail's head, into the data folder's checkpoints, once an hour.
            if checkpointed.is_none_or(|t| now - t >= 3_600_000) {
                match super::audit::keep_checkpoint(&ticks).await {
                    Ok(_) => checkpointed = Some(now),
                    Err(e) => tracing::warn!(error = %e, "audit checkpoint not kept"),
                }
            }
            match tick(&ticks, now).await {
                Ok(t) if t.notices > 0 => tracing::info!(read = t.read, notices = t.notices, "scheduler tick"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduler tick failed"),
            }
            tokio::time::sleep(every).await;
        }
    });
    if app.config.notify.webhook_url.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(app.config.notify.timeout_seconds.clamp(1, 5)))
            .build()
            .expect("HTTP client");
        loop {
            if let Err(e) = deliver(&app, &http, app.clock.now()).await {
                tracing::warn!(error = %e, "notice delivery failed");
            }
            tokio::time::sleep(every).await;
        }
    });
}

/// What a notice says, kept with it so that it can be told in any language: the sheet's
/// number and the deadline (an instant, shown in the community's zone).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Said {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<i64>,
    /// The week of a weekly table's notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week: Option<String>,
}

impl Said {
    /// The notice's title and body in `lang`.
    pub fn told(&self, lang: Lang, kind: &str, zone: chrono_tz::Tz) -> (String, String) {
        let due = self.due_at.map(|d| huiqian_domain::time::format_instant(d, zone)).unwrap_or_default();
        let week = self.week.clone().unwrap_or_default();
        let params = [("number", self.number.clone()), ("due", due), ("week", week)];
        (tf(lang, &format!("notice.{kind}.title"), &params), tf(lang, &format!("notice.{kind}.body"), &params))
    }

    pub fn stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// One's notifications, each told in `lang` (the reader's language, whatever it was when
/// the notice was sent), with the zone to show its time in: its community's, or the
/// company-wide display zone for a notice of no community.
pub async fn inbox(
    app: &App,
    actor: &Actor,
    unread_only: bool,
    lang: Lang,
) -> AppResult<Vec<(st::Notification, chrono_tz::Tz)>> {
    let list = st::inbox(app.store.read(), actor.user_id(), unread_only, 200).await?;
    let mut out = Vec::with_capacity(list.len());
    for mut n in list {
        let zone = app.zone_of(n.community_id).await?;
        // Older notices kept only their words, in the language they were sent in.
        if n.params != "{}"
            && let Ok(said) = serde_json::from_str::<Said>(&n.params)
        {
            (n.title, n.body) = said.told(lang, &n.kind, zone);
        }
        out.push((n, zone));
    }
    Ok(out)
}

pub async fn mark_read(app: &App, actor: &Actor, id: i64) -> AppResult<()> {
    let now = app.clock.now();
    actor.own_account()?;
    let mut tx = app.store.begin().await?;
    if !st::mark_read(&mut tx, actor.user_id(), id, now).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// Mark every one of one's notices made before `before` (all of them: now) as read;
/// how many were unread. One's own inbox only, as one notice at a time.
pub async fn mark_all_read(app: &App, actor: &Actor, before: Option<i64>) -> AppResult<u64> {
    let now = app.clock.now();
    actor.own_account()?;
    let mut tx = app.store.begin().await?;
    let n = st::mark_all_read(&mut tx, actor.user_id(), before.unwrap_or(now + 1), now).await?;
    tx.commit().await?;
    Ok(n)
}

/// How many of one's notifications are unread (the header's badge).
pub async fn unread_count(app: &App, actor: &Actor) -> AppResult<i64> {
    Ok(st::unread_count(app.store.read(), actor.user_id()).await?)
}

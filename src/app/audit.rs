//! Recording and checking the audit trail (R-SHEET-12).

use super::{Actor, App, AppResult, Authority};
use crate::store::audit::{self, Entry, Filter, GENESIS, NewEntry};
use huiqian_domain::auth::Permission;
use serde_json::Value;
use sqlx::AnyConnection;

/// Record a write in the caller's transaction. `changes` must already have personal
/// data masked.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    tx: &mut AnyConnection,
    actor: &Actor,
    authority: &Authority,
    action: &str,
    entity_type: &str,
    entity_id: impl ToString,
    changes: Value,
) -> AppResult<i64> {
    let role = authority.role().as_str();
    let auth = authority.describe();
    let seq = audit::append(
        tx,
        &NewEntry {
            at: crate::store::now_ms(),
            actor_user_id: actor.audit_user_id(),
            actor_name: actor.username(),
            actor_role: role,
            community_id: authority.community(),
            action,
            entity_type,
            entity_id: entity_id.to_string(),
            changes: changes.to_string(),
            authority: &auth,
            request_id: actor.request_id(),
        },
    )
    .await?;
    Ok(seq)
}

/// Record an event that has no role behind it (sign-in, sign-out, failed sign-in).
pub async fn record_self(
    tx: &mut AnyConnection,
    user_id: Option<i64>,
    username: &str,
    request_id: &str,
    action: &str,
    changes: Value,
) -> AppResult<i64> {
    let seq = audit::append(
        tx,
        &NewEntry {
            at: crate::store::now_ms(),
            actor_user_id: user_id,
            actor_name: username,
            actor_role: "",
            community_id: None,
            action,
            entity_type: "user",
            entity_id: user_id.map(|v| v.to_string()).unwrap_or_default(),
            changes: changes.to_string(),
            authority: "self",
            request_id,
        },
    )
    .await?;
    Ok(seq)
}

/// Browse the trail: managers see their communities' entries (company-wide viewers see all).
pub async fn browse(app: &App, actor: &Actor, mut f: Filter) -> AppResult<Vec<Entry>> {
    let scope = actor.scope(Permission::ViewAudit);
    if let Some(c) = f.community_id {
        actor.authorize(Permission::ViewAudit, c)?;
    } else if matches!(&scope, Some(v) if v.is_empty()) {
        return Err(super::AppError::Forbidden);
    }
    f.communities = scope;
    Ok(audit::list(app.store.read(), &f).await?)
}

/// What `huiqian audit verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub checked: i64,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walk the chain from the first entry, recomputing every hash. Reports altered entries
/// (hash mismatch), removed or inserted entries (sequence gaps, broken links) and a
/// truncated tail (the head disagrees with the last entry).
pub async fn verify(app: &App) -> AppResult<VerifyReport> {
    let pool = app.store.read();
    let mut report = VerifyReport::default();
    let mut prev_hash = GENESIS.to_string();
    let mut expected_seq = 1i64;
    let mut last_seq = 0i64;
    loop {
        let page = audit::page_in_order(pool, last_seq, 5000).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if e.seq != expected_seq {
                report.problems.push(format!("entries {expected_seq}..{} are missing (removed?)", e.seq - 1));
            }
            if e.prev_hash != prev_hash {
                report.problems.push(format!(
                    "entry {} does not link to the entry before it (inserted, or the one before was altered or removed)",
                    e.seq
                ));
            }
            let h = audit::chain_hash(&e.prev_hash, e.seq, &e.fields());
            if h != e.hash {
                report.problems.push(format!("entry {} was altered after it was written", e.seq));
            }
            prev_hash = e.hash.clone();
            expected_seq = e.seq + 1;
            last_seq = e.seq;
            report.checked += 1;
        }
    }
    let (head_seq, head_hash) = audit::head(pool).await?;
    if head_seq != last_seq || (head_seq > 0 && head_hash != prev_hash) {
        report.problems.push(format!(
            "the trail ends at entry {last_seq} but {head_seq} entries were written (entries at the end were removed)"
        ));
    }
    Ok(report)
}

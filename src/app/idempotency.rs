//! Idempotent creates: a retried request with the same `Idempotency-Key` gets the first
//! response instead of creating twice (a double-click, a retry after a timeout).
//!
//! The key is reserved (a row with status 0 and the request's digest) in a short
//! transaction of its own before the create runs. A concurrent retry finds it taken and
//! waits, holding no connection between looks, until the first has finished, then replays
//! its response; if the first takes longer than [`WAIT`], the retry is told the request
//! is still in progress (409) rather than left hanging. The same key with a different
//! request is refused (422). A reservation whose create failed is released at once; one
//! left behind by a crash is taken over after [`STALE_MS`].

use super::{App, AppError, AppResult};
use crate::store::{auth as st, is_unique_violation};
use huiqian_domain::validation::ValidationError;
use std::time::{Duration, Instant};

pub enum Reservation {
    /// This request owns the key: run the create, then `complete`.
    Reserved,
    /// The create already ran: replay this status and JSON body.
    Replay(i64, String),
}

/// A reservation older than this belongs to a create that will never finish.
const STALE_MS: i64 = 60_000;
/// How long a retry waits for the first request to finish.
const WAIT: Duration = Duration::from_secs(10);

fn key_reused() -> AppError {
    AppError::field("Idempotency-Key", ValidationError::new("idempotency.key_reused"))
}

pub async fn reserve(app: &App, user_id: i64, key: &str, request_hash: &str) -> AppResult<Reservation> {
    let now = app.clock.now();
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let mut tx = app.store.begin().await?;
        match st::reserve_key(&mut tx, user_id, key, request_hash, now).await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(Reservation::Reserved);
            }
            Err(e) if is_unique_violation(&e) => drop(tx),
            Err(e) => return Err(e.into()),
        }
        let mut conn = app.store.read().acquire().await?;
        let kept = st::idempotent_response(&mut conn, user_id, key).await?;
        drop(conn);
        match kept {
            // Released between our insert and this read: try again at once.
            None => continue,
            Some(k) if !k.request_hash.is_empty() && k.request_hash != request_hash => return Err(key_reused()),
            Some(k) if k.status != 0 => return Ok(Reservation::Replay(k.status, k.body)),
            Some(k) if now - k.created_at > STALE_MS => {
                let mut tx = app.store.begin().await?;
                st::forget_response(&mut tx, user_id, key, now - STALE_MS).await?;
                tx.commit().await?;
                continue;
            }
            Some(_) => {}
        }
        if started.elapsed() >= WAIT {
            return Err(AppError::Conflict { code: "request_in_progress" });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

pub async fn complete(app: &App, user_id: i64, key: &str, status: i64, body: &str) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    st::complete_response(&mut tx, user_id, key, status, body).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn release(app: &App, user_id: i64, key: &str) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    st::forget_response(&mut tx, user_id, key, i64::MAX).await?;
    tx.commit().await?;
    Ok(())
}

//! Idempotent creates: a retried request with the same `Idempotency-Key` gets the first
//! response instead of creating twice (a double-click, a retry after a timeout).
//!
//! The key is reserved (a row with status 0) before the create runs, so a concurrent
//! duplicate waits for the first to finish and then replays its response. A reservation
//! whose create failed is released; one left behind by a crash expires after a minute.

use super::{App, AppError, AppResult};
use crate::store::{auth as st, is_unique_violation, now_ms};
use std::time::Duration;

pub enum Reservation {
    /// This request owns the key: run the create, then `complete`.
    Reserved,
    /// The create already ran: replay this status and JSON body.
    Replay(i64, String),
}

const STALE_MS: i64 = 60_000;

pub async fn reserve(app: &App, user_id: i64, key: &str) -> AppResult<Reservation> {
    for _ in 0..100 {
        let mut tx = app.store.begin().await?;
        match st::remember_response(&mut tx, user_id, key, 0, "").await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(Reservation::Reserved);
            }
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                let mut conn = app.store.read().acquire().await?;
                match st::idempotent_response(&mut conn, user_id, key).await? {
                    Some((status, body)) if status != 0 => {
                        return Ok(Reservation::Replay(status, body));
                    }
                    Some(_) => {
                        if st::idempotency_reserved_at(&mut conn, user_id, key)
                            .await?
                            .is_some_and(|t| now_ms() - t > STALE_MS)
                        {
                            drop(conn);
                            release(app, user_id, key).await?;
                            continue;
                        }
                    }
                    None => continue,
                }
                drop(conn);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict { code: "request_in_progress" })
}

pub async fn complete(app: &App, user_id: i64, key: &str, status: i64, body: &str) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    st::complete_response(&mut tx, user_id, key, status, body).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn release(app: &App, user_id: i64, key: &str) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    st::forget_response(&mut tx, user_id, key).await?;
    tx.commit().await?;
    Ok(())
}

//! Use-cases. Each one: check the caller's permission for the community it touches,
//! load, let the domain decide, then persist and audit in one transaction.

mod actor;
pub mod audit;
pub mod auth;
pub mod clock;
mod error;
pub(crate) mod files;
pub mod followup;
pub mod holidays;
pub mod idempotency;
pub mod import;
pub mod keys;
pub mod notify;
mod now;
pub mod org;
pub mod people;
pub mod report;
pub mod request;
pub mod sheet;

pub use actor::{Actor, Authority, OwnAccount, Via, is_read_only};
pub use error::{AppError, AppResult};
pub use now::Clock;

use crate::config::Config;
use crate::crypto::Secrets;
use crate::store::Store;
use std::sync::Arc;

/// What every use-case needs: the store, the keys, the configuration and the clock.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub secrets: Secrets,
    pub config: Arc<Config>,
    pub clock: Clock,
}

impl App {
    /// Is the database believed reachable? While it is not, requests that need it are
    /// answered at once instead of waiting on it.
    pub fn database_available(&self) -> bool {
        self.store.available()
    }

    /// A request found the database unreachable: check it again before the next one.
    pub fn database_suspect(&self) {
        self.store.suspect();
    }

    /// Does the database answer now (readiness)?
    pub async fn ready(&self) -> bool {
        self.store.ping().await
    }

    /// The company-wide zone (`display.timezone`): instants that belong to no community
    /// are shown in it.
    pub fn display_zone(&self) -> chrono_tz::Tz {
        self.config.display.timezone.tz()
    }

    /// The zone to show an instant of `community` in: the community's own, or the
    /// company-wide display zone when it belongs to none (or to one no longer there).
    /// Callers have already been allowed the record the instant comes from.
    pub(crate) async fn zone_of(&self, community: Option<i64>) -> AppResult<chrono_tz::Tz> {
        Ok(match community {
            Some(id) => self.store.community_zone(id).await?.unwrap_or_else(|| self.display_zone()),
            None => self.display_zone(),
        })
    }

    /// Refuse a write under a community that does not exist (a company-wide grant
    /// authorises any community number, so the check cannot be left to the grant).
    pub(crate) async fn community_exists(&self, id: i64) -> AppResult<()> {
        self.store.community_zone(id).await?.map(|_| ()).ok_or(AppError::NotFound)
    }
}

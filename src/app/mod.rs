//! Use-cases. Each one: check the caller's permission for the community it touches,
//! load, let the domain decide, then persist and audit in one transaction.

pub mod audit;
pub mod auth;
pub mod clock;
mod error;
pub(crate) mod files;
pub mod followup;
pub mod idempotency;
pub mod import;
pub mod notify;
pub mod org;
pub mod people;
pub mod report;
pub mod request;
pub mod sheet;

pub use error::{AppError, AppResult};

use crate::config::Config;
use crate::crypto::Secrets;
use crate::store::Store;
use huiqian_domain::auth::{Grants, Permission, Role};
use std::sync::Arc;

/// What every use-case needs: the store, the keys and the configuration.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub secrets: Secrets,
    pub config: Arc<Config>,
}

/// How the caller reached us; API tokens carry scopes that narrow what the user may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session,
    ApiToken { token_id: i64, write: bool },
    Cli,
}

/// The person acting, with every role they hold.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub grants: Grants,
    pub request_id: String,
    pub via: Via,
}

/// Proof that a permission check passed: which role, in which community. Recorded in
/// the audit trail as the authority for the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority {
    pub role: Role,
    pub community: Option<i64>,
}

impl Authority {
    pub fn describe(&self) -> String {
        match self.community {
            Some(c) => format!("{}@{}", self.role.as_str(), c),
            None => format!("{}@company", self.role.as_str()),
        }
    }
}

/// Permissions that only read; a read-only API token may use nothing else.
fn is_read_only(p: Permission) -> bool {
    matches!(p, Permission::ViewCommunity | Permission::ViewStaff | Permission::ViewAudit | Permission::ViewReports)
}

impl Actor {
    fn token_allows(&self, p: Permission) -> bool {
        match self.via {
            Via::ApiToken { write: false, .. } => is_read_only(p),
            _ => true,
        }
    }

    /// Check that the actor may do `p` in `community` (R-ROLE-2).
    pub fn authorize(&self, p: Permission, community: i64) -> AppResult<Authority> {
        if !self.token_allows(p) {
            return Err(AppError::Forbidden);
        }
        self.grants
            .iter()
            .filter(|g| g.community.is_none() || g.community == Some(community))
            .find(|g| g.role.allows(p))
            .map(|g| Authority { role: g.role, community: Some(community) })
            .ok_or(AppError::Forbidden)
    }

    /// Check a company-wide permission (e.g. creating a community).
    pub fn authorize_company(&self, p: Permission) -> AppResult<Authority> {
        if !self.token_allows(p) {
            return Err(AppError::Forbidden);
        }
        self.grants
            .iter()
            .find(|g| g.community.is_none() && g.role.allows(p))
            .map(|g| Authority { role: g.role, community: None })
            .ok_or(AppError::Forbidden)
    }

    /// The communities where the actor may do `p` (`None`: all).
    pub fn scope(&self, p: Permission) -> Option<Vec<i64>> {
        if !self.token_allows(p) {
            return Some(vec![]);
        }
        self.grants.communities_for(p)
    }

    /// An actor for command-line administration (`huiqian user add`).
    pub fn cli() -> Actor {
        Actor {
            user_id: 0,
            username: "cli".into(),
            display_name: "命令行 (command line)".into(),
            grants: Grants::new(vec![huiqian_domain::auth::RoleGrant { community: None, role: Role::SystemAdmin }]),
            request_id: uuid::Uuid::now_v7().to_string(),
            via: Via::Cli,
        }
    }

    /// The user id recorded in the trail (none for the command line).
    pub fn audit_user_id(&self) -> Option<i64> {
        (self.user_id > 0).then_some(self.user_id)
    }
}

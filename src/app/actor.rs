//! Who acts, and the proof that they may: one door per right.
//!
//! An [`Actor`] is made only here, from a live session, a valid API token or the command
//! line; its grants and the way it reached us are private. An [`Authority`] (the role and
//! community the audit trail records for a write) can only be obtained through the
//! actor's own methods, and every one of them applies the credential's scope first: a
//! read-only API token gets an authority for reading permissions and nothing else. So a
//! use-case that forgets to think about tokens still cannot write with a read token: it
//! has no way to get the authority its write needs.

use super::{AppError, AppResult};
use huiqian_domain::auth::{Grants, Permission, Role, RoleGrant};

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
    user_id: i64,
    username: String,
    display_name: String,
    grants: Grants,
    request_id: String,
    via: Via,
}

/// Proof that a permission check passed: which role, in which community. Recorded in
/// the audit trail as the authority for the write. No public constructor: see
/// [`Actor::authorize`], [`Actor::authorize_company`] and [`Actor::holding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority {
    role: Role,
    community: Option<i64>,
}

impl Authority {
    pub fn role(&self) -> Role {
        self.role
    }

    pub fn community(&self) -> Option<i64> {
        self.community
    }

    pub fn describe(&self) -> String {
        match self.community {
            Some(c) => format!("{}@{}", self.role.as_str(), c),
            None => format!("{}@company", self.role.as_str()),
        }
    }
}

/// Proof that the actor may change their own account (password, language, tokens,
/// sessions, notifications): any credential but a read-only token.
#[derive(Debug, Clone, Copy)]
pub struct OwnAccount(());

/// Permissions that only read; a read-only API token may use nothing else.
pub fn is_read_only(p: Permission) -> bool {
    matches!(
        p,
        Permission::ViewCommunity
            | Permission::ViewStaff
            | Permission::ViewAudit
            | Permission::ViewReports
            | Permission::ViewKeys
    )
}

impl Actor {
    /// The actor behind a live session or a valid token; made only by `app::auth`.
    pub(super) fn new(
        user_id: i64,
        username: String,
        display_name: String,
        grants: Grants,
        request_id: String,
        via: Via,
    ) -> Actor {
        Actor { user_id, username, display_name, grants, request_id, via }
    }

    /// An actor for command-line administration (`huiqian user add`).
    pub fn cli() -> Actor {
        Actor {
            user_id: 0,
            username: "cli".into(),
            display_name: "命令行 (command line)".into(),
            grants: Grants::new(vec![RoleGrant { community: None, role: Role::SystemAdmin }]),
            request_id: uuid::Uuid::now_v7().to_string(),
            via: Via::Cli,
        }
    }

    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn via(&self) -> &Via {
        &self.via
    }

    /// The user id recorded in the trail (none for the command line).
    pub fn audit_user_id(&self) -> Option<i64> {
        (self.user_id > 0).then_some(self.user_id)
    }

    /// May this credential write at all? Sessions and the command line may; API tokens
    /// only with the `write` scope.
    pub fn can_write(&self) -> bool {
        !matches!(self.via, Via::ApiToken { write: false, .. })
    }

    fn token_allows(&self, p: Permission) -> bool {
        self.can_write() || is_read_only(p)
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

    /// A community the actor may not view is, to them, not there: 404, never 403, so that
    /// a number tried does not tell whether the community exists.
    pub fn sees(&self, community: i64) -> AppResult<()> {
        self.authorize(Permission::ViewCommunity, community).map(|_| ()).map_err(|_| AppError::NotFound)
    }

    /// Check that the actor may see what `p` covers in `community`, to read it only (a list,
    /// a ledger, a dashboard guarded by a permission that also allows writing). Any
    /// credential may read what its holder's roles may; this gives no [`Authority`], so
    /// nothing can be written on it.
    pub fn may_read(&self, p: Permission, community: i64) -> AppResult<()> {
        self.grants.allows(p, community).then_some(()).ok_or(AppError::Forbidden)
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

    /// The authority of the first grant anywhere that allows `p` (company-wide first):
    /// for acts that belong to no one community yet, such as creating an account that a
    /// community administrator will then give roles in his communities.
    pub fn authorize_somewhere(&self, p: Permission) -> AppResult<Authority> {
        if !self.token_allows(p) {
            return Err(AppError::Forbidden);
        }
        self.authorize_company(p).or_else(|_| {
            self.grants
                .iter()
                .find(|g| g.role.allows(p))
                .map(|g| Authority { role: g.role, community: g.community })
                .ok_or(AppError::Forbidden)
        })
    }

    /// Authority to write by virtue of holding `role` in `community`, for the rights that
    /// come from a person's place rather than a permission: a department member signing
    /// for a handover, the technician assigned to a job, a department head. The caller has
    /// already decided that `role` is the one that counts; this checks that the actor holds
    /// it there and that the credential may write.
    pub fn holding(&self, role: Role, community: i64) -> AppResult<Authority> {
        if !self.can_write() {
            return Err(AppError::Forbidden);
        }
        self.roles_in(community)
            .contains(&role)
            .then_some(Authority { role, community: Some(community) })
            .ok_or(AppError::Forbidden)
    }

    /// Authority to write by virtue of any role held in `community` (the first, in the
    /// manual's order): for rights given to a named person (the receiver a sheet was sent
    /// to, the manager an inquiry was escalated to).
    pub fn any_role(&self, community: i64) -> AppResult<Authority> {
        let role = self.roles_in(community).first().copied().ok_or(AppError::Forbidden)?;
        self.holding(role, community)
    }

    /// Authority to change one's own account.
    pub fn own_account(&self) -> AppResult<OwnAccount> {
        if self.can_write() { Ok(OwnAccount(())) } else { Err(AppError::Forbidden) }
    }

    /// The communities where the actor may do `p` (`None`: all).
    pub fn scope(&self, p: Permission) -> Option<Vec<i64>> {
        if !self.token_allows(p) {
            return Some(vec![]);
        }
        self.grants.communities_for(p)
    }

    /// Would `p` be allowed somewhere (for showing or hiding a menu entry)?
    pub fn may_anywhere(&self, p: Permission) -> bool {
        self.token_allows(p) && self.grants.allows_anywhere(p)
    }

    /// The roles held in `community` (company-wide ones included), sorted.
    pub fn roles_in(&self, community: i64) -> Vec<Role> {
        self.grants.roles_in(community)
    }

    /// Every grant, for display ("your roles").
    pub fn grants(&self) -> impl Iterator<Item = &RoleGrant> {
        self.grants.iter()
    }

    /// The communities where the actor holds any role (`None`: a company-wide grant).
    pub fn communities(&self) -> Option<Vec<i64>> {
        if self.grants.iter().any(|g| g.community.is_none()) {
            return None;
        }
        let mut ids: Vec<i64> = self.grants.iter().filter_map(|g| g.community).collect();
        ids.sort_unstable();
        ids.dedup();
        Some(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(via: Via, grants: Vec<RoleGrant>) -> Actor {
        Actor::new(7, "wang".into(), "王".into(), Grants::new(grants), "r".into(), via)
    }

    /// A read-only token obtains no authority for anything that writes, by any door.
    #[test]
    fn read_only_token_gets_no_write_authority() {
        let g = vec![
            RoleGrant { community: None, role: Role::SystemAdmin },
            RoleGrant { community: Some(1), role: Role::CentreDirector },
        ];
        let a = actor(Via::ApiToken { token_id: 1, write: false }, g.clone());
        for p in Permission::ALL {
            assert_eq!(a.authorize(p, 1).is_ok(), is_read_only(p), "{p:?}");
            assert_eq!(a.authorize_company(p).is_ok(), is_read_only(p) && Role::SystemAdmin.allows(p), "{p:?}");
        }
        assert!(a.holding(Role::CentreDirector, 1).is_err());
        assert!(a.any_role(1).is_err());
        assert!(a.own_account().is_err());
        assert!(!a.may_anywhere(Permission::HandleSheet));
        let w = actor(Via::ApiToken { token_id: 1, write: true }, g);
        assert!(w.holding(Role::CentreDirector, 1).is_ok());
        assert!(w.own_account().is_ok());
    }

    #[test]
    fn holding_needs_the_role_in_that_community() {
        let a = actor(Via::Session, vec![RoleGrant { community: Some(1), role: Role::Technician }]);
        assert_eq!(a.holding(Role::Technician, 1).unwrap().describe(), "technician@1");
        assert!(a.holding(Role::Technician, 2).is_err());
        assert!(a.holding(Role::Receptionist, 1).is_err());
    }
}

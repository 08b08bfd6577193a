//! Roles and what each may do (R-ROLE-1, R-ROLE-2).
//!
//! The mapping from role to permission is the one place where the manual's job
//! descriptions become access rules. Everything that checks access asks
//! [`Grants::allows`]; nothing else inspects roles directly.

mod role;

pub use role::{Grants, Permission, Role, RoleGrant};

use serde::{Deserialize, Serialize};
use std::fmt;

/// A staff role (R-ROLE-1). A person may hold several, in one or more communities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 中心主任
    CentreDirector,
    /// 客服部经理
    CsManager,
    /// 客服部主管
    CsSupervisor,
    /// 楼宇管理员
    BuildingManager,
    /// 前台接待员
    Receptionist,
    /// 入住接待员
    MoveInReceptionist,
    /// 档案管理员/内勤
    Archivist,
    /// 工程部调度员
    EngineeringDispatcher,
    /// 维修工
    Technician,
    /// 安保
    SecurityOfficer,
    /// 财务
    FinanceClerk,
    /// 系统管理员
    SystemAdmin,
}

impl Role {
    pub const ALL: [Role; 12] = [
        Role::CentreDirector,
        Role::CsManager,
        Role::CsSupervisor,
        Role::BuildingManager,
        Role::Receptionist,
        Role::MoveInReceptionist,
        Role::Archivist,
        Role::EngineeringDispatcher,
        Role::Technician,
        Role::SecurityOfficer,
        Role::FinanceClerk,
        Role::SystemAdmin,
    ];

    /// The stable code stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CentreDirector => "centre_director",
            Role::CsManager => "cs_manager",
            Role::CsSupervisor => "cs_supervisor",
            Role::BuildingManager => "building_manager",
            Role::Receptionist => "receptionist",
            Role::MoveInReceptionist => "move_in_receptionist",
            Role::Archivist => "archivist",
            Role::EngineeringDispatcher => "engineering_dispatcher",
            Role::Technician => "technician",
            Role::SecurityOfficer => "security_officer",
            Role::FinanceClerk => "finance_clerk",
            Role::SystemAdmin => "system_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The manual's own name for the role, used in the zh-CN interface.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::CentreDirector => "中心主任",
            Role::CsManager => "客服部经理",
            Role::CsSupervisor => "客服部主管",
            Role::BuildingManager => "楼宇管理员",
            Role::Receptionist => "前台接待员",
            Role::MoveInReceptionist => "入住接待员",
            Role::Archivist => "档案管理员",
            Role::EngineeringDispatcher => "工程部调度员",
            Role::Technician => "维修工",
            Role::SecurityOfficer => "安保员",
            Role::FinanceClerk => "财务",
            Role::SystemAdmin => "系统管理员",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::CentreDirector => "Centre director",
            Role::CsManager => "Customer-service manager",
            Role::CsSupervisor => "Customer-service supervisor",
            Role::BuildingManager => "Building manager",
            Role::Receptionist => "Front-desk receptionist",
            Role::MoveInReceptionist => "Move-in receptionist",
            Role::Archivist => "Archivist",
            Role::EngineeringDispatcher => "Engineering dispatcher",
            Role::Technician => "Technician",
            Role::SecurityOfficer => "Security officer",
            Role::FinanceClerk => "Finance clerk",
            Role::SystemAdmin => "System administrator",
        }
    }

    /// Roles whose holders approve access to owner files or the release of
    /// special-room keys, and administrators, sign in with a second factor by
    /// default (R-ARC-2, R-KEY-6).
    pub fn requires_second_factor_by_default(self) -> bool {
        matches!(self, Role::SystemAdmin | Role::CentreDirector | Role::CsManager | Role::Archivist)
    }

    /// The department a role works in when its grant names none.
    pub fn department_kind(self) -> Option<crate::unit::DepartmentKind> {
        use crate::unit::DepartmentKind::*;
        match self {
            Role::CentreDirector => Some(DirectorOffice),
            Role::CsManager
            | Role::CsSupervisor
            | Role::Receptionist
            | Role::MoveInReceptionist
            | Role::BuildingManager
            | Role::Archivist => Some(CustomerService),
            Role::EngineeringDispatcher | Role::Technician => Some(Engineering),
            Role::SecurityOfficer => Some(Security),
            Role::FinanceClerk => Some(Finance),
            Role::SystemAdmin => None,
        }
    }

    /// Heads a department by virtue of the role (the customer-service manager heads
    /// customer service; the centre director answers for every department).
    pub fn heads(self, kind: crate::unit::DepartmentKind) -> bool {
        match self {
            Role::CentreDirector => true,
            Role::CsManager => kind == crate::unit::DepartmentKind::CustomerService,
            _ => false,
        }
    }

    /// Managers and supervisors of the customer-service department, and the director.
    pub fn is_cs_management(self) -> bool {
        matches!(self, Role::CentreDirector | Role::CsManager | Role::CsSupervisor)
    }

    /// What this role may do in the community where it is held (R-ROLE-2).
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match p {
            // Every member of staff sees the community's structure (masked personal data).
            ViewCommunity => true,
            // Buildings, units, departments: administrators and the centre's management.
            ManageStructure => matches!(self, SystemAdmin | CentreDirector | CsManager),
            // Owners, residents and their relation to units: the desk and its management.
            ManageResidents => matches!(
                self,
                SystemAdmin
                    | CentreDirector
                    | CsManager
                    | CsSupervisor
                    | Receptionist
                    | MoveInReceptionist
                    | BuildingManager
                    | Archivist
            ),
            // Staff accounts and their roles.
            ManageStaff => matches!(self, SystemAdmin),
            ViewStaff => matches!(self, SystemAdmin | CentreDirector | CsManager | CsSupervisor),
            // Bulk import of buildings, units and owners.
            ImportData => matches!(self, SystemAdmin | CsManager),
            // The audit trail: managers browse and filter it.
            ViewAudit => matches!(self, SystemAdmin | CentreDirector | CsManager | CsSupervisor),
            // Company and community settings (time zone, calendars, targets).
            ManageCommunity => matches!(self, SystemAdmin),
            // Register a resident's request on a sheet (R-SHEET-1): the desk and the
            // people who meet residents for it.
            RegisterSheet => matches!(
                self,
                Receptionist | MoveInReceptionist | CsSupervisor | CsManager | CentreDirector | BuildingManager
            ),
            // Customer service's part of a sheet: its opinion and dispatch, the return to
            // the desk, collection and archive (R-SHEET-4, -7, -10, -11).
            HandleSheet => matches!(self, Receptionist | CsSupervisor | CsManager | CentreDirector),
            // Reassign a sheet's first-contact receptionist (R-SHEET-6).
            ReassignSheet => matches!(self, CsSupervisor | CsManager | CentreDirector),
            RegisterRepair => matches!(
                self,
                Receptionist
                    | MoveInReceptionist
                    | CsSupervisor
                    | CsManager
                    | CentreDirector
                    | BuildingManager
                    | SecurityOfficer
                    | Technician
                    | EngineeringDispatcher
            ),
            DispatchRepair => matches!(self, EngineeringDispatcher | CentreDirector),
            DoRepair => matches!(self, Technician),
            ManageRequests => matches!(self, SystemAdmin | CentreDirector | CsManager),
            FollowUp => matches!(self, Receptionist | CsSupervisor | CsManager | CentreDirector | BuildingManager),
            // The manual names the customer-service manager, or the centre director.
            ReviewFollowUp => matches!(self, CsManager | CentreDirector),
            ViewReports => matches!(self, CentreDirector | CsManager | CsSupervisor),
            // The desk keeps the keys; building managers, security (the desk after hours),
            // the engineering dispatcher (who sends technicians for them) and the managers see
            // where they are.
            ViewKeys => matches!(
                self,
                Receptionist
                    | MoveInReceptionist
                    | CsSupervisor
                    | CsManager
                    | CentreDirector
                    | BuildingManager
                    | SecurityOfficer
                    | EngineeringDispatcher
            ),
            HandleKeys => matches!(
                self,
                Receptionist
                    | MoveInReceptionist
                    | CsSupervisor
                    | CsManager
                    | CentreDirector
                    | BuildingManager
                    | SecurityOfficer
            ),
            ManageKeys => matches!(self, SystemAdmin | CsManager | CentreDirector),
            // Heads of a department by role; a head of another department by grant is
            // recognised by the use-case.
            ApproveKeys => matches!(self, CsManager | CentreDirector),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a member of staff may be allowed to do in a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    ViewCommunity,
    ManageStructure,
    ManageResidents,
    ManageStaff,
    ViewStaff,
    ImportData,
    ViewAudit,
    ManageCommunity,
    RegisterSheet,
    HandleSheet,
    ReassignSheet,
    /// Take a repair in: the desk, security out of hours, a technician on site (R-REP-1).
    RegisterRepair,
    /// The engineering dispatcher's board: assign, agree times, price paid work (R-REP-2, R-REP-4).
    DispatchRepair,
    /// A technician's own jobs: arrive, complete, the resident's signature (R-REP-3, R-REP-5).
    DoRepair,
    /// The flows' settings: arrival targets, complaint rules, the price list, the knowledge base.
    ManageRequests,
    /// Follow residents up and record it (R-FU-3): customer service and building managers.
    FollowUp,
    /// Review follow-up records and plan and verify corrective actions (R-FU-4).
    ReviewFollowUp,
    /// The weekly statistics table, staff performance and the managers' dashboards
    /// (R-CMP-8, R-ROLE-3).
    ViewReports,
    /// The key register: where every key is, its books and ledger (R-KEY-8).
    ViewKeys,
    /// Keys at the desk: receive, sign out, take back, seal and open the cabinet, count
    /// (R-KEY-1, R-KEY-3, R-KEY-7, R-KEY-8); record a vacant unit's inspection (R-DUTY-3).
    HandleKeys,
    /// The key inventory and rules: cabinets, settings; resolve a key incident (R-KEY-8).
    ManageKeys,
    /// Approve a special room's key leaving (R-KEY-6): the department managers.
    ApproveKeys,
}

impl Permission {
    pub const ALL: [Permission; 22] = [
        Permission::ViewCommunity,
        Permission::ManageStructure,
        Permission::ManageResidents,
        Permission::ManageStaff,
        Permission::ViewStaff,
        Permission::ImportData,
        Permission::ViewAudit,
        Permission::ManageCommunity,
        Permission::RegisterSheet,
        Permission::HandleSheet,
        Permission::ReassignSheet,
        Permission::RegisterRepair,
        Permission::DispatchRepair,
        Permission::DoRepair,
        Permission::ManageRequests,
        Permission::FollowUp,
        Permission::ReviewFollowUp,
        Permission::ViewReports,
        Permission::ViewKeys,
        Permission::HandleKeys,
        Permission::ManageKeys,
        Permission::ApproveKeys,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewCommunity => "view_community",
            Permission::ManageStructure => "manage_structure",
            Permission::ManageResidents => "manage_residents",
            Permission::ManageStaff => "manage_staff",
            Permission::ViewStaff => "view_staff",
            Permission::ImportData => "import_data",
            Permission::ViewAudit => "view_audit",
            Permission::ManageCommunity => "manage_community",
            Permission::RegisterSheet => "register_sheet",
            Permission::HandleSheet => "handle_sheet",
            Permission::ReassignSheet => "reassign_sheet",
            Permission::RegisterRepair => "register_repair",
            Permission::DispatchRepair => "dispatch_repair",
            Permission::DoRepair => "do_repair",
            Permission::ManageRequests => "manage_requests",
            Permission::FollowUp => "follow_up",
            Permission::ReviewFollowUp => "review_follow_up",
            Permission::ViewReports => "view_reports",
            Permission::ViewKeys => "view_keys",
            Permission::HandleKeys => "handle_keys",
            Permission::ManageKeys => "manage_keys",
            Permission::ApproveKeys => "approve_keys",
        }
    }
}

/// One role held by one person. `community == None` is a company-wide grant,
/// which only a system administrator may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoleGrant {
    pub community: Option<i64>,
    pub role: Role,
}

/// All roles a person holds. Built once per request from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(Vec<RoleGrant>);

impl Grants {
    pub fn new(grants: Vec<RoleGrant>) -> Self {
        Grants(grants)
    }

    pub fn iter(&self) -> impl Iterator<Item = &RoleGrant> {
        self.0.iter()
    }

    /// May this person do `p` in `community`? A company-wide grant covers every community.
    pub fn allows(&self, p: Permission, community: i64) -> bool {
        self.0.iter().any(|g| (g.community.is_none() || g.community == Some(community)) && g.role.allows(p))
    }

    /// May this person do `p` somewhere (used for company-level pages)?
    pub fn allows_anywhere(&self, p: Permission) -> bool {
        self.0.iter().any(|g| g.role.allows(p))
    }

    /// Does this person hold a company-wide grant allowing `p`?
    pub fn allows_company_wide(&self, p: Permission) -> bool {
        self.0.iter().any(|g| g.community.is_none() && g.role.allows(p))
    }

    /// The communities where this person may do `p`; `None` means all of them.
    pub fn communities_for(&self, p: Permission) -> Option<Vec<i64>> {
        if self.allows_company_wide(p) {
            return None;
        }
        let mut ids: Vec<i64> = self.0.iter().filter(|g| g.role.allows(p)).filter_map(|g| g.community).collect();
        ids.sort_unstable();
        ids.dedup();
        Some(ids)
    }

    pub fn roles_in(&self, community: i64) -> Vec<Role> {
        let mut roles: Vec<Role> =
            self.0.iter().filter(|g| g.community.is_none() || g.community == Some(community)).map(|g| g.role).collect();
        roles.sort_unstable();
        roles.dedup();
        roles
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.0.iter().any(|g| g.role == role)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("janitor"), None);
    }

    /// R-ROLE-2: a role held in one community grants nothing in another.
    #[test]
    fn r_role_2_grants_are_scoped_to_their_community() {
        let g = Grants::new(vec![RoleGrant { community: Some(1), role: Role::CsManager }]);
        assert!(g.allows(Permission::ViewAudit, 1));
        assert!(!g.allows(Permission::ViewAudit, 2));
        assert!(!g.allows(Permission::ManageStaff, 1));
        assert_eq!(g.communities_for(Permission::ViewCommunity), Some(vec![1]));
    }

    #[test]
    fn r_role_2_company_wide_admin_covers_every_community() {
        let g = Grants::new(vec![RoleGrant { community: None, role: Role::SystemAdmin }]);
        assert!(g.allows(Permission::ManageStaff, 7));
        assert_eq!(g.communities_for(Permission::ManageStaff), None);
    }

    /// R-ROLE-1: a person may hold several roles; permissions are their union.
    #[test]
    fn r_role_1_several_roles_union() {
        let g = Grants::new(vec![
            RoleGrant { community: Some(1), role: Role::Technician },
            RoleGrant { community: Some(1), role: Role::CsSupervisor },
        ]);
        assert!(g.allows(Permission::ViewAudit, 1));
        assert_eq!(g.roles_in(1), vec![Role::CsSupervisor, Role::Technician]);
    }

    #[test]
    fn technician_cannot_manage_residents_or_see_audit() {
        assert!(!Role::Technician.allows(Permission::ManageResidents));
        assert!(!Role::Technician.allows(Permission::ViewAudit));
        assert!(Role::Technician.allows(Permission::ViewCommunity));
    }
}

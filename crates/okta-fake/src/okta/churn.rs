//! Seeded random changes to an org, of every kind an admin makes in a day: profile edits,
//! lifecycle changes, new users, hard deletes, memberships, group renames, creations and
//! deletions, roles granted, revoked and (de)activated for users and groups, factors activated
//! and reset, and several changes to one user within one second. Each goes through the org's
//! mutations, so timestamps and System Log events are Okta's; each returns what it did.
//!
//! ```ignore
//! let mut churn = Churn::new(7);
//! let changes = okta.with_org(|org| churn.run(org, 200));
//! ```

use super::org::{GroupType, Org};
use crate::rng::Rng;

/// One change made by [`Churn`], with the ids it touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Profile {
        user: String,
        field: String,
    },
    Status {
        user: String,
        from: String,
        to: String,
    },
    CreateUser {
        user: String,
    },
    /// Deactivated first when it was not DEPROVISIONED (Okta deletes only deactivated users).
    DeleteUser {
        user: String,
    },
    AddMember {
        group: String,
        user: String,
    },
    RemoveMember {
        group: String,
        user: String,
    },
    RenameGroup {
        group: String,
    },
    CreateGroup {
        group: String,
    },
    /// With the members it had.
    DeleteGroup {
        group: String,
        members: Vec<String>,
    },
    GrantUserRole {
        user: String,
        role: String,
    },
    RevokeUserRole {
        user: String,
        role: String,
    },
    UserRoleStatus {
        user: String,
        role: String,
        status: String,
    },
    GrantGroupRole {
        group: String,
        role: String,
    },
    RevokeGroupRole {
        group: String,
        role: String,
    },
    GroupRoleStatus {
        group: String,
        role: String,
        status: String,
    },
    /// A pending factor activated, or a new one enrolled active.
    ActivateFactor {
        user: String,
        factor: String,
    },
    ResetFactors {
        user: String,
    },
    /// A profile edit, a lifecycle change and a membership change to one user, stamped with
    /// the same second.
    SameSecond {
        user: String,
        changes: Vec<Change>,
    },
}

impl Change {
    /// A short name of the kind of change.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Profile { .. } => "profile",
            Change::Status { .. } => "status",
            Change::CreateUser { .. } => "create_user",
            Change::DeleteUser { .. } => "delete_user",
            Change::AddMember { .. } => "add_member",
            Change::RemoveMember { .. } => "remove_member",
            Change::RenameGroup { .. } => "rename_group",
            Change::CreateGroup { .. } => "create_group",
            Change::DeleteGroup { .. } => "delete_group",
            Change::GrantUserRole { .. } => "grant_user_role",
            Change::RevokeUserRole { .. } => "revoke_user_role",
            Change::UserRoleStatus { .. } => "user_role_status",
            Change::GrantGroupRole { .. } => "grant_group_role",
            Change::RevokeGroupRole { .. } => "revoke_group_role",
            Change::GroupRoleStatus { .. } => "group_role_status",
            Change::ActivateFactor { .. } => "activate_factor",
            Change::ResetFactors { .. } => "reset_factors",
            Change::SameSecond { .. } => "same_second",
        }
    }
}

/// The kinds, with how often each happens relative to the others.
const KINDS: &[(&str, u32)] = &[
    ("profile", 20),
    ("status", 10),
    ("create_user", 6),
    ("delete_user", 3),
    ("add_member", 15),
    ("remove_member", 8),
    ("rename_group", 3),
    ("create_group", 2),
    ("delete_group", 1),
    ("grant_user_role", 2),
    ("revoke_user_role", 2),
    ("user_role_status", 2),
    ("grant_group_role", 2),
    ("revoke_group_role", 1),
    ("group_role_status", 1),
    ("activate_factor", 8),
    ("reset_factors", 3),
    ("same_second", 4),
];

const FIELDS: &[&str] = &["title", "department", "city", "mobilePhone", "costCenter"];
const ROLES: &[&str] = &[
    "USER_ADMIN",
    "HELP_DESK_ADMIN",
    "READ_ONLY_ADMIN",
    "APP_ADMIN",
    "GROUP_MEMBERSHIP_ADMIN",
    "REPORT_ADMIN",
];

/// A seeded source of changes (same seed and org, same changes).
#[derive(Clone, Debug)]
pub struct Churn {
    rng: Rng,
    made: u64,
}

impl Churn {
    pub fn new(seed: u64) -> Churn {
        Churn {
            rng: Rng::new(seed ^ 0xC4A2_6E5E),
            made: 0,
        }
    }

    /// `count` random changes.
    pub fn run(&mut self, org: &mut Org, count: usize) -> Vec<Change> {
        (0..count).filter_map(|_| self.step(org)).collect()
    }

    /// One random change (`None` when the org is too small for any).
    pub fn step(&mut self, org: &mut Org) -> Option<Change> {
        let total: u32 = KINDS.iter().map(|(_, w)| w).sum();
        let mut draw = self.rng.below(u64::from(total)) as u32;
        let kind = KINDS
            .iter()
            .find(|(_, w)| {
                if draw < *w {
                    true
                } else {
                    draw -= w;
                    false
                }
            })
            .map_or("profile", |(k, _)| *k);
        self.make(org, kind).or_else(|| self.make(org, "profile"))
    }

    /// One change of every kind (those the org allows), in the order of [`Change::kind`].
    pub fn every_kind(&mut self, org: &mut Org) -> Vec<Change> {
        KINDS
            .iter()
            .filter_map(|(kind, _)| self.make(org, kind))
            .collect()
    }

    /// "A day of changes" for the org's size: one change per 50 users, at least 100.
    pub fn a_day(&mut self, org: &mut Org) -> Vec<Change> {
        let count = (org.users().len() / 50).max(100);
        let mut changes = self.every_kind(org);
        changes.extend(self.run(org, count.saturating_sub(changes.len())));
        changes
    }

    fn make(&mut self, org: &mut Org, kind: &str) -> Option<Change> {
        self.made += 1;
        match kind {
            "profile" => self.profile(org),
            "status" => self.status(org),
            "create_user" => Some(self.create_user(org)),
            "delete_user" => self.delete_user(org),
            "add_member" => self.add_member(org),
            "remove_member" => self.remove_member(org),
            "rename_group" => self.rename_group(org),
            "create_group" => Some(self.create_group(org)),
            "delete_group" => self.delete_group(org),
            "grant_user_role" => self.grant_user_role(org),
            "revoke_user_role" => self.revoke_user_role(org),
            "user_role_status" => self.user_role_status(org),
            "grant_group_role" => self.grant_group_role(org),
            "revoke_group_role" => self.revoke_group_role(org),
            "group_role_status" => self.group_role_status(org),
            "activate_factor" => self.activate_factor(org),
            "reset_factors" => self.reset_factors(org),
            "same_second" => self.same_second(org),
            _ => None,
        }
    }

    // ------------------------------------------------------------------ picking

    /// A random user other than user 0 (the admin making the changes).
    fn user(&mut self, org: &Org, pred: impl Fn(&Org, usize) -> bool) -> Option<String> {
        let candidates: Vec<usize> = (1..org.users().len()).filter(|&i| pred(org, i)).collect();
        (!candidates.is_empty()).then(|| {
            org.users()[candidates[self.rng.index(candidates.len())]]
                .id
                .clone()
        })
    }

    /// A random OKTA_GROUP (memberships and roles of app-sourced groups and Everyone are not
    /// an admin's to change).
    fn group(&mut self, org: &Org, pred: impl Fn(&Org, usize) -> bool) -> Option<String> {
        let candidates: Vec<usize> = (0..org.groups().len())
            .filter(|&g| org.groups()[g].group_type == GroupType::Okta && pred(org, g))
            .collect();
        (!candidates.is_empty()).then(|| {
            org.groups()[candidates[self.rng.index(candidates.len())]]
                .id
                .clone()
        })
    }

    // ------------------------------------------------------------------ kinds

    fn profile(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |_, _| true)?;
        let field = *self.rng.pick(FIELDS);
        let value = format!("{field} {} ({})", self.made, self.rng.below(1000));
        org.update_user_profile(&user, field, value);
        Some(Change::Profile {
            user,
            field: field.to_string(),
        })
    }

    fn status(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |_, _| true)?;
        let from = org.user(&user)?.status.clone();
        let to = match from.as_str() {
            "ACTIVE" => *self.rng.pick(&[
                "SUSPENDED",
                "DEPROVISIONED",
                "LOCKED_OUT",
                "PASSWORD_EXPIRED",
                "RECOVERY",
            ]),
            "DEPROVISIONED" => "PROVISIONED",
            _ => "ACTIVE",
        };
        org.set_user_status(&user, to);
        Some(Change::Status {
            user,
            from,
            to: to.to_string(),
        })
    }

    fn create_user(&mut self, org: &mut Org) -> Change {
        let n = self.made;
        let status = if self.rng.chance(0.8) {
            "ACTIVE"
        } else {
            "STAGED"
        };
        let login = format!("new.hire{n}.{}@example.com", self.rng.below(1_000_000));
        let user = org.create_user(&login, "New", &format!("Hire {n}"), status);
        Change::CreateUser { user }
    }

    fn delete_user(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |_, _| true)?;
        if org.user(&user)?.status != "DEPROVISIONED" {
            org.set_user_status(&user, "DEPROVISIONED");
        }
        org.delete_user(&user);
        Some(Change::DeleteUser { user })
    }

    fn add_member(&mut self, org: &mut Org) -> Option<Change> {
        let group = self.group(org, |o, g| o.groups()[g].member_count() < o.users().len())?;
        let members: std::collections::HashSet<String> = org
            .members_of(&group)
            .iter()
            .map(|s| s.to_string())
            .collect();
        let user = self.user(org, |o, i| !members.contains(&o.users()[i].id))?;
        org.add_member(&group, &user);
        Some(Change::AddMember { group, user })
    }

    fn remove_member(&mut self, org: &mut Org) -> Option<Change> {
        let group = self.group(org, |o, g| o.groups()[g].member_count() > 0)?;
        let members = org.members_of(&group);
        let user = members[self.rng.index(members.len())].to_string();
        org.remove_member(&group, &user);
        Some(Change::RemoveMember { group, user })
    }

    fn rename_group(&mut self, org: &mut Org) -> Option<Change> {
        let group = self.group(org, |_, _| true)?;
        org.rename_group(&group, &format!("Renamed Team {}", self.made));
        Some(Change::RenameGroup { group })
    }

    fn create_group(&mut self, org: &mut Org) -> Change {
        let group = org.create_group(
            &format!("Project {} Team", self.made),
            Some("Created during the day"),
        );
        Change::CreateGroup { group }
    }

    fn delete_group(&mut self, org: &mut Org) -> Option<Change> {
        // Role-holding groups too: deleting one takes its members' roles with it.
        let group = self.group(org, |_, _| true)?;
        let members = org
            .members_of(&group)
            .iter()
            .map(|s| s.to_string())
            .collect();
        org.delete_group(&group);
        Some(Change::DeleteGroup { group, members })
    }

    fn grant_user_role(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |_, _| true)?;
        let role = self.rng.pick(ROLES).to_string();
        org.grant_user_role(&user, &role);
        Some(Change::GrantUserRole { user, role })
    }

    fn revoke_user_role(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |o, i| !o.users()[i].roles.is_empty())?;
        let role = org.user(&user)?.roles[0].id.clone();
        org.revoke_user_role(&user, &role);
        Some(Change::RevokeUserRole { user, role })
    }

    fn user_role_status(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |o, i| !o.users()[i].roles.is_empty())?;
        let role = org.user(&user)?.roles[0].clone();
        let status = flip(&role.status);
        org.set_user_role_status(&user, &role.id, status);
        Some(Change::UserRoleStatus {
            user,
            role: role.id,
            status: status.to_string(),
        })
    }

    fn grant_group_role(&mut self, org: &mut Org) -> Option<Change> {
        let group = self.group(org, |o, g| o.groups()[g].member_count() > 0)?;
        let role = self.rng.pick(ROLES).to_string();
        org.grant_group_role(&group, &role);
        Some(Change::GrantGroupRole { group, role })
    }

    fn revoke_group_role(&mut self, org: &mut Org) -> Option<Change> {
        let group = self.group(org, |o, g| !o.groups()[g].roles.is_empty())?;
        let role = org.group(&group)?.roles[0].id.clone();
        org.revoke_group_role(&group, &role);
        Some(Change::RevokeGroupRole { group, role })
    }

    fn group_role_status(&mut self, org: &mut Org) -> Option<Change> {
        let group = self.group(org, |o, g| !o.groups()[g].roles.is_empty())?;
        let role = org.group(&group)?.roles[0].clone();
        let status = flip(&role.status);
        org.set_group_role_status(&group, &role.id, status);
        Some(Change::GroupRoleStatus {
            group,
            role: role.id,
            status: status.to_string(),
        })
    }

    fn activate_factor(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |_, _| true)?;
        let pending = org
            .user(&user)?
            .factors
            .iter()
            .find(|f| f.status != "ACTIVE")
            .map(|f| f.id.clone());
        let factor = match pending {
            Some(factor) => {
                org.activate_factor(&user, &factor);
                factor
            }
            None => org.add_factor(&user, "token:software:totp", "ACTIVE"),
        };
        Some(Change::ActivateFactor { user, factor })
    }

    fn reset_factors(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |o, i| !o.users()[i].factors.is_empty())?;
        org.reset_factors(&user);
        Some(Change::ResetFactors { user })
    }

    fn same_second(&mut self, org: &mut Org) -> Option<Change> {
        let user = self.user(org, |o, i| o.users()[i].status == "ACTIVE")?;
        let group = self.group(org, |_, _| true);
        let n = self.made;
        let changes = org.in_one_second(|org| {
            org.update_user_profile(&user, "title", format!("Promoted {n}"));
            org.set_user_status(&user, "SUSPENDED");
            let mut changes = vec![
                Change::Profile {
                    user: user.clone(),
                    field: "title".into(),
                },
                Change::Status {
                    user: user.clone(),
                    from: "ACTIVE".into(),
                    to: "SUSPENDED".into(),
                },
            ];
            if let Some(group) = group {
                if org.add_member(&group, &user) {
                    changes.push(Change::AddMember {
                        group,
                        user: user.clone(),
                    });
                }
            }
            changes
        });
        Some(Change::SameSecond { user, changes })
    }
}

fn flip(status: &str) -> &'static str {
    if status == "ACTIVE" {
        "INACTIVE"
    } else {
        "ACTIVE"
    }
}

//! Admin roles, with a handful of calls, right whatever the assignee list contains.
//!
//! - `GET /iam/assignees/users` lists users holding roles (ids only, 100 a page). Okta documents
//!   it only as "users with role assignments": whether it also lists users whose only role comes
//!   from a group is not documented, so nothing here depends on it.
//! - `GET /users/{id}/roles` of each assignee tells whether it holds an ACTIVE role *directly*
//!   (`assignmentType: USER`); inherited roles (`assignmentType: GROUP`) name their group in
//!   `_links.assignee`, and those groups are read too.
//! - `GET /groups?expand=stats` (the group listing, no extra request) flags every group holding
//!   a role (`_embedded.stats.hasAdminPrivlege`); `GET /groups/{id}/roles` of each gives
//!   `group.privileges`, and every member of a group holding an ACTIVE role is an admin.
//!
//! A user is an admin when they hold an active role directly or belong to a group holding one.
//! When something could not be read the answer is unknown (omitted), never "not admin".

use std::collections::{BTreeSet, HashMap};

use super::super::cycle::{run_bounded, Warnings};
use crate::okta::model::RoleAssignment;
use crate::okta::{OktaClient, OktaError};
use crate::progress::{Phase, Progress};
use crate::state::Assignees;

/// What a user's own role assignments say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direct {
    /// Holds at least one ACTIVE role directly.
    Active,
    /// Holds no active role directly (roles inherited from groups are the groups' business).
    Inactive,
    /// The roles could not be read.
    Unknown,
}

/// The roles a group holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRoles {
    /// Holds no active role (Okta's stats say no role, or the roles read are all inactive).
    None,
    /// Labels of the group's ACTIVE roles (never empty).
    Held(Vec<String>),
    /// Not known: the roles could not be read.
    Unknown,
}

impl GroupRoles {
    /// From the labels of the active roles read.
    pub fn from_labels(mut labels: Vec<String>) -> GroupRoles {
        labels.sort();
        labels.dedup();
        if labels.is_empty() {
            GroupRoles::None
        } else {
            GroupRoles::Held(labels)
        }
    }

    /// Makes its members admins.
    pub fn grants_admin(&self) -> bool {
        matches!(self, GroupRoles::Held(_))
    }

    /// The labels to show as the group's privileges (none when none or unknown).
    pub fn labels(&self) -> &[String] {
        match self {
            GroupRoles::Held(labels) => labels,
            _ => &[],
        }
    }
}

/// Direct roles of users.
#[derive(Debug, Default)]
pub struct Admins {
    /// Role assignees and what their own assignments say; `None` when the assignee list could
    /// not be read (then nobody's direct roles are known).
    direct: Option<HashMap<Box<str>, Direct>>,
}

impl Admins {
    /// Nothing is known (roles enrichment disabled or not permitted).
    pub fn unknown() -> Admins {
        Admins::default()
    }

    /// The assignees stored by the last cycle.
    pub fn from_stored(stored: Option<HashMap<String, bool>>) -> Admins {
        Admins {
            direct: stored.map(|rows| {
                rows.into_iter()
                    .map(|(id, active)| {
                        let direct = if active {
                            Direct::Active
                        } else {
                            Direct::Inactive
                        };
                        (id.into_boxed_str(), direct)
                    })
                    .collect()
            }),
        }
    }

    /// What `user`'s own roles say; not an assignee means no direct role.
    pub fn direct(&self, user: &str) -> Direct {
        match &self.direct {
            None => Direct::Unknown,
            Some(map) => map.get(user).copied().unwrap_or(Direct::Inactive),
        }
    }

    pub fn assignee_ids(&self) -> Vec<String> {
        self.direct
            .iter()
            .flat_map(|map| map.keys().map(|id| id.to_string()))
            .collect()
    }

    /// Full read: the assignee list and every assignee's roles. Returns the groups named by
    /// inherited roles (their roles must be read too).
    pub async fn read_all(
        client: &OktaClient,
        max_parallel: usize,
        warnings: &Warnings,
        progress: &Progress,
    ) -> (Admins, BTreeSet<String>) {
        let Some(assignees) = list_assignees(client, warnings).await else {
            return (Admins::unknown(), BTreeSet::new());
        };
        let mut admins = Admins {
            direct: Some(HashMap::new()),
        };
        let named = admins
            .read_user_roles(client, assignees, max_parallel, warnings, progress)
            .await;
        (admins, named)
    }

    /// Incremental read: the assignee list again (one or two requests), then the roles of new
    /// assignees and of `reread` (users whose roles may have changed). Users dropped from the
    /// list hold no role any more. Returns the users whose direct status changed and the groups
    /// named by inherited roles. When the list cannot be read, what was known is kept (a
    /// warning is counted) rather than turned into "not admin".
    pub async fn refresh(
        &mut self,
        client: &OktaClient,
        reread: BTreeSet<String>,
        max_parallel: usize,
        warnings: &Warnings,
        progress: &Progress,
    ) -> (Vec<String>, BTreeSet<String>) {
        let before = self.direct.clone().unwrap_or_default();
        let Some(current) = list_assignees(client, warnings).await else {
            return (Vec::new(), BTreeSet::new());
        };
        let mut direct: HashMap<Box<str>, Direct> = HashMap::new();
        let mut to_read = Vec::new();
        for id in current {
            match before.get(id.as_str()) {
                Some(&known) if known != Direct::Unknown && !reread.contains(&id) => {
                    direct.insert(id.into_boxed_str(), known);
                }
                _ => to_read.push(id),
            }
        }
        // Users named by a change who are not (or no longer) on the list: read too, the list
        // may lag behind the change.
        for id in reread {
            if !direct.contains_key(id.as_str()) && !to_read.contains(&id) {
                to_read.push(id);
            }
        }
        self.direct = Some(direct);
        let named = self
            .read_user_roles(client, to_read, max_parallel, warnings, progress)
            .await;
        let after = self.direct.as_ref().expect("just set");
        let mut changed: Vec<String> = after
            .iter()
            .filter(|(id, now)| before.get(&***id).copied().unwrap_or(Direct::Inactive) != **now)
            .map(|(id, _)| id.to_string())
            .collect();
        changed.extend(
            before
                .iter()
                .filter(|(id, was)| **was != Direct::Inactive && !after.contains_key(&***id))
                .map(|(id, _)| id.to_string()),
        );
        (changed, named)
    }

    /// Reads the roles of `user_ids`; returns the groups that inherited roles came from.
    async fn read_user_roles(
        &mut self,
        client: &OktaClient,
        user_ids: Vec<String>,
        max_parallel: usize,
        warnings: &Warnings,
        progress: &Progress,
    ) -> BTreeSet<String> {
        let results = read_roles_of(
            client,
            Holder::User,
            user_ids.into_iter(),
            max_parallel,
            progress,
        )
        .await;
        let direct = self.direct.get_or_insert_with(HashMap::new);
        let mut named = BTreeSet::new();
        for (user_id, roles) in results {
            progress.advance(Phase::Roles, 1);
            let status = match roles {
                Ok(roles) => {
                    named.extend(
                        roles
                            .iter()
                            .filter_map(RoleAssignment::assignee_group_id)
                            .map(str::to_string),
                    );
                    let active = roles.iter().any(|r| r.is_active() && r.is_direct());
                    if active {
                        Direct::Active
                    } else {
                        Direct::Inactive
                    }
                }
                // A user hard-deleted since the list was read holds no role.
                Err(error) if is_not_found(&error) => Direct::Inactive,
                Err(error) => {
                    warnings.unapplied(
                        "roles",
                        format!("cannot read the roles of user {user_id}: {error}"),
                        Some(&error),
                    );
                    Direct::Unknown
                }
            };
            direct.insert(user_id.into_boxed_str(), status);
        }
        named
    }

    /// The assignees to store. The store keeps a known status per assignee, and an assignee
    /// missing from it reads back as holding no direct role: when some assignee's status is
    /// unknown, the whole list is stored as unknown (the next cycle reads every assignee's
    /// roles again) rather than let that assignee come back as "not admin".
    pub fn stored(&self) -> Assignees {
        let Some(map) = &self.direct else {
            return Assignees::Unknown;
        };
        let known: Option<Vec<(String, bool)>> = map
            .iter()
            .map(|(id, direct)| match direct {
                Direct::Active => Some((id.to_string(), true)),
                Direct::Inactive => Some((id.to_string(), false)),
                Direct::Unknown => None,
            })
            .collect();
        known.map_or(Assignees::Unknown, Assignees::Replace)
    }
}

/// What reading a group's roles gave.
#[derive(Debug)]
pub enum GroupRolesRead {
    Read(GroupRoles),
    /// The group no longer exists.
    Gone,
    Failed,
}

/// Who holds the roles read.
#[derive(Debug, Clone, Copy)]
enum Holder {
    User,
    Group,
}

/// Reads the roles of each of `ids`, `max_parallel` at a time, in the roles phase.
async fn read_roles_of(
    client: &OktaClient,
    holder: Holder,
    ids: impl Iterator<Item = String>,
    max_parallel: usize,
    progress: &Progress,
) -> Vec<(String, Result<Vec<RoleAssignment>, OktaError>)> {
    progress.begin(Phase::Roles);
    run_bounded(ids, max_parallel, |id| {
        let client = client.clone();
        async move {
            let roles = match holder {
                Holder::User => client.list_user_roles(&id).await,
                Holder::Group => client.list_group_roles(&id).await,
            };
            (id, roles)
        }
    })
    .await
}

/// Reads the roles of `groups`, `max_parallel` at a time.
pub async fn read_group_roles(
    client: &OktaClient,
    groups: BTreeSet<String>,
    max_parallel: usize,
    warnings: &Warnings,
    progress: &Progress,
) -> Vec<(String, GroupRolesRead)> {
    let results = read_roles_of(
        client,
        Holder::Group,
        groups.into_iter(),
        max_parallel,
        progress,
    )
    .await;
    results
        .into_iter()
        .map(|(group_id, roles)| {
            progress.advance(Phase::Roles, 1);
            let read = match roles {
                Ok(roles) => GroupRolesRead::Read(GroupRoles::from_labels(
                    roles
                        .iter()
                        .filter(|r| r.is_active())
                        .filter_map(|r| r.display_label().map(str::to_string))
                        .collect(),
                )),
                Err(error) if is_not_found(&error) => GroupRolesRead::Gone,
                Err(error) => {
                    warnings.unapplied(
                        "roles",
                        format!("cannot read the roles of group {group_id}: {error}"),
                        Some(&error),
                    );
                    GroupRolesRead::Failed
                }
            };
            (group_id, read)
        })
        .collect()
}

pub(crate) fn is_not_found(error: &OktaError) -> bool {
    error.api().is_some_and(|api| api.status == 404)
}

async fn list_assignees(client: &OktaClient, warnings: &Warnings) -> Option<Vec<String>> {
    match client.list_role_assignees().collect_all().await {
        Ok(assignees) => Some(assignees.into_iter().map(|a| a.id).collect()),
        // A refused token or an unknown host fails every call of the cycle, and the cycle
        // reports it as its error: a warning about admin detection would only come first and
        // point the operator at the wrong cause.
        Err(error) if error.affects_every_request() => None,
        Err(error) => {
            warnings.unapplied(
                "roles",
                format!("cannot list admin role assignees; direct admin rights are unknown this cycle: {error}"),
                Some(&error),
            );
            None
        }
    }
}

/// Whether a user is an admin: `Some(true)` when they hold an active role directly or belong
/// to a group holding one; `Some(false)` only when all of that is known to be absent.
pub fn admin_status<'a>(
    direct: Direct,
    groups: Option<impl Iterator<Item = &'a GroupRoles>>,
) -> Option<bool> {
    if direct == Direct::Active {
        return Some(true);
    }
    let mut uncertain = direct == Direct::Unknown;
    match groups {
        None => uncertain = true,
        Some(groups) => {
            for roles in groups {
                match roles {
                    roles if roles.grants_admin() => return Some(true),
                    GroupRoles::Unknown => uncertain = true,
                    _ => {}
                }
            }
        }
    }
    (!uncertain).then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store has no "unknown" for one assignee, and an assignee missing from it reads back
    /// as holding no direct role: one unknown makes the whole list unknown, never "not admin".
    #[test]
    fn an_assignee_of_unknown_status_is_never_stored_as_holding_no_role() {
        let stored = || {
            Admins::from_stored(Some(HashMap::from([
                ("00u1".to_string(), true),
                ("00u2".to_string(), false),
            ])))
        };
        assert!(matches!(stored().stored(), Assignees::Replace(rows) if rows.len() == 2));
        let mut one_unknown = stored();
        if let Some(map) = one_unknown.direct.as_mut() {
            map.insert("00u3".into(), Direct::Unknown);
        }
        assert!(matches!(one_unknown.stored(), Assignees::Unknown));
        let reloaded = Admins::from_stored(None);
        assert_eq!(reloaded.direct("00u3"), Direct::Unknown);
    }

    fn held(labels: &[&str]) -> GroupRoles {
        GroupRoles::from_labels(labels.iter().map(|l| l.to_string()).collect())
    }

    #[test]
    fn admin_needs_a_known_active_role_and_not_admin_needs_everything_known() {
        let none = GroupRoles::None;
        let admin_group = held(&["Help Desk Administrator"]);
        let suspended_only = held(&[]);
        let unknown = GroupRoles::Unknown;
        let status = |direct, groups: Option<Vec<&GroupRoles>>| {
            admin_status(direct, groups.map(|g| g.into_iter()))
        };
        assert_eq!(status(Direct::Active, None), Some(true));
        assert_eq!(
            status(Direct::Inactive, Some(vec![&none, &admin_group])),
            Some(true)
        );
        assert_eq!(
            status(Direct::Unknown, Some(vec![&admin_group])),
            Some(true)
        );
        assert_eq!(
            status(Direct::Inactive, Some(vec![&none, &suspended_only])),
            Some(false)
        );
        assert_eq!(status(Direct::Inactive, Some(vec![])), Some(false));
        assert_eq!(status(Direct::Unknown, Some(vec![&none])), None);
        assert_eq!(status(Direct::Inactive, Some(vec![&unknown])), None);
        assert_eq!(status(Direct::Inactive, None), None);
    }
}

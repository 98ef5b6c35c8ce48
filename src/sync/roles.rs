//! Who is an administrator, with a handful of calls.
//!
//! `GET /iam/assignees/users` lists every user holding an admin role (ids only, 100 a page);
//! `GET /users/{id}/roles` then gives each one's roles, including roles inherited from a group
//! (`assignmentType: GROUP`, whose `assignee` link names the group). The groups found that way
//! are asked for their roles once each, which gives `group.privileges`, and makes every member
//! of such a group an admin. Other users hold no role: they are plain users. Cost: A/100 + A +
//! (role-holding groups) requests, instead of one or two calls per user.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio::task::JoinSet;

use super::Warnings;
use crate::mapping::GroupInfo;
use crate::okta::model::RoleAssignment;
use crate::okta::OktaClient;

/// What the role calls established.
#[derive(Debug, Default)]
pub struct Admins {
    /// False when the role assignees could not be listed: nobody's admin status is known.
    known: bool,
    /// Role assignees: `Some(true)` holds an active role (directly or through a group),
    /// `Some(false)` holds none active, `None` its roles could not be read.
    assignees: HashMap<Box<str>, Option<bool>>,
    /// Groups holding active roles → the roles' labels.
    group_privileges: BTreeMap<String, BTreeSet<String>>,
}

impl Admins {
    /// Nothing is known (roles enrichment disabled or not permitted).
    pub fn unknown() -> Admins {
        Admins::default()
    }

    /// Full read: every assignee's roles, then the roles of the groups they inherit from.
    pub async fn collect(client: &OktaClient, max_parallel: usize, warnings: &Warnings) -> Admins {
        let Some(assignees) = list_assignees(client, warnings).await else {
            return Admins::unknown();
        };
        let mut admins = Admins {
            known: true,
            ..Admins::default()
        };
        let role_groups = admins
            .read_user_roles(client, assignees, max_parallel, warnings)
            .await;
        admins
            .read_group_roles(client, role_groups, max_parallel, warnings)
            .await;
        admins
    }

    /// Incremental read: the assignee list again (cheap), roles only for new assignees, and
    /// the roles of every role-holding group (few). When the assignees cannot be listed, the
    /// previous knowledge is kept (a warning is counted) rather than turned into "not admin".
    pub async fn refresh(
        client: &OktaClient,
        previous: &HashMap<String, bool>,
        role_groups: BTreeSet<String>,
        max_parallel: usize,
        warnings: &Warnings,
    ) -> Admins {
        let mut admins = Admins {
            known: true,
            ..Admins::default()
        };
        let current = match list_assignees(client, warnings).await {
            Some(current) => current,
            None => {
                admins.assignees = previous
                    .iter()
                    .map(|(id, active)| (id.as_str().into(), Some(*active)))
                    .collect();
                // Group privileges are kept by the caller's directory.
                return admins;
            }
        };
        let mut new = Vec::new();
        for id in current {
            match previous.get(&id) {
                Some(active) => {
                    admins.assignees.insert(id.into_boxed_str(), Some(*active));
                }
                None => new.push(id),
            }
        }
        let mut groups = role_groups;
        groups.extend(
            admins
                .read_user_roles(client, new, max_parallel, warnings)
                .await,
        );
        admins
            .read_group_roles(client, groups, max_parallel, warnings)
            .await;
        admins
    }

    /// Reads the roles of `user_ids`; returns the groups that roles were inherited from.
    async fn read_user_roles(
        &mut self,
        client: &OktaClient,
        user_ids: Vec<String>,
        max_parallel: usize,
        warnings: &Warnings,
    ) -> BTreeSet<String> {
        let results = run_bounded(user_ids.into_iter(), max_parallel, |id| {
            let client = client.clone();
            async move {
                let roles = client.list_user_roles(&id).await;
                (id, roles)
            }
        })
        .await;
        let mut role_groups = BTreeSet::new();
        for (user_id, roles) in results {
            match roles {
                Ok(roles) => {
                    let active: Vec<&RoleAssignment> =
                        roles.iter().filter(|r| r.is_active()).collect();
                    role_groups.extend(
                        active
                            .iter()
                            .filter_map(|r| r.assignee_group_id())
                            .map(str::to_string),
                    );
                    self.assignees
                        .insert(user_id.into_boxed_str(), Some(!active.is_empty()));
                }
                Err(error) => {
                    warnings.warn(
                        "roles",
                        format!("cannot read the roles of user {user_id}: {error}"),
                    );
                    self.assignees.insert(user_id.into_boxed_str(), None);
                }
            }
        }
        role_groups
    }

    async fn read_group_roles(
        &mut self,
        client: &OktaClient,
        groups: BTreeSet<String>,
        max_parallel: usize,
        warnings: &Warnings,
    ) {
        let results = run_bounded(groups.into_iter(), max_parallel, |id| {
            let client = client.clone();
            async move {
                let roles = client.list_group_roles(&id).await;
                (id, roles)
            }
        })
        .await;
        for (group_id, roles) in results {
            match roles {
                Ok(roles) => {
                    let labels: BTreeSet<String> = roles
                        .iter()
                        .filter(|r| r.is_active())
                        .filter_map(|r| r.display_label().map(str::to_string))
                        .collect();
                    self.group_privileges.insert(group_id, labels);
                }
                Err(error) => warnings.warn(
                    "roles",
                    format!("cannot read the roles of group {group_id}: {error}"),
                ),
            }
        }
    }

    /// Admin status of a user given the groups they belong to (whose privileges come from
    /// the directory, which keeps them across cycles): `None` when unknown.
    pub fn is_admin<'a>(
        &self,
        user_id: &str,
        mut groups: impl Iterator<Item = &'a GroupInfo>,
    ) -> Option<bool> {
        if !self.known {
            return None;
        }
        match self.assignees.get(user_id).copied() {
            Some(Some(true)) => Some(true),
            _ if groups.any(|g| !g.privileges.is_empty()) => Some(true),
            Some(None) => None,
            _ => Some(false),
        }
    }

    /// Groups whose roles were read, with the labels of their active roles (possibly none:
    /// a group whose last role was revoked).
    pub fn group_privileges(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.group_privileges
    }

    pub fn is_known(&self) -> bool {
        self.known
    }

    /// Assignees whose role status is known, for the state store.
    pub fn assignee_rows(&self) -> Vec<(String, bool)> {
        self.assignees
            .iter()
            .filter_map(|(id, active)| active.map(|a| (id.to_string(), a)))
            .collect()
    }

    /// Users whose assignee status differs between `previous` and now.
    pub fn assignee_changes(&self, previous: &HashMap<String, bool>) -> Vec<String> {
        let mut changed: Vec<String> = previous
            .keys()
            .filter(|id| !self.assignees.contains_key(id.as_str()))
            .cloned()
            .collect();
        changed.extend(
            self.assignees
                .iter()
                .filter(|(id, active)| previous.get(&***id).copied() != **active)
                .map(|(id, _)| id.to_string()),
        );
        changed
    }
}

async fn list_assignees(client: &OktaClient, warnings: &Warnings) -> Option<Vec<String>> {
    match client.list_role_assignees().collect_all().await {
        Ok(assignees) => Some(assignees.into_iter().map(|a| a.id).collect()),
        // A refused token or an unknown host fails every call of the cycle, and the cycle
        // reports it as its error: a warning about admin detection would only come first and
        // point the operator at the wrong cause.
        Err(error) if error.affects_every_request() => None,
        Err(error) => {
            warnings.warn(
                "roles",
                format!("cannot list admin role assignees, admin detection is off for this cycle: {error}"),
            );
            None
        }
    }
}

/// Runs `make(item)` for every item, at most `max_parallel` at a time, and returns the results
/// (in completion order).
pub(crate) async fn run_bounded<I, F, Fut, T>(items: I, max_parallel: usize, make: F) -> Vec<T>
where
    I: Iterator,
    F: Fn(I::Item) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut results = Vec::new();
    let mut items = items.peekable();
    loop {
        while tasks.len() < max_parallel.max(1) {
            let Some(item) = items.next() else { break };
            tasks.spawn(make(item));
        }
        match tasks.join_next().await {
            Some(Ok(result)) => results.push(result),
            // A panic is a bug: surface it rather than lose a result and report a wrong value.
            Some(Err(join_error)) => std::panic::resume_unwind(join_error.into_panic()),
            None => break,
        }
    }
    results
}

//! Who is an administrator, with a handful of calls.
//!
//! `GET /iam/assignees/users` lists every user holding an admin role (ids only, 100 a page);
//! `GET /users/{id}/roles` then gives each one's roles, including roles inherited from a group
//! (`assignmentType: GROUP`, whose `assignee` link names the group). The groups found that way
//! are asked for their roles once each, which gives `group.privileges`, and makes every member
//! of such a group an admin. Other users hold no role: they are plain users. Cost: A/100 + A +
//! (role-holding groups) requests, instead of one or two calls per user.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use tokio::task::JoinSet;

use super::Warnings;
use crate::okta::model::RoleAssignment;
use crate::okta::OktaClient;

/// What the role calls established.
#[derive(Debug, Default)]
pub struct Admins {
    /// False when the role assignees could not be listed: nobody's admin status is known.
    known: bool,
    /// Users holding an active role directly or (as reported by their roles) through a group.
    admins: HashSet<Box<str>>,
    /// Assignees whose roles could not be read.
    unknown: HashSet<Box<str>>,
    /// Groups holding active roles → the roles' labels.
    group_privileges: BTreeMap<String, BTreeSet<String>>,
}

impl Admins {
    /// Nothing is known (roles enrichment disabled or not permitted).
    pub fn unknown() -> Admins {
        Admins::default()
    }

    pub async fn collect(client: &OktaClient, max_parallel: usize, warnings: &Warnings) -> Admins {
        let assignees = match client.list_role_assignees().collect_all().await {
            Ok(assignees) => assignees,
            Err(error) => {
                warnings.warn(
                    "roles",
                    format!("cannot list admin role assignees, admin detection is off for this cycle: {error}"),
                );
                return Admins::unknown();
            }
        };
        let mut admins = Admins {
            known: true,
            ..Admins::default()
        };
        let role_groups = admins.read_user_roles(client, assignees.into_iter().map(|a| a.id), max_parallel, warnings).await;
        admins.read_group_roles(client, role_groups, max_parallel, warnings).await;
        admins
    }

    /// Reads each assignee's roles; returns the groups that roles were inherited from.
    async fn read_user_roles(
        &mut self,
        client: &OktaClient,
        user_ids: impl Iterator<Item = String>,
        max_parallel: usize,
        warnings: &Warnings,
    ) -> BTreeSet<String> {
        let results = run_bounded(user_ids, max_parallel, |id| {
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
                    let active: Vec<&RoleAssignment> = roles.iter().filter(|r| r.is_active()).collect();
                    for role in &active {
                        if let Some(group) = role.assignee_group_id() {
                            role_groups.insert(group.to_string());
                        }
                    }
                    if !active.is_empty() {
                        self.admins.insert(user_id.into_boxed_str());
                    }
                }
                Err(error) => {
                    warnings.warn("roles", format!("cannot read the roles of user {user_id}: {error}"));
                    self.unknown.insert(user_id.into_boxed_str());
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
                    if !labels.is_empty() {
                        self.group_privileges.insert(group_id, labels);
                    }
                }
                Err(error) => warnings.warn("roles", format!("cannot read the roles of group {group_id}: {error}")),
            }
        }
    }

    /// Admin status of a user given the groups they belong to: `None` when unknown.
    pub fn is_admin<'a>(&self, user_id: &str, mut group_ids: impl Iterator<Item = &'a str>) -> Option<bool> {
        if !self.known {
            return None;
        }
        if self.admins.contains(user_id) || group_ids.any(|g| self.group_privileges.contains_key(g)) {
            return Some(true);
        }
        if self.unknown.contains(user_id) {
            return None;
        }
        Some(false)
    }

    /// Groups holding admin roles, with the roles' labels.
    pub fn group_privileges(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.group_privileges
    }

    pub fn is_known(&self) -> bool {
        self.known
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

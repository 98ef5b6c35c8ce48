//! Groups and their members, collected in bulk into a compact in-memory index.
//!
//! One listing of the groups and one paged listing of each group's members replace the
//! per-user `GET /users/{id}/groups` calls of other connectors. The index keeps group details
//! once and, per user, only small group indices, so memory grows with memberships, not with
//! user records.

use std::collections::HashMap;

use tokio::task::JoinSet;

use super::Warnings;
use crate::mapping::GroupInfo;
use crate::okta::model::Group;
use crate::okta::{OktaClient, OktaError};

/// Every group of the org and who belongs to which.
#[derive(Debug, Default)]
pub struct Directory {
    groups: Vec<GroupInfo>,
    index_of: HashMap<String, u32>,
    memberships: HashMap<Box<str>, Vec<u32>>,
    membership_count: u64,
    /// False when some group's members could not be read: then nobody's group list is known
    /// for certain, and events carry no `groups` rather than an incomplete list.
    complete: bool,
}

impl Directory {
    /// Lists every group, then every group's members (`max_parallel` groups at a time).
    /// Fails only when the groups themselves cannot be listed.
    pub async fn collect(
        client: &OktaClient,
        max_parallel: usize,
        warnings: &Warnings,
    ) -> Result<Directory, OktaError> {
        let mut directory = Directory {
            complete: true,
            ..Directory::default()
        };
        let mut pager = client.list_groups(None);
        while let Some(page) = pager.next_page().await? {
            warnings.add_skipped(page.skipped);
            for group in page.items {
                directory.add_group(group);
            }
        }
        directory.collect_members(client, max_parallel, warnings).await;
        Ok(directory)
    }

    fn add_group(&mut self, group: Group) {
        if self.index_of.contains_key(&group.id) {
            return;
        }
        let index = self.groups.len() as u32;
        self.index_of.insert(group.id.clone(), index);
        self.groups.push(GroupInfo {
            uid: group.id,
            name: group.profile.name,
            desc: group.profile.description,
            group_type: group.group_type.as_str().to_string(),
            privileges: Vec::new(),
        });
    }

    async fn collect_members(&mut self, client: &OktaClient, max_parallel: usize, warnings: &Warnings) {
        let mut tasks = JoinSet::new();
        let mut next = 0usize;
        let total = self.groups.len();
        loop {
            while tasks.len() < max_parallel.max(1) && next < total {
                let client = client.clone();
                let group_id = self.groups[next].uid.clone();
                let index = next as u32;
                tasks.spawn(async move { (index, member_ids(&client, &group_id).await) });
                next += 1;
            }
            let Some(joined) = tasks.join_next().await else { break };
            match joined {
                Ok((index, Ok((members, skipped)))) => {
                    warnings.add_skipped(skipped);
                    for member in members {
                        self.add_membership(member, index);
                    }
                }
                Ok((index, Err(error))) => {
                    self.complete = false;
                    let group = &self.groups[index as usize].uid;
                    warnings.warn(
                        "group_members",
                        format!("could not read the members of group {group}: {error}; group lists are omitted from this cycle's events"),
                    );
                }
                Err(join_error) => {
                    self.complete = false;
                    warnings.warn("group_members", format!("a member listing task failed: {join_error}"));
                }
            }
        }
    }

    fn add_membership(&mut self, user_id: String, group: u32) {
        let groups = self.memberships.entry(user_id.into_boxed_str()).or_default();
        if !groups.contains(&group) {
            groups.push(group);
            self.membership_count += 1;
        }
    }

    /// Adds a privilege (an admin role label) to a group.
    pub fn add_privilege(&mut self, group_id: &str, label: &str) {
        if let Some(&index) = self.index_of.get(group_id) {
            let privileges = &mut self.groups[index as usize].privileges;
            if !privileges.iter().any(|p| p == label) {
                privileges.push(label.to_string());
                privileges.sort();
            }
        }
    }

    /// The groups of a user: `None` when unknown (some listing failed).
    pub fn groups_of(&self, user_id: &str) -> Option<Vec<&GroupInfo>> {
        if !self.complete {
            return None;
        }
        let indices = self.memberships.get(user_id).map(Vec::as_slice).unwrap_or(&[]);
        Some(indices.iter().map(|&i| &self.groups[i as usize]).collect())
    }

    /// Group ids of a user (empty when unknown or none).
    pub fn group_ids_of(&self, user_id: &str) -> impl Iterator<Item = &str> {
        self.memberships
            .get(user_id)
            .into_iter()
            .flatten()
            .map(|&i| self.groups[i as usize].uid.as_str())
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    pub fn membership_count(&self) -> u64 {
        self.membership_count
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

/// All member ids of one group, page by page.
async fn member_ids(client: &OktaClient, group_id: &str) -> Result<(Vec<String>, usize), OktaError> {
    let mut pager = client.list_group_members(group_id);
    let mut ids = Vec::new();
    let mut skipped = 0;
    while let Some(page) = pager.next_page().await? {
        skipped += page.skipped;
        ids.extend(page.items.into_iter().map(|member| member.id));
    }
    Ok((ids, skipped))
}

//! Groups and their members, collected in bulk into a compact in-memory index.
//!
//! One listing of the groups and one paged listing of each group's members replace the
//! per-user `GET /users/{id}/groups` calls of other connectors. The index keeps group details
//! once and, per user, only small group indices, so memory grows with memberships, not with
//! user records.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use tokio::task::JoinSet;

use super::Warnings;
use crate::mapping::GroupInfo;
use crate::okta::model::Group;
use crate::okta::{OktaClient, OktaError};
use crate::state::{MembershipSource, StateError, StateStore, StoredGroup};

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
    /// Okta's clock when the group listing began: the next incremental cycle's cursor.
    listed_at: Option<Timestamp>,
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
            directory
                .listed_at
                .get_or_insert_with(|| client.server_time());
            warnings.add_skipped(page.skipped);
            for group in page.items {
                directory.add_group(group);
            }
        }
        directory
            .collect_members(client, max_parallel, warnings)
            .await;
        Ok(directory)
    }

    fn add_group(&mut self, group: Group) {
        self.upsert_group(group);
    }

    /// Rebuilds the directory last delivered, from the state store.
    pub fn from_state(state: &StateStore) -> Result<Directory, StateError> {
        let mut directory = Directory {
            complete: true,
            ..Directory::default()
        };
        for group in state.groups()? {
            let index = directory.groups.len() as u32;
            directory.index_of.insert(group.id.clone(), index);
            directory.groups.push(GroupInfo {
                uid: group.id,
                name: group.name,
                desc: group.description,
                group_type: group.group_type,
                privileges: group.privileges,
            });
        }
        state.for_each_membership(|group, user| {
            if let Some(&index) = directory.index_of.get(group) {
                directory.add_membership(user.to_string(), index);
            }
        })?;
        Ok(directory)
    }

    /// Adds a group or updates its profile; true when it is new or its name, description or
    /// type changed (then every member's event changes).
    pub fn upsert_group(&mut self, group: Group) -> bool {
        let info = GroupInfo {
            uid: group.id,
            name: group.profile.name,
            desc: group.profile.description,
            group_type: group.group_type.as_str().to_string(),
            privileges: Vec::new(),
        };
        match self.index_of.get(&info.uid) {
            Some(&index) => {
                let known = &mut self.groups[index as usize];
                let changed = known.name != info.name
                    || known.desc != info.desc
                    || known.group_type != info.group_type;
                known.name = info.name;
                known.desc = info.desc;
                known.group_type = info.group_type;
                changed
            }
            None => {
                self.index_of
                    .insert(info.uid.clone(), self.groups.len() as u32);
                self.groups.push(info);
                true
            }
        }
    }

    /// Replaces a group's member list; returns the users who joined and who left.
    pub fn replace_members(
        &mut self,
        group_id: &str,
        members: Vec<String>,
    ) -> (Vec<String>, Vec<String>) {
        let Some(&index) = self.index_of.get(group_id) else {
            return (Vec::new(), Vec::new());
        };
        let old: HashSet<String> = self.members_of(group_id).into_iter().collect();
        let new: HashSet<String> = members.into_iter().collect();
        let joined: Vec<String> = new.difference(&old).cloned().collect();
        let left: Vec<String> = old.difference(&new).cloned().collect();
        for user in &left {
            if let Some(groups) = self.memberships.get_mut(user.as_str()) {
                groups.retain(|&g| g != index);
                self.membership_count -= 1;
                if groups.is_empty() {
                    self.memberships.remove(user.as_str());
                }
            }
        }
        for user in &joined {
            self.add_membership(user.clone(), index);
        }
        (joined, left)
    }

    /// Member ids of a group (a scan: used for the few groups whose profile changed).
    pub fn members_of(&self, group_id: &str) -> Vec<String> {
        let Some(&index) = self.index_of.get(group_id) else {
            return Vec::new();
        };
        self.memberships
            .iter()
            .filter(|(_, groups)| groups.contains(&index))
            .map(|(user, _)| user.to_string())
            .collect()
    }

    /// Replaces a group's privileges; true when they changed.
    pub fn set_privileges(&mut self, group_id: &str, mut labels: Vec<String>) -> bool {
        labels.sort();
        labels.dedup();
        match self.index_of.get(group_id) {
            Some(&index) => {
                let privileges = &mut self.groups[index as usize].privileges;
                let changed = *privileges != labels;
                *privileges = labels;
                changed
            }
            None => false,
        }
    }

    /// Groups holding admin roles (non-empty privileges).
    pub fn privileged_groups(&self) -> impl Iterator<Item = &GroupInfo> {
        self.groups.iter().filter(|g| !g.privileges.is_empty())
    }

    /// Forgets a user (hard delete).
    pub fn remove_user(&mut self, user_id: &str) {
        if let Some(groups) = self.memberships.remove(user_id) {
            self.membership_count -= groups.len() as u64;
        }
    }

    /// Every group, as stored.
    pub fn stored_groups(&self) -> Vec<StoredGroup> {
        self.groups
            .iter()
            .map(|g| StoredGroup {
                id: g.uid.clone(),
                name: g.name.clone(),
                description: g.desc.clone(),
                group_type: g.group_type.clone(),
                privileges: g.privileges.clone(),
            })
            .collect()
    }

    async fn collect_members(
        &mut self,
        client: &OktaClient,
        max_parallel: usize,
        warnings: &Warnings,
    ) {
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
            let Some(joined) = tasks.join_next().await else {
                break;
            };
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
                    warnings.warn(
                        "group_members",
                        format!("a member listing task failed: {join_error}"),
                    );
                }
            }
        }
    }

    fn add_membership(&mut self, user_id: String, group: u32) {
        let groups = self
            .memberships
            .entry(user_id.into_boxed_str())
            .or_default();
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
        let indices = self
            .memberships
            .get(user_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut groups: Vec<&GroupInfo> =
            indices.iter().map(|&i| &self.groups[i as usize]).collect();
        // A stable order, whatever order the memberships were read in: the same user gives
        // the same event (and `metadata.uid`) from a full or an incremental cycle.
        groups.sort_unstable_by(|a, b| a.uid.cmp(&b.uid));
        Some(groups)
    }

    /// The groups of a user as far as they were read (empty when none).
    pub fn known_groups_of(&self, user_id: &str) -> impl Iterator<Item = &GroupInfo> {
        self.memberships
            .get(user_id)
            .into_iter()
            .flatten()
            .map(|&i| &self.groups[i as usize])
    }

    pub fn listed_at(&self) -> Option<Timestamp> {
        self.listed_at
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

impl MembershipSource for Directory {
    fn for_each_membership(&self, each: &mut dyn FnMut(&str, &str)) {
        for (user, groups) in &self.memberships {
            for &g in groups {
                each(&self.groups[g as usize].uid, user);
            }
        }
    }
}

/// All member ids of one group, page by page.
pub async fn member_ids(
    client: &OktaClient,
    group_id: &str,
) -> Result<(Vec<String>, usize), OktaError> {
    let mut pager = client.list_group_members(group_id);
    let mut ids = Vec::new();
    let mut skipped = 0;
    while let Some(page) = pager.next_page().await? {
        skipped += page.skipped;
        ids.extend(page.items.into_iter().map(|member| member.id));
    }
    Ok((ids, skipped))
}

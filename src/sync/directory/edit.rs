//! What an incremental cycle changes in the directory (groups deleted, member lists and users'
//! groups replaced, users forgotten, roles forgotten), and the journal of it the state commit
//! writes; the snapshot as the state stores it.

use std::collections::BTreeSet;

use super::roles::GroupRoles;
use super::{Directory, GroupEntry};
use crate::okta::model::Group;
use crate::state::{MembershipSource, Snapshot, StoredGroup};

impl Directory {
    /// Roles are not read this cycle (role enrichment off): nothing is claimed from what an
    /// earlier cycle read, exactly as a full sync without roles would (a group the stats
    /// show without roles holds none; any other is unknown).
    pub fn forget_roles(&mut self) {
        for (index, group) in self.groups.iter_mut().enumerate() {
            let roles = match group.admin_stat {
                Some(false) => GroupRoles::None,
                _ => GroupRoles::Unknown,
            };
            if group.roles != roles {
                group.roles = roles;
                group.info.privileges.clear();
                self.journal.groups.insert(index as u32);
            }
        }
    }

    /// Forgets a group deleted in Okta; returns its former members (their events change).
    pub fn delete_group(&mut self, group_id: &str) -> Vec<String> {
        let Some(&index) = self.index_of.get(group_id) else {
            return Vec::new();
        };
        if self.groups[index as usize].deleted {
            return Vec::new();
        }
        let members = self.members.members_of(index);
        for member in &members {
            let groups: Vec<u32> = self
                .members
                .groups_of(member)
                .unwrap_or(&[])
                .iter()
                .copied()
                .filter(|&g| g != index)
                .collect();
            self.members.set_groups(member, groups);
            self.journal.users.insert(member.clone());
        }
        let entry = &mut self.groups[index as usize];
        entry.deleted = true;
        entry.roles = GroupRoles::None;
        entry.info.privileges.clear();
        self.journal.groups.insert(index);
        members
    }

    /// Replaces a group's member list; returns the users who joined and who left.
    pub fn replace_members(&mut self, group_id: &str, members: Vec<String>) -> Vec<String> {
        let Some(&index) = self.index_of.get(group_id) else {
            return Vec::new();
        };
        let old: BTreeSet<String> = self.members.members_of(index).into_iter().collect();
        let new: BTreeSet<String> = members.into_iter().collect();
        let moved: Vec<String> = old.symmetric_difference(&new).cloned().collect();
        for user in &moved {
            let mut groups: Vec<u32> = self.members.groups_of(user).unwrap_or(&[]).to_vec();
            if new.contains(user) {
                groups.push(index);
            } else {
                groups.retain(|&g| g != index);
            }
            self.members.set_groups(user, groups);
            self.journal.users.insert(user.clone());
        }
        moved
    }

    /// Replaces a user's groups with `groups` (as `GET /users/{id}/groups` lists them, new
    /// groups included); true when they changed.
    pub fn set_user_groups(&mut self, user: &str, groups: Vec<Group>) -> bool {
        let mut indices = Vec::with_capacity(groups.len());
        for group in groups {
            let id = group.id.clone();
            if !self.index_of.contains_key(&id) || self.groups[self.index_of[&id] as usize].deleted
            {
                self.upsert_group(group);
            }
            indices.push(self.index_of[&id]);
        }
        indices.sort_unstable();
        indices.dedup();
        if self.members.groups_of(user) == Some(&indices[..]) {
            return false;
        }
        self.members.set_groups(user, indices);
        self.journal.users.insert(user.to_string());
        true
    }

    /// Forgets a user (hard delete).
    pub fn remove_user(&mut self, user: &str) {
        if self.knows_user(user) {
            self.members.set_groups(user, Vec::new());
        }
        self.journal.users.remove(user);
    }

    /// What an incremental cycle changed, as the state stores it: groups added or updated,
    /// groups deleted, and each changed user's complete group list.
    pub fn changes(&self) -> Snapshot<'static> {
        let (deleted, changed): (Vec<&GroupEntry>, Vec<&GroupEntry>) = self
            .journal
            .groups
            .iter()
            .map(|&i| &self.groups[i as usize])
            .partition(|g| g.deleted);
        let users = self
            .journal
            .users
            .iter()
            .map(|user| {
                let groups = self
                    .live_groups_of(user)
                    .into_iter()
                    .flatten()
                    .map(|g| g.uid.clone())
                    .collect();
                (user.clone(), groups)
            })
            .collect();
        Snapshot::Update {
            groups: changed.into_iter().map(stored).collect(),
            deleted_groups: deleted.into_iter().map(|g| g.info.uid.clone()).collect(),
            user_groups: users,
        }
    }
}

pub(super) fn stored(g: &GroupEntry) -> StoredGroup {
    StoredGroup {
        id: g.info.uid.clone(),
        name: g.info.name.clone(),
        description: g.info.desc.clone(),
        group_type: g.info.group_type.clone(),
        privileges: match &g.roles {
            GroupRoles::None => Some(Vec::new()),
            GroupRoles::Held(labels) => Some(labels.clone()),
            GroupRoles::Unknown => None,
        },
        admin_stat: g.admin_stat,
    }
}

impl MembershipSource for Directory {
    /// In (group id, user id) order: the state's primary key.
    fn for_each_membership(&self, each: &mut dyn FnMut(&str, &str)) {
        let mut by_uid: Vec<u32> = (0..self.groups.len() as u32).collect();
        by_uid.sort_unstable_by(|&a, &b| {
            self.groups[a as usize]
                .info
                .uid
                .cmp(&self.groups[b as usize].info.uid)
        });
        let mut rank = vec![0u32; self.groups.len()];
        for (r, &g) in by_uid.iter().enumerate() {
            rank[g as usize] = r as u32;
        }
        self.members.for_each_ordered(&rank, |user, group| {
            let g = &self.groups[group as usize];
            if !g.deleted {
                each(&g.info.uid, user);
            }
        });
    }
}

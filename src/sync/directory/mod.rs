//! The directory: every group (profile, roles) and who belongs to which, collected in bulk.
//!
//! One listing of the groups (`expand=stats`) and one paged listing of each group's members
//! replace per-user `GET /users/{id}/groups` calls; admin roles are read per assignee and per
//! role-holding group ([`roles`]). Memberships live in a compact index ([`index`]), so memory
//! grows with memberships, not with user records. Incremental cycles start from the stored
//! snapshot and apply what changed ([`update`]), journaling it for the state commit.

mod edit;
pub mod index;
mod members;
pub mod roles;
pub mod update;

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;

use super::cycle::Warnings;
use crate::mapping::GroupInfo;
use crate::okta::model::Group;
use crate::okta::{OktaClient, OktaError};
use crate::progress::{Phase, Progress};
use crate::state::{StateError, StateStore, StoredGroup};
use edit::stored;
use index::MembershipIndex;
pub use members::member_ids;
pub use roles::{admin_status, Admins, Direct, GroupRoles};

/// One group as the events show it, with what is known of its roles.
#[derive(Debug, Clone)]
struct GroupEntry {
    info: GroupInfo,
    roles: GroupRoles,
    /// `hasAdminPrivlege` as last listed; `None` without stats.
    admin_stat: Option<bool>,
    /// Gone from Okta (its index stays valid; nobody belongs to it).
    deleted: bool,
}

/// What recording a group's roles changed.
#[derive(Debug)]
pub enum RolesChange {
    Same,
    Changed,
    /// The group is gone; these were its members.
    Deleted(Vec<String>),
}

/// What an incremental cycle changed, for the state commit.
#[derive(Debug, Default)]
struct Journal {
    groups: BTreeSet<u32>,
    users: BTreeSet<String>,
}

/// Every group of the org and who belongs to which.
#[derive(Debug, Default)]
pub struct Directory {
    groups: Vec<GroupEntry>,
    index_of: HashMap<String, u32>,
    members: MembershipIndex,
    /// False when some group's members could not be read: then nobody's group list is known
    /// for certain, and events carry no `groups` rather than an incomplete list.
    complete: bool,
    /// Okta's clock when the group listing began: the next incremental cycle's cursor.
    listed_at: Option<Timestamp>,
    journal: Journal,
}

impl Directory {
    /// Full read: every group with its stats, every group's members (`max_parallel` groups at
    /// a time) and, with `roles`, the admin roles. Fails only when the groups themselves
    /// cannot be listed.
    /// `totals`: the phases whose total is the number of users.
    pub async fn collect(
        client: &OktaClient,
        max_parallel: usize,
        roles: bool,
        warnings: &Warnings,
        progress: &Progress,
        totals: &[Phase],
    ) -> Result<(Directory, Admins), OktaError> {
        let mut directory = Directory {
            complete: true,
            ..Directory::default()
        };
        progress.begin(Phase::Groups);
        let mut pager = client.list_groups(None);
        while let Some(page) = pager.next_page().await? {
            directory
                .listed_at
                .get_or_insert_with(|| client.server_time());
            warnings.add_skipped(page.skipped);
            progress.advance(Phase::Groups, page.items.len() as u64);
            for group in page.items {
                if group.group_type == crate::okta::model::GroupType::BuiltIn {
                    // Everyone's member count is the user total, at no extra request: users to
                    // list, MFA statuses to settle, events to deliver.
                    if let Some(users) = group.users_count() {
                        for phase in totals {
                            progress.set_total(*phase, users);
                        }
                    }
                }
                directory.upsert_group(group);
            }
        }
        progress.finish(Phase::Groups);
        let (members, admins) = tokio::join!(
            directory.collect_members(client, max_parallel, warnings, progress),
            async {
                if roles {
                    let stats = directory.groups_holding_roles();
                    collect_roles(client, stats, max_parallel, warnings, progress).await
                } else {
                    (Admins::unknown(), Vec::new())
                }
            }
        );
        let (admins, group_roles) = admins;
        for (group_id, read) in group_roles {
            directory.apply_roles_read(&group_id, read);
        }
        directory.absorb_members(members);
        progress.finish(Phase::Roles);
        Ok((directory, admins))
    }

    /// Rebuilds the directory last committed, from the state store.
    pub fn from_state(state: &StateStore) -> Result<Directory, StateError> {
        let mut directory = Directory {
            complete: true,
            ..Directory::default()
        };
        for group in state.groups()? {
            let roles = match group.privileges {
                None => GroupRoles::Unknown,
                Some(labels) => GroupRoles::from_labels(labels),
            };
            let index = directory.groups.len() as u32;
            directory.index_of.insert(group.id.clone(), index);
            directory.groups.push(GroupEntry {
                info: GroupInfo {
                    uid: group.id,
                    name: group.name,
                    desc: group.description,
                    group_type: group.group_type,
                    privileges: roles.labels().to_vec(),
                },
                roles,
                admin_stat: group.admin_stat,
                deleted: false,
            });
        }
        let index_of = &directory.index_of;
        let members = &mut directory.members;
        state.for_each_membership(|group, user| {
            if let Some(&index) = index_of.get(group) {
                members.add(user, index);
            }
        })?;
        directory.members.seal();
        Ok(directory)
    }

    /// Adds a group or updates its profile and stats; true when it is new or its name,
    /// description or type changed (then every member's event changes).
    pub fn upsert_group(&mut self, group: Group) -> bool {
        let admin_stat = group.has_admin_privilege();
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
                let changed = known.info.name != info.name
                    || known.info.desc != info.desc
                    || known.info.group_type != info.group_type
                    || known.deleted;
                if changed || (admin_stat.is_some() && known.admin_stat != admin_stat) {
                    self.journal.groups.insert(index);
                }
                known.info.name = info.name;
                known.info.desc = info.desc;
                known.info.group_type = info.group_type;
                known.deleted = false;
                if admin_stat.is_some() {
                    known.admin_stat = admin_stat;
                }
                changed
            }
            None => {
                let index = self.groups.len() as u32;
                self.index_of.insert(info.uid.clone(), index);
                // Until its roles are read: none when the stats say so, else unknown.
                let roles = match admin_stat {
                    Some(false) => GroupRoles::None,
                    _ => GroupRoles::Unknown,
                };
                self.groups.push(GroupEntry {
                    info,
                    roles,
                    admin_stat,
                    deleted: false,
                });
                self.journal.groups.insert(index);
                true
            }
        }
    }

    /// Groups whose roles must be read: flagged by `hasAdminPrivlege`, or listed without
    /// stats. Without stats nothing tells a group holds no role, and guessing "none" could
    /// turn its members into false non-admins; reading costs one request per such group,
    /// which Okta's answers normally make zero.
    pub fn groups_holding_roles(&self) -> BTreeSet<String> {
        self.groups
            .iter()
            .filter(|g| !g.deleted && g.admin_stat != Some(false))
            .map(|g| g.info.uid.clone())
            .collect()
    }

    /// Records the result of reading a group's roles.
    pub fn apply_roles_read(&mut self, group_id: &str, read: roles::GroupRolesRead) -> RolesChange {
        match read {
            roles::GroupRolesRead::Read(roles) => self.set_roles(group_id, roles),
            roles::GroupRolesRead::Gone => RolesChange::Deleted(self.delete_group(group_id)),
            // Keep what an earlier cycle read; a group never read stays unknown.
            roles::GroupRolesRead::Failed => RolesChange::Same,
        }
    }

    /// The users whose events a roles change affects (members are listed only when needed:
    /// a full scan of the index).
    pub fn affected_by(&self, group_id: &str, change: RolesChange) -> Vec<String> {
        match change {
            RolesChange::Same => Vec::new(),
            RolesChange::Changed => self.members_of(group_id),
            RolesChange::Deleted(members) => members,
        }
    }

    fn set_roles(&mut self, group_id: &str, roles: GroupRoles) -> RolesChange {
        let Some(&index) = self.index_of.get(group_id) else {
            return RolesChange::Same;
        };
        let entry = &mut self.groups[index as usize];
        if entry.roles == roles {
            return RolesChange::Same;
        }
        entry.info.privileges = roles.labels().to_vec();
        entry.roles = roles;
        self.journal.groups.insert(index);
        RolesChange::Changed
    }

    /// Whether the snapshot has ever seen `user` in a group.
    pub fn knows_user(&self, user: &str) -> bool {
        self.members.groups_of(user).is_some()
    }

    /// Member ids of a group.
    pub fn members_of(&self, group_id: &str) -> Vec<String> {
        match self.index_of.get(group_id) {
            Some(&index) => self.members.members_of(index),
            None => Vec::new(),
        }
    }

    /// The groups of a user, in a stable order; `None` when unknown: some listing failed, or
    /// the user is in no member list read (every Okta user is in `Everyone`, so a user never
    /// seen was created after that list was read, or their groups could not be read).
    pub fn groups_of(&self, user: &str) -> Option<Vec<&GroupInfo>> {
        if !self.complete {
            return None;
        }
        let mut groups: Vec<&GroupInfo> = self.live_groups_of(user)?.collect();
        // The same user gives the same event (and `metadata.uid`) whatever order the
        // memberships were read in, from a full or an incremental cycle.
        groups.sort_unstable_by(|a, b| a.uid.cmp(&b.uid));
        Some(groups)
    }

    /// The groups a user is known to be a member of that are not deleted, in no set order;
    /// `None` for a user the index has never seen.
    fn live_entries_of<'a>(
        &'a self,
        user: &str,
    ) -> Option<impl Iterator<Item = &'a GroupEntry> + Clone> {
        let indices = self.members.groups_of(user)?;
        Some(
            indices
                .iter()
                .map(|&i| &self.groups[i as usize])
                .filter(|g| !g.deleted),
        )
    }

    fn live_groups_of<'a>(&'a self, user: &str) -> Option<impl Iterator<Item = &'a GroupInfo>> {
        Some(self.live_entries_of(user)?.map(|g| &g.info))
    }

    /// Admin status of a user (see [`admin_status`]).
    pub fn is_admin(&self, admins: &Admins, user: &str) -> Option<bool> {
        let Some(entries) = self.live_entries_of(user) else {
            // Groups unknown: only a direct role can tell.
            return admin_status(admins.direct(user), None::<std::iter::Empty<&GroupRoles>>);
        };
        let roles = entries.map(|g| &g.roles);
        // An incomplete directory proves admin rights, never their absence.
        if roles.clone().any(GroupRoles::grants_admin) {
            return Some(true);
        }
        admin_status(admins.direct(user), self.complete.then_some(roles))
    }

    /// Every group, as stored (deleted ones left out).
    pub fn stored_groups(&self) -> Vec<StoredGroup> {
        self.groups
            .iter()
            .filter(|g| !g.deleted)
            .map(stored)
            .collect()
    }

    pub fn listed_at(&self) -> Option<Timestamp> {
        self.listed_at
    }

    pub fn group_count(&self) -> usize {
        self.groups.iter().filter(|g| !g.deleted).count()
    }

    /// Ids of the groups that exist (for telling deleted ones from a complete listing).
    pub fn group_ids(&self) -> Vec<String> {
        self.groups
            .iter()
            .filter(|g| !g.deleted)
            .map(|g| g.info.uid.clone())
            .collect()
    }

    /// The stored `hasAdminPrivlege` and roles of a group.
    pub fn group_roles(&self, group_id: &str) -> Option<(Option<bool>, &GroupRoles)> {
        let g = &self.groups[*self.index_of.get(group_id)? as usize];
        (!g.deleted).then_some((g.admin_stat, &g.roles))
    }

    pub fn membership_count(&self) -> u64 {
        self.members.count()
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

/// Full read of roles: assignees and their roles, then the roles of every group flagged by
/// the stats or named by an inherited role.
async fn collect_roles(
    client: &OktaClient,
    flagged: BTreeSet<String>,
    max_parallel: usize,
    warnings: &Warnings,
    progress: &Progress,
) -> (Admins, Vec<(String, roles::GroupRolesRead)>) {
    let ((admins, named), mut read) = tokio::join!(
        Admins::read_all(client, max_parallel, warnings, progress),
        roles::read_group_roles(client, flagged.clone(), max_parallel, warnings, progress)
    );
    let more: BTreeSet<String> = named.difference(&flagged).cloned().collect();
    read.extend(roles::read_group_roles(client, more, max_parallel, warnings, progress).await);
    (admins, read)
}

//! The mutations Okta would make, each setting the timestamps Okta sets and recording the
//! System Log events Okta records (see `syslog` for the event types).
//!
//! Timestamps come from `mutation_time()` (the fake's virtual clock when served, in whole
//! seconds). What moves: profile and status changes move the user's `lastUpdated`; membership
//! changes move the group's `lastMembershipUpdated` and not the user's `lastUpdated`; a group's
//! profile moves its `lastUpdated`; role and factor changes move only the assignment's or the
//! factor's own `lastUpdated`. Unknown ids panic: these are test helpers.

use serde_json::Value;

use super::generate::make_factor;
use super::*;
use crate::okta::syslog::Record;

impl Org {
    fn user_mut(&mut self, id: &str) -> &mut FakeUser {
        let i = *self
            .user_idx
            .get(id)
            .unwrap_or_else(|| panic!("fake okta: no user {id}"));
        &mut self.users[i]
    }

    fn group_pos(&self, id: &str) -> usize {
        *self
            .group_idx
            .get(id)
            .unwrap_or_else(|| panic!("fake okta: no group {id}"))
    }

    /// Creates a user (added to Everyone, whose `lastMembershipUpdated` moves). `status`
    /// ACTIVE sets `activated`/`statusChanged`; STAGED leaves them null. Returns the new id.
    pub fn create_user(
        &mut self,
        login: &str,
        first_name: &str,
        last_name: &str,
        status: &str,
    ) -> String {
        let now = self.mutation_time();
        let id = {
            let mut rng = self.rng.clone();
            let id = self.unique_user_id(&mut rng);
            self.rng = rng;
            id
        };
        let mut p = ObjWriter::new();
        p.str("firstName", first_name);
        p.str("lastName", last_name);
        p.null("mobilePhone");
        p.null("secondEmail");
        p.str("login", login);
        p.str("email", login);
        let active = status != "STAGED";
        let mut creds = String::from(r#"{"password":{},"emails":[{"value":"#);
        push_json_str(&mut creds, login);
        creds.push_str(
            r#","status":"VERIFIED","type":"PRIMARY"}],"provider":{"type":"OKTA","name":"OKTA"}}"#,
        );
        let user = FakeUser {
            id: id.clone(),
            status: status.to_string(),
            created: now,
            activated: active.then_some(now),
            status_changed: active.then_some(now),
            last_login: None,
            last_updated: now,
            password_changed: active.then_some(now),
            profile_json: p.finish(),
            credentials_json: Some(creds),
            roles: Vec::new(),
            factors: Vec::new(),
            seq: 0,
            groups: Vec::new(),
        };
        self.insert_user(user);
        let u = (self.users.len() - 1) as u32;
        if let Some(g) = self
            .groups
            .iter()
            .position(|g| g.group_type == GroupType::BuiltIn)
        {
            self.groups[g].members.push(u);
            self.groups[g].last_membership_updated = now;
            self.users[u as usize].groups.push(g as u32);
        }
        let target = vec![self.user_entity(u as usize)];
        self.record(Record::new("user.lifecycle.create", target.clone()));
        if status == "ACTIVE" {
            self.record(Record::new("user.lifecycle.activate", target));
        }
        id
    }

    /// Sets (or with `Value::Null`, nulls) one profile attribute; bumps `lastUpdated`.
    pub fn update_user_profile(&mut self, id: &str, field: &str, value: impl Into<Value>) {
        let now = self.mutation_time();
        let user = self.user_mut(id);
        let mut profile = user.profile();
        profile.insert(field.to_string(), value.into());
        user.profile_json = Value::Object(profile).to_string();
        user.last_updated = now;
        let target = vec![self.user_entity_by_id(id)];
        self.record(
            Record::new("user.account.update_profile", target).debug("changedAttributes", field),
        );
    }

    /// Lifecycle change: bumps `lastUpdated` and `statusChanged` (and sets `activated` the first
    /// time a user becomes ACTIVE).
    pub fn set_user_status(&mut self, id: &str, status: &str) {
        let now = self.mutation_time();
        let user = self.user_mut(id);
        if user.status == status {
            return;
        }
        let event_type = status_event(&user.status, status);
        user.status = status.to_string();
        user.status_changed = Some(now);
        user.last_updated = now;
        if status == "ACTIVE" && user.activated.is_none() {
            user.activated = Some(now);
        }
        let target = vec![self.user_entity_by_id(id)];
        self.record(Record::new(event_type, target));
    }

    /// Hard delete: the user disappears from everything; the groups it was in get a new
    /// `lastMembershipUpdated`.
    pub fn delete_user(&mut self, id: &str) {
        let now = self.mutation_time();
        let target = vec![self.user_entity_by_id(id)];
        let Some(gone) = self.user_idx.remove(id) else {
            panic!("fake okta: no user {id}");
        };
        let gone32 = gone as u32;
        let user = self.users.remove(gone);
        for &g in &user.groups {
            self.groups[g as usize].last_membership_updated = now;
        }
        for group in &mut self.groups {
            group.members.retain(|&u| u != gone32);
            for u in &mut group.members {
                if *u > gone32 {
                    *u -= 1;
                }
            }
        }
        for (i, u) in self.users.iter().enumerate().skip(gone) {
            self.user_idx.insert(u.id.clone(), i);
        }
        self.record(Record::new(
            "user.lifecycle.delete.initiated",
            target.clone(),
        ));
        self.record(Record::new("user.lifecycle.delete.completed", target));
    }

    /// Adds a member: bumps the group's `lastMembershipUpdated` only (not the user's
    /// `lastUpdated`, as in Okta). Returns false (and changes nothing) if already a member.
    pub fn add_member(&mut self, group_id: &str, user_id: &str) -> bool {
        let g = self.group_pos(group_id);
        let u = self
            .user_index(user_id)
            .unwrap_or_else(|| panic!("fake okta: no user {user_id}")) as u32;
        let Err(at) = self.groups[g].members.binary_search(&u) else {
            return false;
        };
        let now = self.mutation_time();
        self.groups[g].members.insert(at, u);
        self.groups[g].last_membership_updated = now;
        let groups = &mut self.users[u as usize].groups;
        if let Err(at) = groups.binary_search(&(g as u32)) {
            groups.insert(at, g as u32);
        }
        let targets = vec![self.user_entity(u as usize), self.group_entity(g)];
        self.record(Record::new("group.user_membership.add", targets));
        true
    }

    /// Removes a member: bumps the group's `lastMembershipUpdated` only. Returns false if the
    /// user was not a member.
    pub fn remove_member(&mut self, group_id: &str, user_id: &str) -> bool {
        let g = self.group_pos(group_id);
        let u = self
            .user_index(user_id)
            .unwrap_or_else(|| panic!("fake okta: no user {user_id}")) as u32;
        let Ok(at) = self.groups[g].members.binary_search(&u) else {
            return false;
        };
        let now = self.mutation_time();
        self.groups[g].members.remove(at);
        self.groups[g].last_membership_updated = now;
        self.users[u as usize].groups.retain(|&x| x != g as u32);
        let targets = vec![self.user_entity(u as usize), self.group_entity(g)];
        self.record(Record::new("group.user_membership.remove", targets));
        true
    }

    /// Renames a group: bumps its `lastUpdated`.
    pub fn rename_group(&mut self, group_id: &str, name: &str) {
        let now = self.mutation_time();
        let g = self.group_pos(group_id);
        self.groups[g].name = name.to_string();
        self.groups[g].last_updated = now;
        let target = vec![self.group_entity(g)];
        self.record(Record::new("group.profile.update", target));
    }

    /// Creates an OKTA_GROUP without members; returns its id.
    pub fn create_group(&mut self, name: &str, description: Option<&str>) -> String {
        let now = self.mutation_time();
        let id = self.new_id("00g");
        self.group_idx.insert(id.clone(), self.groups.len());
        self.groups.push(FakeGroup {
            id: id.clone(),
            group_type: GroupType::Okta,
            name: name.to_string(),
            description: description.map(str::to_string),
            created: now,
            last_updated: now,
            last_membership_updated: now,
            roles: Vec::new(),
            seq: self.next_seq,
            members: Vec::new(),
        });
        self.next_seq += 1;
        let target = vec![self.group_entity(self.groups.len() - 1)];
        self.record(Record::new("group.lifecycle.create", target));
        id
    }

    /// Deletes an OKTA_GROUP: its members lose it, its role assignments vanish with it, and
    /// every request about it answers 404 `E0000007`. Members' `lastUpdated` does not move.
    /// Okta refuses to delete the Everyone group and app-sourced groups: so does this (panic).
    pub fn delete_group(&mut self, group_id: &str) {
        let g = self.group_pos(group_id);
        assert!(
            self.groups[g].group_type == GroupType::Okta,
            "fake okta: only OKTA_GROUPs can be deleted ({group_id})"
        );
        self.mutation_time();
        let target = vec![self.group_entity(g)];
        self.group_idx.remove(group_id);
        let gone = self.groups.remove(g);
        let g32 = g as u32;
        for &u in &gone.members {
            self.users[u as usize].groups.retain(|&x| x != g32);
        }
        for user in &mut self.users {
            for x in &mut user.groups {
                if *x > g32 {
                    *x -= 1;
                }
            }
        }
        for (i, group) in self.groups.iter().enumerate().skip(g) {
            self.group_idx.insert(group.id.clone(), i);
        }
        self.record(Record::new("group.lifecycle.delete", target));
    }

    fn new_role(&mut self, role_type: &str) -> FakeRole {
        let now = self.mutation_time();
        let mut rng = self.rng.clone();
        let role = Org::gen_role(&mut rng, role_type, now.as_second());
        self.rng = rng;
        role
    }

    /// Assigns a role to a user (`"CUSTOM"` gives the custom role). Role assignments do not
    /// touch the user's `lastUpdated`. Returns the assignment id.
    pub fn grant_user_role(&mut self, user_id: &str, role_type: &str) -> String {
        let role = self.new_role(role_type);
        let (id, label) = (role.id.clone(), role.label.clone());
        self.user_mut(user_id).roles.push(role);
        self.record_user_privilege(user_id, "ACTIVE", &label);
        id
    }

    /// Removes a user's direct role(s) whose type or assignment id is `role`; returns them.
    pub fn revoke_user_role(&mut self, user_id: &str, role: &str) -> Vec<FakeRole> {
        self.mutation_time();
        let taken = take_roles(&mut self.user_mut(user_id).roles, role);
        for r in &taken {
            self.record_user_privilege(user_id, "INACTIVE", &r.label);
        }
        taken
    }

    fn record_user_privilege(&mut self, user_id: &str, status: &str, label: &str) {
        let (event_type, key) = match status {
            "ACTIVE" => ("user.account.privilege.grant", "privilegeGranted"),
            _ => ("user.account.privilege.revoke", "privilegeRevoked"),
        };
        let target = vec![self.user_entity_by_id(user_id)];
        self.record(Record::new(event_type, target).debug(key, label));
    }

    fn record_group_privilege(&mut self, g: usize, status: &str, label: &str) {
        let (event_type, key) = match status {
            "ACTIVE" => ("group.privilege.grant", "privilegeGranted"),
            _ => ("group.privilege.revoke", "privilegeRevoked"),
        };
        let target = vec![self.group_entity(g)];
        self.record(Record::new(event_type, target).debug(key, label));
    }

    /// Assigns a role to a group: its members hold it through the group. Returns the
    /// assignment id.
    pub fn grant_group_role(&mut self, group_id: &str, role_type: &str) -> String {
        let role = self.new_role(role_type);
        let (id, label) = (role.id.clone(), role.label.clone());
        let g = self.group_pos(group_id);
        self.groups[g].roles.push(role);
        self.record_group_privilege(g, "ACTIVE", &label);
        id
    }

    /// Removes a group's role(s) whose type or assignment id is `role`; returns them.
    pub fn revoke_group_role(&mut self, group_id: &str, role: &str) -> Vec<FakeRole> {
        self.mutation_time();
        let g = self.group_pos(group_id);
        let taken = take_roles(&mut self.groups[g].roles, role);
        for r in &taken {
            self.record_group_privilege(g, "INACTIVE", &r.label);
        }
        taken
    }

    /// Sets the status (`ACTIVE` or `INACTIVE`) of a user's direct role(s) whose type or
    /// assignment id is `role`: the assignment's `lastUpdated` moves, the user's does not.
    /// Returns how many assignments changed.
    pub fn set_user_role_status(&mut self, user_id: &str, role: &str, status: &str) -> usize {
        let now = self.mutation_time();
        let changed = set_roles_status(&mut self.user_mut(user_id).roles, role, status, now);
        for label in &changed {
            self.record_user_privilege(user_id, status, label);
        }
        changed.len()
    }

    /// Sets the status of a group's role(s) whose type or assignment id is `role` (see
    /// [`Org::set_user_role_status`]).
    pub fn set_group_role_status(&mut self, group_id: &str, role: &str, status: &str) -> usize {
        let now = self.mutation_time();
        let g = self.group_pos(group_id);
        let changed = set_roles_status(&mut self.groups[g].roles, role, status, now);
        for label in &changed {
            self.record_group_privilege(g, status, label);
        }
        changed.len()
    }

    /// Enrolls a factor (`factor_type` like `push`, `sms`, `token:software:totp`); returns its id.
    pub fn add_factor(&mut self, user_id: &str, factor_type: &str, status: &str) -> String {
        let now = self.mutation_time();
        let mut rng = self.rng.clone();
        let mut factor = make_factor(&mut rng, factor_type, now.as_second());
        self.rng = rng;
        factor.status = status.to_string();
        factor.created = now;
        factor.last_updated = now;
        let id = factor.id.clone();
        self.user_mut(user_id).factors.push(factor);
        let event_type = match status {
            "ACTIVE" => "user.mfa.factor.activate",
            _ => "user.mfa.factor.update",
        };
        self.record_factor(user_id, event_type, factor_type);
        id
    }

    /// Sets a factor's status (ACTIVE: activated; anything else: deactivated). The factor's
    /// `lastUpdated` moves, the user's does not.
    pub fn set_factor_status(&mut self, user_id: &str, factor_id: &str, status: &str) {
        let now = self.mutation_time();
        let factor = self
            .user_mut(user_id)
            .factors
            .iter_mut()
            .find(|f| f.id == factor_id)
            .unwrap_or_else(|| panic!("fake okta: no factor {factor_id}"));
        factor.status = status.to_string();
        factor.last_updated = now;
        let factor_type = factor.factor_type.clone();
        let event_type = match status {
            "ACTIVE" => "user.mfa.factor.activate",
            _ => "user.mfa.factor.deactivate",
        };
        self.record_factor(user_id, event_type, &factor_type);
    }

    /// Activates a factor (see [`Org::set_factor_status`]).
    pub fn activate_factor(&mut self, user_id: &str, factor_id: &str) {
        self.set_factor_status(user_id, factor_id, "ACTIVE");
    }

    /// Removes one factor, as an admin's "reset factor" does.
    pub fn remove_factor(&mut self, user_id: &str, factor_id: &str) {
        self.mutation_time();
        let factors = &mut self.user_mut(user_id).factors;
        let Some(at) = factors.iter().position(|f| f.id == factor_id) else {
            panic!("fake okta: no factor {factor_id}");
        };
        let gone = factors.remove(at);
        self.record_factor(user_id, "user.mfa.factor.deactivate", &gone.factor_type);
    }

    /// Removes every factor of a user ("Reset all factors"); returns how many there were.
    /// The user's `lastUpdated` does not move.
    pub fn reset_factors(&mut self, user_id: &str) -> usize {
        self.mutation_time();
        let gone = std::mem::take(&mut self.user_mut(user_id).factors).len();
        let target = vec![self.user_entity_by_id(user_id)];
        self.record(Record::new("user.mfa.factor.reset_all", target));
        gone
    }

    fn record_factor(&mut self, user_id: &str, event_type: &'static str, factor_type: &str) {
        let target = vec![self.user_entity_by_id(user_id)];
        self.record(Record::new(event_type, target).debug("factor", factor_type));
    }
}

/// The event Okta records for a change of user status.
fn status_event(from: &str, to: &str) -> &'static str {
    match (from, to) {
        ("SUSPENDED", "ACTIVE") => "user.lifecycle.unsuspend",
        ("LOCKED_OUT", "ACTIVE") => "user.account.unlock",
        ("DEPROVISIONED", "PROVISIONED") => "user.lifecycle.reactivate",
        (_, "DEPROVISIONED") => "user.lifecycle.deactivate",
        (_, "SUSPENDED") => "user.lifecycle.suspend",
        (_, "LOCKED_OUT") => "user.account.lock",
        (_, "RECOVERY") => "user.account.reset_password",
        (_, "PASSWORD_EXPIRED") => "user.account.expire_password",
        _ => "user.lifecycle.activate",
    }
}

/// Removes the roles whose type or assignment id is `role`.
fn take_roles(roles: &mut Vec<FakeRole>, role: &str) -> Vec<FakeRole> {
    let (taken, kept) = roles
        .drain(..)
        .partition(|r| r.role_type == role || r.id == role);
    *roles = kept;
    taken
}

/// Sets the status of the roles whose type or assignment id is `role`; the labels of those that
/// changed.
fn set_roles_status(
    roles: &mut [FakeRole],
    role: &str,
    status: &str,
    now: Timestamp,
) -> Vec<String> {
    let mut changed = Vec::new();
    for r in roles
        .iter_mut()
        .filter(|r| (r.role_type == role || r.id == role) && r.status != status)
    {
        r.status = status.to_string();
        r.last_updated = now;
        changed.push(r.label.clone());
    }
    changed
}

//! The fake tenant's data: a seeded generator, compact storage, "truth" queries for tests and
//! the mutations Okta would make (with the timestamps Okta would set).
//!
//! Storage is compact so that 100k users / 2k groups / 800k memberships fit in well under
//! 200 MiB: a user's profile is kept as its JSON text (served as is), memberships are `u32`
//! user indices (both directions), and factor profiles are derived when served.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::syslog::{LogEntity, Record, SignIns, SystemLog};
use crate::rng::{Rng, ALNUM};
use crate::time::{from_ms, VirtualClock};

mod generate;
mod mutate;

/// Start of the generated history (2018-01-01T00:00:00Z).
pub const HISTORY_START_S: i64 = 1_514_764_800;
/// End of the generated history (2026-06-01T00:00:00Z): every generated timestamp is before it,
/// and before the fake's virtual clock (which starts at the real current time).
pub const HISTORY_END_S: i64 = 1_780_272_000;
/// When the org itself was created (the Everyone group): 2015-03-01.
const ORG_CREATED_S: i64 = 1_425_168_000;

/// What to generate.
#[derive(Clone, Debug)]
pub struct OrgSpec {
    pub users: usize,
    pub groups: usize,
    pub seed: u64,
    /// Fraction of users holding an admin role directly (at least one when there are users).
    pub admin_fraction: f64,
    /// Average groups per user, Everyone included (capped by `groups`).
    pub memberships_per_user: f64,
    /// Fraction of users with at least one enrolled factor.
    pub factor_fraction: f64,
    /// Groups that hold a role while none of their members holds one directly: their members
    /// are admins through the group only (0 = none beyond what the generator makes anyway).
    pub group_only_admin_groups: usize,
}

impl Default for OrgSpec {
    fn default() -> OrgSpec {
        OrgSpec {
            users: 100,
            groups: 10,
            seed: 1,
            admin_fraction: 0.005,
            memberships_per_user: 8.0,
            factor_fraction: 0.8,
            group_only_admin_groups: 0,
        }
    }
}

impl OrgSpec {
    pub fn small(users: usize, groups: usize, seed: u64) -> OrgSpec {
        OrgSpec {
            users,
            groups,
            seed,
            ..OrgSpec::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupType {
    /// `OKTA_GROUP`
    Okta,
    /// `APP_GROUP` (imported, e.g. from Active Directory)
    App,
    /// `BUILT_IN` (Everyone)
    BuiltIn,
}

impl GroupType {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::Okta => "OKTA_GROUP",
            GroupType::App => "APP_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
        }
    }
}

/// A role assignment (to a user directly, or to a group).
#[derive(Clone, Debug, PartialEq)]
pub struct FakeRole {
    /// Assignment id (`KVJUKUS7IFCE2SKO` style; `irb…` for custom roles).
    pub id: String,
    /// `SUPER_ADMIN`, …, `MOBILE_ADMIN` (undocumented), `CUSTOM`.
    pub role_type: String,
    pub label: String,
    pub status: String,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FakeFactor {
    pub id: String,
    pub factor_type: String,
    pub provider: String,
    pub vendor_name: String,
    pub status: String,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FakeUser {
    pub id: String,
    pub status: String,
    pub created: Timestamp,
    pub activated: Option<Timestamp>,
    pub status_changed: Option<Timestamp>,
    pub last_login: Option<Timestamp>,
    pub last_updated: Timestamp,
    pub password_changed: Option<Timestamp>,
    /// The `profile` object as JSON text (served verbatim). Read it with [`FakeUser::profile`].
    pub profile_json: String,
    /// The `credentials` object as JSON text; `None` = the key is absent.
    pub credentials_json: Option<String>,
    /// Roles assigned to the user directly (`assignmentType: USER`).
    pub roles: Vec<FakeRole>,
    pub factors: Vec<FakeFactor>,
    /// Creation sequence number: the paging order (never reused).
    pub(super) seq: u64,
    /// Indices of the groups the user belongs to, ascending.
    pub(super) groups: Vec<u32>,
}

impl FakeUser {
    pub fn profile(&self) -> Map<String, Value> {
        serde_json::from_str(&self.profile_json).expect("profile is a JSON object")
    }

    /// A profile attribute as a string (`None` when absent, null or not a string).
    pub fn profile_str(&self, field: &str) -> Option<String> {
        self.profile()
            .get(field)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }

    pub fn login(&self) -> String {
        self.profile_str("login").unwrap_or_default()
    }

    pub fn active_factor_count(&self) -> usize {
        self.factors.iter().filter(|f| f.status == "ACTIVE").count()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FakeGroup {
    pub id: String,
    pub group_type: GroupType,
    pub name: String,
    pub description: Option<String>,
    pub created: Timestamp,
    pub last_updated: Timestamp,
    pub last_membership_updated: Timestamp,
    /// Roles assigned to the group (its members inherit them).
    pub roles: Vec<FakeRole>,
    pub(super) seq: u64,
    /// Member user indices, ascending (creation order).
    pub(super) members: Vec<u32>,
}

impl FakeGroup {
    pub fn member_count(&self) -> usize {
        self.members.len()
    }
}

/// One role a user holds, directly or inherited from a group.
#[derive(Clone, Copy, Debug)]
pub struct UserRole<'a> {
    pub role: &'a FakeRole,
    /// `None` = assigned directly (`assignmentType: USER`).
    pub via_group: Option<&'a FakeGroup>,
}

impl UserRole<'_> {
    pub fn assignment_type(&self) -> &'static str {
        if self.via_group.is_some() {
            "GROUP"
        } else {
            "USER"
        }
    }
}

/// The whole tenant.
#[derive(Clone, Debug)]
pub struct Org {
    /// `00o…`: appears in `orn:okta:directory:<org_id>:users:<id>`.
    pub org_id: String,
    pub(super) type_id: String,
    pub(super) users: Vec<FakeUser>,
    user_idx: HashMap<String, usize>,
    pub(super) groups: Vec<FakeGroup>,
    group_idx: HashMap<String, usize>,
    next_seq: u64,
    rng: Rng,
    clock: Option<VirtualClock>,
    last_mutation_ms: i64,
    /// Set by [`Org::in_one_second`]: every mutation gets this time.
    pinned_ms: Option<i64>,
    log: SystemLog,
    /// Who makes the changes the log records.
    actor: LogEntity,
    sign_ins: SignIns,
}

/// Label of a custom role (type `CUSTOM`).
pub const CUSTOM_ROLE_LABEL: &str = "Helpdesk Tier 2 (custom)";

fn ts(secs: i64) -> Timestamp {
    from_ms(secs * 1000)
}

/// Writes a JSON object key by key, in order.
struct ObjWriter {
    out: String,
}

impl ObjWriter {
    fn new() -> ObjWriter {
        ObjWriter {
            out: String::from("{"),
        }
    }
    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }
    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_str(&mut self.out, value);
    }
    fn opt(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }
    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.push_str("null");
    }
    fn value(&mut self, key: &str, value: &Value) {
        self.key(key);
        self.out.push_str(&value.to_string());
    }
    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// Appends `s` as a JSON string literal.
pub(super) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn ascii_slug(s: &str) -> String {
    let slug: String = s
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'é' | 'É' => Some('e'),
            'ø' | 'ö' => Some('o'),
            'ü' => Some('u'),
            _ => None,
        })
        .collect();
    if slug.is_empty() {
        "user".into()
    } else {
        slug
    }
}

impl Org {
    fn empty(org_id: String, type_id: String, rng: Rng) -> Org {
        let salt = crate::rng::mix(org_id.bytes().fold(0x10C5, |h: u64, b| {
            h.wrapping_mul(31).wrapping_add(u64::from(b))
        }));
        Org {
            log: SystemLog::new(salt),
            actor: LogEntity::new(
                "0oa1fakeadminconsole",
                "PublicClientApp",
                "Okta Admin Console",
                "Okta Admin Console",
            ),
            sign_ins: SignIns::new(salt),
            org_id,
            type_id,
            users: Vec::new(),
            user_idx: HashMap::new(),
            groups: Vec::new(),
            group_idx: HashMap::new(),
            next_seq: 1,
            rng,
            clock: None,
            last_mutation_ms: HISTORY_END_S * 1000,
            pinned_ms: None,
        }
    }

    /// Mutation timestamps come from this clock (the served fake installs its virtual clock).
    pub fn set_clock(&mut self, clock: Option<VirtualClock>) {
        self.clock = clock;
    }

    /// The timestamp a mutation made now gets: the virtual clock rounded *up* to the whole
    /// second (Okta writes `.000Z`), never earlier than the previous mutation. Without a clock:
    /// one second after the previous mutation, starting at the end of the generated history.
    pub fn mutation_time(&mut self) -> Timestamp {
        if let Some(ms) = self.pinned_ms {
            return from_ms(ms);
        }
        let ms = match &self.clock {
            Some(clock) => {
                let now = clock.now_ms();
                (now + 999).div_euclid(1000) * 1000
            }
            None => self.last_mutation_ms + 1000,
        };
        let ms = ms.max(self.last_mutation_ms);
        self.last_mutation_ms = ms;
        from_ms(ms)
    }

    /// The System Log.
    pub fn log(&self) -> &SystemLog {
        &self.log
    }

    /// The largest delay between an event's `published` time and the moment queries see it;
    /// each event draws its own delay in `[0, max_lag_ms]`.
    pub fn set_log_lag_ms(&mut self, max_lag_ms: u64) {
        self.log.set_max_lag_ms(max_lag_ms);
    }

    /// Sign-ins per virtual minute recorded in the log (0 = none), from the next catch-up on.
    pub fn set_sign_ins_per_minute(&mut self, per_minute: f64) {
        self.sign_ins.set_rate(per_minute);
    }

    /// When an event recorded now is published: the clock, to the millisecond (without a
    /// clock: the last mutation's time).
    fn event_ms(&self) -> i64 {
        match &self.clock {
            Some(clock) => clock.now_ms(),
            None => self.last_mutation_ms,
        }
    }

    /// Records an event made by the org's actor, published now.
    pub(crate) fn record(&mut self, record: Record) {
        let at = self.event_ms();
        self.log.append(at, &self.actor, record);
    }

    /// Records the sign-ins due by `now_ms` (the served fake calls it before answering a log
    /// query, so an event is in the log before any query could have seen its time pass).
    pub(crate) fn catch_up_sign_ins(&mut self, now_ms: i64) {
        let due = self.sign_ins.due(now_ms);
        let active: Vec<usize> = if due.is_empty() {
            Vec::new()
        } else {
            (0..self.users.len())
                .filter(|&i| self.users[i].status == "ACTIVE")
                .collect()
        };
        if active.is_empty() {
            return;
        }
        for at in due {
            let who = active[self.sign_ins.pick(active.len())];
            let user = self.user_entity(who);
            let app = LogEntity::new(
                "0oa1fakeapp00000sso1",
                "AppInstance",
                "Example Wiki",
                "Example Wiki",
            );
            let policy = LogEntity::new(
                "00p1fakesignonpolicy",
                "PolicyEntity",
                "unknown",
                "Default Policy",
            );
            self.log
                .append(at, &user, Record::new("user.session.start", vec![]));
            self.log.append(
                at,
                &user,
                Record::new("policy.evaluate_sign_on", vec![policy]),
            );
            self.log.append(
                at + 1,
                &user,
                Record::new("user.authentication.sso", vec![app]),
            );
        }
    }

    /// A user as an event's actor or target.
    pub(crate) fn user_entity(&self, index: usize) -> LogEntity {
        let u = &self.users[index];
        let profile = u.profile();
        let name = |k: &str| profile.get(k).and_then(Value::as_str).unwrap_or("");
        let display = format!("{} {}", name("firstName"), name("lastName"));
        LogEntity::new(&u.id, "User", &u.login(), display.trim())
    }

    pub(crate) fn user_entity_by_id(&self, id: &str) -> LogEntity {
        self.user_entity(self.user_pos(id))
    }

    /// A group as an event's target (Okta gives groups the alternate id `unknown`).
    pub(crate) fn group_entity(&self, index: usize) -> LogEntity {
        let g = &self.groups[index];
        LogEntity::new(&g.id, "UserGroup", "unknown", &g.name)
    }

    /// Runs `changes` with every mutation stamped with the same whole second, as Okta stamps
    /// several changes made within one second: two changes to one user then have equal
    /// `lastUpdated` values.
    pub fn in_one_second<R>(&mut self, changes: impl FnOnce(&mut Org) -> R) -> R {
        let second = self.mutation_time().as_millisecond();
        self.pinned_ms = Some(second);
        let result = changes(self);
        self.pinned_ms = None;
        result
    }

    fn new_id(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", self.rng.chars(ALNUM, 17))
    }

    fn insert_user(&mut self, mut user: FakeUser) {
        user.seq = self.next_seq;
        self.next_seq += 1;
        self.user_idx.insert(user.id.clone(), self.users.len());
        self.users.push(user);
    }

    fn unique_user_id(&self, rng: &mut Rng) -> String {
        loop {
            let id = format!("00u{}", rng.chars(ALNUM, 17));
            if !self.user_idx.contains_key(&id) {
                return id;
            }
        }
    }

    // ---------------------------------------------------------------- queries (the "truth")

    /// All users, in creation order (the paging order).
    pub fn users(&self) -> &[FakeUser] {
        &self.users
    }

    pub fn user(&self, id: &str) -> Option<&FakeUser> {
        self.user_idx.get(id).map(|&i| &self.users[i])
    }

    pub(super) fn user_index(&self, id: &str) -> Option<usize> {
        self.user_idx.get(id).copied()
    }

    /// By id, or by login (as `GET /api/v1/users/{login}` allows).
    pub(super) fn find_user(&self, id_or_login: &str) -> Option<usize> {
        self.user_index(id_or_login).or_else(|| {
            let needle = format!("\"login\":{}", serde_json::to_string(id_or_login).ok()?);
            self.users
                .iter()
                .position(|u| u.profile_json.contains(&needle))
        })
    }

    /// All groups, in creation order (Everyone first).
    pub fn groups(&self) -> &[FakeGroup] {
        &self.groups
    }

    pub fn group(&self, id: &str) -> Option<&FakeGroup> {
        self.group_idx.get(id).map(|&i| &self.groups[i])
    }

    pub(super) fn group_index(&self, id: &str) -> Option<usize> {
        self.group_idx.get(id).copied()
    }

    pub fn everyone(&self) -> Option<&FakeGroup> {
        self.first_group_of(GroupType::BuiltIn)
    }

    /// The first group of a type, in creation order.
    pub fn first_group_of(&self, group_type: GroupType) -> Option<&FakeGroup> {
        self.groups.iter().find(|g| g.group_type == group_type)
    }

    pub fn groups_of(&self, user_id: &str) -> Vec<&FakeGroup> {
        self.user(user_id)
            .map(|u| u.groups.iter().map(|&g| &self.groups[g as usize]).collect())
            .unwrap_or_default()
    }

    /// Member ids of a group, in creation order.
    /// The first user (in creation order) who is not a member of the group.
    pub fn first_non_member_of(&self, group_id: &str) -> Option<&FakeUser> {
        let members = self.members_of(group_id);
        self.users
            .iter()
            .find(|u| !members.contains(&u.id.as_str()))
    }

    pub fn members_of(&self, group_id: &str) -> Vec<&str> {
        self.group(group_id)
            .map(|g| {
                g.members
                    .iter()
                    .map(|&u| self.users[u as usize].id.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn user_at(&self, index: u32) -> &FakeUser {
        &self.users[index as usize]
    }

    /// Direct roles first, then the roles of the user's groups (in group order).
    pub fn user_roles(&self, user_id: &str) -> Vec<UserRole<'_>> {
        let Some(user) = self.user(user_id) else {
            return Vec::new();
        };
        let mut out: Vec<UserRole<'_>> = user
            .roles
            .iter()
            .map(|role| UserRole {
                role,
                via_group: None,
            })
            .collect();
        for &g in &user.groups {
            let group = &self.groups[g as usize];
            out.extend(group.roles.iter().map(|role| UserRole {
                role,
                via_group: Some(group),
            }));
        }
        out
    }

    pub fn group_roles(&self, group_id: &str) -> &[FakeRole] {
        self.group(group_id)
            .map(|g| g.roles.as_slice())
            .unwrap_or(&[])
    }

    /// Holds an ACTIVE role, directly or through a group.
    pub fn is_admin(&self, user_id: &str) -> bool {
        self.user_roles(user_id)
            .iter()
            .any(|r| r.role.status == "ACTIVE")
    }

    pub fn active_factor_count(&self, user_id: &str) -> usize {
        self.user(user_id).map_or(0, FakeUser::active_factor_count)
    }

    /// User indices holding at least one role (direct or via a group), ascending.
    /// Indices of the users `GET /api/v1/iam/assignees/users` lists, ascending: those holding a
    /// role assignment (of any status) directly, and with `include_groups` also those holding
    /// one through a group. Okta documents the endpoint only as "users with role assignments";
    /// the fake serves either reading (`FakeOptions::assignees_include_groups`).
    pub(super) fn assignee_indices(&self, include_groups: bool) -> Vec<u32> {
        let mut set: Vec<bool> = self.users.iter().map(|u| !u.roles.is_empty()).collect();
        if include_groups {
            for g in self.groups.iter().filter(|g| !g.roles.is_empty()) {
                for &u in &g.members {
                    set[u as usize] = true;
                }
            }
        }
        set.iter()
            .enumerate()
            .filter(|(_, &listed)| listed)
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// The ids `GET /api/v1/iam/assignees/users` lists (see [`Org::assignee_indices`]).
    pub fn role_assignee_ids(&self, include_groups: bool) -> Vec<&str> {
        self.assignee_indices(include_groups)
            .into_iter()
            .map(|i| self.users[i as usize].id.as_str())
            .collect()
    }

    /// Users holding a role assignment of any status, directly or through a group.
    pub fn admin_user_ids(&self) -> Vec<&str> {
        self.role_assignee_ids(true)
    }

    /// Labels of the ACTIVE roles a group holds (what its members inherit), in assignment
    /// order.
    pub fn group_privileges(&self, group_id: &str) -> Vec<&str> {
        self.group_roles(group_id)
            .iter()
            .filter(|r| r.status == "ACTIVE")
            .map(|r| r.label.as_str())
            .collect()
    }

    /// Users who are admins only through a group: no ACTIVE direct role, an ACTIVE role held by
    /// one of their groups.
    pub fn group_only_admin_ids(&self) -> Vec<&str> {
        self.users
            .iter()
            .filter(|u| !u.roles.iter().any(|r| r.status == "ACTIVE") && self.is_admin(&u.id))
            .map(|u| u.id.as_str())
            .collect()
    }

    /// Total memberships, Everyone included.
    pub fn membership_count(&self) -> usize {
        self.groups.iter().map(|g| g.members.len()).sum()
    }
}

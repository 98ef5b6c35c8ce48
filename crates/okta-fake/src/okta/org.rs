//! The fake tenant's data: a seeded generator, compact storage, "truth" queries for tests and
//! the mutations Okta would make (with the timestamps Okta would set).
//!
//! Storage is compact so that 100k users / 2k groups / 800k memberships fit in well under
//! 200 MiB: a user's profile is kept as its JSON text (served as is), memberships are `u32`
//! user indices (both directions), and factor profiles are derived when served.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::rng::{Rng, ALNUM, BASE32};
use crate::time::{from_ms, VirtualClock};

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
}

const ROLE_TYPES: &[(&str, &str)] = &[
    ("SUPER_ADMIN", "Super Administrator"),
    ("ORG_ADMIN", "Organizational Administrator"),
    ("APP_ADMIN", "Application Administrator"),
    ("USER_ADMIN", "User Administrator"),
    ("HELP_DESK_ADMIN", "Help Desk Administrator"),
    ("READ_ONLY_ADMIN", "Read Only Administrator"),
    ("GROUP_MEMBERSHIP_ADMIN", "Group Membership Administrator"),
    ("REPORT_ADMIN", "Report Administrator"),
    (
        "API_ACCESS_MANAGEMENT_ADMIN",
        "API Access Management Administrator",
    ),
    ("MOBILE_ADMIN", "Mobile Administrator"),
];

/// Label of a custom role (type `CUSTOM`).
pub const CUSTOM_ROLE_LABEL: &str = "Helpdesk Tier 2 (custom)";

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Wei",
    "Priya",
    "Ahmed",
    "Olga",
    "Kenji",
    "Fatima",
    "Lucas",
    "Chloé",
    "Søren",
    "Ana",
    "Mateo",
    "Aisha",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Müller",
    "O'Brien",
    "Nguyen",
    "Kowalski",
    "Dubois",
    "Rossi",
    "Tanaka",
    "Singh",
    "Andersson",
];
const DEPTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Legal",
    "Support",
    "Operations",
    "Security",
    "HR",
    "Product",
    "Research",
    "IT",
];
const TITLES: &[&str] = &[
    "Engineer",
    "Senior Engineer",
    "Manager",
    "Director",
    "Analyst",
    "Consultant",
    "Intern",
    "VP",
    "Specialist",
    "Architect",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("San Francisco", "CA", "US", "94105"),
    ("New York", "NY", "US", "10001"),
    ("Paris", "Île-de-France", "FR", "75002"),
    ("Berlin", "BE", "DE", "10115"),
    ("London", "England", "GB", "EC1A 1BB"),
    ("Tokyo", "Tokyo", "JP", "100-0001"),
    ("São Paulo", "SP", "BR", "01000-000"),
];
/// Statuses forced at fixed indices so that every org of ≥ 40 users has them all.
const FORCED_STATUS: &[(usize, &str)] = &[
    (2, "STAGED"),
    (7, "PROVISIONED"),
    (12, "RECOVERY"),
    (17, "LOCKED_OUT"),
    (22, "PASSWORD_EXPIRED"),
    (27, "SUSPENDED"),
    (32, "DEPROVISIONED"),
    (37, "ACTIVATING"),
];
/// Number of profile quirks (see `gen_profile`); quirk q is forced on user `3q + 1`.
const QUIRKS: usize = 16;

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
        Org {
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
        }
    }

    /// Generates an org; the same spec (seed included) gives the same org, byte for byte.
    pub fn generate(spec: &OrgSpec) -> Org {
        let mut rng = Rng::new(spec.seed);
        let org_id = format!("00o{}", rng.chars(ALNUM, 17));
        let type_id = format!("oty{}", rng.chars(ALNUM, 17));
        let mut org = Org::empty(org_id, type_id, Rng::new(spec.seed ^ 0x0005_EED0_FF4C));
        org.users.reserve(spec.users);
        org.user_idx.reserve(spec.users);
        for i in 0..spec.users {
            let user = org.gen_user(&mut rng, i, spec);
            org.insert_user(user);
        }
        org.gen_groups(&mut rng, spec);
        org.gen_roles(&mut rng, spec);
        org
    }

    /// Mutation timestamps come from this clock (the served fake installs its virtual clock).
    pub fn set_clock(&mut self, clock: Option<VirtualClock>) {
        self.clock = clock;
    }

    /// The timestamp a mutation made now gets: the virtual clock rounded *up* to the whole
    /// second (Okta writes `.000Z`), never earlier than the previous mutation. Without a clock:
    /// one second after the previous mutation, starting at the end of the generated history.
    pub fn mutation_time(&mut self) -> Timestamp {
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

    fn gen_user(&self, rng: &mut Rng, i: usize, spec: &OrgSpec) -> FakeUser {
        let id = self.unique_user_id(rng);
        let status = match FORCED_STATUS.iter().find(|(at, _)| *at == i) {
            Some((_, s)) => *s,
            None if i == 0 => "ACTIVE",
            None => {
                let r = rng.unit();
                match r {
                    r if r < 0.84 => "ACTIVE",
                    r if r < 0.90 => "DEPROVISIONED",
                    r if r < 0.92 => "STAGED",
                    r if r < 0.935 => "PROVISIONED",
                    r if r < 0.95 => "SUSPENDED",
                    r if r < 0.96 => "LOCKED_OUT",
                    r if r < 0.97 => "PASSWORD_EXPIRED",
                    r if r < 0.985 => "RECOVERY",
                    r if r < 0.99 => "ACTIVATING",
                    _ => "ACTIVE",
                }
            }
        };
        let end = HISTORY_END_S - 86_400;
        let created = rng.range(HISTORY_START_S, end - 200 * 86_400);
        let after = |rng: &mut Rng, t: i64| rng.range(t + 1, end);
        let (mut activated, mut status_changed, mut last_login, mut password_changed) =
            (None, None, None, None);
        match status {
            "STAGED" => {}
            "PROVISIONED" | "ACTIVATING" => {
                activated = Some(after(rng, created));
                status_changed = activated;
            }
            _ => {
                let act = after(rng, created);
                // `activated` is null for some ACTIVE users in real orgs (e.g. imported ones).
                activated = (!rng.chance(0.08)).then_some(act);
                status_changed = if status == "ACTIVE" && rng.chance(0.1) {
                    None
                } else {
                    Some(after(rng, act))
                };
                last_login = rng.chance(0.8).then(|| after(rng, act));
                password_changed = rng.chance(0.85).then(|| after(rng, created));
            }
        }
        let mut last_updated = created;
        for t in [activated, status_changed, password_changed]
            .into_iter()
            .flatten()
        {
            last_updated = last_updated.max(t);
        }
        if rng.chance(0.5) {
            last_updated = after(rng, last_updated);
        }
        let quirk = if i % 3 == 1 && i / 3 < QUIRKS {
            Some(i / 3)
        } else if rng.chance(0.02) {
            Some(rng.index(QUIRKS))
        } else {
            None
        };
        let (profile_json, email) = self.gen_profile(rng, i, quirk);
        let credentials_json = if quirk == Some(10) || rng.chance(0.03) {
            None
        } else if rng.chance(0.05) {
            Some(r#"{"provider":{"type":"ACTIVE_DIRECTORY","name":"corp.example.com"}}"#.into())
        } else {
            let mut c = String::from("{");
            if status != "STAGED" {
                c.push_str(r#""password":{},"#);
            }
            if let Some(email) = email {
                c.push_str(r#""emails":[{"value":"#);
                push_json_str(&mut c, &email);
                c.push_str(r#","status":"VERIFIED","type":"PRIMARY"}],"#);
            }
            if rng.chance(0.3) {
                c.push_str(r#""recovery_question":{"question":"What is the food you least liked as a child?"},"#);
            }
            c.push_str(r#""provider":{"type":"OKTA","name":"OKTA"}}"#);
            Some(c)
        };
        let factors = gen_factors(rng, i, created, spec.factor_fraction);
        FakeUser {
            id,
            status: status.to_string(),
            created: ts(created),
            activated: activated.map(ts),
            status_changed: status_changed.map(ts),
            last_login: last_login.map(ts),
            last_updated: ts(last_updated),
            password_changed: password_changed.map(ts),
            profile_json,
            credentials_json,
            roles: Vec::new(),
            factors,
            seq: 0,
            groups: Vec::new(),
        }
    }

    /// Returns the profile JSON and the primary email (if any).
    fn gen_profile(
        &self,
        rng: &mut Rng,
        i: usize,
        quirk: Option<usize>,
    ) -> (String, Option<String>) {
        let (first, last): (Option<String>, Option<String>) = match quirk {
            Some(0) => (None, None),
            Some(1) => (None, None),
            Some(4) => (Some("Zoë".into()), Some("Ñúñez".into())),
            Some(5) => (Some("李".into()), Some("雷".into())),
            Some(6) => (Some("محمد".into()), Some("العربي".into())),
            Some(7) => (Some("🚀".into()), Some("Émoji 😀".into())),
            Some(13) => (Some("  Ann  ".into()), Some(" ".into())),
            _ => (
                Some(rng.pick(FIRST).to_string()),
                Some(rng.pick(LAST).to_string()),
            ),
        };
        let login = format!(
            "{}.{}{}@example.com",
            ascii_slug(first.as_deref().unwrap_or("user")),
            ascii_slug(last.as_deref().unwrap_or("x")),
            i
        );
        let email = match quirk {
            Some(2) => None,
            Some(3) => Some("not-an-email".to_string()),
            Some(14) => Some(login.to_uppercase()),
            _ if rng.chance(0.05) => Some(format!("{}@corp.example.org", ascii_slug(&login))),
            _ => Some(login.clone()),
        };
        let mut p = ObjWriter::new();
        match quirk {
            Some(0) => {}
            // Keys present but null (Okta's schema forbids "": minLength 1 when set).
            Some(1) => {
                p.null("firstName");
                p.null("lastName");
            }
            _ => {
                p.opt("firstName", first.as_deref());
                p.opt("lastName", last.as_deref());
            }
        }
        let mobile = rng
            .chance(0.6)
            .then(|| format!("+1 555 01{:02} {:04}", rng.below(100), rng.below(10_000)));
        p.opt("mobilePhone", mobile.as_deref());
        let second = (quirk == Some(14) || rng.chance(0.2))
            .then(|| format!("{}@personal.example.net", ascii_slug(&login)));
        p.opt("secondEmail", second.as_deref());
        p.str("login", &login);
        if let Some(email) = &email {
            p.str("email", email);
        }
        if quirk == Some(5) {
            p.str("displayName", "李雷");
        } else if let (Some(f), Some(l), true) = (&first, &last, rng.chance(0.7)) {
            p.str("displayName", &format!("{f} {l}"));
        }
        let dept = *rng.pick(DEPTS);
        match quirk {
            Some(8) => p.str("title", &"Very long title ".repeat(125)),
            Some(9) => p.str("title", "<script>alert('owned')</script>"),
            _ if rng.chance(0.85) => p.str("title", &format!("{} {}", dept, rng.pick(TITLES))),
            _ => {}
        }
        if quirk == Some(9) {
            p.str("department", "<b>R&D</b> & \"Special\"");
        } else if rng.chance(0.85) {
            p.str("department", dept);
        }
        if quirk == Some(15) || rng.chance(0.7) {
            p.str("organization", "Example Corp");
            if quirk != Some(15) && rng.chance(0.8) {
                p.str("division", &format!("{dept} Division"));
            }
        }
        if rng.chance(0.6) {
            p.str("costCenter", &format!("CC-{:04}", rng.below(10_000)));
        }
        if rng.chance(0.7) {
            p.str("employeeNumber", &format!("{:06}", i));
        }
        if quirk == Some(12) || (i > 0 && rng.chance(0.3)) {
            if i > 0 {
                let m = &self.users[rng.index(i)];
                p.str("managerId", &m.id);
                p.str("manager", &m.login());
            } else {
                p.null("managerId");
            }
        }
        if quirk == Some(12) || rng.chance(0.3) {
            p.str(
                "primaryPhone",
                &format!("+1 555 02{:02} {:04}", rng.below(100), rng.below(10_000)),
            );
        }
        if quirk == Some(12) || rng.chance(0.6) {
            let (city, state, country, zip) = *rng.pick(CITIES);
            p.str("city", city);
            p.str("state", state);
            p.str("countryCode", country);
            p.str("zipCode", zip);
            p.str(
                "streetAddress",
                &format!("{} Market Street", 1 + rng.below(999)),
            );
        }
        if quirk == Some(11) || rng.chance(0.2) {
            p.str(
                "employeeType",
                if rng.chance(0.8) {
                    "Employee"
                } else {
                    "Contractor"
                },
            );
            p.value("badgeNumber", &json!(10_000 + i as u64));
            p.value("isContractor", &json!(rng.chance(0.2)));
            p.null("nickName");
            p.value("skills", &json!(["rust", "okta", i % 7]));
            p.value(
                "extensionAttributes",
                &json!({"floor": (i % 12) as u64, "desk": format!("D-{i}"), "remote": null}),
            );
            p.value("hourlyRate", &json!(37.5));
        }
        (p.finish(), email)
    }

    fn gen_groups(&mut self, rng: &mut Rng, spec: &OrgSpec) {
        let n_users = self.users.len();
        let end = HISTORY_END_S - 86_400;
        for k in 0..spec.groups {
            let id = loop {
                let id = format!("00g{}", rng.chars(ALNUM, 17));
                if !self.group_idx.contains_key(&id) {
                    break id;
                }
            };
            let (group_type, name, description, created) = if k == 0 {
                (
                    GroupType::BuiltIn,
                    "Everyone".to_string(),
                    Some("All users in your organization".to_string()),
                    ORG_CREATED_S,
                )
            } else {
                let app = (k == 1 && spec.groups >= 3) || (k >= 2 && rng.chance(0.05));
                let dept = *rng.pick(DEPTS);
                let name = match (app, k) {
                    (true, _) => format!("{dept}-Users-{k}"),
                    (false, 3) => "Équipe Données 数据 🚀".to_string(),
                    (false, _) => format!("{dept} Team {k:04}"),
                };
                let description = match k {
                    4 => Some("<i>Members</i> & \"friends\"".to_string()),
                    _ if rng.chance(0.8) => Some(format!("The {dept} group")),
                    _ => None,
                };
                let gt = if app { GroupType::App } else { GroupType::Okta };
                (
                    gt,
                    name,
                    description,
                    rng.range(HISTORY_START_S, end - 100 * 86_400),
                )
            };
            let last_updated = rng.range(created, end);
            let last_membership_updated = rng.range(created, end);
            self.group_idx.insert(id.clone(), self.groups.len());
            self.groups.push(FakeGroup {
                id,
                group_type,
                name,
                description,
                created: ts(created),
                last_updated: ts(last_updated),
                last_membership_updated: ts(last_membership_updated),
                roles: Vec::new(),
                seq: self.next_seq,
                members: Vec::new(),
            });
            self.next_seq += 1;
        }
        if self.groups.is_empty() || n_users == 0 {
            if let Some(everyone) = self.groups.first_mut() {
                everyone.members.clear();
            }
            return;
        }
        // Everyone holds every user.
        self.groups[0].members = (0..n_users as u32).collect();
        // The others: a heavy-tailed size distribution summing to about
        // users × (memberships_per_user − 1), shuffled over the groups; the last group has one
        // member, and (from 20 groups) one group is empty, as in real orgs.
        let others = self.groups.len() - 1;
        if others == 0 {
            self.finish_memberships();
            return;
        }
        let per_user = spec
            .memberships_per_user
            .min(self.groups.len() as f64)
            .max(1.0);
        let remaining = n_users as f64 * (per_user - 1.0);
        let weights: Vec<f64> = (0..others)
            .map(|j| 1.0 / ((j + 1) as f64).powf(0.9))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut sizes: Vec<usize> = weights
            .iter()
            .map(|w| ((remaining * w / total).round() as usize).clamp(1, n_users))
            .collect();
        rng.shuffle(&mut sizes);
        if let Some(last) = sizes.last_mut() {
            *last = 1;
        }
        if others >= 19 {
            sizes[others / 2] = 0;
        }
        let mut chosen: Vec<u32> = Vec::new();
        let mut seen = vec![false; n_users];
        for (j, size) in sizes.into_iter().enumerate() {
            chosen.clear();
            if size * 3 > n_users {
                // Selection sampling: exactly `size` of `n_users`, in order.
                let mut need = size;
                for u in 0..n_users {
                    if (rng.below((n_users - u) as u64) as usize) < need {
                        chosen.push(u as u32);
                        need -= 1;
                    }
                }
            } else {
                while chosen.len() < size {
                    let u = rng.index(n_users);
                    if !seen[u] {
                        seen[u] = true;
                        chosen.push(u as u32);
                    }
                }
                for &u in &chosen {
                    seen[u as usize] = false;
                }
                chosen.sort_unstable();
            }
            self.groups[j + 1].members = chosen.clone();
        }
        self.finish_memberships();
    }

    /// Rebuilds every user's group list from the groups' member lists.
    fn finish_memberships(&mut self) {
        for u in &mut self.users {
            u.groups.clear();
        }
        for (g, group) in self.groups.iter().enumerate() {
            for &u in &group.members {
                self.users[u as usize].groups.push(g as u32);
            }
        }
    }

    fn gen_role(rng: &mut Rng, role_type: &str, created: i64) -> FakeRole {
        let (id, label) = if role_type == "CUSTOM" {
            (
                format!("irb{}", rng.chars(ALNUM, 17)),
                CUSTOM_ROLE_LABEL.to_string(),
            )
        } else {
            let label = ROLE_TYPES
                .iter()
                .find(|(t, _)| *t == role_type)
                .map(|(_, l)| l.to_string())
                .unwrap_or_else(|| role_type.to_string());
            (rng.chars(BASE32, 16), label)
        };
        FakeRole {
            id,
            role_type: role_type.to_string(),
            label,
            status: "ACTIVE".into(),
            created: ts(created),
            last_updated: ts(created),
        }
    }

    fn gen_roles(&mut self, rng: &mut Rng, spec: &OrgSpec) {
        let n = self.users.len();
        if n == 0 {
            return;
        }
        let end = HISTORY_END_S - 86_400;
        // At least 4 (when there are 4 users) so that small orgs show every role case.
        let direct = ((n as f64 * spec.admin_fraction).round() as usize)
            .max(4)
            .min(n);
        // Distinct users; the first is ACTIVE user 0 (a super admin).
        let mut admins = vec![0usize];
        let mut tries = 0;
        while admins.len() < direct && tries < direct * 20 {
            tries += 1;
            let u = rng.index(n);
            if !admins.contains(&u) {
                admins.push(u);
            }
        }
        for (k, &u) in admins.iter().enumerate() {
            let role_type = match k {
                0 => "SUPER_ADMIN",
                1 => "MOBILE_ADMIN",
                2 => "CUSTOM",
                _ => rng.pick(&ROLE_TYPES[..9]).0,
            };
            let created = rng.range(self.users[u].created.as_second(), end);
            let role = Org::gen_role(rng, role_type, created);
            self.users[u].roles.push(role);
            if k == 3 || (k > 3 && rng.chance(0.2)) {
                let second = if k == 3 {
                    "CUSTOM"
                } else {
                    rng.pick(&ROLE_TYPES[..9]).0
                };
                if !self.users[u].roles.iter().any(|r| r.role_type == second) {
                    let role = Org::gen_role(rng, second, created);
                    self.users[u].roles.push(role);
                }
            }
        }
        // A few small groups hold roles: their members are admins through the group.
        let mut candidates: Vec<usize> = (1..self.groups.len())
            .filter(|&g| {
                self.groups[g].group_type == GroupType::Okta && !self.groups[g].members.is_empty()
            })
            .collect();
        candidates.sort_by_key(|&g| (self.groups[g].members.len(), g));
        let group_roles = ["READ_ONLY_ADMIN", "HELP_DESK_ADMIN", "CUSTOM"];
        for (&g, role_type) in candidates.iter().take(3).zip(group_roles) {
            let created = rng.range(self.groups[g].created.as_second(), end);
            let role = Org::gen_role(rng, role_type, created);
            self.groups[g].roles.push(role);
        }
        // One member of the first role group also holds a direct role (direct AND via group).
        if let Some(&g) = candidates.first() {
            let u = self.groups[g].members[0] as usize;
            if self.users[u].roles.is_empty() {
                let created = rng.range(self.users[u].created.as_second(), end);
                let role = Org::gen_role(rng, "USER_ADMIN", created);
                self.users[u].roles.push(role);
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
        self.groups
            .iter()
            .find(|g| g.group_type == GroupType::BuiltIn)
    }

    pub fn groups_of(&self, user_id: &str) -> Vec<&FakeGroup> {
        self.user(user_id)
            .map(|u| u.groups.iter().map(|&g| &self.groups[g as usize]).collect())
            .unwrap_or_default()
    }

    /// Member ids of a group, in creation order.
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
    pub(super) fn admin_indices(&self) -> Vec<u32> {
        let mut set = vec![false; self.users.len()];
        for (i, u) in self.users.iter().enumerate() {
            if !u.roles.is_empty() {
                set[i] = true;
            }
        }
        for g in &self.groups {
            if !g.roles.is_empty() {
                for &u in &g.members {
                    set[u as usize] = true;
                }
            }
        }
        set.iter()
            .enumerate()
            .filter(|(_, &b)| b)
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Users with ≥ 1 role, direct or via a group: what `/api/v1/iam/assignees/users` lists.
    pub fn admin_user_ids(&self) -> Vec<&str> {
        self.admin_indices()
            .into_iter()
            .map(|i| self.users[i as usize].id.as_str())
            .collect()
    }

    /// Total memberships, Everyone included.
    pub fn membership_count(&self) -> usize {
        self.groups.iter().map(|g| g.members.len()).sum()
    }

    // ---------------------------------------------------------------- mutations
    //
    // Each sets the timestamps Okta sets, from `mutation_time()` (the fake's virtual clock when
    // served). Unknown ids panic: these are test helpers.

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
    }

    /// Lifecycle change: bumps `lastUpdated` and `statusChanged` (and sets `activated` the first
    /// time a user becomes ACTIVE).
    pub fn set_user_status(&mut self, id: &str, status: &str) {
        let now = self.mutation_time();
        let user = self.user_mut(id);
        if user.status == status {
            return;
        }
        user.status = status.to_string();
        user.status_changed = Some(now);
        user.last_updated = now;
        if status == "ACTIVE" && user.activated.is_none() {
            user.activated = Some(now);
        }
    }

    /// Hard delete: the user disappears from everything; the groups it was in get a new
    /// `lastMembershipUpdated`.
    pub fn delete_user(&mut self, id: &str) {
        let now = self.mutation_time();
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
        true
    }

    /// Renames a group: bumps its `lastUpdated`.
    pub fn rename_group(&mut self, group_id: &str, name: &str) {
        let now = self.mutation_time();
        let g = self.group_pos(group_id);
        self.groups[g].name = name.to_string();
        self.groups[g].last_updated = now;
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
        id
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
        let id = role.id.clone();
        self.user_mut(user_id).roles.push(role);
        id
    }

    /// Removes a user's direct role(s) whose type or assignment id is `role`.
    pub fn revoke_user_role(&mut self, user_id: &str, role: &str) {
        self.user_mut(user_id)
            .roles
            .retain(|r| r.role_type != role && r.id != role);
    }

    pub fn grant_group_role(&mut self, group_id: &str, role_type: &str) -> String {
        let role = self.new_role(role_type);
        let id = role.id.clone();
        let g = self.group_pos(group_id);
        self.groups[g].roles.push(role);
        id
    }

    pub fn revoke_group_role(&mut self, group_id: &str, role: &str) {
        let g = self.group_pos(group_id);
        self.groups[g]
            .roles
            .retain(|r| r.role_type != role && r.id != role);
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
        id
    }

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
    }

    pub fn remove_factor(&mut self, user_id: &str, factor_id: &str) {
        self.user_mut(user_id).factors.retain(|f| f.id != factor_id);
    }
}

const FACTOR_TYPES: &[&str] = &[
    "push",
    "token:software:totp",
    "sms",
    "webauthn",
    "email",
    "question",
    "signed_nonce",
    "token:hardware",
];

fn make_factor(rng: &mut Rng, factor_type: &str, created: i64) -> FakeFactor {
    let (prefix, provider, vendor) = match factor_type {
        "push" => ("opf", "OKTA", "OKTA"),
        "token:software:totp" if rng.chance(0.3) => ("uft", "GOOGLE", "GOOGLE"),
        "token:software:totp" => ("ost", "OKTA", "OKTA"),
        "sms" => ("mbl", "OKTA", "OKTA"),
        "call" => ("clf", "OKTA", "OKTA"),
        "webauthn" => ("fwf", "FIDO", "FIDO"),
        "email" => ("emf", "OKTA", "OKTA"),
        "question" => ("ufs", "OKTA", "OKTA"),
        "signed_nonce" => ("crp", "OKTA", "OKTA"),
        "token:hardware" => ("ykf", "YUBICO", "YUBICO"),
        _ => ("fac", "OKTA", "OKTA"),
    };
    let updated = rng.range(created, (HISTORY_END_S - 3600).max(created + 1));
    FakeFactor {
        id: format!("{prefix}{}", rng.chars(ALNUM, 17)),
        factor_type: factor_type.to_string(),
        provider: provider.to_string(),
        vendor_name: vendor.to_string(),
        status: "ACTIVE".into(),
        created: ts(created),
        last_updated: ts(updated),
    }
}

/// Factors of generated user `i`: users 4 and 5 are pinned (factors but none ACTIVE; one
/// ACTIVE and one pending) so that small orgs show both cases.
fn gen_factors(rng: &mut Rng, i: usize, user_created: i64, fraction: f64) -> Vec<FakeFactor> {
    let forced = fraction > 0.0 && (i == 4 || i == 5);
    if !forced && !rng.chance(fraction) {
        return Vec::new();
    }
    let n = if forced { 2 } else { 1 + rng.index(3) };
    let none_active = i == 4 || (!forced && rng.chance(0.1));
    let mut out: Vec<FakeFactor> = Vec::with_capacity(n);
    while out.len() < n {
        let ft = *rng.pick(FACTOR_TYPES);
        if out.iter().any(|f| f.factor_type == ft) {
            continue;
        }
        let created = rng.range(user_created + 60, HISTORY_END_S - 2 * 86_400);
        let mut f = make_factor(rng, ft, created);
        f.status = if none_active {
            if rng.chance(0.6) {
                "PENDING_ACTIVATION"
            } else {
                "NOT_SETUP"
            }
            .into()
        } else if out.is_empty() {
            "ACTIVE".into()
        } else {
            match rng.unit() {
                r if r < 0.7 => "ACTIVE",
                r if r < 0.9 => "PENDING_ACTIVATION",
                r if r < 0.97 => "NOT_SETUP",
                _ => "INACTIVE",
            }
            .into()
        };
        out.push(f);
    }
    if i == 5 {
        out[1].status = "PENDING_ACTIVATION".into();
    }
    out
}

//! The seeded generator: the same spec (seed included) gives the same org, byte for byte.

use serde_json::json;

use super::*;
use crate::rng::{Rng, ALNUM, BASE32};
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

impl Org {
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
        if !org.users.is_empty() {
            // User 0, a super admin, is who makes the changes the System Log records.
            org.actor = org.user_entity(0);
        }
        org
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

    pub(super) fn gen_role(rng: &mut Rng, role_type: &str, created: i64) -> FakeRole {
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
        let others: Vec<usize> = candidates.iter().skip(3).copied().collect();
        self.gen_group_only_admin_groups(rng, spec.group_only_admin_groups, &others, end);
    }

    /// Gives a role to `count` more groups (of at least two members where the org has them)
    /// none of whose members holds a role directly: members holding one are taken out of the
    /// chosen group first. Their members are admins through the group only.
    fn gen_group_only_admin_groups(
        &mut self,
        rng: &mut Rng,
        count: usize,
        candidates: &[usize],
        end: i64,
    ) {
        if count == 0 {
            return;
        }
        let has_direct_role = |org: &Org, u: u32| !org.users[u as usize].roles.is_empty();
        let mut ordered: Vec<usize> = candidates.to_vec();
        ordered.sort_by_key(|&g| (self.groups[g].members.len() < 2, g));
        let role_types = ["ORG_ADMIN", "USER_ADMIN", "APP_ADMIN"];
        let mut made = 0;
        for g in ordered {
            if made == count {
                break;
            }
            let keep: Vec<u32> = self.groups[g]
                .members
                .iter()
                .copied()
                .filter(|&u| !has_direct_role(self, u))
                .collect();
            if keep.is_empty() {
                continue;
            }
            self.groups[g].members = keep;
            let created = rng.range(self.groups[g].created.as_second(), end);
            let role = Org::gen_role(rng, role_types[made % role_types.len()], created);
            self.groups[g].roles.push(role);
            made += 1;
        }
        self.finish_memberships();
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

pub(super) fn make_factor(rng: &mut Rng, factor_type: &str, created: i64) -> FakeFactor {
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

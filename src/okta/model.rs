//! Okta resources as the connector reads them.
//!
//! Tolerant by design: unknown fields are ignored (never `deny_unknown_fields`), every timestamp
//! and profile field may be null or absent, and enum-like values outside Okta's documented lists
//! (`ACTIVATING`, `MOBILE_ADMIN`, ...) are kept as `Other(String)` instead of failing the page.
//! Only the fields the mapping uses are kept, so memory does not grow with the size of a
//! profile's custom attributes.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `GET /api/v1/users` items and `GET /api/v1/users/{id}`.
///
/// `Serialize` writes the same shape back (what the full sync spools to disk while groups are
/// still being read); reading it again gives an equal value.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub status: UserStatus,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub activated: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub status_changed: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_login: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_updated: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub password_changed: Option<Timestamp>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub profile: UserProfile,
}

/// The standard profile attributes the mapping uses. Custom attributes are skipped.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserProfile {
    #[serde(deserialize_with = "lenient_string")]
    pub login: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub email: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub second_email: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub display_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub mobile_phone: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub primary_phone: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub department: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub cost_center: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub employee_number: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub organization: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub division: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub manager_id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub manager: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub city: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub state: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub country_code: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub zip_code: Option<String>,
}

/// A user's lifecycle status. Okta documents eight; others occur (`ACTIVATING`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    LockedOut,
    PasswordExpired,
    Suspended,
    Deprovisioned,
    Other(String),
}

impl UserStatus {
    pub fn parse(value: &str) -> UserStatus {
        match value {
            "STAGED" => UserStatus::Staged,
            "PROVISIONED" => UserStatus::Provisioned,
            "ACTIVE" => UserStatus::Active,
            "RECOVERY" => UserStatus::Recovery,
            "LOCKED_OUT" => UserStatus::LockedOut,
            "PASSWORD_EXPIRED" => UserStatus::PasswordExpired,
            "SUSPENDED" => UserStatus::Suspended,
            "DEPROVISIONED" => UserStatus::Deprovisioned,
            other => UserStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            UserStatus::Staged => "STAGED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Active => "ACTIVE",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
            UserStatus::Other(other) => other,
        }
    }

    /// Whether the user can sign in: everything else counts as a disabled account.
    pub fn is_enabled(&self) -> bool {
        matches!(
            self,
            UserStatus::Active
                | UserStatus::PasswordExpired
                | UserStatus::Recovery
                | UserStatus::LockedOut
        )
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for UserStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for UserStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Ok(UserStatus::parse(&value))
    }
}

/// `GET /api/v1/groups` items.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(rename = "type", default)]
    pub group_type: GroupType,
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_updated: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_membership_updated: Option<Timestamp>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub profile: GroupProfile,
    /// Present with `expand=stats`.
    #[serde(rename = "_embedded", default, deserialize_with = "null_as_default")]
    pub embedded: GroupEmbedded,
}

impl Group {
    /// `_embedded.stats.hasAdminPrivlege` (Okta's spelling): whether a role is assigned to the
    /// group. `None` when Okta sent no stats.
    pub fn has_admin_privilege(&self) -> Option<bool> {
        self.embedded.stats.as_ref()?.has_admin_privilege
    }

    /// `_embedded.stats.usersCount`: the number of members. `None` when Okta sent no stats.
    pub fn users_count(&self) -> Option<u64> {
        self.embedded.stats.as_ref()?.users_count
    }
}

/// `_embedded` of a group listed with `expand=stats`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GroupEmbedded {
    #[serde(deserialize_with = "lenient_object")]
    pub stats: Option<GroupStats>,
}

/// A group's statistics. Any field may be missing; a value of the wrong type counts as missing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GroupStats {
    #[serde(rename = "usersCount", deserialize_with = "lenient_u64")]
    pub users_count: Option<u64>,
    /// Okta spells it `hasAdminPrivlege`; the correct spelling is accepted too in case Okta
    /// ever fixes it.
    #[serde(
        rename = "hasAdminPrivlege",
        alias = "hasAdminPrivilege",
        deserialize_with = "lenient_bool"
    )]
    pub has_admin_privilege: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GroupProfile {
    #[serde(deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub description: Option<String>,
}

/// Where a group comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum GroupType {
    #[default]
    OktaGroup,
    AppGroup,
    BuiltIn,
    Other(String),
}

impl GroupType {
    pub fn parse(value: &str) -> GroupType {
        match value {
            "OKTA_GROUP" => GroupType::OktaGroup,
            "APP_GROUP" => GroupType::AppGroup,
            "BUILT_IN" => GroupType::BuiltIn,
            other => GroupType::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            GroupType::OktaGroup => "OKTA_GROUP",
            GroupType::AppGroup => "APP_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
            GroupType::Other(other) => other,
        }
    }
}

impl<'de> Deserialize<'de> for GroupType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Ok(GroupType::parse(&value))
    }
}

/// Only the id of a resource: group members and role assignees, where the rest of the record
/// is not needed and would only cost memory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdOnly {
    pub id: String,
}

/// A role assignment from `/users/{id}/roles` or `/groups/{id}/roles`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub label: Option<String>,
    /// `SUPER_ADMIN`, `ORG_ADMIN`, ..., `CUSTOM`, or a type this version does not know.
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub role_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// `USER` (direct) or `GROUP` (inherited from a group).
    #[serde(default, deserialize_with = "lenient_string")]
    pub assignment_type: Option<String>,
    #[serde(rename = "_links", default, deserialize_with = "null_as_default")]
    pub links: RoleLinks,
}

/// The `_links` of a role assignment: `assignee` points at the user or group holding it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RoleLinks {
    #[serde(deserialize_with = "null_as_default")]
    pub assignee: Href,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Href {
    #[serde(deserialize_with = "lenient_string")]
    pub href: Option<String>,
}

impl RoleAssignment {
    /// A role grants admin rights unless Okta says it is not active.
    pub fn is_active(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s == "ACTIVE")
    }

    /// For a role inherited from a group (`assignmentType: GROUP`), the id of that group, read
    /// from the assignment's `assignee` link (`.../api/v1/groups/{id}`).
    pub fn assignee_group_id(&self) -> Option<&str> {
        let href = self.links.assignee.href.as_deref()?;
        let (_, rest) = href.split_once("/api/v1/groups/")?;
        let id = rest.split(['/', '?', '#']).next()?;
        (!id.is_empty()).then_some(id)
    }

    /// Held by the user itself rather than inherited from a group (`assignmentType: GROUP`,
    /// or an `assignee` link naming a group).
    pub fn is_direct(&self) -> bool {
        let inherited = self
            .assignment_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("GROUP"));
        !inherited && self.assignee_group_id().is_none()
    }

    /// A human label: the label, else the type.
    pub fn display_label(&self) -> Option<&str> {
        self.label.as_deref().or(self.role_type.as_deref())
    }
}

/// A factor from `/users/{id}/factors`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Factor {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub factor_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub provider: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
}

impl Factor {
    /// Only enrolled, active factors count as MFA.
    pub fn is_active(&self) -> bool {
        self.status.as_deref() == Some("ACTIVE")
    }
}

/// A System Log event (`GET /api/v1/logs`): only what tells which users and groups changed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    #[serde(default, deserialize_with = "lenient_string")]
    pub uuid: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub published: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub event_type: Option<String>,
    /// What the event acted on: users, groups, roles, apps, ... (often several).
    #[serde(default, deserialize_with = "lenient_targets")]
    pub target: Vec<LogTarget>,
}

/// One target of a System Log event.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogTarget {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// `User`, `UserGroup`, `AppInstance`, ...
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub target_type: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub alternate_id: Option<String>,
}

impl LogTarget {
    /// The id of a target that is a user.
    pub fn user_id(&self) -> Option<&str> {
        self.id_if("User")
    }

    /// The id of a target that is a group.
    pub fn group_id(&self) -> Option<&str> {
        self.id_if("UserGroup")
    }

    fn id_if(&self, target_type: &str) -> Option<&str> {
        let is = self
            .target_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(target_type));
        self.id.as_deref().filter(|_| is)
    }
}

/// Okta's error body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorBody {
    #[serde(deserialize_with = "lenient_string")]
    pub error_code: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub error_summary: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub error_id: Option<String>,
}

/// A string field that may be null, absent, or (in odd orgs) a number or boolean. Objects and
/// arrays become `None` rather than failing the whole page; empty strings become `None` too,
/// because the output never carries empty values.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// An RFC 3339 timestamp that may be null, absent or malformed (then `None`).
fn lenient_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::String(s)) => s.parse::<Timestamp>().ok(),
        _ => None,
    })
}

/// An unsigned integer that may be null, absent or of another type (then `None`).
fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| v.as_u64()))
}

/// A boolean that may be null, absent or of another type (then `None`).
fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| v.as_bool()))
}

/// An object that may be null, absent or malformed (then `None`, never a failed page).
fn lenient_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// Event targets: a list whose unreadable entries are dropped (a null list is empty).
fn lenient_targets<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<LogTarget>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        _ => Vec::new(),
    })
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_with_nulls_odd_types_and_unknown_status_parses() {
        let json = r#"{"id":"00u1","status":"ACTIVATING","created":"2026-01-02T03:04:05.000Z",
            "activated":null,"lastLogin":"not a date","profile":{"login":"a@b.c","firstName":null,
            "employeeNumber":42,"custom":{"x":[1,2]},"title":""},"credentials":{"password":{}}}"#;
        let user: User = serde_json::from_str(json).unwrap();
        assert_eq!(user.status, UserStatus::Other("ACTIVATING".into()));
        assert_eq!(user.activated, None);
        assert_eq!(user.last_login, None);
        assert_eq!(user.profile.employee_number.as_deref(), Some("42"));
        assert_eq!(user.profile.title, None);
        assert!(!user.status.is_enabled());
    }

    #[test]
    fn group_stats_are_read_with_okta_spelling_and_tolerate_odd_values() {
        let group: Group = serde_json::from_str(
            r#"{"id":"00g1","type":"OKTA_GROUP","profile":{"name":"A"},
            "_embedded":{"stats":{"usersCount":12,"appsCount":0,"hasAdminPrivlege":true}}}"#,
        )
        .unwrap();
        assert_eq!(group.has_admin_privilege(), Some(true));
        assert_eq!(group.users_count(), Some(12));
        let plain: Group = serde_json::from_str(r#"{"id":"00g2","profile":null}"#).unwrap();
        assert_eq!(plain.has_admin_privilege(), None);
        let odd: Group = serde_json::from_str(
            r#"{"id":"00g3","_embedded":{"stats":{"usersCount":"x","hasAdminPrivlege":null}}}"#,
        )
        .unwrap();
        assert_eq!((odd.users_count(), odd.has_admin_privilege()), (None, None));
        let broken: Group =
            serde_json::from_str(r#"{"id":"00g4","_embedded":{"stats":[1,2]}}"#).unwrap();
        assert_eq!(broken.has_admin_privilege(), None);
    }

    #[test]
    fn log_events_keep_user_and_group_targets() {
        let event: LogEvent = serde_json::from_str(
            r#"{"uuid":"e1","published":"2026-01-02T03:04:05.678Z","eventType":"group.user_membership.add",
            "actor":{"id":"00uA"},"target":[{"id":"00u1","type":"User","alternateId":"a@b.c"},
            {"id":"00g1","type":"UserGroup"},{"id":"0oa1","type":"AppInstance"},42]}"#,
        )
        .unwrap();
        assert_eq!(event.target.len(), 3);
        assert_eq!(event.target[0].user_id(), Some("00u1"));
        assert_eq!(event.target[1].group_id(), Some("00g1"));
        assert_eq!(event.target[2].user_id(), None);
        let bare: LogEvent = serde_json::from_str(r#"{"target":null}"#).unwrap();
        assert!(bare.target.is_empty() && bare.event_type.is_none());
    }

    #[test]
    fn null_profile_is_an_empty_profile() {
        let user: User =
            serde_json::from_str(r#"{"id":"00u1","status":"STAGED","profile":null}"#).unwrap();
        assert_eq!(user.profile, UserProfile::default());
    }
}

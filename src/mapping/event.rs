//! The OCSF 1.8.0 User Inventory Info event as it is serialised.
//!
//! Every field borrows from the Okta [`User`](crate::okta::model::User), the enrichment and the
//! [`MapContext`](super::MapContext); derived values (full name, record uid, RFC 3339 times) are
//! written straight into the serializer through `Display` wrappers, so building an event
//! allocates nothing and serialising it allocates only the output buffer.
//!
//! Optional fields are `Option`s skipped when `None`; the mapper never puts an empty string in a
//! `Some`, so the JSON carries neither `null` nor `""`.

use std::fmt;

use jiff::Timestamp;
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::GroupInfo;

/// One User Inventory Info event. Build it with [`map_user`](super::map_user) or
/// [`map_deleted_user`](super::map_deleted_user).
#[derive(Debug, Clone, Serialize)]
pub struct Event<'a> {
    pub(super) activity_id: u8,
    pub(super) activity_name: &'static str,
    pub(super) category_uid: u8,
    pub(super) category_name: &'static str,
    pub(super) class_uid: u32,
    pub(super) class_name: &'static str,
    pub(super) type_uid: u32,
    pub(super) type_name: &'static str,
    pub(super) severity_id: u8,
    pub(super) severity: &'static str,
    pub(super) time: i64,
    pub(super) metadata: Metadata<'a>,
    #[serde(skip)]
    pub(super) user: UserObject<'a>,
    #[serde(skip)]
    pub(super) enrichments: [AccountEnrichment<'a>; 1],
    /// `user` and `enrichments` as serialised once (the fingerprint of `metadata.uid` is taken
    /// over these bytes): the event's JSON copies them rather than serialising them again.
    #[serde(rename = "user")]
    pub(super) user_json: Box<RawValue>,
    #[serde(rename = "enrichments")]
    pub(super) enrichments_json: Box<RawValue>,
}

impl Event<'_> {
    /// The event as compact JSON.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write_json(&mut out);
        out
    }

    /// Appends the event as compact JSON to `out` (for batch buffers: no intermediate copy).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Serialising plain structs of strings, integers and booleans into a Vec cannot fail.
        serde_json::to_writer(out, self).expect("an OCSF event always serialises");
    }

    /// The Okta user id this event describes (`user.uid`; empty only for a record that was
    /// not [mappable](super::is_mappable)).
    pub fn user_uid(&self) -> &str {
        self.user.uid.unwrap_or_default()
    }

    /// `user.type_id == 2` (Admin); `None` when admin rights are unknown.
    pub fn is_admin(&self) -> Option<bool> {
        self.user.type_id.map(|id| id == USER_TYPE_ADMIN.0)
    }

    /// `user.has_mfa`; `None` when unknown.
    pub fn has_mfa(&self) -> Option<bool> {
        self.user.has_mfa
    }

    /// `metadata.uid`: identical for identical content (see `RecordUid`).
    pub fn record_uid(&self) -> String {
        self.metadata.uid.to_string()
    }

    /// The Okta status carried in `enrichments[0].value` (`DELETED` for hard deletes).
    pub fn status(&self) -> &str {
        self.enrichments[0].value
    }
}

pub(super) const USER_TYPE_USER: (u8, &str) = (1, "User");
pub(super) const USER_TYPE_ADMIN: (u8, &str) = (2, "Admin");

#[derive(Debug, Clone, Serialize)]
pub(super) struct Metadata<'a> {
    pub version: &'static str,
    pub product: Product,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_uid: Option<&'a str>,
    pub uid: RecordUid<'a>,
    /// When the connector collected the record (epoch ms).
    pub logged_time: i64,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Product {
    pub name: &'static str,
    pub vendor_name: &'static str,
}

/// `metadata.uid`: the Okta id and a fingerprint of the event's content (everything but the
/// collection time). The same content always gets the same uid; any change gets a new one, so
/// the sync can skip re-sending an event the intake already holds, and never skips a change
/// (Okta's `lastUpdated` has whole seconds and does not move for membership, role or MFA
/// changes, so it cannot tell versions apart).
#[derive(Debug, Clone)]
pub(super) struct RecordUid<'a> {
    pub id: &'a str,
    pub version: RecordVersion,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum RecordVersion {
    /// 128-bit fingerprint of the content.
    Content(u128),
    /// Hard delete observed at this epoch ms.
    Deleted(i64),
}

impl fmt::Display for RecordUid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            RecordVersion::Content(fp) => write!(f, "{}:{:032x}", self.id, fp),
            RecordVersion::Deleted(ms) => write!(f, "{}:deleted:{}", self.id, ms),
        }
    }
}

/// A stable (across runs, builds and platforms) 128-bit fingerprint of `bytes`: two lanes
/// that each take 8 bytes per step through a bijective mix, then a final avalanche. Not a
/// security hash: the events are ours, nobody crafts collisions. Within one lane each step is a
/// bijection of both the state and the word, so two inputs of the same length that differ in
/// a single 8-byte word never collide.
pub(super) fn fingerprint128(bytes: &[u8]) -> u128 {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;
    let len = bytes.len() as u64;
    let mut a = 0x243f_6a88_85a3_08d3 ^ len;
    let mut b = 0x1319_8a2e_0370_7344 ^ len.rotate_left(32);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        a = (a ^ word).wrapping_mul(K1).rotate_left(31);
        b = (b.rotate_left(27) ^ word).wrapping_mul(K2);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    let word = u64::from_le_bytes(tail);
    a = (a ^ word).wrapping_mul(K1).rotate_left(31);
    b = (b.rotate_left(27) ^ word).wrapping_mul(K2);
    (u128::from(fmix64(a ^ b.rotate_left(17))) << 64) | u128::from(fmix64(b ^ a))
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Serialize for RecordUid<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct UserObject<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid_alt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_addr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<FullName<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_id: Option<u8>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_mfa: Option<bool>,
    pub account: Account<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Groups<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<Organization<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ldap_person: Option<LdapPerson<'a>>,
}

/// `"first last"`, or whichever of the two is set; never built when both are missing.
#[derive(Debug, Clone, Copy)]
pub(super) enum FullName<'a> {
    One(&'a str),
    Two(&'a str, &'a str),
}

impl fmt::Display for FullName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FullName::One(name) => f.write_str(name),
            FullName::Two(first, last) => {
                f.write_str(first)?;
                f.write_str(" ")?;
                f.write_str(last)
            }
        }
    }
}

impl Serialize for FullName<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Account<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub is_disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_locked: Option<bool>,
}

/// `user.groups`, serialised straight from the caller's [`GroupInfo`] slice.
#[derive(Debug, Clone, Copy)]
pub(super) struct Groups<'a>(pub &'a [&'a GroupInfo]);

impl Serialize for Groups<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for group in self.0.iter().filter(|g| group_is_usable(g)) {
            seq.serialize_element(&GroupObject(group))?;
        }
        seq.end()
    }
}

/// A group without an id and without a name cannot be named in OCSF (`at_least_one`): skipped.
pub(super) fn group_is_usable(group: &GroupInfo) -> bool {
    non_blank(&group.uid).is_some() || group.name.as_deref().and_then(non_blank).is_some()
}

struct GroupObject<'a>(&'a GroupInfo);

impl Serialize for GroupObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.0;
        let uid = non_blank(&g.uid);
        // The Sekoia model requires `group.name`; Okta groups always have one, but should it be
        // missing the id is the only honest label left.
        let name = g.name.as_deref().and_then(non_blank).or(uid);
        let desc = g.desc.as_deref().and_then(non_blank);
        let type_ = non_blank(&g.group_type);
        let has_privileges = g.privileges.iter().any(|p| non_blank(p).is_some());
        let mut st = s.serialize_struct("group", 5)?;
        if let Some(uid) = uid {
            st.serialize_field("uid", uid)?;
        }
        if let Some(name) = name {
            st.serialize_field("name", name)?;
        }
        if let Some(desc) = desc {
            st.serialize_field("desc", desc)?;
        }
        if let Some(type_) = type_ {
            st.serialize_field("type", type_)?;
        }
        if has_privileges {
            st.serialize_field("privileges", &Privileges(&g.privileges))?;
        }
        st.end()
    }
}

struct Privileges<'a>(&'a [String]);

impl Serialize for Privileges<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for label in self.0.iter().filter_map(|p| non_blank(p)) {
            seq.serialize_element(label)?;
        }
        seq.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Organization<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ou_name: Option<&'a str>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct LdapPerson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employee_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "EmailAddrs::is_empty")]
    pub email_addrs: EmailAddrs<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_time: Option<i64>,
}

impl LdapPerson<'_> {
    pub fn is_empty(&self) -> bool {
        self.given_name.is_none()
            && self.surname.is_none()
            && self.job_title.is_none()
            && self.department.is_none()
            && self.cost_center.is_none()
            && self.employee_uid.is_none()
            && self.email_addrs.is_empty()
            && self.manager.is_none()
            && self.location.is_none()
            && self.created_time.is_none()
            && self.modified_time.is_none()
            && self.last_login_time.is_none()
            && self.deleted_time.is_none()
    }
}

/// Up to two valid, distinct addresses (`email`, `secondEmail`), without a heap allocation.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct EmailAddrs<'a>(pub [Option<&'a str>; 2]);

impl EmailAddrs<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

impl Serialize for EmailAddrs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for addr in self.0.iter().flatten() {
            seq.serialize_element(addr)?;
        }
        seq.end()
    }
}

/// `ldap_person.manager` is an OCSF `user`: at least one of `uid` / `name` is always set.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Manager<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

/// `ldap_person.location`: at least one field is always set.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Location<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<&'a str>,
}

/// `enrichments[0]`: the account state in the shape Sekoia's own user connectors use.
#[derive(Debug, Clone, Serialize)]
pub(super) struct AccountEnrichment<'a> {
    pub name: &'static str,
    pub value: &'a str,
    pub data: AccountData,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct AccountData {
    pub is_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_logon: Option<Rfc3339>,
    /// Epoch **seconds** (the Sekoia model's convention for this field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_time_password_change: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_changed: Option<Rfc3339>,
}

/// An RFC 3339 UTC timestamp with millisecond precision: `2026-01-02T03:04:05.000Z`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rfc3339(pub Timestamp);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:.3}", self.0))
    }
}

/// `Some(s)` unless `s` is empty or only whitespace.
pub(super) fn non_blank(s: &str) -> Option<&str> {
    if s.trim().is_empty() {
        None
    } else {
        Some(s)
    }
}

//! Okta user + enrichment → OCSF 1.8.0 "User Inventory Info" event (class 5003, activity 2
//! Collect), field by field as docs/mapping.md lists.
//!
//! Pure: no I/O, no clock (the collection time comes in [`MapContext`]), no globals, so it can be
//! tested and fuzzed alone. [`map_user`] borrows from its inputs and allocates nothing; the only
//! allocation is the output buffer of [`Event::to_json_bytes`] / [`Event::write_json`].
//!
//! # Rules that keep the output true and valid
//!
//! - **Unknown stays unknown** (a failed call is no evidence): `Enrichment::is_admin == None` omits `user.type_id` /
//!   `user.type`; `has_mfa == None` omits `user.has_mfa`; `groups == None` omits `user.groups`.
//!   A *known* empty membership (`Some(&[])`) is written as `"groups": []`: it is a true statement
//!   and the only way to tell the platform that a user left their last group (an omitted field
//!   would leave the previous groups in place on a merging inventory).
//! - No `null` and no `""` anywhere: every optional field is skipped when absent or blank.
//! - Values are copied verbatim (markup, unicode, long strings); nothing is interpreted.
//! - `user.email_addr`, `user.domain` and `ldap_person.email_addrs` only carry addresses that pass
//!   [`is_valid_email`], a strict subset of the OCSF `email_t` pattern; anything else is omitted.
//! - `full_name` is `"first last"` from the trimmed parts, or the one that is set; omitted when
//!   both are missing (never the string `"None"`, which Sekoia's Python connector emits).
//! - Times: `time` is the collection time in the [`TimeUnit`] of the output format (ms for
//!   `ocsf`, whole seconds for `sekoia`); every `*_time` field is epoch **ms**;
//!   `enrichments[0].data.last_time_password_change` is epoch **seconds**; `last_logon` and
//!   `status_changed` are RFC 3339 with millisecond precision and `Z`. An Okta timestamp before
//!   2001-09-09 (epoch ms < 10^12; Okta was founded in 2009) can only come from a broken import
//!   and would be indistinguishable from a value in seconds: it is omitted.
//! - `metadata.uid` = `{id}:{fingerprint}`: 32 hex digits of a 128-bit fingerprint of the whole
//!   event except when it was collected (`time`, `metadata.logged_time`). The same content
//!   always gets the same uid, any change a new one, whatever moved: the record (Okta's
//!   `lastUpdated` has whole seconds, so two changes inside one second share it), the groups,
//!   admin rights or MFA (which do not move `lastUpdated` at all). The sync stores the uid it
//!   delivered per user and skips only an identical event. Hard deletes:
//!   `{id}:deleted:{epoch ms}`.
//! - A record whose Okta `id` is blank is not an Okta user and has no identity to report:
//!   callers skip it ([`is_mappable`]).
//!
//! # The Sekoia asset model (`UserOCSFModel`)
//!
//! Sekoia's intake validates every item with the pydantic model `UserOCSFModel`. Read from
//! `SEKOIA-IO/sekoia-automation-models` `sekoia_automation_models/ocsf/user.py` and its export
//! `.github/schemas/UserOCSFModel.json`, and from `SEKOIA-IO/sekoia-automation-sdk`
//! `sekoia_automation/asset_connector/models/ocsf/{base,user,group}.py`. Pydantic ignores
//! unknown keys, so the OCSF fields it does not model (`ldap_person.location`, `manager`,
//! `email_addrs`, `enrichments[0].data.status_changed`, ...) pass through. Its extra rules, all
//! applied here and checked by `tests/integration/support/ocsf.rs`:
//!
//! - required top-level: `activity_id`, `activity_name`, `category_name`, `category_uid`,
//!   `class_name`, `class_uid`, `type_name`, `type_uid`, `time` (a number), `metadata`
//!   (`product.name` and `version` required), `user`; `severity` is one of `Unknown`,
//!   `Informational`, `Low`, `Medium`, `High`, `Critical`, `Fatal`, `Other`.
//! - `user.name` **and** `user.uid` are required strings (OCSF needs only one of account / name /
//!   uid): `user.name` is the login, falling back to the Okta id when a profile has no login.
//! - `user.account` requires `name`, `type_id` and `type`; `type` must be one of the model's
//!   `AccountTypeStr` values (`"Other"` here, with `type_id` 99: an Okta account is none of the
//!   listed kinds). `account.name` falls back to the id like `user.name`.
//! - `user.type_id` ∈ {0 Unknown, 1 User, 2 Admin, 3 System, 4 Service} with that caption in
//!   `user.type` (OCSF's 99 "Other" is rejected by the model): only 1 and 2 are used.
//! - `user.groups[].name` is required (OCSF accepts uid alone): a group without a name is
//!   labelled with its id. `privileges` is a list of strings.
//! - `user.org.name` is required: `org` is only written when `organization` is set.
//! - `enrichments[]` items are `{name, value, data}` (the SDK version requires all three,
//!   `value` a string); `data` fields are typed: `is_enabled` bool, `last_logon` string,
//!   `last_time_password_change` a number in epoch **seconds** (Sekoia's Okta connector uses
//!   `isoparse(passwordChanged).timestamp()`), `bad_password_count` / `number_of_logons` ints.
//! - `time` is epoch seconds in Sekoia's own connectors (`SEKOIA-IO/automation-library`
//!   `Okta/okta_modules/asset_connector/user_assets.py`): hence [`TimeUnit::Seconds`] for the
//!   `sekoia` output format.

mod event;
pub mod oversized;

use jiff::Timestamp;

use crate::okta::model::{User, UserStatus};

pub use event::Event;
use event::{
    fingerprint128, Account, AccountData, AccountEnrichment, EmailAddrs, FullName, Groups,
    LdapPerson, Location, Manager, Metadata, Organization, Product, RecordUid, RecordVersion,
    Rfc3339, UserObject,
};

/// The unit of the top-level `time` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Whole epoch seconds: the `sekoia` output format (the platform's convention).
    Seconds,
    /// Epoch milliseconds: the `ocsf` output format (OCSF `timestamp_t`).
    Milliseconds,
}

/// What the mapping needs to know about the run rather than the user.
#[derive(Debug, Clone)]
pub struct MapContext {
    /// The Okta org host, e.g. `acme.okta.com` (`metadata.tenant_uid`).
    pub tenant_uid: String,
    /// When this cycle collected the records (`time`, `metadata.logged_time`).
    pub collected_at: Timestamp,
    pub time_unit: TimeUnit,
}

/// A group as the user's `groups[]` entries show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInfo {
    pub uid: String,
    pub name: Option<String>,
    pub desc: Option<String>,
    /// `OKTA_GROUP`, `APP_GROUP`, `BUILT_IN` or whatever Okta sent.
    pub group_type: String,
    /// Labels of the group's admin roles.
    pub privileges: Vec<String>,
}

/// What the sync learnt about a user besides the user record. `None` everywhere means
/// "could not be determined" and leads to an omitted field, never to a false value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Enrichment<'a> {
    /// The user's groups; `None` when membership could not be read.
    pub groups: Option<&'a [&'a GroupInfo]>,
    /// Holds an active admin role (directly or through a group); `None` when roles are unknown.
    pub is_admin: Option<bool>,
    /// Has at least one ACTIVE factor; `None` when factors could not be read.
    pub has_mfa: Option<bool>,
}

impl Enrichment<'_> {
    /// Nothing known besides the user record.
    pub const UNKNOWN: Enrichment<'static> = Enrichment {
        groups: None,
        is_admin: None,
        has_mfa: None,
    };
}

const OCSF_VERSION: &str = "1.8.0";
const PRODUCT: Product = Product {
    name: "Okta",
    vendor_name: "Okta",
};
/// OCSF account type 99 "Other": the only value that is true for an Okta account and accepted by
/// the Sekoia model.
const ACCOUNT_TYPE: (u8, &str) = (99, "Other");
/// Earliest plausible Okta timestamp (2001-09-09, epoch ms 10^12); see the module docs.
const MIN_PLAUSIBLE_MS: i64 = 1_000_000_000_000;

/// Whether `user` can be reported at all: it needs a non-blank Okta id.
pub fn is_mappable(user: &User) -> bool {
    non_blank(&user.id).is_some()
}

/// Maps one Okta user and what is known about it to a User Inventory Info event.
pub fn map_user<'a>(user: &'a User, enrichment: &Enrichment<'a>, ctx: &'a MapContext) -> Event<'a> {
    let p = &user.profile;
    let id = non_blank(&user.id);
    let login = opt(&p.login);
    let name = login.or(id);

    let email = opt(&p.email).filter(|e| is_valid_email(e));
    let second_email = opt(&p.second_email)
        .filter(|e| is_valid_email(e))
        .filter(|e| Some(*e) != email);
    let domain = email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);

    let full_name = match (trimmed(&p.first_name), trimmed(&p.last_name)) {
        (Some(first), Some(last)) => Some(FullName::Two(first, last)),
        (Some(one), None) | (None, Some(one)) => Some(FullName::One(one)),
        (None, None) => None,
    };

    let (type_id, type_) = match enrichment.is_admin {
        Some(true) => (
            Some(event::USER_TYPE_ADMIN.0),
            Some(event::USER_TYPE_ADMIN.1),
        ),
        Some(false) => (Some(event::USER_TYPE_USER.0), Some(event::USER_TYPE_USER.1)),
        None => (None, None),
    };

    let org = opt(&p.organization).map(|name| Organization {
        name,
        ou_name: opt(&p.division),
    });

    let manager_uid = opt(&p.manager_id);
    let manager_name = opt(&p.manager);
    let manager = (manager_uid.is_some() || manager_name.is_some()).then_some(Manager {
        uid: manager_uid,
        name: manager_name,
    });

    let location = Location {
        city: opt(&p.city),
        region: opt(&p.state),
        country: opt(&p.country_code),
        postal_code: opt(&p.zip_code),
    };
    let has_location = location.city.is_some()
        || location.region.is_some()
        || location.country.is_some()
        || location.postal_code.is_some();

    let last_updated = plausible(user.last_updated);
    let ldap = LdapPerson {
        given_name: opt(&p.first_name),
        surname: opt(&p.last_name),
        job_title: opt(&p.title),
        department: opt(&p.department),
        cost_center: opt(&p.cost_center),
        employee_uid: opt(&p.employee_number),
        email_addrs: EmailAddrs([email, second_email]),
        manager,
        location: has_location.then_some(location),
        created_time: plausible(user.created).map(|t| t.as_millisecond()),
        modified_time: last_updated.map(|t| t.as_millisecond()),
        last_login_time: plausible(user.last_login).map(|t| t.as_millisecond()),
        deleted_time: None,
    };

    let status = non_blank(user.status.as_str()).unwrap_or("UNKNOWN");

    let user_object = UserObject {
        uid: id,
        name,
        uid_alt: login,
        email_addr: email,
        domain,
        full_name,
        display_name: opt(&p.display_name),
        phone_number: opt(&p.mobile_phone).or(opt(&p.primary_phone)),
        type_id,
        type_,
        has_mfa: enrichment.has_mfa,
        account: Account {
            uid: id,
            name,
            type_id: ACCOUNT_TYPE.0,
            type_: ACCOUNT_TYPE.1,
            is_disabled: !user.status.is_enabled(),
            is_locked: Some(user.status == UserStatus::LockedOut),
        },
        groups: enrichment.groups.map(Groups),
        org,
        ldap_person: (!ldap.is_empty()).then_some(ldap),
    };
    let account = AccountEnrichment {
        name: "account",
        value: status,
        data: AccountData {
            is_enabled: user.status.is_enabled(),
            last_logon: plausible(user.last_login).map(Rfc3339),
            last_time_password_change: plausible(user.password_changed).map(|t| t.as_second()),
            status_changed: plausible(user.status_changed).map(Rfc3339),
        },
    };
    event(
        ctx,
        id.unwrap_or_default(),
        Version::Content,
        user_object,
        account,
    )
}

/// The event for a user that disappeared from Okta (hard delete): identity, `deleted_time`, a
/// disabled account and the status `DELETED`. Nothing else is claimed.
pub fn map_deleted_user<'a>(
    user_id: &'a str,
    login: Option<&'a str>,
    deleted_at: Timestamp,
    ctx: &'a MapContext,
) -> Event<'a> {
    let id = non_blank(user_id);
    let login = login.and_then(non_blank);
    let name = login.or(id);
    let deleted_ms = deleted_at.as_millisecond();
    event(
        ctx,
        user_id,
        Version::Deleted(deleted_ms),
        UserObject {
            uid: id,
            name,
            uid_alt: login,
            email_addr: None,
            domain: None,
            full_name: None,
            display_name: None,
            phone_number: None,
            type_id: None,
            type_: None,
            has_mfa: None,
            account: Account {
                uid: id,
                name,
                type_id: ACCOUNT_TYPE.0,
                type_: ACCOUNT_TYPE.1,
                is_disabled: true,
                is_locked: None,
            },
            groups: None,
            org: None,
            ldap_person: Some(LdapPerson {
                deleted_time: Some(deleted_ms),
                ..LdapPerson::default()
            }),
        },
        AccountEnrichment {
            name: "account",
            value: "DELETED",
            data: AccountData {
                is_enabled: false,
                last_logon: None,
                last_time_password_change: None,
                status_changed: None,
            },
        },
    )
}

/// Which `metadata.uid` an event gets.
enum Version {
    /// A fingerprint of its content.
    Content,
    /// A hard delete observed at this epoch ms.
    Deleted(i64),
}

/// Assembles an event: the constant classification fields, `time`, the uid, and the given
/// parts. The user object and the enrichments are serialised once, here: the fingerprint is
/// taken over those bytes, and the event's own serialisation copies them.
fn event<'a>(
    ctx: &'a MapContext,
    id: &'a str,
    version: Version,
    user: UserObject<'a>,
    enrichment: AccountEnrichment<'a>,
) -> Event<'a> {
    let enrichments = [enrichment];
    let user_json = raw_json(&user, 2048);
    let enrichments_json = raw_json(&enrichments, 256);
    let version = match version {
        Version::Content => RecordVersion::Content(content_fingerprint(
            ctx,
            user_json.get(),
            enrichments_json.get(),
        )),
        Version::Deleted(ms) => RecordVersion::Deleted(ms),
    };
    Event {
        activity_id: 2,
        activity_name: "Collect",
        category_uid: 5,
        category_name: "Discovery",
        class_uid: 5003,
        class_name: "User Inventory Info",
        type_uid: 500302,
        type_name: "User Inventory Info: Collect",
        severity_id: 1,
        severity: "Informational",
        time: match ctx.time_unit {
            TimeUnit::Seconds => ctx.collected_at.as_second(),
            TimeUnit::Milliseconds => ctx.collected_at.as_millisecond(),
        },
        metadata: metadata(ctx, RecordUid { id, version }),
        user,
        enrichments,
        user_json,
        enrichments_json,
    }
}

/// `value` serialised once, into a buffer sized for it (`capacity` bytes to start with).
fn raw_json(value: &impl serde::Serialize, capacity: usize) -> Box<serde_json::value::RawValue> {
    let mut bytes = Vec::with_capacity(capacity);
    // Plain structs of strings, integers and booleans serialise into a Vec infallibly, and
    // serde_json writes valid UTF-8.
    serde_json::to_writer(&mut bytes, value).expect("the event part serialises");
    let json = String::from_utf8(bytes).expect("serde_json writes UTF-8");
    serde_json::value::RawValue::from_string(json).expect("serde_json writes valid JSON")
}

/// Fingerprint of everything the event says except when it was collected (`time`,
/// `metadata.logged_time`) and the uid itself: the tenant, the user object and the
/// enrichments, as serialised. The classification fields are constants, so they add nothing.
/// Each part is fingerprinted where it lies, then the three fingerprints together.
fn content_fingerprint(ctx: &MapContext, user_json: &str, enrichments_json: &str) -> u128 {
    let mut parts = [0u8; 48];
    for (i, part) in [ctx.tenant_uid.trim(), user_json, enrichments_json]
        .iter()
        .enumerate()
    {
        parts[i * 16..(i + 1) * 16].copy_from_slice(&fingerprint128(part.as_bytes()).to_le_bytes());
    }
    fingerprint128(&parts)
}

fn metadata<'a>(ctx: &'a MapContext, uid: RecordUid<'a>) -> Metadata<'a> {
    Metadata {
        version: OCSF_VERSION,
        product: PRODUCT,
        tenant_uid: non_blank(&ctx.tenant_uid),
        uid,
        logged_time: ctx.collected_at.as_millisecond(),
    }
}

/// Whether `addr` is a plain `local@domain` address that the OCSF `email_t` pattern
/// (`^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`) accepts and that is
/// also well formed by RFC 5321 standards: ASCII only, no comma, no leading, trailing or double
/// dot in the local part, a domain of at least two dot-separated labels of letters, digits and
/// inner hyphens, at most 64 + 1 + 253 characters.
pub fn is_valid_email(addr: &str) -> bool {
    let Some((local, domain)) = addr.split_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.is_empty() || domain.len() > 253 {
        return false;
    }
    let local_ok = local
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok {
        return false;
    }
    let mut labels = 0;
    for label in domain.split('.') {
        labels += 1;
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return false;
        }
    }
    labels >= 2
}

fn opt(value: &Option<String>) -> Option<&str> {
    value.as_deref().and_then(non_blank)
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn non_blank(s: &str) -> Option<&str> {
    event::non_blank(s)
}

fn plausible(ts: Option<Timestamp>) -> Option<Timestamp> {
    ts.filter(|t| t.as_millisecond() >= MIN_PLAUSIBLE_MS)
}

#[cfg(test)]
mod tests;

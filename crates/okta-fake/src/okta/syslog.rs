//! The System Log: what the org records as it changes, and the sign-in noise a live org's log is
//! mostly made of.
//!
//! Every event has a `published` time (when it happened, on the fake's clock, in milliseconds)
//! and a persistence time: `published` plus a visibility lag drawn per event in
//! `[0, max_lag_ms]` (`FakeOptions::log_lag_ms`). Queries see an event only once it is persisted,
//! so events become visible out of `published` order, as Okta warns: a client that resumes from
//! the last `published` it saw misses the late ones, while polling by persistence time (a
//! `since` without `until`, following the `next` link) misses none.
//!
//! Event types used, and where they were confirmed (Okta's Event Types catalog is the reference;
//! each name below also appears in published material):
//! - `user.lifecycle.create`, `.activate`, `.deactivate`, `.suspend`, `.unsuspend`,
//!   `.reactivate`, `.delete.initiated`, `.delete.completed`: Okta Workflows event cards (help.okta.com
//!   "User Deactivated", "User Unsuspended"), event-hook configurations (terraform okta_event_hook
//!   examples), SIEM rule sets listing the catalog.
//! - `user.account.update_profile`, `user.account.lock`, `user.account.unlock`,
//!   `user.account.reset_password`, `user.account.expire_password`: Workflows "User Okta Profile
//!   Updated"; System Log query guides; the management spec's event-hook and SSF sections
//!   (`user.account.reset_password`).
//! - `group.user_membership.add` / `.remove` (targets: the User and the UserGroup): the management
//!   spec's event-hook examples; real events quoted in SIEM integrations
//!   (`"displayMessage": "Add user to group membership"`).
//! - `group.profile.update`, `group.lifecycle.create`, `group.lifecycle.delete`: Workflows "Group
//!   Deleted"; event-hook handlers.
//! - `group.privilege.grant` / `.revoke`, `user.account.privilege.grant` / `.revoke`: Workflows
//!   "Group Privilege Granted/Revoked"; Azure Sentinel's Okta hunting query; a recorded
//!   `user.account.privilege.grant` event (target: the User; `debugData.privilegeGranted`).
//! - `user.mfa.factor.activate`, `.deactivate`, `.update`, `.reset_all`: the management spec's SSF
//!   transmitter section (mapped to CAEP "credential change").
//! - `user.session.start`, `user.session.end`, `user.authentication.sso`,
//!   `policy.evaluate_sign_on`: the System Log API reference's example event; SIEM rule sets.
//!
//! Choices of this fake where Okta documents nothing: a role assignment set INACTIVE is recorded
//! as a privilege revoke, set ACTIVE again as a grant; enrolling a factor that is not yet active
//! is recorded as `user.mfa.factor.update`; a hard delete records `delete.initiated` then
//! `delete.completed`, and no membership removals.

use serde_json::{json, Value};

use crate::rng::{mix, Rng};
use crate::time::{from_ms, okta};

/// An actor or a target of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntity {
    pub id: String,
    /// `User`, `UserGroup`, `AppInstance`, `PolicyEntity`, `PublicClientApp`, ...
    pub kind: String,
    pub alternate_id: String,
    pub display_name: String,
}

impl LogEntity {
    pub fn new(id: &str, kind: &str, alternate_id: &str, display_name: &str) -> LogEntity {
        LogEntity {
            id: id.to_string(),
            kind: kind.to_string(),
            alternate_id: alternate_id.to_string(),
            display_name: display_name.to_string(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "alternateId": self.alternate_id,
            "displayName": self.display_name,
        })
    }
}

/// One recorded event.
#[derive(Clone, Debug)]
pub struct LogEvent {
    /// Append order, unique: the paging cursor.
    pub seq: u64,
    pub uuid: String,
    pub published_ms: i64,
    /// When queries start seeing it (`published_ms` + its visibility lag).
    pub persisted_ms: i64,
    pub event_type: String,
    pub display_message: String,
    pub severity: &'static str,
    pub outcome: &'static str,
    pub actor: LogEntity,
    pub targets: Vec<LogEntity>,
    pub debug_data: Vec<(String, String)>,
    pub legacy_event_type: Option<&'static str>,
}

impl LogEvent {
    /// Whether any target has this id.
    pub fn targets_id(&self, id: &str) -> bool {
        self.targets.iter().any(|t| t.id == id)
    }
}

/// What an event says, before the log stamps it.
pub(crate) struct Record {
    pub event_type: &'static str,
    pub display_message: &'static str,
    pub targets: Vec<LogEntity>,
    pub debug_data: Vec<(String, String)>,
}

impl Record {
    pub fn new(event_type: &'static str, targets: Vec<LogEntity>) -> Record {
        Record {
            event_type,
            display_message: display_message(event_type),
            targets,
            debug_data: Vec::new(),
        }
    }

    pub fn debug(mut self, key: &str, value: impl Into<String>) -> Record {
        self.debug_data.push((key.to_string(), value.into()));
        self
    }
}

/// The display message Okta's catalog gives each event type this fake records.
fn display_message(event_type: &str) -> &'static str {
    match event_type {
        "user.lifecycle.create" => "Create Okta user",
        "user.lifecycle.activate" => "Activate Okta user",
        "user.lifecycle.deactivate" => "Deactivate Okta user",
        "user.lifecycle.suspend" => "Suspend Okta user",
        "user.lifecycle.unsuspend" => "Unsuspend Okta user",
        "user.lifecycle.reactivate" => "Reactivate Okta user",
        "user.lifecycle.delete.initiated" => "Delete Okta user initiated",
        "user.lifecycle.delete.completed" => "Delete Okta user completed",
        "user.account.update_profile" => "Update user profile for Okta",
        "user.account.lock" => "Max sign in attempts exceeded",
        "user.account.unlock" => "Unlock user account",
        "user.account.reset_password" => "Reset password for Okta user",
        "user.account.expire_password" => "Expire password for Okta user",
        "user.account.privilege.grant" => "Grant user privilege",
        "user.account.privilege.revoke" => "Revoke user privilege",
        "group.user_membership.add" => "Add user to group membership",
        "group.user_membership.remove" => "Remove user from group membership",
        "group.profile.update" => "Okta group profile updated",
        "group.lifecycle.create" => "Create Okta group",
        "group.lifecycle.delete" => "Delete Okta group",
        "group.privilege.grant" => "Grant group privilege",
        "group.privilege.revoke" => "Revoke group privilege",
        "user.mfa.factor.activate" => "Activate factor for user",
        "user.mfa.factor.deactivate" => "Reset factor for user",
        "user.mfa.factor.update" => "Update factor for user",
        "user.mfa.factor.reset_all" => "Reset all factors for user",
        "user.session.start" => "User login to Okta",
        "user.session.end" => "User logout from Okta",
        "user.authentication.sso" => "User single sign on to app",
        "policy.evaluate_sign_on" => "Evaluation of sign-on policy",
        _ => "Okta event",
    }
}

/// The Events API action a few event types used to be recorded as.
fn legacy_event_type(event_type: &str) -> Option<&'static str> {
    match event_type {
        "group.user_membership.add" => Some("core.user_group_member.user_add"),
        "group.user_membership.remove" => Some("core.user_group_member.user_remove"),
        "user.account.privilege.grant" => Some("core.user.admin_privilege.granted"),
        "user.account.privilege.revoke" => Some("core.user.admin_privilege.revoked"),
        "user.session.start" => Some("core.user_auth.login_success"),
        _ => None,
    }
}

/// The org's System Log.
#[derive(Clone, Debug)]
pub struct SystemLog {
    events: Vec<LogEvent>,
    max_lag_ms: u64,
    salt: u64,
}

impl SystemLog {
    pub(crate) fn new(salt: u64) -> SystemLog {
        SystemLog {
            events: Vec::new(),
            max_lag_ms: 0,
            salt,
        }
    }

    /// Every event, in the order recorded (not the order they became visible).
    pub fn events(&self) -> &[LogEvent] {
        &self.events
    }

    /// Events of `event_type`, in the order recorded.
    pub fn of_type<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a LogEvent> + 'a {
        self.events
            .iter()
            .filter(move |e| e.event_type == event_type)
    }

    /// The largest visibility lag; each event's lag is drawn in `[0, max_lag_ms]`.
    pub fn set_max_lag_ms(&mut self, max_lag_ms: u64) {
        self.max_lag_ms = max_lag_ms;
    }

    pub fn max_lag_ms(&self) -> u64 {
        self.max_lag_ms
    }

    pub(crate) fn by_seq(&self, seq: u64) -> Option<&LogEvent> {
        // Sequence numbers start at 1 and are never reused.
        let at = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.events.get(at)
    }

    pub(crate) fn append(&mut self, published_ms: i64, actor: &LogEntity, record: Record) {
        let seq = self.events.len() as u64 + 1;
        let draw = mix(seq ^ self.salt);
        let lag = if self.max_lag_ms == 0 {
            0
        } else {
            draw % (self.max_lag_ms + 1)
        };
        let outcome = match record.event_type {
            "policy.evaluate_sign_on" => "ALLOW",
            _ => "SUCCESS",
        };
        let severity = match record.event_type {
            "user.account.lock" => "WARN",
            _ => "INFO",
        };
        self.events.push(LogEvent {
            seq,
            uuid: uuid(seq, self.salt),
            published_ms,
            persisted_ms: published_ms + lag as i64,
            event_type: record.event_type.to_string(),
            display_message: record.display_message.to_string(),
            severity,
            outcome,
            actor: actor.clone(),
            targets: record.targets,
            debug_data: record.debug_data,
            legacy_event_type: legacy_event_type(record.event_type),
        });
    }
}

/// A version-4-shaped UUID, stable per event.
fn uuid(seq: u64, salt: u64) -> String {
    let a = mix(seq ^ salt ^ 0x5157_E4A1);
    let b = mix(a ^ seq);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// A LogEvent as Okta serves it.
pub(crate) fn event_json(e: &LogEvent) -> Value {
    let ip = format!(
        "198.51.100.{}",
        1 + mix(e.actor.id.bytes().map(u64::from).sum::<u64>()) % 250
    );
    let transaction = &e.uuid.replace('-', "")[..27];
    let mut debug = serde_json::Map::new();
    debug.insert("requestId".into(), json!(transaction));
    for (k, v) in &e.debug_data {
        debug.insert(k.clone(), json!(v));
    }
    let mut event = json!({
        "actor": e.actor.json(),
        "client": {
            "userAgent": {
                "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                "os": "Mac OS X",
                "browser": "SAFARI"
            },
            "zone": "null",
            "device": "Computer",
            "ipAddress": ip,
            "geographicalContext": {
                "city": "San Francisco",
                "state": "California",
                "country": "United States",
                "postalCode": "94105",
                "geolocation": {"lat": 37.7852, "lon": -122.3874}
            }
        },
        "authenticationContext": {"authenticationStep": 0, "externalSessionId": format!("102{}", &transaction[..20])},
        "displayMessage": e.display_message,
        "eventType": e.event_type,
        "outcome": {"result": e.outcome},
        "published": okta(from_ms(e.published_ms)),
        "securityContext": {},
        "severity": e.severity,
        "debugContext": {"debugData": debug},
        "transaction": {"type": "WEB", "id": transaction, "detail": {}},
        "uuid": e.uuid,
        "version": "0",
        "request": {"ipChain": [{"ip": ip, "version": "V4"}]},
        "target": e.targets.iter().map(LogEntity::json).collect::<Vec<_>>(),
    });
    if let Some(legacy) = e.legacy_event_type {
        event["legacyEventType"] = json!(legacy);
    }
    event
}

/// Sign-in noise at a steady rate: each sign-in is a `user.session.start`, a
/// `policy.evaluate_sign_on` and a `user.authentication.sso`, by a random ACTIVE user.
#[derive(Clone, Debug)]
pub(crate) struct SignIns {
    per_minute: f64,
    /// Virtual time of the next sign-in; `None` until the first catch-up.
    next_ms: Option<i64>,
    rng: Rng,
}

impl SignIns {
    pub fn new(seed: u64) -> SignIns {
        SignIns {
            per_minute: 0.0,
            next_ms: None,
            rng: Rng::new(seed ^ 0x5161_1115),
        }
    }

    pub fn set_rate(&mut self, per_minute: f64) {
        self.per_minute = per_minute.max(0.0);
    }

    /// The times of the sign-ins due up to `now_ms` (the first one a gap after the first call).
    pub fn due(&mut self, now_ms: i64) -> Vec<i64> {
        if self.per_minute <= 0.0 {
            return Vec::new();
        }
        let gap = (60_000.0 / self.per_minute).max(1.0);
        let mut next = *self.next_ms.get_or_insert(now_ms + gap as i64);
        let due = (now_ms - next) as f64 / gap;
        assert!(
            due < 1_000_000.0,
            "fake okta: {due:.0} sign-ins due at once: lower signins_per_minute or time_scale"
        );
        let mut out = Vec::new();
        while next <= now_ms {
            out.push(next);
            // Jittered around the mean gap, never shorter than 1 ms.
            next += ((gap * (0.5 + self.rng.unit())) as i64).max(1);
        }
        self.next_ms = Some(next);
        out
    }

    pub fn pick(&mut self, n: usize) -> usize {
        self.rng.index(n)
    }
}

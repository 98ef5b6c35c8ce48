//! The permission reads (`groups`, `roles`, `factors`, `change_feed`) and the users bucket's
//! headroom (`rate_limit`).

use super::{
    answer, code_and_id, rate_limited_reason, transient_reason, ScopeState, TransportFailure,
    LOGS_SCOPE, RETRY_FIX,
};
use crate::check::{Check, CheckName, Status};
use crate::okta::rate_limit::WINDOW;
use crate::okta::ApiError;

/// How one permission read ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadOutcome {
    Readable,
    /// HTTP 401 or 403: the credential lacks the permission.
    Denied(ApiError),
    /// `E0000015`: the feature is not enabled for the org.
    FeatureOff(ApiError),
    /// HTTP 429 / `E0000047`.
    RateLimited(ApiError),
    /// HTTP 5xx.
    ServerError(ApiError),
    /// No answer: timeout, connection reset, ...
    NoAnswer(TransportFailure),
    /// Any other Okta error answer.
    Other(ApiError),
    /// An answer that is not an Okta error (e.g. not JSON), described.
    Unexpected(String),
}

/// What one permission read proves and what its absence costs.
#[derive(Debug)]
pub struct Permission {
    pub name: CheckName,
    /// `groups`, `admin roles`, `MFA factors`, `the System Log`.
    pub what: &'static str,
    /// The reason when the read works.
    pub readable: &'static str,
    /// The Okta scope it needs.
    pub scope: &'static str,
    /// The standard admin roles that include it.
    pub roles: &'static str,
    /// `true` when the connector cannot work without it (`fail`), `false` when only a part of
    /// the records is lost (`warn`).
    pub required: bool,
    /// What happens without it, for warnings (empty for required reads).
    pub consequence: &'static str,
}

const READ_ONLY_ADMIN: &str = "the Read-Only Administrator role";

pub const GROUPS: Permission = Permission {
    name: CheckName::Groups,
    what: "groups",
    readable: "groups readable",
    scope: "okta.groups.read",
    roles: READ_ONLY_ADMIN,
    required: true,
    consequence: "",
};

pub const ROLES: Permission = Permission {
    name: CheckName::Roles,
    what: "admin roles",
    readable: "admin roles readable",
    scope: "okta.roles.read",
    roles: READ_ONLY_ADMIN,
    required: false,
    consequence: "admin detection is disabled (user type Admin/User omitted)",
};

pub const FACTORS: Permission = Permission {
    name: CheckName::Factors,
    what: "MFA factors",
    readable: "MFA factors readable",
    scope: "okta.users.read",
    roles: READ_ONLY_ADMIN,
    required: false,
    consequence: "MFA enrichment is disabled (has_mfa omitted)",
};

/// Okta's documentation lists the System Log among what both roles may view.
pub const CHANGE_FEED: Permission = Permission {
    name: CheckName::ChangeFeed,
    what: "the System Log",
    readable: "System Log readable: changes to groups, roles and MFA arrive in the next cycle",
    scope: LOGS_SCOPE,
    roles: "the Read-Only Administrator or Report Administrator role",
    required: false,
    consequence: "the connector falls back to lastUpdated-based change detection: every group and role is read again each cycle, and MFA changes that leave the user record alone wait for the next full sync",
};

impl Permission {
    fn status_when_lost(&self) -> Status {
        if self.required {
            Status::Fail
        } else {
            Status::Warn
        }
    }

    /// A lost permission: `reason`, then what it costs when the check only warns.
    fn lost(&self, reason: String, fix: impl Into<String>) -> Check {
        let reason = if self.consequence.is_empty() {
            reason
        } else {
            format!("{reason}: {}", self.consequence)
        };
        Check::new(self.name, self.status_when_lost(), reason, fix)
    }

    /// A read that could not be judged: not a permission problem, so no consequence is claimed.
    fn unknown(&self, reason: String, fix: impl Into<String>) -> Check {
        Check::new(self.name, self.status_when_lost(), reason, fix)
    }

    /// The fix for a denied read: the token's admin, or the service app's scope and role.
    fn grant_fix(&self, state: Option<ScopeState>) -> String {
        let (scope, roles) = (self.scope, self.roles);
        match state {
            None => format!("create the token from an admin holding {roles} (it grants {scope})"),
            Some(ScopeState::NotRequested) => format!(
                "add {scope} to scopes (OKTA_SCOPES, --scopes), grant it to the service app (Applications > the app > Okta API Scopes) and assign the app {roles} (Admin roles tab)"
            ),
            Some(ScopeState::NotGranted) => format!(
                "grant {scope} to the service app (Applications > the app > Okta API Scopes) and assign it {roles} (Admin roles tab)"
            ),
            Some(ScopeState::Granted) => format!(
                "{scope} is granted: assign the service app {roles} (Applications > the app > Admin roles)"
            ),
        }
    }
}

/// Said of a read that failed without a refusal.
const UNVERIFIED: &str = "not a permission refusal, so the permission is unverified";

/// The verdict of one permission read. `scope` is where the read's scope stands with an OAuth
/// service app (`None` with an SSWS token).
pub fn read(
    permission: &Permission,
    outcome: &ReadOutcome,
    host: &str,
    scope: Option<ScopeState>,
) -> Check {
    let what = permission.what;
    match outcome {
        ReadOutcome::Readable => {
            let reason = match scope {
                Some(ScopeState::Granted) if permission.name == CheckName::ChangeFeed => {
                    format!("{} ({} granted)", permission.readable, permission.scope)
                }
                _ => permission.readable.to_string(),
            };
            Check::new(permission.name, Status::Ok, reason, "")
        }
        ReadOutcome::Denied(api) => {
            let who = if scope.is_some() {
                "the service app"
            } else {
                "the token"
            };
            let mut reason = format!("{who} may not read {what} ({})", code_and_id(api));
            match scope {
                Some(ScopeState::NotRequested) => reason.push_str(&format!(
                    "; {} is not among the requested scopes",
                    permission.scope
                )),
                Some(ScopeState::NotGranted) => {
                    reason.push_str(&format!("; {} was not granted", permission.scope))
                }
                _ => {}
            }
            permission.lost(reason, permission.grant_fix(scope))
        }
        ReadOutcome::FeatureOff(api) => permission.lost(
            format!(
                "cannot read {what}: the Okta feature is not enabled for this org ({})",
                code_and_id(api)
            ),
            api.hint(),
        ),
        ReadOutcome::RateLimited(api) => permission.unknown(
            rate_limited_reason(what, api),
            "run check again in a minute; if it persists, other integrations use this whole bucket",
        ),
        ReadOutcome::ServerError(api) => {
            permission.unknown(transient_reason(what, &answer(api)), RETRY_FIX)
        }
        ReadOutcome::NoAnswer(failure) => {
            permission.unknown(transient_reason(what, &failure.reason(host)), RETRY_FIX)
        }
        // Neither is a refusal: `sync` keeps the enrichment on and only gives it up on 401/403
        // or E0000015, so no consequence is claimed.
        ReadOutcome::Other(api) => permission.unknown(
            format!(
                "cannot read {what}: Okta answered {}; {}",
                answer(api),
                UNVERIFIED
            ),
            api.hint(),
        ),
        ReadOutcome::Unexpected(description) => permission.unknown(
            format!("cannot read {what}: {description}; {UNVERIFIED}"),
            "retry; if it persists see docs/troubleshooting.md",
        ),
    }
}

pub fn roles_turned_off() -> Check {
    Check::new(
        CheckName::Roles,
        Status::Warn,
        "admin role enrichment is turned off (enrich_roles = false / --no-roles): admin detection is disabled",
        "",
    )
}

pub fn factors_turned_off() -> Check {
    Check::new(
        CheckName::Factors,
        Status::Warn,
        "MFA enrichment is turned off (enrich_mfa = false / --no-mfa)",
        "",
    )
}

pub fn no_user_for_factors() -> Check {
    Check::new(
        CheckName::Factors,
        Status::Warn,
        "the org has no user to test reading MFA factors with",
        "",
    )
}

// ------------------------------------------------------------------------------ rate limit

/// Below this many seconds into a window, other clients' use is too little to extrapolate.
const MIN_ELAPSED_TO_PROJECT_SECS: u64 = 5;

/// The users bucket as the users call's headers showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsersBucket {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds since the window began (from `Date` and `X-Rate-Limit-Reset`), when known.
    pub seconds_into_window: Option<u64>,
}

/// `used` in `elapsed` seconds, extrapolated to a whole window. In `u128`: the headers are
/// whatever the answer said, up to `u64::MAX`, and the product must not wrap.
fn project_to_window(used: u64, elapsed: u64) -> u64 {
    let window = WINDOW.as_secs();
    let projected = u128::from(used) * u128::from(window) / u128::from(elapsed.clamp(1, window));
    u64::try_from(projected).unwrap_or(u64::MAX)
}

/// Headroom of the users bucket.
///
/// `remaining` alone depends on when in the minute the check runs (early in a window every
/// bucket looks untouched), so other clients' use so far is also extrapolated to the whole
/// window: the check warns when they leave less than this connector's share, or when the bucket
/// is nearly spent right now.
pub fn rate_limit(bucket: Option<UsersBucket>, share: f64) -> Check {
    let Some(UsersBucket {
        limit,
        remaining,
        seconds_into_window,
    }) = bucket
    else {
        return Check::new(
            CheckName::RateLimit,
            Status::Warn,
            "Okta sent no rate-limit headers: headroom unknown",
            "",
        );
    };
    let ours = ((limit as f64 * share).floor() as u64).max(1);
    // Our own users call is counted in `remaining` too.
    let others_used = limit.saturating_sub(remaining).saturating_sub(1);
    let others_per_window = match seconds_into_window {
        Some(elapsed) if elapsed >= MIN_ELAPSED_TO_PROJECT_SECS => {
            project_to_window(others_used, elapsed).min(limit)
        }
        _ => others_used,
    };
    let left_for_us = limit - others_per_window;
    let reason = format!(
        "users bucket: {remaining} of {limit} requests left this minute; other clients use about {others_per_window}/min; this connector may use {ours}/min (rate_limit_share {share})"
    );
    if remaining.saturating_mul(5) < limit || left_for_us < ours {
        Check::new(
            CheckName::RateLimit,
            Status::Warn,
            reason,
            "other integrations use most of this bucket: syncs will be slower; review them in Okta's rate-limit dashboard, or ask Okta for a higher limit",
        )
    } else {
        Check::new(CheckName::RateLimit, Status::Ok, reason, "")
    }
}

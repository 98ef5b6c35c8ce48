//! A fake Okta tenant: a seeded org served over loopback HTTP with Okta's paging, search,
//! rate limits, errors and faults. For tests, the benchmark and the `fake-okta` server.
//!
//! ```ignore
//! let okta = FakeOkta::start(Org::generate(&OrgSpec::small(100, 10, 7)), FakeOptions::default()).await;
//! // GET {okta.base_url()}/api/v1/users?search=status%20pr with `Authorization: SSWS test-token`
//! ```
//!
//! Map of the module: `org` (generator, storage, truth queries, mutations), `syslog` (the System
//! Log each mutation writes to, and sign-in noise), `churn` (seeded random changes of every
//! kind), `server` (routing, JSON, paging), `log_api` (`GET /api/v1/logs`), `filter`
//! (search/filter expressions), `limits` (rate-limit windows), `faults` (fault injection),
//! `oauth` (the org authorization server); Okta's timestamp formats and the virtual clock are in
//! [`crate::time`], the seeded PRNG in [`crate::rng`].
//!
//! Time: the fake has a virtual clock, `start + real elapsed × time_scale`, starting at the
//! real current time truncated to the second. `Date`, `X-Rate-Limit-Reset`, the rate-limit
//! windows, the System Log and the timestamps of mutations made through [`FakeOkta::with_org`]
//! use it; [`FakeOkta::advance_clock`] moves it forward (with a tiny `time_scale`, time then
//! moves only when a test says so).
//! Generated timestamps are all before 2026-06-01, hence before the clock.

pub mod churn;
mod faults;
mod filter;
mod limits;
mod log_api;
mod oauth;
mod org;
mod server;
mod syslog;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

pub use crate::time::{http_date, okta as okta_time, VirtualClock};
pub use faults::Faults;
pub use oauth::{ClientKey, OAuthClient, OAuthServer, OAuthStats};
pub use org::{
    FakeFactor, FakeGroup, FakeRole, FakeUser, GroupType, Org, OrgSpec, UserRole,
    CUSTOM_ROLE_LABEL, HISTORY_END_S,
};
pub use syslog::{LogEntity, LogEvent, SystemLog};

use crate::http::TestServer;

/// Okta rate-limit buckets (endpoint families).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// `GET /api/v1/users` (list / search).
    UsersList,
    /// `/api/v1/users/{id}` and its sub-resources (roles, factors, groups).
    UserById,
    /// `/api/v1/groups` and all its sub-resources.
    Groups,
    /// `/api/v1/iam/*`.
    Iam,
    /// `GET /api/v1/logs` (the System Log has its own limit).
    Logs,
    /// Everything else.
    Other,
}

/// The buckets of Okta's rate limits by path, as Okta documents them: a path ending in `/`
/// takes every path under it, any other only itself. The first that matches wins; a path none
/// matches is in [`Bucket::Other`]. (The fake's own table, written apart from the connector's
/// classification, so that a mistake there is not mirrored here.)
const BUCKET_PATHS: [(&str, Bucket); 6] = [
    ("/api/v1/users", Bucket::UsersList),
    ("/api/v1/users/", Bucket::UserById),
    ("/api/v1/groups", Bucket::Groups),
    ("/api/v1/groups/", Bucket::Groups),
    ("/api/v1/iam/", Bucket::Iam),
    ("/api/v1/logs", Bucket::Logs),
];

impl Bucket {
    pub const ALL: [Bucket; 6] = {
        use Bucket::*;
        [UsersList, UserById, Groups, Iam, Logs, Other]
    };

    /// The bucket's name in reports (the connector's names, in the order of [`Bucket::ALL`]).
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 6] = ["users_list", "user_by_id", "groups", "iam", "logs", "other"];
        NAMES[self as usize]
    }

    /// The bucket of a request path.
    pub fn of_path(path: &str) -> Bucket {
        let path = path.trim_end_matches('/');
        let matches = |pattern: &str| match pattern.strip_suffix('/') {
            Some(_) => path.starts_with(pattern),
            None => path == pattern,
        };
        BUCKET_PATHS
            .iter()
            .find(|(pattern, _)| matches(pattern))
            .map_or(Bucket::Other, |&(_, bucket)| bucket)
    }
}

/// Request counters (a snapshot from [`FakeOkta::counters`]).
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Every request that reached the server, 4xx/5xx/429 included.
    pub per_bucket: BTreeMap<Bucket, u64>,
    /// `"GET /api/v1/groups/{id}/users"` style keys.
    pub per_endpoint: BTreeMap<String, u64>,
    /// All 429s sent (quota and concurrency).
    pub http_429: u64,
    pub http_429_concurrency: u64,
    pub total: u64,
}

impl Counters {
    pub fn bucket(&self, bucket: Bucket) -> u64 {
        self.per_bucket.get(&bucket).copied().unwrap_or(0)
    }

    pub fn endpoint(&self, key: &str) -> u64 {
        self.per_endpoint.get(key).copied().unwrap_or(0)
    }
}

#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// Requests need `Authorization: SSWS <token>`.
    pub token: String,
    /// 0 = any free port.
    pub port: u16,
    /// Per-bucket limit per window; `None` = off (headers still sent, limit 1,000,000).
    pub rate_limit: Option<u32>,
    /// Per-bucket overrides (apply even when `rate_limit` is `None`).
    pub rate_limits: HashMap<Bucket, u32>,
    /// Window length in virtual seconds.
    pub window_secs: u64,
    /// Virtual seconds per real second.
    pub time_scale: f64,
    /// Max in-flight requests before a concurrency 429; `None` = off.
    pub concurrency_cap: Option<usize>,
    /// Log one line per request to stderr.
    pub verbose: bool,
    /// What `GET /api/v1/iam/assignees/users` lists. Okta documents it as "users with role
    /// assignments" without saying whether a role held through a group counts: `false` (the
    /// default) lists only users holding a role directly, `true` also those holding one only
    /// through a group.
    pub assignees_include_groups: bool,
    /// How `_embedded.stats` (`expand=stats` on groups) spells its admin flag.
    pub stats_admin_spelling: StatsAdminSpelling,
    /// The largest delay, in virtual milliseconds, between a System Log event's `published`
    /// time and the moment queries see it; each event draws its own in `[0, log_lag_ms]`.
    pub log_lag_ms: u64,
    /// Polling answers of the System Log carry a `next` link only when more events are
    /// waiting, like bounded ones. Okta's reference says a polling answer always has one; a
    /// client must not depend on it (the other reading of "if there are more events").
    pub log_polling_without_next: bool,
    /// Sign-ins per virtual minute recorded in the System Log (three events each), as a live
    /// org's log is mostly sign-ins. 0 = none.
    pub signins_per_minute: f64,
    /// Random changes per virtual minute made to the org while it is served (see
    /// [`churn::Churn`]). 0 = none.
    pub churn_per_minute: f64,
    /// Seed of those random changes.
    pub churn_seed: u64,
}

/// The key of the admin flag in a group's `_embedded.stats`.
///
/// Okta's management spec declares `hasAdminPrivlege`; responses of real orgs published in
/// Okta's own SDK issue trackers (okta-sdk-dotnet #447, 2020; okta-sdk-nodejs #429, 2024) carry
/// `hasAdminPrivilege`. A client should read both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatsAdminSpelling {
    /// `hasAdminPrivilege`, as real orgs answer.
    #[default]
    Observed,
    /// `hasAdminPrivlege`, as the spec declares.
    Spec,
}

impl StatsAdminSpelling {
    pub fn key(self) -> &'static str {
        match self {
            StatsAdminSpelling::Observed => "hasAdminPrivilege",
            StatsAdminSpelling::Spec => "hasAdminPrivlege",
        }
    }
}

impl Default for FakeOptions {
    fn default() -> FakeOptions {
        FakeOptions {
            token: "test-token".into(),
            port: 0,
            rate_limit: None,
            rate_limits: HashMap::new(),
            window_secs: 60,
            time_scale: 1.0,
            concurrency_cap: None,
            verbose: false,
            assignees_include_groups: false,
            stats_admin_spelling: StatsAdminSpelling::default(),
            log_lag_ms: 0,
            log_polling_without_next: false,
            signins_per_minute: 0.0,
            churn_per_minute: 0.0,
            churn_seed: 1,
        }
    }
}

/// What the server shares between requests.
pub(crate) struct Shared {
    org: Mutex<Org>,
    options: FakeOptions,
    clock: VirtualClock,
    counters: Mutex<Counters>,
    limits: limits::Limiter,
    faults: Faults,
    forbidden: Mutex<HashSet<Bucket>>,
    in_flight: AtomicUsize,
    seen: Arc<AtomicU64>,
    salt: u64,
    /// The org authorization server (`/oauth2/v1/token`, OAuth tokens on API routes).
    oauth: oauth::OAuthServer,
    /// What the churn task changed, in order.
    churned: Mutex<Vec<churn::Change>>,
}

/// A running fake tenant; stops when dropped.
pub struct FakeOkta {
    shared: Arc<Shared>,
    server: TestServer,
    churn: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeOkta {
    fn drop(&mut self) {
        if let Some(task) = self.churn.take() {
            task.abort();
        }
    }
}

impl FakeOkta {
    /// Serves `org` on `127.0.0.1:options.port`. Panics if the port cannot be bound.
    pub async fn start(mut org: Org, options: FakeOptions) -> FakeOkta {
        let clock = VirtualClock::new(options.time_scale);
        org.set_clock(Some(clock.clone()));
        org.set_log_lag_ms(options.log_lag_ms);
        org.set_sign_ins_per_minute(options.signins_per_minute);
        org.catch_up_sign_ins(clock.now_ms());
        let salt = crate::rng::mix(org.org_id.bytes().fold(0x0C0F_FEE5, |h, b| {
            h.wrapping_mul(31).wrapping_add(b as u64)
        }));
        let seen = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            org: Mutex::new(org),
            limits: limits::Limiter::new(&options),
            options,
            clock,
            counters: Mutex::new(Counters::default()),
            faults: Faults::new(seen.clone()),
            forbidden: Mutex::new(HashSet::new()),
            in_flight: AtomicUsize::new(0),
            seen,
            salt,
            oauth: oauth::OAuthServer::default(),
            churned: Mutex::new(Vec::new()),
        });
        let handler = {
            let shared = shared.clone();
            crate::http::handler(move |req| server::handle(shared.clone(), req))
        };
        let server = TestServer::start(shared.options.port, handler)
            .await
            .expect("fake okta: bind");
        let churn = (shared.options.churn_per_minute > 0.0).then(|| spawn_churn(shared.clone()));
        FakeOkta {
            shared,
            server,
            churn,
        }
    }

    /// What the churn task (`FakeOptions::churn_per_minute`) changed so far, in order.
    pub fn churned(&self) -> Vec<churn::Change> {
        self.shared.churned.lock().unwrap().clone()
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.server.url()
    }

    pub fn token(&self) -> &str {
        &self.shared.options.token
    }

    pub fn counters(&self) -> Counters {
        self.shared.counters.lock().unwrap().clone()
    }

    pub fn reset_counters(&self) {
        *self.shared.counters.lock().unwrap() = Counters::default();
    }

    /// Reads or mutates the live org. Mutations take their timestamps from the virtual clock.
    pub fn with_org<R>(&self, f: impl FnOnce(&mut Org) -> R) -> R {
        f(&mut self.shared.org.lock().unwrap())
    }

    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Makes a whole endpoint family answer 403 `E0000006` (or stop doing so).
    pub fn set_forbidden(&self, bucket: Bucket, forbidden: bool) {
        let mut set = self.shared.forbidden.lock().unwrap();
        if forbidden {
            set.insert(bucket);
        } else {
            set.remove(&bucket);
        }
    }

    /// The org authorization server: register OAuth service apps, set token lifetimes,
    /// revoke tokens, read its statistics.
    pub fn oauth(&self) -> &OAuthServer {
        &self.shared.oauth
    }

    /// The fake's clock.
    pub fn virtual_now(&self) -> jiff::Timestamp {
        self.shared.clock.now()
    }

    /// The fewest Okta requests a full sync of the org as served can make (see
    /// [`crate::cost::bulk_minimum`]; the assignee list as this fake serves it).
    pub fn bulk_minimum(&self, mfa: bool, roles: bool) -> u64 {
        let include_groups = self.shared.options.assignees_include_groups;
        self.with_org(|org| crate::cost::bulk_minimum(org, mfa, roles, include_groups))
    }

    /// Moves the fake's virtual time forward (rate-limit windows, mutation times, System Log
    /// visibility and sign-ins due all follow).
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.shared.clock.advance(by);
    }

    /// A copy of the virtual clock (e.g. to give the connector under test a matching clock).
    pub fn clock(&self) -> VirtualClock {
        self.shared.clock.clone()
    }
}

/// Makes `churn_per_minute` random changes per virtual minute until the fake stops.
fn spawn_churn(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    let options = &shared.options;
    let real_gap = 60.0 / options.churn_per_minute / shared.clock.scale();
    let gap = std::time::Duration::from_secs_f64(real_gap.max(0.001));
    let mut churn = churn::Churn::new(options.churn_seed);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(gap).await;
            let change = churn.step(&mut shared.org.lock().unwrap());
            if let Some(change) = change {
                if shared.options.verbose {
                    eprintln!("fake-okta: churn {change:?}");
                }
                shared.churned.lock().unwrap().push(change);
            }
        }
    })
}

//! MFA enrollment: one `GET /users/{id}/factors` per user (Okta has no bulk endpoint).
//!
//! A user has MFA when at least one factor is `ACTIVE`. When the call fails the answer is
//! unknown, never "no MFA". If the token is not allowed to read factors at all, asking again for
//! every user would only burn the org's rate limit: after a few permission errors in a row the
//! enrichment is switched off for the rest of the cycle (and every later user is unknown).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use super::Warnings;
use crate::okta::OktaClient;
use crate::progress::{Phase, Progress};

/// Permission errors in a row after which factors are no longer asked for.
const PERMISSION_ERRORS_BEFORE_GIVING_UP: u32 = 3;

/// Reads MFA status; clones share the on/off switch.
#[derive(Debug, Clone)]
pub struct MfaReader {
    enabled: Arc<AtomicBool>,
    permission_errors: Arc<AtomicU32>,
    /// Counts each user whose factors were asked for.
    progress: Progress,
}

impl MfaReader {
    pub fn new(enabled: bool) -> MfaReader {
        MfaReader {
            enabled: Arc::new(AtomicBool::new(enabled)),
            permission_errors: Arc::new(AtomicU32::new(0)),
            progress: Progress::off(),
        }
    }

    /// Reports each factor read to `progress` ([`Phase::Mfa`]).
    pub fn reporting_to(mut self, progress: &Progress) -> MfaReader {
        self.progress = progress.clone();
        self
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Whether the user has an active factor; `None` when unknown.
    pub async fn has_mfa(
        &self,
        client: &OktaClient,
        user_id: &str,
        warnings: &Warnings,
    ) -> Option<bool> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let answer = client.list_user_factors(user_id).await;
        self.progress.advance(Phase::Mfa, 1);
        match answer {
            Ok(factors) => {
                self.permission_errors.store(0, Ordering::Relaxed);
                Some(factors.iter().any(|f| f.is_active()))
            }
            Err(error) => {
                let permission = error.api().is_some_and(|api| api.is_permission_problem())
                    || matches!(error.code(), Some("E0000015"));
                if permission {
                    let in_a_row = self.permission_errors.fetch_add(1, Ordering::Relaxed) + 1;
                    if in_a_row >= PERMISSION_ERRORS_BEFORE_GIVING_UP
                        && self.enabled.swap(false, Ordering::Relaxed)
                    {
                        warnings.warn(
                            "factors",
                            format!("the token may not read MFA factors ({error}); MFA is unknown for the rest of this cycle"),
                        );
                    }
                }
                warnings.warn(
                    "factors",
                    format!("cannot read the factors of user {user_id}: {error}"),
                );
                None
            }
        }
    }
}

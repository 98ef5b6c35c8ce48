//! The text of one progress frame: pure functions from what was sampled to lines, so the live
//! display, the periodic log lines and the tests all read the same words.

use std::time::Duration;

use super::eta::{Eta, Pace};
use crate::okta::Bucket;
use crate::progress::{Phase, PhaseProgress, Snapshot};

/// What one frame shows.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The Okta org host.
    pub host: String,
    pub elapsed: Duration,
    pub snapshot: Snapshot,
    pub eta: Eta,
    /// Buckets used so far, with their pace.
    pub paces: Vec<(Bucket, Pace)>,
    pub requests: u64,
    pub quota_429: u64,
    pub rate_limit_wait: Duration,
}

/// Buckets shown on the Okta line, busiest first.
const SHOWN_BUCKETS: usize = 2;

/// Width of the bar of a phase with a known total.
const BAR_WIDTH: usize = 20;

/// The lines of the live display: a title with the ETA, one line per phase, one for Okta.
pub fn lines(sample: &Sample) -> Vec<String> {
    let mut lines = vec![format!(
        "Syncing {} · {} elapsed · {}",
        sample.host,
        duration(sample.elapsed),
        eta_text(&sample.eta)
    )];
    if sample.snapshot.phases.is_empty() {
        lines.push("  starting: connecting to Okta".to_string());
    }
    for (phase, progress) in &sample.snapshot.phases {
        lines.push(format!(
            "  {:<9} {}",
            label(*phase),
            counts(*phase, progress)
        ));
    }
    lines.push(format!("  {:<9} {}", "okta", okta_text(sample)));
    lines
}

/// One line for a log: the phases' counts and the ETA.
pub fn log_line(sample: &Sample) -> String {
    let phases: Vec<String> = sample
        .snapshot
        .phases
        .iter()
        .map(|(phase, p)| {
            let done = match p.total {
                Some(total) => format!("{}/{}", p.done, total.max(p.done)),
                None => p.done.to_string(),
            };
            let state = if p.finished { " done" } else { "" };
            format!("{} {done}{state}", label(*phase))
        })
        .collect();
    let phases = if phases.is_empty() {
        "starting".to_string()
    } else {
        phases.join(", ")
    };
    format!("sync progress: {phases}; {}", eta_text(&sample.eta))
}

fn label(phase: Phase) -> &'static str {
    match phase {
        Phase::Delivery => "delivered",
        other => other.name(),
    }
}

/// What the items of a phase are.
fn unit(phase: Phase) -> &'static str {
    match phase {
        Phase::Groups => "groups listed",
        Phase::Members => "groups' members read",
        Phase::Roles => "role reads",
        Phase::Changes => "changes read",
        Phase::Users => "users listed",
        Phase::Mfa => "users' factors read",
        Phase::Delivery => "events acknowledged",
    }
}

fn counts(phase: Phase, progress: &PhaseProgress) -> String {
    let unit = unit(phase);
    match (progress.total, progress.finished) {
        (_, true) if progress.done == 0 => "done".to_string(),
        (_, true) => format!("{} {unit}, done", number(progress.done)),
        (Some(total), false) => {
            // A total from a count Okta gives in advance may be a little off: never show more
            // done than in all.
            let total = total.max(progress.done);
            format!(
                "{} of {} {unit}  {}",
                number(progress.done),
                number(total),
                bar(progress.done, total)
            )
        }
        (None, false) if progress.done == 0 => "reading".to_string(),
        (None, false) => format!("{} {unit}", number(progress.done)),
    }
}

fn bar(done: u64, total: u64) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let filled = ((fraction * BAR_WIDTH as f64).round() as usize).min(BAR_WIDTH);
    format!(
        "[{}{}] {:>3}%",
        "#".repeat(filled),
        ".".repeat(BAR_WIDTH - filled),
        (fraction * 100.0).floor() as u64
    )
}

fn okta_text(sample: &Sample) -> String {
    let mut parts = vec![format!("{} requests", number(sample.requests))];
    // The buckets that decide the pace first: the busiest, then the most constrained.
    let mut paces: Vec<&(Bucket, Pace)> = sample
        .paces
        .iter()
        .filter(|(_, pace)| {
            pace.allowed_per_min.is_some() || pace.observed_per_min.is_some_and(|r| r >= 1.0)
        })
        .collect();
    paces.sort_by(|a, b| {
        let observed = |p: &Pace| p.observed_per_min.unwrap_or(0.0);
        let allowed = |p: &Pace| p.allowed_per_min.unwrap_or(f64::MAX);
        observed(&b.1)
            .total_cmp(&observed(&a.1))
            .then(allowed(&a.1).total_cmp(&allowed(&b.1)))
    });
    for (bucket, pace) in paces.into_iter().take(SHOWN_BUCKETS) {
        let rate = |r: f64| number(r.round() as u64);
        let text = match (pace.observed_per_min, pace.allowed_per_min) {
            (Some(observed), Some(allowed)) => {
                format!(
                    "{observed}/min ({} allowed)",
                    rate(allowed),
                    observed = rate(observed)
                )
            }
            (None, Some(allowed)) => format!("{}/min allowed", rate(allowed)),
            (Some(observed), None) => format!("{}/min", rate(observed)),
            (None, None) => continue,
        };
        parts.push(format!("{} {text}", bucket.name()));
    }
    if sample.rate_limit_wait >= Duration::from_secs(1) {
        parts.push(format!(
            "paced {} by rate limits",
            duration(sample.rate_limit_wait)
        ));
    }
    if sample.quota_429 > 0 {
        parts.push(format!("{} rate-limit refusals (429)", sample.quota_429));
    }
    parts.join(" · ")
}

/// The ETA in words.
pub fn eta_text(eta: &Eta) -> String {
    match eta {
        Eta::Unknown => "estimating the time left".to_string(),
        Eta::Finishing => "finishing".to_string(),
        Eta::Busiest(estimate) => format!(
            "about {} left ({}: {} requests at {}/min)",
            duration(estimate.left),
            estimate.bucket.name(),
            number(estimate.requests),
            number(estimate.per_min.round() as u64)
        ),
    }
}

/// `1,234,567`.
pub fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `45s`, `3m 40s`, `1h 05m`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;
    use crate::render::eta::Estimate;

    fn sample(progress: &Progress, eta: Eta) -> Sample {
        Sample {
            host: "acme.okta.com".into(),
            elapsed: Duration::from_secs(72),
            snapshot: progress.snapshot(),
            eta,
            paces: vec![
                (
                    Bucket::UserById,
                    Pace {
                        allowed_per_min: Some(300.0),
                        observed_per_min: Some(298.4),
                    },
                ),
                (Bucket::Iam, Pace::default()),
            ],
            requests: 1512,
            quota_429: 0,
            rate_limit_wait: Duration::from_secs(65),
        }
    }

    #[test]
    fn a_frame_shows_phases_totals_the_eta_and_the_pace() {
        let progress = Progress::new();
        progress.set_total(Phase::Groups, 50);
        progress.advance(Phase::Groups, 50);
        progress.finish(Phase::Groups);
        progress.set_total(Phase::Users, 3000);
        progress.advance(Phase::Users, 1400);
        progress.begin(Phase::Mfa);
        let eta = Eta::Busiest(Estimate {
            left: Duration::from_secs(220),
            bucket: Bucket::UserById,
            requests: 1100,
            per_min: 300.0,
        });
        let lines = lines(&sample(&progress, eta));
        assert_eq!(
            lines,
            vec![
                "Syncing acme.okta.com · 1m 12s elapsed · about 3m 40s left (user_by_id: 1,100 requests at 300/min)",
                "  groups    50 groups listed, done",
                "  users     1,400 of 3,000 users listed  [#########...........]  46%",
                "  mfa       reading",
                "  okta      1,512 requests · user_by_id 298/min (300 allowed) · paced 1m 05s by rate limits",
            ]
        );
    }

    #[test]
    fn the_log_line_is_one_line_with_counts_and_eta() {
        let progress = Progress::new();
        progress.set_total(Phase::Users, 3000);
        progress.advance(Phase::Users, 1400);
        assert_eq!(
            log_line(&sample(&progress, Eta::Unknown)),
            "sync progress: users 1400/3000; estimating the time left"
        );
        assert_eq!(
            log_line(&sample(&Progress::new(), Eta::Unknown)),
            "sync progress: starting; estimating the time left"
        );
    }

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(1_234_567), "1,234,567");
        assert_eq!(duration(Duration::from_secs(5)), "5s");
        assert_eq!(duration(Duration::from_secs(220)), "3m 40s");
        assert_eq!(duration(Duration::from_secs(3900)), "1h 05m");
    }
}

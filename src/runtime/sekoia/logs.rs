//! Logs sent to the Sekoia.io platform, beside stderr, as the SDK's `Trigger.log` sends them:
//!
//! - `POST url_logs` (else `url_callback` with `/callback` → `/logs`), `Authorization: Bearer
//!   <token>`, body `{"logs": [{"date", "level", "message"}, ...]}`; `date` is naive UTC ISO 8601,
//!   `level` one of `debug`, `info`, `warning`, `error`, `critical`;
//! - batched: sent when 50 are waiting, or 5 s after the first of a batch; `error` and
//!   `critical` at once;
//! - the same level and message at most once a minute (`critical` always), and `critical` only
//!   once: later ones are sent as `error`;
//! - a failed batch is kept and sent again with the next one (up to a cap).
//!
//! Only the connector's own events at `info` or above go to the platform (not its dependencies'
//! nor its debug lines), formatted as `message key=value ...`. An event with the field
//! `critical = true` is a `critical` log. Every known secret (the runtime's token, the module's
//! secrets, and the configuration's: the Okta API token or the service app's private key, the
//! intake key) is replaced by `[REDACTED]` when a batch is sent, so that a line queued before a
//! secret was known is covered too: messages never carry them by design, and this keeps it so
//! on a path that leaves the host.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;
use url::Url;

use super::client::PlatformClient;
use crate::clock::SharedClock;
use crate::runtime::status::naive_iso;

/// The SDK's batch size and flush delay.
pub const MAX_BATCH: usize = 50;
pub const FLUSH_DELAY: Duration = Duration::from_secs(5);
/// The SDK's rate limit of a repeated message.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// Distinct messages remembered for the rate limit (the SDK's cache size).
const REMEMBERED: usize = 4096;
/// Lines waiting to be sent; more are dropped (and counted) while the platform is away.
const MAX_WAITING: usize = 10_000;
/// Lines kept for another attempt after a batch failed.
const MAX_KEPT: usize = 1_000;
/// The connector's own events; a dependency's are not sent.
const OWN_TARGET: &str = "okta_asset_connector";
/// This module's own events (a failed send) stay on stderr: sending them would feed a loop.
const SELF_TARGET: &str = module_path!();

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }

    /// Sent without waiting for the batch.
    fn is_urgent(self) -> bool {
        self >= Level::Error
    }
}

/// One line, as the platform receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub date: String,
    pub level: Level,
    pub message: String,
}

/// Known secret values, replaced by `[REDACTED]` in every line sent. Clones share the list.
#[derive(Clone, Default)]
pub struct Redactor(Arc<RwLock<Vec<SecretString>>>);

impl Redactor {
    /// Adds a value to hide (values shorter than 4 characters would hide ordinary words and
    /// are not secrets worth the name).
    pub fn add(&self, secret: &str) {
        let secret = secret.trim();
        if secret.chars().count() >= 4 {
            let mut list = self.0.write().unwrap_or_else(|p| p.into_inner());
            if !list.iter().any(|known| known.expose_secret() == secret) {
                list.push(SecretString::from(secret.to_string()));
            }
        }
    }

    /// Adds the parts of a private key (PEM or JWK) that a line could quote: the whole text,
    /// each line of a PEM body, the private members of a JWK or of the JWKs of a JWKS. Public
    /// members (`n`, `e`, `x`, `y`, `kid`) are not secrets and stay readable.
    pub fn add_private_key(&self, text: &str) {
        self.add(text);
        let text = text.trim();
        if text.starts_with('{') {
            if let Ok(document) = serde_json::from_str::<serde_json::Value>(text) {
                self.add_jwk_members(&document);
            }
            return;
        }
        for line in text.lines().map(str::trim) {
            if !line.starts_with("-----") && !line.contains(':') {
                self.add(line);
            }
        }
    }

    fn add_jwk_members(&self, document: &serde_json::Value) {
        const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "k"];
        match document {
            serde_json::Value::Object(members) => {
                for (name, value) in members {
                    match value.as_str() {
                        Some(text) if PRIVATE_MEMBERS.contains(&name.as_str()) => self.add(text),
                        _ => self.add_jwk_members(value),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|item| self.add_jwk_members(item))
            }
            _ => {}
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let list = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut text = text.to_string();
        for secret in list.iter() {
            if text.contains(secret.expose_secret()) {
                text = text.replace(secret.expose_secret(), "[REDACTED]");
            }
        }
        text
    }
}

/// The SDK's rules between an event and the queue: critical once, repeats once a minute.
struct Gate {
    critical_sent: bool,
    /// `level:message` → until when a repeat is dropped.
    recent: HashMap<String, Timestamp>,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            critical_sent: false,
            recent: HashMap::new(),
        }
    }

    /// The level to send `message` at, or `None` when it is a repeat within the window.
    fn admit(&mut self, level: Level, message: &str, now: Timestamp) -> Option<Level> {
        let level = if level == Level::Critical && self.critical_sent {
            Level::Error
        } else {
            level
        };
        if level != Level::Critical {
            let key = format!("{}:{message}", level.as_str());
            if self.recent.get(&key).is_some_and(|until| *until > now) {
                return None;
            }
            self.remember(key, now);
        } else {
            self.critical_sent = true;
        }
        Some(level)
    }

    fn remember(&mut self, key: String, now: Timestamp) {
        if self.recent.len() >= REMEMBERED {
            self.recent.retain(|_, until| *until > now);
        }
        if self.recent.len() >= REMEMBERED {
            // Still full of live entries: forget the one that expires first.
            if let Some(oldest) = self
                .recent
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(key, _)| key.clone())
            {
                self.recent.remove(&oldest);
            }
        }
        let until = now
            .checked_add(jiff::SignedDuration::try_from(REPEAT_WINDOW).unwrap_or_default())
            .unwrap_or(now);
        self.recent.insert(key, until);
    }
}

struct Shared {
    queue: mpsc::Sender<Entry>,
    gate: Mutex<Gate>,
    redactor: Redactor,
    clock: SharedClock,
    dropped: AtomicU64,
    dropped_reported: AtomicBool,
}

impl Shared {
    /// Queues a line as it was logged: it is redacted when sent ([`LogShipper::send`]), with
    /// every secret known by then.
    fn submit(&self, level: Level, message: &str) {
        let now = self.clock.now();
        let admitted = self
            .gate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(level, message, now);
        let Some(level) = admitted else { return };
        let entry = Entry {
            date: naive_iso(now),
            level,
            message: message.to_string(),
        };
        if self.queue.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The `tracing` layer that queues the connector's events for the platform.
#[derive(Clone)]
pub struct PlatformLogLayer {
    shared: Arc<Shared>,
}

/// The task side: sends what the layer queued.
pub struct LogShipper {
    queue: mpsc::Receiver<Entry>,
    shared: Arc<Shared>,
}

/// A layer and its shipper, sharing `redactor`.
pub fn channel(redactor: Redactor, clock: SharedClock) -> (PlatformLogLayer, LogShipper) {
    let (sender, receiver) = mpsc::channel(MAX_WAITING);
    let shared = Arc::new(Shared {
        queue: sender,
        gate: Mutex::new(Gate::new()),
        redactor,
        clock,
        dropped: AtomicU64::new(0),
        dropped_reported: AtomicBool::new(false),
    });
    (
        PlatformLogLayer {
            shared: shared.clone(),
        },
        LogShipper {
            queue: receiver,
            shared,
        },
    )
}

impl<S: Subscriber> Layer<S> for PlatformLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let target = metadata.target();
        if *metadata.level() > tracing::Level::INFO
            || !target.starts_with(OWN_TARGET)
            || target.starts_with(SELF_TARGET)
        {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let level = if line.critical {
            Level::Critical
        } else {
            level_of(metadata.level())
        };
        self.shared.submit(level, &line.text());
    }
}

fn level_of(level: &tracing::Level) -> Level {
    match *level {
        tracing::Level::ERROR => Level::Error,
        tracing::Level::WARN => Level::Warning,
        tracing::Level::INFO => Level::Info,
        _ => Level::Debug,
    }
}

/// An event's message and fields, as one line.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
    critical: bool,
}

impl Line {
    fn text(&self) -> String {
        if self.fields.is_empty() {
            self.message.clone()
        } else if self.message.is_empty() {
            self.fields.trim_start().to_string()
        } else {
            format!("{}{}", self.message, self.fields)
        }
    }
}

impl Visit for Line {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "critical" {
            self.critical = value;
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// Stops a running shipper after it sent what is waiting.
pub struct ShipperHandle {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ShipperHandle {
    /// Sends what is waiting (for at most `within`), then stops.
    pub async fn finish(mut self, within: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(within, &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

impl LogShipper {
    /// Starts sending to `url` with `client`.
    pub fn spawn(self, client: PlatformClient, url: Url) -> ShipperHandle {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(self.run(client, url, stopped));
        ShipperHandle {
            stop: Some(stop),
            task,
        }
    }

    async fn run(mut self, client: PlatformClient, url: Url, mut stopped: oneshot::Receiver<()>) {
        let clock = self.shared.clock.clone();
        let mut batch: Vec<Entry> = Vec::new();
        let mut due: Option<Timestamp> = None;
        loop {
            let wait = due.map(|at| until(at, clock.now()));
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                received = self.queue.recv() => {
                    let Some(entry) = received else { break };
                    let urgent = entry.level.is_urgent();
                    batch.push(entry);
                    if urgent || batch.len() >= MAX_BATCH {
                        due = self.send(&client, &url, &mut batch).await;
                    } else if due.is_none() {
                        due = Some(later(clock.now(), FLUSH_DELAY));
                    }
                }
                () = async { clock.sleep(wait.unwrap_or_default()).await }, if wait.is_some() => {
                    due = self.send(&client, &url, &mut batch).await;
                }
            }
        }
        while let Ok(entry) = self.queue.try_recv() {
            batch.push(entry);
        }
        let _ = self.send(&client, &url, &mut batch).await;
    }

    /// Sends `batch` (and a note of lines dropped meanwhile), every known secret redacted; on
    /// failure keeps it for the next attempt. The next time a send is due, if anything is left.
    async fn send(
        &self,
        client: &PlatformClient,
        url: &Url,
        batch: &mut Vec<Entry>,
    ) -> Option<Timestamp> {
        self.note_dropped(batch);
        if batch.is_empty() {
            return None;
        }
        self.redact(batch);
        let body = json!({ "logs": batch });
        match client.post_json("the logs", url, &body, false).await {
            Ok(()) => {
                batch.clear();
                None
            }
            Err(error) => {
                tracing::warn!(
                    target: SELF_TARGET,
                    lines = batch.len(),
                    "cannot send logs to the Sekoia.io platform ({error}); keeping them for the next attempt"
                );
                if batch.len() > MAX_KEPT {
                    let excess = batch.len() - MAX_KEPT;
                    batch.drain(..excess);
                    self.shared
                        .dropped
                        .fetch_add(excess as u64, Ordering::Relaxed);
                }
                Some(later(self.shared.clock.now(), FLUSH_DELAY))
            }
        }
    }

    /// Replaces every secret known now in the lines of `batch`.
    fn redact(&self, batch: &mut [Entry]) {
        for entry in batch {
            entry.message = self.shared.redactor.redact(&entry.message);
        }
    }

    /// Says once, in the logs themselves, that lines were dropped.
    fn note_dropped(&self, batch: &mut Vec<Entry>) {
        let dropped = self.shared.dropped.load(Ordering::Relaxed);
        if dropped > 0 && !self.shared.dropped_reported.swap(true, Ordering::Relaxed) {
            batch.push(Entry {
                date: naive_iso(self.shared.clock.now()),
                level: Level::Warning,
                message: format!(
                    "{dropped} log lines were dropped while the platform could not take them"
                ),
            });
        }
    }
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    now.checked_add(jiff::SignedDuration::try_from(by).unwrap_or_default())
        .unwrap_or(now)
}

fn until(at: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_772_366_400 + seconds).unwrap()
    }

    #[test]
    fn repeats_wait_a_minute_and_critical_is_sent_once() {
        let mut gate = Gate::new();
        assert_eq!(gate.admit(Level::Info, "a", at(0)), Some(Level::Info));
        assert_eq!(gate.admit(Level::Info, "a", at(59)), None);
        assert_eq!(
            gate.admit(Level::Warning, "a", at(59)),
            Some(Level::Warning),
            "another level is another line"
        );
        assert_eq!(gate.admit(Level::Info, "a", at(60)), Some(Level::Info));
        assert_eq!(
            gate.admit(Level::Critical, "c", at(0)),
            Some(Level::Critical)
        );
        assert_eq!(gate.admit(Level::Critical, "d", at(1)), Some(Level::Error));
        assert_eq!(
            gate.admit(Level::Critical, "d", at(2)),
            None,
            "now an error: rate-limited"
        );
    }

    #[test]
    fn the_memory_of_repeats_is_bounded() {
        let mut gate = Gate::new();
        for n in 0..(REMEMBERED + 10) {
            gate.admit(Level::Info, &n.to_string(), at(0));
        }
        assert!(gate.recent.len() <= REMEMBERED);
    }

    #[test]
    fn secrets_are_redacted_and_short_values_ignored() {
        let redactor = Redactor::default();
        redactor.add("s3cr3t-value");
        redactor.add("abc");
        assert_eq!(
            redactor.redact("token s3cr3t-value in abc"),
            "token [REDACTED] in abc"
        );
    }

    #[test]
    fn a_line_queued_before_its_secret_was_known_is_redacted_when_sent() {
        let redactor = Redactor::default();
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(at(0)));
        let (layer, mut shipper) = channel(redactor.clone(), clock);
        layer
            .shared
            .submit(Level::Info, "loaded 00-late-secret-value");
        redactor.add("00-late-secret-value");
        let mut batch = vec![shipper.queue.try_recv().unwrap()];
        shipper.redact(&mut batch);
        assert_eq!(batch[0].message, "loaded [REDACTED]");
    }

    #[test]
    fn a_private_key_is_redacted_by_its_lines_and_private_members() {
        let redactor = Redactor::default();
        redactor.add_private_key(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nq83Rzz==\n-----END PRIVATE KEY-----\n",
        );
        assert_eq!(
            redactor.redact(
                "a MIIEvQIBADANBgkqhkiG9w0BAQEFAASC b q83Rzz== c -----BEGIN PRIVATE KEY-----"
            ),
            "a [REDACTED] b [REDACTED] c -----BEGIN PRIVATE KEY-----"
        );
        let jwks = r#"{"keys": [{"kty": "RSA", "kid": "key-one", "n": "public-modulus",
            "e": "AQAB", "d": "private-exponent", "p": "prime-one", "qi": "coefficient"}]}"#;
        let redactor = Redactor::default();
        redactor.add_private_key(jwks);
        assert_eq!(
            redactor.redact("private-exponent prime-one coefficient public-modulus key-one"),
            "[REDACTED] [REDACTED] [REDACTED] public-modulus key-one"
        );
    }

    #[test]
    fn fields_follow_the_message() {
        let line = Line {
            message: "cycle finished".into(),
            fields: " users=3 kind=\"full\"".into(),
            critical: false,
        };
        assert_eq!(line.text(), "cycle finished users=3 kind=\"full\"");
        assert_eq!(serde_json::to_value(Level::Warning).unwrap(), "warning");
    }
}

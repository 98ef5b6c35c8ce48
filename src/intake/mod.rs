//! Delivery of OCSF events to the intake, with nothing lost: batches, envelopes, retries.
//!
//! The mapper hands over serialized events; this module batches them ([`Batcher`], capped by
//! count and body bytes), wraps each batch in the configured envelope ([`Format`]: the `sekoia`
//! JSON envelope or `ocsf` NDJSON) and either POSTs it ([`HttpIntake`]) or writes the very same
//! body to a file or stdout ([`FileOutput`], `--output`).
//!
//! One file per job, as vector's `src/sinks/http/`:
//!
//! - [`envelope`]: format → body bytes and content type.
//! - [`batcher`]: count and byte caps.
//! - [`retry`]: the decision for a response (acknowledged / retry / split / stop), apart from
//!   the transport.
//! - [`http`]: the sender: retries with [`BackoffPolicy`] honouring `Retry-After`, 413 splits.
//! - [`file`]: `--output FILE|-`.
//! - [`error`]: [`IntakeError`], every message with a hint.
//!
//! **The no-loss contract:** [`Sink::deliver`] returns `Ok` only once the intake acknowledged
//! (2xx) every item of the batch, so the caller may commit the cursors that depend on it. On
//! `Err`, some items may have been delivered and others not: the caller commits nothing and the
//! next cycle sends them again (at-least-once; the intake sees duplicates, never gaps).

pub mod batcher;
pub mod envelope;
pub mod error;
pub mod file;
pub mod http;
pub mod retry;

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::backoff::BackoffPolicy;

pub use batcher::{Batch, Batcher};
pub use envelope::{Format, UnknownFormat};
pub use error::IntakeError;
pub use file::FileOutput;
pub use http::HttpIntake;

/// Default maximum items per batch (`batch_size`).
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Default maximum uncompressed body size of a batch.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Trusted intake settings (validated by the config module).
///
/// `Debug` shows neither the key nor any credentials or query of the URL.
#[derive(Clone)]
pub struct IntakeSettings {
    /// Where batches are POSTed (https, or http on loopback when allowed: checked by config).
    pub url: Url,
    /// Sent only as `Authorization: Bearer <key>`, a header marked sensitive.
    pub api_key: SecretString,
    pub format: Format,
    /// Maximum items per batch.
    pub batch_size: usize,
    /// Maximum uncompressed body size of a batch.
    pub max_batch_bytes: usize,
    /// Compress request bodies (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Per request, connection to end of response.
    pub timeout: Duration,
    /// Retries of 408/429/5xx/network errors.
    pub backoff: BackoffPolicy,
    /// `User-Agent` of the requests, when not the connector's own (see [`sekoia_user_agent`]).
    pub user_agent: Option<String>,
}

/// The `User-Agent` the Sekoia.io SDK's asset connectors send to the asset-connector API:
/// `sekoiaio-asset-connector-{connector uuid}`.
pub fn sekoia_user_agent(connector_uuid: &str) -> String {
    format!("sekoiaio-asset-connector-{connector_uuid}")
}

impl std::fmt::Debug for IntakeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeSettings")
            .field("url", &crate::http::shown_url(&self.url))
            .field("api_key", &"[REDACTED]")
            .field("format", &self.format)
            .field("batch_size", &self.batch_size)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .field("backoff", &self.backoff)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl IntakeSettings {
    /// Settings with every default (the configuration's documented defaults: batches of 100, 4 MiB,
    /// no gzip, 30 s per request, the standard backoff) for `url` and `api_key`.
    pub fn new(url: Url, api_key: SecretString) -> IntakeSettings {
        IntakeSettings {
            url,
            api_key,
            format: Format::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            gzip: false,
            timeout: DEFAULT_TIMEOUT,
            backoff: BackoffPolicy::default(),
            user_agent: None,
        }
    }

    /// A [`Batcher`] with these settings' format and caps.
    pub fn batcher(&self) -> Batcher {
        Batcher::new(self.format, self.batch_size, self.max_batch_bytes)
    }
}

/// What delivering one batch took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Items acknowledged (or written).
    pub items: usize,
    /// Body bytes acknowledged (after gzip) or written; retried attempts are not counted twice.
    pub bytes: u64,
    /// HTTP requests made, retries included (0 for file output).
    pub requests: u32,
    /// Requests that were retries (408/429/5xx/network).
    pub retries: u32,
    /// Batches split in two after a 413.
    pub splits: u32,
    /// Events the intake refused alone as too large, acknowledged once made smaller (see
    /// [`HttpIntake::shrink_oversized_with`]).
    pub shrunk: u32,
}

impl std::ops::AddAssign for Delivered {
    fn add_assign(&mut self, other: Delivered) {
        self.items += other.items;
        self.bytes += other.bytes;
        self.requests += other.requests;
        self.retries += other.retries;
        self.splits += other.splits;
        self.shrunk += other.shrunk;
    }
}

/// Where batches go: the intake or `--output`.
#[derive(Debug)]
pub enum Sink {
    Http(HttpIntake),
    File(FileOutput),
}

impl Sink {
    /// Delivers the whole batch; `Ok` only when every item was acknowledged (or written).
    pub async fn deliver(&mut self, batch: Batch) -> Result<Delivered, IntakeError> {
        match self {
            Sink::Http(http) => http.deliver(batch).await,
            Sink::File(file) => file.write(batch),
        }
    }

    /// Ends the output: for a file, makes it appear (rename of the temporary file). Call it only
    /// after a successful run; dropping a `Sink` leaves no partial file behind.
    pub async fn finish(self) -> Result<(), IntakeError> {
        match self {
            Sink::Http(_) => Ok(()),
            Sink::File(file) => file.finish(),
        }
    }

    /// Retries made so far (every batch, delivered or not; none for a file).
    pub fn retries(&self) -> u64 {
        match self {
            Sink::Http(http) => http.retries(),
            Sink::File(_) => 0,
        }
    }

    /// Where the events go, for messages: the intake URL (no query, no credentials), the
    /// output file, or `standard output`.
    pub fn destination(&self) -> String {
        match self {
            Sink::Http(http) => http.url().to_string(),
            Sink::File(file) => file.destination(),
        }
    }

    /// The envelope format of this sink.
    pub fn format(&self) -> Format {
        match self {
            Sink::Http(http) => http.format(),
            Sink::File(file) => file.format(),
        }
    }
}

impl From<HttpIntake> for Sink {
    fn from(http: HttpIntake) -> Sink {
        Sink::Http(http)
    }
}

impl From<FileOutput> for Sink {
    fn from(file: FileOutput) -> Sink {
        Sink::File(file)
    }
}

//! One request, sent under the rules every caller shares.
//!
//! - **No redirect is followed**: a redirect could carry a credential (the Okta token, the intake
//!   key) to another host. A 3xx answer becomes [`TransportError::Redirect`], naming where it
//!   pointed (truncated).
//! - **Timeouts**: connecting, and the whole request (body included).
//! - **`https_only`** when the destination is HTTPS, so nothing can downgrade it.
//! - **Bounded bodies**: `Content-Length` is checked before reading, then the stream is capped,
//!   so a huge or endless answer never fills memory.
//! - **Errors and logs** carry the cause chain of a failure without its URL (reqwest's own text
//!   repeats it), and URLs only through [`display_url`] or [`shown_url`].

use std::error::Error as _;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Method, RequestBuilder};
use url::Url;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("okta-asset-connector/", env!("CARGO_PKG_VERSION"));

/// The longest URL or redirect target quoted in an error or a log line: enough to recognise it,
/// not enough for a hostile server to flood a terminal.
const MAX_URL_CHARS: usize = 300;

/// The rules of one HTTP client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportSettings {
    pub connect_timeout: Duration,
    /// From sending the request to the end of its body.
    pub request_timeout: Duration,
    /// Refuse any plain-http URL (set when the destination is HTTPS).
    pub https_only: bool,
}

impl TransportSettings {
    /// The settings for requests to `destination` (HTTPS only when it is HTTPS).
    pub fn for_destination(
        destination: &Url,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> TransportSettings {
        TransportSettings {
            connect_timeout,
            request_timeout,
            https_only: destination.scheme() == "https",
        }
    }
}

/// How much of a body to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// The caller needs the whole body (a page to parse): a larger body is
    /// [`TransportError::TooLarge`], and a failure while reading it is
    /// [`TransportError::Unreachable`].
    Whole(usize),
    /// The caller only quotes the start of the body in a message: keep at most this many bytes,
    /// and let a failure after the status line end the body quietly (the status already said
    /// what happened).
    Head(usize),
}

/// An answer read into memory.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No complete answer: connection refused or reset, timeout, body cut off. Another attempt
    /// may succeed.
    #[error("{0}")]
    Unreachable(String),
    /// A 3xx answer: never followed.
    #[error("redirect (HTTP {status}) to {location}")]
    Redirect { status: u16, location: String },
    /// The body is larger than the [`BodyLimit::Whole`] limit.
    #[error("answer larger than the {limit} byte limit")]
    TooLarge { limit: usize },
    /// The client or the request could not be built (a header value that is not valid, a TLS
    /// setup failure).
    #[error("{0}")]
    Build(String),
}

impl TransportError {
    /// Worth another attempt: only a failure to get an answer. A redirect or an oversized body
    /// would be the same every time.
    pub fn is_transient(&self) -> bool {
        matches!(self, TransportError::Unreachable(_))
    }
}

/// A client with the shared rules. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
}

impl Transport {
    pub fn new(settings: TransportSettings) -> Result<Transport, TransportError> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .https_only(settings.https_only)
            .user_agent(USER_AGENT)
            .build()
            .map(|client| Transport { client })
            .map_err(|error| TransportError::Build(cause_text(&error)))
    }

    /// A request to fill in (headers, body) and hand to [`Transport::send`].
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends `request` and waits for the status line and headers. A redirect is refused here;
    /// the body is read by [`Incoming::read`].
    pub async fn send(&self, request: RequestBuilder) -> Result<Incoming, TransportError> {
        let response = request.send().await.map_err(|error| {
            if error.is_builder() {
                TransportError::Build(cause_text(&error))
            } else {
                TransportError::Unreachable(cause_text(&error))
            }
        })?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            return Err(TransportError::Redirect {
                status,
                location: truncate(location, MAX_URL_CHARS),
            });
        }
        Ok(Incoming { response })
    }
}

/// An answer whose status and headers arrived and whose body is still to be read.
#[derive(Debug)]
pub struct Incoming {
    response: reqwest::Response,
}

impl Incoming {
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// Reads the body under `limit`.
    pub async fn read(self, limit: BodyLimit) -> Result<Answer, TransportError> {
        let status = self.status();
        let mut response = self.response;
        let headers = std::mem::take(response.headers_mut());
        let body = match limit {
            BodyLimit::Whole(limit) => read_whole(response, limit).await?,
            BodyLimit::Head(limit) => read_head(response, limit).await,
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

async fn read_whole(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, TransportError> {
    let too_large = TransportError::TooLarge { limit };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > limit => return Err(too_large),
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(Bytes::from(body)),
            Err(error) => return Err(TransportError::Unreachable(cause_text(&error))),
        }
    }
}

async fn read_head(mut response: reqwest::Response, limit: usize) -> Bytes {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Bytes::from(body)
}

/// What went wrong, from the error's cause chain ("connection failed: tcp connect error:
/// Connection refused (os error 111)"), without the URL: reqwest's own message includes the
/// URL, and callers show it once, redacted.
pub fn cause_text(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    let mut text = if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "answer cut off"
    } else {
        "request failed"
    }
    .to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let current_text = current.to_string();
        // hyper and hyper-util repeat themselves through their layers: keep each text once.
        if !text.contains(&current_text) {
            text.push_str(": ");
            text.push_str(&current_text);
        }
        cause = current.source();
    }
    text
}

/// Whether a failure's cause text (see [`cause_text`]) is the resolver's definitive answer that
/// the host name does not exist, as opposed to a resolver that could not answer now ("Temporary
/// failure in name resolution", which is worth retrying). The texts are getaddrinfo's: glibc's
/// EAI_NONAME and EAI_NODATA, musl's EAI_NONAME, and the BSD/macOS one. A name that does not
/// exist will not start to within the seconds a retry schedule waits: a typo in a URL is
/// reported at once instead of after a minute of retries.
pub fn is_unknown_host(detail: &str) -> bool {
    const NO_SUCH_NAME: [&str; 4] = [
        "Name or service not known",
        "No address associated with hostname",
        "Name does not resolve",
        "nodename nor servname provided, or not known",
    ];
    detail.contains("dns error") && NO_SUCH_NAME.iter().any(|text| detail.contains(text))
}

/// A URL as it may appear in an error or a log line: no user info, no fragment, at most a few
/// hundred characters. The query stays: every Okta query is the connector's own (a search
/// expression, a page size) or an opaque cursor, and it tells which page failed; credentials
/// only ever travel in headers.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_fragment(None);
    truncate(shown.as_str(), MAX_URL_CHARS)
}

/// `scheme://host[:port]/path` of `url`: for a URL configured by the operator, whose query is
/// theirs and might hold a secret.
pub fn shown_url(url: &Url) -> String {
    let text = format!("{}{}", url.origin().ascii_serialization(), url.path());
    truncate(&text, MAX_URL_CHARS)
}

/// The first `max` characters of `text`, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_url_drops_user_info_and_fragment_and_keeps_the_query() {
        let url =
            Url::parse("https://u:pw@a.okta.com/api/v1/users?limit=200&after=x#frag").unwrap();
        assert_eq!(
            display_url(&url),
            "https://a.okta.com/api/v1/users?limit=200&after=x"
        );
    }

    #[test]
    fn shown_url_drops_credentials_and_query() {
        let url: Url = "https://user:pw@intake.example:8443/api/v2/x?token=abc"
            .parse()
            .unwrap();
        assert_eq!(shown_url(&url), "https://intake.example:8443/api/v2/x");
    }

    #[test]
    fn long_urls_are_truncated() {
        let url = Url::parse(&format!("https://a.okta.com/x?after={}", "a".repeat(5000))).unwrap();
        let shown = display_url(&url);
        assert_eq!(shown.chars().count(), MAX_URL_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn unknown_hosts_are_told_from_resolvers_that_could_not_answer() {
        let glibc = "connection failed: client error (Connect): dns error: failed to lookup address information: Name or service not known";
        assert!(is_unknown_host(glibc));
        assert!(is_unknown_host(
            "connection failed: dns error: failed to lookup address information: Name does not resolve"
        ));
        assert!(!is_unknown_host(
            "connection failed: dns error: failed to lookup address information: Temporary failure in name resolution"
        ));
        assert!(!is_unknown_host(
            "connection failed: tcp connect error: Connection refused (os error 111)"
        ));
    }

    #[test]
    fn only_unreachable_is_transient() {
        assert!(TransportError::Unreachable("timed out".into()).is_transient());
        assert!(!TransportError::TooLarge { limit: 1 }.is_transient());
        assert!(!TransportError::Redirect {
            status: 302,
            location: "x".into()
        }
        .is_transient());
    }
}

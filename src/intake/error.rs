//! Delivery errors. Every message says what happened and what to check; none holds the API key
//! (bodies quoted from the intake are truncated and scrubbed of it) or an event.

/// How much of an intake's response body an error quotes.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Why a batch could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The intake refused the request (a 4xx other than 401/403/408/413/429, or a redirect).
    #[error("intake rejected the batch with HTTP {status} at {url}: {message} ({})", reject_hint(*status))]
    Rejected {
        status: u16,
        message: String,
        url: String,
    },
    /// 401/403: the key is wrong or not allowed for this connector.
    #[error("intake refused our credentials with HTTP {status} at {url}: {message} (check sekoia_api_key / INTAKE_API_KEY and that the connector UUID / intake_url is right)")]
    Unauthorized {
        status: u16,
        message: String,
        url: String,
    },
    /// A single event is larger than the intake accepts (413 on a one-item batch). The rest of the
    /// batch was delivered (`delivered` items).
    #[error("intake refused a single event of {bytes} bytes (user {}) as too large (HTTP 413) at {url}; {delivered} other event(s) of the batch were delivered (the user record itself is larger than the intake accepts: shorten the oversized profile attributes in Okta, or raise the intake's body limit)", uid.as_deref().unwrap_or("unknown"))]
    TooLarge {
        /// Body size of the single-event request.
        bytes: usize,
        /// `user.uid` of the event, when it has one.
        uid: Option<String>,
        delivered: usize,
        url: String,
    },
    /// Retries ran out (408/429/5xx or network errors every time).
    #[error("intake unavailable at {url} after {attempts} attempt(s){}: {last} (check that intake_url is reachable from here; nothing was committed, so the batch is sent again on the next run)", status.map(|s| format!(", last HTTP {s}")).unwrap_or_default())]
    Exhausted {
        status: Option<u16>,
        attempts: u32,
        last: String,
        url: String,
    },
    /// Writing `--output` failed.
    #[error("cannot write {what}: {source} (check the path and free space)")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client or a request could not be built.
    #[error("cannot set up the intake client: {0}")]
    Build(String),
}

impl IntakeError {
    /// The HTTP status behind the error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            IntakeError::Rejected { status, .. } | IntakeError::Unauthorized { status, .. } => {
                Some(*status)
            }
            IntakeError::TooLarge { .. } => Some(413),
            IntakeError::Exhausted { status, .. } => *status,
            IntakeError::Io { .. } | IntakeError::Build(_) => None,
        }
    }
}

fn reject_hint(status: u16) -> &'static str {
    match status {
        404 => "check intake_url / connector_uuid: the intake does not know this connector",
        400 | 415 | 422 => {
            "check that `format` matches what the intake expects (sekoia envelope or ocsf NDJSON)"
        }
        300..=399 => "the intake URL redirects; set intake_url to the final URL",
        _ => "see the intake's message",
    }
}

/// Makes a response body fit for an error message: the `message` / `error` / `detail` string of
/// a JSON body when there is one, else the body as lossy UTF-8; `secret` removed, whitespace
/// collapsed, at most [`MAX_MESSAGE_CHARS`] characters.
pub(crate) fn quote_body(body: &[u8], secret: &str) -> String {
    let text = json_message(body).unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = if secret.is_empty() {
        text
    } else {
        text.replace(secret, "[redacted]")
    };
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return "(empty response body)".into();
    }
    match collapsed.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    }
}

fn json_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["message", "error", "detail", "title"]
        .iter()
        .find_map(|key| value.get(key)?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_bodies_are_truncated_and_scrubbed() {
        assert_eq!(quote_body(b"", "k"), "(empty response body)");
        assert_eq!(
            quote_body(b"bad key KEY123\n here", "KEY123"),
            "bad key [redacted] here"
        );
        let long = "é".repeat(2000);
        let quoted = quote_body(long.as_bytes(), "");
        assert_eq!(quoted.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(quoted.ends_with('…'));
        assert_eq!(quote_body(&[0xff, b'a'], ""), "\u{fffd}a");
        assert_eq!(
            quote_body(br#"{"message":"bad KEY1 version"}"#, "KEY1"),
            "bad [redacted] version"
        );
        assert_eq!(quote_body(br#"{"code":7,"detail":"nope"}"#, ""), "nope");
        assert_eq!(quote_body(br#"{"code":7}"#, ""), r#"{"code":7}"#);
    }

    #[test]
    fn messages_carry_hints() {
        let e = IntakeError::Unauthorized {
            status: 401,
            message: "nope".into(),
            url: "https://x/y".into(),
        };
        assert!(e.to_string().contains("INTAKE_API_KEY"));
        let e = IntakeError::Rejected {
            status: 404,
            message: "nope".into(),
            url: "https://x/y".into(),
        };
        assert!(e.to_string().contains("connector_uuid"));
        assert_eq!(e.status(), Some(404));
    }
}

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
    #[error("cannot write {what}: {source}{}", io_hint(source))]
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

/// What to check after an `--output` failure (a missing directory explains itself).
fn io_hint(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::NotFound => "",
        std::io::ErrorKind::PermissionDenied => " (check the permissions of the path)",
        std::io::ErrorKind::BrokenPipe => " (the reader of the output went away)",
        _ => " (check the path and free space)",
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
/// a JSON body when there is one, else the body as lossy UTF-8; `secret` removed (as typed or
/// encoded, see [`scrub`]), whitespace collapsed, control characters escaped and at most
/// [`MAX_MESSAGE_CHARS`] characters (the intake's text is remote text: see [`crate::text`]).
pub(crate) fn quote_body(body: &[u8], secret: &str) -> String {
    let text = json_message(body).unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = scrub(&text, secret);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return "(empty response body)".into();
    }
    crate::text::remote(&collapsed, MAX_MESSAGE_CHARS)
}

/// `text` with every occurrence of `secret` replaced by `[redacted]`, whether an echo wrote it
/// as typed or encoded it, character by character, the ways a server echoes text: JSON escapes
/// (`\u0041`, `\/`), percent-encoding (`%41`) and HTML character references (`&#65;`, `&#x41;`),
/// mixed freely. The whole encoded span is replaced.
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    let wanted: Vec<char> = secret.chars().collect();
    if wanted.is_empty() {
        return text.to_string();
    }
    let units = decoded_units(text);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i + wanted.len() <= units.len() {
        let candidate = &units[i..i + wanted.len()];
        if candidate.iter().map(|u| u.0).eq(wanted.iter().copied()) {
            out.push_str(&text[copied..candidate[0].1]);
            out.push_str("[redacted]");
            copied = candidate[candidate.len() - 1].2;
            i += wanted.len();
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The characters `text` stands for once decoded, each with the byte range it takes in `text`.
fn decoded_units(text: &str) -> Vec<(char, usize, usize)> {
    let mut units = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let (decoded, used) = decode_one(&text[at..]);
        units.push((decoded, at, at + used));
        at += used;
    }
    units
}

/// The first character of `rest` after decoding one escape, and how many bytes it took.
fn decode_one(rest: &str) -> (char, usize) {
    let hex = |digits: &str| u32::from_str_radix(digits, 16).ok();
    let bytes = rest.as_bytes();
    if let Some(unit) = rest
        .strip_prefix("\\u")
        .and_then(|r| r.get(..4))
        .and_then(hex)
    {
        // A UTF-16 surrogate pair is two escapes for one character.
        let low = rest
            .get(6..)
            .and_then(|r| r.strip_prefix("\\u"))
            .and_then(|r| r.get(..4))
            .and_then(hex);
        if let (0xD800..=0xDBFF, Some(low @ 0xDC00..=0xDFFF)) = (unit, low) {
            let joined = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            return (char::from_u32(joined).unwrap_or('\u{fffd}'), 12);
        }
        return (char::from_u32(unit).unwrap_or('\u{fffd}'), 6);
    }
    if bytes.first() == Some(&b'\\') {
        if let Some(&escaped @ (b'"' | b'\\' | b'/')) = bytes.get(1) {
            return (char::from(escaped), 2);
        }
    }
    if bytes.first() == Some(&b'%') {
        if let Some(byte) = rest.get(1..3).and_then(hex) {
            let decoded = if byte < 0x80 {
                char::from(byte as u8)
            } else {
                '\u{fffd}'
            };
            return (decoded, 3);
        }
    }
    if let Some(reference) = rest.strip_prefix("&#") {
        if let Some(end) = reference.get(..12).unwrap_or(reference).find(';') {
            let number = &reference[..end];
            let value = match number.strip_prefix(['x', 'X']) {
                Some(digits) => hex(digits),
                None => number.parse().ok(),
            };
            if let Some(decoded) = value.and_then(char::from_u32) {
                return (decoded, end + 3);
            }
        }
    }
    let first = rest.chars().next().unwrap_or('\u{fffd}');
    (first, first.len_utf8().max(1))
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
    fn encoded_echoes_of_the_key_are_scrubbed_too() {
        let key = "CANARY-key/9";
        for body in [
            // JSON-escaped, character by character or partly, in a body without a message.
            r#"{"code":7,"echo":"Bearer \u0043\u0041\u004E\u0041\u0052\u0059\u002d\u006b\u0065\u0079\/9"}"#,
            r#"{"code":7,"echo":"Bearer C\u0041NARY-key\/9"}"#,
            // Percent-encoded, HTML character references, and a mix of all.
            "bad token CANARY%2Dkey%2F9 here",
            "bad token &#67;&#x41;NARY-key&#47;9 here",
            "bad token C%41&#78;\\u0041RY-key/9 here",
            // As typed, next to an escaped copy.
            "CANARY-key/9 and \\u0043ANARY-key/9",
        ] {
            let quoted = quote_body(body.as_bytes(), key);
            assert!(quoted.contains("[redacted]"), "{body} -> {quoted}");
            assert!(!quoted.contains("ANARY"), "{body} -> {quoted}");
            assert!(
                !quoted.contains("key/9") && !quoted.contains("key\\/9"),
                "{body} -> {quoted}"
            );
        }
        // Text around the key is kept; escapes that are not the key stay as they were.
        assert_eq!(
            scrub(r#"a \u0041 CANARY-key/9 b"#, key),
            r#"a \u0041 [redacted] b"#
        );
        assert_eq!(scrub(r"%E9t\u00e9 &#9731;", key), r"%E9t\u00e9 &#9731;");
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

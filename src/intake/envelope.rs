//! Envelopes: how a batch of serialized events becomes the bytes of one request body.
//!
//! Bodies are built by concatenating the already-serialized events, never by parsing them
//! back: the mapper serialized each event once, and a 4 MiB batch is copied, not re-encoded.

use std::fmt;
use std::str::FromStr;

/// Opening of a `sekoia` envelope; the items follow, comma-separated, then [`SEKOIA_TAIL`].
pub(crate) const SEKOIA_HEAD: &[u8] = br#"{"version":1,"items":["#;
/// Closing of a `sekoia` envelope.
pub(crate) const SEKOIA_TAIL: &[u8] = b"]}";

/// The wire format of the intake: Sekoia.io's JSON envelope, or OCSF NDJSON for generic HTTP
/// collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// `{"version":1,"items":[event, ...]}` as `application/json`: Sekoia.io's asset-connector API.
    #[default]
    Sekoia,
    /// NDJSON, one event per line, as `application/x-ndjson`: generic HTTP collectors.
    Ocsf,
}

impl Format {
    /// The configuration spelling: `sekoia` or `ocsf`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Sekoia => "sekoia",
            Format::Ocsf => "ocsf",
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Sekoia => "application/json",
            Format::Ocsf => "application/x-ndjson",
        }
    }

    /// Exact length of the body holding `count` items whose serialized lengths add up to
    /// `item_bytes`. The batcher's byte cap is checked with this, so it is exact, not estimated.
    pub fn body_len(self, count: usize, item_bytes: usize) -> usize {
        match self {
            Format::Sekoia => {
                SEKOIA_HEAD.len() + item_bytes + count.saturating_sub(1) + SEKOIA_TAIL.len()
            }
            Format::Ocsf => item_bytes + count,
        }
    }

    /// Builds the body for `items` (each one serialized JSON object on a single line).
    pub fn body<I: AsRef<[u8]>>(self, items: &[I]) -> Vec<u8> {
        let item_bytes = items.iter().map(|i| i.as_ref().len()).sum();
        let mut body = Vec::with_capacity(self.body_len(items.len(), item_bytes));
        match self {
            Format::Sekoia => {
                body.extend_from_slice(SEKOIA_HEAD);
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(item.as_ref());
                }
                body.extend_from_slice(SEKOIA_TAIL);
            }
            Format::Ocsf => {
                for item in items {
                    body.extend_from_slice(item.as_ref());
                    body.push(b'\n');
                }
            }
        }
        body
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `format` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown intake format {0:?}: expected \"sekoia\" (Sekoia.io envelope, the default) or \"ocsf\" (NDJSON)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sekoia" => Ok(Format::Sekoia),
            "ocsf" => Ok(Format::Ocsf),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn events() -> Vec<Vec<u8>> {
        vec![
            br#"{"a":1}"#.to_vec(),
            br#"{"b":"x,y]}"}"#.to_vec(),
            "{\"c\":\"\u{e9}\u{1F600}\"}".as_bytes().to_vec(),
        ]
    }

    #[test]
    fn sekoia_body_is_the_exact_envelope_and_parses_back() {
        let body = Format::Sekoia.body(&events());
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            "{\"version\":1,\"items\":[{\"a\":1},{\"b\":\"x,y]}\"},{\"c\":\"\u{e9}\u{1F600}\"}]}"
        );
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            json!({"version": 1, "items": [{"a": 1}, {"b": "x,y]}"}, {"c": "\u{e9}\u{1F600}"}]})
        );
        let item_bytes = events().iter().map(Vec::len).sum();
        assert_eq!(body.len(), Format::Sekoia.body_len(3, item_bytes));
    }

    #[test]
    fn empty_sekoia_envelope_is_valid() {
        let body = Format::Sekoia.body::<Vec<u8>>(&[]);
        assert_eq!(body, br#"{"version":1,"items":[]}"#);
        assert_eq!(body.len(), Format::Sekoia.body_len(0, 0));
    }

    #[test]
    fn ocsf_body_is_ndjson_and_parses_back() {
        let evs = events();
        let body = Format::Ocsf.body(&evs);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.ends_with("}\n"));
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], json!({"b": "x,y]}"}));
        let expected: Vec<u8> = evs
            .iter()
            .flat_map(|e| e.iter().copied().chain([b'\n']))
            .collect();
        assert_eq!(body, expected);
        assert_eq!(
            body.len(),
            Format::Ocsf.body_len(3, evs.iter().map(Vec::len).sum())
        );
    }

    #[test]
    fn format_parses_displays_and_defaults() {
        assert_eq!("sekoia".parse::<Format>().unwrap(), Format::Sekoia);
        assert_eq!(" OCSF ".parse::<Format>().unwrap(), Format::Ocsf);
        let err = "json".parse::<Format>().unwrap_err().to_string();
        assert!(
            err.contains("\"json\"") && err.contains("sekoia") && err.contains("ocsf"),
            "{err}"
        );
        assert_eq!(Format::default(), Format::Sekoia);
        assert_eq!(Format::Ocsf.to_string(), "ocsf");
        assert_eq!(Format::Sekoia.content_type(), "application/json");
        assert_eq!(Format::Ocsf.content_type(), "application/x-ndjson");
    }
}

//! Secret canaries: values unique to one test run, so that finding one anywhere can only mean
//! that the connector leaked it there.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use okta_fake::http::Request;

/// `label` followed by a suffix unique to this process and moment.
pub fn canary(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{label}{:x}{nanos:x}", std::process::id())
}

/// Panics, showing where, if any of `canaries` is in `text`.
pub fn assert_absent(canaries: &[&str], what: &str, text: &str) {
    for canary in canaries {
        assert!(
            !text.contains(canary),
            "secret canary {canary} leaked into {what}:\n{}",
            excerpt(text, canary)
        );
    }
}

/// Up to 300 characters either side of `needle` in `text`.
fn excerpt(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(300)
        .map_or(0, |(i, _)| i);
    text[start..(at + needle.len() + 300).min(text.len())].to_string()
}

/// Every file under `dir` (a SQLite database, its WAL and shared memory, ...), as text.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

/// A recorded request as text: method, path, query, headers (but `Authorization` when
/// `skip_authorization`) and body.
pub fn request_text(request: &Request, skip_authorization: bool) -> String {
    let mut text = format!("{} {}?{}", request.method, request.path, request.query);
    for (name, value) in &request.headers {
        if !(skip_authorization && name.as_str() == "authorization") {
            text.push_str(&format!(
                " {name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
    }
    text.push(' ');
    text.push_str(&String::from_utf8_lossy(&request.body));
    text
}

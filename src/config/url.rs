//! Origin rules for the Okta org and the intake, and URL redaction for error messages.
//!
//! HTTPS only; plain `http` only for loopback hosts and only when `allow_insecure_http` is set
//! (local tests). The Okta base URL is reduced to its origin: a path, query, fragment or
//! credentials are refused rather than silently dropped (or, worse, sent).

use url::{Host, Url};

use super::ConfigError;

/// Accepts `acme.okta.com`, `https://acme.okta.com`, `https://acme.okta.com/`; refuses paths,
/// queries, fragments and credentials.
pub fn normalize_okta_origin(input: &str, allow_insecure_http: bool) -> Result<Url, ConfigError> {
    let key = "base_url";
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::invalid(
            key,
            "empty; use your org URL, e.g. https://acme.okta.com",
        ));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    // Text that is not a URL is not echoed: it may be a secret set in the wrong variable.
    let url = Url::parse(&with_scheme)
        .map_err(|e| ConfigError::invalid(key, format!("not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{}: credentials in the URL are not allowed; put the API token in OKTA_API_TOKEN",
                // From the text, cut at its last `@`: the parser may have taken part of a
                // password containing `@` for the host or path.
                redact_url_text(&with_scheme)
            ),
        ));
    }
    check_scheme(key, &url, allow_insecure_http)?;
    if url.path() != "/" && !url.path().is_empty() {
        let hint = if url.path().starts_with("/oauth2") || url.path().starts_with("/api") {
            "use the org URL only (https://acme.okta.com), without /api/v1 or /oauth2"
        } else {
            "use the org URL only, e.g. https://acme.okta.com"
        };
        return Err(ConfigError::invalid(
            key,
            format!("{} has a path ({}); {hint}", shown(&url), url.path()),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        // Not echoed: a query is where people paste tokens (`?token=...`).
        return Err(ConfigError::invalid(
            key,
            format!(
                "{}?… has a query or fragment; use the org URL only, e.g. https://acme.okta.com",
                shown(&url)
            ),
        ));
    }
    if url.host_str().is_some_and(|host| host.contains("-admin.")) {
        return Err(ConfigError::invalid(
            key,
            format!("{} is the admin console host; use the org host without -admin (e.g. https://acme.okta.com)", shown(&url)),
        ));
    }
    let mut origin = url;
    origin.set_path("/");
    Ok(origin)
}

/// The intake URL: HTTPS (or loopback HTTP when allowed), no credentials.
pub fn validate_intake_url(input: &str, allow_insecure_http: bool) -> Result<Url, ConfigError> {
    let key = "intake_url";
    let url = Url::parse(input.trim())
        .map_err(|e| ConfigError::invalid(key, format!("not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{}: credentials in the URL are not allowed; put the intake key in INTAKE_API_KEY",
                redact_url_text(input)
            ),
        ));
    }
    check_scheme(key, &url, allow_insecure_http)?;
    Ok(url)
}

/// A URL as it may appear in an error: no credentials, no query, no fragment.
pub fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn check_scheme(
    key: &'static str,
    url: &Url,
    allow_insecure_http: bool,
) -> Result<(), ConfigError> {
    let reason = match url.scheme() {
        "https" => return Ok(()),
        "http" if allow_insecure_http && is_loopback(url) => return Ok(()),
        "http" if allow_insecure_http => "plain http is only allowed for loopback hosts (127.0.0.1, ::1, localhost), even with allow_insecure_http".to_string(),
        "http" => "plain http is refused; use https (http is only for local tests with --allow-insecure-http on a loopback host)".to_string(),
        other => format!("unsupported scheme {other}; use https"),
    };
    Err(ConfigError::invalid(
        key,
        format!("{}: {reason}", shown(url)),
    ))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Replaces the content of every double-quoted part of `message` (escaped quotes included)
/// with `…`; key names, which parsers put in backticks, stay.
pub fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    let mut escaped = false;
    for c in message.chars() {
        if quoted {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
                out.push_str("…\"");
            }
        } else {
            out.push(c);
            quoted = c == '"';
        }
    }
    if quoted {
        out.push('…');
    }
    out
}

/// A URL as typed, without what may be secret in it: credentials, query and fragment.
pub fn redact_url_text(text: &str) -> String {
    let text = text.trim();
    // The last `@`: a password may itself contain `@` (the URL parser splits at the last one).
    let without_credentials = match text.rsplit_once('@') {
        Some((before, after)) => match before.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://[redacted]@{after}"),
            None => format!("[redacted]@{after}"),
        },
        None => text.to_string(),
    };
    match without_credentials.split_once(['?', '#']) {
        Some((head, _)) => format!("{head}?…"),
        None => without_credentials,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        normalize_okta_origin(input, false).unwrap().to_string()
    }

    #[test]
    fn base_url_forms_are_normalised() {
        assert_eq!(ok("acme.okta.com"), "https://acme.okta.com/");
        assert_eq!(ok("https://acme.okta.com/"), "https://acme.okta.com/");
        assert_eq!(ok("  https://ACME.okta.com  "), "https://acme.okta.com/");
        assert_eq!(
            ok("https://login.acme.com:8443"),
            "https://login.acme.com:8443/"
        );
    }

    #[test]
    fn bad_base_urls_are_refused_with_a_reason() {
        for (input, needle) in [
            ("https://acme.okta.com/api/v1", "without /api/v1"),
            ("https://acme.okta.com/?x=1", "query"),
            ("https://user:hunter2@acme.okta.com", "credentials"),
            ("http://acme.okta.com", "plain http is refused"),
            ("ftp://acme.okta.com", "unsupported scheme"),
            ("https://acme-admin.okta.com", "admin console"),
            ("", "empty"),
            ("https://", "not a URL"),
        ] {
            let error = normalize_okta_origin(input, false).unwrap_err().to_string();
            assert!(error.contains(needle), "{input}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn insecure_http_only_on_loopback_and_only_when_allowed() {
        assert!(normalize_okta_origin("http://127.0.0.1:8080", true).is_ok());
        assert!(normalize_okta_origin("http://localhost:8080", true).is_ok());
        assert!(normalize_okta_origin("http://[::1]:8080", true).is_ok());
        assert!(normalize_okta_origin("http://127.0.0.1:8080", false).is_err());
        assert!(normalize_okta_origin("http://10.0.0.1:8080", true).is_err());
    }

    #[test]
    fn redaction_hides_credentials_and_queries() {
        assert_eq!(
            redact_url_text("https://u:p@w@acme.okta.com/x?token=s"),
            "https://[redacted]@acme.okta.com/x?…"
        );
        assert_eq!(
            redact_quoted(r#"invalid "s3\"cr3t" in `k`"#),
            "invalid \"…\" in `k`"
        );
    }
}

//! Typed Okta errors that keep the context an operator needs: the Okta error code, the request
//! id to quote to Okta support, the HTTP status and the URL (which never holds a secret: the token
//! travels in a header only).

use std::fmt;

use crate::http::{display_url, is_unknown_host, TransportError};

/// An error answer from the Okta API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// `E0000011`, `E0000006`, ...; absent when the body was not an Okta error body.
    pub code: Option<String>,
    pub summary: Option<String>,
    /// `X-Okta-Request-Id`.
    pub request_id: Option<String>,
    pub url: String,
    /// The request carried an OAuth 2.0 access token (service app), not an SSWS token.
    pub oauth: bool,
}

impl ApiError {
    /// What the operator should do about it.
    pub fn hint(&self) -> &'static str {
        match (self.code.as_deref(), self.status, self.oauth) {
            (Some("E0000011"), _, true) | (None, 401, true) => {
                return "Okta rejected a freshly issued OAuth access token too: check the service app is active, still has its public key and admin role, and (with DPoP) that nothing rewrites requests between the connector and Okta"
            }
            (Some("E0000006"), _, true) | (None, 403, true) => {
                return "the service app lacks a scope or an admin role for this endpoint: grant okta.users.read, okta.groups.read and okta.roles.read (Applications > the app > Okta API Scopes) and assign it the Read-Only Administrator role (Admin roles tab)"
            }
            _ => {}
        }
        match (self.code.as_deref(), self.status) {
            (Some("E0000011"), _) | (None, 401) => {
                "the API token is invalid, expired or revoked: create a new token (Security > API > Tokens) and set OKTA_API_TOKEN / apikey"
            }
            (Some("E0000006"), _) | (None, 403) => {
                "the token lacks a permission for this endpoint: create it from an admin holding the Read-Only Administrator role (or grant okta.users.read, okta.groups.read, okta.roles.read)"
            }
            (Some("E0000007"), _) | (None, 404) => {
                "resource not found: check base_url points at your Okta org (e.g. https://acme.okta.com), not an app or admin URL"
            }
            (Some("E0000015"), _) => {
                "this Okta feature is not enabled for the org: the endpoint is unavailable on your plan; disable the matching enrichment (--no-roles / --no-mfa)"
            }
            (Some("E0000047"), _) | (None, 429) => {
                "Okta rate limit reached: lower rate_limit_share or max_concurrency, or raise the org's limits for this token"
            }
            (_, 500..=599) => "Okta had a server error: retry later; quote the request id to Okta support if it persists",
            _ => "see https://developer.okta.com/docs/reference/error-codes/ for this error code",
        }
    }

    /// True for authentication and authorisation failures, which retrying cannot fix.
    pub fn is_permission_problem(&self) -> bool {
        matches!(self.status, 401 | 403)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Okta answered HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(summary) = &self.summary {
            write!(f, " ({summary})")?;
        }
        write!(f, " for GET {}", self.url)?;
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        write!(f, "; hint: {}", self.hint())
    }
}

/// Everything that can go wrong talking to Okta.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    #[error("{0}")]
    Api(Box<ApiError>),

    #[error("{}", transport_message(url, detail))]
    Transport { url: String, detail: String },

    #[error("Okta response for {url} is larger than the {limit} byte limit; hint: a proxy may be answering instead of Okta")]
    BodyTooLarge { url: String, limit: usize },

    #[error("Okta response for {url} is not valid JSON ({detail}){}; hint: check base_url is an Okta org, not a login page or proxy", request_id_suffix(.request_id))]
    InvalidBody {
        url: String,
        detail: String,
        request_id: Option<String>,
    },

    #[error("refused to follow a pagination link to {link}: it leaves the configured Okta origin {origin}, and the API token must never be sent elsewhere")]
    ForeignLink { link: String, origin: String },

    #[error("Okta answered {url} with a redirect (HTTP {status}) to {location}; redirects are not followed so the token never leaves the Okta origin; hint: use the org URL itself as base_url (e.g. https://acme.okta.com)")]
    Redirect {
        url: String,
        status: u16,
        location: String,
    },

    #[error("refused to follow a pagination link to {link}: it leaves the path {path} of the listing it continues (a next link only moves the cursor), and the API token is only sent where the connector means to read")]
    LinkPathChanged { link: String, path: String },

    #[error("pagination loop: Okta sent the same next link twice ({url}); stopping instead of looping forever")]
    PaginationLoop { url: String },

    #[error("endless listing: {count} empty pages in a row, each with a new next link, at {url}; stopping instead of following cursors forever; hint: retry later, and quote the request ids in the log to Okta support if it persists")]
    EmptyPages { url: String, count: u32 },

    #[error("endless listing: more than {max} pages at {url}; stopping instead of following cursors forever; hint: retry later, and quote the request ids in the log to Okta support if it persists")]
    TooManyPages { url: String, max: u32 },

    #[error("{count} record(s) of {url} could not be read, so the list is incomplete and is not used (a missing entry would read as absent); hint: the records are logged; quote the request ids to Okta support if it persists")]
    UnreadableRecords { url: String, count: usize },

    #[error("refused to put the {kind} id {id} into an Okta URL: Okta ids are letters and digits only (e.g. 00u1ab2CD3ef4GH5i6j7); the answer that carried it is not trusted")]
    InvalidId { kind: &'static str, id: String },

    #[error("gave up on {url} after {attempts} attempts: {last}")]
    Exhausted {
        url: String,
        attempts: u32,
        last: Box<OktaError>,
    },

    #[error("invalid Okta client settings: {0}")]
    Settings(String),

    /// Okta's token endpoint refused the OAuth service app (`invalid_client`, `invalid_scope`, ...).
    #[error("{0}")]
    Token(Box<TokenError>),
}

impl OktaError {
    /// The Okta API error, looking through retries.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            OktaError::Api(api) => Some(api),
            OktaError::Exhausted { last, .. } => last.api(),
            _ => None,
        }
    }

    /// The Okta error code (`E0000006`, ...), if Okta sent one.
    pub fn code(&self) -> Option<&str> {
        self.api().and_then(|api| api.code.as_deref())
    }

    /// HTTP status of the Okta answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|api| api.status)
    }
}

/// A failure to get an answer: an unknown host is named as such (it is a configuration mistake,
/// not an outage); anything else says what failed and where to look.
fn transport_message(url: &str, detail: &str) -> String {
    if is_unknown_host(detail) {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string))
            .unwrap_or_else(|| url.to_string());
        let answer = detail.rsplit(": ").next().unwrap_or(detail);
        return format!("the Okta host {host} does not resolve (DNS: {answer}); hint: check base_url (e.g. https://acme.okta.com) and this machine's DNS");
    }
    format!("cannot reach Okta at {url}: {detail}; hint: check base_url, DNS, proxy and firewall (HTTPS port 443 must be open)")
}

impl OktaError {
    /// The token was refused or the Okta host does not resolve: every request of a cycle fails
    /// the same way. Steps that would otherwise degrade to a warning ("admin detection is off")
    /// leave it to the cycle's own error, so the operator reads the cause first.
    pub fn affects_every_request(&self) -> bool {
        match self {
            OktaError::Exhausted { last, .. } => last.affects_every_request(),
            // Okta's "feature not enabled" is a 401 too, of one endpoint only.
            OktaError::Api(api) => api.status == 401 && api.code.as_deref() != Some("E0000015"),
            OktaError::Transport { detail, .. } => is_unknown_host(detail),
            OktaError::Token(_) => true,
            _ => false,
        }
    }

    /// Okta said no for good: the token may not do this (401/403), or the feature is not
    /// enabled for the org (`E0000015`). Reading again next cycle would get the same answer.
    pub fn is_denied(&self) -> bool {
        self.api().is_some_and(ApiError::is_permission_problem)
            || matches!(self.code(), Some("E0000015"))
    }

    /// The cause alone, without the hint: for retry log lines, where the hint would be repeated
    /// on every attempt.
    pub fn short_cause(&self) -> String {
        match self {
            OktaError::Transport { detail, .. } => detail.clone(),
            OktaError::Api(api) => {
                let mut text = format!("HTTP {}", api.status);
                if let Some(code) = &api.code {
                    text.push_str(&format!(" {code}"));
                }
                if let Some(summary) = &api.summary {
                    text.push_str(&format!(" ({summary})"));
                }
                text
            }
            other => other.to_string(),
        }
    }
}

fn request_id_suffix(request_id: &Option<String>) -> String {
    request_id
        .as_ref()
        .map_or(String::new(), |id| format!(" [request id {id}]"))
}

impl OktaError {
    /// The error for a request to `url` that got no usable answer.
    pub(crate) fn from_transport(url: &url::Url, error: TransportError) -> OktaError {
        let url = display_url(url);
        match error {
            TransportError::Unreachable(detail) => OktaError::Transport { url, detail },
            TransportError::Redirect { status, location } => OktaError::Redirect {
                url,
                status,
                location,
            },
            TransportError::TooLarge { limit } => OktaError::BodyTooLarge { url, limit },
            TransportError::Build(detail) => OktaError::Settings(detail),
        }
    }
}

/// An error answer of Okta's token endpoint (`{error, error_description}`).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenError {
    pub status: u16,
    /// `invalid_client`, `invalid_scope`, `invalid_dpop_proof`, `use_dpop_nonce`, ...
    pub error: String,
    pub description: Option<String>,
    pub request_id: Option<String>,
    pub url: String,
}

impl TokenError {
    /// What the operator should do about it.
    pub fn hint(&self) -> &'static str {
        match self.error.as_str() {
            "invalid_client" => "Okta did not accept the service app's client assertion: check client_id, that the app's client authentication is \"Public key / Private key\", that its registered public key matches private_key (and key_id when it has several keys), and that this host's clock is right",
            "invalid_scope" => "the service app was not granted the requested scopes: grant them in the Okta admin console (Applications > the app > Okta API Scopes > Grant), or list only granted ones in scopes",
            "unauthorized_client" => "this app may not use the client credentials grant: use an API Services app (Applications > Create App Integration > API Services) with Public key / Private key client authentication",
            "invalid_dpop_proof" => "Okta refused the DPoP proof: keep dpop = \"auto\" (or true) when the app requires DPoP, false only when it does not; check this host's clock",
            "use_dpop_nonce" => "Okta asked for a new DPoP nonce twice in a row: retry; if it persists, quote the request id to Okta support",
            "unsupported_grant_type" | "invalid_request" => "the token request was malformed for this org: check base_url is the Okta org URL (the org authorization server, not a custom one)",
            _ => "see Okta's OAuth 2.0 error reference for this error (https://developer.okta.com/docs/reference/error-codes/)",
        }
    }
}

#[cfg(test)]
impl TokenError {
    /// Okta's 401 `invalid_client` answer at acme.okta.com's token endpoint, for tests.
    pub(crate) fn invalid_client(description: &str, request_id: &str) -> TokenError {
        TokenError {
            status: 401,
            error: "invalid_client".into(),
            description: Some(description.into()),
            request_id: Some(request_id.into()),
            url: "https://acme.okta.com/oauth2/v1/token".into(),
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Okta's token endpoint {} refused the service app's token request: HTTP {} {}",
            self.url, self.status, self.error
        )?;
        if let Some(description) = &self.description {
            write!(f, " ({description})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        write!(f, "; hint: {}", self.hint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: Option<&str>) -> OktaError {
        OktaError::Api(Box::new(ApiError {
            status,
            code: code.map(str::to_string),
            summary: None,
            request_id: None,
            url: "https://acme.okta.com/api/v1/users/00u1/factors".into(),
            oauth: false,
        }))
    }

    /// Okta's spec gives "feature not enabled" (`E0000015`) as a 401: one endpoint is off, the
    /// token is fine. It is a denial (no point reading again next cycle), not a refused token.
    #[test]
    fn feature_not_enabled_is_a_denial_of_one_endpoint_not_a_refused_token() {
        let not_enabled = api(401, Some("E0000015"));
        assert!(not_enabled.is_denied());
        assert!(!not_enabled.affects_every_request());
        let invalid_token = api(401, Some("E0000011"));
        assert!(invalid_token.is_denied() && invalid_token.affects_every_request());
        assert!(api(403, Some("E0000006")).is_denied());
        assert!(!api(500, None).is_denied());
        assert!(!api(404, Some("E0000007")).is_denied());
    }

    #[test]
    fn an_unknown_host_is_one_short_sentence_naming_the_host() {
        let error = OktaError::Transport {
            url: "https://acme.okta.co/api/v1/groups?limit=200".into(),
            detail: "connection failed: client error (Connect): dns error: failed to lookup address information: Name or service not known".into(),
        };
        let text = error.to_string();
        assert_eq!(text, "the Okta host acme.okta.co does not resolve (DNS: Name or service not known); hint: check base_url (e.g. https://acme.okta.com) and this machine's DNS");
        assert!(error.affects_every_request());
        let refused = OktaError::Transport {
            url: "https://acme.okta.com/x".into(),
            detail: "connection failed: tcp connect error: Connection refused (os error 111)"
                .into(),
        };
        assert!(refused.to_string().starts_with("cannot reach Okta at"));
        assert!(!refused.affects_every_request());
    }

    #[test]
    fn token_errors_carry_a_hint() {
        let error = TokenError::invalid_client("The client_assertion signature is invalid.", "abc");
        let text = error.to_string();
        assert!(
            text.contains("invalid_client") && text.contains("Public key / Private key"),
            "{text}"
        );
    }
}

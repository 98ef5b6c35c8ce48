//! The one paginator.
//!
//! Okta pages with `Link: <url>; rel="next"` headers. The `after` cursor inside is opaque (its
//! format changed over the years), so the next URL is followed exactly as given, never built.
//! Okta sends `self` and `next` as separate `Link` header fields; some proxies join them with
//! commas: both are read. `/api/v1/iam/assignees/users` pages through `_links.next.href` in the
//! body instead. Either way a next URL that leaves the configured origin is refused, so the token
//! is never sent elsewhere.

use std::collections::HashSet;
use std::marker::PhantomData;

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::client::{OktaClient, Response};
use super::error::{display_url, OktaError};

/// Where a response says the next page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStyle {
    /// `Link` header(s) with `rel="next"`, body a JSON array.
    Header,
    /// Body `{"value": [...], "_links": {"next": {"href": ...}}}`.
    Body,
}

/// One page of items.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Records of this page that could not be read (logged and counted, not fatal).
    pub skipped: usize,
}

/// A lazy sequence of pages: nothing is requested until [`Pager::next_page`] is called.
#[derive(Debug)]
pub struct Pager<T> {
    client: OktaClient,
    next: Option<Url>,
    style: LinkStyle,
    seen: HashSet<String>,
    /// An error about the next link, reported on the call after the page that carried it, so
    /// that page's items are not lost.
    deferred: Option<OktaError>,
    _items: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pager<T> {
    pub(crate) fn new(client: OktaClient, first: Url, style: LinkStyle) -> Pager<T> {
        Pager {
            client,
            next: Some(first),
            style,
            seen: HashSet::new(),
            deferred: None,
            _items: PhantomData,
        }
    }

    /// Fetches the next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Page<T>>, OktaError> {
        if let Some(error) = self.deferred.take() {
            return Err(error);
        }
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        if !self.seen.insert(url.as_str().to_string()) {
            return Err(OktaError::PaginationLoop {
                url: display_url(&url),
            });
        }
        let response = self.client.get(url).await?;
        let (items, skipped, next) = match self.style {
            LinkStyle::Header => {
                let (items, skipped) = parse_items(&response, &response.body)?;
                (items, skipped, next_link(&response.headers))
            }
            LinkStyle::Body => {
                let envelope: BodyPage<'_> = serde_json::from_slice(&response.body)
                    .map_err(|e| invalid_body(&response, e))?;
                let (items, skipped) = parse_items(&response, envelope.value.get())?;
                let next = envelope.links.and_then(|l| l.next).map(|n| n.href);
                (items, skipped, next)
            }
        };
        match next.map(|link| self.client.check_same_origin(&link, &response.url)) {
            Some(Ok(url)) => self.next = Some(url),
            Some(Err(error)) => self.deferred = Some(error),
            None => {}
        }
        Ok(Some(Page { items, skipped }))
    }

    /// Reads every remaining page into one vector (for small collections such as roles).
    pub async fn collect_all(mut self) -> Result<Vec<T>, OktaError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page.items);
        }
        Ok(all)
    }
}

/// One `Link`-paged page at `url` and its `next` link, without a [`Pager`]'s loop detection:
/// for the System Log's polling queries, whose `next` link is always present (an empty page's
/// link is where to poll again later).
pub(crate) async fn get_page<T: DeserializeOwned>(
    client: &OktaClient,
    url: Url,
) -> Result<(Page<T>, Option<Url>), OktaError> {
    let response = client.get(url).await?;
    let (items, skipped) = parse_items(&response, &response.body)?;
    let next = match next_link(&response.headers) {
        Some(link) => Some(client.check_same_origin(&link, &response.url)?),
        None => None,
    };
    Ok((Page { items, skipped }, next))
}

#[derive(Deserialize)]
struct BodyPage<'a> {
    #[serde(borrow)]
    value: &'a RawValue,
    #[serde(rename = "_links", default)]
    links: Option<BodyLinks>,
}

#[derive(Deserialize)]
struct BodyLinks {
    #[serde(default)]
    next: Option<BodyHref>,
}

#[derive(Deserialize)]
struct BodyHref {
    href: String,
}

/// Parses a JSON array item by item: one bad record is skipped and counted, the others kept.
fn parse_items<T: DeserializeOwned>(
    response: &Response,
    body: impl AsRef<[u8]>,
) -> Result<(Vec<T>, usize), OktaError> {
    let raw: Vec<&RawValue> =
        serde_json::from_slice(body.as_ref()).map_err(|e| invalid_body(response, e))?;
    let mut items = Vec::with_capacity(raw.len());
    let mut skipped = 0;
    for record in raw {
        match serde_json::from_str::<T>(record.get()) {
            Ok(item) => items.push(item),
            Err(error) => {
                skipped += 1;
                tracing::warn!(url = %display_url(&response.url), %error, "skipped a record Okta sent that could not be read");
            }
        }
    }
    Ok((items, skipped))
}

fn invalid_body(response: &Response, error: serde_json::Error) -> OktaError {
    OktaError::InvalidBody {
        url: display_url(&response.url),
        detail: error.to_string(),
        request_id: response.request_id(),
    }
}

/// The `rel="next"` target among all `Link` header fields, each possibly holding several
/// comma-separated links.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(split_links)
        .find_map(|(target, params)| is_next(params).then(|| target.to_string()))
}

/// Splits `<a>; rel="self", <b>; rel="next"` into (target, params) pairs. Commas inside `<...>`
/// belong to the URL.
fn split_links(value: &str) -> Vec<(&str, &str)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let Some(close) = after_open.find('>') else {
            break;
        };
        let target = &after_open[..close];
        let after_target = &after_open[close + 1..];
        let params_end = after_target.find('<').unwrap_or(after_target.len());
        links.push((target.trim(), &after_target[..params_end]));
        rest = &after_target[params_end..];
    }
    links
}

fn is_next(params: &str) -> bool {
    params.split(';').any(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_end_matches(',')
                .trim()
                .trim_matches('"')
                .split_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn links(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(reqwest::header::LINK, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn next_from_separate_fields() {
        let map = links(&[
            r#"<https://a.okta.com/api/v1/users?limit=1>; rel="self""#,
            r#"<https://a.okta.com/api/v1/users?after=200u&limit=1>; rel="next""#,
        ]);
        assert_eq!(
            next_link(&map).as_deref(),
            Some("https://a.okta.com/api/v1/users?after=200u&limit=1")
        );
    }

    #[test]
    fn next_from_comma_joined_field_with_commas_in_urls() {
        let map = links(&[
            r#"<https://a.okta.com/x?q=a,b>; rel="self", <https://a.okta.com/x?after=c,d>; rel="next""#,
        ]);
        assert_eq!(
            next_link(&map).as_deref(),
            Some("https://a.okta.com/x?after=c,d")
        );
    }

    #[test]
    fn no_next_on_last_page() {
        assert_eq!(
            next_link(&links(&[r#"<https://a.okta.com/x>; rel="self""#])),
            None
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
        assert_eq!(next_link(&links(&["garbage", "<unclosed; rel=next"])), None);
    }
}

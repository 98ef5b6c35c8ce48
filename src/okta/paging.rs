//! The one paginator.
//!
//! Okta pages with `Link: <url>; rel="next"` headers. The `after` cursor inside is opaque (its
//! format changed over the years), so the next URL is followed exactly as given, never built.
//! Okta sends `self` and `next` as separate `Link` header fields; some proxies join them with
//! commas: both are read. `/api/v1/iam/assignees/users` pages through `_links.next.href` in the
//! body instead.
//!
//! A next link is trusted only as far as it moves the cursor: it must stay on the configured
//! origin (the token is never sent elsewhere) and keep the path of the request it continues (a
//! listing of users must not become a GET of `/oauth2/v1/token` or of any other endpoint). And
//! a listing ends: the same link twice, too many empty pages in a row (ever-new cursors on empty
//! pages), or more pages than any org has, end it with a typed error ([`PageLimits`]).

use std::collections::HashSet;
use std::marker::PhantomData;

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::client::{same_origin, OktaClient, Response};
use super::error::OktaError;
use crate::http::display_url;

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

/// When a listing is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// A listing with more pages is refused as endless. The default (100,000) is 20 million
    /// users at 200 a page: more than any org.
    pub max_pages: u32,
    /// What an empty page that still links to a next one means.
    pub on_empty: OnEmptyPage,
}

impl Default for PageLimits {
    fn default() -> Self {
        PageLimits {
            max_pages: 100_000,
            on_empty: OnEmptyPage::Follow { max_in_row: 10 },
        }
    }
}

/// What to do with an empty page that links to a next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEmptyPage {
    /// Follow it (Okta may end a listing with an empty page), but `max_in_row` such pages in a
    /// row end the listing with [`OktaError::EmptyPages`]: ever-new cursors on empty pages
    /// would otherwise be followed for ever.
    Follow { max_in_row: u32 },
    /// The listing has caught up: stop there, keeping the link ([`Pager::resume_link`]). A
    /// polled feed such as the System Log answers this way until new events arrive.
    Stop,
}

/// A lazy sequence of pages: nothing is requested until [`Pager::next_page`] is called.
#[derive(Debug)]
pub struct Pager<T> {
    client: OktaClient,
    next: Option<Url>,
    style: LinkStyle,
    limits: PageLimits,
    seen: HashSet<String>,
    pages: u32,
    empty_in_row: u32,
    /// The next link of the empty page where an [`OnEmptyPage::Stop`] listing stopped.
    resume: Option<Url>,
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
            limits: PageLimits::default(),
            seen: HashSet::new(),
            pages: 0,
            empty_in_row: 0,
            resume: None,
            deferred: None,
            _items: PhantomData,
        }
    }

    /// A pager that requests nothing and fails with `error` (a listing that cannot be built,
    /// such as one for an id that is not an Okta id).
    pub(crate) fn refused(client: OktaClient, error: OktaError) -> Pager<T> {
        let mut pager = Pager::new(client.clone(), client.origin().clone(), LinkStyle::Header);
        pager.next = None;
        pager.deferred = Some(error);
        pager
    }

    /// The same listing with other limits.
    pub fn with_limits(mut self, limits: PageLimits) -> Pager<T> {
        self.limits = limits;
        self
    }

    /// Where an [`OnEmptyPage::Stop`] listing stopped: the next link of its last (empty) page.
    pub fn resume_link(&self) -> Option<&Url> {
        self.resume.as_ref()
    }

    /// The page a listing left unread would start at (a feed read in bounded slices resumes
    /// there next time).
    pub fn pending_link(&self) -> Option<&Url> {
        self.next.as_ref()
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
        if self.pages >= self.limits.max_pages {
            return Err(OktaError::TooManyPages {
                url: display_url(&url),
                max: self.limits.max_pages,
            });
        }
        self.pages += 1;
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
        let next = match next.map(|link| self.continuation(&link, &response.url)) {
            Some(Ok(url)) => Some(url),
            Some(Err(error)) => {
                self.deferred = Some(error);
                None
            }
            None => None,
        };
        let empty = items.is_empty() && skipped == 0;
        self.empty_in_row = if empty { self.empty_in_row + 1 } else { 0 };
        match (next, self.limits.on_empty) {
            (Some(next), OnEmptyPage::Stop) if empty => self.resume = Some(next),
            (Some(next), OnEmptyPage::Follow { max_in_row }) if self.empty_in_row >= max_in_row => {
                return Err(OktaError::EmptyPages {
                    url: display_url(&next),
                    count: self.empty_in_row,
                })
            }
            (next, _) => self.next = next,
        }
        Ok(Some(Page { items, skipped }))
    }

    /// The next page's URL from `link`, if it only moves the cursor of `current`: same origin,
    /// same path.
    fn continuation(&self, link: &str, current: &Url) -> Result<Url, OktaError> {
        let origin = self.client.origin();
        // The link is Okta's text: escaped and capped like every remote string.
        let shown_link = || crate::text::remote(link, 200);
        let foreign = || OktaError::ForeignLink {
            link: shown_link(),
            origin: origin.as_str().trim_end_matches('/').to_string(),
        };
        let url = current.join(link).map_err(|_| foreign())?;
        if !same_origin(&url, origin) {
            return Err(foreign());
        }
        if url.path() != current.path() {
            return Err(OktaError::LinkPathChanged {
                link: shown_link(),
                path: crate::text::remote(current.path(), 200),
            });
        }
        Ok(url)
    }

    /// Reads every remaining page into one vector (for small collections such as roles). The
    /// callers read such a list as complete (a role missing from it means "not held"), so a
    /// record that could not be read fails the whole list instead of shortening it.
    pub async fn collect_all(mut self) -> Result<Vec<T>, OktaError> {
        let url = self.next.as_ref().map(display_url).unwrap_or_default();
        let mut all = Vec::new();
        let mut skipped = 0;
        while let Some(page) = self.next_page().await? {
            all.extend(page.items);
            skipped += page.skipped;
        }
        if skipped > 0 {
            return Err(OktaError::UnreadableRecords {
                url,
                count: skipped,
            });
        }
        Ok(all)
    }
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
                tracing::warn!(url = %display_url(&response.url), error = %crate::text::remote(&error.to_string(), crate::text::MESSAGE), "skipped a record Okta sent that could not be read");
            }
        }
    }
    Ok((items, skipped))
}

/// An answer whose body is not what the endpoint returns; serde's message quotes Okta's text,
/// so it is escaped and capped.
pub(super) fn invalid_body(response: &Response, error: serde_json::Error) -> OktaError {
    OktaError::InvalidBody {
        url: display_url(&response.url),
        detail: crate::text::remote(&error.to_string(), crate::text::MESSAGE),
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

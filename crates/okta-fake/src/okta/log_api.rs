//! `GET /api/v1/logs`, with the semantics of Okta's System Log API:
//!
//! - **Polling** (no `until`, `sortOrder` ASCENDING): events are taken in persistence order, from
//!   `since` (default: 7 days ago) on, and only once persisted; the answer always carries a
//!   `next` link, even when empty, that resumes exactly after the last event returned, so
//!   following it misses no late event.
//! - **Bounded** (`until` given, or `sortOrder` DESCENDING): events with `since <= published <
//!   until` already persisted, in `published` order; `next` only while more remain.
//! - `filter`: a SCIM expression on `eventType`, `severity`, `outcome.result`, `actor.id`,
//!   `actor.alternateId`, `uuid` or `published` (`eq`, `ne`, `sw`, `co`, `pr`, `gt`.., `and`,
//!   `or`, parentheses); `q`: keywords that must all appear (case-insensitive); `limit`: 0 to
//!   1000 (default 100); `after`: the opaque cursor of a `next` link. Anything else the fake
//!   cannot read is a 400 `E0000001` naming the parameter.

use jiff::Timestamp;

use super::filter::{self, AttrKind, AttrValue, Expr, Resource};
use super::org::Org;
use super::server::{decode_cursor, encode_cursor, invalid_param, pct, Answer};
use super::syslog::{event_json, LogEvent};
use super::Shared;
use crate::http::Request;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
const WEEK_MS: i64 = 7 * 86_400_000;

struct LogView<'a>(&'a LogEvent);

impl Resource for LogView<'_> {
    fn kind(attr: &str) -> Option<AttrKind> {
        match attr {
            "eventType" | "severity" | "outcome.result" | "actor.id" | "actor.alternateId"
            | "uuid" => Some(AttrKind::Str),
            "published" => Some(AttrKind::Time),
            _ => None,
        }
    }

    fn get(&self, attr: &str) -> AttrValue {
        let e = self.0;
        match attr {
            "eventType" => AttrValue::Str(e.event_type.clone()),
            "severity" => AttrValue::Str(e.severity.to_string()),
            "outcome.result" => AttrValue::Str(e.outcome.to_string()),
            "actor.id" => AttrValue::Str(e.actor.id.clone()),
            "actor.alternateId" => AttrValue::Str(e.actor.alternate_id.clone()),
            "uuid" => AttrValue::Str(e.uuid.clone()),
            "published" => AttrValue::Time(e.published_ms),
            _ => AttrValue::Missing,
        }
    }
}

/// A request's parameters, checked.
struct LogQuery {
    since_ms: i64,
    until_ms: Option<i64>,
    descending: bool,
    limit: usize,
    /// The last event of the previous page.
    after: Option<u64>,
    filter: Option<Expr>,
    keywords: Vec<String>,
    /// The request's parameters without `after`, for the links.
    params: Vec<(String, String)>,
}

impl LogQuery {
    fn polling(&self) -> bool {
        self.until_ms.is_none() && !self.descending
    }
}

/// Why a request was refused: the parameter and the reason.
type Refusal = (&'static str, String);

fn timestamp(value: &str, param: &'static str) -> Result<i64, Refusal> {
    value
        .trim()
        .parse::<Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            (
                param,
                format!("{param} must be an ISO 8601 timestamp, not {value:?}"),
            )
        })
}

fn parse_query(salt: u64, org: &Org, req: &Request, now_ms: i64) -> Result<LogQuery, Refusal> {
    let mut params = req.query_pairs();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let until_ms = get("until").map(|v| timestamp(&v, "until")).transpose()?;
    let since_ms = match get("since") {
        Some(v) => timestamp(&v, "since")?,
        None => until_ms.unwrap_or(now_ms) - WEEK_MS,
    };
    let descending = match get("sortOrder").as_deref() {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(other) => {
            return Err((
                "sortOrder",
                format!("sortOrder must be ASCENDING or DESCENDING, not {other:?}"),
            ))
        }
    };
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(l) if l <= MAX_LIMIT => l,
            _ => {
                return Err((
                    "limit",
                    format!("limit must be an integer between 0 and {MAX_LIMIT}, not {v:?}"),
                ))
            }
        },
    };
    let after = match get("after") {
        None => None,
        Some(v) => {
            let seq = decode_cursor(salt, &v)
                .filter(|&seq| org.log().by_seq(seq).is_some())
                .ok_or(("after", "after is not a cursor this org issued".to_string()))?;
            Some(seq)
        }
    };
    let filter = match get("filter") {
        None => None,
        Some(f) => Some(
            filter::parse::<LogView>(&f)
                .map_err(|why| ("filter", format!("Invalid filter expression {f:?}: {why}")))?,
        ),
    };
    let keywords = match get("q") {
        None => Vec::new(),
        Some(q) => {
            let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
            if words.len() > 10 || words.iter().any(|w| w.chars().count() > 40) {
                return Err((
                    "q",
                    "q takes at most 10 keywords of at most 40 characters".to_string(),
                ));
            }
            words
        }
    };
    params.retain(|(k, _)| k != "after");
    Ok(LogQuery {
        since_ms,
        until_ms,
        descending,
        limit,
        after,
        filter,
        keywords,
        params,
    })
}

fn matches(query: &LogQuery, e: &LogEvent) -> bool {
    if let Some(f) = &query.filter {
        if !filter::eval(f, &LogView(e)) {
            return false;
        }
    }
    query.keywords.iter().all(|word| {
        let mut fields = vec![&e.event_type, &e.display_message, &e.actor.alternate_id];
        fields.extend(e.targets.iter().map(|t| &t.alternate_id));
        fields.extend(e.targets.iter().map(|t| &t.display_name));
        fields
            .iter()
            .any(|f| f.to_lowercase().contains(word.as_str()))
    })
}

/// The order events are served in: persistence order when polling, `published` otherwise.
fn key(query: &LogQuery, e: &LogEvent) -> (i64, u64) {
    if query.polling() {
        (e.persisted_ms, e.seq)
    } else {
        (e.published_ms, e.seq)
    }
}

/// One page, and whether more (already visible) events follow it.
fn select<'a>(query: &LogQuery, org: &'a Org, now_ms: i64) -> (Vec<&'a LogEvent>, bool) {
    let log = org.log();
    let resume = query
        .after
        .and_then(|seq| log.by_seq(seq))
        .map(|e| key(query, e));
    let in_window = |e: &LogEvent| {
        if query.polling() {
            e.persisted_ms >= query.since_ms
        } else {
            e.published_ms >= query.since_ms && e.published_ms < query.until_ms.unwrap_or(now_ms)
        }
    };
    let past_cursor = |e: &LogEvent| match resume {
        None => true,
        Some(at) if query.descending => key(query, e) < at,
        Some(at) => key(query, e) > at,
    };
    let mut found: Vec<&LogEvent> = log
        .events()
        .iter()
        .filter(|e| e.persisted_ms <= now_ms && in_window(e) && past_cursor(e))
        .filter(|e| matches(query, e))
        .collect();
    found.sort_by_key(|e| key(query, e));
    if query.descending {
        found.reverse();
    }
    let more = found.len() > query.limit;
    found.truncate(query.limit);
    (found, more)
}

fn url(base: &str, params: &[(String, String)], after: Option<&str>) -> String {
    let mut query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect();
    if let Some(after) = after {
        query.push(format!("after={}", pct(after)));
    }
    format!("{base}/api/v1/logs?{}", query.join("&"))
}

/// `GET /api/v1/logs` on `org` at virtual time `now_ms`.
pub(super) fn list_logs(
    shared: &Shared,
    req: &Request,
    n: u64,
    org: &Org,
    base: &str,
    now_ms: i64,
) -> Answer {
    let query = match parse_query(shared.salt, org, req, now_ms) {
        Ok(query) => query,
        Err((param, reason)) => return invalid_param(shared, n, param, &reason),
    };
    let (events, more) = select(&query, org, now_ms);
    let body = serde_json::Value::Array(events.iter().map(|e| event_json(e)).collect());
    let this = query.after.map(|seq| encode_cursor(shared.salt, seq));
    let mut links = vec![format!(
        "<{}>; rel=\"self\"",
        url(base, &query.params, this.as_deref())
    )];
    // Polling never ends: with nothing new, next resumes where this page did (unless the
    // fake is told to answer polling queries as bounded ones).
    let polling = query.polling() && !shared.options.log_polling_without_next;
    let next = match events.last() {
        Some(last) if more || polling => Some(Some(encode_cursor(shared.salt, last.seq))),
        None if polling => Some(this),
        _ => None,
    };
    if let Some(cursor) = next {
        links.push(format!(
            "<{}>; rel=\"next\"",
            url(base, &query.params, cursor.as_deref())
        ));
    }
    Answer {
        status: 200,
        body: body.to_string(),
        links,
    }
}

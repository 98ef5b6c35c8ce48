//! The Okta endpoints the connector reads, and the search/filter expressions it sends.

use jiff::Timestamp;

use super::client::OktaClient;
use super::error::OktaError;
use url::Url;

use super::model::{Factor, Group, IdOnly, LogEvent, RoleAssignment, User};
use super::paging::{invalid_body, LinkStyle, OnEmptyPage, PageLimits, Pager};

/// Users per page (Okta's maximum for users).
pub const USERS_PAGE: u32 = 200;
/// Groups per page. Okta's server default can be 10000; a smaller page keeps answers small.
pub const GROUPS_PAGE: u32 = 200;
/// Group members per page: Okta's maximum; the client falls back to smaller pages on a 500.
pub const MEMBERS_PAGE: u32 = 1000;
/// Role assignees per page (Okta's maximum for this endpoint).
pub const ASSIGNEES_PAGE: u32 = 100;
/// System Log events per page (Okta's maximum).
pub const LOG_PAGE: u32 = 1000;

/// Search and filter expressions, built in one place so that quoting is done once and right.
pub mod expr {
    use super::*;

    /// Every user, DEPROVISIONED included (a plain list omits them; `q` omits them and does not page).
    pub const ALL_USERS: &str = "status pr";

    /// Okta's timestamp format in expressions: `2026-01-02T03:04:05.000Z`.
    pub fn okta_time(at: Timestamp) -> String {
        at.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
    }

    /// Users changed after `since`.
    pub fn users_updated_since(since: Timestamp) -> String {
        format!("lastUpdated gt \"{}\"", okta_time(since))
    }

    /// Groups whose profile or membership changed after `since` (a membership change does not
    /// touch the member's own `lastUpdated`).
    pub fn groups_changed_since(since: Timestamp) -> String {
        let at = okta_time(since);
        format!("lastUpdated gt \"{at}\" or lastMembershipUpdated gt \"{at}\"")
    }

    /// System Log event types that can change what an inventory event says, as `eventType`
    /// prefixes. Sign-ins (`user.session.*`, `user.authentication.*`), by far the bulk of a live
    /// org's log, match none of them, so they are never transferred.
    pub const LOG_EVENT_PREFIXES: [&str; 7] = [
        "user.lifecycle.",
        "user.account.",
        "user.mfa.factor.",
        "group.user_membership.",
        "group.profile.",
        "group.lifecycle.",
        "group.privilege.",
    ];

    /// The System Log `filter` asking for [`LOG_EVENT_PREFIXES`] only.
    pub fn log_events() -> String {
        LOG_EVENT_PREFIXES
            .iter()
            .map(|prefix| format!("eventType sw \"{prefix}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// `id eq "a" or id eq "b"`; ids are Okta ids (alphanumeric), anything else is dropped
    /// rather than quoted into an expression.
    pub fn ids(ids: &[&str]) -> String {
        ids.iter()
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
            .map(|id| format!("id eq \"{id}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

impl OktaClient {
    /// `GET /api/v1/users?search=...`: always a search, so DEPROVISIONED users are included.
    pub fn search_users(&self, search: &str) -> Pager<User> {
        let limit = USERS_PAGE.to_string();
        let url = self.url("/api/v1/users", &[("search", search), ("limit", &limit)]);
        Pager::new(self.clone(), url, LinkStyle::Header)
    }

    /// `GET /api/v1/users/{id}`.
    pub async fn get_user(&self, id: &str) -> Result<User, OktaError> {
        let path = format!("/api/v1/users/{}", path_segment("user", id)?);
        let response = self.get(self.url(&path, &[])).await?;
        serde_json::from_slice(&response.body).map_err(|e| invalid_body(&response, e))
    }

    /// `GET /api/v1/groups?expand=stats[&filter=...]`: `expand=stats` adds each group's
    /// member count and whether it holds an admin role, in the same number of requests.
    pub fn list_groups(&self, filter: Option<&str>) -> Pager<Group> {
        let limit = GROUPS_PAGE.to_string();
        let mut query = vec![("expand", "stats"), ("limit", limit.as_str())];
        if let Some(filter) = filter {
            query.insert(0, ("filter", filter));
        }
        Pager::new(
            self.clone(),
            self.url("/api/v1/groups", &query),
            LinkStyle::Header,
        )
    }

    /// `GET /api/v1/groups/{id}?expand=stats`.
    pub async fn get_group(&self, id: &str) -> Result<Group, OktaError> {
        let path = format!("/api/v1/groups/{}", path_segment("group", id)?);
        let response = self.get(self.url(&path, &[("expand", "stats")])).await?;
        serde_json::from_slice(&response.body).map_err(|e| invalid_body(&response, e))
    }

    /// `GET /api/v1/users/{id}/groups`: every group the user belongs to.
    pub fn list_user_groups(&self, user_id: &str) -> Pager<Group> {
        match path_segment("user", user_id) {
            Ok(id) => {
                let path = format!("/api/v1/users/{id}/groups");
                Pager::new(self.clone(), self.url(&path, &[]), LinkStyle::Header)
            }
            Err(error) => Pager::refused(self.clone(), error),
        }
    }

    /// The first page of a System Log *polling* query from `since` (no `until`: `since` then
    /// bounds the events' persistence time, so an event persisted late is still returned by a
    /// later `next` link), with [`expr::log_events`] as filter, oldest first.
    pub fn log_polling_url(&self, since: Timestamp) -> Url {
        let since = expr::okta_time(since);
        let filter = expr::log_events();
        let limit = LOG_PAGE.to_string();
        self.url(
            "/api/v1/logs",
            &[
                ("since", since.as_str()),
                ("filter", filter.as_str()),
                ("limit", limit.as_str()),
                ("sortOrder", "ASCENDING"),
            ],
        )
    }

    /// System Log events from `start` (a polling URL or a `next` link from an earlier read),
    /// page by page, until a page comes back empty: the end of the log for now. Its
    /// [`Pager::resume_link`] is where to poll next time.
    pub fn log_events(&self, start: Url) -> Pager<LogEvent> {
        Pager::new(self.clone(), start, LinkStyle::Header).with_limits(PageLimits {
            on_empty: OnEmptyPage::Stop,
            ..PageLimits::default()
        })
    }

    /// `GET /api/v1/groups/{id}/users`: member ids only.
    pub fn list_group_members(&self, group_id: &str) -> Pager<IdOnly> {
        self.list_group_members_with_limit(group_id, MEMBERS_PAGE)
    }

    pub fn list_group_members_with_limit(&self, group_id: &str, limit: u32) -> Pager<IdOnly> {
        let limit = limit.to_string();
        let path = match path_segment("group", group_id) {
            Ok(segment) => format!("/api/v1/groups/{segment}/users"),
            Err(error) => return Pager::refused(self.clone(), error),
        };
        Pager::new(
            self.clone(),
            self.url(&path, &[("limit", &limit)]),
            LinkStyle::Header,
        )
    }

    /// `GET /api/v1/groups/{id}/roles`.
    pub async fn list_group_roles(&self, group_id: &str) -> Result<Vec<RoleAssignment>, OktaError> {
        let path = format!("/api/v1/groups/{}/roles", path_segment("group", group_id)?);
        Pager::new(self.clone(), self.url(&path, &[]), LinkStyle::Header)
            .collect_all()
            .await
    }

    /// `GET /api/v1/users/{id}/roles`: direct and group-inherited (`assignmentType: GROUP`).
    pub async fn list_user_roles(&self, user_id: &str) -> Result<Vec<RoleAssignment>, OktaError> {
        let path = format!("/api/v1/users/{}/roles", path_segment("user", user_id)?);
        Pager::new(self.clone(), self.url(&path, &[]), LinkStyle::Header)
            .collect_all()
            .await
    }

    /// `GET /api/v1/iam/assignees/users`: every user holding an admin role directly (ids only).
    pub fn list_role_assignees(&self) -> Pager<IdOnly> {
        let limit = ASSIGNEES_PAGE.to_string();
        let url = self.url("/api/v1/iam/assignees/users", &[("limit", &limit)]);
        Pager::new(self.clone(), url, LinkStyle::Body)
    }

    /// `GET /api/v1/users/{id}/factors`. The answer is filtered by the caller's policies.
    pub async fn list_user_factors(&self, user_id: &str) -> Result<Vec<Factor>, OktaError> {
        let path = format!("/api/v1/users/{}/factors", path_segment("user", user_id)?);
        Pager::new(self.clone(), self.url(&path, &[]), LinkStyle::Header)
            .collect_all()
            .await
    }
}

/// The longest id accepted; Okta's are 15 to 20 characters.
const MAX_ID_CHARS: usize = 64;

/// An Okta id, ready to be one segment of a path.
///
/// Ids come from Okta's answers, so they are checked before they steer a request: Okta ids are
/// ASCII letters and digits (`00u1ab2CD3ef4GH5i6j7`, `00g…`, role assignments `irb…`, `ra1…`,
/// `IFIFAX2BIRGUSTQ`, factors `ufs…`, `mbl…`), so `.`, `..`, an empty id, a `/` or anything else
/// is refused: `..` would otherwise turn `/api/v1/users/../factors` into `/api/v1/factors`. The
/// id is then percent-encoded all the same (a space would be `%20`, never `+`), so an id that
/// passes can never change the path even if the alphabet check were loosened.
pub fn path_segment(kind: &'static str, id: &str) -> Result<String, OktaError> {
    let is_okta_id =
        !id.is_empty() && id.len() <= MAX_ID_CHARS && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !is_okta_id {
        return Err(OktaError::InvalidId {
            kind,
            id: format!("{:?}", crate::http::transport::truncate(id, MAX_ID_CHARS)),
        });
    }
    Ok(percent_encode_segment(id))
}

/// RFC 3986 percent-encoding of one path segment: unreserved characters stay, every other byte
/// becomes `%XX`.
fn percent_encode_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::expr::*;
    use super::{path_segment, percent_encode_segment};

    #[test]
    fn okta_ids_pass_and_anything_else_is_refused() {
        for id in [
            "00unwlw0tbo8E6aVj5d7",
            "00gc04qatkiyWnGoq4x6",
            "IFIFAX2BIRGUSTQ",
            "irb1q92yn3pLx0SvN0g4",
        ] {
            assert_eq!(path_segment("user", id).unwrap(), id);
        }
        for id in [
            "",
            ".",
            "..",
            "a/b",
            "00u1?x=1",
            "00u1#f",
            "00u 1",
            "00u%2e",
            "é",
            &"a".repeat(65),
        ] {
            let error = path_segment("group", id).unwrap_err();
            assert!(
                matches!(
                    error,
                    crate::okta::OktaError::InvalidId { kind: "group", .. }
                ),
                "{id}: {error:?}"
            );
        }
    }

    #[test]
    fn path_segments_are_percent_encoded_not_form_encoded() {
        assert_eq!(percent_encode_segment("a b+c/d"), "a%20b%2Bc%2Fd");
        assert_eq!(percent_encode_segment("A-z._~9"), "A-z._~9");
    }

    #[test]
    fn expressions() {
        let at: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(okta_time(at), "2026-01-02T03:04:05.000Z");
        assert_eq!(
            users_updated_since(at),
            r#"lastUpdated gt "2026-01-02T03:04:05.000Z""#
        );
        assert_eq!(
            groups_changed_since(at),
            r#"lastUpdated gt "2026-01-02T03:04:05.000Z" or lastMembershipUpdated gt "2026-01-02T03:04:05.000Z""#
        );
        assert_eq!(
            log_events(),
            r#"eventType sw "user.lifecycle." or eventType sw "user.account." or eventType sw "user.mfa.factor." or eventType sw "group.user_membership." or eventType sw "group.profile." or eventType sw "group.lifecycle." or eventType sw "group.privilege.""#
        );
        assert_eq!(
            ids(&["00u1", "bad\" or 1", "00u2"]),
            r#"id eq "00u1" or id eq "00u2""#
        );
    }
}

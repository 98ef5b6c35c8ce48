//! An event too large for the intake, made smaller by sending fewer of its groups.
//!
//! A user in thousands of groups makes an event of megabytes. An intake that refuses it (HTTP
//! 413) would refuse it again every cycle, and since a cycle commits nothing until every event
//! was acknowledged, no cursor would ever move again: one user would stop the sync for everyone.
//! `user.groups` is the only part of an event that grows without bound (a profile's attributes
//! are capped by Okta), so the sender asks [`fewer_groups`] for a smaller version and tries
//! again, halving the groups until the intake takes it.
//!
//! The user is never dropped, and nothing false is said about them:
//! - groups with admin privileges are kept first (they matter most to the people reading the
//!   inventory), then the others in their usual order;
//! - the event says it is incomplete, in two places valid in OCSF 1.8.0: an enrichment
//!   `{"name": "groups", "value": "truncated: 750 of 3000 sent", "data": {"sent": 750, "total":
//!   3000}}` (Sekoia's asset model keeps `enrichments`, and its own connectors use them for what
//!   the platform shows about a user) and the label `groups_truncated` in `metadata.labels`
//!   (for any OCSF consumer);
//! - when no group is left, `user.groups` is omitted (unknown), never written `[]` (which would
//!   say the user is in no group).

use serde_json::{json, Map, Value};

/// The label in `metadata.labels` of an event sent with fewer groups than the user has.
pub const TRUNCATED_LABEL: &str = "groups_truncated";
/// The `name` of the enrichment that says how many groups were sent.
pub const ENRICHMENT_NAME: &str = "groups";

/// `event` (an event of [`super::map_user`], serialised) with half of its groups, marked as
/// truncated; `None` when it has no group left to remove (or is not such an event).
pub fn fewer_groups(event: &[u8]) -> Option<Vec<u8>> {
    let mut event: Value = serde_json::from_slice(event).ok()?;
    let root = event.as_object_mut()?;
    let total = known_total(root);
    let user = root.get_mut("user")?.as_object_mut()?;
    let groups = user.get_mut("groups")?.as_array_mut()?;
    if groups.is_empty() {
        return None;
    }
    let total = total.unwrap_or(groups.len());
    // Stable: admin groups first, each side in its usual order.
    groups.sort_by_key(|group| !has_privileges(group));
    let sent = groups.len() / 2;
    groups.truncate(sent);
    if sent == 0 {
        user.remove("groups");
    }
    mark(root, sent, total);
    serde_json::to_vec(&event).ok()
}

/// The total a previous call recorded, so that halving again still reports the user's count.
fn known_total(root: &Map<String, Value>) -> Option<usize> {
    root.get("enrichments")?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(ENRICHMENT_NAME))?
        .get("data")?
        .get("total")?
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
}

fn has_privileges(group: &Value) -> bool {
    group
        .get("privileges")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty())
}

/// Adds (or updates) the enrichment and the label that say the groups were cut.
fn mark(root: &mut Map<String, Value>, sent: usize, total: usize) {
    let marker = json!({
        "name": ENRICHMENT_NAME,
        "value": format!("truncated: {sent} of {total} sent"),
        "desc": format!(
            "The event was too large for the intake with all {total} groups of the user: user.groups lists {sent} of them, admin groups first."
        ),
        "data": {"sent": sent, "total": total},
    });
    let enrichments = root
        .entry("enrichments")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = enrichments.as_array_mut() {
        list.retain(|e| e.get("name").and_then(Value::as_str) != Some(ENRICHMENT_NAME));
        list.push(marker);
    }
    if let Some(metadata) = root.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = metadata
            .entry("labels")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(labels) = labels.as_array_mut() {
            if !labels.iter().any(|l| l == TRUNCATED_LABEL) {
                labels.push(Value::from(TRUNCATED_LABEL));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(groups: usize) -> Vec<u8> {
        let groups: Vec<Value> = (0..groups)
            .map(|i| {
                let mut g = json!({"uid": format!("00g{i}"), "name": format!("group {i}")});
                if i % 7 == 3 {
                    g["privileges"] = json!(["Read-Only Administrator"]);
                }
                g
            })
            .collect();
        serde_json::to_vec(&json!({
            "metadata": {"version": "1.8.0", "product": {"name": "Okta"}},
            "user": {"uid": "00u1", "name": "a@b.c", "groups": groups},
            "enrichments": [{"name": "account", "value": "ACTIVE", "data": {"is_enabled": true}}],
        }))
        .unwrap()
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn half_the_groups_are_kept_admin_groups_first_and_the_event_says_so() {
        let smaller = parse(&fewer_groups(&event(20)).unwrap());
        let groups = smaller["user"]["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 10);
        let admin: Vec<&str> = groups
            .iter()
            .filter(|g| g.get("privileges").is_some())
            .map(|g| g["uid"].as_str().unwrap())
            .collect();
        assert_eq!(admin, ["00g3", "00g10", "00g17"], "every admin group kept");
        let enrichments = smaller["enrichments"].as_array().unwrap();
        assert_eq!(enrichments[0]["name"], "account", "the account stays first");
        assert_eq!(enrichments[1]["value"], "truncated: 10 of 20 sent");
        assert_eq!(enrichments[1]["data"], json!({"sent": 10, "total": 20}));
        assert_eq!(smaller["metadata"]["labels"], json!([TRUNCATED_LABEL]));
    }

    #[test]
    fn halving_again_keeps_the_user_s_total_and_one_marker() {
        let once = fewer_groups(&event(20)).unwrap();
        let twice = parse(&fewer_groups(&once).unwrap());
        assert_eq!(twice["user"]["groups"].as_array().unwrap().len(), 5);
        let enrichments = twice["enrichments"].as_array().unwrap();
        assert_eq!(enrichments.len(), 2);
        assert_eq!(enrichments[1]["data"], json!({"sent": 5, "total": 20}));
        assert_eq!(twice["metadata"]["labels"], json!([TRUNCATED_LABEL]));
    }

    #[test]
    fn the_last_group_goes_as_an_omitted_list_never_an_empty_one() {
        let mut bytes = event(3);
        let mut steps = 0;
        while let Some(smaller) = fewer_groups(&bytes) {
            assert!(steps < 10, "must end");
            bytes = smaller;
            steps += 1;
        }
        let last = parse(&bytes);
        assert_eq!(steps, 2, "3 → 1 → none");
        assert!(last["user"].get("groups").is_none(), "{last}");
        assert_eq!(
            last["enrichments"][1]["data"],
            json!({"sent": 0, "total": 3})
        );
        assert_eq!(last["user"]["uid"], "00u1", "the user is still there");
    }

    #[test]
    fn events_without_groups_or_not_events_cannot_shrink() {
        assert_eq!(fewer_groups(&event(0)), None);
        assert_eq!(fewer_groups(br#"{"user":{"uid":"00u1"}}"#), None);
        assert_eq!(fewer_groups(b"not json"), None);
    }
}

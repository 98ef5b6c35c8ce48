//! Reading the document `check --json` prints.

use serde_json::Value;

/// The entry of check `name`.
pub fn named_check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .expect("a list of checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` check in {doc:#}"))
}

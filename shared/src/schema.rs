//! The published JSON Schemas of the documents people write (the policy, a validation suite),
//! generated from the very types that read them, so they cannot drift: `schemas/*.schema.json`
//! are these, and a test fails when the committed files differ.

use serde_json::Value;

/// The policy's schema.
pub fn policy() -> Value {
    titled(
        schemars::schema_for!(crate::policy::Policy),
        "handsoff policy",
        "policy.schema.json",
    )
}

/// A validation suite's schema.
pub fn suite() -> Value {
    titled(
        schemars::schema_for!(crate::suite::model::Suite),
        "handsoff validation suite",
        "suite.schema.json",
    )
}

fn titled(schema: schemars::Schema, title: &str, id: &str) -> Value {
    let mut value = schema.to_value();
    if let Some(object) = value.as_object_mut() {
        object.insert("title".into(), Value::String(title.into()));
        object.insert("$id".into(), Value::String(id.into()));
    }
    value
}

/// The schema as the committed file holds it: keys sorted, pretty, one newline at the end.
pub fn text(schema: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(&crate::json::sorted(schema)).unwrap_or_default()
    )
}

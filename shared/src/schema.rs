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

/// A stored policy layer's schema (`handsoff policy put`): the policy's, with every field
/// optional (a layer sets only what it changes; the merged policy is checked when it is
/// stored) and `forbid_lowering`.
pub fn layer() -> Value {
    let mut schema = titled(
        schemars::schema_for!(crate::policy::Policy),
        "handsoff stored policy layer",
        "layer.schema.json",
    );
    drop_required(&mut schema);
    schema["properties"]["forbid_lowering"] = serde_json::json!({
        "description": "Fields no layer above this one may lower: a smaller number or duration, a removed field or list entry, or (for any other value) a change.",
        "type": "array",
        "maxItems": crate::layers::MAX_FORBIDDEN,
        "items": {"type": "string", "pattern": "^(windows|alarms|canary|bake|rollback)(\\.[a-z_]+)*$"}
    });
    schema
}

fn drop_required(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("required");
            map.values_mut().for_each(drop_required);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_required),
        _ => {}
    }
}

/// A gate's decision, as a direct call returns it and the log line holds it. Its evidence is
/// the type of the gate that decided: the schema says which by `gate`.
pub fn decision() -> Value {
    let mut schema = titled(
        schemars::schema_for!(crate::decision::Decision),
        "handsoff decision",
        "decision.schema.json",
    );
    let by_gate: Vec<Value> = [
        (crate::gates::time_window::NAME, "WindowEvidence"),
        (crate::gates::alarm_blocker::NAME, "AlarmEvidence"),
        (crate::bake::NAME, "BakeEvidence"),
        (crate::gates::canary_evaluator::NAME, "CanaryEvidence"),
        (crate::rollback::NAME, "RollbackEvidence"),
    ]
    .iter()
    .map(|(gate, evidence)| {
        serde_json::json!({
            "if": {"properties": {"gate": {"const": gate}}, "required": ["gate"]},
            "then": {"properties": {"evidence": {"$ref": format!("#/$defs/{evidence}")}}}
        })
    })
    .collect();
    schema["allOf"] = Value::Array(by_gate);
    schema
}

/// One record of a stage's audit trail, as `handsoff audit --json` prints it.
pub fn audit_record() -> Value {
    titled(
        schemars::schema_for!(crate::audit::AuditRecord),
        "handsoff audit record",
        "audit.schema.json",
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

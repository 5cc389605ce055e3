//! The published JSON Schemas (`schemas/`) are the types' own, and real documents pass them: a
//! test fails when a committed schema differs from what the types generate, and the example
//! policy, the example suite and the release example's region policies are checked against them
//! with a real JSON Schema validator (Python's `jsonschema`, in `.venv/` with cfn-lint).

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs a Python check (with `jsonschema`, in `.venv/`) from the repository root and reads the
/// one JSON line it prints.
fn python_check(script: &str, args: &[&std::path::Path]) -> serde_json::Value {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-tools (scripts/test does)",
        python.display()
    );
    let output = Command::new(python)
        .current_dir(root())
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(text.trim()).unwrap()
}

#[test]
fn the_committed_schemas_are_what_the_types_generate() {
    for (file, schema) in [
        ("schemas/policy.schema.json", handsoff::schema::policy()),
        ("schemas/suite.schema.json", handsoff::schema::suite()),
        ("schemas/layer.schema.json", handsoff::schema::layer()),
        ("schemas/decision.schema.json", handsoff::schema::decision()),
        ("schemas/audit.schema.json", handsoff::schema::audit_record()),
    ] {
        let committed = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(
            committed == handsoff::schema::text(&schema),
            "{file} is stale: run `handsoff policy schema > schemas/policy.schema.json` (--suite, --layer, --decision or --audit for the others)"
        );
    }
}

#[test]
fn a_policy_with_an_unknown_field_is_outside_the_schema() {
    let schema = handsoff::schema::policy();
    assert_eq!(schema["additionalProperties"], false);
    let mut sections: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    sections.sort();
    assert_eq!(sections, ["alarms", "bake", "canary", "rollback", "windows"]);
}

#[test]
fn the_examples_pass_the_schemas_in_a_real_validator() {
    let check = r#"
import json, sys, glob
from jsonschema import Draft202012Validator as V
policy = json.load(open("schemas/policy.schema.json"))
suite = json.load(open("schemas/suite.schema.json"))
layer = json.load(open("schemas/layer.schema.json"))
docs = [(policy, json.load(open("examples/team-policy.json")), "examples/team-policy.json")]
for path in sorted(glob.glob("examples/release/handsoff/inputs/*.json")):
    document = json.load(open(path))
    docs.append((policy, document["policy"], path + ": policy"))
    docs.append((policy, document["fleet_policy"], path + ": fleet_policy"))
docs.append((suite, json.load(open("examples/suite-orders-smoke.json")), "examples/suite-orders-smoke.json"))
for path in sorted(glob.glob("examples/policies/*.json")):
    docs.append((layer, json.load(open(path)), path))
bad = dict(json.load(open("examples/team-policy.json")))
bad["windowz"] = {}
failed = [name for schema, doc, name in docs if list(V(schema).iter_errors(doc))]
refused = list(V(policy).iter_errors(bad)) and list(V(layer).iter_errors(bad))
print(json.dumps({"checked": len(docs), "failed": failed, "unknown_refused": bool(refused)}))
"#;
    let result = python_check(check, &[]);
    assert_eq!(result["failed"], serde_json::json!([]), "{result}");
    assert!(result["checked"].as_u64().unwrap() >= 13, "{result}");
    assert_eq!(result["unknown_refused"], true, "{result}");
}

/// A decision a gate made and the audit record of it pass their schemas in the real validator,
/// so the published contract is what the code writes.
#[test]
fn a_real_decision_and_its_audit_record_pass_their_schemas() {
    use handsoff::audit::AuditRecord;
    use handsoff::policy::Policy;
    let policy =
        Policy::from_json(&std::fs::read_to_string(root().join("examples/team-policy.json")).unwrap()).unwrap();
    let now: jiff::Timestamp = "2026-11-26T18:00:00Z".parse().unwrap();
    let decision = handsoff::gates::time_window::decide(policy.windows().unwrap(), now, None);
    let record = AuditRecord::of_decision(&decision, "orders", "Prod", now);
    let dir = handsoff_e2e::TempDir::new("schemas");
    let decision_file = dir.join("decision.json");
    let record_file = dir.join("record.json");
    std::fs::write(&decision_file, serde_json::to_string(&decision).unwrap()).unwrap();
    std::fs::write(&record_file, serde_json::to_string(&record).unwrap()).unwrap();
    let check = r#"
import json, sys
from jsonschema import Draft202012Validator as V
pairs = [("schemas/decision.schema.json", sys.argv[1]), ("schemas/audit.schema.json", sys.argv[2])]
errors = [str(error.message) for schema, doc in pairs for error in V(json.load(open(schema))).iter_errors(json.load(open(doc)))]
bad = json.load(open(sys.argv[1])); bad["decision"] = "maybe"
refused = bool(list(V(json.load(open("schemas/decision.schema.json"))).iter_errors(bad)))
print(json.dumps({"errors": errors, "refused": refused}))
"#;
    let result = python_check(check, &[&decision_file, &record_file]);
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert_eq!(
        result["refused"], true,
        "a verdict outside the contract is refused: {result}"
    );
}

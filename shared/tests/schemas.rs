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

/// Decisions the gates made and the audit record of one pass their schemas in the real
/// validator, so the published contract is what the code writes; evidence of the wrong type for
/// its gate is refused.
#[test]
fn real_decisions_and_an_audit_record_pass_their_schemas() {
    use handsoff::audit::AuditRecord;
    use handsoff::canary::{JudgeConfig, JudgeInput, Sample, judge};
    use handsoff::evidence::RollbackEvidence;
    use handsoff::policy::Policy;
    let policy =
        Policy::from_json(&std::fs::read_to_string(root().join("examples/team-policy.json")).unwrap()).unwrap();
    let guarded = Policy::from_json(
        r#"{"alarms": {"watch": [{"names": ["orders-high-sev"]}]}, "bake": {"duration": "10m",
            "min_datapoints": [{"namespace": "AWS/Lambda", "metric": "Invocations", "min": 100}]}}"#,
    )
    .unwrap();
    let now: jiff::Timestamp = "2026-11-26T18:00:00Z".parse().unwrap();
    let window = handsoff::gates::time_window::decide(policy.windows().unwrap(), now, None);
    let here = handsoff::gates::alarm_blocker::Stage {
        pipeline: "orders",
        stage: "Prod",
    };
    let alarms = handsoff::gates::alarm_blocker::decide(guarded.alarms().unwrap(), here, &[], &[], None, now, None);
    let started = now - jiff::SignedDuration::from_mins(4);
    let bake = handsoff::bake::decide(guarded.bake().unwrap(), started, now, &[40], &[], &[], None);
    let sample = |requests, errors| Sample {
        requests,
        errors,
        latency_ms: vec![20.0; 10],
    };
    let judgement = judge(&JudgeInput {
        baseline: sample(10_000, 10),
        canary: sample(1_000, 1),
        expected_canary_share: None,
        config: JudgeConfig::default(),
    });
    let canary = handsoff::decision::Decision::new("canary-evaluator", handsoff::decision::Verdict::Pass, "pass")
        .with_evidence(handsoff::evidence::CanaryEvidence {
            target: handsoff::evidence::CanaryTarget::Pair {
                namespace: "Orders".into(),
                canary: [("Host".to_string(), "one-box".to_string())].into(),
                baseline: [("Host".to_string(), "fleet".to_string())].into(),
            },
            window: handsoff::evidence::MetricWindow {
                start: started,
                end: now,
                period: "1m".parse().unwrap(),
            },
            get_metric_data_calls: 1,
            judgement,
            missing_series: Vec::new(),
        });
    let rollback = handsoff::decision::Decision::new("rollback-trigger", handsoff::decision::Verdict::Rollback, "done")
        .with_evidence(RollbackEvidence {
            performed: true,
            execution_id: Some("e-1".into()),
            ..RollbackEvidence::default()
        });
    let decisions = [&window, &alarms, &bake, &canary, &rollback];
    let record = AuditRecord::of_decision(&bake, "orders", "Prod", now);
    let dir = handsoff_e2e::TempDir::new("schemas");
    let decision_file = dir.join("decisions.json");
    let record_file = dir.join("record.json");
    std::fs::write(&decision_file, serde_json::to_string(&decisions).unwrap()).unwrap();
    std::fs::write(&record_file, serde_json::to_string(&record).unwrap()).unwrap();
    let check = r#"
import json, sys
from jsonschema import Draft202012Validator as V
decision = V(json.load(open("schemas/decision.schema.json")))
decisions = json.load(open(sys.argv[1]))
errors = [d["gate"] + ": " + e.message for d in decisions for e in decision.iter_errors(d)]
errors += [e.message for e in V(json.load(open("schemas/audit.schema.json"))).iter_errors(json.load(open(sys.argv[2])))]
gates = [d["gate"] for d in decisions]
bad_verdict = dict(decisions[0], decision="maybe")
bad_evidence = dict(decisions[2], evidence=dict(decisions[2]["evidence"], percent_complete="most"))
wrong_gate = dict(decisions[4], gate="bake-time-waiter")
refused = [bool(list(decision.iter_errors(doc))) for doc in (bad_verdict, bad_evidence, wrong_gate)]
print(json.dumps({"errors": errors, "gates": gates, "refused": refused}))
"#;
    let result = python_check(check, &[&decision_file, &record_file]);
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert_eq!(
        result["gates"],
        serde_json::json!([
            "time-window-gate",
            "alarm-blocker",
            "bake-time-waiter",
            "canary-evaluator",
            "rollback-trigger"
        ])
    );
    assert_eq!(
        result["refused"],
        serde_json::json!([true, true, true]),
        "a verdict outside the contract, a mistyped field and another gate's evidence are refused: {result}"
    );
}

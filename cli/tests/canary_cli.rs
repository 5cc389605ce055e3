//! `handsoff canary judge`, run as a process.

use std::path::PathBuf;

use handsoff_e2e::TempDir;
use serde_json::Value;

fn handsoff(args: &[&str]) -> (i32, String, String) {
    let said = handsoff_e2e::run_handsoff(std::path::Path::new(env!("CARGO_BIN_EXE_handsoff")), None, args);
    (said.code, said.stdout, said.stderr)
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

/// The judge's input in a file of its own; the directory goes when the test ends.
fn input_file(name: &str, text: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new("canary-cli");
    let path = dir.file(&format!("{name}.json"), text);
    (dir, path)
}

#[test]
fn json_verdict_follows_the_contract() {
    let (code, stdout, stderr) = handsoff(&[
        "canary",
        "judge",
        "--input",
        &example("canary-5x-errors.json"),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim().lines().count(), 1);
    let judgement: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(judgement["verdict"], "fail");
    let names: Vec<&str> = judgement["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| check["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["errors", "latency", "traffic"]);
    let errors = &judgement["checks"][0];
    assert_eq!(errors["verdict"], "fail");
    assert_eq!(errors["method"], "exact conditional binomial test (canary worse)");
    assert!(errors["p_value"].as_f64().unwrap() < 1e-10);
    assert_eq!(errors["effect"], 5.0);
    assert_eq!(errors["counts"]["canary_errors"], 50);
    assert_eq!(judgement["checks"][1]["verdict"], "pass");
    assert!(judgement.get("needed_requests").is_none());
    assert_eq!(judgement["alpha"], 0.01);
}

#[test]
fn too_little_traffic_is_inconclusive_with_the_requests_needed() {
    let (_dir, path) = input_file(
        "small",
        r#"{"baseline": {"requests": 20000, "errors": 200}, "canary": {"requests": 40, "errors": 1}}"#,
    );
    let (code, stdout, _) = handsoff(&["canary", "judge", "--input", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let judgement: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(judgement["verdict"], "inconclusive");
    assert!(judgement["needed_requests"].as_u64().unwrap() > 500);
    let (_, table, _) = handsoff(&["canary", "judge", "--input", path.to_str().unwrap()]);
    assert!(table.starts_with("verdict: inconclusive"), "{table}");
    assert!(
        table.contains("needs about ") && table.contains("canary requests to decide (has 40)"),
        "{table}"
    );
}

#[test]
fn bad_input_names_the_field() {
    for (name, text, expected) in [
        (
            "errors",
            r#"{"baseline": {"requests": 10, "errors": 11}, "canary": {"requests": 10, "errors": 0}}"#,
            "baseline.errors: 11 errors out of 10 requests",
        ),
        (
            "unknown",
            r#"{"baseline": {"requests": 10, "errors": 1, "latency": []}, "canary": {"requests": 10, "errors": 0}}"#,
            "baseline.latency: unknown field `latency`",
        ),
        (
            "confidence",
            r#"{"baseline": {"requests": 10, "errors": 1}, "canary": {"requests": 10, "errors": 0}, "config": {"confidence": 99}}"#,
            "config.confidence: 99 is not allowed",
        ),
        (
            "share",
            r#"{"baseline": {"requests": 10, "errors": 1}, "canary": {"requests": 10, "errors": 0}, "expected_canary_share": 10}"#,
            "expected_canary_share: 10 is not a share",
        ),
        (
            "negative",
            r#"{"baseline": {"requests": -1, "errors": 1}, "canary": {"requests": 10, "errors": 0}}"#,
            "baseline.requests: invalid value",
        ),
    ] {
        let (_dir, path) = input_file(name, text);
        let (code, stdout, stderr) = handsoff(&["canary", "judge", "--input", path.to_str().unwrap()]);
        assert_ne!(code, 0, "{name}: {stdout}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

/// `canary watch` replays a bake: one object, a verdict and an e-value per look, and the first
/// failing look. The example's one-box starts erring ten times as often at minute 11.
#[test]
fn watch_replays_a_bake_and_names_the_first_failing_look() {
    let (code, stdout, stderr) = handsoff(&[
        "canary",
        "watch",
        "--input",
        &example("canary-watch-mid-bake.json"),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "exactly one object: {stdout}");
    let replay: Value = serde_json::from_str(&stdout).unwrap();
    // Key order depends on serde_json's features in the build; the set of keys does not.
    let mut keys: Vec<&String> = replay.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["e_values", "first_fail", "verdicts"]);
    let first = replay["first_fail"].as_u64().unwrap() as usize;
    assert!(
        (11..20).contains(&first),
        "rolls back within minutes of the errors starting: {first}"
    );
    let verdicts = replay["verdicts"].as_array().unwrap();
    let e_values = replay["e_values"].as_array().unwrap();
    assert_eq!((verdicts.len(), e_values.len()), (30, 30));
    assert!(verdicts[..first].iter().all(|verdict| verdict == "continue"));
    assert_eq!(verdicts[first], "fail");
    // 1/alpha: alpha = (1 - 0.99) * 0.8.
    assert!(e_values[first].as_f64().unwrap() >= 125.0);
    assert!(e_values[first - 1].as_f64().unwrap() < 125.0 || verdicts[first - 1] == "continue");

    let (code, text, _) = handsoff(&["canary", "watch", "--input", &example("canary-watch-mid-bake.json")]);
    assert_eq!(code, 0);
    assert!(text.contains(&format!("roll back at look {first}: e-value")), "{text}");
}

#[test]
fn watch_refuses_bad_replays_naming_the_field() {
    for (text, says) in [
        (
            r#"{"looks": [{"canary": {"requests": 10, "errors": 2}, "baseline": {"requests": 90, "errors": 1}},
                          {"canary": {"requests": 20, "errors": 1}, "baseline": {"requests": 180, "errors": 1}}]}"#,
            "looks[1]: canary errors went down from 2 to 1",
        ),
        (
            r#"{"looks": [{"canary": {"requests": 1}, "baseline": {"requests": 1, "errors": 0}}]}"#,
            "looks[0].canary",
        ),
        (
            r#"{"config": {"sequential_share": 1.5}, "looks": []}"#,
            "config.sequential_share: 1.5 is not allowed",
        ),
        (r#"{"config": {"confidense": 0.9}, "looks": []}"#, "config.confidense"),
        (r#"{"looks": [], "looks": []}"#, "key `looks` appears twice"),
        (r#"{"looks": "secret-token-4f2a"}"#, "looks: invalid type: a string"),
    ] {
        let (_dir, path) = input_file("watch", text);
        let (code, stdout, stderr) = handsoff(&["canary", "watch", "--input", &path.display().to_string(), "--json"]);
        assert_eq!(code, 1, "{text}: {stdout}");
        assert!(stderr.contains(says), "{text}: {stderr}");
        assert!(!stderr.contains("secret-token-4f2a"), "{stderr}");
    }
}

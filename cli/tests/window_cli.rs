//! `handsoff window`, run as a person or a script would run it.

use std::path::PathBuf;

use handsoff_e2e::TempDir;
use serde_json::{Value, json};

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

/// A policy document in a file of its own; the directory goes when the test ends.
fn policy_file(text: &str) -> (TempDir, String) {
    let dir = TempDir::new("window-cli");
    let path = dir.file("policy.json", text).display().to_string();
    (dir, path)
}

#[test]
fn json_output_when_closed_names_the_next_opening() {
    let (code, stdout, stderr) = handsoff(&[
        "window",
        "--policy",
        &example("team-policy.json"),
        "--at",
        "2026-11-26T18:00:00Z",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let value: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        value,
        json!({"open": false, "opens_at": "2026-11-30T17:00:00Z", "closes_at": null, "reason": "closed: Thanksgiving (deny 2026-11-26); opens Mon 09:00 PST"})
    );
    assert_eq!(stdout.trim().lines().count(), 1);
}

#[test]
fn json_output_when_open_names_the_last_start() {
    let (code, stdout, _) = handsoff(&[
        "window",
        "--policy",
        &example("team-policy.json"),
        "--at",
        "2026-11-24T10:00:00-08:00",
        "--json",
    ]);
    assert_eq!(code, 0);
    let value: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(value["open"], true);
    assert_eq!(value["opens_at"], Value::Null);
    assert_eq!(value["closes_at"], "2026-11-24T23:00:00Z");
}

#[test]
fn a_person_gets_a_sentence() {
    let (code, stdout, _) = handsoff(&[
        "window",
        "--policy",
        &example("team-policy.json"),
        "--at",
        "2026-11-26T18:00:00Z",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        "closed: Thanksgiving (deny 2026-11-26); opens Mon 09:00 PST"
    );
}

#[test]
fn a_document_holding_only_windows_is_accepted() {
    let (_file_dir, file) = policy_file(
        r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Fri", "start": "09:00", "end": "17:00"}]}}"#,
    );
    let (code, stdout, _) = handsoff(&["window", "--policy", &file, "--at", "2026-11-23T10:00:00Z", "--json"]);
    assert_eq!(code, 0);
    let value: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        (value["open"].as_bool(), value["closes_at"].as_str()),
        (Some(true), Some("2026-11-23T17:00:00Z"))
    );
}

#[test]
fn bad_input_exits_non_zero_naming_the_field() {
    let (_cst_dir, cst) = policy_file(
        r#"{"windows": {"timezone": "CST", "allow": [{"days": "Mon-Fri", "start": "09:00", "end": "17:00"}]}}"#,
    );
    let (code, stdout, stderr) = handsoff(&["window", "--policy", &cst]);
    assert_ne!(code, 0);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("windows.timezone: `CST` is not an IANA time zone name") && stderr.contains("America/Chicago"),
        "{stderr}"
    );

    let (_typo_dir, typo) = policy_file(r#"{"windows": {"timezone": "UTC", "alow": []}}"#);
    let (code, _, stderr) = handsoff(&["window", "--policy", &typo]);
    assert_ne!(code, 0);
    assert!(stderr.contains("windows.alow: unknown field `alow`"), "{stderr}");

    let (_no_windows_dir, no_windows) = policy_file("{}");
    let (code, _, stderr) = handsoff(&["window", "--policy", &no_windows]);
    assert_ne!(code, 0);
    assert!(stderr.contains("windows: missing"), "{stderr}");

    let (code, _, stderr) = handsoff(&["window", "--policy", &example("team-policy.json"), "--at", "tomorrow"]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("--at: `tomorrow` is not an RFC 3339 instant"),
        "{stderr}"
    );

    let (code, _, stderr) = handsoff(&["window", "--policy", "/nonexistent/policy.json"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--policy /nonexistent/policy.json"), "{stderr}");

    let (code, _, stderr) = handsoff(&["window"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--policy"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn policy_validate_names_the_field_and_policy_schema_prints_the_committed_schema() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = root.join("examples/team-policy.json").display().to_string();
    let (code, stdout, stderr) = handsoff(&["policy", "validate", &example]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("a valid policy (windows)"), "{stdout}");
    let dir = handsoff_e2e::TempDir::new("policy-validate");
    let bad = dir.file(
        "bad.json",
        r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Fri", "start": "25:00", "end": "16:00"}]}}"#,
    );
    let (code, _, stderr) = handsoff(&["policy", "validate", &bad.display().to_string()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("windows.allow[0].start"), "{stderr}");
    let (code, stdout, _) = handsoff(&["policy", "schema"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        std::fs::read_to_string(root.join("schemas/policy.schema.json")).unwrap()
    );
}

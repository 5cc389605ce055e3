//! `handsoff pipeline synth|plan|regions` and `scripts/deploy-regions`, run as processes.

use std::path::PathBuf;
use std::process::Command;

use handsoff_e2e::TempDir;
use serde_json::Value;

fn handsoff(args: &[&str]) -> (i32, String, String) {
    let said = handsoff_e2e::run_handsoff(std::path::Path::new(env!("CARGO_BIN_EXE_handsoff")), None, args);
    (said.code, said.stdout, said.stderr)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_plan() -> String {
    root().join("examples/release/release.yaml").display().to_string()
}

#[test]
fn plan_prints_the_schedule_and_its_json_follows_the_documented_shape() {
    let (code, stdout, stderr) = handsoff(&[
        "pipeline",
        "plan",
        "--plan",
        &example_plan(),
        "--start",
        "2026-12-07T17:00:00Z",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("earliest completion: Wed 2026-12-09 13:00 UTC"),
        "{stdout}"
    );
    let (code, stdout, stderr) = handsoff(&[
        "pipeline",
        "plan",
        "--plan",
        &example_plan(),
        "--start",
        "2026-12-07T17:00:00Z",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let schedule: Value = serde_json::from_str(stdout.trim()).unwrap();
    let keys = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&schedule), ["completes_at", "pipeline", "start", "waves"]);
    assert_eq!(keys(&schedule["waves"][0]), ["ends_at", "name", "regions", "starts_at"]);
    assert_eq!(
        keys(&schedule["waves"][1]["regions"][0]),
        ["ends_at", "region", "starts_at", "steps", "waits_for"]
    );
    assert_eq!(schedule["completes_at"], "2026-12-09T13:00:00Z");
    assert_eq!(schedule["waves"][0]["regions"][0]["steps"][1]["min_secs"], 3600);
}

#[test]
fn synth_writes_the_template_and_every_region_input() {
    let dir = TempDir::new("pipeline-cli");
    let out = dir.path().display().to_string();
    let (code, stdout, stderr) = handsoff(&["pipeline", "synth", "--plan", &example_plan(), "--out", &out]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("4 region inputs"), "{stdout}");
    let written = std::fs::read_to_string(dir.path().join("pipeline.json")).unwrap();
    let committed = std::fs::read_to_string(root().join("examples/release/pipeline.json")).unwrap();
    assert_eq!(written, committed);
    let input: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("handsoff/inputs/Wave-3.eu-west-1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(input["region"], "eu-west-1");
    let (code, stdout, _) = handsoff(&["pipeline", "synth", "--plan", &example_plan()]);
    assert_eq!(code, 0);
    assert_eq!(stdout, committed);
}

#[test]
fn a_bad_plan_exits_1_naming_the_file_and_the_field() {
    let dir = TempDir::new("pipeline-cli-bad");
    let text = std::fs::read_to_string(example_plan())
        .unwrap()
        .replace("[us-west-2]", "[us-west-2, us-west-2]");
    let plan = dir.file("release.yaml", &text).display().to_string();
    for command in ["synth", "plan", "regions"] {
        let (code, stdout, stderr) = handsoff(&["pipeline", command, "--plan", &plan]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{command}");
        assert!(
            stderr.contains("release.yaml: waves[0].regions[1]: us-west-2 is already in an earlier wave"),
            "{stderr}"
        );
    }
    let (code, _, stderr) = handsoff(&["pipeline", "plan", "--plan", &example_plan(), "--start", "monday"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--start: `monday` is not an RFC 3339 instant"),
        "{stderr}"
    );
}

#[test]
fn deploy_regions_deploys_the_stack_to_every_region_of_the_plan() {
    let (code, stdout, _) = handsoff(&["pipeline", "regions", "--plan", &example_plan()]);
    assert_eq!(code, 0);
    let regions: Vec<&str> = stdout.lines().collect();
    assert_eq!(regions, ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]);
    let output = Command::new(root().join("scripts/deploy-regions"))
        .args(["--plan", &example_plan(), "--dry"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let deploys: Vec<&str> = printed
        .lines()
        .filter(|line| line.starts_with("+ sam deploy"))
        .collect();
    assert_eq!(deploys.len(), 4, "{printed}");
    for (deploy, region) in deploys.iter().zip(&regions) {
        assert!(deploy.contains(&format!("--region {region} ")), "{deploy}");
    }
}

//! `handsoff suite validate|run|put|list`: against files, a local HTTP target, and a real
//! DynamoDB/STS-protocol endpoint (moto_server), all started by the test.

use handsoff_e2e::{Moto, TargetServer, TempDir};

fn handsoff(args: &[&str], endpoint: Option<&str>) -> (i32, String, String) {
    let said = handsoff_e2e::run_handsoff(std::path::Path::new(env!("CARGO_BIN_EXE_handsoff")), endpoint, args);
    (said.code, said.stdout, said.stderr)
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const YAML_SUITE: &str = r#"
name: beta-smoke
vars:
  base_url: null
  token: null
secrets: [token]
tests:
  - name: health
    http:
      url: ${base_url}/good
      headers: {authorization: "Bearer ${token}"}
    expect:
      status: 200
      json: [{path: $.status, equals: ok}]
  - name: dependency up
    http: {url: "${base_url}/wrong-status?token=${token}"}
    expect: {status: 200}
"#;

fn temp_dir(name: &str) -> TempDir {
    TempDir::new(&format!("suite-cli-{name}"))
}

#[test]
fn validate_accepts_the_example_and_names_the_field_of_a_bad_suite() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/suite-orders-smoke.json");
    let (code, stdout, _) = handsoff(&["suite", "validate", example], None);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("suite `orders-smoke` is valid: 5 tests (4 http, 0 lambda, 1 traffic); the stage must supply: api_token, base_url"),
        "{stdout}"
    );

    let dir = temp_dir("validate");
    let bad = write(
        &dir,
        "bad.yaml",
        "name: x\ntests:\n  - name: t\n    http: {url: '${base_url}/x'}\n",
    );
    let (code, _, stderr) = handsoff(&["suite", "validate", &bad], None);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("bad.yaml: tests[0].http.url: uses `${base_url}`, which is not declared"),
        "{stderr}"
    );
    let (code, _, stderr) = handsoff(&["suite", "validate", &write(&dir, "broken.json", "{\"name\": ")], None);
    assert_eq!(code, 1);
    assert!(stderr.contains("broken.json: suite: not valid JSON"), "{stderr}");
}

#[test]
fn run_shows_what_was_sent_what_came_back_and_what_failed() {
    let target = TargetServer::start();
    let dir = temp_dir("run");
    let file = write(&dir, "smoke.yaml", YAML_SUITE);
    let base = format!("base_url={}", target.base_url());
    let (code, stdout, stderr) = handsoff(
        &["suite", "run", &file, "--var", &base, "--var", "token=sekret-77aa"],
        None,
    );
    assert_eq!(code, 3, "a failed test exits 3\n{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("suite beta-smoke: FAILED — 1 passed, 1 failed, 0 not run"),
        "{stdout}"
    );
    assert!(stdout.contains("  ok   health [http]"), "{stdout}");
    assert!(stdout.contains("  FAIL dependency up [http]"), "{stdout}");
    assert!(stdout.contains("✗ status: expected 200, got 503"), "{stdout}");
    assert!(
        stdout.contains(&format!("sent: GET {}/wrong-status?token=***", target.base_url())),
        "{stdout}"
    );
    assert!(stdout.contains("got:  503 in"), "{stdout}");
    assert!(stdout.contains("Service Unavailable"), "{stdout}");
    assert!(
        !stdout.contains("sekret-77aa") && !stderr.contains("sekret-77aa"),
        "the secret was printed"
    );
    assert_eq!(target.requests("/good").len(), 1);
    assert!(
        !stderr.contains("[1/2]"),
        "no progress unless stderr is a terminal or it is asked for: {stderr}"
    );

    // Asked for, each test's line comes on stderr as it finishes; stdout keeps the JSON alone.
    let (code, stdout, stderr) = handsoff(
        &[
            "suite",
            "run",
            &file,
            "--var",
            &base,
            "--var",
            "token=sekret-77aa",
            "--progress",
            "always",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 3, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|line| line.starts_with('[')).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("[1/2] ") && lines[1].starts_with("[2/2] "),
        "{stderr}"
    );
    assert!(lines.iter().any(|line| line.contains("ok   health (")), "{stderr}");
    assert!(
        lines.iter().any(|line| line.contains("FAIL dependency up (")),
        "{stderr}"
    );
    assert!(!stderr.contains("sekret-77aa"), "the secret was printed: {stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is the JSON alone");
    assert_eq!(summary["ok"], false);

    let (code, _, stderr) = handsoff(&["suite", "run", &file, "--var", &base], None);
    assert_eq!(code, 1);
    assert!(stderr.contains("vars.token: the suite needs `token`"), "{stderr}");
    let (code, _, stderr) = handsoff(&["suite", "run", &file, "--var", "oops"], None);
    assert_eq!(code, 1);
    assert!(stderr.contains("--var: `oops` is not NAME=VALUE"), "{stderr}");
}

#[test]
fn put_stores_versions_and_list_shows_what_the_stage_runs() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let run = |args: &[&str]| handsoff(args, Some(&endpoint));
    let (code, _, stderr) = run(&["table", "create"]);
    assert_eq!(code, 0, "{stderr}");
    let dir = temp_dir("put");
    let file = write(&dir, "smoke.yaml", YAML_SUITE);
    let (code, stdout, stderr) = run(&["suite", "put", &file, "--pipeline", "orders", "--stage", "Beta"]);
    assert_eq!(
        (code, stdout.trim()),
        (0, "stored suite `beta-smoke` for orders/Beta as version 1 (2 tests)"),
        "{stderr}"
    );
    let (_, stdout, _) = run(&["suite", "put", &file, "--pipeline", "orders", "--stage", "Beta"]);
    assert!(stdout.contains("as version 2"), "{stdout}");

    let (code, stdout, _) = run(&["suite", "list", "--pipeline", "orders", "--stage", "Beta", "--json"]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            rows[0]["name"].clone(),
            rows[0]["version"].clone(),
            rows[0]["tests"].clone()
        ),
        ("beta-smoke".into(), 2.into(), 2.into())
    );
    assert!(
        rows[0]["updated_by"].as_str().unwrap().starts_with("arn:aws:"),
        "{stdout}"
    );
    let (_, stdout, _) = run(&["suite", "list", "--pipeline", "orders", "--stage", "Gamma"]);
    assert!(stdout.contains("no suites for orders/Gamma"), "{stdout}");
    let (code, _, stderr) = run(&["suite", "put", &file, "--pipeline", "orders", "--stage", "Be ta"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--stage: `Be ta` is not a CodePipeline name"),
        "{stderr}"
    );
}

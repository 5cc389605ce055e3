//! `handsoff policy put|get|list|history|diff|explain` and `handsoff freeze create|list|lift`
//! against a real DynamoDB/STS-protocol endpoint (moto_server, started by the test), with the
//! example layers in examples/policies/.

use handsoff_e2e::{Moto, TempDir};

fn handsoff(args: &[&str], endpoint: &str) -> (i32, String, String) {
    let said = handsoff_e2e::run_handsoff(
        std::path::Path::new(env!("CARGO_BIN_EXE_handsoff")),
        Some(endpoint),
        args,
    );
    (said.code, said.stdout, said.stderr)
}

fn example(name: &str) -> String {
    format!("{}/../examples/policies/{name}", env!("CARGO_MANIFEST_DIR"))
}

const STAGE: [&str; 4] = ["--pipeline", "orders", "--stage", "Prod"];

#[test]
fn layers_are_stored_checked_against_the_ones_below_explained_and_diffed() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let run = |args: &[&str]| handsoff(args, &endpoint);
    assert_eq!(run(&["table", "create"]).0, 0);

    let org = example("org.json");
    let (code, stdout, stderr) = run(&["policy", "put", &org, "--org"]);
    assert_eq!(
        (code, stdout.trim()),
        (0, "stored the org policy as version 1"),
        "{stderr}"
    );
    let pipeline = example("orders-pipeline.json");
    assert_eq!(run(&["policy", "put", &pipeline, "--pipeline", "orders"]).0, 0);
    let stage = example("orders-prod-stage.json");
    let mut put_stage = vec!["policy", "put", &stage];
    put_stage.extend(STAGE);
    let (code, stdout, stderr) = run(&put_stage);
    assert_eq!(
        (code, stdout.trim()),
        (0, "stored the stage orders/Prod policy as version 1"),
        "{stderr}"
    );

    // A stage that shortens the organisation's minimum bake is refused, naming the field.
    let dir = TempDir::new("policy-cli");
    let lower = dir.join("lower.json");
    std::fs::write(&lower, r#"{"bake": {"duration": "30m"}}"#).unwrap();
    let lower = lower.to_string_lossy().into_owned();
    let mut put_lower = vec!["policy", "put", &lower];
    put_lower.extend(STAGE);
    let (code, _, stderr) = run(&put_lower);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("refused: stage orders/Prod v2: bake.duration: `30m` is shorter than `2h`")
            || stderr.contains("refused: stage orders/Prod v2: bake.duration: `30m` is shorter than `1h`"),
        "{stderr}"
    );
    assert!(stderr.contains("org v1 forbids lowering it"), "{stderr}");

    // A dry run checks and stores nothing; a real put makes version 2.
    let raise = dir.join("raise.json");
    std::fs::write(&raise, r#"{"bake": {"duration": "3h"}}"#).unwrap();
    let raise = raise.to_string_lossy().into_owned();
    let mut dry = vec!["policy", "put", &raise, "--dry-run"];
    dry.extend(STAGE);
    let (code, stdout, _) = run(&dry);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("would be stored as the stage orders/Prod policy version 2"),
        "{stdout}"
    );
    let mut history = vec!["policy", "history", "--json"];
    history.extend(STAGE);
    let (_, stdout, _) = run(&history);
    let rows: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert!(
        rows[0]["updated_by"].as_str().unwrap().starts_with("arn:aws:"),
        "who, from STS: {rows}"
    );

    let mut put_raise = vec!["policy", "put", &raise];
    put_raise.extend(STAGE);
    let (code, stdout, _) = run(&put_raise);
    assert_eq!(
        (code, stdout.trim()),
        (
            0,
            "stored the stage orders/Prod policy as version 2 (was 1); the next decision uses it"
        )
    );

    let mut diff = vec!["policy", "diff"];
    diff.extend(STAGE);
    let (code, stdout, _) = run(&diff);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.trim().lines().collect();
    assert_eq!(lines[0], "stage orders/Prod v1 -> v2");
    assert!(lines.contains(&"~ bake.duration: \"2h\" -> \"3h\""), "{stdout}");
    assert!(lines.iter().any(|line| line.starts_with("- windows.allow")), "{stdout}");
    let mut diff_file = vec!["policy", "diff", "--file", &stage];
    diff_file.extend(STAGE);
    let (_, stdout, _) = run(&diff_file);
    assert!(
        stdout.contains("stage orders/Prod v2 -> ") && stdout.contains("~ bake.duration: \"3h\" -> \"2h\""),
        "{stdout}"
    );

    let mut get = vec!["policy", "get", "--version", "1"];
    get.extend(STAGE);
    let (_, stdout, _) = run(&get);
    let first: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stage).unwrap()).unwrap();
    assert_eq!(first, expected, "version 1 as it was put");

    let mut explain = vec!["policy", "explain"];
    explain.extend(STAGE);
    let (code, stdout, stderr) = run(&explain);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("effective policy of orders/Prod: org v1 + pipeline orders v1 + stage orders/Prod v2"),
        "{stdout}"
    );
    let from = |field: &str| {
        stdout
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{field} = ")))
            .and_then(|line| line.rsplit_once(" from "))
            .map(|(_, from)| from.to_string())
            .unwrap_or_else(|| panic!("{field} not in:\n{stdout}"))
    };
    assert_eq!(from("bake.duration"), "stage orders/Prod v2");
    assert_eq!(from("windows.timezone"), "pipeline orders v1");
    assert_eq!(from("windows.min_time_left"), "org v1");
    assert_eq!(from("alarms.watch[0]"), "org v1");
    assert_eq!(from("alarms.watch[1]"), "pipeline orders v1");
    assert!(
        stdout.contains("bake.duration may not be lowered (forbid_lowering in org v1)"),
        "{stdout}"
    );

    let (code, stdout, _) = run(&["policy", "list", "--json"]);
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let layers: Vec<(&str, i64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["layer"].as_str().unwrap(), row["version"].as_i64().unwrap()))
        .collect();
    assert_eq!(layers, [("org", 1), ("pipeline orders", 1), ("stage orders/Prod", 2)]);

    let (code, _, stderr) = run(&["policy", "put", &org, "--org", "--pipeline", "orders"]);
    assert_eq!(code, 2, "--org and --pipeline conflict: {stderr}");
    let (code, _, stderr) = run(&["policy", "explain", "--pipeline", "ordres", "--stage", "Prod"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no policy is stored for pipeline ordres"), "{stderr}");
}

#[test]
fn freezes_are_created_listed_and_lifted_once_with_who_and_why() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let run = |args: &[&str]| handsoff(args, &endpoint);
    assert_eq!(run(&["table", "create"]).0, 0);
    let to = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .unwrap()
        .to_string();
    let (code, stdout, stderr) = run(&[
        "freeze",
        "create",
        "--to",
        &to,
        "--reason",
        "year-end freeze",
        "--pipelines",
        "orders,payments",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("froze orders, payments from "), "{stdout}");
    let id = stdout
        .split(" as ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let (code, stdout, _) = run(&["freeze", "create", "--to", &to, "--reason", "second", "--json"]);
    assert_eq!(code, 0);
    let second: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(second["id"].as_str().unwrap().starts_with("frz-"), "{second}");
    assert_eq!(second["reason"], "second");
    let (code, stdout, _) = run(&[
        "freeze",
        "lift",
        second["id"].as_str().unwrap(),
        "--reason",
        "not needed",
        "--json",
    ]);
    assert_eq!(code, 0);
    let lifted: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(lifted["lifted"]["reason"], "not needed");

    // `check` keeps the window gate's rules: a freeze in force closes the stage's window, and a
    // Change Calendar it cannot read (moto serves no GetCalendarState) decides nothing.
    let dir = TempDir::new("policy-cli-check");
    let open = dir.join("open.json");
    std::fs::write(
        &open,
        r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]}}"#,
    )
    .unwrap();
    let open = open.to_string_lossy().into_owned();
    let (code, stdout, stderr) = run(&["check", "--policy", &open, "--pipeline", "orders", "--stage", "Prod"]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stdout.contains("change freeze") && stdout.contains("year-end freeze"),
        "{stdout}"
    );
    assert_eq!(
        run(&["check", "--policy", &open, "--pipeline", "search", "--stage", "Prod"]).0,
        0
    );
    let (code, stdout, _) = run(&[
        "check",
        "--policy",
        &open,
        "--pipeline",
        "orders",
        "--stage",
        "Prod",
        "--json",
    ]);
    assert_eq!(code, 3);
    let checked: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(checked["all_proceed"], false);
    assert_eq!(checked["decisions"][0]["gate"], "time-window-gate");
    assert_eq!(
        checked["decisions"][0]["evidence"]["freeze"]["reason"],
        "year-end freeze"
    );
    let calendared = dir.join("calendared.json");
    std::fs::write(&calendared, r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}], "calendars": ["holidays"]}}"#).unwrap();
    let calendared = calendared.to_string_lossy().into_owned();
    let (code, _, stderr) = run(&["check", "--policy", &calendared]);
    assert_ne!(code, 0, "an unreadable calendar never says a deployment may start");
    assert!(stderr.contains("ssm:GetCalendarState"), "{stderr}");
    let (code, stdout, _) = run(&["window", "--policy", &calendared, "--json"]);
    assert_eq!(code, 0);
    let window: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(window["open"], false, "{window}");
    assert!(
        window["reason"]
            .as_str()
            .unwrap()
            .contains("Change Calendar holidays is not read"),
        "{window}"
    );

    let (_, stdout, _) = run(&["freeze", "list"]);
    let row = stdout
        .lines()
        .find(|line| line.starts_with(&id))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        row.contains("in force") && row.contains("orders,payments") && row.contains("year-end freeze"),
        "{row}"
    );

    let (code, _, stderr) = run(&["freeze", "lift", &id, "--reason", " "]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--reason"), "{stderr}");
    let (code, stdout, _) = run(&["freeze", "lift", &id, "--reason", "hotfix must ship"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with(&format!("lifted {id}")), "{stdout}");
    let (code, _, stderr) = run(&["freeze", "lift", &id, "--reason", "again"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("was lifted at"), "{stderr}");
    assert_eq!(run(&["freeze", "list"]).1.trim(), "no freezes");
    let (_, stdout, _) = run(&["freeze", "list", "--all", "--json"]);
    let all: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let first = all
        .as_array()
        .unwrap()
        .iter()
        .find(|freeze| freeze["id"] == id.as_str())
        .unwrap();
    assert_eq!(first["lifted"]["reason"], "hotfix must ship", "{all}");
    assert!(first["lifted"]["by"].as_str().unwrap().starts_with("arn:aws:"), "{all}");

    let (code, _, stderr) = run(&[
        "freeze",
        "create",
        "--from",
        "2019-12-01T00:00:00Z",
        "--to",
        "2020-01-01T00:00:00Z",
        "--reason",
        "x",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--to: 2020-01-01T00:00:00Z is already past"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["freeze", "create", "--to", &to, "--reason", "x", "--pipelines", "a b"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--pipelines: `a b` is not a CodePipeline name"),
        "{stderr}"
    );
}

#[test]
fn completions_suggestions_and_errors_as_json() {
    // Nothing here reaches AWS: the endpoint is never called.
    let run = |args: &[&str]| handsoff(args, "http://127.0.0.1:9");
    let (code, stdout, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("_handsoff()") && stdout.contains("freeze"), "{stdout}");
    let (code, _, stderr) = run(&["freez", "list"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("similar subcommand exists: 'freeze'"), "{stderr}");
    let team = format!("{}/../examples/team-policy.json", env!("CARGO_MANIFEST_DIR"));
    let (code, stdout, _) = run(&["policy", "validate", &team, "--json"]);
    assert_eq!(code, 0);
    let valid: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(valid["valid"], true);
    assert!(
        valid["sections"].as_array().unwrap().contains(&"windows".into()),
        "{valid}"
    );
    let (code, _, stderr) = run(&["freeze", "list", "--json", "--table", " "]);
    assert_eq!(code, 1);
    let error: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap_or_else(|_| panic!("{stderr}"));
    assert_eq!(error["error"]["kind"], "invalid");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("--table: no table given"),
        "{error}"
    );
}

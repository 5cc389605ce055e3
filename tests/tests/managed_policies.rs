//! Managed policies on the local stack: the real time-window-gate under cargo lambda watch,
//! the real `handsoff` command, one moto. A policy stored with `policy put` changes the gate's
//! next decision without redeploying anything, and the decision names the versions; `explain`
//! shows the layers; a stage that tries to lower a forbidden field is refused; a freeze closes
//! two pipelines' windows (not a third's) and lifting it reopens them.

use std::process::Command;

use handsoff_e2e::TempDir;
use handsoff_e2e::lambda_router::Answer;
use handsoff_e2e::local_stack::{LocalStack, binaries_dir};
use serde_json::{Value, json};

struct Operator {
    endpoint: String,
    dir: TempDir,
}

impl Operator {
    /// Runs `handsoff ARGS` against the stack; (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(binaries_dir().join("handsoff"))
            .env_clear()
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HANDSOFF_TABLE", "handsoff")
            .arg("--endpoint-url")
            .arg(&self.endpoint)
            .args(args)
            .output()
            .expect("the handsoff command (cargo build --bins)");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `handsoff policy put` of `layer` at `scope`; the command's answer.
    fn put(&self, scope: &[&str], layer: &Value) -> (i32, String, String) {
        let file = self.dir.join(format!("layer-{}.json", uuid_like()));
        std::fs::write(&file, layer.to_string()).unwrap();
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["policy", "put", file.as_str()];
        args.extend(scope);
        self.run(&args)
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The time-window gate's answer for a pipeline's Prod stage, given nothing but its context.
fn window_decision(stack: &LocalStack, pipeline: &str) -> Value {
    match stack.invoke(
        "time-window-gate",
        &json!({"context": {"pipeline": pipeline, "stage": "Prod"}}),
    ) {
        Answer::Ok(decision) => decision,
        Answer::Error { error_type, message } => {
            panic!("{error_type}: {message}\n{}", stack.output())
        }
    }
}

fn layers_of(decision: &Value) -> Vec<String> {
    decision["evidence"]["policy"]["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("no policy versions in {decision}"))
        .iter()
        .map(|layer| format!("{} v{}", layer["layer"].as_str().unwrap(), layer["version"]))
        .collect()
}

#[test]
fn stored_policies_change_the_next_decision_and_a_freeze_closes_two_pipelines_until_lifted() {
    let stack = LocalStack::start();
    let operator = Operator {
        endpoint: stack.endpoint(),
        dir: TempDir::new("managed-policies"),
    };
    assert_eq!(operator.run(&["table", "create"]).0, 0);

    // The organisation: open all week, at least an hour's bake, which no one may shorten.
    let org = json!({
        "windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]},
        "bake": {"duration": "1h"},
        "forbid_lowering": ["bake.duration"]
    });
    let (code, _, stderr) = operator.put(&["--org"], &org);
    assert_eq!(code, 0, "{stderr}");
    for pipeline in ["orders", "payments", "search"] {
        let layer = json!({"alarms": {"watch": [{"names": [format!("{pipeline}-high-sev")]}]}});
        assert_eq!(operator.put(&["--pipeline", pipeline], &layer).0, 0);
    }
    let stage = ["--pipeline", "orders", "--stage", "Prod"];
    assert_eq!(operator.put(&stage, &json!({"windows": {"min_time_left": "5m"}})).0, 0);

    let first = window_decision(&stack, "orders");
    assert_eq!(first["decision"], "proceed", "{first}");
    assert_eq!(
        layers_of(&first),
        ["org v1", "pipeline orders v1", "stage orders/Prod v1"]
    );

    // The team denies yesterday to tomorrow: the very next decision waits, naming version 2.
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).date();
    let deny = json!({"windows": {"deny": [{
        "from": today.yesterday().unwrap().to_string(),
        "to": today.tomorrow().unwrap().to_string(),
        "reason": "migration"
    }]}});
    let (code, stdout, _) = operator.put(&stage, &deny);
    assert_eq!(
        (code, stdout.trim()),
        (
            0,
            "stored the stage orders/Prod policy as version 2 (was 1); the next decision uses it"
        )
    );
    let second = window_decision(&stack, "orders");
    assert_eq!(second["decision"], "wait", "{second}");
    assert!(second["reasons"][0].as_str().unwrap().contains("migration"), "{second}");
    assert_eq!(layers_of(&second)[2], "stage orders/Prod v2");

    let (code, stdout, _) = operator.run(&["policy", "explain", "--pipeline", "orders", "--stage", "Prod"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("effective policy of orders/Prod: org v1 + pipeline orders v1 + stage orders/Prod v2"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|line| line.contains("windows.deny[0]") && line.ends_with("from stage orders/Prod v2")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|line| line.contains("bake.duration = \"1h\"") && line.ends_with("from org v1")),
        "{stdout}"
    );

    // A stage that tries to shorten the organisation's minimum bake is refused, by field.
    let (code, _, stderr) = operator.put(&stage, &json!({"bake": {"duration": "10m"}}));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("stage orders/Prod v3: bake.duration: `10m` is shorter than `1h`; org v1 forbids lowering it"),
        "{stderr}"
    );

    // Back to open; then a freeze on orders and payments closes both, and not search.
    assert_eq!(operator.put(&stage, &json!({"windows": {"min_time_left": "5m"}})).0, 0);
    assert_eq!(window_decision(&stack, "orders")["decision"], "proceed");
    let until = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(2))
        .unwrap()
        .to_string();
    let (code, stdout, stderr) = operator.run(&[
        "freeze",
        "create",
        "--to",
        &until,
        "--reason",
        "payments migration",
        "--pipelines",
        "orders,payments",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let id = stdout
        .split(" as ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    for pipeline in ["orders", "payments"] {
        let frozen = window_decision(&stack, pipeline);
        assert_eq!(frozen["decision"], "wait", "{frozen}");
        assert_eq!(frozen["evidence"]["freeze"]["id"], id.as_str());
        assert!(
            frozen["reasons"][0].as_str().unwrap().contains("payments migration"),
            "{frozen}"
        );
    }
    assert_eq!(window_decision(&stack, "search")["decision"], "proceed");

    let (code, _, stderr) = operator.run(&["freeze", "lift", &id, "--reason", "migration done early"]);
    assert_eq!(code, 0, "{stderr}");
    for pipeline in ["orders", "payments"] {
        assert_eq!(window_decision(&stack, pipeline)["decision"], "proceed");
    }
}

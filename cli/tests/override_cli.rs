//! `handsoff override|unblock|audit|check|table` against a real DynamoDB/STS-protocol endpoint
//! (moto_server, started and stopped by the test).

use handsoff::alarms::BlockMarker;
use handsoff::ports::store::BlockStore;
use handsoff::ports::store::DynamoStore;
use handsoff_e2e::{Moto, TempDir};
use serde_json::Value;

struct Cli<'a> {
    moto: &'a Moto,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_at(&self.moto.endpoint(), args)
    }

    fn run_at(&self, endpoint: &str, args: &[&str]) -> (i32, String, String) {
        let said = handsoff_e2e::run_handsoff(
            std::path::Path::new(env!("CARGO_BIN_EXE_handsoff")),
            Some(endpoint),
            args,
        );
        (said.code, said.stdout, said.stderr)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.run(args);
        assert_eq!(code, 0, "handsoff {args:?}\nstdout: {stdout}\nstderr: {stderr}");
        stdout
    }
}

fn store(moto: &Moto) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&moto.sdk_config()), "handsoff")
}

#[test]
fn overrides_unblock_and_the_audit_trail_from_the_command_line() {
    let moto = Moto::start();
    let cli = Cli { moto: &moto };
    assert_eq!(
        cli.ok(&["table", "create"]).trim(),
        "created table handsoff (on demand, TTL on expires_at)"
    );

    let created = cli.ok(&[
        "override",
        "create",
        "--pipeline",
        "orders",
        "--stage",
        "Prod",
        "--alarm",
        "orders-high-sev",
        "--reason",
        "shipping the fix for INC-42",
        "--ttl",
        "2h",
    ]);
    let id = created.split(':').next().unwrap().to_string();
    assert!(
        id.starts_with("ov-") && created.contains("overrides orders-high-sev for stage Prod of orders until"),
        "{created}"
    );

    let (code, _, stderr) = cli.run(&[
        "override",
        "create",
        "--pipeline",
        "orders",
        "--stage",
        "Prod",
        "--reason",
        "x",
        "--ttl",
        "5h",
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("--ttl: `5h` is not allowed") && stderr.contains("4h"),
        "{stderr}"
    );
    let (code, _, stderr) = cli.run(&[
        "override",
        "create",
        "--pipeline",
        "orders",
        "--stage",
        "Prod",
        "--reason",
        "  ",
        "--ttl",
        "1h",
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--reason: empty"), "{stderr}");
    let (code, _, stderr) = cli.run(&[
        "override",
        "create",
        "--pipeline",
        "orders#1",
        "--stage",
        "Prod",
        "--reason",
        "x",
        "--ttl",
        "1h",
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("--pipeline: `orders#1` is not a CodePipeline name"),
        "{stderr}"
    );

    let listed: Value = serde_json::from_str(&cli.ok(&["override", "list", "--pipeline", "orders", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["status"], "live");
    assert_eq!(listed[0]["alarms"][0], "orders-high-sev");
    assert!(listed[0]["who"].as_str().unwrap().starts_with("arn:aws:"), "{listed}");

    assert!(
        cli.ok(&["override", "revoke", &id, "--reason", "fix shipped"])
            .contains("revoked")
    );
    let listed: Value = serde_json::from_str(&cli.ok(&["override", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["status"], "revoked");
    let (code, _, stderr) = cli.run(&["override", "revoke", &id]);
    assert_ne!(code, 0);
    assert!(stderr.contains("already revoked"), "{stderr}");

    let (code, _, stderr) = cli.run(&[
        "unblock",
        "--pipeline",
        "orders",
        "--stage",
        "Prod",
        "--reason",
        "root cause fixed",
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("stage Prod of pipeline orders is not blocked"),
        "{stderr}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(store(&moto).put_block_marker(&BlockMarker {
            pipeline: "orders".into(),
            stage: "Prod".into(),
            reason: "bake alarm orders-high-sev fired".into(),
            created_at: jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1),
            by: "rollback-trigger".into(),
        }))
        .unwrap();
    let unblocked = cli.ok(&[
        "unblock",
        "--pipeline",
        "orders",
        "--stage",
        "Prod",
        "--reason",
        "root cause fixed",
    ]);
    assert!(
        unblocked.starts_with("unblocked stage Prod of orders (blocked since "),
        "{unblocked}"
    );
    assert!(
        unblocked.contains(": bake alarm orders-high-sev fired) by arn:aws:"),
        "{unblocked}"
    );

    let audit = cli.ok(&["audit", "--pipeline", "orders", "--stage", "Prod"]);
    let kinds: Vec<&str> = audit
        .lines()
        .map(|line| line.split_whitespace().nth(1).unwrap().trim_end_matches(':'))
        .collect();
    assert_eq!(
        kinds,
        [
            "blocked_after_rollback",
            "override_created",
            "override_revoked",
            "unblocked"
        ],
        "{audit}"
    );
    assert!(audit.contains("root cause fixed (by arn:aws:"), "{audit}");
}

#[test]
fn check_reports_each_blocker_and_fails_closed_when_it_cannot_read_alarms() {
    let moto = Moto::start();
    let cli = Cli { moto: &moto };
    let dir = TempDir::new("check-cli");
    let open = dir.join("open.json");
    std::fs::write(
        &open,
        r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]}}"#,
    )
    .unwrap();
    let (code, stdout, _) = cli.run(&["check", "--policy", open.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("time-window-gate: proceed — open:")
            && stdout.trim_end().ends_with("=> a deployment may start now"),
        "{stdout}"
    );

    let closed = dir.join("closed.json");
    std::fs::write(&closed, r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "min_time_left": "2h"}}"#).unwrap();
    let (code, stdout, _) = cli.run(&["check", "--policy", closed.to_str().unwrap()]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("time-window-gate: block — closed: outside the allowed windows; no opening within 366 days"),
        "{stdout}"
    );

    // A named alarm that does not exist blocks (read through the harness's CloudWatch bridge).
    let alarms = dir.join("alarms.json");
    std::fs::write(&alarms, r#"{"alarms": {"watch": [{"names": ["orders-high-sev"]}]}}"#).unwrap();
    let (code, stdout, stderr) = cli.run(&["check", "--policy", alarms.to_str().unwrap()]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stdout.contains("alarm orders-high-sev not found in this account"),
        "{stdout}"
    );

    // When CloudWatch cannot be reached, check fails closed and says which call failed.
    let (code, stdout, stderr) = cli.run_at("http://127.0.0.1:9", &["check", "--policy", alarms.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("alarm-blocker: cannot decide, so it blocks: cloudwatch:DescribeAlarms"),
        "{stderr}"
    );
}

//! The end-to-end scenarios on the local stack (moto_server + cargo lambda watch + the router):
//! the six real function binaries, through the real state machines. Each test starts and tears
//! down its own stack.

use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use handsoff_e2e::scenarios::{self, World, verdicts};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn healthy_wave_passes_every_gate_and_succeeds() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let run = scenarios::healthy(&world).await.unwrap();
        assert_eq!(run.status, "SUCCEEDED", "{}\n{}", run.timeline(), world.stack.output());
        let verdicts = verdicts(&run);
        assert_eq!(verdicts["alarm-blocker"], ["proceed"], "{}", run.timeline());
        assert_eq!(verdicts["time-window-gate"], ["proceed"]);
        // The bake waits out its 10 seconds, then passes with the floor met.
        assert_eq!(verdicts["bake-time-waiter"].first().map(String::as_str), Some("wait"));
        assert_eq!(verdicts["bake-time-waiter"].last().map(String::as_str), Some("proceed"));
        assert_eq!(verdicts["canary-evaluator"], ["pass"], "{}", run.timeline());
        assert!(!verdicts.contains_key("rollback-trigger"));
        // One event: the stage passed (announced by the state machine).
        let published = world.events.drain().await.unwrap();
        assert_eq!(published.len(), 1, "{published:?}");
        assert_eq!(published[0].detail_type, "Handsoff Stage Passed");
        // And one deployment counted, as an EMF metric.
        assert_eq!(
            world.stack.output().matches("\"Deployments\":1").count(),
            1,
            "{}",
            world.stack.output()
        );
        assert_eq!(
            (&published[0].detail["pipeline"], &published[0].detail["stage"]),
            (&"orders".into(), &"Prod-1".into())
        );
        let (primary, one_box) = world.alias().await.unwrap();
        assert_eq!(
            (primary, one_box.map(|(version, _)| version)),
            (world.old_version.clone(), Some(world.new_version.clone()))
        );
    });
}

#[test]
fn an_alarm_during_bake_rolls_back_and_blocks_the_stage_until_unblocked() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let run = scenarios::alarm_during_bake(&world).await.unwrap();
        assert_eq!(
            (run.status.as_str(), run.error.as_deref()),
            ("FAILED", Some("Handsoff.RolledBack")),
            "{}\n{}",
            run.timeline(),
            world.stack.output()
        );
        let cause = run.cause.clone().unwrap_or_default();
        assert!(cause.contains(scenarios::ONEBOX_ALARM), "{cause}");
        assert_eq!(verdicts(&run)["rollback-trigger"].len(), 1, "{}", run.timeline());
        // The alias is back on the old version, with no traffic to the new one.
        let (primary, one_box) = world.alias().await.unwrap();
        assert_eq!((primary, one_box), (world.old_version.clone(), None));

        // The alarm recovers, but the stage stays blocked until someone unblocks it.
        world
            .set_alarm(scenarios::ONEBOX_ALARM, StateValue::Ok, "recovered")
            .await
            .unwrap();
        let (error_type, message) = scenarios::alarm_blocker_says(&world, "Prod-1").unwrap_err();
        assert_eq!(error_type, "Blocked", "{message}");
        assert!(message.contains("rolled back"), "{message}");
        // The rollback, then the refused deployment, each announced once, with how to go on.
        let published = world.events.drain().await.unwrap();
        let kinds: Vec<&str> = published.iter().map(|seen| seen.detail_type.as_str()).collect();
        assert_eq!(
            kinds,
            ["Handsoff Rollback Completed", "Handsoff Stage Blocked"],
            "{published:?}"
        );
        assert_eq!(published[0].detail["gate"], "rollback-trigger");
        assert_eq!(world.stack.output().matches("\"Rollbacks\":1").count(), 1);
        assert!(
            published[0].detail["reason"]
                .as_str()
                .unwrap()
                .contains("back on version"),
            "{published:?}"
        );
        assert_eq!(
            published[1].detail["links"]["unblock"],
            "handsoff unblock --pipeline orders --stage Prod-1 --reason \"...\""
        );
        let (code, output) = world.handsoff(&[
            "unblock",
            "--pipeline",
            "orders",
            "--stage",
            "Prod-1",
            "--reason",
            "fix deployed and verified",
        ]);
        assert_eq!(code, 0, "{output}");
        let decision = scenarios::alarm_blocker_says(&world, "Prod-1").unwrap();
        assert_eq!(decision["decision"], "proceed", "{decision}");
        let published = world.events.drain().await.unwrap();
        assert_eq!(published.len(), 1, "{published:?}");
        assert_eq!(published[0].detail_type, "Handsoff Stage Unblocked");
        assert_eq!(published[0].detail["reason"], "fix deployed and verified");
        assert!(
            published[0].detail["who"]
                .as_str()
                .unwrap_or_default()
                .starts_with("arn:aws:"),
            "{published:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}

#[test]
fn a_firing_alarm_blocks_until_overridden_and_the_audit_trail_shows_both() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let (run, audit) = scenarios::override_a_firing_alarm(&world).await.unwrap();
        assert_eq!(run.status, "SUCCEEDED", "{}\n{}", run.timeline(), world.stack.output());
        let blocker = run.decisions_of("alarm-blocker");
        assert_eq!(blocker[0]["decision"], "wait", "{}", run.timeline());
        assert!(
            blocker[0]["reasons"][0]
                .as_str()
                .unwrap()
                .contains("orders-high-sev is ALARM"),
            "{}",
            run.timeline()
        );
        let last = blocker.last().unwrap();
        assert_eq!(last["decision"], "proceed", "{}", run.timeline());
        assert!(last.to_string().contains("shipping the fix for INC-7"), "{last}");
        // The audit trail has the block, the override with its reason, and the decision it allowed.
        assert!(audit.contains("wait"), "{audit}");
        assert!(audit.contains("override"), "{audit}");
        assert!(audit.contains("shipping the fix for INC-7"), "{audit}");
        assert!(audit.contains("proceed"), "{audit}");
        // Revoking the override is announced too, with who revoked it.
        let id = audit
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .find(|word| word.starts_with("ov-"))
            .unwrap_or_else(|| panic!("no override id in the audit trail: {audit}"))
            .to_string();
        // Its expiry waits in EventBridge Scheduler, to publish `Handsoff Override Expired` then.
        let scheduler = aws_sdk_scheduler::Client::new(&world.stack.sdk_config());
        let schedule = scheduler
            .get_schedule()
            .name(format!("handsoff-override-{id}"))
            .send()
            .await
            .unwrap();
        assert!(
            schedule.schedule_expression().unwrap_or_default().starts_with("at(20"),
            "{schedule:?}"
        );
        let input = schedule.target().and_then(|target| target.input()).unwrap_or_default();
        assert!(
            input.contains("Handsoff Override Expired") && input.contains(&id),
            "{input}"
        );
        let (code, said) = world.handsoff(&["override", "revoke", &id, "--reason", "fix shipped"]);
        assert_eq!(code, 0, "{said}");
        // Revoked: nothing will expire.
        assert!(
            scheduler
                .get_schedule()
                .name(format!("handsoff-override-{id}"))
                .send()
                .await
                .is_err()
        );
        // The wait that started, the override and its revocation, and the stage passing: once each.
        let counts = world.events.count().await.unwrap();
        let expected: std::collections::BTreeMap<String, usize> = [
            ("Handsoff Wait Started", 1),
            ("Handsoff Override Created", 1),
            ("Handsoff Override Revoked", 1),
            ("Handsoff Stage Passed", 1),
        ]
        .into_iter()
        .map(|(kind, count)| (kind.to_string(), count))
        .collect();
        assert_eq!(counts, expected);
    });
}

#[test]
fn a_window_opening_shortly_is_waited_for_then_the_wave_proceeds() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let (run, opens) = scenarios::window_opening_shortly(&world).await.unwrap();
        assert_eq!(run.status, "SUCCEEDED", "{}\n{}", run.timeline(), world.stack.output());
        let window = run.decisions_of("time-window-gate");
        assert_eq!(window[0]["decision"], "wait", "{}", run.timeline());
        assert_eq!(
            window[0]["wait_until"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap(),
            opens
        );
        assert_eq!(window.last().unwrap()["decision"], "proceed");
        assert!(run.entered.iter().any(|state| state == "WaitForWindow"));
        // moto's Wait sleeps int(wait_until - now) seconds: up to a second early.
        assert!(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1) >= opens);
    });
}

#[test]
fn a_canary_with_five_times_the_errors_fails_and_is_rolled_back() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let run = scenarios::bad_canary(&world).await.unwrap();
        assert_eq!(
            run.error.as_deref(),
            Some("Handsoff.RolledBack"),
            "{}\n{}",
            run.timeline(),
            world.stack.output()
        );
        assert_eq!(verdicts(&run)["canary-evaluator"], ["fail"], "{}", run.timeline());
        assert!(run.cause.unwrap_or_default().starts_with("canary-evaluator: "));
        // Its verdict is in the stage's trail: status shows it with each check's p-value.
        let (code, json) = world.handsoff(&["status", "--json", "--pipeline", "orders"]);
        assert_eq!(code, 0, "{json}");
        let status: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        let canary = &status["stages"][0]["canary"];
        assert_eq!(canary["decision"], "fail", "{status}");
        let errors = canary["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["name"] == "errors")
            .unwrap();
        assert!(errors["p_value"].as_f64().is_some_and(|p| p < 0.001), "{canary}");
        let (primary, one_box) = world.alias().await.unwrap();
        assert_eq!((primary, one_box), (world.old_version.clone(), None));
    });
}

#[test]
fn post_stage_validation_runs_the_stages_suites_and_names_the_failing_test() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let target = handsoff_e2e::TargetServer::start();
        let dir = handsoff_e2e::TempDir::new("scenario-suites");
        let run = scenarios::post_stage_validation(&world, &target.base_url(), &dir).await.unwrap();
        assert_eq!(
            (run.status.as_str(), run.error.as_deref()),
            ("FAILED", Some("Handsoff.ValidationFailed")),
            "{}\n{}",
            run.timeline(),
            world.stack.output()
        );
        assert_eq!(
            run.cause.as_deref(),
            Some(r#"Validation failed for orders/Beta: ["dependencies / payments reachable: status: expected 200, got 503"]"#)
        );
        assert_eq!(target.requests("/good").len(), 1);
        assert_eq!(target.requests("/wrong-status").len(), 1);
    });
}

/// The bake judges the one-box at every poll: errors that start mid-bake are rolled back at the
/// next poll by the sequential test, with its evidence, not after the whole bake.
#[test]
fn errors_that_start_mid_bake_are_rolled_back_by_the_bake_at_its_next_poll() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let run = scenarios::errors_start_mid_bake(&world).await.unwrap();
        assert_eq!(
            (run.status.as_str(), run.error.as_deref()),
            ("FAILED", Some("Handsoff.RolledBack")),
            "{}\n{}",
            run.timeline(),
            world.stack.output()
        );
        let cause = run.cause.clone().unwrap_or_default();
        assert!(
            cause.starts_with("bake-time-waiter: ") && cause.contains("the one-box's error rate is"),
            "{cause}"
        );
        let verdicts = verdicts(&run);
        assert_eq!(
            verdicts["bake-time-waiter"].last().map(String::as_str),
            Some("rollback")
        );
        assert!(
            !verdicts.contains_key("canary-evaluator"),
            "the bake decided: {}",
            run.timeline()
        );
        let bake = run.decisions_of("bake-time-waiter");
        let judged = &bake.last().unwrap()["evidence"]["sequential"];
        assert_eq!(judged["verdict"], "fail", "{judged}");
        assert!(judged["e_value"].as_f64().unwrap() >= judged["threshold"].as_f64().unwrap());
        let (primary, one_box) = world.alias().await.unwrap();
        assert_eq!((primary, one_box), (world.old_version.clone(), None));
    });
}

/// EventBridge refuses every event: the wave is still rolled back and the stage still blocked,
/// exactly as when it answers; the functions log that the events were not published.
#[test]
fn events_that_cannot_be_published_change_no_decision() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        world.stack.aws.inject("PutEvents", handsoff_e2e::Fault::ServerError);
        let run = scenarios::alarm_during_bake(&world).await.unwrap();
        assert_eq!(
            (run.status.as_str(), run.error.as_deref()),
            ("FAILED", Some("Handsoff.RolledBack")),
            "{}\n{}",
            run.timeline(),
            world.stack.output()
        );
        let (primary, one_box) = world.alias().await.unwrap();
        assert_eq!((primary, one_box), (world.old_version.clone(), None));
        let (error_type, _) = scenarios::alarm_blocker_says(&world, "Prod-1").unwrap_err();
        assert_eq!(error_type, "Blocked");
        world.stack.aws.clear_faults();
        assert_eq!(world.events.drain().await.unwrap(), []);
        let output = world.stack.output();
        assert!(output.contains("events not published; the decision stands"), "{output}");
        assert!(output.contains("\"EventsNotPublished\":1"), "{output}");
    });
}

//! statemachines/safe-stage.asl.json on moto's Step Functions interpreter, with the gates'
//! answers scripted behind moto's Lambda endpoint: each path of the wave ends as it should, and
//! the gates get the policy and the context they need. (The real binaries behind it are the
//! local-stack scenarios.)

mod sfn;

use std::collections::BTreeSet;

use handsoff_e2e::{Answer, MotoWithLambdas};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

const ASL: &str = include_str!("../../statemachines/safe-stage.asl.json");

const FUNCTIONS: [(&str, &str); 5] = [
    ("AlarmBlockerArn", "alarm-blocker"),
    ("TimeWindowGateArn", "time-window-gate"),
    ("BakeTimeWaiterArn", "bake-time-waiter"),
    ("CanaryEvaluatorArn", "canary-evaluator"),
    ("RollbackTriggerArn", "rollback-trigger"),
];

fn definition() -> String {
    FUNCTIONS
        .iter()
        .fold(ASL.replace("${EventBusName}", "default"), |text, (key, name)| {
            text.replace(
                &format!("${{{key}}}"),
                &format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            )
        })
}

fn input() -> Value {
    json!({"pipeline": "orders", "stage": "Prod-1", "policy": {"bake": {"min_duration": "1h"}}})
}

fn decision(gate: &str, verdict: &str) -> Answer {
    Answer::Ok(
        json!({"gate": gate, "decision": verdict, "reasons": [format!("{gate} says {verdict}")], "evidence": {}}),
    )
}

fn waiting(gate: &str, verdict: &str, seconds: i64) -> Answer {
    // Whole seconds, as the gates answer (Decision::waiting_until).
    let until = Timestamp::from_second(Timestamp::now().as_second() + seconds).unwrap();
    Answer::Ok(
        json!({"gate": gate, "decision": verdict, "reasons": [format!("{gate} says {verdict}")],
        "wait_until": until.to_string(), "evidence": {}}),
    )
}

fn healthy(stack: &MotoWithLambdas) {
    stack.script("alarm-blocker", vec![decision("alarm-blocker", "proceed")]);
    stack.script("time-window-gate", vec![decision("time-window-gate", "proceed")]);
    stack.script("bake-time-waiter", vec![decision("bake-time-waiter", "proceed")]);
    stack.script("canary-evaluator", vec![decision("canary-evaluator", "pass")]);
    stack.script("rollback-trigger", vec![decision("rollback-trigger", "rollback")]);
}

fn count(stack: &MotoWithLambdas, function: &str) -> usize {
    stack.calls_to(function).len()
}

#[test]
fn the_definition_is_well_formed_and_substitutes_only_the_five_functions_and_the_bus() {
    let parsed: Value = serde_json::from_str(ASL).unwrap();
    sfn::check_targets(
        parsed["States"].as_object().unwrap(),
        parsed["StartAt"].as_str().unwrap(),
    );
    let mut expected: BTreeSet<String> = FUNCTIONS.iter().map(|(key, _)| key.to_string()).collect();
    expected.insert("EventBusName".to_string());
    assert_eq!(sfn::substitutions(ASL), expected);
}

#[tokio::test]
async fn a_healthy_wave_passes_every_gate_once_and_never_rolls_back() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(ended.status, "SUCCEEDED", "{ended:?}");
    for gate in [
        "alarm-blocker",
        "time-window-gate",
        "bake-time-waiter",
        "canary-evaluator",
    ] {
        assert_eq!(count(&stack, gate), 1, "{gate}");
    }
    assert_eq!(count(&stack, "rollback-trigger"), 0);
    let sent = &stack.calls_to("bake-time-waiter")[0];
    assert_eq!(sent["policy"], input()["policy"]);
    assert_eq!(
        (sent["context"]["pipeline"].clone(), sent["context"]["stage"].clone()),
        (json!("orders"), json!("Prod-1"))
    );
    assert!(
        sent["context"]["execution_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{sent}"
    );
}

#[tokio::test]
async fn a_closed_window_is_waited_out_and_the_blockers_asked_again() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    let opens = Timestamp::from_second(Timestamp::now().as_second() + 3).unwrap();
    stack.script(
        "time-window-gate",
        vec![
            Answer::Ok(
                json!({"gate": "time-window-gate", "decision": "wait", "reasons": ["closed"],
                "wait_until": opens.to_string(), "evidence": {}}),
            ),
            decision("time-window-gate", "proceed"),
        ],
    );
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(ended.status, "SUCCEEDED", "{ended:?}");
    // The blockers were asked again only once the window's opening had come. moto's Wait sleeps
    // int(wait_until - now) seconds, so it may wake up to a second early; Step Functions does not.
    assert!(
        Timestamp::now() + jiff::SignedDuration::from_secs(1) >= opens,
        "the execution did not wait until {opens}: now {}, took {:?}",
        Timestamp::now(),
        ended.took
    );
    assert!(
        ended.history.iter().any(|entered| entered.starts_with("WaitForWindow")),
        "{:?}",
        ended.history
    );
    assert_eq!(
        (count(&stack, "time-window-gate"), count(&stack, "alarm-blocker")),
        (2, 2)
    );
    assert_eq!(count(&stack, "bake-time-waiter"), 1);
}

#[tokio::test]
async fn a_blocked_stage_fails_before_anything_is_baked() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script(
        "alarm-blocker",
        vec![Answer::error(
            "Blocked",
            "alarm-blocker: orders-high-sev is in ALARM (when_blocked: fail)",
        )],
    );
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(
        (ended.status.as_str(), ended.error.as_deref()),
        ("FAILED", Some("Handsoff.Blocked")),
        "{ended:?}"
    );
    assert!(ended.cause.unwrap_or_default().contains("orders-high-sev is in ALARM"));
    assert_eq!(count(&stack, "bake-time-waiter") + count(&stack, "rollback-trigger"), 0);
}

#[tokio::test]
async fn an_alarm_during_bake_rolls_back_once_and_fails_with_the_reason() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script(
        "bake-time-waiter",
        vec![
            waiting("bake-time-waiter", "wait", 1),
            Answer::Ok(json!({"gate": "bake-time-waiter", "decision": "rollback",
                "reasons": ["orders-5xx went to ALARM at 10:42 during the bake"], "evidence": {}})),
        ],
    );
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(
        (ended.status.as_str(), ended.error.as_deref()),
        ("FAILED", Some("Handsoff.RolledBack")),
        "{ended:?}"
    );
    let cause = ended.cause.unwrap_or_default();
    assert!(
        cause.starts_with("bake-time-waiter: ") && cause.contains("orders-5xx went to ALARM"),
        "{cause}"
    );
    assert_eq!(count(&stack, "bake-time-waiter"), 2);
    assert_eq!(count(&stack, "canary-evaluator"), 0);
    let rollbacks = stack.calls_to("rollback-trigger");
    assert_eq!(rollbacks.len(), 1);
    assert_eq!(rollbacks[0]["context"]["reason"], json!(cause));
    assert_eq!(rollbacks[0]["context"]["stage"], json!("Prod-1"));
}

#[tokio::test]
async fn a_failing_canary_rolls_back_and_an_inconclusive_one_is_looked_at_a_bounded_number_of_times() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script("canary-evaluator", vec![decision("canary-evaluator", "fail")]);
    let ended = sfn::run(&stack.moto, "safe-stage-fail", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.RolledBack"), "{ended:?}");
    assert!(ended.cause.unwrap_or_default().contains("canary-evaluator says fail"));
    assert_eq!(count(&stack, "rollback-trigger"), 1);

    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script("canary-evaluator", vec![waiting("canary-evaluator", "inconclusive", 0)]);
    let ended = sfn::run(&stack.moto, "safe-stage-inconclusive", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.RolledBack"), "{ended:?}");
    assert!(
        ended
            .cause
            .unwrap_or_default()
            .contains("still inconclusive after 6 looks")
    );
    assert_eq!(count(&stack, "canary-evaluator"), 6);
    assert_eq!(count(&stack, "rollback-trigger"), 1);
}

#[tokio::test]
async fn a_gates_own_error_fails_without_rolling_back_and_transient_ones_are_retried() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script(
        "canary-evaluator",
        vec![Answer::error(
            "PolicyInvalid",
            "policy is invalid: canary.metrics: at least one metric",
        )],
    );
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.GateFailed"), "{ended:?}");
    assert!(ended.cause.unwrap_or_default().contains("canary.metrics"));
    assert_eq!(count(&stack, "rollback-trigger"), 0);

    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script(
        "bake-time-waiter",
        vec![
            Answer::error("DependencyUnavailable", "cloudwatch:GetMetricData was throttled"),
            decision("bake-time-waiter", "proceed"),
        ],
    );
    let ended = sfn::run(&stack.moto, "safe-stage-retry", &definition(), &input()).await;
    assert_eq!(ended.status, "SUCCEEDED", "{ended:?}");
    assert_eq!(count(&stack, "bake-time-waiter"), 2);
}

#[tokio::test]
async fn an_unknown_decision_never_proceeds() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script("time-window-gate", vec![decision("time-window-gate", "maybe")]);
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.UnexpectedDecision"), "{ended:?}");
    assert_eq!(count(&stack, "bake-time-waiter"), 0);
}

fn bake_says_rollback(stack: &MotoWithLambdas) {
    stack.script(
        "bake-time-waiter",
        vec![Answer::Ok(json!({"gate": "bake-time-waiter", "decision": "rollback",
            "reasons": ["orders-5xx went to ALARM during the bake"], "evidence": {}}))],
    );
}

/// Before, the RollBack state went to RolledBack whatever the trigger answered: a trigger
/// answering `wait` (another invocation holds the claim) ended "rolled back" with the one-box
/// still taking traffic.
#[tokio::test]
async fn only_the_triggers_rollback_ends_rolled_back_and_wait_is_asked_again() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    bake_says_rollback(&stack);
    stack.script(
        "rollback-trigger",
        vec![
            waiting("rollback-trigger", "wait", 0),
            decision("rollback-trigger", "rollback"),
        ],
    );
    let ended = sfn::run(&stack.moto, "safe-stage-wait", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.RolledBack"), "{ended:?}");
    assert_eq!(count(&stack, "rollback-trigger"), 2);
    assert!(
        ended
            .history
            .iter()
            .any(|entered| entered.starts_with("WaitForRollback")),
        "{:?}",
        ended.history
    );
}

#[tokio::test]
async fn a_trigger_that_never_finishes_or_answers_anything_else_is_a_failed_rollback() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    bake_says_rollback(&stack);
    stack.script("rollback-trigger", vec![waiting("rollback-trigger", "wait", 0)]);
    let ended = sfn::run(&stack.moto, "safe-stage-stuck", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.RollbackFailed"), "{ended:?}");
    let cause = ended.cause.unwrap_or_default();
    assert!(
        cause.contains("still answered wait with no look left") && cause.contains("rollback-trigger says wait"),
        "{cause}"
    );
    assert_eq!(
        count(&stack, "rollback-trigger"),
        13,
        "bounded: one call and 12 looks again"
    );

    for answer in ["proceed", "pass", "maybe"] {
        let stack = MotoWithLambdas::start();
        healthy(&stack);
        bake_says_rollback(&stack);
        stack.script("rollback-trigger", vec![decision("rollback-trigger", answer)]);
        let ended = sfn::run(&stack.moto, &format!("safe-stage-{answer}"), &definition(), &input()).await;
        assert_eq!(
            ended.error.as_deref(),
            Some("Handsoff.RollbackFailed"),
            "{answer}: {ended:?}"
        );
        let cause = ended.cause.unwrap_or_default();
        assert!(
            cause.contains("answered something other than rollback") && cause.contains(answer),
            "{cause}"
        );
        assert_eq!(count(&stack, "rollback-trigger"), 1, "{answer}");
    }
}

/// max_wait needs to know when waiting began: every gate's context carries the execution's start.
#[tokio::test]
async fn the_gates_learn_when_the_execution_began_waiting() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    let before = Timestamp::now() - SignedDuration::from_secs(5);
    let ended = sfn::run(&stack.moto, "safe-stage-since", &definition(), &input()).await;
    assert_eq!(ended.status, "SUCCEEDED", "{ended:?}");
    for gate in ["alarm-blocker", "time-window-gate"] {
        let sent = &stack.calls_to(gate)[0];
        let since: Timestamp = sent["context"]["waiting_since"]
            .as_str()
            .unwrap_or_else(|| panic!("{gate}: no waiting_since in {sent}"))
            .parse()
            .unwrap();
        assert!(since >= before && since <= Timestamp::now(), "{gate}: {since}");
    }
}

/// The state machine announces how it ended when no gate could: a gate's failure that ends the
/// execution, and a rollback it cannot confirm; a publish that fails changes neither ending.
#[tokio::test]
async fn a_gate_failure_and_an_unconfirmed_rollback_are_announced_once() {
    let stack = MotoWithLambdas::start();
    let tap = handsoff_e2e::event_tap::EventTap::start(&stack.moto.sdk_config(), "safe-stage-events")
        .await
        .unwrap();
    healthy(&stack);
    stack.script(
        "bake-time-waiter",
        vec![Answer::error("PolicyInvalid", "bake.duration: missing")],
    );
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.GateFailed"), "{ended:?}");
    let published = tap.drain().await.unwrap();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].detail_type, "Handsoff Gate Failed");
    assert_eq!(published[0].detail["stage"], "Prod-1");
    assert!(
        published[0].detail["reason"]
            .as_str()
            .unwrap()
            .contains("bake.duration: missing"),
        "{published:?}"
    );

    let stack = MotoWithLambdas::start();
    let tap = handsoff_e2e::event_tap::EventTap::start(&stack.moto.sdk_config(), "safe-stage-events")
        .await
        .unwrap();
    healthy(&stack);
    stack.script("canary-evaluator", vec![decision("canary-evaluator", "fail")]);
    stack.script("rollback-trigger", vec![decision("rollback-trigger", "proceed")]);
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.RollbackFailed"), "{ended:?}");
    let published = tap.drain().await.unwrap();
    assert_eq!(
        published
            .iter()
            .map(|seen| seen.detail_type.as_str())
            .collect::<Vec<_>>(),
        ["Handsoff Rollback Failed"]
    );

    // EventBridge down: the same ending, nothing published.
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script(
        "bake-time-waiter",
        vec![Answer::error("PolicyInvalid", "bake.duration: missing")],
    );
    stack.inject("PutEvents", handsoff_e2e::Fault::ServerError);
    let ended = sfn::run(&stack.moto, "safe-stage", &definition(), &input()).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.GateFailed"), "{ended:?}");
    assert!(
        ended.history.iter().any(|line| line.starts_with("AnnounceGateFailed")),
        "{:?}",
        ended.history
    );
}

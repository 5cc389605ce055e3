//! statemachines/safe-region.asl.json on moto's Step Functions interpreter: the gates' answers
//! are scripted behind moto's Lambda endpoint, and the alias moves are real (Step Functions'
//! Lambda SDK integration against moto). Every path ends where it should, with the alias where
//! it should be.

mod sfn;

use std::collections::BTreeSet;

use handsoff_e2e::Answer;
use handsoff_e2e::MotoWithLambdas;
use handsoff_e2e::release::{alias_of, create_service, lambda_in, safe_region_definition, ship_new_code};
use jiff::Timestamp;
use serde_json::{Value, json};

const ASL: &str = include_str!("../../statemachines/safe-region.asl.json");
const FUNCTION: &str = "orders-api";

fn input() -> Value {
    json!({
        "pipeline": "orders", "stage": "Wave-2", "region": "us-east-1",
        "target": {"function_name": FUNCTION, "alias": "live", "one_box_weight": 0.1},
        "policy": {"bake": {"duration": "1h"}},
        "fleet_policy": {"bake": {"duration": "4h"}}
    })
}

fn decision(gate: &str, verdict: &str) -> Answer {
    Answer::Ok(
        json!({"gate": gate, "decision": verdict, "reasons": [format!("{gate} says {verdict}")], "evidence": {}}),
    )
}

fn waiting(gate: &str, seconds: i64) -> Answer {
    // Whole seconds, as the gates answer (Decision::waiting_until).
    let until = Timestamp::from_second(Timestamp::now().as_second() + seconds).unwrap();
    Answer::Ok(
        json!({"gate": gate, "decision": "wait", "reasons": ["not yet"], "wait_until": until.to_string(), "evidence": {}}),
    )
}

/// Every gate says go; the rollback trigger, if asked, says it rolled back.
fn healthy(stack: &MotoWithLambdas) {
    stack.script("alarm-blocker", vec![decision("alarm-blocker", "proceed")]);
    stack.script("time-window-gate", vec![decision("time-window-gate", "proceed")]);
    stack.script("bake-time-waiter", vec![decision("bake-time-waiter", "proceed")]);
    stack.script("canary-evaluator", vec![decision("canary-evaluator", "pass")]);
    stack.script("rollback-trigger", vec![decision("rollback-trigger", "rollback")]);
}

/// A service on version 1 with new code shipped to $LATEST, as after the stack deploy.
async fn service(stack: &MotoWithLambdas, new_code: bool) -> aws_sdk_lambda::Client {
    let lambda = lambda_in(&stack.moto.sdk_config(), "us-east-1");
    let role = stack.moto.create_iam_role("orders-api");
    create_service(&lambda, &role, FUNCTION, "live").await.unwrap();
    if new_code {
        ship_new_code(&lambda, FUNCTION).await.unwrap();
    }
    lambda
}

async fn run(stack: &MotoWithLambdas) -> sfn::Ended {
    sfn::run(
        &stack.moto,
        "safe-region",
        &safe_region_definition("us-east-1"),
        &input(),
    )
    .await
}

fn count(stack: &MotoWithLambdas, function: &str) -> usize {
    stack.calls_to(function).len()
}

fn entered(ended: &sfn::Ended, state: &str) -> bool {
    ended
        .history
        .iter()
        .any(|line| line.split(" <- ").next() == Some(state))
}

#[test]
fn the_definition_is_well_formed_and_substitutes_only_the_five_functions_and_the_bus() {
    let parsed: Value = serde_json::from_str(ASL).unwrap();
    sfn::check_targets(
        parsed["States"].as_object().unwrap(),
        parsed["StartAt"].as_str().unwrap(),
    );
    let expected: BTreeSet<String> = [
        "AlarmBlockerArn",
        "TimeWindowGateArn",
        "BakeTimeWaiterArn",
        "CanaryEvaluatorArn",
        "RollbackTriggerArn",
        "EventBusName",
    ]
    .iter()
    .map(|key| key.to_string())
    .collect();
    assert_eq!(sfn::substitutions(ASL), expected);
}

#[tokio::test]
async fn a_healthy_region_goes_one_box_then_wholly_to_the_new_version() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    let lambda = service(&stack, true).await;
    let ended = run(&stack).await;
    assert_eq!(ended.status, "SUCCEEDED", "{ended:?}");
    assert!(
        entered(&ended, "OneBox") && entered(&ended, "Promote") && entered(&ended, "FleetBake"),
        "{:?}",
        ended.history
    );
    assert_eq!(
        alias_of(&lambda, FUNCTION, "live").await.unwrap(),
        ("2".to_string(), None)
    );
    // Two bakes, each its own session: the one-box with the policy, the fleet with its own.
    let bakes = stack.calls_to("bake-time-waiter");
    assert_eq!(bakes.len(), 2);
    assert_eq!(bakes[0]["policy"], input()["policy"]);
    assert_eq!(bakes[1]["policy"], input()["fleet_policy"]);
    let first = bakes[0]["context"]["execution_id"].as_str().unwrap().to_string();
    assert_eq!(bakes[1]["context"]["execution_id"], json!(format!("{first}-fleet")));
    assert_eq!(bakes[0]["context"]["stage"], json!("Wave-2"));
    assert_eq!(count(&stack, "canary-evaluator"), 1);
    assert_eq!(count(&stack, "rollback-trigger"), 0);
}

#[tokio::test]
async fn the_one_box_takes_the_weight_while_it_bakes() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    let lambda = service(&stack, true).await;
    // The bake asks to wait once: the alias is looked at while the execution waits.
    stack.script(
        "bake-time-waiter",
        vec![waiting("bake-time-waiter", 3), decision("bake-time-waiter", "proceed")],
    );
    let watch = async {
        for _ in 0..300 {
            let alias = alias_of(&lambda, FUNCTION, "live").await.unwrap();
            if alias.1.is_some() {
                return Some(alias);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    };
    let (ended, seen) = tokio::join!(run(&stack), watch);
    assert_eq!(seen, Some(("1".to_string(), Some(("2".to_string(), 0.1)))));
    assert_eq!(ended.status, "SUCCEEDED", "{ended:?}");
    assert_eq!(
        alias_of(&lambda, FUNCTION, "live").await.unwrap(),
        ("2".to_string(), None)
    );
}

#[tokio::test]
async fn nothing_new_to_release_succeeds_without_touching_the_alias() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    let lambda = service(&stack, false).await;
    let ended = run(&stack).await;
    assert_eq!(ended.status, "SUCCEEDED", "{ended:?}");
    assert!(entered(&ended, "NothingToRelease"), "{:?}", ended.history);
    assert_eq!(
        alias_of(&lambda, FUNCTION, "live").await.unwrap(),
        ("1".to_string(), None)
    );
    assert_eq!(
        (count(&stack, "bake-time-waiter"), count(&stack, "rollback-trigger")),
        (0, 0)
    );
}

#[tokio::test]
async fn a_blocked_region_changes_nothing_and_rolls_nothing_back() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script(
        "alarm-blocker",
        vec![Answer::error("Blocked", "orders-us-east-1-high-sev is in ALARM")],
    );
    let lambda = service(&stack, true).await;
    let ended = run(&stack).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.Blocked"), "{ended:?}");
    assert!(!entered(&ended, "Publish"), "{:?}", ended.history);
    assert_eq!(
        alias_of(&lambda, FUNCTION, "live").await.unwrap(),
        ("1".to_string(), None)
    );
    assert_eq!(count(&stack, "rollback-trigger"), 0);
}

#[tokio::test]
async fn an_alias_that_cannot_be_read_fails_before_anything_moves() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    // No service at all: GetAlias answers ResourceNotFound.
    let ended = run(&stack).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.GateFailed"), "{ended:?}");
    assert!(
        entered(&ended, "ReadAlias") && !entered(&ended, "OneBox"),
        "{:?}",
        ended.history
    );
    assert_eq!(count(&stack, "rollback-trigger"), 0);
}

/// A region released with every gate healthy but `gate`, which answers `answers`: it must end
/// rolled back, to version 1, for a reason that says `reason_has`.
async fn rolls_back_when(gate: &str, answers: Vec<Answer>, reason_has: &str) -> sfn::Ended {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script(gate, answers);
    let _lambda = service(&stack, true).await;
    let ended = run(&stack).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.RolledBack"), "{ended:?}");
    assert_rolls_back_to_version_1(&stack, reason_has);
    ended
}

/// The rollback trigger's payload: the alias back on the version it served before.
fn assert_rolls_back_to_version_1(stack: &MotoWithLambdas, reason_has: &str) {
    let calls = stack.calls_to("rollback-trigger");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0]["policy"],
        json!({"rollback": {"actions": [{"lambda_alias": {"function_name": FUNCTION, "alias": "live", "to_version": "1"}}]}})
    );
    let reason = calls[0]["context"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(reason_has), "{reason}");
    assert_eq!(calls[0]["context"]["stage"], json!("Wave-2"));
}

#[tokio::test]
async fn a_failing_canary_rolls_the_alias_back_to_the_version_it_served() {
    let ended = rolls_back_when(
        "canary-evaluator",
        vec![decision("canary-evaluator", "fail")],
        "canary-evaluator says fail",
    )
    .await;
    assert!(!entered(&ended, "Promote"), "{:?}", ended.history);
}

#[tokio::test]
async fn a_fleet_bake_that_says_rollback_rolls_back_after_the_promotion() {
    let answers = vec![
        decision("bake-time-waiter", "proceed"),
        decision("bake-time-waiter", "rollback"),
    ];
    let ended = rolls_back_when("bake-time-waiter", answers, "bake-time-waiter (fleet)").await;
    assert!(
        entered(&ended, "Promote") && entered(&ended, "FleetSaysRollBack"),
        "{:?}",
        ended.history
    );
}

#[tokio::test]
async fn a_gate_error_after_the_one_box_rolls_back_rather_than_leave_it_serving() {
    let failed = Answer::error("PolicyInvalid", "bake.min_datapoints[0].stat: p99 is not a count");
    rolls_back_when("bake-time-waiter", vec![failed], "p99 is not a count").await;
}

#[tokio::test]
async fn an_unexpected_decision_after_the_one_box_rolls_back() {
    rolls_back_when(
        "canary-evaluator",
        vec![decision("canary-evaluator", "maybe")],
        "does not handle",
    )
    .await;
}

#[tokio::test]
async fn a_rollback_the_trigger_does_not_confirm_fails_as_rollback_failed() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    stack.script("canary-evaluator", vec![decision("canary-evaluator", "fail")]);
    stack.script("rollback-trigger", vec![decision("rollback-trigger", "proceed")]);
    let _lambda = service(&stack, true).await;
    let ended = run(&stack).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.RollbackFailed"), "{ended:?}");
}

#[tokio::test]
async fn an_alias_on_latest_has_nothing_to_roll_back_to_and_nothing_moves() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    let lambda = service(&stack, true).await;
    lambda
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .function_version("$LATEST")
        .send()
        .await
        .unwrap();
    let ended = run(&stack).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.GateFailed"), "{ended:?}");
    assert!(
        ended
            .cause
            .as_deref()
            .unwrap_or_default()
            .contains("no published version"),
        "{ended:?}"
    );
    assert!(!entered(&ended, "Publish"), "{:?}", ended.history);
    assert_eq!(
        alias_of(&lambda, FUNCTION, "live").await.unwrap(),
        ("$LATEST".to_string(), None)
    );
}

/// Answers a gate might give after the one-box that are no verdict at all: each ends in a
/// rollback, never in an execution failure that leaves the one-box serving.
#[tokio::test]
async fn a_malformed_gate_answer_after_the_one_box_is_rolled_back_not_left_serving() {
    let malformed = [
        json!({}),
        json!({"gate": "bake-time-waiter", "decision": 7}),
        json!({"gate": "bake-time-waiter", "decision": "rollback"}),
        json!({"gate": "bake-time-waiter", "decision": "wait", "reasons": [], "wait_until": "soon"}),
        json!({"gate": "bake-time-waiter", "decision": "wait", "reasons": []}),
    ];
    for answer in malformed {
        rolls_back_when("bake-time-waiter", vec![Answer::Ok(answer)], "does not handle").await;
    }
}

#[tokio::test]
async fn a_canary_fail_without_reasons_still_rolls_back() {
    let fail = Answer::Ok(json!({"gate": "canary-evaluator", "decision": "fail"}));
    rolls_back_when("canary-evaluator", vec![fail], "does not handle").await;
}

#[tokio::test]
async fn an_alias_left_half_done_is_not_released_over() {
    let stack = MotoWithLambdas::start();
    healthy(&stack);
    let lambda = service(&stack, true).await;
    let leftover = lambda
        .publish_version()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap()
        .version
        .unwrap();
    lambda
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .routing_config(
            aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
                .additional_version_weights(&leftover, 0.5)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ended = run(&stack).await;
    assert_eq!(ended.error.as_deref(), Some("Handsoff.GateFailed"), "{ended:?}");
    assert!(
        ended.cause.as_deref().unwrap_or_default().contains("half-done"),
        "{ended:?}"
    );
    assert!(!entered(&ended, "Publish"), "{:?}", ended.history);
    assert_eq!(
        alias_of(&lambda, FUNCTION, "live").await.unwrap(),
        ("1".to_string(), Some((leftover, 0.5)))
    );
}

#[tokio::test]
async fn a_one_box_weight_out_of_bounds_in_the_input_file_is_refused() {
    for weight in [json!(0.9), json!(0), json!("0.1")] {
        let stack = MotoWithLambdas::start();
        healthy(&stack);
        let lambda = service(&stack, true).await;
        let mut input = input();
        input["target"]["one_box_weight"] = weight.clone();
        let ended = sfn::run(&stack.moto, "safe-region", &safe_region_definition("us-east-1"), &input).await;
        assert_eq!(
            ended.error.as_deref(),
            Some("Handsoff.GateFailed"),
            "{weight}: {ended:?}"
        );
        assert!(
            ended.cause.as_deref().unwrap_or_default().contains("one_box_weight"),
            "{ended:?}"
        );
        assert_eq!(
            alias_of(&lambda, FUNCTION, "live").await.unwrap(),
            ("1".to_string(), None)
        );
    }
}

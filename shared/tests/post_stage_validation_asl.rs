//! statemachines/post-stage-validation.asl.json on moto's Step Functions interpreter: the
//! DynamoDB Query integration reads the stage's current suites, the Map sends each to the
//! runner (answers scripted behind moto's Lambda endpoint), and the execution fails naming the
//! failing suites and tests, or the stage when it has none.

mod sfn;

use std::collections::BTreeSet;

use handsoff::ports::store::{DynamoStore, create_table};
use handsoff::ports::suites::SuiteStore;
use handsoff::suite::Suite;
use handsoff_e2e::{Answer, MotoWithLambdas};
use jiff::Timestamp;
use serde_json::{Value, json};

const ASL: &str = include_str!("../../statemachines/post-stage-validation.asl.json");

#[test]
fn the_definition_is_well_formed_and_substitutes_only_what_the_template_provides() {
    let definition: Value = serde_json::from_str(ASL).unwrap();
    sfn::check_targets(
        definition["States"].as_object().unwrap(),
        definition["StartAt"].as_str().unwrap(),
    );
    assert_eq!(
        sfn::substitutions(ASL),
        BTreeSet::from(["TableName".to_string(), "ValidationTestRunnerArn".to_string()])
    );
}

fn definition() -> String {
    ASL.replace("${TableName}", "handsoff").replace(
        "${ValidationTestRunnerArn}",
        "arn:aws:lambda:us-east-1:123456789012:function:validation-test-runner",
    )
}

fn input() -> Value {
    json!({"pipeline": "orders", "stage": "Beta", "vars": {"base_url": "https://beta.example.com"}})
}

async fn stage_with_suites(stack: &MotoWithLambdas, names: &[&str]) {
    let client = aws_sdk_dynamodb::Client::new(&stack.moto.sdk_config());
    create_table(&client, "handsoff").await.unwrap();
    let store = DynamoStore::new(client, "handsoff");
    for name in names {
        let suite = Suite::from_value(json!({
            "name": name, "vars": {"base_url": null},
            "tests": [{"name": "health", "http": {"url": "${base_url}/health"}}]
        }))
        .unwrap();
        store
            .put_suite("orders", "Beta", &suite, "dev", Timestamp::now())
            .await
            .unwrap();
    }
    // Another stage's suite is not run.
    let other =
        Suite::from_value(json!({"name": "gamma-only", "tests": [{"name": "t", "http": {"url": "https://x"}}]}))
            .unwrap();
    store
        .put_suite("orders", "Gamma", &other, "dev", Timestamp::now())
        .await
        .unwrap();
}

/// The runner's answer: the suite named `bad` fails one test.
fn runner(payload: &Value) -> Answer {
    let suite: Value = serde_json::from_str(payload["suite"].as_str().unwrap_or("{}")).unwrap_or_default();
    let name = suite["name"].as_str().unwrap_or("?").to_string();
    let failures = if name == "bad" {
        vec![format!("{name} / health: status: expected 2xx, got 503")]
    } else {
        vec![]
    };
    Answer::Ok(
        json!({"suite": name, "ok": failures.is_empty(), "passed": 1 - failures.len(),
        "failed": failures.len(), "not_run": 0, "failures": failures}),
    )
}

#[tokio::test]
async fn every_suite_of_the_stage_runs_and_a_failure_names_its_suite_and_test() {
    let stack = MotoWithLambdas::start();
    stage_with_suites(&stack, &["api", "bad", "ui"]).await;
    stack.respond("validation-test-runner", runner);
    let ended = sfn::run(&stack.moto, "post-stage-validation", &definition(), &input()).await;
    assert_eq!(
        (ended.status.as_str(), ended.error.as_deref()),
        ("FAILED", Some("Handsoff.ValidationFailed")),
        "{ended:?}"
    );
    assert_eq!(
        ended.cause.as_deref(),
        Some(r#"Validation failed for orders/Beta: ["bad / health: status: expected 2xx, got 503"]"#)
    );
    let calls = stack.calls_to("validation-test-runner");
    let mut suites: Vec<String> = calls
        .iter()
        .map(|call| {
            serde_json::from_str::<Value>(call["suite"].as_str().unwrap()).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    suites.sort();
    assert_eq!(suites, ["api", "bad", "ui"]);
    assert_eq!(calls[0]["vars"], input()["vars"]);
    assert_eq!(
        (calls[0]["pipeline"].clone(), calls[0]["stage"].clone()),
        (json!("orders"), json!("Beta"))
    );
}

#[tokio::test]
async fn a_stage_whose_suites_all_pass_succeeds() {
    let stack = MotoWithLambdas::start();
    stage_with_suites(&stack, &["api", "ui"]).await;
    stack.respond("validation-test-runner", runner);
    let ended = sfn::run(&stack.moto, "post-stage-validation", &definition(), &input()).await;
    assert_eq!(ended.status, "SUCCEEDED", "{ended:?}");
    assert_eq!(stack.calls_to("validation-test-runner").len(), 2);
}

#[tokio::test]
async fn a_bad_suite_is_not_retried_and_fails_the_execution() {
    let stack = MotoWithLambdas::start();
    stage_with_suites(&stack, &["api"]).await;
    stack.script(
        "validation-test-runner",
        vec![Answer::error(
            "InvalidInput",
            "suite.vars.base_url: the suite needs `base_url`",
        )],
    );
    let ended = sfn::run(&stack.moto, "post-stage-validation", &definition(), &input()).await;
    assert_eq!(ended.status, "FAILED", "{ended:?}");
    assert_eq!(ended.error.as_deref(), Some("InvalidInput"));
    assert_eq!(stack.calls_to("validation-test-runner").len(), 1);
}

#[tokio::test]
async fn a_stage_without_suites_fails_with_a_cause_that_names_it() {
    let stack = MotoWithLambdas::start();
    create_table(&aws_sdk_dynamodb::Client::new(&stack.moto.sdk_config()), "handsoff")
        .await
        .unwrap();
    let ended = sfn::run(&stack.moto, "post-stage-validation", &definition(), &input()).await;
    assert_eq!(
        (ended.status.as_str(), ended.error.as_deref()),
        ("FAILED", Some("Handsoff.NoSuites")),
        "{ended:?}"
    );
    let cause = ended.cause.unwrap_or_default();
    assert!(
        cause.starts_with("No validation suites are configured for orders/Beta: add one with handsoff suite put FILE --pipeline orders --stage Beta"),
        "{cause}"
    );
    assert!(stack.calls().is_empty());
}

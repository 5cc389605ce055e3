//! statemachines/post-stage-validation.asl.json: well-formed, every `${...}` is one the
//! template substitutes, and on moto's Step Functions interpreter the DynamoDB direct
//! integration reads the stage's suites (none here: the execution fails, naming the stage).
//! Runs with suites need the real runner behind moto's Lambda: the local-stack scenarios.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use handsoff_e2e::Moto;
use serde_json::Value;

const ASL: &str = include_str!("../../statemachines/post-stage-validation.asl.json");

fn substitutions(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').unwrap();
        found.insert(rest[start + 2..start + end].to_string());
        rest = &rest[start + end..];
    }
    found
}

fn check_targets(states: &serde_json::Map<String, Value>, start: &str) {
    assert!(states.contains_key(start), "StartAt {start} is not a state");
    for (name, state) in states {
        let mut targets: Vec<&str> = vec![];
        targets.extend(state["Next"].as_str());
        targets.extend(state["Default"].as_str());
        for choice in state["Choices"].as_array().into_iter().flatten() {
            targets.extend(choice["Next"].as_str());
        }
        for target in targets {
            assert!(
                states.contains_key(target),
                "{name} goes to {target}, which is not a state"
            );
        }
        if let Some(processor) = state.get("ItemProcessor") {
            check_targets(
                processor["States"].as_object().unwrap(),
                processor["StartAt"].as_str().unwrap(),
            );
        }
        let ends = state["End"] == Value::Bool(true)
            || ["Fail", "Succeed", "Choice"].contains(&state["Type"].as_str().unwrap());
        assert!(ends || state.get("Next").is_some(), "{name} neither ends nor goes on");
    }
}

#[test]
fn the_definition_is_well_formed_and_substitutes_only_what_the_template_provides() {
    let definition: Value = serde_json::from_str(ASL).unwrap();
    check_targets(
        definition["States"].as_object().unwrap(),
        definition["StartAt"].as_str().unwrap(),
    );
    assert_eq!(
        substitutions(ASL),
        BTreeSet::from(["TableName".to_string(), "ValidationTestRunnerArn".to_string()])
    );
}

fn substituted() -> String {
    ASL.replace("${TableName}", "handsoff").replace(
        "${ValidationTestRunnerArn}",
        "arn:aws:lambda:us-east-1:123456789012:function:validation-test-runner",
    )
}

#[tokio::test]
async fn a_stage_without_suites_fails_with_a_cause_that_names_it() {
    let moto = Moto::start();
    moto.execute_state_machines();
    let config = moto.sdk_config();
    handsoff::ports::store::create_table(&aws_sdk_dynamodb::Client::new(&config), "handsoff")
        .await
        .unwrap();
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine = sfn
        .create_state_machine()
        .name("post-stage-validation")
        .definition(substituted())
        .role_arn(moto.create_iam_role("post-stage-validation"))
        .send()
        .await
        .unwrap();
    let execution = sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .input(r#"{"pipeline": "orders", "stage": "Beta", "vars": {"base_url": "https://beta.example.com"}}"#)
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    let described = loop {
        let described = sfn
            .describe_execution()
            .execution_arn(execution.execution_arn())
            .send()
            .await
            .unwrap();
        if described.status().as_str() != "RUNNING" || started.elapsed() > Duration::from_secs(30) {
            break described;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(described.status().as_str(), "FAILED", "{described:?}");
    assert_eq!(described.error(), Some("Handsoff.NoSuites"));
    let cause = described.cause().unwrap_or_default();
    assert!(
        cause.starts_with("No validation suites are configured for orders/Beta: add one with handsoff suite put FILE --pipeline orders --stage Beta"),
        "{cause}"
    );
}

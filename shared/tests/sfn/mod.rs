//! Runs a state machine definition on moto's Step Functions interpreter and waits for the end.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use handsoff_e2e::Moto;
use serde_json::Value;

/// How an execution ended.
#[derive(Debug, Clone)]
pub struct Ended {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    pub took: Duration,
    /// The states entered, in order (with their input when they were entered).
    pub history: Vec<String>,
}

/// The `${...}` names a definition expects the template to substitute.
pub fn substitutions(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("a closing brace");
        found.insert(rest[start + 2..start + end].to_string());
        rest = &rest[start + end..];
    }
    found
}

/// Every `Next`/`Default`/choice target is a state, and every state ends or goes on.
pub fn check_targets(states: &serde_json::Map<String, Value>, start: &str) {
    assert!(states.contains_key(start), "StartAt {start} is not a state");
    for (name, state) in states {
        let mut targets: Vec<&str> = vec![];
        targets.extend(state["Next"].as_str());
        targets.extend(state["Default"].as_str());
        for choice in state["Choices"].as_array().into_iter().flatten() {
            targets.extend(choice["Next"].as_str());
        }
        for catch in state["Catch"].as_array().into_iter().flatten() {
            targets.extend(catch["Next"].as_str());
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
        for branch in state["Branches"].as_array().into_iter().flatten() {
            check_targets(
                branch["States"].as_object().unwrap(),
                branch["StartAt"].as_str().unwrap(),
            );
        }
        let ends = state["End"] == Value::Bool(true)
            || ["Fail", "Succeed", "Choice"].contains(&state["Type"].as_str().unwrap());
        assert!(ends || state.get("Next").is_some(), "{name} neither ends nor goes on");
    }
}

pub async fn run(moto: &Moto, name: &str, definition: &str, input: &Value) -> Ended {
    let sfn = aws_sdk_sfn::Client::new(&moto.sdk_config());
    let machine = sfn
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(moto.create_iam_role(&format!("{name}-role")))
        .send()
        .await
        .expect("create the state machine");
    let execution = sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        // AWS names an execution when the caller does not; moto leaves `$$.Execution.Name` null.
        .name(format!("{name}-{}", std::process::id()))
        .input(input.to_string())
        .send()
        .await
        .expect("start the execution");
    let started = Instant::now();
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(execution.execution_arn())
            .send()
            .await
            .expect("describe the execution");
        if described.status().as_str() != "RUNNING" {
            let events = sfn
                .get_execution_history()
                .execution_arn(execution.execution_arn())
                .max_results(1000)
                .send()
                .await
                .expect("the execution's history");
            let history = events
                .events()
                .iter()
                .filter_map(|event| event.state_entered_event_details())
                .map(|entered| format!("{} <- {}", entered.name(), entered.input().unwrap_or_default()))
                .collect();
            return Ended {
                history,
                status: described.status().as_str().to_string(),
                error: described.error().map(str::to_string),
                cause: described.cause().map(str::to_string),
                output: described.output().and_then(|output| serde_json::from_str(output).ok()),
                took: started.elapsed(),
            };
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{name} still running after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! A CodePipeline job event carries the artifact bucket's temporary credentials. Each of the six
//! real function binaries, on the Lambda runtime protocol, gets such a job (with a policy its
//! gate accepts), answers it, and never prints the credentials; nor does the validation runner
//! print a suite's secret variable.

use std::time::Duration;

use handsoff_e2e::local_stack::{FUNCTIONS, binaries_dir};
use handsoff_e2e::{LocalRuntime, Reply};
use serde_json::{Value, json};

const ACCESS_KEY: &str = "ASIAZZZSECRETACCESSKEY";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENzzz";
const SUITE_SECRET: &str = "tok-9f8e7d6c5b4a";

fn user_parameters(function: &str) -> Value {
    match function {
        "time-window-gate" => {
            json!({"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]}})
        }
        "alarm-blocker" => json!({"alarms": {"watch": [{"names": ["orders-high-sev"]}]}}),
        "bake-time-waiter" => json!({"bake": {"duration": "1h"}}),
        "canary-evaluator" => {
            json!({"canary": {"lambda_alias": {"function_name": "orders-api", "alias": "live"}, "period": "1m", "lookback": "30m"}})
        }
        "rollback-trigger" => {
            json!({"rollback": {"actions": [{"lambda_alias": {"function_name": "orders-api", "alias": "live"}}]}})
        }
        _ => json!({"vars": {"base_url": "https://beta.example.com", "token": SUITE_SECRET}}),
    }
}

fn job(id: &str, function: &str) -> Value {
    json!({"CodePipeline.job": {"id": id, "accountId": "111111111111", "data": {
        "actionConfiguration": {"configuration": {"FunctionName": function, "UserParameters": user_parameters(function).to_string()}},
        "inputArtifacts": [{"name": "Built", "location": {"type": "S3", "s3Location": {"bucketName": "artifacts", "objectKey": "built.zip"}}}],
        "outputArtifacts": [],
        "artifactCredentials": {"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET_KEY, "sessionToken": SESSION_TOKEN}}}})
}

#[test]
fn no_function_logs_the_jobs_artifact_credentials() {
    for function in FUNCTIONS {
        let binary = binaries_dir().join(function);
        assert!(
            binary.exists(),
            "{} is missing: build the functions (cargo build --bins)",
            binary.display()
        );
        let mut runtime = LocalRuntime::start();
        runtime.env("HANDSOFF_TABLE", "handsoff");
        runtime.env("RUST_LOG", "debug");
        runtime.push_event("r1", job(&format!("job-{function}"), function));
        // A direct call whose payload carries a secret variable, for the runner.
        if function == "validation-test-runner" {
            runtime.push_event(
                "r2",
                json!({"suite": {"name": "auth", "vars": {"base_url": null, "token": null}, "secrets": ["token"],
                    "tests": [{"name": "t", "http": {"url": "${base_url}/x", "headers": {"authorization": "Bearer ${token}"}}, "timeout": "1s"}]},
                    "vars": {"base_url": "http://127.0.0.1:9", "token": SUITE_SECRET}}),
            );
        }
        runtime.spawn(&binary, function);
        let expected = if function == "validation-test-runner" { 2 } else { 1 };
        let replies = runtime.wait_for_replies(expected, Duration::from_secs(60));
        assert_eq!(replies.len(), expected, "{function}: {replies:?}\n{}", runtime.output());
        // The job was answered (success or failure) through CodePipeline's API.
        let answered = runtime
            .aws_calls()
            .iter()
            .any(|call| call.target.ends_with("PutJobSuccessResult") || call.target.ends_with("PutJobFailureResult"));
        assert!(answered, "{function} did not answer its job: {:?}", runtime.aws_calls());
        if let Reply::Response(value) = &replies[0].1 {
            assert_eq!(value["job_id"], format!("job-{function}"));
        }
        let output = runtime.output();
        assert!(output.lines().count() > 0, "{function} logged nothing");
        for secret in [ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, SUITE_SECRET] {
            assert!(!output.contains(secret), "{function} logged {secret}:\n{output}");
            for call in runtime.aws_calls() {
                assert!(
                    !call.body.to_string().contains(secret),
                    "{function} sent {secret} to {}",
                    call.target
                );
            }
        }
    }
}

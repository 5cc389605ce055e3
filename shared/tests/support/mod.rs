//! Helpers shared by the invocation tests: CodePipeline job events and a handler whose
//! aws-sdk-codepipeline client answers from aws-smithy-mocks.
#![allow(dead_code)]

pub mod holding_server;

use std::sync::{Arc, Mutex};

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::operation::put_job_failure_result::{PutJobFailureResultInput, PutJobFailureResultOutput};
use aws_sdk_codepipeline::operation::put_job_success_result::{PutJobSuccessResultInput, PutJobSuccessResultOutput};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use handsoff::gates::time_window::TimeWindowGate;
use handsoff::invoke::Handler;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::telemetry::CapturedMetrics;
use jiff::Timestamp;
use serde_json::{Value, json};

pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const SESSION: &str = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";

pub const POLICY: &str = r#"{"windows": {"timezone": "America/Los_Angeles",
    "allow": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}],
    "deny": [{"date": "2026-11-26", "reason": "Thanksgiving"}], "min_time_left": "30m"}}"#;

pub fn job_event(user_parameters: Option<&str>, continuation_token: Option<&str>) -> Value {
    let mut configuration = json!({"FunctionName": "time-window-gate"});
    if let Some(parameters) = user_parameters {
        configuration["UserParameters"] = json!(parameters);
    }
    let mut data = json!({
        "actionConfiguration": {"configuration": configuration},
        "inputArtifacts": [{"name": "Source", "location": {"type": "S3", "s3Location": {"bucketName": "artifacts", "objectKey": "a.zip"}}}],
        "outputArtifacts": [],
        "artifactCredentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": SECRET, "sessionToken": SESSION},
    });
    if let Some(token) = continuation_token {
        data["continuationToken"] = json!(token);
    }
    json!({"CodePipeline.job": {"id": "11111111-abcd-1111-abcd-111111abcdef", "accountId": "111111111111", "data": data}})
}

pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Records every request a rule sees.
pub fn recorder<T: Clone + Send + 'static>() -> (Arc<Mutex<Vec<T>>>, impl Fn(&T) -> bool + Send + Sync + 'static) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    (seen, move |request: &T| {
        sink.lock().unwrap().push(request.clone());
        true
    })
}

pub struct Harness {
    pub handler: Handler<TimeWindowGate, CodePipelineJobs, CapturedMetrics>,
    pub successes: Arc<Mutex<Vec<PutJobSuccessResultInput>>>,
    pub failures: Arc<Mutex<Vec<PutJobFailureResultInput>>>,
    pub success_rule: Rule,
    pub failure_rule: Rule,
}

pub fn harness() -> Harness {
    let (successes, record_success) = recorder::<PutJobSuccessResultInput>();
    let (failures, record_failure) = recorder::<PutJobFailureResultInput>();
    let success_rule = mock!(Client::put_job_success_result)
        .match_requests(record_success)
        .then_output(|| PutJobSuccessResultOutput::builder().build());
    let failure_rule = mock!(Client::put_job_failure_result)
        .match_requests(record_failure)
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&success_rule, &failure_rule]);
    let handler = Handler::new(
        TimeWindowGate::clock_only(),
        CodePipelineJobs::new(client),
        CapturedMetrics::default(),
    );
    Harness {
        handler,
        successes,
        failures,
        success_rule,
        failure_rule,
    }
}

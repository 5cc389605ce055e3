//! Every gate answers before Lambda's deadline: a gate whose AWS calls hang past the time left
//! (the invocation's deadline less the answer margin) fails closed with a timeout, and the
//! CodePipeline job is still answered, as a failure.

mod support;

use std::time::Duration;

use aws_sdk_codepipeline::operation::put_job_failure_result::{PutJobFailureResultInput, PutJobFailureResultOutput};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use handsoff::decision::Decision;
use handsoff::error::GateError;
use handsoff::gates::{Gate, GateRequest};
use handsoff::invoke::Handler;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::telemetry::CapturedMetrics;
use jiff::Timestamp;
use serde_json::json;
use support::{job_event, recorder};

/// A gate whose AWS calls never come back.
struct HangingGate;

impl Gate for HangingGate {
    fn name(&self) -> &'static str {
        "time-window-gate"
    }

    async fn decide(&self, _request: &GateRequest) -> Result<Decision, GateError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        unreachable!("the deadline guard stops this first")
    }
}

const POLICY: &str =
    r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]}}"#;

#[tokio::test]
async fn a_hanging_gate_fails_its_job_before_the_deadline() {
    let (failures, record) = recorder::<PutJobFailureResultInput>();
    let failure = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
        .match_requests(record)
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&failure]);
    let handler = Handler::new(HangingGate, CodePipelineJobs::new(client), CapturedMetrics::default());

    let started = std::time::Instant::now();
    let decide_by = tokio::time::Instant::now() + Duration::from_millis(300);
    let answered = handler
        .handle_until(job_event(Some(POLICY), None), Timestamp::now(), Some(decide_by))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(answered["answer"], "failed");
    assert_eq!(failure.num_calls(), 1);
    let message = failures.lock().unwrap()[0]
        .failure_details()
        .unwrap()
        .message()
        .to_string();
    assert!(message.contains("no answer before the Lambda deadline"), "{message}");

    // Called directly (Step Functions), the same hang is a typed, retryable error.
    let direct = handler
        .handle_until(
            json!({"policy": serde_json::from_str::<serde_json::Value>(POLICY).unwrap()}),
            Timestamp::now(),
            Some(tokio::time::Instant::now() + Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert_eq!(direct.error_type(), "DependencyUnavailable");
}

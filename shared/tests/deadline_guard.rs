//! Every gate answers before Lambda's deadline: a gate whose AWS calls hang past the time left
//! (the invocation's deadline less the answer margin) fails closed with a timeout, and the
//! CodePipeline job is still answered, as a failure. An answer CodePipeline does not take in
//! time fails the invocation with that reason, before Lambda would stop the process.

mod support;

use std::time::Duration;

use aws_sdk_codepipeline::operation::put_job_failure_result::{PutJobFailureResultInput, PutJobFailureResultOutput};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use handsoff::decision::Decision;
use handsoff::error::GateError;
use handsoff::gates::{Gate, GateRequest};
use handsoff::invoke::validation::ValidationHandler;
use handsoff::invoke::{Deadlines, Handler};
use handsoff::ports::http_client::SdkHttpSender;
use handsoff::ports::lambda_invoke::LambdaInvoker;
use handsoff::ports::pipeline_jobs::{CodePipelineJobs, PipelineJobs};
use handsoff::ports::store::DynamoStore;
use handsoff::suite::Runner;
use handsoff::suite::egress::Egress;
use handsoff::telemetry::CapturedMetrics;
use jiff::Timestamp;
use serde_json::json;
use support::holding_server::HoldingServer;
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

    fails_its_job_by_the_work_deadline(&handler).await;
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
            Some(deadlines_in(100, 3_000)),
        )
        .await
        .unwrap_err();
    assert_eq!(direct.error_type(), "DependencyUnavailable");
}

/// Handles a job whose work must stop 300 ms from now, and checks that it was answered, as a
/// failure, soon after.
async fn fails_its_job_by_the_work_deadline<G: Gate, J: PipelineJobs>(handler: &Handler<G, J, CapturedMetrics>) {
    let started = std::time::Instant::now();
    let answered = within_5s(handler.handle_until(
        job_event(Some(POLICY), None),
        Timestamp::now(),
        Some(deadlines_in(300, 3_000)),
    ))
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(answered["answer"], "failed");
}

/// Deadlines `work_ms` and `answer_ms` from now.
fn deadlines_in(work_ms: u64, answer_ms: u64) -> Deadlines {
    let now = tokio::time::Instant::now();
    Deadlines {
        work_by: now + Duration::from_millis(work_ms),
        answer_by: now + Duration::from_millis(answer_ms),
    }
}

/// Fails the test, rather than hanging it, when the handler does not give up by itself.
async fn within_5s<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .expect("the handler was still waiting on AWS after 5 s")
}

/// Runs a call that must give up by itself `at` from now, and returns its error's text after
/// checking that it came then (not before, and well inside the 5 s guard) as a timeout naming
/// `call`.
async fn gives_up<T: std::fmt::Debug>(
    at: Duration,
    call: &str,
    work: impl std::future::Future<Output = Result<T, GateError>>,
) -> String {
    let started = std::time::Instant::now();
    let error = within_5s(work).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= at - Duration::from_millis(50) && elapsed < Duration::from_secs(2),
        "gave up after {elapsed:?}, not at {at:?}"
    );
    assert_eq!(error.error_type(), "DependencyUnavailable");
    let text = error.to_string();
    assert!(
        text.contains(call) && text.contains("no answer before the Lambda deadline"),
        "{text}"
    );
    text
}

fn codepipeline_at(server: &HoldingServer) -> CodePipelineJobs {
    let config = handsoff_e2e::moto::sdk_config_for(&server.endpoint());
    CodePipelineJobs::new(aws_sdk_codepipeline::Client::new(&config))
}

/// The validation runner with every AWS client and HTTP request going to `server`.
fn validation_runner_at(
    server: &HoldingServer,
) -> ValidationHandler<SdkHttpSender, LambdaInvoker, DynamoStore, CodePipelineJobs> {
    let config = handsoff_e2e::moto::sdk_config_for(&server.endpoint());
    ValidationHandler::new(
        Runner::new(
            SdkHttpSender::new(
                &config,
                Egress::from_settings(None, None, Some("127.0.0.0/8"), None).unwrap(),
            ),
            LambdaInvoker::new(aws_sdk_lambda::Client::new(&config)),
        ),
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "handsoff"),
        codepipeline_at(server),
    )
}

/// A gate that lets the job through, after looking up its pipeline and stage if it needs them.
struct ProceedGate {
    needs_context: bool,
}

impl Gate for ProceedGate {
    fn name(&self) -> &'static str {
        "alarm-blocker"
    }

    fn needs_context(&self) -> bool {
        self.needs_context
    }

    async fn decide(&self, _request: &GateRequest) -> Result<Decision, GateError> {
        Ok(Decision::new(
            self.name(),
            handsoff::decision::Verdict::Proceed,
            "no alarm is firing",
        ))
    }
}

#[tokio::test]
async fn a_job_lookup_that_hangs_fails_the_job_closed_by_the_work_deadline() {
    let server = HoldingServer::start("GetJobDetails");
    let gate = ProceedGate { needs_context: true };
    let handler = Handler::new(gate, codepipeline_at(&server), CapturedMetrics::default());

    fails_its_job_by_the_work_deadline(&handler).await;
    assert_eq!(server.operations(), ["GetJobDetails", "PutJobFailureResult"]);
    let received = server.received();
    let failure = &received[1].body["failureDetails"];
    assert_eq!(failure["type"], "SystemUnavailable", "{failure}");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("codepipeline:GetJobDetails") && message.contains("no answer before the Lambda deadline"),
        "{message}"
    );
}

#[tokio::test]
async fn an_answer_codepipeline_does_not_take_in_time_fails_the_invocation_before_lambdas_deadline() {
    let server = HoldingServer::start("PutJobSuccessResult");
    let gate = ProceedGate { needs_context: false };
    let handler = Handler::new(gate, codepipeline_at(&server), CapturedMetrics::default());

    let text = gives_up(
        Duration::from_millis(600),
        "codepipeline:PutJobSuccessResult",
        handler.handle_until(
            job_event(Some(POLICY), None),
            Timestamp::now(),
            Some(deadlines_in(300, 600)),
        ),
    )
    .await;
    assert!(text.contains("Lambda's retry answers it"), "{text}");
    assert_eq!(
        server.operations(),
        ["PutJobSuccessResult"],
        "one answer, not retried in-process"
    );
}

#[tokio::test]
async fn the_validation_runner_gives_up_an_answer_codepipeline_does_not_take_in_time() {
    // GetJobDetails answers `{}` (no pipeline context), so nothing can be validated and the job
    // is failed; that answer is held.
    let server = HoldingServer::start("PutJobFailureResult");
    let handler = validation_runner_at(&server);

    let text = gives_up(
        Duration::from_millis(600),
        "codepipeline:PutJobFailureResult",
        handler.handle(job_event(None, None), deadlines_in(300, 600)),
    )
    .await;
    assert!(text.contains("Lambda's retry answers it"), "{text}");
    assert_eq!(server.operations(), ["GetJobDetails", "PutJobFailureResult"]);
    let message = server.received()[1].body["failureDetails"]["message"].to_string();
    assert!(message.contains("pipeline context"), "{message}");
}

#[tokio::test]
async fn a_run_the_table_does_not_take_in_time_is_an_error_before_the_deadline_not_a_pass() {
    // The suite's request is answered; storing its run is held.
    let server = HoldingServer::start("PutItem");
    let handler = validation_runner_at(&server);
    let event = json!({
        "suite": {"name": "smoke", "tests": [{"name": "health", "http": {"url": format!("{}/health", server.endpoint())},
            "expect": {"status": 200}}]},
        "pipeline": "orders", "stage": "Beta"
    });

    // The store gives up 1 s before the answer deadline, but never before the work deadline.
    let text = gives_up(
        Duration::from_millis(300),
        "dynamodb:PutItem",
        handler.handle(event, deadlines_in(300, 600)),
    )
    .await;
    assert!(text.contains("the run is not stored"), "{text}");
    assert_eq!(
        server.operations(),
        ["", "PutItem"],
        "the suite's request, then the held write"
    );
}

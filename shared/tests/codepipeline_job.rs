//! The invocation layer end to end with a real aws-sdk-codepipeline client whose responses come
//! from aws-smithy-mocks: what each job is answered with.

mod support;

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::FailureType;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use handsoff::gates::time_window::TimeWindowGate;
use handsoff::invoke::Handler;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::telemetry::CapturedMetrics;
use serde_json::{Value, json};
use support::{POLICY, at, harness, job_event};

#[tokio::test]
async fn inside_the_window_the_job_succeeds_with_output_variables() {
    let h = harness();
    let result = h
        .handler
        .handle(job_event(Some(POLICY), None), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();
    assert_eq!(result["answer"], "succeeded");
    assert_eq!((h.success_rule.num_calls(), h.failure_rule.num_calls()), (1, 0));
    let request = &h.successes.lock().unwrap()[0];
    assert_eq!(request.job_id(), Some("11111111-abcd-1111-abcd-111111abcdef"));
    assert_eq!(request.continuation_token(), None);
    let outputs = request.output_variables().unwrap();
    assert_eq!(outputs["decision"], "proceed");
    assert_eq!(outputs["closes_at"], "2026-11-24T23:30:00Z");
    assert!(
        outputs["reason"].starts_with("open: allow[0] Mon-Thu 09:00-16:00"),
        "{}",
        outputs["reason"]
    );
    assert!(
        request
            .execution_details()
            .unwrap()
            .summary()
            .unwrap()
            .starts_with("time-window-gate: open")
    );
}

#[tokio::test]
async fn while_closed_the_job_continues_with_a_token_and_no_output_variables() {
    let h = harness();
    // Tuesday 17:00 PST: the window opens Wednesday 09:00, 16h away: the action keeps waiting.
    h.handler
        .handle(job_event(Some(POLICY), None), at("2026-11-25T01:00:00Z"))
        .await
        .unwrap();
    let first = h.successes.lock().unwrap()[0].clone();
    assert_eq!(
        first.output_variables(),
        None,
        "output variables are only allowed on the final answer"
    );
    let token = first.continuation_token().unwrap().to_string();
    let state: Value = serde_json::from_str(&token).unwrap();
    assert_eq!(state["since"], "2026-11-25T01:00:00Z");
    assert_eq!(state["polls"], 1);
    assert!(
        first
            .execution_details()
            .unwrap()
            .summary()
            .unwrap()
            .contains("waiting: closed: outside the allowed windows; opens Wed 09:00 PST")
    );

    // CodePipeline calls again with the token; still closed an hour later.
    h.handler
        .handle(job_event(Some(POLICY), Some(&token)), at("2026-11-25T02:00:00Z"))
        .await
        .unwrap();
    let second: Value = serde_json::from_str(h.successes.lock().unwrap()[1].continuation_token().unwrap()).unwrap();
    assert_eq!(
        (second["since"].as_str(), second["polls"].as_u64()),
        (Some("2026-11-25T01:00:00Z"), Some(2))
    );

    // Wednesday 09:00 PST: open, the action succeeds.
    h.handler
        .handle(job_event(Some(POLICY), Some(&token)), at("2026-11-25T17:00:00Z"))
        .await
        .unwrap();
    let last = h.successes.lock().unwrap()[2].clone();
    assert_eq!(last.continuation_token(), None);
    assert_eq!(last.output_variables().unwrap()["decision"], "proceed");
    assert_eq!(h.failure_rule.num_calls(), 0);
}

#[tokio::test]
async fn an_opening_beyond_what_an_action_may_wait_fails_with_the_opening_time() {
    let h = harness();
    // Wednesday 16:00 PST: Thanksgiving, then Friday to Sunday: opens Monday 09:00, 89h away.
    h.handler
        .handle(job_event(Some(POLICY), None), at("2026-11-26T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!((h.success_rule.num_calls(), h.failure_rule.num_calls()), (0, 1));
    let failure = h.failures.lock().unwrap()[0].failure_details().unwrap().clone();
    assert_eq!(failure.r#type(), &FailureType::JobFailed);
    assert!(
        failure.message().contains("opens Mon 09:00 PST"),
        "{}",
        failure.message()
    );
    assert!(
        failure.message().contains("2026-11-30T17:00:00Z") && failure.message().contains("23h"),
        "{}",
        failure.message()
    );
}

#[tokio::test]
async fn when_closed_fail_fails_the_job_at_once() {
    let h = harness();
    let policy = POLICY.replace(
        r#""min_time_left": "30m""#,
        r#""min_time_left": "30m", "when_closed": "fail""#,
    );
    h.handler
        .handle(job_event(Some(&policy), None), at("2026-11-26T18:00:00Z"))
        .await
        .unwrap();
    let failure = h.failures.lock().unwrap()[0].failure_details().unwrap().clone();
    assert_eq!(failure.r#type(), &FailureType::JobFailed);
    assert_eq!(
        failure.message(),
        "time-window-gate: closed: Thanksgiving (deny 2026-11-26); opens Mon 09:00 PST (when_closed: fail)"
    );
}

#[tokio::test]
async fn a_bad_policy_is_a_configuration_error_naming_the_field() {
    let h = harness();
    let policy = POLICY.replace("Mon-Thu", "Mon-Thurs");
    h.handler
        .handle(job_event(Some(&policy), None), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();
    let failures = h.failures.lock().unwrap();
    let bad = failures[0].failure_details().unwrap();
    assert_eq!(bad.r#type(), &FailureType::ConfigurationError);
    assert!(
        bad.message()
            .starts_with("time-window-gate: policy is invalid: UserParameters.windows.allow[0].days: `Thurs`"),
        "{}",
        bad.message()
    );
    assert_eq!(h.success_rule.num_calls(), 0);
}

/// Empty UserParameters ask for the stage's stored policy: the stage comes from
/// GetJobDetails; nothing stored fails the job naming what to store; a stored policy decides
/// and the job's summary is the gate's.
#[tokio::test]
async fn a_job_without_user_parameters_decides_with_its_stages_stored_policy() {
    use aws_sdk_codepipeline::operation::get_job_details::GetJobDetailsOutput;
    use aws_sdk_codepipeline::operation::put_job_failure_result::PutJobFailureResultOutput;
    use aws_sdk_codepipeline::operation::put_job_success_result::PutJobSuccessResultOutput;
    use aws_sdk_codepipeline::types::{ActionContext, JobData, JobDetails, PipelineContext, StageContext};
    use handsoff::layers::{LayerDoc, Scope};
    use handsoff::ports::policies::{InMemoryPolicies, PolicyStore};

    let details = mock!(Client::get_job_details).then_output(|| {
        let context = PipelineContext::builder()
            .pipeline_name("orders")
            .stage(StageContext::builder().name("Prod").build())
            .action(ActionContext::builder().name("Window").build())
            .pipeline_execution_id("exec-1")
            .build();
        GetJobDetailsOutput::builder()
            .job_details(
                JobDetails::builder()
                    .id("11111111-abcd-1111-abcd-111111abcdef")
                    .data(JobData::builder().pipeline_context(context).build())
                    .build(),
            )
            .build()
    });
    let (failures, record_failure) = support::recorder();
    let failed = mock!(Client::put_job_failure_result)
        .match_requests(record_failure)
        .then_output(|| PutJobFailureResultOutput::builder().build());
    let (successes, record_success) = support::recorder();
    let succeeded = mock!(Client::put_job_success_result)
        .match_requests(record_success)
        .then_output(|| PutJobSuccessResultOutput::builder().build());
    let client = mock_client!(
        aws_sdk_codepipeline,
        RuleMode::MatchAny,
        [&details, &failed, &succeeded]
    );
    let store = InMemoryPolicies::default();
    let handler = Handler::new(
        TimeWindowGate::clock_only(),
        CodePipelineJobs::new(client),
        CapturedMetrics::default(),
    )
    .with_policies(&store);

    handler
        .handle(job_event(None, None), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();
    let failure: aws_sdk_codepipeline::operation::put_job_failure_result::PutJobFailureResultInput =
        failures.lock().unwrap()[0].clone();
    let message = failure.failure_details().unwrap().message();
    assert!(
        message.contains("no policy is stored for pipeline orders or stage orders/Prod"),
        "{message}"
    );

    let stage = Scope::Stage("orders".into(), "Prod".into());
    let policy: serde_json::Value = serde_json::from_str(POLICY).unwrap();
    store
        .put(
            &stage,
            &LayerDoc::from_value(policy).unwrap(),
            0,
            &[],
            "alice",
            at("2026-11-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let answer = handler
        .handle(job_event(Some(" "), None), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();
    assert_eq!(answer["answer"], "succeeded");
    let success: &aws_sdk_codepipeline::operation::put_job_success_result::PutJobSuccessResultInput =
        &successes.lock().unwrap()[0];
    assert_eq!(success.output_variables().unwrap()["decision"], "proceed");
    assert_eq!(details.num_calls(), 2, "the stage is read from the job each time");
}

#[tokio::test]
async fn a_garbled_continuation_token_fails_the_job_instead_of_proceeding() {
    let h = harness();
    h.handler
        .handle(job_event(Some(POLICY), Some("not-ours")), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();
    assert_eq!((h.success_rule.num_calls(), h.failure_rule.num_calls()), (0, 1));
    assert!(
        h.failures.lock().unwrap()[0]
            .failure_details()
            .unwrap()
            .message()
            .contains("continuation token")
    );
}

fn failing_client(status: u16, error_type: &str) -> (Client, Rule) {
    let body = json!({"__type": error_type, "message": "from the mock"}).to_string();
    let rule = mock!(Client::put_job_success_result)
        .sequence()
        .http_status(status, Some(body))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&rule], |config| config
        .retry_config(aws_sdk_codepipeline::config::retry::RetryConfig::disabled()));
    (client, rule)
}

#[tokio::test]
async fn when_the_answer_cannot_be_sent_the_invocation_errors_naming_the_call() {
    let (client, rule) = failing_client(400, "ThrottlingException");
    let handler = Handler::new(
        TimeWindowGate::clock_only(),
        CodePipelineJobs::new(client),
        CapturedMetrics::default(),
    );
    let error = handler
        .handle(job_event(Some(POLICY), None), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(error.error_type(), "DependencyUnavailable");
    assert!(
        error
            .to_string()
            .starts_with("codepipeline:PutJobSuccessResult was throttled"),
        "{error}"
    );

    let (client, _) = failing_client(400, "AccessDeniedException");
    let handler = Handler::new(
        TimeWindowGate::clock_only(),
        CodePipelineJobs::new(client),
        CapturedMetrics::default(),
    );
    let error = handler
        .handle(job_event(Some(POLICY), None), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "AccessDenied");
    assert!(
        error
            .to_string()
            .contains("grant `codepipeline:PutJobSuccessResult` to the function's role"),
        "{error}"
    );
    let diagnostic: lambda_runtime::Diagnostic = error.into();
    assert_eq!(diagnostic.error_type, "AccessDenied");
}

#[tokio::test]
async fn direct_invocations_return_the_decision_or_a_typed_error() {
    let h = harness();
    let policy: Value = serde_json::from_str(POLICY).unwrap();
    let open = h
        .handler
        .handle(
            json!({"policy": policy, "context": {"pipeline": "orders", "stage": "Prod"}}),
            at("2026-11-24T18:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(open["decision"], "proceed");
    assert_eq!(open["evidence"]["closes_at"], "2026-11-24T23:30:00Z");
    assert!(open.get("wait_until").is_none());

    let closed = h
        .handler
        .handle(json!({"policy": policy}), at("2026-11-26T18:00:00Z"))
        .await
        .unwrap();
    assert_eq!(closed["decision"], "wait");
    assert_eq!(closed["wait_until"], "2026-11-30T17:00:00Z");
    assert_eq!(
        closed["reasons"][0],
        "closed: Thanksgiving (deny 2026-11-26); opens Mon 09:00 PST"
    );

    let mut failing = policy.clone();
    failing["windows"]["when_closed"] = json!("fail");
    let error = h
        .handler
        .handle(json!({"policy": failing}), at("2026-11-26T18:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "Blocked");
    assert!(
        error.to_string().starts_with("time-window-gate: closed: Thanksgiving"),
        "{error}"
    );

    let error = h
        .handler
        .handle(
            json!({"policy": {"windows": {"timezone": "EST", "allow": []}}}),
            at("2026-11-26T18:00:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "PolicyInvalid");
    assert!(
        error
            .to_string()
            .contains("windows.timezone: `EST` is not an IANA time zone name"),
        "{error}"
    );

    // No job was answered for direct calls.
    assert_eq!((h.success_rule.num_calls(), h.failure_rule.num_calls()), (0, 0));
}

/// Under Step Functions nothing but `context.waiting_since` says when waiting began (safe-stage
/// passes its execution's start): with it, max_wait holds; a start in the future is refused.
/// Before, a direct call always counted from now, so a closed window waited forever.
#[tokio::test]
async fn max_wait_holds_for_direct_calls_from_context_waiting_since() {
    let h = harness();
    let mut policy: Value = serde_json::from_str(POLICY).unwrap();
    policy["windows"]["max_wait"] = json!("3d");
    // Thanksgiving: the next opening is Monday 09:00 PST, four days after Thursday.
    let now = at("2026-11-26T18:00:00Z");
    let fresh = h
        .handler
        .handle(
            json!({"policy": policy, "context": {"waiting_since": "2026-11-26T17:59:00Z"}}),
            now,
        )
        .await;
    assert!(
        fresh.is_err(),
        "an opening 4 days after waiting began is beyond max_wait 3d"
    );
    let fresh = fresh.unwrap_err();
    assert_eq!(fresh.error_type(), "Blocked");
    assert!(
        fresh
            .to_string()
            .contains("more than max_wait (3d) after waiting began at 2026-11-26T17:59:00Z"),
        "{fresh}"
    );

    policy["windows"]["max_wait"] = json!("5d");
    let within = h
        .handler
        .handle(
            json!({"policy": policy, "context": {"waiting_since": "2026-11-26T12:00:00Z"}}),
            now,
        )
        .await
        .unwrap();
    assert_eq!(within["decision"], "wait");
    let long_ago = h
        .handler
        .handle(
            json!({"policy": policy, "context": {"waiting_since": "2026-11-24T12:00:00Z"}}),
            now,
        )
        .await
        .unwrap_err();
    assert_eq!(long_ago.error_type(), "Blocked", "{long_ago}");
    assert!(
        long_ago
            .to_string()
            .contains("after waiting began at 2026-11-24T12:00:00Z"),
        "{long_ago}"
    );

    let future = h
        .handler
        .handle(
            json!({"policy": policy, "context": {"waiting_since": "2026-11-27T18:00:00Z"}}),
            now,
        )
        .await
        .unwrap_err();
    assert_eq!(future.error_type(), "InvalidInput");
    assert!(
        future
            .to_string()
            .contains("context.waiting_since: 2026-11-27T18:00:00Z is in the future"),
        "{future}"
    );
    let garbled = h
        .handler
        .handle(
            json!({"policy": policy, "context": {"waiting_since": "yesterday"}}),
            now,
        )
        .await
        .unwrap_err();
    assert_eq!(garbled.error_type(), "InvalidInput");
    assert!(garbled.to_string().contains("context.waiting_since"), "{garbled}");
}

// Step Functions calls the gates directly: those cold starts must not pay for a CodePipeline
// client (an endpoint-partition parse) that only job events use.
#[tokio::test]
async fn the_codepipeline_client_is_built_by_the_first_job_only() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use handsoff::aws::OnFirstUse;

    let success = mock!(Client::put_job_success_result).then_output(|| {
        aws_sdk_codepipeline::operation::put_job_success_result::PutJobSuccessResultOutput::builder().build()
    });
    let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&success]);
    let builds = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&builds);
    let deferred = OnFirstUse::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        client.clone()
    });
    let handler = Handler::new(
        TimeWindowGate::clock_only(),
        CodePipelineJobs::new(deferred.clone()),
        CapturedMetrics::default(),
    );
    let policy: Value = serde_json::from_str(POLICY).unwrap();

    let decision = handler
        .handle(json!({"policy": policy}), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();
    assert_eq!(decision["decision"], "proceed");
    assert_eq!(builds.load(Ordering::SeqCst), 0, "a direct call built the client");
    assert!(!deferred.is_built());

    for _ in 0..2 {
        let answer = handler
            .handle(job_event(Some(POLICY), None), at("2026-11-24T18:00:00Z"))
            .await
            .unwrap();
        assert_eq!(answer["answer"], "succeeded");
    }
    assert_eq!(builds.load(Ordering::SeqCst), 1);
    assert_eq!(success.num_calls(), 2);
}

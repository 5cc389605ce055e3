//! The alarm blocker against a real aws-sdk-cloudwatch client whose answers come from
//! aws-smithy-mocks (a small world of alarms, paged like CloudWatch pages them), with the state
//! store in memory (the DynamoDB adapter has its own tests on moto): decisions, their evidence,
//! what they record, and the calls they cost.

use std::sync::Arc;

use aws_sdk_cloudwatch::operation::describe_alarms::{DescribeAlarmsError, DescribeAlarmsInput, DescribeAlarmsOutput};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{AlarmType, CompositeAlarm, MetricAlarm, StateValue};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use handsoff::context::InvocationContext;
use handsoff::decision::{Decision, Verdict};
use handsoff::error::GateError;
use handsoff::gates::alarm_blocker::AlarmBlocker;
use handsoff::gates::{Gate, GateRequest, Mode};
use handsoff::policy::Policy;
use handsoff::ports::alarms::CloudWatchAlarms;
use handsoff::ports::store::memory::InMemoryStore;
use jiff::Timestamp;

#[derive(Clone)]
struct Alarm {
    name: String,
    composite: bool,
    state: StateValue,
}

fn alarm(name: &str, state: StateValue) -> Alarm {
    Alarm {
        name: name.to_string(),
        composite: false,
        state,
    }
}

/// CloudWatch's DescribeAlarms over a list of alarms: by names or by prefix, 100 a page.
fn describe(world: &[Alarm], request: &DescribeAlarmsInput) -> DescribeAlarmsOutput {
    let names = request.alarm_names();
    let matched: Vec<&Alarm> = world
        .iter()
        .filter(|alarm| match request.alarm_name_prefix() {
            Some(prefix) => alarm.name.starts_with(prefix),
            None => names.contains(&alarm.name),
        })
        .collect();
    let start: usize = request.next_token().and_then(|token| token.parse().ok()).unwrap_or(0);
    let page = request.max_records().unwrap_or(50) as usize;
    let end = (start + page).min(matched.len());
    let mut output = DescribeAlarmsOutput::builder();
    for alarm in &matched[start..end] {
        let since = DateTime::from_secs(1_795_540_000);
        if alarm.composite {
            output = output.composite_alarms(
                CompositeAlarm::builder()
                    .alarm_name(&alarm.name)
                    .state_value(alarm.state.clone())
                    .state_reason("child alarm orders-5xx in ALARM")
                    .state_updated_timestamp(since)
                    .build(),
            );
        } else {
            output = output.metric_alarms(
                MetricAlarm::builder()
                    .alarm_name(&alarm.name)
                    .state_value(alarm.state.clone())
                    .state_reason("Threshold Crossed: 1 datapoint [7.0] was greater than the threshold (5.0)")
                    .state_updated_timestamp(since)
                    .build(),
            );
        }
    }
    if end < matched.len() {
        output = output.next_token(end.to_string());
    }
    output.build()
}

struct Setup {
    blocker: AlarmBlocker<CloudWatchAlarms, InMemoryStore>,
    describe_rule: Rule,
    /// The blocker's store: what it recorded.
    store: InMemoryStore,
    requests: Arc<std::sync::Mutex<Vec<DescribeAlarmsInput>>>,
}

/// What a blocker that moved into a handler recorded.
struct Recorded {
    store: InMemoryStore,
}

impl Recorded {
    fn audits(&self) -> usize {
        self.store.audit_records().len()
    }
}

impl Setup {
    /// How many decisions were audited, each under the stage's own trail.
    fn audits(&self) -> usize {
        let records = self.store.audit_records();
        assert!(
            records
                .iter()
                .all(|record| (record.pipeline.as_str(), record.stage.as_str()) == ("orders", "Prod"))
        );
        records.len()
    }
}

fn setup(world: Vec<Alarm>) -> Setup {
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let describe_rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(move |request| {
            seen.lock().unwrap().push(request.clone());
            true
        })
        .then_compute_output(move |request| describe(&world, request));
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&describe_rule]);
    blocker_with(cloudwatch, describe_rule, requests)
}

fn blocker_with(
    cloudwatch: aws_sdk_cloudwatch::Client,
    describe_rule: Rule,
    requests: Arc<std::sync::Mutex<Vec<DescribeAlarmsInput>>>,
) -> Setup {
    let store = InMemoryStore::default();
    Setup {
        blocker: AlarmBlocker::new(CloudWatchAlarms::with_client(cloudwatch), store.clone()),
        describe_rule,
        store,
        requests,
    }
}

fn request(alarms: &str) -> GateRequest {
    GateRequest {
        policy: Policy::from_json(&format!(r#"{{"alarms": {alarms}}}"#)).unwrap(),
        context: InvocationContext {
            pipeline: Some("orders".into()),
            stage: Some("Prod".into()),
            ..Default::default()
        },
        now: "2026-11-24T18:00:00Z".parse::<Timestamp>().unwrap(),
        waiting_since: None,
        mode: Mode::Direct,
        policy_source: None,
    }
}

async fn decide(setup: &Setup, alarms: &str) -> Result<Decision, GateError> {
    setup.blocker.decide(&request(alarms)).await
}

const TEAM: &str = r#"{"watch": [{"names": ["orders-high-sev", "orders-latency-p99"]}]}"#;

#[tokio::test]
async fn all_clear_proceeds_in_one_call_and_is_audited() {
    let setup = setup(vec![
        alarm("orders-high-sev", StateValue::Ok),
        alarm("orders-latency-p99", StateValue::Ok),
    ]);
    let decision = decide(&setup, TEAM).await.unwrap();
    assert_eq!(decision.decision, Verdict::Proceed);
    assert_eq!(decision.reason(), "no watched alarm blocks (2 alarms read, all clear)");
    assert_eq!(decision.evidence.to_json()["alarms_ok"], 2);
    assert_eq!(setup.describe_rule.num_calls(), 1);
    assert_eq!(setup.audits(), 1);
    let sent = setup.requests.lock().unwrap()[0].clone();
    assert_eq!(sent.alarm_types(), [AlarmType::MetricAlarm, AlarmType::CompositeAlarm]);
}

#[tokio::test]
async fn a_firing_alarm_blocks_naming_its_state_reason_and_since() {
    let setup = setup(vec![
        alarm("orders-high-sev", StateValue::Alarm),
        alarm("orders-latency-p99", StateValue::Ok),
    ]);
    let decision = decide(&setup, TEAM).await.unwrap();
    assert_eq!(decision.decision, Verdict::Wait);
    assert_eq!(decision.wait_until, Some("2026-11-24T18:05:00Z".parse().unwrap()));
    let blocking = &decision.evidence.to_json()["blocking"][0];
    assert_eq!(
        (blocking["alarm"].as_str(), blocking["state"].as_str()),
        (Some("orders-high-sev"), Some("ALARM"))
    );
    assert_eq!(blocking["since"], "2026-11-24T17:06:40Z");
    assert!(
        decision
            .reason()
            .starts_with("blocked by 1 alarm: orders-high-sev is ALARM since 2026-11-24T17:06:40Z: Threshold Crossed")
    );
    assert_eq!(setup.audits(), 1);
}

#[tokio::test]
async fn insufficient_data_follows_the_policy() {
    let world = vec![
        alarm("orders-high-sev", StateValue::InsufficientData),
        alarm("orders-latency-p99", StateValue::Ok),
    ];
    let blocked = decide(&setup(world.clone()), TEAM).await.unwrap();
    assert_eq!(blocked.decision, Verdict::Wait);
    assert_eq!(blocked.evidence.to_json()["blocking"][0]["kind"], "insufficient_data");
    let lenient = r#"{"watch": [{"names": ["orders-high-sev", "orders-latency-p99"]}], "insufficient_data": "proceed", "when_blocked": "fail"}"#;
    assert_eq!(decide(&setup(world), lenient).await.unwrap().decision, Verdict::Proceed);
}

#[tokio::test]
async fn composite_alarms_count_like_metric_alarms() {
    let mut aggregate = alarm("orders-aggregate-rollback", StateValue::Alarm);
    aggregate.composite = true;
    let setup = setup(vec![aggregate]);
    let decision = decide(
        &setup,
        r#"{"watch": [{"names": ["orders-aggregate-rollback"]}], "when_blocked": "fail"}"#,
    )
    .await
    .unwrap();
    assert_eq!(decision.decision, Verdict::Block);
    assert!(
        decision.reason().contains("orders-aggregate-rollback is ALARM")
            && decision.reason().contains("child alarm orders-5xx")
    );
}

#[tokio::test]
async fn a_named_alarm_that_does_not_exist_blocks() {
    let setup = setup(vec![alarm("orders-high-sev", StateValue::Ok)]);
    let decision = decide(
        &setup,
        r#"{"watch": [{"names": ["orders-high-sev", "orders-hgih-sev"]}], "when_blocked": "fail"}"#,
    )
    .await
    .unwrap();
    assert_eq!(decision.decision, Verdict::Block);
    assert_eq!(decision.reasons[1], "alarm orders-hgih-sev not found in this account");
    let prefix = decide(
        &setup,
        r#"{"watch": [{"prefixes": ["payments-"]}], "when_blocked": "fail"}"#,
    )
    .await
    .unwrap();
    assert_eq!(prefix.reasons[1], "no alarm in this account matches prefix `payments-`");
}

#[tokio::test]
async fn two_hundred_fifty_names_take_three_calls() {
    let world: Vec<Alarm> = (0..250)
        .map(|i| alarm(&format!("alarm-{i:03}"), StateValue::Ok))
        .collect();
    let names: Vec<String> = world.iter().map(|alarm| format!("\"{}\"", alarm.name)).collect();
    let setup = setup(world);
    let decision = decide(&setup, &format!(r#"{{"watch": [{{"names": [{}]}}]}}"#, names.join(",")))
        .await
        .unwrap();
    assert_eq!(decision.decision, Verdict::Proceed);
    assert_eq!(decision.evidence.to_json()["alarms_read"], 250);
    assert_eq!(setup.describe_rule.num_calls(), 3);
    assert_eq!(decision.evidence.to_json()["describe_alarms_calls"], 3);
    let sizes: Vec<usize> = setup
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|request| request.alarm_names().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
}

#[tokio::test]
async fn prefixes_follow_next_token_to_the_last_page() {
    let mut world: Vec<Alarm> = (0..230)
        .map(|i| alarm(&format!("orders-{i:03}"), StateValue::Ok))
        .collect();
    world[229].state = StateValue::Alarm;
    let setup = setup(world);
    let decision = decide(&setup, r#"{"watch": [{"prefixes": ["orders-"]}]}"#)
        .await
        .unwrap();
    assert_eq!(setup.describe_rule.num_calls(), 3);
    assert_eq!(decision.decision, Verdict::Wait);
    assert_eq!(decision.evidence.to_json()["blocking"][0]["alarm"], "orders-229");
    let tokens: Vec<Option<String>> = setup
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|request| request.next_token().map(str::to_string))
        .collect();
    assert_eq!(tokens, [None, Some("100".to_string()), Some("200".to_string())]);
}

fn failing(code: &'static str) -> Setup {
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_error(move || {
        DescribeAlarmsError::generic(ErrorMetadata::builder().code(code).message("from the mock").build())
    });
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule], |config| config
        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled()));
    blocker_with(cloudwatch, rule, Arc::default())
}

#[tokio::test]
async fn throttling_and_access_denied_block_naming_the_call_and_permission() {
    let throttled = failing("Throttling");
    let error = decide(&throttled, TEAM).await.unwrap_err();
    assert_eq!(error.error_type(), "DependencyUnavailable");
    assert!(
        error.to_string().starts_with("cloudwatch:DescribeAlarms was throttled"),
        "{error}"
    );
    assert_eq!(throttled.audits(), 0, "no decision, nothing audited as one");

    let denied = failing("AccessDenied");
    let error = decide(&denied, TEAM).await.unwrap_err();
    assert_eq!(error.error_type(), "AccessDenied");
    assert!(
        error
            .to_string()
            .contains("grant `cloudwatch:DescribeAlarms` to the function's role"),
        "{error}"
    );
}

#[tokio::test]
async fn without_a_stage_there_is_no_decision() {
    let setup = setup(vec![]);
    let mut request = request(TEAM);
    request.context.stage = None;
    let error = setup.blocker.decide(&request).await.unwrap_err();
    assert_eq!(error.error_type(), "InvalidInput");
    assert!(
        error
            .to_string()
            .contains("context.pipeline and context.stage are required")
    );
    assert_eq!(setup.describe_rule.num_calls(), 0);
}

mod codepipeline {
    use super::*;
    use aws_sdk_codepipeline::operation::get_job_details::{GetJobDetailsError, GetJobDetailsOutput};
    use aws_sdk_codepipeline::operation::put_job_failure_result::{
        PutJobFailureResultInput, PutJobFailureResultOutput,
    };
    use aws_sdk_codepipeline::operation::put_job_success_result::{
        PutJobSuccessResultInput, PutJobSuccessResultOutput,
    };
    use aws_sdk_codepipeline::types::{ActionContext, FailureType, JobData, JobDetails, PipelineContext, StageContext};
    use handsoff::invoke::Handler;
    use handsoff::ports::pipeline_jobs::CodePipelineJobs;
    use handsoff::telemetry::CapturedMetrics;
    use serde_json::json;
    use std::sync::Mutex;

    fn job_event() -> serde_json::Value {
        json!({"CodePipeline.job": {"id": "job-7", "accountId": "111111111111", "data": {
            "actionConfiguration": {"configuration": {"UserParameters": format!(r#"{{"alarms": {TEAM}}}"#)}},
            "artifactCredentials": {"secretAccessKey": "SECRET"}}}})
    }

    fn pipeline_context() -> GetJobDetailsOutput {
        let context = PipelineContext::builder()
            .pipeline_name("orders")
            .stage(StageContext::builder().name("Prod").build())
            .action(ActionContext::builder().name("AlarmBlocker").build())
            .pipeline_execution_id("exec-1")
            .build();
        GetJobDetailsOutput::builder()
            .job_details(
                JobDetails::builder()
                    .id("job-7")
                    .data(JobData::builder().pipeline_context(context).build())
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn the_stage_comes_from_get_job_details_and_the_job_succeeds() {
        let setup = setup(vec![
            alarm("orders-high-sev", StateValue::Ok),
            alarm("orders-latency-p99", StateValue::Ok),
        ]);
        let details = mock!(aws_sdk_codepipeline::Client::get_job_details)
            .match_requests(|request| request.job_id() == Some("job-7"))
            .then_output(pipeline_context);
        let successes: Arc<Mutex<Vec<PutJobSuccessResultInput>>> = Arc::default();
        let seen = Arc::clone(&successes);
        let success = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
            .match_requests(move |request| {
                seen.lock().unwrap().push(request.clone());
                true
            })
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&details, &success]);
        let Setup { blocker, store, .. } = setup;
        let setup = Recorded { store };
        let handler = Handler::new(blocker, CodePipelineJobs::new(client), CapturedMetrics::default());
        let result = handler
            .handle(job_event(), "2026-11-24T18:00:00Z".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(result["answer"], "succeeded");
        assert_eq!(details.num_calls(), 1);
        assert_eq!(setup.audits(), 1, "the decision is audited under AUDIT#orders#Prod");
        assert_eq!(
            successes.lock().unwrap()[0].output_variables().unwrap()["decision"],
            "proceed"
        );
    }

    #[tokio::test]
    async fn without_get_job_details_permission_the_job_fails_naming_it() {
        let setup = setup(vec![]);
        let details = mock!(aws_sdk_codepipeline::Client::get_job_details).then_error(|| {
            GetJobDetailsError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized")
                    .build(),
            )
        });
        let failures: Arc<Mutex<Vec<PutJobFailureResultInput>>> = Arc::default();
        let seen = Arc::clone(&failures);
        let failure = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
            .match_requests(move |request| {
                seen.lock().unwrap().push(request.clone());
                true
            })
            .then_output(|| PutJobFailureResultOutput::builder().build());
        let client = mock_client!(
            aws_sdk_codepipeline,
            RuleMode::MatchAny,
            [&details, &failure],
            |config| config.retry_config(aws_sdk_codepipeline::config::retry::RetryConfig::disabled())
        );
        let handler = Handler::new(setup.blocker, CodePipelineJobs::new(client), CapturedMetrics::default());
        handler
            .handle(job_event(), "2026-11-24T18:00:00Z".parse().unwrap())
            .await
            .unwrap();
        let failure = failures.lock().unwrap()[0].failure_details().unwrap().clone();
        assert_eq!(failure.r#type(), &FailureType::PermissionError);
        assert!(
            failure.message().contains("grant `codepipeline:GetJobDetails`"),
            "{}",
            failure.message()
        );
        assert_eq!(setup.describe_rule.num_calls(), 0);
    }
}

/// Only the in-memory store makes these cheap: the records a decision reads, and a store that
/// cannot be read.
mod records {
    use handsoff::alarms::{BlockMarker, Override};
    use handsoff::ports::store::{BlockStore, OverrideStore, StoreError};
    use handsoff::ports::{PortError, PortErrorKind};

    use super::*;

    fn firing() -> Setup {
        setup(vec![
            alarm("orders-high-sev", StateValue::Alarm),
            alarm("orders-latency-p99", StateValue::Ok),
        ])
    }

    #[tokio::test]
    async fn a_live_override_of_the_firing_alarm_lets_it_proceed_and_is_named() {
        let setup = firing();
        let live = Override {
            id: "ov-7".into(),
            pipeline: "orders".into(),
            stage: "Prod".into(),
            alarms: vec!["orders-high-sev".into()],
            reason: "the fix for INC-42".into(),
            who: "arn:aws:sts::123456789012:assumed-role/oncall/dana".into(),
            created_at: "2026-11-24T17:30:00Z".parse().unwrap(),
            expires_at: "2026-11-24T19:30:00Z".parse().unwrap(),
            revoked_at: None,
            revoked_by: None,
        };
        setup.store.create_override(&live).await.unwrap();
        let decision = decide(&setup, TEAM).await.unwrap();
        assert_eq!(decision.decision, Verdict::Proceed, "{}", decision.reason());
        assert!(decision.evidence.to_string().contains("ov-7"), "{}", decision.evidence);

        setup
            .store
            .revoke_override(
                "ov-7",
                "arn:aws:sts::123456789012:assumed-role/oncall/dana",
                "fixed",
                "2026-11-24T17:45:00Z".parse().unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            decide(&setup, TEAM).await.unwrap().decision,
            Verdict::Wait,
            "a revoked override lifts nothing"
        );
    }

    #[tokio::test]
    async fn a_stage_blocked_after_a_rollback_blocks_with_all_alarms_clear() {
        let setup = super::setup(vec![
            alarm("orders-high-sev", StateValue::Ok),
            alarm("orders-latency-p99", StateValue::Ok),
        ]);
        setup
            .store
            .put_block_marker(&BlockMarker {
                pipeline: "orders".into(),
                stage: "Prod".into(),
                reason: "rolled back execution exec-1".into(),
                created_at: "2026-11-24T17:00:00Z".parse().unwrap(),
                by: "rollback-trigger".into(),
            })
            .await
            .unwrap();
        let decision = decide(&setup, TEAM).await.unwrap();
        assert_ne!(decision.decision, Verdict::Proceed);
        assert!(
            decision.reason().contains("blocked after a rollback"),
            "{}",
            decision.reason()
        );
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_read_fails_closed_naming_the_call() {
        let setup = firing();
        setup.store.fail_with(StoreError::Port(PortError {
            call: "dynamodb:GetItem".into(),
            kind: PortErrorKind::AccessDenied,
            message: "not authorized".into(),
        }));
        let error = decide(&setup, TEAM).await.unwrap_err();
        assert_eq!(error.error_type(), "AccessDenied");
        assert!(error.to_string().contains("dynamodb:GetItem"), "{error}");
    }
}

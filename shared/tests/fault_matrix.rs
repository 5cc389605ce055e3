//! The fault matrix: for every gate and every AWS call it makes, the call meets throttling, a
//! 5xx, access denied, a hang, and a malformed answer; the gate never proceeds (nor reports a
//! rollback done), and says which call failed — for access denied, which permission to grant.
//! Every read also meets answers that arrive whole but say less: an empty answer (no alarm, no
//! series, no item), and for `GetMetricData` `PartialData` and series without a datapoint;
//! no gate proceeds on those either, except where an empty answer is a true one that can only
//! make the gate stricter (see `EMPTY_IS_AN_ANSWER`). An alarm in INSUFFICIENT_DATA is its own
//! case below.
//!
//! The gates run on real aws-sdk clients against moto_server, through the harness's router,
//! which answers one chosen operation with the fault and passes everything else to moto. Which
//! calls a gate makes is not listed by hand: each gate runs once without faults first, and every
//! operation it made is then broken in turn.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, FunctionCode, Runtime};
use handsoff::context::InvocationContext;
use handsoff::decision::{Decision, Verdict};
use handsoff::error::GateError;
use handsoff::gates::alarm_blocker::AlarmBlocker;
use handsoff::gates::bake_time_waiter::BakeTimeWaiter;
use handsoff::gates::canary_evaluator::CanaryEvaluator;
use handsoff::gates::rollback_trigger::RollbackTrigger;
use handsoff::gates::{Gate, GateRequest, Mode};
use handsoff::policy::Policy;
use handsoff::ports::alarms::CloudWatchAlarms;
use handsoff::ports::deployments::AwsDeploymentControl;
use handsoff::ports::lambda_alias::LambdaAliases;
use handsoff::ports::metrics::CloudWatchMetrics;
use handsoff::ports::store::BakeStore;
use handsoff::ports::store::{DynamoStore, create_table};
use handsoff_e2e::{Fault, MotoWithLambdas};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

const EMPTY_ZIP: &[u8] = &[
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Clients that talk to the router, with short timeouts and one retry so a hang costs seconds.
async fn router_config(stack: &MotoWithLambdas) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{}", stack.router_port()))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_millis(800))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .load()
        .await
}

async fn world() -> (MotoWithLambdas, aws_config::SdkConfig) {
    let stack = MotoWithLambdas::start();
    let moto = stack.moto.sdk_config();
    create_table(&aws_sdk_dynamodb::Client::new(&moto), "handsoff")
        .await
        .unwrap();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto);
    cloudwatch
        .put_metric_alarm()
        .alarm_name("orders-high-sev")
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(10.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    cloudwatch
        .set_alarm_state()
        .alarm_name("orders-high-sev")
        .state_value(StateValue::Ok)
        .state_reason("quiet")
        .send()
        .await
        .unwrap();
    let now = Timestamp::now();
    for minutes_ago in 1..=5 {
        for (version, requests, errors) in [("1", 4000.0, 40.0), ("2", 2000.0, 20.0)] {
            for (metric, value) in [("Requests", requests), ("Errors", errors)] {
                cloudwatch
                    .put_metric_data()
                    .namespace("Orders")
                    .metric_data(
                        MetricDatum::builder()
                            .metric_name(metric)
                            .dimensions(Dimension::builder().name("Version").value(version).build())
                            .value(value)
                            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                                (now - SignedDuration::from_mins(minutes_ago)).as_second(),
                            ))
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    let lambda = aws_sdk_lambda::Client::new(&moto);
    lambda
        .create_function()
        .function_name("orders-api")
        .runtime(Runtime::Providedal2023)
        .role(stack.moto.create_iam_role("orders-api"))
        .handler("bootstrap")
        .code(FunctionCode::builder().zip_file(Blob::new(EMPTY_ZIP)).build())
        .send()
        .await
        .unwrap();
    for _ in 0..2 {
        lambda
            .publish_version()
            .function_name("orders-api")
            .send()
            .await
            .unwrap();
        lambda
            .update_function_code()
            .function_name("orders-api")
            .zip_file(Blob::new(EMPTY_ZIP))
            .send()
            .await
            .unwrap();
    }
    lambda
        .create_alias()
        .function_name("orders-api")
        .name("live")
        .function_version("1")
        .send()
        .await
        .unwrap();
    let config = router_config(&stack).await;
    (stack, config)
}

async fn reset_alias(stack: &MotoWithLambdas) {
    aws_sdk_lambda::Client::new(&stack.moto.sdk_config())
        .update_alias()
        .function_name("orders-api")
        .name("live")
        .function_version("1")
        .routing_config(
            AliasRoutingConfiguration::builder()
                .additional_version_weights("2", 0.1)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn request(policy: serde_json::Value, execution: &str) -> GateRequest {
    GateRequest {
        policy: Policy::from_value(policy).unwrap(),
        context: InvocationContext {
            pipeline: Some("orders".into()),
            stage: Some("Prod-1".into()),
            execution_id: Some(execution.into()),
            action: None,
            reason: Some("bake-time-waiter: orders-high-sev went to ALARM".into()),
            waiting_since: None,
        },
        now: Timestamp::now(),
        waiting_since: None,
        mode: Mode::Direct,
        policy_source: None,
    }
}

/// What the outcome says, for a person.
fn said(outcome: &Result<Decision, GateError>) -> String {
    match outcome {
        Ok(decision) => format!("{}: {}", decision.decision.as_str(), decision.reasons.join("; ")),
        Err(error) => format!("{}: {error}", error.error_type()),
    }
}

/// The AWS operations made since the last look, each once.
fn distinct_operations(stack: &MotoWithLambdas) -> Vec<String> {
    let mut operations = stack.take_operations();
    operations.sort();
    operations.dedup();
    operations
}

/// Every (operation, fault) pair, to be broken one at a time: each call's failures, and for
/// each read the answers that say less than was asked.
fn fault_cases(operations: &[String]) -> impl Iterator<Item = (&String, Fault)> {
    operations.iter().flat_map(|operation| {
        Fault::ALL
            .iter()
            .chain(Fault::answers(operation))
            .map(move |fault| (operation, *fault))
    })
}

/// Reads whose empty answer is true and can only make a gate stricter, or is weighed against
/// evidence read strictly: no stage block, no override, no alarm transition during the bake
/// (the bake still needs every watched alarm OK now).
const EMPTY_IS_AN_ANSWER: [&str; 3] = ["GetItem", "Query", "DescribeAlarmHistory"];

/// Runs `decide` once without faults (it must reach `baseline`), then once per operation it made
/// and fault; `unsafe_outcome` says which results would let a bad deployment through, except
/// for a fault in a `bookkeeping` operation, whose outcome `after_bookkeeping` checks instead
/// (a write that only helps a later run must not stop the work that matters).
async fn matrix<G: Gate>(
    stack: &MotoWithLambdas,
    gate: &G,
    make_request: impl Fn(usize) -> GateRequest,
    before_each: impl AsyncFn(),
    baseline: impl Fn(&Decision) -> bool,
    unsafe_outcome: impl Fn(&Decision) -> bool,
    bookkeeping: (&[&str], impl AsyncFn(&Decision) -> bool),
) -> usize {
    before_each().await;
    stack.clear_faults();
    stack.take_operations();
    let clean = gate.decide(&make_request(0)).await;
    assert!(
        clean.as_ref().is_ok_and(&baseline),
        "{} baseline: {}",
        gate.name(),
        said(&clean)
    );
    let operations = distinct_operations(stack);
    assert!(!operations.is_empty(), "{} made no AWS call", gate.name());
    let mut cases = 0;
    for (operation, fault) in fault_cases(&operations) {
        cases += 1;
        before_each().await;
        stack.clear_faults();
        stack.inject(operation, fault);
        let outcome = gate.decide(&make_request(cases)).await;
        let text = said(&outcome);
        eprintln!(
            "CASE {} {operation} {fault:?} => {}",
            gate.name(),
            text.chars().take(160).collect::<String>()
        );
        if fault == Fault::Empty && EMPTY_IS_AN_ANSWER.contains(&operation.as_str()) {
            continue;
        }
        if let (Ok(decision), true) = (&outcome, bookkeeping.0.contains(&operation.as_str())) {
            assert!(
                (bookkeeping.1)(decision).await,
                "{} with {operation} {fault:?}: {text}",
                gate.name()
            );
        } else if let Ok(decision) = &outcome {
            assert!(
                !unsafe_outcome(decision),
                "{} with {operation} {fault:?} went on: {text}",
                gate.name()
            );
        }
        if fault.is_answer() {
            // A whole answer that says less is a decision (blocked, inconclusive) or a failed
            // read; either way not a pass, checked above.
            continue;
        }
        assert!(
            text.contains(operation.as_str()),
            "{} with {operation} {fault:?} does not name the call: {text}",
            gate.name()
        );
        if fault == Fault::AccessDenied {
            assert!(
                text.contains("grant `"),
                "{} with {operation} denied does not name the permission: {text}",
                gate.name()
            );
        }
    }
    stack.clear_faults();
    cases
}

/// A check of an outcome that may follow a bookkeeping fault.
type OutcomeCheck = fn(&Decision) -> std::future::Ready<bool>;

/// No operation whose failure may leave the outcome as it was.
const NO_BOOKKEEPING: (&[&str], OutcomeCheck) = (&[], |_| std::future::ready(false));

fn proceeds(decision: &Decision) -> bool {
    matches!(decision.decision, Verdict::Proceed | Verdict::Pass)
}

#[tokio::test]
async fn the_alarm_blocker_never_proceeds_on_a_fault() {
    let (stack, config) = world().await;
    let (gate, policy) = blocker_failing_fast(&config);
    let cases = matrix(
        &stack,
        &gate,
        |_| request(policy.clone(), "exec"),
        async || {},
        proceeds,
        proceeds,
        NO_BOOKKEEPING,
    )
    .await;
    assert!(cases >= 20, "{cases}");
}

/// A bake that began two hours ago (so without faults it is complete), its gate and policy.
async fn baked_two_hours(
    stack: &MotoWithLambdas,
    config: &aws_config::SdkConfig,
) -> (
    BakeTimeWaiter<CloudWatchAlarms, CloudWatchMetrics, DynamoStore, LambdaAliases>,
    serde_json::Value,
) {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&stack.moto.sdk_config()), "handsoff")
        .start_bake(
            "orders",
            "Prod-1",
            "exec",
            Timestamp::now() - SignedDuration::from_hours(2),
        )
        .await
        .unwrap();
    let gate = BakeTimeWaiter::new(
        CloudWatchAlarms::new(config),
        CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(config)),
        DynamoStore::new(aws_sdk_dynamodb::Client::new(config), "handsoff"),
        LambdaAliases::new(aws_sdk_lambda::Client::new(config)),
    );
    let policy = json!({"bake": {"duration": "1h", "alarms": [{"names": ["orders-high-sev"]}],
        "min_datapoints": [{"namespace": "Orders", "metric": "Requests", "dimensions": {"Version": "2"}, "stat": "Sum", "min": 1}]}});
    (gate, policy)
}

/// The alarm blocker on `config`, and a policy that blocks at once on orders-high-sev.
fn blocker_failing_fast(
    config: &aws_config::SdkConfig,
) -> (AlarmBlocker<CloudWatchAlarms, DynamoStore>, serde_json::Value) {
    let gate = AlarmBlocker::new(
        CloudWatchAlarms::new(config),
        DynamoStore::new(aws_sdk_dynamodb::Client::new(config), "handsoff"),
    );
    let policy = json!({"alarms": {"watch": [{"names": ["orders-high-sev"]}], "when_blocked": "fail"}});
    (gate, policy)
}

#[tokio::test]
async fn the_bake_time_waiter_never_proceeds_on_a_fault() {
    let (stack, config) = world().await;
    let (gate, policy) = baked_two_hours(&stack, &config).await;
    let cases = matrix(
        &stack,
        &gate,
        |_| request(policy.clone(), "exec"),
        async || {},
        proceeds,
        proceeds,
        NO_BOOKKEEPING,
    )
    .await;
    assert!(cases >= 20, "{cases}");
}

#[tokio::test]
async fn the_canary_evaluator_never_passes_on_a_fault() {
    let (stack, config) = world().await;
    // Recording its verdict is one of its calls: a verdict it cannot record is no pass.
    let gate = CanaryEvaluator::new(
        CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&config)),
        LambdaAliases::new(aws_sdk_lambda::Client::new(&config)),
    )
    .recording_to(DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "handsoff"));
    let policy = json!({"canary": {"pair": {"namespace": "Orders", "canary": {"Version": "2"}, "baseline": {"Version": "1"},
        "requests": {"metric": "Requests", "stat": "Sum"}, "errors": {"metric": "Errors", "stat": "Sum"}},
        "period": "1m", "lookback": "10m", "judge": {"min_requests": 500, "min_periods": 3}}});
    let cases = matrix(
        &stack,
        &gate,
        |_| request(policy.clone(), "exec"),
        async || {},
        proceeds,
        proceeds,
        NO_BOOKKEEPING,
    )
    .await;
    assert!(cases >= 5, "{cases}");
}

#[tokio::test]
async fn the_rollback_trigger_never_reports_a_rollback_done_on_a_fault() {
    let (stack, config) = world().await;
    let gate = RollbackTrigger::new(
        AwsDeploymentControl::new(
            aws_sdk_lambda::Client::new(&config),
            aws_sdk_codedeploy::Client::new(&config),
            aws_sdk_codepipeline::Client::new(&config),
        ),
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "handsoff"),
    );
    let policy = json!({"rollback": {"actions": [{"lambda_alias": {"function_name": "orders-api", "alias": "live"}}]}});
    let done = |decision: &Decision| {
        decision.decision == Verdict::Rollback && decision.evidence.to_json()["performed"] == true
    };
    let cases = matrix(
        &stack,
        &gate,
        // A new deployment each time: a rollback runs once per deployment.
        |case| request(policy.clone(), &format!("exec-{case}")),
        async || reset_alias(&stack).await,
        done,
        done,
        // Saving progress only spares a later takeover work: a rollback whose progress could
        // not be saved still finishes, and says so, provided the alias really is rolled back.
        (&["UpdateItem"], async |decision: &Decision| {
            let alias = aws_sdk_lambda::Client::new(&stack.moto.sdk_config())
                .get_alias()
                .function_name("orders-api")
                .name("live")
                .send()
                .await
                .unwrap();
            done(decision)
                && alias.function_version() == Some("1")
                && alias.routing_config().is_none_or(|routing| {
                    routing
                        .additional_version_weights()
                        .is_none_or(|weights| weights.is_empty())
                })
                && decision.evidence.to_json()["progress_not_saved"]
                    .as_array()
                    .is_some_and(|unsaved| unsaved.len() == 1)
        }),
    )
    .await;
    assert!(cases >= 15, "{cases}");
}

#[tokio::test]
async fn the_validation_runner_never_passes_a_suite_on_a_fault() {
    use handsoff::invoke::validation::ValidationHandler;
    use handsoff::ports::http_client::SdkHttpSender;
    use handsoff::ports::lambda_invoke::LambdaInvoker;
    use handsoff::ports::pipeline_jobs::CodePipelineJobs;
    use handsoff::suite::Runner;

    let (stack, config) = world().await;
    stack.script("orders-worker", vec![handsoff_e2e::Answer::Ok(json!({"processed": 1}))]);
    let handler = ValidationHandler::new(
        Runner::new(
            SdkHttpSender::new(
                &config,
                handsoff::suite::egress::Egress::from_env(Some("us-east-1")).unwrap(),
            ),
            LambdaInvoker::new(aws_sdk_lambda::Client::new(&config)),
        ),
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "handsoff"),
        CodePipelineJobs::new(aws_sdk_codepipeline::Client::new(&config)),
    );
    let event = json!({
        "suite": {"name": "workers", "tests": [{"name": "processes", "lambda": {"function": "orders-worker"},
            "timeout": "2s", "expect": {"json": [{"path": "$.processed", "equals": 1}]}}]},
        "pipeline": "orders", "stage": "Beta"
    });
    let deadline = || {
        let now = tokio::time::Instant::now();
        handsoff::invoke::Deadlines {
            work_by: now + Duration::from_secs(20),
            answer_by: now + Duration::from_secs(25),
        }
    };
    stack.take_operations();
    let clean = handler.handle(event.clone(), deadline()).await.unwrap();
    assert_eq!(clean["ok"], true, "{clean}");
    let operations = distinct_operations(&stack);
    assert_eq!(operations, ["Invoke", "PutItem"]);
    for (operation, fault) in fault_cases(&operations) {
        stack.clear_faults();
        stack.inject(operation, fault);
        let text = match handler.handle(event.clone(), deadline()).await {
            Ok(summary) => {
                assert_eq!(summary["ok"], false, "{operation} {fault:?} passed: {summary}");
                summary.to_string()
            }
            Err(error) => error.to_string(),
        };
        // An Invoke payload is the function's own bytes: a "malformed" one is a function
        // answer that fails the test's expectations, not a failed call.
        if (operation.as_str(), fault) == ("Invoke", Fault::Malformed) {
            assert!(text.contains("the body is not JSON"), "{text}");
            continue;
        }
        assert!(text.contains(operation.as_str()), "{operation} {fault:?}: {text}");
        if fault == Fault::AccessDenied {
            assert!(text.contains("grant `"), "{operation} denied: {text}");
        }
    }
}

/// An alarm in INSUFFICIENT_DATA shows nothing healthy: the blocker blocks (its default) and a
/// bake whose time and traffic are done still does not complete.
#[tokio::test]
async fn an_alarm_without_data_lets_no_gate_through() {
    let (stack, config) = world().await;
    aws_sdk_cloudwatch::Client::new(&stack.moto.sdk_config())
        .set_alarm_state()
        .alarm_name("orders-high-sev")
        .state_value(StateValue::InsufficientData)
        .state_reason("no datapoints")
        .send()
        .await
        .unwrap();
    let (blocker, policy) = blocker_failing_fast(&config);
    let blocked = blocker.decide(&request(policy, "exec")).await.unwrap();
    assert_eq!(blocked.decision, Verdict::Block, "{}", blocked.reason());
    assert!(blocked.reason().contains("INSUFFICIENT_DATA"), "{}", blocked.reason());

    let (bake, policy) = baked_two_hours(&stack, &config).await;
    let waiting = bake.decide(&request(policy, "exec")).await.unwrap();
    assert_eq!(waiting.decision, Verdict::Wait, "{}", waiting.reason());
    assert!(
        waiting
            .reason()
            .contains("waiting for orders-high-sev is INSUFFICIENT_DATA"),
        "{}",
        waiting.reason()
    );
}

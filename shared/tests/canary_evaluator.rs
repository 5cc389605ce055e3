//! The canary evaluator on real aws-sdk-lambda and aws-sdk-cloudwatch clients answered by
//! aws-smithy-mocks: which metrics it asks for, in how many calls, and what it decides.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataInput, GetMetricDataOutput};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{MessageData, MetricDataResult, StatusCode};
use aws_sdk_lambda::operation::get_alias::GetAliasOutput;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use handsoff::context::InvocationContext;
use handsoff::decision::{Decision, Verdict};
use handsoff::error::GateError;
use handsoff::gates::canary_evaluator::CanaryEvaluator;
use handsoff::gates::{Gate, GateRequest, Mode};
use handsoff::policy::Policy;
use handsoff::ports::lambda_alias::LambdaAliases;
use handsoff::ports::metrics::CloudWatchMetrics;
use jiff::Timestamp;

const NOW: &str = "2026-11-24T18:00:30Z";
const ALIAS_POLICY: &str = r#"{"canary": {"lambda_alias": {"function_name": "orders-api", "alias": "live"}, "period": "1m", "lookback": "30m"}}"#;

/// Per query id, one value per minute (None: no datapoint that minute).
type World = BTreeMap<&'static str, Vec<Option<f64>>>;

fn world(baseline: (f64, f64, f64), canary: (f64, f64, f64)) -> World {
    let repeat = |value: f64| vec![Some(value); 30];
    let latency = |base: f64| (0..30).map(|i| Some(base + (i % 7) as f64)).collect::<Vec<_>>();
    World::from([
        ("b_requests", repeat(baseline.0)),
        ("b_errors", repeat(baseline.1)),
        ("b_throttles", repeat(0.0)),
        ("b_latency", latency(baseline.2)),
        ("c_requests", repeat(canary.0)),
        ("c_errors", repeat(canary.1)),
        ("c_throttles", repeat(0.0)),
        ("c_latency", latency(canary.2)),
    ])
}

struct Setup {
    evaluator: CanaryEvaluator<CloudWatchMetrics, LambdaAliases>,
    metric_rule: Rule,
    requests: Arc<Mutex<Vec<GetMetricDataInput>>>,
}

fn metric_output(world: &World, request: &GetMetricDataInput) -> GetMetricDataOutput {
    let start = request.start_time().unwrap().secs();
    let mut output = GetMetricDataOutput::builder();
    for query in request.metric_data_queries() {
        let id = query.id().unwrap();
        let mut result = MetricDataResult::builder().id(id).status_code(StatusCode::Complete);
        for (minute, value) in world.get(id).into_iter().flatten().enumerate() {
            if let Some(value) = value {
                result = result
                    .timestamps(DateTime::from_secs(start + 60 * minute as i64))
                    .values(*value);
            }
        }
        output = output.metric_data_results(result.build());
    }
    output.build()
}

fn setup_with(world: World, weights: Option<f64>) -> Setup {
    let alias = mock!(aws_sdk_lambda::Client::get_alias)
        .match_requests(|request| request.function_name() == Some("orders-api") && request.name() == Some("live"))
        .then_output(move || {
            let output = GetAliasOutput::builder().name("live").function_version("7");
            match weights {
                Some(weight) => output
                    .routing_config(
                        AliasRoutingConfiguration::builder()
                            .additional_version_weights("8", weight)
                            .build(),
                    )
                    .build(),
                None => output.build(),
            }
        });
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let metric_rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(move |request| {
            seen.lock().unwrap().push(request.clone());
            true
        })
        .then_compute_output(move |request| metric_output(&world, request));
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&alias]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&metric_rule]);
    Setup {
        evaluator: CanaryEvaluator::new(CloudWatchMetrics::new(cloudwatch), LambdaAliases::new(lambda)),
        metric_rule,
        requests,
    }
}

/// `live` on version 7 with 10% on version 8.
fn one_box_alias() -> Rule {
    mock!(aws_sdk_lambda::Client::get_alias).then_output(|| {
        GetAliasOutput::builder()
            .function_version("7")
            .routing_config(
                AliasRoutingConfiguration::builder()
                    .additional_version_weights("8", 0.1)
                    .build(),
            )
            .build()
    })
}

fn request(policy: &str) -> GateRequest {
    GateRequest {
        policy: Policy::from_json(policy).unwrap(),
        context: InvocationContext::default(),
        now: NOW.parse::<Timestamp>().unwrap(),
        waiting_since: None,
        mode: Mode::Direct,
        policy_source: None,
    }
}

async fn decide(setup: &Setup, policy: &str) -> Result<Decision, GateError> {
    setup.evaluator.decide(&request(policy)).await
}

#[tokio::test]
async fn a_healthy_one_box_passes_from_one_get_metric_data_call() {
    let setup = setup_with(world((900.0, 9.0, 100.0), (100.0, 1.0, 101.0)), Some(0.1));
    let decision = decide(&setup, ALIAS_POLICY).await.unwrap();
    assert_eq!(decision.decision, Verdict::Pass, "{}", decision.reason());
    assert_eq!(setup.metric_rule.num_calls(), 1);
    let sent = setup.requests.lock().unwrap()[0].clone();
    assert_eq!(sent.metric_data_queries().len(), 8);
    // Whole minutes only, 30 of them, ending at the last complete minute.
    assert_eq!(
        sent.end_time().unwrap().secs(),
        "2026-11-24T18:00:00Z".parse::<Timestamp>().unwrap().as_second()
    );
    assert_eq!(
        sent.end_time().unwrap().secs() - sent.start_time().unwrap().secs(),
        1_800
    );
    let canary_requests = sent
        .metric_data_queries()
        .iter()
        .find(|query| query.id() == Some("c_requests"))
        .unwrap();
    let stat = canary_requests.metric_stat().unwrap();
    let metric = stat.metric().unwrap();
    assert_eq!(
        (metric.namespace(), metric.metric_name(), stat.stat(), stat.period()),
        (Some("AWS/Lambda"), Some("Invocations"), Some("Sum"), Some(60))
    );
    let dimensions: BTreeMap<&str, &str> = metric
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap(), d.value().unwrap()))
        .collect();
    assert_eq!(
        dimensions,
        BTreeMap::from([
            ("ExecutedVersion", "8"),
            ("FunctionName", "orders-api"),
            ("Resource", "orders-api:live")
        ])
    );
    let judgement = &decision.evidence.to_json()["judgement"];
    assert_eq!(judgement["checks"][0]["counts"]["canary_requests"], 3_000);
    assert_eq!(judgement["checks"][2]["counts"]["expected_share"], 0.1);
    assert_eq!(decision.evidence.to_json()["target"]["canary_version"], "8");
    assert_eq!(decision.evidence.to_json()["get_metric_data_calls"], 1);
}

#[tokio::test]
async fn five_times_the_errors_fails() {
    let setup = setup_with(world((900.0, 9.0, 100.0), (100.0, 5.0, 100.0)), Some(0.1));
    let decision = decide(&setup, ALIAS_POLICY).await.unwrap();
    assert_eq!(decision.decision, Verdict::Fail);
    assert!(
        decision.reason().starts_with(
            "canary is worse than the baseline: errors: canary error rate 5.0000% vs baseline 1.0000% (ratio 5.00)"
        ),
        "{}",
        decision.reason()
    );
}

#[tokio::test]
async fn missing_datapoints_count_as_zero() {
    let mut world = world((900.0, 9.0, 100.0), (100.0, 1.0, 100.0));
    // A quiet stage: traffic in only 4 of 30 minutes. The canary's 400 requests are under
    // min_requests, its 4 latency periods under min_periods.
    for id in [
        "b_requests",
        "b_errors",
        "b_latency",
        "c_requests",
        "c_errors",
        "c_latency",
    ] {
        let series = world.get_mut(id).unwrap();
        for value in series.iter_mut().skip(4) {
            *value = None;
        }
    }
    world.remove("c_throttles");
    let setup = setup_with(world, Some(0.1));
    let decision = decide(&setup, ALIAS_POLICY).await.unwrap();
    assert_eq!(decision.decision, Verdict::Inconclusive);
    assert_eq!(
        decision.evidence.to_json()["judgement"]["checks"][0]["counts"]["canary_requests"],
        400
    );
    assert_eq!(
        decision.evidence.to_json()["judgement"]["checks"][1]["counts"]["canary_periods"],
        4
    );
    assert_eq!(decision.wait_until, Some("2026-11-24T18:01:30Z".parse().unwrap()));
    assert!(decision.reason().contains("needs about "), "{}", decision.reason());
    assert!(decision.outputs.contains_key("needed_requests"));
}

#[tokio::test]
async fn a_canary_that_goes_quiet_while_the_fleet_serves_fails_on_traffic() {
    let mut world = world((900.0, 9.0, 100.0), (100.0, 1.0, 100.0));
    for id in ["c_requests", "c_errors", "c_latency"] {
        let series = world.get_mut(id).unwrap();
        for value in series.iter_mut().skip(4) {
            *value = None;
        }
    }
    let setup = setup_with(world, Some(0.1));
    let decision = decide(&setup, ALIAS_POLICY).await.unwrap();
    assert_eq!(decision.decision, Verdict::Fail);
    assert!(
        decision
            .reason()
            .contains("traffic: canary share 1.46% vs expected 10.00%"),
        "{}",
        decision.reason()
    );
}

#[tokio::test]
async fn a_canary_with_no_traffic_fails() {
    let mut world = world((900.0, 9.0, 100.0), (0.0, 0.0, 0.0));
    world.insert("c_requests", vec![None; 30]);
    world.insert("c_errors", vec![None; 30]);
    world.insert("c_latency", vec![None; 30]);
    let setup = setup_with(world, Some(0.1));
    let decision = decide(&setup, ALIAS_POLICY).await.unwrap();
    assert_eq!(decision.decision, Verdict::Fail);
    assert!(
        decision
            .reason()
            .contains("the canary served no requests while the baseline served 27000"),
        "{}",
        decision.reason()
    );
}

#[tokio::test]
async fn an_alias_without_a_canary_version_is_an_error_not_a_pass() {
    let setup = setup_with(world((900.0, 9.0, 100.0), (100.0, 1.0, 100.0)), None);
    let error = decide(&setup, ALIAS_POLICY).await.unwrap_err();
    assert_eq!(error.error_type(), "InvalidInput");
    assert!(
        error
            .to_string()
            .contains("alias live of orders-api sends all traffic to version 7"),
        "{error}"
    );
    assert_eq!(setup.metric_rule.num_calls(), 0);
}

#[tokio::test]
async fn throttled_metric_reads_fail_closed() {
    let alias = one_box_alias();
    let metrics = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_error(|| {
        GetMetricDataError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    });
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&alias]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&metrics], |config| config
        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled()));
    let evaluator = CanaryEvaluator::new(CloudWatchMetrics::new(cloudwatch), LambdaAliases::new(lambda));
    let error = evaluator.decide(&request(ALIAS_POLICY)).await.unwrap_err();
    assert_eq!(error.error_type(), "DependencyUnavailable");
    assert!(
        error.to_string().starts_with("cloudwatch:GetMetricData was throttled"),
        "{error}"
    );
}

#[tokio::test]
async fn a_generic_pair_compares_by_dimensions() {
    let policy = r#"{"canary": {"pair": {"namespace": "AWS/ApplicationELB",
        "canary": {"TargetGroup": "targetgroup/orders-onebox/1"}, "baseline": {"TargetGroup": "targetgroup/orders/2"},
        "requests": {"metric": "RequestCount", "stat": "Sum"}, "errors": {"metric": "HTTPCode_Target_5XX_Count", "stat": "Sum"},
        "latency": {"metric": "TargetResponseTime", "stat": "p50"}}, "expected_canary_share": 0.1}}"#;
    let setup = setup_with(world((900.0, 9.0, 100.0), (100.0, 1.0, 100.0)), Some(0.1));
    let decision = decide(&setup, policy).await.unwrap();
    assert_eq!(decision.decision, Verdict::Pass, "{}", decision.reason());
    let sent = setup.requests.lock().unwrap()[0].clone();
    assert_eq!(sent.metric_data_queries().len(), 6);
    let latency = sent
        .metric_data_queries()
        .iter()
        .find(|query| query.id() == Some("c_latency"))
        .unwrap();
    let stat = latency.metric_stat().unwrap();
    assert_eq!(stat.stat(), Some("p50"));
    assert_eq!(
        stat.metric().unwrap().dimensions()[0].value(),
        Some("targetgroup/orders-onebox/1")
    );
}

/// The canary has 5x the fleet's errors, but CloudWatch does not answer its errors query in
/// full: before, the failed query read as zero errors and the canary passed.
#[tokio::test]
async fn an_errors_query_cloudwatch_did_not_answer_is_a_failed_read_never_zero_errors() {
    let answered = |status: Option<StatusCode>| {
        move |request: &GetMetricDataInput| {
            let full = metric_output(&world((900.0, 9.0, 100.0), (100.0, 5.0, 100.0)), request);
            let mut output = GetMetricDataOutput::builder();
            for result in full.metric_data_results() {
                if result.id() != Some("c_errors") {
                    output = output.metric_data_results(result.clone());
                } else if let Some(status) = &status {
                    output = output.metric_data_results(
                        MetricDataResult::builder()
                            .id("c_errors")
                            .status_code(status.clone())
                            .messages(MessageData::builder().code("Detail").value("from CloudWatch").build())
                            .build(),
                    );
                }
            }
            output.build()
        }
    };
    for (status, kind, says) in [
        (
            Some(StatusCode::InternalError),
            "DependencyUnavailable",
            "answered InternalError",
        ),
        (Some(StatusCode::Forbidden), "AccessDenied", "is Forbidden"),
        (
            Some(StatusCode::PartialData),
            "DependencyUnavailable",
            "PartialData after the last page",
        ),
        (
            Some(StatusCode::from("Shrug")),
            "DependencyUnavailable",
            "answered Shrug",
        ),
        (None, "DependencyUnavailable", "no result for query c_errors"),
    ] {
        let alias = one_box_alias();
        let metrics = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(answered(status.clone()));
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&alias]);
        let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&metrics]);
        let evaluator = CanaryEvaluator::new(CloudWatchMetrics::new(cloudwatch), LambdaAliases::new(lambda));
        let error = evaluator.decide(&request(ALIAS_POLICY)).await.unwrap_err();
        assert_eq!(error.error_type(), kind, "{status:?}: {error}");
        let text = error.to_string();
        assert!(
            text.starts_with("cloudwatch:GetMetricData") && text.contains(says) && text.contains("AWS/Lambda/Errors"),
            "{status:?}: {text}"
        );
        if status.is_some() {
            assert!(
                text.contains("Detail: from CloudWatch"),
                "CloudWatch's own message is kept: {text}"
            );
        }
    }
}

/// `PartialData` means "more on the next page": the series is read to its last page, once.
#[tokio::test]
async fn partial_data_is_read_to_the_last_page() {
    let full = world((900.0, 9.0, 100.0), (100.0, 5.0, 100.0));
    let halves = |first: bool| {
        let mut half = full.clone();
        for series in half.values_mut() {
            for (minute, value) in series.iter_mut().enumerate() {
                if (minute < 15) != first {
                    *value = None;
                }
            }
        }
        half
    };
    let (first, second) = (halves(true), halves(false));
    let pages = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|request| request.next_token().is_none())
        .then_compute_output(move |request| {
            let page = metric_output(&first, request);
            let mut output = GetMetricDataOutput::builder().next_token("page-2");
            for result in page.metric_data_results() {
                let mut result = result.clone();
                result.status_code = Some(StatusCode::PartialData);
                output = output.metric_data_results(result);
            }
            output.build()
        });
    let last = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|request| request.next_token() == Some("page-2"))
        .then_compute_output(move |request| metric_output(&second, request));
    let alias = one_box_alias();
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&alias]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&pages, &last]);
    let evaluator = CanaryEvaluator::new(CloudWatchMetrics::new(cloudwatch), LambdaAliases::new(lambda));
    let decision = evaluator.decide(&request(ALIAS_POLICY)).await.unwrap();
    assert_eq!((pages.num_calls(), last.num_calls()), (1, 1));
    assert_eq!(decision.evidence.to_json()["get_metric_data_calls"], 2);
    assert_eq!(decision.decision, Verdict::Fail, "{}", decision.reason());
    let counts = &decision.evidence.to_json()["judgement"]["checks"][0]["counts"];
    assert_eq!(
        (counts["canary_requests"].clone(), counts["canary_errors"].clone()),
        (serde_json::json!(3000), serde_json::json!(150))
    );
}

/// A side with traffic whose errors or latency series has no datapoint at all (a misspelled
/// metric or dimension) is no evidence of health: inconclusive, naming the series.
#[tokio::test]
async fn a_series_with_no_datapoint_where_traffic_flowed_is_inconclusive_not_healthy() {
    for (id, names) in [
        ("c_errors", "canary AWS/Lambda/Errors"),
        ("b_errors", "baseline AWS/Lambda/Errors"),
        ("c_latency", "canary AWS/Lambda/Duration"),
    ] {
        let mut world = world((900.0, 9.0, 100.0), (100.0, 1.0, 100.0));
        world.insert(id, vec![None; 30]);
        let setup = setup_with(world, Some(0.1));
        let decision = decide(&setup, ALIAS_POLICY).await.unwrap();
        assert_eq!(decision.decision, Verdict::Inconclusive, "{id}: {}", decision.reason());
        assert!(
            decision.reason().contains(names) && decision.reason().contains("no evidence of health"),
            "{id}: {}",
            decision.reason()
        );
        assert_eq!(
            decision.evidence.to_json()["missing_series"].as_array().unwrap().len(),
            1,
            "{id}"
        );
        assert_eq!(decision.wait_until, Some("2026-11-24T18:01:30Z".parse().unwrap()));
    }
    // A check shown failing on series that are all there still fails: 5x the errors, no latency.
    let mut world = world((900.0, 9.0, 100.0), (100.0, 5.0, 100.0));
    world.insert("c_latency", vec![None; 30]);
    let decision = decide(&setup_with(world, Some(0.1)), ALIAS_POLICY).await.unwrap();
    assert_eq!(decision.decision, Verdict::Fail, "{}", decision.reason());
}

/// A metric that publishes no zeros (an ALB's 5XX count) may say so: `when_missing: zero`.
#[tokio::test]
async fn an_errors_metric_that_publishes_no_zeros_may_count_missing_as_zero_when_the_policy_says_so() {
    let pair = |when_missing: &str| {
        format!(
            r#"{{"canary": {{"pair": {{"namespace": "AWS/ApplicationELB",
            "canary": {{"TargetGroup": "targetgroup/orders-onebox/1"}}, "baseline": {{"TargetGroup": "targetgroup/orders/2"}},
            "requests": {{"metric": "RequestCount", "stat": "Sum"}},
            "errors": {{"metric": "HTTPCode_Target_5XX_Count", "stat": "Sum"{when_missing}}}}}, "expected_canary_share": 0.1}}}}"#
        )
    };
    let mut quiet = world((900.0, 0.0, 100.0), (100.0, 0.0, 100.0));
    quiet.insert("b_errors", vec![None; 30]);
    quiet.insert("c_errors", vec![None; 30]);
    let setup = setup_with(quiet.clone(), Some(0.1));
    let strict = decide(&setup, &pair("")).await.unwrap();
    assert_eq!(strict.decision, Verdict::Inconclusive, "{}", strict.reason());
    assert!(strict.reason().contains("when_missing"), "{}", strict.reason());
    let setup = setup_with(quiet, Some(0.1));
    let lenient = decide(&setup, &pair(r#", "when_missing": "zero""#)).await.unwrap();
    assert_eq!(lenient.decision, Verdict::Pass, "{}", lenient.reason());
    assert_eq!(lenient.evidence.to_json()["missing_series"], serde_json::json!([]));
}

/// Before, a canary compared with a fleet whose requests series found nothing passed: no test
/// can fail a canary against nothing. Now that is missing evidence, named.
#[tokio::test]
async fn a_baseline_with_no_requests_is_nothing_to_pass_against() {
    let policy = r#"{"canary": {"pair": {"namespace": "Orders", "canary": {"Version": "2"}, "baseline": {"Version": "1"},
        "requests": {"metric": "Requests", "stat": "Sum"}, "errors": {"metric": "Errors", "stat": "Sum"}}}}"#;
    let mut world = world((900.0, 9.0, 100.0), (100.0, 100.0, 100.0));
    world.insert("b_requests", vec![None; 30]);
    world.insert("b_errors", vec![None; 30]);
    let decision = decide(&setup_with(world, Some(0.1)), policy).await.unwrap();
    assert_eq!(decision.decision, Verdict::Inconclusive, "{}", decision.reason());
    assert!(
        decision
            .reason()
            .contains("baseline Orders/Requests (Version=1) has no requests in the window"),
        "{}",
        decision.reason()
    );
}

/// A failure on one page stays one when a later page says Complete; a result for a query never
/// asked is ignored; two datapoints at one instant make the answer unreadable.
#[tokio::test]
async fn a_failed_page_is_not_mended_by_the_next_and_unasked_or_doubled_results_are_not_evidence() {
    let full = world((900.0, 9.0, 100.0), (100.0, 1.0, 100.0));
    let first_page = {
        let full = full.clone();
        move |request: &GetMetricDataInput| {
            let page = metric_output(&full, request);
            let mut output = GetMetricDataOutput::builder().next_token("page-2");
            for result in page.metric_data_results() {
                let mut result = result.clone();
                if result.id() == Some("c_errors") {
                    result.status_code = Some(StatusCode::InternalError);
                }
                output = output.metric_data_results(result);
            }
            output.build()
        }
    };
    let pages = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|request| request.next_token().is_none())
        .then_compute_output(first_page);
    let last = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|request| request.next_token() == Some("page-2"))
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("c_errors")
                        .status_code(StatusCode::Complete)
                        .build(),
                )
                .build()
        });
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&one_box_alias()]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&pages, &last]);
    let evaluator = CanaryEvaluator::new(CloudWatchMetrics::new(cloudwatch), LambdaAliases::new(lambda));
    let error = evaluator.decide(&request(ALIAS_POLICY)).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("query c_errors (AWS/Lambda/Errors Sum) answered InternalError"),
        "{error}"
    );

    let doubled = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(move |request| {
        let page = metric_output(&full, request);
        let mut output = GetMetricDataOutput::builder().metric_data_results(
            MetricDataResult::builder()
                .id("x_unasked")
                .status_code(StatusCode::Complete)
                .values(1e9)
                .timestamps(DateTime::from_secs(0))
                .build(),
        );
        for result in page.metric_data_results() {
            output = output.metric_data_results(result.clone());
            if result.id() == Some("c_requests") {
                output = output.metric_data_results(result.clone());
            }
        }
        output.build()
    });
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&one_box_alias()]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&doubled]);
    let evaluator = CanaryEvaluator::new(CloudWatchMetrics::new(cloudwatch), LambdaAliases::new(lambda));
    let error = evaluator.decide(&request(ALIAS_POLICY)).await.unwrap_err();
    assert!(
        error.to_string().contains("query c_requests has two datapoints at"),
        "{error}"
    );
}

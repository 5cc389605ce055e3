//! The bake-time waiter on aws-sdk-cloudwatch clients answered by aws-smithy-mocks, with its
//! bake sessions and audit trail in the in-memory store: every outcome, with the calls it costs
//! and what it records.

use aws_sdk_cloudwatch::operation::describe_alarm_history::DescribeAlarmHistoryOutput;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    AlarmHistoryItem, HistoryItemType, MetricAlarm, MetricDataResult, StateValue, StatusCode,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use handsoff::context::InvocationContext;
use handsoff::decision::{Decision, Verdict};
use handsoff::error::GateError;
use handsoff::gates::bake_time_waiter::BakeTimeWaiter;
use handsoff::gates::{Gate, GateRequest, Mode};
use handsoff::invoke::codepipeline::answer_for;
use handsoff::policy::Policy;
use handsoff::ports::alarms::CloudWatchAlarms;
use handsoff::ports::lambda_alias::LambdaAliases;
use handsoff::ports::metrics::CloudWatchMetrics;
use handsoff::ports::pipeline_jobs::JobAnswer;
use handsoff::ports::store::memory::InMemoryStore;
use jiff::Timestamp;

const POLICY: &str = r#"{"bake": {"duration": "1h", "max_duration": "3h",
    "min_datapoints": [
        {"namespace": "AWS/Lambda", "metric": "Invocations", "dimensions": {"FunctionName": "orders-api", "Resource": "orders-api:live"}, "min": 100},
        {"namespace": "AWS/ApiGateway", "metric": "Count", "dimensions": {"ApiName": "orders"}, "stat": "SampleCount", "min": 50}],
    "alarms": [{"names": ["orders-high-sev"]}]}}"#;
const START: &str = "2026-11-24T17:00:00Z";

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

struct World {
    /// Per floor, the value each minute.
    per_minute: [f64; 2],
    /// (when, new state) transitions of orders-high-sev.
    history: Vec<(&'static str, &'static str)>,
    state_now: StateValue,
    /// Whether orders-high-sev exists at all (a typo in the policy finds nothing).
    exists: bool,
    /// The one-box (100 requests a minute) against the fleet (900 a minute, 1 error): from this
    /// many minutes after the bake began, the one-box fails 2 requests a minute (none before).
    one_box_errors_from: Option<i64>,
}

/// A one-box's series at minute `minute` of the bake.
fn one_box_value(id: &str, minute: i64, errors_from: Option<i64>) -> f64 {
    match id {
        "c_requests" => 100.0,
        "b_requests" => 900.0,
        "b_errors" => 1.0,
        "c_errors" if errors_from.is_some_and(|from| minute >= from) => 2.0,
        _ => 0.0,
    }
}

struct Setup {
    waiter: BakeTimeWaiter<CloudWatchAlarms, CloudWatchMetrics, InMemoryStore, LambdaAliases>,
    metric_rule: Rule,
    history_rule: Rule,
    /// What the waiter recorded.
    store: InMemoryStore,
}

fn setup(world: World) -> Setup {
    let World {
        per_minute,
        history,
        state_now,
        exists,
        one_box_errors_from,
    } = world;
    let metric_rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(move |request| {
        let (start, end) = (request.start_time().unwrap().secs(), request.end_time().unwrap().secs());
        let mut output = GetMetricDataOutput::builder();
        for query in request.metric_data_queries() {
            let id = query.id().unwrap();
            let mut result = MetricDataResult::builder().id(id).status_code(StatusCode::Complete);
            let mut at = start;
            while at + 60 <= end {
                let value = match id.strip_prefix("floor") {
                    Some(index) => per_minute[index.parse::<usize>().unwrap()],
                    None => one_box_value(id, (at - ts(START).as_second()) / 60, one_box_errors_from),
                };
                result = result.timestamps(DateTime::from_secs(at)).values(value);
                at += 60;
            }
            output = output.metric_data_results(result.build());
        }
        output.build()
    });
    let history_rule = mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
        .match_requests(|request| {
            request.alarm_name() == Some("orders-high-sev")
                && request.history_item_type() == Some(&HistoryItemType::StateUpdate)
        })
        .then_compute_output(move |request| {
            let since = request.start_date().unwrap().secs();
            let mut output = DescribeAlarmHistoryOutput::builder();
            for (at, state) in &history {
                let at = ts(at).as_second();
                if at >= since {
                    output = output.alarm_history_items(
                        AlarmHistoryItem::builder()
                            .alarm_name("orders-high-sev")
                            .timestamp(DateTime::from_secs(at))
                            .history_item_type(HistoryItemType::StateUpdate)
                            .history_summary(format!("Alarm updated to {state}"))
                            .history_data(format!(r#"{{"version":"1.0","newState":{{"stateValue":"{state}"}}}}"#))
                            .build(),
                    );
                }
            }
            output.build()
        });
    let state_rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        let alarm = MetricAlarm::builder()
            .alarm_name("orders-high-sev")
            .state_value(state_now.clone())
            .state_reason("Threshold Crossed")
            .build();
        DescribeAlarmsOutput::builder()
            .set_metric_alarms(Some(if exists { vec![alarm] } else { Vec::new() }))
            .build()
    });
    let cloudwatch = mock_client!(
        aws_sdk_cloudwatch,
        RuleMode::MatchAny,
        [&metric_rule, &history_rule, &state_rule]
    );
    // The bake session exists already: the conditional write fails and the first start is read.
    // The bake began at START: an earlier poll recorded it.
    let store = InMemoryStore::default();
    store.bake_started("orders", "Prod", "exec-1", ts(START));
    let waiter = BakeTimeWaiter::new(
        CloudWatchAlarms::with_client(cloudwatch.clone()),
        CloudWatchMetrics::new(cloudwatch),
        store.clone(),
        // A pair one-box: no alias to read (any call would fail the test).
        LambdaAliases::new(mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [])),
    );
    Setup {
        waiter,
        metric_rule,
        history_rule,
        store,
    }
}

fn request(now: &str) -> GateRequest {
    request_with(POLICY, now)
}

fn request_with(policy: &str, now: &str) -> GateRequest {
    GateRequest {
        policy: Policy::from_json(policy).unwrap(),
        context: InvocationContext {
            pipeline: Some("orders".into()),
            stage: Some("Prod".into()),
            execution_id: Some("exec-1".into()),
            action: None,
            reason: None,
            waiting_since: None,
        },
        now: ts(now),
        waiting_since: None,
        mode: Mode::Direct,
        policy_source: None,
    }
}

async fn poll(setup: &Setup, now: &str) -> Result<Decision, GateError> {
    setup.waiter.decide(&request(now)).await
}

fn quiet() -> World {
    World {
        per_minute: [2.0, 1.0],
        history: Vec::new(),
        state_now: StateValue::Ok,
        exists: true,
        one_box_errors_from: None,
    }
}

#[tokio::test]
async fn waits_with_progress_and_reads_all_floors_in_one_call() {
    let setup = setup(quiet());
    let decision = poll(&setup, "2026-11-24T17:42:10Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Wait);
    assert_eq!(decision.reason(), "baked 42m of 1h; 84/100 Invocations, 42/50 Count");
    assert_eq!(decision.progress, Some(70));
    assert_eq!(setup.metric_rule.num_calls(), 1, "both floors in one GetMetricData");
    assert_eq!(decision.evidence.to_json()["started_at"], START);
    let audited = setup.store.audit_records();
    assert_eq!(audited.len(), 1, "each poll's decision is audited");
    assert_eq!(
        (audited[0].decision.as_deref(), &audited[0].detail["started_at"]),
        (Some("wait"), &serde_json::json!(START))
    );
    // In CodePipeline the wait shows as percentComplete and a summary.
    let JobAnswer::Continue {
        summary,
        percent_complete,
        ..
    } = answer_for("bake-time-waiter", &Ok(decision), None, ts("2026-11-24T17:42:10Z"))
    else {
        panic!("continue")
    };
    assert_eq!(percent_complete, Some(70));
    assert_eq!(
        summary,
        "bake-time-waiter: waiting: baked 42m of 1h; 84/100 Invocations, 42/50 Count"
    );
}

#[tokio::test]
async fn completes_when_time_and_every_floor_are_met() {
    let decision = poll(&setup(quiet()), "2026-11-24T18:00:00Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Proceed);
    assert_eq!(
        decision.reason(),
        "bake complete: baked the full 1h; 120/100 Invocations, 60/50 Count"
    );
}

#[tokio::test]
async fn floors_met_before_time_keep_waiting() {
    let busy = World {
        per_minute: [50.0, 50.0],
        ..quiet()
    };
    let decision = poll(&setup(busy), "2026-11-24T17:10:00Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Wait);
    assert_eq!(decision.progress, Some(16));
}

#[tokio::test]
async fn an_alarm_that_fired_and_recovered_between_polls_rolls_back() {
    let flapped = World {
        history: vec![("2026-11-24T17:20:00Z", "ALARM"), ("2026-11-24T17:24:00Z", "OK")],
        ..quiet()
    };
    let setup = setup(flapped);
    let decision = poll(&setup, "2026-11-24T17:30:00Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Rollback);
    assert!(
        decision
            .reason()
            .starts_with("roll back: orders-high-sev went to ALARM at 2026-11-24T17:20:00Z"),
        "{}",
        decision.reason()
    );
    assert_eq!(setup.history_rule.num_calls(), 1);
    assert_eq!(
        decision.evidence.to_json()["alarm_episodes"][0]["alarm"],
        "orders-high-sev"
    );
}

#[tokio::test]
async fn an_alarm_in_alarm_now_rolls_back_even_without_history() {
    let firing = World {
        state_now: StateValue::Alarm,
        ..quiet()
    };
    let decision = poll(&setup(firing), "2026-11-24T17:30:00Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Rollback);
    assert!(
        decision
            .reason()
            .contains("orders-high-sev is in ALARM: Threshold Crossed"),
        "{}",
        decision.reason()
    );
}

#[tokio::test]
async fn max_duration_without_the_floor_fails_with_the_counts() {
    let trickle = World {
        per_minute: [0.25, 1.0],
        ..quiet()
    };
    let decision = poll(&setup(trickle), "2026-11-24T20:00:00Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Block);
    assert!(
        decision.reason().contains("only 45 of 100 Invocations arrived"),
        "{}",
        decision.reason()
    );
    assert!(decision.reason().contains("synthetic traffic"));
}

#[tokio::test]
async fn a_bake_needs_to_know_its_deployment() {
    let setup = setup(quiet());
    let mut request = request("2026-11-24T17:30:00Z");
    request.context.execution_id = None;
    let error = setup.waiter.decide(&request).await.unwrap_err();
    assert_eq!(error.error_type(), "InvalidInput");
    assert!(error.to_string().contains("context.execution_id"));
}

/// The blocker blocks on a misspelled alarm; the bake watches by the same rule. Before, a bake
/// whose only alarm did not exist completed as if the alarm had stayed OK.
#[tokio::test]
async fn a_watched_alarm_that_does_not_exist_never_completes_the_bake() {
    let typo = World {
        exists: false,
        ..quiet()
    };
    let decision = poll(&setup(typo), "2026-11-24T18:00:00Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Block, "{}", decision.reason());
    assert!(
        decision
            .reason()
            .starts_with("the bake cannot watch its alarms: alarm orders-high-sev not found"),
        "{}",
        decision.reason()
    );
    assert_eq!(decision.evidence.to_json()["alarms_not_ok"][0]["kind"], "not_found");
}

/// An alarm without data never showed the stage healthy: the bake waits for it past its time
/// and floors, and blocks at max_duration. Before, it completed at one hour.
#[tokio::test]
async fn an_alarm_in_insufficient_data_for_the_whole_bake_never_completes_it() {
    let silent = World {
        state_now: StateValue::InsufficientData,
        ..quiet()
    };
    let setup = setup(silent);
    let decision = poll(&setup, "2026-11-24T18:00:00Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Wait, "{}", decision.reason());
    assert_eq!(
        decision.reason(),
        "baked the full 1h; 120/100 Invocations, 60/50 Count; waiting for orders-high-sev is INSUFFICIENT_DATA: Threshold Crossed to be OK"
    );
    let decision = poll(&setup, "2026-11-24T20:00:00Z").await.unwrap();
    assert_eq!(decision.decision, Verdict::Block, "{}", decision.reason());
    assert!(
        decision.reason().contains(
            "with watched alarms not OK, so they never showed the stage healthy: orders-high-sev is INSUFFICIENT_DATA"
        ),
        "{}",
        decision.reason()
    );
    assert!(
        !decision.reason().contains("traffic floor"),
        "the floors were met: {}",
        decision.reason()
    );
}

/// POLICY with the one-box judged at every poll: a pair of dimensions, the default split.
fn judged_policy() -> String {
    let canary = r#""canary": {"pair": {"namespace": "Orders", "canary": {"Version": "2"}, "baseline": {"Version": "1"},
        "requests": {"metric": "Requests", "stat": "Sum"}, "errors": {"metric": "Errors", "stat": "Sum"}}}"#;
    POLICY.replacen('{', &format!("{{{canary}, "), 1)
}

/// Before, a one-box failing twenty times as often as its fleet kept serving until the whole
/// bake had passed. Now the bake judges it at every poll (in the same GetMetricData call as
/// the floors) and rolls back as soon as the evidence is there, saying why.
#[tokio::test]
async fn a_one_box_whose_errors_start_mid_bake_is_rolled_back_at_the_next_poll() {
    let healthy = setup(quiet());
    let decision = healthy
        .waiter
        .decide(&request_with(&judged_policy(), "2026-11-24T17:20:00Z"))
        .await
        .unwrap();
    assert_eq!(decision.decision, Verdict::Wait, "{}", decision.reason());
    assert_eq!(decision.evidence.to_json()["sequential"]["verdict"], "continue");
    assert_eq!(decision.evidence.to_json()["sequential"]["looks"], 20);
    assert_eq!(healthy.metric_rule.num_calls(), 1, "floors and one-box in one call");

    let failing = setup(World {
        one_box_errors_from: Some(12),
        ..quiet()
    });
    let early = failing
        .waiter
        .decide(&request_with(&judged_policy(), "2026-11-24T17:12:00Z"))
        .await
        .unwrap();
    assert_eq!(early.decision, Verdict::Wait, "no errors yet: {}", early.reason());
    let decision = failing
        .waiter
        .decide(&request_with(&judged_policy(), "2026-11-24T17:18:00Z"))
        .await
        .unwrap();
    assert_eq!(decision.decision, Verdict::Rollback, "{}", decision.reason());
    assert!(
        decision
            .reason()
            .starts_with("roll back: the one-box's error rate is 6.0x the fleet's (12/1800 vs 18/16200 since the bake began): e-value"),
        "{}",
        decision.reason()
    );
    let judged = &decision.evidence.to_json()["sequential"];
    assert_eq!(
        (judged["verdict"].clone(), judged["looks"].clone()),
        (serde_json::json!("fail"), serde_json::json!(18))
    );
    assert!(judged["e_value"].as_f64().unwrap() >= judged["threshold"].as_f64().unwrap());
    assert_eq!(judged["threshold"].as_f64().unwrap().round(), 125.0);
    assert_eq!(judged["target"]["canary"]["Version"], "2");
    assert_eq!(failing.metric_rule.num_calls(), 2, "one call per poll");
    // In CodePipeline the job fails with the reason; Step Functions rolls back on `rollback`.
    let JobAnswer::Fail { message, .. } =
        answer_for("bake-time-waiter", &Ok(decision), None, ts("2026-11-24T17:18:00Z"))
    else {
        panic!("a rollback fails the job")
    };
    assert!(message.contains("error rate is 6.0x the fleet's"), "{message}");
}

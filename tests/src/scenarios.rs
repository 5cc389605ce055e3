//! The end-to-end scenarios: the real function binaries, through the real state machines, on
//! the local stack. Each scenario sets up a service being deployed ("orders-api": a Lambda
//! function whose `live` alias sends 10% of traffic to the new version, its alarm, its metrics),
//! runs an execution and returns what happened, as a timeline a person can read. The tests in
//! `tests/tests/scenarios.rs` assert on it; the demo prints it.
//!
//! Over 400 lines: the eight scenarios share one world (the service, its alarms, traffic, the
//! state machines), so they stay beside it; each scenario is one short function.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic};
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Value, json};

use crate::local_stack::{FUNCTIONS, LocalStack, TABLE, binaries_dir};

pub const PIPELINE: &str = "orders";
pub const FUNCTION: &str = "orders-api";
/// The aggregate alarm the alarm blocker watches before a wave starts.
pub const ALARM: &str = "orders-high-sev";
/// The one-box's own alarm the bake watches (an override of the blocker does not silence it).
pub const ONEBOX_ALARM: &str = "orders-onebox-faults";

const SAFE_STAGE: &str = include_str!("../../statemachines/safe-stage.asl.json");
const POST_STAGE_VALIDATION: &str = include_str!("../../statemachines/post-stage-validation.asl.json");

fn arn(function: &str) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:function:{function}")
}

/// A state machine definition with its substitutions filled in, as the SAM template does.
pub fn definition(asl: &str) -> String {
    let mut text = asl.replace("${TableName}", TABLE).replace("${EventBusName}", "default");
    for (key, function) in [
        ("AlarmBlockerArn", "alarm-blocker"),
        ("TimeWindowGateArn", "time-window-gate"),
        ("BakeTimeWaiterArn", "bake-time-waiter"),
        ("CanaryEvaluatorArn", "canary-evaluator"),
        ("RollbackTriggerArn", "rollback-trigger"),
        ("ValidationTestRunnerArn", "validation-test-runner"),
    ] {
        text = text.replace(&format!("${{{key}}}"), &arn(function));
    }
    text
}

/// The service being deployed and the clients to watch it.
pub struct World {
    pub stack: LocalStack,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub safe_stage: String,
    pub post_stage_validation: String,
    /// The version the alias sends 90% of traffic to, and the one-box's.
    pub old_version: String,
    pub new_version: String,
    /// What the gates, the state machines and the command published (source handsoff).
    pub events: crate::event_tap::EventTap,
    traffic: Arc<AtomicBool>,
}

/// How the one-box behaves in the canary's metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Canary {
    Healthy,
    /// Five times the fleet's error rate.
    FiveTimesTheErrors,
}

impl World {
    pub async fn prepare() -> Result<World, String> {
        let stack = LocalStack::start();
        let config = stack.sdk_config();
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
        let lambda = aws_sdk_lambda::Client::new(&config);
        let sfn = aws_sdk_sfn::Client::new(&config);
        create_table(&dynamodb).await?;
        let events = crate::event_tap::EventTap::start(&config, "handsoff-events").await?;
        for alarm in [ALARM, ONEBOX_ALARM] {
            create_ok_alarm(&cloudwatch, alarm).await?;
        }
        let role = stack.aws.moto.create_iam_role("orders-api");
        let (old_version, new_version) = deploy_one_box(&lambda, &role).await?;
        let sfn_role = stack.aws.moto.create_iam_role("handsoff-state-machines");
        let mut machines = Vec::new();
        for (name, asl) in [
            ("safe-stage", SAFE_STAGE),
            ("post-stage-validation", POST_STAGE_VALIDATION),
        ] {
            let created = sfn
                .create_state_machine()
                .name(name)
                .definition(definition(asl))
                .role_arn(&sfn_role)
                .send()
                .await
                .map_err(|error| format!("CreateStateMachine {name}: {error:?}"))?;
            machines.push(created.state_machine_arn().to_string());
        }
        Ok(World {
            stack,
            cloudwatch,
            lambda,
            sfn,
            post_stage_validation: machines.pop().unwrap_or_default(),
            safe_stage: machines.pop().unwrap_or_default(),
            old_version,
            new_version,
            events,
            traffic: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Puts the last five minutes of canary and fleet metrics, and keeps real-looking traffic
    /// flowing to the alias (the bake's datapoint floor) until the world is dropped.
    pub async fn serve_traffic(&self, canary: Canary) -> Result<(), String> {
        let now = Timestamp::now();
        let canary_errors = match canary {
            Canary::Healthy => 20.0,
            Canary::FiveTimesTheErrors => 100.0,
        };
        for minutes_ago in 1..=5 {
            let at = now - SignedDuration::from_mins(minutes_ago);
            put_versions(
                &self.cloudwatch,
                at,
                &[("1", 4000.0, 40.0), ("2", 2000.0, canary_errors)],
            )
            .await?;
        }
        self.traffic.store(true, Ordering::SeqCst);
        keep_invoking(vec![self.cloudwatch.clone()], Arc::clone(&self.traffic));
        Ok(())
    }

    pub async fn set_alarm(&self, alarm: &str, state: StateValue, reason: &str) -> Result<(), String> {
        set_alarm(&self.cloudwatch, alarm, state, reason).await
    }

    /// Where the `live` alias points: (primary version, one-box version and weight if any).
    pub async fn alias(&self) -> Result<(String, Option<(String, f64)>), String> {
        crate::release::alias_of(&self.lambda, FUNCTION, "live").await
    }

    /// Starts an execution of `machine` named `name`.
    pub async fn start(&self, machine: &str, name: &str, input: &Value) -> Result<String, String> {
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .map_err(|error| format!("StartExecution: {error:?}"))?;
        Ok(started.execution_arn().to_string())
    }

    /// Waits until the execution has entered `state` (true) or ended first (false).
    pub async fn wait_for_state(&self, execution: &str, state: &str, within: Duration) -> Result<bool, String> {
        let started = Instant::now();
        loop {
            let run = self.run_of(execution).await?;
            if run.entered.iter().any(|entered| entered == state) {
                return Ok(true);
            }
            if run.status != "RUNNING" {
                return Ok(false);
            }
            if started.elapsed() > within {
                return Err(format!(
                    "{execution} did not reach {state} within {within:?}\n{}",
                    run.timeline()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits for the execution to end and returns what happened.
    pub async fn finish(&self, execution: &str, within: Duration) -> Result<Run, String> {
        finish(&self.sfn, execution, within).await
    }

    async fn run_of(&self, execution: &str) -> Result<Run, String> {
        run_of(&self.sfn, execution).await
    }

    /// The `handsoff` command against the local stack, ready to run.
    pub fn handsoff_command(&self, args: &[&str]) -> Command {
        let mut command = crate::handsoff_command(&binaries_dir().join("handsoff"), Some(&self.stack.endpoint()));
        command
            .env("HANDSOFF_TABLE", TABLE)
            .env(
                "HANDSOFF_SCHEDULER_ROLE_ARN",
                "arn:aws:iam::123456789012:role/handsoff-override-expiry",
            )
            .args(args);
        command
    }

    /// Runs the `handsoff` command against the local stack.
    pub fn handsoff(&self, args: &[&str]) -> (i32, String) {
        let binary: PathBuf = binaries_dir().join("handsoff");
        let output = self
            .handsoff_command(args)
            .output()
            .unwrap_or_else(|error| panic!("{}: {error} (build it: cargo build --bins)", binary.display()));
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        (output.status.code().unwrap_or(-1), text)
    }
}

/// Real-looking traffic: the `live` alias invoked 50 times every 2 s in each client's region
/// (the bake's traffic floor), until `running` turns false.
pub(crate) fn keep_invoking(clients: Vec<aws_sdk_cloudwatch::Client>, running: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let dimensions = [("FunctionName", FUNCTION), ("Resource", "orders-api:live")];
        while running.load(Ordering::SeqCst) {
            for cloudwatch in &clients {
                let _ = put_metric(
                    cloudwatch,
                    "AWS/Lambda",
                    "Invocations",
                    &dimensions,
                    50.0,
                    Timestamp::now(),
                )
                .await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}

/// Waits for the execution to end and returns what happened.
pub async fn finish(sfn: &aws_sdk_sfn::Client, execution: &str, within: Duration) -> Result<Run, String> {
    let started = Instant::now();
    loop {
        let run = run_of(sfn, execution).await?;
        if run.status != "RUNNING" {
            return Ok(run);
        }
        if started.elapsed() > within {
            return Err(format!(
                "{execution} still running after {within:?}\n{}",
                run.timeline()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What an execution did so far, read from Step Functions.
pub async fn run_of(sfn: &aws_sdk_sfn::Client, execution: &str) -> Result<Run, String> {
    let described = sfn
        .describe_execution()
        .execution_arn(execution)
        .send()
        .await
        .map_err(|error| format!("DescribeExecution: {error:?}"))?;
    let history = sfn
        .get_execution_history()
        .execution_arn(execution)
        .max_results(1000)
        .send()
        .await
        .map_err(|error| format!("GetExecutionHistory: {error:?}"))?;
    let start = described.start_date().secs() as f64 + f64::from(described.start_date().subsec_nanos()) / 1e9;
    let mut run = Run {
        status: described.status().as_str().to_string(),
        error: described.error().map(str::to_string),
        cause: described.cause().map(str::to_string),
        entered: Vec::new(),
        events: Vec::new(),
    };
    for event in history.events() {
        let at = event.timestamp().secs() as f64 + f64::from(event.timestamp().subsec_nanos()) / 1e9 - start;
        if let Some(entered) = event.state_entered_event_details() {
            run.entered.push(entered.name().to_string());
            if let Some(what) = step_of(entered.name()) {
                run.events.push(Event::Step { at, what });
            }
            if entered.name().starts_with("WaitFor") {
                run.events.push(Event::Waiting {
                    at,
                    state: entered.name().to_string(),
                });
            }
        }
        if let Some(succeeded) = event.task_succeeded_event_details() {
            let output: Value = serde_json::from_str(succeeded.output().unwrap_or("{}")).unwrap_or_default();
            let decision = output.get("Payload").cloned().unwrap_or(output);
            // Only the gates' answers: the alias reads and moves are shown as steps.
            if decision.get("gate").is_some() {
                run.events.push(Event::Decision { at, decision });
            }
        }
        if let Some(failed) = event.task_failed_event_details() {
            let cause: Value = serde_json::from_str(failed.cause().unwrap_or("{}")).unwrap_or_default();
            run.events.push(Event::Error {
                at,
                error: failed.error().unwrap_or_default().to_string(),
                message: cause["errorMessage"]
                    .as_str()
                    .unwrap_or(failed.cause().unwrap_or_default())
                    .to_string(),
            });
        }
    }
    Ok(run)
}

impl Drop for World {
    fn drop(&mut self) {
        self.traffic.store(false, Ordering::SeqCst);
    }
}

pub(crate) async fn create_table(dynamodb: &aws_sdk_dynamodb::Client) -> Result<(), String> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|error| error.to_string())
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|error| error.to_string())
    };
    dynamodb
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await
        .map_err(|error| format!("CreateTable: {error:?}"))?;
    Ok(())
}

/// An alarm on orders-api's errors (above 10 in a minute), in OK.
pub(crate) async fn create_ok_alarm(cloudwatch: &aws_sdk_cloudwatch::Client, alarm: &str) -> Result<(), String> {
    cloudwatch
        .put_metric_alarm()
        .alarm_name(alarm)
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .dimensions(Dimension::builder().name("FunctionName").value(FUNCTION).build())
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(10.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .map_err(|error| format!("PutMetricAlarm {alarm}: {error:?}"))?;
    set_alarm(cloudwatch, alarm, StateValue::Ok, "errors under threshold").await
}

pub(crate) async fn set_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    alarm: &str,
    state: StateValue,
    reason: &str,
) -> Result<(), String> {
    cloudwatch
        .set_alarm_state()
        .alarm_name(alarm)
        .state_value(state)
        .state_reason(reason)
        .send()
        .await
        .map_err(|error| format!("SetAlarmState: {error:?}"))?;
    Ok(())
}

/// Orders' `Requests` and `Errors` of each (version, requests, errors), at one instant.
async fn put_versions(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    at: Timestamp,
    versions: &[(&str, f64, f64)],
) -> Result<(), String> {
    for (version, requests, errors) in versions {
        for (metric, value) in [("Requests", *requests), ("Errors", *errors)] {
            put_metric(cloudwatch, "Orders", metric, &[("Version", version)], value, at).await?;
        }
    }
    Ok(())
}

pub(crate) async fn put_metric(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    value: f64,
    at: Timestamp,
) -> Result<(), String> {
    let mut datum = MetricDatum::builder()
        .metric_name(metric)
        .value(value)
        .timestamp(DateTime::from_millis(at.as_millisecond()));
    for (name, dimension) in dimensions {
        datum = datum.dimensions(Dimension::builder().name(*name).value(*dimension).build());
    }
    cloudwatch
        .put_metric_data()
        .namespace(namespace)
        .metric_data(datum.build())
        .send()
        .await
        .map_err(|error| format!("PutMetricData: {error:?}"))?;
    Ok(())
}

/// Publishes two versions of orders-api and points `live` at the old one with 10% on the new.
async fn deploy_one_box(lambda: &aws_sdk_lambda::Client, role: &str) -> Result<(String, String), String> {
    let old = crate::release::create_service(lambda, role, FUNCTION, "live").await?;
    crate::release::ship_new_code(lambda, FUNCTION).await?;
    let new = crate::release::publish(lambda, FUNCTION).await?;
    let routing = AliasRoutingConfiguration::builder()
        .additional_version_weights(&new, 0.1)
        .build();
    lambda
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .routing_config(routing)
        .send()
        .await
        .map_err(|error| format!("UpdateAlias: {error:?}"))?;
    Ok((old, new))
}

/// What one execution did.
#[derive(Debug, Clone)]
pub struct Run {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Every state entered, in order.
    pub entered: Vec<String>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// A gate's decision (seconds since the execution started).
    Decision { at: f64, decision: Value },
    /// A gate's typed error.
    Error { at: f64, error: String, message: String },
    /// A `Wait` state began.
    Waiting { at: f64, state: String },
    /// The release moved the alias (safe-region).
    Step { at: f64, what: &'static str },
}

/// The safe-region states a person follows a release by.
fn step_of(state: &str) -> Option<&'static str> {
    match state {
        "OneBox" => Some("one-box: the alias sends the new version its share of traffic"),
        "Promote" => Some("promote: the alias sends all traffic to the new version"),
        "NothingToRelease" => Some("nothing to release: the alias already serves this version"),
        _ => None,
    }
}

impl Run {
    /// The decisions of one gate, in order.
    pub fn decisions_of(&self, gate: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Decision { decision, .. } if decision["gate"] == gate => Some(decision),
                _ => None,
            })
            .collect()
    }

    /// Each decision, its reason and its evidence, one line each, as a person reads them.
    pub fn timeline(&self) -> String {
        let mut out = String::new();
        for event in &self.events {
            let _ = match event {
                Event::Decision { at, decision } => {
                    let evidence = decision["evidence"].to_string();
                    let evidence = if evidence.len() > 160 {
                        format!("{}…", &evidence[..evidence.floor_char_boundary(160)])
                    } else {
                        evidence
                    };
                    let verdict = decision["decision"].as_str().unwrap_or("?");
                    let reason = decision["reasons"][0].as_str().unwrap_or_default();
                    writeln!(
                        out,
                        "  +{at:6.1}s  {:<18} {verdict:<12} {reason}\n              evidence: {evidence}",
                        decision["gate"].as_str().unwrap_or("?")
                    )
                }
                Event::Error { at, error, message } => writeln!(out, "  +{at:6.1}s  {error}: {message}"),
                Event::Waiting { at, state } => writeln!(out, "  +{at:6.1}s  … {state}"),
                Event::Step { at, what } => writeln!(out, "  +{at:6.1}s  {what}"),
            };
        }
        let end = match (&self.error, &self.cause) {
            (Some(error), Some(cause)) => format!("{} {error}: {cause}", self.status),
            _ => self.status.clone(),
        };
        let _ = writeln!(out, "  => {end}");
        out
    }
}

/// The policy of the production wave: an always-open window unless given one, the alarm, a
/// 10-second bake with a traffic floor, the canary pair, and the alias as what to roll back.
pub fn policy(windows: Option<Value>, when_blocked: &str) -> Value {
    json!({
        "windows": windows.unwrap_or_else(|| json!({"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]})),
        "alarms": {"watch": [{"names": [ALARM]}], "when_blocked": when_blocked, "poll_interval": "10s", "max_wait": "10m"},
        "bake": {
            "duration": "10s",
            "poll_interval": "10s",
            "min_datapoints": [{"namespace": "AWS/Lambda", "metric": "Invocations",
                "dimensions": {"FunctionName": FUNCTION, "Resource": "orders-api:live"}, "stat": "Sum", "min": 100}],
            "alarms": [{"names": [ONEBOX_ALARM]}]
        },
        "canary": {
            "pair": {"namespace": "Orders", "canary": {"Version": "2"}, "baseline": {"Version": "1"},
                "requests": {"metric": "Requests", "stat": "Sum"}, "errors": {"metric": "Errors", "stat": "Sum"}},
            "period": "1m",
            "lookback": "10m",
            "judge": {"min_requests": 500, "min_periods": 3}
        },
        "rollback": {"actions": [{"lambda_alias": {"function_name": FUNCTION, "alias": "live"}}]}
    })
}

pub fn wave(stage: &str, policy: Value) -> Value {
    json!({"pipeline": PIPELINE, "stage": stage, "policy": policy})
}

/// A window that opens at the next whole minute at least `lead` away, for half an hour.
pub fn window_opening_soon(lead: Duration) -> (Value, Timestamp) {
    let earliest = Timestamp::now() + SignedDuration::try_from(lead).unwrap_or_default();
    let opens = earliest
        .round(
            jiff::TimestampRound::new()
                .smallest(jiff::Unit::Minute)
                .mode(jiff::RoundMode::Ceil),
        )
        .unwrap_or(earliest);
    let start = opens.to_zoned(jiff::tz::TimeZone::UTC);
    let end = start.checked_add(30.minutes()).unwrap_or(start.clone());
    let end_text = if end.hour() == 0 && end.minute() == 0 {
        "24:00".to_string()
    } else {
        end.strftime("%H:%M").to_string()
    };
    (
        json!({"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": start.strftime("%H:%M").to_string(), "end": end_text}]}),
        opens,
    )
}

/// Starts one wave of the safe-stage machine (traffic is served first, as in production).
async fn start_wave(world: &World, canary: Canary, name: &str, input: &Value) -> Result<String, String> {
    world.serve_traffic(canary).await?;
    world.start(&world.safe_stage, name, input).await
}

/// How long a scenario may take before it counts as stuck. Only a stuck run should hit it: the
/// scenario tests run six local stacks on two cores, and under that load one run has taken over
/// a minute to enter its first waiting state and another over two minutes to end (cause not yet
/// found: the timeout's message carries the timeline for that).
const STUCK_AFTER: Duration = Duration::from_secs(240);

/// Waits until the execution enters `state`; `otherwise` says what happened if it ended first.
async fn reach(world: &World, execution: &str, state: &str, otherwise: &str) -> Result<(), String> {
    if world.wait_for_state(execution, state, STUCK_AFTER).await? {
        Ok(())
    } else {
        Err(otherwise.to_string())
    }
}

/// Waits until the execution's bake has polled once.
async fn reach_bake(world: &World, execution: &str) -> Result<(), String> {
    reach(
        world,
        execution,
        "WaitForBake",
        "the execution ended before its bake began",
    )
    .await
}

/// Scenario 1: window open, no alarm, the bake reaches its floor, the canary passes.
pub async fn healthy(world: &World) -> Result<Run, String> {
    let input = wave("Prod-1", policy(None, "wait"));
    let execution = start_wave(world, Canary::Healthy, "prod-1-healthy", &input).await?;
    world.finish(&execution, STUCK_AFTER).await
}

/// Scenario 4: the one-box's alarm fires during the bake; the alias goes back to the old version and the
/// stage stays blocked until someone unblocks it.
pub async fn alarm_during_bake(world: &World) -> Result<Run, String> {
    let input = wave("Prod-1", policy(None, "fail"));
    let execution = start_wave(world, Canary::Healthy, "prod-1-alarm-during-bake", &input).await?;
    reach_bake(world, &execution).await?;
    world
        .set_alarm(
            ONEBOX_ALARM,
            StateValue::Alarm,
            "one-box faults above 10 for 1 datapoint",
        )
        .await?;
    world.finish(&execution, STUCK_AFTER).await
}

/// The alarm blocker's answer for a stage right now, asked as a state machine would.
pub fn alarm_blocker_says(world: &World, stage: &str) -> Result<Value, (String, String)> {
    let payload = json!({"policy": policy(None, "fail"), "context": {"pipeline": PIPELINE, "stage": stage}});
    match world.stack.invoke("alarm-blocker", &payload) {
        crate::Answer::Ok(decision) => Ok(decision),
        crate::Answer::Error { error_type, message } => Err((error_type, message)),
    }
}

/// The functions this stack runs, for the demo's header.
pub fn functions() -> &'static [&'static str] {
    &FUNCTIONS
}

/// Collects `decisions` of a run into `gate -> [decision]`, for assertions.
pub fn verdicts(run: &Run) -> BTreeMap<String, Vec<String>> {
    let mut verdicts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in &run.events {
        if let Event::Decision { decision, .. } = event {
            verdicts
                .entry(decision["gate"].as_str().unwrap_or("?").to_string())
                .or_default()
                .push(decision["decision"].as_str().unwrap_or("?").to_string());
        }
    }
    verdicts
}

/// Scenario 2: the alarm is firing, so the wave waits; someone overrides that alarm with a
/// reason, and the wave proceeds.
pub async fn override_a_firing_alarm(world: &World) -> Result<(Run, String), String> {
    world
        .set_alarm(ALARM, StateValue::Alarm, "Errors above 10 for 1 datapoint")
        .await?;
    let input = wave("Prod-1", policy(None, "wait"));
    let execution = start_wave(world, Canary::Healthy, "prod-1-override", &input).await?;
    let otherwise = "the execution ended instead of waiting for the alarm";
    reach(world, &execution, "WaitForAlarms", otherwise).await?;
    let (code, output) = world.handsoff(&[
        "override",
        "create",
        "--pipeline",
        PIPELINE,
        "--stage",
        "Prod-1",
        "--alarm",
        ALARM,
        "--reason",
        "shipping the fix for INC-7",
        "--ttl",
        "1h",
    ]);
    if code != 0 {
        return Err(format!("handsoff override create exited {code}: {output}"));
    }
    let run = world.finish(&execution, STUCK_AFTER).await?;
    let (_, audit) = world.handsoff(&["audit", "--pipeline", PIPELINE, "--stage", "Prod-1"]);
    Ok((run, audit))
}

/// Scenario 3: the window opens in a few seconds; the wave waits on `wait_until`, then goes on.
pub async fn window_opening_shortly(world: &World) -> Result<(Run, Timestamp), String> {
    let (windows, opens) = window_opening_soon(Duration::from_secs(5));
    let input = wave("Prod-2", policy(Some(windows), "wait"));
    let execution = start_wave(world, Canary::Healthy, "prod-2-window", &input).await?;
    Ok((world.finish(&execution, STUCK_AFTER).await?, opens))
}

/// Scenario 5: the one-box has five times the fleet's error rate.
pub async fn bad_canary(world: &World) -> Result<Run, String> {
    let input = wave("Prod-1", policy(None, "wait"));
    let execution = start_wave(world, Canary::FiveTimesTheErrors, "prod-1-bad-canary", &input).await?;
    world.finish(&execution, STUCK_AFTER).await
}

/// Scenario 7: a long bake; after its first poll the one-box starts failing a tenth of its
/// requests. The bake's sequential test rolls it back at its next poll, long before the bake's
/// time is up and without an alarm.
pub async fn errors_start_mid_bake(world: &World) -> Result<Run, String> {
    let mut wave_policy = policy(None, "wait");
    wave_policy["bake"]["duration"] = json!("10m");
    let input = wave("Prod-1", wave_policy);
    let execution = start_wave(world, Canary::Healthy, "prod-1-errors-mid-bake", &input).await?;
    reach_bake(world, &execution).await?;
    put_versions(
        &world.cloudwatch,
        Timestamp::now(),
        &[("1", 18_000.0, 18.0), ("2", 2_000.0, 200.0)],
    )
    .await?;
    world.finish(&execution, STUCK_AFTER).await
}

/// Scenario 6: the Beta stage's suites come from the table; one test fails.
pub async fn post_stage_validation(world: &World, base_url: &str, suites_dir: &std::path::Path) -> Result<Run, String> {
    std::fs::create_dir_all(suites_dir).map_err(|error| error.to_string())?;
    let suites = [
        (
            "smoke.json",
            json!({
                "name": "smoke",
                "vars": {"base_url": null},
                "tests": [
                    {"name": "health", "http": {"url": "${base_url}/good"}, "expect": {"status": 200, "json": [{"path": "$.status", "equals": "ok"}]}},
                    {"name": "refuses GET on orders", "http": {"url": "${base_url}/orders"}, "expect": {"status": "4xx"}}
                ]
            }),
        ),
        (
            "dependencies.json",
            json!({
                "name": "dependencies",
                "vars": {"base_url": null},
                "tests": [
                    {"name": "payments reachable", "http": {"url": "${base_url}/wrong-status"}, "expect": {"status": 200}}
                ]
            }),
        ),
    ];
    for (file, suite) in &suites {
        let path = suites_dir.join(file);
        std::fs::write(&path, suite.to_string()).map_err(|error| error.to_string())?;
        let (code, output) = world.handsoff(&[
            "suite",
            "put",
            &path.to_string_lossy(),
            "--pipeline",
            PIPELINE,
            "--stage",
            "Beta",
        ]);
        if code != 0 {
            return Err(format!("handsoff suite put exited {code}: {output}"));
        }
    }
    let execution = world
        .start(
            &world.post_stage_validation,
            "beta-validation",
            &json!({"pipeline": PIPELINE, "stage": "Beta", "vars": {"base_url": base_url}}),
        )
        .await?;
    world.finish(&execution, STUCK_AFTER).await
}

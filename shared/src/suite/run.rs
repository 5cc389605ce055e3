//! Runs a suite: resolves its variables, runs the tests a few at a time with their timeouts and
//! retries, and stops before the deadline, reporting whatever did not finish as not run.
//!
//! Over 400 lines: the runner's one loop (retries, timeouts, concurrency, the deadline) and its
//! outcome, kept together because each bound depends on the others.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use jiff::Timestamp;
use serde_json::Value;
use tokio::time::{Instant, sleep, timeout_at};

use super::expect::{HttpObservation, check_http, check_lambda};
use super::model::{DEFAULT_TIMEOUT, HttpRequestSpec, Retries, Suite, SuiteError, TestCase, TrafficSpec};
use super::redact::Redactor;
use super::report::{Outcome, Received, RunSummary, SentRequest, TestResult, TrafficStats, truncated};
use super::vars::{substitute, substitute_json};
use crate::ports::http_client::{HttpSender, OutgoingRequest};
use crate::ports::lambda_invoke::FunctionInvoker;

/// Most traffic requests in flight at once.
const TRAFFIC_IN_FLIGHT: usize = 64;

pub struct Runner<H, L> {
    http: H,
    lambda: L,
}

/// The values of a suite's variables: its defaults, overlaid by what the stage passed.
pub fn resolve_vars(suite: &Suite, stage: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, SuiteError> {
    let mut values = BTreeMap::new();
    for (name, default) in &suite.vars {
        match stage.get(name).or(default.as_ref()) {
            Some(value) => {
                values.insert(name.clone(), value.clone());
            }
            None => {
                return Err(SuiteError::new(
                    format!("vars.{name}"),
                    format!(
                        "the suite needs `{name}` and has no default: pass it from the stage (e.g. --var {name}=...)"
                    ),
                ));
            }
        }
    }
    Ok(values)
}

/// A test with its variables filled in.
struct Prepared {
    name: String,
    action: Action,
    timeout: Duration,
    retries: Retries,
    case: TestCase,
}

/// One test finished: how many of how many, and its result.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub result: &'a TestResult,
}

impl Progress<'_> {
    /// One line for a person: `[2/5] FAIL dependency up (8 ms)`.
    pub fn line(&self) -> String {
        let outcome = match self.result.outcome {
            Outcome::Passed => "ok  ",
            Outcome::Failed => "FAIL",
            Outcome::NotRun => "skip",
        };
        format!(
            "[{}/{}] {outcome} {} ({} ms)",
            self.done, self.total, self.result.name, self.result.duration_ms
        )
    }
}

enum Action {
    Http(OutgoingRequest),
    Lambda { function: String, payload: Vec<u8> },
    Traffic(OutgoingRequest, Box<TrafficSpec>),
}

impl<H: HttpSender, L: FunctionInvoker> Runner<H, L> {
    pub fn new(http: H, lambda: L) -> Self {
        Runner { http, lambda }
    }

    /// Runs `suite` with the stage's variables, finishing by `deadline`.
    pub async fn run(
        &self,
        suite: &Suite,
        stage_vars: &BTreeMap<String, String>,
        deadline: Instant,
        run_id: String,
    ) -> Result<RunSummary, SuiteError> {
        self.run_reporting(suite, stage_vars, deadline, run_id, &|_| {}).await
    }

    /// As [`Runner::run`], telling `progress` of each test as it finishes (for a person
    /// watching a long run).
    pub async fn run_reporting(
        &self,
        suite: &Suite,
        stage_vars: &BTreeMap<String, String>,
        deadline: Instant,
        run_id: String,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Result<RunSummary, SuiteError> {
        let started_at = Timestamp::now();
        let started = Instant::now();
        let values = resolve_vars(suite, stage_vars)?;
        let redactor = Redactor::new(suite.secrets.iter().filter_map(|name| values.get(name).cloned()));
        let prepared: Vec<Prepared> = suite
            .tests
            .iter()
            .enumerate()
            .map(|(index, case)| {
                prepare(suite, case, &values).map_err(|error| error.within(&format!("tests[{index}]")))
            })
            .collect::<Result<_, _>>()?;
        let count = prepared.len();
        let mut results: Vec<Option<TestResult>> = vec![None; count];
        let redactor = &redactor;
        let stream = futures_util::stream::iter(prepared.into_iter().enumerate())
            .map(|(index, test)| async move { (index, self.run_test(test, redactor, deadline).await) })
            .buffer_unordered(suite.concurrency);
        futures_util::pin_mut!(stream);
        // Each test stops itself at the deadline; the margin only guards against one that does not.
        let hard_stop = deadline + Duration::from_millis(200);
        let mut done = 0;
        while let Ok(Some((index, result))) = timeout_at(hard_stop, stream.next()).await {
            done += 1;
            progress(Progress {
                done,
                total: count,
                result: &result,
            });
            results[index] = Some(result);
        }
        let results = results
            .into_iter()
            .zip(suite.tests.iter())
            .map(|(result, case)| result.unwrap_or_else(|| not_run(case, "stopped at the deadline before it finished")))
            .collect();
        let duration_ms = millis(started.elapsed());
        Ok(RunSummary::new(&suite.name, run_id, started_at, duration_ms, results))
    }

    async fn run_test(&self, test: Prepared, redactor: &Redactor, deadline: Instant) -> TestResult {
        if Instant::now() >= deadline {
            return not_run(&test.case, "not started: the deadline came first");
        }
        // Credentials in the request's own headers are secrets too, wherever they turn up.
        let redactor = &match &test.action {
            Action::Http(request) | Action::Traffic(request, _) => redactor.with(&secret_header_values(request)),
            Action::Lambda { .. } => redactor.clone(),
        };
        match &test.action {
            Action::Traffic(request, spec) => self.run_traffic(&test, request, spec, redactor, deadline).await,
            _ => self.run_with_retries(&test, redactor, deadline).await,
        }
    }

    async fn run_with_retries(&self, test: &Prepared, redactor: &Redactor, deadline: Instant) -> TestResult {
        let started = Instant::now();
        let mut backoff = test.retries.backoff.0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (mut result, cut_by_deadline) = self.attempt(test, redactor, deadline).await;
            result.attempts = attempt;
            result.duration_ms = millis(started.elapsed());
            if cut_by_deadline {
                result.outcome = Outcome::NotRun;
                result
                    .failures
                    .push("stopped at the deadline before it finished".to_string());
                return result;
            }
            if result.outcome == Outcome::Passed || attempt >= test.retries.attempts {
                return result;
            }
            if Instant::now() + backoff >= deadline {
                result.failures.push(format!(
                    "not retried: the deadline comes before the next attempt ({attempt} of {} made)",
                    test.retries.attempts
                ));
                return result;
            }
            sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }

    /// One try. Also says whether the deadline, not the test's own timeout, cut it short.
    async fn attempt(&self, test: &Prepared, redactor: &Redactor, deadline: Instant) -> (TestResult, bool) {
        let own_limit = Instant::now() + test.timeout;
        let limit = own_limit.min(deadline);
        let cut_by_deadline = deadline < own_limit;
        let mut result = TestResult {
            name: test.name.clone(),
            kind: kind(&test.case).to_string(),
            outcome: Outcome::Failed,
            attempts: 1,
            duration_ms: 0,
            failures: Vec::new(),
            sent: None,
            received: None,
            traffic: None,
        };
        match &test.action {
            Action::Http(request) => {
                result.sent = Some(sent(request, redactor));
                match timeout_at(limit, self.http.send(request)).await {
                    Err(_) if cut_by_deadline => return (result, true),
                    Err(_) => result
                        .failures
                        .push(format!("timed out after {}", super::model::ShortDuration(test.timeout))),
                    Ok(Err(error)) => result
                        .failures
                        .push(format!("request failed: {}", redactor.redact(&error.0))),
                    Ok(Ok(seen)) => {
                        let with_transport = redactor.with(&seen.added_secrets);
                        result.failures = check_http(&test.case.expect, &seen)
                            .iter()
                            .map(|failure| with_transport.redact(failure))
                            .collect();
                        result.received = Some(received(&seen, &with_transport));
                    }
                }
            }
            Action::Lambda { function, payload } => {
                let started = Instant::now();
                match timeout_at(limit, self.lambda.invoke(function, payload.clone())).await {
                    Err(_) if cut_by_deadline => return (result, true),
                    Err(_) => result
                        .failures
                        .push(format!("timed out after {}", super::model::ShortDuration(test.timeout))),
                    Ok(Err(error)) => result
                        .failures
                        .push(format!("invoke failed: {}", redactor.redact(&error.0))),
                    Ok(Ok(mut seen)) => {
                        seen.latency = started.elapsed();
                        result.failures = check_lambda(&test.case.expect, &seen);
                        result.received = Some(Received {
                            status: None,
                            headers: BTreeMap::new(),
                            body: redactor.redact(&truncated(&seen.payload)),
                            latency_ms: millis(seen.latency),
                            function_error: seen.function_error.clone(),
                        });
                    }
                }
            }
            Action::Traffic(..) => unreachable_traffic(&mut result),
        }
        result.failures = result.failures.iter().map(|failure| redactor.redact(failure)).collect();
        if result.failures.is_empty() {
            result.outcome = Outcome::Passed;
        }
        (result, false)
    }

    async fn run_traffic(
        &self,
        test: &Prepared,
        request: &OutgoingRequest,
        spec: &TrafficSpec,
        redactor: &Redactor,
        deadline: Instant,
    ) -> TestResult {
        let started = Instant::now();
        let period = Duration::from_secs_f64(1.0 / spec.rate_per_second);
        let expect = &test.case.expect;
        let sends = futures_util::stream::iter(0..spec.requests)
            .map(|index| async move {
                tokio::time::sleep_until(started + period.saturating_mul(index)).await;
                let sent_at = Instant::now();
                if sent_at >= deadline {
                    return None;
                }
                let outcome = match timeout_at((sent_at + test.timeout).min(deadline), self.http.send(request)).await {
                    Err(_) => Err(format!("timed out after {}", super::model::ShortDuration(test.timeout))),
                    Ok(Err(error)) => Err(format!("request failed: {error}")),
                    Ok(Ok(seen)) => Ok(seen),
                };
                Some((sent_at.elapsed(), outcome))
            })
            .buffer_unordered(TRAFFIC_IN_FLIGHT);
        futures_util::pin_mut!(sends);
        let mut latencies = Vec::new();
        let mut succeeded = 0u32;
        let mut sent_count = 0u32;
        let mut failure_counts: BTreeMap<String, u32> = BTreeMap::new();
        let mut sample: Option<HttpObservation> = None;
        while let Ok(Some(item)) = timeout_at(deadline + Duration::from_millis(200), sends.next()).await {
            let Some((latency, outcome)) = item else { continue };
            sent_count += 1;
            latencies.push(millis(latency));
            let failures = match outcome {
                Ok(seen) => {
                    let with_transport = redactor.with(&seen.added_secrets);
                    let failures: Vec<String> = check_http(expect, &seen)
                        .iter()
                        .map(|failure| with_transport.redact(failure))
                        .collect();
                    if !failures.is_empty() && sample.is_none() {
                        sample = Some(seen);
                    }
                    failures
                }
                Err(error) => vec![error],
            };
            if failures.is_empty() {
                succeeded += 1;
            }
            for failure in failures {
                *failure_counts.entry(redactor.redact(&failure)).or_default() += 1;
            }
        }
        latencies.sort_unstable();
        let success_percent = if sent_count == 0 {
            0.0
        } else {
            f64::from(succeeded) * 100.0 / f64::from(sent_count)
        };
        let mut result = TestResult {
            name: test.name.clone(),
            kind: "traffic".into(),
            outcome: Outcome::Passed,
            attempts: 1,
            duration_ms: millis(started.elapsed()),
            failures: Vec::new(),
            sent: Some(sent(request, redactor)),
            received: sample
                .as_ref()
                .map(|seen| received(seen, &redactor.with(&seen.added_secrets))),
            traffic: Some(TrafficStats {
                planned: spec.requests,
                sent: sent_count,
                succeeded,
                success_percent,
                p50_ms: latencies.get(latencies.len() / 2).copied().unwrap_or(0),
                max_ms: latencies.last().copied().unwrap_or(0),
            }),
        };
        if sent_count < spec.requests {
            result.outcome = Outcome::NotRun;
            result.failures.push(format!(
                "stopped at the deadline after {sent_count} of {} requests",
                spec.requests
            ));
        } else if success_percent < spec.min_success_percent {
            result.outcome = Outcome::Failed;
            result.failures.push(format!(
                "{succeeded} of {sent_count} responses met the expectations ({success_percent:.1}%, {}% required)",
                spec.min_success_percent
            ));
        }
        let mut common: Vec<(String, u32)> = failure_counts.into_iter().collect();
        common.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if result.outcome == Outcome::Failed {
            result.failures.extend(
                common
                    .into_iter()
                    .take(3)
                    .map(|(failure, count)| format!("{failure} ({count}×)")),
            );
        }
        result
    }
}

fn unreachable_traffic(result: &mut TestResult) {
    // Traffic tests are run by run_traffic; reaching here is a bug, and it fails the test.
    result
        .failures
        .push("internal error: traffic test run as a single request".to_string());
}

fn secret_header_values(request: &OutgoingRequest) -> Vec<String> {
    request
        .headers
        .iter()
        .filter(|(name, _)| super::redact::is_secret_header(name))
        .map(|(_, value)| value.clone())
        .collect()
}

fn kind(case: &TestCase) -> &'static str {
    if case.lambda.is_some() {
        "lambda"
    } else if case.traffic.is_some() {
        "traffic"
    } else {
        "http"
    }
}

fn not_run(case: &TestCase, why: &str) -> TestResult {
    TestResult {
        name: case.name.clone(),
        kind: kind(case).to_string(),
        outcome: Outcome::NotRun,
        attempts: 0,
        duration_ms: 0,
        failures: vec![why.to_string()],
        sent: None,
        received: None,
        traffic: None,
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn sent(request: &OutgoingRequest, redactor: &Redactor) -> SentRequest {
    SentRequest {
        method: request.method.clone(),
        url: redactor.redact(&request.url),
        headers: request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), redactor.header(name, value)))
            .collect(),
        body: request
            .body
            .as_ref()
            .map(|body| redactor.redact(&truncated(&String::from_utf8_lossy(body)))),
        signed: request.sign.as_ref().map(|sign| {
            format!(
                "{}/{}",
                sign.service,
                sign.region.as_deref().unwrap_or("the runner's region")
            )
        }),
    }
}

fn received(seen: &HttpObservation, redactor: &Redactor) -> Received {
    Received {
        status: Some(seen.status),
        headers: seen
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), redactor.header(name, value)))
            .collect(),
        body: redactor.redact(&truncated(&seen.body)),
        latency_ms: millis(seen.latency),
        function_error: None,
    }
}

fn prepare(suite: &Suite, case: &TestCase, values: &BTreeMap<String, String>) -> Result<Prepared, SuiteError> {
    let timeout = case
        .timeout
        .or(suite.defaults.timeout)
        .map_or(DEFAULT_TIMEOUT, |timeout| timeout.0);
    let retries = case.retries.or(suite.defaults.retries).unwrap_or(Retries {
        attempts: 1,
        backoff: super::model::ShortDuration(Duration::from_millis(500)),
    });
    let action = if let Some(http) = &case.http {
        Action::Http(request(suite, http, values, "http")?)
    } else if let Some(lambda) = &case.lambda {
        let function =
            substitute(&lambda.function, values).map_err(|message| SuiteError::new("lambda.function", message))?;
        let payload = match &lambda.payload {
            Some(payload) => {
                let payload =
                    substitute_json(payload, values).map_err(|message| SuiteError::new("lambda.payload", message))?;
                serde_json::to_vec(&payload).unwrap_or_default()
            }
            None => b"{}".to_vec(),
        };
        Action::Lambda { function, payload }
    } else if let Some(traffic) = &case.traffic {
        Action::Traffic(
            request(suite, &traffic.http, values, "traffic.http")?,
            Box::new(traffic.clone()),
        )
    } else {
        return Err(SuiteError::new(
            "",
            "give a test exactly one of `http`, `lambda` or `traffic`",
        ));
    };
    Ok(Prepared {
        name: case.name.clone(),
        action,
        timeout,
        retries,
        case: case.clone(),
    })
}

fn request(
    suite: &Suite,
    http: &HttpRequestSpec,
    values: &BTreeMap<String, String>,
    at: &str,
) -> Result<OutgoingRequest, SuiteError> {
    let url = substitute(&http.url, values).map_err(|message| SuiteError::new(format!("{at}.url"), message))?;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in suite.defaults.headers.iter().chain(http.headers.iter()) {
        let value =
            substitute(value, values).map_err(|message| SuiteError::new(format!("{at}.headers.{name}"), message))?;
        headers.insert(name.to_ascii_lowercase(), value);
    }
    let body = match &http.body {
        None => None,
        Some(Value::String(text)) => Some(
            substitute(text, values)
                .map_err(|message| SuiteError::new(format!("{at}.body"), message))?
                .into_bytes(),
        ),
        Some(json) => {
            let json =
                substitute_json(json, values).map_err(|message| SuiteError::new(format!("{at}.body"), message))?;
            headers
                .entry("content-type".to_string())
                .or_insert_with(|| "application/json".to_string());
            Some(serde_json::to_vec(&json).unwrap_or_default())
        }
    };
    Ok(OutgoingRequest {
        method: http.method.clone(),
        url,
        headers: headers.into_iter().collect(),
        body,
        sign: http.sign.clone(),
    })
}

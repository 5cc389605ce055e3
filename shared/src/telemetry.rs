//! Logs and metrics: JSON log lines through `tracing` (one per decision), and a CloudWatch
//! Embedded Metric Format line per decision. Nothing here ever sees the raw event.

use std::io::Write;
use std::sync::Mutex;

use jiff::Timestamp;
use serde_json::{Value, json};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::decision::Decision;
use crate::error::GateError;
use crate::gates::Mode;

pub const METRICS_NAMESPACE: &str = "handsoff";

/// JSON logs to stdout; level from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else info.
pub fn init_logging() {
    let (filter, rejected) = log_filter(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    // Lambda stamps every line itself. Each line carries its invocation's span (request id and
    // X-Ray trace id), so a decision can be found from the trace and back.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .finish()
        .with(filter)
        .try_init();
    if let Some(rejected) = rejected {
        tracing::warn!("{rejected}; logging at info");
    }
}

/// The log filter: `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else info; a setting that does not
/// parse gives info and the reason. `RUST_LOG` takes `level` and `target=level` directives
/// (`aws_smithy_runtime=debug,info`); tracing's `Targets` reads them without the regex engine
/// `EnvFilter` links in (0.4 MB and ~570 relocations per binary), so span and field directives
/// are not supported.
pub fn log_filter(rust_log: Option<&str>, lambda_log_level: Option<&str>) -> (Targets, Option<String>) {
    let (name, setting) = match (rust_log, lambda_log_level) {
        (Some(value), _) if !value.trim().is_empty() => ("RUST_LOG", value),
        (_, Some(value)) if !value.trim().is_empty() => ("AWS_LAMBDA_LOG_LEVEL", value),
        _ => return (info(), None),
    };
    let mut setting = setting.trim().to_lowercase();
    // Lambda's own levels include FATAL, which tracing calls error.
    if setting == "fatal" {
        setting = "error".to_string();
    }
    match setting.parse::<Targets>() {
        Ok(filter) => (filter, None),
        Err(error) => (
            info(),
            Some(format!("{name}: `{setting}` is not a log filter ({error})")),
        ),
    }
}

fn info() -> Targets {
    Targets::new().with_default(LevelFilter::INFO)
}

/// Where EMF lines go: stdout in Lambda, a buffer in tests.
pub trait MetricSink: Send + Sync {
    fn emit(&self, line: &str);
}

#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutMetrics;

impl MetricSink for StdoutMetrics {
    fn emit(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

/// Keeps the lines, for tests and for the CLI.
#[derive(Debug, Default)]
pub struct CapturedMetrics(pub Mutex<Vec<String>>);

impl MetricSink for CapturedMetrics {
    fn emit(&self, line: &str) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line.to_string());
        }
    }
}

impl CapturedMetrics {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|lines| lines.clone()).unwrap_or_default()
    }
}

/// One EMF line: a `Decisions` count by gate and by gate and verdict.
pub fn emf_line(gate: &str, verdict: &str, at: Timestamp) -> String {
    json!({
        "_aws": {
            "Timestamp": at.as_millisecond(),
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Gate"], ["Gate", "Decision"], ["Decision"]],
                "Metrics": [{"Name": "Decisions", "Unit": "Count"}],
            }],
        },
        "Gate": gate,
        "Decision": verdict,
        "Decisions": 1,
    })
    .to_string()
}

/// A delivery metric (`Deployments`, `Rollbacks`) of a pipeline stage, as EMF: what the SAM
/// template's dashboard charts.
pub fn record_delivery(metric: &str, pipeline: &str, stage: &str, metrics: &dyn MetricSink, at: Timestamp) {
    let dimensions = json!([["Pipeline"], ["Pipeline", "Stage"]]);
    metrics.emit(&count_line(
        metric,
        1,
        dimensions,
        json!({"Pipeline": pipeline, "Stage": stage}),
        at,
    ));
}

/// One EMF line: `metric` counted `count` times, with `values` for the `dimensions`.
fn count_line(metric: &str, count: usize, dimensions: Value, values: Value, at: Timestamp) -> String {
    let mut line = json!({
        "_aws": {
            "Timestamp": at.as_millisecond(),
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
    });
    if let (Some(line), Some(values)) = (line.as_object_mut(), values.as_object()) {
        line.extend(values.clone());
        line.insert(metric.to_string(), json!(count));
    }
    line.to_string()
}

/// An event that could not be published: logged (the call and its error, never the event's
/// evidence) and counted as `EventsNotPublished`, so an alarm can watch it. The decision stands.
pub fn record_unpublished(
    gate: &str,
    error: &crate::ports::PortError,
    count: usize,
    metrics: &dyn MetricSink,
    at: Timestamp,
) {
    tracing::warn!(gate, call = %error.call, error = %error, events = count, "events not published; the decision stands");
    metrics.emit(&count_line(
        "EventsNotPublished",
        count,
        json!([["Gate"], []]),
        json!({"Gate": gate}),
        at,
    ));
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::CodePipeline => "codepipeline",
        Mode::Direct => "direct",
    }
}

/// The one log line and the one metric line of a decision.
/// Runs one invocation's work in the span its log lines carry: the Lambda request id and the
/// X-Ray trace id.
pub fn in_invocation<F: std::future::Future>(
    context: &lambda_runtime::Context,
    work: F,
) -> tracing::instrument::Instrumented<F> {
    let span = tracing::info_span!(
        "invocation",
        request_id = %context.request_id,
        xray_trace_id = context.xray_trace_id.as_deref().unwrap_or(""),
    );
    tracing::Instrument::instrument(work, span)
}

pub fn record_decision(decision: &Decision, mode: Mode, metrics: &dyn MetricSink, at: Timestamp) {
    tracing::info!(
        gate = decision.gate,
        decision = decision.decision.as_str(),
        reason = decision.reason(),
        wait_until = decision.wait_until.map(|at| at.to_string()),
        evidence = %decision.evidence,
        mode = mode_name(mode),
        "decision"
    );
    metrics.emit(&emf_line(decision.gate, decision.decision.as_str(), at));
}

/// A gate that could not decide is logged and counted as an error (it fails closed).
pub fn record_error(gate: &str, error: &GateError, mode: Mode, metrics: &dyn MetricSink, at: Timestamp) {
    tracing::error!(gate, error_type = error.error_type(), error = %error, mode = mode_name(mode), "gate failed closed");
    metrics.emit(&emf_line(gate, "error", at));
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::log_filter;

    fn enabled(filter: &tracing_subscriber::filter::Targets, target: &str, level: Level) -> bool {
        filter.would_enable(target, &level)
    }

    #[test]
    fn rust_log_wins_over_the_lambda_level_and_takes_per_target_directives() {
        let (filter, rejected) = log_filter(Some("aws_smithy_runtime=debug,warn"), Some("INFO"));
        assert_eq!(rejected, None);
        assert!(enabled(&filter, "aws_smithy_runtime::client", Level::DEBUG));
        assert!(!enabled(&filter, "aws_smithy_runtime::client", Level::TRACE));
        assert!(!enabled(&filter, "handsoff::invoke", Level::INFO));
        assert!(enabled(&filter, "handsoff::invoke", Level::WARN));
    }

    #[test]
    fn the_lambda_level_applies_when_rust_log_is_unset_and_fatal_means_error() {
        let (filter, _) = log_filter(None, Some("DEBUG"));
        assert!(enabled(&filter, "handsoff", Level::DEBUG) && !enabled(&filter, "handsoff", Level::TRACE));
        let (filter, rejected) = log_filter(Some(" "), Some("FATAL"));
        assert_eq!(rejected, None);
        assert!(enabled(&filter, "handsoff", Level::ERROR) && !enabled(&filter, "handsoff", Level::WARN));
    }

    #[test]
    fn unset_is_info_and_a_bad_setting_is_info_with_the_reason() {
        let (filter, rejected) = log_filter(None, None);
        assert_eq!(rejected, None);
        assert!(enabled(&filter, "handsoff", Level::INFO) && !enabled(&filter, "handsoff", Level::DEBUG));

        let (filter, rejected) = log_filter(Some("handsoff=loud"), Some("DEBUG"));
        assert!(enabled(&filter, "handsoff", Level::INFO) && !enabled(&filter, "handsoff", Level::DEBUG));
        let rejected = rejected.unwrap();
        assert!(
            rejected.starts_with("RUST_LOG: `handsoff=loud` is not a log filter ("),
            "{rejected}"
        );
    }
}

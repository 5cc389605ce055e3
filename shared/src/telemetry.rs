//! Logs and metrics: JSON log lines through `tracing` (one per decision), and a CloudWatch
//! Embedded Metric Format line per decision. Nothing here ever sees the raw event.

use std::io::Write;
use std::sync::Mutex;

use jiff::Timestamp;
use serde_json::json;

use crate::decision::Decision;
use crate::error::GateError;
use crate::gates::Mode;

pub const METRICS_NAMESPACE: &str = "handsoff";

/// JSON logs to stdout; level from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else info.
pub fn init_logging() {
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| "info".to_string())
        .to_lowercase();
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Lambda stamps every line itself.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
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
                "Dimensions": [["Gate"], ["Gate", "Decision"]],
                "Metrics": [{"Name": "Decisions", "Unit": "Count"}],
            }],
        },
        "Gate": gate,
        "Decision": verdict,
        "Decisions": 1,
    })
    .to_string()
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::CodePipeline => "codepipeline",
        Mode::Direct => "direct",
    }
}

/// The one log line and the one metric line of a decision.
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

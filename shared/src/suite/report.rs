//! The results of a run: per test, what was sent, what came back and which expectation failed;
//! per run, the counts a pipeline decides on.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    NotRun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `execute-api/us-east-1` when signed with SigV4; the signature itself is never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Received {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The start of the body (results keep at most [`BODY_LIMIT`] characters).
    pub body: String,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_error: Option<String>,
}

pub const BODY_LIMIT: usize = 2_048;

pub fn truncated(text: &str) -> String {
    if text.len() <= BODY_LIMIT {
        return text.to_string();
    }
    let mut end = BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrafficStats {
    pub planned: u32,
    pub sent: u32,
    pub succeeded: u32,
    pub success_percent: f64,
    pub p50_ms: u64,
    pub max_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestResult {
    pub name: String,
    /// `http`, `lambda` or `traffic`.
    pub kind: String,
    pub outcome: Outcome,
    pub attempts: u32,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<SentRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Received>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficStats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSummary {
    pub suite: String,
    pub run_id: String,
    pub started_at: Timestamp,
    pub duration_ms: u64,
    pub passed: usize,
    pub failed: usize,
    pub not_run: usize,
    /// True only when every test ran and passed.
    pub ok: bool,
    pub results: Vec<TestResult>,
}

impl RunSummary {
    pub fn new(suite: &str, run_id: String, started_at: Timestamp, duration_ms: u64, results: Vec<TestResult>) -> Self {
        let count = |outcome| results.iter().filter(|result| result.outcome == outcome).count();
        let (passed, failed, not_run) = (count(Outcome::Passed), count(Outcome::Failed), count(Outcome::NotRun));
        RunSummary {
            suite: suite.to_string(),
            run_id,
            started_at,
            duration_ms,
            passed,
            failed,
            not_run,
            ok: failed == 0 && not_run == 0 && passed > 0,
            results,
        }
    }

    /// One line per test that did not pass: `suite / test: what failed`.
    pub fn failure_lines(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|result| result.outcome != Outcome::Passed)
            .map(|result| {
                let what = if result.failures.is_empty() {
                    "did not pass".to_string()
                } else {
                    result.failures.join("; ")
                };
                let label = if result.outcome == Outcome::NotRun {
                    " (not run)"
                } else {
                    ""
                };
                format!("{} / {}{label}: {what}", self.suite, result.name)
            })
            .collect()
    }

    /// What a state machine carries on: counts and failures, not bodies (its payloads are
    /// limited to 256 KB; the full results are in the table).
    pub fn compact(&self) -> Value {
        let first = self.results.iter().find(|result| result.outcome != Outcome::Passed);
        json!({
            "suite": self.suite,
            "run_id": self.run_id,
            "started_at": self.started_at.to_string(),
            "duration_ms": self.duration_ms,
            "ok": self.ok,
            "passed": self.passed,
            "failed": self.failed,
            "not_run": self.not_run,
            "failures": self.failure_lines(),
            "first_failure": first.map(|result| json!({
                "test": result.name,
                "outcome": result.outcome,
                "failures": result.failures,
            })),
            "tests": self.results.iter().map(|result| json!({
                "name": result.name,
                "outcome": result.outcome,
                "attempts": result.attempts,
                "duration_ms": result.duration_ms,
            })).collect::<Vec<_>>(),
        })
    }

    /// The results as a person reads them at a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let verdict = if self.ok { "PASSED" } else { "FAILED" };
        let _ = writeln!(
            out,
            "suite {}: {verdict} — {} passed, {} failed, {} not run ({} ms)",
            self.suite, self.passed, self.failed, self.not_run, self.duration_ms
        );
        for result in &self.results {
            let mark = match result.outcome {
                Outcome::Passed => "ok  ",
                Outcome::Failed => "FAIL",
                Outcome::NotRun => "SKIP",
            };
            let tries = if result.attempts > 1 {
                format!(", {} attempts", result.attempts)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {mark} {} [{}] ({} ms{tries})",
                result.name, result.kind, result.duration_ms
            );
            if result.outcome == Outcome::Passed {
                continue;
            }
            for failure in &result.failures {
                let _ = writeln!(out, "       ✗ {failure}");
            }
            if let Some(sent) = &result.sent {
                let signed = sent
                    .signed
                    .as_deref()
                    .map(|how| format!(" (SigV4 {how})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "       sent: {} {}{signed}", sent.method, sent.url);
                for (name, value) in &sent.headers {
                    let _ = writeln!(out, "             {name}: {value}");
                }
                if let Some(body) = &sent.body {
                    let _ = writeln!(out, "             {body}");
                }
            }
            if let Some(received) = &result.received {
                let status = received
                    .status
                    .map(|status| status.to_string())
                    .unwrap_or_else(|| "response".into());
                let _ = writeln!(out, "       got:  {status} in {} ms", received.latency_ms);
                for (name, value) in &received.headers {
                    let _ = writeln!(out, "             {name}: {value}");
                }
                if !received.body.is_empty() {
                    let _ = writeln!(out, "             {}", received.body);
                }
            }
            if let Some(traffic) = &result.traffic {
                let _ = writeln!(
                    out,
                    "       traffic: {} of {} sent, {} met expectations ({:.1}%), p50 {} ms, max {} ms",
                    traffic.sent,
                    traffic.planned,
                    traffic.succeeded,
                    traffic.success_percent,
                    traffic.p50_ms,
                    traffic.max_ms
                );
            }
        }
        out
    }
}

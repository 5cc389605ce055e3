//! What the functions log, checked in a process of its own: tracing caches per-callsite
//! interest process-wide, so a capturing subscriber must not race other tests' threads.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::{POLICY, SECRET, SESSION, at, harness, job_event};

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_one_line_per_decision_and_never_the_artifact_credentials() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = harness();
    h.handler
        .handle(job_event(Some(POLICY), None), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();
    h.handler
        .handle(job_event(Some("{\"windows\": 1}"), None), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();
    h.handler
        .handle(job_event(Some(POLICY), Some("garbled")), at("2026-11-24T18:00:00Z"))
        .await
        .unwrap();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for secret in [SECRET, SESSION, "AKIAIOSFODNN7EXAMPLE", "artifactCredentials"] {
        assert!(!text.contains(secret), "log leaks {secret}:\n{text}");
    }
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let decisions: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "decision")
        .collect();
    assert_eq!(decisions.len(), 1, "{text}");
    assert_eq!(decisions[0]["fields"]["decision"], "proceed");
    assert_eq!(decisions[0]["fields"]["mode"], "codepipeline");
    assert!(
        decisions[0]["fields"]["evidence"]
            .as_str()
            .unwrap()
            .contains("\"open\":true")
    );
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "gate failed closed")
        .collect();
    assert_eq!(failed.len(), 2, "{text}");
    assert_eq!(
        failed[1]["fields"]["error"],
        "invalid input: the continuation token from the previous invocation is unreadable; retry the stage"
    );

    let metrics: Vec<Value> = h
        .handler
        .metrics()
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(metrics.len(), 3);
    assert_eq!(metrics[0]["Decision"], "proceed");
    assert_eq!(metrics[0]["Decisions"], 1);
    assert_eq!(metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "handsoff");
    assert_eq!(metrics[0]["_aws"]["Timestamp"], 1_795_543_200_000i64);
    assert_eq!(metrics[1]["Decision"], "error");
}

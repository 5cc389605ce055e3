//! The rollback trigger on the in-memory store with a scripted deployment control: exactly once
//! per deployment, a partial run retried without redoing what succeeded, the stage left blocked,
//! and a store that cannot be read failing it closed. (`rollback_on_moto.rs` runs the same gate
//! on moto's Lambda and DynamoDB, real alias moves included.)

use std::sync::Mutex;

use handsoff::context::InvocationContext;
use handsoff::decision::Verdict;
use handsoff::gates::rollback_trigger::RollbackTrigger;
use handsoff::gates::{Gate, GateRequest, Mode};
use handsoff::policy::Policy;
use handsoff::ports::deployments::DeploymentControl;
use handsoff::ports::store::memory::InMemoryStore;
use handsoff::ports::store::{BlockStore, StoreError};
use handsoff::ports::{PortError, PortErrorKind};

/// A deployment control that answers each alias rollback from a script, and counts them.
#[derive(Default)]
struct ScriptedControl {
    /// Each call takes the next answer: true succeeds, false fails.
    answers: Mutex<Vec<bool>>,
    calls: Mutex<usize>,
}

impl ScriptedControl {
    fn answering(answers: &[bool]) -> Self {
        ScriptedControl {
            answers: Mutex::new(answers.iter().rev().copied().collect()),
            calls: Mutex::new(0),
        }
    }

    fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

fn unexpected(call: &str) -> PortError {
    PortError {
        call: call.into(),
        kind: PortErrorKind::Rejected,
        message: "not in this test's script".into(),
    }
}

impl DeploymentControl for &ScriptedControl {
    async fn roll_back_alias(&self, function_name: &str, alias: &str, _to: Option<&str>) -> Result<String, PortError> {
        *self.calls.lock().unwrap() += 1;
        match self.answers.lock().unwrap().pop() {
            Some(true) => Ok(format!("alias {alias} of {function_name} is back on version 1 only")),
            _ => Err(PortError {
                call: "lambda:UpdateAlias".into(),
                kind: PortErrorKind::Throttled,
                message: "Rate exceeded".into(),
            }),
        }
    }

    async fn stop_codedeploy(&self, _: &str, _: &str) -> Result<String, PortError> {
        Err(unexpected("codedeploy:StopDeployment"))
    }

    async fn roll_back_stage(&self, _: &str, _: &str, _: &str) -> Result<String, PortError> {
        Err(unexpected("codepipeline:RollbackStage"))
    }

    async fn stop_execution(&self, _: &str, _: &str, _: &str) -> Result<String, PortError> {
        Err(unexpected("codepipeline:StopPipelineExecution"))
    }
}

fn request() -> GateRequest {
    GateRequest {
        policy: Policy::from_json(
            r#"{"rollback": {"actions": [{"lambda_alias": {"function_name": "orders-api", "alias": "live"}}]}}"#,
        )
        .unwrap(),
        context: InvocationContext {
            pipeline: Some("orders".into()),
            stage: Some("Prod".into()),
            execution_id: Some("exec-1".into()),
            reason: Some("canary failed: 5x the fleet's errors".into()),
            ..Default::default()
        },
        now: "2026-11-24T18:00:00Z".parse().unwrap(),
        waiting_since: None,
        mode: Mode::Direct,
        policy_source: None,
    }
}

#[tokio::test]
async fn a_deployment_is_rolled_back_once_and_its_stage_left_blocked() {
    let store = InMemoryStore::default();
    let control = ScriptedControl::answering(&[true]);
    let trigger = RollbackTrigger::new(&control, store.clone());
    let first = trigger.decide(&request()).await.unwrap();
    assert_eq!(first.decision, Verdict::Rollback);
    assert!(first.reason().starts_with("rolled back: "), "{}", first.reason());
    assert_eq!(first.evidence.to_json()["performed"], true);
    let again = trigger.decide(&request()).await.unwrap();
    assert!(
        again.reason().starts_with("already rolled back at "),
        "{}",
        again.reason()
    );
    assert_eq!(again.evidence.to_json()["performed"], false);
    assert_eq!(control.calls(), 1, "the alias moved once");
    let marker = store
        .block_marker("orders", "Prod")
        .await
        .unwrap()
        .expect("the stage is blocked");
    assert_eq!(
        marker.reason,
        "rolled back execution exec-1: canary failed: 5x the fleet's errors"
    );
    let kinds: Vec<String> = store.audit_records().iter().map(|record| record.kind.clone()).collect();
    assert_eq!(kinds, ["blocked_after_rollback", "decision"]);
}

#[tokio::test]
async fn a_failed_step_is_retried_by_the_next_call_and_nothing_is_redone() {
    let store = InMemoryStore::default();
    let control = ScriptedControl::answering(&[false, true]);
    let trigger = RollbackTrigger::new(&control, store.clone());
    let error = trigger.decide(&request()).await.unwrap_err();
    assert_eq!(error.error_type(), "RollbackIncomplete");
    assert!(
        store.block_marker("orders", "Prod").await.unwrap().is_some(),
        "half rolled back is blocked too"
    );
    let retried = trigger.decide(&request()).await.unwrap();
    assert!(retried.reason().starts_with("rolled back: "), "{}", retried.reason());
    assert_eq!(control.calls(), 2);
    trigger.decide(&request()).await.unwrap();
    assert_eq!(control.calls(), 2, "done is done");
}

#[tokio::test]
async fn a_store_that_cannot_be_read_moves_nothing_and_fails_closed() {
    let store = InMemoryStore::default();
    store.fail_with(StoreError::Port(PortError {
        call: "dynamodb:PutItem".into(),
        kind: PortErrorKind::Unavailable,
        message: "could not reach the service".into(),
    }));
    let control = ScriptedControl::answering(&[true]);
    let error = RollbackTrigger::new(&control, store.clone())
        .decide(&request())
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "DependencyUnavailable");
    assert!(error.to_string().contains("dynamodb:PutItem"), "{error}");
    assert_eq!(control.calls(), 0, "no claim, no rollback");
}

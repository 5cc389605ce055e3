//! The rollback trigger: undoes a deployment exactly once. A conditional write claims the
//! rollback; a second call returns the first result; a partial failure reports which actions
//! succeeded, and a later call retries only the rest. The stage is then blocked until a person
//! clears it.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::alarm_blocker::store_error;
use super::{Gate, GateRequest};
use crate::alarms::BlockMarker;
use crate::audit::AuditRecord;
use crate::decision::{Decision, Verdict};
use crate::error::GateError;
use crate::ports::deployments::DeploymentControl;
use crate::ports::store::{RollbackClaim, StateStore};
use crate::rollback::{NAME, PipelineMode, RollbackAction, StepResult, record_of};

/// How long a claimed rollback may run before another invocation may take it over.
pub const LEASE_SECS: i64 = 300;

pub struct RollbackTrigger<D, S> {
    control: D,
    store: S,
}

impl<D: DeploymentControl, S: StateStore> RollbackTrigger<D, S> {
    pub fn new(control: D, store: S) -> Self {
        RollbackTrigger { control, store }
    }

    async fn run(
        &self,
        action: &RollbackAction,
        pipeline: &str,
        stage: &str,
        execution: &str,
        reason: &str,
    ) -> StepResult {
        let outcome = match action {
            RollbackAction::LambdaAlias { function_name, alias } => {
                self.control.roll_back_alias(function_name, alias).await
            }
            RollbackAction::Codedeploy {
                application,
                deployment_group,
            } => self.control.stop_codedeploy(application, deployment_group).await,
            RollbackAction::Pipeline {
                mode: PipelineMode::RollbackStage,
            } => self.control.roll_back_stage(pipeline, stage, execution).await,
            RollbackAction::Pipeline {
                mode: PipelineMode::Stop,
            } => self.control.stop_execution(pipeline, execution, reason).await,
        };
        match outcome {
            Ok(detail) => StepResult {
                action: action.label(),
                ok: true,
                detail,
            },
            Err(error) => StepResult {
                action: action.label(),
                ok: false,
                detail: error.to_string(),
            },
        }
    }
}

impl<D: DeploymentControl, S: StateStore> Gate for RollbackTrigger<D, S> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_context(&self) -> bool {
        true
    }

    async fn decide(&self, request: &GateRequest) -> Result<Decision, GateError> {
        let policy = request.policy.rollback().map_err(GateError::PolicyInvalid)?;
        let context = &request.context;
        let (pipeline, stage, execution) = context.deployment("a rollback happens once per deployment")?;
        let reason = context
            .reason
            .clone()
            .unwrap_or_else(|| "rollback requested".to_string());
        let now = request.now;
        let previous = match self
            .store
            .claim_rollback(pipeline, stage, execution, now, LEASE_SECS)
            .await
            .map_err(store_error)?
        {
            RollbackClaim::Done(record) => {
                return Ok(Decision::new(
                    NAME,
                    Verdict::Rollback,
                    format!("already rolled back at {}: {}", record.finished_at, record.summary()),
                )
                .with_evidence(json!({"performed": false, "first_result": record})));
            }
            RollbackClaim::InProgress { since } => {
                let next = now.checked_add(SignedDuration::from_secs(30)).ok();
                return Ok(Decision::new(
                    NAME,
                    Verdict::Wait,
                    format!("another invocation has been rolling back this deployment since {since}"),
                )
                .waiting_until(next)
                .with_evidence(json!({"performed": false, "in_progress_since": since})));
            }
            RollbackClaim::Claimed { previous } => previous,
        };
        let mut ran = Vec::new();
        for action in &policy.actions {
            if previous.iter().any(|step| step.ok && step.action == action.label()) {
                continue; // done by an earlier, partial run
            }
            ran.push(self.run(action, pipeline, stage, execution, &reason).await);
        }
        let finished = Timestamp::now().max(now);
        let record = record_of(policy, &previous, ran, &reason, finished);
        self.store
            .finish_rollback(pipeline, stage, execution, &record)
            .await
            .map_err(store_error)?;
        // Rolled back, or half rolled back: either way nothing more ships here until a person looks.
        let marker = BlockMarker {
            pipeline: pipeline.to_string(),
            stage: stage.to_string(),
            reason: format!("rolled back execution {execution}: {reason}"),
            created_at: now,
            by: NAME.to_string(),
        };
        self.store.put_block_marker(&marker).await.map_err(store_error)?;
        if !record.is_done() {
            return Err(GateError::RollbackIncomplete(record.summary()));
        }
        let decision = Decision::new(NAME, Verdict::Rollback, format!("rolled back: {}", record.summary()))
            .with_evidence(json!({"performed": true, "record": record, "reason": reason}));
        self.store
            .audit(&AuditRecord::of_decision(&decision, pipeline, stage, now))
            .await
            .map_err(store_error)?;
        Ok(decision)
    }
}

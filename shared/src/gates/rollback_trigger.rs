//! The rollback trigger: undoes a deployment exactly once. A conditional write claims the
//! rollback; a second call returns the first result; a partial failure reports which actions
//! succeeded, and a later call retries only the rest. The stage is then blocked until a person
//! clears it.

use jiff::{SignedDuration, Timestamp};

use super::{Gate, GateRequest};
use crate::alarms::BlockMarker;
use crate::audit::AuditRecord;
use crate::decision::{Decision, Verdict};
use crate::error::GateError;
use crate::evidence::RollbackEvidence;
use crate::ports::deployments::DeploymentControl;
use crate::ports::store::{RollbackClaim, RollbackKey, StateStore, StoreError};
use crate::rollback::{NAME, PipelineMode, RollbackAction, StepResult, readable_reason, record_of};

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
            RollbackAction::LambdaAlias {
                function_name,
                alias,
                to_version,
            } => {
                self.control
                    .roll_back_alias(function_name, alias, to_version.as_deref())
                    .await
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

/// Not rolled back yet by this invocation, nor known to be done: ask again in 30 seconds.
fn in_progress(now: Timestamp, reason: String, evidence: RollbackEvidence) -> Decision {
    let next = now.checked_add(SignedDuration::from_secs(30)).ok();
    Decision::new(NAME, Verdict::Wait, reason)
        .waiting_until(next)
        .with_evidence(evidence)
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
            .as_deref()
            .map_or("rollback requested".to_string(), readable_reason);
        let now = request.now;
        let claim_id = uuid::Uuid::new_v4().to_string();
        let key = RollbackKey {
            pipeline,
            stage,
            execution_id: execution,
            claim_id: &claim_id,
        };
        let previous = match self
            .store
            .claim_rollback(key, now, LEASE_SECS)
            .await
            .map_err(GateError::from_store)?
        {
            RollbackClaim::Done(record) => {
                // Its record and the stage's block are written in one transaction (records from
                // before that change wrote the block just after): the stage was blocked then,
                // and stays so until a person unblocks it.
                return Ok(Decision::new(
                    NAME,
                    Verdict::Rollback,
                    format!("already rolled back at {}: {}", record.finished_at, record.summary()),
                )
                .with_evidence(RollbackEvidence {
                    first_result: Some(record),
                    ..RollbackEvidence::default()
                }));
            }
            RollbackClaim::InProgress { since } => {
                return Ok(in_progress(
                    now,
                    format!("another invocation has been rolling back this deployment since {since}"),
                    RollbackEvidence {
                        in_progress_since: Some(since),
                        ..RollbackEvidence::default()
                    },
                ));
            }
            RollbackClaim::Claimed { previous } => previous,
        };
        let mut ran = Vec::new();
        let mut unsaved = Vec::new();
        for action in &policy.actions {
            if previous.iter().any(|step| step.ok && step.action == action.label()) {
                continue; // done by an earlier, partial or abandoned run
            }
            ran.push(self.run(action, pipeline, stage, execution, &reason).await);
            // So whoever takes over an abandoned run skips what succeeded; the rollback itself
            // matters more than this record, so only a lost claim stops it.
            let progress = record_of(policy, &previous, ran.clone(), &reason, Timestamp::now().max(now));
            match self.store.save_rollback_progress(key, &progress).await {
                Ok(()) => {}
                Err(StoreError::Conflict(lost)) => {
                    let evidence = RollbackEvidence {
                        performed: true,
                        steps: Some(ran),
                        ..RollbackEvidence::default()
                    };
                    return Ok(in_progress(now, lost, evidence));
                }
                Err(error) => {
                    tracing::warn!(error = %error, "could not save the rollback's progress; going on");
                    unsaved.push(error.to_string());
                }
            }
        }
        let finished = Timestamp::now().max(now);
        let record = record_of(policy, &previous, ran, &reason, finished);
        // Rolled back, or half rolled back: either way nothing more ships here until a person looks.
        let marker = BlockMarker {
            pipeline: pipeline.to_string(),
            stage: stage.to_string(),
            reason: format!("rolled back execution {execution}: {reason}"),
            created_at: now,
            by: NAME.to_string(),
        };
        let mut decision = Decision::new(NAME, Verdict::Rollback, format!("rolled back: {}", record.summary()))
            .with_evidence(RollbackEvidence {
                performed: true,
                record: Some(record.clone()),
                reason: Some(reason.clone()),
                progress_not_saved: Some(unsaved.clone()),
                execution_id: Some(execution.to_string()),
                ..RollbackEvidence::default()
            });
        decision.reasons.extend(
            unsaved
                .iter()
                .map(|error| format!("(its progress was not saved on the way: {error})")),
        );
        let decision = decision.citing(request.policy_source.as_ref());
        let audit = AuditRecord::of_decision(&decision, pipeline, stage, now);
        match self
            .store
            .finish_rollback(key, &record, &marker, record.is_done().then_some(&audit))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(lost)) => {
                let evidence = RollbackEvidence {
                    performed: true,
                    record: Some(record),
                    ..RollbackEvidence::default()
                };
                return Ok(in_progress(now, lost, evidence));
            }
            Err(error) => return Err(GateError::from_store(error)),
        }
        if !record.is_done() {
            return Err(GateError::RollbackIncomplete(record.summary()));
        }
        Ok(decision)
    }
}

//! The audit trail: every decision and every change a person makes, per pipeline stage.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::decision::Decision;

/// One record of a stage's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditRecord {
    pub pipeline: String,
    pub stage: String,
    pub at: Timestamp,
    /// `decision`, `override_created`, `override_revoked`, `blocked_after_rollback`, `unblocked`.
    pub kind: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    /// A decision's evidence, or what a person's change changed.
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl AuditRecord {
    pub fn of_decision(decision: &Decision, pipeline: &str, stage: &str, at: Timestamp) -> AuditRecord {
        AuditRecord {
            pipeline: pipeline.to_string(),
            stage: stage.to_string(),
            at,
            kind: "decision".to_string(),
            reason: decision.reasons.join("; "),
            gate: Some(decision.gate.to_string()),
            decision: Some(decision.decision.to_string()),
            who: None,
            detail: decision.evidence.to_json(),
        }
    }

    pub fn of_change(
        kind: &str,
        pipeline: &str,
        stage: &str,
        at: Timestamp,
        who: &str,
        reason: &str,
        detail: serde_json::Value,
    ) -> AuditRecord {
        AuditRecord {
            pipeline: pipeline.to_string(),
            stage: stage.to_string(),
            at,
            kind: kind.to_string(),
            reason: reason.to_string(),
            gate: None,
            decision: None,
            who: Some(who.to_string()),
            detail,
        }
    }
}

//! The invocation context: which pipeline, stage and deployment a call is for. The invocation
//! layer reads it from the event; the gates, the ports and the events read it too, so it lives
//! apart from all of them.

use serde::{Deserialize, Serialize};

use crate::error::GateError;

/// Where a decision applies; every field optional because not every caller knows all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InvocationContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Why this is happening (the rollback trigger records it), e.g. the failing verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When this deployment began waiting on the gates (safe-stage passes its execution's
    /// start), so `max_wait` holds under Step Functions too; CodePipeline keeps it in the
    /// continuation token instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<jiff::Timestamp>,
}

impl InvocationContext {
    /// The stage a decision is for; `why` says to the caller why it is needed.
    pub fn stage(&self, why: &str) -> Result<(&str, &str), GateError> {
        match (self.pipeline.as_deref(), self.stage.as_deref()) {
            (Some(pipeline), Some(stage)) => Ok((pipeline, stage)),
            _ => Err(GateError::InvalidInput(format!(
                "context.pipeline and context.stage are required: {why}"
            ))),
        }
    }

    /// The deployment (pipeline, stage, execution) a decision is for.
    pub fn deployment(&self, why: &str) -> Result<(&str, &str, &str), GateError> {
        match (
            self.pipeline.as_deref(),
            self.stage.as_deref(),
            self.execution_id.as_deref(),
        ) {
            (Some(pipeline), Some(stage), Some(execution)) => Ok((pipeline, stage, execution)),
            _ => Err(GateError::InvalidInput(format!(
                "context.pipeline, context.stage and context.execution_id are required: {why}"
            ))),
        }
    }
}

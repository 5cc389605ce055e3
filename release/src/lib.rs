//! handsoff release plans (pure): a team writes its waves once ([`plan`]); handsoff works out
//! what each region runs ([`resolve`]), when the rollout can finish at the earliest
//! ([`schedule`]) and the CodePipeline that runs it ([`synth`]).

pub mod plan;
pub mod resolve;
pub mod schedule;
pub mod synth;

pub use plan::ReleasePlan;

/// A problem with a release plan: the path of the field at fault and what is allowed there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PlanError {
    pub path: String,
    pub message: String,
}

impl PlanError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PlanError {
            path: path.into(),
            message: message.into(),
        }
    }
}

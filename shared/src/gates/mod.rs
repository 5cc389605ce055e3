//! The gates' decisions. Each gate is a pure decider plus, where it reads the world, the ports
//! it reads through; the invocation layer calls it the same way from CodePipeline and Step
//! Functions.

use std::future::Future;

use jiff::Timestamp;

use crate::context::InvocationContext;
use crate::decision::Decision;
use crate::error::GateError;
use crate::policy::Policy;

pub mod alarm_blocker;
pub mod bake_time_waiter;
pub mod canary_evaluator;
pub mod rollback_trigger;
pub mod time_window;

/// A function whose gate is not built yet. It decides nothing and so blocks every deployment:
/// a gate never proceeds by default.
#[derive(Debug, Clone, Copy)]
pub struct NotImplementedGate(pub &'static str);

impl Gate for NotImplementedGate {
    fn name(&self) -> &'static str {
        self.0
    }

    async fn decide(&self, _request: &GateRequest) -> Result<Decision, GateError> {
        Err(GateError::NotImplemented(self.0))
    }
}

/// How the function was called; some limits differ (a CodePipeline action waits at most 24h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    CodePipeline,
    Direct,
}

/// Everything a gate decides on, read from the event.
#[derive(Debug, Clone)]
pub struct GateRequest {
    pub policy: Policy,
    pub context: InvocationContext,
    pub now: Timestamp,
    /// When this deployment started waiting on the gate (CodePipeline continuations).
    pub waiting_since: Option<Timestamp>,
    pub mode: Mode,
    /// The stored policy versions `policy` was merged from; None for an inline policy.
    pub policy_source: Option<crate::layers::PolicySource>,
}

/// A gate: reads what it needs and decides.
pub trait Gate: Send + Sync {
    /// The function's name, e.g. `time-window-gate`.
    fn name(&self) -> &'static str;

    /// Whether it needs the pipeline and stage it runs for (CodePipeline jobs then look them up).
    fn needs_context(&self) -> bool {
        false
    }

    fn decide(&self, request: &GateRequest) -> impl Future<Output = Result<Decision, GateError>> + Send;
}

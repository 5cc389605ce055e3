//! handsoff: safe, hands-off deployments. The common crate of the Lambda functions and the CLI.
//!
//! Three layers, kept apart:
//! - policy & decisions, pure: [`policy`], [`duration`], [`window`], [`decision`], [`gates`];
//! - ports & adapters to AWS: [`ports`], [`aws`];
//! - invocation: [`invoke`] (CodePipeline jobs and Step Functions/direct payloads) and
//!   [`telemetry`] (JSON logs, EMF metrics).

pub mod duration;
pub mod policy;
pub mod window;

//! handsoff: safe, hands-off deployments. The common crate of the Lambda functions and the CLI.
//!
//! Three layers, kept apart:
//! - policy & decisions, pure: [`policy`], [`duration`], [`window`], [`decision`], [`gates`];
//! - ports & adapters to AWS: [`ports`], [`aws`];
//! - invocation: [`invoke`] (CodePipeline jobs and Step Functions/direct payloads) and
//!   [`telemetry`] (JSON logs, EMF metrics).
// The handler future is deep (each function's gate, its ports and the invocation layer); laid
// out here for `invoke::Startup`, it needs more than the default 128.
#![recursion_limit = "256"]

pub mod alarms;
pub mod audit;
pub mod aws;
pub mod bake;
pub mod canary;
pub mod context;
pub mod decision;
pub mod duration;
pub mod error;
pub mod events;
pub mod evidence;
pub mod freeze;
pub mod gates;
pub mod invoke;
pub mod json;
pub mod layers;
pub mod lazy_http;
pub mod names;
pub mod policy;
pub mod ports;
pub mod report;
pub mod rollback;
pub mod schema;
pub mod statistic;
pub mod status;
pub mod suite;
pub mod telemetry;
pub mod window;

//! The canary judge (pure): one-box against fleet, from metrics alone.

pub mod judge;
pub mod policy;
pub mod sequential;
pub mod stats;

pub use judge::{CanaryVerdict, Check, JudgeConfig, JudgeInput, Judgement, Sample, judge};
pub use policy::{CanaryPolicy, LambdaAliasTarget, MetricPair, MetricSpec};

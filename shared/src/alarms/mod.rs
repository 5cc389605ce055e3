//! Alarm blocking (pure): which alarms stop a deployment, what overrides lift, and the
//! blocker's decision.

pub mod assess;
pub mod overrides;
pub mod policy;

pub use assess::{AlarmKind, AlarmReading, AlarmState, Blocker, BlockerKind, blockers, blockers_of};
pub use overrides::{BlockMarker, Override};
pub use policy::{AlarmPolicy, AlarmSelection, InsufficientData, WhenBlocked};

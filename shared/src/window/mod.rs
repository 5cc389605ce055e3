//! Time windows (pure): when deployments may start. The semantics are in docs/policy.md ("Time
//! windows") and pinned by shared/tests/window_semantics.rs.

pub mod civil;
pub mod clock;
pub mod cron;
pub mod days;
pub mod policy;
pub mod schedule;
pub mod status;

pub use policy::{AllowWindow, CronWindow, DenyDates, LocalDate, WhenClosed, WindowPolicy, Zone};
pub use schedule::{HORIZON_DAYS, Schedule, Stretch};
pub use status::{ClosedBy, WindowStatus};

/// Whether a deployment may start at `at`, and when that changes.
pub fn evaluate(policy: &WindowPolicy, at: jiff::Timestamp) -> WindowStatus {
    Schedule::new(policy).status_at(policy, at)
}

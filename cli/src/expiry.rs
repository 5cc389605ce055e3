//! An override's expiry, announced when it comes: `override create` leaves an EventBridge
//! Scheduler one-time schedule that publishes `Handsoff Override Expired` at the override's
//! expiry (nothing of handsoff runs at that moment), and `override revoke` deletes it.

use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
use handsoff::events::{EventKind, HandsoffEvent, SOURCE};
use handsoff::ports::events::EventBridgeSink;
use jiff::Timestamp;

use crate::aws::{AwsArgs, config};

/// The role the schedule publishes with (the stack's `OverrideExpiryRoleArn` output).
pub const ROLE_ENV: &str = "HANDSOFF_SCHEDULER_ROLE_ARN";

/// Scheduler's universal target for EventBridge's PutEvents.
const PUT_EVENTS: &str = "arn:aws:scheduler:::aws-sdk:eventbridge:putEvents";

/// The schedule of override `id`.
pub fn schedule_name(id: &str) -> String {
    format!("handsoff-override-{id}")
}

/// `at(2026-12-07T19:00:00)`, in UTC, to the second.
pub fn at_expression(at: Timestamp) -> String {
    format!(
        "at({})",
        at.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%S")
    )
}

/// The PutEvents input the schedule sends.
pub fn put_events_input(event: &HandsoffEvent) -> String {
    serde_json::json!({"Entries": [{
        "Source": SOURCE,
        "DetailType": event.kind.detail_type(),
        "Detail": event.detail().to_string(),
        "EventBusName": EventBridgeSink::bus_from_env(),
    }]})
    .to_string()
}

/// Leaves the schedule that announces the expiry; a warning (never an error: the override
/// stands) when it cannot.
pub async fn schedule(aws: &AwsArgs, id: &str, pipeline: &str, stage: &str, expires_at: Timestamp) {
    let Some(role) = std::env::var(ROLE_ENV).ok().filter(|role| !role.trim().is_empty()) else {
        eprintln!(
            "warning: its expiry will not be announced: set {ROLE_ENV} (the handsoff stack's OverrideExpiryRoleArn output)"
        );
        return;
    };
    let mut event = HandsoffEvent::new(
        EventKind::OverrideExpired,
        pipeline,
        stage,
        format!("override {id} expired"),
        expires_at,
    );
    event.evidence_summary = serde_json::json!({"id": id}).to_string();
    let target = match Target::builder()
        .arn(PUT_EVENTS)
        .role_arn(role)
        .input(put_events_input(&event))
        .build()
    {
        Ok(target) => target,
        Err(error) => {
            eprintln!("warning: its expiry will not be announced: {error}");
            return;
        }
    };
    let window = FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build();
    let created = aws_sdk_scheduler::Client::new(&config(aws).await)
        .create_schedule()
        .name(schedule_name(id))
        .schedule_expression(at_expression(expires_at))
        .schedule_expression_timezone("UTC")
        .set_flexible_time_window(window.ok())
        .target(target)
        .action_after_completion(ActionAfterCompletion::Delete)
        .send()
        .await;
    if let Err(error) = created {
        eprintln!(
            "warning: its expiry will not be announced: {}",
            handsoff::ports::PortError::from_sdk("scheduler:CreateSchedule", &error)
        );
    }
}

/// Deletes the schedule of a revoked override (already gone is fine).
pub async fn unschedule(aws: &AwsArgs, id: &str) {
    let deleted = aws_sdk_scheduler::Client::new(&config(aws).await)
        .delete_schedule()
        .name(schedule_name(id))
        .send()
        .await;
    if let Err(error) = deleted
        && !error
            .as_service_error()
            .is_some_and(|service| service.is_resource_not_found_exception())
    {
        eprintln!(
            "warning: the schedule announcing its expiry could not be deleted: {}",
            handsoff::ports::PortError::from_sdk("scheduler:DeleteSchedule", &error)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_fires_at_the_expiry_and_publishes_the_expired_event() {
        let at: Timestamp = "2026-12-07T19:00:00.5Z".parse().unwrap();
        assert_eq!(at_expression(at), "at(2026-12-07T19:00:00)");
        let event = HandsoffEvent::new(
            EventKind::OverrideExpired,
            "orders",
            "Prod-1",
            "override ov-1 expired",
            at,
        );
        let input: serde_json::Value = serde_json::from_str(&put_events_input(&event)).unwrap();
        let entry = &input["Entries"][0];
        assert_eq!(
            (&entry["Source"], &entry["DetailType"]),
            (&"handsoff".into(), &"Handsoff Override Expired".into())
        );
        let detail: serde_json::Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
        assert_eq!(
            (&detail["pipeline"], &detail["stage"]),
            (&"orders".into(), &"Prod-1".into())
        );
    }
}

//! Publishing handsoff's events to EventBridge. Nothing decides on the answer: a decision is
//! made before its events are published, and a publish that fails is logged and counted.

use std::future::Future;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::{PortError, PortErrorKind};
use crate::aws::OnFirstUse;
use crate::events::{HandsoffEvent, SOURCE};

/// The bus the functions publish to: `HANDSOFF_EVENT_BUS`, else the account's default bus.
pub const BUS_ENV: &str = "HANDSOFF_EVENT_BUS";

pub trait EventSink: Send + Sync {
    fn publish(&self, events: &[HandsoffEvent]) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Says nothing (a handler with no events wired, and tests that are about something else).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    async fn publish(&self, _events: &[HandsoffEvent]) -> Result<(), PortError> {
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct EventBridgeSink {
    client: OnFirstUse<aws_sdk_eventbridge::Client>,
    bus: String,
}

impl EventBridgeSink {
    pub fn new(client: impl Into<OnFirstUse<aws_sdk_eventbridge::Client>>, bus: impl Into<String>) -> Self {
        EventBridgeSink {
            client: client.into(),
            bus: bus.into(),
        }
    }

    /// A function's publisher: its configuration's EventBridge client, built when it first
    /// publishes, to the bus `HANDSOFF_EVENT_BUS` names (else `default`).
    pub fn from_env(config: &aws_config::SdkConfig) -> Self {
        EventBridgeSink::new(
            crate::aws::on_first_use(config, aws_sdk_eventbridge::Client::new),
            EventBridgeSink::bus_from_env(),
        )
    }

    /// The bus named by `HANDSOFF_EVENT_BUS`, else `default`.
    pub fn bus_from_env() -> String {
        std::env::var(BUS_ENV)
            .ok()
            .filter(|bus| !bus.trim().is_empty())
            .unwrap_or_else(|| "default".to_string())
    }
}

/// PutEvents takes at most 10 entries a call.
const ENTRIES_PER_CALL: usize = 10;

impl EventSink for EventBridgeSink {
    async fn publish(&self, events: &[HandsoffEvent]) -> Result<(), PortError> {
        for chunk in events.chunks(ENTRIES_PER_CALL) {
            let entries = chunk
                .iter()
                .map(|event| {
                    PutEventsRequestEntry::builder()
                        .source(SOURCE)
                        .detail_type(event.kind.detail_type())
                        .detail(event.detail().to_string())
                        .event_bus_name(&self.bus)
                        .build()
                })
                .collect::<Vec<_>>();
            let answer = self
                .client
                .get()
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|error| PortError::from_sdk("events:PutEvents", &error))?;
            // PutEvents answers 200 with entries it refused: each refused entry is a failure.
            if answer.failed_entry_count() > 0 {
                let reasons: Vec<String> = answer
                    .entries()
                    .iter()
                    .filter_map(|entry| {
                        entry
                            .error_code()
                            .map(|code| format!("{code}: {}", entry.error_message().unwrap_or_default()))
                    })
                    .collect();
                return Err(PortError {
                    call: "events:PutEvents".to_string(),
                    kind: PortErrorKind::Rejected,
                    message: format!(
                        "{} of {} events refused: {}",
                        answer.failed_entry_count(),
                        chunk.len(),
                        reasons.join("; ")
                    ),
                });
            }
        }
        Ok(())
    }
}

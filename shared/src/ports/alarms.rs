//! Reading alarm states from CloudWatch: exact names in batches of 100 and each prefix, metric
//! and composite alarms alike, following `NextToken`; other accounts through an assumed role.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::types::{AlarmType, HistoryItemType, StateValue};
use jiff::Timestamp;

use super::PortError;
use crate::alarms::{AlarmKind, AlarmReading, AlarmSelection, AlarmState};
use crate::bake::AlarmEpisode;

/// `DescribeAlarms` takes at most 100 names per call.
pub const NAMES_PER_CALL: usize = 100;
const CALL: &str = "cloudwatch:DescribeAlarms";

/// What one selection read, and how many API calls it took.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlarmRead {
    pub readings: Vec<AlarmReading>,
    pub calls: usize,
}

pub trait AlarmSource: Send + Sync {
    /// Reads the alarms of one selection (`index` in the policy's `watch`).
    fn read(
        &self,
        selection: &AlarmSelection,
        index: usize,
    ) -> impl Future<Output = Result<AlarmRead, PortError>> + Send;
}

/// Where alarms are read from: (role to assume, region).
type Place = (Option<String>, Option<String>);

/// What alarms did over a span of time.
pub trait AlarmHistory: Send + Sync {
    /// Every transition to ALARM of the selected alarms in [since, until), and the calls it took.
    fn alarm_episodes(
        &self,
        selection: &AlarmSelection,
        since: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<(Vec<AlarmEpisode>, usize), PortError>> + Send;
}

/// The real adapter, on aws-sdk-cloudwatch.
#[derive(Debug)]
pub struct CloudWatchAlarms {
    home: Client,
    config: Option<SdkConfig>,
    /// Clients for (role, region), built on first use and kept for the container's life.
    others: Mutex<HashMap<Place, Client>>,
}

impl CloudWatchAlarms {
    pub fn new(config: &SdkConfig) -> Self {
        CloudWatchAlarms {
            home: Client::new(config),
            config: Some(config.clone()),
            others: Mutex::new(HashMap::new()),
        }
    }

    /// One client for everything (tests; no cross-account reads).
    pub fn with_client(client: Client) -> Self {
        CloudWatchAlarms {
            home: client,
            config: None,
            others: Mutex::new(HashMap::new()),
        }
    }

    async fn client_for(&self, selection: &AlarmSelection) -> Result<Client, PortError> {
        if selection.role_arn.is_none() && selection.region.is_none() {
            return Ok(self.home.clone());
        }
        let key = (selection.role_arn.clone(), selection.region.clone());
        if let Some(client) = self.others.lock().ok().and_then(|clients| clients.get(&key).cloned()) {
            return Ok(client);
        }
        let Some(config) = &self.config else {
            return Ok(self.home.clone());
        };
        let mut builder = aws_sdk_cloudwatch::config::Builder::from(config);
        let region = selection
            .region
            .clone()
            .map(aws_config::Region::new)
            .or_else(|| config.region().cloned());
        if let Some(region) = &region {
            builder = builder.region(region.clone());
        }
        if let Some(role) = &selection.role_arn {
            let mut provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("handsoff-alarms")
                .configure(config);
            if let Some(region) = region {
                provider = provider.region(region);
            }
            builder = builder.credentials_provider(provider.build().await);
        }
        let client = Client::from_conf(builder.build());
        if let Ok(mut clients) = self.others.lock() {
            clients.insert(key, client.clone());
        }
        Ok(client)
    }
}

fn state(value: Option<&StateValue>) -> AlarmState {
    match value {
        Some(StateValue::Ok) => AlarmState::Ok,
        Some(StateValue::Alarm) => AlarmState::Alarm,
        Some(StateValue::InsufficientData) => AlarmState::InsufficientData,
        Some(other) => AlarmState::Other(other.as_str().to_string()),
        None => AlarmState::Other("UNKNOWN".to_string()),
    }
}

fn since_of(value: Option<&aws_sdk_cloudwatch::primitives::DateTime>) -> Option<Timestamp> {
    value.and_then(|at| Timestamp::from_second(at.secs()).ok())
}

fn collect(output: &DescribeAlarmsOutput, index: usize, into: &mut Vec<AlarmReading>) {
    for alarm in output.metric_alarms() {
        into.push(AlarmReading {
            name: alarm.alarm_name().unwrap_or_default().to_string(),
            kind: AlarmKind::Metric,
            state: state(alarm.state_value()),
            reason: alarm.state_reason().unwrap_or_default().to_string(),
            since: since_of(alarm.state_updated_timestamp()),
            selection: index,
        });
    }
    for alarm in output.composite_alarms() {
        into.push(AlarmReading {
            name: alarm.alarm_name().unwrap_or_default().to_string(),
            kind: AlarmKind::Composite,
            state: state(alarm.state_value()),
            reason: alarm.state_reason().unwrap_or_default().to_string(),
            since: since_of(alarm.state_updated_timestamp()),
            selection: index,
        });
    }
}

impl AlarmSource for CloudWatchAlarms {
    async fn read(&self, selection: &AlarmSelection, index: usize) -> Result<AlarmRead, PortError> {
        let client = self.client_for(selection).await?;
        let mut read = AlarmRead::default();
        // Names in batches of 100, then each prefix: the fewest calls the API allows.
        let filters = selection
            .names
            .chunks(NAMES_PER_CALL)
            .map(|names| (Some(names.to_vec()), None))
            .chain(selection.prefixes.iter().map(|prefix| (None, Some(prefix.clone()))));
        for (names, prefix) in filters {
            let mut token = None;
            loop {
                let output = client
                    .describe_alarms()
                    .alarm_types(AlarmType::MetricAlarm)
                    .alarm_types(AlarmType::CompositeAlarm)
                    .max_records(100)
                    .set_alarm_names(names.clone())
                    .set_alarm_name_prefix(prefix.clone())
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|error| PortError::from_sdk(CALL, &error))?;
                read.calls += 1;
                collect(&output, index, &mut read.readings);
                token = output.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(read)
    }
}

/// Whether a history item's JSON says the alarm went to ALARM.
fn entered_alarm(history_data: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(history_data)
        .ok()
        .and_then(|data| data["newState"]["stateValue"].as_str().map(|state| state == "ALARM"))
        .unwrap_or(false)
}

impl AlarmHistory for CloudWatchAlarms {
    async fn alarm_episodes(
        &self,
        selection: &AlarmSelection,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<(Vec<AlarmEpisode>, usize), PortError> {
        const HISTORY: &str = "cloudwatch:DescribeAlarmHistory";
        let client = self.client_for(selection).await?;
        // One call per named alarm, and one account-wide call filtered by prefix if any.
        let mut targets: Vec<Option<&str>> = selection.names.iter().map(|name| Some(name.as_str())).collect();
        if !selection.prefixes.is_empty() {
            targets.push(None);
        }
        let mut episodes = Vec::new();
        let mut calls = 0;
        for target in targets {
            let mut token = None;
            loop {
                let output = client
                    .describe_alarm_history()
                    .set_alarm_name(target.map(str::to_string))
                    .alarm_types(AlarmType::MetricAlarm)
                    .alarm_types(AlarmType::CompositeAlarm)
                    .history_item_type(HistoryItemType::StateUpdate)
                    .start_date(aws_sdk_cloudwatch::primitives::DateTime::from_secs(since.as_second()))
                    .end_date(aws_sdk_cloudwatch::primitives::DateTime::from_secs(until.as_second()))
                    .max_records(100)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|error| PortError::from_sdk(HISTORY, &error))?;
                calls += 1;
                for item in output.alarm_history_items() {
                    let name = item.alarm_name().unwrap_or_default();
                    let wanted = match target {
                        Some(_) => true,
                        None => selection
                            .prefixes
                            .iter()
                            .any(|prefix| name.starts_with(prefix.as_str())),
                    };
                    if wanted && entered_alarm(item.history_data().unwrap_or_default()) {
                        episodes.push(AlarmEpisode {
                            alarm: name.to_string(),
                            at: since_of(item.timestamp()),
                            summary: item.history_summary().unwrap_or_default().to_string(),
                        });
                    }
                }
                token = output.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        episodes.sort_by_key(|episode| episode.at);
        Ok((episodes, calls))
    }
}

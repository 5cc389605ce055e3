//! From what CloudWatch says to the list of things that block.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::policy::{AlarmPolicy, AlarmSelection, InsufficientData};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AlarmKind {
    #[serde(rename = "metric")]
    Metric,
    #[serde(rename = "composite")]
    Composite,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AlarmState {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
    /// A state this code does not know: treated as blocking.
    #[serde(untagged)]
    Other(String),
}

impl AlarmState {
    pub fn as_str(&self) -> &str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
            AlarmState::Other(state) => state,
        }
    }
}

/// One alarm as read, and which selection (index in `watch`) found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmReading {
    pub name: String,
    pub kind: AlarmKind,
    pub state: AlarmState,
    pub reason: String,
    pub since: Option<Timestamp>,
    pub selection: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockerKind {
    Alarm,
    InsufficientData,
    UnknownState,
    /// A named alarm that does not exist: a typo must never pass silently.
    NotFound,
    /// A prefix that matches no alarm at all.
    PrefixMatchesNothing,
}

/// Something that stops the deployment, with what a person needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Blocker {
    /// The alarm name (or the prefix, for `PrefixMatchesNothing`).
    pub alarm: String,
    pub kind: BlockerKind,
    pub state: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    pub place: String,
}

impl Blocker {
    /// A watched name or prefix that finds no alarm: the policy is wrong, and waiting will not
    /// mend it.
    pub fn is_missing(&self) -> bool {
        matches!(self.kind, BlockerKind::NotFound | BlockerKind::PrefixMatchesNothing)
    }

    pub fn describe(&self) -> String {
        match self.kind {
            BlockerKind::NotFound => format!("alarm {} not found in {}", self.alarm, self.place),
            BlockerKind::PrefixMatchesNothing => {
                format!("no alarm in {} matches prefix `{}`", self.place, self.alarm)
            }
            _ => match self.since {
                Some(since) => format!("{} is {} since {since}: {}", self.alarm, self.state, self.reason),
                None => format!("{} is {}: {}", self.alarm, self.state, self.reason),
            },
        }
    }
}

/// Everything that blocks, in the order the policy lists it: firing alarms, alarms without data
/// (unless the policy lets them through), unknown states, missing names, empty prefixes.
pub fn blockers(policy: &AlarmPolicy, readings: &[AlarmReading]) -> Vec<Blocker> {
    blockers_of(&policy.watch, policy.insufficient_data, readings)
}

/// The one alarm-selection rule both the blocker and the bake apply: for each selection of
/// `watch` (readings carry its index), every alarm that is not OK, every named alarm that was
/// not found and every prefix that matched nothing.
pub fn blockers_of(
    watch: &[AlarmSelection],
    insufficient_data: InsufficientData,
    readings: &[AlarmReading],
) -> Vec<Blocker> {
    let mut found = Vec::new();
    for (index, selection) in watch.iter().enumerate() {
        let place = selection.place();
        let mine: Vec<&AlarmReading> = readings.iter().filter(|reading| reading.selection == index).collect();
        let mut seen = std::collections::HashSet::new();
        for reading in &mine {
            if !seen.insert(reading.name.as_str()) {
                continue; // found by a name and by a prefix
            }
            let kind = match &reading.state {
                AlarmState::Ok => continue,
                AlarmState::InsufficientData if insufficient_data == InsufficientData::Proceed => {
                    continue;
                }
                AlarmState::Alarm => BlockerKind::Alarm,
                AlarmState::InsufficientData => BlockerKind::InsufficientData,
                AlarmState::Other(_) => BlockerKind::UnknownState,
            };
            found.push(Blocker {
                alarm: reading.name.clone(),
                kind,
                state: reading.state.as_str().to_string(),
                reason: reading.reason.clone(),
                since: reading.since,
                place: place.clone(),
            });
        }
        for name in &selection.names {
            if !mine.iter().any(|reading| &reading.name == name) {
                found.push(Blocker {
                    alarm: name.clone(),
                    kind: BlockerKind::NotFound,
                    state: "NOT_FOUND".to_string(),
                    reason: "no alarm has this name; check the policy for a typo".to_string(),
                    since: None,
                    place: place.clone(),
                });
            }
        }
        for prefix in &selection.prefixes {
            if !mine.iter().any(|reading| reading.name.starts_with(prefix.as_str())) {
                found.push(Blocker {
                    alarm: prefix.clone(),
                    kind: BlockerKind::PrefixMatchesNothing,
                    state: "NOT_FOUND".to_string(),
                    reason: "no alarm has this prefix; check the policy for a typo".to_string(),
                    since: None,
                    place: place.clone(),
                });
            }
        }
    }
    found
}

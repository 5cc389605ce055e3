//! Overrides (a person lifts the alarm block for one stage, with a reason, for a while) and the
//! stage block a rollback leaves behind.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::assess::Blocker;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Override {
    pub id: String,
    pub pipeline: String,
    pub stage: String,
    /// The alarms it lifts; empty lifts every alarm of the stage.
    #[serde(default)]
    pub alarms: Vec<String>,
    pub reason: String,
    /// The caller identity (ARN) that created it.
    pub who: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

impl Override {
    /// Created, not expired, not revoked.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.created_at <= now && now < self.expires_at
    }

    /// How long it was made to live.
    pub fn lifetime_secs(&self) -> i64 {
        self.expires_at.as_second() - self.created_at.as_second()
    }

    pub fn covers(&self, blocker: &Blocker) -> bool {
        self.alarms.is_empty() || self.alarms.iter().any(|alarm| alarm == &blocker.alarm)
    }
}

/// Live overrides made to live longer than the policy allows: whoever wrote them went around
/// the CLI's check (or the policy was tightened since), so they lift nothing.
pub fn too_long(overrides: &[Override], now: Timestamp, max_ttl_secs: i64) -> Vec<&Override> {
    overrides
        .iter()
        .filter(|candidate| candidate.is_live(now) && candidate.lifetime_secs() > max_ttl_secs)
        .collect()
}

/// The first live override within `max_ttl_secs` covering each blocker, or None if any blocker
/// is uncovered.
pub fn covering<'a>(
    blockers: &[Blocker],
    overrides: &'a [Override],
    now: Timestamp,
    max_ttl_secs: i64,
) -> Option<Vec<&'a Override>> {
    let live: Vec<&Override> = overrides
        .iter()
        .filter(|candidate| candidate.is_live(now) && candidate.lifetime_secs() <= max_ttl_secs)
        .collect();
    let mut used: Vec<&Override> = Vec::new();
    for blocker in blockers {
        let cover = live.iter().find(|candidate| candidate.covers(blocker))?;
        if !used.iter().any(|already| already.id == cover.id) {
            used.push(cover);
        }
    }
    Some(used)
}

/// "Blocked after rollback": written by the rollback trigger, cleared only by a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlockMarker {
    pub pipeline: String,
    pub stage: String,
    pub reason: String,
    pub created_at: Timestamp,
    pub by: String,
}

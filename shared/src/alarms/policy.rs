//! The `alarms` section of a policy: which alarms block a deployment, and how.

use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;
use crate::policy::PolicyError;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmPolicy {
    /// Where to look: the team's alarms, and org-wide alarms in other accounts or regions.
    pub watch: Vec<AlarmSelection>,
    /// What an alarm without enough data means. Default: block.
    #[serde(default)]
    pub insufficient_data: InsufficientData,
    /// Wait for the alarms to clear (default), or fail at once.
    #[serde(default)]
    pub when_blocked: WhenBlocked,
    /// While waiting, how often to look again. Default 5m.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: HumanDuration,
    /// Longest to wait for the alarms to clear before blocking for good. Default 1h.
    #[serde(default = "default_max_wait")]
    pub max_wait: HumanDuration,
    /// Longest an override may live. Default 4h.
    #[serde(default = "default_max_override_ttl")]
    pub max_override_ttl: HumanDuration,
}

fn default_poll_interval() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_max_wait() -> HumanDuration {
    HumanDuration::from_secs(3_600)
}

fn default_max_override_ttl() -> HumanDuration {
    HumanDuration::from_secs(4 * 3_600)
}

/// Alarms chosen by exact name and by name prefix, in this account and region or, with
/// `role_arn` and `region`, in another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmSelection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,
    /// A role to assume for reading these alarms (org-wide alarms in another account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InsufficientData {
    #[default]
    Block,
    Proceed,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WhenBlocked {
    #[default]
    Wait,
    Fail,
}

/// CloudWatch's limit on an alarm name.
const MAX_ALARM_NAME: usize = 255;

impl AlarmPolicy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.watch.is_empty() {
            return Err(PolicyError::new(
                "watch",
                "empty: list at least one selection, e.g. [{\"names\": [\"orders-high-severity\"]}]",
            ));
        }
        for (index, selection) in self.watch.iter().enumerate() {
            selection
                .validate()
                .map_err(|error| error.within(&format!("watch[{index}]")))?;
        }
        if self.poll_interval.as_secs() < 10 {
            return Err(PolicyError::new(
                "poll_interval",
                format!("`{}` is too short; poll every 10s or more", self.poll_interval),
            ));
        }
        let max_ttl = HumanDuration::from_secs(7 * 86_400);
        if self.max_override_ttl.as_secs() < 60 || self.max_override_ttl > max_ttl {
            return Err(PolicyError::new(
                "max_override_ttl",
                format!("`{}` is not allowed; use 1m to {max_ttl}", self.max_override_ttl),
            ));
        }
        Ok(())
    }
}

impl AlarmSelection {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.names.is_empty() && self.prefixes.is_empty() {
            return Err(PolicyError::new("policy", "give `names` or `prefixes` (or both)"));
        }
        for (field, values) in [("names", &self.names), ("prefixes", &self.prefixes)] {
            for (index, value) in values.iter().enumerate() {
                if value.trim().is_empty() || value.len() > MAX_ALARM_NAME {
                    return Err(PolicyError::new(
                        format!("{field}[{index}]"),
                        format!("must be 1 to {MAX_ALARM_NAME} characters"),
                    ));
                }
            }
        }
        if let Some(role) = &self.role_arn {
            let parts: Vec<&str> = role.splitn(6, ':').collect();
            let valid = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "iam"
                && parts[4].len() == 12
                && parts[4].bytes().all(|byte| byte.is_ascii_digit())
                && parts[5].starts_with("role/");
            if !valid {
                return Err(PolicyError::new(
                    "role_arn",
                    format!("`{role}` is not an IAM role ARN; write arn:aws:iam::123456789012:role/NAME"),
                ));
            }
        }
        if let Some(region) = &self.region {
            let valid = region.split('-').count() >= 3
                && region
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
            if !valid {
                return Err(PolicyError::new(
                    "region",
                    format!("`{region}` is not an AWS region; write e.g. us-east-1"),
                ));
            }
        }
        Ok(())
    }

    /// Where these alarms are read, for messages: "this account" or "role R in us-east-1".
    pub fn place(&self) -> String {
        match (&self.role_arn, &self.region) {
            (None, None) => "this account".to_string(),
            (Some(role), None) => role.clone(),
            (None, Some(region)) => region.clone(),
            (Some(role), Some(region)) => format!("{role} in {region}"),
        }
    }
}

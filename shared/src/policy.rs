//! The policy document: what a team asks of its gates. It arrives inline (CodePipeline
//! `UserParameters`, a Step Functions payload, a file for the CLI) and is checked strictly: an
//! unknown or misspelt field is an error that names its path, never silently ignored.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::alarms::AlarmPolicy;
use crate::bake::BakePolicy;
use crate::canary::CanaryPolicy;
use crate::window::WindowPolicy;

/// A policy problem, with the path of the field at fault (`windows.allow[0].days`) and what is
/// allowed there.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    pub path: String,
    pub message: String,
}

impl PolicyError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error, seen from a document that holds this one under `prefix`.
    pub fn within(self, prefix: &str) -> Self {
        let path = if self.path == ROOT {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.path)
        };
        PolicyError {
            path,
            message: self.message,
        }
    }
}

const ROOT: &str = "policy";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// When deployments may start (the time-window gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowPolicy>,
    /// Which alarms block a deployment (the alarm blocker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<AlarmPolicy>,
    /// How the one-box is judged against the fleet (the canary evaluator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryPolicy>,
    /// How long and how much traffic to bake for (the bake-time waiter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake: Option<BakePolicy>,
}

impl Policy {
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        if !text.trim_start().starts_with('{') {
            return Err(PolicyError::new(
                ROOT,
                "a policy is a JSON object, e.g. {\"windows\": {...}}",
            ));
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let policy: Policy = serde_path_to_error::deserialize(&mut deserializer).map_err(path_error)?;
        deserializer
            .end()
            .map_err(|error| PolicyError::new(ROOT, format!("unexpected text after the policy document ({error})")))?;
        policy.validate()?;
        Ok(policy)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Policy, PolicyError> {
        if !value.is_object() {
            return Err(PolicyError::new(
                ROOT,
                "a policy is a JSON object, e.g. {\"windows\": {...}}",
            ));
        }
        let policy: Policy = serde_path_to_error::deserialize(value).map_err(path_error)?;
        policy.validate()?;
        Ok(policy)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        if let Some(windows) = &self.windows {
            windows.validate().map_err(|error| error.within("windows"))?;
        }
        Ok(())
    }

    /// The `windows` section, which the time-window gate cannot do without.
    pub fn windows(&self) -> Result<&WindowPolicy, PolicyError> {
        self.windows.as_ref().ok_or_else(|| {
            PolicyError::new(
                "windows",
                "missing: the time-window gate needs a `windows` section with a `timezone` and `allow` or `cron` windows",
            )
        })
    }
}

impl Policy {
    /// The `alarms` section, which the alarm blocker cannot do without.
    pub fn alarms(&self) -> Result<&AlarmPolicy, PolicyError> {
        self.alarms.as_ref().ok_or_else(|| {
            PolicyError::new("alarms", "missing: the alarm blocker needs an `alarms` section, e.g. {\"watch\": [{\"names\": [\"orders-high-severity\"]}]}")
        })
    }
}

impl Policy {
    /// The `canary` section, which the canary evaluator cannot do without.
    pub fn canary(&self) -> Result<&CanaryPolicy, PolicyError> {
        self.canary.as_ref().ok_or_else(|| {
            PolicyError::new(
                "canary",
                "missing: the canary evaluator needs a `canary` section with `lambda_alias` or `pair`",
            )
        })
    }
}

impl Policy {
    /// The `bake` section, which the bake-time waiter cannot do without.
    pub fn bake(&self) -> Result<&BakePolicy, PolicyError> {
        self.bake.as_ref().ok_or_else(|| {
            PolicyError::new(
                "bake",
                "missing: the bake-time waiter needs a `bake` section with at least `duration`",
            )
        })
    }
}

fn path_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> PolicyError {
    let path = error.path().to_string();
    let path = if path == "." { ROOT.to_string() } else { path };
    PolicyError::new(path, error.inner().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_section_is_named_with_the_allowed_ones() {
        let error = Policy::from_json(r#"{"window": {}}"#).unwrap_err();
        assert_eq!(error.path, "window");
        assert!(
            error
                .message
                .contains("unknown field `window`, expected one of `windows`, `alarms`, `canary`, `bake`"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_field_deep_inside_names_its_whole_path() {
        let error = Policy::from_json(
            r#"{"windows": {"timezone": "Europe/London", "allow": [{"days": "Mon-Fri", "start": "09:00", "end": "17:00"}, {"days": "Sat", "start": "9am", "end": "12:00"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(error.path, "windows.allow[1].start");
        assert!(error.message.contains("`9am` is not a time of day"), "{error}");
    }

    #[test]
    fn not_json_is_an_error_not_a_panic() {
        for text in ["", "{", "[]", "null", "{\"windows\": 3}", "{} trailing"] {
            assert!(Policy::from_json(text).is_err(), "{text}");
        }
    }

    #[test]
    fn the_gate_asks_for_its_section_by_name() {
        let error = Policy::from_json("{}").unwrap().windows().unwrap_err();
        assert_eq!(error.path, "windows");
        assert!(error.message.contains("timezone"));
    }
}

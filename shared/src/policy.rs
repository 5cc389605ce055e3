//! The policy document: what a team asks of its gates. It arrives inline (CodePipeline
//! `UserParameters`, a Step Functions payload, a file for the CLI) and is checked strictly: an
//! unknown or misspelt field is an error that names its path, never silently ignored.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::alarms::AlarmPolicy;
use crate::bake::BakePolicy;
use crate::canary::CanaryPolicy;
use crate::rollback::RollbackPolicy;
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

/// The section a gate reads, as an example a person can copy: a gate that is missing its
/// policy names its own section, not the window gate's.
pub fn example_for(gate: &str) -> &'static str {
    match gate {
        "time-window-gate" => {
            r#"{"windows": {"timezone": "Europe/London", "allow": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}]}}"#
        }
        "alarm-blocker" => r#"{"alarms": {"watch": [{"names": ["orders-high-severity"]}]}}"#,
        "bake-time-waiter" => r#"{"bake": {"duration": "1h"}}"#,
        "canary-evaluator" => r#"{"canary": {"lambda_alias": {"function_name": "orders-api", "alias": "live"}}}"#,
        "rollback-trigger" => {
            r#"{"rollback": {"actions": [{"lambda_alias": {"function_name": "orders-api", "alias": "live"}}]}}"#
        }
        _ => r#"{"windows": {...}, "alarms": {...}, "bake": {...}, "canary": {...}, "rollback": {...}}"#,
    }
}

const NOT_AN_OBJECT: &str = "a policy is a JSON object of sections: `windows`, `alarms`, `bake`, `canary`, `rollback`";

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
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
    /// What to undo when a deployment goes bad (the rollback trigger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackPolicy>,
}

impl Policy {
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        if !text.trim_start().starts_with('{') {
            return Err(PolicyError::new(ROOT, NOT_AN_OBJECT));
        }
        // Each key once: a second `"min"` or `"FunctionName"` is refused, never silently preferred.
        let value = crate::json::parse_strict(text).map_err(|message| PolicyError::new(ROOT, message))?;
        Policy::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Policy, PolicyError> {
        if !value.is_object() {
            return Err(PolicyError::new(ROOT, NOT_AN_OBJECT));
        }
        let policy: Policy = serde_path_to_error::deserialize(value).map_err(path_error)?;
        policy.validate()?;
        Ok(policy)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        if let Some(windows) = &self.windows {
            windows.validate().map_err(|error| error.within("windows"))?;
        }
        if let Some(alarms) = &self.alarms {
            alarms.validate().map_err(|error| error.within("alarms"))?;
        }
        if let Some(canary) = &self.canary {
            canary.validate().map_err(|error| error.within("canary"))?;
        }
        if let Some(bake) = &self.bake {
            bake.validate().map_err(|error| error.within("bake"))?;
        }
        if let Some(rollback) = &self.rollback {
            rollback.validate().map_err(|error| error.within("rollback"))?;
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

impl Policy {
    /// The `rollback` section, which the rollback trigger cannot do without.
    pub fn rollback(&self) -> Result<&RollbackPolicy, PolicyError> {
        self.rollback.as_ref().ok_or_else(|| {
            PolicyError::new(
                "rollback",
                "missing: the rollback trigger needs a `rollback` section with `actions`",
            )
        })
    }
}

fn path_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> PolicyError {
    let path = error.path().to_string();
    // The root, or a field with an empty name at the root (found by fuzzing: `{"": 1}`).
    let path = if path == "." || path.is_empty() {
        ROOT.to_string()
    } else {
        path
    };
    PolicyError::new(path, crate::json::without_value(&error.inner().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_with_an_empty_name_is_reported_at_the_root() {
        let error = Policy::from_json("{\t\"\": \"\"}").unwrap_err();
        assert_eq!(error.path, "policy");
        assert!(error.message.contains("unknown field ``"), "{}", error.message);
    }

    #[test]
    fn an_unknown_section_is_named_with_the_allowed_ones() {
        let error = Policy::from_json(r#"{"window": {}}"#).unwrap_err();
        assert_eq!(error.path, "window");
        assert!(
            error
                .message
                .contains("unknown field `window`, expected one of `windows`, `alarms`, `canary`, `bake`, `rollback`"),
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
    fn every_section_is_checked_and_names_its_path() {
        for (text, expected) in [
            (r#"{"alarms": {"watch": []}}"#, "alarms.watch: empty"),
            (
                r#"{"alarms": {"watch": [{"names": ["a"], "role_arn": "role/x"}]}}"#,
                "alarms.watch[0].role_arn: `role/x` is not an IAM role ARN",
            ),
            (
                r#"{"alarms": {"watch": [{"names": ["a"]}], "max_override_ttl": "30d"}}"#,
                "alarms.max_override_ttl: `30d` is not allowed",
            ),
            (r#"{"canary": {"period": "1m"}}"#, "canary: give `lambda_alias`"),
            (
                r#"{"canary": {"lambda_alias": {"function_name": "f", "alias": "a"}, "period": "90s"}}"#,
                "canary.period: `1m30s` is not allowed",
            ),
            (
                r#"{"canary": {"lambda_alias": {"function_name": "f", "alias": "a"}, "judge": {"confidence": 2}}}"#,
                "canary.judge.confidence: 2 is not allowed",
            ),
            (r#"{"bake": {"duration": "0s"}}"#, "bake.duration: 0s is no bake"),
            (
                r#"{"bake": {"duration": "1h", "max_duration": "30m"}}"#,
                "bake.max_duration: `30m` is shorter",
            ),
            (
                r#"{"bake": {"duration": "1h", "min_datapoints": [{"namespace": "n", "metric": "m", "stat": "Average", "min": 1}]}}"#,
                "bake.min_datapoints[0].stat: `Average` does not count",
            ),
            (
                r#"{"bake": {"duration": "1h", "min_datapoints": [{"namespace": "n", "metric": "m", "stat": "sum", "min": 1}]}}"#,
                "bake.min_datapoints[0].stat: `sum` is not a CloudWatch statistic",
            ),
            (
                r#"{"canary": {"lambda_alias": {"function_name": "f", "alias": "a", "latency_stat": "P99"}}}"#,
                "canary.lambda_alias.latency_stat: `P99` is not a CloudWatch statistic",
            ),
            (
                r#"{"canary": {"pair": {"namespace": "n", "canary": {"V": "2"}, "baseline": {"V": "1"},
                    "requests": {"metric": "R", "stat": "Sum"}, "errors": {"metric": "E", "stat": "Average"}}}}"#,
                "canary.pair.errors.stat: `Average` does not count",
            ),
            (
                r#"{"canary": {"pair": {"namespace": "n", "canary": {"V": "2"}, "baseline": {"V": "1"},
                    "requests": {"metric": "R", "stat": "Sum"}, "errors": {"metric": "E", "stat": "Sum"},
                    "latency": {"metric": "L", "stat": "p99x"}}}}"#,
                "canary.pair.latency.stat: `p99x` is not a CloudWatch statistic",
            ),
            (
                r#"{"canary": {"pair": {"namespace": "n", "canary": {"V": "2"}, "baseline": {"V": "1"},
                    "requests": {"metric": "R", "stat": "Sum", "when_missing": "zero"}, "errors": {"metric": "E", "stat": "Sum"}}}}"#,
                "canary.pair.requests.when_missing: only `errors` takes when_missing",
            ),
            (r#"{"rollback": {"actions": []}}"#, "rollback.actions: empty"),
            (
                r#"{"rollback": {"actions": [{"lambda": {}}]}}"#,
                "rollback.actions[0]: unknown variant `lambda`",
            ),
        ] {
            let error = Policy::from_json(text).unwrap_err().to_string();
            assert!(
                error.starts_with(expected),
                "{text}\n  got: {error}\n  want: {expected}"
            );
        }
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

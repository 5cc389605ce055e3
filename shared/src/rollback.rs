//! Rollback (pure): what to undo, in which order, and how to report it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::policy::PolicyError;

pub const NAME: &str = "rollback-trigger";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackPolicy {
    /// Run in order; each is reported.
    pub actions: Vec<RollbackAction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RollbackAction {
    /// Point the alias back at its primary (stable) version and clear its routing weights; with
    /// `to_version`, point it at that version (the one it served before a promotion).
    LambdaAlias {
        function_name: String,
        alias: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_version: Option<String>,
    },
    /// Stop the group's running deployments with automatic rollback.
    Codedeploy {
        application: String,
        deployment_group: String,
    },
    /// `rollback_stage`: roll the stage back to its last successful execution; `stop`: stop
    /// this execution.
    Pipeline { mode: PipelineMode },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PipelineMode {
    RollbackStage,
    Stop,
}

impl RollbackAction {
    /// A stable name for reports and for skipping what already succeeded on a retry.
    pub fn label(&self) -> String {
        match self {
            RollbackAction::LambdaAlias {
                function_name, alias, ..
            } => format!("lambda_alias {function_name}:{alias}"),
            RollbackAction::Codedeploy {
                application,
                deployment_group,
            } => format!("codedeploy {application}/{deployment_group}"),
            RollbackAction::Pipeline {
                mode: PipelineMode::RollbackStage,
            } => "pipeline rollback_stage".to_string(),
            RollbackAction::Pipeline {
                mode: PipelineMode::Stop,
            } => "pipeline stop".to_string(),
        }
    }
}

impl RollbackPolicy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (index, action) in self.actions.iter().enumerate() {
            if let RollbackAction::LambdaAlias {
                to_version: Some(version),
                ..
            } = action
                && (version.is_empty() || version.len() > 10 || !version.chars().all(|c| c.is_ascii_digit()))
            {
                // `$LATEST` or an alias name would "roll back" onto whatever is newest.
                return Err(PolicyError::new(
                    format!("actions[{index}].lambda_alias.to_version"),
                    "a published version number, e.g. \"7\"",
                ));
            }
        }
        if self.actions.is_empty() {
            return Err(PolicyError::new(
                "actions",
                "empty: list what to undo, e.g. [{\"lambda_alias\": {\"function_name\": \"orders-api\", \"alias\": \"live\"}}]",
            ));
        }
        Ok(())
    }
}

/// What one action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepResult {
    pub action: String,
    pub ok: bool,
    pub detail: String,
}

/// The outcome of a deployment's rollback, stored once it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RollbackRecord {
    /// `done` when every action succeeded, `partial` otherwise (a later call retries the rest).
    pub status: String,
    pub steps: Vec<StepResult>,
    pub reason: String,
    pub finished_at: Timestamp,
}

impl RollbackRecord {
    pub fn is_done(&self) -> bool {
        self.status == "done"
    }

    pub fn summary(&self) -> String {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|step| {
                format!(
                    "{} {}: {}",
                    step.action,
                    if step.ok { "ok" } else { "FAILED" },
                    step.detail
                )
            })
            .collect();
        steps.join("; ")
    }
}

/// Merges this run's results over an earlier partial run's: an action that succeeded before
/// is not run again.
pub fn record_of(
    policy: &RollbackPolicy,
    previous: &[StepResult],
    ran: Vec<StepResult>,
    reason: &str,
    now: Timestamp,
) -> RollbackRecord {
    let mut steps = Vec::new();
    let mut ran = ran.into_iter();
    for action in &policy.actions {
        let label = action.label();
        match previous.iter().find(|step| step.action == label && step.ok) {
            Some(done) => steps.push(done.clone()),
            None => steps.extend(ran.next()),
        }
    }
    let status = if steps.iter().all(|step| step.ok) && steps.len() == policy.actions.len() {
        "done"
    } else {
        "partial"
    };
    RollbackRecord {
        status: status.to_string(),
        steps,
        reason: reason.to_string(),
        finished_at: now,
    }
}

/// Why a rollback was asked for, as a person reads it. The state machines pass the failing
/// gate's reasons as JSON text (`States.JsonToString`, which cannot fail, where picking the
/// first of a list could, and a rollback must start): `gate: ["headline", "detail", ...]`
/// becomes `gate: headline; detail` (details the headline already says left out). Anything
/// else is kept as given.
pub fn readable_reason(reason: &str) -> String {
    let Some((lead, list)) = reason.split_once(": [") else {
        return reason.to_string();
    };
    let Ok(items) = serde_json::from_str::<Vec<String>>(&format!("[{list}")) else {
        return reason.to_string();
    };
    let Some((headline, details)) = items.split_first() else {
        return lead.to_string();
    };
    let mut text = format!("{lead}: {headline}");
    for detail in details.iter().filter(|detail| !headline.contains(detail.as_str())) {
        text.push_str("; ");
        text.push_str(detail);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gates_reasons_passed_as_json_read_as_sentences() {
        let passed =
            r#"canary-evaluator: ["canary is worse than the baseline: errors: ratio 5.00","errors: ratio 5.00"]"#;
        assert_eq!(
            readable_reason(passed),
            "canary-evaluator: canary is worse than the baseline: errors: ratio 5.00"
        );
        let with_detail = r#"bake-time-waiter: ["roll back: 2 alarms","a went to ALARM","b went to ALARM"]"#;
        assert_eq!(
            readable_reason(with_detail),
            "bake-time-waiter: roll back: 2 alarms; a went to ALARM; b went to ALARM"
        );
        for kept in [
            "rollback requested",
            r#"a step failed after the one-box went out, so it is rolled back: {"Error":"States.Timeout"}"#,
            "gate: [not json",
        ] {
            assert_eq!(readable_reason(kept), kept);
        }
        assert_eq!(readable_reason("gate: []"), "gate");
    }

    #[test]
    fn a_version_to_go_back_to_is_a_published_number() {
        let policy = |version: &str| RollbackPolicy {
            actions: vec![RollbackAction::LambdaAlias {
                function_name: "orders-api".into(),
                alias: "live".into(),
                to_version: Some(version.into()),
            }],
        };
        assert!(policy("7").validate().is_ok());
        for bad in ["$LATEST", "", "live", "7 ", "12345678901"] {
            let error = policy(bad).validate().unwrap_err();
            assert_eq!(error.path, "actions[0].lambda_alias.to_version", "{bad:?}");
        }
    }
}

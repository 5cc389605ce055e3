//! Turning a gate's outcome into the answer a CodePipeline job gets (pure).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::decision::Decision;
use crate::duration::HumanDuration;
use crate::error::GateError;
use crate::ports::pipeline_jobs::{JobAnswer, JobFailureKind, MAX_CONTINUATION_TOKEN};

/// CodePipeline fails a Lambda invoke action after 24 hours; an hour is kept in hand so the
/// action fails with our message rather than a timeout.
pub const MAX_ACTION_WAIT: HumanDuration = HumanDuration::from_secs(23 * 3_600);

/// What the action carries between its invocations while it waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Continuation {
    pub v: u8,
    pub gate: String,
    /// When this action started waiting.
    pub since: Timestamp,
    /// How many times it has answered "still waiting".
    pub polls: u32,
}

impl Continuation {
    pub fn parse(token: &str, gate: &str) -> Result<Continuation, GateError> {
        let continuation: Continuation = serde_json::from_str(token).map_err(|_| {
            GateError::InvalidInput(
                "the continuation token from the previous invocation is unreadable; retry the stage".to_string(),
            )
        })?;
        if continuation.v != 1 || continuation.gate != gate {
            return Err(GateError::InvalidInput(format!(
                "the continuation token belongs to `{}` (v{}), not to {gate}; retry the stage",
                continuation.gate, continuation.v
            )));
        }
        Ok(continuation)
    }
}

/// The job's answer for a gate's outcome.
pub fn answer_for(
    gate: &str,
    outcome: &Result<Decision, GateError>,
    continuation: Option<&Continuation>,
    now: Timestamp,
) -> JobAnswer {
    let decision = match outcome {
        Ok(decision) => decision,
        Err(error) => return failure_for(gate, error),
    };
    if decision.decision.lets_pipeline_continue() {
        return JobAnswer::Succeed {
            summary: format!("{gate}: {}", decision.reason()),
            output_variables: decision.output_variables(),
        };
    }
    if !decision.decision.is_pending() {
        return JobAnswer::Fail {
            kind: JobFailureKind::JobFailed,
            message: format!("{gate}: {}", decision.reasons.join("; ")),
        };
    }
    let since = continuation.map_or(now, |continuation| continuation.since);
    let limit = MAX_ACTION_WAIT.as_secs_i64();
    let waited = now.as_second() - since.as_second();
    let beyond = match decision.wait_until {
        Some(until) if until.as_second() - since.as_second() > limit => Some(format!("it waits until {until}")),
        _ if waited > limit => Some(format!("it has waited since {since}")),
        _ => None,
    };
    if let Some(beyond) = beyond {
        return JobAnswer::Fail {
            kind: JobFailureKind::JobFailed,
            message: format!(
                "{gate}: {}; {beyond}, beyond the {MAX_ACTION_WAIT} a CodePipeline Lambda action may wait (CodePipeline ends it at 24h); retry the stage later",
                decision.reason()
            ),
        };
    }
    let next = Continuation {
        v: 1,
        gate: gate.to_string(),
        since,
        polls: continuation.map_or(0, |c| c.polls) + 1,
    };
    let token = serde_json::to_string(&next).unwrap_or_default();
    debug_assert!(token.len() <= MAX_CONTINUATION_TOKEN);
    JobAnswer::Continue {
        summary: format!("{gate}: waiting: {}", decision.reason()),
        continuation_token: token,
        percent_complete: decision.progress,
    }
}

pub(crate) fn failure_for(gate: &str, error: &GateError) -> JobAnswer {
    let kind = match error {
        GateError::PolicyInvalid(_) | GateError::InvalidInput(_) => JobFailureKind::ConfigurationError,
        GateError::DependencyUnavailable(port) if port.is_access_denied() => JobFailureKind::PermissionError,
        GateError::DependencyUnavailable(_) => JobFailureKind::SystemUnavailable,
        GateError::Blocked(_) | GateError::RollbackIncomplete(_) | GateError::NotImplemented(_) => {
            JobFailureKind::JobFailed
        }
    };
    let message = match error {
        // Its path starts at UserParameters already.
        GateError::PolicyInvalid(_) => format!("{gate}: {error}"),
        _ => format!("{gate}: {error}"),
    };
    JobAnswer::Fail { kind, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Verdict;
    use crate::policy::PolicyError;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn proceed_succeeds_with_output_variables() {
        let decision = Decision::new("g", Verdict::Proceed, "open").with_output("closes_at", "2026-11-24T00:00:00Z");
        let JobAnswer::Succeed {
            summary,
            output_variables,
        } = answer_for("g", &Ok(decision), None, at("2026-11-23T12:00:00Z"))
        else {
            panic!("succeed")
        };
        assert_eq!(summary, "g: open");
        assert_eq!(output_variables["decision"], "proceed");
        assert_eq!(output_variables["reason"], "open");
        assert_eq!(output_variables["closes_at"], "2026-11-24T00:00:00Z");
    }

    #[test]
    fn wait_continues_and_keeps_when_waiting_began() {
        let now = at("2026-11-23T12:00:00Z");
        let decision = Decision::new("g", Verdict::Wait, "closed").waiting_until(Some(at("2026-11-23T20:00:00Z")));
        let JobAnswer::Continue { continuation_token, .. } = answer_for("g", &Ok(decision.clone()), None, now) else {
            panic!("continue")
        };
        let first = Continuation::parse(&continuation_token, "g").unwrap();
        assert_eq!((first.since, first.polls), (now, 1));
        let later = at("2026-11-23T13:00:00Z");
        let JobAnswer::Continue { continuation_token, .. } = answer_for("g", &Ok(decision), Some(&first), later) else {
            panic!("continue")
        };
        let second = Continuation::parse(&continuation_token, "g").unwrap();
        assert_eq!((second.since, second.polls), (now, 2));
    }

    #[test]
    fn a_wait_beyond_what_an_action_may_wait_fails_with_the_opening_time() {
        let decision = Decision::new("g", Verdict::Wait, "closed: weekend; opens Mon 09:00 PST")
            .waiting_until(Some(at("2026-11-30T17:00:00Z")));
        let JobAnswer::Fail { kind, message } = answer_for("g", &Ok(decision), None, at("2026-11-28T12:00:00Z")) else {
            panic!("fail")
        };
        assert_eq!(kind, JobFailureKind::JobFailed);
        assert!(
            message.contains("opens Mon 09:00 PST")
                && message.contains("2026-11-30T17:00:00Z")
                && message.contains("23h"),
            "{message}"
        );
    }

    #[test]
    fn block_and_errors_fail_with_the_right_kind() {
        let now = at("2026-11-23T12:00:00Z");
        let block = Decision::new("g", Verdict::Block, "closed: Thanksgiving");
        assert_eq!(
            answer_for("g", &Ok(block), None, now),
            JobAnswer::Fail {
                kind: JobFailureKind::JobFailed,
                message: "g: closed: Thanksgiving".into()
            }
        );
        let invalid = Err(GateError::PolicyInvalid(PolicyError::new(
            "UserParameters.windows.timezone",
            "bad",
        )));
        assert_eq!(
            answer_for("g", &invalid, None, now),
            JobAnswer::Fail {
                kind: JobFailureKind::ConfigurationError,
                message: "g: policy is invalid: UserParameters.windows.timezone: bad".into()
            }
        );
    }

    #[test]
    fn a_foreign_or_garbled_token_is_refused() {
        assert!(Continuation::parse("nope", "g").is_err());
        let other = r#"{"v":1,"gate":"other","since":"2026-11-23T12:00:00Z","polls":1}"#;
        assert!(
            Continuation::parse(other, "g")
                .unwrap_err()
                .to_string()
                .contains("belongs to `other`")
        );
    }
}

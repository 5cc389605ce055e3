//! The time-window gate: proceed inside a window, otherwise wait for the next opening or block.

use jiff::Timestamp;
use serde_json::json;

use super::{Gate, GateRequest};
use crate::decision::{Decision, Verdict};
use crate::error::GateError;
use crate::window::{WhenClosed, WindowPolicy, evaluate};

pub const NAME: &str = "time-window-gate";

/// The time-window gate reads no outside system: the clock comes in the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeWindowGate;

impl Gate for TimeWindowGate {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn decide(&self, request: &GateRequest) -> Result<Decision, GateError> {
        let policy = request.policy.windows().map_err(GateError::PolicyInvalid)?;
        Ok(decide(policy, request.now, request.waiting_since))
    }
}

/// Proceed when open; when closed, wait for the next opening unless the policy says fail, no
/// opening is in sight, or it lies beyond `max_wait` from when waiting began.
pub fn decide(policy: &WindowPolicy, now: Timestamp, waiting_since: Option<Timestamp>) -> Decision {
    let status = evaluate(policy, now);
    let sentence = status.sentence();
    let evidence = json!({
        "open": status.open,
        "opens_at": status.opens_at,
        "closes_at": status.closes_at,
        "timezone": status.timezone,
        "local_time": status.local_time,
        "window": status.window,
        "closed_by": status.closed_by,
        "min_time_left": policy.min_time_left,
        "when_closed": policy.when_closed,
        "max_wait": policy.max_wait,
    });
    let mut decision = if status.open {
        Decision::new(NAME, Verdict::Proceed, sentence)
    } else {
        match (policy.when_closed, status.opens_at) {
            (WhenClosed::Fail, _) => Decision::new(NAME, Verdict::Block, format!("{sentence} (when_closed: fail)")),
            (WhenClosed::Wait, None) => Decision::new(NAME, Verdict::Block, sentence),
            (WhenClosed::Wait, Some(opens_at)) => {
                let since = waiting_since.unwrap_or(now);
                match policy.max_wait {
                    Some(max_wait) if opens_at.as_second() - since.as_second() > max_wait.as_secs_i64() => {
                        Decision::new(
                            NAME,
                            Verdict::Block,
                            format!(
                                "{sentence}; that is more than max_wait ({max_wait}) after waiting began at {since}"
                            ),
                        )
                    }
                    _ => Decision::new(NAME, Verdict::Wait, sentence).waiting_until(Some(opens_at)),
                }
            }
        }
    };
    if let Some(opens_at) = status.opens_at {
        decision = decision.with_output("opens_at", opens_at.to_string());
    }
    if let Some(closes_at) = status.closes_at {
        decision = decision.with_output("closes_at", closes_at.to_string());
    }
    decision.with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn policy(extra: &str) -> WindowPolicy {
        let text = format!(
            r#"{{"windows": {{"timezone": "America/Los_Angeles", "allow": [{{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}}],
                "deny": [{{"date": "2026-11-26", "reason": "Thanksgiving"}}]{extra}}}}}"#
        );
        Policy::from_json(&text).unwrap().windows.unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn open_proceeds_with_the_closing_time_as_output() {
        let decision = decide(&policy(""), at("2026-11-24T18:00:00Z"), None);
        assert_eq!(decision.decision, Verdict::Proceed);
        assert_eq!(
            decision.outputs.get("closes_at").map(String::as_str),
            Some("2026-11-25T00:00:00Z")
        );
        assert_eq!(decision.evidence["open"], true);
        assert_eq!(decision.evidence["window"], "allow[0] Mon-Thu 09:00-16:00");
        assert_eq!(decision.output_variables()["decision"], "proceed");
    }

    #[test]
    fn closed_waits_until_the_next_opening() {
        let decision = decide(&policy(""), at("2026-11-26T18:00:00Z"), None);
        assert_eq!(decision.decision, Verdict::Wait);
        assert_eq!(decision.wait_until, Some(at("2026-11-30T17:00:00Z")));
        assert_eq!(
            decision.reason(),
            "closed: Thanksgiving (deny 2026-11-26); opens Mon 09:00 PST"
        );
        assert_eq!(decision.evidence["closed_by"]["kind"], "denied");
        assert_eq!(decision.evidence["opens_at"], "2026-11-30T17:00:00Z");
    }

    #[test]
    fn when_closed_fail_blocks_at_once() {
        let decision = decide(&policy(r#", "when_closed": "fail""#), at("2026-11-26T18:00:00Z"), None);
        assert_eq!(decision.decision, Verdict::Block);
        assert!(
            decision.reason().ends_with("(when_closed: fail)"),
            "{}",
            decision.reason()
        );
        assert_eq!(decision.wait_until, None);
        assert_eq!(decision.outputs["opens_at"], "2026-11-30T17:00:00Z");
    }

    #[test]
    fn max_wait_counts_from_when_waiting_began() {
        let policy = policy(r#", "max_wait": "4d""#);
        // Thursday: Monday 09:00 is 3d 23h away: within 4d.
        assert_eq!(
            decide(&policy, at("2026-11-26T18:00:00Z"), None).decision,
            Verdict::Wait
        );
        // Still waiting since Wednesday evening: Monday is more than 4d after that.
        let decision = decide(&policy, at("2026-11-26T18:00:00Z"), Some(at("2026-11-25T01:00:00Z")));
        assert_eq!(decision.decision, Verdict::Block);
        assert!(
            decision.reason().contains("more than max_wait (4d)"),
            "{}",
            decision.reason()
        );
    }

    #[test]
    fn no_opening_in_sight_blocks() {
        let text = r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "min_time_left": "2h"}}"#;
        let decision = decide(
            Policy::from_json(text).unwrap().windows().unwrap(),
            at("2026-11-24T18:00:00Z"),
            None,
        );
        assert_eq!(decision.decision, Verdict::Block);
        assert!(decision.reason().contains("no opening within 366 days"));
    }
}

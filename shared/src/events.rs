//! What handsoff tells the world (pure): the events a decision or a change causes, in
//! EventBridge's shape (`source: handsoff`, a `detail-type` per kind, a detail a person and a
//! rule can both read). Publishing never changes a decision: it happens after, and a failure is
//! logged and counted.
//!
//! Who publishes what: the gates (this module's [`events_for`]) a stage blocked, a blocker's wait
//! that starts, a rollback done, and a gate's own failure that ends a CodePipeline job; the
//! state machines a stage passed, a rollback that failed and a gate failure that ended the
//! execution; the `handsoff` command an override created or revoked and a stage unblocked.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use crate::context::InvocationContext;
use crate::decision::{Decision, Verdict};
use crate::error::GateError;
use crate::gates::Mode;

/// The `source` of every handsoff event.
pub const SOURCE: &str = "handsoff";

/// How long after waiting began a blocker's wait still counts as the one that starts it (the
/// state machines pass when the execution began; its first blocker call is seconds later).
const FRESH_WAIT_SECS: i64 = 60;

/// The longest evidence summary an event carries (EventBridge takes 256 KB per entry; a chat
/// message much less).
const SUMMARY_CHARS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    StageBlocked,
    WaitStarted,
    RollbackCompleted,
    RollbackFailed,
    OverrideCreated,
    OverrideRevoked,
    OverrideExpired,
    StageUnblocked,
    GateFailed,
    StagePassed,
}

impl EventKind {
    /// The EventBridge `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            EventKind::StageBlocked => "Handsoff Stage Blocked",
            EventKind::WaitStarted => "Handsoff Wait Started",
            EventKind::RollbackCompleted => "Handsoff Rollback Completed",
            EventKind::RollbackFailed => "Handsoff Rollback Failed",
            EventKind::OverrideCreated => "Handsoff Override Created",
            EventKind::OverrideRevoked => "Handsoff Override Revoked",
            EventKind::OverrideExpired => "Handsoff Override Expired",
            EventKind::StageUnblocked => "Handsoff Stage Unblocked",
            EventKind::GateFailed => "Handsoff Gate Failed",
            EventKind::StagePassed => "Handsoff Stage Passed",
        }
    }
}

/// One event: what happened to which stage, why, and the evidence in brief.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandsoffEvent {
    #[serde(skip)]
    pub kind: EventKind,
    pub pipeline: String,
    pub stage: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    pub reason: String,
    /// The evidence, as compact JSON cut at 1,000 characters.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub evidence_summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Where to look next: the command that lifts a block, the audit trail.
    pub links: Value,
    pub at: Timestamp,
}

impl HandsoffEvent {
    pub fn new(
        kind: EventKind,
        pipeline: &str,
        stage: &str,
        reason: impl Into<String>,
        at: Timestamp,
    ) -> HandsoffEvent {
        HandsoffEvent {
            kind,
            pipeline: pipeline.to_string(),
            stage: stage.to_string(),
            gate: None,
            decision: None,
            reason: cut(&reason.into(), REASON_CHARS),
            evidence_summary: String::new(),
            who: None,
            execution_id: None,
            links: links(kind, pipeline, stage),
            at,
        }
    }

    /// The event's `detail`.
    pub fn detail(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }
}

/// What a person runs next, per kind.
fn links(kind: EventKind, pipeline: &str, stage: &str) -> Value {
    let audit = format!("handsoff audit --pipeline {pipeline} --stage {stage}");
    match kind {
        EventKind::RollbackCompleted | EventKind::RollbackFailed | EventKind::StageBlocked => json!({
            "audit": audit,
            "unblock": format!("handsoff unblock --pipeline {pipeline} --stage {stage} --reason \"...\""),
        }),
        _ => json!({"audit": audit}),
    }
}

/// The longest reason an event carries (a gate's reasons can be long; PutEvents takes 256 KB).
const REASON_CHARS: usize = 4_000;

fn cut(text: &str, most: usize) -> String {
    if text.chars().count() <= most {
        return text.to_string();
    }
    let kept: String = text.chars().take(most).collect();
    format!("{kept}…")
}

fn summary(evidence: &Value) -> String {
    cut(&evidence.to_string(), SUMMARY_CHARS)
}

/// The events one gate invocation causes: its outcome, for the stage in `context`.
pub fn events_for(
    gate: &str,
    outcome: &Result<Decision, GateError>,
    context: &InvocationContext,
    mode: Mode,
    waiting_since: Option<Timestamp>,
    now: Timestamp,
) -> Vec<HandsoffEvent> {
    // Without a stage there is nothing to say it about (the gates that need one refuse first).
    let (Some(pipeline), Some(stage)) = (context.pipeline.as_deref(), context.stage.as_deref()) else {
        return Vec::new();
    };
    let with = |mut event: HandsoffEvent| {
        event.gate = Some(gate.to_string());
        event.execution_id = context.execution_id.clone();
        event
    };
    let from_decision = |kind: EventKind, decision: &Decision| {
        let mut event = with(HandsoffEvent::new(
            kind,
            pipeline,
            stage,
            decision.reasons.join("; "),
            now,
        ));
        event.decision = Some(decision.decision.to_string());
        event.evidence_summary = summary(&decision.evidence.to_json());
        event
    };
    match outcome {
        Ok(decision) => match decision.decision {
            Verdict::Block => vec![from_decision(EventKind::StageBlocked, decision)],
            Verdict::Wait if is_blocker(gate) && is_fresh(waiting_since, now) => {
                vec![from_decision(EventKind::WaitStarted, decision)]
            }
            // Only the invocation that did the rollback announces it, not one that finds it done.
            Verdict::Rollback if gate == crate::rollback::NAME && decision.evidence.rolled_back_here() => {
                vec![from_decision(EventKind::RollbackCompleted, decision)]
            }
            _ => Vec::new(),
        },
        Err(GateError::Blocked(reason)) => {
            vec![with(HandsoffEvent::new(
                EventKind::StageBlocked,
                pipeline,
                stage,
                reason.clone(),
                now,
            ))]
        }
        // A state machine retries and catches: it announces the failure that ends it.
        Err(error) if mode == Mode::CodePipeline => {
            let mut event = with(HandsoffEvent::new(
                EventKind::GateFailed,
                pipeline,
                stage,
                error.to_string(),
                now,
            ));
            event.decision = Some(error.error_type().to_string());
            vec![event]
        }
        Err(_) => Vec::new(),
    }
}

/// The delivery metric an outcome counts for, if any: a deployment when a bake passes (not a
/// safe-region fleet bake, `<execution>-fleet`: the same deployment), a rollback when the
/// trigger rolled back (not when it finds the rollback done).
pub fn delivery_metric(
    gate: &str,
    outcome: &Result<Decision, GateError>,
    context: &InvocationContext,
) -> Option<&'static str> {
    let decision = outcome.as_ref().ok()?;
    let fleet = context.execution_id.as_deref().is_some_and(|id| id.ends_with("-fleet"));
    match decision.decision {
        Verdict::Proceed if gate == crate::bake::NAME && !fleet => Some("Deployments"),
        Verdict::Rollback if gate == crate::rollback::NAME && decision.evidence.rolled_back_here() => Some("Rollbacks"),
        _ => None,
    }
}

fn is_blocker(gate: &str) -> bool {
    gate == crate::gates::alarm_blocker::NAME || gate == crate::gates::time_window::NAME
}

/// A wait is the one that starts when nothing was waiting before, or waiting began just now.
fn is_fresh(waiting_since: Option<Timestamp>, now: Timestamp) -> bool {
    waiting_since.is_none_or(|since| now.as_second() - since.as_second() <= FRESH_WAIT_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::RollbackEvidence;

    fn context() -> InvocationContext {
        InvocationContext {
            pipeline: Some("orders".into()),
            stage: Some("Prod-1".into()),
            execution_id: Some("e-1".into()),
            ..InvocationContext::default()
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_deployment_counts_once_and_a_rollback_only_when_done() {
        let proceed = Ok(Decision::new("bake-time-waiter", Verdict::Proceed, "baked"));
        assert_eq!(
            delivery_metric("bake-time-waiter", &proceed, &context()),
            Some("Deployments")
        );
        let fleet = InvocationContext {
            execution_id: Some("e-1-fleet".into()),
            ..context()
        };
        assert_eq!(delivery_metric("bake-time-waiter", &proceed, &fleet), None);
        let found =
            Ok(Decision::new("rollback-trigger", Verdict::Rollback, "already")
                .with_evidence(RollbackEvidence::default()));
        assert_eq!(delivery_metric("rollback-trigger", &found, &context()), None);
        let done = Ok(
            Decision::new("rollback-trigger", Verdict::Rollback, "rolled back").with_evidence(RollbackEvidence {
                performed: true,
                ..RollbackEvidence::default()
            }),
        );
        assert_eq!(
            delivery_metric("rollback-trigger", &done, &context()),
            Some("Rollbacks")
        );
    }

    #[test]
    fn a_blockers_first_wait_is_announced_and_later_ones_are_not() {
        let now = at("2026-12-07T17:00:30Z");
        let wait = Ok(Decision::new(
            "alarm-blocker",
            Verdict::Wait,
            "orders-high-sev is in ALARM",
        ));
        let first = events_for(
            "alarm-blocker",
            &wait,
            &context(),
            Mode::Direct,
            Some(at("2026-12-07T17:00:00Z")),
            now,
        );
        assert_eq!(
            first.iter().map(|event| event.kind).collect::<Vec<_>>(),
            [EventKind::WaitStarted]
        );
        assert_eq!(first[0].reason, "orders-high-sev is in ALARM");
        let later = events_for(
            "alarm-blocker",
            &wait,
            &context(),
            Mode::Direct,
            Some(at("2026-12-07T16:00:00Z")),
            now,
        );
        assert!(later.is_empty());
        // The bake waits at every poll: that is its work, not news.
        let bake = Ok(Decision::new("bake-time-waiter", Verdict::Wait, "baked 1m of 1h"));
        assert!(events_for("bake-time-waiter", &bake, &context(), Mode::Direct, None, now).is_empty());
    }

    #[test]
    fn a_rollback_is_announced_by_the_invocation_that_did_it_only() {
        let now = at("2026-12-07T17:00:00Z");
        let done = Ok(
            Decision::new("rollback-trigger", Verdict::Rollback, "rolled back").with_evidence(RollbackEvidence {
                performed: true,
                ..RollbackEvidence::default()
            }),
        );
        let found = Ok(
            Decision::new("rollback-trigger", Verdict::Rollback, "already rolled back")
                .with_evidence(RollbackEvidence::default()),
        );
        let events = events_for("rollback-trigger", &done, &context(), Mode::Direct, None, now);
        assert_eq!(events[0].kind, EventKind::RollbackCompleted);
        assert_eq!(
            events[0].links["unblock"],
            "handsoff unblock --pipeline orders --stage Prod-1 --reason \"...\""
        );
        assert!(events_for("rollback-trigger", &found, &context(), Mode::Direct, None, now).is_empty());
    }

    #[test]
    fn a_gates_own_failure_is_announced_where_nothing_retries_it() {
        let now = at("2026-12-07T17:00:00Z");
        let failed: Result<Decision, GateError> = Err(GateError::InvalidInput("context.stage: missing".into()));
        let events = events_for("bake-time-waiter", &failed, &context(), Mode::CodePipeline, None, now);
        assert_eq!(
            (events[0].kind, events[0].decision.as_deref()),
            (EventKind::GateFailed, Some("InvalidInput"))
        );
        assert!(events_for("bake-time-waiter", &failed, &context(), Mode::Direct, None, now).is_empty());
        let blocked: Result<Decision, GateError> = Err(GateError::Blocked("window closed".into()));
        assert_eq!(
            events_for("time-window-gate", &blocked, &context(), Mode::Direct, None, now)[0].kind,
            EventKind::StageBlocked
        );
    }

    #[test]
    fn the_evidence_summary_is_cut_and_nothing_is_said_without_a_stage() {
        let now = at("2026-12-07T17:00:00Z");
        let big = Ok(
            Decision::new("alarm-blocker", Verdict::Block, "blocked").with_evidence(RollbackEvidence {
                reason: Some("y".repeat(5_000)),
                ..RollbackEvidence::default()
            }),
        );
        let events = events_for("alarm-blocker", &big, &context(), Mode::Direct, None, now);
        assert_eq!(events[0].evidence_summary.chars().count(), SUMMARY_CHARS + 1);
        assert!(
            events_for(
                "alarm-blocker",
                &big,
                &InvocationContext::default(),
                Mode::Direct,
                None,
                now
            )
            .is_empty()
        );
        let detail = events[0].detail();
        assert_eq!(detail["pipeline"], "orders");
        assert!(detail.get("kind").is_none());
    }
}

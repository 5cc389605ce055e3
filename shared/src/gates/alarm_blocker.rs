//! The alarm blocker: no deployment starts into a stage while a watched alarm fires, unless a
//! person has overridden it, with a reason, for a while; and never while the stage is blocked
//! after a rollback.
//!
//! Over 400 lines only with its tests (the decision's every branch, next to it).

use jiff::{SignedDuration, Timestamp};

use super::{Gate, GateRequest};
use crate::alarms::overrides::{covering, too_long};
use crate::alarms::{AlarmPolicy, AlarmReading, BlockMarker, Override, WhenBlocked, blockers};
use crate::audit::AuditRecord;
use crate::decision::{Decision, Verdict};
use crate::error::GateError;
use crate::evidence::{AlarmEvidence, AlarmsRead, GateEvidence};
use crate::ports::alarms::AlarmSource;
use crate::ports::store::StateStore;

pub const NAME: &str = "alarm-blocker";

pub struct AlarmBlocker<A, S> {
    alarms: A,
    store: S,
}

impl<A: AlarmSource, S: StateStore> AlarmBlocker<A, S> {
    pub fn new(alarms: A, store: S) -> Self {
        AlarmBlocker { alarms, store }
    }
}

/// Where a decision applies: the stage it guards.
#[derive(Debug, Clone, Copy)]
pub struct Stage<'a> {
    pub pipeline: &'a str,
    pub stage: &'a str,
}

impl<A: AlarmSource, S: StateStore> Gate for AlarmBlocker<A, S> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_context(&self) -> bool {
        true
    }

    async fn decide(&self, request: &GateRequest) -> Result<Decision, GateError> {
        let policy = request.policy.alarms().map_err(GateError::PolicyInvalid)?;
        let (pipeline, stage) = request
            .context
            .stage("overrides and rollback blocks belong to a stage")?;
        let here = Stage { pipeline, stage };
        let marker = self
            .store
            .block_marker(pipeline, stage)
            .await
            .map_err(GateError::from_store)?;
        let (readings, overrides, calls) = if marker.is_some() {
            (Vec::new(), Vec::new(), 0)
        } else {
            let mut readings = Vec::new();
            let mut calls = 0;
            for (index, selection) in policy.watch.iter().enumerate() {
                let read = self
                    .alarms
                    .read(selection, index)
                    .await
                    .map_err(GateError::DependencyUnavailable)?;
                calls += read.calls;
                readings.extend(read.readings);
            }
            let overrides = self
                .store
                .overrides(pipeline, stage)
                .await
                .map_err(GateError::from_store)?;
            (readings, overrides, calls)
        };
        let mut decision = decide(
            policy,
            here,
            &readings,
            &overrides,
            marker.as_ref(),
            request.now,
            request.waiting_since,
        );
        if let GateEvidence::Alarms(evidence) = &mut decision.evidence.of {
            evidence.describe_alarms_calls = calls;
        }
        let decision = decision.citing(request.policy_source.as_ref());
        // A decision that cannot be audited is not taken.
        self.store
            .audit(&AuditRecord::of_decision(&decision, pipeline, stage, request.now))
            .await
            .map_err(GateError::from_store)?;
        Ok(decision)
    }
}

/// The blocker's decision (pure).
pub fn decide(
    policy: &AlarmPolicy,
    here: Stage<'_>,
    readings: &[AlarmReading],
    overrides: &[Override],
    marker: Option<&BlockMarker>,
    now: Timestamp,
    waiting_since: Option<Timestamp>,
) -> Decision {
    let Stage { pipeline, stage } = here;
    if let Some(marker) = marker {
        let reason = format!(
            "stage {stage} of {pipeline} is blocked after a rollback at {}: {}; once it is safe, run `handsoff unblock --pipeline {pipeline} --stage {stage} --reason ...`",
            marker.created_at, marker.reason
        );
        return Decision::new(NAME, Verdict::Block, reason).with_evidence(AlarmEvidence {
            blocked_after_rollback: Some(marker.clone()),
            read: None,
            describe_alarms_calls: 0,
        });
    }
    let found = blockers(policy, readings);
    let ok = readings
        .iter()
        .filter(|reading| reading.state == crate::alarms::AlarmState::Ok)
        .count();
    let mut read = AlarmsRead {
        alarms_read: readings.len(),
        alarms_ok: ok,
        blocking: found.clone(),
        insufficient_data: policy.insufficient_data,
        overrides_ignored: None,
        overridden_by: None,
    };
    let evidence = |read: AlarmsRead| AlarmEvidence {
        blocked_after_rollback: None,
        read: Some(read),
        describe_alarms_calls: 0,
    };
    if found.is_empty() {
        return Decision::new(
            NAME,
            Verdict::Proceed,
            format!("no watched alarm blocks ({} alarms read, all clear)", readings.len()),
        )
        .with_evidence(evidence(read));
    }
    let mut what = found.iter().map(|blocker| blocker.describe()).collect::<Vec<_>>();
    let max_ttl = policy.max_override_ttl.as_secs_i64();
    let ignored = too_long(overrides, now, max_ttl);
    if !ignored.is_empty() {
        read.overrides_ignored = Some(ignored.iter().copied().cloned().collect());
    }
    if let Some(covers) = covering(&found, overrides, now, max_ttl) {
        read.overridden_by = Some(covers.iter().copied().cloned().collect());
        let ids = covers
            .iter()
            .map(|cover| cover.id.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let reasons = covers
            .iter()
            .map(|cover| cover.reason.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let who = covers
            .iter()
            .map(|cover| cover.who.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let reason = format!("overridden by {ids} ({who}: {reasons}) despite: {}", what.join("; "));
        return Decision::new(NAME, Verdict::Proceed, reason)
            .with_evidence(evidence(read))
            .with_output("override_id", ids)
            .with_output("override_reason", reasons);
    }
    what.extend(ignored.iter().map(|ignored| {
        format!(
            "override {} by {} is ignored: it was made to live {}, longer than this policy's max_override_ttl ({})",
            ignored.id,
            ignored.who,
            crate::duration::HumanDuration::from_secs(u64::try_from(ignored.lifetime_secs()).unwrap_or(0)),
            policy.max_override_ttl
        )
    }));
    let headline = format!(
        "blocked by {} alarm{}: {}",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        what.join("; ")
    );
    let since = waiting_since.unwrap_or(now);
    let waited = now.duration_since(since);
    let mut decision = match policy.when_blocked {
        WhenBlocked::Fail => Decision::new(NAME, Verdict::Block, format!("{headline} (when_blocked: fail)")),
        WhenBlocked::Wait if waited >= SignedDuration::from_secs(policy.max_wait.as_secs_i64()) => Decision::new(
            NAME,
            Verdict::Block,
            format!(
                "{headline}; still blocked after max_wait ({}) of waiting",
                policy.max_wait
            ),
        ),
        WhenBlocked::Wait => {
            let next = now
                .checked_add(SignedDuration::from_secs(policy.poll_interval.as_secs_i64()))
                .ok();
            Decision::new(NAME, Verdict::Wait, headline).waiting_until(next)
        }
    };
    decision.reasons.extend(what);
    decision.with_evidence(evidence(read)).with_output(
        "override_hint",
        format!("handsoff override create --pipeline {pipeline} --stage {stage} --reason TEXT --ttl 1h"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::{AlarmKind, AlarmState};
    use crate::policy::Policy;

    fn policy(extra: &str) -> AlarmPolicy {
        let text = format!(r#"{{"alarms": {{"watch": [{{"names": ["orders-high-sev", "orders-latency"]}}]{extra}}}}}"#);
        Policy::from_json(&text).unwrap().alarms.unwrap()
    }

    fn reading(name: &str, state: AlarmState) -> AlarmReading {
        AlarmReading {
            name: name.into(),
            kind: AlarmKind::Metric,
            state,
            reason: "Threshold Crossed".into(),
            since: None,
            selection: 0,
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn override_for(alarms: &[&str], expires: &str) -> Override {
        Override {
            id: "ov-1".into(),
            pipeline: "orders".into(),
            stage: "Prod".into(),
            alarms: alarms.iter().map(|alarm| alarm.to_string()).collect(),
            reason: "shipping the fix for INC-42".into(),
            who: "arn:aws:iam::111111111111:user/dev".into(),
            created_at: at("2026-11-24T17:00:00Z"),
            expires_at: at(expires),
            revoked_at: None,
            revoked_by: None,
        }
    }

    const HERE: Stage<'static> = Stage {
        pipeline: "orders",
        stage: "Prod",
    };
    const NOW: &str = "2026-11-24T18:00:00Z";

    #[test]
    fn an_override_must_cover_every_blocking_alarm() {
        let readings = [
            reading("orders-high-sev", AlarmState::Alarm),
            reading("orders-latency", AlarmState::Alarm),
        ];
        let partial = [override_for(&["orders-high-sev"], "2026-11-24T20:00:00Z")];
        let decision = decide(&policy(""), HERE, &readings, &partial, None, at(NOW), None);
        assert_eq!(decision.decision, Verdict::Wait);
        let whole = [override_for(&[], "2026-11-24T20:00:00Z")];
        let decision = decide(&policy(""), HERE, &readings, &whole, None, at(NOW), None);
        assert_eq!(decision.decision, Verdict::Proceed);
        assert_eq!(decision.outputs["override_id"], "ov-1");
        assert_eq!(decision.outputs["override_reason"], "shipping the fix for INC-42");
        assert_eq!(decision.evidence.to_json()["overridden_by"][0]["id"], "ov-1");
    }

    /// Before, the blocker honoured any live override, however long it was made to live: one
    /// written around the CLI (straight into the table) could lift the block for a year.
    #[test]
    fn an_override_longer_than_max_override_ttl_lifts_nothing_and_says_why() {
        let readings = [
            reading("orders-high-sev", AlarmState::Alarm),
            reading("orders-latency", AlarmState::Ok),
        ];
        let year = [override_for(&[], "2027-11-24T17:00:00Z")];
        let decision = decide(&policy(""), HERE, &readings, &year, None, at(NOW), None);
        assert_eq!(decision.decision, Verdict::Wait);
        assert!(
            decision.reasons.iter().any(|reason| reason
                == "override ov-1 by arn:aws:iam::111111111111:user/dev is ignored: it was made to live 365d, longer than this policy's max_override_ttl (4h)"),
            "{:?}",
            decision.reasons
        );
        assert_eq!(decision.evidence.to_json()["overrides_ignored"][0]["id"], "ov-1");
        let within = [override_for(&[], "2026-11-24T21:00:00Z")];
        assert_eq!(
            decide(&policy(""), HERE, &readings, &within, None, at(NOW), None).decision,
            Verdict::Proceed
        );
        let tighter = decide(
            &policy(r#", "max_override_ttl": "2h""#),
            HERE,
            &readings,
            &within,
            None,
            at(NOW),
            None,
        );
        assert_eq!(
            tighter.decision,
            Verdict::Wait,
            "a policy tightened since binds old overrides"
        );
    }

    #[test]
    fn expired_and_revoked_overrides_are_ignored() {
        let readings = [
            reading("orders-high-sev", AlarmState::Alarm),
            reading("orders-latency", AlarmState::Ok),
        ];
        let expired = [override_for(&[], "2026-11-24T18:00:00Z")];
        assert_eq!(
            decide(&policy(""), HERE, &readings, &expired, None, at(NOW), None).decision,
            Verdict::Wait
        );
        let mut revoked = override_for(&[], "2026-11-24T20:00:00Z");
        revoked.revoked_at = Some(at("2026-11-24T17:30:00Z"));
        assert_eq!(
            decide(&policy(""), HERE, &readings, &[revoked], None, at(NOW), None).decision,
            Verdict::Wait
        );
    }

    #[test]
    fn a_rollback_block_holds_whatever_the_alarms_and_overrides_say() {
        let marker = BlockMarker {
            pipeline: "orders".into(),
            stage: "Prod".into(),
            reason: "bake alarm orders-high-sev fired".into(),
            created_at: at("2026-11-24T16:00:00Z"),
            by: "rollback-trigger".into(),
        };
        let overrides = [override_for(&[], "2026-11-24T20:00:00Z")];
        let decision = decide(&policy(""), HERE, &[], &overrides, Some(&marker), at(NOW), None);
        assert_eq!(decision.decision, Verdict::Block);
        assert!(
            decision
                .reason()
                .contains("handsoff unblock --pipeline orders --stage Prod"),
            "{}",
            decision.reason()
        );
    }

    #[test]
    fn waiting_ends_in_a_block_after_max_wait() {
        let readings = [
            reading("orders-high-sev", AlarmState::Alarm),
            reading("orders-latency", AlarmState::Ok),
        ];
        let waiting = decide(
            &policy(r#", "max_wait": "30m""#),
            HERE,
            &readings,
            &[],
            None,
            at(NOW),
            Some(at("2026-11-24T17:40:00Z")),
        );
        assert_eq!(waiting.decision, Verdict::Wait);
        assert_eq!(waiting.wait_until, Some(at("2026-11-24T18:05:00Z")));
        let done = decide(
            &policy(r#", "max_wait": "30m""#),
            HERE,
            &readings,
            &[],
            None,
            at(NOW),
            Some(at("2026-11-24T17:30:00Z")),
        );
        assert_eq!(done.decision, Verdict::Block);
        assert!(done.reason().contains("still blocked after max_wait (30m)"));
        let fail = decide(
            &policy(r#", "when_blocked": "fail""#),
            HERE,
            &readings,
            &[],
            None,
            at(NOW),
            None,
        );
        assert_eq!(fail.decision, Verdict::Block);
        assert_eq!(fail.reasons[1], "orders-high-sev is ALARM: Threshold Crossed");
    }
}

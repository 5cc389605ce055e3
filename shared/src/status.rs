//! Where a stage stands (pure): from its block marker, its overrides and its audit trail, one
//! status a person reads at a glance and a program reads as JSON (`handsoff status`, the
//! dashboard). It shows what the records say and nothing more: a stage with no records is
//! `unknown`; a last decision older than an hour, or an unblock, is `idle` (the execution may have
//! ended any way since); `proceeding` is only a gate's `proceed` within the hour, and says which
//! gate (the time-window gate and the canary evaluator keep no record, so it is never "every gate
//! passed"); a bake's `rollback` is `rollback requested` until the trigger's record or the stage's
//! block shows the rollback done.
//!
//! Over 400 lines with its tests: telling a stage's state needs every record kind at once, so the
//! one view stays whole.

use jiff::Timestamp;
use serde::Serialize;

use crate::alarms::{BlockMarker, Override};
use crate::audit::AuditRecord;
use crate::canary::CanaryVerdict;
use crate::canary::sequential::{Counts, SequentialEvidence};
use crate::duration::HumanDuration;
use crate::evidence::{BakeEvidence, CanaryEvidence, FloorCount, RollbackEvidence};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    /// The last decision let the deployment go on.
    Proceeding,
    /// A blocker holds it (an alarm, the window).
    Waiting,
    /// The bake is under way.
    Baking,
    /// Refused until a person acts (or the alarm clears, for `when_blocked: fail`).
    Blocked,
    /// Rolled back, and blocked until someone runs `handsoff unblock`.
    RolledBack,
    /// The bake asked for a rollback; no rollback is recorded yet.
    RollbackRequested,
    /// Nothing recent: the last record is an unblock, or older than an hour.
    Idle,
    /// No record of this stage yet.
    Unknown,
}

/// One stage's status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageStatus {
    pub pipeline: String,
    pub stage: String,
    pub state: StageState,
    /// Since when it is in that state (the record that put it there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// What a person reads first: why it is in that state.
    pub headline: String,
    /// The command that lifts a block, when one holds the stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unblock: Option<String>,
    /// Overrides live now: who, why, until when.
    pub overrides: Vec<LiveOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake: Option<BakeProgress>,
    /// The canary evaluator's last verdict, with each check's p-value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryView>,
    /// The last decision of each gate, newest first.
    pub last_decisions: Vec<GateDecision>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveOverride {
    pub id: String,
    pub who: String,
    pub reason: String,
    /// The alarms it lifts; empty: every alarm of the stage.
    pub alarms: Vec<String>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BakeProgress {
    pub at: Timestamp,
    pub decision: String,
    pub elapsed_seconds: Option<u64>,
    pub duration: Option<String>,
    pub percent_complete: Option<u64>,
    /// Each traffic floor: how much was counted of how much is needed.
    pub floors: Vec<FloorCount>,
    /// The sequential canary's last look (verdict, e-value, threshold, error-rate ratio).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential: Option<SequentialEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CanaryView {
    pub at: Timestamp,
    pub decision: String,
    pub reason: String,
    /// Each check (errors, latency, traffic): its verdict and p-value (null where none).
    pub checks: Vec<CheckSummary>,
}

/// One check of the canary's last judgement, in brief.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckSummary {
    pub name: String,
    pub verdict: CanaryVerdict,
    pub p_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateDecision {
    pub gate: String,
    pub decision: String,
    pub reason: String,
    pub at: Timestamp,
}

const ROLLBACK_TRIGGER: &str = "rollback-trigger";
const BAKE: &str = "bake-time-waiter";
const CANARY: &str = "canary-evaluator";
/// A decision older than this says nothing about now (a bake polls every 5 minutes by default).
const FRESH_SECS: i64 = 3_600;

/// The status of `pipeline`/`stage` at `now`.
pub fn stage_status(
    pipeline: &str,
    stage: &str,
    marker: Option<&BlockMarker>,
    overrides: &[Override],
    trail: &[AuditRecord],
    now: Timestamp,
) -> StageStatus {
    let mut trail: Vec<&AuditRecord> = trail.iter().collect();
    trail.sort_by_key(|record| record.at);
    let decisions: Vec<&AuditRecord> = trail
        .iter()
        .copied()
        .filter(|record| record.kind == "decision")
        .collect();
    let unblock = format!("handsoff unblock --pipeline {pipeline} --stage {stage} --reason \"...\"");
    let (state, since, headline, unblock) = match (marker, trail.last()) {
        (Some(marker), _) if marker.by == ROLLBACK_TRIGGER => (
            StageState::RolledBack,
            Some(marker.created_at),
            marker.reason.clone(),
            Some(unblock),
        ),
        (Some(marker), _) => (
            StageState::Blocked,
            Some(marker.created_at),
            format!("blocked by {}: {}", marker.by, marker.reason),
            Some(unblock),
        ),
        (None, None) => (
            StageState::Unknown,
            None,
            "no decision recorded for this stage yet".to_string(),
            None,
        ),
        (None, Some(last)) if last.kind == "unblocked" => (
            StageState::Idle,
            Some(last.at),
            format!(
                "unblocked by {}: {}",
                last.who.as_deref().unwrap_or("someone"),
                last.reason
            ),
            None,
        ),
        (None, Some(_)) => match decisions.last() {
            None => (
                StageState::Unknown,
                None,
                "no decision recorded for this stage yet".to_string(),
                None,
            ),
            Some(last) => {
                let gate = last.gate.as_deref().unwrap_or("a gate");
                let verdict = last.decision.as_deref().unwrap_or("?");
                let fresh = now.as_second() - last.at.as_second() <= FRESH_SECS;
                let state = match (fresh, verdict, gate) {
                    (false, _, _) => StageState::Idle,
                    (true, "wait", BAKE) => StageState::Baking,
                    (true, "wait", _) => StageState::Waiting,
                    (true, "block", _) => StageState::Blocked,
                    (true, "rollback", ROLLBACK_TRIGGER)
                        if RollbackEvidence::recorded(last).is_some_and(|evidence| evidence.performed) =>
                    {
                        StageState::RolledBack
                    }
                    (true, "rollback", _) => StageState::RollbackRequested,
                    (true, "proceed" | "pass", _) => StageState::Proceeding,
                    (true, "fail", _) => StageState::RollbackRequested,
                    (true, "inconclusive", _) => StageState::Waiting,
                    _ => StageState::Unknown,
                };
                let headline = if fresh {
                    format!("{gate}: {verdict}: {}", last.reason)
                } else {
                    format!(
                        "no decision for over an hour; the last, {gate}: {verdict}: {}",
                        last.reason
                    )
                };
                (state, Some(last.at), headline, None)
            }
        },
    };
    let overrides = overrides
        .iter()
        .filter(|item| item.revoked_at.is_none() && item.expires_at > now)
        .map(|item| LiveOverride {
            id: item.id.clone(),
            who: item.who.clone(),
            reason: item.reason.clone(),
            alarms: item.alarms.clone(),
            expires_at: item.expires_at,
        })
        .collect();
    let bake = decisions
        .iter()
        .rev()
        .find(|record| record.gate.as_deref() == Some(BAKE))
        .and_then(|record| bake_progress(record));
    let canary = decisions
        .iter()
        .rev()
        .find(|record| record.gate.as_deref() == Some(CANARY))
        .map(|record| CanaryView {
            at: record.at,
            decision: record.decision.clone().unwrap_or_default(),
            reason: record.reason.clone(),
            checks: CanaryEvidence::recorded(record)
                .map(|evidence| {
                    evidence
                        .judgement
                        .checks
                        .into_iter()
                        .map(|check| CheckSummary {
                            name: check.name.into_owned(),
                            verdict: check.verdict,
                            p_value: check.p_value,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
    let mut last_decisions: Vec<GateDecision> = Vec::new();
    for record in decisions.iter().rev() {
        let gate = record.gate.clone().unwrap_or_default();
        if last_decisions.iter().any(|seen| seen.gate == gate) {
            continue;
        }
        last_decisions.push(GateDecision {
            gate,
            decision: record.decision.clone().unwrap_or_default(),
            reason: record.reason.clone(),
            at: record.at,
        });
    }
    StageStatus {
        pipeline: pipeline.to_string(),
        stage: stage.to_string(),
        state,
        since,
        headline,
        unblock,
        overrides,
        bake,
        canary,
        last_decisions,
    }
}

/// A bake poll's progress, read with the type the gate wrote its evidence with; none when the
/// record holds no bake evidence (one from an older release), so nothing is guessed.
fn bake_progress(record: &AuditRecord) -> Option<BakeProgress> {
    let evidence = bake_evidence(record)?;
    Some(BakeProgress {
        at: record.at,
        decision: record.decision.clone().unwrap_or_default(),
        elapsed_seconds: u64::try_from(evidence.elapsed_seconds).ok(),
        duration: Some(evidence.duration.to_string()),
        percent_complete: u64::try_from(evidence.percent_complete).ok(),
        floors: evidence.floors,
        sequential: evidence.sequential.map(|look| look.judged),
    })
}

fn bake_evidence(record: &AuditRecord) -> Option<BakeEvidence> {
    BakeEvidence::recorded(record)
}

/// One error-rate point of the one-box and its fleet, from a bake poll's evidence: cumulative
/// since the bake began (the chart the dashboard draws).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatePoint {
    pub at: Timestamp,
    pub one_box: f64,
    pub fleet: f64,
}

/// The one-box against the fleet, poll by poll, from a stage's bake decisions.
pub fn error_rates(trail: &[AuditRecord]) -> Vec<RatePoint> {
    let rate = |counts: Counts| (counts.requests > 0).then(|| counts.errors as f64 / counts.requests as f64);
    let mut points: Vec<RatePoint> = trail
        .iter()
        .filter(|record| record.kind == "decision" && record.gate.as_deref() == Some(BAKE))
        .filter_map(|record| {
            let look = bake_evidence(record)?.sequential?.judged;
            Some(RatePoint {
                at: record.at,
                one_box: rate(look.canary)?,
                fleet: rate(look.baseline)?,
            })
        })
        .collect();
    points.sort_by_key(|point| point.at);
    points
}

impl StageStatus {
    /// One line a person reads: stage, state, since, why (and what to run, when blocked).
    pub fn line(&self) -> String {
        let since = self.since.map(|since| format!(" since {since}")).unwrap_or_default();
        let mut line = format!(
            "{:<16} {:<12}{since}  {}",
            self.stage,
            state_name(self.state),
            self.headline
        );
        if let Some(bake) = &self.bake
            && self.state == StageState::Baking
        {
            let floors: Vec<String> = bake
                .floors
                .iter()
                .map(|floor| format!("{}/{} {}", floor.count, floor.min, floor.metric))
                .collect();
            line.push_str(&format!(
                "\n{:<16} bake: {} of {}{}",
                "",
                HumanDuration::from_secs(bake.elapsed_seconds.unwrap_or(0)),
                bake.duration.as_deref().unwrap_or("?"),
                if floors.is_empty() {
                    String::new()
                } else {
                    format!("; {}", floors.join(", "))
                }
            ));
        }
        if let Some(canary) = &self.canary {
            let p_values: Vec<String> = canary
                .checks
                .iter()
                .filter_map(|check| Some(format!("{} p = {:.3e}", check.name, check.p_value?)))
                .collect();
            line.push_str(&format!(
                "\n{:<16} canary: {} at {}{}",
                "",
                canary.decision,
                canary.at,
                if p_values.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", p_values.join(", "))
                }
            ));
        }
        for item in &self.overrides {
            let scope = if item.alarms.is_empty() {
                "every alarm".to_string()
            } else {
                item.alarms.join(", ")
            };
            line.push_str(&format!(
                "\n{:<16} override {} of {scope} by {} until {}: {}",
                "", item.id, item.who, item.expires_at, item.reason
            ));
        }
        if let Some(unblock) = &self.unblock {
            line.push_str(&format!("\n{:<16} to lift: {unblock}", ""));
        }
        line
    }
}

pub fn state_name(state: StageState) -> &'static str {
    match state {
        StageState::Proceeding => "proceeding",
        StageState::Waiting => "waiting",
        StageState::Baking => "baking",
        StageState::Blocked => "blocked",
        StageState::RolledBack => "rolled back",
        StageState::RollbackRequested => "rollback requested",
        StageState::Idle => "idle",
        StageState::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn decision(gate: &str, verdict: &str, when: &str, detail: Value) -> AuditRecord {
        AuditRecord {
            pipeline: "orders".into(),
            stage: "Prod-1".into(),
            at: at(when),
            kind: "decision".into(),
            reason: format!("{gate} says {verdict}"),
            gate: Some(gate.into()),
            decision: Some(verdict.into()),
            who: None,
            detail,
        }
    }

    #[test]
    fn a_stage_with_no_records_is_unknown_never_proceeding() {
        let status = stage_status("orders", "Prod-1", None, &[], &[], at("2026-12-07T17:00:00Z"));
        assert_eq!(status.state, StageState::Unknown);
    }

    #[test]
    fn a_rollback_block_says_why_and_how_to_lift_it() {
        let marker = BlockMarker {
            pipeline: "orders".into(),
            stage: "Prod-1".into(),
            reason: "rolled back execution e-1: canary-evaluator: 5x errors".into(),
            created_at: at("2026-12-07T17:05:00Z"),
            by: "rollback-trigger".into(),
        };
        let trail = [decision("alarm-blocker", "proceed", "2026-12-07T17:00:00Z", json!({}))];
        let status = stage_status(
            "orders",
            "Prod-1",
            Some(&marker),
            &[],
            &trail,
            at("2026-12-07T18:00:00Z"),
        );
        assert_eq!(
            (status.state, status.since),
            (StageState::RolledBack, Some(marker.created_at))
        );
        assert!(
            status
                .line()
                .contains("to lift: handsoff unblock --pipeline orders --stage Prod-1"),
            "{}",
            status.line()
        );
    }

    #[test]
    fn the_last_decision_sets_the_state_and_the_bake_shows_its_progress() {
        let bake = json!({"started_at": "2026-12-07T17:00:00Z", "elapsed_seconds": 600, "duration": "1h",
            "max_duration": "2h", "percent_complete": 16, "alarm_episodes": [], "alarms_not_ok": [],
            "floors": [{"metric": "Invocations", "namespace": "AWS/Lambda", "dimensions": {}, "count": 50, "min": 100}],
            "sequential": {"verdict": "continue", "e_value": 1.2, "threshold": 625.0, "alpha": 0.0016, "looks": 10,
                "canary": {"requests": 100, "errors": 1}, "baseline": {"requests": 1000, "errors": 10}}});
        let trail = [
            decision("alarm-blocker", "proceed", "2026-12-07T17:00:00Z", json!({})),
            decision("bake-time-waiter", "wait", "2026-12-07T17:10:00Z", bake),
        ];
        let status = stage_status("orders", "Prod-1", None, &[], &trail, at("2026-12-07T17:11:00Z"));
        assert_eq!(status.state, StageState::Baking);
        assert_eq!(status.bake.as_ref().unwrap().elapsed_seconds, Some(600));
        assert!(
            status.line().contains("bake: 10m of 1h; 50/100 Invocations"),
            "{}",
            status.line()
        );
        assert_eq!(
            status
                .last_decisions
                .iter()
                .map(|d| d.gate.as_str())
                .collect::<Vec<_>>(),
            ["bake-time-waiter", "alarm-blocker"]
        );
        let points = error_rates(&trail);
        assert_eq!(points.len(), 1);
        assert!((points[0].one_box - 0.01).abs() < 1e-12 && (points[0].fleet - 0.01).abs() < 1e-12);
    }

    #[test]
    fn a_requested_rollback_is_not_a_done_one_and_old_or_unblocked_is_idle() {
        let requested = [decision(
            "bake-time-waiter",
            "rollback",
            "2026-12-07T17:00:00Z",
            json!({}),
        )];
        let status = stage_status("orders", "Prod-1", None, &[], &requested, at("2026-12-07T17:01:00Z"));
        assert_eq!(status.state, StageState::RollbackRequested);
        let old = [decision("alarm-blocker", "proceed", "2026-12-07T15:00:00Z", json!({}))];
        let status = stage_status("orders", "Prod-1", None, &[], &old, at("2026-12-07T17:01:00Z"));
        assert_eq!(status.state, StageState::Idle);
        assert!(
            status.headline.starts_with("no decision for over an hour"),
            "{}",
            status.headline
        );
        let fresh = stage_status("orders", "Prod-1", None, &[], &old, at("2026-12-07T15:30:00Z"));
        assert_eq!(fresh.state, StageState::Proceeding);
        assert!(
            fresh.headline.starts_with("alarm-blocker: proceed"),
            "{}",
            fresh.headline
        );
    }

    #[test]
    fn the_last_canary_verdict_shows_its_p_values() {
        use crate::canary::{JudgeConfig, JudgeInput, Sample, judge};
        use crate::evidence::{CanaryEvidence, CanaryTarget, MetricWindow};
        let sample = |requests, errors| Sample {
            requests,
            errors,
            latency_ms: vec![120.0; 10],
        };
        let judgement = judge(&JudgeInput {
            baseline: sample(20_000, 200),
            canary: sample(2_000, 100),
            expected_canary_share: None,
            config: JudgeConfig::default(),
        });
        let errors_p = judgement.checks[0].p_value.unwrap();
        let evidence = CanaryEvidence {
            target: CanaryTarget::Pair {
                namespace: "Orders".into(),
                canary: Default::default(),
                baseline: Default::default(),
            },
            window: MetricWindow {
                start: at("2026-12-07T16:50:00Z"),
                end: at("2026-12-07T17:00:00Z"),
                period: "1m".parse().unwrap(),
            },
            get_metric_data_calls: 1,
            judgement,
            missing_series: Vec::new(),
        };
        let judged = serde_json::to_value(&evidence).unwrap();
        let trail = [decision("canary-evaluator", "fail", "2026-12-07T17:00:00Z", judged)];
        let status = stage_status("orders", "Prod-1", None, &[], &trail, at("2026-12-07T17:01:00Z"));
        let canary = status.canary.as_ref().unwrap();
        let names: Vec<&str> = canary.checks.iter().map(|check| check.name.as_str()).collect();
        assert_eq!(names, ["errors", "latency", "traffic"]);
        assert_eq!(canary.checks[0].verdict, CanaryVerdict::Fail);
        assert!(
            status.line().contains(&format!(
                "canary: fail at 2026-12-07T17:00:00Z (errors p = {errors_p:.3e}, latency p = "
            )),
            "{}",
            status.line()
        );
    }

    #[test]
    fn only_live_overrides_are_shown() {
        let item = |id: &str, expires: &str, revoked: bool| Override {
            id: id.into(),
            pipeline: "orders".into(),
            stage: "Prod-1".into(),
            alarms: vec![],
            reason: "INC-7".into(),
            who: "arn:aws:sts::1:assumed-role/oncall/ana".into(),
            created_at: at("2026-12-07T16:00:00Z"),
            expires_at: at(expires),
            revoked_at: revoked.then(|| at("2026-12-07T16:30:00Z")),
            revoked_by: None,
        };
        let overrides = [
            item("live", "2026-12-07T19:00:00Z", false),
            item("gone", "2026-12-07T16:59:00Z", false),
            item("revoked", "2026-12-07T19:00:00Z", true),
        ];
        let status = stage_status("orders", "Prod-1", None, &overrides, &[], at("2026-12-07T17:00:00Z"));
        assert_eq!(
            status.overrides.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            ["live"]
        );
    }
}

//! Delivery metrics (pure), from the audit trail: how often a pipeline deploys, how often a
//! deployment is rolled back, how long a stage takes to recover. Definitions, as
//! docs/operating.md states them:
//!
//! - a **deployment** is one execution that baked in a stage (its bake decisions carry the
//!   execution; safe-region's fleet bake, `<execution>-fleet`, belongs to the same one);
//! - a **failed** deployment is one the rollback trigger rolled back;
//! - **time to restore** runs from a rollback to the stage's next unblock or next bake that
//!   passed, whichever is first; a stage still blocked is not restored yet, and counted apart;
//! - **lead time** needs when each change was committed, which the trail does not hold: it is
//!   reported as unknown, never guessed.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;

use crate::audit::AuditRecord;
use crate::evidence::{BakeEvidence, RollbackEvidence};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryReport {
    pub pipeline: String,
    pub since: Timestamp,
    pub until: Timestamp,
    pub deployments: usize,
    pub deployments_per_day: f64,
    pub rollbacks: usize,
    /// Deployments that were rolled back.
    pub failed_deployments: usize,
    /// Failed deployments per deployment; none when nothing deployed.
    pub change_failure_rate: Option<f64>,
    /// Median seconds from a rollback to the stage's recovery; none when nothing recovered.
    pub median_time_to_restore_secs: Option<i64>,
    pub restored: usize,
    /// Rolled back and not recovered by `until`.
    pub still_blocked: usize,
    /// Not known from the trail (see the module's note).
    pub lead_time_secs: Option<i64>,
    pub stages: Vec<String>,
}

/// The deployment a bake or rollback decision belongs to (a safe region's fleet bake,
/// `<execution>-fleet`, is the same deployment).
fn execution_of(record: &AuditRecord) -> Option<String> {
    let id = match BakeEvidence::recorded(record) {
        Some(bake) => bake.execution_id?,
        None => RollbackEvidence::recorded(record)?.execution_id?,
    };
    Some(id.strip_suffix("-fleet").map(str::to_string).unwrap_or(id))
}

fn is(record: &AuditRecord, gate: &str, decision: &str) -> bool {
    record.kind == "decision" && record.gate.as_deref() == Some(gate) && record.decision.as_deref() == Some(decision)
}

/// The report of `pipeline` over `[since, until)`, from every record of its stages.
pub fn delivery_report(pipeline: &str, trail: &[AuditRecord], since: Timestamp, until: Timestamp) -> DeliveryReport {
    let mut records: Vec<&AuditRecord> = trail
        .iter()
        .filter(|record| record.pipeline == pipeline && record.at >= since && record.at < until)
        .collect();
    records.sort_by_key(|record| record.at);
    let deployments: BTreeSet<(String, String)> = records
        .iter()
        .filter(|record| record.kind == "decision" && record.gate.as_deref() == Some("bake-time-waiter"))
        .filter_map(|record| Some((record.stage.clone(), execution_of(record)?)))
        .collect();
    let rollbacks: Vec<&&AuditRecord> = records
        .iter()
        .filter(|record| {
            is(record, "rollback-trigger", "rollback")
                && RollbackEvidence::recorded(record).is_some_and(|evidence| evidence.performed)
        })
        .collect();
    // A rollback joins its deployment by execution: one rolled back before it baked (or recorded
    // before executions were) is a rollback, not a failed deployment of this window.
    let failed = rollbacks
        .iter()
        .filter_map(|record| Some((record.stage.clone(), execution_of(record)?)))
        .filter(|key| deployments.contains(key))
        .collect::<BTreeSet<_>>()
        .len();
    let mut restore_times = Vec::new();
    let mut still_blocked = 0;
    for rollback in &rollbacks {
        let recovered = records.iter().find(|record| {
            record.stage == rollback.stage
                && record.at > rollback.at
                && (record.kind == "unblocked" || is(record, "bake-time-waiter", "proceed"))
        });
        match recovered {
            Some(record) => restore_times.push(record.at.duration_since(rollback.at).as_secs()),
            None => still_blocked += 1,
        }
    }
    restore_times.sort_unstable();
    let median = (!restore_times.is_empty()).then(|| restore_times[restore_times.len() / 2]);
    let days = (until.duration_since(since).as_secs_f64() / 86_400.0).max(1.0 / 24.0);
    let stages: BTreeMap<&str, ()> = records.iter().map(|record| (record.stage.as_str(), ())).collect();
    DeliveryReport {
        pipeline: pipeline.to_string(),
        since,
        until,
        deployments: deployments.len(),
        deployments_per_day: deployments.len() as f64 / days,
        rollbacks: rollbacks.len(),
        failed_deployments: failed,
        change_failure_rate: (!deployments.is_empty()).then(|| failed as f64 / deployments.len() as f64),
        median_time_to_restore_secs: median,
        restored: restore_times.len(),
        still_blocked,
        lead_time_secs: None,
        stages: stages.keys().map(|stage| stage.to_string()).collect(),
    }
}

impl DeliveryReport {
    pub fn to_text(&self) -> String {
        let percent = |rate: Option<f64>| {
            rate.map_or("n/a (no deployment)".to_string(), |rate| {
                format!("{:.1}%", rate * 100.0)
            })
        };
        let restore = self
            .median_time_to_restore_secs
            .map_or("n/a (nothing restored)".to_string(), |secs| {
                crate::duration::HumanDuration::from_secs(secs.max(0) as u64).to_string()
            });
        format!(
            "{} from {} to {} ({} stages)\n  deployments        {} ({:.2} a day)\n  rollbacks          {}\n  change failure     {}\n  time to restore    {} (median of {}; {} still blocked)\n  lead time          unknown (the trail does not record when changes were committed)",
            self.pipeline,
            self.since,
            self.until,
            self.stages.len(),
            self.deployments,
            self.deployments_per_day,
            self.rollbacks,
            percent(self.change_failure_rate),
            restore,
            self.restored,
            self.still_blocked,
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::duration::HumanDuration;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn record(
        stage: &str,
        when: &str,
        kind: &str,
        gate: Option<&str>,
        decision: Option<&str>,
        detail: serde_json::Value,
    ) -> AuditRecord {
        AuditRecord {
            pipeline: "orders".into(),
            stage: stage.into(),
            at: at(when),
            kind: kind.into(),
            reason: String::new(),
            gate: gate.map(str::to_string),
            decision: decision.map(str::to_string),
            who: None,
            detail,
        }
    }

    fn rolled_back(execution: &str) -> serde_json::Value {
        serde_json::to_value(RollbackEvidence {
            performed: true,
            execution_id: Some(execution.to_string()),
            ..RollbackEvidence::default()
        })
        .unwrap()
    }

    #[test]
    fn deployments_rollbacks_and_time_to_restore_as_worked_out_by_hand() {
        let bake = |stage: &str, when: &str, verdict: &str, execution: &str| {
            record(
                stage,
                when,
                "decision",
                Some("bake-time-waiter"),
                Some(verdict),
                serde_json::to_value(BakeEvidence {
                    started_at: at(when),
                    elapsed_seconds: 0,
                    duration: HumanDuration::from_secs(600),
                    max_duration: HumanDuration::from_secs(1200),
                    floors: Vec::new(),
                    alarm_episodes: Vec::new(),
                    percent_complete: 0,
                    alarms_not_ok: Vec::new(),
                    sequential: None,
                    get_metric_data_calls: 1,
                    execution_id: Some(execution.to_string()),
                    alarm_calls: 1,
                })
                .unwrap(),
            )
        };
        let trail = vec![
            // e-1 in Prod-1: one-box bake and fleet bake: one deployment.
            bake("Prod-1", "2026-12-01T10:00:00Z", "wait", "e-1"),
            bake("Prod-1", "2026-12-01T11:00:00Z", "proceed", "e-1"),
            bake("Prod-1", "2026-12-01T13:00:00Z", "proceed", "e-1-fleet"),
            // e-2 in Prod-1: rolled back at 14:00, unblocked at 15:30.
            bake("Prod-1", "2026-12-02T13:30:00Z", "rollback", "e-2"),
            record(
                "Prod-1",
                "2026-12-02T14:00:00Z",
                "decision",
                Some("rollback-trigger"),
                Some("rollback"),
                rolled_back("e-2"),
            ),
            record("Prod-1", "2026-12-02T15:30:00Z", "unblocked", None, None, json!({})),
            // e-3 in Prod-2: rolled back, still blocked.
            bake("Prod-2", "2026-12-03T09:00:00Z", "wait", "e-3"),
            record(
                "Prod-2",
                "2026-12-03T09:10:00Z",
                "decision",
                Some("rollback-trigger"),
                Some("rollback"),
                rolled_back("e-3"),
            ),
            // Before the window: not counted.
            bake("Prod-1", "2026-11-01T10:00:00Z", "proceed", "e-0"),
        ];
        let report = delivery_report("orders", &trail, at("2026-11-27T00:00:00Z"), at("2026-12-07T00:00:00Z"));
        assert_eq!(
            (report.deployments, report.rollbacks, report.failed_deployments),
            (3, 2, 2)
        );
        assert!((report.deployments_per_day - 0.3).abs() < 1e-9);
        assert!((report.change_failure_rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(report.median_time_to_restore_secs, Some(5_400));
        assert_eq!((report.restored, report.still_blocked), (1, 1));
        assert_eq!(report.lead_time_secs, None);
        assert!(
            report.to_text().contains("change failure     66.7%"),
            "{}",
            report.to_text()
        );
    }

    #[test]
    fn nothing_deployed_is_no_rate_not_zero() {
        let report = delivery_report("orders", &[], at("2026-11-27T00:00:00Z"), at("2026-12-07T00:00:00Z"));
        assert_eq!(report.failed_deployments, 0);
        assert_eq!(
            (
                report.deployments,
                report.change_failure_rate,
                report.median_time_to_restore_secs
            ),
            (0, None, None)
        );
    }
}

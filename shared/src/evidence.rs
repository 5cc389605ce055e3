//! What each gate decided on, as one type per gate. The answer, the audit record, the event's
//! summary, `handsoff status`, the dashboard and the published decision schema
//! (`schemas/decision.schema.json`) all read these types, so they cannot disagree about a field.
//! Field names are the wire format documented in docs/contracts.md.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::alarms::{BlockMarker, Blocker, InsufficientData, Override};
use crate::audit::AuditRecord;
use crate::bake::AlarmEpisode;
use crate::canary::judge::Judgement;
use crate::canary::sequential::SequentialEvidence;
use crate::duration::HumanDuration;
use crate::layers::PolicySource;
use crate::rollback::{RollbackRecord, StepResult};
use crate::window::{ClosedBy, WhenClosed};

/// A decision's evidence: its gate's own, and which stored policy versions it used.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Evidence {
    #[serde(flatten)]
    pub of: GateEvidence,
    /// The stored policy layers the decision's policy was merged from, when it used them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySource>,
}

impl Evidence {
    /// As JSON, for the audit record and the log line.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Whether this invocation ran a rollback (not one that found it done or running).
    pub fn rolled_back_here(&self) -> bool {
        matches!(&self.of, GateEvidence::Rollback(evidence) if evidence.performed)
    }
}

impl<T: Into<GateEvidence>> From<T> for Evidence {
    fn from(of: T) -> Evidence {
        Evidence {
            of: of.into(),
            policy: None,
        }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.to_json())
    }
}

/// The evidence of one gate; which one is told by the decision's `gate`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum GateEvidence {
    TimeWindow(WindowEvidence),
    Alarms(AlarmEvidence),
    Bake(Box<BakeEvidence>),
    Canary(Box<CanaryEvidence>),
    Rollback(Box<RollbackEvidence>),
    /// A decision taken before any read (there is none in the gates today; kept so a decision
    /// is never without evidence of some type).
    Nothing(NoEvidence),
}

/// No evidence: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NoEvidence {}

impl From<WindowEvidence> for GateEvidence {
    fn from(evidence: WindowEvidence) -> GateEvidence {
        GateEvidence::TimeWindow(evidence)
    }
}

impl From<AlarmEvidence> for GateEvidence {
    fn from(evidence: AlarmEvidence) -> GateEvidence {
        GateEvidence::Alarms(evidence)
    }
}

impl From<BakeEvidence> for GateEvidence {
    fn from(evidence: BakeEvidence) -> GateEvidence {
        GateEvidence::Bake(Box::new(evidence))
    }
}

impl From<CanaryEvidence> for GateEvidence {
    fn from(evidence: CanaryEvidence) -> GateEvidence {
        GateEvidence::Canary(Box::new(evidence))
    }
}

impl From<RollbackEvidence> for GateEvidence {
    fn from(evidence: RollbackEvidence) -> GateEvidence {
        GateEvidence::Rollback(Box::new(evidence))
    }
}

impl From<NoEvidence> for GateEvidence {
    fn from(evidence: NoEvidence) -> GateEvidence {
        GateEvidence::Nothing(evidence)
    }
}

/// The time-window gate's: the window at this instant, and any freeze or calendar that closed it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct WindowEvidence {
    /// Whether a deployment may start now (the windows, freezes and calendars together).
    pub open: bool,
    /// When closed: when it opens (null: not within 366 days, or never while frozen).
    pub opens_at: Option<Timestamp>,
    /// When open: the last instant a deployment may start.
    pub closes_at: Option<Timestamp>,
    pub timezone: String,
    pub local_time: String,
    /// The window whose stretch holds this instant, e.g. `allow[0] Mon-Thu 09:00-16:00`.
    pub window: Option<String>,
    pub closed_by: Option<ClosedBy>,
    pub min_time_left: HumanDuration,
    pub when_closed: WhenClosed,
    pub max_wait: Option<HumanDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeze: Option<FreezeEvidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendars: Option<CalendarEvidence>,
}

/// The change freeze that closes the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FreezeEvidence {
    pub id: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub reason: String,
    /// Who created it (an ARN from STS).
    pub by: String,
    /// The pipelines it covers; empty: all.
    pub pipelines: Vec<String>,
    /// When the freezes in force end, overlaps joined.
    pub until: Timestamp,
}

/// What the stage's SSM Change Calendars said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CalendarEvidence {
    pub names: Vec<String>,
    /// `OPEN` or `CLOSED`.
    pub state: CalendarStateName,
    pub next_transition: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CalendarStateName {
    Open,
    Closed,
}

/// The alarm blocker's: the stage's block after a rollback, or the alarms it read and the
/// overrides it weighed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AlarmEvidence {
    /// The stage is blocked after a rollback until a person clears it (no alarm is read then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_after_rollback: Option<BlockMarker>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub read: Option<AlarmsRead>,
    /// DescribeAlarms calls made (every page of every watched selection).
    pub describe_alarms_calls: usize,
}

/// The watched alarms as read, and what blocks.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AlarmsRead {
    pub alarms_read: usize,
    pub alarms_ok: usize,
    pub blocking: Vec<Blocker>,
    pub insufficient_data: InsufficientData,
    /// Overrides made to live longer than `max_override_ttl`: they lift nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides_ignored: Option<Vec<Override>>,
    /// The live overrides that lift every blocking alarm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overridden_by: Option<Vec<Override>>,
}

/// The bake-time waiter's: how long and how much traffic it has baked, what alarmed, and the
/// sequential canary's last look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BakeEvidence {
    pub started_at: Timestamp,
    pub elapsed_seconds: i64,
    pub duration: HumanDuration,
    pub max_duration: HumanDuration,
    pub floors: Vec<FloorCount>,
    pub alarm_episodes: Vec<AlarmEpisode>,
    pub percent_complete: i32,
    /// Watched alarms neither OK nor ALARM (INSUFFICIENT_DATA, missing, unknown): not proven.
    pub alarms_not_ok: Vec<Blocker>,
    pub sequential: Option<SequentialLook>,
    #[serde(default)]
    pub get_metric_data_calls: usize,
    /// The deployment this bake belongs to (the delivery report groups by it).
    #[serde(default)]
    pub execution_id: Option<String>,
    /// DescribeAlarms and DescribeAlarmHistory calls made.
    #[serde(default)]
    pub alarm_calls: usize,
}

impl BakeEvidence {
    /// A bake decision's evidence, read back from its audit record with the type it was written
    /// with; none for any other record, or one that does not hold it (an older release's).
    pub fn recorded(record: &AuditRecord) -> Option<BakeEvidence> {
        recorded(record, crate::bake::NAME)
    }
}

impl CanaryEvidence {
    /// The canary evaluator's evidence, read back from its audit record (as [`BakeEvidence::recorded`]).
    pub fn recorded(record: &AuditRecord) -> Option<CanaryEvidence> {
        recorded(record, crate::gates::canary_evaluator::NAME)
    }
}

impl RollbackEvidence {
    /// The rollback trigger's evidence, read back from its audit record (as [`BakeEvidence::recorded`]).
    pub fn recorded(record: &AuditRecord) -> Option<RollbackEvidence> {
        recorded(record, crate::rollback::NAME)
    }
}

fn recorded<T: serde::de::DeserializeOwned>(record: &AuditRecord, gate: &str) -> Option<T> {
    if record.kind != "decision" || record.gate.as_deref() != Some(gate) {
        return None;
    }
    serde_json::from_value(record.detail.clone()).ok()
}

/// One traffic floor: how much was counted of how much is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FloorCount {
    pub metric: String,
    pub namespace: String,
    pub dimensions: std::collections::BTreeMap<String, String>,
    pub count: u64,
    pub min: u64,
}

/// The sequential canary's look at this poll, and which one-box and fleet it compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SequentialLook {
    #[serde(flatten)]
    pub judged: SequentialEvidence,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<CanaryTarget>,
}

/// Which one-box and fleet a canary compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CanaryTarget {
    /// A Lambda alias: its routing's two versions.
    LambdaAlias {
        function_name: String,
        alias: String,
        baseline_version: String,
        canary_version: String,
        canary_weight: f64,
    },
    /// A pair of metric dimension sets.
    Pair {
        namespace: String,
        canary: std::collections::BTreeMap<String, String>,
        baseline: std::collections::BTreeMap<String, String>,
    },
}

/// The canary evaluator's: what it compared, over which window, and the judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CanaryEvidence {
    pub target: CanaryTarget,
    pub window: MetricWindow,
    pub get_metric_data_calls: usize,
    pub judgement: Judgement,
    /// Series that came back empty, each with the check it leaves unproven.
    pub missing_series: Vec<crate::gates::canary_evaluator::MissingSeries>,
}

/// The whole periods read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MetricWindow {
    pub start: Timestamp,
    pub end: Timestamp,
    pub period: HumanDuration,
}

/// The rollback trigger's: whether this invocation rolled back, and the record of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RollbackEvidence {
    /// Whether this invocation ran rollback steps.
    pub performed: bool,
    /// The result of the run that already rolled this deployment back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_result: Option<RollbackRecord>,
    /// Another invocation holds the rollback since then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_progress_since: Option<Timestamp>,
    /// The steps run before the claim was lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepResult>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RollbackRecord>,
    /// Why it rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Saves of its progress that failed on the way (the rollback went on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_not_saved: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

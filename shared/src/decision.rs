//! What a gate decided, and the evidence it decided on.

use std::collections::BTreeMap;
use std::fmt;

use crate::evidence::{Evidence, GateEvidence, NoEvidence};
use jiff::Timestamp;
use serde::Serialize;

/// Every verdict a gate can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Go on with the deployment.
    Proceed,
    /// Not yet; ask again (at `wait_until` when it is known).
    Wait,
    /// Stop here: the deployment must not go on.
    Block,
    /// Undo the deployment.
    Rollback,
    /// Canary: no worse than the baseline.
    Pass,
    /// Canary: worse than the baseline.
    Fail,
    /// Canary: not enough data yet.
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Proceed => "proceed",
            Verdict::Wait => "wait",
            Verdict::Block => "block",
            Verdict::Rollback => "rollback",
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// Verdicts under which the pipeline may go on to the next action.
    pub fn lets_pipeline_continue(self) -> bool {
        matches!(self, Verdict::Proceed | Verdict::Pass)
    }

    /// Verdicts that mean "ask again later".
    pub fn is_pending(self) -> bool {
        matches!(self, Verdict::Wait | Verdict::Inconclusive)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `at`, or the next whole second if it has a fraction.
fn whole_second_after(at: Timestamp) -> Timestamp {
    if at.subsec_nanosecond() > 0 {
        Timestamp::from_second(at.as_second().saturating_add(1)).unwrap_or(at)
    } else {
        at
    }
}

/// A gate's decision: the verdict, why, until when, and the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Decision {
    /// The gate that decided, e.g. `time-window-gate`.
    pub gate: &'static str,
    pub decision: Verdict,
    /// Sentences a person acts on; the first is the headline.
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<Timestamp>,
    /// What the gate decided on, one type per gate (docs/contracts.md); `policy` names the
    /// stored policy versions it used, when it used one.
    pub evidence: Evidence,
    /// How far along a long wait is, 0-100 (CodePipeline `percentComplete`).
    #[serde(skip_serializing_if = "Option::is_none", rename = "percent_complete")]
    pub progress: Option<i32>,
    /// Extra CodePipeline output variables beside `decision` and `reason`.
    #[serde(skip)]
    pub outputs: BTreeMap<String, String>,
}

impl Decision {
    pub fn new(gate: &'static str, decision: Verdict, reason: impl Into<String>) -> Decision {
        Decision {
            gate,
            decision,
            reasons: vec![reason.into()],
            wait_until: None,
            evidence: Evidence::from(NoEvidence {}),
            progress: None,
            outputs: BTreeMap::new(),
        }
    }

    /// Ask again at `wait_until`, rounded up to the whole second: Step Functions' `Wait` and
    /// `IsTimestamp` read `YYYY-MM-DDThh:mm:ssZ` (moto's interpreter nothing finer), and a second
    /// late is never early.
    pub fn waiting_until(mut self, wait_until: Option<Timestamp>) -> Decision {
        self.wait_until = wait_until.map(whole_second_after);
        self
    }

    pub fn with_evidence(mut self, evidence: impl Into<GateEvidence>) -> Decision {
        self.evidence.of = evidence.into();
        self
    }

    /// Names the stored policy versions it was decided with in its evidence (`policy`), so the
    /// audit record, the event and the answer all say which policy ran.
    pub fn citing(mut self, source: Option<&crate::layers::PolicySource>) -> Decision {
        if let Some(source) = source {
            self.evidence.policy = Some(source.clone());
        }
        self
    }

    pub fn with_output(mut self, name: &str, value: impl Into<String>) -> Decision {
        self.outputs.insert(name.to_string(), value.into());
        self
    }

    /// The headline reason.
    pub fn reason(&self) -> &str {
        self.reasons.first().map(String::as_str).unwrap_or("")
    }

    /// The output variables a CodePipeline action publishes on its final answer.
    pub fn output_variables(&self) -> BTreeMap<String, String> {
        let mut outputs = self.outputs.clone();
        outputs.insert("decision".to_string(), self.decision.to_string());
        outputs.insert("reason".to_string(), self.reason().to_string());
        outputs
    }
}

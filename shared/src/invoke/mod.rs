//! The invocation layer: one handler for both ways in. Parse the event, load the policy, let
//! the gate decide, record the decision, then answer the CodePipeline job or return the
//! decision (or a typed error) to Step Functions.
//!
//! Over 400 lines with its tests: the one handler flow both contracts share; the deadlines
//! (`deadline.rs`) and which policy to use (`policy.rs`) live beside it.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::decision::Decision;
use crate::error::GateError;
use crate::gates::{Gate, GateRequest, Mode};
use crate::ports::events::{EventSink, NoEvents};
use crate::ports::pipeline_jobs::{JobAnswer, PipelineJobs};
use crate::ports::{PortError, PortErrorKind};
use crate::telemetry::{MetricSink, StdoutMetrics, record_decision, record_error, record_unpublished};

pub mod codepipeline;
mod deadline;
pub mod event;
pub mod policy;
mod serve;
mod startup;
pub mod validation;

use crate::context::InvocationContext;
use codepipeline::{Continuation, answer_for};
use deadline::DeadlineGate;
pub use deadline::{ANSWER_MARGIN, Deadlines, LAST_WORD, answer_job, call_by, instant_before};
use event::{DirectRequest, Invocation, PipelineJob};
use policy::{NoStoredPolicies, PolicyAsk, direct_ask, job_ask, resolve};
pub use serve::{EventHandler, serve};
pub use startup::Startup;

use crate::ports::policies::PolicyStore;

/// A gate wired to the ports it answers through, where it announces what it decided, and
/// where it reads stored policies.
pub struct Handler<G, J, M = StdoutMetrics, E = NoEvents, P = NoStoredPolicies> {
    gate: G,
    jobs: J,
    metrics: M,
    events: E,
    policies: P,
}

impl<G: Gate, J: PipelineJobs, M: MetricSink> Handler<G, J, M, NoEvents, NoStoredPolicies> {
    pub fn new(gate: G, jobs: J, metrics: M) -> Self {
        Handler {
            gate,
            jobs,
            metrics,
            events: NoEvents,
            policies: NoStoredPolicies,
        }
    }
}

impl<G: Gate, J: PipelineJobs, M: MetricSink, E: EventSink, P: PolicyStore> Handler<G, J, M, E, P> {
    /// The same handler, announcing its blocks, first waits, rollbacks and failures to `events`.
    pub fn with_events<E2: EventSink>(self, events: E2) -> Handler<G, J, M, E2, P> {
        Handler {
            gate: self.gate,
            jobs: self.jobs,
            metrics: self.metrics,
            events,
            policies: self.policies,
        }
    }

    /// The same handler, reading stored policies (`policy_ref`, or none given) from `policies`.
    pub fn with_policies<P2: PolicyStore>(self, policies: P2) -> Handler<G, J, M, E, P2> {
        Handler {
            gate: self.gate,
            jobs: self.jobs,
            metrics: self.metrics,
            events: self.events,
            policies,
        }
    }

    pub fn metrics(&self) -> &M {
        &self.metrics
    }

    /// Handles one event at `now`. CodePipeline: answers the job, and returns an error only
    /// when the answer itself could not be sent. Direct: returns the decision, or a typed error.
    pub async fn handle(&self, event: Value, now: Timestamp) -> Result<Value, GateError> {
        self.handle_until(event, now, None).await
    }

    /// As [`Handler::handle`], but against `deadlines`: a gate (or the job lookup) still
    /// waiting on AWS at `work_by` fails closed with a timeout, so the job is still answered
    /// (and Step Functions still gets a typed error) before Lambda's deadline; an answer
    /// CodePipeline has not taken by `answer_by` is given up, and the invocation fails with
    /// that reason instead of being cut off by Lambda.
    pub async fn handle_until(
        &self,
        event: Value,
        now: Timestamp,
        deadlines: Option<Deadlines>,
    ) -> Result<Value, GateError> {
        let gate = DeadlineGate {
            gate: &self.gate,
            decide_by: deadlines.map(|deadlines| deadlines.work_by),
        };
        let handler = HandlerRef {
            gate: &gate,
            jobs: &self.jobs,
            metrics: &self.metrics,
            events: &self.events,
            policies: &self.policies,
            deadlines,
        };
        handler.handle(event, now).await
    }
}

/// The handler's logic over borrowed parts, so a gate can be wrapped per invocation.
struct HandlerRef<'a, G, J, M, E, P> {
    gate: &'a G,
    jobs: &'a J,
    metrics: &'a M,
    events: &'a E,
    policies: &'a P,
    deadlines: Option<Deadlines>,
}

impl<G: Gate, J: PipelineJobs, M: MetricSink, E: EventSink, P: PolicyStore> HandlerRef<'_, G, J, M, E, P> {
    async fn handle(&self, event: Value, now: Timestamp) -> Result<Value, GateError> {
        let invocation = match Invocation::parse(event) {
            Ok(invocation) => invocation,
            Err(error) => {
                record_error(self.gate.name(), &error, Mode::Direct, self.metrics, now);
                return Err(error);
            }
        };
        match invocation {
            Invocation::CodePipeline(job) => self.handle_job(job, now).await,
            Invocation::Direct(request) => self.handle_direct(request, now).await,
        }
    }

    async fn handle_job(&self, job: PipelineJob, now: Timestamp) -> Result<Value, GateError> {
        // An unreadable token fails the job: it never restarts the wait from zero.
        let (continuation, unreadable) = match job
            .continuation_token
            .as_deref()
            .map(|token| Continuation::parse(token, self.gate.name()))
            .transpose()
        {
            Ok(continuation) => (continuation, None),
            Err(error) => (None, Some(error)),
        };
        let outcome = match unreadable {
            Some(error) => Err(error),
            None => {
                let since = continuation.as_ref().map(|continuation| continuation.since);
                self.decide_job(&job, since, now).await
            }
        };
        self.record(&outcome, Mode::CodePipeline, now);
        let answer = answer_for(self.gate.name(), &outcome, continuation.as_ref(), now);
        let answer_by = self.deadlines.map(|deadlines| deadlines.answer_by);
        answer_job(self.jobs, &job.id, &answer, answer_by)
            .await
            .map_err(|error| {
                let error = GateError::DependencyUnavailable(error);
                record_error(self.gate.name(), &error, Mode::CodePipeline, self.metrics, now);
                error
            })?;
        let answered = match &answer {
            JobAnswer::Succeed { .. } => "succeeded",
            JobAnswer::Continue { .. } => "continued",
            JobAnswer::Fail { .. } => "failed",
        };
        tracing::info!(gate = self.gate.name(), job_id = %job.id, answer = answered, "answered CodePipeline job");
        Ok(json!({
            "job_id": job.id,
            "answer": answered,
            "decision": outcome.as_ref().ok().map(|decision| decision.decision.as_str()),
        }))
    }

    /// Reads the job's policy (and its context when the gate or the policy needs it), decides
    /// and announces.
    async fn decide_job(
        &self,
        job: &PipelineJob,
        waiting_since: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Decision, GateError> {
        let ask = job_ask(job.user_parameters.as_deref()).map_err(GateError::PolicyInvalid)?;
        let context = self.job_context(&job.id, matches!(ask, PolicyAsk::OwnStage)).await?;
        let (policy, policy_source) = self.policy(ask, &context).await?;
        let request = GateRequest {
            policy,
            context,
            now,
            waiting_since,
            mode: Mode::CodePipeline,
            policy_source,
        };
        self.decide_and_announce(&request).await
    }

    async fn decide_direct(&self, request: DirectRequest, now: Timestamp) -> Result<Decision, GateError> {
        let ask = direct_ask(&request, self.gate.name()).map_err(GateError::PolicyInvalid)?;
        checked_names(&request.context)?;
        let waiting_since = waiting_since(&request.context, now)?;
        let (policy, policy_source) = self.policy(ask, &request.context).await?;
        let request = GateRequest {
            policy,
            context: request.context,
            now,
            waiting_since,
            mode: Mode::Direct,
            policy_source,
        };
        self.decide_and_announce(&request).await
    }

    /// The gate's decision, naming the stored policy it was made with, announced.
    async fn decide_and_announce(&self, request: &GateRequest) -> Result<Decision, GateError> {
        let outcome = self
            .gate
            .decide(request)
            .await
            .map(|decision| decision.citing(request.policy_source.as_ref()));
        self.announce(
            &outcome,
            &request.context,
            request.mode,
            request.waiting_since,
            request.now,
        )
        .await;
        outcome
    }

    /// The policy asked for, reading a stored one by the work deadline.
    async fn policy(
        &self,
        ask: PolicyAsk,
        context: &InvocationContext,
    ) -> Result<(crate::policy::Policy, Option<crate::layers::PolicySource>), GateError> {
        let work_by = self.deadlines.map(|deadlines| deadlines.work_by);
        match work_by {
            None => resolve(self.policies, ask, context).await,
            Some(by) => tokio::time::timeout_at(by, resolve(self.policies, ask, context))
                .await
                .unwrap_or_else(|_| {
                    Err(GateError::DependencyUnavailable(PortError {
                        call: "dynamodb:GetItem".into(),
                        kind: PortErrorKind::Timeout,
                        message: "the stored policy was not read before the Lambda deadline; the gate fails closed"
                            .into(),
                    }))
                }),
        }
    }

    async fn handle_direct(&self, request: DirectRequest, now: Timestamp) -> Result<Value, GateError> {
        let outcome = self.decide_direct(request, now).await;
        self.record(&outcome, Mode::Direct, now);
        let decision = outcome?;
        // Anything that must stop a state machine is an error it cannot overlook.
        if decision.decision == crate::decision::Verdict::Block {
            return Err(GateError::Blocked(format!(
                "{}: {}",
                decision.gate,
                decision.reasons.join("; ")
            )));
        }
        serde_json::to_value(&decision)
            .map_err(|error| GateError::InvalidInput(format!("decision could not be encoded: {error}")))
    }

    async fn job_context(&self, job_id: &str, for_policy: bool) -> Result<InvocationContext, GateError> {
        if !self.gate.needs_context() && !for_policy {
            return Ok(InvocationContext::default());
        }
        call_by(
            self.deadlines.map(|deadlines| deadlines.work_by),
            "codepipeline:GetJobDetails",
            "the gate fails closed",
            self.jobs.job_context(job_id),
        )
        .await
        .map_err(GateError::DependencyUnavailable)
    }

    /// Publishes what the outcome means to the world, by the work deadline; a failure is logged
    /// and counted, never returned: the decision stands whatever EventBridge says.
    async fn announce(
        &self,
        outcome: &Result<Decision, GateError>,
        context: &InvocationContext,
        mode: Mode,
        waiting_since: Option<Timestamp>,
        now: Timestamp,
    ) {
        if let (Some(metric), Some(pipeline), Some(stage)) = (
            crate::events::delivery_metric(self.gate.name(), outcome, context),
            context.pipeline.as_deref(),
            context.stage.as_deref(),
        ) {
            crate::telemetry::record_delivery(metric, pipeline, stage, self.metrics, now);
        }
        let events = crate::events::events_for(self.gate.name(), outcome, context, mode, waiting_since, now);
        if events.is_empty() {
            return;
        }
        let published = call_by(
            self.deadlines.map(|deadlines| deadlines.work_by),
            "events:PutEvents",
            "the events are not published; the decision stands",
            self.events.publish(&events),
        )
        .await;
        if let Err(error) = published {
            record_unpublished(self.gate.name(), &error, events.len(), self.metrics, now);
        }
    }

    fn record(&self, outcome: &Result<Decision, GateError>, mode: Mode, now: Timestamp) {
        match outcome {
            Ok(decision) => record_decision(decision, mode, self.metrics, now),
            Err(error) => record_error(self.gate.name(), error, mode, self.metrics, now),
        }
    }
}

/// The pipeline and stage of a direct call name records, events and the commands people copy
/// from them (`handsoff unblock --stage ...`): CodePipeline's names only (letters, digits,
/// `.@-_`, at most 100), never a `#` that would split a record's key or a `$(...)` in a command.
fn checked_names(context: &InvocationContext) -> Result<(), GateError> {
    let named = [
        ("context.pipeline", context.pipeline.as_deref()),
        ("context.stage", context.stage.as_deref()),
    ];
    crate::names::check(
        named
            .into_iter()
            .filter_map(|(field, value)| value.map(|value| (field, value))),
    )
    .map_err(|error| GateError::InvalidInput(error.0))
}

/// How long a caller's clock may run ahead of ours before its `waiting_since` is refused.
const CLOCK_SKEW_SECS: i64 = 300;

/// `context.waiting_since`, which must not lie in the future: a start after now would make
/// every wait look fresh, and `max_wait` would never be reached.
fn waiting_since(context: &InvocationContext, now: Timestamp) -> Result<Option<Timestamp>, GateError> {
    match context.waiting_since {
        Some(since) if since.as_second() > now.as_second() + CLOCK_SKEW_SECS => Err(GateError::InvalidInput(format!(
            "context.waiting_since: {since} is in the future (now {now}); pass when waiting began, e.g. $$.Execution.StartTime"
        ))),
        since => Ok(since),
    }
}

impl<G: Gate, J: PipelineJobs, M: MetricSink, E: EventSink, P: PolicyStore> EventHandler for Handler<G, J, M, E, P> {
    fn answer_margin(&self) -> std::time::Duration {
        ANSWER_MARGIN
    }

    async fn handle_event(&self, event: Value, deadlines: Deadlines) -> Result<Value, GateError> {
        self.handle_until(event, Timestamp::now(), Some(deadlines)).await
    }

    fn refused(&self, error: &GateError) {
        record_error(self.gate.name(), error, Mode::Direct, &self.metrics, Timestamp::now());
    }
}

/// Runs a gate on the Lambda runtime until the process ends, announcing what it decides to
/// `events` and reading stored policies from `policies`.
pub async fn run<G, J, E, P>(gate: G, jobs: J, events: E, policies: P) -> Result<(), lambda_runtime::Error>
where
    G: Gate + 'static,
    J: PipelineJobs + 'static,
    E: EventSink + 'static,
    P: PolicyStore + 'static,
{
    serve(
        Handler::new(gate, jobs, StdoutMetrics)
            .with_events(events)
            .with_policies(policies),
    )
    .await
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_stage_name_that_could_split_a_key_or_run_in_a_shell_is_refused() {
        let context = |stage: &str| crate::context::InvocationContext {
            pipeline: Some("orders".into()),
            stage: Some(stage.into()),
            ..Default::default()
        };
        assert!(super::checked_names(&context("Prod-1")).is_ok());
        for bad in ["Prod#1", "x$(curl evil)", "", "a b", &"x".repeat(101)] {
            let error = super::checked_names(&context(bad)).unwrap_err();
            assert!(
                error.to_string().contains("context.stage: not a CodePipeline name"),
                "{bad:?}: {error}"
            );
        }
    }

    use super::*;

    /// UserParameters now ask for the stage's stored policy (resolved and tested in `policy`).
    #[test]
    fn policy_errors_name_the_gates_own_section_and_start_at_user_parameters() {
        assert!(matches!(job_ask(None).unwrap(), PolicyAsk::OwnStage));
        let garbled = job_ask(Some("alarms: yes")).unwrap_err();
        assert_eq!(garbled.path, "UserParameters");
        assert!(
            garbled.message.starts_with("a policy is a JSON object of sections"),
            "{garbled}"
        );
        let broken = job_ask(Some(r#"{"alarms": {"watch": [}"#)).unwrap_err();
        assert_eq!(broken.path, "UserParameters");
        assert!(broken.message.starts_with("not valid JSON"), "{broken}");
        let deep = job_ask(Some(r#"{"bake": {"duration": "soon"}}"#)).unwrap_err();
        assert_eq!(deep.path, "UserParameters.bake.duration");
        let request = DirectRequest {
            policy: None,
            policy_ref: None,
            context: InvocationContext::default(),
        };
        let missing = direct_ask(&request, "canary-evaluator").unwrap_err();
        assert!(
            missing.message.contains(r#"{"policy": {"canary": {"lambda_alias""#),
            "{missing}"
        );
    }
}

//! The validation-test runner's invocation layer. Step Functions (the post-stage-validation
//! Map) sends one suite with the stage's variables and gets the run's summary back; a
//! CodePipeline Lambda action runs every current suite of its stage and passes or fails the job.
//! Either way every run is stored, and the answer comes before the Lambda deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::event::{CODEPIPELINE_KEY, Invocation};
use super::{Deadlines, answer_job, call_by};
use crate::error::GateError;
use crate::ports::http_client::HttpSender;
use crate::ports::lambda_invoke::FunctionInvoker;
use crate::ports::pipeline_jobs::{JobAnswer, JobFailureKind, PipelineJobs};
use crate::ports::store::StoreError;
use crate::ports::suites::SuiteStore;
use crate::ports::{PortError, PortErrorKind};
use crate::suite::{RunSummary, Runner, Suite, SuiteError};

/// Time kept back from the Lambda deadline to store the results and answer.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(3);

/// Of that, the time kept for the answer itself: a run still not stored this long before the
/// answer deadline is given up, so the job is failed (or the error returned) in time.
const ANSWER_TIME: Duration = Duration::from_secs(1);

/// CodePipeline failure messages are at most 5,000 characters.
const JOB_MESSAGE_LIMIT: usize = 4_000;

/// One suite to run, as the state machine sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteRequest {
    /// The suite document, or its JSON text (as stored in the table's `body`).
    pub suite: Value,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    #[serde(default)]
    pub pipeline: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub execution_id: Option<String>,
}

/// A CodePipeline action's `UserParameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobParameters {
    #[serde(default)]
    vars: BTreeMap<String, Value>,
}

const RUNNER: &str = "validation-test-runner";

pub struct ValidationHandler<H, L, S, J> {
    runner: Runner<H, L>,
    store: S,
    jobs: J,
}

fn invalid(error: SuiteError, within: &str) -> GateError {
    GateError::InvalidInput(format!("{within}.{}: {}", error.path, error.message).replace(".suite.", "."))
}

fn store_failed(error: StoreError) -> GateError {
    match error {
        StoreError::Port(error) => GateError::DependencyUnavailable(error),
        other => GateError::InvalidInput(other.to_string()),
    }
}

/// Stage variables as text: strings as they are, numbers and booleans written out.
fn stage_vars(vars: &BTreeMap<String, Value>, at: &str) -> Result<BTreeMap<String, String>, GateError> {
    vars.iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => {
                    return Err(GateError::InvalidInput(format!(
                        "{at}.{name}: a variable is a string, number or boolean"
                    )));
                }
            };
            Ok((name.clone(), text))
        })
        .collect()
}

fn parse_suite(value: Value) -> Result<Suite, GateError> {
    match value {
        Value::String(text) => Suite::from_json(&text),
        other => Suite::from_value(other),
    }
    .map_err(|error| invalid(error, "suite"))
}

impl<H: HttpSender, L: FunctionInvoker, S: SuiteStore, J: PipelineJobs> ValidationHandler<H, L, S, J> {
    pub fn new(runner: Runner<H, L>, store: S, jobs: J) -> Self {
        ValidationHandler { runner, store, jobs }
    }

    /// Handles one event: the suites stop by `deadlines.work_by` (Lambda's deadline less
    /// [`ANSWER_MARGIN`]), and a job is answered by `deadlines.answer_by`.
    pub async fn handle(&self, event: Value, deadlines: Deadlines) -> Result<Value, GateError> {
        if event.get(CODEPIPELINE_KEY).is_some() {
            let Invocation::CodePipeline(job) = Invocation::parse(event)? else {
                return Err(GateError::InvalidInput("not a CodePipeline job".into()));
            };
            return self
                .handle_job(&job.id, job.user_parameters.as_deref(), deadlines)
                .await;
        }
        let request: SuiteRequest = serde_path_to_error::deserialize(event).map_err(|error| {
            GateError::InvalidInput(format!(
                "{}: {} (send {{\"suite\": {{...}}, \"vars\": {{...}}, \"pipeline\": ..., \"stage\": ...}})",
                error.path(),
                crate::json::without_value(&error.inner().to_string())
            ))
        })?;
        let suite = parse_suite(request.suite)?;
        let vars = stage_vars(&request.vars, "vars")?;
        let summary = self.run_one(&suite, &vars, deadlines.work_by).await?;
        if let (Some(pipeline), Some(stage)) = (&request.pipeline, &request.stage) {
            self.record_run(pipeline, stage, request.execution_id.as_deref(), &summary, deadlines)
                .await?;
        }
        Ok(summary.compact())
    }

    /// Stores a run, giving up [`ANSWER_TIME`] before the answer deadline: a run that could not
    /// be stored fails closed, with time left to say so.
    async fn record_run(
        &self,
        pipeline: &str,
        stage: &str,
        execution_id: Option<&str>,
        summary: &RunSummary,
        deadlines: Deadlines,
    ) -> Result<(), GateError> {
        // Never before the work deadline: a run that finished in time gets its chance to be stored.
        let store_by = deadlines
            .answer_by
            .checked_sub(ANSWER_TIME)
            .map_or(deadlines.work_by, |by| by.max(deadlines.work_by));
        let stored = self.store.record_run(pipeline, stage, execution_id, summary);
        match tokio::time::timeout_at(store_by, stored).await {
            Ok(stored) => stored.map_err(store_failed),
            Err(_) => Err(GateError::DependencyUnavailable(PortError {
                call: "dynamodb:PutItem".to_string(),
                kind: PortErrorKind::Timeout,
                message: "no answer before the Lambda deadline; the run is not stored, and nothing passes".to_string(),
            })),
        }
    }

    async fn run_one(
        &self,
        suite: &Suite,
        vars: &BTreeMap<String, String>,
        deadline: Instant,
    ) -> Result<RunSummary, GateError> {
        let summary = self
            .runner
            .run(suite, vars, deadline, uuid::Uuid::new_v4().to_string())
            .await
            .map_err(|error| invalid(error, "suite"))?;
        tracing::info!(
            suite = %summary.suite,
            run_id = %summary.run_id,
            passed = summary.passed,
            failed = summary.failed,
            not_run = summary.not_run,
            ok = summary.ok,
            failures = ?summary.failure_lines(),
            "validation run"
        );
        Ok(summary)
    }

    async fn handle_job(
        &self,
        job_id: &str,
        parameters: Option<&str>,
        deadlines: Deadlines,
    ) -> Result<Value, GateError> {
        let answer = match self.run_stage(job_id, parameters, deadlines).await {
            Ok(answer) => answer,
            // Nothing could be validated: the job fails, with what to fix.
            Err(error) => super::codepipeline::failure_for(RUNNER, &error),
        };
        answer_job(&self.jobs, job_id, &answer, Some(deadlines.answer_by))
            .await
            .map_err(GateError::DependencyUnavailable)?;
        let answered = match answer {
            JobAnswer::Succeed { .. } => "succeeded",
            JobAnswer::Continue { .. } => "continued",
            JobAnswer::Fail { .. } => "failed",
        };
        Ok(json!({"job_id": job_id, "answer": answered}))
    }

    async fn run_stage(
        &self,
        job_id: &str,
        parameters: Option<&str>,
        deadlines: Deadlines,
    ) -> Result<JobAnswer, GateError> {
        let parameters: JobParameters = match parameters.filter(|text| !text.trim().is_empty()) {
            None => JobParameters::default(),
            Some(text) => {
                let example = "write {\"vars\": {\"base_url\": \"https://...\"}}";
                let value = crate::json::parse_strict(text)
                    .map_err(|message| GateError::InvalidInput(format!("UserParameters: {message} ({example})")))?;
                serde_path_to_error::deserialize(value).map_err(|error| {
                    GateError::InvalidInput(format!(
                        "UserParameters.{}: {} ({example})",
                        error.path(),
                        crate::json::without_value(&error.inner().to_string())
                    ))
                })?
            }
        };
        let vars = stage_vars(&parameters.vars, "UserParameters.vars")?;
        let context = call_by(
            Some(deadlines.work_by),
            "codepipeline:GetJobDetails",
            "nothing was validated",
            self.jobs.job_context(job_id),
        )
        .await
        .map_err(GateError::DependencyUnavailable)?;
        let (pipeline, stage) = context.stage("the stage's suites are looked up by pipeline and stage")?;
        let suites = self.store.suites(pipeline, stage).await.map_err(store_failed)?;
        if suites.is_empty() {
            return Err(GateError::InvalidInput(format!(
                "no validation suites are configured for {pipeline}/{stage}: add one with `handsoff suite put FILE --pipeline {pipeline} --stage {stage}` (a stage with nothing to validate does not pass)"
            )));
        }
        let mut failures = Vec::new();
        let mut tests = 0;
        for stored in &suites {
            let summary = self.run_one(&stored.suite, &vars, deadlines.work_by).await?;
            self.record_run(pipeline, stage, context.execution_id.as_deref(), &summary, deadlines)
                .await?;
            tests += summary.results.len();
            failures.extend(summary.failure_lines());
        }
        if failures.is_empty() {
            return Ok(JobAnswer::Succeed {
                summary: format!("{} suites passed ({tests} tests)", suites.len()),
                output_variables: BTreeMap::from([("validation".to_string(), "passed".to_string())]),
            });
        }
        let mut message = format!("validation failed: {}", failures.join(" | "));
        if message.len() > JOB_MESSAGE_LIMIT {
            let mut end = JOB_MESSAGE_LIMIT;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str("… (all results are in the table, under RUN#pipeline#stage)");
        }
        Ok(JobAnswer::Fail {
            kind: JobFailureKind::JobFailed,
            message,
        })
    }
}

impl<H: HttpSender, L: FunctionInvoker, S: SuiteStore, J: PipelineJobs> super::EventHandler
    for ValidationHandler<H, L, S, J>
{
    fn answer_margin(&self) -> Duration {
        ANSWER_MARGIN
    }

    async fn handle_event(&self, event: Value, deadlines: Deadlines) -> Result<Value, GateError> {
        self.handle(event, deadlines).await
    }
}

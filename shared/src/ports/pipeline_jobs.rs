//! CodePipeline job results: how a Lambda invoke action tells the pipeline what happened.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};

use super::{PortError, PortErrorKind};
use crate::aws::OnFirstUse;
use crate::context::InvocationContext;

/// CodePipeline's limits on what an answer may carry.
pub const MAX_FAILURE_MESSAGE: usize = 5_000;
pub const MAX_SUMMARY: usize = 2_048;
pub const MAX_CONTINUATION_TOKEN: usize = 2_048;

/// What a job is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobAnswer {
    /// Done: the action succeeds and publishes its output variables.
    Succeed {
        summary: String,
        output_variables: BTreeMap<String, String>,
    },
    /// Still working: CodePipeline calls again with this token. Output variables are not
    /// allowed here.
    Continue {
        summary: String,
        continuation_token: String,
        percent_complete: Option<i32>,
    },
    /// The action fails with this message.
    Fail { kind: JobFailureKind, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFailureKind {
    /// The gate said no.
    JobFailed,
    /// The action's configuration (its policy) is wrong.
    ConfigurationError,
    /// The function lacks a permission.
    PermissionError,
    /// An outside system was unavailable.
    SystemUnavailable,
}

pub trait PipelineJobs: Send + Sync {
    fn answer(&self, job_id: &str, answer: &JobAnswer) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The pipeline, stage, action and execution a job belongs to (the Lambda event does not
    /// say; `GetJobDetails` does).
    fn job_context(&self, job_id: &str) -> impl Future<Output = Result<InvocationContext, PortError>> + Send;
}

/// The real adapter, on aws-sdk-codepipeline.
#[derive(Debug, Clone)]
pub struct CodePipelineJobs {
    client: OnFirstUse<Client>,
}

impl CodePipelineJobs {
    /// Functions pass `on_first_use(&config, Client::new)`: only job events need this client.
    pub fn new(client: impl Into<OnFirstUse<Client>>) -> Self {
        CodePipelineJobs { client: client.into() }
    }
}

/// Cuts text to at most `max` bytes on a character boundary, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

impl PipelineJobs for CodePipelineJobs {
    async fn job_context(&self, job_id: &str) -> Result<InvocationContext, PortError> {
        let call = "codepipeline:GetJobDetails";
        let output = self
            .client
            .get()
            .get_job_details()
            .job_id(job_id)
            .send()
            .await
            .map_err(|error| PortError::from_sdk(call, &error))?;
        let context = output
            .job_details()
            .and_then(|details| details.data())
            .and_then(|data| data.pipeline_context());
        let Some(context) = context else {
            return Err(PortError {
                call: call.to_string(),
                kind: PortErrorKind::Unavailable,
                message: "the job has no pipeline context".to_string(),
            });
        };
        Ok(InvocationContext {
            pipeline: context.pipeline_name().map(str::to_string),
            stage: context.stage().and_then(|stage| stage.name()).map(str::to_string),
            execution_id: context.pipeline_execution_id().map(str::to_string),
            action: context.action().and_then(|action| action.name()).map(str::to_string),
            reason: None,
            waiting_since: None,
        })
    }

    async fn answer(&self, job_id: &str, answer: &JobAnswer) -> Result<(), PortError> {
        match answer {
            JobAnswer::Succeed {
                summary,
                output_variables,
            } => {
                let details = ExecutionDetails::builder().summary(clip(summary, MAX_SUMMARY)).build();
                self.client
                    .get()
                    .put_job_success_result()
                    .job_id(job_id)
                    .execution_details(details)
                    .set_output_variables(Some(output_variables.clone().into_iter().collect()))
                    .send()
                    .await
                    .map_err(|error| PortError::from_sdk("codepipeline:PutJobSuccessResult", &error))?;
            }
            JobAnswer::Continue {
                summary,
                continuation_token,
                percent_complete,
            } => {
                let details = ExecutionDetails::builder()
                    .summary(clip(summary, MAX_SUMMARY))
                    .set_percent_complete(*percent_complete)
                    .build();
                self.client
                    .get()
                    .put_job_success_result()
                    .job_id(job_id)
                    .continuation_token(continuation_token)
                    .execution_details(details)
                    .send()
                    .await
                    .map_err(|error| PortError::from_sdk("codepipeline:PutJobSuccessResult", &error))?;
            }
            JobAnswer::Fail { kind, message } => {
                let failure_type = match kind {
                    JobFailureKind::JobFailed => FailureType::JobFailed,
                    JobFailureKind::ConfigurationError => FailureType::ConfigurationError,
                    JobFailureKind::PermissionError => FailureType::PermissionError,
                    JobFailureKind::SystemUnavailable => FailureType::SystemUnavailable,
                };
                let details = FailureDetails::builder()
                    .r#type(failure_type)
                    .message(clip(message, MAX_FAILURE_MESSAGE))
                    .build()
                    .map_err(|error| PortError {
                        call: "codepipeline:PutJobFailureResult".to_string(),
                        kind: PortErrorKind::Rejected,
                        message: error.to_string(),
                    })?;
                self.client
                    .get()
                    .put_job_failure_result()
                    .job_id(job_id)
                    .failure_details(details)
                    .send()
                    .await
                    .map_err(|error| PortError::from_sdk("codepipeline:PutJobFailureResult", &error))?;
            }
        }
        Ok(())
    }
}

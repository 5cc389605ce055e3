//! Undoing a deployment: the Lambda alias, CodeDeploy, the pipeline itself.

use std::future::Future;

use aws_sdk_lambda::types::AliasRoutingConfiguration;

use super::{PortError, PortErrorKind};
use crate::aws::OnFirstUse;

pub trait DeploymentControl: Send + Sync {
    /// Points the alias at its primary version (or at `to_version`, when given) and clears its
    /// routing weights; says what it did.
    fn roll_back_alias(
        &self,
        function_name: &str,
        alias: &str,
        to_version: Option<&str>,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    /// Stops the group's running deployments with automatic rollback.
    fn stop_codedeploy(
        &self,
        application: &str,
        deployment_group: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    /// Rolls the stage back to the last successful execution other than `execution_id`.
    fn roll_back_stage(
        &self,
        pipeline: &str,
        stage: &str,
        execution_id: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    fn stop_execution(
        &self,
        pipeline: &str,
        execution_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}

#[derive(Debug, Clone)]
pub struct AwsDeploymentControl {
    lambda: OnFirstUse<aws_sdk_lambda::Client>,
    codedeploy: OnFirstUse<aws_sdk_codedeploy::Client>,
    codepipeline: OnFirstUse<aws_sdk_codepipeline::Client>,
}

impl AwsDeploymentControl {
    /// Each rollback action needs one of these: the function builds them on first use.
    pub fn new(
        lambda: impl Into<OnFirstUse<aws_sdk_lambda::Client>>,
        codedeploy: impl Into<OnFirstUse<aws_sdk_codedeploy::Client>>,
        codepipeline: impl Into<OnFirstUse<aws_sdk_codepipeline::Client>>,
    ) -> Self {
        AwsDeploymentControl {
            lambda: lambda.into(),
            codedeploy: codedeploy.into(),
            codepipeline: codepipeline.into(),
        }
    }
}

impl AwsDeploymentControl {
    /// Points the alias at `version` alone (no routing weights).
    async fn wholly_on(&self, function_name: &str, alias: &str, version: &str) -> Result<(), PortError> {
        self.lambda
            .get()
            .update_alias()
            .function_name(function_name)
            .name(alias)
            .function_version(version)
            .routing_config(
                AliasRoutingConfiguration::builder()
                    .set_additional_version_weights(Some(Default::default()))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|error| PortError::from_sdk("lambda:UpdateAlias", &error))
    }

    /// The alias wholly on `to_version` (already there: nothing to do, and said so).
    async fn point_alias_at(
        &self,
        function_name: &str,
        alias: &str,
        to_version: &str,
        primary: &str,
        weights: &std::collections::HashMap<String, f64>,
    ) -> Result<String, PortError> {
        if primary == to_version && weights.is_empty() {
            return Ok(format!(
                "alias {alias} of {function_name} already serves version {to_version} only"
            ));
        }
        self.wholly_on(function_name, alias, to_version).await?;
        let mut was: Vec<String> = std::iter::once(primary.to_string())
            .chain(weights.keys().cloned())
            .collect();
        was.dedup();
        Ok(format!(
            "alias {alias} of {function_name} is back on version {to_version} only (it served {})",
            was.join(", ")
        ))
    }
}

impl DeploymentControl for AwsDeploymentControl {
    async fn roll_back_alias(
        &self,
        function_name: &str,
        alias: &str,
        to_version: Option<&str>,
    ) -> Result<String, PortError> {
        let current = super::lambda_alias::get_alias(self.lambda.get(), function_name, alias).await?;
        let primary = super::lambda_alias::primary_version(&current, function_name, alias)?;
        let weights = current
            .routing_config()
            .and_then(|routing| routing.additional_version_weights())
            .cloned()
            .unwrap_or_default();
        if let Some(to_version) = to_version {
            return self
                .point_alias_at(function_name, alias, to_version, &primary, &weights)
                .await;
        }
        if weights.is_empty() {
            return Err(PortError {
                call: "lambda:UpdateAlias".to_string(),
                kind: PortErrorKind::Rejected,
                message: format!(
                    "alias {alias} of {function_name} routes everything to version {primary}: no weighted new version to take away and no previous version recorded; point it back by hand"
                ),
            });
        }
        let new_versions: Vec<String> = weights.keys().cloned().collect();
        self.wholly_on(function_name, alias, &primary).await?;
        Ok(format!(
            "alias {alias} of {function_name} is back on version {primary} only (took away {})",
            new_versions.join(", ")
        ))
    }

    async fn stop_codedeploy(&self, application: &str, deployment_group: &str) -> Result<String, PortError> {
        use aws_sdk_codedeploy::types::DeploymentStatus;
        let ids: Vec<String> = self
            .codedeploy
            .get()
            .list_deployments()
            .application_name(application)
            .deployment_group_name(deployment_group)
            .include_only_statuses(DeploymentStatus::InProgress)
            .include_only_statuses(DeploymentStatus::Queued)
            .include_only_statuses(DeploymentStatus::Ready)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|error| PortError::from_sdk("codedeploy:ListDeployments", &error))?;
        // Nothing running is nothing undone: a finished deployment is not rolled back by
        // stopping it, so this is no rollback to report.
        if ids.is_empty() {
            return Err(PortError {
                call: "codedeploy:StopDeployment".to_string(),
                kind: PortErrorKind::Rejected,
                message: format!(
                    "no running deployment in {application}/{deployment_group} to stop, so nothing was rolled back; if the deployment finished, redeploy the previous revision"
                ),
            });
        }
        for id in &ids {
            self.codedeploy
                .get()
                .stop_deployment()
                .deployment_id(id)
                .auto_rollback_enabled(true)
                .send()
                .await
                .map_err(|error| PortError::from_sdk("codedeploy:StopDeployment", &error))?;
        }
        Ok(format!("stopped {} with automatic rollback", ids.join(", ")))
    }

    async fn roll_back_stage(&self, pipeline: &str, stage: &str, execution_id: &str) -> Result<String, PortError> {
        use aws_sdk_codepipeline::types::PipelineExecutionStatus;
        let executions = self
            .codepipeline
            .get()
            .list_pipeline_executions()
            .pipeline_name(pipeline)
            .send()
            .await
            .map_err(|error| PortError::from_sdk("codepipeline:ListPipelineExecutions", &error))?;
        let target = executions
            .pipeline_execution_summaries()
            .iter()
            .find(|summary| {
                summary.status() == Some(&PipelineExecutionStatus::Succeeded)
                    && summary.pipeline_execution_id() != Some(execution_id)
            })
            .and_then(|summary| summary.pipeline_execution_id())
            .map(str::to_string)
            .ok_or_else(|| PortError {
                call: "codepipeline:RollbackStage".to_string(),
                kind: PortErrorKind::Rejected,
                message: format!("{pipeline} has no earlier successful execution to roll stage {stage} back to"),
            })?;
        self.codepipeline
            .get()
            .rollback_stage()
            .pipeline_name(pipeline)
            .stage_name(stage)
            .target_pipeline_execution_id(&target)
            .send()
            .await
            .map_err(|error| PortError::from_sdk("codepipeline:RollbackStage", &error))?;
        Ok(format!(
            "stage {stage} of {pipeline} rolling back to execution {target}"
        ))
    }

    async fn stop_execution(&self, pipeline: &str, execution_id: &str, reason: &str) -> Result<String, PortError> {
        self.codepipeline
            .get()
            .stop_pipeline_execution()
            .pipeline_name(pipeline)
            .pipeline_execution_id(execution_id)
            .abandon(false)
            .reason(crate::ports::pipeline_jobs::clip(reason, 200))
            .send()
            .await
            .map_err(|error| PortError::from_sdk("codepipeline:StopPipelineExecution", &error))?;
        Ok(format!("execution {execution_id} of {pipeline} is stopping"))
    }
}

//! The CodeDeploy and CodePipeline rollback actions on real SDK clients answered by
//! aws-smithy-mocks (moto has no CodeDeploy deployments or pipeline executions to stop).

use std::sync::{Arc, Mutex};

use aws_sdk_codedeploy::operation::list_deployments::ListDeploymentsOutput;
use aws_sdk_codedeploy::operation::stop_deployment::{StopDeploymentInput, StopDeploymentOutput};
use aws_sdk_codedeploy::types::DeploymentStatus;
use aws_sdk_codepipeline::operation::list_pipeline_executions::ListPipelineExecutionsOutput;
use aws_sdk_codepipeline::operation::rollback_stage::{RollbackStageInput, RollbackStageOutput};
use aws_sdk_codepipeline::operation::stop_pipeline_execution::StopPipelineExecutionOutput;
use aws_sdk_codepipeline::types::{PipelineExecutionStatus, PipelineExecutionSummary};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use handsoff::ports::deployments::{AwsDeploymentControl, DeploymentControl};

fn lambda() -> aws_sdk_lambda::Client {
    let none = mock!(aws_sdk_lambda::Client::get_alias)
        .then_output(|| aws_sdk_lambda::operation::get_alias::GetAliasOutput::builder().build());
    mock_client!(aws_sdk_lambda, [&none])
}

#[tokio::test]
async fn codedeploy_stops_every_running_deployment_with_auto_rollback() {
    let listed = mock!(aws_sdk_codedeploy::Client::list_deployments)
        .match_requests(|request| {
            request.application_name() == Some("orders")
                && request.deployment_group_name() == Some("prod")
                && request.include_only_statuses().contains(&DeploymentStatus::InProgress)
        })
        .then_output(|| {
            ListDeploymentsOutput::builder()
                .deployments("d-111")
                .deployments("d-222")
                .build()
        });
    let stops: Arc<Mutex<Vec<StopDeploymentInput>>> = Arc::default();
    let seen = Arc::clone(&stops);
    let stop = mock!(aws_sdk_codedeploy::Client::stop_deployment)
        .match_requests(move |request| {
            seen.lock().unwrap().push(request.clone());
            true
        })
        .then_output(|| StopDeploymentOutput::builder().build());
    let codedeploy = mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, [&listed, &stop]);
    let never = mock!(aws_sdk_codepipeline::Client::stop_pipeline_execution)
        .then_output(|| StopPipelineExecutionOutput::builder().build());
    let control = AwsDeploymentControl::new(lambda(), codedeploy, mock_client!(aws_sdk_codepipeline, [&never]));
    let detail = control.stop_codedeploy("orders", "prod").await.unwrap();
    assert_eq!(detail, "stopped d-111, d-222 with automatic rollback");
    let stops = stops.lock().unwrap();
    assert_eq!(stops.len(), 2);
    assert!(
        stops
            .iter()
            .all(|request| request.auto_rollback_enabled() == Some(true))
    );
}

fn summary(id: &str, status: PipelineExecutionStatus) -> PipelineExecutionSummary {
    PipelineExecutionSummary::builder()
        .pipeline_execution_id(id)
        .status(status)
        .build()
}

#[tokio::test]
async fn a_stage_rolls_back_to_the_last_successful_execution() {
    let listed = mock!(aws_sdk_codepipeline::Client::list_pipeline_executions).then_output(|| {
        ListPipelineExecutionsOutput::builder()
            .pipeline_execution_summaries(summary("exec-9", PipelineExecutionStatus::InProgress))
            .pipeline_execution_summaries(summary("exec-8", PipelineExecutionStatus::Failed))
            .pipeline_execution_summaries(summary("exec-7", PipelineExecutionStatus::Succeeded))
            .pipeline_execution_summaries(summary("exec-6", PipelineExecutionStatus::Succeeded))
            .build()
    });
    let rollbacks: Arc<Mutex<Vec<RollbackStageInput>>> = Arc::default();
    let seen = Arc::clone(&rollbacks);
    let rollback = mock!(aws_sdk_codepipeline::Client::rollback_stage)
        .match_requests(move |request| {
            seen.lock().unwrap().push(request.clone());
            true
        })
        .then_output(|| {
            RollbackStageOutput::builder()
                .pipeline_execution_id("exec-10")
                .build()
                .unwrap()
        });
    let codepipeline = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&listed, &rollback]);
    let idle =
        mock!(aws_sdk_codedeploy::Client::list_deployments).then_output(|| ListDeploymentsOutput::builder().build());
    let control = AwsDeploymentControl::new(lambda(), mock_client!(aws_sdk_codedeploy, [&idle]), codepipeline);
    let detail = control.roll_back_stage("orders", "Prod", "exec-9").await.unwrap();
    assert_eq!(detail, "stage Prod of orders rolling back to execution exec-7");
    let sent = rollbacks.lock().unwrap()[0].clone();
    assert_eq!(
        (
            sent.pipeline_name(),
            sent.stage_name(),
            sent.target_pipeline_execution_id()
        ),
        (Some("orders"), Some("Prod"), Some("exec-7"))
    );
}

#[tokio::test]
async fn without_an_earlier_success_the_stage_rollback_fails_saying_so() {
    let listed = mock!(aws_sdk_codepipeline::Client::list_pipeline_executions).then_output(|| {
        ListPipelineExecutionsOutput::builder()
            .pipeline_execution_summaries(summary("exec-1", PipelineExecutionStatus::InProgress))
            .build()
    });
    let idle =
        mock!(aws_sdk_codedeploy::Client::list_deployments).then_output(|| ListDeploymentsOutput::builder().build());
    let control = AwsDeploymentControl::new(
        lambda(),
        mock_client!(aws_sdk_codedeploy, [&idle]),
        mock_client!(aws_sdk_codepipeline, [&listed]),
    );
    let error = control.roll_back_stage("orders", "Prod", "exec-1").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "codepipeline:RollbackStage failed: orders has no earlier successful execution to roll stage Prod back to"
    );
}

/// Before, a group with no running deployment reported "no running deployment" as a step that
/// succeeded, so the trigger said "rolled back" with nothing undone.
#[tokio::test]
async fn a_codedeploy_group_with_nothing_running_is_not_a_rollback() {
    let idle =
        mock!(aws_sdk_codedeploy::Client::list_deployments).then_output(|| ListDeploymentsOutput::builder().build());
    let never = mock!(aws_sdk_codepipeline::Client::stop_pipeline_execution)
        .then_output(|| StopPipelineExecutionOutput::builder().build());
    let control = AwsDeploymentControl::new(
        lambda(),
        mock_client!(aws_sdk_codedeploy, [&idle]),
        mock_client!(aws_sdk_codepipeline, [&never]),
    );
    let error = control.stop_codedeploy("orders", "prod").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no running deployment in orders/prod to stop, so nothing was rolled back"),
        "{error}"
    );
}

/// An alias read back without its version is unreadable: never an empty version to move to.
#[tokio::test]
async fn an_alias_without_its_version_is_not_rolled_back_to_nothing() {
    let versionless = mock!(aws_sdk_lambda::Client::get_alias).then_output(|| {
        aws_sdk_lambda::operation::get_alias::GetAliasOutput::builder()
            .routing_config(
                aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
                    .additional_version_weights("8", 0.1)
                    .build(),
            )
            .build()
    });
    let update = mock!(aws_sdk_lambda::Client::update_alias)
        .then_output(|| aws_sdk_lambda::operation::update_alias::UpdateAliasOutput::builder().build());
    let never = mock!(aws_sdk_codepipeline::Client::stop_pipeline_execution)
        .then_output(|| StopPipelineExecutionOutput::builder().build());
    let idle =
        mock!(aws_sdk_codedeploy::Client::list_deployments).then_output(|| ListDeploymentsOutput::builder().build());
    let control = AwsDeploymentControl::new(
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&versionless, &update]),
        mock_client!(aws_sdk_codedeploy, [&idle]),
        mock_client!(aws_sdk_codepipeline, [&never]),
    );
    let error = control.roll_back_alias("orders-api", "live", None).await.unwrap_err();
    assert!(error.to_string().contains("without its FunctionVersion"), "{error}");
    // Nor when told where to go: a version read back as nothing is not "already there".
    let error = control
        .roll_back_alias("orders-api", "live", Some("7"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("without its FunctionVersion"), "{error}");
    assert_eq!(update.num_calls(), 0);
}

fn alias(version: &str, weights: &[(&str, f64)]) -> aws_sdk_lambda::operation::get_alias::GetAliasOutput {
    let mut routing = aws_sdk_lambda::types::AliasRoutingConfiguration::builder();
    for (other, weight) in weights {
        routing = routing.additional_version_weights(*other, *weight);
    }
    aws_sdk_lambda::operation::get_alias::GetAliasOutput::builder()
        .function_version(version)
        .routing_config(routing.build())
        .build()
}

fn control_over(lambda: aws_sdk_lambda::Client) -> AwsDeploymentControl {
    let never = mock!(aws_sdk_codepipeline::Client::stop_pipeline_execution)
        .then_output(|| StopPipelineExecutionOutput::builder().build());
    let idle =
        mock!(aws_sdk_codedeploy::Client::list_deployments).then_output(|| ListDeploymentsOutput::builder().build());
    AwsDeploymentControl::new(
        lambda,
        mock_client!(aws_sdk_codedeploy, [&idle]),
        mock_client!(aws_sdk_codepipeline, [&never]),
    )
}

#[tokio::test]
async fn a_promoted_alias_goes_back_to_the_version_it_served_before() {
    let promoted = mock!(aws_sdk_lambda::Client::get_alias).then_output(|| alias("8", &[]));
    let update = mock!(aws_sdk_lambda::Client::update_alias)
        .match_requests(|request| {
            request.function_version() == Some("7")
                && request
                    .routing_config()
                    .and_then(|routing| routing.additional_version_weights())
                    .is_some_and(|weights| weights.is_empty())
        })
        .then_output(|| aws_sdk_lambda::operation::update_alias::UpdateAliasOutput::builder().build());
    let control = control_over(mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&promoted, &update]));
    let detail = control.roll_back_alias("orders-api", "live", Some("7")).await.unwrap();
    assert!(detail.contains("back on version 7 only (it served 8)"), "{detail}");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn an_alias_already_on_the_version_to_go_back_to_is_left_alone_and_said_so() {
    let back = mock!(aws_sdk_lambda::Client::get_alias).then_output(|| alias("7", &[]));
    let update = mock!(aws_sdk_lambda::Client::update_alias)
        .then_output(|| aws_sdk_lambda::operation::update_alias::UpdateAliasOutput::builder().build());
    let control = control_over(mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&back, &update]));
    let detail = control.roll_back_alias("orders-api", "live", Some("7")).await.unwrap();
    assert!(detail.contains("already serves version 7 only"), "{detail}");
    assert_eq!(update.num_calls(), 0);
}

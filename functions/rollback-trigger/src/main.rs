//! rollback-trigger: undoes a deployment exactly once (alias, CodeDeploy, pipeline), then
//! blocks the stage until a person clears it.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::rollback_trigger::RollbackTrigger;
use handsoff::ports::deployments::AwsDeploymentControl;
use handsoff::ports::events::EventBridgeSink;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::ports::store::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    let table = handsoff::aws::table_from_env()?;
    // Clients every invocation needs are built at start, the others on first use.
    let config = handsoff::aws::load_config().await;
    // One CodePipeline client serves the rollback actions and the job answers.
    let codepipeline = on_first_use(&config, aws_sdk_codepipeline::Client::new);
    let control = AwsDeploymentControl::new(
        on_first_use(&config, aws_sdk_lambda::Client::new),
        on_first_use(&config, aws_sdk_codedeploy::Client::new),
        codepipeline.clone(),
    );
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    handsoff::invoke::run(
        RollbackTrigger::new(control, store.clone()),
        CodePipelineJobs::new(codepipeline),
        EventBridgeSink::from_env(&config),
        store,
    )
    .await
}

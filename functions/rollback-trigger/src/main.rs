//! rollback-trigger: undoes a deployment exactly once (alias, CodeDeploy, pipeline), then
//! blocks the stage until a person clears it.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::rollback_trigger::RollbackTrigger;
use handsoff::invoke::Startup;
use handsoff::ports::deployments::AwsDeploymentControl;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let start = Startup::from_env().await?;
    // One CodePipeline client serves the rollback actions and the job answers.
    let control = AwsDeploymentControl::new(
        on_first_use(&start.config, aws_sdk_lambda::Client::new),
        on_first_use(&start.config, aws_sdk_codedeploy::Client::new),
        start.codepipeline.clone(),
    );
    let gate = RollbackTrigger::new(control, start.store.clone());
    start.run_gate(gate).await
}

//! canary-evaluator: not built yet. Until it is, it fails closed: every call blocks (Step Functions) or fails
//! the CodePipeline job with a message that says so.

use handsoff::gates::NotImplementedGate;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    let config = handsoff::aws::load_config().await;
    let jobs = CodePipelineJobs::new(aws_sdk_codepipeline::Client::new(&config));
    handsoff::invoke::run(NotImplementedGate("canary-evaluator"), jobs).await
}

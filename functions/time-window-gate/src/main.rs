//! time-window-gate: lets a deployment start only inside the policy's time windows; otherwise it
//! waits for the next opening (or blocks, as the policy says).
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::gates::time_window::TimeWindowGate;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    // Clients are built once per cold start, not per invocation.
    let config = handsoff::aws::load_config().await;
    let jobs = CodePipelineJobs::new(aws_sdk_codepipeline::Client::new(&config));
    handsoff::invoke::run(TimeWindowGate, jobs).await
}

//! time-window-gate: lets a deployment start only inside the policy's time windows; otherwise it
//! waits for the next opening (or blocks, as the policy says).
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::time_window::TimeWindowGate;
use handsoff::ports::events::EventBridgeSink;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    // Clients every invocation needs are built at start, the others on first use.
    let config = handsoff::aws::load_config().await;
    let jobs = CodePipelineJobs::new(on_first_use(&config, aws_sdk_codepipeline::Client::new));
    handsoff::invoke::run(TimeWindowGate, jobs, EventBridgeSink::from_env(&config)).await
}

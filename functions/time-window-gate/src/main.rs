//! time-window-gate: lets a deployment start only inside the policy's time windows; otherwise it
//! waits for the next opening (or blocks, as the policy says). A change freeze or a closed SSM
//! Change Calendar closes it too.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::time_window::TimeWindowGate;
use handsoff::ports::calendars::SsmCalendars;
use handsoff::ports::events::EventBridgeSink;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::ports::store::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    let table = handsoff::aws::table_from_env()?;
    // Clients every invocation needs are built at start, the others on first use.
    let config = handsoff::aws::load_config().await;
    // Freezes and stored policies: the state table; Change Calendars: SSM, when a policy names one.
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let calendars = SsmCalendars::new(on_first_use(&config, aws_sdk_ssm::Client::new));
    let jobs = CodePipelineJobs::new(on_first_use(&config, aws_sdk_codepipeline::Client::new));
    handsoff::invoke::run(
        TimeWindowGate::new(store.clone(), calendars),
        jobs,
        EventBridgeSink::from_env(&config),
        store,
    )
    .await
}

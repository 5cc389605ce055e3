//! alarm-blocker: no deployment starts into a stage while a watched alarm fires (or the stage is
//! blocked after a rollback), unless a live override covers every firing alarm.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::alarm_blocker::AlarmBlocker;
use handsoff::ports::alarms::CloudWatchAlarms;
use handsoff::ports::events::EventBridgeSink;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::ports::store::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    let table = handsoff::aws::table_from_env()?;
    // Clients every invocation needs are built at start, the others on first use.
    let config = handsoff::aws::load_config().await;
    let alarms = CloudWatchAlarms::new(&config);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let jobs = CodePipelineJobs::new(on_first_use(&config, aws_sdk_codepipeline::Client::new));
    handsoff::invoke::run(
        AlarmBlocker::new(alarms, store.clone()),
        jobs,
        EventBridgeSink::from_env(&config),
        store,
    )
    .await
}

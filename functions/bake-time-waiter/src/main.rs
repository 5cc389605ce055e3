//! bake-time-waiter: waits out the bake time and the traffic floors after a stage deploys, and
//! calls for a rollback if a watched alarm fired meanwhile or the one-box's error rate is shown
//! higher than the fleet's.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::bake_time_waiter::BakeTimeWaiter;
use handsoff::ports::alarms::CloudWatchAlarms;
use handsoff::ports::events::EventBridgeSink;
use handsoff::ports::lambda_alias::LambdaAliases;
use handsoff::ports::metrics::CloudWatchMetrics;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::ports::store::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    let table = handsoff::aws::table_from_env()?;
    // Clients every invocation needs are built at start, the others on first use.
    let config = handsoff::aws::load_config().await;
    let alarms = CloudWatchAlarms::new(&config);
    let metrics = CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&config));
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    // Only a Lambda one-box judged during the bake reads its alias.
    let aliases = LambdaAliases::new(on_first_use(&config, aws_sdk_lambda::Client::new));
    let jobs = CodePipelineJobs::new(on_first_use(&config, aws_sdk_codepipeline::Client::new));
    handsoff::invoke::run(
        BakeTimeWaiter::new(alarms, metrics, store.clone(), aliases),
        jobs,
        EventBridgeSink::from_env(&config),
        store,
    )
    .await
}

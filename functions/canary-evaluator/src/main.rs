//! canary-evaluator: judges the one-box against the fleet from CloudWatch metrics: pass,
//! fail (roll back), or inconclusive (look again a period later).
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::canary_evaluator::CanaryEvaluator;
use handsoff::ports::events::EventBridgeSink;
use handsoff::ports::lambda_alias::LambdaAliases;
use handsoff::ports::metrics::CloudWatchMetrics;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::ports::store::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    // Clients every invocation needs are built at start, the others on first use.
    let config = handsoff::aws::load_config().await;
    let metrics = CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&config));
    let aliases = LambdaAliases::new(on_first_use(&config, aws_sdk_lambda::Client::new));
    let jobs = CodePipelineJobs::new(on_first_use(&config, aws_sdk_codepipeline::Client::new));
    // Its verdicts go to the stage's audit trail (status and the dashboard show them).
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), handsoff::aws::table_from_env()?);
    handsoff::invoke::run(
        CanaryEvaluator::new(metrics, aliases).recording_to(store.clone()),
        jobs,
        EventBridgeSink::from_env(&config),
        store,
    )
    .await
}

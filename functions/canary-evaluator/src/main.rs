//! canary-evaluator: judges the one-box against the fleet from CloudWatch metrics: pass,
//! fail (roll back), or inconclusive (look again a period later).
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::canary_evaluator::CanaryEvaluator;
use handsoff::invoke::Startup;
use handsoff::ports::lambda_alias::LambdaAliases;
use handsoff::ports::metrics::CloudWatchMetrics;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let start = Startup::from_env().await?;
    let metrics = CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&start.config));
    let aliases = LambdaAliases::new(on_first_use(&start.config, aws_sdk_lambda::Client::new));
    // Its verdicts go to the stage's audit trail (status and the dashboard show them).
    let gate = CanaryEvaluator::new(metrics, aliases).recording_to(start.store.clone());
    start.run_gate(gate).await
}

//! bake-time-waiter: waits out the bake time and the traffic floors after a stage deploys, and
//! calls for a rollback if a watched alarm fired meanwhile or the one-box's error rate is shown
//! higher than the fleet's.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::bake_time_waiter::BakeTimeWaiter;
use handsoff::invoke::Startup;
use handsoff::ports::alarms::CloudWatchAlarms;
use handsoff::ports::lambda_alias::LambdaAliases;
use handsoff::ports::metrics::CloudWatchMetrics;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let start = Startup::from_env().await?;
    let alarms = CloudWatchAlarms::new(&start.config);
    let metrics = CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&start.config));
    // Only a Lambda one-box judged during the bake reads its alias.
    let aliases = LambdaAliases::new(on_first_use(&start.config, aws_sdk_lambda::Client::new));
    let gate = BakeTimeWaiter::new(alarms, metrics, start.store.clone(), aliases);
    start.run_gate(gate).await
}

//! validation-test-runner: runs a stage's validation suites after it deploys — one suite per
//! call from the post-stage-validation state machine, or every current suite of the stage
//! from a CodePipeline Lambda action — stores each run, and stops before its deadline.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::invoke::Startup;
use handsoff::invoke::validation::ValidationHandler;
use handsoff::ports::http_client::SdkHttpSender;
use handsoff::ports::lambda_invoke::LambdaInvoker;
use handsoff::suite::Runner;
use handsoff::suite::egress::Egress;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let start = Startup::from_env().await?;
    // Bad egress settings stop the function at start rather than run suites unguarded.
    let egress = Egress::from_env(start.config.region().map(|region| region.as_ref()))?;
    let runner = Runner::new(
        SdkHttpSender::new(&start.config, egress),
        LambdaInvoker::new(on_first_use(&start.config, aws_sdk_lambda::Client::new)),
    );
    let jobs = start.jobs();
    handsoff::invoke::serve(ValidationHandler::new(runner, start.store, jobs)).await
}

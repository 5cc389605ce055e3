//! validation-test-runner: runs a stage's validation suites after it deploys — one suite per
//! call from the post-stage-validation state machine, or every current suite of the stage
//! from a CodePipeline Lambda action — stores each run, and stops before its deadline.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;

use handsoff::invoke::validation::ValidationHandler;
use handsoff::ports::http_client::SdkHttpSender;
use handsoff::ports::lambda_invoke::LambdaInvoker;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::ports::store::DynamoStore;
use handsoff::suite::Runner;
use handsoff::suite::egress::Egress;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handsoff::telemetry::init_logging();
    let table = handsoff::aws::table_from_env()?;
    // Clients every invocation needs are built at start, the others on first use.
    let config = handsoff::aws::load_config().await;
    // Bad egress settings stop the function at start rather than run suites unguarded.
    let egress = Egress::from_env(config.region().map(|region| region.as_ref()))?;
    let runner = Runner::new(
        SdkHttpSender::new(&config, egress),
        LambdaInvoker::new(on_first_use(&config, aws_sdk_lambda::Client::new)),
    );
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let jobs = CodePipelineJobs::new(on_first_use(&config, aws_sdk_codepipeline::Client::new));
    handsoff::invoke::serve(ValidationHandler::new(runner, store, jobs)).await
}

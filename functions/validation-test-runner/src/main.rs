//! validation-test-runner: runs a stage's validation suites after it deploys — one suite per
//! call from the post-stage-validation state machine, or every current suite of the stage
//! from a CodePipeline Lambda action — stores each run, and stops before its deadline.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use std::sync::Arc;

use handsoff::error::GateError;
use handsoff::invoke::validation::{ValidationHandler, deadlines_from};
use handsoff::json::Payload;
use handsoff::ports::http_client::SdkHttpSender;
use handsoff::ports::lambda_invoke::LambdaInvoker;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::ports::store::DynamoStore;
use handsoff::suite::Runner;
use handsoff::suite::egress::Egress;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

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
    let handler = Arc::new(ValidationHandler::new(runner, store, jobs));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload>| {
        let handler = Arc::clone(&handler);
        let context = event.context.clone();
        handsoff::telemetry::in_invocation(&context, async move {
            let deadlines = deadlines_from(event.context.deadline);
            let payload = event
                .payload
                .into_value()
                .map_err(|message| Diagnostic::from(GateError::InvalidInput(message.to_string())))?;
            handler.handle(payload, deadlines).await.map_err(Diagnostic::from)
        })
    }))
    .await
}

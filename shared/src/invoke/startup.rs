//! What every function builds at start, built one way: logging, the SDK configuration (its
//! timeouts and local endpoints), the state table, and CodePipeline for the job answers (on
//! first use: a Step Functions call never needs it).

use std::future::Future;

use aws_config::SdkConfig;

use super::run;
use crate::aws::{OnFirstUse, on_first_use};
use crate::gates::Gate;
use crate::ports::events::EventBridgeSink;
use crate::ports::pipeline_jobs::CodePipelineJobs;
use crate::ports::store::DynamoStore;

pub struct Startup {
    pub config: SdkConfig,
    pub store: DynamoStore,
    pub codepipeline: OnFirstUse<aws_sdk_codepipeline::Client>,
}

impl Startup {
    /// The adapters every function started here builds, by type name (the least-privilege test
    /// grants each function the calls of the adapters it builds: these, and those its `main.rs`
    /// names).
    pub const PORTS: [&'static str; 2] = ["DynamoStore", "CodePipelineJobs"];
    /// The adapters [`Startup::run_gate`] adds.
    pub const GATE_PORTS: [&'static str; 1] = ["EventBridgeSink"];

    /// Starts logging and reads the environment; a function deployed without its table stops
    /// here, at start, rather than at its first decision.
    pub async fn from_env() -> Result<Startup, lambda_runtime::Error> {
        crate::telemetry::init_logging();
        let table = crate::aws::table_from_env()?;
        let config = crate::aws::load_config().await;
        Ok(Startup {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table),
            codepipeline: on_first_use(&config, aws_sdk_codepipeline::Client::new),
            config,
        })
    }

    /// The CodePipeline job answers.
    pub fn jobs(&self) -> CodePipelineJobs {
        CodePipelineJobs::new(self.codepipeline.clone())
    }

    /// Runs `gate` on the Lambda runtime: answering CodePipeline jobs, announcing to EventBridge,
    /// reading stored policies from the table.
    pub fn run_gate<G: Gate + 'static>(self, gate: G) -> impl Future<Output = Result<(), lambda_runtime::Error>> {
        let events = EventBridgeSink::from_env(&self.config);
        run(gate, self.jobs(), events, self.store)
    }
}

//! AWS access for the CLI: the usual credential chain and region, `--endpoint-url` for a local
//! stack, and the state table from `--table` or `HANDSOFF_TABLE`.

use clap::Args;
use handsoff::aws::TABLE_ENV;
use handsoff::ports::store::DynamoStore;

#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Send every AWS call here (a local stack such as moto_server).
    #[arg(long, value_name = "URL", global = true)]
    pub endpoint_url: Option<String>,
    /// The AWS region [default: AWS_REGION, or the profile's].
    #[arg(long, value_name = "REGION", global = true)]
    pub region: Option<String>,
    /// A named profile of the shared AWS config and credentials files [default: AWS_PROFILE].
    #[arg(long, value_name = "NAME", global = true)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TableArgs {
    /// The handsoff DynamoDB table [default: $HANDSOFF_TABLE].
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

impl TableArgs {
    pub fn name(&self) -> Result<String, crate::error::CliError> {
        self.table
            .clone()
            .or_else(|| std::env::var(TABLE_ENV).ok())
            .filter(|table| !table.trim().is_empty())
            .ok_or_else(|| format!("--table: no table given; pass --table NAME or set {TABLE_ENV}").into())
    }
}

pub async fn config(args: &AwsArgs) -> aws_config::SdkConfig {
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(handsoff::aws::timeouts());
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &args.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    loader.load().await
}

pub async fn store(aws: &AwsArgs, table: &TableArgs) -> Result<DynamoStore, crate::error::CliError> {
    let table = table.name()?;
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config(aws).await),
        table,
    ))
}

/// Tells EventBridge about a change just made (the bus `HANDSOFF_EVENT_BUS` names, else
/// `default`). The change stands whatever EventBridge says: a failure is a warning on stderr.
pub async fn announce(aws: &AwsArgs, event: handsoff::events::HandsoffEvent) {
    use handsoff::ports::events::{EventBridgeSink, EventSink};
    let sink = EventBridgeSink::new(
        aws_sdk_eventbridge::Client::new(&config(aws).await),
        EventBridgeSink::bus_from_env(),
    );
    if let Err(error) = sink.publish(&[event]).await {
        eprintln!("warning: the change is made, but its event was not published: {error}");
    }
}

/// Who is acting: the caller's ARN, recorded with every change. No identity, no change.
pub async fn caller(aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let client = aws_sdk_sts::Client::new(&config(aws).await);
    let identity = client.get_caller_identity().send().await.map_err(|error| {
        handsoff::ports::PortError::from_sdk("sts:GetCallerIdentity", &error).to_string()
            + " (who you are is recorded with every change)"
    })?;
    identity
        .arn()
        .map(str::to_string)
        .ok_or_else(|| crate::error::CliError::from("sts:GetCallerIdentity returned no ARN"))
}

/// A stage, by its pipeline's and its own CodePipeline names: `--pipeline P --stage S`.
#[derive(Debug, Clone, Args)]
pub struct StageArgs {
    /// The pipeline, by its CodePipeline name.
    #[arg(long)]
    pub pipeline: String,
    /// The stage, by its CodePipeline name.
    #[arg(long)]
    pub stage: String,
}

impl StageArgs {
    /// Both names, once checked.
    pub fn checked(&self) -> Result<(&str, &str), crate::error::CliError> {
        check_name("--pipeline", &self.pipeline)?;
        check_name("--stage", &self.stage)?;
        Ok((&self.pipeline, &self.stage))
    }
}

/// CodePipeline names: letters, digits and `.@-_`, at most 100.
pub fn check_name(flag: &str, value: &str) -> Result<(), crate::error::CliError> {
    if handsoff::names::is_codepipeline_name(value) {
        Ok(())
    } else {
        Err(format!(
            "{flag}: `{value}` is not a CodePipeline name ({})",
            handsoff::names::ALLOWED
        )
        .into())
    }
}

//! AWS configuration, loaded once per cold start. `aws-config` reads `AWS_ENDPOINT_URL` (and
//! `AWS_ENDPOINT_URL_<SERVICE>`), so the same binaries talk to a local stack.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Every call is bounded: a gate must answer its job, never hang on a dependency.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build()
}

/// The configuration from the environment Lambda gives every function (region and the
/// execution role's credentials in environment variables), built directly: the general provider
/// chains (profile files, SSO, IMDS, ECS) cost a cold start and find nothing more there.
/// Elsewhere, the usual chain. `AWS_ENDPOINT_URL` is honoured either way.
pub async fn load_config() -> SdkConfig {
    match lambda_environment_config() {
        Some(config) => config,
        None => load_default_config().await,
    }
}

fn lambda_environment_config() -> Option<SdkConfig> {
    let region = std::env::var("AWS_REGION").ok().filter(|region| !region.is_empty())?;
    let has_keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|key| std::env::var(key).is_ok_and(|value| !value.is_empty()));
    if !has_keys {
        return None;
    }
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            credentials,
        ))
        .timeout_config(timeouts())
        .retry_config(aws_config::retry::RetryConfig::standard())
        .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
            aws_smithy_async::rt::sleep::TokioSleep::new(),
        ))
        .time_source(aws_smithy_async::time::SharedTimeSource::default())
        .http_client(crate::lazy_http::LazyHttpsClient::shared());
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL")
        && !url.is_empty()
    {
        config = config.endpoint_url(url);
    }
    Some(config.build())
}

async fn load_default_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .http_client(crate::lazy_http::LazyHttpsClient::shared())
        .load()
        .await
}

/// The environment variable naming the state table.
pub const TABLE_ENV: &str = "HANDSOFF_TABLE";

/// The state table's name from `HANDSOFF_TABLE`; a function that needs it does not start
/// without it.
pub fn table_from_env() -> Result<String, String> {
    std::env::var(TABLE_ENV)
        .ok()
        .filter(|table| !table.trim().is_empty())
        .ok_or_else(|| format!("{TABLE_ENV} is not set: set it to the name of the handsoff DynamoDB table"))
}

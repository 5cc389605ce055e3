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

pub async fn load_config() -> SdkConfig {
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

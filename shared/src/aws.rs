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

/// The SDK's standard configuration (environment, then profile files), with one saving: when
/// the region or the credentials are in environment variables — always, in Lambda — the
/// provider that reads them is used directly. The default chains would pick those same values
/// first, but building them (profile, web identity, ECS and IMDS providers, each with its own
/// client) costs every cold start ~0.7 M instructions (callgrind). Every other setting still loads as usual, including
/// `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`.
pub async fn load_config() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .http_client(crate::lazy_http::LazyHttpsClient::shared());
    let found = EnvShortcuts::from(|name| std::env::var(name).ok());
    if found.region {
        loader = loader.region(aws_config::environment::EnvironmentVariableRegionProvider::new());
    }
    if found.credentials {
        loader = loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

/// Which default chains would stop at their environment-variable provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvShortcuts {
    pub region: bool,
    pub credentials: bool,
}

impl EnvShortcuts {
    pub fn from(var: impl Fn(&str) -> Option<String>) -> EnvShortcuts {
        let set = |name: &str| var(name).is_some_and(|value| !value.trim().is_empty());
        EnvShortcuts {
            // The order and names the SDK's own environment providers read.
            region: set("AWS_REGION") || set("AWS_DEFAULT_REGION"),
            credentials: set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> EnvShortcuts {
        EnvShortcuts::from(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn lambdas_environment_takes_both_shortcuts() {
        let lambda = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ];
        assert_eq!(
            env(&lambda),
            EnvShortcuts {
                region: true,
                credentials: true
            }
        );
    }

    #[test]
    fn anything_missing_or_blank_leaves_that_chain_to_the_sdk() {
        assert_eq!(
            env(&[]),
            EnvShortcuts {
                region: false,
                credentials: false
            }
        );
        assert_eq!(
            env(&[
                ("AWS_DEFAULT_REGION", "us-east-2"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            ]),
            EnvShortcuts {
                region: true,
                credentials: false
            },
            "a key id without its secret is the chain's to judge"
        );
        assert_eq!(
            env(&[
                ("AWS_REGION", " "),
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "")
            ]),
            EnvShortcuts {
                region: false,
                credentials: false
            }
        );
    }
}

//! AWS configuration, loaded once per cold start. `aws-config` reads `AWS_ENDPOINT_URL` (and
//! `AWS_ENDPOINT_URL_<SERVICE>`), so the same binaries talk to a local stack.

use std::sync::{Arc, OnceLock};
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

/// An SDK client that only some invocations need, built by the first call that does.
///
/// Building a client is most of a function's start: each service crate parses its endpoint
/// partition table and compiles its region patterns (~0.47 M instructions per client, measured
/// with callgrind). A function builds at start the clients every invocation uses, as AWS
/// advises, and defers only those that depend on the event: the CodePipeline client (job
/// events only), Lambda in the canary's alias mode, the rollback actions' clients, the Lambda
/// client of suites that invoke functions. Clones share one client.
pub struct OnFirstUse<C> {
    client: Arc<OnceLock<C>>,
    build: Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C> OnFirstUse<C> {
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> OnFirstUse<C> {
        OnFirstUse {
            client: Arc::new(OnceLock::new()),
            build: Arc::new(build),
        }
    }

    /// The client, built now if no call has needed it yet.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)())
    }

    pub fn is_built(&self) -> bool {
        self.client.get().is_some()
    }
}

/// A client of `config`, built on first use (`aws_sdk_codepipeline::Client::new`, ...).
pub fn on_first_use<C: 'static>(config: &SdkConfig, client: fn(&SdkConfig) -> C) -> OnFirstUse<C> {
    let config = config.clone();
    OnFirstUse::new(move || client(&config))
}

/// A client that is already built (tests, the CLI).
impl<C: Clone + Send + Sync + 'static> From<C> for OnFirstUse<C> {
    fn from(client: C) -> OnFirstUse<C> {
        let spare = client.clone();
        OnFirstUse {
            client: Arc::new(OnceLock::from(client)),
            build: Arc::new(move || spare.clone()),
        }
    }
}

impl<C> Clone for OnFirstUse<C> {
    fn clone(&self) -> Self {
        OnFirstUse {
            client: Arc::clone(&self.client),
            build: Arc::clone(&self.build),
        }
    }
}

impl<C> std::fmt::Debug for OnFirstUse<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnFirstUse").field("built", &self.is_built()).finish()
    }
}

/// The environment variable naming the state table.
pub const TABLE_ENV: &str = "HANDSOFF_TABLE";

/// The state table's name from `HANDSOFF_TABLE`; a function that needs it does not start
/// without it.
pub fn table_from_env() -> Result<String, crate::error::Invalid> {
    std::env::var(TABLE_ENV)
        .ok()
        .filter(|table| !table.trim().is_empty())
        .ok_or_else(|| format!("{TABLE_ENV} is not set: set it to the name of the handsoff DynamoDB table").into())
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
    fn a_deferred_client_is_built_once_by_its_first_use_and_shared_by_clones() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&builds);
        let client = OnFirstUse::new(move || counter.fetch_add(1, Ordering::SeqCst) + 100);
        let clone = client.clone();
        assert_eq!(builds.load(Ordering::SeqCst), 0);
        assert!(!clone.is_built());

        assert_eq!(*clone.get(), 100);
        assert_eq!((*client.get(), *clone.get()), (100, 100));
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert!(client.is_built());
    }

    #[test]
    fn a_client_handed_over_built_is_used_as_is() {
        let client = OnFirstUse::from(String::from("built by the test"));
        assert!(client.is_built());
        assert_eq!(client.get(), "built by the test");
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

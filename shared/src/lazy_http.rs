//! An HTTPS client that builds its TLS connector on the first request, not at cold start.
//!
//! The SDK's default client loads the platform's root certificates (hundreds of files) when a
//! service client is built: several milliseconds before the function can ask for its first
//! event, for a gate that in Step Functions mode may never call AWS at all. This builds the same
//! connector (rustls with aws-lc, proxy settings from the environment) when the SDK first asks
//! for one, which it does only to send a request.
//!
//! The SDK asks for a connector on every request attempt, so the client keeps one per
//! connection settings, as the SDK's own does: requests share its connection pool instead of
//! each paying a new TCP connection and TLS handshake.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{ConnectorBuilder, tls};
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

#[derive(Debug, Default)]
pub struct LazyHttpsClient {
    connectors: Mutex<HashMap<SettingsKey, SharedHttpConnector>>,
}

/// What tells connectors apart: the SDK's own client keys its cache the same way.
type SettingsKey = (Option<Duration>, Option<Duration>);

impl LazyHttpsClient {
    pub fn shared() -> SharedHttpClient {
        SharedHttpClient::new(LazyHttpsClient::default())
    }
}

impl HttpClient for LazyHttpsClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(key)
            .or_insert_with(|| {
                let mut builder = ConnectorBuilder::default()
                    .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
                builder.set_connector_settings(Some(settings.clone()));
                builder.set_sleep_impl(components.sleep_impl());
                builder.set_proxy_config(Some(ProxyConfig::from_env()));
                SharedHttpConnector::new(builder.build())
            })
            .clone()
    }
}

//! HTTP for validation tests, on the SDK's own connector (hyper, rustls with aws-lc, proxy
//! settings from the environment): no second HTTP or TLS stack in the binary. Requests that
//! ask for it are signed with SigV4 using the function's own credentials, within the runner's
//! [`Egress`] rules, which also hold for every address a host resolves to (the connector
//! resolves through them, so a name cannot resolve one way when checked and another when used).

use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, tls};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

use crate::suite::egress::Egress;
use crate::suite::expect::HttpObservation;
use crate::suite::model::SignSpec;

/// A request with its variables filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingRequest {
    pub method: String,
    pub url: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub sign: Option<SignSpec>,
}

pub trait HttpSender: Send + Sync {
    /// Sends one request; an error is a request that got no response (connection, TLS, signing).
    fn send(
        &self,
        request: &OutgoingRequest,
    ) -> impl Future<Output = Result<HttpObservation, super::Unanswered>> + Send;
}

/// Most of a response body that is read; validation needs the start, not a download. Reading
/// stops there: the rest is never buffered.
pub const MAX_BODY: usize = 1 << 20;

pub struct SdkHttpSender {
    connector: OnceLock<Connector>,
    credentials: Option<SharedCredentialsProvider>,
    region: Option<String>,
    egress: Arc<Egress>,
}

/// Resolves names for the connector, refusing a name any of whose addresses the rules refuse.
#[derive(Debug, Clone)]
struct CheckedResolver {
    egress: Arc<Egress>,
}

impl ResolveDns for CheckedResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        DnsFuture::new(async move {
            let addresses: Vec<IpAddr> = tokio::net::lookup_host((name, 0))
                .await
                .map_err(ResolveDnsError::new)?
                .map(|address| address.ip())
                .collect();
            for ip in &addresses {
                self.egress
                    .check_address(*ip)
                    .map_err(|refused| ResolveDnsError::new(format!("{name} resolves to {ip}: {refused}")))?;
            }
            Ok(addresses)
        })
    }
}

impl SdkHttpSender {
    pub fn new(config: &aws_config::SdkConfig, egress: Egress) -> Self {
        SdkHttpSender {
            connector: OnceLock::new(),
            credentials: config.credentials_provider(),
            region: config.region().map(|region| region.to_string()),
            egress: Arc::new(egress),
        }
    }

    fn connector(&self) -> &Connector {
        // Built on first use: a cold start that runs no HTTP test pays nothing for TLS roots.
        self.connector.get_or_init(|| {
            Connector::builder()
                .proxy_config(ProxyConfig::from_env())
                .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
                .build_with_resolver(CheckedResolver {
                    egress: Arc::clone(&self.egress),
                })
        })
    }

    /// The request's host, checked: a literal address against the rules (names are checked as
    /// they resolve), and a signed request against what may be signed.
    fn check_target(&self, request: &OutgoingRequest) -> Result<(), super::Unanswered> {
        let uri: http::Uri = request
            .url
            .parse()
            .map_err(|error| format!("not a valid URL: {error}"))?;
        let host = uri.host().ok_or("the URL has no host")?;
        if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            self.egress.check_address(ip)?;
        }
        if let Some(spec) = &request.sign {
            self.egress.check_sign(&spec.service, host)?;
        }
        Ok(())
    }

    async fn signed_headers(
        &self,
        request: &OutgoingRequest,
        spec: &SignSpec,
    ) -> Result<Vec<(String, String)>, String> {
        let provider = self
            .credentials
            .as_ref()
            .ok_or("SigV4 signing needs AWS credentials, and none are configured")?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|error| format!("could not load AWS credentials to sign the request: {error}"))?;
        let region = spec
            .region
            .clone()
            .or_else(|| self.region.clone())
            .ok_or("SigV4 signing needs a region: set sign.region or AWS_REGION")?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name(&spec.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|error| format!("could not sign the request: {error}"))?
            .into();
        let body = request.body.as_deref().unwrap_or_default();
        let signable = SignableRequest::new(
            &request.method,
            request.url.as_str(),
            request
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|error| format!("could not sign the request: {error}"))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|error| format!("could not sign the request: {error}"))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}

impl HttpSender for SdkHttpSender {
    async fn send(&self, request: &OutgoingRequest) -> Result<HttpObservation, super::Unanswered> {
        self.check_target(request)?;
        let mut headers = request.headers.clone();
        let mut added_secrets = Vec::new();
        if let Some(spec) = &request.sign {
            let signed = self.signed_headers(request, spec).await?;
            added_secrets.extend(
                signed
                    .iter()
                    .filter(|(name, _)| crate::suite::redact::is_secret_header(name))
                    .map(|(_, value)| value.clone()),
            );
            headers.extend(signed);
        }
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.url);
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        let body = request.body.clone().map(SdkBody::from).unwrap_or_else(SdkBody::empty);
        let built = builder
            .body(body)
            .map_err(|error| format!("not a valid request: {error}"))?;
        let built = HttpRequest::try_from(built).map_err(|error| format!("not a valid request: {error}"))?;
        let started = Instant::now();
        let response = self
            .connector()
            .call(built)
            .await
            .map_err(|error| super::source_chain(&error))?;
        let status = response.status().as_u16();
        let response_headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
            .collect();
        let bytes = read_capped(ByteStream::new(response.into_body()), MAX_BODY).await?;
        let latency = started.elapsed();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Ok(HttpObservation {
            status,
            headers: response_headers,
            body,
            latency,
            added_secrets,
        })
    }
}

/// At most `cap` bytes of a body, read frame by frame; reading stops at the cap, so a huge body
/// never takes more than the cap (and one frame) of memory.
pub async fn read_capped(mut stream: ByteStream, cap: usize) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    while bytes.len() < cap {
        match stream.next().await {
            None => break,
            Some(Ok(frame)) => {
                let room = cap - bytes.len();
                bytes.extend_from_slice(&frame[..frame.len().min(room)]);
            }
            Some(Err(error)) => return Err(format!("the response body could not be read: {error}")),
        }
    }
    Ok(bytes)
}

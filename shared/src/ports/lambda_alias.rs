//! Reading how a Lambda alias routes traffic: its primary version and the weighted additional
//! version (the one-box canary).

use std::future::Future;

use aws_sdk_lambda::Client;

use super::PortError;
use crate::aws::OnFirstUse;

#[derive(Debug, Clone, PartialEq)]
pub struct AliasRouting {
    pub primary_version: String,
    /// The additional version and its weight (0..1), if the alias routes to one.
    pub canary: Option<(String, f64)>,
}

pub trait AliasReader: Send + Sync {
    fn routing(&self, function_name: &str, alias: &str)
    -> impl Future<Output = Result<AliasRouting, PortError>> + Send;
}

#[derive(Debug, Clone)]
pub struct LambdaAliases {
    client: OnFirstUse<Client>,
}

impl LambdaAliases {
    /// Only alias mode reads aliases: functions pass `on_first_use(&config, Client::new)`.
    pub fn new(client: impl Into<OnFirstUse<Client>>) -> Self {
        LambdaAliases { client: client.into() }
    }
}

impl AliasReader for LambdaAliases {
    async fn routing(&self, function_name: &str, alias: &str) -> Result<AliasRouting, PortError> {
        let output = self
            .client
            .get()
            .get_alias()
            .function_name(function_name)
            .name(alias)
            .send()
            .await
            .map_err(|error| PortError::from_sdk("lambda:GetAlias", &error))?;
        let canary = output
            .routing_config()
            .and_then(|routing| routing.additional_version_weights())
            .and_then(|weights| {
                weights
                    .iter()
                    .next()
                    .map(|(version, weight)| (version.clone(), *weight))
            });
        Ok(AliasRouting {
            primary_version: output.function_version().unwrap_or_default().to_string(),
            canary,
        })
    }
}

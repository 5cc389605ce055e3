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

/// The alias as Lambda has it now (the reader and the rollback both start here).
pub(crate) async fn get_alias(
    client: &Client,
    function_name: &str,
    alias: &str,
) -> Result<aws_sdk_lambda::operation::get_alias::GetAliasOutput, PortError> {
    client
        .get_alias()
        .function_name(function_name)
        .name(alias)
        .send()
        .await
        .map_err(|error| PortError::from_sdk("lambda:GetAlias", &error))
}

impl AliasReader for LambdaAliases {
    async fn routing(&self, function_name: &str, alias: &str) -> Result<AliasRouting, PortError> {
        let output = get_alias(self.client.get(), function_name, alias).await?;
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
            primary_version: primary_version(&output, function_name, alias)?,
            canary,
        })
    }
}

/// The version an alias routes to by default; an answer without one is unreadable, never an
/// empty version to judge or roll back to.
pub(crate) fn primary_version(
    output: &aws_sdk_lambda::operation::get_alias::GetAliasOutput,
    function_name: &str,
    alias: &str,
) -> Result<String, PortError> {
    output
        .function_version()
        .filter(|version| !version.is_empty())
        .map(str::to_string)
        .ok_or_else(|| PortError {
            call: "lambda:GetAlias".to_string(),
            kind: super::PortErrorKind::Unavailable,
            message: format!(
                "unreadable answer: alias {alias} of {function_name} came back without its FunctionVersion"
            ),
        })
}

//! A Lambda service to release, in any region moto serves: the function, its first version and
//! its `live` alias; a way to ship new code; and where the alias points.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};

/// The smallest valid zip: an empty archive (moto never runs the code).
const EMPTY_ZIP: &[u8] = &[
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// safe-region's definition as the SAM template fills it in, with the functions of `region`.
pub fn safe_region_definition(region: &str) -> String {
    let mut text = include_str!("../../statemachines/safe-region.asl.json").replace("${EventBusName}", "default");
    for (key, function) in [
        ("AlarmBlockerArn", "alarm-blocker"),
        ("TimeWindowGateArn", "time-window-gate"),
        ("BakeTimeWaiterArn", "bake-time-waiter"),
        ("CanaryEvaluatorArn", "canary-evaluator"),
        ("RollbackTriggerArn", "rollback-trigger"),
    ] {
        text = text.replace(
            &format!("${{{key}}}"),
            &format!("arn:aws:lambda:{region}:123456789012:function:{function}"),
        );
    }
    text
}

/// A Lambda client for `region` of the same endpoint.
pub fn lambda_in(config: &aws_config::SdkConfig, region: &str) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::config::Builder::from(config)
        .region(aws_sdk_lambda::config::Region::new(region.to_string()))
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// Creates `function` with version 1 behind `alias` (all traffic); returns "1".
pub async fn create_service(
    lambda: &aws_sdk_lambda::Client,
    role: &str,
    function: &str,
    alias: &str,
) -> Result<String, String> {
    lambda
        .create_function()
        .function_name(function)
        .runtime(Runtime::Providedal2023)
        .role(role)
        .handler("bootstrap")
        .code(FunctionCode::builder().zip_file(Blob::new(EMPTY_ZIP)).build())
        .send()
        .await
        .map_err(|error| format!("CreateFunction: {error:?}"))?;
    let version = publish(lambda, function).await?;
    lambda
        .create_alias()
        .function_name(function)
        .name(alias)
        .function_version(&version)
        .send()
        .await
        .map_err(|error| format!("CreateAlias: {error:?}"))?;
    Ok(version)
}

/// Publishes a version of `$LATEST`; returns its number.
pub async fn publish(lambda: &aws_sdk_lambda::Client, function: &str) -> Result<String, String> {
    Ok(lambda
        .publish_version()
        .function_name(function)
        .send()
        .await
        .map_err(|error| format!("PublishVersion: {error:?}"))?
        .version
        .unwrap_or_default())
}

/// What the service's stack deploy does: new code in `$LATEST`, no traffic.
pub async fn ship_new_code(lambda: &aws_sdk_lambda::Client, function: &str) -> Result<(), String> {
    lambda
        .update_function_code()
        .function_name(function)
        .zip_file(Blob::new(EMPTY_ZIP))
        .send()
        .await
        .map(|_| ())
        .map_err(|error| format!("UpdateFunctionCode: {error:?}"))
}

/// Where the alias points: (version, weighted other version and its weight, if any).
pub async fn alias_of(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
) -> Result<(String, Option<(String, f64)>), String> {
    let alias = lambda
        .get_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
        .map_err(|error| format!("GetAlias: {error:?}"))?;
    let weighted = alias
        .routing_config()
        .and_then(|routing| routing.additional_version_weights())
        .and_then(|weights| {
            weights
                .iter()
                .next()
                .map(|(version, weight)| (version.clone(), *weight))
        });
    Ok((alias.function_version().unwrap_or_default().to_string(), weighted))
}

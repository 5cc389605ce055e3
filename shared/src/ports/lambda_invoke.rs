//! Lambda-invoke validation tests, on aws-sdk-lambda.

use std::future::Future;
use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;

use super::PortError;
use crate::aws::OnFirstUse;
use crate::suite::expect::LambdaObservation;

pub trait FunctionInvoker: Send + Sync {
    /// Invokes `function` synchronously; an error is an invocation that did not happen.
    fn invoke(
        &self,
        function: &str,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<LambdaObservation, super::Unanswered>> + Send;
}

#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: OnFirstUse<Client>,
}

impl LambdaInvoker {
    /// Only suites with Lambda tests invoke: functions pass `on_first_use(&config, Client::new)`.
    pub fn new(client: impl Into<OnFirstUse<Client>>) -> Self {
        LambdaInvoker { client: client.into() }
    }
}

impl FunctionInvoker for LambdaInvoker {
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<LambdaObservation, super::Unanswered> {
        let output = self
            .client
            .get()
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|error| PortError::from_sdk("lambda:InvokeFunction", &error).to_string())?;
        Ok(LambdaObservation {
            function_error: output.function_error().map(str::to_string),
            payload: output
                .payload()
                .map(|blob| String::from_utf8_lossy(blob.as_ref()).into_owned())
                .unwrap_or_default(),
            // The runner measures the latency around the call.
            latency: Duration::ZERO,
        })
    }
}

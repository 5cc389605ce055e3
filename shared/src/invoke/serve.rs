//! The one loop that runs a function on the Lambda runtime. A gate's [`super::Handler`] and the
//! validation runner's handler both take an event and Lambda's deadline and answer, so both are
//! an [`EventHandler`] served here: one span per invocation (request id, X-Ray trace id), one
//! deadline rule, one way a payload that is not JSON is refused.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use super::Deadlines;
use crate::error::GateError;
use crate::json::Payload;

/// What a function does with one event.
pub trait EventHandler: Send + Sync {
    /// Time kept back from Lambda's deadline to record the outcome and answer.
    fn answer_margin(&self) -> Duration;

    /// Handles one event against `deadlines`: an answer, or a typed error for the caller.
    fn handle_event(&self, event: Value, deadlines: Deadlines)
    -> impl Future<Output = Result<Value, GateError>> + Send;

    /// Notes an event refused before it reached the handler (a payload that is not JSON).
    fn refused(&self, _error: &GateError) {}
}

/// Runs `handler` on the Lambda runtime until the process ends.
pub async fn serve<H: EventHandler + 'static>(handler: H) -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload>| {
        let handler = Arc::clone(&handler);
        let context = event.context.clone();
        crate::telemetry::in_invocation(&context, async move {
            let deadlines = Deadlines::before_lambda(event.context.deadline, handler.answer_margin());
            let payload = event.payload.into_value().map_err(|message| {
                let error = GateError::InvalidInput(message.to_string());
                handler.refused(&error);
                Diagnostic::from(error)
            })?;
            handler.handle_event(payload, deadlines).await.map_err(Diagnostic::from)
        })
    }))
    .await
}

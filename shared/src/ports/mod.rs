//! Ports to the outside world: one small trait per system, a real adapter on its aws-sdk client.
//! Adapters translate; they never decide.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub mod alarms;
pub mod calendars;
pub mod calls;
pub mod deployments;
pub mod events;
pub mod http_client;
pub mod lambda_alias;
pub mod lambda_invoke;
pub mod metrics;
pub mod pipeline_jobs;
pub mod policies;
pub mod store;
pub mod suites;

/// A request a validation test made that got no answer (refused by the egress rules, unreachable,
/// timed out, unreadable): what its result records instead of a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unanswered(pub String);

impl From<String> for Unanswered {
    fn from(message: String) -> Self {
        Unanswered(message)
    }
}

impl From<&str> for Unanswered {
    fn from(message: &str) -> Self {
        Unanswered(message.to_string())
    }
}

/// A request the egress rules refuse is not sent: it goes unanswered, saying why.
impl From<crate::error::Invalid> for Unanswered {
    fn from(refused: crate::error::Invalid) -> Self {
        Unanswered(refused.0)
    }
}

/// Read as the message it is.
impl std::ops::Deref for Unanswered {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Unanswered> for String {
    fn from(unanswered: Unanswered) -> Self {
        unanswered.0
    }
}

/// A failed call to an outside system, named so a person knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortError {
    /// `service:Operation`, which is also the IAM action, e.g. `codepipeline:PutJobSuccessResult`.
    pub call: String,
    pub kind: PortErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortErrorKind {
    AccessDenied,
    Throttled,
    Timeout,
    /// Network, 5xx, or an answer that could not be read.
    Unavailable,
    /// The service refused the request as it was (4xx other than the above).
    Rejected,
}

impl PortError {
    pub fn is_access_denied(&self) -> bool {
        self.kind == PortErrorKind::AccessDenied
    }

    /// Describes an SDK failure of `call` (`service:Operation`).
    pub fn from_sdk<E, R>(call: &str, error: &SdkError<E, R>) -> PortError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let (kind, message) = match error {
            SdkError::TimeoutError(_) => (PortErrorKind::Timeout, "timed out".to_string()),
            SdkError::DispatchFailure(failure) => {
                let kind = if failure.is_timeout() {
                    PortErrorKind::Timeout
                } else {
                    PortErrorKind::Unavailable
                };
                (kind, format!("could not reach the service: {}", source_chain(error)))
            }
            SdkError::ResponseError(_) => (
                PortErrorKind::Unavailable,
                format!("unreadable response: {}", source_chain(error)),
            ),
            SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) | _ => {
                let code = error.code().unwrap_or("Unknown");
                let detail = error
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| source_chain(error));
                let kind = match code {
                    "AccessDenied"
                    | "AccessDeniedException"
                    | "UnauthorizedOperation"
                    | "UnrecognizedClientException"
                    | "InvalidClientTokenId"
                    | "ExpiredTokenException" => PortErrorKind::AccessDenied,
                    "Throttling"
                    | "ThrottlingException"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "ProvisionedThroughputExceededException" => PortErrorKind::Throttled,
                    _ if code.contains("InternalFailure")
                        || code.contains("ServiceUnavailable")
                        || code.contains("InternalServerError") =>
                    {
                        PortErrorKind::Unavailable
                    }
                    "Unknown" => PortErrorKind::Unavailable,
                    _ => PortErrorKind::Rejected,
                };
                (kind, format!("{code}: {detail}"))
            }
        };
        PortError {
            call: call.to_string(),
            kind,
            message,
        }
    }
}

/// An error and its causes on one line, outermost first.
pub(crate) fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PortErrorKind::AccessDenied => write!(
                f,
                "{} was denied ({}); grant `{}` to the function's role",
                self.call, self.message, self.call
            ),
            PortErrorKind::Throttled => write!(
                f,
                "{} was throttled ({}); it is retried, and fails closed meanwhile",
                self.call, self.message
            ),
            PortErrorKind::Timeout => write!(f, "{} timed out ({})", self.call, self.message),
            PortErrorKind::Unavailable | PortErrorKind::Rejected => {
                write!(f, "{} failed: {}", self.call, self.message)
            }
        }
    }
}

impl std::error::Error for PortError {}

//! Errors a gate invocation can end in, each a message a person can act on, each with a typed
//! name that Step Functions can `Retry`/`Catch` on.

use lambda_runtime::Diagnostic;
use thiserror::Error;

use crate::policy::PolicyError;
use crate::ports::PortError;

/// A value that is not allowed, saying what is allowed: what a parser or a check answers, for
/// its caller to place under the field's path (`windows.allow[0].days: ...`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(message: String) -> Self {
        Invalid(message)
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Self {
        Invalid(message.to_string())
    }
}

/// Read as the message it is.
impl std::ops::Deref for Invalid {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Invalid> for String {
    fn from(invalid: Invalid) -> Self {
        invalid.0
    }
}

#[derive(Debug, Error)]
pub enum GateError {
    #[error("policy is invalid: {0}")]
    PolicyInvalid(PolicyError),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("{0}")]
    DependencyUnavailable(PortError),
    #[error("{0}")]
    Blocked(String),
    #[error("rollback incomplete (call again to retry what failed): {0}")]
    RollbackIncomplete(String),
    #[error("{0} is not implemented yet: it blocks every deployment until it is")]
    NotImplemented(&'static str),
}

impl GateError {
    /// A state-store failure, as a gate reports it: an outside call that failed is a dependency
    /// unavailable; anything else (a record missing, a write that lost a race) is named as is.
    pub fn from_store(error: crate::ports::store::StoreError) -> GateError {
        match error {
            crate::ports::store::StoreError::Port(port) => GateError::DependencyUnavailable(port),
            other => GateError::InvalidInput(other.to_string()),
        }
    }

    /// The name Step Functions sees as `Error`.
    pub fn error_type(&self) -> &'static str {
        match self {
            GateError::PolicyInvalid(_) => "PolicyInvalid",
            GateError::InvalidInput(_) => "InvalidInput",
            GateError::DependencyUnavailable(error) if error.is_access_denied() => "AccessDenied",
            GateError::DependencyUnavailable(_) => "DependencyUnavailable",
            GateError::Blocked(_) => "Blocked",
            GateError::RollbackIncomplete(_) => "RollbackIncomplete",
            GateError::NotImplemented(_) => "NotImplemented",
        }
    }
}

impl From<GateError> for Diagnostic {
    fn from(error: GateError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}

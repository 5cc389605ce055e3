//! The command's errors, typed: what went wrong decides the exit status and the `kind` a script
//! reads from `--json`; the message says what to do about it.

use handsoff::ports::PortError;
use handsoff::ports::store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file, document or flag value that cannot be used; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// An AWS call that failed, named by its IAM action.
    #[error("{0}")]
    Aws(PortError),
    /// A record that is not there (an override, a freeze, a version).
    #[error("{0}")]
    NotFound(String),
    /// A write that lost a race or would repeat one (revoked twice, changed meanwhile).
    #[error("{0}")]
    Conflict(String),
}

impl CliError {
    /// `invalid`, `aws`, `not_found`, `conflict`.
    pub fn kind(&self) -> &'static str {
        match self {
            CliError::Invalid(_) => "invalid",
            CliError::Aws(_) => "aws",
            CliError::NotFound(_) => "not_found",
            CliError::Conflict(_) => "conflict",
        }
    }

    /// The error as one JSON object: `{"error": {"kind", "message", "call"?}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = json!({"kind": self.kind(), "message": self.to_string()});
        if let CliError::Aws(port) = self {
            error["call"] = json!(port.call);
        }
        json!({ "error": error })
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::Invalid(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        CliError::Invalid(message.to_string())
    }
}

impl From<handsoff::freeze::FreezeError> for CliError {
    fn from(error: handsoff::freeze::FreezeError) -> Self {
        CliError::Invalid(error.to_string())
    }
}

impl From<handsoff::policy::PolicyError> for CliError {
    fn from(error: handsoff::policy::PolicyError) -> Self {
        CliError::Invalid(error.to_string())
    }
}

impl From<handsoff::error::Invalid> for CliError {
    fn from(error: handsoff::error::Invalid) -> Self {
        CliError::Invalid(error.0)
    }
}

impl From<PortError> for CliError {
    fn from(error: PortError) -> Self {
        CliError::Aws(error)
    }
}

impl From<StoreError> for CliError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Port(port) => CliError::Aws(port),
            StoreError::NotFound(message) => CliError::NotFound(message),
            StoreError::Conflict(message) => CliError::Conflict(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use handsoff::ports::PortErrorKind;

    use super::*;

    #[test]
    fn each_error_prints_as_one_json_object_with_its_kind() {
        let denied = CliError::from(StoreError::Port(PortError {
            call: "dynamodb:PutItem".into(),
            kind: PortErrorKind::AccessDenied,
            message: "not authorized".into(),
        }));
        assert_eq!(denied.to_json()["error"]["kind"], "aws");
        assert_eq!(denied.to_json()["error"]["call"], "dynamodb:PutItem");
        let missing = CliError::from(StoreError::NotFound("no freeze `frz-1`".into()));
        assert_eq!(
            missing.to_json(),
            json!({"error": {"kind": "not_found", "message": "no freeze `frz-1`"}})
        );
        assert_eq!(CliError::from("--to: already past").kind(), "invalid");
    }
}

//! The `handsoff` command as the tests run it: a process with test credentials, us-east-1,
//! the state table `handsoff`, nothing else from the environment, and its AWS calls sent to a
//! local endpoint when one is given.

use std::path::Path;
use std::process::Command;

/// The command at `binary`, ready for its arguments.
pub fn handsoff_command(binary: &Path, endpoint: Option<&str>) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HANDSOFF_TABLE", "handsoff");
    if let Some(endpoint) = endpoint {
        command.arg("--endpoint-url").arg(endpoint);
    }
    command
}

/// What a command said: its exit code, stdout and stderr.
#[derive(Debug, Clone)]
pub struct Said {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Said {
    /// Stdout, then stderr.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `handsoff ARGS`.
pub fn run_handsoff(binary: &Path, endpoint: Option<&str>, args: &[&str]) -> Said {
    let output = handsoff_command(binary, endpoint)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{}: {error} (build it: cargo build --bins)", binary.display()));
    Said {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

//! time-window-gate: lets a deployment start only inside the policy's time windows; otherwise it
//! waits for the next opening (or blocks, as the policy says). A change freeze or a closed SSM
//! Change Calendar closes it too.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::aws::on_first_use;
use handsoff::gates::time_window::TimeWindowGate;
use handsoff::invoke::Startup;
use handsoff::ports::calendars::SsmCalendars;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let start = Startup::from_env().await?;
    // Freezes and stored policies: the state table; Change Calendars: SSM, when a policy names one.
    let calendars = SsmCalendars::new(on_first_use(&start.config, aws_sdk_ssm::Client::new));
    let gate = TimeWindowGate::new(start.store.clone(), calendars);
    start.run_gate(gate).await
}

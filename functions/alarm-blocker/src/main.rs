//! alarm-blocker: no deployment starts into a stage while a watched alarm fires (or the stage is
//! blocked after a rollback), unless a live override covers every firing alarm.
// The handler future is deep; some feature sets need more than the default 128.
#![recursion_limit = "256"]

use handsoff::gates::alarm_blocker::AlarmBlocker;
use handsoff::invoke::Startup;
use handsoff::ports::alarms::CloudWatchAlarms;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let start = Startup::from_env().await?;
    let gate = AlarmBlocker::new(CloudWatchAlarms::new(&start.config), start.store.clone());
    start.run_gate(gate).await
}

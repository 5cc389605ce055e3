//! `handsoff report --pipeline P [--since 30d] [--json]`: delivery metrics from the audit trail.

use clap::Args;
use handsoff::duration::HumanDuration;
use handsoff::report::delivery_report;
use jiff::{SignedDuration, Timestamp};

use crate::aws::{AwsArgs, TableArgs, check_name, store};
use handsoff::ports::store::AuditStore;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The pipeline to report on.
    #[arg(long, value_name = "NAME")]
    pipeline: String,
    /// How far back, e.g. 7d, 30d (at most 400d).
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    since: String,
    /// Print one JSON object: {"pipeline", "since", "until", "deployments", "deployments_per_day",
    /// "rollbacks", "failed_deployments", "change_failure_rate", "median_time_to_restore_secs", "restored",
    /// "still_blocked", "lead_time_secs", "stages"} (rates and times null when unknown).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
}

pub async fn run(args: &ReportArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    check_name("--pipeline", &args.pipeline)?;
    let window: HumanDuration = args.since.parse().map_err(|error| format!("--since: {error}"))?;
    if window.as_secs() == 0 {
        return Err("--since: give a span, e.g. 30d".into());
    }
    let until = Timestamp::now();
    let since = until
        .checked_sub(SignedDuration::from_secs(window.as_secs_i64()))
        .map_err(|error| format!("--since: {error}"))?;
    let store = store(aws, &args.table).await?;
    let mut trail = Vec::new();
    for (pipeline, stage) in store.stages(Some(&args.pipeline)).await? {
        trail.extend(store.audit_trail(&pipeline, &stage).await?);
    }
    let report = delivery_report(&args.pipeline, &trail, since, until);
    if args.json {
        return serde_json::to_string(&report).map_err(|error| crate::error::CliError::from(error.to_string()));
    }
    Ok(report.to_text())
}

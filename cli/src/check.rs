//! `handsoff check --policy FILE [--pipeline P --stage S]`: evaluates the blockers now, against
//! the account (or `--endpoint-url`), and prints why. It reads; it writes no audit record.

use std::path::PathBuf;

use clap::Args;
use handsoff::decision::{Decision, Verdict};
use handsoff::gates::alarm_blocker::{self, Stage};
use handsoff::gates::time_window;
use handsoff::policy::Policy;
use handsoff::ports::alarms::{AlarmSource, CloudWatchAlarms};
use jiff::Timestamp;

use crate::aws::{AwsArgs, TableArgs, check_name};
use handsoff::ports::store::{BlockStore, OverrideStore};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy document with `windows` and/or `alarms`.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// With --stage: also honour the stage's overrides and rollback block (needs the table).
    #[arg(long, requires = "stage")]
    pipeline: Option<String>,
    /// The stage, by its CodePipeline name.
    #[arg(long, requires = "pipeline")]
    stage: Option<String>,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON object: {"all_proceed", "decisions": [...]} (each as a direct call returns it).
    #[arg(long)]
    json: bool,
}

/// What `check` found: each gate's decision, or why it could not decide.
pub struct Checked {
    pub text: String,
    pub all_proceed: bool,
}

fn describe(decision: &Decision) -> String {
    let mut text = format!("{}: {} — {}", decision.gate, decision.decision, decision.reason());
    for reason in decision.reasons.iter().skip(1) {
        text.push_str(&format!("\n    {reason}"));
    }
    if let Some(until) = decision.wait_until {
        text.push_str(&format!("\n    next look: {until}"));
    }
    text
}

pub async fn run(args: &CheckArgs, aws: &AwsArgs) -> Result<Checked, crate::error::CliError> {
    let text = std::fs::read_to_string(&args.policy)
        .map_err(|error| format!("--policy {}: {error}", args.policy.display()))?;
    let policy = Policy::from_json(&text).map_err(|error| format!("{}: {error}", args.policy.display()))?;
    if policy.windows.is_none() && policy.alarms.is_none() {
        return Err(format!(
            "{}: nothing to check: the policy has neither `windows` nor `alarms`",
            args.policy.display()
        )
        .into());
    }
    let now = Timestamp::now();
    let mut decisions = Vec::new();
    if let Some(windows) = &policy.windows {
        // The window gate's own rules: its Change Calendars read from SSM, and, for a named
        // stage, the freezes on record; what cannot be read blocks.
        let calendar = if windows.calendars.is_empty() {
            None
        } else {
            use handsoff::ports::calendars::{Calendars, SsmCalendars};
            let ssm = SsmCalendars::new(aws_sdk_ssm::Client::new(&crate::aws::config(aws).await));
            Some(
                ssm.state(&windows.calendars, now)
                    .await
                    .map_err(|error| format!("time-window-gate: cannot decide, so it blocks: {error}"))?,
            )
        };
        let frozen = match &args.pipeline {
            Some(pipeline) => {
                use handsoff::ports::policies::FreezeStore;
                check_name("--pipeline", pipeline)?;
                let store = crate::aws::store(aws, &args.table).await?;
                let freezes = store.freezes(now).await?;
                handsoff::freeze::frozen(&freezes, Some(pipeline), now)
            }
            None => handsoff::freeze::Frozen::No,
        };
        let closures = time_window::Closures { frozen, calendar };
        decisions.push(time_window::decide_with(windows, &closures, now, None));
    }
    if let Some(alarms) = &policy.alarms {
        let config = crate::aws::config(aws).await;
        let source = CloudWatchAlarms::new(&config);
        let mut readings = Vec::new();
        for (index, selection) in alarms.watch.iter().enumerate() {
            let read = source.read(selection, index).await.map_err(|error| {
                let done: Vec<String> = decisions.iter().map(describe).collect();
                format!(
                    "{}alarm-blocker: cannot decide, so it blocks: {error}",
                    done.iter().map(|line| format!("{line}\n")).collect::<String>()
                )
            })?;
            readings.extend(read.readings);
        }
        let (here, overrides, marker) = match (&args.pipeline, &args.stage) {
            (Some(pipeline), Some(stage)) => {
                check_name("--pipeline", pipeline)?;
                check_name("--stage", stage)?;
                let store = crate::aws::store(aws, &args.table).await?;
                let overrides = store.overrides(pipeline, stage).await?;
                let marker = store.block_marker(pipeline, stage).await?;
                (Stage { pipeline, stage }, overrides, marker)
            }
            _ => (
                Stage {
                    pipeline: "(pipeline)",
                    stage: "(stage)",
                },
                Vec::new(),
                None,
            ),
        };
        decisions.push(alarm_blocker::decide(
            alarms,
            here,
            &readings,
            &overrides,
            marker.as_ref(),
            now,
            None,
        ));
    }
    let all_proceed = decisions.iter().all(|decision| decision.decision == Verdict::Proceed);
    if args.json {
        return Ok(Checked {
            text: serde_json::json!({"all_proceed": all_proceed, "decisions": decisions}).to_string(),
            all_proceed,
        });
    }
    let mut lines: Vec<String> = decisions.iter().map(describe).collect();
    lines.push(if all_proceed {
        "=> a deployment may start now".to_string()
    } else {
        "=> a deployment may not start now".to_string()
    });
    Ok(Checked {
        text: lines.join("\n"),
        all_proceed,
    })
}

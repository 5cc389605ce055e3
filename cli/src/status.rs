//! `handsoff status [--pipeline P] [--watch] [--json]`: one line per stage, from the table.

use std::time::Duration;

use clap::Args;
use handsoff::audit::AuditRecord;
use handsoff::ports::store::DynamoStore;
use handsoff::status::{RatePoint, StageStatus, error_rates, stage_status};
use jiff::Timestamp;

use crate::aws::{AwsArgs, TableArgs, check_name, store};
use handsoff::ports::store::{AuditStore, BlockStore, OverrideStore};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this pipeline [default: every pipeline with a record in the table].
    #[arg(long, value_name = "NAME")]
    pipeline: Option<String>,
    /// Redraw every --every until interrupted.
    #[arg(long)]
    watch: bool,
    /// How often --watch redraws, e.g. 10s, 1m.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    every: String,
    /// Print one JSON object: {"at", "stages": [{"pipeline", "stage", "state", "since"?,
    /// "headline", "unblock"?, "overrides", "bake"?, "last_decisions"}]}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
}

/// A stage with everything a view shows of it.
pub struct StageView {
    pub status: StageStatus,
    pub trail: Vec<AuditRecord>,
    pub rates: Vec<RatePoint>,
}

/// Every stage of `pipeline` (or of every pipeline), read now.
pub async fn collect(
    store: &DynamoStore,
    pipeline: Option<&str>,
    now: Timestamp,
) -> Result<Vec<StageView>, crate::error::CliError> {
    let stages = store.stages(pipeline).await?;
    let mut views = Vec::new();
    for (pipeline, stage) in stages {
        let marker = store.block_marker(&pipeline, &stage).await?;
        let overrides = store.overrides(&pipeline, &stage).await?;
        let mut trail = store.audit_trail(&pipeline, &stage).await?;
        trail.sort_by_key(|record| record.at);
        let status = stage_status(&pipeline, &stage, marker.as_ref(), &overrides, &trail, now);
        let rates = error_rates(&trail);
        views.push(StageView { status, trail, rates });
    }
    Ok(views)
}

fn render(views: &[StageView], json: bool, now: Timestamp) -> String {
    if json {
        let stages: Vec<&StageStatus> = views.iter().map(|view| &view.status).collect();
        return serde_json::json!({"at": now, "stages": stages}).to_string();
    }
    if views.is_empty() {
        return "no stage has a record in the table yet".to_string();
    }
    let mut out = String::new();
    let mut current = "";
    for view in views {
        if view.status.pipeline != current {
            current = &view.status.pipeline;
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("{current}\n"));
        }
        for line in view.status.line().lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.trim_end().to_string()
}

pub async fn run(args: &StatusArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    if let Some(pipeline) = &args.pipeline {
        check_name("--pipeline", pipeline)?;
    }
    let every: handsoff::duration::HumanDuration = args.every.parse().map_err(|error| format!("--every: {error}"))?;
    if every.as_secs() == 0 {
        return Err("--every: at least 1s".into());
    }
    let store = store(aws, &args.table).await?;
    if !args.watch {
        let now = Timestamp::now();
        return Ok(render(
            &collect(&store, args.pipeline.as_deref(), now).await?,
            args.json,
            now,
        ));
    }
    loop {
        let now = Timestamp::now();
        let text = render(&collect(&store, args.pipeline.as_deref(), now).await?, args.json, now);
        if args.json {
            println!("{text}");
        } else {
            // Clear the screen and draw again from the top.
            print!("\x1b[2J\x1b[H{text}\n\n(as of {now}; every {every}; Ctrl-C to stop)\n");
        }
        tokio::time::sleep(Duration::from_secs(every.as_secs())).await;
    }
}

//! `handsoff freeze create|list|lift`: a change freeze closes every time-window gate in scope
//! for its span, whatever the stages' own windows say. Who froze, who lifted and why are kept
//! on the freeze's record.

use clap::{Args, Subcommand};
use handsoff::freeze::{Freeze, Lift};
use jiff::Timestamp;

use crate::aws::{AwsArgs, TableArgs, caller, store};

#[derive(Debug, Subcommand)]
pub enum FreezeCommand {
    /// Freeze deployments from --from (default now) to --to, for every pipeline or --pipelines.
    Create(CreateArgs),
    /// Freezes not yet ended (with --all, every one on record).
    List(ListArgs),
    /// End a freeze early, saying why.
    Lift(LiftArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// When it starts, e.g. 2026-12-20T00:00:00Z [default: now].
    #[arg(long)]
    from: Option<Timestamp>,
    /// When deployments may start again, e.g. 2027-01-04T09:00:00Z.
    #[arg(long)]
    to: Timestamp,
    /// Why; people read it when their deployment waits.
    #[arg(long)]
    reason: String,
    /// Only these pipelines (comma-separated) [default: every pipeline].
    #[arg(long, value_delimiter = ',')]
    pipelines: Vec<String>,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Ended and lifted freezes too.
    #[arg(long)]
    all: bool,
    /// One JSON array instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
}

#[derive(Debug, Args)]
pub struct LiftArgs {
    /// The freeze's id (from `freeze list`).
    id: String,
    /// Why it ends early.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

pub async fn create(args: &CreateArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let now = Timestamp::now();
    let mut freeze = Freeze {
        id: format!("frz-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        // Whole seconds: what people read back, and what Step Functions' waits take.
        from: args
            .from
            .unwrap_or(Timestamp::from_second(now.as_second()).unwrap_or(now)),
        to: args.to,
        reason: args.reason.trim().to_string(),
        pipelines: args.pipelines.clone(),
        created_by: String::new(),
        created_at: now,
        lifted: None,
    };
    freeze.check_new(now)?;
    let store = store(aws, &args.table).await?;
    freeze.created_by = caller(aws).await?;
    store.create_freeze(&freeze, now).await?;
    if args.json {
        return Ok(serde_json::to_string(&freeze).unwrap_or_default());
    }
    let scope = if freeze.pipelines.is_empty() {
        "every pipeline".to_string()
    } else {
        freeze.pipelines.join(", ")
    };
    Ok(format!(
        "froze {scope} from {} to {} as {} (lift early with `handsoff freeze lift {} --reason ...`)",
        freeze.from, freeze.to, freeze.id, freeze.id
    ))
}

pub async fn list(args: &ListArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let now = Timestamp::now();
    let store = store(aws, &args.table).await?;
    let mut freezes = store.all_freezes().await?;
    freezes.retain(|freeze| args.all || (freeze.to > now && freeze.lifted.is_none()));
    freezes.sort_by_key(|freeze| (freeze.from, freeze.id.clone()));
    if args.json {
        return Ok(serde_json::to_value(&freezes).unwrap_or_default().to_string());
    }
    if freezes.is_empty() {
        return Ok("no freezes".to_string());
    }
    let mut lines = vec![format!(
        "{:<17} {:<20} {:<20} {:<8} {:<24} REASON",
        "ID", "FROM", "TO", "STATE", "PIPELINES"
    )];
    for freeze in &freezes {
        let state = match (&freeze.lifted, freeze.in_force_at(now), freeze.to <= now) {
            (Some(_), _, _) => "lifted",
            (None, true, _) => "in force",
            (None, false, true) => "ended",
            (None, false, false) => "planned",
        };
        let pipelines = if freeze.pipelines.is_empty() {
            "(all)".to_string()
        } else {
            freeze.pipelines.join(",")
        };
        lines.push(format!(
            "{:<17} {:<20} {:<20} {:<8} {:<24} {} (by {})",
            freeze.id,
            freeze.from.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            freeze.to.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            state,
            pipelines,
            freeze.reason,
            freeze.created_by
        ));
        if let Some(lift) = &freeze.lifted {
            lines.push(format!("  lifted at {} by {}: {}", lift.at, lift.by, lift.reason));
        }
    }
    Ok(lines.join("\n"))
}

pub async fn lift(args: &LiftArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let reason = args.reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err("--reason: say why the freeze ends early, in 1 to 500 characters".into());
    }
    let store = store(aws, &args.table).await?;
    let lift = Lift {
        at: Timestamp::now(),
        by: caller(aws).await?,
        reason: reason.to_string(),
    };
    let freeze = store.lift_freeze(&args.id, lift).await?;
    if args.json {
        return Ok(serde_json::to_string(&freeze).unwrap_or_default());
    }
    Ok(format!(
        "lifted {} (it was to end {}); time-window gates reopen at their next poll",
        freeze.id, freeze.to
    ))
}

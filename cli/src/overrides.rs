//! `handsoff override create|list|revoke`, `handsoff unblock`, `handsoff audit`,
//! `handsoff table create`.

use clap::{Args, Subcommand};
use handsoff::alarms::Override;
use handsoff::duration::HumanDuration;
use handsoff::events::{EventKind, HandsoffEvent};
use handsoff::policy::Policy;
use handsoff::ports::store::StoreError;
use jiff::{SignedDuration, Timestamp};

use crate::aws::{AwsArgs, TableArgs, caller, check_name, store};
use handsoff::ports::store::{AuditStore, BlockStore, OverrideStore};

/// Longest override without a policy to say otherwise (the policy default).
const DEFAULT_MAX_TTL: HumanDuration = HumanDuration::from_secs(4 * 3_600);

#[derive(Debug, Subcommand)]
pub enum OverrideCommand {
    /// Lift the alarm block of one stage, with a reason, for a while.
    Create(CreateArgs),
    /// Show overrides, live and past.
    List(ListArgs),
    /// End an override now.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    at: crate::aws::StageArgs,
    /// Only these alarms (repeat); without it, every alarm of the stage.
    #[arg(long = "alarm", value_name = "NAME")]
    alarms: Vec<String>,
    /// Why: shown in the decision, the pipeline's output variables and the audit trail.
    #[arg(long)]
    reason: String,
    /// How long it lives, e.g. 30m or 2h; at most the policy's max_override_ttl.
    #[arg(long, value_name = "DURATION")]
    ttl: String,
    /// The policy whose max_override_ttl applies [default limit: 4h].
    #[arg(long, value_name = "FILE")]
    policy: Option<std::path::PathBuf>,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this pipeline [default: every pipeline].
    #[arg(long)]
    pipeline: Option<String>,
    /// One JSON array instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The override's id (from `override create` or `override list`).
    id: String,
    /// Why; kept with the change in the audit trail.
    #[arg(long, default_value = "revoked")]
    reason: String,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct UnblockArgs {
    #[command(flatten)]
    at: crate::aws::StageArgs,
    /// Why it is safe to deploy again.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    at: crate::aws::StageArgs,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Create the state table (on demand, TTL on expires_at), as the SAM template does.
    Create(CreateTableArgs),
}

#[derive(Debug, Args)]
pub struct CreateTableArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

fn store_message(error: StoreError) -> String {
    error.to_string()
}

fn required_text(flag: &str, value: &str) -> Result<String, crate::error::CliError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("{flag}: empty; say why, in words a colleague will understand later").into());
    }
    Ok(value.to_string())
}

pub async fn create(args: &CreateArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    args.at.checked()?;
    let reason = required_text("--reason", &args.reason)?;
    let ttl: HumanDuration = args.ttl.parse().map_err(|error| format!("--ttl: {error}"))?;
    let max_ttl = match &args.policy {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|error| format!("--policy {}: {error}", path.display()))?;
            let policy = Policy::from_json(&text).map_err(|error| format!("{}: {error}", path.display()))?;
            policy
                .alarms()
                .map_err(|error| format!("{}: {error}", path.display()))?
                .max_override_ttl
        }
        None => DEFAULT_MAX_TTL,
    };
    if ttl == HumanDuration::ZERO || ttl > max_ttl {
        return Err(format!(
            "--ttl: `{ttl}` is not allowed; an override lives from 1s to {max_ttl} (the policy's max_override_ttl)"
        )
        .into());
    }
    let store = store(aws, &args.table).await?;
    let who = caller(aws).await?;
    let now = Timestamp::now();
    let expires_at = now
        .checked_add(SignedDuration::from_secs(ttl.as_secs_i64()))
        .map_err(|error| format!("--ttl: {error}"))?;
    let id = format!("ov-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let item = Override {
        id: id.clone(),
        pipeline: args.at.pipeline.clone(),
        stage: args.at.stage.clone(),
        alarms: args.alarms.clone(),
        reason,
        who: who.clone(),
        created_at: now,
        expires_at,
        revoked_at: None,
        revoked_by: None,
    };
    store.create_override(&item).await.map_err(store_message)?;
    let scope = if item.alarms.is_empty() {
        "every alarm".to_string()
    } else {
        item.alarms.join(", ")
    };
    let mut event = HandsoffEvent::new(
        EventKind::OverrideCreated,
        &item.pipeline,
        &item.stage,
        &item.reason,
        now,
    );
    event.who = Some(who.clone());
    event.evidence_summary = serde_json::json!({"id": id, "alarms": scope, "expires_at": item.expires_at}).to_string();
    crate::aws::announce(aws, event).await;
    crate::expiry::schedule(aws, &id, &item.pipeline, &item.stage, item.expires_at).await;
    if args.json {
        return Ok(serde_json::to_string(&item).unwrap_or_default());
    }
    Ok(format!(
        "{id}: overrides {scope} for stage {} of {} until {} (by {who})",
        item.stage, item.pipeline, item.expires_at
    ))
}

fn status(item: &Override, now: Timestamp) -> &'static str {
    if item.revoked_at.is_some() {
        "revoked"
    } else if item.is_live(now) {
        "live"
    } else {
        "expired"
    }
}

pub async fn list(args: &ListArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    if let Some(pipeline) = &args.pipeline {
        check_name("--pipeline", pipeline)?;
    }
    let store = store(aws, &args.table).await?;
    let items = store
        .list_overrides(args.pipeline.as_deref())
        .await
        .map_err(store_message)?;
    let now = Timestamp::now();
    if args.json {
        let rows: Vec<serde_json::Value> = items
            .iter()
            .map(|item| {
                let mut row = serde_json::to_value(item).unwrap_or_default();
                row["status"] = status(item, now).into();
                row
            })
            .collect();
        return Ok(serde_json::Value::Array(rows).to_string());
    }
    if items.is_empty() {
        return Ok("no overrides".to_string());
    }
    let mut lines = vec![format!(
        "{:<16} {:<8} {:<20} {:<12} {:<22} {:<24} REASON",
        "ID", "STATUS", "PIPELINE", "STAGE", "EXPIRES", "ALARMS"
    )];
    for item in &items {
        let alarms = if item.alarms.is_empty() {
            "*".to_string()
        } else {
            item.alarms.join(",")
        };
        lines.push(format!(
            "{:<16} {:<8} {:<20} {:<12} {:<22} {:<24} {} ({})",
            item.id,
            status(item, now),
            item.pipeline,
            item.stage,
            item.expires_at.to_string(),
            alarms,
            item.reason,
            item.who
        ));
    }
    Ok(lines.join("\n"))
}

pub async fn revoke(args: &RevokeArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let reason = required_text("--reason", &args.reason)?;
    let store = store(aws, &args.table).await?;
    let who = caller(aws).await?;
    let now = Timestamp::now();
    let item = store
        .revoke_override(&args.id, &who, &reason, now)
        .await
        .map_err(store_message)?;
    let mut event = HandsoffEvent::new(EventKind::OverrideRevoked, &item.pipeline, &item.stage, &reason, now);
    event.who = Some(who.clone());
    event.evidence_summary = serde_json::json!({"id": item.id}).to_string();
    crate::aws::announce(aws, event).await;
    crate::expiry::unschedule(aws, &item.id).await;
    if args.json {
        return Ok(serde_json::to_string(&item).unwrap_or_default());
    }
    Ok(format!(
        "{}: revoked (stage {} of {}) by {who}",
        item.id, item.stage, item.pipeline
    ))
}

pub async fn unblock(args: &UnblockArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    args.at.checked()?;
    let reason = required_text("--reason", &args.reason)?;
    let store = store(aws, &args.table).await?;
    let who = caller(aws).await?;
    let now = Timestamp::now();
    let marker = store
        .clear_block_marker(&args.at.pipeline, &args.at.stage, &who, &reason, now)
        .await
        .map_err(store_message)?;
    let mut event = HandsoffEvent::new(
        EventKind::StageUnblocked,
        &args.at.pipeline,
        &args.at.stage,
        &reason,
        now,
    );
    event.who = Some(who.clone());
    event.evidence_summary =
        serde_json::json!({"blocked_since": marker.created_at, "blocked_because": marker.reason}).to_string();
    crate::aws::announce(aws, event).await;
    if args.json {
        return Ok(serde_json::json!({"unblocked": marker, "by": who, "reason": reason}).to_string());
    }
    Ok(format!(
        "unblocked stage {} of {} (blocked since {}: {}) by {who}",
        args.at.stage, args.at.pipeline, marker.created_at, marker.reason
    ))
}

pub async fn audit(args: &AuditArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    args.at.checked()?;
    let store = store(aws, &args.table).await?;
    let records = store
        .audit_trail(&args.at.pipeline, &args.at.stage)
        .await
        .map_err(store_message)?;
    if args.json {
        return Ok(serde_json::to_string(&records).unwrap_or_default());
    }
    if records.is_empty() {
        return Ok(format!(
            "no audit records for stage {} of {}",
            args.at.stage, args.at.pipeline
        ));
    }
    Ok(records
        .iter()
        .map(|record| {
            let what = match (&record.gate, &record.decision) {
                (Some(gate), Some(decision)) => format!("{gate} {decision}"),
                _ => record.kind.clone(),
            };
            let who = record
                .who
                .as_deref()
                .map(|who| format!(" (by {who})"))
                .unwrap_or_default();
            format!("{}  {what}: {}{who}", record.at, record.reason)
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

pub async fn create_table(args: &CreateTableArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let table = args.table.name()?;
    let client = aws_sdk_dynamodb::Client::new(&crate::aws::config(aws).await);
    handsoff::ports::store::create_table(&client, &table).await?;
    if args.json {
        return Ok(serde_json::json!({"created": table, "billing": "on demand", "ttl": "expires_at"}).to_string());
    }
    Ok(format!("created table {table} (on demand, TTL on expires_at)"))
}

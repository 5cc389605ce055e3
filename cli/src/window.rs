//! `handsoff window --policy FILE [--at RFC3339] [--json]`

use std::path::PathBuf;

use clap::Args;
use handsoff::policy::Policy;
use handsoff::window::evaluate;
use jiff::Timestamp;
use serde_json::json;

#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Policy document (JSON) with a `windows` section.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// The instant to ask about, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print one JSON object: {"open", "opens_at", "closes_at", "reason"}.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &WindowArgs) -> Result<String, crate::error::CliError> {
    let at = match &args.at {
        None => Timestamp::now(),
        Some(text) => parse_instant(text)?,
    };
    let text = std::fs::read_to_string(&args.policy)
        .map_err(|error| format!("--policy {}: {error}", args.policy.display()))?;
    let policy = Policy::from_json(&text).map_err(|error| format!("{}: {error}", args.policy.display()))?;
    let windows = policy
        .windows()
        .map_err(|error| format!("{}: {error}", args.policy.display()))?;
    let status = evaluate(windows, at);
    // This command reads no AWS: Change Calendars it cannot read keep the window from being
    // called open (`handsoff check` reads them).
    let (open, reason) = if status.open && !windows.calendars.is_empty() {
        (
            false,
            format!(
                "{}; but Change Calendar {} is not read by this command, so the window cannot be called open (handsoff check reads it)",
                status.sentence(),
                windows.calendars.join(", ")
            ),
        )
    } else {
        (status.open, status.sentence())
    };
    if args.json {
        let object = json!({
            "open": open,
            "opens_at": status.opens_at,
            "closes_at": if open { status.closes_at } else { None },
            "reason": reason,
        });
        return Ok(object.to_string());
    }
    Ok(reason)
}

fn parse_instant(text: &str) -> Result<Timestamp, crate::error::CliError> {
    text.parse::<Timestamp>().map_err(|_| {
        format!(
            "--at: `{text}` is not an RFC 3339 instant; write e.g. 2026-11-26T17:00:00Z or 2026-11-26T09:00:00-08:00"
        )
        .into()
    })
}

//! `handsoff policy validate FILE` and `handsoff policy schema [--suite]`; the stored policies'
//! commands are in `stored_policy`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use handsoff::policy::Policy;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy document (JSON) exactly as the gates read it; exit 1 naming the field.
    Validate(ValidateArgs),
    /// Print the JSON Schema of the policy (or, with --suite, of a validation suite), for editors.
    Schema(SchemaArgs),
    /// Store a policy layer (--org, --pipeline, --pipeline --stage) as its next version.
    Put(crate::stored_policy::PutArgs),
    /// Print a stored layer's document (current, or --version N).
    Get(crate::stored_policy::GetArgs),
    /// Every stored layer, its version, who stored it and when.
    List(crate::stored_policy::ListArgs),
    /// Every version of one layer.
    History(crate::stored_policy::HistoryArgs),
    /// What changed between two versions of a layer, or from the current one to a file.
    Diff(crate::stored_policy::DiffArgs),
    /// A stage's effective policy, and which layer each field came from.
    Explain(crate::stored_policy::ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The policy document (JSON).
    file: PathBuf,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The validation suite's schema instead of the policy's.
    #[arg(long, conflicts_with = "layer")]
    suite: bool,
    /// A stored policy layer's schema (every field optional, and `forbid_lowering`).
    #[arg(long, conflicts_with_all = ["decision", "audit"])]
    layer: bool,
    /// A gate's decision's schema (what a direct call returns).
    #[arg(long, conflicts_with_all = ["suite", "audit"])]
    decision: bool,
    /// An audit record's schema (what `handsoff audit --json` prints).
    #[arg(long, conflicts_with = "suite")]
    audit: bool,
}

pub fn validate(args: &ValidateArgs) -> Result<String, crate::error::CliError> {
    let text = std::fs::read_to_string(&args.file).map_err(|error| format!("{}: {error}", args.file.display()))?;
    let policy = Policy::from_json(&text).map_err(|error| format!("{}: {error}", args.file.display()))?;
    let sections: Vec<&str> = [
        ("windows", policy.windows.is_some()),
        ("alarms", policy.alarms.is_some()),
        ("canary", policy.canary.is_some()),
        ("bake", policy.bake.is_some()),
        ("rollback", policy.rollback.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    if args.json {
        return Ok(serde_json::json!({"file": args.file, "valid": true, "sections": sections}).to_string());
    }
    Ok(format!(
        "{}: a valid policy ({})",
        args.file.display(),
        sections.join(", ")
    ))
}

pub fn schema(args: &SchemaArgs) -> String {
    let schema = if args.suite {
        handsoff::schema::suite()
    } else if args.layer {
        handsoff::schema::layer()
    } else if args.decision {
        handsoff::schema::decision()
    } else if args.audit {
        handsoff::schema::audit_record()
    } else {
        handsoff::schema::policy()
    };
    handsoff::schema::text(&schema).trim_end().to_string()
}

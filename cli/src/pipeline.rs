//! `handsoff pipeline synth|plan`: a release plan becomes its pipeline, and its schedule.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use handsoff_release::{ReleasePlan, schedule, synth};
use jiff::Timestamp;

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Print the CloudFormation template of the plan's CodePipeline; with --out, write it
    /// (pipeline.json) and each region's safe-region input (the plan's handsoff.inputs_dir).
    Synth(SynthArgs),
    /// Print the rollout: waves, regions, steps, minimum bakes, and the earliest each happens.
    Plan(PlanArgs),
    /// Print every region the plan deploys to, one per line (the home region first): where
    /// the handsoff stack must be (scripts/deploy-regions reads it).
    Regions(RegionsArgs),
}

#[derive(Debug, Args)]
pub struct RegionsArgs {
    /// The release plan (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    /// Print one JSON array of the regions instead of a line each.
    #[arg(long)]
    json: bool,
}

pub fn regions_command(args: &RegionsArgs) -> Result<String, crate::error::CliError> {
    let regions = read_plan(&args.plan)?.regions();
    if args.json {
        return Ok(serde_json::json!(regions).to_string());
    }
    Ok(regions.join("\n"))
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// The release plan (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    /// Write pipeline.json and the inputs under this folder (the source root the pipeline reads).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The release plan (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    /// When the release starts, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    start: Option<String>,
    /// Print one JSON object: {"pipeline", "start", "waves": [{"name", "starts_at", "ends_at",
    /// "regions": [{"region", "starts_at", "waits_for"?, "steps", "ends_at"}]}], "completes_at"}.
    #[arg(long)]
    json: bool,
}

fn read_plan(path: &Path) -> Result<ReleasePlan, crate::error::CliError> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("--plan {}: {error}", path.display()))?;
    ReleasePlan::parse(&text).map_err(|error| format!("{}: {error}", path.display()).into())
}

pub fn synth_command(args: &SynthArgs) -> Result<String, crate::error::CliError> {
    let plan = read_plan(&args.plan)?;
    let template = synth::template_text(&plan).map_err(|error| format!("{}: {error}", args.plan.display()))?;
    let Some(out) = &args.out else {
        return Ok(template.trim_end().to_string());
    };
    let inputs = synth::inputs(&plan).map_err(|error| format!("{}: {error}", args.plan.display()))?;
    let write = |path: &Path, text: &str| -> Result<(), crate::error::CliError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| format!("--out {}: {error}", parent.display()))?;
        }
        std::fs::write(path, text).map_err(|error| format!("--out {}: {error}", path.display()).into())
    };
    write(&out.join("pipeline.json"), &template)?;
    for (path, text) in &inputs {
        write(&out.join(path), text)?;
    }
    Ok(format!(
        "wrote {} and {} region inputs under {}",
        out.join("pipeline.json").display(),
        inputs.len(),
        out.join(&plan.handsoff.inputs_dir).display()
    ))
}

pub fn plan_command(args: &PlanArgs) -> Result<String, crate::error::CliError> {
    let plan = read_plan(&args.plan)?;
    let start = match &args.start {
        None => Timestamp::now(),
        Some(text) => text
            .parse::<Timestamp>()
            .map_err(|_| format!("--start: `{text}` is not an RFC 3339 instant; write e.g. 2026-12-07T17:00:00Z"))?,
    };
    let schedule = schedule::earliest(&plan, start).map_err(|error| format!("{}: {error}", args.plan.display()))?;
    if args.json {
        return serde_json::to_string(&schedule).map_err(|error| format!("the schedule as JSON: {error}").into());
    }
    Ok(schedule.to_text())
}

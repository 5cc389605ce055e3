//! `handsoff canary judge --input FILE [--json]`: judge a canary from counts and latencies.
//! `handsoff canary watch --input FILE [--json]`: replay a bake's looks through the sequential
//! test, as the bake-time waiter runs it at every poll.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use handsoff::canary::sequential::{Look, SequentialConfig, SequentialVerdict, watch};
use handsoff::canary::{JudgeInput, judge};
use serde::Deserialize;

#[derive(Debug, Subcommand)]
pub enum CanaryCommand {
    /// Is the canary worse than its baseline? (pass, fail, inconclusive)
    Judge(JudgeArgs),
    /// Replay a bake's looks through the sequential test: when would it have rolled back?
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// {"config": {"confidence"?, "max_error_ratio"?, "sequential_share"?}, "looks": [{"canary":
    /// {"requests", "errors"}, "baseline": {...}}, ...]}, counts cumulative since the bake began
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Print exactly one object: {"verdicts", "first_fail", "e_values"}.
    #[arg(long)]
    json: bool,
}

/// Most looks one replay takes: a week of one-minute looks, ten times over.
const MAX_LOOKS: usize = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchInput {
    #[serde(default)]
    config: SequentialConfig,
    looks: Vec<Look>,
}

pub fn watch_command(args: &WatchArgs) -> Result<String, crate::error::CliError> {
    let shown = args.input.display();
    let text = std::fs::read_to_string(&args.input).map_err(|error| format!("--input {shown}: {error}"))?;
    let value = handsoff::json::parse_strict(&text).map_err(|error| format!("{shown}: {error}"))?;
    let input: WatchInput = serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        format!(
            "{shown}: {}: {}",
            if path == "." { "input".to_string() } else { path },
            handsoff::json::without_value(&error.inner().to_string())
        )
    })?;
    input
        .config
        .validate()
        .map_err(|(field, message)| format!("{shown}: config.{field}: {message}"))?;
    if input.looks.len() > MAX_LOOKS {
        return Err(format!(
            "{shown}: looks: {} looks; at most {MAX_LOOKS} are replayed",
            input.looks.len()
        )
        .into());
    }
    let replay = watch(&input.config, &input.looks).map_err(|error| format!("{shown}: {error}"))?;
    if args.json {
        return serde_json::to_string(&replay).map_err(|error| crate::error::CliError::from(error.to_string()));
    }
    let threshold = 1.0 / input.config.alpha();
    let mut lines = vec![format!("{:>5} {:>12}  verdict", "look", "e-value")];
    for (index, (e_value, verdict)) in replay.e_values.iter().zip(&replay.verdicts).enumerate() {
        let verdict = match verdict {
            SequentialVerdict::Continue => "continue",
            SequentialVerdict::Fail => "fail",
        };
        lines.push(format!("{index:>5} {e_value:>12.4}  {verdict}"));
    }
    lines.push(match replay.first_fail {
        Some(index) => format!(
            "roll back at look {index}: e-value {:.1} reached 1/alpha = {threshold:.0} with an error ratio of at least {}",
            replay.e_values[index], input.config.max_error_ratio
        ),
        None => format!("no rollback: the e-value never reached 1/alpha = {threshold:.0} with a large enough error ratio"),
    });
    Ok(lines.join("\n"))
}

#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// {"baseline": {"requests", "errors", "latency_ms"}, "canary": {...},
    /// "expected_canary_share"?, "config"?}
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn number(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or("-".to_string(), format)
}

pub fn judge_command(args: &JudgeArgs) -> Result<String, crate::error::CliError> {
    let shown = args.input.display();
    let text = std::fs::read_to_string(&args.input).map_err(|error| format!("--input {shown}: {error}"))?;
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    let input: JudgeInput = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        format!(
            "{shown}: {}: {}",
            if path == "." { "input".to_string() } else { path },
            error.inner()
        )
    })?;
    input.validate().map_err(|error| format!("{shown}: {error}"))?;
    let judgement = judge(&input);
    if args.json {
        return serde_json::to_string(&judgement).map_err(|error| crate::error::CliError::from(error.to_string()));
    }
    let mut lines = vec![
        format!("verdict: {}", judgement.verdict),
        format!(
            "{:<8} {:<13} {:>10} {:>9} {:>10}  detail",
            "check", "verdict", "p-value", "effect", "threshold"
        ),
    ];
    for check in &judgement.checks {
        let (effect, threshold) = match check.name.as_ref() {
            "errors" => (
                number(check.effect, |x| format!("{x:.2}x")),
                number(check.threshold, |x| format!("{x:.2}x")),
            ),
            "latency" => (
                number(check.effect, |x| format!("{:+.1}%", x * 100.0)),
                number(check.threshold, |x| format!("+{:.0}%", x * 100.0)),
            ),
            _ => (
                number(check.effect, |x| format!("{x:.2}x")),
                number(check.threshold, |x| format!("<{x:.2}x")),
            ),
        };
        lines.push(format!(
            "{:<8} {:<13} {:>10} {:>9} {:>10}  {}",
            check.name,
            format!("{}{}", check.verdict, if check.significant { "*" } else { "" }),
            number(check.p_value, |p| format!("{p:.2e}")),
            effect,
            threshold,
            check.reason
        ));
    }
    lines.push(format!(
        "* significant at family-wise alpha {} (Holm-Bonferroni across the checks)",
        judgement.alpha
    ));
    if let Some(needed) = judgement.needed_requests {
        lines.push(format!(
            "needs about {needed} canary requests to decide (has {})",
            input.canary.requests
        ));
    }
    Ok(lines.join("\n"))
}

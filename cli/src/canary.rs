//! `handsoff canary judge --input FILE [--json]`: judge a canary from counts and latencies.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use handsoff::canary::{CanaryVerdict, JudgeInput, judge};

#[derive(Debug, Subcommand)]
pub enum CanaryCommand {
    /// Is the canary worse than its baseline? (pass, fail, inconclusive)
    Judge(JudgeArgs),
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

fn verdict_name(verdict: CanaryVerdict) -> &'static str {
    match verdict {
        CanaryVerdict::Pass => "pass",
        CanaryVerdict::Fail => "fail",
        CanaryVerdict::Inconclusive => "inconclusive",
        CanaryVerdict::Skipped => "skipped",
    }
}

fn number(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or("-".to_string(), format)
}

pub fn judge_command(args: &JudgeArgs) -> Result<String, String> {
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
        return serde_json::to_string(&judgement).map_err(|error| error.to_string());
    }
    let mut lines = vec![
        format!("verdict: {}", verdict_name(judgement.verdict)),
        format!(
            "{:<8} {:<13} {:>10} {:>9} {:>10}  detail",
            "check", "verdict", "p-value", "effect", "threshold"
        ),
    ];
    for check in &judgement.checks {
        let (effect, threshold) = match check.name {
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
            format!(
                "{}{}",
                verdict_name(check.verdict),
                if check.significant { "*" } else { "" }
            ),
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

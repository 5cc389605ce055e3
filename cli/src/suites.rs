//! `handsoff suite`: lint a suite, run it from a laptop, and manage the versions a stage runs.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{Args, Subcommand};
use handsoff::ports::http_client::SdkHttpSender;
use handsoff::ports::lambda_invoke::LambdaInvoker;
use handsoff::ports::suites::SuiteStore;
use handsoff::suite::model::ShortDuration;
use handsoff::suite::{Progress, Runner, Suite};
use jiff::Timestamp;

use crate::aws::{AwsArgs, TableArgs, caller, config, store};

#[derive(Debug, Subcommand)]
pub enum SuiteCommand {
    /// Check a suite file (JSON or YAML) without running it.
    Validate(FileArgs),
    /// Run a suite from here and show what was sent, what came back and what failed. Exit 3
    /// when a test fails or does not run.
    Run(RunArgs),
    /// Store a suite as the next version for a stage (what its post-stage validation runs).
    Put(PutArgs),
    /// The suites a stage runs now.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The suite file: JSON, or YAML when it ends in .yaml/.yml.
    file: String,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The suite file (YAML or JSON).
    file: String,
    /// A variable for the suite, e.g. --var base_url=https://beta.example.com (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Stop after this long, reporting unfinished tests as not run.
    #[arg(long, default_value = "15m")]
    timeout: String,
    /// The full results as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// A line on stderr as each test finishes: auto (when stderr is a terminal), always or never.
    #[arg(long, value_enum, default_value_t = ShowProgress::Auto)]
    progress: ShowProgress,
}

/// When a long command shows its progress on stderr (stdout keeps only the result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowProgress {
    Auto,
    Always,
    Never,
}

impl ShowProgress {
    fn shown(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ShowProgress::Auto => std::io::stderr().is_terminal(),
            ShowProgress::Always => true,
            ShowProgress::Never => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// The suite file (YAML or JSON).
    file: String,
    #[command(flatten)]
    at: crate::aws::StageArgs,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    at: crate::aws::StageArgs,
    /// One JSON value instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
}

/// Reads and checks a suite file; errors name the file and the field.
pub fn load(file: &str) -> Result<Suite, crate::error::CliError> {
    let text = std::fs::read_to_string(file).map_err(|error| format!("{file}: cannot read it: {error}"))?;
    let yaml = file.ends_with(".yaml") || file.ends_with(".yml");
    let parsed = if yaml {
        let value: serde_json::Value =
            serde_yaml::from_str(&text).map_err(|error| format!("{file}: not valid YAML: {error}"))?;
        Suite::from_value(value)
    } else {
        Suite::from_json(&text)
    };
    parsed.map_err(|error| format!("{file}: {error}").into())
}

pub fn validate(args: &FileArgs) -> Result<String, crate::error::CliError> {
    let suite = load(&args.file)?;
    let count =
        |kind: fn(&handsoff::suite::model::TestCase) -> bool| suite.tests.iter().filter(|test| kind(test)).count();
    let needed: Vec<&str> = suite
        .vars
        .iter()
        .filter(|(_, default)| default.is_none())
        .map(|(name, _)| name.as_str())
        .collect();
    if args.json {
        return Ok(serde_json::json!({
            "file": args.file, "suite": suite.name, "valid": true, "tests": suite.tests.len(),
            "http": count(|test| test.http.is_some()), "lambda": count(|test| test.lambda.is_some()),
            "traffic": count(|test| test.traffic.is_some()), "stage_must_supply": needed,
        })
        .to_string());
    }
    Ok(format!(
        "{}: suite `{}` is valid: {} tests ({} http, {} lambda, {} traffic); the stage must supply: {}",
        args.file,
        suite.name,
        suite.tests.len(),
        count(|test| test.http.is_some()),
        count(|test| test.lambda.is_some()),
        count(|test| test.traffic.is_some()),
        if needed.is_empty() {
            "nothing".to_string()
        } else {
            needed.join(", ")
        }
    ))
}

fn parse_vars(pairs: &[String]) -> Result<BTreeMap<String, String>, crate::error::CliError> {
    pairs
        .iter()
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| format!("--var: `{pair}` is not NAME=VALUE"))?;
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Runs the suite; returns the report and whether it passed.
pub async fn run(args: &RunArgs, aws: &AwsArgs) -> Result<(String, bool), crate::error::CliError> {
    let suite = load(&args.file)?;
    let vars = parse_vars(&args.vars)?;
    let timeout: ShortDuration = args.timeout.parse().map_err(|error| format!("--timeout: {error}"))?;
    let config = config(aws).await;
    let runner = Runner::new(
        // A person runs the suite as themselves: the runner's egress rules are for its role.
        SdkHttpSender::new(&config, handsoff::suite::egress::Egress::open()),
        LambdaInvoker::new(aws_sdk_lambda::Client::new(&config)),
    );
    let deadline = tokio::time::Instant::now() + Duration::max(timeout.0, Duration::from_millis(1));
    let shown = args.progress.shown();
    let progress = |progress: Progress<'_>| {
        if shown {
            eprintln!("{}", progress.line());
        }
    };
    let summary = runner
        .run_reporting(&suite, &vars, deadline, uuid::Uuid::new_v4().to_string(), &progress)
        .await
        .map_err(|error| format!("{}: {error}", args.file))?;
    let text = if args.json {
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    } else {
        summary.render().trim_end().to_string()
    };
    Ok((text, summary.ok))
}

pub async fn put(args: &PutArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    args.at.checked()?;
    let suite = load(&args.file)?;
    let store = store(aws, &args.table).await?;
    let by = caller(aws).await?;
    let version = store
        .put_suite(&args.at.pipeline, &args.at.stage, &suite, &by, Timestamp::now())
        .await?;
    if args.json {
        return Ok(serde_json::json!({
            "suite": suite.name, "pipeline": args.at.pipeline, "stage": args.at.stage,
            "version": version, "tests": suite.tests.len(), "by": by,
        })
        .to_string());
    }
    Ok(format!(
        "stored suite `{}` for {}/{} as version {version} ({} tests)",
        suite.name,
        args.at.pipeline,
        args.at.stage,
        suite.tests.len()
    ))
}

pub async fn list(args: &ListArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    args.at.checked()?;
    let store = store(aws, &args.table).await?;
    let suites = store.suites(&args.at.pipeline, &args.at.stage).await?;
    if args.json {
        let rows: Vec<serde_json::Value> = suites
            .iter()
            .map(|stored| {
                serde_json::json!({
                    "name": stored.name,
                    "version": stored.version,
                    "updated_at": stored.updated_at.to_string(),
                    "updated_by": stored.updated_by,
                    "tests": stored.suite.tests.len(),
                })
            })
            .collect();
        return Ok(serde_json::Value::Array(rows).to_string());
    }
    if suites.is_empty() {
        return Ok(format!(
            "no suites for {}/{}: its post-stage validation fails until one is put",
            args.at.pipeline, args.at.stage
        ));
    }
    let mut lines = vec![format!(
        "{:<24} {:>7} {:>5} {:<22} UPDATED BY",
        "NAME", "VERSION", "TESTS", "UPDATED"
    )];
    for stored in &suites {
        lines.push(format!(
            "{:<24} {:>7} {:>5} {:<22} {}",
            stored.name,
            stored.version,
            stored.suite.tests.len(),
            stored.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            stored.updated_by
        ));
    }
    Ok(lines.join("\n"))
}

//! `handsoff`: what operators do by hand — ask when the window opens, override a blocker with a
//! reason, clear a rollback block, check the blockers, read the audit trail.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod aws;
mod canary;
mod check;
mod dashboard;
mod error;
mod expiry;
mod freeze;
mod overrides;
mod pipeline;
mod policy;
mod report;
mod status;
mod stored_policy;
mod suites;
mod window;

#[derive(Debug, Parser)]
#[command(
    name = "handsoff",
    version,
    about = "Safe, hands-off deployments: the operator's command"
)]
struct Cli {
    #[command(flatten)]
    aws: aws::AwsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Is the deployment window open now (or at --at)? When does that change?
    Window(window::WindowArgs),
    /// Judge a canary against its baseline.
    #[command(subcommand)]
    Canary(canary::CanaryCommand),
    /// Evaluate a policy's blockers (windows, alarms) now and say why. Exit 3 when blocked.
    Check(check::CheckArgs),
    /// Overrides of the alarm blocker: create, list, revoke.
    #[command(subcommand)]
    Override(overrides::OverrideCommand),
    /// Clear the block a rollback left on a stage.
    Unblock(overrides::UnblockArgs),
    /// Show a stage's audit trail: decisions, overrides, blocks.
    Audit(overrides::AuditArgs),
    /// The state table.
    #[command(subcommand)]
    Table(overrides::TableCommand),
    /// Validation suites: validate, run, put, list.
    #[command(subcommand)]
    Suite(suites::SuiteCommand),
    /// Where every stage stands: proceeding, waiting, baking, blocked, rolled back; why; overrides.
    Status(status::StatusArgs),
    /// Delivery metrics from the audit trail: deployments a day, change failure rate, time to restore.
    Report(report::ReportArgs),
    /// Every pipeline by stage as a web page: written to a folder, or served live.
    Dashboard(dashboard::DashboardArgs),
    /// Policies: validate, print the JSON Schema; store, read, diff and explain managed policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Change freezes: close every time-window gate in scope for a span, with a reason.
    #[command(subcommand)]
    Freeze(freeze::FreezeCommand),
    /// Release plans: synthesize the multi-region pipeline, print the rollout's schedule.
    #[command(subcommand)]
    Pipeline(pipeline::PipelineCommand),
    /// Print a completion script for your shell, e.g. `handsoff completions bash > ~/.local/share/bash-completion/completions/handsoff`.
    Completions(CompletionsArgs),
}

#[derive(Debug, clap::Args)]
struct CompletionsArgs {
    /// The shell to complete in.
    shell: clap_complete::Shell,
}

/// The completion script for `shell`.
fn completions(args: &CompletionsArgs) -> String {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "handsoff",
        &mut script,
    );
    String::from_utf8_lossy(&script).trim_end().to_string()
}

/// Exit status when `check` finds a blocker or `suite run` a failed test (errors exit 1, usage
/// errors 2).
const BLOCKED: u8 = 3;

async fn run(cli: Cli) -> Result<(String, u8), crate::error::CliError> {
    let aws = &cli.aws;
    let text = match &cli.command {
        Command::Window(args) => window::run(args)?,
        Command::Canary(canary::CanaryCommand::Judge(args)) => canary::judge_command(args)?,
        Command::Canary(canary::CanaryCommand::Watch(args)) => canary::watch_command(args)?,
        Command::Check(args) => {
            let checked = check::run(args, aws).await?;
            return Ok((checked.text, if checked.all_proceed { 0 } else { BLOCKED }));
        }
        Command::Override(overrides::OverrideCommand::Create(args)) => overrides::create(args, aws).await?,
        Command::Override(overrides::OverrideCommand::List(args)) => overrides::list(args, aws).await?,
        Command::Override(overrides::OverrideCommand::Revoke(args)) => overrides::revoke(args, aws).await?,
        Command::Unblock(args) => overrides::unblock(args, aws).await?,
        Command::Audit(args) => overrides::audit(args, aws).await?,
        Command::Table(overrides::TableCommand::Create(args)) => overrides::create_table(args, aws).await?,
        Command::Suite(suites::SuiteCommand::Validate(args)) => suites::validate(args)?,
        Command::Suite(suites::SuiteCommand::Run(args)) => {
            let (text, passed) = suites::run(args, aws).await?;
            return Ok((text, if passed { 0 } else { BLOCKED }));
        }
        Command::Suite(suites::SuiteCommand::Put(args)) => suites::put(args, aws).await?,
        Command::Suite(suites::SuiteCommand::List(args)) => suites::list(args, aws).await?,
        Command::Status(args) => status::run(args, aws).await?,
        Command::Policy(policy::PolicyCommand::Validate(args)) => policy::validate(args)?,
        Command::Policy(policy::PolicyCommand::Schema(args)) => policy::schema(args),
        Command::Policy(policy::PolicyCommand::Put(args)) => stored_policy::put(args, aws).await?,
        Command::Policy(policy::PolicyCommand::Get(args)) => stored_policy::get(args, aws).await?,
        Command::Policy(policy::PolicyCommand::List(args)) => stored_policy::list(args, aws).await?,
        Command::Policy(policy::PolicyCommand::History(args)) => stored_policy::history(args, aws).await?,
        Command::Policy(policy::PolicyCommand::Diff(args)) => stored_policy::diff(args, aws).await?,
        Command::Policy(policy::PolicyCommand::Explain(args)) => stored_policy::explain(args, aws).await?,
        Command::Freeze(freeze::FreezeCommand::Create(args)) => freeze::create(args, aws).await?,
        Command::Freeze(freeze::FreezeCommand::List(args)) => freeze::list(args, aws).await?,
        Command::Freeze(freeze::FreezeCommand::Lift(args)) => freeze::lift(args, aws).await?,
        Command::Dashboard(args) => dashboard::run(args, aws).await?,
        Command::Report(args) => report::run(args, aws).await?,
        Command::Pipeline(pipeline::PipelineCommand::Synth(args)) => pipeline::synth_command(args)?,
        Command::Pipeline(pipeline::PipelineCommand::Plan(args)) => pipeline::plan_command(args)?,
        Command::Pipeline(pipeline::PipelineCommand::Regions(args)) => pipeline::regions_command(args)?,
        Command::Completions(args) => completions(args),
    };
    Ok((text, 0))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok((output, code)) => {
            println!("{output}");
            ExitCode::from(code)
        }
        Err(error) => {
            // A script that asked for JSON gets its error as JSON too.
            if std::env::args().any(|arg| arg == "--json") {
                eprintln!("{}", error.to_json());
            } else {
                eprintln!("error: {error}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command and every flag says what it is for in `--help`.
    #[test]
    fn every_command_and_flag_has_help() {
        fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            if command.get_about().is_none() && path != " handsoff" {
                missing.push(format!("{path}: the command"));
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path}: {id}"));
                }
            }
            for sub in command.get_subcommands() {
                check(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        check(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help for:\n{}", missing.join("\n"));
        Cli::command().debug_assert();
    }
}

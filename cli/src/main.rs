//! `handsoff`: what operators do by hand — ask when the window opens, and (as the other gates
//! land) override a blocker, judge a canary, run a suite, run the whole thing locally.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod window;

#[derive(Debug, Parser)]
#[command(
    name = "handsoff",
    version,
    about = "Safe, hands-off deployments: the operator's command"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Is the deployment window open now (or at --at)? When does that change?
    Window(window::WindowArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Window(args) => window::run(&args),
    };
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

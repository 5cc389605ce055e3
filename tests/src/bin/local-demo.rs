//! The demo: the whole safety net on this machine. Starts the local stack (moto_server, cargo
//! lambda watch with the six functions, the router), then runs two production waves through the
//! safe-stage state machine and prints each decision, its reason and its evidence:
//!
//! 1. a healthy one-box: the window is open, no alarm, the bake reaches its traffic floor, the
//!    canary is no worse than the fleet → the wave succeeds;
//! 2. the one-box's alarm fires during the bake → the alias goes back to the old version, and the stage
//!    stays blocked until `handsoff unblock`.
//!
//! Run it with `scripts/demo`. Exit status 0 when both behave as they should.

use std::process::ExitCode;

use aws_sdk_cloudwatch::types::StateValue;
use handsoff_e2e::scenarios::{self, World};

#[tokio::main]
async fn main() -> ExitCode {
    match demo().await {
        Ok(()) => {
            println!("\nBoth waves behaved as they should: the healthy one went out, the bad one went back.");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("\ndemo failed: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn demo() -> Result<(), String> {
    println!(
        "Starting the local stack: moto_server, cargo lambda watch with {}, and the router…",
        scenarios::functions().join(", ")
    );
    let world = World::prepare().await?;
    println!(
        "orders-api is deployed as a one-box: alias `live` sends 90% to version {} and 10% to version {}.\n",
        world.old_version, world.new_version
    );

    println!("Wave 1: a healthy one-box (window open, no alarm, bake to its floor, canary vs fleet)");
    let run = scenarios::healthy(&world).await?;
    print!("{}", run.timeline());
    let (primary, one_box) = world.alias().await?;
    println!("  alias live: version {primary}, one-box {one_box:?}");
    if run.status != "SUCCEEDED" {
        return Err(format!("the healthy wave ended {}", run.status));
    }

    drop(world);
    let world = World::prepare().await?;
    println!(
        "\nWave 2: the one-box's alarm `{}` fires during the bake",
        scenarios::ONEBOX_ALARM
    );
    let run = scenarios::alarm_during_bake(&world).await?;
    print!("{}", run.timeline());
    let (primary, one_box) = world.alias().await?;
    println!("  alias live after the rollback: version {primary}, one-box {one_box:?}");
    if run.error.as_deref() != Some("Handsoff.RolledBack") || one_box.is_some() {
        return Err("the bad wave was not rolled back".into());
    }
    world
        .set_alarm(scenarios::ONEBOX_ALARM, StateValue::Ok, "recovered")
        .await?;
    match scenarios::alarm_blocker_says(&world, "Prod-1") {
        Err((error, message)) => {
            println!("  the alarm recovered, and the next deployment to Prod-1 is still refused: {error}: {message}")
        }
        Ok(decision) => return Err(format!("the stage was not blocked after the rollback: {decision}")),
    }
    let (code, output) = world.handsoff(&[
        "unblock",
        "--pipeline",
        "orders",
        "--stage",
        "Prod-1",
        "--reason",
        "fix deployed and verified",
    ]);
    println!(
        "  $ handsoff unblock --pipeline orders --stage Prod-1 --reason \"fix deployed and verified\"\n  {}",
        output.trim()
    );
    if code != 0 {
        return Err(format!("handsoff unblock exited {code}"));
    }
    let decision =
        scenarios::alarm_blocker_says(&world, "Prod-1").map_err(|(error, message)| format!("{error}: {message}"))?;
    println!(
        "  alarm-blocker now: {} — {}",
        decision["decision"], decision["reasons"][0]
    );
    Ok(())
}

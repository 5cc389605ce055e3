//! The demo: the whole safety net on this machine, off AWS.
//!
//! The main story is a release: the plan in tests/plans/release-e2e.yaml (3 waves, 4 regions)
//! is synthesized into its pipeline, the local stack starts in all four regions (moto_server,
//! the six functions in each, the router), and the pipeline's stages run in order. The one-box in
//! eu-west-1 (wave 2) has five times the fleet's errors: that region rolls back and blocks its
//! stage, wave 3 never starts, and wave 1 keeps the new version. Every decision is printed with
//! its reason, as a timeline.
//!
//! Then the gates up close, through safe-stage in one region:
//!
//! 1. a healthy one-box: the window is open, no alarm, the bake reaches its traffic floor, the
//!    canary is no worse than the fleet → the wave succeeds;
//! 2. the one-box's alarm fires during the bake → the alias goes back to the old version, and the stage
//!    stays blocked until `handsoff unblock`.
//!
//! Then managed policies: policies stored in layers, a stage's new version changing the time-window
//! gate's very next decision, a stage refused for shortening the organisation's minimum bake, and
//! a change freeze on two pipelines lifted early.
//!
//! Run it with `scripts/demo`. Exit status 0 when all of it behaves as it should.

use std::process::ExitCode;

use aws_sdk_cloudwatch::types::StateValue;
use handsoff_e2e::release_run::{self, ReleaseWorld};
use handsoff_e2e::scenarios::{self, World};
use handsoff_release::{ReleasePlan, schedule};

#[tokio::main]
async fn main() -> ExitCode {
    match demo().await {
        Ok(()) => {
            println!(
                "\nEverything behaved as it should: the bad region went back and stopped the release, the healthy waves went out, and the stored policies and the freeze decided the gate."
            );
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("\ndemo failed: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// Where an alias points, as a sentence.
fn describe((version, weighted): &(String, Option<(String, f64)>)) -> String {
    match weighted {
        None => format!("version {version} only"),
        Some((other, weight)) => format!("version {version}, with {:.0}% to version {other}", weight * 100.0),
    }
}

async fn demo() -> Result<(), String> {
    release().await?;
    gates_up_close().await?;
    managed_policies()
}

/// The first line a command printed, indented for the transcript.
fn first_line(text: &str) -> String {
    format!("  {}", text.trim().lines().next().unwrap_or(""))
}

fn managed_policies() -> Result<(), String> {
    use handsoff_e2e::managed_policies::{self, versions};
    println!("\n== Managed policies: stored in layers, changed without redeploying, frozen and lifted\n");
    let stack = handsoff_e2e::local_stack::LocalStack::start();
    let run = managed_policies::run(&stack)?;
    let reason = |decision: &serde_json::Value| decision["reasons"][0].as_str().unwrap_or("").to_string();
    let verdict = |decision: &serde_json::Value| decision["decision"].as_str().unwrap_or("?").to_string();
    println!(
        "Stored: an org layer (open all week, a 1h minimum bake no one may shorten), a layer per pipeline, one for orders/Prod."
    );
    println!(
        "time-window-gate for orders/Prod: {} ({})",
        verdict(&run.first),
        versions(&run.first)
    );
    println!(
        "$ handsoff policy put deny-migration.json --pipeline orders --stage Prod\n{}",
        first_line(&run.put.output())
    );
    println!(
        "time-window-gate for orders/Prod: {} — {} ({})",
        verdict(&run.after_put),
        reason(&run.after_put),
        versions(&run.after_put)
    );
    println!("$ handsoff policy explain --pipeline orders --stage Prod");
    for line in run.explain.output().trim().lines() {
        println!("  {line}");
    }
    println!(
        "$ handsoff policy put shorter-bake.json --pipeline orders --stage Prod\n{}",
        first_line(&run.lowering.output())
    );
    println!(
        "(the stage's layer back to open) time-window-gate for orders/Prod: {}",
        verdict(&run.reopened)
    );
    println!(
        "$ handsoff freeze create --to <in 2 hours> --reason \"payments migration\" --pipelines orders,payments\n{}",
        first_line(&run.freeze.output())
    );
    for (pipeline, decision) in &run.frozen {
        println!(
            "  time-window-gate for {pipeline}/Prod: {} — {}",
            verdict(decision),
            reason(decision)
        );
    }
    println!(
        "$ handsoff freeze lift {} --reason \"migration done early\"\n{}",
        run.freeze_id,
        first_line(&run.lift.output())
    );
    for (pipeline, decision) in &run.lifted {
        println!("  time-window-gate for {pipeline}/Prod: {}", verdict(decision));
    }
    let frozen_right = run
        .frozen
        .iter()
        .all(|(pipeline, decision)| (decision["decision"] == "wait") == (pipeline != "search"));
    let reopened = run.lifted.iter().all(|(_, decision)| decision["decision"] == "proceed");
    if run.after_put["decision"] != "wait" || run.lowering.code != 1 || !frozen_right || !reopened {
        return Err("the managed policies did not decide as they should".into());
    }
    Ok(())
}

async fn release() -> Result<(), String> {
    let plan = ReleasePlan::parse(release_run::PLAN).map_err(|error| error.to_string())?;
    println!("== A release of orders-api: 3 waves over 4 regions (tests/plans/release-e2e.yaml)\n");
    let earliest = schedule::earliest(&plan, jiff::Timestamp::now()).map_err(|error| error.to_string())?;
    println!("$ handsoff pipeline plan --plan tests/plans/release-e2e.yaml   (bakes of seconds, for the demo)");
    for line in earliest.to_text().lines().filter(|line| !line.starts_with("    ")) {
        println!("  {line}");
    }
    println!("\nStarting the local stack in {}…", plan.regions().join(", "));
    let world = ReleaseWorld::prepare().await?;
    println!(
        "Every region serves orders-api version 1 behind `live`. In eu-west-1 (wave 2), the new version's one-box has five times the fleet's errors.\n"
    );
    world.serve_traffic(Some("eu-west-1")).await?;
    let release = world.release().await?;
    print!("{}", release.timeline());
    println!("\nWhere each region's alias ends:");
    for region in plan.regions() {
        println!("  {region:<15} {}", describe(&world.alias(&region).await?));
    }
    match world.alarm_blocker_says("eu-west-1", "Wave-2") {
        Err((error, message)) => {
            println!("\nThe next release into eu-west-1 is refused until someone unblocks it: {error}: {message}")
        }
        Ok(decision) => return Err(format!("eu-west-1 was not blocked after its rollback: {decision}")),
    }
    let statuses: Vec<&str> = release.stages.iter().map(|stage| stage.status.as_str()).collect();
    if statuses != ["Succeeded", "Failed", "NotStarted"] || world.alias("eu-west-1").await?.0 != "1" {
        return Err(format!("the release did not stop at the bad region: {statuses:?}"));
    }
    Ok(())
}

async fn gates_up_close() -> Result<(), String> {
    println!("\n== The gates up close: two waves through safe-stage in one region\n");
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
    let alias = world.alias().await?;
    println!("  alias live: {}", describe(&alias));
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
    let alias = world.alias().await?;
    println!("  alias live after the rollback: {}", describe(&alias));
    if run.error.as_deref() != Some("Handsoff.RolledBack") || alias.1.is_some() {
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
        decision["decision"].as_str().unwrap_or("?"),
        decision["reasons"][0].as_str().unwrap_or("")
    );
    Ok(())
}

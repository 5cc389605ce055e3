//! The end-to-end scenarios on the local stack (moto_server + cargo lambda watch + the router):
//! the six real function binaries, through the real state machines. Each test starts and tears
//! down its own stack.

use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use handsoff_e2e::scenarios::{self, World, verdicts};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn healthy_wave_passes_every_gate_and_succeeds() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let run = scenarios::healthy(&world).await.unwrap();
        assert_eq!(run.status, "SUCCEEDED", "{}\n{}", run.timeline(), world.stack.output());
        let verdicts = verdicts(&run);
        assert_eq!(verdicts["alarm-blocker"], ["proceed"], "{}", run.timeline());
        assert_eq!(verdicts["time-window-gate"], ["proceed"]);
        // The bake waits out its 10 seconds, then passes with the floor met.
        assert_eq!(verdicts["bake-time-waiter"].first().map(String::as_str), Some("wait"));
        assert_eq!(verdicts["bake-time-waiter"].last().map(String::as_str), Some("proceed"));
        assert_eq!(verdicts["canary-evaluator"], ["pass"], "{}", run.timeline());
        assert!(!verdicts.contains_key("rollback-trigger"));
        let (primary, one_box) = world.alias().await.unwrap();
        assert_eq!(
            (primary, one_box.map(|(version, _)| version)),
            (world.old_version.clone(), Some(world.new_version.clone()))
        );
    });
}

#[test]
fn an_alarm_during_bake_rolls_back_and_blocks_the_stage_until_unblocked() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        let run = scenarios::alarm_during_bake(&world).await.unwrap();
        assert_eq!(
            (run.status.as_str(), run.error.as_deref()),
            ("FAILED", Some("Handsoff.RolledBack")),
            "{}\n{}",
            run.timeline(),
            world.stack.output()
        );
        let cause = run.cause.clone().unwrap_or_default();
        assert!(cause.contains(scenarios::ALARM), "{cause}");
        assert_eq!(verdicts(&run)["rollback-trigger"].len(), 1, "{}", run.timeline());
        // The alias is back on the old version, with no traffic to the new one.
        let (primary, one_box) = world.alias().await.unwrap();
        assert_eq!((primary, one_box), (world.old_version.clone(), None));

        // The alarm recovers, but the stage stays blocked until someone unblocks it.
        world.set_alarm(StateValue::Ok, "recovered").await.unwrap();
        let (error_type, message) = scenarios::alarm_blocker_says(&world, "Prod-1").unwrap_err();
        assert_eq!(error_type, "Blocked", "{message}");
        assert!(message.contains("rolled back"), "{message}");
        let (code, output) = world.handsoff(&[
            "unblock",
            "--pipeline",
            "orders",
            "--stage",
            "Prod-1",
            "--reason",
            "fix deployed and verified",
        ]);
        assert_eq!(code, 0, "{output}");
        let decision = scenarios::alarm_blocker_says(&world, "Prod-1").unwrap();
        assert_eq!(decision["decision"], "proceed", "{decision}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}

//! A 3-wave, 4-region release of a Lambda service, run from its synthesized pipeline on the
//! local stack (moto serving every region, the six functions running in each).

use std::time::Duration;

use handsoff_e2e::release_run::{Release, ReleaseWorld};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn statuses(release: &Release) -> Vec<(String, String)> {
    release
        .stages
        .iter()
        .map(|stage| (stage.name.clone(), stage.status.clone()))
        .collect()
}

/// Scenario A: every wave passes; every region's alias ends wholly on the new version.
#[test]
fn a_healthy_release_goes_out_to_every_region_wave_by_wave() {
    runtime().block_on(async {
        let world = ReleaseWorld::prepare().await.unwrap();
        world.serve_traffic(None).await.unwrap();
        let release = world.release().await.unwrap();
        let explain = format!("{}\n{}", release.timeline(), world.stack.output());
        assert_eq!(
            statuses(&release),
            [
                ("Wave-1".into(), "Succeeded".into()),
                ("Wave-2".into(), "Succeeded".into()),
                ("Wave-3".into(), "Succeeded".into())
            ],
            "{explain}"
        );
        for region in world.plan.regions() {
            assert_eq!(
                world.alias(&region).await.unwrap(),
                ("2".to_string(), None),
                "{region}\n{explain}"
            );
            let run = &release.region(&region).unwrap().run;
            assert_eq!(
                run.decisions_of("canary-evaluator")
                    .last()
                    .map(|d| d["decision"].clone()),
                Some("pass".into()),
                "{region}"
            );
        }
        // Wave 2 started only after wave 1 ended, and wave 3 after wave 2.
        let start = |region: &str| release.region(region).unwrap().started_at;
        assert!(start("us-west-2") < start("us-east-1") && start("eu-west-1") < start("ap-southeast-2"));
        let _ = Duration::ZERO;
    });
}

/// Scenario B: one wave-2 region's one-box has 5x the fleet's errors. That region rolls back and
/// blocks its stage; its wave fails; wave 3 never starts; wave 1 and the healthy wave-2 region
/// keep the new version.
#[test]
fn a_bad_one_box_in_wave_2_rolls_its_region_back_and_wave_3_never_starts() {
    runtime().block_on(async {
        let world = ReleaseWorld::prepare().await.unwrap();
        world.serve_traffic(Some("eu-west-1")).await.unwrap();
        let release = world.release().await.unwrap();
        let explain = format!("{}\n{}", release.timeline(), world.stack.output());
        assert_eq!(
            statuses(&release),
            [
                ("Wave-1".into(), "Succeeded".into()),
                ("Wave-2".into(), "Failed".into()),
                ("Wave-3".into(), "NotStarted".into())
            ],
            "{explain}"
        );
        let bad = &release.region("eu-west-1").unwrap().run;
        assert_eq!(bad.error.as_deref(), Some("Handsoff.RolledBack"), "{explain}");
        assert_eq!(bad.decisions_of("rollback-trigger").len(), 1, "{explain}");
        assert_eq!(
            world.alias("eu-west-1").await.unwrap(),
            ("1".to_string(), None),
            "{explain}"
        );
        assert_eq!(world.alias("us-west-2").await.unwrap(), ("2".to_string(), None));
        assert_eq!(world.alias("us-east-1").await.unwrap(), ("2".to_string(), None));
        // Wave 3's region never got the new code, let alone traffic.
        assert_eq!(world.alias("ap-southeast-2").await.unwrap(), ("1".to_string(), None));
        assert!(release.region("ap-southeast-2").is_none());
        // The rolled-back region's stage stays blocked until someone unblocks it; others are not.
        let (error, message) = world.alarm_blocker_says("eu-west-1", "Wave-2").unwrap_err();
        assert_eq!(error, "Blocked", "{message}");
        assert!(message.contains("rolled back"), "{message}");
        assert_eq!(
            world.alarm_blocker_says("us-east-1", "Wave-2").unwrap()["decision"],
            "proceed"
        );
    });
}

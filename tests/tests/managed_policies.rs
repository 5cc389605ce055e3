//! Managed policies on the local stack: the real time-window-gate under cargo lambda watch,
//! the real `handsoff` command, one moto (the scenario is `handsoff_e2e::managed_policies`, which
//! the demo runs too). A policy stored with `policy put` changes the gate's next decision without
//! redeploying anything, and the decision names the versions; `explain` shows the layers; a stage
//! that tries to lower a forbidden field is refused; a freeze closes two pipelines' windows (not
//! a third's) and lifting it reopens them.

use handsoff_e2e::local_stack::LocalStack;
use handsoff_e2e::managed_policies::{run, versions};

#[test]
fn stored_policies_change_the_next_decision_and_a_freeze_closes_two_pipelines_until_lifted() {
    let stack = LocalStack::start();
    let run = run(&stack).unwrap_or_else(|problem| panic!("{problem}\n{}", stack.output()));

    assert_eq!(run.first["decision"], "proceed", "{}", run.first);
    assert_eq!(
        versions(&run.first),
        "org v1 + pipeline orders v1 + stage orders/Prod v1"
    );

    // The very next decision after the put waits on the new deny dates, and names version 2.
    assert_eq!(
        run.put.output().trim(),
        "stored the stage orders/Prod policy as version 2 (was 1); the next decision uses it"
    );
    assert_eq!(run.after_put["decision"], "wait", "{}", run.after_put);
    assert!(
        run.after_put["reasons"][0]
            .as_str()
            .unwrap()
            .contains("database migration"),
        "{}",
        run.after_put
    );
    assert_eq!(
        versions(&run.after_put),
        "org v1 + pipeline orders v1 + stage orders/Prod v2"
    );

    let explain = &run.explain.output();
    assert_eq!(run.explain.code, 0, "{explain}");
    assert!(
        explain.starts_with("effective policy of orders/Prod: org v1 + pipeline orders v1 + stage orders/Prod v2"),
        "{explain}"
    );
    let line_of = |field: &str| {
        explain
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{field} = ")))
            .unwrap_or_else(|| panic!("{field} not in:\n{explain}"))
            .to_string()
    };
    assert!(
        line_of("windows.deny[0]").ends_with("from stage orders/Prod v2"),
        "{explain}"
    );
    assert!(line_of("bake.duration").ends_with("from org v1"), "{explain}");
    assert!(
        line_of("alarms.watch[0]").ends_with("from pipeline orders v1"),
        "{explain}"
    );

    assert_eq!(run.lowering.code, 1, "{}", run.lowering.output());
    assert!(
        run.lowering.output().contains(
            "refused: stage orders/Prod v3: bake.duration: `10m` is shorter than `1h`; org v1 forbids lowering it"
        ),
        "{}",
        run.lowering.output()
    );

    assert_eq!(run.reopened["decision"], "proceed", "{}", run.reopened);
    assert!(
        run.freeze.output().starts_with("froze orders, payments from "),
        "{}",
        run.freeze.output()
    );
    for (pipeline, decision) in &run.frozen {
        if pipeline == "search" {
            assert_eq!(
                decision["decision"], "proceed",
                "a freeze closes only the pipelines it names: {decision}"
            );
            continue;
        }
        assert_eq!(decision["decision"], "wait", "{pipeline}: {decision}");
        assert_eq!(decision["evidence"]["freeze"]["id"], run.freeze_id.as_str());
        assert!(
            decision["reasons"][0].as_str().unwrap().contains("payments migration"),
            "{decision}"
        );
    }
    assert!(
        run.lift.output().starts_with(&format!("lifted {}", run.freeze_id)),
        "{}",
        run.lift.output()
    );
    for (pipeline, decision) in &run.lifted {
        assert_eq!(decision["decision"], "proceed", "{pipeline} after the lift: {decision}");
    }
}

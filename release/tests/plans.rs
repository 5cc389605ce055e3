//! Release plans as a team writes them: the example reads as documented, every mistake names
//! its field, and the earliest schedule matches one worked out by hand.

use handsoff_release::{ReleasePlan, resolve, schedule};
use jiff::Timestamp;
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../../examples/release/release.yaml");

fn example() -> ReleasePlan {
    ReleasePlan::parse(EXAMPLE).unwrap()
}

/// The example with one change made to its JSON form.
fn example_with(change: impl FnOnce(&mut Value)) -> Result<ReleasePlan, handsoff_release::PlanError> {
    let mut value: Value = serde_yaml::from_str(EXAMPLE).unwrap();
    change(&mut value);
    ReleasePlan::parse(&value.to_string())
}

fn error_of(change: impl FnOnce(&mut Value)) -> (String, String) {
    let error = example_with(change).unwrap_err();
    (error.path, error.message)
}

#[test]
fn the_example_plan_resolves_each_region_with_its_own_alarms_and_windows() {
    let plan = example();
    assert_eq!(
        plan.regions(),
        ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
    );
    let releases = resolve::releases(&plan).unwrap();
    let names: Vec<(String, String)> = releases.iter().map(|r| (r.wave.clone(), r.region.clone())).collect();
    assert_eq!(
        names,
        [
            ("Wave-1".into(), "us-west-2".into()),
            ("Wave-2".into(), "us-east-1".into()),
            ("Wave-3".into(), "eu-west-1".into()),
            ("Wave-3".into(), "ap-southeast-2".into())
        ]
    );
    let dublin = &releases[2].input;
    assert_eq!(
        dublin["policy"]["alarms"]["watch"],
        json!([{"names": ["orders-eu-west-1-high-sev"]}])
    );
    assert_eq!(dublin["policy"]["windows"]["timezone"], json!("Europe/Dublin"));
    // The region override merged into the windows: the plan's allow and deny stay.
    assert_eq!(dublin["policy"]["windows"]["allow"][0]["days"], json!("Mon-Thu"));
    // Bakes by position: 1h one-box everywhere; 12h, 4h, 3h for the region.
    let bakes: Vec<(String, String)> = releases
        .iter()
        .map(|r| {
            (
                r.input["policy"]["bake"]["duration"].as_str().unwrap().to_string(),
                r.input["fleet_policy"]["bake"]["duration"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        bakes,
        [
            ("1h".into(), "12h".into()),
            ("1h".into(), "4h".into()),
            ("1h".into(), "3h".into()),
            ("1h".into(), "3h".into())
        ]
    );
    // The fleet bake watches the one-box's alarms and the region's aggregate alarm.
    assert_eq!(
        dublin["fleet_policy"]["bake"]["alarms"],
        json!([{"names": ["orders-eu-west-1-onebox-faults"]}, {"names": ["orders-eu-west-1-high-sev"]}])
    );
    // The canary judges the target's alias unless the plan says otherwise.
    assert_eq!(
        dublin["policy"]["canary"]["lambda_alias"],
        json!({"function_name": "orders-api", "alias": "live"})
    );
    assert_eq!(
        dublin["target"],
        json!({"function_name": "orders-api", "alias": "live", "one_box_weight": 0.1})
    );
    assert!(dublin["policy"].get("rollback").is_none());
}

/// One change to the example plan.
type Change = Box<dyn FnOnce(&mut Value)>;

#[test]
fn every_mistake_names_its_field_and_what_is_allowed() {
    let cases: Vec<(Change, &str, &str)> = vec![
        (
            Box::new(|v| v["waves"][1]["regions"][0] = json!("us-west-2")),
            "waves[1].regions[0]",
            "already in an earlier wave",
        ),
        (
            Box::new(|v| v["waves"][2]["regions"][1] = json!("mars-1")),
            "waves[2].regions[1]",
            "not an AWS region",
        ),
        (Box::new(|v| v["waves"] = json!([])), "waves", "at least one wave"),
        (
            Box::new(|v| v["waves"][0]["regions"] = json!([])),
            "waves[0].regions",
            "at least one region",
        ),
        (
            Box::new(|v| v["target"]["lambda"]["one_box_weight"] = json!(0)),
            "target.lambda.one_box_weight",
            "above 0",
        ),
        (
            Box::new(|v| v["target"]["lambda"]["one_box_weight"] = json!(0.9)),
            "target.lambda.one_box_weight",
            "at most 0.5",
        ),
        (
            Box::new(|v| v["target"]["lambda"]["stack"]["rolearn"] = json!("x")),
            "target.lambda.stack.rolearn",
            "unknown field `rolearn`",
        ),
        (
            Box::new(|v| v["source"]["repository"] = json!("orders")),
            "source.repository",
            "owner/name",
        ),
        (
            Box::new(|v| v["policy"]["rollback"] = json!({"actions": []})),
            "waves[0] (us-west-2): policy.rollback",
            "safe-region builds it",
        ),
        (
            Box::new(|v| v["policy"]["bake"]["duration"] = json!("1h")),
            "waves[0] (us-west-2): policy.bake.duration",
            "wave's `bake`",
        ),
        (
            Box::new(|v| {
                v["policy"].as_object_mut().unwrap().remove("windows");
            }),
            "waves[0] (us-west-2): policy.windows",
            "missing",
        ),
        (
            Box::new(|v| v["waves"][2]["region_policy"]["eu-west-1"]["windows"]["timezone"] = json!("Mars/Olympus")),
            "waves[2] (eu-west-1): policy.windows.timezone",
            "",
        ),
        (
            Box::new(|v| v["waves"][2]["region_policy"]["us-west-2"] = json!({})),
            "waves[2].region_policy.us-west-2",
            "not one of this wave's regions",
        ),
        (
            Box::new(|v| v["waves"][0]["name"] = json!("Beta")),
            "waves[0].name",
            "already a stage's name",
        ),
        (
            Box::new(|v| v["waves"][0]["name"] = json!("Wave 1")),
            "waves[0].name",
            "letters, digits and '-'",
        ),
        (
            Box::new(|v| v["waves"][0]["bake"] = json!({"one_box": "0s", "fleet": "1h"})),
            "waves[0].bake",
            "no bake",
        ),
        (
            Box::new(|v| v["waves"][0]["regions"] = json!((0..26).map(|n| format!("us-east-{n}")).collect::<Vec<_>>())),
            "waves[0].regions",
            "at most 25 per wave",
        ),
    ];
    for (change, path, message) in cases {
        let (got_path, got_message) = error_of(change);
        assert_eq!(got_path, path, "{got_message}");
        assert!(got_message.contains(message), "{path}: {got_message}");
    }
}

#[test]
fn a_region_waits_for_its_window_three_days_at_most_unless_the_plan_says() {
    let releases = resolve::releases(&example()).unwrap();
    assert_eq!(releases[0].input["policy"]["windows"]["max_wait"], json!("3d"));
    let plan = example_with(|v| v["policy"]["windows"]["max_wait"] = json!("12h")).unwrap();
    assert_eq!(
        resolve::releases(&plan).unwrap()[0].input["policy"]["windows"]["max_wait"],
        json!("12h")
    );
}

#[test]
fn a_schedule_that_would_be_blocked_says_so_instead_of_waiting() {
    // The year-end freeze runs 16 days, longer than the 3-day max_wait.
    let error = schedule::earliest(&example(), at("2026-12-18T20:00:00Z")).unwrap_err();
    assert!(error.path.ends_with("policy.windows.max_wait"), "{error}");
    assert!(error.message.contains("would be blocked"), "{error}");
    let plan = example_with(|v| v["policy"]["windows"]["when_closed"] = json!("fail")).unwrap();
    let error = schedule::earliest(&plan, at("2026-12-07T22:30:00Z")).unwrap_err();
    assert!(error.message.contains("`when_closed` is fail"), "{error}");
}

#[test]
fn a_key_given_twice_or_text_that_is_not_a_plan_is_refused() {
    let twice = EXAMPLE.replacen(
        "home_region: us-east-1",
        "home_region: us-east-1\nhome_region: us-west-2",
        1,
    );
    let error = ReleasePlan::parse(&twice).unwrap_err();
    assert!(error.message.contains("home_region"), "{error}");
    for text in ["", "[1, 2]", "{", "service: [unclosed"] {
        let error = ReleasePlan::parse(text).unwrap_err();
        assert_eq!(error.path, "plan", "{text:?}: {error}");
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Worked out by hand. Windows Mon-Thu 09:00-16:00 Los Angeles (PST, UTC-8), at least 1h left
/// to start; Tuesday 2026-12-08 denied; bakes (one-box + fleet) 1h+12h, 1h+4h, 1h+3h.
/// - Wave-1 starts Mon 14:30 PST (22:30Z; 1.5h of window left): ends Tue 03:30 PST (11:30Z).
/// - Wave-2 at Tue 03:30: Tuesday is denied; Wednesday 09:00 PST (17:00Z Dec 9) it starts; it
///   ends 14:00 PST (22:00Z).
/// - Wave-3 at Wed 14:00 PST: 2h of window left, so it starts at once; ends 18:00 PST, which is
///   Thu 2026-12-10 02:00Z.
#[test]
fn the_earliest_schedule_waits_for_windows_and_deny_dates_as_worked_out_by_hand() {
    let plan = example_with(|v| {
        v["policy"]["windows"]["deny"] = json!([{"date": "2026-12-08", "reason": "Company offsite"}]);
        v["waves"][2]["region_policy"] = json!({});
        v["waves"][0]["bake"] = json!({"one_box": "1h", "fleet": "12h"});
    })
    .unwrap();
    let schedule = schedule::earliest(&plan, at("2026-12-07T22:30:00Z")).unwrap();
    let waves: Vec<(String, Timestamp, Timestamp)> = schedule
        .waves
        .iter()
        .map(|w| (w.name.clone(), w.starts_at, w.ends_at))
        .collect();
    assert_eq!(
        waves,
        [
            ("Wave-1".into(), at("2026-12-07T22:30:00Z"), at("2026-12-08T11:30:00Z")),
            ("Wave-2".into(), at("2026-12-08T11:30:00Z"), at("2026-12-09T22:00:00Z")),
            ("Wave-3".into(), at("2026-12-09T22:00:00Z"), at("2026-12-10T02:00:00Z")),
        ]
    );
    let wave2 = &schedule.waves[1].regions[0];
    assert_eq!(wave2.starts_at, at("2026-12-09T17:00:00Z"));
    assert!(
        wave2
            .waits_for
            .as_deref()
            .unwrap_or_default()
            .contains("Company offsite"),
        "{wave2:?}"
    );
    assert_eq!(schedule.completes_at, at("2026-12-10T02:00:00Z"));
    let text = schedule.to_text();
    assert!(
        text.contains("earliest completion: Thu 2026-12-10 02:00 UTC (2d 3h 30m after the start)"),
        "{text}"
    );
    assert!(text.contains("bake the region on its alarms (at least 12h)"), "{text}");
}

/// The example: the window closes Monday 16:00, so a wave ready Monday evening starts
/// Tuesday 09:00.
#[test]
fn a_wave_ready_after_the_window_closes_starts_when_it_next_opens() {
    let plan = example_with(|v| {
        v["policy"]["windows"]["deny"] = json!([]);
        v["policy"]["windows"]["min_time_left"] = json!("0s");
        v["waves"] =
            json!([{"regions": ["us-west-2"], "bake": {"one_box": "1h", "fleet": "2h"}}, {"regions": ["us-east-1"]}]);
    })
    .unwrap();
    // Monday 13:00 PST: wave 1 ends 16:00 PST, just as the window closes.
    let schedule = schedule::earliest(&plan, at("2026-12-07T21:00:00Z")).unwrap();
    assert_eq!(schedule.waves[1].starts_at, at("2026-12-08T00:00:00Z"));
    assert_eq!(
        schedule.waves[1].regions[0].starts_at,
        at("2026-12-08T17:00:00Z"),
        "Tuesday 09:00 PST"
    );
}

#[test]
fn a_window_that_never_opens_is_an_error_not_a_schedule() {
    let plan = example_with(|v| {
        v["policy"]["windows"]["deny"] = json!([{"from": "2026-01-01", "to": "2028-01-01", "reason": "frozen"}]);
    })
    .unwrap();
    let error = schedule::earliest(&plan, at("2026-12-07T22:30:00Z")).unwrap_err();
    assert!(error.message.contains("never start"), "{error}");
}

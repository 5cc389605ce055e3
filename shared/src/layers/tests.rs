//! The layers' merge, lowering and explain, as worked examples.
use serde_json::json;

use super::*;

fn layer(scope: Scope, version: i64, doc: Value) -> StoredLayer {
    StoredLayer {
        scope,
        version,
        updated_at: "2026-12-01T09:00:00Z".parse().unwrap(),
        updated_by: "arn:aws:sts::123456789012:assumed-role/platform/alice".into(),
        doc: LayerDoc::from_value(doc).unwrap(),
    }
}

fn org() -> StoredLayer {
    layer(
        Scope::Org,
        3,
        json!({
            "windows": {"timezone": "Europe/London", "allow": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}],
                        "deny": [{"date": "2026-12-25", "reason": "Christmas"}]},
            "alarms": {"watch": [{"names": ["org-wide-outage"]}]},
            "bake": {"duration": "1h"},
            "forbid_lowering": ["bake.duration", "windows.deny"]
        }),
    )
}

fn stage(doc: Value) -> StoredLayer {
    layer(Scope::Stage("orders".into(), "Prod".into()), 5, doc)
}

#[test]
fn lists_that_protect_append_others_replace_scalars_override_and_null_removes() {
    let pipeline = layer(
        Scope::Pipeline("orders".into()),
        2,
        json!({"windows": {"allow": [{"days": "Mon-Fri", "start": "10:00", "end": "15:00"}],
                           "deny": [{"date": "2026-12-31", "reason": "year end"}], "min_time_left": "30m"},
               "alarms": {"watch": [{"names": ["orders-5xx"]}]}}),
    );
    let top = stage(json!({"bake": {"duration": "2h"}, "windows": {"min_time_left": null}}));
    let merged = effective("orders", "Prod", &[org(), pipeline, top]).unwrap();
    assert_eq!(
        merged.value["windows"]["allow"],
        json!([{"days": "Mon-Fri", "start": "10:00", "end": "15:00"}])
    );
    assert_eq!(
        merged.value["windows"]["deny"],
        json!([{"date": "2026-12-25", "reason": "Christmas"}, {"date": "2026-12-31", "reason": "year end"}])
    );
    assert_eq!(merged.value["windows"].get("min_time_left"), None);
    assert_eq!(
        merged.value["alarms"]["watch"],
        json!([{"names": ["org-wide-outage"]}, {"names": ["orders-5xx"]}])
    );
    assert_eq!(merged.value["bake"]["duration"], json!("2h"));
    assert_eq!(
        merged.source.summary(),
        "org v3 + pipeline orders v2 + stage orders/Prod v5"
    );
    assert_eq!(merged.policy.bake().unwrap().duration.to_string(), "2h");
}

#[test]
fn a_stage_that_shortens_the_organisations_minimum_bake_is_refused_naming_the_field() {
    let error = effective("orders", "Prod", &[org(), stage(json!({"bake": {"duration": "30m"}}))]).unwrap_err();
    assert_eq!(error.path, "stage orders/Prod v5: bake.duration");
    assert_eq!(
        error.message,
        "`30m` is shorter than `1h`; org v3 forbids lowering it (forbid_lowering)"
    );
    let removed = effective("orders", "Prod", &[org(), stage(json!({"bake": null}))]).unwrap_err();
    assert!(removed.message.starts_with("removes `1h`"), "{removed}");
    let dropped = effective("orders", "Prod", &[org(), stage(json!({"windows": {"deny": null}}))]).unwrap_err();
    assert!(dropped.message.contains("those lists only grow"), "{dropped}");
}

#[test]
fn raising_or_appending_to_a_forbidden_field_is_allowed() {
    let merged = effective(
        "orders",
        "Prod",
        &[org(), stage(json!({"bake": {"duration": "90m"}, "windows": {"deny": [{"date": "2027-01-01", "reason": "new year"}]}}))],
    )
    .unwrap();
    assert_eq!(merged.value["bake"]["duration"], json!("90m"));
}

#[test]
fn floors_may_only_rise_ceilings_only_fall_and_everything_else_is_locked() {
    let lowered = |path: &str, before: Value, after: Value| lowered(path, Some(&before), Some(&after));
    assert_eq!(
        lowered("bake.duration", json!("1h"), json!("30m")).unwrap(),
        "`30m` is shorter than `1h`"
    );
    assert_eq!(
        lowered("canary.judge.min_requests", json!(500), json!(100)).unwrap(),
        "100 is lower than 500"
    );
    assert_eq!(lowered("bake.duration", json!("1h"), json!("2h")), None);
    assert_eq!(lowered("canary.judge.min_requests", json!(500), json!(1000)), None);
    // A higher confidence makes the judge slower to fail a bad canary: that lowers it.
    assert_eq!(
        lowered("canary.judge.confidence", json!(0.99), json!(0.9999)).unwrap(),
        "0.9999 is above 0.99 (a higher value protects less)"
    );
    assert_eq!(lowered("canary.judge.confidence", json!(0.99), json!(0.95)), None);
    assert!(lowered("alarms.max_override_ttl", json!("4h"), json!("1d")).is_some());
    assert_eq!(
        lowered("windows.when_closed", json!("fail"), json!("wait")).unwrap(),
        "`wait` changes `fail`"
    );
    assert_eq!(lowered("windows.when_closed", json!("wait"), json!("wait")), None);
    assert!(
        lowered("bake.duration", json!("1h"), json!(3600)).is_some(),
        "a type change is a change"
    );
    // Appended lists may grow; any other list is locked, additions included (another
    // allow window widens the window).
    assert_eq!(lowered("windows.deny", json!([1, 2]), json!([2, 1, 3])), None);
    assert!(lowered("windows.deny", json!([1, 2]), json!([2])).is_some());
    let allow = json!([{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}]);
    let wider = json!([{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}, {"days": "Sat-Sun", "start": "00:00", "end": "24:00"}]);
    assert!(lowered("windows.allow", allow, wider).is_some());
    // A protected object: each field by its own rule, and a new key may loosen it.
    assert!(
        lowered(
            "canary.judge",
            json!({"confidence": 0.99}),
            json!({"confidence": 0.9999})
        )
        .unwrap()
        .starts_with("confidence: 0.9999 is above 0.99")
    );
    assert_eq!(
        lowered(
            "alarms",
            json!({"watch": [1]}),
            json!({"watch": [1], "insufficient_data": "proceed"})
        )
        .unwrap(),
        "adds `insufficient_data`, which may loosen it"
    );
    assert_eq!(
        lowered("bake", json!({"duration": "1h"}), json!({"duration": "3h"})),
        None
    );
    assert_eq!(super::lowered("bake.duration", None, Some(&json!("1h"))), None);
    assert!(
        lowered("windows.deny", json!([{"date": "x".repeat(500)}]), json!([]))
            .unwrap()
            .len()
            < 120
    );
}

#[test]
fn a_layer_cannot_null_away_a_list_that_only_grows() {
    for doc in [
        json!({"windows": {"deny": null}}),
        json!({"windows": null}),
        json!({"alarms": null}),
    ] {
        let error = effective("orders", "Prod", &[org(), stage(doc.clone())]).unwrap_err();
        assert!(error.message.contains("those lists only grow"), "{doc}: {error}");
    }
    let error = effective("orders", "Prod", &[org(), stage(json!({"windows": null}))]).unwrap_err();
    assert_eq!(error.path, "stage orders/Prod v5: windows");
    assert!(
        error.message.starts_with("`null` would remove windows.deny (1 entries"),
        "{error}"
    );
}

#[test]
fn each_layer_must_be_a_valid_policy_over_the_ones_below_it() {
    let error = effective("orders", "Prod", &[org(), stage(json!({"bake": {"durration": "2h"}}))]).unwrap_err();
    assert_eq!(error.path, "stage orders/Prod v5: bake.durration");
    assert!(error.message.contains("unknown field `durration`"), "{error}");
}

#[test]
fn the_organisations_default_alone_never_stands_for_a_stage() {
    let error = effective("ordres", "Prod", &[org()]).unwrap_err();
    assert!(
        error
            .message
            .starts_with("no policy is stored for pipeline ordres or stage ordres/Prod"),
        "{error}"
    );
}

#[test]
fn a_forbidden_path_must_be_set_where_it_is_declared() {
    let bad = layer(
        Scope::Pipeline("orders".into()),
        1,
        json!({"bake": {"duration": "1h"}, "forbid_lowering": ["canary.judge.confidence"]}),
    );
    let error = effective("orders", "Prod", &[bad]).unwrap_err();
    assert_eq!(error.path, "pipeline orders v1: forbid_lowering[0]");
    for doc in [
        json!({"forbid_lowering": ["Bake.duration"]}),
        json!({"forbid_lowering": ["deploy.x"]}),
        json!({"forbid_lowering": "bake.duration"}),
        json!({"windowz": {}}),
        json!({"bake": 3}),
        json!([]),
    ] {
        assert!(LayerDoc::from_value(doc.clone()).is_err(), "{doc}");
    }
}

#[test]
fn explain_names_the_layer_behind_every_field_and_list_entry() {
    let layers = [
        org(),
        stage(json!({"bake": {"duration": "2h"}, "alarms": {"watch": [{"names": ["orders-5xx"]}]}})),
    ];
    let merged = effective("orders", "Prod", &layers).unwrap();
    let lines = explain(&merged.value, &layers);
    let origin = |path: &str| {
        lines
            .iter()
            .find(|(at, _, _)| at == path)
            .map(|(_, _, origin)| origin.as_str())
            .unwrap()
    };
    assert_eq!(origin("bake.duration"), "stage orders/Prod v5");
    assert_eq!(origin("windows.timezone"), "org v3");
    assert_eq!(origin("alarms.watch[0]"), "org v3");
    assert_eq!(origin("alarms.watch[1]"), "stage orders/Prod v5");
}

#[test]
fn diff_names_each_field_added_removed_or_changed() {
    let lines = diff(
        &json!({"bake": {"duration": "1h", "max_duration": "3h"}, "alarms": {"watch": [{"names": ["a"]}]}}),
        &json!({"bake": {"duration": "2h"}, "alarms": {"watch": [{"names": ["a"]}, {"names": ["b"]}]}}),
    );
    assert_eq!(
        lines,
        [
            "+ alarms.watch[1]: {\"names\":[\"b\"]}",
            "~ bake.duration: \"1h\" -> \"2h\"",
            "- bake.max_duration: \"3h\"",
        ]
    );
}

#[test]
fn scopes_round_trip_through_their_keys() {
    for scope in Scope::chain("orders", "Prod") {
        assert_eq!(Scope::from_key(&scope.key()), Some(scope));
    }
    assert_eq!(Scope::from_key("POLICY#STAGE#orders"), None);
    assert_eq!(Scope::from_key("SUITE#orders#Prod"), None);
}

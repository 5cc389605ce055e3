//! Bad input never panics: arbitrary JSON, and valid documents with one field replaced by
//! arbitrary JSON, go through the suite, policy and event parsers; every rejection names a field
//! and says what is wrong. (Bounded cases, so CI stays quick; `cargo fuzz` is the open-ended
//! version, not run here: the machine has only the stable toolchain.)

use handsoff::invoke::event::Invocation;
use handsoff::policy::Policy;
use handsoff::suite::Suite;
use proptest::prelude::*;
use serde_json::{Value, json};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e9f64..1e9).prop_map(|n| json!(n)),
        "[a-z${}:./ 0-9x-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("${base_url}/x"),
            Just("2xx"),
            Just("5s"),
            Just("$.a[0]"),
            Just("GET"),
            Just("(")
        ]
        .prop_map(|text| Value::String(text.to_string())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("tests".to_string()),
                    Just("http".to_string()),
                    Just("url".to_string()),
                    Just("expect".to_string()),
                    Just("status".to_string()),
                    Just("windows".to_string()),
                    // An empty field name (cargo fuzz found the parsers mis-reported it).
                    Just(String::new()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..4
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn valid_suite() -> Value {
    json!({
        "name": "smoke",
        "vars": {"base_url": null},
        "defaults": {"timeout": "5s"},
        "tests": [
            {"name": "health", "http": {"url": "${base_url}/health"}, "expect": {"status": 200, "json": [{"path": "$.ok", "equals": true}]}},
            {"name": "traffic", "traffic": {"requests": 10, "rate_per_second": 5, "http": {"url": "${base_url}/"}}}
        ]
    })
}

/// Every JSON pointer into `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}/{key}");
                out.push(here.clone());
                pointers(child, here, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let here = format!("{at}/{index}");
                out.push(here.clone());
                pointers(child, here, out);
            }
        }
        _ => {}
    }
}

/// serde names an unknown field by the field itself ("unknown field `x`").
fn suite_keys_unknown(message: &str) -> bool {
    message.contains("unknown field")
}

fn replaced(mut document: Value, pointer: &str, value: Value) -> Value {
    if let Some(slot) = document.pointer_mut(pointer) {
        *slot = value;
    }
    document
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_is_parsed_or_rejected_with_a_field(value in any_json()) {
        if let Err(error) = Suite::from_value(value.clone()) {
            prop_assert!(!error.path.is_empty() && !error.message.is_empty(), "{error:?}");
        }
        if let Err(error) = Policy::from_value(value.clone()) {
            prop_assert!(!error.path.is_empty() && !error.message.is_empty(), "{error:?}");
        }
        if let Err(error) = Invocation::parse(value) {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn one_bad_field_in_a_valid_suite_is_named(index in any::<prop::sample::Index>(), value in any_json()) {
        let suite = valid_suite();
        let mut all = Vec::new();
        pointers(&suite, String::new(), &mut all);
        let pointer = index.get(&all).clone();
        match Suite::from_value(replaced(suite, &pointer, value)) {
            Ok(parsed) => prop_assert!(parsed.validate().is_ok()),
            Err(error) => {
                prop_assert!(!error.message.is_empty());
                // The error names a field of the suite (the replaced one, or one it broke: a
                // `vars` entry removed is reported where the variable is used).
                let root = error.path.split(['.', '[']).next().unwrap_or_default();
                prop_assert!(
                    ["suite", "name", "vars", "defaults", "tests", "secrets", "concurrency", "description"].contains(&root)
                        || suite_keys_unknown(&error.message),
                    "{pointer}: {error:?}"
                );
            }
        }
    }

    #[test]
    fn codepipeline_events_with_odd_fields_never_panic(id in any_json(), data in any_json()) {
        let event = json!({"CodePipeline.job": {"id": id, "accountId": "111111111111", "data": data}});
        let _ = Invocation::parse(event);
    }
}

//! Suite parsing: a good suite round-trips; every bad one is rejected with the path of the
//! field at fault and what is allowed there.

use handsoff::suite::Suite;
use serde_json::{Value, json};

fn base() -> Value {
    json!({
        "name": "orders-smoke",
        "vars": {"base_url": null, "api_token": null, "sku": "A-1"},
        "secrets": ["api_token"],
        "defaults": {"timeout": "5s", "retries": {"attempts": 2, "backoff": "250ms"}, "headers": {"accept": "application/json"}},
        "tests": [
            {"name": "health", "http": {"url": "${base_url}/health"}, "expect": {"status": 200, "max_latency": "500ms"}},
            {"name": "order", "http": {"method": "POST", "url": "${base_url}/orders", "body": {"sku": "${sku}"},
              "headers": {"authorization": "Bearer ${api_token}"}, "sign": {"service": "execute-api"}},
             "expect": {"status": [200, 201], "json": [{"path": "$.id", "exists": true}]}},
            {"name": "worker", "lambda": {"function": "orders-worker:live", "payload": {"sku": "${sku}"}}},
            {"name": "traffic", "traffic": {"requests": 600, "rate_per_second": 10, "http": {"url": "${base_url}/health"}}}
        ]
    })
}

#[test]
fn the_documented_example_parses_and_round_trips() {
    let suite = Suite::from_value(base()).unwrap();
    assert_eq!(suite.tests.len(), 4);
    assert_eq!(suite.concurrency, 4);
    let again = Suite::from_json(&serde_json::to_string(&suite).unwrap()).unwrap();
    assert_eq!(again, suite);
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/suite-orders-smoke.json"
    ))
    .unwrap();
    Suite::from_json(&example).expect("examples/suite-orders-smoke.json is a valid suite");
}

/// Sets `pointer` in the base suite to `value` (or removes it when `value` is null and `remove`).
fn with(pointer: &str, value: Value) -> Value {
    let mut suite = base();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = suite.pointer_mut(parent).unwrap();
    match target {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{pointer}"),
    }
    suite
}

#[test]
fn bad_suites_are_rejected_with_the_field_and_what_is_allowed() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "suite", "a suite is an object"),
        (with("/name", json!("")), "name", "1 to 128 characters"),
        (with("/tests", json!([])), "tests", "1 to 200 tests"),
        (with("/concurrency", json!(0)), "concurrency", "1 to 32"),
        (with("/colour", json!("blue")), "colour", "unknown field `colour`"),
        (with("/tests/0/htp", json!({})), "tests[0].htp", "unknown field `htp`"),
        (
            with("/tests/0/http/url", json!("ftp://x")),
            "tests[0].http.url",
            "http:// or https://",
        ),
        (
            with("/tests/0/http/url", json!("${base}/x")),
            "tests[0].http.url",
            "`${base}`, which is not declared",
        ),
        (
            with("/tests/0/http/method", json!("FETCH")),
            "tests[0].http.method",
            "`FETCH` is not one of GET",
        ),
        (
            with("/tests/0/expect/status", json!(99)),
            "tests[0].expect.status",
            "a status code (200)",
        ),
        (
            with("/tests/0/expect/status", json!("2xy")),
            "tests[0].expect.status",
            "a class (\"2xx\")",
        ),
        (
            with("/tests/0/expect/max_latency", json!("fast")),
            "tests[0].expect.max_latency",
            "such as 250ms",
        ),
        (with("/tests/0/timeout", json!("0s")), "tests[0].timeout", "above zero"),
        (
            with("/tests/0/timeout", json!("20m")),
            "tests[0].timeout",
            "longer than 15m",
        ),
        (
            with("/tests/1/expect/json/0", json!({"path": "$.id"})),
            "tests[1].expect.json[0]",
            "exactly one of `equals`",
        ),
        (
            with("/tests/1/expect/json/0", json!({"path": "id", "exists": true})),
            "tests[1].expect.json[0].path",
            "does not start with `$`",
        ),
        (
            with("/tests/1/expect/json/0", json!({"path": "$.id", "matches": "("})),
            "tests[1].expect.json[0].matches",
            "not a regular expression",
        ),
        (
            with("/tests/1/http/sign/service", json!("")),
            "tests[1].http.sign.service",
            "signing name",
        ),
        (
            with("/tests/1/http/headers", json!({"bad header": "x"})),
            "tests[1].http.headers",
            "not a header name",
        ),
        (
            with("/tests/2/expect", json!({"status": 200})),
            "tests[2].expect.status",
            "Lambda tests have no HTTP status",
        ),
        (
            with("/tests/2/lambda/payload", json!({"x": "${nope}"})),
            "tests[2].lambda.payload.x",
            "`${nope}`",
        ),
        (
            with("/tests/3/traffic/requests", json!(0)),
            "tests[3].traffic.requests",
            "1 to 100000",
        ),
        (
            with("/tests/3/traffic/rate_per_second", json!(0)),
            "tests[3].traffic.rate_per_second",
            "above 0",
        ),
        (
            with("/tests/3/traffic/min_success_percent", json!(101)),
            "tests[3].traffic.min_success_percent",
            "0 to 100",
        ),
        (
            with("/tests/3/name", json!("health")),
            "tests[3].name",
            "names two tests",
        ),
        (
            with("/secrets", json!(["password"])),
            "secrets[0]",
            "not one of the suite's vars",
        ),
        (
            with("/defaults/retries/attempts", json!(0)),
            "defaults.retries.attempts",
            "1 to 10 attempts",
        ),
        (
            with("/tests/0/lambda", json!({"function": "f"})),
            "tests[0]",
            "exactly one of `http`, `lambda` or `traffic`",
        ),
    ];
    for (suite, path, message) in cases {
        let error = Suite::from_value(suite.clone()).expect_err(&format!("{path} should be rejected"));
        assert_eq!(error.path, path, "{error}");
        assert!(
            error.message.contains(message),
            "{path}: `{}` lacks `{message}`",
            error.message
        );
    }
}

#[test]
fn a_field_with_an_empty_name_is_rejected_at_the_root() {
    // Found by `cargo fuzz run suite`: the path was empty.
    let error = Suite::from_json("{\n  \"\":  \"P  \"}\n").unwrap_err();
    assert_eq!(error.path, "suite");
    assert!(error.message.contains("unknown field ``"), "{}", error.message);
}

#[test]
fn text_that_is_not_json_is_rejected_at_the_root() {
    let error = Suite::from_json("name: smoke").unwrap_err();
    assert_eq!(error.path, "suite");
    assert!(error.message.starts_with("not valid JSON"));
}

//! The real validation-test-runner binary on the Lambda runtime protocol: it runs suites
//! against an HTTP target on 127.0.0.1, stores each run in DynamoDB (moto_server), returns
//! typed errors for bad suites, and answers before its deadline when an endpoint hangs.

use std::path::Path;
use std::time::{Duration, Instant};

use handsoff_e2e::{LocalRuntime, Moto, Reply, TargetServer};
use serde_json::{Value, json};

fn suite(name: &str, path: &str, timeout: &str) -> Value {
    json!({
        "name": name,
        "vars": {"base_url": null, "token": null},
        "secrets": ["token"],
        "tests": [
            {"name": "health", "http": {"url": format!("${{base_url}}{path}"), "headers": {"authorization": "Bearer ${token}"}},
             "timeout": timeout, "expect": {"status": 200}}
        ]
    })
}

async fn stored_runs(moto: &Moto) -> Vec<Value> {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    let items = client
        .query()
        .table_name("handsoff")
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S("RUN#orders#Beta".into()),
        )
        .send()
        .await
        .unwrap();
    items
        .items()
        .iter()
        .map(|item| serde_json::from_str(item["results"].as_s().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn runs_suites_stores_runs_and_stops_before_the_deadline() {
    let moto = Moto::start();
    handsoff::ports::store::create_table(&aws_sdk_dynamodb::Client::new(&moto.sdk_config()), "handsoff")
        .await
        .unwrap();
    let target = TargetServer::start();
    let vars = json!({"base_url": target.base_url(), "token": "tok-0d4e9b1f"});
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.env("HANDSOFF_ALLOWED_NETWORKS", "127.0.0.0/8");
    runtime.env("AWS_ENDPOINT_URL_DYNAMODB", &moto.endpoint());
    runtime.push_event(
        "r1",
        json!({"suite": suite("smoke", "/good", "5s"), "vars": vars, "pipeline": "orders", "stage": "Beta", "execution_id": "exec-1"}),
    );
    // As the state machine sends it: the suite's JSON text from the table.
    runtime.push_event(
        "r2",
        json!({"suite": suite("down", "/wrong-status", "5s").to_string(), "vars": vars, "pipeline": "orders", "stage": "Beta"}),
    );
    runtime.push_event(
        "r3",
        json!({"suite": {"name": "bad", "tests": [{"name": "x", "http": {"url": "ftp://x"}}]}}),
    );
    runtime.push_event(
        "r4",
        json!({"suite": suite("smoke", "/good", "5s"), "vars": {"base_url": target.base_url()}}),
    );
    runtime.spawn(
        Path::new(env!("CARGO_BIN_EXE_validation-test-runner")),
        "validation-test-runner",
    );

    let replies = runtime.wait_for_replies(4, Duration::from_secs(60));
    assert_eq!(replies.len(), 4, "replies: {replies:?}\noutput:\n{}", runtime.output());
    let Reply::Response(passed) = &replies[0].1 else {
        panic!("{:?}", replies[0])
    };
    assert_eq!(
        (passed["ok"].clone(), passed["passed"].clone(), passed["suite"].clone()),
        (json!(true), json!(1), json!("smoke"))
    );
    let Reply::Response(failed) = &replies[1].1 else {
        panic!("{:?}", replies[1])
    };
    assert_eq!(failed["ok"], json!(false));
    assert_eq!(
        failed["failures"],
        json!(["down / health: status: expected 200, got 503"])
    );
    let Reply::Error { error_type, body } = &replies[2].1 else {
        panic!("{:?}", replies[2])
    };
    assert_eq!(error_type, "InvalidInput");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("suite.tests[0].http.url") && message.contains("http:// or https://"),
        "{message}"
    );
    let Reply::Error { error_type, body } = &replies[3].1 else {
        panic!("{:?}", replies[3])
    };
    assert_eq!(error_type, "InvalidInput");
    assert!(
        body["errorMessage"].as_str().unwrap().contains("suite.vars.token"),
        "{body}"
    );

    let runs = stored_runs(&moto).await;
    assert_eq!(runs.len(), 2, "one run stored per call that named its stage");
    let suites: Vec<&str> = runs.iter().map(|run| run["suite"].as_str().unwrap()).collect();
    assert!(suites.contains(&"smoke") && suites.contains(&"down"));
    let output = runtime.output();
    assert!(output.contains("\"validation run\""), "{output}");
    assert!(!output.contains("tok-0d4e9b1f"), "the secret reached the logs");
    assert!(
        !runs.iter().any(|run| run.to_string().contains("tok-0d4e9b1f")),
        "the secret reached the table"
    );
}

#[tokio::test]
async fn a_hanging_endpoint_does_not_outlive_the_lambda_deadline() {
    let target = TargetServer::start();
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.env("HANDSOFF_ALLOWED_NETWORKS", "127.0.0.0/8");
    // 4 s to run, less the 3 s kept back to answer: the suite gets about 1 s.
    runtime.set_timeout(Duration::from_secs(4));
    runtime.push_event(
        "r1",
        json!({"suite": suite("hangs", "/hang", "60s"), "vars": {"base_url": target.base_url(), "token": "t-1234"}}),
    );
    runtime.spawn(
        Path::new(env!("CARGO_BIN_EXE_validation-test-runner")),
        "validation-test-runner",
    );
    let started = Instant::now();
    let replies = runtime.wait_for_replies(1, Duration::from_secs(30));
    let took = started.elapsed();
    assert_eq!(replies.len(), 1, "{}", runtime.output());
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    let Reply::Response(summary) = &replies[0].1 else {
        panic!("{:?}", replies[0])
    };
    assert_eq!(
        (summary["ok"].clone(), summary["not_run"].clone()),
        (json!(false), json!(1))
    );
    assert_eq!(
        summary["failures"],
        json!(["hangs / health (not run): stopped at the deadline before it finished"])
    );
}

/// As deployed, the runner refuses loopback targets (the Lambda runtime API lives there) unless
/// the stack allows their network: the suite fails naming the refusal and the target never
/// sees a request. A setting it cannot read stops the function at start.
#[tokio::test]
async fn the_deployed_runner_refuses_loopback_unless_the_stack_allows_it() {
    let target = TargetServer::start();
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.push_event(
        "r1",
        json!({"suite": suite("smoke", "/good", "5s"), "vars": {"base_url": target.base_url(), "token": "t-1234"}}),
    );
    // A variable given twice, one of them a secret: refused by name, neither value echoed.
    runtime.push_raw_event(
        "r2",
        r#"{"suite": {"name": "s", "tests": []}, "vars": {"token": "tok-first-7c1d", "token": "tok-second-9e2a"}}"#,
    );
    runtime.spawn(
        Path::new(env!("CARGO_BIN_EXE_validation-test-runner")),
        "validation-test-runner",
    );
    let replies = runtime.wait_for_replies(2, Duration::from_secs(60));
    let Some((_, Reply::Error { error_type, body })) = replies.get(1) else {
        panic!("{replies:?}\n{}", runtime.output())
    };
    assert_eq!(error_type, "InvalidInput");
    assert_eq!(
        body["errorMessage"],
        "invalid input: payload: key `vars.token` appears twice; give each key once"
    );
    assert!(!runtime.output().contains("tok-first-7c1d") && !runtime.output().contains("tok-second-9e2a"));
    let Some((_, Reply::Response(refused))) = replies.first() else {
        panic!("{replies:?}\n{}", runtime.output())
    };
    assert_eq!(refused["ok"], json!(false), "{refused}");
    let failure = refused["failures"][0].as_str().unwrap_or_default();
    assert!(
        failure.contains("refused to connect to 127.0.0.1, a loopback"),
        "{refused}"
    );
    assert!(target.requests("/good").is_empty());

    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.env("HANDSOFF_ALLOWED_NETWORKS", "loopback");
    runtime.push_event("r1", json!({"suite": suite("smoke", "/good", "5s")}));
    runtime.spawn(
        Path::new(env!("CARGO_BIN_EXE_validation-test-runner")),
        "validation-test-runner",
    );
    let said = "HANDSOFF_ALLOWED_NETWORKS: `loopback` is not a network";
    let started = Instant::now();
    while !runtime.output().contains(said) && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(runtime.output().contains(said), "{}", runtime.output());
    assert!(
        runtime.wait_for_replies(1, Duration::ZERO).is_empty(),
        "no suite ran unguarded"
    );
}

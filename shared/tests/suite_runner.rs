//! The validation runner against an HTTP server the test starts on 127.0.0.1 (good, slow,
//! wrong-status, bad-JSON, hanging and flaky endpoints), through the real SDK connector.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_lambda::operation::invoke::InvokeOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use handsoff::ports::http_client::SdkHttpSender;
use handsoff::ports::lambda_invoke::LambdaInvoker;
use handsoff::suite::egress::Egress;
use handsoff::suite::{Outcome, RunSummary, Runner, Suite, TestResult};
use handsoff_e2e::TargetServer;
use serde_json::{Value, json};
use tokio::time::Instant;

fn config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token-that-must-not-leak".into()),
            None,
            "test",
        )))
        .build()
}

fn runner(lambda: aws_sdk_lambda::Client) -> Runner<SdkHttpSender, LambdaInvoker> {
    Runner::new(
        SdkHttpSender::new(&config(), loopback_egress()),
        LambdaInvoker::new(lambda),
    )
}

/// The test servers run on loopback, which the runner refuses unless the stack allows it.
fn loopback_egress() -> Egress {
    Egress::from_settings(None, Some("127.0.0.1"), Some("127.0.0.0/8"), Some("us-east-1")).unwrap()
}

/// A Lambda client that fails the test if it is ever called.
fn no_lambda() -> aws_sdk_lambda::Client {
    mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [])
}

fn suite(value: Value) -> Suite {
    Suite::from_value(value).expect("the suite parses")
}

fn vars(base_url: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("base_url".to_string(), base_url.to_string())])
}

async fn run(suite: &Suite, stage: &BTreeMap<String, String>, within: Duration) -> RunSummary {
    runner(no_lambda())
        .run(suite, stage, Instant::now() + within, "run-1".into())
        .await
        .expect("the suite runs")
}

fn result<'a>(summary: &'a RunSummary, name: &str) -> &'a TestResult {
    summary
        .results
        .iter()
        .find(|result| result.name == name)
        .expect("a result per test")
}

#[tokio::test]
async fn every_expectation_kind_passes_and_fails_as_it_should() {
    let server = TargetServer::start();
    let suite = suite(json!({
        "name": "orders-smoke",
        "vars": {"base_url": null},
        "tests": [
            {"name": "good", "http": {"url": "${base_url}/good"}, "expect": {
                "status": 200,
                "headers": {"Content-Type": {"contains": "json"}, "x-served-by": {"equals": "target"}},
                "json": [
                    {"path": "$.status", "equals": "ok"},
                    {"path": "$.items[0].id", "exists": true},
                    {"path": "$.version", "matches": "^1\\.4\\."}
                ],
                "body_contains": ["\"ok\""],
                "max_latency": "2s"
            }},
            {"name": "negative: POST only", "http": {"url": "${base_url}/orders"}, "expect": {"status": "4xx"}},
            {"name": "creates an order", "http": {"method": "POST", "url": "${base_url}/orders", "body": {"sku": "A-1"}},
             "expect": {"status": 201, "json": [{"path": "$.id", "equals": "ord-1"}]}},
            {"name": "slow", "http": {"url": "${base_url}/slow"}, "expect": {"max_latency": "100ms"}},
            {"name": "wrong status", "http": {"url": "${base_url}/wrong-status"}, "expect": {"status": 200}},
            {"name": "bad json", "http": {"url": "${base_url}/bad-json"}, "expect": {"json": [{"path": "$.status", "equals": "ok"}]}},
            {"name": "wrong values", "http": {"url": "${base_url}/good"}, "expect": {
                "headers": {"content-type": {"matches": "^text/"}, "etag": {"exists": true}},
                "json": [{"path": "$.status", "equals": "down"}, {"path": "$.missing", "exists": true}, {"path": "$.version", "matches": "^2"}],
                "body_contains": ["healthy"]
            }}
        ]
    }));
    let summary = run(&suite, &vars(&server.base_url()), Duration::from_secs(30)).await;

    for passing in ["good", "negative: POST only", "creates an order"] {
        assert_eq!(
            result(&summary, passing).outcome,
            Outcome::Passed,
            "{passing}: {:?}",
            result(&summary, passing)
        );
    }
    let good = result(&summary, "good");
    assert_eq!(good.received.as_ref().unwrap().status, Some(200));
    assert_eq!(good.sent.as_ref().unwrap().url, format!("{}/good", server.base_url()));
    let posted = server
        .requests("/orders")
        .into_iter()
        .find(|seen| seen.method == "POST")
        .expect("the order was posted");
    assert_eq!(posted.body, r#"{"sku":"A-1"}"#);
    assert!(
        posted
            .headers
            .contains(&("content-type".into(), "application/json".into()))
    );

    let slow = &result(&summary, "slow").failures;
    assert_eq!(slow.len(), 1, "{slow:?}");
    assert!(
        slow[0].starts_with("latency: ") && slow[0].ends_with("above the 100ms allowed"),
        "{slow:?}"
    );
    assert_eq!(
        result(&summary, "wrong status").failures,
        vec!["status: expected 200, got 503"]
    );
    let bad_json = &result(&summary, "bad json").failures;
    assert!(
        bad_json[0].starts_with("json: the body is not JSON") && bad_json[0].ends_with("<html>upstream error</html>")
    );
    assert_eq!(
        result(&summary, "wrong values").failures,
        vec![
            "header content-type: `application/json` does not match `^text/`",
            "header etag: missing",
            "body: does not contain `healthy`",
            "json $.status: expected \"down\", got \"ok\"",
            "json $.missing: missing",
            "json $.version: `1.4.2` does not match `^2`",
        ]
    );
    assert_eq!(
        (summary.passed, summary.failed, summary.not_run, summary.ok),
        (3, 4, 0, false)
    );
    let lines = summary.failure_lines();
    assert_eq!(lines[0].split(':').next(), Some("orders-smoke / slow"));
    assert!(
        lines
            .iter()
            .any(|line| line == "orders-smoke / wrong status: status: expected 200, got 503")
    );
}

#[tokio::test]
async fn a_hanging_endpoint_is_cut_at_its_timeout() {
    let server = TargetServer::start();
    let suite = suite(json!({
        "name": "hang",
        "vars": {"base_url": null},
        "tests": [{"name": "hangs", "http": {"url": "${base_url}/hang"}, "timeout": "300ms"}]
    }));
    let started = std::time::Instant::now();
    let summary = run(&suite, &vars(&server.base_url()), Duration::from_secs(30)).await;
    let hangs = result(&summary, "hangs");
    assert_eq!(hangs.outcome, Outcome::Failed);
    assert_eq!(hangs.failures, vec!["timed out after 300ms"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(server.requests("/hang").len(), 1);
}

#[tokio::test]
async fn the_deadline_stops_the_run_and_reports_unfinished_tests_as_not_run() {
    let server = TargetServer::start();
    let suite = suite(json!({
        "name": "deadline",
        "vars": {"base_url": null},
        "concurrency": 1,
        "tests": [
            {"name": "quick", "http": {"url": "${base_url}/good"}},
            {"name": "hangs", "http": {"url": "${base_url}/hang"}, "timeout": "60s"},
            {"name": "never started", "http": {"url": "${base_url}/good"}}
        ]
    }));
    let started = std::time::Instant::now();
    let summary = run(&suite, &vars(&server.base_url()), Duration::from_millis(800)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(result(&summary, "quick").outcome, Outcome::Passed);
    let hangs = result(&summary, "hangs");
    assert_eq!(
        (hangs.outcome, hangs.failures.clone()),
        (
            Outcome::NotRun,
            vec!["stopped at the deadline before it finished".to_string()]
        )
    );
    assert_eq!(result(&summary, "never started").outcome, Outcome::NotRun);
    assert_eq!(server.requests("/good").len(), 1, "nothing starts after the deadline");
    assert_eq!(
        (summary.passed, summary.failed, summary.not_run, summary.ok),
        (1, 0, 2, false)
    );
}

#[tokio::test]
async fn retries_back_off_until_an_attempt_passes() {
    let server = TargetServer::start();
    let suite = suite(json!({
        "name": "warmup",
        "vars": {"base_url": null},
        "tests": [
            {"name": "flaky", "http": {"url": "${base_url}/flaky"}, "retries": {"attempts": 3, "backoff": "50ms"}},
            {"name": "always down", "http": {"url": "${base_url}/wrong-status"}, "retries": {"attempts": 2, "backoff": "10ms"}}
        ]
    }));
    let summary = run(&suite, &vars(&server.base_url()), Duration::from_secs(30)).await;
    let flaky = result(&summary, "flaky");
    assert_eq!((flaky.outcome, flaky.attempts), (Outcome::Passed, 3));
    assert_eq!(server.requests("/flaky").len(), 3);
    assert!(flaky.duration_ms >= 150, "backoff 50 + 100 ms: {}", flaky.duration_ms);
    let down = result(&summary, "always down");
    assert_eq!((down.outcome, down.attempts), (Outcome::Failed, 2));
    assert_eq!(server.requests("/wrong-status").len(), 2);
}

#[tokio::test]
async fn traffic_mode_sends_the_planned_requests_and_judges_the_share_that_passed() {
    let server = TargetServer::start();
    let suite = suite(json!({
        "name": "bake-traffic",
        "vars": {"base_url": null},
        "tests": [
            {"name": "warm", "traffic": {"requests": 30, "rate_per_second": 100, "http": {"url": "${base_url}/good"}}},
            {"name": "broken", "traffic": {"requests": 10, "rate_per_second": 100, "min_success_percent": 90,
              "http": {"url": "${base_url}/wrong-status"}}}
        ]
    }));
    let summary = run(&suite, &vars(&server.base_url()), Duration::from_secs(30)).await;
    let warm = result(&summary, "warm");
    assert_eq!(warm.outcome, Outcome::Passed);
    let stats = warm.traffic.as_ref().unwrap();
    assert_eq!((stats.planned, stats.sent, stats.succeeded), (30, 30, 30));
    assert!(
        warm.duration_ms >= 290,
        "30 requests at 100/s take about 0.3 s: {}",
        warm.duration_ms
    );
    assert_eq!(server.requests("/good").len(), 30);
    let broken = result(&summary, "broken");
    assert_eq!(broken.outcome, Outcome::Failed);
    assert_eq!(
        broken.failures,
        vec![
            "0 of 10 responses met the expectations (0.0%, 90% required)",
            "status: expected 2xx, got 503 (10×)",
        ]
    );
}

#[tokio::test]
async fn secrets_reach_the_endpoint_but_never_the_results() {
    let server = TargetServer::start();
    let suite = suite(json!({
        "name": "auth",
        "vars": {"base_url": null, "api_token": null},
        "secrets": ["api_token"],
        "tests": [
            {"name": "echo", "http": {"url": "${base_url}/echo?token=${api_token}",
              "headers": {"Authorization": "Bearer ${api_token}", "x-api-key": "key-${api_token}"}},
             "expect": {"body_contains": ["nothing like this"]}},
            {"name": "signed", "http": {"method": "POST", "url": "${base_url}/echo", "body": "{}",
              "sign": {"service": "execute-api"}}, "expect": {"status": 500}}
        ]
    }));
    let mut stage = vars(&server.base_url());
    stage.insert("api_token".into(), "tok-6f1c9a2e77".into());
    let summary = run(&suite, &stage, Duration::from_secs(30)).await;

    let echoed = server
        .requests("/echo")
        .into_iter()
        .find(|seen| seen.method == "GET")
        .unwrap();
    assert!(
        echoed
            .headers
            .contains(&("authorization".into(), "Bearer tok-6f1c9a2e77".into()))
    );
    let signed = server
        .requests("/echo")
        .into_iter()
        .find(|seen| seen.method == "POST")
        .unwrap();
    let authorization = signed.headers.iter().find(|(name, _)| name == "authorization").unwrap();
    assert!(
        authorization.1.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && authorization.1.contains("/eu-west-1/execute-api/aws4_request"),
        "{authorization:?}"
    );

    let reported = serde_json::to_string(&summary).unwrap() + &summary.render() + &summary.compact().to_string();
    for secret in [
        "tok-6f1c9a2e77",
        "session-token-that-must-not-leak",
        "AWS4-HMAC-SHA256 Credential",
        "Signature=",
    ] {
        assert!(!reported.contains(secret), "`{secret}` leaked into the results");
    }
    let echo = result(&summary, "echo");
    assert_eq!(
        echo.sent.as_ref().unwrap().url,
        format!("{}/echo?token=***", server.base_url())
    );
    assert_eq!(echo.sent.as_ref().unwrap().headers["authorization"], "***");
    assert_eq!(echo.sent.as_ref().unwrap().headers["x-api-key"], "***");
    assert!(echo.received.as_ref().unwrap().body.contains("authorization: ***"));
    assert_eq!(
        result(&summary, "signed").sent.as_ref().unwrap().signed.as_deref(),
        Some("execute-api/the runner's region")
    );
}

#[tokio::test]
async fn lambda_tests_check_the_response_and_function_errors() {
    let ok = mock!(aws_sdk_lambda::Client::invoke)
        .match_requests(|request| request.function_name() == Some("orders-worker:live"))
        .then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .payload(Blob::new(r#"{"processed": 3}"#))
                .build()
        });
    let failing = mock!(aws_sdk_lambda::Client::invoke)
        .match_requests(|request| request.function_name() == Some("orders-broken"))
        .then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .function_error("Unhandled")
                .payload(Blob::new(r#"{"errorType": "KeyError", "errorMessage": "sku"}"#))
                .build()
        });
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&ok, &failing]);
    let suite = suite(json!({
        "name": "workers",
        "tests": [
            {"name": "processes", "lambda": {"function": "orders-worker:live", "payload": {"batch": 3}},
             "expect": {"json": [{"path": "$.processed", "equals": 3}]}},
            {"name": "broken", "lambda": {"function": "orders-broken"}}
        ]
    }));
    let summary = runner(lambda)
        .run(
            &suite,
            &BTreeMap::new(),
            Instant::now() + Duration::from_secs(30),
            "run-2".into(),
        )
        .await
        .unwrap();
    assert_eq!(result(&summary, "processes").outcome, Outcome::Passed);
    assert_eq!(
        result(&summary, "broken").failures,
        vec![
            r#"function error: expected none, got a Unhandled error: {"errorType": "KeyError", "errorMessage": "sku"}"#
        ]
    );
    assert_eq!((ok.num_calls(), failing.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_variable_the_stage_must_supply_is_named_when_missing() {
    let suite = suite(json!({
        "name": "needs-url",
        "vars": {"base_url": null},
        "tests": [{"name": "health", "http": {"url": "${base_url}/health"}}]
    }));
    let error = runner(no_lambda())
        .run(
            &suite,
            &BTreeMap::new(),
            Instant::now() + Duration::from_secs(5),
            "run-3".into(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.path, "vars.base_url");
    assert!(error.message.contains("--var base_url="), "{error}");
}

/// The runner's own rules, as in Lambda: API Gateway signing only, no loopback.
fn strict_runner() -> Runner<SdkHttpSender, LambdaInvoker> {
    let egress = Egress::from_settings(None, None, None, Some("eu-west-1")).unwrap();
    Runner::new(SdkHttpSender::new(&config(), egress), LambdaInvoker::new(no_lambda()))
}

/// Before, a suite could make the runner sign any request for any service with its own role
/// (a DynamoDB PutItem of a forged override, say) and fetch loopback or link-local targets
/// (the Lambda runtime API, the metadata service), and store what came back. Now each such
/// request is refused before anything is signed or sent, and nothing comes back to store.
#[tokio::test]
async fn a_suite_cannot_make_the_runner_sign_for_other_services_or_reach_internal_addresses() {
    let server = TargetServer::start();
    let port = server.base_url().rsplit(':').next().unwrap().to_string();
    let suite = suite(json!({
        "name": "hostile",
        "vars": {"base_url": null, "port": null},
        "tests": [
            {"name": "forge an override", "http": {"method": "POST", "url": "https://dynamodb.eu-west-1.amazonaws.com/",
              "body": "{}", "sign": {"service": "dynamodb"}}},
            {"name": "sign for a host of its choosing", "http": {"url": "https://evil.example.com/",
              "sign": {"service": "execute-api"}}},
            {"name": "loopback", "http": {"url": "${base_url}/echo"}},
            {"name": "loopback by name", "http": {"url": "http://localhost:${port}/echo"}},
            {"name": "metadata", "http": {"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}},
            {"name": "metadata over IPv6", "http": {"url": "http://[fd00:ec2::254]/latest/meta-data/"}}
        ]
    }));
    let mut stage = vars(&server.base_url());
    stage.insert("port".into(), port);
    let summary = strict_runner()
        .run(&suite, &stage, Instant::now() + Duration::from_secs(20), "run-1".into())
        .await
        .unwrap();
    assert_eq!((summary.passed, summary.failed), (0, 6), "{}", summary.render());
    for (name, says) in [
        ("forge an override", "refused to sign for `dynamodb`"),
        (
            "sign for a host of its choosing",
            "refused to sign a request to evil.example.com",
        ),
        ("loopback", "refused to connect to 127.0.0.1, a loopback"),
        ("loopback by name", "resolves to"),
        ("metadata", "refused to connect to 169.254.169.254, a link-local"),
        ("metadata over IPv6", "refused to connect to fd00:ec2::254"),
    ] {
        let result = result(&summary, name);
        assert_eq!(result.outcome, Outcome::Failed, "{name}");
        assert!(
            result.failures.iter().any(|failure| failure.contains(says)),
            "{name}: {:?}",
            result.failures
        );
        assert!(
            result.received.is_none(),
            "{name}: nothing came back, so nothing is stored"
        );
    }
    assert!(
        server.requests("/echo").is_empty(),
        "no request reached the loopback server"
    );
}

/// The runner reads at most 1 MiB of a body and stops reading there: a 300 MB answer never
/// sits in its memory. The server sees the client stop long before the end.
#[tokio::test]
async fn a_huge_body_is_read_only_up_to_the_cap() {
    let server = TargetServer::start();
    let suite = suite(json!({
        "name": "huge", "vars": {"base_url": null},
        "tests": [{"name": "huge", "http": {"url": "${base_url}/huge"}, "expect": {"body_contains": ["xxxx"]}}]
    }));
    let summary = run(&suite, &vars(&server.base_url()), Duration::from_secs(30)).await;
    assert_eq!(summary.passed, 1, "{}", summary.render());
    // Give the server a moment to notice the closed connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = server.huge_sent();
    assert!(
        sent < handsoff_e2e::target_server::HUGE_BODY / 4,
        "the client read {sent} bytes of a {} byte body",
        handsoff_e2e::target_server::HUGE_BODY
    );
}

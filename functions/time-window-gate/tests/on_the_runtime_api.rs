//! The real time-window-gate binary on the Lambda runtime protocol: it answers CodePipeline
//! jobs through its real aws-sdk client at `AWS_ENDPOINT_URL` (asking each job's pipeline and
//! reading the freezes first), returns decisions and typed errors to direct callers, and logs
//! JSON without the job's artifact credentials.

use std::path::Path;
use std::time::Duration;

use handsoff_e2e::{LocalRuntime, Reply};
use serde_json::{Value, json};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

const ALWAYS_OPEN: &str =
    r#"{"windows": {"timezone": "Europe/London", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]}}"#;
const NEVER_OPEN: &str = r#"{"windows": {"timezone": "Europe/London", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "min_time_left": "2h"}}"#;

fn job(id: &str, user_parameters: &str) -> Value {
    json!({"CodePipeline.job": {"id": id, "accountId": "111111111111", "data": {
        "actionConfiguration": {"configuration": {"FunctionName": "time-window-gate", "UserParameters": user_parameters}},
        "inputArtifacts": [], "outputArtifacts": [],
        "artifactCredentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": SECRET, "sessionToken": "SESSIONTOKENEXAMPLE"}}}})
}

#[test]
fn answers_jobs_and_direct_calls_on_the_runtime_api() {
    let mut runtime = LocalRuntime::start();
    runtime.push_event("r1", job("job-open", ALWAYS_OPEN));
    runtime.push_event("r2", job("job-never", NEVER_OPEN));
    let mut fail_at_once: Value = serde_json::from_str(NEVER_OPEN).unwrap();
    fail_at_once["windows"]["when_closed"] = json!("fail");
    runtime.push_event(
        "r3",
        json!({"policy": fail_at_once, "context": {"pipeline": "orders", "stage": "Prod"}}),
    );
    runtime.push_event("r4", json!({"policy": {"windows": {"timezone": "PST"}}}));
    runtime.push_event(
        "r5",
        json!({"policy": serde_json::from_str::<Value>(ALWAYS_OPEN).unwrap()}),
    );
    // Which pipeline a job runs for (a freeze may name pipelines), and no freeze on record.
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.answer_aws(
        "GetJobDetails",
        json!({"jobDetails": {"id": "job", "data": {"pipelineContext": {
            "pipelineName": "orders", "stage": {"name": "Prod"}, "action": {"name": "Window"},
            "pipelineExecutionId": "exec-1"}}}}),
    );
    runtime.answer_aws("Query", json!({"Items": [], "Count": 0, "ScannedCount": 0}));
    runtime.spawn(Path::new(env!("CARGO_BIN_EXE_time-window-gate")), "time-window-gate");

    let replies = runtime.wait_for_replies(5, Duration::from_secs(60));
    assert_eq!(replies.len(), 5, "replies: {replies:?}\noutput:\n{}", runtime.output());

    // CodePipeline jobs are answered through the SDK; the invocation itself succeeds.
    assert_eq!(
        replies[0],
        (
            "r1".to_string(),
            Reply::Response(json!({"job_id": "job-open", "answer": "succeeded", "decision": "proceed"}))
        )
    );
    assert_eq!(
        replies[1],
        (
            "r2".to_string(),
            Reply::Response(json!({"job_id": "job-never", "answer": "failed", "decision": "block"}))
        )
    );
    let aws = runtime.aws_calls();
    let of = |prefix: &str| -> Vec<_> {
        aws.iter()
            .filter(|call| call.target.starts_with(prefix))
            .cloned()
            .collect()
    };
    let calls = of("CodePipeline_20150709.PutJob");
    assert_eq!(calls.len(), 2, "{aws:?}");
    assert_eq!(
        of("CodePipeline_20150709.GetJobDetails").len(),
        2,
        "each job's pipeline is asked"
    );
    // Every decision read the freezes first (r4's policy never got that far).
    let queries = of("DynamoDB_20120810.Query");
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert!(
        queries
            .iter()
            .all(|query| query.body["ExpressionAttributeValues"][":pk"]["S"] == "FREEZE#ORG")
    );
    // The job it blocked (r2) and the direct call it blocked (r3) are announced, once each.
    let events = of("AWSEvents.PutEvents");
    assert_eq!(events.len(), 2, "{events:?}");
    for event in &events {
        assert_eq!(event.body["Entries"][0]["DetailType"], "Handsoff Stage Blocked");
        assert_eq!(event.body["Entries"][0]["Source"], "handsoff");
    }
    assert_eq!(calls[0].target, "CodePipeline_20150709.PutJobSuccessResult");
    assert_eq!(calls[0].body["jobId"], "job-open");
    assert_eq!(calls[0].body["outputVariables"]["decision"], "proceed");
    assert_eq!(calls[1].target, "CodePipeline_20150709.PutJobFailureResult");
    assert_eq!(calls[1].body["failureDetails"]["type"], "JobFailed");
    assert!(
        calls[1].body["failureDetails"]["message"]
            .as_str()
            .unwrap()
            .contains("no opening within 366 days")
    );

    // Direct calls: typed errors Step Functions can catch by name, or the decision.
    let Reply::Error { error_type, body } = &replies[2].1 else {
        panic!("{:?}", replies[2])
    };
    assert_eq!(error_type, "Blocked");
    assert!(
        body["errorMessage"].as_str().unwrap().contains("(when_closed: fail)"),
        "{body}"
    );
    let Reply::Error { error_type, body } = &replies[3].1 else {
        panic!("{:?}", replies[3])
    };
    assert_eq!(error_type, "PolicyInvalid");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("windows.timezone: `PST` is not an IANA time zone name"),
        "{body}"
    );
    let Reply::Response(open) = &replies[4].1 else {
        panic!("{:?}", replies[4])
    };
    assert_eq!(open["decision"], "proceed");
    assert_eq!(open["evidence"]["open"], true);

    // Logs: JSON lines, one decision line per decision, one EMF line per outcome, no secrets.
    let output = runtime.output();
    assert!(
        !output.contains(SECRET) && !output.contains("SESSIONTOKENEXAMPLE") && !output.contains("AKIAIOSFODNN7EXAMPLE"),
        "{output}"
    );
    let lines: Vec<Value> = output
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let decisions = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "decision")
        .count();
    let emf = lines.iter().filter(|line| line.get("_aws").is_some()).count();
    assert_eq!((decisions, emf), (4, 5), "{output}");
    // Each decision line carries its invocation's request id and X-Ray trace id.
    let first = lines
        .iter()
        .find(|line| line["fields"]["message"] == "decision")
        .unwrap();
    assert_eq!(first["span"]["request_id"], "r1", "{first}");
    assert!(
        first["span"]["xray_trace_id"]
            .as_str()
            .is_some_and(|trace| trace.starts_with("Root=1-5759e988") && trace.ends_with("Request=r1")),
        "{first}"
    );
}

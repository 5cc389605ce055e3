//! The real `bake-time-waiter` binary on the Lambda runtime protocol: a bad policy and a malformed event
//! are typed errors that name what to fix, never a crash. (The full flows run in the local-stack
//! scenarios, which also need this binary built.)

use handsoff::ports::store::BakeStore;

#[test]
fn rejects_bad_input_with_typed_errors() {
    handsoff_e2e::assert_rejects_bad_input(
        std::path::Path::new(env!("CARGO_BIN_EXE_bake-time-waiter")),
        "bake-time-waiter",
    );
}

/// The CodePipeline path of the bake's judging, with the real binary: a one-box failing a tenth
/// of its requests against a fleet failing one in a thousand is rolled back at the first poll,
/// and the job fails with the sequential test's reason. CloudWatch and DynamoDB are moto's; the
/// CodePipeline job API is the runtime's (moto has no job API).
#[test]
fn a_codepipeline_job_fails_when_the_one_box_is_judged_worse_during_the_bake() {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    use handsoff::ports::store::{DynamoStore, create_table};
    use handsoff_e2e::{LocalRuntime, Moto, Reply};
    use serde_json::json;

    let moto = Moto::start();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = jiff::Timestamp::now();
    tokio.block_on(async {
        let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
        create_table(&dynamodb, "handsoff").await.unwrap();
        // The bake began ten minutes ago; the one-box's errors came since.
        DynamoStore::new(dynamodb, "handsoff")
            .start_bake("orders", "Prod-1", "exec-1", now - jiff::SignedDuration::from_mins(10))
            .await
            .unwrap();
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.sdk_config());
        let at =
            aws_sdk_cloudwatch::primitives::DateTime::from_secs((now - jiff::SignedDuration::from_mins(2)).as_second());
        for (version, requests, errors) in [("1", 18_000.0, 18.0), ("2", 2_000.0, 200.0)] {
            for (metric, value) in [("Requests", requests), ("Errors", errors)] {
                cloudwatch
                    .put_metric_data()
                    .namespace("Orders")
                    .metric_data(
                        MetricDatum::builder()
                            .metric_name(metric)
                            .dimensions(Dimension::builder().name("Version").value(version).build())
                            .value(value)
                            .timestamp(at)
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
        }
    });
    let policy = json!({
        "bake": {"duration": "1h"},
        "canary": {"pair": {"namespace": "Orders", "canary": {"Version": "2"}, "baseline": {"Version": "1"},
            "requests": {"metric": "Requests", "stat": "Sum"}, "errors": {"metric": "Errors", "stat": "Sum"}}},
    });
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.env("AWS_ENDPOINT_URL_DYNAMODB", &moto.endpoint());
    runtime.env("AWS_ENDPOINT_URL_CLOUDWATCH", &moto.endpoint());
    runtime.answer_aws(
        "GetJobDetails",
        json!({"jobDetails": {"id": "job-1", "data": {"pipelineContext": {"pipelineName": "orders",
            "stage": {"name": "Prod-1"}, "action": {"name": "Bake"}, "pipelineExecutionId": "exec-1"}}}}),
    );
    runtime.push_event(
        "r1",
        json!({"CodePipeline.job": {"id": "job-1", "accountId": "111111111111", "data": {
            "actionConfiguration": {"configuration": {"FunctionName": "bake-time-waiter", "UserParameters": policy.to_string()}},
            "inputArtifacts": [], "outputArtifacts": []}}}),
    );
    runtime.spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_bake-time-waiter")),
        "bake-time-waiter",
    );
    let replies = runtime.wait_for_replies(1, std::time::Duration::from_secs(60));
    assert_eq!(
        replies.first().map(|(_, reply)| reply.clone()),
        Some(Reply::Response(
            json!({"job_id": "job-1", "answer": "failed", "decision": "rollback"})
        )),
        "{replies:?}\n{}",
        runtime.output()
    );
    let failure = runtime
        .aws_calls()
        .into_iter()
        .find(|call| call.target.ends_with("PutJobFailureResult"))
        .expect("the job was failed");
    let message = failure.body["failureDetails"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("bake-time-waiter: ") && message.contains("the one-box's error rate is 100.0x the fleet's"),
        "{message}"
    );
    assert_eq!(failure.body["failureDetails"]["type"], "JobFailed");
}

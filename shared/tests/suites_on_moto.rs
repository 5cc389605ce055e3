//! Suites and runs in the state table, against moto_server: versions, the current pointer that
//! the state machine queries, concurrent writers, and run records.

use std::collections::BTreeSet;
use std::sync::Arc;

use handsoff::ports::store::{DynamoStore, StoreError, create_table};
use handsoff::ports::suites::{SuiteStore, run_key};
use handsoff::suite::report::{Outcome, TestResult};
use handsoff::suite::{RunSummary, Suite};
use handsoff_e2e::Moto;
use jiff::Timestamp;
use serde_json::json;

fn smoke(path: &str) -> Suite {
    Suite::from_value(json!({
        "name": "smoke",
        "vars": {"base_url": null},
        "tests": [{"name": "health", "http": {"url": format!("${{base_url}}{path}")}}]
    }))
    .unwrap()
}

#[tokio::test]
async fn each_put_is_a_new_version_and_the_stage_lists_the_current_ones() {
    let moto = Moto::start();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    create_table(&client, "handsoff").await.unwrap();
    let store = DynamoStore::new(client.clone(), "handsoff");
    let now: Timestamp = "2026-11-24T10:00:00Z".parse().unwrap();

    assert_eq!(
        store
            .put_suite("orders", "Beta", &smoke("/health"), "dev", now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .put_suite("orders", "Beta", &smoke("/healthz"), "dev", now)
            .await
            .unwrap(),
        2
    );
    let mut other = smoke("/ping");
    other.name = "ping".into();
    assert_eq!(store.put_suite("orders", "Beta", &other, "ops", now).await.unwrap(), 1);
    store
        .put_suite("orders", "Gamma", &smoke("/x"), "dev", now)
        .await
        .unwrap();

    let current = store.suites("orders", "Beta").await.unwrap();
    let summary: Vec<(String, i64, String)> = current
        .iter()
        .map(|stored| {
            (
                stored.name.clone(),
                stored.version,
                stored.suite.tests[0].http.as_ref().unwrap().url.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("ping".to_string(), 1, "${base_url}/ping".to_string()),
            ("smoke".to_string(), 2, "${base_url}/healthz".to_string()),
        ]
    );
    // History is kept: both versions of `smoke` are in the table.
    let all = client
        .query()
        .table_name("handsoff")
        .key_condition_expression("pk = :pk AND begins_with(sk, :v)")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S("SUITE#orders#Beta".into()),
        )
        .expression_attribute_values(
            ":v",
            aws_sdk_dynamodb::types::AttributeValue::S("VERSION#smoke#".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(all.count(), 2);
}

#[tokio::test]
async fn concurrent_writers_never_both_take_a_version() {
    let moto = Moto::start();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    create_table(&client, "handsoff").await.unwrap();
    let store = Arc::new(DynamoStore::new(client, "handsoff"));
    let now = Timestamp::now();
    store
        .put_suite("orders", "Prod", &smoke("/v0"), "dev", now)
        .await
        .unwrap();

    let writers: Vec<_> = (0..20)
        .map(|index| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put_suite("orders", "Prod", &smoke(&format!("/v{index}")), "dev", now)
                    .await
            })
        })
        .collect();
    let mut versions = BTreeSet::new();
    let mut conflicts = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(version) => assert!(versions.insert(version), "version {version} was taken twice"),
            Err(StoreError::Conflict(message)) => {
                assert!(message.contains("run the command again"), "{message}");
                conflicts += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(versions.len() + conflicts, 20);
    let current = store.suites("orders", "Prod").await.unwrap();
    assert_eq!(current[0].version, 1 + versions.len() as i64);
    assert_eq!(versions.iter().max().copied(), Some(current[0].version));
}

#[tokio::test]
async fn a_run_is_recorded_once_with_its_results() {
    let moto = Moto::start();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    create_table(&client, "handsoff").await.unwrap();
    let store = DynamoStore::new(client.clone(), "handsoff");
    let result = TestResult {
        name: "health".into(),
        kind: "http".into(),
        outcome: Outcome::Failed,
        attempts: 2,
        duration_ms: 40,
        failures: vec!["status: expected 200, got 503".into()],
        sent: None,
        received: None,
        traffic: None,
    };
    let summary = RunSummary::new(
        "smoke",
        "run-7".into(),
        "2026-11-24T10:00:00Z".parse().unwrap(),
        41,
        vec![result],
    );
    store
        .record_run("orders", "Beta", Some("exec-1"), &summary)
        .await
        .unwrap();
    let again = store
        .record_run("orders", "Beta", Some("exec-1"), &summary)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("ConditionalCheckFailed"), "{again}");

    let items = client
        .query()
        .table_name("handsoff")
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(run_key("orders", "Beta")),
        )
        .send()
        .await
        .unwrap();
    let item = &items.items()[0];
    assert_eq!(item["sk"].as_s().unwrap(), "2026-11-24T10:00:00Z#smoke#run-7");
    assert_eq!(item["ok"].as_bool().unwrap(), &false);
    assert_eq!(item["execution_id"].as_s().unwrap(), "exec-1");
    let stored: RunSummary = serde_json::from_str(item["results"].as_s().unwrap()).unwrap();
    assert_eq!(stored, summary);
}

//! Suites and their runs in the state table. A stage's suites are versioned: every `put` writes
//! an immutable `VERSION#name#000007` item and moves the `CURRENT#name` item to it, in one
//! transaction conditioned on the version it read, so two writers never both win.
//! The post-stage-validation state machine reads the `CURRENT#` items with a Query.

use std::future::Future;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use jiff::Timestamp;

use super::store::{DynamoStore, Item, StoreError, built, malformed, n, s, text};
use crate::suite::{RunSummary, Suite};

/// How long run results are kept (DynamoDB TTL).
pub const RUN_RETENTION_DAYS: i64 = 90;

/// DynamoDB items are at most 400 KB; a run bigger than this is stored without bodies.
const MAX_RUN_BYTES: usize = 350 * 1024;

pub fn suite_key(pipeline: &str, stage: &str) -> String {
    format!("SUITE#{pipeline}#{stage}")
}

pub fn run_key(pipeline: &str, stage: &str) -> String {
    format!("RUN#{pipeline}#{stage}")
}

/// The sort-key prefix of a stage's current suites.
pub const CURRENT_PREFIX: &str = "CURRENT#";

#[derive(Debug, Clone, PartialEq)]
pub struct StoredSuite {
    pub name: String,
    pub version: i64,
    pub updated_at: Timestamp,
    pub updated_by: String,
    pub suite: Suite,
}

pub trait SuiteStore: Send + Sync {
    /// Stores a new version of `suite` for a stage; returns its version number.
    fn put_suite(
        &self,
        pipeline: &str,
        stage: &str,
        suite: &Suite,
        by: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// The current version of every suite of a stage, by name.
    fn suites(&self, pipeline: &str, stage: &str) -> impl Future<Output = Result<Vec<StoredSuite>, StoreError>> + Send;
    /// Records one run's results.
    fn record_run(
        &self,
        pipeline: &str,
        stage: &str,
        execution_id: Option<&str>,
        summary: &RunSummary,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

fn suite_item(pipeline: &str, stage: &str, sk: String, suite: &Suite, version: i64, by: &str, now: Timestamp) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(suite_key(pipeline, stage)));
    item.insert("sk".into(), s(sk));
    item.insert("name".into(), s(&suite.name));
    item.insert("version".into(), n(version));
    item.insert("body".into(), s(serde_json::to_string(suite).unwrap_or_default()));
    item.insert("updated_at".into(), s(now.to_string()));
    item.insert("updated_by".into(), s(by));
    item
}

fn stored_from(item: &Item) -> Result<StoredSuite, StoreError> {
    let call = "dynamodb:Query";
    let version = match item.get("version") {
        Some(aws_sdk_dynamodb::types::AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| malformed(call, "`version` is missing or not a number"))?;
    let body = text(item, "body", call)?;
    let suite = Suite::from_json(&body)
        .map_err(|error| malformed(call, &format!("the stored suite no longer parses ({error})")))?;
    Ok(StoredSuite {
        name: text(item, "name", call)?,
        version,
        updated_at: text(item, "updated_at", call)?
            .parse()
            .map_err(|_| malformed(call, "`updated_at` is not a timestamp"))?,
        updated_by: text(item, "updated_by", call)?,
        suite,
    })
}

impl SuiteStore for DynamoStore {
    async fn put_suite(
        &self,
        pipeline: &str,
        stage: &str,
        suite: &Suite,
        by: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let current_sk = format!("{CURRENT_PREFIX}{}", suite.name);
        let current = self
            .get(suite_key(pipeline, stage), &current_sk, "dynamodb:GetItem")
            .await?;
        let previous = match &current {
            Some(item) => stored_from(item)?.version,
            None => 0,
        };
        let version = previous + 1;
        let call = "dynamodb:TransactWriteItems";
        let history = Put::builder()
            .table_name(self.table())
            .set_item(Some(suite_item(
                pipeline,
                stage,
                format!("VERSION#{}#{version:06}", suite.name),
                suite,
                version,
                by,
                now,
            )))
            .condition_expression("attribute_not_exists(pk)")
            .build();
        let mut head = Put::builder()
            .table_name(self.table())
            .set_item(Some(suite_item(pipeline, stage, current_sk, suite, version, by, now)));
        head = if current.is_some() {
            head.condition_expression("version = :previous")
                .expression_attribute_values(":previous", n(previous))
        } else {
            head.condition_expression("attribute_not_exists(pk)")
        };
        let items = vec![
            TransactWriteItem::builder().put(built(history, call)?).build(),
            TransactWriteItem::builder().put(built(head.build(), call)?).build(),
        ];
        self.transact(
            items,
            format!(
                "suite `{}` of {pipeline}/{stage} changed while this version was written; run the command again",
                suite.name
            ),
        )
        .await?;
        Ok(version)
    }

    async fn suites(&self, pipeline: &str, stage: &str) -> Result<Vec<StoredSuite>, StoreError> {
        self.query_all(suite_key(pipeline, stage), Some(CURRENT_PREFIX))
            .await?
            .iter()
            .map(stored_from)
            .collect()
    }

    async fn record_run(
        &self,
        pipeline: &str,
        stage: &str,
        execution_id: Option<&str>,
        summary: &RunSummary,
    ) -> Result<(), StoreError> {
        let call = "dynamodb:PutItem";
        let mut results = serde_json::to_string(summary).unwrap_or_default();
        if results.len() > MAX_RUN_BYTES {
            results = summary.compact().to_string();
        }
        let mut item = Item::new();
        item.insert("pk".into(), s(run_key(pipeline, stage)));
        item.insert(
            "sk".into(),
            s(format!("{}#{}#{}", summary.started_at, summary.suite, summary.run_id)),
        );
        item.insert("suite".into(), s(&summary.suite));
        item.insert("ok".into(), aws_sdk_dynamodb::types::AttributeValue::Bool(summary.ok));
        item.insert("results".into(), s(results));
        if let Some(execution_id) = execution_id {
            item.insert("execution_id".into(), s(execution_id));
        }
        item.insert(
            "expires_at".into(),
            n(summary.started_at.as_second() + RUN_RETENTION_DAYS * 86_400),
        );
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            // A run id is new; a second write of it would be a bug, not an update.
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|error| StoreError::Port(super::PortError::from_sdk(call, &error)))?;
        Ok(())
    }
}

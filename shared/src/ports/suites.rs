//! Suites and their runs in the state table. A stage's suites are versioned: every `put` writes
//! an immutable `VERSION#name#000007` item and moves the `CURRENT#name` item to it, in one
//! transaction conditioned on the version it read, so two writers never both win.
//! The post-stage-validation state machine reads the `CURRENT#` items with a Query.

use std::future::Future;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use jiff::Timestamp;

use serde::{Deserialize, Serialize};

use super::store::codec;
use super::store::{DynamoStore, Item, StoreError, built, days_after, malformed, n};
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

/// A version of a suite (or the `CURRENT#` copy of one): the suite as JSON text, who stored it
/// and when.
#[derive(Serialize, Deserialize)]
struct SuiteItem {
    pk: String,
    sk: String,
    name: String,
    version: i64,
    body: String,
    updated_at: Timestamp,
    updated_by: String,
}

/// One run's results, kept [`RUN_RETENTION_DAYS`].
#[derive(Serialize, Deserialize)]
struct RunItem {
    pk: String,
    sk: String,
    suite: String,
    ok: bool,
    results: String,
    #[serde(
        default,
        deserialize_with = "codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    execution_id: Option<String>,
    #[serde(with = "codec::epoch_seconds")]
    expires_at: Timestamp,
}

fn suite_item(
    pipeline: &str,
    stage: &str,
    sk: String,
    suite: &Suite,
    version: i64,
    by: &str,
    now: Timestamp,
) -> Result<Item, StoreError> {
    codec::to_item(&SuiteItem {
        pk: suite_key(pipeline, stage),
        sk,
        name: suite.name.clone(),
        version,
        body: serde_json::to_string(suite).unwrap_or_default(),
        updated_at: now,
        updated_by: by.to_string(),
    })
}

fn stored_from(item: &Item) -> Result<StoredSuite, StoreError> {
    let call = "dynamodb:Query";
    let item: SuiteItem = codec::from_item(item, call)?;
    let suite = Suite::from_json(&item.body)
        .map_err(|error| malformed(call, &format!("the stored suite no longer parses ({error})")))?;
    Ok(StoredSuite {
        name: item.name,
        version: item.version,
        updated_at: item.updated_at,
        updated_by: item.updated_by,
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
            )?))
            .condition_expression("attribute_not_exists(pk)")
            .build();
        let mut head = Put::builder()
            .table_name(self.table())
            .set_item(Some(suite_item(pipeline, stage, current_sk, suite, version, by, now)?));
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
        let item = codec::to_item(&RunItem {
            pk: run_key(pipeline, stage),
            sk: format!("{}#{}#{}", summary.started_at, summary.suite, summary.run_id),
            suite: summary.suite.clone(),
            ok: summary.ok,
            results,
            execution_id: execution_id.map(str::to_string),
            expires_at: days_after(summary.started_at, RUN_RETENTION_DAYS),
        })?;
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

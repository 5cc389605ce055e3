//! The state store: one DynamoDB table (`pk`/`sk` strings, TTL on `expires_at`) holding every
//! record, one module per kind (overrides, blocks, audit, rollbacks, bake sessions; suites and
//! policies beside it in `ports/`), each with its own small trait. Here: the table, the item
//! helpers every kind shares, and the one conditional-write rule. [`memory`] holds the same
//! stores in memory, for the gates' fast tests.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use jiff::Timestamp;

use super::{PortError, PortErrorKind};

mod audit;
mod bake;
mod blocks;
pub(crate) mod codec;
pub mod memory;
mod overrides;
mod rollbacks;

pub use audit::AuditStore;
pub use bake::BakeStore;
pub use blocks::BlockStore;
pub use overrides::OverrideStore;
pub use rollbacks::{RollbackClaim, RollbackKey, RollbackStore};

/// How long audit records are kept (DynamoDB TTL).
pub const AUDIT_RETENTION_DAYS: i64 = 400;

/// `days` after `at`: when the table's TTL removes a record kept that long.
pub(crate) fn days_after(at: Timestamp, days: i64) -> Timestamp {
    at.checked_add(jiff::SignedDuration::from_hours(days * 24))
        .unwrap_or(Timestamp::MAX)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Port(PortError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

/// Every kind of record a gate or a person reads and writes: what the gates are generic over.
pub trait StateStore: OverrideStore + BlockStore + AuditStore + RollbackStore + BakeStore {}

impl<T: OverrideStore + BlockStore + AuditStore + RollbackStore + BakeStore> StateStore for T {}

/// Which sort keys under a partition a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey<'a> {
    Any,
    BeginsWith(&'a str),
    After(&'a str),
}

/// The real adapter, on aws-sdk-dynamodb.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn malformed(call: &str, what: &str) -> StoreError {
    StoreError::Port(PortError {
        call: call.to_string(),
        kind: PortErrorKind::Unavailable,
        message: format!("malformed item: {what}"),
    })
}

pub(super) fn built<T, E: std::fmt::Display>(result: Result<T, E>, call: &str) -> Result<T, StoreError> {
    result.map_err(|error| {
        StoreError::Port(PortError {
            call: call.to_string(),
            kind: PortErrorKind::Rejected,
            message: error.to_string(),
        })
    })
}

/// True when a transaction was cancelled because one of its conditions failed.
fn condition_failed<R>(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> bool {
    match error.as_service_error() {
        Some(
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                cancelled,
            ),
        ) => cancelled
            .cancellation_reasons()
            .iter()
            .any(|reason| reason.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

/// Whether a single conditional write went through: `Ok(true)` written, `Ok(false)` its
/// condition failed (the record was there, or changed), `Err` the call itself failed. The one
/// place a failed condition is told from a failed call.
pub(crate) fn conditional<O, E, R>(
    written: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>,
    call: &str,
) -> Result<bool, StoreError>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    match written {
        Ok(_) => Ok(true),
        Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(error) => Err(StoreError::Port(PortError::from_sdk(call, &error))),
    }
}

impl DynamoStore {
    /// Every (pipeline, stage) with a record in the table (an audit trail, a block, an
    /// override), of `pipeline` only if given, sorted. A scan: for people (`handsoff status`, the
    /// dashboard), never for a gate.
    pub async fn stages(&self, pipeline: Option<&str>) -> Result<Vec<(String, String)>, StoreError> {
        let call = "dynamodb:Scan";
        let mut found = std::collections::BTreeSet::new();
        for kind in ["AUDIT", "BLOCK", "OVERRIDE"] {
            let prefix = match pipeline {
                Some(pipeline) => format!("{kind}#{pipeline}#"),
                None => format!("{kind}#"),
            };
            let items = self.scan_prefix(prefix, Some("pk, sk")).await?;
            for item in items {
                let codec::RecordKey { pk, .. } = codec::from_item(&item, call)?;
                let mut parts = pk.splitn(3, '#').skip(1);
                match (parts.next(), parts.next()) {
                    (Some(pipeline), Some(stage)) if !pipeline.is_empty() && !stage.is_empty() => {
                        found.insert((pipeline.to_string(), stage.to_string()));
                    }
                    _ => return Err(malformed(call, "a record key that names no pipeline and stage")),
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    /// Writes `item` only if no record has its key yet: `Ok(true)` written, `Ok(false)` one was
    /// there already (the caller reads it), `Err` the call failed.
    pub(super) async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional(written, "dynamodb:PutItem")
    }

    pub(super) async fn get(&self, pk: String, sk: &str, call: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| StoreError::Port(PortError::from_sdk(call, &error)))?;
        Ok(output.item)
    }

    /// Every item whose key starts with `prefix` (only `projection`'s attributes, if given), all
    /// pages, read consistently. A scan: for people's commands, never for a gate.
    pub(super) async fn scan_prefix(&self, prefix: String, projection: Option<&str>) -> Result<Vec<Item>, StoreError> {
        self.client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(pk, :prefix)")
            .expression_attribute_values(":prefix", s(prefix))
            .set_projection_expression(projection.map(str::to_string))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|error| StoreError::Port(PortError::from_sdk("dynamodb:Scan", &error)))
    }

    /// Every item under `pk` (whose sort key starts with `prefix`, if given), all pages.
    pub(super) async fn query_all(&self, pk: String, prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        match prefix {
            Some(prefix) => self.query_where(pk, SortKey::BeginsWith(prefix)).await,
            None => self.query_where(pk, SortKey::Any).await,
        }
    }

    /// Every item under `pk` whose sort key is as `sort_key` says, all pages, read consistently.
    pub(crate) async fn query_where(&self, pk: String, sort_key: SortKey<'_>) -> Result<Vec<Item>, StoreError> {
        let call = "dynamodb:Query";
        let mut values = Item::from([(":pk".to_string(), s(pk))]);
        let condition = match sort_key {
            SortKey::Any => "pk = :pk",
            SortKey::BeginsWith(prefix) => {
                values.insert(":sk".to_string(), s(prefix));
                "pk = :pk AND begins_with(sk, :sk)"
            }
            SortKey::After(after) => {
                values.insert(":sk".to_string(), s(after));
                "pk = :pk AND sk > :sk"
            }
        };
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|error| StoreError::Port(PortError::from_sdk(call, &error)))
    }

    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>, conflict: String) -> Result<(), StoreError> {
        let call = "dynamodb:TransactWriteItems";
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if condition_failed(&error) => Err(StoreError::Conflict(conflict)),
            Err(error) => Err(StoreError::Port(PortError::from_sdk(call, &error))),
        }
    }

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_string))
                .build(),
            "dynamodb:TransactWriteItems",
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// Creates the table (on demand, TTL on `expires_at`), as the SAM template does; for local
/// stacks and tests.
pub async fn create_table(client: &Client, table: &str) -> Result<(), PortError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let invalid = |error: aws_sdk_dynamodb::error::BuildError| PortError {
        call: "dynamodb:CreateTable".into(),
        kind: PortErrorKind::Rejected,
        message: error.to_string(),
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk").map_err(invalid)?)
        .attribute_definitions(attribute("sk").map_err(invalid)?)
        .key_schema(key("pk", KeyType::Hash).map_err(invalid)?)
        .key_schema(key("sk", KeyType::Range).map_err(invalid)?)
        .send()
        .await
        .map_err(|error| PortError::from_sdk("dynamodb:CreateTable", &error))?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("expires_at")
        .enabled(true)
        .build()
        .map_err(|error| PortError {
            call: "dynamodb:UpdateTimeToLive".into(),
            kind: PortErrorKind::Rejected,
            message: error.to_string(),
        })?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|error| PortError::from_sdk("dynamodb:UpdateTimeToLive", &error))?;
    Ok(())
}

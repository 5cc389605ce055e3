//! The state store: one DynamoDB table (`pk`/`sk` strings, TTL on `expires_at`) holding
//! overrides, stage blocks and the audit trail. Writes that must happen once are conditional.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use jiff::Timestamp;

use super::{PortError, PortErrorKind};
use crate::alarms::{BlockMarker, Override};
use crate::audit::AuditRecord;
use crate::rollback::{RollbackRecord, StepResult};

/// Whether this invocation may run a deployment's rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackClaim {
    /// Yes; `previous` are the steps of an earlier partial run (those that succeeded are skipped).
    Claimed { previous: Vec<StepResult> },
    /// It ran already: here is its result.
    Done(RollbackRecord),
    /// Another invocation is running it now.
    InProgress { since: Timestamp },
}

/// One deployment's rollback, and the invocation that claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollbackKey<'a> {
    pub pipeline: &'a str,
    pub stage: &'a str,
    pub execution_id: &'a str,
    /// New per invocation; the claim's owner.
    pub claim_id: &'a str,
}

impl RollbackKey<'_> {
    fn key(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                "pk".to_string(),
                s(format!("ROLLBACK#{}#{}", self.pipeline, self.stage)),
            ),
            ("sk".to_string(), s(self.execution_id)),
        ])
    }
}

/// How long audit records are kept (DynamoDB TTL).
pub const AUDIT_RETENTION_DAYS: i64 = 400;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Port(PortError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

pub trait StateStore: Send + Sync {
    /// Every override of one stage, live or not.
    fn overrides(&self, pipeline: &str, stage: &str) -> impl Future<Output = Result<Vec<Override>, StoreError>> + Send;
    /// Overrides of one pipeline, or of all.
    fn list_overrides(&self, pipeline: Option<&str>) -> impl Future<Output = Result<Vec<Override>, StoreError>> + Send;
    /// Writes a new override and its audit record, once (the id must be new).
    fn create_override(&self, item: &Override) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Marks an override revoked, once, with an audit record; returns it as it now is.
    fn revoke_override(
        &self,
        id: &str,
        by: &str,
        reason: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Override, StoreError>> + Send;
    fn block_marker(
        &self,
        pipeline: &str,
        stage: &str,
    ) -> impl Future<Output = Result<Option<BlockMarker>, StoreError>> + Send;
    fn put_block_marker(&self, marker: &BlockMarker) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes a stage block with an audit record; NotFound if the stage was not blocked.
    fn clear_block_marker(
        &self,
        pipeline: &str,
        stage: &str,
        by: &str,
        reason: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<BlockMarker, StoreError>> + Send;
    fn audit(&self, record: &AuditRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Claims a deployment's rollback under `claim_id` (new per invocation): the first caller
    /// runs it; a claim older than `lease_secs` or a partial result can be taken over; a claim
    /// already written under `claim_id` (an SDK retry whose first answer was lost) is ours.
    fn claim_rollback(
        &self,
        rollback: RollbackKey<'_>,
        now: Timestamp,
        lease_secs: i64,
    ) -> impl Future<Output = Result<RollbackClaim, StoreError>> + Send;
    /// Saves the steps run so far while the claim is still `claim_id`'s, so whoever takes over
    /// an abandoned run skips what already succeeded. `Conflict` when the claim was lost.
    fn save_rollback_progress(
        &self,
        rollback: RollbackKey<'_>,
        progress: &RollbackRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// In one transaction, while the claim is still `claim_id`'s: the rollback's record, the
    /// stage's "blocked after rollback" marker and its audit record, and `decision` (the
    /// trigger's own audit record) if given. `Conflict` when the claim was lost: nothing is
    /// written.
    fn finish_rollback(
        &self,
        rollback: RollbackKey<'_>,
        record: &RollbackRecord,
        marker: &BlockMarker,
        decision: Option<&AuditRecord>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Starts the bake of one deployment once; every later call returns the first start.
    fn start_bake(
        &self,
        pipeline: &str,
        stage: &str,
        execution_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Timestamp, StoreError>> + Send;
    fn audit_trail(
        &self,
        pipeline: &str,
        stage: &str,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;
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

fn override_key(pipeline: &str, stage: &str) -> String {
    format!("OVERRIDE#{pipeline}#{stage}")
}

fn pointer_key(id: &str) -> String {
    format!("OVERRIDE_ID#{id}")
}

fn block_key(pipeline: &str, stage: &str) -> String {
    format!("BLOCK#{pipeline}#{stage}")
}

fn audit_key(pipeline: &str, stage: &str) -> String {
    format!("AUDIT#{pipeline}#{stage}")
}

pub(super) fn malformed(call: &str, what: &str) -> StoreError {
    StoreError::Port(PortError {
        call: call.to_string(),
        kind: PortErrorKind::Unavailable,
        message: format!("malformed item: {what}"),
    })
}

pub(super) fn text(item: &Item, field: &str, call: &str) -> Result<String, StoreError> {
    match item.get(field) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(malformed(call, &format!("`{field}` is missing or not a string"))),
    }
}

fn optional_text(item: &Item, field: &str) -> Option<String> {
    match item.get(field) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn instant(item: &Item, field: &str, call: &str) -> Result<Timestamp, StoreError> {
    text(item, field, call)?
        .parse()
        .map_err(|_| malformed(call, &format!("`{field}` is not a timestamp")))
}

fn seconds(item: &Item, field: &str, call: &str) -> Result<Timestamp, StoreError> {
    match item.get(field) {
        Some(AttributeValue::N(value)) => value
            .parse::<i64>()
            .ok()
            .and_then(|secs| Timestamp::from_second(secs).ok())
            .ok_or_else(|| malformed(call, &format!("`{field}` is not epoch seconds"))),
        _ => Err(malformed(call, &format!("`{field}` is missing or not a number"))),
    }
}

fn override_item(item: &Override) -> Item {
    let mut map = Item::new();
    map.insert("pk".into(), s(override_key(&item.pipeline, &item.stage)));
    map.insert("sk".into(), s(format!("OVERRIDE#{}", item.id)));
    map.insert("id".into(), s(&item.id));
    map.insert("pipeline".into(), s(&item.pipeline));
    map.insert("stage".into(), s(&item.stage));
    if !item.alarms.is_empty() {
        map.insert("alarms".into(), AttributeValue::L(item.alarms.iter().map(s).collect()));
    }
    map.insert("reason".into(), s(&item.reason));
    map.insert("who".into(), s(&item.who));
    map.insert("created_at".into(), s(item.created_at.to_string()));
    // The TTL attribute: DynamoDB deletes expired overrides some time after they expire.
    map.insert("expires_at".into(), n(item.expires_at.as_second()));
    map
}

fn override_from(item: &Item, call: &str) -> Result<Override, StoreError> {
    // An override lifts blocks, so one that cannot be read exactly lifts nothing: it is a
    // malformed record (an unreadable `alarms` must not read as "every alarm").
    let alarms = match item.get("alarms") {
        None => Vec::new(),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|value| value.as_s().cloned())
            .collect::<Result<Vec<String>, _>>()
            .map_err(|_| malformed(call, "`alarms` holds something other than alarm names"))?,
        Some(_) => return Err(malformed(call, "`alarms` is not a list of alarm names")),
    };
    let revoked_at = match optional_text(item, "revoked_at") {
        Some(at) => Some(
            at.parse()
                .map_err(|_| malformed(call, "`revoked_at` is not a timestamp"))?,
        ),
        None if item.contains_key("revoked_at") => return Err(malformed(call, "`revoked_at` is not a timestamp")),
        None => None,
    };
    Ok(Override {
        id: text(item, "id", call)?,
        pipeline: text(item, "pipeline", call)?,
        stage: text(item, "stage", call)?,
        alarms,
        reason: text(item, "reason", call)?,
        who: text(item, "who", call)?,
        created_at: instant(item, "created_at", call)?,
        expires_at: seconds(item, "expires_at", call)?,
        revoked_at,
        revoked_by: optional_text(item, "revoked_by"),
    })
}

fn audit_item(record: &AuditRecord) -> Item {
    let mut map = Item::new();
    map.insert("pk".into(), s(audit_key(&record.pipeline, &record.stage)));
    // Sorts by time; the random suffix keeps two records of one instant apart.
    map.insert(
        "sk".into(),
        s(format!(
            "{}#{}",
            record.at.strftime("%Y-%m-%dT%H:%M:%S%.9fZ"),
            uuid::Uuid::new_v4()
        )),
    );
    map.insert("record".into(), s(serde_json::to_string(record).unwrap_or_default()));
    map.insert(
        "expires_at".into(),
        n(record.at.as_second() + AUDIT_RETENTION_DAYS * 86_400),
    );
    map
}

fn marker_item(marker: &BlockMarker) -> Item {
    let mut map = Item::new();
    map.insert("pk".into(), s(block_key(&marker.pipeline, &marker.stage)));
    map.insert("sk".into(), s("BLOCK"));
    map.insert("marker".into(), s(serde_json::to_string(marker).unwrap_or_default()));
    map
}

pub(super) fn json_field<T: serde::de::DeserializeOwned>(
    item: &Item,
    field: &str,
    call: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(&text(item, field, call)?)
        .map_err(|_| malformed(call, &format!("`{field}` is not the expected JSON")))
}

fn claim_lost(rollback: RollbackKey<'_>) -> StoreError {
    StoreError::Conflict(format!(
        "another invocation took over the rollback of execution {} of {}/{} (this one held it past its lease)",
        rollback.execution_id, rollback.pipeline, rollback.stage
    ))
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
            let items = self.scan_prefix(prefix, Some("pk")).await?;
            for item in items {
                let pk = text(&item, "pk", call)?;
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
        let call = "dynamodb:Query";
        let mut values = Item::from([(":pk".to_string(), s(pk))]);
        if let Some(prefix) = prefix {
            values.insert(":prefix".to_string(), s(prefix));
        }
        let condition = match prefix {
            Some(_) => "pk = :pk AND begins_with(sk, :prefix)",
            None => "pk = :pk",
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

    /// A stage's "blocked after rollback" marker and its audit record, to write together.
    fn block_items(&self, marker: &BlockMarker) -> Result<Vec<TransactWriteItem>, StoreError> {
        let audit = AuditRecord::of_change(
            "blocked_after_rollback",
            &marker.pipeline,
            &marker.stage,
            marker.created_at,
            &marker.by,
            &marker.reason,
            serde_json::Value::Null,
        );
        Ok(vec![
            self.put(marker_item(marker), None)?,
            self.put(audit_item(&audit), None)?,
        ])
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

impl StateStore for DynamoStore {
    async fn overrides(&self, pipeline: &str, stage: &str) -> Result<Vec<Override>, StoreError> {
        let items = self.query_all(override_key(pipeline, stage), None).await?;
        items.iter().map(|item| override_from(item, "dynamodb:Query")).collect()
    }

    async fn list_overrides(&self, pipeline: Option<&str>) -> Result<Vec<Override>, StoreError> {
        let call = "dynamodb:Scan";
        let prefix = match pipeline {
            Some(pipeline) => format!("OVERRIDE#{pipeline}#"),
            None => "OVERRIDE#".to_string(),
        };
        let items = self.scan_prefix(prefix, None).await?;
        let mut found = items
            .iter()
            .map(|item| override_from(item, call))
            .collect::<Result<Vec<_>, _>>()?;
        found.sort_by_key(|item| item.created_at);
        Ok(found)
    }

    async fn create_override(&self, item: &Override) -> Result<(), StoreError> {
        let mut pointer = Item::new();
        pointer.insert("pk".into(), s(pointer_key(&item.id)));
        pointer.insert("sk".into(), s("OVERRIDE_ID"));
        pointer.insert("pipeline".into(), s(&item.pipeline));
        pointer.insert("stage".into(), s(&item.stage));
        pointer.insert("expires_at".into(), n(item.expires_at.as_second()));
        let audit = AuditRecord::of_change(
            "override_created",
            &item.pipeline,
            &item.stage,
            item.created_at,
            &item.who,
            &item.reason,
            serde_json::to_value(item).unwrap_or_default(),
        );
        self.transact(
            vec![
                self.put(override_item(item), Some("attribute_not_exists(pk)"))?,
                self.put(pointer, Some("attribute_not_exists(pk)"))?,
                self.put(audit_item(&audit), None)?,
            ],
            format!("override {} already exists", item.id),
        )
        .await
    }

    async fn revoke_override(&self, id: &str, by: &str, reason: &str, now: Timestamp) -> Result<Override, StoreError> {
        let call = "dynamodb:GetItem";
        let pointer = self
            .get(pointer_key(id), "OVERRIDE_ID", call)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no override has id {id}")))?;
        let (pipeline, stage) = (text(&pointer, "pipeline", call)?, text(&pointer, "stage", call)?);
        let key = HashMap::from([
            ("pk".to_string(), s(override_key(&pipeline, &stage))),
            ("sk".to_string(), s(format!("OVERRIDE#{id}"))),
        ]);
        let update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression("SET revoked_at = :at, revoked_by = :by, revoke_reason = :reason")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(revoked_at)")
                .expression_attribute_values(":at", s(now.to_string()))
                .expression_attribute_values(":by", s(by))
                .expression_attribute_values(":reason", s(reason))
                .build(),
            "dynamodb:TransactWriteItems",
        )?;
        let audit = AuditRecord::of_change(
            "override_revoked",
            &pipeline,
            &stage,
            now,
            by,
            reason,
            serde_json::json!({"id": id}),
        );
        self.transact(
            vec![
                TransactWriteItem::builder().update(update).build(),
                self.put(audit_item(&audit), None)?,
            ],
            format!("override {id} is already revoked (or expired and removed)"),
        )
        .await?;
        let item = self
            .get(override_key(&pipeline, &stage), &format!("OVERRIDE#{id}"), call)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no override has id {id}")))?;
        override_from(&item, call)
    }

    async fn block_marker(&self, pipeline: &str, stage: &str) -> Result<Option<BlockMarker>, StoreError> {
        let call = "dynamodb:GetItem";
        match self.get(block_key(pipeline, stage), "BLOCK", call).await? {
            Some(item) => Ok(Some(json_field(&item, "marker", call)?)),
            None => Ok(None),
        }
    }

    async fn put_block_marker(&self, marker: &BlockMarker) -> Result<(), StoreError> {
        self.transact(self.block_items(marker)?, String::new()).await
    }

    async fn clear_block_marker(
        &self,
        pipeline: &str,
        stage: &str,
        by: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<BlockMarker, StoreError> {
        let not_blocked = || StoreError::NotFound(format!("stage {stage} of pipeline {pipeline} is not blocked"));
        let marker = self.block_marker(pipeline, stage).await?.ok_or_else(not_blocked)?;
        let key = HashMap::from([
            ("pk".to_string(), s(block_key(pipeline, stage))),
            ("sk".to_string(), s("BLOCK")),
        ]);
        let delete = built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .condition_expression("attribute_exists(pk)")
                .build(),
            "dynamodb:TransactWriteItems",
        )?;
        let audit = AuditRecord::of_change(
            "unblocked",
            pipeline,
            stage,
            now,
            by,
            reason,
            serde_json::to_value(&marker).unwrap_or_default(),
        );
        match self
            .transact(
                vec![
                    TransactWriteItem::builder().delete(delete).build(),
                    self.put(audit_item(&audit), None)?,
                ],
                String::new(),
            )
            .await
        {
            Err(StoreError::Conflict(_)) => Err(not_blocked()),
            other => other.map(|()| marker),
        }
    }

    async fn claim_rollback(
        &self,
        rollback: RollbackKey<'_>,
        now: Timestamp,
        lease_secs: i64,
    ) -> Result<RollbackClaim, StoreError> {
        let mut item = rollback.key();
        item.insert("status".into(), s("in_progress"));
        item.insert("claimed_at".into(), n(now.as_second()));
        item.insert("claim_id".into(), s(rollback.claim_id));
        item.insert("expires_at".into(), n(now.as_second() + AUDIT_RETENTION_DAYS * 86_400));
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match written {
            Ok(_) => return Ok(RollbackClaim::Claimed { previous: Vec::new() }),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
            Err(error) => return Err(StoreError::Port(PortError::from_sdk("dynamodb:PutItem", &error))),
        }
        let call = "dynamodb:GetItem";
        let existing = self
            .get(
                format!("ROLLBACK#{}#{}", rollback.pipeline, rollback.stage),
                rollback.execution_id,
                call,
            )
            .await?
            .ok_or_else(|| malformed(call, "the rollback record vanished"))?;
        let status = text(&existing, "status", call)?;
        let claimed_at = seconds(&existing, "claimed_at", call)?;
        let record: Option<RollbackRecord> = match optional_text(&existing, "record") {
            Some(json) => {
                Some(serde_json::from_str(&json).map_err(|_| malformed(call, "`record` is not a rollback record"))?)
            }
            None => None,
        };
        let previous = record.as_ref().map(|record| record.steps.clone()).unwrap_or_default();
        let holder = optional_text(&existing, "claim_id");
        match status.as_str() {
            "done" => {
                return record
                    .map(RollbackClaim::Done)
                    .ok_or_else(|| malformed(call, "a done rollback without its record"));
            }
            "in_progress" if holder.as_deref() == Some(rollback.claim_id) => {
                return Ok(RollbackClaim::Claimed { previous });
            }
            "in_progress" if now.as_second() - claimed_at.as_second() < lease_secs => {
                return Ok(RollbackClaim::InProgress { since: claimed_at });
            }
            "in_progress" | "partial" => {}
            other => return Err(malformed(call, &format!("unknown rollback status `{other}`"))),
        }
        // Take over a partial or abandoned run, once: the condition pins what we read.
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(rollback.key()))
            .update_expression("SET #status = :claimed, claimed_at = :now, claim_id = :mine")
            .condition_expression("#status = :status AND claimed_at = :claimed_at")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s("in_progress"))
            .expression_attribute_values(":now", n(now.as_second()))
            .expression_attribute_values(":mine", s(rollback.claim_id))
            .expression_attribute_values(":status", s(status))
            .expression_attribute_values(":claimed_at", n(claimed_at.as_second()))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(RollbackClaim::Claimed { previous }),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // Someone else took it, or our own takeover did and its answer was lost.
                let again = self
                    .get(
                        format!("ROLLBACK#{}#{}", rollback.pipeline, rollback.stage),
                        rollback.execution_id,
                        call,
                    )
                    .await?;
                match again.as_ref().and_then(|item| optional_text(item, "claim_id")) {
                    Some(holder) if holder == rollback.claim_id => Ok(RollbackClaim::Claimed { previous }),
                    _ => Ok(RollbackClaim::InProgress { since: now }),
                }
            }
            Err(error) => Err(StoreError::Port(PortError::from_sdk("dynamodb:UpdateItem", &error))),
        }
    }

    async fn save_rollback_progress(
        &self,
        rollback: RollbackKey<'_>,
        progress: &RollbackRecord,
    ) -> Result<(), StoreError> {
        let call = "dynamodb:UpdateItem";
        let saved = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(rollback.key()))
            .update_expression("SET #record = :record")
            .condition_expression("claim_id = :mine AND #status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#record", "record")
            .expression_attribute_values(":record", s(serde_json::to_string(progress).unwrap_or_default()))
            .expression_attribute_values(":mine", s(rollback.claim_id))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await;
        match saved {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(claim_lost(rollback))
            }
            Err(error) => Err(StoreError::Port(PortError::from_sdk(call, &error))),
        }
    }

    async fn finish_rollback(
        &self,
        rollback: RollbackKey<'_>,
        record: &RollbackRecord,
        marker: &BlockMarker,
        decision: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        let call = "dynamodb:TransactWriteItems";
        let finish = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(rollback.key()))
                .update_expression("SET #status = :status, #record = :record")
                .condition_expression("claim_id = :mine AND #status = :in_progress")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#record", "record")
                .expression_attribute_values(":status", s(&record.status))
                .expression_attribute_values(":record", s(serde_json::to_string(record).unwrap_or_default()))
                .expression_attribute_values(":mine", s(rollback.claim_id))
                .expression_attribute_values(":in_progress", s("in_progress"))
                .build(),
            call,
        )?;
        let mut items = vec![TransactWriteItem::builder().update(finish).build()];
        items.extend(self.block_items(marker)?);
        if let Some(decision) = decision {
            items.push(self.put(audit_item(decision), None)?);
        }
        match self.transact(items, String::new()).await {
            Err(StoreError::Conflict(_)) => Err(claim_lost(rollback)),
            other => other,
        }
    }

    async fn start_bake(
        &self,
        pipeline: &str,
        stage: &str,
        execution_id: &str,
        now: Timestamp,
    ) -> Result<Timestamp, StoreError> {
        let pk = format!("BAKE#{pipeline}#{stage}");
        let mut item = Item::new();
        item.insert("pk".into(), s(pk.clone()));
        item.insert("sk".into(), s(execution_id));
        item.insert("started_at".into(), s(now.to_string()));
        item.insert("expires_at".into(), n(now.as_second() + AUDIT_RETENTION_DAYS * 86_400));
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match written {
            Ok(_) => Ok(now),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let call = "dynamodb:GetItem";
                let existing = self
                    .get(pk, execution_id, call)
                    .await?
                    .ok_or_else(|| malformed(call, "the bake session vanished"))?;
                instant(&existing, "started_at", call)
            }
            Err(error) => Err(StoreError::Port(PortError::from_sdk("dynamodb:PutItem", &error))),
        }
    }

    async fn audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(record)))
            .send()
            .await
            .map_err(|error| StoreError::Port(PortError::from_sdk("dynamodb:PutItem", &error)))?;
        Ok(())
    }

    async fn audit_trail(&self, pipeline: &str, stage: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let items = self.query_all(audit_key(pipeline, stage), None).await?;
        items
            .iter()
            .map(|item| json_field(item, "record", "dynamodb:Query"))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::operation::scan::ScanOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn an_override(id: &str, created_at: &str) -> Override {
        Override {
            id: id.into(),
            pipeline: "orders".into(),
            stage: "Prod".into(),
            alarms: vec!["orders-high-sev".into()],
            reason: "shipping the fix for INC-42".into(),
            who: "arn:aws:iam::123456789012:user/dev".into(),
            created_at: created_at.parse().unwrap(),
            expires_at: "2026-11-25T17:00:00Z".parse().unwrap(),
            revoked_at: None,
            revoked_by: None,
        }
    }

    fn page_key(id: &str) -> Item {
        Item::from([
            ("pk".to_string(), s("OVERRIDE#orders#Prod")),
            ("sk".to_string(), s(format!("OVERRIDE#{id}"))),
        ])
    }

    // DynamoDB answers at most 1 MB a page: a stage's overrides past the first page still count.
    /// An override that cannot be read exactly lifts nothing: before, an `alarms` attribute that
    /// was not a list read as "every alarm", and an unparsable `revoked_at` as "not revoked".
    #[tokio::test]
    async fn an_override_that_cannot_be_read_exactly_is_malformed_never_wider() {
        for (field, value, says) in [
            (
                "alarms",
                AttributeValue::S("orders-high-sev".into()),
                "`alarms` is not a list",
            ),
            (
                "alarms",
                AttributeValue::L(vec![AttributeValue::N("7".into())]),
                "`alarms` holds something other",
            ),
            (
                "revoked_at",
                AttributeValue::N("1795000000".into()),
                "`revoked_at` is not a timestamp",
            ),
            (
                "revoked_at",
                AttributeValue::S("yesterday".into()),
                "`revoked_at` is not a timestamp",
            ),
        ] {
            let mut item = override_item(&an_override("ov-1", "2026-11-24T17:00:00Z"));
            item.insert(field.to_string(), value.clone());
            let query = mock!(aws_sdk_dynamodb::Client::query)
                .then_output(move || QueryOutput::builder().items(item.clone()).build());
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&query]);
            let error = DynamoStore::new(client, "handsoff")
                .overrides("orders", "Prod")
                .await
                .unwrap_err();
            assert!(error.to_string().contains(says), "{field} {value:?}: {error}");
        }
    }

    #[tokio::test]
    async fn overrides_are_read_from_every_page_of_the_query() {
        let first = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|request| request.exclusive_start_key().is_none())
            .then_output(|| {
                QueryOutput::builder()
                    .items(override_item(&an_override("ov-1", "2026-11-24T17:00:00Z")))
                    .set_last_evaluated_key(Some(page_key("ov-1")))
                    .build()
            });
        let second = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|request| request.exclusive_start_key() == Some(&page_key("ov-1")))
            .then_output(|| {
                QueryOutput::builder()
                    .items(override_item(&an_override("ov-2", "2026-11-24T18:00:00Z")))
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&first, &second]);
        let store = DynamoStore::new(client, "handsoff");

        let overrides = store.overrides("orders", "Prod").await.unwrap();

        let ids: Vec<&str> = overrides.iter().map(|item| item.id.as_str()).collect();
        assert_eq!(ids, ["ov-1", "ov-2"]);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn listing_overrides_reads_every_page_of_the_scan_oldest_first() {
        let first = mock!(aws_sdk_dynamodb::Client::scan)
            .match_requests(|request| request.exclusive_start_key().is_none())
            .then_output(|| {
                ScanOutput::builder()
                    .items(override_item(&an_override("ov-late", "2026-11-24T18:00:00Z")))
                    .set_last_evaluated_key(Some(page_key("ov-late")))
                    .build()
            });
        let second = mock!(aws_sdk_dynamodb::Client::scan)
            .match_requests(|request| request.exclusive_start_key() == Some(&page_key("ov-late")))
            .then_output(|| {
                ScanOutput::builder()
                    .items(override_item(&an_override("ov-early", "2026-11-24T17:00:00Z")))
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&first, &second]);
        let store = DynamoStore::new(client, "handsoff");

        let listed = store.list_overrides(Some("orders")).await.unwrap();

        let ids: Vec<&str> = listed.iter().map(|item| item.id.as_str()).collect();
        assert_eq!(ids, ["ov-early", "ov-late"]);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }
}

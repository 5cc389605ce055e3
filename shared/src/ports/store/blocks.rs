//! The block a rollback leaves on a stage: one item per stage, cleared (with an audit record)
//! only by a person.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use jiff::Timestamp;

use serde::{Deserialize, Serialize};

use super::audit::audit_item;
use super::codec::JsonText;
use super::*;
use crate::alarms::BlockMarker;
use crate::audit::AuditRecord;

pub trait BlockStore: Send + Sync {
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
}

pub(super) fn block_key(pipeline: &str, stage: &str) -> String {
    format!("BLOCK#{pipeline}#{stage}")
}

/// A stage's block: the marker as JSON, one item per stage.
#[derive(Serialize, Deserialize)]
struct BlockItem {
    pk: String,
    sk: String,
    marker: JsonText<BlockMarker>,
}

pub(super) fn marker_item(marker: &BlockMarker) -> Result<Item, StoreError> {
    codec::to_item(&BlockItem {
        pk: block_key(&marker.pipeline, &marker.stage),
        sk: "BLOCK".into(),
        marker: JsonText(marker.clone()),
    })
}

impl BlockStore for DynamoStore {
    async fn block_marker(&self, pipeline: &str, stage: &str) -> Result<Option<BlockMarker>, StoreError> {
        let call = "dynamodb:GetItem";
        match self.get(block_key(pipeline, stage), "BLOCK", call).await? {
            Some(item) => Ok(Some(codec::from_item::<BlockItem>(&item, call)?.marker.0)),
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
                    self.put(audit_item(&audit)?, None)?,
                ],
                String::new(),
            )
            .await
        {
            Err(StoreError::Conflict(_)) => Err(not_blocked()),
            other => other.map(|()| marker),
        }
    }
}

impl DynamoStore {
    /// A stage's "blocked after rollback" marker and its audit record, to write together.
    pub(super) fn block_items(&self, marker: &BlockMarker) -> Result<Vec<TransactWriteItem>, StoreError> {
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
            self.put(marker_item(marker)?, None)?,
            self.put(audit_item(&audit)?, None)?,
        ])
    }
}

//! The audit trail: one item per decision or change, under its stage, sorted by time.

use std::future::Future;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::codec::JsonText;
use super::*;
use crate::audit::AuditRecord;

pub trait AuditStore: Send + Sync {
    fn audit(&self, record: &AuditRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn audit_trail(
        &self,
        pipeline: &str,
        stage: &str,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;
}

fn audit_key(pipeline: &str, stage: &str) -> String {
    format!("AUDIT#{pipeline}#{stage}")
}

/// An audit record's item: the record as JSON, under its stage, kept for
/// [`AUDIT_RETENTION_DAYS`].
#[derive(Serialize, Deserialize)]
struct AuditItem {
    pk: String,
    sk: String,
    record: JsonText<AuditRecord>,
    #[serde(with = "codec::epoch_seconds")]
    expires_at: Timestamp,
}

pub(super) fn audit_item(record: &AuditRecord) -> Result<Item, StoreError> {
    codec::to_item(&AuditItem {
        pk: audit_key(&record.pipeline, &record.stage),
        // Sorts by time; the random suffix keeps two records of one instant apart.
        sk: format!(
            "{}#{}",
            record.at.strftime("%Y-%m-%dT%H:%M:%S%.9fZ"),
            uuid::Uuid::new_v4()
        ),
        record: JsonText(record.clone()),
        expires_at: days_after(record.at, AUDIT_RETENTION_DAYS),
    })
}

impl AuditStore for DynamoStore {
    async fn audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(record)?))
            .send()
            .await
            .map_err(|error| StoreError::Port(PortError::from_sdk("dynamodb:PutItem", &error)))?;
        Ok(())
    }

    async fn audit_trail(&self, pipeline: &str, stage: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let items = self.query_all(audit_key(pipeline, stage), None).await?;
        items
            .iter()
            .map(|item| codec::from_item::<AuditItem>(item, "dynamodb:Query").map(|item| item.record.0))
            .collect()
    }
}

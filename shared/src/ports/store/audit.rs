//! The audit trail: one item per decision or change, under its stage, sorted by time.

use std::future::Future;

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

pub(super) fn audit_item(record: &AuditRecord) -> Item {
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

impl AuditStore for DynamoStore {
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

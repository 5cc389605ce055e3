//! Bake sessions: when each deployment's bake began, written once.

use std::future::Future;

use jiff::Timestamp;

use super::*;

pub trait BakeStore: Send + Sync {
    /// Starts the bake of one deployment once; every later call returns the first start.
    fn start_bake(
        &self,
        pipeline: &str,
        stage: &str,
        execution_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Timestamp, StoreError>> + Send;
}

impl BakeStore for DynamoStore {
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
        if self.put_new(item).await? {
            return Ok(now);
        }
        let call = "dynamodb:GetItem";
        let existing = self
            .get(pk, execution_id, call)
            .await?
            .ok_or_else(|| malformed(call, "the bake session vanished"))?;
        instant(&existing, "started_at", call)
    }
}

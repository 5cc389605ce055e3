//! Bake sessions: when each deployment's bake began, written once.

use std::future::Future;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

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

/// One deployment's bake session: when it began.
#[derive(Serialize, Deserialize)]
struct BakeItem {
    pk: String,
    sk: String,
    started_at: Timestamp,
    #[serde(with = "codec::epoch_seconds")]
    expires_at: Timestamp,
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
        let session = BakeItem {
            pk: pk.clone(),
            sk: execution_id.to_string(),
            started_at: now,
            expires_at: days_after(now, AUDIT_RETENTION_DAYS),
        };
        if self.put_new(codec::to_item(&session)?).await? {
            return Ok(now);
        }
        let call = "dynamodb:GetItem";
        let existing = self
            .get(pk, execution_id, call)
            .await?
            .ok_or_else(|| malformed(call, "the bake session vanished"))?;
        Ok(codec::from_item::<BakeItem>(&existing, call)?.started_at)
    }
}

//! A deployment's rollback, run exactly once: claimed under a lease, its progress saved while
//! the claim holds, finished with the stage's block in one transaction.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::audit::audit_item;
use super::codec::JsonText;
use super::*;
use crate::alarms::BlockMarker;
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
    fn pk(&self) -> String {
        format!("ROLLBACK#{}#{}", self.pipeline, self.stage)
    }

    fn key(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_string(), s(self.pk())),
            ("sk".to_string(), s(self.execution_id)),
        ])
    }
}

/// A deployment's rollback: who claimed it and when, and its record once steps have run.
#[derive(Serialize, Deserialize)]
struct RollbackItem {
    pk: String,
    sk: String,
    /// `in_progress`, `partial` or `done`.
    status: String,
    #[serde(with = "codec::epoch_seconds")]
    claimed_at: Timestamp,
    #[serde(
        default,
        deserialize_with = "codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    claim_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    record: Option<JsonText<RollbackRecord>>,
    #[serde(with = "codec::epoch_seconds")]
    expires_at: Timestamp,
}

pub trait RollbackStore: Send + Sync {
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
}

fn claim_lost(rollback: RollbackKey<'_>) -> StoreError {
    StoreError::Conflict(format!(
        "another invocation took over the rollback of execution {} of {}/{} (this one held it past its lease)",
        rollback.execution_id, rollback.pipeline, rollback.stage
    ))
}

impl RollbackStore for DynamoStore {
    async fn claim_rollback(
        &self,
        rollback: RollbackKey<'_>,
        now: Timestamp,
        lease_secs: i64,
    ) -> Result<RollbackClaim, StoreError> {
        let claim = RollbackItem {
            pk: rollback.pk(),
            sk: rollback.execution_id.to_string(),
            status: "in_progress".into(),
            claimed_at: now,
            claim_id: Some(rollback.claim_id.to_string()),
            record: None,
            expires_at: days_after(now, AUDIT_RETENTION_DAYS),
        };
        if self.put_new(codec::to_item(&claim)?).await? {
            return Ok(RollbackClaim::Claimed { previous: Vec::new() });
        }
        let call = "dynamodb:GetItem";
        let existing = self
            .get(rollback.pk(), rollback.execution_id, call)
            .await?
            .ok_or_else(|| malformed(call, "the rollback record vanished"))?;
        let RollbackItem {
            status,
            claimed_at,
            claim_id: holder,
            record,
            ..
        } = codec::from_item(&existing, call)?;
        let record = record.map(|record| record.0);
        let previous = record.as_ref().map(|record| record.steps.clone()).unwrap_or_default();
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
        if conditional(taken, "dynamodb:UpdateItem")? {
            return Ok(RollbackClaim::Claimed { previous });
        }
        // Someone else took it, or our own takeover did and its answer was lost.
        let again = self.get(rollback.pk(), rollback.execution_id, call).await?;
        let holder = match again {
            Some(item) => codec::from_item::<RollbackItem>(&item, call)?.claim_id,
            None => None,
        };
        match holder {
            Some(holder) if holder == rollback.claim_id => Ok(RollbackClaim::Claimed { previous }),
            _ => Ok(RollbackClaim::InProgress { since: now }),
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
            .expression_attribute_values(":record", codec::to_value(&JsonText(progress))?)
            .expression_attribute_values(":mine", s(rollback.claim_id))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await;
        if conditional(saved, call)? {
            Ok(())
        } else {
            Err(claim_lost(rollback))
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
                .expression_attribute_values(":record", codec::to_value(&JsonText(record))?)
                .expression_attribute_values(":mine", s(rollback.claim_id))
                .expression_attribute_values(":in_progress", s("in_progress"))
                .build(),
            call,
        )?;
        let mut items = vec![TransactWriteItem::builder().update(finish).build()];
        items.extend(self.block_items(marker)?);
        if let Some(decision) = decision {
            items.push(self.put(audit_item(decision)?, None)?);
        }
        match self.transact(items, String::new()).await {
            Err(StoreError::Conflict(_)) => Err(claim_lost(rollback)),
            other => other,
        }
    }
}

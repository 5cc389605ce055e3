//! The state store in memory, with the table's rules (each id written once, a revoke or an
//! unblock once, a rollback claimed by one invocation at a time, a bake started once), for the
//! gates' fast unit tests. The DynamoDB adapter keeps its own tests on moto and SDK mocks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;

use super::{AuditStore, BakeStore, BlockStore, OverrideStore, RollbackClaim, RollbackKey, RollbackStore, StoreError};
use crate::alarms::{BlockMarker, Override};
use crate::audit::AuditRecord;
use crate::rollback::RollbackRecord;

#[derive(Debug, Clone)]
struct Rollback {
    claim_id: String,
    claimed_at: Timestamp,
    /// `in_progress`, `partial` or `done`.
    status: String,
    record: Option<RollbackRecord>,
}

#[derive(Debug, Default)]
struct Tables {
    overrides: Vec<Override>,
    blocks: BTreeMap<(String, String), BlockMarker>,
    audit: Vec<AuditRecord>,
    rollbacks: BTreeMap<(String, String, String), Rollback>,
    bakes: BTreeMap<(String, String, String), Timestamp>,
}

/// Every record kind in memory; clones share the records (a test keeps one to look into).
/// `fail_with` makes every call fail with that error (a table that cannot be reached), so a
/// test can ask what a gate decides then.
#[derive(Debug, Default, Clone)]
pub struct InMemoryStore {
    tables: Arc<Mutex<Tables>>,
    failing: Arc<Mutex<Option<StoreError>>>,
}

impl InMemoryStore {
    fn open(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        if let Ok(failing) = self.failing.lock()
            && let Some(error) = failing.clone()
        {
            return Err(error);
        }
        self.tables
            .lock()
            .map_err(|_| StoreError::Conflict("the in-memory store was poisoned".into()))
    }

    /// From now on every call fails with `error`.
    pub fn fail_with(&self, error: StoreError) {
        if let Ok(mut failing) = self.failing.lock() {
            *failing = Some(error);
        }
    }

    /// A bake that began at `at` (as a first poll then would have recorded it).
    pub fn bake_started(&self, pipeline: &str, stage: &str, execution_id: &str, at: Timestamp) {
        if let Ok(mut tables) = self.tables.lock() {
            tables
                .bakes
                .insert((pipeline.to_string(), stage.to_string(), execution_id.to_string()), at);
        }
    }

    /// Every audit record written, in order: what a test asserts on.
    pub fn audit_records(&self) -> Vec<AuditRecord> {
        self.tables
            .lock()
            .map(|tables| tables.audit.clone())
            .unwrap_or_default()
    }
}

impl OverrideStore for InMemoryStore {
    async fn overrides(&self, pipeline: &str, stage: &str) -> Result<Vec<Override>, StoreError> {
        Ok(self
            .open()?
            .overrides
            .iter()
            .filter(|item| item.pipeline == pipeline && item.stage == stage)
            .cloned()
            .collect())
    }

    async fn list_overrides(&self, pipeline: Option<&str>) -> Result<Vec<Override>, StoreError> {
        let mut found: Vec<Override> = self
            .open()?
            .overrides
            .iter()
            .filter(|item| pipeline.is_none_or(|pipeline| item.pipeline == pipeline))
            .cloned()
            .collect();
        found.sort_by_key(|item| item.created_at);
        Ok(found)
    }

    async fn create_override(&self, item: &Override) -> Result<(), StoreError> {
        let mut tables = self.open()?;
        if tables.overrides.iter().any(|existing| existing.id == item.id) {
            return Err(StoreError::Conflict(format!("override {} already exists", item.id)));
        }
        tables.overrides.push(item.clone());
        tables.audit.push(AuditRecord::of_change(
            "override_created",
            &item.pipeline,
            &item.stage,
            item.created_at,
            &item.who,
            &item.reason,
            serde_json::to_value(item).unwrap_or_default(),
        ));
        Ok(())
    }

    async fn revoke_override(&self, id: &str, by: &str, reason: &str, now: Timestamp) -> Result<Override, StoreError> {
        let mut tables = self.open()?;
        let item = tables
            .overrides
            .iter_mut()
            .find(|item| item.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("no override has id {id}")))?;
        if item.revoked_at.is_some() {
            return Err(StoreError::Conflict(format!("override {id} is already revoked")));
        }
        item.revoked_at = Some(now);
        item.revoked_by = Some(by.to_string());
        let revoked = item.clone();
        tables.audit.push(AuditRecord::of_change(
            "override_revoked",
            &revoked.pipeline,
            &revoked.stage,
            now,
            by,
            reason,
            serde_json::json!({"id": id}),
        ));
        Ok(revoked)
    }
}

impl BlockStore for InMemoryStore {
    async fn block_marker(&self, pipeline: &str, stage: &str) -> Result<Option<BlockMarker>, StoreError> {
        Ok(self
            .open()?
            .blocks
            .get(&(pipeline.to_string(), stage.to_string()))
            .cloned())
    }

    async fn put_block_marker(&self, marker: &BlockMarker) -> Result<(), StoreError> {
        let mut tables = self.open()?;
        block(&mut tables, marker);
        Ok(())
    }

    async fn clear_block_marker(
        &self,
        pipeline: &str,
        stage: &str,
        by: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<BlockMarker, StoreError> {
        let mut tables = self.open()?;
        let marker = tables
            .blocks
            .remove(&(pipeline.to_string(), stage.to_string()))
            .ok_or_else(|| StoreError::NotFound(format!("stage {stage} of pipeline {pipeline} is not blocked")))?;
        tables.audit.push(AuditRecord::of_change(
            "unblocked",
            pipeline,
            stage,
            now,
            by,
            reason,
            serde_json::to_value(&marker).unwrap_or_default(),
        ));
        Ok(marker)
    }
}

fn block(tables: &mut Tables, marker: &BlockMarker) {
    tables
        .blocks
        .insert((marker.pipeline.clone(), marker.stage.clone()), marker.clone());
    tables.audit.push(AuditRecord::of_change(
        "blocked_after_rollback",
        &marker.pipeline,
        &marker.stage,
        marker.created_at,
        &marker.by,
        &marker.reason,
        serde_json::Value::Null,
    ));
}

impl AuditStore for InMemoryStore {
    async fn audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.open()?.audit.push(record.clone());
        Ok(())
    }

    async fn audit_trail(&self, pipeline: &str, stage: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let mut trail: Vec<AuditRecord> = self
            .open()?
            .audit
            .iter()
            .filter(|record| record.pipeline == pipeline && record.stage == stage)
            .cloned()
            .collect();
        trail.sort_by_key(|record| record.at);
        Ok(trail)
    }
}

fn rollback_key(rollback: RollbackKey<'_>) -> (String, String, String) {
    (
        rollback.pipeline.to_string(),
        rollback.stage.to_string(),
        rollback.execution_id.to_string(),
    )
}

fn claim_lost(rollback: RollbackKey<'_>) -> StoreError {
    StoreError::Conflict(format!(
        "another invocation took over the rollback of execution {}",
        rollback.execution_id
    ))
}

impl RollbackStore for InMemoryStore {
    async fn claim_rollback(
        &self,
        rollback: RollbackKey<'_>,
        now: Timestamp,
        lease_secs: i64,
    ) -> Result<RollbackClaim, StoreError> {
        let mut tables = self.open()?;
        let key = rollback_key(rollback);
        let Some(existing) = tables.rollbacks.get_mut(&key) else {
            tables.rollbacks.insert(
                key,
                Rollback {
                    claim_id: rollback.claim_id.to_string(),
                    claimed_at: now,
                    status: "in_progress".into(),
                    record: None,
                },
            );
            return Ok(RollbackClaim::Claimed { previous: Vec::new() });
        };
        let previous = existing
            .record
            .as_ref()
            .map(|record| record.steps.clone())
            .unwrap_or_default();
        match existing.status.as_str() {
            "done" => existing
                .record
                .clone()
                .map(RollbackClaim::Done)
                .ok_or_else(|| StoreError::Conflict("a done rollback without its record".into())),
            "in_progress" if existing.claim_id == rollback.claim_id => Ok(RollbackClaim::Claimed { previous }),
            "in_progress" if now.as_second() - existing.claimed_at.as_second() < lease_secs => {
                Ok(RollbackClaim::InProgress {
                    since: existing.claimed_at,
                })
            }
            _ => {
                existing.claim_id = rollback.claim_id.to_string();
                existing.claimed_at = now;
                existing.status = "in_progress".into();
                Ok(RollbackClaim::Claimed { previous })
            }
        }
    }

    async fn save_rollback_progress(
        &self,
        rollback: RollbackKey<'_>,
        progress: &RollbackRecord,
    ) -> Result<(), StoreError> {
        let mut tables = self.open()?;
        match tables.rollbacks.get_mut(&rollback_key(rollback)) {
            Some(held) if held.claim_id == rollback.claim_id && held.status == "in_progress" => {
                held.record = Some(progress.clone());
                Ok(())
            }
            _ => Err(claim_lost(rollback)),
        }
    }

    async fn finish_rollback(
        &self,
        rollback: RollbackKey<'_>,
        record: &RollbackRecord,
        marker: &BlockMarker,
        decision: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        let mut tables = self.open()?;
        match tables.rollbacks.get_mut(&rollback_key(rollback)) {
            Some(held) if held.claim_id == rollback.claim_id && held.status == "in_progress" => {
                held.status = record.status.clone();
                held.record = Some(record.clone());
            }
            _ => return Err(claim_lost(rollback)),
        }
        block(&mut tables, marker);
        if let Some(decision) = decision {
            tables.audit.push(decision.clone());
        }
        Ok(())
    }
}

impl BakeStore for InMemoryStore {
    async fn start_bake(
        &self,
        pipeline: &str,
        stage: &str,
        execution_id: &str,
        now: Timestamp,
    ) -> Result<Timestamp, StoreError> {
        let mut tables = self.open()?;
        let key = (pipeline.to_string(), stage.to_string(), execution_id.to_string());
        Ok(*tables.bakes.entry(key).or_insert(now))
    }
}

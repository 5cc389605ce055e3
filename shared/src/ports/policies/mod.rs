//! Stored policies and change freezes in the state table.
//!
//! A policy layer (org, pipeline, stage) is versioned like a suite: every `put` writes an
//! immutable `VERSION#000007` item and moves the `CURRENT` item to it, in one transaction
//! conditioned on the version the writer read, so two writers never both win. Freezes live
//! under one partition, `FREEZE#ORG`, one item each; lifting one is a write conditioned on it not
//! being lifted yet.

use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use jiff::Timestamp;

mod memory;

use serde::{Deserialize, Serialize};

use super::store::codec::{self, JsonText};
use super::store::{DynamoStore, Item, SortKey, StoreError, built, conditional, days_after, malformed, n, s};
use crate::freeze::{Freeze, Lift};
use crate::layers::{LayerDoc, Scope, StoredLayer};

const CURRENT: &str = "CURRENT";
/// One partition holds every freeze (there are few; a gate reads them all in one Query).
const FREEZES: &str = "FREEZE#ORG";
/// How long a freeze's record is kept after it ends (DynamoDB TTL), for the record.
pub const FREEZE_RETENTION_DAYS: i64 = 400;

pub trait PolicyStore: Send + Sync {
    /// The current version of each of `scopes` that has one, in the order given.
    fn current(&self, scopes: &[Scope]) -> impl Future<Output = Result<Vec<StoredLayer>, StoreError>> + Send;
    /// Stores `doc` as the next version of `scope`, if `read` (0: none) is still its current
    /// version and each layer `below` is still at the version it was checked against (0: none);
    /// `Conflict` otherwise. Returns the new version.
    fn put(
        &self,
        scope: &Scope,
        doc: &LayerDoc,
        read: i64,
        below: &[(Scope, i64)],
        by: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Every version of `scope`, oldest first.
    fn history(&self, scope: &Scope) -> impl Future<Output = Result<Vec<StoredLayer>, StoreError>> + Send;
}

pub trait FreezeStore: Send + Sync {
    /// Every freeze that ends after `now` (in force, or still to come), lifted or not.
    fn freezes(&self, now: Timestamp) -> impl Future<Output = Result<Vec<Freeze>, StoreError>> + Send;

    /// Whether freezes are read at all (not for a gate built without the table).
    fn consulted(&self) -> bool {
        true
    }
}

fn version_sk(version: i64) -> String {
    format!("VERSION#{version:06}")
}

/// A version of a policy layer (or the `CURRENT` copy of one): its document as JSON text, who
/// stored it and when.
#[derive(Serialize, Deserialize)]
struct LayerItem {
    pk: String,
    sk: String,
    version: i64,
    body: String,
    updated_at: Timestamp,
    updated_by: String,
}

fn layer_item(
    scope: &Scope,
    sk: String,
    doc: &LayerDoc,
    version: i64,
    by: &str,
    now: Timestamp,
) -> Result<Item, StoreError> {
    codec::to_item(&LayerItem {
        pk: scope.key(),
        sk,
        version,
        body: doc.to_value().to_string(),
        updated_at: now,
        updated_by: by.to_string(),
    })
}

/// A stored layer, read back; anything unreadable names the layer so a person can fix it.
fn layer_from(scope: &Scope, item: &Item, call: &str) -> Result<StoredLayer, StoreError> {
    let unreadable = |what: String| malformed(call, &format!("stored policy {}: {what}", scope.label()));
    let item: LayerItem = codec::decode(item).map_err(|why| unreadable(why.to_string()))?;
    if item.version <= 0 {
        return Err(unreadable("`version` is not a positive number".into()));
    }
    let doc = LayerDoc::from_json(&item.body)
        .map_err(|error| unreadable(format!("version {} no longer parses ({error})", item.version)))?;
    Ok(StoredLayer {
        scope: scope.clone(),
        version: item.version,
        updated_at: item.updated_at,
        updated_by: item.updated_by,
        doc,
    })
}

/// Most freezes in force or to come at once: what a gate reads at every decision stays small.
pub const MAX_LIVE_FREEZES: usize = 50;

/// A freeze's sort key starts with when it ends, so a gate reads only those ending after now.
fn freeze_sk(freeze: &Freeze) -> String {
    format!("{}#{}", ends_key(freeze.to), freeze.id)
}

fn ends_key(at: Timestamp) -> String {
    format!("{:012}", at.as_second().max(0))
}

/// A freeze: the freeze as JSON, whether it was lifted (for the lift's condition), kept
/// [`FREEZE_RETENTION_DAYS`] after it ends.
#[derive(Serialize, Deserialize)]
struct FreezeItem {
    pk: String,
    sk: String,
    body: JsonText<Freeze>,
    lifted: bool,
    #[serde(with = "codec::epoch_seconds")]
    expires_at: Timestamp,
}

fn freeze_item(freeze: &Freeze) -> Result<Item, StoreError> {
    codec::to_item(&FreezeItem {
        pk: FREEZES.into(),
        sk: freeze_sk(freeze),
        body: JsonText(freeze.clone()),
        lifted: freeze.lifted.is_some(),
        expires_at: days_after(freeze.to, FREEZE_RETENTION_DAYS),
    })
}

fn freeze_from(item: &Item, call: &str) -> Result<Freeze, StoreError> {
    match codec::decode::<FreezeItem>(item) {
        Ok(item) => Ok(item.body.0),
        Err(why) => Err(malformed(call, &format!("a freeze that does not parse ({why})"))),
    }
}

impl PolicyStore for DynamoStore {
    async fn current(&self, scopes: &[Scope]) -> Result<Vec<StoredLayer>, StoreError> {
        let call = "dynamodb:GetItem";
        let mut layers = Vec::new();
        for scope in scopes {
            if let Some(item) = self.get(scope.key(), CURRENT, call).await? {
                layers.push(layer_from(scope, &item, call)?);
            }
        }
        Ok(layers)
    }

    async fn put(
        &self,
        scope: &Scope,
        doc: &LayerDoc,
        read: i64,
        below: &[(Scope, i64)],
        by: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let call = "dynamodb:TransactWriteItems";
        let version = read + 1;
        let history = Put::builder()
            .table_name(self.table())
            .set_item(Some(layer_item(scope, version_sk(version), doc, version, by, now)?))
            .condition_expression("attribute_not_exists(pk)")
            .build();
        let head = Put::builder().table_name(self.table()).set_item(Some(layer_item(
            scope,
            CURRENT.to_string(),
            doc,
            version,
            by,
            now,
        )?));
        let head = if read == 0 {
            head.condition_expression("attribute_not_exists(pk)")
        } else {
            head.condition_expression("version = :read")
                .expression_attribute_values(":read", n(read))
        };
        let mut items = vec![
            TransactWriteItem::builder().put(built(history, call)?).build(),
            TransactWriteItem::builder().put(built(head.build(), call)?).build(),
        ];
        // The layers below were part of the check: a floor raised meanwhile refuses this put.
        for (lower, version) in below {
            let check = ConditionCheck::builder()
                .table_name(self.table())
                .key("pk", s(lower.key()))
                .key("sk", s(CURRENT));
            let check = if *version == 0 {
                check.condition_expression("attribute_not_exists(pk)")
            } else {
                check
                    .condition_expression("version = :read")
                    .expression_attribute_values(":read", n(*version))
            };
            items.push(
                TransactWriteItem::builder()
                    .condition_check(built(check.build(), call)?)
                    .build(),
            );
        }
        self.transact(
            items,
            format!(
                "the {} policy, or a layer below it, changed since it was read (version {read}); run the command again",
                scope.label()
            ),
        )
        .await?;
        Ok(version)
    }

    async fn history(&self, scope: &Scope) -> Result<Vec<StoredLayer>, StoreError> {
        self.query_all(scope.key(), Some("VERSION#"))
            .await?
            .iter()
            .map(|item| layer_from(scope, item, "dynamodb:Query"))
            .collect()
    }
}

impl FreezeStore for DynamoStore {
    async fn freezes(&self, now: Timestamp) -> Result<Vec<Freeze>, StoreError> {
        let call = "dynamodb:Query";
        // Past every `<end>#<id>` that ends at `now` exactly: `to` is when it no longer holds.
        let after = format!("{}#~", ends_key(now));
        let items = self.query_where(FREEZES.to_string(), SortKey::After(&after)).await?;
        items.iter().map(|item| freeze_from(item, call)).collect()
    }
}

impl DynamoStore {
    /// The current version of every stored policy layer, org first. A scan: for people
    /// (`handsoff policy list`), never for a gate.
    pub async fn stored_policies(&self) -> Result<Vec<StoredLayer>, StoreError> {
        let call = "dynamodb:Scan";
        let mut layers = Vec::new();
        for item in self.scan_prefix("POLICY#".to_string(), None).await? {
            let codec::RecordKey { pk: key, sk } = codec::from_item(&item, call)?;
            if sk != CURRENT {
                continue;
            }
            let scope =
                Scope::from_key(&key).ok_or_else(|| malformed(call, &format!("`{key}` names no policy layer")))?;
            layers.push(layer_from(&scope, &item, call)?);
        }
        layers.sort_by(|a, b| a.scope.cmp(&b.scope));
        Ok(layers)
    }

    /// Every freeze on record, ended ones too (until the table's TTL takes them).
    pub async fn all_freezes(&self) -> Result<Vec<Freeze>, StoreError> {
        self.query_all(FREEZES.to_string(), None)
            .await?
            .iter()
            .map(|item| freeze_from(item, "dynamodb:Query"))
            .collect()
    }

    /// Writes a new freeze, once (its id must be new), unless [`MAX_LIVE_FREEZES`] are in force
    /// or to come already.
    pub async fn create_freeze(&self, freeze: &Freeze, now: Timestamp) -> Result<(), StoreError> {
        let live = self.freezes(now).await?.len();
        if live >= MAX_LIVE_FREEZES {
            return Err(StoreError::Conflict(format!(
                "{live} freezes are in force or to come, the most there may be; lift or merge some first"
            )));
        }
        let call = "dynamodb:PutItem";
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(freeze_item(freeze)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|error| StoreError::Port(super::PortError::from_sdk(call, &error)))?;
        Ok(())
    }

    /// Lifts a freeze early, once: `NotFound` if there is none by that id, `Conflict` if it was
    /// lifted already. Returns it as it now is.
    pub async fn lift_freeze(&self, id: &str, lift: Lift) -> Result<Freeze, StoreError> {
        let call = "dynamodb:PutItem";
        let mut freeze = self
            .all_freezes()
            .await?
            .into_iter()
            .find(|freeze| freeze.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("no freeze `{id}` (handsoff freeze list)")))?;
        if let Some(earlier) = &freeze.lifted {
            return Err(StoreError::Conflict(format!(
                "freeze `{id}` was lifted at {} by {}",
                earlier.at, earlier.by
            )));
        }
        freeze.lifted = Some(lift);
        let written = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(freeze_item(&freeze)?))
            .condition_expression("attribute_exists(pk) AND lifted = :no")
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .send()
            .await;
        if conditional(written, call)? {
            Ok(freeze)
        } else {
            Err(StoreError::Conflict(format!(
                "freeze `{id}` was lifted while this lift was written"
            )))
        }
    }
}

pub use memory::InMemoryPolicies;

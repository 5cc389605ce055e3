//! Overrides of the alarm blocker: one item per override under its stage, a pointer by id (for
//! `revoke`), and an audit record, written together once.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::audit::audit_item;
use super::*;
use crate::alarms::Override;
use crate::audit::AuditRecord;

pub trait OverrideStore: Send + Sync {
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
}

fn override_key(pipeline: &str, stage: &str) -> String {
    format!("OVERRIDE#{pipeline}#{stage}")
}

fn pointer_key(id: &str) -> String {
    format!("OVERRIDE_ID#{id}")
}

/// An override's item: the override itself, under its stage.
#[derive(Serialize, Deserialize)]
struct OverrideItem {
    pk: String,
    sk: String,
    id: String,
    pipeline: String,
    stage: String,
    // An override lifts blocks, so one whose `alarms` cannot be read exactly lifts nothing (a
    // malformed record), never "every alarm".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    alarms: Vec<String>,
    reason: String,
    who: String,
    created_at: Timestamp,
    /// The TTL attribute: DynamoDB deletes expired overrides some time after they expire.
    #[serde(with = "codec::epoch_seconds")]
    expires_at: Timestamp,
    #[serde(
        default,
        deserialize_with = "codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    revoked_at: Option<Timestamp>,
    #[serde(
        default,
        deserialize_with = "codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    revoked_by: Option<String>,
}

/// The pointer from an override's id to its stage (for `revoke`).
#[derive(Serialize, Deserialize)]
struct PointerItem {
    pk: String,
    sk: String,
    pipeline: String,
    stage: String,
    #[serde(with = "codec::epoch_seconds")]
    expires_at: Timestamp,
}

fn override_item(item: &Override) -> Result<Item, StoreError> {
    codec::to_item(&OverrideItem {
        pk: override_key(&item.pipeline, &item.stage),
        sk: format!("OVERRIDE#{}", item.id),
        id: item.id.clone(),
        pipeline: item.pipeline.clone(),
        stage: item.stage.clone(),
        alarms: item.alarms.clone(),
        reason: item.reason.clone(),
        who: item.who.clone(),
        created_at: item.created_at,
        expires_at: item.expires_at,
        revoked_at: item.revoked_at,
        revoked_by: item.revoked_by.clone(),
    })
}

fn override_from(item: &Item, call: &str) -> Result<Override, StoreError> {
    let item: OverrideItem = codec::from_item(item, call)?;
    Ok(Override {
        id: item.id,
        pipeline: item.pipeline,
        stage: item.stage,
        alarms: item.alarms,
        reason: item.reason,
        who: item.who,
        created_at: item.created_at,
        expires_at: item.expires_at,
        revoked_at: item.revoked_at,
        revoked_by: item.revoked_by,
    })
}

impl OverrideStore for DynamoStore {
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
        let pointer = codec::to_item(&PointerItem {
            pk: pointer_key(&item.id),
            sk: "OVERRIDE_ID".into(),
            pipeline: item.pipeline.clone(),
            stage: item.stage.clone(),
            expires_at: item.expires_at,
        })?;
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
                self.put(override_item(item)?, Some("attribute_not_exists(pk)"))?,
                self.put(pointer, Some("attribute_not_exists(pk)"))?,
                self.put(audit_item(&audit)?, None)?,
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
        let PointerItem { pipeline, stage, .. } = codec::from_item(&pointer, call)?;
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
                self.put(audit_item(&audit)?, None)?,
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
            ("alarms", AttributeValue::S("orders-high-sev".into()), "`alarms`"),
            (
                "alarms",
                AttributeValue::L(vec![AttributeValue::N("7".into())]),
                "`alarms[0]`",
            ),
            ("revoked_at", AttributeValue::N("1795000000".into()), "`revoked_at`"),
            ("revoked_at", AttributeValue::S("yesterday".into()), "`revoked_at`"),
        ] {
            let mut item = override_item(&an_override("ov-1", "2026-11-24T17:00:00Z")).unwrap();
            item.insert(field.to_string(), value.clone());
            let query = mock!(aws_sdk_dynamodb::Client::query)
                .then_output(move || QueryOutput::builder().items(item.clone()).build());
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&query]);
            let error = DynamoStore::new(client, "handsoff")
                .overrides("orders", "Prod")
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains("malformed item"),
                "{field} {value:?}: {error}"
            );
            assert!(error.to_string().contains(says), "{field} {value:?}: {error}");
        }
    }

    #[tokio::test]
    async fn overrides_are_read_from_every_page_of_the_query() {
        let first = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|request| request.exclusive_start_key().is_none())
            .then_output(|| {
                QueryOutput::builder()
                    .items(override_item(&an_override("ov-1", "2026-11-24T17:00:00Z")).unwrap())
                    .set_last_evaluated_key(Some(page_key("ov-1")))
                    .build()
            });
        let second = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|request| request.exclusive_start_key() == Some(&page_key("ov-1")))
            .then_output(|| {
                QueryOutput::builder()
                    .items(override_item(&an_override("ov-2", "2026-11-24T18:00:00Z")).unwrap())
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
                    .items(override_item(&an_override("ov-late", "2026-11-24T18:00:00Z")).unwrap())
                    .set_last_evaluated_key(Some(page_key("ov-late")))
                    .build()
            });
        let second = mock!(aws_sdk_dynamodb::Client::scan)
            .match_requests(|request| request.exclusive_start_key() == Some(&page_key("ov-late")))
            .then_output(|| {
                ScanOutput::builder()
                    .items(override_item(&an_override("ov-early", "2026-11-24T17:00:00Z")).unwrap())
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

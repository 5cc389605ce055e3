//! Overrides of the alarm blocker: one item per override under its stage, a pointer by id (for
//! `revoke`), and an audit record, written together once.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use jiff::Timestamp;

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

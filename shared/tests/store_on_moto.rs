//! The DynamoDB state store against a real DynamoDB-protocol endpoint (moto_server, started and
//! stopped by the test): overrides, conditional writes, revocation, expiry, rollback blocks and
//! the audit trail.

use std::sync::Arc;

use handsoff::alarms::{AlarmKind, AlarmReading, AlarmState, BlockMarker, Override};
use handsoff::decision::Verdict;
use handsoff::gates::alarm_blocker::{Stage, decide};
use handsoff::policy::Policy;
use handsoff::ports::store::{AuditStore, BakeStore, BlockStore, OverrideStore};
use handsoff::ports::store::{DynamoStore, StoreError, create_table};
use handsoff_e2e::Moto;
use jiff::Timestamp;

async fn store(moto: &Moto) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    create_table(&client, "handsoff").await.unwrap();
    DynamoStore::new(client, "handsoff")
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn new_override(id: &str, alarms: &[&str], expires: &str) -> Override {
    Override {
        id: id.into(),
        pipeline: "orders".into(),
        stage: "Prod".into(),
        alarms: alarms.iter().map(|alarm| alarm.to_string()).collect(),
        reason: "shipping the fix for INC-42".into(),
        who: "arn:aws:iam::123456789012:user/dev".into(),
        created_at: at("2026-11-24T17:00:00Z"),
        expires_at: at(expires),
        revoked_at: None,
        revoked_by: None,
    }
}

#[tokio::test]
async fn overrides_are_written_once_listed_and_revoked_once() {
    let moto = Moto::start();
    let store = store(&moto).await;
    let first = new_override("ov-1", &["orders-high-sev"], "2026-11-24T19:00:00Z");
    store.create_override(&first).await.unwrap();
    let again = store.create_override(&first).await.unwrap_err();
    assert_eq!(again, StoreError::Conflict("override ov-1 already exists".into()));
    store
        .create_override(&new_override("ov-2", &[], "2026-11-24T21:00:00Z"))
        .await
        .unwrap();

    let read = store.overrides("orders", "Prod").await.unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(read.iter().find(|item| item.id == "ov-1"), Some(&first));
    assert!(store.overrides("orders", "Beta").await.unwrap().is_empty());
    assert_eq!(store.list_overrides(Some("orders")).await.unwrap().len(), 2);
    assert!(store.list_overrides(Some("payments")).await.unwrap().is_empty());

    let revoked = store
        .revoke_override(
            "ov-1",
            "arn:aws:iam::123456789012:user/lead",
            "fix shipped",
            at("2026-11-24T17:30:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at("2026-11-24T17:30:00Z")));
    assert_eq!(
        revoked.revoked_by.as_deref(),
        Some("arn:aws:iam::123456789012:user/lead")
    );
    let twice = store
        .revoke_override("ov-1", "someone", "again", at("2026-11-24T17:31:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(twice, StoreError::Conflict(_)), "{twice:?}");
    let unknown = store
        .revoke_override("ov-404", "someone", "x", at("2026-11-24T17:31:00Z"))
        .await
        .unwrap_err();
    assert_eq!(unknown, StoreError::NotFound("no override has id ov-404".into()));

    let trail = store.audit_trail("orders", "Prod").await.unwrap();
    let kinds: Vec<&str> = trail.iter().map(|record| record.kind.as_str()).collect();
    assert_eq!(kinds, ["override_created", "override_created", "override_revoked"]);
    assert_eq!(trail[2].who.as_deref(), Some("arn:aws:iam::123456789012:user/lead"));
    assert_eq!(trail[2].reason, "fix shipped");
}

#[tokio::test]
async fn twenty_concurrent_creations_of_one_override_write_it_once() {
    let moto = Moto::start();
    let store = Arc::new(store(&moto).await);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .create_override(&new_override("ov-race", &[], "2026-11-24T19:00:00Z"))
                    .await
            })
        })
        .collect();
    let mut written = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => written += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(written, 1);
    assert_eq!(store.overrides("orders", "Prod").await.unwrap().len(), 1);
    assert_eq!(store.audit_trail("orders", "Prod").await.unwrap().len(), 1);
}

#[tokio::test]
async fn stored_overrides_lift_a_block_only_while_live() {
    let moto = Moto::start();
    let store = store(&moto).await;
    store
        .create_override(&new_override("ov-live", &["orders-high-sev"], "2026-11-24T19:00:00Z"))
        .await
        .unwrap();
    let policy =
        Policy::from_json(r#"{"alarms": {"watch": [{"names": ["orders-high-sev"]}], "when_blocked": "fail"}}"#)
            .unwrap();
    let firing = [AlarmReading {
        name: "orders-high-sev".into(),
        kind: AlarmKind::Metric,
        state: AlarmState::Alarm,
        reason: "Threshold Crossed".into(),
        since: None,
        selection: 0,
    }];
    let here = Stage {
        pipeline: "orders",
        stage: "Prod",
    };
    let overrides = store.overrides("orders", "Prod").await.unwrap();
    let during = decide(
        policy.alarms().unwrap(),
        here,
        &firing,
        &overrides,
        None,
        at("2026-11-24T18:00:00Z"),
        None,
    );
    assert_eq!(during.decision, Verdict::Proceed);
    assert_eq!(during.outputs["override_id"], "ov-live");
    let after = decide(
        policy.alarms().unwrap(),
        here,
        &firing,
        &overrides,
        None,
        at("2026-11-24T19:00:00Z"),
        None,
    );
    assert_eq!(after.decision, Verdict::Block);
}

#[tokio::test]
async fn a_rollback_block_stays_until_a_person_clears_it() {
    let moto = Moto::start();
    let store = store(&moto).await;
    assert_eq!(store.block_marker("orders", "Prod").await.unwrap(), None);
    let marker = BlockMarker {
        pipeline: "orders".into(),
        stage: "Prod".into(),
        reason: "bake alarm orders-high-sev fired; rolled back".into(),
        created_at: at("2026-11-24T16:00:00Z"),
        by: "rollback-trigger".into(),
    };
    store.put_block_marker(&marker).await.unwrap();
    assert_eq!(
        store.block_marker("orders", "Prod").await.unwrap(),
        Some(marker.clone())
    );
    assert_eq!(store.block_marker("orders", "Beta").await.unwrap(), None);

    let cleared = store
        .clear_block_marker(
            "orders",
            "Prod",
            "arn:aws:iam::123456789012:user/oncall",
            "root cause fixed",
            at("2026-11-24T18:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(cleared, marker);
    assert_eq!(store.block_marker("orders", "Prod").await.unwrap(), None);
    let again = store
        .clear_block_marker("orders", "Prod", "x", "y", at("2026-11-24T18:01:00Z"))
        .await
        .unwrap_err();
    assert_eq!(
        again,
        StoreError::NotFound("stage Prod of pipeline orders is not blocked".into())
    );

    let kinds: Vec<String> = store
        .audit_trail("orders", "Prod")
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.kind)
        .collect();
    assert_eq!(kinds, ["blocked_after_rollback", "unblocked"]);
}

#[tokio::test]
async fn a_bake_session_starts_once_under_twenty_concurrent_polls() {
    let moto = Moto::start();
    let store = Arc::new(store(&moto).await);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let now = Timestamp::from_second(at("2026-11-24T17:00:00Z").as_second() + i).unwrap();
            tokio::spawn(async move { store.start_bake("orders", "Prod", "exec-1", now).await })
        })
        .collect();
    let mut starts = Vec::new();
    for task in tasks {
        starts.push(task.await.unwrap().unwrap());
    }
    starts.dedup();
    assert_eq!(starts.len(), 1, "every poll sees the one start: {starts:?}");
    // A later poll of the same deployment keeps the start; another deployment gets its own.
    assert_eq!(
        store
            .start_bake("orders", "Prod", "exec-1", at("2026-11-24T18:00:00Z"))
            .await
            .unwrap(),
        starts[0]
    );
    assert_eq!(
        store
            .start_bake("orders", "Prod", "exec-2", at("2026-11-24T18:00:00Z"))
            .await
            .unwrap(),
        at("2026-11-24T18:00:00Z")
    );
}

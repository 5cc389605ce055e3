//! Stored policies and change freezes against a real DynamoDB-protocol endpoint (moto_server,
//! started and stopped by the test): versions written once each, a stale writer refused, a
//! gate deciding with the stored policy and naming its versions, a changed policy changing the
//! next decision, freezes closing and lifting, an unreadable record failing closed.

use handsoff::freeze::{Freeze, Lift};
use handsoff::gates::time_window::TimeWindowGate;
use handsoff::invoke::Handler;
use handsoff::layers::{LayerDoc, Scope};
use handsoff::ports::calendars::NoCalendars;
use handsoff::ports::pipeline_jobs::CodePipelineJobs;
use handsoff::ports::policies::{FreezeStore, PolicyStore};
use handsoff::ports::store::{DynamoStore, StoreError, create_table};
use handsoff::telemetry::CapturedMetrics;
use handsoff_e2e::Moto;
use jiff::Timestamp;
use serde_json::{Value, json};

async fn store(moto: &Moto) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    create_table(&client, "handsoff").await.unwrap();
    DynamoStore::new(client, "handsoff")
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn doc(value: Value) -> LayerDoc {
    LayerDoc::from_value(value).unwrap()
}

const ALICE: &str = "arn:aws:sts::123456789012:assumed-role/platform/alice";

/// Tuesday 2026-11-24, 18:00 UTC.
fn tuesday_evening() -> Timestamp {
    at("2026-11-24T18:00:00Z")
}

fn gate(
    moto: &Moto,
    store: &DynamoStore,
) -> impl Fn(Value) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, String>>>> {
    let handler = std::rc::Rc::new(
        Handler::new(
            TimeWindowGate::new(store.clone(), NoCalendars),
            CodePipelineJobs::new(aws_sdk_codepipeline::Client::new(&moto.sdk_config())),
            CapturedMetrics::default(),
        )
        .with_policies(store.clone()),
    );
    move |event| {
        let handler = std::rc::Rc::clone(&handler);
        Box::pin(async move {
            handler
                .handle(event, tuesday_evening())
                .await
                .map_err(|error| format!("{}: {error}", error.error_type()))
        })
    }
}

fn own_stage() -> Value {
    json!({"context": {"pipeline": "orders", "stage": "Prod"}})
}

#[tokio::test]
async fn each_version_is_written_once_and_a_stale_writer_is_refused() {
    let moto = Moto::start();
    let store = store(&moto).await;
    let org = Scope::Org;
    let first = doc(json!({"bake": {"duration": "1h"}, "forbid_lowering": ["bake.duration"]}));
    assert_eq!(
        store.put(&org, &first, 0, &[], ALICE, at("2026-12-01T09:00:00Z")).await,
        Ok(1)
    );
    let stale = store
        .put(
            &org,
            &doc(json!({"bake": {"duration": "5m"}})),
            0,
            &[],
            "bob",
            at("2026-12-01T09:01:00Z"),
        )
        .await;
    assert!(
        matches!(&stale, Err(StoreError::Conflict(message)) if message.contains("changed since it was read (version 0)")),
        "{stale:?}"
    );
    let second = doc(json!({"bake": {"duration": "2h"}}));
    assert_eq!(
        store
            .put(&org, &second, 1, &[], "bob", at("2026-12-02T09:00:00Z"))
            .await,
        Ok(2)
    );

    let current = store.current(&Scope::chain("orders", "Prod")).await.unwrap();
    assert_eq!(current.len(), 1, "only the org layer is stored");
    assert_eq!((current[0].version, current[0].updated_by.as_str()), (2, "bob"));
    assert_eq!(current[0].doc, second);
    let history = store.history(&org).await.unwrap();
    let versions: Vec<(i64, &str, String)> = history
        .iter()
        .map(|layer| (layer.version, layer.updated_by.as_str(), layer.updated_at.to_string()))
        .collect();
    assert_eq!(
        versions,
        [
            (1, ALICE, "2026-12-01T09:00:00Z".to_string()),
            (2, "bob", "2026-12-02T09:00:00Z".to_string())
        ]
    );
    assert_eq!(history[0].doc, first, "an old version is kept as it was");
    let listed = store.stored_policies().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, 2);

    // A stage checked against org v2 is refused once org moves on to v3 meanwhile: nothing of it
    // is written.
    let stage = Scope::Stage("orders".into(), "Prod".into());
    let below = [(Scope::Org, 2), (Scope::Pipeline("orders".into()), 0)];
    let raised = doc(json!({"bake": {"duration": "3h"}}));
    assert_eq!(
        store
            .put(&org, &raised, 2, &[], ALICE, at("2026-12-03T09:00:00Z"))
            .await,
        Ok(3)
    );
    let raced = store
        .put(
            &stage,
            &doc(json!({"bake": {"duration": "2h"}})),
            0,
            &below,
            "bob",
            at("2026-12-03T09:00:01Z"),
        )
        .await;
    assert!(
        matches!(&raced, Err(StoreError::Conflict(message)) if message.contains("or a layer below it")),
        "{raced:?}"
    );
    assert_eq!(store.history(&stage).await.unwrap(), []);
    let below = [(Scope::Org, 3), (Scope::Pipeline("orders".into()), 0)];
    assert_eq!(
        store
            .put(
                &stage,
                &doc(json!({"bake": {"duration": "4h"}})),
                0,
                &below,
                "bob",
                at("2026-12-03T09:01:00Z")
            )
            .await,
        Ok(1)
    );
}

#[tokio::test]
async fn a_gate_decides_with_the_stored_policy_and_a_new_version_changes_the_next_decision() {
    let moto = Moto::start();
    let store = store(&moto).await;
    let decide = gate(&moto, &store);
    let all_week =
        json!({"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]}});
    store
        .put(&Scope::Org, &doc(all_week), 0, &[], ALICE, at("2026-11-01T00:00:00Z"))
        .await
        .unwrap();

    // The organisation's default alone never stands for a stage.
    let error = decide(own_stage()).await.unwrap_err();
    assert!(error.starts_with("PolicyInvalid: "), "{error}");
    assert!(
        error.contains("no policy is stored for pipeline orders or stage orders/Prod"),
        "{error}"
    );

    let stage = Scope::Stage("orders".into(), "Prod".into());
    store
        .put(
            &stage,
            &doc(json!({"windows": {"min_time_left": "1h"}})),
            0,
            &[],
            ALICE,
            at("2026-11-02T00:00:00Z"),
        )
        .await
        .unwrap();
    let open = decide(own_stage()).await.unwrap();
    assert_eq!(open["decision"], "proceed", "{open}");
    assert_eq!(
        open["evidence"]["policy"]["layers"],
        json!([
            {"layer": "org", "version": 1, "updated_by": ALICE, "updated_at": "2026-11-01T00:00:00Z"},
            {"layer": "stage orders/Prod", "version": 1, "updated_by": ALICE, "updated_at": "2026-11-02T00:00:00Z"}
        ])
    );

    // A team narrows its window: the very next decision waits, and names version 2.
    let mornings = json!({"windows": {"allow": [{"days": "Mon-Fri", "start": "09:00", "end": "12:00"}]}});
    store
        .put(&stage, &doc(mornings), 1, &[], "bob", at("2026-11-03T00:00:00Z"))
        .await
        .unwrap();
    let by_ref = json!({"policy_ref": {"pipeline": "orders", "stage": "Prod"}, "context": {"pipeline": "orders", "stage": "Prod"}});
    let waiting = decide(by_ref).await.unwrap();
    assert_eq!(waiting["decision"], "wait", "{waiting}");
    assert_eq!(waiting["wait_until"], "2026-11-25T09:00:00Z");
    assert_eq!(waiting["evidence"]["policy"]["layers"][1]["version"], 2);
}

#[tokio::test]
async fn a_freeze_closes_the_pipelines_it_names_until_lifted_and_is_lifted_once() {
    let moto = Moto::start();
    let store = store(&moto).await;
    let decide = gate(&moto, &store);
    let always =
        json!({"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]}});
    for pipeline in ["orders", "search"] {
        store
            .put(
                &Scope::Pipeline(pipeline.into()),
                &doc(always.clone()),
                0,
                &[],
                ALICE,
                at("2026-11-01T00:00:00Z"),
            )
            .await
            .unwrap();
    }
    let freeze = Freeze {
        id: "frz-0123456789ab".into(),
        from: at("2026-11-24T00:00:00Z"),
        to: at("2026-11-27T00:00:00Z"),
        reason: "Black Friday".into(),
        pipelines: vec!["orders".into(), "payments".into()],
        created_by: ALICE.into(),
        created_at: at("2026-11-20T00:00:00Z"),
        lifted: None,
    };
    store.create_freeze(&freeze, tuesday_evening()).await.unwrap();
    assert!(
        store.create_freeze(&freeze, tuesday_evening()).await.is_err(),
        "an id is written once"
    );
    assert_eq!(
        store.freezes(tuesday_evening()).await.unwrap(),
        std::slice::from_ref(&freeze)
    );
    assert_eq!(
        store.freezes(at("2026-11-27T00:00:00Z")).await.unwrap(),
        [],
        "an ended freeze is not read"
    );

    let frozen = decide(own_stage()).await.unwrap();
    assert_eq!(frozen["decision"], "wait", "{frozen}");
    assert_eq!(frozen["wait_until"], "2026-11-27T00:00:00Z");
    assert_eq!(frozen["evidence"]["freeze"]["reason"], "Black Friday");
    let other = decide(json!({"context": {"pipeline": "search", "stage": "Prod"}}))
        .await
        .unwrap();
    assert_eq!(
        other["decision"], "proceed",
        "a freeze closes only the pipelines it names"
    );

    let lift = Lift {
        at: at("2026-11-24T17:00:00Z"),
        by: "arn:aws:sts::123456789012:assumed-role/release/bob".into(),
        reason: "the sale moved".into(),
    };
    let lifted = store.lift_freeze(&freeze.id, lift.clone()).await.unwrap();
    assert_eq!(lifted.lifted, Some(lift.clone()));
    let again = store.lift_freeze(&freeze.id, lift.clone()).await;
    assert!(
        matches!(&again, Err(StoreError::Conflict(message)) if message.contains("was lifted at")),
        "{again:?}"
    );
    assert!(matches!(
        store.lift_freeze("frz-none", lift).await,
        Err(StoreError::NotFound(_))
    ));
    let reopened = decide(own_stage()).await.unwrap();
    assert_eq!(reopened["decision"], "proceed", "{reopened}");

    // What a gate reads stays small: at most 50 freezes in force or to come.
    for index in 1..handsoff::ports::policies::MAX_LIVE_FREEZES {
        let mut more = freeze.clone();
        more.id = format!("frz-{index:012}");
        more.lifted = None;
        store.create_freeze(&more, tuesday_evening()).await.unwrap();
    }
    let mut one_too_many = freeze.clone();
    one_too_many.id = "frz-toomany".into();
    let refused = store.create_freeze(&one_too_many, tuesday_evening()).await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict(message)) if message.starts_with("50 freezes are in force or to come")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_unreadable_stored_policy_or_freeze_fails_the_gate_closed_naming_it() {
    let moto = Moto::start();
    let store = store(&moto).await;
    let decide = gate(&moto, &store);
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    let s = |text: &str| aws_sdk_dynamodb::types::AttributeValue::S(text.into());
    client
        .put_item()
        .table_name("handsoff")
        .item("pk", s("POLICY#STAGE#orders#Prod"))
        .item("sk", s("CURRENT"))
        .item("version", aws_sdk_dynamodb::types::AttributeValue::N("3".into()))
        .item("body", s("{\"windows\": "))
        .item("updated_at", s("2026-11-01T00:00:00Z"))
        .item("updated_by", s(ALICE))
        .send()
        .await
        .unwrap();
    let error = decide(own_stage()).await.unwrap_err();
    assert!(error.starts_with("DependencyUnavailable: "), "{error}");
    assert!(
        error.contains("stored policy stage orders/Prod: version 3 no longer parses"),
        "{error}"
    );

    client
        .put_item()
        .table_name("handsoff")
        .item("pk", s("POLICY#STAGE#orders#Prod"))
        .item("sk", s("CURRENT"))
        .item("version", aws_sdk_dynamodb::types::AttributeValue::N("4".into()))
        .item(
            "body",
            s(r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]}}"#),
        )
        .item("updated_at", s("2026-11-01T00:00:00Z"))
        .item("updated_by", s(ALICE))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name("handsoff")
        .item("pk", s("FREEZE#ORG"))
        .item("sk", s("009999999999#frz-garbled"))
        .item("body", s("not json"))
        .send()
        .await
        .unwrap();
    let error = decide(own_stage()).await.unwrap_err();
    assert!(error.contains("a freeze that does not parse"), "{error}");
}

//! The rollback trigger against real Lambda and DynamoDB protocol endpoints (moto_server,
//! started by the test): a function with two published versions behind a weighted alias is
//! rolled back, exactly once under 20 concurrent calls, and a partial failure is retried safely.

use std::sync::Arc;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, FunctionCode, Runtime};
use handsoff::decision::Verdict;
use handsoff::gates::rollback_trigger::RollbackTrigger;
use handsoff::gates::{Gate, GateRequest, Mode};
use handsoff::invoke::event::InvocationContext;
use handsoff::policy::Policy;
use handsoff::ports::deployments::AwsDeploymentControl;
use handsoff::ports::store::{DynamoStore, StateStore, create_table};
use handsoff_e2e::Moto;

/// The smallest valid zip: an empty archive.
const EMPTY_ZIP: &[u8] = &[
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

macro_rules! client {
    ($sdk:ident, $moto:expr) => {
        $sdk::Client::new(&$moto.sdk_config())
    };
}
struct World {
    _moto: Moto,
    lambda: aws_sdk_lambda::Client,
    store: DynamoStore,
    trigger: RollbackTrigger<AwsDeploymentControl, DynamoStore>,
}

async fn world() -> World {
    let moto = Moto::start();
    let role = moto.create_iam_role("orders-api");
    let lambda = client!(aws_sdk_lambda, moto);
    lambda
        .create_function()
        .function_name("orders-api")
        .runtime(Runtime::Providedal2023)
        .role(role)
        .handler("bootstrap")
        .code(FunctionCode::builder().zip_file(Blob::new(EMPTY_ZIP)).build())
        .send()
        .await
        .unwrap();
    let v1 = lambda
        .publish_version()
        .function_name("orders-api")
        .send()
        .await
        .unwrap()
        .version
        .unwrap();
    lambda
        .update_function_code()
        .function_name("orders-api")
        .zip_file(Blob::new(EMPTY_ZIP))
        .send()
        .await
        .unwrap();
    let v2 = lambda
        .publish_version()
        .function_name("orders-api")
        .send()
        .await
        .unwrap()
        .version
        .unwrap();
    assert_ne!(v1, v2);
    lambda
        .create_alias()
        .function_name("orders-api")
        .name("live")
        .function_version(&v1)
        .routing_config(
            AliasRoutingConfiguration::builder()
                .additional_version_weights(&v2, 0.1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let dynamodb = client!(aws_sdk_dynamodb, moto);
    create_table(&dynamodb, "handsoff").await.unwrap();
    let store = DynamoStore::new(dynamodb.clone(), "handsoff");
    let control = AwsDeploymentControl::new(
        lambda.clone(),
        client!(aws_sdk_codedeploy, moto),
        client!(aws_sdk_codepipeline, moto),
    );
    let trigger = RollbackTrigger::new(control, DynamoStore::new(dynamodb, "handsoff"));
    World {
        _moto: moto,
        lambda,
        store,
        trigger,
    }
}

fn request(actions: &str) -> GateRequest {
    GateRequest {
        policy: Policy::from_json(&format!(r#"{{"rollback": {{"actions": {actions}}}}}"#)).unwrap(),
        context: InvocationContext {
            pipeline: Some("orders".into()),
            stage: Some("Prod".into()),
            execution_id: Some("exec-1".into()),
            action: None,
            reason: Some("bake alarm orders-high-sev fired".into()),
        },
        now: jiff::Timestamp::now(),
        waiting_since: None,
        mode: Mode::Direct,
    }
}

const ALIAS: &str = r#"[{"lambda_alias": {"function_name": "orders-api", "alias": "live"}}]"#;

async fn alias_state(lambda: &aws_sdk_lambda::Client) -> (String, usize) {
    let alias = lambda
        .get_alias()
        .function_name("orders-api")
        .name("live")
        .send()
        .await
        .unwrap();
    let weights = alias
        .routing_config()
        .and_then(|routing| routing.additional_version_weights())
        .map_or(0, |weights| weights.len());
    (alias.function_version().unwrap().to_string(), weights)
}

#[tokio::test]
async fn twenty_concurrent_calls_roll_back_once() {
    let world = Arc::new(world().await);
    assert_eq!(alias_state(&world.lambda).await, ("1".to_string(), 1));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let world = Arc::clone(&world);
            tokio::spawn(async move { world.trigger.decide(&request(ALIAS)).await })
        })
        .collect();
    let mut performed = 0;
    for task in tasks {
        let decision = task.await.unwrap().unwrap();
        if decision.evidence["performed"] == true {
            performed += 1;
            assert_eq!(decision.decision, Verdict::Rollback);
            assert!(decision.reason().starts_with("rolled back: lambda_alias orders-api:live ok: alias live of orders-api is back on version 1 only (took away 2)"), "{}", decision.reason());
        } else {
            assert!(
                matches!(decision.decision, Verdict::Rollback | Verdict::Wait),
                "{decision:?}"
            );
        }
    }
    assert_eq!(performed, 1);
    assert_eq!(alias_state(&world.lambda).await, ("1".to_string(), 0));

    // A later call returns the first result; the stage is blocked until a person clears it.
    let again = world.trigger.decide(&request(ALIAS)).await.unwrap();
    assert_eq!(again.evidence["performed"], false);
    assert!(
        again.reason().starts_with("already rolled back at "),
        "{}",
        again.reason()
    );
    let marker = world.store.block_marker("orders", "Prod").await.unwrap().unwrap();
    assert_eq!(
        marker.reason,
        "rolled back execution exec-1: bake alarm orders-high-sev fired"
    );
    // Both are stamped with the same instant: their order in the trail is not fixed.
    let mut kinds: Vec<String> = world
        .store
        .audit_trail("orders", "Prod")
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.kind)
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["blocked_after_rollback", "decision"]);
}

#[tokio::test]
async fn a_partial_failure_says_what_succeeded_and_a_retry_redoes_only_the_rest() {
    let world = world().await;
    let actions = r#"[{"lambda_alias": {"function_name": "orders-api", "alias": "live"}}, {"lambda_alias": {"function_name": "payments-api", "alias": "live"}}]"#;
    let error = world.trigger.decide(&request(actions)).await.unwrap_err();
    assert_eq!(error.error_type(), "RollbackIncomplete");
    let text = error.to_string();
    assert!(
        text.contains("lambda_alias orders-api:live ok")
            && text.contains("lambda_alias payments-api:live FAILED: lambda:GetAlias failed"),
        "{text}"
    );
    assert_eq!(alias_state(&world.lambda).await, ("1".to_string(), 0));
    assert!(
        world.store.block_marker("orders", "Prod").await.unwrap().is_some(),
        "a half rollback blocks the stage too"
    );

    // Someone shifts traffic again; the retry must not touch the alias it already rolled back.
    world
        .lambda
        .update_alias()
        .function_name("orders-api")
        .name("live")
        .routing_config(
            AliasRoutingConfiguration::builder()
                .additional_version_weights("2", 0.5)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let retry = world.trigger.decide(&request(actions)).await.unwrap_err();
    assert_eq!(retry.error_type(), "RollbackIncomplete");
    assert_eq!(
        alias_state(&world.lambda).await,
        ("1".to_string(), 1),
        "the succeeded step was not run again"
    );
}

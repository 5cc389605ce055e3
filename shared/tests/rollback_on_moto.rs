//! The rollback trigger against real Lambda and DynamoDB protocol endpoints (moto_server,
//! started by the test): a function with two published versions behind a weighted alias is
//! rolled back, exactly once under 20 concurrent calls, and a partial failure is retried safely.

use std::sync::Arc;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, FunctionCode, Runtime};
use handsoff::context::InvocationContext;
use handsoff::decision::Verdict;
use handsoff::gates::rollback_trigger::RollbackTrigger;
use handsoff::gates::{Gate, GateRequest, Mode};
use handsoff::policy::Policy;
use handsoff::ports::PortError;
use handsoff::ports::deployments::{AwsDeploymentControl, DeploymentControl};
use handsoff::ports::store::BlockStore;
use handsoff::ports::store::{AuditStore, RollbackStore};
use handsoff::ports::store::{DynamoStore, create_table};
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
    dynamodb: aws_sdk_dynamodb::Client,
    store: DynamoStore,
    trigger: RollbackTrigger<AwsDeploymentControl, DynamoStore>,
    /// The same, but its `payments-api` action never returns: a run that dies half way.
    crashing: RollbackTrigger<HangsOn, DynamoStore>,
}

/// Real deployment control, except that rolling back `hangs_on`'s alias never returns.
struct HangsOn {
    inner: AwsDeploymentControl,
    hangs_on: &'static str,
}

impl DeploymentControl for HangsOn {
    async fn roll_back_alias(
        &self,
        function_name: &str,
        alias: &str,
        to_version: Option<&str>,
    ) -> Result<String, PortError> {
        if function_name == self.hangs_on {
            std::future::pending::<()>().await;
        }
        self.inner.roll_back_alias(function_name, alias, to_version).await
    }
    async fn stop_codedeploy(&self, application: &str, group: &str) -> Result<String, PortError> {
        self.inner.stop_codedeploy(application, group).await
    }
    async fn roll_back_stage(&self, pipeline: &str, stage: &str, execution: &str) -> Result<String, PortError> {
        self.inner.roll_back_stage(pipeline, stage, execution).await
    }
    async fn stop_execution(&self, pipeline: &str, execution: &str, reason: &str) -> Result<String, PortError> {
        self.inner.stop_execution(pipeline, execution, reason).await
    }
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
    let crashing = RollbackTrigger::new(
        HangsOn {
            inner: control.clone(),
            hangs_on: "payments-api",
        },
        DynamoStore::new(dynamodb.clone(), "handsoff"),
    );
    let trigger = RollbackTrigger::new(control, DynamoStore::new(dynamodb.clone(), "handsoff"));
    World {
        _moto: moto,
        lambda,
        dynamodb,
        store,
        trigger,
        crashing,
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
            waiting_since: None,
        },
        now: jiff::Timestamp::now(),
        waiting_since: None,
        mode: Mode::Direct,
        policy_source: None,
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
        if decision.evidence.to_json()["performed"] == true {
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
    assert_eq!(again.evidence.to_json()["performed"], false);
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

/// A run that dies half way (its second action never returns, its Lambda is stopped) has saved
/// what it did: the run that takes over its expired claim skips the alias it already rolled
/// back. Before, the takeover ran the alias again, found it on one version and reported a
/// false RollbackIncomplete.
#[tokio::test]
async fn a_run_that_died_half_way_is_taken_over_without_redoing_its_steps() {
    let world = world().await;
    let actions = r#"[{"lambda_alias": {"function_name": "orders-api", "alias": "live"}}, {"lambda_alias": {"function_name": "payments-api", "alias": "live"}}]"#;
    let died = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        world.crashing.decide(&request(actions)),
    )
    .await;
    assert!(died.is_err(), "the first run never finishes");
    assert_eq!(alias_state(&world.lambda).await, ("1".to_string(), 0));
    assert!(world.store.block_marker("orders", "Prod").await.unwrap().is_none());

    // Within the lease, another invocation waits; past it, it takes over. Only orders-api's
    // step is in the policy this time, as it was done already: nothing is left to run.
    let only_orders = r#"[{"lambda_alias": {"function_name": "orders-api", "alias": "live"}}]"#;
    let waiting = world.trigger.decide(&request(only_orders)).await.unwrap();
    assert_eq!(waiting.decision, Verdict::Wait, "{}", waiting.reason());
    let mut later = request(only_orders);
    later.now += jiff::SignedDuration::from_secs(301);
    let taken = world.trigger.decide(&later).await.unwrap();
    assert_eq!(taken.decision, Verdict::Rollback, "{}", taken.reason());
    assert!(
        taken
            .reason()
            .starts_with("rolled back: lambda_alias orders-api:live ok: alias live of orders-api is back on version 1"),
        "the step the dead run did is reported from its saved progress: {}",
        taken.reason()
    );
    assert_eq!(taken.evidence.to_json()["performed"], true);
    assert!(world.store.block_marker("orders", "Prod").await.unwrap().is_some());
}

/// The record, the stage's block and both audit records are one transaction conditioned on
/// still holding the claim: a run whose claim was taken over writes none of them and says so.
/// A claim asked for again under its own id (an SDK retry whose first answer was lost) is ours.
#[tokio::test]
async fn a_run_whose_claim_was_taken_over_writes_nothing() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use handsoff::ports::store::{RollbackClaim, RollbackKey, StoreError};
    let world = world().await;
    let now = jiff::Timestamp::now();
    let mine = RollbackKey {
        pipeline: "orders",
        stage: "Prod",
        execution_id: "exec-1",
        claim_id: "run-a",
    };
    let claimed = world.store.claim_rollback(mine, now, 300).await.unwrap();
    assert_eq!(claimed, RollbackClaim::Claimed { previous: Vec::new() });
    let again = world.store.claim_rollback(mine, now, 300).await.unwrap();
    assert_eq!(
        again,
        RollbackClaim::Claimed { previous: Vec::new() },
        "our own claim, read back"
    );
    let other = RollbackKey {
        claim_id: "run-b",
        ..mine
    };
    assert!(matches!(
        world.store.claim_rollback(other, now, 300).await.unwrap(),
        RollbackClaim::InProgress { .. }
    ));

    // Another invocation takes the claim over (as after an expired lease).
    world
        .dynamodb
        .update_item()
        .table_name("handsoff")
        .key("pk", AttributeValue::S("ROLLBACK#orders#Prod".into()))
        .key("sk", AttributeValue::S("exec-1".into()))
        .update_expression("SET claim_id = :other")
        .expression_attribute_values(":other", AttributeValue::S("run-b".into()))
        .send()
        .await
        .unwrap();
    let record = handsoff::rollback::RollbackRecord {
        status: "done".into(),
        steps: Vec::new(),
        reason: "bake alarm".into(),
        finished_at: now,
    };
    let marker = handsoff::alarms::BlockMarker {
        pipeline: "orders".into(),
        stage: "Prod".into(),
        reason: "rolled back".into(),
        created_at: now,
        by: "rollback-trigger".into(),
    };
    let lost = world
        .store
        .finish_rollback(mine, &record, &marker, None)
        .await
        .unwrap_err();
    assert!(matches!(lost, StoreError::Conflict(_)), "{lost:?}");
    assert!(
        world.store.block_marker("orders", "Prod").await.unwrap().is_none(),
        "no block without the record"
    );
    assert!(world.store.audit_trail("orders", "Prod").await.unwrap().is_empty());
    let progress = world.store.save_rollback_progress(mine, &record).await.unwrap_err();
    assert!(matches!(progress, StoreError::Conflict(_)), "{progress:?}");

    // The holder finishes: record, block and audit land together.
    world
        .store
        .finish_rollback(other, &record, &marker, None)
        .await
        .unwrap();
    assert!(world.store.block_marker("orders", "Prod").await.unwrap().is_some());
    assert_eq!(world.store.audit_trail("orders", "Prod").await.unwrap().len(), 1);
    assert!(matches!(
        world.store.claim_rollback(mine, now, 300).await.unwrap(),
        RollbackClaim::Done(_)
    ));
}

//! Which policy a call decides with: the one it carries inline, or a stored one, named by
//! `policy_ref` or, when the call carries none, by the call's own pipeline and stage.

use jiff::Timestamp;

use super::event::{DirectRequest, PolicyRef};
use crate::context::InvocationContext;
use crate::error::GateError;
use crate::layers::{LayerDoc, PolicySource, Scope, StoredLayer, effective};
use crate::policy::{Policy, PolicyError};
use crate::ports::policies::PolicyStore;
use crate::ports::store::StoreError;
use crate::ports::{PortError, PortErrorKind};

/// What a call asks for.
#[derive(Debug, Clone)]
pub enum PolicyAsk {
    Inline(Box<Policy>),
    Stored(PolicyRef),
    /// The stored policy of the stage the call runs for (known once the job's context is read).
    OwnStage,
}

/// A function built without the state table cannot read stored policies: asking fails closed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStoredPolicies;

fn no_table() -> StoreError {
    StoreError::Port(PortError {
        call: "dynamodb:GetItem".into(),
        kind: PortErrorKind::Rejected,
        message: "this function has no state table (HANDSOFF_TABLE), so it cannot read stored policies; pass the policy inline".into(),
    })
}

impl PolicyStore for NoStoredPolicies {
    async fn current(&self, _scopes: &[Scope]) -> Result<Vec<StoredLayer>, StoreError> {
        Err(no_table())
    }

    async fn put(
        &self,
        _: &Scope,
        _: &LayerDoc,
        _: i64,
        _: &[(Scope, i64)],
        _: &str,
        _: Timestamp,
    ) -> Result<i64, StoreError> {
        Err(no_table())
    }

    async fn history(&self, _scope: &Scope) -> Result<Vec<StoredLayer>, StoreError> {
        Err(no_table())
    }
}

/// The ask of a CodePipeline action: its UserParameters hold a policy, or only
/// `{"policy_ref": {...}}`, or nothing (the stage's stored policy). Errors sit under
/// `UserParameters`.
pub fn job_ask(user_parameters: Option<&str>) -> Result<PolicyAsk, PolicyError> {
    let Some(text) = user_parameters.filter(|text| !text.trim().is_empty()) else {
        return Ok(PolicyAsk::OwnStage);
    };
    let inline = |text: &str| Policy::from_json(text).map(|policy| PolicyAsk::Inline(Box::new(policy)));
    let asked = match crate::json::parse_strict(text) {
        Ok(serde_json::Value::Object(map)) if map.contains_key("policy_ref") => {
            if map.len() > 1 {
                Err(PolicyError::new(
                    "policy_ref",
                    "give a policy or `policy_ref` alone, not both",
                ))
            } else {
                policy_ref(map["policy_ref"].clone())
            }
        }
        _ => inline(text),
    };
    asked.map_err(|error| error.within("UserParameters"))
}

fn policy_ref(value: serde_json::Value) -> Result<PolicyAsk, PolicyError> {
    let reference: PolicyRef = serde_json::from_value(value).map_err(|error| {
        PolicyError::new(
            "policy_ref",
            format!(
                "{}; write {{\"pipeline\": \"orders\", \"stage\": \"Prod\"}}",
                crate::json::without_value(&error.to_string())
            ),
        )
    })?;
    Ok(PolicyAsk::Stored(reference))
}

/// The ask of a direct call: `policy`, `policy_ref`, or neither with the context's pipeline
/// and stage.
pub fn direct_ask(request: &DirectRequest, gate: &str) -> Result<PolicyAsk, PolicyError> {
    match (&request.policy, &request.policy_ref) {
        (Some(policy), None) => Policy::from_value(policy.clone()).map(|policy| PolicyAsk::Inline(Box::new(policy))),
        (None, Some(reference)) => Ok(PolicyAsk::Stored(reference.clone())),
        (Some(_), Some(_)) => Err(PolicyError::new(
            "policy_ref",
            "give `policy` or `policy_ref`, not both",
        )),
        (None, None) if request.context.pipeline.is_some() && request.context.stage.is_some() => {
            Ok(PolicyAsk::OwnStage)
        }
        (None, None) => Err(PolicyError::new(
            "policy",
            format!(
                "missing: pass the policy inline, e.g. {{\"policy\": {}}}, or a stored one with {{\"policy_ref\": {{\"pipeline\": \"orders\", \"stage\": \"Prod\"}}}}",
                crate::policy::example_for(gate)
            ),
        )),
    }
}

/// The policy to decide with and, when stored, the versions it was merged from. A store that
/// cannot be read is a dependency unavailable; a stored policy that is missing or invalid is an
/// invalid policy naming its layer, version and field. Either way the gate fails closed.
pub async fn resolve<P: PolicyStore>(
    store: &P,
    ask: PolicyAsk,
    context: &InvocationContext,
) -> Result<(Policy, Option<PolicySource>), GateError> {
    let reference = match ask {
        PolicyAsk::Inline(policy) => return Ok((*policy, None)),
        PolicyAsk::Stored(reference) => reference,
        PolicyAsk::OwnStage => match (&context.pipeline, &context.stage) {
            (Some(pipeline), Some(stage)) => PolicyRef {
                pipeline: pipeline.clone(),
                stage: stage.clone(),
            },
            _ => {
                return Err(GateError::PolicyInvalid(PolicyError::new(
                    "policy",
                    "missing: no policy inline, and no pipeline and stage to read a stored one for",
                )));
            }
        },
    };
    checked_ref(&reference)?;
    let layers = store
        .current(&Scope::chain(&reference.pipeline, &reference.stage))
        .await
        .map_err(GateError::from_store)?;
    let merged = effective(&reference.pipeline, &reference.stage, &layers).map_err(GateError::PolicyInvalid)?;
    Ok((merged.policy, Some(merged.source)))
}

/// A stored policy's names become a record's key: CodePipeline's names only.
fn checked_ref(reference: &PolicyRef) -> Result<(), GateError> {
    crate::names::check([
        ("policy_ref.pipeline", reference.pipeline.as_str()),
        ("policy_ref.stage", reference.stage.as_str()),
    ])
    .map_err(|error| GateError::InvalidInput(error.0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ports::policies::InMemoryPolicies;

    fn context(pipeline: &str, stage: &str) -> InvocationContext {
        InvocationContext {
            pipeline: Some(pipeline.into()),
            stage: Some(stage.into()),
            ..Default::default()
        }
    }

    async fn store_with(layers: &[(Scope, serde_json::Value)]) -> InMemoryPolicies {
        let store = InMemoryPolicies::default();
        for (scope, doc) in layers {
            let read = store.history(scope).await.unwrap().len() as i64;
            store
                .put(
                    scope,
                    &LayerDoc::from_value(doc.clone()).unwrap(),
                    read,
                    &[],
                    "alice",
                    "2026-12-01T00:00:00Z".parse().unwrap(),
                )
                .await
                .unwrap();
        }
        store
    }

    #[tokio::test]
    async fn a_call_with_no_policy_reads_its_own_stages_stored_policy_and_names_the_versions() {
        let stage = Scope::Stage("orders".into(), "Prod".into());
        let store = store_with(&[
            (Scope::Org, json!({"bake": {"duration": "1h"}})),
            (stage.clone(), json!({"bake": {"duration": "2h"}})),
            (stage, json!({"bake": {"duration": "3h"}})),
        ])
        .await;
        let (policy, source) = resolve(&store, PolicyAsk::OwnStage, &context("orders", "Prod"))
            .await
            .unwrap();
        assert_eq!(policy.bake().unwrap().duration.to_string(), "3h");
        assert_eq!(source.unwrap().summary(), "org v1 + stage orders/Prod v2");
    }

    #[tokio::test]
    async fn nothing_stored_an_invalid_layer_or_an_unreadable_store_fails_closed_naming_it() {
        let store = store_with(&[(Scope::Org, json!({"bake": {"duration": "1h"}}))]).await;
        let missing = resolve(&store, PolicyAsk::OwnStage, &context("orders", "Prod"))
            .await
            .unwrap_err();
        assert_eq!(missing.error_type(), "PolicyInvalid");
        assert!(
            missing.to_string().contains("no policy is stored for pipeline orders"),
            "{missing}"
        );

        *store.failing.lock().unwrap() = Some(StoreError::Port(PortError {
            call: "dynamodb:GetItem".into(),
            kind: PortErrorKind::Throttled,
            message: "slow down".into(),
        }));
        let unreadable = resolve(&store, PolicyAsk::OwnStage, &context("orders", "Prod"))
            .await
            .unwrap_err();
        assert_eq!(unreadable.error_type(), "DependencyUnavailable");

        let no_table = resolve(&NoStoredPolicies, PolicyAsk::OwnStage, &context("orders", "Prod"))
            .await
            .unwrap_err();
        assert!(no_table.to_string().contains("no state table"), "{no_table}");

        let bad_name = resolve(
            &InMemoryPolicies::default(),
            PolicyAsk::Stored(PolicyRef {
                pipeline: "orders#x".into(),
                stage: "Prod".into(),
            }),
            &InvocationContext::default(),
        )
        .await
        .unwrap_err();
        assert!(
            bad_name
                .to_string()
                .contains("policy_ref.pipeline: not a CodePipeline name")
        );
    }

    #[test]
    fn user_parameters_hold_a_policy_a_policy_ref_alone_or_nothing() {
        assert!(matches!(job_ask(None).unwrap(), PolicyAsk::OwnStage));
        assert!(matches!(job_ask(Some("  ")).unwrap(), PolicyAsk::OwnStage));
        assert!(matches!(
            job_ask(Some(r#"{"policy_ref": {"pipeline": "orders", "stage": "Prod"}}"#)).unwrap(),
            PolicyAsk::Stored(PolicyRef { pipeline, stage }) if pipeline == "orders" && stage == "Prod"
        ));
        assert!(matches!(
            job_ask(Some(r#"{"bake": {"duration": "1h"}}"#)).unwrap(),
            PolicyAsk::Inline(_)
        ));
        let both = job_ask(Some(
            r#"{"policy_ref": {"pipeline": "o", "stage": "P"}, "bake": {"duration": "1h"}}"#,
        ))
        .unwrap_err();
        assert_eq!(both.path, "UserParameters.policy_ref");
        let typo = job_ask(Some(r#"{"policy_ref": {"pipeline": "o", "stag": "P"}}"#)).unwrap_err();
        assert!(typo.message.contains("unknown field `stag`"), "{typo}");
    }
}

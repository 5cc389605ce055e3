//! The two ways a function is called: a CodePipeline job event, or a direct / Step Functions
//! payload. Only the fields a gate needs are read; the job's artifact credentials are never
//! deserialized, so they cannot reach a log through these types.

use serde::Deserialize;
use serde_json::Value;

use crate::context::InvocationContext;
use crate::error::GateError;

/// A CodePipeline Lambda invoke job, as much of it as a gate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineJob {
    pub id: String,
    pub user_parameters: Option<String>,
    pub continuation_token: Option<String>,
}

/// A stored policy to decide with: the effective policy of this pipeline and stage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    pub pipeline: String,
    pub stage: String,
}

/// A direct invoke or Step Functions task payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectRequest {
    #[serde(default)]
    pub policy: Option<Value>,
    #[serde(default)]
    pub policy_ref: Option<PolicyRef>,
    #[serde(default)]
    pub context: InvocationContext,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    CodePipeline(PipelineJob),
    Direct(DirectRequest),
}

pub const CODEPIPELINE_KEY: &str = "CodePipeline.job";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobEvent {
    id: String,
    #[serde(default)]
    data: Option<JobData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobData {
    #[serde(default)]
    action_configuration: Option<ActionConfiguration>,
    #[serde(default)]
    continuation_token: Option<String>,
}

#[derive(Deserialize)]
struct ActionConfiguration {
    #[serde(default)]
    configuration: Option<Configuration>,
}

#[derive(Deserialize)]
struct Configuration {
    #[serde(rename = "UserParameters", default)]
    user_parameters: Option<String>,
}

impl Invocation {
    pub fn parse(event: Value) -> Result<Invocation, GateError> {
        let Value::Object(mut fields) = event else {
            return Err(GateError::InvalidInput(
                "the event is not a JSON object; send a CodePipeline job event or {\"policy\": {...}, \"context\": {...}}".to_string(),
            ));
        };
        if let Some(job) = fields.remove(CODEPIPELINE_KEY) {
            // Errors name the field only: serde's message could quote the event's values.
            let job: JobEvent = serde_path_to_error::deserialize(job).map_err(|error| {
                GateError::InvalidInput(format!(
                    "CodePipeline job event: field `{}` is missing or malformed",
                    error.path()
                ))
            })?;
            let data = job.data.unwrap_or(JobData {
                action_configuration: None,
                continuation_token: None,
            });
            let user_parameters = data
                .action_configuration
                .and_then(|action| action.configuration)
                .and_then(|c| c.user_parameters);
            return Ok(Invocation::CodePipeline(PipelineJob {
                id: job.id,
                user_parameters,
                continuation_token: data.continuation_token,
            }));
        }
        let request: DirectRequest = serde_path_to_error::deserialize(Value::Object(fields)).map_err(|error| {
            GateError::InvalidInput(format!(
                "payload: {}: {}",
                error.path(),
                crate::json::without_value(&error.inner().to_string())
            ))
        })?;
        Ok(Invocation::Direct(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_codepipeline_job_without_its_credentials() {
        let event = json!({"CodePipeline.job": {"id": "job-1", "accountId": "111111111111", "data": {
            "actionConfiguration": {"configuration": {"FunctionName": "gate", "UserParameters": "{\"windows\": {}}"}},
            "inputArtifacts": [], "outputArtifacts": [],
            "artifactCredentials": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "SECRET", "sessionToken": "TOKEN"},
            "continuationToken": "{\"v\":1}"}}});
        let invocation = Invocation::parse(event).unwrap();
        assert_eq!(
            invocation,
            Invocation::CodePipeline(PipelineJob {
                id: "job-1".into(),
                user_parameters: Some("{\"windows\": {}}".into()),
                continuation_token: Some("{\"v\":1}".into()),
            })
        );
        assert!(!format!("{invocation:?}").contains("SECRET"));
    }

    #[test]
    fn reads_a_direct_payload_strictly() {
        let invocation =
            Invocation::parse(json!({"policy": {"windows": {}}, "context": {"pipeline": "p", "stage": "Prod"}}))
                .unwrap();
        let Invocation::Direct(request) = invocation else {
            panic!("direct")
        };
        assert_eq!(request.context.stage.as_deref(), Some("Prod"));
        let error = Invocation::parse(json!({"policy": {}, "contxt": {}})).unwrap_err();
        assert!(error.to_string().contains("unknown field `contxt`"), "{error}");
        let error = Invocation::parse(json!({"context": {"pipline": "p"}})).unwrap_err();
        assert!(error.to_string().contains("context.pipline"), "{error}");
        assert!(
            Invocation::parse(json!([1, 2]))
                .unwrap_err()
                .to_string()
                .contains("not a JSON object")
        );
    }

    #[test]
    fn waiting_since_reads_step_functions_and_moto_start_times() {
        for (text, expected) in [
            ("2026-12-04T02:14:19.192Z", "2026-12-04T02:14:19.192Z"),
            ("2026-12-04 02:14:19.192000+00:00", "2026-12-04T02:14:19.192Z"),
        ] {
            let context: InvocationContext = serde_json::from_value(json!({"waiting_since": text})).unwrap();
            assert_eq!(context.waiting_since, Some(expected.parse().unwrap()), "{text}");
        }
    }

    #[test]
    fn a_malformed_job_names_the_field_without_echoing_values() {
        let error = Invocation::parse(
            json!({"CodePipeline.job": {"id": 7, "data": {"artifactCredentials": {"secretAccessKey": "SECRET"}}}}),
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("`id`") && !text.contains("SECRET"), "{text}");
    }
}

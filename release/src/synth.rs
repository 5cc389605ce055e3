//! The CloudFormation template of a release plan's pipeline (CodePipeline V2): Source, Build
//! (which packages the service once per region, into that region's artifact bucket), each
//! pre-production stage (deploy, then post-stage validation), then one stage per wave whose
//! regions run in parallel as cross-region actions: the service's stack is deployed (the
//! function's code, no traffic), then `safe-region` in that region releases it behind the
//! alias. A failed region fails its wave's stage, so no later wave starts.
//!
//! The inputs of each region's `safe-region` are files in the source (a CodePipeline action's
//! configuration value holds at most 1000 characters, too few for a policy): [`inputs`] writes
//! them and the template points at them.

use serde_json::{Value, json};

use crate::PlanError;
use crate::plan::ReleasePlan;
use crate::resolve::{RegionRelease, releases};

/// A CodePipeline action configuration value holds at most this many characters.
pub const MAX_CONFIGURATION_VALUE: usize = 1000;

/// The artifact bucket the handsoff stack creates in each region (infra/template.yaml).
fn artifact_bucket(region: &str) -> Value {
    json!({"Fn::Sub": format!("handsoff-artifacts-${{AWS::AccountId}}-{region}")})
}

fn artifact_bucket_arn(region: &str) -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::handsoff-artifacts-${{AWS::AccountId}}-{region}")})
}

/// This pipeline's objects in a region's artifact bucket (every team's pipeline shares it):
/// CodePipeline keys artifacts under the pipeline's name (its first 20 characters), and the
/// build packages the service's code under `<service>/`.
fn artifact_objects_arn(region: &str, service: &str) -> Value {
    let prefix: String = service.chars().take(20).collect();
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::handsoff-artifacts-${{AWS::AccountId}}-{region}/{prefix}*")})
}

fn state_machine_arn(region: &str, name: &str) -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:states:{region}:${{AWS::AccountId}}:stateMachine:{name}")})
}

fn executions_arn(region: &str, name: &str) -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:states:{region}:${{AWS::AccountId}}:execution:{name}:*")})
}

fn stack_arn(region: &str, stack: &str) -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:cloudformation:{region}:${{AWS::AccountId}}:stack/{stack}/*")})
}

/// The file (in the source) holding a region's `safe-region` input.
pub fn input_path(plan: &ReleasePlan, wave: &str, region: &str) -> String {
    format!(
        "{}/{wave}.{region}.json",
        plan.handsoff.inputs_dir.trim_end_matches('/')
    )
}

/// Each region's `safe-region` input: (path in the source, pretty JSON).
pub fn inputs(plan: &ReleasePlan) -> Result<Vec<(String, String)>, PlanError> {
    Ok(releases(plan)?
        .iter()
        .map(|release| {
            let text = serde_json::to_string_pretty(&handsoff::json::sorted(&release.input)).unwrap_or_default();
            (input_path(plan, &release.wave, &release.region), format!("{text}\n"))
        })
        .collect())
}

/// The pipeline's template, as a JSON value.
pub fn template(plan: &ReleasePlan) -> Result<Value, PlanError> {
    let releases = releases(plan)?;
    let regions = plan.regions();
    let lambda = plan.lambda();
    let mut stages = vec![source_stage(plan), build_stage()];
    for stage in &plan.pre_production {
        let region = stage.region.clone().unwrap_or_else(|| plan.home_region.clone());
        let stack = plan.stage_stack(stage);
        let mut actions = vec![deploy_action(plan, "Deploy", &region, &stack)];
        if stage.validate {
            let input = json!({"pipeline": plan.pipeline(), "stage": stage.name, "vars": stage.vars}).to_string();
            if input.len() > MAX_CONFIGURATION_VALUE {
                return Err(PlanError::new(
                    format!("pre_production ({}).vars", stage.name),
                    format!(
                        "the validation input is {} characters; CodePipeline holds at most {MAX_CONFIGURATION_VALUE}",
                        input.len()
                    ),
                ));
            }
            actions.push(json!({
                "Name": "Validate",
                "RunOrder": 2,
                "Region": region,
                "ActionTypeId": {"Category": "Invoke", "Owner": "AWS", "Provider": "StepFunctions", "Version": "1"},
                "Configuration": {
                    "StateMachineArn": state_machine_arn(&region, &plan.handsoff.post_stage_validation_state_machine),
                    "InputType": "Literal",
                    "Input": input,
                },
            }));
        }
        stages.push(json!({"Name": stage.name, "Actions": actions}));
    }
    for (index, wave) in plan.waves.iter().enumerate() {
        let name = wave.name_at(index);
        let mut actions = Vec::new();
        for release in releases.iter().filter(|release| release.wave_index == index) {
            actions.push(deploy_action(
                plan,
                &format!("Deploy-{}", release.region),
                &release.region,
                &lambda.stack.name,
            ));
            actions.push(release_action(plan, release));
        }
        stages.push(json!({"Name": name, "Actions": actions}));
    }
    let artifact_stores: Vec<Value> = regions
        .iter()
        .map(|region| json!({"Region": region, "ArtifactStore": {"Type": "S3", "Location": artifact_bucket(region)}}))
        .collect();
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "handsoff release pipeline of {} (generated by `handsoff pipeline synth` from its release plan; do not edit): {} waves over {} regions",
            plan.service,
            plan.waves.len(),
            releases.len()
        ),
        "Resources": {
            "BuildProject": build_project(plan, &regions),
            "BuildRole": build_role(plan, &regions),
            "PipelineRole": pipeline_role(plan, &regions),
            "Pipeline": {
                "Type": "AWS::CodePipeline::Pipeline",
                "Properties": {
                    "Name": plan.pipeline(),
                    "PipelineType": "V2",
                    // One release at a time: a second merge waits rather than overtaking a wave.
                    "ExecutionMode": "QUEUED",
                    "RoleArn": {"Fn::GetAtt": ["PipelineRole", "Arn"]},
                    "ArtifactStores": artifact_stores,
                    "Stages": stages,
                },
            },
        },
        "Outputs": {
            "PipelineName": {"Description": "The release pipeline", "Value": {"Ref": "Pipeline"}},
        },
    }))
}

/// The template as the text `synth` prints (and the example commits).
pub fn template_text(plan: &ReleasePlan) -> Result<String, PlanError> {
    let template = template(plan)?;
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&handsoff::json::sorted(&template)).unwrap_or_default()
    ))
}

fn source_stage(plan: &ReleasePlan) -> Value {
    json!({"Name": "Source", "Actions": [{
        "Name": "Source",
        "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection", "Version": "1"},
        "Configuration": {
            "ConnectionArn": plan.source.connection_arn,
            "FullRepositoryId": plan.source.repository,
            "BranchName": plan.source.branch,
        },
        "OutputArtifacts": [{"Name": "Source"}],
    }]})
}

fn build_stage() -> Value {
    json!({"Name": "Build", "Actions": [{
        "Name": "Build",
        "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
        "Configuration": {"ProjectName": {"Ref": "BuildProject"}},
        "InputArtifacts": [{"Name": "Source"}],
        "OutputArtifacts": [{"Name": "Built"}],
    }]})
}

/// Lambda reads a function's code from a bucket in its own region: the build packages the
/// service once per region, into that region's artifact bucket.
fn build_project(plan: &ReleasePlan, regions: &[String]) -> Value {
    let service = &plan.service;
    let mut commands = plan.build_commands();
    for region in regions {
        commands.push(format!(
            "sam package --template-file .aws-sam/build/template.yaml --region {region} --s3-bucket handsoff-artifacts-$ACCOUNT_ID-{region} --s3-prefix {service} --output-template-file packaged-{region}.yaml"
        ));
    }
    let mut spec = String::from("version: 0.2\nphases:\n  build:\n    commands:\n");
    for command in &commands {
        spec.push_str(&format!(
            "      - {}\n",
            serde_json::to_string(command).unwrap_or_default()
        ));
    }
    spec.push_str("artifacts:\n  files:\n    - packaged-*.yaml\n");
    json!({
        "Type": "AWS::CodeBuild::Project",
        "Properties": {
            "ServiceRole": {"Fn::GetAtt": ["BuildRole", "Arn"]},
            "Artifacts": {"Type": "CODEPIPELINE"},
            "EncryptionKey": {"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/s3"},
            "Environment": {
                "Type": "LINUX_CONTAINER",
                "ComputeType": "BUILD_GENERAL1_SMALL",
                "Image": plan.build.image,
                "EnvironmentVariables": [{"Name": "ACCOUNT_ID", "Type": "PLAINTEXT", "Value": {"Ref": "AWS::AccountId"}}],
            },
            "Source": {"Type": "CODEPIPELINE", "BuildSpec": spec},
        },
    })
}

fn build_role(plan: &ReleasePlan, regions: &[String]) -> Value {
    let objects: Vec<Value> = regions
        .iter()
        .map(|region| artifact_objects_arn(region, &plan.service))
        .collect();
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "build", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/codebuild/*"}},
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects},
            ]}}],
        },
    })
}

/// What the pipeline does and nothing more: its artifacts, its source connection, its build,
/// the service's stacks (deployed with the team's role), and the two state machines.
fn pipeline_role(plan: &ReleasePlan, regions: &[String]) -> Value {
    let lambda = plan.lambda();
    let mut buckets = Vec::new();
    for region in regions {
        buckets.push(artifact_bucket_arn(region));
        buckets.push(artifact_objects_arn(region, &plan.service));
    }
    let mut stacks = Vec::new();
    let mut machines = Vec::new();
    let mut executions = Vec::new();
    for stage in &plan.pre_production {
        let region = stage.region.clone().unwrap_or_else(|| plan.home_region.clone());
        let stack = plan.stage_stack(stage);
        stacks.push(stack_arn(&region, &stack));
        if stage.validate {
            machines.push(state_machine_arn(
                &region,
                &plan.handsoff.post_stage_validation_state_machine,
            ));
            executions.push(executions_arn(
                &region,
                &plan.handsoff.post_stage_validation_state_machine,
            ));
        }
    }
    for wave in &plan.waves {
        for region in &wave.regions {
            stacks.push(stack_arn(region, &lambda.stack.name));
            machines.push(state_machine_arn(region, &plan.handsoff.safe_region_state_machine));
            executions.push(executions_arn(region, &plan.handsoff.safe_region_state_machine));
        }
    }
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "pipeline", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning", "s3:GetBucketLocation"], "Resource": buckets},
                {"Effect": "Allow", "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"], "Resource": plan.source.connection_arn},
                {"Effect": "Allow", "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"], "Resource": {"Fn::GetAtt": ["BuildProject", "Arn"]}},
                {"Effect": "Allow", "Action": ["cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks",
                    "cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:DeleteChangeSet"],
                 "Resource": stacks},
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": lambda.stack.role_arn,
                 "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}},
                {"Effect": "Allow", "Action": ["states:StartExecution", "states:DescribeStateMachine"], "Resource": machines},
                // Not StopExecution: a stopped release would never roll back.
                {"Effect": "Allow", "Action": "states:DescribeExecution", "Resource": executions},
            ]}}],
        },
    })
}

fn deploy_action(plan: &ReleasePlan, name: &str, region: &str, stack: &str) -> Value {
    json!({
        "Name": name,
        "RunOrder": 1,
        "Region": region,
        "ActionTypeId": {"Category": "Deploy", "Owner": "AWS", "Provider": "CloudFormation", "Version": "1"},
        "Configuration": {
            "ActionMode": "CREATE_UPDATE",
            "StackName": stack,
            "TemplatePath": format!("Built::packaged-{region}.yaml"),
            "Capabilities": "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND",
            "RoleArn": plan.lambda().stack.role_arn,
        },
        "InputArtifacts": [{"Name": "Built"}],
    })
}

fn release_action(plan: &ReleasePlan, release: &RegionRelease) -> Value {
    json!({
        "Name": format!("Release-{}", release.region),
        "RunOrder": 2,
        "Region": release.region,
        "ActionTypeId": {"Category": "Invoke", "Owner": "AWS", "Provider": "StepFunctions", "Version": "1"},
        "Configuration": {
            "StateMachineArn": state_machine_arn(&release.region, &plan.handsoff.safe_region_state_machine),
            "ExecutionNamePrefix": release.wave,
            "InputType": "FilePath",
            "Input": input_path(plan, &release.wave, &release.region),
        },
        "InputArtifacts": [{"Name": "Source"}],
    })
}

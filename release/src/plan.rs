//! The release plan: one file that says what is deployed where, in which waves, under which
//! policy. Read strictly (YAML or JSON, each key once, unknown fields refused); every error
//! names the field path (`waves[1].regions[0]`) and what is allowed there.
//!
//! Over 400 lines: the plan's schema, one type per section, each with its checks.

use std::collections::{BTreeMap, BTreeSet};

use handsoff::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::PlanError;

/// At most this many regions in one wave: each region is two actions (deploy, release) and a
/// CodePipeline stage holds at most 50 actions.
pub const MAX_REGIONS_PER_WAVE: usize = 25;
/// Source, Build, pre-production stages and waves together: CodePipeline allows 50 stages.
pub const MAX_STAGES: usize = 50;
/// The largest one-box: about 10% of a wave's traffic is the practice; half is the most an
/// alias split can call a one-box and still compare it to a fleet.
pub const MAX_ONE_BOX_WEIGHT: f64 = 0.5;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasePlan {
    /// The service's name: the pipeline, the stacks and the decisions are named after it.
    pub service: String,
    /// Where the pipeline itself lives (and the pre-production stages, unless they say).
    pub home_region: String,
    pub target: Target,
    pub source: Source,
    #[serde(default)]
    pub build: Build,
    #[serde(default)]
    pub pre_production: Vec<PreProductionStage>,
    /// The policy every wave and region starts from (windows, alarms, bake, canary);
    /// `{region}` in any string becomes the region's name.
    pub policy: Value,
    pub waves: Vec<Wave>,
    /// The handsoff stack deployed in every region the plan names.
    #[serde(default)]
    pub handsoff: HandsoffStack,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A Lambda function behind an alias: the one-box is the alias's routing weight to the new
    /// version; the function's code comes from a CloudFormation/SAM stack per region.
    Lambda(LambdaTarget),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaTarget {
    pub function_name: String,
    pub alias: String,
    /// The share of the alias's traffic the new version gets as a one-box. Default 0.1.
    #[serde(default = "default_one_box_weight")]
    pub one_box_weight: f64,
    pub stack: ServiceStack,
}

fn default_one_box_weight() -> f64 {
    0.1
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceStack {
    /// The service's stack in each region (it updates the function's code; handsoff publishes
    /// the version and moves the alias).
    pub name: String,
    /// The role CloudFormation deploys the service's stack with (what the stack needs is the
    /// team's to grant, not handsoff's).
    pub role_arn: String,
    /// The SAM template the build packages, relative to the source root. Default template.yaml.
    #[serde(default = "default_template")]
    pub template: String,
}

fn default_template() -> String {
    "template.yaml".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A CodeConnections (CodeStar Connections) connection ARN.
    pub connection_arn: String,
    /// `owner/name`.
    pub repository: String,
    #[serde(default = "default_branch")]
    pub branch: String,
}

fn default_branch() -> String {
    "main".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Commands that build the service; they must leave `.aws-sam/build/template.yaml`, which
    /// the build then packages per region. Default: `sam build --template-file <template>`.
    #[serde(default)]
    pub commands: Option<Vec<String>>,
    #[serde(default = "default_image")]
    pub image: String,
}

impl Default for Build {
    fn default() -> Self {
        Build {
            commands: None,
            image: default_image(),
        }
    }
}

fn default_image() -> String {
    "aws/codebuild/amazonlinux-x86_64-standard:5.0".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreProductionStage {
    pub name: String,
    /// Default: the home region.
    #[serde(default)]
    pub region: Option<String>,
    /// The service's stack for this stage. Default `<stack>-<name in lower case>`.
    #[serde(default)]
    pub stack_name: Option<String>,
    /// Run the stage's validation suites after the deploy (post-stage-validation). Default true.
    #[serde(default = "yes")]
    pub validate: bool,
    /// Variables the suites read (e.g. base_url).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Wave {
    /// Default `Wave-<n>`.
    #[serde(default)]
    pub name: Option<String>,
    pub regions: Vec<String>,
    /// Minimum bakes; default by position (see [`default_bake`]).
    #[serde(default)]
    pub bake: Option<BakeTimes>,
    /// Overrides of the plan's policy for this wave (objects merge, everything else replaces).
    #[serde(default)]
    pub policy: Option<Value>,
    /// Overrides for one region of this wave, applied after the wave's.
    #[serde(default)]
    pub region_policy: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BakeTimes {
    /// After the one-box, before the canary's judgement and the promotion.
    pub one_box: HumanDuration,
    /// After the promotion, on the region's alarms, before the wave counts as done.
    pub fleet: HumanDuration,
}

/// The practice's bakes: 1 hour after every one-box; 12 hours after the first wave, then 4, 3
/// and 2 hours (and 2 for every later wave).
pub fn default_bake(wave_index: usize) -> BakeTimes {
    let fleet_hours = match wave_index {
        0 => 12,
        1 => 4,
        2 => 3,
        _ => 2,
    };
    BakeTimes {
        one_box: HumanDuration::from_secs(3_600),
        fleet: HumanDuration::from_secs(fleet_hours * 3_600),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HandsoffStack {
    /// The state machines' names in every region (the handsoff stack's names).
    #[serde(default = "default_safe_region")]
    pub safe_region_state_machine: String,
    #[serde(default = "default_post_stage")]
    pub post_stage_validation_state_machine: String,
    /// Where the inputs of each region's release are, in the source: `synth --out` writes them.
    #[serde(default = "default_inputs_dir")]
    pub inputs_dir: String,
}

impl Default for HandsoffStack {
    fn default() -> Self {
        HandsoffStack {
            safe_region_state_machine: default_safe_region(),
            post_stage_validation_state_machine: default_post_stage(),
            inputs_dir: default_inputs_dir(),
        }
    }
}

fn default_safe_region() -> String {
    "handsoff-safe-region".to_string()
}

fn default_post_stage() -> String {
    "handsoff-post-stage-validation".to_string()
}

fn default_inputs_dir() -> String {
    "handsoff/inputs".to_string()
}

impl Wave {
    pub fn name_at(&self, index: usize) -> String {
        self.name.clone().unwrap_or_else(|| format!("Wave-{}", index + 1))
    }
}

impl ReleasePlan {
    /// The build's commands, before packaging.
    pub fn build_commands(&self) -> Vec<String> {
        self.build
            .commands
            .clone()
            .unwrap_or_else(|| vec![format!("sam build --template-file {}", self.lambda().stack.template)])
    }

    /// A pre-production stage's stack: its own name, or `<stack>-<stage in lower case>`.
    pub fn stage_stack(&self, stage: &PreProductionStage) -> String {
        stage
            .stack_name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.lambda().stack.name, stage.name.to_ascii_lowercase()))
    }

    /// Reads a plan from YAML or JSON text (JSON is YAML; either way each key once).
    pub fn parse(text: &str) -> Result<ReleasePlan, PlanError> {
        let payload =
            handsoff::json::Payload::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|error| {
                PlanError::new(
                    "plan",
                    format!("not valid YAML or JSON: {}", first_line(&error.to_string())),
                )
            })?;
        let value = payload
            .into_value()
            .map_err(|message| PlanError::new("plan", message.0.trim_start_matches("payload: ").to_string()))?;
        if !value.is_object() {
            return Err(PlanError::new(
                "plan",
                "a release plan is an object: service, home_region, target, source, policy, waves",
            ));
        }
        let plan: ReleasePlan = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            let path = if path == "." || path.is_empty() {
                "plan".to_string()
            } else {
                path
            };
            PlanError::new(path, handsoff::json::without_value(&error.inner().to_string()))
        })?;
        plan.validate()?;
        Ok(plan)
    }

    pub fn lambda(&self) -> &LambdaTarget {
        match &self.target {
            Target::Lambda(lambda) => lambda,
        }
    }

    /// The pipeline's name.
    pub fn pipeline(&self) -> &str {
        &self.service
    }

    /// Every region the plan deploys to, the home region first, each once.
    pub fn regions(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut regions = Vec::new();
        let pre = self
            .pre_production
            .iter()
            .map(|stage| stage.region.clone().unwrap_or_else(|| self.home_region.clone()));
        let waves = self.waves.iter().flat_map(|wave| wave.regions.iter().cloned());
        for region in std::iter::once(self.home_region.clone()).chain(pre).chain(waves) {
            if seen.insert(region.clone()) {
                regions.push(region);
            }
        }
        regions
    }

    fn validate(&self) -> Result<(), PlanError> {
        check_name("service", &self.service, 40)?;
        check_region("home_region", &self.home_region)?;
        let lambda = self.lambda();
        check_text("target.lambda.function_name", &lambda.function_name)?;
        check_text("target.lambda.alias", &lambda.alias)?;
        if !(lambda.one_box_weight > 0.0 && lambda.one_box_weight <= MAX_ONE_BOX_WEIGHT) {
            return Err(PlanError::new(
                "target.lambda.one_box_weight",
                format!("must be above 0 and at most {MAX_ONE_BOX_WEIGHT} (a share of the alias's traffic, e.g. 0.1)"),
            ));
        }
        check_name("target.lambda.stack.name", &lambda.stack.name, 100)?;
        check_arn("target.lambda.stack.role_arn", &lambda.stack.role_arn, ":iam::")?;
        check_relative_path("target.lambda.stack.template", &lambda.stack.template)?;
        check_arn("source.connection_arn", &self.source.connection_arn, "connections:")?;
        check_name(
            "handsoff.safe_region_state_machine",
            &self.handsoff.safe_region_state_machine,
            80,
        )?;
        check_name(
            "handsoff.post_stage_validation_state_machine",
            &self.handsoff.post_stage_validation_state_machine,
            80,
        )?;
        check_relative_path("handsoff.inputs_dir", &self.handsoff.inputs_dir)?;
        if self
            .source
            .repository
            .split('/')
            .filter(|part| !part.is_empty())
            .count()
            != 2
        {
            return Err(PlanError::new("source.repository", "give `owner/name`"));
        }
        check_text("source.branch", &self.source.branch)?;
        if self.build.commands.as_ref().is_some_and(Vec::is_empty) {
            return Err(PlanError::new(
                "build.commands",
                "empty: give at least one command, e.g. `sam build`",
            ));
        }
        let mut stage_names = BTreeSet::from(["source".to_string(), "build".to_string()]);
        let mut stacks = BTreeSet::new();
        for (index, stage) in self.pre_production.iter().enumerate() {
            let path = format!("pre_production[{index}]");
            check_name(&format!("{path}.name"), &stage.name, 100)?;
            // Case aside: `Beta` and `BETA` would deploy the same `<stack>-beta`.
            if !stage_names.insert(stage.name.to_ascii_lowercase()) {
                return Err(PlanError::new(
                    format!("{path}.name"),
                    format!("`{}` is already a stage's name", stage.name),
                ));
            }
            let stack = self.stage_stack(stage);
            check_name(&format!("{path}.stack_name"), &stack, 128)?;
            if stack == lambda.stack.name || !stacks.insert(stack.clone()) {
                return Err(PlanError::new(
                    format!("{path}.stack_name"),
                    format!("stack `{stack}` is already another stage's: each stage deploys a stack of its own"),
                ));
            }
            if let Some(region) = &stage.region {
                check_region(&format!("{path}.region"), region)?;
            }
            if let Some(stack) = &stage.stack_name {
                check_name(&format!("{path}.stack_name"), stack, 100)?;
            }
        }
        if self.waves.is_empty() {
            return Err(PlanError::new(
                "waves",
                "empty: give at least one wave, e.g. [{\"regions\": [\"us-west-2\"]}]",
            ));
        }
        if 2 + self.pre_production.len() + self.waves.len() > MAX_STAGES {
            return Err(PlanError::new(
                "waves",
                format!(
                    "Source, Build, the pre-production stages and the waves make more than CodePipeline's {MAX_STAGES} stages"
                ),
            ));
        }
        let mut wave_regions = BTreeSet::new();
        for (index, wave) in self.waves.iter().enumerate() {
            let path = format!("waves[{index}]");
            let name = wave.name_at(index);
            // The wave names its regions' executions: prefix, '-' and a 36-character id in 80.
            check_name(&format!("{path}.name"), &name, 40)?;
            if !stage_names.insert(name.to_ascii_lowercase()) {
                return Err(PlanError::new(
                    format!("{path}.name"),
                    format!("`{name}` is already a stage's name"),
                ));
            }
            if wave.regions.is_empty() {
                return Err(PlanError::new(
                    format!("{path}.regions"),
                    "empty: a wave deploys to at least one region",
                ));
            }
            if wave.regions.len() > MAX_REGIONS_PER_WAVE {
                return Err(PlanError::new(
                    format!("{path}.regions"),
                    format!(
                        "{} regions: at most {MAX_REGIONS_PER_WAVE} per wave (two actions each, 50 per CodePipeline stage); split the wave",
                        wave.regions.len()
                    ),
                ));
            }
            for (at, region) in wave.regions.iter().enumerate() {
                check_region(&format!("{path}.regions[{at}]"), region)?;
                if !wave_regions.insert(region.clone()) {
                    return Err(PlanError::new(
                        format!("{path}.regions[{at}]"),
                        format!("{region} is already in an earlier wave: each region is deployed once per release"),
                    ));
                }
            }
            for region in wave.region_policy.keys() {
                if !wave.regions.contains(region) {
                    return Err(PlanError::new(
                        format!("{path}.region_policy.{region}"),
                        format!(
                            "{region} is not one of this wave's regions ({})",
                            wave.regions.join(", ")
                        ),
                    ));
                }
            }
            if let Some(bake) = wave.bake
                && (bake.one_box.as_secs() == 0 || bake.fleet.as_secs() == 0)
            {
                return Err(PlanError::new(
                    format!("{path}.bake"),
                    "a bake of 0 is no bake: give e.g. {one_box: 1h, fleet: 4h}",
                ));
            }
        }
        // Every region's policy must be whole and valid; the first problem names where.
        crate::resolve::releases(self).map(|_| ())
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

fn check_text(path: &str, value: &str) -> Result<(), PlanError> {
    if value.trim().is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        return Err(PlanError::new(path, "must be 1 to 256 printable characters"));
    }
    Ok(())
}

/// Names CodePipeline accepts for pipelines, stages and actions (and CloudFormation for stacks
/// when they start with a letter).
fn check_name(path: &str, value: &str, max: usize) -> Result<(), PlanError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if value.is_empty()
        || value.len() > max
        || !value.chars().all(allowed)
        || !value.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(PlanError::new(
            path,
            format!("must start with a letter and be at most {max} letters, digits and '-'"),
        ));
    }
    Ok(())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`...
pub fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let lower = |part: &&str| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase());
    let Some((number, names)) = parts.split_last() else {
        return false;
    };
    (3..=4).contains(&parts.len())
        && names[0].len() == 2
        && names.iter().all(lower)
        && (1..=2).contains(&number.len())
        && number.chars().all(|c| c.is_ascii_digit())
}

fn check_region(path: &str, value: &str) -> Result<(), PlanError> {
    if !is_region(value) {
        return Err(PlanError::new(
            path,
            "not an AWS region name (e.g. us-east-1, eu-west-2)",
        ));
    }
    Ok(())
}

/// A path inside the source: relative, no `..`, plain characters.
fn check_relative_path(path: &str, value: &str) -> Result<(), PlanError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    if value.is_empty()
        || value.len() > 200
        || value.starts_with('/')
        || !value.chars().all(plain)
        || value.split('/').any(|part| part.is_empty() || part == "..")
    {
        return Err(PlanError::new(
            path,
            "a path inside the source: relative, at most 200 letters, digits, '.', '_', '-' and '/', no `..` or empty parts",
        ));
    }
    Ok(())
}

/// One ARN, no wildcards: it is granted to the pipeline as written.
fn check_arn(path: &str, value: &str, must_contain: &str) -> Result<(), PlanError> {
    if !value.starts_with("arn:aws")
        || !value.contains(must_contain)
        || value.len() > 2048
        || value.contains(['*', '?'])
        || value.chars().any(char::is_whitespace)
    {
        return Err(PlanError::new(
            path,
            format!("not one ARN of the expected kind (arn:aws...{must_contain}..., no wildcards)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_are_recognised() {
        for good in [
            "us-east-1",
            "eu-west-2",
            "ap-southeast-4",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "useast1",
            "us--1",
            "a-b-1",
            "us-east-100",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}

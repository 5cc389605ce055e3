//! A whole release on the local stack: the synthesized pipeline of a release plan, walked stage
//! by stage the way CodePipeline runs it. Moto serves every region; the six functions run in
//! each (LocalStack::start_in_regions); each region has its state table, its alarms, its
//! `safe-region` state machine and the service (`orders-api` behind `live`, version 1).
//!
//! The walk: Source and Build are CodeBuild's and CodeConnections' (skipped here); in each wave's
//! stage every `Deploy-<region>` action ships new code to that region's `$LATEST` (what the
//! service's stack deploy does), then every `Release-<region>` action starts `safe-region` in its
//! region with its input file, all in parallel; a stage with a failed action fails, and no later
//! stage starts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use handsoff_release::{ReleasePlan, synth};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::local_stack::{LocalStack, TABLE};
use crate::release::{alias_of, create_service, lambda_in, safe_region_definition, ship_new_code};
use crate::scenarios::{Run, create_ok_alarm, create_table, put_metric};

/// The release the scenarios and the demo run (3 waves, 4 regions, bakes of seconds).
pub const PLAN: &str = include_str!("../plans/release-e2e.yaml");
pub const FUNCTION: &str = "orders-api";
pub const ALIAS: &str = "live";

/// How long one region's release may take before it counts as stuck.
const STUCK_AFTER: Duration = Duration::from_secs(300);

pub struct ReleaseWorld {
    pub stack: LocalStack,
    pub plan: ReleasePlan,
    pub template: Value,
    inputs: BTreeMap<String, Value>,
    machines: BTreeMap<String, String>,
    traffic: Arc<AtomicBool>,
    started: Instant,
}

/// What happened to one stage of the pipeline.
#[derive(Debug, Clone)]
pub struct StageRun {
    pub name: String,
    /// `Succeeded`, `Failed`, or `NotStarted` (an earlier stage failed).
    pub status: String,
    pub regions: Vec<RegionRun>,
}

#[derive(Debug, Clone)]
pub struct RegionRun {
    pub region: String,
    pub run: Run,
    /// Seconds since the release began, when this region's execution started.
    pub started_at: f64,
}

/// The whole release, stage by stage.
#[derive(Debug, Clone)]
pub struct Release {
    pub stages: Vec<StageRun>,
}

impl Release {
    pub fn stage(&self, name: &str) -> &StageRun {
        self.stages
            .iter()
            .find(|stage| stage.name == name)
            .unwrap_or_else(|| panic!("no stage {name}"))
    }

    pub fn region(&self, region: &str) -> Option<&RegionRun> {
        self.stages
            .iter()
            .flat_map(|stage| stage.regions.iter())
            .find(|run| run.region == region)
    }

    /// The release as a person follows it: each stage, each region's decisions, the outcome.
    pub fn timeline(&self) -> String {
        let mut out = String::new();
        for stage in &self.stages {
            let _ = writeln!(
                out,
                "{}: {}",
                stage.name,
                stage.status.to_lowercase().replace("notstarted", "never started")
            );
            for region in &stage.regions {
                let _ = writeln!(out, "  {} (started +{:.0}s)", region.region, region.started_at);
                for line in region.run.timeline().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        out
    }
}

impl ReleaseWorld {
    /// The local stack in every region of the plan, each with the service on version 1.
    pub async fn prepare() -> Result<ReleaseWorld, String> {
        let plan = ReleasePlan::parse(PLAN).map_err(|error| error.to_string())?;
        let regions = plan.regions();
        let region_names: Vec<&str> = regions.iter().map(String::as_str).collect();
        let stack = LocalStack::start_in_regions(&region_names);
        let config = stack.sdk_config();
        let service_role = stack.aws.moto.create_iam_role("orders-api");
        let machine_role = stack.aws.moto.create_iam_role("handsoff-state-machines");
        let mut machines = BTreeMap::new();
        for region in &regions {
            let region_config = in_region(&config, region);
            create_table(&aws_sdk_dynamodb::Client::new(&region_config)).await?;
            let cloudwatch = aws_sdk_cloudwatch::Client::new(&region_config);
            for alarm in [
                format!("orders-{region}-high-sev"),
                format!("orders-{region}-onebox-faults"),
            ] {
                create_ok_alarm(&cloudwatch, &alarm).await?;
            }
            create_service(&lambda_in(&config, region), &service_role, FUNCTION, ALIAS).await?;
            let created = aws_sdk_sfn::Client::new(&region_config)
                .create_state_machine()
                .name(&plan.handsoff.safe_region_state_machine)
                .definition(safe_region_definition(region))
                .role_arn(&machine_role)
                .send()
                .await
                .map_err(|error| format!("CreateStateMachine {region}: {error:?}"))?;
            machines.insert(region.clone(), created.state_machine_arn().to_string());
        }
        let template = synth::template(&plan).map_err(|error| error.to_string())?;
        let inputs = synth::inputs(&plan)
            .map_err(|error| error.to_string())?
            .into_iter()
            .map(|(path, text)| (path, serde_json::from_str(&text).unwrap_or_default()))
            .collect();
        Ok(ReleaseWorld {
            stack,
            plan,
            template,
            inputs,
            machines,
            traffic: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
        })
    }

    /// Real-looking traffic in every region: the last five minutes of the alias's per-version
    /// metrics (version 2, the one the release publishes, with five times the errors in
    /// `bad_region`), and invocations of the alias every 2 s for the bakes' floors.
    pub async fn serve_traffic(&self, bad_region: Option<&str>) -> Result<(), String> {
        let config = self.stack.sdk_config();
        let now = Timestamp::now();
        let resource = format!("{FUNCTION}:{ALIAS}");
        for region in self.plan.regions() {
            let cloudwatch = aws_sdk_cloudwatch::Client::new(&in_region(&config, &region));
            let new_errors = if bad_region == Some(region.as_str()) {
                100.0
            } else {
                20.0
            };
            for minutes_ago in 1..=5 {
                let at = now - SignedDuration::from_mins(minutes_ago);
                for (version, requests, errors) in [("1", 4000.0, 40.0), ("2", 2000.0, new_errors)] {
                    let dimensions = [
                        ("FunctionName", FUNCTION),
                        ("Resource", resource.as_str()),
                        ("ExecutedVersion", version),
                    ];
                    for (metric, value) in [
                        ("Invocations", requests),
                        ("Errors", errors),
                        ("Throttles", 0.0),
                        ("Duration", 120.0),
                    ] {
                        put_metric(&cloudwatch, "AWS/Lambda", metric, &dimensions, value, at).await?;
                    }
                }
            }
        }
        self.traffic.store(true, Ordering::SeqCst);
        let clients = self
            .plan
            .regions()
            .iter()
            .map(|region| aws_sdk_cloudwatch::Client::new(&in_region(&config, region)))
            .collect();
        crate::scenarios::keep_invoking(clients, Arc::clone(&self.traffic));
        Ok(())
    }

    /// Walks the synthesized pipeline's stages in order, as CodePipeline would.
    pub async fn release(&self) -> Result<Release, String> {
        let config = self.stack.sdk_config();
        let stages = self.template["Resources"]["Pipeline"]["Properties"]["Stages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut runs = Vec::new();
        let mut failed = false;
        for stage in stages {
            let name = stage["Name"].as_str().unwrap_or_default().to_string();
            let actions = stage["Actions"].as_array().cloned().unwrap_or_default();
            let releases: Vec<&Value> = actions
                .iter()
                .filter(|action| action["ActionTypeId"]["Provider"] == "StepFunctions")
                .collect();
            if releases.is_empty() {
                continue; // Source and Build: CodeConnections' and CodeBuild's, not the local stack's.
            }
            if failed {
                runs.push(StageRun {
                    name,
                    status: "NotStarted".into(),
                    regions: Vec::new(),
                });
                continue;
            }
            for action in actions
                .iter()
                .filter(|action| action["ActionTypeId"]["Provider"] == "CloudFormation")
            {
                let region = action["Region"].as_str().unwrap_or_default();
                ship_new_code(&lambda_in(&config, region), FUNCTION).await?;
            }
            let mut started = Vec::new();
            for action in &releases {
                let region = action["Region"].as_str().unwrap_or_default().to_string();
                let path = action["Configuration"]["Input"].as_str().unwrap_or_default();
                let input = self
                    .inputs
                    .get(path)
                    .ok_or_else(|| format!("{name}: no input file {path}"))?;
                let machine = self
                    .machines
                    .get(&region)
                    .ok_or_else(|| format!("no safe-region in {region}"))?;
                let sfn = aws_sdk_sfn::Client::new(&in_region(&config, &region));
                // CodePipeline names the execution PREFIX-<action execution id>.
                let prefix = action["Configuration"]["ExecutionNamePrefix"]
                    .as_str()
                    .unwrap_or("release");
                let execution = sfn
                    .start_execution()
                    .state_machine_arn(machine)
                    .name(format!("{prefix}-{}", uuid_like(&region)))
                    .input(input.to_string())
                    .send()
                    .await
                    .map_err(|error| format!("StartExecution {region}: {error:?}"))?;
                started.push((
                    region,
                    sfn,
                    execution.execution_arn().to_string(),
                    self.started.elapsed().as_secs_f64(),
                ));
            }
            let mut regions = Vec::new();
            for (region, sfn, execution, started_at) in started {
                let run = crate::scenarios::finish(&sfn, &execution, STUCK_AFTER).await?;
                regions.push(RegionRun {
                    region,
                    run,
                    started_at,
                });
            }
            let ok = regions.iter().all(|region| region.run.status == "SUCCEEDED");
            failed = !ok;
            runs.push(StageRun {
                name,
                status: if ok { "Succeeded".into() } else { "Failed".into() },
                regions,
            });
        }
        Ok(Release { stages: runs })
    }

    /// Where the alias points in `region`.
    pub async fn alias(&self, region: &str) -> Result<(String, Option<(String, f64)>), String> {
        alias_of(&lambda_in(&self.stack.sdk_config(), region), FUNCTION, ALIAS).await
    }

    /// The alarm blocker of `region`, asked about `stage` as safe-region asks it.
    pub fn alarm_blocker_says(&self, region: &str, stage: &str) -> Result<Value, (String, String)> {
        let input = self
            .inputs
            .values()
            .find(|input| input["region"] == region)
            .cloned()
            .unwrap_or_default();
        let payload = serde_json::json!({"policy": input["policy"], "context": {"pipeline": self.plan.pipeline(), "stage": stage}});
        let function = format!("arn:aws:lambda:{region}:123456789012:function:alarm-blocker");
        match self.stack.invoke(&function, &payload) {
            crate::Answer::Ok(decision) => Ok(decision),
            crate::Answer::Error { error_type, message } => Err((error_type, message)),
        }
    }

    /// The table every region keeps its records in.
    pub fn table(&self) -> &'static str {
        TABLE
    }
}

impl Drop for ReleaseWorld {
    fn drop(&mut self) {
        self.traffic.store(false, Ordering::SeqCst);
    }
}

/// The same endpoint, another region.
fn in_region(config: &aws_config::SdkConfig, region: &str) -> aws_config::SdkConfig {
    config
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

/// A unique enough execution id for one run of the harness.
fn uuid_like(region: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("{region}-{nanos}")
}

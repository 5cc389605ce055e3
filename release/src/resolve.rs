//! What each region of each wave runs: the plan's policy, then the wave's overrides, then the
//! region's (objects merge key by key, anything else replaces, `null` removes), `{region}`
//! filled in, bake times set, and the result checked as the gates will check it.

use handsoff::policy::Policy;
use serde_json::{Map, Value, json};

use crate::PlanError;
use crate::plan::{BakeTimes, ReleasePlan, default_bake};

/// One region's release: the state machine input and what the schedule needs.
#[derive(Debug, Clone)]
pub struct RegionRelease {
    pub wave_index: usize,
    pub wave: String,
    pub region: String,
    pub bake: BakeTimes,
    /// The one-box phase's policy, as checked.
    pub policy: Policy,
    /// The input of `safe-region` in this region.
    pub input: Value,
}

/// Every region's release, wave by wave; the first invalid one is an error naming it.
pub fn releases(plan: &ReleasePlan) -> Result<Vec<RegionRelease>, PlanError> {
    if !plan.policy.is_object() {
        return Err(PlanError::new(
            "policy",
            "an object of sections: windows, alarms, bake, canary",
        ));
    }
    let mut all = Vec::new();
    for (wave_index, wave) in plan.waves.iter().enumerate() {
        let mut wave_policy = plan.policy.clone();
        if let Some(over) = &wave.policy {
            if !over.is_object() {
                return Err(PlanError::new(
                    format!("waves[{wave_index}].policy"),
                    "an object of the sections to override",
                ));
            }
            merge(&mut wave_policy, over);
        }
        for region in &wave.regions {
            let mut policy = wave_policy.clone();
            if let Some(over) = wave.region_policy.get(region) {
                if !over.is_object() {
                    return Err(PlanError::new(
                        format!("waves[{wave_index}].region_policy.{region}"),
                        "an object of the sections to override",
                    ));
                }
                merge(&mut policy, over);
            }
            fill_region(&mut policy, region);
            let bake = wave.bake.unwrap_or_else(|| default_bake(wave_index));
            let at = format!("waves[{wave_index}] ({region})");
            all.push(region_release(
                plan,
                wave_index,
                &wave.name_at(wave_index),
                region,
                bake,
                policy,
                &at,
            )?);
        }
    }
    Ok(all)
}

fn region_release(
    plan: &ReleasePlan,
    wave_index: usize,
    wave: &str,
    region: &str,
    bake: BakeTimes,
    mut policy: Value,
    at: &str,
) -> Result<RegionRelease, PlanError> {
    let lambda = plan.lambda();
    let sections = policy
        .as_object_mut()
        .ok_or_else(|| PlanError::new(at, "the policy is not an object"))?;
    for (section, why) in [
        (
            "windows",
            "the time-window gate runs before every region: give `windows`",
        ),
        (
            "alarms",
            "the alarm blocker runs before every region: give `alarms.watch`",
        ),
    ] {
        if !sections.contains_key(section) {
            return Err(PlanError::new(
                format!("{at}: policy.{section}"),
                format!("missing: {why}"),
            ));
        }
    }
    if sections.contains_key("rollback") {
        return Err(PlanError::new(
            format!("{at}: policy.rollback"),
            "not in a release plan: the rollback puts the target's alias back on the version it served before, and safe-region builds it",
        ));
    }
    // The time-window gate waits for the next opening at most this long unless the plan says:
    // a region never waits out a long freeze inside one pipeline run (it blocks, and the next
    // run goes out when the window opens).
    if let Some(windows) = sections.get_mut("windows").and_then(Value::as_object_mut) {
        windows
            .entry("max_wait")
            .or_insert_with(|| Value::String(DEFAULT_WINDOW_MAX_WAIT.to_string()));
    }
    let mut one_box_bake = sections.remove("bake").unwrap_or_else(|| json!({}));
    let Some(bake_section) = one_box_bake.as_object_mut() else {
        return Err(PlanError::new(
            format!("{at}: policy.bake"),
            "an object (min_datapoints, alarms, poll_interval)",
        ));
    };
    let has = |key: &str| {
        bake_section
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|list| !list.is_empty())
    };
    if !has("min_datapoints") && !has("alarms") {
        return Err(PlanError::new(
            format!("{at}: policy.bake"),
            "a bake needs evidence, not only time: give `min_datapoints` (traffic floors) or `alarms` (the one-box's own alarms), or both",
        ));
    }
    if bake_section.contains_key("duration") {
        return Err(PlanError::new(
            format!("{at}: policy.bake.duration"),
            "set by the wave's `bake` ({one_box: 1h, fleet: 4h}), not in the policy",
        ));
    }
    let mut fleet_bake = bake_section.clone();
    bake_section.insert("duration".into(), Value::String(bake.one_box.to_string()));
    fleet_bake.insert("duration".into(), Value::String(bake.fleet.to_string()));
    // After the promotion the whole region is the new version: its blockers' alarms (the
    // aggregate alarm) are what the fleet bake watches, with the one-box's own.
    let mut fleet_alarms = fleet_bake
        .get("alarms")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(watch) = sections
        .get("alarms")
        .and_then(|alarms| alarms.get("watch"))
        .and_then(Value::as_array)
    {
        fleet_alarms.extend(watch.iter().cloned());
    }
    fleet_bake.insert("alarms".into(), Value::Array(fleet_alarms));
    sections.insert("bake".into(), one_box_bake);
    let canary = sections.entry("canary").or_insert_with(|| json!({}));
    if let Some(canary) = canary.as_object_mut() {
        match canary.get("lambda_alias") {
            None if !canary.contains_key("pair") => {
                canary.insert(
                    "lambda_alias".into(),
                    json!({"function_name": lambda.function_name, "alias": lambda.alias}),
                );
            }
            Some(judged)
                if judged["function_name"] != lambda.function_name.as_str()
                    || judged["alias"] != lambda.alias.as_str() =>
            {
                return Err(PlanError::new(
                    format!("{at}: policy.canary.lambda_alias"),
                    format!(
                        "the canary must judge the alias this release moves ({}:{}); leave `lambda_alias` out to judge it by default",
                        lambda.function_name, lambda.alias
                    ),
                ));
            }
            _ => {}
        }
    }
    let checked = Policy::from_value(policy.clone()).map_err(|error| within(at, "policy", error))?;
    let fleet_policy = json!({"bake": Value::Object(fleet_bake)});
    let fleet = Policy::from_value(fleet_policy.clone()).map_err(|error| within(at, "fleet_policy", error))?;
    check_bounds(at, &checked, &fleet)?;
    let input = json!({
        "pipeline": plan.pipeline(),
        "stage": wave,
        "region": region,
        "target": {
            "function_name": lambda.function_name,
            "alias": lambda.alias,
            "one_box_weight": lambda.one_box_weight,
        },
        "policy": policy,
        "fleet_policy": fleet_policy,
    });
    Ok(RegionRelease {
        wave_index,
        wave: wave.to_string(),
        region: region.to_string(),
        bake,
        policy: checked,
        input,
    })
}

/// A region's release waits on its window at most this long unless the plan says.
pub const DEFAULT_WINDOW_MAX_WAIT: &str = "3d";
/// The longest a region's release may run, every wait and bake at its longest: one pipeline
/// action holds one region's release from start to end, and CodePipeline's actions time out.
pub const MAX_REGION_RUN_SECS: u64 = 7 * 86_400;
/// Polls (a gate call and a wait, about ten history events each) one execution may make: Step
/// Functions ends an execution at 25,000 history events, with no chance to roll back.
pub const MAX_POLLS: u64 = 2_000;

/// The longest run and the most polls a region's release can take stay inside Step
/// Functions' and CodePipeline's limits.
fn check_bounds(at: &str, policy: &Policy, fleet: &Policy) -> Result<(), PlanError> {
    let (Some(one_box), Some(fleet), Some(windows), Some(alarms)) =
        (&policy.bake, &fleet.bake, &policy.windows, &policy.alarms)
    else {
        return Err(PlanError::new(at, "windows, alarms and both bakes are needed"));
    };
    let window_wait = windows.max_wait.map(|wait| wait.as_secs()).unwrap_or(3 * 86_400);
    let alarm_wait = match alarms.when_blocked {
        handsoff::alarms::WhenBlocked::Wait => alarms.max_wait.as_secs(),
        handsoff::alarms::WhenBlocked::Fail => 0,
    };
    let canary_looks = policy
        .canary
        .as_ref()
        .map(|canary| 6 * canary.period.as_secs())
        .unwrap_or(0);
    let longest =
        window_wait + alarm_wait + one_box.max_duration().as_secs() + fleet.max_duration().as_secs() + canary_looks;
    if longest > MAX_REGION_RUN_SECS {
        return Err(PlanError::new(
            format!("{at}: policy"),
            format!(
                "a region's release could run {} (windows.max_wait {} + alarms.max_wait {} + the bakes' max_duration {} and {} + the canary's looks): keep it within 7 days",
                crate::schedule::span(longest),
                crate::schedule::span(window_wait),
                crate::schedule::span(alarm_wait),
                crate::schedule::span(one_box.max_duration().as_secs()),
                crate::schedule::span(fleet.max_duration().as_secs()),
            ),
        ));
    }
    let polls = |every: u64, longest: u64| longest / every.max(1);
    let alarm_polls = if alarm_wait > 0 {
        polls(alarms.poll_interval.as_secs(), alarm_wait)
    } else {
        0
    };
    let total = polls(one_box.poll_interval.as_secs(), one_box.max_duration().as_secs())
        + polls(fleet.poll_interval.as_secs(), fleet.max_duration().as_secs())
        + alarm_polls;
    if total > MAX_POLLS {
        return Err(PlanError::new(
            format!("{at}: policy.bake.poll_interval"),
            format!(
                "the bakes and the alarm wait could poll {total} times, past the {MAX_POLLS} an execution's history holds: poll less often (e.g. 5m) or bake less long"
            ),
        ));
    }
    Ok(())
}

/// A policy error seen from the plan: `waves[1] (us-west-2): policy.alarms.watch[0].names`.
fn within(at: &str, document: &str, error: handsoff::policy::PolicyError) -> PlanError {
    let field = if error.path == "policy" {
        document.to_string()
    } else {
        format!("{document}.{}", error.path)
    };
    PlanError::new(format!("{at}: {field}"), error.message)
}

/// `over` onto `base`: objects merge key by key, `null` removes the key, anything else replaces.
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                if value.is_null() {
                    base.remove(key);
                } else if let Some(existing) = base.get_mut(key) {
                    merge(existing, value);
                } else {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// `{region}` in every string becomes the region's name (alarm names, dimensions...).
fn fill_region(value: &mut Value, region: &str) {
    match value {
        Value::String(text) if text.contains("{region}") => *text = text.replace("{region}", region),
        Value::Array(items) => items.iter_mut().for_each(|item| fill_region(item, region)),
        Value::Object(map) => fill_object(map, region),
        _ => {}
    }
}

fn fill_object(map: &mut Map<String, Value>, region: &str) {
    for value in map.values_mut() {
        fill_region(value, region);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_merge_lists_replace_and_null_removes() {
        let mut base = json!({"alarms": {"watch": [{"names": ["a"]}], "max_wait": "1h"}, "canary": {"period": "1m"}});
        merge(
            &mut base,
            &json!({"alarms": {"watch": [{"names": ["b"]}]}, "canary": null}),
        );
        assert_eq!(base, json!({"alarms": {"watch": [{"names": ["b"]}], "max_wait": "1h"}}));
    }

    #[test]
    fn region_names_fill_every_string() {
        let mut value = json!({"watch": [{"names": ["orders-{region}-high-sev"]}], "n": 3});
        fill_region(&mut value, "eu-west-1");
        assert_eq!(
            value,
            json!({"watch": [{"names": ["orders-eu-west-1-high-sev"]}], "n": 3})
        );
    }
}

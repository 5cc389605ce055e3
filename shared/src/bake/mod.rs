//! Bake time (pure): wait after a stage deploys until enough time has passed AND enough real
//! traffic has exercised the new code, rolling back if a watched alarm fires meanwhile.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::alarms::{AlarmSelection, Blocker};
use crate::canary::sequential::{SequentialEvidence, SequentialVerdict};
use crate::decision::{Decision, Verdict};
use crate::duration::HumanDuration;
use crate::evidence::{BakeEvidence, FloorCount, SequentialLook};
use crate::policy::PolicyError;

pub const NAME: &str = "bake-time-waiter";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BakePolicy {
    /// Minimum bake time, e.g. 1h after a one-box, 12h after the first regional wave.
    pub duration: HumanDuration,
    /// Traffic floors: every one must be met, counted since the bake started.
    #[serde(default)]
    pub min_datapoints: Vec<TrafficFloor>,
    /// Alarms whose going to ALARM at any time during the bake means rollback.
    #[serde(default)]
    pub alarms: Vec<AlarmSelection>,
    /// How often to look. Default 5m.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: HumanDuration,
    /// When the floors are still not met after this long, fail. Default 3 × duration.
    #[serde(default)]
    pub max_duration: Option<HumanDuration>,
}

fn default_poll_interval() -> HumanDuration {
    HumanDuration::from_secs(300)
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficFloor {
    pub namespace: String,
    pub metric: String,
    #[serde(default)]
    pub dimensions: std::collections::BTreeMap<String, String>,
    /// `Sum` (default) or `SampleCount`.
    #[serde(default = "default_stat")]
    pub stat: String,
    /// At least this many since the bake started, e.g. 100 requests to the Create API.
    pub min: u64,
}

fn default_stat() -> String {
    "Sum".to_string()
}

impl BakePolicy {
    pub fn max_duration(&self) -> HumanDuration {
        self.max_duration
            .unwrap_or(HumanDuration::from_secs(self.duration.as_secs() * 3))
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.duration == HumanDuration::ZERO {
            return Err(PolicyError::new(
                "duration",
                "0s is no bake; use e.g. 1h after a one-box",
            ));
        }
        if self.max_duration() < self.duration {
            return Err(PolicyError::new(
                "max_duration",
                format!("`{}` is shorter than duration `{}`", self.max_duration(), self.duration),
            ));
        }
        if self.poll_interval.as_secs() < 10 {
            return Err(PolicyError::new("poll_interval", "poll every 10s or more"));
        }
        for (index, floor) in self.min_datapoints.iter().enumerate() {
            crate::statistic::check_count(&floor.stat)
                .map_err(|message| PolicyError::new(format!("min_datapoints[{index}].stat"), message))?;
            if floor.min == 0 {
                return Err(PolicyError::new(
                    format!("min_datapoints[{index}].min"),
                    "must be at least 1",
                ));
            }
        }
        for (index, selection) in self.alarms.iter().enumerate() {
            selection
                .validate()
                .map_err(|error| error.within(&format!("alarms[{index}]")))?;
        }
        Ok(())
    }
}

/// An alarm that went to ALARM during the bake (from its history, or its state now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlarmEpisode {
    pub alarm: String,
    pub at: Option<Timestamp>,
    pub summary: String,
}

/// Elapsed time as a person reads it: whole minutes for bakes of ten minutes or more, seconds
/// for shorter ones (a 10s bake is not "baked 0s").
fn shown(elapsed: SignedDuration, of: HumanDuration) -> String {
    let secs = u64::try_from(elapsed.as_secs().max(0)).unwrap_or(0);
    let secs = if of.as_secs() >= 600 { secs / 60 * 60 } else { secs };
    HumanDuration::from_secs(secs).to_string()
}

/// The poll's decision: rollback on any alarm episode; block at once when a watched alarm name
/// or prefix finds nothing (the blocker's rule: a typo never passes); complete when time and
/// every floor are met and every watched alarm is OK now; block at max_duration without them;
/// otherwise wait, with progress. `unproven` are the watched alarms' blockers other than ALARM
/// (not found, INSUFFICIENT_DATA, an unknown state), from [`crate::alarms::blockers_of`].
pub fn decide(
    policy: &BakePolicy,
    started_at: Timestamp,
    now: Timestamp,
    counts: &[u64],
    episodes: &[AlarmEpisode],
    unproven: &[Blocker],
    sequential: Option<&SequentialEvidence>,
) -> Decision {
    let elapsed = now.duration_since(started_at);
    let duration = SignedDuration::from_secs(policy.duration.as_secs_i64());
    let floors: Vec<FloorCount> = policy
        .min_datapoints
        .iter()
        .zip(counts)
        .map(|(floor, count)| FloorCount {
            metric: floor.metric.clone(),
            namespace: floor.namespace.clone(),
            dimensions: floor.dimensions.clone(),
            count: *count,
            min: floor.min,
        })
        .collect();
    let time_fraction = (elapsed.as_secs_f64() / duration.as_secs_f64()).clamp(0.0, 1.0);
    let floor_fraction = policy
        .min_datapoints
        .iter()
        .zip(counts)
        .map(|(floor, count)| (*count as f64 / floor.min as f64).min(1.0))
        .fold(1.0f64, f64::min);
    let percent = (time_fraction.min(floor_fraction) * 100.0).floor() as i32;
    let traffic: Vec<String> = policy
        .min_datapoints
        .iter()
        .zip(counts)
        .map(|(floor, count)| format!("{count}/{} {}", floor.min, floor.metric))
        .collect();
    // Past its time, a bake says so ("baked the full 10s"), never "baked 19s of 10s".
    let so_far = shown(elapsed, policy.duration);
    let baked = if elapsed < duration {
        format!("baked {so_far} of {}", policy.duration)
    } else if so_far == policy.duration.to_string() {
        format!("baked the full {}", policy.duration)
    } else {
        format!("baked the full {} ({so_far} so far)", policy.duration)
    };
    let progress = if traffic.is_empty() {
        baked
    } else {
        format!("{baked}; {}", traffic.join(", "))
    };
    // An e-value can be astronomically large: a person reads 1.6e158, not 159 digits.
    let readable = |value: f64| {
        if value.abs() < 1e6 {
            format!("{value:.0}")
        } else {
            format!("{value:.2e}")
        }
    };
    let evidence = BakeEvidence {
        started_at,
        elapsed_seconds: elapsed.as_secs(),
        duration: policy.duration,
        max_duration: policy.max_duration(),
        floors,
        alarm_episodes: episodes.to_vec(),
        percent_complete: percent,
        alarms_not_ok: unproven.to_vec(),
        sequential: sequential.map(|judged| SequentialLook {
            judged: judged.clone(),
            target: None,
        }),
        get_metric_data_calls: 0,
        execution_id: None,
        alarm_calls: 0,
    };
    let worse = sequential
        .filter(|judged| judged.verdict == SequentialVerdict::Fail)
        .map(|judged| {
            let ratio = judged.rate_ratio.map_or("infinitely".to_string(), |ratio| format!("{ratio:.1}x"));
            format!(
                "the one-box's error rate is {ratio} the fleet's ({}/{} vs {}/{} since the bake began): e-value {} reached 1/alpha = {:.0} after {} looks",
                judged.canary.errors,
                judged.canary.requests,
                judged.baseline.errors,
                judged.baseline.requests,
                readable(judged.e_value),
                judged.threshold,
                judged.looks
            )
        });
    if !episodes.is_empty() || worse.is_some() {
        let what: Vec<String> = episodes
            .iter()
            .map(|episode| match episode.at {
                Some(at) => format!("{} went to ALARM at {at}: {}", episode.alarm, episode.summary),
                None => format!("{} is in ALARM: {}", episode.alarm, episode.summary),
            })
            .chain(worse)
            .collect();
        let mut decision = Decision::new(
            NAME,
            Verdict::Rollback,
            format!("roll back: {} ({progress})", what.join("; ")),
        );
        decision.reasons.extend(what);
        return decision.with_evidence(evidence);
    }
    let missing: Vec<String> = unproven
        .iter()
        .filter(|blocker| blocker.is_missing())
        .map(Blocker::describe)
        .collect();
    if !missing.is_empty() {
        let mut decision = Decision::new(
            NAME,
            Verdict::Block,
            format!(
                "the bake cannot watch its alarms: {}; fix bake.alarms (a bake that watches nothing proves nothing)",
                missing.join("; ")
            ),
        );
        decision.reasons.extend(missing);
        return decision.with_evidence(evidence);
    }
    let not_ok: Vec<String> = unproven.iter().map(Blocker::describe).collect();
    let floors_met = floor_fraction >= 1.0;
    if elapsed >= duration && floors_met && not_ok.is_empty() {
        return Decision::new(NAME, Verdict::Proceed, format!("bake complete: {progress}"))
            .with_evidence(evidence)
            .with_output("percent_complete", "100");
    }
    if elapsed >= SignedDuration::from_secs(policy.max_duration().as_secs_i64()) {
        let short: Vec<String> = policy
            .min_datapoints
            .iter()
            .zip(counts)
            .filter(|(floor, count)| **count < floor.min)
            .map(|(floor, count)| match count {
                0 => format!(
                    "no {} datapoint at all (check its namespace, dimensions and statistic)",
                    floor.metric
                ),
                _ => format!("only {count} of {} {} arrived", floor.min, floor.metric),
            })
            .collect();
        let mut missed = Vec::new();
        if !short.is_empty() {
            missed.push(format!(
                "without its traffic floor: {}; send synthetic traffic (a validation suite in traffic mode) or lower min_datapoints",
                short.join(", ")
            ));
        }
        if !not_ok.is_empty() {
            missed.push(format!(
                "with watched alarms not OK, so they never showed the stage healthy: {}",
                not_ok.join("; ")
            ));
        }
        let reason = format!(
            "bake reached max_duration ({}) {}",
            policy.max_duration(),
            missed.join("; and ")
        );
        let mut decision = Decision::new(NAME, Verdict::Block, reason);
        decision.reasons.extend(not_ok);
        return decision.with_evidence(evidence);
    }
    let progress = if elapsed >= duration && floors_met {
        format!("{progress}; waiting for {} to be OK", not_ok.join("; "))
    } else {
        progress
    };
    let next = now
        .checked_add(SignedDuration::from_secs(policy.poll_interval.as_secs_i64()))
        .ok();
    let mut decision = Decision::new(NAME, Verdict::Wait, progress)
        .waiting_until(next)
        .with_evidence(evidence);
    decision.progress = Some(percent);
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BakePolicy {
        serde_json::from_str(
            r#"{"duration": "1h", "min_datapoints": [{"namespace": "AWS/Lambda", "metric": "Invocations", "dimensions": {"FunctionName": "orders"}, "min": 100}],
                "alarms": [{"names": ["orders-high-sev"]}], "max_duration": "3h"}"#,
        )
        .unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    const START: &str = "2026-11-24T17:00:00Z";

    #[test]
    fn short_bakes_show_seconds_and_long_ones_whole_minutes() {
        let short = BakePolicy {
            duration: HumanDuration::from_secs(30),
            ..policy()
        };
        let decision = decide(&short, at(START), at("2026-11-24T17:00:17Z"), &[73], &[], &[], None);
        assert_eq!(decision.reason(), "baked 17s of 30s; 73/100 Invocations");
        let decision = decide(&policy(), at(START), at("2026-11-24T17:42:59Z"), &[73], &[], &[], None);
        assert_eq!(decision.reason(), "baked 42m of 1h; 73/100 Invocations");
    }

    #[test]
    fn waits_with_progress_until_time_and_floors_are_met() {
        let decision = decide(&policy(), at(START), at("2026-11-24T17:42:00Z"), &[73], &[], &[], None);
        assert_eq!(decision.decision, Verdict::Wait);
        assert_eq!(decision.reason(), "baked 42m of 1h; 73/100 Invocations");
        assert_eq!(decision.progress, Some(70));
        assert_eq!(decision.wait_until, Some(at("2026-11-24T17:47:00Z")));
    }

    #[test]
    fn floors_met_before_time_still_wait_for_time() {
        let decision = decide(&policy(), at(START), at("2026-11-24T17:30:00Z"), &[500], &[], &[], None);
        assert_eq!(decision.decision, Verdict::Wait);
        assert_eq!(decision.progress, Some(50));
    }

    #[test]
    fn time_before_floors_waits_for_traffic_then_completes() {
        let waiting = decide(&policy(), at(START), at("2026-11-24T18:30:00Z"), &[99], &[], &[], None);
        assert_eq!((waiting.decision, waiting.progress), (Verdict::Wait, Some(99)));
        let done = decide(&policy(), at(START), at("2026-11-24T18:31:00Z"), &[100], &[], &[], None);
        assert_eq!(done.decision, Verdict::Proceed);
        assert_eq!(
            done.reason(),
            "bake complete: baked the full 1h (1h31m so far); 100/100 Invocations"
        );
    }

    #[test]
    fn max_duration_without_the_floor_fails_saying_what_arrived() {
        let decision = decide(&policy(), at(START), at("2026-11-24T20:00:00Z"), &[42], &[], &[], None);
        assert_eq!(decision.decision, Verdict::Block);
        assert!(
            decision.reason().contains("only 42 of 100 Invocations arrived")
                && decision.reason().contains("synthetic traffic"),
            "{}",
            decision.reason()
        );
    }

    #[test]
    fn an_alarm_episode_rolls_back_even_after_it_recovered() {
        let episode = AlarmEpisode {
            alarm: "orders-high-sev".into(),
            at: Some(at("2026-11-24T17:20:00Z")),
            summary: "Alarm updated from OK to ALARM".into(),
        };
        let decision = decide(
            &policy(),
            at(START),
            at("2026-11-24T18:30:00Z"),
            &[500],
            &[episode],
            &[],
            None,
        );
        assert_eq!(decision.decision, Verdict::Rollback);
        assert!(
            decision
                .reason()
                .starts_with("roll back: orders-high-sev went to ALARM at 2026-11-24T17:20:00Z"),
            "{}",
            decision.reason()
        );
    }
}

//! The `canary` section of a policy: what to compare, over which window, judged how.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::judge::JudgeConfig;
use crate::duration::HumanDuration;
use crate::policy::PolicyError;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryPolicy {
    /// A Lambda one-box: the alias's additional version (the canary) against its primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_alias: Option<LambdaAliasTarget>,
    /// Any canary and baseline given by metric dimensions (e.g. one ECS task against the service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<MetricPair>,
    /// One datapoint per period. Default 1m.
    #[serde(default = "default_period")]
    pub period: HumanDuration,
    /// How far back to read. Default 30m.
    #[serde(default = "default_lookback")]
    pub lookback: HumanDuration,
    /// For `pair`: the canary's expected share of requests (the alias weight is used for
    /// `lambda_alias`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_canary_share: Option<f64>,
    #[serde(default)]
    pub judge: JudgeConfig,
    /// The share of the false-rollback budget (1 − `judge.confidence`) the bake spends judging
    /// the one-box at every poll (`canary::sequential`); the final judgement gets the rest.
    /// Default 0.8; 0 turns the bake's judging off.
    #[serde(default = "super::sequential::default_sequential_share")]
    pub sequential_share: f64,
}

fn default_period() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_lookback() -> HumanDuration {
    HumanDuration::from_secs(1_800)
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaAliasTarget {
    pub function_name: String,
    pub alias: String,
    /// Statistic of `Duration` per period. Default p50.
    #[serde(default = "default_latency_stat")]
    pub latency_stat: String,
}

fn default_latency_stat() -> String {
    "p50".to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricPair {
    pub namespace: String,
    pub canary: BTreeMap<String, String>,
    pub baseline: BTreeMap<String, String>,
    pub requests: MetricSpec,
    pub errors: MetricSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<MetricSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub metric: String,
    /// CloudWatch statistic: Sum, SampleCount, Average, p50, p99, …
    pub stat: String,
    /// For `errors`: what a side with traffic but no error datapoint at all means. Default
    /// `inconclusive` (a misspelled metric or dimension finds nothing, and nothing is not
    /// health); `zero` for metrics that publish no zeros, e.g. `HTTPCode_Target_5XX_Count`.
    #[serde(default, skip_serializing_if = "WhenMissing::is_default")]
    pub when_missing: WhenMissing,
}

/// What a series with no datapoint over the whole window means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WhenMissing {
    #[default]
    Inconclusive,
    Zero,
}

impl WhenMissing {
    fn is_default(&self) -> bool {
        *self == WhenMissing::Inconclusive
    }
}

impl CanaryPolicy {
    /// The final judgement's numbers: its α is what the bake's looks left of the budget.
    pub fn final_judge_config(&self) -> JudgeConfig {
        let alpha = (1.0 - self.judge.confidence) * (1.0 - self.sequential_share);
        JudgeConfig {
            confidence: 1.0 - alpha,
            ..self.judge.clone()
        }
    }

    /// The bake's sequential test, unless `sequential_share` is 0.
    pub fn sequential_config(&self) -> Option<super::sequential::SequentialConfig> {
        (self.sequential_share > 0.0).then_some(super::sequential::SequentialConfig {
            confidence: self.judge.confidence,
            max_error_ratio: self.judge.max_error_ratio,
            sequential_share: self.sequential_share,
        })
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        match (&self.lambda_alias, &self.pair) {
            (Some(_), Some(_)) => return Err(PolicyError::new("policy", "give `lambda_alias` or `pair`, not both")),
            (None, None) => {
                return Err(PolicyError::new(
                    "policy",
                    "give `lambda_alias` ({\"function_name\", \"alias\"}) or `pair` (namespace, canary and baseline dimensions, metrics)",
                ));
            }
            _ => {}
        }
        if let Some(target) = &self.lambda_alias {
            crate::statistic::check(&target.latency_stat)
                .map_err(|message| PolicyError::new("lambda_alias.latency_stat", message))?;
        }
        if let Some(pair) = &self.pair {
            crate::statistic::check_count(&pair.requests.stat)
                .map_err(|message| PolicyError::new("pair.requests.stat", message))?;
            crate::statistic::check_count(&pair.errors.stat)
                .map_err(|message| PolicyError::new("pair.errors.stat", message))?;
            if let Some(latency) = &pair.latency {
                crate::statistic::check(&latency.stat)
                    .map_err(|message| PolicyError::new("pair.latency.stat", message))?;
            }
            if pair.canary.is_empty() || pair.baseline.is_empty() {
                return Err(PolicyError::new(
                    "pair",
                    "`canary` and `baseline` each need at least one dimension",
                ));
            }
            for (field, spec) in [("requests", Some(&pair.requests)), ("latency", pair.latency.as_ref())] {
                if spec.is_some_and(|spec| spec.when_missing != WhenMissing::Inconclusive) {
                    return Err(PolicyError::new(
                        format!("pair.{field}.when_missing"),
                        "only `errors` takes when_missing: no requests or no latency is never evidence of health",
                    ));
                }
            }
            if pair.canary == pair.baseline {
                return Err(PolicyError::new(
                    "pair.canary",
                    "the same dimensions as `baseline`: nothing would be compared",
                ));
            }
        }
        if self.period.as_secs() < 60 || !self.period.as_secs().is_multiple_of(60) {
            return Err(PolicyError::new(
                "period",
                format!("`{}` is not allowed; use whole minutes, 1m or more", self.period),
            ));
        }
        if self.lookback < self.period || self.lookback.as_secs() > 14 * 86_400 {
            return Err(PolicyError::new(
                "lookback",
                format!(
                    "`{}` is not allowed; use at least one period and at most 14d",
                    self.lookback
                ),
            ));
        }
        if let Some(share) = self.expected_canary_share
            && !(share > 0.0 && share < 1.0)
        {
            return Err(PolicyError::new(
                "expected_canary_share",
                format!("{share} is not a share; use a number between 0 and 1"),
            ));
        }
        if !(0.0..1.0).contains(&self.sequential_share) {
            return Err(PolicyError::new(
                "sequential_share",
                format!(
                    "{} is not allowed; use a share from 0 (the bake does not judge) to below 1 (the final judgement gets the rest)",
                    self.sequential_share
                ),
            ));
        }
        let probe = super::judge::JudgeInput {
            baseline: super::Sample {
                requests: 0,
                errors: 0,
                latency_ms: Vec::new(),
            },
            canary: super::Sample {
                requests: 0,
                errors: 0,
                latency_ms: Vec::new(),
            },
            expected_canary_share: None,
            config: self.judge.clone(),
        };
        probe
            .validate()
            .map_err(|error| PolicyError::new(error.path.replacen("config", "judge", 1), error.message))
    }
}

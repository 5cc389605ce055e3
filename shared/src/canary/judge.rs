//! The canary judge (pure): is the one-box worse than the fleet? Three checks (errors, latency,
//! traffic), each with its method, statistic, p-value and effect; significance at `confidence`
//! with Holm-Bonferroni across the checks; a check fails only when it is both significant and
//! beyond its effect threshold; too little data is inconclusive, with the traffic still needed.
//!
//! Over 400 lines: one statistical procedure read top to bottom (counts, tests, Holm, verdict), in
//! the order docs/canary.md derives it; split, the derivation would scatter.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::stats::{
    binomial_lower_tail, binomial_upper_tail, holm, mann_whitney_greater, median, normal_upper_quantile,
};
use crate::policy::PolicyError;

/// What one side served.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    pub requests: u64,
    pub errors: u64,
    /// One latency value per period (e.g. the per-minute p50), in milliseconds.
    #[serde(default)]
    pub latency_ms: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// 1 - the family-wise false-failure rate, e.g. 0.99.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Fail on errors only if the canary's error rate is at least this times the baseline's.
    #[serde(default = "default_max_error_ratio")]
    pub max_error_ratio: f64,
    /// Fail on latency only if the canary's median exceeds the baseline's by more than this
    /// fraction (0.2 = 20%).
    #[serde(default = "default_max_latency_increase")]
    pub max_latency_increase: f64,
    /// Fewer canary requests than this is inconclusive.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Fewer latency periods than this (on either side) is inconclusive.
    #[serde(default = "default_min_periods")]
    pub min_periods: usize,
    /// The power `needed_requests` is estimated for.
    #[serde(default = "default_power")]
    pub power: f64,
}

fn default_confidence() -> f64 {
    0.99
}
fn default_max_error_ratio() -> f64 {
    1.5
}
fn default_max_latency_increase() -> f64 {
    0.2
}
fn default_min_requests() -> u64 {
    500
}
fn default_min_periods() -> usize {
    5
}
fn default_power() -> f64 {
    0.8
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            confidence: default_confidence(),
            max_error_ratio: default_max_error_ratio(),
            max_latency_increase: default_max_latency_increase(),
            min_requests: default_min_requests(),
            min_periods: default_min_periods(),
            power: default_power(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JudgeInput {
    pub baseline: Sample,
    pub canary: Sample,
    /// The share of requests the canary should get (the alias weight), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_canary_share: Option<f64>,
    #[serde(default)]
    pub config: JudgeConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CanaryVerdict {
    Pass,
    Fail,
    Inconclusive,
    /// A check with no data to judge (no latency given).
    Skipped,
}

impl std::fmt::Display for CanaryVerdict {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            CanaryVerdict::Pass => "pass",
            CanaryVerdict::Fail => "fail",
            CanaryVerdict::Inconclusive => "inconclusive",
            CanaryVerdict::Skipped => "skipped",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Check {
    /// `errors`, `latency` or `traffic`.
    pub name: Cow<'static, str>,
    pub verdict: CanaryVerdict,
    pub method: Cow<'static, str>,
    pub p_value: Option<f64>,
    /// Significant after Holm-Bonferroni across the checks.
    pub significant: bool,
    pub statistic: Option<f64>,
    /// errors: canary rate / baseline rate; latency: canary median / baseline median - 1;
    /// traffic: observed share / expected share.
    pub effect: Option<f64>,
    pub threshold: Option<f64>,
    pub counts: CheckCounts,
    pub reason: String,
}

/// The numbers a check was run on, by check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum CheckCounts {
    Errors {
        baseline_requests: u64,
        baseline_errors: u64,
        canary_requests: u64,
        canary_errors: u64,
        baseline_error_rate: f64,
        canary_error_rate: f64,
    },
    Latency {
        baseline_periods: usize,
        canary_periods: usize,
        baseline_median_ms: Option<f64>,
        canary_median_ms: Option<f64>,
        z: Option<f64>,
    },
    Traffic {
        baseline_requests: u64,
        canary_requests: u64,
        observed_share: Option<f64>,
        expected_share: Option<f64>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Judgement {
    pub verdict: CanaryVerdict,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed_requests: Option<u64>,
    pub alpha: f64,
}

fn invalid(path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::new(path, message)
}

impl JudgeInput {
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (side, sample) in [("baseline", &self.baseline), ("canary", &self.canary)] {
            if sample.errors > sample.requests {
                return Err(invalid(
                    &format!("{side}.errors"),
                    format!(
                        "{} errors out of {} requests: errors cannot exceed requests",
                        sample.errors, sample.requests
                    ),
                ));
            }
            if let Some(index) = sample
                .latency_ms
                .iter()
                .position(|value| !value.is_finite() || *value < 0.0)
            {
                return Err(invalid(
                    &format!("{side}.latency_ms[{index}]"),
                    "must be a finite number of milliseconds, 0 or more",
                ));
            }
        }
        if let Some(share) = self.expected_canary_share
            && !(share > 0.0 && share < 1.0)
        {
            return Err(invalid(
                "expected_canary_share",
                format!("{share} is not a share; use a number between 0 and 1, e.g. 0.1"),
            ));
        }
        let config = &self.config;
        if !(config.confidence > 0.5 && config.confidence < 1.0) {
            return Err(invalid(
                "config.confidence",
                format!(
                    "{} is not allowed; use a number between 0.5 and 1, e.g. 0.99",
                    config.confidence
                ),
            ));
        }
        if !(config.max_error_ratio >= 1.0 && config.max_error_ratio.is_finite()) {
            return Err(invalid("config.max_error_ratio", "must be 1 or more, e.g. 1.5"));
        }
        if !(config.max_latency_increase >= 0.0 && config.max_latency_increase.is_finite()) {
            return Err(invalid(
                "config.max_latency_increase",
                "must be 0 or more, e.g. 0.2 for 20%",
            ));
        }
        if config.min_requests == 0 {
            return Err(invalid("config.min_requests", "must be at least 1"));
        }
        if config.min_periods < 2 {
            return Err(invalid("config.min_periods", "must be at least 2"));
        }
        if !(config.power > 0.0 && config.power < 1.0) {
            return Err(invalid("config.power", "must be between 0 and 1, e.g. 0.8"));
        }
        Ok(())
    }
}

fn rate(sample: &Sample) -> f64 {
    if sample.requests == 0 {
        0.0
    } else {
        sample.errors as f64 / sample.requests as f64
    }
}

/// Canary requests needed for an error rate `max_error_ratio` times the baseline's to be
/// detected at `alpha` with `power` (two-proportion normal approximation).
fn needed_requests(input: &JudgeInput, alpha: f64) -> Option<u64> {
    let config = &input.config;
    let (baseline, canary) = (&input.baseline, &input.canary);
    if baseline.requests == 0 {
        return None;
    }
    // With no baseline errors, assume the rate one more error would give: a floor, not zero.
    let r0 = rate(baseline).max(1.0 / (baseline.requests as f64 + 1.0));
    let r1 = (r0 * config.max_error_ratio).min(1.0);
    if r1 <= r0 {
        return None;
    }
    let k = match (canary.requests, input.expected_canary_share) {
        (0, Some(share)) => (1.0 - share) / share,
        (0, None) => 9.0,
        (n, _) => baseline.requests as f64 / n as f64,
    };
    let z_alpha = normal_upper_quantile(alpha);
    let z_beta = normal_upper_quantile(1.0 - config.power);
    let pooled = (r1 + k * r0) / (1.0 + k);
    let numerator = z_alpha * (pooled * (1.0 - pooled) * (1.0 + 1.0 / k)).sqrt()
        + z_beta * (r1 * (1.0 - r1) + r0 * (1.0 - r0) / k).sqrt();
    let n = (numerator / (r1 - r0)).powi(2).ceil();
    Some((n as u64).max(config.min_requests))
}

/// Judges a canary against its baseline. `input` must have passed `validate`.
pub fn judge(input: &JudgeInput) -> Judgement {
    let config = &input.config;
    // Rounded so that 0.99 reads back as 0.01, not 0.010000000000000009.
    let alpha = ((1.0 - config.confidence) * 1e12).round() / 1e12;
    let (baseline, canary) = (&input.baseline, &input.canary);
    let enough_requests = canary.requests >= config.min_requests;

    // errors: exact conditional binomial test, canary worse.
    let total_errors = baseline.errors + canary.errors;
    let total_requests = baseline.requests + canary.requests;
    let errors_p = (total_requests > 0 && canary.requests > 0).then(|| {
        let p = canary.requests as f64 / total_requests as f64;
        let q = baseline.requests as f64 / total_requests as f64;
        binomial_upper_tail(canary.errors, total_errors, p, q)
    });
    let error_ratio = match (rate(baseline), rate(canary)) {
        (_, 0.0) => Some(if canary.requests > 0 { 0.0 } else { f64::NAN }),
        (0.0, _) => Some(f64::INFINITY),
        (base, can) => Some(can / base),
    }
    .filter(|ratio| !ratio.is_nan());

    // latency: one-sided Mann-Whitney on the per-period values.
    let periods = (baseline.latency_ms.len(), canary.latency_ms.len());
    let has_latency = periods.0 > 0 || periods.1 > 0;
    let enough_periods = periods.0 >= config.min_periods && periods.1 >= config.min_periods;
    let latency_test = if enough_periods {
        mann_whitney_greater(&canary.latency_ms, &baseline.latency_ms)
    } else {
        None
    };
    let medians = (median(&baseline.latency_ms), median(&canary.latency_ms));
    let latency_increase = match medians {
        (Some(base), Some(can)) if base > 0.0 => Some(can / base - 1.0),
        (Some(_), Some(can)) => Some(if can > 0.0 { f64::INFINITY } else { 0.0 }),
        _ => None,
    };

    // traffic: the canary's share against the expected share.
    let observed_share = (total_requests > 0).then(|| canary.requests as f64 / total_requests as f64);
    let traffic_p = match (input.expected_canary_share, total_requests) {
        (Some(share), n) if n > 0 => Some(binomial_lower_tail(canary.requests, n, share, 1.0 - share)),
        _ => None,
    };

    // Holm-Bonferroni over the p-values there are.
    let candidates = [errors_p, latency_test.map(|test| test.p_value), traffic_p];
    let present: Vec<f64> = candidates.iter().flatten().copied().collect();
    let mut verdicts = holm(&present, alpha).into_iter();
    let significant: Vec<bool> = candidates
        .iter()
        .map(|p| p.is_some() && verdicts.next().unwrap_or(false))
        .collect();

    let errors_fail = significant[0] && error_ratio.is_some_and(|ratio| ratio >= config.max_error_ratio);
    let errors = Check {
        name: "errors".into(),
        verdict: if errors_fail && enough_requests {
            CanaryVerdict::Fail
        } else if !enough_requests {
            CanaryVerdict::Inconclusive
        } else {
            CanaryVerdict::Pass
        },
        method: "exact conditional binomial test (canary worse)".into(),
        p_value: errors_p,
        significant: significant[0],
        statistic: Some(canary.errors as f64),
        effect: error_ratio.filter(|ratio| ratio.is_finite()),
        threshold: Some(config.max_error_ratio),
        counts: CheckCounts::Errors {
            baseline_requests: baseline.requests,
            baseline_errors: baseline.errors,
            canary_requests: canary.requests,
            canary_errors: canary.errors,
            baseline_error_rate: rate(baseline),
            canary_error_rate: rate(canary),
        },
        reason: if !enough_requests {
            format!(
                "{} canary requests, fewer than min_requests ({})",
                canary.requests, config.min_requests
            )
        } else {
            format!(
                "canary error rate {:.4}% vs baseline {:.4}% (ratio {}), p = {}",
                rate(canary) * 100.0,
                rate(baseline) * 100.0,
                error_ratio.map_or("n/a".to_string(), |ratio| format!("{ratio:.2}")),
                errors_p.map_or("n/a".to_string(), |p| format!("{p:.3e}"))
            )
        },
    };

    let latency_fail =
        significant[1] && latency_increase.is_some_and(|increase| increase > config.max_latency_increase);
    let latency = Check {
        name: "latency".into(),
        verdict: if !has_latency {
            CanaryVerdict::Skipped
        } else if !enough_periods || !enough_requests {
            CanaryVerdict::Inconclusive
        } else if latency_fail {
            CanaryVerdict::Fail
        } else {
            CanaryVerdict::Pass
        },
        method: "one-sided Mann-Whitney U (canary greater), normal approximation, tie and continuity corrections"
            .into(),
        p_value: latency_test.map(|test| test.p_value),
        significant: significant[1],
        statistic: latency_test.map(|test| test.u),
        effect: latency_increase.filter(|increase| increase.is_finite()),
        threshold: Some(config.max_latency_increase),
        counts: CheckCounts::Latency {
            baseline_periods: periods.0,
            canary_periods: periods.1,
            baseline_median_ms: medians.0,
            canary_median_ms: medians.1,
            z: latency_test.map(|test| test.z),
        },
        reason: if !has_latency {
            "no latency values given".to_string()
        } else if !enough_periods {
            format!(
                "{} baseline and {} canary periods, fewer than min_periods ({})",
                periods.0, periods.1, config.min_periods
            )
        } else {
            format!(
                "canary median {:.1} ms vs baseline {:.1} ms ({:+.1}%), p = {}",
                medians.1.unwrap_or(0.0),
                medians.0.unwrap_or(0.0),
                latency_increase.unwrap_or(0.0) * 100.0,
                latency_test.map_or("n/a".to_string(), |test| format!("{:.3e}", test.p_value))
            )
        },
    };

    let no_traffic = canary.requests == 0 && baseline.requests > 0;
    let share_effect = match (observed_share, input.expected_canary_share) {
        (Some(observed), Some(expected)) => Some(observed / expected),
        _ => None,
    };
    let traffic_fail = no_traffic || (significant[2] && share_effect.is_some_and(|effect| effect < 0.5));
    let traffic = Check {
        name: "traffic".into(),
        verdict: if traffic_fail {
            CanaryVerdict::Fail
        } else if total_requests == 0 {
            CanaryVerdict::Inconclusive
        } else {
            CanaryVerdict::Pass
        },
        method: if input.expected_canary_share.is_some() {
            "exact binomial test of the canary's share (lower), plus the zero-traffic rule"
        } else {
            "zero-traffic rule (no expected share given)"
        }
        .into(),
        p_value: traffic_p,
        significant: significant[2],
        statistic: observed_share,
        effect: share_effect,
        threshold: input.expected_canary_share.map(|_| 0.5),
        counts: CheckCounts::Traffic {
            baseline_requests: baseline.requests,
            canary_requests: canary.requests,
            observed_share,
            expected_share: input.expected_canary_share,
        },
        reason: if no_traffic {
            format!(
                "the canary served no requests while the baseline served {}",
                baseline.requests
            )
        } else if total_requests == 0 {
            "no requests on either side".to_string()
        } else {
            match (observed_share, input.expected_canary_share) {
                (Some(observed), Some(expected)) => format!(
                    "canary share {:.2}% vs expected {:.2}%",
                    observed * 100.0,
                    expected * 100.0
                ),
                (Some(observed), None) => format!("canary share {:.2}%", observed * 100.0),
                _ => String::new(),
            }
        },
    };

    let checks = vec![errors, latency, traffic];
    let verdict = if checks.iter().any(|check| check.verdict == CanaryVerdict::Fail) {
        CanaryVerdict::Fail
    } else if checks.iter().any(|check| check.verdict == CanaryVerdict::Inconclusive) {
        CanaryVerdict::Inconclusive
    } else {
        CanaryVerdict::Pass
    };
    let needed_requests = if verdict == CanaryVerdict::Inconclusive {
        needed_requests(input, alpha / present.len().max(1) as f64)
            .map(|needed| needed.max(canary.requests + 1).max(config.min_requests))
    } else {
        None
    };
    Judgement {
        verdict,
        checks,
        needed_requests,
        alpha,
    }
}

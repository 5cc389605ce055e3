//! The sequential canary test (pure): "is the one-box's error rate higher than the fleet's?",
//! asked at every bake poll without inflating false rollbacks, however often it is asked.
//! Over 400 lines: the derivation below and its tests read together with the code.
//!
//! # The test
//!
//! At look k the bake has read, since the previous look, the canary's requests and errors
//! (n_c, e_c) and the baseline's (n_b, e_b). Model errors as Poisson with exposure: canary rate
//! θ·λ, baseline rate λ. Given that E = e_c + e_b errors happened in the look, the canary's share
//! of them is binomial, e_c ~ Binomial(E, q(θ)) with q(θ) = θπ / (θπ + 1 − π) and π = n_c / (n_c
//! + n_b) that look's traffic share; λ drops out. H0 is θ = 1 (no worse), so q = π.
//!
//! For each θ of a grid of alternatives, the likelihood ratio of the looks so far is
//! L(θ) = Π_k (q_k(θ)/π_k)^{e_c,k} ((1 − q_k(θ))/(1 − π_k))^{e_b,k}. The e-value is the mixture
//! M = Σ_j w_j L(θ_j) (weights summing to 1). Each factor has expectation 1 under H0 given the
//! past and the look's exposure and error total, so M is a non-negative martingale with M_0 = 1,
//! and by Ville's inequality P(sup_k M_k ≥ 1/α) ≤ α: rejecting the first time M ≥ 1/α keeps
//! false rollbacks at most α, at any number of looks, at any time. For θ < 1 each factor's
//! expectation is below 1 (monotone likelihood ratio), so the bound holds for a canary that is
//! better too. Two binomials with one error rate are, given their total, hypergeometric rather
//! than binomial; that has less spread, so the bound still holds (the factors are convex).
//!
//! Like the final judgement, it also asks for an effect worth rolling back for: it fails only
//! when the canary's error rate so far is at least `max_error_ratio` times the baseline's.
//!
//! # Grid and α split
//!
//! θ ∈ {1.5, 2, 3, 4, 6, 10} with weights (1, 2, 3, 2, 1.5, 1) / 10.5: moderate regressions get
//! the most weight, since large ones are found fast anyway. The policy's α = 1 − confidence is
//! split by union bound: `sequential_share` (default 0.8) for the looks, the rest for the final
//! judgement after the bake, so both together stay within α. The figures behind these choices
//! (false rollbacks, detection, time to detect) come from `shared/benches/sequential_canary.rs`.
//!
//! References: Lindon, Sanden and Shirikian, "Rapid Regression Detection in Software
//! Deployments through Sequential Testing", KDD 2022; Ramdas, Grünwald, Vovk and Shafer,
//! "Game-theoretic statistics and safe anytime-valid inference", Statistical Science 2023;
//! Robbins, "Statistical methods related to the law of the iterated logarithm", 1970 (the
//! method of mixtures).
//!
//! Over 400 lines because of its worked tests; the test itself is one piece.

use serde::{Deserialize, Serialize};

/// The alternatives θ (canary rate / baseline rate) and their prior weights.
const GRID: [(f64, f64); 6] = [(1.5, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 2.0), (6.0, 1.5), (10.0, 1.0)];

/// How the sequential test is configured: the policy's `canary.judge` numbers it shares.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// 1 − the false-rollback rate for the looks and the final judgement together.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Roll back only when the canary's error rate so far is at least this times the baseline's.
    #[serde(default = "default_max_error_ratio")]
    pub max_error_ratio: f64,
    /// The share of α spent on the looks; the final judgement gets the rest.
    #[serde(default = "default_sequential_share")]
    pub sequential_share: f64,
}

fn default_confidence() -> f64 {
    0.99
}
fn default_max_error_ratio() -> f64 {
    1.5
}
pub fn default_sequential_share() -> f64 {
    0.8
}

impl Default for SequentialConfig {
    fn default() -> Self {
        SequentialConfig {
            confidence: default_confidence(),
            max_error_ratio: default_max_error_ratio(),
            sequential_share: default_sequential_share(),
        }
    }
}

impl SequentialConfig {
    /// The α the looks may spend.
    pub fn alpha(&self) -> f64 {
        (1.0 - self.confidence) * self.sequential_share
    }

    /// The problem with the configuration, naming the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err((
                "confidence",
                format!(
                    "{} is not allowed; use a number between 0.5 and 1, e.g. 0.99",
                    self.confidence
                ),
            ));
        }
        if !(self.max_error_ratio.is_finite() && self.max_error_ratio >= 1.0) {
            return Err((
                "max_error_ratio",
                format!("{} is not allowed; use 1 or more, e.g. 1.5", self.max_error_ratio),
            ));
        }
        if !(self.sequential_share > 0.0 && self.sequential_share < 1.0) {
            return Err((
                "sequential_share",
                format!(
                    "{} is not allowed; use a share between 0 and 1 (the final judgement gets the rest)",
                    self.sequential_share
                ),
            ));
        }
        Ok(())
    }
}

/// Requests and errors of one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub requests: u64,
    pub errors: u64,
}

/// What one look saw, cumulative since the bake started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Look {
    pub canary: Counts,
    pub baseline: Counts,
}

/// A look whose counts went down: cumulative counts only grow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("looks[{index}]: {side} {what} went down from {before} to {now}; counts are cumulative since the bake started")]
pub struct ShrinkingCounts {
    pub index: usize,
    pub side: &'static str,
    pub what: &'static str,
    pub before: u64,
    pub now: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SequentialVerdict {
    Continue,
    Fail,
}

/// The e-process: one log likelihood ratio per alternative, updated look by look.
#[derive(Debug, Clone, PartialEq)]
pub struct SequentialTest {
    log_lr: [f64; GRID.len()],
    last: Look,
    looks: usize,
}

impl Default for SequentialTest {
    fn default() -> Self {
        SequentialTest {
            log_lr: [0.0; GRID.len()],
            last: Look::default(),
            looks: 0,
        }
    }
}

/// e·log(q/p), with 0·log(0/0) = 0.
fn term(count: u64, q: f64, p: f64) -> f64 {
    if count == 0 { 0.0 } else { count as f64 * (q / p).ln() }
}

impl SequentialTest {
    pub fn new() -> Self {
        SequentialTest::default()
    }

    /// Takes in the next look (cumulative counts). Errors beyond requests count as requests too
    /// (a failed call is a request), as in the final judgement.
    pub fn update(&mut self, look: &Look) -> Result<(), ShrinkingCounts> {
        let index = self.looks;
        let grew = |side: &'static str, what: &'static str, before: u64, now: u64| {
            if now < before {
                Err(ShrinkingCounts {
                    index,
                    side,
                    what,
                    before,
                    now,
                })
            } else {
                Ok(now - before)
            }
        };
        let canary_requests = grew("canary", "requests", self.last.canary.requests, look.canary.requests)?;
        let canary_errors = grew("canary", "errors", self.last.canary.errors, look.canary.errors)?;
        let baseline_requests = grew(
            "baseline",
            "requests",
            self.last.baseline.requests,
            look.baseline.requests,
        )?;
        let baseline_errors = grew("baseline", "errors", self.last.baseline.errors, look.baseline.errors)?;
        self.last = *look;
        self.looks += 1;
        let n_c = canary_requests.max(canary_errors) as f64;
        let n_b = baseline_requests.max(baseline_errors) as f64;
        // A look where one side served nothing says nothing about their error rates.
        if n_c == 0.0 || n_b == 0.0 || canary_errors + baseline_errors == 0 {
            return Ok(());
        }
        let share = n_c / (n_c + n_b);
        for (log_lr, (theta, _)) in self.log_lr.iter_mut().zip(GRID) {
            let q = theta * share / (theta * share + 1.0 - share);
            *log_lr += term(canary_errors, q, share) + term(baseline_errors, 1.0 - q, 1.0 - share);
        }
        Ok(())
    }

    /// The e-value so far: the prior-weighted mixture of the likelihood ratios. Held at the
    /// largest finite number: past e^709 it would be infinite, which JSON cannot hold, and the
    /// recorded evidence would no longer read back (the verdict uses [`Self::log_e_value`]).
    pub fn e_value(&self) -> f64 {
        self.log_e_value().exp().min(f64::MAX)
    }

    /// ln of the e-value, computed without overflow.
    pub fn log_e_value(&self) -> f64 {
        let total: f64 = GRID.iter().map(|(_, weight)| weight).sum();
        let top = self.log_lr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = self
            .log_lr
            .iter()
            .zip(GRID)
            .map(|(log_lr, (_, weight))| weight / total * (log_lr - top).exp())
            .sum();
        top + sum.ln()
    }

    pub fn looks(&self) -> usize {
        self.looks
    }

    /// The canary's error rate over the baseline's, so far (infinite when only the canary erred).
    pub fn rate_ratio(&self) -> Option<f64> {
        let (canary, baseline) = (self.last.canary, self.last.baseline);
        if canary.requests == 0 || baseline.requests == 0 {
            return None;
        }
        let canary_rate = canary.errors as f64 / canary.requests as f64;
        let baseline_rate = baseline.errors as f64 / baseline.requests as f64;
        Some(match (canary.errors, baseline.errors) {
            (0, _) => 0.0,
            (_, 0) => f64::INFINITY,
            _ => canary_rate / baseline_rate,
        })
    }

    /// Fail once the evidence is there: e-value ≥ 1/α and an error ratio worth rolling back for.
    pub fn verdict(&self, config: &SequentialConfig) -> SequentialVerdict {
        let evidence = self.log_e_value() >= (1.0 / config.alpha()).ln();
        let large = self.rate_ratio().is_some_and(|ratio| ratio >= config.max_error_ratio);
        if evidence && large {
            SequentialVerdict::Fail
        } else {
            SequentialVerdict::Continue
        }
    }

    /// What a decision shows of it.
    pub fn evidence(&self, config: &SequentialConfig) -> SequentialEvidence {
        SequentialEvidence {
            verdict: self.verdict(config),
            e_value: self.e_value(),
            threshold: 1.0 / config.alpha(),
            alpha: config.alpha(),
            looks: self.looks,
            rate_ratio: self.rate_ratio().filter(|ratio| ratio.is_finite()),
            canary: self.last.canary,
            baseline: self.last.baseline,
        }
    }
}

/// The sequential test's state as a decision reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SequentialEvidence {
    pub verdict: SequentialVerdict,
    pub e_value: f64,
    /// 1/α: the e-value at which it fails.
    pub threshold: f64,
    pub alpha: f64,
    pub looks: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_ratio: Option<f64>,
    pub canary: Counts,
    pub baseline: Counts,
}

/// A replay of a bake: the verdict and e-value at each look, and the first failing look.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watch {
    pub verdicts: Vec<SequentialVerdict>,
    pub first_fail: Option<usize>,
    pub e_values: Vec<f64>,
}

/// Runs the test over `looks` (cumulative counts), as the bake would at each poll.
pub fn watch(config: &SequentialConfig, looks: &[Look]) -> Result<Watch, ShrinkingCounts> {
    let mut test = SequentialTest::new();
    let mut replay = Watch {
        verdicts: Vec::with_capacity(looks.len()),
        first_fail: None,
        e_values: Vec::with_capacity(looks.len()),
    };
    for (index, look) in looks.iter().enumerate() {
        test.update(look)?;
        let verdict = test.verdict(config);
        if verdict == SequentialVerdict::Fail && replay.first_fail.is_none() {
            replay.first_fail = Some(index);
        }
        replay.verdicts.push(verdict);
        replay.e_values.push(test.e_value());
    }
    Ok(replay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(canary: (u64, u64), baseline: (u64, u64)) -> Look {
        Look {
            canary: Counts {
                requests: canary.0,
                errors: canary.1,
            },
            baseline: Counts {
                requests: baseline.0,
                errors: baseline.1,
            },
        }
    }

    #[test]
    fn starts_at_one_and_stays_there_without_errors() {
        let mut test = SequentialTest::new();
        assert!((test.e_value() - 1.0).abs() < 1e-12);
        test.update(&look((100, 0), (900, 0))).unwrap();
        assert!((test.e_value() - 1.0).abs() < 1e-12);
        assert_eq!(test.verdict(&SequentialConfig::default()), SequentialVerdict::Continue);
    }

    #[test]
    fn a_single_look_is_the_weighted_binomial_likelihood_ratio() {
        // share 0.1; 5 canary errors, 5 baseline errors.
        let mut test = SequentialTest::new();
        test.update(&look((100, 5), (900, 5))).unwrap();
        let total: f64 = GRID.iter().map(|(_, w)| w).sum();
        let expected: f64 = GRID
            .iter()
            .map(|(theta, weight)| {
                let q = theta * 0.1 / (theta * 0.1 + 0.9);
                weight / total * (q / 0.1).powi(5) * ((1.0 - q) / 0.9).powi(5)
            })
            .sum();
        assert!(
            (test.e_value() - expected).abs() / expected < 1e-12,
            "{} vs {expected}",
            test.e_value()
        );
    }

    #[test]
    fn a_ten_times_worse_canary_fails_within_minutes_and_an_equal_one_does_not() {
        let config = SequentialConfig::default();
        // 100 canary and 900 baseline requests a minute; 1% vs 0.1% errors.
        let bad: Vec<Look> = (1..=30).map(|m| look((100 * m, m), (900 * m, (9 * m) / 10))).collect();
        let replay = watch(&config, &bad).unwrap();
        let first = replay.first_fail.expect("detected");
        assert!(first < 10, "{first}: {:?}", replay.e_values);
        assert!(replay.e_values[first] >= 1.0 / config.alpha());
        let equal: Vec<Look> = (1..=60)
            .map(|m| look((100 * m, m / 10), (900 * m, (9 * m) / 10)))
            .collect();
        assert_eq!(watch(&config, &equal).unwrap().first_fail, None);
    }

    #[test]
    fn strong_evidence_of_an_effect_below_max_error_ratio_does_not_roll_back() {
        // 2x worse with lots of traffic: overwhelming evidence, but the policy asks for 3x.
        let config = SequentialConfig {
            max_error_ratio: 3.0,
            ..SequentialConfig::default()
        };
        let looks: Vec<Look> = (1..=20)
            .map(|m| look((100_000 * m, 200 * m), (900_000 * m, 900 * m)))
            .collect();
        let replay = watch(&config, &looks).unwrap();
        assert!(replay.e_values.last().unwrap() > &1e6, "{:?}", replay.e_values);
        assert_eq!(replay.first_fail, None);
        let default = watch(&SequentialConfig::default(), &looks).unwrap();
        assert_eq!(default.first_fail, Some(0), "at max_error_ratio 1.5 it fails at once");
    }

    #[test]
    fn counts_that_go_down_are_refused_naming_the_look() {
        let error = watch(
            &SequentialConfig::default(),
            &[look((10, 1), (90, 1)), look((10, 0), (95, 1))],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "looks[1]: canary errors went down from 1 to 0; counts are cumulative since the bake started"
        );
    }

    #[test]
    fn the_configuration_names_the_field_at_fault() {
        let bad = SequentialConfig {
            sequential_share: 1.0,
            ..SequentialConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "sequential_share");
        assert!((SequentialConfig::default().alpha() - 0.008).abs() < 1e-12);
    }
}

//! The canary evaluator: judges the one-box against the fleet from CloudWatch metrics alone.
//! pass lets the pipeline go on, fail sends it to rollback, inconclusive asks again a period
//! later (and says how much more traffic a decision needs).
//!
//! Over 400 lines: reading the series and turning a judgement into a decision share the queries'
//! shape, so they stay together.

use std::future::Future;

use crate::audit::AuditRecord;
use crate::ports::store::{StateStore, StoreError};
use std::collections::BTreeMap;

use crate::evidence::{CanaryEvidence, CanaryTarget, MetricWindow};
use jiff::{SignedDuration, Timestamp};

use super::{Gate, GateRequest};
use crate::canary::policy::WhenMissing;
use crate::canary::sequential::{Counts, Look};
use crate::canary::{CanaryPolicy, CanaryVerdict, JudgeInput, Judgement, LambdaAliasTarget, MetricPair, Sample, judge};
use crate::decision::{Decision, Verdict};
use crate::error::GateError;
use crate::ports::lambda_alias::{AliasReader, AliasRouting};
use crate::ports::metrics::{MetricData, MetricQuery, MetricsSource};

pub const NAME: &str = "canary-evaluator";

pub struct CanaryEvaluator<M, L, S = ()> {
    metrics: M,
    aliases: L,
    /// Where the verdict is recorded, when the call names its stage (status, the dashboard).
    store: Option<S>,
}

impl<M: MetricsSource, L: AliasReader> CanaryEvaluator<M, L> {
    pub fn new(metrics: M, aliases: L) -> Self {
        CanaryEvaluator {
            metrics,
            aliases,
            store: None,
        }
    }
}

impl<M: MetricsSource, L: AliasReader, S> CanaryEvaluator<M, L, S> {
    /// The same evaluator, recording each verdict in `store`'s audit trail of the stage.
    pub fn recording_to<T: StateStore>(self, store: T) -> CanaryEvaluator<M, L, T> {
        CanaryEvaluator {
            metrics: self.metrics,
            aliases: self.aliases,
            store: Some(store),
        }
    }
}

const SIDES: [(&str, &str); 2] = [("b", "baseline"), ("c", "canary")];

fn query(id: String, namespace: &str, metric: &str, dimensions: &BTreeMap<String, String>, stat: &str) -> MetricQuery {
    MetricQuery {
        id,
        namespace: namespace.to_string(),
        metric: metric.to_string(),
        dimensions: dimensions.clone(),
        stat: stat.to_string(),
    }
}

/// Lambda one-box: per executed version of the alias, Invocations, Errors, Throttles and
/// Duration. Throttled calls count as requests that failed.
pub fn alias_queries(target: &LambdaAliasTarget, primary: &str, canary: &str) -> Vec<MetricQuery> {
    let mut queries = Vec::new();
    for ((side, _), version) in SIDES.iter().zip([primary, canary]) {
        let dimensions = BTreeMap::from([
            ("FunctionName".to_string(), target.function_name.clone()),
            (
                "Resource".to_string(),
                format!("{}:{}", target.function_name, target.alias),
            ),
            ("ExecutedVersion".to_string(), version.to_string()),
        ]);
        queries.push(query(
            format!("{side}_requests"),
            "AWS/Lambda",
            "Invocations",
            &dimensions,
            "Sum",
        ));
        queries.push(query(
            format!("{side}_errors"),
            "AWS/Lambda",
            "Errors",
            &dimensions,
            "Sum",
        ));
        queries.push(query(
            format!("{side}_throttles"),
            "AWS/Lambda",
            "Throttles",
            &dimensions,
            "Sum",
        ));
        queries.push(query(
            format!("{side}_latency"),
            "AWS/Lambda",
            "Duration",
            &dimensions,
            &target.latency_stat,
        ));
    }
    queries
}

/// Generic pair: the same metrics under the canary's and the baseline's dimensions.
pub fn pair_queries(pair: &MetricPair) -> Vec<MetricQuery> {
    let mut queries = Vec::new();
    for ((side, _), dimensions) in SIDES.iter().zip([&pair.baseline, &pair.canary]) {
        queries.push(query(
            format!("{side}_requests"),
            &pair.namespace,
            &pair.requests.metric,
            dimensions,
            &pair.requests.stat,
        ));
        queries.push(query(
            format!("{side}_errors"),
            &pair.namespace,
            &pair.errors.metric,
            dimensions,
            &pair.errors.stat,
        ));
        if let Some(latency) = &pair.latency {
            queries.push(query(
                format!("{side}_latency"),
                &pair.namespace,
                &latency.metric,
                dimensions,
                &latency.stat,
            ));
        }
    }
    queries
}

/// What the judgement reads, from the series: counts are sums over the periods, latency one
/// value per period that has one. A side with traffic whose errors or latency series found no
/// datapoint at all is `missing`: absence of evidence is not evidence of health.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    pub baseline: Sample,
    pub canary: Sample,
    /// Each series that found nothing where the judgement needs one.
    pub missing: Vec<MissingSeries>,
}

/// A series the judgement needs that found no datapoint, and the check it leaves unproven.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MissingSeries {
    /// `errors`, `latency` or `baseline`.
    pub check: std::borrow::Cow<'static, str>,
    pub reason: String,
}

/// How to read the series of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRules {
    /// A side with traffic and no error datapoint counts zero errors (metrics that publish no
    /// zeros); otherwise it is missing evidence.
    pub errors_missing_is_zero: bool,
}

/// Requests with no datapoint are zero traffic, which never passes (too few requests, or the
/// canary serving nothing). Throttles are only queried for a Lambda alias, where a throttled
/// call runs no version, so its `ExecutedVersion` series is absent unless the version ran and
/// was throttled: absent is zero there.
pub fn samples(data: &MetricData, queries: &[MetricQuery], rules: SeriesRules) -> Samples {
    let asked = |id: &str| queries.iter().find(|query| query.id == id);
    let count = |id: &str| data.sum(id).unwrap_or(0.0).round() as u64;
    let mut missing = Vec::new();
    let mut side = |side: &str, name: &str| {
        let throttles = count(&format!("{side}_throttles"));
        let requests = count(&format!("{side}_requests")) + throttles;
        let errors_id = format!("{side}_errors");
        let latency_id = format!("{side}_latency");
        if requests > 0 {
            let errors_absent = !data.has_datapoints(&errors_id) && !rules.errors_missing_is_zero;
            let latency_absent = asked(&latency_id).is_some() && !data.has_datapoints(&latency_id);
            for (check, absent, id) in [
                ("errors", errors_absent, &errors_id),
                ("latency", latency_absent, &latency_id),
            ] {
                if let (true, Some(query)) = (absent, asked(id)) {
                    missing.push(MissingSeries {
                        check: check.into(),
                        reason: format!(
                            "{name} {}/{} ({}) has {requests} requests but no {} datapoint in the window",
                            query.namespace,
                            query.metric,
                            dimensions_of(query),
                            query.stat
                        ),
                    });
                }
            }
        }
        let errors = (count(&errors_id) + throttles).min(requests);
        let latency_ms = data
            .series
            .get(&latency_id)
            .map(|series| {
                series
                    .iter()
                    .map(|(_, value)| *value)
                    .filter(|value| value.is_finite() && *value >= 0.0)
                    .collect()
            })
            .unwrap_or_default();
        Sample {
            requests,
            errors,
            latency_ms,
        }
    };
    let baseline = side("b", "baseline");
    let canary = side("c", "canary");
    // A canary compared with a fleet that served nothing (or whose requests series found
    // nothing) is compared with nothing: no test can fail it, so it must not pass either.
    if canary.requests > 0 && baseline.requests == 0 {
        let what = asked("b_requests").map_or("requests".to_string(), |query| {
            format!("{}/{} ({})", query.namespace, query.metric, dimensions_of(query))
        });
        missing.push(MissingSeries {
            check: "baseline".into(),
            reason: format!("baseline {what} has no requests in the window: nothing to compare the canary with"),
        });
    }
    Samples {
        baseline,
        canary,
        missing,
    }
}

/// The queries the bake's sequential test needs of a target: requests, errors and throttles.
pub fn count_queries(queries: Vec<MetricQuery>) -> Vec<MetricQuery> {
    queries
        .into_iter()
        .filter(|query| !query.id.ends_with("_latency"))
        .collect()
}

/// One look per minute that has data, cumulative since the first: requests and errors of each
/// side, throttled calls counted as requests that failed (as in [`samples`]).
pub fn looks(data: &MetricData) -> Vec<Look> {
    let mut minutes: BTreeMap<Timestamp, [u64; 4]> = BTreeMap::new();
    for (slot, ids) in [
        (0, ["c_requests", "c_throttles"].as_slice()),
        (1, ["c_errors", "c_throttles"].as_slice()),
        (2, ["b_requests", "b_throttles"].as_slice()),
        (3, ["b_errors", "b_throttles"].as_slice()),
    ] {
        for id in ids {
            for (at, value) in data.series.get(*id).into_iter().flatten() {
                minutes.entry(*at).or_default()[slot] += value.max(0.0).round() as u64;
            }
        }
    }
    let mut total = [0u64; 4];
    minutes
        .values()
        .map(|minute| {
            for (sum, value) in total.iter_mut().zip(minute) {
                *sum += value;
            }
            Look {
                canary: Counts {
                    requests: total[0],
                    errors: total[1].min(total[0]),
                },
                baseline: Counts {
                    requests: total[2],
                    errors: total[3].min(total[2]),
                },
            }
        })
        .collect()
}

fn dimensions_of(query: &MetricQuery) -> String {
    let pairs: Vec<String> = query
        .dimensions
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.join(", ")
}

/// The decision for a judgement (pure).
pub fn decision_of(
    judgement: &Judgement,
    canary: &Sample,
    missing: &[MissingSeries],
    now: Timestamp,
    period_secs: i64,
    evidence: CanaryEvidence,
) -> Decision {
    // A check that fails on series that are all there stands; any other verdict with a series
    // missing rests on a zero nobody measured, so it is unproven.
    let shown_worse = judgement
        .checks
        .iter()
        .any(|check| check.verdict == CanaryVerdict::Fail && !missing.iter().any(|series| series.check == check.name));
    if !shown_worse && !missing.is_empty() {
        let missing: Vec<String> = missing.iter().map(|series| series.reason.clone()).collect();
        let next = now.checked_add(SignedDuration::from_secs(period_secs)).ok();
        let mut decision = Decision::new(
            NAME,
            Verdict::Inconclusive,
            format!(
                "inconclusive: no evidence of health without these series: {}; check the metric names, dimensions and statistics (for an errors metric that publishes no zeros, set `when_missing: \"zero\"` on it)",
                missing.join("; ")
            ),
        )
        .waiting_until(next);
        decision.reasons.extend(missing.iter().cloned());
        return decision.with_evidence(evidence);
    }
    let failing: Vec<String> = judgement
        .checks
        .iter()
        .filter(|check| check.verdict == CanaryVerdict::Fail)
        .map(|check| format!("{}: {}", check.name, check.reason))
        .collect();
    let mut decision = match judgement.verdict {
        CanaryVerdict::Fail => {
            let mut decision = Decision::new(
                NAME,
                Verdict::Fail,
                format!("canary is worse than the baseline: {}", failing.join("; ")),
            );
            decision.reasons.extend(failing);
            decision
        }
        CanaryVerdict::Inconclusive => {
            let open: Vec<String> = judgement
                .checks
                .iter()
                .filter(|check| check.verdict == CanaryVerdict::Inconclusive)
                .map(|check| format!("{}: {}", check.name, check.reason))
                .collect();
            let needed = judgement
                .needed_requests
                .map(|needed| format!("; needs about {needed} canary requests (has {})", canary.requests))
                .unwrap_or_default();
            let next = now.checked_add(SignedDuration::from_secs(period_secs)).ok();
            Decision::new(
                NAME,
                Verdict::Inconclusive,
                format!("inconclusive: {}{needed}", open.join("; ")),
            )
            .waiting_until(next)
        }
        CanaryVerdict::Pass | CanaryVerdict::Skipped => {
            let summary: Vec<String> = judgement
                .checks
                .iter()
                .map(|check| format!("{}: {}", check.name, check.reason))
                .collect();
            Decision::new(
                NAME,
                Verdict::Pass,
                format!("canary is no worse than the baseline ({})", summary.join("; ")),
            )
        }
    };
    if let Some(needed) = judgement.needed_requests {
        decision = decision.with_output("needed_requests", needed.to_string());
    }
    decision.with_evidence(evidence)
}

fn routing_canary(target: &LambdaAliasTarget, routing: &AliasRouting) -> Result<(String, f64), GateError> {
    routing.canary.clone().ok_or_else(|| {
        GateError::InvalidInput(format!(
            "alias {} of {} sends all traffic to version {}: there is no canary version to judge (set its routing config)",
            target.alias, target.function_name, routing.primary_version
        ))
    })
}

/// The one-box and its fleet as metric queries: for a Lambda alias its versions (read with
/// `GetAlias`) and weight, for a pair its dimensions; with what the evidence shows of them.
pub async fn target_queries<L: AliasReader>(
    aliases: &L,
    policy: &CanaryPolicy,
) -> Result<(Vec<MetricQuery>, Option<f64>, CanaryTarget), GateError> {
    if let Some(target) = &policy.lambda_alias {
        let routing = aliases
            .routing(&target.function_name, &target.alias)
            .await
            .map_err(GateError::DependencyUnavailable)?;
        let (canary_version, weight) = routing_canary(target, &routing)?;
        let target_evidence = CanaryTarget::LambdaAlias {
            function_name: target.function_name.clone(),
            alias: target.alias.clone(),
            baseline_version: routing.primary_version.clone(),
            canary_version: canary_version.clone(),
            canary_weight: weight,
        };
        return Ok((
            alias_queries(target, &routing.primary_version, &canary_version),
            Some(weight),
            target_evidence,
        ));
    }
    let pair = policy
        .pair
        .as_ref()
        .ok_or_else(|| GateError::InvalidInput("canary: give `lambda_alias` or `pair`".into()))?;
    Ok((
        pair_queries(pair),
        policy.expected_canary_share,
        CanaryTarget::Pair {
            namespace: pair.namespace.clone(),
            canary: pair.canary.clone(),
            baseline: pair.baseline.clone(),
        },
    ))
}

impl<M: MetricsSource, L: AliasReader, S: AuditTrail> Gate for CanaryEvaluator<M, L, S> {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn decide(&self, request: &GateRequest) -> Result<Decision, GateError> {
        let policy = request.policy.canary().map_err(GateError::PolicyInvalid)?;
        let (queries, expected_canary_share, target) = target_queries(&self.aliases, policy).await?;
        let period = policy.period.as_secs_i64();
        // Whole periods only: the current, still-filling one would read low.
        let end = Timestamp::from_second(request.now.as_second() - request.now.as_second().rem_euclid(period))
            .map_err(|error| GateError::InvalidInput(error.to_string()))?;
        let start = Timestamp::from_second(end.as_second() - policy.lookback.as_secs_i64())
            .map_err(|error| GateError::InvalidInput(error.to_string()))?;
        let data = self
            .metrics
            .metric_data(&queries, start, end, i32::try_from(period).unwrap_or(60))
            .await
            .map_err(GateError::DependencyUnavailable)?;
        let rules = SeriesRules {
            errors_missing_is_zero: policy
                .pair
                .as_ref()
                .is_some_and(|pair| pair.errors.when_missing == WhenMissing::Zero),
        };
        let Samples {
            baseline,
            canary,
            missing,
        } = samples(&data, &queries, rules);
        let input = JudgeInput {
            baseline,
            canary,
            expected_canary_share,
            // What the bake's looks left of the false-rollback budget.
            config: policy.final_judge_config(),
        };
        let judgement = judge(&input);
        let evidence = CanaryEvidence {
            target,
            window: MetricWindow {
                start,
                end,
                period: policy.period,
            },
            get_metric_data_calls: data.calls,
            judgement: judgement.clone(),
            missing_series: missing.clone(),
        };
        let decision = decision_of(&judgement, &input.canary, &missing, request.now, period, evidence)
            .citing(request.policy_source.as_ref());
        // A verdict that cannot be recorded is no verdict: the gate fails closed.
        if let (Some(store), Some(pipeline), Some(stage)) = (
            &self.store,
            request.context.pipeline.as_deref(),
            request.context.stage.as_deref(),
        ) {
            store
                .record(&AuditRecord::of_decision(&decision, pipeline, stage, request.now))
                .await
                .map_err(GateError::from_store)?;
        }
        Ok(decision)
    }
}

/// Where a gate may record its decisions: a store, or nowhere (`()`).
pub trait AuditTrail: Send + Sync {
    fn record(&self, record: &AuditRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl AuditTrail for () {
    async fn record(&self, _record: &AuditRecord) -> Result<(), StoreError> {
        Ok(())
    }
}

impl<T: StateStore> AuditTrail for T {
    async fn record(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.audit(record).await
    }
}

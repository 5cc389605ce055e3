//! The bake-time waiter: after a stage deploys, wait until the bake time has passed and the
//! traffic floors are met; roll back if a watched alarm went to ALARM at any point meanwhile,
//! even if it has recovered since (read from the alarm history, not only the state now), or the
//! moment the sequential test finds the one-box's error rate higher than the fleet's (when the
//! policy has a `canary` section).

use jiff::Timestamp;

use super::{Gate, GateRequest};
use crate::alarms::{Blocker, BlockerKind, InsufficientData, blockers_of};
use crate::audit::AuditRecord;
use crate::bake::{AlarmEpisode, NAME, decide};
use crate::canary::CanaryPolicy;
use crate::canary::sequential::SequentialTest;
use crate::decision::Decision;
use crate::error::GateError;
use crate::evidence::GateEvidence;
use crate::gates::canary_evaluator::{count_queries, looks as canary_looks, target_queries};
use crate::ports::alarms::{AlarmHistory, AlarmSource};
use crate::ports::lambda_alias::AliasReader;
use crate::ports::metrics::{MetricQuery, MetricsSource};
use crate::ports::store::StateStore;

pub struct BakeTimeWaiter<A, M, S, L> {
    alarms: A,
    metrics: M,
    store: S,
    aliases: L,
}

impl<A: AlarmSource + AlarmHistory, M: MetricsSource, S: StateStore, L: AliasReader> BakeTimeWaiter<A, M, S, L> {
    pub fn new(alarms: A, metrics: M, store: S, aliases: L) -> Self {
        BakeTimeWaiter {
            alarms,
            metrics,
            store,
            aliases,
        }
    }
}

impl<A: AlarmSource + AlarmHistory, M: MetricsSource, S: StateStore, L: AliasReader> Gate
    for BakeTimeWaiter<A, M, S, L>
{
    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_context(&self) -> bool {
        true
    }

    async fn decide(&self, request: &GateRequest) -> Result<Decision, GateError> {
        let policy = request.policy.bake().map_err(GateError::PolicyInvalid)?;
        let context = &request.context;
        let (pipeline, stage, execution) = context.deployment("a bake belongs to one deployment")?;
        let now = request.now;
        let started_at = self
            .store
            .start_bake(pipeline, stage, execution, now)
            .await
            .map_err(GateError::from_store)?;

        // Traffic since the bake started, all floors and the one-box's counts in one
        // GetMetricData call.
        let mut queries: Vec<MetricQuery> = policy
            .min_datapoints
            .iter()
            .enumerate()
            .map(|(index, floor)| MetricQuery {
                id: format!("floor{index}"),
                namespace: floor.namespace.clone(),
                metric: floor.metric.clone(),
                dimensions: floor.dimensions.clone(),
                stat: floor.stat.clone(),
            })
            .collect();
        let floors = queries.len();
        let canary = request.policy.canary.as_ref();
        let sequential = canary.and_then(CanaryPolicy::sequential_config);
        let mut target = None;
        if let (Some(canary), Some(_)) = (canary, &sequential) {
            let (one_box, _, about) = target_queries(&self.aliases, canary).await?;
            queries.extend(count_queries(one_box));
            target = Some(about);
        }
        let mut metric_calls = 0;
        let mut counts = vec![0u64; floors];
        let mut looks = Vec::new();
        if !queries.is_empty() {
            let start = Timestamp::from_second(started_at.as_second() - started_at.as_second().rem_euclid(60))
                .unwrap_or(started_at);
            let data = self
                .metrics
                .metric_data(&queries, start, now, 60)
                .await
                .map_err(GateError::DependencyUnavailable)?;
            metric_calls = data.calls;
            looks = canary_looks(&data);
            for (query, count) in queries.iter().zip(counts.iter_mut()) {
                // No datapoint is zero traffic: a floor it leaves unmet never completes the bake.
                *count = data.sum(&query.id).unwrap_or(0.0).round() as u64;
            }
        }

        // Every transition to ALARM since the start, and the state of every watched alarm now.
        let mut episodes: Vec<AlarmEpisode> = Vec::new();
        let mut readings = Vec::new();
        let mut alarm_calls = 0;
        for (index, selection) in policy.alarms.iter().enumerate() {
            let (found, calls) = self
                .alarms
                .alarm_episodes(selection, started_at, now)
                .await
                .map_err(GateError::DependencyUnavailable)?;
            alarm_calls += calls;
            episodes.extend(found);
            let read = self
                .alarms
                .read(selection, index)
                .await
                .map_err(GateError::DependencyUnavailable)?;
            alarm_calls += read.calls;
            readings.extend(read.readings);
        }
        // The blocker's rule, with INSUFFICIENT_DATA never counting as healthy.
        let (firing, unproven): (Vec<Blocker>, Vec<Blocker>) =
            blockers_of(&policy.alarms, InsufficientData::Block, &readings)
                .into_iter()
                .partition(|blocker| blocker.kind == BlockerKind::Alarm);
        for blocker in firing {
            if !episodes.iter().any(|episode| episode.alarm == blocker.alarm) {
                episodes.push(AlarmEpisode {
                    alarm: blocker.alarm,
                    at: None,
                    summary: blocker.reason,
                });
            }
        }

        // The one-box judged at every minute since the bake began: anytime-valid, however
        // often it is polled.
        let judged = sequential.map(|config| {
            let mut test = SequentialTest::new();
            for look in &looks {
                // Built cumulative from non-negative values: it cannot shrink.
                let _ = test.update(look);
            }
            test.evidence(&config)
        });
        let mut decision = decide(policy, started_at, now, &counts, &episodes, &unproven, judged.as_ref());
        if let GateEvidence::Bake(evidence) = &mut decision.evidence.of {
            if let Some(look) = &mut evidence.sequential {
                look.target = target;
            }
            evidence.get_metric_data_calls = metric_calls;
            // Which deployment this bake belongs to (the delivery report groups by it).
            evidence.execution_id = Some(execution.to_string());
            evidence.alarm_calls = alarm_calls;
        }
        let decision = decision.citing(request.policy_source.as_ref());
        self.store
            .audit(&AuditRecord::of_decision(&decision, pipeline, stage, now))
            .await
            .map_err(GateError::from_store)?;
        Ok(decision)
    }
}

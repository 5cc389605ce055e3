//! Reading metric series from CloudWatch with `GetMetricData`: up to 500 queries per call,
//! following `NextToken`.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use jiff::Timestamp;

use super::PortError;

/// `GetMetricData` takes at most 500 queries per call.
pub const QUERIES_PER_CALL: usize = 500;
const CALL: &str = "cloudwatch:GetMetricData";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    /// Lower-case first letter, then letters, digits, underscores.
    pub id: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, String>,
    pub stat: String,
}

/// Values per query id, one per period that had data; and the calls it took.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricData {
    pub series: BTreeMap<String, Vec<(Timestamp, f64)>>,
    pub calls: usize,
}

pub trait MetricsSource: Send + Sync {
    fn metric_data(
        &self,
        queries: &[MetricQuery],
        start: Timestamp,
        end: Timestamp,
        period_secs: i32,
    ) -> impl Future<Output = Result<MetricData, PortError>> + Send;
}

/// The real adapter, on aws-sdk-cloudwatch.
#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    pub fn new(client: Client) -> Self {
        CloudWatchMetrics { client }
    }
}

fn to_query(query: &MetricQuery, period_secs: i32) -> MetricDataQuery {
    let mut metric = Metric::builder().namespace(&query.namespace).metric_name(&query.metric);
    for (name, value) in &query.dimensions {
        metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
    }
    let stat = MetricStat::builder()
        .metric(metric.build())
        .period(period_secs)
        .stat(&query.stat)
        .build();
    MetricDataQuery::builder()
        .id(&query.id)
        .metric_stat(stat)
        .return_data(true)
        .build()
}

impl MetricsSource for CloudWatchMetrics {
    async fn metric_data(
        &self,
        queries: &[MetricQuery],
        start: Timestamp,
        end: Timestamp,
        period_secs: i32,
    ) -> Result<MetricData, PortError> {
        let mut data = MetricData::default();
        for chunk in queries.chunks(QUERIES_PER_CALL) {
            let built: Vec<MetricDataQuery> = chunk.iter().map(|query| to_query(query, period_secs)).collect();
            let mut token = None;
            loop {
                let output = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(built.clone()))
                    .start_time(DateTime::from_secs(start.as_second()))
                    .end_time(DateTime::from_secs(end.as_second()))
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|error| PortError::from_sdk(CALL, &error))?;
                data.calls += 1;
                for result in output.metric_data_results() {
                    let Some(id) = result.id() else { continue };
                    let series = data.series.entry(id.to_string()).or_default();
                    for (at, value) in result.timestamps().iter().zip(result.values()) {
                        if let Ok(at) = Timestamp::from_second(at.secs()) {
                            series.push((at, *value));
                        }
                    }
                }
                token = output.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        for series in data.series.values_mut() {
            series.sort_by_key(|(at, _)| *at);
        }
        Ok(data)
    }
}

//! Reading metric series from CloudWatch with `GetMetricData`: up to 500 queries per call,
//! following `NextToken`. A query CloudWatch did not answer in full (`PartialData` on the last
//! page, `InternalError`, `Forbidden`, no result at all) is a failed read, never an empty series:
//! absence of evidence is not evidence.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDataResult, MetricStat, StatusCode};
use jiff::Timestamp;

use super::{PortError, PortErrorKind};

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

/// Values per query id, one per period that had data; and the calls it took. Every query
/// asked for has an entry; an empty one means CloudWatch answered in full and found no
/// datapoint (a misspelled metric or dimension reads the same as a quiet one).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricData {
    pub series: BTreeMap<String, Vec<(Timestamp, f64)>>,
    pub calls: usize,
}

impl MetricData {
    /// Whether the query `id` found at least one datapoint.
    pub fn has_datapoints(&self, id: &str) -> bool {
        self.series.get(id).is_some_and(|series| !series.is_empty())
    }

    /// The sum of the query's non-negative values; `None` when it found no datapoint.
    pub fn sum(&self, id: &str) -> Option<f64> {
        self.series
            .get(id)
            .filter(|series| !series.is_empty())
            .map(|series| series.iter().map(|(_, value)| value.max(0.0)).sum())
    }
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
            // The status each query had on the last page that mentioned it.
            let mut status: HashMap<String, (StatusCode, Vec<String>)> = HashMap::new();
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
                    let (id, series) = read_result(result)?;
                    // Only what was asked for; a result for another id is not evidence.
                    if !chunk.iter().any(|query| query.id == id) {
                        continue;
                    }
                    let known = data.series.entry(id.clone()).or_default();
                    if let Some((at, _)) = series.iter().find(|(at, _)| known.iter().any(|(seen, _)| seen == at)) {
                        return Err(failed(
                            PortErrorKind::Unavailable,
                            format!("unreadable answer: query {id} has two datapoints at {at}"),
                        ));
                    }
                    known.extend(series);
                    let code = result.status_code().cloned().unwrap_or(StatusCode::from(""));
                    // A failure on any page stays a failure: a later page cannot make it whole.
                    let failed_before = status
                        .get(&id)
                        .is_some_and(|(code, _)| !matches!(code, StatusCode::Complete | StatusCode::PartialData));
                    if !failed_before {
                        status.insert(id, (code, texts(result.messages())));
                    }
                }
                token = output.next_token().map(str::to_string);
                if token.is_none() {
                    check_answered(chunk, &status, &output)?;
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

fn texts(messages: &[aws_sdk_cloudwatch::types::MessageData]) -> Vec<String> {
    messages
        .iter()
        .map(|message| format!("{}: {}", message.code().unwrap_or("?"), message.value().unwrap_or("")))
        .collect()
}

fn failed(kind: PortErrorKind, message: String) -> PortError {
    PortError {
        call: CALL.to_string(),
        kind,
        message,
    }
}

/// One query's datapoints; an answer whose timestamps and values do not pair up is unreadable.
fn read_result(result: &MetricDataResult) -> Result<(String, Vec<(Timestamp, f64)>), PortError> {
    let id = result.id().ok_or_else(|| {
        failed(
            PortErrorKind::Unavailable,
            "unreadable answer: a result without its query id".into(),
        )
    })?;
    if result.timestamps().len() != result.values().len() {
        return Err(failed(
            PortErrorKind::Unavailable,
            format!(
                "unreadable answer for query {id}: {} timestamps but {} values",
                result.timestamps().len(),
                result.values().len()
            ),
        ));
    }
    let mut series = Vec::with_capacity(result.values().len());
    for (at, value) in result.timestamps().iter().zip(result.values()) {
        let at = Timestamp::from_second(at.secs()).map_err(|_| {
            failed(
                PortErrorKind::Unavailable,
                format!(
                    "unreadable answer for query {id}: timestamp {} is out of range",
                    at.secs()
                ),
            )
        })?;
        if !value.is_finite() {
            return Err(failed(
                PortErrorKind::Unavailable,
                format!("unreadable answer for query {id}: value {value} at {at}"),
            ));
        }
        series.push((at, *value));
    }
    Ok((id.to_string(), series))
}

/// After the last page: every query of the chunk must have been answered `Complete`.
/// `PartialData` left on the last page, `InternalError`, `Forbidden`, an unknown status or no
/// result at all is a failed read, with CloudWatch's messages.
fn check_answered(
    chunk: &[MetricQuery],
    status: &HashMap<String, (StatusCode, Vec<String>)>,
    last: &GetMetricDataOutput,
) -> Result<(), PortError> {
    let overall = texts(last.messages());
    for query in chunk {
        let what = format!(
            "query {} ({}/{} {})",
            query.id, query.namespace, query.metric, query.stat
        );
        let mine = status.get(&query.id);
        let messages: Vec<&String> = mine
            .map(|(_, own)| own.iter())
            .into_iter()
            .flatten()
            .chain(&overall)
            .collect();
        let said = if messages.is_empty() {
            String::new()
        } else {
            let joined: Vec<&str> = messages.iter().map(|message| message.as_str()).collect();
            format!(" (CloudWatch says: {})", joined.join("; "))
        };
        match mine.map(|(code, _)| code) {
            Some(StatusCode::Complete) => {}
            None => {
                return Err(failed(
                    PortErrorKind::Unavailable,
                    format!("no result for {what}{said}"),
                ));
            }
            Some(StatusCode::Forbidden) => {
                return Err(failed(
                    PortErrorKind::AccessDenied,
                    format!("{what} is Forbidden{said}"),
                ));
            }
            Some(StatusCode::PartialData) => {
                return Err(failed(
                    PortErrorKind::Unavailable,
                    format!("{what} is PartialData after the last page: the answer is incomplete{said}"),
                ));
            }
            Some(other) => {
                let status = match other.as_str() {
                    "" => "no status",
                    text => text,
                };
                return Err(failed(
                    PortErrorKind::Unavailable,
                    format!("{what} answered {status}{said}"),
                ));
            }
        }
    }
    Ok(())
}

//! API economy: DescribeAlarms calls per decision for 10, 100 and 1,000 named alarms (100 names
//! per call), and GetMetricData calls for 10, 100 and 1,000 metrics (500 queries per call),
//! against the minimum the APIs allow. Exits non-zero when
//! a decision costs more than the minimum. Run with `benches/run`.

use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue, StatusCode};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use handsoff::alarms::AlarmSelection;
use handsoff::ports::alarms::{AlarmSource, CloudWatchAlarms, NAMES_PER_CALL};
use handsoff::ports::metrics::{CloudWatchMetrics, MetricQuery, MetricsSource, QUERIES_PER_CALL};

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("{:>8} {:>8} {:>8}  result", "alarms", "calls", "minimum");
    let mut missed = false;
    for count in [10usize, 100, 1_000] {
        let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_compute_output(|request| {
            let mut output = DescribeAlarmsOutput::builder();
            for name in request.alarm_names() {
                output = output.metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name(name)
                        .state_value(StateValue::Ok)
                        .build(),
                );
            }
            output.build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule]);
        let source = CloudWatchAlarms::with_client(client);
        let selection = AlarmSelection {
            names: (0..count).map(|i| format!("alarm-{i:04}")).collect(),
            prefixes: Vec::new(),
            role_arn: None,
            region: None,
        };
        let read = runtime.block_on(source.read(&selection, 0)).expect("read");
        assert_eq!(read.readings.len(), count);
        let minimum = count.div_ceil(NAMES_PER_CALL);
        let ok = read.calls == minimum && rule.num_calls() == minimum;
        missed |= !ok;
        println!(
            "{count:>8} {:>8} {minimum:>8}  {}",
            read.calls,
            if ok { "ok" } else { "FAIL" }
        );
    }

    println!();
    println!("{:>8} {:>8} {:>8}  result", "metrics", "calls", "minimum");
    for count in [10usize, 100, 1_000] {
        let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(|request| {
            let mut output = GetMetricDataOutput::builder();
            for query in request.metric_data_queries() {
                output = output.metric_data_results(
                    MetricDataResult::builder()
                        .id(query.id().unwrap_or_default())
                        .status_code(StatusCode::Complete)
                        .build(),
                );
            }
            output.build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule]);
        let source = CloudWatchMetrics::new(client);
        let queries: Vec<MetricQuery> = (0..count)
            .map(|i| MetricQuery {
                id: format!("floor{i}"),
                namespace: "AWS/Lambda".into(),
                metric: "Invocations".into(),
                dimensions: Default::default(),
                stat: "Sum".into(),
            })
            .collect();
        let start = jiff::Timestamp::from_second(1_795_540_000).expect("start");
        let end = jiff::Timestamp::from_second(1_795_543_600).expect("end");
        let data = runtime
            .block_on(source.metric_data(&queries, start, end, 60))
            .expect("read");
        let minimum = count.div_ceil(QUERIES_PER_CALL);
        let ok = data.calls == minimum && rule.num_calls() == minimum;
        missed |= !ok;
        println!(
            "{count:>8} {:>8} {minimum:>8}  {}",
            data.calls,
            if ok { "ok" } else { "FAIL" }
        );
    }
    if missed {
        std::process::exit(1);
    }
}

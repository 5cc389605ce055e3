//! API economy of the alarm blocker: DescribeAlarms calls per decision for 10, 100 and 1,000
//! named alarms, against the minimum the API allows (100 names per call). Exits non-zero when
//! a decision costs more than the minimum. Run with `benches/run`.

use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use handsoff::alarms::AlarmSelection;
use handsoff::ports::alarms::{AlarmSource, CloudWatchAlarms, NAMES_PER_CALL};

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
    if missed {
        std::process::exit(1);
    }
}

//! The CloudWatch ports through aws-sdk-cloudwatch's rpc-v2-cbor protocol against moto_server,
//! via the harness's bridge (moto answers CloudWatch only in JSON/query): alarms set with
//! PutMetricAlarm/SetAlarmState are read back with their state and reason, an ALARM episode
//! that already recovered is in the history, and metric data put is read with GetMetricData.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic};
use handsoff::alarms::{AlarmSelection, AlarmState};
use handsoff::ports::alarms::{AlarmHistory, AlarmSource, CloudWatchAlarms};
use handsoff::ports::metrics::{CloudWatchMetrics, MetricQuery, MetricsSource};
use handsoff_e2e::Moto;
use jiff::{SignedDuration, Timestamp};

async fn alarm(client: &aws_sdk_cloudwatch::Client, name: &str) {
    client
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
}

async fn set(client: &aws_sdk_cloudwatch::Client, name: &str, state: StateValue, reason: &str) {
    client
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason(reason)
        .send()
        .await
        .unwrap();
}

fn selection(names: &[&str], prefixes: &[&str]) -> AlarmSelection {
    AlarmSelection {
        names: names.iter().map(|name| name.to_string()).collect(),
        prefixes: prefixes.iter().map(|prefix| prefix.to_string()).collect(),
        role_arn: None,
        region: None,
    }
}

#[tokio::test]
async fn alarms_and_their_history_are_read_through_the_cbor_protocol() {
    let moto = Moto::start();
    let config = moto.sdk_config();
    let client = aws_sdk_cloudwatch::Client::new(&config);
    alarm(&client, "orders-api-5xx").await;
    alarm(&client, "orders-api-latency").await;
    alarm(&client, "payments-5xx").await;
    let since = Timestamp::now() - SignedDuration::from_secs(2);
    set(
        &client,
        "orders-api-5xx",
        StateValue::Alarm,
        "5xx above 1% for 3 of 3 datapoints",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    set(&client, "orders-api-5xx", StateValue::Ok, "back under 1%").await;
    set(&client, "orders-api-latency", StateValue::Alarm, "p99 above 800 ms").await;

    let alarms = CloudWatchAlarms::with_client(client.clone());
    let read = alarms.read(&selection(&[], &["orders-api-"]), 0).await.unwrap();
    let mut states: Vec<(String, AlarmState, String)> = read
        .readings
        .iter()
        .map(|reading| (reading.name.clone(), reading.state.clone(), reading.reason.clone()))
        .collect();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        states,
        vec![
            ("orders-api-5xx".into(), AlarmState::Ok, "back under 1%".into()),
            (
                "orders-api-latency".into(),
                AlarmState::Alarm,
                "p99 above 800 ms".into()
            ),
        ]
    );

    let (episodes, calls) = alarms
        .alarm_episodes(
            &selection(&["orders-api-5xx"], &[]),
            since,
            Timestamp::now() + SignedDuration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(episodes.len(), 1, "{episodes:?}");
    assert_eq!(episodes[0].alarm, "orders-api-5xx");
    assert_eq!(episodes[0].summary, "Alarm updated from OK to ALARM");
    let (prefixed, _) = alarms
        .alarm_episodes(
            &selection(&[], &["orders-api-"]),
            since,
            Timestamp::now() + SignedDuration::from_secs(5),
        )
        .await
        .unwrap();
    let names: Vec<&str> = prefixed.iter().map(|episode| episode.alarm.as_str()).collect();
    assert_eq!(names, ["orders-api-5xx", "orders-api-latency"]);
}

#[tokio::test]
async fn metric_data_put_is_read_back_with_get_metric_data() {
    let moto = Moto::start();
    let client = aws_sdk_cloudwatch::Client::new(&moto.sdk_config());
    let now = Timestamp::now();
    for (function, value) in [("orders-api", 120.0), ("orders-api-canary", 7.0)] {
        client
            .put_metric_data()
            .namespace("AWS/Lambda")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Invocations")
                    .dimensions(Dimension::builder().name("FunctionName").value(function).build())
                    .value(value)
                    .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(now.as_second()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let query = |id: &str, function: &str| MetricQuery {
        id: id.into(),
        namespace: "AWS/Lambda".into(),
        metric: "Invocations".into(),
        dimensions: BTreeMap::from([("FunctionName".to_string(), function.to_string())]),
        stat: "Sum".into(),
    };
    let data = CloudWatchMetrics::new(client)
        .metric_data(
            &[query("fleet", "orders-api"), query("canary", "orders-api-canary")],
            now - SignedDuration::from_mins(10),
            now + SignedDuration::from_mins(1),
            60,
        )
        .await
        .unwrap();
    assert_eq!(data.calls, 1);
    let total = |id: &str| data.series[id].iter().map(|(_, value)| value).sum::<f64>();
    assert_eq!((total("fleet"), total("canary")), (120.0, 7.0));
}

#[tokio::test]
async fn alarms_in_another_region_are_read_through_an_assumed_role() {
    // Through the harness's router, which records each AWS operation on its way to moto.
    let stack = handsoff_e2e::MotoWithLambdas::start();
    // Loaded as the functions load theirs (a time source and sleep for the STS provider).
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{}", stack.router_port()))
        .credentials_provider(aws_credential_types::Credentials::new(
            "home", "home", None, None, "test",
        ))
        .load()
        .await;
    // The alarm lives in the other account (moto keeps accounts apart by the caller's
    // credentials, as AWS does) and in another region.
    let role = "arn:aws:iam::111122223333:role/handsoff-read-alarms";
    let other_account = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name("setup")
        .configure(&config)
        .build()
        .await;
    let west = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&config)
            .region(aws_config::Region::new("us-west-2"))
            .credentials_provider(other_account)
            .build(),
    );
    alarm(&west, "org-large-scale-event").await;
    set(&west, "org-large-scale-event", StateValue::Alarm, "LSE declared").await;
    stack.take_operations();

    let alarms = CloudWatchAlarms::new(&config);
    let mut elsewhere = selection(&["org-large-scale-event"], &[]);
    elsewhere.role_arn = Some(role.into());
    elsewhere.region = Some("us-west-2".into());
    let read = alarms.read(&elsewhere, 0).await.unwrap();
    assert_eq!(read.readings.len(), 1);
    assert_eq!(
        (read.readings[0].state.clone(), read.readings[0].reason.as_str()),
        (AlarmState::Alarm, "LSE declared")
    );
    assert_eq!(stack.take_operations(), ["AssumeRole", "DescribeAlarms"]);

    // The same name in the home account and region does not exist: the role and region found it.
    let home = alarms
        .read(&selection(&["org-large-scale-event"], &[]), 0)
        .await
        .unwrap();
    assert!(
        home.readings.iter().all(|reading| reading.state != AlarmState::Alarm),
        "{:?}",
        home.readings
    );
}

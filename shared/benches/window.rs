//! Time-window evaluation speed. Target (issue: foundation): one evaluation of a policy with 10
//! windows and 100 deny dates whose next opening is 3 months away, under 50 µs.
//! Run with `benches/run` (checks the target) or `cargo bench -p handsoff --bench window`.

use divan::{Bencher, black_box};
use handsoff::policy::Policy;
use handsoff::window::{Schedule, evaluate};
use jiff::Timestamp;

fn main() {
    divan::main();
}

/// Ten weekday windows; every day from 2026-01-05 for 100 days denied, one date each: on
/// 2026-01-05 the next opening is 2026-04-15, over three months away.
fn far_opening_policy() -> String {
    let windows: Vec<String> = (0..10)
        .map(|i| {
            let days = ["Mon-Fri", "Mon-Thu", "Tue,Thu", "Mon,Wed,Fri", "Fri-Mon"][i % 5];
            format!(
                r#"{{"days": "{days}", "start": "{:02}:00", "end": "{:02}:30"}}"#,
                6 + i,
                7 + i
            )
        })
        .collect();
    let mut date = jiff::civil::date(2026, 1, 5);
    let mut deny = Vec::new();
    for i in 0..100 {
        deny.push(format!(r#"{{"date": "{date}", "reason": "freeze day {i}"}}"#));
        date = date.tomorrow().unwrap();
    }
    format!(
        r#"{{"windows": {{"timezone": "America/New_York", "allow": [{}], "deny": [{}], "min_time_left": "15m"}}}}"#,
        windows.join(","),
        deny.join(",")
    )
}

const AT: &str = "2026-01-05T15:00:00Z";

#[divan::bench]
fn evaluate_far_opening(bencher: Bencher) {
    let policy = Policy::from_json(&far_opening_policy()).unwrap();
    let windows = policy.windows().unwrap().clone();
    let at: Timestamp = AT.parse().unwrap();
    let status = evaluate(&windows, at);
    assert_eq!(
        status.opens_at,
        Some("2026-04-15T10:00:00Z".parse().unwrap()),
        "{}",
        status.sentence()
    );
    bencher.bench(|| evaluate(black_box(&windows), black_box(at)));
}

#[divan::bench]
fn status_on_compiled_schedule(bencher: Bencher) {
    let policy = Policy::from_json(&far_opening_policy()).unwrap();
    let windows = policy.windows().unwrap().clone();
    let schedule = Schedule::new(&windows);
    let at: Timestamp = AT.parse().unwrap();
    bencher.bench(|| schedule.status_at(black_box(&windows), black_box(at)));
}

#[divan::bench]
fn parse_and_evaluate(bencher: Bencher) {
    let text = far_opening_policy();
    let at: Timestamp = AT.parse().unwrap();
    bencher.bench(|| {
        let policy = Policy::from_json(black_box(&text)).unwrap();
        evaluate(policy.windows().unwrap(), at)
    });
}

#[divan::bench]
fn evaluate_open_business_hours(bencher: Bencher) {
    let text = r#"{"windows": {"timezone": "America/Los_Angeles", "allow": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}],
        "deny": [{"date": "2026-11-26", "reason": "Thanksgiving"}], "min_time_left": "1h"}}"#;
    let policy = Policy::from_json(text).unwrap();
    let windows = policy.windows().unwrap().clone();
    let at: Timestamp = "2026-11-24T18:00:00Z".parse().unwrap();
    bencher.bench(|| evaluate(black_box(&windows), black_box(at)));
}

/// The most work one evaluation can be made to do within the parse-time caps: 10 cron windows
/// opening every 10 minutes for 1 minute and 50 one-minute allow windows, none leaving more
/// than `min_time_left`, so the search walks the whole year (and 499 deny dates) finding
/// nothing. Target: under 50 ms, far inside the gate's deadline margin.
fn worst_case_policy() -> String {
    let cron: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"expression": "{i}/10 * ? * * *", "duration": "1m"}}"#))
        .collect();
    // One-minute windows at hh:05 and hh:35 of 25 distinct half-hours, apart from the crons.
    let allow: Vec<String> = (0..50)
        .map(|i| {
            let (hour, minute) = ((i / 2) % 24, 5 + (i % 2) * 30 + (i / 48) * 2);
            format!(
                r#"{{"days": "Mon-Sun", "start": "{hour:02}:{minute:02}", "end": "{hour:02}:{:02}"}}"#,
                minute + 1
            )
        })
        .collect();
    let mut date = jiff::civil::date(2027, 1, 1);
    let mut deny = Vec::new();
    for i in 0..499 {
        deny.push(format!(r#"{{"date": "{date}", "reason": "holiday {i}"}}"#));
        date = date.tomorrow().unwrap().tomorrow().unwrap();
    }
    format!(
        r#"{{"windows": {{"timezone": "America/New_York", "allow": [{}], "cron": [{}], "deny": [{}], "min_time_left": "1h"}}}}"#,
        allow.join(","),
        cron.join(","),
        deny.join(",")
    )
}

#[divan::bench(sample_count = 10)]
fn worst_case_within_caps(bencher: Bencher) {
    let policy = Policy::from_json(&worst_case_policy()).unwrap();
    let windows = policy.windows().unwrap().clone();
    let at: Timestamp = AT.parse().unwrap();
    assert_eq!(
        evaluate(&windows, at).opens_at,
        None,
        "never opens: the whole year is searched"
    );
    bencher.bench(|| evaluate(black_box(&windows), black_box(at)));
}

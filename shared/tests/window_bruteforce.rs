//! Property: `opens_at` and `closes_at` agree with a brute-force minute scan of the same policy.
//!
//! The scan shares nothing with the schedule code but the cron matcher (table-tested on its
//! own): it marks covered wall-clock minutes, unmarks denied days, then walks real minutes
//! through jiff's own offset lookup.

use handsoff::policy::Policy;
use handsoff::window::civil::{DAY, days_from_civil, weekday};
use handsoff::window::{WindowPolicy, evaluate};
use jiff::Timestamp;
use proptest::prelude::*;

const ZONES: [&str; 6] = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Los_Angeles",
    "UTC",
];
const CRONS: [&str; 6] = [
    "0 9 ? * MON-FRI *",
    "30 22 ? * FRI *",
    "0 0/6 ? * * *",
    "0 2 L * ? *",
    "15 1 ? * 1#1 *",
    "0 12 15W * ? *",
];
/// Dates near DST changes in the zones above, and one far from any.
const DATES: [(i64, u32, u32); 7] = [
    (2026, 3, 8),
    (2026, 11, 1),
    (2026, 3, 29),
    (2026, 10, 25),
    (2026, 4, 5),
    (2026, 10, 4),
    (2026, 6, 15),
];
const SCAN_DAYS: i64 = 16;
const MINUTE: i64 = 60;

#[derive(Debug, Clone)]
struct Case {
    json: String,
    at: i64,
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn days_text(bits: u8) -> String {
    let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    (0..7)
        .filter(|day| bits & (1 << day) != 0)
        .map(|day| names[day])
        .collect::<Vec<_>>()
        .join(",")
}

fn date_text(day: i64) -> String {
    let (y, m, d) = handsoff::window::civil::civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn case() -> impl Strategy<Value = Case> {
    let allow = prop::collection::vec((1u8..128, 0u32..96, 1u32..97), 0..4);
    let cron = prop::collection::vec((0usize..CRONS.len(), 1u32..25), 0..2);
    let deny = prop::collection::vec((-3i64..15, 0i64..4), 0..3);
    let min_time_left = prop::sample::select(vec![0u32, 15, 30, 60, 120]);
    (0usize..ZONES.len(), allow, cron, deny, min_time_left, 0usize..DATES.len(), 0i64..(4 * 24 * 60))
        .prop_filter("at least one window", |(_, allow, cron, ..)| !allow.is_empty() || !cron.is_empty())
        .prop_map(|(zone, allow, cron, deny, min_time_left, date, minute)| {
            let (y, m, d) = DATES[date];
            let at = (days_from_civil(y, m, d) - 2) * DAY + minute * MINUTE;
            let allow: Vec<String> = allow
                .into_iter()
                .map(|(days, start, end)| {
                    let end = if end == start { (end + 1).min(96) } else { end };
                    let (start, end) = if end == start { (start - 1, end) } else { (start, end) };
                    format!(r#"{{"days": "{}", "start": "{}", "end": "{}"}}"#, days_text(days), hhmm(start * 15), hhmm(end * 15))
                })
                .collect();
            let cron: Vec<String> = cron
                .into_iter()
                .map(|(index, quarters)| format!(r#"{{"expression": "{}", "duration": "{}m"}}"#, CRONS[index], quarters * 15))
                .collect();
            let today = at.div_euclid(DAY);
            let deny: Vec<String> = deny
                .into_iter()
                .map(|(from, len)| format!(r#"{{"from": "{}", "to": "{}", "reason": "r"}}"#, date_text(today + from), date_text(today + from + len)))
                .collect();
            let json = format!(
                r#"{{"windows": {{"timezone": "{}", "allow": [{}], "cron": [{}], "deny": [{}], "min_time_left": "{}m"}}}}"#,
                ZONES[zone], allow.join(","), cron.join(","), deny.join(","), min_time_left
            );
            Case { json, at }
        })
}

/// Open/closed for every real minute in [from, to), straight from the definition.
fn scan(policy: &WindowPolicy, from: i64, to: i64) -> Vec<bool> {
    let tz = policy.timezone.tz();
    let civil_from = (from - 2 * DAY).div_euclid(DAY) - 8; // room for week-long cron windows
    let civil_to = to.div_euclid(DAY) + 2;
    let minutes_per_day = DAY / MINUTE;
    let mut covered = vec![false; ((civil_to - civil_from + 2) * minutes_per_day) as usize];
    let mut mark = |start: i64, end: i64| {
        for minute in start.max(civil_from * minutes_per_day)..end.min((civil_to + 2) * minutes_per_day) {
            covered[(minute - civil_from * minutes_per_day) as usize] = true;
        }
    };
    for day in civil_from..=civil_to {
        for window in &policy.allow {
            if window.days.contains(weekday(day)) {
                let start = i64::from(window.start.minutes());
                let mut end = i64::from(window.end.minutes());
                if end <= start {
                    end += minutes_per_day;
                }
                mark(day * minutes_per_day + start, day * minutes_per_day + end);
            }
        }
        for window in &policy.cron {
            if window.expression.fires_on(day) {
                for fire in window.expression.fire_times() {
                    let start = day * minutes_per_day + fire / MINUTE;
                    mark(start, start + window.duration.as_secs_i64() / MINUTE);
                }
            }
        }
    }
    for deny in &policy.deny {
        let (first, last) = deny.range().unwrap();
        let first = handsoff::window::civil::day_of_date(first.0);
        let last = handsoff::window::civil::day_of_date(last.0);
        for day in first.max(civil_from)..=last.min(civil_to) {
            for minute in 0..minutes_per_day {
                covered[((day - civil_from) * minutes_per_day + minute) as usize] = false;
            }
        }
    }
    (from / MINUTE..to / MINUTE)
        .map(|minute| {
            let instant = Timestamp::from_second(minute * MINUTE).unwrap();
            let civil = minute * MINUTE + i64::from(tz.to_offset(instant).seconds());
            covered[(civil.div_euclid(MINUTE) - civil_from * minutes_per_day) as usize]
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn opens_and_closes_agree_with_a_minute_scan(case in case()) {
        let policy = Policy::from_json(&case.json).unwrap();
        let policy = policy.windows().unwrap();
        let status = evaluate(policy, Timestamp::from_second(case.at).unwrap());
        let end = case.at + SCAN_DAYS * DAY;
        let open = scan(policy, case.at, end);
        let min_time_left = policy.min_time_left.as_secs_i64() / MINUTE;
        let at_minute = 0usize;

        // The stretch of open minutes starting at index i: its end index, or None if it runs
        // past the scan.
        let stretch_end = |i: usize| (i..open.len()).find(|&j| !open[j]);
        let minute_ts = |i: usize| Timestamp::from_second(case.at + i as i64 * MINUTE).unwrap();

        if open[at_minute] {
            match stretch_end(at_minute) {
                Some(end_index) => {
                    let remaining = (end_index - at_minute) as i64;
                    prop_assert_eq!(status.open, remaining > min_time_left, "{} {}", case.json, status.sentence());
                    if status.open {
                        prop_assert_eq!(status.closes_at, Some(minute_ts(end_index - min_time_left as usize)));
                        return Ok(());
                    }
                }
                None => {
                    prop_assert!(status.open, "{}", status.sentence());
                    let closes = status.closes_at.map(|at| at.as_second());
                    prop_assert!(closes.is_none_or(|closes| closes >= end - min_time_left * MINUTE), "{}", status.sentence());
                    return Ok(());
                }
            }
        } else {
            prop_assert!(!status.open, "{} at {}: {}", case.json, case.at, status.sentence());
        }

        // Closed: the first later stretch longer than min_time_left opens.
        let mut i = if open[at_minute] { stretch_end(at_minute).unwrap() } else { at_minute };
        loop {
            let Some(start) = (i..open.len()).find(|&j| open[j]) else {
                let opens = status.opens_at.map(|at| at.as_second());
                prop_assert!(opens.is_none_or(|opens| opens >= end), "{}: {}", case.json, status.sentence());
                break;
            };
            let Some(stop) = stretch_end(start) else {
                // Runs past the scan: the answer is here or later.
                let opens = status.opens_at.map(|at| at.as_second());
                prop_assert!(opens.is_none_or(|opens| opens >= minute_ts(start).as_second()), "{}", status.sentence());
                break;
            };
            if (stop - start) as i64 > min_time_left {
                prop_assert_eq!(status.opens_at, Some(minute_ts(start)), "{} at {}: {}", case.json, case.at, status.sentence());
                break;
            }
            i = stop;
        }
    }
}

//! Table tests of the pinned window semantics (docs/policy.md, "Time windows") across DST.

use handsoff::policy::Policy;
use handsoff::window::{ClosedBy, WindowStatus, evaluate};
use jiff::Timestamp;

fn status(windows: &str, at: &str) -> WindowStatus {
    let policy = Policy::from_json(&format!(r#"{{"windows": {windows}}}"#)).unwrap();
    evaluate(policy.windows().unwrap(), at.parse().unwrap())
}

fn ts(text: &str) -> Option<Timestamp> {
    Some(text.parse().unwrap())
}

/// (policy, instant, open, opens_at, closes_at)
type Case = (
    &'static str,
    &'static str,
    bool,
    Option<&'static str>,
    Option<&'static str>,
);

fn check(cases: &[Case]) {
    for (windows, at, open, opens_at, closes_at) in cases {
        let status = status(windows, at);
        let want = (*open, opens_at.and_then(ts), closes_at.and_then(ts));
        assert_eq!(
            (status.open, status.opens_at, status.closes_at),
            want,
            "\npolicy {windows}\nat {at}: {}",
            status.sentence()
        );
    }
}

const NY_OFFICE: &str = r#"{"timezone": "America/New_York", "allow": [{"days": "Mon-Fri", "start": "09:00", "end": "17:00"}], "min_time_left": "30m"}"#;

#[test]
fn america_new_york_business_hours_and_dst() {
    check(&[
        // Monday 10:00 EST: open until 16:30 (17:00 less min_time_left).
        (
            NY_OFFICE,
            "2026-11-23T15:00:00Z",
            true,
            None,
            Some("2026-11-23T21:30:00Z"),
        ),
        // Friday 16:45 EST: inside the window, but only 15m left: closed until Monday.
        (
            NY_OFFICE,
            "2026-11-27T21:45:00Z",
            false,
            Some("2026-11-30T14:00:00Z"),
            None,
        ),
        // Exactly at the closing instant: closed. One second before: open.
        (
            NY_OFFICE,
            "2026-11-23T21:30:00Z",
            false,
            Some("2026-11-24T14:00:00Z"),
            None,
        ),
        (
            NY_OFFICE,
            "2026-11-23T21:29:59Z",
            true,
            None,
            Some("2026-11-23T21:30:00Z"),
        ),
        // Saturday before the spring-forward Sunday: opens Monday 09:00 EDT (13:00Z).
        (
            NY_OFFICE,
            "2026-03-07T15:00:00Z",
            false,
            Some("2026-03-09T13:00:00Z"),
            None,
        ),
        // Spring forward: Sun 01:00-04:00 local is two real hours (02:00-03:00 does not exist).
        (
            r#"{"timezone": "America/New_York", "allow": [{"days": "Sun", "start": "01:00", "end": "04:00"}]}"#,
            "2026-03-08T06:30:00Z",
            true,
            None,
            Some("2026-03-08T08:00:00Z"),
        ),
        // ... so with min_time_left 2h it never opens that night; the next Sunday has three hours.
        (
            r#"{"timezone": "America/New_York", "allow": [{"days": "Sun", "start": "01:00", "end": "04:00"}], "min_time_left": "2h"}"#,
            "2026-03-08T05:00:00Z",
            false,
            Some("2026-03-15T05:00:00Z"),
            None,
        ),
        // Fall back: 01:00-01:30 local happens twice, 05:00-05:30Z (EDT) and 06:00-06:30Z (EST).
        (
            r#"{"timezone": "America/New_York", "allow": [{"days": "Sun", "start": "01:00", "end": "01:30"}]}"#,
            "2026-11-01T05:10:00Z",
            true,
            None,
            Some("2026-11-01T05:30:00Z"),
        ),
        (
            r#"{"timezone": "America/New_York", "allow": [{"days": "Sun", "start": "01:00", "end": "01:30"}]}"#,
            "2026-11-01T05:40:00Z",
            false,
            Some("2026-11-01T06:00:00Z"),
            None,
        ),
    ]);
}

#[test]
fn europe_london_dst() {
    check(&[
        // 2026-03-29 01:00 GMT becomes 02:00 BST: daily 00:30-02:30 is one real hour that night.
        (
            r#"{"timezone": "Europe/London", "allow": [{"days": "Sun", "start": "00:30", "end": "02:30"}]}"#,
            "2026-03-29T00:45:00Z",
            true,
            None,
            Some("2026-03-29T01:30:00Z"),
        ),
        // 2026-10-25 02:00 BST falls back to 01:00 GMT: 01:00-02:00 local twice, back to back,
        // is one two-hour stretch.
        (
            r#"{"timezone": "Europe/London", "allow": [{"days": "Sun", "start": "01:00", "end": "02:00"}]}"#,
            "2026-10-25T00:30:00Z",
            true,
            None,
            Some("2026-10-25T02:00:00Z"),
        ),
        (
            r#"{"timezone": "Europe/London", "allow": [{"days": "Sun", "start": "01:00", "end": "02:00"}], "min_time_left": "90m"}"#,
            "2026-10-25T00:20:00Z",
            true,
            None,
            Some("2026-10-25T00:30:00Z"),
        ),
        // Summer: 09:00 BST is 08:00Z.
        (
            r#"{"timezone": "Europe/London", "allow": [{"days": "Mon-Fri", "start": "09:00", "end": "17:00"}]}"#,
            "2026-06-15T07:00:00Z",
            false,
            Some("2026-06-15T08:00:00Z"),
            None,
        ),
    ]);
}

#[test]
fn australia_lord_howe_half_hour_shift() {
    check(&[
        // 2026-10-04 02:00 (+10:30) jumps to 02:30 (+11): 01:00-03:00 local is 90 real minutes.
        (
            r#"{"timezone": "Australia/Lord_Howe", "allow": [{"days": "Sun", "start": "01:00", "end": "03:00"}]}"#,
            "2026-10-03T15:00:00Z",
            true,
            None,
            Some("2026-10-03T16:00:00Z"),
        ),
        (
            r#"{"timezone": "Australia/Lord_Howe", "allow": [{"days": "Sun", "start": "01:00", "end": "03:00"}], "min_time_left": "90m"}"#,
            "2026-10-03T14:00:00Z",
            false,
            Some("2026-10-10T14:00:00Z"),
            None,
        ),
        // 2026-04-05 02:00 (+11) falls back to 01:30 (+10:30): 01:30-02:00 local twice, back to
        // back: one hour of real time.
        (
            r#"{"timezone": "Australia/Lord_Howe", "allow": [{"days": "Sun", "start": "01:30", "end": "02:00"}]}"#,
            "2026-04-04T14:40:00Z",
            true,
            None,
            Some("2026-04-04T15:30:00Z"),
        ),
    ]);
}

#[test]
fn asia_kathmandu_quarter_hour_offset() {
    let office = r#"{"timezone": "Asia/Kathmandu", "allow": [{"days": "Mon-Fri", "start": "09:00", "end": "17:00"}]}"#;
    check(&[
        (
            office,
            "2026-11-23T03:00:00Z",
            false,
            Some("2026-11-23T03:15:00Z"),
            None,
        ),
        (office, "2026-11-23T04:00:00Z", true, None, Some("2026-11-23T11:15:00Z")),
    ]);
}

#[test]
fn windows_crossing_midnight_belong_to_their_start_day() {
    let friday_night = r#"{"timezone": "UTC", "allow": [{"days": "Fri", "start": "22:00", "end": "02:00"}]}"#;
    check(&[
        (
            friday_night,
            "2026-11-28T01:00:00Z",
            true,
            None,
            Some("2026-11-28T02:00:00Z"),
        ), // Saturday 01:00
        (
            friday_night,
            "2026-11-28T22:30:00Z",
            false,
            Some("2026-12-04T22:00:00Z"),
            None,
        ), // Saturday night is not Friday
        // 24:00 meets the next day's 00:00: one stretch.
        (
            r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "18:00", "end": "24:00"}, {"days": "Tue", "start": "00:00", "end": "06:00"}]}"#,
            "2026-11-23T20:00:00Z",
            true,
            None,
            Some("2026-11-24T06:00:00Z"),
        ),
    ]);
}

const LA_TEAM: &str = r#"{"timezone": "America/Los_Angeles",
    "allow": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}],
    "deny": [{"date": "2026-11-26", "reason": "Thanksgiving"}, {"from": "2026-12-19", "to": "2027-01-03", "reason": "Year-end freeze"}],
    "min_time_left": "1h"}"#;

#[test]
fn deny_dates_and_ranges_close_whole_local_days() {
    let thanksgiving = status(LA_TEAM, "2026-11-26T18:00:00Z");
    assert!(!thanksgiving.open);
    assert_eq!(thanksgiving.opens_at, ts("2026-11-30T17:00:00Z"));
    assert_eq!(
        thanksgiving.closed_by,
        Some(ClosedBy::Denied {
            reason: "Thanksgiving".into(),
            dates: "deny 2026-11-26".into()
        })
    );
    assert_eq!(
        thanksgiving.sentence(),
        "closed: Thanksgiving (deny 2026-11-26); opens Mon 09:00 PST"
    );

    let freeze = status(LA_TEAM, "2026-12-21T18:00:00Z");
    assert_eq!(freeze.opens_at, ts("2027-01-04T17:00:00Z"));
    assert_eq!(
        freeze.sentence(),
        "closed: Year-end freeze (deny 2026-12-19 to 2027-01-03); opens Mon 2027-01-04 09:00 PST"
    );

    // The day before the freeze: open until 15:00 (16:00 less min_time_left).
    check(&[(
        LA_TEAM,
        "2026-12-17T18:00:00Z",
        true,
        None,
        Some("2026-12-17T23:00:00Z"),
    )]);
}

#[test]
fn min_time_left_closes_early_and_can_keep_a_short_window_shut() {
    let closing = status(LA_TEAM, "2026-11-24T23:30:00Z"); // Tue 15:30 PST
    assert!(!closing.open);
    assert!(matches!(closing.closed_by, Some(ClosedBy::ClosingSoon { .. })));
    assert_eq!(
        closing.sentence(),
        "closed: no more than 1h (min_time_left) left before the window ends at Tue 16:00 PST; opens Wed 09:00 PST"
    );

    // A window no longer than min_time_left never opens.
    let never = status(
        r#"{"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "09:00", "end": "10:00"}], "min_time_left": "1h"}"#,
        "2026-11-23T08:00:00Z",
    );
    assert_eq!((never.open, never.opens_at), (false, None));
    assert_eq!(
        never.sentence(),
        "closed: outside the allowed windows; no opening within 366 days"
    );
}

#[test]
fn cron_windows_open_for_their_duration() {
    let friday_cron = r#"{"timezone": "UTC", "cron": [{"expression": "cron(0 22 ? * FRI *)", "duration": "4h"}]}"#;
    let thanksgiving_cron =
        r#"{"timezone": "America/New_York", "cron": [{"expression": "0 10 ? * 5#4 *", "duration": "2h"}]}"#;
    let every_six_hours =
        r#"{"timezone": "UTC", "cron": [{"expression": "0 0/6 ? * * *", "duration": "6h"}], "min_time_left": "1h"}"#;
    check(&[
        (
            friday_cron,
            "2026-11-28T01:00:00Z",
            true,
            None,
            Some("2026-11-28T02:00:00Z"),
        ),
        (
            friday_cron,
            "2026-11-28T03:00:00Z",
            false,
            Some("2026-12-04T22:00:00Z"),
            None,
        ),
        (
            thanksgiving_cron,
            "2026-11-01T12:00:00Z",
            false,
            Some("2026-11-26T15:00:00Z"),
            None,
        ),
        // Firings every 6h for 6h make one endless stretch: no closing within the horizon.
        (every_six_hours, "2026-11-23T08:00:00Z", true, None, None),
    ]);
    let open = status(friday_cron, "2026-11-28T01:00:00Z");
    assert_eq!(open.window.as_deref(), Some("cron[0] cron(0 22 ? * FRI *) for 4h"));
}

#[test]
fn open_sentence_names_the_window_and_the_last_start() {
    let open = status(LA_TEAM, "2026-11-24T18:00:00Z");
    assert_eq!(
        open.sentence(),
        "open: allow[0] Mon-Thu 09:00-16:00; deployments may start until Tue 15:00 PST"
    );
}

#[test]
fn a_window_crossing_out_of_a_denied_day_opens_after_midnight() {
    // Friday is denied, Saturday is not: Friday's 22:00-02:00 window is open 00:00-02:00 Saturday.
    let policy = r#"{"timezone": "UTC", "allow": [{"days": "Fri", "start": "22:00", "end": "02:00"}],
        "deny": [{"from": "2026-11-25", "to": "2026-11-27", "reason": "release freeze"}]}"#;
    check(&[
        (
            policy,
            "2026-11-27T23:00:00Z",
            false,
            Some("2026-11-28T00:00:00Z"),
            None,
        ),
        (policy, "2026-11-28T00:30:00Z", true, None, Some("2026-11-28T02:00:00Z")),
    ]);
    assert_eq!(
        status(policy, "2026-11-27T23:00:00Z").sentence(),
        "closed: release freeze (deny 2026-11-25 to 2026-11-27); opens Sat 00:00 UTC"
    );
}

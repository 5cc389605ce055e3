//! The `windows` section of a policy, as written, and its checks.
//!
//! Over 400 lines with its tests: the section's types and one check per field, which the JSON
//! Schema publishes together.

use std::fmt;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::civil::DAY;
use super::clock::ClockTime;
use super::cron::Cron;
use super::days::DaySet;
use crate::duration::HumanDuration;
use crate::policy::PolicyError;

/// Longest a cron window may stay open: a week. Longer windows are better written as `allow`.
pub const MAX_CRON_DURATION: HumanDuration = HumanDuration::from_secs(7 * DAY as u64);

// Caps that bound one evaluation (pure computation, which no deadline can interrupt): the
// search looks a year ahead, day by day, through every window's openings that day. At these
// caps the worst case stays within milliseconds (benches/window.rs, `worst_case_within_caps`).
/// Most `allow` windows a policy may have.
pub const MAX_ALLOW: usize = 50;
/// Most `cron` windows a policy may have.
pub const MAX_CRON: usize = 10;
/// Most times a day one cron window may open (every 10 minutes); one open most of the day is
/// an `allow` window.
pub const MAX_CRON_FIRES_PER_DAY: usize = 144;
/// Most `deny` entries a policy may have (years of holidays fit).
pub const MAX_DENY: usize = 500;
/// Most Change Calendars a policy may name (one `GetCalendarState` call reads them all).
pub const MAX_CALENDARS: usize = 10;

/// An SSM document name, or a document ARN (`arn:PARTITION:ssm:REGION:ACCOUNT:document/NAME`).
fn is_calendar_name(text: &str) -> bool {
    let name_ok = |name: &str| {
        (3..=128).contains(&name.len())
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"_-.".contains(&byte))
    };
    match text.strip_prefix("arn:") {
        None => name_ok(text),
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            matches!(parts.as_slice(), [partition, "ssm", region, account, resource]
                if partition.starts_with("aws")
                    && !region.is_empty()
                    && region.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
                    && account.len() == 12
                    && account.bytes().all(|byte| byte.is_ascii_digit())
                    && resource.strip_prefix("document/").is_some_and(name_ok))
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowPolicy {
    /// IANA time zone in which every window and date is read, e.g. `America/Los_Angeles`.
    pub timezone: Zone,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<AllowWindow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<DenyDates>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cron: Vec<CronWindow>,
    /// A deployment may start only while more than this remains of the open stretch.
    #[serde(default)]
    pub min_time_left: HumanDuration,
    #[serde(default)]
    pub when_closed: WhenClosed,
    /// Longest the gate may keep a deployment waiting for the next opening; beyond it, block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait: Option<HumanDuration>,
    /// SSM Change Calendars (names, or ARNs of shared ones) that must all be OPEN as well; a
    /// calendar that cannot be read closes the window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calendars: Vec<String>,
}

/// What the gate does outside the windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WhenClosed {
    /// Hold the deployment until the next opening.
    #[default]
    Wait,
    /// Stop the deployment now.
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowWindow {
    pub days: DaySet,
    pub start: ClockTime,
    /// Local end; `24:00` is midnight at the end of the day, and an end before the start crosses
    /// midnight (the window belongs to the day it starts).
    pub end: ClockTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyDates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<LocalDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<LocalDate>,
    /// Inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<LocalDate>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CronWindow {
    /// When the window opens, in the policy's time zone.
    pub expression: Cron,
    /// How long it stays open on the wall clock.
    pub duration: HumanDuration,
}

impl WindowPolicy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.allow.is_empty() && self.cron.is_empty() {
            return Err(PolicyError::new(
                "policy",
                "no windows: give at least one `allow` window (days, start, end) or `cron` window; a policy without them never opens",
            ));
        }
        for (field, count, max) in [
            ("allow", self.allow.len(), MAX_ALLOW),
            ("cron", self.cron.len(), MAX_CRON),
            ("deny", self.deny.len(), MAX_DENY),
        ] {
            if count > max {
                return Err(PolicyError::new(
                    field,
                    format!("{count} entries; at most {max} are allowed (merge ranges, or split the policy)"),
                ));
            }
        }
        for (index, window) in self.allow.iter().enumerate() {
            if window.start == ClockTime::END_OF_DAY {
                return Err(PolicyError::new(
                    format!("allow[{index}].start"),
                    "24:00 is the end of a day; a window starts at 00:00 to 23:59",
                ));
            }
            if window.start == window.end {
                return Err(PolicyError::new(
                    format!("allow[{index}].end"),
                    format!("equals start ({}); write 00:00 to 24:00 for a whole day", window.start),
                ));
            }
        }
        for (index, deny) in self.deny.iter().enumerate() {
            deny.range()
                .map_err(|message| PolicyError::new(format!("deny[{index}]"), message))?;
            if deny.reason.trim().is_empty() {
                return Err(PolicyError::new(
                    format!("deny[{index}].reason"),
                    "empty: say why these dates are closed (it is shown to whoever is blocked)",
                ));
            }
        }
        for (index, window) in self.cron.iter().enumerate() {
            let fires = window.expression.fire_times().count();
            if fires > MAX_CRON_FIRES_PER_DAY {
                return Err(PolicyError::new(
                    format!("cron[{index}].expression"),
                    format!(
                        "`{}` opens {fires} times a day; a cron window may open at most {MAX_CRON_FIRES_PER_DAY} (every 10 minutes): for one open most of the day, write an `allow` window",
                        window.expression.as_str()
                    ),
                ));
            }
            if window.duration == HumanDuration::ZERO || window.duration > MAX_CRON_DURATION {
                return Err(PolicyError::new(
                    format!("cron[{index}].duration"),
                    format!(
                        "`{}` is not allowed; a cron window lasts from 1m to {MAX_CRON_DURATION}",
                        window.duration
                    ),
                ));
            }
        }
        if self.max_wait == Some(HumanDuration::ZERO) {
            return Err(PolicyError::new(
                "max_wait",
                "0s never waits; use when_closed: fail instead",
            ));
        }
        if self.calendars.len() > MAX_CALENDARS {
            return Err(PolicyError::new(
                "calendars",
                format!("{} entries; at most {MAX_CALENDARS}", self.calendars.len()),
            ));
        }
        for (index, calendar) in self.calendars.iter().enumerate() {
            if !is_calendar_name(calendar) {
                return Err(PolicyError::new(
                    format!("calendars[{index}]"),
                    "not an SSM Change Calendar: a document name (3 to 128 of A-Z a-z 0-9 _ - .) or its ARN (arn:aws:ssm:REGION:ACCOUNT:document/NAME)",
                ));
            }
        }
        Ok(())
    }
}

impl DenyDates {
    /// The inclusive range of local dates, from either `date` or `from`/`to`.
    pub fn range(&self) -> Result<(LocalDate, LocalDate), crate::error::Invalid> {
        match (self.date, self.from, self.to) {
            (Some(date), None, None) => Ok((date, date)),
            (None, Some(from), Some(to)) if from <= to => Ok((from, to)),
            (None, Some(from), Some(to)) => Err(format!("`from` ({from}) is after `to` ({to})").into()),
            _ => Err("give either `date`, or both `from` and `to` (inclusive local dates)".into()),
        }
    }

    pub fn describe(&self) -> String {
        match self.range() {
            Ok((from, to)) if from == to => format!("deny {from}"),
            Ok((from, to)) => format!("deny {from} to {to}"),
            Err(_) => "deny".to_string(),
        }
    }
}

impl fmt::Display for AllowWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}-{}", self.days, self.start, self.end)
    }
}

impl fmt::Display for CronWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} for {}", self.expression, self.duration)
    }
}

/// A local calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct LocalDate(pub jiff::civil::Date);

impl TryFrom<String> for LocalDate {
    type Error = crate::error::Invalid;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let valid_shape = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
        match text.parse::<jiff::civil::Date>() {
            Ok(date) if valid_shape => Ok(LocalDate(date)),
            _ => Err(format!("`{text}` is not a date; write a local date as YYYY-MM-DD, e.g. 2026-11-26").into()),
        }
    }
}

impl From<LocalDate> for String {
    fn from(date: LocalDate) -> String {
        date.to_string()
    }
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An IANA time zone, from the tz database bundled into the binary.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

/// A likely IANA name for the abbreviations people type, for the error hint.
fn suggestion(abbreviation: &str) -> &'static str {
    match abbreviation.to_ascii_uppercase().as_str() {
        "PST" | "PDT" | "PT" => "America/Los_Angeles",
        "MST" | "MDT" | "MT" => "America/Denver (or America/Phoenix, which keeps no DST)",
        "CST" | "CDT" | "CT" => "America/Chicago (CST is also China Standard Time: Asia/Shanghai)",
        "EST" | "EDT" | "ET" => "America/New_York",
        "GMT" | "BST" => "Europe/London (or UTC)",
        "CET" | "CEST" => "Europe/Paris or Europe/Berlin",
        "IST" => "Asia/Kolkata (IST is also Irish and Israel Standard Time)",
        "JST" => "Asia/Tokyo",
        "AEST" | "AEDT" => "Australia/Sydney",
        _ => "America/New_York or Europe/London",
    }
}

impl TryFrom<String> for Zone {
    type Error = crate::error::Invalid;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        // Abbreviations and legacy single-word names are ambiguous or deprecated: only
        // Area/Location names (and UTC) say exactly which rules apply.
        if name != "UTC" && !name.contains('/') {
            return Err(format!(
                "`{name}` is not an IANA time zone name; abbreviations are ambiguous and ignore DST rules. Use a name such as {}",
                suggestion(&name)
            ).into());
        }
        match TimeZone::get(&name) {
            Ok(tz) => Ok(Zone { name, tz }),
            Err(_) => Err(format!(
                "unknown time zone `{name}`; use an IANA name such as America/New_York, Europe/London or Asia/Kolkata"
            )
            .into()),
        }
    }
}

impl From<Zone> for String {
    fn from(zone: Zone) -> String {
        zone.name
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::Policy;

    fn error_of(windows: &str) -> String {
        Policy::from_json(&format!(r#"{{"windows": {windows}}}"#))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn abbreviated_and_unknown_zones_are_rejected_with_a_hint() {
        let error = error_of(r#"{"timezone": "CST", "allow": [{"days": "Mon", "start": "09:00", "end": "17:00"}]}"#);
        assert!(
            error.starts_with("windows.timezone: `CST` is not an IANA time zone name"),
            "{error}"
        );
        assert!(error.contains("America/Chicago"), "{error}");
        let error = error_of(
            r#"{"timezone": "America/New_Yrok", "allow": [{"days": "Mon", "start": "09:00", "end": "17:00"}]}"#,
        );
        assert!(error.contains("unknown time zone `America/New_Yrok`"), "{error}");
    }

    /// Before, a policy could hold any number of windows and a cron opening every minute: one
    /// evaluation (pure computation, which no deadline interrupts) could run for seconds.
    #[test]
    fn the_work_of_one_evaluation_is_capped_when_the_policy_is_read() {
        let allow = |count: usize| {
            let one = r#"{"days": "Mon", "start": "09:00", "end": "17:00"}"#;
            format!(r#"{{"timezone": "UTC", "allow": [{}]}}"#, vec![one; count].join(","))
        };
        assert!(Policy::from_json(&format!(r#"{{"windows": {}}}"#, allow(50))).is_ok());
        assert_eq!(
            error_of(&allow(51)),
            "windows.allow: 51 entries; at most 50 are allowed (merge ranges, or split the policy)"
        );
        let cron = |count: usize, expression: &str| {
            let one = format!(r#"{{"expression": "{expression}", "duration": "1m"}}"#);
            format!(r#"{{"timezone": "UTC", "cron": [{}]}}"#, vec![one; count].join(","))
        };
        assert!(Policy::from_json(&format!(r#"{{"windows": {}}}"#, cron(10, "0/10 * ? * * *"))).is_ok());
        assert!(error_of(&cron(11, "0 9 ? * * *")).starts_with("windows.cron: 11 entries; at most 10"));
        let error = error_of(&cron(1, "0/5 * ? * * *"));
        assert!(
            error.starts_with(
                "windows.cron[0].expression: `0/5 * ? * * *` opens 288 times a day; a cron window may open at most 144"
            ),
            "{error}"
        );
        let deny = |count: usize| {
            let one = r#"{"date": "2026-12-25", "reason": "x"}"#;
            format!(
                r#"{{"timezone": "UTC", "allow": [{{"days": "Mon", "start": "09:00", "end": "17:00"}}], "deny": [{}]}}"#,
                vec![one; count].join(",")
            )
        };
        assert!(Policy::from_json(&format!(r#"{{"windows": {}}}"#, deny(500))).is_ok());
        assert!(error_of(&deny(501)).starts_with("windows.deny: 501 entries; at most 500"));
    }

    #[test]
    fn every_rule_names_its_field() {
        for (windows, expected) in [
            (r#"{"timezone": "UTC"}"#, "windows: no windows"),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "24:00", "end": "23:00"}]}"#,
                "windows.allow[0].start: 24:00",
            ),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "09:00"}]}"#,
                "windows.allow[0].end: equals start",
            ),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00"}]}"#,
                "windows.allow[0]: missing field `end`",
            ),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00", "tz": "x"}]}"#,
                "windows.allow[0].tz: unknown field `tz`",
            ),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "deny": [{"date": "2026-11-26"}]}"#,
                "windows.deny[0]: missing field `reason`",
            ),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "deny": [{"date": "2026-11-26", "reason": " "}]}"#,
                "windows.deny[0].reason: empty",
            ),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "deny": [{"from": "2026-12-24", "reason": "x"}]}"#,
                "windows.deny[0]: give either `date`",
            ),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "deny": [{"from": "2026-12-24", "to": "2026-12-20", "reason": "x"}]}"#,
                "is after `to`",
            ),
            (
                r#"{"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "deny": [{"date": "2026-02-30", "reason": "x"}]}"#,
                "windows.deny[0].date: `2026-02-30` is not a date",
            ),
            (
                r#"{"timezone": "UTC", "cron": [{"expression": "0 9 ? * MON *", "duration": "8d"}]}"#,
                "windows.cron[0].duration: `8d` is not allowed",
            ),
            (
                r#"{"timezone": "UTC", "cron": [{"expression": "0 9 * * MON *", "duration": "1h"}]}"#,
                "windows.cron[0].expression: ",
            ),
            (
                r#"{"timezone": "UTC", "cron": [{"expression": "0 9 ? * MON *", "duration": "1h"}], "min_time_left": "30"}"#,
                "windows.min_time_left: `30` ends in a number",
            ),
            (
                r#"{"timezone": "UTC", "cron": [{"expression": "0 9 ? * MON *", "duration": "1h"}], "when_closed": "sleep"}"#,
                "windows.when_closed: unknown variant `sleep`, expected `wait` or `fail`",
            ),
            (
                r#"{"timezone": "UTC", "cron": [{"expression": "0 9 ? * MON *", "duration": "1h"}], "max_wait": "0s"}"#,
                "windows.max_wait: 0s never waits",
            ),
        ] {
            let error = error_of(windows);
            assert!(
                error.starts_with(expected) || error.contains(expected),
                "{windows}\n  got: {error}\n  want: {expected}"
            );
        }
    }

    #[test]
    fn a_full_policy_reads_back() {
        let policy = Policy::from_json(
            r#"{"windows": {"timezone": "America/Los_Angeles",
                "allow": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}, {"days": "Fri", "start": "22:00", "end": "02:00"}],
                "deny": [{"date": "2026-11-26", "reason": "Thanksgiving"}, {"from": "2026-12-21", "to": "2027-01-04", "reason": "Year-end freeze"}],
                "cron": [{"expression": "cron(0 10 ? * SAT *)", "duration": "2h"}],
                "min_time_left": "30m", "when_closed": "fail", "max_wait": "12h"}}"#,
        )
        .unwrap();
        let windows = policy.windows().unwrap();
        assert_eq!(windows.timezone.name(), "America/Los_Angeles");
        assert_eq!(windows.allow[1].to_string(), "Fri 22:00-02:00");
        assert_eq!(windows.deny[1].describe(), "deny 2026-12-21 to 2027-01-04");
        assert_eq!(windows.cron[0].to_string(), "cron(0 10 ? * SAT *) for 2h");
        assert_eq!(windows.min_time_left.as_secs(), 1_800);
        assert_eq!(windows.when_closed, super::WhenClosed::Fail);
    }
}

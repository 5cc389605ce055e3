//! CodePipeline / EventBridge cron expressions: six fields, `minutes hours day-of-month month
//! day-of-week year`, with `, - * / ?` everywhere they are allowed and `L W #` in the day fields.
//! Day-of-week counts 1 = SUN … 7 = SAT; one of the two day fields must be `?`. As strict as
//! EventBridge's reference: `L`, `W` and `#` stand alone (never in a list), one `#` at most,
//! and no `/` in day-of-week.
//!
//! Over 400 lines: one grammar (EventBridge's six fields, with L, W and #) and its evaluation.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::civil::{civil_from_days, days_in_month, weekday};

const SHAPE: &str = "a CodePipeline/EventBridge cron has six fields, `minutes hours \
     day-of-month month day-of-week year`, e.g. `0 9 ? * MON-FRI *`";
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const FIRST_YEAR: u32 = 1970;
const LAST_YEAR: u32 = 2199;

/// A set of small numbers (0..256): minutes, hours, days, months, years since 1970.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Bits([u64; 4]);

impl Bits {
    fn insert(&mut self, value: u32) {
        self.0[(value / 64) as usize] |= 1 << (value % 64);
    }
    fn contains(&self, value: u32) -> bool {
        value < 256 && self.0[(value / 64) as usize] & (1 << (value % 64)) != 0
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }
    fn iter(&self, min: u32, max: u32) -> impl Iterator<Item = u32> + '_ {
        (min..=max).filter(|value| self.contains(*value))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayRule {
    OfMonth {
        days: Bits,
        last: bool,
        last_weekday: bool,
        nearest_weekday: Bits,
    },
    OfWeek {
        /// Cron numbering, 1 = SUN … 7 = SAT.
        days: Bits,
        last_of: Bits,
        nth: Vec<(u32, u32)>,
    },
}

/// A parsed cron expression that tells on which local dates and at which local times it fires.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Cron {
    text: String,
    minutes: Bits,
    hours: Bits,
    months: Bits,
    years: Bits,
    days: DayRule,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    wraps: bool,
    /// Subtracted before storing, so years fit the 256-value set.
    base: u32,
}

const MINUTES: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
    wraps: false,
    base: 0,
};
const HOURS: Field = Field {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
    wraps: false,
    base: 0,
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    wraps: false,
    base: 0,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTHS,
    wraps: false,
    base: 0,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &WEEKDAYS,
    wraps: true,
    base: 0,
};
const YEAR: Field = Field {
    name: "year",
    min: FIRST_YEAR,
    max: LAST_YEAR,
    names: &[],
    wraps: false,
    base: FIRST_YEAR,
};

impl Field {
    fn allowed(&self) -> String {
        match self.names.first().zip(self.names.last()) {
            Some((first, last)) => format!("{}-{} or {first}-{last}", self.min, self.max),
            None => format!("{}-{}", self.min, self.max),
        }
    }

    fn value(&self, token: &str) -> Result<u32, crate::error::Invalid> {
        if let Some(index) = self.names.iter().position(|name| name.eq_ignore_ascii_case(token)) {
            return Ok(self.min + index as u32);
        }
        match token.parse::<u32>() {
            Ok(value) if (self.min..=self.max).contains(&value) => Ok(value),
            _ => Err(format!("{} field: `{token}` is not allowed; use {}", self.name, self.allowed()).into()),
        }
    }

    /// `*`, `*/step`, `a`, `a-b`, `a/step`, `a-b/step`, and lists of these.
    fn parse(&self, text: &str, into: &mut Bits) -> Result<(), crate::error::Invalid> {
        for item in text.split(',') {
            self.parse_item(item, into)?;
        }
        Ok(())
    }

    fn parse_item(&self, item: &str, into: &mut Bits) -> Result<(), crate::error::Invalid> {
        if item.is_empty() {
            return Err(format!("{} field: an empty item; use {}", self.name, self.allowed()).into());
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|step| *step > 0).ok_or_else(|| {
                    format!(
                        "{} field: `{item}` has a step that is not a whole number above 0",
                        self.name
                    )
                })?;
                (range, step)
            }
            None => (item, 1),
        };
        let (first, last) = if range == "*" {
            (self.min, self.max)
        } else if let Some((first, last)) = range.split_once('-') {
            if first.is_empty() || last.is_empty() {
                return Err(format!(
                    "{} field: `{item}` is not allowed (no negative numbers or open ranges); use {}",
                    self.name,
                    self.allowed()
                )
                .into());
            }
            (self.value(first)?, self.value(last)?)
        } else {
            let first = self.value(range)?;
            // `a/step` runs from a to the end of the field.
            (first, if item.contains('/') { self.max } else { first })
        };
        if first > last && !self.wraps {
            return Err(format!(
                "{} field: `{item}` runs backwards; write the smaller value first",
                self.name
            )
            .into());
        }
        let span = if first <= last {
            last - first
        } else {
            self.max - first + 1 + last - self.min
        };
        let mut offset = 0;
        while offset <= span {
            let value = first + offset;
            let value = if value > self.max {
                value - (self.max - self.min + 1)
            } else {
                value
            };
            into.insert(value - self.base);
            offset += step;
        }
        Ok(())
    }
}

impl Cron {
    pub fn parse(expression: &str) -> Result<Cron, crate::error::Invalid> {
        let text = expression.trim();
        let inner = match (text.strip_prefix("cron("), text.ends_with(')')) {
            (Some(rest), true) => rest.strip_suffix(')').unwrap_or(rest).trim(),
            (None, false) => text,
            (Some(_), false) => return Err(format!("`{text}` opens `cron(` but does not close it with `)`").into()),
            (None, true) => return Err(format!("`{text}` ends with `)` but does not start with `cron(`").into()),
        };
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!("`{text}` has {} fields; {SHAPE}", fields.len()).into());
        }
        let mut cron = Cron {
            text: inner.to_string(),
            minutes: Bits::default(),
            hours: Bits::default(),
            months: Bits::default(),
            years: Bits::default(),
            days: DayRule::OfMonth {
                days: Bits::default(),
                last: false,
                last_weekday: false,
                nearest_weekday: Bits::default(),
            },
        };
        MINUTES.parse(fields[0], &mut cron.minutes)?;
        HOURS.parse(fields[1], &mut cron.hours)?;
        MONTH.parse(fields[3], &mut cron.months)?;
        YEAR.parse(fields[5], &mut cron.years)?;
        for (name, field) in [("day-of-month", fields[2]), ("day-of-week", fields[4])] {
            if field != "?" && field.contains('?') {
                return Err(format!(
                    "{name} field: `{field}` is not allowed; `?` stands alone, meaning \"whatever the other day field says\""
                ).into());
            }
        }
        cron.days = match (fields[2], fields[4]) {
            ("?", "?") => {
                return Err(format!(
                    "`{inner}` has `?` in both day fields; exactly one of day-of-month and day-of-week must be `?`"
                )
                .into());
            }
            (dom, "?") => parse_day_of_month(dom)?,
            ("?", dow) => parse_day_of_week(dow)?,
            _ => {
                return Err(
                    format!("`{inner}` sets both day-of-month and day-of-week; one of them must be `?`").into(),
                );
            }
        };
        Ok(cron)
    }

    /// Whether the expression fires on this local date (days since 1970-01-01).
    pub fn fires_on(&self, day: i64) -> bool {
        let (year, month, dom) = civil_from_days(day);
        if !(i64::from(FIRST_YEAR)..=i64::from(LAST_YEAR)).contains(&year)
            || !self.years.contains(year as u32 - FIRST_YEAR)
            || !self.months.contains(month)
        {
            return false;
        }
        let month_days = days_in_month(year, month);
        match &self.days {
            DayRule::OfMonth {
                days,
                last,
                last_weekday,
                nearest_weekday,
            } => {
                days.contains(dom)
                    || (*last && dom == month_days)
                    || (*last_weekday && dom == last_weekday_of_month(day, dom, month_days))
                    || (!nearest_weekday.is_empty()
                        && nearest_weekday
                            .iter(1, month_days)
                            .any(|target| nearest_weekday_to(day, dom, target, month_days) == dom))
            }
            DayRule::OfWeek { days, last_of, nth } => {
                let cron_weekday = u32::from(weekday(day) + 1) % 7 + 1;
                days.contains(cron_weekday)
                    || (last_of.contains(cron_weekday) && dom + 7 > month_days)
                    || nth.iter().any(|(wd, n)| *wd == cron_weekday && (dom - 1) / 7 + 1 == *n)
            }
        }
    }

    /// Seconds after local midnight at which it fires on a day it fires, in ascending order.
    pub fn fire_times(&self) -> impl Iterator<Item = i64> + '_ {
        self.hours.iter(0, 23).flat_map(move |hour| {
            self.minutes
                .iter(0, 59)
                .map(move |minute| i64::from(hour * 3_600 + minute * 60))
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `L`, `W` and `#` items stand alone in their field, as EventBridge requires.
fn alone(name: &str, text: &str, special: &[char]) -> Result<(), crate::error::Invalid> {
    if text.contains(',')
        && let Some(item) = text
            .split(',')
            .find(|item| item.contains(special) && !item.chars().all(|ch| ch.is_ascii_digit()))
    {
        return Err(format!(
            "{name} field: `{item}` cannot be part of a list (`{text}`); `L`, `W` and `#` stand alone"
        )
        .into());
    }
    Ok(())
}

fn parse_day_of_month(text: &str) -> Result<DayRule, crate::error::Invalid> {
    alone("day-of-month", text, &['L', 'W'])?;
    let mut days = Bits::default();
    let mut last = false;
    let mut last_weekday = false;
    let mut nearest_weekday = Bits::default();
    for item in text.split(',') {
        match item {
            "L" => last = true,
            "LW" => last_weekday = true,
            _ if item.len() > 1 && item.ends_with('W') => {
                let day = DAY_OF_MONTH.value(&item[..item.len() - 1])?;
                nearest_weekday.insert(day);
            }
            _ => DAY_OF_MONTH.parse_item(item, &mut days)?,
        }
    }
    Ok(DayRule::OfMonth {
        days,
        last,
        last_weekday,
        nearest_weekday,
    })
}

fn parse_day_of_week(text: &str) -> Result<DayRule, crate::error::Invalid> {
    alone("day-of-week", text, &['L', '#'])?;
    if text.contains('/') {
        return Err(format!(
            "day-of-week field: `{text}` is not allowed; day-of-week takes no `/` step (list the days, e.g. MON,WED,FRI)"
        ).into());
    }
    let mut days = Bits::default();
    let mut last_of = Bits::default();
    let mut nth = Vec::new();
    for item in text.split(',') {
        if item == "L" {
            days.insert(7); // `L` alone is the last day of the week, Saturday.
        } else if let Some((day, n)) = item.split_once('#') {
            let day = DAY_OF_WEEK.value(day)?;
            let n: u32 = n.parse().ok().filter(|n| (1..=5).contains(n)).ok_or_else(|| {
                format!(
                    "day-of-week field: `{item}` needs an occurrence 1-5 after `#`, e.g. 3#2 for the second Tuesday"
                )
            })?;
            nth.push((day, n));
        } else if item.len() > 1 && item.ends_with('L') {
            last_of.insert(DAY_OF_WEEK.value(&item[..item.len() - 1])?);
        } else {
            DAY_OF_WEEK.parse_item(item, &mut days)?;
        }
    }
    Ok(DayRule::OfWeek { days, last_of, nth })
}

/// The last Monday-to-Friday date of the month that `day` (date `dom`) is in.
fn last_weekday_of_month(day: i64, dom: u32, month_days: u32) -> u32 {
    let last_day = day + i64::from(month_days - dom);
    match weekday(last_day) {
        5 => month_days - 1, // Saturday
        6 => month_days - 2, // Sunday
        _ => month_days,
    }
}

/// The weekday nearest to date `target` in the same month (`15W`), never leaving the month.
fn nearest_weekday_to(day: i64, dom: u32, target: u32, month_days: u32) -> u32 {
    let target_day = day + i64::from(target) - i64::from(dom);
    match weekday(target_day) {
        5 if target == 1 => 3,
        5 => target - 1,
        6 if target == month_days => target - 2,
        6 => target + 1,
        _ => target,
    }
}

impl TryFrom<String> for Cron {
    type Error = crate::error::Invalid;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Cron::parse(&text)
    }
}

impl From<Cron> for String {
    fn from(cron: Cron) -> String {
        cron.text
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cron({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::super::civil::days_from_civil;
    use super::*;

    fn fire_dates(expression: &str, year: i64, month: u32) -> Vec<u32> {
        let cron = Cron::parse(expression).unwrap();
        (1..=days_in_month(year, month))
            .filter(|dom| cron.fires_on(days_from_civil(year, month, *dom)))
            .collect()
    }

    #[test]
    fn day_of_week_ranges_and_names() {
        // November 2026: the 2nd is a Monday.
        assert_eq!(
            fire_dates("0 10 ? * MON-FRI *", 2026, 11),
            [
                2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 30
            ]
        );
        assert_eq!(
            fire_dates("0 10 ? * 2-6 *", 2026, 11),
            fire_dates("0 10 ? * MON-FRI *", 2026, 11)
        );
        assert_eq!(
            fire_dates("0 10 ? * SAT,SUN *", 2026, 11),
            [1, 7, 8, 14, 15, 21, 22, 28, 29]
        );
        assert_eq!(fire_dates("0 10 ? * FRI-MON *", 2026, 11).len(), 18);
    }

    #[test]
    fn last_and_nth_weekdays() {
        assert_eq!(fire_dates("0 9 ? * 6L *", 2026, 11), [27]); // last Friday
        assert_eq!(fire_dates("0 9 ? * FRIL *", 2026, 11), [27]);
        assert_eq!(fire_dates("0 9 ? * 3#2 *", 2026, 11), [10]); // second Tuesday
        assert_eq!(fire_dates("0 9 ? * 5#4 *", 2026, 11), [26]); // fourth Thursday: Thanksgiving
        assert_eq!(fire_dates("0 9 ? * 2#5 *", 2026, 11), [30]);
        assert_eq!(fire_dates("0 9 ? * L *", 2026, 11), [7, 14, 21, 28]);
    }

    #[test]
    fn last_day_and_nearest_weekday_of_month() {
        assert_eq!(fire_dates("0 9 L * ? *", 2028, 2), [29]);
        // 2026-02-28 is a Saturday: the last weekday is Friday the 27th.
        assert_eq!(fire_dates("0 9 LW * ? *", 2026, 2), [27]);
        // 2026-11-15 is a Sunday: 15W is Monday the 16th; 1W (a Sunday) is Monday the 2nd.
        assert_eq!(fire_dates("0 9 15W * ? *", 2026, 11), [16]);
        assert_eq!(fire_dates("0 9 1W * ? *", 2026, 11), [2]);
        // 2026-08-01 is a Saturday: 1W stays in August, Monday the 3rd.
        assert_eq!(fire_dates("0 9 1W * ? *", 2026, 8), [3]);
        // 2026-05-31 is a Sunday: 31W is Friday the 29th; April has no 31st.
        assert_eq!(fire_dates("0 9 31W * ? *", 2026, 5), [29]);
        assert_eq!(fire_dates("0 9 31W * ? *", 2026, 4), Vec::<u32>::new());
        assert_eq!(fire_dates("0 9 1/10 * ? *", 2026, 4), [1, 11, 21]);
    }

    #[test]
    fn months_and_years() {
        assert_eq!(fire_dates("0 9 1 JAN-MAR ? 2027", 2027, 2), [1]);
        assert_eq!(fire_dates("0 9 1 JAN-MAR ? 2027", 2027, 4), Vec::<u32>::new());
        assert_eq!(fire_dates("0 9 1 * ? 2027", 2026, 2), Vec::<u32>::new());
        assert_eq!(fire_dates("cron(0 9 1 * ? 2026/2)", 2028, 5), [1]);
    }

    #[test]
    fn fire_times_follow_minutes_and_hours() {
        let cron = Cron::parse("0/20 9-10 ? * * *").unwrap();
        let times: Vec<i64> = cron.fire_times().collect();
        assert_eq!(times, [32_400, 33_600, 34_800, 36_000, 37_200, 38_400]);
        let cron = Cron::parse("30 22 ? * MON *").unwrap();
        assert_eq!(cron.fire_times().collect::<Vec<_>>(), [81_000]);
    }

    #[test]
    fn rejects_bad_expressions_naming_the_field() {
        for (text, why) in [
            ("0 9 * * *", "has 5 fields"),
            ("60 9 ? * * *", "minutes field: `60`"),
            ("0 24 ? * * *", "hours field: `24`"),
            ("0 9 32 * ? *", "day-of-month field: `32`"),
            ("0 9 ? 13 * *", "month field: `13`"),
            ("0 9 ? * 8 *", "day-of-week field: `8`"),
            ("0 9 ? * MON *", ""),
            ("0 9 * * MON *", "one of them must be `?`"),
            ("0 9 ? * ? *", "both day fields"),
            ("0 9 ? * 2#6 *", "occurrence 1-5"),
            ("0 9 ? * * 1969", "year field"),
            ("0 10-9 ? * * *", "runs backwards"),
            ("*/0 9 ? * * *", "step"),
            // As strict as EventBridge: its own example `3#1,6#3` is not valid.
            ("0 9 ? * 3#1,6#3 *", "day-of-week field: `3#1` cannot be part of a list"),
            ("0 9 ? * MON/2 *", "day-of-week takes no `/`"),
            ("0 9 ? * */2 *", "day-of-week takes no `/`"),
            ("0 9 1,15,L * ? *", "day-of-month field: `L` cannot be part of a list"),
            ("0 9 1W,15 * ? *", "day-of-month field: `1W` cannot be part of a list"),
            ("0 9 ? * 2,6L *", "day-of-week field: `6L` cannot be part of a list"),
            ("cron(0 9 ? * * *", "opens `cron(` but does not close it"),
            ("0 9 ? * * *)", "does not start with `cron(`"),
            (
                "0 9 ?? * * *",
                "day-of-month field: `??` is not allowed; `?` stands alone",
            ),
            ("0 9 * * ?? *", "day-of-week field: `??`"),
            ("0 -9 ? * * *", "hours field: `-9` is not allowed (no negative numbers"),
            ("0 9- ? * * *", "hours field: `9-` is not allowed"),
            ("0,,5 9 ? * * *", "minutes field: an empty item"),
        ] {
            match Cron::parse(text) {
                Ok(_) => assert!(why.is_empty(), "{text} should be rejected"),
                Err(error) => assert!(!why.is_empty() && error.contains(why), "{text}: {error}"),
            }
        }
    }
}

//! Days of the week as policies write them: `Mon-Thu`, `Fri`, `Mon,Wed,Fri`, `Fri-Mon`.

use std::fmt;

use serde::{Deserialize, Serialize};

const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A set of weekdays, bit 0 = Monday … bit 6 = Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct DaySet(u8);

impl DaySet {
    pub const EVERY_DAY: DaySet = DaySet(0x7f);

    pub fn contains(self, weekday_monday_zero: u8) -> bool {
        self.0 & (1 << weekday_monday_zero) != 0
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn from_bits(bits: u8) -> Option<DaySet> {
        (bits != 0 && bits <= 0x7f).then_some(DaySet(bits))
    }
}

fn day_index(name: &str, whole: &str) -> Result<u8, crate::error::Invalid> {
    NAMES
        .iter()
        .position(|candidate| candidate.eq_ignore_ascii_case(name))
        .map(|index| index as u8)
        .ok_or_else(|| {
            format!(
                "`{name}` in `{whole}` is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun as a \
                 range (Mon-Thu, Fri-Mon wraps the week) or a list (Mon,Wed,Fri)"
            )
            .into()
        })
}

impl TryFrom<String> for DaySet {
    type Error = crate::error::Invalid;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let mut bits = 0u8;
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("`{text}` has an empty entry; write days such as Mon-Thu or Mon,Wed,Fri").into());
            }
            match part.split_once('-') {
                Some((first, last)) => {
                    let first = day_index(first.trim(), &text)?;
                    let last = day_index(last.trim(), &text)?;
                    // A range runs forward and may wrap the week: Fri-Mon is Fri, Sat, Sun, Mon.
                    let mut day = first;
                    loop {
                        bits |= 1 << day;
                        if day == last {
                            break;
                        }
                        day = (day + 1) % 7;
                    }
                }
                None => bits |= 1 << day_index(part, &text)?,
            }
        }
        Ok(DaySet(bits))
    }
}

impl From<DaySet> for String {
    fn from(days: DaySet) -> String {
        days.to_string()
    }
}

impl fmt::Display for DaySet {
    /// Shortest form: consecutive runs of three or more days as ranges.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == DaySet::EVERY_DAY {
            return f.write_str("Mon-Sun");
        }
        let mut parts = Vec::new();
        let mut day = 0u8;
        while day < 7 {
            if !self.contains(day) {
                day += 1;
                continue;
            }
            let start = day;
            while day + 1 < 7 && self.contains(day + 1) {
                day += 1;
            }
            parts.push(match day - start {
                0 => NAMES[start as usize].to_string(),
                1 => format!("{},{}", NAMES[start as usize], NAMES[day as usize]),
                _ => format!("{}-{}", NAMES[start as usize], NAMES[day as usize]),
            });
            day += 1;
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(text: &str) -> Result<DaySet, crate::error::Invalid> {
        DaySet::try_from(text.to_string())
    }

    #[test]
    fn reads_ranges_lists_and_wrapping_ranges() {
        assert_eq!(days("Mon-Thu"), Ok(DaySet(0b0001111)));
        assert_eq!(days("Fri"), Ok(DaySet(0b0010000)));
        assert_eq!(days("Mon,Wed,Fri"), Ok(DaySet(0b0010101)));
        assert_eq!(days("Fri-Mon"), Ok(DaySet(0b1110001)));
        assert_eq!(days("mon-wed, fri"), Ok(DaySet(0b0010111)));
        assert_eq!(days("Sun-Sat"), Ok(DaySet::EVERY_DAY));
    }

    #[test]
    fn rejects_unknown_days_with_the_allowed_names() {
        let error = days("Mon-Thurs").unwrap_err();
        assert!(error.contains("`Thurs`") && error.contains("Mon, Tue"), "{error}");
        assert!(days("").unwrap_err().contains("empty entry"));
        assert!(days("Mon,,Tue").unwrap_err().contains("empty entry"));
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(days("Mon-Thu").unwrap().to_string(), "Mon-Thu");
        assert_eq!(days("Fri-Mon").unwrap().to_string(), "Mon,Fri-Sun");
        assert_eq!(days("Mon,Tue,Thu").unwrap().to_string(), "Mon,Tue,Thu");
    }
}

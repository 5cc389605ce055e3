//! Durations as people write them in policies: `90s`, `30m`, `1h30m`, `2d`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A whole number of seconds, written with the units `d`, `h`, `m`, `s` from largest to smallest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration(u64);

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Longest duration a policy may name: far beyond any bake or window, short enough that
/// adding it to a timestamp can never overflow.
pub const MAX_SECONDS: u64 = 400 * 86_400;

impl HumanDuration {
    pub const ZERO: HumanDuration = HumanDuration(0);

    pub const fn from_secs(secs: u64) -> Self {
        HumanDuration(secs)
    }

    pub const fn as_secs(self) -> u64 {
        self.0
    }

    pub fn as_secs_i64(self) -> i64 {
        // MAX_SECONDS keeps every parsed value far inside i64.
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }
}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hint = "write a duration such as 90s, 30m, 1h30m or 2d (units d, h, m, s, largest first)";
        if text.is_empty() {
            return Err(format!("empty duration; {hint}"));
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        let mut last_unit = None::<usize>;
        for ch in text.chars() {
            if ch.is_ascii_digit() {
                digits.push(ch);
                continue;
            }
            let Some(index) = UNITS.iter().position(|(unit, _)| *unit == ch) else {
                return Err(format!("`{text}` has `{ch}`, which is not a unit; {hint}"));
            };
            if digits.is_empty() {
                return Err(format!("`{text}` has a unit `{ch}` without a number; {hint}"));
            }
            if last_unit.is_some_and(|last| index <= last) {
                return Err(format!("`{text}` repeats or reorders units; {hint}"));
            }
            let value: u64 = digits.parse().map_err(|_| format!("`{text}` is too long a duration"))?;
            total = value
                .checked_mul(UNITS[index].1)
                .and_then(|secs| total.checked_add(secs))
                .ok_or_else(|| format!("`{text}` is too long a duration"))?;
            digits.clear();
            last_unit = Some(index);
        }
        if !digits.is_empty() {
            return Err(format!("`{text}` ends in a number without a unit; {hint}"));
        }
        if total > MAX_SECONDS {
            return Err(format!("`{text}` is longer than the 400d a policy may name"));
        }
        Ok(HumanDuration(total))
    }
}

impl TryFrom<String> for HumanDuration {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<HumanDuration> for String {
    fn from(duration: HumanDuration) -> String {
        duration.to_string()
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, secs) in UNITS {
            if rest >= secs {
                write!(f, "{}{unit}", rest / secs)?;
                rest %= secs;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_policies_use() {
        for (text, secs) in [
            ("90s", 90),
            ("30m", 1_800),
            ("1h30m", 5_400),
            ("2d", 172_800),
            ("1d2h3m4s", 93_784),
            ("0s", 0),
        ] {
            assert_eq!(text.parse::<HumanDuration>(), Ok(HumanDuration(secs)), "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration_and_says_why() {
        for (text, why) in [
            ("", "empty"),
            ("90", "without a unit"),
            ("1x", "not a unit"),
            ("h", "without a number"),
            ("30m1h", "reorders"),
            ("1h1h", "repeats"),
            ("1.5h", "not a unit"),
            ("-1h", "not a unit"),
            ("401d", "longer than"),
            ("99999999999999999999999s", "too long"),
        ] {
            let error = text.parse::<HumanDuration>().unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn displays_canonically() {
        assert_eq!(HumanDuration(5_400).to_string(), "1h30m");
        assert_eq!(HumanDuration(90).to_string(), "1m30s");
        assert_eq!(HumanDuration(0).to_string(), "0s");
        assert_eq!(HumanDuration(86_400 + 1).to_string(), "1d1s");
    }

    proptest::proptest! {
        #[test]
        fn display_round_trips(secs in 0u64..=MAX_SECONDS) {
            let shown = HumanDuration(secs).to_string();
            proptest::prop_assert_eq!(shown.parse::<HumanDuration>(), Ok(HumanDuration(secs)));
        }
    }
}

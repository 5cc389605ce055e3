//! Local wall-clock times of day, `HH:MM`, from `00:00` to `24:00`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Minutes after local midnight, 0 ..= 1440 (`24:00`, the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(u16);

impl ClockTime {
    pub const MIDNIGHT: ClockTime = ClockTime(0);
    pub const END_OF_DAY: ClockTime = ClockTime(1440);

    pub fn from_minutes(minutes: u16) -> Option<ClockTime> {
        (minutes <= 1440).then_some(ClockTime(minutes))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn seconds(self) -> i64 {
        i64::from(self.0) * 60
    }
}

impl TryFrom<String> for ClockTime {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let invalid =
            || format!("`{text}` is not a time of day; write local HH:MM from 00:00 to 24:00, e.g. 09:00 or 17:30");
        let (hours, minutes) = text.split_once(':').ok_or_else(invalid)?;
        let digits = |part: &str| part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit());
        if !digits(hours) || !digits(minutes) {
            return Err(invalid());
        }
        let hours: u16 = hours.parse().map_err(|_| invalid())?;
        let minutes: u16 = minutes.parse().map_err(|_| invalid())?;
        if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
            return Err(invalid());
        }
        Ok(ClockTime(hours * 60 + minutes))
    }
}

impl From<ClockTime> for String {
    fn from(time: ClockTime) -> String {
        time.to_string()
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_times_of_day_including_end_of_day() {
        for (text, minutes) in [("00:00", 0), ("09:30", 570), ("23:59", 1439), ("24:00", 1440)] {
            assert_eq!(ClockTime::try_from(text.to_string()), Ok(ClockTime(minutes)));
            assert_eq!(ClockTime(minutes).to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_times() {
        for text in [
            "9:00", "24:01", "25:00", "12:60", "noon", "12", "12:5", "-1:00", "+1:00",
        ] {
            let error = ClockTime::try_from(text.to_string()).unwrap_err();
            assert!(error.contains("HH:MM"), "{text}: {error}");
        }
    }
}

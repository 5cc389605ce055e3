//! Wall-clock ("civil") arithmetic on plain integers.
//!
//! A civil instant is counted in seconds since 1970-01-01T00:00 *on the wall clock*, a day as days
//! since that date. Converting civil to real instants happens in one place (`schedule`), through
//! the time zone's offset segments; everything else is integer arithmetic, which keeps a window
//! evaluation in the microseconds.

pub const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day number: (year, month 1-12, day 1-31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day of the week, Monday = 0 … Sunday = 6.
pub fn weekday(days: i64) -> u8 {
    // 1970-01-01 was a Thursday.
    (days + 3).rem_euclid(7) as u8
}

pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub fn day_of_date(date: jiff::civil::Date) -> i64 {
    days_from_civil(i64::from(date.year()), date.month() as u32, date.day() as u32)
}

/// The civil date of a day number, for display and for jiff.
pub fn date_of_day(days: i64) -> Option<jiff::civil::Date> {
    let (year, month, day) = civil_from_days(days);
    jiff::civil::Date::new(i16::try_from(year).ok()?, month as i8, day as i8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip_and_agree_with_jiff() {
        let mut date = jiff::civil::date(1999, 12, 25);
        for _ in 0..20_000 {
            let days = day_of_date(date);
            assert_eq!(date_of_day(days), Some(date));
            let jiff_days = date.since(jiff::civil::date(1970, 1, 1)).unwrap().get_days();
            assert_eq!(days, i64::from(jiff_days));
            assert_eq!(weekday(days), date.weekday().to_monday_zero_offset() as u8);
            assert_eq!(
                days_in_month(i64::from(date.year()), date.month() as u32),
                date.days_in_month() as u32
            );
            date = date.tomorrow().unwrap();
        }
    }
}

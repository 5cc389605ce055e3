//! CloudWatch statistic names, checked when a policy is read: a misspelled statistic makes
//! CloudWatch answer with no datapoints, and no datapoints must never read as health.

/// Statistics that count something (requests, errors, datapoints): the only ones a count may
/// be read with. `Average` of an error count is a rate per datapoint, not a number of errors.
pub const COUNTS: [&str; 2] = ["Sum", "SampleCount"];

const SIMPLE: [&str; 6] = ["Sum", "SampleCount", "Average", "Minimum", "Maximum", "IQM"];
/// `p99`, `tm90`, `wm98`, `tc90`, `ts90`: a number from 0 to 100 after the prefix.
const SHORT: [&str; 5] = ["p", "tm", "wm", "tc", "ts"];
/// `TM(10%:90%)`, `PR(:300)`: one or two bounds, percentages or absolute values.
const RANGED: [&str; 5] = ["TM", "WM", "TC", "TS", "PR"];

const ALLOWED: &str = "Sum, SampleCount, Average, Minimum, Maximum, IQM, pNN[.NN] (p50, p99.9), tmNN, wmNN, tcNN, tsNN, or TM/WM/TC/TS/PR(low:high) such as TM(10%:90%)";

/// Whether `stat` is a statistic CloudWatch knows, with what is allowed when it is not.
pub fn check(stat: &str) -> Result<(), crate::error::Invalid> {
    if SIMPLE.contains(&stat) || short_form(stat) || ranged_form(stat) {
        return Ok(());
    }
    Err(format!("`{stat}` is not a CloudWatch statistic; use {ALLOWED}").into())
}

/// Like [`check`], for a value that must count something.
pub fn check_count(stat: &str) -> Result<(), crate::error::Invalid> {
    if COUNTS.contains(&stat) {
        return Ok(());
    }
    check(stat)?;
    Err(format!("`{stat}` does not count; a count is read with Sum or SampleCount").into())
}

fn short_form(stat: &str) -> bool {
    SHORT.iter().any(|prefix| {
        stat.strip_prefix(prefix)
            .and_then(number)
            .is_some_and(|value| (0.0..=100.0).contains(&value))
    })
}

fn ranged_form(stat: &str) -> bool {
    let Some(inner) = RANGED
        .iter()
        .find_map(|prefix| stat.strip_prefix(prefix)?.strip_prefix('(')?.strip_suffix(')'))
    else {
        return false;
    };
    let Some((low, high)) = inner.split_once(':') else {
        return false;
    };
    if low.is_empty() && high.is_empty() {
        return false;
    }
    match (bound(low), bound(high)) {
        (Some(Bound::Percent(low)), Some(Bound::Percent(high))) => low < high,
        (Some(Bound::Absolute(low)), Some(Bound::Absolute(high))) => low < high,
        (Some(Bound::Open), Some(Bound::Open)) => false,
        (Some(_), Some(_)) => true,
        _ => false,
    }
}

enum Bound {
    Open,
    Percent(f64),
    Absolute(f64),
}

fn bound(text: &str) -> Option<Bound> {
    if text.is_empty() {
        return Some(Bound::Open);
    }
    match text.strip_suffix('%') {
        Some(percent) => number(percent)
            .filter(|value| (0.0..=100.0).contains(value))
            .map(Bound::Percent),
        None => {
            let (negative, digits) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            number(digits).map(|value| Bound::Absolute(if negative { -value } else { value }))
        }
    }
}

/// Digits, optionally a point and up to ten decimals (CloudWatch's own limit).
fn number(text: &str) -> Option<f64> {
    let (whole, decimals) = match text.split_once('.') {
        Some((whole, decimals)) => (whole, Some(decimals)),
        None => (text, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(whole) || whole.len() > 12 {
        return None;
    }
    if let Some(decimals) = decimals
        && (!digits(decimals) || decimals.len() > 10)
    {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_cloudwatch_accepts() {
        for stat in [
            "Sum",
            "SampleCount",
            "Average",
            "Minimum",
            "Maximum",
            "IQM",
            "p50",
            "p99",
            "p99.9",
            "p0",
            "p100",
            "p99.9999999999",
            "tm90",
            "wm98",
            "tc90",
            "ts99.5",
            "TM(10%:90%)",
            "TM(150:1000)",
            "PR(:300)",
            "PR(100:2000)",
            "TS(80%:)",
            "TC(0.005:0.030)",
            "WM(10%:90%)",
        ] {
            assert_eq!(check(stat), Ok(()), "{stat}");
        }
    }

    #[test]
    fn refuses_typos_and_out_of_range_values_naming_what_is_allowed() {
        for stat in [
            "",
            "sum",
            "Avg",
            "avg",
            "P99",
            "p",
            "p101",
            "p99.",
            "p.9",
            "p99.12345678901",
            "p-1",
            "tm",
            "TM()",
            "TM(:)",
            "TM(90%:10%)",
            "TM(10%:90%",
            "PR(5)",
            "pp99",
            "p 99",
            "Sum ",
        ] {
            let error = check(stat).unwrap_err();
            assert!(
                error.contains(&format!("`{stat}`")) && error.contains("pNN"),
                "{stat}: {error}"
            );
        }
    }

    #[test]
    fn a_count_is_read_with_sum_or_sample_count_only() {
        assert_eq!(check_count("Sum"), Ok(()));
        assert_eq!(check_count("SampleCount"), Ok(()));
        let error = check_count("Average").unwrap_err();
        assert!(error.contains("`Average` does not count"), "{error}");
        assert!(check_count("Summ").unwrap_err().contains("not a CloudWatch statistic"));
    }
}

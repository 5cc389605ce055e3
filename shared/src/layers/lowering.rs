//! What lowering a protected field means: floors may only rise, ceilings only fall, appended
//! lists only grow, and anything else may not change at all.

use serde_json::Value;

use super::{APPENDED, join};
use crate::duration::HumanDuration;

/// Fields whose protection grows with their value: lowering them is decreasing them.
pub const FLOORS: &[&str] = &[
    "bake.duration",
    "windows.min_time_left",
    "canary.judge.min_periods",
    "canary.judge.min_requests",
    "canary.judge.power",
];

/// Fields whose protection shrinks as their value grows: lowering the protection is increasing
/// them (a higher confidence makes the judge slower to fail a bad canary; a higher ratio lets
/// more through; a longer override lifts alarms for longer).
pub const CEILINGS: &[&str] = &[
    "canary.judge.confidence",
    "canary.judge.max_error_ratio",
    "canary.judge.max_latency_increase",
    "alarms.max_override_ttl",
];

/// How `after` lowers the protection `before` gave at `path`, if it does: removed; past a
/// floor or ceiling ([`FLOORS`], [`CEILINGS`]); an appended list that lost entries; any other
/// list, scalar or object changed at all (added keys and entries too: they may loosen it).
pub(super) fn lowered(path: &str, before: Option<&Value>, after: Option<&Value>) -> Option<String> {
    let (before, after) = match (before, after) {
        (None, _) => return None,
        (Some(before), None) => return Some(format!("removes {}", short(before))),
        (Some(before), Some(after)) => (before, after),
    };
    if before == after {
        return None;
    }
    let floor = FLOORS.contains(&path);
    let ceiling = CEILINGS.contains(&path);
    if floor || ceiling {
        let same_kind = before.is_string() == after.is_string();
        let (was, now) = (magnitude(before), magnitude(after));
        let lower = if before.is_string() { "shorter" } else { "lower" };
        return match (was, now) {
            (Some(_), Some(_)) if !same_kind => Some(format!("{} changes {}", short(after), short(before))),
            (Some(was), Some(now)) if floor && now < was => {
                Some(format!("{} is {lower} than {}", short(after), short(before)))
            }
            (Some(was), Some(now)) if ceiling && now > was => Some(format!(
                "{} is above {} (a higher value protects less)",
                short(after),
                short(before)
            )),
            (Some(_), Some(_)) => None,
            _ => Some(format!("{} changes {}", short(after), short(before))),
        };
    }
    match (before, after) {
        (Value::Array(was), Value::Array(now)) if APPENDED.contains(&path) => was
            .iter()
            .any(|item| !now.contains(item))
            .then(|| "drops entries of the list".to_string()),
        (Value::Object(was), Value::Object(now)) => {
            let removed_or_lowered = was.iter().find_map(|(key, value)| {
                lowered(&join(path, key), Some(value), now.get(key)).map(|how| format!("{key}: {how}"))
            });
            removed_or_lowered.or_else(|| {
                now.keys()
                    .find(|key| !was.contains_key(*key))
                    .map(|key| format!("adds `{key}`, which may loosen it"))
            })
        }
        (was, now) => Some(format!("{} changes {}", short(now), short(was))),
    }
}

/// A number, or a duration in seconds: what floors and ceilings compare.
fn magnitude(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text
            .parse::<HumanDuration>()
            .ok()
            .map(|duration| duration.as_secs() as f64),
        _ => None,
    }
}

/// A value as a message shows it: at most 80 characters, so a refusal never carries a whole
/// stored document into logs and events.
fn short(value: &Value) -> String {
    let text = match value {
        Value::String(text) => format!("`{text}`"),
        other => other.to_string(),
    };
    if text.chars().count() <= 80 {
        text
    } else {
        format!("{}…", text.chars().take(79).collect::<String>())
    }
}

//! Managed policies, pure: the three layers a stored policy is made of (the organisation's
//! default, a pipeline's, a stage's), how they merge, the fields a layer forbids the ones above
//! it to lower, and where each field of the effective policy came from.
//!
//! Merge rules, from the organisation up: objects merge key by key; the lists that add
//! protection ([`APPENDED`]) append; any other value replaces; `null` removes. Each layer merged
//! over the ones below it must be a valid policy, so a junk field is refused when it is stored,
//! not when a gate meets it.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::duration::HumanDuration;
use crate::policy::{Policy, PolicyError};

/// Lists whose entries add protection: a layer adds to them, never replaces them.
pub const APPENDED: &[&str] = &[
    "windows.deny",
    "windows.calendars",
    "alarms.watch",
    "bake.alarms",
    "bake.min_datapoints",
];

/// The sections a layer may hold, beside `forbid_lowering`.
const SECTIONS: &[&str] = &["windows", "alarms", "canary", "bake", "rollback"];

/// Largest stored layer (DynamoDB items hold 400 KB; years of deny dates fit in far less).
pub const MAX_LAYER_BYTES: usize = 64 * 1024;
/// Most fields one layer may protect.
pub const MAX_FORBIDDEN: usize = 50;

/// Where a layer applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Org,
    Pipeline(String),
    Stage(String, String),
}

impl Scope {
    /// The three scopes a stage's effective policy is read from, lowest first.
    pub fn chain(pipeline: &str, stage: &str) -> [Scope; 3] {
        [
            Scope::Org,
            Scope::Pipeline(pipeline.to_string()),
            Scope::Stage(pipeline.to_string(), stage.to_string()),
        ]
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Org => "org",
            Scope::Pipeline(..) => "pipeline",
            Scope::Stage(..) => "stage",
        }
    }

    /// How a person names it: `org`, `pipeline orders`, `stage orders/Prod`.
    pub fn label(&self) -> String {
        match self {
            Scope::Org => "org".to_string(),
            Scope::Pipeline(pipeline) => format!("pipeline {pipeline}"),
            Scope::Stage(pipeline, stage) => format!("stage {pipeline}/{stage}"),
        }
    }

    /// The partition key of its records.
    pub fn key(&self) -> String {
        match self {
            Scope::Org => "POLICY#ORG".to_string(),
            Scope::Pipeline(pipeline) => format!("POLICY#PIPELINE#{pipeline}"),
            Scope::Stage(pipeline, stage) => format!("POLICY#STAGE#{pipeline}#{stage}"),
        }
    }
}

/// One layer as written: some policy sections, and the fields no layer above may lower.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerDoc {
    pub sections: Map<String, Value>,
    pub forbid_lowering: Vec<String>,
}

impl LayerDoc {
    /// Reads a layer strictly: a JSON object of sections and `forbid_lowering`, each key once.
    pub fn from_json(text: &str) -> Result<LayerDoc, PolicyError> {
        if text.len() > MAX_LAYER_BYTES {
            return Err(PolicyError::new(
                "policy",
                format!("{} bytes; a stored policy holds at most {MAX_LAYER_BYTES}", text.len()),
            ));
        }
        let value = crate::json::parse_strict(text).map_err(|message| PolicyError::new("policy", message))?;
        LayerDoc::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<LayerDoc, PolicyError> {
        let Value::Object(mut map) = value else {
            return Err(PolicyError::new(
                "policy",
                "a stored policy is a JSON object of sections (`windows`, `alarms`, `canary`, `bake`, `rollback`) and `forbid_lowering`",
            ));
        };
        let forbid_lowering = match map.remove("forbid_lowering") {
            None => Vec::new(),
            Some(value) => forbidden_paths(value)?,
        };
        for (key, value) in &map {
            if !SECTIONS.contains(&key.as_str()) {
                return Err(PolicyError::new(
                    key.as_str(),
                    format!(
                        "unknown field `{key}`, expected one of `windows`, `alarms`, `canary`, `bake`, `rollback`, `forbid_lowering`"
                    ),
                ));
            }
            if !value.is_object() && !value.is_null() {
                return Err(PolicyError::new(
                    key.as_str(),
                    "a section is an object (or null to remove it)",
                ));
            }
        }
        Ok(LayerDoc {
            sections: map,
            forbid_lowering,
        })
    }

    pub fn to_value(&self) -> Value {
        let mut map = self.sections.clone();
        if !self.forbid_lowering.is_empty() {
            map.insert("forbid_lowering".to_string(), Value::from(self.forbid_lowering.clone()));
        }
        Value::Object(map)
    }
}

fn forbidden_paths(value: Value) -> Result<Vec<String>, PolicyError> {
    let Value::Array(items) = value else {
        return Err(PolicyError::new(
            "forbid_lowering",
            "a list of field paths, e.g. [\"bake.duration\"]",
        ));
    };
    if items.len() > MAX_FORBIDDEN {
        return Err(PolicyError::new(
            "forbid_lowering",
            format!("{} entries; at most {MAX_FORBIDDEN}", items.len()),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let path = item.as_str().unwrap_or_default();
            let valid = path.len() <= 200
                && path.split('.').all(|segment| {
                    !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'_')
                })
                && SECTIONS.contains(&path.split('.').next().unwrap_or_default());
            if valid {
                Ok(path.to_string())
            } else {
                Err(PolicyError::new(
                    format!("forbid_lowering[{index}]"),
                    "a field path starting with a section, e.g. `bake.duration` or `canary.judge.confidence`",
                ))
            }
        })
        .collect()
}

/// A layer as stored: which version, who wrote it and when.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLayer {
    pub scope: Scope,
    pub version: i64,
    pub updated_at: Timestamp,
    pub updated_by: String,
    pub doc: LayerDoc,
}

/// Which stored versions a decision's policy was merged from; recorded in its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySource {
    pub pipeline: String,
    pub stage: String,
    pub layers: Vec<LayerVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerVersion {
    pub layer: String,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: Timestamp,
}

impl PolicySource {
    /// `org v3 + pipeline orders v2 + stage orders/Prod v5`.
    pub fn summary(&self) -> String {
        self.layers
            .iter()
            .map(|layer| format!("{} v{}", layer.layer, layer.version))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// The effective policy of a stage and where it came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub policy: Policy,
    pub value: Value,
    pub source: PolicySource,
}

/// Merges `layers` (lowest first; absent ones left out) into a stage's effective policy. Each
/// layer merged over those below it must be a valid policy, and no layer may lower a field a
/// layer below it forbids lowering: either fails naming the layer, its version and the field.
pub fn effective(pipeline: &str, stage: &str, layers: &[StoredLayer]) -> Result<Effective, PolicyError> {
    if !layers.iter().any(|layer| layer.scope != Scope::Org) {
        return Err(PolicyError::new(
            "policy_ref",
            format!(
                "no policy is stored for pipeline {pipeline} or stage {pipeline}/{stage} (the organisation's default never stands alone, so a misspelt name cannot pass on defaults); store one with `handsoff policy put FILE --pipeline {pipeline} [--stage {stage}]`"
            ),
        ));
    }
    let (policy, merged) = merge_checked(layers)?;
    let source = PolicySource {
        pipeline: pipeline.to_string(),
        stage: stage.to_string(),
        layers: layers
            .iter()
            .map(|layer| LayerVersion {
                layer: layer.scope.label(),
                version: layer.version,
                updated_by: layer.updated_by.clone(),
                updated_at: layer.updated_at,
            })
            .collect(),
    };
    Ok(Effective {
        policy,
        value: merged,
        source,
    })
}

/// Merges `layers` (lowest first), checking that each, merged over those below it, is a valid
/// policy that lowers nothing they forbid lowering. What `policy put` checks before it stores.
pub fn merge_checked(layers: &[StoredLayer]) -> Result<(Policy, Value), PolicyError> {
    let mut merged = Value::Object(Map::new());
    let mut forbidden: Vec<(String, &StoredLayer)> = Vec::new();
    let mut policy = Policy::default();
    for layer in layers {
        let before = merged.clone();
        let name = |path: &str| format!("{} v{}: {path}", layer.scope.label(), layer.version);
        let doc = Value::Object(layer.doc.sections.clone());
        if let Some((at, list, entries)) = removes_a_protective_list(&before, &doc) {
            return Err(PolicyError::new(
                name(&at),
                format!("`null` would remove {list} ({entries} entries from the layers below); those lists only grow"),
            ));
        }
        merge_at(&mut merged, &doc, "");
        for (path, by) in &forbidden {
            if let Some(how) = lowered(path, lookup(&before, path), lookup(&merged, path)) {
                return Err(PolicyError::new(
                    name(path),
                    format!(
                        "{how}; {} v{} forbids lowering it (forbid_lowering)",
                        by.scope.label(),
                        by.version
                    ),
                ));
            }
        }
        policy = Policy::from_value(merged.clone()).map_err(|error| {
            PolicyError::new(
                name(&error.path),
                format!("{} (merged over the layers below it)", error.message),
            )
        })?;
        for (index, path) in layer.doc.forbid_lowering.iter().enumerate() {
            if lookup(&merged, path).is_none() {
                return Err(PolicyError::new(
                    name(&format!("forbid_lowering[{index}]")),
                    format!("`{path}` is not set by this layer or one below it; name a field that is set"),
                ));
            }
            forbidden.push((path.clone(), layer));
        }
    }
    Ok((policy, merged))
}

/// The fields `layers` forbid lowering, each with the layer that forbids it.
pub fn forbidden(layers: &[StoredLayer]) -> Vec<(String, String)> {
    layers
        .iter()
        .flat_map(|layer| {
            layer
                .doc
                .forbid_lowering
                .iter()
                .map(move |path| (path.clone(), format!("{} v{}", layer.scope.label(), layer.version)))
        })
        .collect()
}

/// Field by field, what changes from `before` to `after` (two layers or policies): `- path`,
/// `+ path`, `~ path: old -> new`, in path order.
pub fn diff(before: &Value, after: &Value) -> Vec<String> {
    let leaves = |value: &Value| {
        let mut map = std::collections::BTreeMap::new();
        walk(value, "", &mut |path, leaf| {
            map.insert(path.to_string(), leaf.clone());
        });
        map
    };
    let (before, after) = (leaves(before), leaves(after));
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| match (before.get(path), after.get(path)) {
            (Some(old), None) => Some(format!("- {path}: {old}")),
            (None, Some(new)) => Some(format!("+ {path}: {new}")),
            (Some(old), Some(new)) if old != new => Some(format!("~ {path}: {old} -> {new}")),
            _ => None,
        })
        .collect()
}

impl Scope {
    /// The scope a partition key names, if it is a policy's.
    pub fn from_key(key: &str) -> Option<Scope> {
        let rest = key.strip_prefix("POLICY#")?;
        if rest == "ORG" {
            return Some(Scope::Org);
        }
        if let Some(pipeline) = rest.strip_prefix("PIPELINE#") {
            return (!pipeline.is_empty() && !pipeline.contains('#')).then(|| Scope::Pipeline(pipeline.to_string()));
        }
        let (pipeline, stage) = rest.strip_prefix("STAGE#")?.split_once('#')?;
        (!pipeline.is_empty() && !stage.is_empty() && !stage.contains('#'))
            .then(|| Scope::Stage(pipeline.to_string(), stage.to_string()))
    }
}

/// Where `doc` sets `null` on an appended list (or on a section or object holding one) that the
/// layers below filled: (the path it nulls, the list, how many entries it would drop).
fn removes_a_protective_list(below: &Value, doc: &Value) -> Option<(String, &'static str, usize)> {
    APPENDED.iter().find_map(|list| {
        let entries = lookup(below, list).and_then(Value::as_array).map_or(0, Vec::len);
        if entries == 0 {
            return None;
        }
        let segments: Vec<&str> = list.split('.').collect();
        (1..=segments.len()).find_map(|depth| {
            let at = segments[..depth].join(".");
            (lookup(doc, &at) == Some(&Value::Null)).then(|| (at, *list, entries))
        })
    })
}

/// `over` onto `base` at `path`: objects merge, [`APPENDED`] lists append (each entry once),
/// `null` removes, anything else replaces.
fn merge_at(base: &mut Value, over: &Value, path: &str) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                let inner = join(path, key);
                if value.is_null() {
                    base.remove(key);
                } else if let Some(existing) = base.get_mut(key) {
                    merge_at(existing, value, &inner);
                } else {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        (Value::Array(base), Value::Array(over)) if APPENDED.contains(&path) => {
            for item in over {
                if !base.contains(item) {
                    base.push(item.clone());
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |value, key| value.get(key))
}

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
fn lowered(path: &str, before: Option<&Value>, after: Option<&Value>) -> Option<String> {
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

/// Each leaf of the effective policy (a scalar, or an entry of a list) with the layer that set
/// it, in order: what `handsoff policy explain` prints.
pub fn explain(effective: &Value, layers: &[StoredLayer]) -> Vec<(String, Value, String)> {
    let mut lines = Vec::new();
    walk(effective, "", &mut |path, value| {
        let origin = layers
            .iter()
            .rev()
            .find(|layer| sets(&Value::Object(layer.doc.sections.clone()), path, value))
            .map(|layer| format!("{} v{}", layer.scope.label(), layer.version))
            .unwrap_or_else(|| "(default)".to_string());
        lines.push((path.to_string(), value.clone(), origin));
    });
    lines
}

fn walk(value: &Value, path: &str, visit: &mut dyn FnMut(&str, &Value)) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                walk(inner, &join(path, key), visit);
            }
        }
        Value::Array(items) if APPENDED.contains(&path) => {
            for (index, item) in items.iter().enumerate() {
                visit(&format!("{path}[{index}]"), item);
            }
        }
        leaf => visit(path, leaf),
    }
}

/// Whether `layer` sets `path` to `value` (for an appended list's entry: holds it).
fn sets(layer: &Value, path: &str, value: &Value) -> bool {
    match path.rsplit_once('[') {
        Some((list, _)) => lookup(layer, list)
            .and_then(Value::as_array)
            .is_some_and(|items| items.contains(value)),
        None => lookup(layer, path) == Some(value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn layer(scope: Scope, version: i64, doc: Value) -> StoredLayer {
        StoredLayer {
            scope,
            version,
            updated_at: "2026-12-01T09:00:00Z".parse().unwrap(),
            updated_by: "arn:aws:sts::123456789012:assumed-role/platform/alice".into(),
            doc: LayerDoc::from_value(doc).unwrap(),
        }
    }

    fn org() -> StoredLayer {
        layer(
            Scope::Org,
            3,
            json!({
                "windows": {"timezone": "Europe/London", "allow": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}],
                            "deny": [{"date": "2026-12-25", "reason": "Christmas"}]},
                "alarms": {"watch": [{"names": ["org-wide-outage"]}]},
                "bake": {"duration": "1h"},
                "forbid_lowering": ["bake.duration", "windows.deny"]
            }),
        )
    }

    fn stage(doc: Value) -> StoredLayer {
        layer(Scope::Stage("orders".into(), "Prod".into()), 5, doc)
    }

    #[test]
    fn lists_that_protect_append_others_replace_scalars_override_and_null_removes() {
        let pipeline = layer(
            Scope::Pipeline("orders".into()),
            2,
            json!({"windows": {"allow": [{"days": "Mon-Fri", "start": "10:00", "end": "15:00"}],
                               "deny": [{"date": "2026-12-31", "reason": "year end"}], "min_time_left": "30m"},
                   "alarms": {"watch": [{"names": ["orders-5xx"]}]}}),
        );
        let top = stage(json!({"bake": {"duration": "2h"}, "windows": {"min_time_left": null}}));
        let merged = effective("orders", "Prod", &[org(), pipeline, top]).unwrap();
        assert_eq!(
            merged.value["windows"]["allow"],
            json!([{"days": "Mon-Fri", "start": "10:00", "end": "15:00"}])
        );
        assert_eq!(
            merged.value["windows"]["deny"],
            json!([{"date": "2026-12-25", "reason": "Christmas"}, {"date": "2026-12-31", "reason": "year end"}])
        );
        assert_eq!(merged.value["windows"].get("min_time_left"), None);
        assert_eq!(
            merged.value["alarms"]["watch"],
            json!([{"names": ["org-wide-outage"]}, {"names": ["orders-5xx"]}])
        );
        assert_eq!(merged.value["bake"]["duration"], json!("2h"));
        assert_eq!(
            merged.source.summary(),
            "org v3 + pipeline orders v2 + stage orders/Prod v5"
        );
        assert_eq!(merged.policy.bake().unwrap().duration.to_string(), "2h");
    }

    #[test]
    fn a_stage_that_shortens_the_organisations_minimum_bake_is_refused_naming_the_field() {
        let error = effective("orders", "Prod", &[org(), stage(json!({"bake": {"duration": "30m"}}))]).unwrap_err();
        assert_eq!(error.path, "stage orders/Prod v5: bake.duration");
        assert_eq!(
            error.message,
            "`30m` is shorter than `1h`; org v3 forbids lowering it (forbid_lowering)"
        );
        let removed = effective("orders", "Prod", &[org(), stage(json!({"bake": null}))]).unwrap_err();
        assert!(removed.message.starts_with("removes `1h`"), "{removed}");
        let dropped = effective("orders", "Prod", &[org(), stage(json!({"windows": {"deny": null}}))]).unwrap_err();
        assert!(dropped.message.contains("those lists only grow"), "{dropped}");
    }

    #[test]
    fn raising_or_appending_to_a_forbidden_field_is_allowed() {
        let merged = effective(
            "orders",
            "Prod",
            &[org(), stage(json!({"bake": {"duration": "90m"}, "windows": {"deny": [{"date": "2027-01-01", "reason": "new year"}]}}))],
        )
        .unwrap();
        assert_eq!(merged.value["bake"]["duration"], json!("90m"));
    }

    #[test]
    fn floors_may_only_rise_ceilings_only_fall_and_everything_else_is_locked() {
        let lowered = |path: &str, before: Value, after: Value| lowered(path, Some(&before), Some(&after));
        assert_eq!(
            lowered("bake.duration", json!("1h"), json!("30m")).unwrap(),
            "`30m` is shorter than `1h`"
        );
        assert_eq!(
            lowered("canary.judge.min_requests", json!(500), json!(100)).unwrap(),
            "100 is lower than 500"
        );
        assert_eq!(lowered("bake.duration", json!("1h"), json!("2h")), None);
        assert_eq!(lowered("canary.judge.min_requests", json!(500), json!(1000)), None);
        // A higher confidence makes the judge slower to fail a bad canary: that lowers it.
        assert_eq!(
            lowered("canary.judge.confidence", json!(0.99), json!(0.9999)).unwrap(),
            "0.9999 is above 0.99 (a higher value protects less)"
        );
        assert_eq!(lowered("canary.judge.confidence", json!(0.99), json!(0.95)), None);
        assert!(lowered("alarms.max_override_ttl", json!("4h"), json!("1d")).is_some());
        assert_eq!(
            lowered("windows.when_closed", json!("fail"), json!("wait")).unwrap(),
            "`wait` changes `fail`"
        );
        assert_eq!(lowered("windows.when_closed", json!("wait"), json!("wait")), None);
        assert!(
            lowered("bake.duration", json!("1h"), json!(3600)).is_some(),
            "a type change is a change"
        );
        // Appended lists may grow; any other list is locked, additions included (another
        // allow window widens the window).
        assert_eq!(lowered("windows.deny", json!([1, 2]), json!([2, 1, 3])), None);
        assert!(lowered("windows.deny", json!([1, 2]), json!([2])).is_some());
        let allow = json!([{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}]);
        let wider = json!([{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}, {"days": "Sat-Sun", "start": "00:00", "end": "24:00"}]);
        assert!(lowered("windows.allow", allow, wider).is_some());
        // A protected object: each field by its own rule, and a new key may loosen it.
        assert!(
            lowered(
                "canary.judge",
                json!({"confidence": 0.99}),
                json!({"confidence": 0.9999})
            )
            .unwrap()
            .starts_with("confidence: 0.9999 is above 0.99")
        );
        assert_eq!(
            lowered(
                "alarms",
                json!({"watch": [1]}),
                json!({"watch": [1], "insufficient_data": "proceed"})
            )
            .unwrap(),
            "adds `insufficient_data`, which may loosen it"
        );
        assert_eq!(
            lowered("bake", json!({"duration": "1h"}), json!({"duration": "3h"})),
            None
        );
        assert_eq!(super::lowered("bake.duration", None, Some(&json!("1h"))), None);
        assert!(
            lowered("windows.deny", json!([{"date": "x".repeat(500)}]), json!([]))
                .unwrap()
                .len()
                < 120
        );
    }

    #[test]
    fn a_layer_cannot_null_away_a_list_that_only_grows() {
        for doc in [
            json!({"windows": {"deny": null}}),
            json!({"windows": null}),
            json!({"alarms": null}),
        ] {
            let error = effective("orders", "Prod", &[org(), stage(doc.clone())]).unwrap_err();
            assert!(error.message.contains("those lists only grow"), "{doc}: {error}");
        }
        let error = effective("orders", "Prod", &[org(), stage(json!({"windows": null}))]).unwrap_err();
        assert_eq!(error.path, "stage orders/Prod v5: windows");
        assert!(
            error.message.starts_with("`null` would remove windows.deny (1 entries"),
            "{error}"
        );
    }

    #[test]
    fn each_layer_must_be_a_valid_policy_over_the_ones_below_it() {
        let error = effective("orders", "Prod", &[org(), stage(json!({"bake": {"durration": "2h"}}))]).unwrap_err();
        assert_eq!(error.path, "stage orders/Prod v5: bake.durration");
        assert!(error.message.contains("unknown field `durration`"), "{error}");
    }

    #[test]
    fn the_organisations_default_alone_never_stands_for_a_stage() {
        let error = effective("ordres", "Prod", &[org()]).unwrap_err();
        assert!(
            error
                .message
                .starts_with("no policy is stored for pipeline ordres or stage ordres/Prod"),
            "{error}"
        );
    }

    #[test]
    fn a_forbidden_path_must_be_set_where_it_is_declared() {
        let bad = layer(
            Scope::Pipeline("orders".into()),
            1,
            json!({"bake": {"duration": "1h"}, "forbid_lowering": ["canary.judge.confidence"]}),
        );
        let error = effective("orders", "Prod", &[bad]).unwrap_err();
        assert_eq!(error.path, "pipeline orders v1: forbid_lowering[0]");
        for doc in [
            json!({"forbid_lowering": ["Bake.duration"]}),
            json!({"forbid_lowering": ["deploy.x"]}),
            json!({"forbid_lowering": "bake.duration"}),
            json!({"windowz": {}}),
            json!({"bake": 3}),
            json!([]),
        ] {
            assert!(LayerDoc::from_value(doc.clone()).is_err(), "{doc}");
        }
    }

    #[test]
    fn explain_names_the_layer_behind_every_field_and_list_entry() {
        let layers = [
            org(),
            stage(json!({"bake": {"duration": "2h"}, "alarms": {"watch": [{"names": ["orders-5xx"]}]}})),
        ];
        let merged = effective("orders", "Prod", &layers).unwrap();
        let lines = explain(&merged.value, &layers);
        let origin = |path: &str| {
            lines
                .iter()
                .find(|(at, _, _)| at == path)
                .map(|(_, _, origin)| origin.as_str())
                .unwrap()
        };
        assert_eq!(origin("bake.duration"), "stage orders/Prod v5");
        assert_eq!(origin("windows.timezone"), "org v3");
        assert_eq!(origin("alarms.watch[0]"), "org v3");
        assert_eq!(origin("alarms.watch[1]"), "stage orders/Prod v5");
    }

    #[test]
    fn diff_names_each_field_added_removed_or_changed() {
        let lines = diff(
            &json!({"bake": {"duration": "1h", "max_duration": "3h"}, "alarms": {"watch": [{"names": ["a"]}]}}),
            &json!({"bake": {"duration": "2h"}, "alarms": {"watch": [{"names": ["a"]}, {"names": ["b"]}]}}),
        );
        assert_eq!(
            lines,
            [
                "+ alarms.watch[1]: {\"names\":[\"b\"]}",
                "~ bake.duration: \"1h\" -> \"2h\"",
                "- bake.max_duration: \"3h\"",
            ]
        );
    }

    #[test]
    fn scopes_round_trip_through_their_keys() {
        for scope in Scope::chain("orders", "Prod") {
            assert_eq!(Scope::from_key(&scope.key()), Some(scope));
        }
        assert_eq!(Scope::from_key("POLICY#STAGE#orders"), None);
        assert_eq!(Scope::from_key("SUITE#orders#Prod"), None);
    }
}

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

use crate::policy::{Policy, PolicyError};

mod explain;
mod lowering;

pub use explain::{diff, explain, forbidden};
use lowering::lowered;
pub use lowering::{CEILINGS, FLOORS};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PolicySource {
    pub pipeline: String,
    pub stage: String,
    pub layers: Vec<LayerVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
            (lookup(doc, &at) == Some(&Value::Null)).then_some((at, *list, entries))
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

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |value, key| value.get(key))
}

#[cfg(test)]
mod tests;

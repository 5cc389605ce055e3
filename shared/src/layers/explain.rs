//! Reading the layers back: where each field of the effective policy came from, what
//! changed between two versions, and which fields are protected.

use serde_json::Value;

use super::{APPENDED, StoredLayer, join, lookup};

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

//! The JSON paths expectations use: `$`, `.name`, `['any name']` and `[index]` — one value,
//! no wildcards or filters, so a check always names exactly what it looks at.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(pub Vec<Step>);

const HINT: &str = "write a path such as $.items[0].id or $['odd key'] (no wildcards or filters)";

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, crate::error::Invalid> {
        let Some(mut rest) = text.strip_prefix('$') else {
            return Err(format!("`{text}` does not start with `$`; {HINT}").into());
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let key = &after[..end];
                if key.is_empty() || key == "*" {
                    return Err(format!("`{text}` has an empty or wildcard key; {HINT}").into());
                }
                steps.push(Step::Key(key.to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix("['") {
                let end = after
                    .find("']")
                    .ok_or_else(|| format!("`{text}` opens `['` without `']`; {HINT}"))?;
                steps.push(Step::Key(after[..end].to_string()));
                rest = &after[end + 2..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after
                    .find(']')
                    .ok_or_else(|| format!("`{text}` opens `[` without `]`; {HINT}"))?;
                let index = after[..end]
                    .parse::<usize>()
                    .map_err(|_| format!("`{text}` has `[{}]`, which is not an index; {HINT}", &after[..end]))?;
                steps.push(Step::Index(index));
                rest = &after[end + 1..];
            } else {
                return Err(format!("`{text}` is not a path; {HINT}").into());
            }
        }
        Ok(JsonPath(steps))
    }

    /// The value at this path, if there is one.
    pub fn find<'a>(&self, mut value: &'a Value) -> Option<&'a Value> {
        for step in &self.0 {
            value = match step {
                Step::Key(key) => value.as_object()?.get(key)?,
                Step::Index(index) => value.as_array()?.get(*index)?,
            };
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_keys_indexes_and_quoted_keys() {
        let doc = json!({"items": [{"id": 7}, {"id": 8, "odd key": true}]});
        let at = |path: &str| JsonPath::parse(path).unwrap().find(&doc).cloned();
        assert_eq!(at("$"), Some(doc.clone()));
        assert_eq!(at("$.items[1].id"), Some(json!(8)));
        assert_eq!(at("$.items[1]['odd key']"), Some(json!(true)));
        assert_eq!(at("$.items[2].id"), None);
        assert_eq!(at("$.items.id"), None);
    }

    #[test]
    fn rejects_what_it_cannot_evaluate_with_a_hint() {
        for bad in ["items", "$..id", "$.items[*]", "$.items[x]", "$['a", "$[0"] {
            let error = JsonPath::parse(bad).unwrap_err();
            assert!(error.contains("$.items[0].id"), "{bad}: {error}");
        }
    }
}

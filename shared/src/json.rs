//! JSON as every contract reads it: each key once (a second `"stage"` or `"min"` is refused,
//! not silently preferred), and errors that name the field without quoting its value (a
//! secret given in the wrong shape must not come back in an error or a log).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Parses one JSON document whose objects repeat no key; the error names the repeated key's
/// path (`context.stage`, `tests[2].expect`) or where the text stops being JSON.
pub fn parse_strict(text: &str) -> Result<Value, crate::error::Invalid> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Seed {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value))
    .map_err(|error| format!("not valid JSON: {}", without_value(&error.to_string())))?;
    match found.into_inner() {
        Some(path) => Err(duplicate(&path).into()),
        None => Ok(value),
    }
}

/// `value` with every object's keys in order, whichever map serde_json was built with (a
/// workspace build may switch on `preserve_order`): for files committed and compared.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|key| (key.clone(), sorted(&map[key]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn duplicate(path: &str) -> String {
    format!("key `{path}` appears twice; give each key once")
}

/// An event as the Lambda runtime hands it over, with the first repeated key if any: the
/// runtime's own parse would keep the last and say nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub value: Value,
    pub duplicate: Option<String>,
}

impl Payload {
    /// The event, or an error naming its first repeated key.
    pub fn into_value(self) -> Result<Value, crate::error::Invalid> {
        match self.duplicate {
            Some(path) => Err(format!("payload: {}", duplicate(&path)).into()),
            None => Ok(self.value),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        let found = RefCell::new(None);
        let value = Seed {
            path: String::new(),
            found: &found,
        }
        .deserialize(deserializer)?;
        Ok(Payload {
            value,
            duplicate: found.into_inner(),
        })
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

/// Builds a `Value`, noting the path of the first key an object repeats.
struct Seed<'a> {
    path: String,
    found: &'a RefCell<Option<String>>,
}

impl Seed<'_> {
    fn child(&self, step: String) -> Seed<'_> {
        Seed {
            path: step,
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            let value = map.next_value_seed(self.child(path.clone()))?;
            if object.insert(key, value).is_some() {
                self.found.borrow_mut().get_or_insert(path);
            }
        }
        Ok(Value::Object(object))
    }
}

/// A serde message without the value it quotes: `invalid type: string "tok-1", expected a map`
/// becomes `invalid type: a string, expected a map`.
pub fn without_value(message: &str) -> String {
    for lead in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = message.strip_prefix(lead) {
            let kind = rest.split([' ', ',']).next().unwrap_or("value");
            // The last one: the refused value itself may contain ", expected ".
            let expected = rest.rfind(", expected ").map(|at| &rest[at..]).unwrap_or_default();
            let kind = match kind {
                "integer" => "an integer".to_string(),
                "string" | "boolean" | "map" | "sequence" | "character" => format!("a {kind}"),
                "floating" => "a number".to_string(),
                "unit" | "null" => "null".to_string(),
                other => other.to_string(),
            };
            return format!("{lead}{kind}{expected}");
        }
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_json_and_refuses_a_repeated_key_naming_its_path() {
        assert_eq!(
            parse_strict(r#"{"a": [1, {"b": null}]}"#),
            Ok(json!({"a": [1, {"b": null}]}))
        );
        for (text, path) in [
            (r#"{"a": 1, "a": 2}"#, "a"),
            (r#"{"context": {"stage": "Prod", "stage": "Beta"}}"#, "context.stage"),
            (r#"{"tests": [{}, {}, {"expect": 1, "expect": 2}]}"#, "tests[2].expect"),
            (r#"{"x": {"y": 1}, "x": {"y": 1}}"#, "x"),
        ] {
            let error = parse_strict(text).unwrap_err();
            assert_eq!(
                error,
                format!("key `{path}` appears twice; give each key once").into(),
                "{text}"
            );
        }
        assert!(parse_strict("{} trailing").unwrap_err().starts_with("not valid JSON"));
        assert!(parse_strict("{").unwrap_err().starts_with("not valid JSON"));
    }

    #[test]
    fn a_payload_keeps_the_first_repeated_key() {
        let payload: Payload =
            serde_json::from_str(r#"{"policy": {}, "context": {"stage": "a", "stage": "b"}}"#).unwrap();
        assert_eq!(payload.duplicate.as_deref(), Some("context.stage"));
        assert_eq!(
            payload.into_value().unwrap_err(),
            "payload: key `context.stage` appears twice; give each key once".into()
        );
        let payload: Payload = serde_json::from_str(r#"{"policy": {}}"#).unwrap();
        assert_eq!(payload.into_value(), Ok(json!({"policy": {}})));
    }

    #[test]
    fn error_messages_name_the_kind_never_the_value() {
        for (message, expected) in [
            (
                r#"invalid type: string "tok-6f1c", expected a map"#,
                "invalid type: a string, expected a map",
            ),
            (
                "invalid type: integer `42`, expected a string",
                "invalid type: an integer, expected a string",
            ),
            (
                r#"invalid value: string "s3cr3t", expected one of `a`, `b`"#,
                "invalid value: a string, expected one of `a`, `b`",
            ),
            ("missing field `suite`", "missing field `suite`"),
            (
                r#"invalid type: string "x, expected hunter2", expected a map"#,
                "invalid type: a string, expected a map",
            ),
        ] {
            assert_eq!(without_value(message), expected);
        }
    }
}

//! `${name}` variables in URLs, headers, bodies and payloads. `$${` writes a literal `${`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::SuiteError;

/// One piece of a template.
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('$') {
        let after = &rest[start + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            // `$${` is an escaped `${`.
            out.push(Piece::Text(&rest[..start]));
            out.push(Piece::Text("${"));
            rest = escaped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("`{template}` opens `${{` without a closing `}}`"))?;
            let name = &body[..end];
            if name.is_empty() || !name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_') {
                return Err(format!("`${{{name}}}` is not a variable name (letters, digits and _)"));
            }
            out.push(Piece::Text(&rest[..start]));
            out.push(Piece::Var(name));
            rest = &body[end + 1..];
        } else {
            out.push(Piece::Text(&rest[..=start]));
            rest = after;
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// The variables a template uses.
pub fn used(template: &str) -> Result<Vec<&str>, crate::error::Invalid> {
    Ok(pieces(template)?
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Var(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Fails when `template` uses a variable the suite does not declare.
pub fn check_declared(template: &str, declared: &BTreeMap<String, Option<String>>, at: &str) -> Result<(), SuiteError> {
    for name in used(template).map_err(|message| SuiteError::new(at, message))? {
        if !declared.contains_key(name) {
            return Err(SuiteError::new(
                at,
                format!(
                    "uses `${{{name}}}`, which is not declared in the suite's `vars` (declare it, null if the stage supplies it)"
                ),
            ));
        }
    }
    Ok(())
}

pub fn check_declared_in_json(
    value: &Value,
    declared: &BTreeMap<String, Option<String>>,
    at: &str,
) -> Result<(), SuiteError> {
    match value {
        Value::String(text) => check_declared(text, declared, at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_declared_in_json(item, declared, &format!("{at}[{index}]"))),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(key, item)| check_declared_in_json(item, declared, &format!("{at}.{key}"))),
        _ => Ok(()),
    }
}

/// Replaces every `${name}` with its value.
pub fn substitute(template: &str, values: &BTreeMap<String, String>) -> Result<String, crate::error::Invalid> {
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Var(name) => out.push_str(
                values
                    .get(name)
                    .ok_or_else(|| format!("`${{{name}}}` has no value: pass it from the stage (vars.{name})"))?,
            ),
        }
    }
    Ok(out)
}

pub fn substitute_json(value: &Value, values: &BTreeMap<String, String>) -> Result<Value, crate::error::Invalid> {
    Ok(match value {
        Value::String(text) => Value::String(substitute(text, values)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute_json(item, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), substitute_json(item, values)?)))
                .collect::<Result<_, crate::error::Invalid>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn substitutes_names_and_keeps_escapes_and_lone_dollars() {
        let vars = values(&[("base_url", "https://api.example.com"), ("id", "42")]);
        assert_eq!(
            substitute("${base_url}/orders/${id}?price=$5&literal=$${id}", &vars).unwrap(),
            "https://api.example.com/orders/42?price=$5&literal=${id}"
        );
    }

    #[test]
    fn a_missing_value_names_the_variable() {
        let error = substitute("${base_url}/x", &values(&[])).unwrap_err();
        assert!(
            error.contains("${base_url}") && error.contains("vars.base_url"),
            "{error}"
        );
    }

    #[test]
    fn malformed_templates_are_rejected() {
        assert!(substitute("${base_url", &values(&[])).unwrap_err().contains("closing"));
        assert!(
            substitute("${a-b}", &values(&[]))
                .unwrap_err()
                .contains("not a variable name")
        );
    }

    #[test]
    fn json_substitution_reaches_nested_strings_only() {
        let vars = values(&[("id", "42")]);
        let body = serde_json::json!({"order": {"id": "${id}", "tags": ["t-${id}"], "qty": 3}});
        assert_eq!(
            substitute_json(&body, &vars).unwrap(),
            serde_json::json!({"order": {"id": "42", "tags": ["t-42"], "qty": 3}})
        );
    }
}

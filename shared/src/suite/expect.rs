//! Checks a response against a test's expectations. Pure: every failed expectation becomes one
//! line that says what was expected and what came back.

use std::time::Duration;

use serde_json::Value;

use super::jsonpath::JsonPath;
use super::model::{Expect, JsonCheck, StatusMatcher, TextCheck, compile};

/// What an HTTP request got back.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpObservation {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub latency: Duration,
    /// Credentials the transport added (SigV4 signature, session token): an endpoint that
    /// echoes its request must not get them into results.
    pub added_secrets: Vec<String>,
}

/// What a Lambda invocation returned.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaObservation {
    /// `Unhandled` or `Handled` when the function returned an error.
    pub function_error: Option<String>,
    pub payload: String,
    pub latency: Duration,
}

/// How much of a value a failure message quotes.
const QUOTE: usize = 200;

fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(QUOTE).collect::<String>())
    }
}

pub fn check_http(expect: &Expect, seen: &HttpObservation) -> Vec<String> {
    let mut failures = Vec::new();
    // Leaving the status out still expects success: a 500 is never a pass by omission.
    let status = match &expect.status {
        Some(value) => StatusMatcher::parse(value).unwrap_or(StatusMatcher::Class(2)),
        None => StatusMatcher::Class(2),
    };
    if !status.accepts(seen.status) {
        failures.push(format!("status: expected {status}, got {}", seen.status));
    }
    for (name, check) in &expect.headers {
        let value = seen
            .headers
            .iter()
            .find(|(seen_name, _)| seen_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str());
        if let Some(failure) = check_text(check, value) {
            failures.push(format!("header {}: {failure}", name.to_ascii_lowercase()));
        }
    }
    check_body(expect, &seen.body, &mut failures);
    check_latency(expect, seen.latency, &mut failures);
    failures
}

pub fn check_lambda(expect: &Expect, seen: &LambdaObservation) -> Vec<String> {
    let mut failures = Vec::new();
    let want_error = expect.function_error.unwrap_or(false);
    match (&seen.function_error, want_error) {
        (Some(kind), false) => failures.push(format!(
            "function error: expected none, got a {kind} error: {}",
            quote(&seen.payload)
        )),
        (None, true) => failures.push("function error: expected one, the function succeeded".to_string()),
        _ => {}
    }
    check_body(expect, &seen.payload, &mut failures);
    check_latency(expect, seen.latency, &mut failures);
    failures
}

fn check_body(expect: &Expect, body: &str, failures: &mut Vec<String>) {
    for text in &expect.body_contains {
        if !body.contains(text.as_str()) {
            failures.push(format!("body: does not contain `{}`", quote(text)));
        }
    }
    if expect.json.is_empty() {
        return;
    }
    match serde_json::from_str::<Value>(body) {
        Ok(document) => failures.extend(expect.json.iter().filter_map(|check| check_json(check, &document))),
        Err(error) => failures.push(format!("json: the body is not JSON ({error}): {}", quote(body))),
    }
}

fn check_latency(expect: &Expect, latency: Duration, failures: &mut Vec<String>) {
    if let Some(limit) = expect.max_latency
        && latency > limit.0
    {
        failures.push(format!(
            "latency: {} ms, above the {limit} allowed",
            latency.as_millis()
        ));
    }
}

fn check_json(check: &JsonCheck, document: &Value) -> Option<String> {
    let at = &check.path;
    let Ok(path) = JsonPath::parse(at) else {
        return Some(format!("json {at}: not a path"));
    };
    let found = path.find(document);
    if let Some(expected) = &check.equals {
        return match found {
            Some(value) if value == expected => None,
            Some(value) => Some(format!(
                "json {at}: expected {expected}, got {}",
                quote(&value.to_string())
            )),
            None => Some(format!(
                "json {at}: expected {expected}, but there is nothing at that path"
            )),
        };
    }
    if let Some(exists) = check.exists {
        return match (found.is_some(), exists) {
            (true, false) => Some(format!(
                "json {at}: expected nothing there, got {}",
                quote(&found?.to_string())
            )),
            (false, true) => Some(format!("json {at}: missing")),
            _ => None,
        };
    }
    if let Some(pattern) = &check.matches {
        let Some(value) = found else {
            return Some(format!("json {at}: missing (expected to match `{pattern}`)"));
        };
        // Strings match as they are; other values as their JSON text.
        let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        return match compile(pattern) {
            Ok(regex) if regex.is_match(&text) => None,
            Ok(_) => Some(format!("json {at}: `{}` does not match `{pattern}`", quote(&text))),
            Err(message) => Some(format!("json {at}: {message}")),
        };
    }
    None
}

fn check_text(check: &TextCheck, value: Option<&str>) -> Option<String> {
    if let Some(exists) = check.exists {
        return match (value, exists) {
            (Some(value), false) => Some(format!("expected no such header, got `{}`", quote(value))),
            (None, true) => Some("missing".to_string()),
            _ => None,
        };
    }
    let Some(value) = value else {
        return Some("missing".to_string());
    };
    if let Some(expected) = &check.equals {
        return (value != expected).then(|| format!("expected `{expected}`, got `{}`", quote(value)));
    }
    if let Some(expected) = &check.contains {
        return (!value.contains(expected.as_str()))
            .then(|| format!("expected to contain `{expected}`, got `{}`", quote(value)));
    }
    if let Some(pattern) = &check.matches {
        return match compile(pattern) {
            Ok(regex) => (!regex.is_match(value)).then(|| format!("`{}` does not match `{pattern}`", quote(value))),
            Err(message) => Some(message.to_string()),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(value: Value) -> Expect {
        serde_json::from_value(value).unwrap()
    }

    fn response(status: u16, body: &str, millis: u64) -> HttpObservation {
        HttpObservation {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            latency: Duration::from_millis(millis),
            added_secrets: Vec::new(),
        }
    }

    #[test]
    fn a_matching_response_passes_every_kind_of_expectation() {
        let expect = expect(json!({
            "status": [200, 201],
            "headers": {"Content-Type": {"contains": "json"}, "x-missing": {"exists": false}},
            "json": [
                {"path": "$.status", "equals": "ok"},
                {"path": "$.items[0].id", "exists": true},
                {"path": "$.version", "matches": "^1\\.[0-9]+$"},
                {"path": "$.error", "exists": false}
            ],
            "body_contains": ["\"ok\""],
            "max_latency": "500ms"
        }));
        let body = r#"{"status": "ok", "items": [{"id": 1}], "version": "1.12"}"#;
        assert_eq!(check_http(&expect, &response(201, body, 120)), Vec::<String>::new());
    }

    #[test]
    fn each_failed_expectation_is_reported_with_what_came_back() {
        let expect = expect(json!({
            "status": 200,
            "headers": {"content-type": {"equals": "text/plain"}, "etag": {"exists": true}},
            "json": [
                {"path": "$.status", "equals": "ok"},
                {"path": "$.id", "exists": true},
                {"path": "$.version", "matches": "^2\\."}
            ],
            "body_contains": ["healthy"],
            "max_latency": "100ms"
        }));
        let failures = check_http(
            &expect,
            &response(503, r#"{"status": "degraded", "version": "1.0"}"#, 250),
        );
        assert_eq!(
            failures,
            vec![
                "status: expected 200, got 503",
                "header content-type: expected `text/plain`, got `application/json`",
                "header etag: missing",
                "body: does not contain `healthy`",
                "json $.status: expected \"ok\", got \"degraded\"",
                "json $.id: missing",
                "json $.version: `1.0` does not match `^2\\.`",
                "latency: 250 ms, above the 100ms allowed",
            ]
        );
    }

    #[test]
    fn status_defaults_to_success_and_classes_match_by_hundreds() {
        assert_eq!(
            check_http(&Expect::default(), &response(500, "", 1)),
            vec!["status: expected 2xx, got 500"]
        );
        assert!(check_http(&Expect::default(), &response(204, "", 1)).is_empty());
        let negative = expect(json!({"status": "4xx"}));
        assert!(check_http(&negative, &response(404, "", 1)).is_empty());
        assert_eq!(
            check_http(&negative, &response(200, "", 1)),
            vec!["status: expected 4xx, got 200"]
        );
    }

    #[test]
    fn a_body_that_is_not_json_fails_json_checks() {
        let expect = expect(json!({"json": [{"path": "$.ok", "equals": true}]}));
        let failures = check_http(&expect, &response(200, "<html>oops</html>", 1));
        assert_eq!(failures.len(), 1);
        assert!(failures[0].starts_with("json: the body is not JSON") && failures[0].ends_with("<html>oops</html>"));
    }

    #[test]
    fn lambda_function_errors_fail_unless_expected() {
        let seen = LambdaObservation {
            function_error: Some("Unhandled".into()),
            payload: r#"{"errorType": "Boom"}"#.into(),
            latency: Duration::from_millis(3),
        };
        assert_eq!(
            check_lambda(&Expect::default(), &seen),
            vec![r#"function error: expected none, got a Unhandled error: {"errorType": "Boom"}"#]
        );
        let negative = expect(json!({"function_error": true, "json": [{"path": "$.errorType", "equals": "Boom"}]}));
        assert!(check_lambda(&negative, &seen).is_empty());
    }
}

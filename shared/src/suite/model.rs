//! The suite document: a stage's validation tests, declared as data. Parsed strictly, like the
//! policy: an unknown field or a bad value is an error that names its path.
//!
//! Over 400 lines: the suite format's types and one check per field, which the JSON Schema
//! publishes together.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::vars;
use crate::policy::PolicyError;

/// A suite problem: the field at fault (`tests[2].expect.status`) and what is allowed there.
pub type SuiteError = PolicyError;

const ROOT: &str = "suite";

/// Most tests a suite may hold, and most requests a traffic test may send: a suite validates a
/// stage, it is not a load test.
pub const MAX_TESTS: usize = 200;
pub const MAX_TRAFFIC_REQUESTS: u32 = 100_000;
pub const MAX_CONCURRENCY: usize = 32;
pub const MAX_ATTEMPTS: u32 = 10;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Variables the tests use as `${name}`, with defaults; `null` means the stage must supply it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, Option<String>>,
    /// Variables whose values are secret: never shown in results or logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub defaults: TestDefaults,
    /// How many tests run at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    pub tests: Vec<TestCase>,
}

fn default_concurrency() -> usize {
    4
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ShortDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    /// Headers sent with every HTTP test (a test's own headers win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// Tries a failing test again: `attempts` in all, waiting `backoff`, then twice that, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    pub attempts: u32,
    #[serde(default = "default_backoff")]
    pub backoff: ShortDuration,
}

fn default_backoff() -> ShortDuration {
    ShortDuration(Duration::from_millis(500))
}

/// The timeout of a test that names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    /// Exactly one of `http`, `lambda` and `traffic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpRequestSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ShortDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestSpec {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A string is sent as it is; anything else as JSON (with `content-type: application/json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Signs the request with SigV4 (IAM-authorised APIs), with the runner's own credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<SignSpec>,
}

fn default_method() -> String {
    "GET".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignSpec {
    /// The signing name: `execute-api` for API Gateway, `lambda` for function URLs.
    pub service: String,
    /// Defaults to the runner's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaSpec {
    /// A name, `name:alias` or ARN.
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// Sends `requests` requests at `rate_per_second`, so a quiet stage's bake still sees traffic.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    pub requests: u32,
    pub rate_per_second: f64,
    pub http: HttpRequestSpec,
    /// The share of responses that must meet `expect` for the test to pass.
    #[serde(default = "all_of_them")]
    pub min_success_percent: f64,
}

fn all_of_them() -> f64 {
    100.0
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `200`, `[200, 201]` or `"2xx"`. HTTP tests expect `2xx` when this is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// Response headers by name (case-insensitive).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, TextCheck>,
    /// Checks on the JSON body (HTTP) or the function's response (Lambda).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<JsonCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<ShortDuration>,
    /// Lambda tests: whether the function is expected to return an error (default: no).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_error: Option<bool>,
}

/// One check of a text: exactly one of the fields.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

/// One check of the JSON at `path` (`$.items[0].id`): exactly one of `equals`, `exists`, `matches`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonCheck {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

/// A duration with millisecond precision: `250ms`, `5s`, `1m30s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ShortDuration(pub Duration);

/// Longest duration a test may name (a Lambda runs at most 15 minutes).
const MAX_SHORT: Duration = Duration::from_secs(15 * 60);

impl FromStr for ShortDuration {
    type Err = crate::error::Invalid;

    fn from_str(text: &str) -> Result<Self, crate::error::Invalid> {
        let hint = "write a duration such as 250ms, 5s or 1m30s (at most 15m)";
        let mut total = Duration::ZERO;
        let mut rest = text;
        if rest.is_empty() {
            return Err(format!("empty duration; {hint}").into());
        }
        while !rest.is_empty() {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            if digits == 0 {
                return Err(format!("`{text}` is not a duration; {hint}").into());
            }
            let value: u64 = rest[..digits]
                .parse()
                .map_err(|_| format!("`{text}` is too long; {hint}"))?;
            rest = &rest[digits..];
            let (unit, millis) = if rest.starts_with("ms") {
                ("ms", 1)
            } else if rest.starts_with('s') {
                ("s", 1_000)
            } else if rest.starts_with('m') {
                ("m", 60_000)
            } else {
                return Err(format!("`{text}` needs a unit after {value}; {hint}").into());
            };
            rest = &rest[unit.len()..];
            total += Duration::from_millis(value.saturating_mul(millis));
            if total > MAX_SHORT {
                return Err(format!("`{text}` is longer than 15m; {hint}").into());
            }
        }
        Ok(ShortDuration(total))
    }
}

impl TryFrom<String> for ShortDuration {
    type Error = crate::error::Invalid;
    fn try_from(text: String) -> Result<Self, crate::error::Invalid> {
        text.parse()
    }
}

impl From<ShortDuration> for String {
    fn from(duration: ShortDuration) -> String {
        duration.to_string()
    }
}

impl fmt::Display for ShortDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis.is_multiple_of(1_000) {
            write!(f, "{}s", millis / 1_000)
        } else {
            write!(f, "{millis}ms")
        }
    }
}

/// What a status expectation accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusMatcher {
    Codes(Vec<u16>),
    /// `2xx`: the hundreds digit.
    Class(u16),
}

impl StatusMatcher {
    pub fn parse(value: &Value) -> Result<StatusMatcher, crate::error::Invalid> {
        let hint = "write a status code (200), a list of codes ([200, 204]) or a class (\"2xx\")";
        let code = |value: &Value| {
            value
                .as_u64()
                .and_then(|code| u16::try_from(code).ok())
                .filter(|code| (100..=599).contains(code))
        };
        match value {
            Value::Number(_) => code(value)
                .map(|code| StatusMatcher::Codes(vec![code]))
                .ok_or_else(|| hint.into()),
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|item| code(item).ok_or_else(|| crate::error::Invalid::from(hint)))
                .collect::<Result<Vec<_>, _>>()
                .map(StatusMatcher::Codes),
            Value::String(text) => match text.to_ascii_lowercase().as_bytes() {
                [digit @ b'1'..=b'5', b'x', b'x'] => Ok(StatusMatcher::Class(u16::from(digit - b'0'))),
                _ => Err(hint.into()),
            },
            _ => Err(hint.into()),
        }
    }

    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusMatcher::Codes(codes) => codes.contains(&status),
            StatusMatcher::Class(class) => status / 100 == *class,
        }
    }
}

impl fmt::Display for StatusMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusMatcher::Codes(codes) if codes.len() == 1 => write!(f, "{}", codes[0]),
            StatusMatcher::Codes(codes) => {
                let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
                write!(f, "one of {}", codes.join(", "))
            }
            StatusMatcher::Class(class) => write!(f, "{class}xx"),
        }
    }
}

impl Suite {
    /// Parses a suite from JSON text.
    pub fn from_json(text: &str) -> Result<Suite, SuiteError> {
        let value = crate::json::parse_strict(text).map_err(|message| SuiteError::new(ROOT, message))?;
        Suite::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<Suite, SuiteError> {
        if !value.is_object() {
            return Err(SuiteError::new(
                ROOT,
                "a suite is an object, e.g. {\"name\": \"smoke\", \"tests\": [...]}",
            ));
        }
        let suite: Suite = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            // The root, or a field with an empty name at the root (found by fuzzing: `{"": 1}`).
            let path = if path == "." || path.is_empty() {
                ROOT.to_string()
            } else {
                path
            };
            SuiteError::new(path, crate::json::without_value(&error.into_inner().to_string()))
        })?;
        suite.validate()?;
        Ok(suite)
    }

    /// Checks what serde cannot: one action per test, sane numbers, patterns that compile,
    /// and every `${var}` declared.
    pub fn validate(&self) -> Result<(), SuiteError> {
        if self.name.trim().is_empty() || self.name.len() > 128 || self.name.contains('#') {
            return Err(SuiteError::new(
                "name",
                "give the suite a name of 1 to 128 characters without `#`",
            ));
        }
        if self.tests.is_empty() || self.tests.len() > MAX_TESTS {
            return Err(SuiteError::new(
                "tests",
                format!("a suite holds 1 to {MAX_TESTS} tests"),
            ));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(SuiteError::new(
                "concurrency",
                format!("run 1 to {MAX_CONCURRENCY} tests at once"),
            ));
        }
        for (index, secret) in self.secrets.iter().enumerate() {
            if !self.vars.contains_key(secret) {
                return Err(SuiteError::new(
                    format!("secrets[{index}]"),
                    format!(
                        "`{secret}` is not one of the suite's vars; declare it in `vars` (null if the stage supplies it)"
                    ),
                ));
            }
        }
        if let Some(retries) = &self.defaults.retries {
            check_retries(retries, "defaults.retries")?;
        }
        for (name, value) in &self.defaults.headers {
            vars::check_declared(value, &self.vars, &format!("defaults.headers.{name}"))?;
        }
        let mut names = std::collections::BTreeSet::new();
        for (index, test) in self.tests.iter().enumerate() {
            let at = format!("tests[{index}]");
            if !names.insert(test.name.as_str()) {
                return Err(SuiteError::new(
                    format!("{at}.name"),
                    format!("`{}` names two tests; test names must be unique", test.name),
                ));
            }
            test.validate(&at, &self.vars)?;
        }
        Ok(())
    }
}

fn check_retries(retries: &Retries, at: &str) -> Result<(), SuiteError> {
    if !(1..=MAX_ATTEMPTS).contains(&retries.attempts) {
        return Err(SuiteError::new(
            format!("{at}.attempts"),
            format!("1 to {MAX_ATTEMPTS} attempts in all (1 = no retry)"),
        ));
    }
    Ok(())
}

impl TestCase {
    fn validate(&self, at: &str, declared: &BTreeMap<String, Option<String>>) -> Result<(), SuiteError> {
        if self.name.trim().is_empty() {
            return Err(SuiteError::new(format!("{at}.name"), "give every test a name"));
        }
        let actions = [self.http.is_some(), self.lambda.is_some(), self.traffic.is_some()];
        if actions.iter().filter(|set| **set).count() != 1 {
            return Err(SuiteError::new(
                at,
                "give a test exactly one of `http`, `lambda` or `traffic`",
            ));
        }
        if let Some(retries) = &self.retries {
            check_retries(retries, &format!("{at}.retries"))?;
        }
        if let Some(timeout) = self.timeout
            && timeout.0.is_zero()
        {
            return Err(SuiteError::new(format!("{at}.timeout"), "a timeout must be above zero"));
        }
        if let Some(http) = &self.http {
            http.validate(&format!("{at}.http"), declared)?;
        }
        if let Some(lambda) = &self.lambda {
            if lambda.function.trim().is_empty() {
                return Err(SuiteError::new(
                    format!("{at}.lambda.function"),
                    "name the function to invoke",
                ));
            }
            vars::check_declared(&lambda.function, declared, &format!("{at}.lambda.function"))?;
            if let Some(payload) = &lambda.payload {
                vars::check_declared_in_json(payload, declared, &format!("{at}.lambda.payload"))?;
            }
        }
        if let Some(traffic) = &self.traffic {
            let here = format!("{at}.traffic");
            if !(1..=MAX_TRAFFIC_REQUESTS).contains(&traffic.requests) {
                return Err(SuiteError::new(
                    format!("{here}.requests"),
                    format!("send 1 to {MAX_TRAFFIC_REQUESTS} requests"),
                ));
            }
            if !(traffic.rate_per_second.is_finite()
                && traffic.rate_per_second > 0.0
                && traffic.rate_per_second <= 1_000.0)
            {
                return Err(SuiteError::new(
                    format!("{here}.rate_per_second"),
                    "a rate above 0 and at most 1000 requests per second",
                ));
            }
            if !(traffic.min_success_percent.is_finite() && (0.0..=100.0).contains(&traffic.min_success_percent)) {
                return Err(SuiteError::new(
                    format!("{here}.min_success_percent"),
                    "a percentage from 0 to 100",
                ));
            }
            traffic.http.validate(&format!("{here}.http"), declared)?;
        }
        self.expect.validate(&format!("{at}.expect"), self.lambda.is_some())
    }
}

impl HttpRequestSpec {
    fn validate(&self, at: &str, declared: &BTreeMap<String, Option<String>>) -> Result<(), SuiteError> {
        const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        if !METHODS.contains(&self.method.as_str()) {
            return Err(SuiteError::new(
                format!("{at}.method"),
                format!("`{}` is not one of {}", self.method, METHODS.join(", ")),
            ));
        }
        vars::check_declared(&self.url, declared, &format!("{at}.url"))?;
        let starts_with_var = self.url.starts_with("${");
        if !(starts_with_var || self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(SuiteError::new(
                format!("{at}.url"),
                "an absolute http:// or https:// URL (or one that starts with a variable, e.g. ${base_url}/health)",
            ));
        }
        for (name, value) in &self.headers {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-_".contains(&byte))
            {
                return Err(SuiteError::new(
                    format!("{at}.headers"),
                    format!("`{name}` is not a header name (letters, digits, - and _)"),
                ));
            }
            vars::check_declared(value, declared, &format!("{at}.headers.{name}"))?;
        }
        if let Some(body) = &self.body {
            vars::check_declared_in_json(body, declared, &format!("{at}.body"))?;
        }
        if let Some(sign) = &self.sign
            && sign.service.trim().is_empty()
        {
            return Err(SuiteError::new(
                format!("{at}.sign.service"),
                "the SigV4 signing name, e.g. execute-api",
            ));
        }
        Ok(())
    }
}

impl Expect {
    fn validate(&self, at: &str, lambda: bool) -> Result<(), SuiteError> {
        if let Some(status) = &self.status {
            if lambda {
                return Err(SuiteError::new(
                    format!("{at}.status"),
                    "Lambda tests have no HTTP status; check `json` or `function_error`",
                ));
            }
            StatusMatcher::parse(status).map_err(|message| SuiteError::new(format!("{at}.status"), message))?;
        }
        if lambda && !self.headers.is_empty() {
            return Err(SuiteError::new(format!("{at}.headers"), "Lambda tests have no headers"));
        }
        if !lambda && self.function_error.is_some() {
            return Err(SuiteError::new(
                format!("{at}.function_error"),
                "only Lambda tests have a function error",
            ));
        }
        for (name, check) in &self.headers {
            check.validate(&format!("{at}.headers.{name}"))?;
        }
        for (index, check) in self.json.iter().enumerate() {
            let here = format!("{at}.json[{index}]");
            super::jsonpath::JsonPath::parse(&check.path)
                .map_err(|message| SuiteError::new(format!("{here}.path"), message))?;
            let set = [check.equals.is_some(), check.exists.is_some(), check.matches.is_some()];
            if set.iter().filter(|set| **set).count() != 1 {
                return Err(SuiteError::new(
                    here,
                    "give exactly one of `equals`, `exists` or `matches`",
                ));
            }
            if let Some(pattern) = &check.matches {
                compile(pattern).map_err(|message| SuiteError::new(format!("{here}.matches"), message))?;
            }
        }
        if self.body_contains.iter().any(String::is_empty) {
            return Err(SuiteError::new(
                format!("{at}.body_contains"),
                "an empty text matches anything",
            ));
        }
        Ok(())
    }
}

impl TextCheck {
    fn validate(&self, at: &str) -> Result<(), SuiteError> {
        let set = [
            self.equals.is_some(),
            self.contains.is_some(),
            self.matches.is_some(),
            self.exists.is_some(),
        ];
        if set.iter().filter(|set| **set).count() != 1 {
            return Err(SuiteError::new(
                at,
                "give exactly one of `equals`, `contains`, `matches` or `exists`",
            ));
        }
        if let Some(pattern) = &self.matches {
            compile(pattern).map_err(|message| SuiteError::new(format!("{at}.matches"), message))?;
        }
        Ok(())
    }
}

/// Compiles a `matches` pattern (Rust regex syntax, bounded in size).
pub fn compile(pattern: &str) -> Result<regex_lite::Regex, crate::error::Invalid> {
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|error| format!("not a regular expression: {error}").into())
}

//! Keeps secrets out of results and logs: secret headers are shown as `***`, and every secret
//! value (secret variables, credentials in headers) is cut out of any text that is reported.

/// Headers whose values are credentials, whatever the suite says.
const SECRET_HEADERS: [&str; 8] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
    "x-auth-token",
    "x-amz-content-sha256",
];

pub const MASK: &str = "***";

/// Shorter values are not treated as secrets: cutting `1` out of every text would hide results.
const MIN_SECRET_LEN: usize = 4;

pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|secret| secret.eq_ignore_ascii_case(name))
}

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut redactor = Redactor::default();
        for value in values {
            redactor.add(value);
        }
        redactor
    }

    /// Adds a secret; a credential header's value counts both whole and without its scheme
    /// (`Bearer abc` and `abc`).
    pub fn add(&mut self, value: String) {
        if let Some((_, token)) = value.split_once(' ')
            && token.len() >= MIN_SECRET_LEN
        {
            self.secrets.push(token.to_string());
        }
        if value.len() >= MIN_SECRET_LEN {
            self.secrets.push(value);
        }
        // Longest first, so a secret that contains another is cut whole.
        self.secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        self.secrets.dedup();
    }

    /// This redactor and more secrets.
    pub fn with(&self, values: &[String]) -> Redactor {
        let mut redactor = self.clone();
        for value in values {
            redactor.add(value.clone());
        }
        redactor
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// A header as it may be shown.
    pub fn header(&self, name: &str, value: &str) -> String {
        if is_secret_header(name) {
            MASK.to_string()
        } else {
            self.redact(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_cut_from_any_text_and_secret_headers_are_masked() {
        let mut redactor = Redactor::new(["s3cr3t-token".to_string()]);
        redactor.add("Bearer abc.def.ghi".to_string());
        assert_eq!(
            redactor.redact("url?token=s3cr3t-token&x=1 echo abc.def.ghi"),
            "url?token=***&x=1 echo ***"
        );
        assert_eq!(redactor.header("Authorization", "Basic Zm9v"), MASK);
        assert_eq!(redactor.header("X-Request-Id", "id-s3cr3t-token"), "id-***");
    }

    #[test]
    fn tiny_values_are_not_treated_as_secrets() {
        let redactor = Redactor::new(["1".to_string(), "ab".to_string()]);
        assert_eq!(redactor.redact("a1b2ab"), "a1b2ab");
    }
}

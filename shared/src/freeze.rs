//! Change freezes, pure: a span during which every time-window gate in scope is closed,
//! whatever its own windows say, with who froze and why. Lifting one early is recorded on it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Longest freeze: a quarter. Longer is not a freeze but a policy.
pub const MAX_FREEZE_SECS: i64 = 92 * 86_400;
/// Most pipelines one freeze may name (none: every pipeline).
pub const MAX_FREEZE_PIPELINES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freeze {
    pub id: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub reason: String,
    /// The pipelines it closes; empty: every pipeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipelines: Vec<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<Lift>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lift {
    pub at: Timestamp,
    pub by: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FreezeError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> FreezeError {
    FreezeError {
        field,
        message: message.into(),
    }
}

impl Freeze {
    /// Checks a new freeze: it ends after it starts and after now, lasts at most a quarter,
    /// says why, and names pipelines by their CodePipeline names.
    pub fn check_new(&self, now: Timestamp) -> Result<(), FreezeError> {
        if self.to <= self.from {
            return Err(invalid(
                "--to",
                format!("{} is not after --from {}", self.to, self.from),
            ));
        }
        if self.to <= now {
            return Err(invalid("--to", format!("{} is already past", self.to)));
        }
        if self.to.as_second() - self.from.as_second() > MAX_FREEZE_SECS {
            return Err(invalid(
                "--to",
                "a freeze lasts at most 92 days; freeze again when it ends",
            ));
        }
        let reason = self.reason.trim();
        if reason.is_empty() || reason.len() > 500 {
            return Err(invalid(
                "--reason",
                "say why, in 1 to 500 characters; people read it when their deployment waits",
            ));
        }
        if self.pipelines.len() > MAX_FREEZE_PIPELINES {
            return Err(invalid(
                "--pipelines",
                format!("at most {MAX_FREEZE_PIPELINES} pipelines; leave it out to freeze every pipeline"),
            ));
        }
        if let Some(bad) = self
            .pipelines
            .iter()
            .find(|name| !crate::names::is_codepipeline_name(name))
        {
            return Err(invalid(
                "--pipelines",
                format!("`{bad}` is not a CodePipeline name ({})", crate::names::ALLOWED),
            ));
        }
        Ok(())
    }

    /// Whether it closes windows at `at`: started, not ended, not lifted by then.
    pub fn in_force_at(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.to && self.lifted.as_ref().is_none_or(|lift| lift.at > at)
    }

    pub fn covers(&self, pipeline: &str) -> bool {
        self.pipelines.is_empty() || self.pipelines.iter().any(|name| name == pipeline)
    }

    /// `change freeze frz-1a2b by arn:...: reason`.
    pub fn sentence(&self) -> String {
        format!("change freeze {} by {}: {}", self.id, self.created_by, self.reason)
    }
}

/// What the freezes say about one pipeline at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frozen {
    No,
    /// Closed by `by`; deployments may start again at `until` (overlapping freezes joined).
    Yes {
        by: Freeze,
        until: Timestamp,
    },
    /// A freeze names pipelines and the gate does not know its own: it cannot tell, so it is
    /// closed.
    CannotTell(Freeze),
}

/// Whether `pipeline` (None when the caller did not say) is frozen at `now`.
pub fn frozen(freezes: &[Freeze], pipeline: Option<&str>, now: Timestamp) -> Frozen {
    let applies = |freeze: &Freeze| pipeline.is_none_or(|pipeline| freeze.covers(pipeline));
    let Some(first) = freezes
        .iter()
        .filter(|freeze| freeze.in_force_at(now) && applies(freeze))
        .max_by_key(|freeze| freeze.to)
    else {
        return Frozen::No;
    };
    if pipeline.is_none() && !first.pipelines.is_empty() {
        return Frozen::CannotTell(first.clone());
    }
    // A freeze that starts before this one ends keeps the pipeline closed: join them.
    let mut until = end_of(first);
    while let Some(next) = freezes
        .iter()
        .filter(|freeze| applies(freeze) && freeze.in_force_at(until) && end_of(freeze) > until)
        .max_by_key(|freeze| end_of(freeze))
    {
        until = end_of(next);
    }
    Frozen::Yes {
        by: first.clone(),
        until,
    }
}

fn end_of(freeze: &Freeze) -> Timestamp {
    match &freeze.lifted {
        Some(lift) if lift.at < freeze.to => lift.at,
        _ => freeze.to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn freeze(id: &str, from: &str, to: &str, pipelines: &[&str]) -> Freeze {
        Freeze {
            id: id.into(),
            from: at(from),
            to: at(to),
            reason: "year-end freeze".into(),
            pipelines: pipelines.iter().map(|name| name.to_string()).collect(),
            created_by: "arn:aws:sts::123456789012:assumed-role/release/alice".into(),
            created_at: at("2026-12-01T00:00:00Z"),
            lifted: None,
        }
    }

    #[test]
    fn a_freeze_closes_only_the_pipelines_it_names_and_only_during_its_span() {
        let freezes = [freeze(
            "frz-1",
            "2026-12-20T00:00:00Z",
            "2027-01-04T00:00:00Z",
            &["orders", "payments"],
        )];
        let during = at("2026-12-24T10:00:00Z");
        assert!(
            matches!(frozen(&freezes, Some("orders"), during), Frozen::Yes { until, .. } if until == at("2027-01-04T00:00:00Z"))
        );
        assert_eq!(frozen(&freezes, Some("search"), during), Frozen::No);
        assert_eq!(frozen(&freezes, Some("orders"), at("2026-12-19T23:59:59Z")), Frozen::No);
        assert_eq!(frozen(&freezes, Some("orders"), at("2027-01-04T00:00:00Z")), Frozen::No);
        assert!(matches!(frozen(&freezes, None, during), Frozen::CannotTell(_)));
    }

    #[test]
    fn an_org_wide_freeze_closes_a_pipeline_that_did_not_say_its_name() {
        let freezes = [freeze("frz-1", "2026-12-20T00:00:00Z", "2027-01-04T00:00:00Z", &[])];
        assert!(matches!(
            frozen(&freezes, None, at("2026-12-24T10:00:00Z")),
            Frozen::Yes { .. }
        ));
    }

    #[test]
    fn a_lifted_freeze_reopens_from_the_lift_and_overlapping_freezes_join() {
        let mut lifted = freeze("frz-1", "2026-12-20T00:00:00Z", "2027-01-04T00:00:00Z", &[]);
        lifted.lifted = Some(Lift {
            at: at("2026-12-27T09:00:00Z"),
            by: "bob".into(),
            reason: "fix needed".into(),
        });
        assert!(
            matches!(frozen(std::slice::from_ref(&lifted), Some("orders"), at("2026-12-26T09:00:00Z")), Frozen::Yes { until, .. } if until == at("2026-12-27T09:00:00Z"))
        );
        assert_eq!(
            frozen(
                std::slice::from_ref(&lifted),
                Some("orders"),
                at("2026-12-27T09:00:00Z")
            ),
            Frozen::No
        );
        let chained = [
            freeze("frz-1", "2026-12-20T00:00:00Z", "2026-12-27T00:00:00Z", &[]),
            freeze("frz-2", "2026-12-26T00:00:00Z", "2027-01-02T00:00:00Z", &["orders"]),
        ];
        assert!(
            matches!(frozen(&chained, Some("orders"), at("2026-12-21T00:00:00Z")), Frozen::Yes { until, .. } if until == at("2027-01-02T00:00:00Z"))
        );
        assert!(
            matches!(frozen(&chained, Some("search"), at("2026-12-21T00:00:00Z")), Frozen::Yes { until, .. } if until == at("2026-12-27T00:00:00Z"))
        );
    }

    #[test]
    fn a_new_freeze_is_checked_naming_the_flag() {
        let now = at("2026-12-04T00:00:00Z");
        let ok = freeze("frz-1", "2026-12-20T00:00:00Z", "2027-01-04T00:00:00Z", &["orders"]);
        assert_eq!(ok.check_new(now), Ok(()));
        let backwards = freeze("frz-1", "2026-12-20T00:00:00Z", "2026-12-19T00:00:00Z", &[]);
        assert_eq!(backwards.check_new(now).unwrap_err().field, "--to");
        let past = freeze("frz-1", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", &[]);
        assert!(past.check_new(now).unwrap_err().message.contains("already past"));
        let long = freeze("frz-1", "2026-12-20T00:00:00Z", "2027-06-01T00:00:00Z", &[]);
        assert!(long.check_new(now).unwrap_err().message.contains("92 days"));
        let mut silent = ok.clone();
        silent.reason = "  ".into();
        assert_eq!(silent.check_new(now).unwrap_err().field, "--reason");
        let bad_name = freeze("frz-1", "2026-12-20T00:00:00Z", "2027-01-04T00:00:00Z", &["a b"]);
        assert_eq!(bad_name.check_new(now).unwrap_err().field, "--pipelines");
    }
}

//! The time-window gate: proceed inside a window, otherwise wait for the next opening or block.
//!
//! Over 400 lines because of its tests; the gate itself is about 200.

use jiff::Timestamp;

use super::{Gate, GateRequest};
use crate::decision::{Decision, Verdict};
use crate::error::GateError;
use crate::evidence::{CalendarEvidence, CalendarStateName, FreezeEvidence, WindowEvidence};
use crate::freeze::{Freeze, Frozen, frozen};
use crate::ports::calendars::{CalendarState, Calendars, NoCalendars};
use crate::ports::policies::FreezeStore;
use crate::ports::store::StoreError;
use crate::window::{WhenClosed, WindowPolicy, evaluate};

pub const NAME: &str = "time-window-gate";

/// The time-window gate: the clock comes in the request; change freezes from the state table
/// and Change Calendars from SSM close it too.
#[derive(Debug, Clone, Default)]
pub struct TimeWindowGate<F = NoFreezes, C = NoCalendars> {
    freezes: F,
    calendars: C,
}

/// For tests of other parts and the CLI's offline `window`: no freeze is on record.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFreezes;

impl FreezeStore for NoFreezes {
    async fn freezes(&self, _now: Timestamp) -> Result<Vec<Freeze>, StoreError> {
        Ok(Vec::new())
    }

    fn consulted(&self) -> bool {
        false
    }
}

impl TimeWindowGate {
    /// Windows only: no freezes, and a policy naming calendars fails closed.
    pub fn clock_only() -> Self {
        TimeWindowGate::default()
    }
}

impl<F: FreezeStore, C: Calendars> TimeWindowGate<F, C> {
    pub fn new(freezes: F, calendars: C) -> Self {
        TimeWindowGate { freezes, calendars }
    }
}

impl<F: FreezeStore, C: Calendars> Gate for TimeWindowGate<F, C> {
    fn name(&self) -> &'static str {
        NAME
    }

    /// A freeze may name pipelines: the gate must know which pipeline asks.
    fn needs_context(&self) -> bool {
        self.freezes.consulted()
    }

    async fn decide(&self, request: &GateRequest) -> Result<Decision, GateError> {
        let policy = request.policy.windows().map_err(GateError::PolicyInvalid)?;
        let freezes = self.freezes.freezes(request.now).await.map_err(GateError::from_store)?;
        let calendar = if policy.calendars.is_empty() {
            None
        } else {
            Some(
                self.calendars
                    .state(&policy.calendars, request.now)
                    .await
                    .map_err(GateError::DependencyUnavailable)?,
            )
        };
        let closures = Closures {
            frozen: frozen(&freezes, request.context.pipeline.as_deref(), request.now),
            calendar,
        };
        Ok(decide_with(policy, &closures, request.now, request.waiting_since))
    }
}

/// What closes a stage besides its own windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closures {
    pub frozen: Frozen,
    /// The policy's Change Calendars, when it names any; None when they were not read (which
    /// closes a policy that names calendars).
    pub calendar: Option<CalendarState>,
}

/// Proceed when open; when closed, wait for the next opening unless the policy says fail, no
/// opening is in sight, or it lies beyond `max_wait` from when waiting began.
pub fn decide(policy: &WindowPolicy, now: Timestamp, waiting_since: Option<Timestamp>) -> Decision {
    let closures = Closures {
        frozen: Frozen::No,
        calendar: None,
    };
    decide_with(policy, &closures, now, waiting_since)
}

/// As [`decide`], with freezes and calendars: the windows, then a freeze, then the calendars
/// may close the stage; the first that does says why and until when.
pub fn decide_with(
    policy: &WindowPolicy,
    closures: &Closures,
    now: Timestamp,
    waiting_since: Option<Timestamp>,
) -> Decision {
    let status = evaluate(policy, now);
    let mut evidence = WindowEvidence {
        open: status.open,
        opens_at: status.opens_at,
        closes_at: status.closes_at,
        timezone: status.timezone.clone(),
        local_time: status.local_time.clone(),
        window: status.window.clone(),
        closed_by: status.closed_by.clone(),
        min_time_left: policy.min_time_left,
        when_closed: policy.when_closed,
        max_wait: policy.max_wait,
        freeze: None,
        calendars: None,
    };
    let calendars = policy.calendars.join(", ");
    let closed: Option<(String, Option<Timestamp>)> = if !status.open {
        Some((status.sentence(), status.opens_at))
    } else {
        match &closures.frozen {
            Frozen::Yes { by, until } => Some((format!("closed: {}; reopens {until}", by.sentence()), Some(*until))),
            Frozen::CannotTell(by) => Some((
                format!(
                    "closed: {} applies to some pipelines, and this call did not say its pipeline (context.pipeline)",
                    by.sentence()
                ),
                None,
            )),
            // Calendars the policy names but nobody read (a caller without SSM) prove nothing.
            Frozen::No if closures.calendar.is_none() && !policy.calendars.is_empty() => Some((
                format!("closed: Change Calendar {calendars} was not read, so the window cannot be called open"),
                None,
            )),
            Frozen::No => match &closures.calendar {
                Some(state) if !state.open => Some((
                    match state.next_transition {
                        Some(at) => format!("closed: Change Calendar {calendars} is CLOSED; it reopens {at}"),
                        None => format!("closed: Change Calendar {calendars} is CLOSED, with no reopening scheduled"),
                    },
                    state.next_transition,
                )),
                _ => None,
            },
        }
    };
    if let Frozen::Yes { by, until } | Frozen::CannotTell(by @ Freeze { to: until, .. }) = &closures.frozen {
        evidence.freeze = Some(FreezeEvidence {
            id: by.id.clone(),
            from: by.from,
            to: by.to,
            reason: by.reason.clone(),
            by: by.created_by.clone(),
            pipelines: by.pipelines.clone(),
            until: *until,
        });
    }
    if let Some(state) = &closures.calendar {
        evidence.calendars = Some(CalendarEvidence {
            names: policy.calendars.clone(),
            state: if state.open {
                CalendarStateName::Open
            } else {
                CalendarStateName::Closed
            },
            next_transition: state.next_transition,
        });
    }
    let (mut decision, opens_at) = match closed {
        None => (Decision::new(NAME, Verdict::Proceed, status.sentence()), None),
        Some((sentence, opens_at)) => (
            closed_decision(policy, sentence, opens_at, now, waiting_since),
            opens_at,
        ),
    };
    evidence.open = opens_at.is_none() && decision.decision == Verdict::Proceed;
    if let Some(opens_at) = opens_at {
        evidence.opens_at = Some(opens_at);
        decision = decision.with_output("opens_at", opens_at.to_string());
    }
    if let (Verdict::Proceed, Some(closes_at)) = (decision.decision, status.closes_at) {
        decision = decision.with_output("closes_at", closes_at.to_string());
    }
    decision.with_evidence(evidence)
}

fn closed_decision(
    policy: &WindowPolicy,
    sentence: String,
    opens_at: Option<Timestamp>,
    now: Timestamp,
    waiting_since: Option<Timestamp>,
) -> Decision {
    match (policy.when_closed, opens_at) {
        (WhenClosed::Fail, _) => Decision::new(NAME, Verdict::Block, format!("{sentence} (when_closed: fail)")),
        (WhenClosed::Wait, None) => Decision::new(NAME, Verdict::Block, sentence),
        (WhenClosed::Wait, Some(opens_at)) => {
            let since = waiting_since.unwrap_or(now);
            match policy.max_wait {
                Some(max_wait) if opens_at.as_second() - since.as_second() > max_wait.as_secs_i64() => Decision::new(
                    NAME,
                    Verdict::Block,
                    format!("{sentence}; that is more than max_wait ({max_wait}) after waiting began at {since}"),
                ),
                _ => Decision::new(NAME, Verdict::Wait, sentence).waiting_until(Some(opens_at)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn policy(extra: &str) -> WindowPolicy {
        let text = format!(
            r#"{{"windows": {{"timezone": "America/Los_Angeles", "allow": [{{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}}],
                "deny": [{{"date": "2026-11-26", "reason": "Thanksgiving"}}]{extra}}}}}"#
        );
        Policy::from_json(&text).unwrap().windows.unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn open_proceeds_with_the_closing_time_as_output() {
        let decision = decide(&policy(""), at("2026-11-24T18:00:00Z"), None);
        assert_eq!(decision.decision, Verdict::Proceed);
        assert_eq!(
            decision.outputs.get("closes_at").map(String::as_str),
            Some("2026-11-25T00:00:00Z")
        );
        assert_eq!(decision.evidence.to_json()["open"], true);
        assert_eq!(decision.evidence.to_json()["window"], "allow[0] Mon-Thu 09:00-16:00");
        assert_eq!(decision.output_variables()["decision"], "proceed");
    }

    #[test]
    fn closed_waits_until_the_next_opening() {
        let decision = decide(&policy(""), at("2026-11-26T18:00:00Z"), None);
        assert_eq!(decision.decision, Verdict::Wait);
        assert_eq!(decision.wait_until, Some(at("2026-11-30T17:00:00Z")));
        assert_eq!(
            decision.reason(),
            "closed: Thanksgiving (deny 2026-11-26); opens Mon 09:00 PST"
        );
        assert_eq!(decision.evidence.to_json()["closed_by"]["kind"], "denied");
        assert_eq!(decision.evidence.to_json()["opens_at"], "2026-11-30T17:00:00Z");
    }

    #[test]
    fn when_closed_fail_blocks_at_once() {
        let decision = decide(&policy(r#", "when_closed": "fail""#), at("2026-11-26T18:00:00Z"), None);
        assert_eq!(decision.decision, Verdict::Block);
        assert!(
            decision.reason().ends_with("(when_closed: fail)"),
            "{}",
            decision.reason()
        );
        assert_eq!(decision.wait_until, None);
        assert_eq!(decision.outputs["opens_at"], "2026-11-30T17:00:00Z");
    }

    #[test]
    fn max_wait_counts_from_when_waiting_began() {
        let policy = policy(r#", "max_wait": "4d""#);
        // Thursday: Monday 09:00 is 3d 23h away: within 4d.
        assert_eq!(
            decide(&policy, at("2026-11-26T18:00:00Z"), None).decision,
            Verdict::Wait
        );
        // Still waiting since Wednesday evening: Monday is more than 4d after that.
        let decision = decide(&policy, at("2026-11-26T18:00:00Z"), Some(at("2026-11-25T01:00:00Z")));
        assert_eq!(decision.decision, Verdict::Block);
        assert!(
            decision.reason().contains("more than max_wait (4d)"),
            "{}",
            decision.reason()
        );
    }

    #[test]
    fn no_opening_in_sight_blocks() {
        let text = r#"{"windows": {"timezone": "UTC", "allow": [{"days": "Mon", "start": "09:00", "end": "10:00"}], "min_time_left": "2h"}}"#;
        let decision = decide(
            Policy::from_json(text).unwrap().windows().unwrap(),
            at("2026-11-24T18:00:00Z"),
            None,
        );
        assert_eq!(decision.decision, Verdict::Block);
        assert!(decision.reason().contains("no opening within 366 days"));
    }

    mod closures {
        use super::*;
        use crate::context::InvocationContext;
        use crate::freeze::Freeze;
        use crate::gates::Mode;
        use crate::ports::policies::InMemoryPolicies;
        use crate::ports::{PortError, PortErrorKind};

        /// A calendar that answers as told, counting its calls.
        #[derive(Default)]
        struct ScriptedCalendar {
            answer: Option<Result<CalendarState, PortError>>,
            calls: std::sync::atomic::AtomicUsize,
        }

        impl Calendars for ScriptedCalendar {
            async fn state(&self, names: &[String], _at: Timestamp) -> Result<CalendarState, PortError> {
                assert_eq!(names, ["holidays".to_string()]);
                self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.answer.clone().expect("the calendar was not expected to be read")
            }
        }

        fn request(extra: &str, pipeline: Option<&str>) -> GateRequest {
            // Tuesday 2026-11-24 10:00 in Los Angeles: inside Mon-Thu 09:00-16:00.
            let text = format!(
                r#"{{"windows": {{"timezone": "America/Los_Angeles", "allow": [{{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}}]{extra}}}}}"#
            );
            GateRequest {
                policy: Policy::from_json(&text).unwrap(),
                context: InvocationContext {
                    pipeline: pipeline.map(str::to_string),
                    stage: Some("Prod".into()),
                    ..Default::default()
                },
                now: at("2026-11-24T18:00:00Z"),
                waiting_since: None,
                mode: Mode::Direct,
                policy_source: None,
            }
        }

        fn freeze(pipelines: &[&str]) -> Freeze {
            Freeze {
                id: "frz-7".into(),
                from: at("2026-11-23T00:00:00Z"),
                to: at("2026-11-25T12:00:00Z"),
                reason: "peak week".into(),
                pipelines: pipelines.iter().map(|name| name.to_string()).collect(),
                created_by: "arn:aws:sts::123456789012:assumed-role/release/alice".into(),
                created_at: at("2026-11-20T00:00:00Z"),
                lifted: None,
            }
        }

        #[tokio::test]
        async fn a_freeze_closes_an_open_window_until_it_ends_and_says_who_froze() {
            let store = InMemoryPolicies::default();
            store.freezes.lock().unwrap().push(freeze(&["orders", "payments"]));
            let gate = TimeWindowGate::new(&store, NoCalendars);
            let decision = gate.decide(&request("", Some("orders"))).await.unwrap();
            assert_eq!(decision.decision, Verdict::Wait);
            assert_eq!(decision.wait_until, Some(at("2026-11-25T12:00:00Z")));
            assert!(
                decision.reason().contains("change freeze frz-7"),
                "{}",
                decision.reason()
            );
            assert!(decision.reason().contains("assumed-role/release/alice: peak week"));
            assert_eq!(decision.evidence.to_json()["freeze"]["id"], "frz-7");
            assert_eq!(decision.evidence.to_json()["open"], false);
            let other = gate.decide(&request("", Some("search"))).await.unwrap();
            assert_eq!(other.decision, Verdict::Proceed, "{}", other.reason());
            let unnamed = gate.decide(&request("", None)).await.unwrap();
            assert_eq!(
                unnamed.decision,
                Verdict::Block,
                "a scoped freeze and no pipeline: cannot tell"
            );
            assert!(gate.needs_context());
        }

        #[tokio::test]
        async fn an_unreadable_freeze_list_fails_closed() {
            let store = InMemoryPolicies::default();
            *store.failing.lock().unwrap() = Some(StoreError::Port(PortError {
                call: "dynamodb:Query".into(),
                kind: PortErrorKind::AccessDenied,
                message: "not authorized".into(),
            }));
            let error = TimeWindowGate::new(&store, NoCalendars)
                .decide(&request("", Some("orders")))
                .await
                .unwrap_err();
            assert_eq!(error.error_type(), "AccessDenied");
            assert!(error.to_string().contains("dynamodb:Query"), "{error}");
        }

        #[tokio::test]
        async fn a_closed_calendar_waits_for_its_reopening_and_an_unreadable_one_fails_closed() {
            let calendars = r#", "calendars": ["holidays"]"#;
            let closed = ScriptedCalendar {
                answer: Some(Ok(CalendarState {
                    open: false,
                    next_transition: Some(at("2026-11-25T08:00:00Z")),
                })),
                ..Default::default()
            };
            let decision = TimeWindowGate::new(NoFreezes, &closed)
                .decide(&request(calendars, Some("orders")))
                .await
                .unwrap();
            assert_eq!(decision.decision, Verdict::Wait);
            assert_eq!(decision.wait_until, Some(at("2026-11-25T08:00:00Z")));
            assert_eq!(
                decision.reason(),
                "closed: Change Calendar holidays is CLOSED; it reopens 2026-11-25T08:00:00Z"
            );
            assert_eq!(decision.evidence.to_json()["calendars"]["state"], "CLOSED");
            assert_eq!(closed.calls.load(std::sync::atomic::Ordering::SeqCst), 1);

            let closed_for_good = ScriptedCalendar {
                answer: Some(Ok(CalendarState {
                    open: false,
                    next_transition: None,
                })),
                ..Default::default()
            };
            let decision = TimeWindowGate::new(NoFreezes, &closed_for_good)
                .decide(&request(calendars, Some("orders")))
                .await
                .unwrap();
            assert_eq!(decision.decision, Verdict::Block);

            let open = ScriptedCalendar {
                answer: Some(Ok(CalendarState {
                    open: true,
                    next_transition: None,
                })),
                ..Default::default()
            };
            let decision = TimeWindowGate::new(NoFreezes, &open)
                .decide(&request(calendars, Some("orders")))
                .await
                .unwrap();
            assert_eq!(decision.decision, Verdict::Proceed);
            assert_eq!(decision.evidence.to_json()["calendars"]["state"], "OPEN");

            let unreadable = ScriptedCalendar {
                answer: Some(Err(PortError {
                    call: "ssm:GetCalendarState".into(),
                    kind: PortErrorKind::Rejected,
                    message: "InvalidDocument: holidays does not exist".into(),
                })),
                ..Default::default()
            };
            let error = TimeWindowGate::new(NoFreezes, &unreadable)
                .decide(&request(calendars, Some("orders")))
                .await
                .unwrap_err();
            assert_eq!(error.error_type(), "DependencyUnavailable");
            assert!(error.to_string().contains("holidays does not exist"), "{error}");

            // The pure decision, given no calendar state, never calls a calendar window open.
            let unread = decide(
                request(calendars, Some("orders")).policy.windows().unwrap(),
                at("2026-11-24T18:00:00Z"),
                None,
            );
            assert_eq!(unread.decision, Verdict::Block);
            assert!(unread.reason().contains("holidays was not read"), "{}", unread.reason());

            let error = TimeWindowGate::clock_only()
                .decide(&request(calendars, Some("orders")))
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains("not set up to read Change Calendars"),
                "{error}"
            );
        }
    }
}

//! SSM Change Calendars: whether the calendars a policy names are all OPEN now, and until when.

use std::future::Future;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::CalendarState as SsmState;
use jiff::Timestamp;

use super::{PortError, PortErrorKind};
use crate::aws::OnFirstUse;

/// What `ssm:GetCalendarState` says of a set of calendars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarState {
    /// Every calendar OPEN (SSM answers CLOSED if any one is).
    pub open: bool,
    /// When the state next changes, if SSM says.
    pub next_transition: Option<Timestamp>,
}

pub trait Calendars: Send + Sync {
    fn state(&self, names: &[String], at: Timestamp) -> impl Future<Output = Result<CalendarState, PortError>> + Send;
}

/// For gates built without SSM (tests of other parts): a policy naming calendars fails closed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCalendars;

impl Calendars for NoCalendars {
    async fn state(&self, _names: &[String], _at: Timestamp) -> Result<CalendarState, PortError> {
        Err(PortError {
            call: "ssm:GetCalendarState".into(),
            kind: PortErrorKind::Rejected,
            message: "this function is not set up to read Change Calendars".into(),
        })
    }
}

impl<T: Calendars> Calendars for &T {
    fn state(&self, names: &[String], at: Timestamp) -> impl Future<Output = Result<CalendarState, PortError>> + Send {
        (**self).state(names, at)
    }
}

/// The real adapter, on aws-sdk-ssm.
#[derive(Debug, Clone)]
pub struct SsmCalendars {
    client: OnFirstUse<Client>,
}

impl SsmCalendars {
    pub fn new(client: impl Into<OnFirstUse<Client>>) -> Self {
        SsmCalendars { client: client.into() }
    }
}

const CALL: &str = "ssm:GetCalendarState";

fn unreadable(message: String) -> PortError {
    PortError {
        call: CALL.into(),
        kind: PortErrorKind::Unavailable,
        message,
    }
}

impl Calendars for SsmCalendars {
    async fn state(&self, names: &[String], at: Timestamp) -> Result<CalendarState, PortError> {
        let output = self
            .client
            .get()
            .get_calendar_state()
            .set_calendar_names(Some(names.to_vec()))
            .at_time(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .send()
            .await
            .map_err(|error| PortError::from_sdk(CALL, &error))?;
        let open = match output.state() {
            Some(SsmState::Open) => true,
            Some(SsmState::Closed) => false,
            other => {
                return Err(unreadable(format!(
                    "the calendars' state is {other:?}, neither OPEN nor CLOSED"
                )));
            }
        };
        // A closed calendar's reopening is what the gate waits for: an unreadable one is no
        // answer, and SSM leaves it out only when nothing is scheduled.
        let next_transition = match output.next_transition_time().filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => Some(
                text.parse::<Timestamp>()
                    .map_err(|_| unreadable(format!("NextTransitionTime `{text}` is not a timestamp")))?,
            ),
        };
        Ok(CalendarState { open, next_transition })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ssm::operation::get_calendar_state::{GetCalendarStateError, GetCalendarStateOutput};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn at() -> Timestamp {
        "2026-12-24T10:00:00Z".parse().unwrap()
    }

    async fn state_from(rule: aws_smithy_mocks::Rule) -> Result<CalendarState, PortError> {
        let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&rule]);
        SsmCalendars::new(client).state(&["holidays".to_string()], at()).await
    }

    #[tokio::test]
    async fn open_and_closed_calendars_are_read_with_their_next_transition() {
        let open = mock!(Client::get_calendar_state)
            .match_requests(|request| {
                request.calendar_names() == ["holidays".to_string()]
                    && request.at_time() == Some("2026-12-24T10:00:00Z")
            })
            .then_output(|| {
                GetCalendarStateOutput::builder()
                    .state(SsmState::Open)
                    .next_transition_time("2026-12-25T00:00:00Z")
                    .build()
            });
        assert_eq!(
            state_from(open).await.unwrap(),
            CalendarState {
                open: true,
                next_transition: Some("2026-12-25T00:00:00Z".parse().unwrap())
            }
        );
        let closed = mock!(Client::get_calendar_state)
            .then_output(|| GetCalendarStateOutput::builder().state(SsmState::Closed).build());
        assert_eq!(
            state_from(closed).await.unwrap(),
            CalendarState {
                open: false,
                next_transition: None
            }
        );
    }

    #[tokio::test]
    async fn an_unreadable_calendar_is_an_error_never_open() {
        let missing = mock!(Client::get_calendar_state).then_error(|| {
            GetCalendarStateError::InvalidDocument(
                aws_sdk_ssm::types::error::InvalidDocument::builder()
                    .message("holidays does not exist")
                    .build(),
            )
        });
        let error = state_from(missing).await.unwrap_err();
        assert_eq!(error.call, "ssm:GetCalendarState");
        assert!(error.message.contains("holidays does not exist"), "{error}");
        let denied = mock!(Client::get_calendar_state).then_error(|| {
            GetCalendarStateError::generic(
                aws_sdk_ssm::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized")
                    .build(),
            )
        });
        assert!(state_from(denied).await.unwrap_err().is_access_denied());
        let no_state = mock!(Client::get_calendar_state).then_output(|| GetCalendarStateOutput::builder().build());
        assert!(
            state_from(no_state)
                .await
                .unwrap_err()
                .message
                .contains("neither OPEN nor CLOSED")
        );
        let garbled = mock!(Client::get_calendar_state).then_output(|| {
            GetCalendarStateOutput::builder()
                .state(SsmState::Closed)
                .next_transition_time("soon")
                .build()
        });
        assert!(
            state_from(garbled)
                .await
                .unwrap_err()
                .message
                .contains("`soon` is not a timestamp")
        );
    }
}

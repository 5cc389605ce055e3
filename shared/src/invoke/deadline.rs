//! Lambda's deadline, kept: the work stops early enough that a CodePipeline job is still
//! answered (and Step Functions still gets a typed error) before Lambda cuts the process off.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::decision::Decision;
use crate::error::GateError;
use crate::gates::{Gate, GateRequest};
use crate::ports::pipeline_jobs::{JobAnswer, PipelineJobs};
use crate::ports::{PortError, PortErrorKind};

/// Time kept back from Lambda's deadline to answer the CodePipeline job (or return) after the
/// gate has decided or given up.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// Time kept back from Lambda's deadline after the answer call, to log why a job could not be
/// answered and return that error before Lambda stops the process.
pub const LAST_WORD: Duration = Duration::from_millis(500);

/// The two moments an invocation works to, on this process's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// The work (a gate's AWS calls, a suite's requests) stops here and fails closed.
    pub work_by: Instant,
    /// The CodePipeline job must have been answered by here.
    pub answer_by: Instant,
}

impl Deadlines {
    /// Lambda's deadline (epoch milliseconds, from the invocation context) less `margin` to
    /// work by, and less [`LAST_WORD`] to answer by.
    pub fn before_lambda(deadline_ms: u64, margin: Duration) -> Deadlines {
        Deadlines {
            work_by: instant_before(deadline_ms, margin),
            answer_by: instant_before(deadline_ms, LAST_WORD),
        }
    }
}

/// Runs one outside call, giving up at `by` (if any) with a timeout naming `call` and `then`,
/// what follows from giving up.
pub async fn call_by<T>(
    by: Option<Instant>,
    call: &str,
    then: &str,
    work: impl Future<Output = Result<T, PortError>>,
) -> Result<T, PortError> {
    let Some(by) = by else {
        return work.await;
    };
    tokio::time::timeout_at(by, work).await.unwrap_or_else(|_| {
        Err(PortError {
            call: call.to_string(),
            kind: PortErrorKind::Timeout,
            message: format!("no answer before the Lambda deadline; {then}"),
        })
    })
}

/// Answers a job by `answer_by`. An answer CodePipeline did not take fails the invocation;
/// CodePipeline invokes asynchronously, so Lambda retries it and the retry answers the job.
pub async fn answer_job<J: PipelineJobs>(
    jobs: &J,
    job_id: &str,
    answer: &JobAnswer,
    answer_by: Option<Instant>,
) -> Result<(), PortError> {
    let call = match answer {
        JobAnswer::Succeed { .. } | JobAnswer::Continue { .. } => "codepipeline:PutJobSuccessResult",
        JobAnswer::Fail { .. } => "codepipeline:PutJobFailureResult",
    };
    call_by(
        answer_by,
        call,
        "the job is not answered yet: this invocation fails and Lambda's retry answers it",
        jobs.answer(job_id, answer),
    )
    .await
}

/// A gate that fails closed when it has not decided by a deadline.
pub(super) struct DeadlineGate<'a, G> {
    pub(super) gate: &'a G,
    pub(super) decide_by: Option<Instant>,
}

impl<G: Gate> Gate for DeadlineGate<'_, G> {
    fn name(&self) -> &'static str {
        self.gate.name()
    }

    fn needs_context(&self) -> bool {
        self.gate.needs_context()
    }

    async fn decide(&self, request: &GateRequest) -> Result<Decision, GateError> {
        let Some(decide_by) = self.decide_by else {
            return self.gate.decide(request).await;
        };
        match tokio::time::timeout_at(decide_by, self.gate.decide(request)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(GateError::DependencyUnavailable(PortError {
                call: format!("{}'s AWS calls", self.gate.name()),
                kind: PortErrorKind::Timeout,
                message: "no answer before the Lambda deadline; the gate fails closed".to_string(),
            })),
        }
    }
}

/// Lambda's deadline (epoch milliseconds, from the invocation context) less `margin`, as an
/// instant on this process's clock.
pub fn instant_before(deadline_ms: u64, margin: Duration) -> Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Instant::now() + time_left(deadline_ms, now_ms).saturating_sub(margin)
}

/// Epoch milliseconds before 2001 are not a deadline but a duration: `cargo lambda watch`
/// sends the function's timeout (e.g. 600000) there. Real Lambda always sends an epoch time.
const EPOCH_2001_MS: u64 = 978_307_200_000;

fn time_left(deadline_ms: u64, now_ms: u64) -> Duration {
    if deadline_ms < EPOCH_2001_MS {
        Duration::from_millis(deadline_ms)
    } else {
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_keeps_all_but_the_last_word_of_the_margin() {
        // 600000: a local emulator's timeout, so the test does not depend on the wall clock.
        let deadlines = Deadlines::before_lambda(600_000, ANSWER_MARGIN);
        let kept = deadlines.answer_by - deadlines.work_by;
        let expected = ANSWER_MARGIN - LAST_WORD;
        assert!(
            kept >= expected && kept < expected + Duration::from_millis(50),
            "{kept:?} between deciding and answering"
        );
        let left = deadlines.work_by - Instant::now();
        assert!(
            left > Duration::from_secs(594) && left <= Duration::from_secs(595),
            "{left:?}"
        );
    }

    /// Before, every gate missing its policy was told to write a `windows` section, and paths
    /// read `UserParameters: ... UserParameters:` or started at the document's own root. Empty

    #[test]
    fn the_deadline_is_an_epoch_time_or_a_local_emulators_timeout() {
        let now = 1_795_334_926_012;
        assert_eq!(time_left(now + 30_000, now), Duration::from_secs(30));
        assert_eq!(
            time_left(now - 5_000, now),
            Duration::ZERO,
            "a deadline already past leaves no time"
        );
        assert_eq!(
            time_left(600_000, now),
            Duration::from_secs(600),
            "cargo lambda watch's timeout"
        );
    }
}

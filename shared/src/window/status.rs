//! Whether a deployment may start at an instant, and when that changes.

use jiff::{Timestamp, Zoned};
use serde::Serialize;

use super::civil::DAY;
use super::policy::WindowPolicy;
use super::schedule::{HORIZON_DAYS, Schedule};
use crate::duration::HumanDuration;

/// The answer for one instant, with what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowStatus {
    pub open: bool,
    /// When closed: the first later instant a deployment may start (none within 366 days: None).
    pub opens_at: Option<Timestamp>,
    /// When open: the first instant a deployment may no longer start (end of the open stretch
    /// minus `min_time_left`; none within 366 days: None).
    pub closes_at: Option<Timestamp>,
    /// The window whose stretch holds this instant, if any.
    pub window: Option<String>,
    pub closed_by: Option<ClosedBy>,
    pub timezone: String,
    pub local_time: String,
    #[serde(skip)]
    zone: jiff::tz::TimeZone,
    #[serde(skip)]
    evaluated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClosedBy {
    /// The local date is denied.
    Denied { reason: String, dates: String },
    /// Inside a window, but no more than `min_time_left` of it remains.
    ClosingSoon {
        window_ends_at: Timestamp,
        min_time_left: HumanDuration,
    },
    /// Outside every allow and cron window.
    OutsideWindows,
}

impl Schedule {
    pub fn status_at(&self, policy: &WindowPolicy, at: Timestamp) -> WindowStatus {
        let now = at.as_second();
        let today = self.local_day(at);
        let horizon = now + HORIZON_DAYS * DAY;
        let min_time_left = self.min_time_left();
        let mut status = WindowStatus {
            open: false,
            opens_at: None,
            closes_at: None,
            window: None,
            closed_by: None,
            timezone: policy.timezone.name().to_string(),
            local_time: at
                .to_zoned(self.time_zone().clone())
                .strftime("%a %Y-%m-%d %H:%M %Z")
                .to_string(),
            zone: self.time_zone().clone(),
            evaluated_at: at,
        };
        let mut closing_stretch_end = None;
        let last_day = today + HORIZON_DAYS + 2;
        // A window that started reach_days ago may still be open now.
        for stretch in self.stretches(today - self.reach_days() - 1, last_day) {
            if stretch.end <= now {
                continue;
            }
            if stretch.start <= now {
                status.window = Some(self.window_label(stretch.window).to_string());
                let closes_at = stretch.end - min_time_left;
                if now < closes_at {
                    status.open = true;
                    status.closes_at = (closes_at <= horizon).then(|| seconds(closes_at));
                    return status;
                }
                closing_stretch_end = Some(stretch.end);
                continue;
            }
            if stretch.start > horizon {
                break;
            }
            if stretch.end - stretch.start > min_time_left {
                status.opens_at = Some(seconds(stretch.start));
                break;
            }
        }
        status.closed_by = Some(match (self.denial_of_day(today), closing_stretch_end) {
            (Some(index), _) => {
                let deny = &policy.deny[index];
                ClosedBy::Denied {
                    reason: deny.reason.clone(),
                    dates: deny.describe(),
                }
            }
            (None, Some(end)) => ClosedBy::ClosingSoon {
                window_ends_at: seconds(end),
                min_time_left: HumanDuration::from_secs(min_time_left.unsigned_abs()),
            },
            (None, None) => ClosedBy::OutsideWindows,
        });
        status
    }
}

fn seconds(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::MAX)
}

impl WindowStatus {
    /// One sentence a person reads: "closed: Thanksgiving (deny 2026-11-26); opens Fri 09:00 PST".
    pub fn sentence(&self) -> String {
        if self.open {
            let window = self.window.as_deref().unwrap_or("a window");
            return match self.closes_at {
                Some(closes_at) => format!("open: {window}; deployments may start until {}", self.local(closes_at)),
                None => format!("open: {window}; no closing within {HORIZON_DAYS} days"),
            };
        }
        let why = match &self.closed_by {
            Some(ClosedBy::Denied { reason, dates }) => format!("{reason} ({dates})"),
            Some(ClosedBy::ClosingSoon {
                window_ends_at,
                min_time_left,
            }) => format!(
                "no more than {min_time_left} (min_time_left) left before the window ends at {}",
                self.local(*window_ends_at)
            ),
            Some(ClosedBy::OutsideWindows) | None => "outside the allowed windows".to_string(),
        };
        match self.opens_at {
            Some(opens_at) => format!("closed: {why}; opens {}", self.local(opens_at)),
            None => format!("closed: {why}; no opening within {HORIZON_DAYS} days"),
        }
    }

    /// A local time as people say it: weekday and time within the week, the date beyond it.
    pub fn local(&self, at: Timestamp) -> String {
        let zoned: Zoned = at.to_zoned(self.zone.clone());
        if at.as_second() - self.evaluated_at.as_second() < 6 * DAY {
            zoned.strftime("%a %H:%M %Z").to_string()
        } else {
            zoned.strftime("%a %Y-%m-%d %H:%M %Z").to_string()
        }
    }
}

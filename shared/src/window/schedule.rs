//! Interval arithmetic over days: from a window policy to the stretches of real time during
//! which it is open, and from those to "open until" / "opens at" for any instant.
//!
//! Each local day contributes wall-clock intervals (allow windows on their weekdays, cron
//! firings plus their duration); denied dates are cut out on the wall clock; what is left is
//! mapped to real instants through the time zone's offset segments, so a spring-forward hour
//! that does not exist is never open and a fall-back hour that occurs twice is open twice.
//! Touching or overlapping pieces merge into one stretch. Days are visited one at a time and
//! only as far as the answer needs; runs of denied days are skipped whole.
//!
//! Over 400 lines with its tests: one algorithm (stretches of open time over local days), kept
//! whole.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::civil::{DAY, day_of_date, weekday};
use super::cron::Cron;
use super::days::DaySet;
use super::policy::WindowPolicy;

/// How far ahead the gate looks for an opening or a closing.
pub const HORIZON_DAYS: i64 = 366;

/// Upper bound on how far a wall-clock reading runs ahead of or behind UTC (+14:00 / -12:00,
/// with room): pieces from later days can never start before `day start - this`.
const MAX_OFFSET_SLACK: i64 = 26 * 3_600;

#[derive(Debug, Clone)]
enum Rule {
    /// Seconds after the start day's local midnight; `end` may pass midnight.
    Allow {
        days: DaySet,
        start: i64,
        end: i64,
    },
    Cron {
        cron: Box<Cron>,
        duration: i64,
    },
}

/// A maximal stretch of real time (Unix seconds, half-open) during which the policy is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stretch {
    pub start: i64,
    pub end: i64,
    /// Index (into `Schedule::window_label`) of the first window that opened it.
    pub window: usize,
}

/// A compiled window policy, ready to answer questions about instants.
#[derive(Debug, Clone)]
pub struct Schedule {
    tz: TimeZone,
    rules: Vec<Rule>,
    labels: Vec<String>,
    /// Merged, sorted, inclusive ranges of denied local days.
    denied_days: Vec<(i64, i64)>,
    /// Each deny entry as written: first day, last day, index in the policy.
    deny_entries: Vec<(i64, i64, usize)>,
    min_time_left: i64,
    /// A window starting on day d touches no local day after d + reach_days.
    reach_days: i64,
}

impl Schedule {
    /// Compiles a policy that has passed `WindowPolicy::validate`.
    pub fn new(policy: &WindowPolicy) -> Schedule {
        let mut rules = Vec::new();
        let mut labels = Vec::new();
        let mut longest = 0;
        for (index, window) in policy.allow.iter().enumerate() {
            let start = window.start.seconds();
            let mut end = window.end.seconds();
            if end <= start {
                end += DAY; // crosses midnight and belongs to the start day
            }
            longest = longest.max(end - start);
            rules.push(Rule::Allow {
                days: window.days,
                start,
                end,
            });
            labels.push(format!("allow[{index}] {window}"));
        }
        for (index, window) in policy.cron.iter().enumerate() {
            let duration = window.duration.as_secs_i64();
            longest = longest.max(duration);
            rules.push(Rule::Cron {
                cron: Box::new(window.expression.clone()),
                duration,
            });
            labels.push(format!("cron[{index}] {window}"));
        }
        let mut deny_entries: Vec<(i64, i64, usize)> = policy
            .deny
            .iter()
            .enumerate()
            .filter_map(|(index, deny)| {
                let (from, to) = deny.range().ok()?;
                Some((day_of_date(from.0), day_of_date(to.0), index))
            })
            .collect();
        deny_entries.sort_unstable();
        let mut denied_days: Vec<(i64, i64)> = Vec::with_capacity(deny_entries.len());
        for &(from, to, _) in &deny_entries {
            match denied_days.last_mut() {
                Some(last) if from <= last.1 + 1 => last.1 = last.1.max(to),
                _ => denied_days.push((from, to)),
            }
        }
        Schedule {
            tz: policy.timezone.tz().clone(),
            rules,
            labels,
            denied_days,
            deny_entries,
            min_time_left: policy.min_time_left.as_secs_i64(),
            reach_days: 1 + (longest + DAY - 1) / DAY,
        }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// A window starting on local day d touches no local day after d + this.
    pub fn reach_days(&self) -> i64 {
        self.reach_days
    }

    pub fn min_time_left(&self) -> i64 {
        self.min_time_left
    }

    pub fn window_label(&self, index: usize) -> &str {
        &self.labels[index]
    }

    /// The local day (days since 1970-01-01 on the wall clock) of an instant.
    pub fn local_day(&self, at: Timestamp) -> i64 {
        (at.as_second() + i64::from(self.tz.to_offset(at).seconds())).div_euclid(DAY)
    }

    /// The deny entry (index in the policy) that closes this local day, if any.
    pub fn denial_of_day(&self, day: i64) -> Option<usize> {
        self.deny_entries
            .iter()
            .find(|(from, to, _)| (*from..=*to).contains(&day))
            .map(|entry| entry.2)
    }

    /// Every open stretch that may touch local days `first_day ..= last_day`, in order.
    pub fn stretches(&self, first_day: i64, last_day: i64) -> Stretches<'_> {
        let offsets = Offsets::new(
            &self.tz,
            first_day * DAY - 2 * DAY,
            (last_day + self.reach_days + 2) * DAY,
        );
        Stretches {
            schedule: self,
            offsets,
            day: first_day,
            last_day,
            pending: Vec::new(),
        }
    }

    fn skip_denied(&self, day: i64) -> i64 {
        let index = self.denied_days.partition_point(|(_, to)| *to < day);
        match self.denied_days.get(index) {
            Some(&(from, to)) if from <= day && day + self.reach_days <= to => to - self.reach_days + 1,
            _ => day,
        }
    }

    /// Adds the wall-clock interval [start, end), less denied days, as real-time pieces.
    fn add(&self, start: i64, end: i64, window: usize, offsets: &Offsets, out: &mut Vec<Stretch>) {
        let mut start = start;
        let first = self.denied_days.partition_point(|(_, to)| (to + 1) * DAY <= start);
        for &(from, to) in &self.denied_days[first..] {
            let (deny_start, deny_end) = (from * DAY, (to + 1) * DAY);
            if deny_start >= end {
                break;
            }
            if start < deny_start {
                offsets.to_instants(start, deny_start, |a, b| {
                    out.push(Stretch {
                        start: a,
                        end: b,
                        window,
                    })
                });
            }
            start = start.max(deny_end);
            if start >= end {
                return;
            }
        }
        offsets.to_instants(start, end, |a, b| {
            out.push(Stretch {
                start: a,
                end: b,
                window,
            })
        });
    }

    fn add_day(&self, day: i64, offsets: &Offsets, out: &mut Vec<Stretch>) {
        let midnight = day * DAY;
        let weekday = weekday(day);
        for (index, rule) in self.rules.iter().enumerate() {
            match rule {
                Rule::Allow { days, start, end } => {
                    if days.contains(weekday) {
                        self.add(midnight + start, midnight + end, index, offsets, out);
                    }
                }
                Rule::Cron { cron, duration } => {
                    if !cron.fires_on(day) {
                        continue;
                    }
                    // Firings closer together than the duration make one interval.
                    let mut run: Option<(i64, i64)> = None;
                    for fire in cron.fire_times() {
                        let (start, end) = (midnight + fire, midnight + fire + duration);
                        run = match run {
                            Some((run_start, run_end)) if start <= run_end => Some((run_start, end)),
                            Some((run_start, run_end)) => {
                                self.add(run_start, run_end, index, offsets, out);
                                Some((start, end))
                            }
                            None => Some((start, end)),
                        };
                    }
                    if let Some((start, end)) = run {
                        self.add(start, end, index, offsets, out);
                    }
                }
            }
        }
    }
}

/// The time zone's UTC offset as a step function of real time, over the range a query needs.
#[derive(Debug, Clone)]
struct Offsets {
    /// (first instant, offset in seconds); the first segment reaches back without end.
    segments: Vec<(i64, i64)>,
}

impl Offsets {
    fn new(tz: &TimeZone, from: i64, to: i64) -> Offsets {
        let from_ts = Timestamp::from_second(from).unwrap_or(Timestamp::MIN);
        let mut segments = vec![(i64::MIN, i64::from(tz.to_offset(from_ts).seconds()))];
        for transition in tz.following(from_ts) {
            let at = transition.timestamp().as_second();
            if at > to {
                break;
            }
            segments.push((at, i64::from(transition.offset().seconds())));
        }
        Offsets { segments }
    }

    /// Calls `emit` with each real-time piece whose wall-clock reading is in [start, end).
    fn to_instants(&self, start: i64, end: i64, mut emit: impl FnMut(i64, i64)) {
        for (index, &(segment_start, offset)) in self.segments.iter().enumerate() {
            let segment_end = self.segments.get(index + 1).map_or(i64::MAX, |next| next.0);
            let piece_start = (start - offset).max(segment_start);
            let piece_end = (end - offset).min(segment_end);
            if piece_start < piece_end {
                emit(piece_start, piece_end);
            }
        }
    }
}

/// Open stretches in order, each yielded once nothing later can extend it.
pub struct Stretches<'a> {
    schedule: &'a Schedule,
    offsets: Offsets,
    day: i64,
    last_day: i64,
    /// Sorted, merged, not yet final.
    pending: Vec<Stretch>,
}

impl Stretches<'_> {
    fn merge_pending(&mut self) {
        self.pending
            .sort_unstable_by_key(|stretch| (stretch.start, stretch.window));
        let mut merged: Vec<Stretch> = Vec::with_capacity(self.pending.len());
        for stretch in self.pending.drain(..) {
            match merged.last_mut() {
                Some(last) if stretch.start <= last.end => last.end = last.end.max(stretch.end),
                _ => merged.push(stretch),
            }
        }
        self.pending = merged;
    }
}

impl Iterator for Stretches<'_> {
    type Item = Stretch;

    fn next(&mut self) -> Option<Stretch> {
        loop {
            if let Some(first) = self.pending.first() {
                // Pieces of later days start no earlier than this bound.
                let final_before = self.day * DAY - MAX_OFFSET_SLACK;
                if first.end < final_before || self.day > self.last_day {
                    return Some(self.pending.remove(0));
                }
            }
            if self.day > self.last_day {
                return None;
            }
            let day = self.schedule.skip_denied(self.day);
            if day != self.day {
                self.day = day.min(self.last_day + 1);
                continue;
            }
            let before = self.pending.len();
            self.schedule.add_day(day, &self.offsets, &mut self.pending);
            if self.pending.len() != before {
                self.merge_pending();
            }
            self.day += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn schedule(windows: &str) -> Schedule {
        let policy = Policy::from_json(&format!(r#"{{"windows": {windows}}}"#)).unwrap();
        Schedule::new(policy.windows().unwrap())
    }

    fn ts(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn adjacent_windows_merge_into_one_stretch() {
        let schedule = schedule(
            r#"{"timezone": "UTC", "allow": [
            {"days": "Mon", "start": "09:00", "end": "12:00"},
            {"days": "Mon", "start": "12:00", "end": "24:00"},
            {"days": "Tue", "start": "00:00", "end": "03:00"}]}"#,
        );
        let day = schedule.local_day("2026-11-23T10:00:00Z".parse().unwrap());
        let stretches: Vec<_> = schedule.stretches(day, day + 1).collect();
        assert_eq!(
            stretches,
            [Stretch {
                start: ts("2026-11-23T09:00:00Z"),
                end: ts("2026-11-24T03:00:00Z"),
                window: 0
            }]
        );
    }

    #[test]
    fn a_spring_forward_gap_does_not_split_a_window() {
        // 2026-03-08 02:00 EST jumps to 03:00 EDT: 01:30-03:30 local is one hour of real time.
        let schedule = schedule(
            r#"{"timezone": "America/New_York", "allow": [{"days": "Sun", "start": "01:30", "end": "03:30"}]}"#,
        );
        let day = schedule.local_day("2026-03-08T12:00:00Z".parse().unwrap());
        let stretches: Vec<_> = schedule.stretches(day, day).collect();
        assert_eq!(
            stretches,
            [Stretch {
                start: ts("2026-03-08T06:30:00Z"),
                end: ts("2026-03-08T07:30:00Z"),
                window: 0
            }]
        );
    }

    #[test]
    fn a_fall_back_hour_is_open_twice() {
        // 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:00-01:30 local happens twice.
        let schedule = schedule(
            r#"{"timezone": "America/New_York", "allow": [{"days": "Sun", "start": "01:00", "end": "01:30"}]}"#,
        );
        let day = schedule.local_day("2026-11-01T12:00:00Z".parse().unwrap());
        let stretches: Vec<_> = schedule.stretches(day, day).collect();
        assert_eq!(
            stretches,
            [
                Stretch {
                    start: ts("2026-11-01T05:00:00Z"),
                    end: ts("2026-11-01T05:30:00Z"),
                    window: 0
                },
                Stretch {
                    start: ts("2026-11-01T06:00:00Z"),
                    end: ts("2026-11-01T06:30:00Z"),
                    window: 0
                },
            ]
        );
    }

    #[test]
    fn denied_days_cut_windows_on_the_wall_clock() {
        // Fri 22:00-02:00 with Saturday denied keeps only Friday's part.
        let schedule = schedule(
            r#"{"timezone": "UTC", "allow": [{"days": "Fri", "start": "22:00", "end": "02:00"}],
            "deny": [{"date": "2026-11-28", "reason": "maintenance"}]}"#,
        );
        let day = schedule.local_day("2026-11-27T12:00:00Z".parse().unwrap());
        let stretches: Vec<_> = schedule.stretches(day, day + 1).collect();
        assert_eq!(
            stretches,
            [Stretch {
                start: ts("2026-11-27T22:00:00Z"),
                end: ts("2026-11-28T00:00:00Z"),
                window: 0
            }]
        );
    }
}

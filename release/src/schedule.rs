//! The rollout as a person reads it: waves, regions, each step, its minimum bake, and the
//! earliest each can happen if the release starts at a given instant. A region starts when its
//! wave starts and its time window is open (the time-window gate waits the same way); a wave
//! ends when its last region's fleet bake ends; the next wave starts then. Real releases are
//! later by whatever the alarms, the traffic floors and the canary add.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::PlanError;
use crate::plan::ReleasePlan;
use crate::resolve::releases;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    pub pipeline: String,
    pub start: Timestamp,
    pub waves: Vec<WaveSchedule>,
    /// When the last wave's last fleet bake ends, at the earliest.
    pub completes_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveSchedule {
    pub name: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub regions: Vec<RegionSchedule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionSchedule {
    pub region: String,
    /// When the blockers let it start: the wave's start, or when the window opens.
    pub starts_at: Timestamp,
    /// Why it starts later than its wave, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<String>,
    pub steps: Vec<Step>,
    pub ends_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub at: Timestamp,
    /// The step's minimum length (the bakes), in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_secs: Option<u64>,
}

/// The earliest schedule of `plan` started at `start`.
pub fn earliest(plan: &ReleasePlan, start: Timestamp) -> Result<Schedule, PlanError> {
    let regions = releases(plan)?;
    let weight = plan.lambda().one_box_weight;
    let mut waves = Vec::new();
    let mut wave_start = start;
    for (index, wave) in plan.waves.iter().enumerate() {
        let mut scheduled = Vec::new();
        for release in regions.iter().filter(|release| release.wave_index == index) {
            let windows = release.policy.windows.as_ref().ok_or_else(|| {
                PlanError::new(
                    format!("waves[{index}] ({}): policy.windows", release.region),
                    "missing",
                )
            })?;
            let status = handsoff::window::evaluate(windows, wave_start);
            let region_at = format!("waves[{index}] ({}): policy.windows", release.region);
            let (starts_at, waits_for) = if status.open {
                (wave_start, None)
            } else if windows.when_closed == handsoff::window::WhenClosed::Fail {
                return Err(PlanError::new(
                    region_at,
                    format!(
                        "closed when the wave would start ({}) and `when_closed` is fail: the region would be blocked, not wait",
                        when(wave_start)
                    ),
                ));
            } else {
                let opens = status.opens_at.ok_or_else(|| {
                    PlanError::new(
                        format!("waves[{index}] ({}): policy.windows", release.region),
                        format!("no window opens within a year of {wave_start}: the region could never start"),
                    )
                })?;
                let why = match &status.closed_by {
                    Some(handsoff::window::ClosedBy::Denied { reason, .. }) => format!("denied: {reason}"),
                    Some(handsoff::window::ClosedBy::ClosingSoon { .. }) => "too little of the window left".to_string(),
                    _ => "outside every window".to_string(),
                };
                let waited = opens.duration_since(wave_start).as_secs().max(0) as u64;
                if let Some(max_wait) = windows.max_wait
                    && waited > max_wait.as_secs()
                {
                    return Err(PlanError::new(
                        format!("{region_at}.max_wait"),
                        format!(
                            "the window opens {} after the wave would start ({}), longer than max_wait {}: the region would be blocked",
                            span(waited),
                            when(wave_start),
                            span(max_wait.as_secs())
                        ),
                    ));
                }
                (
                    opens,
                    Some(format!("the time window ({}, {why})", windows.timezone.name())),
                )
            };
            let one_box = SignedDuration::from_secs(release.bake.one_box.as_secs_i64());
            let fleet = SignedDuration::from_secs(release.bake.fleet.as_secs_i64());
            let judged = add(starts_at, one_box)?;
            let ends_at = add(judged, fleet)?;
            let steps = vec![
                step(
                    format!("one-box: {:.0}% of traffic to the new version", weight * 100.0),
                    starts_at,
                    None,
                ),
                step(
                    "bake the one-box".to_string(),
                    starts_at,
                    Some(release.bake.one_box.as_secs()),
                ),
                step("canary: one-box against the fleet".to_string(), judged, None),
                step("promote: all traffic to the new version".to_string(), judged, None),
                step(
                    "bake the region on its alarms".to_string(),
                    judged,
                    Some(release.bake.fleet.as_secs()),
                ),
            ];
            scheduled.push(RegionSchedule {
                region: release.region.clone(),
                starts_at,
                waits_for,
                steps,
                ends_at,
            });
        }
        let ends_at = scheduled
            .iter()
            .map(|region| region.ends_at)
            .max()
            .unwrap_or(wave_start);
        waves.push(WaveSchedule {
            name: wave.name_at(index),
            starts_at: wave_start,
            ends_at,
            regions: scheduled,
        });
        wave_start = ends_at;
    }
    Ok(Schedule {
        pipeline: plan.pipeline().to_string(),
        start,
        completes_at: wave_start,
        waves,
    })
}

fn step(name: String, at: Timestamp, min_secs: Option<u64>) -> Step {
    Step { name, at, min_secs }
}

fn add(at: Timestamp, by: SignedDuration) -> Result<Timestamp, PlanError> {
    at.checked_add(by)
        .map_err(|_| PlanError::new("waves", "the schedule runs past the year 9999"))
}

/// `Tue 2026-12-08 17:00 UTC`.
fn when(at: Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a %Y-%m-%d %H:%M UTC")
        .to_string()
}

/// `1h`, `12h`, `1h 30m`, `2d 4h`.
pub fn span(secs: u64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "m")]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect();
    if parts.is_empty() {
        format!("{secs}s")
    } else {
        parts.join(" ")
    }
}

impl Schedule {
    /// The schedule as text a person reads.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let regions: usize = self.waves.iter().map(|wave| wave.regions.len()).sum();
        let _ = writeln!(
            out,
            "{}: {} waves, {} regions, started {}",
            self.pipeline,
            self.waves.len(),
            regions,
            when(self.start)
        );
        for wave in &self.waves {
            let _ = writeln!(
                out,
                "\n{}: {} -> {}",
                wave.name,
                when(wave.starts_at),
                when(wave.ends_at)
            );
            for region in &wave.regions {
                let _ = writeln!(out, "  {}", region.region);
                if let Some(why) = &region.waits_for {
                    let _ = writeln!(out, "    waits for {why} until {}", when(region.starts_at));
                }
                for step in &region.steps {
                    let least = step
                        .min_secs
                        .map(|secs| format!(" (at least {})", span(secs)))
                        .unwrap_or_default();
                    let _ = writeln!(out, "    {}  {}{}", when(step.at), step.name, least);
                }
                let _ = writeln!(out, "    {}  done", when(region.ends_at));
            }
        }
        let total = self.completes_at.duration_since(self.start).as_secs().max(0) as u64;
        let _ = write!(
            out,
            "\nearliest completion: {} ({} after the start)",
            when(self.completes_at),
            span(total)
        );
        out
    }
}

//! The sequential canary test, simulated: for no change and for real regressions, with a look
//! every minute of the bake, how often each way of judging rolls back and how soon.
//!
//! - sequential: the e-process of `canary::sequential`, at every look (α = 0.008, its default
//!   share of confidence 0.99);
//! - repeated fixed: the final judgement's errors test (exact conditional binomial, α = 0.01,
//!   ratio ≥ 1.5) asked at every look, as a team would if it simply judged at every poll;
//! - fixed at end: the same test once, after the whole bake.
//!
//! Traffic: the fleet (baseline) serves 900 requests a minute and the one-box 10% of all
//! traffic (100 a minute), both Poisson; errors are binomial. 1,000 trials per row, seeded.
//! Prints the table, checks issue #21's targets (exit 1 on a miss), then times one update of
//! 1,000 looks (target under 1 ms). Run with `benches/run` or
//! `cargo bench -p handsoff --bench sequential_canary`.

use divan::{Bencher, black_box};
use handsoff::canary::sequential::{Counts, Look, SequentialConfig, SequentialTest, SequentialVerdict};
use handsoff::canary::stats::binomial_upper_tail;
use handsoff_e2e::SeededRng as Rng;

const TRIALS: usize = 1_000;
const FLEET_PER_MINUTE: f64 = 900.0;
const SHARE: f64 = 0.1;
const NAIVE_ALPHA: f64 = 0.01;
const MAX_ERROR_RATIO: f64 = 1.5;

struct Scenario {
    name: &'static str,
    base_rate: f64,
    ratio: f64,
    minutes: usize,
    /// Issue #21's target for the sequential test: at least this share rolled back (or, for no
    /// change, at most), and a median time to detect of at most this many minutes.
    target: (Share, Option<usize>),
}

enum Share {
    AtMost(f64),
    AtLeast(f64),
}

#[derive(Default)]
struct Tally {
    rolled_back: usize,
    minutes: Vec<usize>,
}

impl Tally {
    fn record(&mut self, minute: Option<usize>) {
        if let Some(minute) = minute {
            self.rolled_back += 1;
            self.minutes.push(minute);
        }
    }

    fn rate(&self) -> f64 {
        self.rolled_back as f64 / TRIALS as f64
    }

    fn median(&mut self) -> Option<usize> {
        self.minutes.sort_unstable();
        // A trial that never rolled back took longer than any that did.
        (self.rolled_back * 2 > TRIALS).then(|| self.minutes[TRIALS / 2])
    }
}

/// The final judgement's errors test on cumulative counts: significant and large enough.
fn fixed_test_fails(look: &Look) -> bool {
    let (canary, baseline) = (look.canary, look.baseline);
    let total = canary.requests + baseline.requests;
    if canary.requests == 0 || baseline.requests == 0 {
        return false;
    }
    let share = canary.requests as f64 / total as f64;
    let p = binomial_upper_tail(canary.errors, canary.errors + baseline.errors, share, 1.0 - share);
    let ratio = (canary.errors as f64 / canary.requests as f64) / (baseline.errors as f64 / baseline.requests as f64);
    p < NAIVE_ALPHA && ratio >= MAX_ERROR_RATIO
}

/// One bake: (sequential, repeated fixed, fixed at end) rollback minutes.
fn trial(rng: &mut Rng, scenario: &Scenario, config: &SequentialConfig) -> [Option<usize>; 3] {
    let canary_per_minute = FLEET_PER_MINUTE * SHARE / (1.0 - SHARE);
    let mut look = Look::default();
    let mut test = SequentialTest::new();
    let (mut sequential, mut repeated) = (None, None);
    for minute in 1..=scenario.minutes {
        let canary_requests = rng.poisson(canary_per_minute);
        let baseline_requests = rng.poisson(FLEET_PER_MINUTE);
        look.canary = Counts {
            requests: look.canary.requests + canary_requests,
            errors: look.canary.errors + rng.binomial(canary_requests, (scenario.base_rate * scenario.ratio).min(1.0)),
        };
        look.baseline = Counts {
            requests: look.baseline.requests + baseline_requests,
            errors: look.baseline.errors + rng.binomial(baseline_requests, scenario.base_rate),
        };
        test.update(&look).expect("cumulative counts only grow");
        if sequential.is_none() && test.verdict(config) == SequentialVerdict::Fail {
            sequential = Some(minute);
        }
        if repeated.is_none() && fixed_test_fails(&look) {
            repeated = Some(minute);
        }
    }
    let at_end = fixed_test_fails(&look).then_some(scenario.minutes);
    [sequential, repeated, at_end]
}

fn main() {
    let config = SequentialConfig::default();
    let scenarios = [
        Scenario {
            name: "no change, 0.1%, 60m",
            base_rate: 0.001,
            ratio: 1.0,
            minutes: 60,
            target: (Share::AtMost(0.01), None),
        },
        Scenario {
            name: "no change, 0.1%, 120m",
            base_rate: 0.001,
            ratio: 1.0,
            minutes: 120,
            target: (Share::AtMost(0.01), None),
        },
        Scenario {
            name: "no change, 1%, 60m",
            base_rate: 0.01,
            ratio: 1.0,
            minutes: 60,
            target: (Share::AtMost(0.01), None),
        },
        Scenario {
            name: "no change, 1%, 120m",
            base_rate: 0.01,
            ratio: 1.0,
            minutes: 120,
            target: (Share::AtMost(0.01), None),
        },
        Scenario {
            name: "3x, 0.1% -> 0.3%, 60m",
            base_rate: 0.001,
            ratio: 3.0,
            minutes: 60,
            target: (Share::AtLeast(0.65), None),
        },
        Scenario {
            name: "10x, 0.1% -> 1%, 60m",
            base_rate: 0.001,
            ratio: 10.0,
            minutes: 60,
            target: (Share::AtLeast(0.5), Some(8)),
        },
        Scenario {
            name: "2x, 1% -> 2%, 60m",
            base_rate: 0.01,
            ratio: 2.0,
            minutes: 60,
            target: (Share::AtLeast(0.95), Some(20)),
        },
    ];
    println!("sequential canary test, {TRIALS} trials per row, one look a minute");
    println!(
        "{:<24} | {:>10} {:>8} | {:>10} {:>8} | {:>10} {:>8}",
        "scenario", "sequential", "median", "repeated", "median", "at end", "median"
    );
    let mut missed = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        let mut rng = Rng(0x5eed_0000 + index as u64);
        let mut tallies: [Tally; 3] = Default::default();
        for _ in 0..TRIALS {
            for (tally, minute) in tallies.iter_mut().zip(trial(&mut rng, scenario, &config)) {
                tally.record(minute);
            }
        }
        let rates: Vec<f64> = tallies.iter().map(Tally::rate).collect();
        let medians: Vec<String> = tallies
            .iter_mut()
            .map(|tally| tally.median().map_or("-".to_string(), |minute| format!("{minute}m")))
            .collect();
        println!(
            "{:<24} | {:>9.1}% {:>8} | {:>9.1}% {:>8} | {:>9.1}% {:>8}",
            scenario.name,
            rates[0] * 100.0,
            medians[0],
            rates[1] * 100.0,
            medians[1],
            rates[2] * 100.0,
            medians[2]
        );
        let sequential_median = tallies[0].median();
        let share_met = match scenario.target.0 {
            Share::AtMost(most) => rates[0] <= most,
            Share::AtLeast(least) => rates[0] >= least,
        };
        let median_met = scenario
            .target
            .1
            .is_none_or(|most| sequential_median.is_some_and(|minute| minute <= most));
        if !(share_met && median_met) {
            missed.push(scenario.name);
        }
    }
    println!("(a rollback under no change is a false rollback; the median is over all trials)");
    if !missed.is_empty() {
        eprintln!("MISSED the targets of: {}", missed.join("; "));
        std::process::exit(1);
    }
    println!("all targets met");
    divan::main();
}

/// 1,000 one-minute looks of a busy bake, folded into the e-process.
#[divan::bench(sample_count = 50)]
fn update_1000_looks(bencher: Bencher) {
    let looks: Vec<Look> = (1..=1_000u64)
        .map(|minute| Look {
            canary: Counts {
                requests: 100 * minute,
                errors: minute / 5,
            },
            baseline: Counts {
                requests: 900 * minute,
                errors: minute,
            },
        })
        .collect();
    bencher.bench(|| {
        let mut test = SequentialTest::new();
        for look in black_box(&looks) {
            test.update(look).expect("cumulative");
        }
        test.e_value()
    });
}

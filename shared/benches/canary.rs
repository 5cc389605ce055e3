//! Canary judge speed. Target (canary issue): judging 100,000 latency values per side in under
//! 20 ms. Run with `benches/run`.

use divan::{Bencher, black_box};
use handsoff::canary::{JudgeConfig, JudgeInput, Sample, judge};

fn main() {
    divan::main();
}

fn values(seed: u64, count: usize, scale: f64) -> Vec<f64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Latency-like, with ties at 0.1 ms resolution.
            (((state >> 11) as f64 / (1u64 << 53) as f64) * 100.0 * scale * 10.0).round() / 10.0 + 50.0
        })
        .collect()
}

#[divan::bench(sample_count = 30)]
fn judge_100k_values_per_side(bencher: Bencher) {
    let input = JudgeInput {
        baseline: Sample {
            requests: 9_000_000,
            errors: 9_000,
            latency_ms: values(1, 100_000, 1.0),
        },
        canary: Sample {
            requests: 1_000_000,
            errors: 1_100,
            latency_ms: values(2, 100_000, 1.02),
        },
        expected_canary_share: Some(0.1),
        config: JudgeConfig::default(),
    };
    bencher.bench(|| judge(black_box(&input)));
}

//! The judge's p-values against SciPy's, to 1e-9 relative, on the vectors that
//! `tests/scipy/canary_vectors.py` generates. `scripts/test` regenerates them with the pinned
//! SciPy and points `HANDSOFF_SCIPY_VECTORS` at the fresh file; plain `cargo test` reads the
//! committed copy.

use std::path::PathBuf;

use handsoff::canary::stats::mann_whitney_greater;
use handsoff::canary::{JudgeConfig, JudgeInput, Sample, judge};
use serde_json::Value;

fn vectors() -> Value {
    let path = std::env::var("HANDSOFF_SCIPY_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/canary-scipy.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn agree(ours: f64, scipy: f64) -> bool {
    if scipy == 0.0 {
        return ours == 0.0;
    }
    ((ours - scipy) / scipy).abs() <= 1e-9
}

fn sample(value: &Value) -> Sample {
    Sample {
        requests: value["requests"].as_u64().unwrap(),
        errors: value["errors"].as_u64().unwrap(),
        latency_ms: Vec::new(),
    }
}

#[test]
fn error_p_values_agree_with_scipy_binomtest() {
    let vectors = vectors();
    let cases = vectors["errors"].as_array().unwrap();
    assert!(cases.len() >= 300, "too few vectors: {}", cases.len());
    let mut worst = 0.0f64;
    for case in cases {
        let input = JudgeInput {
            baseline: sample(&case["baseline"]),
            canary: sample(&case["canary"]),
            expected_canary_share: None,
            config: JudgeConfig {
                min_requests: 1,
                ..JudgeConfig::default()
            },
        };
        let ours = judge(&input).checks[0].p_value.unwrap();
        let scipy = case["p_value"].as_f64().unwrap();
        assert!(agree(ours, scipy), "{case}: ours {ours:e}, SciPy {scipy:e}");
        if scipy > 0.0 {
            worst = worst.max(((ours - scipy) / scipy).abs());
        }
    }
    println!("errors: worst relative difference {worst:e} over {} cases", cases.len());
}

#[test]
fn latency_p_values_agree_with_scipy_mannwhitneyu() {
    let vectors = vectors();
    let cases = vectors["latency"].as_array().unwrap();
    assert!(cases.len() >= 150);
    let floats = |value: &Value| {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect::<Vec<f64>>()
    };
    for case in cases {
        let (canary, baseline) = (floats(&case["canary"]), floats(&case["baseline"]));
        let test = mann_whitney_greater(&canary, &baseline).unwrap();
        let (u, p) = (case["u"].as_f64().unwrap(), case["p_value"].as_f64().unwrap());
        assert!(agree(test.u, u), "U: ours {}, SciPy {u}", test.u);
        assert!(
            agree(test.p_value, p),
            "p: ours {:e}, SciPy {p:e} (n {} vs {})",
            test.p_value,
            canary.len(),
            baseline.len()
        );

        // The judge reports the same number.
        let input = JudgeInput {
            baseline: Sample {
                requests: 10_000,
                errors: 0,
                latency_ms: baseline,
            },
            canary: Sample {
                requests: 1_000,
                errors: 0,
                latency_ms: canary,
            },
            expected_canary_share: None,
            config: JudgeConfig {
                min_periods: 2,
                ..JudgeConfig::default()
            },
        };
        assert_eq!(judge(&input).checks[1].p_value, Some(test.p_value));
    }
}

#[test]
fn sequential_e_values_agree_with_scipy_binomial_likelihoods() {
    use handsoff::canary::sequential::{Look, SequentialTest};
    let vectors = vectors();
    let cases = vectors["sequential"].as_array().unwrap();
    assert!(cases.len() >= 50, "too few vectors: {}", cases.len());
    let mut checked = 0;
    for case in cases {
        let looks: Vec<Look> = serde_json::from_value(case["looks"].clone()).unwrap();
        let mut test = SequentialTest::new();
        for (look, expected) in looks.iter().zip(case["e_values"].as_array().unwrap()) {
            test.update(look).unwrap();
            let expected = expected.as_f64().unwrap();
            let ours = test.e_value();
            assert!(
                (ours - expected).abs() <= 1e-9 * expected.abs().max(1e-300),
                "{ours} vs SciPy {expected} after {} looks",
                test.looks()
            );
            checked += 1;
        }
    }
    assert!(checked > 1_000, "{checked}");
}

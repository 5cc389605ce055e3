//! Seeded simulations of the judge: how often it fails a canary that is no worse, how often it
//! catches one that is, and when it refuses to decide.

use handsoff::canary::{CanaryVerdict, JudgeConfig, JudgeInput, Sample, judge};
use handsoff_e2e::SeededRng as Rng;

fn side(rng: &mut Rng, requests: u64, error_rate: f64, latency_mean: f64) -> Sample {
    Sample {
        requests,
        errors: rng.binomial(requests, error_rate),
        latency_ms: (0..30).map(|_| rng.normal(latency_mean, 10.0)).collect(),
    }
}

fn trial(rng: &mut Rng, canary_requests: u64, canary_error_rate: f64) -> CanaryVerdict {
    let input = JudgeInput {
        baseline: side(rng, 20_000, 0.01, 100.0),
        canary: side(rng, canary_requests, canary_error_rate, 100.0),
        expected_canary_share: Some(canary_requests as f64 / (20_000 + canary_requests) as f64),
        config: JudgeConfig::default(),
    };
    judge(&input).verdict
}

#[test]
fn a_canary_no_worse_than_the_fleet_fails_in_at_most_one_percent_of_trials() {
    let mut rng = Rng(1);
    let failures = (0..1_000)
        .filter(|_| trial(&mut rng, 5_000, 0.01) == CanaryVerdict::Fail)
        .count();
    assert!(failures <= 10, "{failures} of 1000 equal canaries failed");
}

#[test]
fn a_canary_with_three_times_the_errors_fails_in_at_least_99_percent_of_trials() {
    let mut rng = Rng(2);
    let failures = (0..1_000)
        .filter(|_| trial(&mut rng, 5_000, 0.03) == CanaryVerdict::Fail)
        .count();
    assert!(failures >= 990, "only {failures} of 1000 bad canaries failed");
}

#[test]
fn forty_canary_requests_are_inconclusive_and_say_how_many_are_needed() {
    let mut rng = Rng(3);
    let input = JudgeInput {
        baseline: side(&mut rng, 20_000, 0.01, 100.0),
        canary: side(&mut rng, 40, 0.01, 100.0),
        expected_canary_share: None,
        config: JudgeConfig::default(),
    };
    let judgement = judge(&input);
    assert_eq!(judgement.verdict, CanaryVerdict::Inconclusive);
    let needed = judgement.needed_requests.unwrap();
    // Detecting 1.5x a 1% error rate at 1% (Holm's worst case) with 80% power takes thousands.
    assert!((2_000..50_000).contains(&needed), "needed {needed}");
    assert_eq!(judgement.checks[0].verdict, CanaryVerdict::Inconclusive);
    assert!(
        judgement.checks[0]
            .reason
            .contains("40 canary requests, fewer than min_requests (500)")
    );
}

#[test]
fn zero_canary_traffic_while_the_baseline_serves_fails() {
    let input = JudgeInput {
        baseline: Sample {
            requests: 20_000,
            errors: 200,
            latency_ms: Vec::new(),
        },
        canary: Sample {
            requests: 0,
            errors: 0,
            latency_ms: Vec::new(),
        },
        expected_canary_share: Some(0.1),
        config: JudgeConfig::default(),
    };
    let judgement = judge(&input);
    assert_eq!(judgement.verdict, CanaryVerdict::Fail);
    let traffic = &judgement.checks[2];
    assert_eq!(traffic.verdict, CanaryVerdict::Fail);
    assert_eq!(
        traffic.reason,
        "the canary served no requests while the baseline served 20000"
    );
    assert_eq!(judgement.checks[1].verdict, CanaryVerdict::Skipped);
}

#[test]
fn a_slower_canary_fails_on_latency_with_its_numbers() {
    let mut rng = Rng(4);
    let input = JudgeInput {
        baseline: side(&mut rng, 20_000, 0.01, 100.0),
        canary: side(&mut rng, 5_000, 0.01, 140.0),
        expected_canary_share: None,
        config: JudgeConfig::default(),
    };
    let judgement = judge(&input);
    assert_eq!(judgement.verdict, CanaryVerdict::Fail);
    let latency = &judgement.checks[1];
    assert_eq!(latency.verdict, CanaryVerdict::Fail);
    assert!(latency.significant && latency.p_value.unwrap() < 1e-6);
    assert!(latency.effect.unwrap() > 0.3, "{:?}", latency.effect);
    assert_eq!(judgement.checks[0].verdict, CanaryVerdict::Pass);
}

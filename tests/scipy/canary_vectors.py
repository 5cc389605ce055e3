"""Reference p-values for the canary judge, computed by SciPy.

Writes JSON with two lists: `errors` cases (baseline/canary requests and errors, and SciPy's
`binomtest(e_c, e_b + e_c, n_c / (n_b + n_c), alternative='greater').pvalue`) and `latency` cases
(canary and baseline per-period values, and SciPy's `mannwhitneyu(canary, baseline,
alternative='greater', method='asymptotic', use_continuity=True)` statistic and p-value), and
`sequential` bakes (cumulative looks, and the sequential test's e-value after each, from
`binom.logpmf`).
The Rust test `shared/tests/canary_scipy.rs` checks the judge against them to 1e-9 relative.

Usage: python canary_vectors.py OUT.json
"""
import json
import sys

import numpy as np
import scipy
import scipy.special
from scipy import stats


def errors_cases(rng):
    cases = []
    for _ in range(300):
        n_b = int(rng.integers(100, 200_000))
        n_c = int(rng.integers(10, 30_000))
        base_rate = float(rng.choice([0.0, rng.uniform(0, 0.002), rng.uniform(0, 0.05)]))
        ratio = float(rng.uniform(0.3, 5.0))
        e_b = int(rng.binomial(n_b, base_rate))
        e_c = int(rng.binomial(n_c, min(1.0, base_rate * ratio)))
        cases.append((n_b, e_b, n_c, e_c))
    # Edges: no errors at all, errors only on the canary, only on the baseline, tiny samples.
    cases += [(50_000, 0, 5_000, 0), (50_000, 0, 5_000, 3), (50_000, 40, 5_000, 0), (10, 1, 10, 1), (1, 0, 1, 1)]
    out = []
    for n_b, e_b, n_c, e_c in cases:
        p = n_c / (n_b + n_c)
        p_value = stats.binomtest(e_c, e_b + e_c, p, alternative="greater").pvalue if e_b + e_c > 0 else 1.0
        if 0 < p_value < 1e-250:
            continue  # beyond double precision's comfort: not a useful reference
        out.append({"baseline": {"requests": n_b, "errors": e_b}, "canary": {"requests": n_c, "errors": e_c}, "p_value": float(p_value)})
    return out


def latency_cases(rng):
    out = []
    for case in range(150):
        n_b = int(rng.integers(5, 400))
        n_c = int(rng.integers(5, 200))
        base = rng.lognormal(mean=4.0, sigma=0.3, size=n_b)
        shift = float(rng.choice([1.0, 1.0, 1.05, 1.2, 1.5]))
        canary = rng.lognormal(mean=4.0, sigma=0.3, size=n_c) * shift
        decimals = [3, 1, 0][case % 3]  # fewer decimals, more ties
        base = np.round(base, decimals)
        canary = np.round(canary, decimals)
        result = stats.mannwhitneyu(canary, base, alternative="greater", method="asymptotic", use_continuity=True)
        out.append({"canary": canary.tolist(), "baseline": base.tolist(), "u": float(result.statistic), "p_value": float(result.pvalue)})
    # All values tied: no variance; SciPy answers NaN, which the judge treats as "no evidence".
    return out


# The sequential test's alternatives and prior weights (shared/src/canary/sequential.rs).
GRID = [(1.5, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 2.0), (6.0, 1.5), (10.0, 1.0)]


def sequential_cases(rng):
    """Bakes of cumulative looks and the e-value after each, from SciPy's binomial pmf: per look
    the ratio Binomial(e_c; E, q(theta)) / Binomial(e_c; E, pi), multiplied over the looks, then
    mixed over the grid (log-sum-exp)."""
    out = []
    total = sum(weight for _, weight in GRID)
    for case in range(60):
        minutes = int(rng.integers(1, 90))
        canary_rate, base_rate = float(rng.uniform(0.0005, 0.03)), float(rng.uniform(0.0005, 0.02))
        looks, cumulative, log_lr = [], [0, 0, 0, 0], np.zeros(len(GRID))
        e_values = []
        for _ in range(minutes):
            n_c, n_b = int(rng.poisson(rng.choice([0, 50, 120]))), int(rng.poisson(900))
            e_c, e_b = int(rng.binomial(n_c, canary_rate)), int(rng.binomial(n_b, base_rate))
            cumulative = [cumulative[0] + n_c, cumulative[1] + e_c, cumulative[2] + n_b, cumulative[3] + e_b]
            looks.append({"canary": {"requests": cumulative[0], "errors": cumulative[1]},
                          "baseline": {"requests": cumulative[2], "errors": cumulative[3]}})
            if n_c > 0 and n_b > 0 and e_c + e_b > 0:
                share = n_c / (n_c + n_b)
                for j, (theta, _) in enumerate(GRID):
                    q = theta * share / (theta * share + 1 - share)
                    log_lr[j] += stats.binom.logpmf(e_c, e_c + e_b, q) - stats.binom.logpmf(e_c, e_c + e_b, share)
            weights = np.array([weight / total for _, weight in GRID])
            e_values.append(float(np.exp(scipy.special.logsumexp(log_lr, b=weights))))
        out.append({"looks": looks, "e_values": e_values})
    return out


def main():
    rng = np.random.default_rng(20261122)
    vectors = {"scipy": scipy.__version__, "errors": errors_cases(rng), "latency": latency_cases(rng),
               "sequential": sequential_cases(rng)}
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(vectors, out)
    print(f"wrote {len(vectors['errors'])} errors, {len(vectors['latency'])} latency and {len(vectors['sequential'])} sequential cases (SciPy {scipy.__version__}) to {sys.argv[1]}")


if __name__ == "__main__":
    main()

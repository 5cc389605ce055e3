//! A small seeded random number generator for simulations (SplitMix64), with the draws they
//! use: uniform, normal, Poisson and binomial. Dependency-free, and the same stream everywhere.

pub struct SeededRng(pub u64);

impl SeededRng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Box-Muller.
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u1, u2) = (self.uniform().max(f64::MIN_POSITIVE), self.uniform());
        mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Exponential gaps until they pass the mean; fine for means up to a few thousand.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        let mut count = 0;
        let mut total = 0.0;
        loop {
            total += -self.uniform().max(f64::MIN_POSITIVE).ln();
            if total > mean {
                return count;
            }
            count += 1;
        }
    }

    /// Inversion of the CDF, walking up from 0: O(n·p), for the small rates simulated.
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n == 0 || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        let u = self.uniform();
        let mut probability = (1.0 - p).powf(n as f64);
        let mut cumulative = probability;
        let mut k = 0;
        while u > cumulative && k < n {
            probability *= (n - k) as f64 / (k + 1) as f64 * p / (1.0 - p);
            k += 1;
            cumulative += probability;
        }
        k
    }
}

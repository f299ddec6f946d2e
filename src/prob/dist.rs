//! Samplers for uncertain quantities: the distributions a scenario may use, and the waiting
//! times of per-period probabilities. Plain values, built by the scenario reader (which checks
//! their parameters at their position in the file) and drawn from by the kernel.

use rand::RngExt;
use rand::distr::weighted::WeightedIndex;
use rand::distr::{Bernoulli, Uniform};
use rand_distr::{Beta, Distribution, Exp, Gamma, LogNormal, Normal, Pert, Poisson, Triangular};

/// A sampler for one uncertain quantity, built and checked from the scenario file.
#[derive(Clone, Debug)]
pub enum Dist {
    /// Always the same value.
    Fixed(f64),
    /// Uniform on `[low, high)`.
    Uniform(Uniform<f64>, f64, f64),
    /// Triangular on `[min, max]` with the given mode.
    Triangular(Triangular<f64>, f64, f64),
    /// PERT (scaled beta) on `[min, max]` with the given mode.
    Pert(Pert<f64>, f64, f64),
    /// Normal, clamped to `[min, max]` when bounds are given.
    Normal(Normal<f64>, f64, f64),
    /// Log-normal.
    LogNormal(LogNormal<f64>),
    /// Beta on `[0, 1]`.
    Beta(Beta<f64>),
    /// Exponential.
    Exp(Exp<f64>),
    /// Gamma with the given shape and scale (a Dirichlet row of the regime draws one per entry).
    Gamma(Gamma<f64>),
    /// Poisson counts.
    Poisson(Poisson<f64>),
    /// 1 with probability `p`, else 0.
    Bernoulli(Bernoulli, f64),
    /// One of `values`, chosen with probability proportional to its weight.
    Discrete(Vec<f64>, WeightedIndex<f64>),
}

impl Dist {
    /// Draws one value.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform(d, _, _) => rng.sample(d),
            Dist::Triangular(d, _, _) => rng.sample(d),
            Dist::Pert(d, _, _) => rng.sample(d),
            Dist::Normal(d, lo, hi) => rng.sample(d).clamp(*lo, *hi),
            Dist::LogNormal(d) => rng.sample(d),
            Dist::Beta(d) => rng.sample(d),
            Dist::Exp(d) => rng.sample(d),
            Dist::Gamma(d) => rng.sample(d),
            Dist::Poisson(d) => rng.sample(d),
            Dist::Bernoulli(d, _) => f64::from(u8::from(rng.sample(d))),
            Dist::Discrete(v, w) => v[w.sample(rng)],
        }
    }

    /// The smallest and largest value the distribution can produce.
    pub fn support(&self) -> (f64, f64) {
        match self {
            Dist::Fixed(v) => (*v, *v),
            Dist::Uniform(_, a, b) | Dist::Triangular(_, a, b) | Dist::Pert(_, a, b) => (*a, *b),
            Dist::Normal(_, a, b) => (*a, *b),
            Dist::LogNormal(_) | Dist::Exp(_) | Dist::Gamma(_) | Dist::Poisson(_) => {
                (0.0, f64::INFINITY)
            }
            Dist::Beta(_) | Dist::Bernoulli(..) => (0.0, 1.0),
            Dist::Discrete(v, _) => v
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                    (lo.min(*x), hi.max(*x))
                }),
        }
    }

    /// True when the distribution always returns the same value.
    pub fn is_fixed(&self) -> bool {
        matches!(self, Dist::Fixed(_))
    }
}

/// Draws a uniform number in `[0, 1)` from 53 random bits.
#[inline]
pub fn unit<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    rng.random::<f64>()
}

/// Periods until the first success of a per-period probability `p` (1 = the next period), or
/// `u32::MAX` when `p` is zero: one draw whatever the waiting time, with ln(1 - p) worked out
/// once for many draws.
#[derive(Clone, Copy, Debug)]
pub struct Geometric {
    p: f64,
    /// ln(1 - p), where 0 < p < 1.
    ln_q: f64,
}

impl Geometric {
    /// Waiting times for the per-period probability `p`.
    #[inline]
    pub fn new(p: f64) -> Geometric {
        // Scenarios' probabilities are checked numbers; a NaN would draw waits of 1.
        debug_assert!(!p.is_nan(), "a probability is NaN");
        let ln_q = if p <= 0.0 || p >= 1.0 {
            0.0
        } else {
            (-p).ln_1p()
        };
        Geometric { p, ln_q }
    }

    /// Draws one waiting time.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        if self.p <= 0.0 {
            return u32::MAX;
        }
        if self.p >= 1.0 {
            return 1;
        }
        let u = 1.0 - unit(rng); // in (0, 1]
        // floor(x) + 1 for x >= 0, saturating: truncation is the floor there, and a cast needs
        // no library call where the processor has no rounding instruction.
        let x = u.ln() / self.ln_q;
        if x >= (u32::MAX - 1) as f64 {
            u32::MAX
        } else {
            x as u32 + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_mean_matches_one_over_p() {
        use rand::SeedableRng;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let p = 0.1;
        let n = 200_000;
        let mean: f64 = (0..n)
            .map(|_| f64::from(Geometric::new(p).sample(&mut rng)))
            .sum::<f64>()
            / n as f64;
        // Var = (1-p)/p^2 = 90, se = sqrt(90/n) ~ 0.021; 5 standard errors.
        assert!(
            (mean - 10.0).abs() < 5.0 * (90.0f64 / n as f64).sqrt(),
            "mean {mean}"
        );
    }

    #[test]
    fn geometric_draws_floor_plus_one() {
        // The floor-free saturating form against its definition, on the same uniforms.
        let mut a = crate::prob::rng::TrialRng::seed_from_u64(11);
        let mut b = a.clone();
        for p in [1e-300, 1e-12, 1e-6, 0.004, 0.1, 0.5, 0.9, 1.0 - 1e-12] {
            let g = Geometric::new(p);
            for _ in 0..20_000 {
                let u = 1.0 - unit(&mut b);
                let k = (u.ln() / g.ln_q).floor() + 1.0;
                let want = if k >= u32::MAX as f64 {
                    u32::MAX
                } else {
                    k as u32
                };
                assert_eq!(g.sample(&mut a), want, "p = {p}, u = {u}");
            }
        }
    }
}

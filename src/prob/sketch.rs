//! Streaming statistics that merge exactly, for per-trial figures that are not kept trial by
//! trial.
//!
//! A run of ten million trials cannot keep every figure of every trial within a modest memory
//! budget, so secondary figures (worst period, tariff cost, survival times) are folded into
//! these structures as the trials run. Each one is a function of the multiset of values it has
//! seen, not of their order: merging shards, or the work of several threads, in any order gives
//! the same state bit for bit, and so the same summary.
//!
//! - [`ExactSum`]: the exact sum of floating-point values (Shewchuk's non-overlapping partials,
//!   as in Python's `math.fsum`), rounded once when read.
//! - [`Sketch`]: a histogram of non-negative values over buckets of the float's own bits (a
//!   relative width of 2^-[`MANTISSA_BITS`]), with exact count, zeros, minimum, maximum, sum and
//!   sum of squares. Quantiles are within [`Sketch::RELATIVE_ERROR`] of the exact order statistic
//!   and exact at the minimum and maximum. Bucketing uses no floating-point arithmetic, so it is
//!   the same on every machine.
//! - [`Counts`]: exact counts of small integers (period counts).

use serde::{Deserialize, Serialize};

/// The exact sum of a multiset of finite floats. Two sums are equal when their exact values are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExactSum {
    /// Non-overlapping partial sums, smallest magnitude first; their exact sum is the total.
    parts: Vec<f64>,
}

impl ExactSum {
    /// Adds `x` exactly.
    pub fn add(&mut self, mut x: f64) {
        let mut i = 0;
        for j in 0..self.parts.len() {
            let mut y = self.parts[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.parts[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.parts.truncate(i);
        self.parts.push(x);
    }

    /// Adds the exact product `a * b` (the rounded product and its rounding error, from a fused
    /// multiply-add).
    pub fn add_product(&mut self, a: f64, b: f64) {
        let p = a * b;
        self.add(p);
        self.add(a.mul_add(b, -p));
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: &ExactSum) {
        for &p in &other.parts {
            self.add(p);
        }
    }

    /// The same exact value in its one canonical form: the nearest float to the sum, then the
    /// nearest float to what is left, and so on (stored smallest first).
    pub fn canonical(&self) -> ExactSum {
        let mut left = self.clone();
        let mut parts = Vec::new();
        loop {
            let v = left.value();
            // An infinite or NaN total has no finite remainder to expand.
            if v == 0.0 || !v.is_finite() {
                if v != 0.0 {
                    parts.push(v);
                }
                break;
            }
            parts.push(v);
            left.add(-v);
        }
        parts.reverse();
        ExactSum { parts }
    }

    /// The exact sum, correctly rounded to the nearest float.
    pub fn value(&self) -> f64 {
        let p = &self.parts;
        let Some(&last) = p.last() else {
            return 0.0;
        };
        let mut n = p.len() - 1;
        let mut hi = last;
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half-way cases by the sign of the next partial down.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

impl PartialEq for ExactSum {
    fn eq(&self, other: &ExactSum) -> bool {
        self.canonical().parts == other.canonical().parts
    }
}

/// Bits of the mantissa that select a bucket: buckets are 2^-8 = 0.39% wide.
pub const MANTISSA_BITS: u32 = 8;
/// Smallest positive value with a bucket of its own (2^-40, about 9e-13); smaller ones share it,
/// so quantiles below it (and from 2^64 up, which share the top bucket) are only bounded by the
/// minimum and maximum seen. Tonnes, shares and dollars of a scenario stay well inside.
const LOW_EXP: i64 = -40;
/// Values from 2^64 (about 1.8e19) up share the top bucket.
const HIGH_EXP: i64 = 64;
const BUCKETS: usize = ((HIGH_EXP - LOW_EXP) as usize) << MANTISSA_BITS;

/// The bucket key of a positive finite float: its exponent and top mantissa bits.
fn key(x: f64) -> i64 {
    (x.to_bits() >> (52 - MANTISSA_BITS)) as i64
}

const LOW_KEY: i64 = (LOW_EXP + 1023) << MANTISSA_BITS;

/// A mergeable histogram of non-negative values with exact moments and extremes.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Sketch {
    /// Values seen.
    pub count: u64,
    /// Values equal to zero.
    pub zeros: u64,
    /// Smallest positive value (infinity when none).
    pub min_positive: f64,
    /// Largest value (0 when none).
    pub max: f64,
    /// Exact sum of the values.
    pub sum: ExactSum,
    /// Exact sum of their squares.
    pub sum_sq: ExactSum,
    /// Index of the bucket `buckets[0]` counts.
    first: u32,
    /// Counts of positive values per bucket, from bucket `first` to the highest bucket seen:
    /// only the range of buckets the values reached is kept (a few kilobytes for a market's
    /// tonnes), the same range however the values were added or merged.
    buckets: Vec<u32>,
}

impl std::fmt::Debug for Sketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sketch")
            .field("count", &self.count)
            .field("zeros", &self.zeros)
            .field("min_positive", &self.min_positive)
            .field("max", &self.max)
            .field("sum", &self.sum.value())
            .field("sum_sq", &self.sum_sq.value())
            .field(
                "buckets_used",
                &self.buckets.iter().filter(|&&c| c > 0).count(),
            )
            .finish()
    }
}

impl Default for Sketch {
    fn default() -> Sketch {
        Sketch::new()
    }
}

impl Sketch {
    /// Largest relative distance between a quantile read from the sketch and the exact order
    /// statistic (half a bucket).
    pub const RELATIVE_ERROR: f64 = 1.0 / (1u64 << (MANTISSA_BITS + 1)) as f64;

    /// An empty sketch.
    pub fn new() -> Sketch {
        Sketch {
            count: 0,
            zeros: 0,
            min_positive: f64::INFINITY,
            max: 0.0,
            sum: ExactSum::default(),
            sum_sq: ExactSum::default(),
            first: 0,
            buckets: Vec::new(),
        }
    }

    /// Adds a value; negative values and NaN count as zero.
    pub fn add(&mut self, x: f64) {
        self.count += 1;
        if x.is_nan() || x <= 0.0 {
            self.zeros += 1;
            return;
        }
        let b = (key(x) - LOW_KEY).clamp(0, BUCKETS as i64 - 1) as usize;
        self.cover(b, b);
        self.buckets[b - self.first as usize] += 1;
        self.min_positive = self.min_positive.min(x);
        self.max = self.max.max(x);
        self.sum.add(x);
        self.sum_sq.add_product(x, x);
    }

    /// Rewrites the exact sums in their canonical form, so that equal states serialise to the
    /// same bytes however they were merged.
    pub fn canonicalize(&mut self) {
        self.sum = self.sum.canonical();
        self.sum_sq = self.sum_sq.canonical();
    }

    /// Adds everything `other` has seen.
    pub fn merge(&mut self, other: &Sketch) {
        self.count += other.count;
        self.zeros += other.zeros;
        self.min_positive = self.min_positive.min(other.min_positive);
        self.max = self.max.max(other.max);
        self.sum.merge(&other.sum);
        self.sum_sq.merge(&other.sum_sq);
        if let Some(last) = other.last() {
            self.cover(other.first as usize, last);
            let at = (other.first - self.first) as usize;
            for (a, b) in self.buckets[at..].iter_mut().zip(&other.buckets) {
                *a += b;
            }
        }
    }

    /// Whether the sketch is one that adding and merging values can make: its buckets lie in
    /// the bucket range and count every positive value. A sketch read from a file is checked
    /// with this before it is merged.
    pub fn is_consistent(&self) -> bool {
        let positive: u64 = self.buckets.iter().map(|&c| u64::from(c)).sum();
        let extremes = if positive == 0 {
            self.min_positive == f64::INFINITY && self.max == 0.0
        } else {
            self.min_positive > 0.0 && self.min_positive <= self.max && self.max.is_finite()
        };
        (self.first as usize).saturating_add(self.buckets.len()) <= BUCKETS
            && self.zeros.checked_add(positive) == Some(self.count)
            && extremes
    }

    /// The highest bucket kept, if any.
    fn last(&self) -> Option<usize> {
        (!self.buckets.is_empty()).then(|| self.first as usize + self.buckets.len() - 1)
    }

    /// Widens the kept range to hold buckets `lo..=hi`.
    fn cover(&mut self, lo: usize, hi: usize) {
        match self.last() {
            None => {
                self.first = lo as u32;
                self.buckets = vec![0; hi - lo + 1];
            }
            Some(last) => {
                let first = self.first as usize;
                if lo < first {
                    self.buckets
                        .splice(0..0, std::iter::repeat_n(0, first - lo));
                    self.first = lo as u32;
                }
                if hi > last {
                    let len = hi - self.first as usize + 1;
                    self.buckets.resize(len, 0);
                }
            }
        }
    }

    /// Representative value of bucket `b`: its midpoint, kept within the values seen.
    fn value_of(&self, b: usize) -> f64 {
        let k = b as i64 + LOW_KEY;
        let lo = f64::from_bits((k as u64) << (52 - MANTISSA_BITS));
        let hi = f64::from_bits(((k + 1) as u64) << (52 - MANTISSA_BITS));
        (0.5 * (lo + hi)).clamp(self.min_positive, self.max)
    }

    /// The `rank`-th smallest value (1-based, clamped to the count), within
    /// [`Sketch::RELATIVE_ERROR`]; NaN when empty.
    pub fn at_rank(&self, rank: u64) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let rank = rank.clamp(1, self.count);
        if rank <= self.zeros {
            return 0.0;
        }
        if rank == self.count {
            return self.max;
        }
        let mut acc = self.zeros;
        for (i, &c) in self.buckets.iter().enumerate() {
            acc += u64::from(c);
            if acc >= rank {
                return self.value_of(self.first as usize + i);
            }
        }
        self.max
    }

    /// Sum of the `k` largest values (each from its bucket, the largest exact).
    pub fn top_sum(&self, k: u64) -> f64 {
        let mut left = k.min(self.count);
        if left == 0 {
            return 0.0;
        }
        let mut total = self.max;
        left -= 1;
        let mut skip_max = true;
        for (i, &c) in self.buckets.iter().enumerate().rev() {
            let b = self.first as usize + i;
            let mut c = u64::from(c);
            if c == 0 {
                continue;
            }
            if skip_max {
                c -= 1;
                skip_max = false;
            }
            let take = c.min(left);
            total += take as f64 * self.value_of(b);
            left -= take;
            if left == 0 {
                break;
            }
        }
        total
    }

    /// Mean and sample variance from the exact sums: the variance is
    /// (n Σx² − (Σx)²) / (n (n − 1)) with the numerator computed exactly and rounded once, so
    /// that equal values give exactly 0 and nearly equal ones lose nothing to cancellation.
    pub fn mean_var(&self) -> (f64, f64) {
        let n = self.count as f64;
        let mean = self.sum.value() / n;
        let var = if self.count > 1 {
            let mut num = ExactSum::default();
            for &q in &self.sum_sq.parts {
                num.add_product(q, n);
            }
            for &a in &self.sum.parts {
                for &b in &self.sum.parts {
                    num.add_product(-a, b);
                }
            }
            (num.value() / (n * (n - 1.0))).max(0.0)
        } else {
            0.0
        };
        (mean, var)
    }
}

/// Exact counts of values `0..len`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counts(pub Vec<u64>);

impl Counts {
    /// Zero counts for values `0..len`.
    pub fn new(len: usize) -> Counts {
        Counts(vec![0; len])
    }

    /// Counts one `v` (values beyond the range count as the largest).
    pub fn add(&mut self, v: usize) {
        let i = v.min(self.0.len().saturating_sub(1));
        if let Some(c) = self.0.get_mut(i) {
            *c += 1;
        }
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }

    /// Number of values counted.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The `rank`-th smallest value (1-based).
    pub fn at_rank(&self, rank: u64) -> usize {
        let mut acc = 0;
        for (v, &c) in self.0.iter().enumerate() {
            acc += c;
            if acc >= rank {
                return v;
            }
        }
        self.0.len().saturating_sub(1)
    }

    /// Exact mean (integer sums are exact in f64 up to 2^53).
    pub fn mean(&self) -> f64 {
        let s: u64 = self.0.iter().enumerate().map(|(v, &c)| v as u64 * c).sum();
        s as f64 / self.total() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn exact_sum_is_correctly_rounded_and_order_free() {
        let v = [1e100, 1.0, -1e100, 1e-100, 3.0, -2.5];
        let mut a = ExactSum::default();
        for x in v {
            a.add(x);
        }
        assert_eq!(a.value(), 1.5 + 1e-100);
        let mut b = ExactSum::default();
        for x in v.iter().rev() {
            b.add(*x);
        }
        assert_eq!(a.value(), b.value());
        assert_eq!(a, b);
        assert_eq!(a.canonical().parts, b.canonical().parts);
        assert_eq!(a.canonical().value(), a.value());
        // 0.1 added ten times is not 1.0 in floats, but the exact sum of those ten floats
        // rounds to 1.0.
        let mut c = ExactSum::default();
        for _ in 0..10 {
            c.add(0.1);
        }
        assert_eq!(c.value(), 1.0);
    }

    #[test]
    fn sketch_quantiles_are_within_the_bound_and_merge_exactly() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let values: Vec<f64> = (0..20_000)
            .map(|i| {
                if i % 5 == 0 {
                    0.0
                } else {
                    (rng.random::<f64>() * 20.0).exp()
                }
            })
            .collect();
        let mut whole = Sketch::new();
        for &x in &values {
            whole.add(x);
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for rank in [1, 2, 4000, 4001, 10_000, 19_000, 19_999, 20_000] {
            let exact = sorted[rank as usize - 1];
            let got = whole.at_rank(rank);
            assert!(
                (got - exact).abs() <= Sketch::RELATIVE_ERROR * exact,
                "rank {rank}: {got} vs {exact}"
            );
        }
        assert_eq!(whole.at_rank(20_000), sorted[19_999]);
        let top: f64 = sorted[19_000..].iter().sum();
        assert!((whole.top_sum(1000) - top).abs() <= Sketch::RELATIVE_ERROR * top);
        // Any split, merged in any order, gives the same state.
        let (mut a, mut b) = (Sketch::new(), Sketch::new());
        for (i, &x) in values.iter().enumerate() {
            if i % 3 == 0 { &mut a } else { &mut b }.add(x);
        }
        b.merge(&a);
        assert_eq!(b.count, whole.count);
        assert_eq!(b.mean_var(), whole.mean_var());
        for rank in [1, 777, 15_000] {
            assert_eq!(b.at_rank(rank), whole.at_rank(rank));
        }
        let (mean, var) = whole.mean_var();
        let (m2, v2) = crate::prob::estimate::mean_var(&values);
        assert!((mean - m2).abs() <= 1e-12 * m2);
        assert!((var - v2).abs() <= 1e-9 * v2);
    }

    /// A sketch keeps only the range of buckets its values reached, the same range whatever the
    /// order of adding and merging: splits by value, merged either way, equal the whole.
    #[test]
    fn a_sketch_keeps_the_bucket_range_its_values_reach() {
        let values: Vec<f64> = (0..5_000).map(|i| 1.0 + (i * i % 9_973) as f64).collect();
        let mut whole = Sketch::new();
        values.iter().for_each(|&x| whole.add(x));
        // 1 to 9,973: 14 binades of 256 buckets at most.
        assert!(
            whole.buckets.len() <= 14 << MANTISSA_BITS,
            "{}",
            whole.buckets.len()
        );
        assert!(whole.is_consistent());
        let (mut low, mut high) = (Sketch::new(), Sketch::new());
        for &x in &values {
            if x < 100.0 { &mut low } else { &mut high }.add(x);
        }
        for (a, b) in [(&low, &high), (&high, &low)] {
            let mut m = Sketch::new();
            m.merge(a);
            m.merge(b);
            m.canonicalize();
            let mut w = whole.clone();
            w.canonicalize();
            assert!(m == w);
        }
        let mut empty = Sketch::new();
        empty.merge(&Sketch::new());
        assert!(empty == Sketch::new() && empty.is_consistent());
    }

    #[test]
    fn constant_values_are_exact() {
        let mut s = Sketch::new();
        for _ in 0..1000 {
            s.add(12_345.678);
        }
        assert_eq!(s.at_rank(500), 12_345.678);
        assert_eq!(s.mean_var(), (12_345.678, 0.0));
        // Nearly equal values keep their small variance: 1e6 + k / 1000 for k in 0..1000.
        let mut t = Sketch::new();
        let v: Vec<f64> = (0..1000).map(|k| 1e6 + f64::from(k) * 1e-3).collect();
        for &x in &v {
            t.add(x);
        }
        let (_, exact) = crate::prob::estimate::mean_var(&v);
        assert!((t.mean_var().1 - exact).abs() <= 1e-9 * exact);
        // An overflowing total compares (unequal: it is NaN) instead of looping.
        let mut big = ExactSum::default();
        big.add(f64::MAX);
        big.add(f64::MAX);
        assert!(big.value().is_nan() && big != big.clone());
        assert!((s.top_sum(10) - 123_456.78).abs() < 1e-9);
    }

    #[test]
    fn counts_give_exact_ranks_and_means() {
        let mut c = Counts::new(5);
        for v in [0, 1, 1, 4, 9] {
            c.add(v);
        }
        assert_eq!(c.total(), 5);
        assert_eq!(c.at_rank(3), 1);
        assert_eq!(c.at_rank(5), 4);
        assert_eq!(c.mean(), 10.0 / 5.0);
    }
}

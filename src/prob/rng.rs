//! The trials' random generator: xoshiro256++ seeded through SplitMix64, the same numbers as
//! `rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64` (a test checks this).
//!
//! It is written out here because a trial seeds one generator per shock and the crate's seeding
//! passes the state through a byte buffer and a zero-seed check, which the processor cannot
//! forward from its stores: that stall was about a fifth of the time spent sampling shocks.

use std::convert::Infallible;

use rand::TryRng;

/// The SplitMix64 increment (the golden ratio in 64-bit fixed point).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64 finaliser after one increment: a bijective mix of 64 bits.
#[inline]
pub fn splitmix64(z: u64) -> u64 {
    let z = z.wrapping_add(GOLDEN);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Xoshiro256++ (Blackman and Vigna), a small fast generator with a 2^256 - 1 period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrialRng {
    s: [u64; 4],
}

impl TrialRng {
    /// The generator whose state is the first four outputs of SplitMix64 started at `seed`.
    /// SplitMix64's outputs are distinct, so the state is never all zero.
    #[inline]
    pub fn seed_from_u64(seed: u64) -> TrialRng {
        TrialRng {
            s: std::array::from_fn(|i| {
                splitmix64(seed.wrapping_add(GOLDEN.wrapping_mul(i as u64)))
            }),
        }
    }
}

impl TryRng for TrialRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        // The upper bits: the lowest have linear dependencies.
        self.try_next_u64().map(|x| (x >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let s = &mut self.s;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        Ok(out)
    }

    #[inline]
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        rand::rand_core::utils::fill_bytes_via_next_word(dst, || self.try_next_u64())
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn draws_what_rand_xoshiro_draws() {
        let seeds = [
            0,
            1,
            2,
            u64::MAX,
            GOLDEN,
            GOLDEN.wrapping_neg(),
            0x1234_5678_9abc_def0,
        ];
        for seed in seeds.into_iter().chain((0..200).map(|i| splitmix64(i) ^ i)) {
            let mut ours = TrialRng::seed_from_u64(seed);
            let mut theirs = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
            for k in 0..100 {
                assert_eq!(ours.next_u64(), theirs.next_u64(), "seed {seed}, draw {k}");
            }
            assert_eq!(ours.next_u32(), theirs.next_u32(), "seed {seed}");
            let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
            ours.fill_bytes(&mut a);
            theirs.fill_bytes(&mut b);
            assert_eq!(a, b, "seed {seed}");
        }
    }
}

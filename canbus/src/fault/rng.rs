//! A tiny seeded generator (xorshift64*), so fault schedules are reproducible from one number
//! without a dependency. Not for cryptography: it only decides which frames to disturb.

/// xorshift64* (Vigna 2016): 64-bit state, period 2^64 - 1, good enough for coin flips.
#[derive(Clone, Debug)]
pub(crate) struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// The state must be non-zero; a zero seed is mapped to a fixed odd constant.
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed } }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `per_million` / 1 000 000.
    pub(crate) fn chance(&mut self, per_million: u32) -> bool {
        self.next_u64() % 1_000_000 < u64::from(per_million)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_roughly_fair() {
        let mut a = XorShift64::new(42);
        let mut b = XorShift64::new(42);
        assert_eq!(a.next_u64(), b.next_u64());
        let hits = (0..100_000).filter(|_| a.chance(250_000)).count();
        assert!((23_000..27_000).contains(&hits), "{hits}");
        assert_ne!(XorShift64::new(0).next_u64(), 0);
    }
}

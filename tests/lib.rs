//! Shared helpers for the end-to-end tests.

/// A small seeded random number generator (xorshift64*), so a failing run can be repeated from
/// the seed it printed. Not for anything that needs real randomness.
#[derive(Debug, Clone)]
pub struct Xorshift(u64);

impl Xorshift {
    /// A generator from `seed`; any seed works, zero included.
    pub fn new(seed: u64) -> Self {
        // xorshift never leaves zero, so mix the seed into a non-zero state first.
        Xorshift((seed ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// A seed from the clock, for runs that should differ from each other.
    pub fn seed_from_clock() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `range` (which must not be empty).
    pub fn in_range(&mut self, range: std::ops::Range<u64>) -> u64 {
        assert!(!range.is_empty(), "empty range {range:?}");
        range.start + self.next_u64() % (range.end - range.start)
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.in_range(0..denominator) < numerator
    }
}

/// How the crash-test writer (`gridsync-store-writer`) records its per-record counter in a
/// record's `category`: every write sets it, so the store shows which write it last kept.
pub fn counter_category(n: u64) -> String {
    format!("n={n}")
}

/// The counter written by [`counter_category`], or `None` for any other category.
pub fn parse_counter_category(category: &str) -> Option<u64> {
    category.strip_prefix("n=")?.parse().ok()
}

/// The account the crash-test writer opens its store for.
pub const WRITER_ACCOUNT: &str = "crash-test";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_category_parses_back_to_its_counter() {
        assert_eq!(parse_counter_category(&counter_category(42)), Some(42));
        assert_eq!(parse_counter_category("drainage"), None);
    }

    #[test]
    fn numbers_in_a_range_stay_in_it() {
        let mut rng = Xorshift::new(0);
        for _ in 0..1000 {
            assert!((5..300).contains(&rng.in_range(5..300)));
        }
    }
}

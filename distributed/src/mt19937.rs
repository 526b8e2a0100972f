//! The Mersenne Twister (MT19937) as PyTorch's CPU generator runs it
//! (`at::mt19937` seeded by `torch.Generator().manual_seed(seed)`), and
//! `torch.randperm` on it, so that a [`DistributedSampler`]
//! (crate::DistributedSampler) shuffles exactly as PyTorch's does for the
//! same seed and epoch.

const N: usize = 624;
const M: usize = 397;

/// PyTorch's CPU random engine.
pub(crate) struct Mt19937 {
    state: [u32; N],
    next: usize,
}

impl Mt19937 {
    /// The engine `manual_seed(seed)` makes (the seed's low 32 bits, as
    /// `at::mt19937` keeps them).
    pub(crate) fn new(seed: u64) -> Mt19937 {
        let mut state = [0u32; N];
        state[0] = seed as u32;
        for j in 1..N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(j as u32);
        }
        Mt19937 { state, next: N }
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for i in 0..N {
            let y = (self.state[i] & UPPER) | (self.state[(i + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.state[i] = self.state[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.next = 0;
    }

    /// The next 32-bit output (`generator->random()`).
    pub(crate) fn next_u32(&mut self) -> u32 {
        if self.next >= N {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// `torch.randperm(n, generator=torch.Generator().manual_seed(seed))`:
/// PyTorch's CPU algorithm (swap `i` with `i + random() % (n - i)`).
pub(crate) fn randperm(n: usize, seed: u64) -> Vec<usize> {
    let mut g = Mt19937::new(seed);
    let mut v: Vec<usize> = (0..n).collect();
    for i in 0..n.saturating_sub(1) {
        let z = g.next_u32() as usize % (n - i);
        v.swap(i, i + z);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_mt19937() {
        // std::mt19937 with the default seed 5489: its 10000th output is
        // 4123659995 (the C++ standard's check value).
        let mut g = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = g.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn randperm_is_pytorchs() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sampler_cases.json");
        let cases: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let perms = cases["randperm"].as_array().unwrap();
        assert!(perms.len() >= 10);
        for c in perms {
            let (n, seed) = (c["n"].as_u64().unwrap(), c["seed"].as_u64().unwrap());
            let want: Vec<usize> = c["perm"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(randperm(n as usize, seed), want, "n {n} seed {seed}");
        }
    }
}

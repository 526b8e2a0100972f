//! Deterministic random sparse patterns for the sparse workloads, made
//! the same way, bit for bit, by `benches/pytorch/workloads.py`
//! (`splitmix64`, `power_law_graph`, `uniform_pattern` there, vectorized
//! with numpy).
//!
//! - The random stream is SplitMix64: output `i` (from 1) is
//!   `mix(seed + i * 0x9E3779B97F4A7C15)` (wrapping), turned into a
//!   uniform `u` in `[0, 1)` as `(x >> 11) * 2⁻⁵³`.
//! - A pattern is the first `edges` distinct `(row, col)` pairs of a
//!   stream of pairs, self-loops skipped: pair `k` draws its row from
//!   output `2k + 1` and its column from output `2k + 2`.
//! - Power-law (Chung-Lu): node `i` of `n` is drawn with probability
//!   proportional to `wᵢ = 1 / sqrt(i + 1)` — the first node whose running
//!   sum of weights (summed in order in f64) exceeds `u * total`. The
//!   expected degrees then follow a power law with exponent 3, the
//!   exponent of preferential attachment (Barabási–Albert), and the
//!   biggest hub of the 100,000-node graph holds about 3,000 edges.
//!   Square roots, divisions and in-order sums are correctly rounded in
//!   IEEE arithmetic, so numpy and Rust draw the same nodes.
//! - Uniform: node `floor(u * n)`.
//!
//! Values, where a workload needs random ones, are the next outputs of a
//! second stream (`seed + 1`) in compressed-row order, as f32.

use std::collections::HashSet;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 generator (Vigna), the same stream on both sides.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform double in `[0, 1)` from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// A sparse `rows x cols` pattern in compressed rows (columns increasing
/// within each row), with f32 values.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrPattern {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `[rows + 1]` row starts.
    pub crow: Vec<i64>,
    /// `[nnz]` column of each entry.
    pub col: Vec<i64>,
    /// `[nnz]` value of each entry.
    pub values: Vec<f32>,
}

impl CsrPattern {
    /// Number of specified entries.
    pub fn nnz(&self) -> usize {
        self.col.len()
    }

    /// Row `i` of every entry, in entry order.
    pub fn row_of_entries(&self) -> Vec<usize> {
        (0..self.rows)
            .flat_map(|i| std::iter::repeat_n(i, (self.crow[i + 1] - self.crow[i]) as usize))
            .collect()
    }
}

/// The first `edges` distinct non-loop pairs of the stream `seed`, nodes
/// drawn by `node(u)`, sorted by (row, col), values from stream `seed + 1`.
fn pattern(n: usize, edges: usize, seed: u64, node: impl Fn(f64) -> usize) -> CsrPattern {
    assert!(edges < n * (n - 1), "more edges than node pairs");
    let mut g = SplitMix64::new(seed);
    let mut seen = HashSet::with_capacity(edges * 2);
    let mut keys = Vec::with_capacity(edges);
    while keys.len() < edges {
        let (r, c) = (node(g.next_f64()), node(g.next_f64()));
        let key = (r * n + c) as u64;
        if r != c && seen.insert(key) {
            keys.push(key);
        }
    }
    keys.sort_unstable();
    let mut crow = vec![0i64; n + 1];
    let col = keys
        .iter()
        .map(|&k| {
            crow[k as usize / n + 1] += 1;
            (k as usize % n) as i64
        })
        .collect();
    for i in 0..n {
        crow[i + 1] += crow[i];
    }
    let mut gv = SplitMix64::new(seed.wrapping_add(1));
    let values = (0..edges).map(|_| gv.next_f64() as f32).collect();
    CsrPattern {
        rows: n,
        cols: n,
        crow,
        col,
        values,
    }
}

/// A Chung-Lu power-law directed graph with `n` nodes and `edges`
/// distinct edges (no self-loops) as an `n x n` CSR pattern.
pub fn power_law_graph(n: usize, edges: usize, seed: u64) -> CsrPattern {
    let mut cum = Vec::with_capacity(n);
    let mut total = 0.0f64;
    for i in 0..n {
        total += 1.0 / ((i + 1) as f64).sqrt();
        cum.push(total);
    }
    pattern(n, edges, seed, |u| {
        cum.partition_point(|&c| c <= u * total).min(n - 1)
    })
}

/// A uniformly random `n x n` pattern with `edges` distinct off-diagonal
/// entries.
pub fn uniform_pattern(n: usize, edges: usize, seed: u64) -> CsrPattern {
    pattern(n, edges, seed, |u| ((u * n as f64) as usize).min(n - 1))
}

/// GCN's normalized adjacency `D^-1/2 (A + I) D^-1/2` of a directed
/// pattern, `d` the row sums of `A + I` (out-degree plus one): entry
/// `(i, j)` of `A + I` holds `1 / sqrt(d_i d_j)`.
pub fn gcn_normalized(a: &CsrPattern) -> CsrPattern {
    let n = a.rows;
    let mut crow = vec![0i64; n + 1];
    let mut col = Vec::with_capacity(a.nnz() + n);
    for i in 0..n {
        let row = &a.col[a.crow[i] as usize..a.crow[i + 1] as usize];
        let at = row.partition_point(|&j| j < i as i64);
        col.extend_from_slice(&row[..at]);
        col.push(i as i64);
        col.extend_from_slice(&row[at..]);
        crow[i + 1] = col.len() as i64;
    }
    let deg: Vec<f64> = (0..n).map(|i| (crow[i + 1] - crow[i]) as f64).collect();
    let mut values = Vec::with_capacity(col.len());
    for i in 0..n {
        for &j in &col[crow[i] as usize..crow[i + 1] as usize] {
            values.push((1.0 / (deg[i] * deg[j as usize]).sqrt()) as f32);
        }
    }
    CsrPattern {
        rows: n,
        cols: n,
        crow,
        col,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_outputs() {
        // Vigna's splitmix64.c from seed 0.
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    /// (sum of (p + 1) col[p], sum of crow, sum of (p + 1) bits(values[p])),
    /// wrapping: what `benches/pytorch/workloads.py` gives for the same
    /// patterns (checked with numpy when these numbers were written).
    fn fingerprint(p: &CsrPattern) -> (u64, u64, u64) {
        let mut f = (0u64, 0u64, 0u64);
        for (k, (&c, &v)) in p.col.iter().zip(&p.values).enumerate() {
            f.0 = f.0.wrapping_add((k as u64 + 1).wrapping_mul(c as u64));
            f.2 =
                f.2.wrapping_add((k as u64 + 1).wrapping_mul(v.to_bits() as u64));
        }
        f.1 = p.crow.iter().sum::<i64>() as u64;
        f
    }

    #[test]
    fn patterns_match_the_pytorch_side() {
        assert_eq!(
            fingerprint(&power_law_graph(10_000, 100_000, 1)),
            (16932059301422, 662094760, 5264006068119463690)
        );
        assert_eq!(
            fingerprint(&uniform_pattern(2_000, 40_000, 5)),
            (800343940337, 39999701, 842262508949221284)
        );
        assert_eq!(
            fingerprint(&gcn_normalized(&power_law_graph(800, 8_000, 0))),
            (11388872259, 4509238, 40115844471862822)
        );
    }

    /// The workloads' full-size patterns (0.5 s under the README's
    /// `cargo test --release`).
    #[test]
    fn full_size_patterns_match_the_pytorch_side() {
        assert_eq!(
            fingerprint(&power_law_graph(100_000, 1_000_000, 0)),
            (16709970285475646, 66574621286, 9886799860392700553)
        );
        assert_eq!(
            fingerprint(&uniform_pattern(20_000, 400_000, 0)),
            (799951044725396, 4001651580, 10436710147116246107)
        );
        assert_eq!(
            fingerprint(&gcn_normalized(&power_law_graph(8_000, 80_000, 0))),
            (11429423965251, 456966315, 4010576458694391002)
        );
    }

    #[test]
    fn patterns_are_sorted_distinct_and_loop_free() {
        for p in [power_law_graph(500, 3000, 7), uniform_pattern(300, 2000, 3)] {
            assert_eq!(p.crow[0], 0);
            assert_eq!(*p.crow.last().unwrap() as usize, p.nnz());
            for i in 0..p.rows {
                let row = &p.col[p.crow[i] as usize..p.crow[i + 1] as usize];
                assert!(row.windows(2).all(|w| w[0] < w[1]));
                assert!(row.iter().all(|&j| j != i as i64));
            }
        }
    }

    #[test]
    fn power_law_degrees_are_skewed() {
        let p = power_law_graph(10_000, 100_000, 1);
        let deg = |i: usize| p.crow[i + 1] - p.crow[i];
        // Node 0 draws 1/sum(w) ≈ 1/199 of all endpoints: about 500 edges.
        assert!(deg(0) > 300, "hub degree {}", deg(0));
        assert!(deg(9_999) < 10);
    }

    #[test]
    fn gcn_normalization_adds_the_diagonal() {
        let a = uniform_pattern(50, 200, 0);
        let h = gcn_normalized(&a);
        assert_eq!(h.nnz(), 250);
        let rows = h.row_of_entries();
        for (p, &i) in rows.iter().enumerate() {
            if h.col[p] == i as i64 {
                let d = (h.crow[i + 1] - h.crow[i]) as f32;
                assert!((h.values[p] - 1.0 / d).abs() < 1e-6);
            }
        }
    }
}

//! The int8 kernels: `u8 × s8 → i32` GEMM on weights packed once, and the
//! requantization of its i32 sums to quint8.
//!
//! Two AVX2 paths, both exact:
//!
//! - activations all below 128 (what PyTorch's x86 default `reduce_range`
//!   produces): `vpmaddubsw` multiplies 32 `u8 × s8` pairs at once into
//!   i16 pair sums that cannot saturate (2 · 127 · 128 = 32512 < 32767),
//!   then `vpmaddwd` by ones widens them to i32;
//! - full-range activations: both operands widened to i16 and multiplied
//!   with `vpmaddwd`, since `vpmaddubsw` would saturate (211·71 + 171·107 =
//!   33278 overflows an i16).
//!
//! Results are exact integers, so every path — either AVX2 kernel or the
//! portable one, any thread count — gives the same bits; the path is
//! picked at run time and each is tested against the portable one.

use torchlet_tensor::{get_num_threads, parallel_split_mut, would_parallelize};

/// The multiple the reduction length is padded to (one AVX2 register of
/// u8, two of i16).
const KPAD: usize = 32;

/// Weights `[n, k]` (i8, row = output channel) packed for [`qgemm`]:
/// widened to i16, each row zero-padded to a multiple of 16, with the row
/// sums the zero-point corrections need.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedWeight {
    n: usize,
    k: usize,
    kp: usize,
    data: Vec<i16>,
    bytes: Vec<i8>,
    row_sums: Vec<i32>,
}

impl PackedWeight {
    /// Packs `w` (`n * k` values, row-major `[n, k]`).
    pub fn new(w: &[i8], n: usize, k: usize) -> PackedWeight {
        assert_eq!(w.len(), n * k, "weights must hold n * k values");
        let kp = k.div_ceil(KPAD) * KPAD;
        let mut data = vec![0i16; n * kp];
        let mut bytes = vec![0i8; n * kp];
        let mut row_sums = vec![0i32; n];
        for j in 0..n {
            for t in 0..k {
                let v = w[j * k + t];
                data[j * kp + t] = v as i16;
                bytes[j * kp + t] = v;
                row_sums[j] += v as i32;
            }
        }
        PackedWeight {
            n,
            k,
            kp,
            data,
            bytes,
            row_sums,
        }
    }

    /// Output channels.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Reduction length.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The weights back as i8 `[n, k]` (for saving).
    pub fn unpack(&self) -> Vec<i8> {
        (0..self.n)
            .flat_map(|j| {
                self.data[j * self.kp..j * self.kp + self.k]
                    .iter()
                    .map(|&v| v as i8)
            })
            .collect()
    }
}

/// `out[i, j] = Σ_t (a[i, t] - a_zp) * w[j, t]` for `a` `[m, k]` (u8,
/// row-major) and packed `w`; `out` is `[m, n]` i32 and overwritten.
pub fn qgemm(a: &[u8], m: usize, a_zp: i32, w: &PackedWeight, out: &mut [i32]) {
    let (n, k, kp) = (w.n, w.k, w.kp);
    assert_eq!(a.len(), m * k, "activations must hold m * k values");
    assert_eq!(out.len(), m * n, "the output must hold m * n values");
    let narrow = a.iter().all(|&v| v < 128);
    let (mut wide, mut bytes) = (Vec::new(), Vec::new());
    if narrow && has_avx2() {
        bytes = vec![0u8; m * kp];
        for i in 0..m {
            bytes[i * kp..i * kp + k].copy_from_slice(&a[i * k..(i + 1) * k]);
        }
    } else {
        wide = vec![0i16; m * kp];
        for i in 0..m {
            for t in 0..k {
                wide[i * kp + t] = a[i * k + t] as i16;
            }
        }
    }
    let work = m * n * k;
    let parts = if would_parallelize(work / 8) {
        (get_num_threads() * 4).min(m.div_ceil(2)).max(1)
    } else {
        1
    };
    // Row blocks of even length (the micro-kernel takes two rows).
    let rows_per = m.div_ceil(parts).div_ceil(2) * 2;
    let bounds: Vec<usize> = (0..=m.div_ceil(rows_per.max(1)))
        .map(|p| (p * rows_per).min(m) * n)
        .collect();
    parallel_split_mut(out, &bounds, work, |p, block| {
        let first = p * rows_per;
        let rows = block.len() / n.max(1);
        if bytes.is_empty() {
            gemm_rows(&wide[first * kp..(first + rows) * kp], rows, w, block);
        } else {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `bytes` is only filled when the CPU has AVX2.
            unsafe {
                avx2::gemm_rows_u8(&bytes[first * kp..(first + rows) * kp], rows, w, block)
            };
        }
        for row in block.chunks_exact_mut(n.max(1)) {
            for (o, &s) in row.iter_mut().zip(&w.row_sums) {
                *o -= a_zp * s;
            }
        }
    })
    .expect("row bounds cut the output");
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Raw `Σ a·w` for `rows` widened activation rows into `out` `[rows, n]`.
fn gemm_rows(a: &[i16], rows: usize, w: &PackedWeight, out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2; slices are sized by the caller.
        unsafe { avx2::gemm_rows(a, rows, w, out) };
        return;
    }
    gemm_rows_portable(a, rows, w, out)
}

/// The portable kernel (and the reference the AVX2 one is tested with).
pub(crate) fn gemm_rows_portable(a: &[i16], rows: usize, w: &PackedWeight, out: &mut [i32]) {
    let (n, kp) = (w.n, w.kp);
    for i in 0..rows {
        let ar = &a[i * kp..(i + 1) * kp];
        for j in 0..n {
            let wr = &w.data[j * kp..(j + 1) * kp];
            out[i * n + j] = ar.iter().zip(wr).map(|(&x, &y)| x as i32 * y as i32).sum();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::PackedWeight;

    /// Horizontal sum of eight i32 lanes.
    #[target_feature(enable = "avx2")]
    unsafe fn hsum(v: __m256i) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }

    /// [`gemm_rows`] for activations below 128, 32 at a time as bytes:
    /// `vpmaddubsw` (pair sums fit an i16) then `vpmaddwd` by ones.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn gemm_rows_u8(a: &[u8], rows: usize, w: &PackedWeight, out: &mut [i32]) {
        let (n, kp) = (w.n, w.kp);
        let wp = w.bytes.as_ptr();
        let ap = a.as_ptr();
        let ones = _mm256_set1_epi16(1);
        let jb = (128 * 1024 / kp).clamp(4, 512) / 4 * 4;
        let mut j0 = 0;
        while j0 < n {
            let j1 = (j0 + jb).min(n);
            let mut i = 0;
            while i < rows {
                let two = i + 1 < rows;
                let a0 = ap.add(i * kp);
                let a1 = if two { ap.add((i + 1) * kp) } else { a0 };
                let mut j = j0;
                while j < j1 {
                    let cols = (j1 - j).min(4);
                    let mut acc = [_mm256_setzero_si256(); 8];
                    let w_rows = [
                        wp.add(j * kp),
                        wp.add((j + 1.min(cols - 1)) * kp),
                        wp.add((j + 2.min(cols - 1)) * kp),
                        wp.add((j + 3.min(cols - 1)) * kp),
                    ];
                    let mut t = 0;
                    while t < kp {
                        let x0 = _mm256_loadu_si256(a0.add(t) as *const __m256i);
                        let x1 = _mm256_loadu_si256(a1.add(t) as *const __m256i);
                        for (c, wr) in w_rows.iter().enumerate() {
                            let y = _mm256_loadu_si256(wr.add(t) as *const __m256i);
                            let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(x0, y), ones);
                            let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(x1, y), ones);
                            acc[c] = _mm256_add_epi32(acc[c], p0);
                            acc[4 + c] = _mm256_add_epi32(acc[4 + c], p1);
                        }
                        t += super::KPAD;
                    }
                    for c in 0..cols {
                        out[i * n + j + c] = hsum(acc[c]);
                        if two {
                            out[(i + 1) * n + j + c] = hsum(acc[4 + c]);
                        }
                    }
                    j += 4;
                }
                i += 2;
            }
            j0 = j1;
        }
    }

    /// Two activation rows against four weight rows at a time (eight i32
    /// accumulators), `vpmaddwd` over the padded reduction.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn gemm_rows(a: &[i16], rows: usize, w: &PackedWeight, out: &mut [i32]) {
        let (n, kp) = (w.n, w.kp);
        let wp = w.data.as_ptr();
        let ap = a.as_ptr();
        // Weight blocks that stay in L2 while every row pair passes over them.
        let jb = (128 * 1024 / (kp * 2)).clamp(4, 256) / 4 * 4;
        let mut j0 = 0;
        while j0 < n {
            let j1 = (j0 + jb).min(n);
            let mut i = 0;
            while i < rows {
                let two = i + 1 < rows;
                let a0 = ap.add(i * kp);
                let a1 = if two { ap.add((i + 1) * kp) } else { a0 };
                let mut j = j0;
                while j < j1 {
                    let cols = (j1 - j).min(4);
                    let mut acc = [_mm256_setzero_si256(); 8];
                    let w_rows = [
                        wp.add(j * kp),
                        wp.add((j + 1.min(cols - 1)) * kp),
                        wp.add((j + 2.min(cols - 1)) * kp),
                        wp.add((j + 3.min(cols - 1)) * kp),
                    ];
                    let mut t = 0;
                    while t < kp {
                        let x0 = _mm256_loadu_si256(a0.add(t) as *const __m256i);
                        let x1 = _mm256_loadu_si256(a1.add(t) as *const __m256i);
                        for (c, wr) in w_rows.iter().enumerate() {
                            let y = _mm256_loadu_si256(wr.add(t) as *const __m256i);
                            acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(x0, y));
                            acc[4 + c] = _mm256_add_epi32(acc[4 + c], _mm256_madd_epi16(x1, y));
                        }
                        t += 16;
                    }
                    for c in 0..cols {
                        out[i * n + j + c] = hsum(acc[c]);
                        if two {
                            out[(i + 1) * n + j + c] = hsum(acc[4 + c]);
                        }
                    }
                    j += 4;
                }
                i += 2;
            }
            j0 = j1;
        }
    }
}

/// Requantizes i32 sums `[m, n]` to quint8: `real = acc * (a_scale *
/// w_scale[j]) + bias[j]`, then `q = round_half_even(real / out_scale)`
/// plus `out_zp`, clamped to `[0, 255]` (the lower bound raised to
/// `out_zp` when `relu`, a fused ReLU), as fbgemm's output stage does.
#[allow(clippy::too_many_arguments)]
pub fn requantize(
    acc: &[i32],
    n: usize,
    a_scale: f32,
    w_scales: &[f32],
    bias: Option<&[f32]>,
    out_scale: f32,
    out_zp: i64,
    relu: bool,
) -> Vec<u8> {
    let mult: Vec<f32> = (0..n)
        .map(|j| a_scale * w_scales[if w_scales.len() == 1 { 0 } else { j }])
        .collect();
    let lo = if relu { out_zp.max(0) } else { 0 };
    acc.chunks_exact(n.max(1))
        .flat_map(|row| {
            row.iter().enumerate().map(|(j, &v)| {
                let real = v as f32 * mult[j] + bias.map_or(0.0, |b| b[j]);
                let q = (real / out_scale).round_ties_even() as i64 + out_zp;
                q.clamp(lo, 255) as u8
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn qgemm_matches_a_scalar_reference_with_extreme_values() {
        let mut s = 7u64;
        for (m, n, k) in [(1, 1, 1), (3, 5, 17), (8, 9, 33), (5, 4, 64), (2, 300, 40)] {
            let mut a: Vec<u8> = (0..m * k).map(|_| lcg(&mut s) as u8).collect();
            let mut w: Vec<i8> = (0..n * k).map(|_| lcg(&mut s) as i8).collect();
            // The pair that saturates vpmaddubsw: 211·71 + 171·107.
            if k >= 2 {
                a[0] = 211;
                a[1] = 171;
                w[0] = 71;
                w[1] = 107;
            }
            let zp = 37;
            let packed = PackedWeight::new(&w, n, k);
            let mut out = vec![0i32; m * n];
            qgemm(&a, m, zp, &packed, &mut out);
            for i in 0..m {
                for j in 0..n {
                    let want: i32 = (0..k)
                        .map(|t| (a[i * k + t] as i32 - zp) * w[j * k + t] as i32)
                        .sum();
                    assert_eq!(out[i * n + j], want, "m={m} n={n} k={k} at ({i}, {j})");
                }
            }
            assert_eq!(packed.unpack(), w);
        }
    }

    #[test]
    fn the_portable_and_avx2_kernels_agree() {
        let mut s = 11u64;
        let (m, n, k) = (7, 13, 45);
        let w: Vec<i8> = (0..n * k).map(|_| lcg(&mut s) as i8).collect();
        let packed = PackedWeight::new(&w, n, k);
        let a: Vec<i16> = (0..m * packed.kp)
            .map(|t| {
                if t % packed.kp < k {
                    (lcg(&mut s) as u8) as i16
                } else {
                    0
                }
            })
            .collect();
        let mut want = vec![0i32; m * n];
        gemm_rows_portable(&a, m, &packed, &mut want);
        let mut got = vec![0i32; m * n];
        gemm_rows(&a, m, &packed, &mut got);
        assert_eq!(got, want);
    }

    #[test]
    fn the_byte_kernel_agrees_for_activations_below_128() {
        let mut s = 13u64;
        for (m, n, k) in [(1, 1, 1), (5, 9, 70), (8, 600, 33)] {
            let a: Vec<u8> = (0..m * k).map(|_| (lcg(&mut s) % 128) as u8).collect();
            let mut w: Vec<i8> = (0..n * k).map(|_| lcg(&mut s) as i8).collect();
            w[0] = -128; // the extreme pair: 127 * -128 twice fits an i16
            let packed = PackedWeight::new(&w, n, k);
            let mut out = vec![0i32; m * n];
            qgemm(&a, m, 5, &packed, &mut out);
            for i in 0..m {
                for j in 0..n {
                    let want: i32 = (0..k)
                        .map(|t| (a[i * k + t] as i32 - 5) * w[j * k + t] as i32)
                        .sum();
                    assert_eq!(out[i * n + j], want, "m={m} n={n} k={k} at ({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn requantize_rounds_half_to_even_and_clamps() {
        // 5 * 0.5 = 2.5 -> 2; -3 * 0.5 + 0.0 = -1.5 -> -2 + 10 = 8.
        let q = requantize(&[5, -3, 1000], 3, 0.5, &[1.0], None, 1.0, 10, false);
        assert_eq!(q, [12, 8, 255]);
        let q = requantize(&[-3], 1, 0.5, &[1.0], None, 1.0, 10, true);
        assert_eq!(q, [10]);
    }
}

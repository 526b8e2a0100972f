//! The int8 kernels: `u8 × s8 → i32` GEMMs on weights packed once, with
//! the output stage (requantization to quint8, or fbgemm's float output
//! for dynamic quantization) fused into the tile loop; the elementwise
//! quantize / dequantize / requantize / max-pool loops; the LSTM cell's
//! float functions (`gates`).
//!
//! A tile is up to 6 rows × 16 columns of i32 sums, 12 AVX2 registers;
//! on AVX512-VNNI CPUs a Linear tile is up to 8 rows × 48 columns in 24
//! zmm registers (`avx2::zmm`).
//! One side of the product is broadcast 4 (or 2) `k` at a time, the other
//! is a packed panel of 16 lanes with those `k` adjacent:
//!
//! - Linear (`linear`): activation rows are broadcast, weight panels
//!   (16 output channels, packed once) are the vector side; the output is
//!   `[m, n]` row-major.
//! - Conv2d (`conv::conv2d`): weight rows are broadcast, panels of 16
//!   output pixels (an implicit im2col, packed per call) are the vector
//!   side, so each tile row is 16 pixels of one NCHW output channel.
//!
//! Two exact product paths, on every x86 kind (`Isa`):
//!
//! - bytes, four `u8 × s8` products summed into each i32 lane:
//!   - VNNI CPUs: one `vpdpbusd` (AVX-VNNI on 256-bit registers, or
//!     AVX512-VNNI on 512-bit ones), exact for every byte;
//!   - AVX2 only: `vpmaddubsw` multiplies 32 pairs into i16 pair sums,
//!     `vpmaddwd` by ones widens them. A pair sum cannot saturate while
//!     activations are below 128 (2 · 127 · 128 = 32512 < 32767), what
//!     PyTorch's x86 `reduce_range` calibrates for; the few values above
//!     127 (inputs past the calibrated range, 0.01% in LeNet) are clipped
//!     to 127 and their excess `(a - 127) · w` added to the tile's sums
//!     before its output stage.
//!
//!   The activation zero point comes out with the weight row sums
//!   (`Σ (a - z) w = Σ a w - z Σ w`). The 256-bit tiles are generic over
//!   the product (`avx2::dot`), so AVX-VNNI runs the same code as
//!   `Isa::Avx2Exact`, an exact AVX2 product the tests run everywhere;
//!   the 512-bit tiles (`avx2::zmm`) are their own code, tested where the
//!   CPU has AVX512-VNNI;
//! - i16, when weights have zero points, or on AVX2 when values above
//!   127 are common (full-range activations, where 211·71 + 171·107 =
//!   33278 would saturate): both operands widened to i16 with their zero
//!   points subtracted, multiplied with `vpmaddwd`.
//!
//! Sums are exact integers and every output element is computed by one
//! thread with one formula, so results never depend on the path, the
//! tile shape or the thread count; the portable kernels are the
//! reference every AVX2 path is tested against.

use std::cell::RefCell;

use torchlet_tensor::parallel_split_mut;

#[cfg(target_arch = "x86_64")]
mod avx2;
pub(crate) mod conv;
mod elementwise;
pub(crate) mod gates;
mod linear;
mod pack;
mod portable;
#[cfg(test)]
mod tests;

pub(crate) use elementwise::{
    count_above_127, dequantize_into, max_pool2d_into, min_max, quantize_into, QuantOut,
};
pub(crate) use linear::linear;
pub use pack::PackedWeight;

/// Whether the CPU runs the 512-bit VNNI tiles (and their AVX-512 loads
/// and extracts).
#[cfg(target_arch = "x86_64")]
fn has_avx512_vnni() -> bool {
    use std::is_x86_feature_detected as has;
    has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni")
}

/// Columns of a tile (two AVX2 registers of i32).
const NR: usize = 16;
/// The most rows of a tile (12 accumulators, plus the operands, fill the
/// 16 AVX2 registers).
const MR: usize = 6;
/// `k` per broadcast on the byte path (4 bytes); the i16 path takes 2.
const QUAD: usize = 4;

/// Which kernels run, picked at run time (`detect`); tests run every
/// kind the CPU can (`all`). The x86 kinds share the AVX2 tiles (but
/// AVX512-VNNI, whose tiles are 512-bit) and differ in the byte product
/// `u8 · s8` summed four at a time:
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// Scalar Rust, any CPU.
    Portable,
    /// AVX2 (and FMA, for the LSTM cell's `expf`): `vpmaddubsw` +
    /// `vpmaddwd`, whose i16 pair sums need activations below 128.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX2 with an exact product (bytes widened to i16, then
    /// `vpmaddwd`): slower than `Avx2`, only picked by name; it runs
    /// AVX-VNNI's code (no clipping, full-range activations) on every
    /// AVX2 CPU so that the tests cover it.
    #[cfg(target_arch = "x86_64")]
    Avx2Exact,
    /// AVX-VNNI's `vpdpbusd` (VEX, 256-bit): Alder Lake, Sapphire Rapids
    /// and later, Zen 5.
    #[cfg(target_arch = "x86_64")]
    AvxVnni,
    /// AVX512-VNNI's `vpdpbusd` on 512-bit registers (AVX512-F/BW/VL):
    /// Cascade Lake, Ice Lake, Sapphire Rapids, Zen 4 and 5. Preferred to
    /// `AvxVnni` where both run.
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
}

impl Isa {
    /// The kind the kernels use: the best this CPU runs, or the one
    /// `TORCHLET_INT8_KERNELS` names (`portable`, `avx2`, `avx2-exact`,
    /// `avx-vnni`, `avx512-vnni`: to compare or test them on one machine)
    /// when the CPU runs it. Read once.
    pub(crate) fn detect() -> Isa {
        static CHOSEN: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let best = Isa::best();
            let Ok(name) = std::env::var("TORCHLET_INT8_KERNELS") else {
                return best;
            };
            match Isa::named(&name, best) {
                Ok(isa) => isa,
                Err(why) => {
                    eprintln!(
                        "torchlet: TORCHLET_INT8_KERNELS={name:?} ignored: {why}; using {best:?}"
                    );
                    best
                }
            }
        })
    }

    /// The best kind this CPU runs.
    fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                // 512-bit products first: twice the bytes per instruction.
                if has_avx512_vnni() {
                    return Isa::Avx512Vnni;
                }
                if has!("avxvnni") {
                    return Isa::AvxVnni;
                }
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// The kind `name` names, if a CPU whose best kind is `best` runs it.
    fn named(name: &str, best: Isa) -> Result<Isa, String> {
        let isa = match name.trim().to_ascii_lowercase().as_str() {
            "portable" => Isa::Portable,
            #[cfg(target_arch = "x86_64")]
            "avx2" => Isa::Avx2,
            #[cfg(target_arch = "x86_64")]
            "avx2-exact" => Isa::Avx2Exact,
            #[cfg(target_arch = "x86_64")]
            "avx-vnni" => Isa::AvxVnni,
            #[cfg(target_arch = "x86_64")]
            "avx512-vnni" => Isa::Avx512Vnni,
            _ => return Err("not one of portable, avx2, avx2-exact, avx-vnni, avx512-vnni".into()),
        };
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            let runs = match isa {
                Isa::Portable => true,
                Isa::AvxVnni => best.avx2() && has!("avxvnni"),
                Isa::Avx512Vnni => best.avx2() && has_avx512_vnni(),
                _ => best.avx2(),
            };
            if !runs {
                return Err(format!("this CPU does not run {isa:?}"));
            }
        }
        let _ = best;
        Ok(isa)
    }

    /// Every kind this CPU runs (for tests).
    #[cfg(test)]
    pub(crate) fn all() -> Vec<Isa> {
        let mut v = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        if Isa::best() != Isa::Portable {
            v.extend([Isa::Avx2, Isa::Avx2Exact]);
            // Both VNNI forms where the CPU has both (Zen 5, Sapphire Rapids).
            for name in ["avx-vnni", "avx512-vnni"] {
                if let Ok(isa) = Isa::named(name, Isa::best()) {
                    v.push(isa);
                }
            }
        }
        v
    }

    /// Whether the AVX2 (and FMA) kernels run: every kind but `Portable`.
    pub(crate) fn avx2(self) -> bool {
        self != Isa::Portable
    }

    /// Whether the byte product is exact for every `u8` (no clipping of
    /// activations above 127).
    pub(crate) fn exact_bytes(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if matches!(self, Isa::Avx2Exact | Isa::AvxVnni | Isa::Avx512Vnni) {
            return true;
        }
        false
    }
}

/// What becomes of a tile's i32 sums `acc` (the zero points already
/// taken out), for output channel `c`.
#[derive(Debug)]
pub(crate) enum Epilogue<'a> {
    /// quint8, fbgemm's requantization (PyTorch's x86 engine), in f32:
    /// `q = round_half_even((acc + bias[c] / mult[c]) * (mult[c] / scale))`,
    /// plus the zero point, clamped to `[lo, 255]` (`lo` = the zero point
    /// under a fused ReLU, else 0). The two quotients are per channel, so
    /// the output loop only adds and multiplies.
    Requant {
        /// `[m, n]` (Linear) or `[N, n, OH, OW]` (Conv2d).
        out: &'a mut [u8],
        /// `a_scale * w_scale[c]`.
        mult: &'a [f32],
        /// The float bias (empty without one).
        bias: &'a [f32],
        /// The output scale.
        scale: f32,
        /// The output zero point.
        zero_point: i32,
        /// A fused ReLU.
        relu: bool,
    },
    /// f32 (dynamic quantization): `acc * a_scale * w_scale[c] + bias[c]`,
    /// multiplied in that order.
    Float {
        /// `[m, n]`.
        out: &'a mut [f32],
        /// The activations' scale.
        a_scale: f32,
        /// One weight scale per channel (or one for all).
        w_scale: &'a [f32],
        /// The float bias (empty without one).
        bias: &'a [f32],
    },
    /// The sums themselves.
    Raw {
        /// `[m, n]`.
        out: &'a mut [i32],
    },
}

impl Epilogue<'_> {
    /// The output buffer's length.
    fn len(&self) -> usize {
        match self {
            Epilogue::Requant { out, .. } => out.len(),
            Epilogue::Float { out, .. } => out.len(),
            Epilogue::Raw { out } => out.len(),
        }
    }

    /// The shareable form the tile loops write through, with per-channel
    /// constants and `corr` (added to every sum of a channel) padded to
    /// a multiple of 16 (whole vectors): borrowed when they already are
    /// (see [`padded`]), copied into `pad` otherwise.
    fn sink<'s>(&'s mut self, n: usize, corr: &'s [i32], pad: &'s mut Padded) -> Sink<'s> {
        let n16 = n.div_ceil(NR) * NR;
        // Borrowed constants (padded below if short), or the quotients
        // made here.
        let (kind, c1, c2, made): (_, &[f32], &[f32], _) = match self {
            Epilogue::Requant {
                out,
                mult,
                bias,
                scale,
                zero_point,
                relu,
            } => {
                let kind = SinkKind::U8 {
                    ptr: out.as_mut_ptr(),
                    zero_point: *zero_point,
                    lo: if *relu { (*zero_point).max(0) } else { 0 },
                };
                let at = |v: &[f32], c: usize| if v.len() == 1 { v[0] } else { v[c] };
                let multiplier: Vec<f32> = (0..n).map(|c| at(mult, c) / *scale).collect();
                let bias_q: Vec<f32> = match bias.is_empty() {
                    true => Vec::new(),
                    false => (0..n).map(|c| at(bias, c) / at(mult, c)).collect(),
                };
                let made = Some((padded(&multiplier, n), padded(&bias_q, n)));
                (kind, &[][..], &[][..], made)
            }
            Epilogue::Float {
                out,
                a_scale,
                w_scale,
                bias,
            } => {
                let kind = SinkKind::F32 {
                    ptr: out.as_mut_ptr(),
                    a_scale: *a_scale,
                };
                (kind, w_scale, bias, None)
            }
            Epilogue::Raw { out } => {
                let kind = SinkKind::I32 {
                    ptr: out.as_mut_ptr(),
                };
                (kind, &[0.0][..], &[0.0][..], None)
            }
        };
        let fit = |v: &'s [f32], dst: &'s mut Vec<f32>| -> &'s [f32] {
            if v.len() >= n16 {
                return v;
            }
            *dst = padded(v, n);
            dst
        };
        let corr = if corr.len() >= n16 {
            corr
        } else {
            pad.corr = (0..n16)
                .map(|c| corr.get(c).copied().unwrap_or(0))
                .collect();
            &pad.corr
        };
        let (c1, c2) = match made {
            Some((c1, c2)) => {
                (pad.c1, pad.c2) = (c1, c2);
                (&pad.c1[..], &pad.c2[..])
            }
            None => (fit(c1, &mut pad.c1), fit(c2, &mut pad.c2)),
        };
        Sink { kind, c1, c2, corr }
    }
}

/// Per-channel constants as the tile loops read them: one value per
/// channel (or one for all, or none for zeros), padded with zeros to a
/// multiple of 16 channels.
pub(crate) fn padded(v: &[f32], n: usize) -> Vec<f32> {
    let n16 = n.div_ceil(NR) * NR;
    (0..n16)
        .map(|c| match v.len() {
            1 => v[0],
            _ if c < n => v.get(c).copied().unwrap_or(0.0),
            _ => 0.0,
        })
        .collect()
}

/// Storage for a [`Sink`]'s padded constants.
#[derive(Default)]
struct Padded {
    c1: Vec<f32>,
    c2: Vec<f32>,
    corr: Vec<i32>,
}

/// An [`Epilogue`] as the tile loops use it: raw output pointers (tiles
/// of different threads write disjoint elements) and padded constants.
#[derive(Clone, Copy)]
struct Sink<'a> {
    kind: SinkKind,
    /// Per channel: the multiplier `mult / scale` (quint8) or `w_scale`
    /// (f32).
    c1: &'a [f32],
    /// Per channel: `bias / mult` (quint8) or `bias` (f32).
    c2: &'a [f32],
    /// Added to each sum, per channel.
    corr: &'a [i32],
}

#[derive(Clone, Copy)]
enum SinkKind {
    U8 {
        ptr: *mut u8,
        zero_point: i32,
        lo: i32,
    },
    F32 {
        ptr: *mut f32,
        a_scale: f32,
    },
    I32 {
        ptr: *mut i32,
    },
}

// SAFETY: the pointers come from one `&mut` output; the drivers give each
// output element to exactly one tile, so threads never write the same one.
unsafe impl Send for Sink<'_> {}
unsafe impl Sync for Sink<'_> {}

/// Where a tile's sums go: `rows × cols` outputs, row `i` column `j` at
/// `dst + i * stride + j`; channel `ch + i` when `per_row` (Conv2d), else
/// `ch + j` (Linear).
#[derive(Clone, Copy, Debug)]
struct TileAt {
    rows: usize,
    cols: usize,
    dst: usize,
    stride: usize,
    ch: usize,
    per_row: bool,
}

/// fbgemm's requantization of one sum (see [`Epilogue::Requant`]) from
/// `mult = a_scale * w_scale`, the bias and the output scale.
#[cfg(test)]
fn requant_one(acc: i32, mult: f32, bias: f32, scale: f32, zero_point: i32, lo: i32) -> u8 {
    requant_q(acc, mult / scale, bias / mult, zero_point, lo)
}

/// [`requant_one`] with its per-channel quotients done: `multiplier =
/// mult / scale`, `bias_q = bias / mult` (the scalar form of the AVX2
/// one). Out-of-range and infinite values clamp, NaN counts as 0.
#[inline]
fn requant_q(acc: i32, multiplier: f32, bias_q: f32, zero_point: i32, lo: i32) -> u8 {
    let q = ((acc as f32 + bias_q) * multiplier).round_ties_even();
    let q = if q.is_nan() { 0.0 } else { q };
    let q = q.clamp((lo - zero_point) as f32, (255 - zero_point) as f32);
    (q as i32 + zero_point) as u8
}

impl Sink<'_> {
    /// This quint8 sink writing to `ptr` instead.
    fn with_bytes(&self, ptr: *mut u8) -> Sink<'_> {
        let SinkKind::U8 { zero_point, lo, .. } = self.kind else {
            unreachable!("only quint8 outputs are scattered");
        };
        Sink {
            kind: SinkKind::U8 {
                ptr,
                zero_point,
                lo,
            },
            ..*self
        }
    }

    /// Writes output `(i, j)` of a tile from its sum (the portable path
    /// and partial tiles).
    #[inline]
    fn put(&self, at: &TileAt, i: usize, j: usize, acc: i32) {
        let c = at.ch + if at.per_row { i } else { j };
        let v = acc.wrapping_add(self.corr[c]);
        let dst = at.dst + i * at.stride + j;
        // SAFETY: the drivers keep `dst` inside the output (see `Sink`).
        unsafe {
            match self.kind {
                SinkKind::U8 {
                    ptr,
                    zero_point,
                    lo,
                } => *ptr.add(dst) = requant_q(v, self.c1[c], self.c2[c], zero_point, lo),
                SinkKind::F32 { ptr, a_scale } => {
                    *ptr.add(dst) = v as f32 * a_scale * self.c1[c] + self.c2[c]
                }
                SinkKind::I32 { ptr } => *ptr.add(dst) = v,
            }
        }
    }
}

/// Runs `f(0..parts)` on the thread team when `work` (multiply-adds / 8,
/// or elements) is large enough, in order on this thread otherwise.
pub(crate) fn par_for(parts: usize, work: usize, f: impl Fn(usize) + Sync) {
    // parallel_split_mut hands out pieces of a slice: one byte per slot,
    // a slot runs a group of parts when there are many.
    const MAX: usize = 256;
    let group = parts.div_ceil(MAX).max(1);
    let slots = parts.div_ceil(group);
    let mut bytes = [0u8; MAX];
    let mut bounds = [0usize; MAX + 1];
    for (s, b) in bounds.iter_mut().enumerate().take(slots + 1) {
        *b = s;
    }
    parallel_split_mut(&mut bytes[..slots], &bounds[..=slots], work, |s, _| {
        (s * group..((s + 1) * group).min(parts)).for_each(&f)
    })
    .expect("one piece per slot");
}

/// Splits `0..len` into at most `parts` ranges of whole `align`-long
/// pieces (the last piece shorter), as equal as possible: the number of
/// ranges and range `p`.
pub(crate) fn split(
    len: usize,
    parts: usize,
    align: usize,
) -> (usize, impl Fn(usize) -> std::ops::Range<usize>) {
    let pieces = len.div_ceil(align.max(1));
    let parts = parts.clamp(1, pieces.max(1));
    let range = move |p: usize| {
        let at = |q: usize| (q * pieces / parts * align).min(len);
        at(p)..at(p + 1)
    };
    (parts, range)
}

thread_local! {
    /// Per-thread scratch (padded inputs, panels, row offsets), kept
    /// between calls.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with this thread's scratch grown to `bytes` bytes and `words`
/// u32 (fresh ones if they are in use further up the stack).
fn with_scratch<R>(bytes: usize, words: usize, f: impl FnOnce(&mut [u8], &mut [u32]) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut v) => {
            let (b, w) = &mut *v;
            if b.len() < bytes {
                b.resize(bytes, 0);
            }
            if w.len() < words {
                w.resize(words, 0);
            }
            f(&mut b[..bytes], &mut w[..words])
        }
        Err(_) => f(&mut vec![0u8; bytes], &mut vec![0u32; words]),
    })
}

/// The int8 kernels this process runs, as `TORCHLET_INT8_KERNELS` names
/// them (`portable`, `avx2`, `avx2-exact`, `avx-vnni`, `avx512-vnni`).
pub fn kernel_name() -> &'static str {
    match Isa::detect() {
        Isa::Portable => "portable",
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => "avx2",
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Exact => "avx2-exact",
        #[cfg(target_arch = "x86_64")]
        Isa::AvxVnni => "avx-vnni",
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => "avx512-vnni",
    }
}

/// `out[i, j] = Σ_t (a[i, t] - a_zp) * w[j, t]` for `a` `[m, k]` (u8,
/// row-major) and packed `w`; `out` is `[m, n]` i32 and overwritten.
pub fn qgemm(a: &[u8], m: usize, a_zp: i32, w: &PackedWeight, out: &mut [i32]) {
    assert_eq!(a.len(), m * w.k(), "activations must hold m * k values");
    assert_eq!(out.len(), m * w.n(), "the output must hold m * n values");
    linear(Isa::detect(), a, m, a_zp, w, Epilogue::Raw { out });
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
    let mut out = vec![0u8; acc.len()];
    let mult: Vec<f32> = (0..n)
        .map(|j| a_scale * w_scales[if w_scales.len() == 1 { 0 } else { j }])
        .collect();
    let epi = Epilogue::Requant {
        out: &mut out,
        mult: &mult,
        bias: bias.unwrap_or(&[]),
        scale: out_scale,
        zero_point: out_zp as i32,
        relu,
    };
    elementwise::requantize_rows(Isa::detect(), acc, n, epi);
    out
}

//! [`PackedWeight`]: a qint8 weight `[n, k]` laid out once for both GEMM
//! orientations and both product paths (see the module docs of
//! [`kernels`](super)).

use std::sync::OnceLock;

use super::{NR, QUAD};

/// Weights `[n, k]` (i8, row = output channel) packed for the int8 GEMM:
///
/// - `rows`: i8 rows zero-padded to a multiple of 4 (the broadcast side
///   of a convolution, one row per output channel);
/// - `panels`: blocks of 16 channels, each `[k / 4][16][4]` (the vector
///   side of a Linear: one 32-byte load holds 4 consecutive `k` of 8
///   channels);
/// - the row sums the activation zero point's correction needs;
/// - the i16 forms `w - zero_point` of both, built on first use (for
///   full-range activations or weight zero points).
#[derive(Clone, Debug)]
pub struct PackedWeight {
    n: usize,
    k: usize,
    /// `k` rounded up to a multiple of 4.
    kp: usize,
    zero_points: Vec<i32>,
    rows: Vec<i8>,
    panels: Vec<i8>,
    /// `Σ_t w[j, t]`, zero past `n` up to a multiple of 16.
    row_sums: Vec<i32>,
    wide: OnceLock<Wide>,
}

/// The i16 forms of `w - zero_point` (`[-255, 255]` fits an i16).
#[derive(Clone, Debug)]
pub(super) struct Wide {
    /// `[n][kp]`.
    pub(super) rows: Vec<i16>,
    /// Blocks of 16 channels, each `[kp / 2][16][2]`.
    pub(super) panels: Vec<i16>,
}

impl PartialEq for PackedWeight {
    fn eq(&self, other: &Self) -> bool {
        // The lazily built i16 forms follow from these.
        (self.n, self.k, &self.zero_points, &self.rows)
            == (other.n, other.k, &other.zero_points, &other.rows)
    }
}

impl PackedWeight {
    /// Packs `w` (`n * k` values, row-major `[n, k]`).
    pub fn new(w: &[i8], n: usize, k: usize) -> PackedWeight {
        PackedWeight::with_zero_points(w, n, k, &[0])
    }

    /// Packs `w` with one zero point for all channels or one per channel:
    /// the products then use `w - zero_point`.
    pub(crate) fn with_zero_points(w: &[i8], n: usize, k: usize, zps: &[i32]) -> PackedWeight {
        assert_eq!(w.len(), n * k, "weights must hold n * k values");
        assert!(
            zps.len() == 1 || zps.len() == n,
            "one zero point or one per channel"
        );
        let kp = k.div_ceil(QUAD) * QUAD;
        let n16 = n.div_ceil(NR) * NR;
        let mut rows = vec![0i8; n * kp];
        let mut panels = vec![0i8; n16 * kp];
        let mut row_sums = vec![0i32; n16];
        for j in 0..n {
            let src = &w[j * k..(j + 1) * k];
            rows[j * kp..j * kp + k].copy_from_slice(src);
            row_sums[j] = src.iter().map(|&v| v as i32).sum();
            let block = &mut panels[(j / NR) * NR * kp..][..NR * kp];
            for (t, &v) in src.iter().enumerate() {
                block[(t / QUAD) * NR * QUAD + (j % NR) * QUAD + t % QUAD] = v;
            }
        }
        let zero_points = if zps.len() == 1 {
            vec![zps[0]; n]
        } else {
            zps.to_vec()
        };
        PackedWeight {
            n,
            k,
            kp,
            zero_points,
            rows,
            panels,
            row_sums,
            wide: OnceLock::new(),
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
            .flat_map(|j| self.rows[j * self.kp..j * self.kp + self.k].iter().copied())
            .collect()
    }

    /// `k` padded to a multiple of 4.
    pub(super) fn kp(&self) -> usize {
        self.kp
    }

    /// Whether any channel has a non-zero weight zero point (the byte
    /// path has no room for `w - zero_point`).
    pub(super) fn has_zero_points(&self) -> bool {
        self.zero_points.iter().any(|&z| z != 0)
    }

    pub(super) fn rows(&self) -> &[i8] {
        &self.rows
    }

    pub(super) fn panels(&self) -> &[i8] {
        &self.panels
    }

    /// What the byte path adds to each channel's sums to take out the
    /// activations' zero point: `Σ (a - z) w = Σ a w - z Σ w`.
    pub(super) fn zero_point_correction(&self, a_zp: i32) -> Vec<i32> {
        self.row_sums
            .iter()
            .map(|&s| s.wrapping_mul(-a_zp))
            .collect()
    }

    /// The i16 forms, built on first use.
    pub(super) fn wide(&self) -> &Wide {
        self.wide.get_or_init(|| {
            let (n, kp) = (self.n, self.kp);
            let n16 = n.div_ceil(NR) * NR;
            let mut rows = vec![0i16; n * kp];
            let mut panels = vec![0i16; n16 * kp];
            for j in 0..n {
                let zp = self.zero_points[j];
                let block = &mut panels[(j / NR) * NR * kp..][..NR * kp];
                for t in 0..self.k {
                    let v = (self.rows[j * kp + t] as i32 - zp) as i16;
                    rows[j * kp + t] = v;
                    block[(t / 2) * NR * 2 + (j % NR) * 2 + t % 2] = v;
                }
            }
            Wide { rows, panels }
        })
    }
}

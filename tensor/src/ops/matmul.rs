//! Matrix products with `torch.matmul`'s rules: dot (1-D·1-D), matrix-vector,
//! matrix-matrix, and batched products whose batch dims broadcast. The
//! floating-point GEMM is faer's ([`crate::gemm`]); strided operands
//! (transposed views) go to faer without a copy.

use crate::buffers::take_vec;
use crate::dtype::{DType, Float};
use crate::error::{Result, TensorError};
use crate::gemm::{gemm, gemm_uninit, MatView, GEMM_PAR_THRESHOLD};
use crate::layout::broadcast_shapes;
use crate::parallel::{maybe_parallel, run_parts, SharedMut};
use crate::tensor::{with_float, Tensor};

impl Tensor {
    /// Matrix product following `torch.matmul`:
    /// - 1-D · 1-D: dot product (a scalar);
    /// - 2-D · 2-D: matrix product;
    /// - 1-D · n-D: the vector is a row (dimension removed after);
    /// - n-D · 1-D: the vector is a column (dimension removed after);
    /// - batched: leading dims broadcast (`[B, 1, m, k] · [C, k, n]` → `[B, C, m, n]`).
    ///
    /// Both inputs must have the same float dtype (f32 or f64) or both be
    /// int64, as in PyTorch.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let b = Tensor::eye(2);
    /// assert_eq!(a.matmul(&b).unwrap().to_vec::<f32>().unwrap(), vec![1., 2., 3., 4.]);
    /// let e = a.matmul(&Tensor::zeros(&[3, 2])).unwrap_err();
    /// assert!(e.to_string().contains("matmul"));
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self, other);
        if a.dim() == 0 || b.dim() == 0 {
            return Err(TensorError::invalid(
                "matmul",
                format!(
                    "both arguments need at least 1 dimension, got shapes {:?} and {:?}",
                    a.shape(),
                    b.shape()
                ),
            ));
        }
        if a.dtype() != b.dtype() || a.dtype() == DType::Bool {
            return Err(TensorError::invalid(
                "matmul",
                format!(
                    "expected both inputs to have the same float or int64 dtype, got {} and {}",
                    a.dtype(),
                    b.dtype()
                ),
            ));
        }
        // Lift vectors to matrices, remember which dims to drop after.
        let a2 = if a.dim() == 1 {
            a.unsqueeze(0)?
        } else {
            a.clone()
        };
        let b2 = if b.dim() == 1 {
            b.unsqueeze(1)?
        } else {
            b.clone()
        };
        let (m, k) = (a2.shape()[a2.dim() - 2], a2.shape()[a2.dim() - 1]);
        let (k2, n) = (b2.shape()[b2.dim() - 2], b2.shape()[b2.dim() - 1]);
        if k != k2 {
            return Err(TensorError::shapes(
                "matmul",
                &[a.shape(), b.shape()],
                format!("mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})"),
            ));
        }
        let batch = broadcast_shapes(
            "matmul",
            &a2.shape()[..a2.dim() - 2],
            &b2.shape()[..b2.dim() - 2],
        )?;
        let mut out = match a.dtype() {
            DType::I64 => matmul_i64(&a2, &b2, &batch, m, k, n)?,
            dt => with_float!(dt, T => matmul_float::<T>(&a2, &b2, &batch, m, k, n)?),
        };
        if b.dim() == 1 {
            out = out.squeeze(-1)?;
        }
        if a.dim() == 1 {
            out = out.squeeze(if b.dim() == 1 { -1 } else { -2 })?;
        }
        Ok(out)
    }

    /// `self @ other` for 2-D tensors only (`torch.mm`).
    pub fn mm(&self, other: &Tensor) -> Result<Tensor> {
        if self.dim() != 2 || other.dim() != 2 {
            return Err(TensorError::shapes(
                "mm",
                &[self.shape(), other.shape()],
                "both arguments must be 2-D",
            ));
        }
        self.matmul(other)
    }

    /// Batched product of 3-D tensors `[B, m, k] · [B, k, n]` (`torch.bmm`).
    pub fn bmm(&self, other: &Tensor) -> Result<Tensor> {
        if self.dim() != 3 || other.dim() != 3 || self.shape()[0] != other.shape()[0] {
            return Err(TensorError::shapes(
                "bmm",
                &[self.shape(), other.shape()],
                "expected 3-D tensors with the same batch size",
            ));
        }
        self.matmul(other)
    }
}

/// A matrix operand faer handles well: unit stride along rows or columns
/// (a copy makes it so otherwise).
fn gemm_ready(t: &Tensor) -> Tensor {
    let r = t.dim();
    let (rs, cs) = (t.strides()[r - 2], t.strides()[r - 1]);
    let (rows, cols) = (t.shape()[r - 2], t.shape()[r - 1]);
    if cs == 1 || rs == 1 || rows <= 1 || cols <= 1 {
        t.clone()
    } else {
        t.contiguous()
    }
}

/// Storage offset of each batch entry of `t` broadcast to `batch`.
fn batch_offsets(t: &Tensor, batch: &[usize]) -> Result<Vec<usize>> {
    let r = t.dim();
    let lead = t.with_layout(crate::layout::Layout {
        shape: t.shape()[..r - 2].into(),
        strides: t.strides()[..r - 2].into(),
        offset: t.layout().offset(),
    });
    let l = lead.layout().broadcast_to("matmul", batch)?;
    let mut offs = Vec::with_capacity(batch.iter().product());
    crate::layout::for_each_run(&l.shape, [&l.strides], [l.offset], |o, n, s| {
        offs.extend((0..n).map(|i| o[0] + i * s[0]));
    });
    Ok(offs)
}

fn matmul_float<T: Float>(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Result<Tensor> {
    let (a, b) = (gemm_ready(a), gemm_ready(b));
    let (ra, rb) = (a.dim(), b.dim());
    let (ars, acs) = (a.strides()[ra - 2], a.strides()[ra - 1]);
    let (brs, bcs) = (b.strides()[rb - 2], b.strides()[rb - 1]);
    let (da, db) = (a.raw::<T>(), b.raw::<T>());
    let mut out_shape = crate::layout::dims_from(batch);
    out_shape.extend([m, n]);
    let nb: usize = batch.iter().product();
    if nb * m * n == 0 {
        return Ok(Tensor::from_data(Vec::<T>::new(), &out_shape));
    }
    // The two single-GEMM cases write the whole output: no zero fill.
    let single = |av: MatView<'_, T>, bv: MatView<'_, T>| {
        let len = av.rows * bv.cols;
        let mut out: Vec<T> = take_vec(len);
        maybe_parallel(len * av.cols, GEMM_PAR_THRESHOLD, |threads| {
            gemm_uninit(&mut out.spare_capacity_mut()[..len], av, bv, threads)
        });
        // SAFETY: gemm_uninit initialized all `len` elements.
        unsafe { out.set_len(len) };
        out
    };
    if nb == 1 && ra == 2 && rb == 2 {
        // Plain matrix product: no batch bookkeeping.
        let av = MatView {
            data: da,
            offset: a.layout().offset(),
            rows: m,
            cols: k,
            rs: ars,
            cs: acs,
        };
        let bv = MatView {
            data: db,
            offset: b.layout().offset(),
            rows: k,
            cols: n,
            rs: brs,
            cs: bcs,
        };
        return Ok(Tensor::from_data(single(av, bv), &out_shape));
    }
    // [B, m, k] (rows contiguous across the batch) times a shared [k, n]:
    // one tall GEMM instead of B small ones.
    if rb == 2 && nb > 1 && a.is_contiguous() {
        let av = MatView {
            data: da,
            offset: a.layout().offset(),
            rows: nb * m,
            cols: k,
            rs: k,
            cs: 1,
        };
        let bv = MatView {
            data: db,
            offset: b.layout().offset(),
            rows: k,
            cols: n,
            rs: brs,
            cs: bcs,
        };
        return Ok(Tensor::from_data(single(av, bv), &out_shape));
    }
    let mut out = vec![T::ZERO; nb * m * n];
    let (oa, ob) = (batch_offsets(&a, batch)?, batch_offsets(&b, batch)?);
    let one = |(i, dst): (usize, &mut [T]), threads: usize| {
        let av = MatView {
            data: da,
            offset: oa[i],
            rows: m,
            cols: k,
            rs: ars,
            cs: acs,
        };
        let bv = MatView {
            data: db,
            offset: ob[i],
            rows: k,
            cols: n,
            rs: brs,
            cs: bcs,
        };
        gemm(dst, av, bv, false, threads);
    };
    let per = m * n * k;
    maybe_parallel(nb * per, GEMM_PAR_THRESHOLD, |threads| {
        if threads > 1 && nb >= threads && per < GEMM_PAR_THRESHOLD {
            // Many small products: one per thread at a time.
            let dst = SharedMut::new(&mut out);
            run_parts(threads, nb, |i| {
                // SAFETY: each part writes its own product's block.
                one((i, unsafe { dst.range(i * m * n..(i + 1) * m * n) }), 1)
            });
        } else {
            out.chunks_mut(m * n)
                .enumerate()
                .for_each(|x| one(x, threads));
        }
    });
    Ok(Tensor::from_data(out, &out_shape))
}

fn matmul_i64(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Result<Tensor> {
    let (ra, rb) = (a.dim(), b.dim());
    let (ars, acs) = (a.strides()[ra - 2], a.strides()[ra - 1]);
    let (brs, bcs) = (b.strides()[rb - 2], b.strides()[rb - 1]);
    let (oa, ob) = (batch_offsets(a, batch)?, batch_offsets(b, batch)?);
    let (da, db) = (a.raw::<i64>(), b.raw::<i64>());
    let mut out = Vec::with_capacity(oa.len() * m * n);
    for (&pa, &pb) in oa.iter().zip(&ob) {
        for i in 0..m {
            for j in 0..n {
                let s = (0..k).fold(0i64, |s, p| {
                    s.wrapping_add(
                        da[pa + i * ars + p * acs].wrapping_mul(db[pb + p * brs + j * bcs]),
                    )
                });
                out.push(s);
            }
        }
    }
    let mut shape = batch.to_vec();
    shape.extend([m, n]);
    Ok(Tensor::from_data(out, &shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Generator;
    use proptest::prelude::*;

    /// The triple loop, in f64.
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                    .sum::<f64>() as f32;
            }
        }
        out
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-4 + 1e-4 * y.abs())
    }

    #[test]
    fn torch_matmul_rules() {
        let mut g = Generator::new(1);
        let v = Tensor::randn_with(&[4], &mut g);
        let m = Tensor::randn_with(&[4, 3], &mut g);
        assert_eq!(v.matmul(&v).unwrap().shape(), &[] as &[usize]);
        assert_eq!(v.matmul(&m).unwrap().shape(), &[3]);
        assert_eq!(m.t().unwrap().matmul(&v).unwrap().shape(), &[3]);
        let a = Tensor::randn_with(&[2, 1, 5, 4], &mut g);
        let b = Tensor::randn_with(&[3, 4, 2], &mut g);
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[2, 3, 5, 2]);
        // check one batch entry against the 2-D product
        let a11 = a.select(0, 1).unwrap().select(0, 0).unwrap();
        let b2 = b.select(0, 2).unwrap();
        let want = a11.matmul(&b2).unwrap().to_vec::<f32>().unwrap();
        let got = c
            .select(0, 1)
            .unwrap()
            .select(0, 2)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!(close(&got, &want));
        // batched vector
        assert_eq!(a.matmul(&v).unwrap().shape(), &[2, 1, 5]);
        assert_eq!(v.matmul(&b).unwrap().shape(), &[3, 2]);
    }

    #[test]
    fn errors() {
        let a = Tensor::zeros(&[2, 3]);
        let e = a.matmul(&Tensor::zeros(&[4, 5])).unwrap_err().to_string();
        assert!(e.contains("2x3 and 4x5"), "{e}");
        assert!(a.matmul(&Tensor::zeros_dtype(&[3, 2], DType::F64)).is_err());
        assert!(a.matmul(&Tensor::scalar(1.0f32)).is_err());
        assert!(Tensor::zeros(&[2, 2, 3])
            .matmul(&Tensor::zeros(&[3, 3, 1]))
            .is_err());
    }

    #[test]
    fn int_and_empty() {
        let a = Tensor::from_vec(vec![1i64, 2, 3, 4], &[2, 2]).unwrap();
        assert_eq!(
            a.matmul(&a).unwrap().to_vec::<i64>().unwrap(),
            vec![7, 10, 15, 22]
        );
        let z = Tensor::zeros(&[2, 0])
            .matmul(&Tensor::zeros(&[0, 3]))
            .unwrap();
        assert_eq!(z.to_vec::<f32>().unwrap(), vec![0.0; 6]);
    }

    proptest! {
        #[test]
        fn equals_triple_loop(m in 1usize..20, k in 1usize..20, n in 1usize..20, seed in 0u64..1000, ta in any::<bool>(), tb in any::<bool>()) {
            let mut g = Generator::new(seed);
            let a = Tensor::randn_with(&[m, k], &mut g);
            let b = Tensor::randn_with(&[k, n], &mut g);
            let want = naive(&a.to_vec::<f32>().unwrap(), &b.to_vec::<f32>().unwrap(), m, k, n);
            // the same matrices through transposed (strided) views
            let av = if ta { a.t().unwrap().contiguous().t().unwrap() } else { a.clone() };
            let bv = if tb { b.t().unwrap().contiguous().t().unwrap() } else { b.clone() };
            let got = av.matmul(&bv).unwrap().to_vec::<f32>().unwrap();
            prop_assert!(close(&got, &want));
        }
    }
}

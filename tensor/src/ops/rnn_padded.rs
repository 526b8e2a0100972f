//! [`lstm_sequence_padded`]: the fused LSTM forward over a padded batch
//! whose sequences have their own lengths (`pack_padded_sequence`), for
//! inference.

use crate::error::{Result, TensorError};
use crate::tensor::{with_float, Tensor};

use super::rnn::{check, combined_bias, forward};

/// One LSTM layer (forward in time) over the padded batch `x` `[T, N, I]`
/// whose sequence `n` has `lengths[n]` real steps (1 to `T`): row `n`
/// stops at its length, so its later outputs are zero and `h_n`, `c_n`
/// hold its state at its own end, as PyTorch's packed sequences give.
/// Returns `(output [T, N, H], h_n [N, H], c_n [N, H])`. Forward only (no
/// backward trace); weights and states as in
/// [`lstm_sequence`](crate::functional::lstm_sequence). A reverse pass
/// runs this on each sequence reversed within its length.
///
/// ```
/// use torchlet_tensor::{functional as F, Tensor};
/// let (t, n, i, h) = (4, 2, 3, 5);
/// let (w_ih, w_hh) = (Tensor::rand(&[4 * h, i]), Tensor::rand(&[4 * h, h]));
/// let zeros = Tensor::zeros(&[n, h]);
/// let x = Tensor::rand(&[t, n, i]);
/// let (out, h_n, _) = F::lstm_sequence_padded(&x, &zeros, &zeros, &w_ih, &w_hh, None, None, &[4, 2]).unwrap();
/// // Sequence 1 stops after 2 steps: zeros after, h_n its step-2 state.
/// assert_eq!(out.select(0, 3).unwrap().select(0, 1).unwrap().to_vec::<f32>().unwrap(), vec![0.0; h]);
/// let step2 = out.select(0, 1).unwrap().select(0, 1).unwrap();
/// assert_eq!(h_n.select(0, 1).unwrap().to_vec::<f32>().unwrap(), step2.to_vec::<f32>().unwrap());
/// ```
#[allow(clippy::too_many_arguments)]
pub fn lstm_sequence_padded(
    x: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
    lengths: &[usize],
) -> Result<(Tensor, Tensor, Tensor)> {
    let d = check(x, h0, c0, w_ih, w_hh, b_ih, b_hh, false)?;
    let (t, n, h) = (d.steps, d.batch, d.hidden);
    if lengths.len() != n || lengths.iter().any(|&l| l == 0 || l > t) {
        return Err(TensorError::invalid(
            "lstm_sequence_padded",
            format!("expected {n} lengths in 1..={t}, got {lengths:?}"),
        ));
    }
    with_float!(x.dtype(), T => {
        let bias = combined_bias::<T>(b_ih, b_hh);
        let f = forward::<T>(
            &x.values::<T>(),
            &h0.values::<T>(),
            &c0.values::<T>(),
            &w_ih.values::<T>(),
            &w_hh.values::<T>(),
            bias.as_deref(),
            d,
            Some(lengths),
        );
        Ok((
            Tensor::from_vec(f.out, &[t, n, h])?,
            Tensor::from_vec(f.h_n, &[n, h])?,
            Tensor::from_vec(f.c_n, &[n, h])?,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functional::lstm_sequence;

    /// Each sequence run alone over its own steps gives that row's output
    /// and final state.
    #[test]
    fn each_row_matches_its_sequence_run_alone() {
        let (t, n, i, h) = (6, 4, 3, 5);
        let (w_ih, w_hh) = (Tensor::randn(&[4 * h, i]), Tensor::randn(&[4 * h, h]));
        let (b_ih, b_hh) = (Tensor::randn(&[4 * h]), Tensor::randn(&[4 * h]));
        let (h0, c0) = (Tensor::randn(&[n, h]), Tensor::randn(&[n, h]));
        let x = Tensor::randn(&[t, n, i]);
        let lengths = [6, 1, 4, 2];
        let (out, h_n, c_n) = lstm_sequence_padded(
            &x,
            &h0,
            &c0,
            &w_ih,
            &w_hh,
            Some(&b_ih),
            Some(&b_hh),
            &lengths,
        )
        .unwrap();
        for (r, &len) in lengths.iter().enumerate() {
            let row = |v: &Tensor| v.narrow(1, r as i64, 1).unwrap();
            let xs = x.narrow(0, 0, len).unwrap();
            let alone = lstm_sequence(
                &row(&xs),
                &h0.narrow(0, r as i64, 1).unwrap(),
                &c0.narrow(0, r as i64, 1).unwrap(),
                &w_ih,
                &w_hh,
                Some(&b_ih),
                Some(&b_hh),
                false,
            )
            .unwrap();
            let got = row(&out);
            let close = |a: &Tensor, b: &Tensor| {
                let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
                assert_eq!(a.len(), b.len());
                a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-5)
            };
            assert!(
                close(&got.narrow(0, 0, len).unwrap(), &alone.output),
                "row {r}"
            );
            let rest = got.narrow(0, len as i64, t - len).unwrap();
            assert!(
                rest.to_vec::<f32>().unwrap().iter().all(|&v| v == 0.0),
                "row {r}"
            );
            assert!(
                close(&h_n.narrow(0, r as i64, 1).unwrap(), &alone.h_n),
                "row {r}"
            );
            assert!(
                close(&c_n.narrow(0, r as i64, 1).unwrap(), &alone.c_n),
                "row {r}"
            );
        }
        let err = lstm_sequence_padded(&x, &h0, &c0, &w_ih, &w_hh, None, None, &[6, 0, 1, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected 4 lengths in 1..=6"), "{err}");
    }
}

//! PyTorch's default initialisation of layer parameters.

use torchlet_autograd::Variable;
use torchlet_tensor::{with_global_generator, DType, Tensor};

use crate::error::{NnError, Result};

/// A float32 parameter of `shape` drawn from `U(-bound, bound)` with the
/// default generator (see [`torchlet_tensor::manual_seed`]).
pub fn uniform_parameter(shape: &[usize], bound: f64) -> Variable {
    Variable::parameter(with_global_generator(|g| {
        Tensor::uniform_with(shape, -bound, bound, DType::F32, g)
    }))
}

/// The bound `1/√fan_in` PyTorch's layers use both for their weights
/// (`kaiming_uniform_(a=√5)` gives `gain·√(3/fan_in) = 1/√fan_in`) and their
/// biases; `0` when `fan_in` is `0`.
pub fn default_bound(fan_in: usize) -> f64 {
    if fan_in == 0 {
        0.0
    } else {
        1.0 / (fan_in as f64).sqrt()
    }
}

/// The non-linearities [`calculate_gain`] knows (`torch.nn.init.calculate_gain`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nonlinearity {
    /// Identity / linear layers and convolutions: gain 1.
    Linear,
    /// `sigmoid`: gain 1.
    Sigmoid,
    /// `tanh`: gain 5/3.
    Tanh,
    /// `relu`: gain √2.
    Relu,
    /// `leaky_relu` with the given negative slope: gain `√(2 / (1 + slope²))`.
    LeakyRelu(f64),
    /// `selu`: gain 3/4.
    Selu,
}

/// The recommended gain for a non-linearity (`torch.nn.init.calculate_gain`).
pub fn calculate_gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu(a) => (2.0 / (1.0 + a * a)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// `(fan_in, fan_out)` of a weight shape as PyTorch computes them
/// (`_calculate_fan_in_and_fan_out`): `fan_in = shape[1] · receptive`,
/// `fan_out = shape[0] · receptive` with `receptive` the product of the
/// dims after the second. Fails for fewer than 2 dims.
pub fn fan_in_and_fan_out(shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < 2 {
        return Err(NnError::config(
            "init",
            format!(
                "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, got shape {shape:?}"
            ),
        ));
    }
    let receptive: usize = shape[2..].iter().product();
    Ok((shape[1] * receptive, shape[0] * receptive))
}

/// Which fan Kaiming initialisation preserves (`mode='fan_in'` keeps the
/// forward pass's variance, `'fan_out'` the backward pass's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanMode {
    /// `mode='fan_in'` (PyTorch's default).
    FanIn,
    /// `mode='fan_out'`.
    FanOut,
}

fn float_dtype(v: &Variable) -> Result<DType> {
    let dtype = v.dtype();
    if !dtype.is_float() {
        return Err(NnError::config(
            "init",
            format!("expected a floating-point tensor, got dtype {dtype}"),
        ));
    }
    Ok(dtype)
}

/// Fills the leaf `v` with samples of `U(low, high)` from the global
/// generator, keeping its shape and dtype (`torch.nn.init.uniform_`).
pub fn uniform_(v: &Variable, low: f64, high: f64) -> Result<()> {
    let dtype = float_dtype(v)?;
    let t = with_global_generator(|g| Tensor::uniform_with(&v.shape(), low, high, dtype, g));
    Ok(v.set_data(t)?)
}

/// Fills the leaf `v` with samples of `N(mean, std²)` from the global
/// generator (`torch.nn.init.normal_`).
pub fn normal_(v: &Variable, mean: f64, std: f64) -> Result<()> {
    let dtype = float_dtype(v)?;
    let t = with_global_generator(|g| Tensor::normal_with(&v.shape(), mean, std, dtype, g));
    Ok(v.set_data(t)?)
}

/// Fills the leaf `v` with `value` (`torch.nn.init.constant_`).
pub fn constant_(v: &Variable, value: f64) -> Result<()> {
    let t = Tensor::full_dtype(&v.shape(), value, v.dtype());
    Ok(v.set_data(t)?)
}

/// Fills the leaf `v` with zeros (`torch.nn.init.zeros_`).
pub fn zeros_(v: &Variable) -> Result<()> {
    constant_(v, 0.0)
}

/// Fills the leaf `v` with ones (`torch.nn.init.ones_`).
pub fn ones_(v: &Variable) -> Result<()> {
    constant_(v, 1.0)
}

/// Glorot uniform (`torch.nn.init.xavier_uniform_`): `U(-a, a)` with
/// `a = gain · √(6 / (fan_in + fan_out))`.
pub fn xavier_uniform_(v: &Variable, gain: f64) -> Result<()> {
    let (fan_in, fan_out) = fan_in_and_fan_out(&v.shape())?;
    let a = gain * (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    uniform_(v, -a, a)
}

/// Glorot normal (`torch.nn.init.xavier_normal_`): `N(0, std²)` with
/// `std = gain · √(2 / (fan_in + fan_out))`.
pub fn xavier_normal_(v: &Variable, gain: f64) -> Result<()> {
    let (fan_in, fan_out) = fan_in_and_fan_out(&v.shape())?;
    let std = gain * (2.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    normal_(v, 0.0, std)
}

fn kaiming_std(v: &Variable, mode: FanMode, nonlinearity: Nonlinearity) -> Result<f64> {
    let (fan_in, fan_out) = fan_in_and_fan_out(&v.shape())?;
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    Ok(calculate_gain(nonlinearity) / (fan.max(1) as f64).sqrt())
}

/// He uniform (`torch.nn.init.kaiming_uniform_`): `U(-b, b)` with
/// `b = gain · √(3 / fan)`, `gain = calculate_gain(nonlinearity)`. PyTorch's
/// `a` argument is the slope of [`Nonlinearity::LeakyRelu`]
/// (`kaiming_uniform_(w, a=√5)` is `Nonlinearity::LeakyRelu(5f64.sqrt())`).
pub fn kaiming_uniform_(v: &Variable, mode: FanMode, nonlinearity: Nonlinearity) -> Result<()> {
    let bound = 3f64.sqrt() * kaiming_std(v, mode, nonlinearity)?;
    uniform_(v, -bound, bound)
}

/// He normal (`torch.nn.init.kaiming_normal_`): `N(0, std²)` with
/// `std = gain / √fan`.
pub fn kaiming_normal_(v: &Variable, mode: FanMode, nonlinearity: Nonlinearity) -> Result<()> {
    let std = kaiming_std(v, mode, nonlinearity)?;
    normal_(v, 0.0, std)
}

/// A `rows × cols` matrix (row-major, f64) with orthonormal rows (when
/// `rows <= cols`) or columns (otherwise), from modified Gram–Schmidt on
/// standard normal samples of the default generator — the `Q` of a QR
/// decomposition with `diag(R) > 0`, as `torch.nn.init.orthogonal_` uses.
fn orthogonal_matrix(rows: usize, cols: usize) -> Vec<f64> {
    let (m, n) = (rows.max(cols), rows.min(cols));
    // Columns of an m × n matrix, stored column by column.
    let mut q: Vec<Vec<f64>> = with_global_generator(|g| {
        (0..n)
            .map(|_| (0..m).map(|_| g.normal()).collect())
            .collect()
    });
    for j in 0..n {
        for _ in 0..2 {
            for i in 0..j {
                let dot: f64 = (0..m).map(|k| q[i][k] * q[j][k]).sum();
                let (qi, qj) = (q[i].clone(), &mut q[j]);
                for k in 0..m {
                    qj[k] -= dot * qi[k];
                }
            }
        }
        let norm = q[j].iter().map(|x| x * x).sum::<f64>().sqrt();
        let norm = if norm > 0.0 { norm } else { 1.0 };
        q[j].iter_mut().for_each(|x| *x /= norm);
    }
    let mut out = vec![0.0; rows * cols];
    for (j, col) in q.iter().enumerate() {
        for (i, &x) in col.iter().enumerate() {
            if rows >= cols {
                out[i * cols + j] = x;
            } else {
                out[j * cols + i] = x;
            }
        }
    }
    out
}

/// Fills the leaf `v` (at least 2 dims, seen as `[shape[0], rest]`) with a
/// (semi-)orthogonal matrix times `gain` (`torch.nn.init.orthogonal_`):
/// `W Wᵀ = gain² I` when `rows <= cols`, else `Wᵀ W = gain² I`.
pub fn orthogonal_(v: &Variable, gain: f64) -> Result<()> {
    let shape = v.shape();
    let dtype = float_dtype(v)?;
    if shape.len() < 2 {
        return Err(NnError::config(
            "init",
            format!("only tensors with 2 or more dimensions are supported, got shape {shape:?}"),
        ));
    }
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    let q: Vec<f64> = orthogonal_matrix(rows, cols)
        .into_iter()
        .map(|x| x * gain)
        .collect();
    let t = Tensor::from_vec(q, &shape)?.to_dtype(dtype);
    Ok(v.set_data(t)?)
}

#[cfg(test)]
mod init_fn_tests {
    use super::*;

    fn stats(v: &Variable) -> (f64, f64, f64) {
        let x = v.data().to_dtype(DType::F64).to_vec::<f64>().unwrap();
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / n;
        let max = x.iter().fold(0f64, |m, a| m.max(a.abs()));
        (mean, var.sqrt(), max)
    }

    #[test]
    fn gains_and_fans() {
        assert_eq!(calculate_gain(Nonlinearity::Linear), 1.0);
        assert!((calculate_gain(Nonlinearity::Relu) - 2f64.sqrt()).abs() < 1e-12);
        assert!((calculate_gain(Nonlinearity::Tanh) - 5.0 / 3.0).abs() < 1e-12);
        let g = calculate_gain(Nonlinearity::LeakyRelu(5f64.sqrt()));
        assert!((g - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(fan_in_and_fan_out(&[8, 3, 5, 5]).unwrap(), (75, 200));
        assert_eq!(fan_in_and_fan_out(&[4, 6]).unwrap(), (6, 4));
        assert!(fan_in_and_fan_out(&[4]).is_err());
    }

    #[test]
    fn fills_and_distributions() {
        let v = Variable::parameter(Tensor::zeros(&[200, 300]));
        constant_(&v, 2.5).unwrap();
        assert_eq!(stats(&v), (2.5, 0.0, 2.5));
        ones_(&v).unwrap();
        assert_eq!(stats(&v).0, 1.0);
        zeros_(&v).unwrap();
        assert_eq!(stats(&v).2, 0.0);
        assert_eq!(v.shape(), [200, 300]);

        uniform_(&v, -2.0, 2.0).unwrap();
        let (m, s, mx) = stats(&v);
        assert!(m.abs() < 0.02 && (s - 2.0 / 3f64.sqrt()).abs() < 0.02 && mx <= 2.0);

        normal_(&v, 1.0, 3.0).unwrap();
        let (m, s, _) = stats(&v);
        assert!((m - 1.0).abs() < 0.05 && (s - 3.0).abs() < 0.05);

        xavier_uniform_(&v, 2.0).unwrap();
        let a = 2.0 * (6.0f64 / 500.0).sqrt();
        let (_, s, mx) = stats(&v);
        assert!(mx <= a + 1e-6 && (s - a / 3f64.sqrt()).abs() < 0.01 * a);

        xavier_normal_(&v, 1.0).unwrap();
        let (_, s, _) = stats(&v);
        assert!((s - (2.0f64 / 500.0).sqrt()).abs() < 0.01 * s);

        kaiming_uniform_(&v, FanMode::FanIn, Nonlinearity::Relu).unwrap();
        let b = 2f64.sqrt() * (3.0f64 / 300.0).sqrt();
        let (_, s, mx) = stats(&v);
        assert!(mx <= b + 1e-6 && (s - b / 3f64.sqrt()).abs() < 0.01 * b);

        kaiming_normal_(&v, FanMode::FanOut, Nonlinearity::Linear).unwrap();
        let (_, s, _) = stats(&v);
        assert!((s - (1.0f64 / 200.0).sqrt()).abs() < 0.01 * s);

        let int = Variable::constant(Tensor::zeros_dtype(&[2, 2], DType::I64));
        assert!(normal_(&int, 0.0, 1.0).is_err());
    }

    fn gram(w: &[f64], rows: usize, cols: usize, by_rows: bool) -> Vec<Vec<f64>> {
        let n = if by_rows { rows } else { cols };
        let len = if by_rows { cols } else { rows };
        let at = |i: usize, k: usize| {
            if by_rows {
                w[i * cols + k]
            } else {
                w[k * cols + i]
            }
        };
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (0..len).map(|k| at(i, k) * at(j, k)).sum())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn orthogonal_is_orthogonal() {
        for (shape, by_rows) in [
            (vec![6usize, 6], false),
            (vec![10, 4], false),
            (vec![3, 2, 2, 2], true),
        ] {
            let v = Variable::parameter(Tensor::zeros_dtype(&shape, DType::F64));
            orthogonal_(&v, 2.0).unwrap();
            assert_eq!(v.shape(), shape);
            let w = v.data().to_vec::<f64>().unwrap();
            let rows = shape[0];
            let cols: usize = shape[1..].iter().product();
            let g = gram(&w, rows, cols, by_rows);
            for (i, row) in g.iter().enumerate() {
                for (j, &x) in row.iter().enumerate() {
                    let want = if i == j { 4.0 } else { 0.0 };
                    assert!((x - want).abs() < 1e-9, "{shape:?} [{i},{j}] = {x}");
                }
            }
        }
        let f32w = Variable::parameter(Tensor::zeros(&[5, 5]));
        orthogonal_(&f32w, 1.0).unwrap();
        assert_eq!(f32w.dtype(), DType::F32);
        assert!(orthogonal_(&Variable::parameter(Tensor::zeros(&[5])), 1.0).is_err());
    }
}

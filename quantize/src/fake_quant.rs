//! Fake quantization: quantize then dequantize in one differentiable op,
//! whose gradient is the straight-through estimator (1 where the value
//! fell inside the clamp range, 0 outside), as in
//! `torch.fake_quantize_per_tensor_affine` / `_per_channel_affine`.

use torchlet_autograd::{record, Variable};
use torchlet_tensor::{normalize_dim, DType, Tensor};

use crate::error::{QuantError, Result};
use crate::qtensor::{channel_params, unclamped};

fn check_range(op: &'static str, quant_min: i64, quant_max: i64) -> Result<()> {
    if quant_min > quant_max {
        return Err(QuantError::invalid(
            op,
            format!("quant_min ({quant_min}) must not exceed quant_max ({quant_max})"),
        ));
    }
    Ok(())
}

/// Runs the fake quantization given each element's `(inv_scale, scale,
/// zero_point)` and records the straight-through gradient.
fn fake_quant(
    x: &Variable,
    quant_min: i64,
    quant_max: i64,
    param_of: impl Fn(usize) -> (f32, f32, i64),
) -> Result<Variable> {
    let dtype = x.dtype();
    let values = x.data().to_dtype(DType::F32).contiguous().to_vec::<f32>()?;
    let mut out = Vec::with_capacity(values.len());
    let mut mask = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        let (inv, scale, zp) = param_of(i);
        let q = unclamped(v, inv, zp);
        mask.push(if (quant_min..=quant_max).contains(&q) {
            1.0f32
        } else {
            0.0
        });
        out.push((q.clamp(quant_min, quant_max) - zp) as f32 * scale);
    }
    let shape = x.shape();
    let out = Tensor::from_vec(out, &shape)?.to_dtype(dtype);
    let mask = Tensor::from_vec(mask, &shape)?.to_dtype(dtype);
    Ok(record("FakeQuantizeBackward0", out, &[x], move |ctx| {
        Ok(vec![Some(ctx.grad.mul(&Variable::constant(mask.clone()))?)])
    }))
}

/// `torch.fake_quantize_per_tensor_affine(x, scale, zero_point,
/// quant_min, quant_max)`: `(clamp(zero_point + round_half_even(x /
/// scale), quant_min, quant_max) - zero_point) * scale`, with the
/// straight-through gradient.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_quantize::fake_quantize_per_tensor_affine;
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_quantize::QuantError> {
/// let x = Variable::parameter(Tensor::from_vec(vec![0.26f32, 9.0], &[2])?);
/// let y = fake_quantize_per_tensor_affine(&x, 0.5, 0, -4, 3)?;
/// assert_eq!(y.to_vec::<f32>()?, [0.5, 1.5]); // 9.0 clamps to 3 * 0.5
/// y.sum().backward()?;
/// assert_eq!(x.grad().unwrap().to_vec::<f32>()?, [1.0, 0.0]);
/// # Ok(())
/// # }
/// ```
pub fn fake_quantize_per_tensor_affine(
    x: &Variable,
    scale: f64,
    zero_point: i64,
    quant_min: i64,
    quant_max: i64,
) -> Result<Variable> {
    let op = "fake_quantize_per_tensor_affine";
    check_range(op, quant_min, quant_max)?;
    crate::qtensor::check_qparams(op, scale, zero_point, (quant_min, quant_max))?;
    let s = scale as f32;
    let inv = 1.0f32 / s;
    fake_quant(x, quant_min, quant_max, |_| (inv, s, zero_point))
}

/// `torch.fake_quantize_per_channel_affine(x, scale, zero_point, axis,
/// quant_min, quant_max)`: [`fake_quantize_per_tensor_affine`] with one
/// scale and zero point per index along `axis`. The gradient reaches `x`
/// only.
pub fn fake_quantize_per_channel_affine(
    x: &Variable,
    scale: &Tensor,
    zero_point: &Tensor,
    axis: i64,
    quant_min: i64,
    quant_max: i64,
) -> Result<Variable> {
    let op = "fake_quantize_per_channel_affine";
    check_range(op, quant_min, quant_max)?;
    let shape = x.shape();
    let axis = normalize_dim(op, axis, shape.len()).map_err(|_| {
        QuantError::invalid(
            op,
            format!(
                "axis {axis} is out of range for a tensor of {} dims",
                shape.len()
            ),
        )
    })?;
    let (scales, zps) = channel_params(op, scale, zero_point, shape[axis], (quant_min, quant_max))?;
    let s: Vec<f32> = scales.iter().map(|&v| v as f32).collect();
    let inv: Vec<f32> = s.iter().map(|&v| 1.0f32 / v).collect();
    let (channels, inner) = (shape[axis], shape[axis + 1..].iter().product::<usize>());
    fake_quant(x, quant_min, quant_max, |i| {
        let c = (i / inner.max(1)) % channels.max(1);
        (inv[c], s[c], zps[c])
    })
}

/// `torch.ao.quantization.FakeQuantize`: an observer and fake
/// quantization with the parameters it chose, each switched on or off
/// (`enable_observer`/`disable_observer`, `enable_fake_quant`/
/// `disable_fake_quant`; both on when built). Per channel when the
/// observer is.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_quantize::{FakeQuantize, ObserverKind, ObserverOptions};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_quantize::QuantError> {
/// let mut fq = FakeQuantize::new(&ObserverKind::MinMax(ObserverOptions::default()))?;
/// let x = Variable::constant(Tensor::from_vec(vec![0.0f32, 0.5, 2.55], &[3])?);
/// let y = fq.forward(&x)?; // scale 0.01, zero point 0
/// assert_eq!(y.to_vec::<f32>()?, [0.0, 0.5, 2.55]);
/// fq.disable_observer(); // the parameters stay
/// let y = fq.forward(&Variable::constant(Tensor::from_vec(vec![3.0f32], &[1])?))?;
/// assert_eq!(y.to_vec::<f32>()?, [2.55]); // clamped to the range seen
/// # Ok(())
/// # }
/// ```
pub struct FakeQuantize {
    observer: Box<dyn crate::Observer + Send>,
    ch_axis: Option<i64>,
    quant_range: (i64, i64),
    observer_enabled: bool,
    fake_quant_enabled: bool,
    params: Option<(Tensor, Tensor)>,
}

impl std::fmt::Debug for FakeQuantize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeQuantize")
            .field("ch_axis", &self.ch_axis)
            .field("quant_range", &self.quant_range)
            .field("observer_enabled", &self.observer_enabled)
            .field("fake_quant_enabled", &self.fake_quant_enabled)
            .field("params", &self.params)
            .finish()
    }
}

impl FakeQuantize {
    /// A fake quantizer around a new observer of `kind`.
    pub fn new(kind: &crate::ObserverKind) -> Result<FakeQuantize> {
        Ok(FakeQuantize {
            observer: kind.build()?,
            ch_axis: kind.ch_axis(),
            quant_range: kind.options().qrange()?,
            observer_enabled: true,
            fake_quant_enabled: true,
            params: None,
        })
    }

    /// Observes `x` (when enabled), then fake-quantizes it with the
    /// current parameters (when enabled).
    pub fn forward(&mut self, x: &Variable) -> Result<Variable> {
        if self.observer_enabled {
            self.observer.observe(&x.data())?;
            self.params = Some(self.observer.calculate_qparams()?);
        }
        if !self.fake_quant_enabled {
            return Ok(x.clone());
        }
        let Some((scale, zp)) = &self.params else {
            return Err(QuantError::invalid(
                "FakeQuantize",
                "fake quantization is on but the observer has never run: enable the observer for at least one batch",
            ));
        };
        let (lo, hi) = self.quant_range;
        match self.ch_axis {
            Some(axis) => fake_quantize_per_channel_affine(x, scale, zp, axis, lo, hi),
            None => {
                let s = scale.to_vec::<f32>()?[0] as f64;
                let z = zp.to_vec::<i64>()?[0];
                fake_quantize_per_tensor_affine(x, s, z, lo, hi)
            }
        }
    }

    /// The scales and zero points in use (`calculate_qparams()` of the
    /// observer when it has data).
    pub fn calculate_qparams(&self) -> Result<(Tensor, Tensor)> {
        match &self.params {
            Some(p) => Ok(p.clone()),
            None => self.observer.calculate_qparams(),
        }
    }

    /// Switches observation on.
    pub fn enable_observer(&mut self) {
        self.observer_enabled = true;
    }

    /// Switches observation off (the parameters freeze).
    pub fn disable_observer(&mut self) {
        self.observer_enabled = false;
    }

    /// Switches the rounding on.
    pub fn enable_fake_quant(&mut self) {
        self.fake_quant_enabled = true;
    }

    /// Switches the rounding off (the identity).
    pub fn disable_fake_quant(&mut self) {
        self.fake_quant_enabled = false;
    }
}

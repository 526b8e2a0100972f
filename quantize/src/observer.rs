//! Observers: they watch the tensors that flow through a point of the
//! model and choose its scale and zero point with PyTorch's
//! `calculate_qparams` (`torch.ao.quantization.observer`), in float32
//! arithmetic as PyTorch computes them.

use torchlet_tensor::{normalize_dim, Tensor};

use crate::error::{QuantError, Result};
use crate::qtensor::{float_values, QDtype};

/// How scales and zero points are chosen (`torch.per_tensor_affine`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QScheme {
    /// One scale and zero point; the range covers `[min, max]` (and 0).
    PerTensorAffine,
    /// One scale, zero point at the middle; the range is `±max|x|`.
    PerTensorSymmetric,
    /// Affine, one pair per channel.
    PerChannelAffine,
    /// Symmetric, one scale per channel.
    PerChannelSymmetric,
}

impl QScheme {
    /// Whether the zero point sits in the middle of the range.
    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            QScheme::PerTensorSymmetric | QScheme::PerChannelSymmetric
        )
    }

    /// Whether there is one pair per channel.
    pub fn is_per_channel(self) -> bool {
        matches!(
            self,
            QScheme::PerChannelAffine | QScheme::PerChannelSymmetric
        )
    }

    /// Parses PyTorch's names (`per_tensor_affine`, with or without `torch.`).
    pub fn parse(name: &str) -> Result<QScheme> {
        match name.trim_start_matches("torch.") {
            "per_tensor_affine" => Ok(QScheme::PerTensorAffine),
            "per_tensor_symmetric" => Ok(QScheme::PerTensorSymmetric),
            "per_channel_affine" => Ok(QScheme::PerChannelAffine),
            "per_channel_symmetric" => Ok(QScheme::PerChannelSymmetric),
            other => Err(QuantError::invalid(
                "QScheme",
                format!("unknown qscheme {other:?}"),
            )),
        }
    }
}

/// What every observer is configured with (PyTorch's keyword arguments
/// and defaults: quint8, per-tensor affine, full range, `eps` =
/// `torch.finfo(torch.float32).eps`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObserverOptions {
    /// The quantized dtype the parameters are for.
    pub dtype: QDtype,
    /// How they are chosen.
    pub qscheme: QScheme,
    /// Drop the top bit of the 8-bit range (x86 activations).
    pub reduce_range: bool,
    /// A custom range (both or neither), inside the dtype's.
    pub quant_range: Option<(i64, i64)>,
    /// The smallest scale returned.
    pub eps: f32,
}

impl Default for ObserverOptions {
    fn default() -> Self {
        ObserverOptions {
            dtype: QDtype::QUInt8,
            qscheme: QScheme::PerTensorAffine,
            reduce_range: false,
            quant_range: None,
            eps: f32::EPSILON,
        }
    }
}

impl ObserverOptions {
    /// The integer range the parameters map onto (PyTorch's
    /// `calculate_qmin_qmax`).
    pub fn qrange(&self) -> Result<(i64, i64)> {
        match self.quant_range {
            None => Ok(self.dtype.observer_range(self.reduce_range)),
            Some((lo, hi)) => {
                let (dlo, dhi) = self.dtype.range();
                if !(lo <= 0 && 0 <= hi && dlo <= lo && hi <= dhi) {
                    return Err(QuantError::invalid(
                        "observer",
                        format!(
                            "quant_min ({lo}) and quant_max ({hi}) must include 0 and lie inside {}'s range [{dlo}, {dhi}]",
                            self.dtype.torch_name()
                        ),
                    ));
                }
                if self.reduce_range {
                    Ok((lo.div_euclid(2), hi.div_euclid(2)))
                } else {
                    Ok((lo, hi))
                }
            }
        }
    }
}

/// PyTorch's `_calculate_qparams` for (per-tensor or per-channel) ranges
/// `[min_val, max_val]`: scales (f32) and zero points.
pub fn calculate_qparams(
    options: &ObserverOptions,
    min_val: &[f32],
    max_val: &[f32],
) -> Result<(Vec<f32>, Vec<i64>)> {
    let (qmin, qmax) = options.qrange()?;
    let mut scales = Vec::with_capacity(min_val.len());
    let mut zps = Vec::with_capacity(min_val.len());
    for (&lo, &hi) in min_val.iter().zip(max_val) {
        if lo == f32::INFINITY && hi == f32::NEG_INFINITY {
            return Err(QuantError::invalid(
                "calculate_qparams",
                "the observer has seen no data: run it on calibration inputs first",
            ));
        }
        if lo > hi {
            return Err(QuantError::invalid(
                "calculate_qparams",
                format!("min_val ({lo}) must not exceed max_val ({hi})"),
            ));
        }
        let min_neg = lo.min(0.0);
        let max_pos = hi.max(0.0);
        let (scale, zp) = if options.qscheme.is_symmetric() {
            let max_pos = (-min_neg).max(max_pos);
            let scale = (max_pos / ((qmax - qmin) as f64 / 2.0) as f32).max(options.eps);
            let zp = match (options.dtype, options.quant_range) {
                (QDtype::QUInt8, Some(_)) => (qmin + qmax).div_euclid(2),
                (QDtype::QUInt8, None) => 128,
                _ => 0,
            };
            (scale, zp)
        } else {
            let scale = ((max_pos - min_neg) / (qmax - qmin) as f32).max(options.eps);
            let zp = qmin - (min_neg / scale).round_ties_even() as i64;
            (scale, zp.clamp(qmin, qmax))
        };
        scales.push(scale);
        zps.push(zp);
    }
    Ok((scales, zps))
}

/// An observer: fed batches, it gives quantization parameters.
pub trait Observer {
    /// Records a batch (`observer(x)`).
    fn observe(&mut self, x: &Tensor) -> Result<()>;
    /// The scales (f32, one per tensor or per channel) and zero points
    /// (int64) for what was observed (`calculate_qparams()`).
    fn calculate_qparams(&self) -> Result<(Tensor, Tensor)>;
    /// The configuration.
    fn options(&self) -> &ObserverOptions;
}

fn as_tensors(scales: Vec<f32>, zps: Vec<i64>) -> Result<(Tensor, Tensor)> {
    let n = scales.len();
    Ok((
        Tensor::from_vec(scales, &[n])?,
        Tensor::from_vec(zps, &[n])?,
    ))
}

/// The smallest and largest value, ignoring nothing (NaN propagates as
/// in `torch.aminmax`); `None` for an empty batch.
pub(crate) fn aminmax(values: &[f32]) -> Option<(f32, f32)> {
    let first = *values.first()?;
    Some(values.iter().fold((first, first), |(lo, hi), &v| {
        if v.is_nan() || lo.is_nan() {
            (f32::NAN, f32::NAN)
        } else {
            (lo.min(v), hi.max(v))
        }
    }))
}

fn per_tensor_only(op: &'static str, options: &ObserverOptions) -> Result<()> {
    if options.qscheme.is_per_channel() {
        return Err(QuantError::invalid(
            op,
            format!("needs a per-tensor qscheme, got {:?}", options.qscheme),
        ));
    }
    options.qrange().map(|_| ())
}

/// `MinMaxObserver`: the running minimum and maximum.
#[derive(Clone, Debug)]
pub struct MinMaxObserver {
    options: ObserverOptions,
    min_val: f32,
    max_val: f32,
}

impl MinMaxObserver {
    /// A new observer (no data seen yet).
    pub fn new(options: ObserverOptions) -> Result<MinMaxObserver> {
        per_tensor_only("MinMaxObserver", &options)?;
        Ok(MinMaxObserver {
            options,
            min_val: f32::INFINITY,
            max_val: f32::NEG_INFINITY,
        })
    }

    /// The range seen so far.
    pub fn min_max(&self) -> (f32, f32) {
        (self.min_val, self.max_val)
    }
}

impl Observer for MinMaxObserver {
    fn observe(&mut self, x: &Tensor) -> Result<()> {
        if let Some((lo, hi)) = aminmax(&float_values("MinMaxObserver", x)?) {
            self.min_val = self.min_val.min(lo);
            self.max_val = self.max_val.max(hi);
        }
        Ok(())
    }

    fn calculate_qparams(&self) -> Result<(Tensor, Tensor)> {
        let (s, z) = calculate_qparams(&self.options, &[self.min_val], &[self.max_val])?;
        as_tensors(s, z)
    }

    fn options(&self) -> &ObserverOptions {
        &self.options
    }
}

/// `MovingAverageMinMaxObserver`: the first batch's range, then
/// `min += c * (batch_min - min)` (and the same for max) with
/// `averaging_constant` `c` (0.01 by default).
#[derive(Clone, Debug)]
pub struct MovingAverageMinMaxObserver {
    options: ObserverOptions,
    averaging_constant: f32,
    min_val: f32,
    max_val: f32,
}

impl MovingAverageMinMaxObserver {
    /// A new observer with the given averaging constant (in `(0, 1]`).
    pub fn new(options: ObserverOptions, averaging_constant: f64) -> Result<Self> {
        per_tensor_only("MovingAverageMinMaxObserver", &options)?;
        if !(averaging_constant > 0.0 && averaging_constant <= 1.0) {
            return Err(QuantError::invalid(
                "MovingAverageMinMaxObserver",
                format!("averaging_constant must be in (0, 1], got {averaging_constant}"),
            ));
        }
        Ok(MovingAverageMinMaxObserver {
            options,
            averaging_constant: averaging_constant as f32,
            min_val: f32::INFINITY,
            max_val: f32::NEG_INFINITY,
        })
    }
}

impl Observer for MovingAverageMinMaxObserver {
    fn observe(&mut self, x: &Tensor) -> Result<()> {
        let Some((lo, hi)) = aminmax(&float_values("MovingAverageMinMaxObserver", x)?) else {
            return Ok(());
        };
        if self.min_val == f32::INFINITY && self.max_val == f32::NEG_INFINITY {
            (self.min_val, self.max_val) = (lo, hi);
        } else {
            let c = self.averaging_constant;
            self.min_val += c * (lo - self.min_val);
            self.max_val += c * (hi - self.max_val);
        }
        Ok(())
    }

    fn calculate_qparams(&self) -> Result<(Tensor, Tensor)> {
        let (s, z) = calculate_qparams(&self.options, &[self.min_val], &[self.max_val])?;
        as_tensors(s, z)
    }

    fn options(&self) -> &ObserverOptions {
        &self.options
    }
}

/// `PerChannelMinMaxObserver`: the running minimum and maximum of each
/// index along `ch_axis`; built with [`moving_average`], PyTorch's
/// `MovingAveragePerChannelMinMaxObserver` (each channel's range averaged
/// as in [`MovingAverageMinMaxObserver`]).
///
/// [`moving_average`]: PerChannelMinMaxObserver::moving_average
#[derive(Clone, Debug)]
pub struct PerChannelMinMaxObserver {
    options: ObserverOptions,
    ch_axis: i64,
    averaging_constant: Option<f32>,
    min_val: Vec<f32>,
    max_val: Vec<f32>,
}

impl PerChannelMinMaxObserver {
    /// A new observer along `ch_axis` (negative counts from the end).
    pub fn new(options: ObserverOptions, ch_axis: i64) -> Result<Self> {
        if !options.qscheme.is_per_channel() {
            return Err(QuantError::invalid(
                "PerChannelMinMaxObserver",
                format!("needs a per-channel qscheme, got {:?}", options.qscheme),
            ));
        }
        options.qrange()?;
        Ok(PerChannelMinMaxObserver {
            options,
            ch_axis,
            averaging_constant: None,
            min_val: Vec::new(),
            max_val: Vec::new(),
        })
    }

    /// PyTorch's `MovingAveragePerChannelMinMaxObserver`: the first
    /// batch's ranges, then `min += c * (batch_min - min)` per channel
    /// (and the same for max), `c` in `(0, 1]` (0.01 by default).
    pub fn moving_average(
        options: ObserverOptions,
        ch_axis: i64,
        averaging_constant: f64,
    ) -> Result<Self> {
        if !(averaging_constant > 0.0 && averaging_constant <= 1.0) {
            return Err(QuantError::invalid(
                "MovingAveragePerChannelMinMaxObserver",
                format!("averaging_constant must be in (0, 1], got {averaging_constant}"),
            ));
        }
        let mut obs = PerChannelMinMaxObserver::new(options, ch_axis)?;
        obs.averaging_constant = Some(averaging_constant as f32);
        Ok(obs)
    }
}

impl Observer for PerChannelMinMaxObserver {
    fn observe(&mut self, x: &Tensor) -> Result<()> {
        let op = "PerChannelMinMaxObserver";
        let axis = normalize_dim(op, self.ch_axis, x.dim()).map_err(|_| {
            QuantError::invalid(
                op,
                format!(
                    "ch_axis {} is out of range for shape {:?}",
                    self.ch_axis,
                    x.shape()
                ),
            )
        })?;
        let channels = x.shape()[axis];
        if !self.min_val.is_empty() && self.min_val.len() != channels {
            return Err(QuantError::invalid(
                op,
                format!(
                    "saw {} channels before, now {channels} (shape {:?})",
                    self.min_val.len(),
                    x.shape()
                ),
            ));
        }
        let values = float_values(op, x)?;
        let inner: usize = x.shape()[axis + 1..].iter().product();
        let mut lo = vec![f32::INFINITY; channels];
        let mut hi = vec![f32::NEG_INFINITY; channels];
        for (i, &v) in values.iter().enumerate() {
            let c = (i / inner.max(1)) % channels.max(1);
            lo[c] = lo[c].min(v);
            hi[c] = hi[c].max(v);
        }
        if self.min_val.is_empty() {
            (self.min_val, self.max_val) = (lo, hi);
        } else if let Some(a) = self.averaging_constant {
            for c in 0..channels {
                self.min_val[c] += a * (lo[c] - self.min_val[c]);
                self.max_val[c] += a * (hi[c] - self.max_val[c]);
            }
        } else {
            for c in 0..channels {
                self.min_val[c] = self.min_val[c].min(lo[c]);
                self.max_val[c] = self.max_val[c].max(hi[c]);
            }
        }
        Ok(())
    }

    fn calculate_qparams(&self) -> Result<(Tensor, Tensor)> {
        if self.min_val.is_empty() {
            return Err(QuantError::invalid(
                "calculate_qparams",
                "the observer has seen no data: run it on calibration inputs first",
            ));
        }
        let (s, z) = calculate_qparams(&self.options, &self.min_val, &self.max_val)?;
        as_tensors(s, z)
    }

    fn options(&self) -> &ObserverOptions {
        &self.options
    }
}

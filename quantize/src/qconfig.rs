//! Qconfigs: which observers watch activations and weights
//! (`torch.ao.quantization.QConfig`), with PyTorch's x86 defaults.

use crate::error::{QuantError, Result};
use crate::histogram::HistogramObserver;
use crate::observer::{
    MinMaxObserver, MovingAverageMinMaxObserver, Observer, ObserverOptions,
    PerChannelMinMaxObserver, QScheme,
};
use crate::qtensor::QDtype;

/// An observer to build, with its arguments (PyTorch's
/// `Observer.with_args(...)`).
#[derive(Clone, Debug, PartialEq)]
pub enum ObserverKind {
    /// [`MinMaxObserver`].
    MinMax(ObserverOptions),
    /// [`MovingAverageMinMaxObserver`] with its averaging constant.
    MovingAverageMinMax(ObserverOptions, f64),
    /// [`PerChannelMinMaxObserver`] along an axis.
    PerChannelMinMax(ObserverOptions, i64),
    /// `MovingAveragePerChannelMinMaxObserver` (axis, averaging constant).
    MovingAveragePerChannelMinMax(ObserverOptions, i64, f64),
    /// [`HistogramObserver`] with its number of bins.
    Histogram(ObserverOptions, usize),
}

impl ObserverKind {
    /// A fresh observer.
    pub fn build(&self) -> Result<Box<dyn Observer + Send>> {
        Ok(match self {
            ObserverKind::MinMax(o) => Box::new(MinMaxObserver::new(*o)?),
            ObserverKind::MovingAverageMinMax(o, c) => {
                Box::new(MovingAverageMinMaxObserver::new(*o, *c)?)
            }
            ObserverKind::PerChannelMinMax(o, axis) => {
                Box::new(PerChannelMinMaxObserver::new(*o, *axis)?)
            }
            ObserverKind::MovingAveragePerChannelMinMax(o, axis, c) => {
                Box::new(PerChannelMinMaxObserver::moving_average(*o, *axis, *c)?)
            }
            ObserverKind::Histogram(o, bins) => Box::new(HistogramObserver::new(*o, *bins)?),
        })
    }

    /// The observer's options.
    pub fn options(&self) -> &ObserverOptions {
        match self {
            ObserverKind::MinMax(o)
            | ObserverKind::MovingAverageMinMax(o, _)
            | ObserverKind::PerChannelMinMax(o, _)
            | ObserverKind::MovingAveragePerChannelMinMax(o, _, _)
            | ObserverKind::Histogram(o, _) => o,
        }
    }

    /// The channel axis of a per-channel observer.
    pub fn ch_axis(&self) -> Option<i64> {
        match self {
            ObserverKind::PerChannelMinMax(_, axis)
            | ObserverKind::MovingAveragePerChannelMinMax(_, axis, _) => Some(*axis),
            _ => None,
        }
    }
}

/// How a model is quantized: the observer of every quantized activation
/// and of every weight; with `fake_quant`, both are wrapped in
/// [`FakeQuantize`](crate::FakeQuantize) for quantization-aware training.
#[derive(Clone, Debug, PartialEq)]
pub struct QConfig {
    /// Activations (quint8, per tensor).
    pub activation: ObserverKind,
    /// Weights (qint8, per tensor or per output channel).
    pub weight: ObserverKind,
    /// Whether training simulates the rounding (`prepare_qat`).
    pub fake_quant: bool,
}

fn check_backend(op: &'static str, backend: &str) -> Result<()> {
    match backend {
        "x86" | "fbgemm" => Ok(()),
        other => Err(QuantError::invalid(
            op,
            format!("unknown backend {other:?} (torchlet implements x86, also called fbgemm)"),
        )),
    }
}

/// PyTorch's `default_per_channel_weight_observer` options: qint8,
/// symmetric per output channel, full range.
fn weight_options() -> ObserverOptions {
    ObserverOptions {
        dtype: QDtype::QInt8,
        qscheme: QScheme::PerChannelSymmetric,
        ..ObserverOptions::default()
    }
}

/// x86 activations: quint8, affine, 7-bit (`reduce_range=True`, so
/// `u8 × s8` pair sums never saturate an i16).
fn activation_options() -> ObserverOptions {
    ObserverOptions {
        reduce_range: true,
        ..ObserverOptions::default()
    }
}

/// `torch.ao.quantization.get_default_qconfig("x86")`: a histogram
/// observer on activations (quint8, `reduce_range=True`, 2048 bins) and a
/// per-channel symmetric qint8 min/max observer on weights. `"fbgemm"`
/// gives the same.
pub fn get_default_qconfig(backend: &str) -> Result<QConfig> {
    check_backend("get_default_qconfig", backend)?;
    Ok(QConfig {
        activation: ObserverKind::Histogram(activation_options(), 2048),
        weight: ObserverKind::PerChannelMinMax(weight_options(), 0),
        fake_quant: false,
    })
}

/// `torch.ao.quantization.get_default_qat_qconfig("x86")`: fake
/// quantization with a moving-average min/max observer (constant 0.01) on
/// activations (quint8, `reduce_range=True`) and a moving-average
/// per-channel symmetric one on weights (qint8).
pub fn get_default_qat_qconfig(backend: &str) -> Result<QConfig> {
    check_backend("get_default_qat_qconfig", backend)?;
    Ok(QConfig {
        activation: ObserverKind::MovingAverageMinMax(activation_options(), 0.01),
        weight: ObserverKind::MovingAveragePerChannelMinMax(weight_options(), 0, 0.01),
        fake_quant: true,
    })
}

/// `torch.ao.quantization.per_channel_dynamic_qconfig`'s weight observer
/// for [`quantize_dynamic`](crate::quantize_dynamic)-style int8 weights
/// (qint8, symmetric per output channel); activations are quantized per
/// batch from their own range, so they need no observer.
pub fn default_dynamic_weight_observer() -> ObserverKind {
    ObserverKind::PerChannelMinMax(weight_options(), 0)
}

//! Thread-local switches: gradient recording (`no_grad`) and anomaly
//! detection.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static ANOMALY: Cell<bool> = const { Cell::new(false) };
}

/// Whether ops on this thread record a graph (`torch.is_grad_enabled`).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` with gradient recording off on this thread (`torch.no_grad()`):
/// ops inside build no graph and cost no more than tensor ops.
///
/// ```
/// use torchlet_autograd::{no_grad, Variable};
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::ones(&[2]));
/// let y = no_grad(|| w.mul_scalar(2.0));
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = GradModeGuard::new(false);
    f()
}

/// Runs `f` with gradient recording on (`torch.enable_grad()`).
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = GradModeGuard::new(true);
    f()
}

/// Sets gradient recording on this thread until dropped, then restores the
/// previous setting.
#[must_use = "the mode is restored when the guard is dropped"]
pub struct GradModeGuard {
    previous: bool,
}

impl GradModeGuard {
    /// Turns recording on (`true`) or off (`false`) for the guard's lifetime.
    pub fn new(enabled: bool) -> GradModeGuard {
        let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
        GradModeGuard { previous }
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Turns anomaly detection on or off for this thread
/// (`torch.autograd.set_detect_anomaly`): while on, a backward pass that
/// produces a NaN or infinite gradient fails with an error naming the op.
pub fn set_detect_anomaly(enabled: bool) {
    ANOMALY.with(|a| a.set(enabled));
}

/// Whether anomaly detection is on for this thread.
pub fn is_anomaly_enabled() -> bool {
    ANOMALY.with(|a| a.get())
}

/// Runs `f` with anomaly detection on (`torch.autograd.detect_anomaly()`).
pub fn detect_anomaly<R>(f: impl FnOnce() -> R) -> R {
    let previous = ANOMALY.with(|a| a.replace(true));
    let out = f();
    ANOMALY.with(|a| a.set(previous));
    out
}

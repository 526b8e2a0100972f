//! What the code `#[derive(Module)]` writes calls (reached as
//! `torchlet_nn::__derive`); not a public API.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

pub use torchlet_autograd::Variable;

/// A `#[param]` or `#[buffer]` field's value (a clone of the handle);
/// a field of another type fails to compile here, at the field.
pub fn variable(v: &Variable) -> Variable {
    v.clone()
}

/// A `#[module(training)]` field: a module's own training flag.
pub trait TrainingFlag {
    /// Sets the flag.
    fn set_flag(&self, training: bool);
    /// The flag.
    fn flag(&self) -> bool;
}

impl TrainingFlag for AtomicBool {
    fn set_flag(&self, training: bool) {
        self.store(training, Ordering::Relaxed);
    }
    fn flag(&self) -> bool {
        self.load(Ordering::Relaxed)
    }
}

impl TrainingFlag for Cell<bool> {
    fn set_flag(&self, training: bool) {
        self.set(training);
    }
    fn flag(&self) -> bool {
        self.get()
    }
}

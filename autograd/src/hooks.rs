//! Post-accumulate-grad hooks (`Tensor.register_post_accumulate_grad_hook`):
//! functions a leaf runs right after `backward` has accumulated its
//! gradient, in the order registered. Data-parallel training starts a
//! bucket's all-reduce from them, while the rest of backward still runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use crate::error::{AutogradError, Result};
use crate::variable::{Inner, Variable};

/// A hook: called with the leaf once its gradient for this backward is
/// accumulated; an error stops the backward and is returned by it.
pub(crate) type Hook = Arc<dyn Fn(&Variable) -> Result<()> + Send + Sync>;

/// Hook ids, unique in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Removes the hook it was returned for (`handle.remove()` in PyTorch).
/// Dropping the handle keeps the hook.
#[derive(Debug)]
#[must_use = "a hook stays registered until `remove` is called; drop the handle to keep it"]
pub struct RemovableHandle {
    owner: Weak<Inner>,
    id: u64,
}

impl RemovableHandle {
    /// Unregisters the hook (a no-op if the variable is gone or the hook
    /// was removed already).
    pub fn remove(self) {
        if let Some(inner) = self.owner.upgrade() {
            inner
                .hooks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(id, _)| *id != self.id);
        }
    }
}

impl Variable {
    /// Registers `hook` to run after each `backward` has accumulated this
    /// leaf's gradient (PyTorch's `register_post_accumulate_grad_hook`);
    /// the hook sees the updated [`grad`](Variable::grad). Only a leaf
    /// that requires grad accepts one, as in PyTorch.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use torchlet_autograd::Variable;
    /// use torchlet_tensor::Tensor;
    /// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
    /// let w = Variable::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2])?);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let handle = w.register_post_accumulate_grad_hook(move |p| {
    ///     log.lock().unwrap().push(p.grad().unwrap().to_vec::<f32>()?);
    ///     Ok(())
    /// })?;
    /// w.mul(&w)?.sum().backward()?;
    /// assert_eq!(*seen.lock().unwrap(), vec![vec![2.0, 4.0]]);
    /// handle.remove();
    /// w.sum().backward()?;
    /// assert_eq!(seen.lock().unwrap().len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn register_post_accumulate_grad_hook(
        &self,
        hook: impl Fn(&Variable) -> Result<()> + Send + Sync + 'static,
    ) -> Result<RemovableHandle> {
        const OP: &str = "register_post_accumulate_grad_hook";
        if !self.is_leaf() {
            return Err(AutogradError::graph(
                OP,
                format!(
                    "post accumulate grad hooks cannot be registered on non-leaf tensors (this one was made by `{}`)",
                    self.grad_fn().unwrap_or("an op")
                ),
            ));
        }
        if !self.requires_grad() {
            return Err(AutogradError::graph(
                OP,
                "cannot register a hook on a tensor that doesn't require gradient",
            ));
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, Arc::new(hook)));
        Ok(RemovableHandle {
            owner: Arc::downgrade(&self.inner),
            id,
        })
    }

    /// Runs the post-accumulate-grad hooks (outside the lock, so a hook
    /// may register or remove hooks).
    pub(crate) fn run_post_accumulate_grad_hooks(&self) -> Result<()> {
        let hooks: Vec<Hook> = {
            let list = self.inner.hooks.lock().unwrap_or_else(|e| e.into_inner());
            if list.is_empty() {
                return Ok(());
            }
            list.iter().map(|(_, h)| Arc::clone(h)).collect()
        };
        hooks.iter().try_for_each(|h| h(self))
    }
}

/// The ids ([`Variable::id`]) of the leaves requiring grad that a
/// backward from `outputs` would reach through the recorded graph: what
/// `DistributedDataParallel(find_unused_parameters=True)` walks to find
/// the parameters a forward did not use.
///
/// ```
/// use torchlet_autograd::{reachable_leaves, Variable};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// let (a, b) = (Variable::parameter(Tensor::ones(&[2])), Variable::parameter(Tensor::ones(&[2])));
/// let y = a.mul_scalar(3.0).sum();
/// let seen = reachable_leaves(&[&y]);
/// assert!(seen.contains(&a.id()) && !seen.contains(&b.id()));
/// # Ok(())
/// # }
/// ```
pub fn reachable_leaves(outputs: &[&Variable]) -> std::collections::HashSet<usize> {
    let mut leaves = std::collections::HashSet::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<Variable> = outputs.iter().map(|v| (*v).clone()).collect();
    while let Some(v) = stack.pop() {
        if !v.requires_grad() || !seen.insert(v.id()) {
            continue;
        }
        match &v.inner.node {
            None => {
                leaves.insert(v.id());
            }
            Some(node) => {
                let state = node.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(state) = state.as_ref() {
                    stack.extend(state.inputs.iter().cloned());
                }
            }
        }
    }
    leaves
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;
    use torchlet_tensor::Tensor;

    #[test]
    fn hooks_run_once_per_backward_after_every_contribution_is_summed() {
        let w = Variable::parameter(Tensor::from_vec(vec![3.0f32], &[1]).unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let _keep = w
            .register_post_accumulate_grad_hook(move |p| {
                log.lock().unwrap().push(p.grad().unwrap().item::<f32>()?);
                Ok(())
            })
            .unwrap();
        // w is used three times: the hook sees the sum, d(w² + w)/dw = 7.
        let y = w.mul(&w).unwrap().add(&w).unwrap().sum();
        y.backward().unwrap();
        // A second backward accumulates: 7 + 7.
        let y = w.mul(&w).unwrap().add(&w).unwrap().sum();
        y.backward().unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![7.0, 14.0]);
    }

    #[test]
    fn hooks_run_in_registration_order_and_errors_stop_backward() {
        let w = Variable::parameter(Tensor::ones(&[2]));
        let order = Arc::new(Mutex::new(Vec::new()));
        for k in 0..3 {
            let order = Arc::clone(&order);
            let _ = w.register_post_accumulate_grad_hook(move |_| {
                order.lock().unwrap().push(k);
                Ok(())
            });
        }
        w.sum().backward().unwrap();
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
        let failing = w
            .register_post_accumulate_grad_hook(|_| {
                Err(AutogradError::graph("all_reduce", "rank 1 stopped"))
            })
            .unwrap();
        let err = w.sum().backward().unwrap_err().to_string();
        assert!(err.contains("rank 1 stopped"), "{err}");
        failing.remove();
        w.sum().backward().unwrap();
    }

    #[test]
    fn only_leaves_that_require_grad_take_hooks() {
        let c = Variable::constant(Tensor::ones(&[2]));
        let err = c
            .register_post_accumulate_grad_hook(|_| Ok(()))
            .unwrap_err();
        assert!(
            err.to_string().contains("doesn't require gradient"),
            "{err}"
        );
        let w = Variable::parameter(Tensor::ones(&[2]));
        let y = w.mul_scalar(2.0);
        let err = y
            .register_post_accumulate_grad_hook(|_| Ok(()))
            .unwrap_err();
        assert!(err.to_string().contains("non-leaf"), "{err}");
        // Hooks do not run for autograd::grad, which touches no .grad.
        let calls = Arc::new(AtomicUsize::new(0));
        let n = Arc::clone(&calls);
        let _keep = w
            .register_post_accumulate_grad_hook(move |_| {
                n.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
        let s = w.sum();
        crate::grad(&[&s], &[&w], None, false, false).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}

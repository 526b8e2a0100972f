//! [`Variable`]: a tensor plus, when it requires grad, the node that made it.

use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use torchlet_tensor::{DType, Element, Tensor};

use crate::error::Result;
use crate::graph::Node;
use crate::sparse_grad::{Gradient, SparseGrad};

/// A tensor that autograd can differentiate through (PyTorch's tensor with
/// `requires_grad`).
///
/// Leaves are created with [`Variable::parameter`] (requires grad) or
/// [`Variable::constant`]; every op on variables returns a new variable
/// that remembers, when any input requires grad and recording is on, the
/// op's backward and its inputs. [`Variable::backward`] walks that graph
/// once in reverse and accumulates gradients into the leaves' `grad`.
/// Cloning is cheap and shares everything (data, grad, node).
///
/// **Operators.** `+ - * /` work for every owned/borrowed pair of
/// variables, between a variable and a [`Tensor`] (the tensor is a
/// constant, so a batch mixes with parameters: `&w * &x`), and with `f32`
/// or `f64` numbers on either side (`&x * 2.0`, `1.0 - &x`); unary `-`
/// too. An operator panics with the op's message when shapes don't
/// broadcast: call the method (`a.add(&b)?`) for a `Result`. Comparisons
/// (`eq`, `lt`, `gt`) and [`pow`](Variable::pow) take a variable, a
/// tensor or a number ([`VarOperand`](crate::VarOperand)).
///
/// **Conversions.** `Variable::from(tensor)` and `(&tensor).into()` make a
/// constant sharing the tensor's buffer; APIs that take
/// `impl Into<Variable>` (`Module::call`, the losses' `forward`) accept a
/// `Tensor`, a `&Tensor` or a `&Variable`.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// let x = Variable::parameter(Tensor::from_vec(vec![2.0f32, 3.0], &[2])?);
/// let y = x.mul(&x)?.sum(); // y = x0² + x1²
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().to_vec::<f32>()?, vec![4.0, 6.0]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Variable {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) data: RwLock<Tensor>,
    pub(crate) requires_grad: bool,
    pub(crate) grad: Mutex<Option<Gradient>>,
    pub(crate) node: Option<Arc<Node>>,
    /// Post-accumulate-grad hooks with their ids (see `hooks.rs`).
    pub(crate) hooks: Mutex<Vec<(u64, crate::hooks::Hook)>>,
}

impl Variable {
    fn build(data: Tensor, requires_grad: bool, node: Option<Arc<Node>>) -> Variable {
        Variable {
            inner: Arc::new(Inner {
                data: RwLock::new(data),
                requires_grad,
                grad: Mutex::new(None),
                node,
                hooks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A leaf that does not require grad (inputs, targets).
    pub fn constant(data: Tensor) -> Variable {
        Variable::build(data, false, None)
    }

    /// A leaf that requires grad (a parameter: `torch.tensor(..., requires_grad=True)`).
    /// Gradients of float leaves only make sense, as in PyTorch.
    pub fn parameter(data: Tensor) -> Variable {
        Variable::build(data, true, None)
    }

    /// A leaf, requiring grad or not.
    pub fn new(data: Tensor, requires_grad: bool) -> Variable {
        Variable::build(data, requires_grad, None)
    }

    /// The result of an op: requires grad, made by `node`.
    pub(crate) fn from_node(data: Tensor, node: Arc<Node>) -> Variable {
        Variable::build(data, true, Some(node))
    }

    /// The value (a cheap handle on the same storage).
    pub fn data(&self) -> Tensor {
        self.inner
            .data
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the value of a leaf without recording anything (what an
    /// optimizer step does). Fails on a non-leaf, whose value the graph
    /// depends on.
    pub fn set_data(&self, data: Tensor) -> Result<()> {
        if !self.is_leaf() {
            return Err(crate::AutogradError::graph(
                "set_data",
                "only the value of a leaf variable can be replaced",
            ));
        }
        *self.inner.data.write().unwrap_or_else(|e| e.into_inner()) = data;
        Ok(())
    }

    /// Updates a leaf's value in place through `f` (an optimizer's
    /// `p.add_(...)`); the tensor's buffer is reused when nothing else
    /// holds it, so graphs recorded earlier keep the old values.
    pub fn update_data<R>(&self, f: impl FnOnce(&mut Tensor) -> R) -> Result<R> {
        if !self.is_leaf() {
            return Err(crate::AutogradError::graph(
                "update_data",
                "only the value of a leaf variable can be updated",
            ));
        }
        let mut guard = self.inner.data.write().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut guard))
    }

    /// `self += alpha * other` on a leaf's value, outside the graph:
    /// PyTorch's `with torch.no_grad(): p.add_(other, alpha=alpha)`.
    /// `other` is a tensor or a variable (its value is read).
    pub fn add_scaled_<'a>(
        &self,
        other: impl Into<crate::VarOperand<'a>>,
        alpha: f64,
    ) -> Result<()> {
        let other = match other.into() {
            crate::VarOperand::Variable(v) => v.data(),
            crate::VarOperand::Tensor(t) => t.clone(),
            number => number.to_variable(self).data(),
        };
        Ok(self.update_data(|w| w.add_scaled_(&other, alpha))??)
    }

    /// `self -= alpha * other` on a leaf's value, outside the graph — the
    /// hand-written SGD step `p.sub_scaled_(&p.grad().unwrap(), lr)`, as
    /// PyTorch's `with torch.no_grad(): p -= lr * p.grad`.
    ///
    /// ```
    /// use torchlet_autograd::Variable;
    /// use torchlet_tensor::Tensor;
    /// let w = Variable::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap());
    /// w.pow(2).unwrap().sum().backward().unwrap(); // grad = 2w
    /// w.sub_scaled_(&w.grad().unwrap(), 0.25).unwrap();
    /// assert_eq!(w.to_vec::<f32>().unwrap(), [0.5, 1.0]);
    /// ```
    pub fn sub_scaled_<'a>(
        &self,
        other: impl Into<crate::VarOperand<'a>>,
        alpha: f64,
    ) -> Result<()> {
        self.add_scaled_(other, -alpha)
    }

    /// Whether gradients flow to this variable.
    pub fn requires_grad(&self) -> bool {
        self.inner.requires_grad
    }

    /// Whether this variable was created by the user rather than by an op.
    pub fn is_leaf(&self) -> bool {
        self.inner.node.is_none()
    }

    /// The name of the op that made this variable (`grad_fn`), if any.
    pub fn grad_fn(&self) -> Option<&'static str> {
        self.inner.node.as_ref().map(|n| n.op)
    }

    /// The accumulated gradient of a leaf (`x.grad`), if any; a sparse
    /// gradient (see [`Variable::sparse_grad`]) comes densified.
    pub fn grad(&self) -> Option<Tensor> {
        self.grad_variable().map(|g| g.data())
    }

    /// The accumulated gradient as a variable (with a graph of its own when
    /// `backward` ran with `create_graph`); a sparse gradient comes
    /// densified, without a graph.
    pub fn grad_variable(&self) -> Option<Variable> {
        match self.gradient()? {
            Gradient::Dense(v) => Some(v),
            Gradient::Sparse(s) => Some(Variable::constant(s.to_dense().ok()?)),
        }
    }

    /// The accumulated gradient as it is stored, dense or sparse.
    pub fn gradient(&self) -> Option<Gradient> {
        self.inner
            .grad
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The accumulated gradient when it is sparse (`x.grad.is_sparse`),
    /// as an `Embedding` with `sparse = true` leaves on its weight.
    pub fn sparse_grad(&self) -> Option<SparseGrad> {
        match self.gradient()? {
            Gradient::Sparse(s) => Some(s),
            Gradient::Dense(_) => None,
        }
    }

    /// Whether the accumulated gradient is sparse.
    pub fn has_sparse_grad(&self) -> bool {
        matches!(
            *self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()),
            Some(Gradient::Sparse(_))
        )
    }

    /// Clears the accumulated gradient (`x.grad = None`).
    pub fn zero_grad(&self) {
        *self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Sets the accumulated gradient (used by gradient clipping and tests).
    pub fn set_grad(&self, grad: Option<Tensor>) {
        *self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()) =
            grad.map(|g| Gradient::Dense(Variable::constant(g)));
    }

    /// Sets the accumulated gradient to a sparse one (gradient clipping of
    /// a sparse gradient, tests).
    pub fn set_sparse_grad(&self, grad: SparseGrad) {
        *self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()) = Some(Gradient::Sparse(grad));
    }

    /// Adds `g` to the accumulated gradient.
    pub(crate) fn accumulate_grad(&self, g: Gradient) -> Result<()> {
        let mut slot = self.inner.grad.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(match slot.take() {
            None => g,
            Some(old) => old.accumulate(g)?,
        });
        Ok(())
    }

    /// The same value cut from the graph (`x.detach()`): a leaf that does not
    /// require grad and shares the storage.
    pub fn detach(&self) -> Variable {
        Variable::constant(self.data())
    }

    /// A detached leaf that requires grad (`x.detach().requires_grad_()`).
    pub fn detach_requiring_grad(&self) -> Variable {
        Variable::parameter(self.data())
    }

    /// Identity of the underlying variable (for maps in the engine).
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// An identity for this variable and its clones, unique among the
    /// variables alive at the same time (what tracers key values by).
    pub fn id(&self) -> usize {
        self.key()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.with_data(|t| t.shape().to_vec())
    }

    /// Runs `f` on the value without cloning the handle.
    pub fn with_data<R>(&self, f: impl FnOnce(&Tensor) -> R) -> R {
        f(&self.inner.data.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Runs `f` on the values of `self` and `other` without cloning either
    /// handle (the same variable twice takes its lock once).
    pub(crate) fn with_data2<R>(
        &self,
        other: &Variable,
        f: impl FnOnce(&Tensor, &Tensor) -> R,
    ) -> R {
        if Arc::ptr_eq(&self.inner, &other.inner) {
            self.with_data(|a| f(a, a))
        } else {
            self.with_data(|a| other.with_data(|b| f(a, b)))
        }
    }

    /// Whether the value has exactly this shape (no allocation).
    pub fn has_shape(&self, shape: &[usize]) -> bool {
        self.with_data(|t| t.shape() == shape)
    }

    /// Number of dimensions.
    pub fn dim(&self) -> usize {
        self.with_data(|t| t.dim())
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.with_data(|t| t.numel())
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.with_data(|t| t.dtype())
    }

    /// Whether both values have the same shape and equal elements
    /// (`torch.equal`).
    pub fn equal(&self, other: &Variable) -> bool {
        self.with_data(|a| other.with_data(|b| a.equal(b)))
    }

    /// The value of a one-element variable (`loss.item()`).
    pub fn item<T: Element>(&self) -> Result<T> {
        crate::trace::note_read("item", self.id());
        Ok(self.with_data(|t| t.item::<T>())?)
    }

    /// The elements in row-major order.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        crate::trace::note_read("to_vec", self.id());
        Ok(self.data().to_vec::<T>()?)
    }
}

impl From<Tensor> for Variable {
    /// A constant leaf.
    fn from(t: Tensor) -> Variable {
        Variable::constant(t)
    }
}

impl From<&Tensor> for Variable {
    /// A constant leaf sharing the tensor's buffer (no copy), so a batch
    /// from a `DataLoader` goes straight into `module.call(&x)` or a loss.
    fn from(t: &Tensor) -> Variable {
        Variable::constant(t.clone())
    }
}

impl From<&Variable> for Variable {
    /// Another handle to the same variable (gradients still reach it).
    fn from(v: &Variable) -> Variable {
        v.clone()
    }
}

impl From<&&Tensor> for Variable {
    /// As `From<&Tensor>` (a `&Tensor` variable passed by reference).
    fn from(t: &&Tensor) -> Variable {
        Variable::constant((*t).clone())
    }
}

impl From<&&Variable> for Variable {
    /// As `From<&Variable>`.
    fn from(v: &&Variable) -> Variable {
        (*v).clone()
    }
}

impl fmt::Display for Variable {
    /// Like PyTorch: the tensor, then `grad_fn=<...>` or `requires_grad=True`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.with_data(|t| t.to_string());
        let suffix = match (self.grad_fn(), self.requires_grad()) {
            (Some(op), _) => format!(", grad_fn=<{op}>"),
            (None, true) => ", requires_grad=True".to_string(),
            (None, false) => String::new(),
        };
        match s.strip_suffix(')') {
            Some(body) if !suffix.is_empty() => write!(f, "{body}{suffix})"),
            _ => f.write_str(&s),
        }
    }
}

impl fmt::Debug for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

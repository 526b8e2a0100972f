//! Operator conformance against PyTorch.
//!
//! Reads a case file in the `conformance-cases/1` format (see
//! `conformance/README.md`), runs every case whose op is mapped in
//! [`forward`], and compares the result with PyTorch's: exact shape and dtype,
//! values within `atol + rtol * |want|` (NaN equals NaN, bool as 0/1, i64
//! exactly). Cases that carry `grads` are then run again through autograd
//! ([`forward_var`], the same table over [`Variable`]s): float inputs become
//! parameters, `sum(output * grad_output)` is backpropagated, and every
//! non-null expected gradient is compared the same way. It prints
//! `FAIL <id>: <why>` for each failing case and, last,
//! `conformance: N passed, M failed, K not implemented`. The test fails when
//! any case fails, and when any case's op has no mapping, unless that op is
//! in [`NOT_IMPLEMENTED_ALLOWED`] with the reason it may be missing: a
//! dropped mapping cannot pass unnoticed.
//!
//! The default file is the repo's `conformance/torch_ops.json`. To run the
//! same checks on another file of the same format:
//!
//! ```sh
//! CONFORMANCE_CASES=path/to/cases.json cargo test --release -p torchlet --test conformance -- --nocapture
//! ```

#[path = "conformance/cases.rs"]
mod cases;

use std::panic::{catch_unwind, AssertUnwindSafe};

use cases::{Attrs, Case, Verdict};
use torchlet::autograd::functional as AF;
use torchlet::tensor::functional as F;
use torchlet::{AutogradError, DType, Tensor, TensorError, Variable};

const DEFAULT_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/torch_ops.json");

/// Ops whose cases may go unmapped, each with the reason. Empty: every op
/// of the case files has a mapping. An op listed here must also say which
/// crate will bring it.
const NOT_IMPLEMENTED_ALLOWED: &[(&str, &str)] = &[];

/// Why running an op gave no tensor.
#[derive(Debug)]
enum RunError {
    /// The op has no entry in [`forward`] yet.
    NotImplemented,
    /// The op returned an error, or the case is malformed.
    Failed(String),
}

impl From<TensorError> for RunError {
    fn from(e: TensorError) -> Self {
        RunError::Failed(e.to_string())
    }
}

impl From<AutogradError> for RunError {
    fn from(e: AutogradError) -> Self {
        RunError::Failed(e.to_string())
    }
}

impl From<String> for RunError {
    fn from(e: String) -> Self {
        RunError::Failed(e)
    }
}

/// Runs `op` on the inputs `x` with the attributes `a`: the whole mapping
/// from PyTorch's op names and keyword arguments to torchlet's API.
/// Defaults of absent attributes are PyTorch's.
#[rustfmt::skip]
fn forward(op: &str, a: &Attrs, x: &[Tensor]) -> Result<Tensor, RunError> {
    // The functional API (linear, losses, cells) is written once, over
    // variables: on plain tensors it takes constants.
    let c = |i: usize| Variable::constant(x[i].clone());
    let oc = |i: usize| x.get(i).map(|t| Variable::constant(t.clone()));
    Ok(match op {
        // elementwise binary, broadcasting
        "add"         => x[0].add(&x[1])?,
        "sub"         => x[0].sub(&x[1])?,
        "mul"         => x[0].mul(&x[1])?,
        "div"         => x[0].div(&x[1])?,
        "pow"         => x[0].pow(&x[1])?,
        "maximum"     => x[0].maximum(&x[1])?,
        "minimum"     => x[0].minimum(&x[1])?,
        "eq"          => x[0].eq(&x[1])?,
        "lt"          => x[0].lt(&x[1])?,
        "gt"          => x[0].gt(&x[1])?,

        // elementwise unary
        "neg"         => x[0].neg(),
        "abs"         => x[0].abs(),
        "exp"         => x[0].exp(),
        "log"         => x[0].log(),
        "log1p"       => x[0].log1p(),
        "sqrt"        => x[0].sqrt(),
        "rsqrt"       => x[0].rsqrt(),
        "sin"         => x[0].sin(),
        "cos"         => x[0].cos(),
        "tanh"        => x[0].tanh(),
        "sigmoid"     => x[0].sigmoid(),
        "relu"        => x[0].relu(),
        "silu"        => x[0].silu(),
        "softplus"    => x[0].softplus(),
        "reciprocal"  => x[0].reciprocal(),
        "square"      => x[0].square(),
        "gelu"        => match a.str_or("approximate", "none")? {
                             "none" => x[0].gelu(),
                             "tanh" => x[0].gelu_tanh(),
                             other => return Err(bad(format!("gelu: unknown approximate {other:?}"))),
                         },
        "leaky_relu"  => x[0].leaky_relu(a.float_or("negative_slope", 0.01)?),
        "elu"         => x[0].elu(a.float_or("alpha", 1.0)?),
        "clamp"       => x[0].clamp(a.float_or("min", f64::NEG_INFINITY)?, a.float_or("max", f64::INFINITY)?),

        // reductions; no `dim` means over all elements
        "sum"         => match opt_dim(a)? {
                             None => x[0].sum(),
                             Some(d) if keepdim(a)? => x[0].sum_keepdim(d)?,
                             Some(d) => x[0].sum_dim(d)?,
                         },
        "mean"        => match opt_dim(a)? {
                             None => x[0].mean(),
                             Some(d) if keepdim(a)? => x[0].mean_keepdim(d)?,
                             Some(d) => x[0].mean_dim(d)?,
                         },
        "max"         => { let (t, d, k) = reduced(a, &x[0])?; t.max_dim(d, k)?.0 }
        "min"         => { let (t, d, k) = reduced(a, &x[0])?; t.min_dim(d, k)?.0 }
        "argmax"      => { let (t, d, k) = reduced(a, &x[0])?; if k { t.argmax_keepdim(d)? } else { t.argmax(d)? } }
        "prod"        => { let (t, d, k) = reduced(a, &x[0])?; t.prod_dim(d, k)? }
        "var"         => { let (t, d, k) = reduced(a, &x[0])?; t.var_dim(d, a.usize_or("correction", 1)?, k)? }
        "std"         => { let (t, d, k) = reduced(a, &x[0])?; t.std_dim(d, a.usize_or("correction", 1)?, k)? }
        "logsumexp"   => x[0].logsumexp(a.int("dim")?, keepdim(a)?)?,
        "softmax"     => x[0].softmax(a.int("dim")?)?,
        "log_softmax" => x[0].log_softmax(a.int("dim")?)?,

        // views and shape ops
        "reshape"     => x[0].reshape(&a.ints("shape")?)?,
        "flatten"     => x[0].flatten(a.int_or("start_dim", 0)?, a.int_or("end_dim", -1)?)?,
        "transpose"   => x[0].transpose(a.int("dim0")?, a.int("dim1")?)?,
        "permute"     => x[0].permute(&a.ints("dims")?)?,
        "squeeze"     => match opt_dim(a)? {
                             Some(d) => x[0].squeeze(d)?,
                             None => x[0].squeeze_all(),
                         },
        "unsqueeze"   => x[0].unsqueeze(a.int("dim")?)?,
        "expand"      => x[0].expand(&a.ints("shape")?)?,
        "narrow"      => x[0].narrow(a.int("dim")?, a.int("start")?, a.usize("length")?)?,
        "cat"         => Tensor::cat(x, a.int_or("dim", 0)?)?,
        "stack"       => Tensor::stack(x, a.int_or("dim", 0)?)?,

        // indexing and selection
        "index_select" => x[0].index_select(a.int("dim")?, &x[1])?,
        "gather"      => x[0].gather(a.int("dim")?, &x[1])?,
        "where"       => Tensor::where_cond(&x[0], &x[1], &x[2])?,
        "masked_fill" => x[0].masked_fill(&x[1], a.float("value")?)?,

        // linear algebra
        "matmul"      => x[0].matmul(&x[1])?,
        "linear"      => AF::linear(&c(0), &c(1), oc(2).as_ref())?.data(),

        // convolution and pooling (one int per spatial dim, or a list)
        "conv1d"      => x[0].conv1d(&x[1], x.get(2), a.usize_or("stride", 1)?, a.usize_or("padding", 0)?,
                                     a.usize_or("dilation", 1)?, a.usize_or("groups", 1)?)?,
        "conv2d"      => x[0].conv2d(&x[1], x.get(2), a.pair_or("stride", 1)?, a.pair_or("padding", 0)?,
                                     a.pair_or("dilation", 1)?, a.usize_or("groups", 1)?)?,
        "max_pool2d"  => { let (k, s, p) = pool2d(a)?; x[0].max_pool2d(k, s, p)? }
        "avg_pool2d"  => { let (k, s, p) = pool2d(a)?; x[0].avg_pool2d(k, s, p)? }
        "adaptive_avg_pool2d" => x[0].adaptive_avg_pool2d(a.pair("output_size")?)?,

        // normalization
        "batch_norm"  => batch_norm(a, x)?,
        "layer_norm"  => x[0].layer_norm(&a.usizes("normalized_shape")?, x.get(1), x.get(2), a.float_or("eps", 1e-5)?)?,

        // embeddings and losses (optional weight inputs come after the target)
        "embedding"   => AF::embedding(&x[0], &c(1))?.data(),
        "cross_entropy" => AF::cross_entropy(&c(0), &x[1], x.get(2), a.int_or("ignore_index", -100)?,
                                             reduction(a)?, a.float_or("label_smoothing", 0.0)?)?.data(),
        "nll_loss"    => AF::nll_loss(&c(0), &x[1], x.get(2), a.int_or("ignore_index", -100)?, reduction(a)?)?.data(),
        "mse_loss"    => AF::mse_loss(&c(0), &c(1), reduction(a)?)?.data(),
        "binary_cross_entropy" => F::binary_cross_entropy(&x[0], &x[1], x.get(2), reduction(a)?)?,
        "binary_cross_entropy_with_logits" =>
                         F::binary_cross_entropy_with_logits(&x[0], &x[1], x.get(2), x.get(3), reduction(a)?)?,

        // recurrent cells: x, h, (c,) w_ih, w_hh, b_ih, b_hh
        "rnn_tanh_cell" => AF::rnn_tanh_cell(&c(0), &c(1), &c(2), &c(3), oc(4).as_ref(), oc(5).as_ref())?.data(),
        "lstm_cell"   => { let (h, cn) = AF::lstm_cell(&c(0), &c(1), &c(2), &c(3), &c(4), oc(5).as_ref(), oc(6).as_ref())?;
                           Tensor::cat(&[h.data(), cn.data()], 1)? }
        "gru_cell"    => AF::gru_cell(&c(0), &c(1), &c(2), &c(3), oc(4).as_ref(), oc(5).as_ref())?.data(),

        _ => return Err(RunError::NotImplemented),
    })
}

/// [`forward`] over variables, through torchlet's autograd API: the same
/// ops and attributes, each mapped to the differentiable op of the same
/// name. Integer and bool inputs (indices, targets, masks) are read as
/// plain tensors; per-class weights and running statistics too.
#[rustfmt::skip]
fn forward_var(op: &str, a: &Attrs, x: &[Variable]) -> Result<Variable, RunError> {
    let t = |i: usize| x.get(i).map(Variable::data);
    Ok(match op {
        // elementwise binary, broadcasting
        "add"         => x[0].add(&x[1])?,
        "sub"         => x[0].sub(&x[1])?,
        "mul"         => x[0].mul(&x[1])?,
        "div"         => x[0].div(&x[1])?,
        "pow"         => x[0].pow(&x[1])?,
        "maximum"     => x[0].maximum(&x[1])?,
        "minimum"     => x[0].minimum(&x[1])?,
        "eq"          => x[0].eq(&x[1])?,
        "lt"          => x[0].lt(&x[1])?,
        "gt"          => x[0].gt(&x[1])?,

        // elementwise unary
        "neg"         => x[0].neg(),
        "abs"         => x[0].abs(),
        "exp"         => x[0].exp(),
        "log"         => x[0].log(),
        "log1p"       => x[0].log1p(),
        "sqrt"        => x[0].sqrt(),
        "rsqrt"       => x[0].rsqrt(),
        "sin"         => x[0].sin(),
        "cos"         => x[0].cos(),
        "tanh"        => x[0].tanh(),
        "sigmoid"     => x[0].sigmoid(),
        "relu"        => x[0].relu(),
        "silu"        => x[0].silu(),
        "softplus"    => x[0].softplus(),
        "reciprocal"  => x[0].reciprocal(),
        "square"      => x[0].square(),
        "gelu"        => match a.str_or("approximate", "none")? {
                             "none" => x[0].gelu(),
                             "tanh" => x[0].gelu_tanh(),
                             other => return Err(bad(format!("gelu: unknown approximate {other:?}"))),
                         },
        "leaky_relu"  => x[0].leaky_relu(a.float_or("negative_slope", 0.01)?),
        "elu"         => x[0].elu(a.float_or("alpha", 1.0)?),
        "clamp"       => x[0].clamp(a.float_or("min", f64::NEG_INFINITY)?, a.float_or("max", f64::INFINITY)?),

        // reductions; no `dim` means over all elements
        "sum"         => match opt_dim(a)? {
                             None => x[0].sum(),
                             Some(d) if keepdim(a)? => x[0].sum_keepdim(d)?,
                             Some(d) => x[0].sum_dim(d)?,
                         },
        "mean"        => match opt_dim(a)? {
                             None => x[0].mean(),
                             Some(d) if keepdim(a)? => x[0].mean_keepdim(d)?,
                             Some(d) => x[0].mean_dim(d)?,
                         },
        "max"         => { let (v, d, k) = reduced_var(a, &x[0])?; v.max_dim(d, k)?.0 }
        "min"         => { let (v, d, k) = reduced_var(a, &x[0])?; v.min_dim(d, k)?.0 }
        "argmax"      => { let (v, d, k) = reduced_var(a, &x[0])?; Variable::constant(if k { v.argmax_keepdim(d)? } else { v.argmax(d)? }) }
        "prod"        => { let (v, d, k) = reduced_var(a, &x[0])?; v.prod_dim(d, k)? }
        "var"         => { let (v, d, k) = reduced_var(a, &x[0])?; v.var_dim(d, a.usize_or("correction", 1)?, k)? }
        "std"         => { let (v, d, k) = reduced_var(a, &x[0])?; v.std_dim(d, a.usize_or("correction", 1)?, k)? }
        "logsumexp"   => x[0].logsumexp(a.int("dim")?, keepdim(a)?)?,
        "softmax"     => x[0].softmax(a.int("dim")?)?,
        "log_softmax" => x[0].log_softmax(a.int("dim")?)?,

        // views and shape ops
        "reshape"     => x[0].reshape(&a.ints("shape")?)?,
        "flatten"     => x[0].flatten(a.int_or("start_dim", 0)?, a.int_or("end_dim", -1)?)?,
        "transpose"   => x[0].transpose(a.int("dim0")?, a.int("dim1")?)?,
        "permute"     => x[0].permute(&a.ints("dims")?)?,
        "squeeze"     => match opt_dim(a)? {
                             Some(d) => x[0].squeeze(d)?,
                             None => x[0].squeeze_all(),
                         },
        "unsqueeze"   => x[0].unsqueeze(a.int("dim")?)?,
        "expand"      => x[0].expand(&a.ints("shape")?)?,
        "narrow"      => x[0].narrow(a.int("dim")?, a.int("start")?, a.usize("length")?)?,
        "cat"         => Variable::cat(x, a.int_or("dim", 0)?)?,
        "stack"       => Variable::stack(x, a.int_or("dim", 0)?)?,

        // indexing and selection
        "index_select" => x[0].index_select(a.int("dim")?, &x[1].data())?,
        "gather"      => x[0].gather(a.int("dim")?, &x[1].data())?,
        "where"       => Variable::where_cond(&x[0].data(), &x[1], &x[2])?,
        "masked_fill" => x[0].masked_fill(&x[1], a.float("value")?)?,

        // linear algebra
        "matmul"      => x[0].matmul(&x[1])?,
        "linear"      => AF::linear(&x[0], &x[1], x.get(2))?,

        // convolution and pooling (one int per spatial dim, or a list)
        "conv1d"      => x[0].conv1d(&x[1], x.get(2), a.usize_or("stride", 1)?, a.usize_or("padding", 0)?,
                                     a.usize_or("dilation", 1)?, a.usize_or("groups", 1)?)?,
        "conv2d"      => x[0].conv2d(&x[1], x.get(2), a.pair_or("stride", 1)?, a.pair_or("padding", 0)?,
                                     a.pair_or("dilation", 1)?, a.usize_or("groups", 1)?)?,
        "max_pool2d"  => { let (k, s, p) = pool2d(a)?; x[0].max_pool2d(k, s, p)? }
        "avg_pool2d"  => { let (k, s, p) = pool2d(a)?; x[0].avg_pool2d(k, s, p)? }
        "adaptive_avg_pool2d" => x[0].adaptive_avg_pool2d(a.pair("output_size")?)?,

        // normalization
        "batch_norm"  => batch_norm_var(a, x)?,
        "layer_norm"  => x[0].layer_norm(&a.usizes("normalized_shape")?, x.get(1), x.get(2), a.float_or("eps", 1e-5)?)?,

        // embeddings and losses (optional weight inputs come after the target)
        "embedding"   => AF::embedding(&x[0].data(), &x[1])?,
        "cross_entropy" => AF::cross_entropy(&x[0], &x[1].data(), t(2).as_ref(), a.int_or("ignore_index", -100)?,
                                             reduction(a)?, a.float_or("label_smoothing", 0.0)?)?,
        "nll_loss"    => AF::nll_loss(&x[0], &x[1].data(), t(2).as_ref(), a.int_or("ignore_index", -100)?, reduction(a)?)?,
        "mse_loss"    => AF::mse_loss(&x[0], &x[1], reduction(a)?)?,
        "binary_cross_entropy" => AF::binary_cross_entropy(&x[0], &x[1], t(2).as_ref(), reduction(a)?)?,
        "binary_cross_entropy_with_logits" =>
                         AF::binary_cross_entropy_with_logits(&x[0], &x[1], t(2).as_ref(), t(3).as_ref(), reduction(a)?)?,

        // recurrent cells: x, h, (c,) w_ih, w_hh, b_ih, b_hh
        "rnn_tanh_cell" => AF::rnn_tanh_cell(&x[0], &x[1], &x[2], &x[3], x.get(4), x.get(5))?,
        "lstm_cell"   => { let (h, c) = AF::lstm_cell(&x[0], &x[1], &x[2], &x[3], &x[4], x.get(5), x.get(6))?;
                           Variable::cat(&[h, c], 1)? }
        "gru_cell"    => AF::gru_cell(&x[0], &x[1], &x[2], &x[3], x.get(4), x.get(5))?,

        _ => return Err(RunError::NotImplemented),
    })
}

fn bad(why: String) -> RunError {
    RunError::Failed(why)
}

/// `dim`, when given.
fn opt_dim(a: &Attrs) -> Result<Option<i64>, String> {
    if a.has("dim") {
        a.int("dim").map(Some)
    } else {
        Ok(None)
    }
}

fn keepdim(a: &Attrs) -> Result<bool, String> {
    a.bool_or("keepdim", false)
}

/// The tensor, dim and keepdim of a reduction that returns one value per
/// slice: with no `dim`, PyTorch reduces the flattened tensor to a scalar.
fn reduced(a: &Attrs, x: &Tensor) -> Result<(Tensor, i64, bool), String> {
    Ok(match opt_dim(a)? {
        Some(d) => (x.clone(), d, keepdim(a)?),
        None => (x.ravel(), 0, false),
    })
}

/// [`reduced`] for variables.
fn reduced_var(a: &Attrs, x: &Variable) -> Result<(Variable, i64, bool), String> {
    Ok(match opt_dim(a)? {
        Some(d) => (x.clone(), d, keepdim(a)?),
        None => (x.ravel(), 0, false),
    })
}

/// kernel_size, stride and padding of a 2-d pool.
type Pool2dArgs = ([usize; 2], [usize; 2], [usize; 2]);

/// kernel_size, stride (defaults to kernel_size) and padding of a 2-d pool.
fn pool2d(a: &Attrs) -> Result<Pool2dArgs, String> {
    let kernel = a.pair("kernel_size")?;
    let stride = if a.has("stride") {
        a.pair("stride")?
    } else {
        kernel
    };
    Ok((kernel, stride, a.pair_or("padding", 0)?))
}

/// Inputs `x, weight, bias` (batch statistics only), or
/// `x, running_mean, running_var, weight, bias`.
fn batch_norm(a: &Attrs, x: &[Tensor]) -> Result<Tensor, RunError> {
    let training = a.bool_or("training", true)?;
    let eps = a.float_or("eps", 1e-5)?;
    let (mean, var, weight, bias) = match x.len() {
        1..=3 => (None, None, x.get(1), x.get(2)),
        _ => (x.get(1), x.get(2), x.get(3), x.get(4)),
    };
    Ok(x[0].batch_norm(mean, var, weight, bias, training, eps)?)
}

/// [`batch_norm`] for variables; the running statistics stay tensors.
fn batch_norm_var(a: &Attrs, x: &[Variable]) -> Result<Variable, RunError> {
    let training = a.bool_or("training", true)?;
    let eps = a.float_or("eps", 1e-5)?;
    let (mean, var, weight, bias) = match x.len() {
        1..=3 => (None, None, x.get(1), x.get(2)),
        _ => (
            x.get(1).map(Variable::data),
            x.get(2).map(Variable::data),
            x.get(3),
            x.get(4),
        ),
    };
    Ok(x[0].batch_norm(mean.as_ref(), var.as_ref(), weight, bias, training, eps)?)
}

fn reduction(a: &Attrs) -> Result<F::Reduction, String> {
    match a.str_or("reduction", "mean")? {
        "none" => Ok(F::Reduction::None),
        "mean" => Ok(F::Reduction::Mean),
        "sum" => Ok(F::Reduction::Sum),
        other => Err(format!("unknown reduction {other:?}")),
    }
}

/// Runs a case's forward pass and compares the output with the oracle's.
fn check_forward(case: &Case) -> Verdict {
    let inputs = match case
        .inputs
        .iter()
        .enumerate()
        .map(|(i, spec)| spec.to_tensor().map_err(|e| format!("input {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(inputs) => inputs,
        Err(e) => return Verdict::Fail(format!("bad case: {e}")),
    };
    let ran = catch_unwind(AssertUnwindSafe(|| forward(&case.op, &case.attrs, &inputs)));
    let got = match ran {
        Ok(Ok(t)) => t,
        Ok(Err(RunError::NotImplemented)) => return Verdict::NotImplemented,
        Ok(Err(RunError::Failed(e))) => return Verdict::Fail(e),
        Err(panic) => return Verdict::Fail(format!("panicked: {}", panic_message(&*panic))),
    };
    let values = match got.to_dtype(DType::F64).to_vec::<f64>() {
        Ok(v) => v,
        Err(e) => return Verdict::Fail(format!("reading the output: {e}")),
    };
    match cases::compare(
        got.dtype(),
        got.shape(),
        &values,
        &case.output,
        case.rtol,
        case.atol,
    ) {
        Ok(()) => Verdict::Pass,
        Err(why) => Verdict::Fail(format!("output: {why}")),
    }
}

/// Runs a case through autograd ([`forward_var`]): float inputs are
/// parameters, integer and bool inputs constants. Backpropagates
/// `sum(output * grad_output)` and compares the output and every non-null
/// expected gradient with the oracle's (an input no gradient reached has a
/// zero gradient).
fn check_grads(case: &Case) -> Verdict {
    let (Some(grad_output), Some(want)) = (&case.grad_output, &case.grads) else {
        return Verdict::Pass;
    };
    if want.iter().all(Option::is_none) {
        return Verdict::Pass;
    }
    if want.len() != case.inputs.len() {
        return Verdict::Fail(format!(
            "bad case: {} grads for {} inputs",
            want.len(),
            case.inputs.len()
        ));
    }
    let built = case
        .inputs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let t = spec.to_tensor().map_err(|e| format!("input {i}: {e}"))?;
            Ok(if t.dtype().is_float() {
                Variable::parameter(t)
            } else {
                Variable::constant(t)
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .and_then(|inputs| {
            let seed = grad_output
                .to_tensor()
                .map_err(|e| format!("grad_output: {e}"))?;
            Ok((inputs, seed))
        });
    let (inputs, seed) = match built {
        Ok(built) => built,
        Err(e) => return Verdict::Fail(format!("bad case: {e}")),
    };
    let ran = catch_unwind(AssertUnwindSafe(|| -> Result<Variable, RunError> {
        let out = forward_var(&case.op, &case.attrs, &inputs)?;
        out.backward_with(&seed)?;
        Ok(out)
    }));
    let out = match ran {
        Ok(Ok(out)) => out,
        Ok(Err(RunError::NotImplemented)) => return Verdict::NotImplemented,
        Ok(Err(RunError::Failed(e))) => return Verdict::Fail(format!("autograd: {e}")),
        Err(panic) => {
            return Verdict::Fail(format!("autograd panicked: {}", panic_message(&*panic)))
        }
    };
    let mut problems = Vec::new();
    if let Err(why) = compare_tensor(&out.data(), &case.output, case.rtol, case.atol) {
        problems.push(format!("autograd output: {why}"));
    }
    for (i, (input, expected)) in inputs.iter().zip(want).enumerate() {
        let Some(expected) = expected else { continue };
        let got = input.grad().unwrap_or_else(|| input.data().zeros_like());
        if let Err(why) = compare_tensor(&got, expected, case.rtol, case.atol) {
            problems.push(format!("grad of input {i}: {why}"));
        }
    }
    if problems.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(problems.join("; "))
    }
}

/// [`cases::compare`] for a tensor.
fn compare_tensor(
    got: &Tensor,
    want: &cases::TensorSpec,
    rtol: f64,
    atol: f64,
) -> Result<(), String> {
    let values = got
        .to_dtype(DType::F64)
        .to_vec::<f64>()
        .map_err(|e| format!("reading the result: {e}"))?;
    cases::compare(got.dtype(), got.shape(), &values, want, rtol, atol)
}

/// Checks one case: the forward output, then, when it passed and the case
/// carries them, its gradients.
fn check_case(case: &Case) -> Verdict {
    match check_forward(case) {
        Verdict::Pass => check_grads(case),
        verdict => verdict,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

#[test]
fn torch_ops() {
    let path = std::env::var("CONFORMANCE_CASES").unwrap_or_else(|_| DEFAULT_CASES.to_string());
    let file = cases::load(&path).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "conformance: {} cases from {path} (oracle: {})",
        file.cases.len(),
        file.oracle
    );

    cases::run_cases(&file.cases, check_case).finish("conformance", &path, NOT_IMPLEMENTED_ALLOWED);
}

#[test]
fn an_unmapped_op_fails_unless_allowed() {
    let case = Case {
        op: "no_such_op".to_string(),
        ..cases::parse(
            r#"{"format": "conformance-cases/1", "oracle": "test", "cases": [
                {"id": "x/0", "op": "neg", "attrs": {},
                 "inputs": [{"dtype": "f32", "shape": [1], "data": [1.0]}],
                 "output": {"dtype": "f32", "shape": [1], "data": [-1.0]}}]}"#,
        )
        .unwrap()
        .cases
        .remove(0)
    };
    assert!(matches!(check_case(&case), Verdict::NotImplemented));
    let unmapped = ["no_such_op".to_string()];
    assert_eq!(cases::not_allowed(&unmapped, &[]), ["no_such_op"]);
    assert!(cases::not_allowed(&unmapped, &[("no_such_op", "why")]).is_empty());
}

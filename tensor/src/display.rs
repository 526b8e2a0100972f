//! PyTorch-style printing: `impl Display for Tensor`.
//!
//! This is a port of PyTorch 2.x's `torch/_tensor_str.py` with its default
//! print options (`precision=4`, `threshold=1000`, `edgeitems=3`,
//! `linewidth=80`, `sci_mode=None`), so that `format!("{t}")` gives the same
//! text as `repr(t)` in Python:
//!
//! ```text
//! tensor([[1.0000, 2.5000],
//!         [3.0000, 4.0000]])
//! tensor([1., 2., 3.])
//! tensor([1.0000e-05, 1.0000e+00])
//! tensor([ True, False])
//! tensor([1., 2.], dtype=torch.float64)
//! tensor([], size=(0, 3))
//! tensor([   0,    1,    2,  ..., 1997, 1998, 1999])
//! ```
//!
//! The pipeline mirrors PyTorch's:
//!
//! 1. Pick the shown elements: all of them, or, when the tensor has more than
//!    [`THRESHOLD`] elements, only the first and last [`EDGE_ITEMS`] along
//!    every dimension longer than `2 * EDGE_ITEMS` (`get_summarized_data`).
//! 2. Build one formatter from the shown elements (`_Formatter`): it picks
//!    the float mode (integer-valued, fixed or scientific) and a common
//!    width, and renders every element right-aligned to that width.
//! 3. Lay out the nested brackets (`_tensor_str_with_formatter` and
//!    `_vector_str`), wrapping long rows at [`LINE_WIDTH`] columns.
//! 4. Append suffixes such as `dtype=torch.float64` (`_add_suffixes`).
//!
//! Float elements are formatted from their value widened to `f64`, as
//! Python's `tensor.tolist()` does; Rust's `{:.4}` and `{:.4e}` round
//! correctly (ties to even on the exact binary value), exactly like Python's
//! `'{:.4f}'` and `'{:.4e}'`, so the digits agree. Only the exponent is
//! rewritten from Rust's `e-5` to Python's `e-05`, and non-finite values are
//! spelled `nan`, `inf`, `-inf` as in Python (Rust would write `NaN`).

use std::fmt;

use crate::dtype::{DType, Element};
use crate::tensor::Tensor;

/// Digits after the decimal point for floats (`PRINT_OPTS.precision`).
const PRECISION: usize = 4;
/// Tensors with more elements than this are summarized
/// (`PRINT_OPTS.threshold`).
const THRESHOLD: usize = 1000;
/// Elements kept at each end of a summarized dimension
/// (`PRINT_OPTS.edgeitems`).
const EDGE_ITEMS: usize = 3;
/// Maximum line width used to wrap long rows (`PRINT_OPTS.linewidth`).
const LINE_WIDTH: usize = 80;
/// What the text starts with; its length is the indentation of nested rows.
const PREFIX: &str = "tensor(";

impl fmt::Display for Tensor {
    /// Writes the tensor as PyTorch's `repr` does, for example
    /// `tensor([[1., 2.],\n        [3., 4.]])`.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let m = Tensor::from_vec(vec![1.0f32, 2.5, 3.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(
    ///     m.to_string(),
    ///     "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])"
    /// );
    /// assert_eq!(Tensor::scalar(7i64).to_string(), "tensor(7)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&tensor_repr(self))
    }
}

/// The whole text of `t`: prefix, contents and suffixes (`_str_intern`).
fn tensor_repr(t: &Tensor) -> String {
    let indent = PREFIX.len();
    let mut suffixes = Vec::new();
    let contents = if t.numel() == 0 {
        // An empty tensor shows its shape unless it is `(0,)`, and its dtype
        // unless it is the default float32: with no elements, nothing else
        // tells an int64 or bool tensor apart.
        if t.dim() != 1 {
            suffixes.push(format!("size={}", python_tuple(t.shape())));
        }
        if t.dtype() != DType::F32 {
            suffixes.push(dtype_suffix(t.dtype()));
        }
        "[]".to_string()
    } else {
        // float32 (the default dtype), int64 and bool print no dtype.
        if t.dtype() == DType::F64 {
            suffixes.push(dtype_suffix(t.dtype()));
        }
        tensor_str(t, indent)
    };
    add_suffixes(format!("{PREFIX}{contents}"), &suffixes, indent)
}

/// `dtype=torch.<name>`, as PyTorch writes a dtype.
fn dtype_suffix(dtype: DType) -> String {
    format!("dtype=torch.{}", dtype.name())
}

/// A shape as Python writes a tuple: `(0, 3)`, `(0,)` or `()`.
fn python_tuple(shape: &[usize]) -> String {
    match shape {
        [only] => format!("({only},)"),
        _ => {
            let items: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", items.join(", "))
        }
    }
}

/// Appends `suffixes` after the contents and closes the parenthesis; a
/// suffix goes on a new line (indented by `indent`) when it would push the
/// current line past [`LINE_WIDTH`] (`_add_suffixes`).
fn add_suffixes(mut text: String, suffixes: &[String], indent: usize) -> String {
    // PyTorch's `len(s) - s.rfind("\n") + 1`: two more than the length of
    // the last line (its quirk is kept so lines break where PyTorch's do).
    let mut last_line_len = match text.rfind('\n') {
        Some(pos) => text.len() - pos + 1,
        None => text.len() + 2,
    };
    for suffix in suffixes {
        if last_line_len + suffix.len() + 2 > LINE_WIDTH {
            text.push_str(",\n");
            text.push_str(&" ".repeat(indent));
            text.push_str(suffix);
            last_line_len = indent + suffix.len();
        } else {
            text.push_str(", ");
            text.push_str(suffix);
            last_line_len += suffix.len() + 2;
        }
    }
    text.push(')');
    text
}

/// The bracketed contents of a non-empty tensor (`_tensor_str`).
fn tensor_str(t: &Tensor, indent: usize) -> String {
    let shown = Shown::new(t.shape(), t.numel() > THRESHOLD);
    let (cells, width) = match t.dtype() {
        DType::F32 => {
            let values: Vec<f64> = gather::<f32>(t, &shown)
                .into_iter()
                .map(f64::from)
                .collect();
            format_floats(&values)
        }
        DType::F64 => format_floats(&gather::<f64>(t, &shown)),
        DType::I64 => format_plain(&gather::<i64>(t, &shown), |v| v.to_string()),
        DType::Bool => format_plain(&gather::<bool>(t, &shown), |b| {
            if b { "True" } else { "False" }.to_string()
        }),
    };
    let grid = Grid {
        cells: &cells,
        shown: &shown,
        width,
    };
    grid.render(0, 0, indent)
}

/// Which indices of each dimension are printed.
struct Shown {
    /// For each dimension, the printed indices in increasing order.
    kept: Vec<Vec<usize>>,
    /// For each dimension, whether a `...` stands between the first and the
    /// last [`EDGE_ITEMS`] indices.
    elided: Vec<bool>,
}

impl Shown {
    /// Every index of `shape`, or, when `summarize`, only the first and
    /// last [`EDGE_ITEMS`] of each dimension longer than `2 * EDGE_ITEMS`.
    fn new(shape: &[usize], summarize: bool) -> Shown {
        let mut kept = Vec::with_capacity(shape.len());
        let mut elided = Vec::with_capacity(shape.len());
        for &n in shape {
            if summarize && n > 2 * EDGE_ITEMS {
                kept.push((0..EDGE_ITEMS).chain(n - EDGE_ITEMS..n).collect());
                elided.push(true);
            } else {
                kept.push((0..n).collect());
                elided.push(false);
            }
        }
        Shown { kept, elided }
    }

    /// Number of printed elements.
    fn len(&self) -> usize {
        self.kept.iter().map(Vec::len).product()
    }
}

/// The printed elements of `t`, in row-major order over [`Shown::kept`].
/// Reads only those elements, so printing a huge tensor copies little.
fn gather<T: Element>(t: &Tensor, shown: &Shown) -> Vec<T> {
    let data = t.raw::<T>();
    let strides = t.strides();
    let rank = shown.kept.len();
    let mut out = Vec::with_capacity(shown.len());
    // An odometer over positions in `shown.kept`, last dimension fastest.
    let mut pos = vec![0usize; rank];
    loop {
        let at = t.layout().offset()
            + (0..rank)
                .map(|d| shown.kept[d][pos[d]] * strides[d])
                .sum::<usize>();
        out.push(data[at]);
        let mut d = rank;
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            pos[d] += 1;
            if pos[d] < shown.kept[d].len() {
                break;
            }
            pos[d] = 0;
        }
    }
}

/// Formats integers or booleans: each as `to_text` writes it, right-aligned
/// to the widest one. Returns the cells and that width.
fn format_plain<T: Copy>(values: &[T], to_text: impl Fn(T) -> String) -> (Vec<String>, usize) {
    let texts: Vec<String> = values.iter().map(|&v| to_text(v)).collect();
    let width = texts.iter().map(String::len).fold(1, usize::max);
    let cells = texts.into_iter().map(|s| pad_left(s, width)).collect();
    (cells, width)
}

/// Formats floats with one [`FloatFormatter`] built from all of them.
/// Returns the cells and the formatter's width.
fn format_floats(values: &[f64]) -> (Vec<String>, usize) {
    let formatter = FloatFormatter::new(values);
    let cells = values.iter().map(|&v| formatter.format(v)).collect();
    (cells, formatter.width)
}

/// `s` with spaces in front to make it `width` long (unchanged if longer).
fn pad_left(s: String, width: usize) -> String {
    if s.len() >= width {
        s
    } else {
        format!("{}{s}", " ".repeat(width - s.len()))
    }
}

/// How floats are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FloatMode {
    /// Every finite value is an integer: `1.`, `-2.`, `0.`.
    Int,
    /// Fixed point with [`PRECISION`] decimals: `0.1235`.
    Fixed,
    /// Scientific with [`PRECISION`] decimals: `1.2346e+05`.
    Sci,
}

/// PyTorch's `_Formatter` for a floating tensor: one mode and one width for
/// all printed elements.
#[derive(Clone, Copy, Debug)]
struct FloatFormatter {
    /// How every element is written.
    mode: FloatMode,
    /// The common width elements are right-aligned to.
    width: usize,
}

impl FloatFormatter {
    /// Chooses the mode and width from the printed `values`.
    ///
    /// Only the finite non-zero values count. The mode is scientific when
    /// the largest magnitude is over `1e8` or over 1000 times the smallest,
    /// and (for non-integer values only) when the smallest is under `1e-4`;
    /// otherwise it is integer when every value is integral, else fixed.
    /// Note that integer-valued tensors can be scientific too, as in PyTorch:
    /// `tensor([1., 2000.])` prints as `tensor([1.0000e+00, 2.0000e+03])`.
    ///
    /// The width is that of the widest finite non-zero value (plus one for
    /// the trailing `.` in integer mode), at least 1. As in PyTorch, `nan`,
    /// `inf` and zeros do not count, so they may stick out, as in
    /// `tensor([1., nan])`.
    fn new(values: &[f64]) -> FloatFormatter {
        let nonzero_finite: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v != 0.0)
            .collect();
        if nonzero_finite.is_empty() {
            return FloatFormatter {
                mode: FloatMode::Int,
                width: 1,
            };
        }
        let (min, max) = nonzero_finite
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v.abs()), hi.max(v.abs()))
            });
        let int_valued = nonzero_finite.iter().all(|v| v.ceil() == *v);
        let wide_range = max / min > 1000.0 || max > 1.0e8;
        let (mode, extra) = if int_valued {
            if wide_range {
                (FloatMode::Sci, 0)
            } else {
                (FloatMode::Int, 1) // room for the trailing "."
            }
        } else if wide_range || min < 1.0e-4 {
            (FloatMode::Sci, 0)
        } else {
            (FloatMode::Fixed, 0)
        };
        let width = nonzero_finite
            .iter()
            .map(|&v| format_float(v, mode).len() + extra)
            .fold(1, usize::max);
        FloatFormatter { mode, width }
    }

    /// One element, right-aligned to the common width.
    fn format(&self, v: f64) -> String {
        let mut s = format_float(v, self.mode);
        if self.mode == FloatMode::Int && v.is_finite() {
            s.push('.');
        }
        pad_left(s, self.width)
    }
}

/// `v` as Python formats it in `mode`: `'{:.0f}'`, `'{:.4f}'` or `'{:.4e}'`
/// (without the trailing `.` of integer mode). Non-finite values are `nan`,
/// `inf` and `-inf` in every mode.
fn format_float(v: f64, mode: FloatMode) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    match mode {
        FloatMode::Int => format!("{v:.0}"),
        FloatMode::Fixed => format!("{v:.PRECISION$}"),
        FloatMode::Sci => {
            // Rust writes `1.0000e-5`; Python writes `1.0000e-05`.
            let s = format!("{v:.PRECISION$e}");
            let (mantissa, exponent) = s.split_once('e').expect("`{:e}` output has an `e`");
            let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
            let sign = if exponent < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
        }
    }
}

/// The printed elements as text, laid out in nested brackets.
struct Grid<'a> {
    /// Formatted, padded elements in row-major order over `shown.kept`.
    cells: &'a [String],
    /// Which indices are printed, and where `...` goes.
    shown: &'a Shown,
    /// The formatter's common width (cells may be wider: see
    /// [`FloatFormatter::new`]).
    width: usize,
}

impl Grid<'_> {
    /// The text of the sub-tensor whose dimensions are `dim..` and whose
    /// cells start at `start`, with nested rows indented by `indent + 1`
    /// (`_tensor_str_with_formatter`).
    fn render(&self, dim: usize, start: usize, indent: usize) -> String {
        let rank = self.shown.kept.len();
        if dim == rank {
            return self.cells[start].clone(); // a scalar
        }
        if dim + 1 == rank {
            return self.render_row(start, indent);
        }
        let block: usize = self.shown.kept[dim + 1..].iter().map(Vec::len).product();
        let count = self.shown.kept[dim].len();
        let mut slices: Vec<String> = (0..count)
            .map(|i| self.render(dim + 1, start + i * block, indent + 1))
            .collect();
        if self.shown.elided[dim] {
            slices.insert(EDGE_ITEMS, "...".to_string());
        }
        // Slices of a k-dimensional tensor are separated by k - 1 newlines:
        // one between the rows of a matrix, a blank line between matrices.
        let separator = format!(",{}{}", "\n".repeat(rank - dim - 1), " ".repeat(indent + 1));
        format!("[{}]", slices.join(&separator))
    }

    /// The text of the last dimension: elements separated by `, `, wrapped
    /// so that each line holds as many elements as fit in [`LINE_WIDTH`]
    /// columns after `indent`, with continuation lines indented by
    /// `indent + 1` (`_vector_str`). A summarized row shows ` ...` (which
    /// counts as one element when wrapping) between its two ends.
    fn render_row(&self, start: usize, indent: usize) -> String {
        let dim = self.shown.kept.len() - 1;
        let len = self.shown.kept[dim].len();
        let mut data: Vec<&str> = self.cells[start..start + len]
            .iter()
            .map(String::as_str)
            .collect();
        if self.shown.elided[dim] {
            data.insert(EDGE_ITEMS, " ...");
        }
        // Each element takes its width plus ", ".
        let per_line = (LINE_WIDTH.saturating_sub(indent) / (self.width + 2)).max(1);
        let lines: Vec<String> = data.chunks(per_line).map(|c| c.join(", ")).collect();
        let separator = format!(",\n{}", " ".repeat(indent + 1));
        format!("[{}]", lines.join(&separator))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(data: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(data, shape).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(Tensor::scalar(3.5f32).to_string(), "tensor(3.5000)");
        assert_eq!(Tensor::scalar(3.0f32).to_string(), "tensor(3.)");
        assert_eq!(Tensor::scalar(0.0f32).to_string(), "tensor(0.)");
        assert_eq!(Tensor::scalar(-0.0f32).to_string(), "tensor(-0.)");
        assert_eq!(
            Tensor::scalar(1e-5f64).to_string(),
            "tensor(1.0000e-05, dtype=torch.float64)"
        );
        assert_eq!(Tensor::scalar(f32::NAN).to_string(), "tensor(nan)");
        assert_eq!(Tensor::scalar(-7i64).to_string(), "tensor(-7)");
        assert_eq!(Tensor::scalar(true).to_string(), "tensor(True)");
    }

    #[test]
    fn int_mode() {
        assert_eq!(
            f32s(&[1.0, 2.0, 3.0], &[3]).to_string(),
            "tensor([1., 2., 3.])"
        );
        assert_eq!(
            f32s(&[0.0, -0.0, 10.0, -100.0], &[4]).to_string(),
            "tensor([   0.,   -0.,   10., -100.])"
        );
        assert_eq!(f32s(&[0.0; 3], &[3]).to_string(), "tensor([0., 0., 0.])");
    }

    #[test]
    fn fixed_mode() {
        assert_eq!(
            f32s(&[1.0, 2.5, 3.0, 4.0], &[2, 2]).to_string(),
            "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])"
        );
        assert_eq!(
            f32s(&[0.123456, 12.5, 0.1], &[3]).to_string(),
            "tensor([ 0.1235, 12.5000,  0.1000])"
        );
    }

    #[test]
    fn negative_values_align() {
        assert_eq!(
            f32s(&[-1.5, 2.25, -30.125, 4.0], &[2, 2]).to_string(),
            "tensor([[ -1.5000,   2.2500],\n        [-30.1250,   4.0000]])"
        );
    }

    #[test]
    fn sci_mode() {
        // Smallest magnitude under 1e-4.
        assert_eq!(
            f32s(&[1e-5, 1.0], &[2]).to_string(),
            "tensor([1.0000e-05, 1.0000e+00])"
        );
        // Range over 1000, even for integer values.
        assert_eq!(
            f32s(&[1.0, 2000.0], &[2]).to_string(),
            "tensor([1.0000e+00, 2.0000e+03])"
        );
        // Over 1e8, with a negative value and a zero.
        assert_eq!(
            Tensor::from_vec(vec![-1.5e9f64, 0.0, 2.5e8], &[3])
                .unwrap()
                .to_string(),
            "tensor([-1.5000e+09,  0.0000e+00,  2.5000e+08], dtype=torch.float64)"
        );
        assert_eq!(
            Tensor::from_vec(vec![1e-300f64, 1.0], &[2])
                .unwrap()
                .to_string(),
            "tensor([1.0000e-300,  1.0000e+00], dtype=torch.float64)"
        );
    }

    #[test]
    fn non_finite() {
        assert_eq!(
            f32s(&[1.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY], &[4]).to_string(),
            "tensor([1.5000,    nan,    inf,   -inf])"
        );
        // In int mode non-finite values are wider than the computed width.
        assert_eq!(
            f32s(&[1.0, f32::NAN, -f32::INFINITY], &[3]).to_string(),
            "tensor([1., nan, -inf])"
        );
        assert_eq!(
            f32s(&[f32::NAN, f32::INFINITY], &[2]).to_string(),
            "tensor([nan, inf])"
        );
        assert_eq!(
            f32s(&[1e-5, f32::NAN], &[2]).to_string(),
            "tensor([1.0000e-05,        nan])"
        );
    }

    #[test]
    fn int64() {
        let t = Tensor::from_vec(vec![-1i64, 10, 200, 3], &[2, 2]).unwrap();
        assert_eq!(t.to_string(), "tensor([[ -1,  10],\n        [200,   3]])");
        assert_eq!(
            Tensor::from_vec(vec![i64::MIN], &[1]).unwrap().to_string(),
            "tensor([-9223372036854775808])"
        );
    }

    #[test]
    fn bool() {
        let t = Tensor::from_vec(vec![true, false], &[2]).unwrap();
        assert_eq!(t.to_string(), "tensor([ True, False])");
        let t = Tensor::from_vec(vec![true, true], &[2]).unwrap();
        assert_eq!(t.to_string(), "tensor([True, True])");
    }

    #[test]
    fn float64_suffix() {
        let t = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
        assert_eq!(t.to_string(), "tensor([1., 2.], dtype=torch.float64)");
        let t = Tensor::from_vec(vec![0.5f64, 1.25, 2.0, 3.0], &[2, 2]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[0.5000, 1.2500],\n        [2.0000, 3.0000]], dtype=torch.float64)"
        );
    }

    #[test]
    fn float64_suffix_wraps_after_long_line() {
        // The contents end at column 79: the suffix goes on its own line.
        let data = vec![0.5f64, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 10.5];
        let t = Tensor::from_vec(data, &[8]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000, 10.5000],\n       \
             dtype=torch.float64)"
        );
    }

    #[test]
    fn empty() {
        assert_eq!(Tensor::zeros(&[0]).to_string(), "tensor([])");
        assert_eq!(
            Tensor::zeros(&[0, 3]).to_string(),
            "tensor([], size=(0, 3))"
        );
        assert_eq!(
            Tensor::zeros_dtype(&[0], DType::I64).to_string(),
            "tensor([], dtype=torch.int64)"
        );
        assert_eq!(
            Tensor::zeros_dtype(&[2, 0, 3], DType::F64).to_string(),
            "tensor([], size=(2, 0, 3), dtype=torch.float64)"
        );
        assert_eq!(
            Tensor::zeros_dtype(&[0], DType::Bool).to_string(),
            "tensor([], dtype=torch.bool)"
        );
    }

    #[test]
    fn three_dims() {
        let t = Tensor::from_vec((0..8).collect::<Vec<i64>>(), &[2, 2, 2]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])"
        );
        let t = Tensor::from_vec((0..4).map(|i| i as f32).collect(), &[2, 1, 1, 2]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[[[0., 1.]]],\n\n\n        [[[2., 3.]]]])"
        );
    }

    #[test]
    fn wraps_long_rows() {
        // Width 2 + ", " = 4 columns per element: (80 - 7) / 4 = 18 per line.
        let t = Tensor::from_vec((0..40).collect::<Vec<i64>>(), &[40]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n        \
             18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,\n        \
             36, 37, 38, 39])"
        );
        // Rows of a matrix wrap one column further in.
        let t = Tensor::from_vec((0..40).collect::<Vec<i64>>(), &[2, 20]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n         \
             18, 19],\n        \
             [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37,\n         \
             38, 39]])"
        );
    }

    #[test]
    fn summarized_vector() {
        let t = Tensor::arange(0i64, 2000, 1).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"
        );
        // 1000 elements is not over the threshold: everything is printed.
        let t = Tensor::arange(0i64, 1000, 1).unwrap();
        assert!(!t.to_string().contains("..."));
        // Width 3: (80 - 7) / 5 = 14 per line, so 72 lines.
        assert_eq!(t.to_string().matches('\n').count(), 71);
    }

    #[test]
    fn summarized_matrix() {
        // The mode and width come from the shown elements only: the hidden
        // middle has non-integers and large values that would change both.
        let mut data: Vec<f32> = (0..2000).map(|i| (i % 7) as f32).collect();
        data[1000] = 12345.678;
        let t = f32s(&data, &[20, 100]);
        assert_eq!(
            t.to_string(),
            "tensor([[0., 1., 2.,  ..., 6., 0., 1.],\n        \
             [2., 3., 4.,  ..., 1., 2., 3.],\n        \
             [4., 5., 6.,  ..., 3., 4., 5.],\n        \
             ...,\n        \
             [6., 0., 1.,  ..., 5., 6., 0.],\n        \
             [1., 2., 3.,  ..., 0., 1., 2.],\n        \
             [3., 4., 5.,  ..., 2., 3., 4.]])"
        );
        // Dimensions of size <= 6 are shown whole.
        let t = Tensor::from_vec((0..2000).collect::<Vec<i64>>(), &[2, 1000]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[   0,    1,    2,  ...,  997,  998,  999],\n        \
             [1000, 1001, 1002,  ..., 1997, 1998, 1999]])"
        );
    }

    #[test]
    fn summarized_3d_bool() {
        let data: Vec<bool> = (0..7 * 2 * 80).map(|i| i % 3 == 0).collect();
        let t = Tensor::from_vec(data, &[7, 2, 80]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[[ True, False, False,  ..., False,  True, False],\n         \
             [False,  True, False,  ..., False, False,  True]],\n\n        \
             [[False, False,  True,  ...,  True, False, False],\n         \
             [ True, False, False,  ..., False,  True, False]],\n\n        \
             [[False,  True, False,  ..., False, False,  True],\n         \
             [False, False,  True,  ...,  True, False, False]],\n\n        \
             ...,\n\n        \
             [[False, False,  True,  ...,  True, False, False],\n         \
             [ True, False, False,  ..., False,  True, False]],\n\n        \
             [[False,  True, False,  ..., False, False,  True],\n         \
             [False, False,  True,  ...,  True, False, False]],\n\n        \
             [[ True, False, False,  ..., False,  True, False],\n         \
             [False,  True, False,  ..., False, False,  True]]])"
        );
    }

    #[test]
    fn non_contiguous_view() {
        let t = Tensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], &[2, 3]).unwrap();
        let tt = t.transpose(0, 1).unwrap();
        assert_eq!(
            tt.to_string(),
            "tensor([[1, 4],\n        [2, 5],\n        [3, 6]])"
        );
        assert_eq!(format!("{tt:?}"), tt.to_string());
    }

    #[test]
    fn python_tuples() {
        assert_eq!(python_tuple(&[0]), "(0,)");
        assert_eq!(python_tuple(&[0, 3]), "(0, 3)");
        assert_eq!(python_tuple(&[]), "()");
    }
}

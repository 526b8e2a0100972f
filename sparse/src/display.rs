//! `Display` in PyTorch's format:
//! `tensor(indices=tensor(...), values=tensor(...), size=(...), nnz=..., layout=torch.sparse_coo)`.

use std::fmt;

use torchlet_tensor::{DType, Tensor};

use crate::pattern::SparseLayout;
use crate::tensor::SparseTensor;

/// PyTorch's print width (`PRINT_OPTS.linewidth`).
const LINE_WIDTH: usize = 80;

/// A tensor's contents as PyTorch's `_tensor_str` writes them inside a
/// sparse tensor: the nested lists without `tensor(`, `)` or a dtype
/// suffix (the dtype is the sparse tensor's own suffix), and for an empty
/// tensor `[]` followed by its shape (`[], size=(2, 0)`), whatever its rank.
fn contents(t: &Tensor) -> String {
    if t.numel() == 0 {
        return format!("[], size={}", python_tuple(t.shape()));
    }
    let text = t.to_string();
    let inner = text
        .strip_prefix("tensor(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(&text);
    // A non-default dtype is the only suffix of a non-empty tensor.
    let dtype = format!("dtype=torch.{}", t.dtype().name());
    match inner.strip_suffix(dtype.as_str()) {
        Some(rest) => rest
            .strip_suffix(", ")
            .or_else(|| rest.trim_end_matches(' ').strip_suffix(",\n"))
            .unwrap_or(rest)
            .to_string(),
        None => inner.to_string(),
    }
}

/// A shape as Python writes a tuple: `(3,)`, `(2, 2)` or `()`.
fn python_tuple(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `name=tensor(...)`, the contents' later lines indented to line up under
/// the first, as PyTorch nests tensors.
fn field(indent: usize, name: &str, t: &Tensor) -> String {
    let text = contents(t);
    // Standalone rows are indented by `tensor(`; here they sit after
    // `name=tensor(` at `indent`.
    let pad = " ".repeat(indent + name.len() + 1);
    let mut out = format!("{name}=tensor(");
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    out.push(')');
    out
}

/// Appends `suffixes` and closes the parenthesis as PyTorch's
/// `_add_suffixes` does: a suffix goes on a new line (indented by
/// `indent`) when it would pass [`LINE_WIDTH`], and the first one always
/// does when `force_newline` (COO tensors).
fn add_suffixes(
    mut text: String,
    suffixes: &[String],
    indent: usize,
    force_newline: bool,
) -> String {
    // PyTorch's `len(s) - s.rfind("\n") + 1`, quirk included.
    let mut last_line_len = match text.rfind('\n') {
        Some(pos) => text.len() - pos + 1,
        None => text.len() + 2,
    };
    let mut force = force_newline;
    for suffix in suffixes {
        if force || last_line_len + suffix.len() + 2 > LINE_WIDTH {
            text.push_str(",\n");
            text.push_str(&" ".repeat(indent));
            text.push_str(suffix);
            last_line_len = indent + suffix.len();
            force = false;
        } else {
            text.push_str(", ");
            text.push_str(suffix);
            last_line_len += suffix.len() + 2;
        }
    }
    text.push(')');
    text
}

impl fmt::Display for SparseTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const INDENT: usize = "tensor(".len();
        let pad = " ".repeat(INDENT);
        let mut suffixes = vec![
            format!("size={}", python_tuple(self.shape())),
            format!("nnz={}", self.nnz()),
        ];
        if self.dtype() != DType::F32 {
            suffixes.push(format!("dtype=torch.{}", self.dtype().name()));
        }
        suffixes.push(format!("layout={}", self.layout().torch_name()));
        match (self.values().grad_fn(), self.requires_grad()) {
            (Some(op), _) => suffixes.push(format!("grad_fn=<{op}>")),
            (None, true) => suffixes.push("requires_grad=True".to_string()),
            (None, false) => {}
        }
        let values = field(INDENT, "values", &self.values().data());
        let shown = |r: crate::Result<Tensor>| r.map_err(|_| fmt::Error);
        let body = match self.layout() {
            SparseLayout::Coo => format!(
                "tensor({},\n{pad}{values}",
                field(INDENT, "indices", &shown(self.indices())?)
            ),
            layout => {
                let (c, p, cn, pn) = if layout == SparseLayout::Csr {
                    (
                        self.crow_indices(),
                        self.col_indices(),
                        "crow_indices",
                        "col_indices",
                    )
                } else {
                    (
                        self.ccol_indices(),
                        self.row_indices(),
                        "ccol_indices",
                        "row_indices",
                    )
                };
                format!(
                    "tensor({},\n{pad}{},\n{pad}{values}",
                    field(INDENT, cn, &shown(c)?),
                    field(INDENT, pn, &shown(p)?)
                )
            }
        };
        // Only COO tensors (`is_sparse`) start their suffixes on a new line.
        let coo = self.layout() == SparseLayout::Coo;
        f.write_str(&add_suffixes(body, &suffixes, INDENT, coo))
    }
}

impl fmt::Debug for SparseTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

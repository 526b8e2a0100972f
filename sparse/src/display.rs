//! `Display` in PyTorch's format:
//! `tensor(indices=tensor(...), values=tensor(...), size=(...), nnz=..., layout=torch.sparse_coo)`.

use std::fmt;

use torchlet_tensor::Tensor;

use crate::pattern::SparseLayout;
use crate::tensor::SparseTensor;

/// `name=` then the tensor's text, its later lines indented to line up
/// under the first, as PyTorch nests tensors.
fn field(indent: usize, name: &str, t: &Tensor) -> String {
    let text = t.to_string();
    let pad = " ".repeat(indent + name.len() + 1);
    let mut out = format!("{name}=");
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    out
}

impl fmt::Display for SparseTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const INDENT: usize = "tensor(".len();
        let pad = " ".repeat(INDENT);
        let size = match self.shape() {
            [one] => format!("({one},)"),
            dims => format!(
                "({})",
                dims.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let values = field(INDENT, "values", &self.values().data());
        let tail = match (self.values().grad_fn(), self.requires_grad()) {
            (Some(op), _) => format!(", grad_fn=<{op}>"),
            (None, true) => ", requires_grad=True".to_string(),
            (None, false) => String::new(),
        };
        let shown = |r: crate::Result<Tensor>| r.map_err(|_| fmt::Error);
        match self.layout() {
            SparseLayout::Coo => write!(
                f,
                "tensor({},\n{pad}{values},\n{pad}size={size}, nnz={}, layout={}{tail})",
                field(INDENT, "indices", &shown(self.indices())?),
                self.nnz(),
                self.layout().torch_name()
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
                write!(
                    f,
                    "tensor({},\n{pad}{},\n{pad}{values}, size={size}, nnz={}, layout={}{tail})",
                    field(INDENT, cn, &shown(c)?),
                    field(INDENT, pn, &shown(p)?),
                    self.nnz(),
                    layout.torch_name()
                )
            }
        }
    }
}

impl fmt::Debug for SparseTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

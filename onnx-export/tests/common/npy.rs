//! A minimal `.npy` (NumPy format 1.0) writer for f32 / i64 tensors.
#![allow(dead_code)]

use std::path::Path;

use torchlet_tensor::{DType, Tensor};

/// Writes `t` as a C-order `.npy` file.
pub fn write_npy(path: &Path, t: &Tensor) -> std::io::Result<()> {
    let (descr, bytes): (&str, Vec<u8>) = match t.dtype() {
        DType::I64 => (
            "<i8",
            t.to_vec::<i64>()
                .expect("i64")
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        _ => (
            "<f4",
            t.to_dtype(DType::F32)
                .to_vec::<f32>()
                .expect("f32")
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
    };
    let shape: Vec<String> = t.shape().iter().map(|n| n.to_string()).collect();
    let shape = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&bytes);
    std::fs::write(path, out)
}

//! The seed course's first lesson, "creating tensors", step by step: the
//! same walkthrough as the README's example, with a label before each result.

use std::error::Error;
use std::io::Write;

use torchlet::prelude::*;

/// Prints the walkthrough to `out`.
pub fn walkthrough(out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    // Creating tensors: 0, 1, 2 and 3 dimensions.
    let scalar = Tensor::scalar(7.0f32);
    writeln!(out, "Scalar (0-dim tensor):\n{scalar}\n")?;

    let vector = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
    writeln!(out, "Vector (1-dim tensor):\n{vector}\n")?;

    let a = Tensor::from_vec(
        vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[3, 3],
    )?;
    writeln!(out, "Matrix a (2-dim tensor, 3x3):\n{a}\n")?;

    let b = Tensor::from_vec(
        vec![9.0f32, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
        &[3, 3],
    )?;
    let stacked = Tensor::stack(&[&a, &b], 0)?;
    writeln!(
        out,
        "Stacked matrices (3-dim tensor, 2x3x3) = stack([a, b]):\n{stacked}\n"
    )?;

    // Manipulating them.
    writeln!(out, "a.flatten():\n{}\n", a.ravel())?;
    writeln!(out, "a.reshape(1, 9):\n{}\n", a.reshape(&[1, 9])?)?;
    writeln!(out, "a.transpose(0, 1):\n{}\n", a.transpose(0, 1)?)?;
    writeln!(out, "cat([a, b], dim=1):\n{}\n", Tensor::cat(&[&a, &b], 1)?)?;

    // Reductions.
    writeln!(out, "a.sum() (a scalar, 0-dim tensor):\n{}\n", a.sum())?;
    writeln!(
        out,
        "a.sum(dim=0) (vector: down each column):\n{}\n",
        a.sum_dim(0)?
    )?;
    writeln!(
        out,
        "a.sum(dim=1) (vector: along each row):\n{}\n",
        a.sum_dim(1)?
    )?;
    writeln!(out, "a.mean():\n{}\n", a.mean())?;

    // Accessing elements.
    writeln!(out, "a[1][2]: {}", a.get::<f32>(&[1, 2])?)?;
    writeln!(out, "a[-1][0]: {}\n", a.get::<f32>(&[-1, 0])?)?;

    // Activations.
    writeln!(out, "a.sigmoid():\n{}\n", a.sigmoid())?;
    writeln!(
        out,
        "a.softmax(dim=0) (each column sums to 1):\n{}\n",
        a.softmax(0)?
    )?;
    writeln!(
        out,
        "a.softmax(dim=1) (each row sums to 1):\n{}",
        a.softmax(1)?
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn walkthrough_prints_every_step() {
        let mut out = Vec::new();
        super::walkthrough(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for label in [
            "Scalar",
            "Vector",
            "Matrix",
            "Stacked",
            "flatten",
            "reshape",
            "transpose",
            "cat(",
            "a.sum()",
            "sum(dim=0)",
            "sum(dim=1)",
            "mean",
            "a[1][2]: 6",
            "sigmoid",
            "softmax(dim=0)",
            "softmax(dim=1)",
        ] {
            assert!(text.contains(label), "missing {label:?} in:\n{text}");
        }
    }
}

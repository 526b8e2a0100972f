//! The course's first lesson, "creating tensors", step by step: a scalar,
//! a vector, a matrix and stacked matrices, then flatten, reshape,
//! transpose, cat, the reductions, accessing elements, sigmoid and softmax
//! across rows and columns. The same walkthrough `torchlet seed` prints;
//! every value the lesson states is checked.
//!
//! `cargo run --release -p torchlet --example tensors`

use torchlet::prelude::*;

fn main() -> Result<()> {
    // Scalar (0-dim), vector (1-dim), matrix (2-dim), stacked matrices (3-dim).
    let scalar = Tensor::scalar(7.0f32);
    let vector = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
    let a = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[3, 3])?;
    let b = Tensor::from_vec((1..=9).rev().map(|v| v as f32).collect(), &[3, 3])?;
    let stacked = Tensor::stack(&[&a, &b], 0)?;
    println!("scalar: {scalar}\nvector: {vector}\nmatrix a:\n{a}\nstack([a, b]):\n{stacked}");
    assert_eq!(
        (scalar.dim(), vector.dim(), a.dim(), stacked.dim()),
        (0, 1, 2, 3)
    );
    assert_eq!(stacked.shape(), &[2, 3, 3]);

    // Manipulating: flatten(), reshape(1, 9), transpose(0, 1), cat(dim=1).
    println!("a.flatten(): {}", a.ravel());
    println!("a.reshape(1, 9): {}", a.reshape(&[1, 9])?);
    let t = a.transpose(0, 1)?;
    println!("a.transpose(0, 1):\n{t}");
    let wide = Tensor::cat(&[&a, &b], 1)?;
    println!("cat([a, b], dim=1):\n{wide}");
    assert_eq!(a.ravel().shape(), &[9]);
    assert_eq!(t.get::<f32>(&[0, 1])?, 4.0);
    assert_eq!(wide.shape(), &[3, 6]);

    // Reductions: sum() is a scalar (dim 0); sum(dim=0) and sum(dim=1) vectors.
    println!("a.sum() = {}, a.mean() = {}", a.sum(), a.mean());
    println!(
        "a.sum(dim=0) = {}\na.sum(dim=1) = {}",
        a.sum_dim(0)?,
        a.sum_dim(1)?
    );
    assert_eq!((a.sum().dim(), a.sum().item::<f32>()?), (0, 45.0));
    assert_eq!(a.sum_dim(0)?.to_vec::<f32>()?, [12.0, 15.0, 18.0]);
    assert_eq!(a.sum_dim(1)?.to_vec::<f32>()?, [6.0, 15.0, 24.0]);
    assert_eq!(a.mean().item::<f32>()?, 5.0);

    // Accessing elements (a negative index counts from the end).
    println!(
        "a[1][2] = {}, a[-1][0] = {}",
        a.get::<f32>(&[1, 2])?,
        a.get::<f32>(&[-1, 0])?
    );
    assert_eq!(
        (a.get::<f32>(&[1, 2])?, a.get::<f32>(&[-1, 0])?),
        (6.0, 7.0)
    );

    // sigmoid(), softmax across rows (dim=0) and across columns (dim=1).
    let (down, across) = (a.softmax(0)?, a.softmax(1)?);
    println!(
        "a.sigmoid():\n{}\nsoftmax(dim=0):\n{down}\nsoftmax(dim=1):\n{across}",
        a.sigmoid()
    );
    let ones = |t: Tensor| {
        t.to_vec::<f32>()
            .map(|v| v.iter().all(|s| (s - 1.0).abs() < 1e-6))
    };
    assert!(ones(down.sum_dim(0)?)? && ones(across.sum_dim(1)?)?);
    assert!((a.sigmoid().get::<f32>(&[0, 0])? - 0.731_058_6).abs() < 1e-6);
    Ok(())
}

//! Bad input gives an `Err` whose message names the op (and the shapes or
//! the offending value) — never a panic or a silent wrong answer.

use torchlet_tensor::{DType, Tensor, TensorError};

fn f(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape)
}

fn idx(v: &[i64]) -> Tensor {
    Tensor::from_slice(v, &[v.len()]).unwrap()
}

/// Asserts `r` failed with a message containing every needle.
fn fails<T: std::fmt::Debug>(r: Result<T, TensorError>, needles: &[&str]) {
    let e = r.expect_err("expected an error").to_string();
    for n in needles {
        assert!(e.contains(n), "error {e:?} should mention {n:?}");
    }
}

#[test]
fn shape_mismatches() {
    fails(f(&[2, 3]).add(&f(&[4])), &["add", "[2, 3]", "[4]"]);
    fails(f(&[2, 3]).matmul(&f(&[2, 3])), &["matmul", "2x3 and 2x3"]);
    fails(
        Tensor::cat(&[f(&[2, 3]), f(&[3, 2])], 0),
        &["cat", "[2, 3]", "[3, 2]"],
    );
    fails(Tensor::stack(&[f(&[2]), f(&[3])], 0), &["stack"]);
    fails(f(&[2, 3]).reshape(&[4, 2]), &["reshape", "[2, 3]"]);
    fails(f(&[2, 3]).expand(&[3, 3]), &["expand"]);
    fails(
        Tensor::from_vec(vec![1.0f32; 5], &[2, 3]),
        &["from_vec", "5", "[2, 3]"],
    );
    fails(
        f(&[1, 3, 8, 8]).conv2d(&f(&[4, 2, 3, 3]), None, [1, 1], [0, 0], [1, 1], 1),
        &["conv2d"],
    );
    fails(
        f(&[2, 3]).layer_norm(&[4], None, None, 1e-5),
        &["layer_norm"],
    );
}

#[test]
fn bad_dims() {
    let x = f(&[2, 3]);
    fails(x.sum_dim(2), &["sum", "2", "rank 2"]);
    fails(x.softmax(-3), &["softmax", "-3"]);
    fails(x.transpose(0, 5), &["transpose", "5"]);
    fails(x.unsqueeze(4), &["unsqueeze", "4"]);
    fails(x.permute(&[0, 0]), &["permute"]);
    fails(x.max_dim(3, false), &["max", "3"]);
    fails(x.narrow(1, 2, 2), &["narrow", "2"]);
    fails(x.flatten(1, 0), &["flatten"]);
    fails(Tensor::cat(&[x.clone(), x.clone()], 2), &["cat", "2"]);
}

#[test]
fn indices_out_of_range() {
    let x = f(&[3, 2]);
    fails(
        x.index_select(0, &idx(&[0, 3])),
        &["index_select", "index 3", "size 3"],
    );
    fails(
        x.gather(1, &Tensor::from_vec(vec![0i64, 2], &[1, 2]).unwrap()),
        &["gather", "2"],
    );
    fails(x.select(0, -4), &["select", "-4"]);
    fails(x.get::<f32>(&[3, 0]), &["get", "3"]);
}

#[test]
fn dtype_mismatches() {
    let x = f(&[3, 2]);
    fails(
        x.index_select(0, &Tensor::zeros(&[1])),
        &["index_select", "int64", "float32"],
    );
    fails(x.masked_fill(&x, 1.0), &["masked_fill", "bool"]);
    fails(
        x.matmul(&Tensor::zeros_dtype(&[2, 2], DType::F64)),
        &["matmul", "float32", "float64"],
    );
    fails(x.to_vec::<i64>(), &["to_vec", "int64", "float32"]);
    let mut i = Tensor::zeros_dtype(&[2], DType::I64);
    fails(i.add_(&f(&[2])), &["add_"]);
}

#[test]
fn invalid_arguments() {
    fails(Tensor::arange(0.0f32, 1.0, 0.0), &["arange", "step"]);
    fails(Tensor::randint(5, 5, &[2]), &["randint", "low = 5"]);
    fails(
        f(&[1, 1, 4, 4]).max_pool2d([2, 2], [0, 0], [0, 0]),
        &["max_pool2d"],
    );
    fails(Tensor::zeros(&[0]).max(), &["max"]);
    fails(f(&[4]).chunk(0, 0), &["chunk"]);
    fails(f(&[2, 3]).item::<f32>(), &["item", "6 elements"]);
}

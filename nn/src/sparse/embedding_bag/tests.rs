use serde_json::Value;
use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use super::*;

const FIXTURE: &str = include_str!("../../../tests/fixtures/embedding_bag.json");

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn shape(v: &Value) -> Vec<usize> {
    ints(v).into_iter().map(|x| x as usize).collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-12, "{what}[{i}]: got {g}, want {w}");
    }
}

/// Every mode, both input layouts, padding and per-sample weights against
/// PyTorch (tests/fixtures/embedding_bag.py): outputs, and the gradients
/// of `sum(out * grad_out)` for the weight and the per-sample weights.
#[test]
fn matches_pytorch_forward_and_gradients() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let weight =
        Tensor::from_vec(floats(&fixture["weight"]), &shape(&fixture["weight_shape"])).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    for case in cases {
        let mode = match case["mode"].as_str().unwrap() {
            "sum" => BagMode::Sum,
            "mean" => BagMode::Mean,
            _ => BagMode::Max,
        };
        let padding = case["padding_idx"].as_i64();
        let what = format!(
            "{mode:?} padding {padding:?} shape {} psw {}",
            case["input_shape"],
            !case["per_sample_weights"].is_null()
        );
        let bag = EmbeddingBag::with_padding(7, 3, mode, padding).unwrap();
        bag.weight().set_data(weight.clone()).unwrap();
        let input = Tensor::from_vec(ints(&case["input"]), &shape(&case["input_shape"])).unwrap();
        let offsets = case["offsets"]
            .as_array()
            .map(|_| Tensor::from_vec(ints(&case["offsets"]), &[4]).unwrap());
        let psw = (!case["per_sample_weights"].is_null()).then(|| {
            let w = Tensor::from_vec(floats(&case["per_sample_weights"]), input.shape()).unwrap();
            Variable::new(w, true)
        });
        let out = bag
            .forward_bags(&input, offsets.as_ref(), psw.as_ref())
            .unwrap();
        assert_eq!(out.shape(), shape(&case["out_shape"]), "{what}");
        assert_close(&what, &out.to_vec::<f64>().unwrap(), &floats(&case["out"]));
        let g = Tensor::from_vec(floats(&case["grad_out"]), &out.shape()).unwrap();
        out.mul(&Variable::constant(g))
            .unwrap()
            .sum()
            .backward()
            .unwrap();
        let grad = bag.weight().grad().unwrap().to_vec::<f64>().unwrap();
        assert_close(
            &format!("{what}: grad weight"),
            &grad,
            &floats(&case["grad_weight"]),
        );
        if let Some(w) = psw {
            let grad = w.grad().unwrap().to_vec::<f64>().unwrap();
            let want = floats(&case["grad_per_sample_weights"]);
            assert_close(&format!("{what}: grad psw"), &grad, &want);
        }
    }
}

#[test]
fn mean_of_rows_equals_embedding_mean() {
    let bag = EmbeddingBag::new(20, 5, BagMode::Mean).unwrap();
    let idx = Tensor::from_vec(vec![3i64, 17, 9, 3], &[1, 4]).unwrap();
    let out = bag.forward(&Variable::constant(idx.clone())).unwrap();
    let want = bag
        .weight()
        .data()
        .index_select(0, &idx.reshape(&[4]).unwrap())
        .unwrap();
    let want = want.mean_dim(0).unwrap().to_vec::<f32>().unwrap();
    for (a, b) in out.to_vec::<f32>().unwrap().iter().zip(want) {
        assert!((a - b).abs() < 1e-6);
    }
    let names: Vec<String> = bag.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight"]);
}

#[test]
fn bad_input_is_an_error_naming_the_problem() {
    let bag = EmbeddingBag::new(5, 2, BagMode::Mean).unwrap();
    let flat = Tensor::from_vec(vec![1i64, 2, 3], &[3]).unwrap();
    let err = |r: Result<Variable>| r.expect_err("an error").to_string();
    assert!(err(bag.forward_bags(&flat, None, None)).contains("needs offsets"));
    let off = Tensor::from_vec(vec![0i64, 2, 1], &[3]).unwrap();
    assert!(err(bag.forward_bags(&flat, Some(&off), None)).contains("non-decreasing"));
    let off = Tensor::from_vec(vec![1i64], &[1]).unwrap();
    assert!(err(bag.forward_bags(&flat, Some(&off), None)).contains("offsets[0] must be 0"));
    let off = Tensor::from_vec(vec![0i64, 4], &[2]).unwrap();
    assert!(err(bag.forward_bags(&flat, Some(&off), None)).contains("offset 4"));
    let out_of_range = Tensor::from_vec(vec![7i64], &[1, 1]).unwrap();
    assert!(err(bag.forward_bags(&out_of_range, None, None)).contains("index 7 out of range"));
    let w = Variable::constant(Tensor::ones(&[3]));
    let off = Tensor::from_vec(vec![0i64], &[1]).unwrap();
    assert!(
        err(bag.forward_bags(&flat, Some(&off), Some(&w))).contains("only supported for mode Sum")
    );
    let floats = Tensor::ones(&[1, 2]);
    assert!(err(bag.forward_bags(&floats, None, None)).contains("int64"));
}

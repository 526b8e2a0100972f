//! Dynamic quantization against PyTorch's x86 engine
//! (`tests/fixtures/dynamic.json`, made by `scripts/make_dynamic_fixture.py`):
//! `quantize_dynamic` of a Linear and of LSTMs (packed, bidirectional,
//! two layers).

use serde_json::Value;
use torchlet_nn::{RnnCell, RnnRecord};
use torchlet_quantize::{DynamicLinear, DynamicLstm};
use torchlet_tensor::Tensor;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn tensor(values: &Value, shape_of: &Value) -> Tensor {
    Tensor::from_vec(floats(values), &shape(shape_of)).unwrap()
}

/// PyTorch's fbgemm output stage may multiply the two scales first; allow
/// a few float32 ulps of the result's magnitude.
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 2e-6 * w.abs().max(1.0),
            "{what}[{i}]: {g} vs PyTorch {w}"
        );
    }
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dynamic.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

#[test]
fn dynamic_linear_matches_pytorch() {
    let mut n = 0;
    for c in cases().iter().filter(|c| c["op"] == "linear_dynamic") {
        let w = tensor(&c["weight"], &c["weight_shape"]);
        let b = Tensor::from_vec(floats(&c["bias"]), &[w.shape()[0]]).unwrap();
        let lin = DynamicLinear::new(&w, Some(&b)).unwrap();
        assert_eq!(
            lin.weight.q_scale().unwrap() as f32,
            c["weight_scale"].as_f64().unwrap() as f32
        );
        assert_eq!(
            lin.weight.q_zero_point().unwrap(),
            c["weight_zero_point"].as_i64().unwrap()
        );
        let ints: Vec<i64> = c["weight_int"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(lin.weight.int_repr().to_vec::<i64>().unwrap(), ints);
        let y = lin.forward(&tensor(&c["x"], &c["x_shape"])).unwrap();
        assert_close(
            "linear_dynamic",
            &y.to_vec::<f32>().unwrap(),
            &floats(&c["y"]),
        );
        n += 1;
    }
    assert_eq!(n, 2);
}

#[test]
fn dynamic_lstm_matches_pytorch_packed_and_bidirectional() {
    let mut n = 0;
    for c in cases().iter().filter(|c| c["op"] == "lstm_dynamic") {
        let layers = c["num_layers"].as_u64().unwrap() as usize;
        let bidir = c["bidirectional"].as_bool().unwrap();
        let record = RnnRecord {
            cell: RnnCell::Lstm,
            hidden_size: 8,
            num_layers: layers,
            bidirectional: bidir,
            batch_first: true,
            bias: true,
            with_lengths: !c["lengths"].is_null(),
        };
        let mut cells = Vec::new();
        for l in 0..layers {
            for suffix in if bidir {
                vec!["", "_reverse"]
            } else {
                vec![""]
            } {
                let p = |kind: &str| {
                    let name = format!("{kind}_l{l}{suffix}");
                    tensor(&c["params"][&name], &c["shapes"][&name])
                };
                let ih = DynamicLinear::new(&p("weight_ih"), Some(&p("bias_ih"))).unwrap();
                let hh = DynamicLinear::new(&p("weight_hh"), Some(&p("bias_hh"))).unwrap();
                cells.push((ih, hh));
            }
        }
        let lstm = DynamicLstm { record, cells };
        let lengths: Option<Vec<usize>> = c["lengths"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_u64().unwrap() as usize).collect());
        let (out, h_n, c_n) = lstm
            .forward(&tensor(&c["x"], &c["x_shape"]), lengths.as_deref())
            .unwrap();
        assert_close(
            "output",
            &out.to_vec::<f32>().unwrap(),
            &floats(&c["output"]),
        );
        assert_close("h_n", &h_n.to_vec::<f32>().unwrap(), &floats(&c["h_n"]));
        assert_close("c_n", &c_n.to_vec::<f32>().unwrap(), &floats(&c["c_n"]));
        n += 1;
    }
    assert_eq!(n, 2);
}

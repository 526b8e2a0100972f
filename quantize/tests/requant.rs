//! The int8 output stage against PyTorch's x86 engine on rounding ties
//! (`tests/fixtures/requant.json`, made by `scripts/make_requant_fixture.py`):
//! outputs where fbgemm's `(acc + bias / (sx·sw)) · (sx·sw / so)` and the
//! equal-on-paper `(acc · sx·sw + bias) / so` round to different integers.
//! torchlet's quantized Linear and Conv2d give PyTorch's integer on each.

use serde_json::Value;
use torchlet_quantize::{quantized_conv2d, quantized_linear, PackedParams, QParams, QTensor};

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

#[test]
fn ties_round_as_pytorch_does() {
    let text = include_str!("fixtures/requant.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "the fixture holds {} ties", cases.len());
    for (i, c) in cases.iter().enumerate() {
        let f = |k: &str| c[k].as_f64().unwrap();
        let n = |k: &str| c[k].as_i64().unwrap();
        let x: Vec<u8> = ints(&c["x"]).iter().map(|&v| v as u8).collect();
        let w: Vec<i8> = ints(&c["w"]).iter().map(|&v| v as i8).collect();
        let k = x.len();
        // The script's own check that this output is a tie.
        assert_ne!(n("fbgemm_formula"), n("other_formula"), "case {i}");
        let params = QParams::PerChannel {
            scales: vec![f("w_scale")],
            zero_points: vec![0],
            axis: 0,
        };
        let bias = [f("bias") as f32];
        let (os, oz) = (f("out_scale"), n("out_zero_point"));

        let xq = QTensor::from_u8(x.clone(), &[1, k], f("x_scale"), n("x_zero_point")).unwrap();
        let wq = QTensor::from_i8(w.clone(), &[1, k], params.clone()).unwrap();
        let packed = PackedParams::new(&wq, Some(&bias)).unwrap();
        let y = quantized_linear(&xq, &packed, os, oz, false).unwrap();
        assert_eq!(y.as_u8().unwrap(), [n("linear") as u8], "Linear, case {i}");

        let xq = QTensor::from_u8(x, &[1, k, 1, 1], f("x_scale"), n("x_zero_point")).unwrap();
        let wq = QTensor::from_i8(w, &[1, k, 1, 1], params).unwrap();
        let packed = PackedParams::new(&wq, Some(&bias)).unwrap();
        let y = quantized_conv2d(&xq, &packed, [1, 1], [0, 0], [1, 1], os, oz, false).unwrap();
        assert_eq!(
            y.as_u8().unwrap(),
            [n("conv1x1") as u8],
            "Conv2d 1x1, case {i}"
        );
    }
}

//! Fused elementwise programs give the same bits at every SIMD level this
//! CPU runs (baseline, AVX2, AVX-512; `TORCHLET_SIMD` picks among them as
//! for torchlet-tensor's kernels), and the eager ops' bits. One test
//! function, because the level is process-wide.

use torchlet_autograd::{Result, Variable};
use torchlet_jit::trace_fn;
use torchlet_tensor::{with_simd_level, Generator, SimdLevel, Tensor};

/// The elements' bits, every NaN as one (a NaN's sign and payload may
/// depend on the instructions).
fn bits(t: &Tensor) -> Vec<u32> {
    let v = t.to_vec::<f32>().unwrap();
    v.iter()
        .map(|v| if v.is_nan() { f32::NAN } else { *v }.to_bits())
        .collect()
}

#[test]
fn fused_programs_give_the_same_bits_at_every_level() {
    let mut g = Generator::new(5);
    // An odd length (vector tails), values across exp's and erf's ranges,
    // and the special values.
    let mut v = Tensor::randn_with(&[70_001], &mut g)
        .mul_scalar(5.0)
        .to_vec::<f32>()
        .unwrap();
    v[..6].copy_from_slice(&[0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-40]);
    let x = Tensor::from_vec(v, &[70_001]).unwrap();
    let y = Tensor::randn_with(&[70_001], &mut g);
    // Every kind of step: binary, scalar, and the vector-math unaries.
    let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
        let (x, y) = (&xs[0], &xs[1]);
        let a = x.mul(y)?.add_scalar(0.5).gelu().mul(&x.sigmoid())?;
        let b = x.tanh().add(&x.exp().mul_scalar(1e-3))?.sub(&y.erf())?;
        let c = x
            .silu()
            .div(&y.abs().add_scalar(1.0))?
            .add(&x.div_scalar(2.0))?;
        let d = y
            .abs()
            .add_scalar(1e-3)
            .log()
            .mul(&x.relu())?
            .add(&x.softplus())?;
        Ok(vec![a.add(&b)?.mul(&c)?.sub(&d)?])
    };
    let inputs = [x.clone(), y.clone()];
    let script = trace_fn(f, &[], &inputs).unwrap().optimize().unwrap();
    let fused = script
        .graph()
        .nodes
        .iter()
        .filter(|n| n.op.name() == "torchlet::fused_elementwise")
        .count();
    assert_eq!(fused, 1, "{}", script.graph());
    let eager = || {
        let xs = [Variable::constant(x.clone()), Variable::constant(y.clone())];
        bits(&f(&xs).unwrap()[0].data())
    };
    let want = with_simd_level(SimdLevel::Baseline, eager);
    for level in SimdLevel::available() {
        let got = with_simd_level(level, || bits(&script.forward(&inputs).unwrap()[0]));
        assert!(
            got == want,
            "the fused program at {level:?} differs from eager"
        );
    }
    let missing: Vec<_> = [SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|l| !SimdLevel::available().contains(l))
        .collect();
    if !missing.is_empty() {
        eprintln!("levels this CPU cannot run, not compared: {missing:?}");
    }
}

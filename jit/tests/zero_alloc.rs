//! The executor allocates nothing on a call after the first at the same
//! shapes: a counting global allocator (this binary's only test, so no
//! other test allocates meanwhile) sees no allocation on any thread, the
//! thread team's included, during the second call of the optimised
//! LeNet, MLP and ResNet-8 scripts and the benchmark's elementwise chain,
//! at batch 1, 4 and 64 (64 runs the parallel kernels).

#[path = "../../onnx-export/tests/common/models.rs"]
mod models;
#[path = "../../onnx-export/tests/common/zoo.rs"]
mod zoo;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use torchlet_autograd::{Result, Variable};
use torchlet_jit::{trace, trace_fn, ScriptModule, Workspace};
use torchlet_tensor::{Generator, Tensor};

/// The system allocator, counting allocations and reallocations.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Runs `script` twice on `x` in one workspace; returns the allocations
/// of the second call, after checking that both calls agree bitwise.
fn second_call_allocations(script: &ScriptModule, x: &Tensor) -> usize {
    let mut ws = Workspace::new();
    let inputs = [x.clone()];
    let first = script.forward_in(&mut ws, &inputs).unwrap()[0]
        .to_vec::<f32>()
        .unwrap();
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let outputs = script.forward_in(&mut ws, &inputs).unwrap();
    let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
    let again = outputs[0].to_vec::<f32>().unwrap();
    assert_eq!(
        again.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        first.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    during
}

/// The benchmark chain `gelu(x * w + b) * sigmoid(x) + x / 2`, fused.
fn chain() -> ScriptModule {
    let mut g = Generator::new(3);
    let w = Variable::constant(Tensor::randn_with(&[256], &mut g));
    let b = Variable::constant(Tensor::randn_with(&[256], &mut g));
    let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
        let x = &xs[0];
        let h = x.mul(&w)?.add(&b)?.gelu();
        Ok(vec![h.mul(&x.sigmoid())?.add(&x.div_scalar(2.0))?])
    };
    let named = [("w".to_string(), w.clone()), ("b".to_string(), b.clone())];
    trace_fn(f, &named, &[Tensor::rand(&[4, 256])])
        .unwrap()
        .optimize()
        .unwrap()
}

#[test]
fn a_second_call_allocates_nothing() {
    let mut scripts = vec![("chain", chain(), None)];
    for m in models::all_models().unwrap() {
        if ["mlp", "lenet_bn", "resnet8"].contains(&m.name) {
            let script = trace(m.module.as_ref(), &[m.example(2, 1).data()])
                .unwrap()
                .optimize()
                .unwrap();
            scripts.push((m.name, script, Some(m)));
        }
    }
    for (name, script, model) in &scripts {
        for batch in [1, 4, 64] {
            let x = match model {
                Some(m) => m.example(batch, 7).data(),
                None => Tensor::rand(&[batch * 16, 256]),
            };
            let n = second_call_allocations(script, &x);
            assert_eq!(n, 0, "{name} at batch {batch}: {n} allocations");
        }
    }
    // The script's own workspace: forward allocates only the Vec it
    // returns (and nothing for the values).
    let (_, lenet, model) = scripts.iter().find(|s| s.0 == "lenet_bn").unwrap();
    let x = model.as_ref().unwrap().example(8, 2).data();
    drop(lenet.forward(std::slice::from_ref(&x)).unwrap());
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let out = lenet.forward(std::slice::from_ref(&x)).unwrap();
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst) - before, 1);
    assert_eq!(out[0].shape(), [8, 10]);
}

//! Optimizer state files: parsed, loaded into each stateful optimizer
//! over fixed parameters, then a step taken with what was loaded.
#![no_main]

use torchlet_autograd::Variable;
use torchlet_optim::{
    Adagrad, AdagradOptions, Adam, AdamOptions, AdamW, OptimizerStateDict, RmsProp, RmsPropOptions,
    Sgd, SgdOptions, StatefulOptimizer,
};
use torchlet_tensor::Tensor;

fn params() -> Vec<Variable> {
    let w = Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 0.0, 1.5, -0.25], &[3, 2]).unwrap();
    let b = Tensor::from_vec(vec![0.1f32, 0.2], &[2]).unwrap();
    let ps = vec![Variable::parameter(w), Variable::parameter(b)];
    for p in &ps {
        p.set_grad(Some(p.data().ones_like()));
    }
    ps
}

fn load_and_step<O: StatefulOptimizer>(mut opt: O, dict: &OptimizerStateDict) {
    if opt.load_state_dict(dict).is_ok() {
        let _ = opt.step();
        let _ = opt.state_dict();
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(dict) = OptimizerStateDict::from_safetensors_bytes(data, "fuzz") else {
        return;
    };
    load_and_step(Sgd::new(params(), SgdOptions::default()).unwrap(), &dict);
    load_and_step(Adam::new(params(), AdamOptions::default()).unwrap(), &dict);
    load_and_step(AdamW::new(params(), AdamOptions::default()).unwrap(), &dict);
    load_and_step(
        Adagrad::new(params(), AdagradOptions::default()).unwrap(),
        &dict,
    );
    load_and_step(
        RmsProp::new(params(), RmsPropOptions::default()).unwrap(),
        &dict,
    );
});

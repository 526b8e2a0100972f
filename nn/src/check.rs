//! [`Module::check`]: every trainable variable a forward uses must be
//! registered, or it trains without the optimizer and is missing from the
//! state dict.

use std::collections::HashSet;

use torchlet_autograd::{enable_grad, reachable_leaves, Variable};

use crate::error::{NnError, Result};
use crate::module::Module;

/// Runs `module` on `example` with gradients on, in eval mode (so
/// BatchNorm's running statistics and the dropout generator are left as
/// they were; the training flags are restored after), and counts the
/// trainable leaves the output depends on that `module.parameters()`
/// leaves out.
pub(crate) fn unregistered_parameters<M: Module>(module: &M, example: &Variable) -> Result<()> {
    let flags: Vec<bool> = modules(module).iter().map(|m| m.is_training()).collect();
    module.eval();
    let out = enable_grad(|| module.forward(example));
    for (m, training) in modules(module).into_iter().zip(flags) {
        m.set_local_training(training);
    }
    let out = out?;
    let registered: HashSet<usize> = module.parameters().iter().map(Variable::id).collect();
    let leaves = reachable_leaves(&[&out]);
    // Walk the parameters' ids in a stable order for the message.
    let mut missing: Vec<usize> = leaves
        .into_iter()
        .filter(|id| !registered.contains(id) && *id != example.id())
        .collect();
    missing.sort_unstable();
    if missing.is_empty() {
        return Ok(());
    }
    Err(NnError::Config {
        module: "Module::check",
        message: format!(
            "{}'s forward used {} trainable variables that parameters() does not list \
             (a child missing from children() or a parameter missing from \
             local_parameters()); they would not be optimized or saved. \
             #[derive(Module)] registers every field",
            std::any::type_name::<M>(),
            missing.len()
        ),
    })
}

/// `module` and every module below it, in registration order.
fn modules(module: &dyn Module) -> Vec<&dyn Module> {
    let mut all = vec![module];
    for (_, child) in module.children() {
        all.extend(modules(child));
    }
    all
}

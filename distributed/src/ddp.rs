//! [`DistributedDataParallel`]: data-parallel training with PyTorch's DDP
//! semantics. Every rank holds the whole model; the constructor gives all
//! ranks rank 0's parameters and buffers, and each backward averages the
//! gradients across ranks, so an optimizer step leaves every rank with
//! the same weights.
//!
//! Gradients are averaged in buckets, as PyTorch's reducer does: the
//! parameters in reverse order (the order backward produces their
//! gradients), a small first bucket (1 MiB) and then buckets of
//! `bucket_cap_mb` (25 MiB). A post-accumulate-grad hook on each
//! parameter counts the bucket's ready gradients; when the bucket is
//! complete its all-reduce starts at once (each gradient divided by the
//! world size, then summed over the ranks, as PyTorch does) while
//! backward goes on: on MPI the communication thread moves the bucket,
//! flattened; `Local` ranks hand over the gradients themselves and sum
//! them together, block by block, into one buffer they all get views of
//! (reused from step to step). The hook of the last gradient waits for every bucket and gives
//! each parameter a view of its bucket's result, so `backward` returns
//! with the averaged gradients in place.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use std::collections::HashSet;

use torchlet_autograd::{
    is_grad_enabled, reachable_leaves, AutogradError, RemovableHandle, Variable,
};
use torchlet_nn::Module;
use torchlet_tensor::{DType, Tensor};

use crate::error::{DistError, Result};
use crate::group::{ProcessGroup, Work};
use crate::reduce::ReduceOp;
use crate::timing::StepTiming;

/// PyTorch's first bucket size (`dist._DEFAULT_FIRST_BUCKET_BYTES`).
const FIRST_BUCKET_BYTES: usize = 1 << 20;

/// How [`DistributedDataParallel`] syncs (PyTorch's constructor
/// arguments, with its defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct DdpOptions {
    /// The size of the gradient buckets after the first, in MiB (25).
    pub bucket_cap_mb: f64,
    /// Give every rank rank 0's buffers (BatchNorm running statistics)
    /// before each forward that records a graph (true).
    pub broadcast_buffers: bool,
    /// Walk the graph after each forward to find the parameters it did
    /// not use, so that their buckets need not wait for them (false).
    /// Costs a graph walk per forward and an all-reduce per backward; a
    /// parameter no rank used keeps its gradient as it was.
    pub find_unused_parameters: bool,
}

impl Default for DdpOptions {
    fn default() -> DdpOptions {
        DdpOptions {
            bucket_cap_mb: 25.0,
            broadcast_buffers: true,
            find_unused_parameters: false,
        }
    }
}

/// One bucket: parameters (indices into `Reducer::params`) whose
/// gradients are reduced together.
#[derive(Debug)]
struct Bucket {
    params: Vec<usize>,
}

/// What one backward has done so far.
#[derive(Default)]
struct Progress {
    /// Per parameter: its gradient is in this backward's buckets.
    marked: Vec<bool>,
    /// Per bucket: how many of its gradients are ready.
    ready: Vec<usize>,
    /// The next bucket to launch (buckets launch in order on every rank).
    next: usize,
    /// Per launched bucket, its all-reduce.
    works: Vec<Option<Work<Tensor>>>,
    /// Per parameter: the last forward did not use it (found when
    /// `find_unused_parameters` is on); its bucket gets zeros for it.
    unused: Vec<bool>,
    /// When the last synchronised forward ended.
    forward_end: Option<Instant>,
    /// Per launched bucket, when.
    launched: Vec<Instant>,
}

/// The gradient averaging state the hooks share.
struct Reducer {
    group: ProcessGroup,
    names: Vec<String>,
    params: Vec<Variable>,
    buckets: Vec<Bucket>,
    /// Per parameter, its bucket.
    bucket_of: Vec<usize>,
    progress: Mutex<Progress>,
    /// False inside `no_sync`.
    sync: AtomicBool,
    find_unused: bool,
    /// The last synchronised backward's timeline.
    last_timing: Mutex<Option<StepTiming>>,
}

/// Data-parallel training of `module` across the ranks of a group
/// (`torch.nn.parallel.DistributedDataParallel`). It is a [`Module`]:
/// call `forward`, `backward` and the optimizer step as without it; its
/// parameters are the wrapped module's (named `module.…`, as PyTorch's).
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_distributed::{spawn, DistributedDataParallel};
/// use torchlet_nn::{Linear, Module};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_distributed::DistError> {
/// let weights = spawn(2, |pg| -> Result<Vec<f32>, torchlet_distributed::DistError> {
///     // Each rank starts from other weights; DDP gives all rank 0's.
///     torchlet_tensor::manual_seed(pg.rank() as u64);
///     let model = DistributedDataParallel::new(Linear::new(3, 1)?, &pg)?;
///     // Each rank sees its own half of the batch.
///     let x = Variable::constant(Tensor::full(&[4, 3], pg.rank() as f32));
///     model.forward(&x)?.sum().backward()?;
///     // The gradient is the mean over the ranks: d(sum)/dw = (0 + 4) / 2.
///     Ok(model.parameters()[0].grad().unwrap().to_vec::<f32>()?)
/// })?;
/// assert_eq!(weights[0], [2.0; 3]);
/// assert_eq!(weights[1], weights[0]);
/// # Ok(())
/// # }
/// ```
pub struct DistributedDataParallel<M: Module> {
    module: M,
    reducer: Arc<Reducer>,
    options: DdpOptions,
    hooks: Vec<RemovableHandle>,
}

impl<M: Module> DistributedDataParallel<M> {
    /// Wraps `module` with the default options.
    pub fn new(module: M, group: &ProcessGroup) -> Result<Self> {
        DistributedDataParallel::with_options(module, group, DdpOptions::default())
    }

    /// Wraps `module`: checks that every rank has the same parameters
    /// (names and shapes), gives all ranks rank 0's parameters and
    /// buffers, and registers the gradient hooks.
    pub fn with_options(module: M, group: &ProcessGroup, options: DdpOptions) -> Result<Self> {
        const OP: &str = "DistributedDataParallel";
        if options.bucket_cap_mb.is_nan() || options.bucket_cap_mb <= 0.0 {
            return Err(DistError::invalid(
                OP,
                format!(
                    "bucket_cap_mb must be positive, got {}",
                    options.bucket_cap_mb
                ),
            ));
        }
        let mut names = Vec::new();
        let mut params: Vec<Variable> = Vec::new();
        for (name, p) in module.named_parameters() {
            // A shared parameter (tied weights) is reduced once.
            if p.requires_grad() && !params.iter().any(|q| q.id() == p.id()) {
                names.push(format!("module.{name}"));
                params.push(p);
            }
        }
        let layout: Vec<(String, Vec<usize>, String)> = names
            .iter()
            .zip(&params)
            .map(|(n, p)| (n.clone(), p.shape(), p.data().dtype().to_string()))
            .collect();
        let all = group.all_gather_object(&layout)?;
        if let Some((r, _)) = all.iter().enumerate().find(|(_, l)| **l != layout) {
            return Err(DistError::Mismatch {
                op: OP,
                message: format!(
                    "rank {r}'s model has other parameters than rank {}'s: {}",
                    group.rank(),
                    first_difference(&all[r], &layout)
                ),
            });
        }
        let values: Vec<Variable> = params
            .iter()
            .cloned()
            .chain(module.named_buffers().into_iter().map(|(_, b)| b))
            .collect();
        broadcast_values(group, &values)?;
        let buckets = assign_buckets(&params, options.bucket_cap_mb);
        let mut bucket_of = vec![0; params.len()];
        for (b, bucket) in buckets.iter().enumerate() {
            for &i in &bucket.params {
                bucket_of[i] = b;
            }
        }
        let reducer = Arc::new(Reducer {
            group: group.clone(),
            names,
            params,
            buckets,
            bucket_of,
            progress: Mutex::new(Progress::default()),
            sync: AtomicBool::new(true),
            find_unused: options.find_unused_parameters,
            last_timing: Mutex::new(None),
        });
        reducer.reset(&mut reducer.lock());
        let mut hooks = Vec::new();
        for (i, p) in reducer.params.iter().enumerate() {
            let weak: Weak<Reducer> = Arc::downgrade(&reducer);
            hooks.push(
                p.register_post_accumulate_grad_hook(move |_| match weak.upgrade() {
                    Some(r) => r.mark_ready(i).map_err(into_autograd),
                    None => Ok(()),
                })?,
            );
        }
        Ok(DistributedDataParallel {
            module,
            reducer,
            options,
            hooks,
        })
    }

    /// The wrapped module (`ddp.module`).
    pub fn module(&self) -> &M {
        &self.module
    }

    /// The group it syncs over.
    pub fn group(&self) -> &ProcessGroup {
        &self.reducer.group
    }

    /// The parameter names of each gradient bucket, in launch order.
    pub fn buckets(&self) -> Vec<Vec<String>> {
        let r = &self.reducer;
        r.buckets
            .iter()
            .map(|b| b.params.iter().map(|&i| r.names[i].clone()).collect())
            .collect()
    }

    /// Where the last synchronised backward's time went on this rank:
    /// backward's compute, the gradient all-reduce, and their overlap
    /// (`None` before the first). See [`StepTiming`].
    ///
    /// ```
    /// use torchlet_autograd::Variable;
    /// use torchlet_distributed::{spawn, DistributedDataParallel};
    /// use torchlet_nn::{Linear, Module};
    /// use torchlet_tensor::Tensor;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// spawn(2, |pg| -> Result<(), Box<dyn std::error::Error>> {
    ///     let model = DistributedDataParallel::new(Linear::new(4, 2)?, &pg)?;
    ///     let y = model.forward(&Variable::constant(Tensor::ones(&[3, 4])))?;
    ///     y.sum().backward()?;
    ///     let timing = model.last_step_timing().expect("a backward ran");
    ///     assert_eq!(timing.buckets.len(), 1);
    ///     assert!(timing.backward_comm <= timing.backward_total);
    ///     Ok(())
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn last_step_timing(&self) -> Option<StepTiming> {
        self.reducer
            .last_timing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Skips the gradient averaging while the guard lives
    /// (`with ddp.no_sync():`): backward only accumulates locally, and the
    /// first backward after it averages everything accumulated.
    pub fn no_sync(&self) -> NoSync<'_> {
        self.reducer.sync.store(false, Ordering::SeqCst);
        NoSync {
            reducer: &self.reducer,
        }
    }
}

/// Gradient averaging is off until this is dropped (see
/// [`DistributedDataParallel::no_sync`]).
#[must_use = "averaging is back on as soon as the guard is dropped"]
pub struct NoSync<'a> {
    reducer: &'a Reducer,
}

impl Drop for NoSync<'_> {
    fn drop(&mut self) {
        self.reducer.sync.store(true, Ordering::SeqCst);
    }
}

impl<M: Module> Drop for DistributedDataParallel<M> {
    fn drop(&mut self) {
        for h in self.hooks.drain(..) {
            h.remove();
        }
    }
}

impl<M: Module> Module for DistributedDataParallel<M> {
    /// Checks that the previous backward finished its averaging,
    /// broadcasts rank 0's buffers (if `broadcast_buffers`), and runs the
    /// module.
    fn forward(&self, x: &Variable) -> torchlet_nn::Result<Variable> {
        let r = &self.reducer;
        r.check_previous_finished().map_err(into_autograd)?;
        // As PyTorch: only a forward that will be backpropagated syncs
        // (an evaluation under no_grad makes no collective call, so ranks
        // may evaluate different numbers of batches).
        let syncing = is_grad_enabled() && r.sync.load(Ordering::SeqCst);
        if self.options.broadcast_buffers && syncing {
            let buffers: Vec<Variable> = self
                .module
                .named_buffers()
                .into_iter()
                .map(|(_, b)| b)
                .collect();
            broadcast_values(&r.group, &buffers).map_err(into_autograd)?;
        }
        let y = self.module.forward(x)?;
        if r.find_unused && syncing {
            r.mark_unused(&reachable_leaves(&[&y]))
                .map_err(into_autograd)?;
        }
        if syncing {
            r.lock().forward_end = Some(Instant::now());
        }
        Ok(y)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![("module", &self.module)]
    }
}

impl Reducer {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ready for a new backward.
    fn reset(&self, p: &mut Progress) {
        p.marked = vec![false; self.params.len()];
        p.ready = vec![0; self.buckets.len()];
        p.next = 0;
        p.works = (0..self.buckets.len()).map(|_| None).collect();
        p.unused = vec![false; self.params.len()];
        p.forward_end = None;
        p.launched.clear();
    }

    /// Marks the parameters the forward did not reach as ready (with
    /// zero gradients), launching the buckets that completes.
    fn mark_unused(&self, reached: &HashSet<usize>) -> Result<()> {
        let unused: Vec<usize> = (0..self.params.len())
            .filter(|&i| !reached.contains(&self.params[i].id()))
            .collect();
        for i in unused {
            self.lock().unused[i] = true;
            self.mark_ready(i)?;
        }
        Ok(())
    }

    /// Fails if a backward started averaging and did not finish: some
    /// parameters got no gradient (PyTorch's "Expected to have finished
    /// reduction in the prior iteration").
    fn check_previous_finished(&self) -> Result<()> {
        let mut p = self.lock();
        if p.marked.iter().all(|m| !m) {
            return Ok(());
        }
        let missing: Vec<&str> = p
            .marked
            .iter()
            .zip(&self.names)
            .filter(|(m, _)| !**m)
            .map(|(_, n)| n.as_str())
            .collect();
        // Start over: the next backward averages afresh.
        let works: Vec<Work<Tensor>> = p.works.iter_mut().filter_map(Option::take).collect();
        self.reset(&mut p);
        drop(p);
        for w in works {
            let _ = w.wait();
        }
        Err(DistError::invalid(
            "DistributedDataParallel",
            format!(
                "expected to have finished reduction in the prior iteration before starting a new one: these parameters got no gradient in the last backward: {}; make every parameter take part in the loss, or set DdpOptions::find_unused_parameters",
                missing.join(", ")
            ),
        ))
    }

    /// Parameter `i`'s gradient is accumulated: launch every bucket that
    /// is complete (in order), and after the last one, wait for them all
    /// and write the averaged gradients back.
    fn mark_ready(&self, i: usize) -> Result<()> {
        if !self.sync.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut p = self.lock();
        if p.marked[i] {
            return Err(DistError::invalid(
                "DistributedDataParallel",
                format!(
                    "parameter {} was marked ready twice in one iteration (a second backward before the next forward?)",
                    self.names[i]
                ),
            ));
        }
        p.marked[i] = true;
        p.ready[self.bucket_of[i]] += 1;
        while p.next < self.buckets.len() && p.ready[p.next] == self.buckets[p.next].params.len() {
            let b = p.next;
            p.launched.push(Instant::now());
            let work = self.launch(b, &p.unused)?;
            p.works[b] = Some(work);
            p.next += 1;
        }
        if p.next < self.buckets.len() {
            return Ok(());
        }
        let works: Vec<Work<Tensor>> = p
            .works
            .iter_mut()
            .map(|w| w.take().expect("launched"))
            .collect();
        // Which parameters some rank used (only tracked with find_unused).
        let used = if self.find_unused {
            let local: Vec<i64> = p.unused.iter().map(|&u| i64::from(!u)).collect();
            let n = local.len();
            Some(
                self.group
                    .all_reduce_async(Tensor::from_vec(local, &[n])?, ReduceOp::Max)?,
            )
        } else {
            None
        };
        let launched = std::mem::take(&mut p.launched);
        let origin = p.forward_end.unwrap_or(launched[0]);
        self.reset(&mut p);
        drop(p);
        let used: Option<Vec<i64>> = match used {
            Some(w) => Some(w.wait()?.to_vec::<i64>()?),
            None => None,
        };
        let mut comm = Vec::with_capacity(works.len());
        for (b, work) in works.into_iter().enumerate() {
            let done = work.wait_timed();
            comm.push((done.started, done.ended));
            self.write_back(b, &done.result?, used.as_deref())?;
        }
        let timing = StepTiming::new(origin, &launched, &comm, Instant::now());
        *self.last_timing.lock().unwrap_or_else(|e| e.into_inner()) = Some(timing);
        Ok(())
    }

    /// Starts bucket `b`'s all-reduce of its gradients / world size.
    fn launch(&self, b: usize, unused: &[bool]) -> Result<Work<Tensor>> {
        let mut grads = Vec::with_capacity(self.buckets[b].params.len());
        for &i in &self.buckets[b].params {
            let p = &self.params[i];
            let g = match p.grad() {
                Some(g) if !unused[i] => g,
                // An unused parameter adds nothing to the average.
                _ if unused[i] => Tensor::zeros_dtype(&p.shape(), p.data().dtype()),
                _ => {
                    return Err(DistError::invalid(
                        "DistributedDataParallel",
                        format!("parameter {} has no gradient", self.names[i]),
                    ))
                }
            };
            grads.push(g);
        }
        let world = self.group.world_size() as f64;
        Ok(self.group.all_reduce_coalesced_async(grads, world))
    }

    /// Splits bucket `b`'s averaged gradients back into its parameters
    /// (those some rank used, when `used` says).
    fn write_back(&self, b: usize, flat: &Tensor, used: Option<&[i64]>) -> Result<()> {
        let mut at = 0;
        for &i in &self.buckets[b].params {
            let p = &self.params[i];
            let shape = p.shape();
            let n: usize = shape.iter().product();
            if used.is_none_or(|u| u[i] != 0) {
                let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
                let g = flat.narrow(0, at as i64, n)?.reshape(&dims)?.contiguous();
                p.set_grad(Some(g));
            }
            at += n;
        }
        Ok(())
    }
}

/// Buckets over the parameters in reverse order, split by dtype: the
/// first closes at 1 MiB (or `cap_mb` if smaller), the others at
/// `cap_mb` MiB (PyTorch's `_compute_bucket_assignment_by_size` with its
/// first-bucket limit).
fn assign_buckets(params: &[Variable], cap_mb: f64) -> Vec<Bucket> {
    let cap = (cap_mb * 1024.0 * 1024.0) as usize;
    let mut done: Vec<Bucket> = Vec::new();
    // Open buckets by dtype: (dtype, params, bytes).
    let mut open: Vec<(DType, Vec<usize>, usize)> = Vec::new();
    for i in (0..params.len()).rev() {
        let t = params[i].data();
        let bytes = t.numel() * t.dtype().size_in_bytes();
        let k = match open.iter().position(|(d, _, _)| *d == t.dtype()) {
            Some(k) => k,
            None => {
                open.push((t.dtype(), Vec::new(), 0));
                open.len() - 1
            }
        };
        open[k].1.push(i);
        open[k].2 += bytes;
        let limit = if done.is_empty() {
            FIRST_BUCKET_BYTES.min(cap)
        } else {
            cap
        };
        if open[k].2 >= limit {
            let (_, params, _) = open.remove(k);
            done.push(Bucket { params });
        }
    }
    done.extend(
        open.into_iter()
            .filter(|(_, ps, _)| !ps.is_empty())
            .map(|(_, params, _)| Bucket { params }),
    );
    done
}

/// Gives every rank rank 0's buffers of `module` (BatchNorm running
/// statistics), as DDP does before a training forward: what a
/// data-parallel run calls before evaluating, so that every rank
/// evaluates the model rank 0 will save.
pub fn sync_buffers(group: &ProcessGroup, module: &dyn Module) -> Result<()> {
    let buffers: Vec<Variable> = module.named_buffers().into_iter().map(|(_, b)| b).collect();
    broadcast_values(group, &buffers)
}

/// Gives every rank rank 0's values of `vars` (one broadcast per dtype).
fn broadcast_values(group: &ProcessGroup, vars: &[Variable]) -> Result<()> {
    let mut dtypes: Vec<DType> = vars.iter().map(|v| v.data().dtype()).collect();
    dtypes.dedup();
    dtypes.sort_by_key(|d| d.name());
    dtypes.dedup();
    for dtype in dtypes {
        let mine: Vec<&Variable> = vars.iter().filter(|v| v.data().dtype() == dtype).collect();
        let flats: Vec<Tensor> = mine
            .iter()
            .map(|v| v.data().reshape(&[-1]))
            .collect::<std::result::Result<_, _>>()?;
        let mut flat = Tensor::cat(&flats, 0)?;
        group.broadcast(&mut flat, 0)?;
        let mut at = 0i64;
        for v in mine {
            let shape = v.shape();
            let n = shape.iter().product::<usize>() as i64;
            let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            v.set_data(flat.narrow(0, at, n as usize)?.reshape(&dims)?.contiguous())?;
            at += n;
        }
    }
    Ok(())
}

/// The first entry where two ranks' parameter lists differ.
fn first_difference(
    a: &[(String, Vec<usize>, String)],
    b: &[(String, Vec<usize>, String)],
) -> String {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return format!("{} {} {:?} vs {} {} {:?}", x.0, x.2, x.1, y.0, y.2, y.1);
        }
    }
    format!("{} parameters vs {}", a.len(), b.len())
}

/// A distributed error inside autograd (a hook) or nn (a forward).
fn into_autograd(e: DistError) -> AutogradError {
    match e {
        DistError::Autograd(e) => e,
        DistError::Invalid { op, message } => AutogradError::Graph { op, message },
        other => AutogradError::Graph {
            op: "DistributedDataParallel",
            message: other.to_string(),
        },
    }
}

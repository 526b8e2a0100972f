//! Random tensors from a seedable generator, and the default generator
//! that `manual_seed` resets (like `torch.manual_seed`): the process's,
//! or a thread's own where it has one (each `Local` rank of
//! `torchlet-distributed`, as each rank is a process in PyTorch).

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::{Mutex, OnceLock};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::dtype::DType;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

/// PyTorch's default seed: runs are reproducible even without `manual_seed`.
pub const DEFAULT_SEED: u64 = 67_280_421_310_721;

/// A seedable source of random numbers (`torch.Generator`).
///
/// ```
/// use torchlet_tensor::{Generator, Tensor};
/// let mut g1 = Generator::new(42);
/// let mut g2 = Generator::new(42);
/// let a = Tensor::randn_with(&[3], &mut g1);
/// let b = Tensor::randn_with(&[3], &mut g2);
/// assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
/// ```
#[derive(Clone, Debug)]
pub struct Generator {
    rng: StdRng,
    seed: u64,
}

impl Generator {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            seed,
        }
    }

    /// The seed this generator was last seeded with.
    pub fn initial_seed(&self) -> u64 {
        self.seed
    }

    /// Reseeds this generator.
    pub fn manual_seed(&mut self, seed: u64) {
        *self = Generator::new(seed);
    }

    /// A uniform sample in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// A standard normal sample.
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.rng)
    }

    /// A uniform integer in `[low, high)`; `low < high` is the caller's duty.
    pub fn int_below(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low..high)
    }

    /// The underlying `rand` generator, for other distributions.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

fn global() -> &'static Mutex<Generator> {
    static GLOBAL: OnceLock<Mutex<Generator>> = OnceLock::new();
    GLOBAL.get_or_init(|| Mutex::new(Generator::new(DEFAULT_SEED)))
}

thread_local! {
    /// The generators [`ThreadGenerator`] guards installed on this thread,
    /// innermost last; the last one is the thread's default generator.
    static THREAD_DEFAULT: RefCell<Vec<Generator>> = const { RefCell::new(Vec::new()) };
}

/// Reseeds the default generator (`torch.manual_seed`): the calling
/// thread's own if it has one (see [`use_thread_generator`]), else the
/// process's.
///
/// ```
/// use torchlet_tensor::{manual_seed, Tensor};
/// manual_seed(7);
/// let a = Tensor::rand(&[4]);
/// manual_seed(7);
/// assert_eq!(a.to_vec::<f32>().unwrap(), Tensor::rand(&[4]).to_vec::<f32>().unwrap());
/// ```
pub fn manual_seed(seed: u64) {
    with_global_generator(|g| g.manual_seed(seed));
}

/// Runs `f` with the default generator: the calling thread's own if it
/// has one (see [`use_thread_generator`]), else the process's, locked
/// while `f` runs (so `f` must not draw from the default generator
/// itself: it has the generator as its argument).
pub fn with_global_generator<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    // In an Option so that it is still here for the process's generator
    // when the thread has none of its own (or its storage is gone).
    let mut f = Some(f);
    let own = THREAD_DEFAULT.try_with(|cell| {
        let mut stack = cell.try_borrow_mut().expect(
            "the default generator is in use: a function given to with_global_generator may not draw from it (use the Generator it is given)",
        );
        let g = stack.last_mut()?;
        f.take().map(|f| f(g))
    });
    if let Ok(Some(r)) = own {
        return r;
    }
    let f = f.expect("not run on a thread generator");
    f(&mut global().lock().unwrap_or_else(|e| e.into_inner()))
}

/// Gives the calling thread its own default generator, starting as `g`,
/// until the returned guard is dropped: [`manual_seed`], [`Tensor::rand`],
/// parameter initialisation and dropout on this thread then draw from it,
/// and no other thread sees it. Threads that stand for separate
/// processes need this: ranks that seed and build their models at the
/// same time would otherwise interleave their draws from one generator
/// (`torchlet_distributed::spawn` installs one for each rank).
///
/// ```
/// use torchlet_tensor::{manual_seed, use_thread_generator, Generator, Tensor};
/// manual_seed(1);
/// let before = Tensor::rand(&[2]);
/// {
///     let _own = use_thread_generator(Generator::new(5));
///     manual_seed(9); // reseeds only this thread's generator
///     let mine = Tensor::rand(&[2]);
///     assert_eq!(mine.to_vec::<f32>()?, Tensor::rand_with(&[2], &mut Generator::new(9)).to_vec::<f32>()?);
/// }
/// // The process's generator went on from where it was.
/// manual_seed(1);
/// let again = Tensor::rand(&[2]);
/// assert_eq!(before.to_vec::<f32>()?, again.to_vec::<f32>()?);
/// # Ok::<(), torchlet_tensor::TensorError>(())
/// ```
pub fn use_thread_generator(g: Generator) -> ThreadGenerator {
    let depth = THREAD_DEFAULT.with(|cell| {
        let mut stack = cell.borrow_mut();
        stack.push(g);
        stack.len() - 1
    });
    ThreadGenerator {
        depth,
        _not_send: PhantomData,
    }
}

/// The guard of [`use_thread_generator`]: while it lives, its thread has
/// its own default generator; dropping it gives back the one the thread
/// used before (the process's, or an outer guard's). Dropping a guard
/// also ends the guards made after it on the same thread, so that
/// guards dropped out of order still leave the thread as it was.
///
/// The generator is the thread's alone: threads it starts (a
/// `DataLoader`'s workers, say) draw from the process's generator unless
/// they install their own.
#[must_use = "the thread's own generator is removed as soon as the guard is dropped"]
pub struct ThreadGenerator {
    /// Where this guard's generator sits in the thread's stack.
    depth: usize,
    /// The guard belongs to the thread it changed.
    _not_send: PhantomData<*const ()>,
}

impl Drop for ThreadGenerator {
    fn drop(&mut self) {
        let _ = THREAD_DEFAULT.try_with(|cell| {
            if let Ok(mut stack) = cell.try_borrow_mut() {
                stack.truncate(self.depth);
            }
        });
    }
}

impl Tensor {
    /// Uniform float32 samples in `[0, 1)` from the default generator
    /// ([`with_global_generator`]; `torch.rand`).
    pub fn rand(shape: &[usize]) -> Tensor {
        with_global_generator(|g| Tensor::rand_with(shape, g))
    }

    /// Standard normal float32 samples from the default generator (`torch.randn`).
    pub fn randn(shape: &[usize]) -> Tensor {
        with_global_generator(|g| Tensor::randn_with(shape, g))
    }

    /// Uniform int64 samples in `[low, high)` from the default generator (`torch.randint`).
    pub fn randint(low: i64, high: i64, shape: &[usize]) -> Result<Tensor> {
        with_global_generator(|g| Tensor::randint_with(low, high, shape, g))
    }

    /// A random permutation of `0..n` as int64 (`torch.randperm`).
    pub fn randperm(n: usize) -> Tensor {
        with_global_generator(|g| Tensor::randperm_with(n, g))
    }

    /// Uniform float32 samples in `[0, 1)` from `g`.
    pub fn rand_with(shape: &[usize], g: &mut Generator) -> Tensor {
        Tensor::uniform_with(shape, 0.0, 1.0, DType::F32, g)
    }

    /// Standard normal float32 samples from `g`.
    pub fn randn_with(shape: &[usize], g: &mut Generator) -> Tensor {
        Tensor::normal_with(shape, 0.0, 1.0, DType::F32, g)
    }

    /// Uniform samples in `[low, high)` of a float `dtype` from `g`
    /// (`tensor.uniform_(low, high)`).
    pub fn uniform_with(
        shape: &[usize],
        low: f64,
        high: f64,
        dtype: DType,
        g: &mut Generator,
    ) -> Tensor {
        let n: usize = shape.iter().product();
        let sample = |g: &mut Generator| low + (high - low) * g.uniform();
        match dtype {
            DType::F64 => Tensor::from_data((0..n).map(|_| sample(g)).collect::<Vec<f64>>(), shape),
            _ => {
                // Sample in f32 like PyTorch, and keep the bound exclusive.
                let v: Vec<f32> = (0..n)
                    .map(|_| {
                        let x = sample(g) as f32;
                        if x as f64 >= high && high > low {
                            low as f32
                        } else {
                            x
                        }
                    })
                    .collect();
                Tensor::from_data(v, shape).to_dtype(dtype)
            }
        }
    }

    /// Normal samples with `mean` and `std` of a float `dtype` from `g`
    /// (`tensor.normal_(mean, std)`).
    pub fn normal_with(
        shape: &[usize],
        mean: f64,
        std: f64,
        dtype: DType,
        g: &mut Generator,
    ) -> Tensor {
        let n: usize = shape.iter().product();
        match dtype {
            DType::F64 => Tensor::from_data(
                (0..n)
                    .map(|_| mean + std * g.normal())
                    .collect::<Vec<f64>>(),
                shape,
            ),
            _ => {
                let v: Vec<f32> = (0..n).map(|_| (mean + std * g.normal()) as f32).collect();
                Tensor::from_data(v, shape).to_dtype(dtype)
            }
        }
    }

    /// Uniform int64 samples in `[low, high)` from `g`.
    pub fn randint_with(low: i64, high: i64, shape: &[usize], g: &mut Generator) -> Result<Tensor> {
        if low >= high {
            return Err(TensorError::invalid(
                "randint",
                format!("expected low < high, got low = {low}, high = {high}"),
            ));
        }
        let n: usize = shape.iter().product();
        Ok(Tensor::from_data(
            (0..n).map(|_| g.int_below(low, high)).collect::<Vec<i64>>(),
            shape,
        ))
    }

    /// A random permutation of `0..n` as int64, from `g`.
    pub fn randperm_with(n: usize, g: &mut Generator) -> Tensor {
        let mut v: Vec<i64> = (0..n as i64).collect();
        // Fisher-Yates.
        for i in (1..n).rev() {
            let j = g.int_below(0, i as i64 + 1) as usize;
            v.swap(i, j);
        }
        Tensor::from_data(v, &[n])
    }

    /// Bernoulli samples (1.0 with probability `p`) of a float `dtype` from
    /// `g`, as dropout masks need.
    pub fn bernoulli_with(shape: &[usize], p: f64, dtype: DType, g: &mut Generator) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n)
            .map(|_| if g.uniform() < p { 1.0 } else { 0.0 })
            .collect();
        Tensor::from_data(v, shape).to_dtype(dtype)
    }

    /// Uniform samples in `[0, 1)` with this tensor's shape and (float) dtype.
    pub fn rand_like(&self) -> Tensor {
        with_global_generator(|g| {
            Tensor::uniform_with(self.shape(), 0.0, 1.0, self.dtype().to_float(), g)
        })
    }

    /// Standard normal samples with this tensor's shape and (float) dtype.
    pub fn randn_like(&self) -> Tensor {
        with_global_generator(|g| {
            Tensor::normal_with(self.shape(), 0.0, 1.0, self.dtype().to_float(), g)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(n: usize) -> Vec<f32> {
        Tensor::rand(&[n]).to_vec::<f32>().unwrap()
    }

    fn expected(seed: u64, n: usize) -> Vec<f32> {
        Tensor::rand_with(&[n], &mut Generator::new(seed))
            .to_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn threads_with_their_own_generator_do_not_interleave() {
        // Two threads reseeding and drawing at once: with one shared
        // generator a reseed lands between the other's draws.
        let handles: Vec<_> = (0..2u64)
            .map(|t| {
                std::thread::spawn(move || {
                    let _own = use_thread_generator(Generator::new(DEFAULT_SEED));
                    (0..300)
                        .map(|i| {
                            manual_seed(t * 1000 + i);
                            let a = draws(64);
                            let b = Tensor::randn(&[3]).to_vec::<f32>().unwrap();
                            let mut g = Generator::new(t * 1000 + i);
                            let want_a = Tensor::rand_with(&[64], &mut g).to_vec::<f32>().unwrap();
                            let want_b = Tensor::randn_with(&[3], &mut g).to_vec::<f32>().unwrap();
                            (a == want_a && b == want_b) as usize
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 300);
        }
    }

    #[test]
    fn the_guard_gives_back_the_previous_generator() {
        let _outer = use_thread_generator(Generator::new(1));
        let first = draws(4);
        assert_eq!(first, expected(1, 4));
        {
            let _inner = use_thread_generator(Generator::new(2));
            assert_eq!(draws(4), expected(2, 4));
            manual_seed(3);
            assert_eq!(draws(4), expected(3, 4));
        }
        // The outer generator goes on after its first 4 draws.
        assert_eq!([first, draws(4)].concat(), expected(1, 8));
    }

    #[test]
    fn guards_dropped_out_of_order_leave_the_thread_as_it_was() {
        let outer = use_thread_generator(Generator::new(1));
        let mut guards = vec![
            use_thread_generator(Generator::new(2)),
            use_thread_generator(Generator::new(3)),
        ];
        assert_eq!(draws(4), expected(3, 4));
        // A Vec drops its first element first: the outer of the two.
        drop(guards.remove(0));
        assert_eq!(draws(4), expected(1, 4));
        drop(guards);
        assert_eq!(draws(4)[..], expected(1, 8)[4..]);
        drop(outer);
        THREAD_DEFAULT.with(|cell| assert!(cell.borrow().is_empty()));
    }

    #[test]
    fn statistics_are_plausible() {
        let mut g = Generator::new(0);
        let u = Tensor::rand_with(&[10000], &mut g).to_vec::<f32>().unwrap();
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean: f32 = u.iter().sum::<f32>() / 10000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let n = Tensor::randn_with(&[10000], &mut g)
            .to_vec::<f32>()
            .unwrap();
        let m: f32 = n.iter().sum::<f32>() / 10000.0;
        let var: f32 = n.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / 9999.0;
        assert!(m.abs() < 0.05 && (var - 1.0).abs() < 0.05, "{m} {var}");
        let r = Tensor::randint_with(-2, 3, &[1000], &mut g)
            .unwrap()
            .to_vec::<i64>()
            .unwrap();
        assert!(r.iter().all(|&x| (-2..3).contains(&x)));
        assert!(Tensor::randint_with(3, 3, &[1], &mut g).is_err());
        let mut p = Tensor::randperm_with(50, &mut g).to_vec::<i64>().unwrap();
        p.sort();
        assert_eq!(p, (0..50).collect::<Vec<i64>>());
    }
}

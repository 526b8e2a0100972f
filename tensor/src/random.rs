//! Random tensors from a seedable generator, and the global default
//! generator that `manual_seed` resets (like `torch.manual_seed`).

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

/// Reseeds the global generator (`torch.manual_seed`).
///
/// ```
/// use torchlet_tensor::{manual_seed, Tensor};
/// manual_seed(7);
/// let a = Tensor::rand(&[4]);
/// manual_seed(7);
/// assert_eq!(a.to_vec::<f32>().unwrap(), Tensor::rand(&[4]).to_vec::<f32>().unwrap());
/// ```
pub fn manual_seed(seed: u64) {
    global()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .manual_seed(seed);
}

/// Runs `f` with the global generator locked.
pub fn with_global_generator<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    f(&mut global().lock().unwrap_or_else(|e| e.into_inner()))
}

impl Tensor {
    /// Uniform float32 samples in `[0, 1)` from the global generator (`torch.rand`).
    pub fn rand(shape: &[usize]) -> Tensor {
        with_global_generator(|g| Tensor::rand_with(shape, g))
    }

    /// Standard normal float32 samples from the global generator (`torch.randn`).
    pub fn randn(shape: &[usize]) -> Tensor {
        with_global_generator(|g| Tensor::randn_with(shape, g))
    }

    /// Uniform int64 samples in `[low, high)` from the global generator (`torch.randint`).
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

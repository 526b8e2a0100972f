//! Linear layers (`torch.nn.modules.linear`): [`Linear`], [`Bilinear`]
//! and [`Identity`].

use torchlet_autograd::{functional, Variable};

use crate::error::{NnError, Result};
use crate::init::{default_bound, uniform_parameter};
use crate::module::Module;

/// The parameter list of a layer with a `weight` and an optional `bias`
/// (the linear layers and the convolutions), in PyTorch's order.
pub(crate) fn weight_and_bias<'a>(
    weight: &Variable,
    bias: Option<&Variable>,
) -> Vec<(&'a str, Variable)> {
    let mut out = vec![("weight", weight.clone())];
    out.extend(bias.map(|b| ("bias", b.clone())));
    out
}

/// `y = x Wᵀ + b` (`torch.nn.Linear`): `weight` `[out_features,
/// in_features]`, `bias` `[out_features]`, both initialised from
/// `U(-1/√in_features, 1/√in_features)` as in PyTorch.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Linear, Module, Result};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let fc = Linear::new(3, 2)?;
/// assert_eq!(fc.weight().shape(), [2, 3]);
/// let y = fc.forward(&Variable::constant(Tensor::ones(&[5, 3])))?;
/// assert_eq!(y.shape(), [5, 2]);
/// assert!(Linear::new(3, 2)?.forward(&Variable::constant(Tensor::ones(&[5, 4]))).is_err());
/// # Ok(())
/// # }
/// ```
pub struct Linear {
    in_features: usize,
    out_features: usize,
    weight: Variable,
    bias: Option<Variable>,
}

impl Linear {
    /// A layer with a bias.
    pub fn new(in_features: usize, out_features: usize) -> Result<Linear> {
        Linear::with_bias(in_features, out_features, true)
    }

    /// A layer with or without a bias (`Linear(in, out, bias=...)`).
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(NnError::config(
                "Linear",
                format!("in_features and out_features must be positive, got {in_features} and {out_features}"),
            ));
        }
        let bound = default_bound(in_features);
        let weight = uniform_parameter(&[out_features, in_features], bound);
        let bias = bias.then(|| uniform_parameter(&[out_features], bound));
        Ok(Linear {
            in_features,
            out_features,
            weight,
            bias,
        })
    }

    /// The number of input features.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// The number of output features.
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// The weight, `[out_features, in_features]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// The bias, `[out_features]`, if the layer has one.
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }
}

impl Module for Linear {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        if shape.last() != Some(&self.in_features) {
            return Err(NnError::input(
                "Linear",
                format!(
                    "expected an input whose last dimension is in_features = {}, got shape {shape:?}",
                    self.in_features
                ),
            ));
        }
        Ok(functional::linear(x, &self.weight, self.bias.as_ref())?)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        weight_and_bias(&self.weight, self.bias.as_ref())
    }
}

/// The identity (`torch.nn.Identity`): returns its input unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;

impl Module for Identity {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.clone())
    }
}

/// `y_k = x1ᵀ W_k x2 + b_k` (`torch.nn.Bilinear`): `weight`
/// `[out_features, in1_features, in2_features]`, `bias` `[out_features]`,
/// both initialised from `U(-1/√in1_features, 1/√in1_features)` as in
/// PyTorch. Inputs are `[*, in1_features]` and `[*, in2_features]` with the
/// same leading dims; the output is `[*, out_features]`.
///
/// The two-input pass is the inherent [`Bilinear::forward`]; the layer is
/// still a [`Module`] (parameters `weight`, `bias`), whose one-input
/// [`Module::forward`] applies it to `(x, x)`.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Bilinear, Result};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let bl = Bilinear::new(3, 4, 2)?;
/// assert_eq!(bl.weight().shape(), [2, 3, 4]);
/// let x1 = Variable::constant(Tensor::ones(&[5, 3]));
/// let x2 = Variable::constant(Tensor::ones(&[5, 4]));
/// assert_eq!(bl.forward(&x1, &x2)?.shape(), [5, 2]);
/// # Ok(())
/// # }
/// ```
pub struct Bilinear {
    in1_features: usize,
    in2_features: usize,
    out_features: usize,
    weight: Variable,
    bias: Option<Variable>,
}

impl Bilinear {
    /// A layer with a bias (`Bilinear(in1, in2, out)`).
    pub fn new(in1_features: usize, in2_features: usize, out_features: usize) -> Result<Bilinear> {
        Bilinear::with_bias(in1_features, in2_features, out_features, true)
    }

    /// A layer with or without a bias (`Bilinear(in1, in2, out, bias=...)`).
    pub fn with_bias(
        in1_features: usize,
        in2_features: usize,
        out_features: usize,
        bias: bool,
    ) -> Result<Bilinear> {
        if in1_features == 0 || in2_features == 0 || out_features == 0 {
            return Err(NnError::config(
                "Bilinear",
                format!(
                    "in1_features, in2_features and out_features must be positive, got {in1_features}, {in2_features} and {out_features}"
                ),
            ));
        }
        let bound = default_bound(in1_features);
        let weight = uniform_parameter(&[out_features, in1_features, in2_features], bound);
        let bias = bias.then(|| uniform_parameter(&[out_features], bound));
        Ok(Bilinear {
            in1_features,
            in2_features,
            out_features,
            weight,
            bias,
        })
    }

    /// The number of features of the first input.
    pub fn in1_features(&self) -> usize {
        self.in1_features
    }

    /// The number of features of the second input.
    pub fn in2_features(&self) -> usize {
        self.in2_features
    }

    /// The number of output features.
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// The weight, `[out_features, in1_features, in2_features]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// The bias, `[out_features]`, if the layer has one.
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }

    /// `x1ᵀ W x2 + b` for `x1` `[*, in1_features]` and `x2`
    /// `[*, in2_features]` with equal leading dims; `[*, out_features]`.
    pub fn forward(&self, x1: &Variable, x2: &Variable) -> Result<Variable> {
        let (s1, s2) = (x1.shape(), x2.shape());
        if s1.last() != Some(&self.in1_features)
            || s2.last() != Some(&self.in2_features)
            || s1[..s1.len() - 1] != s2[..s2.len() - 1]
        {
            return Err(NnError::input(
                "Bilinear",
                format!(
                    "expected inputs [*, {}] and [*, {}] with the same leading dims, got {s1:?} and {s2:?}",
                    self.in1_features, self.in2_features
                ),
            ));
        }
        let (i1, i2, o) = (
            self.in1_features as i64,
            self.in2_features as i64,
            self.out_features as i64,
        );
        let a = x1.reshape(&[-1, i1])?;
        let b = x2.reshape(&[-1, i2])?;
        // [N, in1] @ [in1, out·in2] -> [N, out, in2], then · x2 summed.
        let w = self.weight.permute(&[1, 0, 2])?.reshape(&[i1, o * i2])?;
        let t = a.matmul(&w)?.reshape(&[-1, o, i2])?;
        let mut y = t.mul(&b.unsqueeze(1)?)?.sum_dim(2)?;
        if let Some(bias) = &self.bias {
            y = y.add(bias)?;
        }
        let mut out: Vec<i64> = s1[..s1.len() - 1].iter().map(|&d| d as i64).collect();
        out.push(o);
        Ok(y.reshape(&out)?)
    }
}

impl Module for Bilinear {
    /// [`Bilinear::forward`] of `(x, x)` (needs `in1_features ==
    /// in2_features`).
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Bilinear::forward(self, x, x)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        weight_and_bias(&self.weight, self.bias.as_ref())
    }
}

#[cfg(test)]
mod bilinear_tests {
    use super::*;
    use torchlet_tensor::{DType, Tensor};

    #[test]
    fn values_and_init() {
        let bl = Bilinear::new(2, 3, 2).unwrap();
        let bound = 1.0 / 2f64.sqrt();
        for p in bl.parameters() {
            let v = p.data().to_dtype(DType::F64).to_vec::<f64>().unwrap();
            assert!(v.iter().all(|x| x.abs() <= bound));
        }
        let names: Vec<String> = bl.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        let w: Vec<f32> = (0..12).map(|i| i as f32).collect();
        bl.weight()
            .set_data(Tensor::from_slice(&w, &[2, 2, 3]).unwrap())
            .unwrap();
        bl.bias()
            .unwrap()
            .set_data(Tensor::from_slice(&[1.0f32, -1.0], &[2]).unwrap())
            .unwrap();
        let x1 = Variable::constant(Tensor::from_slice(&[1.0f32, 2.0], &[1, 1, 2]).unwrap());
        let x2 = Variable::constant(Tensor::from_slice(&[1.0f32, 0.0, -1.0], &[1, 1, 3]).unwrap());
        let y = bl.forward(&x1, &x2).unwrap();
        assert_eq!(y.shape(), [1, 1, 2]);
        // k = 0: W = [[0,1,2],[3,4,5]]: x1ᵀW = [6, 9, 12], · x2 = -6, +1.
        // k = 1: W = [[6,7,8],[9,10,11]]: x1ᵀW = [24, 27, 30], · x2 = -6, -1.
        assert_eq!(y.to_vec::<f32>().unwrap(), [-5.0, -7.0]);
        assert!(bl.forward(&x1, &x1).is_err());
        assert!(Bilinear::new(0, 1, 1).is_err());
        let nb = Bilinear::with_bias(2, 2, 1, false).unwrap();
        assert_eq!(nb.parameters().len(), 1);
        assert_eq!(
            Module::forward(&nb, &Variable::constant(Tensor::ones(&[4, 2])))
                .unwrap()
                .shape(),
            [4, 1]
        );
    }

    #[test]
    fn gradcheck() {
        let bl = Bilinear::new(3, 2, 2).unwrap();
        let w = bl.weight().data().to_dtype(DType::F64);
        let b = bl.bias().unwrap().data().to_dtype(DType::F64);
        let x1 = Tensor::rand(&[4, 3]).to_dtype(DType::F64);
        let x2 = Tensor::rand(&[4, 2]).to_dtype(DType::F64);
        torchlet_autograd::gradcheck(
            |v: &[Variable]| {
                // The layer's parameters are the checked inputs 2 and 3.
                let m = Bilinear {
                    in1_features: 3,
                    in2_features: 2,
                    out_features: 2,
                    weight: v[2].clone(),
                    bias: Some(v[3].clone()),
                };
                Ok(m.forward(&v[0], &v[1]).unwrap())
            },
            &[x1, x2, w, b],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

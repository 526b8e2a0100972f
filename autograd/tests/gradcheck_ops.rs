//! `gradcheck` and `gradgradcheck` of every differentiable op: first and
//! second derivatives against central finite differences in f64, on
//! random shapes and values drawn from seeded generators (plus proptest
//! for a few families).

use proptest::prelude::*;
use torchlet_autograd::{gradcheck, gradgradcheck, Result, Variable};
use torchlet_tensor::{DType, Generator, Tensor};

type Func = Box<dyn Fn(&[Variable]) -> Result<Variable>>;

/// One function to check at one point.
struct Case {
    name: String,
    inputs: Vec<Tensor>,
    f: Func,
    second_order: bool,
}

/// A case checked to first and second order.
fn case(
    name: impl Into<String>,
    inputs: Vec<Tensor>,
    f: impl Fn(&[Variable]) -> Result<Variable> + 'static,
) -> Case {
    Case {
        name: name.into(),
        inputs,
        f: Box::new(f),
        second_order: true,
    }
}

/// A case checked to first order only.
fn first_order(
    name: impl Into<String>,
    inputs: Vec<Tensor>,
    f: impl Fn(&[Variable]) -> Result<Variable> + 'static,
) -> Case {
    Case {
        second_order: false,
        ..case(name, inputs, f)
    }
}

/// Runs every case, then fails listing all that failed.
fn run(cases: Vec<Case>) {
    let total = cases.len();
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = gradcheck(&c.f, &c.inputs) {
            failures.push(format!("{}: {e}", c.name));
        } else if c.second_order {
            if let Err(e) = gradgradcheck(&c.f, &c.inputs) {
                failures.push(format!("{} (second order): {e}", c.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------- data

fn normal(g: &mut Generator, shape: &[usize]) -> Tensor {
    Tensor::normal_with(shape, 0.0, 1.0, DType::F64, g)
}

fn uniform(g: &mut Generator, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    Tensor::uniform_with(shape, lo, hi, DType::F64, g)
}

/// Normal samples (scaled by 1.5), none within `margin` of a kink.
fn away(g: &mut Generator, shape: &[usize], kinks: &[f64], margin: f64) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| loop {
            let x = 1.5 * g.normal();
            if kinks.iter().all(|k| (x - k).abs() > margin) {
                break x;
            }
        })
        .collect();
    Tensor::from_vec(v, shape).unwrap()
}

/// Values at least 0.2 apart from one another (no ties for max/min), for
/// several tensors together.
fn distinct(g: &mut Generator, shapes: &[&[usize]]) -> Vec<Tensor> {
    let total: usize = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
    let perm = Tensor::randperm_with(total, g).to_vec::<i64>().unwrap();
    let mut values = perm
        .iter()
        .map(|&p| (p as f64 - total as f64 / 2.0) * 0.3 + 0.1 * g.uniform());
    shapes
        .iter()
        .map(|s| Tensor::from_vec(values.by_ref().take(s.iter().product()).collect(), s).unwrap())
        .collect()
}

fn size(g: &mut Generator, lo: usize, hi: usize) -> usize {
    g.int_below(lo as i64, hi as i64 + 1) as usize
}

fn shape(g: &mut Generator, rank: usize, lo: usize, hi: usize) -> Vec<usize> {
    (0..rank).map(|_| size(g, lo, hi)).collect()
}

fn index(values: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape).unwrap()
}

fn mask(values: &[bool], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape).unwrap()
}

fn ok(v: Variable) -> Result<Variable> {
    Ok(v)
}

// ------------------------------------------------------------ binary

/// Broadcasting shape pairs, with sizes drawn from `g`.
fn broadcast_pairs(g: &mut Generator) -> Vec<(Vec<usize>, Vec<usize>)> {
    let (a, b, c) = (size(g, 2, 4), size(g, 2, 5), size(g, 2, 3));
    vec![
        (vec![a, 1], vec![1, b]),
        (vec![c], vec![a, c]),
        (vec![a, c], vec![a, c]),
        (vec![], vec![a, c]),
        (vec![a, b], vec![]),
        (vec![c, 1, a], vec![b, 1]),
        (vec![a, 1, c], vec![1]),
    ]
}

#[test]
fn binary_ops_with_broadcasting() {
    let mut g = Generator::new(1);
    let mut cases = Vec::new();
    for (sa, sb) in broadcast_pairs(&mut g) {
        let tag = format!("{sa:?}x{sb:?}");
        let (a, b) = (normal(&mut g, &sa), normal(&mut g, &sb));
        cases.push(case(
            format!("add {tag}"),
            vec![a.clone(), b.clone()],
            |v| v[0].add(&v[1]),
        ));
        cases.push(case(
            format!("sub {tag}"),
            vec![a.clone(), b.clone()],
            |v| v[0].sub(&v[1]),
        ));
        cases.push(case(
            format!("mul {tag}"),
            vec![a.clone(), b.clone()],
            |v| v[0].mul(&v[1]),
        ));
        cases.push(case(
            format!("operators {tag}"),
            vec![a.clone(), b.clone()],
            |v| ok(&(&v[0] * &v[1]) - &(&v[0] + &v[1])),
        ));
        let d = away(&mut g, &sb, &[0.0], 0.4);
        cases.push(case(
            format!("div {tag}"),
            vec![a.clone(), d.clone()],
            |v| v[0].div(&v[1]),
        ));
        cases.push(case(format!("operator / {tag}"), vec![a, d], |v| {
            ok(&v[0] / &v[1])
        }));
        let (base, e) = (uniform(&mut g, &sa, 0.5, 2.0), normal(&mut g, &sb));
        cases.push(case(format!("pow {tag}"), vec![base, e], |v| {
            v[0].pow(&v[1])
        }));
        let [x, y]: [Tensor; 2] = distinct(&mut g, &[&sa, &sb]).try_into().unwrap();
        cases.push(case(
            format!("maximum {tag}"),
            vec![x.clone(), y.clone()],
            |v| v[0].maximum(&v[1]),
        ));
        cases.push(case(format!("minimum {tag}"), vec![x, y], |v| {
            v[0].minimum(&v[1])
        }));
    }
    // A negative base with a constant integer exponent.
    let base = away(&mut g, &[2, 3], &[0.0], 0.3);
    let e = Tensor::from_vec(vec![2.0f64, 3.0, -1.0], &[3]).unwrap();
    cases.push(case(
        "pow, negative base, constant integer exponent",
        vec![base],
        move |v| v[0].pow(&Variable::constant(e.clone())),
    ));
    run(cases);
}

#[test]
fn scalar_ops() {
    let mut g = Generator::new(2);
    let s = shape(&mut g, 2, 2, 4);
    let x = normal(&mut g, &s);
    let p = uniform(&mut g, &s, 0.5, 2.0);
    run(vec![
        case("add_scalar", vec![x.clone()], |v| ok(v[0].add_scalar(1.5))),
        case("sub_scalar", vec![x.clone()], |v| ok(v[0].sub_scalar(0.5))),
        case(
            "rsub_scalar",
            vec![x.clone()],
            |v| ok(v[0].rsub_scalar(2.0)),
        ),
        case("mul_scalar", vec![x.clone()], |v| ok(v[0].mul_scalar(-3.0))),
        case("div_scalar", vec![x.clone()], |v| ok(v[0].div_scalar(4.0))),
        case("neg", vec![x.clone()], |v| ok(v[0].neg())),
        case("operator neg", vec![x.clone()], |v| ok(-&v[0])),
        case(
            "pow_scalar 3",
            vec![x.clone()],
            |v| ok(v[0].pow_scalar(3.0)),
        ),
        case("pow_scalar 2.5", vec![p.clone()], |v| {
            ok(v[0].pow_scalar(2.5))
        }),
        case("pow_scalar -1.5", vec![p], |v| ok(v[0].pow_scalar(-1.5))),
        case(
            "pow_scalar 0",
            vec![x.clone()],
            |v| ok(v[0].pow_scalar(0.0)),
        ),
        case("pow_scalar 1", vec![x], |v| ok(v[0].pow_scalar(1.0))),
    ]);
}

// ------------------------------------------------------------- unary

#[test]
fn unary_ops_and_activations() {
    let mut g = Generator::new(3);
    let s = shape(&mut g, 2, 2, 4);
    let any = normal(&mut g, &s);
    let pos = uniform(&mut g, &s, 0.3, 3.0);
    let nonzero = away(&mut g, &s, &[0.0], 0.1);
    let mut big = away(&mut g, &s, &[0.0], 0.1).to_vec::<f64>().unwrap();
    big[0] = 21.5; // softplus's linear region
    big[1] = 25.0;
    let big = Tensor::from_vec(big, &s).unwrap();
    type Unary = fn(&Variable) -> Variable;
    let table: Vec<(&str, Unary, &Tensor)> = vec![
        ("exp", |x| x.exp(), &any),
        ("log", |x| x.log(), &pos),
        ("log1p", |x| x.log1p(), &pos),
        ("sqrt", |x| x.sqrt(), &pos),
        ("rsqrt", |x| x.rsqrt(), &pos),
        ("reciprocal", |x| x.reciprocal(), &nonzero),
        ("sin", |x| x.sin(), &any),
        ("cos", |x| x.cos(), &any),
        ("tanh", |x| x.tanh(), &any),
        ("sigmoid", |x| x.sigmoid(), &any),
        ("relu", |x| x.relu(), &nonzero),
        ("silu", |x| x.silu(), &any),
        ("softplus", |x| x.softplus(), &big),
        ("square", |x| x.square(), &any),
        ("abs", |x| x.abs(), &nonzero),
        ("erf", |x| x.erf(), &any),
        ("gelu", |x| x.gelu(), &any),
        ("gelu_tanh", |x| x.gelu_tanh(), &any),
        ("leaky_relu", |x| x.leaky_relu(0.1), &nonzero),
        ("elu", |x| x.elu(1.3), &nonzero),
    ];
    let mut cases: Vec<Case> = table
        .into_iter()
        .map(|(name, op, x)| case(name, vec![x.clone()], move |v| ok(op(&v[0]))))
        .collect();
    let clampable = away(&mut g, &s, &[-0.5, 0.5], 0.1);
    cases.push(case("clamp", vec![clampable.clone()], |v| {
        ok(v[0].clamp(-0.5, 0.5))
    }));
    cases.push(case("clamp_min", vec![clampable.clone()], |v| {
        ok(v[0].clamp_min(-0.5))
    }));
    cases.push(case("clamp_max", vec![clampable], |v| {
        ok(v[0].clamp_max(0.5))
    }));
    // Compositions reuse saved outputs in first-order passes and recompute
    // them under create_graph.
    cases.push(case("tanh(exp(x)) * sigmoid(x)", vec![any.clone()], |v| {
        v[0].exp().tanh().mul(&v[0].sigmoid())
    }));
    cases.push(case("sqrt(x² + 1)", vec![any], |v| {
        ok(v[0].square().add_scalar(1.0).sqrt())
    }));
    run(cases);
}

// --------------------------------------------------------- reductions

#[test]
fn reductions_over_every_dim() {
    let mut g = Generator::new(4);
    let s = shape(&mut g, 3, 2, 3);
    let x = normal(&mut g, &s);
    let mut cases = vec![
        case("sum", vec![x.clone()], |v| v[0].sum()),
        case("mean", vec![x.clone()], |v| v[0].mean()),
        case("sum_dims [0, 2]", vec![x.clone()], |v| {
            v[0].sum_dims(&[0, 2], false)
        }),
        case("sum_dims [-1, 0] keepdim", vec![x.clone()], |v| {
            v[0].sum_dims(&[-1, 0], true)
        }),
        case("sum_dims [] (all)", vec![x.clone()], |v| {
            v[0].sum_dims(&[], false)
        }),
        case("mean_dims [1, 2]", vec![x.clone()], |v| {
            v[0].mean_dims(&[1, 2], false)
        }),
        case("mean_dims [-2] keepdim", vec![x.clone()], |v| {
            v[0].mean_dims(&[-2], true)
        }),
    ];
    let [d] = distinct(&mut g, &[&s]).try_into().unwrap();
    cases.push(case("max", vec![d.clone()], |v| v[0].max()));
    cases.push(case("min", vec![d.clone()], |v| v[0].min()));
    let p = away(&mut g, &s, &[0.0], 0.5);
    for dim in -3i64..3 {
        let keepdim = dim % 2 == 0;
        let t = format!("dim {dim} keepdim {keepdim}");
        cases.push(case(format!("sum_dim {dim}"), vec![x.clone()], move |v| {
            v[0].sum_dim(dim)
        }));
        cases.push(case(
            format!("sum_keepdim {dim}"),
            vec![x.clone()],
            move |v| v[0].sum_keepdim(dim),
        ));
        cases.push(case(format!("mean_dim {dim}"), vec![x.clone()], move |v| {
            v[0].mean_dim(dim)
        }));
        cases.push(case(
            format!("mean_keepdim {dim}"),
            vec![x.clone()],
            move |v| v[0].mean_keepdim(dim),
        ));
        cases.push(case(format!("max_dim {t}"), vec![d.clone()], move |v| {
            Ok(v[0].max_dim(dim, keepdim)?.0)
        }));
        cases.push(case(format!("min_dim {t}"), vec![d.clone()], move |v| {
            Ok(v[0].min_dim(dim, !keepdim)?.0)
        }));
        cases.push(case(format!("prod_dim {t}"), vec![p.clone()], move |v| {
            v[0].prod_dim(dim, keepdim)
        }));
        cases.push(case(format!("logsumexp {t}"), vec![x.clone()], move |v| {
            v[0].logsumexp(dim, keepdim)
        }));
        cases.push(case(format!("softmax {dim}"), vec![x.clone()], move |v| {
            v[0].softmax(dim)
        }));
        cases.push(case(
            format!("log_softmax {dim}"),
            vec![x.clone()],
            move |v| v[0].log_softmax(dim),
        ));
        for correction in 0..2 {
            cases.push(case(
                format!("var_dim {t} correction {correction}"),
                vec![x.clone()],
                move |v| v[0].var_dim(dim, correction, keepdim),
            ));
            cases.push(case(
                format!("std_dim {t} correction {correction}"),
                vec![x.clone()],
                move |v| v[0].std_dim(dim, correction, keepdim),
            ));
        }
    }
    let wide = normal(&mut g, &[2, 4]);
    cases.push(case("var_dim correction 2", vec![wide.clone()], |v| {
        v[0].var_dim(-1, 2, false)
    }));
    cases.push(case("std_dim correction 2", vec![wide], |v| {
        v[0].std_dim(1, 2, true)
    }));
    // A softmax that saturates (large logits) is still differentiable.
    cases.push(case(
        "softmax of large logits",
        vec![normal(&mut g, &[2, 3]).mul_scalar(8.0)],
        |v| v[0].softmax(1),
    ));
    run(cases);
}

#[test]
fn prod_with_zero_entries() {
    // One zero in a row: only its own gradient (the product of the others)
    // is nonzero. Two zeros in a row: every gradient in it is zero.
    let x = Tensor::from_vec(
        vec![0.5f64, 0.0, 2.0, 1.5, -0.7, 1.2, 0.0, 0.0, 3.0],
        &[3, 3],
    )
    .unwrap();
    run(vec![
        first_order("prod_dim 1 with zeros", vec![x.clone()], |v| {
            v[0].prod_dim(1, false)
        }),
        first_order("prod_dim 0 with zeros, keepdim", vec![x.clone()], |v| {
            v[0].prod_dim(0, true)
        }),
        first_order("prod_dim -1 with zeros, keepdim", vec![x], |v| {
            v[0].prod_dim(-1, true)
        }),
    ]);
}

// ------------------------------------------------------- views, shapes

#[test]
fn view_and_shape_ops() {
    let mut g = Generator::new(5);
    let s = shape(&mut g, 3, 2, 3);
    let (a, b, c) = (s[0], s[1], s[2]);
    let x = normal(&mut g, &s);
    let m = normal(&mut g, &[a, b]);
    let vector = normal(&mut g, &[c]);
    let ones = normal(&mut g, &[a, 1, c]);
    let cases = vec![
        case("reshape [c, -1]", vec![x.clone()], move |v| {
            v[0].reshape(&[c as i64, -1])
        }),
        case("flatten", vec![x.clone()], |v| ok(v[0].flatten())),
        case("flatten_dims 1..-1", vec![x.clone()], |v| {
            v[0].flatten_dims(1, -1)
        }),
        case("flatten_dims 0..1", vec![x.clone()], |v| {
            v[0].flatten_dims(0, 1)
        }),
        case("transpose 0 -1", vec![x.clone()], |v| v[0].transpose(0, -1)),
        case("t of a matrix", vec![m.clone()], |v| v[0].t()),
        case("t of a vector", vec![vector.clone()], |v| v[0].t()),
        case("permute [2, 0, 1]", vec![x.clone()], |v| {
            v[0].permute(&[2, 0, 1])
        }),
        case("permute [-1, 0, -2]", vec![x.clone()], |v| {
            v[0].permute(&[-1, 0, -2])
        }),
        case("movedim 0 -> -1", vec![x.clone()], |v| v[0].movedim(0, -1)),
        case("movedim -1 -> 1", vec![x.clone()], |v| v[0].movedim(-1, 1)),
        case("squeeze_dim 1", vec![ones.clone()], |v| v[0].squeeze_dim(1)),
        case("squeeze_dim -2", vec![ones.clone()], |v| {
            v[0].squeeze_dim(-2)
        }),
        case("squeeze", vec![ones.clone()], |v| ok(v[0].squeeze())),
        case("unsqueeze -1", vec![x.clone()], |v| v[0].unsqueeze(-1)),
        case("unsqueeze 0", vec![x.clone()], |v| v[0].unsqueeze(0)),
        case(
            "expand with a new leading dim",
            vec![ones.clone()],
            move |v| v[0].expand(&[2, a as i64, b as i64, c as i64]),
        ),
        case("expand with -1", vec![ones], move |v| {
            v[0].expand(&[-1, 3, -1])
        }),
        case("contiguous of a transpose", vec![x.clone()], |v| {
            Ok(v[0].transpose(0, 2)?.contiguous())
        }),
        case("narrow", vec![x.clone()], move |v| v[0].narrow(2, 1, c - 1)),
        case("narrow, negative start", vec![x.clone()], |v| {
            v[0].narrow(-3, -2, 2)
        }),
        case("select", vec![x.clone()], |v| v[0].select(1, 1)),
        case("select, negative index and dim", vec![x.clone()], |v| {
            v[0].select(-1, -1)
        }),
        case("split 2 (uneven)", vec![normal(&mut g, &[a, 5])], |v| {
            weighted_cat(&v[0].split(2, -1)?)
        }),
        case("chunk 3 (uneven)", vec![normal(&mut g, &[4, b])], |v| {
            weighted_cat(&v[0].chunk(3, 0)?)
        }),
        case("chunk 2 of a view", vec![x.clone()], |v| {
            weighted_cat(&v[0].transpose(0, 1)?.chunk(2, 1)?)
        }),
    ];
    run(cases);
}

/// The pieces scaled 1, 2, 3, ... and joined flat, so each gets its own
/// gradient.
fn weighted_cat(pieces: &[Variable]) -> Result<Variable> {
    let flat: Vec<Variable> = pieces
        .iter()
        .enumerate()
        .map(|(k, p)| p.mul_scalar(k as f64 + 1.0).flatten())
        .collect();
    Variable::cat(&flat, 0)
}

#[test]
fn joins_and_indexing() {
    let mut g = Generator::new(6);
    let (a, b) = (size(&mut g, 2, 3), size(&mut g, 2, 4));
    let p = normal(&mut g, &[a, 1, b]);
    let q = normal(&mut g, &[a, 3, b]);
    let r = normal(&mut g, &[a, 2, b]);
    let same = normal(&mut g, &[a, b]);
    let x = normal(&mut g, &[3, 4]);
    let rows = index(&[2, 0, 2, 1], &[4]);
    let cols = index(&[3, 3, 0], &[3]);
    let gather_index = index(&[0, 2, 2, 1, 0, 0], &[2, 3]); // smaller than x in dim 1
    let gather_cols = index(&[3, 0, 3, 1, 1, 2], &[3, 2]);
    let cond = mask(&[true, false, true], &[3, 1]);
    let fill = mask(&[false, true, true, false], &[4]);
    let (w0, w1) = (normal(&mut g, &[3, 4]), normal(&mut g, &[4]));
    run(vec![
        case("cat dim 1", vec![p.clone(), q.clone(), r.clone()], |v| {
            Variable::cat(v, 1)
        }),
        case("cat dim -2", vec![p, q, r], |v| {
            Variable::cat(&[&v[0], &v[1], &v[2]], -2)
        }),
        case("cat of one", vec![same.clone()], |v| Variable::cat(v, 0)),
        case(
            "stack dim 0",
            vec![same.clone(), same.clone().mul_scalar(2.0)],
            |v| Variable::stack(v, 0),
        ),
        case(
            "stack dim -1",
            vec![same.clone(), same.clone().neg(), same.clone()],
            |v| Variable::stack(v, -1),
        ),
        case("stack dim 1", vec![same.clone(), same], |v| {
            Variable::stack(v, 1)
        }),
        case("index_select dim 0, repeats", vec![x.clone()], {
            let rows = rows.clone();
            move |v| v[0].index_select(0, &rows)
        }),
        case("index_select dim -1, repeats", vec![x.clone()], move |v| {
            v[0].index_select(-1, &cols)
        }),
        case("gather dim 1", vec![x.clone()], move |v| {
            v[0].gather(1, &gather_index)
        }),
        case("gather dim -1, repeats", vec![x.clone()], {
            let gc = gather_cols.clone();
            move |v| v[0].narrow(0, 0, 3)?.gather(-1, &gc)
        }),
        case("gather dim 0", vec![x.clone()], move |v| {
            v[0].gather(0, &index(&[2, 0, 1, 2, 0, 0, 0, 1], &[2, 4]))
        }),
        case(
            "where_cond, broadcast",
            vec![w0.clone(), w1.clone()],
            move |v| Variable::where_cond(&cond, &v[0], &v[1]),
        ),
        case("masked_fill, broadcast mask", vec![w0], move |v| {
            v[0].masked_fill(&Variable::constant(fill.clone()), -2.0)
        }),
        case(
            "index_select of a rows x cols view",
            vec![x, w1],
            move |v| v[0].index_select(0, &rows)?.mul(&v[1]),
        ),
    ]);
}

// ------------------------------------------------------------- matmul

#[test]
fn matmul_in_every_form() {
    let mut g = Generator::new(7);
    let (m, k, n, b) = (
        size(&mut g, 2, 4),
        size(&mut g, 2, 4),
        size(&mut g, 2, 4),
        size(&mut g, 2, 3),
    );
    let forms: Vec<(&str, Vec<usize>, Vec<usize>)> = vec![
        ("1-D . 1-D", vec![k], vec![k]),
        ("1-D . 2-D", vec![k], vec![k, n]),
        ("2-D . 1-D", vec![m, k], vec![k]),
        ("2-D . 2-D", vec![m, k], vec![k, n]),
        ("1-D . 3-D", vec![k], vec![b, k, n]),
        ("3-D . 1-D", vec![b, m, k], vec![k]),
        ("2-D . 3-D", vec![m, k], vec![b, k, n]),
        ("3-D . 2-D", vec![b, m, k], vec![k, n]),
        ("3-D . 3-D", vec![b, m, k], vec![b, k, n]),
        (
            "broadcast batch [2,1] x [b]",
            vec![2, 1, m, k],
            vec![b, k, n],
        ),
        ("broadcast batch [1] x [b]", vec![1, m, k], vec![b, k, n]),
    ];
    let mut cases: Vec<Case> = forms
        .into_iter()
        .map(|(name, sa, sb)| {
            let inputs = vec![normal(&mut g, &sa), normal(&mut g, &sb)];
            case(format!("matmul {name} {sa:?} x {sb:?}"), inputs, |v| {
                v[0].matmul(&v[1])
            })
        })
        .collect();
    let (x, w, bias) = (
        normal(&mut g, &[b, k]),
        normal(&mut g, &[n, k]),
        normal(&mut g, &[n]),
    );
    cases.push(case(
        "linear with bias",
        vec![x.clone(), w.clone(), bias],
        |v| v[0].linear(&v[1], Some(&v[2])),
    ));
    cases.push(case("linear without bias", vec![x, w], |v| {
        v[0].linear(&v[1], None)
    }));
    run(cases);
}

// ---------------------------------------------------------- nn ops

#[test]
fn convolutions_and_pooling() {
    let mut g = Generator::new(8);
    let x4 = normal(&mut g, &[2, 2, 5, 4]);
    let w4 = normal(&mut g, &[3, 2, 3, 2]);
    let wg = normal(&mut g, &[4, 1, 2, 2]);
    let bias3 = normal(&mut g, &[3]);
    let x3 = normal(&mut g, &[2, 3, 6]);
    let w3 = normal(&mut g, &[2, 3, 3]);
    let bias2 = normal(&mut g, &[2]);
    let xt = normal(&mut g, &[1, 2, 3, 3]);
    let wt = normal(&mut g, &[2, 3, 2, 2]);
    let [pool_x] = distinct(&mut g, &[&[1, 2, 4, 5]]).try_into().unwrap();
    run(vec![
        case("conv2d", vec![x4.clone(), w4.clone(), bias3.clone()], |v| {
            v[0].conv2d(&v[1], Some(&v[2]), [1, 1], [1, 0], [1, 1], 1)
        }),
        case(
            "conv2d strided, dilated, no bias",
            vec![x4.clone(), w4],
            |v| v[0].conv2d(&v[1], None, [2, 1], [1, 1], [1, 2], 1),
        ),
        case(
            "conv2d groups 2",
            vec![x4.clone(), wg, normal(&mut g, &[4])],
            |v| v[0].conv2d(&v[1], Some(&v[2]), [1, 1], [0, 0], [1, 1], 2),
        ),
        case(
            "conv2d unbatched",
            vec![
                normal(&mut g, &[2, 4, 4]),
                normal(&mut g, &[3, 2, 2, 2]),
                bias3.clone(),
            ],
            |v| v[0].conv2d(&v[1], Some(&v[2]), [1, 1], [0, 0], [1, 1], 1),
        ),
        case("conv1d", vec![x3, w3, bias2], |v| {
            v[0].conv1d(&v[1], Some(&v[2]), 2, 1, 1, 1)
        }),
        case(
            "conv_transpose2d",
            vec![xt.clone(), wt.clone(), bias3],
            |v| v[0].conv_transpose2d(&v[1], Some(&v[2]), [2, 2], [0, 0], [1, 0], [1, 1], 1),
        ),
        case("conv_transpose2d padded, no bias", vec![xt, wt], |v| {
            v[0].conv_transpose2d(&v[1], None, [1, 2], [1, 0], [0, 1], [1, 1], 1)
        }),
        case("max_pool2d", vec![pool_x.clone()], |v| {
            v[0].max_pool2d([2, 2], [2, 2], [0, 0])
        }),
        case("max_pool2d overlapping, padded", vec![pool_x], |v| {
            v[0].max_pool2d([3, 2], [1, 2], [1, 1])
        }),
        case("avg_pool2d", vec![x4.clone()], |v| {
            v[0].avg_pool2d([2, 2], [1, 2], [0, 1])
        }),
        case("adaptive_avg_pool2d", vec![x4], |v| {
            v[0].adaptive_avg_pool2d([2, 3])
        }),
    ]);
}

#[test]
fn normalization() {
    let mut g = Generator::new(9);
    let x = normal(&mut g, &[3, 2, 4]);
    let (w, b) = (normal(&mut g, &[2]), normal(&mut g, &[2]));
    let (lw, lb) = (normal(&mut g, &[4]), normal(&mut g, &[4]));
    let (rm, rv) = (normal(&mut g, &[2]), uniform(&mut g, &[2], 0.5, 2.0));
    run(vec![
        case(
            "batch_norm training",
            vec![x.clone(), w.clone(), b.clone()],
            |v| v[0].batch_norm(None, None, Some(&v[1]), Some(&v[2]), true, 1e-5),
        ),
        case("batch_norm training, no affine", vec![x.clone()], |v| {
            v[0].batch_norm(None, None, None, None, true, 1e-5)
        }),
        case("batch_norm eval", vec![x.clone(), w, b], move |v| {
            v[0].batch_norm(Some(&rm), Some(&rv), Some(&v[1]), Some(&v[2]), false, 1e-5)
        }),
        case(
            "batch_norm 2-D training",
            vec![normal(&mut g, &[5, 3])],
            |v| v[0].batch_norm(None, None, None, None, true, 1e-5),
        ),
        case("layer_norm", vec![x.clone(), lw, lb], |v| {
            v[0].layer_norm(&[4], Some(&v[1]), Some(&v[2]), 1e-5)
        }),
        case("layer_norm over two dims, no affine", vec![x], |v| {
            v[0].layer_norm(&[2, 4], None, None, 1e-5)
        }),
    ]);
}

// ----------------------------------------------------------- proptest

fn shape_strategy(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=max_rank)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random broadcasting: each operand keeps a suffix of the full shape,
    /// with some dims set to 1.
    #[test]
    fn broadcast_binary_ops(full in shape_strategy(3), drop_a in 0usize..3, drop_b in 0usize..3,
                            ones_a in prop::collection::vec(any::<bool>(), 3), ones_b in prop::collection::vec(any::<bool>(), 3),
                            op in 0usize..4, seed in any::<u64>()) {
        let operand = |drop: usize, ones: &[bool]| -> Vec<usize> {
            let keep = &full[drop.min(full.len())..];
            keep.iter().zip(ones).map(|(&n, &one)| if one { 1 } else { n }).collect()
        };
        let (sa, sb) = (operand(drop_a, &ones_a), operand(drop_b, &ones_b));
        let mut g = Generator::new(seed);
        let a = normal(&mut g, &sa);
        let b = away(&mut g, &sb, &[0.0], 0.4);
        let f = move |v: &[Variable]| match op {
            0 => v[0].add(&v[1]),
            1 => v[0].sub(&v[1]),
            2 => v[0].mul(&v[1]),
            _ => v[0].div(&v[1]),
        };
        let result = gradcheck(f, &[a, b]);
        prop_assert!(result.is_ok(), "{sa:?} x {sb:?}: {result:?}");
    }

    /// Random reductions over a random (possibly negative) dim.
    #[test]
    fn reductions(s in shape_strategy(4), dim_pick in 0usize..8, keepdim in any::<bool>(), op in 0usize..8, seed in any::<u64>()) {
        let r = s.len() as i64;
        let dim = (dim_pick as i64 % (2 * r)) - r;
        let mut g = Generator::new(seed);
        let x = if op == 3 { distinct(&mut g, &[&s]).pop().unwrap() } else { normal(&mut g, &s) };
        let f = move |v: &[Variable]| match op {
            0 => v[0].sum_dims(&[dim], keepdim),
            1 => v[0].mean_dims(&[dim], keepdim),
            2 => v[0].logsumexp(dim, keepdim),
            3 => Ok(v[0].max_dim(dim, keepdim)?.0),
            4 => v[0].softmax(dim),
            5 => v[0].log_softmax(dim),
            6 => v[0].var_dim(dim, 0, keepdim),
            _ => v[0].add_scalar(2.0).prod_dim(dim, keepdim),
        };
        let result = gradcheck(f, &[x]);
        prop_assert!(result.is_ok(), "{result:?}");
    }

    /// torch.matmul with random ranks (1 to 4) and broadcast batch dims.
    #[test]
    fn matmul_random_ranks(ra in 1usize..=4, rb in 1usize..=4, m in 1usize..=3, k in 1usize..=3, n in 1usize..=3,
                           batch in prop::collection::vec(1usize..=2, 2), ones in prop::collection::vec(any::<bool>(), 4),
                           seed in any::<u64>()) {
        let batch_of = |rank: usize, flags: &[bool]| -> Vec<usize> {
            let dims = rank.saturating_sub(2);
            batch[2 - dims..].iter().zip(flags).map(|(&d, &one)| if one { 1 } else { d }).collect()
        };
        let mut sa = batch_of(ra, &ones[..2]);
        sa.extend(if ra == 1 { vec![k] } else { vec![m, k] });
        let mut sb = batch_of(rb, &ones[2..]);
        sb.extend(if rb == 1 { vec![k] } else { vec![k, n] });
        let mut g = Generator::new(seed);
        let (a, b) = (normal(&mut g, &sa), normal(&mut g, &sb));
        let f = |v: &[Variable]| v[0].matmul(&v[1]);
        let result = gradcheck(f, &[a, b]);
        prop_assert!(result.is_ok(), "{sa:?} x {sb:?}: {result:?}");
    }
}

// ------------------------------------------------ gradcheck on itself

#[test]
fn gradcheck_reports_a_wrong_gradient() {
    // A deliberately wrong backward: d/dx (x³) claimed to be 2x.
    let wrong = |v: &[Variable]| -> Result<Variable> {
        let x = &v[0];
        let y = x.data().pow_scalar(3.0);
        Ok(torchlet_autograd::record("WrongCube", y, &[x], |c| {
            Ok(vec![Some(c.grad.mul(&c.inputs[0].mul_scalar(2.0))?)])
        }))
    };
    let x = Tensor::from_vec(vec![0.5f64, 2.0, -1.0], &[3]).unwrap();
    let err = gradcheck(wrong, &[x]).unwrap_err().to_string();
    assert!(err.contains("input 0"), "{err}");
    assert!(err.contains("element 0 [0]"), "{err}");
    assert!(
        err.contains("numerical 7.5") && err.contains("analytical 1e0"),
        "{err}"
    );
}

#[test]
fn gradgradcheck_reports_a_wrong_second_derivative() {
    // Right first derivative (3x²) recorded from a constant, so the second
    // derivative is lost.
    let frozen = |v: &[Variable]| -> Result<Variable> {
        let x = &v[0];
        let y = x.data().pow_scalar(3.0);
        Ok(torchlet_autograd::record("FrozenCube", y, &[x], |c| {
            let d = Variable::constant(c.inputs[0].data().square().mul_scalar(3.0));
            Ok(vec![Some(c.grad.mul(&d)?)])
        }))
    };
    let x = Tensor::from_vec(vec![0.5f64, 2.0], &[2]).unwrap();
    gradcheck(frozen, std::slice::from_ref(&x)).unwrap();
    let err = gradgradcheck(frozen, &[x]).unwrap_err().to_string();
    assert!(
        err.contains("gradgradcheck") && err.contains("input 0"),
        "{err}"
    );
}

#[test]
fn gradcheck_rejects_f32_and_checks_only_float_inputs() {
    let x32 = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
    let err = gradcheck(|v: &[Variable]| ok(v[0].exp()), &[x32])
        .unwrap_err()
        .to_string();
    assert!(err.contains("f32"), "{err}");
    // An index input is passed through as a constant.
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
    let i = index(&[2, 0], &[2]);
    gradcheck(|v: &[Variable]| v[0].index_select(0, &v[1].data()), &[x, i]).unwrap();
}

#[test]
fn random_probes_for_large_outputs() {
    let mut g = Generator::new(10);
    let (a, b) = (normal(&mut g, &[6, 7]), normal(&mut g, &[7, 8])); // 48 outputs: random probes
    gradcheck(|v: &[Variable]| Ok(v[0].matmul(&v[1])?.tanh()), &[a, b]).unwrap();
}

#[test]
fn reductions_of_zero_dim_tensors() {
    // dim 0 (or -1) of a 0-dim tensor names the tensor itself, as in PyTorch.
    let s = Tensor::scalar(0.7f64);
    run(vec![
        case("sum_dim 0 of a scalar", vec![s.clone()], |v| {
            v[0].sum_dim(0)
        }),
        case("sum_keepdim -1 of a scalar", vec![s.clone()], |v| {
            v[0].sum_keepdim(-1)
        }),
        case("mean_dim 0 of a scalar", vec![s.clone()], |v| {
            v[0].mean_dim(0)
        }),
        case("prod_dim 0 of a scalar", vec![s.clone()], |v| {
            v[0].prod_dim(0, false)
        }),
        case("logsumexp 0 of a scalar", vec![s.clone()], |v| {
            v[0].logsumexp(0, false)
        }),
        case("var_dim 0 of a scalar", vec![s.clone()], |v| {
            v[0].var_dim(0, 0, false)
        }),
        case("max_dim 0 of a scalar", vec![s.clone()], |v| {
            Ok(v[0].max_dim(0, false)?.0)
        }),
        case("softmax 0 of a scalar", vec![s], |v| v[0].softmax(0)),
    ]);
}

#[test]
fn prod_with_zero_entries_second_order() {
    let x = Tensor::from_vec(vec![0.5f64, 0.0, 2.0, 1.5, -0.7, 1.2], &[2, 3]).unwrap();
    gradgradcheck(|v: &[Variable]| v[0].prod_dim(1, false), &[x]).unwrap();
}

// ------------------------------------------------ losses and RNN cells

#[test]
fn losses_and_cells() {
    use torchlet_autograd::functional::{self as F, Reduction};
    let mut g = Generator::new(16);
    let (n, c) = (4, 3);
    let logits = normal(&mut g, &[n, c]);
    let classes = index(&[2, 0, 1, 2], &[n]);
    let with_ignored = index(&[2, -100, 1, 0], &[n]);
    let class_weight = uniform(&mut g, &[c], 0.5, 2.0);
    let spatial = normal(&mut g, &[2, c, 3]);
    let spatial_classes = index(&[0, 2, 1, 1, 1, 0], &[2, 3]);
    let probs = normal(&mut g, &[n, c]).softmax(1).unwrap();
    let pred = normal(&mut g, &[n, 2]);
    let target = normal(&mut g, &[n, 2]);
    let l1_target = pred.sub(&away(&mut g, &[n, 2], &[0.0], 0.2)).unwrap();
    let p = uniform(&mut g, &[n, 2], 0.1, 0.9);
    let y = uniform(&mut g, &[n, 2], 0.0, 1.0);
    let elem_weight = uniform(&mut g, &[n, 2], 0.5, 1.5);
    let pos_weight = uniform(&mut g, &[2], 0.5, 3.0);
    let mut cases = Vec::new();
    for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
        let r = format!("{reduction:?}");
        let (t, t2, w) = (classes.clone(), with_ignored.clone(), class_weight.clone());
        cases.push(case(
            format!("nll_loss {r}"),
            vec![logits.clone()],
            move |v| F::nll_loss(&v[0].log_softmax(1)?, &t, None, -100, reduction),
        ));
        cases.push(case(
            format!("nll_loss weighted, ignore_index {r}"),
            vec![logits.clone()],
            {
                let (t2, w) = (t2.clone(), w.clone());
                move |v| F::nll_loss(&v[0], &t2, Some(&w), -100, reduction)
            },
        ));
        let t = classes.clone();
        cases.push(case(
            format!("cross_entropy {r}"),
            vec![logits.clone()],
            move |v| F::cross_entropy(&v[0], &t, None, -100, reduction, 0.0),
        ));
        cases.push(case(
            format!("cross_entropy weighted, ignore_index, smoothing {r}"),
            vec![logits.clone()],
            {
                let (t2, w) = (t2.clone(), w.clone());
                move |v| F::cross_entropy(&v[0], &t2, Some(&w), -100, reduction, 0.1)
            },
        ));
        let st = spatial_classes.clone();
        cases.push(case(
            format!("cross_entropy [N, C, d] {r}"),
            vec![spatial.clone()],
            move |v| F::cross_entropy(&v[0], &st, None, -100, reduction, 0.05),
        ));
        let pr = probs.clone();
        cases.push(case(
            format!("cross_entropy, probability targets {r}"),
            vec![logits.clone()],
            {
                let w = w.clone();
                move |v| F::cross_entropy(&v[0], &pr, Some(&w), -100, reduction, 0.2)
            },
        ));
        cases.push(case(
            format!("mse_loss {r}"),
            vec![pred.clone(), target.clone()],
            move |v| F::mse_loss(&v[0], &v[1], reduction),
        ));
        cases.push(case(
            format!("mse_loss broadcast target {r}"),
            vec![pred.clone(), normal(&mut g, &[2])],
            move |v| F::mse_loss(&v[0], &v[1], reduction),
        ));
        cases.push(case(
            format!("l1_loss {r}"),
            vec![pred.clone(), l1_target.clone()],
            move |v| F::l1_loss(&v[0], &v[1], reduction),
        ));
        cases.push(case(
            format!("binary_cross_entropy {r}"),
            vec![p.clone(), y.clone()],
            move |v| F::binary_cross_entropy(&v[0], &v[1], None, reduction),
        ));
        let ew = elem_weight.clone();
        cases.push(case(
            format!("binary_cross_entropy weighted {r}"),
            vec![p.clone(), y.clone()],
            move |v| F::binary_cross_entropy(&v[0], &v[1], Some(&ew), reduction),
        ));
        cases.push(case(
            format!("binary_cross_entropy_with_logits {r}"),
            vec![pred.clone(), y.clone()],
            move |v| F::binary_cross_entropy_with_logits(&v[0], &v[1], None, None, reduction),
        ));
        let (ew, pw) = (elem_weight.clone(), pos_weight.clone());
        cases.push(case(
            format!("binary_cross_entropy_with_logits weighted, pos_weight {r}"),
            vec![pred.clone(), y.clone()],
            move |v| {
                F::binary_cross_entropy_with_logits(&v[0], &v[1], Some(&ew), Some(&pw), reduction)
            },
        ));
    }
    // Functional linear and embedding.
    let (x3, w, b) = (
        normal(&mut g, &[2, 3, 4]),
        normal(&mut g, &[5, 4]),
        normal(&mut g, &[5]),
    );
    cases.push(case("F::linear 3-D input", vec![x3, w.clone(), b], |v| {
        F::linear(&v[0], &v[1], Some(&v[2]))
    }));
    let lookup = index(&[4, 0, 4, 2, 1, 0], &[2, 3]);
    cases.push(case("F::embedding with repeats", vec![w], move |v| {
        F::embedding(&lookup, &v[0])
    }));
    // RNN cells: x [B, I], h [B, H].
    let (bsz, i, h) = (2, 3, 2);
    let (x, h0, c0) = (
        normal(&mut g, &[bsz, i]),
        normal(&mut g, &[bsz, h]),
        normal(&mut g, &[bsz, h]),
    );
    let cell = |g: &mut Generator, k: usize| {
        vec![
            normal(g, &[k * h, i]),
            normal(g, &[k * h, h]),
            normal(g, &[k * h]),
            normal(g, &[k * h]),
        ]
    };
    let rnn = cell(&mut g, 1);
    let lstm = cell(&mut g, 4);
    let gru = cell(&mut g, 3);
    let with = |params: Vec<Tensor>, state: &[&Tensor]| -> Vec<Tensor> {
        let mut v = vec![x.clone()];
        v.extend(state.iter().map(|t| (*t).clone()));
        v.extend(params);
        v
    };
    cases.push(case("rnn_tanh_cell", with(rnn.clone(), &[&h0]), |v| {
        F::rnn_tanh_cell(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), Some(&v[5]))
    }));
    cases.push(case(
        "rnn_tanh_cell without biases",
        with(rnn[..2].to_vec(), &[&h0]),
        |v| F::rnn_tanh_cell(&v[0], &v[1], &v[2], &v[3], None, None),
    ));
    cases.push(case("lstm_cell", with(lstm, &[&h0, &c0]), |v| {
        let (h, c) = F::lstm_cell(&v[0], &v[1], &v[2], &v[3], &v[4], Some(&v[5]), Some(&v[6]))?;
        Variable::cat(&[h, c], 1)
    }));
    cases.push(case("gru_cell", with(gru, &[&h0]), |v| {
        F::gru_cell(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), Some(&v[5]))
    }));
    run(cases);
}

//! `gradcheck` and `gradgradcheck` of every differentiable tensor op
//! (elementwise, reductions, views, joins, matmul): first and second
//! derivatives against central finite differences in f64, on random shapes
//! and values drawn from seeded generators. The nn ops, losses and RNN
//! cells are in `gradcheck_nn.rs`.

use torchlet_autograd::{Result, Variable};
use torchlet_tensor::{Generator, Tensor};

mod common;

use common::*;

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
        case("pow_scalar 3", vec![x.clone()], |v| {
            ok(v[0].pow(3.0).unwrap())
        }),
        case("pow_scalar 2.5", vec![p.clone()], |v| {
            ok(v[0].pow(2.5).unwrap())
        }),
        case("pow_scalar -1.5", vec![p], |v| ok(v[0].pow(-1.5).unwrap())),
        case("pow_scalar 0", vec![x.clone()], |v| {
            ok(v[0].pow(0.0).unwrap())
        }),
        case("pow_scalar 1", vec![x], |v| ok(v[0].pow(1.0).unwrap())),
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
        case("sum", vec![x.clone()], |v| Ok(v[0].sum())),
        case("mean", vec![x.clone()], |v| Ok(v[0].mean())),
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
        case("flatten", vec![x.clone()], |v| ok(v[0].ravel())),
        case("flatten_dims 1..-1", vec![x.clone()], |v| {
            v[0].flatten(1, -1)
        }),
        case("flatten_dims 0..1", vec![x.clone()], |v| v[0].flatten(0, 1)),
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
        case("squeeze_dim 1", vec![ones.clone()], |v| v[0].squeeze(1)),
        case("squeeze_dim -2", vec![ones.clone()], |v| v[0].squeeze(-2)),
        case("squeeze", vec![ones.clone()], |v| ok(v[0].squeeze_all())),
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
        .map(|(k, p)| p.mul_scalar(k as f64 + 1.0).ravel())
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

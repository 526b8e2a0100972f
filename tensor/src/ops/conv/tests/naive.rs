//! Reference convolutions written as direct loops in f64, the ground
//! truth the kernels are compared against.

/// Direct 7-loop convolution (batch, out channel, out row, out col,
/// in channel of the group, kernel row, kernel col), in f64.
#[allow(clippy::too_many_arguments)]
pub(super) fn naive_conv2d(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    b: Option<&[f64]>,
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    groups: usize,
) -> (Vec<f64>, Vec<usize>) {
    let [n, c, h, wd] = xs;
    let [co, cg, kh, kw] = ws;
    assert_eq!(cg * groups, c);
    let ho = (h + 2 * p[0] - d[0] * (kh - 1) - 1) / s[0] + 1;
    let wo = (wd + 2 * p[1] - d[1] * (kw - 1) - 1) / s[1] + 1;
    let og = co / groups;
    let mut out = vec![0.0; n * co * ho * wo];
    for bi in 0..n {
        for o in 0..co {
            let grp = o / og;
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = b.map_or(0.0, |b| b[o]);
                    for ci in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * s[0] + ky * d[0]) as isize - p[0] as isize;
                                let ix = (ox * s[1] + kx * d[1]) as isize - p[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let (iy, ix) = (iy as usize, ix as usize);
                                let xv = x[((bi * c + grp * cg + ci) * h + iy) * wd + ix];
                                let wv = w[((o * cg + ci) * kh + ky) * kw + kx];
                                acc += xv * wv;
                            }
                        }
                    }
                    out[((bi * co + o) * ho + oy) * wo + ox] = acc;
                }
            }
        }
    }
    (out, vec![n, co, ho, wo])
}

/// Direct transposed convolution: every input element scatters
/// `x * w` onto the output positions its kernel taps reach.
#[allow(clippy::too_many_arguments)]
pub(super) fn naive_conv_transpose2d(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    b: Option<&[f64]>,
    s: [usize; 2],
    p: [usize; 2],
    op: [usize; 2],
    d: [usize; 2],
    groups: usize,
) -> (Vec<f64>, Vec<usize>) {
    let [n, c, h, wd] = xs;
    let [ci_w, og, kh, kw] = ws;
    assert_eq!(ci_w, c);
    let cg = c / groups;
    let co = og * groups;
    let ho = ((h - 1) * s[0] + d[0] * (kh - 1) + op[0] + 1) - 2 * p[0];
    let wo = ((wd - 1) * s[1] + d[1] * (kw - 1) + op[1] + 1) - 2 * p[1];
    let mut out = vec![0.0; n * co * ho * wo];
    for bi in 0..n {
        for ci in 0..c {
            let grp = ci / cg;
            for iy in 0..h {
                for ix in 0..wd {
                    let xv = x[((bi * c + ci) * h + iy) * wd + ix];
                    for oc in 0..og {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let oy = (iy * s[0] + ky * d[0]) as isize - p[0] as isize;
                                let ox = (ix * s[1] + kx * d[1]) as isize - p[1] as isize;
                                if oy < 0 || ox < 0 || oy >= ho as isize || ox >= wo as isize {
                                    continue;
                                }
                                let o = grp * og + oc;
                                out[((bi * co + o) * ho + oy as usize) * wo + ox as usize] +=
                                    xv * w[((ci * og + oc) * kh + ky) * kw + kx];
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(b) = b {
        for (i, v) in out.iter_mut().enumerate() {
            *v += b[(i / (ho * wo)) % co];
        }
    }
    (out, vec![n, co, ho, wo])
}

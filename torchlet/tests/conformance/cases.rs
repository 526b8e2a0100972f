//! The conformance case format (`conformance-cases/1`, see
//! `conformance/README.md`): parsing a case file, turning its tensors into
//! [`Tensor`]s, reading attributes, and comparing a result with the oracle.
//!
//! Nothing here knows which op a case runs; that table lives in the runner.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use torchlet_tensor::{DType, Tensor};

/// A whole case file.
#[derive(Debug, Deserialize)]
pub struct CaseFile {
    /// `conformance-cases/1`.
    #[serde(default)]
    pub format: String,
    /// Which library computed the expected values (`torch 2.15.0`).
    #[serde(default)]
    pub oracle: String,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One operator case.
#[derive(Debug, Deserialize)]
pub struct Case {
    /// Unique name, `op/n`.
    pub id: String,
    /// PyTorch's name of the op.
    pub op: String,
    /// Keyword arguments of the op (`dim`, `keepdim`, `reduction`, ...).
    #[serde(default)]
    pub attrs: Attrs,
    /// Positional tensor inputs.
    pub inputs: Vec<TensorSpec>,
    /// The expected forward output.
    pub output: TensorSpec,
    /// The seed of the backward pass: gradients are those of
    /// `sum(output * grad_output)`. Absent when gradients are not checked.
    #[serde(default)]
    pub grad_output: Option<TensorSpec>,
    /// Expected gradient of each input; `null` for inputs that are not
    /// differentiable (indices, targets, masks).
    #[serde(default)]
    pub grads: Option<Vec<Option<TensorSpec>>>,
    /// Relative tolerance.
    #[serde(default = "default_rtol")]
    pub rtol: f64,
    /// Absolute tolerance.
    #[serde(default = "default_atol")]
    pub atol: f64,
    /// Free text from the generator.
    #[serde(default)]
    #[allow(dead_code)]
    pub note: Option<String>,
}

fn default_rtol() -> f64 {
    1e-4
}

fn default_atol() -> f64 {
    1e-5
}

/// A tensor as written in a case file: dtype name, shape, row-major data.
#[derive(Debug, Clone, Deserialize)]
pub struct TensorSpec {
    /// `f32`, `f64`, `i64` or `bool`.
    pub dtype: String,
    /// May contain 0 (an empty tensor); `[]` is a scalar.
    pub shape: Vec<usize>,
    /// Numbers; float data may also hold `"nan"`, `"inf"`, `"-inf"`; bool
    /// data is 0/1 (`true`/`false` are accepted too).
    pub data: Vec<Value>,
}

/// Reads and parses a case file.
pub fn load(path: &str) -> Result<CaseFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse(&text).map_err(|e| format!("{path}: {e}"))
}

/// Parses the text of a case file.
pub fn parse(text: &str) -> Result<CaseFile, String> {
    let file: CaseFile =
        serde_json::from_str(text).map_err(|e| format!("invalid case file: {e}"))?;
    if !file.format.is_empty() && !file.format.starts_with("conformance-cases/") {
        return Err(format!("unknown format {:?}", file.format));
    }
    Ok(file)
}

/// Parses a dtype name of the case format.
pub fn parse_dtype(name: &str) -> Result<DType, String> {
    match name {
        "f32" => Ok(DType::F32),
        "f64" => Ok(DType::F64),
        "i64" => Ok(DType::I64),
        "bool" => Ok(DType::Bool),
        other => Err(format!("unknown dtype {other:?}")),
    }
}

/// The case-format name of a dtype.
pub fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::I64 => "i64",
        DType::Bool => "bool",
    }
}

/// One data value as f64: numbers, `"nan"`, `"inf"`, `"-inf"`, booleans.
pub fn parse_value(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("bad number {n}")),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => match s.as_str() {
            "nan" | "NaN" => Ok(f64::NAN),
            "inf" | "+inf" | "Infinity" => Ok(f64::INFINITY),
            "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
            other => Err(format!("bad value {other:?}")),
        },
        other => Err(format!("bad value {other}")),
    }
}

impl TensorSpec {
    /// The dtype, checked.
    pub fn dtype(&self) -> Result<DType, String> {
        parse_dtype(&self.dtype)
    }

    /// The data as f64 (bool as 0/1), checked against the shape.
    pub fn values(&self) -> Result<Vec<f64>, String> {
        let numel: usize = self.shape.iter().product();
        if numel != self.data.len() {
            return Err(format!(
                "shape {:?} needs {numel} values, data has {}",
                self.shape,
                self.data.len()
            ));
        }
        self.data.iter().map(parse_value).collect()
    }

    /// Builds the tensor this spec describes. i64 data is read as integers
    /// (exact beyond 2^53).
    pub fn to_tensor(&self) -> Result<Tensor, String> {
        let values = self.values()?;
        let shape = &self.shape;
        let t = match self.dtype()? {
            DType::F32 => Tensor::from_vec(values.iter().map(|&v| v as f32).collect(), shape),
            DType::F64 => Tensor::from_vec(values, shape),
            DType::I64 => {
                let ints = self
                    .data
                    .iter()
                    .zip(&values)
                    .map(|(raw, &v)| match raw.as_i64() {
                        Some(i) => Ok(i),
                        None if v.fract() == 0.0 && v.is_finite() => Ok(v as i64),
                        None => Err(format!("i64 data holds {raw}")),
                    })
                    .collect::<Result<Vec<i64>, String>>()?;
                Tensor::from_vec(ints, shape)
            }
            DType::Bool => {
                let bools = values
                    .iter()
                    .map(|&v| {
                        if v == 0.0 || v == 1.0 {
                            Ok(v == 1.0)
                        } else {
                            Err(format!("bool data holds {v}"))
                        }
                    })
                    .collect::<Result<Vec<bool>, String>>()?;
                Tensor::from_vec(bools, shape)
            }
        };
        t.map_err(|e| e.to_string())
    }
}

/// Whether `got` is within `atol + rtol * |want|` of `want`. NaN equals
/// NaN; an infinite `want` needs the same infinity.
pub fn close(got: f64, want: f64, rtol: f64, atol: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= atol + rtol * want.abs()
}

/// Compares a result (dtype, shape and its values as f64) with the
/// expected tensor. Shapes and dtypes must match exactly; float values
/// within tolerance ([`close`]); i64 and bool values exactly.
pub fn compare(
    got_dtype: DType,
    got_shape: &[usize],
    got: &[f64],
    want: &TensorSpec,
    rtol: f64,
    atol: f64,
) -> Result<(), String> {
    let want_dtype = want.dtype()?;
    if got_dtype != want_dtype {
        return Err(format!(
            "dtype {} != expected {}",
            dtype_name(got_dtype),
            want.dtype
        ));
    }
    if got_shape != want.shape.as_slice() {
        return Err(format!("shape {got_shape:?} != expected {:?}", want.shape));
    }
    let want_values = want.values()?;
    if got.len() != want_values.len() {
        return Err(format!(
            "{} values for shape {got_shape:?}, expected {}",
            got.len(),
            want_values.len()
        ));
    }
    let (rtol, atol) = if want_dtype.is_float() {
        (rtol, atol)
    } else {
        (0.0, 0.0)
    };
    let bad: Vec<usize> = (0..got.len())
        .filter(|&i| !close(got[i], want_values[i], rtol, atol))
        .collect();
    if let Some(&first) = bad.first() {
        let worst = bad
            .iter()
            .copied()
            .max_by(|&i, &j| {
                let ei = (got[i] - want_values[i]).abs();
                let ej = (got[j] - want_values[j]).abs();
                ei.partial_cmp(&ej).unwrap_or(std::cmp::Ordering::Greater)
            })
            .unwrap_or(first);
        return Err(format!(
            "{} of {} values off (rtol {rtol:e}, atol {atol:e}); worst at {}: got {}, want {}",
            bad.len(),
            got.len(),
            unravel(worst, got_shape),
            got[worst],
            want_values[worst]
        ));
    }
    Ok(())
}

/// `[i, j, k]` for a flat row-major position.
fn unravel(mut flat: usize, shape: &[usize]) -> String {
    let mut index = vec![0; shape.len()];
    for (slot, &n) in index.iter_mut().zip(shape).rev() {
        if n > 0 {
            *slot = flat % n;
            flat /= n;
        }
    }
    format!("{index:?}")
}

/// The attributes of a case, with typed getters whose errors name the key.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Attrs(pub BTreeMap<String, Value>);

impl Attrs {
    /// Whether the key is present (and not `null`).
    pub fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_null())
    }

    fn get(&self, key: &str) -> Result<&Value, String> {
        match self.0.get(key) {
            Some(v) if !v.is_null() => Ok(v),
            _ => Err(format!("missing attribute {key:?}")),
        }
    }

    /// An integer attribute (`dim`, `start`, ...); may be negative.
    pub fn int(&self, key: &str) -> Result<i64, String> {
        let v = self.get(key)?;
        v.as_i64()
            .ok_or_else(|| format!("attribute {key:?} is not an integer: {v}"))
    }

    /// An integer attribute, or `default` when absent.
    pub fn int_or(&self, key: &str, default: i64) -> Result<i64, String> {
        if self.has(key) {
            self.int(key)
        } else {
            Ok(default)
        }
    }

    /// A non-negative integer attribute.
    pub fn usize(&self, key: &str) -> Result<usize, String> {
        let i = self.int(key)?;
        usize::try_from(i).map_err(|_| format!("attribute {key:?} is negative: {i}"))
    }

    /// A non-negative integer attribute, or `default` when absent.
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize, String> {
        if self.has(key) {
            self.usize(key)
        } else {
            Ok(default)
        }
    }

    /// A float attribute (integers are accepted; so are "nan"/"inf").
    pub fn float(&self, key: &str) -> Result<f64, String> {
        parse_value(self.get(key)?).map_err(|e| format!("attribute {key:?}: {e}"))
    }

    /// A float attribute, or `default` when absent.
    pub fn float_or(&self, key: &str, default: f64) -> Result<f64, String> {
        if self.has(key) {
            self.float(key)
        } else {
            Ok(default)
        }
    }

    /// A boolean attribute, or `default` when absent.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        if !self.has(key) {
            return Ok(default);
        }
        let v = self.get(key)?;
        v.as_bool()
            .ok_or_else(|| format!("attribute {key:?} is not a bool: {v}"))
    }

    /// A string attribute, or `default` when absent.
    pub fn str_or<'a>(&'a self, key: &str, default: &'a str) -> Result<&'a str, String> {
        if !self.has(key) {
            return Ok(default);
        }
        let v = self.get(key)?;
        v.as_str()
            .ok_or_else(|| format!("attribute {key:?} is not a string: {v}"))
    }

    /// A list of integers (`shape`, `dims`).
    pub fn ints(&self, key: &str) -> Result<Vec<i64>, String> {
        let v = self.get(key)?;
        let list = v
            .as_array()
            .ok_or_else(|| format!("attribute {key:?} is not a list: {v}"))?;
        list.iter()
            .map(|x| {
                x.as_i64()
                    .ok_or_else(|| format!("attribute {key:?} holds a non-integer: {x}"))
            })
            .collect()
    }

    /// A list of non-negative integers (`normalized_shape`, `output_size`);
    /// a single integer counts as a one-element list.
    pub fn usizes(&self, key: &str) -> Result<Vec<usize>, String> {
        let ints = if self.get(key)?.is_array() {
            self.ints(key)?
        } else {
            vec![self.int(key)?]
        };
        ints.into_iter()
            .map(|i| usize::try_from(i).map_err(|_| format!("attribute {key:?} holds {i}")))
            .collect()
    }

    /// A per-spatial-dim attribute of a conv/pool op as `[usize; N]`: one
    /// integer for every dim, or a list of N.
    pub fn pair<const N: usize>(&self, key: &str) -> Result<[usize; N], String> {
        let list = self.usizes(key)?;
        match list.len() {
            1 => Ok([list[0]; N]),
            n if n == N => Ok(std::array::from_fn(|i| list[i])),
            n => Err(format!(
                "attribute {key:?} has {n} entries, expected 1 or {N}"
            )),
        }
    }

    /// Like [`Attrs::pair`], with a default when absent.
    pub fn pair_or<const N: usize>(&self, key: &str, default: usize) -> Result<[usize; N], String> {
        if self.has(key) {
            self.pair(key)
        } else {
            Ok([default; N])
        }
    }
}

/// How checking one case went.
#[derive(Debug)]
pub enum Verdict {
    /// Every checked value is within tolerance.
    Pass,
    /// Something differs or failed; why.
    Fail(String),
    /// The runner has no mapping for the case's op.
    NotImplemented,
}

/// The counts of one run over a case file.
#[derive(Debug, Default)]
pub struct Tally {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases whose op has no mapping.
    pub not_implemented: usize,
    /// Those ops, once each, in file order.
    pub unmapped: Vec<String>,
}

/// Checks every case with `check`, printing `FAIL <id>: <why>` for each
/// failing one.
pub fn run_cases<'a>(
    cases: impl IntoIterator<Item = &'a Case>,
    check: impl Fn(&Case) -> Verdict,
) -> Tally {
    let mut t = Tally::default();
    for case in cases {
        match check(case) {
            Verdict::Pass => t.passed += 1,
            Verdict::Fail(why) => {
                println!("FAIL {}: {why}", case.id);
                t.failed += 1;
            }
            Verdict::NotImplemented => {
                t.not_implemented += 1;
                if !t.unmapped.contains(&case.op) {
                    t.unmapped.push(case.op.clone());
                }
            }
        }
    }
    t
}

/// The unmapped ops that `allowed` (op, reason) does not excuse.
pub fn not_allowed<'a>(unmapped: &'a [String], allowed: &[(&str, &str)]) -> Vec<&'a str> {
    unmapped
        .iter()
        .map(String::as_str)
        .filter(|op| !allowed.iter().any(|(name, _)| name == op))
        .collect()
}

impl Tally {
    /// Prints the unmapped ops and the closing `{label}: N passed, M
    /// failed, K not implemented` line, then fails the test on a failed
    /// case, on an unmapped op that `allowed` does not excuse, or when no
    /// case ran from `path`.
    pub fn finish(&self, label: &str, path: &str, allowed: &[(&str, &str)]) {
        if !self.unmapped.is_empty() {
            println!("not implemented: {}", self.unmapped.join(", "));
        }
        println!(
            "{label}: {} passed, {} failed, {} not implemented",
            self.passed, self.failed, self.not_implemented
        );
        assert!(
            self.failed == 0,
            "{} {label} case(s) failed (see FAIL lines above)",
            self.failed
        );
        let missing = not_allowed(&self.unmapped, allowed);
        assert!(
            missing.is_empty(),
            "ops without a mapping in this runner: {} (map them, or list them in the runner's allow-list with the reason)",
            missing.join(", ")
        );
        assert!(self.passed > 0, "no {label} case ran from {path}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> TensorSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn special_float_strings_parse() {
        let s = spec(r#"{"dtype": "f32", "shape": [4], "data": [1.5, "nan", "inf", "-inf"]}"#);
        let v = s.values().unwrap();
        assert_eq!(v[0], 1.5);
        assert!(v[1].is_nan());
        assert_eq!(v[2], f64::INFINITY);
        assert_eq!(v[3], f64::NEG_INFINITY);
        assert!(parse_value(&Value::String("nope".into())).is_err());
    }

    #[test]
    fn nan_equals_nan_only() {
        assert!(close(f64::NAN, f64::NAN, 0.0, 0.0));
        assert!(!close(0.0, f64::NAN, 1.0, 1.0));
        assert!(!close(f64::NAN, 0.0, 1.0, 1.0));
    }

    #[test]
    fn infinities_must_match_exactly() {
        assert!(close(f64::INFINITY, f64::INFINITY, 0.0, 0.0));
        assert!(!close(f64::NEG_INFINITY, f64::INFINITY, 1.0, 1.0));
        assert!(!close(1e300, f64::INFINITY, 1.0, 1.0));
        assert!(!close(f64::INFINITY, 1e300, 1.0, 1.0));
    }

    #[test]
    fn tolerance_boundary_is_inclusive() {
        // Exactly representable: atol + rtol*|want| = 0.25 + 0.5*1 = 0.75.
        assert!(close(1.75, 1.0, 0.5, 0.25));
        assert!(close(0.25, 1.0, 0.5, 0.25));
        assert!(!close(1.75 + 1e-12, 1.0, 0.5, 0.25));
        // rtol scales with |want|, not |got|.
        assert!(close(-0.5, -1.0, 0.5, 0.0));
        assert!(!close(-1.0, -0.5, 0.5, 0.0));
    }

    #[test]
    fn compare_checks_dtype_and_shape_before_values() {
        let want = spec(r#"{"dtype": "f32", "shape": [2, 1], "data": [1, 2]}"#);
        let e = compare(DType::F64, &[2, 1], &[1.0, 2.0], &want, 0.0, 0.0).unwrap_err();
        assert!(e.contains("dtype"), "{e}");
        let e = compare(DType::F32, &[2], &[1.0, 2.0], &want, 0.0, 0.0).unwrap_err();
        assert!(e.contains("shape"), "{e}");
        compare(DType::F32, &[2, 1], &[1.0, 2.0], &want, 0.0, 0.0).unwrap();
        let e = compare(DType::F32, &[2, 1], &[1.0, 2.5], &want, 0.1, 0.1).unwrap_err();
        assert!(e.contains("1 of 2") && e.contains("[1, 0]"), "{e}");
    }

    #[test]
    fn integer_and_bool_outputs_compare_exactly() {
        let want = spec(r#"{"dtype": "i64", "shape": [2], "data": [100000, 3]}"#);
        assert!(compare(DType::I64, &[2], &[100001.0, 3.0], &want, 1e-4, 1e-5).is_err());
        let want = spec(r#"{"dtype": "bool", "shape": [3], "data": [0, 1, true]}"#);
        compare(DType::Bool, &[3], &[0.0, 1.0, 1.0], &want, 1e-4, 1e-5).unwrap();
    }

    #[test]
    fn empty_shapes_and_length_mismatch() {
        let empty = spec(r#"{"dtype": "f32", "shape": [0, 3], "data": []}"#);
        assert!(empty.values().unwrap().is_empty());
        compare(DType::F32, &[0, 3], &[], &empty, 0.0, 0.0).unwrap();
        let bad = spec(r#"{"dtype": "f32", "shape": [2, 2], "data": [1, 2, 3]}"#);
        assert!(bad.values().is_err());
        let scalar = spec(r#"{"dtype": "f64", "shape": [], "data": [7]}"#);
        assert_eq!(scalar.values().unwrap(), vec![7.0]);
    }

    #[test]
    fn case_file_parses_with_defaults_and_nulls() {
        let file = parse(
            r#"{"format": "conformance-cases/1", "oracle": "test", "cases": [
                {"id": "neg/0", "op": "neg", "attrs": {"dim": -1, "approximate": "tanh",
                  "output_size": [2, 3], "kernel_size": 2},
                 "inputs": [{"dtype": "f32", "shape": [1], "data": ["nan"]}],
                 "output": {"dtype": "f32", "shape": [1], "data": ["nan"]},
                 "grads": [null]}
            ]}"#,
        )
        .unwrap();
        let case = &file.cases[0];
        assert_eq!(case.rtol, 1e-4);
        assert_eq!(case.atol, 1e-5);
        assert_eq!(case.attrs.int("dim").unwrap(), -1);
        assert!(case.attrs.usize("dim").is_err());
        assert_eq!(case.attrs.str_or("approximate", "none").unwrap(), "tanh");
        assert_eq!(case.attrs.pair::<2>("output_size").unwrap(), [2, 3]);
        assert_eq!(case.attrs.pair::<2>("kernel_size").unwrap(), [2, 2]);
        assert!(!case.attrs.bool_or("keepdim", false).unwrap());
        assert!(case.attrs.int("missing").unwrap_err().contains("missing"));
        assert!(case.grads.as_ref().unwrap()[0].is_none());
        assert!(parse(r#"{"format": "other/2", "cases": []}"#).is_err());
    }
}

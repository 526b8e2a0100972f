//! Script files: save → load gives the same graph and bits; every kind
//! of damaged file is a clear error, never a panic.

mod common;

use common::bits;

use torchlet_jit::{load, trace, JitError, ScriptModule, FORMAT_VERSION, MAGIC};
use torchlet_nn::{Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential};
use torchlet_tensor::{Generator, Tensor};

fn script() -> (ScriptModule, Tensor) {
    torchlet_tensor::manual_seed(5);
    let model = Sequential::new()
        .append(Conv2d::new(1, 3, 3).unwrap())
        .append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Flatten::new())
        .append(Linear::new(3 * 3 * 3, 4).unwrap());
    let x = Tensor::randn_with(&[5, 1, 8, 8], &mut Generator::new(9));
    (trace(&model, std::slice::from_ref(&x)).unwrap(), x)
}

fn why(bytes: &[u8]) -> String {
    match ScriptModule::from_bytes(bytes) {
        Err(JitError::File { why, .. }) => why,
        Err(other) => panic!("not a file error: {other}"),
        Ok(_) => panic!("loaded"),
    }
}

/// `bytes` with a new body and its header's lengths and checksum made
/// right, so the damage reaches the part after the checksum.
fn resealed(bytes: &[u8], graph: &[u8], weights: &[u8]) -> Vec<u8> {
    let mut out = bytes[..12].to_vec();
    out.extend_from_slice(&(graph.len() as u64).to_le_bytes());
    out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in graph.iter().chain(weights) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(graph);
    out.extend_from_slice(weights);
    out
}

#[test]
fn save_then_load_gives_the_same_graph_and_bits() {
    let (mut script, x) = script();
    script.set_metadata("classes", "[\"a\", \"b\"]");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.tlj");
    script.save(&path).unwrap();
    let back = load(&path).unwrap();
    assert_eq!(back.graph(), script.graph());
    assert_eq!(back.metadata("classes"), Some("[\"a\", \"b\"]"));
    assert_eq!(back.metadata("other"), None);
    let want = script.forward(std::slice::from_ref(&x)).unwrap();
    assert_eq!(bits(&back.forward(&[x]).unwrap()[0]), bits(&want[0]));
    // Another batch size still works after the round trip.
    let y = back.forward(&[Tensor::rand(&[2, 1, 8, 8])]).unwrap();
    assert_eq!(y[0].shape(), [2, 4]);
    // Nothing but the file is left in the folder.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn damaged_files_are_refused_with_what_is_wrong() {
    let (script, _) = script();
    let bytes = script.to_bytes().unwrap();
    assert_eq!(&bytes[..8], MAGIC);

    assert!(why(b"PK\x03\x04 a zip").contains("not a torchlet script file"));
    assert!(why(&bytes[..20]).contains("truncated"));
    let e = why(&bytes[..bytes.len() - 10]);
    assert!(
        e.contains("truncated") && e.contains("the file holds"),
        "{e}"
    );

    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = why(&newer);
    assert!(
        e.contains(&format!("format version {}", FORMAT_VERSION + 1)),
        "{e}"
    );

    for at in [40, bytes.len() / 2, bytes.len() - 1] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x20;
        assert!(why(&flipped).contains("checksum"), "byte {at}");
    }

    // Past the checksum: a graph that does not decode, one that fits no
    // constants, constants that do not parse.
    let graph_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let (graph, weights) = bytes[36..].split_at(graph_len);
    let e = why(&resealed(&bytes, &[0xff; 7], weights));
    assert!(e.contains("the graph does not decode"), "{e}");
    let e = why(&resealed(&bytes, graph, b"not safetensors"));
    assert!(e.contains("the constants do not parse"), "{e}");
    let empty = torchlet_tensor::io::to_safetensors_bytes(&Default::default(), None).unwrap();
    let e = why(&resealed(&bytes, graph, &empty));
    assert!(e.contains("is missing"), "{e}");
}

#[test]
fn a_missing_file_names_its_path() {
    let err = load("/nonexistent/model.tlj").unwrap_err().to_string();
    assert!(err.contains("/nonexistent/model.tlj"), "{err}");
}

#[test]
fn damaged_graphs_past_the_checksum_never_panic() {
    let (script, _) = script();
    let bytes = script.to_bytes().unwrap();
    let graph_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let (graph, weights) = bytes[36..].split_at(graph_len);
    let mut seed = 1u64;
    for _ in 0..2000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut g = graph.to_vec();
        let at = (seed >> 33) as usize % g.len();
        g[at] = (seed >> 17) as u8;
        let damaged = resealed(&bytes, &g, weights);
        let outcome = std::panic::catch_unwind(|| ScriptModule::from_bytes(&damaged).is_ok());
        assert!(outcome.is_ok(), "byte {at} set to {} panicked", g[at]);
    }
}

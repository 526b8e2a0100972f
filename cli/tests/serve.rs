//! `torchlet serve` over plain HTTP: every endpoint on an MNIST run, a
//! text classifier and a character LM, and the bad requests (4xx with a
//! JSON error, the server still serving after them). The page in a real
//! browser is `serve_browser.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::http::{post_json, request, ServeProcess};
use common::{stderr, torchlet};
use serde_json::{json, Value};
use torchlet_autograd::{no_grad, Variable};
use torchlet_cli::run::RunConfig;
use torchlet_tensor::Tensor;

/// One run per kind, trained once for all tests (1 epoch).
fn trained(kind: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static RUNS: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let _one_at_a_time = RUNS.get_or_init(Default::default).lock().unwrap();
    let run = dir.path().join(kind);
    if !run.join("config.json").exists() {
        let args: &[&str] = match kind {
            "mlp" => &["train", "--model", "mlp"],
            "bag" => &["train", "--dataset", "fortunes", "--model", "bag"],
            "tfidf" => &["train", "--dataset", "fortunes", "--model", "tfidf"],
            "charlm" => &["train", "--dataset", "fortunes", "--model", "charlm"],
            other => panic!("no run kind {other}"),
        };
        let mut args = args.to_vec();
        args.extend(["--epochs", "1", "--quiet", "--out", run.to_str().unwrap()]);
        let out = torchlet(&args);
        assert!(out.status.success(), "train {kind}: {}", stderr(&out));
    }
    run
}

fn test_digit(index: usize) -> (Vec<u8>, usize) {
    let test = torchlet_vision::Mnist::embedded(false).unwrap();
    (
        test.image_bytes(index).to_vec(),
        test.labels()[index] as usize,
    )
}

/// The run's own model on one digit (eager, in this process): the class
/// probabilities `/predict` must give.
/// The run's model loaded in this process: a digit's probabilities.
fn eager_probabilities(run: &Path) -> impl Fn(&[u8]) -> Vec<f32> {
    let config = RunConfig::load(run).unwrap();
    let model = config.load_model(run).unwrap();
    let (mean, std) = (config.normalize.mean[0], config.normalize.std[0]);
    move |digit| {
        let x: Vec<f32> = digit
            .iter()
            .map(|&b| (b as f32 / 255.0 - mean) / std)
            .collect();
        let x = Tensor::from_vec(x, &[1, 1, 28, 28]).unwrap();
        let logits = no_grad(|| model.forward(&Variable::constant(x))).unwrap();
        logits.data().softmax(1).unwrap().to_vec::<f32>().unwrap()
    }
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn an_image_run_predicts_like_its_model_with_every_layer() {
    let run = trained("mlp");
    let server = ServeProcess::start(&run);
    let info = request(&server.addr, "GET", "/api/info", None, b"");
    assert_eq!(info.status, 200);
    assert_eq!(info.header("content-type"), Some("application/json"));
    let info = info.json();
    assert_eq!(info["kind"], "image");
    assert_eq!(info["model"], "mlp");
    assert_eq!(
        (info["height"].as_u64(), info["width"].as_u64()),
        (Some(28), Some(28))
    );
    assert_eq!(info["classes"].as_array().unwrap().len(), 10);
    let layers: Vec<&str> = info["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(layers.len() >= 3 && layers.contains(&"relu"), "{layers:?}");

    let page = request(&server.addr, "GET", "/", None, b"");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("<canvas id=\"pad\""));

    let eager = eager_probabilities(&run);
    for index in [0, 1, 2] {
        let (digit, _) = test_digit(index);
        let want = eager(&digit);
        // As rows of numbers in [0, 1].
        let rows: Vec<Vec<f64>> = digit
            .chunks(28)
            .map(|r| r.iter().map(|&b| b as f64 / 255.0).collect())
            .collect();
        let v = post_json(&server.addr, "/predict", &json!({ "image": rows }));
        assert_eq!(v.status, 200, "{}", String::from_utf8_lossy(&v.body));
        let v = v.json();
        let got = floats(&v["probabilities"]);
        assert_eq!(got.len(), 10);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-6, "{got:?} vs {want:?}");
        }
        let best = v["index"].as_u64().unwrap() as usize;
        assert!(want.iter().all(|&p| p <= want[best]));
        assert_eq!(v["class"], best.to_string());
        // One activation per layer, each a [..] shape with bytes to draw.
        let acts = v["activations"].as_array().unwrap();
        assert_eq!(acts.len(), layers.len());
        for (a, name) in acts.iter().zip(&layers) {
            assert_eq!(a["name"], *name);
            let n: u64 = a["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .product();
            assert_eq!(a["data"].as_array().unwrap().len() as u64, n);
            assert!(a["min"].as_f64().unwrap() <= a["max"].as_f64().unwrap());
        }
        // The last layer is the logits: its order is the probabilities'.
        let last = acts.last().unwrap()["data"].as_array().unwrap();
        let top = (0..10).max_by_key(|&i| last[i].as_u64().unwrap()).unwrap();
        assert_eq!(top, best);

        // The same digit as a PNG body, flat JSON, and without layers.
        let mut png = Vec::new();
        image::GrayImage::from_raw(28, 28, digit.clone())
            .unwrap()
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let from_png = request(&server.addr, "POST", "/predict", Some("image/png"), &png).json();
        assert_eq!(floats(&from_png["probabilities"]), got);
        let flat: Vec<f64> = digit.iter().map(|&b| b as f64 / 255.0).collect();
        let bare = post_json(
            &server.addr,
            "/predict",
            &json!({ "image": flat, "activations": false }),
        );
        let bare = bare.json();
        assert_eq!(floats(&bare["probabilities"]), got);
        assert_eq!(bare["activations"], json!([]));
    }
}

/// A request the server must refuse: its status and a word of its error.
struct BadRequest {
    status: u16,
    needle: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

impl BadRequest {
    fn new(
        status: u16,
        needle: &'static str,
        method: &'static str,
        path: &'static str,
        body: Vec<u8>,
    ) -> BadRequest {
        BadRequest {
            status,
            needle,
            method,
            path,
            content_type: None,
            body,
        }
    }
}

#[test]
fn bad_requests_get_a_4xx_json_error_and_the_server_keeps_serving() {
    let run = trained("mlp");
    let mut server = ServeProcess::start(&run);
    let mut too_bright = vec![0.0f64; 784];
    too_bright[5] = 1.5;
    let json = |v: Value| v.to_string().into_bytes();
    let post = |needle, body| BadRequest::new(400, needle, "POST", "/predict", body);
    let cases = [
        post("784", json(json!({ "image": [0.5, 0.5] }))),
        post(
            "has more than 784",
            json(json!({ "image": vec![0.0; 900] })),
        ),
        post("has 2 numbers", json(json!({ "image": [0.5, 0.5] }))),
        post("value 5 is 1.5", json(json!({ "image": too_bright }))),
        post("numbers", json(json!({ "image": vec!["x"; 784] }))),
        post("no \\\"image\\\"", json(json!({ "text": "hello" }))),
        post(
            "true or false",
            json(json!({ "image": vec![0.0; 784], "activations": 3 })),
        ),
        post("JSON object", json(json!([1, 2]))),
        post("not JSON", b"{\"image\": [0.1,".to_vec()),
        BadRequest {
            content_type: Some("image/png"),
            ..post("not a readable PNG/JPEG", b"GIF89a not a png".to_vec())
        },
        BadRequest::new(
            413,
            "at most 1048576",
            "POST",
            "/predict",
            vec![b' '; (1 << 20) + 1],
        ),
        BadRequest::new(404, "no such page", "GET", "/nope", Vec::new()),
        BadRequest::new(405, "takes POST", "GET", "/predict", Vec::new()),
        BadRequest::new(405, "takes GET", "POST", "/api/info", b"{}".to_vec()),
    ];
    for case in &cases {
        let r = request(
            &server.addr,
            case.method,
            case.path,
            case.content_type,
            &case.body,
        );
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let needle = case.needle;
        assert_eq!(r.status, case.status, "{needle}: {body}");
        assert_eq!(r.header("content-type"), Some("application/json"), "{body}");
        assert!(r.json()["error"].is_string(), "{body}");
        assert!(body.contains(needle), "{needle:?} not in {body}");
    }
    assert!(server.is_running());
    let ok = post_json(
        &server.addr,
        "/predict",
        &json!({ "image": vec![0.0; 784] }),
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn text_classifiers_classify_what_one_types() {
    for kind in ["bag", "tfidf"] {
        let run = trained(kind);
        let server = ServeProcess::start(&run);
        let info = request(&server.addr, "GET", "/api/info", None, b"").json();
        assert_eq!(info["kind"], "text", "{kind}");
        assert_eq!(
            info["classes"],
            json!(["computers", "politics", "science", "work"])
        );
        let text = "The computer crashed again and the program lost my files.";
        let v = post_json(&server.addr, "/predict", &json!({ "text": text })).json();
        let p = floats(&v["probabilities"]);
        assert_eq!(p.len(), 4, "{kind}: {v}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{kind}: {p:?}");
        let best = v["index"].as_u64().unwrap() as usize;
        assert_eq!(v["class"], info["classes"][best], "{kind}");
        // The same text twice gives the same answer.
        let again = post_json(&server.addr, "/predict", &json!({ "text": text })).json();
        assert_eq!(again, v, "{kind}");
        for (body, status, needle) in [
            (json!({ "text": "   " }), 400, "empty"),
            (json!({ "text": 5 }), 400, "string"),
            (
                json!({ "text": "x".repeat(10_001) }),
                400,
                "10001 characters",
            ),
            (json!({ "image": [0.0] }), 400, "no \\\"text\\\""),
        ] {
            let r = post_json(&server.addr, "/predict", &body);
            assert_eq!(r.status, status, "{kind} {body}");
            assert!(
                String::from_utf8_lossy(&r.body).contains(needle),
                "{kind}: {needle}"
            );
        }
        let png = request(
            &server.addr,
            "POST",
            "/predict",
            Some("image/png"),
            b"\x89PNG",
        );
        assert_eq!(png.status, 415, "{kind}");
    }
}

#[test]
fn a_language_model_continues_a_text() {
    let run = trained("charlm");
    let server = ServeProcess::start(&run);
    let info = request(&server.addr, "GET", "/api/info", None, b"").json();
    assert_eq!(info["kind"], "lm");
    let ask = |len: u64, seed: u64| {
        post_json(
            &server.addr,
            "/predict",
            &json!({ "text": "The program ", "length": len, "seed": seed }),
        )
    };
    let a = ask(40, 7).json();
    let text = a["continuation"].as_str().unwrap();
    assert_eq!(text.chars().count(), 40, "{text:?}");
    // Seeded: the same seed gives the same text (the CLI's `generate` too).
    assert_eq!(ask(40, 7).json(), a);
    let out = torchlet(&[
        "generate",
        "--run",
        run.to_str().unwrap(),
        "--prompt",
        "The program ",
        "--len",
        "40",
        "--seed",
        "7",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        format!("The program {text}")
    );
    for (body, needle) in [
        (
            json!({ "text": "a", "length": 0 }),
            "\"length\" must be 1 to 2000",
        ),
        (
            json!({ "text": "a", "length": 2001 }),
            "\"length\" must be 1 to 2000",
        ),
        (json!({ "text": "a", "temperature": -1 }), "temperature"),
        (json!({ "text": "a", "seed": "x" }), "seed"),
        (json!({ "text": "" }), "empty"),
    ] {
        let r = post_json(&server.addr, "/predict", &body);
        assert_eq!(r.status, 400, "{body}");
        let err = r.json()["error"].as_str().unwrap().to_string();
        assert!(
            err.contains(needle.trim_matches('"')) || err.contains(needle),
            "{needle}: {err}"
        );
    }
}

#[test]
fn serve_refuses_what_it_cannot_show() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let out = torchlet(&["serve", "--run", missing.to_str().unwrap(), "--port", "0"]);
    common::assert_one_line_error(&out, "does not exist");
    // A port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = torchlet(&[
        "serve",
        "--run",
        trained("mlp").to_str().unwrap(),
        "--port",
        &port,
    ]);
    common::assert_one_line_error(&out, "cannot listen on 127.0.0.1:");
}

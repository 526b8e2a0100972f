//! The playground page in a real browser: headless Chromium, driven by
//! ChromeDriver over the W3C WebDriver protocol, loads `torchlet serve`'s
//! page for a trained LeNet-5, draws a "1" with mouse input on the page's
//! canvas, and the test checks the prediction the page shows (against
//! the server's answer for the pixels the page sent, and against the
//! digit drawn), that every layer's activations were drawn, and saves a
//! screenshot in its temporary folder.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them and runs this with `--ignored`); `TORCHLET_CHROMEDRIVER` and
//! `TORCHLET_CHROMIUM` point elsewhere. `TORCHLET_PLAYGROUND_SCREENSHOT`
//! names a file to copy the screenshot to (docs/playground.png is made so).

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{post_json, request, ServeProcess};
use common::{stderr, torchlet};
use serde_json::{json, Value};

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    addr: String,
    session: String,
}

impl Driver {
    fn start() -> Driver {
        let driver =
            std::env::var("TORCHLET_CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
        let chromium = std::env::var("TORCHLET_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{driver}: {e} (install chromium-driver)"));
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1100,1000"],
            },
        }}});
        let mut d = Driver {
            child,
            addr,
            session: String::new(),
        };
        let v = d.call("POST", "/session", Some(caps));
        d.session = v["sessionId"].as_str().expect("a session id").to_string();
        d
    }

    /// One WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = if path.starts_with("/session/") || path == "/session" {
            path.to_string()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let r = request(
            &self.addr,
            method,
            &path,
            Some("application/json"),
            body.as_bytes(),
        );
        let v = r.json();
        assert_eq!(r.status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn find(&self, css: &str) -> Option<String> {
        let body = json!({ "using": "css selector", "value": css }).to_string();
        let path = format!("/session/{}/elements", self.session);
        let r = request(
            &self.addr,
            "POST",
            &path,
            Some("application/json"),
            body.as_bytes(),
        );
        let v = r.json();
        v["value"].as_array()?.first()?[ELEMENT]
            .as_str()
            .map(String::from)
    }

    fn count(&self, css: &str) -> usize {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v.as_array().map_or(0, Vec::len)
    }

    fn text(&self, css: &str) -> Option<String> {
        let id = self.find(css)?;
        self.call("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .map(String::from)
    }

    /// Polls `f` until it gives `Some`, for at most `secs` seconds.
    fn wait<T>(&self, secs: u64, what: &str, mut f: impl FnMut(&Driver) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = std::panic::catch_unwind(|| request(&self.addr, "DELETE", &path, None, b""));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (d as u32) << (18 - 6 * i));
        out.extend(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
#[ignore = "needs Chromium and ChromeDriver (.ci/run installs them and runs it)"]
fn the_page_classifies_a_digit_drawn_with_the_mouse() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("lenet");
    let out = torchlet(&[
        "train",
        "--model",
        "lenet",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let server = ServeProcess::start(&run);
    let info = request(&server.addr, "GET", "/api/info", None, b"").json();
    let layers = info["layers"].as_array().unwrap().len();

    let driver = Driver::start();
    driver.call(
        "POST",
        "/url",
        Some(json!({ "url": format!("http://{}/", server.addr) })),
    );
    let pad = driver.wait(20, "the drawing pad", |d| d.find("#pad"));

    // A "1": one vertical stroke down the middle of the 280x280 pad,
    // as pointer input (offsets from the pad's centre).
    let origin = json!({ ELEMENT: pad });
    let mut actions = vec![
        json!({ "type": "pointerMove", "duration": 0, "origin": origin, "x": 4, "y": -95 }),
        json!({ "type": "pointerDown", "button": 0 }),
    ];
    for step in 1..=19 {
        actions.push(json!({ "type": "pointerMove", "duration": 20, "origin": origin, "x": 4 - step / 5, "y": -95 + 10 * step }));
    }
    actions.push(json!({ "type": "pointerUp", "button": 0 }));
    driver.call("POST", "/actions", Some(json!({ "actions": [{
        "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" }, "actions": actions,
    }]})));

    // The page's answer for the finished stroke: it settles once the
    // last request (sent on pointerup) has come back.
    let pixels = driver.call(
        "POST",
        "/execute/sync",
        Some(json!({ "script": "return digitPixels(document.getElementById('pad'), 28, 28);", "args": [] })),
    );
    assert_eq!(pixels.as_array().map(Vec::len), Some(784), "{pixels}");
    let lit = pixels
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.as_f64().unwrap() > 0.5)
        .count();
    assert!(
        (20..200).contains(&lit),
        "{lit} bright pixels: the stroke did not land on the pad"
    );
    let answer = post_json(
        &server.addr,
        "/predict",
        &json!({ "image": pixels, "activations": false }),
    )
    .json();
    let want = answer["class"].as_str().unwrap().to_string();
    let shown = driver.wait(20, "the prediction of the whole stroke", |d| {
        d.text("#predicted").filter(|t| *t == want)
    });
    assert_eq!(shown, "1", "a vertical stroke read as {shown}: {answer}");
    // Ten probability bars, the highest marked, and every layer drawn.
    assert_eq!(driver.count(".bar-row"), 10);
    assert_eq!(driver.count(".bar-row.best"), 1);
    assert_eq!(driver.count(".layer"), layers);
    assert!(
        driver.count(".maps canvas") > layers,
        "feature maps drawn per channel"
    );
    assert_eq!(driver.text("#error").unwrap_or_default(), "");

    let png = base64_decode(driver.call("GET", "/screenshot", None).as_str().unwrap());
    let shot = image::load_from_memory(&png).expect("the screenshot is a PNG");
    assert!(
        shot.width() >= 800 && shot.height() >= 600,
        "{}x{}",
        shot.width(),
        shot.height()
    );
    let path = dir.path().join("playground.png");
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.display());
    if let Ok(copy) = std::env::var("TORCHLET_PLAYGROUND_SCREENSHOT") {
        std::fs::write(&copy, &png).unwrap();
    }
}

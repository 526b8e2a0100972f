//! `torchlet serve --run DIR [--port N]`: a playground page for a trained
//! run. For an MNIST run one draws a digit and sees the prediction, the
//! class probabilities and every layer's activations update while
//! drawing; for a fortunes run, a text box classifies what one types (a
//! char-LM run continues it).
//!
//! Endpoints (JSON in and out; errors are `{"error": "..."}` with a 4xx
//! status, and the server keeps serving):
//! - `GET /`: the page.
//! - `GET /api/info`: the run's kind (`image`, `text`, `lm`), model,
//!   classes, input size and layer names.
//! - `POST /predict`: `{"image": [784 numbers in [0, 1]]}` (white on
//!   black, flat or 28 rows; `"activations": false` leaves the layers
//!   out), a PNG/JPEG body (`Content-Type: image/png`), or
//!   `{"text": "..."}` (a char-LM run also takes `length`,
//!   `temperature`, `seed`). Bodies over 1 MiB are refused (413).

mod served;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

pub use served::{ApiError, Served, MAX_CONTINUATION, MAX_TEXT_CHARS};

use crate::run::{BoxError, Msg};

/// The largest request body read, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// The page, with its script and style inline.
const PAGE: &str = include_str!("serve/page.html");

/// `torchlet serve` options.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The run folder `torchlet train` wrote (an MNIST or fortunes run).
    #[arg(long)]
    pub run: PathBuf,
    /// The port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// The address to bind (127.0.0.1: this machine only).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
}

/// Runs the server until the process is stopped.
pub fn serve(args: &ServeArgs) -> Result<(), BoxError> {
    let served = Served::load(&args.run)?;
    let addr = SocketAddr::new(args.host, args.port);
    let server = Server::http(addr).map_err(|e| Msg(format!("cannot listen on {addr}: {e}")))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| Msg("the server has no IP address".into()))?;
    let info = served.info();
    println!(
        "serving {} ({} model) at http://{bound}/ (Ctrl-C stops)",
        args.run.display(),
        info["model"].as_str().unwrap_or("?")
    );
    std::io::stdout().flush()?;
    for request in server.incoming_requests() {
        handle(&served, request);
    }
    Ok(())
}

/// Answers one request; a failed reply (the client left) is dropped.
fn handle(served: &Served, mut request: Request) {
    let reply = route(served, &mut request);
    let _ = match reply {
        Ok(Reply::Page) => request
            .respond(Response::from_string(PAGE).with_header(header("text/html; charset=utf-8"))),
        Ok(Reply::Json(v)) => request.respond(json_response(200, &v)),
        Err(e) => request.respond(json_response(e.status, &json!({ "error": e.message }))),
    };
}

enum Reply {
    Page,
    Json(Value),
}

fn route(served: &Served, request: &mut Request) -> Result<Reply, ApiError> {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let method = request.method().clone();
    let (page, allowed) = match path.as_str() {
        "/" | "/index.html" => (Page::Playground, Method::Get),
        "/api/info" => (Page::Info, Method::Get),
        "/predict" => (Page::Predict, Method::Post),
        _ => {
            return Err(ApiError {
                status: 404,
                message: format!(
                    "no such page {path} (the page is /, the API /api/info and /predict)"
                ),
            })
        }
    };
    if method != allowed {
        return Err(ApiError {
            status: 405,
            message: format!("{path} takes {allowed}, not {method}"),
        });
    }
    match page {
        Page::Playground => Ok(Reply::Page),
        Page::Info => Ok(Reply::Json(served.info())),
        Page::Predict => {
            let content_type = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Content-Type"))
                .map(|h| h.value.as_str().to_ascii_lowercase())
                .unwrap_or_default();
            let body = read_body(request)?;
            if content_type.starts_with("image/") {
                served.predict_image_file(&body).map(Reply::Json)
            } else {
                let value: Value = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::bad(format!("the body is not JSON: {e}")))?;
                served.predict_json(&value).map(Reply::Json)
            }
        }
    }
}

/// What a path names.
enum Page {
    /// The playground's HTML.
    Playground,
    /// `GET /api/info`.
    Info,
    /// `POST /predict`.
    Predict,
}

/// The body, refused past [`MAX_BODY`] bytes whether the client said its
/// length or not.
fn read_body(request: &mut Request) -> Result<Vec<u8>, ApiError> {
    let too_large = |n: String| ApiError {
        status: 413,
        message: format!("the body has {n} bytes, at most {MAX_BODY} are read"),
    };
    if let Some(n) = request.body_length().filter(|&n| n > MAX_BODY) {
        return Err(too_large(n.to_string()));
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::bad(format!("reading the body failed: {e}")))?;
    if body.len() > MAX_BODY {
        return Err(too_large("more than that".into()));
    }
    Ok(body)
}

fn header(content_type: &str) -> Header {
    Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes())
        .expect("a content type is a valid header")
}

fn json_response(status: u16, v: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_data(v.to_string().into_bytes())
        .with_status_code(status)
        .with_header(header("application/json"))
}

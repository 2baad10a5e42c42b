//! ESP-IDF's `restful_server` example on httpd: a small web UI compiled into the binary
//! (gzipped) beside a JSON API.
//!
//! - `GET /api/v1/system/info`: `{"version": "...", "cores": N}`.
//! - `GET /api/v1/temp/raw`: `{"raw": N}`, a pretend sensor reading (0..20).
//! - `POST /api/v1/light/brightness`: `{"red": R, "green": G, "blue": B}`, each an integer
//!   0..=255; anything else is 400 with `{"error": "..."}` (a body over 1 KiB: 413).
//! - Any other `/api/...`: 404 with a JSON error.
//! - Everything else: the UI (`index.html`, `app.js`, `style.css`), from `.gz` assets compiled
//!   in with `include_bytes!` and sent with `Content-Encoding: gzip`; paths that find no asset
//!   get `index.html` (the app's own routes, such as `/light`, are a single-page app's).
//!   The UI is only compiled in gzipped, so a client that does not accept gzip gets 404.
//!
//! The assets' sources are in `examples/assets/restful_server/`; after changing one, run
//! `gzip -9 -n -k -f FILE` there (the `restful_server` tests check that each `.gz` holds its
//! source).
//!
//! ```text
//! cargo run --example restful_server -- --port 8080
//! curl http://127.0.0.1:8080/api/v1/system/info
//! curl -d '{"red":1,"green":2,"blue":3}' http://127.0.0.1:8080/api/v1/light/brightness
//! ```
//!
//! Stop it with Ctrl-C.

mod common;

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use httpd::{Assets, Config, Error, Handler, Method, Request, Server, StaticFiles, UriMatch};
use log::info;
use serde_json::{json, Value};

/// The UI, gzipped, inside the executable.
static UI: &[(&str, &[u8])] = &[
    (
        "index.html.gz",
        include_bytes!("assets/restful_server/index.html.gz"),
    ),
    (
        "app.js.gz",
        include_bytes!("assets/restful_server/app.js.gz"),
    ),
    (
        "style.css.gz",
        include_bytes!("assets/restful_server/style.css.gz"),
    ),
];

fn send_json(req: &mut Request<'_>, status: &str, value: &Value) -> Result<(), Error> {
    req.set_status(status)?;
    req.set_type("application/json")?;
    req.send_str(&value.to_string())
}

fn system_info(req: &mut Request<'_>) -> Result<(), Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let info = json!({ "version": concat!("httpd ", env!("CARGO_PKG_VERSION")), "cores": cores });
    send_json(req, "200 OK", &info)
}

fn temperature(req: &mut Request<'_>) -> Result<(), Error> {
    // ESP-IDF's example reads `esp_random() % 20`; the clock's nanoseconds will do here.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    send_json(req, "200 OK", &json!({ "raw": nanos % 20 }))
}

/// The colour in a brightness request, or why it is refused.
fn parse_light(body: &[u8]) -> Result<[u8; 3], String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = value.as_object().ok_or("expected a JSON object")?;
    let mut rgb = [0u8; 3];
    for (slot, name) in rgb.iter_mut().zip(["red", "green", "blue"]) {
        let v = obj.get(name).ok_or(format!("missing \"{name}\""))?;
        *slot = v
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or(format!("\"{name}\" must be an integer from 0 to 255"))?;
    }
    Ok(rgb)
}

fn brightness(req: &mut Request<'_>) -> Result<(), Error> {
    let body = match req.read_body(1024) {
        Ok(body) => body,
        Err(Error::BodyTooLarge) => {
            let err = json!({ "error": "body over 1024 bytes" });
            req.set_header("Connection", "close")?;
            return send_json(req, "413 Content Too Large", &err);
        }
        Err(e) => return Err(e),
    };
    match parse_light(&body) {
        Ok([r, g, b]) => {
            info!("Light control: red = {r}, green = {g}, blue = {b}");
            send_json(req, "200 OK", &json!({ "red": r, "green": g, "blue": b }))
        }
        Err(msg) => send_json(req, "400 Bad Request", &json!({ "error": msg })),
    }
}

fn start(port: &u16) -> Result<Server, Error> {
    let config = Config::builder().port(*port).build()?;
    let server = Server::start(config)?;
    server.register(Handler::new(
        "/api/v1/system/info",
        Method::Get,
        system_info,
    ))?;
    server.register(Handler::new("/api/v1/temp/raw", Method::Get, temperature))?;
    server.register(Handler::new(
        "/api/v1/light/brightness",
        Method::Post,
        brightness,
    ))?;
    server.register(
        Handler::new("/api/*", Method::Any, |req| {
            send_json(
                req,
                "404 Not Found",
                &json!({ "error": "no such endpoint" }),
            )
        })
        .with_match(UriMatch::Wildcard),
    )?;
    let ui = StaticFiles::embedded(Assets::new(UI))
        .fallback("index.html")
        .cache_control("no-cache");
    server.register(ui.handler("/*")?)?;
    Ok(server)
}

fn main() -> ExitCode {
    common::main(
        || common::port_only("usage: restful_server [--port N]"),
        start,
    )
}

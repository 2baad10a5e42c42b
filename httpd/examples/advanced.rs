//! A server for black-box and load testing, after ESP-IDF's `advanced_tests` example.
//!
//! Routes:
//! - `GET /hello`: "Hello World!"; `GET /hello/type_html`: the same as text/html;
//!   `GET /hello/status_500`: status 500 with body "Hello World!"
//! - `GET /test_header`: 400 unless `Header1: Value1` and `Header3: Value3`; the body is the value
//!   of `Header2`
//! - `POST|PUT /echo`: answers the whole body, copying a request header `Custom` into the
//!   response; a body larger than `--max-body` is refused with 413
//! - `POST /leftover_data`: reads at most 10 bytes of the body and answers them (the server
//!   drains the rest)
//! - `POST /adder`: adds the body's number to a per-session sum and answers it
//! - `GET /async_data`: answers "Hello World!", then queued work sends a second complete
//!   response, "Hello Double World!", on the same session
//! - `GET /plaintext`: "Hello, World!" as text/plain, for load tests
//! - `GET /slow?ms=N`: answers "done" after N ms (default 200) of work, on a worker
//!   (`Handler::blocking`), while every other client is served
//!
//! Bodies larger than 16 KiB (the `/echo` uploads) are read by their handlers on the worker
//! pool, so a client that stalls or trickles its upload holds up no one else; `--workers 0`
//! runs every handler on the server thread, as ESP-IDF does, and `--handlers-on-pool` every
//! handler on the pool.
//!
//! ```text
//! cargo run --release --example advanced -- --port 8080 --max-sessions 7 --lru \
//!     --recv-timeout 5 --max-uri-len 512 --max-hdr-len 1024 --max-body 1048576
//! ```
//!
//! Without a flag, a setting keeps httpd's host default (`Config::builder()`); the line above
//! gives ESP-IDF's values. Ctrl-C shuts it down gracefully.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use httpd::{Config, ConfigBuilder, Error, ErrorCode, Handler, Method, Request, Server};
use log::info;

/// Command-line settings; `None` keeps the host default.
struct Args {
    port: u16,
    max_sessions: Option<usize>,
    lru: bool,
    recv_timeout: Option<u64>,
    max_uri_len: Option<usize>,
    max_hdr_len: Option<usize>,
    max_body: usize,
    workers: Option<usize>,
    handlers_on_pool: bool,
}

const USAGE: &str = "usage: advanced [--port N] [--max-sessions N] [--lru] [--recv-timeout SECS] \
[--max-uri-len N] [--max-hdr-len N] [--max-body BYTES] [--workers N] [--handlers-on-pool]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 8080,
        max_sessions: None,
        lru: false,
        recv_timeout: None,
        max_uri_len: None,
        max_hdr_len: None,
        max_body: 1024 * 1024,
        workers: None,
        handlers_on_pool: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("invalid {name} {v:?}"))
        }
        match arg.as_str() {
            "--port" => args.port = num("--port", value("--port")?)?,
            "--max-sessions" => {
                args.max_sessions = Some(num("--max-sessions", value("--max-sessions")?)?)
            }
            "--lru" => args.lru = true,
            "--recv-timeout" => {
                args.recv_timeout = Some(num("--recv-timeout", value("--recv-timeout")?)?)
            }
            "--max-uri-len" => {
                args.max_uri_len = Some(num("--max-uri-len", value("--max-uri-len")?)?)
            }
            "--max-hdr-len" => {
                args.max_hdr_len = Some(num("--max-hdr-len", value("--max-hdr-len")?)?)
            }
            "--max-body" => args.max_body = num("--max-body", value("--max-body")?)?,
            "--workers" => args.workers = Some(num("--workers", value("--workers")?)?),
            "--handlers-on-pool" => args.handlers_on_pool = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn config(args: &Args) -> ConfigBuilder {
    let mut b = Config::builder()
        .port(args.port)
        .lru_purge_enable(args.lru)
        .handlers_on_pool(args.handlers_on_pool);
    if let Some(n) = args.workers {
        b = b.worker_threads(n);
    }
    if let Some(n) = args.max_sessions {
        b = b.max_open_sockets(n);
    }
    if let Some(secs) = args.recv_timeout {
        b = b.recv_wait_timeout(Duration::from_secs(secs));
    }
    if let Some(n) = args.max_uri_len {
        b = b.max_uri_len(n);
    }
    if let Some(n) = args.max_hdr_len {
        b = b.max_req_hdr_len(n);
    }
    b
}

/// `GET /slow?ms=N`: N ms (default 200, at most 10 s) of work before answering.
fn slow(req: &mut Request<'_>) -> Result<(), Error> {
    let ms: u64 = req
        .query_value("ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .min(10_000);
    std::thread::sleep(Duration::from_millis(ms));
    req.send_str("done")
}

fn test_header(req: &mut Request<'_>) -> Result<(), Error> {
    if req.header("Header1") != Some("Value1") || req.header("Header3") != Some("Value3") {
        return req.send_err(
            ErrorCode::BadRequest,
            Some("Header1 and Header3 are required"),
        );
    }
    let value = req.header("Header2").unwrap_or_default().to_owned();
    req.send_str(&value)
}

fn echo(req: &mut Request<'_>, max_body: usize) -> Result<(), Error> {
    if req.content_length().is_some_and(|n| n > max_body as u64) {
        // Refused before reading: the server answers 413 and closes.
        return Err(Error::BodyTooLarge);
    }
    let body = req.read_body(max_body)?;
    if let Some(custom) = req.header("Custom").map(str::to_owned) {
        req.set_header("Custom", &custom)?;
    }
    req.send(&body)
}

fn leftover_data(req: &mut Request<'_>) -> Result<(), Error> {
    let mut buf = [0u8; 10];
    let mut n = 0;
    while n < buf.len() {
        match req.recv(&mut buf[n..])? {
            0 => break,
            got => n += got,
        }
    }
    req.send(&buf[..n])
}

fn adder(req: &mut Request<'_>) -> Result<(), Error> {
    let body = req.read_body(32)?;
    let Some(n) = std::str::from_utf8(&body)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    else {
        return req.send_err(ErrorCode::BadRequest, Some("The body must be a number"));
    };
    let sum = req.session_ctx_or_insert_with(|| 0i64);
    *sum = sum.saturating_add(n);
    let reply = sum.to_string();
    req.send_str(&reply)
}

fn async_data(req: &mut Request<'_>) -> Result<(), Error> {
    req.send_str("Hello World!")?;
    let id = req.session_id();
    let server = req.server().ok_or(Error::Stopped)?;
    // Runs on the server thread after this response, as ESP-IDF's httpd_queue_work.
    server.queue_work(move |ctx| {
        let second = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 19\r\n\r\nHello Double World!";
        if let Err(e) = ctx.send(id, second.as_bytes()) {
            info!("/async_data: session {id} gone: {e}");
        }
    })
}

fn start(args: &Args) -> Result<Server, Error> {
    info!("Starting server on port: '{}'", args.port);
    let server = Server::start(config(args).build()?)?;
    let max_body = args.max_body;
    let handlers = [
        Handler::new("/hello", Method::Get, |req| req.send_str("Hello World!")),
        Handler::new("/hello/type_html", Method::Get, |req| {
            req.set_type("text/html")?;
            req.send_str("Hello World!")
        }),
        Handler::new("/hello/status_500", Method::Get, |req| {
            req.set_status("500 Internal Server Error")?;
            req.send_str("Hello World!")
        }),
        Handler::new("/test_header", Method::Get, test_header),
        Handler::new("/echo", Method::Post, move |req| echo(req, max_body)),
        Handler::new("/echo", Method::Put, move |req| echo(req, max_body)),
        Handler::new("/leftover_data", Method::Post, leftover_data),
        Handler::new("/adder", Method::Post, adder),
        Handler::new("/async_data", Method::Get, async_data),
        Handler::new("/slow", Method::Get, slow).blocking(),
        Handler::new("/plaintext", Method::Get, |req| {
            req.set_type("text/plain")?;
            req.send_str("Hello, World!")
        }),
    ];
    for handler in handlers {
        server.register(handler)?;
    }
    Ok(server)
}

fn main() -> ExitCode {
    common::main(parse_args, start)
}

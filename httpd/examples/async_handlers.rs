//! Async handlers, after ESP-IDF's `async_handlers` example: slow requests are detached and
//! answered by a pool of worker threads, so the server keeps answering everyone else.
//!
//! - `GET /long`: handed to a free worker, which streams 60 chunks, one every `--tick-ms`
//!   (default 1000), starting with "req: N" (this connection's request count); when no worker
//!   is free it answers "503 Busy" at once
//! - `GET /quick`: answers at once, even while `/long` requests run
//! - `GET /`: an index page
//!
//! ```text
//! cargo run --example async_handlers -- --port 8080 --tick-ms 1000
//! ```
//!
//! Ctrl-C shuts it down gracefully (requests in progress finish).

mod common;

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use httpd::{AsyncRequest, Config, Error, Handler, Method, Request, Server};
use log::{error, info};

const WORKERS: usize = 2;
const CHUNKS: usize = 60;

const INDEX: &str = "<!DOCTYPE html>
<html><head><title>httpd async handlers</title></head>
<body>
<h1>Async handlers</h1>
<p><a href=\"/long\">/long</a>: a slow response streamed by one of two workers
(a third concurrent one gets 503 Busy).</p>
<p><a href=\"/quick\">/quick</a>: answered at once, even while /long requests run.</p>
</body></html>
";

/// Jobs for the workers, and how many of them are waiting for one.
struct Pool {
    jobs: Mutex<mpsc::Sender<(AsyncRequest, u64)>>,
    idle: Arc<AtomicUsize>,
}

impl Pool {
    fn start(tick: Duration) -> Pool {
        let (tx, rx) = mpsc::channel::<(AsyncRequest, u64)>();
        let rx = Arc::new(Mutex::new(rx));
        let idle = Arc::new(AtomicUsize::new(WORKERS));
        for n in 0..WORKERS {
            let rx = Arc::clone(&rx);
            let idle = Arc::clone(&idle);
            thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || loop {
                    let job = rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((detached, count))) = job else {
                        return; // the server is gone
                    };
                    if let Err(e) = long(detached, count, tick) {
                        info!("worker-{n}: /long ended early: {e}");
                    }
                    idle.fetch_add(1, Ordering::AcqRel);
                })
                .expect("spawning a worker");
        }
        Pool {
            jobs: Mutex::new(tx),
            idle,
        }
    }

    /// Takes a worker if one is free.
    fn reserve(&self) -> bool {
        self.idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// The worker's side of `/long`.
fn long(mut detached: AsyncRequest, count: u64, tick: Duration) -> Result<(), Error> {
    let mut req = detached.request()?;
    req.set_type("text/plain")?;
    req.send_chunk(format!("req: {count}\n"))?;
    for i in 1..CHUNKS {
        thread::sleep(tick); // the slow work this example stands for
        req.send_chunk(format!("chunk {i}\n"))?;
    }
    req.send_chunk("")
}

fn long_handler(req: &mut Request<'_>, pool: &Pool) -> Result<(), Error> {
    let count = {
        let n = req.session_ctx_or_insert_with(|| 0u64);
        *n += 1;
        *n
    };
    if !pool.reserve() {
        req.set_status("503 Busy")?;
        return req.send_str("All workers are busy; try again later.");
    }
    let detached = req.detach()?;
    let sent = pool
        .jobs
        .lock()
        .is_ok_and(|jobs| jobs.send((detached, count)).is_ok());
    if !sent {
        pool.idle.fetch_add(1, Ordering::AcqRel);
        // The request was moved into the failed send and dropped: it is answered 500.
        error!("/long: the worker pool is gone");
    }
    Ok(())
}

fn parse_args() -> Result<(u16, u64), String> {
    let (mut port, mut tick_ms) = (8080, 1000);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => port = value("--port")?.parse().map_err(|_| "invalid --port")?,
            "--tick-ms" => {
                tick_ms = value("--tick-ms")?
                    .parse()
                    .map_err(|_| "invalid --tick-ms")?
            }
            _ => return Err("usage: async_handlers [--port N] [--tick-ms MS]".to_owned()),
        }
    }
    Ok((port, tick_ms))
}

fn start(port: u16, tick: Duration) -> Result<Server, Error> {
    info!("Starting server on port: '{port}'");
    let server = Server::start(Config::builder().port(port).build()?)?;
    let pool = Pool::start(tick);
    server.register(Handler::new("/long", Method::Get, move |req| {
        long_handler(req, &pool)
    }))?;
    server.register(Handler::new("/quick", Method::Get, |req| {
        req.set_type("text/plain")?;
        req.send_str("quick")
    }))?;
    server.register(Handler::new("/", Method::Get, |req| req.send_str(INDEX)))?;
    Ok(server)
}

fn main() -> ExitCode {
    common::main(parse_args, |&(port, tick_ms)| {
        start(port, Duration::from_millis(tick_ms))
    })
}

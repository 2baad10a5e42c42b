//! The httpd bench server: the library on its host defaults.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use httpd::{Config, ConfigBuilder, Handler, Method, Server, StaticFiles};

/// Serves `GET /plaintext` on 127.0.0.1:`port` until the process is killed, and the
/// directory `HTTPD_BENCH_FILES` names (if set) under `/files/`.
///
/// The host defaults hold the loads (4,096 sessions, a backlog of 1,024); only the idle
/// timeout is raised, past any idle measurement.
pub(crate) fn run(port: u16) -> io::Result<()> {
    run_with(port, |b| b)
}

/// [`run`] with `more` applied to the configuration (the TLS server adds its certificate).
pub(crate) fn run_with(
    port: u16,
    more: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> io::Result<()> {
    // The pool benchmark runs the server without its worker pool too.
    let workers: Option<usize> = std::env::var("HTTPD_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut builder = Config::builder()
        .bind_addr(Ipv4Addr::LOCALHOST.into())
        .port(port)
        .idle_timeout(Some(Duration::from_secs(900)));
    if let Some(n) = workers {
        builder = builder.worker_threads(n);
    }
    let config = more(builder).build().map_err(io::Error::other)?;
    let server = Server::start(config).map_err(io::Error::other)?;
    server
        .register(Handler::new("/plaintext", Method::Get, |req| {
            req.set_type("text/plain")?;
            req.send_str("Hello, World!")
        }))
        .map_err(io::Error::other)?;
    // The pool benchmark: a handler doing ~50 us of computation (on a worker when there is
    // a pool), and uploads read with `recv` (on a worker: bodies past the buffer).
    server
        .register(Handler::new("/work", Method::Get, |req| req.send_str(&work())).blocking())
        .map_err(io::Error::other)?;
    server
        .register(Handler::new("/upload", Method::Post, |req| {
            let mut buf = [0u8; 16 * 1024];
            let mut total = 0usize;
            loop {
                match req.recv(&mut buf)? {
                    0 => break,
                    n => total += n,
                }
            }
            req.set_type("text/plain")?;
            req.send_str(&total.to_string())
        }))
        .map_err(io::Error::other)?;
    // The files benchmark: the directory named by HTTPD_BENCH_FILES under /files/.
    if let Some(dir) = std::env::var_os("HTTPD_BENCH_FILES") {
        let files = StaticFiles::new(dir)?;
        server
            .register(files.handler("/files/*").map_err(io::Error::other)?)
            .map_err(io::Error::other)?;
    }
    // The server thread does the work; this one only keeps the handle alive.
    loop {
        std::thread::park();
    }
}

/// Hash rounds in ~50 us of computation on the reference machine (2-core AMD EPYC VM:
/// 40,000 rounds measured 55-56 us). A fixed count, so every run and every thread does the
/// same work, however it is scheduled.
const WORK_ROUNDS: u64 = 36_000;

/// About 50 us of computation; returns the hash, so the work cannot be optimised away.
fn work() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..WORK_ROUNDS {
        h = (h ^ i).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:016x}", std::hint::black_box(h))
}

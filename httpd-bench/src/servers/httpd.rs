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
    let config = more(
        Config::builder()
            .bind_addr(Ipv4Addr::LOCALHOST.into())
            .port(port)
            .idle_timeout(Some(Duration::from_secs(900))),
    )
    .build()
    .map_err(io::Error::other)?;
    let server = Server::start(config).map_err(io::Error::other)?;
    server
        .register(Handler::new("/plaintext", Method::Get, |req| {
            req.set_type("text/plain")?;
            req.send_str("Hello, World!")
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

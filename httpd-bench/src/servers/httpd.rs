//! The httpd bench server: the library with limits raised for the benchmark's loads.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use httpd::{Config, ConfigBuilder, Handler, Method, Server};

/// Serves `GET /plaintext` on 127.0.0.1:`port` until the process is killed.
///
/// Raised from ESP-IDF's defaults so the loads fit: 1,100 sessions (500 wrk connections, 1,000
/// idle ones), a backlog the size of the other servers' (a burst of 500 connects must not
/// meet SYN retries), and an idle timeout longer than any idle measurement.
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
            .max_open_sockets(1100)
            .backlog_conn(1024)
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
    // The server thread does the work; this one only keeps the handle alive.
    loop {
        std::thread::park();
    }
}

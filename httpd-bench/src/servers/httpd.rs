//! The httpd bench server: the library with limits raised for the benchmark's loads.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use httpd::{Config, Handler, Method, Server, StaticFiles};

/// Serves `GET /plaintext` on 127.0.0.1:`port` until the process is killed, and the
/// directory `HTTPD_BENCH_FILES` names (if set) under `/files/`.
///
/// Raised from ESP-IDF's defaults so the loads fit: 1,100 sessions (500 wrk connections, 1,000
/// idle ones), a backlog the size of the other servers' (a burst of 500 connects must not
/// meet SYN retries), and an idle timeout longer than any idle measurement.
pub(crate) fn run(port: u16) -> io::Result<()> {
    let config = Config::builder()
        .bind_addr(Ipv4Addr::LOCALHOST.into())
        .port(port)
        .max_open_sockets(1100)
        .backlog_conn(1024)
        .idle_timeout(Some(Duration::from_secs(900)))
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

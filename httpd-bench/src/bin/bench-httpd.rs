//! Bench server: httpd (the library under test), answering `GET /plaintext` with "Hello, World!" on
//! 127.0.0.1. Usage: `bench-httpd --port P`. Started, pinned and killed by the
//! `httpd-bench` harness; a binary of its own so its size and memory are its own.

#[path = "../servers/port.rs"]
mod port;
#[path = "../servers/httpd.rs"]
mod server;

fn main() -> std::io::Result<()> {
    server::run(port::from_args(std::env::args().skip(1))?)
}

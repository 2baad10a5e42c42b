//! Bench server: tiny_http, answering `GET /plaintext` with "Hello, World!" on
//! 127.0.0.1. Usage: `bench-tiny-http --port P`. Started, pinned and killed by the
//! `httpd-bench` harness; a binary of its own so its size and memory are its own.

#[path = "../servers/port.rs"]
mod port;
#[path = "../servers/tiny.rs"]
mod server;

fn main() -> std::io::Result<()> {
    server::run(port::from_args(std::env::args().skip(1))?)
}

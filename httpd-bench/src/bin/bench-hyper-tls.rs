//! Bench server: hyper 1.x over tokio-rustls, answering `GET /plaintext` on 127.0.0.1.
//! Usage: `bench-hyper-tls --port P --cert PEM --key PEM`. Started, pinned and killed by
//! `httpd-bench tls`.

#[allow(dead_code)] // only its handler is used here
#[path = "../servers/hyper.rs"]
mod hyper;
#[path = "../servers/hyper_tls.rs"]
mod server;
#[path = "../servers/tls_args.rs"]
mod tls_args;

fn main() -> std::io::Result<()> {
    server::run(tls_args::from_args(std::env::args().skip(1))?)
}

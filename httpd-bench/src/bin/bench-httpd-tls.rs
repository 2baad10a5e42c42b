//! Bench server: httpd over TLS (feature `tls`), answering `GET /plaintext` on 127.0.0.1.
//! Usage: `bench-httpd-tls --port P --cert PEM --key PEM`. Started, pinned and killed by
//! `httpd-bench tls`.

#[allow(dead_code)] // its plain `run` is not used here
#[path = "../servers/httpd.rs"]
mod httpd;
#[path = "../servers/httpd_tls.rs"]
mod server;
#[path = "../servers/tls_args.rs"]
mod tls_args;

fn main() -> std::io::Result<()> {
    server::run(tls_args::from_args(std::env::args().skip(1))?)
}

//! ESP-IDF's `captive_portal` example on httpd (its HTTP side; the DNS server that sends every
//! name to the device is not part of it): the portal page at `/`, and a custom 404 error
//! handler that answers every other URI with `302 Found` to the portal, which is what makes
//! phones and laptops show it.
//!
//! ```text
//! cargo run --example captive_portal -- --port 8080
//! curl -i http://127.0.0.1:8080/generate_204      # 302, Location: /
//! ```
//!
//! Stop it with Ctrl-C.

mod common;

use std::process::ExitCode;

use httpd::{Config, Error, ErrorCode, Handler, Method, Server};
use log::info;

const PORTAL: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Captive portal</title></head><body><h1>Captive portal</h1>\
<p>Hello from the portal page. Every other address leads here.</p></body></html>";

fn start(port: &u16) -> Result<Server, Error> {
    let config = Config::builder().port(*port).build()?;
    let server = Server::start(config)?;
    server.register(Handler::new("/", Method::Get, |req| req.send_str(PORTAL)))?;
    server.register_err_handler(ErrorCode::NotFound, |req, _| {
        info!("Redirecting {} to the portal", req.uri());
        req.set_status("302 Found")?;
        req.set_header("Location", "/")?;
        // iOS needs content in the redirect to show the portal.
        req.send_str("Redirect to the captive portal")
    })?;
    Ok(server)
}

fn main() -> ExitCode {
    common::main(
        || common::port_only("usage: captive_portal [--port N]"),
        start,
    )
}

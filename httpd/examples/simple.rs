//! ESP-IDF's simple HTTP server example on httpd.
//!
//! - `GET /hello` logs some request headers and query parameters and answers "Hello World!"
//!   with two custom headers.
//! - `POST /echo` streams the request body back as a chunked response, 100 bytes at a time.
//! - `PUT /ctrl` with body `0` unregisters `/hello` and `/echo` and installs a custom 404
//!   handler; any other body registers them again and restores the default 404 page.
//! - `/any` answers every method with the method's name.
//!
//! ```text
//! cargo run --example simple -- --port 8080
//! curl -v 'http://127.0.0.1:8080/hello?query1=a' -H 'Test-Header-1: x'
//! curl --data-binary @Cargo.toml http://127.0.0.1:8080/echo
//! curl -X PUT -d 0 http://127.0.0.1:8080/ctrl
//! ```
//!
//! Ctrl-C shuts it down gracefully (requests in progress finish).

mod common;

use std::process::ExitCode;

use httpd::{Config, Error, ErrorCode, Handler, Method, Request, Server};
use log::info;

/// `GET /hello`: logs request headers and query parameters, answers with custom headers.
fn hello(req: &mut Request<'_>) -> Result<(), Error> {
    for name in ["Host", "Test-Header-2", "Test-Header-1"] {
        if let Some(value) = req.header(name) {
            info!("Found header => {name}: {value}");
        }
    }
    if let Some(query) = req.query() {
        info!("Found URL query => {query}");
        for key in ["query1", "query3", "query2"] {
            if let Some(value) = req.query_value(key) {
                info!("Found URL query parameter => {key}={value}");
            }
        }
    }
    req.set_header("Custom-Header-1", "Custom-Value-1")?;
    req.set_header("Custom-Header-2", "Custom-Value-2")?;
    req.send_str("Hello World!")
}

/// `POST /echo`: sends the body back as it arrives, one chunk per read of at most 100 bytes.
fn echo(req: &mut Request<'_>) -> Result<(), Error> {
    let mut buf = [0u8; 100];
    loop {
        let n = req.recv(&mut buf)?;
        if n == 0 {
            break;
        }
        req.send_chunk(&buf[..n])?;
        info!("=========== RECEIVED DATA ==========");
        info!("{}", String::from_utf8_lossy(&buf[..n]));
        info!("====================================");
    }
    // An empty chunk ends the response.
    req.send_chunk(b"")
}

/// `/any`: answers every method with its name.
fn any(req: &mut Request<'_>) -> Result<(), Error> {
    let method = req.method();
    info!("/any called with {method}");
    req.set_type("text/plain")?;
    req.send_str(method.as_str())
}

/// The custom 404 handler installed by `PUT /ctrl` with body `0`.
fn not_found(req: &mut Request<'_>, code: ErrorCode) -> Result<(), Error> {
    match req.path() {
        "/hello" => {
            req.send_err(code, Some("/hello URI is not available"))?;
            // Keep the connection open.
            Ok(())
        }
        "/echo" => {
            // Close the connection: `Err` does it; the header tells the client first.
            req.set_header("Connection", "close")?;
            req.send_err(code, Some("/echo URI is not available"))?;
            Err(Error::handler(
                "closing the connection after a 404 for /echo",
            ))
        }
        _ => {
            req.set_header("Connection", "close")?;
            req.send_err(code, Some("Some 404 error message"))?;
            Err(Error::handler("closing the connection after a 404"))
        }
    }
}

/// Registers `/hello` and `/echo`; "already registered" is fine.
fn register_hello_and_echo(server: &Server) -> Result<(), Error> {
    for handler in [
        Handler::new("/hello", Method::Get, hello),
        Handler::new("/echo", Method::Post, echo),
    ] {
        match server.register(handler) {
            Ok(()) | Err(Error::HandlerExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `PUT /ctrl`: body `0` takes `/hello` and `/echo` away, anything else brings them back.
fn ctrl(req: &mut Request<'_>) -> Result<(), Error> {
    let body = req.read_body(16)?;
    // Only while the server is being dropped is there no server to change.
    let server = req.server().ok_or(Error::Stopped)?;
    if body.trim_ascii() == b"0" {
        info!("Unregistering /hello and /echo URIs");
        for (uri, method) in [("/hello", Method::Get), ("/echo", Method::Post)] {
            match server.unregister(uri, method) {
                Ok(()) | Err(Error::HandlerNotFound) => {}
                Err(e) => return Err(e),
            }
        }
        server.register_err_handler(ErrorCode::NotFound, not_found)?;
    } else {
        info!("Registering /hello and /echo URIs");
        register_hello_and_echo(&server)?;
        server.unregister_err_handler(ErrorCode::NotFound);
    }
    req.send(b"")
}

fn start(port: u16) -> Result<Server, Error> {
    info!("Starting server on port: '{port}'");
    let config = Config::builder().port(port).build()?;
    let server = Server::start(config)?;
    info!("Registering URI handlers");
    register_hello_and_echo(&server)?;
    server.register(Handler::new("/ctrl", Method::Put, ctrl))?;
    server.register(Handler::new("/any", Method::Any, any))?;
    Ok(server)
}

fn main() -> ExitCode {
    common::main(
        || common::port_only("usage: simple [--port N]"),
        |&port| start(port),
    )
}

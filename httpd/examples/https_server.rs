//! An HTTPS (and WSS) server, after ESP-IDF's `https_server` example, with the TLS handshake
//! inside the server's loop: a client stalled mid-handshake delays nobody.
//!
//! - `GET /`: `<h1>Hello Secure World!</h1>` (text/html).
//! - `GET /hello`: `Hello World!`.
//! - `POST /echo`: the whole body back (up to 16 MiB; bodies larger than the session buffer
//!   are read and answered on a thread of their own, so the loop is never held by an upload).
//! - `GET /ws`: a WebSocket (WSS) echo.
//! - `GET /plaintext`: `Hello, World!` (text/plain).
//! - `GET /whoami`: the client certificate's subject Common Name (404 without client
//!   authentication).
//!
//! ```text
//! cargo run --release --features tls --example https_server -- [--port 8443]
//!     [--cert PEM --key PEM] [--write-cert PATH] [--client-ca PEM]
//!     [--handshake-timeout SECS] [--http-port N]
//! ```
//!
//! Without `--cert`/`--key`, a self-signed certificate for `localhost` and `127.0.0.1` is made
//! at start (its SHA-256 fingerprint is logged; `--write-cert PATH` writes its PEM, for
//! `curl --cacert PATH`). With `--client-ca`, clients must present a certificate signed by that
//! CA. With `--http-port`, the same handlers are also served over plain HTTP on that port (a
//! second listener in the same loop). Stop it with Ctrl-C.

mod common;

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use httpd::{
    ClientAuth, Config, Error, ErrorCode, Handler, Method, Request, Server, TlsConfig, WsHandler,
};
use log::{error, info};

const MAX_ECHO: usize = 16 * 1024 * 1024;

#[derive(Debug, Default)]
struct Args {
    port: u16,
    cert: Option<String>,
    key: Option<String>,
    write_cert: Option<String>,
    client_ca: Option<String>,
    handshake_timeout: Option<u64>,
    http_port: Option<u16>,
}

const USAGE: &str = "usage: https_server [--port N] [--cert PEM --key PEM] [--write-cert PATH] \
                     [--client-ca PEM] [--handshake-timeout SECS] [--http-port N]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        port: 8443,
        ..Args::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => a.port = value()?.parse().map_err(|_| "invalid --port")?,
            "--cert" => a.cert = Some(value()?),
            "--key" => a.key = Some(value()?),
            "--write-cert" => a.write_cert = Some(value()?),
            "--client-ca" => a.client_ca = Some(value()?),
            "--handshake-timeout" => {
                a.handshake_timeout = Some(
                    value()?
                        .parse()
                        .map_err(|_| "invalid --handshake-timeout")?,
                )
            }
            "--http-port" => {
                a.http_port = Some(value()?.parse().map_err(|_| "invalid --http-port")?)
            }
            _ => return Err(USAGE.to_owned()),
        }
    }
    if a.cert.is_some() != a.key.is_some() {
        return Err("--cert and --key go together".to_owned());
    }
    Ok(a)
}

/// The certificate and key: from the files given, or made now (self-signed).
fn tls_config(args: &Args) -> Result<TlsConfig, Error> {
    let mut tls = TlsConfig::builder();
    tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => tls.cert_chain_file(cert).key_file(key),
        _ => {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let made = rcgen::generate_simple_self_signed(names)
                .map_err(|e| Error::Tls(format!("generating a certificate: {e}")))?;
            let pem = made.cert.pem();
            let digest = ring::digest::digest(&ring::digest::SHA256, made.cert.der());
            let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
            info!("Self-signed certificate for localhost, 127.0.0.1");
            info!("SHA-256 fingerprint {}", hex.join(":"));
            if let Some(path) = &args.write_cert {
                std::fs::write(path, &pem)
                    .map_err(|e| Error::Tls(format!("writing {path}: {e}")))?;
                info!("Certificate written to {path}");
            }
            tls.cert_chain_pem(pem)
                .key_pem(made.signing_key.serialize_pem())
        }
    };
    if let Some(ca) = &args.client_ca {
        tls = tls.client_ca_file(ca, ClientAuth::Required);
    }
    if let Some(secs) = args.handshake_timeout {
        tls = tls.handshake_timeout(Duration::from_secs(secs));
    }
    tls.build()
}

/// The subject Common Name of a DER certificate: the value of the last CN attribute (the
/// issuer's name comes before the subject's in a certificate). Enough for this example.
fn common_name(der: &[u8]) -> Option<String> {
    const CN_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = der.windows(CN_OID.len()).rposition(|w| w == CN_OID)? + CN_OID.len();
    let (tag, len) = (*der.get(at)?, usize::from(*der.get(at + 1)?));
    // UTF8String, PrintableString or IA5String, short form length.
    if !matches!(tag, 0x0c | 0x13 | 0x16) || len >= 0x80 {
        return None;
    }
    let value = der.get(at + 2..at + 2 + len)?;
    String::from_utf8(value.to_vec()).ok()
}

fn whoami(req: &mut Request<'_>) -> Result<(), Error> {
    let cn = req
        .tls()
        .and_then(|tls| tls.client_cert)
        .and_then(|der| common_name(&der));
    match cn {
        Some(cn) => {
            req.set_type("text/plain")?;
            req.send_str(&cn)
        }
        None => req.send_err(ErrorCode::NotFound, Some("No client certificate")),
    }
}

/// `POST /echo`: small bodies are answered at once; larger ones on a thread of their own,
/// which may wait for the client as long as it likes without holding the server's loop.
fn echo(req: &mut Request<'_>) -> Result<(), Error> {
    match req.content_length() {
        Some(n) if n > MAX_ECHO as u64 => return Err(Error::BodyTooLarge),
        Some(n) if n <= 16 * 1024 => {
            let body = req.read_body(MAX_ECHO)?;
            req.set_type("application/octet-stream")?;
            return req.send(body);
        }
        _ => {}
    }
    let mut detached = req.detach()?;
    thread::spawn(move || {
        let result = detached.request().and_then(|mut req| {
            let body = req.read_body(MAX_ECHO)?;
            req.set_type("application/octet-stream")?;
            req.send(body)
        });
        if let Err(e) = result {
            info!("/echo: {e}");
        }
    });
    Ok(())
}

fn register(server: &Server) -> Result<(), Error> {
    server.register(Handler::new("/", Method::Get, |req| {
        req.set_type("text/html")?;
        req.send_str("<h1>Hello Secure World!</h1>")
    }))?;
    server.register(Handler::new("/hello", Method::Get, |req| {
        req.set_type("text/plain")?;
        req.send_str("Hello World!")
    }))?;
    server.register(Handler::new("/echo", Method::Post, echo))?;
    server.register(WsHandler::new("/ws", |conn, frame| match frame.text() {
        Some(text) => conn.send_text(text),
        None => conn.send_binary(frame.payload()),
    }))?;
    server.register(Handler::new("/plaintext", Method::Get, |req| {
        req.set_type("text/plain")?;
        req.send_str("Hello, World!")
    }))?;
    server.register(Handler::new("/whoami", Method::Get, whoami))?;
    Ok(())
}

fn start(args: &Args) -> Result<Server, Error> {
    info!("Starting HTTPS server on port: '{}'", args.port);
    let tls = tls_config(args)?;
    // Host-sized limits (set here rather than taken from defaults), with room for a 16 MiB
    // echo in the body and pending-output limits.
    let mut config = Config::builder()
        .port(args.port)
        .max_open_sockets(4096)
        .backlog_conn(1024)
        .max_uri_handlers(16)
        .max_req_hdr_len(8192)
        .max_uri_len(8192)
        .max_body_len(Some(MAX_ECHO as u64))
        .max_pending_response(MAX_ECHO + 64 * 1024)
        .max_pending_total(256 * 1024 * 1024)
        .tls(tls);
    if let Some(port) = args.http_port {
        config = config.http_port(port);
    }
    let server = Server::start(config.build()?)?;
    register(&server).inspect_err(|e| error!("registering handlers: {e}"))?;
    if let Some(addr) = server.http_addr() {
        info!("Also serving plain HTTP on {addr}");
    }
    Ok(server)
}

fn main() -> ExitCode {
    common::main(parse_args, start)
}

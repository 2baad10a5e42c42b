//! The `https_server` example (feature `tls`), run as a child process: its routes over TLS
//! with the self-signed certificate it makes, a 16 MiB echo, WSS, the plain-HTTP port, garbage
//! at the TLS port, client certificates with `--client-ca`, and Ctrl-C.
mod example_util;
mod tls_util;
mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use example_util::Server;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tls_util::*;
use util::{Client, IO_TIMEOUT};

/// The example binary of this test's profile, built with every feature (as CI's `cargo test
/// --workspace --all-features` builds it, so this nested build has nothing to redo there).
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        util::cargo_build(&["-p", "httpd", "--all-features", "--example", "https_server"])
            .join("examples")
            .join("https_server")
    })
}

/// The example on a free port, waited for until it is ready.
fn start(args: &[&str]) -> Server {
    Server::start_program("https_server", binary(), args)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("httpd-tls-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn https_server_example_serves_its_routes_and_stops_on_ctrl_c() {
    let cert_path = temp("self-signed.pem");
    let mut ex = start(&[
        "--write-cert",
        cert_path.to_str().unwrap(),
        "--http-port",
        "0",
    ]);
    let addr = ex.addr();
    let plain = ex.addr_logged_after("Also serving plain HTTP on ");
    ex.wait_for_log("SHA-256 fingerprint");
    let der = CertificateDer::from_pem_file(&cert_path).expect("the written certificate");
    let config = client_config_trusting(&der, Versions::Both, &[b"http/1.1"], None);

    let mut c = Client::over(tls_connect(addr, &config).expect("handshake"));
    let r = c.get("/");
    assert_eq!(r.text(), "<h1>Hello Secure World!</h1>");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(c.get("/hello").text(), "Hello World!");
    let r = c.get("/plaintext");
    assert_eq!(r.text(), "Hello, World!");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(c.get("/whoami").status, 404);
    let body: Vec<u8> = (0..16 * 1024 * 1024u32)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    let r = c.request("POST", "/echo", &body);
    assert_eq!(r.status, 200);
    assert!(r.body == body, "16 MiB echo differs");
    assert_eq!(c.get("/hello").status, 200, "the connection goes on");
    // An IP address (no SNI) gets the same certificate, which names 127.0.0.1.
    let mut ip = Client::over(tls_connect_as(addr, &config, "127.0.0.1").expect("handshake"));
    assert_eq!(ip.get("/hello").status, 200);

    // WSS.
    use tungstenite::client::IntoClientRequest;
    let req = format!("ws://localhost:{}/ws", addr.port())
        .into_client_request()
        .unwrap();
    let (mut ws, _) = tungstenite::client(req, tls_connect(addr, &config).unwrap()).unwrap();
    ws.send(tungstenite::Message::text("over wss")).unwrap();
    assert_eq!(ws.read().unwrap().into_text().unwrap().as_str(), "over wss");

    // The same handlers over plain HTTP.
    assert_eq!(
        Client::connect(plain).get("/plaintext").text(),
        "Hello, World!"
    );

    // Plain HTTP at the TLS port: an alert and a close, at once.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let start = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(got.first(), Some(&0x15), "a TLS alert, got {got:?}");
    assert!(ex.interrupt().success());
}

#[test]
fn https_server_example_with_client_ca_requires_client_certificates() {
    let pki = pki();
    let files = [
        ("server.pem", &pki.server.cert_pem),
        ("server.key", &pki.server.key_pem),
        ("ca.pem", &pki.ca_pem),
    ];
    for (name, contents) in files {
        std::fs::write(temp(name), contents).unwrap();
    }
    let path = |name: &str| temp(name).to_str().unwrap().to_owned();
    let ex = start(&[
        "--cert",
        &path("server.pem"),
        "--key",
        &path("server.key"),
        "--client-ca",
        &path("ca.pem"),
        "--handshake-timeout",
        "3",
    ]);
    let addr = ex.addr();
    let alice = client_config(Versions::Both, &[b"http/1.1"], Some(&pki.alice));
    let mut c = Client::over(tls_connect(addr, &alice).expect("handshake"));
    assert_eq!(c.get("/whoami").text(), "alice");
    for cert in [None, Some(&pki.mallory)] {
        let config = client_config(Versions::Both, &[b"http/1.1"], cert);
        if let Ok(stream) = tls_connect(addr, &config) {
            // TLS 1.3: the refusal comes as an alert on the first read; no HTTP answer.
            let mut c = Client::over(stream);
            c.send("GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n");
            let err = c.try_response().expect_err("refused");
            assert!(err.to_string().contains("alert"), "{err}");
        }
    }
    assert!(ex.interrupt().success());
}

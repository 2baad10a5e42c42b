//! The `https_server` example (feature `tls`), run as a child process: its routes over TLS
//! with the self-signed certificate it makes, a 16 MiB echo, WSS, the plain-HTTP port, garbage
//! at the TLS port, client certificates with `--client-ca`, and Ctrl-C.
mod tls_util;
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tls_util::*;
use util::{Client, IO_TIMEOUT};

const WAIT: Duration = Duration::from_secs(30);

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

struct Example {
    child: Child,
    lines: Receiver<String>,
    log: Vec<String>,
}

impl Example {
    fn start(args: &[&str]) -> Example {
        let mut child = Command::new(binary())
            .args(["--port", "0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut ex = Example {
            child,
            lines,
            log: Vec::new(),
        };
        ex.wait_for("Server ready on");
        ex
    }

    /// Waits (bounded) for a log line containing `needle`; returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        if let Some(l) = self.log.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("never logged {needle:?}:\n{}", self.log.join("\n")),
            }
        }
    }

    /// The port in a log line ending in `ADDR:PORT` after `needle`.
    fn port_after(&mut self, needle: &str) -> SocketAddr {
        let line = self.wait_for(needle);
        let tail = line.split(needle).nth(1).unwrap();
        let port: u16 = tail
            .split(|c: char| !c.is_ascii_digit() && c != ':' && c != '.')
            .find(|w| w.contains(':'))
            .and_then(|w| w.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Ctrl-C: the example stops cleanly (exit code 0).
    fn interrupt(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(Instant::now() < deadline, "did not stop on Ctrl-C");
            std::thread::yield_now();
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("httpd-tls-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn https_server_example_serves_its_routes_and_stops_on_ctrl_c() {
    let cert_path = temp("self-signed.pem");
    let mut ex = Example::start(&[
        "--write-cert",
        cert_path.to_str().unwrap(),
        "--http-port",
        "0",
    ]);
    let addr = ex.port_after("Server ready on ");
    let plain = ex.port_after("Also serving plain HTTP on ");
    ex.wait_for("SHA-256 fingerprint");
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
    ex.interrupt();
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
    let mut ex = Example::start(&[
        "--cert",
        &path("server.pem"),
        "--key",
        &path("server.key"),
        "--client-ca",
        &path("ca.pem"),
        "--handshake-timeout",
        "3",
    ]);
    let addr = ex.port_after("Server ready on ");
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
    ex.interrupt();
}

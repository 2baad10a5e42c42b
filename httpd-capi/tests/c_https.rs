//! HTTPS through the C API: `tests/c/https_server.c` calls `httpd_ssl_start` with a
//! certificate made here (rcgen), and rustls's client side (an independent implementation of
//! the client) talks to it; the same handlers serve over TLS, over mutual TLS and over plain
//! HTTP (`HTTPD_SSL_TRANSPORT_INSECURE`), and bad material is an error, not a crash.
mod common;
#[path = "../../httpd/tests/tls_util/mod.rs"]
mod tls_util;
#[path = "../../httpd/tests/util/mod.rs"]
mod util;

use std::io::Read;

use common::Prog;
use tls_util::{client_config, default_client, https, pki, tls_connect, Versions};
use util::Client;

const SRC: &str = "tests/c/https_server.c";

/// Writes the test PKI's PEM files and starts the C program with them.
fn start() -> Prog {
    start_with(&[])
}

/// [`start`], the program compiled with extra gcc flags.
fn start_with(flags: &[&str]) -> Prog {
    let pki = pki();
    let dir = common::scratch();
    let files = [
        ("server.pem", &pki.server.cert_pem),
        ("server.key", &pki.server.key_pem),
        ("ca.pem", &pki.ca_pem),
    ];
    let mut args = Vec::new();
    for (name, pem) in files {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        args.push(path.display().to_string());
    }
    let mut cmd = std::process::Command::new(common::compile_with(SRC, flags));
    cmd.args(args);
    Prog::spawn(cmd)
}

#[test]
fn refused_configurations_are_errors() {
    refusals(start());
}

/// The refusals through `httpd_ssl_start_authmode_optional`, the other layout's entry.
#[test]
fn refused_configurations_are_errors_with_the_optional_authmode_layout() {
    refusals(start_with(&[AUTHMODE_OPTIONAL]));
}

const AUTHMODE_OPTIONAL: &str = "-DCONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL=1";

fn refusals(mut p: Prog) {
    for (case, want) in [
        ("null_handle", "ESP_ERR_INVALID_ARG"),
        ("null_config", "ESP_ERR_INVALID_ARG"),
        ("stop_null", "ESP_ERR_INVALID_ARG"),
        ("no_cert", "ESP_ERR_INVALID_ARG"),
        ("no_key", "ESP_ERR_INVALID_ARG"),
        ("garbage_cert", "ESP_FAIL"),
        ("not_pem_cert", "ESP_FAIL"),
        ("cert_as_key", "ESP_FAIL"),
        ("bad_ca", "ESP_FAIL"),
        ("user_cb", "ESP_ERR_NOT_SUPPORTED"),
        ("secure_element", "ESP_ERR_NOT_SUPPORTED"),
        ("ecdsa_peripheral", "ESP_ERR_NOT_SUPPORTED"),
    ] {
        p.wait_for_log(&format!("refused {case}={want}"));
    }
    // ESP-IDF writes the port it used back into the config.
    p.wait_for_log("secure server_port=0");
    let (status, logs) = p.finish();
    assert!(status.success(), "{logs:#?}");
}

#[test]
fn handlers_serve_over_tls_and_close_fn_owns_the_socket() {
    let mut p = start();
    let addr = p.addr(0);

    let mut c = https(addr, &default_client());
    let r = c.get("/hello");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello over TLS, fd ok");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    // The negotiated protocol is the one alpn_protos offers.
    assert_eq!(c.stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let r = c.request("POST", "/echo", &body);
    assert_eq!((r.status, &r.body), (200, &body));
    // Raw socket reads and transport overrides are refused on TLS sockets.
    let r = c.get("/raw");
    assert_eq!(
        r.text(),
        "socket_recv=-1 pending_override=ESP_ERR_NOT_SUPPORTED"
    );
    drop(c);

    // open_fn saw the connection; close_fn got its descriptor and closed it, once (0, not
    // EBADF: the library had not closed it before).
    let open = p.wait_for_log("open_fn fd=");
    let fd = open.rsplit('=').next().unwrap().to_owned();
    p.wait_for_log(&format!("close_fn fd={fd} close=0"));

    // A client offering only another ALPN protocol is refused, as rustls does; plain HTTP
    // on the TLS port gets no HTTP answer.
    let h2_only = client_config(Versions::Both, &[b"h2"], None);
    assert!(tls_connect(addr, &h2_only).is_err());
    let mut plain = Client::connect(addr);
    plain.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(plain.try_response().is_err());

    let (status, logs) = p.finish();
    assert!(status.success(), "{logs:#?}");
    assert!(logs.iter().any(|l| l == "stop[0]=ESP_OK"), "{logs:#?}");
}

#[test]
fn cacert_pem_requires_a_client_certificate() {
    let p = start();
    let addr = p.addr(1);
    let pki = pki();

    let alice = client_config(Versions::Both, &[], Some(&pki.alice));
    let mut c = https(addr, &alice);
    let r = c.get("/hello");
    assert_eq!(r.text(), "Hello over mutual TLS, fd ok");
    // tls_version = ESP_TLS_VER_TLS_1_3.
    assert_eq!(
        c.stream.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    drop(c);

    // Without a certificate, or with one from another CA, the server ends the handshake
    // (TLS 1.3: its verdict shows on the first read).
    for cert in [None, Some(&pki.mallory)] {
        let config = client_config(Versions::Both, &[], cert);
        if let Ok(mut s) = tls_connect(addr, &config) {
            use std::io::Write;
            let _ = s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut buf = [0u8; 64];
            assert!(
                !matches!(s.read(&mut buf), Ok(n) if n > 0),
                "served without a valid client certificate"
            );
        }
    }
    // TLS 1.2 only is refused by a TLS 1.3 server.
    let tls12 = client_config(Versions::Tls12, &[], Some(&pki.alice));
    assert!(tls_connect(addr, &tls12).is_err());

    let (status, logs) = p.finish();
    assert!(status.success(), "{logs:#?}");
}

#[test]
fn insecure_transport_mode_serves_plain_http() {
    let p = start();
    let addr = p.addr(2);
    let mut c = Client::connect(addr);
    let r = c.get("/hello");
    assert_eq!(r.text(), "Hello over plain HTTP, fd ok");
    // Raw reads work on a plain socket (nothing waiting: a timeout, not a refusal).
    let r = c.get("/raw");
    assert_eq!(r.text(), "socket_recv=-3 pending_override=ESP_OK");
    let (status, logs) = p.finish();
    assert!(status.success(), "{logs:#?}");
}

/// `client_cert_authmode_optional` (compiled in with its Kconfig option): a client without a
/// certificate is served, one with a certificate from another CA is still refused.
#[test]
fn client_cert_authmode_optional_serves_clients_without_a_certificate() {
    let mut p = start_with(&[AUTHMODE_OPTIONAL]);
    p.wait_for_log("client certificates optional");
    let addr = p.addr(1);
    let pki = pki();
    for cert in [None, Some(&pki.alice)] {
        let mut c = https(addr, &client_config(Versions::Both, &[], cert));
        assert_eq!(c.get("/hello").text(), "Hello over mutual TLS, fd ok");
    }
    let mallory = client_config(Versions::Both, &[], Some(&pki.mallory));
    if let Ok(mut s) = tls_connect(addr, &mallory) {
        use std::io::Write;
        let _ = s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!matches!(s.read(&mut [0u8; 16]), Ok(n) if n > 0));
    }
    // The other servers of the program are as without the option.
    let mut c = https(p.addr(0), &default_client());
    assert_eq!(c.get("/hello").text(), "Hello over TLS, fd ok");
    drop(c);
    let (status, logs) = p.finish();
    assert!(status.success(), "{logs:#?}");
}

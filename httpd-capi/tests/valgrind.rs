//! One run of the C test server under valgrind's memcheck (`--leak-check=full`): requests over
//! every function group, async requests from other threads, refused and failed connections,
//! then a clean stop; and the HTTPS test server (`httpd_ssl_start`) likewise. Each passes only
//! with no invalid reads or writes and no definite leaks.
//!
//! Skipped (with a note) where valgrind is not installed, unless `HTTPD_REQUIRE_VALGRIND=1`
//! (set by CI), which makes a missing valgrind a failure.
mod common;
#[path = "../../httpd/tests/tls_util/mod.rs"]
mod tls_util;
#[path = "../../httpd/tests/util/mod.rs"]
mod util;

use std::path::Path;
use std::process::Command;

use common::Prog;
use tls_util::{client_config, default_client, https, pki, tls_connect, Versions};
use util::Client;

const ERROR_EXIT: &str = "97";

/// Whether to run: valgrind is installed (or its absence is a failure under CI's flag).
fn have_valgrind() -> bool {
    if util::installed("valgrind") {
        return true;
    }
    assert!(
        std::env::var("HTTPD_REQUIRE_VALGRIND").as_deref() != Ok("1"),
        "HTTPD_REQUIRE_VALGRIND=1 but valgrind is not installed"
    );
    false
}

/// Starts C program `src` with `args` under memcheck (with `extra` options), its report going
/// to `log`.
fn under_valgrind(src: &str, args: &[&str], extra: &[String], log: &Path) -> Prog {
    let exe = common::compile(src);
    let mut cmd = Command::new("valgrind");
    cmd.args(extra)
        .args([
            "--leak-check=full",
            "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite",
            &format!("--error-exitcode={ERROR_EXIT}"),
        ])
        .arg(format!("--log-file={}", log.display()))
        .arg(&exe)
        .args(args);
    Prog::spawn(cmd)
}

/// Stops the program and checks memcheck's report: no errors, no definite leaks.
fn check_clean(p: Prog, log: &Path) {
    let (status, logs) = p.finish();
    let report = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        status.success(),
        "exit {status} (valgrind's error exit is {ERROR_EXIT})\n{report}\n{}",
        logs.join("\n")
    );
    assert!(report.contains("ERROR SUMMARY: 0 errors"), "{report}");
    assert!(
        !report.contains("Invalid read") && !report.contains("Invalid write"),
        "{report}"
    );
    assert!(
        !report.contains("definitely lost: ") || report.contains("definitely lost: 0 bytes"),
        "{report}"
    );
}

#[test]
fn api_server_under_valgrind() {
    if !have_valgrind() {
        return;
    }
    let log = common::scratch().join("valgrind.log");
    let p = under_valgrind("tests/c/api_server.c", &[], &[], &log);

    let mut c = Client::connect(p.addr(0));
    c.send("GET /hdr HTTP/1.1\r\nHost: t\r\nX-Test: abcdef\r\n\r\n");
    assert!(c.response().text().starts_with("len=6"));
    assert!(c.get("/query?key1=v&b=2").text().contains("key1=ESP_OK:v"));
    c.send("GET /cookie HTTP/1.1\r\nHost: t\r\nCookie: session=abc123; theme=dark\r\n\r\n");
    assert!(c.response().text().starts_with("theme=ESP_OK:dark"));
    assert!(c
        .request("POST", "/recv", &[7u8; 3000])
        .text()
        .contains("total=3000"));
    assert_eq!(c.get("/resp").status, 201);
    assert_eq!(c.get("/chunk").text(), "Hello chunked world!");
    assert_eq!(c.get("/sess").text(), "count=1 same=1");
    assert_eq!(c.get("/replace").text(), "replaced");
    assert_eq!(c.get("/sess").text(), "count=101 same=1");
    assert_eq!(c.get("/async").text(), "async /async done");
    assert_eq!(c.get("/work").text(), "queued ESP_OK");
    assert_eq!(c.response().text(), "WORK");
    assert!(c.get("/reg").text().starts_with("first=ESP_OK"));
    assert!(c.get("/invalid").text().starts_with("recv_null=-2"));
    assert_eq!(c.get("/nowhere").status, 404);
    assert!(c.get("/clients").text().starts_with("r=ESP_OK"));
    assert_eq!(c.get("/refuse_next").text(), "ok");
    let mut refused = Client::connect(p.addr(0));
    refused.send("GET /fd HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(refused.is_closed());
    let mut failing = Client::connect(p.addr(0));
    failing.send("GET /fail HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(failing.is_closed());
    let mut wild = Client::connect(p.addr(1));
    assert_eq!(wild.get("/files/x/y").text(), "files:/files/x/y");
    let mut ovr = Client::connect(p.addr(2));
    assert!(ovr.get("/ovr").text().starts_with("recv="));
    // A connection with a session context still open when the server stops.
    let mut open = Client::connect(p.addr(0));
    assert_eq!(open.get("/sess").text(), "count=1 same=1");
    assert_eq!(c.get("/close_me").text(), "bye ESP_OK");
    assert!(c.is_closed());
    check_clean(p, &log);
}

/// `httpd_ssl_start` under memcheck: the refused configurations, HTTPS requests, a mutual-TLS
/// client refused, a connection still open at the stop.
#[test]
fn https_server_under_valgrind() {
    if !have_valgrind() {
        return;
    }
    let log = common::scratch().join("valgrind-https.log");
    let files = c_https_files();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    // ring's AES-GCM assembly is opaque to memcheck: see the suppression file.
    let supp = common::crate_dir().join("tests/ring-asm.supp");
    let extra = [format!("--suppressions={}", supp.display())];
    let mut p = under_valgrind("tests/c/https_server.c", &args, &extra, &log);
    p.wait_for_log("refused ecdsa_peripheral=ESP_ERR_NOT_SUPPORTED");

    let mut c = https(p.addr(0), &default_client());
    assert_eq!(c.get("/hello").text(), "Hello over TLS, fd ok");
    let body = vec![5u8; 2000];
    assert_eq!(c.request("POST", "/echo", &body).body, body);
    let alice = client_config(Versions::Both, &[], Some(&pki().alice));
    let mut m = https(p.addr(1), &alice);
    assert_eq!(m.get("/hello").text(), "Hello over mutual TLS, fd ok");
    let stranger = client_config(Versions::Both, &[], None);
    if let Ok(mut s) = tls_connect(p.addr(1), &stranger) {
        use std::io::{Read, Write};
        let _ = s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!matches!(s.read(&mut [0u8; 16]), Ok(n) if n > 0));
    }
    drop(m);
    // `c` is still open when the servers stop.
    check_clean(p, &log);
    drop(c);
}

/// The test PKI's server certificate, key and CA as files, for `https_server.c`'s arguments.
fn c_https_files() -> Vec<String> {
    let pki = pki();
    [
        ("v-server.pem", &pki.server.cert_pem),
        ("v-server.key", &pki.server.key_pem),
        ("v-ca.pem", &pki.ca_pem),
    ]
    .into_iter()
    .map(|(name, pem)| {
        let path = common::scratch().join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    })
    .collect()
}

//! HTTPS against independent tools (feature `tls`): `curl` and `openssl s_client`, each test
//! skipped (with a message) only when its binary is not on the machine.
mod tls_util;
mod util;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use httpd::{ClientAuth, Config};
use tls_util::*;
use util::IO_TIMEOUT;

fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("skipped: `{tool}` is not installed");
    }
    found
}

/// A new file of its own (tests run in parallel and must not rewrite each other's files).
fn file(name: &str, contents: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("httpd-tls-tools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{n}-{name}"));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Runs `cmd` with `input` on stdin, killed if it outlives `IO_TIMEOUT`.
fn run(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + IO_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within {IO_TIMEOUT:?}");
        }
        std::thread::yield_now();
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn curl(args: &[&str]) -> Output {
    run(
        Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .args(args),
        b"",
    )
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_keep_alive_versions_no_sni_and_a_large_post() {
    if !have("curl") {
        return;
    }
    let server = default_server();
    let port = server.local_addr().port();
    let ca = file("ca.pem", &pki().ca_pem);
    let ca = ca.to_str().unwrap();
    let base = format!("https://localhost:{port}");
    // Two requests on one connection: the second reuses it (num_connects 0).
    let out = curl(&[
        "--cacert",
        ca,
        "-w",
        " connects=%{num_connects}\n",
        &format!("{base}/hello"),
        &format!("{base}/info"),
    ]);
    let t = text(&out);
    assert!(
        out.status.success(),
        "{t} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.starts_with("Hello World! connects=1\n"), "{t}");
    assert!(
        t.contains("sni=localhost alpn=http/1.1") && t.ends_with("connects=0\n"),
        "{t}"
    );
    let out = curl(&["--cacert", ca, "--tls-max", "1.2", &format!("{base}/info")]);
    assert!(text(&out).starts_with("Tls12 TLS_ECDHE"), "{}", text(&out));
    // curl sends no SNI for an address: the configured certificate (it names 127.0.0.1).
    let out = curl(&["--cacert", ca, &format!("https://127.0.0.1:{port}/info")]);
    assert!(text(&out).contains("sni=-"), "{}", text(&out));
    let body = "0123456789abcdef".repeat(200_000);
    let data = file("body.txt", &body);
    let out = curl(&[
        "--cacert",
        ca,
        "--data-binary",
        &format!("@{}", data.display()),
        &format!("{base}/echo"),
    ]);
    assert!(text(&out) == body, "echo of {} bytes", body.len());
}

#[test]
fn curl_with_and_without_a_client_certificate() {
    if !have("curl") {
        return;
    }
    let server = tls_server(
        Config::builder().max_uri_handlers(16),
        server_tls().client_ca_pem(pki().ca_pem.clone(), ClientAuth::Required),
    );
    let url = format!("https://localhost:{}/whoami", server.local_addr().port());
    let ca = file("ca.pem", &pki().ca_pem);
    let cert = file("alice.pem", &pki().alice.cert_pem);
    let key = file("alice.key", &pki().alice.key_pem);
    let ca = ca.to_str().unwrap();
    let out = curl(&[
        "--cacert",
        ca,
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(text(&out), "alice");
    let out = curl(&["--cacert", ca, &url]);
    assert!(!out.status.success(), "refused without a certificate");
    assert!(
        !text(&out).contains("HTTP"),
        "no HTTP answer: {}",
        text(&out)
    );
}

#[test]
fn openssl_s_client_tls12_and_tls13_with_resumption() {
    if !have("openssl") {
        return;
    }
    let server = default_server();
    let addr = format!("127.0.0.1:{}", server.local_addr().port());
    let ca = file("ca.pem", &pki().ca_pem);
    let request = b"GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for version in ["-tls1_2", "-tls1_3"] {
        let sess = std::env::temp_dir().join(format!(
            "httpd-tls-tools-{}/sess{version}",
            std::process::id()
        ));
        let s_client = |resume: &str| {
            let mut cmd = Command::new("openssl");
            cmd.args(["s_client", "-connect", &addr, "-servername", "localhost"])
                .args([
                    "-CAfile",
                    ca.to_str().unwrap(),
                    "-verify_return_error",
                    version,
                ])
                .args(["-ign_eof", resume])
                .arg(&sess);
            run(&mut cmd, request)
        };
        let first = s_client("-sess_out");
        let t = text(&first);
        assert!(t.contains("Hello World!"), "{version}: {t}");
        assert!(t.contains("Verify return code: 0 (ok)"), "{version}: {t}");
        assert!(t.contains("New, TLSv1."), "{version}: {t}");
        let second = s_client("-sess_in");
        let t = text(&second);
        assert!(t.contains("Hello World!"), "{version}: {t}");
        assert!(t.contains("Reused, TLSv1."), "{version}: not resumed: {t}");
    }
}

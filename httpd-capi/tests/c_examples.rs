//! The C examples (`examples/*.c`), built with the README's gcc line and driven over loopback:
//! the persistent-sockets server with httpd's own `adder` client (the sum 55, as from the Rust
//! example), and ESP-IDF's `simple` server. Both stop on SIGINT.
mod common;
#[path = "../../httpd/tests/util/mod.rs"]
mod util;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::Prog;
use util::Client;

/// httpd's `adder` example client, built with this test's profile.
fn adder_client() -> PathBuf {
    util::cargo_build(&["-p", "httpd", "--example", "adder"])
        .join("examples")
        .join("adder")
}

#[test]
fn persistent_sockets_sums_55_for_the_adder_client() {
    let mut server = Prog::example("persistent_sockets");
    let port = server.port().to_string();
    let output = Command::new(adder_client())
        .args(["127.0.0.1", &port, "10"])
        .stdin(Stdio::null())
        .output()
        .expect("running adder");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "adder failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Result: 55"), "adder printed:\n{stdout}");
    // The session context is freed by its free function when the adder's connection closes.
    server.wait_for_log("/adder Free Context function called");
    let (status, logs) = server.interrupt();
    assert!(status.success(), "{status}");
    let adder: Vec<&str> = logs
        .iter()
        .filter_map(|l| l.split_once("example: ").map(|(_, m)| m))
        .filter(|m| m.starts_with("/adder"))
        .collect();
    assert_eq!(adder, util::adder_log(10));
}

#[test]
fn simple_example_behaves_as_on_the_chip() {
    let mut server = Prog::example("simple");
    let addr = server.addr(0);
    let mut c = Client::connect(addr);
    c.send(
        "GET /hello?query1=one&query3=three HTTP/1.1\r\nHost: test\r\nTest-Header-1: first\r\n\r\n",
    );
    let r = c.response();
    assert_eq!((r.status, r.text().as_str()), (200, "Hello World!"));
    assert_eq!(r.header("custom-header-1"), Some("Custom-Value-1"));
    assert_eq!(r.header("custom-header-2"), Some("Custom-Value-2"));
    server.wait_for_log("Found header => Test-Header-1: first");
    server.wait_for_log("Found URL query parameter => query3=three");

    let r = c.request("POST", "/echo", b"echo this back");
    assert_eq!(r.text(), "echo this back");
    assert!(r.chunks.is_some());

    let r = c.request("PUT", "/any", b"");
    assert_eq!(r.text(), "Hello World!");
    server
        .wait_for_log("/any: the empty chunk after a complete response gave ESP_ERR_INVALID_STATE");

    // PUT /ctrl 0 unregisters /hello and /echo and installs the custom 404 handler.
    assert_eq!(c.request("PUT", "/ctrl", b"0").status, 200);
    let r = c.get("/hello");
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "/hello URI is not available")
    );
    let r = c.request("POST", "/echo", b"x");
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "/echo URI is not available")
    );
    assert!(c.is_closed(), "the 404 handler returned ESP_FAIL for /echo");

    let mut c = Client::connect(addr);
    assert_eq!(c.request("PUT", "/ctrl", b"1").status, 200);
    assert_eq!(c.get("/hello").text(), "Hello World!");
    let (status, _) = server.interrupt();
    assert!(status.success(), "{status}");
}

#[test]
fn the_shared_library_serves_too() {
    let lib_dir = common::static_lib().parent().unwrap().to_path_buf();
    let exe = common::scratch().join("simple_shared");
    common::gcc([
        common::crate_dir()
            .join("examples/simple.c")
            .into_os_string(),
        format!("-L{}", lib_dir.display()).into(),
        format!("-Wl,-rpath,{}", lib_dir.display()).into(),
        "-lesp_http_server".into(),
        "-lpthread".into(),
        "-ldl".into(),
        "-lm".into(),
        "-o".into(),
        exe.clone().into_os_string(),
    ]);
    let mut cmd = Command::new(&exe);
    cmd.arg("0");
    let server = Prog::spawn_example(cmd);
    let mut c = Client::connect(server.addr(0));
    assert_eq!(c.get("/hello").text(), "Hello World!");
    let (status, _) = server.interrupt();
    assert!(status.success(), "{status}");
}

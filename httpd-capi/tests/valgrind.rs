//! One run of the C test server under valgrind's memcheck (`--leak-check=full`): requests over
//! every function group, async requests from other threads, refused and failed connections,
//! then a clean stop. It passes only with no invalid reads or writes and no definite leaks.
//!
//! Skipped (with a note) where valgrind is not installed, unless `HTTPD_REQUIRE_VALGRIND=1`
//! (set by CI), which makes a missing valgrind a failure.
mod common;
#[path = "../../httpd/tests/util/mod.rs"]
mod util;

use std::process::Command;

use common::Prog;
use util::Client;

const ERROR_EXIT: &str = "97";

#[test]
fn api_server_under_valgrind() {
    if !util::installed("valgrind") {
        assert!(
            std::env::var("HTTPD_REQUIRE_VALGRIND").as_deref() != Ok("1"),
            "HTTPD_REQUIRE_VALGRIND=1 but valgrind is not installed"
        );
        return;
    }
    let exe = common::compile("tests/c/api_server.c");
    let log = common::scratch().join("valgrind.log");
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--leak-check=full",
        "--show-leak-kinds=definite",
        "--errors-for-leak-kinds=definite",
        &format!("--error-exitcode={ERROR_EXIT}"),
    ])
    .arg(format!("--log-file={}", log.display()))
    .arg(&exe);
    let p = Prog::spawn(cmd);

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

    let (status, logs) = p.finish();
    let report = std::fs::read_to_string(&log).unwrap_or_default();
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

//! The server driven by clients we did not write: Python's `http.client` and `curl`. Keep-alive
//! reuse, bodies both ways, chunked responses and chunked uploads. Each test is skipped (with
//! a note) when the client program is not installed.
mod util;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use httpd::{Config, Handler, Method, Server};
use util::{installed, start};

/// Longest a client program may run before the test fails (and the program is killed).
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `cmd` with `stdin` as its input; fails the test if it runs longer than
/// `PROGRAM_TIMEOUT` (killing it) or exits unsuccessfully.
fn run(mut cmd: Command, stdin: Vec<u8>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client program");
    let pid = child.id();
    let mut input = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
        drop(input);
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(PROGRAM_TIMEOUT) {
        Ok(output) => output.expect("wait for client program"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("client program {cmd:?} did not finish in {PROGRAM_TIMEOUT:?}");
        }
    };
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// `/hello` greets (with the session id in `X-Session`); `/echo` sends the body back with
/// `X-Chunked` saying how it came; `/chunked` answers in three chunks; `/info` reports the
/// method, framing and body length.
fn server() -> Server {
    let server = start(Config::builder());
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            let id = req.session_id().to_string();
            req.set_header("X-Session", &id)?;
            req.send_str("Hello World!")
        }))
        .unwrap();
    server
        .register(Handler::new("/echo", Method::Any, |req| {
            let chunked = req.is_chunked().to_string();
            let id = req.session_id().to_string();
            let body = req.read_body(4 * 1024 * 1024)?;
            req.set_header("X-Chunked", &chunked)?;
            req.set_header("X-Session", &id)?;
            req.set_type("application/octet-stream")?;
            req.send(&body)
        }))
        .unwrap();
    server
        .register(Handler::new("/chunked", Method::Get, |req| {
            let id = req.session_id().to_string();
            req.set_header("X-Session", &id)?;
            req.send_chunk("one,")?;
            req.send_chunk("two,")?;
            req.send_chunk("three")?;
            req.send_chunk("")
        }))
        .unwrap();
    server
        .register(Handler::new("/info", Method::Any, |req| {
            let head = format!("{} chunked={}", req.method(), req.is_chunked());
            let body = req.read_body(4 * 1024 * 1024)?;
            let ok = body == pattern(body.len());
            req.send_str(&format!("{head} len={} pattern={ok}", body.len()))
        }))
        .unwrap();
    server
}

const PYTHON_SCRIPT: &str = r#"
import http.client, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
sessions = set()

def show(tag, r, body):
    if r.getheader("X-Session"):
        sessions.add(r.getheader("X-Session"))
    print(tag, r.status, r.reason, r.getheader("Transfer-Encoding"), r.getheader("Content-Length"), body)

c.request("GET", "/hello")
r = c.getresponse()
show("get", r, r.read().decode())

data = bytes(b"abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(100000))
c.request("POST", "/echo", body=data, headers={"Content-Type": "application/octet-stream"})
r = c.getresponse()
b = r.read()
show("post", r, "same" if b == data else "DIFFERENT len=%d" % len(b))

c.request("GET", "/chunked")
r = c.getresponse()
show("chunked", r, r.read().decode())

c.request("PUT", "/echo", body=iter([b"abc", b"", b"defg", b"h" * 5000]), encode_chunked=True)
r = c.getresponse()
b = r.read()
show("upload", r, "%s %d %s" % (r.getheader("X-Chunked"), len(b), b[:7].decode()))

c.request("HEAD", "/hello")
r = c.getresponse()
show("head", r, repr(r.read()))

c.request("GET", "/nothing")
r = c.getresponse()
show("missing", r, r.read().decode())

c.request("GET", "/hello")
r = c.getresponse()
show("again", r, r.read().decode())

print("sessions", len(sessions))
c.close()
"#;

#[test]
fn python_http_client_on_one_keep_alive_connection() {
    if !installed("python3") {
        return;
    }
    let server = server();
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(PYTHON_SCRIPT)
        .arg(server.local_addr().port().to_string());
    let out = run(cmd, Vec::new());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let expected = "\
get 200 OK None 12 Hello World!
post 200 OK None 100000 same
chunked 200 OK chunked None one,two,three
upload 200 OK None 5007 true 5007 abcdefg
head 200 OK None 12 b''
missing 404 Not Found None 29 Nothing matches the given URI
again 200 OK None 12 Hello World!
sessions 1
";
    assert_eq!(
        stdout,
        expected,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn curl(server: &Server) -> (Command, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "--max-time", "10"]);
    (cmd, format!("http://{}", server.local_addr()))
}

#[test]
fn curl_reuses_the_connection_for_two_urls() {
    if !installed("curl") {
        return;
    }
    let server = server();
    let (mut cmd, base) = curl(&server);
    cmd.args(["-w", " %{http_code} %{num_connects}\\n"])
        .arg(format!("{base}/hello"))
        .arg(format!("{base}/chunked"))
        .arg(format!("{base}/hello"));
    let out = run(cmd, Vec::new());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Hello World! 200 1\none,two,three 200 0\nHello World! 200 0\n"
    );
}

#[test]
fn curl_posts_a_body_with_content_length() {
    if !installed("curl") {
        return;
    }
    let server = server();
    let (mut cmd, base) = curl(&server);
    cmd.args(["--data-binary", "@-"])
        .arg(format!("{base}/info"));
    let out = run(cmd, pattern(300_000));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "POST chunked=false len=300000 pattern=true"
    );
}

/// If curl sent `Expect: 100-continue` (it does for large or unknown-length bodies), the
/// server must have answered it with an interim 100.
fn assert_continue_answered(stderr: &[u8]) {
    let stderr = String::from_utf8_lossy(stderr);
    if stderr.contains("> Expect: 100-continue") {
        assert!(
            stderr.contains("< HTTP/1.1 100 Continue"),
            "no 100 Continue for curl's Expect:\n{stderr}"
        );
    }
}

#[test]
fn curl_chunked_upload_with_data_binary() {
    if !installed("curl") {
        return;
    }
    let server = server();
    let (mut cmd, base) = curl(&server);
    cmd.args([
        "-v",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "@-",
    ])
    .arg(format!("{base}/info"));
    let out = run(cmd, pattern(200_000));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "POST chunked=true len=200000 pattern=true"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("> Transfer-Encoding: chunked"), "{stderr}");
    assert_continue_answered(&out.stderr);
}

#[test]
fn curl_chunked_upload_with_upload_file() {
    if !installed("curl") {
        return;
    }
    let server = server();
    let (mut cmd, base) = curl(&server);
    // `-T` uploads to the first URL (PUT); after `--next` (which resets the options, so the
    // header is not sent again) a plain GET follows on the same connection.
    cmd.args(["-v", "-H", "Transfer-Encoding: chunked", "-T", "-"])
        .args(["-w", " %{num_connects}\\n"])
        .arg(format!("{base}/info"))
        .args(["--next", "-s", "-S", "--max-time", "10"])
        .args(["-w", " %{num_connects}\\n"])
        .arg(format!("{base}/hello"));
    let out = run(cmd, pattern(1_500_000));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "PUT chunked=true len=1500000 pattern=true 1\nHello World! 0\n"
    );
    assert_continue_answered(&out.stderr);
}

#[test]
fn curl_downloads_a_large_echo_and_head() {
    if !installed("curl") {
        return;
    }
    let server = server();
    let body = pattern(2_000_000);
    let (mut cmd, base) = curl(&server);
    cmd.args(["--data-binary", "@-"])
        .arg(format!("{base}/echo"));
    let out = run(cmd, body.clone());
    assert_eq!(out.stdout.len(), body.len());
    assert!(out.stdout == body, "echo differs");

    let (mut cmd, base) = curl(&server);
    cmd.args(["-I"]).arg(format!("{base}/hello"));
    let out = run(cmd, Vec::new());
    let head = String::from_utf8(out.stdout).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Length: 12\r\n"), "{head}");
}

#[test]
fn curl_http10() {
    if !installed("curl") {
        return;
    }
    let server = server();
    let (mut cmd, base) = curl(&server);
    cmd.args(["-0", "-i"]).arg(format!("{base}/hello"));
    let out = run(cmd, Vec::new());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello World!"), "{text}");
}

//! The browser test of the `file_serving` example: headless Chromium, driven over the DevTools
//! protocol (a WebSocket, with tungstenite), loads the listing page, puts a file into the
//! page's file input and clicks its Upload button; the page's own script uploads it. The test
//! then finds the file in the listing and downloads it byte-exact. Skipped (with a note) when
//! Chromium is not installed, unless `HTTPD_REQUIRE_BROWSER` is set (CI sets it).
mod example_util;
mod files_util;
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use example_util::{chromium, KillOnDrop, Server, CHROMIUM_FLAGS, WAIT};
use files_util::TempDir;
use serde_json::{json, Value};
use util::Client;

type Ws = tungstenite::WebSocket<TcpStream>;

/// A DevTools session on one page.
struct DevTools {
    ws: Ws,
    next_id: u64,
}

impl DevTools {
    /// Sends a command and waits (bounded by the socket's read timeout) for its result;
    /// events in between are skipped. `Err` carries a protocol error.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .expect("send a DevTools command");
        loop {
            let reply = match self.ws.read().expect("a DevTools message") {
                tungstenite::Message::Text(t) => t,
                _ => continue,
            };
            let v: Value = serde_json::from_str(&reply).expect("DevTools JSON");
            if v["id"] != id {
                continue;
            }
            if let Some(e) = v.get("error") {
                return Err(format!("{method}: {e}"));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Evaluates `expr` in the page; its value, or `None` when it threw or the page was
    /// between documents (a reload).
    fn eval(&mut self, expr: &str) -> Option<Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true }),
            )
            .ok()?;
        if r.get("exceptionDetails").is_some() {
            return None;
        }
        Some(r["result"]["value"].clone())
    }

    /// Evaluates `expr` until it is `true`, within `WAIT`.
    fn wait_until(&mut self, expr: &str) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.eval(expr) == Some(Value::Bool(true)) {
                return;
            }
            std::thread::yield_now();
        }
        panic!("the page never satisfied {expr}");
    }
}

/// A plain HTTP GET to Chromium's DevTools endpoint; the body, by its `Content-Length` (the
/// endpoint may keep the connection open).
fn devtools_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())?;
            if body.len() >= len {
                return Some(body[..len].to_owned());
            }
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Waits for Chromium to say where its DevTools endpoint is (its stderr line "DevTools
/// listening on ws://127.0.0.1:PORT/..."), then for the page target that shows `url`, and
/// connects to it.
fn attach(stderr: &Receiver<String>, url: &str) -> DevTools {
    let deadline = Instant::now() + WAIT;
    let port: u16 = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = stderr
            .recv_timeout(left)
            .expect("Chromium never said where its DevTools endpoint is");
        let port = line
            .split_once("DevTools listening on ws://127.0.0.1:")
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|p| p.parse().ok());
        if let Some(port) = port {
            break port;
        }
    };
    let ws_url = loop {
        let targets: Value = devtools_get(port, "/json/list")
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or(Value::Null);
        let page =
            targets.as_array().into_iter().flatten().find(|t| {
                t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url))
            });
        if let Some(ws) = page.and_then(|p| p["webSocketDebuggerUrl"].as_str()) {
            break ws.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no page target for {url}: {targets}"
        );
        std::thread::yield_now();
    };
    use tungstenite::client::IntoClientRequest;
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to DevTools");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let req = ws_url.into_client_request().unwrap();
    let (ws, _) = tungstenite::client(req, stream).expect("DevTools handshake");
    DevTools { ws, next_id: 0 }
}

#[test]
fn browser_uploads_through_the_form_and_the_file_downloads_byte_exact() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = TempDir::new("fs-browser");
    let root = dir.path().join("root");
    // Bytes that are not text, so any re-encoding on the way would show.
    let content: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let source = dir.write("src/browser upload.bin", &content);
    let mut server = Server::start_with("file_serving", &["--root", root.to_str().unwrap()]);
    let url = format!("http://127.0.0.1:{}/", server.port);

    let profile = dir.path().join("profile");
    let mut browser = Command::new(chromium)
        .args(CHROMIUM_FLAGS)
        .args([
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start Chromium");
    // Chromium's log, line by line (read on, so that it never blocks on a full pipe).
    let (tx, lines) = mpsc::channel();
    let stderr = BufReader::new(browser.stderr.take().expect("piped stderr"));
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let _browser = KillOnDrop(Some(browser));
    let mut page = attach(&lines, &url);

    page.wait_until("document.readyState == 'complete' && !!document.getElementById('newfile')");
    let doc = page.call("DOM.getDocument", json!({ "depth": 0 })).unwrap();
    let input = page
        .call(
            "DOM.querySelector",
            json!({ "nodeId": doc["root"]["nodeId"], "selector": "#newfile" }),
        )
        .unwrap();
    page.call(
        "DOM.setFileInputFiles",
        json!({ "nodeId": input["nodeId"], "files": [source.to_str().unwrap()] }),
    )
    .unwrap();
    page.eval("document.getElementById('upload-button').click(), true")
        .expect("clicked Upload");
    server.wait_for_log("Stored browser%20upload.bin (200000 bytes)");
    // The page's script reloads the listing once the upload is done.
    page.wait_until(
        "!!document.querySelector('#files') && \
         document.querySelector('#files').innerText.includes('browser upload.bin')",
    );

    let mut c = Client::connect(server.addr());
    let listing = c.get("/").text();
    let href = "/browser%20upload.bin";
    assert!(
        listing.contains(&format!("<a href=\"{href}\">browser upload.bin</a>")),
        "{listing}"
    );
    assert!(listing.contains("<td>200000</td>"), "{listing}");
    let download = c.get(href);
    assert_eq!(download.status, 200);
    assert!(
        download.body == content,
        "the download differs from the upload"
    );
    let _ = page.call("Browser.close", json!({}));
    assert_eq!(server.interrupt().code(), Some(0));
}

//! Black-box tests of the example programs: run the compiled `simple`, `persistent_sockets` and
//! `adder` binaries, talk to them over loopback, read their logs, and stop them with SIGINT.
//!
//! Synchronisation is by the servers' log lines (read from their stderr by a thread and handed
//! over a channel), never by sleeping; every wait is bounded, and a server still running when a
//! test fails is killed.
mod example_util;
mod util;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use example_util::{chromium, example, wait_bounded, KillOnDrop, Server, CHROMIUM_FLAGS, WAIT};
use util::Client;

#[test]
fn persistent_sockets_with_the_adder_client() {
    let mut server = Server::start("persistent_sockets");
    let adder = example("adder")
        .args(["127.0.0.1", &server.port.to_string(), "10"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning adder");
    let output = wait_bounded(adder, 3 * WAIT).expect("adder finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "adder failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(stdout.contains("Result: 55"), "adder printed:\n{stdout}");

    // The context is dropped when the adder's connection closes.
    server.wait_for_log("/adder visitor count");
    server.wait_for_log("/adder Free Context function called");

    // The same log lines, in the same order, as ESP-IDF's example output.
    let expected = util::adder_log(10);
    let logged: Vec<&str> = server
        .own_messages()
        .into_iter()
        .filter(|m| m.starts_with("/adder"))
        .collect();
    assert_eq!(logged, expected, "full log:\n{}", server.log.join("\n"));

    let status = server.interrupt();
    assert_eq!(status.code(), Some(0), "exit status {status}");
}

#[test]
fn persistent_sockets_login_and_logout() {
    let mut server = Server::start("persistent_sockets");
    let mut c = Client::connect(server.addr());
    let r = c.get("/adder");
    assert_eq!((r.status, r.text().as_str()), (200, "0"));
    let r = c.request("POST", "/adder", b"7");
    assert_eq!((r.status, r.text().as_str()), (200, "7"));
    let r = c.get("/logout");
    assert_eq!(r.status, 200);
    assert!(r.text().contains('7'), "{}", r.text());
    server.wait_for_log("/adder Free Context function called");
    let r = c.get("/logout");
    assert_eq!((r.status, r.text().as_str()), (200, "Not logged in"));
    let r = c.get("/login");
    assert_eq!(r.status, 200);
    let r = c.request("POST", "/adder", b"not a number");
    assert_eq!(r.status, 400);
    assert!(!r.closes());
    let r = c.request("PUT", "/adder", b"-3");
    assert_eq!((r.status, r.text().as_str()), (200, "-3"));
    let r = c.request("POST", "/adder", b"5");
    assert_eq!((r.status, r.text().as_str()), (200, "2"));

    // Stopping with a session open closes it and drops its context.
    let status = server.interrupt();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    assert!(c.is_closed());
}

#[test]
fn simple_example() {
    let mut server = Server::start("simple");
    let mut c = Client::connect(server.addr());

    // GET /hello: custom headers, and the request's headers and query logged.
    c.send(
        "GET /hello?query1=one&query3=three HTTP/1.1\r\nHost: example\r\n\
         Test-Header-1: first\r\nTest-Header-2: second\r\n\r\n",
    );
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello World!");
    assert_eq!(r.header("custom-header-1"), Some("Custom-Value-1"));
    assert_eq!(r.header("custom-header-2"), Some("Custom-Value-2"));
    assert!(!r.closes());
    server.wait_for_log("Found header => Test-Header-1: first");
    server.wait_for_log("Found URL query parameter => query3=three");

    // POST /echo: the body comes back chunked, at most 100 bytes a chunk.
    let body: Vec<u8> = (0..250u32).map(|i| b'a' + (i % 26) as u8).collect();
    let r = c.request("POST", "/echo", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    let chunks = r.chunks.expect("a chunked response");
    assert!(chunks.iter().all(|&n| n <= 100), "chunk sizes {chunks:?}");
    assert_eq!(chunks.iter().sum::<usize>(), 250);

    // /any answers every method.
    for method in ["GET", "DELETE", "PATCH"] {
        let r = c.request(method, "/any", b"");
        assert_eq!((r.status, r.text()), (200, method.to_owned()));
    }
    let r = c.request("POST", "/any", b"some body");
    assert_eq!((r.status, r.text().as_str()), (200, "POST"));

    // PUT /ctrl 0: /hello and /echo go away, the custom 404 handler answers.
    let r = c.request("PUT", "/ctrl", b"0");
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        let r = c.get("/hello");
        assert_eq!(r.status, 404);
        assert_eq!(r.text(), "/hello URI is not available");
        assert!(!r.closes());
    }
    let r = c.get("/echo");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "/echo URI is not available");
    assert!(r.closes());
    assert!(c.is_closed());

    let mut c = Client::connect(server.addr());
    let r = c.get("/nothing/here");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "Some 404 error message");
    assert!(c.is_closed());

    // PUT /ctrl 1: back again, with the default 404 page (which keeps the connection).
    let mut c = Client::connect(server.addr());
    let r = c.request("PUT", "/ctrl", b"1");
    assert_eq!(r.status, 200);
    let r = c.get("/hello");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello World!"));
    let r = c.get("/nothing/here");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "Nothing matches the given URI");
    assert!(!r.closes());
    let r = c.get("/echo");
    assert_eq!(r.status, 405);
    let r = c.request("POST", "/echo", b"again");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"again"[..]));
    // Registering twice is harmless.
    let r = c.request("PUT", "/ctrl", b"1");
    assert_eq!(r.status, 200);
    let r = c.get("/hello");
    assert_eq!(r.status, 200);

    // On the host defaults: a browser's 6 KiB cookie, a 2 KiB query, two tabs' worth of
    // keep-alive connections and one more.
    c.send(format!(
        "GET /hello?q={} HTTP/1.1\r\nHost: x\r\nCookie: s={}\r\n\r\n",
        "a".repeat(2048),
        "c".repeat(6 * 1024)
    ));
    assert_eq!(c.response().status, 200);
    let mut tabs: Vec<Client> = (0..13).map(|_| Client::connect(server.addr())).collect();
    for tab in &mut tabs {
        assert_eq!(tab.get("/hello").status, 200);
    }

    // Ctrl-C with connections open: exit 0, and the connections are closed.
    let status = server.interrupt();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    assert!(c.is_closed());
}

#[test]
fn advanced_example_routes() {
    let server = Server::start_with("advanced", &["--max-body", "1000", "--max-sessions", "4"]);
    let mut c = Client::connect(server.addr());
    let r = c.get("/hello");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello World!"));
    let r = c.get("/hello/type_html");
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("text/html"))
    );
    let r = c.get("/hello/status_500");
    assert_eq!((r.status, r.text().as_str()), (500, "Hello World!"));
    let r = c.get("/plaintext");
    assert_eq!(
        (r.status, r.text().as_str(), r.header("content-type")),
        (200, "Hello, World!", Some("text/plain"))
    );

    c.send("GET /test_header HTTP/1.1\r\nHost: x\r\nHeader1: Value1\r\nHeader2: Value2\r\nHeader3: Value3\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.text().as_str()), (200, "Value2"));
    c.send("GET /test_header HTTP/1.1\r\nHost: x\r\nHeader1: Value1\r\n\r\n");
    assert_eq!(c.response().status, 400);

    c.send("PUT /echo HTTP/1.1\r\nHost: x\r\nCustom: mine\r\nContent-Length: 5\r\n\r\nhello");
    let r = c.response();
    assert_eq!(
        (r.status, r.text().as_str(), r.header("custom")),
        (200, "hello", Some("mine"))
    );
    let r = c.request("POST", "/leftover_data", b"0123456789abcdefghij");
    assert_eq!((r.status, r.text().as_str()), (200, "0123456789"));
    assert_eq!(c.get("/hello").status, 200, "leftover body drained");
    for (n, sum) in [(1, "1"), (2, "3"), (39, "42")] {
        assert_eq!(
            c.request("POST", "/adder", n.to_string().as_bytes()).text(),
            sum
        );
    }
    let r = c.get("/async_data");
    assert_eq!(r.text(), "Hello World!");
    let r = c.response();
    assert_eq!((r.status, r.text().as_str()), (200, "Hello Double World!"));
    assert_eq!(c.get("/hello").status, 200);

    let r = c.request("POST", "/echo", &[b'x'; 1001]);
    assert_eq!(r.status, 413);
    assert!(c.is_closed());
    assert_eq!(server.interrupt().code(), Some(0));
}

/// The scenario: a client stalls 100,000 bytes into a 1 MiB upload, another trickles
/// its upload, a third asks for 2 s of work; every other request is answered at once. (With
/// `--workers 0`, ESP-IDF's model, the first request waits seconds.)
#[test]
fn advanced_example_serves_others_while_uploads_stall() {
    let server = Server::start_with("advanced", &["--max-body", "16777216"]);
    let addr = server.addr();
    let head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n";
    let mut stalled = Client::connect(addr);
    stalled.send(head);
    stalled.send(vec![b's'; 100_000]);
    let mut trickling = Client::connect(addr);
    trickling.send(head);
    trickling.send(b"t");
    let mut slow = Client::connect(addr);
    slow.send("GET /slow?ms=2000 HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut c = Client::connect(addr);
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        if i % 5 == 0 {
            trickling.send(b"t");
        }
        let t = Instant::now();
        assert_eq!(c.get("/hello").status, 200);
        slowest = slowest.max(t.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(250),
        "GET /hello took {slowest:?} beside stalled uploads and slow work"
    );
    drop((stalled, trickling, slow));
    assert_eq!(server.interrupt().code(), Some(0));
}

#[test]
fn async_handlers_example_streams_long_requests_on_workers() {
    // Fast ticks: a whole /long response, 60 chunks, starting with the session's request count.
    let server = Server::start_with("async_handlers", &["--tick-ms", "1"]);
    let mut c = Client::connect(server.addr());
    let r = c.get("/long");
    assert_eq!(r.status, 200);
    assert_eq!(r.chunks.as_ref().map(Vec::len), Some(60));
    assert!(r.text().starts_with("req: 1\n"), "{:?}", r.text());
    let r = c.get("/long");
    assert!(
        r.text().starts_with("req: 2\n"),
        "the count is per connection"
    );
    assert!(c.get("/").text().contains("/long"));
    assert_eq!(server.interrupt().code(), Some(0));
}

#[test]
fn async_handlers_example_answers_quick_and_busy_while_workers_run() {
    // Slow ticks: two /long requests occupy both workers for a minute.
    let server = Server::start_with("async_handlers", &["--tick-ms", "60000"]);
    let mut long = Vec::new();
    for _ in 0..2 {
        let mut c = Client::connect(server.addr());
        c.send("GET /long HTTP/1.1\r\nHost: x\r\n\r\n");
        // Wait for the first chunk: its worker is busy now.
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while !String::from_utf8_lossy(&seen).contains("req: 1") {
            let n = std::io::Read::read(&mut c.stream, &mut buf).expect("first chunk");
            assert!(n > 0);
            seen.extend_from_slice(&buf[..n]);
        }
        long.push(c);
    }
    let mut c = Client::connect(server.addr());
    let r = c.get("/quick");
    assert_eq!((r.status, r.text().as_str()), (200, "quick"));
    let r = c.get("/long");
    assert_eq!((r.status, r.reason.as_str()), (503, "Busy"));
    assert_eq!(server.interrupt().code(), Some(0));
}

fn ws_connect(addr: SocketAddr, path: &str) -> tungstenite::WebSocket<std::net::TcpStream> {
    use tungstenite::client::IntoClientRequest;
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = format!("ws://{addr}{path}").into_client_request().unwrap();
    tungstenite::client(req, stream).expect("handshake").0
}

fn ws_text(ws: &mut tungstenite::WebSocket<std::net::TcpStream>) -> String {
    match ws.read().expect("a message") {
        tungstenite::Message::Text(t) => t.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn ws_echo_server_example() {
    use tungstenite::Message;
    let server = Server::start("ws_echo_server");
    let mut ws = ws_connect(server.addr(), "/ws");
    ws.send(Message::text("hello")).unwrap();
    assert_eq!(ws_text(&mut ws), "hello");
    ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![1u8, 2, 3]));
    ws.send(Message::text("Trigger async")).unwrap();
    assert_eq!(ws_text(&mut ws), "Async data");
    ws.send(Message::text("Ping")).unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Ping(_)));
    // Host defaults: a 1 MiB message is echoed whole (ESP-IDF echoes what it can allocate).
    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(big.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(big));
    // And a hundred clients at once.
    let mut many: Vec<_> = (0..100).map(|_| ws_connect(server.addr(), "/ws")).collect();
    for (i, ws) in many.iter_mut().enumerate() {
        ws.send(Message::text(format!("client {i}"))).unwrap();
    }
    for (i, ws) in many.iter_mut().enumerate() {
        assert_eq!(ws_text(ws), format!("client {i}"));
    }

    let mut partial = ws_connect(server.addr(), "/ws_partial");
    let long = "0123456789".repeat(20);
    partial.send(Message::text(long.clone())).unwrap();
    assert_eq!(ws_text(&mut partial), long);

    let mut auth = ws_connect(server.addr(), "/auth?token=valid");
    assert_eq!(ws_text(&mut auth), "Welcome, authenticated client");
    auth.send(Message::text("after auth")).unwrap();
    assert_eq!(ws_text(&mut auth), "after auth");
    let mut refused = Client::connect(server.addr());
    refused.send(
        "GET /auth?token=wrong HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(refused.response().status, 401);

    let page = Client::connect(server.addr()).get("/");
    assert!(page.text().contains("new WebSocket"));
    assert_eq!(server.interrupt().code(), Some(0));
}

/// The browser test: headless Chromium loads the example's page, whose script connects to
/// `/ws`, sends a message, shows the echo and reports what the page shows back over the
/// socket; the server logs it. Skipped (with a note) when Chromium is not installed, unless
/// `HTTPD_REQUIRE_BROWSER` is set (CI installs Chromium and sets it).
#[test]
fn browser_shows_the_websocket_echo() {
    let Some(chromium) = chromium() else {
        return;
    };
    let mut server = Server::start("ws_echo_server");
    // Chromium's virtual time sometimes runs out before the page's WebSocket has opened (it
    // then closes every connection and exits, with no error in the server's log; seen here in
    // 1 of 70 runs of the build before the restructuring and 4 of 54 after): such a run is started again, up to three times.
    let mut attempts = 0;
    let (guard, profile) = loop {
        attempts += 1;
        let profile =
            std::env::temp_dir().join(format!("httpd-chromium-{}-{attempts}", std::process::id()));
        let browser = Command::new(chromium)
            .args(CHROMIUM_FLAGS)
            .args(["--virtual-time-budget=15000", "--dump-dom"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("http://127.0.0.1:{}/", server.port))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Chromium");
        let mut guard = KillOnDrop(Some(browser));
        if browser_delivered(&mut server, &mut guard) || attempts == 3 {
            break (guard, profile);
        }
        drop(guard);
        let _ = std::fs::remove_dir_all(&profile);
    };
    server.wait_for_log("/ws received: Hello from the browser");
    server.wait_for_log("/ws received: page shows: Hello from the browser");
    drop(guard);
    let _ = std::fs::remove_dir_all(&profile);
    assert_eq!(server.interrupt().code(), Some(0));
}

/// Waits until the server logs the browser's message (true), or the browser has exited
/// without it (false), within `WAIT`.
fn browser_delivered(server: &mut Server, browser: &mut KillOnDrop) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let slice = Duration::from_millis(500);
        if server.try_wait_for_log_within("/ws received: Hello from the browser", slice) {
            return true;
        }
        let exited = browser
            .0
            .as_mut()
            .is_some_and(|c| c.try_wait().is_ok_and(|s| s.is_some()));
        if exited {
            // Lines it may have caused are read before giving up on it.
            return server.try_wait_for_log_within("/ws received: Hello from the browser", slice);
        }
    }
    false
}

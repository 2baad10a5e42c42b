//! Shared helpers for the black-box tests: start a server on a loopback port, and a small raw
//! HTTP/1.1 client that parses responses strictly and never waits forever.
#![allow(dead_code, unreachable_pub)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use httpd::{ConfigBuilder, Server};

/// The longest any single read in a test may wait: a hung server fails the test, never hangs it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a server on 127.0.0.1 with an ephemeral port.
pub fn start(builder: ConfigBuilder) -> Server {
    let config = builder
        .bind_addr([127, 0, 0, 1].into())
        .port(0)
        .build()
        .expect("valid test config");
    Server::start(config).expect("server starts")
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was sent with `Transfer-Encoding: chunked`; the chunk sizes, in order.
    pub chunks: Option<Vec<usize>>,
}

impl Response {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The response says `Connection: close`.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A raw client connection with its own read buffer, over TCP or any other byte stream (the
/// TLS tests use a rustls client stream).
pub struct Client<S = TcpStream> {
    pub stream: S,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    /// A client over a connection made elsewhere.
    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client::over(stream)
    }
}

impl<S: Read + Write> Client<S> {
    /// A client over a connected stream (whose reads must time out, not hang).
    pub fn over(stream: S) -> Client<S> {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("send");
    }

    /// Sends `GET path` with a Host header.
    pub fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"));
        self.response()
    }

    /// Sends a request with a Content-Length body.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Response {
        self.send(format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ));
        self.send(body);
        self.response()
    }

    /// Reads one response; panics on a malformed one or on timeout.
    pub fn response(&mut self) -> Response {
        self.try_response().expect("a complete response")
    }

    /// Reads one response to a HEAD request (no body whatever the headers say).
    pub fn head_response(&mut self) -> Response {
        let (status, reason, headers) = self.read_head().expect("a response head");
        Response {
            status,
            reason,
            headers,
            body: Vec::new(),
            chunks: None,
        }
    }

    /// Reads one response; `Err` when the connection closes or times out first.
    pub fn try_response(&mut self) -> io::Result<Response> {
        let (status, reason, headers) = self.read_head()?;
        let mut resp = Response {
            status,
            reason,
            headers,
            body: Vec::new(),
            chunks: None,
        };
        if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            let mut sizes = Vec::new();
            loop {
                let line = self.read_line()?;
                let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("chunk size {line:?}"))
                    })?;
                if size == 0 {
                    // Trailers until the blank line.
                    while !self.read_line()?.is_empty() {}
                    break;
                }
                sizes.push(size);
                let data = self.read_exact_n(size)?;
                resp.body.extend_from_slice(&data);
                if !self.read_line()?.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "chunk not followed by CRLF",
                    ));
                }
            }
            resp.chunks = Some(sizes);
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().expect("numeric content-length");
            resp.body = self.read_exact_n(len)?;
        } else if !(100..200).contains(&status) && status != 204 && status != 304 {
            // No framing: the body runs to the close.
            resp.body = self.read_to_close()?;
        }
        Ok(resp)
    }

    fn read_head(&mut self) -> io::Result<(u16, String, Vec<(String, String)>)> {
        let status_line = self.read_line()?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if version != "HTTP/1.1" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("status line {status_line:?}"),
            ));
        }
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("status line {status_line:?}"),
            )
        })?;
        let reason = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("header {line:?}"))
            })?;
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        Ok((status, reason, headers))
    }

    /// One CRLF-terminated line, without the CRLF. Bare LF is a protocol error from a server.
    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..i].to_vec())
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "non-UTF-8 line"))?;
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            self.fill()?;
        }
    }

    fn read_exact_n(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn read_to_close(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match self.fill() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(std::mem::take(&mut self.buf))
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

impl Client {
    /// Whether the server closes the connection (EOF or reset) within `IO_TIMEOUT`, with no
    /// further bytes. Panics if bytes arrive instead.
    pub fn is_closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            panic!(
                "unexpected bytes before close: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => panic!("unexpected byte {:?} instead of a close", byte[0] as char),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                false
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Whether nothing arrives (and the connection stays open) for `wait`. For checking that
    /// the server is *not* answering; keep `wait` short.
    pub fn is_silent_for(&mut self, wait: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut byte = [0u8; 1];
        let silent = match self.stream.read(&mut byte) {
            Ok(0) => false,
            Ok(_) => {
                self.buf.push(byte[0]);
                false
            }
            Err(e) => e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut,
        };
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        silent
    }
}

/// Registers `GET /hello`, answering "Hello World!".
pub fn register_hello(server: &Server) {
    server
        .register(httpd::Handler::new("/hello", httpd::Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .unwrap();
}

/// Registers `GET /detach`, which detaches each request and hands it over on the returned
/// channel.
pub fn register_detach(server: &Server) -> std::sync::mpsc::Receiver<httpd::AsyncRequest> {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    server
        .register(httpd::Handler::new(
            "/detach",
            httpd::Method::Get,
            move |req| {
                tx.lock().unwrap().send(req.detach()?).unwrap();
                Ok(())
            },
        ))
        .unwrap();
    rx
}

/// Registers `GET /id`, which reports the request's session id on the returned channel and
/// answers with it as text.
pub fn register_id_handler(server: &Server) -> std::sync::mpsc::Receiver<httpd::SessionId> {
    let (tx, rx) = std::sync::mpsc::channel();
    server
        .register(httpd::Handler::new("/id", httpd::Method::Get, move |req| {
            let id = req.session_id();
            let _ = tx.send(id);
            req.send_str(&id.to_string())
        }))
        .unwrap();
    rx
}

/// Asks `/id` on `c` and returns the session id the handler saw.
pub fn session_id(
    c: &mut Client,
    ids: &std::sync::mpsc::Receiver<httpd::SessionId>,
) -> httpd::SessionId {
    let r = c.get("/id");
    assert_eq!(r.status, 200);
    let id = ids
        .recv_timeout(IO_TIMEOUT)
        .expect("handler reported its id");
    assert_eq!(r.text(), id.to_string());
    id
}

/// Runs `f` on the server thread and waits (bounded) for its result. Because the control queue
/// is FIFO, this also waits for every control message queued before it.
pub fn on_server_thread<T: Send + 'static>(
    server: &Server,
    f: impl FnOnce(&mut httpd::ServerContext<'_>) -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    server
        .queue_work(move |ctx| {
            let _ = tx.send(f(ctx));
        })
        .expect("work queued");
    rx.recv_timeout(IO_TIMEOUT).expect("queued work ran")
}

/// A WebSocket client (tungstenite, an independent implementation) connected to `path`.
pub fn ws_connect(addr: SocketAddr, path: &str) -> tungstenite::WebSocket<TcpStream> {
    use tungstenite::client::IntoClientRequest;
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let req = format!("ws://{addr}{path}").into_client_request().unwrap();
    let (ws, resp) = tungstenite::client(req, stream).expect("handshake");
    assert_eq!(resp.status(), 101);
    ws
}

/// The next message, which must be text.
pub fn ws_text(ws: &mut tungstenite::WebSocket<TcpStream>) -> String {
    match ws.read().expect("a message") {
        tungstenite::Message::Text(t) => t.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// `cargo` for a nested build (of the examples), without the variables cargo set for this
/// test's run: build scripts such as ring's track some of them (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`), and inherited they would make each nested build and the next `cargo test`
/// rebuild those crates in turn.
pub fn cargo_command() -> std::process::Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let per_package = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ];
        if per_package.iter().any(|p| name.starts_with(p))
            || name == "CARGO_PRIMARY_PACKAGE"
            || name == "CARGO_TARGET_TMPDIR"
            || name == "OUT_DIR"
        {
            cmd.env_remove(&*name);
        }
    }
    cmd
}

/// Runs `cargo build --quiet ARGS` for this test binary's profile and target directory (an
/// up-to-date build is a no-op) and returns that profile's directory, `target/<profile>`.
/// Panics when the build fails.
pub fn cargo_build(args: &[&str]) -> std::path::PathBuf {
    use std::path::Path;
    // target/<profile>/deps/<test>-<hash>
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps")
        .to_path_buf();
    let mut build = cargo_command();
    build.arg("build").arg("--quiet").args(args);
    if let Some(target_dir) = profile_dir.parent() {
        build.arg("--target-dir").arg(target_dir);
    }
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some(profile) => {
            build.args(["--profile", profile]);
        }
    }
    let status = build
        .stdin(std::process::Stdio::null())
        .status()
        .expect("running cargo build");
    assert!(status.success(), "cargo build {args:?} failed: {status}");
    profile_dir
}

/// The `/adder` log lines of ESP-IDF's persistent-sockets example, in order, for one `adder`
/// client run with `n`: PUT 0, POST 1..=n, GET, then the context freed at the close.
pub fn adder_log(n: i64) -> Vec<String> {
    let mut expected = vec![
        "/adder visitor count = 1".to_owned(),
        "/adder PUT handler read 0".to_owned(),
        "/adder PUT allocating new session".to_owned(),
    ];
    for i in 1..=n {
        expected.push(format!("/adder visitor count = {}", i + 1));
        expected.push(format!("/adder handler read {i}"));
    }
    expected.push(format!("/adder visitor count = {}", n + 2));
    expected.push(format!("/adder GET handler send {}", n * (n + 1) / 2));
    expected.push("/adder Free Context function called".to_owned());
    expected
}

/// Whether `program --version` runs; prints a note (the test is then skipped) when it does not.
pub fn installed(program: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("note: {program} is not installed; skipping this test");
    }
    found
}

/// A small deterministic generator (xorshift*) for randomized tests: the same seed, the same
/// run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

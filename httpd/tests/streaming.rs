//! Streamed response bodies (`Body`, `Request::send_body`) and a handler-declared
//! `Content-Length` followed by `send_chunk`: framing, HEAD, HTTP/1.0, truncation on short or
//! failing sources, keep-alive after a streamed body, and a client that reads nothing not
//! holding up the server.
mod util;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use httpd::{Body, Config, Error, ErrorCode, Handler, Method, Request, Server};
use util::*;

/// A server with one GET handler at `path`, and `/hello`.
fn serve(
    path: &'static str,
    f: impl Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync + 'static,
) -> Server {
    let server = start(Config::builder());
    server.register(Handler::new(path, Method::Get, f)).unwrap();
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .unwrap();
    server
}

fn assert_hello(c: &mut Client) {
    let r = c.get("/hello");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), "Hello World!");
}

/// The deterministic body pattern: not periodic in 256, so a shifted or repeated block shows.
fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8 ^ (i >> 12) as u8
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64).map(pattern_byte).collect()
}

fn assert_pattern(body: &[u8], len: usize) {
    assert_eq!(body.len(), len, "body length");
    let bad = (0..len).find(|&i| body[i] != pattern_byte(i as u64));
    assert_eq!(bad, None, "the first byte differing from the pattern");
}

/// A reader of pattern bytes; counts the bytes pulled from it.
struct Source {
    pos: u64,
    len: u64,
    fail: bool,
    pulled: Arc<AtomicU64>,
}

/// `len` pattern bytes, then EOF (or, if `fail`, an error).
fn source(len: u64, fail: bool) -> Source {
    let pulled = Arc::new(AtomicU64::new(0));
    Source {
        pos: 0,
        len,
        fail,
        pulled,
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len - self.pos;
        if left == 0 {
            return if self.fail {
                Err(io::Error::other("the source failed on purpose"))
            } else {
                Ok(0)
            };
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern_byte(self.pos + k as u64);
        }
        self.pos += n as u64;
        self.pulled.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Sends `GET path` and reads everything until the server closes (a reset counts as the
/// close; still open after `IO_TIMEOUT` fails the test). Returns the head and what follows.
fn raw_get(c: &mut Client, path: &str) -> (String, Vec<u8>) {
    c.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"));
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{path}: no close ({} bytes read): {e}", raw.len()),
        }
    }
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{path}: no head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8(raw[..end + 2].to_vec()).expect("UTF-8 head");
    (head, raw[end + 4..].to_vec())
}

fn head_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The error a client sees when the connection ends.
fn is_close(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
    )
}

fn count_headers(r: &Response, name: &str) -> usize {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .count()
}

#[test]
fn body_len_reports_known_and_unknown_lengths() {
    assert_eq!(Body::empty().len(), Some(0));
    assert_eq!(Body::from(vec![1u8, 2, 3]).len(), Some(3));
    assert_eq!(Body::from(&b"ab"[..]).len(), Some(2));
    assert_eq!(Body::from("abc").len(), Some(3));
    assert_eq!(Body::from(String::from("abcd")).len(), Some(4));
    assert_eq!(Body::from_reader(io::empty(), Some(7)).len(), Some(7));
    assert_eq!(Body::from_reader(io::empty(), None).len(), None);
}

#[test]
fn bodies_from_bytes_are_sent_with_content_length() {
    let server = serve("/b", |req| {
        let body: Body = match req.query() {
            Some("vec") => vec![0u8, 1, 2, 255, b'\r', b'\n'].into(),
            Some("static") => Body::from(&b"static bytes"[..]),
            Some("str") => "a str".into(),
            Some("string") => format!("a {}", "String").into(),
            _ => Body::empty(),
        };
        req.send_body(body)
    });
    let mut c = Client::connect(server.local_addr());
    let cases: [(&str, &[u8]); 5] = [
        ("vec", &[0, 1, 2, 255, b'\r', b'\n']),
        ("static", b"static bytes"),
        ("str", b"a str"),
        ("string", b"a String"),
        ("empty", b""),
    ];
    for (query, want) in cases {
        let r = c.get(&format!("/b?{query}"));
        assert_eq!(r.status, 200, "{query}: {r:?}");
        let len = want.len().to_string();
        assert_eq!(r.header("content-length"), Some(len.as_str()), "{query}");
        assert_eq!(r.header("transfer-encoding"), None, "{query}");
        assert_eq!(r.body, want, "{query}");
        assert!(!r.closes(), "{query}");
    }
    assert_hello(&mut c);
}

#[test]
fn a_reader_with_a_known_length_is_streamed_whole() {
    const LEN: u64 = 5 << 20;
    let server = serve("/big", |req| {
        req.send_body(Body::from_reader(source(LEN, false), Some(LEN)))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/big");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(LEN.to_string().as_str()));
    assert_eq!(r.header("transfer-encoding"), None);
    assert_pattern(&r.body, LEN as usize);
    assert_hello(&mut c);
}

#[test]
fn a_reader_with_an_unknown_length_is_sent_chunked() {
    const LEN: u64 = 300_000;
    let server = serve("/chunked", |req| {
        req.set_type("application/octet-stream")?;
        req.send_body(Body::from_reader(source(LEN, false), None))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/chunked");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let chunks = r.chunks.as_ref().expect("chunked framing");
    assert!(chunks.iter().all(|&n| n > 0));
    assert_pattern(&r.body, LEN as usize);
    assert!(!r.closes());
    assert_hello(&mut c);
}

/// A file under the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[test]
fn a_file_is_sent_with_its_length() {
    const LEN: usize = (1 << 20) + 13;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let file = TempFile(std::env::temp_dir().join(format!(
        "httpd-streaming-{}-{nanos}.bin",
        std::process::id()
    )));
    fs::write(&file.0, pattern(LEN)).unwrap();
    let path = file.0.clone();
    let server = serve("/file", move |req| {
        let f = File::open(&path).map_err(Error::Io)?;
        let body = Body::from_file(f).map_err(Error::Io)?;
        req.set_header("X-Body-Len", &format!("{:?}", body.len()))?;
        req.send_body(body)
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/file");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-body-len"),
        Some(format!("Some({LEN})").as_str())
    );
    assert_eq!(r.header("content-length"), Some(LEN.to_string().as_str()));
    assert_eq!(r.header("transfer-encoding"), None);
    assert_pattern(&r.body, LEN);
    assert_hello(&mut c);
    drop(file);
}

#[test]
fn http10_with_an_unknown_length_is_unframed_and_closes() {
    const LEN: u64 = 100_000;
    let server = serve("/s", |req| {
        req.send_body(Body::from_reader(source(LEN, false), None))
    });
    for request in [
        "GET /s HTTP/1.0\r\n\r\n",
        "GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ] {
        let mut c = Client::connect(server.local_addr());
        c.send(request);
        let r = c.response(); // no framing: the body runs to the close
        assert_eq!(r.status, 200, "{request:?}");
        assert_eq!(r.header("transfer-encoding"), None, "{request:?}");
        assert_eq!(r.header("content-length"), None, "{request:?}");
        assert_ne!(r.header("connection"), Some("keep-alive"), "{request:?}");
        assert_pattern(&r.body, LEN as usize);
        assert!(c.is_closed());
    }
}

#[test]
fn head_sends_no_body_bytes_and_keeps_the_known_length() {
    let server = serve("/doc", |req| {
        let len = if req.query() == Some("unknown") {
            None
        } else {
            Some(100_000)
        };
        req.send_body(Body::from_reader(source(100_000, false), len))
    });
    let mut c = Client::connect(server.local_addr());
    c.send("HEAD /doc HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("100000"));
    assert!(!r.closes());
    // No body bytes: the next response parses from its first byte.
    assert_hello(&mut c);
    c.send("HEAD /doc?unknown HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 200);
    assert!(!r.closes());
    assert_hello(&mut c);
}

#[test]
fn readers_not_matching_the_announced_length() {
    let server = serve("/t", |req| {
        let (src, len) = match req.query() {
            Some("short") => (source(1000, false), Some(5000)),
            Some("long") => (source(8000, false), Some(5000)),
            Some("fail-known") => (source(1000, true), Some(5000)),
            _ => (source(1000, true), None),
        };
        req.send_body(Body::from_reader(src, len))
    });
    // More bytes than announced: only the announced ones are sent; then either the
    // connection goes on or it closes cleanly.
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t?long");
    assert_eq!(r.header("content-length"), Some("5000"));
    assert_pattern(&r.body, 5000);
    c.send("GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
    match c.try_response() {
        Ok(r) => assert_eq!((r.status, r.text().as_str()), (200, "Hello World!")),
        Err(e) => assert!(is_close(&e), "extra bytes after the body? {e:?}"),
    }
    // Fewer bytes than announced: all of them, then the close.
    let (head, body) = raw_get(&mut Client::connect(server.local_addr()), "/t?short");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(head_header(&head, "content-length"), Some("5000"));
    assert_pattern(&body, 1000);
    // A read error: a prefix of the body, then the close.
    let (head, body) = raw_get(&mut Client::connect(server.local_addr()), "/t?fail-known");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(head_header(&head, "content-length"), Some("5000"));
    assert!(body.len() <= 1000, "{} bytes from 1000", body.len());
    assert_pattern(&body, body.len());
    // Chunked: no last chunk that would make the body look complete.
    let mut c = Client::connect(server.local_addr());
    c.send("GET /t HTTP/1.1\r\nHost: test\r\n\r\n");
    let err = c.try_response().expect_err("a truncated response parsed");
    assert!(is_close(&err), "expected a close, got {err:?}");
    // The server goes on.
    assert_hello(&mut Client::connect(server.local_addr()));
}

#[test]
fn keep_alive_continues_after_streamed_bodies() {
    let server = serve("/s", |req| {
        let len = (req.query() == Some("known")).then_some(70_000);
        req.send_body(Body::from_reader(source(70_000, false), len))
    });
    let mut c = Client::connect(server.local_addr());
    for _ in 0..2 {
        let r = c.get("/s?known");
        assert_eq!(r.header("content-length"), Some("70000"));
        assert_pattern(&r.body, 70_000);
        assert!(!r.closes());
        let r = c.get("/s");
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert_pattern(&r.body, 70_000);
        assert!(!r.closes());
        assert_hello(&mut c);
    }
}

#[test]
fn a_client_not_reading_a_huge_body_does_not_stop_the_server() {
    const HUGE: u64 = 64 << 20;
    let src = source(HUGE, false);
    let pulled = src.pulled.clone();
    let src = Mutex::new(Some(src));
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = serve("/huge", move |req| {
        let s = src.lock().unwrap().take().expect("one request");
        req.send_body(Body::from_reader(s, Some(HUGE)))?;
        tx.lock().unwrap().send(()).unwrap();
        Ok(())
    });
    let addr = server.local_addr();
    let mut a = Client::connect(addr);
    a.send("GET /huge HTTP/1.1\r\nHost: test\r\n\r\n");
    rx.recv_timeout(IO_TIMEOUT)
        .expect("the /huge handler returned");
    // A reads nothing; B is served anyway (each read bounded by IO_TIMEOUT).
    let mut b = Client::connect(addr);
    assert_hello(&mut b);
    assert_hello(&mut b);
    let so_far = pulled.load(Ordering::Relaxed);
    // Pulled as the socket drains: socket buffers hold far less than the whole body.
    assert!(
        so_far < HUGE,
        "all {so_far} bytes pulled from the source for a client that reads nothing"
    );
    // A still gets the whole body, intact.
    let r = a.response();
    assert_eq!(r.header("content-length"), Some(HUGE.to_string().as_str()));
    assert_pattern(&r.body, HUGE as usize);
}

#[test]
fn declared_content_length_sends_chunks_unframed() {
    let server = serve("/declared", |req| {
        req.set_header("Content-Length", "11")?;
        req.send_chunk("hello ")?;
        req.send_chunk("world")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/declared");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("11"));
    assert_eq!(count_headers(&r, "content-length"), 1, "{r:?}");
    assert_eq!(r.header("transfer-encoding"), None);
    assert_eq!(r.chunks, None);
    assert_eq!(r.text(), "hello world");
    assert!(!r.closes());
    // Exactly 11 bytes (no last-chunk marker): the next response parses.
    assert_hello(&mut c);
}

#[test]
fn a_chunk_exceeding_the_declared_length_is_refused() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = serve("/over", move |req| {
        req.set_header("Content-Length", "5")?;
        req.send_chunk("abc")?;
        let over = req.send_chunk("defg");
        tx.lock()
            .unwrap()
            .send(matches!(over, Err(Error::LengthMismatch)))
            .unwrap();
        Ok(())
    });
    let (head, body) = raw_get(&mut Client::connect(server.local_addr()), "/over");
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok(true), "LengthMismatch");
    // The refused chunk sent nothing; 3 of 5 bytes, then the close.
    assert_eq!(head_header(&head, "content-length"), Some("5"));
    assert_eq!(body, b"abc");
}

#[test]
fn a_handler_sending_less_than_the_declared_length_closes() {
    let server = serve("/under", |req| {
        req.set_header("Content-Length", "10")?;
        req.send_chunk("abc")
    });
    let (head, body) = raw_get(&mut Client::connect(server.local_addr()), "/under");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(head_header(&head, "content-length"), Some("10"));
    assert_eq!(head_header(&head, "transfer-encoding"), None);
    assert_eq!(body, b"abc");
}

#[test]
fn invalid_length_headers_are_refused() {
    let server = serve("/bad", |req| {
        let refused = [
            req.set_header("Content-Length", "abc"),
            req.set_header("Content-Length", "12x"),
            req.set_header("Content-Length", "-1"),
            req.set_header("Transfer-Encoding", "chunked"),
            req.set_header("transfer-encoding", "identity"),
        ]
        .map(|r| matches!(r, Err(Error::InvalidHeader)));
        // None of them took effect: an ordinary response follows.
        req.send_str(&format!("{refused:?}"))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/bad");
    let want = "[true, true, true, true, true]";
    assert_eq!(r.text(), want);
    assert_eq!(
        r.header("content-length"),
        Some(want.len().to_string().as_str())
    );
    assert_eq!(r.header("transfer-encoding"), None);
    assert_hello(&mut c);
}

#[test]
fn send_checks_the_declared_length() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = serve("/send", move |req| {
        req.set_header("Content-Length", "5")?;
        match req.query() {
            Some("right") => return req.send("12345"),
            Some("empty") => return req.send(b""), // fine for HEAD only
            _ => {}
        }
        let r = req.send("1234");
        tx.lock()
            .unwrap()
            .send(matches!(r, Err(Error::LengthMismatch)))
            .unwrap();
        r
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/send?right");
    assert_eq!(r.text(), "12345");
    assert_eq!(count_headers(&r, "content-length"), 1, "{r:?}");
    assert!(!r.closes());
    // HEAD: an empty body is fine and the head carries the declared length.
    for query in ["right", "empty"] {
        c.send(format!("HEAD /send?{query} HTTP/1.1\r\nHost: test\r\n\r\n"));
        let r = c.head_response();
        assert_eq!(r.status, 200, "{query}: {r:?}");
        assert_eq!(r.header("content-length"), Some("5"), "{query}");
        assert!(!r.closes(), "{query}");
    }
    assert_hello(&mut c);
    // The wrong length is refused; the handler fails with it, so the connection closes and
    // no 200 with the wrong body is seen.
    c.send("GET /send HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok(true), "LengthMismatch");
    match c.try_response() {
        Ok(r) => {
            assert_eq!(r.status, 500, "{r:?}");
            assert!(r.closes(), "{r:?}");
            assert!(c.is_closed());
        }
        Err(e) => assert!(is_close(&e), "{e:?}"),
    }
}

#[test]
fn other_sends_after_send_body_are_refused() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = serve("/once", move |req| {
        req.send_body(Body::from_reader(source(10_000, false), None))?;
        let report = [
            matches!(req.send(b"x"), Err(Error::ResponseStarted)),
            matches!(req.send_str("x"), Err(Error::ResponseStarted)),
            matches!(req.send_chunk("x"), Err(Error::ResponseStarted)),
            matches!(req.send_body("x"), Err(Error::ResponseStarted)),
            matches!(
                req.send_err(ErrorCode::NotFound, None),
                Err(Error::ResponseStarted)
            ),
            matches!(req.set_header("X-Late", "1"), Err(Error::ResponseStarted)),
        ];
        tx.lock().unwrap().send(report).unwrap();
        Ok(())
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/once");
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok([true; 6]));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-late"), None);
    assert_pattern(&r.body, 10_000);
    assert_hello(&mut c);
}

//! Request bodies over real sockets: Content-Length bodies small enough to be buffered before
//! the handler runs and large ones streamed through `recv`, chunked bodies (extensions,
//! trailers), bodies trickled one byte per write, `std::io::Read`, draining what a handler did
//! not read, `Expect: 100-continue`, `recv` timing out, and clients that vanish mid-body.
mod util;

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use httpd::{Config, Error, Handler, Method, Request, Server};
use util::{start, Client, Response, IO_TIMEOUT};

/// Larger than the default 16 KiB `body_buffer_len`, smaller than the drain limit (1 MiB).
const STREAMED: usize = 200 * 1024;
const MIB: usize = 1024 * 1024;

/// Deterministic, non-repeating-looking body bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 253) as u8).collect()
}

/// FNV-1a, to compare large bodies through a short report.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn digest_text(data: &[u8]) -> String {
    format!("len={} fnv={:016x}", data.len(), fnv(data))
}

/// Reads the whole body with `recv` into a `buf_len` buffer; returns it and the number of
/// non-empty reads.
fn recv_all(req: &mut Request<'_>, buf_len: usize) -> Result<(Vec<u8>, usize), Error> {
    let mut body = Vec::new();
    let mut buf = vec![0u8; buf_len];
    let mut pieces = 0;
    loop {
        let n = req.recv(&mut buf)?;
        if n == 0 {
            return Ok((body, pieces));
        }
        pieces += 1;
        body.extend_from_slice(&buf[..n]);
    }
}

/// `/echo` sends the body back; `/digest` reports its length, hash and number of reads;
/// `/ignore` reads nothing; `/get` answers GETs.
fn body_server(builder: httpd::ConfigBuilder) -> Server {
    let server = start(builder);
    server
        .register(Handler::new("/echo", Method::Any, |req| {
            let (body, _) = recv_all(req, 4096)?;
            req.set_type("application/octet-stream")?;
            req.send(&body)
        }))
        .unwrap();
    server
        .register(Handler::new("/digest", Method::Any, |req| {
            let (body, pieces) = recv_all(req, 16 * 1024)?;
            let report = format!("{} pieces={pieces}", digest_text(&body));
            req.send_str(&report)
        }))
        .unwrap();
    server
        .register(Handler::new("/ignore", Method::Any, |req| {
            req.send_str("ignored")
        }))
        .unwrap();
    server
        .register(Handler::new("/get", Method::Get, |req| req.send_str("got")))
        .unwrap();
    server
}

fn assert_next_request_works(c: &mut Client) {
    let r = c.get("/get");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), "got");
    assert!(!r.closes());
}

fn digest_of(r: &Response) -> (String, usize) {
    assert_eq!(r.status, 200, "{r:?}");
    let text = r.text();
    let (digest, pieces) = text.rsplit_once(" pieces=").expect("digest report");
    (digest.to_owned(), pieces.parse().unwrap())
}

/// Encodes `body` as chunks of the given sizes (cycled), some with extensions and some with
/// upper-case hex sizes, then the last chunk and a trailer.
fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    for (i, &size) in sizes.iter().cycle().enumerate() {
        if at == body.len() {
            break;
        }
        let n = size.min(body.len() - at);
        match i % 3 {
            0 => out.extend_from_slice(format!("{n:x}\r\n").as_bytes()),
            1 => out.extend_from_slice(format!("{n:X};ext={i}\r\n").as_bytes()),
            _ => out.extend_from_slice(format!("{n:x} ;name=\"v\";flag\r\n").as_bytes()),
        }
        out.extend_from_slice(&body[at..at + n]);
        out.extend_from_slice(b"\r\n");
        at += n;
    }
    out.extend_from_slice(b"0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n");
    out
}

#[test]
fn small_content_length_body_is_echoed() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let body = pattern(100);
    let r = c.request("POST", "/echo", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    let r = c.request("PUT", "/echo", b"second");
    assert_eq!(r.body, b"second");
    assert_next_request_works(&mut c);
}

#[test]
fn body_exactly_the_buffer_size_is_echoed() {
    let server = body_server(Config::builder().body_buffer_len(4096));
    let mut c = Client::connect(server.local_addr());
    for len in [4095, 4096, 4097] {
        let body = pattern(len);
        let r = c.request("POST", "/echo", &body);
        assert_eq!(r.body.len(), len);
        assert_eq!(r.body, body, "len {len}");
    }
    assert_next_request_works(&mut c);
}

#[test]
fn one_mib_content_length_body_is_streamed_through_recv() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let body = pattern(MIB);
    let (digest, pieces) = digest_of(&c.request("POST", "/digest", &body));
    assert_eq!(digest, digest_text(&body));
    assert!(pieces >= MIB / (16 * 1024), "pieces={pieces}");
    let r = c.request("POST", "/echo", &body);
    assert_eq!(r.body.len(), body.len());
    assert!(r.body == body, "echoed 1 MiB body differs");
    assert_next_request_works(&mut c);
}

#[test]
fn handler_of_a_large_body_runs_before_the_body_has_arrived() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = start(Config::builder());
    server
        .register(Handler::new("/stream", Method::Post, move |req| {
            tx.lock().unwrap().send(()).unwrap();
            let (body, _) = recv_all(req, 8192)?;
            req.send_str(&digest_text(&body))
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    let body = pattern(MIB);
    c.send(format!(
        "POST /stream HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    c.send(&body[..1000]);
    // The handler starts with only 1000 bytes sent.
    rx.recv_timeout(IO_TIMEOUT)
        .expect("handler called before the body is complete");
    c.send(&body[1000..]);
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), digest_text(&body));
}

#[test]
fn small_chunked_body_with_extensions_and_trailers() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send(
        "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;ext=1\r\nhello\r\n6;name=\"quoted value\"\r\n world\r\nB\r\n 0123456789\r\n\
         0\r\nX-Trailer: t\r\n\r\n",
    );
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world 0123456789");
    // The trailers were consumed: the next request parses.
    assert_next_request_works(&mut c);
}

#[test]
fn large_chunked_body_is_decoded() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let body = pattern(MIB + 12345);
    let encoded = chunked(&body, &[1, 10, 100, 1000, 4095, 8192, 16000, 20000, 70000]);
    c.send("POST /digest HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(&encoded);
    let (digest, _) = digest_of(&c.response());
    assert_eq!(digest, digest_text(&body));
    assert_next_request_works(&mut c);
}

#[test]
fn content_length_request_sent_one_byte_per_write() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let body = pattern(300);
    let mut request = b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 300\r\n\r\n".to_vec();
    request.extend_from_slice(&body);
    for b in &request {
        c.send([*b]);
    }
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert_next_request_works(&mut c);
}

#[test]
fn chunked_request_sent_one_byte_per_write() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let body = pattern(500);
    let mut request =
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(&chunked(&body, &[1, 7, 64, 200]));
    for b in &request {
        c.send([*b]);
    }
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert_next_request_works(&mut c);
}

#[test]
fn request_implements_std_io_read() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/read", Method::Post, |req| {
            let mut body = Vec::new();
            req.read_to_end(&mut body).map_err(Error::Io)?;
            let report = format!("{} chunked={}", digest_text(&body), req.is_chunked());
            req.send_str(&report)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    for len in [0, 10, STREAMED] {
        let body = pattern(len);
        let r = c.request("POST", "/read", &body);
        assert_eq!(r.text(), format!("{} chunked=false", digest_text(&body)));
    }
    let body = pattern(STREAMED);
    c.send("POST /read HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunked(&body, &[3000, 17]));
    let r = c.response();
    assert_eq!(r.text(), format!("{} chunked=true", digest_text(&body)));
}

#[test]
fn unread_small_body_is_drained_before_the_next_request() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let r = c.request("POST", "/ignore", &pattern(100));
    assert_eq!(r.text(), "ignored");
    assert!(!r.closes());
    assert_next_request_works(&mut c);
}

#[test]
fn unread_streamed_body_is_drained_before_the_next_request() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let r = c.request("POST", "/ignore", &pattern(STREAMED));
    assert_eq!(r.text(), "ignored");
    assert!(!r.closes(), "{r:?}");
    assert_next_request_works(&mut c);
}

#[test]
fn unread_chunked_bodies_are_drained_before_the_next_request() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    for len in [10, STREAMED] {
        c.send("POST /ignore HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
        c.send(chunked(&pattern(len), &[1000, 33]));
        let r = c.response();
        assert_eq!(r.text(), "ignored");
        assert!(!r.closes(), "{r:?}");
        assert_next_request_works(&mut c);
    }
}

#[test]
fn unread_body_beyond_the_drain_limit_closes_the_connection() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    // 4 MiB announced, a little sent: draining it is not worth it, the server closes.
    c.send("POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 4194304\r\n\r\n");
    c.send(pattern(2000));
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ignored");
    assert!(r.closes(), "the response says it closes: {r:?}");
    assert!(c.is_closed());
}

#[test]
fn handler_reading_part_of_the_body_leaves_the_rest_drained() {
    let server = body_server(Config::builder());
    server
        .register(Handler::new("/part", Method::Post, |req| {
            let mut first = [0u8; 10];
            let mut got = 0;
            while got < first.len() {
                let n = req.recv(&mut first[got..])?;
                assert!(n > 0, "body ended early");
                got += n;
            }
            req.send(first)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    for len in [1000, STREAMED] {
        let body = pattern(len);
        let r = c.request("POST", "/part", &body);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, &body[..10], "len {len}");
        assert!(!r.closes());
        assert_next_request_works(&mut c);
    }
}

#[test]
fn expect_continue_for_a_large_body_gets_100_before_the_final_response() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let body = pattern(100 * 1024);
    c.send(format!(
        "POST /digest HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    // Nothing of the body is sent until the server asks for it.
    let interim = c.response();
    assert_eq!(interim.status, 100, "{interim:?}");
    assert_eq!(interim.reason, "Continue");
    assert!(interim.body.is_empty());
    c.send(&body);
    let (digest, _) = digest_of(&c.response());
    assert_eq!(digest, digest_text(&body));
    assert_next_request_works(&mut c);
}

#[test]
fn expect_continue_for_a_small_body_gets_100_before_the_final_response() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send("POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n");
    let interim = c.response();
    assert_eq!(interim.status, 100, "{interim:?}");
    c.send("0123456789");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "0123456789");
    assert_next_request_works(&mut c);
}

#[test]
fn expect_continue_with_the_whole_body_already_sent_is_answered() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    // A client may send the body without waiting for 100: the server must cope with both
    // the interim response and the final one (or only the final one).
    c.send(
        "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
    );
    let mut r = c.response();
    if r.status == 100 {
        r = c.response();
    }
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello");
    assert_next_request_works(&mut c);
}

#[test]
fn expect_continue_refused_by_a_handler_that_does_not_read_sends_no_100() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send(
        "POST /ignore HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n",
    );
    // The final response comes straight away, without an interim 100.
    let r = c.response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), "ignored");
    // The client may or may not send the body now: the connection cannot be reused, and the
    // response must say so.
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

#[test]
fn expect_continue_for_a_chunked_body_gets_100_before_the_final_response() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send(
        "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
    );
    let interim = c.response();
    assert_eq!(interim.status, 100, "{interim:?}");
    c.send("5\r\nhello\r\n0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), "hello");
    assert!(!r.closes(), "{r:?}");
    assert_next_request_works(&mut c);
}

#[test]
fn expect_continue_from_an_http10_client_gets_no_interim_response() {
    // RFC 9110 15.2: a server must not send a 1xx response to an HTTP/1.0 client.
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let body = pattern(100 * 1024);
    c.send(format!(
        "POST /digest HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    c.send(&body);
    let r = c.response();
    assert_eq!(
        r.status, 200,
        "an interim response went to an HTTP/1.0 client: {r:?}"
    );
    let (digest, _) = digest_of(&r);
    assert_eq!(digest, digest_text(&body));
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

#[test]
fn recv_timeout_answers_408_and_closes() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = start(Config::builder().recv_wait_timeout(Duration::from_millis(300)));
    server
        .register(Handler::new("/slow", Method::Post, move |req| {
            let mut buf = [0u8; 4096];
            let mut got = 0;
            let err = loop {
                match req.recv(&mut buf) {
                    Ok(0) => break None,
                    Ok(n) => got += n,
                    Err(e) => break Some(e),
                }
            };
            tx.lock().unwrap().send((got, format!("{err:?}"))).unwrap();
            match err {
                Some(e) => Err(e),
                None => req.send_str("complete?"),
            }
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n");
    c.send(pattern(30000));
    let r = c.response();
    let (got, err) = rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(got, 30000);
    assert_eq!(err, "Some(Timeout)");
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(r.reason, "Request Timeout");
    assert_eq!(r.text(), "Server closed this connection");
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

#[test]
fn client_closing_mid_body_fails_recv_and_the_server_carries_on() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = body_server(Config::builder());
    server
        .register(Handler::new("/upload", Method::Post, move |req| {
            let result = recv_all(req, 4096);
            let report = match &result {
                Ok((body, _)) => format!("ok {}", body.len()),
                Err(e) => format!("{e:?}"),
            };
            tx.lock().unwrap().send(report).unwrap();
            result?;
            req.send_str("complete?")
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n");
    c.send(pattern(1000));
    c.stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rx.recv_timeout(IO_TIMEOUT).unwrap(), "ConnectionClosed");
    // Whatever the server says (if anything) it closes.
    match c.try_response() {
        Ok(r) => {
            assert!(r.closes(), "{r:?}");
            assert!(c.is_closed());
        }
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "expected a close, got {e:?}"
        ),
    }
    // Other clients are served.
    let mut other = Client::connect(server.local_addr());
    assert_next_request_works(&mut other);
}

#[test]
fn client_closing_mid_small_body_closes_without_calling_the_handler() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    // A recv timeout longer than the client's read timeout: only noticing the EOF closes the
    // connection in time.
    let server = body_server(Config::builder().recv_wait_timeout(Duration::from_secs(30)));
    server
        .register(Handler::new("/upload", Method::Post, move |req| {
            tx.lock().unwrap().send(()).unwrap();
            req.send_str("called")
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n0123456789");
    c.stream.shutdown(Shutdown::Write).unwrap();
    assert!(c.is_closed(), "the server did not notice the client's EOF");
    assert!(rx.try_recv().is_err(), "handler ran for an incomplete body");
    let mut other = Client::connect(server.local_addr());
    assert_next_request_works(&mut other);
}

#[test]
fn body_and_close_arriving_together_close_without_calling_the_handler() {
    let (called_tx, called_rx) = mpsc::channel();
    let called_tx = Mutex::new(called_tx);
    let (entered_tx, entered_rx) = mpsc::channel();
    let entered_tx = Mutex::new(entered_tx);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let server = body_server(Config::builder().recv_wait_timeout(Duration::from_secs(30)));
    server
        .register(Handler::new("/upload", Method::Post, move |req| {
            called_tx.lock().unwrap().send(()).unwrap();
            req.send_str("called")
        }))
        .unwrap();
    // Handlers run on the server thread: this one holds the loop while the other client
    // sends, so its bytes and its FIN are all there when the loop looks at it.
    server
        .register(Handler::new("/stall", Method::Get, move |req| {
            entered_tx.lock().unwrap().send(()).unwrap();
            let _ = release_rx.lock().unwrap().recv_timeout(IO_TIMEOUT);
            req.send_str("stalled")
        }))
        .unwrap();
    let mut staller = Client::connect(server.local_addr());
    staller.send("GET /stall HTTP/1.1\r\nHost: h\r\n\r\n");
    entered_rx.recv_timeout(IO_TIMEOUT).unwrap();

    let mut c = Client::connect(server.local_addr());
    c.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n0123456789");
    c.stream.shutdown(Shutdown::Write).unwrap();
    release_tx.send(()).unwrap();
    assert_eq!(staller.response().text(), "stalled");

    assert!(c.is_closed(), "the server did not notice the client's EOF");
    assert!(
        called_rx.try_recv().is_err(),
        "handler ran for an incomplete body"
    );
}

#[test]
fn malformed_chunked_body_is_answered_400_and_closed() {
    let server = body_server(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.text(), "Bad request syntax");
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

//! A table of malformed and tricky requests, each on a fresh connection, with the status the
//! server must answer and whether the connection survives. A canary connection, open across
//! the whole table, must keep working after every case: bad input never harms other sessions.
mod util;

use httpd::{Config, Handler, Method, Server};
use util::{start, Client};

/// What the server must do with a request.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// This status, and the connection stays usable for another request.
    Open(u16),
    /// This status, then the server closes the connection.
    Closed(u16),
}

fn server() -> Server {
    let server = start(
        // ESP-IDF's URI and header limits, so the table can probe both edges cheaply.
        Config::builder()
            .max_body_len(Some(1024 * 1024))
            .max_req_headers(16)
            .max_uri_len(512)
            .max_req_hdr_len(1024),
    );
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .unwrap();
    server
        .register(Handler::new("/echo", Method::Post, |req| {
            let body = req.read_body(2 * 1024 * 1024)?;
            req.send(&body)
        }))
        .unwrap();
    server
}

fn cases() -> Vec<(String, Vec<u8>, Want)> {
    use Want::*;
    let ok_uri = format!("/{}", "a".repeat(511));
    let long_uri = format!("/{}", "a".repeat(512));
    // Header section = "Host: x\r\n" (9 bytes) + "X: <value>\r\n"; the limit is 1024.
    let at_limit = format!("Host: x\r\nX: {}\r\n", "v".repeat(1024 - 9 - 5));
    let over_limit = format!("Host: x\r\nX: {}\r\n", "v".repeat(1024 - 9 - 4));
    let many_headers: String = (0..17).map(|i| format!("H{i}: v\r\n")).collect();
    let mut table: Vec<(&str, String, Want)> = vec![
        // Well-formed but tricky: served, connection kept.
        ("plain", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(200)),
        ("bare LF line endings", "GET /hello HTTP/1.1\nHost: x\n\n".into(), Open(200)),
        ("leading empty line", "\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(200)),
        ("absolute-form target", "GET http://x/hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(200)),
        ("absolute-form with query", "GET http://x:80/hello?a=b HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(200)),
        ("empty query", "GET /hello? HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(200)),
        ("empty Host value", "GET /hello HTTP/1.1\r\nHost:\r\n\r\n".into(), Open(200)),
        ("obs-text in a value", "GET /hello HTTP/1.1\r\nHost: x\r\nX: caf\u{e9}\r\n\r\n".into(), Open(200)),
        ("tab in a value", "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\tb\r\n\r\n".into(), Open(200)),
        ("header names any case", "GET /hello HTTP/1.1\r\nhOsT: x\r\n\r\n".into(), Open(200)),
        ("HTTP/1.0 keep-alive", "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".into(), Open(200)),
        ("uri at max_uri_len", format!("GET {ok_uri} HTTP/1.1\r\nHost: x\r\n\r\n"), Open(404)),
        ("header section at max_req_hdr_len", format!("GET /hello HTTP/1.1\r\n{at_limit}\r\n"), Open(200)),
        ("unknown path", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(404)),
        ("percent-encoded path is not decoded", "GET /hel%6Co HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(404)),
        ("wrong method", "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(405)),
        ("HEAD via GET handler", "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(200)),
        ("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(204)),
        ("OPTIONS on a path with handlers", "OPTIONS /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(204)),
        ("OPTIONS on an unknown path", "OPTIONS /nope HTTP/1.1\r\nHost: x\r\n\r\n".into(), Open(404)),
        ("HTTP/1.2 served as HTTP/1.1", "GET /hello HTTP/1.2\r\nHost: x\r\n\r\n".into(), Open(200)),
        ("HTTP/1.9 served as HTTP/1.1", "GET /hello HTTP/1.9\r\nHost: x\r\n\r\n".into(), Open(200)),
        ("Host with port", "GET /hello HTTP/1.1\r\nHost: x:8080\r\n\r\n".into(), Open(200)),
        ("Host IPv6 literal", "GET /hello HTTP/1.1\r\nHost: [::1]:80\r\n\r\n".into(), Open(200)),
        ("chunk extension with BWS and quoted value", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 ; a = \"q;x\"\r\nhello\r\n0\r\n\r\n".into(), Open(200)),
        ("body", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".into(), Open(200)),
        ("Content-Length with OWS", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:  5 \r\n\r\nhello".into(), Open(200)),
        ("repeated equal Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello".into(), Open(200)),
        ("Content-Length list of equal values", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello".into(), Open(200)),
        ("chunked body", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".into(), Open(200)),
        ("chunk extensions", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c\r\nhello\r\n0;x\r\n\r\n".into(), Open(200)),
        ("chunked trailers", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\r\nU: 2\r\n\r\n".into(), Open(200)),
        ("uppercase chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n".into(), Open(200)),
        ("unread body drained", "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\njunk".into(), Open(200)),
        ("unread chunked body drained", "GET /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\njunk\r\n0\r\n\r\n".into(), Open(200)),
        // Requests the server serves but must then close.
        ("Connection: close", "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(), Closed(200)),
        ("HTTP/1.0 default", "GET /hello HTTP/1.0\r\n\r\n".into(), Closed(200)),
        // Malformed request lines.
        ("bare CR in request line", "GET /hello HTTP/1.1\rHost: x\r\n\r\n".into(), Closed(400)),
        ("tabs as separators", "GET\t/hello\tHTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("double space", "GET  /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("trailing space", "GET /hello HTTP/1.1 \r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("missing target", "GET HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("HTTP/0.9 request", "GET /hello\r\n\r\n".into(), Closed(400)),
        ("relative target", "GET hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("asterisk with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("lowercase version", "GET /hello http/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("garbage version", "GET /hello HTTX/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("control char in target", "GET /he\x01llo HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("DEL in target", "GET /he\x7fllo HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("NUL in method", "G\0T /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("HTTP/2.0", "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n".into(), Closed(505)),
        ("HTTP/1.10", "GET /hello HTTP/1.10\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("space inside target", "GET /hel lo HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("raw non-ASCII in target", "GET /h\u{e9}llo HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("fragment in target", "GET /hello#top HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(400)),
        ("CONNECT without a handler", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n".into(), Closed(501)),
        ("HTTP/3.0", "GET /hello HTTP/3.0\r\nHost: x\r\n\r\n".into(), Closed(505)),
        ("unknown method", "BREW /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(501)),
        ("lowercase method", "get /hello HTTP/1.1\r\nHost: x\r\n\r\n".into(), Closed(501)),
        ("uri over max_uri_len", format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\n\r\n"), Closed(414)),
        ("uri over max_uri_len, head unfinished", format!("GET {long_uri}"), Closed(414)),
        // Malformed header sections.
        ("header section over max_req_hdr_len", format!("GET /hello HTTP/1.1\r\n{over_limit}\r\n"), Closed(431)),
        ("header section over limit, unfinished", format!("GET /hello HTTP/1.1\r\nX: {}", "v".repeat(1100)), Closed(431)),
        ("too many header fields", format!("GET /hello HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"), Closed(431)),
        ("obs-fold", "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n".into(), Closed(400)),
        ("whitespace before first header", "GET /hello HTTP/1.1\r\n Host: x\r\n\r\n".into(), Closed(400)),
        ("space before colon", "GET /hello HTTP/1.1\r\nHost : x\r\n\r\n".into(), Closed(400)),
        ("tab before colon", "GET /hello HTTP/1.1\r\nHost\t: x\r\n\r\n".into(), Closed(400)),
        ("no colon", "GET /hello HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n".into(), Closed(400)),
        ("empty header name", "GET /hello HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n".into(), Closed(400)),
        ("whitespace-only line", "GET /hello HTTP/1.1\r\nHost: x\r\n   \r\n\r\n".into(), Closed(400)),
        ("control char in name", "GET /hello HTTP/1.1\r\nHost: x\r\nX\x01Y: v\r\n\r\n".into(), Closed(400)),
        ("non-ASCII in name", "GET /hello HTTP/1.1\r\nHost: x\r\nX\u{e9}: v\r\n\r\n".into(), Closed(400)),
        ("control char in value", "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n".into(), Closed(400)),
        ("NUL in value", "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n".into(), Closed(400)),
        ("bare CR in value", "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n".into(), Closed(400)),
        ("missing Host in HTTP/1.1", "GET /hello HTTP/1.1\r\n\r\n".into(), Closed(400)),
        ("Host with userinfo", "GET /hello HTTP/1.1\r\nHost: user@x\r\n\r\n".into(), Closed(400)),
        ("Host with a path", "GET /hello HTTP/1.1\r\nHost: x/y\r\n\r\n".into(), Closed(400)),
        ("Host list", "GET /hello HTTP/1.1\r\nHost: x, y\r\n\r\n".into(), Closed(400)),
        ("Host with whitespace inside", "GET /hello HTTP/1.1\r\nHost: x y\r\n\r\n".into(), Closed(400)),
        ("Host port over 65535", "GET /hello HTTP/1.1\r\nHost: x:65536\r\n\r\n".into(), Closed(400)),
        ("two Hosts", "GET /hello HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n".into(), Closed(400)),
        // Body framing: every ambiguity is refused (no request smuggling).
        ("Content-Length and Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(), Closed(400)),
        ("Transfer-Encoding then Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n".into(), Closed(400)),
        ("conflicting Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".into(), Closed(400)),
        ("conflicting Content-Length list", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!".into(), Closed(400)),
        ("signed Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello".into(), Closed(400)),
        ("negative Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello".into(), Closed(400)),
        ("hex Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello".into(), Closed(400)),
        ("empty Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n".into(), Closed(400)),
        ("space inside Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n0123456789".into(), Closed(400)),
        ("overflowing Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n".into(), Closed(400)),
        ("Content-Length over max_body_len", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n".into(), Closed(413)),
        ("gzip transfer coding", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".into(), Closed(400)),
        ("chunked not last", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n".into(), Closed(400)),
        ("gzip then chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".into(), Closed(400)),
        ("chunked twice", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(), Closed(400)),
        ("empty Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n".into(), Closed(400)),
        ("chunked in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(), Closed(400)),
        ("bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("negative chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("overflowing chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("chunk data longer than its size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("bare LF after chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("bare LF ending a chunk line with more to come", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\n".into(), Closed(400)),
        ("chunk size without hex digits", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n;a\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("whitespace after chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("chunk extension without a name", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("chunk extension with an empty value", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("chunk extension name with a space", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("control character in a chunk extension", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("unterminated quoted chunk extension", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n".into(), Closed(400)),
        ("malformed trailer", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nno colon\r\n\r\n".into(), Closed(400)),
        ("chunked body over max_body_len", format!("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n{}\r\n0\r\n\r\n", "x".repeat(0x100001)), Closed(413)),
        // Not HTTP at all.
        ("TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03\r\n\r\n".into(), Closed(400)),
        ("binary noise", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\r\n\r\n".into(), Closed(400)),
        ("a lone CRLF-free line", "HELLO THERE GENERAL KENOBI WITHOUT ANY LINE END AT ALL".into(), Closed(400)),
    ];
    table
        .drain(..)
        .map(|(name, req, want)| (name.to_owned(), req.into_bytes(), want))
        .collect()
}

#[test]
fn malformed_and_tricky_requests_get_their_status_and_connection_state() {
    let server = server();
    let addr = server.local_addr();
    let mut canary = Client::connect(addr);
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (name, req, want) in &cases {
        let mut c = Client::connect(addr);
        c.send(req);
        let (status, keep) = match want {
            Want::Open(s) => (*s, true),
            Want::Closed(s) => (*s, false),
        };
        let got = if req.starts_with(b"HEAD ") {
            Ok(c.head_response().status)
        } else {
            c.try_response().map(|r| r.status)
        };
        match got {
            Ok(s) if s == status => {}
            Ok(s) => failures.push(format!("{name}: status {s}, want {status}")),
            Err(e) => failures.push(format!("{name}: no response ({e}), want {status}")),
        }
        if keep {
            c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
            let r = c.try_response();
            if !matches!(&r, Ok(r) if r.status == 200 && r.text() == "Hello World!") {
                failures.push(format!("{name}: connection not usable afterwards: {r:?}"));
            }
        } else if !c.is_closed() {
            failures.push(format!("{name}: connection not closed"));
        }
        let r = canary.get("/hello");
        assert_eq!(r.status, 200, "canary after {name}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_requests_fed_one_byte_at_a_time() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    let requests: [&[u8]; 3] = [
        b"GET /hello?x=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n",
    ];
    let bodies = ["Hello World!", "hello world", "hello world"];
    for (req, body) in requests.iter().zip(bodies) {
        for byte in req.iter() {
            c.send([*byte]);
        }
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), body);
    }
}

#[test]
fn valid_request_split_at_every_point() {
    let server = server();
    let req = b"POST /echo?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    let mut c = Client::connect(server.local_addr());
    for cut in 1..req.len() {
        c.send(&req[..cut]);
        c.send(&req[cut..]);
        let r = c.response();
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "hello"),
            "split at {cut}"
        );
    }
}

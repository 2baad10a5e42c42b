//! Persistent connections over real sockets: many requests on one connection,
//! `Connection: close` from the client or the handler, pipelined requests (with and without
//! bodies) answered in order, a client that half-closes after its request, and a response far
//! larger than the socket buffers read in small pieces.
mod util;

use std::io::Read;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use httpd::{Config, Handler, Method, Server};
use util::{start, Client};

const BIG: usize = 8 * 1024 * 1024;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + i / 4093) as u8).collect()
}

/// `/echo` sends the query (GET) or the body (other methods) back, with the session id in
/// `X-Session`; `/close` asks for the connection to close; `/big` sends 8 MiB.
fn server() -> Server {
    let server = start(Config::builder());
    server
        .register(Handler::new("/echo", Method::Any, |req| {
            let id = req.session_id().to_string();
            req.set_header("X-Session", &id)?;
            if req.method() == Method::Get {
                let q = req.query().unwrap_or("").to_owned();
                req.send_str(&q)
            } else {
                let body = req.read_body(1024 * 1024)?;
                req.send(&body)
            }
        }))
        .unwrap();
    server
        .register(Handler::new("/close", Method::Get, |req| {
            req.set_header("Connection", "close")?;
            req.send_str("bye")
        }))
        .unwrap();
    let big = Arc::new(pattern(BIG));
    server
        .register(Handler::new("/big", Method::Get, move |req| {
            req.set_type("application/octet-stream")?;
            req.send(&big[..])
        }))
        .unwrap();
    server
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n")
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

#[test]
fn many_requests_on_one_connection() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    let mut session = None;
    for i in 0..200 {
        let r = if i % 2 == 0 {
            c.get(&format!("/echo?n={i}"))
        } else {
            c.request("PUT", "/echo", format!("body {i}").as_bytes())
        };
        assert_eq!(r.status, 200, "request {i}: {r:?}");
        let want = if i % 2 == 0 {
            format!("n={i}")
        } else {
            format!("body {i}")
        };
        assert_eq!(r.text(), want);
        assert!(!r.closes());
        let id = r.header("x-session").unwrap().to_owned();
        assert_eq!(session.get_or_insert_with(|| id.clone()), &id);
    }
}

#[test]
fn idle_keep_alive_connection_stays_open_between_requests() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/echo?a").text(), "a");
    assert!(c.is_silent_for(Duration::from_millis(300)));
    assert_eq!(c.get("/echo?b").text(), "b");
}

#[test]
fn connection_close_from_the_client_is_honoured() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/echo?first").text(), "first");
    c.send("GET /echo?last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "last");
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

#[test]
fn connection_close_token_in_a_list_is_honoured() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    c.send("GET /echo?x HTTP/1.1\r\nHost: h\r\nConnection: TE, Close\r\n\r\n");
    let r = c.response();
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

#[test]
fn connection_close_set_by_the_handler_closes() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/close");
    assert_eq!(r.text(), "bye");
    assert!(r.closes(), "{r:?}");
    assert_eq!(
        r.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .count(),
        1,
        "{r:?}"
    );
    assert!(c.is_closed());
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    let all: String = (0..10).map(|i| get(&format!("/echo?req={i}"))).collect();
    c.send(all);
    for i in 0..10 {
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), format!("req={i}"));
        assert!(!r.closes());
    }
    // Nothing more, and the connection is still usable.
    assert!(c.is_silent_for(Duration::from_millis(100)));
    assert_eq!(c.get("/echo?after").text(), "after");
}

#[test]
fn pipelined_requests_with_bodies_are_answered_in_order() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    let bodies: Vec<Vec<u8>> = [0, 1, 10, 100, 1000, 5000, 20_000, 3, 40_000, 7]
        .iter()
        .map(|&n| pattern(n))
        .collect();
    let mut all = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        if i == 6 {
            // One chunked body among them.
            all.extend_from_slice(
                format!(
                    "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            all.extend_from_slice(body);
            all.extend_from_slice(b"\r\n0\r\n\r\n");
        } else {
            all.extend_from_slice(&post("/echo", body));
        }
        all.extend_from_slice(get(&format!("/echo?after={i}")).as_bytes());
    }
    c.send(all);
    for (i, body) in bodies.iter().enumerate() {
        let r = c.response();
        assert_eq!(r.status, 200, "body {i}");
        assert_eq!(r.body.len(), body.len(), "body {i}");
        assert!(&r.body == body, "body {i} differs");
        let r = c.response();
        assert_eq!(r.text(), format!("after={i}"));
    }
    assert!(c.is_silent_for(Duration::from_millis(100)));
}

#[test]
fn pipelined_requests_after_connection_close_are_not_answered() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    c.send(format!(
        "{}GET /echo?2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n{}",
        get("/echo?1"),
        get("/echo?3")
    ));
    let r = c.response();
    assert_eq!(r.text(), "1");
    assert!(!r.closes());
    let r = c.response();
    assert_eq!(r.text(), "2");
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed(), "the request after the close was answered");
}

#[test]
fn client_half_closing_after_its_request_gets_the_response_then_a_close() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    c.send(format!("{}{}", get("/echo?one"), get("/echo?two")));
    c.stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.response().text(), "one");
    assert_eq!(c.response().text(), "two");
    assert!(c.is_closed());
}

/// Reads one `Content-Length` response from `c` in `piece`-byte reads; returns the head's
/// text and the body.
fn read_in_pieces(c: &mut Client, piece: usize) -> (String, Vec<u8>) {
    let mut data = Vec::new();
    let mut buf = vec![0u8; piece];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = c.stream.read(&mut buf).expect("read head");
        assert!(n > 0, "closed before the head");
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .expect("content-length");
    let mut body = data.split_off(head_end);
    while body.len() < len {
        let n = c.stream.read(&mut buf).expect("read body");
        assert!(n > 0, "closed after {} of {len} body bytes", body.len());
        body.extend_from_slice(&buf[..n]);
    }
    assert_eq!(body.len(), len, "more bytes than the length");
    (head, body)
}

#[test]
fn response_larger_than_the_socket_buffers_arrives_intact() {
    let server = server();
    let mut c = Client::connect(server.local_addr());
    let want = pattern(BIG);
    for _ in 0..2 {
        c.send(get("/big"));
        let (head, body) = read_in_pieces(&mut c, 1024);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(body.len(), BIG);
        assert!(body == want, "8 MiB body differs");
    }
    assert_eq!(c.get("/echo?after").text(), "after");
}

#[test]
fn a_client_not_reading_a_large_response_does_not_stall_others() {
    let server = server();
    let mut slow = Client::connect(server.local_addr());
    slow.send(get("/big"));
    // The slow client reads nothing yet; another client is served meanwhile.
    let mut other = Client::connect(server.local_addr());
    for i in 0..5 {
        assert_eq!(other.get(&format!("/echo?{i}")).text(), i.to_string());
    }
    let (_, body) = read_in_pieces(&mut slow, 64 * 1024);
    assert!(body == pattern(BIG), "8 MiB body differs");
    assert_eq!(slow.get("/echo?done").text(), "done");
}

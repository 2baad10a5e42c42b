//! Configured limits: the handler table, the session table (waiting in the backlog, or LRU
//! purge), request-line and header-section lengths, header count, HTTP versions, malformed
//! input, and the builder's validation. Every refused request gets its status and a close,
//! and leaves other connections alone.
mod util;

use std::sync::mpsc::channel;
use std::time::Duration;

use httpd::{Config, Error, ErrorCode, Handler, Method, Server, MAX_REQ_HEADERS_LIMIT};
use util::{start, Client, IO_TIMEOUT};

fn ok_handler(uri: &str, method: Method) -> Handler {
    Handler::new(uri, method, |req| req.send_str("ok"))
}

/// A server answering `GET /` with "ok".
fn ok_server(builder: httpd::ConfigBuilder) -> Server {
    let server = start(builder);
    server.register(ok_handler("/", Method::Get)).unwrap();
    server
}

/// Sends `request` on a fresh connection and expects `code` with its default page, a
/// `Connection: close`, and the close; `bystander` (an open keep-alive connection to `/`)
/// must still be served afterwards.
fn assert_refused_with(server: &Server, bystander: &mut Client, request: &[u8], code: ErrorCode) {
    let mut c = Client::connect(server.local_addr());
    c.send(request);
    let r = c.response();
    let shown = String::from_utf8_lossy(request);
    assert_eq!(r.status, code.status(), "for {shown:?}");
    assert_eq!(r.text(), code.default_message(), "for {shown:?}");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(
        r.closes(),
        "{code} must say Connection: close, for {shown:?}"
    );
    assert!(
        c.is_closed(),
        "{code} must close the connection, for {shown:?}"
    );
    let r = bystander.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
}

#[test]
fn registering_past_max_uri_handlers_fails() {
    let server = start(Config::builder().max_uri_handlers(2));
    server.register(ok_handler("/a", Method::Get)).unwrap();
    server.register(ok_handler("/b", Method::Get)).unwrap();
    assert!(matches!(
        server.register(ok_handler("/c", Method::Get)),
        Err(Error::HandlerTableFull)
    ));
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/c").status, 404);
    // Unregistering makes room again.
    server.unregister("/a", Method::Get).unwrap();
    server.register(ok_handler("/c", Method::Get)).unwrap();
    assert_eq!(c.get("/c").status, 200);
    assert_eq!(c.get("/a").status, 404);
}

#[test]
fn registering_a_duplicate_fails() {
    let server = start(Config::builder());
    server.register(ok_handler("/a", Method::Get)).unwrap();
    assert!(matches!(
        server.register(Handler::new("/a", Method::Get, |req| req.send_str("second"))),
        Err(Error::HandlerExists)
    ));
    // Another method on the same URI is not a duplicate.
    server.register(ok_handler("/a", Method::Post)).unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/a").text(), "ok");
}

#[test]
fn unregistering_an_unknown_handler_fails() {
    let server = start(Config::builder());
    server.register(ok_handler("/a", Method::Get)).unwrap();
    assert!(matches!(
        server.unregister("/nope", Method::Get),
        Err(Error::HandlerNotFound)
    ));
    assert!(matches!(
        server.unregister("/a", Method::Post),
        Err(Error::HandlerNotFound)
    ));
    assert!(matches!(
        server.unregister_uri("/nope"),
        Err(Error::HandlerNotFound)
    ));
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/a").status, 200);
}

#[test]
fn unregister_uri_removes_every_method() {
    let server = start(Config::builder().max_uri_handlers(4));
    for method in [Method::Get, Method::Post, Method::Put] {
        server.register(ok_handler("/a", method)).unwrap();
    }
    server.register(ok_handler("/b", Method::Get)).unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.request("PUT", "/a", b"").status, 200);
    server.unregister_uri("/a").unwrap();
    assert_eq!(c.get("/a").status, 404);
    assert_eq!(c.request("POST", "/a", b"").status, 404);
    assert_eq!(c.request("PUT", "/a", b"").status, 404);
    assert_eq!(c.get("/b").status, 200);
    assert!(matches!(
        server.unregister_uri("/a"),
        Err(Error::HandlerNotFound)
    ));
    // All three slots are free again.
    for uri in ["/c", "/d", "/e"] {
        server.register(ok_handler(uri, Method::Get)).unwrap();
    }
}

#[test]
fn a_full_session_table_leaves_newcomers_waiting_until_a_session_closes() {
    let server = ok_server(Config::builder().max_open_sockets(2));
    let addr = server.local_addr();
    let mut a = Client::connect(addr);
    let mut b = Client::connect(addr);
    assert_eq!(a.get("/").status, 200);
    assert_eq!(b.get("/").status, 200);

    // Accepted by the kernel's backlog, not by the server.
    let mut c = Client::connect(addr);
    c.send("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
    assert!(
        c.is_silent_for(Duration::from_millis(300)),
        "a third session was served past max_open_sockets(2)"
    );
    assert_eq!(server.clients().len(), 2);

    drop(a);
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
    assert_eq!(b.get("/").status, 200);
}

#[test]
fn lru_purge_closes_the_least_recently_used_session() {
    let server = ok_server(Config::builder().max_open_sockets(2).lru_purge_enable(true));
    let addr = server.local_addr();
    let mut a = Client::connect(addr);
    let mut b = Client::connect(addr);
    assert_eq!(a.get("/").status, 200);
    assert_eq!(b.get("/").status, 200);
    // A is now the most recently used.
    assert_eq!(a.get("/").status, 200);

    let mut c = Client::connect(addr);
    let r = c.get("/");
    assert_eq!(r.status, 200);
    assert!(
        b.is_closed(),
        "the least recently used session (B) was not purged"
    );
    assert_eq!(a.get("/").status, 200);
    assert_eq!(c.get("/").status, 200);
    assert_eq!(server.clients().len(), 2);
}

#[test]
fn lru_purge_counts_a_fresh_session_as_just_used() {
    let (open_tx, open_rx) = channel();
    let server = ok_server(
        Config::builder()
            .max_open_sockets(2)
            .lru_purge_enable(true)
            .on_open(move |_, peer| {
                let _ = open_tx.send(peer);
                true
            }),
    );
    let addr = server.local_addr();
    let mut a = Client::connect(addr);
    assert_eq!(
        open_rx.recv_timeout(IO_TIMEOUT),
        Ok(a.stream.local_addr().unwrap())
    );
    assert_eq!(a.get("/").status, 200);
    // B is accepted but sends nothing yet.
    let mut b = Client::connect(addr);
    assert_eq!(
        open_rx.recv_timeout(IO_TIMEOUT),
        Ok(b.stream.local_addr().unwrap())
    );

    let mut c = Client::connect(addr);
    let r = c.get("/");
    assert_eq!(r.status, 200);
    assert!(
        a.is_closed(),
        "A (used before B was opened) should have been purged"
    );
    let r = b.get("/");
    assert_eq!(r.status, 200, "the fresh session B was purged");
    assert_eq!(r.text(), "ok");
}

#[test]
fn request_target_longer_than_max_uri_len_is_414() {
    let server = ok_server(Config::builder().max_uri_len(64));
    let exact = format!("/{}", "a".repeat(63));
    server.register(ok_handler(&exact, Method::Get)).unwrap();
    let mut bystander = Client::connect(server.local_addr());
    assert_eq!(bystander.get("/").status, 200);

    let mut c = Client::connect(server.local_addr());
    let r = c.get(&exact);
    assert_eq!(r.status, 200, "a target of exactly max_uri_len bytes");
    assert_eq!(r.text(), "ok");

    let long = format!("/{}", "a".repeat(64));
    let request = format!("GET {long} HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_refused_with(
        &server,
        &mut bystander,
        request.as_bytes(),
        ErrorCode::UriTooLong,
    );
    // A request line that never ends is refused as soon as its target is too long.
    let request = format!("GET /{}", "b".repeat(200));
    assert_refused_with(
        &server,
        &mut bystander,
        request.as_bytes(),
        ErrorCode::UriTooLong,
    );
}

#[test]
fn header_section_longer_than_max_req_hdr_len_is_431() {
    let server = ok_server(Config::builder().max_req_hdr_len(128));
    let mut bystander = Client::connect(server.local_addr());
    assert_eq!(bystander.get("/").status, 200);
    // "Host: test\r\n" (12) + "X-Pad: " (7) + pad + "\r\n" (2): the header section.
    let request = |pad: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: test\r\nX-Pad: {}\r\n\r\n",
            "p".repeat(pad)
        )
    };
    let mut c = Client::connect(server.local_addr());
    c.send(request(128 - 21));
    let r = c.response();
    assert_eq!(r.status, 200, "a header section of exactly max_req_hdr_len");
    assert!(!r.closes());

    assert_refused_with(
        &server,
        &mut bystander,
        request(128 - 20).as_bytes(),
        ErrorCode::HeaderFieldsTooLarge,
    );
    // Far too long, and never finished.
    let endless = format!(
        "GET / HTTP/1.1\r\nHost: test\r\nX-Pad: {}",
        "p".repeat(1000)
    );
    assert_refused_with(
        &server,
        &mut bystander,
        endless.as_bytes(),
        ErrorCode::HeaderFieldsTooLarge,
    );
}

#[test]
fn too_many_header_fields_is_431() {
    let server = ok_server(Config::builder().max_req_headers(4));
    let mut bystander = Client::connect(server.local_addr());
    assert_eq!(bystander.get("/").status, 200);
    let request = |fields: usize| {
        let mut r = String::from("GET / HTTP/1.1\r\nHost: test\r\n");
        for i in 1..fields {
            r.push_str(&format!("X-{i}: v\r\n"));
        }
        r.push_str("\r\n");
        r
    };
    let mut c = Client::connect(server.local_addr());
    c.send(request(4));
    assert_eq!(c.response().status, 200, "exactly max_req_headers fields");
    assert_refused_with(
        &server,
        &mut bystander,
        request(5).as_bytes(),
        ErrorCode::HeaderFieldsTooLarge,
    );
}

#[test]
fn unsupported_http_versions_are_505() {
    let server = ok_server(Config::builder());
    let mut bystander = Client::connect(server.local_addr());
    assert_eq!(bystander.get("/").status, 200);
    for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0"] {
        let request = format!("GET / {version}\r\nHost: test\r\n\r\n");
        assert_refused_with(
            &server,
            &mut bystander,
            request.as_bytes(),
            ErrorCode::VersionNotSupported,
        );
    }
}

#[test]
fn later_http_1_minor_versions_are_served_as_http_1_1() {
    // RFC 9110 2.5: a recipient of a later minor version answers with the highest it has.
    let server = ok_server(Config::builder());
    for version in ["HTTP/1.2", "HTTP/1.9"] {
        let mut c = Client::connect(server.local_addr());
        c.send(
            format!("GET / {version}\r\nHost: test\r\n\r\nGET / HTTP/1.1\r\nHost: test\r\n\r\n")
                .as_bytes(),
        );
        let r = c.response();
        assert_eq!(r.status, 200, "{version}");
        assert!(!r.closes(), "{version} keeps the connection as 1.1 does");
        assert_eq!(c.response().status, 200, "{version}: the next request");
    }
}

#[test]
fn garbage_is_400() {
    let server = ok_server(Config::builder());
    let mut bystander = Client::connect(server.local_addr());
    assert_eq!(bystander.get("/").status, 200);
    let garbage: [&[u8]; 5] = [
        // The start of a TLS ClientHello.
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"hello\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n",
        b"GET / HTTX/1.1\r\nHost: test\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: ten\r\n\r\n",
    ];
    for request in garbage {
        assert_refused_with(&server, &mut bystander, request, ErrorCode::BadRequest);
    }
}

#[test]
fn build_refuses_invalid_values() {
    let cases = [
        ("max_open_sockets", Config::builder().max_open_sockets(0)),
        ("max_uri_handlers", Config::builder().max_uri_handlers(0)),
        (
            "max_req_headers",
            Config::builder().max_req_headers(MAX_REQ_HEADERS_LIMIT + 1),
        ),
        ("max_uri_len", Config::builder().max_uri_len(0)),
        ("max_req_hdr_len", Config::builder().max_req_hdr_len(0)),
        (
            "recv_wait_timeout",
            Config::builder().recv_wait_timeout(Duration::ZERO),
        ),
        (
            "header_timeout",
            Config::builder().header_timeout(Duration::ZERO),
        ),
        (
            "idle_timeout",
            Config::builder().idle_timeout(Some(Duration::ZERO)),
        ),
        ("ctrl_queue_len", Config::builder().ctrl_queue_len(0)),
        (
            "max_pending_response",
            Config::builder().max_pending_response(16),
        ),
        ("stack_size", Config::builder().stack_size(1024)),
        ("thread_name", Config::builder().thread_name("")),
    ];
    for (setting, builder) in cases {
        match builder.build() {
            Err(Error::InvalidConfig(why)) => {
                assert!(why.contains(setting), "{setting}: {why}");
            }
            other => panic!("{setting}: expected InvalidConfig, got {other:?}"),
        }
    }
    // The limits themselves are accepted.
    Config::builder()
        .max_open_sockets(1)
        .max_req_headers(MAX_REQ_HEADERS_LIMIT)
        .idle_timeout(None)
        .build()
        .expect("boundary values are valid");
}

//! The esp-rs facade (`httpd::svc`, feature `embedded-svc`) driven over loopback by clients we
//! did not write where it matters (curl, tungstenite) and by the strict raw client: the
//! `esp_rs_server` example's handler module and a test set of handlers written as for the chip.
//! WebSocket tests are in `svc/ws.rs`.

mod util;

#[path = "../examples/esp_rs_server/handlers.rs"]
mod example;
#[path = "svc/handlers.rs"]
mod handlers;
#[path = "svc/ws.rs"]
mod ws;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::mpsc::{self, Receiver};

use httpd::svc::embedded_svc::http::Method;
use httpd::svc::embedded_svc::io::Write as _;
use httpd::svc::ws::EspHttpWsDetachedSender;
use httpd::svc::{Configuration, EspHttpServer};

use handlers::WsEvent;
use util::{installed, Client, IO_TIMEOUT};

/// A facade server on loopback with `conf` (its port replaced by a free one).
pub(crate) fn start(conf: Configuration) -> EspHttpServer<'static> {
    let config = Configuration {
        http_port: 0,
        ..conf
    }
    .to_httpd()
    .bind_addr([127, 0, 0, 1].into())
    .build()
    .expect("valid config");
    EspHttpServer::with_config(config).expect("server starts")
}

/// A server with the test set of handlers, and what its WebSocket handler reports.
pub(crate) struct TestServer {
    pub(crate) server: EspHttpServer<'static>,
    pub(crate) events: Receiver<WsEvent>,
    pub(crate) senders: Receiver<EspHttpWsDetachedSender>,
}

impl TestServer {
    pub(crate) fn start() -> TestServer {
        let mut server = start(Configuration::default());
        let (events_tx, events) = mpsc::channel();
        let (senders_tx, senders) = mpsc::channel();
        handlers::register(&mut server, events_tx, senders_tx).expect("handlers register");
        TestServer {
            server,
            events,
            senders,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub(crate) fn event(&self) -> WsEvent {
        self.events
            .recv_timeout(IO_TIMEOUT)
            .expect("the WebSocket handler reports")
    }
}

fn example_server() -> EspHttpServer<'static> {
    let mut server = start(Configuration {
        stack_size: 10240,
        ..Default::default()
    });
    example::register(&mut server).expect("the example's handlers register");
    server
}

#[test]
fn the_example_serves_its_page_chunked() {
    let server = example_server();
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/");
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.header("content-length"), None);
    assert!(r.chunks.is_some(), "sent chunked, as esp-idf-svc does");
    assert_eq!(r.text(), example::INDEX_HTML);
    // Keep-alive: the same connection serves the next request.
    assert_eq!(c.get("/").status, 200);
}

#[test]
fn the_example_form_answers_curl() {
    if !installed("curl") {
        return;
    }
    let server = example_server();
    let url = format!("http://{}/post", server.local_addr());
    let curl = |body: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-S",
                "--max-time",
                "10",
                "-w",
                " [%{http_code}]",
                "-d",
                body,
                &url,
            ])
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        curl("first_name=Ada&age=36&birthplace=London%2C+UK"),
        "Hello, 36-year-old Ada from London, UK! [200]"
    );
    assert_eq!(curl("first_name=Ada&age=old"), "Form error [200]");
    let long = "x".repeat(example::MAX_LEN + 1);
    assert_eq!(curl(&long), "Request too big [413]");
}

#[test]
fn the_example_broadcasts_from_another_thread() {
    let server = example_server();
    let mut a = util::ws_connect(server.local_addr(), "/ws");
    let mut b = util::ws_connect(server.local_addr(), "/ws");
    assert_eq!(util::ws_text(&mut a), "Welcome to the echo");
    assert_eq!(util::ws_text(&mut b), "Welcome to the echo");
    let mut c = Client::connect(server.local_addr());
    let r = c.request("POST", "/broadcast", b"news");
    assert_eq!(r.text(), "Sent to 2 sessions");
    assert_eq!(util::ws_text(&mut a), "news");
    assert_eq!(util::ws_text(&mut b), "news");
}

#[test]
fn the_example_echoes_and_answers_async_through_its_detached_sender() {
    use tungstenite::Message;
    let server = example_server();
    let mut ws = util::ws_connect(server.local_addr(), "/ws");
    assert_eq!(util::ws_text(&mut ws), "Welcome to the echo");
    ws.send(Message::text("Hello, chip")).unwrap();
    assert_eq!(util::ws_text(&mut ws), "Hello, chip");
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255]),
        "binary echoed as binary"
    );
    ws.send(Message::text("async")).unwrap();
    assert_eq!(util::ws_text(&mut ws), "Async hello");
    // Too big: a message, then the close the handler asked for.
    ws.send(Message::text("y".repeat(example::MAX_WS_LEN + 1)))
        .unwrap();
    assert_eq!(util::ws_text(&mut ws), "Request too big");
    match ws.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn headers_query_split_and_body_reach_the_handler() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    c.send(
        "POST /inspect?x=1&y=%20 HTTP/1.1\r\nHost: t\r\nX-Agent: probe\r\nContent-Length: 10\r\n\r\nhello body",
    );
    let r = c.response();
    assert_eq!((r.status, r.reason.as_str()), (201, "Made"));
    assert_eq!(r.header("x-seen"), Some("probe"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(
        r.text(),
        "/inspect?x=1&y=%20|Post /inspect?x=1&y=%20 10|hello body"
    );
    // A chunked request body is read decoded.
    c.send("POST /inspect HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    assert_eq!(c.response().text(), "/inspect|Post /inspect 0|abcdefg");
}

#[test]
fn bodies_go_out_chunked_and_a_handler_content_length_is_dropped() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    let r = c.get("/chunks");
    assert_eq!(
        (r.status, r.reason.as_str()),
        (200, "OK"),
        "reason filled in"
    );
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(
        r.chunks,
        Some(vec![6, 7, 5]),
        "one chunk per non-empty write"
    );
    assert_eq!(r.text(), "first,second,third");
    c.send("HEAD /chunks HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = c.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(c.get("/chunks").text(), "first,second,third");
}

#[test]
fn a_handler_that_sends_nothing_gets_an_empty_200() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    let r = c.get("/nothing");
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(
        r.chunks,
        Some(vec![]),
        "an empty chunked body, as on the chip"
    );
    let r = c.get("/status-only");
    assert_eq!((r.status, r.body.len()), (204, 0));
    assert_eq!(c.get("/nothing").status, 200, "the connection stays open");
}

#[test]
fn an_error_before_the_response_gives_500_and_keeps_the_connection() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    let r = c.get("/fail");
    assert_eq!((r.status, r.reason.as_str()), (500, "Internal Error"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    let body = r.text();
    assert!(
        body.contains("sensor &lt;b&gt;offline&lt;/b&gt;"),
        "the error, escaped: {body}"
    );
    assert!(!r.closes());
    assert_eq!(c.get("/nothing").status, 200);
}

#[test]
fn a_panicking_handler_gets_500_and_the_server_goes_on() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    let r = c.get("/panic");
    assert_eq!(r.status, 500);
    assert!(r.closes());
    for _ in 0..2 {
        // The handler's mutex recovers: it is called again.
        let mut c = Client::connect(t.addr());
        assert_eq!(c.get("/panic").status, 500);
    }
    assert_eq!(Client::connect(t.addr()).get("/nothing").status, 200);
}

#[test]
fn an_error_after_the_body_started_cuts_the_connection() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    c.send("GET /fail-late HTTP/1.1\r\nHost: t\r\n\r\n");
    let cut = c.try_response();
    assert!(cut.is_err(), "no last chunk: {cut:?}");
}

#[test]
fn out_of_phase_calls_are_errors_and_raw_writes_frame_themselves() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    assert_eq!(c.get("/misuse").text(), "true true true");
    let r = c.get("/raw");
    assert_eq!(r.header("x-raw"), Some("yes"));
    assert_eq!(r.text(), "raw");
}

#[test]
fn handler_impls_need_not_be_sync_and_middleware_composes() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    for n in 1..=3 {
        assert_eq!(c.get("/counter").text(), format!("call {n}"));
    }
    let r = c.get("/guarded");
    assert_eq!((r.status, r.text().as_str()), (403, "no key"));
    c.send("GET /guarded HTTP/1.1\r\nHost: t\r\nX-Key: open\r\n\r\n");
    assert_eq!(c.response().text(), "call 1", "the inner handler ran once");
    c.send("GET /composed HTTP/1.1\r\nHost: t\r\nX-Key: open\r\n\r\n");
    assert_eq!(c.response().text(), "inside");
    assert_eq!(c.get("/composed").status, 403);
}

#[test]
fn chains_register_and_methods_are_kept_apart() {
    let t = TestServer::start();
    let mut c = Client::connect(t.addr());
    assert_eq!(c.get("/chain/a").text(), "a");
    assert_eq!(c.request("POST", "/chain/b", b"").text(), "b");
    assert_eq!(c.get("/chain/b").status, 405);
    assert_eq!(c.get("/missing").status, 404);
}

#[test]
fn registration_refuses_duplicates_unknown_methods_and_a_full_table() {
    let mut server = start(Configuration {
        max_uri_handlers: 2,
        ..Default::default()
    });
    let ok = |req: httpd::svc::Request<&mut httpd::svc::EspHttpConnection>| {
        req.into_ok_response()?.write_all(b"ok")
    };
    server.fn_handler("/a", Method::Get, ok).unwrap();
    assert!(server.fn_handler("/a", Method::Get, ok).is_err());
    assert!(server.fn_handler("/dav", Method::Propfind, ok).is_err());
    server.fn_handler("/a", Method::Post, ok).unwrap();
    let full = server.fn_handler("/b", Method::Get, ok).unwrap_err();
    assert!(matches!(full.error(), httpd::Error::HandlerTableFull));
}

#[test]
fn wildcards_follow_uri_match_wildcard() {
    let ok = |req: httpd::svc::Request<&mut httpd::svc::EspHttpConnection>| {
        let uri = req.uri().to_owned();
        req.into_ok_response()?.write_all(uri.as_bytes())
    };
    let mut wild = start(Configuration {
        uri_match_wildcard: true,
        ..Default::default()
    });
    wild.fn_handler("/files/*", Method::Get, ok).unwrap();
    let mut c = Client::connect(wild.local_addr());
    assert_eq!(c.get("/files/a/b.txt?v=2").text(), "/files/a/b.txt?v=2");
    assert_eq!(c.get("/files").status, 404);

    let mut exact = start(Configuration::default());
    exact.fn_handler("/files/*", Method::Get, ok).unwrap();
    let mut c = Client::connect(exact.local_addr());
    assert_eq!(c.get("/files/a").status, 404);
    assert_eq!(c.get("/files/*").status, 200);
}

#[test]
fn esp_idf_svc_defaults_start_and_dropping_the_server_stops_it() {
    // `new` itself, with esp-idf-svc's defaults but a free port (and a stack the facade raises).
    let conf = Configuration {
        http_port: 0,
        stack_size: 1024,
        ..Default::default()
    };
    let mut server = EspHttpServer::new(&conf).expect("starts");
    server
        .fn_handler("/deep", Method::Get, |req| {
            // Needs more than the chip's stack on a host.
            fn depth(n: u32) -> u32 {
                let pad = [n as u8; 256];
                if n == 0 {
                    u32::from(pad[0])
                } else {
                    depth(n - 1) + u32::from(pad[255] & 1)
                }
            }
            let d = depth(200);
            write!(req.into_ok_response()?, "{d}")
        })
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], server.local_addr().port()));
    let mut c = Client::connect(addr);
    assert_eq!(c.get("/deep").text(), "100");
    drop(server);
    assert!(c.is_closed(), "open connections are closed");
    assert!(TcpStream::connect(addr).is_err(), "the listener is gone");
}

#[test]
fn esp_idf_svc_defaults_purge_the_least_recently_used_of_four_sockets() {
    let t = TestServer::start();
    let mut clients: Vec<Client> = (0..4).map(|_| Client::connect(t.addr())).collect();
    for c in &mut clients {
        assert_eq!(c.get("/nothing").status, 200);
    }
    // A fifth connection at the full table (max_open_sockets 4, lru_purge_enable true).
    let mut fifth = Client::connect(t.addr());
    assert_eq!(fifth.get("/nothing").status, 200);
    assert!(
        clients[0].is_closed(),
        "the least recently used session is purged"
    );
    assert_eq!(clients[3].get("/nothing").status, 200);
}

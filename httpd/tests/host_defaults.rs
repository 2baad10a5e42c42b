//! The host defaults, tried as a new user would: bursts of clients, many open connections,
//! browser-sized headers and query strings, all with `Config::builder()` untouched (but for
//! the loopback address and an ephemeral port). And the `Allow`/`OPTIONS`/`CONNECT` answers.
mod util;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use httpd::{Config, Handler, Method, Server};
use util::{register_hello, start, Client};

fn hello_server() -> Server {
    let server = start(Config::builder());
    register_hello(&server);
    server
        .register(Handler::new("/hello", Method::Post, |req| {
            req.send_str("posted")
        }))
        .unwrap();
    server
        .register(Handler::new("/echo_headers", Method::Get, |req| {
            let cookie = req.header("Cookie").unwrap_or_default().len();
            let query = req.query().unwrap_or_default().len();
            req.send_str(&format!("{cookie} {query}"))
        }))
        .unwrap();
    server
}

#[test]
fn a_burst_of_200_simultaneous_connects_is_served_without_a_stall() {
    let server = hello_server();
    let addr = server.local_addr();
    let n = 200;
    let barrier = Arc::new(Barrier::new(n));
    let clients: Vec<_> = (0..n)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                let mut c = Client::connect(addr);
                let r = c.get("/hello");
                (r.status, start.elapsed())
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for c in clients {
        let (status, took) = c.join().unwrap();
        assert_eq!(status, 200);
        slowest = slowest.max(took);
    }
    // A dropped SYN costs a 1 s retransmission: any stall that long means the backlog or the
    // session table overflowed.
    assert!(
        slowest < Duration::from_secs(1),
        "slowest of {n} clients took {slowest:?}"
    );
}

#[test]
fn with_300_connections_open_the_next_one_is_served_at_once() {
    let server = hello_server();
    let addr = server.local_addr();
    let mut open: Vec<Client> = (0..300).map(|_| Client::connect(addr)).collect();
    // Every one of them is a live session (served, kept alive).
    for c in open.iter_mut().step_by(50) {
        assert_eq!(c.get("/hello").status, 200);
    }
    let start = Instant::now();
    let mut next = Client::connect(addr);
    assert_eq!(next.get("/hello").status, 200);
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "301st client took {took:?}"
    );
    // Two browser tabs' worth of keep-alive connections (12) plus one more, on the same server.
    for c in open.iter_mut().take(13) {
        assert_eq!(c.get("/hello").text(), "Hello World!");
    }
    assert_eq!(server.clients().len(), 301);
}

#[test]
fn clients_stuck_mid_header_do_not_delay_a_normal_client() {
    let server = hello_server();
    let addr = server.local_addr();
    let mut stuck: Vec<Client> = (0..6).map(|_| Client::connect(addr)).collect();
    for c in &mut stuck {
        c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    }
    for _ in 0..5 {
        let start = Instant::now();
        let mut c = Client::connect(addr);
        assert_eq!(c.get("/hello").status, 200);
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(250),
            "normal client took {took:?}"
        );
    }
    // The stuck ones are still waiting, not refused.
    for c in &mut stuck {
        assert!(c.is_silent_for(Duration::from_millis(10)));
    }
}

#[test]
fn browser_sized_cookies_and_query_strings_are_accepted() {
    let server = hello_server();
    let mut c = Client::connect(server.local_addr());
    let cookie = format!("session={}", "c".repeat(6 * 1024));
    let query = format!("q={}", "a".repeat(2 * 1024));
    c.send(format!(
        "GET /echo_headers?{query} HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html,*/*;q=0.8\r\nCookie: {cookie}\r\n\r\n"
    ));
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), format!("{} {}", cookie.len(), query.len()));
    // The limits are 16 KiB of headers and 8 KiB of target: past them, 431 and 414.
    let mut c = Client::connect(server.local_addr());
    c.send(format!(
        "GET /echo_headers HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n",
        "c".repeat(17 * 1024)
    ));
    assert_eq!(c.response().status, 431);
    let mut c = Client::connect(server.local_addr());
    c.send(format!(
        "GET /echo_headers?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(9 * 1024)
    ));
    assert_eq!(c.response().status, 414);
}

#[test]
fn dozens_of_handlers_fit_by_default() {
    let server = start(Config::builder());
    for i in 0..48 {
        server
            .register(Handler::new(format!("/page{i}"), Method::Get, |req| {
                req.send_str("page")
            }))
            .unwrap();
    }
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/page47").status, 200);
}

#[test]
fn esp_idf_preset_keeps_the_chip_limits() {
    let config = httpd::ConfigBuilder::esp_idf()
        .bind_addr([127, 0, 0, 1].into())
        .port(0)
        .build()
        .unwrap();
    let server = Server::start(config).unwrap();
    server
        .register(Handler::new("/", Method::Get, |req| req.send_str("ok")))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send(format!(
        "GET / HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n",
        "c".repeat(2 * 1024)
    ));
    assert_eq!(c.response().status, 431);
    let mut c = Client::connect(server.local_addr());
    c.send(format!(
        "GET /?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(600)
    ));
    assert_eq!(c.response().status, 414);
}

#[test]
fn method_not_allowed_lists_the_allowed_methods() {
    let server = hello_server();
    let mut c = Client::connect(server.local_addr());
    let r = c.request("DELETE", "/hello", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    assert!(!r.closes());
    assert_eq!(c.get("/hello").status, 200);
}

#[test]
fn options_is_answered_by_the_server_with_allow() {
    let server = hello_server();
    let mut c = Client::connect(server.local_addr());
    c.send("OPTIONS /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(
        r.header("content-length"),
        None,
        "204 has no Content-Length"
    );
    assert!(r.body.is_empty());
    c.send("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    c.send("OPTIONS /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response().status, 404);
    // A handler for OPTIONS (or ANY) answers it instead.
    server
        .register(Handler::new("/hello", Method::Options, |req| {
            req.send_str("mine")
        }))
        .unwrap();
    c.send("OPTIONS /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response().text(), "mine");
}

#[test]
fn connect_without_a_handler_is_501_and_closes() {
    let server = hello_server();
    let mut c = Client::connect(server.local_addr());
    c.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 501);
    assert!(r.closes());
    assert!(c.is_closed());
}

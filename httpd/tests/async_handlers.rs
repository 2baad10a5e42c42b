//! Detached (async) requests: answered from other threads while the server serves others;
//! the session resumes (or closes) when the detached request is done.
mod util;

use std::io::Read;
use std::sync::mpsc;
use std::thread;

use httpd::{AsyncRequest, Config, Error, Handler, Method, Server};
use util::{start, Client, IO_TIMEOUT};

/// A server whose `/detach` handler hands each detached request to the test through `tx`.
fn server_with_detach(builder: httpd::ConfigBuilder) -> (Server, mpsc::Receiver<AsyncRequest>) {
    let server = start(builder);
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    server
        .register(Handler::new("/detach", Method::Any, move |req| {
            let detached = req.detach()?;
            tx.lock().unwrap().send(detached).unwrap();
            Ok(())
        }))
        .unwrap();
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .unwrap();
    server
        .register(Handler::new("/count", Method::Get, |req| {
            let n = req.session_ctx_or_insert_with(|| 0u32);
            *n += 1;
            let reply = n.to_string();
            req.send_str(&reply)
        }))
        .unwrap();
    (server, rx)
}

#[test]
fn a_detached_request_is_answered_from_another_thread_and_keep_alive_continues() {
    let (server, requests) = server_with_detach(Config::builder());
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/count").text(), "1");
    c.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut detached = requests.recv_timeout(IO_TIMEOUT).unwrap();
    // While it is pending, the server serves others.
    let mut other = Client::connect(server.local_addr());
    assert_eq!(other.get("/hello").status, 200);
    let worker = thread::spawn(move || {
        let mut req = detached.request().unwrap();
        assert_eq!(req.uri(), "/detach");
        // The session context travels with the request.
        assert_eq!(req.session_ctx::<u32>().copied(), Some(1));
        req.set_header("X-Worker", "yes").unwrap();
        req.send_str("from a worker").unwrap();
    });
    let r = c.response();
    assert_eq!(
        (r.status, r.text().as_str(), r.header("x-worker")),
        (200, "from a worker", Some("yes"))
    );
    worker.join().unwrap();
    // The session is back: same context, keep-alive continues.
    assert_eq!(c.get("/count").text(), "2");
}

#[test]
fn chunks_from_a_detached_request_leave_as_they_are_sent() {
    let (server, requests) = server_with_detach(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut detached = requests.recv_timeout(IO_TIMEOUT).unwrap();
    let (next_tx, next_rx) = mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        let mut req = detached.request().unwrap();
        for i in 0..3 {
            req.send_chunk(format!("tick-{i};")).unwrap();
            next_rx.recv_timeout(IO_TIMEOUT).unwrap();
        }
    });
    let mut seen = Vec::new();
    for i in 0..3 {
        let want = format!("tick-{i};");
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains(&want) {
            let n = c
                .stream
                .read(&mut buf)
                .expect("chunk arrives before the next is sent");
            assert!(n > 0);
            seen.extend_from_slice(&buf[..n]);
        }
        next_tx.send(()).unwrap();
    }
    worker.join().unwrap();
    let mut rest = [0u8; 64];
    while !seen.ends_with(b"0\r\n\r\n") {
        let n = c.stream.read(&mut rest).unwrap();
        assert!(n > 0, "the last chunk ends the response");
        seen.extend_from_slice(&rest[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).contains("Transfer-Encoding: chunked"));
    assert_eq!(c.get("/hello").status, 200);
}

#[test]
fn a_detached_request_reads_a_large_body_on_its_thread() {
    let (server, requests) = server_with_detach(Config::builder());
    let mut c = Client::connect(server.local_addr());
    let body = vec![b'z'; 300_000];
    c.send(format!(
        "POST /detach HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    let mut detached = requests.recv_timeout(IO_TIMEOUT).unwrap();
    let worker = thread::spawn(move || {
        let mut req = detached.request().unwrap();
        let got = req.read_body(1 << 20).unwrap();
        req.send_str(&got.len().to_string()).unwrap();
    });
    c.send(&body);
    assert_eq!(c.response().text(), "300000");
    worker.join().unwrap();
    assert_eq!(c.get("/hello").status, 200);
}

#[test]
fn dropping_a_detached_request_without_a_response_answers_500() {
    let (server, requests) = server_with_detach(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let detached = requests.recv_timeout(IO_TIMEOUT).unwrap();
    thread::spawn(move || drop(detached)).join().unwrap();
    let r = c.response();
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "Server has encountered an unexpected error")
    );
    assert_eq!(
        c.get("/hello").status,
        200,
        "the session resumes after the 500"
    );
}

#[test]
fn a_detached_request_dropped_before_its_handler_returns_is_answered_500() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/drop", Method::Get, |req| {
            drop(req.detach()?);
            Ok(())
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/drop").status, 500);
    assert_eq!(c.get("/drop").status, 500, "connection kept");
}

#[test]
fn a_handler_failing_after_detach_is_answered_by_the_server() {
    let server = start(Config::builder());
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    server
        .register(Handler::new("/fail", Method::Get, move |req| {
            let detached = req.detach()?;
            tx.lock().unwrap().send(detached).unwrap();
            Err(Error::handler("changed my mind"))
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response().status, 500);
    assert!(c.is_closed());
    let mut detached = rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert!(matches!(detached.request(), Err(Error::Stopped)));
}

#[test]
fn detach_after_the_response_started_is_refused() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/late", Method::Get, |req| {
            req.send_chunk("started")?;
            match req.detach() {
                Err(Error::ResponseStarted) => req.send_chunk(" refused"),
                other => panic!("detach after start: {:?}", other.map(|_| ())),
            }
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/late").text(), "started refused");
}

#[test]
fn a_detached_session_is_never_purged_and_counts_against_the_limit() {
    let (server, requests) =
        server_with_detach(Config::builder().max_open_sockets(2).lru_purge_enable(true));
    let addr = server.local_addr();
    let mut a = Client::connect(addr);
    a.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut detached = requests.recv_timeout(IO_TIMEOUT).unwrap();
    let mut b = Client::connect(addr);
    assert_eq!(b.get("/hello").status, 200);
    // A third client makes the server purge: B, the only purgeable session.
    let mut c = Client::connect(addr);
    assert_eq!(c.get("/hello").status, 200);
    assert!(b.is_closed(), "B was purged");
    detached.request().unwrap().send_str("still here").unwrap();
    drop(detached);
    assert_eq!(a.response().text(), "still here");
}

#[test]
fn trigger_close_on_a_detached_session_closes_it_after_its_response() {
    let server = start(Config::builder());
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    server
        .register(Handler::new("/detach", Method::Get, move |req| {
            let id = req.session_id();
            let detached = req.detach()?;
            tx.lock().unwrap().send((id, detached)).unwrap();
            Ok(())
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let (id, mut detached) = rx.recv_timeout(IO_TIMEOUT).unwrap();
    server.trigger_close(id).unwrap();
    // The close waits for the detached request: queued work after it runs first.
    let (done_tx, done_rx) = mpsc::channel();
    server
        .queue_work(move |ctx| done_tx.send(ctx.clients().len()).unwrap())
        .unwrap();
    assert_eq!(
        done_rx.recv_timeout(IO_TIMEOUT).unwrap(),
        1,
        "still open while detached"
    );
    detached.request().unwrap().send_str("bye").unwrap();
    drop(detached);
    assert_eq!(c.response().text(), "bye");
    assert!(c.is_closed());
}

#[test]
fn stopping_the_server_with_a_detached_request_pending_does_not_hang() {
    let (server, requests) = server_with_detach(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut detached = requests.recv_timeout(IO_TIMEOUT).unwrap();
    server.stop();
    // As ESP-IDF's httpd_stop, stopping closes every connection, a detached one's too: the
    // client sees the close, and the worker finds its client gone.
    assert!(c.is_closed());
    let sent = detached.request().and_then(|mut req| req.send_str("late"));
    assert!(sent.is_err(), "the connection was cut");
    drop(detached);
}

#[test]
fn a_detached_request_streams_a_body_from_a_reader() {
    let (server, rx) = server_with_detach(Config::builder());
    let mut c = Client::connect(server.local_addr());
    c.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut detached = rx.recv_timeout(IO_TIMEOUT).unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let expected = body.clone();
    let worker = thread::spawn(move || {
        let mut req = detached.request().unwrap();
        // Unknown length: chunked, written out before send_body returns.
        req.send_body(httpd::Body::from_reader(std::io::Cursor::new(body), None))
    });
    let r = c.response();
    assert_eq!(r.status, 200);
    assert!(r.chunks.is_some(), "{:?}", r.headers);
    assert_eq!(r.body, expected);
    worker.join().unwrap().unwrap();
    // The session came back and goes on.
    assert_eq!(c.get("/hello").text(), "Hello World!");
}

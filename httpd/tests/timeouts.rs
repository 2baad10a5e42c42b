//! Timeouts: a stalled request head or body (408 and close), an idle keep-alive connection
//! (closed silently), a head trickled in past `header_timeout` (slowloris: 408), a client that
//! stops reading its response (closed after `send_wait_timeout`), and a stuck client never
//! stalling the others.
mod util;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use httpd::{Config, ConfigBuilder, Error, ErrorCode, Handler, Method, Server, SessionId};
use util::{start, Client, IO_TIMEOUT};

const SHORT: Duration = Duration::from_millis(300);
/// Far below the default 5 s timeouts a stalled loop would wait for.
const PROMPT: Duration = Duration::from_secs(2);
/// Timers may fire a little early relative to the test's clock, never much.
const SLACK: Duration = Duration::from_millis(50);

/// A server answering `GET /` and `POST /` with "ok"; counts handler calls.
fn ok_server(builder: ConfigBuilder) -> (Server, Arc<AtomicUsize>) {
    let server = start(builder);
    let calls = Arc::new(AtomicUsize::new(0));
    for method in [Method::Get, Method::Post] {
        let calls = Arc::clone(&calls);
        server
            .register(Handler::new("/", method, move |req| {
                calls.fetch_add(1, Ordering::SeqCst);
                let _ = req.read_body(64)?;
                req.send_str("ok")
            }))
            .unwrap();
    }
    (server, calls)
}

/// Expects the server's 408 page on `c`, then the close.
fn assert_408_and_close(c: &mut Client) {
    let r = c.response();
    assert_eq!(r.status, 408);
    assert_eq!(r.reason, "Request Timeout");
    assert_eq!(r.text(), "Server closed this connection");
    assert_eq!(r.text(), ErrorCode::RequestTimeout.default_message());
    assert!(r.closes(), "a 408 says Connection: close");
    assert!(c.is_closed(), "the connection closes after a 408");
}

#[test]
fn partial_head_then_silence_is_408() {
    let (server, calls) = ok_server(Config::builder().recv_wait_timeout(SHORT));
    let mut c = Client::connect(server.local_addr());
    let started = Instant::now();
    c.send("GET / HTTP/1.1\r\nHost: te");
    assert_408_and_close(&mut c);
    assert!(
        started.elapsed() + SLACK >= SHORT,
        "408 after {:?}, before recv_wait_timeout",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn body_shorter_than_content_length_then_silence_is_408() {
    let (server, calls) = ok_server(Config::builder().recv_wait_timeout(SHORT));
    let mut c = Client::connect(server.local_addr());
    let started = Instant::now();
    c.send("POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");
    assert_408_and_close(&mut c);
    assert!(started.elapsed() + SLACK >= SHORT);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler ran without its body"
    );
}

#[test]
fn idle_keep_alive_connection_is_closed_without_a_response() {
    let (server, _) = ok_server(Config::builder().idle_timeout(Some(SHORT)));
    let mut c = Client::connect(server.local_addr());
    // Taken before the request: the server's idle timer starts later than this.
    let started = Instant::now();
    let r = c.get("/");
    assert_eq!(r.status, 200);
    assert!(!r.closes());
    assert!(c.is_closed(), "an idle connection outlived idle_timeout");
    assert!(started.elapsed() + SLACK >= SHORT);

    // A connection that never sends anything is idle too.
    let mut silent = Client::connect(server.local_addr());
    assert!(silent.is_closed());
    assert!(server.clients().is_empty());
}

#[test]
fn head_trickled_past_header_timeout_is_408() {
    let header_timeout = Duration::from_millis(500);
    let (server, calls) = ok_server(Config::builder().header_timeout(header_timeout));
    let mut c = Client::connect(server.local_addr());
    let started = Instant::now();
    c.send("GET / HTTP/1.1\r\nHost: test\r\nX-Slow: ");
    // One byte every 100 ms keeps recv_wait_timeout (5 s) from ever firing; only the deadline
    // for the whole head can stop it. The pause is the client's behaviour under test, and
    // each pause is also a bounded wait for the server's answer.
    let mut sent = 0;
    while c.is_silent_for(Duration::from_millis(100)) {
        assert!(
            sent < 40,
            "no 408 after trickling for {:?}",
            started.elapsed()
        );
        c.send("x");
        sent += 1;
    }
    assert_408_and_close(&mut c);
    let elapsed = started.elapsed();
    assert!(elapsed + SLACK >= header_timeout, "408 after {elapsed:?}");
    assert!(
        sent >= 3,
        "408 came before the trickle started ({sent} bytes)"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn client_that_never_reads_is_closed_after_send_wait_timeout() {
    const BIG: usize = 16 * 1024 * 1024;
    let (closed_tx, closed_rx) = channel();
    let server = start(
        Config::builder()
            .send_wait_timeout(SHORT)
            .max_pending_response(64 * 1024)
            .on_close(move |id| {
                let _ = closed_tx.send(id);
            }),
    );
    let (result_tx, result_rx) = channel();
    // On a worker, where a send may wait for its client (on the server thread, with a pool,
    // only the total cap would make it wait).
    server
        .register(
            Handler::new("/big", Method::Get, move |req| {
                let id = req.session_id();
                let result = req.send(vec![b'x'; BIG]);
                let _ = result_tx.send((
                    id,
                    format!("{result:?}"),
                    matches!(result, Err(Error::Timeout)),
                ));
                result
            })
            .blocking(),
        )
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET /big HTTP/1.1\r\nHost: test\r\n\r\n");

    // The client reads nothing. The handler's send gives up after send_wait_timeout ...
    let (id, result, timed_out) = result_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("handler returned");
    assert!(
        timed_out,
        "send to a client that does not read returned {result}"
    );
    // ... and the session is closed.
    let closed: SessionId = closed_rx.recv_timeout(IO_TIMEOUT).expect("session closed");
    assert_eq!(closed, id);
    let (tx, rx) = channel();
    server
        .queue_work(move |ctx| {
            let _ = tx.send(ctx.clients());
        })
        .unwrap();
    let clients = rx.recv_timeout(IO_TIMEOUT).expect("work ran");
    assert!(
        !clients.contains(&id),
        "closed session still listed: {clients:?}"
    );

    // When the client finally reads: what was in flight, then EOF or a reset; never the
    // whole response.
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    let end = loop {
        match c.stream.read(&mut buf) {
            Ok(0) => break "eof",
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!("read after {total} bytes: {e}"),
        }
    };
    assert!(
        total < BIG,
        "the whole response arrived ({total} bytes, then {end})"
    );
}

#[test]
fn a_client_stuck_mid_head_does_not_stall_others() {
    let (server, calls) = ok_server(Config::builder());
    let mut stuck = Client::connect(server.local_addr());
    stuck.send("GET / HTTP/1.1\r\nHost: te");

    let mut other = Client::connect(server.local_addr());
    let started = Instant::now();
    for _ in 0..3 {
        let r = other.get("/");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "ok");
    }
    assert!(
        started.elapsed() < PROMPT,
        "served in {:?} while another client was mid-head",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // The stuck client was only waiting on itself: it finishes and is served.
    assert!(stuck.is_silent_for(Duration::from_millis(50)));
    stuck.send("st\r\n\r\n");
    let r = stuck.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
}

#[test]
fn a_client_stuck_mid_body_does_not_stall_others() {
    let (server, calls) = ok_server(Config::builder());
    let mut stuck = Client::connect(server.local_addr());
    stuck.send("POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");

    let mut other = Client::connect(server.local_addr());
    let started = Instant::now();
    let r = other.get("/");
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() < PROMPT,
        "served in {:?} while another client was mid-body",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    stuck.stream.write_all(b"defghij").unwrap();
    let r = stuck.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn handler_recv_timeout_is_408() {
    // A body larger than body_buffer_len is read by the handler itself, with recv_wait_timeout.
    let (server, calls) = ok_server(
        Config::builder()
            .body_buffer_len(16)
            .recv_wait_timeout(SHORT),
    );
    let mut c = Client::connect(server.local_addr());
    let started = Instant::now();
    c.send("POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 40\r\n\r\nabc");
    assert_408_and_close(&mut c);
    assert!(started.elapsed() + SLACK >= SHORT);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn response_held_for_a_client_that_stops_reading_is_dropped_after_send_wait_timeout() {
    const BIG: usize = 16 * 1024 * 1024;
    let (closed_tx, closed_rx) = channel();
    let server = start(
        Config::builder()
            .send_wait_timeout(SHORT)
            .max_pending_response(2 * BIG)
            .on_close(move |id| {
                let _ = closed_tx.send(id);
            }),
    );
    let (result_tx, result_rx) = channel();
    server
        .register(Handler::new("/big", Method::Get, move |req| {
            let result = req.send(vec![b'x'; BIG]);
            let _ = result_tx.send((req.session_id(), result.is_ok()));
            result
        }))
        .unwrap();
    server
        .register(Handler::new("/", Method::Get, |req| req.send_str("ok")))
        .unwrap();
    let mut slow = Client::connect(server.local_addr());
    slow.send("GET /big HTTP/1.1\r\nHost: test\r\n\r\n");
    // The response fits max_pending_response: the handler returns at once and the loop
    // writes the rest as the client makes room.
    let (id, sent) = result_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("handler returned");
    assert!(sent);

    // Meanwhile others are served.
    let mut other = Client::connect(server.local_addr());
    let started = Instant::now();
    let r = other.get("/");
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() < PROMPT,
        "served in {:?}",
        started.elapsed()
    );

    // No progress for send_wait_timeout: the slow session is closed, the other one is not.
    assert_eq!(closed_rx.recv_timeout(IO_TIMEOUT), Ok(id));
    assert_eq!(other.get("/").status, 200);
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match slow.stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read after {total} bytes: {e}"),
        }
    }
    assert!(total < BIG, "the whole response arrived ({total} bytes)");
}

//! Graceful shutdown (`Server::shutdown(grace)`): new connections refused, idle ones closed at
//! once, requests in progress finished (each response closing its connection), the deadline
//! honoured; `stop()` unchanged.
mod util;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use httpd::{AsyncRequest, Config, Handler, Method, Server, WsHandler};
use tungstenite::Message;
use util::{register_detach, register_hello, start, ws_connect, Client, IO_TIMEOUT};

/// A server whose `/detach` handler hands each detached request to the test.
fn server() -> (Server, mpsc::Receiver<AsyncRequest>) {
    let server = start(Config::builder());
    let rx = register_detach(&server);
    register_hello(&server);
    server
        .register(Handler::new("/echo", Method::Post, |req| {
            let body = req.read_body(1 << 20)?;
            req.send(&body)
        }))
        .unwrap();
    (server, rx)
}

/// Starts `server.shutdown(grace)` on another thread; the handle says how long it took.
fn shutdown_in_background(server: &Server, grace: Duration) -> thread::JoinHandle<Duration> {
    let server = server.clone();
    thread::spawn(move || {
        let start = Instant::now();
        server.shutdown(grace);
        start.elapsed()
    })
}

fn refused(addr: std::net::SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
        // Refused, or reset when the SYN met the listener closing.
        Err(e) => matches!(
            e.kind(),
            ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
        ),
        // Accepted by a kernel backlog that is about to be dropped: it must not be served.
        Ok(s) => Client::from_stream(s).is_closed(),
    }
}

#[test]
fn in_flight_requests_finish_idle_ones_close_and_new_ones_are_refused() {
    let (server, requests) = server();
    let addr = server.local_addr();
    let mut idle = Client::connect(addr);
    assert_eq!(idle.get("/hello").status, 200);
    let mut busy = Client::connect(addr);
    busy.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut detached = requests.recv_timeout(IO_TIMEOUT).unwrap();
    // A client in the middle of sending its body.
    let mut uploading = Client::connect(addr);
    uploading.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello");
    // Make sure the server has read that head (it is served in the order it arrived).
    let mut probe = Client::connect(addr);
    assert_eq!(probe.get("/hello").status, 200);

    let done = shutdown_in_background(&server, Duration::from_secs(30));
    // The idle keep-alive connections are closed at once: that is how we know it began.
    assert!(idle.is_closed(), "idle connection closed");
    assert!(probe.is_closed(), "idle connection closed");
    assert!(refused(addr), "new connections are refused");

    // The upload completes and is answered, with the connection closing after it.
    uploading.send("world");
    let r = uploading.response();
    assert_eq!(r.text(), "helloworld");
    assert!(r.closes(), "the last response says Connection: close");
    assert!(uploading.is_closed());

    // The detached request finishes on its thread; its response still goes out.
    let mut req = detached.request().unwrap();
    req.send_str("late but complete").unwrap();
    drop(detached);
    let r = busy.response();
    assert_eq!(r.text(), "late but complete");
    assert!(r.closes());
    assert!(busy.is_closed());

    let took = done.join().unwrap();
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    assert!(!server.is_running());
}

#[test]
fn the_deadline_closes_what_is_still_busy() {
    let (server, requests) = server();
    let addr = server.local_addr();
    let mut busy = Client::connect(addr);
    busy.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut detached = requests.recv_timeout(IO_TIMEOUT).unwrap();
    let grace = Duration::from_millis(300);
    let took = shutdown_in_background(&server, grace).join().unwrap();
    assert!(took >= grace, "returned before the deadline: {took:?}");
    assert!(took < grace + Duration::from_secs(3), "took {took:?}");
    assert!(
        busy.is_closed(),
        "closed at the deadline without a response"
    );
    // The straggler finds its session gone.
    assert!(
        detached.request().is_err() || {
            let mut req = detached.request().unwrap();
            req.send_str("too late").is_err()
        }
    );
}

#[test]
fn an_idle_server_shuts_down_at_once_and_stop_keeps_its_meaning() {
    let (first, _requests) = server();
    let mut idle = Client::connect(first.local_addr());
    assert_eq!(idle.get("/hello").status, 200);
    let start = Instant::now();
    first.shutdown(Duration::from_secs(30));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(idle.is_closed());

    // stop() during a grace period stops at once.
    let (stopped, requests) = server();
    let server = stopped;
    let mut busy = Client::connect(server.local_addr());
    busy.send("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n");
    let _held = requests.recv_timeout(IO_TIMEOUT).unwrap();
    let done = shutdown_in_background(&server, Duration::from_secs(60));
    assert!(refused(server.local_addr()));
    let start = Instant::now();
    server.stop();
    assert!(done.join().unwrap() < Duration::from_secs(10));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn websocket_clients_are_told_the_server_is_going_away() {
    let (server, _requests) = server();
    server
        .register(WsHandler::new("/ws", |conn, frame| match frame.text() {
            Some(text) => conn.send_text(text),
            None => Ok(()),
        }))
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/ws");
    ws.send(Message::text("hi")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hi"));
    let done = shutdown_in_background(&server, Duration::from_secs(30));
    match ws.read() {
        Ok(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close 1001, got {other:?}"),
    }
    // The client answers the close; the server then closes and the shutdown completes.
    while ws.read().is_ok() {}
    assert!(done.join().unwrap() < Duration::from_secs(10));
}

#[test]
fn shutdown_from_inside_a_handler_does_not_deadlock() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/quit", Method::Get, |req| {
            req.send_str("bye")?;
            if let Some(server) = req.server() {
                server.shutdown(Duration::from_secs(5));
            }
            Ok(())
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/quit");
    assert_eq!(r.text(), "bye");
    // Its response was written before the shutdown began; the idle connection then closes.
    assert!(c.is_closed());
    server.stop(); // joins the thread, which has ended or is ending
    assert!(!server.is_running());
}

//! Server lifecycle: starting on a free port, stopping (explicitly, twice, from inside a handler,
//! or by dropping the last handle) and what a stop must release before it returns: every
//! connection, every handler, every session context (after `on_close`), the server thread and
//! the listening socket. Also start failures and registration on a stopped server.
mod util;

use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread;

use httpd::{Config, Error, ErrorCode, Handler, Method, Server};
use util::{start, Client, IO_TIMEOUT};

/// Sends its label on a channel when dropped, so a test sees exactly when the server frees it.
struct DropNotify {
    label: String,
    tx: Sender<String>,
}

impl DropNotify {
    fn new(label: impl Into<String>, tx: &Sender<String>) -> Self {
        DropNotify {
            label: label.into(),
            tx: tx.clone(),
        }
    }
}

impl Drop for DropNotify {
    fn drop(&mut self) {
        let _ = self.tx.send(self.label.clone());
    }
}

thread_local! {
    /// Set from a handler, so it lives on the server thread: its destructor runs when that
    /// thread exits, which tells a test whether the thread is gone.
    static THREAD_EXIT: RefCell<Option<DropNotify>> = const { RefCell::new(None) };
}

/// Arms the server thread's exit notification (call from a handler).
fn notify_on_thread_exit(tx: &Sender<String>) {
    THREAD_EXIT.with(|slot| {
        slot.borrow_mut()
            .get_or_insert_with(|| DropNotify::new("thread exited", tx));
    });
}

/// Everything received so far, without waiting.
fn received(rx: &Receiver<String>) -> Vec<String> {
    rx.try_iter().collect()
}

/// A stopped server's port has no listener any more: the kernel refuses the connection.
/// (Accepting and then closing would mean the listener outlived `stop`.)
fn assert_refused(addr: SocketAddr) {
    match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
        Err(e) => assert_eq!(
            e.kind(),
            io::ErrorKind::ConnectionRefused,
            "connect after stop: {e}"
        ),
        Ok(_) => panic!("a connection to {addr} was accepted after stop returned"),
    }
}

/// A server whose `/ctx` handler gives each session a context that reports its drop, and
/// whose `on_close` reports the close; both as "close <id>" / "drop <id>" on `tx`.
fn server_with_contexts(tx: &Sender<String>) -> Server {
    let close_tx = tx.clone();
    let server = start(Config::builder().on_close(move |id| {
        let _ = close_tx.send(format!("close {id}"));
    }));
    let ctx_tx = tx.clone();
    server
        .register(Handler::new("/ctx", Method::Get, move |req| {
            notify_on_thread_exit(&ctx_tx);
            let id = req.session_id().to_string();
            req.set_session_ctx(DropNotify::new(format!("drop {id}"), &ctx_tx));
            req.send_str(&id)
        }))
        .unwrap();
    server
}

/// Stops `server` on another thread and fails (instead of hanging) if that takes too long.
fn stop_within_timeout(server: Server) {
    let (done_tx, done_rx) = channel();
    thread::spawn(move || {
        server.stop();
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("stop() returned in time");
}

#[test]
fn server_handle_is_clone_send_sync() {
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<Server>();
}

#[test]
fn port_zero_listens_on_a_real_port() {
    let server = start(Config::builder());
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(addr.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    let mut c = Client::connect(addr);
    let r = c.get("/nothing-here");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), ErrorCode::NotFound.default_message());
}

#[test]
fn stop_closes_every_idle_connection_and_returns_after_the_thread_exited() {
    let (tx, rx) = channel();
    let server = start(Config::builder());
    let handler_tx = tx.clone();
    server
        .register(Handler::new("/", Method::Get, move |req| {
            notify_on_thread_exit(&handler_tx);
            req.send_str("up")
        }))
        .unwrap();
    let addr = server.local_addr();
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(addr)).collect();
    for c in &mut clients {
        let r = c.get("/");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "up");
        assert!(!r.closes());
    }
    assert!(received(&rx).is_empty(), "server thread exited early");

    server.stop();

    assert_eq!(received(&rx), ["thread exited"]);
    assert!(!server.is_running());
    assert_refused(addr);
    for c in &mut clients {
        assert!(c.is_closed(), "an idle connection survived stop()");
    }
}

#[test]
fn stop_drops_every_handler() {
    let (tx, rx) = channel();
    let server = start(Config::builder());
    for (uri, method) in [
        ("/a", Method::Get),
        ("/a", Method::Post),
        ("/b", Method::Any),
    ] {
        let guard = DropNotify::new(format!("{method} {uri}"), &tx);
        server
            .register(Handler::new(uri, method, move |req| {
                let _keep = &guard;
                req.send_str("ok")
            }))
            .unwrap();
    }
    let guard = DropNotify::new("404 handler", &tx);
    server
        .register_err_handler(ErrorCode::NotFound, move |req, code| {
            let _keep = &guard;
            req.send_err(code, Some("custom 404"))
        })
        .unwrap();
    // Serve a request so the server thread holds its own snapshot of the table too.
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/a").status, 200);
    assert_eq!(c.get("/missing").text(), "custom 404");
    assert!(
        received(&rx).is_empty(),
        "a handler was dropped while running"
    );

    server.stop();

    let mut dropped = received(&rx);
    dropped.sort();
    assert_eq!(dropped, ["404 handler", "ANY /b", "GET /a", "POST /a"]);
}

#[test]
fn stop_runs_on_close_and_drops_every_session_context() {
    let (tx, rx) = channel();
    let server = server_with_contexts(&tx);
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    let mut ids = Vec::new();
    for c in &mut clients {
        let r = c.get("/ctx");
        assert_eq!(r.status, 200);
        ids.push(r.text());
    }
    assert!(received(&rx).is_empty(), "a context was dropped early");

    server.stop();

    let events = received(&rx);
    for id in &ids {
        let close = events.iter().position(|e| *e == format!("close {id}"));
        let drop = events.iter().position(|e| *e == format!("drop {id}"));
        let (Some(close), Some(drop)) = (close, drop) else {
            panic!("session {id}: missing close or drop in {events:?}");
        };
        assert!(
            close < drop,
            "on_close ran after the context drop: {events:?}"
        );
    }
    assert!(events.contains(&"thread exited".to_owned()), "{events:?}");
    assert_eq!(events.len(), 2 * ids.len() + 1, "{events:?}");
    for c in &mut clients {
        assert!(c.is_closed());
    }
}

#[test]
fn dropping_the_last_handle_stops_the_server() {
    let (tx, rx) = channel();
    let server = server_with_contexts(&tx);
    let addr = server.local_addr();
    let mut c = Client::connect(addr);
    let id = c.get("/ctx").text();

    // Dropping one of two handles changes nothing.
    drop(server.clone());
    assert!(server.is_running());
    assert_eq!(c.get("/ctx").status, 200);
    // That request replaced the context: the first one is dropped, the session is not closed.
    assert_eq!(received(&rx), [format!("drop {id}")]);

    drop(server);

    let events = received(&rx);
    assert_eq!(
        events,
        [
            format!("close {id}"),
            format!("drop {id}"),
            "thread exited".to_owned()
        ]
    );
    assert!(c.is_closed());
    assert_refused(addr);
}

#[test]
fn stop_twice_is_harmless() {
    let server = start(Config::builder());
    let addr = server.local_addr();
    let other = server.clone();
    server.stop();
    server.stop();
    other.stop();
    assert!(!server.is_running());
    assert!(!other.is_running());
    assert_refused(addr);
}

#[test]
fn stop_from_inside_a_handler_does_not_deadlock() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/stop", Method::Get, |req| {
            let server = req.server().ok_or(Error::Stopped)?;
            server.stop();
            req.send_str("stopping")
        }))
        .unwrap();
    server
        .register(Handler::new("/ping", Method::Get, |req| {
            req.send_str("pong")
        }))
        .unwrap();
    let addr = server.local_addr();
    let mut bystander = Client::connect(addr);
    assert_eq!(bystander.get("/ping").text(), "pong");

    let mut c = Client::connect(addr);
    c.send("GET /stop HTTP/1.1\r\nHost: test\r\n\r\n");
    // The response was produced before the loop stopped, so it may arrive; then the close.
    match c.try_response() {
        Ok(r) => {
            assert_eq!(r.status, 200);
            assert_eq!(r.text(), "stopping");
            assert!(c.is_closed());
        }
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "expected the response or a close, got {e}"
        ),
    }
    assert!(!server.is_running());
    assert!(
        bystander.is_closed(),
        "stop from a handler left a session open"
    );
    assert!(matches!(
        server.register(Handler::new("/late", Method::Get, |req| req.send_str("x"))),
        Err(Error::Stopped)
    ));
    // The thread is on its way out; joining it from here must not hang either.
    stop_within_timeout(server);
    assert_refused(addr);
}

#[test]
fn stop_from_queued_work_does_not_deadlock() {
    let server = start(Config::builder());
    let addr = server.local_addr();
    let mut c = Client::connect(addr);
    assert_eq!(c.get("/").status, 404);
    let (tx, rx) = channel();
    server
        .queue_work(move |ctx| {
            if let Some(server) = ctx.server() {
                server.stop();
                let _ = tx.send(server.is_running());
            }
        })
        .unwrap();
    assert_eq!(
        rx.recv_timeout(IO_TIMEOUT),
        Ok(false),
        "work ran and stop returned"
    );
    assert!(!server.is_running());
    assert!(c.is_closed());
    stop_within_timeout(server);
    assert_refused(addr);
}

#[test]
fn a_stopped_server_refuses_registration_and_work() {
    let server = start(Config::builder());
    server.stop();
    assert!(matches!(
        server.register(Handler::new("/", Method::Get, |req| req.send_str("x"))),
        Err(Error::Stopped)
    ));
    assert!(matches!(
        server.register_err_handler(ErrorCode::NotFound, |req, code| req.send_err(code, None)),
        Err(Error::Stopped)
    ));
    assert!(matches!(server.queue_work(|_| {}), Err(Error::Stopped)));
    assert!(server.clients().is_empty());
}

#[test]
fn two_servers_run_side_by_side() {
    let servers: Vec<Server> = ["one", "two"]
        .into_iter()
        .map(|name| {
            let server = start(Config::builder());
            server
                .register(Handler::new("/", Method::Get, move |req| {
                    req.send_str(name)
                }))
                .unwrap();
            server
        })
        .collect();
    let (a, b) = (servers[0].local_addr(), servers[1].local_addr());
    assert_ne!(a.port(), b.port());
    let mut ca = Client::connect(a);
    let mut cb = Client::connect(b);
    assert_eq!(ca.get("/").text(), "one");
    assert_eq!(cb.get("/").text(), "two");
    servers[0].stop();
    assert!(ca.is_closed());
    assert_eq!(cb.get("/").text(), "two");
    assert!(servers[1].is_running());
}

#[test]
fn binding_a_port_in_use_is_an_io_error() {
    let first = start(Config::builder());
    let port = first.local_addr().port();
    let config = Config::builder()
        .bind_addr([127, 0, 0, 1].into())
        .port(port)
        .build()
        .unwrap();
    match Server::start(config) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}"),
        Err(other) => panic!("expected Error::Io, got {other:?}"),
        Ok(second) => panic!("a second server bound port {port}: {second:?}"),
    }
    // The failed start did not disturb the first server.
    let mut c = Client::connect(first.local_addr());
    assert_eq!(c.get("/").status, 404);
}

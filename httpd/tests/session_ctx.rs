//! Per-session contexts (ESP-IDF's `sess_ctx` / `free_ctx`): a context lives as long as its
//! connection and is dropped exactly when the connection closes, when a handler replaces or
//! clears it, or when the server stops; `take_session_ctx` hands it back instead. Also the
//! `on_open` / `on_close` callbacks around a session's life.
mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};

use httpd::{Config, Error, Handler, Method, Request, Server};
use util::{start, Client, IO_TIMEOUT};

/// An ordered event log shared by the test, the callbacks and the handlers.
#[derive(Clone, Default)]
struct Log(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Log {
    fn push(&self, event: impl Into<String>) {
        let (events, changed) = &*self.0;
        events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.into());
        changed.notify_all();
    }

    fn events(&self) -> Vec<String> {
        self.0 .0.lock().unwrap().clone()
    }

    /// Waits (at most `IO_TIMEOUT`) until the log holds at least `n` events; returns them.
    fn wait_for(&self, n: usize) -> Vec<String> {
        let (events, changed) = &*self.0;
        let (events, _) = changed
            .wait_timeout_while(events.lock().unwrap(), IO_TIMEOUT, |e| e.len() < n)
            .unwrap();
        assert!(
            events.len() >= n,
            "timed out waiting for {n} events: {events:?}"
        );
        events.clone()
    }
}

/// A session context that logs "drop <name>" when it is dropped (freed).
struct Tracker {
    name: &'static str,
    log: Log,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
}

/// The body as a number (the adder example's protocol).
fn read_number(req: &mut Request<'_>) -> Result<i64, Error> {
    let body = req.read_body(32)?;
    std::str::from_utf8(&body)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| Error::handler("body is not a number"))
}

/// ESP-IDF's persistent-sockets example: PUT sets the session's accumulator, POST adds to it
/// (creating it at 0), GET reads it ("none" without one).
fn adder_server() -> Server {
    let server = start(Config::builder());
    server
        .register(Handler::new("/adder", Method::Put, |req| {
            let n = read_number(req)?;
            req.set_session_ctx(n);
            req.send_str(&n.to_string())
        }))
        .unwrap();
    server
        .register(Handler::new("/adder", Method::Post, |req| {
            let n = read_number(req)?;
            let sum = req.session_ctx_or_insert_with(|| 0i64);
            *sum += n;
            let reply = sum.to_string();
            req.send_str(&reply)
        }))
        .unwrap();
    server
        .register(Handler::new("/adder", Method::Get, |req| {
            let reply = req
                .session_ctx::<i64>()
                .map_or_else(|| "none".to_owned(), |v| v.to_string());
            req.send_str(&reply)
        }))
        .unwrap();
    server
}

/// A server logging "close" from `on_close`, with handlers:
/// `/first` and `/second` set a [`Tracker`] of that name and answer with the events logged
/// while they ran; `/get` answers with the context's name or "none"; `/clear` clears it and
/// answers with the events logged meanwhile.
fn tracker_server(log: &Log) -> Server {
    let close_log = log.clone();
    let server = start(Config::builder().on_close(move |_| close_log.push("close")));
    for (uri, name) in [("/first", "first"), ("/second", "second")] {
        let log = log.clone();
        server
            .register(Handler::new(uri, Method::Get, move |req| {
                let before = log.events().len();
                req.set_session_ctx(Tracker {
                    name,
                    log: log.clone(),
                });
                let during = log.events()[before..].join(",");
                req.send_str(&during)
            }))
            .unwrap();
    }
    server
        .register(Handler::new("/get", Method::Get, |req| {
            let name = req.session_ctx::<Tracker>().map_or("none", |t| t.name);
            req.send_str(name)
        }))
        .unwrap();
    let clear_log = log.clone();
    server
        .register(Handler::new("/clear", Method::Get, move |req| {
            let before = clear_log.events().len();
            req.clear_session_ctx();
            let during = clear_log.events()[before..].join(",");
            req.send_str(&during)
        }))
        .unwrap();
    server
}

#[test]
fn accumulator_persists_across_requests_on_one_connection() {
    let server = adder_server();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/adder").text(), "none");
    assert_eq!(c.request("PUT", "/adder", b"10").text(), "10");
    assert_eq!(c.request("POST", "/adder", b"5").text(), "15");
    assert_eq!(c.request("POST", "/adder", b"7").text(), "22");
    let r = c.get("/adder");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "22");
    assert!(!r.closes());
    assert_eq!(c.request("PUT", "/adder", b"-3").text(), "-3");
    assert_eq!(c.request("POST", "/adder", b"4").text(), "1");
}

#[test]
fn parallel_connections_keep_separate_contexts() {
    let server = adder_server();
    let mut a = Client::connect(server.local_addr());
    let mut b = Client::connect(server.local_addr());
    assert_eq!(a.request("PUT", "/adder", b"100").text(), "100");
    assert_eq!(b.get("/adder").text(), "none");
    assert_eq!(b.request("POST", "/adder", b"1").text(), "1");
    assert_eq!(a.request("POST", "/adder", b"1").text(), "101");
    assert_eq!(b.request("POST", "/adder", b"2").text(), "3");
    assert_eq!(a.get("/adder").text(), "101");
    assert_eq!(b.get("/adder").text(), "3");
    // A new connection starts without a context.
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/adder").text(), "none");
}

#[test]
fn context_is_dropped_when_the_client_closes() {
    let log = Log::default();
    let server = tracker_server(&log);
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/first").text(), "");
    assert_eq!(c.get("/get").text(), "first");
    assert!(
        log.events().is_empty(),
        "context dropped while the connection is open"
    );
    drop(c);
    assert_eq!(log.wait_for(2), ["close", "drop first"]);
    assert!(server.clients().is_empty());
}

#[test]
fn replacing_the_context_drops_the_old_one_at_once() {
    let log = Log::default();
    let server = tracker_server(&log);
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/first").text(), "");
    // The old context is dropped inside set_session_ctx, while the handler runs.
    let r = c.get("/second");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "drop first");
    assert_eq!(c.get("/get").text(), "second");
    assert_eq!(log.events(), ["drop first"]);
    drop(c);
    assert_eq!(log.wait_for(3), ["drop first", "close", "drop second"]);
}

#[test]
fn take_session_ctx_returns_the_context_without_dropping_it() {
    let log = Log::default();
    let server = tracker_server(&log);
    let (taken_tx, taken_rx) = channel::<Tracker>();
    let take_log = log.clone();
    server
        .register(Handler::new("/take", Method::Get, move |req| {
            let taken = req.take_session_ctx::<Tracker>();
            let reply = format!(
                "{} [{}]",
                taken.as_ref().map_or("none", |t| t.name),
                take_log.events().join(",")
            );
            if let Some(t) = taken {
                let _ = taken_tx.send(t);
            }
            req.send_str(&reply)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/first").text(), "");
    assert_eq!(c.get("/take").text(), "first []");
    // The very context, handed over alive.
    let taken = taken_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("the taken context");
    assert_eq!(taken.name, "first");
    assert!(
        log.events().is_empty(),
        "take_session_ctx dropped the context"
    );
    assert_eq!(c.get("/get").text(), "none");
    assert_eq!(c.get("/take").text(), "none []");
    drop(taken);
    assert_eq!(log.events(), ["drop first"]);
    // Closing the session has nothing left to drop.
    drop(c);
    assert_eq!(log.wait_for(2), ["drop first", "close"]);
}

#[test]
fn clear_session_ctx_drops_the_context() {
    let log = Log::default();
    let server = tracker_server(&log);
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/first").text(), "");
    assert_eq!(c.get("/clear").text(), "drop first");
    assert_eq!(c.get("/get").text(), "none");
    // Clearing nothing is fine.
    assert_eq!(c.get("/clear").text(), "");
    drop(c);
    assert_eq!(log.wait_for(2), ["drop first", "close"]);
}

#[test]
fn server_stop_drops_the_context() {
    let log = Log::default();
    let server = tracker_server(&log);
    let mut a = Client::connect(server.local_addr());
    let mut b = Client::connect(server.local_addr());
    assert_eq!(a.get("/first").text(), "");
    assert_eq!(b.get("/second").text(), "");
    server.stop();
    // stop() returns only after both sessions closed: no waiting here.
    let mut events = log.events();
    events.sort();
    assert_eq!(events, ["close", "close", "drop first", "drop second"]);
    assert!(a.is_closed());
    assert!(b.is_closed());
}

#[test]
fn on_close_runs_before_the_context_is_dropped() {
    let (tx, rx) = channel::<String>();
    let close_tx = tx.clone();
    let server = start(Config::builder().on_close(move |id| {
        let _ = close_tx.send(format!("close {id}"));
    }));
    /// Sends "drop" on the event channel when freed.
    struct Ctx(Sender<String>);
    impl Drop for Ctx {
        fn drop(&mut self) {
            let _ = self.0.send("drop".to_owned());
        }
    }
    server
        .register(Handler::new("/", Method::Get, move |req| {
            req.set_session_ctx(Ctx(tx.clone()));
            let id = req.session_id().to_string();
            req.send_str(&id)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    let id = c.get("/").text();
    drop(c);
    let first = rx.recv_timeout(IO_TIMEOUT).expect("first event");
    let second = rx.recv_timeout(IO_TIMEOUT).expect("second event");
    assert_eq!([first, second], [format!("close {id}"), "drop".to_owned()]);
}

#[test]
fn on_open_returning_false_refuses_the_connection_unserved() {
    let refuse_next = Arc::new(AtomicBool::new(true));
    let (open_tx, open_rx) = channel();
    let refuse = Arc::clone(&refuse_next);
    let server = start(Config::builder().on_open(move |_, peer| {
        let accept = !refuse.swap(false, Ordering::SeqCst);
        let _ = open_tx.send((peer, accept));
        accept
    }));
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    server
        .register(Handler::new("/", Method::Get, move |req| {
            count.fetch_add(1, Ordering::SeqCst);
            req.send_str("served")
        }))
        .unwrap();

    let mut refused = Client::connect(server.local_addr());
    let (peer, accepted) = open_rx.recv_timeout(IO_TIMEOUT).expect("on_open ran");
    assert_eq!(peer, refused.stream.local_addr().unwrap());
    assert!(!accepted);
    // The server may already have closed it: a failed write is part of being refused.
    let _ = std::io::Write::write_all(&mut refused.stream, b"GET / HTTP/1.1\r\nHost: test\r\n\r\n");
    assert!(refused.is_closed(), "a refused connection must be closed");
    assert!(server.clients().is_empty());

    // The next connection is accepted and served; the refused one never reached the handler.
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "served");
    assert_eq!(served.load(Ordering::SeqCst), 1);
    assert_eq!(server.clients().len(), 1);
}

#[test]
fn on_open_receives_the_peer_address_and_session_id() {
    let (open_tx, open_rx) = channel();
    let server = start(Config::builder().on_open(move |id, peer| {
        let _ = open_tx.send((id, peer));
        true
    }));
    server
        .register(Handler::new("/", Method::Get, |req| {
            let reply = format!("{} {}", req.session_id(), req.remote_addr());
            req.send_str(&reply)
        }))
        .unwrap();
    for _ in 0..2 {
        let mut c = Client::connect(server.local_addr());
        let (id, peer) = open_rx.recv_timeout(IO_TIMEOUT).expect("on_open ran");
        assert_eq!(peer, c.stream.local_addr().unwrap());
        assert_eq!(c.get("/").text(), format!("{id} {peer}"));
    }
}

#[test]
fn context_of_another_type_is_none() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/set", Method::Get, |req| {
            req.set_session_ctx(5u32);
            req.send_str("set")
        }))
        .unwrap();
    server
        .register(Handler::new("/check", Method::Get, |req| {
            let as_string = req.session_ctx::<String>().is_some();
            let as_u64 = req.session_ctx::<u64>().is_some();
            let taken_as_string = req.take_session_ctx::<String>().is_some();
            let as_u32 = req.session_ctx::<u32>().copied();
            let reply = format!("{as_string} {as_u64} {taken_as_string} {as_u32:?}");
            req.send_str(&reply)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/check").text(), "false false false None");
    assert_eq!(c.get("/set").text(), "set");
    // Wrong types see nothing and leave the u32 in place.
    assert_eq!(c.get("/check").text(), "false false false Some(5)");
    assert_eq!(c.get("/check").text(), "false false false Some(5)");
}

#[test]
fn session_ctx_or_insert_with_creates_the_context_once_per_session() {
    let log = Log::default();
    let server = tracker_server(&log);
    let created = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&created);
    server
        .register(Handler::new("/count", Method::Get, move |req| {
            let n = req.session_ctx_or_insert_with(|| {
                count.fetch_add(1, Ordering::SeqCst);
                0u32
            });
            *n += 1;
            let reply = n.to_string();
            req.send_str(&reply)
        }))
        .unwrap();
    let mut a = Client::connect(server.local_addr());
    for want in ["1", "2", "3"] {
        assert_eq!(a.get("/count").text(), want);
    }
    assert_eq!(created.load(Ordering::SeqCst), 1);

    // A context of another type is replaced (and dropped) by the new one.
    let mut b = Client::connect(server.local_addr());
    assert_eq!(b.get("/first").text(), "");
    assert_eq!(b.get("/count").text(), "1");
    assert_eq!(created.load(Ordering::SeqCst), 2);
    assert_eq!(log.events(), ["drop first"]);
    assert_eq!(b.get("/get").text(), "none");
    assert_eq!(b.get("/count").text(), "2");
    assert_eq!(a.get("/count").text(), "4");
}

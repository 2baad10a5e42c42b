//! The control API: work queued onto the server thread (`queue_work` and its `ServerContext`),
//! raw sends and closes aimed at a session from other threads (`send_to`, `trigger_close`),
//! generation-checked session ids, the bounded control queue, the client list, and handlers
//! that register or unregister handlers while the server runs.
mod util;

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use httpd::{Config, Error, Handler, Method, SessionId};
use util::{on_server_thread, register_id_handler, session_id, start, Client, IO_TIMEOUT};

/// A second, complete response pushed to a client outside any request (ESP-IDF's async_data).
const PUSHED: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\npushed";

/// "slot.generation" split in two.
fn slot_and_generation(id: SessionId) -> (String, String) {
    let text = id.to_string();
    let (slot, generation) = text
        .split_once('.')
        .expect("id displays as slot.generation");
    (slot.to_owned(), generation.to_owned())
}

#[test]
fn queued_work_runs_on_the_server_thread() {
    let server = start(Config::builder().thread_name("control-test-srv"));
    let name = on_server_thread(&server, |_| thread::current().name().map(str::to_owned));
    assert_eq!(name.as_deref(), Some("control-test-srv"));
    // The server handle is reachable from work too.
    let running = on_server_thread(&server, |ctx| ctx.server().map(|s| s.is_running()));
    assert_eq!(running, Some(true));
}

#[test]
fn work_lists_the_open_sessions() {
    let server = start(Config::builder());
    let ids = register_id_handler(&server);
    assert!(on_server_thread(&server, |ctx| ctx.clients()).is_empty());
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    let mut want: Vec<SessionId> = clients.iter_mut().map(|c| session_id(c, &ids)).collect();
    want.sort();
    let mut seen = on_server_thread(&server, |ctx| ctx.clients());
    seen.sort();
    assert_eq!(seen, want);
}

#[test]
fn work_sends_raw_bytes_to_a_session_after_its_response() {
    let server = start(Config::builder());
    let ids = register_id_handler(&server);
    let mut c = Client::connect(server.local_addr());
    let id = session_id(&mut c, &ids);
    let sent = on_server_thread(&server, move |ctx| ctx.send(id, PUSHED).is_ok());
    assert!(sent);
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.text(), "pushed");
    // The connection still serves requests afterwards.
    assert_eq!(session_id(&mut c, &ids), id);
}

#[test]
fn work_reads_and_updates_a_session_context_by_id() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/set", Method::Get, |req| {
            req.set_session_ctx(41u32);
            let id = req.session_id().to_string();
            req.send_str(&id)
        }))
        .unwrap();
    server
        .register(Handler::new("/get", Method::Get, |req| {
            let v = req.session_ctx::<u32>().copied();
            req.send_str(&format!("{v:?}"))
        }))
        .unwrap();
    let ids = register_id_handler(&server);
    let mut with_ctx = Client::connect(server.local_addr());
    let mut without = Client::connect(server.local_addr());
    assert_eq!(with_ctx.get("/set").status, 200);
    let id = session_id(&mut with_ctx, &ids);
    let other = session_id(&mut without, &ids);

    let seen = on_server_thread(&server, move |ctx| {
        let wrong_type = ctx.session_ctx::<String>(id).is_some();
        let none_set = ctx.session_ctx::<u32>(other).is_some();
        let value = ctx.session_ctx::<u32>(id).map(|v| {
            *v += 1;
            *v
        });
        (wrong_type, none_set, value)
    });
    assert_eq!(seen, (false, false, Some(42)));
    assert_eq!(with_ctx.get("/get").text(), "Some(42)");
    assert_eq!(without.get("/get").text(), "None");
}

#[test]
fn send_to_from_another_thread_reaches_the_session() {
    let server = start(Config::builder());
    let ids = register_id_handler(&server);
    let mut c = Client::connect(server.local_addr());
    let id = session_id(&mut c, &ids);
    let remote = server.clone();
    thread::spawn(move || remote.send_to(id, PUSHED))
        .join()
        .unwrap()
        .expect("send_to queued");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "pushed");
    assert_eq!(session_id(&mut c, &ids), id);
}

#[test]
fn trigger_close_from_another_thread_closes_the_session() {
    let (closed_tx, closed_rx) = channel();
    let server = start(Config::builder().on_close(move |id| {
        let _ = closed_tx.send(id);
    }));
    let ids = register_id_handler(&server);
    let mut c = Client::connect(server.local_addr());
    let mut other = Client::connect(server.local_addr());
    let id = session_id(&mut c, &ids);
    let other_id = session_id(&mut other, &ids);
    let remote = server.clone();
    thread::spawn(move || remote.trigger_close(id))
        .join()
        .unwrap()
        .expect("trigger_close queued");
    assert!(c.is_closed());
    assert_eq!(closed_rx.recv_timeout(IO_TIMEOUT), Ok(id));
    assert_eq!(server.clients(), [other_id]);
    assert_eq!(session_id(&mut other, &ids), other_id);
}

#[test]
fn stale_ids_never_reach_a_new_session_in_the_same_slot() {
    let (closed_tx, closed_rx) = channel();
    let server = start(Config::builder().on_close(move |id| {
        let _ = closed_tx.send(id);
    }));
    let ids = register_id_handler(&server);
    let addr = server.local_addr();

    let mut a = Client::connect(addr);
    let stale = session_id(&mut a, &ids);
    drop(a);
    assert_eq!(closed_rx.recv_timeout(IO_TIMEOUT), Ok(stale));

    // Open connections until one lands in the freed slot (the first one should).
    let mut others = Vec::new();
    let (mut b, fresh) = loop {
        assert!(others.len() < 7, "no new session reused slot {stale}");
        let mut c = Client::connect(addr);
        let id = session_id(&mut c, &ids);
        if slot_and_generation(id).0 == slot_and_generation(stale).0 {
            break (c, id);
        }
        others.push(c);
    };
    assert_ne!(
        slot_and_generation(fresh).1,
        slot_and_generation(stale).1,
        "a reused slot must get a new generation"
    );
    assert_ne!(fresh, stale);

    server
        .send_to(
            stale,
            &b"HTTP/1.1 299 Stale\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .expect("send_to queued");
    server.trigger_close(stale).expect("trigger_close queued");
    // Runs after both messages above (FIFO).
    let (clients, send_stale, close_stale) = on_server_thread(&server, move |ctx| {
        (
            ctx.clients(),
            ctx.send(stale, b"stale").map_err(|e| e.to_string()),
            ctx.close(stale).map_err(|e| e.to_string()),
        )
    });
    assert!(clients.contains(&fresh), "{fresh} was closed by a stale id");
    assert!(!clients.contains(&stale));
    assert_eq!(send_stale, Err(Error::NoSuchSession.to_string()));
    assert_eq!(close_stale, Err(Error::NoSuchSession.to_string()));
    assert!(closed_rx.try_recv().is_err(), "a session was closed");

    // B got none of A's bytes and still works.
    let r = b.get("/id");
    assert_eq!(r.status, 200, "stale bytes reached the new session");
    assert_eq!(r.text(), fresh.to_string());
    assert_eq!(ids.recv_timeout(IO_TIMEOUT), Ok(fresh));
}

#[test]
fn queue_work_fails_fast_when_the_control_queue_is_full() {
    let server = start(Config::builder().ctrl_queue_len(2));
    let (entered_tx, entered_rx) = channel();
    let (release_tx, release_rx) = channel::<()>();
    let release_rx = Mutex::new(release_rx);
    server
        .register(Handler::new("/block", Method::Get, move |req| {
            let _ = entered_tx.send(());
            // Hold the server thread until the test has filled the queue.
            let _ = release_rx.lock().unwrap().recv_timeout(IO_TIMEOUT);
            req.send_str("released")
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET /block HTTP/1.1\r\nHost: test\r\n\r\n");
    entered_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("handler is running");

    let (done_tx, done_rx): (Sender<u32>, _) = channel();
    for n in 0..2 {
        let tx = done_tx.clone();
        server
            .queue_work(move |_| {
                let _ = tx.send(n);
            })
            .expect("room in the queue");
    }
    let started = Instant::now();
    let tx = done_tx.clone();
    let third = server.queue_work(move |_| {
        let _ = tx.send(99);
    });
    assert!(matches!(third, Err(Error::QueueFull)), "{third:?}");
    let clients = server.clients();
    assert!(matches!(
        server.trigger_close(clients[0]),
        Err(Error::QueueFull)
    ));
    assert!(matches!(
        server.send_to(clients[0], &b"x"[..]),
        Err(Error::QueueFull)
    ));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a full queue must fail at once, took {:?}",
        started.elapsed()
    );

    release_tx.send(()).unwrap();
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "released");
    assert_eq!(done_rx.recv_timeout(IO_TIMEOUT), Ok(0));
    assert_eq!(done_rx.recv_timeout(IO_TIMEOUT), Ok(1));
    // The refused work never runs; the queue accepts work again.
    assert_eq!(on_server_thread(&server, |_| 7), 7);
    assert!(done_rx.try_recv().is_err());
}

#[test]
fn server_clients_lists_the_open_connections() {
    let (closed_tx, closed_rx) = channel();
    let server = start(Config::builder().on_close(move |id| {
        let _ = closed_tx.send(id);
    }));
    let ids = register_id_handler(&server);
    assert!(server.clients().is_empty());
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    let mut open: Vec<SessionId> = clients.iter_mut().map(|c| session_id(c, &ids)).collect();
    open.sort();
    assert_eq!(server.clients(), open);

    drop(clients.remove(1));
    let gone = closed_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("a session closed");
    open.retain(|&id| id != gone);
    assert_eq!(open.len(), 2);
    assert_eq!(server.clients(), open);
    let mut inside = on_server_thread(&server, |ctx| ctx.clients());
    inside.sort();
    assert_eq!(inside, open);
}

#[test]
fn a_handler_registers_another_handler_for_the_next_request() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/install", Method::Get, |req| {
            let server = req.server().ok_or(Error::Stopped)?;
            let result = server.register(Handler::new("/new", Method::Get, |req| {
                req.send_str("new handler")
            }));
            let reply = match result {
                Ok(()) => "installed".to_owned(),
                Err(e) => e.to_string(),
            };
            req.send_str(&reply)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/new").status, 404);
    assert_eq!(c.get("/install").text(), "installed");
    let r = c.get("/new");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "new handler");
    assert_eq!(
        c.get("/install").text(),
        Error::HandlerExists.to_string(),
        "registering twice"
    );
    // Other connections see it too.
    let mut other = Client::connect(server.local_addr());
    assert_eq!(other.get("/new").text(), "new handler");
}

#[test]
fn a_handler_unregisters_itself() {
    let server = start(Config::builder());
    let calls = Arc::new(Mutex::new(0));
    let count = Arc::clone(&calls);
    server
        .register(Handler::new("/once", Method::Get, move |req| {
            *count.lock().unwrap() += 1;
            let server = req.server().ok_or(Error::Stopped)?;
            let result = server.unregister("/once", Method::Get);
            let reply = format!("{result:?}");
            req.send_str(&reply)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/once");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Ok(())");
    assert_eq!(c.get("/once").status, 404);
    assert_eq!(*calls.lock().unwrap(), 1);
    assert!(matches!(
        server.unregister("/once", Method::Get),
        Err(Error::HandlerNotFound)
    ));
}

#[test]
fn a_refused_connections_id_is_never_given_to_another_connection() {
    // on_open sees an id for every connection, refused or not; a SessionId "identifies one
    // connection for its whole life", so a control message aimed at the refused one must not
    // reach the next connection.
    let (open_tx, open_rx) = channel();
    let refused = Arc::new(Mutex::new(true));
    let refuse_next = Arc::clone(&refused);
    let server = start(Config::builder().on_open(move |id, _| {
        let accept = !std::mem::replace(&mut *refuse_next.lock().unwrap(), false);
        let _ = open_tx.send((id, accept));
        accept
    }));
    let ids = register_id_handler(&server);
    let mut first = Client::connect(server.local_addr());
    let (refused_id, accepted) = open_rx.recv_timeout(IO_TIMEOUT).expect("on_open ran");
    assert!(!accepted);
    assert!(first.is_closed());

    let mut second = Client::connect(server.local_addr());
    let (second_id, accepted) = open_rx.recv_timeout(IO_TIMEOUT).expect("on_open ran");
    assert!(accepted);
    assert_eq!(session_id(&mut second, &ids), second_id);
    assert_ne!(
        second_id, refused_id,
        "the refused connection's id was reused for the next connection"
    );

    server.trigger_close(refused_id).expect("queued");
    let clients = on_server_thread(&server, |ctx| ctx.clients());
    assert_eq!(clients, [second_id], "a stale id closed another connection");
    assert_eq!(session_id(&mut second, &ids), second_id);
}

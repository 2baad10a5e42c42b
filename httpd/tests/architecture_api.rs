//! API added with the restructuring: the handler failure policy, per-handler URI matchers,
//! raw session ids, stricter WebSocket send rules, a second `detach`, and `Debug` on the
//! handler-facing types.
mod util;

use std::io;
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::thread;

use httpd::{
    AsyncRequest, CloseCode, Config, Error, FailurePolicy, Handler, Method, Opcode, Request,
    Server, ServerContext, SessionId, UriMatch, WsConn, WsHandler,
};
use tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tungstenite::Message;
use util::*;

fn assert_hello(c: &mut Client) {
    let r = c.get("/hello");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "Hello World!"),
        "{r:?}"
    );
    assert!(!r.closes());
}

// ---- 3. Failure policy ----

/// A server with failing handlers, under `policy` (or the default).
fn failing_server(policy: Option<FailurePolicy>) -> Server {
    let mut builder = Config::builder();
    if let Some(p) = policy {
        builder = builder.failure_policy(p);
    }
    let server = start(builder);
    let routes: [(&str, fn(&mut Request<'_>) -> Result<(), Error>); 5] = [
        ("/fail", |_| Err(Error::handler("boom"))),
        ("/panic", |_| panic!("handler panics on purpose")),
        ("/fail-after-send", |req| {
            req.send_str("complete")?;
            Err(Error::handler("failed afterwards"))
        }),
        ("/fail-mid-chunk", |req| {
            req.send_chunk("part one")?;
            Err(Error::handler("failed mid-stream"))
        }),
        ("/hello", |req| req.send_str("Hello World!")),
    ];
    for (path, f) in routes {
        server.register(Handler::new(path, Method::Get, f)).unwrap();
    }
    server
}

#[test]
fn error_page_policy_answers_500_with_connection_close() {
    for (label, policy) in [
        ("default", None),
        ("ErrorPage", Some(FailurePolicy::ErrorPage)),
    ] {
        let server = failing_server(policy);
        for path in ["/fail", "/panic"] {
            let mut c = Client::connect(server.local_addr());
            let r = c.get(path);
            assert_eq!(r.status, 500, "{label} {path}: {r:?}");
            assert_eq!(r.text(), "Server has encountered an unexpected error");
            assert!(r.closes(), "{label} {path}: {r:?}");
            assert!(c.is_closed(), "{label} {path}");
        }
        assert_hello(&mut Client::connect(server.local_addr()));
    }
}

#[test]
fn close_policy_sends_nothing_and_closes() {
    let server = failing_server(Some(FailurePolicy::Close));
    for path in ["/fail", "/panic"] {
        let mut c = Client::connect(server.local_addr());
        c.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"));
        // Panics if any byte arrives before the close.
        assert!(c.is_closed(), "{path}: not closed");
    }
    // Working handlers are unaffected: keep-alive goes on.
    let mut c = Client::connect(server.local_addr());
    assert_hello(&mut c);
    assert_hello(&mut c);
    assert!(server.is_running());
}

#[test]
fn failing_after_the_response_started_closes_with_either_policy() {
    for (label, policy) in [
        ("ErrorPage", FailurePolicy::ErrorPage),
        ("Close", FailurePolicy::Close),
    ] {
        let server = failing_server(Some(policy));
        let mut c = Client::connect(server.local_addr());
        let r = c.get("/fail-after-send");
        assert_eq!((r.status, r.text().as_str()), (200, "complete"), "{label}");
        assert!(c.is_closed(), "{label}: kept open after a failure");

        let mut c = Client::connect(server.local_addr());
        c.send("GET /fail-mid-chunk HTTP/1.1\r\nHost: test\r\n\r\n");
        let err = c
            .try_response()
            .expect_err("a truncated chunked response parsed as complete");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "{label}: expected a close, got {err:?}"
        );
    }
}

// ---- 4. Per-handler URI matcher ----

/// A handler answering with its name and the path it saw.
fn named(uri: &str, name: &'static str) -> Handler {
    Handler::new(uri, Method::Get, move |req| {
        let body = format!("{name} {}", req.path());
        req.send_str(&body)
    })
}

fn assert_routed(c: &mut Client, path: &str, body: Option<&str>) {
    let r = c.get(path);
    match body {
        Some(body) => {
            assert_eq!(r.status, 200, "{path}: {r:?}");
            assert_eq!(r.text(), body, "{path}");
        }
        None => assert_eq!(r.status, 404, "{path}: {r:?}"),
    }
}

#[test]
fn with_match_wildcard_applies_to_that_handler_only() {
    let server = start(Config::builder()); // server-wide: exact
    server
        .register(named("/static/*", "static").with_match(UriMatch::Wildcard))
        .unwrap();
    server.register(named("/a*", "literal")).unwrap();
    server
        .register(named("/txt", "custom").with_match(UriMatch::custom(|_, p| p.ends_with(".txt"))))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_routed(&mut c, "/static/a/b.css", Some("static /static/a/b.css"));
    assert_routed(&mut c, "/static/x?v=1", Some("static /static/x"));
    assert_routed(&mut c, "/static/", Some("static /static/"));
    assert_routed(&mut c, "/static", None);
    assert_routed(&mut c, "/a*", Some("literal /a*"));
    assert_routed(&mut c, "/abc", None);
    assert_routed(&mut c, "/a", None);
    assert_routed(&mut c, "/docs/readme.txt", Some("custom /docs/readme.txt"));
    assert_routed(&mut c, "/docs/readme.md", None);
}

#[test]
fn with_match_exact_on_a_wildcard_server() {
    let server = start(Config::builder().uri_match(UriMatch::Wildcard));
    server
        .register(named("/exact*", "exact").with_match(UriMatch::Exact))
        .unwrap();
    server.register(named("/w/*", "wild")).unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_routed(&mut c, "/exact*", Some("exact /exact*"));
    assert_routed(&mut c, "/exactly", None);
    assert_routed(&mut c, "/w/any/thing", Some("wild /w/any/thing"));
}

// ---- 5. Raw session ids ----

/// `GET /id` (see `util::register_id_handler`) and `GET /hello`.
fn register_id_handler(server: &Server) -> Receiver<SessionId> {
    let ids = util::register_id_handler(server);
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .unwrap();
    ids
}

fn slot(id: SessionId) -> String {
    let text = id.to_string();
    let (slot, generation) = text.split_once('.').expect("slot.generation");
    assert!(
        slot.parse::<u32>().is_ok() && generation.parse::<u32>().is_ok(),
        "{text}"
    );
    slot.to_owned()
}

#[test]
fn session_ids_round_trip_through_raw_integers() {
    assert_eq!(SessionId::from_raw(-1), None);
    assert_eq!(SessionId::from_raw(i32::MIN), None);
    let server = start(Config::builder());
    let ids = register_id_handler(&server);
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    let mut seen = Vec::new();
    for c in &mut clients {
        let id = session_id(c, &ids);
        let raw = id.as_raw();
        assert!(raw >= 0, "{id} -> {raw}");
        assert_eq!(SessionId::from_raw(raw), Some(id));
        assert!(!seen.contains(&raw), "two open sessions share raw id {raw}");
        seen.push(raw);
    }
}

#[test]
fn a_raw_id_of_a_closed_session_is_stale() {
    let (closed_tx, closed_rx) = mpsc::channel();
    let closed_tx = Mutex::new(closed_tx);
    let server = start(Config::builder().on_close(move |id| {
        let _ = closed_tx.lock().unwrap().send(id);
    }));
    let ids = register_id_handler(&server);
    let addr = server.local_addr();
    let mut a = Client::connect(addr);
    let old = session_id(&mut a, &ids);
    let raw = old.as_raw();
    drop(a);
    assert_eq!(closed_rx.recv_timeout(IO_TIMEOUT), Ok(old));

    // A new connection in the same slot.
    let mut others = Vec::new();
    let (mut b, fresh) = loop {
        assert!(others.len() < 7, "no new session reused slot {old}");
        let mut c = Client::connect(addr);
        let id = session_id(&mut c, &ids);
        if slot(id) == slot(old) {
            break (c, id);
        }
        others.push(c);
    };
    assert_ne!(fresh.as_raw(), raw);
    let stale = SessionId::from_raw(raw).expect("non-negative");
    assert_eq!(stale, old);
    assert_ne!(stale, fresh);

    server.trigger_close(stale).expect("trigger_close queued");
    let (clients, sent) = on_server_thread(&server, move |ctx| {
        (
            ctx.clients(),
            matches!(ctx.send(stale, b"stale"), Err(Error::NoSuchSession)),
        )
    });
    assert!(sent, "ServerContext::send to a stale id");
    assert!(clients.contains(&fresh), "{fresh} was closed by a stale id");
    assert!(closed_rx.try_recv().is_err(), "a session was closed");
    // B got no stray bytes and still works.
    assert_eq!(session_id(&mut b, &ids), fresh);
    assert_hello(&mut b);
    // An id never given out is stale too.
    let never = SessionId::from_raw(i32::MAX).unwrap();
    let sent = on_server_thread(&server, move |ctx| {
        matches!(ctx.send(never, b"x"), Err(Error::NoSuchSession))
    });
    assert!(sent);
}

// ---- 6. WebSocket send rules and a second detach ----

#[test]
fn whole_messages_are_refused_while_a_fragmented_one_is_open() {
    let server = start(Config::builder());
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    server
        .register(WsHandler::new("/frag", move |conn, frame| {
            match frame.text() {
                Some("start") => {
                    conn.send_part(Opcode::Text, b"one ", false)?;
                    let text = conn.send_text("intruder");
                    let binary = conn.send_binary(b"intruder");
                    tx.lock()
                        .unwrap()
                        .send([text, binary].map(|r| matches!(r, Err(Error::ResponseStarted))))
                        .unwrap();
                    Ok(())
                }
                Some("end") => conn.send_part(Opcode::Text, b"two", true),
                Some(other) => conn.send_text(other),
                None => Ok(()),
            }
        }))
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/frag");
    ws.send(Message::text("start")).unwrap();
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok([true, true]));
    ws.send(Message::text("end")).unwrap();
    // The whole message once, with nothing before or after it.
    assert_eq!(ws_text(&mut ws), "one two");
    ws.send(Message::text("after")).unwrap();
    assert_eq!(ws_text(&mut ws), "after");
}

#[test]
fn invalid_opcodes_and_long_pings_are_refused() {
    let server = start(Config::builder());
    server
        .register(WsHandler::new("/checks", |conn, _| {
            let invalid = |r: Result<(), Error>| matches!(r, Err(Error::InvalidFrame));
            let report = [
                invalid(conn.send_part(Opcode::Ping, b"x", true)),
                invalid(conn.send_part(Opcode::Pong, b"x", true)),
                invalid(conn.send_part(Opcode::Close, b"x", true)),
                invalid(conn.send_part(Opcode::Continuation, b"x", false)),
                invalid(conn.ping(&[1u8; 126])),
                conn.ping(&[1u8; 125]).is_ok(),
            ];
            conn.send_text(&format!("{report:?}"))
        }))
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/checks");
    ws.send(Message::text("go")).unwrap();
    match ws.read().expect("the 125-byte ping") {
        Message::Ping(p) => assert_eq!(&p[..], &[1u8; 125][..]),
        other => panic!("expected the ping, got {other:?}"),
    }
    assert_eq!(ws_text(&mut ws), "[true, true, true, true, true, true]");
}

#[test]
fn every_send_after_close_is_refused() {
    let server = start(Config::builder());
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    server
        .register(WsHandler::new("/close", move |conn, _| {
            conn.close(CloseCode::NORMAL, "bye")?;
            let report = [
                conn.send_text("late"),
                conn.send_binary(b"late"),
                conn.send_part(Opcode::Text, b"late", true),
                conn.ping(b"p"),
                conn.pong(b"p"),
                conn.close(CloseCode::NORMAL, "again"),
            ]
            .map(|r| matches!(r, Err(Error::CloseSent)));
            tx.lock().unwrap().send(report).unwrap();
            Ok(())
        }))
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/close");
    ws.send(Message::text("x")).unwrap();
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok([true; 6]));
    match ws.read().expect("the close frame") {
        Message::Close(Some(f)) => {
            assert_eq!(f.code, TCloseCode::Normal);
            assert_eq!(f.reason.as_str(), "bye");
        }
        other => panic!("expected only the close frame, got {other:?}"),
    }
}

#[test]
fn a_second_detach_is_refused() {
    let server = start(Config::builder());
    let (tx, rx) = mpsc::channel::<(AsyncRequest, bool)>();
    let tx = Mutex::new(tx);
    server
        .register(Handler::new("/detach", Method::Get, move |req| {
            let first = req.detach()?;
            let second = matches!(req.detach(), Err(Error::AlreadyDetached));
            tx.lock().unwrap().send((first, second)).unwrap();
            Ok(())
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET /detach HTTP/1.1\r\nHost: test\r\n\r\n");
    let (mut detached, second_refused) = rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert!(second_refused, "second detach");
    thread::spawn(move || {
        detached
            .request()
            .unwrap()
            .send_str("answered once")
            .unwrap();
    })
    .join()
    .unwrap();
    let r = c.response();
    assert_eq!((r.status, r.text().as_str()), (200, "answered once"));
    assert!(!r.closes());
}

// ---- 7. Debug ----

fn assert_debug<T: std::fmt::Debug + ?Sized>() {}

#[test]
fn handler_facing_types_implement_debug() {
    assert_debug::<Request<'static>>();
    assert_debug::<WsConn<'static>>();
    assert_debug::<ServerContext<'static>>();
    assert_debug::<AsyncRequest>();

    let server = start(Config::builder());
    let (tx, rx) = mpsc::channel::<String>();
    let (async_tx, async_rx) = mpsc::channel::<AsyncRequest>();
    let (tx, async_tx) = (Mutex::new(tx), Mutex::new(async_tx));
    let ws_tx = Mutex::new(tx.lock().unwrap().clone());
    server
        .register(Handler::new("/dbg-path", Method::Get, move |req| {
            tx.lock().unwrap().send(format!("{req:?}")).unwrap();
            let detached = req.detach()?;
            async_tx.lock().unwrap().send(detached).unwrap();
            Ok(())
        }))
        .unwrap();
    server
        .register(WsHandler::new("/ws", move |conn, _| {
            ws_tx.lock().unwrap().send(format!("{conn:?}")).unwrap();
            conn.send_text("ok")
        }))
        .unwrap();

    let mut c = Client::connect(server.local_addr());
    c.send("GET /dbg-path HTTP/1.1\r\nHost: test\r\n\r\n");
    let req = rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert!(
        req.contains("/dbg-path") || req.to_ascii_lowercase().contains("get"),
        "Request debug: {req:?}"
    );
    let mut detached = async_rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert!(!format!("{detached:?}").is_empty());
    thread::spawn(move || detached.request().unwrap().send_str("done").unwrap())
        .join()
        .unwrap();
    assert_eq!(c.response().text(), "done");

    let mut ws = ws_connect(server.local_addr(), "/ws");
    ws.send(Message::text("x")).unwrap();
    assert_eq!(ws_text(&mut ws), "ok");
    assert!(
        !rx.recv_timeout(IO_TIMEOUT).unwrap().is_empty(),
        "WsConn debug"
    );

    let ctx = on_server_thread(&server, |ctx| format!("{ctx:?}"));
    assert!(!ctx.is_empty(), "ServerContext debug");
}

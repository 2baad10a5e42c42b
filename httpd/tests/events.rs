//! Server events (`ConfigBuilder::on_event`), in order, for a keep-alive session, a refused
//! session, errors and the stop.
mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use httpd::{Config, ConfigBuilder, ErrorCode, Event, Handler, Method, Server, SessionId};
use util::{register_hello, start, Client, IO_TIMEOUT};

/// An event, owned, with the session it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Started,
    Connected(SessionId),
    Head(SessionId, String),
    Body(SessionId, usize),
    Response(SessionId, u16),
    Sent(SessionId, usize),
    Disconnected(SessionId),
    Error(SessionId, ErrorCode),
    Stopped,
}

fn own(event: &Event<'_>) -> Seen {
    match *event {
        Event::Started { .. } => Seen::Started,
        Event::Connected { id, peer } => {
            assert!(peer.ip().is_loopback());
            Seen::Connected(id)
        }
        Event::RequestHead { id, method, uri } => Seen::Head(id, format!("{method} {uri}")),
        Event::BodyData { id, len } => Seen::Body(id, len),
        Event::ResponseHead { id, status } => Seen::Response(id, status),
        Event::DataSent { id, len } => Seen::Sent(id, len),
        Event::Disconnected { id } => Seen::Disconnected(id),
        Event::Error { id, code } => Seen::Error(id, code),
        Event::Stopped => Seen::Stopped,
        _ => panic!("unexpected event {event:?}"),
    }
}

fn server_with_events(builder: ConfigBuilder) -> (Server, Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = start(builder.on_event(move |e| {
        let _ = tx.lock().unwrap().send(own(e));
    }));
    register_hello(&server);
    server
        .register(Handler::new("/echo", Method::Post, |req| {
            let body = req.read_body(1024)?;
            req.send(&body)
        }))
        .unwrap();
    server
        .register(Handler::new("/fail", Method::Get, |_| {
            Err(httpd::Error::Handler("handler failure".into()))
        }))
        .unwrap();
    (server, rx)
}

/// Receives events until `until` matches one (included), merging consecutive `Sent`s of a
/// session into one with their total length.
fn collect(rx: &Receiver<Seen>, until: impl Fn(&Seen) -> bool) -> Vec<Seen> {
    let mut seen: Vec<Seen> = Vec::new();
    loop {
        let e = rx
            .recv_timeout(IO_TIMEOUT)
            .unwrap_or_else(|_| panic!("no event in time; so far {seen:?}"));
        let done = until(&e);
        match (seen.last_mut(), &e) {
            (Some(Seen::Sent(a, total)), Seen::Sent(b, n)) if a == b => *total += n,
            _ => seen.push(e),
        }
        if done {
            return seen;
        }
    }
}

#[test]
fn a_keep_alive_session_reports_each_step_in_order() {
    let (server, rx) = server_with_events(Config::builder());
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok(Seen::Started));
    let mut c = Client::connect(server.local_addr());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    let first = c.response();
    assert_eq!(first.text(), "hello");
    let second = c.get("/hello");
    assert_eq!(second.text(), "Hello World!");
    drop(c);
    let seen = collect(&rx, |e| matches!(e, Seen::Disconnected(_)));
    let Seen::Connected(id) = seen[0] else {
        panic!("first event {:?}", seen[0]);
    };
    let sent = |s: &Seen| match s {
        Seen::Sent(_, n) => *n,
        _ => 0,
    };
    assert_eq!(
        seen.iter()
            .map(|s| match s {
                Seen::Sent(i, _) => Seen::Sent(*i, 0),
                other => other.clone(),
            })
            .collect::<Vec<_>>(),
        vec![
            Seen::Connected(id),
            Seen::Head(id, "POST /echo".into()),
            Seen::Body(id, 5),
            Seen::Response(id, 200),
            Seen::Sent(id, 0),
            Seen::Head(id, "GET /hello".into()),
            Seen::Response(id, 200),
            Seen::Sent(id, 0),
            Seen::Disconnected(id),
        ]
    );
    // The bytes reported sent are the bytes of the responses: head and body each time.
    assert!(sent(&seen[4]) > "hello".len() + 40, "{seen:?}");
    assert!(sent(&seen[7]) > "Hello World!".len() + 40, "{seen:?}");
}

#[test]
fn a_refused_session_reports_only_its_disconnection() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let (server, rx) = server_with_events(
        Config::builder().on_open(move |_, _| counted.fetch_add(1, Ordering::SeqCst) != 0),
    );
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok(Seen::Started));
    let mut refused = Client::connect(server.local_addr());
    assert!(refused.is_closed());
    let seen = collect(&rx, |e| matches!(e, Seen::Disconnected(_)));
    assert!(
        matches!(seen[..], [Seen::Disconnected(_)]),
        "as ESP-IDF: no ON_CONNECTED for a refused socket; got {seen:?}"
    );
    let mut accepted = Client::connect(server.local_addr());
    assert_eq!(accepted.get("/hello").status, 200);
    assert!(matches!(
        collect(&rx, |e| matches!(e, Seen::Head(..)))[..],
        [Seen::Connected(_), Seen::Head(..)]
    ));
}

#[test]
fn errors_are_reported_with_their_code() {
    let (server, rx) = server_with_events(Config::builder());
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok(Seen::Started));

    // Routing: 404 on a kept connection.
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/nope").status, 404);
    let seen = collect(&rx, |e| matches!(e, Seen::Sent(..)));
    let Seen::Connected(id) = seen[0] else {
        panic!("{seen:?}")
    };
    assert_eq!(
        seen[1..4],
        [
            Seen::Head(id, "GET /nope".into()),
            Seen::Error(id, ErrorCode::NotFound),
            Seen::Response(id, 404),
        ]
    );

    // A handler's failure: 500, then the close.
    assert_eq!(c.get("/fail").status, 500);
    drop(c);
    let seen = collect(&rx, |e| matches!(e, Seen::Disconnected(_)));
    assert_eq!(seen[0], Seen::Head(id, "GET /fail".into()));
    assert_eq!(seen[1], Seen::Error(id, ErrorCode::InternalServerError));
    assert_eq!(seen[2], Seen::Response(id, 500));
    assert_eq!(seen.last(), Some(&Seen::Disconnected(id)));

    // A request the parser refuses: no head event, the error, its page, the close.
    let mut bad = Client::connect(server.local_addr());
    bad.send("GET /a b c\r\n\r\n");
    assert_eq!(bad.response().status, 400);
    drop(bad);
    let seen = collect(&rx, |e| matches!(e, Seen::Disconnected(_)));
    let Seen::Connected(bad_id) = seen[0] else {
        panic!("{seen:?}")
    };
    assert!(
        matches!(
            seen[1..],
            [
                Seen::Error(a, ErrorCode::BadRequest),
                Seen::Response(b, 400),
                Seen::Sent(c, _),
                Seen::Disconnected(d)
            ] if [a, b, c, d] == [bad_id; 4]
        ),
        "{seen:?}"
    );
}

#[test]
fn stop_reports_every_disconnection_then_stopped() {
    let (server, rx) = server_with_events(Config::builder());
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok(Seen::Started));
    let mut a = Client::connect(server.local_addr());
    let mut b = Client::connect(server.local_addr());
    assert_eq!(a.get("/hello").status, 200);
    assert_eq!(b.get("/hello").status, 200);
    server.stop();
    let seen = collect(&rx, |e| *e == Seen::Stopped);
    let disconnected = seen
        .iter()
        .filter(|e| matches!(e, Seen::Disconnected(_)))
        .count();
    assert_eq!(disconnected, 2, "{seen:?}");
    assert_eq!(seen.last(), Some(&Seen::Stopped));
    assert!(rx.try_recv().is_err(), "nothing after Stopped");
}

#[test]
fn a_file_body_sent_by_the_kernel_is_reported_as_sent() {
    let (server, rx) = server_with_events(Config::builder());
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok(Seen::Started));
    let path = std::env::temp_dir().join(format!("httpd-events-{}.bin", std::process::id()));
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &body).unwrap();
    let served = path.clone();
    server
        .register(Handler::new("/file", Method::Get, move |req| {
            req.send_body(httpd::Body::from_file(std::fs::File::open(&served)?)?)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut c.stream, &mut raw).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(raw.ends_with(&body));
    let seen = collect(&rx, |e| matches!(e, Seen::Disconnected(_)));
    let sent: usize = seen
        .iter()
        .map(|e| match e {
            Seen::Sent(_, n) => *n,
            _ => 0,
        })
        .sum();
    assert_eq!(sent, raw.len(), "{seen:?}");
}

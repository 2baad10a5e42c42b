//! The facade's WebSocket handlers: the `is_new` call, frames with `recv` as on the chip, the
//! `is_closed` call, detached senders from other threads, session ids.

use std::net::TcpStream;
use std::time::Instant;

use httpd::svc::embedded_svc::ws::FrameType;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

use super::handlers::WsEvent;
use super::util::{self, IO_TIMEOUT};
use super::TestServer;

type Ws = WebSocket<TcpStream>;

/// Connects to `/ws`, reads the welcome and returns the session the handler reported.
fn open(t: &TestServer) -> (Ws, i32) {
    let mut ws = util::ws_connect(t.addr(), "/ws");
    let WsEvent::New(session) = t.event() else {
        panic!("the first call is the is_new one");
    };
    assert_eq!(util::ws_text(&mut ws), "hello");
    (ws, session)
}

/// Waits (bounded) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

#[test]
fn frames_are_received_as_on_the_chip() {
    let t = TestServer::start();
    let (mut ws, s) = open(&t);
    ws.send(Message::text("abc")).unwrap();
    assert_eq!(
        t.event(),
        WsEvent::SecondRecvFailed(s),
        "a consumed frame is not received twice"
    );
    // Text: the size says one more than the payload, and a NUL follows it.
    assert_eq!(
        t.event(),
        WsEvent::Frame(s, FrameType::Text(false), 4, 4, b"abc\0".to_vec())
    );
    assert_eq!(util::ws_text(&mut ws), "abc");
    ws.send(Message::binary(vec![7u8, 8, 9])).unwrap();
    assert_eq!(t.event(), WsEvent::SecondRecvFailed(s));
    assert_eq!(
        t.event(),
        WsEvent::Frame(s, FrameType::Binary(false), 3, 3, vec![7, 8, 9])
    );
    assert_eq!(ws.read().unwrap(), Message::binary(vec![7u8, 8, 9]));
}

#[test]
fn a_fragmented_message_reaches_the_handler_frame_by_frame() {
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    use tungstenite::protocol::frame::Frame;
    let t = TestServer::start();
    let (mut ws, s) = open(&t);
    let frames = [
        (OpCode::Data(Data::Text), &b"ab"[..], false),
        (OpCode::Data(Data::Continue), &b"cd"[..], false),
        (OpCode::Data(Data::Continue), &b"ef"[..], true),
    ];
    for (opcode, data, fin) in frames {
        ws.write(Message::Frame(Frame::message(data.to_vec(), opcode, fin)))
            .unwrap();
    }
    ws.flush().unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match t.event() {
            WsEvent::SecondRecvFailed(_) => {}
            other => seen.push(other),
        }
    }
    assert_eq!(
        seen,
        vec![
            // The first frame: fragmented, its size with the NUL.
            WsEvent::Frame(s, FrameType::Text(true), 3, 3, b"ab\0".to_vec()),
            WsEvent::Frame(s, FrameType::Continue(false), 2, 2, b"cd".to_vec()),
            WsEvent::Frame(s, FrameType::Continue(true), 2, 2, b"ef".to_vec()),
        ]
    );
    // The handler answered each frame on its own.
    assert_eq!(util::ws_text(&mut ws), "ab");
    assert_eq!(ws.read().unwrap(), Message::binary(b"cd".to_vec()));
    assert_eq!(ws.read().unwrap(), Message::binary(b"ef".to_vec()));
}

#[test]
fn handler_frames_go_out_in_order_and_an_error_keeps_the_connection() {
    let t = TestServer::start();
    let (mut ws, _) = open(&t);
    ws.send(Message::text("parts")).unwrap();
    assert_eq!(
        util::ws_text(&mut ws),
        "one two three",
        "fragments reassembled"
    );
    ws.send(Message::text("ping")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Ping(b"p".to_vec().into()));
    ws.send(Message::text("fail")).unwrap();
    ws.send(Message::text("still here")).unwrap();
    assert_eq!(util::ws_text(&mut ws), "still here");
}

#[test]
fn a_close_from_the_handler_ends_with_the_is_closed_call() {
    let t = TestServer::start();
    let (mut ws, s) = open(&t);
    ws.send(Message::text("bye")).unwrap();
    match ws.read().unwrap() {
        Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1000);
            assert_eq!(frame.reason.as_str(), "ok");
        }
        other => panic!("expected a close, got {other:?}"),
    }
    // tungstenite answers the close; then the session closes.
    let _ = ws.flush();
    let closed = loop {
        match t.event() {
            WsEvent::Closed(id) => break id,
            _ => continue,
        }
    };
    assert_eq!(closed, s);
}

#[test]
fn sessions_are_unique_and_each_new_call_comes_once() {
    let t = TestServer::start();
    let (mut a, sa) = open(&t);
    let (mut b, sb) = open(&t);
    let (c, sc) = open(&t);
    assert!(sa != sb && sb != sc && sa != sc, "{sa} {sb} {sc}");
    drop(c);
    assert_eq!(t.event(), WsEvent::Closed(sc));
    a.send(Message::text("to a")).unwrap();
    b.send(Message::text("to b")).unwrap();
    assert_eq!(util::ws_text(&mut a), "to a");
    assert_eq!(util::ws_text(&mut b), "to b");
    let mut seen = Vec::new();
    for _ in 0..4 {
        if let WsEvent::Frame(s, ..) = t.event() {
            seen.push(s);
        }
    }
    seen.sort();
    let mut want = vec![sa, sb];
    want.sort();
    assert_eq!(
        seen, want,
        "no further is_new calls, frames from both sessions"
    );
}

#[test]
fn detached_senders_work_from_other_threads_until_the_client_leaves() {
    let t = TestServer::start();
    let (mut ws, s) = open(&t);
    let sender = t
        .senders
        .recv_timeout(IO_TIMEOUT)
        .expect("a detached sender");
    assert_eq!(sender.session(), s);
    assert!(!sender.is_closed() && !sender.is_new());
    let mut clone = sender.clone();
    std::thread::spawn(move || {
        clone
            .send(FrameType::Text(false), b"from afar")
            .expect("sent from another thread");
        clone.send(FrameType::Binary(false), &[1, 2]).unwrap();
        assert!(clone.send(FrameType::Text(true), b"frag").is_err());
    })
    .join()
    .unwrap();
    assert_eq!(util::ws_text(&mut ws), "from afar");
    assert_eq!(ws.read().unwrap(), Message::binary(vec![1u8, 2]));

    ws.close(None).unwrap();
    let _ = ws.flush();
    let closed = loop {
        if let WsEvent::Closed(id) = t.event() {
            break id;
        }
    };
    assert_eq!(closed, s);
    eventually("is_closed", || sender.is_closed());
    let mut sender = sender;
    assert!(sender.send(FrameType::Text(false), b"late").is_err());
}

#[test]
fn a_client_that_vanishes_and_a_server_that_stops_close_sessions() {
    let t = TestServer::start();
    let (ws, s) = open(&t);
    let sender = t.senders.recv_timeout(IO_TIMEOUT).unwrap();
    drop(ws); // no close handshake
    assert_eq!(t.event(), WsEvent::Closed(s));
    assert!(sender.is_closed());

    let (_ws, s2) = open(&t);
    let sender2 = t.senders.recv_timeout(IO_TIMEOUT).unwrap();
    let TestServer { server, events, .. } = t;
    drop(server);
    assert_eq!(
        events.recv_timeout(IO_TIMEOUT).unwrap(),
        WsEvent::Closed(s2),
        "stopping closes the session and calls the handler"
    );
    assert!(sender2.is_closed());
}

#[test]
fn the_subprotocol_list_picks_the_first_the_client_offers() {
    let t = TestServer::start();
    let stream = TcpStream::connect(t.addr()).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut req = format!("ws://{}/ws", t.addr())
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "other, superchat".parse().unwrap(),
    );
    let (_ws, resp) = tungstenite::client(req, stream).expect("handshake");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("superchat")
    );
    assert!(matches!(t.event(), WsEvent::New(_)));
}

#[test]
fn an_error_on_the_new_call_is_logged_and_the_session_goes_on() {
    let t = TestServer::start();
    let mut ws = util::ws_connect(t.addr(), "/ws-grumpy");
    assert_eq!(
        util::ws_text(&mut ws),
        "grr",
        "sent before the handler failed"
    );
    ws.send(Message::binary(vec![5u8])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![5u8]));
}

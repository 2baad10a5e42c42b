//! WebSocket (RFC 6455) endpoints, driven by an independent client (tungstenite) and, for what
//! a well-behaved client never sends, by raw frames.
mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use httpd::{CloseCode, Config, Error, ErrorCode, Opcode, Server, WsHandler, WsMessage};
use tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tungstenite::{client::IntoClientRequest, Message};
use util::{start, ws_connect, ws_text, Client, IO_TIMEOUT};

fn echo_server(builder: httpd::ConfigBuilder) -> Server {
    let server = start(builder);
    server
        .register(WsHandler::new("/ws", |conn, frame| match frame.text() {
            Some("Trigger async") => {
                let id = conn.session_id();
                let server = conn.server().ok_or(Error::Stopped)?;
                std::thread::spawn(move || {
                    let _ = server.ws_send(id, WsMessage::text("Async data"));
                });
                Ok(())
            }
            Some(text) => conn.send_text(text),
            None => conn.send_binary(frame.payload()),
        }))
        .unwrap();
    server
}

/// A masked client frame, as a client would send it.
fn frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![first_byte];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A raw upgraded connection, for frames a real client would never send.
fn raw_upgrade(addr: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    s
}

/// Reads one server frame: (first byte, payload). Server frames are never masked.
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).unwrap();
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).unwrap();
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).unwrap();
    (h[0], payload)
}

/// Expects a Close frame with `code`, then the end of the connection.
fn expect_close(s: &mut TcpStream, code: u16) {
    let (b0, payload) = read_frame(s);
    assert_eq!(b0, 0x88, "a final Close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code);
    let mut rest = Vec::new();
    let r = s.read_to_end(&mut rest);
    assert!(r.is_ok() || r.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset));
    assert!(rest.is_empty());
}

#[test]
fn echoes_text_and_binary_messages() {
    let server = echo_server(Config::builder());
    let mut ws = ws_connect(server.local_addr(), "/ws");
    ws.send(Message::text("hello")).unwrap();
    assert_eq!(ws_text(&mut ws), "hello");
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![0u8, 1, 2, 255]));
    let big = "x".repeat(60_000);
    ws.send(Message::text(big.clone())).unwrap();
    assert_eq!(ws_text(&mut ws), big);
    assert_eq!(server.ws_clients().len(), 1);
}

#[test]
fn messages_from_another_thread_reach_the_session() {
    let server = echo_server(Config::builder());
    let mut ws = ws_connect(server.local_addr(), "/ws");
    ws.send(Message::text("Trigger async")).unwrap();
    assert_eq!(ws_text(&mut ws), "Async data");
    // And directly, with a completion callback.
    let id = server.ws_clients()[0];
    let (tx, rx) = mpsc::channel();
    server
        .ws_send_with(id, WsMessage::binary(vec![7u8; 3]), move |r| {
            tx.send(r.is_ok()).unwrap()
        })
        .unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![7u8; 3]));
    assert!(rx.recv_timeout(IO_TIMEOUT).unwrap());
    // A session that is gone is reported as such.
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
    let (tx, rx) = mpsc::channel();
    server
        .ws_send_with(id, WsMessage::text("late"), move |r| {
            tx.send(matches!(r, Err(Error::NoSuchSession))).unwrap()
        })
        .unwrap();
    assert!(rx.recv_timeout(IO_TIMEOUT).unwrap());
}

#[test]
fn pings_are_answered_and_the_close_handshake_echoes_the_code() {
    let server = echo_server(Config::builder());
    let mut s = raw_upgrade(server.local_addr(), "/ws");
    s.write_all(&frame(0x89, b"are you there")).unwrap();
    assert_eq!(read_frame(&mut s), (0x8a, b"are you there".to_vec()));
    let mut close = 4000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    s.write_all(&frame(0x88, &close)).unwrap();
    expect_close(&mut s, 4000);
}

#[test]
fn the_server_can_start_the_close_handshake() {
    let server = echo_server(Config::builder());
    let mut ws = ws_connect(server.local_addr(), "/ws");
    ws.send(Message::text("x")).unwrap();
    assert_eq!(ws_text(&mut ws), "x");
    let id = server.ws_clients()[0];
    server
        .ws_send(id, WsMessage::close(CloseCode::GOING_AWAY, "maintenance"))
        .unwrap();
    match ws.read().unwrap() {
        Message::Close(Some(f)) => {
            assert_eq!(f.code, TCloseCode::Away);
            assert_eq!(f.reason.as_str(), "maintenance");
        }
        other => panic!("{other:?}"),
    }
    // tungstenite answers the close; then the connection ends.
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => break,
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                break
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn protocol_violations_close_with_their_codes() {
    let server = echo_server(Config::builder());
    server
        .register(
            WsHandler::new("/small", |conn, frame| conn.send_binary(frame.payload()))
                .max_message(100),
        )
        .unwrap();
    let addr = server.local_addr();
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        ("unmasked frame", "/ws", vec![0x81, 0x02, b'h', b'i'], 1002),
        ("reserved bit", "/ws", frame(0xc1, b"hi"), 1002),
        ("reserved opcode", "/ws", frame(0x83, b"hi"), 1002),
        ("continuation first", "/ws", frame(0x80, b"hi"), 1002),
        ("fragmented ping", "/ws", frame(0x09, b"hi"), 1002),
        ("long ping", "/ws", frame(0x89, &[0u8; 126]), 1002),
        ("invalid UTF-8", "/ws", frame(0x81, &[0xff, 0xfe]), 1007),
        ("message too big", "/small", frame(0x82, &[0u8; 101]), 1009),
        (
            "bad close code",
            "/ws",
            frame(0x88, &999u16.to_be_bytes()),
            1002,
        ),
    ];
    for (name, path, bytes, code) in cases {
        let mut s = raw_upgrade(addr, path);
        s.write_all(&bytes).unwrap();
        let (b0, payload) = read_frame(&mut s);
        assert_eq!(b0, 0x88, "{name}: a Close frame");
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code, "{name}");
    }
    // Exactly at the limit is fine.
    let mut s = raw_upgrade(addr, "/small");
    s.write_all(&frame(0x82, &[1u8; 100])).unwrap();
    assert_eq!(read_frame(&mut s), (0x82, vec![1u8; 100]));
}

#[test]
fn fragmented_messages_are_received_whole_with_control_frames_between() {
    let server = echo_server(Config::builder());
    let mut s = raw_upgrade(server.local_addr(), "/ws");
    let mut bytes = frame(0x01, b"Hel");
    bytes.extend(frame(0x89, b"p"));
    bytes.extend(frame(0x00, b"lo "));
    bytes.extend(frame(0x80, "wörld".as_bytes()));
    // One byte at a time: every split point of the frames.
    for b in bytes {
        s.write_all(&[b]).unwrap();
    }
    assert_eq!(read_frame(&mut s), (0x8a, b"p".to_vec()));
    assert_eq!(
        read_frame(&mut s),
        (0x81, "Hello wörld".as_bytes().to_vec())
    );
}

#[test]
fn parts_are_delivered_as_they_come_and_echoed_as_fragments() {
    let server = start(Config::builder());
    server
        .register(
            WsHandler::new("/ws_partial", |conn, frame| {
                conn.send_part(frame.opcode(), frame.payload(), frame.is_final())
            })
            .part_len(64),
        )
        .unwrap();
    let mut s = raw_upgrade(server.local_addr(), "/ws_partial");
    let message: Vec<u8> = (0..200u8).collect();
    s.write_all(&frame(0x82, &message)).unwrap();
    let mut got = Vec::new();
    let mut opcodes = Vec::new();
    loop {
        let (b0, payload) = read_frame(&mut s);
        assert!(payload.len() <= 64);
        opcodes.push(b0);
        got.extend(payload);
        if b0 & 0x80 != 0 {
            break;
        }
    }
    assert_eq!(got, message);
    assert_eq!(
        opcodes.first(),
        Some(&0x02),
        "the first fragment carries the opcode"
    );
    assert!(
        opcodes[1..opcodes.len() - 1].iter().all(|&b| b == 0x00),
        "then continuations"
    );
    assert_eq!(opcodes.last(), Some(&0x80));
    // An independent client reassembles it.
    let mut ws = ws_connect(server.local_addr(), "/ws_partial");
    ws.send(Message::text("é".repeat(100))).unwrap();
    assert_eq!(ws_text(&mut ws), "é".repeat(100));
}

#[test]
fn frames_from_other_threads_never_interleave_with_a_fragmented_message() {
    let server = start(Config::builder());
    let (id_tx, id_rx) = mpsc::channel();
    let id_tx = std::sync::Mutex::new(id_tx);
    server
        .register(WsHandler::new("/frag", move |conn, frame| {
            match frame.text() {
                // Opens a fragmented message and leaves it open until "end".
                Some("start") => {
                    id_tx.lock().unwrap().send(conn.session_id()).unwrap();
                    conn.send_part(Opcode::Text, b"one ", false)
                }
                Some("end") => conn.send_part(Opcode::Text, b"two", true),
                _ => Ok(()),
            }
        }))
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/frag");
    ws.send(Message::text("start")).unwrap();
    let id = id_rx.recv_timeout(IO_TIMEOUT).unwrap();
    let (tx, rx) = mpsc::channel();
    server
        .ws_send_with(id, WsMessage::text("async"), move |r| {
            tx.send(r.is_ok()).unwrap()
        })
        .unwrap();
    // The async message is held until the fragmented one ends: nothing is sent meanwhile.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    ws.send(Message::text("end")).unwrap();
    assert_eq!(ws_text(&mut ws), "one two");
    assert_eq!(ws_text(&mut ws), "async");
    assert!(rx.recv_timeout(IO_TIMEOUT).unwrap());
}

#[test]
fn handshake_is_validated() {
    let server = echo_server(Config::builder());
    let addr = server.local_addr();
    let base = "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let cases = [
        (format!("GET /ws HTTP/1.1\r\n{base}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"), 426),
        (format!("GET /ws HTTP/1.1\r\n{base}Sec-WebSocket-Version: 13\r\n\r\n"), 400),
        (format!("GET /ws HTTP/1.1\r\n{base}Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400),
        ("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 426),
    ];
    for (req, status) in cases {
        let mut c = Client::connect(addr);
        c.send(&req);
        let r = c.response();
        assert_eq!(r.status, status, "{req:?}");
        if status == 426 && req.contains("Version: 8") {
            assert_eq!(r.header("sec-websocket-version"), Some("13"));
        }
    }
    let mut c = Client::connect(addr);
    c.send(format!(
        "POST /ws HTTP/1.1\r\n{base}Content-Length: 0\r\n\r\n"
    ));
    assert_eq!(c.response().status, 405);
}

#[test]
fn hooks_and_subprotocol() {
    let server = start(Config::builder());
    server
        .register(
            WsHandler::new("/auth", |conn, frame| conn.send_binary(frame.payload()))
                .subprotocol("chat")
                .pre_handshake(|req| {
                    if req.query_value("token") != Some("valid") {
                        req.send_err(ErrorCode::Unauthorized, None)?;
                    }
                    Ok(())
                })
                .post_handshake(|conn| conn.send_text("Welcome")),
        )
        .unwrap();
    let addr = server.local_addr();
    let mut c = Client::connect(addr);
    c.send("GET /auth?token=nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert_eq!(c.response().status, 401);

    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut req = format!("ws://{addr}/auth?token=valid")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "other, chat".parse().unwrap());
    let (mut ws, resp) = tungstenite::client(req, stream).unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "chat"
    );
    assert_eq!(ws_text(&mut ws), "Welcome");
}

#[test]
fn control_frames_can_go_to_the_handler() {
    let server = start(Config::builder());
    server
        .register(
            WsHandler::new("/ctl", |conn, frame| match frame.opcode() {
                Opcode::Ping => conn.send_text(&format!(
                    "saw ping {:?}",
                    String::from_utf8_lossy(frame.payload())
                )),
                Opcode::Close => Ok(()),
                _ => conn.send_binary(frame.payload()),
            })
            .control_frames(true),
        )
        .unwrap();
    let mut s = raw_upgrade(server.local_addr(), "/ctl");
    s.write_all(&frame(0x89, b"p1")).unwrap();
    assert_eq!(read_frame(&mut s), (0x81, b"saw ping \"p1\"".to_vec()));
    s.write_all(&frame(0x88, &1000u16.to_be_bytes())).unwrap();
    expect_close(&mut s, 1000);
}

#[test]
fn a_failing_handler_closes_with_1011() {
    let server = start(Config::builder());
    server
        .register(WsHandler::new("/fail", |_, _| Err(Error::handler("no"))))
        .unwrap();
    let mut s = raw_upgrade(server.local_addr(), "/fail");
    s.write_all(&frame(0x81, b"x")).unwrap();
    expect_close(&mut s, 1011);
}

#[test]
fn one_server_holds_many_concurrent_websocket_clients() {
    const CLIENTS: usize = 500;
    let server = echo_server(
        Config::builder()
            .max_open_sockets(CLIENTS + 8)
            .backlog_conn(512),
    );
    let addr = server.local_addr();
    let mut clients: Vec<_> = (0..CLIENTS).map(|_| ws_connect(addr, "/ws")).collect();
    assert_eq!(server.ws_clients().len(), CLIENTS);
    for (i, ws) in clients.iter_mut().enumerate() {
        ws.send(Message::text(format!("client {i}"))).unwrap();
    }
    for (i, ws) in clients.iter_mut().enumerate() {
        assert_eq!(ws_text(ws), format!("client {i}"));
    }
    // Plain HTTP is still served alongside.
    let mut c = Client::connect(addr);
    assert_eq!(c.get("/nope").status, 404);
}

#[test]
fn a_handler_can_start_the_close_handshake_and_the_server_waits_for_the_reply() {
    let server = start(Config::builder());
    server
        .register(WsHandler::new("/bye", |conn, _| {
            conn.close(CloseCode::NORMAL, "done")
        }))
        .unwrap();
    let mut s = raw_upgrade(server.local_addr(), "/bye");
    s.write_all(&frame(0x81, b"x")).unwrap();
    let (b0, payload) = read_frame(&mut s);
    assert_eq!((b0, &payload[..2]), (0x88, &1000u16.to_be_bytes()[..]));
    assert_eq!(&payload[2..], b"done");
    // The connection stays open for our reply, then ends.
    s.write_all(&frame(0x88, &1000u16.to_be_bytes())).unwrap();
    let mut rest = Vec::new();
    let r = s.read_to_end(&mut rest);
    assert!(r.is_ok() || r.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset));
    assert!(rest.is_empty(), "nothing after our close: {rest:?}");
}

#[test]
fn a_client_that_sends_its_upgrade_a_message_and_its_fin_together_is_answered_and_closed() {
    // Everything arrives in one segment: the loop sees the end of stream while the message is
    // still buffered, and no further readiness event will come to close the session.
    let server = echo_server(Config::builder());
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    s.write_all(&[upgrade.as_bytes(), &frame(0x81, b"last words")].concat())
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)
        .expect("the server closes the connection");
    let head_end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a 101 head")
        + 4;
    assert!(reply.starts_with(b"HTTP/1.1 101 "));
    assert_eq!(
        &reply[head_end..],
        [&[0x81, 10][..], b"last words"].concat()
    );
    let closed = Instant::now() + IO_TIMEOUT;
    while !server.clients().is_empty() {
        assert!(Instant::now() < closed, "the session stays open");
        std::thread::yield_now();
    }
}

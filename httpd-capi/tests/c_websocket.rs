//! WebSocket through the C API: `tests/c/ws_server.c` (after ESP-IDF's ws_echo_server) driven
//! with tungstenite, an independent client.
mod common;
#[path = "../../httpd/tests/util/mod.rs"]
mod util;

use std::net::TcpStream;

use common::Prog;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};
use util::{ws_connect, ws_text, Client};

const SRC: &str = "tests/c/ws_server.c";

fn next(ws: &mut WebSocket<TcpStream>) -> Message {
    ws.read().expect("a message")
}

#[test]
fn echo_commands_and_async_sends() {
    let mut p = Prog::start(SRC, &[]);
    let addr = p.addr(0);
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(util::IO_TIMEOUT)).unwrap();
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "chat".parse().unwrap());
    let (mut ws, resp) = tungstenite::client(req, stream).expect("handshake");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("chat")
    );

    ws.send(Message::text("hello")).unwrap();
    assert_eq!(ws_text(&mut ws), "hello");
    p.wait_for_log("frame type=1 len=5 final=1 small=ESP_ERR_INVALID_SIZE");
    ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    assert_eq!(next(&mut ws), Message::binary(vec![1u8, 2, 3]));

    // Frames reach the handler with method 0 (not GET); the handshake never did.
    ws.send(Message::text("whoami")).unwrap();
    assert_eq!(ws_text(&mut ws), "method=0 fd_info=2 uri=[]");

    ws.send(Message::text("fragments")).unwrap();
    assert_eq!(ws_text(&mut ws), "fragmented");

    ws.send(Message::text("Trigger async")).unwrap();
    assert_eq!(ws_text(&mut ws), "Async data");
    p.wait_for_log("send_frame_async=ESP_OK");

    // PINGs are answered for the handler; PONGs reach it.
    ws.send(Message::Ping(b"p".to_vec().into())).unwrap();
    assert_eq!(next(&mut ws), Message::Pong(b"p".to_vec().into()));
    ws.send(Message::Pong(b"unsolicited".to_vec().into()))
        .unwrap();
    assert_eq!(ws_text(&mut ws), "got pong: unsolicited");

    // From another thread: blocking, then with a completion callback.
    ws.send(Message::text("thread")).unwrap();
    assert_eq!(ws_text(&mut ws), "from thread");
    assert_eq!(ws_text(&mut ws), "from thread async");
    p.wait_for_log("send_data=ESP_OK");
    p.wait_for_log("send_data_async callback err=ESP_OK arg=cb-arg");

    // A received close is answered with a close, then the connection closes.
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("expected a clean close, got {e}"),
        }
    }
    assert!(!p
        .logs()
        .iter()
        .any(|l| l.contains("handler called for the handshake")));
    let (status, logs) = p.finish();
    assert!(status.success(), "{}", logs.join("\n"));
}

#[test]
fn server_close_and_control_frames_handled_by_the_handler() {
    let mut p = Prog::start(SRC, &[]);
    let addr = p.addr(0);
    let mut ws = ws_connect(addr, "/ws");
    ws.send(Message::text("bye")).unwrap();
    match next(&mut ws) {
        Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1000);
            assert_eq!(frame.reason.as_str(), "bye");
        }
        other => panic!("expected the handler's close, got {other:?}"),
    }

    let mut ctl = ws_connect(addr, "/wsctl");
    ctl.send(Message::Ping(b"x".to_vec().into())).unwrap();
    assert_eq!(next(&mut ctl), Message::Pong(b"x".to_vec().into()));
    p.wait_for_log("ctl type=9 len=1");
    ctl.send(Message::text("t")).unwrap();
    assert_eq!(ws_text(&mut ctl), "t");
    ctl.close(None).unwrap();
    loop {
        match ctl.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("expected a clean close, got {e}"),
        }
    }
    p.wait_for_log("ctl type=8");

    let mut c = Client::connect(addr);
    assert_eq!(c.get("/plain").text(), "fd_info=1");

    // httpd_ws_recv_frame_part: three bytes per call, left_len counting down.
    let mut parts = ws_connect(addr, "/wsparts");
    parts.send(Message::text("abcdefgh")).unwrap();
    assert_eq!(ws_text(&mut parts), "abcdefgh|5,2,0,|len=8");
}

#[test]
fn handshake_callbacks_when_configured() {
    let exe = common::compile_with(
        "tests/c/ws_callbacks.c",
        &[
            "-DCONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT=1",
            "-DCONFIG_HTTPD_WS_POST_HANDSHAKE_CB_SUPPORT=1",
        ],
    );
    let mut p = Prog::spawn(std::process::Command::new(exe));
    let addr = p.addr(0);
    let mut ws = ws_connect(addr, "/ws");
    // The post-handshake callback speaks first.
    assert_eq!(ws_text(&mut ws), "welcome");
    ws.send(Message::text("echo me")).unwrap();
    assert_eq!(ws_text(&mut ws), "echo me");
    p.wait_for_log("pre method=1 uri=/ws user=ctx");
    p.wait_for_log("post method=1");
    // The pre-handshake callback refuses: no handshake, the connection closes.
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(util::IO_TIMEOUT)).unwrap();
    let req = format!("ws://{addr}/ws?deny=1")
        .into_client_request()
        .unwrap();
    assert!(
        tungstenite::client(req, stream).is_err(),
        "the upgrade was refused"
    );
    p.wait_for_log("pre method=1 uri=/ws?deny=1");
}

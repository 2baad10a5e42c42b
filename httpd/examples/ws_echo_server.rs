//! A WebSocket echo server, after ESP-IDF's `ws_echo_server` example.
//!
//! - `/ws`: echoes text and binary messages. The text "Trigger async" makes the server send
//!   "Async data" from another thread; "Ping" makes it send a ping.
//! - `/ws_partial`: reads messages in 64-byte parts and echoes each part as a fragment.
//! - `/auth?token=valid`: accepted by the pre-handshake hook (other tokens get 401) and greeted
//!   by the post-handshake hook; then echoes.
//! - `GET /`: a page whose script connects to `/ws`, sends a message and shows the echo.
//!
//! ```text
//! cargo run --example ws_echo_server -- --port 8080
//! ```
//!
//! Ctrl-C shuts it down gracefully (requests in progress finish).

mod common;

use std::process::ExitCode;

use httpd::{
    Config, Error, ErrorCode, Handler, Method, Server, WsConn, WsFrame, WsHandler, WsMessage,
};
use log::{error, info};

const PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>httpd WebSocket echo</title></head>
<body>
<h1>WebSocket echo</h1>
<p>Sent: <span id="sent"></span></p>
<p>Echo: <span id="echo">(waiting)</span></p>
<script>
const message = "Hello from the browser";
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onopen = () => {
  document.getElementById("sent").textContent = message;
  ws.send(message);
};
ws.onmessage = (event) => {
  const echo = document.getElementById("echo");
  if (echo.textContent === "(waiting)") {
    echo.textContent = event.data;
    // Tell the server what the page now shows (it logs it).
    ws.send("page shows: " + echo.textContent);
  }
};
</script>
</body></html>
"#;

fn echo(conn: &mut WsConn<'_>, frame: WsFrame<'_>) -> Result<(), Error> {
    match frame.text() {
        Some("Trigger async") => {
            let id = conn.session_id();
            let server = conn.server().ok_or(Error::Stopped)?;
            // Another thread sends through the server's control queue.
            std::thread::spawn(move || {
                if let Err(e) = server.ws_send(id, WsMessage::text("Async data")) {
                    error!("/ws: async send: {e}");
                }
            });
            Ok(())
        }
        Some("Ping") => conn.ping(b"ping from the server"),
        Some(text) => {
            info!("/ws received: {text}");
            conn.send_text(text)
        }
        None => conn.send_binary(frame.payload()),
    }
}

fn start(port: u16) -> Result<Server, Error> {
    info!("Starting server on port: '{port}'");
    let server = Server::start(Config::builder().port(port).build()?)?;
    server.register(WsHandler::new("/ws", echo))?;
    server.register(
        WsHandler::new("/ws_partial", |conn, frame| {
            info!(
                "/ws_partial: part of {} bytes (final: {})",
                frame.payload().len(),
                frame.is_final()
            );
            conn.send_part(frame.opcode(), frame.payload(), frame.is_final())
        })
        .part_len(64),
    )?;
    server.register(
        WsHandler::new("/auth", echo)
            .pre_handshake(|req| {
                if req.query_value("token") != Some("valid") {
                    info!("/auth: refused");
                    req.send_err(ErrorCode::Unauthorized, Some("A valid token is required"))?;
                }
                Ok(())
            })
            .post_handshake(|conn| conn.send_text("Welcome, authenticated client")),
    )?;
    server.register(Handler::new("/", Method::Get, |req| req.send_str(PAGE)))?;
    Ok(server)
}

fn main() -> ExitCode {
    common::main(
        || common::port_only("usage: ws_echo_server [--port N]"),
        |&port| start(port),
    )
}

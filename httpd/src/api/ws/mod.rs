//! WebSocket endpoints (RFC 6455): the handshake, the per-session state that turns decoded
//! frames into handler calls, and the API handlers and other threads use to send frames.
//!
//! The loop reads frames without blocking, like request heads. A handler is called once per
//! complete message (or, with [`WsHandler::part_len`], once per part of at most that many
//! bytes, ESP-IDF's `recv_frame_part`). Pings are answered and the close handshake completed by
//! the server unless the endpoint asks for control frames. Frames sent by the handler and by
//! other threads ([`Server::ws_send`](crate::Server::ws_send)) are whole frames appended to the
//! session's output, so they never interleave; a data message sent from another thread while
//! the handler is in the middle of a fragmented one waits until that one is complete.

mod conn;
mod session;

use std::fmt;
use std::sync::Arc;

pub use self::conn::WsConn;
pub(crate) use self::session::{
    close_sent, on_input, post_handshake, send_async, state, WsNext, WsState,
};
use super::request::Request;
use crate::proto::ws_codec;
pub use crate::proto::ws_codec::{CloseCode, Opcode};
use crate::types::{Method, Version};
use crate::{Error, ErrorCode};

/// A WebSocket handler: called with each received message (or part, or control frame).
pub(crate) type WsFn = Arc<dyn Fn(&mut WsConn<'_>, WsFrame<'_>) -> Result<(), Error> + Send + Sync>;
type PreFn = Arc<dyn Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync>;
type PostFn = Arc<dyn Fn(&mut WsConn<'_>) -> Result<(), Error> + Send + Sync>;
/// Told whether an asynchronously sent frame reached the session's output.
pub type WsSendCallback = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// Default largest message an endpoint accepts (close 1009 beyond it): 16 MiB, tungstenite's
/// frame limit. A message's buffer grows only as its bytes arrive.
const DEFAULT_MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// A received WebSocket message, message part or control frame.
#[derive(Debug, Clone, Copy)]
pub struct WsFrame<'a> {
    pub(crate) opcode: Opcode,
    pub(crate) payload: &'a [u8],
    pub(crate) fin: bool,
}

impl<'a> WsFrame<'a> {
    /// `Text` or `Binary` for messages and their parts; `Ping`, `Pong` or `Close` for control
    /// frames (given to endpoints that asked for them). With [`WsHandler::frames`], each data
    /// frame's own opcode: `Continuation` for the later fragments of a message.
    pub fn opcode(&self) -> Opcode {
        self.opcode
    }

    /// The payload (unmasked).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Whether this is the whole message, or its last part (with [`WsHandler::frames`]: the
    /// frame's FIN bit).
    pub fn is_final(&self) -> bool {
        self.fin
    }

    /// The payload as text, for a text message (valid UTF-8: the server checked it) or a whole
    /// text part. `None` for binary payloads, or a text part that splits a character.
    pub fn text(&self) -> Option<&'a str> {
        match self.opcode {
            Opcode::Text => std::str::from_utf8(self.payload).ok(),
            _ => None,
        }
    }
}

/// A WebSocket message to send from another thread with
/// [`Server::ws_send`](crate::Server::ws_send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsMessage {
    pub(crate) opcode: Opcode,
    pub(crate) payload: Vec<u8>,
    pub(crate) close_code: Option<CloseCode>,
}

impl WsMessage {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(Opcode::Text, text.into().into_bytes())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Self::new(Opcode::Binary, data.into())
    }

    /// A ping (payload cut to 125 bytes).
    pub fn ping(data: impl Into<Vec<u8>>) -> Self {
        let mut data = data.into();
        data.truncate(125);
        Self::new(Opcode::Ping, data)
    }

    /// A close frame with this code and reason; the session closes once the client answers.
    pub fn close(code: CloseCode, reason: &str) -> Self {
        WsMessage {
            opcode: Opcode::Close,
            payload: reason.as_bytes().to_vec(),
            close_code: Some(code),
        }
    }

    fn new(opcode: Opcode, payload: Vec<u8>) -> Self {
        WsMessage {
            opcode,
            payload,
            close_code: None,
        }
    }
}

/// A WebSocket endpoint to register with [`Server::register`](crate::Server::register).
///
/// ```no_run
/// use httpd::{Config, Server, WsHandler};
/// let server = Server::start(Config::builder().port(8080).build()?)?;
/// server.register(WsHandler::new("/ws", |conn, frame| match frame.text() {
///     Some(text) => conn.send_text(text),
///     None => conn.send_binary(frame.payload()),
/// }))?;
/// # Ok::<(), httpd::Error>(())
/// ```
#[derive(Clone)]
pub struct WsHandler {
    pub(crate) uri: String,
    pub(crate) endpoint: WsEndpoint,
}

/// An endpoint's handler and options.
#[derive(Clone)]
pub(crate) struct WsEndpoint {
    pub(crate) handler: WsFn,
    pub(crate) subprotocol: Option<String>,
    pub(crate) pre: Option<PreFn>,
    pub(crate) post: Option<PostFn>,
    pub(crate) control_frames: bool,
    pub(crate) part_len: Option<usize>,
    /// Deliver each data frame whole ([`WsHandler::frames`]).
    pub(crate) frames: bool,
    pub(crate) max_message: usize,
}

impl WsHandler {
    /// A WebSocket endpoint at `uri` (opened with `GET`), calling `f` for each message.
    pub fn new(
        uri: impl Into<String>,
        f: impl Fn(&mut WsConn<'_>, WsFrame<'_>) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        WsHandler {
            uri: uri.into(),
            endpoint: WsEndpoint {
                handler: Arc::new(f),
                subprotocol: None,
                pre: None,
                post: None,
                control_frames: false,
                part_len: None,
                frames: false,
                max_message: DEFAULT_MAX_MESSAGE,
            },
        }
    }

    /// The subprotocol this endpoint speaks: chosen (`Sec-WebSocket-Protocol`) when the client
    /// offers it. A comma-separated list names several, in order of preference (ESP-IDF's
    /// `supported_subprotocol` as esp-idf-svc passes it): the first the client offers is chosen.
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        self.endpoint.subprotocol = Some(name.into());
        self
    }

    /// A hook run with the upgrade request before the handshake: it may inspect the request
    /// (path, query, headers) and refuse by sending a response (e.g. `send_err(Forbidden)`);
    /// if it sends nothing, the handshake goes ahead.
    pub fn pre_handshake(
        mut self,
        f: impl Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.endpoint.pre = Some(Arc::new(f));
        self
    }

    /// A hook run right after the handshake, e.g. to send a first message.
    pub fn post_handshake(
        mut self,
        f: impl Fn(&mut WsConn<'_>) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.endpoint.post = Some(Arc::new(f));
        self
    }

    /// Give Ping, Pong and Close frames to the handler instead of answering them
    /// automatically (ESP-IDF's `handle_ws_control_frames`). The handler then answers pings
    /// itself; a Close is still echoed by the server after the handler saw it.
    pub fn control_frames(mut self, enable: bool) -> Self {
        self.endpoint.control_frames = enable;
        self
    }

    /// Deliver messages in parts of at most `n` bytes as they arrive (the last part has
    /// `is_final`), instead of whole.
    pub fn part_len(mut self, n: usize) -> Self {
        self.endpoint.part_len = Some(n.max(1));
        self
    }

    /// Deliver each data frame whole, as the client framed it, instead of whole messages:
    /// the handler is called once per frame, with the frame's own opcode (`Continuation` for
    /// the later fragments of a message) and its FIN bit as [`WsFrame::is_final`]. ESP-IDF's
    /// per-frame `httpd_ws_recv_frame`, which esp-rs handlers expect. `part_len` takes
    /// precedence over it.
    pub fn frames(mut self, enable: bool) -> Self {
        self.endpoint.frames = enable;
        self
    }

    /// The largest message accepted; a larger one closes the connection with 1009.
    /// Default 16 MiB (ESP-IDF's echo example takes what it can allocate).
    pub fn max_message(mut self, n: usize) -> Self {
        self.endpoint.max_message = n;
        self
    }
}

impl fmt::Debug for WsHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsHandler")
            .field("uri", &self.uri)
            .field("subprotocol", &self.endpoint.subprotocol)
            .field("control_frames", &self.endpoint.control_frames)
            .field("part_len", &self.endpoint.part_len)
            .field("frames", &self.endpoint.frames)
            .field("max_message", &self.endpoint.max_message)
            .finish_non_exhaustive()
    }
}

/// The handshake's outcome.
pub(crate) enum Upgrade {
    /// The 101 response is written: the session speaks WebSocket from now on.
    Done,
    /// A response refusing the upgrade was sent (by the server or the pre-handshake hook):
    /// the request ends as an ordinary one.
    Refused,
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Validates the upgrade request, runs the pre-handshake hook and writes the 101 response.
pub(crate) fn handshake(req: &mut Request<'_>, endpoint: &WsEndpoint) -> Result<Upgrade, Error> {
    let upgrade_asked = has_token(req.header("upgrade"), "websocket")
        && has_token(req.header("connection"), "upgrade");
    if req.method() != Method::Get || req.version() != Version::Http11 || !upgrade_asked {
        req.set_status("426 Upgrade Required")?;
        req.set_header("Upgrade", "websocket")?;
        req.set_header("Connection", "Upgrade")?;
        req.send_str("This endpoint speaks WebSocket only")?;
        return Ok(Upgrade::Refused);
    }
    if req.header("sec-websocket-version").map(str::trim) != Some("13") {
        req.set_status("426 Upgrade Required")?;
        req.set_header("Sec-WebSocket-Version", "13")?;
        req.send_str("Unsupported WebSocket version")?;
        return Ok(Upgrade::Refused);
    }
    let Some(accept) = req
        .header("sec-websocket-key")
        .and_then(ws_codec::accept_key)
    else {
        req.send_err(
            ErrorCode::BadRequest,
            Some("Missing or invalid Sec-WebSocket-Key"),
        )?;
        return Ok(Upgrade::Refused);
    };
    if let Some(pre) = &endpoint.pre {
        pre(req)?;
        if req.response_started() {
            return Ok(Upgrade::Refused);
        }
    }
    let offered = req.header("sec-websocket-protocol");
    let protocol = endpoint.subprotocol.as_deref().and_then(|list| {
        list.split(',')
            .map(str::trim)
            .find(|p| !p.is_empty() && has_token(offered, p))
    });
    let out = &mut req.session.output.data;
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    out.extend_from_slice(accept.as_bytes());
    if let Some(p) = protocol {
        out.extend_from_slice(b"\r\nSec-WebSocket-Protocol: ");
        out.extend_from_slice(p.as_bytes());
    }
    out.extend_from_slice(b"\r\n\r\n");
    req.mark_raw();
    Ok(Upgrade::Done)
}

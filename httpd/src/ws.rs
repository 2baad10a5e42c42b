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

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::request::{bound_output, Env, Request};
use crate::server::Server;
use crate::session::{Session, SessionId};
use crate::ws_codec::{self, Decoder};
pub use crate::ws_codec::{CloseCode, Opcode};
use crate::{Error, ErrorCode, Handler, Method};

/// A WebSocket handler: called with each received message (or part, or control frame).
pub(crate) type WsFn = Arc<dyn Fn(&mut WsConn<'_>, WsFrame<'_>) -> Result<(), Error> + Send + Sync>;
type PreFn = Arc<dyn Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync>;
type PostFn = Arc<dyn Fn(&mut WsConn<'_>) -> Result<(), Error> + Send + Sync>;
/// Told whether an asynchronously sent frame reached the session's output.
pub type WsSendCallback = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// Default largest message an endpoint accepts (close 1009 beyond it).
const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;
/// A message buffer that grew larger than this is freed after its message.
const KEEP_MESSAGE_CAPACITY: usize = 4 * 1024;

/// A received WebSocket message, message part or control frame.
#[derive(Debug, Clone, Copy)]
pub struct WsFrame<'a> {
    opcode: Opcode,
    payload: &'a [u8],
    fin: bool,
}

impl<'a> WsFrame<'a> {
    /// `Text` or `Binary` for messages and their parts; `Ping`, `Pong` or `Close` for control
    /// frames (given to endpoints that asked for them).
    pub fn opcode(&self) -> Opcode {
        self.opcode
    }

    /// The payload (unmasked).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Whether this is the whole message, or its last part.
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
    opcode: Opcode,
    payload: Vec<u8>,
    close_code: Option<CloseCode>,
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
    uri: String,
    endpoint: WsEndpoint,
}

/// An endpoint's handler and options.
#[derive(Clone)]
pub(crate) struct WsEndpoint {
    pub(crate) handler: WsFn,
    subprotocol: Option<String>,
    pre: Option<PreFn>,
    post: Option<PostFn>,
    control_frames: bool,
    part_len: Option<usize>,
    max_message: usize,
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
                max_message: DEFAULT_MAX_MESSAGE,
            },
        }
    }

    /// The subprotocol this endpoint speaks: chosen (`Sec-WebSocket-Protocol`) when the client
    /// offers it.
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

    /// The largest message accepted; a larger one closes the connection with 1009.
    /// Default 64 KiB.
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
            .field("max_message", &self.endpoint.max_message)
            .finish_non_exhaustive()
    }
}

impl From<WsHandler> for Handler {
    fn from(ws: WsHandler) -> Handler {
        Handler::websocket(ws.uri, Arc::new(ws.endpoint))
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
    if req.method() != Method::Get || req.version() != crate::Version::Http11 || !upgrade_asked {
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
    let protocol = endpoint
        .subprotocol
        .as_deref()
        .filter(|p| has_token(req.header("sec-websocket-protocol"), p));
    let out = &mut req.session.output;
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

/// A session's WebSocket state (boxed in the session while it speaks WebSocket).
pub(crate) struct WsState {
    pub(crate) endpoint: Arc<WsEndpoint>,
    decoder: Decoder,
    /// The frame whose payload is arriving: its opcode and FIN bit.
    frame: Option<(Opcode, bool)>,
    /// The message being assembled (whole-message delivery).
    message: Vec<u8>,
    /// A fragmented message sent by the handler is open: other data messages wait.
    sending_fragmented: bool,
    /// Data messages sent from other threads while `sending_fragmented`.
    waiting: VecDeque<(WsMessage, Option<WsSendCallback>)>,
    /// We sent a Close frame: the session closes when the client's arrives (or times out).
    pub(crate) close_sent: bool,
}

impl WsState {
    pub(crate) fn new(endpoint: Arc<WsEndpoint>) -> Self {
        let max = endpoint.max_message;
        WsState {
            endpoint,
            decoder: Decoder::new(max),
            frame: None,
            message: Vec::new(),
            sending_fragmented: false,
            waiting: VecDeque::new(),
            close_sent: false,
        }
    }
}

/// What the loop should do after feeding input to a WebSocket session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WsNext {
    /// Wait for more bytes.
    Wait,
    /// A message was handled and input may remain: come back next turn.
    Again,
    /// Close the connection once the output is written.
    Close,
}

/// Decodes buffered input and makes at most one handler call for a message (or one run of
/// parts), answering control frames on the way.
pub(crate) fn on_input(session: &mut Session, env: &Env) -> WsNext {
    let mut pos = 0;
    let next = loop {
        let Some(ws) = session.ws.as_mut() else {
            break WsNext::Close;
        };
        let end = session.input.end;
        let step = ws.decoder.next(&mut session.input.data[pos..end]);
        match step {
            Ok(ws_codec::Step::Need) => break WsNext::Wait,
            Err(code) => {
                log::debug!(
                    "session {}: WebSocket protocol error, closing with {}",
                    session.id,
                    code.0
                );
                if !ws.close_sent {
                    ws.close_sent = true;
                    ws_codec::encode_close(&mut session.output, Some(code), "");
                }
                break WsNext::Close;
            }
            Ok(ws_codec::Step::Frame {
                fin,
                opcode,
                consumed,
                ..
            }) => {
                pos += consumed;
                ws.frame = Some((opcode, fin));
            }
            Ok(ws_codec::Step::Data {
                range,
                last_of_frame,
                consumed,
            }) => {
                let (start, stop) = (pos + range.start, pos + range.end);
                pos += consumed;
                let Some((opcode, fin)) = ws.frame else {
                    break WsNext::Close;
                };
                if last_of_frame {
                    ws.frame = None;
                }
                if opcode.is_control() {
                    match control_frame(session, env, opcode, start..stop) {
                        WsNext::Again => continue,
                        other => break other,
                    }
                }
                let kind = ws.decoder.message_opcode().unwrap_or(Opcode::Binary);
                let message_done = fin && last_of_frame;
                if let Some(part_len) = ws.endpoint.part_len {
                    let r = deliver_parts(session, env, kind, start..stop, part_len, message_done);
                    break if r == WsNext::Close {
                        WsNext::Close
                    } else {
                        WsNext::Again
                    };
                }
                if ws.message.len() + (stop - start) > ws.endpoint.max_message {
                    // The decoder checks announced lengths; this is a second line of defence.
                    ws_codec::encode_close(&mut session.output, Some(CloseCode::TOO_BIG), "");
                    break WsNext::Close;
                }
                ws.message
                    .extend_from_slice(&session.input.data[start..stop]);
                if message_done {
                    let mut message = std::mem::take(&mut ws.message);
                    let r = call(
                        session,
                        env,
                        WsFrame {
                            opcode: kind,
                            payload: &message,
                            fin: true,
                        },
                    );
                    message.clear();
                    if message.capacity() <= KEEP_MESSAGE_CAPACITY {
                        if let Some(ws) = session.ws.as_mut() {
                            ws.message = message;
                        }
                    }
                    break r;
                }
            }
        }
    };
    session.input.consume(pos.min(session.input.end));
    next
}

/// Delivers payload `range` of the input in parts of at most `part_len` bytes.
fn deliver_parts(
    session: &mut Session,
    env: &Env,
    kind: Opcode,
    range: std::ops::Range<usize>,
    part_len: usize,
    message_done: bool,
) -> WsNext {
    // The handler borrows the session: lend it the input buffer's bytes by moving the buffer
    // out for the call (no copy), and put it back after.
    let data = std::mem::take(&mut session.input.data);
    let mut next = WsNext::Again;
    let mut at = range.start;
    loop {
        let end = (at + part_len).min(range.end);
        let last = end == range.end;
        let frame = WsFrame {
            opcode: kind,
            payload: &data[at..end],
            fin: last && message_done,
        };
        if call(session, env, frame) == WsNext::Close {
            next = WsNext::Close;
            break;
        }
        at = end;
        if last {
            break;
        }
    }
    session.input.data = data;
    next
}

fn control_frame(
    session: &mut Session,
    env: &Env,
    opcode: Opcode,
    range: std::ops::Range<usize>,
) -> WsNext {
    let Some(ws) = session.ws.as_ref() else {
        return WsNext::Close;
    };
    let to_handler = ws.endpoint.control_frames;
    if to_handler {
        let data = std::mem::take(&mut session.input.data);
        let r = call(
            session,
            env,
            WsFrame {
                opcode,
                payload: &data[range.clone()],
                fin: true,
            },
        );
        session.input.data = data;
        if r == WsNext::Close && opcode != Opcode::Close {
            return WsNext::Close;
        }
    }
    let payload = &session.input.data[range];
    match opcode {
        Opcode::Ping if !to_handler => {
            ws_codec::encode_frame(&mut session.output, true, Opcode::Pong, payload);
            WsNext::Again
        }
        Opcode::Close => {
            // Echo the client's code (RFC 6455 5.5.1), then close once it is written.
            let code = ws_codec::parse_close_payload(payload)
                .ok()
                .flatten()
                .map(|(c, _)| c);
            if let Some(ws) = session.ws.as_mut() {
                if !ws.close_sent {
                    ws.close_sent = true;
                    ws_codec::encode_close(&mut session.output, code, "");
                }
            }
            WsNext::Close
        }
        _ => WsNext::Again,
    }
}

/// Runs the endpoint's handler; a failure closes the connection with 1011.
fn call(session: &mut Session, env: &Env, frame: WsFrame<'_>) -> WsNext {
    let Some(handler) = session
        .ws
        .as_ref()
        .map(|ws| Arc::clone(&ws.endpoint.handler))
    else {
        return WsNext::Close;
    };
    let mut conn = WsConn { session, env };
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&mut conn, frame)))
            .unwrap_or_else(|_| Err(Error::handler("WebSocket handler panicked")));
    match result {
        // After the handler's own Close, the loop waits (up to `recv_wait_timeout`) for the
        // client's, completing the close handshake.
        Ok(()) => WsNext::Again,
        Err(e) => {
            log::warn!("session {}: WebSocket handler: {e}", conn.session.id);
            let _ = conn.close(CloseCode::INTERNAL, "");
            WsNext::Close
        }
    }
}

/// Runs the post-handshake hook, if any.
pub(crate) fn post_handshake(session: &mut Session, env: &Env) -> WsNext {
    let Some(post) = session.ws.as_ref().and_then(|ws| ws.endpoint.post.clone()) else {
        return WsNext::Again;
    };
    let mut conn = WsConn { session, env };
    match post(&mut conn) {
        Ok(()) => WsNext::Again,
        Err(e) => {
            log::warn!("session {}: post-handshake hook: {e}", conn.session.id);
            let _ = conn.close(CloseCode::INTERNAL, "");
            WsNext::Close
        }
    }
}

/// Sends a message from another thread; it waits while the handler's fragmented message is
/// open. Control frames go at once.
pub(crate) fn send_async(session: &mut Session, msg: WsMessage, done: Option<WsSendCallback>) {
    let Some(ws) = session.ws.as_mut() else {
        if let Some(done) = done {
            done(Err(Error::NoSuchSession));
        }
        return;
    };
    if ws.close_sent {
        if let Some(done) = done {
            done(Err(Error::NoSuchSession));
        }
        return;
    }
    if ws.sending_fragmented && !msg.opcode.is_control() {
        ws.waiting.push_back((msg, done));
        return;
    }
    encode_message(session, &msg);
    if let Some(done) = done {
        done(Ok(()));
    }
}

fn encode_message(session: &mut Session, msg: &WsMessage) {
    match msg.close_code {
        Some(code) => {
            if let Some(ws) = session.ws.as_mut() {
                ws.close_sent = true;
            }
            let reason = std::str::from_utf8(&msg.payload).unwrap_or_default();
            ws_codec::encode_close(&mut session.output, Some(code), reason);
        }
        None => ws_codec::encode_frame(&mut session.output, true, msg.opcode, &msg.payload),
    }
}

/// What a WebSocket handler gets: sending frames, closing, and the session.
pub struct WsConn<'a> {
    pub(crate) session: &'a mut Session,
    pub(crate) env: &'a Env,
}

impl WsConn<'_> {
    fn ws(&mut self) -> Result<&mut WsState, Error> {
        self.session.ws.as_deref_mut().ok_or(Error::NoSuchSession)
    }

    fn send_frame(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        if self.ws()?.close_sent {
            return Err(Error::NoSuchSession);
        }
        ws_codec::encode_frame(&mut self.session.output, fin, opcode, payload);
        bound_output(self.session, self.env)
    }

    /// Sends a whole text message.
    ///
    /// # Errors
    /// [`Error::ResponseStarted`] in the middle of a fragmented message (finish it with
    /// [`send_part`](WsConn::send_part)); [`Error::NoSuchSession`] after a close;
    /// [`Error::Io`] / [`Error::Timeout`] if the client does not take it.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_part(Opcode::Text, text.as_bytes(), true)
    }

    /// Sends a whole binary message.
    ///
    /// # Errors
    /// As [`send_text`](WsConn::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_part(Opcode::Binary, data, true)
    }

    /// Sends one fragment of a `kind` (Text or Binary) message; `fin` ends the message. The
    /// first fragment carries `kind`, the next ones are continuations, as RFC 6455 requires.
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] if `kind` is not Text or Binary; otherwise as
    /// [`send_text`](WsConn::send_text).
    pub fn send_part(&mut self, kind: Opcode, data: &[u8], fin: bool) -> Result<(), Error> {
        if !matches!(kind, Opcode::Text | Opcode::Binary) {
            return Err(Error::InvalidHeader);
        }
        let ws = self.ws()?;
        let opcode = if ws.sending_fragmented {
            Opcode::Continuation
        } else {
            kind
        };
        ws.sending_fragmented = !fin;
        self.send_frame(fin, opcode, data)?;
        if fin {
            self.release_waiting()?;
        }
        Ok(())
    }

    /// Messages from other threads that waited for a fragmented message to end.
    fn release_waiting(&mut self) -> Result<(), Error> {
        let waiting = std::mem::take(&mut self.ws()?.waiting);
        for (msg, done) in waiting {
            encode_message(self.session, &msg);
            if let Some(done) = done {
                done(Ok(()));
            }
        }
        bound_output(self.session, self.env)
    }

    /// Sends a ping (at most 125 bytes of payload).
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for a payload over 125 bytes; otherwise as
    /// [`send_text`](WsConn::send_text).
    pub fn ping(&mut self, data: &[u8]) -> Result<(), Error> {
        if data.len() > 125 {
            return Err(Error::InvalidHeader);
        }
        self.send_frame(true, Opcode::Ping, data)
    }

    /// Sends a pong (for endpoints that handle control frames themselves).
    ///
    /// # Errors
    /// As [`ping`](WsConn::ping).
    pub fn pong(&mut self, data: &[u8]) -> Result<(), Error> {
        if data.len() > 125 {
            return Err(Error::InvalidHeader);
        }
        self.send_frame(true, Opcode::Pong, data)
    }

    /// Starts the close handshake with `code` and `reason`; the connection closes when the
    /// client answers (or after `recv_wait_timeout`).
    ///
    /// # Errors
    /// [`Error::NoSuchSession`] if a close was already sent.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let ws = self.ws()?;
        if ws.close_sent {
            return Err(Error::NoSuchSession);
        }
        ws.close_sent = true;
        ws_codec::encode_close(&mut self.session.output, Some(code), reason);
        bound_output(self.session, self.env)
    }

    /// The session's id (for [`Server::ws_send`](crate::Server::ws_send) from other threads).
    pub fn session_id(&self) -> SessionId {
        self.session.id
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.session.peer
    }

    /// The session's context, if one of type `T` is set.
    pub fn session_ctx<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.session.ctx_mut()
    }

    /// Sets the session's context, dropping the previous one.
    pub fn set_session_ctx<T: Any + Send>(&mut self, ctx: T) {
        self.session.set_ctx(ctx);
    }

    /// A handle to the server (e.g. to hand the session id to another thread).
    pub fn server(&self) -> Option<Server> {
        self.env.server.upgrade().map(Server::from_inner)
    }
}

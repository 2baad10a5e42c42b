//! WebSocket handlers as on the chip (esp-idf-svc's `http::server::ws`): one function called
//! after the handshake, for each data frame, and when the connection closes, with an
//! [`EspHttpWsConnection`]; [`EspHttpWsDetachedSender`] sends from any thread.
//!
//! Built on httpd's [`WsHandler`]: its post-handshake hook is the `is_new`
//! call, its handler (with [`WsHandler::frames`]: once per data frame) the frame calls, and a session context whose drop runs when the
//! session closes (client gone, close handshake, server stopped) is the `is_closed` call.
//!
//! Differences from the chip, each because the host's server is not ESP-IDF's:
//! - A message (all its frames together) larger than 16 MiB (httpd's default
//!   `max_message`) closes the connection with 1009;
//!   the chip's limit is its memory.
//! - Frames the handler sends are written when it returns, in order and before the next frame
//!   is read: the connection has no lifetime parameter, so it cannot borrow the session while
//!   the handler runs. A send that fails then is logged, not returned.
//! - `recv` hands out the frame the call is for; a second `recv` after it has been consumed is
//!   an error (the chip would block reading the next frame from the socket).
//! - A `Close` sent with an empty payload carries status 1000 (httpd always sends a code).
//! - A detached sender sends whole frames only (`Text(false)`, `Binary(false)`, `Ping`,
//!   `Pong`, `Close`); fragments are refused. Called on the server thread (from a handler) it
//!   queues the frame and returns at once instead of deadlocking as the chip's does.
//! - The close call reaches only the handler whose session closed (the chip calls every
//!   WebSocket handler for every closed socket, WebSocket or not).

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, ThreadId};
use std::time::Duration;

use embedded_svc::ws::{ErrorType, FrameType, Receiver, Sender};

use super::error::EspError;
use super::server::EspHttpServer;
use crate::api::ws::{WsConn, WsFrame, WsHandler, WsMessage};
use crate::proto::ws_codec::{CloseCode, Opcode};
use crate::server::Server;
use crate::types::SessionId;
use crate::Error;

/// How long a detached sender waits for the server thread to take its frame.
const DETACHED_SEND_WAIT: Duration = Duration::from_secs(5);

type WsFn = Arc<dyn Fn(&mut EspHttpWsConnection) + Send + Sync>;

/// What a session's handler call is about.
enum State {
    /// Right after the handshake.
    New,
    /// A data frame arrived; `None` once `recv` consumed it.
    Receiving(Option<Frame>),
    /// The connection has closed.
    Closed,
}

/// A received frame: its type and payload (a text frame's with a NUL appended, as the chip
/// reports it).
struct Frame {
    frame_type: FrameType,
    data: Vec<u8>,
}

/// What a detached sender needs: the server, the session's closed flag and the server thread.
#[derive(Clone)]
struct Link {
    server: Server,
    closed: Arc<AtomicBool>,
    server_thread: ThreadId,
}

/// A WebSocket connection as a handler sees it for one call (esp-idf-svc's
/// `EspHttpWsConnection`): new, with a frame to receive, or closed.
pub struct EspHttpWsConnection {
    session: SessionId,
    state: State,
    /// Frames sent during this call, written when the handler returns.
    outbox: Vec<(FrameType, Vec<u8>)>,
    link: Option<Link>,
}

impl fmt::Debug for EspHttpWsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspHttpWsConnection")
            .field("session", &self.session)
            .field("is_new", &self.is_new())
            .field("is_closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl EspHttpWsConnection {
    /// The session: an integer unique among open sessions (the chip's socket descriptor).
    pub fn session(&self) -> i32 {
        self.session.as_raw()
    }

    /// Whether this call is the one right after the handshake.
    pub fn is_new(&self) -> bool {
        matches!(self.state, State::New)
    }

    /// Whether this call tells that the connection has closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// A sender for this session that works from any thread, after this call too.
    ///
    /// # Errors
    /// On a closed connection, or while the server is stopping.
    pub fn create_detached_sender(&self) -> Result<EspHttpWsDetachedSender, EspError> {
        match (&self.state, &self.link) {
            (State::Closed, _) | (_, None) => Err(Error::NoSuchSession.into()),
            (_, Some(link)) => Ok(EspHttpWsDetachedSender {
                session: self.session,
                link: link.clone(),
            }),
        }
    }

    /// Sends a frame to the client (written when the handler returns; see the module docs).
    ///
    /// # Errors
    /// On a closed connection; `SocketClose`; a Ping or Pong payload over 125 bytes.
    pub fn send(&mut self, frame_type: FrameType, frame_data: &[u8]) -> Result<(), EspError> {
        if self.is_closed() {
            return Err(Error::NoSuchSession.into());
        }
        check_frame(frame_type, frame_data)?;
        self.outbox.push((frame_type, frame_data.to_vec()));
        Ok(())
    }

    /// Receives the frame this call is for: its type and length, and, when `frame_data_buf`
    /// is large enough, its payload (then the frame is consumed). With an empty buffer it only
    /// reports the length. A text frame's length is its payload plus one, and a NUL follows
    /// the payload in the buffer, as on the chip. On a closed connection: `SocketClose`, 0.
    ///
    /// # Errors
    /// On the `is_new` call (no frame yet), and once the frame has been consumed.
    pub fn recv(&mut self, frame_data_buf: &mut [u8]) -> Result<(FrameType, usize), EspError> {
        match &mut self.state {
            State::New => {
                Err(Error::handler("no frame to receive on a new WebSocket connection").into())
            }
            State::Closed => Ok((FrameType::SocketClose, 0)),
            State::Receiving(None) => Err(Error::handler(
                "the frame was already received; the handler is called again for the next one",
            )
            .into()),
            State::Receiving(slot @ Some(_)) => {
                let Some(frame) = slot.as_ref() else {
                    return Err(Error::NoSuchSession.into());
                };
                let len = frame.data.len();
                let frame_type = frame.frame_type;
                if let Some(dest) = frame_data_buf.get_mut(..len) {
                    dest.copy_from_slice(&frame.data);
                    *slot = None;
                }
                Ok((frame_type, len))
            }
        }
    }

    fn new(session: SessionId, state: State, link: Option<Link>) -> Self {
        EspHttpWsConnection {
            session,
            state,
            outbox: Vec::new(),
            link,
        }
    }
}

fn check_frame(frame_type: FrameType, data: &[u8]) -> Result<(), Error> {
    match frame_type {
        FrameType::SocketClose => Err(Error::InvalidFrame),
        FrameType::Ping | FrameType::Pong if data.len() > 125 => Err(Error::InvalidFrame),
        _ => Ok(()),
    }
}

impl ErrorType for EspHttpWsConnection {
    type Error = EspError;
}

impl Sender for EspHttpWsConnection {
    fn send(&mut self, frame_type: FrameType, frame_data: &[u8]) -> Result<(), EspError> {
        EspHttpWsConnection::send(self, frame_type, frame_data)
    }
}

impl Receiver for EspHttpWsConnection {
    fn recv(&mut self, frame_data_buf: &mut [u8]) -> Result<(FrameType, usize), EspError> {
        EspHttpWsConnection::recv(self, frame_data_buf)
    }
}

/// Sends frames to a WebSocket session from any thread (esp-idf-svc's
/// `EspHttpWsDetachedSender`). `Clone + Send`; reports [`is_closed`](Self::is_closed) once the
/// client is gone.
#[derive(Clone)]
pub struct EspHttpWsDetachedSender {
    session: SessionId,
    link: Link,
}

impl fmt::Debug for EspHttpWsDetachedSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspHttpWsDetachedSender")
            .field("session", &self.session)
            .field("is_closed", &self.is_closed())
            .finish()
    }
}

impl EspHttpWsDetachedSender {
    /// The session this sender sends to.
    pub fn session(&self) -> i32 {
        self.session.as_raw()
    }

    /// Always `false` (a detached sender has no handshake call).
    pub fn is_new(&self) -> bool {
        false
    }

    /// Whether the session has closed (or the server stopped).
    pub fn is_closed(&self) -> bool {
        self.link.closed.load(Ordering::Acquire) || !self.link.server.is_running()
    }

    /// Sends a whole frame and waits until it is in the session's output (at once when called
    /// on the server thread).
    ///
    /// # Errors
    /// The session is closed; a fragment (`Text(true)`, `Binary(true)`, `Continue`) or
    /// `SocketClose`; the server's queue is full or the server thread does not take the frame
    /// within 5 s.
    pub fn send(&mut self, frame_type: FrameType, frame_data: &[u8]) -> Result<(), EspError> {
        if self.is_closed() {
            return Err(Error::NoSuchSession.into());
        }
        check_frame(frame_type, frame_data)?;
        let msg = detached_message(frame_type, frame_data)?;
        let server = &self.link.server;
        if thread::current().id() == self.link.server_thread {
            return Ok(server.ws_send(self.session, msg)?);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        server.ws_send_with(self.session, msg, move |r| {
            let _ = tx.send(r);
        })?;
        match rx.recv_timeout(DETACHED_SEND_WAIT) {
            Ok(r) => Ok(r?),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Error::Timeout.into()),
            // The server stopped before its thread took the frame.
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Error::Stopped.into()),
        }
    }
}

fn detached_message(frame_type: FrameType, data: &[u8]) -> Result<WsMessage, Error> {
    let (opcode, close_code, payload) = match frame_type {
        FrameType::Text(false) => (Opcode::Text, None, data),
        FrameType::Binary(false) => (Opcode::Binary, None, data),
        FrameType::Ping => (Opcode::Ping, None, data),
        FrameType::Pong => (Opcode::Pong, None, data),
        FrameType::Close => {
            let (code, reason) = close_parts(data);
            (Opcode::Close, Some(code), reason.as_bytes())
        }
        _ => return Err(Error::InvalidFrame),
    };
    Ok(WsMessage {
        opcode,
        payload: payload.to_vec(),
        close_code,
    })
}

/// A Close payload's code and reason; 1000 and no reason for an empty (or bad) one.
fn close_parts(data: &[u8]) -> (CloseCode, &str) {
    match data {
        [hi, lo, reason @ ..] => (
            CloseCode(u16::from_be_bytes([*hi, *lo])),
            std::str::from_utf8(reason).unwrap_or_default(),
        ),
        _ => (CloseCode::NORMAL, ""),
    }
}

impl embedded_svc::ws::ErrorType for EspHttpWsDetachedSender {
    type Error = EspError;
}

impl Sender for EspHttpWsDetachedSender {
    fn send(&mut self, frame_type: FrameType, frame_data: &[u8]) -> Result<(), EspError> {
        EspHttpWsDetachedSender::send(self, frame_type, frame_data)
    }
}

/// The session context of a facade WebSocket session: dropped when the session closes, which
/// marks detached senders closed and makes the handler's `is_closed` call.
struct SessionGuard {
    session: SessionId,
    closed: Arc<AtomicBool>,
    handler: WsFn,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
        let mut conn = EspHttpWsConnection::new(self.session, State::Closed, None);
        let handler = &self.handler;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&mut conn))).is_err() {
            log::warn!("session {}: WebSocket close handler panicked", self.session);
        }
    }
}

/// Calls the handler, then writes what it sent.
fn call(handler: &WsFn, conn: &mut WsConn<'_>, mut esp: EspHttpWsConnection) {
    handler(&mut esp);
    for (frame_type, data) in esp.outbox {
        let sent = match frame_type {
            FrameType::Text(fragmented) => conn.send_part(Opcode::Text, &data, !fragmented),
            FrameType::Binary(fragmented) => conn.send_part(Opcode::Binary, &data, !fragmented),
            // The message kind was given by its first fragment.
            FrameType::Continue(last) => conn.send_part(Opcode::Binary, &data, last),
            FrameType::Ping => conn.ping(&data),
            FrameType::Pong => conn.pong(&data),
            FrameType::Close => {
                let (code, reason) = close_parts(&data);
                conn.close(code, reason)
            }
            FrameType::SocketClose => Err(Error::InvalidFrame),
        };
        if let Err(e) = sent {
            log::warn!("session {}: WebSocket send: {e}", esp.session);
            break;
        }
    }
}

fn link(conn: &mut WsConn<'_>) -> Option<Link> {
    let server = conn.server()?;
    let closed = Arc::clone(&conn.session_ctx::<SessionGuard>()?.closed);
    Some(Link {
        server,
        closed,
        server_thread: thread::current().id(),
    })
}

impl EspHttpServer<'_> {
    /// Registers a WebSocket handler for `uri` (opened with GET). `subprotocol_list` is a
    /// comma-separated list of subprotocols in order of preference: the first the client
    /// offers is chosen. The handler is called after the handshake (`is_new`), for each data
    /// frame, and once the connection has closed (`is_closed`); an `Err` it returns is logged
    /// and the connection stays open, as on the chip.
    ///
    /// # Errors
    /// The URI is already registered for GET, or the table is full.
    pub fn ws_handler<H, E>(
        &mut self,
        uri: &str,
        subprotocol_list: Option<&str>,
        handler: H,
    ) -> Result<&mut Self, EspError>
    where
        H: for<'r> Fn(&'r mut EspHttpWsConnection) -> Result<(), E> + Send + Sync + 'static,
        E: fmt::Debug,
    {
        let uri_owned = uri.to_owned();
        let handler: WsFn = Arc::new(move |conn: &mut EspHttpWsConnection| {
            if let Err(e) = handler(conn) {
                log::warn!("{uri_owned}: WebSocket handler: {e:?}");
            }
        });
        let on_new = Arc::clone(&handler);
        let on_frame = Arc::clone(&handler);
        let mut ws = WsHandler::new(uri, move |conn, frame: WsFrame<'_>| {
            let fragmented = !frame.is_final();
            let Some(frame_type) = (match frame.opcode() {
                Opcode::Text => Some(FrameType::Text(fragmented)),
                Opcode::Binary => Some(FrameType::Binary(fragmented)),
                Opcode::Continuation => Some(FrameType::Continue(frame.is_final())),
                _ => None,
            }) else {
                return Ok(());
            };
            let mut data = Vec::with_capacity(frame.payload().len() + 1);
            data.extend_from_slice(frame.payload());
            if frame.opcode() == Opcode::Text {
                data.push(0);
            }
            let state = State::Receiving(Some(Frame { frame_type, data }));
            let esp = EspHttpWsConnection::new(conn.session_id(), state, link(conn));
            call(&on_frame, conn, esp);
            Ok(())
        })
        .frames(true)
        .post_handshake(move |conn| {
            let session = conn.session_id();
            conn.set_session_ctx(SessionGuard {
                session,
                closed: Arc::new(AtomicBool::new(false)),
                handler: Arc::clone(&on_new),
            });
            let esp = EspHttpWsConnection::new(session, State::New, link(conn));
            call(&on_new, conn, esp);
            Ok(())
        });
        if let Some(list) = subprotocol_list {
            ws = ws.subprotocol(list);
        }
        self.server().register(ws)?;
        Ok(self)
    }
}

/// The facade's session guard is `Any + Send`, as a session context must be.
const _: fn() = || {
    fn context<T: Any + Send>() {}
    context::<SessionGuard>();
    fn sendable<T: Send + Clone>() {}
    sendable::<EspHttpWsDetachedSender>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn receiving(frame_type: FrameType, data: &[u8]) -> EspHttpWsConnection {
        let frame = Frame {
            frame_type,
            data: data.to_vec(),
        };
        EspHttpWsConnection::new(SessionId::new(3, 1), State::Receiving(Some(frame)), None)
    }

    #[test]
    fn recv_reports_the_size_until_the_buffer_fits_then_consumes() {
        let mut ws = receiving(FrameType::Text(false), b"hi\0");
        assert_eq!(ws.recv(&mut []).unwrap(), (FrameType::Text(false), 3));
        let mut small = [9u8; 2];
        assert_eq!(ws.recv(&mut small).unwrap().1, 3);
        assert_eq!(small, [9, 9], "a short buffer is left alone");
        let mut buf = [9u8; 5];
        assert_eq!(ws.recv(&mut buf).unwrap(), (FrameType::Text(false), 3));
        assert_eq!(&buf, b"hi\0\x09\x09");
        assert!(ws.recv(&mut buf).is_err(), "consumed");
    }

    #[test]
    fn new_and_closed_connections() {
        let id = SessionId::new(0, 7);
        let mut new = EspHttpWsConnection::new(id, State::New, None);
        assert!(new.is_new() && !new.is_closed());
        assert!(new.recv(&mut [0; 4]).is_err());
        assert!(new.create_detached_sender().is_err(), "no server link");
        assert_eq!(new.session(), id.as_raw());
        let mut closed = EspHttpWsConnection::new(id, State::Closed, None);
        assert_eq!(closed.recv(&mut []).unwrap(), (FrameType::SocketClose, 0));
        assert!(closed.send(FrameType::Text(false), b"x").is_err());
        assert!(closed.create_detached_sender().is_err());
    }

    #[test]
    fn frames_are_checked_and_close_payloads_parsed() {
        let mut ws = receiving(FrameType::Binary(false), b"");
        assert!(ws.send(FrameType::SocketClose, b"").is_err());
        assert!(ws.send(FrameType::Ping, &[0; 126]).is_err());
        ws.send(FrameType::Continue(true), b"end").unwrap();
        assert_eq!(ws.outbox.len(), 1);
        assert_eq!(close_parts(&[]), (CloseCode::NORMAL, ""));
        assert_eq!(
            close_parts(&[0x0f, 0xa1, b'o', b'k']),
            (CloseCode(4001), "ok")
        );
        assert!(detached_message(FrameType::Text(true), b"x").is_err());
        assert!(detached_message(FrameType::Continue(true), b"x").is_err());
        let close = detached_message(FrameType::Close, &[]).unwrap();
        assert_eq!(close.close_code, Some(CloseCode::NORMAL));
        let text = detached_message(FrameType::Text(false), b"t").unwrap();
        assert_eq!(
            (text.opcode, text.payload.as_slice()),
            (Opcode::Text, &b"t"[..])
        );
    }
}

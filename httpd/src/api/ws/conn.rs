//! What a WebSocket handler gets: sending frames, closing, and the session.

use std::fmt;

use super::session::{encode_message, state, WsState};
use crate::api::exchange::{bound_output, Env};
use crate::conn::session::Session;
use crate::proto::ws_codec::{self, CloseCode, Opcode};
use crate::Error;

/// What a WebSocket handler gets: sending frames, closing, and the session.
pub struct WsConn<'a> {
    pub(crate) session: &'a mut Session,
    pub(crate) env: &'a Env,
}

impl fmt::Debug for WsConn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsConn")
            .field("session", &self.session.id)
            .field("peer", &self.session.peer)
            .finish_non_exhaustive()
    }
}

impl<'a> WsConn<'a> {
    pub(crate) fn new(session: &'a mut Session, env: &'a Env) -> Self {
        WsConn { session, env }
    }
}

impl WsConn<'_> {
    fn ws(&mut self) -> Result<&mut WsState, Error> {
        state(self.session).ok_or(Error::NoSuchSession)
    }

    /// The state to send on: refused once our Close is out.
    fn open(&mut self) -> Result<&mut WsState, Error> {
        let ws = self.ws()?;
        if ws.close_sent {
            return Err(Error::CloseSent);
        }
        Ok(ws)
    }

    fn send_frame(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        self.open()?;
        ws_codec::encode_frame(&mut self.session.output.data, fin, opcode, payload);
        bound_output(self.session, self.env)
    }

    /// A whole message: not while a fragmented one is open (its frames would interleave).
    fn send_whole(&mut self, kind: Opcode, data: &[u8]) -> Result<(), Error> {
        if self.open()?.sending_fragmented {
            return Err(Error::ResponseStarted);
        }
        self.send_frame(true, kind, data)
    }

    /// Sends a whole text message.
    ///
    /// # Errors
    /// [`Error::ResponseStarted`] in the middle of a fragmented message (finish it with
    /// [`send_part`](WsConn::send_part)); [`Error::CloseSent`] after a close;
    /// [`Error::Io`] / [`Error::Timeout`] if the client does not take it.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_whole(Opcode::Text, text.as_bytes())
    }

    /// Sends a whole binary message.
    ///
    /// # Errors
    /// As [`send_text`](WsConn::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_whole(Opcode::Binary, data)
    }

    /// Sends one fragment of a `kind` (Text or Binary) message; `fin` ends the message. The
    /// first fragment carries `kind`, the next ones are continuations, as RFC 6455 requires.
    ///
    /// # Errors
    /// [`Error::InvalidFrame`] if `kind` is not Text or Binary; [`Error::CloseSent`] after a
    /// close; [`Error::Io`] / [`Error::Timeout`] if the client does not take it.
    pub fn send_part(&mut self, kind: Opcode, data: &[u8], fin: bool) -> Result<(), Error> {
        if !matches!(kind, Opcode::Text | Opcode::Binary) {
            return Err(Error::InvalidFrame);
        }
        let ws = self.open()?;
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
    /// [`Error::InvalidFrame`] for a payload over 125 bytes; otherwise as
    /// [`send_text`](WsConn::send_text).
    pub fn ping(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_control(Opcode::Ping, data)
    }

    /// Sends a pong (for endpoints that handle control frames themselves).
    ///
    /// # Errors
    /// As [`ping`](WsConn::ping).
    pub fn pong(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_control(Opcode::Pong, data)
    }

    fn send_control(&mut self, opcode: Opcode, data: &[u8]) -> Result<(), Error> {
        if data.len() > 125 {
            return Err(Error::InvalidFrame);
        }
        self.send_frame(true, opcode, data)
    }

    /// Starts the close handshake with `code` and `reason`; the connection closes when the
    /// client answers (or after `recv_wait_timeout`).
    ///
    /// # Errors
    /// [`Error::CloseSent`] if a close was already sent.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.open()?.close_sent = true;
        ws_codec::encode_close(&mut self.session.output.data, Some(code), reason);
        bound_output(self.session, self.env)
    }

    crate::api::session_api::session_api!();
}

//! A session's WebSocket state and what turns decoded frames into handler calls: message
//! assembly, parts, control frames, and messages from other threads.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{WsConn, WsEndpoint, WsFrame, WsMessage, WsSendCallback};
use crate::api::exchange::Env;
use crate::conn::session::{Phase, Session};
use crate::proto::ws_codec::{self, CloseCode, Opcode};
use crate::proto::ws_message::{Assembler, Delivery, Event};
use crate::Error;

/// The WebSocket state of a session in the [`Phase::WebSocket`] phase.
pub(crate) fn state(session: &mut Session) -> Option<&mut WsState> {
    state_of(&mut session.phase)
}

/// [`state`] borrowing only the phase, so the session's buffers stay usable.
fn state_of(phase: &mut Phase) -> Option<&mut WsState> {
    match phase {
        Phase::WebSocket(state) => state.downcast_mut::<WsState>(),
        _ => None,
    }
}

/// Whether the server sent a Close frame on this session.
pub(crate) fn close_sent(session: &mut Session) -> bool {
    state(session).is_some_and(|ws| ws.close_sent)
}

/// A session's WebSocket state (boxed in the session while it speaks WebSocket).
pub(crate) struct WsState {
    pub(crate) endpoint: Arc<WsEndpoint>,
    assembler: Assembler,
    /// A fragmented message sent by the handler is open: other data messages wait.
    pub(crate) sending_fragmented: bool,
    /// Data messages sent from other threads while `sending_fragmented`.
    pub(crate) waiting: VecDeque<(WsMessage, Option<WsSendCallback>)>,
    /// We sent a Close frame: the session closes when the client's arrives (or times out).
    pub(crate) close_sent: bool,
}

impl WsState {
    pub(crate) fn new(endpoint: Arc<WsEndpoint>) -> Self {
        let delivery = match (endpoint.part_len, endpoint.frames) {
            (Some(_), _) => Delivery::Parts,
            (None, true) => Delivery::Frames,
            (None, false) => Delivery::Whole,
        };
        WsState {
            assembler: Assembler::new(endpoint.max_message, delivery),
            endpoint,
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
        let Some(ws) = state_of(&mut session.phase) else {
            break WsNext::Close;
        };
        let end = session.input.end;
        let (event, used) = ws.assembler.next(&mut session.input.data[pos..end]);
        let at = pos;
        pos += used;
        match event {
            Event::Need => break WsNext::Wait,
            Event::Refused(code) => {
                log::debug!(
                    "session {}: WebSocket protocol error, closing with {}",
                    session.id,
                    code.0
                );
                if !ws.close_sent {
                    ws.close_sent = true;
                    ws_codec::encode_close(&mut session.output.data, Some(code), "");
                }
                break WsNext::Close;
            }
            Event::Control { opcode, range } => {
                let range = at + range.start..at + range.end;
                match control_frame(session, env, opcode, range) {
                    WsNext::Again => continue,
                    other => break other,
                }
            }
            Event::Part { kind, range, last } => {
                let part_len = ws.endpoint.part_len.unwrap_or(usize::MAX);
                let range = at + range.start..at + range.end;
                break deliver_parts(session, env, kind, range, part_len, last);
            }
            Event::Message { kind } => break deliver_assembled(session, env, kind, true),
            Event::Frame { opcode, fin } => break deliver_assembled(session, env, opcode, fin),
        }
    };
    session.input.consume(pos.min(session.input.end));
    next
}

/// Hands the message (or frame) the assembler holds to the handler; a whole message is its
/// own last frame.
fn deliver_assembled(session: &mut Session, env: &Env, opcode: Opcode, fin: bool) -> WsNext {
    let Some(ws) = state_of(&mut session.phase) else {
        return WsNext::Close;
    };
    let message = ws.assembler.take_message();
    let frame = WsFrame {
        opcode,
        payload: &message,
        fin,
    };
    let r = call(session, env, frame);
    if let Some(ws) = state_of(&mut session.phase) {
        ws.assembler.recycle(message);
    }
    r
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
    let Some(ws) = state_of(&mut session.phase) else {
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
            ws_codec::encode_frame(&mut session.output.data, true, Opcode::Pong, payload);
            WsNext::Again
        }
        Opcode::Close => {
            // Echo the client's code (RFC 6455 5.5.1), then close once it is written.
            let code = ws_codec::parse_close_payload(payload)
                .ok()
                .flatten()
                .map(|(c, _)| c);
            if let Some(ws) = state_of(&mut session.phase) {
                if !ws.close_sent {
                    ws.close_sent = true;
                    ws_codec::encode_close(&mut session.output.data, code, "");
                }
            }
            WsNext::Close
        }
        _ => WsNext::Again,
    }
}

/// Runs the endpoint's handler; a failure closes the connection with 1011.
fn call(session: &mut Session, env: &Env, frame: WsFrame<'_>) -> WsNext {
    let Some(handler) = state(session).map(|ws| Arc::clone(&ws.endpoint.handler)) else {
        return WsNext::Close;
    };
    let mut conn = WsConn::new(session, env);
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
    let Some(post) = state_of(&mut session.phase).and_then(|ws| ws.endpoint.post.clone()) else {
        return WsNext::Again;
    };
    let mut conn = WsConn::new(session, env);
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
    let Some(ws) = state_of(&mut session.phase) else {
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

pub(crate) fn encode_message(session: &mut Session, msg: &WsMessage) {
    match msg.close_code {
        Some(code) => {
            if let Some(ws) = state_of(&mut session.phase) {
                ws.close_sent = true;
            }
            let reason = std::str::from_utf8(&msg.payload).unwrap_or_default();
            ws_codec::encode_close(&mut session.output.data, Some(code), reason);
        }
        None => ws_codec::encode_frame(&mut session.output.data, true, msg.opcode, &msg.payload),
    }
}

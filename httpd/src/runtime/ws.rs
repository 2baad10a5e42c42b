//! WebSocket sessions in the loop: the upgrade, reading frames without blocking, and messages
//! from other threads.

use std::sync::Arc;

use super::io::Read1;
use super::{arm, Core};
use crate::api::ws::{self, WsEndpoint, WsMessage, WsNext, WsSendCallback, WsState};
use crate::conn::session::Phase;
use crate::proto::head::Head;
use crate::types::SessionId;
use crate::Error;

impl Core {
    /// The handshake is done: from now on the session speaks WebSocket.
    pub(super) fn upgraded(&mut self, slot: usize, endpoint: Arc<WsEndpoint>, head: &Head) {
        let s = &mut self.sessions[slot];
        // Bytes after the head are already frames.
        s.input.consume(head.len.min(s.input.end));
        s.phase = Phase::WebSocket(Box::new(WsState::new(endpoint)));
        s.head_started = None;
        s.continue_sent = false;
        self.shared.add_ws_client(s.id);
        log::debug!("session {} upgraded to WebSocket", s.id);
        let next = ws::post_handshake(s, &self.env);
        self.after_ws(slot, next);
    }

    pub(super) fn serve_ws(&mut self, slot: usize) {
        if self.read_input(slot) == Read1::Closed {
            return;
        }
        self.set_pending_budget();
        let s = &mut self.sessions[slot];
        let next = if s.input.end > 0 {
            ws::on_input(s, &self.env)
        } else {
            WsNext::Wait
        };
        let s = &self.sessions[slot];
        if s.input.eof && (next == WsNext::Wait || s.input.end == 0) {
            // The client went away without a close handshake (perhaps right after its last
            // message, which no further readiness event would follow): what we have for it
            // still goes out, then the session closes.
            self.close_gracefully(slot);
            return;
        }
        self.after_ws(slot, next);
    }

    /// After WebSocket input or output: close, come back next turn, or wait, with the output
    /// written in every case.
    fn after_ws(&mut self, slot: usize, next: WsNext) {
        if next == WsNext::Close {
            self.close_gracefully(slot);
            return;
        }
        let s = &mut self.sessions[slot];
        if ws::close_sent(s) && s.deadline.is_none() {
            // We asked to close: the client has recv_wait_timeout to answer.
            let at = self.now + self.env.config.recv_wait_timeout;
            arm(&mut self.next_timer, s, Some(at));
        }
        let more = (next == WsNext::Again && s.input.end > 0) || s.input.readable;
        s.release_input(&mut self.pools.input);
        self.wait_for_client(slot, more);
    }

    pub(super) fn ws_send(&mut self, id: SessionId, msg: WsMessage, done: Option<WsSendCallback>) {
        match self.session_slot(id) {
            Some(slot) if ws::state(&mut self.sessions[slot]).is_some() => {
                ws::send_async(&mut self.sessions[slot], msg, done);
                self.after_ws(slot, WsNext::Wait);
            }
            _ => {
                if let Some(done) = done {
                    done(Err(Error::NoSuchSession));
                }
            }
        }
    }
}

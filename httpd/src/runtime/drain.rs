//! Graceful shutdown: stop accepting, close idle sessions at once, let busy ones finish their
//! current response (which says `Connection: close`), and stop when none is left or at the
//! deadline.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Core;
use crate::api::ws::{CloseCode, WsMessage};
use crate::conn::session::Phase;

impl Core {
    /// Starts a graceful shutdown ending at `deadline`.
    pub(super) fn begin_drain(&mut self, deadline: Instant) {
        if self.drain_deadline.is_some_and(|d| d <= deadline) {
            return;
        }
        log::info!("shutting down: finishing the requests in progress");
        self.drain_deadline = Some(deadline);
        self.env.draining.store(true, Ordering::Relaxed);
        // New connections are refused from now on (the kernel resets them, and those still in
        // the backlog).
        if let Some(mut listener) = self.listener.take() {
            let _ = self.registry.deregister(&mut listener);
        }
        self.listener_ready = false;
        #[cfg(feature = "tls")]
        if let Some((mut plain, _)) = self.plain.take() {
            let _ = self.registry.deregister(&mut plain);
        }
        for slot in self.sessions.live_slots() {
            self.guarded(Some(slot), "shutting a session down", |core| {
                core.drain_session(slot);
            });
        }
    }

    /// Closes `slot` if it has nothing in progress; says goodbye to a WebSocket client.
    fn drain_session(&mut self, slot: usize) {
        let s = &self.sessions[slot];
        match s.phase {
            Phase::ReadHead if s.input.end == 0 && !s.output.busy() => self.close(slot),
            // No request can have started before the handshake is done.
            #[cfg(feature = "tls")]
            Phase::Handshake => self.close(slot),
            Phase::WebSocket(_) => {
                let id = s.id;
                let bye = WsMessage::close(CloseCode::GOING_AWAY, "server shutting down");
                self.ws_send(id, bye, None);
            }
            // A request in progress (its head arriving, its body, a response being written,
            // a handler on another thread) finishes; its response closes the connection.
            _ => {}
        }
    }

    /// Whether a graceful shutdown is complete: no session left, or the deadline passed.
    pub(super) fn drained(&self) -> bool {
        self.drain_deadline
            .is_some_and(|d| self.sessions.len() == 0 || self.now >= d)
    }
}

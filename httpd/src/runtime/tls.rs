//! TLS handshakes in the loop (feature `tls`): each step takes what the socket has and never
//! waits, so a client that stalls mid-handshake holds only its own session until the
//! handshake deadline.

use super::io::Flushed;
use super::{arm, Core};
use crate::conn::session::Phase;
use crate::conn::transport::Transport;

impl Core {
    /// One step of a session's TLS handshake.
    pub(super) fn handshake(&mut self, slot: usize) {
        let s = &mut self.sessions[slot];
        let handshake_deadline = s.deadline;
        match s.transport.handshake() {
            Ok(true) => {
                s.phase = Phase::ReadHead;
                // The client's first request may have come with its last handshake message:
                // it sits in the socket or inside rustls, with no edge to announce it.
                s.input.readable = true;
                let idle = self.env.config.idle_timeout.map(|t| self.now + t);
                arm(&mut self.next_timer, s, idle);
                log::debug!("session {}: TLS handshake done", s.id);
                if s.transport.holds_output() && self.flush(slot) != Flushed::Done {
                    return;
                }
                self.serve(slot);
            }
            Ok(false) => {
                s.input.readable = false;
                if s.transport.holds_output() && self.flush(slot) == Flushed::Pending {
                    // Waiting for writability must not extend the handshake's deadline.
                    let s = &mut self.sessions[slot];
                    let at = match (s.deadline, handshake_deadline) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    arm(&mut self.next_timer, s, at);
                }
            }
            Err(e) => {
                log::debug!("session {}: TLS handshake failed: {e}", s.id);
                // The alert goes out, then the connection lingers briefly (so the alert is
                // not destroyed by a reset) and closes.
                s.input.readable = true;
                self.begin_linger(slot);
            }
        }
    }
}

impl super::EventLoop {
    /// Also accepts plain-HTTP connections on `listener` (beside the TLS listener).
    pub(crate) fn set_plain_listener(
        &mut self,
        listener: mio::net::TcpListener,
    ) -> std::io::Result<()> {
        self.core.set_plain_listener(listener)
    }
}

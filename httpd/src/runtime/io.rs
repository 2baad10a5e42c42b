//! The loop's side of a session's I/O: reading and writing without blocking, waiting for the
//! client to take output, discarding input (drain and linger), and closing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use mio::{Interest, Token};

use super::{arm, Core};
use crate::api::ws;
use crate::conn::session::{Discarded, Phase};
use crate::conn::transport::Transport;
use crate::event::Event;

/// How long a closing connection's unread input is drained, so the response is not destroyed
/// by a reset, and how much of it.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BUDGET: u64 = 256 * 1024;

/// The outcome of writing a session's pending output.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Flushed {
    Done,
    Pending,
    Closed,
}

/// The outcome of reading a session's transport once.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Read1 {
    /// Bytes arrived.
    Progress,
    /// Nothing new (or the buffer is full).
    Nothing,
    /// The session was closed (error).
    Closed,
}

impl Core {
    /// Reads once into the session's input buffer, if the transport may have bytes.
    pub(super) fn read_input(&mut self, slot: usize) -> Read1 {
        let s = &mut self.sessions[slot];
        match s.read_input(&mut self.pools.input) {
            Ok(true) => Read1::Progress,
            Ok(false) => Read1::Nothing,
            Err(e) => {
                log::debug!("session {}: read: {e}", s.id);
                self.close(slot);
                Read1::Closed
            }
        }
    }

    /// Writes the session's pending output; closes it when done if it is closing.
    pub(super) fn flush(&mut self, slot: usize) -> Flushed {
        let s = &mut self.sessions[slot];
        if s.output.waiting {
            self.held = self.held.saturating_sub(s.pending_output());
        }
        match s.write_out(&self.env.config.events) {
            Ok((true, _)) => {
                if s.output.waiting {
                    s.output.waiting = false;
                    let _ = s
                        .transport
                        .reregister(&self.registry, Token(slot), Interest::READABLE);
                }
                let out = std::mem::take(&mut s.output.data);
                self.pools.output.give(out);
                if s.output.close_when_flushed {
                    self.begin_linger(slot);
                    return Flushed::Closed;
                }
                Flushed::Done
            }
            Ok((false, wrote)) => {
                let first_wait = !s.output.waiting;
                if first_wait {
                    s.output.waiting = true;
                    let _ = s.transport.reregister(
                        &self.registry,
                        Token(slot),
                        Interest::READABLE | Interest::WRITABLE,
                    );
                }
                self.held += s.pending_output();
                // The client has `send_wait_timeout` to make progress on what we hold.
                if first_wait || wrote {
                    let at = self.now + self.env.config.send_wait_timeout;
                    arm(&mut self.next_timer, s, Some(at));
                }
                Flushed::Pending
            }
            Err(e) => {
                log::debug!("session {}: write: {e}", s.id);
                s.output.waiting = false; // already uncounted
                self.close(slot);
                Flushed::Closed
            }
        }
    }

    /// Closes once the pending output is written.
    pub(super) fn close_gracefully(&mut self, slot: usize) {
        self.sessions[slot].output.close_when_flushed = true;
        self.flush(slot);
    }

    /// The response is out; if the client may still be sending, stop writing and read (and
    /// discard) until it closes, so unread input does not turn our close into a reset that
    /// destroys the response in flight.
    pub(super) fn begin_linger(&mut self, slot: usize) {
        let s = &mut self.sessions[slot];
        let unread = s.input.end > 0 || s.input.readable || matches!(s.phase, Phase::Drain { .. });
        if s.input.eof || !unread {
            self.close(slot);
            return;
        }
        s.shutdown_write();
        s.phase = Phase::Linger {
            budget: LINGER_BUDGET,
        };
        s.input.end = 0;
        let at = self.now + LINGER_TIME.min(self.env.config.recv_wait_timeout);
        arm(&mut self.next_timer, s, Some(at));
        self.enqueue(slot);
    }

    pub(super) fn linger(&mut self, slot: usize) {
        loop {
            match self.read_input(slot) {
                Read1::Closed => return,
                Read1::Progress => {
                    if self.sessions[slot].discard_input() == Discarded::Close {
                        self.close(slot);
                        return;
                    }
                }
                Read1::Nothing => break,
            }
        }
        if self.sessions[slot].input.eof {
            self.close(slot);
        }
    }

    /// Discards the unread body of the last request, then returns to reading heads.
    pub(super) fn drain(&mut self, slot: usize) {
        let progress = match self.read_input(slot) {
            Read1::Closed => return,
            r => r == Read1::Progress,
        };
        match self.sessions[slot].discard_input() {
            Discarded::Done => self.enqueue(slot),
            Discarded::Close => self.close_gracefully(slot),
            Discarded::More => {
                let s = &mut self.sessions[slot];
                if progress {
                    let at = self.now + self.env.config.recv_wait_timeout;
                    arm(&mut self.next_timer, s, Some(at));
                }
                let more = s.input.readable;
                self.wait_for_client(slot, more);
            }
        }
    }

    /// Closes a session now: `on_close`, then its context is dropped.
    pub(super) fn close(&mut self, slot: usize) {
        let Some(mut s) = self.sessions.remove(slot) else {
            return;
        };
        if s.output.waiting {
            self.held = self.held.saturating_sub(s.pending_output());
        }
        s.transport.closing();
        s.transport.deregister(&self.registry);
        self.pools.input.give(std::mem::take(&mut s.input.data));
        self.pools.output.give(std::mem::take(&mut s.output.data));
        self.shared.remove_client(s.id);
        if ws::state(&mut s).is_some() {
            self.shared.remove_ws_client(s.id);
        }
        log::debug!("session {} closed", s.id);
        if let Some(on_close) = &self.env.config.on_close {
            if catch_unwind(AssertUnwindSafe(|| on_close(s.id))).is_err() {
                log::error!("on_close panicked");
            }
        }
        let ctx = s.ctx.take();
        let id = s.id;
        let transport = {
            let s = s;
            s.transport
        };
        super::accept::socket_closed(&self.env.config, id, transport);
        if catch_unwind(AssertUnwindSafe(move || drop(ctx))).is_err() {
            log::error!("dropping a session context panicked");
        }
        self.env.config.events.emit(|| Event::Disconnected { id });
    }
}

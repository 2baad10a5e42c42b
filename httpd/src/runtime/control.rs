//! What reaches the loop from outside its sessions: control messages from the handles,
//! sessions coming back from detached requests, timers, and the stop.

use std::any::Any;
use std::fmt;
use std::sync::mpsc::Receiver;
use std::sync::Weak;
use std::time::Instant;

use super::Core;
use crate::api::detach::Detached;
use crate::api::ws::{WsMessage, WsSendCallback};
use crate::conn::session::{Phase, Session};
use crate::types::SessionId;
use crate::{Error, ErrorCode};

/// Work queued by [`Server::queue_work`](crate::Server::queue_work).
pub(crate) type Work = Box<dyn FnOnce(&mut ServerContext<'_>) + Send>;

/// A message to the server thread.
pub(crate) enum Control {
    Work(Work),
    Send(SessionId, Vec<u8>),
    Close(SessionId),
    WsSend(SessionId, WsMessage, Option<WsSendCallback>),
}

impl Core {
    /// Takes back returning sessions, then runs the queued control messages, each under the
    /// loop's panic boundary.
    pub(super) fn run_control(
        &mut self,
        resumed: &Receiver<Box<Detached>>,
        ctrl: &Receiver<Control>,
    ) {
        while let Ok(detached) = resumed.try_recv() {
            let slot = detached.session.id.slot();
            self.guarded(None, "resuming a session", |core| core.resume(detached));
            if self
                .sessions
                .get(slot)
                .is_some_and(|s| matches!(s.phase, Phase::Detached))
            {
                self.close(slot);
            }
        }
        while let Ok(msg) = ctrl.try_recv() {
            if self.stopping() {
                return;
            }
            self.guarded(None, "a control message", |core| match msg {
                Control::Work(work) => work(&mut ServerContext { core }),
                Control::Send(id, bytes) => {
                    let _ = core.send_to(id, &bytes);
                }
                Control::Close(id) => {
                    let _ = core.trigger_close(id);
                }
                Control::WsSend(id, msg, done) => core.ws_send(id, msg, done),
            });
        }
    }

    pub(super) fn check_timers(&mut self) {
        match self.next_timer {
            Some(t) if t <= self.now => {}
            _ => return,
        }
        let now = self.now;
        let mut next: Option<Instant> = None;
        let mut expired = std::mem::take(&mut self.expired);
        for (slot, s) in self.sessions.iter() {
            match s.deadline {
                Some(d) if d <= now => expired.push(slot),
                Some(d) => next = Some(next.map_or(d, |n| n.min(d))),
                None => {}
            }
        }
        self.next_timer = next;
        for slot in expired.drain(..) {
            if self.sessions.get(slot).is_some() {
                self.guarded(Some(slot), "a timer", |core| core.expire(slot));
            }
        }
        self.expired = expired;
    }

    fn expire(&mut self, slot: usize) {
        let s = &mut self.sessions[slot];
        s.deadline = None;
        let waiting_for_request =
            matches!(s.phase, Phase::ReadHead | Phase::ReadBody(_)) && s.input.end > 0;
        if s.output.busy() || !waiting_for_request {
            // A client that does not read, an idle keep-alive, a stalled body, drain or linger.
            log::debug!("session {}: timed out", s.id);
            self.close(slot);
        } else {
            self.answer_protocol_error(slot, ErrorCode::RequestTimeout);
        }
    }

    pub(super) fn session_slot(&self, id: SessionId) -> Option<usize> {
        let slot = id.slot();
        self.sessions.get(slot).filter(|s| s.id == id).map(|_| slot)
    }

    fn send_to(&mut self, id: SessionId, bytes: &[u8]) -> Result<(), Error> {
        let slot = self.session_slot(id).ok_or(Error::NoSuchSession)?;
        let s = &mut self.sessions[slot];
        if s.output.close_when_flushed || matches!(s.phase, Phase::Linger { .. }) {
            return Err(Error::NoSuchSession);
        }
        if s.output.data.capacity() == 0 {
            s.output.data = self.pools.output.take();
        }
        s.output.data.extend_from_slice(bytes);
        match self.flush(slot) {
            super::io::Flushed::Closed => Err(Error::NoSuchSession),
            _ => Ok(()),
        }
    }

    fn trigger_close(&mut self, id: SessionId) -> Result<(), Error> {
        if self.sessions.request_close_detached(id) {
            return Ok(());
        }
        let slot = self.session_slot(id).ok_or(Error::NoSuchSession)?;
        self.close_gracefully(slot);
        Ok(())
    }

    pub(super) fn shutdown(&mut self) {
        for slot in self.sessions.live_slots() {
            self.guarded(Some(slot), "closing a session", |core| {
                // Whatever fits in the socket still reaches the client (e.g. the response of a
                // handler that stopped the server).
                let _ = core.sessions[slot].flush_nonblocking(&core.env.config.events);
                core.close(slot);
            });
        }
        self.sessions.cut_detached();
        self.cut_pooled();
        self.shared.router.clear();
        self.table = self.shared.router.snapshot().0;
    }
}

/// The server thread's side of [`Server::queue_work`](crate::Server::queue_work): access to
/// the sessions.
pub struct ServerContext<'a> {
    core: &'a mut Core,
}

impl fmt::Debug for ServerContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerContext")
            .field("sessions", &self.core.sessions.len())
            .finish_non_exhaustive()
    }
}

impl ServerContext<'_> {
    /// The ids of the open sessions.
    pub fn clients(&self) -> Vec<SessionId> {
        self.core.sessions.ids().collect()
    }

    /// Sends raw bytes to a session (ESP-IDF's `httpd_socket_send`), after any response it has
    /// pending.
    ///
    /// # Errors
    /// [`Error::NoSuchSession`] if the session has closed (or is closing).
    pub fn send(&mut self, id: SessionId, bytes: &[u8]) -> Result<(), Error> {
        self.core.send_to(id, bytes)
    }

    /// Closes a session once its pending output is written.
    ///
    /// # Errors
    /// [`Error::NoSuchSession`] if the session has already closed.
    pub fn close(&mut self, id: SessionId) -> Result<(), Error> {
        self.core.trigger_close(id)
    }

    /// A session's context, if it has one of type `T`.
    pub fn session_ctx<T: Any + Send>(&mut self, id: SessionId) -> Option<&mut T> {
        let slot = self.core.session_slot(id)?;
        self.core.sessions[slot].ctx_mut()
    }

    /// Marks a session as just used, so the LRU purge closes it last (ESP-IDF's
    /// `httpd_sess_update_lru_counter`).
    ///
    /// # Errors
    /// [`Error::NoSuchSession`] if the session has closed.
    pub fn mark_used(&mut self, id: SessionId) -> Result<(), Error> {
        let slot = self.core.session_slot(id).ok_or(Error::NoSuchSession)?;
        self.core.lru_clock += 1;
        self.core.sessions[slot].last_used = self.core.lru_clock;
        Ok(())
    }

    /// The server's handle, as the layer above keeps it.
    pub(crate) fn server_ref(&self) -> &Weak<dyn Any + Send + Sync> {
        &self.core.env.server
    }
}

/// A session for [`Core::resume`] that has no slot to return to.
pub(super) fn lost(session: &Session) {
    log::error!(
        "session {} came back to a slot not reserved for it",
        session.id
    );
}

//! Serving requests: reading heads and small bodies, dispatching to handlers, finishing
//! exchanges (drain, keep-alive or close), detaching and resuming. All of it runs inside the
//! loop's turn, one step of one session at a time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::io::{Flushed, Read1};
use super::{arm, control, Core, COALESCE_LIMIT};
use crate::api::detach::{Detached, Handoff};
use crate::api::exchange::{BodyReader, Env, Exchange};
use crate::api::request::Request;
use crate::api::ws::{self, Upgrade};
use crate::conn::session::{Inbound, Phase};
use crate::event::Event;
use crate::proto::chunked;
use crate::proto::head::{Head, UnreadBody};
use crate::proto::response::{BodyLeft, Outcome, CONTINUE};
use crate::proto::uri::path_of;
use crate::router::{Kind, Placement, Route, Table};

/// Exchanges kept for requests handed to workers.
const SPARE_EXCHANGES: usize = 4;
use crate::{Error, ErrorCode};

impl Core {
    pub(super) fn serve(&mut self, slot: usize) {
        let progress = match self.read_input(slot) {
            Read1::Closed => return,
            r => r == Read1::Progress,
        };
        let now = self.now;
        let s = &mut self.sessions[slot];
        match s.poll_request(&self.limits, &mut self.ex.headers) {
            Inbound::Idle => {
                if s.input.eof {
                    self.close_gracefully(slot);
                    return;
                }
                if s.output.busy() && self.flush(slot) != Flushed::Done {
                    return;
                }
                let s = &mut self.sessions[slot];
                s.release_input(&mut self.pools.input);
                s.head_started = None;
                let idle = self.env.config.idle_timeout.map(|t| now + t);
                arm(&mut self.next_timer, s, idle);
            }
            Inbound::PartialHead => {
                if s.input.eof {
                    self.close_gracefully(slot);
                    return;
                }
                let head_started = *s.head_started.get_or_insert(now);
                if progress {
                    let config = &self.env.config;
                    let at =
                        (head_started + config.header_timeout).min(now + config.recv_wait_timeout);
                    arm(&mut self.next_timer, s, Some(at));
                }
                let more = s.input.readable;
                self.wait_for_client(slot, more);
            }
            Inbound::PartialBody { expect_continue } => {
                self.await_body(slot, expect_continue, progress)
            }
            Inbound::Refused(code) => self.answer_protocol_error(slot, code),
            Inbound::Ready(head) => self.dispatch(slot, head),
        }
    }

    /// The head is complete and the (small) body is not: keep reading without blocking.
    fn await_body(&mut self, slot: usize, expect_continue: bool, progress: bool) {
        let s = &mut self.sessions[slot];
        if s.input.eof {
            self.close_gracefully(slot);
            return;
        }
        if expect_continue && !s.continue_sent {
            s.continue_sent = true;
            if s.output.data.capacity() == 0 {
                s.output.data = self.pools.output.take();
            }
            s.output.data.extend_from_slice(CONTINUE);
            if self.flush(slot) == Flushed::Closed {
                return;
            }
        }
        let s = &mut self.sessions[slot];
        if progress || s.deadline.is_none() {
            let at = self.now + self.env.config.recv_wait_timeout;
            arm(&mut self.next_timer, s, Some(at));
        }
        let more = s.input.readable;
        self.wait_for_client(slot, more);
    }

    /// Before a handler (or an error page) runs: the latest handler table, this turn's output
    /// budget, and an output buffer for the session.
    #[inline]
    fn prepare_response(&mut self, slot: usize) {
        if self.shared.router.version() != self.table_version {
            (self.table, self.table_version) = self.shared.router.snapshot();
        }
        self.set_pending_budget();
        let s = &mut self.sessions[slot];
        if s.output.data.capacity() == 0 {
            s.output.data = self.pools.output.take();
        }
    }

    /// How much a handler on the server thread may leave pending before its sends wait for
    /// its client. With a worker pool, only the total (the memory bound) makes it wait: the
    /// per-session cap is for handlers off the server thread, which wait without holding up
    /// anyone else.
    pub(super) fn set_pending_budget(&mut self) {
        let config = &self.env.config;
        let total = config.max_pending_total.saturating_sub(self.held);
        self.env.pending_budget = if self.pool.is_some() {
            total
        } else {
            config.max_pending_response.min(total)
        };
    }

    /// The session's request, now in its handler, and the handler table.
    #[inline]
    fn request(&mut self, slot: usize) -> (Request<'_>, &Table) {
        let session = &mut self.sessions[slot];
        session.phase = Phase::InHandler;
        (Request::new(session, &mut self.ex, &self.env), &self.table)
    }

    /// A request that waited for a worker: served again (its head parsed again: other requests
    /// used the header table meanwhile) without announcing it a second time.
    pub(super) fn serve_waiting(&mut self, slot: usize) {
        self.redispatch = true;
        self.serve(slot);
        self.redispatch = false;
    }

    fn dispatch(&mut self, slot: usize, head: Head) {
        self.prepare_response(slot);
        self.ex.begin(head, self.env.config.max_req_hdr_len);
        let Core {
            sessions,
            ex,
            env,
            table,
            pool,
            redispatch,
            ..
        } = self;
        let session = &mut sessions[slot];
        session.deadline = None;
        if !*redispatch {
            let id = session.id;
            env.config.events.emit(|| Event::RequestHead {
                id,
                method: head.method,
                uri: std::str::from_utf8(head.target.get(&session.input.data)).unwrap_or_default(),
            });
        }
        let route = table.route(head.method, path_of(head.target.get(&session.input.data)));
        if let Route::Found(Kind::Http(f, placement)) = route {
            if pool.is_some() && wants_worker(env, ex, *placement, session.input.end) {
                let f = Arc::clone(f);
                return self.run_on_pool(slot, f);
            }
        }
        session.phase = Phase::InHandler;
        let mut req = Request::new(session, ex, env);
        let (result, fallback) = match route {
            Route::Found(Kind::Http(f, _)) => (call(|| f(&mut req)), None),
            Route::Found(Kind::WebSocket(endpoint)) => match ws::handshake(&mut req, endpoint) {
                Ok(Upgrade::Done) => {
                    let endpoint = Arc::clone(endpoint);
                    self.upgraded(slot, endpoint, &head);
                    return;
                }
                Ok(Upgrade::Refused) => (Ok(()), None),
                Err(e) => (Err(e), None),
            },
            Route::MethodNotAllowed(allowed) => {
                // RFC 9110 15.5.6: a 405 says which methods the path has.
                let code = ErrorCode::MethodNotAllowed;
                let _ = req.set_header("Allow", &allowed.header_value());
                (answer_error(table, &mut req, code), Some(code))
            }
            Route::Options(allowed) => {
                let _ = req.set_status("204 No Content");
                let _ = req.set_header("Allow", &allowed.header_value());
                (req.send(b""), None)
            }
            Route::NotImplemented => {
                // A client asking for a tunnel may send tunnel bytes next: do not read them.
                let code = ErrorCode::NotImplemented;
                let _ = req.set_header("Connection", "close");
                (answer_error(table, &mut req, code), Some(code))
            }
            Route::NotFound => {
                let code = ErrorCode::NotFound;
                (answer_error(table, &mut req, code), Some(code))
            }
        };
        self.finish(slot, result, fallback);
    }

    /// Every worker is busy and too many requests wait: 503, and the connection closes.
    pub(super) fn answer_busy(&mut self, slot: usize) {
        let (mut req, _) = self.request(slot);
        let _ = req.set_status("503 Service Unavailable");
        let _ = req.set_type("text/plain");
        let _ = req.set_header("Retry-After", "1");
        let _ = req.set_header("Connection", "close");
        let result = req.send("The server is busy; try again shortly.\n");
        self.finish(slot, result, None);
    }

    /// Answers a request the server refuses before any handler (malformed, too long, timed
    /// out): the custom error handler if there is one, else the default page; then close.
    pub(super) fn answer_protocol_error(&mut self, slot: usize, code: ErrorCode) {
        log::debug!("session {}: {}", self.sessions[slot].id, code);
        self.prepare_response(slot);
        self.ex.begin_broken();
        let (mut req, table) = self.request(slot);
        let result = answer_error(table, &mut req, code);
        self.finish(slot, result, Some(code));
    }

    /// Completes the response after the handler, decides whether the connection survives,
    /// and sets the session up for what comes next (next request, drain, or close).
    fn finish(&mut self, slot: usize, result: Result<(), Error>, fallback: Option<ErrorCode>) {
        let mut fallback = fallback;
        if let Some(handoff) = self.ex.handoff.take() {
            if result.is_err() {
                handoff.refuse();
            } else if self.hand_over(slot, &handoff).is_ok() {
                return;
            } else {
                // Detached, then dropped before the handler returned: answered as a drop is.
                fallback = Some(ErrorCode::InternalServerError);
            }
        }
        let Core {
            sessions, ex, env, ..
        } = self;
        Request::new(&mut sessions[slot], ex, env).complete(result, fallback);
        let close = ex.resp.closing || ex.resp.broken;
        let head = ex.head;
        let body = std::mem::replace(&mut ex.body, BodyReader::empty());
        self.after_response(slot, &head, body, close);
    }

    /// Moves the session out to the detached request waiting on `handoff`. `Err` if that
    /// request was dropped before the handler returned.
    fn hand_over(&mut self, slot: usize, handoff: &Handoff) -> Result<(), ()> {
        let Some(mut session) = self.sessions.detach(slot) else {
            return Err(());
        };
        session.phase = Phase::Detached;
        let max_headers = self.env.config.max_req_headers;
        let ex = std::mem::replace(&mut self.ex, Exchange::new(max_headers));
        let detached = Box::new(Detached {
            session,
            ex: Box::new(ex),
            env: self.env.off_loop_copy(None),
        });
        match handoff.hand_over(detached) {
            Ok(()) => Ok(()),
            Err(mut detached) => {
                // Put everything back as it was.
                std::mem::swap(&mut self.ex, &mut detached.ex);
                detached.session.phase = Phase::InHandler;
                let _ =
                    self.sessions
                        .reattach(detached.session, &self.registry, &mut self.relay_bufs);
                Err(())
            }
        }
    }

    /// A detached request is done: its session comes back to the table and carries on.
    pub(super) fn resume(&mut self, detached: Box<Detached>) {
        let Detached { session, ex, .. } = *detached;
        let slot = session.id.slot();
        match self
            .sessions
            .reattach(session, &self.registry, &mut self.relay_bufs)
        {
            Ok(back) => {
                // Edges may have come and gone while it was away: look at the transport again.
                // (A detached session left mid-step, so it is in no ready queue; the relay of a
                // session on a worker may be.)
                let s = &mut self.sessions[slot];
                s.input.readable = !s.input.eof;
                s.queued = back.queued;
                let mut ex = *ex;
                let close =
                    ex.resp.closing || ex.resp.broken || back.close_requested || back.broken;
                let (head, body) = (
                    ex.head,
                    std::mem::replace(&mut ex.body, BodyReader::empty()),
                );
                if self.spare_ex.len() < SPARE_EXCHANGES {
                    self.spare_ex.push(ex);
                }
                self.after_response(slot, &head, body, close);
            }
            Err(session) => control::lost(&session),
        }
    }

    /// After the response: skip or drain what is left of the body, then carry the session on
    /// to its next request, or close it.
    fn after_response(&mut self, slot: usize, head: &Head, body: BodyReader, close: bool) {
        let s = &mut self.sessions[slot];
        s.phase = Phase::ReadHead;
        // What is left of the body: skip what is buffered, drain the rest later (bounded).
        let mut consumed = body.pos.min(s.input.end);
        let (unread, left) = match body.unread {
            None => (None, BodyLeft::Nothing),
            Some(UnreadBody::Length(left)) => {
                let buffered = (s.input.end - consumed) as u64;
                if left <= buffered {
                    consumed += left as usize;
                    (None, BodyLeft::Nothing)
                } else {
                    consumed = s.input.end;
                    let left = left - buffered;
                    (Some(UnreadBody::Length(left)), BodyLeft::Length(left))
                }
            }
            Some(UnreadBody::Chunked(mut decoder)) => {
                match chunked::skip(&mut decoder, &s.input.data[consumed..s.input.end]) {
                    Ok(used) => consumed += used,
                    Err(_) => return self.close_gracefully(slot),
                }
                if decoder.is_done() {
                    (None, BodyLeft::Nothing)
                } else {
                    (Some(UnreadBody::Chunked(decoder)), BodyLeft::Chunked)
                }
            }
        };
        let outcome = Outcome {
            request: head.keep_alive,
            handler_close: close,
            until_close: false,
            body_left: left,
            continue_unanswered: head.expect_continue && !s.continue_sent,
            server_closing: self.env.draining(),
        };
        s.input.consume(consumed);
        s.continue_sent = false;
        s.head_started = None;
        self.lru_clock += 1;
        s.last_used = self.lru_clock;

        if outcome.must_close() || (s.input.eof && s.input.end == 0) {
            self.close_gracefully(slot);
            return;
        }
        if let Some(body) = unread {
            s.phase = Phase::Drain {
                body,
                budget: crate::proto::response::DRAIN_LIMIT,
            };
        }
        let pipelined =
            s.input.end > 0 || s.input.readable || matches!(s.phase, Phase::Drain { .. });
        if pipelined && s.output.source.is_none() && s.pending_output() < COALESCE_LIMIT {
            // Serve the next request next turn; its response joins this one in one write.
            self.enqueue(slot);
            return;
        }
        match self.flush(slot) {
            Flushed::Done if pipelined => self.enqueue(slot),
            Flushed::Done => {
                let s = &mut self.sessions[slot];
                s.release_input(&mut self.pools.input);
                let idle = self.env.config.idle_timeout.map(|t| self.now + t);
                arm(&mut self.next_timer, s, idle);
            }
            Flushed::Pending | Flushed::Closed => {}
        }
    }
}

/// Whether the request in `ex` runs its handler on a worker: one whose body is not all
/// buffered (`recv` would wait for the client), or as the handler or the server asks.
#[inline]
fn wants_worker(env: &Env, ex: &Exchange, placement: Placement, input_end: usize) -> bool {
    placement == Placement::Pool
        || ex.body_left(input_end) != BodyLeft::Nothing
        || (env.config.handlers_on_pool && placement == Placement::Auto)
}

/// Runs a handler, turning a panic into an error so one bad handler cannot take the server
/// down.
pub(super) fn call(f: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(Error::handler("handler panicked")))
}

/// The custom handler for `code` if one is registered, else the default error page.
fn answer_error(table: &Table, req: &mut Request<'_>, code: ErrorCode) -> Result<(), Error> {
    match table.err_handler(code) {
        Some(f) => {
            let id = req.session.id;
            req.env.config.events.emit(|| Event::Error { id, code });
            call(|| f(req, code))
        }
        None => req.send_err(code, None),
    }
}

//! Serving requests: reading heads and small bodies, dispatching to handlers, finishing
//! exchanges (drain, keep-alive or close), detaching and resuming, and WebSocket sessions.
//! All of it runs inside the loop's turn, one step of one session at a time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::{arm, Core, Flushed, Read1, COALESCE_LIMIT};
use crate::detach::{Detached, Handoff};
use crate::parse::{self, Framing, Head, Version};
use crate::request::{path_of, BodyReader, Env, Exchange, Request, DRAIN_LIMIT};
use crate::response::{DateCache, CONTINUE};
use crate::router::{Kind, Route, Table};
use crate::session::{ReadState, UnreadBody};
use crate::ws::{self, Upgrade, WsNext, WsState};
use crate::{Error, ErrorCode};

impl Core {
    pub(super) fn serve(&mut self, slot: usize) {
        let progress = match self.read_input(slot) {
            Read1::Closed => return,
            r => r == Read1::Progress,
        };
        let now = self.now;
        let s = &mut self.sessions[slot];
        if s.input.end == 0 {
            if s.eof {
                self.close_gracefully(slot);
                return;
            }
            if s.pending_output() > 0 && self.flush(slot) != Flushed::Done {
                return;
            }
            let s = &mut self.sessions[slot];
            let buf = std::mem::take(&mut s.input.data);
            self.in_pool.give(buf);
            s.head_started = None;
            let idle = self.env.config.idle_timeout.map(|t| now + t);
            arm(&mut self.next_timer, s, idle);
            return;
        }
        let head_started = *s.head_started.get_or_insert(now);
        let parsed = parse::parse_head(
            &s.input.data[..s.input.end],
            &self.limits,
            &mut self.ex.headers,
        );
        match parsed {
            Ok(None) => {
                if s.eof {
                    self.close_gracefully(slot);
                    return;
                }
                if progress {
                    let at = (head_started + self.env.config.header_timeout)
                        .min(now + self.env.config.recv_wait_timeout);
                    arm(&mut self.next_timer, s, Some(at));
                }
                let more = s.readable;
                self.wait_for_client(slot, more);
            }
            Err(code) => self.answer_protocol_error(slot, code),
            Ok(Some(head)) => {
                let body = &s.input.data[head.len..s.input.end];
                let buffer_len = self.env.config.body_buffer_len;
                let complete = match head.framing {
                    Framing::Empty => true,
                    Framing::Length(n)
                        if self.env.config.max_body_len.is_some_and(|max| n > max) =>
                    {
                        self.answer_protocol_error(slot, ErrorCode::ContentTooLarge);
                        return;
                    }
                    Framing::Length(n) => body.len() as u64 >= n || n > buffer_len as u64,
                    // Small chunked bodies are buffered too: scan what is here with a scratch
                    // decoder; past `body_buffer_len` the handler streams the rest.
                    Framing::Chunked => {
                        let mut scan = parse::ChunkedDecoder::new(self.env.config.max_req_hdr_len);
                        match skip_chunked(&mut scan, body) {
                            Ok(_) => scan.is_done() || body.len() >= buffer_len,
                            Err(()) => true, // the handler's recv reports it
                        }
                    }
                };
                if complete {
                    self.dispatch(slot, head);
                } else {
                    self.await_body(slot, &head, progress);
                }
            }
        }
    }

    /// The head is complete and the (small) body is not: keep reading without blocking.
    pub(super) fn await_body(&mut self, slot: usize, head: &Head, progress: bool) {
        let s = &mut self.sessions[slot];
        if s.eof {
            self.close_gracefully(slot);
            return;
        }
        if head.expect_continue && head.version == Version::Http11 && !s.continue_sent {
            s.continue_sent = true;
            if s.output.capacity() == 0 {
                s.output = self.out_pool.take();
            }
            s.output.extend_from_slice(CONTINUE);
            if self.flush(slot) == Flushed::Closed {
                return;
            }
        }
        let s = &mut self.sessions[slot];
        if progress || s.deadline.is_none() {
            let at = self.now + self.env.config.recv_wait_timeout;
            arm(&mut self.next_timer, s, Some(at));
        }
        let more = s.readable;
        self.wait_for_client(slot, more);
    }

    /// The session waits for its client: write out what it holds (responses held back while
    /// pipelined requests were served go now), and come back next turn if `more` may be read.
    fn wait_for_client(&mut self, slot: usize, more: bool) {
        if self.sessions[slot].pending_output() > 0 && self.flush(slot) != Flushed::Done {
            return;
        }
        if more {
            self.enqueue(slot);
        }
    }

    pub(super) fn refresh_table(&mut self) {
        if self.shared.router.version() != self.table_version {
            (self.table, self.table_version) = self.shared.router.snapshot();
        }
    }

    pub(super) fn set_pending_budget(&mut self) {
        let config = &self.env.config;
        self.env.pending_budget = config
            .max_pending_response
            .min(config.max_pending_total.saturating_sub(self.held));
    }

    /// Before a handler (or an error page) runs: the latest handler table, this turn's output
    /// budget, and an output buffer for the session.
    fn prepare_response(&mut self, slot: usize) {
        self.refresh_table();
        self.set_pending_budget();
        let s = &mut self.sessions[slot];
        if s.output.capacity() == 0 {
            s.output = self.out_pool.take();
        }
    }

    pub(super) fn dispatch(&mut self, slot: usize, head: Head) {
        self.prepare_response(slot);
        self.ex.begin(head, self.env.config.max_req_hdr_len);
        let Core {
            sessions,
            ex,
            env,
            table,
            ..
        } = self;
        let session = &mut sessions[slot];
        session.deadline = None;
        let target = head.target.get(&session.input.data);
        let path = path_of(target);
        let route = table.route(head.method, path);
        let mut req = Request { session, ex, env };
        let (result, fallback) = match route {
            Route::Found(Kind::Http(f)) => (call(|| f(&mut req)), None),
            Route::Found(Kind::WebSocket(endpoint)) => match ws::handshake(&mut req, endpoint) {
                Ok(Upgrade::Done) => {
                    let endpoint = Arc::clone(endpoint);
                    self.upgraded(slot, endpoint, &head);
                    return;
                }
                Ok(Upgrade::Refused) => (Ok(()), None),
                Err(e) => (Err(e), None),
            },
            Route::MethodNotAllowed => {
                let code = ErrorCode::MethodNotAllowed;
                (answer_error(table, &mut req, code), Some(code))
            }
            Route::NotFound => {
                let code = ErrorCode::NotFound;
                (answer_error(table, &mut req, code), Some(code))
            }
        };
        self.finish(slot, result, fallback);
    }

    /// The handshake is done: from now on the session speaks WebSocket.
    pub(super) fn upgraded(&mut self, slot: usize, endpoint: Arc<ws::WsEndpoint>, head: &Head) {
        let s = &mut self.sessions[slot];
        // Bytes after the head are already frames.
        s.input.consume(head.len.min(s.input.end));
        s.state = ReadState::WebSocket;
        s.ws = Some(Box::new(WsState::new(endpoint)));
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
        if next == WsNext::Wait && self.sessions[slot].eof {
            // The client went away without a close handshake.
            self.close(slot);
            return;
        }
        self.after_ws(slot, next);
    }

    /// After WebSocket input or output: close, come back next turn, or wait, with the output
    /// written in every case.
    pub(super) fn after_ws(&mut self, slot: usize, next: WsNext) {
        if next == WsNext::Close {
            self.close_gracefully(slot);
            return;
        }
        let s = &mut self.sessions[slot];
        if s.ws.as_ref().is_some_and(|ws| ws.close_sent) && s.deadline.is_none() {
            // We asked to close: the client has recv_wait_timeout to answer.
            let at = self.now + self.env.config.recv_wait_timeout;
            arm(&mut self.next_timer, s, Some(at));
        }
        let more = (next == WsNext::Again && s.input.end > 0) || s.readable;
        if s.input.end == 0 && !s.input.data.is_empty() {
            let buf = std::mem::take(&mut s.input.data);
            self.in_pool.give(buf);
        }
        self.wait_for_client(slot, more);
    }

    /// Answers a request the server refuses before any handler (malformed, too long, timed
    /// out): the custom error handler if there is one, else the default page; then close.
    pub(super) fn answer_protocol_error(&mut self, slot: usize, code: ErrorCode) {
        log::debug!("session {}: {}", self.sessions[slot].id, code);
        self.prepare_response(slot);
        self.ex.begin_broken();
        let Core {
            sessions,
            ex,
            env,
            table,
            ..
        } = self;
        let session = &mut sessions[slot];
        let mut req = Request { session, ex, env };
        let result = answer_error(table, &mut req, code);
        self.finish(slot, result, Some(code));
    }

    /// Completes the response after the handler, decides whether the connection survives,
    /// and sets the session up for what comes next (next request, drain, or close).
    pub(super) fn finish(
        &mut self,
        slot: usize,
        result: Result<(), Error>,
        fallback: Option<ErrorCode>,
    ) {
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
        let mut req = Request {
            session: &mut sessions[slot],
            ex,
            env,
        };
        req.complete(result, fallback);
        let close = ex.resp.closing || ex.resp.broken;
        let head = ex.head;
        let body = std::mem::replace(
            &mut ex.body,
            BodyReader {
                unread: None,
                pos: 0,
                received: 0,
            },
        );
        self.after_response(slot, &head, body, close);
    }

    /// Moves the session out to the detached request waiting on `handoff`. `Err` if that
    /// request was dropped before the handler returned.
    pub(super) fn hand_over(&mut self, slot: usize, handoff: &Handoff) -> Result<(), ()> {
        let Some(session) = self.sessions.detach(slot) else {
            return Err(());
        };
        let max_headers = self.env.config.max_req_headers;
        let ex = std::mem::replace(&mut self.ex, Exchange::new(max_headers));
        let detached = Box::new(Detached {
            session,
            ex: Box::new(ex),
            env: Env {
                config: self.env.config.clone(),
                pending_budget: self.env.config.max_pending_response,
                date: DateCache::new(),
                server: self.env.server.clone(),
                resume: None,
            },
        });
        match handoff.hand_over(detached) {
            Ok(()) => Ok(()),
            Err(mut detached) => {
                // Put everything back as it was.
                std::mem::swap(&mut self.ex, &mut detached.ex);
                let _ = self.sessions.reattach(detached.session);
                Err(())
            }
        }
    }

    /// A detached request is done: its session comes back to the table and carries on.
    pub(super) fn resume(&mut self, detached: Box<Detached>) {
        let Detached { session, ex, .. } = *detached;
        let slot = session.id.slot as usize;
        match self.sessions.reattach(session) {
            Ok(close_requested) => {
                // Edges may have come and gone while it was away: look at the socket again.
                // (It left mid-step, so it is in no ready queue.)
                let s = &mut self.sessions[slot];
                s.readable = true;
                s.queued = false;
                let ex = *ex;
                let close = ex.resp.closing || ex.resp.broken || close_requested;
                self.after_response(slot, &ex.head, ex.body, close);
            }
            Err(session) => log::error!(
                "session {} came back to a slot not reserved for it",
                session.id
            ),
        }
    }

    /// After the response: skip or drain what is left of the body, then carry the session on
    /// to its next request, or close it.
    pub(super) fn after_response(
        &mut self,
        slot: usize,
        head: &Head,
        mut body: BodyReader,
        mut close: bool,
    ) {
        // What is left of the body: skip what is buffered, drain the rest later (bounded).
        let s = &mut self.sessions[slot];
        let mut consumed = body.pos.min(s.input.end);
        match body.unread.take() {
            None => {}
            Some(UnreadBody::Length(left)) => {
                let buffered = (s.input.end - consumed) as u64;
                if left <= buffered {
                    consumed += left as usize;
                } else {
                    consumed = s.input.end;
                    let left = left - buffered;
                    if left > DRAIN_LIMIT || (head.expect_continue && !s.continue_sent) {
                        close = true;
                    } else {
                        s.state = ReadState::Drain {
                            body: UnreadBody::Length(left),
                            budget: DRAIN_LIMIT,
                        };
                    }
                }
            }
            Some(UnreadBody::Chunked(mut decoder)) => {
                match skip_chunked(&mut decoder, &s.input.data[consumed..s.input.end]) {
                    Ok(used) => consumed += used,
                    Err(()) => close = true,
                }
                if !decoder.is_done() && !close {
                    if head.expect_continue && !s.continue_sent {
                        close = true;
                    } else {
                        s.state = ReadState::Drain {
                            body: UnreadBody::Chunked(decoder),
                            budget: DRAIN_LIMIT,
                        };
                    }
                }
            }
        }
        s.input.consume(consumed);
        s.continue_sent = false;
        s.head_started = None;
        self.lru_clock += 1;
        s.last_used = self.lru_clock;

        if close || (s.eof && s.input.end == 0) {
            self.close_gracefully(slot);
            return;
        }
        let s = &mut self.sessions[slot];
        let pipelined = s.input.end > 0 || s.readable || matches!(s.state, ReadState::Drain { .. });
        if pipelined && s.pending_output() < COALESCE_LIMIT {
            // Serve the next request next turn; its response joins this one in one write.
            self.enqueue(slot);
            return;
        }
        match self.flush(slot) {
            Flushed::Done if pipelined => self.enqueue(slot),
            Flushed::Done => {
                let s = &mut self.sessions[slot];
                let buf = std::mem::take(&mut s.input.data);
                self.in_pool.give(buf);
                let idle = self.env.config.idle_timeout.map(|t| self.now + t);
                arm(&mut self.next_timer, s, idle);
            }
            Flushed::Pending | Flushed::Closed => {}
        }
    }

    /// Discards the unread body of the last request, then returns to reading heads.
    pub(super) fn drain(&mut self, slot: usize) {
        let progress = match self.read_input(slot) {
            Read1::Closed => return,
            r => r == Read1::Progress,
        };
        let s = &mut self.sessions[slot];
        let ReadState::Drain { body, budget } = &mut s.state else {
            return;
        };
        let avail = &s.input.data[..s.input.end];
        let (used, done) = match body {
            UnreadBody::Length(left) => {
                let n = (*left).min(avail.len() as u64);
                *left -= n;
                (n as usize, *left == 0)
            }
            UnreadBody::Chunked(decoder) => match skip_chunked(decoder, avail) {
                Ok(used) => (used, decoder.is_done()),
                Err(()) => {
                    self.close(slot);
                    return;
                }
            },
        };
        *budget = budget.saturating_sub(used as u64);
        let exhausted = *budget == 0 && !done;
        s.input.consume(used);
        if done {
            s.state = ReadState::Head;
            self.enqueue(slot);
        } else if exhausted || s.eof {
            self.close_gracefully(slot);
        } else {
            if progress {
                let at = self.now + self.env.config.recv_wait_timeout;
                arm(&mut self.next_timer, s, Some(at));
            }
            let more = s.readable;
            self.wait_for_client(slot, more);
        }
    }
}

/// Runs a handler, turning a panic into an error so one bad handler cannot take the server
/// down.
fn call(f: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(Error::handler("handler panicked")))
}

/// The custom handler for `code` if one is registered, else the default error page.
fn answer_error(table: &Table, req: &mut Request<'_>, code: ErrorCode) -> Result<(), Error> {
    match table.err_handler(code) {
        Some(f) => call(|| f(req, code)),
        None => req.send_err(code, None),
    }
}

/// Skips chunked body bytes in `input`; returns how many were used.
fn skip_chunked(decoder: &mut parse::ChunkedDecoder, input: &[u8]) -> Result<usize, ()> {
    let mut sink = [0u8; 1024];
    let mut used = 0;
    while !decoder.is_done() {
        let (c, p) = decoder.decode(&input[used..], &mut sink).map_err(|_| ())?;
        used += c;
        if c == 0 && p == 0 {
            break;
        }
    }
    Ok(used)
}

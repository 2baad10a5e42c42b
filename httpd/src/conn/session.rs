//! One client connection: its transport, buffers and context, and the state machine of its
//! input side. The loop decides when a session runs; the session decides what its bytes mean.
//!
//! The input side is a [`Phase`], named for what it waits for. The output side is independent
//! (a session may drain the last request's body while its response is still going out): bytes
//! pending in [`Output`] and perhaps a body [`Source`](super::source::Source) still to pull;
//! while the output is busy the session does nothing else.

use std::any::Any;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::buffer::{BufPool, Input, Output};
use super::source::Pulled;
use super::transport::{Stream, Transport};
use crate::event::{Emitter, Event};
use crate::proto::chunked::{self, ChunkedDecoder};
use crate::proto::head::{parse_head, Framing, Head, HeaderSpan, Limits, UnreadBody};
use crate::types::SessionId;
use crate::ErrorCode;

/// What the session's input side is doing, named for what it waits for.
pub(crate) enum Phase {
    /// A TLS connection's handshake is under way: no request can arrive yet. Bounded by the
    /// handshake deadline.
    #[cfg(feature = "tls")]
    Handshake,
    /// Waiting for (the rest of) a request head.
    ReadHead,
    /// The head is complete; a body small enough to buffer is still arriving. The loop reads it
    /// without blocking, then runs the handler. (Boxed: most requests never wait here, and an
    /// idle session should stay small.)
    ReadBody(Box<ReadBody>),
    /// A handler is running with this session's request (within one step of the loop, or on
    /// a worker).
    InHandler,
    /// The request's handler must run on a worker and every worker is busy: the request waits,
    /// unread, in the loop's queue.
    AwaitWorker,
    /// Discarding the unread body of the last request; `budget` bytes may still be discarded.
    Drain { body: UnreadBody, budget: u64 },
    /// The last response is out and the write side shut: discarding input until the client
    /// closes, so our close does not reset the connection under the response.
    Linger { budget: u64 },
    /// Away with a detached request on another thread.
    Detached,
    /// Upgraded to WebSocket. The protocol state belongs to the handler-facing layer, which
    /// owns the endpoint's callbacks; this layer only keeps it.
    WebSocket(Box<dyn Any + Send>),
}

impl fmt::Debug for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            #[cfg(feature = "tls")]
            Phase::Handshake => "Handshake",
            Phase::ReadHead => "ReadHead",
            Phase::ReadBody(_) => "ReadBody",
            Phase::InHandler => "InHandler",
            Phase::AwaitWorker => "AwaitWorker",
            Phase::Drain { .. } => "Drain",
            Phase::Linger { .. } => "Linger",
            Phase::Detached => "Detached",
            Phase::WebSocket(_) => "WebSocket",
        })
    }
}

/// A request whose head is parsed and whose small body is being buffered. Only bytes that
/// arrive after each step are scanned.
pub(crate) struct ReadBody {
    head: Head,
    /// Chunked bodies: the scan so far, and the input offset it has reached.
    chunks: Option<(ChunkedDecoder, usize)>,
}

impl ReadBody {
    fn new(head: Head, max_chunk_line: usize) -> Self {
        let chunks = match head.framing {
            Framing::Chunked => Some((ChunkedDecoder::new(max_chunk_line), head.len)),
            Framing::Empty | Framing::Length(_) => None,
        };
        ReadBody { head, chunks }
    }

    /// Whether the loop can stop buffering: the body is all here, fills the buffer, or is
    /// malformed (the handler's `recv` reports that).
    fn complete(&mut self, input: &[u8], buffer_len: usize) -> bool {
        let buffered = input.len() - self.head.len;
        match (&mut self.chunks, self.head.framing) {
            (Some((decoder, scanned)), _) => match chunked::skip(decoder, &input[*scanned..]) {
                Ok(used) => {
                    *scanned += used;
                    decoder.is_done() || buffered >= buffer_len
                }
                Err(_) => true,
            },
            (None, Framing::Length(n)) => buffered as u64 >= n || n > buffer_len as u64,
            (None, _) => true,
        }
    }
}

/// The limits for reading a request before its handler runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLimits {
    pub(crate) head: Limits,
    /// Bodies up to this long are buffered before the handler runs.
    pub(crate) body_buffer_len: usize,
    pub(crate) max_body_len: Option<u64>,
    /// The longest chunk-size line or trailer section.
    pub(crate) max_chunk_line: usize,
}

/// Where the request being read stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// No request bytes are buffered.
    Idle,
    /// Part of a head has arrived.
    PartialHead,
    /// The head is complete and its body is still arriving.
    PartialBody { expect_continue: bool },
    /// Refused before any handler, with this status.
    Refused(ErrorCode),
    /// Ready for its handler; the `headers` given hold its header positions.
    Ready(Head),
}

/// What discarding unread input did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Discarded {
    /// The body to drain is gone: the next request may be read.
    Done,
    /// More is to come.
    More,
    /// The budget ran out, or the client ended or broke the stream: close.
    Close,
}

/// One client connection.
pub(crate) struct Session {
    pub(crate) id: SessionId,
    pub(crate) peer: SocketAddr,
    pub(crate) transport: Stream,
    pub(crate) input: Input,
    pub(crate) output: Output,
    pub(crate) phase: Phase,
    /// In the loop's ready queue.
    pub(crate) queued: bool,
    /// `100 Continue` was sent for the current request.
    pub(crate) continue_sent: bool,
    /// When the current request head began arriving.
    pub(crate) head_started: Option<Instant>,
    /// When this session next needs the loop's attention (timeout of its current wait).
    pub(crate) deadline: Option<Instant>,
    /// LRU stamp: the loop's counter at accept and at each completed request.
    pub(crate) last_used: u64,
    pub(crate) ctx: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("peer", &self.peer)
            .field("phase", &self.phase)
            .field("buffered", &self.input.end)
            .field("pending_output", &self.output.pending())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(id: SessionId, transport: Stream, peer: SocketAddr, now_used: u64) -> Self {
        #[cfg(feature = "tls")]
        let phase = if transport.is_handshaking() {
            Phase::Handshake
        } else {
            Phase::ReadHead
        };
        #[cfg(not(feature = "tls"))]
        let phase = Phase::ReadHead;
        Session {
            id,
            peer,
            transport,
            input: Input::default(),
            output: Output::default(),
            phase,
            queued: false,
            continue_sent: false,
            head_started: None,
            deadline: None,
            last_used: now_used,
            ctx: None,
        }
    }

    /// The session context, if it has type `T`.
    pub(crate) fn ctx_mut<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.ctx.as_mut().and_then(|c| c.downcast_mut::<T>())
    }

    /// Replaces the session context; the previous one is dropped (freed).
    pub(crate) fn set_ctx<T: Any + Send>(&mut self, ctx: T) {
        self.ctx = Some(Box::new(ctx));
    }

    /// The context of type `T`, created with `f` if there is none (or one of another type,
    /// which is dropped).
    pub(crate) fn ctx_or_insert_with<T: Any + Send>(&mut self, f: impl FnOnce() -> T) -> &mut T {
        if !self.ctx.as_ref().is_some_and(|c| c.is::<T>()) {
            self.set_ctx(f());
        }
        self.ctx_mut().expect("context was just set to a T")
    }

    /// Removes the context if it has type `T` (otherwise leaves it).
    pub(crate) fn take_ctx<T: Any + Send>(&mut self) -> Option<T> {
        match self.ctx.take()?.downcast::<T>() {
            Ok(ctx) => Some(*ctx),
            Err(other) => {
                self.ctx = Some(other);
                None
            }
        }
    }

    // ---- reading ---------------------------------------------------------------------------

    /// Reads once into the input buffer if the transport may have bytes. `Ok(true)` when bytes
    /// arrived; an end of stream sets `input.eof`.
    #[inline]
    pub(crate) fn read_input(&mut self, pool: &mut BufPool) -> io::Result<bool> {
        let input = &mut self.input;
        if !input.readable {
            return Ok(false);
        }
        if input.data.is_empty() {
            input.data = pool.take();
        }
        let room = input.data.len() - input.end;
        if room == 0 {
            return Ok(false);
        }
        match self.transport.read(&mut input.data[input.end..]) {
            Ok(0) => {
                input.readable = false;
                input.eof = true;
                Ok(false)
            }
            Ok(n) => {
                input.end += n;
                // A short read drained the socket: the next bytes bring a new edge. Not so for
                // a pending end of stream: read again to see it.
                input.readable = n == room || input.read_closed || self.transport.pending() > 0;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                input.readable = false;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Gives the input buffer back to the pool if it holds nothing.
    #[inline]
    pub(crate) fn release_input(&mut self, pool: &mut BufPool) {
        if self.input.end == 0 && !self.input.data.is_empty() {
            pool.give(std::mem::take(&mut self.input.data));
        }
    }

    /// Advances the request being read (heads, then small bodies) over the buffered input.
    #[inline]
    pub(crate) fn poll_request(
        &mut self,
        limits: &RequestLimits,
        headers: &mut Vec<HeaderSpan>,
    ) -> Inbound {
        let input = &self.input.data[..self.input.end];
        if input.is_empty() {
            return Inbound::Idle;
        }
        match &mut self.phase {
            Phase::ReadHead => {
                let head = match parse_head(input, &limits.head, headers) {
                    Ok(None) => return Inbound::PartialHead,
                    Err(code) => return Inbound::Refused(code),
                    Ok(Some(head)) => head,
                };
                match head.framing {
                    Framing::Empty => return Inbound::Ready(head),
                    Framing::Length(n) if limits.max_body_len.is_some_and(|max| n > max) => {
                        return Inbound::Refused(ErrorCode::ContentTooLarge)
                    }
                    Framing::Length(_) | Framing::Chunked => {}
                }
                let mut body = ReadBody::new(head, limits.max_chunk_line);
                if body.complete(input, limits.body_buffer_len) {
                    return Inbound::Ready(head);
                }
                self.phase = Phase::ReadBody(Box::new(body));
                Inbound::PartialBody {
                    expect_continue: head.expect_continue,
                }
            }
            Phase::ReadBody(body) => {
                if !body.complete(input, limits.body_buffer_len) {
                    return Inbound::PartialBody {
                        expect_continue: body.head.expect_continue,
                    };
                }
                self.phase = Phase::ReadHead;
                // Other sessions' requests used `headers` while this body arrived: find this
                // head's fields again (once per request that waited for its body).
                match parse_head(input, &limits.head, headers) {
                    Ok(Some(head)) => Inbound::Ready(head),
                    Err(code) => Inbound::Refused(code),
                    Ok(None) => Inbound::Refused(ErrorCode::BadRequest),
                }
            }
            _ => Inbound::Idle,
        }
    }

    /// Discards buffered input in the `Drain` and `Linger` phases.
    pub(crate) fn discard_input(&mut self) -> Discarded {
        let avail = &self.input.data[..self.input.end];
        let (used, outcome) = match &mut self.phase {
            Phase::Drain { body, budget } => {
                let (used, done) = match body {
                    UnreadBody::Length(left) => {
                        let n = (*left).min(avail.len() as u64);
                        *left -= n;
                        (n as usize, *left == 0)
                    }
                    UnreadBody::Chunked(decoder) => match chunked::skip(decoder, avail) {
                        Ok(used) => (used, decoder.is_done()),
                        Err(_) => return Discarded::Close,
                    },
                };
                *budget = budget.saturating_sub(used as u64);
                let outcome = if done {
                    Discarded::Done
                } else if *budget == 0 || self.input.eof {
                    Discarded::Close
                } else {
                    Discarded::More
                };
                (used, outcome)
            }
            Phase::Linger { budget } => {
                *budget = budget.saturating_sub(avail.len() as u64);
                let outcome = if *budget == 0 || self.input.eof {
                    Discarded::Close
                } else {
                    Discarded::More
                };
                (avail.len(), outcome)
            }
            _ => (0, Discarded::Done),
        };
        self.input.consume(used);
        if outcome == Discarded::Done {
            self.phase = Phase::ReadHead;
        }
        outcome
    }

    // ---- writing ---------------------------------------------------------------------------

    pub(crate) fn pending_output(&self) -> usize {
        self.output.pending()
    }

    /// Pulls the body source, if any, until `target` bytes are pending or it ends. A broken
    /// source makes the session close once what was pulled is written.
    fn pull_source(&mut self, target: usize) {
        let out = &mut self.output;
        while out.pending() < target {
            let Some(source) = out.source.as_mut() else {
                return;
            };
            match source.pull(&mut out.data) {
                Pulled::More => {}
                Pulled::Done => out.source = None,
                Pulled::Broken => {
                    out.source = None;
                    out.close_when_flushed = true;
                }
            }
        }
    }

    /// Writes pending output, pulling the body source as the transport drains, without
    /// blocking. `Ok(true)` when all of it is written.
    #[inline]
    pub(crate) fn flush_nonblocking(&mut self, ev: &Emitter) -> io::Result<bool> {
        self.write_out(ev).map(|(done, _)| done)
    }

    /// [`flush_nonblocking`](Session::flush_nonblocking), also telling whether any byte was
    /// written (progress, as opposed to a source refilling the buffer).
    #[inline]
    pub(crate) fn write_out(&mut self, ev: &Emitter) -> io::Result<(bool, bool)> {
        let mut wrote = false;
        loop {
            if self.output.pending() == 0 && self.output.source.is_some() {
                // A file body goes from the file to the socket directly where it can.
                let sent = self.send_file_part(ev);
                let out = &mut self.output;
                match sent {
                    None => {}
                    Some(Ok(Pulled::More)) => {
                        wrote = true;
                        continue;
                    }
                    Some(Ok(Pulled::Done)) => {
                        out.source = None;
                        wrote = true;
                        continue;
                    }
                    Some(Ok(Pulled::Broken)) => {
                        out.source = None;
                        out.close_when_flushed = true;
                        continue;
                    }
                    Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok((false, wrote))
                    }
                    Some(Err(e)) => return Err(e),
                }
            }
            if self.output.source.is_some() {
                self.pull_source(super::source::PULL_LEN);
            }
            let out = &mut self.output;
            if out.pending() == 0 {
                // What the transport still holds (TLS records) must go out too.
                if !self.transport.holds_output() {
                    return Ok((true, wrote));
                }
                wrote |= self.transport.flush()?;
                return Ok((!self.transport.holds_output(), wrote));
            }
            match self.transport.write(&out.data[out.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    out.advance(n);
                    wrote = true;
                    ev.emit(|| Event::DataSent {
                        id: self.id,
                        len: n,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((false, wrote)),
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends the next part of a file body from the file to the transport, if the body is a
    /// file and the transport can (see [`Source::send_file`](super::source::Source::send_file)).
    fn send_file_part(&mut self, ev: &Emitter) -> Option<io::Result<Pulled>> {
        let source = self.output.source.as_mut()?;
        let before = source.length_left();
        let sent = source.send_file(&mut self.transport)?;
        let n = before.saturating_sub(source.length_left());
        if n > 0 {
            let len = usize::try_from(n).unwrap_or(usize::MAX);
            ev.emit(|| Event::DataSent { id: self.id, len });
        }
        Some(sent)
    }

    /// Writes pending output (and the whole body source) until at most `keep` bytes remain,
    /// waiting for room up to `timeout` at a time. Used by handlers producing more than the
    /// session may hold, and off the server thread.
    pub(crate) fn flush_blocking(
        &mut self,
        keep: usize,
        timeout: Duration,
        ev: &Emitter,
    ) -> io::Result<()> {
        if self.flush_nonblocking(ev)? || self.pending_output() <= keep {
            return Ok(());
        }
        loop {
            self.pull_source(super::source::PULL_LEN);
            let out = &mut self.output;
            // A body still to pull is written out whole.
            let keep = if out.source.is_some() { 0 } else { keep };
            if out.pending() <= keep && out.source.is_none() {
                return Ok(());
            }
            let until = out.data.len() - keep.min(out.pending());
            let (n, result) = self
                .transport
                .write_wait(&out.data[out.pos..until], timeout);
            out.advance(n);
            if n > 0 {
                ev.emit(|| Event::DataSent {
                    id: self.id,
                    len: n,
                });
            }
            result?;
        }
    }

    /// Stops writing: the response is complete and nothing else will be sent.
    pub(crate) fn shutdown_write(&mut self) {
        self.transport.shutdown_write();
    }
}

#[cfg(test)]
mod tests;

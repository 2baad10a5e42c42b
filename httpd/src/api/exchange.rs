//! The state of one request/response exchange, and the environment handlers run in. The loop
//! keeps one `Exchange` and reuses it; a detached request takes it along.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use super::detach::{Handoff, ResumeTx};
use crate::config::Config;
use crate::conn::session::Session;
use crate::proto::head::{Head, HeaderSpan, UnreadBody};
use crate::proto::response::{BodyLeft, DateCache};
use crate::Error;

/// A handler's output is written out once this much is pending.
const FLUSH_AT: usize = 64 * 1024;

/// The loop's read-only environment for handlers.
pub(crate) struct Env {
    pub(crate) config: Config,
    /// Response bytes the current handler may leave pending before its sends wait: the
    /// per-session cap, or less when other sessions already hold most of the total.
    pub(crate) pending_budget: usize,
    pub(crate) date: DateCache,
    /// The server's handle, for handlers that ask for it (see `Request::server`); typed
    /// by the layer that defines the handle.
    pub(crate) server: Weak<dyn Any + Send + Sync>,
    /// How a detached request returns its session; `None` for a request already detached.
    pub(crate) resume: Option<ResumeTx>,
    /// The handler runs off the server thread (on a worker, or a detached request): its
    /// sends may wait for the client, since no one else waits for it.
    pub(crate) off_loop: bool,
    /// The server has a worker pool (handlers that may wait for their clients run there).
    pub(crate) pool: bool,
    /// The server is shutting down gracefully: every response closes its connection. Shared
    /// with detached requests' environments.
    pub(crate) draining: Arc<AtomicBool>,
}

impl Env {
    /// Whether responses must close their connections because the server is shutting down.
    #[inline]
    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Whether the handler runs off the server thread.
    pub(crate) fn off_loop(&self) -> bool {
        self.off_loop
    }

    /// The environment for a handler off the server thread; `resume` lets it detach.
    pub(crate) fn off_loop_copy(&self, resume: Option<ResumeTx>) -> Env {
        Env {
            config: self.config.clone(),
            pending_budget: self.config.max_pending_response,
            date: DateCache::new(),
            server: self.server.clone(),
            resume,
            off_loop: true,
            pool: self.pool,
            draining: Arc::clone(&self.draining),
        }
    }
}

/// How far the response has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    NotStarted,
    /// Head sent with `Transfer-Encoding: chunked`; chunks follow.
    Chunked,
    /// Head sent with a `Content-Length` the handler declared; the chunks it sends are the
    /// body, unframed, and must add up to it.
    Declared,
    /// Head sent without a length (HTTP/1.0 client): the body ends with the connection.
    UntilClose,
    /// Raw bytes were sent: the handler frames the response itself.
    Raw,
    Done,
}

/// The response being built for the current request. Reused across requests.
#[derive(Debug)]
pub(crate) struct ResponseState {
    pub(crate) status: String,
    pub(crate) content_type: String,
    /// Serialised header lines, in the order set.
    pub(crate) headers: Vec<u8>,
    pub(crate) header_count: usize,
    /// A `Content-Length` the handler set; with [`Progress::Declared`], the bytes still owed.
    pub(crate) declared_len: Option<u64>,
    pub(crate) progress: Progress,
    /// The handler asked for `Connection: close`.
    pub(crate) close_requested: bool,
    /// The response said (or will say) `Connection: close`: the session closes after it.
    pub(crate) closing: bool,
    /// Writing failed: the session must close.
    pub(crate) broken: bool,
}

impl ResponseState {
    pub(crate) fn new() -> Self {
        let mut r = ResponseState {
            status: String::new(),
            content_type: String::new(),
            headers: Vec::new(),
            header_count: 0,
            declared_len: None,
            progress: Progress::NotStarted,
            close_requested: false,
            closing: false,
            broken: false,
        };
        r.reset();
        r
    }

    fn reset(&mut self) {
        self.status.clear();
        self.status.push_str("200 OK");
        self.content_type.clear();
        self.content_type.push_str("text/html");
        self.headers.clear();
        self.header_count = 0;
        self.declared_len = None;
        self.progress = Progress::NotStarted;
        self.close_requested = false;
        self.closing = false;
        self.broken = false;
    }
}

/// The body still to be read and where it starts in the session's input.
#[derive(Debug)]
pub(crate) struct BodyReader {
    pub(crate) unread: Option<UnreadBody>,
    /// Next unread body byte in the session's input buffer.
    pub(crate) pos: usize,
    /// Body bytes delivered so far.
    pub(crate) received: u64,
}

impl BodyReader {
    pub(crate) fn empty() -> Self {
        BodyReader {
            unread: None,
            pos: 0,
            received: 0,
        }
    }
}

/// The state of one request/response exchange; the loop keeps one and reuses it.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) head: Head,
    pub(crate) headers: Vec<HeaderSpan>,
    pub(crate) body: BodyReader,
    pub(crate) resp: ResponseState,
    /// Set by [`Request::detach`]: where the loop hands the session over.
    pub(crate) handoff: Option<Arc<Handoff>>,
}

impl Exchange {
    pub(crate) fn new(max_headers: usize) -> Self {
        Exchange {
            head: Head::empty(),
            headers: Vec::with_capacity(max_headers),
            body: BodyReader::empty(),
            resp: ResponseState::new(),
            handoff: None,
        }
    }

    /// Prepares for a request with `head` (already parsed into `headers`).
    pub(crate) fn begin(&mut self, head: Head, max_chunk_line: usize) {
        self.head = head;
        self.body = BodyReader {
            unread: head.framing.unread(max_chunk_line),
            pos: head.len,
            received: 0,
        };
        self.resp.reset();
        self.handoff = None;
    }

    /// Prepares for answering a request whose head could not be used: no headers, no body,
    /// and the connection closes.
    pub(crate) fn begin_broken(&mut self) {
        self.headers.clear();
        self.begin(Head::empty(), 0);
        self.body.pos = 0;
    }

    /// What is left of the request body, given the session's buffered input.
    #[inline]
    pub(crate) fn body_left(&self, input_end: usize) -> BodyLeft {
        let buffered = input_end.saturating_sub(self.body.pos) as u64;
        match &self.body.unread {
            None => BodyLeft::Nothing,
            Some(UnreadBody::Length(left)) if *left <= buffered => BodyLeft::Nothing,
            Some(UnreadBody::Length(left)) => BodyLeft::Length(left - buffered),
            Some(UnreadBody::Chunked(_)) => BodyLeft::Chunked,
        }
    }
}

/// Keeps a session's pending output bounded after a handler wrote to it: past `FLUSH_AT` it
/// is written out, and past the pending budget the handler waits for the client. Off the
/// server thread (a worker or a detached request), nothing else writes for us: it is sent at
/// once, so each chunk of a streamed response leaves when it is sent.
pub(crate) fn bound_output(session: &mut Session, env: &Env) -> Result<(), Error> {
    let timeout = env.config.send_wait_timeout;
    if env.off_loop() {
        if session.output.busy() {
            session.flush_blocking(0, timeout, &env.config.events)?;
        }
        return Ok(());
    }
    if session.pending_output() < FLUSH_AT {
        return Ok(());
    }
    session.flush_nonblocking(&env.config.events)?;
    if session.pending_output() > env.pending_budget {
        session.flush_blocking(env.pending_budget, timeout, &env.config.events)?;
    }
    Ok(())
}

/// [`bound_output`] after a complete response whose body the handler had in memory (`send`).
/// On the server thread of a server with a pool, it never waits for the client: waiting would
/// not free the handler's copy of the body, only hold up everyone else; what the client does
/// not take at once is held and written by the loop as the client reads (or the session closes
/// after `send_wait_timeout` without progress).
pub(crate) fn bound_complete_output(session: &mut Session, env: &Env) -> Result<(), Error> {
    if env.pool && !env.off_loop() {
        if session.pending_output() >= FLUSH_AT {
            session.flush_nonblocking(&env.config.events)?;
        }
        return Ok(());
    }
    bound_output(session, env)
}

//! The poll loop: listener, waker and sessions. The only code that decides who runs next.
//!
//! Each loop iteration polls, notes which sessions are ready, then runs one *turn*: every
//! ready session gets one step (at most one request), in rotation. A session with pipelined
//! requests already buffered stays in the ready queue and is served again next turn without
//! waiting for the socket. Reads never block the loop; only a handler that reads a body larger
//! than `body_buffer_len`, or produces more than `max_pending_response`, waits on its client.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use socket2::SockRef;

use crate::config::Config;
use crate::detach::{Detached, ResumeTx};
use crate::parse::Limits;
use crate::request::{Env, Exchange};
use crate::response::DateCache;
use crate::router::Table;
use crate::server::{Inner, Server, Shared};
use crate::session::{BufPool, OutPool, ReadState, Session, SessionId, Sessions};
use crate::ws::{self, WsMessage, WsNext, WsSendCallback};
use crate::{Error, ErrorCode};

mod serve;

pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
pub(crate) const WAKER: Token = Token(usize::MAX);
/// Connections accepted per turn, so a connection flood cannot starve served sessions.
const ACCEPTS_PER_TURN: usize = 64;
/// Pipelined responses are held back (coalesced into one write) up to this many bytes.
const COALESCE_LIMIT: usize = 16 * 1024;
/// How long a closing connection's unread input is drained, so the response is not destroyed
/// by a reset, and how much of it.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BUDGET: u64 = 256 * 1024;

/// Work queued by [`Server::queue_work`].
pub(crate) type Work = Box<dyn FnOnce(&mut ServerContext<'_>) + Send>;

/// A message to the server thread.
pub(crate) enum Control {
    Work(Work),
    Send(SessionId, Vec<u8>),
    Close(SessionId),
    WsSend(SessionId, WsMessage, Option<WsSendCallback>),
}

/// The outcome of writing a session's pending output.
#[derive(Debug, PartialEq, Eq)]
enum Flushed {
    Done,
    Pending,
    Closed,
}

/// The outcome of reading a session's socket once.
#[derive(Debug, PartialEq, Eq)]
enum Read1 {
    /// Bytes arrived.
    Progress,
    /// Nothing new (or the buffer is full).
    Nothing,
    /// The session was closed (error).
    Closed,
}

pub(crate) struct EventLoop {
    poll: Poll,
    events: Events,
    ctrl: Receiver<Control>,
    /// Sessions coming back from detached requests.
    resumed: Receiver<Box<Detached>>,
    core: Core,
}

/// Everything the loop owns but the poll itself.
pub(crate) struct Core {
    registry: Registry,
    listener: TcpListener,
    /// The listener may have connections waiting (an edge was seen and not yet drained).
    listener_ready: bool,
    shared: Arc<Shared>,
    sessions: Sessions,
    ready: VecDeque<usize>,
    table: Arc<Table>,
    table_version: u64,
    ex: Exchange,
    env: Env,
    limits: Limits,
    in_pool: BufPool,
    out_pool: OutPool,
    lru_clock: u64,
    /// Response bytes held by sessions waiting for their clients to read (`write_interest`).
    /// INVARIANT: the sum of `pending_output()` over sessions with `write_interest`.
    held: usize,
    /// No session deadline is earlier than this.
    next_timer: Option<Instant>,
    expired: Vec<usize>,
    now: Instant,
}

impl EventLoop {
    pub(crate) fn new(
        poll: Poll,
        mut listener: TcpListener,
        ctrl: Receiver<Control>,
        waker: Arc<Waker>,
        shared: Arc<Shared>,
        config: Config,
        server: Weak<Inner>,
    ) -> io::Result<Self> {
        let (resume_tx, resumed) = mpsc::channel();
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let registry = poll.registry().try_clone()?;
        let (table, table_version) = shared.router.snapshot();
        let limits = Limits {
            max_uri_len: config.max_uri_len,
            max_hdr_len: config.max_req_hdr_len,
            max_headers: config.max_req_headers,
        };
        let core = Core {
            registry,
            listener,
            listener_ready: false,
            shared,
            sessions: Sessions::with_capacity(config.max_open_sockets),
            ready: VecDeque::with_capacity(config.max_open_sockets),
            table,
            table_version,
            ex: Exchange::new(config.max_req_headers),
            limits,
            in_pool: BufPool::new(config.request_buffer_len(), 64),
            out_pool: OutPool::default(),
            lru_clock: 0,
            held: 0,
            next_timer: None,
            expired: Vec::new(),
            now: Instant::now(),
            env: Env {
                pending_budget: config.max_pending_response,
                config,
                date: DateCache::new(),
                server,
                resume: Some(ResumeTx {
                    tx: resume_tx,
                    waker,
                }),
            },
        };
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(1024),
            ctrl,
            resumed,
            core,
        })
    }

    pub(crate) fn run(mut self) {
        if let Ok(addr) = self.core.listener.local_addr() {
            log::info!("server listening on {addr}");
        }
        while !self.core.stopping() {
            let timeout = if !self.core.ready.is_empty()
                || (self.core.listener_ready && self.core.can_accept())
            {
                Some(Duration::ZERO)
            } else {
                self.core
                    .next_timer
                    .map(|t| t.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poll.poll(&mut self.events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("poll failed, stopping: {e}");
                break;
            }
            self.core.now = Instant::now();
            self.core.env.date.refresh(SystemTime::now());
            let mut control = false;
            for event in self.events.iter() {
                match event.token() {
                    LISTENER => self.core.listener_ready = true,
                    WAKER => control = true,
                    Token(slot) => self.core.on_event(slot, event),
                }
            }
            if control {
                self.run_control();
            }
            if self.core.listener_ready {
                self.core.accept();
            }
            self.core.turn();
            self.core.check_timers();
        }
        self.core.shutdown();
        // Queued work that never ran is dropped with the receiver.
        while self.ctrl.try_recv().is_ok() {}
        log::info!("server stopped");
    }

    fn run_control(&mut self) {
        while let Ok(detached) = self.resumed.try_recv() {
            self.core.resume(detached);
        }
        while let Ok(msg) = self.ctrl.try_recv() {
            if self.core.stopping() {
                return;
            }
            match msg {
                Control::Work(work) => {
                    let mut ctx = ServerContext {
                        core: &mut self.core,
                    };
                    if catch_unwind(AssertUnwindSafe(|| work(&mut ctx))).is_err() {
                        log::error!("queued work panicked");
                    }
                }
                Control::Send(id, bytes) => {
                    let _ = self.core.send_to(id, &bytes);
                }
                Control::Close(id) => {
                    let _ = self.core.trigger_close(id);
                }
                Control::WsSend(id, msg, done) => self.core.ws_send(id, msg, done),
            }
        }
    }
}

/// Sets a session's deadline and keeps the loop's next timer no later than it.
fn arm(next_timer: &mut Option<Instant>, s: &mut Session, at: Option<Instant>) {
    s.deadline = at;
    if let Some(at) = at {
        *next_timer = Some(next_timer.map_or(at, |t| t.min(at)));
    }
}

impl Core {
    fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::Acquire)
    }

    fn config(&self) -> &Config {
        &self.env.config
    }

    fn can_accept(&self) -> bool {
        self.sessions.len() < self.config().max_open_sockets || self.config().lru_purge_enable
    }

    fn enqueue(&mut self, slot: usize) {
        if let Some(s) = self.sessions.get_mut(slot) {
            if !s.queued {
                s.queued = true;
                self.ready.push_back(slot);
            }
        }
    }

    fn on_event(&mut self, slot: usize, event: &Event) {
        let Some(s) = self.sessions.get_mut(slot) else {
            return;
        };
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            s.readable = true;
        }
        s.read_closed |= event.is_read_closed();
        if s.readable || s.pending_output() > 0 || event.is_write_closed() {
            self.enqueue(slot);
        }
    }

    /// One step for each session that was ready when the turn began.
    fn turn(&mut self) {
        for _ in 0..self.ready.len() {
            let Some(slot) = self.ready.pop_front() else {
                break;
            };
            let Some(s) = self.sessions.get_mut(slot) else {
                continue;
            };
            s.queued = false;
            // Handlers already run under `catch_unwind`; this guards the server's own code: a
            // bug met by one session's input costs that session, not the server.
            if catch_unwind(AssertUnwindSafe(|| self.step(slot))).is_err() {
                log::error!("internal error serving slot {slot}; closing it");
                self.close(slot);
            }
            if self.stopping() {
                return;
            }
        }
    }

    fn step(&mut self, slot: usize) {
        // A session whose client is not taking its response does nothing else. Otherwise
        // pending output (held back while pipelined requests are served) is written when the
        // session next has to wait for its client.
        if self.sessions[slot].write_interest && self.flush(slot) != Flushed::Done {
            return;
        }
        match self.sessions[slot].state {
            ReadState::Head => self.serve(slot),
            ReadState::Drain { .. } => self.drain(slot),
            ReadState::Linger { .. } => self.linger(slot),
            ReadState::WebSocket => self.serve_ws(slot),
        }
    }

    // ---- socket I/O ----------------------------------------------------------------------

    /// Reads once into the session's input buffer, if the socket may have bytes.
    fn read_input(&mut self, slot: usize) -> Read1 {
        let s = &mut self.sessions[slot];
        if !s.readable {
            return Read1::Nothing;
        }
        if s.input.data.is_empty() {
            s.input.data = self.in_pool.take();
        }
        let room = s.input.data.len() - s.input.end;
        if room == 0 {
            return Read1::Nothing;
        }
        loop {
            match s.stream.read(&mut s.input.data[s.input.end..]) {
                Ok(0) => {
                    s.readable = false;
                    s.eof = true;
                    return Read1::Nothing;
                }
                Ok(n) => {
                    s.input.end += n;
                    // A short read drained the socket: the next bytes bring a new edge. Not
                    // so for a pending end of stream: read again to see it.
                    s.readable = n == room || s.read_closed;
                    return Read1::Progress;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    s.readable = false;
                    return Read1::Nothing;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("session {}: read: {e}", s.id);
                    self.close(slot);
                    return Read1::Closed;
                }
            }
        }
    }

    /// Writes the session's pending output; closes it when done if it is closing.
    fn flush(&mut self, slot: usize) -> Flushed {
        let s = &mut self.sessions[slot];
        let before = s.pending_output();
        if s.write_interest {
            self.held = self.held.saturating_sub(before);
        }
        match s.flush_nonblocking() {
            Ok(true) => {
                if s.write_interest {
                    s.write_interest = false;
                    let _ =
                        self.registry
                            .reregister(&mut s.stream, Token(slot), Interest::READABLE);
                }
                let out = std::mem::take(&mut s.output);
                self.out_pool.give(out);
                if s.close_after_flush {
                    self.begin_linger(slot);
                    return Flushed::Closed;
                }
                Flushed::Done
            }
            Ok(false) => {
                let first_wait = !s.write_interest;
                if first_wait {
                    s.write_interest = true;
                    let _ = self.registry.reregister(
                        &mut s.stream,
                        Token(slot),
                        Interest::READABLE | Interest::WRITABLE,
                    );
                }
                self.held += s.pending_output();
                // The client has `send_wait_timeout` to make progress on what we hold.
                if first_wait || s.pending_output() < before {
                    let at = self.now + self.env.config.send_wait_timeout;
                    arm(&mut self.next_timer, s, Some(at));
                }
                Flushed::Pending
            }
            Err(e) => {
                log::debug!("session {}: write: {e}", s.id);
                s.write_interest = false; // already uncounted
                self.close(slot);
                Flushed::Closed
            }
        }
    }

    // ---- serving requests ----------------------------------------------------------------

    fn ws_send(&mut self, id: SessionId, msg: WsMessage, done: Option<WsSendCallback>) {
        match self.session_slot(id) {
            Some(slot) if self.sessions[slot].ws.is_some() => {
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

    // ---- closing -------------------------------------------------------------------------

    /// Closes once the pending output is written.
    fn close_gracefully(&mut self, slot: usize) {
        self.sessions[slot].close_after_flush = true;
        self.flush(slot);
    }

    /// The response is out; if the client may still be sending, stop writing and read (and
    /// discard) until it closes, so unread input does not turn our close into a reset that
    /// destroys the response in flight.
    fn begin_linger(&mut self, slot: usize) {
        let s = &mut self.sessions[slot];
        let unread = s.input.end > 0 || s.readable || matches!(s.state, ReadState::Drain { .. });
        if s.eof || !unread {
            self.close(slot);
            return;
        }
        let _ = s.stream.shutdown(Shutdown::Write);
        s.state = ReadState::Linger {
            budget: LINGER_BUDGET,
        };
        s.input.end = 0;
        let at = self.now + LINGER_TIME.min(self.env.config.recv_wait_timeout);
        arm(&mut self.next_timer, s, Some(at));
        self.enqueue(slot);
    }

    fn linger(&mut self, slot: usize) {
        loop {
            match self.read_input(slot) {
                Read1::Closed => return,
                Read1::Progress => {
                    let s = &mut self.sessions[slot];
                    let n = s.input.end as u64;
                    s.input.end = 0;
                    if let ReadState::Linger { budget } = &mut s.state {
                        *budget = budget.saturating_sub(n);
                        if *budget == 0 {
                            self.close(slot);
                            return;
                        }
                    }
                }
                Read1::Nothing => break,
            }
        }
        if self.sessions[slot].eof {
            self.close(slot);
        }
    }

    /// Closes a session now: `on_close`, then its context is dropped.
    fn close(&mut self, slot: usize) {
        let Some(mut s) = self.sessions.remove(slot) else {
            return;
        };
        if s.write_interest {
            self.held = self.held.saturating_sub(s.pending_output());
        }
        let _ = self.registry.deregister(&mut s.stream);
        self.in_pool.give(std::mem::take(&mut s.input.data));
        self.out_pool.give(std::mem::take(&mut s.output));
        self.shared.remove_client(s.id);
        if s.ws.is_some() {
            self.shared.remove_ws_client(s.id);
        }
        log::debug!("session {} closed", s.id);
        if let Some(on_close) = &self.env.config.on_close {
            if catch_unwind(AssertUnwindSafe(|| on_close(s.id))).is_err() {
                log::error!("on_close panicked");
            }
        }
        let ctx = s.ctx.take();
        drop(s);
        if catch_unwind(AssertUnwindSafe(move || drop(ctx))).is_err() {
            log::error!("dropping a session context panicked");
        }
    }

    // ---- accepting -----------------------------------------------------------------------

    fn accept(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            let full = self.sessions.len() >= self.config().max_open_sockets;
            if full && !self.config().lru_purge_enable {
                // Leave it in the backlog until a session closes.
                return;
            }
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if full && !self.purge_lru() {
                        log::debug!("table full and nothing purgeable: refusing {peer}");
                        continue;
                    }
                    self.open(stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.listener_ready = false;
                    return;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    // Out of descriptors or memory: wait for the next edge (or a close).
                    log::warn!("accept: {e}");
                    self.listener_ready = false;
                    return;
                }
            }
        }
    }

    /// Closes the least recently used session. `false` if there is none to close.
    fn purge_lru(&mut self) -> bool {
        let lru = self
            .sessions
            .iter()
            .min_by_key(|(_, s)| s.last_used)
            .map(|(slot, _)| slot);
        match lru {
            Some(slot) => {
                log::debug!("LRU purge: closing session {}", self.sessions[slot].id);
                self.close(slot);
                true
            }
            None => false,
        }
    }

    fn open(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let config = &self.env.config;
        let _ = stream.set_nodelay(true);
        let sock = SockRef::from(&stream);
        if let Some(k) = config.keepalive {
            let params = socket2::TcpKeepalive::new()
                .with_time(k.idle)
                .with_interval(k.interval)
                .with_retries(k.count);
            if let Err(e) = sock.set_tcp_keepalive(&params) {
                log::warn!("SO_KEEPALIVE: {e}");
            }
        }
        if let Some(linger) = config.linger {
            if let Err(e) = sock.set_linger(Some(linger)) {
                log::warn!("SO_LINGER: {e}");
            }
        }
        let id = self.sessions.next_id();
        let token = Token(id.slot as usize);
        if let Err(e) = self
            .registry
            .register(&mut stream, token, Interest::READABLE)
        {
            log::warn!("register: {e}");
            return;
        }
        if let Some(on_open) = &config.on_open {
            let accepted =
                catch_unwind(AssertUnwindSafe(|| on_open(id, peer))).unwrap_or_else(|_| {
                    log::error!("on_open panicked; refusing {peer}");
                    false
                });
            if !accepted {
                log::debug!("on_open refused {peer}");
                // The id was shown to user code: it is used up, and paired with an on_close.
                self.sessions.burn_next_id();
                let _ = self.registry.deregister(&mut stream);
                if let Some(on_close) = &config.on_close {
                    if catch_unwind(AssertUnwindSafe(|| on_close(id))).is_err() {
                        log::error!("on_close panicked");
                    }
                }
                return;
            }
        }
        self.lru_clock += 1;
        let mut session = Session::new(id, stream, peer, self.lru_clock);
        let idle = config.idle_timeout.map(|t| self.now + t);
        arm(&mut self.next_timer, &mut session, idle);
        self.sessions.insert(session);
        self.shared.add_client(id);
        log::debug!("session {id} opened from {peer}");
    }

    // ---- timers --------------------------------------------------------------------------

    fn check_timers(&mut self) {
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
            self.expire(slot);
        }
        self.expired = expired;
    }

    fn expire(&mut self, slot: usize) {
        let s = &mut self.sessions[slot];
        s.deadline = None;
        let waiting_for_head = matches!(s.state, ReadState::Head) && s.input.end > 0;
        if s.pending_output() > 0 || !waiting_for_head {
            // A client that does not read, an idle keep-alive, a stalled drain or linger.
            log::debug!("session {}: timed out", s.id);
            self.close(slot);
        } else {
            self.answer_protocol_error(slot, ErrorCode::RequestTimeout);
        }
    }

    // ---- control -------------------------------------------------------------------------

    fn session_slot(&self, id: SessionId) -> Option<usize> {
        let slot = id.slot as usize;
        self.sessions.get(slot).filter(|s| s.id == id).map(|_| slot)
    }

    fn send_to(&mut self, id: SessionId, bytes: &[u8]) -> Result<(), Error> {
        let slot = self.session_slot(id).ok_or(Error::NoSuchSession)?;
        let s = &mut self.sessions[slot];
        if s.close_after_flush || matches!(s.state, ReadState::Linger { .. }) {
            return Err(Error::NoSuchSession);
        }
        if s.output.capacity() == 0 {
            s.output = self.out_pool.take();
        }
        s.output.extend_from_slice(bytes);
        match self.flush(slot) {
            Flushed::Closed => Err(Error::NoSuchSession),
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

    fn shutdown(&mut self) {
        for slot in self.sessions.live_slots() {
            // Whatever fits in the socket still reaches the client (e.g. the response of a
            // handler that stopped the server).
            let _ = self.sessions[slot].flush_nonblocking();
            self.close(slot);
        }
        self.shared.router.clear();
        self.table = self.shared.router.snapshot().0;
    }
}

/// The server thread's side of [`Server::queue_work`]: access to the sessions.
pub struct ServerContext<'a> {
    core: &'a mut Core,
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
    pub fn session_ctx<T: std::any::Any + Send>(&mut self, id: SessionId) -> Option<&mut T> {
        let slot = self.core.session_slot(id)?;
        self.core.sessions[slot].ctx_mut()
    }

    /// A handle to the server.
    pub fn server(&self) -> Option<Server> {
        self.core.env.server.upgrade().map(Server::from_inner)
    }
}

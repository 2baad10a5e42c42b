//! The runtime: the poll loop over the listener, the control channel and the sessions. The
//! only code that decides who runs next. Uses every layer below it.
//!
//! Each loop iteration polls, notes which sessions are ready, then runs one *turn*: every
//! ready session gets one step (at most one request), in rotation. A session with pipelined
//! requests already buffered stays in the ready queue and is served again next turn without
//! waiting for the socket. Reads never block the loop. A handler that may wait on its client
//! (a body larger than `body_buffer_len`) or on anything else (marked blocking, or every
//! handler with `handlers_on_pool`) runs on the worker pool (`pool.rs`) while the loop relays
//! its bytes; without a pool (`worker_threads(0)`, ESP-IDF's model) it runs here and waits.
//! Every step, timer and control message runs under one panic boundary
//! ([`Core::guarded`]): a bug met by one session's input costs that session, not the server.

mod accept;
pub(crate) mod control;
mod drain;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod harness;
mod io;
mod pool;
mod serve;
pub(crate) mod shared;
#[cfg(feature = "tls")]
mod tls;
mod ws;

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use mio::event::Event as Readiness;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use self::control::Control;
use self::shared::Shared;
use crate::api::detach::{Detached, ResumeTx};
use crate::api::exchange::{Env, Exchange};
use crate::config::Config;
use crate::conn::buffer::Pools;
use crate::conn::relay::Buffers;
use crate::conn::session::{Phase, RequestLimits, Session};
use crate::conn::table::Sessions;
use crate::event::Event;
use crate::proto::head::Limits;
use crate::proto::response::DateCache;
use crate::router::Table;
use crate::types::SessionId;

pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
pub(crate) const WAKER: Token = Token(usize::MAX);
/// The plain-HTTP listener beside a TLS one (feature `tls`).
#[cfg(feature = "tls")]
pub(crate) const PLAIN_LISTENER: Token = Token(usize::MAX - 2);
/// Pipelined responses are held back (coalesced into one write) up to this many bytes.
const COALESCE_LIMIT: usize = 16 * 1024;
/// Session table entries allocated up front; the table grows with use up to
/// `max_open_sockets`, so a large limit costs nothing until it is used.
const INITIAL_SESSIONS: usize = 64;

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
    listener: Option<TcpListener>,
    /// The listener may have connections waiting (an edge was seen and not yet drained).
    listener_ready: bool,
    /// With TLS: a second listener whose connections speak plain HTTP, and its readiness.
    #[cfg(feature = "tls")]
    plain: Option<(TcpListener, bool)>,
    shared: Arc<Shared>,
    sessions: Sessions,
    ready: VecDeque<usize>,
    table: Arc<Table>,
    table_version: u64,
    ex: Exchange,
    env: Env,
    limits: RequestLimits,
    pools: Pools,
    lru_clock: u64,
    /// Response bytes held by sessions waiting for their clients to read (`output.waiting`).
    /// INVARIANT: the sum of `pending_output()` over sessions with `output.waiting`.
    held: usize,
    /// No session deadline is earlier than this.
    next_timer: Option<Instant>,
    expired: Vec<usize>,
    now: Instant,
    /// A graceful shutdown is under way and ends at this instant.
    drain_deadline: Option<Instant>,
    /// The worker pool; `None` with `worker_threads(0)`.
    pool: Option<pool::Pool>,
    /// Requests waiting for a worker, in arrival order.
    waiting: VecDeque<(usize, SessionId)>,
    /// Exchanges for requests handed to workers.
    spare_ex: Vec<Exchange>,
    /// Relays that asked for the loop (reused list).
    attended: Vec<usize>,
    /// Where relayed bytes pass through (allocated with the first relay).
    relay_bufs: Buffers,
    /// A request that waited for a worker is being dispatched again (not announced again).
    redispatch: bool,
}

impl EventLoop {
    pub(crate) fn new(
        poll: Poll,
        mut listener: TcpListener,
        ctrl: Receiver<Control>,
        waker: Arc<Waker>,
        shared: Arc<Shared>,
        config: Config,
        server: Weak<dyn Any + Send + Sync>,
    ) -> std::io::Result<Self> {
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let (resume_tx, resumed) = mpsc::channel();
        let resume = ResumeTx {
            tx: resume_tx,
            waker,
        };
        let core = Core::new(
            poll.registry().try_clone()?,
            Some(listener),
            shared,
            config,
            server,
            Some(resume),
        );
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(1024),
            ctrl,
            resumed,
            core,
        })
    }

    pub(crate) fn run(mut self) {
        if let Some(addr) = self
            .core
            .listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
        {
            log::info!("server listening on {addr}");
        }
        if let Some(addr) = self
            .core
            .listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
        {
            self.core.config().events.emit(|| Event::Started { addr });
        }
        while !self.core.stopping() && !self.core.drained() {
            let timeout = if !self.core.ready.is_empty()
                || (self.core.any_listener_ready() && self.core.can_accept())
            {
                Some(Duration::ZERO)
            } else {
                let next = match (self.core.next_timer, self.core.drain_deadline) {
                    (Some(t), Some(d)) => Some(t.min(d)),
                    (t, d) => t.or(d),
                };
                next.map(|t| t.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poll.poll(&mut self.events, timeout) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("poll failed, stopping: {e}");
                break;
            }
            self.core.tick();
            let mut control = false;
            for event in self.events.iter() {
                match event.token() {
                    LISTENER => self.core.listener_ready = true,
                    #[cfg(feature = "tls")]
                    PLAIN_LISTENER => self.core.plain_ready(),
                    WAKER => control = true,
                    Token(slot) => self.core.on_event(slot, event),
                }
            }
            if control {
                self.core.run_control(&self.resumed, &self.ctrl);
                self.core.attend();
                self.core.dispatch_waiting();
                if let Some(deadline) = self.core.shared.shutdown_requested() {
                    self.core.begin_drain(deadline);
                }
            }
            if self.core.listener_ready {
                self.core.accept();
            }
            #[cfg(feature = "tls")]
            self.core.accept_plain();
            self.core.turn();
            self.core.check_timers();
        }
        self.core.shutdown();
        self.core.shared.stopping.store(true, Ordering::Release);
        // Queued work that never ran is dropped with the receiver.
        while self.ctrl.try_recv().is_ok() {}
        self.core.config().events.emit(|| Event::Stopped);
        log::info!("server stopped");
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
    pub(crate) fn new(
        registry: Registry,
        listener: Option<TcpListener>,
        shared: Arc<Shared>,
        config: Config,
        server: Weak<dyn Any + Send + Sync>,
        resume: Option<ResumeTx>,
    ) -> Core {
        let (table, table_version) = shared.router.snapshot();
        let limits = RequestLimits {
            head: Limits {
                max_uri_len: config.max_uri_len,
                max_hdr_len: config.max_req_hdr_len,
                max_headers: config.max_req_headers,
            },
            body_buffer_len: config.body_buffer_len,
            max_body_len: config.max_body_len,
            max_chunk_line: config.max_req_hdr_len,
        };
        let pool = Core::pool_for(&config, resume.as_ref());
        let has_pool = pool.is_some();
        Core {
            registry,
            listener,
            listener_ready: false,
            #[cfg(feature = "tls")]
            plain: None,
            shared,
            sessions: Sessions::with_capacity(config.max_open_sockets.min(INITIAL_SESSIONS)),
            ready: VecDeque::with_capacity(config.max_open_sockets.min(INITIAL_SESSIONS)),
            table,
            table_version,
            ex: Exchange::new(config.max_req_headers),
            limits,
            pools: Pools::new(config.request_buffer_len()),
            lru_clock: 0,
            held: 0,
            next_timer: None,
            expired: Vec::new(),
            now: Instant::now(),
            drain_deadline: None,
            pool,
            waiting: VecDeque::new(),
            spare_ex: Vec::new(),
            attended: Vec::new(),
            relay_bufs: Buffers::default(),
            redispatch: false,
            env: Env {
                pending_budget: config.max_pending_response,
                config,
                date: DateCache::new(),
                server,
                pool: has_pool,
                resume,
                off_loop: false,
                draining: Arc::new(AtomicBool::new(false)),
            },
        }
    }

    /// The clocks, once per loop iteration.
    pub(crate) fn tick(&mut self) {
        self.now = Instant::now();
        self.env.date.refresh(SystemTime::now());
    }

    fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::Acquire)
    }

    fn config(&self) -> &Config {
        &self.env.config
    }

    fn can_accept(&self) -> bool {
        self.sessions.len() < self.config().max_open_sockets || self.config().lru_purge_enable
    }

    /// Runs `f` for `slot` under the loop's panic boundary: a panic in the server's own code
    /// (or in user code it calls) closes that session, never the server.
    fn guarded(&mut self, slot: Option<usize>, what: &str, f: impl FnOnce(&mut Core)) {
        if catch_unwind(AssertUnwindSafe(|| f(self))).is_err() {
            log::error!("internal error in {what}");
            if let Some(slot) = slot {
                self.close(slot);
            }
        }
    }

    fn enqueue(&mut self, slot: usize) {
        if let Some(s) = self.sessions.get_mut(slot) {
            if !s.queued {
                s.queued = true;
                self.ready.push_back(slot);
            }
        } else if let Some(p) = self.sessions.proxy_mut(slot) {
            // The relay of a session on a worker.
            if !p.queued {
                p.queued = true;
                self.ready.push_back(slot);
            }
        }
    }

    fn on_event(&mut self, slot: usize, event: &Readiness) {
        let Some(s) = self.sessions.get_mut(slot) else {
            if let Some(p) = self.sessions.proxy_mut(slot) {
                p.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
                p.read_closed |= event.is_read_closed();
                self.enqueue(slot);
            }
            return;
        };
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            s.input.readable = true;
        }
        s.input.read_closed |= event.is_read_closed();
        // (`waiting` without `busy`: a TLS transport still holds records for the client.)
        if s.input.readable || s.output.busy() || s.output.waiting || event.is_write_closed() {
            self.enqueue(slot);
        }
    }

    /// One step for each session that was ready when the turn began.
    pub(crate) fn turn(&mut self) {
        for _ in 0..self.ready.len() {
            let Some(slot) = self.ready.pop_front() else {
                break;
            };
            let Some(s) = self.sessions.get_mut(slot) else {
                if let Some(p) = self.sessions.proxy_mut(slot) {
                    p.queued = false;
                    self.guarded(None, "a relay step", |core| core.pump(slot));
                }
                continue;
            };
            s.queued = false;
            self.guarded(Some(slot), "a session step", |core| core.step(slot));
            if self.stopping() {
                return;
            }
        }
    }

    fn step(&mut self, slot: usize) {
        // A session whose client is not taking its response (or whose body is still being
        // pulled) does nothing else. Otherwise pending output (held back while pipelined
        // requests are served) is written when the session next has to wait for its client.
        let out = &self.sessions[slot].output;
        if (out.waiting || out.source.is_some()) && self.flush(slot) != io::Flushed::Done {
            return;
        }
        match self.sessions[slot].phase {
            Phase::ReadHead | Phase::ReadBody(_) => self.serve(slot),
            Phase::Drain { .. } => self.drain(slot),
            Phase::Linger { .. } => self.linger(slot),
            Phase::WebSocket(_) => self.serve_ws(slot),
            #[cfg(feature = "tls")]
            Phase::Handshake => self.handshake(slot),
            // A request waiting for a worker is not read meanwhile (TCP flow control holds its
            // client).
            Phase::AwaitWorker => {}
            // Not reachable from the ready queue: a session in a handler is mid-step, a
            // detached one is out of the table.
            Phase::InHandler | Phase::Detached => {}
        }
    }

    /// The session waits for its client: write out what it holds (responses held back while
    /// pipelined requests were served go now), and come back next turn if `more` may be read.
    fn wait_for_client(&mut self, slot: usize, more: bool) {
        if self.sessions[slot].output.busy() && self.flush(slot) != io::Flushed::Done {
            return;
        }
        if more {
            self.enqueue(slot);
        }
    }
}

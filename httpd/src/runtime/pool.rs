//! The worker pool: handlers that may wait (a body larger than the buffer, a handler marked
//! blocking, or every handler when the server says so) run on a worker thread, so that the
//! loop never waits on one client.
//!
//! The loop decides everything: which request goes to a worker, when (a request waits, unread,
//! while every worker is busy; past `worker_queue_len` waiting it gets 503), and it keeps the
//! socket, relaying the session's bytes (see `conn/relay.rs`). A worker only runs the handler
//! and completes the response, then returns the session through the channel detached
//! requests use; the loop carries it on (keep-alive, the next pipelined request, or close).
//! Per-session order holds by construction: a session on a worker is not served meanwhile.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::SystemTime;

use mio::Token;

use super::serve::call;
use super::Core;
use crate::api::detach::{Detached, ResumeTx};
use crate::api::exchange::{Env, Exchange};
use crate::api::request::Request;
use crate::conn::relay::{Attention, Proxy};
use crate::conn::session::{Phase, Session};
use crate::conn::transport::Transport;
use crate::event::Event;
use crate::router::HandlerFn;
use crate::types::SessionId;
use crate::ErrorCode;

/// A request for a worker: its session (with a relay for a transport), its exchange, the
/// environment it runs in, and its handler.
pub(super) struct Job {
    session: Box<Session>,
    ex: Box<Exchange>,
    env: Env,
    handler: HandlerFn,
}

/// The workers, started as they are first needed, up to `size`.
pub(super) struct Pool {
    jobs: Sender<Box<Job>>,
    queue: Arc<Mutex<Receiver<Box<Job>>>>,
    /// Jobs finished by the workers (the loop counts those it started).
    finished: Arc<AtomicUsize>,
    started: usize,
    spawned: usize,
    size: usize,
    pub(super) attention: Arc<Attention>,
    resume: ResumeTx,
    name: String,
    stack_size: usize,
}

impl Pool {
    pub(super) fn new(size: usize, name: &str, stack_size: usize, resume: ResumeTx) -> Pool {
        let (jobs, queue) = mpsc::channel();
        Pool {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            finished: Arc::new(AtomicUsize::new(0)),
            started: 0,
            spawned: 0,
            size,
            attention: Attention::new(Arc::clone(&resume.waker)),
            resume,
            name: format!("{name}-worker"),
            stack_size,
        }
    }

    fn busy(&self) -> usize {
        self.started - self.finished.load(Ordering::Acquire)
    }

    /// Whether a worker is free (or may be started).
    pub(super) fn has_room(&self) -> bool {
        self.busy() < self.size
    }

    /// Hands `job` to a free worker, starting one if none is idle.
    fn run(&mut self, job: Box<Job>) {
        if self.busy() >= self.spawned && self.spawned < self.size {
            self.spawn();
        }
        self.started += 1;
        if self.jobs.send(job).is_err() {
            // Every worker is gone (each one's thread failed to start): nothing will run it.
            log::error!("no worker thread to run a request");
            self.finished.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn spawn(&mut self) {
        let queue = Arc::clone(&self.queue);
        let finished = Arc::clone(&self.finished);
        let attention = Arc::clone(&self.attention);
        let resume = self.resume.clone();
        let spawned = thread::Builder::new()
            .name(self.name.clone())
            .stack_size(self.stack_size)
            .spawn(move || work(&queue, &finished, &attention, &resume));
        match spawned {
            Ok(_) => self.spawned += 1,
            Err(e) => log::error!("starting a worker thread: {e}"),
        }
    }
}

/// A worker's life: jobs until the loop is gone.
fn work(
    queue: &Mutex<Receiver<Box<Job>>>,
    finished: &AtomicUsize,
    attention: &Attention,
    resume: &ResumeTx,
) {
    loop {
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = job else {
            return;
        };
        let id = job.session.id;
        let back = catch_unwind(AssertUnwindSafe(|| run_job(job)));
        // Counted before the loop hears of it, so the loop sees the worker free when it looks.
        finished.fetch_add(1, Ordering::AcqRel);
        match back {
            Ok(Some(detached)) => resume.send(detached),
            Ok(None) => attention.wake(),
            Err(_) => {
                log::error!("internal error on a worker: session {id} closes");
                attention.lost(id);
            }
        }
    }
}

/// Runs the handler and completes the response; the session to give back to the loop, unless
/// the handler detached the request (its `AsyncRequest` gives the session back).
fn run_job(job: Box<Job>) -> Option<Box<Detached>> {
    let Job {
        mut session,
        mut ex,
        mut env,
        handler,
    } = *job;
    env.date.refresh(SystemTime::now());
    let result = call(|| handler(&mut Request::new(&mut session, &mut ex, &env)));
    let mut fallback = None;
    if let Some(handoff) = ex.handoff.take() {
        if result.is_err() {
            handoff.refuse();
        } else {
            session.phase = Phase::Detached;
            let detached = Box::new(Detached {
                session,
                ex,
                env: env.off_loop_copy(None),
            });
            match handoff.hand_over(detached) {
                Ok(()) => return None,
                Err(back) => {
                    // Detached, then dropped before the handler returned: answered as a drop is.
                    let Detached {
                        session: s, ex: e, ..
                    } = *back;
                    (session, ex) = (s, e);
                    session.phase = Phase::InHandler;
                    fallback = Some(ErrorCode::InternalServerError);
                }
            }
        }
    }
    Request::new(&mut session, &mut ex, &env).complete(result, fallback);
    let timeout = env.config.send_wait_timeout;
    if session
        .flush_blocking(0, timeout, &env.config.events)
        .is_err()
    {
        ex.resp.broken = true;
    }
    Some(Box::new(Detached { session, ex, env }))
}

impl Core {
    /// Starts the worker pool if the configuration has one and the loop can take sessions
    /// back.
    pub(super) fn pool_for(
        config: &crate::config::Config,
        resume: Option<&ResumeTx>,
    ) -> Option<Pool> {
        let resume = resume?;
        (config.worker_threads > 0).then(|| {
            Pool::new(
                config.worker_threads,
                &config.thread_name,
                config.stack_size,
                resume.clone(),
            )
        })
    }

    /// Runs `handler` for the request of `slot` (its head in `self.ex`) on a worker, or
    /// leaves the request waiting for one, or refuses it when too many wait.
    pub(super) fn run_on_pool(&mut self, slot: usize, handler: HandlerFn) {
        let Some(pool) = self.pool.as_mut() else {
            return;
        };
        // In arrival order: a worker that just became free goes to those already waiting (a
        // request taken from the queue is the first of them).
        if !pool.has_room() || (!self.redispatch && !self.waiting.is_empty()) {
            return self.await_worker(slot);
        }
        let max_headers = self.env.config.max_req_headers;
        let spare = self
            .spare_ex
            .pop()
            .unwrap_or_else(|| Exchange::new(max_headers));
        let ex = Box::new(std::mem::replace(&mut self.ex, spare));
        let Some(mut session) = self.sessions.pool_out(slot, &pool.attention) else {
            return;
        };
        session.phase = Phase::InHandler;
        let env = self.env.off_loop_copy(self.env.resume.clone());
        pool.run(Box::new(Job {
            session,
            ex,
            env,
            handler,
        }));
        // Bytes may be waiting in the socket already.
        self.enqueue(slot);
    }

    /// Every worker is busy: the request waits, unread, for one (its client is held by TCP
    /// flow control), unless too many wait already.
    fn await_worker(&mut self, slot: usize) {
        let s = &mut self.sessions[slot];
        if self.waiting.len() >= self.env.config.worker_queue_len {
            log::warn!(
                "session {}: every worker is busy and {} requests wait; answering 503",
                s.id,
                self.waiting.len()
            );
            return self.answer_busy(slot);
        }
        s.phase = Phase::AwaitWorker;
        s.deadline = None;
        self.waiting.push_back((slot, s.id));
    }

    /// Gives waiting requests the workers that became free, in arrival order.
    pub(super) fn dispatch_waiting(&mut self) {
        while self.pool.as_ref().is_some_and(Pool::has_room) {
            let Some((slot, id)) = self.waiting.pop_front() else {
                return;
            };
            let waiting = self
                .sessions
                .get_mut(slot)
                .filter(|s| s.id == id && matches!(s.phase, Phase::AwaitWorker));
            let Some(s) = waiting else {
                continue;
            };
            s.phase = Phase::ReadHead;
            self.guarded(Some(slot), "dispatching a waiting request", |core| {
                core.serve_waiting(slot);
            });
        }
    }

    /// Pumps the relays whose workers asked for the loop; closes the connections of sessions
    /// a worker lost.
    pub(super) fn attend(&mut self) {
        let Some(pool) = &self.pool else {
            return;
        };
        let lost = pool.attention.take_lost();
        let mut slots = std::mem::take(&mut self.attended);
        pool.attention.take(&mut slots);
        for id in lost {
            if let Some(proxy) = self.sessions.remove_pooled(id) {
                self.close_proxy(proxy);
            }
        }
        for slot in slots.drain(..) {
            self.enqueue(slot);
        }
        self.attended = slots;
    }

    /// One step of a session on a worker: moves its bytes between socket and relay.
    pub(super) fn pump(&mut self, slot: usize) {
        let Some(proxy) = self.sessions.proxy_mut(slot) else {
            return;
        };
        proxy.attended();
        if let Err(e) = proxy.pump(&mut self.relay_bufs) {
            log::debug!("session {}: relay: {e}", proxy.id);
        }
        proxy.reregister(&self.registry, Token(slot));
    }

    /// The server is stopping: the sockets of sessions on workers close now (their handlers
    /// find the connection gone; their contexts go when they return).
    pub(super) fn cut_pooled(&mut self) {
        for proxy in self.sessions.take_proxies() {
            self.close_proxy(proxy);
        }
    }

    /// Closes the connection of a session that will not come back from its worker.
    fn close_proxy(&mut self, mut proxy: Proxy) {
        let id: SessionId = proxy.id;
        proxy.break_off(std::io::ErrorKind::ConnectionAborted);
        proxy.transport.deregister(&self.registry);
        self.shared.remove_client(id);
        if let Some(on_close) = &self.env.config.on_close {
            if catch_unwind(AssertUnwindSafe(|| on_close(id))).is_err() {
                log::error!("on_close panicked");
            }
        }
        super::accept::socket_closed(&self.env.config, id, proxy.transport);
        self.env.config.events.emit(|| Event::Disconnected { id });
    }
}

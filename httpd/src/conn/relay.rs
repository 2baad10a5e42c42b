//! The relay: how a session whose handler runs on a worker thread talks to its client while
//! the loop keeps the socket.
//!
//! The session goes to the worker with a [`Relay`] as its transport; the loop keeps the real
//! transport in a [`Proxy`] in the session's table slot. The worker's blocking `recv` and
//! `send` wait on the relay (a mutex and a condition variable), never on the socket; the loop
//! moves bytes between the socket and the relay without blocking, whenever either side has
//! some. Both directions are bounded by [`RELAY_CAP`]: a full inbound side stops the loop
//! reading (TCP flow control then holds the client), a full outbound side makes the worker's
//! `send` wait. When the session comes back, [`Proxy::merge_into`] gives it its socket again,
//! with the bytes still in the relay in front of what the socket brings next.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token, Waker};

use super::session::Session;
use super::transport::{Stream, Transport};
use crate::types::SessionId;

/// Bytes the relay holds in each direction.
pub(crate) const RELAY_CAP: usize = 256 * 1024;

/// The loop's buffers for relayed bytes: the one the socket is read into, and spares (relay
/// buffers handed back when their sessions returned), so a relay costs no allocation.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    scratch: Vec<u8>,
    spare: Vec<Vec<u8>>,
}

/// Spare relay buffers kept.
const SPARE_BUFFERS: usize = 4;

impl Buffers {
    fn recycle(&mut self, buf: Vec<u8>) {
        if buf.len() == RELAY_CAP && self.spare.len() < SPARE_BUFFERS {
            self.spare.push(buf);
        }
    }
}

/// Relays that need the loop's attention, and the loop's waker.
pub(crate) struct Attention {
    slots: Mutex<Vec<usize>>,
    /// Sessions a worker lost (an internal error while it had them): the loop closes their
    /// connections.
    lost: Mutex<Vec<SessionId>>,
    waker: Arc<Waker>,
}

impl Attention {
    pub(crate) fn new(waker: Arc<Waker>) -> Arc<Attention> {
        Arc::new(Attention {
            slots: Mutex::new(Vec::new()),
            lost: Mutex::new(Vec::new()),
            waker,
        })
    }

    /// A worker lost session `id`: its connection must close.
    pub(crate) fn lost(&self, id: SessionId) {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).push(id);
        self.wake();
    }

    /// The sessions workers lost since the last call.
    pub(crate) fn take_lost(&self) -> Vec<SessionId> {
        std::mem::take(&mut *self.lost.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Moves the slots that asked for attention into `into`.
    pub(crate) fn take(&self, into: &mut Vec<usize>) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        into.append(&mut slots);
    }

    /// Wakes the loop without naming a relay (a worker became free).
    pub(crate) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            log::error!("waking the server thread: {e}");
        }
    }
}

/// Bytes from the client: `data[start..end]` not yet read by the worker. The buffer itself
/// moves between the loop and the relay: bytes read while the worker has none are handed
/// over, not copied.
#[derive(Debug, Default)]
struct Chunk {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Chunk {
    fn len(&self) -> usize {
        self.end - self.start
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Copies out what fits in `buf`.
    fn take_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.len());
        buf[..n].copy_from_slice(&self.data[self.start..self.start + n]);
        self.start += n;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        n
    }

    /// Appends `bytes`, moving what is unread to the front first if needed.
    fn append(&mut self, bytes: &[u8]) {
        if self.data.len() - self.end < bytes.len() {
            self.data.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.len());
            if self.data.len() < self.end + bytes.len() {
                self.data.resize(self.end + bytes.len(), 0);
            }
        }
        self.data[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }
}

#[derive(Debug, Default)]
struct State {
    /// Bytes from the client, not yet read by the worker.
    inbound: Chunk,
    /// The client ended its stream (after `inbound`).
    eof: bool,
    /// The loop stopped reading the socket because `inbound` was full.
    loop_waits_for_room: bool,
    /// Bytes from the worker, not yet taken by the loop.
    outbound: Vec<u8>,
    /// The worker shut its write side.
    shutdown: bool,
    /// The connection is gone (an I/O error, or the loop closed it): reads and writes fail.
    broken: Option<io::ErrorKind>,
    /// The worker is waiting on `changed` (so a change must wake it; else no system call).
    worker_waits: bool,
}

struct Shared {
    state: Mutex<State>,
    /// The worker waits on this for bytes or room.
    changed: Condvar,
    attention: Arc<Attention>,
    slot: usize,
    /// Already in the attention list.
    flagged: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Releases the state, waking the worker if it waits for a change.
    fn wake_worker(&self, st: MutexGuard<'_, State>) {
        let waits = st.worker_waits;
        drop(st);
        if waits {
            self.changed.notify_all();
        }
    }

    /// Asks the loop to pump this relay.
    fn call_loop(&self) {
        if !self.flagged.swap(true, Ordering::AcqRel) {
            self.attention
                .slots
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self.slot);
            self.attention.wake();
        }
    }
}

/// What a handler on a worker learns of the connection it cannot touch.
#[derive(Clone, Default)]
pub(crate) struct Facts {
    /// The socket's descriptor (the C API's `httpd_req_to_sockfd`).
    pub(crate) fd: Option<RawFd>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsInfo>,
}

/// The worker's side: a transport whose waits are on the relay.
pub(crate) struct Relay {
    shared: Arc<Shared>,
    pub(crate) facts: Facts,
}

/// The loop's side: the real transport and the bytes on their way to the client.
pub(crate) struct Proxy {
    pub(crate) id: SessionId,
    pub(crate) transport: Stream,
    shared: Arc<Shared>,
    /// Bytes taken from the relay, `out[out_pos..]` not yet written.
    out: Vec<u8>,
    out_pos: usize,
    /// The socket may have unread bytes.
    pub(crate) readable: bool,
    /// The poller reported the client's shutdown.
    pub(crate) read_closed: bool,
    eof: bool,
    /// Registered for writability.
    pub(crate) writing: bool,
    /// In the loop's ready queue.
    pub(crate) queued: bool,
    /// The session was asked to close while away.
    pub(crate) close_requested: bool,
}

/// Swaps a session's transport for a relay; returns the loop's side.
pub(crate) fn split(session: &mut Session, attention: Arc<Attention>, slot: usize) -> Box<Proxy> {
    let state = State {
        // A client that ended its stream before its body did: the handler learns it.
        eof: session.input.eof,
        ..State::default()
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        changed: Condvar::new(),
        attention,
        slot,
        flagged: AtomicBool::new(false),
    });
    let facts = Facts {
        fd: session.transport.raw_fd(),
        #[cfg(feature = "tls")]
        tls: session.transport.tls_info(),
    };
    let relay = Stream::Relay(Box::new(Relay {
        shared: Arc::clone(&shared),
        facts,
    }));
    let transport = std::mem::replace(&mut session.transport, relay);
    Box::new(Proxy {
        id: session.id,
        transport,
        shared,
        out: Vec::new(),
        out_pos: 0,
        readable: session.input.readable,
        read_closed: session.input.read_closed,
        eof: session.input.eof,
        writing: false,
        queued: false,
        close_requested: false,
    })
}

impl Proxy {
    /// Clears the attention flag: the loop is about to pump this relay.
    pub(crate) fn attended(&self) {
        self.shared.flagged.store(false, Ordering::Release);
    }

    /// Moves bytes both ways without blocking: socket to relay while the relay has room,
    /// relay to socket while the socket takes them. `Err` when the connection failed (the
    /// worker has been told).
    pub(crate) fn pump(&mut self, bufs: &mut Buffers) -> io::Result<()> {
        let result = self.pump_in(bufs).and_then(|()| self.pump_out());
        if let Err(e) = &result {
            self.break_off(e.kind());
        }
        result
    }

    /// Reads the socket into the loop's scratch buffer and hands the bytes to the relay: the
    /// buffer itself when the relay has none left, else a copy.
    fn pump_in(&mut self, bufs: &mut Buffers) -> io::Result<()> {
        let Buffers { scratch, spare } = bufs;
        while self.readable && !self.eof {
            let room = {
                let mut st = self.shared.lock();
                let room = RELAY_CAP.saturating_sub(st.inbound.len());
                st.loop_waits_for_room = room == 0;
                room
            };
            if room == 0 {
                return Ok(());
            }
            if scratch.len() < RELAY_CAP {
                *scratch = spare.pop().unwrap_or_else(|| vec![0; RELAY_CAP]);
            }
            match self.transport.read(&mut scratch[..room]) {
                Ok(0) => {
                    self.eof = true;
                    self.readable = false;
                    let mut st = self.shared.lock();
                    st.eof = true;
                    self.shared.wake_worker(st);
                }
                Ok(n) => {
                    let mut st = self.shared.lock();
                    if st.inbound.is_empty() {
                        std::mem::swap(&mut st.inbound.data, scratch);
                        (st.inbound.start, st.inbound.end) = (0, n);
                    } else {
                        st.inbound.append(&scratch[..n]);
                    }
                    self.shared.wake_worker(st);
                    if n < room && !self.read_closed && self.transport.pending() == 0 {
                        self.readable = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn pump_out(&mut self) -> io::Result<()> {
        loop {
            if self.out_pos == self.out.len() {
                self.out.clear();
                self.out_pos = 0;
                let mut st = self.shared.lock();
                std::mem::swap(&mut st.outbound, &mut self.out);
                let shutdown = st.shutdown;
                if self.out.is_empty() {
                    drop(st);
                    if self.transport.holds_output() {
                        self.transport.flush()?;
                    }
                    if shutdown && !self.transport.holds_output() {
                        self.transport.shutdown_write();
                    }
                    return Ok(());
                }
                // Room for the worker.
                self.shared.wake_worker(st);
            }
            match self.transport.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the socket must say when it can take more.
    pub(crate) fn wants_writable(&self) -> bool {
        self.out_pos < self.out.len() || self.transport.holds_output()
    }

    /// The connection is gone: the worker's waits end with `kind`.
    pub(crate) fn break_off(&self, kind: io::ErrorKind) {
        let mut st = self.shared.lock();
        st.broken.get_or_insert(kind);
        self.shared.wake_worker(st);
    }

    /// Registers the interest the relay needs now.
    pub(crate) fn reregister(&mut self, registry: &Registry, token: Token) {
        let want = self.wants_writable();
        if want != self.writing {
            self.writing = want;
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self.transport.reregister(registry, token, interest);
        }
    }

    /// Gives the session back its transport: bytes still in the relay from the client go
    /// after its buffered input, bytes for the client before its pending output. Returns
    /// whether the connection broke while it was away; the relay's buffer goes to `bufs`.
    pub(crate) fn merge_into(
        self,
        session: &mut Session,
        registry: &Registry,
        bufs: &mut Buffers,
    ) -> bool {
        let Proxy {
            mut transport,
            shared,
            mut out,
            out_pos,
            readable,
            read_closed,
            eof,
            writing,
            ..
        } = self;
        let mut st = shared.lock();
        let input = &mut session.input;
        let leftover = st.inbound.len();
        if leftover > 0 {
            let end = input.end;
            if input.data.len() < end + leftover {
                input.data.resize(end + leftover, 0);
            }
            st.inbound.take_into(&mut input.data[end..end + leftover]);
            input.end += leftover;
        }
        input.eof |= eof;
        input.readable = readable && !eof;
        input.read_closed |= read_closed;
        out.drain(..out_pos);
        out.append(&mut st.outbound);
        if !out.is_empty() {
            let output = &mut session.output;
            out.extend_from_slice(&output.data[output.pos..]);
            output.data = out;
            output.pos = 0;
        }
        let broken = st.broken.is_some();
        bufs.recycle(std::mem::take(&mut st.inbound.data));
        drop(st);
        if writing {
            let _ = transport.reregister(registry, Token(session.id.slot()), Interest::READABLE);
        }
        session.transport = transport;
        broken
    }
}

impl Relay {
    fn read_locked(&self, st: &mut State, buf: &mut [u8]) -> io::Result<usize> {
        if !st.inbound.is_empty() {
            let n = st.inbound.take_into(buf);
            if st.loop_waits_for_room {
                st.loop_waits_for_room = false;
                self.shared.call_loop();
            }
            return Ok(n);
        }
        match st.broken {
            Some(kind) => Err(kind.into()),
            None if st.eof => Ok(0),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn write_locked(&self, st: &mut State, buf: &[u8]) -> io::Result<usize> {
        if let Some(kind) = st.broken {
            return Err(kind.into());
        }
        if st.shutdown {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = RELAY_CAP.saturating_sub(st.outbound.len()).min(buf.len());
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let was_empty = st.outbound.is_empty();
        st.outbound.extend_from_slice(&buf[..n]);
        if was_empty {
            self.shared.call_loop();
        }
        Ok(n)
    }

    /// Waits for a change, up to `deadline`; `false` when it passed.
    fn wait<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> (MutexGuard<'a, State>, bool) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (st, false);
        }
        st.worker_waits = true;
        let mut st = self
            .shared
            .changed
            .wait_timeout(st, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        st.worker_waits = false;
        (st, true)
    }
}

impl Transport for Relay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut st = self.shared.lock();
        self.read_locked(&mut st, buf)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut st = self.shared.lock();
        self.write_locked(&mut st, buf)
    }

    fn read_wait(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            match self.read_locked(&mut st, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            let (next, in_time) = self.wait(st, deadline);
            st = next;
            if !in_time {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
    }

    fn write_wait(&mut self, buf: &[u8], timeout: Duration) -> (usize, io::Result<()>) {
        let mut done = 0;
        let mut deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while done < buf.len() {
            match self.write_locked(&mut st, &buf[done..]) {
                Ok(n) => {
                    done += n;
                    // The client took something: it has `timeout` again for the rest.
                    deadline = Instant::now() + timeout;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let (next, in_time) = self.wait(st, deadline);
                    st = next;
                    if !in_time {
                        return (done, Err(io::ErrorKind::TimedOut.into()));
                    }
                }
                Err(e) => return (done, Err(e)),
            }
        }
        (done, Ok(()))
    }

    fn shutdown_write(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.call_loop();
    }

    fn register(&mut self, _: &Registry, _: Token, _: Interest) -> io::Result<()> {
        Ok(())
    }

    fn reregister(&mut self, _: &Registry, _: Token, _: Interest) -> io::Result<()> {
        Ok(())
    }

    fn deregister(&mut self, _: &Registry) {}
}

#[cfg(test)]
mod tests;

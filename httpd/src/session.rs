//! Per-connection state and transport: the session table's entries, their buffers, and the
//! only socket reads and writes outside the loop's accept.

use std::any::Any;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use socket2::SockRef;

use crate::parse::ChunkedDecoder;

/// Identifies one connection for its whole life. The generation makes ids of closed sessions
/// stale: a late `send_to` or `trigger_close` never reaches a newer connection in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.slot, self.generation)
    }
}

/// What the session's input side is doing.
#[derive(Debug)]
pub(crate) enum ReadState {
    /// Reading a request head (and a small body before dispatch).
    Head,
    /// Discarding the unread body of the last request; `budget` bytes may still be discarded.
    Drain { body: UnreadBody, budget: u64 },
    /// The last response is out and the write side shut: discarding input until the client
    /// closes, so our close does not reset the connection under the response.
    Linger { budget: u64 },
    /// Upgraded: WebSocket frames (the state is in [`Session::ws`]).
    WebSocket,
}

/// The part of a request body not yet read.
#[derive(Debug, Clone)]
pub(crate) enum UnreadBody {
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// Request bytes: `data[..end]` holds bytes read and not yet consumed; the current request
/// starts at 0. `data` is fully initialised (zeroed once) so reads go straight into it; it is
/// empty while the session is idle and borrowed from the loop's pool while in use.
#[derive(Debug, Default)]
pub(crate) struct InBuf {
    pub(crate) data: Vec<u8>,
    pub(crate) end: usize,
}

impl InBuf {
    /// Drops the first `n` bytes, moving what follows to the front.
    pub(crate) fn consume(&mut self, n: usize) {
        self.data.copy_within(n..self.end, 0);
        self.end -= n;
    }
}

/// One client connection.
pub(crate) struct Session {
    pub(crate) id: SessionId,
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) input: InBuf,
    /// Response bytes not yet written; `output[out_pos..]` is pending.
    pub(crate) output: Vec<u8>,
    pub(crate) out_pos: usize,
    pub(crate) state: ReadState,
    /// The socket may have unread bytes (an edge was seen and not yet drained).
    pub(crate) readable: bool,
    /// The client shut its write side (read returned 0).
    pub(crate) eof: bool,
    /// The poller reported the client's shutdown: the end of stream is pending behind any
    /// unread bytes, and no further edge will announce it.
    pub(crate) read_closed: bool,
    /// In the loop's ready queue.
    pub(crate) queued: bool,
    /// Registered for writable events (a response is waiting for room).
    pub(crate) write_interest: bool,
    /// Close once the pending output is written.
    pub(crate) close_after_flush: bool,
    /// `100 Continue` was sent for the current request.
    pub(crate) continue_sent: bool,
    /// When the current request head began arriving.
    pub(crate) head_started: Option<Instant>,
    /// When this session next needs the loop's attention (timeout of its current wait).
    pub(crate) deadline: Option<Instant>,
    /// LRU stamp: the loop's counter at accept and at each completed request.
    pub(crate) last_used: u64,
    pub(crate) ctx: Option<Box<dyn Any + Send>>,
    /// The WebSocket state, once upgraded.
    pub(crate) ws: Option<Box<crate::ws::WsState>>,
}

impl Session {
    pub(crate) fn new(id: SessionId, stream: TcpStream, peer: SocketAddr, now_used: u64) -> Self {
        Session {
            id,
            stream,
            peer,
            input: InBuf::default(),
            output: Vec::new(),
            out_pos: 0,
            state: ReadState::Head,
            readable: false,
            eof: false,
            read_closed: false,
            queued: false,
            write_interest: false,
            close_after_flush: false,
            continue_sent: false,
            head_started: None,
            deadline: None,
            last_used: now_used,
            ctx: None,
            ws: None,
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

    pub(crate) fn pending_output(&self) -> usize {
        self.output.len() - self.out_pos
    }

    /// Writes pending output without blocking. `Ok(true)` when all of it is written.
    pub(crate) fn flush_nonblocking(&mut self) -> io::Result<bool> {
        while self.out_pos < self.output.len() {
            match self.stream.write(&self.output[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.output.clear();
        self.out_pos = 0;
        Ok(true)
    }

    /// Writes pending output until at most `keep` bytes remain, waiting for room up to
    /// `timeout` at a time. Used by handlers producing more than the session may hold.
    pub(crate) fn flush_blocking(&mut self, keep: usize, timeout: Duration) -> io::Result<()> {
        if self.flush_nonblocking()? || self.pending_output() <= keep {
            return Ok(());
        }
        let stream = &self.stream;
        let sock = SockRef::from(stream);
        sock.set_write_timeout(Some(timeout))?;
        sock.set_nonblocking(false)?;
        let mut result = Ok(());
        while self.output.len() - self.out_pos > keep {
            match (&*stream).write(&self.output[self.out_pos..]) {
                Ok(0) => result = Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => result = Err(e),
            }
            if result.is_err() {
                break;
            }
        }
        sock.set_nonblocking(true)?;
        if self.out_pos == self.output.len() {
            self.output.clear();
            self.out_pos = 0;
        }
        result
    }

    /// Reads into `buf`, waiting up to `timeout` for data. `Ok(0)` is end of stream;
    /// a timeout is `ErrorKind::WouldBlock` or `TimedOut`.
    pub(crate) fn read_blocking(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let stream = &self.stream;
        loop {
            match (&*stream).read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let sock = SockRef::from(stream);
        sock.set_read_timeout(Some(timeout))?;
        sock.set_nonblocking(false)?;
        let result = loop {
            match (&*stream).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        sock.set_nonblocking(true)?;
        result
    }
}

/// Reusable buffers, so requests do not allocate and idle sessions hold none.
#[derive(Debug)]
pub(crate) struct BufPool {
    free: Vec<Vec<u8>>,
    len: usize,
    max_free: usize,
}

impl BufPool {
    /// A pool of buffers of `len` bytes (zeroed), keeping at most `max_free` spare ones.
    pub(crate) fn new(len: usize, max_free: usize) -> Self {
        BufPool {
            free: Vec::new(),
            len,
            max_free,
        }
    }

    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_else(|| vec![0; self.len])
    }

    pub(crate) fn give(&mut self, buf: Vec<u8>) {
        if buf.len() == self.len && self.free.len() < self.max_free {
            self.free.push(buf);
        }
    }
}

/// Output buffers: cleared vectors, kept when they did not grow too large.
#[derive(Debug, Default)]
pub(crate) struct OutPool {
    free: Vec<Vec<u8>>,
}

/// Output buffers larger than this are freed rather than pooled.
const OUT_KEEP_CAPACITY: usize = 64 * 1024;
const OUT_POOL_MAX: usize = 64;

impl OutPool {
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_default()
    }

    pub(crate) fn give(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() > 0
            && buf.capacity() <= OUT_KEEP_CAPACITY
            && self.free.len() < OUT_POOL_MAX
        {
            buf.clear();
            self.free.push(buf);
        }
    }
}

/// One entry of the session table.
enum Slot {
    /// Unused; the next session here gets this generation.
    Free {
        generation: u32,
    },
    Live(Box<Session>),
    /// The session is owned by a detached request on another thread; the slot (and id) stay
    /// reserved until it comes back or ends.
    Detached {
        id: SessionId,
        close_requested: bool,
    },
}

/// The session table: fixed capacity, generation ids, and reservations for detached sessions.
/// (A slab cannot keep a slot reserved while its value lives elsewhere, hence this table.)
pub(crate) struct Sessions {
    slots: Vec<Slot>,
    /// Free slots, most recently freed last.
    free: Vec<usize>,
    /// Live and detached sessions.
    open: usize,
}

impl Sessions {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Sessions {
            slots: Vec::with_capacity(n),
            free: Vec::new(),
            open: 0,
        }
    }

    /// Open sessions, detached ones included.
    pub(crate) fn len(&self) -> usize {
        self.open
    }

    /// The id the next inserted session will get.
    pub(crate) fn next_id(&self) -> SessionId {
        match self.free.last() {
            Some(&slot) => match self.slots[slot] {
                Slot::Free { generation } => SessionId {
                    slot: slot as u32,
                    generation,
                },
                _ => unreachable!("free list holds free slots"),
            },
            None => SessionId {
                slot: self.slots.len() as u32,
                generation: 0,
            },
        }
    }

    /// Uses up the next id without opening a session (a refused connection).
    pub(crate) fn burn_next_id(&mut self) {
        let id = self.next_id();
        let slot = id.slot as usize;
        if slot == self.slots.len() {
            self.slots.push(Slot::Free { generation: 1 });
            self.free.push(slot);
        } else {
            self.slots[slot] = Slot::Free {
                generation: id.generation.wrapping_add(1),
            };
        }
    }

    /// Inserts a session under [`next_id`](Sessions::next_id); returns its slot.
    pub(crate) fn insert(&mut self, session: Session) -> usize {
        let slot = session.id.slot as usize;
        debug_assert_eq!(session.id, self.next_id());
        if slot == self.slots.len() {
            self.slots.push(Slot::Live(Box::new(session)));
        } else {
            self.free.pop();
            self.slots[slot] = Slot::Live(Box::new(session));
        }
        self.open += 1;
        slot
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Session> {
        match self.slots.get(slot) {
            Some(Slot::Live(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Session> {
        match self.slots.get_mut(slot) {
            Some(Slot::Live(s)) => Some(s),
            _ => None,
        }
    }

    fn free_slot(&mut self, slot: usize, id: SessionId) {
        self.slots[slot] = Slot::Free {
            generation: id.generation.wrapping_add(1),
        };
        self.free.push(slot);
        self.open -= 1;
    }

    /// Removes a live session; its id becomes stale.
    pub(crate) fn remove(&mut self, slot: usize) -> Option<Session> {
        let id = self.get(slot)?.id;
        let Slot::Live(s) = std::mem::replace(&mut self.slots[slot], Slot::Free { generation: 0 })
        else {
            return None;
        };
        self.free_slot(slot, id);
        Some(*s)
    }

    /// Moves a live session out, keeping its slot reserved.
    pub(crate) fn detach(&mut self, slot: usize) -> Option<Box<Session>> {
        let id = self.get(slot)?.id;
        let reserved = Slot::Detached {
            id,
            close_requested: false,
        };
        match std::mem::replace(&mut self.slots[slot], reserved) {
            Slot::Live(s) => Some(s),
            _ => None,
        }
    }

    /// Puts a detached session back in its slot. Returns whether a close was requested while
    /// it was away, or gives the session back if its slot is not reserved for it.
    pub(crate) fn reattach(&mut self, session: Box<Session>) -> Result<bool, Box<Session>> {
        let slot = session.id.slot as usize;
        match self.slots.get(slot) {
            Some(&Slot::Detached {
                id,
                close_requested,
            }) if id == session.id => {
                self.slots[slot] = Slot::Live(session);
                Ok(close_requested)
            }
            _ => Err(session),
        }
    }

    /// Asks a detached session to close when it comes back. `false` if `id` is not detached.
    pub(crate) fn request_close_detached(&mut self, id: SessionId) -> bool {
        match self.slots.get_mut(id.slot as usize) {
            Some(Slot::Detached {
                id: d,
                close_requested,
            }) if *d == id => {
                *close_requested = true;
                true
            }
            _ => false,
        }
    }

    /// Live sessions.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Session)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| match s {
                Slot::Live(s) => Some((slot, &**s)),
                _ => None,
            })
    }

    /// Ids of every open session, detached ones included.
    pub(crate) fn ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.slots.iter().filter_map(|s| match s {
            Slot::Live(s) => Some(s.id),
            Slot::Detached { id, .. } => Some(*id),
            Slot::Free { .. } => None,
        })
    }

    /// Slots of live sessions.
    pub(crate) fn live_slots(&self) -> Vec<usize> {
        self.iter().map(|(slot, _)| slot).collect()
    }
}

impl std::ops::Index<usize> for Sessions {
    type Output = Session;

    fn index(&self, slot: usize) -> &Session {
        self.get(slot)
            .expect("INVARIANT: the loop only indexes live sessions")
    }
}

impl std::ops::IndexMut<usize> for Sessions {
    fn index_mut(&mut self, slot: usize) -> &mut Session {
        self.get_mut(slot)
            .expect("INVARIANT: the loop only indexes live sessions")
    }
}

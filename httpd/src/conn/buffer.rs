//! A session's buffers and the pools they come from, so requests do not allocate and idle
//! sessions hold none.

use super::source::Source;

/// Request bytes and what the transport said about them.
///
/// `data[..end]` holds bytes read and not yet consumed; the current request starts at 0.
/// `data` is fully initialised (zeroed once) so reads go straight into it; it is empty while
/// the session is idle and borrowed from the loop's pool while in use.
#[derive(Debug, Default)]
pub(crate) struct Input {
    pub(crate) data: Vec<u8>,
    pub(crate) end: usize,
    /// The transport may have unread bytes (an edge was seen and not yet drained).
    pub(crate) readable: bool,
    /// The client shut its write side (a read returned 0).
    pub(crate) eof: bool,
    /// The poller reported the client's shutdown: the end of stream is pending behind any
    /// unread bytes, and no further edge will announce it.
    pub(crate) read_closed: bool,
}

impl Input {
    /// Drops the first `n` bytes, moving what follows to the front.
    pub(crate) fn consume(&mut self, n: usize) {
        self.data.copy_within(n..self.end, 0);
        self.end -= n;
    }
}

/// Response bytes not yet written: `data[pos..]` is pending, and after them whatever `source`
/// still has to give.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) data: Vec<u8>,
    pub(crate) pos: usize,
    /// A response body still being pulled from its source.
    pub(crate) source: Option<Box<Source>>,
    /// Registered for writable events: the client has not taken what we hold.
    pub(crate) waiting: bool,
    /// Close the session once everything is written.
    pub(crate) close_when_flushed: bool,
}

impl Output {
    pub(crate) fn pending(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Something is still to be written: buffered bytes or a body source.
    pub(crate) fn busy(&self) -> bool {
        self.pending() > 0 || self.source.is_some()
    }

    /// Bytes written: drops them, and frees the front of the buffer once all are gone.
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos += n;
        if self.pos == self.data.len() {
            self.data.clear();
            self.pos = 0;
        }
    }
}

/// Request buffers: zeroed once, all of one length.
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

/// Both pools: what a session borrows while it has work and gives back when idle.
#[derive(Debug)]
pub(crate) struct Pools {
    pub(crate) input: BufPool,
    pub(crate) output: OutPool,
}

impl Pools {
    pub(crate) fn new(input_len: usize) -> Self {
        Pools {
            input: BufPool::new(input_len, 64),
            output: OutPool::default(),
        }
    }
}

//! An in-memory transport: the session state machine's unit tests and the session fuzz
//! target drive a session through it, without sockets.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use super::transport::Transport;

/// One direction of an in-memory pipe.
#[derive(Debug, Default)]
struct PipeState {
    /// Bytes from the client, not yet read by the server.
    to_server: VecDeque<u8>,
    /// Bytes the server wrote.
    to_client: Vec<u8>,
    /// The client will send nothing more.
    client_closed: bool,
    /// The server shut its write side.
    server_closed: bool,
    /// How many more bytes the server may write before it sees `WouldBlock` (a client slow to
    /// read); `None` for unlimited.
    room: Option<usize>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<PipeState>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The server's end of an in-memory connection (tests and fuzzing).
#[derive(Debug)]
pub(crate) struct Pipe(Arc<Shared>);

/// The client's end of an in-memory connection.
#[derive(Debug, Clone)]
pub(crate) struct PipeClient(Arc<Shared>);

impl Pipe {
    /// A connected pair.
    pub(crate) fn pair() -> (Pipe, PipeClient) {
        let shared = Arc::new(Shared::default());
        (Pipe(Arc::clone(&shared)), PipeClient(shared))
    }
}

impl PipeClient {
    /// Sends bytes to the server.
    pub(crate) fn send(&self, bytes: &[u8]) {
        self.0.lock().to_server.extend(bytes);
        self.0.changed.notify_all();
    }

    /// Closes the client's write side.
    pub(crate) fn close(&self) {
        self.0.lock().client_closed = true;
        self.0.changed.notify_all();
    }

    /// Takes what the server has written so far.
    pub(crate) fn received(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().to_client)
    }

    /// Limits what the server can write until [`set_room`](PipeClient::set_room) is called
    /// again (`None`: no limit).
    #[cfg(test)]
    pub(crate) fn set_room(&self, room: Option<usize>) {
        self.0.lock().room = room;
        self.0.changed.notify_all();
    }
}

impl Pipe {
    fn read_locked(state: &mut PipeState, buf: &mut [u8]) -> io::Result<usize> {
        if state.to_server.is_empty() {
            return if state.client_closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = state.to_server.read(buf)?;
        Ok(n)
    }

    fn write_locked(state: &mut PipeState, buf: &[u8]) -> io::Result<usize> {
        if state.server_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = state.room.map_or(buf.len(), |r| r.min(buf.len()));
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if let Some(room) = &mut state.room {
            *room -= n;
        }
        state.to_client.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Transport for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Self::read_locked(&mut self.0.lock(), buf)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Self::write_locked(&mut self.0.lock(), buf)
    }

    fn read_wait(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + timeout;
        let mut state = self.0.lock();
        loop {
            match Self::read_locked(&mut state, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            state = self
                .0
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn write_wait(&mut self, buf: &[u8], timeout: Duration) -> (usize, io::Result<()>) {
        let deadline = Instant::now() + timeout;
        let mut done = 0;
        let mut state = self.0.lock();
        while done < buf.len() {
            match Self::write_locked(&mut state, &buf[done..]) {
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return (done, Err(io::ErrorKind::TimedOut.into()));
                    }
                    state = self
                        .0
                        .changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                Err(e) => return (done, Err(e)),
            }
        }
        (done, Ok(()))
    }

    fn shutdown_write(&mut self) {
        self.0.lock().server_closed = true;
        self.0.changed.notify_all();
    }

    fn register(&mut self, _: &Registry, _: Token, _: Interest) -> io::Result<()> {
        Ok(())
    }

    fn reregister(&mut self, _: &Registry, _: Token, _: Interest) -> io::Result<()> {
        Ok(())
    }

    fn deregister(&mut self, _: &Registry) {}
}

//! TLS over a TCP transport (feature `tls`), driven sans-IO: rustls's `ServerConnection` takes
//! the socket's bytes (`read_tls`, `process_new_packets`) and gives plaintext (`reader`), and
//! takes plaintext (`writer`) and gives records to send (`write_tls`). Nothing here blocks
//! unless asked to (`read_wait`, `write_wait`).
//!
//! The session above sees a byte stream with the same rules as plain TCP, which the loop's
//! edge-triggered readiness depends on:
//! - a read that does not fill the buffer has seen the socket say `WouldBlock`, and left no
//!   plaintext inside rustls (so no readable edge is needed for bytes already here);
//! - a write takes plaintext only when rustls holds no unsent records, so what rustls holds is
//!   bounded, and [`Transport::holds_output`] tells the session to wait for writability until
//!   those records are out.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::{ServerConfig, ServerConnection};

use super::transport::{Tcp, Transport};
use crate::tls::TlsInfo;

/// Plaintext taken per write: a few records, so rustls never holds much more than this.
const WRITE_CHUNK: usize = 32 * 1024;
/// Bytes a failed connection's reads discard at a time (its linger).
const DISCARD_CHUNK: usize = 4096;

/// A TLS connection over a transport: TCP, or the in-memory pipe in tests and fuzzing.
pub(crate) struct Tls<S = Tcp> {
    tcp: S,
    conn: ServerConnection,
    /// The socket reached end of stream (rustls knows too).
    eof: bool,
    /// The connection broke (bad records, a refused handshake): an alert may still be going
    /// out; reads discard raw bytes (the session's linger) and writes fail.
    failed: bool,
}

/// What reading from the socket once gave rustls.
enum Pulled {
    /// Bytes, as many as rustls asked for: the socket may have more.
    Bytes,
    /// Bytes, fewer than rustls asked for: the socket is drained (the next bytes bring an
    /// edge), as a short read means for plain TCP.
    Drained,
    Eof,
    WouldBlock,
}

impl Tls {
    /// A connection in its handshake over an accepted socket.
    pub(crate) fn new(stream: TcpStream, config: Arc<ServerConfig>) -> Result<Tls, rustls::Error> {
        Tls::over(Tcp(stream), config)
    }

    /// The socket under the TLS connection.
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.tcp.0
    }

    /// Ends the TLS connection (its state is dropped; whatever `closing` queued has been
    /// sent as far as the socket took it) and gives back the socket, for a hook to close.
    pub(crate) fn into_socket(self) -> TcpStream {
        self.tcp.0
    }
}

/// The transport under TLS as the byte stream rustls reads and writes: without blocking, or
/// (with a timeout) waiting for data or room.
struct Raw<'a, S> {
    inner: &'a mut S,
    wait: Option<Duration>,
    /// The last read returned fewer bytes than asked for.
    short: bool,
}

impl<S: Transport> Read for Raw<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.wait {
            None => self.inner.read(buf)?,
            Some(timeout) => self.inner.read_wait(buf, timeout)?,
        };
        self.short = n < buf.len();
        Ok(n)
    }
}

impl<S: Transport> Write for Raw<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.wait {
            None => self.inner.write(buf),
            Some(timeout) => match self.inner.write_wait(buf, timeout) {
                (0, Err(e)) => Err(e),
                (n, _) => Ok(n),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: Transport> Tls<S> {
    /// A connection in its handshake over `inner`.
    pub(crate) fn over(inner: S, config: Arc<ServerConfig>) -> Result<Tls<S>, rustls::Error> {
        let conn = ServerConnection::new(config)?;
        Ok(Tls {
            tcp: inner,
            conn,
            eof: false,
            failed: false,
        })
    }

    fn raw(&mut self, wait: Option<Duration>) -> (&mut ServerConnection, Raw<'_, S>) {
        let Tls { tcp, conn, .. } = self;
        (
            conn,
            Raw {
                inner: tcp,
                wait,
                short: false,
            },
        )
    }

    /// Whether the handshake is still going on.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// What the handshake settled, once it is complete.
    pub(crate) fn info(&self) -> Option<TlsInfo> {
        if self.conn.is_handshaking() {
            return None;
        }
        TlsInfo::of(&self.conn)
    }

    /// Advances the handshake with whatever the socket has, without blocking. `Ok(true)` once
    /// it is complete (application data may already be buffered: read it).
    pub(crate) fn handshake(&mut self) -> io::Result<bool> {
        loop {
            if !self.conn.is_handshaking() {
                return Ok(true);
            }
            if self.failed {
                return Err(io::ErrorKind::InvalidData.into());
            }
            match self.pull()? {
                // (Drained: read once more all the same, to see an end of stream that came
                // with the last bytes: no edge would announce it.)
                Pulled::Bytes | Pulled::Drained => {}
                Pulled::Eof => return Err(io::ErrorKind::UnexpectedEof.into()),
                Pulled::WouldBlock => return Ok(false),
            }
        }
    }

    /// Reads once from the socket into rustls and processes what came; sends what rustls
    /// has to say (handshake messages, tickets, an alert) as far as the socket takes it.
    fn pull(&mut self) -> io::Result<Pulled> {
        let (conn, mut raw) = self.raw(None);
        let pulled = match conn.read_tls(&mut raw) {
            Ok(0) => {
                self.eof = true;
                Pulled::Eof
            }
            Ok(_) if raw.short => Pulled::Drained,
            Ok(_) => Pulled::Bytes,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Pulled::WouldBlock),
            Err(e) => return Err(e),
        };
        self.process()?;
        Ok(pulled)
    }

    /// Processes records rustls has read; on a TLS error the connection fails (its alert is
    /// sent as far as the socket takes it).
    fn process(&mut self) -> io::Result<()> {
        if let Err(e) = self.conn.process_new_packets() {
            self.failed = true;
            let _ = self.send_tls();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        self.send_tls()
    }

    /// Writes the records rustls holds until it holds none or the socket would block.
    fn send_tls(&mut self) -> io::Result<()> {
        let (conn, mut raw) = self.raw(None);
        while conn.wants_write() {
            match conn.write_tls(&mut raw) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes the held records, waiting up to `timeout` at a time for room.
    fn send_tls_wait(&mut self, timeout: Duration) -> io::Result<()> {
        let (conn, mut raw) = self.raw(Some(timeout));
        while conn.wants_write() {
            if conn.write_tls(&mut raw)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// Waits up to `timeout` for the socket to give rustls some bytes, then processes them.
    fn pull_wait(&mut self, timeout: Duration) -> io::Result<Pulled> {
        let (conn, mut raw) = self.raw(Some(timeout));
        let pulled = match conn.read_tls(&mut raw) {
            Ok(0) => {
                self.eof = true;
                Pulled::Eof
            }
            Ok(_) => Pulled::Drained,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return Ok(Pulled::WouldBlock)
            }
            Err(e) => return Err(e),
        };
        self.process()?;
        Ok(pulled)
    }

    /// Moves plaintext rustls holds into `buf[*n..]`. `Some(result)` when the read is decided:
    /// the end of the stream, or an error.
    fn take_plaintext(&mut self, buf: &mut [u8], n: &mut usize) -> Option<io::Result<usize>> {
        while *n < buf.len() {
            match self.conn.reader().read(&mut buf[*n..]) {
                // The client's close_notify.
                Ok(0) => return Some(Ok(*n)),
                Ok(k) => *n += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                // The socket ended without close_notify: an end of stream all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Some(Ok(*n)),
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }
}

impl<S: Transport> Transport for Tls<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            // Lingering after an alert: the raw bytes are discarded by the session.
            let len = buf.len().min(DISCARD_CHUNK);
            return self.tcp.read(&mut buf[..len]);
        }
        let mut n = 0;
        let mut drained = false;
        loop {
            if let Some(result) = self.take_plaintext(buf, &mut n) {
                return result;
            }
            if n == buf.len() {
                // Full: the session reads again before it waits for an edge.
                return Ok(n);
            }
            if drained && n > 0 {
                // rustls holds no plaintext and the socket nothing: a short read, as for TCP.
                // (Without plaintext, read on: the end of stream may be next.)
                return Ok(n);
            }
            match self.pull()? {
                Pulled::Bytes | Pulled::Eof => {}
                Pulled::Drained => drained = true,
                Pulled::WouldBlock if n > 0 => return Ok(n),
                Pulled::WouldBlock => return Err(io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.send_tls()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self
            .conn
            .writer()
            .write(&buf[..buf.len().min(WRITE_CHUNK)])?;
        self.send_tls()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn holds_output(&self) -> bool {
        self.conn.wants_write()
    }

    fn flush(&mut self) -> io::Result<bool> {
        let before = self.conn.wants_write();
        self.send_tls()?;
        // Progress is all or nothing from the outside: count a change of state.
        Ok(before && !self.conn.wants_write())
    }

    fn read_wait(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            if let Pulled::WouldBlock = self.pull_wait(left)? {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
    }

    fn write_wait(&mut self, buf: &[u8], timeout: Duration) -> (usize, io::Result<()>) {
        if self.failed {
            return (0, Err(io::ErrorKind::BrokenPipe.into()));
        }
        let mut done = 0;
        loop {
            if let Err(e) = self.send_tls_wait(timeout) {
                return (done, Err(e));
            }
            if done == buf.len() {
                return (done, Ok(()));
            }
            let end = buf.len().min(done + WRITE_CHUNK);
            match self.conn.writer().write(&buf[done..end]) {
                Ok(n) => done += n,
                Err(e) => return (done, Err(e)),
            }
        }
    }

    fn closing(&mut self) {
        if !self.failed && !self.conn.is_handshaking() {
            self.conn.send_close_notify();
        }
        let _ = self.send_tls();
    }

    fn shutdown_write(&mut self) {
        if !self.failed {
            self.conn.send_close_notify();
        }
        let _ = self.send_tls();
        self.tcp.shutdown_write();
    }

    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.tcp.register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.tcp.reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) {
        self.tcp.deregister(registry);
    }
}

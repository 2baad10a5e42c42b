//! Transports: what a session reads from and writes to. Plain TCP; TLS over TCP (feature
//! `tls`, in `tls.rs`); an in-memory pipe lets the session state machine be tested and fuzzed
//! without sockets.
//!
//! A transport is non-blocking by default. A handler that must wait on its client (a body
//! larger than the buffer, output beyond the pending budget) asks for one blocking read or
//! write with a timeout.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use socket2::SockRef;

use crate::hooks::SocketIo;

/// A session's byte stream.
pub(crate) trait Transport: Send {
    /// Reads without blocking: `WouldBlock` when nothing is there, `Ok(0)` at end of stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes without blocking: `WouldBlock` when there is no room.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Reads, waiting up to `timeout` for data (`WouldBlock` or `TimedOut` when none came).
    fn read_wait(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
    /// Writes all of `buf`, waiting up to `timeout` at a time for room; returns how much was
    /// written before an error.
    fn write_wait(&mut self, buf: &[u8], timeout: Duration) -> (usize, io::Result<()>);
    /// Stops sending (the write half closes; reading goes on).
    fn shutdown_write(&mut self);
    /// Whether bytes already accepted by [`write`](Transport::write) are still held inside
    /// the transport (TLS records the socket has not taken). The session waits for
    /// writability until they are out.
    fn holds_output(&self) -> bool {
        false
    }
    /// Writes what the transport holds, without blocking; `Ok(true)` if that made progress.
    fn flush(&mut self) -> io::Result<bool> {
        Ok(false)
    }
    /// The session is closing: say so if the protocol has words for it (TLS's
    /// close_notify), without blocking.
    fn closing(&mut self) {}
    /// Registers with the loop's poller. Transports that are not sockets do nothing: their
    /// owner drives them.
    fn register(&mut self, registry: &Registry, token: Token, interest: Interest)
        -> io::Result<()>;
    /// Changes what the poller reports.
    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()>;
    /// Leaves the poller.
    fn deregister(&mut self, registry: &Registry);
    /// Bytes already received below this transport but not yet returned by `read` (a custom
    /// transport's buffer): while non-zero, reading goes on without a readiness edge.
    fn pending(&mut self) -> usize {
        0
    }
    /// Sends up to `len` bytes of `file` from `*offset` (advanced by what was sent) without
    /// copying them through user space, without blocking. `None` when this transport cannot
    /// (the caller copies instead).
    fn send_file(
        &mut self,
        _file: &File,
        _offset: &mut u64,
        _len: usize,
    ) -> Option<io::Result<usize>> {
        None
    }
}

/// The transports a session may have, dispatched statically: a read or write on the hot
/// path is a match, not an indirect call. (TLS is boxed: its state is large, and a plain
/// session should not pay for it.)
pub(crate) enum Stream {
    Tcp(Tcp),
    /// TCP whose reads and writes a [`SocketIo`] may take over (the C API's overrides). Boxed:
    /// every session's `Stream` stays as small as plain TCP's.
    Hooked(Box<Hooked>),
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::Tls>),
    /// TLS over the in-memory pipe (session tests and fuzzing).
    #[cfg(all(feature = "tls", any(test, feature = "fuzzing")))]
    TlsPipe(Box<super::tls::Tls<super::pipe::Pipe>>),
    #[cfg(any(test, feature = "fuzzing"))]
    Pipe(super::pipe::Pipe),
    /// The worker's side of a relay: the session's handler runs on a worker while the loop
    /// keeps the socket (see `relay.rs`).
    Relay(Box<super::relay::Relay>),
}

/// Calls `$method` on whichever transport `$stream` holds.
macro_rules! dispatch {
    ($stream:expr, $t:ident => $call:expr) => {
        match $stream {
            Stream::Tcp($t) => $call,
            #[cfg(feature = "tls")]
            Stream::Tls($t) => $call,
            #[cfg(all(feature = "tls", any(test, feature = "fuzzing")))]
            Stream::TlsPipe($t) => $call,
            Stream::Hooked($t) => $call,
            #[cfg(any(test, feature = "fuzzing"))]
            Stream::Pipe($t) => $call,
            Stream::Relay($t) => $call,
        }
    };
}

/// Calls `$method` on the socket-level transport: a hooked TCP stream registers, shuts down
/// and leaves the poller as plain TCP does.
macro_rules! dispatch_socket {
    ($stream:expr, $t:ident => $call:expr) => {
        match $stream {
            Stream::Tcp($t) => $call,
            Stream::Hooked(h) => {
                let $t = &mut h.tcp;
                $call
            }
            #[cfg(feature = "tls")]
            Stream::Tls($t) => $call,
            #[cfg(all(feature = "tls", any(test, feature = "fuzzing")))]
            Stream::TlsPipe($t) => $call,
            #[cfg(any(test, feature = "fuzzing"))]
            Stream::Pipe($t) => $call,
            Stream::Relay($t) => $call,
        }
    };
}

impl Stream {
    /// A second handle on the socket (a duplicated descriptor), with which the loop can cut a
    /// connection whose session is away on another thread. `None` for transports that are not
    /// sockets, or when no descriptor is left.
    pub(crate) fn cutoff_handle(&self) -> Option<socket2::Socket> {
        match self {
            Stream::Tcp(t) => SockRef::from(&t.0).try_clone().ok(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => SockRef::from(t.socket()).try_clone().ok(),
            #[cfg(all(feature = "tls", any(test, feature = "fuzzing")))]
            Stream::TlsPipe(_) => None,
            Stream::Hooked(h) => SockRef::from(&h.tcp.0).try_clone().ok(),
            #[cfg(any(test, feature = "fuzzing"))]
            Stream::Pipe(_) => None,
            // The loop keeps the socket of a session on a worker.
            Stream::Relay(_) => None,
        }
    }
}

impl Transport for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        dispatch!(self, t => t.read(buf))
    }

    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        dispatch!(self, t => t.write(buf))
    }

    fn read_wait(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        dispatch!(self, t => t.read_wait(buf, timeout))
    }

    fn write_wait(&mut self, buf: &[u8], timeout: Duration) -> (usize, io::Result<()>) {
        dispatch!(self, t => t.write_wait(buf, timeout))
    }

    fn shutdown_write(&mut self) {
        dispatch_socket!(self, t => t.shutdown_write())
    }

    #[inline]
    fn holds_output(&self) -> bool {
        dispatch!(self, t => t.holds_output())
    }

    fn flush(&mut self) -> io::Result<bool> {
        dispatch!(self, t => t.flush())
    }

    fn closing(&mut self) {
        dispatch!(self, t => t.closing())
    }

    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        dispatch_socket!(self, t => t.register(registry, token, interest))
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        dispatch_socket!(self, t => t.reregister(registry, token, interest))
    }

    fn deregister(&mut self, registry: &Registry) {
        dispatch_socket!(self, t => t.deregister(registry))
    }

    fn pending(&mut self) -> usize {
        dispatch!(self, t => t.pending())
    }

    #[inline]
    fn send_file(
        &mut self,
        file: &File,
        offset: &mut u64,
        len: usize,
    ) -> Option<io::Result<usize>> {
        dispatch!(self, t => t.send_file(file, offset, len))
    }
}

impl Stream {
    /// Whether a TLS handshake is still to be done before the session reads requests.
    #[cfg(feature = "tls")]
    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            Stream::Tls(t) => t.is_handshaking(),
            #[cfg(any(test, feature = "fuzzing"))]
            Stream::TlsPipe(t) => t.is_handshaking(),
            _ => false,
        }
    }

    /// Advances a TLS handshake without blocking: `Ok(true)` once complete (always, for
    /// transports without one).
    #[cfg(feature = "tls")]
    pub(crate) fn handshake(&mut self) -> io::Result<bool> {
        match self {
            Stream::Tls(t) => t.handshake(),
            #[cfg(any(test, feature = "fuzzing"))]
            Stream::TlsPipe(t) => t.handshake(),
            _ => Ok(true),
        }
    }

    /// What the TLS handshake settled; `None` for plain transports.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_info(&self) -> Option<crate::tls::TlsInfo> {
        match self {
            Stream::Tls(t) => t.info(),
            #[cfg(any(test, feature = "fuzzing"))]
            Stream::TlsPipe(t) => t.info(),
            Stream::Relay(r) => r.facts.tls.clone(),
            _ => None,
        }
    }
}

/// Plain TCP.
pub(crate) struct Tcp(pub(crate) TcpStream);

impl Tcp {
    /// Runs `f` with the socket in blocking mode and `timeout` set for the direction `f` uses.
    fn blocking<R>(
        &mut self,
        timeout: Duration,
        read: bool,
        f: impl FnOnce(&TcpStream) -> R,
    ) -> io::Result<R> {
        enter_blocking(&self.0, timeout, read)?;
        let result = f(&self.0);
        SockRef::from(&self.0).set_nonblocking(true)?;
        Ok(result)
    }
}

/// Puts the socket in blocking mode with `timeout` for reads (`read`) or writes.
fn enter_blocking(stream: &TcpStream, timeout: Duration, read: bool) -> io::Result<()> {
    let sock = SockRef::from(stream);
    if read {
        sock.set_read_timeout(Some(timeout))?;
    } else {
        sock.set_write_timeout(Some(timeout))?;
    }
    sock.set_nonblocking(false)
}

/// Writes all of `buf` with `write`; returns how much was written before an error.
fn write_all_with(
    buf: &[u8],
    mut write: impl FnMut(&[u8]) -> io::Result<usize>,
) -> (usize, io::Result<()>) {
    let mut done = 0;
    while done < buf.len() {
        match retry(|| write(&buf[done..])) {
            Ok(0) => return (done, Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => done += n,
            Err(e) => return (done, Err(e)),
        }
    }
    (done, Ok(()))
}

fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

impl Transport for Tcp {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| self.0.read(buf))
    }

    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        retry(|| self.0.write(buf))
    }

    fn read_wait(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        match self.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
        self.blocking(timeout, true, |mut s| retry(|| s.read(buf)))?
    }

    fn write_wait(&mut self, buf: &[u8], timeout: Duration) -> (usize, io::Result<()>) {
        match self.blocking(timeout, false, |mut s| write_all_with(buf, |b| s.write(b))) {
            Ok(result) => result,
            Err(e) => (0, Err(e)),
        }
    }

    fn shutdown_write(&mut self) {
        let _ = self.0.shutdown(Shutdown::Write);
    }

    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        registry.register(&mut self.0, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        registry.reregister(&mut self.0, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.0);
    }

    /// `sendfile(2)`: the kernel moves the file's pages to the socket.
    #[cfg(target_os = "linux")]
    fn send_file(
        &mut self,
        file: &File,
        offset: &mut u64,
        len: usize,
    ) -> Option<io::Result<usize>> {
        Some(retry(|| {
            rustix::fs::sendfile(&self.0, file, Some(&mut *offset), len).map_err(io::Error::from)
        }))
    }
}

// ---- raw-socket hooks (the C API: descriptors and transport overrides) ----------------------

impl Stream {
    /// The OS descriptor of a socket transport.
    pub(crate) fn raw_fd(&self) -> Option<RawFd> {
        match self {
            Stream::Tcp(t) => Some(t.0.as_raw_fd()),
            Stream::Hooked(h) => Some(h.tcp.0.as_raw_fd()),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => Some(t.socket().as_raw_fd()),
            #[cfg(all(feature = "tls", any(test, feature = "fuzzing")))]
            Stream::TlsPipe(_) => None,
            #[cfg(any(test, feature = "fuzzing"))]
            Stream::Pipe(_) => None,
            Stream::Relay(r) => r.facts.fd,
        }
    }

    /// Gives up the socket of a finished session: the caller owns (and closes) it from now on.
    pub(crate) fn into_owned_fd(self) -> Option<OwnedFd> {
        match self {
            Stream::Tcp(t) => Some(OwnedFd::from(t.0)),
            Stream::Hooked(h) => Some(OwnedFd::from(h.tcp.0)),
            // Only at the end of a session (`socket_closed`): the TLS state goes, and the
            // socket goes to the hook, which closes it (the C API's `close_fn` does, once).
            #[cfg(feature = "tls")]
            Stream::Tls(t) => Some(OwnedFd::from(t.into_socket())),
            #[cfg(all(feature = "tls", any(test, feature = "fuzzing")))]
            Stream::TlsPipe(_) => None,
            #[cfg(any(test, feature = "fuzzing"))]
            Stream::Pipe(_) => None,
            Stream::Relay(_) => None,
        }
    }

    /// Lays `io` over a TCP transport; other transports are left as they are.
    pub(crate) fn hooked(self, io: Box<dyn SocketIo>) -> Stream {
        match self {
            Stream::Tcp(tcp) => Stream::Hooked(Box::new(Hooked { tcp, io })),
            other => other,
        }
    }
}

/// A hooked stream holds nothing back and has nothing to say when closing (the methods a
/// TLS transport needs, which `dispatch!` calls on every transport).
impl Hooked {
    fn holds_output(&self) -> bool {
        false
    }

    fn flush(&mut self) -> io::Result<bool> {
        Ok(false)
    }

    fn closing(&mut self) {}
}

/// TCP with a [`SocketIo`] that may receive and send in the server's place.
pub(crate) struct Hooked {
    tcp: Tcp,
    io: Box<dyn SocketIo>,
}

impl Hooked {
    fn recv_once(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let fd = self.tcp.0.as_raw_fd();
        match self.io.recv(fd, buf) {
            Some(r) => r,
            None => self.tcp.read(buf),
        }
    }

    fn send_once(&mut self, buf: &[u8]) -> io::Result<usize> {
        let fd = self.tcp.0.as_raw_fd();
        match self.io.send(fd, buf) {
            Some(r) => r,
            None => self.tcp.write(buf),
        }
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| self.recv_once(buf))
    }

    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        retry(|| self.send_once(buf))
    }

    pub(crate) fn read_wait(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        match self.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
        enter_blocking(&self.tcp.0, timeout, true)?;
        let result = retry(|| self.recv_once(buf));
        SockRef::from(&self.tcp.0).set_nonblocking(true)?;
        result
    }

    pub(crate) fn write_wait(&mut self, buf: &[u8], timeout: Duration) -> (usize, io::Result<()>) {
        if let Err(e) = enter_blocking(&self.tcp.0, timeout, false) {
            return (0, Err(e));
        }
        let (done, result) = write_all_with(buf, |b| self.send_once(b));
        let restored = SockRef::from(&self.tcp.0).set_nonblocking(true);
        (done, result.and(restored))
    }

    pub(crate) fn pending(&mut self) -> usize {
        let fd = self.tcp.0.as_raw_fd();
        self.io.pending(fd)
    }

    /// Never: file bytes go through `write`, so a send override sees them.
    pub(crate) fn send_file(
        &mut self,
        _file: &File,
        _offset: &mut u64,
        _len: usize,
    ) -> Option<io::Result<usize>> {
        None
    }
}

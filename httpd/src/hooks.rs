//! Raw-socket hooks, for bindings that name connections by their operating-system descriptor
//! (ESP-IDF's C API, `httpd-capi`): the descriptor of each accepted connection, ownership of it
//! when the session ends, and per-session overrides of how bytes are received and sent.
//!
//! Everything here is safe Rust: descriptors are handed out as [`RawFd`] numbers (which only
//! name a socket) and as [`OwnedFd`] (which owns it). Uses `types` only.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{OwnedFd, RawFd};

use crate::types::SessionId;

/// Callbacks with the OS descriptor of each connection, set with
/// [`ConfigBuilder::socket_hooks`](crate::ConfigBuilder::socket_hooks). They run on the server
/// thread; `opened` runs before [`on_open`](crate::ConfigBuilder::on_open), `closed` after
/// [`on_close`](crate::ConfigBuilder::on_close) and before the session context is dropped.
pub trait SocketHooks: Send + Sync + 'static {
    /// A connection was accepted as session `id`, on socket `fd` (valid until `closed` for
    /// this id). Return `false` to refuse it: `closed` still runs for the id. A returned
    /// [`SocketIo`] replaces the session's reads and writes (see there).
    fn opened(&self, id: SessionId, peer: SocketAddr, fd: RawFd) -> Opened;

    /// Session `id` has ended (closed, purged, refused, or the server stopped). `socket` is its
    /// descriptor, deregistered from the server's poller and now owned by the hook: dropping it
    /// closes the connection; a binding whose user code closes descriptors itself turns it into
    /// a number with [`IntoRawFd`](std::os::fd::IntoRawFd), so the server never closes it a
    /// second time (a later connection may reuse the number). `None` for transports that are
    /// not sockets.
    fn closed(&self, id: SessionId, socket: Option<OwnedFd>);
}

/// What [`SocketHooks::opened`] decides.
#[derive(Default)]
#[non_exhaustive]
pub enum Opened {
    /// Serve the connection with the server's own socket reads and writes.
    #[default]
    Accept,
    /// Serve it, with this session's reads and writes going through `SocketIo`.
    AcceptWith(Box<dyn SocketIo>),
    /// Refuse it (the connection is closed at once; `closed` still runs).
    Refuse,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Opened::Accept => "Accept",
            Opened::AcceptWith(_) => "AcceptWith(..)",
            Opened::Refuse => "Refuse",
        })
    }
}

/// A session's own way to receive and send bytes on its socket (ESP-IDF's
/// `httpd_sess_set_recv_override` / `send_override` / `pending_override`): a custom transport
/// laid over the descriptor, e.g. a TLS library that reads and writes the socket itself.
///
/// The socket is non-blocking, except while a handler waits on its client: then it is in
/// blocking mode with `SO_RCVTIMEO` / `SO_SNDTIMEO` set to the server's timeouts, so an
/// implementation that calls `recv`/`send` on `fd` waits as the server would.
pub trait SocketIo: Send {
    /// Receives into `buf`. `Ok(0)` is the end of the stream; an error of kind
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) says nothing is there yet. `None` means "not
    /// overridden": the server reads the socket itself.
    fn recv(&mut self, fd: RawFd, buf: &mut [u8]) -> Option<io::Result<usize>>;

    /// Sends from `buf`, returning how much was taken (`WouldBlock` when there is no room).
    /// `None` means "not overridden".
    fn send(&mut self, fd: RawFd, buf: &[u8]) -> Option<io::Result<usize>>;

    /// Bytes the override holds already received but not yet returned by `recv` (a TLS
    /// record buffer): while non-zero, the server keeps reading without waiting for the socket
    /// to become readable. 0 when not overridden.
    fn pending(&mut self, fd: RawFd) -> usize;
}

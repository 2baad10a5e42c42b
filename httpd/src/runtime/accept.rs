//! Accepting connections: the table limit, LRU purge, socket options and `on_open`.

use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};
use socket2::SockRef;

use super::{arm, Core};
use crate::config::Config;
use crate::conn::session::Session;
use crate::conn::transport::{Stream, Tcp, Transport};
use crate::event::Event;
use crate::hooks::Opened;
use crate::types::SessionId;

/// Which listener a connection came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The configured port (TLS when configured).
    Main,
    /// The plain-HTTP port beside a TLS one.
    #[cfg(feature = "tls")]
    Plain,
}

/// Connections accepted per turn, so a connection flood cannot starve served sessions.
const ACCEPTS_PER_TURN: usize = 64;

impl Core {
    pub(super) fn accept(&mut self) {
        self.accept_from(Via::Main);
    }

    /// Whether a listener may have connections waiting.
    pub(super) fn any_listener_ready(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.plain.as_ref().is_some_and(|(_, ready)| *ready) {
            return true;
        }
        self.listener_ready
    }

    fn accept_from(&mut self, via: Via) {
        for _ in 0..ACCEPTS_PER_TURN {
            let full = self.sessions.len() >= self.config().max_open_sockets;
            if full && !self.config().lru_purge_enable {
                // Leave it in the backlog until a session closes.
                return;
            }
            let Some(listener) = self.listener_of(via) else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if full && !self.purge_lru() {
                        log::debug!("table full and nothing purgeable: refusing {peer}");
                        continue;
                    }
                    configure(&stream, self.config());
                    let Some(transport) = self.transport_for(stream, peer, via) else {
                        continue;
                    };
                    self.open(transport, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.set_listener_ready(via, false);
                    return;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    // Out of descriptors or memory: wait for the next edge (or a close).
                    log::warn!("accept: {e}");
                    self.set_listener_ready(via, false);
                    return;
                }
            }
        }
    }

    fn listener_of(&self, via: Via) -> Option<&TcpListener> {
        match via {
            Via::Main => self.listener.as_ref(),
            #[cfg(feature = "tls")]
            Via::Plain => self.plain.as_ref().map(|(l, _)| l),
        }
    }

    fn set_listener_ready(&mut self, via: Via, ready: bool) {
        match via {
            Via::Main => self.listener_ready = ready,
            #[cfg(feature = "tls")]
            Via::Plain => {
                if let Some((_, r)) = &mut self.plain {
                    *r = ready;
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

    /// Opens a session over `transport`, unless `on_open` refuses it. Returns its slot.
    pub(crate) fn open(&mut self, mut transport: Stream, peer: SocketAddr) -> Option<usize> {
        let config = &self.env.config;
        let id = self.sessions.next_id();
        if let Err(e) = transport.register(&self.registry, Token(id.slot()), Interest::READABLE) {
            log::warn!("register: {e}");
            return None;
        }
        // Raw-socket hooks (the C API) see the descriptor first and may lay a transport over it.
        let mut accepted = true;
        if let (Some(hooks), Some(fd)) = (&config.socket_hooks, transport.raw_fd()) {
            match catch_unwind(AssertUnwindSafe(|| hooks.opened(id, peer, fd))) {
                Ok(Opened::Accept) => {}
                Ok(Opened::AcceptWith(io)) => transport = transport.hooked(io),
                Ok(Opened::Refuse) => accepted = false,
                Err(_) => {
                    log::error!("socket hook panicked; refusing {peer}");
                    accepted = false;
                }
            }
        }
        if let Some(on_open) = config.on_open.as_ref().filter(|_| accepted) {
            accepted = catch_unwind(AssertUnwindSafe(|| on_open(id, peer))).unwrap_or_else(|_| {
                log::error!("on_open panicked; refusing {peer}");
                false
            });
        }
        if !accepted {
            log::debug!("on_open refused {peer}");
            // The id was shown to user code: it is used up, and paired with an on_close.
            self.sessions.burn_next_id();
            transport.deregister(&self.registry);
            if let Some(on_close) = &config.on_close {
                if catch_unwind(AssertUnwindSafe(|| on_close(id))).is_err() {
                    log::error!("on_close panicked");
                }
            }
            socket_closed(config, id, transport);
            config.events.emit(|| Event::Disconnected { id });
            return None;
        }
        self.lru_clock += 1;
        let mut session = Session::new(id, transport, peer, self.lru_clock);
        let deadline = match handshake_timeout(config, &session) {
            Some(t) => Some(self.now + t),
            None => config.idle_timeout.map(|t| self.now + t),
        };
        arm(&mut self.next_timer, &mut session, deadline);
        let slot = self.sessions.insert(session);
        self.shared.add_client(id);
        log::debug!("session {id} opened from {peer}");
        self.env
            .config
            .events
            .emit(|| Event::Connected { id, peer });
        Some(slot)
    }
}

#[cfg(feature = "tls")]
impl Core {
    /// Installs the plain-HTTP listener beside the TLS one.
    pub(crate) fn set_plain_listener(&mut self, mut listener: TcpListener) -> io::Result<()> {
        self.registry
            .register(&mut listener, super::PLAIN_LISTENER, Interest::READABLE)?;
        self.plain = Some((listener, false));
        Ok(())
    }

    pub(super) fn plain_ready(&mut self) {
        self.set_listener_ready(Via::Plain, true);
    }

    pub(super) fn accept_plain(&mut self) {
        if self.plain.as_ref().is_some_and(|(_, ready)| *ready) {
            self.accept_from(Via::Plain);
        }
    }
}

impl Core {
    /// The transport for an accepted connection: TLS when configured (and the connection came
    /// to the TLS listener), else plain TCP. `None` if TLS state cannot be made.
    fn transport_for(&self, stream: TcpStream, peer: SocketAddr, via: Via) -> Option<Stream> {
        #[cfg(feature = "tls")]
        if let (Some(tls), Via::Main) = (&self.config().tls, via) {
            return match crate::conn::tls::Tls::new(stream, std::sync::Arc::clone(&tls.server)) {
                Ok(t) => Some(Stream::Tls(Box::new(t))),
                Err(e) => {
                    log::warn!("TLS session for {peer}: {e}");
                    None
                }
            };
        }
        let _ = (peer, via);
        Some(Stream::Tcp(Tcp(stream)))
    }
}

/// The deadline of a new session's TLS handshake, if it has one to make.
fn handshake_timeout(
    config: &crate::config::Config,
    session: &Session,
) -> Option<std::time::Duration> {
    #[cfg(feature = "tls")]
    if session.transport.is_handshaking() {
        return config.tls.as_ref().map(|t| t.handshake_timeout);
    }
    let _ = (config, session);
    None
}

/// Socket options for an accepted connection.
fn configure(stream: &TcpStream, config: &crate::config::Config) {
    let _ = stream.set_nodelay(true);
    let sock = SockRef::from(stream);
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
}

/// Hands a finished session's socket to the raw-socket hooks, if any (otherwise it is dropped,
/// which closes it).
pub(super) fn socket_closed(config: &Config, id: SessionId, transport: Stream) {
    if let Some(hooks) = &config.socket_hooks {
        let socket = transport.into_owned_fd();
        if catch_unwind(AssertUnwindSafe(|| hooks.closed(id, socket))).is_err() {
            log::error!("socket hook panicked on close");
        }
    }
}

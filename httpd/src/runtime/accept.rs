//! Accepting connections: the table limit, LRU purge, socket options and `on_open`.

use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mio::net::TcpStream;
use mio::{Interest, Token};
use socket2::SockRef;

use super::{arm, Core};
use crate::config::Config;
use crate::conn::session::Session;
use crate::conn::transport::{Stream, Tcp, Transport};
use crate::event::Event;
use crate::hooks::Opened;
use crate::types::SessionId;

/// Connections accepted per turn, so a connection flood cannot starve served sessions.
const ACCEPTS_PER_TURN: usize = 64;

impl Core {
    pub(super) fn accept(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            let full = self.sessions.len() >= self.config().max_open_sockets;
            if full && !self.config().lru_purge_enable {
                // Leave it in the backlog until a session closes.
                return;
            }
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if full && !self.purge_lru() {
                        log::debug!("table full and nothing purgeable: refusing {peer}");
                        continue;
                    }
                    configure(&stream, self.config());
                    self.open(Stream::Tcp(Tcp(stream)), peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.listener_ready = false;
                    return;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    // Out of descriptors or memory: wait for the next edge (or a close).
                    log::warn!("accept: {e}");
                    self.listener_ready = false;
                    return;
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
        let idle = config.idle_timeout.map(|t| self.now + t);
        arm(&mut self.next_timer, &mut session, idle);
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

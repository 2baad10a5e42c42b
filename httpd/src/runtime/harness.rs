//! The loop's serving logic without sockets or a poller's events: sessions over in-memory
//! pipes, driven turn by turn. For the session fuzz target and randomized tests.

use std::any::Any;
use std::sync::{Arc, Weak};

use mio::Poll;

use super::shared::Shared;
use super::Core;
use crate::config::Config;
use crate::conn::pipe::{Pipe, PipeClient};
use crate::router::{Handler, Router};

/// A server core with no listener; clients connect through pipes.
pub(crate) struct Harness {
    core: Core,
    // Owns the registry the core holds a clone of (pipes never register with it).
    _poll: Poll,
}

impl Harness {
    /// A core serving `handlers` under `config`.
    ///
    /// # Panics
    /// When the poller cannot be created or a handler is refused.
    pub(crate) fn new(config: Config, handlers: Vec<Handler>) -> Harness {
        let poll = Poll::new().expect("a poller");
        let router = Router::new(config.uri_match.clone(), config.max_uri_handlers);
        for h in handlers {
            router.register(h).expect("handler registers");
        }
        let shared = Arc::new(Shared::new(router, config.max_open_sockets));
        let registry = poll.registry().try_clone().expect("registry");
        let server: Weak<dyn Any + Send + Sync> = Weak::<()>::new();
        let core = Core::new(registry, None, shared, config, server, None);
        Harness { core, _poll: poll }
    }

    /// Opens a session over a new pipe; `None` if the table refuses it.
    pub(crate) fn connect(&mut self) -> Option<(usize, PipeClient)> {
        let (pipe, client) = Pipe::pair();
        let slot = self.core.open(
            crate::conn::transport::Stream::Pipe(pipe),
            ([127, 0, 0, 1], 9).into(),
        )?;
        Some((slot, client))
    }

    /// Opens a TLS session (in its handshake) over a new pipe; `None` if the table refuses
    /// it.
    #[cfg(feature = "tls")]
    pub(crate) fn connect_tls(&mut self) -> Option<(usize, PipeClient)> {
        let server = std::sync::Arc::clone(&self.core.config().tls.as_ref()?.server);
        let (pipe, client) = Pipe::pair();
        let tls = crate::conn::tls::Tls::over(pipe, server).ok()?;
        let slot = self.core.open(
            crate::conn::transport::Stream::TlsPipe(Box::new(tls)),
            ([127, 0, 0, 1], 9).into(),
        )?;
        Some((slot, client))
    }

    /// Tells the session its transport may have bytes (what a readable event does; with
    /// `hung_up`, the event for the client's shutdown), then runs turns until no session is
    /// ready, at most `max_turns`.
    pub(crate) fn run(&mut self, slot: usize, hung_up: bool, max_turns: usize) {
        self.core.tick();
        if let Some(s) = self.core.sessions.get_mut(slot) {
            s.input.readable = true;
            s.input.read_closed |= hung_up;
            self.core.enqueue(slot);
        }
        for _ in 0..max_turns {
            if self.core.ready.is_empty() {
                break;
            }
            self.core.turn();
        }
    }

    /// Whether the session in `slot` has closed.
    pub(crate) fn closed(&self, slot: usize) -> bool {
        self.core.sessions.get(slot).is_none()
    }
}

//! Server events: what happened, reported to the observer set with
//! [`ConfigBuilder::on_event`](crate::ConfigBuilder::on_event). ESP-IDF posts the same moments
//! as `ESP_HTTP_SERVER_EVENT`s to its event loop.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::error::ErrorCode;
use crate::types::{Method, SessionId};

/// The observer of server events.
pub type OnEvent = dyn Fn(&Event<'_>) + Send + Sync;

/// Something that happened in the server, in the order it happened for each session.
///
/// For a keep-alive session: `Connected`, then for each request `RequestHead`, `BodyData` (as
/// the handler receives its body), `ResponseHead` and `DataSent` (as bytes reach the socket),
/// and at the end `Disconnected`. A connection refused by `on_open` gets `Disconnected` alone
/// (as ESP-IDF, which posts `ON_CONNECTED` only for accepted sockets); an error answered by the
/// server adds `Error` before its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The server is listening (ESP-IDF's `HTTP_SERVER_EVENT_START`).
    Started {
        /// The address it listens on.
        addr: SocketAddr,
    },
    /// A connection was accepted and `on_open` did not refuse it (`ON_CONNECTED`).
    Connected {
        /// The new session.
        id: SessionId,
        /// The client's address.
        peer: SocketAddr,
    },
    /// A request head arrived and parsed (`ON_HEADER`).
    RequestHead {
        /// The session.
        id: SessionId,
        /// The request's method.
        method: Method,
        /// The request target as sent (path and query).
        uri: &'a str,
    },
    /// A response head was queued for sending (`HEADERS_SENT`).
    ResponseHead {
        /// The session.
        id: SessionId,
        /// The response's status code.
        status: u16,
    },
    /// A handler received this many body bytes (`ON_DATA`).
    BodyData {
        /// The session.
        id: SessionId,
        /// Bytes received.
        len: usize,
    },
    /// This many bytes were written to the connection (`SENT_DATA`).
    DataSent {
        /// The session.
        id: SessionId,
        /// Bytes written.
        len: usize,
    },
    /// The session closed (`DISCONNECTED`), after its `on_close`.
    Disconnected {
        /// The session.
        id: SessionId,
    },
    /// The server stopped: every session is closed (`HTTP_SERVER_EVENT_STOP`).
    Stopped,
    /// The server answered a request with an error status, or a handler failed (`ERROR`).
    Error {
        /// The session.
        id: SessionId,
        /// The error, as the status sent (or that would have been sent before a close).
        code: ErrorCode,
    },
}

/// The configured observer, if any: emitting to none costs one branch.
#[derive(Clone, Default)]
pub(crate) struct Emitter(Option<Arc<OnEvent>>);

impl Emitter {
    pub(crate) fn new(f: Option<Arc<OnEvent>>) -> Self {
        Emitter(f)
    }

    /// Reports the event `f` makes, if anyone listens. A panicking observer is logged and
    /// otherwise ignored.
    #[inline]
    pub(crate) fn emit<'a>(&self, f: impl FnOnce() -> Event<'a>) {
        if let Some(observer) = &self.0 {
            Self::call(observer, &f());
        }
    }

    #[cold]
    fn call(observer: &Arc<OnEvent>, event: &Event<'_>) {
        let run = std::panic::AssertUnwindSafe(|| observer(event));
        if std::panic::catch_unwind(run).is_err() {
            log::error!("on_event panicked on {event:?}");
        }
    }
}

impl fmt::Debug for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Emitter(set)"
        } else {
            "Emitter(none)"
        })
    }
}

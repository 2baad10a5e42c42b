//! The handler registry and URI matching (exact, ESP-IDF wildcard, or a user function).
//!
//! The table is copy-on-write: registration builds a new table and publishes it; the server
//! thread picks up the new one before its next dispatch. Handlers can therefore register or
//! unregister handlers (even themselves) while running, without locks held across a call.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::api::request::Request;
use crate::api::ws::{WsEndpoint, WsHandler};
use crate::types::{Method, UriMatch};
use crate::{Error, ErrorCode};

/// A request handler: runs on the server thread with the request; `Err` closes the connection
/// (after an error page if no response was started, unless the failure policy says otherwise).
pub(crate) type HandlerFn = Arc<dyn Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync>;
/// A custom error handler: `Ok` keeps the connection open when the request allows it, `Err`
/// closes it.
pub(crate) type ErrHandlerFn =
    Arc<dyn Fn(&mut Request<'_>, ErrorCode) -> Result<(), Error> + Send + Sync>;

/// A URI handler to register: ESP-IDF's `httpd_uri_t`, with the user context captured by the
/// closure.
///
/// ```
/// use httpd::{Handler, Method};
/// let hello = Handler::new("/hello", Method::Get, |req| req.send_str("Hello World!"));
/// assert_eq!(hello.uri(), "/hello");
/// ```
#[derive(Clone)]
pub struct Handler {
    uri: String,
    method: Method,
    kind: Kind,
    /// This handler's own matcher; the server-wide one when `None`.
    matcher: Option<UriMatch>,
}

/// What a registered URI does.
#[derive(Clone)]
pub(crate) enum Kind {
    Http(HandlerFn, Placement),
    WebSocket(Arc<WsEndpoint>),
}

/// Where an HTTP handler runs (see [`Handler::blocking`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// On the server thread, unless the body is larger than the buffer or the server runs
    /// every handler on the pool.
    Auto,
    /// Always on a worker.
    Pool,
    /// On the server thread even when the server runs handlers on the pool (still on a worker
    /// for a body larger than the buffer, which `recv` would wait for).
    Loop,
}

impl Handler {
    /// A handler for `uri` and `method` ([`Method::Any`] for every method).
    pub fn new(
        uri: impl Into<String>,
        method: Method,
        f: impl Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        Handler {
            uri: uri.into(),
            method,
            kind: Kind::Http(Arc::new(f), Placement::Auto),
            matcher: None,
        }
    }

    /// Runs this handler on the worker pool (see
    /// [`worker_threads`](crate::ConfigBuilder::worker_threads)), never on the server thread:
    /// for handlers that take long without waiting on their client (a database call, a large
    /// file read, computation), which would otherwise hold up every other client while they
    /// run. The handler is written as any other; its `recv` and `send` wait only for its own
    /// client. Requests of one connection are still answered in order. Without a pool
    /// (`worker_threads(0)`) it runs on the server thread, as does a WebSocket endpoint's
    /// handler whatever it is marked.
    ///
    /// ```
    /// use httpd::{Handler, Method};
    /// let report = Handler::new("/report", Method::Get, |req| {
    ///     let total: u64 = (0..1_000_000u64).sum(); // slow work, off the server thread
    ///     req.send_str(&total.to_string())
    /// })
    /// .blocking();
    /// # let _ = report;
    /// ```
    pub fn blocking(mut self) -> Self {
        if let Kind::Http(_, placement) = &mut self.kind {
            *placement = Placement::Pool;
        }
        self
    }

    /// Keeps this handler on the server thread even when the server runs handlers on the pool
    /// ([`handlers_on_pool`](crate::ConfigBuilder::handlers_on_pool)): for quick handlers that
    /// never wait (no slow work, small responses), which then answer without a thread switch.
    /// A request whose body is larger than `body_buffer_len` still goes to a worker, since
    /// reading it may wait for the client.
    pub fn nonblocking(mut self) -> Self {
        if let Kind::Http(_, placement) = &mut self.kind {
            *placement = Placement::Loop;
        }
        self
    }

    /// Matches this handler's URI with `m` instead of the server-wide
    /// [`uri_match`](crate::ConfigBuilder::uri_match): one `/static/*` route can use wildcards
    /// while every other route stays exact.
    ///
    /// ```
    /// use httpd::{Handler, Method, UriMatch};
    /// let files = Handler::new("/static/*", Method::Get, |req| req.send_str("file"))
    ///     .with_match(UriMatch::Wildcard);
    /// # let _ = files;
    /// ```
    pub fn with_match(mut self, m: UriMatch) -> Self {
        self.matcher = Some(m);
        self
    }

    pub(crate) fn websocket(uri: String, endpoint: Arc<WsEndpoint>) -> Self {
        Handler {
            uri,
            method: Method::Get,
            kind: Kind::WebSocket(endpoint),
            matcher: None,
        }
    }

    /// The URI template.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The method it answers.
    pub fn method(&self) -> Method {
        self.method
    }
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("uri", &self.uri)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl From<WsHandler> for Handler {
    fn from(ws: WsHandler) -> Handler {
        Handler::websocket(ws.uri, Arc::new(ws.endpoint))
    }
}

/// The result of routing a request.
pub(crate) enum Route<'a> {
    Found(&'a Kind),
    /// Some handler matches the path, none the method: 405 with `Allow`.
    MethodNotAllowed(Allowed),
    /// `OPTIONS` for a path (or `*`) with handlers but none for `OPTIONS`: the server answers
    /// 204 with `Allow`.
    Options(Allowed),
    /// A method no handler could serve here and the server does not implement (`CONNECT`).
    NotImplemented,
    NotFound,
}

/// The methods a path answers, for an `Allow` header (RFC 9110 10.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Allowed(u16);

impl Allowed {
    const ORDER: [Method; 9] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Options,
        Method::Patch,
        Method::Trace,
        Method::Connect,
    ];

    #[inline]
    fn add(&mut self, m: Method) {
        self.0 |= match m {
            Method::Any => (1 << Self::ORDER.len()) - 1,
            // A GET handler answers HEAD too.
            Method::Get => 0b11,
            m => Self::ORDER
                .iter()
                .position(|&o| o == m)
                .map_or(0, |i| 1 << i),
        };
    }

    /// The `Allow` value: the methods in a fixed order, comma-separated.
    pub(crate) fn header_value(self) -> String {
        let names: Vec<&str> = Self::ORDER
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, m)| m.as_str())
            .collect();
        names.join(", ")
    }
}

/// One immutable version of the handler table.
#[derive(Clone)]
pub(crate) struct Table {
    handlers: Vec<Handler>,
    err_handlers: [Option<ErrHandlerFn>; ErrorCode::ALL.len()],
    matcher: UriMatch,
    max: usize,
}

impl Table {
    #[inline]
    pub(crate) fn route(&self, method: Method, path: &[u8]) -> Route<'_> {
        let mut allowed = Allowed::default();
        let mut get_fallback = None;
        for h in &self.handlers {
            if !self.matcher_of(h).matches_bytes(&h.uri, path) {
                continue;
            }
            if h.method == method || h.method == Method::Any {
                return Route::Found(&h.kind);
            }
            if method == Method::Head && h.method == Method::Get && get_fallback.is_none() {
                get_fallback = Some(&h.kind);
            }
            allowed.add(h.method);
        }
        match get_fallback {
            Some(f) => Route::Found(f),
            None if method == Method::Options && path == b"*" => {
                let mut all = Allowed::default();
                for h in &self.handlers {
                    all.add(h.method);
                }
                all.add(Method::Options);
                Route::Options(all)
            }
            None if allowed != Allowed::default() && method == Method::Options => {
                allowed.add(Method::Options);
                Route::Options(allowed)
            }
            None if allowed != Allowed::default() => Route::MethodNotAllowed(allowed),
            None if method == Method::Connect => Route::NotImplemented,
            None => Route::NotFound,
        }
    }

    fn matcher_of<'a>(&'a self, h: &'a Handler) -> &'a UriMatch {
        h.matcher.as_ref().unwrap_or(&self.matcher)
    }

    pub(crate) fn err_handler(&self, code: ErrorCode) -> Option<&ErrHandlerFn> {
        self.err_handlers[code.index()].as_ref()
    }

    fn register(&mut self, handler: Handler) -> Result<(), Error> {
        let clash = self.handlers.iter().any(|h| {
            (h.method == handler.method || h.method == Method::Any)
                && self.matcher_of(h).matches(&h.uri, &handler.uri)
        });
        if clash {
            return Err(Error::HandlerExists);
        }
        if self.handlers.len() >= self.max {
            return Err(Error::HandlerTableFull);
        }
        self.handlers.push(handler);
        Ok(())
    }

    fn unregister(&mut self, uri: &str, method: Option<Method>) -> Result<(), Error> {
        let before = self.handlers.len();
        self.handlers
            .retain(|h| !(h.uri == uri && method.is_none_or(|m| m == h.method)));
        if self.handlers.len() == before {
            return Err(Error::HandlerNotFound);
        }
        Ok(())
    }
}

/// The shared, versioned handler table.
pub(crate) struct Router {
    current: Mutex<Arc<Table>>,
    /// Bumped after each publication, so the server thread can notice a new table with one load.
    version: AtomicU64,
}

impl Router {
    pub(crate) fn new(matcher: UriMatch, max: usize) -> Self {
        Router {
            current: Mutex::new(Arc::new(Table {
                handlers: Vec::new(),
                err_handlers: Default::default(),
                matcher,
                max,
            })),
            version: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Arc<Table>> {
        // A panic while holding the lock cannot leave a half-built table: edits happen on a
        // copy that is published in one assignment.
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The current table and its version.
    pub(crate) fn snapshot(&self) -> (Arc<Table>, u64) {
        let table = self.lock();
        (Arc::clone(&table), self.version())
    }

    fn edit(&self, f: impl FnOnce(&mut Table) -> Result<(), Error>) -> Result<(), Error> {
        let mut current = self.lock();
        let mut next = Table::clone(&current);
        f(&mut next)?;
        *current = Arc::new(next);
        self.version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub(crate) fn register(&self, handler: Handler) -> Result<(), Error> {
        self.edit(|t| t.register(handler))
    }

    pub(crate) fn unregister(&self, uri: &str, method: Option<Method>) -> Result<(), Error> {
        self.edit(|t| t.unregister(uri, method))
    }

    pub(crate) fn set_err_handler(&self, code: ErrorCode, f: Option<ErrHandlerFn>) {
        let _ = self.edit(|t| {
            t.err_handlers[code.index()] = f;
            Ok(())
        });
    }

    /// Drops every handler (on stop).
    pub(crate) fn clear(&self) {
        let _ = self.edit(|t| {
            t.handlers.clear();
            t.err_handlers = Default::default();
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(uri: &str, method: Method) -> Handler {
        Handler::new(uri, method, |_| Ok(()))
    }

    /// The status and `Allow` value a route answers with.
    fn allow(route: Route<'_>) -> String {
        match route {
            Route::MethodNotAllowed(a) => format!("405 {}", a.header_value()),
            Route::Options(a) => format!("204 {}", a.header_value()),
            _ => "other".to_owned(),
        }
    }

    #[test]
    fn register_route_and_unregister() {
        let router = Router::new(UriMatch::Exact, 3);
        router.register(handler("/a", Method::Get)).unwrap();
        router.register(handler("/a", Method::Post)).unwrap();
        assert!(matches!(
            router.register(handler("/a", Method::Get)),
            Err(Error::HandlerExists)
        ));
        router.register(handler("/b", Method::Any)).unwrap();
        assert!(matches!(
            router.register(handler("/c", Method::Get)),
            Err(Error::HandlerTableFull)
        ));

        let (t, _) = router.snapshot();
        assert!(matches!(t.route(Method::Get, b"/a"), Route::Found(_)));
        assert!(matches!(t.route(Method::Head, b"/a"), Route::Found(_)));
        assert_eq!(allow(t.route(Method::Put, b"/a")), "405 GET, HEAD, POST");
        assert_eq!(
            allow(t.route(Method::Options, b"/a")),
            "204 GET, HEAD, POST, OPTIONS"
        );
        assert_eq!(
            allow(t.route(Method::Options, b"*")),
            "204 GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE, CONNECT"
        );
        assert!(matches!(t.route(Method::Options, b"/b"), Route::Found(_)));
        assert!(matches!(t.route(Method::Options, b"/c"), Route::NotFound));
        assert!(matches!(
            t.route(Method::Connect, b"c:443"),
            Route::NotImplemented
        ));
        assert!(matches!(t.route(Method::Delete, b"/b"), Route::Found(_)));
        assert!(matches!(t.route(Method::Get, b"/c"), Route::NotFound));

        let v = router.version();
        router.unregister("/a", Some(Method::Get)).unwrap();
        assert!(router.version() > v);
        assert!(matches!(
            router.unregister("/a", Some(Method::Get)),
            Err(Error::HandlerNotFound)
        ));
        let (t, _) = router.snapshot();
        assert_eq!(allow(t.route(Method::Get, b"/a")), "405 POST");
        router.unregister("/a", None).unwrap();
        let (t, _) = router.snapshot();
        assert!(matches!(t.route(Method::Post, b"/a"), Route::NotFound));
    }

    #[test]
    fn wildcard_registration_refuses_uris_already_matched() {
        let router = Router::new(UriMatch::Wildcard, 8);
        router.register(handler("/files/*", Method::Get)).unwrap();
        assert!(matches!(
            router.register(handler("/files/x", Method::Get)),
            Err(Error::HandlerExists)
        ));
        router.register(handler("/files/x", Method::Put)).unwrap();
        let (t, _) = router.snapshot();
        assert!(matches!(
            t.route(Method::Get, b"/files/deep/er"),
            Route::Found(_)
        ));
    }
}

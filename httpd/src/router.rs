//! The handler registry and URI matching (exact, ESP-IDF wildcard, or a user function).
//!
//! The table is copy-on-write: registration builds a new table and publishes it; the server
//! thread picks up the new one before its next dispatch. Handlers can therefore register or
//! unregister handlers (even themselves) while running, without locks held across a call.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::request::Request;
use crate::ws::WsEndpoint;
use crate::{Error, ErrorCode, Method};

/// A request handler: runs on the server thread with the request; `Err` closes the connection
/// (after a 500 if no response was started).
pub(crate) type HandlerFn = Arc<dyn Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync>;
/// A custom error handler: `Ok` keeps the connection open when the request allows it, `Err`
/// closes it.
pub(crate) type ErrHandlerFn =
    Arc<dyn Fn(&mut Request<'_>, ErrorCode) -> Result<(), Error> + Send + Sync>;

/// How a registered URI template matches a request path (the target without its query).
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum UriMatch {
    /// The path equals the template.
    #[default]
    Exact,
    /// ESP-IDF's `httpd_uri_match_wildcard`: a trailing `*` matches any suffix, a trailing `?`
    /// makes the character before it optional, `?*` / `*?` at the end combine both; `*` and `?`
    /// elsewhere are literal.
    Wildcard,
    /// A user function `(template, path) -> matches`.
    Custom(Arc<dyn Fn(&str, &str) -> bool + Send + Sync>),
}

impl UriMatch {
    /// A custom matcher from a function `(template, path) -> matches`.
    pub fn custom(f: impl Fn(&str, &str) -> bool + Send + Sync + 'static) -> Self {
        UriMatch::Custom(Arc::new(f))
    }

    /// Whether `template` matches `path` under this rule.
    ///
    /// ```
    /// use httpd::UriMatch;
    /// assert!(UriMatch::Wildcard.matches("/path/?*", "/path"));
    /// assert!(UriMatch::Wildcard.matches("/path/?*", "/path/abc"));
    /// assert!(!UriMatch::Wildcard.matches("/path/?*", "/pathb"));
    /// ```
    pub fn matches(&self, template: &str, path: &str) -> bool {
        self.matches_bytes(template, path.as_bytes())
    }

    /// On the request's bytes: only a custom matcher needs the path as text.
    fn matches_bytes(&self, template: &str, path: &[u8]) -> bool {
        match self {
            UriMatch::Exact => template.as_bytes() == path,
            UriMatch::Wildcard => wildcard_match(template, path),
            UriMatch::Custom(f) => std::str::from_utf8(path).is_ok_and(|p| f(template, p)),
        }
    }
}

impl fmt::Debug for UriMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriMatch::Exact => f.write_str("Exact"),
            UriMatch::Wildcard => f.write_str("Wildcard"),
            UriMatch::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

fn wildcard_match(template: &str, p: &[u8]) -> bool {
    let t = template.as_bytes();
    let (star, quest, base) = match t {
        [.., b'*', b'?'] | [.., b'?', b'*'] => (true, true, t.len() - 2),
        [.., b'*'] => (true, false, t.len() - 1),
        [.., b'?'] => (false, true, t.len() - 1),
        _ => (false, false, t.len()),
    };
    if !quest {
        return if star {
            p.starts_with(&t[..base])
        } else {
            p == t
        };
    }
    // `?` needs a character before it to make optional.
    let Some(optional_at) = base.checked_sub(1) else {
        return false;
    };
    let Some(rest) = p.strip_prefix(&t[..optional_at]) else {
        return false;
    };
    match rest {
        [] => true,
        [c, tail @ ..] if *c == t[optional_at] => star || tail.is_empty(),
        _ => false,
    }
}

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
}

/// What a registered URI does.
#[derive(Clone)]
pub(crate) enum Kind {
    Http(HandlerFn),
    WebSocket(Arc<WsEndpoint>),
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
            kind: Kind::Http(Arc::new(f)),
        }
    }

    pub(crate) fn websocket(uri: String, endpoint: Arc<WsEndpoint>) -> Self {
        Handler {
            uri,
            method: Method::Get,
            kind: Kind::WebSocket(endpoint),
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

/// The result of routing a request.
pub(crate) enum Route<'a> {
    Found(&'a Kind),
    /// Some handler matches the path, none the method.
    MethodNotAllowed,
    NotFound,
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
    pub(crate) fn route(&self, method: Method, path: &[u8]) -> Route<'_> {
        let mut path_matched = false;
        let mut get_fallback = None;
        for h in &self.handlers {
            if !self.matcher.matches_bytes(&h.uri, path) {
                continue;
            }
            if h.method == method || h.method == Method::Any {
                return Route::Found(&h.kind);
            }
            if method == Method::Head && h.method == Method::Get && get_fallback.is_none() {
                get_fallback = Some(&h.kind);
            }
            path_matched = true;
        }
        match get_fallback {
            Some(f) => Route::Found(f),
            None if path_matched => Route::MethodNotAllowed,
            None => Route::NotFound,
        }
    }

    pub(crate) fn err_handler(&self, code: ErrorCode) -> Option<&ErrHandlerFn> {
        self.err_handlers[code.index()].as_ref()
    }

    fn register(&mut self, handler: Handler) -> Result<(), Error> {
        let clash = self.handlers.iter().any(|h| {
            (h.method == handler.method || h.method == Method::Any)
                && self.matcher.matches(&h.uri, &handler.uri)
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
                handlers: Vec::with_capacity(max),
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

    #[test]
    fn wildcard_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("/path/?", "/path", true),
            ("/path/?", "/path/", true),
            ("/path/?", "/path/x", false),
            ("/path/?", "/pathx", false),
            ("/path/*", "/path/", true),
            ("/path/*", "/path/abc", true),
            ("/path/*", "/path", false),
            ("/path/?*", "/path", true),
            ("/path/?*", "/path/", true),
            ("/path/?*", "/path/abc", true),
            ("/path/?*", "/pathb", false),
            ("/path/*?", "/path", true),
            ("/path/*?", "/path/abc", true),
            ("/path/*?", "/pathb", false),
            ("*", "", true),
            ("*", "/anything", true),
            ("/", "", false),
            ("/", "/", true),
            ("?", "", false),
            ("/a*b", "/a*b", true),
            ("/a*b", "/axb", false),
            ("/a?b", "/a?b", true),
            ("/a?b", "/ab", false),
        ];
        for (tpl, path, want) in cases {
            assert_eq!(
                wildcard_match(tpl, path.as_bytes()),
                *want,
                "{tpl:?} vs {path:?}"
            );
        }
    }

    fn handler(uri: &str, method: Method) -> Handler {
        Handler::new(uri, method, |_| Ok(()))
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
        assert!(matches!(
            t.route(Method::Put, b"/a"),
            Route::MethodNotAllowed
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
        assert!(matches!(
            t.route(Method::Get, b"/a"),
            Route::MethodNotAllowed
        ));
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

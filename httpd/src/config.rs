//! Server configuration: every limit and timeout, with defaults sized for a host (and
//! ESP-IDF's `HTTPD_DEFAULT_CONFIG()` on request), and a validating builder.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::event::{Emitter, Event};
use crate::hooks::SocketHooks;
pub use crate::types::MAX_REQ_HEADERS_LIMIT;
use crate::types::{SessionId, UriMatch};
use crate::Error;

/// Called when a connection is accepted, before it is served. Return `false` to refuse it
/// (the connection is closed at once, and `on_close` still runs for its id). ESP-IDF's
/// `open_fn`.
pub type OnOpen = dyn Fn(SessionId, SocketAddr) -> bool + Send + Sync;
/// Called when a session closes, before its context is dropped; once for every id given to
/// `on_open`, refused ones included. ESP-IDF's `close_fn`.
pub type OnClose = dyn Fn(SessionId) + Send + Sync;

/// TCP keep-alive probing on accepted connections (`SO_KEEPALIVE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpKeepalive {
    /// Idle time before the first probe. ESP-IDF default: 5 s.
    pub idle: Duration,
    /// Time between probes. ESP-IDF default: 5 s.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped. ESP-IDF default: 3.
    pub count: u32,
}

impl Default for TcpKeepalive {
    fn default() -> Self {
        TcpKeepalive {
            idle: Duration::from_secs(5),
            interval: Duration::from_secs(5),
            count: 3,
        }
    }
}

/// What the server does when a handler fails (returns `Err` or panics) before it started a
/// response. Either way the connection closes; a response already started is cut off by the
/// close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Answer with the error's status page ([`Error::status`]: 500 for a handler's own error)
    /// and `Connection: close`. The default.
    #[default]
    ErrorPage,
    /// Send nothing and close the connection: ESP-IDF's behaviour for a C handler returning
    /// `ESP_FAIL`.
    Close,
}

/// A validated server configuration. Build one with [`Config::builder`] (host-sized defaults)
/// or [`ConfigBuilder::esp_idf`] (ESP-IDF's `HTTPD_DEFAULT_CONFIG()`).
#[derive(Clone)]
pub struct Config {
    pub(crate) bind_addr: IpAddr,
    pub(crate) port: u16,
    pub(crate) thread_name: String,
    pub(crate) stack_size: usize,
    pub(crate) max_open_sockets: usize,
    /// Whether `max_open_sockets` was chosen by the user (then a descriptor limit that cannot
    /// hold it is an error at start) rather than left at the default (then it is clamped).
    pub(crate) max_open_sockets_set: bool,
    pub(crate) max_uri_handlers: usize,
    pub(crate) max_resp_headers: usize,
    pub(crate) max_req_headers: usize,
    pub(crate) backlog_conn: u32,
    pub(crate) lru_purge_enable: bool,
    pub(crate) recv_wait_timeout: Duration,
    pub(crate) send_wait_timeout: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_req_hdr_len: usize,
    pub(crate) max_uri_len: usize,
    pub(crate) body_buffer_len: usize,
    pub(crate) max_body_len: Option<u64>,
    pub(crate) max_pending_response: usize,
    pub(crate) max_pending_total: usize,
    pub(crate) worker_threads: usize,
    pub(crate) worker_queue_len: usize,
    pub(crate) handlers_on_pool: bool,
    pub(crate) ctrl_queue_len: usize,
    pub(crate) keepalive: Option<TcpKeepalive>,
    pub(crate) linger: Option<Duration>,
    pub(crate) on_open: Option<Arc<OnOpen>>,
    pub(crate) on_close: Option<Arc<OnClose>>,
    pub(crate) events: Emitter,
    pub(crate) uri_match: UriMatch,
    pub(crate) failure_policy: FailurePolicy,
    /// Raw-socket hooks (the C API); see [`SocketHooks`].
    pub(crate) socket_hooks: Option<Arc<dyn SocketHooks>>,
    /// HTTPS (feature `tls`): see [`ConfigBuilder::tls`].
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsConfig>,
    /// A second, plain-HTTP port (feature `tls`): see [`ConfigBuilder::http_port`].
    #[cfg(feature = "tls")]
    pub(crate) http_port: Option<u16>,
}

impl Default for Config {
    /// Host-sized defaults; each is documented on its [`ConfigBuilder`] method and in the
    /// README's table, next to [`Config::esp_idf`]'s.
    fn default() -> Self {
        Config {
            bind_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 80,
            thread_name: "httpd".to_owned(),
            stack_size: 256 * 1024,
            max_open_sockets: 4096,
            max_open_sockets_set: false,
            max_uri_handlers: 64,
            max_resp_headers: 32,
            max_req_headers: 64,
            backlog_conn: 1024,
            lru_purge_enable: false,
            recv_wait_timeout: Duration::from_secs(5),
            send_wait_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(60)),
            max_req_hdr_len: 16 * 1024,
            max_uri_len: 8 * 1024,
            body_buffer_len: 16 * 1024,
            max_body_len: None,
            max_pending_response: 8 * 1024 * 1024,
            max_pending_total: 64 * 1024 * 1024,
            worker_threads: 16,
            worker_queue_len: 1024,
            handlers_on_pool: false,
            ctrl_queue_len: 64,
            keepalive: None,
            linger: None,
            on_open: None,
            on_close: None,
            events: Emitter::default(),
            uri_match: UriMatch::Exact,
            failure_policy: FailurePolicy::ErrorPage,
            socket_hooks: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            http_port: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind_addr", &self.bind_addr)
            .field("port", &self.port)
            .field("thread_name", &self.thread_name)
            .field("stack_size", &self.stack_size)
            .field("max_open_sockets", &self.max_open_sockets)
            .field("max_uri_handlers", &self.max_uri_handlers)
            .field("max_resp_headers", &self.max_resp_headers)
            .field("max_req_headers", &self.max_req_headers)
            .field("backlog_conn", &self.backlog_conn)
            .field("lru_purge_enable", &self.lru_purge_enable)
            .field("recv_wait_timeout", &self.recv_wait_timeout)
            .field("send_wait_timeout", &self.send_wait_timeout)
            .field("header_timeout", &self.header_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_req_hdr_len", &self.max_req_hdr_len)
            .field("max_uri_len", &self.max_uri_len)
            .field("body_buffer_len", &self.body_buffer_len)
            .field("max_body_len", &self.max_body_len)
            .field("max_pending_response", &self.max_pending_response)
            .field("max_pending_total", &self.max_pending_total)
            .field("worker_threads", &self.worker_threads)
            .field("worker_queue_len", &self.worker_queue_len)
            .field("handlers_on_pool", &self.handlers_on_pool)
            .field("ctrl_queue_len", &self.ctrl_queue_len)
            .field("keepalive", &self.keepalive)
            .field("linger", &self.linger)
            .field("on_open", &self.on_open.is_some())
            .field("on_close", &self.on_close.is_some())
            .field("events", &self.events)
            .field("uri_match", &self.uri_match)
            .field("failure_policy", &self.failure_policy)
            .field("socket_hooks", &self.socket_hooks.is_some())
            .finish()
    }
}

impl Config {
    /// ESP-IDF's `HTTPD_DEFAULT_CONFIG()`: 7 sockets, 8 URI handlers, 8 response headers, a
    /// backlog of 5, a 1024-byte header section and a 512-byte URI, port 80, no LRU purge, 5 s
    /// receive and send timeouts, no worker pool (every handler on the server thread); for the
    /// chip's footprint and behaviour on a host. The one value not taken is the 4 KiB stack,
    /// too small for a host thread: the stack stays 256 KiB.
    ///
    /// ```
    /// let config = httpd::Config::esp_idf();
    /// assert_eq!(config.max_open_sockets(), 7);
    /// ```
    pub fn esp_idf() -> Config {
        Config {
            max_open_sockets: 7,
            max_open_sockets_set: true,
            max_uri_handlers: 8,
            max_resp_headers: 8,
            max_req_headers: 32,
            backlog_conn: 5,
            max_req_hdr_len: 1024,
            max_uri_len: 512,
            // Every handler on the server thread, as on the chip.
            worker_threads: 0,
            ..Config::default()
        }
    }

    /// A builder starting from the host defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = httpd::Config::builder()
    ///     .port(0)
    ///     .max_open_sockets(16)
    ///     .recv_wait_timeout(Duration::from_secs(2))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.max_open_sockets(), 16);
    /// ```
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
        }
    }

    /// The address the listener binds to.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind_addr, self.port)
    }

    /// The maximum number of open client connections.
    pub fn max_open_sockets(&self) -> usize {
        self.max_open_sockets
    }

    /// The maximum number of registered URI handlers.
    pub fn max_uri_handlers(&self) -> usize {
        self.max_uri_handlers
    }

    /// How long a read from the client may wait for data.
    pub fn recv_wait_timeout(&self) -> Duration {
        self.recv_wait_timeout
    }

    /// How long a write to the client may wait for room.
    pub fn send_wait_timeout(&self) -> Duration {
        self.send_wait_timeout
    }

    /// The name of the server thread.
    pub fn thread_name(&self) -> &str {
        &self.thread_name
    }

    /// The server thread's stack size, in bytes.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// The maximum number of headers a handler may set on one response.
    pub fn max_resp_headers(&self) -> usize {
        self.max_resp_headers
    }

    /// The maximum number of header fields in a request.
    pub fn max_req_headers(&self) -> usize {
        self.max_req_headers
    }

    /// The listen backlog.
    pub fn backlog_conn(&self) -> u32 {
        self.backlog_conn
    }

    /// Whether the least recently used session is closed for a newcomer at a full table.
    pub fn lru_purge_enable(&self) -> bool {
        self.lru_purge_enable
    }

    /// The deadline for a whole request head.
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    /// How long a keep-alive connection may sit idle; `None`: forever.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The maximum length of a request's header section.
    pub fn max_req_hdr_len(&self) -> usize {
        self.max_req_hdr_len
    }

    /// The maximum length of a request target.
    pub fn max_uri_len(&self) -> usize {
        self.max_uri_len
    }

    /// Bodies up to this many bytes are read by the server before the handler runs.
    pub fn body_buffer_len(&self) -> usize {
        self.body_buffer_len
    }

    /// The largest request body accepted, if limited.
    pub fn max_body_len(&self) -> Option<u64> {
        self.max_body_len
    }

    /// Response bytes one session may hold for a slow client.
    pub fn max_pending_response(&self) -> usize {
        self.max_pending_response
    }

    /// Response bytes all sessions together may hold for slow clients.
    pub fn max_pending_total(&self) -> usize {
        self.max_pending_total
    }

    /// The control queue's capacity.
    pub fn ctrl_queue_len(&self) -> usize {
        self.ctrl_queue_len
    }

    /// TCP keep-alive on accepted connections, if on.
    pub fn keepalive(&self) -> Option<TcpKeepalive> {
        self.keepalive
    }

    /// `SO_LINGER` on accepted connections, if on.
    pub fn linger(&self) -> Option<Duration> {
        self.linger
    }

    /// Size of the worker pool (0: every handler runs on the server thread).
    pub fn worker_threads(&self) -> usize {
        self.worker_threads
    }

    /// Requests that may wait for a busy worker pool before new ones get 503.
    pub fn worker_queue_len(&self) -> usize {
        self.worker_queue_len
    }

    /// Whether every handler runs on the worker pool (unless marked non-blocking).
    pub fn handlers_on_pool(&self) -> bool {
        self.handlers_on_pool
    }

    /// What a handler's failure before any response sends.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.failure_policy
    }

    /// The size of each session's request buffer: the largest head plus the body buffer.
    pub(crate) fn request_buffer_len(&self) -> usize {
        // Method and version take at most ~30 bytes; 64 leaves room for CRLFs and slack.
        // At least 4 KiB past the head, so a chunk-size line always fits while streaming.
        self.max_uri_len + self.max_req_hdr_len + 64 + self.body_buffer_len.max(4096)
    }
}

/// Builds a [`Config`]; [`build`](ConfigBuilder::build) validates every value.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// A builder starting from ESP-IDF's defaults ([`Config::esp_idf`]).
    ///
    /// ```
    /// let config = httpd::ConfigBuilder::esp_idf().port(0).build().unwrap();
    /// assert_eq!(config.max_uri_handlers(), 8);
    /// ```
    pub fn esp_idf() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::esp_idf(),
        }
    }

    /// TCP port to listen on. Default 80; 0 picks a free port (see
    /// [`Server::local_addr`](crate::Server::local_addr)).
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Address to bind. Default `0.0.0.0` (every IPv4 interface); use `::` for IPv6.
    pub fn bind_addr(mut self, addr: IpAddr) -> Self {
        self.config.bind_addr = addr;
        self
    }

    /// Name of the server thread. Default `"httpd"`.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.config.thread_name = name.into();
        self
    }

    /// Stack size of the server thread and of each worker, in bytes; handlers run on them.
    /// Default 256 KiB
    /// (ESP-IDF's 4096 is too small for Rust code; only touched pages use memory).
    /// At least 16 KiB.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.config.stack_size = bytes;
        self
    }

    /// Maximum number of open client connections. Default 4096 (ESP-IDF: 7): thousands of
    /// keep-alive clients (a browser opens six per site) without a connection waiting. The
    /// table grows with use, so unused sockets cost nothing. At start the process's soft
    /// `RLIMIT_NOFILE` is raised to hold them where the hard limit allows; a default that it
    /// cannot hold is lowered to fit (logged), a value set here is an error
    /// ([`Error::InvalidConfig`]) from `Server::start`.
    pub fn max_open_sockets(mut self, n: usize) -> Self {
        self.config.max_open_sockets = n;
        self.config.max_open_sockets_set = true;
        self
    }

    /// Maximum number of registered URI handlers. Default 64 (ESP-IDF: 8), enough for a
    /// web UI's pages, assets and API; only registered handlers use memory.
    pub fn max_uri_handlers(mut self, n: usize) -> Self {
        self.config.max_uri_handlers = n;
        self
    }

    /// Maximum number of headers a handler may set on one response. Default 32 (ESP-IDF: 8):
    /// security and caching headers alone can pass eight.
    pub fn max_resp_headers(mut self, n: usize) -> Self {
        self.config.max_resp_headers = n;
        self
    }

    /// Maximum number of header fields in a request; more is answered with 431. Default 64
    /// (browsers send about 20, proxies add more), at most [`MAX_REQ_HEADERS_LIMIT`].
    pub fn max_req_headers(mut self, n: usize) -> Self {
        self.config.max_req_headers = n;
        self
    }

    /// Listen backlog: connections the kernel holds before they are accepted. Default 1024
    /// (ESP-IDF: 5, which drops SYNs under a burst of clients and costs each a 1 s retry);
    /// the kernel caps it at `net.core.somaxconn`.
    pub fn backlog_conn(mut self, n: u32) -> Self {
        self.config.backlog_conn = n;
        self
    }

    /// Close the least recently used session when a new connection arrives at a full table.
    /// Default off: the newcomer waits in the backlog until a session closes.
    pub fn lru_purge_enable(mut self, enable: bool) -> Self {
        self.config.lru_purge_enable = enable;
        self
    }

    /// How long the server waits for more of a request (head or body) before giving up
    /// (408 for a head, [`Error::Timeout`] for a handler's `recv`). Default 5 s.
    pub fn recv_wait_timeout(mut self, t: Duration) -> Self {
        self.config.recv_wait_timeout = t;
        self
    }

    /// How long a response may wait for the client to make room before the session is closed.
    /// Default 5 s.
    pub fn send_wait_timeout(mut self, t: Duration) -> Self {
        self.config.send_wait_timeout = t;
        self
    }

    /// Deadline for a whole request head, from its first byte, however it trickles in
    /// (slowloris protection; 408 and close). Default 10 s.
    pub fn header_timeout(mut self, t: Duration) -> Self {
        self.config.header_timeout = t;
        self
    }

    /// How long a keep-alive connection may sit idle between requests before it is closed.
    /// Default 60 s; `None` never closes idle connections (ESP-IDF's behaviour).
    pub fn idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.idle_timeout = t;
        self
    }

    /// Maximum length of the header section (the bytes after the request line, up to and
    /// including the CRLF of the last header line); longer is answered with 431. Default
    /// 16 KiB (ESP-IDF: 1024): browsers send cookies of several KiB. A session holds a buffer
    /// this size only while a request is in progress, never while idle.
    pub fn max_req_hdr_len(mut self, n: usize) -> Self {
        self.config.max_req_hdr_len = n;
        self
    }

    /// Maximum length of the request target (path and query); longer is answered with 414.
    /// Default 8 KiB (ESP-IDF: 512), nginx's limit for a request line: long query strings fit.
    pub fn max_uri_len(mut self, n: usize) -> Self {
        self.config.max_uri_len = n;
        self
    }

    /// Bodies up to this many bytes are read by the server, without blocking other clients,
    /// before the handler runs; larger bodies are streamed by the handler's `recv`.
    /// Default 16 KiB.
    pub fn body_buffer_len(mut self, n: usize) -> Self {
        self.config.body_buffer_len = n;
        self
    }

    /// Largest request body accepted; a larger `Content-Length` (or chunked body) is answered
    /// with 413. Default `None`: any size a handler reads.
    pub fn max_body_len(mut self, n: Option<u64>) -> Self {
        self.config.max_body_len = n;
        self
    }

    /// Response bytes a session may hold while the client is slow to read them; beyond this a
    /// handler's send waits (up to `send_wait_timeout`). Default 8 MiB.
    pub fn max_pending_response(mut self, n: usize) -> Self {
        self.config.max_pending_response = n;
        self
    }

    /// Response bytes all sessions together may hold for slow clients; past this, a handler's
    /// send waits for its client (up to `send_wait_timeout`). Default 64 MiB.
    pub fn max_pending_total(mut self, n: usize) -> Self {
        self.config.max_pending_total = n;
        self
    }

    /// Threads in the worker pool, started as they are first needed. A request runs its
    /// handler on a worker, fed by the server thread, when its body is larger than
    /// [`body_buffer_len`](ConfigBuilder::body_buffer_len) (so a slow upload waits only its
    /// own worker), when its handler is [`blocking`](crate::Handler::blocking), or for every
    /// handler with [`handlers_on_pool`](ConfigBuilder::handlers_on_pool). Default 16;
    /// 0 runs every handler on the server thread, as ESP-IDF does ([`Config::esp_idf`]).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.config.worker_threads = n;
        self
    }

    /// Requests that may wait for a worker when every worker is busy: a waiting session is
    /// simply not served yet (TCP flow control holds its client; no memory is spent on its
    /// body). Past this many, a request is answered `503 Service Unavailable` (logged).
    /// Default 1024.
    pub fn worker_queue_len(mut self, n: usize) -> Self {
        self.config.worker_queue_len = n;
        self
    }

    /// Runs every handler on the worker pool, not only those that need it: for servers whose
    /// handlers are mostly slow (database calls, file reads, computation). Requests of one
    /// connection are still answered in order. A handler marked
    /// [`nonblocking`](crate::Handler::nonblocking) stays on the server thread. Default off:
    /// quick handlers answer from the server thread without a thread switch.
    pub fn handlers_on_pool(mut self, on: bool) -> Self {
        self.config.handlers_on_pool = on;
        self
    }

    /// Capacity of the control queue (`queue_work`, `send_to`, `trigger_close`). Default 64.
    pub fn ctrl_queue_len(mut self, n: usize) -> Self {
        self.config.ctrl_queue_len = n;
        self
    }

    /// TCP keep-alive on accepted connections. Default off.
    pub fn keepalive(mut self, keepalive: Option<TcpKeepalive>) -> Self {
        self.config.keepalive = keepalive;
        self
    }

    /// `SO_LINGER` on accepted connections: on close, wait up to this long for unsent data.
    /// Default off.
    pub fn linger(mut self, linger: Option<Duration>) -> Self {
        self.config.linger = linger;
        self
    }

    /// Callback for each new connection; return `false` to refuse it.
    pub fn on_open(
        mut self,
        f: impl Fn(SessionId, SocketAddr) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.config.on_open = Some(Arc::new(f));
        self
    }

    /// Callback for each closed session, run before the session context is dropped.
    pub fn on_close(mut self, f: impl Fn(SessionId) + Send + Sync + 'static) -> Self {
        self.config.on_close = Some(Arc::new(f));
        self
    }

    /// Callback for server events ([`Event`]): start, connections, request and response heads,
    /// body data, errors, disconnections and stop (ESP-IDF's `ESP_HTTP_SERVER_EVENT`s). It runs
    /// on the thread where the event happens (the server thread, or a detached request's
    /// thread), so keep it short. Not set by default, and then it costs nothing.
    pub fn on_event(mut self, f: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Self {
        self.config.events = Emitter::new(Some(Arc::new(f)));
        self
    }

    /// How registered URIs match request paths, for handlers that do not choose their own
    /// ([`Handler::with_match`](crate::Handler::with_match)). Default [`UriMatch::Exact`].
    pub fn uri_match(mut self, m: UriMatch) -> Self {
        self.config.uri_match = m;
        self
    }

    /// What a handler's failure before any response sends: an error page (the default) or
    /// nothing (ESP-IDF's C behaviour). Either way the connection closes.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.config.failure_policy = policy;
        self
    }

    /// Raw-socket hooks: each connection's OS descriptor when it opens, ownership of the
    /// descriptor when it closes (so code that closes descriptors itself, like ESP-IDF's
    /// `close_fn`, can), and per-session transport overrides. For bindings such as the C API;
    /// see [`SocketHooks`]. Default none.
    pub fn socket_hooks(mut self, hooks: impl SocketHooks) -> Self {
        self.config.socket_hooks = Some(Arc::new(hooks));
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first setting out of range.
    pub fn build(self) -> Result<Config, Error> {
        let c = self.config;
        let check = |ok: bool, why: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidConfig(why))
            }
        };
        check(
            c.stack_size >= 16 * 1024,
            "stack_size must be at least 16 KiB",
        )?;
        check(
            !c.thread_name.is_empty() && !c.thread_name.contains('\0'),
            "thread_name must be non-empty, without NUL",
        )?;
        check(
            (1..=65_536).contains(&c.max_open_sockets),
            "max_open_sockets must be 1..=65536",
        )?;
        check(
            (1..=4096).contains(&c.max_uri_handlers),
            "max_uri_handlers must be 1..=4096",
        )?;
        check(
            (0..=256).contains(&c.max_resp_headers),
            "max_resp_headers must be 0..=256",
        )?;
        check(
            (1..=MAX_REQ_HEADERS_LIMIT).contains(&c.max_req_headers),
            "max_req_headers must be 1..=128",
        )?;
        check(c.backlog_conn >= 1, "backlog_conn must be at least 1")?;
        for (t, why) in [
            (c.recv_wait_timeout, "recv_wait_timeout must be non-zero"),
            (c.send_wait_timeout, "send_wait_timeout must be non-zero"),
            (c.header_timeout, "header_timeout must be non-zero"),
        ] {
            check(!t.is_zero(), why)?;
        }
        check(
            c.idle_timeout != Some(Duration::ZERO),
            "idle_timeout must be non-zero",
        )?;
        check(
            (16..=64 * 1024).contains(&c.max_req_hdr_len),
            "max_req_hdr_len must be 16..=65536",
        )?;
        check(
            (1..=64 * 1024).contains(&c.max_uri_len),
            "max_uri_len must be 1..=65536",
        )?;
        check(
            c.body_buffer_len <= 16 * 1024 * 1024,
            "body_buffer_len must be at most 16 MiB",
        )?;
        check(
            c.max_pending_response >= 4096,
            "max_pending_response must be at least 4096",
        )?;
        check(
            c.max_pending_total >= c.max_pending_response,
            "max_pending_total must be at least max_pending_response",
        )?;
        check(c.ctrl_queue_len >= 1, "ctrl_queue_len must be at least 1")?;
        check(
            c.worker_threads <= 1024,
            "worker_threads must be at most 1024",
        )?;
        if let Some(k) = c.keepalive {
            check(
                !k.idle.is_zero() && !k.interval.is_zero() && k.count >= 1,
                "keepalive idle, interval and count must be non-zero",
            )?;
        }
        Ok(c)
    }
}

// ---- TLS (feature `tls`) ---------------------------------------------------------------------

#[cfg(feature = "tls")]
impl ConfigBuilder {
    /// Serves HTTPS (and WSS) on the port: every connection makes a TLS handshake first,
    /// inside the loop, within the configuration's handshake deadline. A connection in its
    /// handshake counts toward `max_open_sockets`. Default: plain HTTP.
    pub fn tls(mut self, tls: crate::tls::TlsConfig) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// With [`tls`](ConfigBuilder::tls): also serves the same handlers over plain HTTP on this
    /// port (0 picks a free one; see `Server::http_addr`), from the same loop and session
    /// table. Default: none.
    pub fn http_port(mut self, port: u16) -> Self {
        self.config.http_port = Some(port);
        self
    }
}

#[cfg(feature = "tls")]
impl Config {
    /// The TLS configuration, if the server speaks HTTPS.
    pub fn tls(&self) -> Option<&crate::tls::TlsConfig> {
        self.tls.as_ref()
    }

    /// The address of the second, plain-HTTP listener, if one is configured.
    pub fn http_socket_addr(&self) -> Option<SocketAddr> {
        self.http_port.map(|p| SocketAddr::new(self.bind_addr, p))
    }
}

#[cfg(test)]
mod tests;

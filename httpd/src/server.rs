//! The thin public handle: start, stop, handler registration, and the control API. The top
//! layer: it builds the runtime and hands handlers a way back to itself.

use std::any::Any;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Poll, Waker};
use socket2::{Domain, Protocol, Socket, Type};

use crate::api::request::Request;
use crate::api::ws::{WsConn, WsMessage};
use crate::config::Config;
use crate::router::{Handler, Router};
use crate::runtime::control::{Control, ServerContext};
use crate::runtime::shared::Shared;
use crate::runtime::{EventLoop, WAKER};
use crate::types::{Method, SessionId};
use crate::{Error, ErrorCode};

pub(crate) struct Inner {
    shared: Arc<Shared>,
    ctrl: SyncSender<Control>,
    waker: Arc<Waker>,
    local_addr: SocketAddr,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: OnceLock<ThreadId>,
    /// The plain-HTTP listener's address beside a TLS one.
    #[cfg(feature = "tls")]
    http_addr: Option<SocketAddr>,
}

impl Inner {
    fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.wake_and_join();
    }

    fn shutdown(&self, grace: Duration) {
        let now = Instant::now();
        self.shared.request_shutdown(
            now.checked_add(grace)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
        );
        self.wake_and_join();
    }

    /// Wakes the loop to see a stop or shutdown, and waits for its thread to end unless called
    /// from it.
    fn wake_and_join(&self) {
        if let Err(e) = self.waker.wake() {
            log::error!("waking the server thread: {e}");
        }
        if self.thread_id.get() == Some(&thread::current().id()) {
            // Called from a handler: the loop stops after it returns.
            return;
        }
        // Held while joining, so a concurrent `stop` also returns only once the thread is gone.
        let mut thread = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(handle) = thread.take() {
            if handle.join().is_err() {
                log::error!("server thread panicked");
            }
        }
    }

    fn control(&self, msg: Control) -> Result<(), Error> {
        if self.shared.stopping.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        match self.ctrl.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Error::QueueFull),
            Err(TrySendError::Disconnected(_)) => return Err(Error::Stopped),
        }
        self.waker.wake().map_err(Error::Io)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running server: ESP-IDF's `httpd_handle_t`. Cheap to clone and usable from any thread;
/// dropping the last handle stops the server.
///
/// ```
/// use httpd::{Config, Handler, Method, Server};
/// let server = Server::start(Config::builder().port(0).build()?)?;
/// server.register(Handler::new("/hello", Method::Get, |req| req.send_str("Hello World!")))?;
/// println!("listening on {}", server.local_addr());
/// server.stop();
/// # Ok::<(), httpd::Error>(())
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listener, allocates the session table and starts the server thread
    /// (ESP-IDF's `httpd_start`).
    ///
    /// The process's soft descriptor limit (`RLIMIT_NOFILE`) is raised, where the hard limit
    /// allows, to hold `max_open_sockets` connections plus a margin for the program's files.
    ///
    /// # Errors
    /// [`Error::Io`] when the address cannot be bound or the thread cannot be spawned;
    /// [`Error::InvalidConfig`] when an explicitly set `max_open_sockets` cannot fit under the
    /// descriptor limit (the default is lowered to fit instead, with a warning).
    pub fn start(mut config: Config) -> Result<Server, Error> {
        fit_descriptors(&mut config)?;
        let listener = bind(&config)?;
        let local_addr = listener.local_addr()?;
        #[cfg(feature = "tls")]
        let plain = match config.http_socket_addr() {
            Some(addr) => Some(bind_to(addr, config.backlog_conn)?),
            None => None,
        };
        #[cfg(feature = "tls")]
        let http_addr = match &plain {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (ctrl, ctrl_rx) = sync_channel(config.ctrl_queue_len);
        let shared = Arc::new(Shared::new(
            Router::new(config.uri_match.clone(), config.max_uri_handlers),
            config.max_open_sockets,
        ));
        let inner = Arc::new(Inner {
            shared: Arc::clone(&shared),
            ctrl,
            waker: Arc::clone(&waker),
            local_addr,
            thread: Mutex::new(None),
            thread_id: OnceLock::new(),
            #[cfg(feature = "tls")]
            http_addr,
        });
        let name = config.thread_name.clone();
        let stack_size = config.stack_size;
        let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(&inner) as Weak<Inner>;
        #[allow(unused_mut)] // (mutated with the `tls` feature)
        let mut event_loop = EventLoop::new(poll, listener, ctrl_rx, waker, shared, config, weak)?;
        #[cfg(feature = "tls")]
        if let Some(plain) = plain {
            event_loop.set_plain_listener(plain)?;
        }
        let handle = thread::Builder::new()
            .name(name)
            .stack_size(stack_size)
            .spawn(move || event_loop.run())?;
        let _ = inner.thread_id.set(handle.thread().id());
        *inner.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(Server { inner })
    }

    /// The handle behind the loop's type-erased reference to it, while the server lives.
    fn from_ref(server: &Weak<dyn Any + Send + Sync>) -> Option<Server> {
        let inner = server.upgrade()?.downcast::<Inner>().ok()?;
        Some(Server { inner })
    }

    /// The address the server listens on (with the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The address of the plain-HTTP listener configured with
    /// [`ConfigBuilder::http_port`](crate::ConfigBuilder::http_port) beside a TLS one.
    #[cfg(feature = "tls")]
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.inner.http_addr
    }

    /// Stops the server (ESP-IDF's `httpd_stop`): closes every connection (running `on_close`
    /// and dropping each session context; a detached request's connection is shut down, and
    /// the request finds its client gone), drops every handler, and returns once the server
    /// thread has exited. [`shutdown`](Server::shutdown) lets requests in progress finish. From inside a handler it only requests the stop, which happens when
    /// the handler returns. Calling it again does nothing.
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// Shuts the server down gracefully: stops accepting connections (new ones are refused),
    /// closes idle keep-alive connections at once, lets the requests being handled (detached
    /// ones included) finish and send their responses, each closing its connection
    /// (`Connection: close`), says goodbye to WebSocket clients (close 1001), and stops when no
    /// connection is left or `grace` has passed, closing whatever is still open then. Returns
    /// once the server thread has exited, except when called from a handler (then the server
    /// stops after it). [`stop`](Server::stop) during the grace period stops at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = httpd::Server::start(httpd::Config::builder().port(0).build()?)?;
    /// server.shutdown(Duration::from_secs(5));
    /// assert!(!server.is_running());
    /// # Ok::<(), httpd::Error>(())
    /// ```
    pub fn shutdown(&self, grace: Duration) {
        self.inner.shutdown(grace);
    }

    /// Whether the server is still running (not stopped or stopping).
    pub fn is_running(&self) -> bool {
        !self.inner.shared.stopping.load(Ordering::Acquire)
    }

    /// Registers a URI handler (ESP-IDF's `httpd_register_uri_handler`); it serves the next
    /// request. Works from any thread, including from inside a handler.
    ///
    /// # Errors
    /// [`Error::HandlerExists`] when the URI is already matched for that method,
    /// [`Error::HandlerTableFull`] at `max_uri_handlers`, [`Error::Stopped`].
    pub fn register(&self, handler: impl Into<Handler>) -> Result<(), Error> {
        self.check_running()?;
        self.inner.shared.router.register(handler.into())
    }

    /// Unregisters the handler for `uri` and `method` (ESP-IDF's
    /// `httpd_unregister_uri_handler`).
    ///
    /// # Errors
    /// [`Error::HandlerNotFound`] if there is none.
    pub fn unregister(&self, uri: &str, method: Method) -> Result<(), Error> {
        self.inner.shared.router.unregister(uri, Some(method))
    }

    /// Unregisters every handler for `uri`, whatever the method (ESP-IDF's
    /// `httpd_unregister_uri`).
    ///
    /// # Errors
    /// [`Error::HandlerNotFound`] if there is none.
    pub fn unregister_uri(&self, uri: &str) -> Result<(), Error> {
        self.inner.shared.router.unregister(uri, None)
    }

    /// Installs a custom handler for an error the server answers (ESP-IDF's
    /// `httpd_register_err_handler`), replacing the default page. It gets the request (with an
    /// empty URI and no headers when the request could not be parsed) and the code; returning
    /// `Ok` keeps the connection open if the request allows it, `Err` closes it. If it sends
    /// nothing, the default page is sent.
    ///
    /// # Errors
    /// [`Error::Stopped`].
    pub fn register_err_handler(
        &self,
        code: ErrorCode,
        f: impl Fn(&mut Request<'_>, ErrorCode) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.check_running()?;
        self.inner
            .shared
            .router
            .set_err_handler(code, Some(Arc::new(f)));
        Ok(())
    }

    /// Restores the default page for `code`.
    pub fn unregister_err_handler(&self, code: ErrorCode) {
        self.inner.shared.router.set_err_handler(code, None);
    }

    /// Runs `f` on the server thread, between requests, with access to the sessions (ESP-IDF's
    /// `httpd_queue_work`). Never blocks.
    ///
    /// # Errors
    /// [`Error::QueueFull`] when the control queue is full, [`Error::Stopped`].
    pub fn queue_work(
        &self,
        f: impl FnOnce(&mut ServerContext<'_>) + Send + 'static,
    ) -> Result<(), Error> {
        self.inner.control(Control::Work(Box::new(f)))
    }

    /// Queues raw bytes for a session (ESP-IDF's `httpd_socket_send` from another task).
    /// Bytes for a session that has closed, even if its slot was reused, are dropped.
    ///
    /// # Errors
    /// [`Error::QueueFull`], [`Error::Stopped`].
    pub fn send_to(&self, id: SessionId, bytes: impl Into<Vec<u8>>) -> Result<(), Error> {
        self.inner.control(Control::Send(id, bytes.into()))
    }

    /// Queues closing a session once its pending output is written (ESP-IDF's
    /// `httpd_sess_trigger_close`). A stale id does nothing.
    ///
    /// # Errors
    /// [`Error::QueueFull`], [`Error::Stopped`].
    pub fn trigger_close(&self, id: SessionId) -> Result<(), Error> {
        self.inner.control(Control::Close(id))
    }

    /// Sends a WebSocket message to a session from any thread (ESP-IDF's
    /// `httpd_ws_send_frame_async`). Frames are never interleaved: a data message waits while
    /// the session's handler is in the middle of a fragmented one.
    ///
    /// # Errors
    /// [`Error::QueueFull`], [`Error::Stopped`]. A session that is gone (or not a WebSocket)
    /// drops the message; use [`ws_send_with`](Server::ws_send_with) to be told.
    pub fn ws_send(&self, id: SessionId, msg: WsMessage) -> Result<(), Error> {
        self.inner.control(Control::WsSend(id, msg, None))
    }

    /// [`ws_send`](Server::ws_send), calling `done` on the server thread once the frame is in
    /// the session's output (`Ok`) or could not be sent (`Err(Error::NoSuchSession)`).
    ///
    /// # Errors
    /// As [`ws_send`](Server::ws_send); `done` is not called then.
    pub fn ws_send_with(
        &self,
        id: SessionId,
        msg: WsMessage,
        done: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error> {
        self.inner
            .control(Control::WsSend(id, msg, Some(Box::new(done))))
    }

    /// The ids of the sessions speaking WebSocket (ESP-IDF's `httpd_ws_get_fd_info` over the
    /// client list).
    pub fn ws_clients(&self) -> Vec<SessionId> {
        self.inner.shared.ws_clients()
    }

    /// The ids of the open sessions (ESP-IDF's `httpd_get_client_list`).
    pub fn clients(&self) -> Vec<SessionId> {
        self.inner.shared.clients()
    }

    fn check_running(&self) -> Result<(), Error> {
        if self.is_running() {
            Ok(())
        } else {
            Err(Error::Stopped)
        }
    }
}

impl Request<'_> {
    /// A handle to the server, for registering handlers or queueing work from a handler.
    /// `None` only while the server is being dropped.
    ///
    /// Do not capture a [`Server`] in a handler: that keeps the server alive forever. Use this.
    pub fn server(&self) -> Option<Server> {
        Server::from_ref(&self.env.server)
    }
}

impl WsConn<'_> {
    /// A handle to the server (e.g. to hand the session id to another thread).
    pub fn server(&self) -> Option<Server> {
        Server::from_ref(&self.env.server)
    }
}

impl ServerContext<'_> {
    /// A handle to the server.
    pub fn server(&self) -> Option<Server> {
        Server::from_ref(self.server_ref())
    }
}

/// Descriptors kept free for the program beside its connections (listener, poll, waker, files).
const FD_MARGIN: u64 = 64;

/// Raises the soft descriptor limit to hold `max_open_sockets`, or lowers a default
/// `max_open_sockets` to what the hard limit allows.
fn fit_descriptors(config: &mut Config) -> Result<(), Error> {
    let needed = config.max_open_sockets as u64 + FD_MARGIN;
    let limit = match rlimit::increase_nofile_limit(needed) {
        Ok(limit) => limit,
        Err(e) => {
            log::warn!("RLIMIT_NOFILE: {e}; keeping max_open_sockets");
            return Ok(());
        }
    };
    if limit >= needed {
        return Ok(());
    }
    if config.max_open_sockets_set {
        return Err(Error::InvalidConfig(
            "max_open_sockets needs more descriptors than RLIMIT_NOFILE's hard limit allows",
        ));
    }
    let fits = usize::try_from(limit.saturating_sub(FD_MARGIN).max(1)).unwrap_or(1);
    log::warn!(
        "RLIMIT_NOFILE allows {limit} descriptors: max_open_sockets lowered from {} to {fits}",
        config.max_open_sockets
    );
    config.max_open_sockets = fits;
    Ok(())
}

fn bind(config: &Config) -> Result<TcpListener, Error> {
    bind_to(config.socket_addr(), config.backlog_conn)
}

fn bind_to(addr: SocketAddr, backlog: u32) -> Result<TcpListener, Error> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(StdListener::from(socket)))
}

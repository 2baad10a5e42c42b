//! The server behind an `httpd_handle_t`: starting it from an `httpd_config_t`, the table of
//! connections by socket descriptor with their C contexts, the socket hooks that run
//! `open_fn`/`close_fn`, and the thread-local notes of what the current thread is running (a
//! handler for some socket, or queued work) that ESP-IDF's functions depend on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_int, c_void, CStr};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use httpd::{
    Config, ConfigBuilder, FailurePolicy, Opened, Server, ServerContext, SessionId, SocketHooks,
    SocketIo, TcpKeepalive, TlsConfig, UriMatch, MAX_REQ_HEADERS_LIMIT,
};

use crate::abi::*;
use crate::sockio::Overrides;

/// An opaque pointer the C program handed over (a context, a callback argument). The library
/// never dereferences it; it only gives it back to the program or to the program's own free
/// function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CPtr(pub(crate) *mut c_void);

// SAFETY: a CPtr is only an address the C program gave us and gets back; the library never
// reads or writes through it, so moving it between threads cannot race on its target. The C
// program is responsible for its own data, as it is with ESP-IDF.
unsafe impl Send for CPtr {}
// SAFETY: as above; sharing the address shares no access to the target.
unsafe impl Sync for CPtr {}

impl CPtr {
    pub(crate) const NULL: CPtr = CPtr(std::ptr::null_mut());

    /// The address (a method, so closures capture the whole `CPtr`, which is `Send`).
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

/// Frees a C context as ESP-IDF does: with its free function, or `free()` without one.
pub(crate) fn free_ctx(ctx: CPtr, free_fn: httpd_free_ctx_fn_t) {
    if ctx.0.is_null() {
        return;
    }
    match free_fn {
        // SAFETY: the program gave this function to free this context; it is called once,
        // when the context is dropped from the table.
        Some(f) => unsafe { f(ctx.0) },
        // SAFETY: ESP-IDF frees a context without a free function with free(): the program
        // allocated it with malloc() for exactly that.
        None => unsafe { libc::free(ctx.0) },
    }
}

/// A C context with its free function.
#[derive(Clone, Copy)]
pub(crate) struct Ctx {
    pub(crate) ptr: CPtr,
    pub(crate) free: httpd_free_ctx_fn_t,
}

impl Ctx {
    pub(crate) const NONE: Ctx = Ctx {
        ptr: CPtr::NULL,
        free: None,
    };

    /// Sets a new context and free function; returns the old context if it is another one
    /// (for the caller to free outside any lock).
    pub(crate) fn replace(&mut self, ptr: *mut c_void, free: httpd_free_ctx_fn_t) -> Option<Ctx> {
        let old = (self.ptr.0 != ptr).then_some(*self);
        *self = Ctx {
            ptr: CPtr(ptr),
            free,
        };
        old
    }

    /// Frees the context (ESP-IDF's rule: its free function, or `free()`).
    pub(crate) fn free(self) {
        free_ctx(self.ptr, self.free);
    }
}

/// What the library keeps for one connection.
pub(crate) struct Sess {
    pub(crate) id: SessionId,
    pub(crate) ctx: Ctx,
    pub(crate) ignore_changes: bool,
    pub(crate) transport: Ctx,
    pub(crate) io: Arc<Overrides>,
}

/// Connections by descriptor, and descriptors by session id.
#[derive(Default)]
pub(crate) struct Sessions {
    pub(crate) by_fd: HashMap<c_int, Sess>,
    pub(crate) by_id: HashMap<SessionId, c_int>,
}

/// One running server: what an `httpd_handle_t` points at.
pub(crate) struct Inner {
    pub(crate) server: OnceLock<Server>,
    pub(crate) sessions: Mutex<Sessions>,
    pub(crate) err_handlers: Mutex<[httpd_err_handler_func_t; HTTPD_ERR_CODE_MAX as usize]>,
    open_fn: httpd_open_func_t,
    close_fn: httpd_close_func_t,
    global_user_ctx: Mutex<(CPtr, httpd_free_ctx_fn_t)>,
    global_transport_ctx: Mutex<(CPtr, httpd_free_ctx_fn_t)>,
    pub(crate) state: AtomicI32,
    /// The server thread, once known: blocking calls from it would deadlock.
    pub(crate) thread: OnceLock<std::thread::ThreadId>,
    /// The last connection closed, for its `DISCONNECTED` event (posted after `close_fn`).
    last_closed: Mutex<Option<(SessionId, c_int)>>,
    /// Started by `httpd_ssl_start` with TLS: the socket carries records, not the bytes
    /// handlers see, so raw socket reads and transport overrides are refused.
    pub(crate) tls: bool,
}

/// Locks a mutex, recovering it after a panic elsewhere (every edit is one assignment).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The live servers, by handle.
static SERVERS: Mutex<Vec<(usize, Arc<Inner>)>> = Mutex::new(Vec::new());

/// The server a handle names, if it is live.
pub(crate) fn server_of(hd: httpd_handle_t) -> Option<Arc<Inner>> {
    let key = hd as usize;
    if key == 0 {
        return None;
    }
    lock(&SERVERS)
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, s)| Arc::clone(s))
}

impl Inner {
    /// The handle the C program knows this server by.
    pub(crate) fn handle(&self) -> httpd_handle_t {
        self as *const Inner as httpd_handle_t
    }

    pub(crate) fn server(&self) -> Option<&Server> {
        self.server.get()
    }

    pub(crate) fn fd_of(&self, id: SessionId) -> c_int {
        lock(&self.sessions).by_id.get(&id).copied().unwrap_or(-1)
    }

    pub(crate) fn id_of(&self, fd: c_int) -> Option<SessionId> {
        lock(&self.sessions).by_fd.get(&fd).map(|s| s.id)
    }

    /// Runs `f` on the connection with descriptor `fd`.
    pub(crate) fn with_sess<R>(&self, fd: c_int, f: impl FnOnce(&mut Sess) -> R) -> Option<R> {
        lock(&self.sessions).by_fd.get_mut(&fd).map(f)
    }

    /// The session context a request starts with: `(sess_ctx, free_ctx, ignore)`.
    pub(crate) fn load_ctx(&self, fd: c_int) -> (CPtr, httpd_free_ctx_fn_t, bool) {
        self.with_sess(fd, |s| (s.ctx.ptr, s.ctx.free, s.ignore_changes))
            .unwrap_or((CPtr::NULL, None, false))
    }

    /// ESP-IDF's request cleanup: a context the handler replaced is freed (unless it asked not
    /// to), and the request's context becomes the session's.
    pub(crate) fn store_ctx(&self, fd: c_int, ctx: CPtr, free: httpd_free_ctx_fn_t, ignore: bool) {
        let old = self.with_sess(fd, |s| {
            s.ignore_changes = ignore;
            s.ctx.replace(ctx.0, free).filter(|_| !ignore)
        });
        match old {
            Some(Some(old)) => old.free(),
            Some(None) => {}
            // The session is gone (closed by the handler's own stop): nothing will free it.
            None => free_ctx(ctx, free),
        }
    }

    pub(crate) fn global_user_ctx(&self) -> CPtr {
        lock(&self.global_user_ctx).0
    }

    pub(crate) fn global_transport_ctx(&self) -> CPtr {
        lock(&self.global_transport_ctx).0
    }

    /// The descriptor session `id` had, if it is the connection closed last.
    pub(crate) fn closed_fd(&self, id: SessionId) -> c_int {
        match *lock(&self.last_closed) {
            Some((closed, fd)) if closed == id => fd,
            _ => self.fd_of(id),
        }
    }

    pub(crate) fn on_server_thread(&self) -> bool {
        self.thread.get() == Some(&std::thread::current().id())
    }
}

/// Seconds from the C config; 0 (which on the chip means "wait forever") becomes a day.
fn seconds(s: u16) -> Duration {
    if s == 0 {
        Duration::from_secs(24 * 3600)
    } else {
        Duration::from_secs(u64::from(s))
    }
}

/// httpd's configuration from ESP-IDF's: ESP-IDF's preset, with every value then set explicitly
/// from the C struct. Host-only hints
/// (priority, stack size, core, capabilities, control port, interface) are accepted and not
/// used.
pub(crate) fn config_from_c(
    c: &httpd_config_t,
    inner: &Arc<Inner>,
    tls: Option<TlsConfig>,
) -> Result<Config, esp_err_t> {
    let positive = |v: c_int, default: u64| {
        if v > 0 {
            v as u64
        } else {
            default
        }
    };
    let keepalive = c.keep_alive_enable.then(|| TcpKeepalive {
        idle: Duration::from_secs(positive(c.keep_alive_idle, 5)),
        interval: Duration::from_secs(positive(c.keep_alive_interval, 5)),
        count: positive(c.keep_alive_count, 3) as u32,
    });
    let linger = c
        .enable_so_linger
        .then(|| Duration::from_secs(c.linger_timeout.max(0) as u64));
    let matcher = match c.uri_match_fn {
        None => UriMatch::Exact,
        Some(f) if f as *const () == crate::text::httpd_uri_match_wildcard as *const () => {
            UriMatch::Wildcard
        }
        Some(f) => {
            UriMatch::custom(move |template, path| crate::text::call_matcher(f, template, path))
        }
    };
    let bind_addr = interface_addr(c.if_name)?.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let recv = seconds(c.recv_wait_timeout);
    let or_default = |v: usize, d: usize| if v == 0 { d } else { v };
    let builder = match tls {
        Some(tls) => ConfigBuilder::esp_idf().tls(tls),
        None => ConfigBuilder::esp_idf(),
    };
    builder
        .port(c.server_port)
        .bind_addr(bind_addr)
        .thread_name("httpd")
        .stack_size(c.stack_size.max(256 * 1024))
        .max_open_sockets(usize::from(c.max_open_sockets))
        .max_uri_handlers(usize::from(c.max_uri_handlers))
        .max_resp_headers(usize::from(c.max_resp_headers))
        .max_req_headers(MAX_REQ_HEADERS_LIMIT)
        .backlog_conn(u32::from(c.backlog_conn.max(1)))
        .lru_purge_enable(c.lru_purge_enable)
        .recv_wait_timeout(recv)
        .send_wait_timeout(seconds(c.send_wait_timeout))
        .header_timeout(recv)
        .idle_timeout(None)
        .max_req_hdr_len(or_default(c.max_req_hdr_len, CONFIG_HTTPD_MAX_REQ_HDR_LEN))
        .max_uri_len(or_default(c.max_uri_len, CONFIG_HTTPD_MAX_URI_LEN))
        .body_buffer_len(16 * 1024)
        .max_body_len(None)
        .max_pending_response(8 * 1024 * 1024)
        .max_pending_total(64 * 1024 * 1024)
        .ctrl_queue_len(1024)
        .keepalive(keepalive)
        .linger(linger)
        .uri_match(matcher)
        .failure_policy(FailurePolicy::Close)
        .socket_hooks(CHooks(Arc::clone(inner)))
        .on_event({
            let inner = Arc::downgrade(inner);
            move |e| {
                if let Some(inner) = inner.upgrade() {
                    crate::events::on_event(&inner, e);
                }
            }
        })
        .build()
        .map_err(|e| {
            log::error!("httpd_start: {e}");
            ESP_ERR_INVALID_ARG
        })
}

/// The IPv4 address of the interface `if_name` names (`struct ifreq`, whose first member is
/// the name): the host's way to serve one interface only. `None` without an interface;
/// `ESP_ERR_INVALID_ARG` for an interface that does not exist or has no IPv4 address.
fn interface_addr(ifr: *mut c_void) -> Result<Option<IpAddr>, esp_err_t> {
    if ifr.is_null() {
        return Ok(None);
    }
    // SAFETY: `if_name` points at a `struct ifreq` (the config's contract), which begins with
    // `char ifr_name[IFNAMSIZ]`.
    let raw = unsafe { std::slice::from_raw_parts(ifr.cast::<u8>(), libc::IFNAMSIZ) };
    let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a list that freeifaddrs releases below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(ESP_ERR_INVALID_ARG);
    }
    let mut found = None;
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let node = unsafe { &*cur };
        let matches = !node.ifa_name.is_null()
            // SAFETY: ifa_name is a NUL-terminated interface name.
            && unsafe { CStr::from_ptr(node.ifa_name) }.to_bytes() == name;
        let family = if node.ifa_addr.is_null() {
            None
        } else {
            // SAFETY: a non-null ifa_addr points at a sockaddr whose family says its type.
            Some(i32::from(unsafe { (*node.ifa_addr).sa_family }))
        };
        if matches && family == Some(libc::AF_INET) {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*node.ifa_addr.cast::<libc::sockaddr_in>() };
            found = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))));
            break;
        }
        cur = node.ifa_next;
    }
    // SAFETY: `list` came from getifaddrs and is freed once; no node is used after this.
    unsafe { libc::freeifaddrs(list) };
    match found {
        Some(addr) => Ok(Some(addr)),
        None => {
            log::error!(
                "httpd_start: no IPv4 interface {}",
                String::from_utf8_lossy(name)
            );
            Err(ESP_ERR_INVALID_ARG)
        }
    }
}

/// Starts a server from a C configuration, with TLS when `tls` is given (`httpd_ssl_start`);
/// the handle is the returned `Inner`'s address.
pub(crate) fn start(
    c: &httpd_config_t,
    tls: Option<TlsConfig>,
) -> Result<httpd_handle_t, esp_err_t> {
    crate::text::init_logging();
    let inner = Arc::new(Inner {
        server: OnceLock::new(),
        sessions: Mutex::new(Sessions::default()),
        err_handlers: Mutex::new([None; HTTPD_ERR_CODE_MAX as usize]),
        open_fn: c.open_fn,
        close_fn: c.close_fn,
        global_user_ctx: Mutex::new((CPtr(c.global_user_ctx), c.global_user_ctx_free_fn)),
        global_transport_ctx: Mutex::new((
            CPtr(c.global_transport_ctx),
            c.global_transport_ctx_free_fn,
        )),
        state: AtomicI32::new(HTTP_SERVER_EVENT_START),
        thread: OnceLock::new(),
        last_closed: Mutex::new(None),
        tls: tls.is_some(),
    });
    let config = config_from_c(c, &inner, tls)?;
    let server = Server::start(config).map_err(|e| {
        log::error!("httpd_start: {e}");
        ESP_ERR_HTTPD_TASK
    })?;
    let weak = Arc::downgrade(&inner);
    let _ = server.queue_work(move |_| {
        if let Some(inner) = weak.upgrade() {
            let _ = inner.thread.set(std::thread::current().id());
        }
    });
    let _ = inner.server.set(server);
    let hd = inner.handle();
    lock(&SERVERS).push((hd as usize, inner));
    Ok(hd)
}

/// Stops a server: every connection closes (`close_fn`, contexts freed), then the global
/// contexts are freed.
pub(crate) fn stop(hd: httpd_handle_t) -> esp_err_t {
    let inner = {
        let mut servers = lock(&SERVERS);
        match servers.iter().position(|(k, _)| *k == hd as usize) {
            Some(i) => servers.swap_remove(i).1,
            None => return ESP_ERR_INVALID_ARG,
        }
    };
    if let Some(server) = inner.server() {
        server.stop();
    }
    inner.state.store(HTTP_SERVER_EVENT_STOP, Ordering::Release);
    // The global contexts are freed when the last reference to the server goes: here, once
    // the thread has exited; after the handler returns when a handler stops its own server;
    // after the last asynchronous request completes when one is still out.
    drop(inner);
    ESP_OK
}

impl Drop for Inner {
    fn drop(&mut self) {
        for ctx in [&self.global_user_ctx, &self.global_transport_ctx] {
            let (ptr, free) = std::mem::replace(&mut *lock(ctx), (CPtr::NULL, None));
            free_ctx(ptr, free);
        }
    }
}

/// The socket hooks: `open_fn`, `close_fn` and the table of descriptors.
pub(crate) struct CHooks(Arc<Inner>);

impl SocketHooks for CHooks {
    fn opened(&self, id: SessionId, _peer: SocketAddr, fd: RawFd) -> Opened {
        let inner = &self.0;
        let io = Arc::new(Overrides::default());
        {
            let mut t = lock(&inner.sessions);
            t.by_id.insert(id, fd);
            t.by_fd.insert(
                fd,
                Sess {
                    id,
                    ctx: Ctx::NONE,
                    ignore_changes: false,
                    transport: Ctx::NONE,
                    io: Arc::clone(&io),
                },
            );
        }
        if let Some(open) = inner.open_fn {
            // SAFETY: open_fn is the program's callback of this type, called as ESP-IDF calls
            // it: with the server's handle and the new connection's descriptor.
            let ret = unsafe { open(inner.handle(), fd) };
            if ret != ESP_OK {
                return Opened::Refuse;
            }
        }
        let io: Box<dyn SocketIo> = Box::new(crate::sockio::CSocketIo::new(Arc::clone(inner), io));
        Opened::AcceptWith(io)
    }

    fn closed(&self, id: SessionId, socket: Option<OwnedFd>) {
        let inner = &self.0;
        let Some(fd) = lock(&inner.sessions).by_id.get(&id).copied() else {
            return;
        };
        match (inner.close_fn, socket) {
            (Some(close), socket) => {
                // The callback owns the descriptor now: it closes it, not us.
                let raw = socket.map_or(fd, IntoRawFd::into_raw_fd);
                // SAFETY: close_fn is the program's callback of this type, called as ESP-IDF
                // calls it, with the server's handle and the connection's descriptor.
                unsafe { close(inner.handle(), raw) };
            }
            (None, socket) => drop(socket),
        }
        let sess = {
            let mut t = lock(&inner.sessions);
            t.by_id.remove(&id);
            t.by_fd.remove(&fd)
        };
        *lock(&inner.last_closed) = Some((id, fd));
        if let Some(s) = sess {
            s.ctx.free();
            s.transport.free();
        }
    }
}

/// What a thread is running for the C program, innermost last.
#[derive(Clone, Copy)]
pub(crate) enum Running {
    /// A handler, with its request, for socket `fd` of server `hd`.
    Handler {
        hd: usize,
        fd: c_int,
        req: *mut httpd_req_t,
    },
    /// Queued work on the server thread, with access to the sessions.
    Work { hd: usize, ctx: *mut c_void },
}

thread_local! {
    static RUNNING: RefCell<Vec<Running>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `r` noted as what this thread is running.
pub(crate) fn running<R>(r: Running, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            RUNNING.with(|s| s.borrow_mut().pop());
        }
    }
    RUNNING.with(|s| s.borrow_mut().push(r));
    let _pop = Pop;
    f()
}

/// The request of the handler this thread runs for socket `fd` of `hd`, if any.
pub(crate) fn current_req(hd: httpd_handle_t, fd: c_int) -> Option<*mut httpd_req_t> {
    RUNNING.with(|s| {
        s.borrow().iter().rev().find_map(|r| match *r {
            Running::Handler { hd: h, fd: f, req } if h == hd as usize && f == fd => Some(req),
            _ => None,
        })
    })
}

/// Runs `f` with the server context of the queued work this thread runs for `hd`, if any.
pub(crate) fn with_work_ctx<R>(
    hd: httpd_handle_t,
    f: impl FnOnce(&mut ServerContext<'_>) -> R,
) -> Option<R> {
    let ctx = RUNNING.with(|s| {
        s.borrow().iter().rev().find_map(|r| match *r {
            Running::Work { hd: h, ctx } if h == hd as usize => Some(ctx),
            _ => None,
        })
    })?;
    // SAFETY: `ctx` was noted by `queue_work`'s closure from the `&mut ServerContext` it was
    // given, and is popped before that closure returns; this thread is inside that call, and
    // nothing else uses the context while the C work function runs.
    let ctx = unsafe { &mut *(ctx as *mut ServerContext<'_>) };
    Some(f(ctx))
}

/// Queues `f` to run on the server thread as queued work (so the functions it calls can use
/// the sessions directly).
pub(crate) fn queue_on_server(
    inner: &Arc<Inner>,
    f: impl FnOnce() + Send + 'static,
) -> Result<(), httpd::Error> {
    let server = inner.server().ok_or(httpd::Error::Stopped)?;
    let hd = inner.handle() as usize;
    server.queue_work(move |ctx| {
        let ctx = ctx as *mut ServerContext<'_> as *mut c_void;
        running(Running::Work { hd, ctx }, f);
    })
}

/// Queues a C work function on the server thread.
pub(crate) fn queue_work(
    inner: &Arc<Inner>,
    work: unsafe extern "C" fn(*mut c_void),
    arg: CPtr,
) -> esp_err_t {
    // SAFETY: the program's work function of this type, called with the argument it queued,
    // as ESP-IDF calls it.
    match queue_on_server(inner, move || unsafe { work(arg.get()) }) {
        Ok(()) => ESP_OK,
        Err(e) => {
            log::warn!("httpd_queue_work: {e}");
            ESP_FAIL
        }
    }
}

/// A descriptor's session, checking the handle.
pub(crate) fn session(hd: httpd_handle_t, fd: c_int) -> Option<(Arc<Inner>, SessionId)> {
    let inner = server_of(hd)?;
    let id = inner.id_of(fd)?;
    Some((inner, id))
}

/// The name of a C string for logs.
pub(crate) fn c_str<'a>(p: *const std::ffi::c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: callers pass NUL-terminated strings from the C program (ESP-IDF's contract for
    // every `const char *` argument); the result is used before the call returns.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

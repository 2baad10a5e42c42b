//! The server-level functions: start and stop, handler registration, error handlers,
//! sessions and their contexts, the work queue, raw socket I/O and transport overrides.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::Arc;

use httpd::{Error, Handler, Server};

use crate::abi::*;
use crate::guard;
use crate::request::{run_err_handler, run_handler, state, CHandler};
use crate::server::{
    self, c_str, current_req, free_ctx, lock, server_of, session, with_work_ctx, CPtr, Inner,
};
use crate::sockio::{default_recv, Overrides};

/// Starts a server from `config` (ESP-IDF's values; host-only hints are accepted and ignored)
/// and stores its handle in `*handle`.
///
/// # Safety
/// `handle` is valid for a write; `config` points at an `httpd_config_t`.
#[no_mangle]
pub unsafe extern "C" fn httpd_start(
    handle: *mut httpd_handle_t,
    config: *const httpd_config_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if handle.is_null() || config.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; an httpd_config_t by the contract. It is copied.
        let c = unsafe { *config };
        // SAFETY: checked non-null and writable by the contract.
        unsafe { start_into(handle, &c, None) }
    })
}

/// Starts a server (with TLS when `tls` is given) and stores its handle in `*handle`.
///
/// # Safety
/// `handle` is non-null and valid for a write.
pub(crate) unsafe fn start_into(
    handle: *mut httpd_handle_t,
    c: &httpd_config_t,
    tls: Option<httpd::TlsConfig>,
) -> esp_err_t {
    match server::start(c, tls) {
        Ok(hd) => {
            // SAFETY: non-null and writable by this function's contract.
            unsafe { *handle = hd };
            ESP_OK
        }
        Err(e) => e,
    }
}

/// Stops a server: closes every connection (running `close_fn`, freeing session contexts),
/// frees the global contexts, and returns once the server thread has exited.
///
/// # Safety
/// None beyond passing a handle from `httpd_start` (anything else is refused).
#[no_mangle]
pub unsafe extern "C" fn httpd_stop(handle: httpd_handle_t) -> esp_err_t {
    guard(ESP_FAIL, || server::stop(handle))
}

fn reg_err(e: Error) -> esp_err_t {
    match e {
        Error::HandlerExists => ESP_ERR_HTTPD_HANDLER_EXISTS,
        Error::HandlerTableFull => ESP_ERR_HTTPD_HANDLERS_FULL,
        Error::HandlerNotFound => ESP_ERR_NOT_FOUND,
        _ => ESP_FAIL,
    }
}

/// Registers a URI handler (the struct and the URI string are copied).
///
/// # Safety
/// `uri_handler` points at an `httpd_uri_t` whose strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn httpd_register_uri_handler(
    handle: httpd_handle_t,
    uri_handler: *const httpd_uri_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if uri_handler.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; an httpd_uri_t by the contract. It is copied.
        let u = unsafe { *uri_handler };
        register(handle, u, HandshakeCbs::default())
    })
}

/// A WebSocket endpoint's handshake callbacks.
#[derive(Clone, Copy, Default)]
pub(crate) struct HandshakeCbs {
    pub(crate) pre: httpd_handler_fn_t,
    pub(crate) post: httpd_handler_fn_t,
}

/// Registers a URI handler, with `httpd_uri_t` laid out with the handshake callbacks that
/// `callbacks` names (1: `ws_pre_handshake_cb`, 2: `ws_post_handshake_cb`, 3: both, in that
/// order after `supported_subprotocol`). The header calls it in place of
/// [`httpd_register_uri_handler`] when `CONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT` or
/// `CONFIG_HTTPD_WS_POST_HANDSHAKE_CB_SUPPORT` is set.
///
/// # Safety
/// `uri_handler` points at an `httpd_uri_t` with those callbacks, whose strings are
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn httpd_register_uri_handler_with_cbs(
    handle: httpd_handle_t,
    uri_handler: *const httpd_uri_t,
    callbacks: c_uint,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if uri_handler.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        let (u, cbs) = match callbacks {
            1 | 2 => {
                // SAFETY: checked non-null; with one callback the struct is an
                // httpd_uri_one_cb_t (the header's layout for that configuration).
                let u = unsafe { *uri_handler.cast::<httpd_uri_one_cb_t>() };
                let cbs = if callbacks == 1 {
                    HandshakeCbs {
                        pre: u.cb,
                        post: None,
                    }
                } else {
                    HandshakeCbs {
                        pre: None,
                        post: u.cb,
                    }
                };
                (u.base, cbs)
            }
            3 => {
                // SAFETY: checked non-null; with both callbacks the struct is an
                // httpd_uri_two_cbs_t.
                let u = unsafe { *uri_handler.cast::<httpd_uri_two_cbs_t>() };
                let cbs = HandshakeCbs {
                    pre: u.ws_pre_handshake_cb,
                    post: u.ws_post_handshake_cb,
                };
                (u.base, cbs)
            }
            _ => return ESP_ERR_INVALID_ARG,
        };
        register(handle, u, cbs)
    })
}

fn register(handle: httpd_handle_t, u: httpd_uri_t, cbs: HandshakeCbs) -> esp_err_t {
    let Some(inner) = server_of(handle) else {
        return ESP_ERR_INVALID_ARG;
    };
    let (Some(uri), Some(f)) = (c_str(u.uri), u.handler) else {
        return ESP_ERR_INVALID_ARG;
    };
    let Some(method) = method_from_c(u.method) else {
        log::error!(
            "httpd_register_uri_handler: method {} is not supported on the host",
            u.method
        );
        return ESP_ERR_NOT_SUPPORTED;
    };
    let Some(server) = inner.server() else {
        return ESP_ERR_INVALID_ARG;
    };
    let h = CHandler {
        f,
        user_ctx: CPtr(u.user_ctx),
    };
    let result = if u.is_websocket {
        crate::ws::register(&inner, server, uri, h, &u, cbs)
    } else {
        let inner2 = Arc::clone(&inner);
        server.register(Handler::new(uri, method, move |req| {
            run_handler(&inner2, h, req)
        }))
    };
    match result {
        Ok(()) => ESP_OK,
        Err(e) => reg_err(e),
    }
}

/// Unregisters the handler for `uri` and `method`.
///
/// # Safety
/// `uri` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn httpd_unregister_uri_handler(
    handle: httpd_handle_t,
    uri: *const c_char,
    method: c_int,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let (Some(inner), Some(uri)) = (server_of(handle), c_str(uri)) else {
            return ESP_ERR_INVALID_ARG;
        };
        let (Some(server), Some(m)) = (inner.server(), method_from_c(method)) else {
            return ESP_ERR_NOT_FOUND;
        };
        match server.unregister(uri, m) {
            Ok(()) => ESP_OK,
            Err(e) => reg_err(e),
        }
    })
}

/// Unregisters every handler for `uri`.
///
/// # Safety
/// `uri` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn httpd_unregister_uri(
    handle: httpd_handle_t,
    uri: *const c_char,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let (Some(inner), Some(uri)) = (server_of(handle), c_str(uri)) else {
            return ESP_ERR_INVALID_ARG;
        };
        match inner.server().map(|s| s.unregister_uri(uri)) {
            Some(Ok(())) => ESP_OK,
            Some(Err(e)) => reg_err(e),
            None => ESP_ERR_INVALID_ARG,
        }
    })
}

/// Installs (or, with NULL, removes) the handler for an error the server answers.
///
/// # Safety
/// None beyond a valid function pointer (or NULL).
#[no_mangle]
pub unsafe extern "C" fn httpd_register_err_handler(
    handle: httpd_handle_t,
    error: c_int,
    handler_fn: httpd_err_handler_func_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let Some(inner) = server_of(handle) else {
            return ESP_ERR_INVALID_ARG;
        };
        let Some(index) = usize::try_from(error).ok().filter(|&i| i < ERR_CODES.len()) else {
            return ESP_ERR_INVALID_ARG;
        };
        let Some(server) = inner.server() else {
            return ESP_ERR_INVALID_ARG;
        };
        lock(&inner.err_handlers)[index] = handler_fn;
        let code = ERR_CODES[index];
        match handler_fn {
            None => server.unregister_err_handler(code),
            Some(f) => {
                let inner2 = Arc::clone(&inner);
                let registered = server.register_err_handler(code, move |req, code| {
                    run_err_handler(&inner2, f, req, code)
                });
                if registered.is_err() {
                    return ESP_FAIL;
                }
            }
        }
        ESP_OK
    })
}

/// The session context of connection `sockfd` (inside that connection's handler: the
/// request's `sess_ctx`); NULL if none or on bad arguments.
///
/// # Safety
/// None beyond a handle from `httpd_start`.
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_get_ctx(handle: httpd_handle_t, sockfd: c_int) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some((inner, _)) = session(handle, sockfd) else {
            return std::ptr::null_mut();
        };
        if let Some(req) = current_req(handle, sockfd) {
            // SAFETY: the request of the handler running on this thread for this socket: it
            // lives on that handler's caller's stack until the handler returns.
            return unsafe { (*req).sess_ctx };
        }
        inner
            .with_sess(sockfd, |s| s.ctx.ptr.0)
            .unwrap_or(std::ptr::null_mut())
    })
}

/// Sets the session context of connection `sockfd`, freeing the previous one (ESP-IDF's rules,
/// including the request's copy when called from that connection's handler).
///
/// # Safety
/// `free_fn` is NULL or frees `ctx`.
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_set_ctx(
    handle: httpd_handle_t,
    sockfd: c_int,
    ctx: *mut c_void,
    free_fn: httpd_free_ctx_fn_t,
) {
    guard((), || {
        let Some((inner, _)) = session(handle, sockfd) else {
            return;
        };
        if let Some(req) = current_req(handle, sockfd) {
            // SAFETY: as in httpd_sess_get_ctx: this thread's running handler's request.
            let req = unsafe { &mut *req };
            if req.sess_ctx != ctx {
                let stored = inner
                    .with_sess(sockfd, |s| s.ctx.ptr.0)
                    .unwrap_or(std::ptr::null_mut());
                if stored != req.sess_ctx {
                    free_ctx(CPtr(req.sess_ctx), req.free_ctx);
                }
                req.sess_ctx = ctx;
            }
            req.free_ctx = free_fn;
            return;
        }
        if let Some(Some(old)) = inner.with_sess(sockfd, |s| s.ctx.replace(ctx, free_fn)) {
            old.free();
        }
    })
}

/// The transport context of connection `sockfd`; NULL if none.
///
/// # Safety
/// None beyond a handle from `httpd_start`.
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_get_transport_ctx(
    handle: httpd_handle_t,
    sockfd: c_int,
) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        session(handle, sockfd)
            .and_then(|(inner, _)| inner.with_sess(sockfd, |s| s.transport.ptr.0))
            .unwrap_or(std::ptr::null_mut())
    })
}

/// Sets the transport context of connection `sockfd`, freeing the previous one.
///
/// # Safety
/// `free_fn` is NULL or frees `ctx`.
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_set_transport_ctx(
    handle: httpd_handle_t,
    sockfd: c_int,
    ctx: *mut c_void,
    free_fn: httpd_free_ctx_fn_t,
) {
    guard((), || {
        let Some((inner, _)) = session(handle, sockfd) else {
            return;
        };
        if let Some(Some(old)) = inner.with_sess(sockfd, |s| s.transport.replace(ctx, free_fn)) {
            old.free();
        }
    })
}

/// The configuration's `global_user_ctx`.
///
/// # Safety
/// None beyond a handle from `httpd_start`.
#[no_mangle]
pub unsafe extern "C" fn httpd_get_global_user_ctx(handle: httpd_handle_t) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        server_of(handle).map_or(std::ptr::null_mut(), |s| s.global_user_ctx().0)
    })
}

/// The configuration's `global_transport_ctx`.
///
/// # Safety
/// None beyond a handle from `httpd_start`.
#[no_mangle]
pub unsafe extern "C" fn httpd_get_global_transport_ctx(handle: httpd_handle_t) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        server_of(handle).map_or(std::ptr::null_mut(), |s| s.global_transport_ctx().0)
    })
}

/// Queues closing connection `sockfd` (after its pending output); `ESP_ERR_NOT_FOUND` if
/// there is no such connection.
///
/// # Safety
/// None beyond a handle from `httpd_start`.
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_trigger_close(
    handle: httpd_handle_t,
    sockfd: c_int,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let Some((inner, id)) = session(handle, sockfd) else {
            return ESP_ERR_NOT_FOUND;
        };
        match inner.server().map(|s| s.trigger_close(id)) {
            Some(Ok(())) => ESP_OK,
            _ => ESP_FAIL,
        }
    })
}

/// Marks connection `sockfd` as just used, so the LRU purge closes it last.
///
/// # Safety
/// None beyond a handle from `httpd_start`.
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_update_lru_counter(
    handle: httpd_handle_t,
    sockfd: c_int,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let Some(inner) = server_of(handle) else {
            return ESP_ERR_INVALID_ARG;
        };
        let Some(id) = inner.id_of(sockfd) else {
            return ESP_ERR_NOT_FOUND;
        };
        if let Some(r) = with_work_ctx(handle, |ctx| ctx.mark_used(id)) {
            return if r.is_ok() { ESP_OK } else { ESP_ERR_NOT_FOUND };
        }
        match inner
            .server()
            .map(|s| s.queue_work(move |ctx| drop(ctx.mark_used(id))))
        {
            Some(Ok(())) => ESP_OK,
            _ => ESP_FAIL,
        }
    })
}

/// Fills `client_fds` with the open connections' descriptors; `*fds` is the array's size on
/// entry and the count on return (`ESP_ERR_INVALID_ARG` if they do not fit).
///
/// # Safety
/// `fds` is valid for reads and writes; `client_fds` for `*fds` ints.
#[no_mangle]
pub unsafe extern "C" fn httpd_get_client_list(
    handle: httpd_handle_t,
    fds: *mut usize,
    client_fds: *mut c_int,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let Some(inner) = server_of(handle) else {
            return ESP_ERR_INVALID_ARG;
        };
        if fds.is_null() || client_fds.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; readable by the contract.
        let max = unsafe { *fds };
        if max == 0 {
            return ESP_ERR_INVALID_ARG;
        }
        let ids = inner.server().map(Server::clients).unwrap_or_default();
        let mut list: Vec<c_int> = ids
            .into_iter()
            .map(|id| inner.fd_of(id))
            .filter(|&fd| fd >= 0)
            .collect();
        list.sort_unstable();
        // SAFETY: non-null and valid for `max` ints by the contract.
        let out = unsafe { std::slice::from_raw_parts_mut(client_fds, max) };
        let n = list.len().min(max);
        out[..n].copy_from_slice(&list[..n]);
        // SAFETY: checked non-null and writable.
        unsafe { *fds = n };
        if list.len() > max {
            ESP_ERR_INVALID_ARG
        } else {
            ESP_OK
        }
    })
}

/// Queues `work(arg)` to run on the server thread; `ESP_FAIL` when the queue is full.
///
/// # Safety
/// `work` is NULL or a function that may be called with `arg` on another thread.
#[no_mangle]
pub unsafe extern "C" fn httpd_queue_work(
    handle: httpd_handle_t,
    work: httpd_work_fn_t,
    arg: *mut c_void,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let (Some(inner), Some(work)) = (server_of(handle), work) else {
            return ESP_ERR_INVALID_ARG;
        };
        server::queue_work(&inner, work, CPtr(arg))
    })
}

/// The server and session of the socket functions' arguments, or `HTTPD_SOCK_ERR_INVALID`.
fn sock_args(
    hd: httpd_handle_t,
    sockfd: c_int,
    null_buf: bool,
) -> Result<(Arc<Inner>, httpd::SessionId), c_int> {
    match session(hd, sockfd) {
        Some(found) if !null_buf => Ok(found),
        _ => Err(HTTPD_SOCK_ERR_INVALID),
    }
}

/// Sends raw bytes to connection `sockfd` (through its send override when one is set; else
/// after its pending output). Returns the count or `HTTPD_SOCK_ERR_*`.
///
/// # Safety
/// `buf` is valid for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_socket_send(
    hd: httpd_handle_t,
    sockfd: c_int,
    buf: *const c_char,
    buf_len: usize,
    flags: c_int,
) -> c_int {
    guard(HTTPD_SOCK_ERR_FAIL, || {
        let (inner, id) = match sock_args(hd, sockfd, buf.is_null()) {
            Ok(args) => args,
            Err(e) => return e,
        };
        if let Some(f) = inner.with_sess(sockfd, |s| s.io.send_fn()).flatten() {
            // SAFETY: the program's send override with the program's own buffer.
            return unsafe { f(hd, sockfd, buf, buf_len, flags) };
        }
        // SAFETY: non-null and valid for `buf_len` bytes by the contract.
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), buf_len) };
        send_bytes(&inner, hd, sockfd, id, data)
    })
}

/// Sends bytes to a connection from wherever this thread is: its own handler, queued work, or
/// elsewhere (queued to the server thread).
pub(crate) fn send_bytes(
    inner: &Arc<Inner>,
    hd: httpd_handle_t,
    fd: c_int,
    id: httpd::SessionId,
    data: &[u8],
) -> c_int {
    let n = c_int::try_from(data.len()).unwrap_or(c_int::MAX);
    if let Some(req) = current_req(hd, fd) {
        // SAFETY: this thread's running handler's request for this socket.
        if let Some(st) = unsafe { state(req) } {
            if let Some(r) = st.with_req(|req| req.send_raw(data)) {
                return if r.is_ok() { n } else { HTTPD_SOCK_ERR_FAIL };
            }
        }
    }
    if let Some(r) = with_work_ctx(hd, |ctx| ctx.send(id, data)) {
        return if r.is_ok() { n } else { HTTPD_SOCK_ERR_FAIL };
    }
    match inner.server().map(|s| s.send_to(id, data.to_vec())) {
        Some(Ok(())) => n,
        _ => HTTPD_SOCK_ERR_FAIL,
    }
}

/// Receives raw bytes from connection `sockfd` (through its recv override when one is set;
/// else `recv(2)` on the socket, which is non-blocking between requests).
///
/// # Safety
/// `buf` is valid for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_socket_recv(
    hd: httpd_handle_t,
    sockfd: c_int,
    buf: *mut c_char,
    buf_len: usize,
    flags: c_int,
) -> c_int {
    guard(HTTPD_SOCK_ERR_FAIL, || {
        let (inner, _) = match sock_args(hd, sockfd, buf.is_null()) {
            Ok(args) => args,
            Err(e) => return e,
        };
        if let Some(f) = inner.with_sess(sockfd, |s| s.io.recv_fn()).flatten() {
            // SAFETY: the program's recv override with the program's own buffer.
            return unsafe { f(hd, sockfd, buf, buf_len, flags) };
        }
        if inner.tls {
            // The socket carries TLS records; the plaintext is the server's to read.
            log::error!("httpd_socket_recv: not offered on an HTTPS server's socket");
            return HTTPD_SOCK_ERR_FAIL;
        }
        default_recv(sockfd, buf.cast::<c_void>(), buf_len, flags)
    })
}

/// Installs one of a connection's override functions.
fn set_override<F>(
    hd: httpd_handle_t,
    sockfd: c_int,
    f: Option<F>,
    set: fn(&Overrides, F),
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let (Some((inner, _)), Some(f)) = (session(hd, sockfd), f) else {
            return ESP_ERR_INVALID_ARG;
        };
        if inner.tls {
            // On the chip the overrides are the TLS layer itself; here rustls is inside the
            // server and an override would never be called.
            log::error!("transport overrides are not offered on an HTTPS server");
            return ESP_ERR_NOT_SUPPORTED;
        }
        inner.with_sess(sockfd, |s| set(&s.io, f));
        ESP_OK
    })
}

/// Sets connection `sockfd`'s receive function (how the server reads its bytes).
///
/// # Safety
/// `recv_func` behaves as ESP-IDF's default receive does (see the header).
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_set_recv_override(
    hd: httpd_handle_t,
    sockfd: c_int,
    recv_func: httpd_recv_func_t,
) -> esp_err_t {
    set_override(hd, sockfd, recv_func, Overrides::set_recv)
}

/// Sets connection `sockfd`'s send function.
///
/// # Safety
/// `send_func` behaves as ESP-IDF's default send does.
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_set_send_override(
    hd: httpd_handle_t,
    sockfd: c_int,
    send_func: httpd_send_func_t,
) -> esp_err_t {
    set_override(hd, sockfd, send_func, Overrides::set_send)
}

/// Sets connection `sockfd`'s pending function (bytes its receive function holds).
///
/// # Safety
/// `pending_func` returns a count without blocking.
#[no_mangle]
pub unsafe extern "C" fn httpd_sess_set_pending_override(
    hd: httpd_handle_t,
    sockfd: c_int,
    pending_func: httpd_pending_func_t,
) -> esp_err_t {
    set_override(hd, sockfd, pending_func, Overrides::set_pending)
}

/// `HTTP_SERVER_EVENT_START` while the server runs (the host library posts no events).
///
/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn httpd_get_server_state(handle: httpd_handle_t) -> c_int {
    guard(HTTP_SERVER_EVENT_STOP, || {
        server_of(handle).map_or(HTTP_SERVER_EVENT_STOP, |s| {
            s.state.load(std::sync::atomic::Ordering::Acquire)
        })
    })
}

/// The port a server listens on (useful with `server_port = 0`); 0 for an unknown handle.
/// A host extension, not in ESP-IDF.
///
/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn httpd_host_port(handle: httpd_handle_t) -> u16 {
    guard(0, || {
        server_of(handle)
            .and_then(|s| s.server().map(|s| s.local_addr().port()))
            .unwrap_or(0)
    })
}

//! Requests: the `httpd_req_t` built for each handler call, what `aux` points at, and the
//! `httpd_req_*` / `httpd_resp_*` functions over httpd's [`Request`].

use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Arc, Mutex};

use httpd::{AsyncRequest, Error, Request, SessionId, WsConn};

use crate::abi::*;
use crate::server::{lock, running, CPtr, Inner, Running};

/// Marks a live `ReqState` (a check against stale or foreign `aux` pointers).
const MAGIC: u64 = 0x6874_7470_645f_7271;

/// Where a request's operations go.
pub(crate) enum Source<'r, 'a> {
    /// A handler's own request, for the duration of the call.
    Sync(&'r mut Request<'a>),
    /// A request detached by `httpd_req_async_handler_begin`.
    Async(AsyncRequest),
    /// A WebSocket frame given to a handler.
    Ws {
        conn: &'r mut WsConn<'a>,
        opcode: c_int,
        fin: bool,
        payload: &'r [u8],
        read: usize,
    },
}

/// What `httpd_req_t.aux` points at.
pub(crate) struct ReqState<'r, 'a> {
    magic: u64,
    pub(crate) inner: Arc<Inner>,
    pub(crate) fd: c_int,
    pub(crate) id: SessionId,
    /// Body bytes `httpd_req_recv` may still return (`u64::MAX` for a chunked body).
    pub(crate) remaining: u64,
    pub(crate) source: Source<'r, 'a>,
    /// `httpd_req_async_handler_begin` was called on this request.
    pub(crate) detached: bool,
    /// Strings handed out by the `_ptr` getters, valid while the request is.
    strings: Vec<CString>,
}

impl<'r, 'a> ReqState<'r, 'a> {
    pub(crate) fn new(
        inner: Arc<Inner>,
        fd: c_int,
        id: SessionId,
        remaining: u64,
        source: Source<'r, 'a>,
    ) -> Self {
        ReqState {
            magic: MAGIC,
            inner,
            fd,
            id,
            remaining,
            source,
            detached: false,
            strings: Vec::new(),
        }
    }

    /// Runs `f` on the HTTP request (`None` for a WebSocket frame, or a detached request whose
    /// handler failed).
    pub(crate) fn with_req<R>(&mut self, f: impl FnOnce(&mut Request<'_>) -> R) -> Option<R> {
        match &mut self.source {
            Source::Sync(req) => Some(f(req)),
            Source::Async(a) => a.request().ok().map(|mut r| f(&mut r)),
            Source::Ws { .. } => None,
        }
    }

    /// Keeps `s` alive with the request and returns its address.
    pub(crate) fn keep(&mut self, s: &[u8]) -> *const c_char {
        let s = CString::new(s.iter().copied().filter(|&b| b != 0).collect::<Vec<u8>>())
            .unwrap_or_default();
        let p = s.as_ptr();
        self.strings.push(s);
        p
    }
}

/// The addresses of the live `ReqState`s.
static LIVE: Mutex<Option<HashSet<usize>>> = Mutex::new(None);
/// The `httpd_req_t`s allocated by `httpd_req_async_handler_begin` and not yet completed.
static ASYNC: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

fn set_add(set: &Mutex<Option<HashSet<usize>>>, p: usize) {
    lock(set).get_or_insert_with(HashSet::new).insert(p);
}

fn set_remove(set: &Mutex<Option<HashSet<usize>>>, p: usize) -> bool {
    lock(set).as_mut().is_some_and(|s| s.remove(&p))
}

fn set_has(set: &Mutex<Option<HashSet<usize>>>, p: usize) -> bool {
    lock(set).as_ref().is_some_and(|s| s.contains(&p))
}

/// The state behind a request pointer, if it is a live request.
///
/// # Safety
/// `r` is NULL or points at an `httpd_req_t` (a handler's request or an asynchronous copy, as
/// ESP-IDF requires of every `httpd_req_t *` argument). The state is used by one thread at a
/// time, as the request is.
pub(crate) unsafe fn state<'x>(r: *mut httpd_req_t) -> Option<&'x mut ReqState<'x, 'x>> {
    if r.is_null() {
        return None;
    }
    // SAFETY: `r` points at an httpd_req_t by the contract.
    let aux = unsafe { (*r).aux };
    if aux.is_null() || !set_has(&LIVE, aux as usize) {
        return None;
    }
    // SAFETY: `aux` is in LIVE, so it is the address of a ReqState that `call_handler` or
    // `httpd_req_async_handler_begin` registered and has not yet removed: the state outlives
    // this use (its handler call or its async request is still running on this thread).
    let st = unsafe { &mut *(aux as *mut ReqState<'x, 'x>) };
    (st.magic == MAGIC).then_some(st)
}

/// A fresh `httpd_req_t`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_creq(
    inner: &Inner,
    method: c_int,
    uri: &str,
    content_len: usize,
    user_ctx: CPtr,
    ctx: (CPtr, httpd_free_ctx_fn_t, bool),
) -> httpd_req_t {
    let mut creq = httpd_req_t {
        handle: inner.handle(),
        method,
        uri: [0; CONFIG_HTTPD_MAX_URI_LEN + 1],
        content_len,
        aux: std::ptr::null_mut(),
        user_ctx: user_ctx.0,
        sess_ctx: ctx.0 .0,
        free_ctx: ctx.1,
        ignore_sess_ctx_changes: ctx.2,
    };
    for (dst, &b) in creq
        .uri
        .iter_mut()
        .zip(uri.as_bytes().iter().take(CONFIG_HTTPD_MAX_URI_LEN))
    {
        *dst = b as c_char;
    }
    creq
}

/// Calls a C handler with `creq` whose `aux` is `st`, noting it as this thread's current
/// request, and afterwards stores the session context back (ESP-IDF's request cleanup).
pub(crate) fn call_c(
    creq: &mut httpd_req_t,
    st: &mut ReqState<'_, '_>,
    f: impl FnOnce(*mut httpd_req_t) -> esp_err_t,
) -> esp_err_t {
    let inner = Arc::clone(&st.inner);
    let fd = st.fd;
    let aux = st as *mut ReqState<'_, '_> as *mut c_void;
    creq.aux = aux;
    set_add(&LIVE, aux as usize);
    let req: *mut httpd_req_t = creq;
    let ret = running(
        Running::Handler {
            hd: inner.handle() as usize,
            fd,
            req,
        },
        || f(req),
    );
    set_remove(&LIVE, aux as usize);
    creq.aux = std::ptr::null_mut();
    inner.store_ctx(
        fd,
        CPtr(creq.sess_ctx),
        creq.free_ctx,
        creq.ignore_sess_ctx_changes,
    );
    ret
}

/// A registered C handler.
#[derive(Clone, Copy)]
pub(crate) struct CHandler {
    pub(crate) f: unsafe extern "C" fn(*mut httpd_req_t) -> esp_err_t,
    pub(crate) user_ctx: CPtr,
}

/// Calls `f` with an `httpd_req_t` for `req` (user context `user_ctx`); returns what it
/// returned and whether it detached the request.
pub(crate) fn call_on_request(
    inner: &Arc<Inner>,
    user_ctx: CPtr,
    req: &mut Request<'_>,
    f: impl FnOnce(*mut httpd_req_t) -> esp_err_t,
) -> (esp_err_t, bool) {
    let id = req.session_id();
    let fd = inner.fd_of(id);
    let remaining = req.content_length().unwrap_or(u64::MAX);
    let mut creq = new_creq(
        inner,
        method_to_c(req.method()),
        req.uri(),
        req.content_length().unwrap_or(0) as usize,
        user_ctx,
        inner.load_ctx(fd),
    );
    let mut st = ReqState::new(Arc::clone(inner), fd, id, remaining, Source::Sync(req));
    let ret = call_c(&mut creq, &mut st, f);
    (ret, st.detached)
}

/// Runs a C URI handler for an HTTP request.
pub(crate) fn run_handler(
    inner: &Arc<Inner>,
    h: CHandler,
    req: &mut Request<'_>,
) -> Result<(), Error> {
    // SAFETY: the program's handler of this type, called as ESP-IDF calls it, with a request
    // that stays valid for the call.
    let (ret, detached) = call_on_request(inner, h.user_ctx, req, |r| unsafe { (h.f)(r) });
    finish(req, ret, detached)
}

/// After a handler: ESP-IDF sends nothing for a handler that returned `ESP_OK` without
/// responding (and neither does this library); anything else fails, closing the connection.
fn finish(req: &mut Request<'_>, ret: esp_err_t, detached: bool) -> Result<(), Error> {
    if ret == ESP_OK && !detached && !req.response_started() {
        let _ = req.send_raw(b"");
    }
    esp_result(ret)
}

/// `Ok` for `ESP_OK`; otherwise a handler failure naming the code.
pub(crate) fn esp_result(ret: esp_err_t) -> Result<(), Error> {
    if ret == ESP_OK {
        Ok(())
    } else {
        Err(Error::handler(format!("handler returned {ret}")))
    }
}

/// Runs a C error handler.
pub(crate) fn run_err_handler(
    inner: &Arc<Inner>,
    f: unsafe extern "C" fn(*mut httpd_req_t, c_int) -> esp_err_t,
    req: &mut Request<'_>,
    code: httpd::ErrorCode,
) -> Result<(), Error> {
    let index = err_code_index(code);
    // SAFETY: the program's error handler of this type, called as ESP-IDF calls it.
    let (ret, detached) = call_on_request(inner, CPtr::NULL, req, |r| unsafe { f(r, index) });
    // ESP-IDF closes the connection after a 500 whatever the handler says.
    let ret = if index == 0 { ret.min(ESP_FAIL) } else { ret };
    finish(req, ret, detached)
}

/// The request head as text (method, target, version, headers), for the raw-data getters.
pub(crate) fn raw_head(req: &Request<'_>) -> Vec<u8> {
    let version = match req.version() {
        httpd::Version::Http10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let mut out = format!("{} {} {}\r\n", req.method(), req.uri(), version).into_bytes();
    for (name, value) in req.headers() {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

// ---- the exported functions -----------------------------------------------------------------

use crate::guard;
use crate::response::{send_error, ESP_STATUS};
use crate::text::out_buf;

/// The connection's socket descriptor; -1 for an invalid request.
///
/// # Safety
/// `r` is NULL or a request given to a handler (or an asynchronous copy).
#[no_mangle]
pub unsafe extern "C" fn httpd_req_to_sockfd(r: *mut httpd_req_t) -> c_int {
    // SAFETY: the function's contract is `state`'s.
    guard(-1, || unsafe { state(r) }.map_or(-1, |st| st.fd))
}

/// Reads up to `buf_len` body bytes (clamped to what remains): the count, 0 at the end,
/// `HTTPD_SOCK_ERR_TIMEOUT` when nothing arrived within `recv_wait_timeout`,
/// `HTTPD_SOCK_ERR_INVALID` for bad arguments, `HTTPD_SOCK_ERR_FAIL` otherwise.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`]; `buf` is valid for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_recv(
    r: *mut httpd_req_t,
    buf: *mut c_char,
    buf_len: usize,
) -> c_int {
    guard(HTTPD_SOCK_ERR_FAIL, || {
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(r) }) else {
            return HTTPD_SOCK_ERR_INVALID;
        };
        if buf.is_null() {
            return HTTPD_SOCK_ERR_INVALID;
        }
        let len = buf_len.min(usize::try_from(st.remaining).unwrap_or(usize::MAX));
        let len = len.min(c_int::MAX as usize);
        if len == 0 {
            return 0;
        }
        // SAFETY: non-null and valid for `buf_len >= len` bytes by the contract.
        let out = unsafe { out_buf(buf, len) };
        match st.with_req(|req| req.recv(out)) {
            None => HTTPD_SOCK_ERR_INVALID,
            Some(Ok(n)) => {
                if st.remaining != u64::MAX {
                    st.remaining -= n as u64;
                }
                n as c_int
            }
            Some(Err(Error::Timeout)) => HTTPD_SOCK_ERR_TIMEOUT,
            Some(Err(e)) => {
                log::debug!("httpd_req_recv: {e}");
                HTTPD_SOCK_ERR_FAIL
            }
        }
    })
}

/// Detaches the request so another thread can finish it: `*out` is a copy valid until
/// `httpd_req_async_handler_complete`. The connection is not served (nor purged) meanwhile.
///
/// # Safety
/// `r` a handler's request; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_async_handler_begin(
    r: *mut httpd_req_t,
    out: *mut *mut httpd_req_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if r.is_null() || out.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(r) }) else {
            return ESP_ERR_INVALID_ARG;
        };
        let Source::Sync(req) = &mut st.source else {
            return ESP_ERR_INVALID_STATE;
        };
        let detached = match req.detach() {
            Ok(d) => d,
            Err(e) => {
                log::warn!("httpd_req_async_handler_begin: {e}");
                return ESP_ERR_INVALID_STATE;
            }
        };
        st.detached = true;
        let copy: Box<ReqState<'static, 'static>> = Box::new(ReqState::new(
            Arc::clone(&st.inner),
            st.fd,
            st.id,
            st.remaining,
            Source::Async(detached),
        ));
        let aux = Box::into_raw(copy) as *mut c_void;
        // SAFETY: `r` points at a live request (checked above).
        let src = unsafe { &*r };
        let areq = Box::new(httpd_req_t {
            handle: src.handle,
            method: src.method,
            uri: src.uri,
            content_len: src.content_len,
            aux,
            user_ctx: src.user_ctx,
            sess_ctx: src.sess_ctx,
            free_ctx: src.free_ctx,
            ignore_sess_ctx_changes: src.ignore_sess_ctx_changes,
        });
        let areq = Box::into_raw(areq);
        set_add(&LIVE, aux as usize);
        set_add(&ASYNC, areq as usize);
        // SAFETY: checked non-null and writable by the contract.
        unsafe { *out = areq };
        ESP_OK
    })
}

/// Ends an asynchronous request and frees the copy. It sends nothing by itself (a response not
/// sent stays unsent, as on the chip); the connection is served again.
///
/// # Safety
/// `r` a request from `httpd_req_async_handler_begin`, not yet completed.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_async_handler_complete(r: *mut httpd_req_t) -> esp_err_t {
    guard(ESP_FAIL, || {
        if r.is_null() || !set_remove(&ASYNC, r as usize) {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: `r` was in ASYNC, so it came from Box::into_raw in
        // httpd_req_async_handler_begin and has not been freed; it is removed from the set, so
        // this is the one place that frees it.
        let areq = unsafe { Box::from_raw(r) };
        let aux = areq.aux;
        if !set_remove(&LIVE, aux as usize) {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: `aux` was registered by httpd_req_async_handler_begin from Box::into_raw of
        // this type, and removed from LIVE just now: nothing else frees or uses it.
        let mut st = unsafe { Box::from_raw(aux as *mut ReqState<'static, 'static>) };
        let _ = st.with_req(|req| {
            if !req.response_started() {
                let _ = req.send_raw(b"");
            }
        });
        drop(st);
        ESP_OK
    })
}

/// Runs the error handling for `error`: the registered error handler (whose result is
/// returned; `ESP_FAIL` always for a 500), or the default page and `ESP_FAIL`.
///
/// # Safety
/// `req` as for [`httpd_req_to_sockfd`].
#[no_mangle]
pub unsafe extern "C" fn httpd_req_handle_err(req: *mut httpd_req_t, error: c_int) -> esp_err_t {
    guard(ESP_FAIL, || {
        let Some(index) = usize::try_from(error).ok().filter(|&i| i < ERR_CODES.len()) else {
            return ESP_ERR_INVALID_ARG;
        };
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(req) }) else {
            return ESP_ERR_INVALID_ARG;
        };
        let handler = lock(&st.inner.err_handlers)[index];
        match handler {
            Some(f) => {
                // SAFETY: the program's error handler, called as ESP-IDF calls it, with the
                // request it was given.
                let ret = unsafe { f(req, error) };
                if index == 0 {
                    ESP_FAIL
                } else {
                    ret
                }
            }
            None => {
                let msg = ERR_CODES[index].default_message().as_bytes();
                let _ = st.with_req(|r| send_error(r, ESP_STATUS[index], msg));
                ESP_FAIL
            }
        }
    })
}

/// The length of the request head as received (request line and headers).
///
/// # Safety
/// `req` as for [`httpd_req_to_sockfd`].
#[no_mangle]
pub unsafe extern "C" fn httpd_get_raw_req_data_len(req: *mut httpd_req_t) -> usize {
    guard(0, || {
        // SAFETY: the function's contract is `state`'s.
        unsafe { state(req) }
            .and_then(|st| st.with_req(|r| raw_head(r).len()))
            .unwrap_or(0)
    })
}

/// Copies up to `buf_len` bytes of the request head (not NUL-terminated).
///
/// # Safety
/// `req` as for [`httpd_req_to_sockfd`]; `buf` valid for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_get_raw_req_data(
    req: *mut httpd_req_t,
    buf: *mut c_char,
    buf_len: usize,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if buf.is_null() || buf_len == 0 {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: the function's contract is `state`'s.
        let Some(head) = unsafe { state(req) }.and_then(|st| st.with_req(|r| raw_head(r))) else {
            return ESP_ERR_INVALID_ARG;
        };
        let n = head.len().min(buf_len);
        // SAFETY: non-null and valid for `buf_len >= n` bytes by the contract.
        unsafe { out_buf(buf, n) }.copy_from_slice(&head[..n]);
        ESP_OK
    })
}

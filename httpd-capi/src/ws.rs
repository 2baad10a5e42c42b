//! WebSocket: endpoints registered with `is_websocket`, frames handed to the C handler as
//! requests (`method` 0), `httpd_ws_recv_frame`, and sending frames from the handler or from
//! anywhere.
//!
//! httpd completes the handshake itself (the handler is not called for it, as in current
//! ESP-IDF) and gives the handler whole messages (fragments are reassembled). Without
//! `handle_ws_control_frames`, PINGs are answered and CLOSEs echoed for the handler, and PONGs
//! reach it; with it, every control frame reaches it (a CLOSE is still echoed after).

use std::ffi::{c_int, c_void};
use std::sync::mpsc;
use std::sync::Arc;

use httpd::{CloseCode, Error, Opcode, Server, SessionId, WsConn, WsFrame, WsHandler, WsMessage};

use crate::abi::*;
use crate::exports::send_bytes;
use crate::exports::HandshakeCbs;
use crate::guard;
use crate::request::{
    call_c, call_on_request, esp_result, new_creq, state, CHandler, ReqState, Source,
};
use crate::server::{c_str, queue_on_server, session, with_work_ctx, CPtr, Inner};

/// Largest message an endpoint takes (ESP-IDF has no limit but memory).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Registers a WebSocket endpoint for a C handler.
pub(crate) fn register(
    inner: &Arc<Inner>,
    server: &Server,
    uri: &str,
    h: CHandler,
    u: &httpd_uri_t,
    cbs: HandshakeCbs,
) -> Result<(), Error> {
    let control = u.handle_ws_control_frames;
    let inner2 = Arc::clone(inner);
    let mut ws = WsHandler::new(uri, move |conn, frame| {
        run(&inner2, h, control, conn, frame)
    })
    .control_frames(true)
    .max_message(MAX_MESSAGE);
    if let Some(p) = c_str(u.supported_subprotocol) {
        ws = ws.subprotocol(p);
    }
    if let Some(pre) = cbs.pre {
        let inner2 = Arc::clone(inner);
        ws = ws.pre_handshake(move |req| {
            // SAFETY: the program's pre-handshake callback, called as ESP-IDF calls it, with
            // the upgrade request.
            let (ret, _) = call_on_request(&inner2, h.user_ctx, req, |r| unsafe { pre(r) });
            esp_result(ret)
        });
    }
    if let Some(post) = cbs.post {
        let inner2 = Arc::clone(inner);
        ws = ws.post_handshake(move |conn| {
            // SAFETY: the program's post-handshake callback, called as ESP-IDF calls it.
            let ret = call_on_conn(
                &inner2,
                h.user_ctx,
                method_to_c(httpd::Method::Get),
                conn,
                None,
                |r| unsafe { post(r) },
            );
            esp_result(ret)
        });
    }
    server.register(ws)
}

fn opcode_to_c(op: Opcode) -> c_int {
    match op {
        Opcode::Text => HTTPD_WS_TYPE_TEXT,
        Opcode::Binary => HTTPD_WS_TYPE_BINARY,
        Opcode::Close => HTTPD_WS_TYPE_CLOSE,
        Opcode::Ping => HTTPD_WS_TYPE_PING,
        Opcode::Pong => HTTPD_WS_TYPE_PONG,
        _ => HTTPD_WS_TYPE_CONTINUE,
    }
}

/// Gives one frame to the C handler.
fn run(
    inner: &Arc<Inner>,
    h: CHandler,
    control: bool,
    conn: &mut WsConn<'_>,
    frame: WsFrame<'_>,
) -> Result<(), Error> {
    if !control {
        match frame.opcode() {
            Opcode::Ping => return conn.pong(frame.payload()),
            Opcode::Close => return Ok(()),
            _ => {}
        }
    }
    // SAFETY: the program's handler, called as ESP-IDF calls it for a WebSocket frame.
    let ret = call_on_conn(inner, h.user_ctx, 0, conn, Some(frame), |r| unsafe {
        (h.f)(r)
    });
    esp_result(ret)
}

/// Calls `f` with an `httpd_req_t` for a WebSocket connection (and the frame it got, if any).
fn call_on_conn(
    inner: &Arc<Inner>,
    user_ctx: CPtr,
    method: c_int,
    conn: &mut WsConn<'_>,
    frame: Option<WsFrame<'_>>,
    f: impl FnOnce(*mut httpd_req_t) -> esp_err_t,
) -> esp_err_t {
    let id = conn.session_id();
    let fd = inner.fd_of(id);
    let mut creq = new_creq(inner, method, "", 0, user_ctx, inner.load_ctx(fd));
    let source = Source::Ws {
        conn,
        opcode: frame.map_or(HTTPD_WS_TYPE_CONTINUE, |f| opcode_to_c(f.opcode())),
        fin: frame.is_none_or(|f| f.is_final()),
        payload: frame.map_or(&[][..], |f| f.payload()),
        read: 0,
    };
    let mut st = ReqState::new(Arc::clone(inner), fd, id, 0, source);
    call_c(&mut creq, &mut st, f)
}

/// Reads the frame a WebSocket handler was called for.
///
/// # Safety
/// `req` a WebSocket handler's request; `pkt` an `httpd_ws_frame_t` whose `payload` has room
/// for `max_len` bytes.
unsafe fn recv(
    req: *mut httpd_req_t,
    pkt: *mut httpd_ws_frame_t,
    max_len: usize,
    partial: bool,
) -> esp_err_t {
    if req.is_null() || pkt.is_null() {
        return ESP_ERR_INVALID_ARG;
    }
    // SAFETY: the caller's contract is `state`'s.
    let Some(st) = (unsafe { state(req) }) else {
        return ESP_ERR_INVALID_ARG;
    };
    let Source::Ws {
        opcode,
        fin,
        payload,
        read,
        ..
    } = &mut st.source
    else {
        return ESP_ERR_INVALID_STATE;
    };
    // SAFETY: checked non-null; an httpd_ws_frame_t the caller owns.
    let pkt = unsafe { &mut *pkt };
    if pkt.len == 0 {
        pkt.r#type = *opcode;
        pkt.r#final = *fin;
        pkt.len = payload.len();
        pkt.left_len = payload.len() - *read;
    }
    if max_len == 0 {
        return ESP_OK;
    }
    if pkt.len > max_len && !partial {
        return ESP_ERR_INVALID_SIZE;
    }
    let left = payload.len() - *read;
    if left == 0 {
        return ESP_OK;
    }
    if pkt.payload.is_null() {
        return ESP_FAIL;
    }
    let n = left.min(max_len);
    // SAFETY: `payload` has room for `max_len >= n` bytes by the contract.
    let out = unsafe { std::slice::from_raw_parts_mut(pkt.payload, n) };
    out.copy_from_slice(&payload[*read..*read + n]);
    *read += n;
    pkt.left_len = payload.len() - *read;
    ESP_OK
}

/// Receives the frame the handler was called for: with `max_len` 0 only its type and length
/// (`pkt->len`); then its payload, `ESP_ERR_INVALID_SIZE` when longer than `max_len`.
///
/// # Safety
/// `req` a WebSocket handler's request; `pkt->payload` has room for `max_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_ws_recv_frame(
    req: *mut httpd_req_t,
    pkt: *mut httpd_ws_frame_t,
    max_len: usize,
) -> esp_err_t {
    // SAFETY: the function's contract is `recv`'s.
    guard(ESP_FAIL, || unsafe { recv(req, pkt, max_len, false) })
}

/// As [`httpd_ws_recv_frame`], reading at most `max_len` bytes per call (`pkt->left_len` says
/// how many remain).
///
/// # Safety
/// As [`httpd_ws_recv_frame`].
#[no_mangle]
pub unsafe extern "C" fn httpd_ws_recv_frame_part(
    req: *mut httpd_req_t,
    pkt: *mut httpd_ws_frame_t,
    max_len: usize,
) -> esp_err_t {
    // SAFETY: the function's contract is `recv`'s.
    guard(ESP_FAIL, || unsafe { recv(req, pkt, max_len, true) })
}

/// The payload of a frame to send.
///
/// # Safety
/// `f.payload` is NULL or valid for `f.len` bytes.
unsafe fn payload<'x>(f: &httpd_ws_frame_t) -> &'x [u8] {
    if f.payload.is_null() || f.len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(f.payload, f.len) }
    }
}

/// A close frame's code and reason.
fn close_parts(data: &[u8]) -> (CloseCode, String) {
    match data {
        [a, b, rest @ ..] => (
            CloseCode(u16::from_be_bytes([*a, *b])),
            String::from_utf8_lossy(rest).into_owned(),
        ),
        _ => (CloseCode::NORMAL, String::new()),
    }
}

fn send_on_conn(conn: &mut WsConn<'_>, f: &httpd_ws_frame_t, data: &[u8]) -> Result<(), Error> {
    let fin = !f.fragmented || f.r#final;
    match f.r#type {
        HTTPD_WS_TYPE_TEXT => conn.send_part(Opcode::Text, data, fin),
        HTTPD_WS_TYPE_BINARY | HTTPD_WS_TYPE_CONTINUE => conn.send_part(Opcode::Binary, data, fin),
        HTTPD_WS_TYPE_PING => conn.ping(data),
        HTTPD_WS_TYPE_PONG => conn.pong(data),
        HTTPD_WS_TYPE_CLOSE => {
            let (code, reason) = close_parts(data);
            conn.close(code, &reason)
        }
        _ => Err(Error::InvalidFrame),
    }
}

/// Sends a frame on the handler's own connection.
///
/// # Safety
/// `req` a WebSocket handler's request; `pkt` an `httpd_ws_frame_t` whose payload is valid
/// for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_ws_send_frame(
    req: *mut httpd_req_t,
    pkt: *mut httpd_ws_frame_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if req.is_null() || pkt.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(req) }) else {
            return ESP_ERR_INVALID_ARG;
        };
        // SAFETY: checked non-null; the caller's frame.
        let f = unsafe { *pkt };
        // SAFETY: the function's contract is `payload`'s.
        let data = unsafe { payload(&f) };
        let (hd, fd, id, inner) = (st.inner.handle(), st.fd, st.id, Arc::clone(&st.inner));
        match &mut st.source {
            Source::Ws { conn, .. } => match send_on_conn(conn, &f, data) {
                Ok(()) => ESP_OK,
                Err(_) => ESP_FAIL,
            },
            // An HTTP request on a connection that is not (yet) a WebSocket: raw, as ESP-IDF.
            _ => send_async(&inner, hd, fd, id, &f, data),
        }
    })
}

/// Encodes a server frame (unmasked), as ESP-IDF writes it.
fn encode(f: &httpd_ws_frame_t, data: &[u8]) -> Vec<u8> {
    let fin = !f.fragmented || f.r#final;
    let mut out = Vec::with_capacity(data.len() + 10);
    out.push(((fin as u8) << 7) | (f.r#type as u8 & 0x0f));
    match data.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(data);
    out
}

/// Sends a frame to a connection from anywhere.
fn send_async(
    inner: &Arc<Inner>,
    hd: httpd_handle_t,
    fd: c_int,
    id: SessionId,
    f: &httpd_ws_frame_t,
    data: &[u8],
) -> esp_err_t {
    let Some(server) = inner.server() else {
        return ESP_ERR_INVALID_ARG;
    };
    if f.r#type == HTTPD_WS_TYPE_CLOSE {
        // Through the session, so its close handshake completes.
        let (code, reason) = close_parts(data);
        return match server.ws_send(id, WsMessage::close(code, &reason)) {
            Ok(()) => ESP_OK,
            Err(_) => ESP_FAIL,
        };
    }
    if send_bytes(inner, hd, fd, id, &encode(f, data)) < 0 {
        ESP_FAIL
    } else {
        ESP_OK
    }
}

/// Sends a frame to WebSocket connection `fd` from any thread (queued when not on the server
/// thread's queued work).
///
/// # Safety
/// `frame` an `httpd_ws_frame_t` whose payload is valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_ws_send_frame_async(
    hd: httpd_handle_t,
    fd: c_int,
    frame: *mut httpd_ws_frame_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let Some((inner, id)) = session(hd, fd) else {
            return ESP_ERR_INVALID_ARG;
        };
        if frame.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; the caller's frame.
        let f = unsafe { *frame };
        // SAFETY: the function's contract is `payload`'s.
        let data = unsafe { payload(&f) };
        send_async(&inner, hd, fd, id, &f, data)
    })
}

/// Whether `fd` is a WebSocket connection, an HTTP one, or unknown.
///
/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn httpd_ws_get_fd_info(hd: httpd_handle_t, fd: c_int) -> c_int {
    guard(HTTPD_WS_CLIENT_INVALID, || {
        let Some((inner, id)) = session(hd, fd) else {
            return HTTPD_WS_CLIENT_INVALID;
        };
        match inner.server() {
            Some(s) if s.ws_clients().contains(&id) => HTTPD_WS_CLIENT_WEBSOCKET,
            Some(_) => HTTPD_WS_CLIENT_HTTP,
            None => HTTPD_WS_CLIENT_INVALID,
        }
    })
}

/// Queues sending a frame on the server thread; `done` gets the result there.
fn queue_send(
    inner: &Arc<Inner>,
    hd: httpd_handle_t,
    fd: c_int,
    id: SessionId,
    frame: Frame,
    done: impl FnOnce(esp_err_t) + Send + 'static,
) -> esp_err_t {
    let inner2 = Arc::clone(inner);
    let hd = CPtr(hd);
    let queued = queue_on_server(inner, move || {
        let frame = frame;
        done(send_async(
            &inner2,
            hd.get(),
            fd,
            id,
            &frame.desc,
            &frame.data,
        ));
    });
    match queued {
        Ok(()) => ESP_OK,
        Err(_) => ESP_FAIL,
    }
}

/// A frame to send later: its description and a copy of its payload (the description's
/// payload pointer is not used after the copy).
struct Frame {
    desc: httpd_ws_frame_t,
    data: Vec<u8>,
}

// SAFETY: the description's payload pointer is never dereferenced after the copy in `data` was
// taken on the caller's thread; every other field is a plain value.
unsafe impl Send for Frame {}

/// The arguments of the `httpd_ws_send_data*` functions: the server, the session and the frame
/// with its payload copied.
///
/// # Safety
/// `frame` is NULL or an `httpd_ws_frame_t` whose payload is valid for `len` bytes.
unsafe fn frame_args(
    handle: httpd_handle_t,
    socket: c_int,
    frame: *mut httpd_ws_frame_t,
) -> Result<(Arc<Inner>, SessionId, Frame), esp_err_t> {
    let Some((inner, id)) = session(handle, socket) else {
        return Err(ESP_ERR_INVALID_ARG);
    };
    if frame.is_null() {
        return Err(ESP_ERR_INVALID_ARG);
    }
    // SAFETY: checked non-null; the caller's frame.
    let desc = unsafe { *frame };
    // SAFETY: the function's contract is `payload`'s.
    let data = unsafe { payload(&desc) }.to_vec();
    Ok((inner, id, Frame { desc, data }))
}

/// Sends a frame to connection `socket` and waits for the result (from the server thread
/// itself it sends without waiting).
///
/// # Safety
/// `frame` an `httpd_ws_frame_t` whose payload is valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_ws_send_data(
    handle: httpd_handle_t,
    socket: c_int,
    frame: *mut httpd_ws_frame_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        // SAFETY: the function's contract is `frame_args`'.
        let (inner, id, f) = match unsafe { frame_args(handle, socket, frame) } {
            Ok(args) => args,
            Err(e) => return e,
        };
        if inner.on_server_thread() || with_work_ctx(handle, |_| ()).is_some() {
            return send_async(&inner, handle, socket, id, &f.desc, &f.data);
        }
        let (tx, rx) = mpsc::channel();
        let err = queue_send(&inner, handle, socket, id, f, move |e| {
            let _ = tx.send(e);
        });
        if err != ESP_OK {
            return err;
        }
        rx.recv().unwrap_or(ESP_FAIL)
    })
}

/// Queues sending a frame to connection `socket`; `callback(err, socket, arg)` runs on the
/// server thread once it is sent (the payload is copied at once).
///
/// # Safety
/// `frame` an `httpd_ws_frame_t` whose payload is valid for `len` bytes; `callback` NULL or
/// callable with `arg` on the server thread.
#[no_mangle]
pub unsafe extern "C" fn httpd_ws_send_data_async(
    handle: httpd_handle_t,
    socket: c_int,
    frame: *mut httpd_ws_frame_t,
    callback: transfer_complete_cb,
    arg: *mut c_void,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        // SAFETY: the function's contract is `frame_args`'.
        let (inner, id, f) = match unsafe { frame_args(handle, socket, frame) } {
            Ok(args) => args,
            Err(e) => return e,
        };
        let arg = CPtr(arg);
        queue_send(&inner, handle, socket, id, f, move |e| {
            if let Some(cb) = callback {
                // SAFETY: the program's completion callback with its own argument.
                unsafe { cb(e, socket, arg.get()) };
            }
        })
    })
}

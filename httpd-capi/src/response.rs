//! The response functions (`httpd_resp_*`, `httpd_send`) over httpd's [`Request`].

use std::ffi::{c_char, c_int};

use httpd::{Error, Request};

use crate::abi::*;
use crate::guard;
use crate::request::state;
use crate::text::bytes;

/// The error code for a response function's failure.
pub(crate) fn resp_err(e: &Error) -> esp_err_t {
    match e {
        Error::InvalidHeader | Error::LengthMismatch => ESP_ERR_INVALID_ARG,
        Error::TooManyHeaders => ESP_ERR_HTTPD_RESP_HDR,
        Error::ResponseStarted => ESP_ERR_INVALID_STATE,
        _ => ESP_ERR_HTTPD_RESP_SEND,
    }
}

fn result(r: Option<Result<(), Error>>) -> esp_err_t {
    match r {
        None => ESP_ERR_HTTPD_INVALID_REQ,
        Some(Ok(())) => ESP_OK,
        Some(Err(e)) => resp_err(&e),
    }
}

/// A body argument: `len` bytes at `buf`, `HTTPD_RESP_USE_STRLEN` for a C string, NULL for
/// none. `None` when the arguments are inconsistent.
///
/// # Safety
/// `buf` is NULL, a NUL-terminated string (with `HTTPD_RESP_USE_STRLEN`), or valid for `len`
/// bytes; it stays valid for `'x`.
unsafe fn body<'x>(buf: *const c_char, len: isize) -> Option<&'x [u8]> {
    match (buf.is_null(), len) {
        (true, 0 | HTTPD_RESP_USE_STRLEN) => Some(&[]),
        (true, _) => None,
        // SAFETY: non-null and NUL-terminated by the contract.
        (false, HTTPD_RESP_USE_STRLEN) => Some(unsafe { crate::text::bytes(buf) }),
        (false, n) if n < 0 => None,
        // SAFETY: non-null and valid for `n` bytes by the contract.
        (false, n) => Some(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), n as usize) }),
    }
}

/// ESP-IDF's status lines for `httpd_err_code_t` (501 and 505 read differently from httpd's).
pub(crate) const ESP_STATUS: [&str; HTTPD_ERR_CODE_MAX as usize] = [
    "500 Internal Server Error",
    "501 Method Not Implemented",
    "505 Version Not Supported",
    "400 Bad Request",
    "401 Unauthorized",
    "403 Forbidden",
    "404 Not Found",
    "405 Method Not Allowed",
    "408 Request Timeout",
    "411 Length Required",
    "413 Content Too Large",
    "414 URI Too Long",
    "431 Request Header Fields Too Large",
];

/// Sends an error page: status line, text/html, the message.
pub(crate) fn send_error(req: &mut Request<'_>, status: &str, msg: &[u8]) -> Result<(), Error> {
    req.set_status(status)?;
    req.set_type("text/html")?;
    req.send(msg)
}

/// The response functions with a body argument.
///
/// # Safety
/// As [`httpd_resp_send`].
unsafe fn send_body(
    r: *mut httpd_req_t,
    buf: *const c_char,
    buf_len: isize,
    send: impl FnOnce(&mut Request<'_>, &[u8]) -> Result<(), Error>,
) -> esp_err_t {
    // SAFETY: the caller's contract is `state`'s.
    let Some(st) = (unsafe { state(r) }) else {
        return if r.is_null() {
            ESP_ERR_INVALID_ARG
        } else {
            ESP_ERR_HTTPD_INVALID_REQ
        };
    };
    // SAFETY: the caller's contract is `body`'s.
    let Some(data) = (unsafe { body(buf, buf_len) }) else {
        return ESP_ERR_INVALID_ARG;
    };
    result(st.with_req(|req| send(req, data)))
}

/// Sends a complete response with this body (`Content-Length`).
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `buf` NULL, a NUL-terminated string (with
/// `HTTPD_RESP_USE_STRLEN`) or valid for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_resp_send(
    r: *mut httpd_req_t,
    buf: *const c_char,
    buf_len: isize,
) -> esp_err_t {
    // SAFETY: the function's contract is `send_body`'s.
    guard(ESP_FAIL, || unsafe {
        send_body(r, buf, buf_len, |req, data| req.send(data))
    })
}

/// Sends one chunk of a chunked response; an empty (or NULL) chunk ends it. After a complete
/// response (`httpd_resp_send`) it sends nothing and returns `ESP_ERR_INVALID_STATE`.
///
/// # Safety
/// As [`httpd_resp_send`].
#[no_mangle]
pub unsafe extern "C" fn httpd_resp_send_chunk(
    r: *mut httpd_req_t,
    buf: *const c_char,
    buf_len: isize,
) -> esp_err_t {
    // SAFETY: the function's contract is `send_body`'s.
    guard(ESP_FAIL, || unsafe {
        send_body(r, buf, buf_len, |req, data| req.send_chunk(data))
    })
}

/// Runs `f` with the request and a string argument.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `s` NULL or a NUL-terminated string.
unsafe fn with_str(
    r: *mut httpd_req_t,
    s: *const c_char,
    f: impl FnOnce(&mut Request<'_>, &str) -> Result<(), Error>,
) -> esp_err_t {
    if r.is_null() || s.is_null() {
        return ESP_ERR_INVALID_ARG;
    }
    // SAFETY: the caller's contract is `state`'s.
    let Some(st) = (unsafe { state(r) }) else {
        return ESP_ERR_HTTPD_INVALID_REQ;
    };
    // SAFETY: checked non-null; NUL-terminated by the contract.
    let Ok(s) = std::str::from_utf8(unsafe { bytes(s) }) else {
        return ESP_ERR_INVALID_ARG;
    };
    result(st.with_req(|req| f(req, s)))
}

/// Sets the status line (`"404 Not Found"`); the string is copied.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `status` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn httpd_resp_set_status(
    r: *mut httpd_req_t,
    status: *const c_char,
) -> esp_err_t {
    // SAFETY: the function's contract is `with_str`'s.
    guard(ESP_FAIL, || unsafe {
        with_str(r, status, |req, s| req.set_status(s))
    })
}

/// Sets the content type; the string is copied.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `type_` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn httpd_resp_set_type(
    r: *mut httpd_req_t,
    type_: *const c_char,
) -> esp_err_t {
    // SAFETY: the function's contract is `with_str`'s.
    guard(ESP_FAIL, || unsafe {
        with_str(r, type_, |req, s| req.set_type(s))
    })
}

/// Adds a response header; both strings are copied. `ESP_ERR_HTTPD_RESP_HDR` past
/// `max_resp_headers`.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `field` and `value` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn httpd_resp_set_hdr(
    r: *mut httpd_req_t,
    field: *const c_char,
    value: *const c_char,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if value.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; NUL-terminated by the contract.
        let Ok(value) = std::str::from_utf8(unsafe { bytes(value) }) else {
            return ESP_ERR_INVALID_ARG;
        };
        // SAFETY: the function's contract is `with_str`'s.
        unsafe { with_str(r, field, |req, name| req.set_header(name, value)) }
    })
}

/// Sends an error page for `error` with `msg` (or ESP-IDF's default message).
///
/// # Safety
/// `req` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `msg` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn httpd_resp_send_err(
    req: *mut httpd_req_t,
    error: c_int,
    msg: *const c_char,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let index = usize::try_from(error)
            .ok()
            .filter(|&i| i < ERR_CODES.len())
            .unwrap_or(0);
        let status = ESP_STATUS[index];
        let text = if msg.is_null() {
            ERR_CODES[index].default_message().as_bytes()
        } else {
            // SAFETY: non-null; NUL-terminated by the contract.
            unsafe { bytes(msg) }
        };
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(req) }) else {
            return if req.is_null() {
                ESP_ERR_INVALID_ARG
            } else {
                ESP_ERR_HTTPD_INVALID_REQ
            };
        };
        log::warn!("{status} - {}", String::from_utf8_lossy(text));
        result(st.with_req(|r| send_error(r, status, text)))
    })
}

/// Sends an error page with a custom status line and message.
///
/// # Safety
/// `req` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `status` and `msg` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn httpd_resp_send_custom_err(
    req: *mut httpd_req_t,
    status: *const c_char,
    msg: *const c_char,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let text: &[u8] = if msg.is_null() {
            b""
        } else {
            // SAFETY: non-null; NUL-terminated by the contract.
            unsafe { bytes(msg) }
        };
        // SAFETY: the function's contract is `with_str`'s.
        unsafe { with_str(req, status, |r, s| send_error(r, s, text)) }
    })
}

/// Sends raw bytes; the handler frames the response itself. Returns the count sent or
/// `HTTPD_SOCK_ERR_*`.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `buf` valid for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_send(
    r: *mut httpd_req_t,
    buf: *const c_char,
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
        // SAFETY: non-null and valid for `buf_len` bytes by the contract.
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), buf_len) };
        match st.with_req(|req| req.send_raw(data)) {
            Some(Ok(())) => c_int::try_from(buf_len).unwrap_or(c_int::MAX),
            Some(Err(_)) => HTTPD_SOCK_ERR_FAIL,
            None => HTTPD_SOCK_ERR_INVALID,
        }
    })
}

//! The request getters: headers, the URL query and cookies (`httpd_req_get_*`), with ESP-IDF's
//! truncation and length rules.

use std::ffi::c_char;

use crate::abi::*;
use crate::guard;
use crate::request::{state, ReqState};
use crate::text::{bytes, cookie_value, copy_out, out_buf};

/// The value of request header `field` (case-insensitive, first one), for the getters.
fn header(st: &mut ReqState<'_, '_>, field: *const c_char) -> Option<Option<Vec<u8>>> {
    if field.is_null() {
        return None;
    }
    // SAFETY: non-null; NUL-terminated by the getters' contract.
    let name = std::str::from_utf8(unsafe { bytes(field) }).ok()?;
    st.with_req(|req| req.header(name).map(|v| v.as_bytes().to_vec()))
}

/// The length of header `field`'s value; 0 if absent or on bad arguments.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `field` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_get_hdr_value_len(
    r: *mut httpd_req_t,
    field: *const c_char,
) -> usize {
    guard(0, || {
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(r) }) else {
            return 0;
        };
        header(st, field).flatten().map_or(0, |v| v.len())
    })
}

/// Copies header `field`'s value with its NUL into `val` (`val_size` bytes):
/// `ESP_ERR_HTTPD_RESULT_TRUNC` when cut short (the copy is truncated, as in ESP-IDF),
/// `ESP_ERR_NOT_FOUND`, `ESP_ERR_INVALID_ARG`, `ESP_ERR_HTTPD_INVALID_REQ`.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `field` a NUL-terminated string; `val` valid for
/// `val_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_get_hdr_value_str(
    r: *mut httpd_req_t,
    field: *const c_char,
    val: *mut c_char,
    val_size: usize,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if r.is_null() || field.is_null() || val.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(r) }) else {
            return ESP_ERR_HTTPD_INVALID_REQ;
        };
        let Some(Some(v)) = header(st, field) else {
            return ESP_ERR_NOT_FOUND;
        };
        if val_size == 0 {
            return ESP_ERR_HTTPD_RESULT_TRUNC;
        }
        // SAFETY: non-null and valid for `val_size` bytes by the contract.
        let out = unsafe { out_buf(val, val_size) };
        let n = v.len().min(val_size - 1);
        out[..n].copy_from_slice(&v[..n]);
        out[n] = 0;
        if n < v.len() {
            ESP_ERR_HTTPD_RESULT_TRUNC
        } else {
            ESP_OK
        }
    })
}

/// Points `*val` at header `field`'s NUL-terminated value (valid until the request ends) and
/// sets `*val_len` to its length.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `field` a NUL-terminated string; `val` and `val_len`
/// valid for writes.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_get_hdr_value_str_ptr(
    r: *mut httpd_req_t,
    field: *const c_char,
    val: *mut *const c_char,
    val_len: *mut usize,
) -> esp_err_t {
    // SAFETY: the function's contract is `ptr_getter`'s.
    guard(ESP_FAIL, || unsafe {
        ptr_getter(r, val, val_len, field.is_null(), |st| header(st, field))
    })
}

/// The `_ptr` getters: a NUL-terminated copy of the value kept with the request, its address
/// and length written to `out` and `out_len`.
///
/// # Safety
/// `r` as for `state`; `out` and `out_len` NULL or valid for writes.
unsafe fn ptr_getter(
    r: *mut httpd_req_t,
    out: *mut *const c_char,
    out_len: *mut usize,
    bad_arg: bool,
    get: impl FnOnce(&mut ReqState<'_, '_>) -> Option<Option<Vec<u8>>>,
) -> esp_err_t {
    if r.is_null() || out.is_null() || out_len.is_null() || bad_arg {
        return ESP_ERR_INVALID_ARG;
    }
    // SAFETY: the caller's contract is `state`'s.
    let Some(st) = (unsafe { state(r) }) else {
        return ESP_ERR_HTTPD_INVALID_REQ;
    };
    let Some(Some(v)) = get(st) else {
        return ESP_ERR_NOT_FOUND;
    };
    let p = st.keep(&v);
    // SAFETY: both checked non-null and writable by the contract.
    unsafe {
        *out = p;
        *out_len = v.len();
    }
    ESP_OK
}

fn query(st: &mut ReqState<'_, '_>) -> Option<Option<Vec<u8>>> {
    st.with_req(|req| req.query().map(|q| q.as_bytes().to_vec()))
}

/// The length of the URL's query string; 0 without one or on bad arguments.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd).
#[no_mangle]
pub unsafe extern "C" fn httpd_req_get_url_query_len(r: *mut httpd_req_t) -> usize {
    guard(0, || {
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(r) }) else {
            return 0;
        };
        query(st).flatten().map_or(0, |q| q.len())
    })
}

/// Copies the query string with its NUL into `buf`: `ESP_ERR_HTTPD_RESULT_TRUNC` (nothing
/// copied) when it does not fit, `ESP_ERR_NOT_FOUND` without a query.
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `buf` valid for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_get_url_query_str(
    r: *mut httpd_req_t,
    buf: *mut c_char,
    buf_len: usize,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if r.is_null() || buf.is_null() || buf_len == 0 {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(r) }) else {
            return ESP_ERR_HTTPD_INVALID_REQ;
        };
        let Some(Some(q)) = query(st) else {
            return ESP_ERR_NOT_FOUND;
        };
        // SAFETY: non-null and valid for `buf_len` bytes by the contract.
        if copy_out(&q, unsafe { out_buf(buf, buf_len) }) {
            ESP_OK
        } else {
            ESP_ERR_HTTPD_RESULT_TRUNC
        }
    })
}

/// Points `*buf` at the NUL-terminated query string (valid until the request ends).
///
/// # Safety
/// `r` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `buf` and `buf_len` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_get_url_query_str_ptr(
    r: *mut httpd_req_t,
    buf: *mut *const c_char,
    buf_len: *mut usize,
) -> esp_err_t {
    // SAFETY: the function's contract is `ptr_getter`'s.
    guard(ESP_FAIL, || unsafe {
        ptr_getter(r, buf, buf_len, false, query)
    })
}

/// Finds cookie `cookie_name` in the `Cookie` header: `*val_size` becomes the value's length
/// plus one; `ESP_ERR_HTTPD_RESULT_TRUNC` (nothing copied) when it does not fit.
///
/// # Safety
/// `req` as for [`httpd_req_to_sockfd`](crate::httpd_req_to_sockfd); `cookie_name` a NUL-terminated string; `val` valid
/// for `*val_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_req_get_cookie_val(
    req: *mut httpd_req_t,
    cookie_name: *const c_char,
    val: *mut c_char,
    val_size: *mut usize,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        // SAFETY: the function's contract is `state`'s.
        let Some(st) = (unsafe { state(req) }) else {
            return ESP_ERR_NOT_FOUND;
        };
        let Some(Some(cookies)) = header(st, c"Cookie".as_ptr()) else {
            return ESP_ERR_NOT_FOUND;
        };
        if cookie_name.is_null() || val.is_null() || val_size.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; readable and writable by the contract.
        let size = unsafe { *val_size };
        if size == 0 {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; NUL-terminated by the contract.
        let name = unsafe { bytes(cookie_name) };
        let Some(v) = cookie_value(&cookies, name) else {
            return ESP_ERR_NOT_FOUND;
        };
        // SAFETY: checked non-null and writable.
        unsafe { *val_size = v.len() + 1 };
        // SAFETY: non-null and valid for `size` bytes by the contract.
        if copy_out(v, unsafe { out_buf(val, size) }) {
            ESP_OK
        } else {
            ESP_ERR_HTTPD_RESULT_TRUNC
        }
    })
}

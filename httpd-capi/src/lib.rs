//! # httpd-capi
//!
//! ESP-IDF's HTTP server C API (`esp_http_server.h`, and `esp_https_server.h` for HTTPS) on a
//! host, backed by [`httpd`]. Build with `cargo build --release -p httpd-capi`:
//! `target/release/libesp_http_server.a` (and `.so`) plus the headers in `httpd-capi/include/`
//! let a C file written for ESP-IDF build unchanged:
//!
//! ```text
//! gcc -std=gnu11 -Wall -Werror prog.c -Ihttpd-capi/include \
//!     target/release/libesp_http_server.a -lpthread -ldl -lm
//! ```
//!
//! Every exported function is `unsafe extern "C"` with its contract under `# Safety`: the
//! pointer arguments must be what ESP-IDF's documentation says they are (NULL is refused with
//! ESP-IDF's error value, never dereferenced). Each export runs inside a panic boundary and
//! returns the function's error value if Rust code panics. Handles and requests are checked
//! against the live ones, so a stale handle or request gets an error too.
//!
//! See `httpd-capi/README.md` for the function-by-function status against ESP-IDF.
//!
//! # Layout
//! - `abi`: the C structs, function pointer types and constants, field for field.
//! - `text`: string-only functions (query, cookie, wildcard, names, log levels).
//! - `server`: the handle, the connection table by descriptor, `open_fn`/`close_fn`.
//! - `sockio`: transport overrides.
//! - `request`: `httpd_req_t` per handler call, receiving, asynchronous requests.
//! - `getters`: headers, query and cookies.
//! - `response`: the response functions.
//! - `exports`: the server-level functions.
//! - `ws`: WebSocket.
//! - `events`: `ESP_HTTP_SERVER_EVENT`s for handlers registered with `esp_event_handler_register`.
//! - `ssl`: `esp_https_server.h` (`httpd_ssl_start`/`httpd_ssl_stop`) on httpd's `tls` feature.

pub mod abi;
mod events;
mod exports;
mod getters;
mod request;
mod response;
mod server;
mod sockio;
mod ssl;
mod text;
mod ws;

pub use events::*;
pub use exports::*;
pub use getters::*;
pub use request::*;
pub use response::*;
pub use ssl::*;
pub use text::{
    esp_err_to_name, esp_log_level_get, esp_log_level_set, esp_log_timestamp, http_method_str,
    httpd_query_key_value, httpd_uri_match_wildcard,
};
pub use ws::*;

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The panic boundary every export runs in: a panic is logged and `fallback` returned, so no
/// unwinding crosses into C.
pub(crate) fn guard<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        log::error!("a panic was caught at the C API boundary");
        fallback
    })
}

/// An `esp_event_base_t` exported to C.
#[repr(transparent)]
pub struct EventBase(pub(crate) *const c_char);

// SAFETY: the pointer is to a static, immutable C string literal: sharing it between threads
// shares only reads of constant data.
unsafe impl Sync for EventBase {}

/// `ESP_HTTP_SERVER_EVENT`: the base of the server's events (see `esp_event_handler_register`).
#[no_mangle]
pub static ESP_HTTP_SERVER_EVENT: EventBase = EventBase(c"ESP_HTTP_SERVER_EVENT".as_ptr());

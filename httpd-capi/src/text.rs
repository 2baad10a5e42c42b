//! Functions on strings alone: query and cookie lookup, the wildcard matcher, error and
//! method names, and the log level behind `esp_log.h`. Each follows ESP-IDF's behaviour,
//! including its small quirks (noted where they matter).

use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Mutex;
use std::time::Instant;

use crate::abi::*;
use crate::guard;
use crate::server::lock;

/// The value of `key` in a query string `a=1&b=2`: keys compare case-insensitively, the value
/// is not decoded, a pair without `=` ends the search (as in ESP-IDF).
pub(crate) fn query_value<'q>(query: &'q [u8], key: &[u8]) -> Option<&'q [u8]> {
    let mut rest = query;
    while !rest.is_empty() {
        let eq = rest.iter().position(|&b| b == b'=')?;
        let (k, after) = (&rest[..eq], &rest[eq + 1..]);
        let end = after.iter().position(|&b| b == b'&');
        if k.eq_ignore_ascii_case(key) {
            return Some(&after[..end.unwrap_or(after.len())]);
        }
        rest = &after[end? + 1..];
    }
    None
}

/// The value of cookie `name` in a `Cookie` header value `a=1; b=2` (ESP-IDF's rules: names
/// compare case-insensitively, pairs are found after the next space).
pub(crate) fn cookie_value<'c>(cookies: &'c [u8], name: &[u8]) -> Option<&'c [u8]> {
    let mut rest = cookies;
    while !rest.is_empty() {
        let eq = rest.iter().position(|&b| b == b'=')?;
        let (k, after) = (&rest[..eq], &rest[eq + 1..]);
        if k.eq_ignore_ascii_case(name) {
            let end = after.iter().position(|&b| b == b';').unwrap_or(after.len());
            return Some(&after[..end]);
        }
        let space = after.iter().position(|&b| b == b' ')?;
        rest = &after[space + 1..];
    }
    None
}

/// Copies `value` and a NUL into `out` if it fits (`out.len()` includes the NUL).
pub(crate) fn copy_out(value: &[u8], out: &mut [u8]) -> bool {
    if value.len() < out.len() {
        out[..value.len()].copy_from_slice(value);
        out[value.len()] = 0;
        true
    } else {
        false
    }
}

/// The bytes of a C string.
///
/// # Safety
/// `p` is non-null and NUL-terminated, and stays valid for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const c_char) -> &'a [u8] {
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

/// A mutable byte slice over a C buffer.
///
/// # Safety
/// `p` is non-null and valid for writes of `len` bytes for `'a`.
pub(crate) unsafe fn out_buf<'a>(p: *mut c_char, len: usize) -> &'a mut [u8] {
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) }
}

/// Finds a query parameter (ESP-IDF's `httpd_query_key_value`): `ESP_OK` and the value
/// copied with its NUL; `ESP_ERR_HTTPD_RESULT_TRUNC` when it does not fit `val_size` (nothing
/// is copied); `ESP_ERR_NOT_FOUND`; `ESP_ERR_INVALID_ARG` for a NULL pointer or `val_size` 0.
///
/// # Safety
/// `qry` and `key` are NUL-terminated strings; `val` has room for `val_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn httpd_query_key_value(
    qry: *const c_char,
    key: *const c_char,
    val: *mut c_char,
    val_size: usize,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if qry.is_null() || key.is_null() || val.is_null() || val_size == 0 {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; NUL-terminated by the function's contract.
        let (q, k) = unsafe { (bytes(qry), bytes(key)) };
        match query_value(q, k) {
            None => ESP_ERR_NOT_FOUND,
            Some(v) => {
                // SAFETY: checked non-null; `val_size` bytes by the contract.
                let out = unsafe { out_buf(val, val_size) };
                if copy_out(v, out) {
                    ESP_OK
                } else {
                    ESP_ERR_HTTPD_RESULT_TRUNC
                }
            }
        }
    })
}

/// ESP-IDF's wildcard matcher: does `template` match the first `match_upto` bytes of `uri`?
/// A trailing `*` matches any rest, a trailing `?` makes the character before it optional.
///
/// # Safety
/// Both are NUL-terminated strings (`uri` may be longer than `match_upto`).
#[no_mangle]
pub unsafe extern "C" fn httpd_uri_match_wildcard(
    uri_template: *const c_char,
    uri_to_match: *const c_char,
    match_upto: usize,
) -> bool {
    guard(false, || {
        if uri_template.is_null() || uri_to_match.is_null() {
            return false;
        }
        // SAFETY: checked non-null; NUL-terminated by the contract.
        let (t, u) = unsafe { (bytes(uri_template), bytes(uri_to_match)) };
        let u = &u[..match_upto.min(u.len())];
        match (std::str::from_utf8(t), std::str::from_utf8(u)) {
            (Ok(t), Ok(u)) => httpd::UriMatch::Wildcard.matches(t, u),
            _ => false,
        }
    })
}

/// Calls a C matcher with a template and a path, as ESP-IDF does.
pub(crate) fn call_matcher(
    f: unsafe extern "C" fn(*const c_char, *const c_char, usize) -> bool,
    template: &str,
    path: &str,
) -> bool {
    let (Ok(t), Ok(p)) = (CString::new(template), CString::new(path)) else {
        return false;
    };
    // SAFETY: the program's uri_match_fn, given two NUL-terminated strings that live for the
    // call and the length of the path to compare.
    unsafe { f(t.as_ptr(), p.as_ptr(), path.len()) }
}

const ERR_NAMES: &[(esp_err_t, &CStr)] = &[
    (ESP_OK, c"ESP_OK"),
    (ESP_FAIL, c"ESP_FAIL"),
    (ESP_ERR_NO_MEM, c"ESP_ERR_NO_MEM"),
    (ESP_ERR_INVALID_ARG, c"ESP_ERR_INVALID_ARG"),
    (ESP_ERR_INVALID_STATE, c"ESP_ERR_INVALID_STATE"),
    (ESP_ERR_INVALID_SIZE, c"ESP_ERR_INVALID_SIZE"),
    (ESP_ERR_NOT_FOUND, c"ESP_ERR_NOT_FOUND"),
    (ESP_ERR_NOT_SUPPORTED, c"ESP_ERR_NOT_SUPPORTED"),
    (ESP_ERR_TIMEOUT, c"ESP_ERR_TIMEOUT"),
    (0x108, c"ESP_ERR_INVALID_RESPONSE"),
    (0x109, c"ESP_ERR_INVALID_CRC"),
    (0x10A, c"ESP_ERR_INVALID_VERSION"),
    (0x10B, c"ESP_ERR_INVALID_MAC"),
    (0x10C, c"ESP_ERR_NOT_FINISHED"),
    (0x10D, c"ESP_ERR_NOT_ALLOWED"),
    (ESP_ERR_HTTPD_BASE, c"ESP_ERR_HTTPD_BASE"),
    (ESP_ERR_HTTPD_HANDLERS_FULL, c"ESP_ERR_HTTPD_HANDLERS_FULL"),
    (
        ESP_ERR_HTTPD_HANDLER_EXISTS,
        c"ESP_ERR_HTTPD_HANDLER_EXISTS",
    ),
    (ESP_ERR_HTTPD_INVALID_REQ, c"ESP_ERR_HTTPD_INVALID_REQ"),
    (ESP_ERR_HTTPD_RESULT_TRUNC, c"ESP_ERR_HTTPD_RESULT_TRUNC"),
    (ESP_ERR_HTTPD_RESP_HDR, c"ESP_ERR_HTTPD_RESP_HDR"),
    (ESP_ERR_HTTPD_RESP_SEND, c"ESP_ERR_HTTPD_RESP_SEND"),
    (ESP_ERR_HTTPD_ALLOC_MEM, c"ESP_ERR_HTTPD_ALLOC_MEM"),
    (ESP_ERR_HTTPD_TASK, c"ESP_ERR_HTTPD_TASK"),
];

/// The name of an error code, or `"UNKNOWN ERROR"`. The string is static.
///
/// # Safety
/// None: any value is accepted.
#[no_mangle]
pub unsafe extern "C" fn esp_err_to_name(code: esp_err_t) -> *const c_char {
    let name = ERR_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(c"UNKNOWN ERROR", |(_, n)| n);
    name.as_ptr()
}

const METHOD_NAMES: [&CStr; 33] = [
    c"DELETE",
    c"GET",
    c"HEAD",
    c"POST",
    c"PUT",
    c"CONNECT",
    c"OPTIONS",
    c"TRACE",
    c"COPY",
    c"LOCK",
    c"MKCOL",
    c"MOVE",
    c"PROPFIND",
    c"PROPPATCH",
    c"SEARCH",
    c"UNLOCK",
    c"BIND",
    c"REBIND",
    c"UNBIND",
    c"ACL",
    c"REPORT",
    c"MKACTIVITY",
    c"CHECKOUT",
    c"MERGE",
    c"M-SEARCH",
    c"NOTIFY",
    c"SUBSCRIBE",
    c"UNSUBSCRIBE",
    c"PATCH",
    c"PURGE",
    c"MKCALENDAR",
    c"LINK",
    c"UNLINK",
];

/// The name of an `enum http_method` value, or `"<unknown>"`. The string is static.
///
/// # Safety
/// None: any value is accepted.
#[no_mangle]
pub unsafe extern "C" fn http_method_str(m: c_int) -> *const c_char {
    usize::try_from(m)
        .ok()
        .and_then(|i| METHOD_NAMES.get(i))
        .map_or(c"<unknown>", |n| n)
        .as_ptr()
}

/// Log levels: the default, and one per tag.
struct Levels {
    default: c_int,
    tags: HashMap<Vec<u8>, c_int>,
}

static LEVELS: Mutex<Option<Levels>> = Mutex::new(None);
static EPOCH: Mutex<Option<Instant>> = Mutex::new(None);

fn env_level() -> c_int {
    match std::env::var("HTTPD_LOG_LEVEL")
        .ok()
        .as_deref()
        .map(str::trim)
    {
        Some("0" | "N" | "n") => 0,
        Some("1" | "E" | "e") => 1,
        Some("2" | "W" | "w") => 2,
        Some("4" | "D" | "d") => 4,
        Some("5" | "V" | "v") => 5,
        _ => 3,
    }
}

fn with_levels<R>(f: impl FnOnce(&mut Levels) -> R) -> R {
    let mut levels = lock(&LEVELS);
    f(levels.get_or_insert_with(|| Levels {
        default: env_level(),
        tags: HashMap::new(),
    }))
}

/// Sets the log level of `tag`, or of every tag without its own with `"*"`.
///
/// # Safety
/// `tag` is a NUL-terminated string (or NULL, ignored).
#[no_mangle]
pub unsafe extern "C" fn esp_log_level_set(tag: *const c_char, level: c_int) {
    guard((), || {
        if tag.is_null() {
            return;
        }
        // SAFETY: checked non-null; NUL-terminated by the contract.
        let tag = unsafe { bytes(tag) }.to_vec();
        with_levels(|l| {
            if tag == b"*" {
                l.default = level;
                l.tags.clear();
            } else {
                l.tags.insert(tag, level);
            }
        });
    })
}

/// The log level in force for `tag`.
///
/// # Safety
/// `tag` is a NUL-terminated string (or NULL: the default level).
#[no_mangle]
pub unsafe extern "C" fn esp_log_level_get(tag: *const c_char) -> c_int {
    guard(3, || {
        // SAFETY: checked non-null; NUL-terminated by the contract.
        let tag = (!tag.is_null()).then(|| unsafe { bytes(tag) });
        with_levels(|l| {
            tag.and_then(|t| l.tags.get(t).copied())
                .unwrap_or(l.default)
        })
    })
}

/// Milliseconds since the first log call.
///
/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn esp_log_timestamp() -> u32 {
    guard(0, || {
        let start = *lock(&EPOCH).get_or_insert_with(Instant::now);
        start.elapsed().as_millis() as u32
    })
}

/// Routes the library's own `log` records to stderr in ESP-IDF's format, under the tag
/// `httpd`, filtered by that tag's level.
struct StderrLog;

fn level_number(l: log::Level) -> c_int {
    match l {
        log::Level::Error => 1,
        log::Level::Warn => 2,
        log::Level::Info => 3,
        log::Level::Debug => 4,
        log::Level::Trace => 5,
    }
}

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let level = with_levels(|l| l.tags.get(&b"httpd"[..]).copied().unwrap_or(l.default));
        level_number(m.level()) <= level
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let letter = &r.level().as_str()[..1];
            // SAFETY: no arguments.
            let ms = unsafe { esp_log_timestamp() };
            eprintln!("{letter} ({ms}) httpd: {}", r.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the stderr logger unless the program has one.
pub(crate) fn init_logging() {
    static LOGGER: StderrLog = StderrLog;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lookup_follows_esp_idf() {
        let q = b"query1=a%20b&Query3=x&flag&query2=";
        assert_eq!(query_value(q, b"query1"), Some(&b"a%20b"[..]));
        assert_eq!(query_value(q, b"QUERY3"), Some(&b"x"[..]));
        // ESP-IDF finds the next '=' past a pair without one, so "flag&query2" is one key.
        assert_eq!(query_value(q, b"query2"), None);
        assert_eq!(query_value(b"a=1&b=", b"b"), Some(&b""[..]));
        assert_eq!(query_value(b"a=1", b"c"), None);
        assert_eq!(query_value(b"", b"a"), None);
    }

    #[test]
    fn cookie_lookup_follows_esp_idf() {
        let c = b"session=abc123; theme=dark; empty=";
        assert_eq!(cookie_value(c, b"session"), Some(&b"abc123"[..]));
        assert_eq!(cookie_value(c, b"THEME"), Some(&b"dark"[..]));
        assert_eq!(cookie_value(c, b"empty"), Some(&b""[..]));
        assert_eq!(cookie_value(c, b"none"), None);
    }

    #[test]
    fn copy_out_needs_room_for_the_nul() {
        let mut out = [0xffu8; 4];
        assert!(copy_out(b"abc", &mut out));
        assert_eq!(&out, b"abc\0");
        let mut out = [0xffu8; 3];
        assert!(!copy_out(b"abc", &mut out));
        assert_eq!(out, [0xff; 3], "nothing is copied when it does not fit");
    }
}

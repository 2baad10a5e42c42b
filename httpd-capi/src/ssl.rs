//! `esp_https_server.h`: `httpd_ssl_start` maps `httpd_ssl_config_t` onto httpd's TLS
//! configuration (rustls, from the PEM buffers) and starts the same server `httpd_start` does,
//! so every `esp_http_server.h` function works on its handle; `httpd_ssl_stop` is
//! `httpd_stop`.

use std::ffi::{c_char, c_void, CStr};
use std::mem::{size_of, MaybeUninit};
use std::time::Duration;

use httpd::{ClientAuth, Resumption, TlsConfig, TlsVersion};

use crate::abi::*;
use crate::guard;

/// The handshake deadline when `tls_handshake_timeout_ms` is 0 (ESP-IDF's 10 seconds).
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Sessions the server remembers for TLS 1.2 clients resuming by id, with `session_tickets`.
const SESSION_CACHE: usize = 256;
/// ALPN names read from `alpn_protos` at most (the list is NULL-terminated by contract).
const MAX_ALPN: usize = 64;

/// A PEM buffer from C: `len` bytes at `ptr`, with the NUL terminator ESP-IDF's examples
/// count in the length (or without it). `None` for NULL or an empty buffer.
///
/// # Safety
/// A non-null `ptr` is valid for reads of `len` bytes.
unsafe fn pem(ptr: *const u8, len: usize) -> Option<Vec<u8>> {
    if ptr.is_null() || len == 0 {
        return None;
    }
    // SAFETY: non-null and valid for `len` bytes by this function's contract.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    (end > 0).then(|| bytes[..end].to_vec())
}

/// The ALPN names of a NULL-terminated list of C strings (empty names skipped).
///
/// # Safety
/// A non-null `list` is a NULL-terminated array of NUL-terminated strings.
unsafe fn alpn(list: *const *const c_char) -> Vec<Vec<u8>> {
    let mut names = Vec::new();
    if list.is_null() {
        return names;
    }
    for i in 0..MAX_ALPN {
        // SAFETY: the array is NULL-terminated by contract and we stop at its NULL.
        let p = unsafe { *list.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: each entry is a NUL-terminated string by contract.
        let name = unsafe { CStr::from_ptr(p) }.to_bytes();
        if !name.is_empty() {
            names.push(name.to_vec());
        }
    }
    names
}

/// rustls's configuration from the secure-mode fields, with ESP-IDF's checks in its order:
/// no certificate or key is `ESP_ERR_INVALID_ARG`; the secure element, the ECDSA peripheral,
/// a unified key config and `user_cb` need the chip or ESP-TLS (`ESP_ERR_NOT_SUPPORTED`);
/// material that does not parse or match is `ESP_FAIL`.
///
/// # Safety
/// The pointers in `c` are NULL or valid as `httpd_ssl_config_t` documents them.
unsafe fn tls_config(c: &httpd_ssl_config_t, optional: bool) -> Result<TlsConfig, esp_err_t> {
    // SAFETY: the config's buffers, valid for their lengths by contract.
    let (cert, ca, key) = unsafe {
        (
            pem(c.servercert, c.servercert_len),
            pem(c.cacert_pem, c.cacert_len),
            pem(c.prvtkey_pem, c.prvtkey_len),
        )
    };
    let Some(cert) = cert else {
        log::error!("httpd_ssl_start: no server certificate supplied");
        return Err(ESP_ERR_INVALID_ARG);
    };
    if c.use_secure_element {
        log::error!("httpd_ssl_start: use_secure_element is not supported");
        return Err(ESP_ERR_NOT_SUPPORTED);
    }
    if c.use_ecdsa_peripheral {
        log::error!("httpd_ssl_start: there is no ECDSA peripheral on a host");
        return Err(ESP_ERR_NOT_SUPPORTED);
    }
    if !c.server_key.is_null() {
        log::error!("httpd_ssl_start: server_key (esp_key_config_t) is not offered on a host; use prvtkey_pem");
        return Err(ESP_ERR_NOT_SUPPORTED);
    }
    let Some(key) = key else {
        log::error!("httpd_ssl_start: no server key supplied");
        return Err(ESP_ERR_INVALID_ARG);
    };
    if c.user_cb.is_some() {
        log::error!(
            "httpd_ssl_start: user_cb needs an ESP-TLS session, which a host does not have"
        );
        return Err(ESP_ERR_NOT_SUPPORTED);
    }
    if !c.ciphersuites_list.is_null() {
        log::warn!(
            "httpd_ssl_start: ciphersuites_list ignored; rustls's default suites are offered"
        );
    }
    let versions: &[TlsVersion] = match c.tls_version {
        ESP_TLS_VER_TLS_1_2 => &[TlsVersion::Tls12],
        ESP_TLS_VER_TLS_1_3 => &[TlsVersion::Tls13],
        _ => &[TlsVersion::Tls12, TlsVersion::Tls13],
    };
    // SAFETY: `alpn_protos` is NULL or a NULL-terminated list of strings by contract.
    let protocols = unsafe { alpn(c.alpn_protos) };
    let protocols: Vec<&[u8]> = protocols.iter().map(Vec::as_slice).collect();
    let timeout = match c.tls_handshake_timeout_ms {
        0 => DEFAULT_HANDSHAKE_TIMEOUT,
        ms => Duration::from_millis(u64::from(ms)),
    };
    let mut builder = TlsConfig::builder()
        .cert_chain_pem(cert)
        .key_pem(key)
        .versions(versions)
        .alpn(&protocols)
        .handshake_timeout(timeout)
        .resumption(if c.session_tickets {
            Resumption::Tickets {
                cache: SESSION_CACHE,
            }
        } else {
            Resumption::Off
        });
    if let Some(ca) = ca {
        // ESP-TLS requires a client certificate whenever a CA is configured, unless the
        // optional mode is compiled in and chosen.
        let auth = if optional {
            ClientAuth::Optional
        } else {
            ClientAuth::Required
        };
        builder = builder.client_ca_pem(ca, auth);
    }
    builder.build().map_err(|e| {
        log::error!("httpd_ssl_start: {e}");
        ESP_FAIL
    })
}

/// Starts a server from `config`: HTTPS on `port_secure` with the PEM certificate and key
/// (and client authentication against `cacert_pem` when set), or plain HTTP on
/// `port_insecure` with `HTTPD_SSL_TRANSPORT_INSECURE`. Stores the handle in `*handle` and,
/// as ESP-IDF does, the port used in `config->httpd.server_port`. The config need not
/// outlive the call. Errors: `ESP_ERR_INVALID_ARG` (NULL arguments, no certificate or key),
/// `ESP_FAIL` (material that does not parse or match), `ESP_ERR_NOT_SUPPORTED` (options that
/// need the chip or ESP-TLS: see the header), or `httpd_start`'s.
///
/// # Safety
/// `handle` is valid for a write; `config` points at an `httpd_ssl_config_t` whose buffers
/// are valid for their lengths and whose `alpn_protos` is NULL or NULL-terminated.
#[no_mangle]
pub unsafe extern "C" fn httpd_ssl_start(
    handle: *mut httpd_handle_t,
    config: *mut httpd_ssl_config_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if handle.is_null() || config.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        // SAFETY: checked non-null; an httpd_ssl_config_t by the contract. It is copied.
        let c = unsafe { *config };
        // SAFETY: as this function's contract.
        unsafe { start(handle, config.cast(), &c, false) }
    })
}

/// `httpd_ssl_start` for a program compiled with `CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL`,
/// whose `httpd_ssl_config_t` has `client_cert_authmode_optional` after `cacert_len` (the
/// header routes `httpd_ssl_start` here then). With it set and `cacert_pem` given, a client
/// may connect without a certificate; one that does not verify is refused (mbedTLS's optional
/// mode would let it through).
///
/// # Safety
/// As `httpd_ssl_start`, with `config` pointing at that layout.
#[no_mangle]
pub unsafe extern "C" fn httpd_ssl_start_authmode_optional(
    handle: *mut httpd_handle_t,
    config: *mut c_void,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        if handle.is_null() || config.is_null() {
            return ESP_ERR_INVALID_ARG;
        }
        let mut c = MaybeUninit::<httpd_ssl_config_t>::uninit();
        let (dst, src) = (
            c.as_mut_ptr().cast::<u8>(),
            config.cast::<u8>().cast_const(),
        );
        let (at, extra) = (SSL_AUTHMODE_FIELD_OFFSET, SSL_AUTHMODE_FIELD_SIZE);
        let size = size_of::<httpd_ssl_config_t>();
        // SAFETY: `config` points at the layout with the field (the contract): the base layout
        // with `extra` bytes inserted at `at`, so `size + extra` bytes are readable. The bytes
        // before and after the field are copied to where the base layout has them (every
        // field of `c` written; only padding may be uninitialised), and the field is a bool.
        let (c, optional) = unsafe {
            std::ptr::copy_nonoverlapping(src, dst, at);
            std::ptr::copy_nonoverlapping(src.add(at + extra), dst.add(at), size - at);
            (c.assume_init(), src.add(at).cast::<bool>().read())
        };
        // SAFETY: as this function's contract; `httpd` is first in both layouts.
        unsafe { start(handle, config.cast(), &c, optional) }
    })
}

/// Starts the server `c` describes; `port` is the caller's `config->httpd`, which gets the
/// port used.
///
/// # Safety
/// `handle` and `port` are non-null and writable; `c`'s pointers are valid as
/// `httpd_ssl_config_t` documents them.
unsafe fn start(
    handle: *mut httpd_handle_t,
    port: *mut httpd_config_t,
    c: &httpd_ssl_config_t,
    optional: bool,
) -> esp_err_t {
    let mut httpd = c.httpd;
    let tls = if c.transport_mode == HTTPD_SSL_TRANSPORT_SECURE {
        httpd.server_port = c.port_secure;
        // SAFETY: the config's pointers, valid by this function's contract.
        match unsafe { tls_config(c, optional) } {
            Ok(tls) => Some(tls),
            Err(e) => return e,
        }
    } else {
        httpd.server_port = c.port_insecure;
        None
    };
    // SAFETY: non-null and writable by the contract (ESP-IDF's config "must not be const"
    // because it, too, writes the port there).
    unsafe { (*port).server_port = httpd.server_port };
    // SAFETY: non-null and writable by the contract.
    unsafe { crate::exports::start_into(handle, &httpd, tls) }
}

/// Stops a server started by `httpd_ssl_start`, as `httpd_stop` does.
///
/// # Safety
/// None beyond passing a handle from `httpd_ssl_start` (anything else is refused).
#[no_mangle]
pub unsafe extern "C" fn httpd_ssl_stop(handle: httpd_handle_t) -> esp_err_t {
    // SAFETY: httpd_stop checks the handle against the live servers.
    unsafe { crate::exports::httpd_stop(handle) }
}

//! The C declarations of `include/esp_http_server.h` and its companions, in Rust: the structs
//! (`#[repr(C)]`, field for field), the function pointer types and the constants. The
//! `layout` test compiles a C program that prints every struct's size and field offsets and
//! compares them with these.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_uint, c_void};

/// ESP-IDF's error type.
pub type esp_err_t = c_int;

/// Success.
pub const ESP_OK: esp_err_t = 0;
/// Generic failure.
pub const ESP_FAIL: esp_err_t = -1;
/// Out of memory.
pub const ESP_ERR_NO_MEM: esp_err_t = 0x101;
/// Invalid argument.
pub const ESP_ERR_INVALID_ARG: esp_err_t = 0x102;
/// Invalid state.
pub const ESP_ERR_INVALID_STATE: esp_err_t = 0x103;
/// Invalid size.
pub const ESP_ERR_INVALID_SIZE: esp_err_t = 0x104;
/// Not found.
pub const ESP_ERR_NOT_FOUND: esp_err_t = 0x105;
/// Not supported.
pub const ESP_ERR_NOT_SUPPORTED: esp_err_t = 0x106;
/// Timed out.
pub const ESP_ERR_TIMEOUT: esp_err_t = 0x107;

/// First of the server's own codes.
pub const ESP_ERR_HTTPD_BASE: esp_err_t = 0xb000;
/// The handler table is full.
pub const ESP_ERR_HTTPD_HANDLERS_FULL: esp_err_t = ESP_ERR_HTTPD_BASE + 1;
/// A handler already matches the URI for the method.
pub const ESP_ERR_HTTPD_HANDLER_EXISTS: esp_err_t = ESP_ERR_HTTPD_BASE + 2;
/// Not a live request.
pub const ESP_ERR_HTTPD_INVALID_REQ: esp_err_t = ESP_ERR_HTTPD_BASE + 3;
/// The result did not fit the caller's buffer.
pub const ESP_ERR_HTTPD_RESULT_TRUNC: esp_err_t = ESP_ERR_HTTPD_BASE + 4;
/// Too many response headers.
pub const ESP_ERR_HTTPD_RESP_HDR: esp_err_t = ESP_ERR_HTTPD_BASE + 5;
/// Sending the response failed.
pub const ESP_ERR_HTTPD_RESP_SEND: esp_err_t = ESP_ERR_HTTPD_BASE + 6;
/// Out of memory.
pub const ESP_ERR_HTTPD_ALLOC_MEM: esp_err_t = ESP_ERR_HTTPD_BASE + 7;
/// The server thread could not start.
pub const ESP_ERR_HTTPD_TASK: esp_err_t = ESP_ERR_HTTPD_BASE + 8;

/// Socket error: the peer or the socket failed.
pub const HTTPD_SOCK_ERR_FAIL: c_int = -1;
/// Socket error: invalid arguments or socket.
pub const HTTPD_SOCK_ERR_INVALID: c_int = -2;
/// Socket error: nothing arrived in time.
pub const HTTPD_SOCK_ERR_TIMEOUT: c_int = -3;

/// `HTTP_ANY`: every method.
pub const HTTP_ANY: c_int = c_int::MAX;
/// `HTTPD_RESP_USE_STRLEN`.
pub const HTTPD_RESP_USE_STRLEN: isize = -1;
/// `CONFIG_HTTPD_MAX_URI_LEN`: the size of `httpd_req_t.uri` less its terminator.
pub const CONFIG_HTTPD_MAX_URI_LEN: usize = 512;
/// `CONFIG_HTTPD_MAX_REQ_HDR_LEN`.
pub const CONFIG_HTTPD_MAX_REQ_HDR_LEN: usize = 1024;
/// `HTTPD_ERR_CODE_MAX`: the number of `httpd_err_code_t` values.
pub const HTTPD_ERR_CODE_MAX: c_int = 13;

/// `httpd_handle_t`.
pub type httpd_handle_t = *mut c_void;
/// `httpd_free_ctx_fn_t`.
pub type httpd_free_ctx_fn_t = Option<unsafe extern "C" fn(ctx: *mut c_void)>;
/// `httpd_open_func_t`.
pub type httpd_open_func_t =
    Option<unsafe extern "C" fn(hd: httpd_handle_t, sockfd: c_int) -> esp_err_t>;
/// `httpd_close_func_t`.
pub type httpd_close_func_t = Option<unsafe extern "C" fn(hd: httpd_handle_t, sockfd: c_int)>;
/// `httpd_uri_match_func_t`.
pub type httpd_uri_match_func_t = Option<
    unsafe extern "C" fn(reference: *const c_char, uri: *const c_char, match_upto: usize) -> bool,
>;
/// A URI handler.
pub type httpd_handler_fn_t = Option<unsafe extern "C" fn(r: *mut httpd_req_t) -> esp_err_t>;
/// `httpd_err_handler_func_t`.
pub type httpd_err_handler_func_t =
    Option<unsafe extern "C" fn(req: *mut httpd_req_t, error: c_int) -> esp_err_t>;
/// `httpd_send_func_t`.
pub type httpd_send_func_t = Option<
    unsafe extern "C" fn(
        hd: httpd_handle_t,
        sockfd: c_int,
        buf: *const c_char,
        len: usize,
        flags: c_int,
    ) -> c_int,
>;
/// `httpd_recv_func_t`.
pub type httpd_recv_func_t = Option<
    unsafe extern "C" fn(
        hd: httpd_handle_t,
        sockfd: c_int,
        buf: *mut c_char,
        len: usize,
        flags: c_int,
    ) -> c_int,
>;
/// `httpd_pending_func_t`.
pub type httpd_pending_func_t =
    Option<unsafe extern "C" fn(hd: httpd_handle_t, sockfd: c_int) -> c_int>;
/// `httpd_work_fn_t`.
pub type httpd_work_fn_t = Option<unsafe extern "C" fn(arg: *mut c_void)>;
/// `transfer_complete_cb`.
pub type transfer_complete_cb =
    Option<unsafe extern "C" fn(err: esp_err_t, socket: c_int, arg: *mut c_void)>;

/// `esp_event_handler_t`.
pub type esp_event_handler_t =
    Option<unsafe extern "C" fn(arg: *mut c_void, base: *const c_char, id: i32, data: *mut c_void)>;

/// `httpd_config_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct httpd_config_t {
    /// Hint.
    pub task_priority: c_uint,
    /// Hint.
    pub stack_size: usize,
    /// Hint (`BaseType_t`).
    pub core_id: c_int,
    /// Hint.
    pub task_caps: u32,
    /// Header section limit.
    pub max_req_hdr_len: usize,
    /// Request target limit.
    pub max_uri_len: usize,
    /// TCP port.
    pub server_port: u16,
    /// Hint.
    pub ctrl_port: u16,
    /// Connections at once.
    pub max_open_sockets: u16,
    /// Handlers at once.
    pub max_uri_handlers: u16,
    /// Response headers per response.
    pub max_resp_headers: u16,
    /// Listen backlog.
    pub backlog_conn: u16,
    /// LRU purge.
    pub lru_purge_enable: bool,
    /// Seconds.
    pub recv_wait_timeout: u16,
    /// Seconds.
    pub send_wait_timeout: u16,
    /// Global user context.
    pub global_user_ctx: *mut c_void,
    /// Its free function.
    pub global_user_ctx_free_fn: httpd_free_ctx_fn_t,
    /// Global transport context.
    pub global_transport_ctx: *mut c_void,
    /// Its free function.
    pub global_transport_ctx_free_fn: httpd_free_ctx_fn_t,
    /// `SO_LINGER` on.
    pub enable_so_linger: bool,
    /// Seconds.
    pub linger_timeout: c_int,
    /// TCP keep-alive on.
    pub keep_alive_enable: bool,
    /// Seconds.
    pub keep_alive_idle: c_int,
    /// Seconds.
    pub keep_alive_interval: c_int,
    /// Probes.
    pub keep_alive_count: c_int,
    /// `struct ifreq *`.
    pub if_name: *mut c_void,
    /// Open callback.
    pub open_fn: httpd_open_func_t,
    /// Close callback.
    pub close_fn: httpd_close_func_t,
    /// URI matcher.
    pub uri_match_fn: httpd_uri_match_func_t,
}

/// `httpd_req_t`.
#[repr(C)]
#[derive(Debug)]
pub struct httpd_req_t {
    /// The server.
    pub handle: httpd_handle_t,
    /// `enum http_method` (0 for WebSocket frames).
    pub method: c_int,
    /// The request target, NUL-terminated.
    pub uri: [c_char; CONFIG_HTTPD_MAX_URI_LEN + 1],
    /// Body length.
    pub content_len: usize,
    /// The library's request state.
    pub aux: *mut c_void,
    /// The handler's user context.
    pub user_ctx: *mut c_void,
    /// The session context.
    pub sess_ctx: *mut c_void,
    /// Its free function.
    pub free_ctx: httpd_free_ctx_fn_t,
    /// Do not free a replaced `sess_ctx`.
    pub ignore_sess_ctx_changes: bool,
}

/// `httpd_uri_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct httpd_uri_t {
    /// The URI template.
    pub uri: *const c_char,
    /// `httpd_method_t`.
    pub method: c_int,
    /// The handler.
    pub handler: httpd_handler_fn_t,
    /// Given to the handler as `req->user_ctx`.
    pub user_ctx: *mut c_void,
    /// A WebSocket endpoint.
    pub is_websocket: bool,
    /// Give PING, PONG and CLOSE frames to the handler.
    pub handle_ws_control_frames: bool,
    /// The subprotocol chosen when the client offers it.
    pub supported_subprotocol: *const c_char,
}

/// `httpd_uri_t` with one handshake callback (`CONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT` or
/// `..._POST_...` alone).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct httpd_uri_one_cb_t {
    /// The fields without callbacks.
    pub base: httpd_uri_t,
    /// `ws_pre_handshake_cb` or `ws_post_handshake_cb`.
    pub cb: httpd_handler_fn_t,
}

/// `httpd_uri_t` with both handshake callbacks.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct httpd_uri_two_cbs_t {
    /// The fields without callbacks.
    pub base: httpd_uri_t,
    /// `ws_pre_handshake_cb`.
    pub ws_pre_handshake_cb: httpd_handler_fn_t,
    /// `ws_post_handshake_cb`.
    pub ws_post_handshake_cb: httpd_handler_fn_t,
}

/// `httpd_ws_frame_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct httpd_ws_frame_t {
    /// FIN.
    pub r#final: bool,
    /// A fragment to send.
    pub fragmented: bool,
    /// `httpd_ws_type_t`.
    pub r#type: c_int,
    /// The caller's buffer.
    pub payload: *mut u8,
    /// Payload length.
    pub len: usize,
    /// Bytes not yet read.
    pub left_len: usize,
}

/// `HTTPD_WS_TYPE_CONTINUE`.
pub const HTTPD_WS_TYPE_CONTINUE: c_int = 0x0;
/// `HTTPD_WS_TYPE_TEXT`.
pub const HTTPD_WS_TYPE_TEXT: c_int = 0x1;
/// `HTTPD_WS_TYPE_BINARY`.
pub const HTTPD_WS_TYPE_BINARY: c_int = 0x2;
/// `HTTPD_WS_TYPE_CLOSE`.
pub const HTTPD_WS_TYPE_CLOSE: c_int = 0x8;
/// `HTTPD_WS_TYPE_PING`.
pub const HTTPD_WS_TYPE_PING: c_int = 0x9;
/// `HTTPD_WS_TYPE_PONG`.
pub const HTTPD_WS_TYPE_PONG: c_int = 0xA;

/// `HTTPD_WS_CLIENT_INVALID`.
pub const HTTPD_WS_CLIENT_INVALID: c_int = 0;
/// `HTTPD_WS_CLIENT_HTTP`.
pub const HTTPD_WS_CLIENT_HTTP: c_int = 1;
/// `HTTPD_WS_CLIENT_WEBSOCKET`.
pub const HTTPD_WS_CLIENT_WEBSOCKET: c_int = 2;

/// `esp_http_server_event_data`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct esp_http_server_event_data {
    /// Socket.
    pub fd: c_int,
    /// Bytes.
    pub data_len: c_int,
}

/// `HTTP_SERVER_EVENT_START`.
pub const HTTP_SERVER_EVENT_START: c_int = 1;
/// `HTTP_SERVER_EVENT_STOP`.
pub const HTTP_SERVER_EVENT_STOP: c_int = 8;

/// `httpd_err_code_t` in ESP-IDF's order, as httpd's codes.
pub const ERR_CODES: [httpd::ErrorCode; HTTPD_ERR_CODE_MAX as usize] = [
    httpd::ErrorCode::InternalServerError,
    httpd::ErrorCode::NotImplemented,
    httpd::ErrorCode::VersionNotSupported,
    httpd::ErrorCode::BadRequest,
    httpd::ErrorCode::Unauthorized,
    httpd::ErrorCode::Forbidden,
    httpd::ErrorCode::NotFound,
    httpd::ErrorCode::MethodNotAllowed,
    httpd::ErrorCode::RequestTimeout,
    httpd::ErrorCode::LengthRequired,
    httpd::ErrorCode::ContentTooLarge,
    httpd::ErrorCode::UriTooLong,
    httpd::ErrorCode::HeaderFieldsTooLarge,
];

/// The `httpd_err_code_t` of an httpd error code.
pub fn err_code_index(code: httpd::ErrorCode) -> c_int {
    ERR_CODES
        .iter()
        .position(|c| *c == code)
        .map_or(0, |i| i as c_int)
}

/// The httpd method of an `enum http_method` value; `None` for methods httpd does not parse.
pub fn method_from_c(m: c_int) -> Option<httpd::Method> {
    use httpd::Method;
    Some(match m {
        0 => Method::Delete,
        1 => Method::Get,
        2 => Method::Head,
        3 => Method::Post,
        4 => Method::Put,
        5 => Method::Connect,
        6 => Method::Options,
        7 => Method::Trace,
        28 => Method::Patch,
        HTTP_ANY => Method::Any,
        _ => return None,
    })
}

/// The `enum http_method` value of a request method.
pub fn method_to_c(m: httpd::Method) -> c_int {
    use httpd::Method;
    match m {
        Method::Delete => 0,
        Method::Get => 1,
        Method::Head => 2,
        Method::Post => 3,
        Method::Put => 4,
        Method::Connect => 5,
        Method::Options => 6,
        Method::Trace => 7,
        Method::Patch => 28,
        _ => HTTP_ANY,
    }
}

// ---- esp_https_server.h and esp_tls.h ------------------------------------------------------

/// `httpd_ssl_transport_mode_t`: TLS on `port_secure`.
pub const HTTPD_SSL_TRANSPORT_SECURE: c_uint = 0;
/// `httpd_ssl_transport_mode_t`: plain HTTP on `port_insecure`.
pub const HTTPD_SSL_TRANSPORT_INSECURE: c_uint = 1;
/// `esp_tls_proto_ver_t`: no preference (TLS 1.2 and 1.3).
pub const ESP_TLS_VER_ANY: c_uint = 0;
/// `esp_tls_proto_ver_t`: TLS 1.2 only.
pub const ESP_TLS_VER_TLS_1_2: c_uint = 1;
/// `esp_tls_proto_ver_t`: TLS 1.3 only.
pub const ESP_TLS_VER_TLS_1_3: c_uint = 2;
/// `esp_tls_ecdsa_curve_t`: SECP256R1.
pub const ESP_TLS_ECDSA_CURVE_SECP256R1: c_uint = 0;

/// `esp_https_server_user_cb *` (the argument is an `esp_https_server_user_cb_arg_t *`).
pub type esp_https_server_user_cb_t = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// `httpd_ssl_config_t`, ESP-IDF's field order, without `client_cert_authmode_optional`
/// (which only exists with `CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL`: that layout is
/// this one with [`SSL_AUTHMODE_FIELD_SIZE`] bytes, the `bool` and its padding, inserted at
/// [`SSL_AUTHMODE_FIELD_OFFSET`]).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct httpd_ssl_config_t {
    /// The server's settings (`server_port` is set from the ports at start).
    pub httpd: httpd_config_t,
    /// Server certificate chain, PEM.
    pub servercert: *const u8,
    /// Its length (with or without the NUL).
    pub servercert_len: usize,
    /// CA certificates for client authentication, PEM (non-NULL: client certificates required).
    pub cacert_pem: *const u8,
    /// Its length.
    pub cacert_len: usize,
    /// Private key, PEM.
    pub prvtkey_pem: *const u8,
    /// Its length.
    pub prvtkey_len: usize,
    /// `const esp_key_config_t *`: not offered (`ESP_ERR_NOT_SUPPORTED` when set).
    pub server_key: *const c_void,
    /// Not offered (`ESP_ERR_NOT_SUPPORTED` when set).
    pub use_ecdsa_peripheral: bool,
    /// Ignored.
    pub ecdsa_key_efuse_blk: u8,
    /// Ignored.
    pub ecdsa_key_efuse_blk_high: u8,
    /// Ignored (`esp_tls_ecdsa_curve_t`).
    pub ecdsa_curve: c_uint,
    /// `httpd_ssl_transport_mode_t`.
    pub transport_mode: c_uint,
    /// TLS port.
    pub port_secure: u16,
    /// Plain HTTP port (insecure mode).
    pub port_insecure: u16,
    /// Resumption with session tickets.
    pub session_tickets: bool,
    /// Deprecated in ESP-IDF: `ESP_ERR_NOT_SUPPORTED` when set.
    pub use_secure_element: bool,
    /// Not offered (`ESP_ERR_NOT_SUPPORTED` when set).
    pub user_cb: esp_https_server_user_cb_t,
    /// Ignored.
    pub ssl_userdata: *mut c_void,
    /// Ignored, as ESP-IDF does without `CONFIG_ESP_HTTPS_SERVER_CERT_SELECT_HOOK`.
    pub cert_select_cb: *mut c_void,
    /// NULL-terminated ALPN protocol names, in order of preference.
    pub alpn_protos: *const *const c_char,
    /// Milliseconds; 0 means 10 seconds.
    pub tls_handshake_timeout_ms: u32,
    /// `esp_tls_proto_ver_t`.
    pub tls_version: c_uint,
    /// Ignored (zero-terminated IANA cipher suite ids).
    pub ciphersuites_list: *const c_int,
}

/// Where `client_cert_authmode_optional` sits in the layout that has it: right after
/// `cacert_len`, where `prvtkey_pem` is in the layout without it.
pub const SSL_AUTHMODE_FIELD_OFFSET: usize = std::mem::offset_of!(httpd_ssl_config_t, prvtkey_pem);
/// The bytes the field adds: the `bool` and the padding up to the next pointer.
pub const SSL_AUTHMODE_FIELD_SIZE: usize = std::mem::align_of::<*const u8>();

//! The header and the Rust declarations must not drift: a C program compiled against
//! `include/esp_http_server.h` prints every struct's size and every field's offset, and the
//! constants a program depends on; this test compares them with `abi`'s `size_of`/`offset_of!`
//! and values, and checks `HTTPD_DEFAULT_CONFIG()` and `HTTPD_SSL_CONFIG_DEFAULT()` against
//! ESP-IDF's values (`include/esp_https_server.h` and `httpd_ssl_config_t` included).
mod common;
#[path = "../../httpd/tests/util/mod.rs"]
mod util;

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use esp_http_server::abi::*;

macro_rules! layout {
    ($($ty:ident { $($f:ident),* $(,)? })*) => {
        vec![$(
            (stringify!($ty), size_of::<$ty>(), vec![$(
                (stringify!($f).trim_start_matches("r#"), offset_of!($ty, $f))
            ),*])
        ),*]
    };
}

fn rust_layouts() -> Vec<(&'static str, usize, Vec<(&'static str, usize)>)> {
    layout! {
        httpd_config_t {
            task_priority, stack_size, core_id, task_caps, max_req_hdr_len, max_uri_len,
            server_port, ctrl_port, max_open_sockets, max_uri_handlers, max_resp_headers,
            backlog_conn, lru_purge_enable, recv_wait_timeout, send_wait_timeout,
            global_user_ctx, global_user_ctx_free_fn, global_transport_ctx,
            global_transport_ctx_free_fn, enable_so_linger, linger_timeout, keep_alive_enable,
            keep_alive_idle, keep_alive_interval, keep_alive_count, if_name, open_fn, close_fn,
            uri_match_fn,
        }
        httpd_req_t {
            handle, method, uri, content_len, aux, user_ctx, sess_ctx, free_ctx,
            ignore_sess_ctx_changes,
        }
        httpd_uri_t {
            uri, method, handler, user_ctx, is_websocket, handle_ws_control_frames,
            supported_subprotocol,
        }
        httpd_ws_frame_t { r#final, fragmented, r#type, payload, len, left_len }
        esp_http_server_event_data { fd, data_len }
        httpd_ssl_config_t {
            httpd, servercert, servercert_len, cacert_pem, cacert_len, prvtkey_pem, prvtkey_len,
            server_key, use_ecdsa_peripheral, ecdsa_key_efuse_blk, ecdsa_key_efuse_blk_high,
            ecdsa_curve, transport_mode, port_secure, port_insecure, session_tickets,
            use_secure_element, user_cb, ssl_userdata, cert_select_cb, alpn_protos,
            tls_handshake_timeout_ms, tls_version, ciphersuites_list,
        }
    }
}

/// Constants as (C expression, the value Rust uses).
fn constants() -> Vec<(&'static str, i64)> {
    vec![
        ("ESP_OK", ESP_OK.into()),
        ("ESP_FAIL", ESP_FAIL.into()),
        ("ESP_ERR_NO_MEM", ESP_ERR_NO_MEM.into()),
        ("ESP_ERR_INVALID_ARG", ESP_ERR_INVALID_ARG.into()),
        ("ESP_ERR_INVALID_STATE", ESP_ERR_INVALID_STATE.into()),
        ("ESP_ERR_INVALID_SIZE", ESP_ERR_INVALID_SIZE.into()),
        ("ESP_ERR_NOT_FOUND", ESP_ERR_NOT_FOUND.into()),
        ("ESP_ERR_NOT_SUPPORTED", ESP_ERR_NOT_SUPPORTED.into()),
        ("ESP_ERR_TIMEOUT", ESP_ERR_TIMEOUT.into()),
        ("ESP_ERR_HTTPD_BASE", ESP_ERR_HTTPD_BASE.into()),
        (
            "ESP_ERR_HTTPD_HANDLERS_FULL",
            ESP_ERR_HTTPD_HANDLERS_FULL.into(),
        ),
        (
            "ESP_ERR_HTTPD_HANDLER_EXISTS",
            ESP_ERR_HTTPD_HANDLER_EXISTS.into(),
        ),
        (
            "ESP_ERR_HTTPD_INVALID_REQ",
            ESP_ERR_HTTPD_INVALID_REQ.into(),
        ),
        (
            "ESP_ERR_HTTPD_RESULT_TRUNC",
            ESP_ERR_HTTPD_RESULT_TRUNC.into(),
        ),
        ("ESP_ERR_HTTPD_RESP_HDR", ESP_ERR_HTTPD_RESP_HDR.into()),
        ("ESP_ERR_HTTPD_RESP_SEND", ESP_ERR_HTTPD_RESP_SEND.into()),
        ("ESP_ERR_HTTPD_ALLOC_MEM", ESP_ERR_HTTPD_ALLOC_MEM.into()),
        ("ESP_ERR_HTTPD_TASK", ESP_ERR_HTTPD_TASK.into()),
        ("HTTPD_SOCK_ERR_FAIL", HTTPD_SOCK_ERR_FAIL.into()),
        ("HTTPD_SOCK_ERR_INVALID", HTTPD_SOCK_ERR_INVALID.into()),
        ("HTTPD_SOCK_ERR_TIMEOUT", HTTPD_SOCK_ERR_TIMEOUT.into()),
        ("HTTPD_RESP_USE_STRLEN", HTTPD_RESP_USE_STRLEN as i64),
        ("HTTP_ANY", HTTP_ANY.into()),
        ("CONFIG_HTTPD_MAX_URI_LEN", CONFIG_HTTPD_MAX_URI_LEN as i64),
        (
            "CONFIG_HTTPD_MAX_REQ_HDR_LEN",
            CONFIG_HTTPD_MAX_REQ_HDR_LEN as i64,
        ),
        ("HTTPD_ERR_CODE_MAX", HTTPD_ERR_CODE_MAX.into()),
        ("HTTPD_WS_TYPE_CONTINUE", HTTPD_WS_TYPE_CONTINUE.into()),
        ("HTTPD_WS_TYPE_TEXT", HTTPD_WS_TYPE_TEXT.into()),
        ("HTTPD_WS_TYPE_BINARY", HTTPD_WS_TYPE_BINARY.into()),
        ("HTTPD_WS_TYPE_CLOSE", HTTPD_WS_TYPE_CLOSE.into()),
        ("HTTPD_WS_TYPE_PING", HTTPD_WS_TYPE_PING.into()),
        ("HTTPD_WS_TYPE_PONG", HTTPD_WS_TYPE_PONG.into()),
        ("HTTPD_WS_CLIENT_INVALID", HTTPD_WS_CLIENT_INVALID.into()),
        ("HTTPD_WS_CLIENT_HTTP", HTTPD_WS_CLIENT_HTTP.into()),
        (
            "HTTPD_WS_CLIENT_WEBSOCKET",
            HTTPD_WS_CLIENT_WEBSOCKET.into(),
        ),
        ("HTTP_SERVER_EVENT_START", HTTP_SERVER_EVENT_START.into()),
        ("HTTP_SERVER_EVENT_STOP", HTTP_SERVER_EVENT_STOP.into()),
        // ESP-IDF's order of httpd_err_code_t, and http_parser's method numbers.
        ("HTTPD_500_INTERNAL_SERVER_ERROR", 0),
        ("HTTPD_501_METHOD_NOT_IMPLEMENTED", 1),
        ("HTTPD_505_VERSION_NOT_SUPPORTED", 2),
        ("HTTPD_400_BAD_REQUEST", 3),
        ("HTTPD_401_UNAUTHORIZED", 4),
        ("HTTPD_403_FORBIDDEN", 5),
        ("HTTPD_404_NOT_FOUND", 6),
        ("HTTPD_405_METHOD_NOT_ALLOWED", 7),
        ("HTTPD_408_REQ_TIMEOUT", 8),
        ("HTTPD_411_LENGTH_REQUIRED", 9),
        ("HTTPD_413_CONTENT_TOO_LARGE", 10),
        ("HTTPD_414_URI_TOO_LONG", 11),
        ("HTTPD_431_REQ_HDR_FIELDS_TOO_LARGE", 12),
        ("HTTP_DELETE", method_to_c(httpd::Method::Delete).into()),
        ("HTTP_GET", method_to_c(httpd::Method::Get).into()),
        ("HTTP_HEAD", method_to_c(httpd::Method::Head).into()),
        ("HTTP_POST", method_to_c(httpd::Method::Post).into()),
        ("HTTP_PUT", method_to_c(httpd::Method::Put).into()),
        ("HTTP_CONNECT", method_to_c(httpd::Method::Connect).into()),
        ("HTTP_OPTIONS", method_to_c(httpd::Method::Options).into()),
        ("HTTP_TRACE", method_to_c(httpd::Method::Trace).into()),
        ("HTTP_PATCH", method_to_c(httpd::Method::Patch).into()),
        ("HTTP_UNLINK", 32),
        ("sizeof(httpd_err_code_t)", 4),
        ("sizeof(httpd_method_t)", 4),
        ("sizeof(httpd_ws_type_t)", 4),
        // HTTPD_DEFAULT_CONFIG(): ESP-IDF's values.
        ("dflt.task_priority", 5),
        ("dflt.stack_size", 4096),
        ("dflt.core_id", 0x7FFF_FFFF),
        ("dflt.task_caps", (1 << 11) | (1 << 2)),
        ("dflt.max_req_hdr_len", 1024),
        ("dflt.max_uri_len", 512),
        ("dflt.server_port", 80),
        ("dflt.ctrl_port", 32768),
        ("dflt.max_open_sockets", 7),
        ("dflt.max_uri_handlers", 8),
        ("dflt.max_resp_headers", 8),
        ("dflt.backlog_conn", 5),
        ("dflt.lru_purge_enable", 0),
        ("dflt.recv_wait_timeout", 5),
        ("dflt.send_wait_timeout", 5),
        ("dflt.enable_so_linger", 0),
        ("dflt.keep_alive_enable", 0),
        (
            "(dflt.open_fn == NULL && dflt.close_fn == NULL && dflt.uri_match_fn == NULL)",
            1,
        ),
        // esp_https_server.h and esp_tls.h.
        (
            "HTTPD_SSL_TRANSPORT_SECURE",
            HTTPD_SSL_TRANSPORT_SECURE.into(),
        ),
        (
            "HTTPD_SSL_TRANSPORT_INSECURE",
            HTTPD_SSL_TRANSPORT_INSECURE.into(),
        ),
        ("ESP_TLS_VER_ANY", ESP_TLS_VER_ANY.into()),
        ("ESP_TLS_VER_TLS_1_2", ESP_TLS_VER_TLS_1_2.into()),
        ("ESP_TLS_VER_TLS_1_3", ESP_TLS_VER_TLS_1_3.into()),
        (
            "ESP_TLS_ECDSA_CURVE_SECP256R1",
            ESP_TLS_ECDSA_CURVE_SECP256R1.into(),
        ),
        ("HTTPD_SSL_USER_CB_SESS_CLOSE", 1),
        ("HTTPS_SERVER_EVENT_STOP", 6),
        ("sizeof(httpd_ssl_transport_mode_t)", 4),
        ("sizeof(esp_tls_proto_ver_t)", 4),
        ("sizeof(esp_tls_ecdsa_curve_t)", 4),
        // HTTPD_SSL_CONFIG_DEFAULT(): ESP-IDF's values.
        ("sdflt.httpd.task_priority", 5),
        ("sdflt.httpd.stack_size", 10240),
        ("sdflt.httpd.core_id", 0x7FFF_FFFF),
        ("sdflt.httpd.task_caps", (1 << 11) | (1 << 2)),
        ("sdflt.httpd.max_req_hdr_len", 1024),
        ("sdflt.httpd.max_uri_len", 512),
        ("sdflt.httpd.server_port", 0),
        ("sdflt.httpd.ctrl_port", 32769),
        ("sdflt.httpd.max_open_sockets", 4),
        ("sdflt.httpd.max_uri_handlers", 8),
        ("sdflt.httpd.max_resp_headers", 8),
        ("sdflt.httpd.backlog_conn", 5),
        ("sdflt.httpd.lru_purge_enable", 1),
        ("sdflt.httpd.recv_wait_timeout", 5),
        ("sdflt.httpd.send_wait_timeout", 5),
        ("sdflt.httpd.enable_so_linger", 0),
        ("sdflt.httpd.linger_timeout", 0),
        ("sdflt.httpd.keep_alive_enable", 0),
        (
            "(sdflt.httpd.open_fn == NULL && sdflt.httpd.close_fn == NULL \
              && sdflt.httpd.uri_match_fn == NULL && sdflt.httpd.if_name == NULL \
              && sdflt.httpd.global_user_ctx == NULL && sdflt.httpd.global_transport_ctx == NULL)",
            1,
        ),
        (
            "(sdflt.servercert == NULL && sdflt.cacert_pem == NULL && sdflt.prvtkey_pem == NULL \
              && sdflt.server_key == NULL && sdflt.user_cb == NULL && sdflt.ssl_userdata == NULL \
              && sdflt.cert_select_cb == NULL && sdflt.alpn_protos == NULL \
              && sdflt.ciphersuites_list == NULL)",
            1,
        ),
        (
            "(sdflt.servercert_len + sdflt.cacert_len + sdflt.prvtkey_len)",
            0,
        ),
        ("sdflt.use_ecdsa_peripheral", 0),
        ("sdflt.ecdsa_key_efuse_blk", 0),
        ("sdflt.ecdsa_key_efuse_blk_high", 0),
        ("sdflt.ecdsa_curve", ESP_TLS_ECDSA_CURVE_SECP256R1.into()),
        ("sdflt.transport_mode", HTTPD_SSL_TRANSPORT_SECURE.into()),
        ("sdflt.port_secure", 443),
        ("sdflt.port_insecure", 80),
        ("sdflt.session_tickets", 0),
        ("sdflt.use_secure_element", 0),
        ("sdflt.tls_handshake_timeout_ms", 0),
        ("sdflt.tls_version", ESP_TLS_VER_ANY.into()),
    ]
}

#[test]
fn header_layout_and_constants_match_rust() {
    let layouts = rust_layouts();
    let consts = constants();
    let mut c = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <esp_http_server.h>\n#include <esp_log.h>\n\
         #include <esp_check.h>\n#include <esp_https_server.h>\nint main(void) {\n    \
         httpd_config_t dflt = HTTPD_DEFAULT_CONFIG();\n    \
         httpd_ssl_config_t sdflt = HTTPD_SSL_CONFIG_DEFAULT();\n",
    );
    for (ty, _, fields) in &layouts {
        c += &format!("    printf(\"{ty} %zu\\n\", sizeof({ty}));\n");
        for (f, _) in fields {
            c += &format!("    printf(\"{ty}.{f} %zu\\n\", offsetof({ty}, {f}));\n");
        }
    }
    for (expr, _) in &consts {
        c += &format!(
            "    printf(\"{} %lld\\n\", (long long)({expr}));\n",
            expr.escape_default()
        );
    }
    c += "    return 0;\n}\n";
    let dir = common::scratch();
    let src = dir.join("layout.c");
    std::fs::write(&src, c).unwrap();
    let exe = dir.join("layout");
    common::gcc([src.as_os_str(), "-o".as_ref(), exe.as_os_str()]);
    let out = Command::new(&exe).output().expect("running layout");
    let printed: HashMap<String, i64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect();
    let mut diffs = Vec::new();
    for (ty, size, fields) in &layouts {
        if printed.get(*ty) != Some(&(*size as i64)) {
            diffs.push(format!(
                "sizeof({ty}): C {:?}, Rust {size}",
                printed.get(*ty)
            ));
        }
        for (f, off) in fields {
            let key = format!("{ty}.{f}");
            if printed.get(&key) != Some(&(*off as i64)) {
                diffs.push(format!(
                    "offsetof({key}): C {:?}, Rust {off}",
                    printed.get(&key)
                ));
            }
        }
    }
    for (expr, want) in &consts {
        if printed.get(*expr) != Some(want) {
            diffs.push(format!("{expr}: C {:?}, Rust {want}", printed.get(*expr)));
        }
    }
    assert!(
        diffs.is_empty(),
        "header and Rust differ:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn every_header_compiles_alone_with_the_readme_flags() {
    let headers = [
        "esp_http_server.h",
        "esp_err.h",
        "esp_log.h",
        "esp_check.h",
        "http_parser.h",
        "sdkconfig.h",
        "freertos/FreeRTOS.h",
        "freertos/task.h",
        "esp_heap_caps.h",
        "esp_event.h",
        "esp_event_base.h",
        "esp_https_server.h",
        "esp_tls.h",
    ];
    let dir = common::scratch();
    for h in headers {
        let src = dir.join("one_header.c");
        std::fs::write(
            &src,
            format!("#include <{h}>\nint main(void) {{ return 0; }}\n"),
        )
        .unwrap();
        common::gcc(["-fsyntax-only".as_ref(), src.as_os_str()]);
    }
}

#[test]
fn handshake_callback_layouts_match_rust() {
    let one = (
        size_of::<httpd_uri_one_cb_t>(),
        offset_of!(httpd_uri_one_cb_t, cb),
    );
    let cases: [(&[&str], &str, usize, usize); 3] = [
        (
            &["-DCONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT=1"],
            "ws_pre_handshake_cb",
            one.0,
            one.1,
        ),
        (
            &["-DCONFIG_HTTPD_WS_POST_HANDSHAKE_CB_SUPPORT=1"],
            "ws_post_handshake_cb",
            one.0,
            one.1,
        ),
        (
            &[
                "-DCONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT=1",
                "-DCONFIG_HTTPD_WS_POST_HANDSHAKE_CB_SUPPORT=1",
            ],
            "ws_post_handshake_cb",
            size_of::<httpd_uri_two_cbs_t>(),
            offset_of!(httpd_uri_two_cbs_t, ws_post_handshake_cb),
        ),
    ];
    let dir = common::scratch();
    for (i, (flags, field, size, offset)) in cases.iter().enumerate() {
        let src = dir.join(format!("cb_layout{i}.c"));
        std::fs::write(
            &src,
            format!(
                "#include <stddef.h>\n#include <stdio.h>\n#include <esp_http_server.h>\n\
                 int main(void) {{ printf(\"%zu %zu\\n\", sizeof(httpd_uri_t), \
                 offsetof(httpd_uri_t, {field})); return 0; }}\n"
            ),
        )
        .unwrap();
        let exe = dir.join(format!("cb_layout{i}"));
        let mut args: Vec<&std::ffi::OsStr> = flags.iter().map(|f| f.as_ref()).collect();
        args.extend([src.as_os_str(), "-o".as_ref(), exe.as_os_str()]);
        common::gcc(args);
        let out = Command::new(&exe).output().expect("running");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            format!("{size} {offset}"),
            "{flags:?}"
        );
    }
    // The base layout is the prefix of both.
    assert_eq!(offset_of!(httpd_uri_one_cb_t, cb), size_of::<httpd_uri_t>());
    assert_eq!(
        offset_of!(httpd_uri_two_cbs_t, ws_pre_handshake_cb),
        size_of::<httpd_uri_t>()
    );
}

/// With `CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL`, `httpd_ssl_config_t` gains
/// `client_cert_authmode_optional` after `cacert_len`: the base layout with the field's bytes
/// inserted there, which `httpd_ssl_start_authmode_optional` reads.
#[test]
fn authmode_optional_ssl_layout_matches_rust() {
    let dir = common::scratch();
    let src = dir.join("authmode_layout.c");
    std::fs::write(
        &src,
        "#include <stddef.h>\n#include <stdio.h>\n#include <esp_https_server.h>\n\
         int main(void) {\n    httpd_ssl_config_t d = HTTPD_SSL_CONFIG_DEFAULT();\n    \
         printf(\"%zu %zu %zu %zu %d %u\\n\", sizeof(httpd_ssl_config_t),\n    \
         offsetof(httpd_ssl_config_t, client_cert_authmode_optional),\n    \
         offsetof(httpd_ssl_config_t, prvtkey_pem),\n    \
         offsetof(httpd_ssl_config_t, ciphersuites_list), d.client_cert_authmode_optional,\n    \
         (unsigned)d.port_secure);\n    return 0;\n}\n",
    )
    .unwrap();
    let exe = dir.join("authmode_layout");
    common::gcc([
        "-DCONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL=1".as_ref(),
        src.as_os_str(),
        "-o".as_ref(),
        exe.as_os_str(),
    ]);
    let out = Command::new(&exe).output().expect("running");
    let extra = SSL_AUTHMODE_FIELD_SIZE;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!(
            "{} {} {} {} 0 443",
            size_of::<httpd_ssl_config_t>() + extra,
            SSL_AUTHMODE_FIELD_OFFSET,
            offset_of!(httpd_ssl_config_t, prvtkey_pem) + extra,
            offset_of!(httpd_ssl_config_t, ciphersuites_list) + extra,
        )
    );
    assert_eq!(
        SSL_AUTHMODE_FIELD_OFFSET,
        offset_of!(httpd_ssl_config_t, cacert_len) + size_of::<usize>()
    );
}

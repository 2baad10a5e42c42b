/*
 * esp_https_server.h for a host: ESP-IDF's HTTPS server C API (names, types, struct layout,
 * default configuration and semantics of ESP-IDF master at commit 102122904ade), implemented by
 * the httpd Rust library with rustls (libesp_http_server.a / .so from the httpd-capi crate).
 *
 * httpd_ssl_start starts the same server as httpd_start, with TLS on port_secure (or plain
 * HTTP on port_insecure with HTTPD_SSL_TRANSPORT_INSECURE): every esp_http_server.h function
 * works on the handle it returns. Host notes (httpd-capi/README.md has the field-by-field
 * table):
 *  - the PEM buffers may be given with or without their NUL terminator in the length;
 *  - the certificate and key are checked at start: material that does not parse, or a key
 *    that does not match the certificate, fails httpd_ssl_start with ESP_FAIL (on the chip,
 *    every handshake would fail instead);
 *  - cacert_pem: clients must present a certificate signed by one of those CAs (optional
 *    with CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL and client_cert_authmode_optional; a
 *    certificate that does not verify is still refused);
 *  - user_cb, cert_select_cb, server_key, use_ecdsa_peripheral and use_secure_element need
 *    ESP-TLS, mbedTLS or the chip's key hardware: setting them fails with
 *    ESP_ERR_NOT_SUPPORTED; ssl_userdata, the efuse blocks, ecdsa_curve and ciphersuites_list
 *    are accepted and not used (rustls's own cipher suites are offered).
 */
#ifndef _ESP_HTTPS_SERVER_H_
#define _ESP_HTTPS_SERVER_H_

#include <stdbool.h>
#include "esp_err.h"
#include "esp_http_server.h"
#include "esp_tls.h"
#include "esp_event.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The HTTPS server's event ids (ESP-IDF's numbering; no event base is posted on a host). */
typedef enum {
    HTTPS_SERVER_EVENT_ERROR = 0,
    HTTPS_SERVER_EVENT_START,
    HTTPS_SERVER_EVENT_ON_CONNECTED,
    HTTPS_SERVER_EVENT_ON_DATA,
    HTTPS_SERVER_EVENT_SENT_DATA,
    HTTPS_SERVER_EVENT_DISCONNECTED,
    HTTPS_SERVER_EVENT_STOP,
} esp_https_server_event_id_t;

/** TLS on (port_secure) or off (plain HTTP on port_insecure). */
typedef enum {
    HTTPD_SSL_TRANSPORT_SECURE,
    HTTPD_SSL_TRANSPORT_INSECURE
} httpd_ssl_transport_mode_t;

/** When user_cb would run: session created, closed, or failed. */
typedef enum {
    HTTPD_SSL_USER_CB_SESS_CREATE,
    HTTPD_SSL_USER_CB_SESS_CLOSE,
    HTTPD_SSL_USER_CB_SESS_ERROR
} httpd_ssl_user_cb_state_t;

/** The certificate selection hook (not offered on a host: ESP_ERR_NOT_SUPPORTED when set). */
typedef esp_tls_handshake_callback esp_https_server_cert_select_cb;

/** What user_cb receives. */
typedef struct esp_https_server_user_cb_arg {
    httpd_ssl_user_cb_state_t user_cb_state;
    esp_tls_t *tls;
} esp_https_server_user_cb_arg_t;

typedef esp_tls_last_error_t esp_https_server_last_error_t;

/** The per-session callback (not offered on a host: ESP_ERR_NOT_SUPPORTED when set). */
typedef void esp_https_server_user_cb(esp_https_server_user_cb_arg_t *user_cb);

/** HTTPS server configuration; start from HTTPD_SSL_CONFIG_DEFAULT(). */
struct httpd_ssl_config {
    httpd_config_t httpd;              /* the server's settings (its server_port is set at start) */
    const uint8_t *servercert;         /* server certificate chain, PEM, leaf first */
    size_t servercert_len;             /* its length, with or without the NUL */
    const uint8_t *cacert_pem;         /* CA(s) that sign client certificates, PEM: mutual TLS */
    size_t cacert_len;
#ifdef CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL
    bool client_cert_authmode_optional; /* with cacert_pem: a client certificate is optional */
#endif
    const uint8_t *prvtkey_pem;        /* the server certificate's private key, PEM */
    size_t prvtkey_len;
    const esp_key_config_t *server_key; /* not offered on a host */
    bool use_ecdsa_peripheral;         /* not offered on a host */
    uint8_t ecdsa_key_efuse_blk;       /* ignored */
    uint8_t ecdsa_key_efuse_blk_high;  /* ignored */
    esp_tls_ecdsa_curve_t ecdsa_curve; /* ignored */
    httpd_ssl_transport_mode_t transport_mode;
    uint16_t port_secure;              /* TLS port (default 443) */
    uint16_t port_insecure;            /* plain HTTP port with HTTPD_SSL_TRANSPORT_INSECURE (80) */
    bool session_tickets;              /* resumption with session tickets */
    bool use_secure_element;           /* deprecated in ESP-IDF: ESP_ERR_NOT_SUPPORTED */
    esp_https_server_user_cb *user_cb; /* not offered on a host */
    void *ssl_userdata;                /* ignored (only cert_select_cb would see it) */
    esp_https_server_cert_select_cb cert_select_cb; /* not offered on a host */
    const char **alpn_protos;          /* NULL-terminated, in order of preference; NULL: no ALPN */
    uint32_t tls_handshake_timeout_ms; /* 0: 10 seconds */
    esp_tls_proto_ver_t tls_version;   /* ESP_TLS_VER_ANY: TLS 1.2 and 1.3 */
    const int *ciphersuites_list;      /* ignored */
};

typedef struct httpd_ssl_config httpd_ssl_config_t;

#ifdef CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL
#define HTTPD_SSL_CONFIG_CLIENT_AUTH_OPTIONAL_INIT .client_cert_authmode_optional = false,
#else
#define HTTPD_SSL_CONFIG_CLIENT_AUTH_OPTIONAL_INIT
#endif

/** ESP-IDF's default HTTPS configuration (its values, unchanged). */
#define HTTPD_SSL_CONFIG_DEFAULT() {                                      \
    .httpd = {                                                            \
        .task_priority      = tskIDLE_PRIORITY + 5,                       \
        .stack_size         = 10240,                                      \
        .core_id            = tskNO_AFFINITY,                             \
        .task_caps          = (MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT),    \
        .max_req_hdr_len    = CONFIG_HTTPD_MAX_REQ_HDR_LEN,               \
        .max_uri_len        = CONFIG_HTTPD_MAX_URI_LEN,                   \
        .server_port        = 0,                                          \
        .ctrl_port          = ESP_HTTPD_DEF_CTRL_PORT + 1,                \
        .max_open_sockets   = 4,                                          \
        .max_uri_handlers   = 8,                                          \
        .max_resp_headers   = 8,                                          \
        .backlog_conn       = 5,                                          \
        .lru_purge_enable   = true,                                       \
        .recv_wait_timeout  = 5,                                          \
        .send_wait_timeout  = 5,                                          \
        .global_user_ctx    = NULL,                                       \
        .global_user_ctx_free_fn = NULL,                                  \
        .global_transport_ctx = NULL,                                     \
        .global_transport_ctx_free_fn = NULL,                             \
        .enable_so_linger   = false,                                      \
        .linger_timeout     = 0,                                          \
        .keep_alive_enable  = false,                                      \
        .keep_alive_idle    = 0,                                          \
        .keep_alive_interval = 0,                                         \
        .keep_alive_count   = 0,                                          \
        .if_name            = NULL,                                       \
        .open_fn            = NULL,                                       \
        .close_fn           = NULL,                                       \
        .uri_match_fn       = NULL                                        \
    },                                                                    \
    .servercert         = NULL,                                           \
    .servercert_len     = 0,                                              \
    .cacert_pem         = NULL,                                           \
    .cacert_len         = 0,                                              \
    HTTPD_SSL_CONFIG_CLIENT_AUTH_OPTIONAL_INIT                            \
    .prvtkey_pem        = NULL,                                           \
    .prvtkey_len        = 0,                                              \
    .server_key         = NULL,                                           \
    .use_ecdsa_peripheral = false,                                        \
    .ecdsa_key_efuse_blk = 0,                                             \
    .ecdsa_key_efuse_blk_high = 0,                                        \
    .ecdsa_curve        = ESP_TLS_ECDSA_CURVE_SECP256R1,                  \
    .transport_mode     = HTTPD_SSL_TRANSPORT_SECURE,                     \
    .port_secure        = 443,                                            \
    .port_insecure      = 80,                                             \
    .session_tickets    = false,                                          \
    .user_cb            = NULL,                                           \
    .ssl_userdata       = NULL,                                           \
    .cert_select_cb     = NULL,                                           \
    .alpn_protos        = NULL,                                           \
    .tls_handshake_timeout_ms = 0,                                        \
    .tls_version        = ESP_TLS_VER_ANY,                                \
    .ciphersuites_list  = NULL,                                           \
}

/**
 * Starts a server: HTTPS on config->port_secure, or plain HTTP on config->port_insecure with
 * HTTPD_SSL_TRANSPORT_INSECURE; config->httpd.server_port is set to the port used (0 picks
 * a free one: httpd_host_port() tells which). The config need not outlive the call.
 * Returns ESP_OK; ESP_ERR_INVALID_ARG for NULL arguments or no certificate or key;
 * ESP_FAIL for certificate or key material that does not parse or match;
 * ESP_ERR_NOT_SUPPORTED for the options above that need the chip; or httpd_start's errors.
 */
esp_err_t httpd_ssl_start(httpd_handle_t *handle, httpd_ssl_config_t *config);

#ifdef CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL
/* Host-only: httpd_ssl_start for the layout with client_cert_authmode_optional (the library
 * serves both layouts; this macro tells it which one the program was compiled with). */
esp_err_t httpd_ssl_start_authmode_optional(httpd_handle_t *handle, httpd_ssl_config_t *config);
#define httpd_ssl_start(handle, config) httpd_ssl_start_authmode_optional((handle), (config))
#endif

/** Stops a server started by httpd_ssl_start (httpd_stop's semantics). */
esp_err_t httpd_ssl_stop(httpd_handle_t handle);

#ifdef __cplusplus
}
#endif

#endif

/*
 * esp_tls.h for a host, reduced to what esp_https_server.h uses: the types its configuration
 * names (ESP-IDF master at commit 102122904ade). There is no ESP-TLS (nor mbedTLS) here: the
 * TLS of httpd_ssl_start is rustls inside the httpd library, so esp_tls_t and esp_key_config_t
 * are incomplete types and no esp_tls_* function is offered.
 */
#ifndef HTTPD_CAPI_ESP_TLS_H
#define HTTPD_CAPI_ESP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esp_err.h"
#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

/* TLS protocol version for a server or client: ESP-IDF's numbering. */
typedef enum {
    ESP_TLS_VER_ANY = 0,
    ESP_TLS_VER_TLS_1_2 = 0x1,
    ESP_TLS_VER_TLS_1_3 = 0x2,
    ESP_TLS_VER_TLS_MAX,
} esp_tls_proto_ver_t;

/* The curve of a key held by the ECDSA peripheral (there is none on a host). */
typedef enum {
    ESP_TLS_ECDSA_CURVE_SECP256R1 = 0,
    ESP_TLS_ECDSA_CURVE_MAX,
} esp_tls_ecdsa_curve_t;

/* The last error of an ESP-TLS connection. */
typedef struct esp_tls_last_error {
    esp_err_t last_error;
    int esp_tls_error_code;
    int esp_tls_flags;
} esp_tls_last_error_t;

typedef struct esp_tls_last_error *esp_tls_error_handle_t;

/* An ESP-TLS connection: never created on a host. */
typedef struct esp_tls esp_tls_t;

/* A unified private-key configuration (secure element, PSA, buffers): not offered on a host. */
typedef struct esp_key_config esp_key_config_t;

/* The certificate selection hook's type; as ESP-IDF declares it without
 * CONFIG_ESP_TLS_SERVER_CERT_SELECT_HOOK (there is no mbedtls_ssl_context on a host). */
typedef void *esp_tls_handshake_callback;

#ifdef __cplusplus
}
#endif

#endif

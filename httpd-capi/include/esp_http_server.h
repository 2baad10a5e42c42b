/*
 * esp_http_server.h for a host: ESP-IDF's HTTP server C API (names, types, constants, struct
 * layouts and semantics of ESP-IDF master at commit 102122904ade), implemented by the httpd
 * Rust library (libesp_http_server.a / .so from the httpd-capi crate).
 *
 * Build:  gcc -std=gnu11 -Wall -Werror prog.c -Ihttpd-capi/include \
 *             target/release/libesp_http_server.a -lpthread -ldl -lm
 *
 * Host notes (see httpd-capi/README.md for the function-by-function table):
 *  - socket descriptors are the connections' real OS descriptors; when close_fn is set it owns
 *    the descriptor and must close() it, as on the chip;
 *  - task_priority, stack_size, core_id, task_caps and ctrl_port are accepted as hints and not
 *    used (the server runs on a host thread and is controlled over an in-process channel);
 *  - strings passed to httpd_resp_set_status/_type/_hdr are copied when set;
 *  - ESP_HTTP_SERVER_EVENT handlers run on the server's thread, not an event loop task.
 */
#ifndef _ESP_HTTP_SERVER_H_
#define _ESP_HTTP_SERVER_H_

#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <sys/types.h>
#include <freertos/FreeRTOS.h>
#include <freertos/task.h>
#include <http_parser.h>
#include <sdkconfig.h>
#include <esp_err.h>
#include <esp_event.h>
#include <esp_event_base.h>
#include <esp_heap_caps.h>
#include <net/if.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The control port ESP-IDF's server uses by default (a hint on a host). */
#define ESP_HTTPD_DEF_CTRL_PORT (32768)

#if CONFIG_HTTPD_ENABLE_EVENTS
/** Event base of the server's events (handlers: esp_event_handler_register in esp_event.h). */
ESP_EVENT_DECLARE_BASE(ESP_HTTP_SERVER_EVENT);
#endif

/** Server events and states (httpd_get_server_state()). */
typedef enum {
    HTTP_SERVER_EVENT_ERROR = 0,
    HTTP_SERVER_EVENT_START,
    HTTP_SERVER_EVENT_ON_CONNECTED,
    HTTP_SERVER_EVENT_ON_HEADER,
    HTTP_SERVER_EVENT_HEADERS_SENT,
    HTTP_SERVER_EVENT_ON_DATA,
    HTTP_SERVER_EVENT_SENT_DATA,
    HTTP_SERVER_EVENT_DISCONNECTED,
    HTTP_SERVER_EVENT_STOP,
} esp_http_server_event_id_t;

/** Data of an ON_DATA / SENT_DATA event. */
typedef struct {
    int fd;
    int data_len;
} esp_http_server_event_data;

/** ESP-IDF's default configuration (its values, unchanged). */
#define HTTPD_DEFAULT_CONFIG() {                                          \
        .task_priority      = tskIDLE_PRIORITY + 5,                       \
        .stack_size         = 4096,                                       \
        .core_id            = tskNO_AFFINITY,                             \
        .task_caps          = (MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT),    \
        .max_req_hdr_len    = CONFIG_HTTPD_MAX_REQ_HDR_LEN,               \
        .max_uri_len        = CONFIG_HTTPD_MAX_URI_LEN,                   \
        .server_port        = 80,                                         \
        .ctrl_port          = ESP_HTTPD_DEF_CTRL_PORT,                    \
        .max_open_sockets   = 7,                                          \
        .max_uri_handlers   = 8,                                          \
        .max_resp_headers   = 8,                                          \
        .backlog_conn       = 5,                                          \
        .lru_purge_enable   = false,                                      \
        .recv_wait_timeout  = 5,                                          \
        .send_wait_timeout  = 5,                                          \
        .global_user_ctx = NULL,                                          \
        .global_user_ctx_free_fn = NULL,                                  \
        .global_transport_ctx = NULL,                                     \
        .global_transport_ctx_free_fn = NULL,                             \
        .enable_so_linger = false,                                        \
        .linger_timeout = 0,                                              \
        .keep_alive_enable = false,                                       \
        .keep_alive_idle = 0,                                             \
        .keep_alive_interval = 0,                                         \
        .keep_alive_count = 0,                                            \
        .if_name = NULL,                                                  \
        .open_fn = NULL,                                                  \
        .close_fn = NULL,                                                 \
        .uri_match_fn = NULL                                              \
}

#define ESP_ERR_HTTPD_BASE           (0xb000)
#define ESP_ERR_HTTPD_HANDLERS_FULL  (ESP_ERR_HTTPD_BASE + 1) /* no free handler slot */
#define ESP_ERR_HTTPD_HANDLER_EXISTS (ESP_ERR_HTTPD_BASE + 2) /* URI already handled for the method */
#define ESP_ERR_HTTPD_INVALID_REQ    (ESP_ERR_HTTPD_BASE + 3) /* not a live request */
#define ESP_ERR_HTTPD_RESULT_TRUNC   (ESP_ERR_HTTPD_BASE + 4) /* result does not fit the buffer */
#define ESP_ERR_HTTPD_RESP_HDR       (ESP_ERR_HTTPD_BASE + 5) /* too many response headers */
#define ESP_ERR_HTTPD_RESP_SEND      (ESP_ERR_HTTPD_BASE + 6) /* sending the response failed */
#define ESP_ERR_HTTPD_ALLOC_MEM      (ESP_ERR_HTTPD_BASE + 7) /* out of memory */
#define ESP_ERR_HTTPD_TASK           (ESP_ERR_HTTPD_BASE + 8) /* the server thread did not start */

/** Length argument of httpd_resp_send*(): take strlen() of the buffer. */
#define HTTPD_RESP_USE_STRLEN -1

/* ---- Initialization ---------------------------------------------------------------------- */

/** A running server. */
typedef void *httpd_handle_t;
/** A request method: enum http_method, or HTTP_ANY. */
typedef enum http_method httpd_method_t;
/** Registers a handler for every method. */
#define HTTP_ANY INT_MAX

/** Frees a context (session, global user or transport context). */
typedef void (*httpd_free_ctx_fn_t)(void *ctx);
/** Called for each new connection with its socket; anything but ESP_OK refuses it. */
typedef esp_err_t (*httpd_open_func_t)(httpd_handle_t hd, int sockfd);
/** Called when a connection ends (refused ones too); it owns the socket and must close it. */
typedef void (*httpd_close_func_t)(httpd_handle_t hd, int sockfd);
/** Whether `reference_uri` matches the first `match_upto` bytes of `uri_to_match`. */
typedef bool (*httpd_uri_match_func_t)(const char *reference_uri,
                                       const char *uri_to_match,
                                       size_t match_upto);

/** Server configuration; start from HTTPD_DEFAULT_CONFIG(). */
typedef struct httpd_config {
    unsigned    task_priority;      /* hint, unused on a host */
    size_t      stack_size;         /* hint: the server thread gets at least 256 KiB */
    BaseType_t  core_id;            /* hint, unused on a host */
    uint32_t    task_caps;          /* hint, unused on a host */
    size_t      max_req_hdr_len;    /* header section limit (431 beyond); 0: CONFIG default */
    size_t      max_uri_len;        /* request target limit (414 beyond); 0: CONFIG default */
    uint16_t    server_port;        /* TCP port; 0 picks a free one */
    uint16_t    ctrl_port;          /* hint, unused: control is an in-process channel */
    uint16_t    max_open_sockets;   /* client connections at once */
    uint16_t    max_uri_handlers;   /* registered URI handlers at once */
    uint16_t    max_resp_headers;   /* headers a response may add */
    uint16_t    backlog_conn;       /* listen backlog */
    bool        lru_purge_enable;   /* close the least recently used connection when full */
    uint16_t    recv_wait_timeout;  /* seconds */
    uint16_t    send_wait_timeout;  /* seconds */
    void       *global_user_ctx;    /* httpd_get_global_user_ctx(); freed at stop */
    httpd_free_ctx_fn_t global_user_ctx_free_fn;       /* NULL: free() */
    void       *global_transport_ctx;                  /* httpd_get_global_transport_ctx() */
    httpd_free_ctx_fn_t global_transport_ctx_free_fn;  /* NULL: free() */
    bool        enable_so_linger;
    int         linger_timeout;     /* seconds */
    bool        keep_alive_enable;  /* TCP keep-alive probes */
    int         keep_alive_idle;    /* seconds; 0: 5 */
    int         keep_alive_interval;/* seconds; 0: 5 */
    int         keep_alive_count;   /* probes; 0: 3 */
    struct ifreq *if_name;          /* serve this interface only (its IPv4 address on a host; read at start) */
    httpd_open_func_t open_fn;
    httpd_close_func_t close_fn;
    httpd_uri_match_func_t uri_match_fn; /* NULL: exact match */
} httpd_config_t;

/** Starts a server; `*handle` receives it. */
esp_err_t httpd_start(httpd_handle_t *handle, const httpd_config_t *config);
/** Stops a server: closes every connection, frees contexts, returns when its thread is gone. */
esp_err_t httpd_stop(httpd_handle_t handle);

/* ---- URI handlers ------------------------------------------------------------------------- */

/** The request a handler gets; valid until the handler returns (or, for an asynchronous copy,
 * until httpd_req_async_handler_complete()). */
typedef struct httpd_req {
    httpd_handle_t  handle;
    int             method;          /* enum http_method; 0 for WebSocket frames */
    const char      uri[CONFIG_HTTPD_MAX_URI_LEN + 1];
    size_t          content_len;
    void           *aux;             /* the library's */
    void           *user_ctx;        /* httpd_uri_t.user_ctx */
    void           *sess_ctx;        /* per-connection context, kept across requests */
    httpd_free_ctx_fn_t free_ctx;    /* frees sess_ctx (NULL: free()) */
    bool            ignore_sess_ctx_changes; /* do not free an old sess_ctx that was replaced */
} httpd_req_t;

/** A URI handler to register (the struct is copied; `uri` is copied too). */
typedef struct httpd_uri {
    const char       *uri;
    httpd_method_t    method;
    esp_err_t (*handler)(httpd_req_t *r);
    void *user_ctx;
#if CONFIG_HTTPD_WS_SUPPORT
    bool is_websocket;
    bool handle_ws_control_frames;
    const char *supported_subprotocol;
#if CONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT
    /* Called with the upgrade request before the handshake; anything but ESP_OK closes. */
    esp_err_t (*ws_pre_handshake_cb)(httpd_req_t *req);
#endif
#if CONFIG_HTTPD_WS_POST_HANDSHAKE_CB_SUPPORT
    /* Called right after the handshake; anything but ESP_OK closes the connection. */
    esp_err_t (*ws_post_handshake_cb)(httpd_req_t *req);
#endif
#endif
} httpd_uri_t;

esp_err_t httpd_register_uri_handler(httpd_handle_t handle, const httpd_uri_t *uri_handler);

#if CONFIG_HTTPD_WS_SUPPORT && (CONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT || CONFIG_HTTPD_WS_POST_HANDSHAKE_CB_SUPPORT)
/* With the handshake callbacks configured, httpd_uri_t is longer: registration goes through a
 * function told which callbacks the struct holds (1: pre, 2: post, 3: both). */
esp_err_t httpd_register_uri_handler_with_cbs(httpd_handle_t handle, const httpd_uri_t *uri_handler,
                                              unsigned callbacks);
#define httpd_register_uri_handler(handle, uri_handler)                                  \
    httpd_register_uri_handler_with_cbs((handle), (uri_handler),                        \
        (CONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT ? 1u : 0u) |                          \
        (CONFIG_HTTPD_WS_POST_HANDSHAKE_CB_SUPPORT ? 2u : 0u))
#endif
esp_err_t httpd_unregister_uri_handler(httpd_handle_t handle, const char *uri, httpd_method_t method);
esp_err_t httpd_unregister_uri(httpd_handle_t handle, const char *uri);

/* ---- HTTP errors -------------------------------------------------------------------------- */

/** Errors the server answers, in ESP-IDF's order. */
typedef enum {
    HTTPD_500_INTERNAL_SERVER_ERROR = 0,
    HTTPD_501_METHOD_NOT_IMPLEMENTED,
    HTTPD_505_VERSION_NOT_SUPPORTED,
    HTTPD_400_BAD_REQUEST,
    HTTPD_401_UNAUTHORIZED,
    HTTPD_403_FORBIDDEN,
    HTTPD_404_NOT_FOUND,
    HTTPD_405_METHOD_NOT_ALLOWED,
    HTTPD_408_REQ_TIMEOUT,
    HTTPD_411_LENGTH_REQUIRED,
    HTTPD_413_CONTENT_TOO_LARGE,
    HTTPD_414_URI_TOO_LONG,
    HTTPD_431_REQ_HDR_FIELDS_TOO_LARGE,
    HTTPD_ERR_CODE_MAX
} httpd_err_code_t;

/** A custom error handler: ESP_OK keeps the connection open, anything else closes it. */
typedef esp_err_t (*httpd_err_handler_func_t)(httpd_req_t *req, httpd_err_code_t error);

esp_err_t httpd_register_err_handler(httpd_handle_t handle, httpd_err_code_t error,
                                     httpd_err_handler_func_t handler_fn);
esp_err_t httpd_req_handle_err(httpd_req_t *req, httpd_err_code_t error);

/* ---- TX / RX ------------------------------------------------------------------------------ */

#define HTTPD_SOCK_ERR_FAIL      -1
#define HTTPD_SOCK_ERR_INVALID   -2
#define HTTPD_SOCK_ERR_TIMEOUT   -3

typedef int (*httpd_send_func_t)(httpd_handle_t hd, int sockfd, const char *buf, size_t buf_len, int flags);
typedef int (*httpd_recv_func_t)(httpd_handle_t hd, int sockfd, char *buf, size_t buf_len, int flags);
typedef int (*httpd_pending_func_t)(httpd_handle_t hd, int sockfd);

/* ---- Request / response ------------------------------------------------------------------- */

esp_err_t httpd_sess_set_recv_override(httpd_handle_t hd, int sockfd, httpd_recv_func_t recv_func);
esp_err_t httpd_sess_set_send_override(httpd_handle_t hd, int sockfd, httpd_send_func_t send_func);
esp_err_t httpd_sess_set_pending_override(httpd_handle_t hd, int sockfd, httpd_pending_func_t pending_func);

esp_err_t httpd_req_async_handler_begin(httpd_req_t *r, httpd_req_t **out);
esp_err_t httpd_req_async_handler_complete(httpd_req_t *r);

int httpd_req_to_sockfd(httpd_req_t *r);
int httpd_req_recv(httpd_req_t *r, char *buf, size_t buf_len);

size_t httpd_req_get_hdr_value_len(httpd_req_t *r, const char *field);
esp_err_t httpd_req_get_hdr_value_str(httpd_req_t *r, const char *field, char *val, size_t val_size);
esp_err_t httpd_req_get_hdr_value_str_ptr(httpd_req_t *r, const char *field, const char **val, size_t *val_len);
size_t httpd_req_get_url_query_len(httpd_req_t *r);
esp_err_t httpd_req_get_url_query_str(httpd_req_t *r, char *buf, size_t buf_len);
esp_err_t httpd_req_get_url_query_str_ptr(httpd_req_t *r, const char **buf, size_t *buf_len);
esp_err_t httpd_query_key_value(const char *qry, const char *key, char *val, size_t val_size);
esp_err_t httpd_req_get_cookie_val(httpd_req_t *req, const char *cookie_name, char *val, size_t *val_size);
bool httpd_uri_match_wildcard(const char *uri_template, const char *uri_to_match, size_t match_upto);

esp_err_t httpd_resp_send(httpd_req_t *r, const char *buf, ssize_t buf_len);
esp_err_t httpd_resp_send_chunk(httpd_req_t *r, const char *buf, ssize_t buf_len);

static inline esp_err_t httpd_resp_sendstr(httpd_req_t *r, const char *str)
{
    return httpd_resp_send(r, str, (str == NULL) ? 0 : HTTPD_RESP_USE_STRLEN);
}

static inline esp_err_t httpd_resp_sendstr_chunk(httpd_req_t *r, const char *str)
{
    return httpd_resp_send_chunk(r, str, (str == NULL) ? 0 : HTTPD_RESP_USE_STRLEN);
}

#define HTTPD_200 "200 OK"
#define HTTPD_204 "204 No Content"
#define HTTPD_207 "207 Multi-Status"
#define HTTPD_400 "400 Bad Request"
#define HTTPD_404 "404 Not Found"
#define HTTPD_408 "408 Request Timeout"
#define HTTPD_500 "500 Internal Server Error"

esp_err_t httpd_resp_set_status(httpd_req_t *r, const char *status);

#define HTTPD_TYPE_JSON  "application/json"
#define HTTPD_TYPE_TEXT  "text/html"
#define HTTPD_TYPE_OCTET "application/octet-stream"

esp_err_t httpd_resp_set_type(httpd_req_t *r, const char *type);
esp_err_t httpd_resp_set_hdr(httpd_req_t *r, const char *field, const char *value);
esp_err_t httpd_resp_send_err(httpd_req_t *req, httpd_err_code_t error, const char *msg);
esp_err_t httpd_resp_send_custom_err(httpd_req_t *req, const char *status, const char *msg);

static inline esp_err_t httpd_resp_send_404(httpd_req_t *r)
{
    return httpd_resp_send_err(r, HTTPD_404_NOT_FOUND, NULL);
}

static inline esp_err_t httpd_resp_send_408(httpd_req_t *r)
{
    return httpd_resp_send_err(r, HTTPD_408_REQ_TIMEOUT, NULL);
}

static inline esp_err_t httpd_resp_send_500(httpd_req_t *r)
{
    return httpd_resp_send_err(r, HTTPD_500_INTERNAL_SERVER_ERROR, NULL);
}

int httpd_send(httpd_req_t *r, const char *buf, size_t buf_len);
int httpd_socket_send(httpd_handle_t hd, int sockfd, const char *buf, size_t buf_len, int flags);
int httpd_socket_recv(httpd_handle_t hd, int sockfd, char *buf, size_t buf_len, int flags);

/* ---- Sessions ----------------------------------------------------------------------------- */

void *httpd_sess_get_ctx(httpd_handle_t handle, int sockfd);
void httpd_sess_set_ctx(httpd_handle_t handle, int sockfd, void *ctx, httpd_free_ctx_fn_t free_fn);
void *httpd_sess_get_transport_ctx(httpd_handle_t handle, int sockfd);
void httpd_sess_set_transport_ctx(httpd_handle_t handle, int sockfd, void *ctx, httpd_free_ctx_fn_t free_fn);
void *httpd_get_global_user_ctx(httpd_handle_t handle);
void *httpd_get_global_transport_ctx(httpd_handle_t handle);
esp_err_t httpd_sess_trigger_close(httpd_handle_t handle, int sockfd);
esp_err_t httpd_sess_update_lru_counter(httpd_handle_t handle, int sockfd);
esp_err_t httpd_get_client_list(httpd_handle_t handle, size_t *fds, int *client_fds);

/* ---- Work queue --------------------------------------------------------------------------- */

typedef void (*httpd_work_fn_t)(void *arg);
esp_err_t httpd_queue_work(httpd_handle_t handle, httpd_work_fn_t work, void *arg);

/* ---- WebSocket ---------------------------------------------------------------------------- */

#if CONFIG_HTTPD_WS_SUPPORT
typedef enum {
    HTTPD_WS_TYPE_CONTINUE = 0x0,
    HTTPD_WS_TYPE_TEXT     = 0x1,
    HTTPD_WS_TYPE_BINARY   = 0x2,
    HTTPD_WS_TYPE_CLOSE    = 0x8,
    HTTPD_WS_TYPE_PING     = 0x9,
    HTTPD_WS_TYPE_PONG     = 0xA
} httpd_ws_type_t;

typedef enum {
    HTTPD_WS_CLIENT_INVALID   = 0x0,
    HTTPD_WS_CLIENT_HTTP      = 0x1,
    HTTPD_WS_CLIENT_WEBSOCKET = 0x2,
} httpd_ws_client_info_t;

/** A WebSocket frame received or to send. */
typedef struct httpd_ws_frame {
    bool final;            /* FIN (to send: used only with `fragmented`) */
    bool fragmented;       /* to send: this frame is a fragment, FIN from `final` */
    httpd_ws_type_t type;
    uint8_t *payload;      /* the caller's buffer */
    size_t len;
    size_t left_len;       /* received: bytes of the frame not yet read */
} httpd_ws_frame_t;

typedef void (*transfer_complete_cb)(esp_err_t err, int socket, void *arg);

esp_err_t httpd_ws_recv_frame(httpd_req_t *req, httpd_ws_frame_t *pkt, size_t max_len);
esp_err_t httpd_ws_recv_frame_part(httpd_req_t *req, httpd_ws_frame_t *pkt, size_t max_len);
esp_err_t httpd_ws_send_frame(httpd_req_t *req, httpd_ws_frame_t *pkt);
esp_err_t httpd_ws_send_frame_async(httpd_handle_t hd, int fd, httpd_ws_frame_t *frame);
httpd_ws_client_info_t httpd_ws_get_fd_info(httpd_handle_t hd, int fd);
esp_err_t httpd_ws_send_data(httpd_handle_t handle, int socket, httpd_ws_frame_t *frame);
esp_err_t httpd_ws_send_data_async(httpd_handle_t handle, int socket, httpd_ws_frame_t *frame,
                                   transfer_complete_cb callback, void *arg);
#endif

/* ---- Raw request data and state ----------------------------------------------------------- */

size_t httpd_get_raw_req_data_len(httpd_req_t *req);
esp_err_t httpd_get_raw_req_data(httpd_req_t *req, char *buf, size_t buf_len);
esp_http_server_event_id_t httpd_get_server_state(httpd_handle_t handle);

/* ---- Host extension (not in ESP-IDF) ------------------------------------------------------ */

/** The TCP port the server listens on: the one picked when started with server_port = 0. */
uint16_t httpd_host_port(httpd_handle_t handle);

#ifdef __cplusplus
}
#endif

#endif /* _ESP_HTTP_SERVER_H_ */

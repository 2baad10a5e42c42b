/* Test program for the C API: three servers (the main one, one with the wildcard matcher,
 * one with transport overrides), with a handler per function group. Each handler reports
 * what the functions returned in its response body, for tests/c_api.rs to check. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <esp_log.h>
#include <esp_check.h>
#include <esp_http_server.h>
#include "test_main.h"

static const char *TAG = "api";
#define NAME(e) esp_err_to_name(e)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int opens, closes, refused, freed, global_freed;
static int refuse_next, defer_close_next;
static int deferred_fds[16];
static int deferred_count;

static esp_err_t send_text(httpd_req_t *req, text_t *t)
{
    return httpd_resp_send(req, t->buf, (ssize_t)t->len);
}

/* ---- open_fn / close_fn ------------------------------------------------------------------ */

static esp_err_t on_open(httpd_handle_t hd, int fd)
{
    pthread_mutex_lock(&lock);
    opens++;
    int refuse = refuse_next;
    refuse_next = 0;
    if (refuse) {
        refused++;
    }
    pthread_mutex_unlock(&lock);
    ESP_LOGI(TAG, "open_fn fd=%d refuse=%d", fd, refuse);
    return refuse ? ESP_FAIL : ESP_OK;
}

static void on_close(httpd_handle_t hd, int fd)
{
    pthread_mutex_lock(&lock);
    closes++;
    int defer = defer_close_next && deferred_count < 16;
    if (defer) {
        defer_close_next = 0;
        deferred_fds[deferred_count++] = fd;
    }
    pthread_mutex_unlock(&lock);
    int open = fcntl(fd, F_GETFD) != -1;
    ESP_LOGI(TAG, "close_fn fd=%d open=%d deferred=%d", fd, open, defer);
    if (!defer) {
        close(fd);
    }
}

static void free_counter(void *ctx)
{
    pthread_mutex_lock(&lock);
    freed++;
    pthread_mutex_unlock(&lock);
    free(ctx);
}

static void free_global(void *ctx)
{
    global_freed++;
    fprintf(stderr, "global ctx freed: %s\n", (char *)ctx);
    free(ctx);
}

/* ---- getters ----------------------------------------------------------------------------- */

static esp_err_t hdr_handler(httpd_req_t *req)
{
    text_t t = {0};
    size_t len = httpd_req_get_hdr_value_len(req, "X-Test");
    char big[64], small[4];
    esp_err_t r1 = httpd_req_get_hdr_value_str(req, "x-test", big, sizeof(big));
    esp_err_t r2 = httpd_req_get_hdr_value_str(req, "X-Test", small, sizeof(small));
    esp_err_t r3 = httpd_req_get_hdr_value_str(req, "Missing", big, sizeof(big));
    const char *p = NULL;
    size_t pl = 0;
    esp_err_t r4 = httpd_req_get_hdr_value_str_ptr(req, "X-TEST", &p, &pl);
    put(&t, "len=%zu full=%s:%s trunc=%s:%s missing=%s ptr=%s:%s:%zu missing_len=%zu",
        len, NAME(r1), big, NAME(r2), small, NAME(r3), NAME(r4), p ? p : "", pl,
        httpd_req_get_hdr_value_len(req, "Missing"));
    return send_text(req, &t);
}

static esp_err_t query_handler(httpd_req_t *req)
{
    text_t t = {0};
    size_t qlen = httpd_req_get_url_query_len(req);
    char q[128] = "", small[5] = "zzzz", val[16] = "", tiny[5] = "zzzz";
    esp_err_t r1 = httpd_req_get_url_query_str(req, q, sizeof(q));
    esp_err_t r2 = httpd_req_get_url_query_str(req, small, sizeof(small));
    esp_err_t k1 = httpd_query_key_value(q, "KEY1", val, sizeof(val));
    put(&t, "qlen=%zu q=%s:%s small=%s:%s key1=%s:%s", qlen, NAME(r1), q, NAME(r2), small,
        NAME(k1), val);
    esp_err_t k2 = httpd_query_key_value(q, "b", val, sizeof(val));
    put(&t, " b=%s:%s", NAME(k2), val);
    esp_err_t k3 = httpd_query_key_value(q, "long", tiny, sizeof(tiny));
    put(&t, " long=%s:%s", NAME(k3), tiny);
    esp_err_t k4 = httpd_query_key_value(q, "none", val, sizeof(val));
    esp_err_t k5 = httpd_query_key_value(q, "key1", val, 0);
    const char *p = NULL;
    size_t pl = 0;
    esp_err_t r3 = httpd_req_get_url_query_str_ptr(req, &p, &pl);
    put(&t, " none=%s zero=%s ptr=%s:%zu", NAME(k4), NAME(k5), NAME(r3), pl);
    return send_text(req, &t);
}

static esp_err_t cookie_handler(httpd_req_t *req)
{
    text_t t = {0};
    char v[32] = "", s[3] = "zz";
    size_t sz = sizeof(v), sz2 = sizeof(s), sz3 = sizeof(v);
    esp_err_t r1 = httpd_req_get_cookie_val(req, "theme", v, &sz);
    esp_err_t r2 = httpd_req_get_cookie_val(req, "session", s, &sz2);
    esp_err_t r3 = httpd_req_get_cookie_val(req, "none", v, &sz3);
    put(&t, "theme=%s:%s:%zu session=%s:%s:%zu none=%s", NAME(r1), v, sz, NAME(r2), s, sz2,
        NAME(r3));
    return send_text(req, &t);
}

/* ---- receiving --------------------------------------------------------------------------- */

static esp_err_t recv_handler(httpd_req_t *req)
{
    text_t t = {0};
    char buf[1000];
    int total = 0, calls = 0, over = 0;
    unsigned sum = 0;
    for (;;) {
        int want = (calls % 2) ? 7 : (int)sizeof(buf); /* alternate small and large reads */
        int ret = httpd_req_recv(req, buf, (size_t)want);
        if (ret == HTTPD_SOCK_ERR_TIMEOUT) {
            continue;
        }
        if (ret < 0) {
            return ESP_FAIL;
        }
        if (ret == 0) {
            break;
        }
        calls++;
        if (ret > want) {
            over = 1;
        }
        for (int i = 0; i < ret; i++) {
            sum += (unsigned char)buf[i];
        }
        total += ret;
    }
    int end = httpd_req_recv(req, buf, sizeof(buf));
    put(&t, "content_len=%zu total=%d sum=%u end=%d over=%d", req->content_len, total, sum,
        end, over);
    return send_text(req, &t);
}

static esp_err_t slow_handler(httpd_req_t *req)
{
    text_t t = {0};
    char buf[64];
    int first = httpd_req_recv(req, buf, sizeof(buf));
    int second = httpd_req_recv(req, buf, sizeof(buf));
    put(&t, "first=%d second=%d", first, second);
    return send_text(req, &t);
}

/* ---- responses --------------------------------------------------------------------------- */

static esp_err_t resp_handler(httpd_req_t *req)
{
    text_t t = {0};
    esp_err_t s0 = httpd_resp_set_status(req, NULL);
    esp_err_t s1 = httpd_resp_set_status(req, "201 Created");
    esp_err_t ty = httpd_resp_set_type(req, "text/plain");
    esp_err_t crlf = httpd_resp_set_hdr(req, "X-Bad", "a\r\nb");
    esp_err_t h1 = httpd_resp_set_hdr(req, "X-A", "1");
    esp_err_t h2 = httpd_resp_set_hdr(req, "X-B", "2");
    esp_err_t h3 = httpd_resp_set_hdr(req, "X-C", "3");
    put(&t, "null=%s status=%s type=%s crlf=%s a=%s b=%s third=%s", NAME(s0), NAME(s1),
        NAME(ty), NAME(crlf), NAME(h1), NAME(h2), NAME(h3));
    esp_err_t sent = httpd_resp_sendstr(req, t.buf);
    esp_err_t late = httpd_resp_set_hdr(req, "X-Late", "1");
    ESP_LOGI(TAG, "resp sent=%s late=%s", NAME(sent), NAME(late));
    return ESP_OK;
}

static esp_err_t chunk_handler(httpd_req_t *req)
{
    httpd_resp_sendstr_chunk(req, "Hello ");
    httpd_resp_sendstr_chunk(req, "chunked ");
    httpd_resp_send_chunk(req, "world!xx", 6);
    esp_err_t end = httpd_resp_sendstr_chunk(req, NULL);
    esp_err_t after = httpd_resp_send_chunk(req, "more", 4);
    ESP_LOGI(TAG, "chunk end=%s after=%s", NAME(end), NAME(after));
    return ESP_OK;
}

static esp_err_t any_handler(httpd_req_t *req)
{
    char body[32];
    snprintf(body, sizeof(body), "any method=%d", req->method);
    httpd_resp_send(req, body, HTTPD_RESP_USE_STRLEN);
    esp_err_t second = httpd_resp_send_chunk(req, NULL, 0);
    ESP_LOGI(TAG, "any second=%s", NAME(second));
    return ESP_OK;
}

static esp_err_t err_handler_403(httpd_req_t *req)
{
    httpd_resp_send_err(req, HTTPD_403_FORBIDDEN, NULL);
    return ESP_OK;
}

static esp_err_t err_handler_501(httpd_req_t *req)
{
    httpd_resp_send_err(req, HTTPD_501_METHOD_NOT_IMPLEMENTED, "custom");
    return ESP_OK;
}

static esp_err_t custom_handler(httpd_req_t *req)
{
    httpd_resp_send_custom_err(req, "418 I'm a teapot", "short and stout");
    return ESP_OK;
}

static esp_err_t send404_handler(httpd_req_t *req)
{
    return httpd_resp_send_404(req);
}

static esp_err_t fail_handler(httpd_req_t *req)
{
    return ESP_FAIL;
}

static esp_err_t fail_after_handler(httpd_req_t *req)
{
    httpd_resp_sendstr(req, "partial");
    return ESP_FAIL;
}

static esp_err_t silent_handler(httpd_req_t *req)
{
    return ESP_OK;
}

static esp_err_t raw_handler(httpd_req_t *req)
{
    const char *raw = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw";
    int n = httpd_send(req, raw, strlen(raw));
    ESP_LOGI(TAG, "raw sent=%d of %zu", n, strlen(raw));
    return ESP_OK;
}

/* A large response, for clients that leave without reading it (SIGPIPE must not kill us). */
static esp_err_t big_handler(httpd_req_t *req)
{
    static char chunk[64 * 1024];
    memset(chunk, 'b', sizeof(chunk));
    for (int i = 0; i < 64; i++) {
        if (httpd_resp_send_chunk(req, chunk, sizeof(chunk)) != ESP_OK) {
            ESP_LOGI(TAG, "big: the client left after %d chunks", i);
            return ESP_FAIL;
        }
    }
    return httpd_resp_send_chunk(req, NULL, 0);
}

static esp_err_t handle_err_handler(httpd_req_t *req)
{
    esp_err_t r = httpd_req_handle_err(req, HTTPD_400_BAD_REQUEST);
    ESP_LOGI(TAG, "handle_err=%s", NAME(r));
    return r;
}

static esp_err_t not_found(httpd_req_t *req, httpd_err_code_t err)
{
    char body[600];
    snprintf(body, sizeof(body), "custom %d for %s", (int)err, req->uri);
    httpd_resp_set_status(req, HTTPD_404);
    httpd_resp_sendstr(req, body);
    return ESP_OK;
}

/* ---- sessions ---------------------------------------------------------------------------- */

static esp_err_t fd_handler(httpd_req_t *req)
{
    text_t t = {0};
    int fd = httpd_req_to_sockfd(req);
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    int ok = getpeername(fd, (struct sockaddr *)&peer, &plen);
    put(&t, "fd=%d peer=%u ok=%d", fd, ok == 0 ? (unsigned)ntohs(peer.sin_port) : 0u, ok);
    return send_text(req, &t);
}

static esp_err_t sess_handler(httpd_req_t *req)
{
    text_t t = {0};
    int fd = httpd_req_to_sockfd(req);
    void *got = httpd_sess_get_ctx(req->handle, fd);
    int same = got == req->sess_ctx;
    if (got == NULL) {
        int *counter = calloc(1, sizeof(int));
        httpd_sess_set_ctx(req->handle, fd, counter, free_counter);
        same = same && req->sess_ctx == counter && req->free_ctx == free_counter;
    }
    int *counter = req->sess_ctx;
    *counter += 1;
    put(&t, "count=%d same=%d", *counter, same);
    return send_text(req, &t);
}

static esp_err_t replace_handler(httpd_req_t *req)
{
    int *fresh = calloc(1, sizeof(int));
    *fresh = 100;
    req->sess_ctx = fresh; /* the old one is freed after the handler (ignore is false) */
    req->free_ctx = free_counter;
    return httpd_resp_sendstr(req, "replaced");
}

static esp_err_t ignore_handler(httpd_req_t *req)
{
    int *fresh = calloc(1, sizeof(int));
    *fresh = 200;
    void *old = req->sess_ctx;
    req->ignore_sess_ctx_changes = true; /* the library must not free `old` */
    req->sess_ctx = fresh;
    req->free_ctx = free_counter;
    free(old); /* so the program frees it itself, without counting */
    return httpd_resp_sendstr(req, "ignored");
}

static esp_err_t stats_handler(httpd_req_t *req)
{
    text_t t = {0};
    pthread_mutex_lock(&lock);
    put(&t, "opens=%d closes=%d refused=%d freed=%d global=%s", opens, closes, refused, freed,
        (char *)httpd_get_global_user_ctx(req->handle));
    pthread_mutex_unlock(&lock);
    return send_text(req, &t);
}

static esp_err_t refuse_next_handler(httpd_req_t *req)
{
    pthread_mutex_lock(&lock);
    refuse_next = 1;
    pthread_mutex_unlock(&lock);
    return httpd_resp_sendstr(req, "ok");
}

static esp_err_t defer_close_handler(httpd_req_t *req)
{
    pthread_mutex_lock(&lock);
    defer_close_next = 1;
    pthread_mutex_unlock(&lock);
    return httpd_resp_sendstr(req, "ok");
}

static esp_err_t check_fds_handler(httpd_req_t *req)
{
    text_t t = {0};
    pthread_mutex_lock(&lock);
    int open = 0;
    for (int i = 0; i < deferred_count; i++) {
        if (fcntl(deferred_fds[i], F_GETFD) != -1) {
            open++;
        }
        close(deferred_fds[i]);
    }
    put(&t, "deferred=%d open=%d", deferred_count, open);
    deferred_count = 0;
    pthread_mutex_unlock(&lock);
    return send_text(req, &t);
}

static esp_err_t clients_handler(httpd_req_t *req)
{
    text_t t = {0};
    int fds[16];
    size_t n = 16;
    esp_err_t r = httpd_get_client_list(req->handle, &n, fds);
    int mine = 0, me = httpd_req_to_sockfd(req);
    for (size_t i = 0; i < n; i++) {
        mine |= fds[i] == me;
    }
    size_t zero = 0, one = 1;
    esp_err_t rz = httpd_get_client_list(req->handle, &zero, fds);
    esp_err_t r1 = httpd_get_client_list(req->handle, &one, fds);
    put(&t, "r=%s count=%zu mine=%d zero=%s one=%s", NAME(r), n, mine, NAME(rz), NAME(r1));
    return send_text(req, &t);
}

static esp_err_t close_me_handler(httpd_req_t *req)
{
    esp_err_t r = httpd_sess_trigger_close(req->handle, httpd_req_to_sockfd(req));
    char body[64];
    snprintf(body, sizeof(body), "bye %s", NAME(r));
    return httpd_resp_sendstr(req, body);
}

static esp_err_t lru_handler(httpd_req_t *req)
{
    text_t t = {0};
    esp_err_t a = httpd_sess_update_lru_counter(req->handle, httpd_req_to_sockfd(req));
    esp_err_t b = httpd_sess_update_lru_counter(req->handle, 99999);
    esp_err_t c = httpd_sess_update_lru_counter(NULL, 3);
    put(&t, "own=%s bogus=%s null=%s", NAME(a), NAME(b), NAME(c));
    return send_text(req, &t);
}

/* ---- work queue and async ---------------------------------------------------------------- */

typedef struct {
    httpd_handle_t hd;
    int fd;
} work_arg_t;

static void work_fn(void *arg)
{
    work_arg_t *w = arg;
    const char *msg = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nWORK";
    int n = httpd_socket_send(w->hd, w->fd, msg, strlen(msg), 0);
    ESP_LOGI(TAG, "work ran: socket_send=%d of %zu", n, strlen(msg));
    free(w);
}

static esp_err_t work_handler(httpd_req_t *req)
{
    work_arg_t *w = malloc(sizeof(*w));
    w->hd = req->handle;
    w->fd = httpd_req_to_sockfd(req);
    esp_err_t r = httpd_queue_work(req->handle, work_fn, w);
    char body[64];
    snprintf(body, sizeof(body), "queued %s", NAME(r));
    return httpd_resp_sendstr(req, body);
}

static void *async_worker(void *arg)
{
    httpd_req_t *req = arg;
    char body[600];
    snprintf(body, sizeof(body), "async %s ", req->uri);
    httpd_resp_sendstr_chunk(req, body);
    httpd_resp_sendstr_chunk(req, "done");
    httpd_resp_sendstr_chunk(req, NULL);
    esp_err_t r = httpd_req_async_handler_complete(req);
    ESP_LOGI(TAG, "async complete=%s", NAME(r));
    return NULL;
}

static void *async_silent_worker(void *arg)
{
    httpd_req_t *req = arg;
    esp_err_t r = httpd_req_async_handler_complete(req);
    ESP_LOGI(TAG, "async silent complete=%s", NAME(r));
    return NULL;
}

static esp_err_t start_async(httpd_req_t *req, void *(*worker)(void *))
{
    httpd_req_t *copy = NULL;
    esp_err_t r = httpd_req_async_handler_begin(req, &copy);
    if (r != ESP_OK) {
        return r;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, worker, copy) != 0) {
        httpd_req_async_handler_complete(copy);
        return ESP_FAIL;
    }
    pthread_detach(th);
    return ESP_OK;
}

static esp_err_t async_handler(httpd_req_t *req)
{
    return start_async(req, async_worker);
}

static esp_err_t async_silent_handler(httpd_req_t *req)
{
    return start_async(req, async_silent_worker);
}

/* ---- registration and invalid arguments -------------------------------------------------- */

static esp_err_t dyn_handler(httpd_req_t *req)
{
    return httpd_resp_sendstr(req, "dyn");
}

static esp_err_t reg_handler(httpd_req_t *req)
{
    text_t t = {0};
    httpd_handle_t hd = req->handle;
    httpd_uri_t dyn = {.uri = "/dyn", .method = HTTP_GET, .handler = dyn_handler};
    esp_err_t a = httpd_register_uri_handler(hd, &dyn);
    esp_err_t b = httpd_register_uri_handler(hd, &dyn);
    esp_err_t c = httpd_unregister_uri_handler(hd, "/dyn", HTTP_POST);
    put(&t, "first=%s again=%s wrong_method=%s", NAME(a), NAME(b), NAME(c));
    static char names[64][16];
    int registered = 0;
    esp_err_t full = ESP_OK;
    for (int i = 0; i < 64; i++) {
        snprintf(names[i], sizeof(names[i]), "/fill/%d", i);
        httpd_uri_t u = {.uri = names[i], .method = HTTP_GET, .handler = dyn_handler};
        full = httpd_register_uri_handler(hd, &u);
        if (full != ESP_OK) {
            break;
        }
        registered++;
    }
    for (int i = 0; i < registered; i++) {
        httpd_unregister_uri(hd, names[i]);
    }
    esp_err_t d = httpd_unregister_uri_handler(hd, "/dyn", HTTP_GET);
    esp_err_t e = httpd_unregister_uri(hd, "/nothing");
    put(&t, " full=%s unreg=%s none=%s", NAME(full), NAME(d), NAME(e));
    return send_text(req, &t);
}

static esp_err_t invalid_handler(httpd_req_t *req)
{
    text_t t = {0};
    char buf[8];
    httpd_handle_t hd = req->handle;
    httpd_config_t cfg = HTTPD_DEFAULT_CONFIG();
    httpd_req_t fake;
    memset(&fake, 0, sizeof(fake));
    fake.aux = &cfg; /* not a live request */
    httpd_ws_frame_t frame;
    memset(&frame, 0, sizeof(frame));
    size_t n = 1;
    put(&t, "recv_null=%d recv_nullbuf=%d send_null=%d sock_send=%d sock_recv=%d",
        httpd_req_recv(NULL, buf, 1), httpd_req_recv(req, NULL, 1), httpd_send(NULL, "x", 1),
        httpd_socket_send(hd, -7, "x", 1, 0), httpd_socket_recv(hd, -7, buf, 1, 0));
    put(&t, " sockfd_null=%d hdr_len_null=%zu hdr_len_nofield=%zu query_len_null=%zu",
        httpd_req_to_sockfd(NULL), httpd_req_get_hdr_value_len(NULL, "Host"),
        httpd_req_get_hdr_value_len(req, NULL), httpd_req_get_url_query_len(NULL));
    put(&t, " sess_get_bad=%d start_null=%s stop_bad=%s resp_null=%s resp_neg=%s",
        httpd_sess_get_ctx(hd, -7) == NULL, NAME(httpd_start(NULL, &cfg)),
        NAME(httpd_stop((httpd_handle_t)&cfg)), NAME(httpd_resp_send(NULL, "x", 1)),
        NAME(httpd_resp_send(req, "x", -5)));
    put(&t, " set_hdr_null=%s kv_null=%s reg_null=%s work_null=%s close_bad=%s list_null=%s",
        NAME(httpd_resp_set_hdr(req, NULL, "v")),
        NAME(httpd_query_key_value(NULL, "a", buf, sizeof(buf))),
        NAME(httpd_register_uri_handler(hd, NULL)), NAME(httpd_queue_work(hd, NULL, NULL)),
        NAME(httpd_sess_trigger_close(hd, -7)), NAME(httpd_get_client_list(hd, NULL, NULL)));
    httpd_sess_set_ctx(hd, -7, NULL, NULL);
    put(&t, " complete_null=%s fake_send=%s fake_sockfd=%d ws_on_http=%s fd_info=%d list_n=%s",
        NAME(httpd_req_async_handler_complete(NULL)), NAME(httpd_resp_send(&fake, "x", 1)),
        httpd_req_to_sockfd(&fake), NAME(httpd_ws_recv_frame(req, &frame, 0)),
        (int)httpd_ws_get_fd_info(hd, -7), NAME(httpd_get_client_list(NULL, &n, (int *)buf)));
    put(&t, " err_bad=%s method=%s", NAME(httpd_register_err_handler(hd, HTTPD_ERR_CODE_MAX, NULL)),
        NAME(httpd_register_uri_handler(hd, &(httpd_uri_t){.uri = "/copy", .method = HTTP_COPY,
                                                           .handler = dyn_handler})));
    return send_text(req, &t);
}

/* The wildcard table of ESP-IDF's matcher, checked from C. */
static esp_err_t wildtable_handler(httpd_req_t *req)
{
    static const struct {
        const char *tpl, *uri;
        bool want;
    } rows[] = {
        {"/path/?", "/path", true},     {"/path/?", "/path/", true},
        {"/path/?", "/path/x", false},  {"/path/*", "/path/", true},
        {"/path/*", "/path/abc", true}, {"/path/*", "/path", false},
        {"/path/?*", "/path", true},    {"/path/?*", "/path/", true},
        {"/path/?*", "/path/abc", true}, {"/path/?*", "/pathb", false},
        {"*", "", true},                {"*", "/anything", true},
        {"/", "", false},               {"/a*b", "/a*b", true},
        {"/a*b", "/axb", false},        {"/exact", "/exact", true},
    };
    text_t t = {0};
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        bool got = httpd_uri_match_wildcard(rows[i].tpl, rows[i].uri, strlen(rows[i].uri));
        if (got != rows[i].want) {
            put(&t, "MISMATCH %s %s; ", rows[i].tpl, rows[i].uri);
            bad++;
        }
    }
    /* match_upto: only the first bytes count (a query after the path is not matched). */
    bool upto = httpd_uri_match_wildcard("/path/x", "/path/x?q=1", 7);
    put(&t, "rows=%zu bad=%d upto=%d", sizeof(rows) / sizeof(rows[0]), bad, upto);
    return send_text(req, &t);
}

static esp_err_t stop_self_handler(httpd_req_t *req)
{
    httpd_resp_sendstr(req, "stopping");
    esp_err_t r = httpd_stop(req->handle); /* from its own handler: must not deadlock */
    ESP_LOGI(TAG, "stop_self=%s", NAME(r));
    return ESP_OK;
}

static esp_err_t raw_data_handler(httpd_req_t *req)
{
    text_t t = {0};
    size_t len = httpd_get_raw_req_data_len(req);
    char buf[512] = {0};
    esp_err_t r = httpd_get_raw_req_data(req, buf, sizeof(buf) - 1);
    char *end = strstr(buf, "\r\n");
    put(&t, "len=%zu r=%s first=%.*s", len, NAME(r), end ? (int)(end - buf) : 0, buf);
    return send_text(req, &t);
}

static esp_err_t sockrecv_handler(httpd_req_t *req)
{
    char buf[8];
    /* Whatever the client sent is already in the server's buffer: the socket has nothing. */
    int n = httpd_socket_recv(req->handle, httpd_req_to_sockfd(req), buf, sizeof(buf), MSG_DONTWAIT);
    char body[32];
    snprintf(body, sizeof(body), "socket_recv=%d", n);
    return httpd_resp_sendstr(req, body);
}

/* ---- events ------------------------------------------------------------------------------ */

static int event_counts[HTTP_SERVER_EVENT_STOP + 1];
static int connected_fd_ok = 1;

static void on_server_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    if (base != ESP_HTTP_SERVER_EVENT || id < 0 || id > HTTP_SERVER_EVENT_STOP) {
        return;
    }
    pthread_mutex_lock(&lock);
    event_counts[id]++;
    if (id == HTTP_SERVER_EVENT_ON_CONNECTED && fcntl(*(int *)data, F_GETFD) == -1) {
        connected_fd_ok = 0;
    }
    pthread_mutex_unlock(&lock);
}

static esp_err_t events_handler(httpd_req_t *req)
{
    text_t t = {0};
    pthread_mutex_lock(&lock);
    put(&t, "start=%d connected=%d header=%d headers_sent=%d sent=%d disconnected=%d error=%d "
            "fd_ok=%d state=%d",
        event_counts[HTTP_SERVER_EVENT_START], event_counts[HTTP_SERVER_EVENT_ON_CONNECTED],
        event_counts[HTTP_SERVER_EVENT_ON_HEADER], event_counts[HTTP_SERVER_EVENT_HEADERS_SENT],
        event_counts[HTTP_SERVER_EVENT_SENT_DATA], event_counts[HTTP_SERVER_EVENT_DISCONNECTED],
        event_counts[HTTP_SERVER_EVENT_ERROR], connected_fd_ok,
        (int)httpd_get_server_state(req->handle));
    pthread_mutex_unlock(&lock);
    return send_text(req, &t);
}

/* ---- the wildcard server ----------------------------------------------------------------- */

static esp_err_t echo_uri_handler(httpd_req_t *req)
{
    char body[600];
    snprintf(body, sizeof(body), "%s:%s", (const char *)req->user_ctx, req->uri);
    return httpd_resp_sendstr(req, body);
}

/* ---- the override server ----------------------------------------------------------------- */

static int ovr_recv_bytes, ovr_send_bytes, ovr_pending_calls;

static int ovr_recv(httpd_handle_t hd, int fd, char *buf, size_t len, int flags)
{
    int n = recv(fd, buf, len, flags);
    if (n < 0) {
        return (errno == EAGAIN || errno == EINTR) ? HTTPD_SOCK_ERR_TIMEOUT : HTTPD_SOCK_ERR_FAIL;
    }
    __atomic_add_fetch(&ovr_recv_bytes, n, __ATOMIC_SEQ_CST);
    return n;
}

static int ovr_send(httpd_handle_t hd, int fd, const char *buf, size_t len, int flags)
{
    int n = send(fd, buf, len, flags | MSG_NOSIGNAL);
    if (n < 0) {
        return (errno == EAGAIN || errno == EINTR) ? HTTPD_SOCK_ERR_TIMEOUT : HTTPD_SOCK_ERR_FAIL;
    }
    __atomic_add_fetch(&ovr_send_bytes, n, __ATOMIC_SEQ_CST);
    return n;
}

static int ovr_pending(httpd_handle_t hd, int fd)
{
    __atomic_add_fetch(&ovr_pending_calls, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static esp_err_t ovr_open(httpd_handle_t hd, int fd)
{
    esp_err_t a = httpd_sess_set_recv_override(hd, fd, ovr_recv);
    esp_err_t b = httpd_sess_set_send_override(hd, fd, ovr_send);
    esp_err_t c = httpd_sess_set_pending_override(hd, fd, ovr_pending);
    httpd_sess_set_transport_ctx(hd, fd, strdup("tctx"), NULL);
    ESP_LOGI(TAG, "overrides set: %s %s %s", NAME(a), NAME(b), NAME(c));
    return ESP_OK;
}

static esp_err_t ovr_handler(httpd_req_t *req)
{
    text_t t = {0};
    int fd = httpd_req_to_sockfd(req);
    put(&t, "recv=%d send=%d pending_calls=%d tctx=%s", __atomic_load_n(&ovr_recv_bytes, __ATOMIC_SEQ_CST),
        __atomic_load_n(&ovr_send_bytes, __ATOMIC_SEQ_CST),
        __atomic_load_n(&ovr_pending_calls, __ATOMIC_SEQ_CST) > 0,
        (char *)httpd_sess_get_transport_ctx(req->handle, fd));
    return send_text(req, &t);
}

/* ---- start ------------------------------------------------------------------------------- */

#define GET(path, fn) {.uri = path, .method = HTTP_GET, .handler = fn}

static const httpd_uri_t main_uris[] = {
    GET("/hdr", hdr_handler),
    GET("/query", query_handler),
    GET("/cookie", cookie_handler),
    {.uri = "/recv", .method = HTTP_POST, .handler = recv_handler},
    {.uri = "/slow", .method = HTTP_POST, .handler = slow_handler},
    GET("/resp", resp_handler),
    GET("/chunk", chunk_handler),
    {.uri = "/any", .method = HTTP_ANY, .handler = any_handler},
    GET("/err403", err_handler_403),
    GET("/err501", err_handler_501),
    GET("/custom", custom_handler),
    GET("/send404", send404_handler),
    GET("/fail", fail_handler),
    GET("/fail_after", fail_after_handler),
    GET("/silent", silent_handler),
    GET("/raw", raw_handler),
    GET("/handle_err", handle_err_handler),
    GET("/big", big_handler),
    GET("/fd", fd_handler),
    GET("/sess", sess_handler),
    GET("/replace", replace_handler),
    GET("/ignore", ignore_handler),
    GET("/stats", stats_handler),
    GET("/refuse_next", refuse_next_handler),
    GET("/defer_close", defer_close_handler),
    GET("/check_fds", check_fds_handler),
    GET("/clients", clients_handler),
    GET("/close_me", close_me_handler),
    GET("/lru", lru_handler),
    GET("/work", work_handler),
    GET("/async", async_handler),
    GET("/async_silent", async_silent_handler),
    GET("/reg", reg_handler),
    GET("/invalid", invalid_handler),
    GET("/wildtable", wildtable_handler),
    GET("/stop_self", stop_self_handler),
    GET("/events", events_handler),
    GET("/raw_data", raw_data_handler),
    GET("/sockrecv", sockrecv_handler),
};

static int start_servers(httpd_handle_t *out)
{
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    ESP_ERROR_CHECK(esp_event_handler_register(ESP_HTTP_SERVER_EVENT, ESP_EVENT_ANY_ID,
                                               on_server_event, NULL));
    httpd_config_t config = HTTPD_DEFAULT_CONFIG();
    config.server_port = 0;
    config.max_uri_handlers = 45;
    config.max_resp_headers = 2;
    config.recv_wait_timeout = 1;
    config.max_open_sockets = 12;
    config.lru_purge_enable = true;
    config.open_fn = on_open;
    config.close_fn = on_close;
    config.global_user_ctx = strdup("global-ctx");
    config.global_user_ctx_free_fn = free_global;
    ESP_ERROR_CHECK(httpd_start(&out[0], &config));
    for (size_t i = 0; i < sizeof(main_uris) / sizeof(main_uris[0]); i++) {
        ESP_ERROR_CHECK(httpd_register_uri_handler(out[0], &main_uris[i]));
    }
    ESP_ERROR_CHECK(httpd_register_err_handler(out[0], HTTPD_404_NOT_FOUND, not_found));

    httpd_config_t wild = HTTPD_DEFAULT_CONFIG();
    wild.server_port = 0;
    wild.ctrl_port = ESP_HTTPD_DEF_CTRL_PORT + 1;
    wild.uri_match_fn = httpd_uri_match_wildcard;
    ESP_ERROR_CHECK(httpd_start(&out[1], &wild));
    httpd_uri_t files = {.uri = "/files/*", .method = HTTP_GET, .handler = echo_uri_handler,
                         .user_ctx = "files"};
    httpd_uri_t path = {.uri = "/path/?", .method = HTTP_GET, .handler = echo_uri_handler,
                        .user_ctx = "path"};
    ESP_ERROR_CHECK(httpd_register_uri_handler(out[1], &files));
    ESP_ERROR_CHECK(httpd_register_uri_handler(out[1], &path));
    httpd_uri_t clash = {.uri = "/files/x", .method = HTTP_GET, .handler = echo_uri_handler,
                         .user_ctx = "clash"};
    esp_err_t dup = httpd_register_uri_handler(out[1], &clash);
    clash.method = HTTP_PUT;
    esp_err_t put_ok = httpd_register_uri_handler(out[1], &clash);
    ESP_LOGI(TAG, "wildcard clash get=%s put=%s", NAME(dup), NAME(put_ok));

    httpd_config_t ovr = HTTPD_DEFAULT_CONFIG();
    ovr.server_port = 0;
    ovr.ctrl_port = ESP_HTTPD_DEF_CTRL_PORT + 2;
    ovr.open_fn = ovr_open;
    ESP_ERROR_CHECK(httpd_start(&out[2], &ovr));
    httpd_uri_t o = {.uri = "/ovr", .method = HTTP_GET, .handler = ovr_handler};
    ESP_ERROR_CHECK(httpd_register_uri_handler(out[2], &o));
    return 3;
}

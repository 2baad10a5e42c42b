/* HTTPS through esp_https_server.h, as ESP-IDF's https_server example sets it up: the PEM
 * buffers carry their NUL terminator in the length (as EMBED_TXTFILES gives them).
 *
 * Usage: https_server SERVER_CERT.pem SERVER_KEY.pem CLIENT_CA.pem
 *
 * First the refused configurations, each logged as "refused <case>=<esp_err name>"; then
 * three servers, whose ports go to stdout as "PORTS secure mtls insecure":
 *   0: TLS with ALPN http/1.1 and session tickets, open_fn/close_fn (close_fn closes the
 *      descriptor and logs close()'s result);
 *   1: TLS 1.3 requiring a client certificate signed by CLIENT_CA.pem (compiled with
 *      CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL: with client_cert_authmode_optional,
 *      a client without one is served too);
 *   2: HTTPD_SSL_TRANSPORT_INSECURE: plain HTTP.
 * Runs until stdin reaches EOF, then stops them with httpd_ssl_stop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <esp_https_server.h>
#include <esp_log.h>

static const char *TAG = "https_server";

/* Reads a whole file into a NUL-terminated buffer; *len counts the NUL, as ESP-IDF's
 * embedded files do. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    uint8_t *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = 0;
    *len = n + 1;
    return buf;
}

static esp_err_t hello_get_handler(httpd_req_t *req)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "Hello over %s, fd %s",
             req->user_ctx ? (const char *)req->user_ctx : "?",
             httpd_req_to_sockfd(req) >= 0 ? "ok" : "bad");
    httpd_resp_set_type(req, "text/plain");
    return httpd_resp_sendstr(req, buf);
}

static esp_err_t echo_post_handler(httpd_req_t *req)
{
    char buf[256];
    int total = 0;
    while (total < (int)req->content_len) {
        int n = httpd_req_recv(req, buf, sizeof(buf));
        if (n <= 0) {
            return ESP_FAIL;
        }
        total += n;
        if (httpd_resp_send_chunk(req, buf, n) != ESP_OK) {
            return ESP_FAIL;
        }
    }
    return httpd_resp_send_chunk(req, NULL, 0);
}

/* On an HTTPS server the socket carries TLS records: raw reads and transport overrides are
 * refused there (on the chip the overrides are the TLS layer itself). */
static int nothing_pending(httpd_handle_t hd, int fd)
{
    return 0;
}

static esp_err_t raw_get_handler(httpd_req_t *req)
{
    char buf[8];
    int fd = httpd_req_to_sockfd(req);
    int r = httpd_socket_recv(req->handle, fd, buf, sizeof(buf), 0);
    esp_err_t o = httpd_sess_set_pending_override(req->handle, fd, nothing_pending);
    /* The response framed by hand and written with httpd_socket_send (encrypted on TLS). */
    char body[96], out[192];
    int n = snprintf(body, sizeof(body), "socket_recv=%d pending_override=%s", r,
                     esp_err_to_name(o));
    int len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n,
                       body);
    return httpd_socket_send(req->handle, fd, out, len, 0) == len ? ESP_OK : ESP_FAIL;
}

static esp_err_t on_open(httpd_handle_t hd, int fd)
{
    ESP_LOGI(TAG, "open_fn fd=%d", fd);
    return ESP_OK;
}

static void on_close(httpd_handle_t hd, int fd)
{
    /* ESP-IDF code closes the socket here: it must be ours to close, exactly once. */
    int r = close(fd);
    ESP_LOGI(TAG, "close_fn fd=%d close=%d", fd, r == 0 ? 0 : errno);
}

static void register_handlers(httpd_handle_t hd, const char *what)
{
    httpd_uri_t hello = {.uri = "/hello", .method = HTTP_GET, .handler = hello_get_handler,
                         .user_ctx = (void *)what};
    httpd_uri_t echo = {.uri = "/echo", .method = HTTP_POST, .handler = echo_post_handler};
    httpd_uri_t raw = {.uri = "/raw", .method = HTTP_GET, .handler = raw_get_handler};
    ESP_ERROR_CHECK(httpd_register_uri_handler(hd, &hello));
    ESP_ERROR_CHECK(httpd_register_uri_handler(hd, &echo));
    ESP_ERROR_CHECK(httpd_register_uri_handler(hd, &raw));
}

static void user_cb(esp_https_server_user_cb_arg_t *arg)
{
    (void)arg;
}

/* Starts with `conf` and expects a refusal; logs it. A server that starts is stopped. */
static void refused(const char *what, httpd_ssl_config_t *conf)
{
    httpd_handle_t hd = NULL;
    esp_err_t r = httpd_ssl_start(&hd, conf);
    if (r == ESP_OK) {
        httpd_ssl_stop(hd);
    }
    ESP_LOGI(TAG, "refused %s=%s", what, esp_err_to_name(r));
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s cert.pem key.pem client-ca.pem\n", argv[0]);
        return 2;
    }
    size_t cert_len = 0, key_len = 0, ca_len = 0;
    uint8_t *cert = slurp(argv[1], &cert_len);
    uint8_t *key = slurp(argv[2], &key_len);
    uint8_t *ca = slurp(argv[3], &ca_len);
    if (!cert || !key || !ca) {
        fprintf(stderr, "cannot read the PEM files\n");
        return 2;
    }

    /* ---- refusals ------------------------------------------------------------------- */
    static const uint8_t garbage[] =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    static const uint8_t not_pem[] = "hello";
    httpd_ssl_config_t base = HTTPD_SSL_CONFIG_DEFAULT();
    base.port_secure = 0;
    base.servercert = cert;
    base.servercert_len = cert_len;
    base.prvtkey_pem = key;
    base.prvtkey_len = key_len;

    httpd_handle_t hd = NULL;
    ESP_LOGI(TAG, "refused null_handle=%s", esp_err_to_name(httpd_ssl_start(NULL, &base)));
    ESP_LOGI(TAG, "refused null_config=%s", esp_err_to_name(httpd_ssl_start(&hd, NULL)));
    ESP_LOGI(TAG, "refused stop_null=%s", esp_err_to_name(httpd_ssl_stop(NULL)));
    httpd_ssl_config_t c;
    c = base; c.servercert = NULL; c.servercert_len = 0;
    refused("no_cert", &c);
    c = base; c.prvtkey_pem = NULL;
    refused("no_key", &c);
    c = base; c.servercert = garbage; c.servercert_len = sizeof(garbage);
    refused("garbage_cert", &c);
    c = base; c.servercert = not_pem; c.servercert_len = sizeof(not_pem);
    refused("not_pem_cert", &c);
    c = base; c.prvtkey_pem = cert; c.prvtkey_len = cert_len;
    refused("cert_as_key", &c);
    c = base; c.cacert_pem = not_pem; c.cacert_len = sizeof(not_pem);
    refused("bad_ca", &c);
    c = base; c.user_cb = user_cb;
    refused("user_cb", &c);
    c = base; c.use_secure_element = true;
    refused("secure_element", &c);
    c = base; c.use_ecdsa_peripheral = true;
    refused("ecdsa_peripheral", &c);

    /* ---- the servers ------------------------------------------------------------------ */
    httpd_handle_t servers[3] = {0};
    static const char *alpn[] = {"http/1.1", NULL};
    httpd_ssl_config_t secure = base;
    secure.alpn_protos = alpn;
    secure.session_tickets = true;
    secure.httpd.open_fn = on_open;
    secure.httpd.close_fn = on_close;
    secure.ssl_userdata = (void *)"ignored";
    secure.cert_select_cb = (void *)"ignored without the hook";
    ESP_ERROR_CHECK(httpd_ssl_start(&servers[0], &secure));
    ESP_LOGI(TAG, "secure server_port=%u", (unsigned)secure.httpd.server_port);
    register_handlers(servers[0], "TLS");

    httpd_ssl_config_t mtls = base;
    mtls.cacert_pem = ca;
    mtls.cacert_len = ca_len - 1; /* without the NUL: both are accepted */
    mtls.tls_version = ESP_TLS_VER_TLS_1_3;
#ifdef CONFIG_ESP_TLS_SERVER_MIN_AUTH_MODE_OPTIONAL
    mtls.client_cert_authmode_optional = true;
    ESP_LOGI(TAG, "client certificates optional");
#endif
    mtls.httpd.ctrl_port++;
    ESP_ERROR_CHECK(httpd_ssl_start(&servers[1], &mtls));
    register_handlers(servers[1], "mutual TLS");

    httpd_ssl_config_t plain = HTTPD_SSL_CONFIG_DEFAULT();
    plain.transport_mode = HTTPD_SSL_TRANSPORT_INSECURE;
    plain.port_insecure = 0;
    plain.port_secure = 1; /* not used in insecure mode */
    ESP_ERROR_CHECK(httpd_ssl_start(&servers[2], &plain));
    register_handlers(servers[2], "plain HTTP");

    printf("PORTS");
    for (int i = 0; i < 3; i++) {
        printf(" %u", (unsigned)httpd_host_port(servers[i]));
    }
    printf("\n");
    fflush(stdout);

    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0) {
    }
    for (int i = 0; i < 3; i++) {
        fprintf(stderr, "stop[%d]=%s\n", i, esp_err_to_name(httpd_ssl_stop(servers[i])));
    }
    fprintf(stderr, "stopped\n");
    free(cert);
    free(key);
    free(ca);
    return 0;
}

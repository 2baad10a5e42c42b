/* ESP-IDF's persistent-sockets example (the seed's /adder accumulator), written against
 * esp_http_server.h and run on a host.
 *
 * PUT /adder sets the connection's accumulator to the number in the body, POST /adder adds
 * the body's number and answers the new sum, GET /adder answers it. The accumulator is the
 * connection's req->sess_ctx with a free function: it lives as long as the connection.
 *
 *   cargo build --release -p httpd-capi
 *   gcc -std=gnu11 -Wall -Werror httpd-capi/examples/persistent_sockets.c -Ihttpd-capi/include \
 *       target/release/libesp_http_server.a -lpthread -ldl -lm -o persistent_sockets
 *   ./persistent_sockets 8080 &
 *   cargo run -p httpd --example adder -- 127.0.0.1 8080 10      # Result: 55
 */
#include <stdlib.h>
#include <string.h>
#include <esp_log.h>
#include <esp_http_server.h>
#include "host_main.h"

static const char *TAG = "example";

/* Frees the session context when the connection closes. */
static void adder_free_func(void *ctx)
{
    ESP_LOGI(TAG, "/adder Free Context function called");
    free(ctx);
}

/* Counts the visitors of all /adder handlers (the handlers' user_ctx). */
static unsigned visitors = 0;

static void count_visitor(httpd_req_t *req)
{
    unsigned *count = (unsigned *)req->user_ctx;
    *count += 1;
    ESP_LOGI(TAG, "/adder visitor count = %u", *count);
}

/* Reads the body (a number) into buf; returns -1 after answering 400 when it is not one. */
static int read_number(httpd_req_t *req, int *out)
{
    char buf[16];
    if (req->content_len == 0 || req->content_len >= sizeof(buf)) {
        httpd_resp_send_err(req, HTTPD_400_BAD_REQUEST, "The body must be a number");
        return -1;
    }
    size_t got = 0;
    while (got < req->content_len) {
        int ret = httpd_req_recv(req, buf + got, req->content_len - got);
        if (ret == HTTPD_SOCK_ERR_TIMEOUT) {
            continue;
        }
        if (ret <= 0) {
            return -2;
        }
        got += (size_t)ret;
    }
    buf[got] = '\0';
    char *end = NULL;
    long val = strtol(buf, &end, 10);
    if (end == buf) {
        httpd_resp_send_err(req, HTTPD_400_BAD_REQUEST, "The body must be a number");
        return -1;
    }
    *out = (int)val;
    return 0;
}

static esp_err_t adder_post_handler(httpd_req_t *req)
{
    count_visitor(req);
    int val = 0;
    int r = read_number(req, &val);
    if (r != 0) {
        return r == -1 ? ESP_OK : ESP_FAIL;
    }
    ESP_LOGI(TAG, "/adder handler read %d", val);

    if (!req->sess_ctx) {
        ESP_LOGI(TAG, "/adder allocating new session");
        req->sess_ctx = malloc(sizeof(int));
        req->free_ctx = adder_free_func;
        *(int *)req->sess_ctx = 0;
    }
    int *sum = (int *)req->sess_ctx;
    *sum += val;

    char outbuf[16];
    snprintf(outbuf, sizeof(outbuf), "%d", *sum);
    httpd_resp_send(req, outbuf, HTTPD_RESP_USE_STRLEN);
    return ESP_OK;
}

static esp_err_t adder_get_handler(httpd_req_t *req)
{
    count_visitor(req);
    if (!req->sess_ctx) {
        ESP_LOGI(TAG, "/adder GET allocating new session");
        req->sess_ctx = malloc(sizeof(int));
        req->free_ctx = adder_free_func;
        *(int *)req->sess_ctx = 0;
    }
    int sum = *(int *)req->sess_ctx;
    ESP_LOGI(TAG, "/adder GET handler send %d", sum);
    char outbuf[16];
    snprintf(outbuf, sizeof(outbuf), "%d", sum);
    httpd_resp_send(req, outbuf, HTTPD_RESP_USE_STRLEN);
    return ESP_OK;
}

static esp_err_t adder_put_handler(httpd_req_t *req)
{
    count_visitor(req);
    int val = 0;
    int r = read_number(req, &val);
    if (r != 0) {
        return r == -1 ? ESP_OK : ESP_FAIL;
    }
    ESP_LOGI(TAG, "/adder PUT handler read %d", val);
    if (!req->sess_ctx) {
        ESP_LOGI(TAG, "/adder PUT allocating new session");
        req->sess_ctx = malloc(sizeof(int));
        req->free_ctx = adder_free_func;
    }
    *(int *)req->sess_ctx = val;
    char outbuf[16];
    snprintf(outbuf, sizeof(outbuf), "%d", val);
    httpd_resp_send(req, outbuf, HTTPD_RESP_USE_STRLEN);
    return ESP_OK;
}

static const httpd_uri_t adder_post = {
    .uri = "/adder", .method = HTTP_POST, .handler = adder_post_handler, .user_ctx = &visitors,
};
static const httpd_uri_t adder_get = {
    .uri = "/adder", .method = HTTP_GET, .handler = adder_get_handler, .user_ctx = &visitors,
};
static const httpd_uri_t adder_put = {
    .uri = "/adder", .method = HTTP_PUT, .handler = adder_put_handler, .user_ctx = &visitors,
};

static httpd_handle_t start_webserver(uint16_t port)
{
    httpd_config_t config = HTTPD_DEFAULT_CONFIG();
    config.server_port = port;
    httpd_handle_t server = NULL;
    ESP_LOGI(TAG, "Starting server on port: '%d'", config.server_port);
    if (httpd_start(&server, &config) != ESP_OK) {
        return NULL;
    }
    ESP_LOGI(TAG, "Registering URI handlers");
    httpd_register_uri_handler(server, &adder_get);
    httpd_register_uri_handler(server, &adder_put);
    httpd_register_uri_handler(server, &adder_post);
    return server;
}

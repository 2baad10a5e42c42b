/* ESP-IDF's `simple` HTTP server example, written against esp_http_server.h and run on a
 * host: GET /hello (request headers, URL query, custom response headers, the handler's
 * user_ctx as body), POST /echo (the body echoed back in chunks), /any for every method, and
 * PUT /ctrl, which unregisters /hello and /echo ("0") or registers them again ("1"); a custom
 * 404 handler explains the missing URIs meanwhile.
 *
 *   cargo build --release -p httpd-capi
 *   gcc -std=gnu11 -Wall -Werror httpd-capi/examples/simple.c -Ihttpd-capi/include \
 *       target/release/libesp_http_server.a -lpthread -ldl -lm -o simple
 *   ./simple 8080
 *   curl -H 'Test-Header-1: one' 'http://127.0.0.1:8080/hello?query1=a&query3=c'
 */
#include <stdlib.h>
#include <string.h>
#include <esp_log.h>
#include <esp_check.h>
#include <esp_http_server.h>
#include "host_main.h"

static const char *TAG = "example";

/* Logs header `name` if the request has it. */
static void log_header(httpd_req_t *req, const char *name)
{
    size_t buf_len = httpd_req_get_hdr_value_len(req, name) + 1;
    if (buf_len > 1) {
        char *buf = malloc(buf_len);
        ESP_RETURN_VOID_ON_FALSE(buf, TAG, "buffer alloc failed");
        if (httpd_req_get_hdr_value_str(req, name, buf, buf_len) == ESP_OK) {
            ESP_LOGI(TAG, "Found header => %s: %s", name, buf);
        }
        free(buf);
    }
}

static esp_err_t hello_get_handler(httpd_req_t *req)
{
    log_header(req, "Host");
    log_header(req, "Test-Header-2");
    log_header(req, "Test-Header-1");

    size_t buf_len = httpd_req_get_url_query_len(req) + 1;
    if (buf_len > 1) {
        char *buf = malloc(buf_len);
        ESP_RETURN_ON_FALSE(buf, ESP_ERR_NO_MEM, TAG, "buffer alloc failed");
        if (httpd_req_get_url_query_str(req, buf, buf_len) == ESP_OK) {
            ESP_LOGI(TAG, "Found URL query => %s", buf);
            char param[32];
            const char *keys[] = {"query1", "query3", "query2"};
            for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                if (httpd_query_key_value(buf, keys[i], param, sizeof(param)) == ESP_OK) {
                    ESP_LOGI(TAG, "Found URL query parameter => %s=%s", keys[i], param);
                }
            }
        }
        free(buf);
    }

    httpd_resp_set_hdr(req, "Custom-Header-1", "Custom-Value-1");
    httpd_resp_set_hdr(req, "Custom-Header-2", "Custom-Value-2");

    const char *resp_str = (const char *)req->user_ctx;
    httpd_resp_send(req, resp_str, HTTPD_RESP_USE_STRLEN);
    return ESP_OK;
}

static const httpd_uri_t hello = {
    .uri = "/hello",
    .method = HTTP_GET,
    .handler = hello_get_handler,
    .user_ctx = "Hello World!",
};

static esp_err_t echo_post_handler(httpd_req_t *req)
{
    char buf[100];
    size_t remaining = req->content_len;
    while (remaining > 0) {
        int ret = httpd_req_recv(req, buf, remaining < sizeof(buf) ? remaining : sizeof(buf));
        if (ret <= 0) {
            if (ret == HTTPD_SOCK_ERR_TIMEOUT) {
                continue;
            }
            return ESP_FAIL;
        }
        httpd_resp_send_chunk(req, buf, ret);
        remaining -= (size_t)ret;
        ESP_LOGI(TAG, "=========== RECEIVED DATA ==========");
        ESP_LOGI(TAG, "%.*s", ret, buf);
        ESP_LOGI(TAG, "====================================");
    }
    httpd_resp_send_chunk(req, NULL, 0);
    return ESP_OK;
}

static const httpd_uri_t echo = {
    .uri = "/echo",
    .method = HTTP_POST,
    .handler = echo_post_handler,
    .user_ctx = NULL,
};

/* As in ESP-IDF: a complete response, then an empty chunk. On the host the second call sends
 * nothing and returns ESP_ERR_INVALID_STATE. */
static esp_err_t any_handler(httpd_req_t *req)
{
    const char *resp_str = (const char *)req->user_ctx;
    httpd_resp_send(req, resp_str, HTTPD_RESP_USE_STRLEN);
    esp_err_t second = httpd_resp_send_chunk(req, NULL, 0);
    ESP_LOGI(TAG, "/any: the empty chunk after a complete response gave %s", esp_err_to_name(second));
    return ESP_OK;
}

static const httpd_uri_t any = {
    .uri = "/any",
    .method = HTTP_ANY,
    .handler = any_handler,
    .user_ctx = "Hello World!",
};

static esp_err_t http_404_error_handler(httpd_req_t *req, httpd_err_code_t err)
{
    if (strcmp("/hello", req->uri) == 0) {
        httpd_resp_send_err(req, HTTPD_404_NOT_FOUND, "/hello URI is not available");
        return ESP_OK; /* keep the connection open */
    } else if (strcmp("/echo", req->uri) == 0) {
        httpd_resp_send_err(req, HTTPD_404_NOT_FOUND, "/echo URI is not available");
        return ESP_FAIL; /* close the connection */
    }
    httpd_resp_send_err(req, HTTPD_404_NOT_FOUND, "Some 404 error message");
    return ESP_FAIL;
}

static esp_err_t ctrl_put_handler(httpd_req_t *req)
{
    char buf;
    int ret = httpd_req_recv(req, &buf, 1);
    if (ret <= 0) {
        if (ret == HTTPD_SOCK_ERR_TIMEOUT) {
            httpd_resp_send_408(req);
        }
        return ESP_FAIL;
    }
    if (buf == '0') {
        ESP_LOGI(TAG, "Unregistering /hello and /echo URIs");
        httpd_unregister_uri(req->handle, "/hello");
        httpd_unregister_uri(req->handle, "/echo");
        httpd_register_err_handler(req->handle, HTTPD_404_NOT_FOUND, http_404_error_handler);
    } else {
        ESP_LOGI(TAG, "Registering /hello and /echo URIs");
        httpd_register_uri_handler(req->handle, &hello);
        httpd_register_uri_handler(req->handle, &echo);
        httpd_register_err_handler(req->handle, HTTPD_404_NOT_FOUND, NULL);
    }
    httpd_resp_send(req, NULL, 0);
    return ESP_OK;
}

static const httpd_uri_t ctrl = {
    .uri = "/ctrl",
    .method = HTTP_PUT,
    .handler = ctrl_put_handler,
    .user_ctx = NULL,
};

static httpd_handle_t start_webserver(uint16_t port)
{
    httpd_handle_t server = NULL;
    httpd_config_t config = HTTPD_DEFAULT_CONFIG();
    config.server_port = port;
    config.lru_purge_enable = true;

    ESP_LOGI(TAG, "Starting server on port: '%d'", config.server_port);
    if (httpd_start(&server, &config) == ESP_OK) {
        ESP_LOGI(TAG, "Registering URI handlers");
        httpd_register_uri_handler(server, &hello);
        httpd_register_uri_handler(server, &echo);
        httpd_register_uri_handler(server, &ctrl);
        httpd_register_uri_handler(server, &any);
        return server;
    }
    ESP_LOGI(TAG, "Error starting server!");
    return NULL;
}

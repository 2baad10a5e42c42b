/* Test program for the WebSocket handshake callbacks, compiled with
 * -DCONFIG_HTTPD_WS_PRE_HANDSHAKE_CB_SUPPORT=1 -DCONFIG_HTTPD_WS_POST_HANDSHAKE_CB_SUPPORT=1:
 * the pre-handshake callback refuses upgrade requests with a query, the post-handshake
 * callback greets the client; the handler echoes. */
#include <string.h>
#include <esp_log.h>
#include <esp_http_server.h>
#include "test_main.h"

static const char *TAG = "wscb";

static esp_err_t pre_cb(httpd_req_t *req)
{
    size_t qlen = httpd_req_get_url_query_len(req);
    ESP_LOGI(TAG, "pre method=%d uri=%s user=%s", req->method, req->uri, (char *)req->user_ctx);
    return qlen > 0 ? ESP_FAIL : ESP_OK;
}

static esp_err_t post_cb(httpd_req_t *req)
{
    const char *hello = "welcome";
    httpd_ws_frame_t f = {.payload = (uint8_t *)hello, .len = strlen(hello),
                          .type = HTTPD_WS_TYPE_TEXT};
    ESP_LOGI(TAG, "post method=%d", req->method);
    return httpd_ws_send_frame(req, &f);
}

static esp_err_t echo(httpd_req_t *req)
{
    uint8_t buf[128] = {0};
    httpd_ws_frame_t f;
    memset(&f, 0, sizeof(f));
    f.payload = buf;
    esp_err_t r = httpd_ws_recv_frame(req, &f, sizeof(buf) - 1);
    return r == ESP_OK ? httpd_ws_send_frame(req, &f) : r;
}

static int start_servers(httpd_handle_t *out)
{
    httpd_config_t config = HTTPD_DEFAULT_CONFIG();
    config.server_port = 0;
    if (httpd_start(&out[0], &config) != ESP_OK) {
        return 0;
    }
    httpd_uri_t ws = {.uri = "/ws", .method = HTTP_GET, .handler = echo, .user_ctx = "ctx",
                      .is_websocket = true, .ws_pre_handshake_cb = pre_cb,
                      .ws_post_handshake_cb = post_cb};
    return httpd_register_uri_handler(out[0], &ws) == ESP_OK ? 1 : 0;
}

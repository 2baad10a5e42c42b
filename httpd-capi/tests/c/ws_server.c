/* Test program for the WebSocket part of the C API, after ESP-IDF's ws_echo_server example:
 * /ws echoes frames (with a few command messages), /wsctl handles control frames itself,
 * /plain is an ordinary HTTP handler. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <esp_log.h>
#include <esp_http_server.h>
#include "test_main.h"

static const char *TAG = "ws";
#define NAME(e) esp_err_to_name(e)

typedef struct {
    httpd_handle_t hd;
    int fd;
} target_t;

static void ws_async_send(void *arg)
{
    target_t *t = arg;
    static const char *data = "Async data";
    httpd_ws_frame_t pkt = {
        .payload = (uint8_t *)data,
        .len = strlen(data),
        .type = HTTPD_WS_TYPE_TEXT,
    };
    esp_err_t r = httpd_ws_send_frame_async(t->hd, t->fd, &pkt);
    ESP_LOGI(TAG, "send_frame_async=%s", NAME(r));
    free(t);
}

static void async_done(esp_err_t err, int socket, void *arg)
{
    ESP_LOGI(TAG, "send_data_async callback err=%s arg=%s", NAME(err), (char *)arg);
}

static void *sender_thread(void *arg)
{
    target_t *t = arg;
    const char *blocking = "from thread";
    httpd_ws_frame_t pkt = {.payload = (uint8_t *)blocking, .len = strlen(blocking),
                            .type = HTTPD_WS_TYPE_TEXT};
    esp_err_t r = httpd_ws_send_data(t->hd, t->fd, &pkt);
    ESP_LOGI(TAG, "send_data=%s", NAME(r));
    char async[] = "from thread async";
    pkt.payload = (uint8_t *)async;
    pkt.len = strlen(async);
    r = httpd_ws_send_data_async(t->hd, t->fd, &pkt, async_done, "cb-arg");
    ESP_LOGI(TAG, "send_data_async=%s", NAME(r));
    free(t);
    return NULL;
}

static esp_err_t send_text(httpd_req_t *req, const char *text)
{
    httpd_ws_frame_t out = {.payload = (uint8_t *)text, .len = strlen(text),
                            .type = HTTPD_WS_TYPE_TEXT};
    return httpd_ws_send_frame(req, &out);
}

static esp_err_t echo_handler(httpd_req_t *req)
{
    if (req->method == HTTP_GET) {
        ESP_LOGI(TAG, "handler called for the handshake");
        return ESP_OK;
    }
    httpd_ws_frame_t pkt;
    memset(&pkt, 0, sizeof(pkt));
    esp_err_t ret = httpd_ws_recv_frame(req, &pkt, 0);
    if (ret != ESP_OK) {
        return ret;
    }
    uint8_t *buf = NULL;
    if (pkt.len) {
        buf = calloc(1, pkt.len + 1);
        pkt.payload = buf;
        esp_err_t small = pkt.len > 1 ? httpd_ws_recv_frame(req, &pkt, 1) : ESP_ERR_INVALID_SIZE;
        ret = httpd_ws_recv_frame(req, &pkt, pkt.len);
        if (ret != ESP_OK) {
            free(buf);
            return ret;
        }
        ESP_LOGI(TAG, "frame type=%d len=%zu final=%d small=%s", pkt.type, pkt.len, pkt.final,
                 NAME(small));
    }
    int fd = httpd_req_to_sockfd(req);
    const char *text = buf ? (const char *)buf : "";
    if (pkt.type == HTTPD_WS_TYPE_PONG) {
        char reply[160];
        snprintf(reply, sizeof(reply), "got pong: %s", text);
        ret = send_text(req, reply);
    } else if (pkt.type == HTTPD_WS_TYPE_TEXT && strcmp(text, "Trigger async") == 0) {
        target_t *t = malloc(sizeof(*t));
        t->hd = req->handle;
        t->fd = fd;
        ret = httpd_queue_work(req->handle, ws_async_send, t);
    } else if (pkt.type == HTTPD_WS_TYPE_TEXT && strcmp(text, "whoami") == 0) {
        char reply[640];
        snprintf(reply, sizeof(reply), "method=%d fd_info=%d uri=[%s]", req->method,
                 (int)httpd_ws_get_fd_info(req->handle, fd), req->uri);
        ret = send_text(req, reply);
    } else if (pkt.type == HTTPD_WS_TYPE_TEXT && strcmp(text, "fragments") == 0) {
        httpd_ws_frame_t a = {.payload = (uint8_t *)"frag", .len = 4, .type = HTTPD_WS_TYPE_TEXT,
                              .fragmented = true, .final = false};
        httpd_ws_frame_t b = {.payload = (uint8_t *)"mented", .len = 6,
                              .type = HTTPD_WS_TYPE_CONTINUE, .fragmented = true, .final = true};
        ret = httpd_ws_send_frame(req, &a);
        if (ret == ESP_OK) {
            ret = httpd_ws_send_frame(req, &b);
        }
    } else if (pkt.type == HTTPD_WS_TYPE_TEXT && strcmp(text, "thread") == 0) {
        target_t *t = malloc(sizeof(*t));
        t->hd = req->handle;
        t->fd = fd;
        pthread_t th;
        pthread_create(&th, NULL, sender_thread, t);
        pthread_detach(th);
    } else if (pkt.type == HTTPD_WS_TYPE_TEXT && strcmp(text, "bye") == 0) {
        uint8_t payload[] = {0x03, 0xe8, 'b', 'y', 'e'};
        httpd_ws_frame_t close = {.payload = payload, .len = sizeof(payload),
                                  .type = HTTPD_WS_TYPE_CLOSE};
        ret = httpd_ws_send_frame(req, &close);
    } else {
        ret = httpd_ws_send_frame(req, &pkt);
    }
    free(buf);
    return ret;
}

static esp_err_t ctl_handler(httpd_req_t *req)
{
    httpd_ws_frame_t pkt;
    memset(&pkt, 0, sizeof(pkt));
    uint8_t buf[128] = {0};
    pkt.payload = buf;
    esp_err_t ret = httpd_ws_recv_frame(req, &pkt, sizeof(buf) - 1);
    if (ret != ESP_OK) {
        return ret;
    }
    ESP_LOGI(TAG, "ctl type=%d len=%zu", pkt.type, pkt.len);
    if (pkt.type == HTTPD_WS_TYPE_PING) {
        pkt.type = HTTPD_WS_TYPE_PONG;
        return httpd_ws_send_frame(req, &pkt);
    }
    if (pkt.type == HTTPD_WS_TYPE_TEXT) {
        return httpd_ws_send_frame(req, &pkt);
    }
    return ESP_OK;
}

/* Reads each frame three bytes at a time with httpd_ws_recv_frame_part and answers with the
 * reassembled text and the left_len seen after each part. */
static esp_err_t parts_handler(httpd_req_t *req)
{
    httpd_ws_frame_t pkt;
    memset(&pkt, 0, sizeof(pkt));
    esp_err_t ret = httpd_ws_recv_frame_part(req, &pkt, 0);
    if (ret != ESP_OK) {
        return ret;
    }
    char whole[128] = {0}, lefts[128] = {0};
    size_t got = 0, llen = 0;
    while (pkt.left_len > 0 && got + 3 < sizeof(whole)) {
        pkt.payload = (uint8_t *)whole + got;
        size_t before = pkt.left_len;
        ret = httpd_ws_recv_frame_part(req, &pkt, 3);
        if (ret != ESP_OK) {
            return ret;
        }
        got += before - pkt.left_len;
        llen += (size_t)snprintf(lefts + llen, sizeof(lefts) - llen, "%zu,", pkt.left_len);
    }
    char reply[300];
    snprintf(reply, sizeof(reply), "%s|%s|len=%zu", whole, lefts, pkt.len);
    return send_text(req, reply);
}

static esp_err_t plain_handler(httpd_req_t *req)
{
    char body[64];
    snprintf(body, sizeof(body), "fd_info=%d",
             (int)httpd_ws_get_fd_info(req->handle, httpd_req_to_sockfd(req)));
    return httpd_resp_sendstr(req, body);
}

static int start_servers(httpd_handle_t *out)
{
    httpd_config_t config = HTTPD_DEFAULT_CONFIG();
    config.server_port = 0;
    if (httpd_start(&out[0], &config) != ESP_OK) {
        return 0;
    }
    httpd_uri_t ws = {.uri = "/ws", .method = HTTP_GET, .handler = echo_handler,
                      .is_websocket = true, .supported_subprotocol = "chat"};
    httpd_uri_t ctl = {.uri = "/wsctl", .method = HTTP_GET, .handler = ctl_handler,
                       .is_websocket = true, .handle_ws_control_frames = true};
    httpd_uri_t plain = {.uri = "/plain", .method = HTTP_GET, .handler = plain_handler};
    httpd_uri_t parts = {.uri = "/wsparts", .method = HTTP_GET, .handler = parts_handler,
                         .is_websocket = true};
    if (httpd_register_uri_handler(out[0], &ws) != ESP_OK ||
        httpd_register_uri_handler(out[0], &ctl) != ESP_OK ||
        httpd_register_uri_handler(out[0], &plain) != ESP_OK ||
        httpd_register_uri_handler(out[0], &parts) != ESP_OK) {
        return 0;
    }
    return 1;
}

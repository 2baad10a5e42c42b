/* Starts a server with HTTPD_DEFAULT_CONFIG() exactly as it is (port 80, stack 4096, priority,
 * core and capabilities hints, control port 32768), next to a second one that differs only in
 * ctrl_port, and stops both. */
#include <stdio.h>
#include <esp_http_server.h>

int main(void)
{
    httpd_config_t config = HTTPD_DEFAULT_CONFIG();
    httpd_handle_t a = NULL, b = NULL;
    esp_err_t ra = httpd_start(&a, &config);
    printf("default=%s\n", esp_err_to_name(ra));
    config.server_port = 0;
    config.ctrl_port = ESP_HTTPD_DEF_CTRL_PORT + 7;
    esp_err_t rb = httpd_start(&b, &config);
    printf("second=%s\n", esp_err_to_name(rb));
    if (ra == ESP_OK) {
        printf("port=%u\n", (unsigned)httpd_host_port(a));
        httpd_stop(a);
    }
    if (rb == ESP_OK) {
        httpd_stop(b);
    }
    return 0;
}

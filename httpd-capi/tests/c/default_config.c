/* Starts a server with HTTPD_DEFAULT_CONFIG() exactly as it is (port 80, stack 4096, priority,
 * core and capabilities hints, control port 32768), next to a second one that differs only in
 * ctrl_port, and stops both. */
#include <stdio.h>
#include <string.h>
#include <net/if.h>
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
    /* if_name: serve one interface (its IPv4 address on a host). */
    struct ifreq lo, none;
    memset(&lo, 0, sizeof(lo));
    memset(&none, 0, sizeof(none));
    strcpy(lo.ifr_name, "lo");
    strcpy(none.ifr_name, "nosuch0");
    httpd_handle_t c = NULL, d = NULL;
    config.ctrl_port++;
    config.if_name = &lo;
    esp_err_t rc = httpd_start(&c, &config);
    printf("lo=%s lo_port=%u\n", esp_err_to_name(rc), rc == ESP_OK ? (unsigned)httpd_host_port(c) : 0u);
    fflush(stdout);
    config.if_name = &none;
    printf("nosuch=%s\n", esp_err_to_name(httpd_start(&d, &config)));
    fflush(stdout);
    /* Keep the lo server up until stdin closes, so the test can connect. */
    char buf[8];
    while (rc == ESP_OK && fread(buf, 1, sizeof(buf), stdin) > 0) {
    }
    if (rc == ESP_OK) {
        httpd_stop(c);
    }
    if (ra == ESP_OK) {
        printf("port=%u\n", (unsigned)httpd_host_port(a));
        httpd_stop(a);
    }
    if (rb == ESP_OK) {
        httpd_stop(b);
    }
    return 0;
}

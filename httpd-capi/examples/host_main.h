/* The host `main` shared by the C examples: start the example's server on the port given as
 * the first argument (default 80, as HTTPD_DEFAULT_CONFIG()), log the port, and run until
 * SIGINT or SIGTERM; then stop the server and exit 0. */
#ifndef HOST_MAIN_H
#define HOST_MAIN_H

#include <signal.h>
#include <stdlib.h>
#include <esp_http_server.h>
#include <esp_log.h>

/* Defined by the example: starts its server on `port`, NULL on failure. */
static httpd_handle_t start_webserver(uint16_t port);

int main(int argc, char **argv)
{
    uint16_t port = argc > 1 ? (uint16_t)atoi(argv[1]) : 80;

    /* Block the stop signals in every thread (the server thread inherits the mask), then wait
     * for one here: no handler runs in signal context. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    httpd_handle_t server = start_webserver(port);
    if (server == NULL) {
        ESP_LOGE("main", "Error starting server!");
        return 1;
    }
    ESP_LOGI("main", "Server listening on port %u", (unsigned)httpd_host_port(server));

    int sig = 0;
    sigwait(&stop, &sig);
    ESP_LOGI("main", "Stopping server (signal %d)", sig);
    httpd_stop(server);
    return 0;
}

#endif

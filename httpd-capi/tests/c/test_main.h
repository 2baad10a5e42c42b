/* The main of the C test programs: start the program's servers, print "PORTS p1 p2 ..." on
 * stdout, run until stdin reaches EOF, stop the servers, exit 0. */
#ifndef TEST_MAIN_H
#define TEST_MAIN_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <esp_http_server.h>

#define MAX_SERVERS 4

/* Defined by the program: starts its servers into `out`, returns how many (0 on failure). */
static int start_servers(httpd_handle_t *out);

/* Appends printf-style text to a fixed buffer (for response bodies). */
typedef struct {
    char buf[4096];
    size_t len;
} text_t;

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void put(text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        t->len += (size_t)n;
        if (t->len >= sizeof(t->buf)) {
            t->len = sizeof(t->buf) - 1;
        }
    }
}

int main(void)
{
    httpd_handle_t servers[MAX_SERVERS] = {0};
    int n = start_servers(servers);
    if (n == 0) {
        fprintf(stderr, "starting the servers failed\n");
        return 1;
    }
    printf("PORTS");
    for (int i = 0; i < n; i++) {
        printf(" %u", (unsigned)httpd_host_port(servers[i]));
    }
    printf("\n");
    fflush(stdout);

    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0) {
    }
    for (int i = 0; i < n; i++) {
        /* ESP_ERR_INVALID_ARG for a server a handler has already stopped. */
        fprintf(stderr, "stop[%d]=%s\n", i, esp_err_to_name(httpd_stop(servers[i])));
    }
    fprintf(stderr, "stopped\n");
    return 0;
}

#endif

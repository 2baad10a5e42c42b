/* ESP-IDF's logging macros on a host: ESP_LOGE/W/I/D/V print to stderr as
 * "I (12345) tag: message", filtered by a level set per tag with esp_log_level_set()
 * (default ESP_LOG_INFO, or the HTTPD_LOG_LEVEL environment variable: 0-5 or N/E/W/I/D/V). */
#ifndef HTTPD_CAPI_ESP_LOG_H
#define HTTPD_CAPI_ESP_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ESP_LOG_NONE = 0,
    ESP_LOG_ERROR = 1,
    ESP_LOG_WARN = 2,
    ESP_LOG_INFO = 3,
    ESP_LOG_DEBUG = 4,
    ESP_LOG_VERBOSE = 5,
    ESP_LOG_MAX = 6,
} esp_log_level_t;

/** Sets the level of `tag` ("*" for every tag without its own level). */
void esp_log_level_set(const char *tag, esp_log_level_t level);
/** The level in force for `tag`. */
esp_log_level_t esp_log_level_get(const char *tag);
/** Milliseconds since the program's first log call (or the server's start). */
uint32_t esp_log_timestamp(void);

static inline void esp_log_writev(esp_log_level_t level, const char *tag, const char *format, va_list args)
{
    if (level == ESP_LOG_NONE || esp_log_level_get(tag) < level) {
        return;
    }
    vfprintf(stderr, format, args);
}

static inline void esp_log_write(esp_log_level_t level, const char *tag, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static inline void esp_log_write(esp_log_level_t level, const char *tag, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    esp_log_writev(level, tag, format, args);
    va_end(args);
}

#define ESP_LOG_LEVEL(level, tag, letter, format, ...)                                     \
    esp_log_write(level, tag, letter " (%u) %s: " format "\n",                              \
                  (unsigned)esp_log_timestamp(), tag, ##__VA_ARGS__)

#define ESP_LOGE(tag, format, ...) ESP_LOG_LEVEL(ESP_LOG_ERROR, tag, "E", format, ##__VA_ARGS__)
#define ESP_LOGW(tag, format, ...) ESP_LOG_LEVEL(ESP_LOG_WARN, tag, "W", format, ##__VA_ARGS__)
#define ESP_LOGI(tag, format, ...) ESP_LOG_LEVEL(ESP_LOG_INFO, tag, "I", format, ##__VA_ARGS__)
#define ESP_LOGD(tag, format, ...) ESP_LOG_LEVEL(ESP_LOG_DEBUG, tag, "D", format, ##__VA_ARGS__)
#define ESP_LOGV(tag, format, ...) ESP_LOG_LEVEL(ESP_LOG_VERBOSE, tag, "V", format, ##__VA_ARGS__)

#define ESP_EARLY_LOGE ESP_LOGE
#define ESP_EARLY_LOGW ESP_LOGW
#define ESP_EARLY_LOGI ESP_LOGI
#define ESP_EARLY_LOGD ESP_LOGD
#define ESP_EARLY_LOGV ESP_LOGV

#ifdef __cplusplus
}
#endif

#endif

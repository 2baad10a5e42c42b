/* ESP-IDF's argument and error checking macros (esp_check.h), as its examples use them. */
#ifndef HTTPD_CAPI_ESP_CHECK_H
#define HTTPD_CAPI_ESP_CHECK_H

#include "esp_err.h"
#include "esp_log.h"

/** Logs and returns the error when `x` is not ESP_OK. */
#define ESP_RETURN_ON_ERROR(x, log_tag, format, ...) do {                                   \
        esp_err_t err_rc_ = (x);                                                            \
        if (err_rc_ != ESP_OK) {                                                            \
            ESP_LOGE(log_tag, "%s(%d): " format, __FUNCTION__, __LINE__, ##__VA_ARGS__);     \
            return err_rc_;                                                                 \
        }                                                                                   \
    } while (0)

/** Logs, sets `ret` and jumps to `goto_tag` when `x` is not ESP_OK. */
#define ESP_GOTO_ON_ERROR(x, goto_tag, log_tag, format, ...) do {                           \
        esp_err_t err_rc_ = (x);                                                            \
        if (err_rc_ != ESP_OK) {                                                            \
            ESP_LOGE(log_tag, "%s(%d): " format, __FUNCTION__, __LINE__, ##__VA_ARGS__);     \
            ret = err_rc_;                                                                  \
            goto goto_tag;                                                                  \
        }                                                                                   \
    } while (0)

/** Logs and returns `err_code` when condition `a` is false. */
#define ESP_RETURN_ON_FALSE(a, err_code, log_tag, format, ...) do {                         \
        if (!(a)) {                                                                         \
            ESP_LOGE(log_tag, "%s(%d): " format, __FUNCTION__, __LINE__, ##__VA_ARGS__);     \
            return err_code;                                                                \
        }                                                                                   \
    } while (0)

/** Logs, sets `ret` to `err_code` and jumps to `goto_tag` when condition `a` is false. */
#define ESP_GOTO_ON_FALSE(a, err_code, goto_tag, log_tag, format, ...) do {                 \
        if (!(a)) {                                                                         \
            ESP_LOGE(log_tag, "%s(%d): " format, __FUNCTION__, __LINE__, ##__VA_ARGS__);     \
            ret = err_code;                                                                 \
            goto goto_tag;                                                                  \
        }                                                                                   \
    } while (0)

/** Logs and returns (from a void function) when `x` is not ESP_OK. */
#define ESP_RETURN_VOID_ON_ERROR(x, log_tag, format, ...) do {                              \
        esp_err_t err_rc_ = (x);                                                            \
        if (err_rc_ != ESP_OK) {                                                            \
            ESP_LOGE(log_tag, "%s(%d): " format, __FUNCTION__, __LINE__, ##__VA_ARGS__);     \
            return;                                                                         \
        }                                                                                   \
    } while (0)

/** Logs and returns (from a void function) when condition `a` is false. */
#define ESP_RETURN_VOID_ON_FALSE(a, log_tag, format, ...) do {                              \
        if (!(a)) {                                                                         \
            ESP_LOGE(log_tag, "%s(%d): " format, __FUNCTION__, __LINE__, ##__VA_ARGS__);     \
            return;                                                                         \
        }                                                                                   \
    } while (0)

#endif

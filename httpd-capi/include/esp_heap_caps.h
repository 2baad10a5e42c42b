/* Memory capability flags (ESP-IDF's values). On a host they only fill `task_caps`, which the
 * server accepts and ignores. */
#ifndef HTTPD_CAPI_ESP_HEAP_CAPS_H
#define HTTPD_CAPI_ESP_HEAP_CAPS_H

#define MALLOC_CAP_EXEC (1 << 0)
#define MALLOC_CAP_32BIT (1 << 1)
#define MALLOC_CAP_8BIT (1 << 2)
#define MALLOC_CAP_DMA (1 << 3)
#define MALLOC_CAP_SPIRAM (1 << 10)
#define MALLOC_CAP_INTERNAL (1 << 11)
#define MALLOC_CAP_DEFAULT (1 << 12)

#endif

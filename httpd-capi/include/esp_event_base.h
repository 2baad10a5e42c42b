/* Event base declarations (ESP-IDF's esp_event_base.h), enough for headers that declare bases.
 * The host library posts ESP_HTTP_SERVER_EVENTs only (see esp_event.h). */
#ifndef HTTPD_CAPI_ESP_EVENT_BASE_H
#define HTTPD_CAPI_ESP_EVENT_BASE_H

typedef const char *esp_event_base_t;

#define ESP_EVENT_DECLARE_BASE(id) extern esp_event_base_t const id
#define ESP_EVENT_DEFINE_BASE(id) esp_event_base_t const id = #id
#define ESP_EVENT_ANY_BASE NULL
#define ESP_EVENT_ANY_ID -1

#endif

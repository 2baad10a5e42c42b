/* ESP-IDF's event header, reduced to the declarations a host build of a web server needs. */
#ifndef HTTPD_CAPI_ESP_EVENT_H
#define HTTPD_CAPI_ESP_EVENT_H

#include <stdint.h>
#include "esp_err.h"
#include "esp_event_base.h"

typedef void (*esp_event_handler_t)(void *event_handler_arg, esp_event_base_t event_base,
                                    int32_t event_id, void *event_data);

#endif

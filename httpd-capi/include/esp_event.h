/* ESP-IDF's event header, reduced to what a host build of a web server needs: registering
 * handlers for the server's ESP_HTTP_SERVER_EVENTs. */
#ifndef HTTPD_CAPI_ESP_EVENT_H
#define HTTPD_CAPI_ESP_EVENT_H

#include <stdint.h>
#include "esp_err.h"
#include "esp_event_base.h"

typedef void (*esp_event_handler_t)(void *event_handler_arg, esp_event_base_t event_base,
                                    int32_t event_id, void *event_data);

/** Nothing to create on a host: handlers run on the thread where the event happens. */
esp_err_t esp_event_loop_create_default(void);
/** See esp_event_loop_create_default(). */
esp_err_t esp_event_loop_delete_default(void);
/** Calls `event_handler(event_handler_arg, base, id, data)` for each matching event
 * (`ESP_EVENT_ANY_BASE`, `ESP_EVENT_ANY_ID` match all); the server posts
 * `ESP_HTTP_SERVER_EVENT`s. */
esp_err_t esp_event_handler_register(esp_event_base_t event_base, int32_t event_id,
                                     esp_event_handler_t event_handler, void *event_handler_arg);
/** Removes a registration made with the same base, id and handler. */
esp_err_t esp_event_handler_unregister(esp_event_base_t event_base, int32_t event_id,
                                       esp_event_handler_t event_handler);

#endif

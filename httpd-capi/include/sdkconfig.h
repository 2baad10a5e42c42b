/* Host build of ESP-IDF's project configuration: the options esp_http_server.h and the
 * programs built against it read, at ESP-IDF's defaults (WebSocket support on). */
#ifndef HTTPD_CAPI_SDKCONFIG_H
#define HTTPD_CAPI_SDKCONFIG_H

#define CONFIG_HTTPD_MAX_REQ_HDR_LEN 1024
#define CONFIG_HTTPD_MAX_URI_LEN 512
#define CONFIG_HTTPD_ERR_RESP_NO_DELAY 1
#define CONFIG_HTTPD_PURGE_BUF_LEN 32
#define CONFIG_HTTPD_WS_SUPPORT 1
#define CONFIG_HTTPD_ENABLE_EVENTS 1
#define CONFIG_HTTPD_SERVER_EVENT_POST_TIMEOUT 2000
#define CONFIG_LOG_DEFAULT_LEVEL 3
#define CONFIG_LOG_MAXIMUM_LEVEL 5
#define CONFIG_FREERTOS_HZ 1000

#endif

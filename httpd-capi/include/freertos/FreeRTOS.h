/* The FreeRTOS types and constants ESP-IDF headers use, for a host build. Nothing here runs a
 * scheduler: the server's thread is an ordinary host thread. */
#ifndef HTTPD_CAPI_FREERTOS_H
#define HTTPD_CAPI_FREERTOS_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include "sdkconfig.h"

typedef int BaseType_t;
typedef unsigned int UBaseType_t;
typedef uint32_t TickType_t;
typedef uint32_t StackType_t;

#define pdFALSE ((BaseType_t)0)
#define pdTRUE ((BaseType_t)1)
#define pdPASS pdTRUE
#define pdFAIL pdFALSE
#define portMAX_DELAY ((TickType_t)0xffffffffUL)
#define portTICK_PERIOD_MS ((TickType_t)(1000 / CONFIG_FREERTOS_HZ))
#define pdMS_TO_TICKS(ms) ((TickType_t)(((TickType_t)(ms) * (TickType_t)CONFIG_FREERTOS_HZ) / (TickType_t)1000U))

#endif

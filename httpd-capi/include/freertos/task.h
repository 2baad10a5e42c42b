/* FreeRTOS task constants used by HTTPD_DEFAULT_CONFIG(); hints only on a host. */
#ifndef HTTPD_CAPI_FREERTOS_TASK_H
#define HTTPD_CAPI_FREERTOS_TASK_H

#include "freertos/FreeRTOS.h"

typedef void *TaskHandle_t;

#define tskIDLE_PRIORITY ((UBaseType_t)0U)
#define tskNO_AFFINITY ((BaseType_t)0x7FFFFFFF)

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * XM_ERROR:
 *
 * The one GError domain of libxenmig. Its codes have the numeric values of
 * libvirt's virErrorNumber so that the driver passes them through 1:1
 * (nova and others branch on them).
 */
#define XM_ERROR (xm_error_quark())

/**
 * xm_error_quark:
 *
 * Returns: the #GQuark behind %XM_ERROR; use the macro instead.
 */
GQuark xm_error_quark(void);

/* Values are those of virErrorNumber (libvirt/virterror.h); a unit test
 * checks each against libvirt's header. */
typedef enum {
    XM_ERR_INTERNAL_ERROR = 1,
    XM_ERR_NO_MEMORY = 2,
    XM_ERR_NO_SUPPORT = 3,
    XM_ERR_UNKNOWN_HOST = 4,
    XM_ERR_NO_CONNECT = 5,
    XM_ERR_INVALID_CONN = 6,
    XM_ERR_INVALID_DOMAIN = 7,
    XM_ERR_INVALID_ARG = 8,
    XM_ERR_OPERATION_FAILED = 9,
    XM_ERR_NO_XEN = 14,
    XM_ERR_XEN_CALL = 15,
    XM_ERR_OS_TYPE = 16,
    XM_ERR_NO_KERNEL = 17,
    XM_ERR_NO_SOURCE = 19,
    XM_ERR_NO_TARGET = 20,
    XM_ERR_NO_NAME = 21,
    XM_ERR_NO_DEVICE = 23,
    XM_ERR_XML_ERROR = 27,
    XM_ERR_DOM_EXIST = 28,
    XM_ERR_OPERATION_DENIED = 29,
    XM_ERR_OPEN_FAILED = 30,
    XM_ERR_READ_FAILED = 31,
    XM_ERR_PARSE_FAILED = 32,
    XM_ERR_CONF_SYNTAX = 33,
    XM_ERR_WRITE_FAILED = 34,
    XM_ERR_XML_DETAIL = 35,
    XM_ERR_SYSTEM_ERROR = 38,
    XM_ERR_RPC = 39,
    XM_ERR_GNUTLS_ERROR = 40,
    XM_ERR_NO_DOMAIN = 42,
    XM_ERR_INVALID_MAC = 44,
    XM_ERR_AUTH_FAILED = 45,
    XM_ERR_OPERATION_INVALID = 55,
    XM_ERR_CONFIG_UNSUPPORTED = 67,
    XM_ERR_OPERATION_TIMEOUT = 68,
    XM_ERR_MIGRATE_PERSIST_FAILED = 69,
    XM_ERR_ARGUMENT_UNSUPPORTED = 74,
    XM_ERR_OPERATION_ABORTED = 78,
    XM_ERR_MIGRATE_UNSAFE = 81,
    XM_ERR_OVERFLOW = 82,
    XM_ERR_OPERATION_UNSUPPORTED = 84,
    XM_ERR_RESOURCE_BUSY = 87,
    XM_ERR_ACCESS_DENIED = 88,
    XM_ERR_DEVICE_MISSING = 99,
    XM_ERR_MIGRATE_FINISH_OK = 93,
    XM_ERR_NO_HOSTNAME = 108,
} XmErrorCode;

#ifdef __cplusplus
}
#endif

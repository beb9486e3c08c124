/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the migration cookie parser: any input is either
 * refused with an XM_ERROR, or parses into a cookie whose formatted XML
 * parses back and formats to the same bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xenmig/error.h>
#include "migration/cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(XmCookie) c = NULL;
    g_autoptr(XmCookie) c2 = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL, *out2 = NULL;

    if (size > XM_COOKIE_MAX_BYTES + 16)
        return 0;
    c = xm_cookie_parse((const char *) data, size, &err);
    if (!c) {
        if (!err || err->domain != XM_ERROR)
            abort();
        return 0;
    }
    out = xm_cookie_format(c);
    c2 = xm_cookie_parse(out, strlen(out), &err);
    if (!c2)
        abort();
    out2 = xm_cookie_format(c2);
    if (strcmp(out, out2) != 0)
        abort();
    return 0;
}

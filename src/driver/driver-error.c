/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors at the libvirt edge: XM_ERROR codes pass through 1:1. */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include "driver.h"

void
xm_report(int code, const char *func, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    virReportErrorHelper(XM_VIR_FROM, code, __FILE__, func, 0, "%s", msg);
}

void
xm_report_gerror(const GError *err, const char *func)
{
    int code = VIR_ERR_INTERNAL_ERROR;

    if (!err) {
        virReportErrorHelper(XM_VIR_FROM, code, __FILE__, func, 0, "%s",
                             _("unknown error"));
        return;
    }
    /* XmErrorCode values are virErrorNumber values (tests/util/test-error.c);
     * errors of other domains are internal. */
    if (err->domain == XM_ERROR && err->code > 0)
        code = err->code;
    virReportErrorHelper(XM_VIR_FROM, code, __FILE__, func, 0, "%s", err->message);
}

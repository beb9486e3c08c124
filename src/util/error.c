/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <locale.h>

#include <xenmig/xenmig.h>
#include "util/util.h"

G_DEFINE_QUARK(xm-error-quark, xm_error)

const char *
xm_version_string(void)
{
    return PACKAGE_VERSION;
}

void
xm_init(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        g_once_init_leave(&done, 1);
    }
}

gboolean
xm_set_error_errno(GError **error, int errsv, XmErrorCode code,
                   const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, XM_ERROR, code, "%s: %s", msg, g_strerror(errsv));
    return FALSE;
}
